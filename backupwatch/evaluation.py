"""Verdicts: evidence + policy + ``now`` -> status and reason. Pure; no AWS, no clock.

Fresh means ``age <= window``. A timestamp in the future (clock skew) counts as age 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from .models import (
    Check,
    CheckResult,
    ObjectInfo,
    RdsEvidence,
    S3Evidence,
    SnapshotInfo,
    Status,
    Tenant,
    TenantReport,
    worst,
)


def evaluate_rds(evidence: RdsEvidence, *, max_age_hours: float, now: datetime) -> CheckResult:
    """Judge the newest automated snapshot (manual snapshots never count).

    Retention 0 means automated backups are off: ``DISABLED`` even when old snapshots remain.
    """
    window = timedelta(hours=max_age_hours)
    snapshot = evidence.newest_snapshot
    if evidence.backup_retention_period == 0:
        reason = "automated backups are off (BackupRetentionPeriod=0)"
        if snapshot is not None:
            reason += f"; newest automated snapshot {_aged(snapshot.created_at, now)} old"
        return _snapshot_result(Status.DISABLED, reason, snapshot, now)
    if snapshot is None:
        return _snapshot_result(Status.MISSING, "no available automated snapshot", None, now)
    age = _age(snapshot.created_at, now)
    if age > window:
        reason = f"newest automated snapshot {format_age(age)} old (window {format_age(window)})"
        return _snapshot_result(Status.STALE, reason, snapshot, now)
    reason = f"newest automated snapshot {format_age(age)} old"
    return _snapshot_result(Status.OK, reason, snapshot, now)


def evaluate_s3(evidence: S3Evidence, *, max_age_hours: float, now: datetime) -> CheckResult:
    """Judge the newest object under the prefix.

    ``OK``: a fresh object of at least the minimum size. ``EMPTY``: fresh objects exist but all
    are below the minimum. ``STALE``: nothing fresh, older full-size objects exist. ``MISSING``:
    nothing under the prefix that could count.
    """
    window = timedelta(hours=max_age_hours)
    countable, newest = evidence.newest_countable, evidence.newest
    minimum = format_bytes(evidence.min_object_bytes)

    if countable is not None and _age(countable.last_modified, now) <= window:
        reason = (
            f"newest backup object {_aged(countable.last_modified, now)} old "
            f"({format_bytes(countable.size)})"
        )
        return _object_result(Status.OK, reason, countable, now)
    if newest is not None and _age(newest.last_modified, now) <= window:
        # Fresh, yet not countable: every fresh object is below the minimum size.
        reason = (
            f"fresh objects are all smaller than {minimum}: newest {newest.key!r} "
            f"is {format_bytes(newest.size)}, {_aged(newest.last_modified, now)} old"
        )
        if countable is not None:
            reason += f"; last backup object of full size {_aged(countable.last_modified, now)} old"
        else:
            reason += "; no backup object of full size at all"
        return _object_result(Status.EMPTY, reason, newest, now)
    if countable is not None:
        reason = (
            f"newest backup object {_aged(countable.last_modified, now)} old "
            f"(window {format_age(window)})"
        )
        return _object_result(Status.STALE, reason, countable, now)
    if evidence.unread_older_objects:
        # The fast path read only keys dated inside the window; older backups exist, unread.
        reason = (
            f"no backup object of at least {minimum} dated after "
            f"{evidence.listed_after!r} (window {format_age(window)}); older keys exist"
        )
        return _object_result(Status.STALE, reason, None, now)
    reason = f"no object of at least {minimum} under s3://{evidence.bucket}/{evidence.prefix}"
    if evidence.objects_seen:
        reason += f" ({evidence.objects_seen} smaller object(s) found)"
    return _object_result(Status.MISSING, reason, None, now)


def _snapshot_result(
    status: Status, reason: str, snapshot: SnapshotInfo | None, now: datetime
) -> CheckResult:
    if snapshot is None:
        return CheckResult(check=Check.RDS, status=status, reason=reason)
    return CheckResult(
        check=Check.RDS,
        status=status,
        reason=reason,
        evidence_at=snapshot.created_at,
        age_hours=_hours(_age(snapshot.created_at, now)),
        key=snapshot.snapshot_id,
    )


def _object_result(
    status: Status, reason: str, item: ObjectInfo | None, now: datetime
) -> CheckResult:
    if item is None:
        return CheckResult(check=Check.S3, status=status, reason=reason)
    return CheckResult(
        check=Check.S3,
        status=status,
        reason=reason,
        evidence_at=item.last_modified,
        age_hours=_hours(_age(item.last_modified, now)),
        key=item.key,
        size_bytes=item.size,
    )


def error_result(check: Check, reason: str) -> CheckResult:
    """A check that could not be made. Never OK: no evidence is not good news."""
    return CheckResult(check=check, status=Status.ERROR, reason=reason)


def tenant_report(tenant: Tenant, results: Mapping[Check, CheckResult]) -> TenantReport:
    """Combine a tenant's check results: status is the worst of them (``ERROR`` on problems).

    The reason leads with the tenant's own problems, then each failing check's reason; an OK
    tenant's reason lists each check's evidence age.
    """
    statuses = [result.status for result in results.values()]
    if tenant.problems:
        statuses.append(Status.ERROR)
    status = worst(statuses)
    shown = (
        [r for r in results.values() if r.status.failing] if status.failing else results.values()
    )
    parts = [*tenant.problems, *(f"{r.check.value}: {r.reason}" for r in shown)]
    return TenantReport(
        tenant=tenant.name,
        db_instance_identifier=tenant.db_instance_identifier,
        region=tenant.region,
        account_id=tenant.account_id,
        s3_prefix=tenant.s3_prefix,
        status=status,
        reason="; ".join(parts) or "no check ran",
        checks=dict(results),
    )


def format_age(age: timedelta) -> str:
    """``42 min``, ``31 h``, ``24.5 h``, ``9.2 days``: short, and exact enough to act on."""
    seconds = max(age.total_seconds(), 0.0)
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    hours = seconds / 3600
    if hours < 72:
        return f"{_trim(hours)} h"
    return f"{_trim(hours / 24)} days"


def format_bytes(size: int) -> str:
    """``0 B``, ``512 B``, ``1.5 KiB``, ``3.2 GiB``."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{_trim(value)} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _trim(number: float) -> str:
    text = f"{number:.1f}"
    return text.removesuffix(".0")


def _age(then: datetime, now: datetime) -> timedelta:
    return max(now - then, timedelta(0))


def _aged(then: datetime, now: datetime) -> str:
    return format_age(_age(then, now))


def _hours(age: timedelta) -> float:
    return round(age.total_seconds() / 3600, 2)
