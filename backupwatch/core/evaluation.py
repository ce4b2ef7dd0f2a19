"""Verdicts: evidence + policy + ``now`` -> status and reason. Pure; no AWS, no clock.

Fresh means ``age <= window``. A timestamp in the future (clock skew) counts as age 0.

``evaluate_rds`` and ``evaluate_s3`` judge evidence alone. ``judge_rds`` and ``judge_s3`` judge
a tenant: its lifecycle first (paused, stopped, cluster member, read replica, new), then its
evidence, so that a tenant that cannot have a backup yet is never reported as missing one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from backupwatch.core.config import Settings
from backupwatch.core.integrity import IntegrityFindings, size_drop_ratio
from backupwatch.core.models import (
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
from backupwatch.core.size_history import ArchivedDump, archived_history, judge_size
from backupwatch.core.units import format_bytes


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


# Engines whose read replicas RDS never backs up automatically (MySQL, MariaDB and Oracle
# replicas can have automated backups, and are judged like any instance).
_REPLICAS_WITHOUT_BACKUPS = {"postgres": "PostgreSQL", "sqlserver": "SQL Server"}


def judge_rds(
    tenant: Tenant,
    newest: SnapshotInfo | None,
    *,
    now: datetime,
    settings: Settings,
    listing_error: str | None = None,
) -> CheckResult:
    """The RDS verdict on a tenant: its lifecycle first, then its newest automated snapshot.

    In this order (docs/evidence.md has the table): not found (``ERROR``); cluster member
    (``SKIPPED``: the cluster is backed up, not its members); PostgreSQL or SQL Server read
    replica (``SKIPPED``: RDS never backs those up); retention 0 (``DISABLED``, stopped or not:
    a stopped resource with backups off will not back up when it starts); stopped
    (``STOPPED``); the snapshot listing failed (``ERROR``, given as ``listing_error``); no
    snapshot yet on a new tenant or one still being created (``PENDING``, never for a resource
    in a ``NO_BACKUP_STATES`` state); then ``evaluate_rds``, and a point-in-time recovery lag
    beyond ``settings.pitr_max_lag_hours`` turns an OK into ``STALE``. A pause covers every
    verdict but ``ERROR``: it silences the backups, never a check that could not be made.
    """
    return apply_pause(tenant, _rds_verdict(tenant, newest, now, settings, listing_error), now)


def judge_s3(
    tenant: Tenant,
    evidence: S3Evidence,
    *,
    now: datetime,
    settings: Settings,
    findings: IntegrityFindings | None = None,
    archived_sizes: Sequence[ArchivedDump] = (),
) -> CheckResult:
    """The S3 verdict on a tenant: ``evaluate_s3``, then whether the fresh dump looks right,
    with a new tenant's empty folder ``PENDING`` instead of ``MISSING``, and a pause over
    everything.

    A fresh dump that looks broken is ``SUSPECT``: far smaller than the earlier dumps of its
    series (``size_history``, from the listing, or from ``archived_sizes``, the tenant's dumps
    in earlier reports, when the listing holds fewer than ``MIN_HISTORY``), or a problem in
    ``findings``, what ``backupwatch.aws.s3_integrity.inspect_dump`` read of the object. What
    could not be verified goes to the result's ``notes``, never failing and never a silent
    pass.

    Only ``MISSING`` becomes ``PENDING``: a fresh but too small object (``EMPTY``) or an old
    one (``STALE``) is something written and wrong, which a grace period must not hide. A
    stopped instance's S3 check runs as usual (its dumps need not stop).
    """
    result = evaluate_s3(evidence, max_age_hours=tenant.max_age_hours, now=now)
    if result.status is Status.OK and evidence.newest_countable is not None:
        ratio = size_drop_ratio(tenant, settings)
        result = _looks_right(result, evidence, ratio, findings, archived_sizes)
    pending = pending_reason(tenant, now, settings)
    if result.status is Status.MISSING and pending is not None:
        result = result.model_copy(
            update={"status": Status.PENDING, "reason": f"{pending}; {result.reason}"}
        )
    return apply_pause(tenant, result, now)


def _looks_right(
    result: CheckResult,
    evidence: S3Evidence,
    ratio: float,
    findings: IntegrityFindings | None,
    archived_sizes: Sequence[ArchivedDump] = (),
) -> CheckResult:
    """``SUSPECT`` when the fresh dump's size or its inspection says it is broken."""
    assert evidence.newest_countable is not None
    dump = evidence.newest_countable
    archived = archived_history(
        dump.key, dump.last_modified, archived_sizes, prefix=evidence.prefix
    )
    size = judge_size(
        dump.key, dump.size, evidence.history_sizes, drop_ratio=ratio, archived=archived
    )
    problems = [size.problem] if size.problem else []
    notes = [size.note] if size.note else []
    if findings is not None:
        problems.extend(findings.problems)
        notes.extend(findings.notes)
    update: dict[str, object] = {"notes": tuple(notes)}
    if findings is not None and not problems:
        # What the operator asked to be read is said in the reason, passed or not verifiable:
        # an archived object or a checksum S3 alone computed is never a silent pass.
        said = [f"verified: {', '.join(findings.checked)}"] if findings.checked else []
        said.extend(f"not verified: {note}" for note in findings.notes)
        if said:
            update["reason"] = f"{result.reason}; {'; '.join(said)}"
    if problems:
        update["status"] = Status.SUSPECT
        update["reason"] = f"{result.reason}, but it looks broken: {'; '.join(problems)}"
    return result.model_copy(update=update)


