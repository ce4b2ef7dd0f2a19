"""The digest as an HTML email (pure): what email clients render, under Gmail's clip size.

The plain-text digest (``digest.py``) is what SNS can deliver; an email sent through SES can
carry HTML beside it, and a reader takes in coloured statuses and a tenants-by-days grid faster
than a list. The status page cannot be that HTML: it is a web page, styled by classes, drawn by
a script from a JSON island, and email clients keep none of that. Gmail drops ``<style>`` in
some of its clients, Outlook on Windows lays a message out with Word's engine (tables,
``bgcolor`` and inline styles, little else), and every client strips scripts and blocks remote
images. So this renderer writes the same content the way they all read it:

- tables for layout, ``style=`` attributes on the elements, no ``<style>`` block (not even for
  dark mode: ``color-scheme: light`` asks the clients that honour it not to invert the
  colours, and the others invert a light email well enough), no script, no external
  stylesheet, font or image, and ``bgcolor`` on the grid's cells (the one colour every client
  paints, in fewer bytes than a style);
- the headline (what the subject says), the counts, the links to the archived report and
  status page, the scopes not checked, what changed since the previous report (the plain
  digest's change sections in its own words: its describers are reused, not rewritten), the
  compact grid, and the tenants listed with a coloured pill each, failing first, most severe
  first;
- the colours are the status page's ``PALETTE``; a pill's text is black or white, whichever
  contrasts more with its colour (at least 4.5:1 for every status, WCAG's "AA").

Size is the constraint: Gmail clips a message whose HTML is over about 102 KB and hides the
rest behind "View entire message". The fixed parts are bounded (the grid shows at most
``GRID_ROWS`` tenants and ``GRID_DAYS`` days, at most ``SCOPES_SHOWN`` scope errors are listed,
texts are cut at ``TEXT_CHARS``); then the tenant rows of the change sections and of the lists
are kept, in that order, while the whole stays within ``MAX_BYTES`` of UTF-8. Every cut ends
with "… and N more" and points at the full report or the status page; the counts at the top
stay true. The size is of the HTML as rendered: a quoted-printable transfer encoding grows it
on the wire (each ``=`` is sent as ``=3D``), so the sender should prefer base64 or 8bit, and
Gmail is said to count the decoded HTML.

Everything from tags and AWS (tenant names, reasons, scope errors, runbooks) is escaped; a
runbook is a link only when it is an ``http(s)`` URL, and an archived object only when it has
a presigned URL (an ``s3://`` address is shown as text: no client can open it).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from backupwatch.core.changes import Changed, Changes, scope_error
from backupwatch.core.day_summary import AnyDay, AnyRow, days_of
from backupwatch.core.digest import (
    changes_line,
    clean,
    counts_line,
    describe_gone,
    describe_new_failure,
    describe_new_tenant,
    describe_not_checked,
    describe_recovered,
    describe_still_failing,
    no_tenants_hint,
    render_subject,
    tenant_location,
)
from backupwatch.core.evaluation import format_time
from backupwatch.core.models import (
    ArchivedReport,
    Report,
    RowKey,
    Status,
    TenantReport,
    most_severe_first,
)
from backupwatch.core.status_page import PALETTE, UNKNOWN_COLOUR, daily_reports

MAX_BYTES = 100_000
"""The HTML's size at most, in bytes of UTF-8: under Gmail's clip (about 102 KB)."""
GRID_DAYS = 14
"""Columns of the grid at most: two weeks read at a glance; the status page has the month."""
GRID_ROWS = 50
"""Tenants in the grid at most; the rest are counted, and the status page has them all."""
NEWS_ROWS = 20
"""Tenants in each change section at most, so that one large section (a region's every tenant
newly failing) leaves room for the others and for the list."""
LIST_ROWS = 200
"""Tenants in each list at most, before the size budget cuts it shorter."""
SCOPES_SHOWN = 20
"""Scope errors listed at most; the rest are counted."""
TEXT_CHARS = 600
"""A reason or an error is cut here: one tenant's text must never crowd out the others."""
NAME_CHARS = 40
"""A tenant's name in the grid is cut here, so that the grid keeps its width and its size."""

