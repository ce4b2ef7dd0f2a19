"""What every Lambda entry point reads the same way from its event and context."""

from __future__ import annotations

from typing import Any

from backupwatch.config import parse_bool
from backupwatch.deadline import Deadline


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
