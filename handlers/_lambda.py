"""What every Lambda entry point reads the same way from its event and context."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from backupwatch.core.config import parse_bool
from backupwatch.core.deadline import Deadline
from backupwatch.pipeline.telemetry import log_run_done

if TYPE_CHECKING:
    from backupwatch.pipeline.daily import Outcome
    from backupwatch.pipeline.telemetry import RunTelemetry

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
