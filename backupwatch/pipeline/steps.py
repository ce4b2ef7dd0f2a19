"""The state machine's three steps (``Mode=step-functions`` in template.yaml), as functions.

``plan`` lists the scopes and writes them where the Distributed Map reads them; ``scan``
checks one scope and hands its partial report on; ``gather`` reads every partial report back
into the run's one report, which ``run_daily(report=...)`` archives and publishes. Each step's
handler in ``handlers/`` is a few lines over one of these. See docs/scale.md.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

import boto3
from pydantic import ValidationError

from backupwatch.aws.accounts import plan_scopes
from backupwatch.aws.clients import s3_client
from backupwatch.aws.fanout_store import gather, store_scan, write_plan
from backupwatch.aws.retry import Retrier
from backupwatch.core.config import Settings
from backupwatch.core.deadline import Deadline
from backupwatch.core.errors import ConfigurationError
from backupwatch.core.fanout import (
    Collected,
    Plan,
    ScanRequest,
    check_run_id,
    read_publish_event,
)
from backupwatch.pipeline.monitor import Clock, check_scopes, utc_now

logger = logging.getLogger("backupwatch")

PLAN_MARGIN_SECONDS = 2.0
"""Kept after the plan's own retries, to return before the function's timeout."""
WRITE_MARGIN_SECONDS = 2.0
"""Kept after the scan's write retries, to return before the function's timeout."""


def plan(
    settings: Settings,
    event: Any,
    *,
    session: boto3.Session | None = None,
    clock: Clock = utc_now,
    deadline: Deadline | None = None,
) -> Plan:
    """List the run's scopes and write them to ``<prefix>runs/<run id>/scopes.json``.

    The event is ``{"run_id": <execution name>}``; without one, the run id comes from the
    clock. An organization that cannot be listed is not raised: it is in the plan's
    ``errors``, and the digest will say so. Raises ``ConfigurationError`` for a missing
    ``BACKUPWATCH_REPORT_BUCKET`` or a bad run id, and ``AwsCallError`` when the scope list
    cannot be written, so the state machine's Catch can still send a digest saying the run
    failed.
    """
    if settings.report_bucket is None:
        raise ConfigurationError(
            "BACKUPWATCH_REPORT_BUCKET",
            None,
            "required by the state machine: the scope list and "
            "large partial reports are passed through it",
        )
    started_at = clock()
    run_id = _run_id(event) or f"run-{started_at:%Y%m%dT%H%M%SZ}"
    session = session or boto3.Session()
    retrier = Retrier(deadline=deadline.earlier(PLAN_MARGIN_SECONDS) if deadline else None)
    scopes, errors = plan_scopes(settings, session, retrier)
    written = write_plan(
        s3_client(session, settings.regions[0], read_timeout=settings.read_timeout_seconds),
        retrier,
        bucket=settings.report_bucket,
        prefix=settings.report_prefix,
        run_id=run_id,
        started_at=started_at,
        scopes=scopes,
        errors=errors,
    )
    logger.info("planned %d scope(s) for run %s", written.scope_count, run_id)
    return written


def scan(
    settings: Settings,
    request: ScanRequest,
    *,
    session: boto3.Session | None = None,
    deadline: Deadline | None = None,
) -> dict[str, Any]:
    """Check the request's scope; return ``{"scope", "report"}`` or ``{"scope", "report_s3"}``.

    The request is what the Map's ItemSelector builds (``scan_request`` reads it): ``{"scope":
    <Scope>, "run_id": <execution name>, "bucket": <report bucket>}``. Checking stops
    ``BACKUPWATCH_PUBLISH_RESERVE_SECONDS`` before ``deadline``, keeping that time to write
    the result. AWS trouble in the check is in the partial report, never raised. Raises
    ``ConfigurationError`` when neither the request nor the settings name a bucket.
    """
    bucket = request.bucket or settings.report_bucket
    if bucket is None:
        raise ConfigurationError(
            "BACKUPWATCH_REPORT_BUCKET", None, "required when the event names no bucket"
        )
    session = session or boto3.Session()
    report = check_scopes(
        settings,
        [request.scope],
        session=session,
        deadline=deadline.reserving(settings.publish_reserve_seconds) if deadline else None,
    )
    result = store_scan(
        s3_client(session, settings.regions[0], read_timeout=settings.read_timeout_seconds),
        Retrier(deadline=deadline.earlier(WRITE_MARGIN_SECONDS) if deadline else None),
        request.scope,
        report,
        bucket=bucket,
        prefix=settings.report_prefix,
        run_id=request.run_id,
    )
    summary = report.summary
    logger.info(
        "scope %s: %d tenant(s), %d failing, %d scope error(s)%s",
        request.scope.label,
        summary.tenants,
        summary.failing,
        summary.regions_failed,
        f", report at {result.report_s3.uri}" if result.report_s3 else "",
    )
    return result.to_event()


def gather_run(
    settings: Settings,
    event: Any,
    *,
    session: boto3.Session | None = None,
    now: datetime | None = None,
    deadline: Deadline | None = None,
) -> Collected:
    """Read what the scan returned (the ResultWriter's manifest and files, or an inline list)
    into the run's one report. Unreadable results never raise: they are scope errors in it.
    Reading stops ``BACKUPWATCH_PUBLISH_RESERVE_SECONDS`` before ``deadline``, in time to
    publish."""
    session = session or boto3.Session()
    reading = Retrier()
    if deadline is not None:
        reading = replace(reading, deadline=deadline.earlier(settings.publish_reserve_seconds))
    return gather(
        s3_client(session, settings.regions[0], read_timeout=settings.read_timeout_seconds),
        reading,
        read_publish_event(event),
        checks=settings.checks,
        now=now or utc_now(),
    )


def scan_request(event: Any) -> ScanRequest:
    """The scan step's event, validated; ``ConfigurationError`` names what is wrong."""
    try:
        return ScanRequest.model_validate(event)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigurationError(
            f"event.{where}" if where else "event",
            first.get("input"),
            f"{first['msg']} (expected {{'scope': {{'region': ..., 'account_id': ..., "
            f"'role_arn': ...}}, 'run_id': ..., 'bucket': ...}})",
        ) from None


def _run_id(event: Any) -> str | None:
    value = event.get("run_id") if isinstance(event, dict) else None
    if value is None or value == "":
        return None
    try:
        return check_run_id(str(value))
    except ValueError as error:
        raise ConfigurationError("event.run_id", value, str(error)) from None