# Inline styles, shared by every element of a kind (an email has no stylesheet to share them).
_FONT = "font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif"
_INK = "#1f2328"
_MUTED = "#59636e"
_LINE = "#d1d9e0"
_LINK = "#0969da"
_PAPER = "#ffffff"
_BACKDROP = "#f3f4f6"
_DARK_TEXT, _LIGHT_TEXT = "#000000", "#ffffff"
ABSENT_COLOUR = "#f6f8fa"
"""A grid cell of a tenant not in that day's report (the status page's colour for it), and
the background of a day without a report or a scope not checked, which carry a mark."""
NEUTRAL_COLOUR = "#eaeef2"
"""The pill of a tenant with no status now: gone, or its scope not checked."""

_P = f"margin:0 0 8px;font-size:14px;line-height:20px;color:{_INK}"
_SMALL = f"color:{_MUTED};font-size:12px"
_H2 = f"margin:20px 0 6px;font-size:16px;line-height:22px;color:{_INK}"
_A = f"color:{_LINK}"
_PILL = (
    "display:inline-block;padding:2px 6px;border-radius:4px;font-size:11px;line-height:14px;"
    "font-weight:bold;letter-spacing:.3px;white-space:nowrap"
)
_PILL_CELL = "padding:5px 8px 5px 0;vertical-align:top;white-space:nowrap;width:1%"
_TEXT_CELL = (
    f"padding:5px 0;vertical-align:top;font-size:14px;line-height:20px;color:{_INK};"
    "word-break:break-word"
)
_MORE = f"padding:5px 0;font-size:13px;color:{_MUTED}"
_TABLE = 'role="presentation" cellpadding="0" cellspacing="0" border="0"'
_GRID_TABLE = 'role="presentation" cellpadding="0" cellspacing="2" border="0"'
_CELL_PX = 14


def render_html_email(
    report: Report,
    *,
    history: Sequence[AnyDay] = (),
    changes: Changes | None = None,
    full_report: ArchivedReport | None = None,
    status_page: ArchivedReport | None = None,
) -> str:
    """The HTML part of the digest email for ``report``: one complete document of at most
    ``MAX_BYTES``, the same bytes for the same arguments.

    ``history`` is earlier reports or their day summaries, oldest first, as
    ``render_status_page`` takes them (a run's ``DailyHistory`` is read as its summaries; the
    newest of each UTC day is used; any later than ``report`` is ignored): the grid's columns
    are the days from the oldest of them to ``report``'s, at most ``GRID_DAYS``, a day without
    a report included (its cells marked). ``changes`` (``changes.compare`` against the previous
    report) adds what changed, in the plain digest's words; ``full_report`` and ``status_page``
    are where the run archived them: links when a presigned URL is set, ``s3://`` text if not.
    """
    compared = changes if changes is not None and changes.compared else None
    subject = render_subject(report, changes=compared)
    day = f"{report.generated_at.astimezone(UTC):%Y-%m-%d}"
    news = _news_sections(report, compared)
    lists = _list_sections(report, full_report)
    fixed = [
        _header(report, subject.removeprefix(f"backupwatch {day}: "), full_report, status_page),
        _scope_errors(report),
        _news_head(changes, compared),
    ]
    grid = _grid(report, history, status_page)

    def document(kept: Sequence[int]) -> str:
        shown = [section.html(n) for section, n in zip([*news, *lists], kept, strict=True)]
        return _document(
            title=subject,
            preheader=counts_line(report) if report.tenants else no_tenants_hint(report),
            failing=report.failing,
            body=[*fixed, *shown[: len(news)], grid, *shown[len(news) :], _footer(report)],
        )

    sections = [*news, *lists]
    rest = MAX_BYTES - _size(document([0] * len(sections)))  # every row cut: an upper bound
    return document(_fit(sections, rest))


