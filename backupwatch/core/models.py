"""The values backupwatch passes around: statuses, tenants, evidence, results, the report.

Everything here is a frozen pydantic model or an enum, imports no boto3, and serialises to JSON
with ``model_dump(mode="json")``; that JSON is what ``backupwatch check --json`` prints.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    computed_field,
    model_validator,
)


class Status(StrEnum):
    """Verdict of one check, or of a tenant (the most severe of its checks).

    Declared from most to least severe; ``severity`` follows the declaration order. The first
    five are failing; the four after them (``STOPPED`` to ``SKIPPED``) are listed in the digest
    but do not fail the run, because they describe a tenant's lifecycle rather than a broken
    backup. They rank below every failing status so that a real failure of another check is
    never hidden behind them, and above ``OK`` so that they are never counted as proof.
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
    STOPPED = "STOPPED"
    """The DB instance or cluster is stopped, and RDS takes no automated backups while it is.
    Not failing unless ``BACKUPWATCH_STOPPED_IS_FAILING`` says so (see ``TenantReport``)."""
    PENDING = "PENDING"
    """A new tenant whose first backup is not due yet (created less than window + grace ago)."""
    PAUSED = "PAUSED"
    """Paused by the ``backupwatch:paused-until`` tag, until that time."""
    SKIPPED = "SKIPPED"
    """The check does not apply to this resource (a PostgreSQL read replica has no automated
    backups of its own); the reason says why."""
    OK = "OK"
    """Fresh evidence of a backup."""

    @property
    def severity(self) -> int:
        """Larger is worse: ``OK`` is 0, ``ERROR`` the largest."""
        return _SEVERITY[self]

    @property
    def failing(self) -> bool:
        """Whether this status needs a human by default: ``ERROR`` to ``EMPTY``.

        ``STOPPED`` can be made failing by a setting; that decision is per run, so it lives on
        ``TenantReport.failing``, not here.
        """
        return self in _FAILING

    @property
    def listed(self) -> bool:
        """Whether the digest names a tenant with this status: everything but ``OK``."""
        return self is not Status.OK


_SEVERITY = {status: rank for rank, status in enumerate(reversed(Status))}
_FAILING = frozenset({Status.ERROR, Status.MISSING, Status.DISABLED, Status.STALE, Status.EMPTY})


def worst(statuses: Iterable[Status]) -> Status:
    """The most severe status; ``ERROR`` when there is none, because no evidence is never OK."""
    return max(statuses, key=lambda status: status.severity, default=Status.ERROR)


class Check(StrEnum):
    """The kinds of evidence backupwatch looks at."""

    RDS = "rds"
    """The newest automated RDS snapshot of the tenant's DB instance."""
    S3 = "s3"
    """The newest object under the tenant's prefix in the backups bucket."""


