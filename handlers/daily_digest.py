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

from ._pipeline import run

logger = logging.getLogger("backupwatch")


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Check, publish one digest, return ``tenants``, ``failing``, ``by_status``, ``message_id``.

    Raises ``ConfigurationError`` (before any AWS call) for bad settings and ``PublishError``
    when the digest could not be sent, so the function's error metric and alarms fire.
    """
    logging.getLogger("backupwatch").setLevel(logging.INFO)
    dry_run = bool(event.get("dry_run")) if isinstance(event, dict) else False
    settings = load_settings(os.environ, dry_run=dry_run or None)
    outcome = run(settings)
    result = outcome.summary()
    logger.info("backupwatch run done: %s", result)
    return result