# --- sections of tenant rows, and the size budget ---------------------------------------------


@dataclass(frozen=True)
class _Section:
    """A heading and a table of tenant rows, of which the first ``html(kept)`` are shown."""

    title: str
    total: int
    rows: tuple[str, ...]
    """The rows that may be shown (at most the section's cap), each a ``<tr>``."""
    where_rest_is: str
    """Escaped HTML after "… and N more": where the reader finds the rows left out."""

    def html(self, kept: int) -> str:
        omitted = self.total - kept
        more = (
            f'<tr><td colspan="2" style="{_MORE}">… and {omitted} more{self.where_rest_is}'
            "</td></tr>"
            if omitted
            else ""
        )
        return (
            f'<h2 style="{_H2}">{_e(self.title)} ({self.total})</h2>'
            f'<table {_TABLE} width="100%">{"".join(self.rows[:kept])}{more}</table>\n'
        )


def _fit(sections: Sequence[_Section], room: int) -> list[int]:
    """How many rows of each section to keep: in order, while they fit in ``room`` bytes.

    The first row that does not fit ends the taking, in its section and every later one, so
    what comes first (the news) is the last to go, and no later, shorter row jumps the queue.
    """
    kept: list[int] = []
    full = False
    for section in sections:
        count = 0
        for row in section.rows:
            size = _size(row)
            if full or size > room:
                full = True
                break
            room -= size
            count += 1
        kept.append(count)
    return kept


_NEWS: tuple[tuple[str, str, Callable[[Changed], str], bool], ...] = (
    ("New failures", "new_failures", describe_new_failure, False),
    ("Recovered", "recovered", describe_recovered, False),
    ("Still failing", "still_failing", describe_still_failing, False),
    ("Gone", "gone", describe_gone, True),
    ("Not checked", "not_checked", describe_not_checked, True),
    ("New tenants", "new_tenants", describe_new_tenant, False),
)
"""The plain digest's change sections, in its order, each with its describer and whether its
tenants are absent now (no status now: the text says what it was)."""


def _news_sections(report: Report, changes: Changes | None) -> list[_Section]:
    if changes is None:
        return []
    accounts = bool(report.accounts)
    sections = []
    for title, field, describe, absent in _NEWS:
        items: tuple[Changed, ...] = getattr(changes, field)
        if items:
            rows = tuple(
                _tenant_row(
                    item.row,
                    describe(item),
                    accounts=accounts,
                    pill=_absent_pill(field) if absent else None,
                )
                for item in items[:NEWS_ROWS]
            )
            sections.append(_Section(title, len(items), rows, ""))
    return sections


def _list_sections(report: Report, full_report: ArchivedReport | None) -> list[_Section]:
    """Failing tenants, most severe first; then those listed but not failing (stopped, new,
    paused, skipped), so that nobody wonders where a tenant went. Within a status, the
    report's order, as in the plain digest."""
    order = {s: i for i, s in enumerate(most_severe_first({r.status for r in report.tenants}))}
    listed = sorted(
        (row for row in report.tenants if row.failing or row.status.listed),
        key=lambda row: (not row.failing, order[row.status]),
    )
    rest = _where_rest(full_report, "the full report")
    accounts = bool(report.accounts)
    sections = []
    for failing, title in ((True, "Failing"), (False, "Listed, not failing")):
        rows = [row for row in listed if row.failing is failing]
        if rows:
            shown = tuple(
                _tenant_row(row, row.reason, accounts=accounts, runbook=failing)
                for row in rows[:LIST_ROWS]
            )
            sections.append(_Section(title, len(rows), shown, rest))
    return sections


