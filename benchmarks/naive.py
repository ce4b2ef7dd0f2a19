"""The naive check, the seed's algorithm made correct: per-tenant verdicts, no backupwatch.

Sequential; discovery by tag (every DescribeDBInstances page); per tenant one
DescribeDBSnapshots for its automated snapshots (every page) and one full ListObjectsV2 listing
of its folder (every page); the newest item wins. It imports only boto3, so a process that runs
it alone (``benchmarks.cpu``) carries no backupwatch in its memory or its imports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import boto3

from .world import BUCKET, REGION, TENANT_TAG

WINDOW = timedelta(hours=24)
SEVERITY = ("MISSING", "STALE", "OK")
"""Worst first: the naive check only knows these three."""


def naive_verdicts(session: boto3.Session, now: datetime) -> dict[str, str]:
    """Check every tagged tenant the seed's way, corrected; tenant name -> verdict."""
    rds = session.client("rds", region_name=REGION)
    s3 = session.client("s3", region_name=REGION)
    verdicts: dict[str, str] = {}
    for instance in _tagged_instances(rds):
        identifier = instance["DBInstanceIdentifier"]
        tenant = tag_value(instance, TENANT_TAG) or identifier
        snapshot = newest(
            (s["SnapshotCreateTime"] for s in _automated_snapshots(rds, identifier)),
        )
        backup = newest(o["LastModified"] for o in _objects(s3, f"{tenant}-backups/"))
        verdicts[tenant] = worst(judge(snapshot, now), judge(backup, now))
    return verdicts


def _tagged_instances(rds: Any) -> Iterable[Mapping[str, Any]]:
    """RDS cannot filter by tag server-side: list every instance, keep the tagged ones."""
    for page in rds.get_paginator("describe_db_instances").paginate(
        PaginationConfig={"PageSize": 100}
    ):
        for instance in page["DBInstances"]:
            if tag_value(instance, TENANT_TAG) is not None:
                yield instance


def _automated_snapshots(rds: Any, identifier: str) -> Iterable[Mapping[str, Any]]:
    paginator = rds.get_paginator("describe_db_snapshots")
    for page in paginator.paginate(
        DBInstanceIdentifier=identifier,
        SnapshotType="automated",
        PaginationConfig={"PageSize": 100},
    ):
        for snapshot in page["DBSnapshots"]:
            if snapshot.get("Status") == "available":
                yield snapshot


def _objects(s3: Any, prefix: str) -> Iterable[Mapping[str, Any]]:
    """Every key under the prefix: S3 lists by name, so the newest may be on any page."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        yield from (item for item in page.get("Contents", []) if item.get("Size", 0) >= 1)


def tag_value(resource: Mapping[str, Any], key: str) -> str | None:
    """The value of tag ``key`` in an RDS ``TagList``, or None without it."""
    return next((t.get("Value", "") for t in resource.get("TagList", []) if t["Key"] == key), None)


def newest(times: Iterable[datetime]) -> datetime | None:
    return max(times, default=None)


def judge(newest: datetime | None, now: datetime) -> str:
    """MISSING without evidence, OK within the 24 h window, STALE past it."""
    if newest is None:
        return "MISSING"
    return "OK" if now - newest <= WINDOW else "STALE"


def worst(*statuses: str) -> str:
    return min(statuses, key=SEVERITY.index)
