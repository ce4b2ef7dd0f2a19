"""RDS evidence: the newest automated snapshot of each instance (AWS I/O).

One bulk ``rds:DescribeDBSnapshots(SnapshotType="automated")`` listing per region, grouped
client-side, instead of one call per tenant: RDS allows about 12 requests per second per
account and region, shared with every other tool. Only snapshots in state ``available`` count;
manual snapshots never do (they are not proof the schedule works).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING

from .models import SnapshotInfo
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
    wanted = set(instance_ids)
    newest: dict[str, SnapshotInfo] = {}
    for page in pages(
        retrier,
        "rds:DescribeDBSnapshots",
        rds.describe_db_snapshots,
        token_in="Marker",
        token_out="Marker",
        SnapshotType="automated",
        MaxRecords=PAGE_SIZE,
    ):
        for snapshot in page.get("DBSnapshots", []):
            instance = snapshot.get("DBInstanceIdentifier", "")
            created = snapshot.get("SnapshotCreateTime")
            if (
                instance not in wanted
                or snapshot.get("Status") != "available"
                or snapshot.get("SnapshotType") != "automated"
                or not isinstance(created, datetime)
            ):
                continue
            current = newest.get(instance)
            if current is None or created > current.created_at:
                newest[instance] = SnapshotInfo(
                    snapshot_id=snapshot["DBSnapshotIdentifier"], created_at=created
                )
    return newest
