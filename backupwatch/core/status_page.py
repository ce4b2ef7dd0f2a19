"""The status page: one self-contained HTML file, a grid of tenants x days (pure).

A fleet of hundreds of tenants is read at a glance from a grid, not from a list: a row per
tenant, a column per day, one colour per status. The page is a single file with inline CSS,
SVG and JavaScript, so it can be opened from disk, attached, or served from S3 as it is; it
loads nothing from anywhere (no fonts, no CDN, no images by URL).

Size is the design constraint: 1,000 tenants x 30 days is 30,000 cells, and a ``title``
attribute with the reason on each would make a page of several megabytes (reasons carry ages
and keys, so few repeat). Instead each cell is a bare ``<td class=stale>`` and its tooltip is
built by the script from a JSON island: a reason is split into a template, shared by the whole
fleet (``rds: newest automated snapshot {0} h old``), and its numbers (``31``), so a cell
costs a few bytes of data. ``python -m benchmarks.status_page`` measures both approaches.

The grid, its colours and the counts are plain HTML and CSS and read without JavaScript; the
script adds the tooltips and the filter. A URL fragment sets the filter (``#q=acme``,
``#failing``, ``#status=STALE``), so a filtered view can be linked, and ``#selftest`` makes the
script write each cell's computed colour and tooltip into data attributes, so a headless
browser's dumped DOM shows what a reader sees (tests/test_status_page_browser.py).

The page is drawn from day summaries (``core.day_summary``): a report is summarised first, and
the daily run reads the summaries the archive keeps beside the reports instead of the reports.
The same days render the same bytes either way.

Everything from tags and AWS (tenant names, reasons, region errors) is escaped.
"""

from __future__ import annotations

import html
import io
import json
import string
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from types import MappingProxyType
from typing import Any, TypeVar

from backupwatch.core.changes import scope_error, scope_failed
from backupwatch.core.day_summary import (
    AnyDay,
    DayRow,
    DaySummary,
    DaySummaryReader,
    clean_text,
    fill,
    split_numbers,
    status_failing,
)
from backupwatch.core.evaluation import format_time
from backupwatch.core.models import RegionError, RowKey, Status, most_severe_first

PALETTE: Mapping[Status, str] = MappingProxyType(
    {
        # Failing: warm, saturated, each with its own hue or lightness.
        Status.ERROR: "#7b3fa0",  # purple: could not check at all
        Status.MISSING: "#d62728",  # red
        Status.DISABLED: "#8c1c3a",  # dark crimson
        Status.SUSPECT: "#b5651d",  # brown: a backup that exists but looks broken
        Status.STALE: "#f28e2b",  # orange
        Status.EMPTY: "#f5c518",  # yellow
        Status.NONCOMPLIANT: "#d6609c",  # pink: a backup that breaks the policy
        # Lifecycle, not failing: cool and pale.
        Status.STOPPED: "#6f7f91",  # slate
        Status.PENDING: "#9cc7ea",  # light blue
        Status.PAUSED: "#b7b3dc",  # lavender
        Status.SKIPPED: "#d3d8de",  # light grey
        # Blue-leaning green: tells apart from red and orange for red-green colour blindness.
        Status.OK: "#1f9e77",
    }
)
"""One colour per status; the legend, the cells and the status pills all use it."""

STATUS_CLASS: Mapping[Status, str] = MappingProxyType({s: s.value.lower() for s in Status})
"""The CSS class of a status (``stale``): the grid's cells are ``<td class=stale>``."""

UNKNOWN_CLASS = "ux"
"""Every unknown status (one a newer backupwatch wrote, see ``Status``): its name is shown in
the pill, the legend and the tooltip, and it is failing."""
UNKNOWN_COLOUR = "#e7298a"
"""Magenta: warm like the failing colours, and a hue none of them has."""

NO_REPORT_CLASS = "nd"
"""A day without a report: every cell of its column is hatched grey."""
ABSENT_CLASS = "na"
"""A tenant not in that day's report: not yet onboarded, or gone."""
NOT_CHECKED_CLASS = "nc"
"""A tenant absent from a report because its account or region could not be checked."""

_Day = TypeVar("_Day", bound=AnyDay)


