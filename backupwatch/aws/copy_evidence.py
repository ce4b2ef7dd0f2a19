"""Disaster-recovery copies in one destination region (AWS I/O).

Two kinds of copy count, read with listings of the destination, once for every tenant of the
account whatever its own region:

- RDS cross-region automated-backup replication: ``rds:DescribeDBInstanceAutomatedBackups``
  in the destination lists the replicated automated backups; a copy is as fresh as its
  restore window's ``LatestTime``. DB instances only (RDS does not replicate clusters').
- AWS Backup copies: a recovery point of the resource (same resource ARN) in a vault of the
  destination, read with the same vault listing as the ``backup`` check.

A replicated backup is matched by the source instance's ARN and resource id, so a re-created
instance never inherits its predecessor's copies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from backupwatch.aws.backup_evidence import recovery_points, resource_type
from backupwatch.aws.pagination import pages
from backupwatch.aws.retry import Retrier
from backupwatch.core.errors import AwsCallError
from backupwatch.core.models import BackupPoint, CopyEvidence, CopyInfo, Tenant

if TYPE_CHECKING:
    from mypy_boto3_backup import BackupClient
    from mypy_boto3_rds import RDSClient

TenantKey = tuple[str, str, str]
NOT_A_COPY = frozenset({"creating"})
"""``creating``: waiting for its first snapshot, nothing to restore from yet."""


def replicated_backups(
    rds: RDSClient, retrier: Retrier, tenants: Sequence[Tenant]
) -> dict[TenantKey, CopyInfo]:
    """Per instance tenant, its replicated automated backup in ``rds``'s region, if any."""
    by_arn = {t.resource_arn: t for t in tenants if t.kind == "instance" and t.resource_arn}
    found: dict[TenantKey, CopyInfo] = {}
    if not by_arn:
        return found
    for page in pages(
        retrier,
        "rds:DescribeDBInstanceAutomatedBackups",
        rds.describe_db_instance_automated_backups,
        token_in="Marker",
        token_out="Marker",
        MaxRecords=100,
    ):
        for backup in page.get("DBInstanceAutomatedBackups", []):
            tenant = by_arn.get(backup.get("DBInstanceArn", ""))
            latest = (backup.get("RestoreWindow") or {}).get("LatestTime")
            if (
                tenant is None
                or backup.get("Status") in NOT_A_COPY
                or backup.get("Region") != tenant.region
                or not isinstance(latest, datetime)
                or (
                    tenant.resource_id
                    and backup.get("DbiResourceId")
                    and backup["DbiResourceId"] != tenant.resource_id
                )
            ):
                continue
            current = found.get(tenant.key)
            if current is None or latest > current.latest_at:
                found[tenant.key] = CopyInfo(
                    via="automated backup replication",
                    latest_at=latest,
                    identifier=backup.get("DBInstanceAutomatedBackupsArn")
                    or backup.get("DbiResourceId", ""),
                )
    return found


def copy_evidence(
    rds: RDSClient,
    backup: BackupClient,
    retrier: Retrier,
    tenants: Sequence[Tenant],
    *,
    destination: str,
    since: datetime,
) -> dict[TenantKey, CopyEvidence]:
    """What ``destination`` holds for each tenant; raises no ``AwsCallError``."""
    errors: list[str] = []
    replicated: dict[TenantKey, CopyInfo] = {}
    try:
        replicated = replicated_backups(rds, retrier, tenants)
    except AwsCallError as error:
        errors.append(f"replicated automated backups: {error.short}")
    by_arn = {t.resource_arn: t for t in tenants if t.resource_arn}
    copied: dict[TenantKey, CopyInfo] = {}
    try:
        points = recovery_points(
            backup,
            retrier,
            by_arn,
            {resource_type(t) for t in by_arn.values()},
            since=since,
            need_lifecycle=False,
            per_resource=False,
        )
    except AwsCallError as error:
        errors.append(f"AWS Backup vaults: {error.short}")
    else:
        for arn, found in points.items():
            usable = [p for p in found if p.usable and _this_incarnation(p, by_arn[arn])]
            if usable:
                newest = max(usable, key=lambda p: p.created_at)
                copied[by_arn[arn].key] = CopyInfo(
                    via="AWS Backup copy", latest_at=newest.created_at, identifier=newest.point_id
                )
    failed = "; ".join(errors) or None
    evidence: dict[TenantKey, CopyEvidence] = {}
    for tenant in tenants:
        candidates = [c for c in (replicated.get(tenant.key), copied.get(tenant.key)) if c]
        newest_copy = max(candidates, key=lambda c: c.latest_at) if candidates else None
        no_arn = None if tenant.resource_arn else "RDS gave no ARN for the resource"
        evidence[tenant.key] = CopyEvidence(
            destination=destination, newest=newest_copy, error=failed or no_arn
        )
    return evidence


def account_copies(
    session_for: Callable[[str], BackupClient],
    retrier: Retrier,
    tenants: Sequence[Tenant],
    *,
    destination: str,
    regions: Sequence[str],
    since: datetime,
) -> dict[TenantKey, CopyEvidence]:
    """AWS Backup copies of the tenants' resources in another account, in any of ``regions``
    (``session_for(region)`` gives that account's backup client); raises no ``AwsCallError``.

    A copy keeps its source's resource ARN, which names the source account: no resource of
    the copy account itself can vouch for a tenant.
    """
    by_arn = {t.resource_arn: t for t in tenants if t.resource_arn}
    types = {resource_type(t) for t in by_arn.values()}
    errors: list[str] = []
    newest: dict[TenantKey, CopyInfo] = {}
    for region in regions:
        try:
            points = recovery_points(
                session_for(region),
                retrier,
                by_arn,
                types,
                since=since,
                need_lifecycle=False,
                per_resource=False,
            )
        except AwsCallError as error:
            errors.append(f"{region}: {error.short}")
            continue
        for arn, found in points.items():
            usable = [p for p in found if p.usable and _this_incarnation(p, by_arn[arn])]
            if not usable:
                continue
            point = max(usable, key=lambda p: p.created_at)
            key = by_arn[arn].key
            if key not in newest or point.created_at > newest[key].latest_at:
                newest[key] = CopyInfo(
                    via="AWS Backup copy", latest_at=point.created_at, identifier=point.point_id
                )
    failed = "; ".join(errors) or None
    return {
        tenant.key: CopyEvidence(
            destination=destination,
            newest=newest.get(tenant.key),
            error=failed or (None if tenant.resource_arn else "RDS gave no ARN for the resource"),
        )
        for tenant in tenants
    }


def _this_incarnation(point: BackupPoint, tenant: Tenant) -> bool:
    """A copy older than the resource is of a predecessor under the same name (and ARN)."""
    return tenant.created_at is None or point.created_at >= tenant.created_at
