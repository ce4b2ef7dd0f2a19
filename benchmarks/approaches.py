"""The two contenders, each returning its tenant verdict counts for the sanity check.

``naive``: the seed's algorithm made correct, and nothing more. Sequential; discovery by tag
(every DescribeDBInstances page); per tenant one DescribeDBSnapshots for its automated
snapshots (every page) and one full ListObjectsV2 listing of its folder (every page); the
newest item wins. It is the baseline a reviewer would write first, so it is what backupwatch's
extra machinery has to beat.

``backupwatch``: the library as a caller uses it, ``check_tenants(settings, session=...)``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import boto3

from backupwatch import Settings, check_tenants, load_settings

from .world import (
    BUCKET,
    COPY_REGION,
    DAILY_BACKUP_DAYS,
    KMS_KEY,
    MIN_RETENTION_DAYS,
    REGION,
    TENANT_TAG,
)

WINDOW = timedelta(hours=24)
SEVERITY = ("MISSING", "STALE", "OK")
"""Worst first: the naive check only knows these three."""


def run_naive(session: boto3.Session, now: datetime) -> dict[str, int]:
    """Check every tagged tenant the seed's way, corrected; return verdict counts."""
    rds = session.client("rds", region_name=REGION)
    s3 = session.client("s3", region_name=REGION)
    verdicts: Counter[str] = Counter()
    for instance in _tagged_instances(rds):
        identifier = instance["DBInstanceIdentifier"]
        tenant = _tag(instance, TENANT_TAG) or identifier
        snapshot = _newest(
            (s["SnapshotCreateTime"] for s in _automated_snapshots(rds, identifier)),
        )
        backup = _newest(o["LastModified"] for o in _objects(s3, f"{tenant}-backups/"))
        verdicts[_worst(_judge(snapshot, now), _judge(backup, now))] += 1
    return dict(verdicts)


def _tagged_instances(rds: Any) -> Iterable[Mapping[str, Any]]:
    """RDS cannot filter by tag server-side: list every instance, keep the tagged ones."""
    for page in rds.get_paginator("describe_db_instances").paginate(
        PaginationConfig={"PageSize": 100}
    ):
        for instance in page["DBInstances"]:
            if _tag(instance, TENANT_TAG) is not None:
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


def _tag(instance: Mapping[str, Any], key: str) -> str | None:
    return next((t.get("Value", "") for t in instance.get("TagList", []) if t["Key"] == key), None)


def _newest(times: Iterable[datetime]) -> datetime | None:
    return max(times, default=None)


def _judge(newest: datetime | None, now: datetime) -> str:
    if newest is None:
        return "MISSING"
    return "OK" if now - newest <= WINDOW else "STALE"


def _worst(*statuses: str) -> str:
    return min(statuses, key=SEVERITY.index)


def backupwatch_settings(
    *,
    s3_concurrency: int | None = None,
    rds_requests_per_second: float | None = None,
    rds_burst: int | None = None,
    date_layout: str | None = None,
    integrity: bool = False,
    everything: bool = False,
) -> Settings:
    """``load_settings`` as the Lambda does it, from variables; knobs only when given.

    ``integrity`` switches on every check that reads the dump: its format (pg_custom, from its
    first bytes) and its checksum (a HeadObject, and a look for the sidecar).

    ``everything`` switches on every other check and control: ``backup`` (with the rule
    ``both``, so snapshots and recovery points are each read and judged), ``copy`` to
    ``COPY_REGION``, and the policy controls (retention, encryption with ``KMS_KEY``, a backup
    each of the last days).

    Going through the environment variables (not overrides) exercises the same parsing an
    operator's configuration does. Unset knobs keep backupwatch's defaults.
    """
    environ = {
        "BACKUPWATCH_DRY_RUN": "true",
        "BACKUPWATCH_S3_BUCKET": BUCKET,
        "BACKUPWATCH_REGIONS": REGION,
        "BACKUPWATCH_TENANT_TAG": TENANT_TAG,
    }
    knobs = {
        "BACKUPWATCH_S3_CONCURRENCY": s3_concurrency,
        "BACKUPWATCH_RDS_REQUESTS_PER_SECOND": rds_requests_per_second,
        "BACKUPWATCH_RDS_BURST": rds_burst,
        "BACKUPWATCH_S3_DATE_LAYOUT": date_layout,
        "BACKUPWATCH_DUMP_FORMAT": "pg_custom" if integrity else None,
        "BACKUPWATCH_VERIFY_CHECKSUMS": "true" if integrity else None,
    }
    if everything:
        knobs |= {
            "BACKUPWATCH_CHECKS": "rds,s3,backup",
            "BACKUPWATCH_RDS_BACKUP_RULE": "both",
            "BACKUPWATCH_COPY_REGIONS": COPY_REGION,
            "BACKUPWATCH_MIN_RETENTION_DAYS": MIN_RETENTION_DAYS,
            "BACKUPWATCH_REQUIRE_ENCRYPTED_BACKUPS": "true",
            "BACKUPWATCH_BACKUP_KMS_KEY": KMS_KEY,
            "BACKUPWATCH_DAILY_BACKUP_DAYS": DAILY_BACKUP_DAYS,
        }
    environ.update({name: str(value) for name, value in knobs.items() if value is not None})
    return load_settings(environ)


def run_backupwatch(session: boto3.Session, settings: Settings, now: datetime) -> dict[str, int]:
    """``check_tenants`` with a fixed clock (the world's ``now``); return verdict counts."""
    report = check_tenants(settings, session=session, clock=lambda: now)
    return dict(Counter(str(row.status) for row in report.tenants))