def first_backup_due(tenant: Tenant, *, now: datetime, settings: Settings) -> datetime | None:
    """When a new tenant's first backup is due; None unless the tenant is new at ``now``.

    New means created less than its window plus ``settings.new_tenant_grace_hours`` ago. A
    creation time in the future is not trusted: ``PENDING`` excuses missing evidence, so it
    needs a creation time that makes sense (a future snapshot, by contrast, is evidence, and
    counts as age 0). A resource in a state that can never produce a backup
    (``NO_BACKUP_STATES``) is never new: waiting would not bring its first backup.
    """
    if tenant.created_at is None or tenant.created_at > now or no_backup_state(tenant):
        return None
    due = tenant.created_at + timedelta(
        hours=tenant.max_age_hours + settings.new_tenant_grace_hours
    )
    return due if now < due else None


NO_BACKUP_STATES = frozenset(
    {
        "failed",
        "inaccessible-encryption-credentials",
        "inaccessible-encryption-credentials-recoverable",
        "incompatible-credentials",
        "incompatible-network",
        "incompatible-option-group",
        "incompatible-parameters",
        "incompatible-restore",
        "insufficient-capacity",
        "restore-error",
        "storage-full",
    }
)
"""``DBInstanceStatus`` / cluster ``Status`` values in which RDS takes no backup until someone
acts (RDS User Guide, "Viewing Amazon RDS DB instance status": these states need an operator,
time alone does not end them). A new resource in one of them is failing, never ``PENDING``."""

BEING_CREATED_STATES = frozenset({"creating"})
"""While an instance is being created, the real API gives no ``InstanceCreateTime`` yet."""


def no_backup_state(tenant: Tenant) -> bool:
    """Whether the resource is in a state in which RDS can take no backup."""
    status = (tenant.resource_status or "").lower()
    return status in NO_BACKUP_STATES or status.startswith("incompatible-")


def pending_reason(tenant: Tenant, now: datetime, settings: Settings) -> str | None:
    """Why a tenant without evidence is ``PENDING``; None when it is not excused."""
    if tenant.created_at is None and (tenant.resource_status or "").lower() in BEING_CREATED_STATES:
        return f"DB {tenant.kind} is still being created (status {tenant.resource_status!r})"
    due = first_backup_due(tenant, now=now, settings=settings)
    return _new_tenant(due) if due is not None else None


def _state_note(tenant: Tenant) -> str:
    if not no_backup_state(tenant):
        return ""
    return (
        f"; DB {tenant.kind} is {tenant.resource_status!r}, a state in which RDS takes no "
        "backups until someone fixes it"
    )


