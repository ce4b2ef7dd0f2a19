"""The ``backup``, ``copy`` and ``policy`` checks end to end (issue 15): ``check_tenants`` on
moto, with the AWS Backup and automated-backup APIs moto lacks answered by
``backupwatch.cli.fake_aws`` at the HTTP boundary, in botocore's own wire format.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from backupwatch import Check, Report, Retrier, Status
from backupwatch.cli.fake_aws import FakeAws

from .conftest import ACCOUNT, NOW, OTHER_REGION, REGION, World
from .conftest import run_check as run

H = timedelta(hours=1)
D = timedelta(days=1)
BACKUP_ONLY = {"BACKUPWATCH_CHECKS": "rds,backup", "BACKUPWATCH_RDS_BACKUP_RULE": "either"}


@pytest.fixture
def fake(aws: None) -> Iterator[FakeAws]:
    with FakeAws() as world:
        yield world


def arn(identifier: str, region: str = REGION) -> str:
    return f"arn:aws:rds:{region}:{ACCOUNT}:db:{identifier}"


def row(report: Report, name: str) -> Any:
    (found,) = [r for r in report.tenants if r.tenant == name]
    return found


def recovery_point(fake: FakeAws, identifier: str, age: timedelta, **fields: Any) -> str:
    base: dict[str, Any] = {
        "region": REGION,
        "vault": "Default",
        "resource_arn": arn(identifier),
        "resource_type": "RDS",
        "created": NOW - age,
        "delete_after_days": 35,
    }
    return fake.add_recovery_point(**{**base, **fields})


def test_a_tenant_on_aws_backup_only_is_ok_under_either(
    world: World, fake: FakeAws, retrier: Retrier
) -> None:
    world.instance("db-acme", tenant="acme", retention=0)
    recovery_point(fake, "db-acme", 5 * H)
    report = run(world, retrier, **BACKUP_ONLY)
    acme = row(report, "acme")
    assert acme.status is Status.OK
    assert acme.checks[Check.BACKUP].reason == "AWS Backup recovery point 5 h old"
    rds = acme.checks[Check.RDS]
    assert rds.status is Status.SKIPPED
    assert rds.deferred_to is Check.BACKUP
    assert "alone it would be DISABLED" in rds.reason


def test_under_both_the_missing_rds_evidence_still_fails(
    world: World, fake: FakeAws, retrier: Retrier
) -> None:
    """Careless variant: a recovery point vouching for a tenant whose policy wants both."""
    world.instance("db-acme", tenant="acme", retention=0)
    recovery_point(fake, "db-acme", 5 * H)
    report = run(world, retrier, BACKUPWATCH_CHECKS="rds,backup")
    assert row(report, "acme").status is Status.DISABLED


def test_another_resources_recovery_point_never_vouches(
    world: World, fake: FakeAws, retrier: Retrier
) -> None:
    """Careless variant: matching recovery points by name prefix or by vault."""
    world.instance("db-acme", tenant="acme", retention=0)
    world.instance("db-acme2", tenant="acme2", retention=0)
    recovery_point(fake, "db-acme2", 2 * H)
    report = run(world, retrier, **BACKUP_ONLY)
    assert row(report, "acme").checks[Check.BACKUP].status is Status.MISSING
    assert row(report, "acme2").checks[Check.BACKUP].status is Status.OK


def test_a_partial_recovery_point_and_a_failed_job_are_named(
    world: World, fake: FakeAws, retrier: Retrier
) -> None:
    world.instance("db-acme", tenant="acme", retention=0)
    recovery_point(fake, "db-acme", 2 * H, status="PARTIAL", status_message="disk full")
    fake.add_backup_job(
        region=REGION,
        resource_arn=arn("db-acme"),
        resource_type="RDS",
        created=NOW.replace(hour=3, minute=10),
        state="FAILED",
        status_message="Insufficient privileges to perform this action.",
    )
    result = row(run(world, retrier, **BACKUP_ONLY), "acme").checks[Check.BACKUP]
    assert result.status is Status.MISSING
    assert "is PARTIAL (disk full)" in result.reason
    assert "last backup job FAILED 2026-11-27 03:10 UTC: Insufficient privileges" in result.reason


def test_denied_recovery_points_fall_back_on_awsbackup_snapshots(
    world: World, fake: FakeAws, retrier: Retrier
) -> None:
    world.instance("db-acme", tenant="acme", retention=0)
    world.instance("db-beta", tenant="beta", retention=0)
    fake.fail("ListRecoveryPointsByBackupVault")
    fake.fail("ListBackupVaults")
    awsbackup_snapshot(fake, world, "db-acme", 3 * H)
    report = run(world, retrier, **BACKUP_ONLY)
    acme = row(report, "acme").checks[Check.BACKUP]
    assert acme.status is Status.OK
    assert acme.reason == "AWS Backup snapshot 3 h old"
    assert any("AccessDenied" in note for note in acme.notes)
    # No snapshot either: "could not check", never MISSING and never OK.
    assert row(report, "beta").checks[Check.BACKUP].status is Status.ERROR


def test_calls_stay_per_region_not_per_tenant(
    world: World, fake: FakeAws, retrier: Retrier
) -> None:
    for index in range(12):
        world.instance(f"db-t{index}", tenant=f"t{index}", retention=0)
        recovery_point(fake, f"db-t{index}", 4 * H)
    report = run(world, retrier, **BACKUP_ONLY)
    assert {r.status for r in report.tenants} == {Status.OK}
    operations = [operation for operation, _, _ in fake.calls]
    assert operations.count("ListBackupVaults") == 1
    assert operations.count("ListRecoveryPointsByBackupVault") == 1
    assert operations.count("ListBackupJobs") == 1
    assert "ListRecoveryPointsByResource" not in operations
    # Every tenant has a fresh recovery point: the second source has nothing to add.
    assert "DescribeDBSnapshots" not in operations


def test_an_awsbackup_snapshot_is_evidence_when_no_recovery_point_shows_it(
    world: World, fake: FakeAws, retrier: Retrier
) -> None:
    """Two sources of the same fact: a tenant the vault listing leaves without a fresh
    backup is looked up among the RDS snapshots AWS Backup took, and only that tenant."""
    for index in range(5):
        world.instance(f"db-t{index}", tenant=f"t{index}", retention=0)
        if index:
            recovery_point(fake, f"db-t{index}", 4 * H)
    awsbackup_snapshot(fake, world, "db-t0", 6 * H)
    report = run(world, retrier, **BACKUP_ONLY)
    assert row(report, "t0").checks[Check.BACKUP].reason == "AWS Backup snapshot 6 h old"
    looked_up = [p for op, _, p in fake.calls if op == "DescribeDBSnapshots"]
    assert len(looked_up) == 1  # one page: in bulk, as cheap as the one tenant alone
    assert {r.checks[Check.BACKUP].status for r in report.tenants} == {Status.OK}


def test_a_stale_copy_fails_and_names_the_destination(
    world: World, fake: FakeAws, retrier: Retrier
) -> None:
    world.instance("db-acme", tenant="acme")
    world.instance("db-beta", tenant="beta")
    fake.add_recovery_point(
        region=OTHER_REGION,
        vault="dr",
        resource_arn=arn("db-acme"),
        resource_type="RDS",
        created=NOW - 4 * H,
        source_vault_arn=f"arn:aws:backup:{REGION}:{ACCOUNT}:backup-vault:Default",
    )
    fake.add_automated_backup(
        region=OTHER_REGION,
        source_region=REGION,
        instance_arn=arn("db-beta"),
        identifier="db-beta",
        resource_id=_resource_id(world, "db-beta"),
        latest=NOW - 40 * H,
        earliest=NOW - 7 * D,
    )
    report = run(world, retrier, BACKUPWATCH_CHECKS="rds", BACKUPWATCH_COPY_REGIONS=OTHER_REGION)
    acme = row(report, "acme").checks[Check.COPY]
    assert acme.status is Status.OK
    assert acme.reason == f"copy in {OTHER_REGION} 4 h old (AWS Backup copy)"
    beta = row(report, "beta")
    assert beta.status is Status.STALE
    assert beta.checks[Check.COPY].reason == (
        f"copy in {OTHER_REGION} 40 h old (automated backup replication) (window 24 h)"
    )
    assert Check.COPY in report.checks


def test_a_copy_by_tag_only_concerns_that_tenant(
    world: World, fake: FakeAws, retrier: Retrier
) -> None:
    world.instance("db-acme", tenant="acme", tags={"backupwatch:copy-regions": OTHER_REGION})
    world.instance("db-beta", tenant="beta")
    report = run(world, retrier, BACKUPWATCH_CHECKS="rds")
    assert row(report, "acme").checks[Check.COPY].status is Status.MISSING
    assert Check.COPY not in row(report, "beta").checks


def test_retention_shorter_than_the_policy_is_noncompliant(
    world: World, fake: FakeAws, retrier: Retrier
) -> None:
    world.instance("db-acme", tenant="acme", retention=3)
    world.instance("db-beta", tenant="beta", retention=14)
    for age in range(14):
        world.automated_snapshot("db-beta", NOW - age * D - 2 * H)
    report = run(world, retrier, BACKUPWATCH_CHECKS="rds", BACKUPWATCH_MIN_RETENTION_DAYS="7")
    acme = row(report, "acme")
    assert acme.status is Status.NONCOMPLIANT
    assert acme.checks[Check.RDS].status is Status.OK
    assert acme.checks[Check.POLICY].reason.startswith(
        "retention 3 days (BackupRetentionPeriod), policy 7 days"
    )
    assert row(report, "beta").status is Status.OK


def test_daily_and_encryption_controls_read_the_same_listing(
    world: World, fake: FakeAws, retrier: Retrier
) -> None:
    world.instance("db-acme", tenant="acme", retention=7)
    for age in (0, 1, 2, 4, 5, 6):  # day 3 missed
        world.automated_snapshot("db-acme", NOW - age * D - 2 * H)
    report = run(
        world,
        retrier,
        BACKUPWATCH_CHECKS="rds",
        BACKUPWATCH_DAILY_BACKUP_DAYS="7",
    )
    policy = row(report, "acme").checks[Check.POLICY]
    assert policy.status is Status.NONCOMPLIANT
    assert policy.reason.startswith("no backup in 1 of the last 7 days")


def test_a_tag_cannot_loosen_the_rule(world: World, fake: FakeAws, retrier: Retrier) -> None:
    world.instance(
        "db-acme", tenant="acme", retention=0, tags={"backupwatch:rds-backup-rule": "either"}
    )
    recovery_point(fake, "db-acme", 5 * H)
    acme = row(run(world, retrier, BACKUPWATCH_CHECKS="rds,backup"), "acme")
    assert acme.status is Status.ERROR
    assert "cannot loosen" in acme.reason


def awsbackup_snapshot(
    fake: FakeAws, world: World, identifier: str, age: timedelta, *, resource_id: str | None = None
) -> None:
    """An RDS snapshot AWS Backup took of instance ``identifier``, ``age`` old, of the
    instance itself unless ``resource_id`` names another incarnation."""
    fake.add_awsbackup_snapshot(
        region=REGION,
        kind="instance",
        identifier=identifier,
        created=NOW - age,
        resource_id=resource_id or _resource_id(world, identifier),
    )


def _resource_id(world: World, identifier: str) -> str:
    described = world.rds().describe_db_instances(DBInstanceIdentifier=identifier)
    resource_id: str = described["DBInstances"][0]["DbiResourceId"]
    return resource_id


def test_a_predecessors_awsbackup_snapshot_never_vouches(
    world: World, fake: FakeAws, retrier: Retrier
) -> None:
    """Careless variant: an instance deleted and re-created under the same name inheriting
    the snapshots AWS Backup took of its predecessor."""
    world.instance("db-acme", tenant="acme", retention=0)
    fake.fail("ListBackupVaults")
    awsbackup_snapshot(fake, world, "db-acme", 3 * H, resource_id="db-PREDECESSOR0000000000000000")
    result = row(run(world, retrier, **BACKUP_ONLY), "acme").checks[Check.BACKUP]
    assert result.status is Status.ERROR


COPY_ACCOUNT = "222233334444"


def test_copies_in_a_copy_account_are_read_through_its_role(
    world: World, fake: FakeAws, retrier: Retrier
) -> None:
    """A copy in the central backup account, read with the copy role; careless variant: a
    recovery point in the tenant's own account counted as the cross-account copy."""
    world.instance("db-acme", tenant="acme")
    world.instance("db-beta", tenant="beta")
    fake.add_recovery_point(
        account_id=COPY_ACCOUNT,
        region=REGION,
        vault="central",
        resource_arn=arn("db-acme"),
        resource_type="RDS",
        created=NOW - 3 * H,
        source_vault_arn=f"arn:aws:backup:{REGION}:{ACCOUNT}:backup-vault:Default",
    )
    recovery_point(fake, "db-beta", 2 * H)  # in beta's own account: no disaster copy
    report = run(
        world,
        retrier,
        BACKUPWATCH_CHECKS="rds",
        BACKUPWATCH_COPY_ACCOUNTS=COPY_ACCOUNT,
        BACKUPWATCH_COPY_ROLE_NAME="backupwatch-copy-reader",
    )
    acme = row(report, "acme").checks[Check.COPY]
    assert acme.status is Status.OK
    assert acme.reason == f"copy in account {COPY_ACCOUNT} 3 h old (AWS Backup copy)"
    beta = row(report, "beta").checks[Check.COPY]
    assert beta.status is Status.MISSING
    assert beta.reason == f"no copy in account {COPY_ACCOUNT}"
    listed = {(operation, region) for operation, region, _ in fake.calls}
    assert ("ListRecoveryPointsByBackupVault", REGION) in listed


