"""The pure rules of the ``backup``, ``copy`` and ``policy`` checks (issue 15), without AWS.

Each rule has its careless variant beside it: the evidence that must not pass.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from backupwatch import Check, Settings, Status, load_settings
from backupwatch.core.backup_verdict import judge_backup, lookback_days
from backupwatch.core.copy_verdict import copy_destinations, judge_copy
from backupwatch.core.evaluation import tenant_report
from backupwatch.core.models import (
    BackupEvidence,
    BackupJobProblem,
    BackupPoint,
    CopyEvidence,
    CopyInfo,
    SnapshotInfo,
    Tenant,
)
from backupwatch.core.policy import PolicyEvidence, controls_for, judge_policy

from .conftest import NOW, REGION, env_for

H = timedelta(hours=1)
D = timedelta(days=1)
KEY = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
OTHER_KEY = "arn:aws:kms:eu-west-1:123456789012:key/99999999-2222-3333-4444-555555555555"


def settings(**variables: str) -> Settings:
    return load_settings(env_for(BACKUPWATCH_CHECKS="rds,s3,backup", **variables))


SETTINGS = settings()


def tenant(**fields: Any) -> Tenant:
    base: dict[str, Any] = {
        "name": "acme",
        "db_instance_identifier": "db-acme",
        "region": REGION,
        "s3_prefix": "acme-backups/",
        "max_age_hours": 24,
        "min_object_bytes": 1,
        "backup_retention_period": 7,
        "engine": "postgres",
        "resource_status": "available",
        "created_at": NOW - 90 * D,
        "resource_arn": f"arn:aws:rds:{REGION}:123456789012:db:db-acme",
        "storage_encrypted": True,
        "kms_key_id": KEY,
    }
    return Tenant(**{**base, **fields})


def point(age: timedelta, status: str = "COMPLETED", **fields: Any) -> BackupPoint:
    base: dict[str, Any] = {
        "point_id": f"arn:aws:rds:{REGION}:123456789012:snapshot:awsbackup:job-{age}",
        "source": "recovery point",
        "created_at": NOW - age,
        "status": status,
        "encrypted": True,
        "kms_key_id": KEY,
        "lifecycle_known": True,
        "delete_after_days": 35,
    }
    return BackupPoint(**{**base, **fields})


def evidence(*points: BackupPoint, **fields: Any) -> BackupEvidence:
    ordered = tuple(sorted(points, key=lambda p: p.created_at, reverse=True))
    return BackupEvidence(points=ordered, looked_back_days=8, **fields)


# -- backup ------------------------------------------------------------------------------------


def test_a_fresh_recovery_point_is_ok_and_says_its_age() -> None:
    result = judge_backup(tenant(), evidence(point(5 * H)), now=NOW, settings=SETTINGS)
    assert result.status is Status.OK
    assert result.reason == "AWS Backup recovery point 5 h old"
    assert result.age_hours == 5.0
    assert result.key is not None
    assert result.key.startswith("arn:aws:rds:")


@pytest.mark.parametrize("status", ["AVAILABLE", "COMPLETED"])
def test_both_usable_statuses_count(status: str) -> None:
    result = judge_backup(tenant(), evidence(point(2 * H, status)), now=NOW, settings=SETTINGS)
    assert result.status is Status.OK


@pytest.mark.parametrize("status", ["PARTIAL", "EXPIRED", "DELETING", "STOPPED", "CREATING"])
def test_an_unusable_recovery_point_never_counts_and_is_named(status: str) -> None:
    """Careless variant: any recovery point at all read as a backup."""
    fresh = point(2 * H, status, status_message="The backup job was interrupted")
    result = judge_backup(tenant(), evidence(fresh), now=NOW, settings=SETTINGS)
    assert result.status is Status.MISSING
    assert f"is {status} (The backup job was interrupted)" in result.reason


def test_an_unusable_newest_falls_back_to_the_last_usable_one() -> None:
    result = judge_backup(
        tenant(), evidence(point(2 * H, "PARTIAL"), point(30 * H)), now=NOW, settings=SETTINGS
    )
    assert result.status is Status.STALE
    assert result.reason == "newest AWS Backup recovery point 30 h old (window 24 h)"


def test_no_recovery_point_is_missing_with_the_lookback() -> None:
    result = judge_backup(tenant(), evidence(), now=NOW, settings=SETTINGS)
    assert result.status is Status.MISSING
    assert result.reason == "no AWS Backup recovery point in the last 8 days"


def test_a_failed_job_after_the_last_backup_is_said_with_aws_message() -> None:
    job = BackupJobProblem(
        created_at=NOW.replace(hour=3, minute=10),
        state="FAILED",
        status_message="Insufficient privileges to perform this action.",
    )
    result = judge_backup(
        tenant(), evidence(point(40 * H), job_problems=(job,)), now=NOW, settings=SETTINGS
    )
    assert result.status is Status.STALE
    assert (
        "last backup job FAILED 2026-11-27 03:10 UTC: Insufficient privileges to perform this "
        "action." in result.reason
    )


def test_a_failed_job_before_a_good_backup_is_said_as_such() -> None:
    job = BackupJobProblem(created_at=NOW - 10 * H, state="FAILED", status_message="boom")
    result = judge_backup(
        tenant(), evidence(point(2 * H), job_problems=(job,)), now=NOW, settings=SETTINGS
    )
    assert result.status is Status.OK
    assert result.reason == (
        "AWS Backup recovery point 2 h old; backup job FAILED 2026-11-26 21:00 UTC: boom; "
        "a later backup completed"
    )


def test_an_unreadable_source_is_error_unless_the_other_has_a_fresh_backup() -> None:
    """Careless variant: a denied listing read as "nothing there" (MISSING) or as a pass."""
    denied = evidence(errors=("recovery points: AccessDeniedException",))
    assert judge_backup(tenant(), denied, now=NOW, settings=SETTINGS).status is Status.ERROR
    covered = evidence(
        point(3 * H, "available", source="snapshot", lifecycle_known=False),
        errors=("recovery points: AccessDeniedException",),
    )
    result = judge_backup(tenant(), covered, now=NOW, settings=SETTINGS)
    assert result.status is Status.OK
    assert result.reason == "AWS Backup snapshot 3 h old"
    assert result.notes == ("not read: recovery points: AccessDeniedException",)
    stale_only = evidence(
        point(50 * H, "available", source="snapshot"),
        errors=("recovery points: AccessDeniedException",),
    )
    assert judge_backup(tenant(), stale_only, now=NOW, settings=SETTINGS).status is Status.ERROR


def test_nothing_read_at_all_is_error() -> None:
    assert judge_backup(tenant(), None, now=NOW, settings=SETTINGS).status is Status.ERROR


def test_lifecycle_new_member_paused_and_stopped() -> None:
    new = tenant(created_at=NOW - 3 * H)
    assert judge_backup(new, evidence(), now=NOW, settings=SETTINGS).status is Status.PENDING
    member = tenant(db_cluster_identifier="aurora-acme")
    assert judge_backup(member, evidence(), now=NOW, settings=SETTINGS).status is Status.SKIPPED
    paused = tenant(paused_until=NOW + D)
    assert judge_backup(paused, evidence(), now=NOW, settings=SETTINGS).status is Status.PAUSED
    # A pause never hides a check that could not be made.
    assert judge_backup(paused, None, now=NOW, settings=SETTINGS).status is Status.ERROR
    # AWS Backup can snapshot a stopped instance: stopping excuses nothing here.
    stopped = tenant(resource_status="stopped")
    assert judge_backup(stopped, evidence(), now=NOW, settings=SETTINGS).status is Status.MISSING


def test_the_lookback_covers_the_window_and_the_daily_control() -> None:
    assert lookback_days(tenant(), SETTINGS) == 8
    assert lookback_days(tenant(max_age_hours=24 * 20), SETTINGS) == 21
    assert lookback_days(tenant(), settings(BACKUPWATCH_DAILY_BACKUP_DAYS="14")) == 15


# -- copy --------------------------------------------------------------------------------------

COPIES = settings(BACKUPWATCH_COPY_REGIONS="eu-central-1,us-east-1")


def copy(where: str, age: timedelta | None, *, error: str | None = None) -> CopyEvidence:
    newest = (
        CopyInfo(via="AWS Backup copy", latest_at=NOW - age, identifier=f"copy-{where}")
        if age is not None
        else None
    )
    return CopyEvidence(destination=where, newest=newest, error=error)


def test_fresh_copies_everywhere_are_ok() -> None:
    result = judge_copy(
        tenant(), [copy("eu-central-1", 5 * H), copy("us-east-1", 6 * H)], now=NOW, settings=COPIES
    )
    assert result.status is Status.OK
    assert "copy in eu-central-1 5 h old (AWS Backup copy)" in result.reason


def test_a_stale_or_missing_copy_fails_and_names_the_destination() -> None:
    """Careless variant: one fresh destination vouching for the other."""
    stale = judge_copy(
        tenant(), [copy("eu-central-1", 5 * H), copy("us-east-1", 50 * H)], now=NOW, settings=COPIES
    )
    assert stale.status is Status.STALE
    assert stale.reason == "copy in us-east-1 50 h old (AWS Backup copy) (window 24 h)"
    missing = judge_copy(
        tenant(), [copy("eu-central-1", 5 * H), copy("us-east-1", None)], now=NOW, settings=COPIES
    )
    assert missing.status is Status.MISSING
    assert missing.reason == "no copy in us-east-1"


def test_a_destination_that_could_not_be_read_is_error_unless_a_fresh_copy_was_seen() -> None:
    denied = copy("us-east-1", None, error="AWS Backup vaults: AccessDeniedException")
    result = judge_copy(tenant(), [copy("eu-central-1", 5 * H), denied], now=NOW, settings=COPIES)
    assert result.status is Status.ERROR
    assert "us-east-1" in result.reason
    seen = copy("us-east-1", 2 * H, error="replicated automated backups: Throttling")
    assert judge_copy(tenant(), [seen], now=NOW, settings=COPIES).status is Status.OK


def test_the_own_region_is_no_copy_region() -> None:
    own = settings(BACKUPWATCH_COPY_REGIONS=f"{REGION},eu-central-1")
    assert copy_destinations(tenant(), own) == ("eu-central-1",)
    only_own = settings(BACKUPWATCH_COPY_REGIONS=REGION)
    result = judge_copy(tenant(), [], now=NOW, settings=only_own)
    assert result.status is Status.SKIPPED


def test_copy_lifecycle() -> None:
    new = tenant(created_at=NOW - 3 * H)
    assert judge_copy(new, [copy("us-east-1", None)], now=NOW, settings=COPIES).status is (
        Status.PENDING
    )
    stopped = tenant(resource_status="stopped")
    result = judge_copy(stopped, [copy("us-east-1", 60 * H)], now=NOW, settings=COPIES)
    assert result.status is Status.STOPPED
    assert "60 h old" in result.reason


# -- policy ------------------------------------------------------------------------------------


def snapshot(*ages_in_days: float, encrypted: bool = True, key: str | None = KEY) -> SnapshotInfo:
    times = tuple(sorted((NOW - a * D for a in ages_in_days), reverse=True))
    return SnapshotInfo(
        snapshot_id="rds:db-acme-newest",
        created_at=times[0],
        encrypted=encrypted,
        kms_key_id=key,
        times=times,
    )


def daily(days: int) -> tuple[float, ...]:
    """One snapshot a day, 6 hours before the hour of NOW, the last ``days`` days."""
    return tuple(i + 0.25 for i in range(days))


def rds_policy(snap: SnapshotInfo | None, **fields: Any) -> PolicyEvidence:
    return PolicyEvidence(
        counted=(Check.RDS,),
        snapshot=snap,
        snapshot_times=snap.times if snap else (),
        **fields,
    )


def test_no_control_no_policy_check() -> None:
    assert judge_policy(tenant(), rds_policy(None), now=NOW, settings=SETTINGS) is None


def test_retention_shorter_than_the_policy_is_noncompliant() -> None:
    policy = settings(BACKUPWATCH_MIN_RETENTION_DAYS="14")
    result = judge_policy(tenant(), rds_policy(snapshot(*daily(7))), now=NOW, settings=policy)
    assert result is not None
    assert result.status is Status.NONCOMPLIANT
    assert result.reason == "retention 7 days (BackupRetentionPeriod), policy 14 days"


def test_a_restore_window_shorter_than_the_configured_retention_is_noncompliant() -> None:
    """Careless variant: trusting BackupRetentionPeriod alone, when the snapshots say the
    window was cut short (retention raised yesterday, or snapshots deleted)."""
    policy = settings(BACKUPWATCH_MIN_RETENTION_DAYS="7")
    short = judge_policy(tenant(), rds_policy(snapshot(*daily(2))), now=NOW, settings=policy)
    assert short is not None
    assert short.status is Status.NONCOMPLIANT
    assert "restore window reaches back" in short.reason
    full = judge_policy(tenant(), rds_policy(snapshot(*daily(7))), now=NOW, settings=policy)
    assert full is not None
    assert full.status is Status.OK
    young = tenant(created_at=NOW - 3 * D)
    result = judge_policy(young, rds_policy(snapshot(*daily(3))), now=NOW, settings=policy)
    assert result is not None
    assert result.status is Status.OK
    assert any("younger" in note for note in result.notes)


def test_recovery_point_lifecycle_is_judged_when_backup_counts() -> None:
    policy = settings(BACKUPWATCH_MIN_RETENTION_DAYS="30")
    short = PolicyEvidence(
        counted=(Check.BACKUP,), backup=evidence(point(3 * H, delete_after_days=7))
    )
    result = judge_policy(tenant(), short, now=NOW, settings=policy)
    assert result is not None
    assert result.status is Status.NONCOMPLIANT
    assert result.reason == "AWS Backup recovery point kept 7 days, policy 30 days"
    forever = PolicyEvidence(
        counted=(Check.BACKUP,), backup=evidence(point(3 * H, delete_after_days=None))
    )
    kept = judge_policy(tenant(), forever, now=NOW, settings=policy)
    assert kept is not None
    assert kept.status is Status.OK


@pytest.mark.parametrize(
    ("fields", "snap", "expected"),
    [
        ({"storage_encrypted": False}, snapshot(0.2), "DB instance storage is not encrypted"),
        ({}, snapshot(0.2, encrypted=False), "newest automated snapshot is not encrypted"),
    ],
)
def test_unencrypted_storage_or_snapshot_is_noncompliant(
    fields: dict[str, Any], snap: SnapshotInfo, expected: str
) -> None:
    policy = settings(BACKUPWATCH_REQUIRE_ENCRYPTED_BACKUPS="true")
    result = judge_policy(tenant(**fields), rds_policy(snap), now=NOW, settings=policy)
    assert result is not None
    assert result.status is Status.NONCOMPLIANT
    assert expected in result.reason


def test_the_required_key_is_compared() -> None:
    policy = settings(BACKUPWATCH_BACKUP_KMS_KEY=KEY)
    ok = judge_policy(tenant(), rds_policy(snapshot(0.2)), now=NOW, settings=policy)
    assert ok is not None
    assert ok.status is Status.OK
    other = judge_policy(
        tenant(kms_key_id=OTHER_KEY), rds_policy(snapshot(0.2)), now=NOW, settings=policy
    )
    assert other is not None
    assert other.status is Status.NONCOMPLIANT
    assert OTHER_KEY in other.reason


def test_encryption_rds_did_not_report_is_a_note_not_a_pass_or_a_failure() -> None:
    policy = settings(BACKUPWATCH_REQUIRE_ENCRYPTED_BACKUPS="true")
    result = judge_policy(
        tenant(storage_encrypted=None), rds_policy(snapshot(0.2)), now=NOW, settings=policy
    )
    assert result is not None
    assert result.status is Status.OK
    assert any("not verified" in note for note in result.notes)


def test_a_day_without_a_backup_is_noncompliant_even_when_the_newest_is_fresh() -> None:
    """Careless variant: a fresh newest backup read as "backed up every day"."""
    policy = settings(BACKUPWATCH_DAILY_BACKUP_DAYS="7")
    gap = [a for a in daily(7) if int(a) != 3]  # day 3 missed
    result = judge_policy(tenant(), rds_policy(snapshot(*gap)), now=NOW, settings=policy)
    assert result is not None
    assert result.status is Status.NONCOMPLIANT
    assert result.reason.startswith("no backup in 1 of the last 7 days")
    every = judge_policy(tenant(), rds_policy(snapshot(*daily(7))), now=NOW, settings=policy)
    assert every is not None
    assert every.status is Status.OK
    assert every.reason == "a backup in each of the last 7 days"


def test_the_daily_control_counts_aws_backup_points_too() -> None:
    policy = settings(BACKUPWATCH_DAILY_BACKUP_DAYS="3")
    points = evidence(*(point(a * D) for a in daily(3)))
    result = judge_policy(
        tenant(), PolicyEvidence(counted=(Check.BACKUP,), backup=points), now=NOW, settings=policy
    )
    assert result is not None
    assert result.status is Status.OK


def test_the_daily_control_spares_a_new_tenant_and_errs_when_snapshots_were_not_listed() -> None:
    policy = settings(BACKUPWATCH_DAILY_BACKUP_DAYS="7")
    young = tenant(created_at=NOW - 2 * D)
    result = judge_policy(young, rds_policy(snapshot(*daily(1))), now=NOW, settings=policy)
    assert result is not None
    assert result.status is Status.OK
    failed = PolicyEvidence(counted=(Check.RDS,), rds_error="could not list snapshots: denied")
    error = judge_policy(tenant(), failed, now=NOW, settings=policy)
    assert error is not None
    assert error.status is Status.ERROR


def test_a_control_failing_is_never_hidden_by_an_ok_snapshot_in_the_row() -> None:
    policy = settings(BACKUPWATCH_MIN_RETENTION_DAYS="14")
    verdict = judge_policy(tenant(), rds_policy(snapshot(*daily(7))), now=NOW, settings=policy)
    assert verdict is not None
    from backupwatch.core.models import CheckResult

    rds = CheckResult(check=Check.RDS, status=Status.OK, reason="newest automated snapshot 6 h old")
    row = tenant_report(tenant(), {Check.RDS: rds, Check.POLICY: verdict}, now=NOW, settings=policy)
    assert row.status is Status.NONCOMPLIANT
    assert row.failing


def test_with_either_one_complying_source_is_enough() -> None:
    policy = settings(
        BACKUPWATCH_MIN_RETENTION_DAYS="14",
        BACKUPWATCH_RDS_BACKUP_RULE="either",
    )
    both = PolicyEvidence(
        counted=(Check.RDS, Check.BACKUP),
        either=True,
        snapshot=snapshot(*daily(7)),
        snapshot_times=snapshot(*daily(7)).times,
        backup=evidence(point(3 * H, delete_after_days=35)),
    )
    result = judge_policy(tenant(), both, now=NOW, settings=policy)
    assert result is not None
    assert result.status is Status.OK
    assert result.reason.startswith("on the backup evidence:")
    strict = PolicyEvidence(**{**both.__dict__, "either": False})
    assert judge_policy(tenant(), strict, now=NOW, settings=policy).status is (  # type: ignore[union-attr]
        Status.NONCOMPLIANT
    )


def test_tags_only_tighten_the_controls() -> None:
    policy = settings(BACKUPWATCH_MIN_RETENTION_DAYS="7")
    controls = controls_for(tenant(min_retention_days=14, require_encrypted_backups=True), policy)
    assert controls.min_retention_days == 14
    assert controls.encryption
    assert controls_for(tenant(), policy).min_retention_days == 7


def test_policy_lifecycle() -> None:
    policy = settings(BACKUPWATCH_MIN_RETENTION_DAYS="14")
    member = tenant(db_cluster_identifier="aurora-acme")
    result = judge_policy(member, rds_policy(None), now=NOW, settings=policy)
    assert result is not None
    assert result.status is Status.SKIPPED
    paused = tenant(paused_until=NOW + D)
    result = judge_policy(paused, rds_policy(snapshot(0.2)), now=NOW, settings=policy)
    assert result is not None
    assert result.status is Status.PAUSED
    assert "would be NONCOMPLIANT" in result.reason
