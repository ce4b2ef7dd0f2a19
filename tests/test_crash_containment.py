"""A bug anywhere in a run costs its own scope at most, never the report or the digest.

Tenants have their guards (tests/test_bad_input.py); these are the ones above them: a region's
discovery, the whole account check, and the digest's rendering. Each test injects a bug where
no AWS error could reach, and checks that the run still ends with a failing report and exactly
one digest that names what was lost.
"""

from __future__ import annotations

from typing import Any

import pytest

from backupwatch import Report, Retrier, Status, check_tenants, load_settings, run_daily
from backupwatch.core.digest import emergency_digest

from .conftest import NOW, OTHER_REGION, REGION, World, env_for, hours_ago
from .conftest import run_check as run


def _two_regions(world: World) -> None:
    world.bucket()
    world.instance("db-here", tenant="here")
    world.instance("db-there", tenant="there", region=OTHER_REGION)
    world.put("here-backups/x.dump", hours_ago(1))
    world.put("there-backups/x.dump", hours_ago(1))


def test_a_bug_in_one_regions_discovery_is_that_regions_error(
    world: World, retrier: Retrier, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An odd page that crashes our code in one region: that region is not checked, named with
    the bug; the other region is checked as usual."""
    import backupwatch.aws.discovery as discovery

    real = discovery.instance_pages

    def flaky(rds: Any, listing: Retrier) -> Any:
        if rds.meta.region_name == OTHER_REGION:
            raise TypeError("odd page")
        return real(rds, listing)

    monkeypatch.setattr(discovery, "instance_pages", flaky)
    _two_regions(world)

    report = run(world, retrier, BACKUPWATCH_REGIONS=f"{REGION},{OTHER_REGION}")

    assert [(row.tenant, row.status) for row in report.tenants] == [("here", Status.OK)]
    (error,) = report.region_errors
    assert error.region == OTHER_REGION
    assert error.reason == "discovery failed unexpectedly: TypeError: odd page"
    assert report.failing


def test_a_bug_in_cluster_discovery_keeps_the_instances(
    world: World, retrier: Retrier, monkeypatch: pytest.MonkeyPatch
) -> None:
    import backupwatch.aws.discovery as discovery

    monkeypatch.setattr(discovery, "cluster_pages", _raise(ValueError("bad cluster")))
    _two_regions(world)

    report = run(world, retrier)

    assert [(row.tenant, row.status) for row in report.tenants] == [("here", Status.OK)]
    (error,) = report.region_errors
    assert error.reason.startswith("cluster discovery failed unexpectedly: ValueError")
    assert "DB instances were checked" in error.reason


def test_a_bug_outside_every_tenant_guard_fails_the_scope_not_the_run(
    world: World, retrier: Retrier, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The careless variant raises out of ``check_tenants``: no report, no digest."""
    import backupwatch.pipeline.monitor as monitor

    monkeypatch.setattr(monitor, "assign_folders", _raise(RuntimeError("bug")))
    _two_regions(world)
    settings = load_settings(env_for(BACKUPWATCH_REGIONS=f"{REGION},{OTHER_REGION}"))

    report = check_tenants(settings, session=world.session, clock=lambda: NOW, retrier=retrier)

    assert report.failing
    assert sorted(e.region for e in report.region_errors) == sorted([REGION, OTHER_REGION])
    assert all(
        e.reason == "check failed unexpectedly: RuntimeError: bug" for e in report.region_errors
    )


def test_a_rendering_bug_still_publishes_one_plain_digest(
    world: World, retrier: Retrier, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``render_digest`` crashes: the run publishes the plain fallback, once, naming the
    failing tenant and the bug."""
    world.bucket()
    world.instance("db-ok", tenant="ok")
    world.put("ok-backups/x.dump", hours_ago(1))
    world.instance("db-old", tenant="old", snapshot_at=hours_ago(40))
    world.put("old-backups/x.dump", hours_ago(40))
    topic = world.topic()
    settings = load_settings(env_for(world_topic=topic))
    outcome = run_daily(
        settings,
        session=world.session,
        clock=lambda: NOW,
        retrier=retrier,
        render=_raise(ZeroDivisionError("render bug")),
    )

    (sent,) = world.published(topic)
    assert sent["subject"] == "backupwatch 2026-11-27: 1 of 2 tenants failing (plain digest)"
    assert "ZeroDivisionError: render bug" in sent["message"]
    assert "  - old [STALE] (db-old, us-east-1): " in sent["message"]
    assert outcome.message_id is not None


def test_the_plain_digest_fits_sns_and_names_unchecked_scopes() -> None:
    from backupwatch import RegionError, TenantReport
    from backupwatch.core.digest import MESSAGE_MAX_BYTES

    rows = tuple(
        TenantReport(
            tenant=f"t{i}",
            db_instance_identifier=f"db-t{i}",
            region=REGION,
            status=Status.MISSING,
            reason="x" * 500,
        )
        for i in range(2000)
    )
    report = Report(
        generated_at=NOW,
        regions=(REGION,),
        checks=(),
        tenants=rows,
        region_errors=(RegionError(region=OTHER_REGION, reason="AccessDenied"),),
    )
    digest = emergency_digest(report, RuntimeError("x"))
    assert digest.size_bytes <= MESSAGE_MAX_BYTES
    assert digest.failing == 2001
    assert digest.subject.endswith("2000 of 2000 tenants failing, 1 not checked (plain digest)")
    assert f"NOT CHECKED {OTHER_REGION}: AccessDenied" in digest.body


def _raise(error: BaseException) -> Any:
    def fail(*_: Any, **__: Any) -> Any:
        raise error

    return fail
