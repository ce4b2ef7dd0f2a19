"""DB clusters as tenants (issue #5): discovery, cluster snapshots, members, the report.

moto gives cluster members instance snapshots of their own, which real Aurora does not: the
tests below check that members are routed by ``DBClusterIdentifier`` and never judged on them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from backupwatch import Check, Report, Retrier, Status, load_settings
from backupwatch.aws.discovery import discover
from backupwatch.aws.rds_evidence import (
    newest_automated_cluster_snapshots,
    newest_snapshots,
)
from backupwatch.core.digest import render_digest
from backupwatch.core.table import render_table

from .conftest import ACCOUNT, REGION, TENANT_TAG, Faults, World, env_for, hours_ago
from .conftest import run_check as run


def _naive(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(tzinfo=None)


def _backend(region: str = REGION) -> Any:
    from moto.rds.models import rds_backends

    return rds_backends[ACCOUNT][region]


def cluster(
    world: World,
    identifier: str,
    *,
    tenant: str | None = "",
    tags: dict[str, str] | None = None,
    retention: int = 7,
    snapshot_at: datetime | None = None,
    members: Mapping[str, dict[str, str]] | None = None,
    created_at: datetime | None = None,
) -> str:
    """An Aurora PostgreSQL cluster with member instances (name -> their tags).

    moto takes one automated cluster snapshot at creation; ``snapshot_at`` moves it (default:
    1 h before NOW). ``tenant=None`` leaves the tenant tag off the cluster.
    """
    all_tags = dict(tags or {})
    if tenant is not None:
        all_tags[TENANT_TAG] = tenant
    rds = world.rds()
    rds.create_db_cluster(
        DBClusterIdentifier=identifier,
        Engine="aurora-postgresql",
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
        BackupRetentionPeriod=retention,
        Tags=[{"Key": k, "Value": v} for k, v in all_tags.items()],
    )
    for member, member_tags in (members or {}).items():
        rds.create_db_instance(
            DBInstanceIdentifier=member,
            DBClusterIdentifier=identifier,
            Engine="aurora-postgresql",
            DBInstanceClass="db.r6g.large",
            Tags=[{"Key": k, "Value": v} for k, v in member_tags.items()],
        )
        for snapshot in _backend().database_snapshots.values():
            if snapshot.database.db_instance_identifier == member:
                snapshot.created = _naive(hours_ago(1))  # fresh, and never to be used
    for snapshot in _backend().cluster_snapshots.values():
        if snapshot.db_cluster_identifier == identifier:
            snapshot.created = _naive(snapshot_at or hours_ago(1))
    if created_at is not None:
        _backend().clusters[identifier].cluster_create_time = _naive(created_at)
    return identifier


def cluster_snapshot(identifier: str, at: datetime, *, snapshot_type: str = "automated") -> str:
    snapshot_id = f"rds:{identifier}-{at:%Y-%m-%d-%H-%M}"
    snapshot = _backend().create_db_cluster_snapshot(
        identifier, snapshot_id, snapshot_type=snapshot_type
    )
    snapshot.created = _naive(at)
    return snapshot_id


def drop_cluster_snapshots(identifier: str) -> None:
    backend = _backend()
    for key in [
        k for k, s in backend.cluster_snapshots.items() if s.db_cluster_identifier == identifier
    ]:
        del backend.cluster_snapshots[key]


def rows(report: Report) -> dict[str, Any]:
    return {row.tenant: row for row in report.tenants}


# --- clusters as tenants --------------------------------------------------------------------------


def test_tagged_cluster_is_a_tenant_judged_on_its_cluster_snapshot(
    world: World, retrier: Retrier
) -> None:
    """The cluster is the tenant: kind cluster, its identifier, its newest automated snapshot."""
    world.bucket()
    cluster(
        world,
        "aurora-acme",
        tenant="acme",
        snapshot_at=hours_ago(30),
        members={"aurora-acme-1": {}},
    )
    fresh = cluster_snapshot("aurora-acme", hours_ago(4))
    cluster_snapshot("aurora-acme", hours_ago(1), snapshot_type="manual")
    world.put("acme-backups/a.dump", hours_ago(2))

    (row,) = run(world, retrier).tenants

    assert (row.tenant, row.kind, row.identifier, row.db_instance_identifier) == (
        "acme",
        "cluster",
        "aurora-acme",
        "aurora-acme",
    )
    assert row.status is Status.OK
    assert (row.checks[Check.RDS].key, row.checks[Check.RDS].age_hours) == (fresh, 4.0)


@pytest.mark.parametrize(
    ("snapshot_at", "retention", "expected"),
    [
        (hours_ago(30), 7, Status.STALE),
        (None, 7, Status.MISSING),
        (hours_ago(1), 0, Status.DISABLED),
    ],
)
def test_cluster_verdicts(
    world: World,
    retrier: Retrier,
    snapshot_at: datetime | None,
    retention: int,
    expected: Status,
) -> None:
    """A cluster is STALE, MISSING or DISABLED (its BackupRetentionPeriod) like an instance."""
    world.bucket()
    cluster(world, "aurora-x", tenant="x", retention=retention, snapshot_at=snapshot_at)
    if snapshot_at is None:
        drop_cluster_snapshots("aurora-x")
    world.put("x-backups/a.dump", hours_ago(1))
    (row,) = run(world, retrier).tenants
    assert row.checks[Check.RDS].status is expected
    if expected is Status.DISABLED:
        assert "BackupRetentionPeriod=0" in row.reason


def test_new_cluster_without_snapshot_is_pending(world: World, retrier: Retrier) -> None:
    """ClusterCreateTime tells a new cluster: PENDING until window + grace after creation."""
    world.bucket()
    cluster(world, "aurora-new", tenant="new", created_at=hours_ago(5))
    drop_cluster_snapshots("aurora-new")
    (row,) = run(world, retrier).tenants
    assert (row.status, row.failing) == (Status.PENDING, False)
    assert row.checks[Check.RDS].reason == "new, first backup expected by 2026-11-28 04:00 UTC"


def test_stopped_cluster_is_stopped(world: World, retrier: Retrier) -> None:
    """A stopped cluster (Status == stopped) takes no automated backups: STOPPED."""
    world.bucket()
    cluster(world, "aurora-off", tenant="off", snapshot_at=hours_ago(60))
    world.rds().stop_db_cluster(DBClusterIdentifier="aurora-off")
    world.put("off-backups/a.dump", hours_ago(1))
    (row,) = run(world, retrier).tenants
    assert row.status is Status.STOPPED
    assert row.checks[Check.RDS].reason.startswith("DB cluster is stopped")
    assert row.checks[Check.S3].status is Status.OK


# --- members --------------------------------------------------------------------------------------


def test_tagged_members_of_a_tagged_cluster_are_not_tenants(
    world: World, retrier: Retrier, caplog: pytest.LogCaptureFixture
) -> None:
    """Tag propagation puts the tag on members too: still one tenant, the cluster; logged."""
    world.bucket()
    cluster(
        world,
        "aurora-acme",
        tenant="acme",
        members={"aurora-acme-1": {TENANT_TAG: "acme"}, "aurora-acme-2": {TENANT_TAG: "acme"}},
    )
    world.put("acme-backups/a.dump", hours_ago(1))
    with caplog.at_level(logging.INFO, logger="backupwatch"):
        report = run(world, retrier)
    assert [(row.kind, row.identifier) for row in report.tenants] == [("cluster", "aurora-acme")]
    assert report.tenants[0].status is Status.OK
    assert set(report.tenants[0].members) == {"aurora-acme-1", "aurora-acme-2"}
    assert (
        "instance aurora-acme-1 in us-east-1 is a member of DB cluster aurora-acme" in caplog.text
    )


def test_tagged_member_of_an_untagged_cluster_is_an_error_not_dropped(
    world: World, retrier: Retrier
) -> None:
    """The tag is on the wrong resource: an ERROR row that says to tag the cluster. moto's
    member snapshot is not used; the member's folder is still checked."""
    world.bucket()
    cluster(
        world, "aurora-globex", tenant=None, members={"aurora-globex-1": {TENANT_TAG: "globex"}}
    )
    world.put("globex-backups/a.dump", hours_ago(1))

    (row,) = run(world, retrier).tenants

    assert (row.tenant, row.kind, row.identifier, row.status) == (
        "globex",
        "instance",
        "aurora-globex-1",
        Status.ERROR,
    )
    assert row.reason.startswith(
        "member of DB cluster 'aurora-globex', which RDS backs up as a whole: tag the cluster"
    )
    assert row.checks[Check.RDS].status is Status.SKIPPED
    assert row.checks[Check.RDS].key is None
    assert row.checks[Check.S3].status is Status.OK