class FrozenValue(BaseModel):
    """Base of every value model: immutable, and strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


Kind = Literal["instance", "cluster"]
"""What a tenant is in RDS: a DB instance, or a DB cluster (Aurora, Multi-AZ DB cluster)."""


class Tenant(FrozenValue):
    """A discovered tenant: one DB instance or DB cluster in one region, with its policy.

    ``problems`` holds what is wrong with the tenant's own configuration (a malformed tag, an
    instance listed in the environment but not found); any problem makes the tenant ``ERROR``
    while the checks that can still run are still reported. ``notes`` holds what is worth
    knowing but changes no status (a pause that has ended, say).

    ``db_instance_identifier`` keeps its name for compatibility; for a cluster it holds the
    cluster identifier (``kind`` says which). The lifecycle fields (``resource_status``,
    ``created_at``, ``read_replica_source``, ``latest_restorable_time``) come from the same
    Describe call that found the tenant, so judging them costs no extra API call.
    """

    name: str
    db_instance_identifier: str
    """The identifier of the resource: the DB instance's, or the DB cluster's."""
    region: str
    kind: Kind = "instance"
    resource_id: str | None = None
    """``DbiResourceId`` / ``DbClusterResourceId``: this incarnation of the identifier. A
    resource deleted and re-created under the same name never inherits its predecessor's
    snapshots."""
    db_cluster_identifier: str | None = None
    """For an instance: the cluster it is a member of (then it has no backups of its own)."""
    members: tuple[str, ...] = ()
    """For a cluster: its member instances, which are never tenants of their own."""
    engine: str | None = None
    resource_status: str | None = None
    """``DBInstanceStatus`` of an instance, ``Status`` of a cluster (``available``, ``stopped``)."""
    created_at: AwareDatetime | None = None
    """``InstanceCreateTime`` / ``ClusterCreateTime``: tells a new tenant (``PENDING``) apart."""
    read_replica_source: str | None = None
    """``ReadReplicaSourceDBInstanceIdentifier``: set when the instance is a read replica."""
    latest_restorable_time: AwareDatetime | None = None
    """How far point-in-time recovery reaches; lagging far behind means log backups stopped."""
    account_id: str | None = None
    s3_prefix: str | None = None
    """None when the prefix could not be worked out; the reason is in ``problems``."""
    prefix_source: Literal["tag", "environment", "template"] = "template"
    """Where ``s3_prefix`` came from: a tenant's own tag never takes another tenant's folder."""
    max_age_hours: float
    min_object_bytes: int
    backup_retention_period: int | None = None
    """From the instance; None when the instance was not found."""
    source: Literal["tag", "environment", "tag+environment"] = "tag"
    """What made it a tenant: the tenant tag, a ``DB_INSTANCE_IDENTIFIER_<n>`` variable, or both."""
    checks: tuple[Check, ...] | None = None
    """The checks this tenant wants (tag ``backupwatch:checks``); None: every configured one."""
    paused_until: AwareDatetime | None = None
    """Tag ``backupwatch:paused-until``: ``PAUSED`` before this time, checked as usual after."""
    runbook: str | None = None
    """Tag ``backupwatch:runbook``: a URL the digest shows next to a failure."""
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    """Worth an operator's attention, yet no reason to fail: shown in the digest, status kept."""

    @property
    def identifier(self) -> str:
        """The resource's identifier, whatever its kind (``db_instance_identifier``)."""
        return self.db_instance_identifier

    @property
    def key(self) -> tuple[str, str, str]:
        """Unique per run: a cluster and an instance may share an identifier."""
        return (self.region, self.kind, self.db_instance_identifier)

    def wants(self, check: Check) -> bool:
        """Whether this tenant's policy includes ``check`` (the run's settings decide first)."""
        return self.checks is None or check in self.checks


class SnapshotInfo(FrozenValue):
    """One automated RDS snapshot in state ``available``."""

    snapshot_id: str
    created_at: AwareDatetime


class RdsEvidence(FrozenValue):
    """What RDS says about one instance's automated backups."""

    db_instance_identifier: str
    backup_retention_period: int
    newest_snapshot: SnapshotInfo | None = None


class ObjectInfo(FrozenValue):
    """One S3 object, as listed."""

    key: str
    last_modified: AwareDatetime
    size: int


class S3Evidence(FrozenValue):
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


class CheckResult(FrozenValue):
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


class TenantReport(FrozenValue):
    """One row of the report: a tenant, its overall status and every check that ran.

    ``failing`` defaults to the status's own ``failing``; it is set explicitly only to make a
    ``STOPPED`` tenant failing (``BACKUPWATCH_STOPPED_IS_FAILING``). A failing status can never
    be marked not failing, nor ``OK`` failing.
    """

    tenant: str
    db_instance_identifier: str
    """The resource's identifier: the DB instance's, or the DB cluster's (see ``kind``)."""
    region: str
    kind: Kind = "instance"
    members: tuple[str, ...] = ()
    """For a cluster: its member instances, covered by this row, never rows of their own."""
    account_id: str | None = None
    s3_prefix: str | None = None
    status: Status
    failing: bool = False
    """Filled from ``status`` when not given (the default here only satisfies type checkers)."""
    reason: str
    runbook: str | None = None
    notes: tuple[str, ...] = ()
    """Also at the end of ``reason``; kept apart so the digest can show an OK row's notes."""
    checks: dict[Check, CheckResult] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _failing_follows_status(cls, data: Any) -> Any:
        if isinstance(data, dict) and "failing" not in data and "status" in data:
            return {**data, "failing": Status(data["status"]).failing}
        return data

    @model_validator(mode="after")
    def _failing_is_consistent(self) -> TenantReport:
        if self.status.failing and not self.failing:
            raise ValueError(f"a {self.status.value} tenant is always failing")
        if self.status is Status.OK and self.failing:
            raise ValueError("an OK tenant is never failing")
        return self

    @property
    def identifier(self) -> str:
        """The resource's identifier, whatever its kind (``db_instance_identifier``)."""
        return self.db_instance_identifier

    @property
    def key(self) -> RowKey:
        """Unique across accounts: what ``merge_reports`` never lets appear twice."""
        return (self.account_id or "", self.region, self.kind, self.db_instance_identifier)


