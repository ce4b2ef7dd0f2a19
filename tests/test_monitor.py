"""End-to-end checks of ``check_tenants`` against moto: discovery, evidence, verdicts."""

from __future__ import annotations

import pytest

from backupwatch import Check, Report, Retrier, Status, check_tenants, load_settings

from .conftest import BUCKET, NOW, OTHER_REGION, REGION, Faults, World, env_for, hours_ago
from .conftest import run_check as run


def by_name(report: Report) -> dict[str, object]:
    return {row.tenant: row for row in report.tenants}


def statuses(report: Report) -> dict[str, tuple[Status, Status | None, Status | None]]:
    """tenant -> (tenant status, rds status, s3 status)."""
    return {
        row.tenant: (
            row.status,
            row.checks[Check.RDS].status if Check.RDS in row.checks else None,
            row.checks[Check.S3].status if Check.S3 in row.checks else None,
        )
        for row in report.tenants
    }


def test_seed_layout_in_a_mix_of_states(world: World, retrier: Retrier) -> None:
    """The seed's own five instances and folders, listed the seed's way, get one verdict each."""
    world.bucket()
    world.instance("db1-instance", tenant=None)  # fresh snapshot, fresh dump: OK
    world.put("db1-backups/2026-11-27.dump", hours_ago(3))
    world.instance("db2-instance", tenant=None, snapshot_at=hours_ago(40))  # both stale
    world.put("db2-backups/2026-11-25.dump", hours_ago(40))
    world.instance("db3-instance", tenant=None)  # folder never written: MISSING
    world.instance("db4-instance", tenant=None, retention=0)  # backups off: DISABLED
    world.put("db4-backups/x.dump", hours_ago(2))
    world.instance("db5-instance", tenant=None)  # zero-byte export: EMPTY
    world.put("db5-backups/x.dump", hours_ago(2), size=0)
    seed = {}
    for n in range(1, 6):
        seed[f"DB_INSTANCE_IDENTIFIER_{n}"] = f"db{n}-instance"
        seed[f"S3_FOLDER_{n}"] = f"db{n}-backups/"

    report = run(world, retrier, BACKUPWATCH_S3_BUCKET="", S3_BUCKET_NAME=BUCKET, **seed)

    assert statuses(report) == {
        "db1-instance": (Status.OK, Status.OK, Status.OK),
        "db2-instance": (Status.STALE, Status.STALE, Status.STALE),
        "db3-instance": (Status.MISSING, Status.OK, Status.MISSING),
        "db4-instance": (Status.DISABLED, Status.DISABLED, Status.OK),
        "db5-instance": (Status.EMPTY, Status.OK, Status.EMPTY),
    }
    assert report.summary.failing == 4


def test_untagged_instances_are_not_tenants(world: World, retrier: Retrier) -> None:
    """Only instances carrying the tenant tag (or listed in the environment) are tenants."""
    world.bucket()
    world.instance("db-tenant", tenant="acme")
    world.instance("db-scratch", tenant=None, tags={"team": "data"})
    world.instance("db-other-tag", tenant=None, tags={"Backupwatch:Tenant": "case matters"})
    assert [row.db_instance_identifier for row in run(world, retrier).tenants] == ["db-tenant"]


def test_tenant_name_and_prefix_come_from_tags(world: World, retrier: Retrier) -> None:
    """The tag value names the tenant (empty: the identifier); the prefix tag picks the folder."""
    world.bucket()
    world.instance("db-7f3a", tenant="acme")
    world.put("acme-backups/a.dump", hours_ago(1))
    world.instance("db-plain", tenant="")
    world.put("db-plain-backups/a.dump", hours_ago(1))
    world.instance("db-legacy", tenant="wayne", tags={"backupwatch:s3-prefix": "old/wayne"})
    world.put("old/wayne/a.dump", hours_ago(1))
    world.put("wayne-backups/decoy.dump", hours_ago(1))

    rows = by_name(run(world, retrier))

    assert set(rows) == {"acme", "db-plain", "wayne"}
    assert rows["acme"].s3_prefix == "acme-backups/"
    assert rows["db-plain"].s3_prefix == "db-plain-backups/"
    assert rows["wayne"].s3_prefix == "old/wayne/"
    assert rows["wayne"].checks[Check.S3].key == "old/wayne/a.dump"
    assert all(row.status is Status.OK for row in rows.values())


