"""Tenant lifecycle (issue #5): new, stopped, paused, replica, PITR, per-tenant policy tags.

First the pure verdicts (``judge_rds``, ``judge_s3``, ``tenant_report``), then the same states
end to end through ``check_tenants`` on moto.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backupwatch import Check, Report, Retrier, Settings, Status, load_settings
from backupwatch.core.digest import render_digest
from backupwatch.core.evaluation import (
    first_backup_due,
    judge_rds,
    judge_s3,
    pause_note,
    tenant_report,
)
from backupwatch.core.models import CheckResult, ObjectInfo, S3Evidence, SnapshotInfo, Tenant

from .conftest import ACCOUNT, BUCKET, NOW, REGION, World, env_for, hours_ago
from .conftest import run_check as run

H = timedelta(hours=1)
PREFIX = "acme-backups/"


def settings(**variables: str) -> Settings:
    return load_settings(env_for(**variables))


SETTINGS = settings()


def tenant(**fields: Any) -> Tenant:
    """Tenant acme on instance db-acme, established long ago, unless ``fields`` say otherwise."""
    base: dict[str, Any] = {
        "name": "acme",
        "db_instance_identifier": "db-acme",
        "region": REGION,
        "s3_prefix": PREFIX,
        "max_age_hours": 24,
        "min_object_bytes": 1,
        "backup_retention_period": 7,
        "engine": "postgres",
        "resource_status": "available",
        "created_at": NOW - timedelta(days=90),
    }
    return Tenant(**{**base, **fields})


def snap(age: timedelta) -> SnapshotInfo:
    return SnapshotInfo(snapshot_id="rds:db-acme-2026-11-27-06-00", created_at=NOW - age)


def s3(*objects: ObjectInfo) -> S3Evidence:
    newest = max(objects, key=lambda o: o.last_modified, default=None)
    countable = max(
        (o for o in objects if o.size >= 1), key=lambda o: o.last_modified, default=None
    )
    return S3Evidence(
        bucket=BUCKET,
        prefix=PREFIX,
        min_object_bytes=1,
        objects_seen=len(objects),
        newest=newest,
        newest_countable=countable,
    )


def obj(age: timedelta, size: int = 1024) -> ObjectInfo:
    return ObjectInfo(key=PREFIX + "a.dump", last_modified=NOW - age, size=size)


def rds_verdict(t: Tenant, newest: SnapshotInfo | None = None, **kwargs: Any) -> CheckResult:
    return judge_rds(t, newest, now=NOW, settings=kwargs.pop("settings", SETTINGS), **kwargs)


# --- judge_rds: the order of the lifecycle ------------------------------------------------------


def test_established_tenant_is_judged_on_its_snapshot() -> None:
    """Without lifecycle facts in play, judge_rds is evaluate_rds."""
    assert rds_verdict(tenant(), snap(5 * H)).status is Status.OK
    assert rds_verdict(tenant(), snap(30 * H)).status is Status.STALE
    assert rds_verdict(tenant(), None).status is Status.MISSING


@pytest.mark.parametrize("kind", ["instance", "cluster"])
@pytest.mark.parametrize("newest", [None, snap(5 * H), snap(30 * H)])
def test_stopped_is_stopped_whatever_the_snapshot(kind: str, newest: SnapshotInfo | None) -> None:
    """A stopped instance or cluster takes no automated backups: STOPPED, with the last age."""
    verdict = rds_verdict(tenant(kind=kind, resource_status="stopped"), newest)
    assert verdict.status is Status.STOPPED
    assert verdict.reason.startswith(f"DB {kind} is stopped")
    if newest is not None:
        assert "newest automated snapshot" in verdict.reason
        assert verdict.key == newest.snapshot_id


@pytest.mark.parametrize("kind", ["instance", "cluster"])
def test_stopped_with_backups_off_is_disabled_not_stopped(kind: str) -> None:
    """Stopped excuses only what a start would fix: with retention 0 it is DISABLED (failing)."""
    stopped = tenant(kind=kind, resource_status="stopped", backup_retention_period=0)
    verdict = rds_verdict(stopped)
    assert verdict.status is Status.DISABLED
    assert verdict.status.failing
    assert f"DB {kind} is stopped too" in verdict.reason


def test_stopped_needs_no_snapshot_listing() -> None:
    """A stopped resource with backups on is STOPPED even when the listing failed."""
    stopped = tenant(resource_status="stopped")
    assert rds_verdict(stopped, listing_error="AccessDenied").status is Status.STOPPED


@pytest.mark.parametrize(
    ("engine", "skipped"),
    [
        ("postgres", True),
        ("sqlserver-ee", True),
        ("sqlserver-web", True),
        ("mysql", False),
        ("mariadb", False),
        ("oracle-ee", False),
    ],
)
def test_read_replicas_are_judged_by_their_engine(engine: str, skipped: bool) -> None:
    """PostgreSQL and SQL Server replicas have no automated backups (SKIPPED, with a reason);
    MySQL, MariaDB and Oracle replicas can, and are judged normally."""
    replica = tenant(engine=engine, read_replica_source="db-src", backup_retention_period=0)
    verdict = rds_verdict(replica, None)
    if skipped:
        assert verdict.status is Status.SKIPPED
        assert "read replica of 'db-src'" in verdict.reason
    else:
        assert verdict.status is Status.DISABLED
    fresh = rds_verdict(replica.model_copy(update={"backup_retention_period": 7}), snap(H))
    assert fresh.status is (Status.SKIPPED if skipped else Status.OK)


def test_cluster_member_rds_check_is_skipped() -> None:
    """A member instance has no backups of its own: SKIPPED, naming the cluster."""
    member = tenant(db_cluster_identifier="aurora-acme", engine="aurora-postgresql")
    verdict = rds_verdict(member, snap(H))
    assert verdict.status is Status.SKIPPED
    assert "'aurora-acme'" in verdict.reason


def test_listing_error_is_an_error_unless_the_lifecycle_decides() -> None:
    """A failed snapshot listing is ERROR, except where no snapshot is needed to judge."""
    assert rds_verdict(tenant(), listing_error="Throttling").status is Status.ERROR
    assert (
        "could not list snapshots: Throttling"
        in rds_verdict(tenant(), listing_error="Throttling").reason
    )
    assert (
        rds_verdict(tenant(backup_retention_period=0), listing_error="x").status is Status.DISABLED
    )
    new = tenant(created_at=NOW - H)
    assert rds_verdict(new, listing_error="x").status is Status.ERROR


def test_not_found_is_an_error() -> None:
    """A tenant whose instance was not found has nothing to judge."""
    verdict = rds_verdict(tenant(backup_retention_period=None, created_at=None))
    assert (verdict.status, verdict.reason) == (Status.ERROR, "no DB instance to check")


# --- new tenants ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("created_ago", "window", "grace", "pending"),
    [
        (H, 24, 2, True),
        (25.9 * H, 24, 2, True),
        (26 * H, 24, 2, False),
        (27 * H, 24, 2, False),
        (H, 24, 0, True),
        (24 * H, 24, 0, False),
        (40 * H, 48, 2, True),
        (timedelta(0), 24, 2, True),
    ],
)
def test_new_tenant_without_snapshot_is_pending(
    created_ago: timedelta, window: float, grace: float, pending: bool
) -> None:
    """No snapshot yet, created less than window + grace ago: PENDING; after that, MISSING."""
    configured = settings(BACKUPWATCH_NEW_TENANT_GRACE_HOURS=str(grace))
    new = tenant(created_at=NOW - created_ago, max_age_hours=window)
    verdict = rds_verdict(new, None, settings=configured)
    assert verdict.status is (Status.PENDING if pending else Status.MISSING)
    assert verdict.status.failing is not pending
    if pending:
        due = NOW - created_ago + timedelta(hours=window + grace)
        assert verdict.reason == f"new, first backup expected by {due:%Y-%m-%d %H:%M} UTC"
        assert first_backup_due(new, now=NOW, settings=configured) == due


def test_new_tenant_with_a_snapshot_is_judged_on_it() -> None:
    """PENDING only excuses missing evidence: a new tenant's snapshot counts as usual."""
    new = tenant(created_at=NOW - 3 * H)
    assert rds_verdict(new, snap(H)).status is Status.OK