def render_status_page(reports: Sequence[AnyDay], *, generated_at: datetime | None = None) -> str:
    """The page for ``reports`` (oldest first, at most one per UTC day), as one HTML string.

    Each is a report or its ``DaySummary``: the daily run passes the summaries it read of the
    earlier days; the page is the same bytes either way.

    Columns run from the oldest report's day to the newest's, or to ``generated_at``'s day when
    that is later: a page rendered today with no report since Tuesday shows the missing days as
    empty columns instead of ending, innocently, on Tuesday. ``generated_at`` (aware) is also
    the time printed on the page; it defaults to the newest report's, so the same reports
    always render the same bytes. Two reports of one day: the newer is kept.
    """
    return "".join(status_page_chunks(reports, generated_at=generated_at))


def status_page_bytes(reports: Sequence[AnyDay], *, generated_at: datetime | None = None) -> bytes:
    """``render_status_page(...).encode()``, the same bytes, without the page ever being one
    string: each piece is encoded as it is made. At 100,000 tenants x 30 days the page is
    123 MB; one string of it (two bytes a character, for a ``·`` in it), the pieces it was
    joined from and its encoding held 450 MiB at once."""
    out = io.BytesIO()
    for chunk in status_page_chunks(reports, generated_at=generated_at):
        out.write(chunk.encode())
    return out.getvalue()


def status_page_chunks(
    reports: Sequence[AnyDay], *, generated_at: datetime | None = None
) -> Iterator[str]:
    """``render_status_page``'s text, in pieces (the table and the data island a few hundred
    rows at a time), for a writer that never needs it whole."""
    if generated_at is not None and generated_at.tzinfo is None:
        raise ValueError("generated_at must be an aware datetime")
    reader = DaySummaryReader()
    days = [
        day if isinstance(day, DaySummary) else reader.of(day) for day in daily_reports(reports)
    ]
    return _page(_Grid.build(days, generated_at))


def daily_reports(reports: Iterable[_Day]) -> list[_Day]:
    """Oldest first, the newest report of each UTC day only (the one a reader would trust);
    reports or day summaries alike."""
    by_day: dict[date, _Day] = {}
    for report in sorted(reports, key=lambda r: r.generated_at):
        by_day[_day(report.generated_at)] = report
    return list(by_day.values())


# --- the model of the grid -------------------------------------------------------------------


@dataclass
class _Texts:
    """Templates shared by every cell: a text is a template index plus its numbers.

    ``rds: newest automated snapshot 31 h old (window 24 h)`` is template ``rds: newest
    automated snapshot {0} h old (window {1} h)`` and numbers ``"31 24"`` (the slots are
    written ``\\x01`` index ``\\x02``: control characters, which no cleaned text contains). A
    number repeated in a text (the ages line repeats the reason's) is stored once. A number is
    a run of digits not glued to a letter, digit or dot before it (``s3`` stays text).
    """

    templates: list[str] = field(default_factory=list)
    _index: dict[str, int] = field(default_factory=dict)
    _cache: dict[str, tuple[int, str]] = field(default_factory=dict)

    def encode(self, text: str) -> tuple[int, str]:
        """``(template index, "31 24")``; the script puts the numbers back into the holes."""
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        template, numbers = split_numbers(text)
        encoded = self._cache[text] = (self.add(template), numbers)
        return encoded

    def add(self, template: str) -> int:
        """The index of ``template`` (already split, as a ``DayRow`` holds it)."""
        index = self._index.get(template)
        if index is None:
            index = self._index[template] = len(self.templates)
            self.templates.append(template)
        return index


def decode(templates: Sequence[str], index: int, numbers: str) -> str:
    """What the page's script does with a cell's text (kept here to test the encoding)."""
    return fill(templates[index], numbers)


@dataclass
class _Row:
    key: RowKey
    row: DayRow
    """The newest row of this tenant in the range."""
    present: bool
    """In the newest report."""
    last_seen: date
    """The day of ``row``."""
    found: list[DayRow | None]
    """Per day of the grid, the tenant's row that day; None when that day has no report or
    the tenant is not in it. The cells' classes and data are made from it as the page is
    written (``_classes``, ``_cells``), never held for every row at once."""

    @property
    def order(self) -> tuple[bool, float, str, RowKey]:
        """Failing now first, most severe first; then tenants gone from the newest report
        (between the lifecycle statuses and OK: unknown now, but not known to fail)."""
        severity = self.row.status.severity if self.present else 0.5
        return (not (self.present and self.row.failing), -severity, self.row.tenant, self.key)


