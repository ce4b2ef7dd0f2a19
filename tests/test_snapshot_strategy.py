"""Bulk snapshot listing, or one call per tenant: whichever costs fewer RDS requests.

A few tenants in a big account would otherwise pay for reading every snapshot of the region.
"""

from __future__ import annotations

from typing import Any

import pytest

from backupwatch import Retrier, Status, check_tenants, load_settings
from backupwatch.aws.rds_evidence import newest_automated_cluster_snapshots, per_tenant_is_cheaper

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


def test_three_tenants_among_150_instances_use_three_filtered_calls(
    world: World, retrier: Retrier, snapshot_calls: list[dict[str, Any]]
) -> None:
    big_account(world, untagged=150, tagged=3)

    report = run(world, retrier)

    assert sorted(call["DBInstanceIdentifier"] for call in snapshot_calls) == [
        "db-000",
        "db-001",
        "db-002",
    ]
    assert all(call["SnapshotType"] == "automated" for call in snapshot_calls)
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
    """The same rule for cluster snapshots, whose filter is DBClusterIdentifier."""
    calls: list[dict[str, Any]] = []

    class FakeRds:
        def describe_db_cluster_snapshots(self, **params: Any) -> dict[str, Any]:
            calls.append(params)
            return {
                "DBClusterSnapshots": [
                    {
                        "DBClusterIdentifier": params["DBClusterIdentifier"],
                        "DBClusterSnapshotIdentifier": f"rds:{params['DBClusterIdentifier']}-1",
                        "SnapshotCreateTime": hours_ago(3),
                        "Status": "available",
                        "SnapshotType": "automated",
                    }
                ]
            }

    found = newest_automated_cluster_snapshots(
        FakeRds(),  # type: ignore[arg-type]
        retrier,
        ["aurora-a", "aurora-b"],
        expected=35 * 400,
    )

    assert [call["DBClusterIdentifier"] for call in calls] == ["aurora-a", "aurora-b"]
    assert set(found) == {"aurora-a", "aurora-b"}