def test_new_tenant_with_backups_off_is_disabled() -> None:
    """No backup will ever come with retention 0: DISABLED, not PENDING."""
    assert rds_verdict(tenant(created_at=NOW - H, backup_retention_period=0)).status is (
        Status.DISABLED
    )


@pytest.mark.parametrize("created_at", [None, NOW + timedelta(seconds=1), NOW + 48 * H])
def test_no_or_future_creation_time_is_never_pending(created_at: datetime | None) -> None:
    """PENDING needs a creation time that makes sense; a future one (clock skew) is not trusted."""
    t = tenant(created_at=created_at)
    assert rds_verdict(t, None).status is Status.MISSING
    assert first_backup_due(t, now=NOW, settings=SETTINGS) is None


def test_new_tenant_empty_folder_is_pending_but_written_folders_are_judged() -> None:
    """A new tenant's empty prefix is PENDING; EMPTY and STALE objects are still reported."""
    new = tenant(created_at=NOW - 2 * H)
    empty = judge_s3(new, s3(), now=NOW, settings=SETTINGS)
    assert empty.status is Status.PENDING
    assert empty.reason.startswith("new, first backup expected by 2026-11-28 07:00 UTC; no object")
    assert judge_s3(new, s3(obj(H, size=0)), now=NOW, settings=SETTINGS).status is Status.EMPTY
    assert judge_s3(new, s3(obj(30 * H)), now=NOW, settings=SETTINGS).status is Status.STALE
    assert judge_s3(new, s3(obj(H)), now=NOW, settings=SETTINGS).status is Status.OK
    old = tenant()
    assert judge_s3(old, s3(), now=NOW, settings=SETTINGS).status is Status.MISSING