def test_seed_naming_a_member_reports_it(world: World, retrier: Retrier) -> None:
    """A member listed the seed's way is found (not 'not found') and told to tag the cluster."""
    world.bucket()
    cluster(world, "aurora-p", tenant=None, members={"aurora-p-1": {}})
    report = run(world, retrier, DB_INSTANCE_IDENTIFIER_1="aurora-p-1", S3_FOLDER_1="p/")
    (row,) = report.tenants
    assert row.identifier == "aurora-p-1"
    assert "tag the cluster" in row.reason
    assert "not found" not in row.reason


def test_seed_may_name_a_cluster(world: World, retrier: Retrier) -> None:
    """DB_INSTANCE_IDENTIFIER_<n> naming a cluster (and no instance) makes the cluster a tenant."""
    world.bucket()
    cluster(world, "aurora-legacy", tenant=None)
    world.put("legacy/a.dump", hours_ago(1))
    report = run(world, retrier, DB_INSTANCE_IDENTIFIER_1="aurora-legacy", S3_FOLDER_1="legacy/")
    (row,) = report.tenants
    assert (row.kind, row.status) == ("cluster", Status.OK)


def test_cluster_and_instance_may_share_an_identifier(world: World, retrier: Retrier) -> None:
    """Clusters and instances have separate namespaces: two tenants, each with its own evidence."""
    world.bucket()
    world.instance("shared", tenant="inst", snapshot_at=hours_ago(30))
    cluster(world, "shared", tenant="clus", snapshot_at=hours_ago(2))
    world.put("inst-backups/a.dump", hours_ago(1))
    world.put("clus-backups/a.dump", hours_ago(1))
    got = rows(run(world, retrier))
    assert (got["inst"].kind, got["inst"].checks[Check.RDS].status) == ("instance", Status.STALE)
    assert (got["clus"].kind, got["clus"].checks[Check.RDS].status) == ("cluster", Status.OK)


