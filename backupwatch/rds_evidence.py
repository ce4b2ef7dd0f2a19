"""RDS evidence: the newest automated snapshot of each instance and cluster (AWS I/O).

One bulk ``rds:DescribeDBSnapshots(SnapshotType="automated")`` listing per region, grouped
client-side, instead of one call per tenant: RDS allows about 12 requests per second per
account and region, shared with every other tool. Clusters (Aurora, Multi-AZ DB clusters) get
the same treatment with ``rds:DescribeDBClusterSnapshots``. Only snapshots in state
``available`` count; manual snapshots never do (they are not proof the schedule works).

Member instances of a cluster are never looked up: real Aurora gives them no snapshots of their
own (moto does), and their backups are the cluster's.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .errors import AwsCallError
from .models import Kind, SnapshotInfo, Tenant
from .pagination import pages
from .retry import Retrier

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

PAGE_SIZE = 100


def newest_automated_snapshots(
    rds: RDSClient, retrier: Retrier, instance_ids: Collection[str]
) -> dict[str, SnapshotInfo]:
    """Map instance identifier -> its newest available automated snapshot, for ``instance_ids``.

    Instances without one are absent from the result. Raises ``AwsCallError`` when a page
    fails for good.
    """
    return _newest(
        retrier,
        "rds:DescribeDBSnapshots",
        rds.describe_db_snapshots,
        items="DBSnapshots",
        owner="DBInstanceIdentifier",
        snapshot_id="DBSnapshotIdentifier",
        wanted=instance_ids,
    )


def newest_automated_cluster_snapshots(
    rds: RDSClient, retrier: Retrier, cluster_ids: Collection[str]
) -> dict[str, SnapshotInfo]:
    """Map cluster identifier -> its newest available automated cluster snapshot.

    Clusters without one are absent from the result. Raises ``AwsCallError`` when a page fails
    for good.
    """
    return _newest(
        retrier,
        "rds:DescribeDBClusterSnapshots",
        rds.describe_db_cluster_snapshots,
        items="DBClusterSnapshots",
        owner="DBClusterIdentifier",
        snapshot_id="DBClusterSnapshotIdentifier",
        wanted=cluster_ids,
    )


@dataclass(frozen=True)
class SnapshotLookup:
    """The newest snapshots of one region's tenants, and the listings that failed, per kind."""

    newest: Mapping[tuple[Kind, str], SnapshotInfo] = field(default_factory=dict)
    errors: Mapping[Kind, AwsCallError] = field(default_factory=dict)

    def snapshot_of(self, tenant: Tenant) -> SnapshotInfo | None:
        return self.newest.get((tenant.kind, tenant.identifier))

    def error_for(self, tenant: Tenant) -> AwsCallError | None:
        """The failure of the listing this tenant's evidence would have come from, if any."""
        return self.errors.get(tenant.kind)


def needs_snapshot(tenant: Tenant) -> bool:
    """Whether a listing should look for this tenant: found in RDS, and not a cluster member."""
    return tenant.backup_retention_period is not None and not (
        tenant.kind == "instance" and tenant.db_cluster_identifier is not None
    )


Listing = Callable[["RDSClient", Retrier, Collection[str]], dict[str, SnapshotInfo]]
"""One bulk listing: identifiers in, newest snapshot per identifier out."""


def newest_snapshots(
    rds: RDSClient,
    retrier: Retrier,
    tenants: Iterable[Tenant],
    *,
    instances: Listing = newest_automated_snapshots,
    clusters: Listing = newest_automated_cluster_snapshots,
) -> SnapshotLookup:
    """The newest automated snapshot of every tenant of one region; raises no ``AwsCallError``.

    At most two listings: instance snapshots when the region has an instance tenant, cluster
    snapshots when it has a cluster tenant. A listing that fails is recorded in ``errors`` for
    its kind, so a denied ``DescribeDBClusterSnapshots`` cannot hide the instances' evidence.
    ``instances`` and ``clusters`` are the listings, replaceable by a caller (or a test).
    """
    wanted: dict[Kind, set[str]] = {}
    for tenant in tenants:
        if needs_snapshot(tenant):
            wanted.setdefault(tenant.kind, set()).add(tenant.identifier)
    listings: dict[Kind, Listing] = {"instance": instances, "cluster": clusters}
    newest: dict[tuple[Kind, str], SnapshotInfo] = {}
    errors: dict[Kind, AwsCallError] = {}
    for kind, identifiers in wanted.items():
        try:
            found = listings[kind](rds, retrier, identifiers)
        except AwsCallError as error:
            errors[kind] = error
            continue
        newest.update({(kind, identifier): info for identifier, info in found.items()})
    return SnapshotLookup(newest=newest, errors=errors)


def _newest(
    retrier: Retrier,
    operation: str,
    call: Callable[..., Mapping[str, Any]],
    *,
    items: str,
    owner: str,
    snapshot_id: str,
    wanted: Collection[str],
) -> dict[str, SnapshotInfo]:
    """One full automated-snapshot listing, reduced to the newest per wanted owner."""
    wanted = set(wanted)
    newest: dict[str, SnapshotInfo] = {}
    for page in pages(
        retrier,
        operation,
        call,
        token_in="Marker",
        token_out="Marker",
        SnapshotType="automated",
        MaxRecords=PAGE_SIZE,
    ):
        for snapshot in page.get(items, []):
            resource = snapshot.get(owner, "")
            created = snapshot.get("SnapshotCreateTime")
            if (
                resource not in wanted
                or snapshot.get("Status") != "available"
                or snapshot.get("SnapshotType") != "automated"
                or not isinstance(created, datetime)
            ):
                continue
            current = newest.get(resource)
            if current is None or created > current.created_at:
                newest[resource] = SnapshotInfo(
                    snapshot_id=snapshot[snapshot_id], created_at=created
                )
    return newest