def _rds_verdict(
    tenant: Tenant,
    newest: SnapshotInfo | None,
    now: datetime,
    settings: Settings,
    listing_error: str | None,
) -> CheckResult:
    skipped = not_applicable(
        tenant,
        Check.RDS,
        member="no backups of its own: RDS backs up DB cluster {cluster!r} as a whole",
        replica="{engine} read replica of {source!r}: RDS keeps no automated backups of "
        "{engine} replicas; the source's backups cover it",
    )
    if skipped is not None:
        return skipped
    if tenant.backup_retention_period == 0:
        # Before "stopped": a stopped resource with backups off will not back up once started.
        result = evaluate_rds(
            _evidence(tenant, newest), max_age_hours=tenant.max_age_hours, now=now
        )
        if tenant.resource_status == "stopped":
            result = result.model_copy(
                update={"reason": f"{result.reason}; DB {tenant.kind} is stopped too"}
            )
        return result
    if tenant.resource_status == "stopped":
        snapshot_age = (
            f"; newest automated snapshot {_aged(newest.created_at, now)} old" if newest else ""
        )
        reason = (
            f"DB {tenant.kind} is stopped, and RDS takes no automated backups while it is"
            f"{snapshot_age}"
        )
        return _snapshot_result(Status.STOPPED, reason, newest, now)
    if listing_error is not None:
        return error_result(Check.RDS, f"could not list snapshots: {listing_error}")
    pending = pending_reason(tenant, now, settings)
    if newest is None and pending is not None:
        return CheckResult(check=Check.RDS, status=Status.PENDING, reason=pending)
    result = evaluate_rds(_evidence(tenant, newest), max_age_hours=tenant.max_age_hours, now=now)
    state = _state_note(tenant)
    if state:
        result = result.model_copy(update={"reason": result.reason + state})
    return _with_pitr(tenant, result, now, settings)


def not_applicable(
    tenant: Tenant, check: Check, *, member: str, replica: str
) -> CheckResult | None:
    """What every check of a DB resource says before its evidence, or None when it applies:
    the resource was not found (``ERROR``); it is a cluster member (``SKIPPED``: its cluster
    is the tenant that is judged); it is a PostgreSQL or SQL Server read replica (``SKIPPED``:
    RDS keeps no backups of those). ``member`` and ``replica`` are the check's own reasons,
    formatted with ``cluster``, and ``engine`` and ``source``."""
    if tenant.backup_retention_period is None:
        return error_result(check, "no DB instance to check")
    if tenant.kind == "instance" and tenant.db_cluster_identifier is not None:
        reason = member.format(cluster=tenant.db_cluster_identifier)
        return CheckResult(check=check, status=Status.SKIPPED, reason=reason)
    engine = replica_without_backups(tenant)
    if engine is not None:
        reason = replica.format(engine=engine, source=tenant.read_replica_source)
        return CheckResult(check=check, status=Status.SKIPPED, reason=reason)
    return None


def _with_pitr(
    tenant: Tenant, result: CheckResult, now: datetime, settings: Settings
) -> CheckResult:
    """Point-in-time recovery: ``LatestRestorableTime`` far behind means log backups stopped.

    An OK snapshot with a lagging PITR becomes ``STALE``, because an OK row is not listed in
    the digest and a broken PITR would otherwise go unseen; a verdict already failing just
    says so too. No ``LatestRestorableTime`` (RDS does not always give one) is not judged.
    """
    restorable = tenant.latest_restorable_time
    limit = timedelta(hours=settings.pitr_max_lag_hours)
    if restorable is None or _age(restorable, now) <= limit:
        return result
    lag = (
        f"point-in-time recovery is {_aged(restorable, now)} behind (latest restorable time "
        f"{format_time(restorable)}; limit {format_age(limit)})"
    )
    if result.status is Status.OK:
        return result.model_copy(
            update={"status": Status.STALE, "reason": f"{lag}; {result.reason}"}
        )
    return result.model_copy(update={"reason": f"{result.reason}; {lag}"})


def apply_pause(tenant: Tenant, result: CheckResult, now: datetime) -> CheckResult:
    """``PAUSED`` over any verdict but ``ERROR`` while the pause lasts; the reason keeps the
    verdict it replaces, so the digest still shows what the tenant would be."""
    until = tenant.paused_until
    if until is None or now >= until or result.status is Status.ERROR:
        return result
    reason = f"paused until {format_time(until)}; would be {result.status.value}: {result.reason}"
    return result.model_copy(update={"status": Status.PAUSED, "reason": reason})


def replica_without_backups(tenant: Tenant) -> str | None:
    """The engine's name when the tenant is a read replica that RDS never backs up."""
    if tenant.kind != "instance" or tenant.read_replica_source is None or not tenant.engine:
        return None
    family = tenant.engine.split("-")[0]
    return _REPLICAS_WITHOUT_BACKUPS.get(family)


