"""The two contenders, each returning its tenant verdict counts for the sanity check.

``naive``: the seed's algorithm made correct, and nothing more (``benchmarks/naive.py``).
Sequential; discovery by tag (every DescribeDBInstances page); per tenant one
DescribeDBSnapshots for its automated snapshots (every page) and one full ListObjectsV2
listing of its folder (every page); the newest item wins. It is the baseline a reviewer would
write first, so it is what backupwatch's extra machinery has to beat.

``backupwatch``: the library as a caller uses it, ``check_tenants(settings, session=...)``.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import boto3

from backupwatch import Settings, check_tenants, load_settings

from .naive import naive_verdicts
from .world import (
    BUCKET,
    COPY_REGION,
    DAILY_BACKUP_DAYS,
    KMS_KEY,
    MIN_RETENTION_DAYS,
    REGION,
    TENANT_TAG,
)


def run_naive(session: boto3.Session, now: datetime) -> dict[str, int]:
    """Check every tagged tenant the seed's way, corrected; return verdict counts."""
    return dict(Counter(naive_verdicts(session, now).values()))


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


def backupwatch_verdicts(
    settings: Settings, now: datetime, session: boto3.Session | None = None
) -> dict[str, str]:
    """``check_tenants`` as a caller writes it (its own session unless given one); tenant name
    -> status. Raises ``RuntimeError`` on a region error: a run that checked nothing is not a
    measurement."""
    report = check_tenants(settings, session=session, clock=lambda: now)
    if report.region_errors:
        raise RuntimeError(f"backupwatch could not check: {report.region_errors}")
    return {row.tenant: str(row.status) for row in report.tenants}