# --- point-in-time recovery -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lag", "limit", "expected"),
    [
        (timedelta(minutes=5), 1, Status.OK),
        (H, 1, Status.OK),
        (H + timedelta(seconds=1), 1, Status.STALE),
        (5 * H, 1, Status.STALE),
        (5 * H, 6, Status.OK),
        (-H, 1, Status.OK),
    ],
)
def test_pitr_lag_turns_ok_into_stale(lag: timedelta, limit: float, expected: Status) -> None:
    """LatestRestorableTime further behind than the limit makes a fresh snapshot STALE."""
    configured = settings(BACKUPWATCH_PITR_MAX_LAG_HOURS=str(limit))
    lagging = tenant(latest_restorable_time=NOW - lag)
    verdict = rds_verdict(lagging, snap(3 * H), settings=configured)
    assert verdict.status is expected
    if expected is Status.STALE:
        assert verdict.reason.startswith("point-in-time recovery is")
        assert verdict.reason.endswith("; newest automated snapshot 3 h old")
        assert verdict.key == "rds:db-acme-2026-11-27-06-00"


def test_pitr_lag_is_added_to_a_failing_verdict() -> None:
    """On a STALE or MISSING snapshot the PITR lag is said too; no PITR time, no judgement."""
    lagging = tenant(latest_restorable_time=NOW - 50 * H)
    stale = rds_verdict(lagging, snap(30 * H))
    assert stale.status is Status.STALE
    assert stale.reason.startswith("newest automated snapshot 30 h old")
    assert "point-in-time recovery is 50 h behind" in stale.reason
    assert "point-in-time recovery" in rds_verdict(lagging, None).reason
    assert rds_verdict(tenant(latest_restorable_time=None), snap(H)).status is Status.OK