@dataclass
class _Grid:
    days: list[date]
    reports: dict[date, DaySummary]
    rows: list[_Row]
    texts: _Texts
    generated_at: datetime | None
    statuses: list[Status] = field(default_factory=lambda: list(Status))
    """The data island's ``status`` list: every member, then each unknown status found in the
    reports (a newer writer's); a cell holds its status's index in this list."""
    columns: list[DaySummary | None] = field(default_factory=list)
    """Per day of ``days``, its report, or None."""

    @property
    def latest(self) -> DaySummary | None:
        return self.reports[max(self.reports)] if self.reports else None

    @classmethod
    def build(cls, daily: list[DaySummary], generated_at: datetime | None) -> _Grid:
        texts = _Texts()
        if not daily:
            return cls([], {}, [], texts, generated_at)
        first = _day(daily[0].generated_at)
        last = max(_day(daily[-1].generated_at), _day(generated_at or daily[-1].generated_at))
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        reports = {_day(report.generated_at): report for report in daily}
        columns = [reports.get(day) for day in days]
        # One list of days per tenant, not a dict of tenants per day: at 100,000 tenants x
        # 30 days, the 30 dicts held 3 million entries.
        found: dict[RowKey, list[DayRow | None]] = {}
        for column, report in enumerate(columns):
            for day_row in report.tenants if report is not None else ():
                cells = found.get(day_row.key)
                if cells is None:
                    cells = found[day_row.key] = [None] * len(days)
                cells[column] = day_row
        latest = days.index(_day(daily[-1].generated_at))
        rows = []
        for key, cells in found.items():
            column = next(c for c in range(len(days) - 1, -1, -1) if cells[c] is not None)
            newest = cells[column]
            assert newest is not None  # every tenant was found on some day
            rows.append(_Row(key, newest, cells[latest] is not None, days[column], cells))
        rows.sort(key=lambda r: r.order)
        unknown = {row.status for report in daily for row in report.tenants} - set(Status)
        statuses = [*Status, *most_severe_first(unknown)]
        # The templates are numbered in the order the cells use them, as the page is read.
        for row in rows:
            for column, report in enumerate(columns):
                if report is None:
                    continue
                cell = row.found[column]
                if cell is not None:
                    texts.add(cell.template)
                    continue
                error = scope_error(row.key, report.region_errors)
                if error is not None:
                    texts.encode(_not_checked(error))
        return cls(days, reports, rows, texts, generated_at, statuses, columns)


def _not_checked(error: RegionError) -> str:
    return f"{error.scope} not checked: {_clean(error.reason)}"


def _classes(row: _Row, columns: Sequence[DaySummary | None]) -> Iterator[str]:
    """The CSS class of each of the row's cells."""
    for column, report in enumerate(columns):
        cell = row.found[column]
        if report is None:
            yield NO_REPORT_CLASS
        elif cell is not None:
            yield _class_of(cell.status)
        elif scope_error(row.key, report.region_errors) is None:
            yield ABSENT_CLASS
        else:
            yield NOT_CHECKED_CLASS


def _cells(
    row: _Row, columns: Sequence[DaySummary | None], texts: _Texts, index: Mapping[Status, int]
) -> list[Any]:
    """The row's cells as the data island holds them: 0 (no report, or absent), ``_cell``, or
    ``[-1, template, numbers]`` for a scope not checked."""
    cells: list[Any] = []
    for column, report in enumerate(columns):
        cell = row.found[column]
        if report is None:
            cells.append(0)
        elif cell is not None:
            cells.append(_cell(cell, texts, index))
        else:
            error = scope_error(row.key, report.region_errors)
            cells.append(0 if error is None else [-1, *texts.encode(_not_checked(error))])
    return cells


def _class_of(status: Status) -> str:
    return STATUS_CLASS.get(status, UNKNOWN_CLASS)


def _cell(row: DayRow, texts: _Texts, index: Mapping[Status, int]) -> list[Any]:
    """``[status, template, numbers]``, plus ``1`` when a STOPPED row is failing by setting;
    ``status`` is an index in ``_Grid.statuses``. The text is the reason, then the backup ages
    (``day_summary.cell_text``), split already."""
    cell: list[Any] = [index[row.status], texts.add(row.template), row.numbers]
    if row.failing != status_failing(row.status):
        cell.append(int(row.failing))
    return cell