def _tenant_row(
    row: TenantReport,
    text: str,
    *,
    accounts: bool,
    pill: str | None = None,
    runbook: bool = False,
) -> str:
    """``[STALE] globex db-globex, eu-west-1`` over its text, and its runbook when asked."""
    link = ""
    if runbook and row.runbook:
        href = _web(row.runbook)
        link = (
            f'<br><a href="{href}" style="{_A}">runbook</a>'
            if href
            else f'<br><span style="{_SMALL}">runbook: {_e(row.runbook)}</span>'
        )
    return (
        f'<tr><td style="{_PILL_CELL}">{pill or _pill(row.status)}</td>'
        f'<td style="{_TEXT_CELL}"><b>{_e(row.tenant)}</b> '
        f'<span style="{_SMALL}">{_e(tenant_location(row, accounts))}</span>'
        f"<br>{_e(_cut(text))}{link}"
        "</td></tr>"
    )


def _pill(status: Status) -> str:
    colour = colour_of(status)
    return (
        f'<span style="{_PILL};background-color:{colour};color:{text_colour_on(colour)}">'
        f"{_e(status.value)}</span>"
    )


def _absent_pill(field: str) -> str:
    label = "GONE" if field == "gone" else "NOT CHECKED"
    return f'<span style="{_PILL};background-color:{NEUTRAL_COLOUR};color:{_INK}">{label}</span>'


def colour_of(status: Status) -> str:
    """The status's colour on the status page: ``PALETTE``, or its colour of unknown ones."""
    return PALETTE.get(status, UNKNOWN_COLOUR)


def text_colour_on(background: str) -> str:
    """Black or white, whichever contrasts more with ``background`` (``#rrggbb``), by WCAG's
    relative luminance: the better of the two is never below 4.5:1 on any colour."""
    luminance = _luminance(background)
    on_white = 1.05 / (luminance + 0.05)
    on_black = (luminance + 0.05) / 0.05
    return _LIGHT_TEXT if on_white >= on_black else _DARK_TEXT


def _luminance(colour: str) -> float:
    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


# --- the fixed parts --------------------------------------------------------------------------


def _document(*, title: str, preheader: str, failing: bool, body: Sequence[str]) -> str:
    """The envelope: a centred 720 px column on a grey backdrop, a coloured bar on top (red
    when the run needs a human, green when not), and the preheader, the line an inbox shows
    after the subject, hidden in the message itself."""
    bar = PALETTE[Status.MISSING] if failing else PALETTE[Status.OK]
    hidden = (
        "display:none;font-size:1px;line-height:1px;max-height:0;max-width:0;opacity:0;"
        "overflow:hidden;mso-hide:all"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="color-scheme" content="light">\n'
        '<meta name="supported-color-schemes" content="light">\n'
        f"<title>{_e(title)}</title>\n</head>\n"
        f'<body style="margin:0;padding:0;background-color:{_BACKDROP};{_FONT}">\n'
        f'<div style="{hidden}">{_e(_cut(preheader))}</div>\n'
        f'<table {_TABLE} width="100%" bgcolor="{_BACKDROP}" '
        f'style="background-color:{_BACKDROP}"><tr><td align="center" style="padding:16px 8px">\n'
        # Outlook on Windows ignores max-width: a fixed-width table only it reads holds the
        # column (a conditional comment, which every other client skips).
        f'<!--[if mso]><table {_TABLE} width="720" align="center"><tr><td><![endif]-->\n'
        f'<table {_TABLE} width="100%" bgcolor="{_PAPER}" style="max-width:720px;'
        f'background-color:{_PAPER};border:1px solid {_LINE};border-radius:6px;{_FONT}">\n'
        f'<tr><td height="6" bgcolor="{bar}" style="background-color:{bar};height:6px;'
        'font-size:0;line-height:0">&nbsp;</td></tr>\n'
        f'<tr><td style="padding:16px 24px 24px;{_FONT}">\n'
        f"{''.join(body)}"
        "</td></tr>\n</table>\n<!--[if mso]></td></tr></table><![endif]-->\n"
        "</td></tr></table>\n</body>\n</html>\n"
    )


