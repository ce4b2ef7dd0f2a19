"""What changed since the previous report (pure): the news an operator reads first.

A digest that says "7 tenants failing" every morning trains people to stop reading it, so the
digest opens with the difference between the previous report and this one:

- ``new_failures``: failing now, and not failing (or not there at all) in the previous report;
- ``recovered``: failing in the previous report, not failing now;
- ``still_failing``: failing in both, with the day the failing streak began and its length;
- ``gone``: in the previous report, absent now, although its scope was checked now. A tenant
  that silently disappears (instance deleted, tag removed) is exactly what must be heard of;
- ``not_checked``: in the previous report, absent now because its scope could not be checked:
  its state is unknown, which is not the same as gone (the scope error says why);
- ``new_tenants``: not in the previous report, and not failing now (a failing one is a new
  failure); a tenant back after a run that could not check its scope is not new.

Rows are matched on ``TenantReport.key`` (account, region, kind, identifier): the resource,
never the tenant name, so a renamed tenant stays one row and two resources that share a name
stay two.

Invariants (tests/test_changes.py checks them on generated reports): every current tenant is in
at most one of ``new_failures``, ``recovered``, ``still_failing`` and ``new_tenants``; every
failing current tenant is in exactly one of ``new_failures`` and ``still_failing``; every
tenant of the previous report that is absent now is in exactly one of ``gone`` and
``not_checked``; day counts are never negative.

"Failing since" needs more than the previous report: a tenant failing for a week was failing
in seven reports. Reading them all would cost one request per day, so the archive keeps the
streaks instead (``failing_since``, in its index), and ``compare`` returns the streaks as they
stand after this run for the archive to store. A streak survives a run that could not check the
tenant (its scope failed), because nothing says it ended.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import AwareDatetime, Field

from backupwatch.core.models import FrozenValue, RegionError, Report, RowKey, Status, TenantReport

if TYPE_CHECKING:  # day_summary imports the digest, which imports this module
    from backupwatch.core.day_summary import DayRow, DaySummary


class Changed(FrozenValue):
    """One tenant in one change section."""

    row: TenantReport
    """The tenant's row now; for ``gone`` and ``not_checked``, its row in the previous report."""
    before: Status | None = None
    """Its status in the previous report; None when it was not there."""
    since: AwareDatetime | None = None
    """``still_failing`` and ``recovered``: when the failing streak began (the first run that
    found it failing, as far as the archive knows)."""
    days: int | None = None
    """UTC calendar days from ``since`` to this run (``still_failing``) or, for ``recovered``,
    to the run that found it recovered; never negative."""


class Changes(FrozenValue):
    """The difference between two reports, plus the failing streaks after the newer one."""

    previous_at: AwareDatetime | None
    """When the previous report was generated; None when there was none to compare with
    (then every section is empty and the digest says why)."""
    current_at: AwareDatetime
    new_failures: tuple[Changed, ...] = ()
    recovered: tuple[Changed, ...] = ()
    still_failing: tuple[Changed, ...] = ()
    gone: tuple[Changed, ...] = ()
    not_checked: tuple[Changed, ...] = ()
    new_tenants: tuple[Changed, ...] = ()
    failing_since: dict[RowKey, AwareDatetime] = Field(default_factory=dict)
    """When each failing streak began, after this run: every tenant failing now, plus streaks
    of tenants this run could not check. What the archive stores for the next run."""

    @property
    def compared(self) -> bool:
        """Whether there was a previous report to compare with."""
        return self.previous_at is not None

    @property
    def news(self) -> bool:
        """Whether anything happened that a reader would not know from yesterday's digest."""
        return bool(self.new_failures or self.recovered or self.gone)


def change_counts(changes: Changes | None) -> dict[str, int] | None:
    """What changed, counted, as the Lambda's result and the machine summary give it; None
    when nothing was compared (no archive, or no previous report)."""
    if changes is None or not changes.compared:
        return None
    return {
        "new_failures": len(changes.new_failures),
        "recovered": len(changes.recovered),
        "still_failing": len(changes.still_failing),
        "gone": len(changes.gone),
    }


