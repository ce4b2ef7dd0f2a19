"""Lambda entry point of one Distributed Map child: ``handlers.scan_scope.lambda_handler``.

Checks one scope (one account-region) and returns its partial report, inline or, when it is too
large for a Step Functions payload, written to S3 under the run's prefix. AWS trouble is never
raised: it is in the partial report (an ``ERROR`` tenant, or a scope error), so the child
succeeds and the digest says what went wrong.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import boto3
from pydantic import ValidationError

from backupwatch import ConfigurationError, Retrier, check_scopes, load_settings
from backupwatch.aws.clients import s3_client
from backupwatch.aws.fanout_store import store_scan
from backupwatch.core.fanout import ScanRequest
from handlers._lambda import deadline_from

logger = logging.getLogger("backupwatch")

WRITE_MARGIN_SECONDS = 2.0
"""Kept after the write's own retries, to return before the function's timeout."""


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Check ``event["scope"]``; return ``{"scope", "report"}`` or ``{"scope", "report_s3"}``.

    The event is what the Map's ItemSelector builds: ``{"scope": <Scope>, "run_id": <execution
    name>, "bucket": <report bucket>}``. Checking stops ``BACKUPWATCH_PUBLISH_RESERVE_SECONDS``
    before the function's timeout, keeping that time to write the result. Raises
    ``ConfigurationError`` for bad settings or an event that is not a scan request.
    """
    logging.getLogger("backupwatch").setLevel(logging.INFO)
    request = _request(event)
    settings = load_settings(os.environ)
    bucket = request.bucket or settings.report_bucket
    if bucket is None:
        raise ConfigurationError(
            "BACKUPWATCH_REPORT_BUCKET", None, "required when the event names no bucket"
        )
    session = boto3.Session()
    deadline = deadline_from(context)
    report = check_scopes(
        settings,
        [request.scope],
        session=session,
        deadline=deadline.reserving(settings.publish_reserve_seconds) if deadline else None,
    )
    result = store_scan(
        s3_client(session, settings.regions[0]),
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


def _request(event: Any) -> ScanRequest:
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