def _header(
    report: Report,
    headline: str,
    full_report: ArchivedReport | None,
    status_page: ArchivedReport | None,
) -> str:
    summary = report.summary
    facts = f"Regions: {', '.join(report.regions) or '-'}. "
    facts += f"Checks: {', '.join(c.value for c in report.checks) or '-'}."
    if report.accounts:
        facts = f"Accounts: {len(report.accounts)}. {facts}"
    colour = PALETTE[Status.MISSING] if report.failing else PALETTE[Status.OK]
    counts = counts_line(report) if summary.tenants else no_tenants_hint(report)
    links = "".join(
        _link(label, archived)
        for label, archived in (("Full report", full_report), ("Status page", status_page))
    )
    return (
        f'<p style="margin:0 0 4px;{_SMALL}">backupwatch digest for '
        f"{_e(format_time(report.generated_at))}</p>\n"
        f'<h1 style="margin:0 0 10px;font-size:20px;line-height:26px;color:{colour}">'
        f"{_e(headline)}</h1>\n"
        f'<p style="{_P}">{_e(counts)}</p>\n'
        f'<p style="margin:0 0 8px;{_SMALL};word-break:break-word">{_e(facts)}</p>\n{links}'
    )


def _link(label: str, archived: ArchivedReport | None) -> str:
    """A link when there is a presigned URL; the ``s3://`` address as text when not (a mail
    client cannot open it, but a reader can paste it); the error when the write failed."""
    if archived is None:
        return ""
    if archived.error is not None:
        text = f"{label}: could not be written to {archived.uri}: {_cut(archived.error)}"
        return f'<p style="margin:0 0 4px;{_SMALL}">{_e(text)}</p>\n'
    href = _web(archived.url)
    uri = f'<span style="{_SMALL}">{_e(archived.uri)}</span>'
    where = f'<a href="{href}" style="{_A}">{label}</a> {uri}' if href else f"{label}: {uri}"
    note = ""
    if archived.index_error is not None:
        note = (
            f'<br><span style="{_SMALL}">Archive index not updated: '
            f"{_e(_cut(archived.index_error))}; the next run compares with an older report."
            "</span>"
        )
    style = f"margin:0 0 4px;font-size:13px;color:{_INK};word-break:break-word"
    return f'<p style="{style}">{where}{note}</p>\n'


def _where_rest(archived: ArchivedReport | None, what: str) -> str:
    """``, see the full report`` (a link when it can be one): where the cut rows are."""
    if archived is None or archived.error is not None:
        return ""
    href = _web(archived.url)
    return f', see <a href="{href}" style="{_A}">{what}</a>' if href else f", see {what}"


def _scope_errors(report: Report) -> str:
    errors = report.region_errors
    if not errors:
        return ""
    items = "".join(
        f"<li><b>{_e(error.scope)}</b>: {_e(_cut(error.reason))}</li>"
        for error in errors[:SCOPES_SHOWN]
    )
    if len(errors) > SCOPES_SHOWN:
        items += f"<li>… and {len(errors) - SCOPES_SHOWN} more</li>"
    colour = PALETTE[Status.ERROR]
    return (
        f'<table {_TABLE} width="100%" style="margin:12px 0 0"><tr><td style="padding:8px 12px;'
        f"border-left:4px solid {colour};background-color:{ABSENT_COLOUR};font-size:14px;"
        f'line-height:20px;color:{_INK}"><b>Not checked ({len(errors)})</b>: their tenants '
        f'are unknown.<ul style="margin:4px 0 0;padding-left:20px">{items}</ul></td></tr>'
        "</table>\n"
    )


def _news_head(changes: Changes | None, compared: Changes | None) -> str:
    if compared is not None and compared.previous_at is not None:
        line = changes_line(compared, compared.previous_at).removeprefix("WHAT CHANGED ")
        text = _e(line[:1].upper() + line[1:])  # "Since 2026-11-26 07:00 UTC: 1 new failure, …"
        return f'<h2 style="{_H2}">What changed</h2>\n<p style="{_P}">{text}</p>\n'
    if changes is not None:
        return (
            f'<p style="margin:12px 0 0;{_SMALL}">What changed: no earlier report to compare '
            "with; today's view only.</p>\n"
        )
    return ""