def test_prefix_is_a_folder_so_acme_never_sees_acme_eu(world: World, retrier: Retrier) -> None:
    """Tenant ``acme`` with template ``{tenant}`` reads ``acme/``, never ``acme-eu/``."""
    world.bucket()
    world.instance("db-acme", tenant="acme")
    world.instance("db-acme-eu", tenant="acme-eu")
    world.put("acme-eu/fresh.dump", hours_ago(1))
    world.put("acme/old.dump", hours_ago(48))

    rows = by_name(run(world, retrier, BACKUPWATCH_PREFIX_TEMPLATE="{tenant}"))

    assert rows["acme"].s3_prefix == "acme/"
    assert rows["acme"].checks[Check.S3].status is Status.STALE
    assert rows["acme-eu"].checks[Check.S3].status is Status.OK


def test_fresh_object_on_the_third_page_is_found(world: World, retrier: Retrier) -> None:
    """2,500 old keys and one fresh key sorting last: every page is read, the tenant is OK."""
    world.bucket()
    world.instance("db-big", tenant="big")
    world.put_many([f"big-backups/{i:05d}.dump" for i in range(2500)], hours_ago(24 * 30))
    world.put("big-backups/99999-newest.dump", hours_ago(2))

    row = by_name(run(world, retrier))["big"]

    assert row.checks[Check.S3].status is Status.OK
    assert row.checks[Check.S3].key == "big-backups/99999-newest.dump"


def test_zero_byte_objects_only_is_empty(world: World, retrier: Retrier) -> None:
    """Fresh objects below the minimum size are EMPTY, not OK."""
    world.bucket()
    world.instance("db-z", tenant="z")
    world.put("z-backups/a.dump", hours_ago(1), size=0)
    world.put("z-backups/b.dump", hours_ago(2), size=0)
    row = by_name(run(world, retrier))["z"]
    assert row.checks[Check.S3].status is Status.EMPTY
    assert row.status is Status.EMPTY


def test_minimum_size_is_configurable(world: World, retrier: Retrier) -> None:
    """BACKUPWATCH_MIN_OBJECT_BYTES raises the bar: a fresh 1 KiB object is EMPTY at 1 MiB."""
    world.bucket()
    world.instance("db-z", tenant="z")
    world.put("z-backups/a.dump", hours_ago(1), size=1024)
    row = by_name(run(world, retrier, BACKUPWATCH_MIN_OBJECT_BYTES=str(1024 * 1024)))["z"]
    assert row.checks[Check.S3].status is Status.EMPTY


def test_retention_zero_is_disabled_despite_old_snapshots(world: World, retrier: Retrier) -> None:
    """BackupRetentionPeriod=0 means automated backups are off, whatever snapshots remain."""
    world.bucket()
    world.instance("db-off", tenant="off", retention=0, snapshot_at=hours_ago(24 * 10))
    world.put("off-backups/a.dump", hours_ago(1))
    row = by_name(run(world, retrier))["off"]
    assert row.checks[Check.RDS].status is Status.DISABLED
    assert "BackupRetentionPeriod=0" in row.reason


def test_fresh_manual_snapshot_does_not_hide_stale_automated(
    world: World, retrier: Retrier
) -> None:
    """Manual snapshots never count: a fresh manual + stale automated snapshot is STALE."""
    world.bucket()
    world.instance("db-m", tenant="m", snapshot_at=hours_ago(50))
    world.manual_snapshot("db-m", hours_ago(1))
    world.put("m-backups/a.dump", hours_ago(1))
    row = by_name(run(world, retrier))["m"]
    assert row.checks[Check.RDS].status is Status.STALE
    assert row.checks[Check.RDS].key.startswith("rds:db-m-")


