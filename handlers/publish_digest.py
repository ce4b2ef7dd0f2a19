"""Lambda entry point of the state machine's last step: ``handlers.publish_digest.lambda_handler``.

Reads what the scan returned (the Distributed Map's ResultWriter manifest and files, or an
inline list), merges the partial reports into the run's one report, archives it, and publishes
the one digest, exactly as ``handlers.daily_digest`` does for a single Lambda. Every planned
scope is in the digest: checked, failed (named, with the error), or not heard from.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from typing import Any

from backupwatch import Retrier, load_settings, run_daily
from backupwatch.aws.clients import s3_client
from backupwatch.aws.fanout_store import gather
from backupwatch.core.fanout import read_publish_event
from backupwatch.pipeline.monitor import utc_now
from backupwatch.pipeline.telemetry import RunTelemetry
from handlers._lambda import deadline_from, dry_run_from, finish

logger = logging.getLogger("backupwatch")


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Merge the scan's results, publish one digest, return the summary.

    The event is ``{"plan": <plan step output>, "scan": <Map output>}`` or ``{"plan": ...,
    "results": [<scan outputs>]}``; ``{"dry_run": true}`` in it publishes nothing. The result is
    ``daily_digest``'s summary plus ``scopes`` (planned) and ``scopes_failed`` (not fully
    checked), and the same metrics (``Heartbeat`` included) are written.

    Unreadable results never stop the digest: they are scope errors in it. Raises
    ``ConfigurationError`` for bad settings and ``PublishError`` when the digest could not be
    sent, so the execution fails and the alarms fire.
    """
    telemetry = RunTelemetry.start(context, os.environ)
    logging.getLogger("backupwatch").setLevel(logging.INFO)
    settings = load_settings(os.environ, dry_run=dry_run_from(event))
    session = telemetry.session()
    deadline = deadline_from(context)
    reading = Retrier()
    if deadline is not None:  # stop reading in time to publish
        reading = replace(reading, deadline=deadline.earlier(settings.publish_reserve_seconds))
    collected = gather(
        s3_client(session, settings.regions[0]),
        reading,
        read_publish_event(event),
        checks=settings.checks,
        now=utc_now(),
    )
    outcome = run_daily(settings, report=collected.report, session=session, deadline=deadline)
    return finish(
        outcome, telemetry, scopes=collected.scopes, scopes_failed=collected.scopes_failed
    )
