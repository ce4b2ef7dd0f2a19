"""RDS evidence: the newest automated snapshot of each instance and cluster (AWS I/O).

One bulk ``rds:DescribeDBSnapshots(SnapshotType="automated")`` listing per region, grouped
client-side, instead of one call per tenant: RDS allows about 12 requests per second per
account and region, shared with every other tool. Clusters (Aurora, Multi-AZ DB clusters) get
the same treatment with ``rds:DescribeDBClusterSnapshots``. Only snapshots in state
``available`` count; manual snapshots never do (they are not proof the schedule works).

When a region holds many more snapshots than its tenants do (50 tenants in an account of
2,000 instances), the listing is filtered server-side to the tenants instead
(``Filters=[{"Name": "db-instance-id", "Values": [...]}]``, ``FILTER_VALUES`` identifiers a
call), so only their own snapshots are paged through: never more calls than one per tenant, and
fewer than the bulk listing whenever other instances' snapshots would fill its pages. The choice
is made per region and kind from the snapshot counts discovery expects (``expected``: the whole
region's; ``own``: each tenant's), whichever is fewer calls; a tie keeps the bulk listing. The
snapshots read, and so the verdicts, are the same either way: the filter only leaves out owners
nobody asked about, and every item still passes the same owner, incarnation, status and type
checks.

Member instances of a cluster are never looked up: real Aurora gives them no snapshots of their
own (moto does), and their backups are the cluster's.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from backupwatch.aws.pagination import pages
from backupwatch.aws.retry import Retrier
from backupwatch.core.errors import AwsCallError
from backupwatch.core.models import Kind, SnapshotInfo, Tenant

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

logger = logging.getLogger("backupwatch")

PAGE_SIZE = 100
FILTER_VALUES = 100
"""Identifiers in one filtered listing. RDS documents no limit on a filter's values (nor does
botocore's model), but it refuses more than 100 unique cluster identifiers in one
``DescribeDBClusters`` filter (``InvalidParameterCombination``); the same bound is kept here,
and a refusal falls back to one call per identifier (``REFUSED_FILTER``)."""
REFUSED_FILTER = frozenset({"InvalidParameterCombination", "InvalidParameterValue"})
"""Error codes with which RDS refuses a filter: the listing then goes one identifier a call."""
_FILTER_NAMES: Mapping[str, str] = {
    "DBInstanceIdentifier": "db-instance-id",
    "DBClusterIdentifier": "db-cluster-id",
}
"""The server-side filter on each kind's owner, as DescribeDB(Cluster)Snapshots documents it."""
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
    *,
    own: Mapping[str, int] | None = None,
) -> dict[str, SnapshotInfo]:
    """Map instance identifier -> its newest available automated snapshot, for ``instance_ids``.

    ``expected`` is how many automated snapshots the region holds (about the sum of every
    instance's retention days), ``own`` how many each wanted instance holds (its retention
    days); when filtering the listing to the wanted instances pages through fewer calls than
    the bulk listing, it is filtered (``filtered_is_cheaper``). Instances without a snapshot
    are absent from the result. Raises ``AwsCallError`` when a page fails for good.
    """
    return _listing(
        retrier,
        "rds:DescribeDBSnapshots",
        rds.describe_db_snapshots,
        **_SHAPES["instance"],
        wanted=instance_ids,
        expected=expected,
        own=own,
    )