# --- failures -------------------------------------------------------------------------------------


def test_denied_cluster_snapshots_mark_clusters_only(
    world: World, faults: Faults, retrier: Retrier
) -> None:
    """DescribeDBClusterSnapshots denied: cluster tenants ERROR; instance tenants judged."""
    world.bucket()
    world.instance("db-a", tenant="a")
    cluster(world, "aurora-b", tenant="b")
    faults.fail("rds", "DescribeDBClusterSnapshots", "AccessDenied", status=403)
    got = rows(run(world, retrier))
    assert got["a"].checks[Check.RDS].status is Status.OK
    assert got["b"].checks[Check.RDS].status is Status.ERROR
    assert "AccessDenied on rds:DescribeDBClusterSnapshots" in got["b"].reason


def test_denied_cluster_discovery_is_a_region_error_but_instances_are_checked(
    world: World, faults: Faults, retrier: Retrier
) -> None:
    """DescribeDBClusters denied: the region is reported (clusters unknown), its instances are
    still judged, and a tagged member says its cluster could not be listed."""
    world.bucket()
    world.instance("db-a", tenant="a")
    world.put("a-backups/a.dump", hours_ago(1))
    cluster(world, "aurora-b", tenant="b", members={"aurora-b-1": {TENANT_TAG: "b"}})
    faults.fail("rds", "DescribeDBClusters", "AccessDenied", status=403)

    report = run(world, retrier)

    assert report.failing
    (error,) = report.region_errors
    assert error.reason.startswith(
        "cluster discovery failed: AccessDenied on rds:DescribeDBClusters"
    )
    got = rows(report)
    assert got["a"].status is Status.OK
    assert got["b"].status is Status.ERROR
    assert "the clusters could not be listed" in got["b"].reason


