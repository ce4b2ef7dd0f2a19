"""A readable table of a report, for terminals (pure)."""

from __future__ import annotations

from .digest import clean
from .models import Report, TenantReport

_COLUMNS = ("TENANT", "STATUS", "INSTANCE", "REGION", "REASON")
_WIDEST = 40  # beyond this a name column is cut with "..."


def render_table(report: Report) -> str:
    """Most severe first, then OK; one line each, then the counts.

    A ``STOPPED`` tenant made failing by ``BACKUPWATCH_STOPPED_IS_FAILING`` sorts with the
    failing ones.
    """
    rows = sorted(
        report.tenants, key=lambda r: (not r.failing, -r.status.severity, r.tenant, r.region)
    )
    cells = [(_cut(r.tenant), r.status.value, _resource(r), r.region, r.reason) for r in rows]
    widths = [
        max([len(_COLUMNS[i]), *(len(clean(row[i])) for row in cells)])
        for i in range(len(_COLUMNS) - 1)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(_COLUMNS, widths, strict=False)) + "  REASON"]
    for row in cells:
        lead = "  ".join(clean(c).ljust(w) for c, w in zip(row, widths, strict=False))
        lines.append(f"{lead}  {clean(row[-1])}")
    for error in report.region_errors:
        lines.append(f"region {error.region} not checked: {clean(error.reason)}")
    if not report.tenants:
        lines.append("No tenants were found: is the tenant tag set on the DB instances?")
    summary = report.summary
    counts = ", ".join(f"{n} {s.value}" for s, n in summary.by_status.items() if n)
    lines.append(f"\n{summary.failing} of {summary.tenants} tenants failing ({counts or 'none'})")
    return "\n".join(lines)


def _resource(row: TenantReport) -> str:
    """The instance's identifier; a cluster's reads ``cluster <identifier>``."""
    identifier = _cut(row.identifier)
    return identifier if row.kind == "instance" else f"{row.kind} {identifier}"


def _cut(text: str) -> str:
    return text if len(text) <= _WIDEST else text[: _WIDEST - 3] + "..."
