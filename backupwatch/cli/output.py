"""What the commands print: the report as a table or as JSON, on stdout."""

from __future__ import annotations

import json

from backupwatch.core.models import Report
from backupwatch.core.table import render_table


def print_report(report: Report, *, as_json: bool) -> None:
    """``--json``: the report as the archive keeps it; otherwise the table."""
    if as_json:
        print(json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False))
    else:
        print(render_table(report))
