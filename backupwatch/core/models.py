"""The values backupwatch passes around: statuses, tenants, evidence, results, the report.

Everything here is a frozen pydantic model or an enum, imports no boto3, and serialises to JSON
with ``model_dump(mode="json")``; that JSON is what ``backupwatch check --json`` prints.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    computed_field,
    model_serializer,
    model_validator,
)
from pydantic_core import CoreSchema, core_schema


class Status(StrEnum):
    """Verdict of one check, or of a tenant (the most severe of its checks).

    Declared from most to least severe; ``severity`` follows the declaration order. The first
    seven are failing; the four after them (``STOPPED`` to ``SKIPPED``) are listed in the digest
    but do not fail the run, because they describe a tenant's lifecycle rather than a broken
    backup. They rank below every failing status so that a real failure of another check is
    never hidden behind them, and above ``OK`` so that they are never counted as proof.

    A report written by a newer backupwatch may hold a status this version does not know
    (``CORRUPT``, say). ``Report.from_json`` keeps it as an *unknown* status: a ``Status`` that
    is not a member (``list(Status)`` never grows; ``known`` is False), keeps its name (it is
    shown and written back as ``CORRUPT``), and is failing, whatever the newer writer said: a
    reader cannot tell a new kind of failure from a new lifecycle status, and only "failing"
    can never hide a broken backup. It ranks just below ``ERROR`` and above every other status:
    above ``MISSING`` because a failure this version cannot even name must never be sorted
    behind one it understands; below ``ERROR`` because ``ERROR`` stays "could not check at
    all", the least known state, and ``worst``'s answer for no evidence. Unknown statuses rank
    among themselves by name, so every ordering stays total. Only reading creates them:
    ``Status("CORRUPT")`` and a model built in code with that status still raise.
    """

    ERROR = "ERROR"
    """Could not check: access denied, no such bucket, retries exhausted, malformed tag."""
    MISSING = "MISSING"
    """No evidence at all that could count as a backup."""
    DISABLED = "DISABLED"
    """Automated backups are switched off (``BackupRetentionPeriod == 0``)."""
    SUSPECT = "SUSPECT"
    """A fresh backup exists but looks broken: far smaller than the dumps before it, not in the
    declared format or cut short, its checksum does not match, or it is not locked or
    encrypted as the policy asks. Ranked above ``STALE``: a stale backup is an older good one,
    while a suspect one is a job that looks healthy and may have produced nothing
    restorable."""
    STALE = "STALE"
    """Evidence exists, but the newest is older than the window."""
    EMPTY = "EMPTY"
    """Fresh objects exist, but every one is below the minimum size."""
    NONCOMPLIANT = "NONCOMPLIANT"
    """The backups are fresh, but break a control of the operator's policy: retention shorter
    than the minimum, not encrypted (or not with the required key), or a day without a backup
    in the last N days. One shared status for every control, on the ``policy`` check, because
    the remedy is the same kind (change the backup configuration) and the reason names each
    control that failed. Failing, and ranked below every status that means "no usable backup"
    (``EMPTY`` and above): a non-compliant backup can still be restored."""
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
        """Larger is worse: ``OK`` is 0, ``ERROR`` the largest, an unknown status one less."""
        return _SEVERITY.get(self, _UNKNOWN_SEVERITY)

    @property
    def failing(self) -> bool:
        """Whether this status needs a human by default: ``ERROR`` to ``NONCOMPLIANT``, and every
        unknown status.

        ``STOPPED`` can be made failing by a setting; that decision is per run, so it lives on
        ``TenantReport.failing``, not here.
        """
        return self in _FAILING or not self.known

    @property
    def listed(self) -> bool:
        """Whether the digest names a tenant with this status: everything but ``OK``."""
        return self is not Status.OK

    @property
    def known(self) -> bool:
        """False for a status read from a newer backupwatch's report (see the class)."""
        return self.name in Status.__members__

    def __reduce_ex__(self, proto: object) -> tuple[Any, ...]:
        # Enum pickles a member as ``Status(value)``, which refuses an unknown status.
        return (_status_named, (self.value,))

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        # Around pydantic's own enum check, which refuses a non-member: see _validate_status.
        return core_schema.with_info_wrap_validator_function(_validate_status, handler(source))


