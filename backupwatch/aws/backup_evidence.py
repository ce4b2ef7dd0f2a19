"""AWS Backup evidence: recovery points and jobs of the tenants' resources (AWS I/O).

Calls per region, never per tenant when the bulk listing is cheaper:

- ``backup:ListBackupVaults`` once (paged), which also says how many recovery points each
  vault holds;
- ``backup:ListRecoveryPointsByBackupVault`` per vault and resource type (``RDS``,
  ``Aurora``), filtered by creation date, 1,000 per page; or, when the vaults hold far more
  recovery points than there are tenants and no control needs a recovery point's lifecycle,
  ``backup:ListRecoveryPointsByResource`` once per tenant, whichever costs fewer calls;
- ``backup:ListBackupJobs`` per resource type, filtered by creation date, for jobs that went
  wrong;
- only for the resources the recovery points leave without a fresh usable backup (or all,
  when they cannot be read): ``rds:DescribeDBSnapshots`` and
  ``rds:DescribeDBClusterSnapshots`` with ``SnapshotType="awsbackup"``, the RDS snapshots AWS
  Backup took, a second source of the same fact; in bulk, or per resource when fewer calls.
  On a healthy day nothing is left to read.

Recovery points are matched to tenants by resource ARN, so a tenant is never vouched for by
another resource's backups; one older than the resource itself belongs to a predecessor of the
same name (a deleted and re-created instance keeps its ARN) and never counts. The fallback
snapshots carry the resource id and are matched on it. The same vault listing, in another
region, finds AWS Backup copies (``copy_evidence``): a copy keeps its source's resource ARN.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from backupwatch.aws.pagination import pages
from backupwatch.aws.rds_evidence import newest_awsbackup_snapshots
from backupwatch.aws.retry import Retrier
from backupwatch.core.errors import AwsCallError
from backupwatch.core.models import BackupEvidence, BackupJobProblem, BackupPoint, Tenant

if TYPE_CHECKING:
    from mypy_boto3_backup import BackupClient
    from mypy_boto3_rds import RDSClient

PAGE_SIZE = 1000
"""The most any of the AWS Backup listings returns per page (botocore's model)."""
JOB_PROBLEMS = frozenset({"FAILED", "ABORTED", "EXPIRED", "PARTIAL"})
"""Job states that mean a backup did not happen as planned (``BackupJobState``)."""

TenantKey = tuple[str, str, str]


def resource_type(tenant: Tenant) -> str:
    """AWS Backup's resource type for the tenant: ``Aurora`` for an Aurora cluster, ``RDS``
    for a DB instance or a Multi-AZ DB cluster."""
    if tenant.kind == "cluster" and (tenant.engine or "").startswith("aurora"):
        return "Aurora"
    return "RDS"


def backup_vaults(backup: BackupClient, retrier: Retrier) -> list[tuple[str, int]]:
    """Every vault of the region: (name, how many recovery points it holds)."""
    vaults: list[tuple[str, int]] = []
    for page in pages(
        retrier,
        "backup:ListBackupVaults",
        backup.list_backup_vaults,
        token_in="NextToken",
        token_out="NextToken",
        MaxResults=PAGE_SIZE,
    ):
        for vault in page.get("BackupVaultList", []):
            name = vault.get("BackupVaultName")
            if name:
                vaults.append((name, int(vault.get("NumberOfRecoveryPoints") or 0)))
    return vaults


def recovery_points(
    backup: BackupClient,
    retrier: Retrier,
    wanted: Collection[str],
    types: Iterable[str],
    *,
    since: datetime,
    need_lifecycle: bool,
    per_resource: bool = True,
) -> dict[str, list[BackupPoint]]:
    """Resource ARN -> its recovery points created after ``since`` (any status), for the
    ``wanted`` ARNs. Raises ``AwsCallError`` when a listing fails for good.

    ``per_resource`` False keeps to the vault listing: copies are read with it, because
    ``ListRecoveryPointsByResource`` is not documented to return another region's or
    account's copies of a resource."""
    found: dict[str, list[BackupPoint]] = {}
    if not wanted:
        return found
    types = sorted(set(types))
    vaults = backup_vaults(backup, retrier)
    bulk = sum(max(1, math.ceil(count / PAGE_SIZE)) for _, count in vaults) * len(types)
    if per_resource and not need_lifecycle and len(wanted) < bulk:
        for arn in sorted(wanted):
            for page in pages(
                retrier,
                "backup:ListRecoveryPointsByResource",
                backup.list_recovery_points_by_resource,
                token_in="NextToken",
                token_out="NextToken",
                ResourceArn=arn,
                MaxResults=PAGE_SIZE,
            ):
                for item in page.get("RecoveryPoints", []):
                    point = _recovery_point(item, by_vault=False)
                    if point is not None and point.created_at >= since:
                        found.setdefault(arn, []).append(point)
        return found
    for vault, _ in vaults:
        for kind in types:
            for page in pages(
                retrier,
                "backup:ListRecoveryPointsByBackupVault",
                backup.list_recovery_points_by_backup_vault,
                token_in="NextToken",
                token_out="NextToken",
                BackupVaultName=vault,
                ByResourceType=kind,
                ByCreatedAfter=since,
                MaxResults=PAGE_SIZE,
            ):
                for item in page.get("RecoveryPoints", []):
                    arn = item.get("ResourceArn")
                    if arn in wanted:
                        point = _recovery_point(item, by_vault=True)
                        if point is not None:
                            found.setdefault(arn, []).append(point)
    return found


def job_problems(
    backup: BackupClient,
    retrier: Retrier,
    wanted: Collection[str],
    types: Iterable[str],
    *,
    since: datetime,
) -> dict[str, list[BackupJobProblem]]:
    """Resource ARN -> its backup jobs created after ``since`` that went wrong."""
    found: dict[str, list[BackupJobProblem]] = {}
    for kind in sorted(set(types)):
        for page in pages(
            retrier,
            "backup:ListBackupJobs",
            backup.list_backup_jobs,
            token_in="NextToken",
            token_out="NextToken",
            ByResourceType=kind,
            ByCreatedAfter=since,
            MaxResults=PAGE_SIZE,
        ):
            for job in page.get("BackupJobs", []):
                arn = job.get("ResourceArn")
                created = job.get("CreationDate")
                if arn in wanted and job.get("State") in JOB_PROBLEMS and _aware(created):
                    found.setdefault(arn, []).append(
                        BackupJobProblem(
                            created_at=created,
                            state=job["State"],
                            status_message=job.get("StatusMessage") or None,
                        )
                    )
    return found


def backup_evidence(
    backup: BackupClient,
    rds: RDSClient,
    retrier: Retrier,
    tenants: Sequence[Tenant],
    *,
    now: datetime,
    since: datetime,
    jobs_since: datetime,
    need_lifecycle: bool,
    looked_back_days: float,
) -> dict[TenantKey, BackupEvidence]:
    """AWS Backup's evidence for every tenant of one region; raises no ``AwsCallError``.

    A listing that fails is named in each tenant's ``errors`` (or ``job_error``), so the
    verdict can tell "nothing there" from "could not look".
    """
    by_arn = {tenant.resource_arn: tenant for tenant in tenants if tenant.resource_arn}
    types = {resource_type(tenant) for tenant in by_arn.values()}
    errors: list[str] = []
    points: dict[str, list[BackupPoint]] = {}
    try:
        points = recovery_points(
            backup, retrier, by_arn, types, since=since, need_lifecycle=need_lifecycle
        )
    except AwsCallError as error:
        errors.append(f"recovery points: {error.short}")
        lacking = by_arn  # nothing read: every resource needs the second source
    else:
        lacking = {arn: t for arn, t in by_arn.items() if not _fresh(points.get(arn, ()), t, now)}
    if lacking:
        # The second source of the same fact, read only for the resources the first left
        # without a fresh usable backup: nothing to read on a healthy day.
        seen = sum(len(found) for found in points.values())
        try:
            for resource, found in _snapshot_points(rds, retrier, lacking, since, seen).items():
                points.setdefault(resource, []).extend(found)
        except AwsCallError as fallback:
            errors.append(f"awsbackup snapshots: {fallback.short}")
    jobs: dict[str, list[BackupJobProblem]] = {}
    job_error: str | None = None
    try:
        jobs = job_problems(backup, retrier, by_arn, types, since=jobs_since)
    except AwsCallError as error:
        job_error = error.short
    evidence: dict[TenantKey, BackupEvidence] = {}
    for tenant in tenants:
        arn = tenant.resource_arn
        if arn and tenant.created_at is not None:
            # Older than the resource: a predecessor's under the same name (and ARN).
            points[arn] = [p for p in points.get(arn, ()) if p.created_at >= tenant.created_at]
            jobs[arn] = [j for j in jobs.get(arn, ()) if j.created_at >= tenant.created_at]
        if not arn:
            evidence[tenant.key] = BackupEvidence(
                errors=("RDS gave no ARN for the resource",), looked_back_days=looked_back_days
            )
            continue
        evidence[tenant.key] = BackupEvidence(
            points=tuple(sorted(points.get(arn, ()), key=lambda p: p.created_at, reverse=True)),
            job_problems=tuple(jobs.get(arn, ())),
            errors=tuple(errors),
            job_error=job_error,
            looked_back_days=looked_back_days,
        )
    return evidence


def _fresh(points: Iterable[BackupPoint], tenant: Tenant, now: datetime) -> bool:
    window = timedelta(hours=tenant.max_age_hours)
    return any(p.usable and now - p.created_at <= window for p in points)


def _snapshot_points(
    rds: RDSClient,
    retrier: Retrier,
    by_arn: Mapping[str, Tenant],
    since: datetime,
    expected: int,
) -> dict[str, list[BackupPoint]]:
    """The second source: the newest RDS snapshot AWS Backup took of each resource.
    ``expected``: the recovery points seen, about as many as such snapshots."""
    found: dict[str, list[BackupPoint]] = {}
    for kind in ("instance", "cluster"):
        of_kind = {arn: t for arn, t in by_arn.items() if t.kind == kind}
        if not of_kind:
            continue
        wanted = {t.identifier: t.resource_id for t in of_kind.values()}
        newest = newest_awsbackup_snapshots(rds, retrier, wanted, kind, expected)
        for arn, tenant in of_kind.items():
            snapshot = newest.get(tenant.identifier)
            if snapshot is not None and snapshot.created_at >= since:
                found[arn] = [
                    BackupPoint(
                        point_id=snapshot.snapshot_id,
                        source="snapshot",
                        created_at=snapshot.created_at,
                        status="available",
                        encrypted=snapshot.encrypted,
                        kms_key_id=snapshot.kms_key_id,
                    )
                ]
    return found


def _recovery_point(item: Mapping[str, Any], *, by_vault: bool) -> BackupPoint | None:
    """One listed recovery point. ``RecoveryPointByBackupVault`` (``by_vault``) carries the
    lifecycle and ``IsEncrypted``; ``RecoveryPointByResource`` neither: a key it names proves
    encryption, and its absence proves nothing."""
    created = item.get("CreationDate")
    if not isinstance(created, datetime) or not _aware(created) or not item.get("RecoveryPointArn"):
        return None
    key = item.get("EncryptionKeyArn") or None
    encrypted: bool | None = True if key else None
    lifecycle: dict[str, Any] = {}
    if by_vault:
        flag = item.get("IsEncrypted")
        encrypted = flag if isinstance(flag, bool) else None
        delete_after = (item.get("Lifecycle") or {}).get("DeleteAfterDays")
        lifecycle = {"lifecycle_known": True, "delete_after_days": delete_after}
    return BackupPoint(
        point_id=item["RecoveryPointArn"],
        source="recovery point",
        created_at=created,
        status=str(item.get("Status") or "UNKNOWN"),
        status_message=item.get("StatusMessage") or None,
        vault=item.get("BackupVaultName"),
        encrypted=encrypted,
        kms_key_id=key,
        **lifecycle,
    )


def _aware(value: Any) -> bool:
    return isinstance(value, datetime) and value.tzinfo is not None
