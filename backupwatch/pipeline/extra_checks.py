"""The ``backup``, ``copy`` and ``policy`` checks of one account: gather, then judge.

``monitor`` runs the gathering on its thread pool beside the RDS and S3 listings (one task per
region for AWS Backup, one per copy region for copies) and calls ``judge_extra`` per tenant
once everything is in. Like every check, a failed listing becomes the ERROR of the tenants it
concerns, and a bug while judging one tenant is that tenant's ERROR alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import boto3

from backupwatch.aws.accounts import enter
from backupwatch.aws.backup_evidence import backup_evidence
from backupwatch.aws.clients import backup_client
from backupwatch.aws.copy_evidence import account_copies, copy_evidence
from backupwatch.aws.retry import Retrier
from backupwatch.core.backup_verdict import judge_backup, lookback_days
from backupwatch.core.config import Settings
from backupwatch.core.copy_verdict import (
    account_destination,
    copy_accounts_of,
    copy_check_applies,
    copy_destinations,
    judge_copy,
)
from backupwatch.core.deadline import Deadline
from backupwatch.core.errors import AwsCallError
from backupwatch.core.evaluation import error_result
from backupwatch.core.evidence_rule import apply_rule, counted_evidence, rule_for
from backupwatch.core.models import (
    BackupEvidence,
    Check,
    CheckResult,
    CopyEvidence,
    Scope,
    SnapshotInfo,
    Status,
    Tenant,
)
from backupwatch.core.policy import PolicyEvidence, controls_for, judge_policy

if TYPE_CHECKING:
    from mypy_boto3_backup import BackupClient
    from mypy_boto3_rds import RDSClient

logger = logging.getLogger("backupwatch")

TenantKey = tuple[str, str, str]
NOT_CHECKED = "not checked: time budget exhausted"


@dataclass
class ExtraEvidence:
    """What the extra listings found, per tenant key; a missing key means not gathered."""

    backup: dict[TenantKey, BackupEvidence] = field(default_factory=dict)
    copies: dict[str, dict[TenantKey, CopyEvidence]] = field(default_factory=dict)
    """Per destination: a copy region's name, or ``account 222233334444``."""
    backup_unchecked: set[str] = field(default_factory=set)
    """Regions whose AWS Backup listings the deadline cut off."""
    copies_unchecked: set[str] = field(default_factory=set)
    """Destinations whose listings the deadline cut off."""


def gather_backup(
    backup: BackupClient,
    rds: RDSClient,
    retrier: Retrier,
    tenants: Sequence[Tenant],
    *,
    now: datetime,
    settings: Settings,
    deadline: Deadline | None,
) -> dict[TenantKey, BackupEvidence] | None:
    """AWS Backup evidence for one region's tenants; None when the deadline came first."""
    if not tenants:
        return {}
    if deadline is not None and deadline.expired:
        return None
    days = max(lookback_days(tenant, settings) for tenant in tenants)
    window = max(tenant.max_age_hours for tenant in tenants)
    return backup_evidence(
        backup,
        rds,
        retrier,
        tenants,
        now=now,
        since=now - timedelta(days=days),
        jobs_since=now - timedelta(hours=window),
        need_lifecycle=any(controls_for(t, settings).min_retention_days for t in tenants),
        looked_back_days=days,
    )


def gather_copies(
    destination: str,
    rds: RDSClient,
    backup: BackupClient,
    retrier: Retrier,
    tenants: Sequence[Tenant],
    *,
    now: datetime,
    settings: Settings,
    deadline: Deadline | None,
) -> dict[TenantKey, CopyEvidence] | None:
    """What ``destination`` holds for the tenants copied there; None after the deadline."""
    wanted = [t for t in tenants if destination in copy_destinations(t, settings)]
    if not wanted:
        return {}
    if deadline is not None and deadline.expired:
        return None
    days = max(lookback_days(tenant, settings) for tenant in wanted)
    return copy_evidence(
        rds, backup, retrier, wanted, destination=destination, since=now - timedelta(days=days)
    )