RowKey = tuple[str, str, str, str]
"""``TenantReport.key``: account id ("" when unknown), region, kind, identifier."""


class RegionError(FrozenValue):
    """A scope (an account-region) that could not be checked: its tenants are unknown, so the
    run is failing. The role could not be assumed, the region is disabled, discovery failed,
    or the scan of the scope never reported back.

    ``account_id`` is None for the account backupwatch runs in when it was not looked up;
    ``region`` is None when the whole account (or the organization's listing) failed.
    """

    region: str | None = None
    reason: str
    account_id: str | None = None

    @property
    def scope(self) -> str:
        """``eu-west-1``, ``111122223333 eu-west-1``, ``111122223333 (every region)``, or
        ``the run`` when neither is known (the organization could not be listed, the plan or
        the scan step of the state machine failed)."""
        if self.account_id is None:
            return self.region or "the run"
        return (
            f"{self.account_id} {self.region}"
            if self.region
            else f"{self.account_id} (every region)"
        )

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.account_id or "", self.region or "", self.reason)


class Summary(FrozenValue):
    """Counts over a report. ``by_status`` lists every status, most severe first."""

    tenants: int
    failing: int
    by_status: dict[Status, int]
    regions_failed: int


class S3Location(FrozenValue):
    """An object in S3: an archived report, a scope list, a manifest, a result file."""

    bucket: str = Field(min_length=1)
    key: str = Field(min_length=1)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


class ArchivedReport(S3Location):
    """Where an object of the archive was written (a report, the status page), or why not."""

    url: str | None = None
    """A presigned GET URL, when ``BACKUPWATCH_REPORT_URL_HOURS`` asks for one."""
    error: str | None = None
    """Set when the write failed: the digest says so instead of linking a missing object."""
    index_error: str | None = None
    """Set when the report was written but the index was not updated: the next run will
    compare with an older report, and the digest says so."""


class Scope(FrozenValue):
    """One account-region: the unit of work (RDS's request budget is per account and region).

    ``role_arn`` None means the account backupwatch runs in, with its own credentials.
    ``s3_bucket`` set means the backups bucket lives in the scope's account and is listed with
    the role; None means the run's bucket, listed with the run's own credentials.
    """

    region: str
    account_id: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    s3_bucket: str | None = None

    @property
    def label(self) -> str:
        """``111122223333 eu-west-1``, or the region alone for the home account."""
        return f"{self.account_id} {self.region}" if self.account_id else self.region


class Report(FrozenValue):
    """The outcome of one run: every discovered tenant exactly once, plus failed scopes.

    A report is data: ``to_json`` and ``from_json`` round-trip it without loss, and
    ``merge_reports`` joins the partial reports of several scopes into one. The JSON carries
    ``summary`` for readers (``jq .summary``); it is recomputed, never trusted, on the way in.
    """

    generated_at: AwareDatetime
    regions: tuple[str, ...]
    checks: tuple[Check, ...]
    tenants: tuple[TenantReport, ...]
    region_errors: tuple[RegionError, ...] = ()
    accounts: tuple[str, ...] = ()
    """The accounts checked, when backupwatch was given targets; empty for "this account"."""

    @model_validator(mode="before")
    @classmethod
    def _summary_is_derived(cls, data: Any) -> Any:
        if isinstance(data, dict) and "summary" in data:
            return {k: v for k, v in data.items() if k != "summary"}
        return data

    def to_json(self, *, indent: int | None = None) -> str:
        """The report as JSON, ``summary`` included; ``Report.from_json`` reads it back."""
        return self.model_dump_json(indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes) -> Report:
        """Read a report written by ``to_json``; raises ``pydantic.ValidationError`` if not one."""
        return cls.model_validate_json(text)

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