def test_newest_available_automated_snapshot_wins(world: World, retrier: Retrier) -> None:
    """Of several automated snapshots the newest *available* one is judged."""
    world.bucket()
    world.instance("db-n", tenant="n", snapshot_at=hours_ago(80))
    fresh = world.automated_snapshot("db-n", hours_ago(5))
    world.automated_snapshot("db-n", hours_ago(1), status="creating")
    world.put("n-backups/a.dump", hours_ago(1))
    rds = by_name(run(world, retrier))["n"].checks[Check.RDS]
    assert (rds.status, rds.key, rds.age_hours) == (Status.OK, fresh, 5.0)


def test_no_automated_snapshot_is_missing(world: World, retrier: Retrier) -> None:
    """An instance with backups on but no automated snapshot is MISSING on the rds check."""
    world.bucket()
    world.instance("db-new", tenant="new")
    world.drop_snapshots("db-new")
    world.put("new-backups/a.dump", hours_ago(1))
    row = by_name(run(world, retrier))["new"]
    assert row.checks[Check.RDS].status is Status.MISSING


def test_missing_bucket_is_an_s3_error_and_the_run_goes_on(world: World, retrier: Retrier) -> None:
    """NoSuchBucket makes every s3 check ERROR; RDS is still judged; nothing is OK by default."""
    world.instance("db-a", tenant="a")
    world.instance("db-b", tenant="b", snapshot_at=hours_ago(30))

    report = run(world, retrier, BACKUPWATCH_S3_BUCKET="no-such-bucket")

    assert statuses(report) == {
        "a": (Status.ERROR, Status.OK, Status.ERROR),
        "b": (Status.ERROR, Status.STALE, Status.ERROR),
    }
    assert "NoSuchBucket" in by_name(report)["a"].checks[Check.S3].reason


def test_access_denied_on_one_prefix_marks_only_that_tenant(
    world: World, faults: Faults, retrier: Retrier
) -> None:
    """AccessDenied on one tenant's listing is that tenant's ERROR; the others are judged."""
    world.bucket()
    world.instance("db-a", tenant="a")
    world.put("a-backups/x.dump", hours_ago(1))
    world.instance("db-b", tenant="b")
    world.put("b-backups/x.dump", hours_ago(1))
    faults.fail(
        "s3", "ListObjectsV2", "AccessDenied", status=403, when=lambda p: "b-backups" in str(p)
    )

    report = run(world, retrier)

    assert statuses(report) == {
        "a": (Status.OK, Status.OK, Status.OK),
        "b": (Status.ERROR, Status.OK, Status.ERROR),
    }
    assert "AccessDenied" in by_name(report)["b"].reason


@pytest.mark.parametrize(
    ("tags", "problem"),
    [
        ({"backupwatch:max-age-hours": "daily"}, "backupwatch:max-age-hours='daily'"),
        ({"backupwatch:max-age-hours": "-5"}, "backupwatch:max-age-hours='-5'"),
        ({"backupwatch:s3-prefix": ""}, "backupwatch:s3-prefix is empty"),
    ],
)
def test_malformed_tag_marks_that_tenant_only(
    world: World, retrier: Retrier, tags: dict[str, str], problem: str
) -> None:
    """A malformed tag makes its tenant ERROR, names the tag, and keeps the checks that can run."""
    world.bucket()
    world.instance("db-bad", tenant="bad", tags=tags)
    world.put("bad-backups/x.dump", hours_ago(1))
    world.instance("db-good", tenant="good")
    world.put("good-backups/x.dump", hours_ago(1))

    rows = by_name(run(world, retrier))

    assert rows["bad"].status is Status.ERROR
    assert problem in rows["bad"].reason
    assert rows["bad"].checks[Check.RDS].status is Status.OK
    assert rows["good"].status is Status.OK


