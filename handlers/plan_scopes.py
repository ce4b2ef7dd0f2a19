"""Lambda entry point of the state machine's first step: ``handlers.plan_scopes.lambda_handler``.

Lists the run's scopes (account-regions: from ``BACKUPWATCH_TARGETS``, or every ACTIVE account of
the organization) and writes them to ``<report prefix>runs/<run id>/scopes.json`` in
``BACKUPWATCH_REPORT_BUCKET``, where the Distributed Map's ItemReader reads them: through S3,
the number of scopes is not bounded by Step Functions' 256 KiB payload limit.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import boto3

from backupwatch import ConfigurationError, Retrier, load_settings
from backupwatch.aws.accounts import plan_scopes
from backupwatch.aws.clients import s3_client
from backupwatch.aws.fanout_store import write_plan
from backupwatch.core.fanout import check_run_id
from backupwatch.pipeline.monitor import utc_now
from handlers._lambda import deadline_from

logger = logging.getLogger("backupwatch")


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Plan the run; return ``{"run_id", "started_at", "bucket", "scopes_key", "scope_count",
    "errors"}`` for the Map and the publish step.

    The event is ``{"run_id": <execution name>}``; without one, the run id comes from the clock.
    An organization that cannot be listed is not raised: it is in ``errors``, and the digest
    will say so. Raises ``ConfigurationError`` for bad settings (``BACKUPWATCH_REPORT_BUCKET``
    is required here) or a bad run id, and ``AwsCallError`` when the scope list cannot be
    written, so the state machine's Catch can still send a digest saying the run failed.
    """
    logging.getLogger("backupwatch").setLevel(logging.INFO)
    settings = load_settings(os.environ)
    if settings.report_bucket is None:
        raise ConfigurationError(
            "BACKUPWATCH_REPORT_BUCKET",
            None,
            "required by the state machine: the scope list and "
            "large partial reports are passed through it",
        )
    started_at = utc_now()
    run_id = _run_id(event) or f"run-{started_at:%Y%m%dT%H%M%SZ}"
    session = boto3.Session()
    deadline = deadline_from(context)
    retrier = Retrier(deadline=deadline.earlier(2.0) if deadline else None)
    scopes, errors = plan_scopes(settings, session, retrier)
    plan = write_plan(
        s3_client(session, settings.regions[0]),
        retrier,
        bucket=settings.report_bucket,
        prefix=settings.report_prefix,
        run_id=run_id,
        started_at=started_at,
        scopes=scopes,
        errors=errors,
    )
    logger.info("planned %d scope(s) for run %s", plan.scope_count, run_id)
    return plan.model_dump(mode="json")


def _run_id(event: Any) -> str | None:
    value = event.get("run_id") if isinstance(event, dict) else None
    if value is None or value == "":
        return None
    try:
        return check_run_id(str(value))
    except ValueError as error:
        raise ConfigurationError("event.run_id", value, str(error)) from None