def _footer(report: Report) -> str:
    return (
        f'<p style="margin:20px 0 0;border-top:1px solid {_LINE};padding-top:10px;{_SMALL}">'
        f"Sent by backupwatch for the run of {_e(format_time(report.generated_at))}. The full "
        "report lists every tenant and check; the status page has every day.</p>\n"
    )


# --- the grid: tenants x days -----------------------------------------------------------------


def _grid(report: Report, history: Sequence[AnyDay], status_page: ArchivedReport | None) -> str:
    """Tenants failing on any of the last days (failing now first, most severe first) x those
    days, one small coloured cell each with a ``title``; then a line counting the rest.

    A tenant that failed earlier in the range and recovered is a row too: the grid is where a
    reader sees a streak end. Only ``GRID_ROWS`` rows are drawn; the rest are counted, and the
    status page (linked when it can be) has them all.
    """
    today = _day(report.generated_at)
    earlier = [r for r in days_of(history) if r.generated_at <= report.generated_at]
    by_day: dict[date, AnyDay] = {
        _day(r.generated_at): r for r in daily_reports([*earlier, report])
    }
    by_day[today] = report
    first = max(min(by_day), today - timedelta(days=GRID_DAYS - 1))
    days = [first + timedelta(days=n) for n in range((today - first).days + 1)]
    rows: dict[date, dict[RowKey, AnyRow]] = {
        day: {row.key: row for row in by_day[day].tenants} for day in days if day in by_day
    }
    newest: dict[RowKey, AnyRow] = {}
    ever_failed: set[RowKey] = set()
    for day in days:
        for key, row in rows.get(day, {}).items():
            newest[key] = row
            if row.failing:
                ever_failed.add(key)
    failed = {key: row for key, row in newest.items() if key in ever_failed}
    now = rows[today]
    rank = {s: i for i, s in enumerate(most_severe_first({r.status for r in failed.values()}))}
    order = sorted(
        failed,
        key=lambda key: (
            not (key in now and now[key].failing),
            rank[failed[key].status],
            failed[key].tenant,
            key,
        ),
    )
    span = f"{len(days)} day{'s' if len(days) != 1 else ''}"
    others = [row for row in report.tenants if row.key not in failed]
    ok = sum(1 for row in others if row.status is Status.OK)
    rest = f"{ok} OK" + (f", {len(others) - ok} listed, not failing" if len(others) > ok else "")
    title = (
        f'<h2 style="{_H2}">The last {span} '
        f'<span style="{_SMALL};font-weight:normal">{first:%Y-%m-%d} to {today:%Y-%m-%d}</span>'
        "</h2>\n"
    )
    if not order:
        return title + f'<p style="{_P}">No tenant failed on these {span} ({rest} today).</p>\n'
    head = "".join(_day_head(day, by_day.get(day)) for day in days)
    body = "".join(_grid_row(failed[key], key, days, rows, by_day) for key in order[:GRID_ROWS])
    notes = []
    if len(order) > GRID_ROWS:
        where = _where_rest(status_page, "the status page")
        notes.append(f"… and {len(order) - GRID_ROWS} more tenants that failed{where}")
    if others:
        plural = "s" if len(others) != 1 else ""
        notes.append(f"{len(others)} other tenant{plural} not failing on these days ({rest} today)")
    # Below the table, not in a row of it: a long line there would widen the name column.
    below = "".join(f'<p style="margin:4px 0 0;{_SMALL}">{note}</p>' for note in notes)
    return (
        f'{title}<table {_GRID_TABLE} style="border-collapse:separate"><tr><td></td>{head}</tr>'
        f"{body}</table>\n{below}{_legend(days, rows, by_day, failed)}"
    )


