"""Lambda entry point: ``handlers.daily_digest.lambda_handler``.

Reads its configuration from the environment (see docs/configuration.md), checks every tenant,
publishes exactly one digest, and returns a summary. An event ``{"dry_run": true}`` runs
everything but the publish, for a manual test from the console.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from backupwatch import load_settings
from backupwatch.config import parse_bool
from backupwatch.deadline import Deadline

from ._pipeline import run
from .metrics import RunTelemetry

logger = logging.getLogger("backupwatch")


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Check, publish one digest, and return a JSON-serialisable summary.

    The summary: ``tenants``, ``failing`` (failing tenants), ``by_status``, ``regions_failed``,
    ``ok`` (false whenever the run needs attention), ``message_id`` (None when nothing was
    published) and ``subject``.

    Raises ``ConfigurationError`` (before any AWS call) for bad settings and ``PublishError``
    when the digest could not be sent, so the function's error metric and alarms fire.

    The deadline is the function's own timeout (``context.get_remaining_time_in_millis()``):
    checks stop ``BACKUPWATCH_PUBLISH_RESERVE_SECONDS`` before it, unchecked tenants are
    reported as ``ERROR``, and the digest is still published.
    """
    telemetry = RunTelemetry.start(context, os.environ)
    logging.getLogger("backupwatch").setLevel(logging.INFO)
    settings = load_settings(os.environ, dry_run=_dry_run(event))
    outcome = run(settings, deadline=_deadline(context), session=telemetry.session())
    # The digest is out: nothing from here on may raise, or an async retry would send it twice.
    try:
        result = outcome.summary()
        telemetry.finish(outcome.report, result)  # never raises
        logger.info("backupwatch run done: %s", result)
    except Exception:  # pragma: no cover - defensive: summary() is pure and total
        logger.exception("could not summarise a run whose digest was published")
        return {"message_id": outcome.message_id}
    return result


def _deadline(context: Any) -> Deadline | None:
    """The function's timeout, when the context can tell it (a console test event can't)."""
    if callable(getattr(context, "get_remaining_time_in_millis", None)):
        return Deadline.from_lambda_context(context)
    return None


def _dry_run(event: Any) -> bool | None:
    """``{"dry_run": true}`` (or ``"true"``) in the event; None leaves the environment's choice."""
    value = event.get("dry_run") if isinstance(event, dict) else None
    if value is None:
        return None
    dry_run = value if isinstance(value, bool) else parse_bool("event.dry_run", str(value))
    return dry_run or None
