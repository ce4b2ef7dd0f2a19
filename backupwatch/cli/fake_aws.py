"""A fake, at the HTTP boundary, of the AWS evidence APIs that moto does not implement.

What it fakes (see ``FAKED_OPERATIONS``):

- AWS Backup: ``ListBackupVaults``, ``ListRecoveryPointsByBackupVault``,
  ``ListRecoveryPointsByResource``, ``ListBackupJobs``.
- RDS: ``DescribeDBSnapshots`` and ``DescribeDBClusterSnapshots`` with ``SnapshotType=awsbackup``
  (any other call is left to moto), and ``DescribeDBInstanceAutomatedBackups`` (answered wholly).

Why: moto 5.x answers the recovery-point and job APIs with "Not yet implemented" (HTTP 404),
``SnapshotType=awsbackup`` with an empty list, and ``DescribeDBInstanceAutomatedBackups`` with two
fields and no ``RestoreWindow`` (``/work/shared/notes/evidence-apis.md``). Tests and the offline
demo need these APIs to answer as AWS does, so the code under test is exercised end to end.

How: like moto itself (``moto/core/botocore_stubber.py``), this module appends handlers to
``botocore.handlers.BUILTIN_HANDLERS`` at import, one per faked operation
(``before-send.backup.ListBackupJobs``...). Every botocore session created afterwards gets them,
and botocore calls those specific handlers before moto's catch-all ``before-send`` one, using
the first response. A handler answers only while a ``FakeAws`` world is active (``with FakeAws()
as world:``). It parses the request as the service would (rest-json path and query string for
Backup, the form-encoded query protocol for RDS) and answers in the service's wire format (JSON
with epoch-second timestamps; RDS XML with ISO-8601 ones). botocore's own parser then reads the
answer, so the code under test sees exactly what it would see from AWS.

Every field name, type and enum value comes from the botocore service models: requests are
parsed and answers serialized by walking the operation's input and output shapes, and
serializing a member the model does not have (or an enum value it does not list) raises, so the
fake cannot drift from the model silently.

Limits, stated so nobody relies on them:

- Sessions created before this module is imported do not see the fake (import it first, as
  moto must be).
- botocore calls every ``before-send`` handler (``emit``, not ``emit_until_response``) and uses
  the first response, so moto still sees each faked request, harmlessly: all are reads.
- ``DescribeDBInstanceAutomatedBackups`` is the world's alone: moto's are hidden meanwhile.
- ``SnapshotType=awsbackup`` is faked for DescribeDBClusterSnapshots too, although the model's
  documentation of that parameter lists only automated, manual, shared and public.
- Listed items come in the order they were added; ListBackupJobs drops jobs older than 30 days
  only when the world has a ``clock``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import os
import re
import sys
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import BytesIO
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape

import botocore.handlers
import botocore.session
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders
from botocore.model import (
    ListShape,
    MapShape,
    OperationModel,
    ServiceModel,
    Shape,
    StringShape,
    StructureShape,
)
from botocore.utils import parse_timestamp

DEFAULT_ACCOUNT = "123456789012"
"""moto's default account, and the account of everything added without ``account_id``."""

BACKUP_OPERATIONS = (
    "ListBackupVaults",
    "ListRecoveryPointsByBackupVault",
    "ListRecoveryPointsByResource",
    "ListBackupJobs",
)
RDS_OPERATIONS = (
    "DescribeDBSnapshots",
    "DescribeDBClusterSnapshots",
    "DescribeDBInstanceAutomatedBackups",
)
FAKED_OPERATIONS: dict[str, str] = {
    **dict.fromkeys(BACKUP_OPERATIONS, "backup"),
    **dict.fromkeys(RDS_OPERATIONS, "rds"),
}
"""Operation -> botocore service name; also the hyphenized service id in the event name."""

RDS_XML_NAMESPACE = "http://rds.amazonaws.com/doc/2014-10-31/"

DEFAULT_SIZE_BYTES = 20 * 1024**3
"""A recovery point's size when none is given: a 20 GiB database."""

BACKUP_MAX_RESULTS = 1000
"""``MaxResults`` bounds in the Backup model are 1..1000; botocore checks only the minimum."""

RDS_SNAPSHOT_MAX_RECORDS = (20, 100)
"""``MaxRecords`` constraints documented for DescribeDB(Cluster)Snapshots (default 100)."""

RDS_DEFAULT_MAX_RECORDS = 100

RDS_MIN_MAX_RESULTS = 20
"""ListRecoveryPointsByResource's model: "Amazon RDS requires a value of at least 20"."""

BACKUP_JOBS_WINDOW = timedelta(days=30)
"""ListBackupJobs "returns a list of existing backup jobs ... for the last 30 days"."""

AUTOMATED_BACKUP_STATUSES = frozenset(
    {"active", "retained", "creating"}  # the model's documentation
    | {"pending", "replicating", "deleting"}  # seen in the AWS CLI's documented examples
)
"""``DBInstanceAutomatedBackup.Status`` is a plain string in the model; its documentation lists
``active, retained, creating``, but a replicated backup in the destination region says
``replicating`` (``pending`` right after StartDBInstanceAutomatedBackupsReplication)."""

AWSBACKUP_ONLY = ("DescribeDBSnapshots", "DescribeDBClusterSnapshots")
"""Operations the fake answers only for ``SnapshotType=awsbackup``."""

_TERMINAL_JOB_STATES = frozenset({"COMPLETED", "ABORTED", "FAILED", "EXPIRED", "PARTIAL"})
_UUID_NAMESPACE = uuid.UUID("6f1c7d2e-3b4a-4f5e-9a8b-7c6d5e4f3a2b")


@functools.cache
def service_model(service: str) -> ServiceModel:
    """The installed botocore model of ``service``: the one source of names, types and enums."""
    return botocore.session.get_session().get_service_model(service)


def operation_model(operation: str) -> OperationModel:
    """The model of one faked operation (``KeyError`` for an operation this fake lacks)."""
    return service_model(FAKED_OPERATIONS[operation]).operation_model(operation)


def model_enum(service: str, shape_name: str) -> frozenset[str]:
    """The enum values the model allows for ``shape_name`` (for validating what tests add)."""
    shape = service_model(service).shape_for(shape_name)
    return frozenset(shape.enum if isinstance(shape, StringShape) else ())


def passes_through(operation: str, params: dict[str, Any]) -> bool:
    """Whether the fake leaves this call to moto: snapshots other than AWS Backup's."""
    return operation in AWSBACKUP_ONLY and params.get("SnapshotType") != "awsbackup"


def modeled_error(service: str, shape_name: str, message: str) -> _ApiError:
    """The error an operation's model declares, with the code and HTTP status the model gives
    it (RDS's ``DBSnapshotNotFoundFault`` is ``DBSnapshotNotFound``, 404); Backup's error
    shapes carry neither, and its documentation gives 400 for the client errors."""
    error = service_model(service).shape_for(shape_name).metadata.get("error", {})
    return _ApiError(error.get("code", shape_name), message, error.get("httpStatusCode", 400))