def _evidence(tenant: Tenant, newest: SnapshotInfo | None) -> RdsEvidence:
    return RdsEvidence(
        db_instance_identifier=tenant.db_instance_identifier,
        backup_retention_period=tenant.backup_retention_period or 0,
        newest_snapshot=newest,
    )


def _new_tenant(due: datetime) -> str:
    return f"new, first backup expected by {format_time(due)}"


def pause_note(tenant: Tenant, now: datetime) -> str | None:
    """A pause that has ended is said, never silently honoured nor silently dropped."""
    until = tenant.paused_until
    if until is None or now < until:
        return None
    return (
        f"the pause of tag backupwatch:paused-until ended {format_time(until)}; "
        "checked as usual: remove the tag"
    )


def tenant_report(
    tenant: Tenant,
    results: Mapping[Check, CheckResult],
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> TenantReport:
    """Combine a tenant's check results: status is the worst of them (``ERROR`` on problems),
    leaving out a check deferred to another by the rule "either" (``CheckResult.deferred_to``).

    The reason leads with the tenant's own problems, then the reason of each check that is not
    OK (every check's, for an OK tenant), then the tenant's notes. ``settings`` decides whether
    a ``STOPPED`` tenant is failing (``stopped_is_failing``); ``now`` whether a pause has ended
    (a note). Without them: not failing, and no pause note.
    """
    # A check deferred to another (rule "either") is in the row and its reason, not its status.
    counted = [r for r in results.values() if r.deferred_to is None] or list(results.values())
    statuses = [result.status for result in counted]
    if tenant.problems:
        statuses.append(Status.ERROR)
    status = worst(statuses)
    # A failing row explains its failure: a check not needed (deferred and SKIPPED) is left
    # out of it; an OK row shows every check, that one included.
    shown = (
        [r for r in results.values() if r.status.listed and not _not_needed(r, results)]
        if status.listed
        else sorted(results.values(), key=lambda r: _not_needed(r, results))  # OK ones first
    )
    notes = list(tenant.notes)
    ended = pause_note(tenant, now) if now is not None else None
    if ended is not None:
        notes.append(ended)
    parts = [*tenant.problems, *(f"{r.check.value}: {r.reason}" for r in shown), *notes]
    stopped_is_failing = settings is not None and settings.stopped_is_failing
    return TenantReport(
        tenant=tenant.name,
        db_instance_identifier=tenant.db_instance_identifier,
        region=tenant.region,
        kind=tenant.kind,
        members=tenant.members,
        account_id=tenant.account_id,
        s3_prefix=tenant.s3_prefix,
        status=status,
        failing=status.failing or (status is Status.STOPPED and stopped_is_failing),
        reason="; ".join(parts) or "no check ran",
        runbook=tenant.runbook,
        owners=tenant.owners,
        notes=tuple(notes),
        checks=dict(results),
    )


def _not_needed(result: CheckResult, results: Mapping[Check, CheckResult]) -> bool:
    """Deferred to a check that is OK: not needed (a deferred failure is still a reason)."""
    decider = results.get(result.deferred_to) if result.deferred_to is not None else None
    return decider is not None and decider.status is Status.OK


def format_time(when: datetime) -> str:
    """``2026-11-28 09:00 UTC``: every time backupwatch shows is UTC, to the minute."""
    return f"{when.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def format_age(age: timedelta) -> str:
    """``42 min``, ``31 h``, ``24.5 h``, ``9.2 days``: short, and exact enough to act on."""
    seconds = max(age.total_seconds(), 0.0)
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    hours = seconds / 3600
    if hours < 72:
        return f"{_trim(hours)} h"
    return f"{_trim(hours / 24)} days"


def _trim(number: float) -> str:
    text = f"{number:.1f}"
    return text.removesuffix(".0")


def _age(then: datetime, now: datetime) -> timedelta:
    return max(now - then, timedelta(0))


def _aged(then: datetime, now: datetime) -> str:
    return format_age(_age(then, now))


def age_hours(age: timedelta) -> float:
    """An age in hours, to the hundredth, as ``CheckResult.age_hours`` holds it."""
    return _hours(age)


def age_of(then: datetime, now: datetime) -> timedelta:
    """How old ``then`` is at ``now``; a time in the future (clock skew) is age 0."""
    return _age(then, now)


def _hours(age: timedelta) -> float:
    return round(age.total_seconds() / 3600, 2)