# --- paused ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("newest", [None, snap(H), snap(30 * H)])
def test_pause_covers_every_verdict_until_it_ends(newest: SnapshotInfo | None) -> None:
    """Before paused-until: PAUSED, and the reason keeps what it would be. From then: judged."""
    paused = tenant(paused_until=NOW + 48 * H)
    verdict = rds_verdict(paused, newest)
    unpaused = rds_verdict(tenant(), newest)
    assert verdict.status is Status.PAUSED
    assert verdict.reason == (
        f"paused until 2026-11-29 07:00 UTC; would be {unpaused.status.value}: {unpaused.reason}"
    )
    ended = tenant(paused_until=NOW)
    assert rds_verdict(ended, newest) == unpaused
    s3_verdict = judge_s3(paused, s3(), now=NOW, settings=SETTINGS)
    assert s3_verdict.status is Status.PAUSED
    assert "would be MISSING" in s3_verdict.reason


def test_pause_never_hides_an_error() -> None:
    """A check that could not be made stays ERROR, paused or not."""
    paused = tenant(paused_until=NOW + H)
    assert rds_verdict(paused, listing_error="AccessDenied").status is Status.ERROR


def test_ended_pause_is_a_visible_note_not_a_failure() -> None:
    """A past paused-until is said in the reason and the digest; the status is the checks'."""
    ended = tenant(paused_until=NOW - 24 * H)
    note = pause_note(ended, NOW)
    assert note is not None
    assert "ended 2026-11-26 07:00 UTC" in note
    assert pause_note(tenant(paused_until=NOW + H), NOW) is None
    results = {Check.RDS: rds_verdict(ended, snap(H))}
    row = tenant_report(ended, results, now=NOW, settings=SETTINGS)
    assert row.status is Status.OK
    assert not row.failing
    assert row.notes == (note,)
    assert row.reason.endswith(note)
    assert tenant_report(ended, results).notes == ()


# --- tenant_report --------------------------------------------------------------------------------


def ok(check: Check) -> CheckResult:
    return CheckResult(check=check, status=Status.OK, reason=f"{check.value} fine")


@pytest.mark.parametrize("stopped_is_failing", [False, True])
def test_stopped_is_failing_only_by_setting(stopped_is_failing: bool) -> None:
    """BACKUPWATCH_STOPPED_IS_FAILING makes a STOPPED tenant failing; STOPPED stays its status."""
    configured = settings(BACKUPWATCH_STOPPED_IS_FAILING=str(stopped_is_failing).lower())
    stopped = tenant(resource_status="stopped")
    results = {
        Check.RDS: judge_rds(stopped, snap(50 * H), now=NOW, settings=configured),
        Check.S3: ok(Check.S3),
    }
    row = tenant_report(stopped, results, now=NOW, settings=configured)
    assert row.status is Status.STOPPED
    assert row.failing is stopped_is_failing
    assert row.reason.startswith("rds: DB instance is stopped")
    assert "s3:" not in row.reason


@pytest.mark.parametrize("status", [Status.PENDING, Status.PAUSED, Status.SKIPPED])
def test_lifecycle_statuses_are_never_failing(status: Status) -> None:
    """PENDING, PAUSED and SKIPPED are listed, never failing, whatever the settings."""
    configured = settings(BACKUPWATCH_STOPPED_IS_FAILING="true")
    results = {
        Check.RDS: CheckResult(check=Check.RDS, status=status, reason="why"),
        Check.S3: ok(Check.S3),
    }
    row = tenant_report(tenant(), results, now=NOW, settings=configured)
    assert (row.status, row.failing, row.reason) == (status, False, "rds: why")


def test_a_real_failure_is_never_hidden_by_a_lifecycle_status() -> None:
    """STOPPED RDS and STALE S3: the tenant is STALE and failing."""
    stopped = tenant(resource_status="stopped")
    results = {
        Check.RDS: rds_verdict(stopped, snap(H)),
        Check.S3: judge_s3(stopped, s3(obj(30 * H)), now=NOW, settings=SETTINGS),
    }
    row = tenant_report(stopped, results, now=NOW, settings=SETTINGS)
    assert (row.status, row.failing) == (Status.STALE, True)
    assert row.reason.startswith("rds: DB instance is stopped")
    assert "s3: newest backup object 30 h old" in row.reason