_SEVERITY: Final[Mapping[Status, int]] = MappingProxyType(
    {
        Status.ERROR: 12,
        # 11: every unknown status (_UNKNOWN_SEVERITY)
        Status.MISSING: 10,
        Status.DISABLED: 9,
        Status.SUSPECT: 8,
        Status.STALE: 7,
        Status.EMPTY: 6,
        Status.NONCOMPLIANT: 5,
        Status.STOPPED: 4,
        Status.PENDING: 3,
        Status.PAUSED: 2,
        Status.SKIPPED: 1,
        Status.OK: 0,
    }
)
_UNKNOWN_SEVERITY: Final = 11
_FAILING = frozenset(
    {
        Status.ERROR,
        Status.MISSING,
        Status.DISABLED,
        Status.SUSPECT,
        Status.STALE,
        Status.EMPTY,
        Status.NONCOMPLIANT,
    }
)
STATUS_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,31}")
"""What a status written by any backupwatch looks like (``fullmatch``): it ends up in HTML
classes and subjects, so a reader accepts no other unknown status."""
_UNKNOWN_STATUSES: dict[str, Status] = {}
"""One object per unknown status, so that ``is`` compares them like members."""


def _status_named(name: str) -> Status:
    """The status called ``name``: a member, or an unknown status (reading only)."""
    member = Status.__members__.get(name)
    if member is not None:
        return member
    if not STATUS_NAME.fullmatch(name):
        raise ValueError(f"{name[:40]!r} is not a status: A-Z, 0-9 and _, at most 32 characters")
    unknown = str.__new__(Status, name)
    unknown._name_ = name
    unknown._value_ = name
    return _UNKNOWN_STATUSES.setdefault(name, unknown)  # atomic: one object even across threads


def _status_order(status: Status) -> tuple[int, str]:
    return (-status.severity, status.value)


def most_severe_first(statuses: Iterable[Status]) -> list[Status]:
    """``statuses`` sorted most severe first: the declaration order of the members, unknown
    statuses just after ``ERROR``, by name."""
    return sorted(statuses, key=_status_order)


def worst(statuses: Iterable[Status]) -> Status:
    """The most severe status; ``ERROR`` when there is none, because no evidence is never OK."""
    return min(statuses, key=_status_order, default=Status.ERROR)


class Check(StrEnum):
    """The kinds of evidence backupwatch looks at."""

    RDS = "rds"
    """The newest automated RDS snapshot of the tenant's DB instance."""
    S3 = "s3"
    """The newest object under the tenant's prefix in the backups bucket."""
    BACKUP = "backup"
    """The newest AWS Backup recovery point of the tenant's instance or cluster."""
    COPY = "copy"
    """A fresh disaster-recovery copy in every copy region (``BACKUPWATCH_COPY_REGIONS``)."""
    POLICY = "policy"
    """The operator's policy controls: retention, encryption, a backup every day."""


class FrozenValue(BaseModel):
    """Base of every value model: immutable, and strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


SCHEMA_VERSION: Literal[2] = 2
"""The ``schema_version`` this version writes. 1: reports written before the field existed."""

READING: Final[Mapping[str, bool]] = MappingProxyType({"backupwatch.reading": True})
"""Validation context for a report written elsewhere, maybe by a newer backupwatch:
``Report.model_validate_json(text, context=READING)`` is what ``Report.from_json`` does. A
model validated with it inside (``ScanResult`` holding a report) reads its report leniently."""


def _reading(info: ValidationInfo) -> bool:
    # Called for every model and status of a report: no ABC isinstance (Mapping) here.
    context = info.context
    if context is READING:
        return True
    return isinstance(context, dict) and context.get("backupwatch.reading") is True


class ReportValue(FrozenValue):
    """Base of the models a report is made of: strict when built, lenient when read.

    Built in code, an unknown field is an error (a typo must fail). Read with the ``READING``
    context (``Report.from_json``), unknown fields are ignored at every level, because they
    come from a newer backupwatch that added them, and refusing its report would blind every
    older reader (the archive, the status page, ``backupwatch report --from``).

    ``json_schema_serialization_defaults_required``: the writer always writes every field, so
    the JSON Schema (``backupwatch.core.schema``) says so.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", json_schema_serialization_defaults_required=True
    )

    @model_validator(mode="before")
    @classmethod
    def _unknown_fields_are_ignored_when_reading(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict) and _reading(info):
            fields = cls.model_fields  # a property: once, not once per key
            return {key: value for key, value in data.items() if key in fields}
        return data


