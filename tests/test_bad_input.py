"""Bad input stays with its owner: any tag value, and any bug judging one tenant, touches only
that tenant. The run always completes, every tenant exactly once, and one digest renders."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backupwatch import Check, Retrier, Status
from backupwatch.core.digest import render_digest
from backupwatch.core.evaluation import judge_rds, judge_s3, tenant_report
from backupwatch.core.models import ObjectInfo, Report, S3Evidence, SnapshotInfo
from backupwatch.core.tenancy import Resource, parse_pause, tenant_from_resource

from .conftest import BUCKET, NOW, REGION, World, hours_ago
from .conftest import run_check as run
from .test_lifecycle import SETTINGS

KNOWN_TAGS = [
    SETTINGS.tenant_tag,
    "backupwatch:s3-prefix",
    "backupwatch:max-age-hours",
    "backupwatch:min-object-bytes",
    "backupwatch:checks",
    "backupwatch:paused-until",
    "backupwatch:runbook",
]
NASTY = [
    "9999-12-31T23:59:59-05:00",
    "9999-12-31T23:59:59+14:00",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01",
    "1e308",
    "1e-308",
    "-0",
    "nan",
    "inf",
    "9" * 400,
    "\u202e\u2066acme\u2069",
    "\x00\x1b[31m\x7f",
    "",
    " ",
    "rds,s3",
    "s3",
]
tag_values = st.one_of(st.sampled_from(NASTY), st.text(max_size=40))
tag_dicts = st.dictionaries(
    st.one_of(st.sampled_from(KNOWN_TAGS), st.text(max_size=10)), tag_values, max_size=8
)


@settings(max_examples=300, deadline=None)
@given(tags=tag_dicts, created_days=st.floats(min_value=-1, max_value=400))
def test_any_tags_give_a_verdict_and_a_digest(tags: dict[str, str], created_days: float) -> None:
    resource = Resource(
        identifier="db-x",
        region=REGION,
        tags={SETTINGS.tenant_tag: "x", **tags},
        backup_retention_period=7,
        created_at=NOW - timedelta(days=created_days),
        status="available",
    )
    tenant = tenant_from_resource(resource, settings=SETTINGS)
    assert tenant is not None
    snapshot = SnapshotInfo(snapshot_id="rds:db-x", created_at=hours_ago(2))
    fresh = ObjectInfo(key="x/a.dump", last_modified=hours_ago(1), size=2048)
    evidence = S3Evidence(
        bucket=BUCKET,
        prefix=tenant.s3_prefix or "x/",
        min_object_bytes=tenant.min_object_bytes,
        objects_seen=1,
        newest=fresh,
        newest_countable=fresh if fresh.size >= tenant.min_object_bytes else None,
    )
    results = {
        Check.RDS: judge_rds(tenant, snapshot, now=NOW, settings=SETTINGS),
        Check.S3: judge_s3(tenant, evidence, now=NOW, settings=SETTINGS),
    }
    row = tenant_report(tenant, results, now=NOW, settings=SETTINGS)
    if tenant.problems:
        assert row.status is Status.ERROR
    report = Report(generated_at=NOW, regions=(REGION,), checks=SETTINGS.checks, tenants=(row,))
    digest = render_digest(report)
    assert digest.subject
    assert "db-x" in digest.body or row.status is Status.OK


@pytest.mark.parametrize(
    "text", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00+14:00", "9999-12-31T23:59:59-00:01"]
)
def test_pause_past_the_end_of_the_calendar_is_malformed(text: str) -> None:
    assert parse_pause(text) is None


def test_odd_tag_values_touch_only_their_own_tenant(world: World, retrier: Retrier) -> None:
    world.bucket()
    odd = {
        "a": {"backupwatch:paused-until": "9999-12-31T23:59:59-05:00"},
        "b": {"backupwatch:max-age-hours": "1e308"},
        "c": {"backupwatch:min-object-bytes": "9" * 400},
        "d": {"backupwatch:s3-prefix": "\u202eevil\u202c/"},
    }
    for name, tags in odd.items():
        world.instance(f"db-{name}", tenant=name, tags=tags)
    world.instance("db-good", tenant="good")
    world.put("good-backups/x.dump", hours_ago(1))

    report = run(world, retrier)

    rows = {row.tenant: row for row in report.tenants}
    assert sorted(rows) == ["a", "b", "c", "d", "good"]
    assert rows["good"].status is Status.OK
    for name in "abc":
        assert rows[name].status is Status.ERROR, rows[name].reason
    assert render_digest(report).body


def test_a_bug_building_one_tenant_is_that_tenants_error(
    world: World, retrier: Retrier, monkeypatch: pytest.MonkeyPatch
) -> None:
    import backupwatch.aws.discovery as discovery

    real = discovery.tenant_from_resource

    def flaky(resource: Resource, **kwargs: Any) -> Any:
        if resource.identifier == "db-bad":
            raise RuntimeError("boom")
        return real(resource, **kwargs)

    monkeypatch.setattr(discovery, "tenant_from_resource", flaky)
    world.bucket()
    world.instance("db-bad", tenant="bad")
    world.instance("db-good", tenant="good")
    world.put("good-backups/x.dump", hours_ago(1))

    rows = {row.tenant: row for row in run(world, retrier).tenants}

    assert rows["good"].status is Status.OK
    assert rows["bad"].status is Status.ERROR
    assert "check failed unexpectedly: RuntimeError: boom" in rows["bad"].reason


def test_a_bug_judging_one_tenant_leaves_the_batch_alone(
    world: World, retrier: Retrier, monkeypatch: pytest.MonkeyPatch
) -> None:
    import backupwatch.pipeline.monitor as monitor

    real = monitor.judge_rds

    def flaky(tenant: Any, *args: Any, **kwargs: Any) -> Any:
        if tenant.name == "bad":
            raise ZeroDivisionError("bug")
        return real(tenant, *args, **kwargs)

    monkeypatch.setattr(monitor, "judge_rds", flaky)
    world.bucket()
    for name in ("bad", "good", "fine"):
        world.instance(f"db-{name}", tenant=name)
        world.put(f"{name}-backups/x.dump", hours_ago(1))

    rows = {row.tenant: row for row in run(world, retrier).tenants}

    assert rows["good"].status is rows["fine"].status is Status.OK
    assert rows["bad"].status is Status.ERROR
    assert rows["bad"].checks[Check.RDS].reason.startswith("check failed unexpectedly")
    assert rows["bad"].checks[Check.S3].status is Status.OK


def test_a_bug_in_the_report_row_is_that_tenants_error(
    world: World, retrier: Retrier, monkeypatch: pytest.MonkeyPatch
) -> None:
    import backupwatch.pipeline.monitor as monitor

    real = monitor.tenant_report
    calls = {"n": 0}

    def flaky(tenant: Any, *args: Any, **kwargs: Any) -> Any:
        if tenant.name == "bad" and calls["n"] == 0:
            calls["n"] += 1
            raise KeyError("bug")
        return real(tenant, *args, **kwargs)

    monkeypatch.setattr(monitor, "tenant_report", flaky)
    world.bucket()
    for name in ("bad", "good"):
        world.instance(f"db-{name}", tenant=name)
        world.put(f"{name}-backups/x.dump", hours_ago(1))

    rows = {row.tenant: row for row in run(world, retrier).tenants}

    assert rows["good"].status is Status.OK
    assert rows["bad"].status is Status.ERROR
