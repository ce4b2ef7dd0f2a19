"""Lambda entry point of the state machine's last step: ``handlers.publish_digest.lambda_handler``.

Reads what the scan returned (the Distributed Map's ResultWriter manifest and files, or an
inline list), merges the partial reports into the run's one report, archives it, and publishes
the one digest, exactly as ``handlers.daily_digest`` does for a single Lambda. Every planned
scope is in the digest: checked, failed (named, with the error), or not heard from.
"""

from __future__ import annotations

import os
from typing import Any

from backupwatch import load_settings, run_daily
from backupwatch.pipeline import steps
from backupwatch.pipeline.lambda_run import (
    deadline_from,
    dry_run_from,
    finish,
    occasion_from,
    resend_from,
    start,
)


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Merge the scan's results, publish one digest, return the summary.

    The event is ``{"plan": <plan step output>, "scan": <Map output>}`` or ``{"plan": ...,
    "results": [<scan outputs>]}``; ``{"dry_run": true}`` in it publishes nothing, and
    ``scheduled_time`` / ``resend`` are read as ``daily_digest`` reads them. The result is
    ``daily_digest``'s summary plus ``scopes`` (planned) and ``scopes_failed`` (not fully
    checked), and the same metrics (``Heartbeat`` included) are written.

    Unreadable results never stop the digest: they are scope errors in it. Raises
    ``ConfigurationError`` for bad settings and ``PublishError`` when the digest could not be
    sent, so the execution fails and the alarms fire.
    """
    telemetry = start(context, os.environ)
    settings = load_settings(os.environ, dry_run=dry_run_from(event))
    session = telemetry.session()
    deadline = deadline_from(context)
    collected = steps.gather_run(settings, event, session=session, deadline=deadline)
    outcome = run_daily(
        settings,
        report=collected.report,
        session=session,
        deadline=deadline,
        occasion=occasion_from(event),
        resend=resend_from(event),
    )
    return finish(
        outcome, telemetry, scopes=collected.scopes, scopes_failed=collected.scopes_failed
    )
