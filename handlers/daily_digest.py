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

from ._pipeline import run

logger = logging.getLogger("backupwatch")


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Check, publish one digest, and return a JSON-serialisable summary.

    The summary: ``tenants``, ``failing`` (failing tenants), ``by_status``, ``regions_failed``,
    ``ok`` (false whenever the run needs attention), ``message_id`` (None when nothing was
    published) and ``subject``.

    Raises ``ConfigurationError`` (before any AWS call) for bad settings and ``PublishError``
    when the digest could not be sent, so the function's error metric and alarms fire.
    """
    logging.getLogger("backupwatch").setLevel(logging.INFO)
    settings = load_settings(os.environ, dry_run=_dry_run(event))
    outcome = run(settings)
    result = outcome.summary()
    logger.info("backupwatch run done: %s", result)
    return result


def _dry_run(event: Any) -> bool | None:
    """``{"dry_run": true}`` (or ``"true"``) in the event; None leaves the environment's choice."""
    value = event.get("dry_run") if isinstance(event, dict) else None
    if value is None:
        return None
    dry_run = value if isinstance(value, bool) else parse_bool("event.dry_run", str(value))
    return dry_run or None