def compare(
    previous: Report | DaySummary | None,
    current: Report,
    *,
    failing_since: Mapping[RowKey, datetime] | None = None,
) -> Changes:
    """What changed from ``previous`` to ``current``.

    ``previous`` may be the previous run's day summary instead of its report (what a run reads:
    a few hundred bytes per tenant, not a few kilobytes): of a previous row, only its key,
    status and ``failing`` are compared, which the summary keeps, and a tenant ``gone`` or
    ``not_checked`` is its summary's row as a report's (``DaySummary.report_row``: name,
    resource, status, reason, owners; no check's details, which nothing that shows a change
    reads). The changes are the same either way (tests/test_changes.py).

    ``failing_since`` is the streaks as the archive stored them after the previous run (empty
    when unknown: then a tenant failing in the previous report counts as failing since that
    report, the earliest evidence there is). With ``previous`` None nothing is compared, but
    the streaks are still carried forward, so a run that could not read its previous report
    does not restart a week-long streak when the archive index is intact.
    """
    known = dict(failing_since or {})
    now = current.generated_at
    before = {row.key: row for row in previous.tenants} if previous is not None else {}
    previous_at = previous.generated_at if previous is not None else None
    streaks: dict[RowKey, datetime] = {}
    new_failures: list[Changed] = []
    recovered: list[Changed] = []
    still_failing: list[Changed] = []
    new_tenants: list[Changed] = []

    for row in current.tenants:
        old = before.get(row.key)
        if row.failing:
            since = _streak_start(row.key, old, known, previous_at)
            if since is None:
                streaks[row.key] = now
                if previous is not None:
                    new_failures.append(Changed(row=row, before=old.status if old else None))
                continue
            streaks[row.key] = since
            if previous is not None:
                still_failing.append(
                    Changed(
                        row=row,
                        before=old.status if old else None,
                        since=since,
                        days=utc_days(since, now),
                    )
                )
        elif old is not None and old.failing and previous_at is not None:
            since = min(known.get(row.key, previous_at), previous_at)
            recovered.append(
                Changed(row=row, before=old.status, since=since, days=utc_days(since, now))
            )
        elif (
            old is None
            and previous is not None
            and not scope_failed(row.key, previous.region_errors)
        ):
            # Absent before because its scope failed then is not new: it is back, unchanged
            # as far as anyone knows.
            new_tenants.append(Changed(row=row))

    present = {row.key for row in current.tenants}
    gone: list[Changed] = []
    not_checked: list[Changed] = []
    for old in previous.tenants if previous is not None else ():
        if old.key in present:
            continue
        if scope_failed(old.key, current.region_errors):
            not_checked.append(Changed(row=_report_row(previous, old), before=old.status))
            if old.failing and previous_at is not None:
                streaks[old.key] = min(known.get(old.key, previous_at), previous_at)
        else:
            gone.append(Changed(row=_report_row(previous, old), before=old.status))
    for key, since in known.items():
        # A streak of a tenant that no run has seen since its scope failed: keep it.
        if key not in present and key not in streaks and scope_failed(key, current.region_errors):
            streaks[key] = since

    return Changes(
        previous_at=previous_at,
        current_at=now,
        new_failures=tuple(sorted(new_failures, key=_by_severity)),
        recovered=tuple(sorted(recovered, key=_by_name)),
        still_failing=tuple(sorted(still_failing, key=_by_streak)),
        gone=tuple(sorted(gone, key=_by_name)),
        not_checked=tuple(sorted(not_checked, key=_by_name)),
        new_tenants=tuple(sorted(new_tenants, key=_by_name)),
        failing_since=streaks,
    )


def _report_row(previous: Report | DaySummary | None, old: TenantReport | DayRow) -> TenantReport:
    """A previous row as a report's row: itself, or its summary's (``report_row``)."""
    if isinstance(old, TenantReport):
        return old
    if previous is None or isinstance(previous, Report):
        raise TypeError("a report's rows are TenantReports")
    return previous.report_row(old)


def _streak_start(
    key: RowKey,
    old: TenantReport | DayRow | None,
    known: Mapping[RowKey, datetime],
    previous_at: datetime | None,
) -> datetime | None:
    """When the failing streak of a tenant failing now began; None when it begins now.

    Failing in the previous report: the stored start, but never later than that report. Not
    in the previous report at all, yet with a stored streak: the previous run could not check
    it, so the streak goes on. Present and not failing: the streak is new, whatever is stored.
    """
    if old is not None:
        if not old.failing or previous_at is None:
            return None
        return min(known.get(key, previous_at), previous_at)
    return known.get(key)


def scope_failed(key: RowKey, errors: Iterable[RegionError]) -> bool:
    """Whether a scope error covers the resource ``key`` (see ``scope_error``)."""
    return scope_error(key, errors) is not None


def scope_error(key: RowKey, errors: Iterable[RegionError]) -> RegionError | None:
    """The scope error that covers the resource ``key``, if any: its region (or every region)
    of its account (or of every account). A row or error without an account id matches any
    account: in doubt, "not checked" is the honest answer, and the scope error is in the
    digest too.
    """
    account, region = key[0], key[1]
    for error in errors:
        if error.region is not None and error.region != region:
            continue
        if error.account_id is None or not account or error.account_id == account:
            return error
    return None


def utc_days(since: datetime, now: datetime) -> int:
    """Calendar days between two instants, counted in UTC (what a reader of dates expects:
    from 2026-11-20 to 2026-11-27 is 7 days at any hour); never negative."""
    return max(0, (now.astimezone(UTC).date() - since.astimezone(UTC).date()).days)


_LAST = datetime.max.replace(tzinfo=UTC)


def _by_name(change: Changed) -> tuple[str, RowKey]:
    return (change.row.tenant, change.row.key)


def _by_severity(change: Changed) -> tuple[int, str, RowKey]:
    return (-change.row.status.severity, change.row.tenant, change.row.key)


def _by_streak(change: Changed) -> tuple[datetime, int, str, RowKey]:
    since = change.since or _LAST  # always set for a still-failing tenant
    return (since, -change.row.status.severity, change.row.tenant, change.row.key)
