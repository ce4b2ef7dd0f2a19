"""Joining partial reports (one per scope) into the run's one report (pure).

The state machine checks each account-region in its own Lambda; the publish step merges what
they return. The merge is a join in the algebraic sense, so the order the partial reports
arrive in, and how they are grouped, never changes the digest:

- ``generated_at`` is the earliest (the run started then), ``regions``, ``accounts`` and
  ``checks`` are unions in a fixed order;
- tenant rows are keyed by account, region, kind and identifier; a key seen twice (a scope
  listed twice) keeps one row, the most severe, so a failure is never hidden by a duplicate;
- scope errors are all kept, each once.
"""

from __future__ import annotations

from collections.abc import Iterable

from backupwatch.core.errors import NothingToMerge
from backupwatch.core.models import Check, RegionError, Report, RowKey, TenantReport


def merge_reports(reports: Iterable[Report]) -> Report:
    """One report from many: nothing lost, no tenant twice, the result independent of order.

    Raises ``NothingToMerge`` for an empty input.
    """
    parts = list(reports)
    if not parts:
        raise NothingToMerge("no partial report to merge")
    rows: dict[RowKey, TenantReport] = {}
    errors: dict[tuple[str, str, str], RegionError] = {}
    for part in parts:
        for row in part.tenants:
            kept = rows.get(row.key)
            rows[row.key] = row if kept is None else _graver(kept, row)
        for error in part.region_errors:
            kept_error = errors.get(error.key)
            errors[error.key] = (
                error if kept_error is None else min(kept_error, error, key=_canonical)
            )
    checks = {check for part in parts for check in part.checks}
    return Report(
        generated_at=min(part.generated_at for part in parts),
        regions=tuple(sorted({region for part in parts for region in part.regions})),
        accounts=tuple(sorted({account for part in parts for account in part.accounts})),
        checks=tuple(check for check in Check if check in checks),
        tenants=tuple(rows[key] for key in sorted(rows)),
        region_errors=tuple(errors[key] for key in sorted(errors)),
    )


def _graver(one: TenantReport, other: TenantReport) -> TenantReport:
    """The row to keep of two for one tenant: failing first, then the more severe status,
    then a fixed order on the whole row, so the choice never depends on arrival order."""
    return max(one, other, key=lambda row: (row.failing, row.status.severity, _canonical(row)))


def _canonical(value: TenantReport | RegionError) -> str:
    return value.model_dump_json()
