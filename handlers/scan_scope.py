"""Lambda entry point of one Distributed Map child: ``handlers.scan_scope.lambda_handler``.

Checks one scope (one account-region) and returns its partial report, inline or, when it is too
large for a Step Functions payload, written to S3 under the run's prefix. AWS trouble is never
raised: it is in the partial report (an ``ERROR`` tenant, or a scope error), so the child
succeeds and the digest says what went wrong.
"""

from __future__ import annotations

import os
from typing import Any

from backupwatch import load_settings
from backupwatch.pipeline import steps
from backupwatch.pipeline.lambda_run import deadline_from, start


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Check ``event["scope"]``; return ``{"scope", "report"}`` or ``{"scope", "report_s3"}``
    (``backupwatch.pipeline.steps.scan``).

    Raises ``ConfigurationError`` for bad settings or an event that is not a scan request.
    """
    start(context, os.environ)
    request = steps.scan_request(event)  # a bad event is named before the settings are read
    settings = load_settings(os.environ)
    return steps.scan(settings, request, deadline=deadline_from(context))
