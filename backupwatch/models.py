"""The values backupwatch passes around: statuses, tenants, evidence, results, the report.

Everything here is a frozen pydantic model or an enum, imports no boto3, and serialises to JSON
with ``model_dump(mode="json")``; that JSON is what ``backupwatch check --json`` prints.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, computed_field


class Status(StrEnum):
    """Verdict of one check, or of a tenant (the most severe of its checks).

    Declared from most to least severe; ``severity`` follows the declaration order.
    """

    ERROR = "ERROR"
    """Could not check: access denied, no such bucket, retries exhausted, malformed tag."""
    MISSING = "MISSING"
    """No evidence at all that could count as a backup."""
    DISABLED = "DISABLED"
    """Automated backups are switched off (``BackupRetentionPeriod == 0``)."""
    STALE = "STALE"
    """Evidence exists, but the newest is older than the window."""
    EMPTY = "EMPTY"
    """Fresh objects exist, but every one is below the minimum size."""
    OK = "OK"
    """Fresh evidence of a backup."""

    @property
    def severity(self) -> int:
        """Larger is worse: ``OK`` is 0, ``ERROR`` the largest."""
        return _SEVERITY[self]

    @property
    def failing(self) -> bool:
        """Everything but ``OK`` needs a human."""
        return self is not Status.OK


_SEVERITY = {status: rank for rank, status in enumerate(reversed(Status))}


def worst(statuses: Iterable[Status]) -> Status:
    """The most severe status; ``ERROR`` when there is none, because no evidence is never OK."""
    return max(statuses, key=lambda status: status.severity, default=Status.ERROR)


class Check(StrEnum):
    """The kinds of evidence backupwatch looks at."""

    RDS = "rds"
    """The newest automated RDS snapshot of the tenant's DB instance."""
    S3 = "s3"
    """The newest object under the tenant's prefix in the backups bucket."""


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Tenant(_Value):
    """A discovered tenant: one DB instance in one region, with its resolved policy.

    ``problems`` holds what is wrong with the tenant's own configuration (a malformed tag, an
    instance listed in the environment but not found); any problem makes the tenant ``ERROR``
    while the checks that can still run are still reported.
    """

    name: str
    db_instance_identifier: str
    region: str
    account_id: str | None = None
    s3_prefix: str | None = None
    """None when the prefix could not be worked out; the reason is in ``problems``."""
    max_age_hours: float
    min_object_bytes: int
    backup_retention_period: int | None = None
    """From the instance; None when the instance was not found."""
    source: Literal["tag", "environment", "tag+environment"] = "tag"
    """What made it a tenant: the tenant tag, a ``DB_INSTANCE_IDENTIFIER_<n>`` variable, or both."""
    problems: tuple[str, ...] = ()


class SnapshotInfo(_Value):
    """One automated RDS snapshot in state ``available``."""

    snapshot_id: str
    created_at: AwareDatetime


class RdsEvidence(_Value):
    """What RDS says about one instance's automated backups."""

    db_instance_identifier: str
    backup_retention_period: int
    newest_snapshot: SnapshotInfo | None = None


class ObjectInfo(_Value):
    """One S3 object, as listed."""

    key: str
    last_modified: AwareDatetime
    size: int


class S3Evidence(_Value):
    """What one full listing of a tenant's prefix found.

    Both the newest object of any size and the newest one that is large enough are kept: the
    first tells ``EMPTY`` (fresh but too small) apart from ``STALE`` and ``MISSING``.
    """

    bucket: str
    prefix: str
    min_object_bytes: int
    objects_seen: int = 0
    newest: ObjectInfo | None = None
    newest_countable: ObjectInfo | None = None
    """Newest object with ``size >= min_object_bytes``."""
    listed_after: str | None = None
    """Set by the dated-keys fast path: only keys after this one were read (None: all were)."""
    unread_older_objects: bool = False
    """Fast path only: keys dated before the window exist, and were deliberately not read."""


class CheckResult(_Value):
    """The verdict of one check for one tenant, with the evidence it rests on."""

    check: Check
    status: Status
    reason: str
    evidence_at: AwareDatetime | None = None
    """Creation time of the newest snapshot, or LastModified of the newest countable object."""
    age_hours: float | None = None
    key: str | None = None
    """Snapshot identifier or object key of that evidence."""
    size_bytes: int | None = None


class TenantReport(_Value):
    """One row of the report: a tenant, its overall status and every check that ran."""

    tenant: str
    db_instance_identifier: str
    region: str
    account_id: str | None = None
    s3_prefix: str | None = None
    status: Status
    reason: str
    checks: dict[Check, CheckResult] = Field(default_factory=dict)

    @property
    def failing(self) -> bool:
        return self.status.failing


class RegionError(_Value):
    """Discovery itself failed in a region: its tenants are unknown, so the run is failing."""

    region: str
    reason: str


class Summary(_Value):
    """Counts over a report. ``by_status`` lists every status, most severe first."""

    tenants: int
    failing: int
    by_status: dict[Status, int]
    regions_failed: int


class Report(_Value):
    """The outcome of one run: every discovered tenant exactly once, plus failed regions."""

    generated_at: AwareDatetime
    regions: tuple[str, ...]
    checks: tuple[Check, ...]
    tenants: tuple[TenantReport, ...]
    region_errors: tuple[RegionError, ...] = ()

    @computed_field  # type: ignore[prop-decorator]
    @property
    def summary(self) -> Summary:
        by_status = dict.fromkeys(Status, 0)
        for row in self.tenants:
            by_status[row.status] += 1
        return Summary(
            tenants=len(self.tenants),
            failing=sum(1 for row in self.tenants if row.failing),
            by_status=by_status,
            regions_failed=len(self.region_errors),
        )

    @property
    def failing(self) -> bool:
        """True when the run needs a human: a tenant fails, a region could not be checked, or
        no tenant was found at all (a mistyped tag key must never read as an all-clear)."""
        return (
            not self.tenants or bool(self.region_errors) or any(row.failing for row in self.tenants)
        )
