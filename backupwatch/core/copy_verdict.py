"""The ``copy`` check: a fresh disaster-recovery copy in every copy region. Pure; no AWS.

A copy is RDS cross-region automated-backup replication (the replicated restore window's
latest time) or an AWS Backup copy (a usable recovery point of the resource in a vault of the
destination), whichever is newer. A copy account (``BACKUPWATCH_COPY_ACCOUNTS``) is a
destination too: an AWS Backup copy in one of its vaults, in the tenant's region or a copy
region (RDS does not replicate automated backups across accounts).

Each destination gets its own verdict, and the check is the worst of them, with every
destination that is not OK named in the reason. A copy region that is the tenant's own region,
or a copy account that is its own account, is no disaster-recovery copy and is left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from backupwatch.core.config import Settings
from backupwatch.core.evaluation import (
    age_hours,
    age_of,
    apply_pause,
    format_age,
    not_applicable,
    pending_reason,
)
from backupwatch.core.models import Check, CheckResult, CopyEvidence, Status, Tenant, worst


def copy_destinations(tenant: Tenant, settings: Settings) -> tuple[str, ...]:
    """The copy regions of the setting and of the tenant's tag, but its own region."""
    regions = dict.fromkeys((*settings.copy_regions, *tenant.copy_regions))
    return tuple(region for region in regions if region != tenant.region)


def copy_accounts_of(tenant: Tenant, settings: Settings) -> tuple[str, ...]:
    """The copy accounts but the tenant's own."""
    return tuple(a for a in settings.copy_accounts if a != tenant.account_id)


def account_destination(account: str) -> str:
    """How a copy account is named as a destination: ``account 222233334444``."""
    return f"account {account}"


def copy_check_applies(tenant: Tenant, settings: Settings) -> bool:
    """Whether the tenant gets a ``copy`` check: a copy region or account is set for it."""
    return bool(settings.copy_regions or tenant.copy_regions or settings.copy_accounts)


def judge_copy(
    tenant: Tenant,
    copies: Sequence[CopyEvidence],
    *,
    now: datetime,
    settings: Settings,
) -> CheckResult:
    """The ``copy`` verdict on a tenant, from what each destination holds (``copies``)."""
    return apply_pause(tenant, _verdict(tenant, copies, now, settings), now)


def _verdict(
    tenant: Tenant, copies: Sequence[CopyEvidence], now: datetime, settings: Settings
) -> CheckResult:
    skipped = not_applicable(
        tenant,
        Check.COPY,
        member="no copies of its own: DB cluster {cluster!r} is copied",
        replica="{engine} read replica: no backups of its own to copy",
    )
    if skipped is not None:
        return skipped
    if not copies:
        return CheckResult(
            check=Check.COPY,
            status=Status.SKIPPED,
            reason=f"no copy region or account other than its own ({tenant.region})",
        )
    window = timedelta(hours=tenant.max_age_hours)
    verdicts = [_destination(copy, window, now) for copy in copies]
    status = worst(status for status, _ in verdicts)
    failing = [reason for s, reason in verdicts if s is not Status.OK]
    reason = "; ".join(failing or [reason for _, reason in verdicts])
    if status is Status.MISSING:
        pending = pending_reason(tenant, now, settings)
        if pending is not None:
            status, reason = Status.PENDING, f"{pending}; {reason}"
    if status.failing and tenant.resource_status == "stopped":
        status = Status.STOPPED
        reason = f"DB {tenant.kind} is stopped, and no new backup is copied while it is; {reason}"
    freshest = [c.newest for c in copies if c.newest is not None]
    oldest = min(freshest, key=lambda info: info.latest_at) if freshest else None
    if oldest is None:
        return CheckResult(check=Check.COPY, status=status, reason=reason)
    return CheckResult(
        check=Check.COPY,
        status=status,
        reason=reason,
        evidence_at=oldest.latest_at,
        age_hours=age_hours(age_of(oldest.latest_at, now)),
        key=oldest.identifier,
    )


def _destination(copy: CopyEvidence, window: timedelta, now: datetime) -> tuple[Status, str]:
    newest = copy.newest
    where = copy.destination
    if newest is not None:
        age = age_of(newest.latest_at, now)
        said = f"copy in {where} {format_age(age)} old ({newest.via})"
        if age <= window:
            return Status.OK, said
        if copy.error is None:
            return Status.STALE, f"{said} (window {format_age(window)})"
    if copy.error is not None:
        return Status.ERROR, f"could not check the copy in {where}: {copy.error}"
    return Status.MISSING, f"no copy in {where}"
