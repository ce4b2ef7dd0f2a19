"""The ``backup`` check: AWS Backup's newest usable backup of the tenant. Pure; no AWS.

Evidence is the newest recovery point (status ``COMPLETED`` or ``AVAILABLE``) or RDS snapshot of
type ``awsbackup`` (status ``available``), two sources of the same fact; the snapshots are read
only for resources the recovery points leave without a fresh one. A source that could not be
read is covered by the other only when the other shows a fresh backup. A recovery point that
is ``PARTIAL``, ``EXPIRED``, ``DELETING``, ``STOPPED`` or ``CREATING`` never counts, and the
reason names the status seen. A job of the window that went wrong is said with AWS's own
message (and whether a later backup completed).

Lifecycle as for the ``rds`` check (a cluster member or a PostgreSQL or SQL Server read replica
is ``SKIPPED``, a new resource ``PENDING``), with one difference: a stopped instance is not excused,
because AWS Backup can snapshot a stopped resource (RDS's own automated backups cannot).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from backupwatch.core.config import Settings
from backupwatch.core.evaluation import (
    age_hours,
    age_of,
    apply_pause,
    error_result,
    format_age,
    format_time,
    not_applicable,
    pending_reason,
)
from backupwatch.core.models import (
    BackupEvidence,
    BackupPoint,
    Check,
    CheckResult,
    Status,
    Tenant,
)

LOOKBACK_DAYS = 8.0
"""How far back the listings read when no control asks for more: a week of daily backups and
a day of slack, so a backup missed for days reads ``STALE`` with its age, not ``MISSING``."""


def lookback_days(tenant: Tenant, settings: Settings) -> float:
    """Days of backups a tenant's verdicts need: the window, the daily control, a week."""
    daily = tenant.daily_backup_days or settings.daily_backup_days or 0
    return max(LOOKBACK_DAYS, tenant.max_age_hours / 24 + 1, daily + 1.0)


def judge_backup(
    tenant: Tenant,
    evidence: BackupEvidence | None,
    *,
    now: datetime,
    settings: Settings,
) -> CheckResult:
    """The ``backup`` verdict on a tenant; ``evidence`` None means nothing could be read."""
    return apply_pause(tenant, _verdict(tenant, evidence, now, settings), now)


def _verdict(
    tenant: Tenant, evidence: BackupEvidence | None, now: datetime, settings: Settings
) -> CheckResult:
    skipped = not_applicable(
        tenant,
        Check.BACKUP,
        member="no backups of its own: AWS Backup backs up DB cluster {cluster!r} as a whole",
        replica="{engine} read replica of {source!r}: the source's backups cover it",
    )
    if skipped is not None:
        return skipped
    if evidence is None:
        return error_result(Check.BACKUP, "could not read AWS Backup")
    window = timedelta(hours=tenant.max_age_hours)
    newest = evidence.newest_usable
    unread = "; ".join(evidence.errors)
    jobs = _job_problems(evidence, newest)
    if newest is not None and age_of(newest.created_at, now) <= window:
        reason = f"{_name(newest)} {_aged(newest, now)} old"
        notes = tuple(f"not read: {error}" for error in evidence.errors)
        return _result(Status.OK, _joined(reason, jobs), newest, now, notes)
    if unread:
        seen = f"; newest seen {_name(newest)} {_aged(newest, now)} old" if newest else ""
        return error_result(
            Check.BACKUP, _joined(f"could not read AWS Backup: {unread}{seen}", jobs)
        )
    if newest is not None:
        reason = f"newest {_name(newest)} {_aged(newest, now)} old (window {format_age(window)})"
        return _result(Status.STALE, _joined(reason, jobs), newest, now)
    pending = pending_reason(tenant, now, settings)
    unusable = evidence.points[0] if evidence.points else None
    if unusable is not None:
        said = f" ({unusable.status_message})" if unusable.status_message else ""
        reason = (
            f"no usable AWS Backup recovery point: the newest, {_aged(unusable, now)} old, "
            f"is {unusable.status}{said}"
        )
    else:
        reason = f"no AWS Backup recovery point in the last {evidence.looked_back_days:g} days"
    if pending is not None:
        return CheckResult(
            check=Check.BACKUP, status=Status.PENDING, reason=_joined(f"{pending}; {reason}", jobs)
        )
    return CheckResult(check=Check.BACKUP, status=Status.MISSING, reason=_joined(reason, jobs))


def _job_problems(evidence: BackupEvidence, newest: BackupPoint | None) -> str:
    """The newest job of the window that went wrong, with AWS's message, and the job
    listing's failure: both belong in the reason, neither changes the status by itself. A job
    that failed before a backup that then completed is still said, as such."""
    parts = []
    if evidence.job_problems:
        job = max(evidence.job_problems, key=lambda j: j.created_at)
        message = f": {job.status_message}" if job.status_message else ""
        count = len(evidence.job_problems)
        more = f" ({count - 1} more in the window)" if count > 1 else ""
        later = newest is not None and newest.created_at > job.created_at
        which = "backup job" if later else "last backup job"
        after = "; a later backup completed" if later else ""
        parts.append(f"{which} {job.state} {format_time(job.created_at)}{message}{more}{after}")
    if evidence.job_error:
        parts.append(f"backup jobs not read: {evidence.job_error}")
    return "; ".join(parts)


def _joined(reason: str, extra: str) -> str:
    return f"{reason}; {extra}" if extra else reason


def _name(point: BackupPoint) -> str:
    return (
        "AWS Backup recovery point" if point.source == "recovery point" else "AWS Backup snapshot"
    )


def _aged(point: BackupPoint, now: datetime) -> str:
    return format_age(age_of(point.created_at, now))


def _result(
    status: Status,
    reason: str,
    point: BackupPoint,
    now: datetime,
    notes: tuple[str, ...] = (),
) -> CheckResult:
    return CheckResult(
        check=Check.BACKUP,
        status=status,
        reason=reason,
        evidence_at=point.created_at,
        age_hours=age_hours(age_of(point.created_at, now)),
        key=point.point_id,
        notes=notes,
    )