def test_report_row_carries_kind_and_runbook() -> None:
    """The row says instance or cluster, its identifier, and the tenant's runbook."""
    cluster = tenant(
        kind="cluster", db_instance_identifier="aurora-acme", runbook="https://r.example/a"
    )
    row = tenant_report(cluster, {Check.RDS: ok(Check.RDS)})
    assert (row.kind, row.identifier, row.runbook) == (
        "cluster",
        "aurora-acme",
        "https://r.example/a",
    )


# --- end to end on moto ---------------------------------------------------------------------------


def created(world: World, identifier: str, at: datetime) -> None:
    """Set a moto instance's InstanceCreateTime (moto stamps the real time at creation)."""
    from moto.rds.models import rds_backends

    rds_backends[ACCOUNT][REGION].databases[identifier].instance_create_time = at.astimezone(
        UTC
    ).replace(tzinfo=None)


@pytest.fixture
def restorable_times(monkeypatch: pytest.MonkeyPatch) -> dict[str, datetime]:
    """moto always says LatestRestorableTime is now; this lets a test choose it per instance."""
    from moto.rds.models import DBInstance

    chosen: dict[str, datetime] = {}
    real = DBInstance.latest_restorable_time

    def latest(self: Any) -> datetime:
        when = chosen.get(self.db_instance_identifier)
        return when.astimezone(UTC).replace(tzinfo=None) if when else real.fget(self)

    monkeypatch.setattr(DBInstance, "latest_restorable_time", property(latest))
    return chosen


def rows(report: Report) -> dict[str, Any]:
    return {row.tenant: row for row in report.tenants}


def test_every_lifecycle_state_end_to_end(
    world: World, retrier: Retrier, restorable_times: dict[str, datetime]
) -> None:
    """One moto world with a tenant in each new state; one run judges them all."""
    world.bucket()
    world.instance("db-ok", tenant="ok")
    world.put("ok-backups/a.dump", hours_ago(2))
    # New: created 3 h ago, nothing anywhere yet.
    world.instance("db-new", tenant="new")
    world.drop_snapshots("db-new")
    created(world, "db-new", hours_ago(3))
    # Stopped three days ago; its dumps go on.
    world.instance("db-stopped", tenant="stopped", snapshot_at=hours_ago(72))
    world.rds().stop_db_instance(DBInstanceIdentifier="db-stopped")
    world.put("stopped-backups/a.dump", hours_ago(2))
    # Paused for a migration; nothing fresh.
    world.instance(
        "db-paused",
        tenant="paused",
        tags={"backupwatch:paused-until": "2026-12-01"},
        snapshot_at=hours_ago(80),
    )
    # A PostgreSQL read replica: no automated backups of its own; its dumps are checked.
    world.instance("db-src", tenant=None)
    world.rds().create_db_instance_read_replica(
        DBInstanceIdentifier="db-replica",
        SourceDBInstanceIdentifier="db-src",
        Tags=[{"Key": "backupwatch:tenant", "Value": "replica"}],
    )
    world.put("replica-backups/a.dump", hours_ago(2))
    # PITR broken: fresh snapshot, restorable time 6 h behind.
    world.instance("db-pitr", tenant="pitr")
    world.put("pitr-backups/a.dump", hours_ago(2))
    restorable_times["db-pitr"] = hours_ago(6)

    report = run(world, retrier)
    got = rows(report)

    expected = {
        "ok": (Status.OK, Status.OK, Status.OK),
        "new": (Status.PENDING, Status.PENDING, Status.PENDING),
        "stopped": (Status.STOPPED, Status.STOPPED, Status.OK),
        "paused": (Status.PAUSED, Status.PAUSED, Status.PAUSED),
        "replica": (Status.SKIPPED, Status.SKIPPED, Status.OK),
        "pitr": (Status.STALE, Status.STALE, Status.OK),
    }
    assert {
        name: (row.status, row.checks[Check.RDS].status, row.checks[Check.S3].status)
        for name, row in got.items()
    } == expected
    assert report.summary.failing == 1
    assert "new, first backup expected by 2026-11-28 06:00 UTC" in got["new"].reason
    assert "read replica of 'db-src'" in got["replica"].reason
    assert "paused until 2026-12-01 00:00 UTC" in got["paused"].reason
    assert "point-in-time recovery is 6 h behind" in got["pitr"].reason

    body = render_digest(report).body
    assert "1 of 6 tenants failing (1 STALE); 1 OK; 4 listed, not failing" in body
    for status in ("STOPPED", "PENDING", "PAUSED", "SKIPPED"):
        assert f"{status} (1, not failing)" in body


