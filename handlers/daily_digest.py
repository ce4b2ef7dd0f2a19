"""Lambda entry point: ``handlers.daily_digest.lambda_handler``.

Reads its configuration from the environment (see docs/configuration.md), checks every tenant,
publishes exactly one digest, and returns a summary. An event ``{"dry_run": true}`` runs
everything but the publish, for a manual test from the console.
"""

from __future__ import annotations

import os
from typing import Any

from backupwatch import load_settings, run_daily
from backupwatch.pipeline.lambda_run import (
    deadline_from,
    dry_run_from,
    finish,
    occasion_from,
    resend_from,
    start,
)


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Check, publish one digest, and return a JSON-serialisable summary.

    The summary: ``tenants``, ``failing`` (failing tenants), ``by_status``, ``regions_failed``,
    ``ok`` (false whenever the run needs attention), ``message_id`` (None when nothing was
    published), ``subject``, ``report``, ``changes``, ``status_page`` and ``deliveries``
    (each channel's state: see ``backupwatch.Outcome.summary`` and docs/delivery.md).

    The event may carry ``scheduled_time`` (the schedule's time: a retried or repeated
    invocation of one schedule sends nothing twice) and ``resend`` (send every channel again).

    Raises ``ConfigurationError`` (before any AWS call) for bad settings and ``PublishError``
    when the digest could not be sent, so the function's error metric and alarms fire.

    The deadline is the function's own timeout (``context.get_remaining_time_in_millis()``):
    checks stop ``BACKUPWATCH_PUBLISH_RESERVE_SECONDS`` before it, unchecked tenants are
    reported as ``ERROR``, and the digest is still published.
    """
    telemetry = start(context, os.environ)
    settings = load_settings(os.environ, dry_run=dry_run_from(event))
    outcome = run_daily(
        settings,
        deadline=deadline_from(context),
        session=telemetry.session(),
        occasion=occasion_from(event),
        resend=resend_from(event),
    )
    return finish(outcome, telemetry)
