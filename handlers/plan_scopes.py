"""Lambda entry point of the state machine's first step: ``handlers.plan_scopes.lambda_handler``.

Lists the run's scopes (account-regions: from ``BACKUPWATCH_TARGETS``, or every ACTIVE account of
the organization) and writes them to ``<report prefix>runs/<run id>/scopes.json`` in
``BACKUPWATCH_REPORT_BUCKET``, where the Distributed Map's ItemReader reads them: through S3,
the number of scopes is not bounded by Step Functions' 256 KiB payload limit.
"""

from __future__ import annotations

import os
from typing import Any

from backupwatch import load_settings
from backupwatch.pipeline import steps
from backupwatch.pipeline.lambda_run import deadline_from, start


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Plan the run; return ``{"run_id", "started_at", "bucket", "scopes_key", "scope_count",
    "errors"}`` for the Map and the publish step (``backupwatch.pipeline.steps.plan``).

    Raises ``ConfigurationError`` for bad settings (``BACKUPWATCH_REPORT_BUCKET`` is required
    here) or a bad run id, and ``AwsCallError`` when the scope list cannot be written.
    """
    start(context, os.environ)
    plan = steps.plan(load_settings(os.environ), event, deadline=deadline_from(context))
    return plan.model_dump(mode="json")