def gather_account_copies(
    account: str,
    home: boto3.Session,
    retrier: Retrier,
    tenants: Sequence[Tenant],
    *,
    now: datetime,
    settings: Settings,
    deadline: Deadline | None,
) -> dict[TenantKey, CopyEvidence] | None:
    """AWS Backup copies in copy account ``account``, through ``BACKUPWATCH_COPY_ROLE_NAME``
    assumed from ``home`` (the run's own credentials), in the tenants' regions and the copy
    regions; None after the deadline."""
    wanted = [t for t in tenants if account in copy_accounts_of(t, settings)]
    if not wanted:
        return {}
    if deadline is not None and deadline.expired:
        return None
    destination = account_destination(account)
    # A tenant RDS did not return (a DB_INSTANCE_IDENTIFIER_<n> not found) has no region of
    # its own, only the list searched: it has no ARN either, so no copy of it is looked for.
    regions = sorted({t.region for t in wanted if t.resource_arn} | set(settings.copy_regions))
    if not regions:
        reason = "RDS gave no ARN for the resource"
        return {t.key: CopyEvidence(destination=destination, error=reason) for t in wanted}
    arns = [t.resource_arn for t in wanted if t.resource_arn]
    partition = arns[0].split(":")[1] if arns else "aws"
    scope = Scope(
        region=regions[0],
        account_id=account,
        role_arn=f"arn:{partition}:iam::{account}:role/{settings.copy_role_name}",
        external_id=settings.external_id,
    )
    try:
        session = enter(scope, home, retrier, read_timeout=settings.read_timeout_seconds)
    except AwsCallError as error:
        reason = f"could not assume role {scope.role_arn}: {error.short}"
        return {t.key: CopyEvidence(destination=destination, error=reason) for t in wanted}
    days = max(lookback_days(tenant, settings) for tenant in wanted)
    clients: dict[str, BackupClient] = {}

    def client_in(region: str) -> BackupClient:
        if region not in clients:
            clients[region] = backup_client(
                session, region, read_timeout=settings.read_timeout_seconds
            )
        return clients[region]

    return account_copies(
        client_in,
        retrier,
        wanted,
        destination=destination,
        regions=regions,
        since=now - timedelta(days=days),
    )


def judge_extra(
    tenant: Tenant,
    results: Mapping[Check, CheckResult],
    evidence: ExtraEvidence,
    *,
    snapshot: SnapshotInfo | None,
    rds_error: str | None,
    rds_listed: bool,
    now: datetime,
    settings: Settings,
) -> dict[Check, CheckResult]:
    """The tenant's results with ``backup`` and ``copy`` added, the rds/backup rule applied,
    then ``policy`` judged on the evidence the tenant relies on."""
    combined = dict(results)
    if Check.BACKUP in settings.checks and tenant.wants(Check.BACKUP):
        combined[Check.BACKUP] = _guarded(
            Check.BACKUP, lambda: _backup(tenant, evidence, now, settings)
        )
    if copy_check_applies(tenant, settings):
        combined[Check.COPY] = _guarded(Check.COPY, lambda: _copy(tenant, evidence, now, settings))
    combined = apply_rule(tenant, combined, settings)
    counted = counted_evidence(tenant, combined, settings)
    policy = PolicyEvidence(
        counted=counted,
        # One complying source is enough only among sources that satisfied the policy.
        either=rule_for(tenant, settings) == "either"
        and all(combined[check].status is Status.OK for check in counted),
        snapshot=snapshot,
        snapshot_times=(snapshot.times if snapshot else ()) if rds_listed else None,
        rds_error=rds_error,
        backup=evidence.backup.get(tenant.key),
    )
    try:
        verdict = judge_policy(tenant, policy, now=now, settings=settings)
    except Exception as error:  # a bug judging one tenant is that tenant's ERROR
        logger.exception("policy verdict for tenant %s crashed", tenant.name)
        verdict = _crashed(Check.POLICY, error)
    if verdict is not None:
        combined[Check.POLICY] = verdict
    return combined


def _backup(
    tenant: Tenant, evidence: ExtraEvidence, now: datetime, settings: Settings
) -> CheckResult:
    if tenant.region in evidence.backup_unchecked:
        return error_result(Check.BACKUP, NOT_CHECKED)
    return judge_backup(tenant, evidence.backup.get(tenant.key), now=now, settings=settings)


def _copy(
    tenant: Tenant, evidence: ExtraEvidence, now: datetime, settings: Settings
) -> CheckResult:
    copies = []
    accounts = [account_destination(a) for a in copy_accounts_of(tenant, settings)]
    for destination in (*copy_destinations(tenant, settings), *accounts):
        found = evidence.copies.get(destination, {}).get(tenant.key)
        if destination in evidence.copies_unchecked:
            found = CopyEvidence(destination=destination, error=NOT_CHECKED)
        copies.append(
            found
            if found is not None
            else CopyEvidence(destination=destination, error="the listing did not run")
        )
    return judge_copy(tenant, copies, now=now, settings=settings)


def _guarded(check: Check, judge: Callable[[], CheckResult]) -> CheckResult:
    """``judge()``; a bug is this check's ERROR for this tenant alone."""
    try:
        return judge()
    except Exception as error:
        logger.exception("%s verdict crashed", check.value)
        return _crashed(check, error)


def _crashed(check: Check, error: Exception) -> CheckResult:
    return error_result(check, f"check failed unexpectedly: {type(error).__name__}: {error}")
