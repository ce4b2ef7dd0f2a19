"""What every Lambda entry point does the same way: read the event and the context, and end a
run with its summary, metrics and last log line.

``handlers/`` holds the entry points that template.yaml deploys; they are a few lines over
this module and ``backupwatch.pipeline.steps``.
"""

from __future__ import annotations

import logging
from typing import Any

from backupwatch.core.config import parse_bool
from backupwatch.core.deadline import Deadline
from backupwatch.pipeline.daily import Outcome
from backupwatch.pipeline.telemetry import RunTelemetry, log_run_done

logger = logging.getLogger("backupwatch")


def deadline_from(context: Any) -> Deadline | None:
    """The function's timeout, when the context can tell it (a console test event can't)."""
    if callable(getattr(context, "get_remaining_time_in_millis", None)):
        return Deadline.from_lambda_context(context)
    return None


def dry_run_from(event: Any) -> bool | None:
    """``{"dry_run": true}`` (or ``"true"``) in the event; None leaves the environment's choice."""
    value = event.get("dry_run") if isinstance(event, dict) else None
    if value is None:
        return None
    dry_run = value if isinstance(value, bool) else parse_bool("event.dry_run", str(value))
    return dry_run or None


def occasion_from(event: Any) -> str | None:
    """The schedule's time (``scheduled_time``: EventBridge Scheduler's
    ``<aws.scheduler.scheduled-time>``, as template.yaml's schedule sends it), which a retried
    or repeated invocation carries unchanged: what keys the publish ledger beside the run's
    date and scope. None when absent (a manual invocation)."""
    value = event.get("scheduled_time") if isinstance(event, dict) else None
    if not isinstance(value, str) or not value.strip() or value.startswith("<"):
        return None
    return value.strip()[:64]


def resend_from(event: Any) -> bool:
    """``{"resend": true}``: send every channel again although the ledger says it was sent."""
    value = event.get("resend") if isinstance(event, dict) else None
    if value is None:
        return False
    return value if isinstance(value, bool) else parse_bool("event.resend", str(value))


def start(context: Any, environ: Any) -> RunTelemetry:
    """Start a run's telemetry and log at INFO: the failing tenants and the last line are
    what the alarms' readers query."""
    logging.getLogger("backupwatch").setLevel(logging.INFO)
    return RunTelemetry.start(context, environ)


def finish(outcome: Outcome, telemetry: RunTelemetry, **extra: Any) -> dict[str, Any]:
    """The run's summary (plus ``extra``), its metrics and its last log line; never raises.

    Called once the digest is out: from there nothing may raise, or a retry of the invocation
    would send the digest twice.
    """
    try:
        result = {**outcome.summary(), **extra}
        telemetry.finish(outcome.report, result)  # never raises
        log_run_done(result)
    except Exception:  # pragma: no cover - defensive: summary() is pure and total
        logger.exception("could not summarise a run whose digest was published")
        return {"message_id": outcome.message_id}
    return result