def test_stopped_is_failing_setting_end_to_end(world: World, retrier: Retrier) -> None:
    """With BACKUPWATCH_STOPPED_IS_FAILING=true the stopped tenant fails the run."""
    world.bucket()
    world.instance("db-stopped", tenant="stopped")
    world.rds().stop_db_instance(DBInstanceIdentifier="db-stopped")
    world.put("stopped-backups/a.dump", hours_ago(2))

    relaxed = run(world, retrier)
    strict = run(world, retrier, BACKUPWATCH_STOPPED_IS_FAILING="true")

    assert (relaxed.tenants[0].status, relaxed.failing) == (Status.STOPPED, False)
    assert (strict.tenants[0].status, strict.failing) == (Status.STOPPED, True)
    assert "STOPPED (1)\n" in render_digest(strict).body
    assert render_digest(strict).subject.endswith("1 of 1 tenants failing")
    assert render_digest(relaxed).subject.endswith("0 of 1 tenants failing, 0 OK")


def test_checks_tag_limits_the_tenant_to_s3(world: World, retrier: Retrier) -> None:
    """backupwatch:checks=s3: no RDS check for that tenant (even a broken one); S3 as usual."""
    world.bucket()
    world.instance("db-s3only", tenant="s3only", tags={"backupwatch:checks": "s3"}, retention=0)
    world.put("s3only-backups/a.dump", hours_ago(2))
    world.instance("db-both", tenant="both")
    world.put("both-backups/a.dump", hours_ago(2))

    got = rows(run(world, retrier))

    assert set(got["s3only"].checks) == {Check.S3}
    assert got["s3only"].status is Status.OK
    assert set(got["both"].checks) == {Check.RDS, Check.S3}


def test_rds_only_tenant_is_not_listed_in_s3(world: World, retrier: Retrier) -> None:
    """backupwatch:checks=rds: its folder is never listed."""
    world.bucket()
    world.instance("db-rds", tenant="rdsonly", tags={"backupwatch:checks": "rds"})
    listed: list[str] = []
    world.session.events.register(
        "before-call.s3.ListObjectsV2", lambda params, **_: listed.append(params["Prefix"])
    )
    got = rows(run(world, retrier))
    assert set(got["rdsonly"].checks) == {Check.RDS}
    assert listed == []


def test_min_object_bytes_tag_end_to_end(world: World, retrier: Retrier) -> None:
    """backupwatch:min-object-bytes raises the bar for that tenant only."""
    world.bucket()
    world.instance("db-big", tenant="big", tags={"backupwatch:min-object-bytes": "4096"})
    world.put("big-backups/a.dump", hours_ago(1), size=2048)
    world.instance("db-small", tenant="small")
    world.put("small-backups/a.dump", hours_ago(1), size=2048)
    got = rows(run(world, retrier))
    assert got["big"].checks[Check.S3].status is Status.EMPTY
    assert "smaller than 4 KiB" in got["big"].reason
    assert got["small"].status is Status.OK


def test_runbook_is_shown_next_to_a_failure(world: World, retrier: Retrier) -> None:
    """A failing tenant's runbook follows its digest line; an OK tenant's is not shown."""
    world.bucket()
    url = "https://wiki.example.com/runbooks/globex"
    world.instance("db-globex", tenant="globex", tags={"backupwatch:runbook": url})
    world.instance("db-acme", tenant="acme", tags={"backupwatch:runbook": url + "-acme"})
    world.put("acme-backups/a.dump", hours_ago(1))

    report = run(world, retrier)
    lines = render_digest(report).body.split("\n")

    index = next(i for i, line in enumerate(lines) if line.startswith("  - globex [MISSING]"))
    assert lines[index + 1] == f"    runbook: {url}"
    assert rows(report)["globex"].runbook == url
    assert not any("-acme" in line for line in lines)


