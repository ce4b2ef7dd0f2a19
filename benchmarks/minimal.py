"""The minimal client: what a competent engineer writes in an afternoon, and nothing more.

boto3 with botocore's defaults (its default timestamp parser included), one client per service,
no retries (``total_max_attempts`` 1), no models, no rate limit, plain dicts:

1. discovery: every ``DescribeDBInstances`` page, keeping the instances tagged
   ``backupwatch:tenant``;
2. one bulk ``DescribeDBSnapshots(SnapshotType="automated")`` listing (every page), reduced to
   the newest available snapshot per instance;
3. one ``ListObjectsV2`` per tenant (more pages only if a folder held over 1,000 keys), on
   ``THREADS`` threads sharing one S3 client, the newest object of at least 1 byte winning.

A tenant is the worst of its two verdicts (MISSING, STALE or OK within 24 h), exactly as the
naive check judges. It is the floor backupwatch's client CPU is measured against
(``benchmarks.cpu``): the same calls, none of backupwatch's checks, guards or models.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config

from .naive import judge, tag_value, worst
from .world import BUCKET, REGION, TENANT_TAG

THREADS = 64


def minimal_verdicts(now: datetime, *, threads: int = THREADS) -> dict[str, str]:
    """Tenant name -> verdict, from a session of its own (endpoint and credentials from the
    environment, as any boto3 script)."""
    session = boto3.Session(region_name=REGION)
    config = Config(retries={"total_max_attempts": 1}, max_pool_connections=threads)
    rds = session.client("rds", config=config)
    s3 = session.client("s3", config=config)

    tenants: dict[str, str] = {}  # instance identifier -> tenant name
    for page in rds.get_paginator("describe_db_instances").paginate():
        for instance in page["DBInstances"]:
            name = tag_value(instance, TENANT_TAG)
            if name is not None:
                tenants[instance["DBInstanceIdentifier"]] = name

    snapshots: dict[str, datetime] = {}
    listing = rds.get_paginator("describe_db_snapshots").paginate(SnapshotType="automated")
    for snapshots_page in listing:
        for snapshot in snapshots_page["DBSnapshots"]:
            owner = snapshot["DBInstanceIdentifier"]
            created = snapshot.get("SnapshotCreateTime")
            if (
                owner in tenants
                and snapshot.get("Status") == "available"
                and created
                and (owner not in snapshots or created > snapshots[owner])
            ):
                snapshots[owner] = created

    def newest_object(name: str) -> datetime | None:
        newest: datetime | None = None
        request: dict[str, Any] = {"Bucket": BUCKET, "Prefix": f"{name}-backups/"}
        while True:
            page = s3.list_objects_v2(**request)
            for item in page.get("Contents", ()):
                if item["Size"] >= 1 and (newest is None or item["LastModified"] > newest):
                    newest = item["LastModified"]
            if not page.get("IsTruncated"):
                return newest
            request["ContinuationToken"] = page["NextContinuationToken"]

    names = list(tenants.values())
    with ThreadPoolExecutor(max_workers=threads) as pool:
        objects = dict(zip(names, pool.map(newest_object, names), strict=True))
    return {
        name: worst(judge(snapshots.get(identifier), now), judge(objects[name], now))
        for identifier, name in tenants.items()
    }
