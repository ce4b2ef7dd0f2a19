"""RDS evidence: the newest automated snapshot of each instance and cluster (AWS I/O).

One bulk ``rds:DescribeDBSnapshots(SnapshotType="automated")`` listing per region, grouped
client-side, instead of one call per tenant: RDS allows about 12 requests per second per
account and region, shared with every other tool. Clusters (Aurora, Multi-AZ DB clusters) get
the same treatment with ``rds:DescribeDBClusterSnapshots``. Only snapshots in state
``available`` count; manual snapshots never do (they are not proof the schedule works).

When a region holds many more snapshots than it has tenants (three tenants in an account of
5,000 instances), one filtered call per tenant is cheaper than the bulk listing; the choice is
made per region and kind from the snapshot count that discovery expects (``expected``).

Member instances of a cluster are never looked up: real Aurora gives them no snapshots of their
own (moto does), and their backups are the cluster's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from backupwatch.aws.pagination import pages
from backupwatch.aws.retry import Retrier
from backupwatch.core.errors import AwsCallError
from backupwatch.core.models import Kind, SnapshotInfo, Tenant

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

PAGE_SIZE = 100
_SHAPES: Mapping[Kind, Mapping[str, str]] = {
    "instance": {
        "items": "DBSnapshots",
        "owner": "DBInstanceIdentifier",
        "snapshot_id": "DBSnapshotIdentifier",
        "incarnation": "DbiResourceId",
    },
    "cluster": {
        "items": "DBClusterSnapshots",
        "owner": "DBClusterIdentifier",
        "snapshot_id": "DBClusterSnapshotIdentifier",
        "incarnation": "DbClusterResourceId",
    },
}
"""Where each kind's snapshot listing keeps its items, owner, identifier and resource id."""


def newest_automated_snapshots(
    rds: RDSClient,
    retrier: Retrier,
    instance_ids: Collection[str],
    expected: int | None = None,
) -> dict[str, SnapshotInfo]:
    """Map instance identifier -> its newest available automated snapshot, for ``instance_ids``.

    ``expected`` is how many automated snapshots the region holds (about the sum of every
    instance's retention days); when fewer calls per instance than bulk pages would do, each
    instance is listed on its own. Instances without a snapshot are absent from the result.
    Raises ``AwsCallError`` when a page fails for good.
    """
    return _listing(
        retrier,
        "rds:DescribeDBSnapshots",
        rds.describe_db_snapshots,
        **_SHAPES["instance"],
        wanted=instance_ids,
        expected=expected,
    )


def newest_automated_cluster_snapshots(
    rds: RDSClient,
    retrier: Retrier,
    cluster_ids: Collection[str],
    expected: int | None = None,
) -> dict[str, SnapshotInfo]:
    """Map cluster identifier -> its newest available automated cluster snapshot.

    ``expected`` as for ``newest_automated_snapshots``. Clusters without one are absent from
    the result. Raises ``AwsCallError`` when a page fails for good.
    """
    return _listing(
        retrier,
        "rds:DescribeDBClusterSnapshots",
        rds.describe_db_cluster_snapshots,
        **_SHAPES["cluster"],
        wanted=cluster_ids,
        expected=expected,
    )


def newest_awsbackup_snapshots(
    rds: RDSClient,
    retrier: Retrier,
    wanted: Mapping[str, str | None],
    kind: Kind,
    expected: int | None = None,
) -> dict[str, SnapshotInfo]:
    """Identifier -> newest available snapshot AWS Backup took (``SnapshotType="awsbackup"``),
    for the ``wanted`` instances or clusters (identifier -> resource id): one bulk listing, or
    one filtered listing per wanted resource when ``expected`` (about how many such snapshots
    the region holds) makes that fewer calls.

    Raises ``AwsCallError`` when a page fails for good.
    """
    call: Callable[..., Mapping[str, Any]]
    if kind == "cluster":
        operation, call = "rds:DescribeDBClusterSnapshots", rds.describe_db_cluster_snapshots
    else:
        operation, call = "rds:DescribeDBSnapshots", rds.describe_db_snapshots
    return _listing(
        retrier,
        operation,
        call,
        **_SHAPES[kind],
        wanted=wanted,
        expected=expected,
        snapshot_type="awsbackup",
    )


def per_tenant_is_cheaper(tenants: int, expected: int | None) -> bool:
    """One call per tenant beats ``ceil(expected / 100)`` bulk pages only when there are fewer.

    Unknown ``expected`` keeps the bulk listing, whose cost never grows with tenants.
    """
    return expected is not None and tenants < max(1, math.ceil(expected / PAGE_SIZE))


