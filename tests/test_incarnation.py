"""A resource deleted and re-created under the same identifier does not inherit its
predecessor's snapshots: snapshots are matched on ``DbiResourceId`` / ``DbClusterResourceId``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from backupwatch import Check, Retrier, Status
from backupwatch.aws.rds_evidence import (
    newest_automated_cluster_snapshots,
    newest_automated_snapshots,
)

from .conftest import NOW, REGION, World, hours_ago
from .conftest import run_check as run


def test_recreated_instance_is_not_ok_on_its_predecessors_snapshot(
    world: World, retrier: Retrier
) -> None:
    """moto keeps the first instance's fresh snapshot; the new incarnation has none yet."""
    world.bucket()
    world.instance("db-acme", tenant="acme", created_at=NOW - timedelta(days=3))
    world.put("acme-backups/x.dump", hours_ago(1))
    backend_db = world._rds_backend(REGION).databases["db-acme"]
    backend_db.dbi_resource_id = "db-NEWINCARNATION"  # re-created: a new resource id

    row = run(world, retrier).tenants[0]

    assert row.checks[Check.RDS].status is Status.MISSING
    assert row.failing


def test_careless_variant_same_incarnation_counts(world: World, retrier: Retrier) -> None:
    world.bucket()
    world.instance("db-acme", tenant="acme")
    world.put("acme-backups/x.dump", hours_ago(1))

    row = run(world, retrier).tenants[0]

    assert row.checks[Check.RDS].status is Status.OK


class _FakeRds:
    """Answers DescribeDBSnapshots / DescribeDBClusterSnapshots with the given items, in the
    shape of the botocore service model (one page, no Marker)."""

    def __init__(self, items: str, snapshots: list[dict[str, Any]]) -> None:
        self._page = {items: snapshots}

    def describe_db_snapshots(self, **_: Any) -> dict[str, Any]:
        return self._page

    def describe_db_cluster_snapshots(self, **_: Any) -> dict[str, Any]:
        return self._page


def _cluster_snapshot(name: str, resource_id: str, age_hours: float) -> dict[str, Any]:
    return {
        "DBClusterSnapshotIdentifier": name,
        "DBClusterIdentifier": "aurora-acme",
        "DbClusterResourceId": resource_id,
        "SnapshotType": "automated",
        "Status": "available",
        "SnapshotCreateTime": hours_ago(age_hours),
    }


def test_cluster_snapshots_match_the_cluster_resource_id(retrier: Retrier) -> None:
    rds = _FakeRds(
        "DBClusterSnapshots",
        [
            _cluster_snapshot("rds:old-fresh", "cluster-OLD", 1),
            _cluster_snapshot("rds:new", "cluster-NEW", 5),
        ],
    )
    found = newest_automated_cluster_snapshots(rds, retrier, {"aurora-acme": "cluster-NEW"})  # type: ignore[arg-type]
    assert found["aurora-acme"].snapshot_id == "rds:new"
    only_old = _FakeRds("DBClusterSnapshots", [_cluster_snapshot("rds:o", "cluster-OLD", 1)])
    assert (
        newest_automated_cluster_snapshots(only_old, retrier, {"aurora-acme": "cluster-NEW"}) == {}
    )  # type: ignore[arg-type]


def test_unknown_resource_id_matches_any_snapshot(retrier: Retrier) -> None:
    """Without an id to compare (a plain list, or a snapshot without the field), the
    identifier alone decides, as before."""
    rds = _FakeRds("DBClusterSnapshots", [_cluster_snapshot("rds:x", "cluster-OLD", 1)])
    assert newest_automated_cluster_snapshots(rds, retrier, ["aurora-acme"])  # type: ignore[arg-type]
    snap = {
        "DBSnapshotIdentifier": "rds:db",
        "DBInstanceIdentifier": "db-acme",
        "SnapshotType": "automated",
        "Status": "available",
        "SnapshotCreateTime": hours_ago(1),
    }
    found = newest_automated_snapshots(
        _FakeRds("DBSnapshots", [snap]), retrier, {"db-acme": "db-X"}
    )  # type: ignore[arg-type]
    assert "db-acme" in found