def _validate_status(
    value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
) -> Status:
    """Every ``Status`` field: strict when built; when reading, a status this version does not
    know becomes an unknown ``Status`` (a name that is no status at all is still refused)."""
    if isinstance(value, Status) and not value.known:
        return value  # read before (a merge, a summary): pydantic's enum check would refuse it
    if _reading(info) and isinstance(value, str):
        return _status_named(value)
    status: Status = handler(value)
    return status


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
    owners: tuple[str, ...] = ()
    """Tag ``backupwatch:owner``: the owner keys (team keys in lowercase, or email addresses
    with the domain in lowercase), at most 5, each told of this tenant in its own notice
    (``backupwatch.core.owners``); empty: only the central digest names it."""
    size_drop_ratio: float | None = None
    """Tag ``backupwatch:size-drop-ratio``; None: ``BACKUPWATCH_SIZE_DROP_RATIO``."""
    dump_format: str | None = None
    """Tag ``backupwatch:dump-format`` (a ``DumpFormat``); None: ``BACKUPWATCH_DUMP_FORMAT``."""
    verify_checksum: bool = False
    """Tag ``backupwatch:verify-checksum=true``: on for this tenant whatever the setting."""
    object_lock_min_days: float | None = None
    """Tag ``backupwatch:object-lock-min-days``, at least the setting; None: the setting."""
    resource_arn: str | None = None
    """``DBInstanceArn`` / ``DBClusterArn``: what AWS Backup calls the resource."""
    storage_encrypted: bool | None = None
    """``StorageEncrypted`` of the instance or cluster; None when RDS did not say."""
    kms_key_id: str | None = None
    """``KmsKeyId`` of the instance or cluster (a key ARN), when encrypted."""
    rds_backup_rule: Literal["both", "either"] | None = None
    """Tag ``backupwatch:rds-backup-rule``; None: ``BACKUPWATCH_RDS_BACKUP_RULE``."""
    min_retention_days: int | None = None
    """Tag ``backupwatch:min-retention-days``, at least the setting; None: the setting."""
    require_encrypted_backups: bool = False
    """Tag ``backupwatch:require-encryption=true``: on for this tenant whatever the setting."""
    daily_backup_days: int | None = None
    """Tag ``backupwatch:daily-backup-days``, at least the setting; None: the setting."""
    copy_regions: tuple[str, ...] = ()
    """Tag ``backupwatch:copy-regions``: copy regions on top of ``BACKUPWATCH_COPY_REGIONS``."""
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

    @property
    def row_key(self) -> RowKey:
        """The key of this tenant's row in a report (``TenantReport.key``)."""
        return (self.account_id or "", self.region, self.kind, self.db_instance_identifier)

    def wants(self, check: Check) -> bool:
        """Whether this tenant's policy includes ``check`` (the run's settings decide first)."""
        return self.checks is None or check in self.checks


class SnapshotInfo(FrozenValue):
    """One automated RDS snapshot in state ``available``."""

    snapshot_id: str
    created_at: AwareDatetime
    encrypted: bool | None = None
    """``Encrypted`` (``StorageEncrypted`` for a cluster snapshot); None: not said."""
    kms_key_id: str | None = None
    times: tuple[AwareDatetime, ...] = ()
    """Creation times of every available snapshot of the resource in the same listing, newest
    first (this one included): what the restore-window and daily controls read."""


USABLE_RECOVERY_POINT_STATUSES: Final = frozenset({"COMPLETED", "AVAILABLE"})
"""AWS Backup recovery point statuses that a restore can start from. ``PARTIAL``, ``EXPIRED``,
``DELETING``, ``STOPPED`` and ``CREATING`` cannot (botocore's ``RecoveryPointStatus`` enum)."""


class BackupPoint(FrozenValue):
    """One backup AWS Backup made of a resource: a recovery point in a vault, or the RDS
    snapshot of type ``awsbackup`` that ``DescribeDBSnapshots`` lists for it."""

    point_id: str
    """``RecoveryPointArn``, or the snapshot identifier."""
    source: Literal["recovery point", "snapshot"]
    created_at: AwareDatetime
    status: str
    """AWS's status as given: ``COMPLETED``, ``PARTIAL``... or a snapshot's ``available``."""
    status_message: str | None = None
    vault: str | None = None
    encrypted: bool | None = None
    kms_key_id: str | None = None
    lifecycle_known: bool = False
    """Whether ``delete_after_days`` was read (the vault listing has it; others do not)."""
    delete_after_days: int | None = None
    """Lifecycle ``DeleteAfterDays``; None with ``lifecycle_known``: kept until deleted."""

    @property
    def usable(self) -> bool:
        """Whether a restore can start from it."""
        if self.source == "snapshot":
            return self.status == "available"
        return self.status in USABLE_RECOVERY_POINT_STATUSES