class FakeAwsModelError(AssertionError):
    """The fake tried to emit something its botocore model does not have: a bug in the fake."""


class _ApiError(Exception):
    """An error the real service would answer with (code, message, HTTP status)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


# --- the world ---------------------------------------------------------------------------------


@dataclass
class _Vault:
    account_id: str
    region: str
    name: str
    created: datetime
    encryption_key_arn: str

    @property
    def arn(self) -> str:
        return f"arn:aws:backup:{self.region}:{self.account_id}:backup-vault:{self.name}"


@dataclass(frozen=True)
class _RecoveryPoint:
    arn: str
    account_id: str
    region: str
    vault: str
    resource_arn: str
    resource_type: str
    created: datetime
    completed: datetime | None
    status: str
    status_message: str | None
    encryption_key_arn: str | None
    is_encrypted: bool
    delete_after_days: int | None
    size_bytes: int
    source_vault_arn: str | None
    backup_plan_id: str | None


@dataclass(frozen=True)
class _BackupJob:
    job_id: str
    account_id: str
    region: str
    vault: str
    resource_arn: str
    resource_type: str
    created: datetime
    completed: datetime | None
    state: str
    status_message: str | None
    recovery_point_arn: str | None
    size_bytes: int
    message_category: str | None
    delete_after_days: int | None


@dataclass(frozen=True)
class _AwsBackupSnapshot:
    snapshot_id: str
    account_id: str
    region: str
    kind: Literal["instance", "cluster"]
    identifier: str
    created: datetime
    resource_id: str
    status: str
    encrypted: bool
    kms_key_id: str | None
    engine: str
    allocated_storage: int

    @property
    def arn(self) -> str:
        kind = "snapshot" if self.kind == "instance" else "cluster-snapshot"
        return f"arn:aws:rds:{self.region}:{self.account_id}:{kind}:{self.snapshot_id}"

    @property
    def source_arn(self) -> str:
        kind = "db" if self.kind == "instance" else "cluster"
        return f"arn:aws:rds:{self.region}:{self.account_id}:{kind}:{self.identifier}"


@dataclass(frozen=True)
class _AutomatedBackup:
    arn: str
    account_id: str
    region: str
    source_region: str
    instance_arn: str
    identifier: str
    resource_id: str
    latest: datetime
    earliest: datetime
    status: str
    retention_days: int
    encrypted: bool
    kms_key_id: str | None
    engine: str
    allocated_storage: int


@dataclass
class _Failure:
    operation: str
    code: str
    status: int
    region: str | None
    times: int | None
    message: str


_active: FakeAws | None = None
_ACTIVE_LOCK = threading.Lock()


def active_world() -> FakeAws | None:
    """The world answering requests now, if any (for code that stages it, like the demo)."""
    return _active


class FakeAws:
    """Context manager: ``with FakeAws() as world:`` (usable inside or outside ``mock_aws``).

    Add what AWS would hold (``add_recovery_point``...), then call the APIs through any boto3
    client created after this module was imported. Everything is scoped as in AWS: by region
    (from the request's host) and by the caller's account (moto's account of the access key,
    ``MOTO_ACCOUNT_ID``, else ``DEFAULT_ACCOUNT``). ``calls`` records every call the fake
    answered; ``fail`` makes an operation answer with an error.
    """

    def __init__(
        self, *, clock: Callable[[], datetime] | None = None, page_size: int | None = None
    ) -> None:
        """``clock`` is "now" for ListBackupJobs' 30-day window; without one there is no
        window, so that tests pinned to a fixed date do not change as the calendar moves.
        ``page_size`` is the page length when a request gives no ``MaxResults``/``MaxRecords``
        (default: the model's maximum, 1000, for Backup; RDS's documented default, 100), so
        that tests can make forgetting to paginate visible."""
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self._clock = clock
        self._page_size = page_size
        self._lock = threading.RLock()
        self._vaults: dict[tuple[str, str, str], _Vault] = {}
        self._recovery_points: list[_RecoveryPoint] = []
        self._jobs: list[_BackupJob] = []
        self._snapshots: list[_AwsBackupSnapshot] = []
        self._automated: list[_AutomatedBackup] = []
        self._failures: list[_Failure] = []
        self._serial = 0

    def __enter__(self) -> Self:
        global _active
        with _ACTIVE_LOCK:
            if _active is not None:
                raise RuntimeError("another FakeAws world is already active")
            _active = self
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        global _active
        with _ACTIVE_LOCK:
            if _active is self:
                _active = None

    @property
    def active(self) -> bool:
        """Whether this world answers requests now."""
        return _active is self

    def reset(self) -> None:
        """Empty the world (vaults, recovery points, jobs, snapshots, automated backups,
        failures, calls), so that a caller can stage it again from scratch, as the demo does
        for each morning. Identifiers keep counting: an ARN is never reused for another backup.
        """
        with self._lock:
            self.calls.clear()
            for content in (
                self._vaults,
                self._recovery_points,
                self._jobs,
                self._snapshots,
                self._automated,
                self._failures,
            ):
                content.clear()

    # --- building the world --------------------------------------------------------------------

    def add_vault(
        self,
        region: str,
        name: str,
        *,
        account_id: str = DEFAULT_ACCOUNT,
        created: datetime | None = None,
        encryption_key_arn: str | None = None,
    ) -> str:
        """An (empty) backup vault; returns its ARN. Vaults named by recovery points and jobs
        exist without this."""
        with self._lock:
            when = created or (self._clock or _utcnow)()
            vault = self._vault(account_id, region, name, _aware(when, "created"))
            if encryption_key_arn is not None:
                vault.encryption_key_arn = encryption_key_arn
            return vault.arn

    def add_recovery_point(
        self,
        *,
        region: str,
        vault: str,
        resource_arn: str,
        resource_type: Literal["RDS", "Aurora"],
        created: datetime,
        status: str = "COMPLETED",
        status_message: str | None = None,
        encryption_key_arn: str | None = None,
        is_encrypted: bool = True,
        delete_after_days: int | None = None,
        size_bytes: int = DEFAULT_SIZE_BYTES,
        source_vault_arn: str | None = None,
        account_id: str = DEFAULT_ACCOUNT,
        completed: datetime | None = None,
        job_id: str | None = None,
        backup_plan_id: str | None = None,
    ) -> str:
        """A recovery point in ``vault`` of ``region``; returns its ``RecoveryPointArn``.

        For RDS and Aurora the ARN is the snapshot's, as in AWS Backup:
        ``arn:aws:rds:<region>:<account>:snapshot:awsbackup:job-<id>`` (``cluster-snapshot`` for
        Aurora, ``copyjob-`` for a copy, i.e. with ``source_vault_arn``). Pass the ``job_id`` of
        ``add_backup_job`` to make them one backup. ``encryption_key_arn`` defaults to a key of
        the region when ``is_encrypted``; ``completed`` to ``created`` + 15 min unless CREATING.
        """
        _require(status in model_enum("backup", "RecoveryPointStatus"), f"status {status!r}")
        _require(resource_type in ("RDS", "Aurora"), f"resource_type {resource_type!r}")
        created = _aware(created, "created")
        with self._lock:
            job_id = job_id or self._new_id("job")
            arn = _rds_backup_arn(
                region, account_id, resource_type, job_id, copy=source_vault_arn is not None
            )
            if is_encrypted and encryption_key_arn is None:
                encryption_key_arn = _kms_key_arn(region, account_id, resource_arn)
            self._vault(account_id, region, vault, created)
            self._recovery_points.append(
                _RecoveryPoint(
                    arn=arn,
                    account_id=account_id,
                    region=region,
                    vault=vault,
                    resource_arn=resource_arn,
                    resource_type=resource_type,
                    created=created,
                    completed=None
                    if status == "CREATING"
                    else _aware(completed or created + timedelta(minutes=15), "completed"),
                    status=status,
                    status_message=status_message,
                    encryption_key_arn=encryption_key_arn if is_encrypted else None,
                    is_encrypted=is_encrypted,
                    delete_after_days=delete_after_days,
                    size_bytes=size_bytes,
                    source_vault_arn=source_vault_arn,
                    backup_plan_id=backup_plan_id,
                )
            )
            return arn

    def add_backup_job(
        self,
        *,
        region: str,
        resource_arn: str,
        resource_type: Literal["RDS", "Aurora"],
        created: datetime,
        state: str,
        status_message: str | None = None,
        vault: str = "Default",
        account_id: str = DEFAULT_ACCOUNT,
        completed: datetime | None = None,
        recovery_point_arn: str | None = None,
        size_bytes: int | None = None,
        message_category: str | None = None,
        delete_after_days: int | None = None,
        job_id: str | None = None,
    ) -> str:
        """A backup job; returns its ``BackupJobId`` (an upper-case UUID, as AWS Backup's).

        A terminal job (COMPLETED, FAILED, ABORTED, EXPIRED, PARTIAL) has a ``CompletionDate``
        (``created`` + 15 min by default); a COMPLETED one a ``RecoveryPointArn``, by default
        the one ``add_recovery_point(job_id=...)`` gives. ``message_category`` is AWS's
        ``MessageCategory`` (e.g. ``SUCCESS``, ``AccessDenied``); none unless given.
        """
        _require(state in model_enum("backup", "BackupJobState"), f"state {state!r}")
        _require(resource_type in ("RDS", "Aurora"), f"resource_type {resource_type!r}")
        created = _aware(created, "created")
        with self._lock:
            job_id = job_id or self._new_id("job")
            if recovery_point_arn is None and state == "COMPLETED":
                recovery_point_arn = _rds_backup_arn(region, account_id, resource_type, job_id)
            self._vault(account_id, region, vault, created)
            self._jobs.append(
                _BackupJob(
                    job_id=job_id.upper(),
                    account_id=account_id,
                    region=region,
                    vault=vault,
                    resource_arn=resource_arn,
                    resource_type=resource_type,
                    created=created,
                    completed=_aware(completed or created + timedelta(minutes=15), "completed")
                    if state in _TERMINAL_JOB_STATES
                    else None,
                    state=state,
                    status_message=status_message,
                    recovery_point_arn=recovery_point_arn,
                    size_bytes=size_bytes
                    if size_bytes is not None
                    else (DEFAULT_SIZE_BYTES if state == "COMPLETED" else 0),
                    message_category=message_category,
                    delete_after_days=delete_after_days,
                )
            )
            return job_id.upper()

    def add_awsbackup_snapshot(
        self,
        *,
        region: str,
        kind: Literal["instance", "cluster"],
        identifier: str,
        created: datetime,
        resource_id: str | None = None,
        status: str = "available",
        encrypted: bool = True,
        kms_key_id: str | None = None,
        account_id: str = DEFAULT_ACCOUNT,
        engine: str | None = None,
        allocated_storage: int = 20,
        job_id: str | None = None,
    ) -> str:
        """An RDS snapshot AWS Backup made of DB instance or cluster ``identifier``; returns its
        identifier, ``awsbackup:job-<id>`` as in AWS (pass ``job_id`` to tie it to a job).

        ``resource_id`` defaults to a stable ``db-...``/``cluster-...`` id of ``identifier``;
        ``kms_key_id`` to a key of the region when ``encrypted``; ``engine`` to ``postgres``
        or ``aurora-postgresql``.
        """
        _require(kind in ("instance", "cluster"), f"kind {kind!r}")
        created = _aware(created, "created")
        with self._lock:
            snapshot_id = f"awsbackup:job-{(job_id or self._new_id('job')).lower()}"
            source = f"arn:aws:rds:{region}:{account_id}:{kind}:{identifier}"
            self._snapshots.append(
                _AwsBackupSnapshot(
                    snapshot_id=snapshot_id,
                    account_id=account_id,
                    region=region,
                    kind=kind,
                    identifier=identifier,
                    created=created,
                    resource_id=resource_id or _resource_id(kind, account_id, identifier),
                    status=status,
                    encrypted=encrypted,
                    kms_key_id=(kms_key_id or _kms_key_arn(region, account_id, source))
                    if encrypted
                    else None,
                    engine=engine or ("postgres" if kind == "instance" else "aurora-postgresql"),
                    allocated_storage=allocated_storage,
                )
            )
            return snapshot_id

    def add_automated_backup(
        self,
        *,
        region: str,
        source_region: str,
        instance_arn: str,
        identifier: str,
        resource_id: str,
        latest: datetime,
        earliest: datetime,
        status: str = "replicating",
        retention_days: int = 7,
        encrypted: bool = True,
        kms_key_id: str | None = None,
        engine: str = "postgres",
        allocated_storage: int = 20,
    ) -> str:
        """An automated backup of a DB instance, listed in ``region``; returns its
        ``DBInstanceAutomatedBackupsArn``.

        With ``region != source_region`` it is a cross-region replicated backup (what
        DescribeDBInstanceAutomatedBackups lists in the destination region; ``Region`` says the
        source). With ``region == source_region`` it is the instance's own (status ``active``
        or ``retained``), and lists the replicated ones added for the same ``resource_id`` in
        ``DBInstanceAutomatedBackupsReplications``.
        """
        _require(status in AUTOMATED_BACKUP_STATUSES, f"status {status!r}")
        latest, earliest = _aware(latest, "latest"), _aware(earliest, "earliest")
        account_id = instance_arn.split(":")[4]
        with self._lock:
            digest = _digest(region, instance_arn, resource_id, length=26).lower()
            arn = f"arn:aws:rds:{region}:{account_id}:auto-backup:ab-{digest}"
            self._automated.append(
                _AutomatedBackup(
                    arn=arn,
                    account_id=account_id,
                    region=region,
                    source_region=source_region,
                    instance_arn=instance_arn,
                    identifier=identifier,
                    resource_id=resource_id,
                    latest=latest,
                    earliest=earliest,
                    status=status,
                    retention_days=retention_days,
                    encrypted=encrypted,
                    kms_key_id=(kms_key_id or _kms_key_arn(region, account_id, instance_arn))
                    if encrypted
                    else None,
                    engine=engine,
                    allocated_storage=allocated_storage,
                )
            )
            return arn

    def fail(
        self,
        operation: str,
        *,
        code: str | None = None,
        status: int | None = None,
        region: str | None = None,
        times: int | None = None,
        message: str = "injected by FakeAws.fail",
    ) -> None:
        """Make calls of ``operation`` in ``region`` (None: any) fail ``times`` times (None:
        always), in the service's real error format.

        ``code`` defaults to what the service says when IAM denies the call:
        ``AccessDeniedException`` (HTTP 400) for Backup, ``AccessDenied`` (HTTP 403) for RDS.
        ``status`` defaults to 400 otherwise. It applies to every call of the operation,
        DescribeDBSnapshots without ``SnapshotType=awsbackup`` included. botocore retries
        throttling codes and 5xx by itself, each retry consuming one of ``times``.
        """
        if operation not in FAKED_OPERATIONS:
            raise ValueError(f"{operation!r} is not faked; one of {sorted(FAKED_OPERATIONS)}")
        rds = FAKED_OPERATIONS[operation] == "rds"
        code = code or ("AccessDenied" if rds else "AccessDeniedException")
        if status is None:
            status = 403 if rds and code == "AccessDenied" else 400
        with self._lock:
            self._failures.append(_Failure(operation, code, status, region, times, message))

    # --- answering -----------------------------------------------------------------------------

    def _answer(self, operation: str, request: AWSPreparedRequest) -> AWSResponse | None:
        """The response AWS would give to ``request``, or None to let moto (or AWS) answer."""
        service = FAKED_OPERATIONS[operation]
        model = operation_model(operation)
        region = _region_of(request)
        params = (_rest_params if service == "backup" else _query_params)(model, request)
        with self._lock:
            failure = self._take_failure(operation, region)
            if failure is None and passes_through(operation, params):
                return None  # moto's (or AWS's) answer
            self.calls.append((operation, region, params))
            if failure is not None:
                error = _ApiError(failure.code, failure.message, failure.status)
                return _error_response(service, request.url, error)
            try:
                handler: Callable[[str, str, dict[str, Any]], dict[str, Any]] = getattr(
                    self, f"_op_{operation}"
                )
                output = handler(region, _caller_account(request), params)
            except _ApiError as error:
                return _error_response(service, request.url, error)
        return _success_response(service, model, request.url, output)

    def _take_failure(self, operation: str, region: str) -> _Failure | None:
        for failure in self._failures:
            if failure.operation == operation and failure.region in (None, region):
                if failure.times is not None:
                    failure.times -= 1
                    if failure.times <= 0:
                        self._failures.remove(failure)
                return failure
        return None

    # AWS Backup

    def _op_ListBackupVaults(self, region: str, account: str, p: dict[str, Any]) -> dict[str, Any]:
        vaults = [v for v in self._vaults.values() if (v.account_id, v.region) == (account, region)]
        if p.get("ByVaultType") not in (None, "BACKUP_VAULT") or p.get("ByShared"):
            vaults = []  # the world has only standard vaults of its own
        page, token = self._backup_page("ListBackupVaults", vaults, p)
        listed = [
            {
                "BackupVaultName": v.name,
                "BackupVaultArn": v.arn,
                "VaultType": "BACKUP_VAULT",
                "VaultState": "AVAILABLE",
                "CreationDate": v.created,
                "EncryptionKeyArn": v.encryption_key_arn,
                "NumberOfRecoveryPoints": sum(
                    1
                    for rp in self._recovery_points
                    if (rp.account_id, rp.region, rp.vault) == (v.account_id, v.region, v.name)
                ),
                "Locked": False,
            }
            for v in page
        ]
        return _with_token({"BackupVaultList": listed}, "NextToken", token)

    def _op_ListRecoveryPointsByBackupVault(
        self, region: str, account: str, p: dict[str, Any]
    ) -> dict[str, Any]:
        owner = p.get("BackupVaultAccountId") or account
        name = p["BackupVaultName"]
        vault = self._vaults.get((owner, region, name))
        if vault is None:
            raise modeled_error(
                "backup",
                "ResourceNotFoundException",
                f"Backup vault with name {name!r} does not exist in {region}",
            )
        points = [
            rp
            for rp in self._recovery_points
            if (rp.account_id, rp.region, rp.vault) == (owner, region, name)
            and p.get("ByResourceArn") in (None, rp.resource_arn)
            and p.get("ByResourceType") in (None, rp.resource_type)
            and p.get("ByBackupPlanId") in (None, rp.backup_plan_id)
            and p.get("ByParentRecoveryPointArn") is None  # the world has no composite points
            and _in_window(rp.created, p.get("ByCreatedAfter"), p.get("ByCreatedBefore"))
        ]
        page, token = self._backup_page("ListRecoveryPointsByBackupVault", points, p)
        listed = [_recovery_point_by_vault(rp, vault) for rp in page]
        return _with_token({"RecoveryPoints": listed}, "NextToken", token)

    def _op_ListRecoveryPointsByResource(
        self, region: str, account: str, p: dict[str, Any]
    ) -> dict[str, Any]:
        arn = p["ResourceArn"]
        limit = p.get("MaxResults")
        if limit is not None and limit < RDS_MIN_MAX_RESULTS and re.match(r"arn:[^:]+:rds:", arn):
            raise modeled_error(
                "backup",
                "InvalidParameterValueException",
                f"MaxResults must be at least {RDS_MIN_MAX_RESULTS} for an Amazon RDS resource",
            )
        points = [
            rp
            for rp in self._recovery_points
            if (rp.account_id, rp.region, rp.resource_arn) == (account, region, arn)
        ]
        page, token = self._backup_page("ListRecoveryPointsByResource", points, p)
        listed = [_recovery_point_by_resource(rp) for rp in page]
        return _with_token({"RecoveryPoints": listed}, "NextToken", token)

    def _op_ListBackupJobs(self, region: str, account: str, p: dict[str, Any]) -> dict[str, Any]:
        # ByAccountId (another account, or "*" for all) works as from an Organizations
        # management account with cross-account monitoring; the world does not model
        # Organizations, so any caller may use it.
        by_account = p.get("ByAccountId") or account
        oldest = None if self._clock is None else self._clock() - BACKUP_JOBS_WINDOW
        category = p.get("ByMessageCategory")
        jobs = [
            job
            for job in self._jobs
            if job.region == region and by_account in ("*", job.account_id)
        ]
        jobs = [
            job
            for job in jobs
            if (oldest is None or job.created >= oldest)
            and p.get("ByResourceArn") in (None, job.resource_arn)
            and p.get("ByState") in (None, job.state)
            and p.get("ByBackupVaultName") in (None, job.vault)
            and p.get("ByResourceType") in (None, job.resource_type)
            and p.get("ByParentJobId") is None  # the world has no composite jobs
            and (category in (None, "ANY", "AGGREGATE_ALL") or category == job.message_category)
            and _in_window(job.created, p.get("ByCreatedAfter"), p.get("ByCreatedBefore"))
            and (
                (p.get("ByCompleteAfter") is None and p.get("ByCompleteBefore") is None)
                or (
                    job.completed is not None
                    and _in_window(
                        job.completed, p.get("ByCompleteAfter"), p.get("ByCompleteBefore")
                    )
                )
            )
        ]
        page, token = self._backup_page("ListBackupJobs", jobs, p)
        listed = [
            _backup_job(job, self._vaults[(job.account_id, job.region, job.vault)]) for job in page
        ]
        return _with_token({"BackupJobs": listed}, "NextToken", token)

    # RDS

    def _op_DescribeDBSnapshots(
        self, region: str, account: str, p: dict[str, Any]
    ) -> dict[str, Any]:
        return self._awsbackup_snapshots("DescribeDBSnapshots", "instance", region, account, p)

    def _op_DescribeDBClusterSnapshots(
        self, region: str, account: str, p: dict[str, Any]
    ) -> dict[str, Any]:
        return self._awsbackup_snapshots(
            "DescribeDBClusterSnapshots", "cluster", region, account, p
        )

    def _awsbackup_snapshots(
        self,
        operation: str,
        kind: Literal["instance", "cluster"],
        region: str,
        account: str,
        p: dict[str, Any],
    ) -> dict[str, Any]:
        instance = kind == "instance"
        source_param, snapshot_param, resource_param = (
            ("DBInstanceIdentifier", "DBSnapshotIdentifier", "DbiResourceId")
            if instance
            else ("DBClusterIdentifier", "DBClusterSnapshotIdentifier", "DbClusterResourceId")
        )
        filter_names = (
            ("db-instance-id", "db-snapshot-id", "dbi-resource-id")
            if instance
            else ("db-cluster-id", "db-cluster-snapshot-id", None)
        )
        filters = _rds_filters(p, {*(n for n in filter_names if n), "snapshot-type", "engine"})
        source, snapshot_id = p.get(source_param), p.get(snapshot_param)
        snapshots = [
            s
            for s in self._snapshots
            if (s.account_id, s.region, s.kind) == (account, region, kind)
            and (source is None or source.lower() in (s.identifier.lower(), s.source_arn.lower()))
            and (snapshot_id is None or snapshot_id.lower() in (s.snapshot_id, s.arn.lower()))
            and p.get(resource_param) in (None, s.resource_id)
            and _filter_ok(filters, filter_names[0], s.identifier, s.source_arn)
            and _filter_ok(filters, filter_names[1], s.snapshot_id, s.arn)
            and _filter_ok(filters, filter_names[2], s.resource_id)
            and _filter_ok(filters, "snapshot-type", "awsbackup")
            and _filter_ok(filters, "engine", s.engine)
        ]
        if snapshot_id is not None and not snapshots:
            fault = "DBSnapshotNotFoundFault" if instance else "DBClusterSnapshotNotFoundFault"
            raise modeled_error("rds", fault, f"Snapshot {snapshot_id} not found.")
        page, marker = self._rds_page(operation, snapshots, p, RDS_SNAPSHOT_MAX_RECORDS)
        if instance:
            return _with_token({"DBSnapshots": [_db_snapshot(s) for s in page]}, "Marker", marker)
        listed = [_db_cluster_snapshot(s) for s in page]
        return _with_token({"DBClusterSnapshots": listed}, "Marker", marker)

    def _op_DescribeDBInstanceAutomatedBackups(
        self, region: str, account: str, p: dict[str, Any]
    ) -> dict[str, Any]:
        filters = _rds_filters(p, {"status", "db-instance-id", "dbi-resource-id"})
        identifier, resource_id = p.get("DBInstanceIdentifier"), p.get("DbiResourceId")
        arn = p.get("DBInstanceAutomatedBackupsArn")
        backups = [
            b
            for b in self._automated
            if (b.account_id, b.region) == (account, region)
            and (identifier is None or identifier.lower() == b.identifier.lower())
            and (resource_id is None or resource_id.lower() == b.resource_id.lower())
            and arn in (None, b.arn)
            and _filter_ok(filters, "status", b.status)
            and _filter_ok(filters, "db-instance-id", b.identifier, b.instance_arn)
            and _filter_ok(filters, "dbi-resource-id", b.resource_id, b.instance_arn)
        ]
        if not backups and (identifier or resource_id or arn):
            raise modeled_error(
                "rds",
                "DBInstanceAutomatedBackupNotFoundFault",
                f"No automated backup found for {identifier or resource_id or arn}.",
            )
        page, marker = self._rds_page("DescribeDBInstanceAutomatedBackups", backups, p, None)
        listed = [_automated_backup(b, self._automated) for b in page]
        return _with_token({"DBInstanceAutomatedBackups": listed}, "Marker", marker)

    # --- helpers -------------------------------------------------------------------------------

    def _vault(self, account_id: str, region: str, name: str, created: datetime) -> _Vault:
        """The vault, created on first mention; its creation date is its oldest content's."""
        key = (account_id, region, name)
        vault = self._vaults.get(key)
        if vault is None:
            vault = _Vault(
                account_id, region, name, created, _kms_key_arn(region, account_id, f"vault/{name}")
            )
            self._vaults[key] = vault
        vault.created = min(vault.created, created)
        return vault

    def _new_id(self, kind: str) -> str:
        """A stable UUID per world and call order, so that runs (and the demo) repeat."""
        self._serial += 1
        return str(uuid.uuid5(_UUID_NAMESPACE, f"{kind}/{self._serial}"))

    def _backup_page(
        self, operation: str, items: Sequence[Any], p: dict[str, Any]
    ) -> tuple[Sequence[Any], str | None]:
        limit = p.get("MaxResults")
        if limit is not None and not 1 <= limit <= BACKUP_MAX_RESULTS:
            raise modeled_error(
                "backup",
                "InvalidParameterValueException",
                f"MaxResults must be between 1 and {BACKUP_MAX_RESULTS}",
            )
        size = limit or self._page_size or BACKUP_MAX_RESULTS
        bad = modeled_error("backup", "InvalidParameterValueException", "Invalid NextToken")
        return _page(operation, items, p.get("NextToken"), size, bad)

    def _rds_page(
        self,
        operation: str,
        items: Sequence[Any],
        p: dict[str, Any],
        bounds: tuple[int, int] | None,
    ) -> tuple[Sequence[Any], str | None]:
        limit = p.get("MaxRecords")
        if limit is not None and bounds is not None and not bounds[0] <= limit <= bounds[1]:
            raise _ApiError(
                "InvalidParameterValue",
                f"Invalid value {limit} for MaxRecords. Must be between {bounds[0]} and "
                f"{bounds[1]}",
            )
        size = limit or self._page_size or RDS_DEFAULT_MAX_RECORDS
        bad = _ApiError("InvalidParameterValue", "Invalid Marker")
        return _page(operation, items, p.get("Marker"), size, bad)


# --- the shapes' contents ----------------------------------------------------------------------


def _recovery_point_by_vault(rp: _RecoveryPoint, vault: _Vault) -> dict[str, Any]:
    """A ``RecoveryPointByBackupVault``: what ListRecoveryPointsByBackupVault lists."""
    out: dict[str, Any] = {
        "RecoveryPointArn": rp.arn,
        "BackupVaultName": rp.vault,
        "BackupVaultArn": vault.arn,
        "ResourceArn": rp.resource_arn,
        "ResourceType": rp.resource_type,
        "ResourceName": _resource_name(rp.resource_arn),
        "IamRoleArn": _backup_role(rp.account_id),
        "Status": rp.status,
        "CreationDate": rp.created,
        "BackupSizeInBytes": rp.size_bytes,
        "IsEncrypted": rp.is_encrypted,
        "IsParent": False,
        "VaultType": "BACKUP_VAULT",
    }
    _put(out, "SourceBackupVaultArn", rp.source_vault_arn)
    _put(out, "StatusMessage", rp.status_message)
    _put(out, "CompletionDate", rp.completed)
    _put(out, "EncryptionKeyArn", rp.encryption_key_arn)
    if rp.backup_plan_id is not None:
        out["CreatedBy"] = {"BackupPlanId": rp.backup_plan_id}
    if rp.delete_after_days is not None:
        out["Lifecycle"] = {"DeleteAfterDays": rp.delete_after_days}
        out["CalculatedLifecycle"] = {"DeleteAt": rp.created + timedelta(days=rp.delete_after_days)}
    return out


def _recovery_point_by_resource(rp: _RecoveryPoint) -> dict[str, Any]:
    """A ``RecoveryPointByResource``: ``BackupSizeBytes`` (not ...InBytes), no lifecycle."""
    out: dict[str, Any] = {
        "RecoveryPointArn": rp.arn,
        "CreationDate": rp.created,
        "Status": rp.status,
        "BackupSizeBytes": rp.size_bytes,
        "BackupVaultName": rp.vault,
        "IsParent": False,
        "ResourceName": _resource_name(rp.resource_arn),
        "VaultType": "BACKUP_VAULT",
    }
    _put(out, "StatusMessage", rp.status_message)
    _put(out, "EncryptionKeyArn", rp.encryption_key_arn)
    return out


def _backup_job(job: _BackupJob, vault: _Vault) -> dict[str, Any]:
    """A ``BackupJob``: what ListBackupJobs lists."""
    out: dict[str, Any] = {
        "AccountId": job.account_id,
        "BackupJobId": job.job_id,
        "BackupVaultName": job.vault,
        "BackupVaultArn": vault.arn,
        "VaultType": "BACKUP_VAULT",
        "ResourceArn": job.resource_arn,
        "ResourceType": job.resource_type,
        "ResourceName": _resource_name(job.resource_arn),
        "CreationDate": job.created,
        "State": job.state,
        "BackupSizeInBytes": job.size_bytes,
        "IamRoleArn": _backup_role(job.account_id),
        "IsParent": False,
    }
    _put(out, "RecoveryPointArn", job.recovery_point_arn)
    _put(out, "CompletionDate", job.completed)
    _put(out, "StatusMessage", job.status_message)
    _put(out, "MessageCategory", job.message_category)
    if job.delete_after_days is not None:
        out["RecoveryPointLifecycle"] = {"DeleteAfterDays": job.delete_after_days}
    return out


def _db_snapshot(s: _AwsBackupSnapshot) -> dict[str, Any]:
    """A ``DBSnapshot`` of ``SnapshotType`` awsbackup."""
    out: dict[str, Any] = {
        "DBSnapshotIdentifier": s.snapshot_id,
        "DBInstanceIdentifier": s.identifier,
        "Engine": s.engine,
        "AllocatedStorage": s.allocated_storage,
        "Status": s.status,
        "SnapshotType": "awsbackup",
        "PercentProgress": 100 if s.status == "available" else 0,
        "Encrypted": s.encrypted,
        "DBSnapshotArn": s.arn,
        "DbiResourceId": s.resource_id,
    }
    _put(out, "KmsKeyId", s.kms_key_id)
    if s.status != "creating":  # as for instances, no time before there is one
        out["SnapshotCreateTime"] = out["OriginalSnapshotCreateTime"] = s.created
    return out


def _db_cluster_snapshot(s: _AwsBackupSnapshot) -> dict[str, Any]:
    """A ``DBClusterSnapshot`` of ``SnapshotType`` awsbackup (``StorageEncrypted``)."""
    out: dict[str, Any] = {
        "DBClusterSnapshotIdentifier": s.snapshot_id,
        "DBClusterIdentifier": s.identifier,
        "Engine": s.engine,
        "AllocatedStorage": s.allocated_storage,
        "Status": s.status,
        "SnapshotType": "awsbackup",
        "PercentProgress": 100 if s.status == "available" else 0,
        "StorageEncrypted": s.encrypted,
        "DBClusterSnapshotArn": s.arn,
        "DbClusterResourceId": s.resource_id,
    }
    _put(out, "KmsKeyId", s.kms_key_id)
    if s.status != "creating":
        out["SnapshotCreateTime"] = s.created
    return out


def _automated_backup(
    b: _AutomatedBackup, everything: Iterable[_AutomatedBackup]
) -> dict[str, Any]:
    """A ``DBInstanceAutomatedBackup``; ``Region`` is the source region."""
    out: dict[str, Any] = {
        "DBInstanceArn": b.instance_arn,
        "DbiResourceId": b.resource_id,
        "Region": b.source_region,
        "DBInstanceIdentifier": b.identifier,
        "RestoreWindow": {"EarliestTime": b.earliest, "LatestTime": b.latest},
        "AllocatedStorage": b.allocated_storage,
        "Status": b.status,
        "Engine": b.engine,
        "Encrypted": b.encrypted,
        "BackupRetentionPeriod": b.retention_days,
        "DBInstanceAutomatedBackupsArn": b.arn,
    }
    _put(out, "KmsKeyId", b.kms_key_id)
    if b.region == b.source_region:
        replicas = [
            {"DBInstanceAutomatedBackupsArn": other.arn}
            for other in everything
            if (other.account_id, other.resource_id) == (b.account_id, b.resource_id)
            and other.source_region == b.source_region
            and other.region != b.region
        ]
        if replicas:
            out["DBInstanceAutomatedBackupsReplications"] = replicas
    return out


# --- the wire ----------------------------------------------------------------------------------


class _RawBody(BytesIO):
    """A response body botocore can stream (moto's ``MockRawResponse``, copied)."""

    def stream(self, **_kwargs: Any) -> Iterable[bytes]:
        contents = self.read()
        while contents:
            yield contents
            contents = self.read()


def _response(url: str, status: int, headers: dict[str, str], body: str) -> AWSResponse:
    http_headers = HTTPHeaders()
    for name, value in headers.items():
        http_headers[name] = value
    return AWSResponse(url, status, http_headers, _RawBody(body.encode("utf-8")))


def _success_response(
    service: str, model: OperationModel, url: str, output: dict[str, Any]
) -> AWSResponse:
    shape = model.output_shape
    if not isinstance(shape, StructureShape):
        raise FakeAwsModelError(f"{model.name} has no output structure")
    request_id = str(uuid.uuid4())
    if service == "backup":
        body = json.dumps(_json_value(shape, output, model.name), separators=(",", ":"))
        headers = {"Content-Type": "application/json", "x-amzn-RequestId": request_id}
        return _response(url, 200, headers, body)
    wrapper = shape.serialization.get("resultWrapper", f"{model.name}Result")
    inner = "".join(
        _xml_value(_member(shape, key, model.name), _xml_name(shape, key), value)
        for key, value in output.items()
    )
    body = (
        f'<{model.name}Response xmlns="{RDS_XML_NAMESPACE}"><{wrapper}>{inner}</{wrapper}>'
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        f"</{model.name}Response>"
    )
    return _response(url, 200, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body)


def _error_response(service: str, url: str, error: _ApiError) -> AWSResponse:
    """The error as the service sends it: rest-json body and ``x-amzn-ErrorType`` for Backup,
    the query protocol's ``ErrorResponse`` XML for RDS."""
    request_id = str(uuid.uuid4())
    if service == "backup":
        body = json.dumps({"Code": error.code, "Message": error.message})
        headers = {
            "Content-Type": "application/json",
            "x-amzn-ErrorType": error.code,
            "x-amzn-RequestId": request_id,
        }
        return _response(url, error.status, headers, body)
    kind = "Sender" if error.status < 500 else "Receiver"
    body = (
        f'<ErrorResponse xmlns="{RDS_XML_NAMESPACE}"><Error><Type>{kind}</Type>'
        f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return _response(url, error.status, {"Content-Type": "text/xml"}, body)


def _member(shape: StructureShape, key: str, path: str) -> Shape:
    if key not in shape.members:
        raise FakeAwsModelError(f"{path}.{key} is not a member of {shape.name} in the model")
    return shape.members[key]


def _xml_name(shape: StructureShape, key: str) -> str:
    name: str = shape.members[key].serialization.get("name", key)
    return name


def _scalar(shape: Shape, value: Any, path: str) -> Any:
    """``value`` checked against a scalar shape's type and enum."""
    kind = shape.type_name
    expected: tuple[type, ...] = {
        "string": (str,),
        "boolean": (bool,),
        "integer": (int,),
        "long": (int,),
        "timestamp": (datetime,),
        "double": (float, int),
        "float": (float, int),
    }.get(kind, (object,))
    wrong_bool = kind in ("integer", "long") and isinstance(value, bool)
    if not isinstance(value, expected) or wrong_bool:
        raise FakeAwsModelError(f"{path}: {value!r} is not a {kind} ({shape.name})")
    if isinstance(shape, StringShape) and shape.enum and value not in shape.enum:
        raise FakeAwsModelError(f"{path}: {value!r} is not one of {shape.name}'s {shape.enum}")
    if isinstance(value, datetime) and value.tzinfo is None:
        raise FakeAwsModelError(f"{path}: naive datetime {value!r}")
    return value


def _json_value(shape: Shape, value: Any, path: str) -> Any:
    """``value`` as rest-json sends it, checked against ``shape``."""
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            raise FakeAwsModelError(f"{path}: {value!r} is not a structure")
        return {
            _xml_name(shape, key): _json_value(_member(shape, key, path), item, f"{path}.{key}")
            for key, item in value.items()
        }
    if isinstance(shape, ListShape):
        return [_json_value(shape.member, item, f"{path}[]") for item in value]
    if isinstance(shape, MapShape):
        return {k: _json_value(shape.value, v, f"{path}.{k}") for k, v in value.items()}
    checked = _scalar(shape, value, path)
    if isinstance(checked, datetime):
        return checked.timestamp()  # rest-json's default timestampFormat: unixTimestamp
    return checked


def _xml_value(shape: Shape, name: str, value: Any) -> str:
    """``value`` as the query protocol sends it, in an element ``name``."""
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            raise FakeAwsModelError(f"{name}: {value!r} is not a structure")
        inner = "".join(
            _xml_value(_member(shape, key, name), _xml_name(shape, key), item)
            for key, item in value.items()
        )
        return f"<{name}>{inner}</{name}>"
    if isinstance(shape, ListShape):
        item_name: str = shape.member.serialization.get("name", "member")
        if shape.serialization.get("flattened"):
            return "".join(_xml_value(shape.member, name, item) for item in value)
        inner = "".join(_xml_value(shape.member, item_name, item) for item in value)
        return f"<{name}>{inner}</{name}>"
    if isinstance(shape, MapShape):
        raise FakeAwsModelError(f"{name}: maps are not emitted by this fake")
    checked = _scalar(shape, value, name)
    if isinstance(checked, bool):
        text = "true" if checked else "false"
    elif isinstance(checked, datetime):
        text = checked.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    else:
        text = escape(str(checked))
    return f"<{name}>{text}</{name}>"


def _convert(shape: Shape, text: str) -> Any:
    """A request parameter's text as its model type."""
    if shape.type_name in ("integer", "long"):
        return int(text)
    if shape.type_name == "boolean":
        return text.lower() == "true"
    if shape.type_name == "timestamp":
        return parse_timestamp(text)
    return text


def _rest_params(model: OperationModel, request: AWSPreparedRequest) -> dict[str, Any]:
    """A rest-json request's parameters, by model member name, from its path and query."""
    parts = urlsplit(request.url)
    pieces = re.split(r"\{([^}]+)\}", model.http["requestUri"].split("?")[0])
    pattern = "".join(
        re.escape(piece)
        if i % 2 == 0
        else f"(?P<{piece.rstrip('+')}>{'.+' if piece.endswith('+') else '[^/]+'})"
        for i, piece in enumerate(pieces)
    )
    match = re.search(pattern + "$", parts.path)
    labels = match.groupdict() if match else {}
    query = parse_qs(parts.query, keep_blank_values=True)
    params: dict[str, Any] = {}
    shape = model.input_shape
    for name, member in (shape.members if isinstance(shape, StructureShape) else {}).items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri" and wire in labels:
            params[name] = unquote(labels[wire])
        elif location == "querystring" and wire in query:
            values = query[wire]
            if isinstance(member, ListShape):
                params[name] = [_convert(member.member, v) for v in values]
            else:
                params[name] = _convert(member, values[0])
    return params


def _query_params(model: OperationModel, request: AWSPreparedRequest) -> dict[str, Any]:
    """A query-protocol (RDS) request's parameters, by model member name, from its form body."""
    body = request.body
    if hasattr(body, "read"):
        raise FakeAwsModelError("a streamed query-protocol body is not expected")
    text = body.decode("utf-8") if isinstance(body, bytes) else str(body or "")
    flat = {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
    shape = model.input_shape
    if not isinstance(shape, StructureShape):
        return {}
    return _query_structure(shape, flat, "")


def _query_structure(shape: StructureShape, flat: dict[str, str], prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, member in shape.members.items():
        key = prefix + member.serialization.get("name", name)
        if isinstance(member, StructureShape):
            if any(k.startswith(key + ".") for k in flat):
                out[name] = _query_structure(member, flat, key + ".")
        elif isinstance(member, ListShape):
            if member.serialization.get("flattened"):
                base = key
            else:
                base = f"{key}.{member.member.serialization.get('name', 'member')}"
            items: list[Any] = []
            while True:
                item_key = f"{base}.{len(items) + 1}"
                if isinstance(member.member, StructureShape):
                    if not any(k.startswith(item_key + ".") for k in flat):
                        break
                    items.append(_query_structure(member.member, flat, item_key + "."))
                elif item_key in flat:
                    items.append(_convert(member.member, flat[item_key]))
                else:
                    break
            if items or key in flat:
                out[name] = items
        elif key in flat:
            out[name] = _convert(member, flat[key])
    return out


def _region_of(request: AWSPreparedRequest) -> str:
    """The region of a request: from its host (``backup.eu-west-1.amazonaws.com``), else from
    the SigV4 credential scope (a custom endpoint such as moto's server)."""
    host = urlsplit(request.url).hostname or ""
    match = re.match(r"^[a-z0-9-]+\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com", host)
    if match:
        return match.group(1)
    scope = re.search(r"Credential=[^/]+/\d{8}/([^/]+)/", _header(request, "Authorization"))
    return scope.group(1) if scope else "us-east-1"


def _caller_account(request: AWSPreparedRequest) -> str:
    """The caller's account, as moto decides it (so assumed-role sessions see their own)."""
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    header = _header(request, "x-moto-account-id")
    if header:
        return header
    key = re.search(r"Credential=([^/]+)/", _header(request, "Authorization"))
    iam = sys.modules.get("moto.iam.models")  # loaded by mock_aws; no moto, no IAM
    if key and iam is not None:
        account: str = iam.get_account_id_from(key.group(1))
        return account
    return DEFAULT_ACCOUNT


def _header(request: AWSPreparedRequest, name: str) -> str:
    value = request.headers.get(name)
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value or "")


def _page(
    operation: str, items: Sequence[Any], token: str | None, size: int, bad: _ApiError
) -> tuple[Sequence[Any], str | None]:
    """One page of ``items`` and the opaque token of the next (None on the last page)."""
    start = 0
    if token:
        try:
            decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
            if decoded["op"] != operation:
                raise bad
            start = int(decoded["at"])
        except (ValueError, KeyError, TypeError, binascii.Error) as error:
            raise bad from error
    end = start + size
    if end >= len(items):
        return items[start:], None
    following = json.dumps({"op": operation, "at": end}).encode()
    return items[start:end], base64.urlsafe_b64encode(following).decode()


def _rds_filters(p: dict[str, Any], known: set[str]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for entry in p.get("Filters", []):
        name = entry.get("Name", "")
        if name not in known:
            raise _ApiError("InvalidParameterValue", f"Unrecognized filter name: {name}")
        filters.setdefault(name, []).extend(entry.get("Values", []))
    return filters


def _filter_ok(filters: dict[str, list[str]], name: str | None, *candidates: str) -> bool:
    if name is None or name not in filters:
        return True
    wanted = {v.lower() for v in filters[name]}
    return any(c.lower() in wanted for c in candidates)


def _in_window(when: datetime, after: datetime | None, before: datetime | None) -> bool:
    return (after is None or when > after) and (before is None or when < before)


def _with_token(out: dict[str, Any], key: str, token: str | None) -> dict[str, Any]:
    if token is not None:
        out[key] = token
    return out


def _put(out: dict[str, Any], key: str, value: object) -> None:
    if value is not None:
        out[key] = value


def _rds_backup_arn(
    region: str, account: str, resource_type: str, job_id: str, *, copy: bool = False
) -> str:
    kind = "snapshot" if resource_type == "RDS" else "cluster-snapshot"
    job = "copyjob" if copy else "job"
    return f"arn:aws:rds:{region}:{account}:{kind}:awsbackup:{job}-{job_id.lower()}"


def _resource_name(arn: str) -> str:
    """A DB's identifier, the last part of its ARN (Backup's ``ResourceName``)."""
    return arn.rsplit(":", 1)[-1]


def _backup_role(account: str) -> str:
    return f"arn:aws:iam::{account}:role/service-role/AWSBackupDefaultServiceRole"


def _kms_key_arn(region: str, account: str, *about: str) -> str:
    key = uuid.uuid5(_UUID_NAMESPACE, "/".join(("kms", region, account, *about)))
    return f"arn:aws:kms:{region}:{account}:key/{key}"


def _resource_id(kind: str, account: str, identifier: str) -> str:
    prefix = "db" if kind == "instance" else "cluster"
    return f"{prefix}-{_digest(account, identifier, length=26)}"


def _digest(*parts: str, length: int) -> str:
    raw = hashlib.sha256("/".join(parts).encode()).digest()
    return base64.b32encode(raw).decode()[:length]


def _aware(when: datetime, name: str) -> datetime:
    if when.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware: AWS's times are")
    return when.astimezone(UTC)


def _require(ok: bool, what: str) -> None:
    if not ok:
        raise ValueError(f"{what} is not a value AWS uses (see the botocore model)")


def _utcnow() -> datetime:
    return datetime.now(UTC)


# --- wiring into botocore ----------------------------------------------------------------------


def _handler(request: AWSPreparedRequest, event_name: str, **_kwargs: Any) -> AWSResponse | None:
    """The ``before-send.<service>.<Operation>`` handler: the active world's answer, or None
    (moto, or AWS, answers) when no world is active or the world leaves the call alone."""
    world = _active
    if world is None:
        return None
    return world._answer(event_name.rsplit(".", 1)[-1], request)


def _install() -> None:
    """Append one handler per faked operation to botocore's built-in handlers, as moto does
    for its ``before-send``; on a reload, replace this module's previous handlers."""
    handlers = botocore.handlers.BUILTIN_HANDLERS
    handlers[:] = [
        entry
        for entry in handlers
        if not (
            getattr(entry[1], "__module__", None) == __name__
            and getattr(entry[1], "__name__", None) == _handler.__name__
        )
    ]
    for operation, service in FAKED_OPERATIONS.items():
        handlers.append((f"before-send.{service}.{operation}", _handler))


_install()
