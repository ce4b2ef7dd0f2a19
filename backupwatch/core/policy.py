"""The ``policy`` check: the operator's controls on a tenant's backups. Pure; no AWS.

Each control is off until a setting (or, stricter only, a tenant's tag) turns it on:

- **retention**: backups kept at least N days. RDS: the configured ``BackupRetentionPeriod``,
  and the restore window that really exists (how far back the oldest automated snapshot
  reaches) once the resource is older than N days. AWS Backup: the newest usable recovery
  point's lifecycle (``DeleteAfterDays``; none means kept until deleted).
- **encryption**: the resource's storage, its newest snapshot and its newest recovery point
  are encrypted at rest, with the required KMS key when one is given.
- **daily**: a backup in each of the last N 24-hour periods ending at the run, read from the
  backups the listings already returned (no extra call). Periods before the resource's first
  backup was due are not judged.

Every failed control is ``NONCOMPLIANT`` with its own reason; what could not be verified is a
note, never a pass. The evidence judged is the one the policy relies on: with the rule
"either", the ``rds`` or ``backup`` evidence that satisfied it; otherwise each that runs.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from backupwatch.core.config import Settings
from backupwatch.core.evaluation import (
    apply_pause,
    format_age,
    not_applicable,
)
from backupwatch.core.integrity import kms_key_matches
from backupwatch.core.models import (
    BackupEvidence,
    Check,
    CheckResult,
    SnapshotInfo,
    Status,
    Tenant,
)

DAY = timedelta(days=1)


@dataclass(frozen=True)
class Controls:
    """The controls in force for one tenant: the settings, made stricter by its tags."""

    min_retention_days: int | None
    encryption: bool
    kms_key: str | None
    daily_backup_days: int | None

    @property
    def any(self) -> bool:
        return self.encryption or bool(self.min_retention_days or self.daily_backup_days)


def controls_for(tenant: Tenant, settings: Settings) -> Controls:
    """The tenant's controls; its tags were bounded to never loosen the settings (tenancy)."""
    return Controls(
        min_retention_days=tenant.min_retention_days or settings.min_retention_days,
        encryption=tenant.require_encrypted_backups or settings.encryption_required,
        kms_key=settings.backup_kms_key,
        daily_backup_days=tenant.daily_backup_days or settings.daily_backup_days,
    )


@dataclass(frozen=True)
class PolicyEvidence:
    """What the controls judge, all of it already read by the ``rds`` and ``backup`` checks.

    ``snapshot_times`` None: the automated snapshots were not listed (the ``rds`` check is off
    for the tenant) or the listing failed (``rds_error``).
    """

    counted: Collection[Check]
    """The evidence the policy relies on: ``rds``, ``backup``, or both."""
    either: bool = False
    """With both counted: one of them complying is enough (the rule "either")."""
    snapshot: SnapshotInfo | None = None
    snapshot_times: Sequence[datetime] | None = None
    rds_error: str | None = None
    backup: BackupEvidence | None = None


def judge_policy(
    tenant: Tenant, evidence: PolicyEvidence, *, now: datetime, settings: Settings
) -> CheckResult | None:
    """The ``policy`` verdict on a tenant; None when no control is on for it."""
    controls = controls_for(tenant, settings)
    if not controls.any:
        return None
    result = _verdict(tenant, controls, evidence, now, settings)
    if evidence.either and len(evidence.counted) > 1 and result.status is not Status.OK:
        # Either source complying is enough: judge each alone, and keep the first that passes.
        for check in (Check.RDS, Check.BACKUP):
            alone = replace(evidence, counted=(check,), either=False)
            single = _verdict(tenant, controls, alone, now, settings)
            if single.status is Status.OK:
                result = single.model_copy(
                    update={"reason": f"on the {check.value} evidence: {single.reason}"}
                )
                break
    return apply_pause(tenant, result, now)


def _verdict(
    tenant: Tenant,
    controls: Controls,
    evidence: PolicyEvidence,
    now: datetime,
    settings: Settings,
) -> CheckResult:
    skipped = not_applicable(
        tenant,
        Check.POLICY,
        member="judged on DB cluster {cluster!r}, which it belongs to",
        replica="a read replica with no backups",
    )
    if skipped is not None:
        return skipped
    failed: list[str] = []
    passed: list[str] = []
    notes: list[str] = []
    errors: list[str] = []
    if controls.min_retention_days:
        _retention(tenant, controls.min_retention_days, evidence, now, failed, passed, notes)
    if controls.encryption:
        _encryption(tenant, controls.kms_key, evidence, failed, passed, notes)
    if controls.daily_backup_days:
        _daily(
            tenant,
            controls.daily_backup_days,
            evidence,
            now,
            settings,
            failed,
            passed,
            notes,
            errors,
        )
    if failed:
        return CheckResult(
            check=Check.POLICY,
            status=Status.NONCOMPLIANT,
            reason="; ".join(failed + errors),
            notes=tuple(notes),
        )
    if errors:
        return CheckResult(
            check=Check.POLICY, status=Status.ERROR, reason="; ".join(errors), notes=tuple(notes)
        )
    return CheckResult(
        check=Check.POLICY, status=Status.OK, reason="; ".join(passed), notes=tuple(notes)
    )