def test_cluster_snapshots_are_listed_only_where_clusters_are_tenants(
    world: World, faults: Faults, retrier: Retrier
) -> None:
    """No cluster tenant, no DescribeDBClusterSnapshots call (RDS's rate limit is shared)."""
    world.bucket()
    world.instance("db-a", tenant="a")
    cluster(world, "aurora-untagged", tenant=None)
    faults.count("rds", "DescribeDBClusterSnapshots")
    faults.count("rds", "DescribeDBClusters")
    run(world, retrier)
    assert faults.calls.get("rds:DescribeDBClusterSnapshots", 0) == 0
    assert faults.calls["rds:DescribeDBClusters"] == 1
    cluster(world, "aurora-tagged", tenant="t")
    run(world, retrier)
    assert faults.calls["rds:DescribeDBClusterSnapshots"] == 1


# --- the listing itself, page by page -------------------------------------------------------------


class _Pages:
    """A stand-in RDS client serving ``describe_db_cluster_snapshots`` in fixed pages."""

    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages
        self.requests: list[dict[str, Any]] = []

    def describe_db_cluster_snapshots(self, **params: Any) -> dict[str, Any]:
        self.requests.append(params)
        return self.pages[len(self.requests) - 1]


def _snapshot(cluster_id: str, at: datetime, **extra: str) -> dict[str, Any]:
    return {
        "DBClusterSnapshotIdentifier": f"rds:{cluster_id}-{at:%H%M}",
        "DBClusterIdentifier": cluster_id,
        "SnapshotCreateTime": at,
        "Status": "available",
        "SnapshotType": "automated",
        **extra,
    }


def test_cluster_listing_reads_every_page_and_keeps_the_newest_available(retrier: Retrier) -> None:
    """Every page (Marker) is read; only available automated snapshots of wanted clusters count."""
    client = _Pages(
        [
            {
                "DBClusterSnapshots": [
                    _snapshot("c1", hours_ago(30)),
                    _snapshot("other", hours_ago(1)),
                ],
                "Marker": "page-2",
            },
            {
                "DBClusterSnapshots": [
                    _snapshot("c1", hours_ago(5)),
                    _snapshot("c1", hours_ago(1), Status="creating"),
                    _snapshot("c2", hours_ago(2), SnapshotType="manual"),
                ]
            },
        ]
    )
    newest = newest_automated_cluster_snapshots(client, retrier, ["c1", "c2"])  # type: ignore[arg-type]
    assert set(newest) == {"c1"}
    assert newest["c1"].created_at == hours_ago(5)
    assert [r.get("Marker") for r in client.requests] == [None, "page-2"]
    assert all(r["SnapshotType"] == "automated" and r["MaxRecords"] == 100 for r in client.requests)


def test_lookup_routes_members_nowhere(world: World, retrier: Retrier) -> None:
    """newest_snapshots never looks a member up, even though moto gave it a snapshot."""
    cluster(world, "aurora-m", tenant=None, members={"aurora-m-1": {TENANT_TAG: "m"}})
    settings = load_settings(env_for())
    found = discover(settings, {REGION: world.rds()}, retrier)
    (member,) = found.tenants
    lookup = newest_snapshots(world.rds(), retrier, found.tenants)
    assert member.db_cluster_identifier == "aurora-m"
    assert lookup.snapshot_of(member) is None
    assert lookup.errors == {}


# --- how a cluster reads --------------------------------------------------------------------------


def test_cluster_rows_in_digest_and_table(world: World, retrier: Retrier) -> None:
    """The digest says `(cluster <id>, <region>)`; the table's instance column `cluster <id>`."""
    world.bucket()
    cluster(world, "aurora-acme", tenant="acme", members={"aurora-acme-1": {}})
    report = run(world, retrier)
    assert (
        f"  - acme [MISSING] (cluster aurora-acme, {REGION}): s3: no object"
        in render_digest(report).body
    )
    assert "acme    MISSING  cluster aurora-acme  us-east-1" in render_table(report)
    data = report.model_dump(mode="json")["tenants"][0]
    assert (data["kind"], data["db_instance_identifier"]) == ("cluster", "aurora-acme")