def _day_head(day: date, report: AnyDay | None) -> str:
    note = "no report" if report is None else f"{report.summary.failing} failing"
    return (
        f'<th width="{_CELL_PX}" title="{day:%a %Y-%m-%d}: {note}" style="width:{_CELL_PX}px;'
        f'font-size:10px;font-weight:normal;color:{_MUTED};text-align:center">{day.day}</th>'
    )


def _grid_row(
    newest: AnyRow,
    key: RowKey,
    days: Sequence[date],
    rows: dict[date, dict[RowKey, AnyRow]],
    by_day: dict[date, AnyDay],
) -> str:
    name = newest.tenant if len(newest.tenant) <= NAME_CHARS else newest.tenant[:NAME_CHARS] + "…"
    cells = "".join(_cell(key, day, rows.get(day), by_day.get(day)) for day in days)
    return (
        f'<tr><td height="{_CELL_PX}" style="padding-right:8px;font-size:12px;line-height:'
        f'{_CELL_PX}px;white-space:nowrap;color:{_INK}">{_e(name)}</td>{cells}</tr>'
    )


def _cell(key: RowKey, day: date, rows: dict[RowKey, AnyRow] | None, report: AnyDay | None) -> str:
    """A status's colour; a mark on pale grey when there is no status to show (a dash: no
    report that day; ``?``: its scope not checked); plain pale grey: not in that report."""
    when = f"{day:%Y-%m-%d}"
    if report is None or rows is None:
        return _marked(f"{when}: no report", "–")
    row = rows.get(key)
    if row is not None:
        return f'<td bgcolor="{colour_of(row.status)}" title="{when}: {_e(row.status.value)}"></td>'
    error = scope_error(key, report.region_errors)
    if error is not None:
        return _marked(f"{when}: {error.scope} not checked", "?")
    return f'<td bgcolor="{ABSENT_COLOUR}" title="{when}: not in the report"></td>'


def _marked(title: str, mark: str) -> str:
    return (
        f'<td bgcolor="{ABSENT_COLOUR}" title="{_e(title)}" style="font-size:9px;'
        f'line-height:{_CELL_PX}px;text-align:center;color:{_MUTED}">{mark}</td>'
    )


def _legend(
    days: Sequence[date],
    rows: dict[date, dict[RowKey, AnyRow]],
    by_day: dict[date, AnyDay],
    failed: dict[RowKey, AnyRow],
) -> str:
    """The statuses the grid shows, most severe first, with their colours."""
    shown = {row.status for day in days for key, row in rows.get(day, {}).items() if key in failed}
    swatch = "display:inline-block;width:10px;height:10px;vertical-align:-1px;margin-right:3px"
    items = [
        f'<span style="white-space:nowrap;margin-right:10px"><span style="{swatch};'
        f'background-color:{colour_of(status)}"></span>{_e(status.value)}</span>'
        for status in most_severe_first(shown)
    ]
    if any(day not in by_day for day in days):
        items.append('<span style="white-space:nowrap;margin-right:10px">– no report</span>')
    return f'<p style="margin:6px 0 0;{_SMALL};line-height:18px">{" ".join(items)}</p>\n'


# --- text ---------------------------------------------------------------------------------------


def _web(url: str | None) -> str:
    """``url`` escaped for an ``href`` when it is a web address; "" for anything else (a
    ``javascript:`` runbook from a tag is text, never a link)."""
    target = clean(url or "").strip()
    return _e(target) if target.lower().startswith(("https://", "http://")) else ""


def _e(text: str) -> str:
    """Escaped for HTML text and quoted attributes, control characters made spaces."""
    return html.escape(clean(text), quote=True)


def _cut(text: str) -> str:
    return text if len(text) <= TEXT_CHARS else text[: TEXT_CHARS - 1] + "…"


def _day(when: datetime) -> date:
    return when.astimezone(UTC).date()


def _size(text: str) -> int:
    return len(text.encode())