def test_max_age_tag_overrides_the_window(world: World, retrier: Retrier) -> None:
    """backupwatch:max-age-hours=48 keeps a 30 h old backup OK for that tenant only."""
    world.bucket()
    world.instance(
        "db-weekly",
        tenant="weekly",
        tags={"backupwatch:max-age-hours": "48"},
        snapshot_at=hours_ago(30),
    )
    world.put("weekly-backups/x.dump", hours_ago(30))
    world.instance("db-daily", tenant="daily", snapshot_at=hours_ago(30))
    world.put("daily-backups/x.dump", hours_ago(30))
    rows = by_name(run(world, retrier))
    assert rows["weekly"].status is Status.OK
    assert rows["daily"].status is Status.STALE


def test_two_regions(world: World, retrier: Retrier) -> None:
    """Tenants are discovered and judged in every configured region."""
    world.bucket()
    world.instance("db-us", tenant="us-tenant")
    world.put("us-tenant-backups/x.dump", hours_ago(1))
    world.instance("db-eu", tenant="eu-tenant", region=OTHER_REGION, snapshot_at=hours_ago(30))
    world.put("eu-tenant-backups/x.dump", hours_ago(1))

    report = run(world, retrier, BACKUPWATCH_REGIONS=f"{REGION},{OTHER_REGION}")

    assert {(r.tenant, r.region, r.status) for r in report.tenants} == {
        ("us-tenant", REGION, Status.OK),
        ("eu-tenant", OTHER_REGION, Status.STALE),
    }


def test_region_template_placeholder(world: World, retrier: Retrier) -> None:
    """``{region}`` in the template puts each region's tenants in their own folder."""
    world.bucket()
    world.instance("db-eu", tenant="t", region=OTHER_REGION)
    world.put(f"{OTHER_REGION}/t/x.dump", hours_ago(1))
    report = run(
        world,
        retrier,
        BACKUPWATCH_REGIONS=OTHER_REGION,
        BACKUPWATCH_PREFIX_TEMPLATE="{region}/{tenant}",
    )
    assert report.tenants[0].s3_prefix == f"{OTHER_REGION}/t/"
    assert report.tenants[0].status is Status.OK


def test_account_id_placeholder_costs_one_sts_call(
    world: World, faults: Faults, retrier: Retrier
) -> None:
    """``{account_id}`` is resolved with one GetCallerIdentity per run, and only when used."""
    world.bucket()
    world.instance("db-a", tenant="a")
    world.instance("db-b", tenant="b")
    world.put("123456789012/a/x.dump", hours_ago(1))
    faults.count("sts", "GetCallerIdentity")

    run(world, retrier)
    assert faults.calls.get("sts:GetCallerIdentity", 0) == 0

    report = run(world, retrier, BACKUPWATCH_PREFIX_TEMPLATE="{account_id}/{tenant}/")
    assert faults.calls["sts:GetCallerIdentity"] == 1
    assert by_name(report)["a"].s3_prefix == "123456789012/a/"
    assert by_name(report)["a"].checks[Check.S3].status is Status.OK


def test_unreadable_account_id_is_a_tenant_error_not_a_crash(
    world: World, faults: Faults, retrier: Retrier
) -> None:
    """When STS is denied, tenants whose prefix needs the account id are ERROR, with the reason."""
    world.bucket()
    world.instance("db-a", tenant="a")
    faults.fail("sts", "GetCallerIdentity", "AccessDenied", status=403)
    report = run(world, retrier, BACKUPWATCH_PREFIX_TEMPLATE="{account_id}/{tenant}/")
    row = report.tenants[0]
    assert row.status is Status.ERROR
    assert "account id" in row.reason
    assert row.checks[Check.RDS].status is Status.OK