class BackupJobProblem(FrozenValue):
    """An AWS Backup job for the resource that did not complete (``FAILED``, ``ABORTED``,
    ``EXPIRED``, ``PARTIAL``), with AWS's status message."""

    created_at: AwareDatetime
    state: str
    status_message: str | None = None


class BackupEvidence(FrozenValue):
    """What AWS Backup says about one resource: its backups in the lookback, newest first
    (every status, so that a ``PARTIAL`` one can be named), and its jobs that went wrong.

    ``errors`` names the sources that could not be read (the recovery-point listing, the
    ``awsbackup`` snapshot listing, the job listing); a source that failed never reads as
    "nothing there".
    """

    points: tuple[BackupPoint, ...] = ()
    job_problems: tuple[BackupJobProblem, ...] = ()
    errors: tuple[str, ...] = ()
    """Sources of backups that failed: with no usable fresh backup, the verdict is ``ERROR``."""
    job_error: str | None = None
    """The job listing failed: said in the reason, never failing by itself."""
    looked_back_days: float = 0.0

    @property
    def newest_usable(self) -> BackupPoint | None:
        return next((point for point in self.points if point.usable), None)


class CopyInfo(FrozenValue):
    """The newest disaster-recovery copy of a resource in one destination."""

    via: Literal["automated backup replication", "AWS Backup copy"]
    latest_at: AwareDatetime
    """The replicated restore window's ``LatestTime``, or the copy's ``CreationDate``."""
    identifier: str


class CopyEvidence(FrozenValue):
    """What one destination (a copy region, maybe in another account) holds for a resource."""

    destination: str
    """``eu-central-1``, or ``222233334444 eu-central-1`` for another account."""
    newest: CopyInfo | None = None
    error: str | None = None
    """A listing of the destination failed; with no fresh copy found, the verdict is ERROR."""


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
    storage_class: str | None = None
    """``StorageClass`` from the listing: an archived object cannot be read for inspection."""


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
    history_sizes: tuple[int, ...] = ()
    """Sizes of up to 7 earlier countable objects of ``newest_countable``'s series (its key
    without digits), newest first: what the size rule compares it with."""