def newest_automated_cluster_snapshots(
    rds: RDSClient,
    retrier: Retrier,
    cluster_ids: Collection[str],
    expected: int | None = None,
    *,
    own: Mapping[str, int] | None = None,
) -> dict[str, SnapshotInfo]:
    """Map cluster identifier -> its newest available automated cluster snapshot.

    ``expected`` and ``own`` as for ``newest_automated_snapshots``. Clusters without one are
    absent from the result. Raises ``AwsCallError`` when a page fails for good.
    """
    return _listing(
        retrier,
        "rds:DescribeDBClusterSnapshots",
        rds.describe_db_cluster_snapshots,
        **_SHAPES["cluster"],
        wanted=cluster_ids,
        expected=expected,
        own=own,
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
    one listing filtered to the wanted resources when ``expected`` (about how many such
    snapshots the region holds) makes that fewer calls. How many each resource holds is not
    known here (AWS Backup's plans, not ``BackupRetentionPeriod``, keep them), so the filtered
    listing is counted at one call per resource, an upper bound while each holds at most 100.

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
        own=None,  # unknown: counted one call per resource
        snapshot_type="awsbackup",
    )


def per_tenant_is_cheaper(tenants: int, expected: int | None) -> bool:
    """One call per tenant beats ``ceil(expected / 100)`` bulk pages only when there are fewer.

    The rule when each tenant's own snapshot count is unknown (``filtered_is_cheaper`` without
    ``own``): a filtered listing costs at most one call per tenant while each holds at most a
    page. Unknown ``expected`` keeps the bulk listing, whose cost never grows with tenants.
    """
    return expected is not None and tenants < bulk_calls(expected)


def bulk_calls(expected: int) -> int:
    """Pages of the bulk listing of ``expected`` snapshots: an empty listing is still a call."""
    return max(1, math.ceil(expected / PAGE_SIZE))


def filtered_calls(identifiers: Collection[str], own: Mapping[str, int]) -> int:
    """Pages of the listing filtered to ``identifiers`` (``FILTER_VALUES`` a call), each holding
    ``own[identifier]`` snapshots: every batch pays its own pages, at least one."""
    return sum(
        max(1, math.ceil(sum(own.get(i, 0) for i in batch) / PAGE_SIZE))
        for batch in _batches(identifiers)
    )


def filtered_is_cheaper(
    identifiers: Collection[str], expected: int | None, own: Mapping[str, int] | None = None
) -> bool:
    """Whether filtering the listing to ``identifiers`` takes fewer calls than the bulk one.

    ``expected`` is the region's snapshot count (unknown: bulk, whose cost never grows with
    tenants), ``own`` each identifier's (unknown: ``per_tenant_is_cheaper``'s bound). A tie
    keeps the bulk listing, which needs neither estimate nor filter to be right.
    """
    if expected is None:
        return False
    if own is None:
        return per_tenant_is_cheaper(len(identifiers), expected)
    return filtered_calls(identifiers, own) < bulk_calls(expected)


def _batches(identifiers: Collection[str]) -> list[list[str]]:
    """``identifiers`` sorted, in runs of ``FILTER_VALUES``: one filtered listing each."""
    ordered = sorted(identifiers)
    return [ordered[at : at + FILTER_VALUES] for at in range(0, len(ordered), FILTER_VALUES)]


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
    own: Mapping[str, int] | None = None,
    snapshot_type: str = "automated",
) -> dict[str, SnapshotInfo]:
    """The bulk listing, or the listing filtered to the wanted owners when that is cheaper."""
    shape = {"items": items, "owner": owner, "snapshot_id": snapshot_id, "incarnation": incarnation}
    resource_ids = _resource_ids(wanted)
    if not filtered_is_cheaper(resource_ids, expected, own):
        return _newest(
            retrier, operation, call, wanted=resource_ids, snapshot_type=snapshot_type, **shape
        )
    newest: dict[str, SnapshotInfo] = {}
    batches = _batches(resource_ids)
    for number, batch in enumerate(batches):
        values = {"Name": _FILTER_NAMES[owner], "Values": batch}
        only = {identifier: resource_ids[identifier] for identifier in batch}
        try:
            newest.update(
                _newest(
                    retrier,
                    operation,
                    partial(call, Filters=[values]),
                    wanted=only,
                    snapshot_type=snapshot_type,
                    **shape,
                )
            )
        except AwsCallError as error:
            if error.code not in REFUSED_FILTER:
                raise
            # RDS refused the filter (more values than it takes?): the rest one owner a call,
            # which every RDS has always answered; what this batch had read is read again.
            logger.warning("%s refused a filter of %d: %s", operation, len(batch), error.short)
            rest = [identifier for later in batches[number:] for identifier in later]
            newest.update(
                _one_by_one(retrier, operation, call, rest, resource_ids, shape, snapshot_type)
            )
            break
    return newest


def _one_by_one(
    retrier: Retrier,
    operation: str,
    call: Callable[..., Mapping[str, Any]],
    identifiers: Sequence[str],
    resource_ids: Mapping[str, str | None],
    shape: Mapping[str, str],
    snapshot_type: str,
) -> dict[str, SnapshotInfo]:
    """One listing per owner, by the owner parameter (``DBInstanceIdentifier``)."""
    newest: dict[str, SnapshotInfo] = {}
    for identifier in identifiers:
        one = partial(call, **{shape["owner"]: identifier})
        only = {identifier: resource_ids[identifier]}
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


class Listing(Protocol):
    """One listing: identifiers (the region's expected snapshot count, each one's own) in,
    newest out."""

    def __call__(
        self,
        rds: RDSClient,
        retrier: Retrier,
        wanted: Collection[str],
        expected: int | None,
        /,
        *,
        own: Mapping[str, int] | None = None,
    ) -> dict[str, SnapshotInfo]: ...


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
    snapshots when it has a cluster tenant, each bulk or filtered to the tenants, whichever
    ``expected`` (the region's snapshot count per kind) and the tenants' retention make cheaper.
    A listing that fails is recorded in ``errors`` for its kind, so a denied
    ``DescribeDBClusterSnapshots`` cannot hide the instances' evidence.
    ``instances`` and ``clusters`` are the listings, replaceable by a caller (or a test).
    """
    wanted: dict[Kind, dict[str, str | None]] = {}
    own: dict[Kind, dict[str, int]] = {}
    for tenant in tenants:
        if needs_snapshot(tenant):
            wanted.setdefault(tenant.kind, {})[tenant.identifier] = tenant.resource_id
            # One automated snapshot a retention day, as discovery counts the region's.
            own.setdefault(tenant.kind, {})[tenant.identifier] = tenant.backup_retention_period or 0
    listings: dict[Kind, Listing] = {"instance": instances, "cluster": clusters}
    newest: dict[tuple[Kind, str], SnapshotInfo] = {}
    errors: dict[Kind, AwsCallError] = {}
    for kind, identifiers in wanted.items():
        try:
            found = listings[kind](
                rds, retrier, identifiers, (expected or {}).get(kind), own=own[kind]
            )
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