def _listing(
    retrier: Retrier,
    operation: str,
    call: Callable[..., Mapping[str, Any]],
    *,
    items: str,
    owner: str,
    snapshot_id: str,
    incarnation: str,
    wanted: Collection[str],
    expected: int | None,
    snapshot_type: str = "automated",
) -> dict[str, SnapshotInfo]:
    """The bulk listing, or one listing filtered by owner per wanted owner when cheaper."""
    shape = {"items": items, "owner": owner, "snapshot_id": snapshot_id, "incarnation": incarnation}
    if not per_tenant_is_cheaper(len(wanted), expected):
        return _newest(
            retrier, operation, call, wanted=wanted, snapshot_type=snapshot_type, **shape
        )
    resource_ids = _resource_ids(wanted)
    newest: dict[str, SnapshotInfo] = {}
    for identifier in sorted(wanted):
        one = partial(call, **{owner: identifier})
        only = {identifier: resource_ids.get(identifier)}
        newest.update(
            _newest(retrier, operation, one, wanted=only, snapshot_type=snapshot_type, **shape)
        )
    return newest


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


Listing = Callable[["RDSClient", Retrier, Collection[str], int | None], dict[str, SnapshotInfo]]
"""One listing: identifiers (and the region's expected snapshot count) in, newest out."""


def newest_snapshots(
    rds: RDSClient,
    retrier: Retrier,
    tenants: Iterable[Tenant],
    *,
    instances: Listing = newest_automated_snapshots,
    clusters: Listing = newest_automated_cluster_snapshots,
    expected: Mapping[Kind, int] | None = None,
) -> SnapshotLookup:
    """The newest automated snapshot of every tenant of one region; raises no ``AwsCallError``.

    At most two listings: instance snapshots when the region has an instance tenant, cluster
    snapshots when it has a cluster tenant. A listing that fails is recorded in ``errors`` for
    its kind, so a denied ``DescribeDBClusterSnapshots`` cannot hide the instances' evidence.
    ``instances`` and ``clusters`` are the listings, replaceable by a caller (or a test).
    """
    wanted: dict[Kind, dict[str, str | None]] = {}
    for tenant in tenants:
        if needs_snapshot(tenant):
            wanted.setdefault(tenant.kind, {})[tenant.identifier] = tenant.resource_id
    listings: dict[Kind, Listing] = {"instance": instances, "cluster": clusters}
    newest: dict[tuple[Kind, str], SnapshotInfo] = {}
    errors: dict[Kind, AwsCallError] = {}
    for kind, identifiers in wanted.items():
        try:
            found = listings[kind](rds, retrier, identifiers, (expected or {}).get(kind))
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
    incarnation: str,
    wanted: Collection[str],
    snapshot_type: str = "automated",
) -> dict[str, SnapshotInfo]:
    """One full automated-snapshot listing, reduced to the newest per wanted owner.

    A snapshot of an earlier resource under the same identifier (deleted and re-created: its
    retained automated backups keep the name) has another resource id (``DbiResourceId``,
    ``DbClusterResourceId``) and never counts for the new one.
    """
    resource_ids = _resource_ids(wanted)
    newest: dict[str, Mapping[str, Any]] = {}
    times: dict[str, list[datetime]] = {}
    for page in pages(
        retrier,
        operation,
        call,
        token_in="Marker",
        token_out="Marker",
        SnapshotType=snapshot_type,
        MaxRecords=PAGE_SIZE,
    ):
        for snapshot in page.get(items, []):
            resource = snapshot.get(owner, "")
            created = snapshot.get("SnapshotCreateTime")
            if (
                resource not in resource_ids
                or _other_incarnation(resource_ids[resource], snapshot.get(incarnation))
                or snapshot.get("Status") != "available"
                or snapshot.get("SnapshotType") != snapshot_type
                or not isinstance(created, datetime)
            ):
                continue
            # Only the newest becomes a model; the others leave their time, for the daily
            # and restore-window controls.
            times.setdefault(resource, []).append(created)
            current = newest.get(resource)
            if current is None or created > current["SnapshotCreateTime"]:
                newest[resource] = snapshot
    return {
        resource: _info(snapshot, snapshot_id, sorted(times[resource], reverse=True))
        for resource, snapshot in newest.items()
    }


def _info(snapshot: Mapping[str, Any], snapshot_id: str, times: list[datetime]) -> SnapshotInfo:
    encrypted = snapshot.get("Encrypted", snapshot.get("StorageEncrypted"))
    return SnapshotInfo(
        snapshot_id=snapshot[snapshot_id],
        created_at=snapshot["SnapshotCreateTime"],
        encrypted=encrypted if isinstance(encrypted, bool) else None,
        kms_key_id=snapshot.get("KmsKeyId") or None,
        times=tuple(times),
    )


def _resource_ids(wanted: Collection[str]) -> dict[str, str | None]:
    """Identifier -> the resource id its snapshots must carry (None: any), from ``wanted``:
    a mapping gives them, a plain collection of identifiers does not."""
    if isinstance(wanted, Mapping):
        return {str(key): value for key, value in wanted.items()}
    return dict.fromkeys(wanted)


def _other_incarnation(expected: str | None, found: Any) -> bool:
    return bool(expected) and bool(found) and found != expected