def test_seed_variables_add_untagged_instances_and_merge_with_tags(
    world: World, retrier: Retrier
) -> None:
    """Environment-listed instances are tenants; one also tagged is one tenant, not two."""
    world.bucket()
    world.instance("db1-instance", tenant=None)
    world.put("legacy-one/x.dump", hours_ago(1))
    world.instance("db2-instance", tenant="two")
    world.put("two-backups/x.dump", hours_ago(1))
    world.put("legacy-two/x.dump", hours_ago(50))

    report = run(
        world,
        retrier,
        DB_INSTANCE_IDENTIFIER_1="db1-instance",
        S3_FOLDER_1="legacy-one",
        DB_INSTANCE_IDENTIFIER_2="db2-instance",
        S3_FOLDER_2="legacy-two/",
    )

    rows = by_name(report)
    assert len(report.tenants) == 2
    assert rows["db1-instance"].s3_prefix == "legacy-one/"
    # Named by the tag; folder from S3_FOLDER_2 since there is no prefix tag.
    assert rows["two"].s3_prefix == "legacy-two/"
    assert rows["two"].checks[Check.S3].status is Status.STALE


def test_seed_instance_not_found_is_an_error_not_dropped(world: World, retrier: Retrier) -> None:
    """A listed identifier no region returns is an ERROR tenant; its folder is still checked."""
    world.bucket()
    world.put("gone-backups/x.dump", hours_ago(1))
    report = run(world, retrier, DB_INSTANCE_IDENTIFIER_1="db-gone", S3_FOLDER_1="gone-backups/")
    row = by_name(report)["db-gone"]
    assert row.status is Status.ERROR
    assert "not found" in row.reason
    assert row.checks[Check.S3].status is Status.OK
    assert row.checks[Check.RDS].status is Status.ERROR


def test_discovery_failure_is_a_region_error(
    world: World, faults: Faults, retrier: Retrier
) -> None:
    """Denied DescribeDBInstances: the region is reported, the run is failing, never all-clear."""
    world.bucket()
    faults.fail("rds", "DescribeDBInstances", "AccessDenied", status=403)
    report = run(world, retrier)
    assert report.tenants == ()
    assert [e.region for e in report.region_errors] == [REGION]
    assert "AccessDenied" in report.region_errors[0].reason
    assert report.failing


def test_checks_setting_limits_the_checks(world: World, retrier: Retrier) -> None:
    """BACKUPWATCH_CHECKS=rds runs no S3 listing and needs no bucket."""
    world.instance("db-a", tenant="a")
    report = run(world, retrier, BACKUPWATCH_CHECKS="rds", BACKUPWATCH_S3_BUCKET="")
    assert set(report.tenants[0].checks) == {Check.RDS}
    assert report.tenants[0].status is Status.OK


def test_every_tenant_appears_exactly_once(world: World, retrier: Retrier) -> None:
    """Tagged, seed-listed, both, and not-found tenants: one row each."""
    world.bucket()
    for n in range(5):
        world.instance(f"db-{n}", tenant=f"t{n}")
    report = run(
        world,
        retrier,
        DB_INSTANCE_IDENTIFIER_1="db-0",
        DB_INSTANCE_IDENTIFIER_2="db-missing",
    )
    keys = [(row.region, row.db_instance_identifier) for row in report.tenants]
    assert len(keys) == len(set(keys)) == 6


def test_missing_credentials_are_region_errors_not_a_crash(
    fake_env: None, monkeypatch: pytest.MonkeyPatch, retrier: Retrier
) -> None:
    """No credentials at all: every region is reported as not checked; nothing raises."""
    import boto3

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    session = boto3.Session(region_name=REGION)
    report = check_tenants(
        load_settings(env_for()), session=session, clock=lambda: NOW, retrier=retrier
    )
    assert report.tenants == ()
    assert "NoCredentialsError" in report.region_errors[0].reason
    assert report.failing


def test_retention_zero_tenant_is_disabled_even_when_listing_fails(
    world: World, faults: Faults, retrier: Retrier
) -> None:
    """Backups off needs no snapshot to judge: DISABLED survives a denied snapshot listing."""
    world.bucket()
    world.instance("db-off", tenant="off", retention=0)
    world.instance("db-on", tenant="on")
    faults.fail("rds", "DescribeDBSnapshots", "AccessDenied", status=403)
    rows = by_name(run(world, retrier))
    assert rows["off"].checks[Check.RDS].status is Status.DISABLED
    assert rows["on"].checks[Check.RDS].status is Status.ERROR