def test_a_listed_instance_not_found_never_costs_the_others_their_copy_check(
    world: World, fake: FakeAws, retrier: Retrier
) -> None:
    """A DB_INSTANCE_IDENTIFIER_<n> that no region returned has only the regions searched
    ("us-east-1,eu-west-1") for a region. It was used as a region to list the copy account
    in, which crashed the copy check of every tenant of the run: one bad line of
    configuration touches only its own tenant."""
    world.instance("db-acme", tenant="acme")
    fake.add_recovery_point(
        account_id=COPY_ACCOUNT,
        region=REGION,
        vault="central",
        resource_arn=arn("db-acme"),
        resource_type="RDS",
        created=NOW - 3 * H,
        source_vault_arn=f"arn:aws:backup:{REGION}:{ACCOUNT}:backup-vault:Default",
    )
    report = run(
        world,
        retrier,
        BACKUPWATCH_CHECKS="rds",
        BACKUPWATCH_REGIONS=f"{REGION},{OTHER_REGION}",
        BACKUPWATCH_COPY_ACCOUNTS=COPY_ACCOUNT,
        BACKUPWATCH_COPY_ROLE_NAME="backupwatch-copy-reader",
        DB_INSTANCE_IDENTIFIER_1="db-gone",
    )
    assert row(report, "acme").checks[Check.COPY].status is Status.OK
    gone = row(report, "db-gone")
    assert gone.status is Status.ERROR
    assert "not found" in gone.reason


