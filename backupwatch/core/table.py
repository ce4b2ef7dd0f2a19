"""A readable table of a report, for terminals (pure)."""

from __future__ import annotations

from backupwatch.core.digest import clean, no_tenants_hint
from backupwatch.core.models import RegionError, Report, TenantReport

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
        lines.append(f"{_scope(error)} not checked: {clean(error.reason)}")
    if not report.tenants:
        lines.append(no_tenants_hint(report))
    summary = report.summary
    counts = ", ".join(f"{n} {s.value}" for s, n in summary.by_status.items() if n)
    total = f"\n{summary.failing} of {summary.tenants} tenants failing ({counts or 'none'})"
    if summary.regions_failed:
        total += f"; {summary.regions_failed} not checked"
    lines.append(total)
    return "\n".join(lines)


def _scope(error: RegionError) -> str:
    """``region eu-west-1``, ``scope 111122223333 eu-west-1``, or ``account 111122223333``
    (an error before any region, such as a role that cannot be assumed for the listing)."""
    if error.account_id and error.region:
        return f"scope {error.account_id} {error.region}"
    if error.region:
        return f"region {error.region}"
    return f"account {error.account_id}" if error.account_id else "organization"


def _resource(row: TenantReport) -> str:
    """The instance's identifier; a cluster's reads ``cluster <identifier>``."""
    identifier = _cut(row.identifier)
    return identifier if row.kind == "instance" else f"{row.kind} {identifier}"


def _cut(text: str) -> str:
    return text if len(text) <= _WIDEST else text[: _WIDEST - 3] + "..."