def _day(when: datetime) -> date:
    return when.astimezone(UTC).date()


# --- HTML --------------------------------------------------------------------------------------


_clean = clean_text


def _e(text: str) -> str:
    return html.escape(_clean(text), quote=True)


_TABLE_HOLE = "\x00table\x00"
_DATA_HOLE = "\x00data\x00"
"""Where the table and the data island go in the page, while its other parts are put in:
NUL, which no cleaned text holds (``clean_text``) and no fixed part has."""
ROWS_PER_CHUNK = 500
"""Table rows (about 1 KB each with a month of days), or data rows, per piece of the page."""


def _page(grid: _Grid) -> Iterator[str]:
    latest = grid.latest
    title = "backupwatch status"
    if latest is not None:
        summary = latest.summary
        title = (
            f"backupwatch {_day(latest.generated_at):%Y-%m-%d}: "
            f"{summary.failing} of {summary.tenants} failing"
        )
    failing_now = latest is not None and latest.failing
    page = _SKELETON.substitute(
        title=_e(title),
        favicon=_favicon(failing_now),
        colours=_colours(),
        css=_CSS,
        header=_header(grid),
        controls=_controls(),
        table=_TABLE_HOLE,
        footer=_footer(grid),
        data=_DATA_HOLE,
        script=_SCRIPT,
    )
    head, rest = page.split(_TABLE_HOLE)
    middle, tail = rest.split(_DATA_HOLE)
    yield head
    yield from _table(grid)
    yield middle
    yield from _data(grid)
    yield tail


def _header(grid: _Grid) -> str:
    latest = grid.latest
    out = ["<header>\n<h1><span class=logo></span>backupwatch <span>status</span></h1>\n"]
    if latest is None:
        out.append("<p class=nothing>No reports to show: the archive holds none in this range.</p>")
        return "".join(out) + "</header>\n"
    summary = latest.summary
    regions = sorted({row.key[1] for row in grid.rows} | set(latest.regions))
    accounts = sorted({row.key[0] for row in grid.rows if row.key[0]} | set(latest.accounts))
    facts = [
        f"latest report {_e(format_time(latest.generated_at))}",
        f"{summary.tenants} tenant{'s' if summary.tenants != 1 else ''}",
        f"{len(grid.days)} day{'s' if len(grid.days) != 1 else ''} "
        f"({grid.days[0]:%Y-%m-%d} to {grid.days[-1]:%Y-%m-%d})",
        f"region{'s' if len(regions) != 1 else ''} {_e(', '.join(regions) or 'none')}",
    ]
    if accounts:
        facts.append(f"account{'s' if len(accounts) != 1 else ''} {_e(', '.join(accounts))}")
    facts.append(f"checks {_e(', '.join(c.value for c in latest.checks))}")
    out.append(f"<p class=meta>{' · '.join(facts)}</p>\n")
    state = "bad" if latest.failing else "good"
    headline = f"<b>{summary.failing}</b> of {summary.tenants} failing"
    if summary.regions_failed:
        headline += f", <b>{summary.regions_failed}</b> scope(s) not checked"
    if not summary.tenants:
        headline = "<b>no tenant found</b>: is the tenant tag set?"
    out.append(f"<div class=top><p class='headline {state}' id=headline>{headline}</p>")
    out.append(_sparkline(grid))
    out.append("</div>\n")
    out.append(_news(grid))
    out.append(_legend(latest))
    out.append(_stale_warning(grid))
    out.append(_region_errors(latest))
    return "".join(out) + "</header>\n"


def _legend(latest: DaySummary) -> str:
    counts = latest.summary.by_status  # every member, and any unknown status in the report
    items = []
    for status in counts:
        kind = "failing" if status.failing else "listed" if status.listed else "ok"
        help_text = _STATUS_HELP.get(status, _UNKNOWN_HELP)
        items.append(
            f"<li><button type=button class='chip {kind}' data-status={status.value} "
            f"title='{_e(help_text)}'><i class='sw {_class_of(status)}'></i>"
            f"{status.value} <b>{counts[status]}</b></button></li>"
        )
    keys = (
        "Counts are the latest report's; click a status to list its tenants. "
        f"<i class='sw {NO_REPORT_CLASS}'></i>no report that day "
        f"<i class='sw {ABSENT_CLASS}'></i>not in that day's report "
        f"<i class='sw {NOT_CHECKED_CLASS}'></i>its account or region not checked"
    )
    label = "statuses in the latest report"
    return (
        f"<ul class=legend id=legend aria-label='{label}'>{''.join(items)}</ul>\n"
        f"<p class=keys>{keys}</p>\n"
    )