def test_bad_policy_tags_are_tenant_errors_end_to_end(world: World, retrier: Retrier) -> None:
    """Unknown check names, an unparsable pause and a non-URL runbook each make an ERROR row."""
    world.bucket()
    for name, tags in {
        "a": {"backupwatch:checks": "s3 ebs"},
        "b": {"backupwatch:paused-until": "after the migration"},
        "c": {"backupwatch:runbook": "see wiki"},
        "d": {"backupwatch:min-object-bytes": "1MB"},
    }.items():
        world.instance(f"db-{name}", tenant=name, tags=tags)
        world.put(f"{name}-backups/a.dump", hours_ago(1))
    got = rows(run(world, retrier))
    assert {name: row.status for name, row in got.items()} == dict.fromkeys("abcd", Status.ERROR)
    assert "unknown check 'ebs'" in got["a"].reason
    assert set(got["a"].checks) == {Check.RDS, Check.S3}
    assert "not paused" in got["b"].reason
    assert got["b"].checks[Check.RDS].status is Status.OK


def test_ended_pause_shows_in_the_digest_notes(world: World, retrier: Retrier) -> None:
    """An OK tenant whose pause has ended is named under NOTES, and the run is not failing."""
    world.bucket()
    world.instance("db-back", tenant="back", tags={"backupwatch:paused-until": "2026-11-20"})
    world.put("back-backups/a.dump", hours_ago(1))
    report = run(world, retrier)
    assert report.tenants[0].status is Status.OK
    assert not report.failing
    body = render_digest(report).body
    assert "NOTES (1)" in body
    assert (
        "  - back [OK] (db-back, us-east-1): the pause of tag backupwatch:paused-until ended"
        in body
    )


# --- property: never OK without fresh evidence --------------------------------------------------


@pytest.mark.parametrize("status", ["available", "stopped", "backing-up"])
@pytest.mark.parametrize("retention", [0, 7])
@pytest.mark.parametrize("created_ago", [None, H, 100 * H])
@pytest.mark.parametrize("paused_for", [None, -H, H])
@pytest.mark.parametrize("replica_engine", [None, "postgres", "mysql"])
@pytest.mark.parametrize("snapshot_age", [None, H, 30 * H])
@pytest.mark.parametrize("pitr_lag", [None, timedelta(minutes=5), 3 * H])
def test_rds_ok_only_on_fresh_evidence_and_lifecycle_never_fails(
    status: str,
    retention: int,
    created_ago: timedelta | None,
    paused_for: timedelta | None,
    replica_engine: str | None,
    snapshot_age: timedelta | None,
    pitr_lag: timedelta | None,
) -> None:
    """Over every mix of lifecycle facts: OK needs a fresh snapshot, backups on, nothing in the
    way; a lifecycle status is never failing; a failing one is never hidden by a pause."""
    t = tenant(
        resource_status=status,
        backup_retention_period=retention,
        created_at=None if created_ago is None else NOW - created_ago,
        paused_until=None if paused_for is None else NOW + paused_for,
        engine=replica_engine or "postgres",
        read_replica_source="db-src" if replica_engine else None,
        latest_restorable_time=None if pitr_lag is None else NOW - pitr_lag,
    )
    verdict = rds_verdict(t, None if snapshot_age is None else snap(snapshot_age))
    paused = paused_for is not None and paused_for > timedelta(0)
    if verdict.status is Status.OK:
        assert snapshot_age is not None
        assert snapshot_age <= 24 * H
        assert retention > 0
        assert status != "stopped"
        assert not paused
        assert pitr_lag is None or pitr_lag <= H
    if paused:
        assert verdict.status is Status.PAUSED
    if verdict.status in (Status.STOPPED, Status.PENDING, Status.PAUSED, Status.SKIPPED):
        assert not verdict.status.failing