def _retention(
    tenant: Tenant,
    days: int,
    evidence: PolicyEvidence,
    now: datetime,
    failed: list[str],
    passed: list[str],
    notes: list[str],
) -> None:
    before = len(failed)
    verified = False
    if Check.RDS in evidence.counted:
        verified = True  # the configured retention, at least, is known
        configured = tenant.backup_retention_period or 0
        if configured < days:
            failed.append(
                f"retention {configured} days (BackupRetentionPeriod), policy {days} days"
            )
        times = evidence.snapshot_times
        old_enough = tenant.created_at is not None and now - tenant.created_at >= days * DAY
        if times is None or not old_enough:
            why = "snapshots not listed" if times is None else "resource younger than that"
            notes.append(f"restore window of {days} days not verified: {why}")
        elif configured >= days:
            reach = now - min(times) if times else timedelta(0)
            # Automated snapshots are daily: the oldest is up to a day younger than retention.
            if reach < (days - 1) * DAY:
                failed.append(
                    f"restore window reaches back {format_age(reach)}, policy {days} days"
                )
    if Check.BACKUP in evidence.counted and evidence.backup is not None:
        point = evidence.backup.newest_usable
        if point is None:
            notes.append(f"recovery point retention of {days} days not verified: none to read")
        elif not point.lifecycle_known:
            notes.append(f"recovery point retention of {days} days not verified: no lifecycle read")
        else:
            verified = True
            if point.delete_after_days is not None and point.delete_after_days < days:
                failed.append(
                    f"AWS Backup recovery point kept {point.delete_after_days} days, "
                    f"policy {days} days"
                )
    if len(failed) == before and verified:
        passed.append(f"retention at least {days} days")


def _encryption(
    tenant: Tenant,
    key: str | None,
    evidence: PolicyEvidence,
    failed: list[str],
    passed: list[str],
    notes: list[str],
) -> None:
    before = len(failed)
    what = [(f"DB {tenant.kind} storage", tenant.storage_encrypted, tenant.kms_key_id)]
    if Check.RDS in evidence.counted and evidence.snapshot is not None:
        snapshot = evidence.snapshot
        what.append(("newest automated snapshot", snapshot.encrypted, snapshot.kms_key_id))
    if Check.BACKUP in evidence.counted and evidence.backup is not None:
        point = evidence.backup.newest_usable
        if point is not None:
            what.append((f"newest {point.source}", point.encrypted, point.kms_key_id))
    for name, encrypted, found in what:
        if encrypted is None:
            notes.append(f"encryption of the {name} not verified: AWS did not say")
        elif not encrypted:
            failed.append(f"{name} is not encrypted")
        elif key is not None and (found is None or kms_key_matches(key, found) is False):
            failed.append(f"{name} is encrypted with {found or 'an unnamed key'}, not {key}")
    if len(failed) == before:
        passed.append("encrypted" + (f" with {key}" if key else ""))


def _daily(
    tenant: Tenant,
    days: int,
    evidence: PolicyEvidence,
    now: datetime,
    settings: Settings,
    failed: list[str],
    passed: list[str],
    notes: list[str],
    errors: list[str],
) -> None:
    if tenant.resource_status == "stopped":
        notes.append(
            f"a backup in each of the last {days} days not judged: DB {tenant.kind} stopped"
        )
        return
    times: list[datetime] = []
    if Check.RDS in evidence.counted:
        if evidence.rds_error is not None:
            errors.append(f"could not check daily backups: {evidence.rds_error}")
            return
        times.extend(evidence.snapshot_times or ())
    if Check.BACKUP in evidence.counted:
        backup = evidence.backup
        if backup is None or backup.errors:
            # The fallback source gives the newest backup only: no day-by-day history.
            errors.append("could not check daily backups: AWS Backup recovery points not read")
            return
        times.extend(point.created_at for point in backup.points if point.usable)
    # Periods that ended before the first backup was due are not judged (a new resource).
    created = tenant.created_at
    first_due = (
        created + timedelta(hours=tenant.max_age_hours + settings.new_tenant_grace_hours)
        if created is not None
        else None
    )
    missed: list[str] = []
    for index in range(days):
        end = now - index * DAY
        start = end - DAY
        if first_due is not None and end <= first_due:
            continue
        if not any(start <= when < end for when in times):
            missed.append(f"{end:%m-%d}")
    if missed:
        failed.append(
            f"no backup in {len(missed)} of the last {days} days "
            f"(24 h periods ending {', '.join(reversed(missed))} at {now:%H:%M} UTC)"
        )
    else:
        passed.append(f"a backup in each of the last {days} days")