_STATUS_HELP = {
    Status.ERROR: "failing: could not check (access denied, malformed tag, retries exhausted)",
    Status.MISSING: "failing: no evidence of a backup at all",
    Status.DISABLED: "failing: automated backups are switched off",
    Status.STALE: "failing: the newest backup is older than the window",
    Status.EMPTY: "failing: fresh objects, all below the minimum size",
    Status.STOPPED: "not failing (by default): the instance is stopped, RDS takes no backups",
    Status.PENDING: "not failing: a new tenant whose first backup is not due yet",
    Status.PAUSED: "not failing: paused by the backupwatch:paused-until tag",
    Status.SKIPPED: "not failing: the check does not apply (a read replica)",
    Status.OK: "fresh evidence of a backup",
}
_UNKNOWN_HELP = "failing: a status written by a newer backupwatch, unknown to this one"


def _news(grid: _Grid) -> str:
    """What changed since the report before the latest: the first thing a reader wants.

    A tenant absent now because its scope was not checked is not "gone": its state is unknown,
    and the scope error is shown apart.
    """
    dated = sorted(grid.reports)
    if len(dated) < 2:
        return ""
    worse, better, new, gone = changed_names(grid.reports[dated[-2]], grid.reports[dated[-1]])
    parts = []
    if worse:
        parts.append(f"<span class=worse>{len(worse)} newly failing</span>: {_names(worse)}")
    if better:
        parts.append(f"<span class=better>{len(better)} recovered</span>: {_names(better)}")
    if not parts:
        parts.append("no tenant started or stopped failing")
    if new:
        parts.append(f"{len(new)} new: {_names(new)}")
    if gone:
        parts.append(f"{len(gone)} gone: {_names(gone)}")
    return f"<p class=news>Since {dated[-2]:%Y-%m-%d}: {'; '.join(parts)}</p>\n"


def changed_names(
    before: DaySummary, now: DaySummary
) -> tuple[list[str], list[str], list[str], list[str]]:
    """The tenants newly failing, recovered, new and gone from ``before`` to ``now``: the
    names of ``changes.compare``'s sections of the same name (tests/test_day_summary.py
    checks they agree), from day summaries, without the streaks the page does not show."""
    old = {row.key: row for row in before.tenants}
    worse, better, new = [], [], []
    for row in now.tenants:
        was = old.get(row.key)
        if row.failing:
            if was is None or not was.failing:
                worse.append(row.tenant)
        elif was is not None:
            if was.failing:
                better.append(row.tenant)
        elif not scope_failed(row.key, before.region_errors):
            new.append(row.tenant)
    present = {row.key for row in now.tenants}
    gone = [
        row.tenant
        for row in before.tenants
        if row.key not in present and not scope_failed(row.key, now.region_errors)
    ]
    return worse, better, new, gone