def test_a_copy_role_that_cannot_be_assumed_is_error_for_the_copy_check_alone(
    world: World, fake: FakeAws, retrier: Retrier, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backupwatch.core.errors import AwsCallError
    from backupwatch.pipeline import extra_checks

    def denied(*_: Any, **__: Any) -> Any:
        raise AwsCallError("sts:AssumeRole", "AccessDenied", "not authorized", 1)

    monkeypatch.setattr(extra_checks, "enter", denied)
    world.instance("db-acme", tenant="acme")
    report = run(
        world,
        retrier,
        BACKUPWATCH_CHECKS="rds",
        BACKUPWATCH_COPY_ACCOUNTS=COPY_ACCOUNT,
        BACKUPWATCH_COPY_ROLE_NAME="backupwatch-copy-reader",
    )
    acme = row(report, "acme")
    assert acme.checks[Check.RDS].status is Status.OK
    assert acme.checks[Check.COPY].status is Status.ERROR
    assert "could not assume role arn:aws:iam::222233334444:role/backupwatch-copy-reader" in (
        acme.checks[Check.COPY].reason
    )


def test_explain_shows_the_new_checks_their_evidence_and_controls(
    world: World, fake: FakeAws, retrier: Retrier
) -> None:
    from backupwatch import load_settings
    from backupwatch.core.explain import explain
    from backupwatch.pipeline.monitor import examine_tenant

    from .conftest import env_for

    world.instance(
        "db-acme",
        tenant="acme",
        retention=0,
        tags={"backupwatch:min-retention-days": "14", "backupwatch:copy-regions": OTHER_REGION},
    )
    recovery_point(fake, "db-acme", 5 * H)
    policy = load_settings(
        env_for(**BACKUP_ONLY, BACKUPWATCH_MIN_RETENTION_DAYS="7")  # type: ignore[arg-type]
    )
    examined = examine_tenant(
        policy, "acme", session=world.session, clock=lambda: NOW, retrier=retrier
    )
    text = "\n".join(explain(examined.report, examined.resolved, settings=policy))
    assert "rds/backup rule   either    setting BACKUPWATCH_RDS_BACKUP_RULE" in text
    assert "min retention     14 days   tag backupwatch:min-retention-days" in text
    assert f"copy regions      {OTHER_REGION}" in text
    assert "  backup: OK" in text
    assert f"AWS Backup recovery points of {arn('db-acme')}" in text
    assert f"in {OTHER_REGION}: replicated automated backups and AWS Backup vaults" in text
    assert "  copy: MISSING" in text
    # Under "either" the policy judges the evidence that satisfied it: the recovery point
    # (kept 35 days), not the automated backups that are off.
    assert "  policy: OK\n    evidence: none\n    rule: OK: retention at least 14 days" in text
    assert "status: MISSING, the worst of backup OK, copy MISSING, policy OK; rds deferred to " in (
        text
    )
    assert "s3://" not in text.split("  backup: OK")[1].split("  copy:")[0]


def test_a_bug_gathering_aws_backup_is_the_backup_checks_error_alone(
    world: World, fake: FakeAws, retrier: Retrier, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Careless variant: a crash in the new listing ending the run, or passing the check."""
    from backupwatch.pipeline import extra_checks

    def broken(*_: Any, **__: Any) -> Any:
        raise KeyError("RecoveryPoints")

    monkeypatch.setattr(extra_checks, "backup_evidence", broken)
    world.instance("db-acme", tenant="acme")
    world.instance("db-beta", tenant="beta", retention=0)
    report = run(world, retrier, **BACKUP_ONLY)
    assert [r.tenant for r in report.tenants] == ["acme", "beta"]
    acme, beta = row(report, "acme"), row(report, "beta")
    assert acme.status is Status.OK  # its automated snapshot satisfies "either"
    assert acme.checks[Check.BACKUP].deferred_to is Check.RDS
    assert beta.checks[Check.BACKUP].status is Status.ERROR
    # AWS Backup could not be read, and may hold the backup RDS lacks: could not check.
    assert beta.status is Status.ERROR
    assert "could not read AWS Backup" in beta.reason
    assert "automated backups are off" in beta.reason


def test_a_bug_judging_one_tenants_policy_touches_that_tenant_alone(
    world: World, fake: FakeAws, retrier: Retrier, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backupwatch.core.models import Tenant
    from backupwatch.pipeline import extra_checks

    real = extra_checks.judge_policy

    def flaky(tenant: Tenant, *args: Any, **kwargs: Any) -> Any:
        if tenant.name == "acme":
            raise ZeroDivisionError("policy bug")
        return real(tenant, *args, **kwargs)

    monkeypatch.setattr(extra_checks, "judge_policy", flaky)
    world.instance("db-acme", tenant="acme")
    world.instance("db-beta", tenant="beta")
    report = run(world, retrier, BACKUPWATCH_CHECKS="rds", BACKUPWATCH_MIN_RETENTION_DAYS="7")
    assert row(report, "acme").checks[Check.POLICY].status is Status.ERROR
    assert "ZeroDivisionError" in row(report, "acme").checks[Check.POLICY].reason
    beta = row(report, "beta").checks[Check.POLICY]
    assert beta.status is Status.NONCOMPLIANT  # judged: one snapshot is no 7-day window
    assert beta.reason == "restore window reaches back 1 h, policy 7 days"


def test_a_predecessors_recovery_points_and_copies_never_vouch(
    world: World, fake: FakeAws, retrier: Retrier
) -> None:
    """Careless variant: an instance deleted and re-created under the same name (the same
    ARN) inheriting the recovery points and copies of its predecessor."""
    world.instance(
        "db-acme",
        tenant="acme",
        retention=0,
        created_at=NOW - 40 * H,  # past its first backup's due time: not new
        tags={"backupwatch:copy-regions": OTHER_REGION, "backupwatch:max-age-hours": "72"},
    )
    recovery_point(fake, "db-acme", 50 * H)  # the predecessor's, before the re-creation
    fake.add_recovery_point(
        region=OTHER_REGION,
        vault="dr",
        resource_arn=arn("db-acme"),
        resource_type="RDS",
        created=NOW - 49 * H,
    )
    acme = row(run(world, retrier, **BACKUP_ONLY), "acme")
    # Within the 72 h window both would be fresh, were they this instance's.
    assert acme.checks[Check.BACKUP].status is Status.PENDING
    assert acme.checks[Check.COPY].status is Status.PENDING
    recovery_point(fake, "db-acme", 10 * H)  # its own first backup
    again = row(run(world, retrier, **BACKUP_ONLY), "acme")
    assert again.checks[Check.BACKUP].reason == "AWS Backup recovery point 10 h old"


def test_the_daily_control_is_error_when_only_the_fallback_could_be_read(
    world: World, fake: FakeAws, retrier: Retrier
) -> None:
    """The fallback gives the newest backup only: a day-by-day history it cannot show is
    "could not check", never a false NONCOMPLIANT nor a pass."""
    world.instance("db-acme", tenant="acme", retention=0)
    fake.fail("ListBackupVaults")
    awsbackup_snapshot(fake, world, "db-acme", 3 * H)
    acme = row(run(world, retrier, **BACKUP_ONLY, BACKUPWATCH_DAILY_BACKUP_DAYS="7"), "acme")
    assert acme.checks[Check.BACKUP].status is Status.OK
    policy = acme.checks[Check.POLICY]
    assert policy.status is Status.ERROR
    assert "recovery points not read" in policy.reason