class CheckResult(ReportValue):
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
    notes: tuple[str, ...] = ()
    """What this check could not verify, and why ("size not compared: 1 earlier dump...",
    "sha256 not verifiable: ..."): shown by ``backupwatch explain``, never failing."""
    deferred_to: Check | None = None
    """Set by the rule "either" between ``rds`` and ``backup`` on the one of them that does not
    decide the tenant's status, naming the one that does: on a ``SKIPPED`` result when the
    other is ``OK`` (not needed; the reason says what it would have been alone), and on the
    worse of two results when neither is ``OK`` (the tenant is as good as its best evidence,
    and the row gives both reasons). ``tenant_report`` leaves it out of the status. Written
    only when set, so every report without it stays byte for byte what earlier versions
    wrote."""

    @model_serializer(mode="wrap")
    def _deferred_to_only_when_set(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        data = handler(self)
        if isinstance(data, dict) and data.get("deferred_to") is None:
            data.pop("deferred_to", None)
        return data


class TenantReport(ReportValue):
    """One row of the report: a tenant, its overall status and every check that ran.

    ``failing`` defaults to the status's own ``failing``; it is set explicitly only to make a
    ``STOPPED`` tenant failing (``BACKUPWATCH_STOPPED_IS_FAILING``). A failing status can never
    be marked not failing, nor ``OK`` failing. A row read with an unknown status is failing,
    even when its newer writer said otherwise (see ``Status``).
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
    owners: tuple[str, ...] = ()
    """The tenant's owner keys (``Tenant.owners``), each of which gets a notice with this row
    when it fails (``backupwatch.core.owners``). Written only when there is one, so every
    report without owners stays byte for byte what earlier versions wrote."""
    notes: tuple[str, ...] = ()
    """Also at the end of ``reason``; kept apart so the digest can show an OK row's notes."""
    checks: dict[Check, CheckResult] = Field(default_factory=dict)

    @model_serializer(mode="wrap")
    def _owners_only_when_set(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        data = handler(self)
        if isinstance(data, dict) and not data.get("owners", True):
            data.pop("owners", None)
        return data

    @model_validator(mode="before")
    @classmethod
    def _failing_follows_status(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict) or "status" not in data:
            return data
        if _reading(info) and isinstance(data.get("checks"), dict):
            data = {**data, "checks": _known_checks(data["checks"])}
        status = data["status"]
        if _reading(info) and isinstance(status, str) and not _status_named(status).known:
            return {**data, "failing": True}  # whatever its newer writer said (see Status)
        if "failing" not in data:
            return {**data, "failing": Status(status).failing}
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

_CHECK_NAMES: Final = frozenset(check.value for check in Check)


def _known_checks(checks: dict[Any, Any]) -> dict[Any, Any]:
    """A row's checks as read: a check a newer backupwatch made that this one does not know
    is left out. The row keeps its status and ``failing`` as written, so no verdict is lost,
    only that check's details; refusing the report would blind every older reader."""
    return {name: result for name, result in checks.items() if name in _CHECK_NAMES}


class RegionError(ReportValue):
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


class Summary(ReportValue):
    """Counts over a report. ``by_status`` lists every status, most severe first: each one
    this version knows, and any unknown status the report holds (see ``Status``)."""

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


class Report(ReportValue):
    """The outcome of one run: every discovered tenant exactly once, plus failed scopes.

    A report is data: ``to_json`` and ``from_json`` round-trip it without loss, and
    ``merge_reports`` joins the partial reports of several scopes into one. The JSON carries
    ``summary`` for readers (``jq .summary``); it is recomputed, never trusted, on the way in.

    The JSON is a versioned contract: ``schema_version`` comes first (``SCHEMA_VERSION``; a
    report without it is version 1, written before it existed). ``from_json`` reads every
    version, and never refuses one for being newer: every field added since version 1 has a
    default, and a newer report is read leniently (unknown fields ignored, unknown statuses
    kept and failing; ``ReportValue``, ``Status``). What is read is a report of this version:
    ``schema_version`` is always ``SCHEMA_VERSION`` in memory, so writing it again never claims
    fields that were dropped on the way in. A version that changes what a field means would
    convert older documents in ``_derived_fields_are_not_read``, keyed on their version.
    """

    schema_version: Literal[2] = SCHEMA_VERSION
    """Which contract the JSON follows; first in the JSON, for readers that branch on it."""
    generated_at: AwareDatetime
    regions: tuple[str, ...]
    checks: tuple[Check, ...]
    tenants: tuple[TenantReport, ...]
    region_errors: tuple[RegionError, ...] = ()
    accounts: tuple[str, ...] = ()
    """The accounts checked, when backupwatch was given targets; empty for "this account"."""

    @model_validator(mode="before")
    @classmethod
    def _derived_fields_are_not_read(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict):
            return data
        if "schema_version" in data and _reading(info):
            version = data["schema_version"]
            if isinstance(version, bool) or not isinstance(version, int) or version < 1:
                raise ValueError(f"schema_version {version!r} is not a version (1, 2, ...)")
            # Any version is read (see the class); what is read is of this version.
            data = {k: v for k, v in data.items() if k != "schema_version"}
        if _reading(info) and isinstance(data.get("checks"), list | tuple):
            data = {**data, "checks": [c for c in data["checks"] if c in _CHECK_NAMES]}
        if "summary" in data:
            return {k: v for k, v in data.items() if k != "summary"}
        return data

    def to_json(self, *, indent: int | None = None) -> str:
        """The report as JSON, ``schema_version`` first and ``summary`` included;
        ``Report.from_json`` reads it back."""
        return self.model_dump_json(indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes) -> Report:
        """Read a report written by ``to_json`` of any version, leniently (see the class);
        raises ``pydantic.ValidationError`` if it is not a report at all."""
        return cls.model_validate_json(text, context=READING)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def summary(self) -> Summary:
        counts = Counter(row.status for row in self.tenants)
        return Summary(
            tenants=len(self.tenants),
            failing=sum(1 for row in self.tenants if row.failing),
            by_status={status: counts[status] for status in most_severe_first({*Status, *counts})},
            regions_failed=len(self.region_errors),
        )

    @property
    def failing(self) -> bool:
        """True when the run needs a human: a tenant fails, a region could not be checked, or
        no tenant was found at all (a mistyped tag key must never read as an all-clear)."""
        return (
            not self.tenants or bool(self.region_errors) or any(row.failing for row in self.tenants)
        )