def _names(names: list[str], most: int = 6) -> str:
    shown = ", ".join(_e(name) for name in sorted(names)[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _stale_warning(grid: _Grid) -> str:
    latest = grid.latest
    if latest is None or _day(latest.generated_at) >= grid.days[-1]:
        return ""
    missing = (grid.days[-1] - _day(latest.generated_at)).days
    return (
        f"<p class='alert'>No report for the last {missing} day{'s' if missing != 1 else ''}: "
        f"the newest is from {_day(latest.generated_at):%Y-%m-%d}. Is the daily run running?</p>\n"
    )


def _region_errors(latest: DaySummary) -> str:
    if not latest.region_errors:
        return ""
    items = "".join(
        f"<li><b>{_e(error.scope)}</b>: {_e(error.reason)}</li>" for error in latest.region_errors
    )
    return (
        f"<div class=alert><p>Not checked in the latest report; "
        f"their tenants are unknown:</p><ul>{items}</ul></div>\n"
    )


def _sparkline(grid: _Grid) -> str:
    """Failing tenants per day as small bars (inline SVG); a day without a report has none."""
    counts = [
        grid.reports[day].summary.failing if day in grid.reports else None for day in grid.days
    ]
    known = [c for c in counts if c is not None]
    if len(counts) < 2:
        return ""
    height, top = 30, max([*known, 1])
    step = min(10.0, 180 / len(counts))
    bars = []
    for i, count in enumerate(counts):
        if count is None:
            continue
        tall = max(1.0, (height - 2) * count / top)
        cls = " class=z" if count == 0 else ""
        bars.append(
            f"<rect{cls} x='{i * step:.1f}' y='{height - tall:.1f}' "
            f"width='{max(step - 1.5, 1):.1f}' height='{tall:.1f}'/>"
        )
    width = f"{len(counts) * step:.0f}"
    label = f"failing tenants per day, {min(known)} to {max(known)}"
    return (
        f"<figure class=spark><svg width={width} height={height} role=img "
        f"aria-label='{label}'><title>{label}</title>{''.join(bars)}</svg>"
        f"<figcaption>failing per day<br>max {max(known)}</figcaption></figure>"
    )


def _controls() -> str:
    return (
        "<div class=controls><input id=q type=search autocomplete=off spellcheck=false "
        "placeholder='Filter: tenant, resource, account, region, status' "
        "aria-label='Filter tenants'>"
        "<label><input type=checkbox id=failing> failing only</label>"
        "<span id=shown aria-live=polite></span></div>\n"
    )


def _table(grid: _Grid) -> Iterator[str]:
    many_regions = len({row.key[1] for row in grid.rows}) > 1
    many_accounts = len({row.key[0] for row in grid.rows}) > 1
    # A week fills the width with larger cells; a month (or more) fits 1280 px with smaller.
    cell = 22 if len(grid.days) <= 14 else 18
    out = [f"<table id=grid style='--cell:{cell}px'>\n<thead><tr><th class=tn>Tenant</th>"]
    out.append("<th>Status</th>")
    out.append("<th class=age title='age of the newest backup, per check'>Newest backup</th>")
    failing_row = ["<tr class=counts><th class=tn></th><th></th><th class=age>failing</th>"]
    previous_month = None
    for day in grid.days:
        report = grid.reports.get(day)
        month = f"{day:%b}" if day.month != previous_month else ""
        previous_month = day.month
        classes, note = [], ""
        if report is None:
            classes.append(NO_REPORT_CLASS)
            note = " · no report"
            failing_row.append(f"<th class={NO_REPORT_CLASS}>–</th>")
        else:
            summary = report.summary
            note = f" · {summary.failing} of {summary.tenants} failing"
            if report.region_errors:
                classes.append("re")
                scopes = "; ".join(f"{e.scope}: {e.reason}" for e in report.region_errors)
                note += f" · not checked: {scopes}"
            bad = " class=bad" if summary.failing else ""
            failing_row.append(f"<th{bad}>{summary.failing}</th>")
        cls = f" class='d {' '.join(classes)}'" if classes else " class=d"
        out.append(
            f"<th{cls} title='{_e(f'{day:%a %Y-%m-%d}{note}')}'>"
            f"<small>{month}</small>{day.day}</th>"
        )
    out.append("</tr>\n")
    out.extend(failing_row)
    out.append("</tr></thead>\n<tbody>\n")
    yield "".join(out)
    for start in range(0, len(grid.rows), ROWS_PER_CHUNK):
        yield "".join(
            _tr(row, grid.columns, many_regions=many_regions, many_accounts=many_accounts)
            for row in grid.rows[start : start + ROWS_PER_CHUNK]
        )
    yield "</tbody></table>\n"


def _tr(
    row: _Row, columns: Sequence[DaySummary | None], *, many_regions: bool, many_accounts: bool
) -> str:
    r = row.row
    account, region, kind, identifier = r.key
    resource = identifier if kind == "instance" else f"{kind} {identifier}"
    where = [resource]
    if many_regions:
        where.append(region)
    if many_accounts and account:
        where.append(account)
    status = r.status.value if row.present else "GONE"
    search = " ".join([r.tenant, resource, account, region, status]).lower()
    failing = row.present and r.failing
    pill_class = _class_of(r.status) if row.present else ABSENT_CLASS
    if row.present:
        pill_title = "failing" if r.failing else "not failing"
    else:
        pill_title = (
            f"not in the latest report (gone, or its scope was not checked); last seen "
            f"{row.last_seen:%Y-%m-%d}, {r.status.value}"
        )
    ages = "".join(
        f"<span class=bad>{check} {age}</span>" if bad else f"<span>{check} {age}</span>"
        for check, age, bad in r.ages
    )
    if not row.present:
        ages += f"<small>last seen {row.last_seen:%m-%d}</small>"
    # End tags of cells are optional in HTML: leaving them out saves 150 KB on 30,000 cells.
    cells = "".join(f"<td class={c}>" for c in _classes(row, columns))
    return (
        f"<tr{' class=f' if failing else ''} data-s={status} data-q='{_e(search)}'>"
        f"<th class=tn><b>{_e(r.tenant)}</b><small>{_e(' · '.join(where))}</small></th>"
        f"<th class=st><span class='pill {pill_class}' title='{pill_title}'>{status}</span></th>"
        f"<th class=age>{ages or '–'}</th>{cells}</tr>\n"
    )


def _footer(grid: _Grid) -> str:
    when = grid.generated_at or (grid.latest.generated_at if grid.latest else None)
    rendered = f"Rendered {_e(format_time(when))}" if when else "Rendered"
    return (
        f"<footer>{rendered} by backupwatch from the archived daily reports. Hover a cell for "
        "its reason and backup age. Link a filtered view: <a href='#failing'>#failing</a>, "
        "<a href='#q=eu-west-1'>#q=eu-west-1</a>, <a href='#status=STALE'>#status=STALE</a>."
        "</footer>\n"
    )


def _data(grid: _Grid) -> Iterator[str]:
    """The JSON island the script reads, in pieces: ``json.dumps`` of ``{"days", "has",
    "status", "failing", "text", "rows"}`` (each row its cells, ``_cells``); ``<``, ``>`` and
    ``&`` escaped so no text can end the script element early."""
    data = {
        "days": [f"{day:%a %Y-%m-%d}" for day in grid.days],
        "has": [int(day in grid.reports) for day in grid.days],
        "status": [status.value for status in grid.statuses],
        "failing": [int(status.failing) for status in grid.statuses],
        "text": grid.texts.templates,
    }
    index = {status: i for i, status in enumerate(grid.statuses)}
    head = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    yield _escaped(head.removesuffix("}") + ',"rows":[')
    for start in range(0, len(grid.rows), ROWS_PER_CHUNK):
        rows = grid.rows[start : start + ROWS_PER_CHUNK]
        text = ",".join(
            json.dumps(
                _cells(row, grid.columns, grid.texts, index),
                ensure_ascii=False,
                separators=(",", ":"),
            )
            for row in rows
        )
        yield _escaped(text if start == 0 else f",{text}")
    yield "]}"


def _escaped(text: str) -> str:
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _favicon(failing: bool) -> str:
    """Four squares, red in one corner when the latest report is failing (a data: URI)."""
    corner = PALETTE[Status.MISSING] if failing else PALETTE[Status.OK]
    ok = PALETTE[Status.OK]
    svg = (
        "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'>"
        f"<rect x='1' y='1' width='6' height='6' rx='1' fill='{ok}'/>"
        f"<rect x='9' y='1' width='6' height='6' rx='1' fill='{ok}'/>"
        f"<rect x='1' y='9' width='6' height='6' rx='1' fill='{ok}'/>"
        f"<rect x='9' y='9' width='6' height='6' rx='1' fill='{corner}'/></svg>"
    )
    return "data:image/svg+xml," + urllib.parse.quote(svg, safe="")


def _colours() -> str:
    """One CSS class per status, from ``PALETTE`` (the colours are the digest's too), and
    ``UNKNOWN_CLASS`` for every status a newer backupwatch wrote."""
    known = "".join(f".{STATUS_CLASS[s]}{{--c:{PALETTE[s]}}}" for s in Status)
    return f"{known}.{UNKNOWN_CLASS}{{--c:{UNKNOWN_COLOUR}}}"


def _asset(name: str) -> str:
    return resources.files("backupwatch.core").joinpath("assets", name).read_text("utf-8")


# Files beside this module, so that they are read, linted and diffed as what they are. The
# skeleton's $-placeholders are filled once per page (``string.Template``: what fills them is
# never scanned again, so a tenant named "$title" is just text).
_SKELETON = string.Template(_asset("status_page.html"))
_CSS = _asset("status_page.css")
_SCRIPT = _asset("status_page.js")
