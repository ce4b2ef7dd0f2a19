"""S3 checks run on a bounded pool: really concurrent, never more than the pool, same report.

Concurrency is proven with a barrier, not with timings: the S3 listings of four tenants can
only get past it if four are in flight at once. The barrier's timeout only bounds a failure.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

import backupwatch.pipeline.monitor as monitor
from backupwatch import Retrier, Status
from backupwatch.aws.clients import s3_client

from .conftest import World, hours_ago
from .conftest import run_check as run


def tenants(world: World, count: int) -> list[str]:
    world.bucket()
    names = [f"tenant-{i:03d}" for i in range(count)]
    for i, name in enumerate(names):
        world.instance(f"db-{i:03d}", tenant=name)
        world.put(f"{name}-backups/x.dump", hours_ago(1 if i % 3 else 30))
    return names


def test_s3_listings_overlap(world: World, retrier: Retrier) -> None:
    tenants(world, 8)
    barrier = threading.Barrier(4, timeout=10)

    def wait_for_three_others(params: dict[str, Any], **_: Any) -> None:
        barrier.wait()  # BrokenBarrierError (an ERROR row) unless 4 listings are in flight

    world.session.events.register("before-call.s3.ListObjectsV2", wait_for_three_others)
    report = run(world, retrier, BACKUPWATCH_S3_CONCURRENCY="4")

    assert {row.checks["s3"].status for row in report.tenants} <= {Status.OK, Status.STALE}


def test_never_more_in_flight_than_the_pool(world: World, retrier: Retrier) -> None:
    tenants(world, 12)
    lock = threading.Lock()
    in_flight = [0]
    most = [0]

    def enter(**_: Any) -> None:
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])

    def leave(**_: Any) -> None:
        with lock:
            in_flight[0] -= 1

    world.session.events.register("before-call.s3.ListObjectsV2", enter)
    world.session.events.register("after-call.s3.ListObjectsV2", leave)
    run(world, retrier, BACKUPWATCH_S3_CONCURRENCY="3")

    assert 1 <= most[0] <= 3


@pytest.mark.parametrize("concurrency", ["1", "16"])
def test_the_report_does_not_depend_on_the_pool(
    world: World, retrier: Retrier, concurrency: str
) -> None:
    """Same rows, same order (discovery order), same verdicts, whatever the pool size."""
    names = tenants(world, 30)
    report = run(world, retrier, BACKUPWATCH_S3_CONCURRENCY=concurrency)
    assert [row.tenant for row in report.tenants] == names
    stale = {name for i, name in enumerate(names) if i % 3 == 0}
    assert {row.tenant for row in report.tenants if row.status is Status.STALE} == stale


def test_the_s3_client_pool_matches_the_threads(world: World) -> None:
    """urllib3 would otherwise drop connections beyond its default 10 and log warnings."""
    client = s3_client(world.session, "us-east-1", max_pool_connections=32)
    assert client.meta.config.max_pool_connections == 32


def test_a_bug_in_one_check_marks_that_tenant_not_the_run(
    world: World, retrier: Retrier, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception that is not an AWS error (a bug, a malformed response) stays per tenant."""
    names = tenants(world, 5)
    real = monitor.newest_objects

    def broken_for_one(s3: Any, retrier: Retrier, **kwargs: Any) -> Any:
        if kwargs["prefix"].startswith(names[2]):
            raise KeyError("Contents")
        return real(s3, retrier, **kwargs)

    monkeypatch.setattr(monitor, "newest_objects", broken_for_one)
    report = run(world, retrier)

    assert [row.tenant for row in report.tenants] == names
    broken = report.tenants[2]
    assert broken.status is Status.ERROR
    assert broken.checks["s3"].reason == "check failed unexpectedly: KeyError: 'Contents'"
    assert all(row.status is not Status.ERROR for row in report.tenants if row is not broken)


def test_a_bug_in_the_snapshot_listing_marks_every_rds_check(
    world: World, retrier: Retrier, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenants(world, 3)

    def broken(*_: Any, **__: Any) -> Any:
        raise TypeError("unexpected page")

    monkeypatch.setattr(monitor, "newest_automated_snapshots", broken)
    report = run(world, retrier)

    assert {row.checks["rds"].status for row in report.tenants} == {Status.ERROR}
    assert {row.checks["s3"].status for row in report.tenants} <= {Status.OK, Status.STALE}
