"""Discovery feeds the S3 checks page by page, and ownership still decides every verdict.

A standalone DB instance tenant's S3 check starts as soon as its ``DescribeDBInstances`` page
arrives, while discovery asks for the next page. Folder ownership is only known once every
tenant is, so an early check counts only when ownership left its tenant as it was; otherwise
the tenant is checked again, the ordinary way. These tests prove both halves without timings:
discovery's second page is held until an S3 listing has been made (the wait's timeout only
bounds a failure), and the tenants whose ownership a later page changes keep the verdict the
whole run owes them.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest

import backupwatch.aws.discovery as discovery
from backupwatch import Check, Retrier, Status

from .conftest import World, hours_ago
from .conftest import run_check as run

PREFIX_TAG = "backupwatch:s3-prefix"


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """20 instances a page (RDS's least ``MaxRecords``), so a few tenants span pages."""
    monkeypatch.setattr(discovery, "PAGE_SIZE", 20)


def _listings(world: World) -> Counter[str]:
    """Counts ``ListObjectsV2`` calls by prefix, from now on."""
    listed: Counter[str] = Counter()
    lock = threading.Lock()

    def count(params: dict[str, Any], **_: Any) -> None:
        with lock:
            listed[params.get("Prefix", "")] += 1

    world.session.events.register("before-parameter-build.s3.ListObjectsV2", count)
    return listed


@pytest.mark.usefixtures("small_pages")
def test_s3_checks_start_before_discovery_has_every_page(world: World, retrier: Retrier) -> None:
    """The second ``DescribeDBInstances`` page is asked for only once an S3 listing of a
    first-page tenant was made: a run that waited for every page would never make it."""
    world.bucket()
    for i in range(45):  # 3 pages
        world.instance(f"db-{i:02d}", tenant=f"t{i:02d}")
        world.put(f"t{i:02d}-backups/x.dump", hours_ago(1))
    listed_early = threading.Event()
    second_page_waited: list[bool] = []

    def s3_listed(**_: Any) -> None:
        listed_early.set()

    def next_page(params: dict[str, Any], **_: Any) -> None:
        if params.get("Marker"):
            second_page_waited.append(listed_early.wait(timeout=10))

    world.session.events.register("before-call.s3.ListObjectsV2", s3_listed)
    world.session.events.register("before-parameter-build.rds.DescribeDBInstances", next_page)
    listed = _listings(world)

    report = run(world, retrier)

    assert second_page_waited == [True, True]
    assert {row.status for row in report.tenants} == {Status.OK}
    # Started early, never again: one listing per tenant, as before.
    assert len(report.tenants) == 45
    assert listed == Counter({f"t{i:02d}-backups/": 1 for i in range(45)})


@pytest.mark.usefixtures("small_pages")
@pytest.mark.parametrize("inner_first", [True, False], ids=["inner-first", "outer-first"])
def test_a_folder_nested_by_a_later_page_is_still_excluded(
    world: World, retrier: Retrier, inner_first: bool
) -> None:
    """acme's folder holds acme-eu's, and acme-eu is found pages after acme (or before): acme's
    early listing saw acme-eu's fresh dump, and must not be used. acme is STALE on its own
    old dump, never OK on acme-eu's, in either order."""
    world.bucket()
    pairs = [
        ("db-acme", "acme", "backups/acme/"),
        ("db-acme-eu", "acme-eu", "backups/acme/eu/"),
    ]
    if inner_first:
        pairs.reverse()
    first, last = pairs
    world.instance(first[0], tenant=first[1], tags={PREFIX_TAG: first[2]})
    for i in range(40):  # two pages between them
        world.instance(f"db-{i:02d}", tenant=f"t{i:02d}")
        world.put(f"t{i:02d}-backups/x.dump", hours_ago(1))
    world.instance(last[0], tenant=last[1], tags={PREFIX_TAG: last[2]})
    world.put("backups/acme/old.dump", hours_ago(50))
    world.put("backups/acme/eu/fresh.dump", hours_ago(1))

    rows = {row.tenant: row for row in run(world, retrier).tenants}

    assert rows["acme"].checks[Check.S3].status is Status.STALE
    assert rows["acme"].checks[Check.S3].key == "backups/acme/old.dump"
    assert rows["acme-eu"].checks[Check.S3].status is Status.OK
    assert rows["acme-eu"].checks[Check.S3].key == "backups/acme/eu/fresh.dump"
    assert any("inside the folder of tenant 'acme'" in n for n in rows["acme-eu"].notes)


@pytest.mark.usefixtures("small_pages")
def test_a_folder_claimed_by_a_later_tag_is_refused_though_listed_early(
    world: World, retrier: Retrier
) -> None:
    """evil is found first and its tag points at acme's folder, which holds a fresh dump;
    acme, the folder's owner, comes pages later. evil's early listing found that dump: it is
    thrown away, and evil is ERROR, as in a run that listed nothing before discovery ended."""
    world.bucket()
    world.instance("db-evil", tenant="evil", tags={PREFIX_TAG: "acme-backups/"})
    for i in range(40):
        world.instance(f"db-{i:02d}", tenant=f"t{i:02d}")
        world.put(f"t{i:02d}-backups/x.dump", hours_ago(1))
    world.instance("db-acme", tenant="acme")
    world.put("acme-backups/fresh.dump", hours_ago(1))

    rows = {row.tenant: row for row in run(world, retrier).tenants}

    assert rows["evil"].checks[Check.S3].status is Status.ERROR
    assert "belongs to tenant 'acme'" in rows["evil"].checks[Check.S3].reason
    assert rows["acme"].status is Status.OK


def test_a_crash_in_early_work_waits_for_the_ordinary_check(
    world: World, retrier: Retrier, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Starting a check early may fail (a bug): discovery goes on, and the tenant is checked
    after it, the ordinary way."""
    import backupwatch.pipeline.monitor as monitor

    def broken(self: Any, tenant: Any) -> None:
        raise RuntimeError("early start broke")

    monkeypatch.setattr(monitor._EarlyS3, "__call__", broken)
    world.bucket()
    world.instance("db-a", tenant="a")
    world.put("a-backups/x.dump", hours_ago(1))
    listed = _listings(world)

    [row] = run(world, retrier).tenants

    assert row.status is Status.OK
    assert listed == Counter({"a-backups/": 1})


def test_the_snapshot_listing_never_queues_behind_s3_checks(world: World, retrier: Retrier) -> None:
    """One S3 thread, busy with checks discovery started: the RDS snapshot listing still starts
    (it has a pool of its own). Each S3 listing waits until the snapshot listing has begun; a
    listing queued behind them would never begin, and every wait would time out."""
    world.bucket()
    for i in range(3):
        world.instance(f"db-{i}", tenant=f"t{i}")
        world.put(f"t{i}-backups/x.dump", hours_ago(1))
    snapshots_listed = threading.Event()
    waits: list[bool] = []

    def rds_listing(**_: Any) -> None:
        snapshots_listed.set()

    def s3_listing(**_: Any) -> None:
        waits.append(snapshots_listed.wait(timeout=10))

    world.session.events.register("before-parameter-build.rds.DescribeDBSnapshots", rds_listing)
    world.session.events.register("before-parameter-build.s3.ListObjectsV2", s3_listing)

    report = run(world, retrier, BACKUPWATCH_S3_CONCURRENCY="1")

    assert waits == [True, True, True]
    assert {row.status for row in report.tenants} == {Status.OK}


def test_cluster_tenants_start_as_their_page_arrives(
    world: World, retrier: Retrier, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Aurora fleets too: a cluster tenant's S3 check starts before the next
    ``DescribeDBClusters`` page is read. moto answers that listing in one page whatever
    ``MaxRecords`` says, so its page is cut in two here, where discovery reads the pages."""
    from .test_aurora import cluster

    world.bucket()
    for i in range(6):
        cluster(world, f"aurora-{i}", tenant=f"c{i}")
        world.put(f"c{i}-backups/x.dump", hours_ago(1))
    listed_early = threading.Event()
    second_page_waited: list[bool] = []
    real_pages = discovery.cluster_pages

    def two_pages(rds: Any, retrier: Retrier) -> Any:
        for page in real_pages(rds, retrier):
            yield page[:3]
            second_page_waited.append(listed_early.wait(timeout=10))
            yield page[3:]

    def s3_listed(**_: Any) -> None:
        listed_early.set()

    monkeypatch.setattr(discovery, "cluster_pages", two_pages)
    world.session.events.register("before-parameter-build.s3.ListObjectsV2", s3_listed)
    listed = _listings(world)

    report = run(world, retrier)

    assert second_page_waited == [True]
    assert {(row.kind, row.status) for row in report.tenants} == {("cluster", Status.OK)}
    assert listed == Counter({f"c{i}-backups/": 1 for i in range(6)})
