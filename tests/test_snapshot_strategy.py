"""Bulk snapshot listing, or a listing filtered to the tenants: whichever costs fewer RDS
requests, with the same facts either way.

A few tenants in a big account would otherwise pay for reading every snapshot of the region.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, ClassVar

import pytest
from botocore.exceptions import ClientError

from backupwatch import Retrier, Status, check_tenants, load_settings
from backupwatch.aws.rds_evidence import (
    FILTER_VALUES,
    filtered_is_cheaper,
    newest_automated_cluster_snapshots,
    newest_automated_snapshots,
    newest_awsbackup_snapshots,
    per_tenant_is_cheaper,
)
from backupwatch.core.models import SnapshotInfo

from .conftest import NOW, World, env_for, hours_ago


@pytest.mark.parametrize(
    ("tenants", "expected", "cheaper"),
    [
        (3, 1_071, True),  # 11 bulk pages against 3 calls
        (10, 1_000, False),  # 10 pages against 10 calls: a tie keeps the bulk listing
        (9, 1_000, True),
        (150, 1_071, False),
        (1, 0, False),  # nothing to read: one bulk page
        (1, None, False),  # unknown size: bulk, whose cost does not grow with tenants
        (0, 5_000, True),
    ],
)
def test_per_tenant_only_when_fewer_calls(
    tenants: int, expected: int | None, cheaper: bool
) -> None:
    assert per_tenant_is_cheaper(tenants, expected) is cheaper


@pytest.fixture
def snapshot_calls(world: World) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    world.session.events.register(
        "before-parameter-build.rds.DescribeDBSnapshots",
        lambda params, **_: calls.append(dict(params)),
    )
    return calls


def big_account(world: World, *, untagged: int, tagged: int) -> None:
    world.bucket()
    for n in range(untagged):
        world.instance(f"other-{n:03d}", tenant=None)
    for n in range(tagged):
        world.instance(f"db-{n:03d}", tenant=f"t{n:03d}", snapshot_at=hours_ago(2 + 30 * (n % 2)))


def run(world: World, retrier: Retrier) -> Any:
    settings = load_settings(env_for(BACKUPWATCH_CHECKS="rds"))
    return check_tenants(settings, session=world.session, clock=lambda: NOW, retrier=retrier)


@pytest.mark.parametrize(
    ("tenants", "retention", "expected", "cheaper"),
    [
        (3, 7, 1_071, True),  # 1 filtered page against 11 bulk ones
        (50, 35, 70_000, True),  # 18 against 700: 50 tenants among 2,000 instances
        (100, 7, 700, False),  # the whole region: 7 pages either way, a tie keeps bulk
        (150, 7, 1_050, False),  # 2 batches (7 + 4 pages) against 11
        (30, 0, 0, False),  # backups off everywhere: one empty bulk page
        (30, 0, 5_000, True),  # backups off for the tenants only: one empty filtered page
        (3, 7, None, False),  # unknown region: bulk
    ],
)
def test_filtered_only_when_fewer_calls(
    tenants: int, retention: int, expected: int | None, cheaper: bool
) -> None:
    own = {f"db-{n:03d}": retention for n in range(tenants)}
    assert filtered_is_cheaper(own, expected, own) is cheaper


def test_three_tenants_among_150_instances_use_one_filtered_call(
    world: World, retrier: Retrier, snapshot_calls: list[dict[str, Any]]
) -> None:
    big_account(world, untagged=150, tagged=3)

    report = run(world, retrier)

    assert snapshot_calls == [
        {
            "SnapshotType": "automated",
            "MaxRecords": 100,
            "Filters": [{"Name": "db-instance-id", "Values": ["db-000", "db-001", "db-002"]}],
        }
    ]
    assert [row.status for row in report.tenants] == [Status.OK, Status.STALE, Status.OK]


def test_many_tenants_use_the_bulk_listing(
    world: World, retrier: Retrier, snapshot_calls: list[dict[str, Any]]
) -> None:
    big_account(world, untagged=0, tagged=30)

    report = run(world, retrier)

    assert len(snapshot_calls) == 1
    assert "DBInstanceIdentifier" not in snapshot_calls[0]
    assert report.summary.by_status[Status.OK] == 15
    assert report.summary.by_status[Status.STALE] == 15


def test_clusters_are_filtered_by_cluster_identifier(retrier: Retrier) -> None:
    """The same rule for cluster snapshots, whose filter is db-cluster-id."""
    rds = PagingRds()
    for name in ("aurora-a", "aurora-b", *(f"other-{n}" for n in range(400))):
        rds.add("cluster", name, days=35)

    found = newest_automated_cluster_snapshots(
        rds,  # type: ignore[arg-type]
        retrier,
        ["aurora-a", "aurora-b"],
        expected=35 * 402,
        own={"aurora-a": 35, "aurora-b": 35},
    )

    assert rds.filters == [["aurora-a", "aurora-b"]]
    assert len(rds.calls) == 1  # 70 snapshots: one page, against 141 bulk pages
    assert set(found) == {"aurora-a", "aurora-b"}
    assert len(found["aurora-a"].times) == 35


class PagingRds:
    """DescribeDBSnapshots and DescribeDBClusterSnapshots as the service model describes them:
    ``SnapshotType``, the owner parameter, ``Filters`` on the owner (at most ``limit`` values,
    else ``InvalidParameterCombination``, as RDS answers an over-long DescribeDBClusters
    filter), pages of ``MaxRecords`` (20..100) with ``Marker``."""

    OWNERS: ClassVar[dict[str, str]] = {
        "instance": "DBInstanceIdentifier",
        "cluster": "DBClusterIdentifier",
    }
    FILTERS: ClassVar[dict[str, str]] = {
        "db-instance-id": "DBInstanceIdentifier",
        "db-cluster-id": "DBClusterIdentifier",
    }

    def __init__(self, limit: int = FILTER_VALUES) -> None:
        self.limit = limit
        self.snapshots: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []
        self.filters: list[list[str]] = []
        self._listed: dict[str, list[dict[str, Any]]] = {}
        """Each listing's items, kept across its pages (a world of 70,000 is scanned once)."""

    def add(
        self,
        kind: str,
        owner: str,
        *,
        days: int,
        newest: datetime = NOW - timedelta(hours=2),
        snapshot_type: str = "automated",
        **extra: Any,
    ) -> None:
        """``days`` snapshots of ``owner``, one a day, the newest at ``newest``."""
        for day in range(days):
            at = newest - timedelta(days=day)
            self.snapshots.append(
                {
                    self.OWNERS[kind]: owner,
                    "DBSnapshotIdentifier": f"rds:{owner}-{at:%Y-%m-%d-%H-%M}",
                    "DBClusterSnapshotIdentifier": f"rds:{owner}-{at:%Y-%m-%d-%H-%M}",
                    "SnapshotCreateTime": at,
                    "Status": "available",
                    "SnapshotType": snapshot_type,
                    **extra,
                }
            )

    def describe_db_snapshots(self, **params: Any) -> dict[str, Any]:
        return self._page("DBSnapshots", "DBInstanceIdentifier", params)

    def describe_db_cluster_snapshots(self, **params: Any) -> dict[str, Any]:
        return self._page("DBClusterSnapshots", "DBClusterIdentifier", params)

    def _page(self, items: str, owner: str, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(params)
        size = params.get("MaxRecords", 100)
        assert 20 <= size <= 100
        for spec in params.get("Filters", []):
            assert self.FILTERS[spec["Name"]] == owner, spec
            if len(set(spec["Values"])) > self.limit:
                refused = {"Code": "InvalidParameterCombination", "Message": "too many values"}
                raise ClientError({"Error": refused}, "DescribeDBSnapshots")  # type: ignore[typeddict-item]
            if not params.get("Marker"):
                self.filters.append(list(spec["Values"]))
        listing = repr({k: v for k, v in sorted(params.items()) if k != "Marker"})
        if listing not in self._listed or not params.get("Marker"):
            self._listed[listing] = self._matching(owner, params)
        matching = self._listed[listing]
        start = int(params.get("Marker") or 0)
        page: dict[str, Any] = {items: matching[start : start + size]}
        if start + size < len(matching):
            page["Marker"] = str(start + size)
        return page

    def _matching(self, owner: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        values = [set(spec["Values"]) for spec in params.get("Filters", [])]
        return [
            s
            for s in self.snapshots
            if owner in s
            and s["SnapshotType"] == params.get("SnapshotType", s["SnapshotType"])
            and s[owner] == params.get(owner, s[owner])
            and all(s[owner] in allowed for allowed in values)
        ]


def region(*, tenants: int, others: int, retention: int, others_retention: int) -> PagingRds:
    """A region of ``tenants`` + ``others`` instances, each with its retention's snapshots."""
    rds = PagingRds()
    for n in range(others):
        rds.add("instance", f"other-{n:04d}", days=others_retention)
    for n in range(tenants):
        rds.add("instance", f"db-{n:04d}", days=retention)
    return rds


@pytest.mark.parametrize(
    ("tenants", "others", "retention", "others_retention"),
    [
        (1, 0, 35, 35),
        (3, 150, 7, 7),
        (50, 2_000, 35, 35),  # a minority: others' snapshots fill the bulk pages
        (50, 2_000, 1, 1),
        (120, 0, 35, 35),  # the whole region, two filter batches
        (250, 50, 7, 7),
        (250, 2_000, 1, 1),
        (40, 400, 0, 7),  # the tenants' backups off: nothing of theirs to read
        (40, 400, 7, 0),  # everybody else's off: nothing to skip
        (30, 0, 0, 0),  # backups off everywhere
    ],
)
def test_the_listing_takes_the_fewest_calls_at_every_mix(
    retrier: Retrier, tenants: int, others: int, retention: int, others_retention: int
) -> None:
    """Calls made = the cheaper of the bulk listing and the filtered one, never more than one
    per tenant; and the same snapshots found as the bulk listing finds."""
    rds = region(
        tenants=tenants, others=others, retention=retention, others_retention=others_retention
    )
    wanted = {f"db-{n:04d}": None for n in range(tenants)}
    expected = tenants * retention + others * others_retention
    own = dict.fromkeys(wanted, retention)

    found = newest_automated_snapshots(rds, retrier, wanted, expected, own=own)  # type: ignore[arg-type]

    bulk = max(1, math.ceil(expected / 100))
    batches = math.ceil(tenants / FILTER_VALUES)
    filtered = sum(
        max(1, math.ceil(min(FILTER_VALUES, tenants - b * FILTER_VALUES) * retention / 100))
        for b in range(batches)
    )
    assert len(rds.calls) == min(bulk, filtered)
    assert len(rds.calls) <= max(1, tenants)  # never above one call per tenant
    rds.calls.clear()
    assert found == newest_automated_snapshots(rds, retrier, wanted, None)  # type: ignore[arg-type]
    assert "Filters" not in rds.calls[0]  # that was the bulk listing


def test_the_filtered_listing_reads_every_page_of_a_batch(retrier: Retrier) -> None:
    """100 tenants at 35 days are 35 pages under one filter: each tenant's every snapshot time,
    as the bulk listing gives it (the daily and restore-window controls read them)."""
    rds = region(tenants=100, others=2_000, retention=35, others_retention=1)
    wanted = [f"db-{n:04d}" for n in range(100)]
    own = dict.fromkeys(wanted, 35)

    found = newest_automated_snapshots(rds, retrier, wanted, 5_500, own=own)  # type: ignore[arg-type]

    assert len(rds.calls) == 35
    assert {len(info.times) for info in found.values()} == {35}
    assert found == newest_automated_snapshots(rds, retrier, wanted, None)  # type: ignore[arg-type]


def first_page_only(rds: PagingRds, wanted: list[str]) -> dict[str, SnapshotInfo]:
    """A careless filtered listing: one call for all the tenants, its first page only."""
    page = rds.describe_db_snapshots(
        SnapshotType="automated",
        MaxRecords=100,
        Filters=[{"Name": "db-instance-id", "Values": wanted}],
    )
    newest: dict[str, SnapshotInfo] = {}
    for item in page["DBSnapshots"]:
        owner, created = item["DBInstanceIdentifier"], item["SnapshotCreateTime"]
        if owner not in newest or created > newest[owner].created_at:
            newest[owner] = SnapshotInfo(
                snapshot_id=item["DBSnapshotIdentifier"], created_at=created, times=(created,)
            )
    return newest


@pytest.mark.parametrize(
    ("careless", "fails"),
    [
        (lambda rds, wanted: first_page_only(rds, wanted[:100]), AssertionError),
        (first_page_only, ClientError),  # 150 values in one filter: refused
    ],
)
def test_careless_filtered_listings_are_caught(
    retrier: Retrier,
    careless: Callable[[PagingRds, list[str]], dict[str, SnapshotInfo]],
    fails: type[Exception],
) -> None:
    rds = region(tenants=150, others=2_000, retention=35, others_retention=1)
    wanted = [f"db-{n:04d}" for n in range(150)]
    truth = newest_automated_snapshots(rds, retrier, wanted, None)  # type: ignore[arg-type]

    def same_facts() -> None:
        found = careless(rds, wanted)
        assert set(found) == set(truth), "a careless listing lost tenants"
        assert all(found[o].times == truth[o].times for o in truth), "it lost snapshots"

    with pytest.raises(fails):
        same_facts()


def test_a_refused_filter_falls_back_to_one_call_per_tenant(retrier: Retrier) -> None:
    """Should RDS take fewer values than ``FILTER_VALUES``: one call per tenant after the
    refused one, and nothing lost."""
    rds = region(tenants=30, others=2_000, retention=7, others_retention=7)
    rds.limit = 10
    wanted = [f"db-{n:04d}" for n in range(30)]

    found = newest_automated_snapshots(
        rds,  # type: ignore[arg-type]
        retrier,
        wanted,
        14_210,
        own=dict.fromkeys(wanted, 7),
    )

    assert len(rds.calls) == 1 + 30
    assert [call.get("DBInstanceIdentifier") for call in rds.calls[1:]] == wanted
    assert found == newest_automated_snapshots(rds, retrier, wanted, None)  # type: ignore[arg-type]


def test_awsbackup_snapshots_are_filtered_too(retrier: Retrier) -> None:
    """AWS Backup's snapshots: the old one-call-per-resource bound decides, and the filtered
    listing is one call for the lot."""
    rds = PagingRds()
    for n in range(500):
        rds.add("instance", f"other-{n:04d}", days=3, snapshot_type="awsbackup")
    for n in range(5):
        rds.add("instance", f"db-{n:04d}", days=3, snapshot_type="awsbackup")
    wanted: dict[str, str | None] = {f"db-{n:04d}": None for n in range(5)}

    found = newest_awsbackup_snapshots(rds, retrier, wanted, "instance", expected=1_515)  # type: ignore[arg-type]

    assert len(rds.calls) == 1
    assert rds.calls[0]["SnapshotType"] == "awsbackup"
    assert set(found) == set(wanted)
