"""One run: discover tenants, gather evidence, judge it. Returns a ``Report``; sends nothing.

This is the only module that ties the AWS edges (discovery, RDS and S3 evidence) to the pure
core (evaluation). The clock, the boto3 session and the retry policy are parameters, so tests
and other Lambdas control all three.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import boto3

from .clients import rds_client, s3_client, sts_client
from .config import Settings
from .discovery import discover
from .errors import AwsCallError
from .evaluation import error_result, evaluate_rds, evaluate_s3, tenant_report
from .models import Check, CheckResult, RdsEvidence, Report, SnapshotInfo, Tenant, TenantReport
from .rds_evidence import newest_automated_snapshots
from .retry import Retrier
from .s3_evidence import newest_objects

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger("backupwatch")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The default clock: aware UTC (never ``utcnow()``, which is naive)."""
    return datetime.now(UTC)


def check_tenants(
    settings: Settings,
    *,
    session: boto3.Session | None = None,
    clock: Clock = utc_now,
    retrier: Retrier | None = None,
) -> Report:
    """Discover every tenant, check each one, and return the report.

    Never raises for AWS trouble: a denied or throttled-out call becomes an ``ERROR`` row for
    the tenants it concerns (or a region error when discovery itself fails). Every discovered
    tenant appears in the report exactly once.
    """
    now = clock()
    if now.tzinfo is None:
        raise ValueError("clock() must return an aware datetime (AWS timestamps are aware)")
    session = session or boto3.Session()
    retrier = retrier or Retrier()

    account_id = _account_id(settings, session, retrier) if settings.uses_account_id else None
    rds_by_region = {region: rds_client(session, region) for region in settings.regions}
    found = discover(settings, rds_by_region, retrier, account_id=account_id)
    for region_error in found.region_errors:
        logger.error("region %s not checked: %s", region_error.region, region_error.reason)

    rds_results = (
        _rds_results(found.tenants, rds_by_region, retrier, now)
        if Check.RDS in settings.checks
        else {}
    )
    # Settings guarantee a bucket whenever the s3 check is on.
    bucket = settings.s3_bucket if Check.S3 in settings.checks else None
    s3 = s3_client(session, settings.regions[0]) if bucket is not None else None

    rows: list[TenantReport] = []
    for tenant in found.tenants:
        results: dict[Check, CheckResult] = {}
        if Check.RDS in settings.checks:
            results[Check.RDS] = rds_results[_key(tenant)]
        if s3 is not None and bucket is not None:
            results[Check.S3] = _s3_result(tenant, s3, retrier, bucket, now)
        rows.append(tenant_report(tenant, results))

    return Report(
        generated_at=now,
        regions=settings.regions,
        checks=settings.checks,
        tenants=tuple(rows),
        region_errors=found.region_errors,
    )


def _key(tenant: Tenant) -> tuple[str, str]:
    return (tenant.region, tenant.db_instance_identifier)


def _rds_results(
    tenants: Iterable[Tenant],
    rds_by_region: Mapping[str, RDSClient],
    retrier: Retrier,
    now: datetime,
) -> dict[tuple[str, str], CheckResult]:
    """RDS verdict per tenant, from one bulk snapshot listing per region that has tenants."""
    by_region: dict[str, list[Tenant]] = {}
    results: dict[tuple[str, str], CheckResult] = {}
    for tenant in tenants:
        if tenant.backup_retention_period is None:
            results[_key(tenant)] = error_result(Check.RDS, "no DB instance to check")
        else:
            by_region.setdefault(tenant.region, []).append(tenant)

    for region, members in by_region.items():
        try:
            snapshots = newest_automated_snapshots(
                rds_by_region[region], retrier, [t.db_instance_identifier for t in members]
            )
        except AwsCallError as error:
            logger.error("rds evidence for %s failed: %s", region, error)
            for tenant in members:
                # Retention 0 needs no snapshot to be judged DISABLED; all else is unknown.
                results[_key(tenant)] = (
                    _judge_rds(tenant, None, now)
                    if tenant.backup_retention_period == 0
                    else error_result(Check.RDS, f"could not list snapshots: {error.short}")
                )
            continue
        for tenant in members:
            newest = snapshots.get(tenant.db_instance_identifier)
            results[_key(tenant)] = _judge_rds(tenant, newest, now)
    return results


def _judge_rds(tenant: Tenant, newest: SnapshotInfo | None, now: datetime) -> CheckResult:
    evidence = RdsEvidence(
        db_instance_identifier=tenant.db_instance_identifier,
        backup_retention_period=tenant.backup_retention_period or 0,
        newest_snapshot=newest,
    )
    return evaluate_rds(evidence, max_age_hours=tenant.max_age_hours, now=now)


def _s3_result(
    tenant: Tenant, s3: S3Client, retrier: Retrier, bucket: str, now: datetime
) -> CheckResult:
    if tenant.s3_prefix is None:
        return error_result(Check.S3, "no folder to check (see the tenant's problems)")
    try:
        evidence = newest_objects(
            s3,
            retrier,
            bucket=bucket,
            prefix=tenant.s3_prefix,
            min_object_bytes=tenant.min_object_bytes,
        )
    except AwsCallError as error:
        logger.error("s3 evidence for tenant %s failed: %s", tenant.name, error)
        return error_result(
            Check.S3, f"could not list s3://{bucket}/{tenant.s3_prefix}: {error.short}"
        )
    return evaluate_s3(evidence, max_age_hours=tenant.max_age_hours, now=now)


def _account_id(settings: Settings, session: boto3.Session, retrier: Retrier) -> str | None:
    """The account id for ``{account_id}`` templates: one STS call, made only when needed."""
    sts = sts_client(session, settings.regions[0])
    try:
        identity = retrier.call("sts:GetCallerIdentity", sts.get_caller_identity)
    except AwsCallError as error:
        logger.error("cannot read the account id for the prefix template: %s", error)
        return None
    return identity["Account"]
