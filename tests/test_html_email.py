"""The HTML email (pure, but for one test in headless Chromium): what email clients render.

Expectations come from the reports built here (statuses, days, colours from ``PALETTE``),
never from the email's own markup, so a cell of the wrong colour or a row in the wrong place
fails. The last test opens the email in Chromium and reads what it computed, the way
tests/test_status_page_browser.py does for the status page (and with its helper: it skips
without Chromium, and fails under CI).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

from backupwatch.core.changes import compare
from backupwatch.core.digest import render_digest
from backupwatch.core.html_email import (
    ABSENT_COLOUR,
    GRID_DAYS,
    GRID_ROWS,
    MAX_BYTES,
    colour_of,
    render_html_email,
)
from backupwatch.core.models import ArchivedReport, RegionError, Report, Status, TenantReport
from backupwatch.core.status_page import PALETTE, UNKNOWN_COLOUR

from .conftest import NOW, OTHER_REGION
from .test_status_page import DAY, report, row
from .test_status_page_browser import TIMEOUT_SECONDS, _chromium, rgb
from .test_unknown_status import unknown

VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr", "source"}
BLOCK = {"p", "div", "h1", "h2", "table", "tr", "td", "th", "ul", "li", "br", "title", "body"}


# --- reading the email ------------------------------------------------------------------------


@dataclass
class Email:
    """What the tests look at, as an HTML parser (or a browser's dumped DOM) reads it."""

    html: str
    elements: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    sections: dict[str, list[str]] = field(default_factory=dict)
    """``h2`` text -> the tenant names (``<b>``) under it, in order."""
    pills: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    grid_days: list[dict[str, str]] = field(default_factory=list)
    grid: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    """Tenant name -> its cells' attributes, day by day."""
    unclosed: list[str] = field(default_factory=list)

    @property
    def plain(self) -> str:
        return " ".join("".join(self.text).split())

    def styles(self) -> list[dict[str, str]]:
        """Every ``style`` attribute, as declarations."""
        out = []
        for _, attrs in self.elements:
            if "style" in attrs:
                pairs = [d.split(":", 1) for d in attrs["style"].split(";") if d.strip()]
                assert all(len(p) == 2 for p in pairs), attrs["style"]
                out.append({k.strip(): v.strip() for k, v in pairs})
        return out

    def hrefs(self) -> list[str]:
        return [attrs["href"] for tag, attrs in self.elements if tag == "a"]


class _Parser(HTMLParser):
    """Fills an ``Email``: sections by their ``h2``, pills by their rounded corners, the grid
    by its ``cellspacing="2"`` table (a row's first cell is its name, the others its days)."""

    def __init__(self, email: Email) -> None:
        super().__init__(convert_charrefs=True)
        self.email = email
        self.stack: list[str] = []
        self.heading: str | None = None
        self.section: str | None = None
        self.in_b = False
        self.in_pill: dict[str, str] | None = None
        self.grid_depth: int | None = None
        self.grid_row: list[dict[str, str]] | None = None
        self.grid_name: list[str] | None = None
        self.grid_name_text = ""
        self.cell_index = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.email.elements.append((tag, values))
        if tag not in VOID:
            self.stack.append(tag)
        if tag in BLOCK:
            self.email.text.append(" ")
        style = values.get("style", "")
        if tag == "h2":
            self.heading = ""
        elif tag == "b" and self.section is not None and self.grid_depth is None:
            self.in_b = True
            self.email.sections[self.section].append("")
        elif tag == "span" and "border-radius:4px" in style:
            self.in_pill = values
            self.email.pills.append(("", values))
        elif tag == "table" and values.get("cellspacing") == "2":
            self.grid_depth = len(self.stack)
        elif self.grid_depth is not None and tag == "tr":
            self.grid_row, self.cell_index = [], 0
        elif self.grid_depth is not None and tag == "th":
            self.email.grid_days.append(values)
        elif self.grid_row is not None and tag == "td":
            if self.cell_index == 0:
                self.grid_name = []
            else:
                self.grid_row.append(values)
            self.cell_index += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in BLOCK:
            self.email.text.append(" ")
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.email.unclosed.append(f"</{tag}> closes {self.stack[-1:]}")
            return
        self.stack.pop()
        if tag == "h2" and self.heading is not None:
            self.section = re.sub(r" \(\d+\)$", "", self.heading.strip())
            self.email.sections[self.section] = []
            self.heading = None
        elif tag == "b":
            self.in_b = False
        elif tag == "span":
            self.in_pill = None
        elif tag == "td" and self.grid_name is not None and self.cell_index == 1:
            self.grid_name_text = "".join(self.grid_name)
            self.grid_name = None
        elif tag == "tr" and self.grid_row is not None:
            if self.grid_name_text:  # the header row has no name
                self.email.grid[self.grid_name_text] = self.grid_row
            self.grid_row, self.grid_name_text = None, ""
        elif tag == "table" and self.grid_depth is not None and len(self.stack) < self.grid_depth:
            self.grid_depth = None

    def handle_data(self, data: str) -> None:
        if not self.stack or self.stack[-1] not in ("title", "script", "style"):
            self.email.text.append(data)
        if self.heading is not None:
            self.heading += data
        if self.in_b and self.section is not None:
            self.email.sections[self.section][-1] += data
        if self.in_pill is not None:
            label, attrs = self.email.pills[-1]
            self.email.pills[-1] = (label + data, attrs)
        if self.grid_name is not None:
            self.grid_name.append(data)


def parse(html: str) -> Email:
    """The email (or Chromium's DOM of it) as the tests read it; ``unclosed`` lists every tag
    closed out of order or never closed."""
    email = Email(html)
    parser = _Parser(email)
    parser.feed(html)
    parser.close()
    email.unclosed.extend(f"<{tag}> never closed" for tag in parser.stack)
    return email


# --- building reports ---------------------------------------------------------------------------


def fleet(days_ago: int, statuses: dict[str, Status]) -> Report:
    """A report of ``days_ago`` with one tenant per entry of ``statuses``."""
    return report(days_ago, *(row(name, status) for name, status in statuses.items()))


OK, STALE, MISSING, ERROR = Status.OK, Status.STALE, Status.MISSING, Status.ERROR
WEEK: dict[str, list[Status | None]] = {
    # day 0 is six days ago; None: not in that day's report
    "acme": [OK] * 7,
    "globex": [OK, OK, OK, STALE, STALE, MISSING, MISSING],
    "initech": [ERROR] * 7,
    "soylent": [OK, STALE, STALE, STALE, OK, OK, OK],
    "hooli": [None, None, None, None, None, OK, Status.EMPTY],
    "cyberdyne": [Status.STOPPED] * 7,
}
NO_REPORT = 2  # the day without a report


def week() -> list[Report]:
    """Seven days, oldest first, the third without a report."""
    out = []
    for day in range(7):
        if day == NO_REPORT:
            continue
        rows = [row(name, s) for name, s in ((n, v[day]) for n, v in WEEK.items()) if s is not None]
        out.append(report(6 - day, *rows))
    return out


# --- structure ----------------------------------------------------------------------------------


def test_a_complete_document_with_inline_styles_only() -> None:
    """A document with ``lang``, a charset, a title and a hidden preheader; nothing a client
    strips or fetches: no script, stylesheet, ``<style>``, image, frame, form, class or
    external ``src``; every ``style`` is declarations, and every tag is closed."""
    reports = week()
    html = render_html_email(
        reports[-1], history=reports[:-1], changes=compare(reports[-2], reports[-1])
    )
    email = parse(html)
    assert html.startswith('<!DOCTYPE html>\n<html lang="en">')
    tags = [tag for tag, _ in email.elements]
    assert ("meta", {"charset": "utf-8"}) in email.elements
    assert tags.count("title") == 1
    lowered = html.lower()
    for banned in ("<script", "<link", "<style", "<img", "<iframe", "<form", "<object", "<svg"):
        assert banned not in lowered, banned
    assert not [attrs for _, attrs in email.elements if "src" in attrs or "class" in attrs]
    assert "url(" not in lowered
    assert "@import" not in lowered
    assert "javascript:" not in lowered
    assert email.styles()  # parsed: every declaration is "name: value"
    assert not email.unclosed
    [preheader] = [
        a for t, a in email.elements if t == "div" and "display:none" in a.get("style", "")
    ]
    assert "mso-hide:all" in preheader["style"]
    assert "3 of 6 tenants failing" in email.plain  # the preheader's counts, and the page's


def test_the_headline_is_the_subject_and_the_title_is_the_whole_subject() -> None:
    """The ``h1`` says what the subject says (without its ``backupwatch <day>:``), in red
    when failing; the title is the subject itself."""
    reports = week()
    changes = compare(reports[-2], reports[-1])
    html = render_html_email(reports[-1], changes=changes)
    subject = render_digest(reports[-1], changes=changes).subject
    assert f"<title>{subject}</title>" in html
    h1 = re.search(r"<h1 style=\"([^\"]*)\">(.*?)</h1>", html)
    assert h1 is not None
    assert subject.endswith(h1.group(2))
    assert h1.group(2) == "1 new failure; 3 of 6 tenants failing"
    assert PALETTE[Status.MISSING] in h1.group(1)


# --- content --------------------------------------------------------------------------------------


def test_news_sections_say_what_the_plain_digest_says() -> None:
    """New failures, recovered and still failing, in the digest's order and words."""
    reports = week()
    changes = compare(reports[-2], reports[-1])
    email = parse(render_html_email(reports[-1], changes=changes))
    assert email.sections["New failures"] == ["hooli"]
    assert email.sections["Still failing"] == ["initech", "globex"]
    body = render_digest(reports[-1], changes=changes).body
    for line in body.split("NEW FAILURES")[1].split("FULL STATUS")[0].splitlines():
        if line.startswith("  - "):
            assert line.split("): ", 1)[1] in email.plain, line
    assert "Since 2026-11-26 07:00 UTC: 1 new failure, 0 recovered, 2 still failing" in email.plain
    no_news = parse(render_html_email(reports[-1]))
    assert "What changed" not in no_news.plain
    first = parse(render_html_email(reports[-1], changes=compare(None, reports[-1])))
    assert "no earlier report to compare with" in first.plain


def test_failing_tenants_most_severe_first_then_the_listed_ones() -> None:
    """Failing rows by severity (an unknown status right after ERROR), then the lifecycle
    statuses; OK tenants only counted. Each row has a pill of its status's colour."""
    statuses = {
        "a-ok": Status.OK,
        "b-stale": Status.STALE,
        "c-stopped": Status.STOPPED,
        "d-error": Status.ERROR,
        "e-missing": Status.MISSING,
        "f-pending": Status.PENDING,
        "g-corrupt": Status.MISSING,
    }
    doc = json.loads(fleet(0, statuses).to_json())
    doc["tenants"][-1]["status"] = "CORRUPT"  # a newer writer's status
    current = Report.from_json(json.dumps(doc))
    email = parse(render_html_email(current))
    assert email.sections["Failing"] == ["d-error", "g-corrupt", "e-missing", "b-stale"]
    assert email.sections["Listed, not failing"] == ["c-stopped", "f-pending"]
    pills = {label: attrs["style"] for label, attrs in email.pills}
    assert f"background-color:{UNKNOWN_COLOUR}" in pills["CORRUPT"]
    for status in (Status.ERROR, Status.MISSING, Status.STALE, Status.STOPPED, Status.PENDING):
        assert f"background-color:{PALETTE[status]}" in pills[status.value]


def test_every_pill_has_text_of_sufficient_contrast() -> None:
    """Every status's pill, unknown ones included: text to background at least 4.5:1."""

    def luminance(colour: str) -> float:
        """WCAG 2's relative luminance, written out here: the test does not trust the code's."""
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    current = fleet(0, {s.value.lower(): s for s in Status})
    doc = json.loads(current.to_json())
    doc["tenants"][0]["status"] = "CORRUPT"
    email = parse(render_html_email(Report.from_json(json.dumps(doc))))
    assert len(email.pills) == len(Status) - 1  # OK tenants are counted, not listed
    for label, attrs in email.pills:
        style = dict(d.split(":", 1) for d in attrs["style"].split(";"))
        light, dark = sorted((luminance(style["background-color"]), luminance(style["color"])))
        assert (dark + 0.05) / (light + 0.05) >= 4.5, label


def test_runbooks_are_links_only_when_they_are_web_addresses() -> None:
    """A failing tenant's runbook is a link when it is http(s); any other scheme is text."""
    good = row("globex", Status.STALE).model_copy(update={"runbook": "https://wiki/x?a=1&b=2"})
    bad = row("hooli", Status.STALE).model_copy(update={"runbook": "javascript:alert(1)"})
    email = parse(render_html_email(report(0, good, bad)))
    assert email.hrefs() == ["https://wiki/x?a=1&b=2"]
    assert "runbook: javascript:alert(1)" in email.plain


def test_hostile_names_reasons_and_errors_are_escaped() -> None:
    """Tags, quotes and ampersands from tags and AWS are text, in content and attributes."""
    name = "<script>alert('x')</script>\"&amp"
    reason = '<img src=x onerror="alert(1)"> & "quoted" \'single\''
    hostile = row(name, Status.STALE, reason=reason)
    error = RegionError(region=OTHER_REGION, reason='<b>denied</b> & "gone"')
    previous = report(1, row(name, Status.OK))
    current = report(0, hostile, errors=(error,))
    html = render_html_email(current, history=[previous], changes=compare(previous, current))
    email = parse(html)
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "<b>denied" not in html
    assert not [a for _, a in email.elements if "onerror" in a]
    assert name in email.sections["Failing"]
    assert name in email.grid
    assert reason in email.plain
    assert '<b>denied</b> & "gone"' in email.plain
    assert not email.unclosed


def test_links_to_the_archive_only_when_archived() -> None:
    """A presigned URL is a link; an ``s3://`` address is text, never an ``href``; a failed
    write says so; nothing archived, nothing said."""
    current = report(0, row("globex", Status.STALE))
    none = parse(render_html_email(current))
    assert none.hrefs() == []
    assert "Full report" not in none.plain
    assert "Status page" not in none.plain
    plain = ArchivedReport(bucket="reports", key="backupwatch/reports/r.json")
    page = ArchivedReport(bucket="reports", key="backupwatch/status.html")
    text_only = parse(render_html_email(current, full_report=plain, status_page=page))
    assert text_only.hrefs() == []
    assert "Full report: s3://reports/backupwatch/reports/r.json" in text_only.plain
    assert "Status page: s3://reports/backupwatch/status.html" in text_only.plain
    url = "https://reports.s3.amazonaws.com/r.json?X-Amz-Signature=ab&X-Amz-Expires=3600"
    signed = plain.model_copy(update={"url": url})
    linked = parse(render_html_email(current, full_report=signed, status_page=page))
    assert linked.hrefs() == [url]
    assert "&X-Amz-Expires" not in linked.html  # escaped as &amp; in the attribute
    sneaky = plain.model_copy(update={"url": "javascript:alert(1)"})
    assert parse(render_html_email(current, full_report=sneaky)).hrefs() == []
    failed = plain.model_copy(update={"error": "AccessDenied"})
    broken = parse(render_html_email(current, full_report=failed))
    assert broken.hrefs() == []
    assert "Full report: could not be written to s3://reports/" in broken.plain


# --- the grid -----------------------------------------------------------------------------------


def test_grid_has_a_column_per_day_and_a_colour_per_status() -> None:
    """Columns from the oldest report's day to today's, a day without a report included;
    every tenant that failed on any of them is a row (failing now first, most severe first;
    soylent, recovered, after them); each cell is its status's colour, titled with its date
    and status; a day without a report and a tenant absent that day are marked apart."""
    reports = week()
    email = parse(render_html_email(reports[-1], history=reports[:-1]))
    days = [NOW.date() - (6 - n) * DAY for n in range(7)]
    assert [th["title"].split(":")[0] for th in email.grid_days] == [
        f"{d:%a %Y-%m-%d}" for d in days
    ]
    assert email.grid_days[NO_REPORT]["title"].endswith("no report")
    assert list(email.grid) == ["initech", "globex", "hooli", "soylent"]
    for name, cells in email.grid.items():
        assert len(cells) == 7, name
        for day, (cell, status) in enumerate(zip(cells, WEEK[name], strict=True)):
            if day == NO_REPORT:
                assert cell["title"] == f"{days[day]:%Y-%m-%d}: no report"
                assert cell["bgcolor"] == ABSENT_COLOUR
            elif status is None:
                assert cell["title"] == f"{days[day]:%Y-%m-%d}: not in the report"
                assert cell["bgcolor"] == ABSENT_COLOUR
            else:
                assert cell["bgcolor"] == PALETTE[status], (name, day)
                assert cell["title"] == f"{days[day]:%Y-%m-%d}: {status.value}"
    assert "2 other tenants not failing on these days (1 OK, 1 listed, not failing today)" in (
        email.plain
    )
    legend = email.plain.split("today)")[1].split("Failing")[0].split()
    assert legend[:5] == ["ERROR", "MISSING", "STALE", "EMPTY", "OK"]


def test_grid_marks_tenants_whose_scope_was_not_checked() -> None:
    """A tenant absent because its region could not be checked is ``?``, titled with why."""
    error = RegionError(region=OTHER_REGION, reason="AccessDenied")
    before = report(1, row("wayne", Status.STALE, region=OTHER_REGION))
    now = report(0, row("acme"), errors=(error,))
    email = parse(render_html_email(now, history=[before]))
    assert email.grid["wayne"][1]["title"] == f"{NOW:%Y-%m-%d}: {OTHER_REGION} not checked"
    assert "Not checked (1): their tenants are unknown." in email.plain


def test_grid_is_capped_at_fourteen_days_and_fifty_rows() -> None:
    """Twenty days of history show the last fourteen; sixty failing tenants show fifty rows
    and "… and 10 more", pointing at the status page (a link when it has a URL)."""
    rows = tuple(row(f"t{n:02}", Status.STALE) for n in range(60))
    history = [report(days, *rows) for days in range(20, 0, -1)]
    page = ArchivedReport(bucket="b", key="status.html", url="https://b/status.html")
    email = parse(render_html_email(report(0, *rows), history=history, status_page=page))
    assert len(email.grid_days) == GRID_DAYS
    assert email.grid_days[-1]["title"].startswith(f"{NOW:%a %Y-%m-%d}")
    assert len(email.grid) == GRID_ROWS
    assert all(len(cells) == GRID_DAYS for cells in email.grid.values())
    assert "… and 10 more tenants that failed, see the status page" in email.plain
    assert "https://b/status.html" in email.hrefs()


def test_an_all_ok_day() -> None:
    """All OK: the headline says so in green, no tenant is listed, the grid is one line."""
    statuses = {"acme": Status.OK, "globex": Status.OK}
    reports = [fleet(days, statuses) for days in (2, 1, 0)]
    html = render_html_email(reports[-1], history=reports[:-1], changes=compare(*reports[-2:]))
    email = parse(html)
    assert "<h1" in html
    assert "all 2 tenants OK" in email.plain
    assert f'bgcolor="{PALETTE[Status.OK]}"' in html  # the bar on top
    assert PALETTE[Status.MISSING] not in html
    assert email.pills == []
    assert email.grid == {}
    assert "No tenant failed on these 3 days (2 OK today)." in email.plain
    assert "Failing" not in email.sections


def test_no_tenants_says_why() -> None:
    """An empty report is failing, and says whether the tag is the question."""
    html = render_html_email(report(0))
    email = parse(html)
    assert "no tenants found, check the tenant tag" in email.plain
    assert "is the tenant tag set on the DB instances?" in email.plain
    assert f'bgcolor="{PALETTE[Status.MISSING]}"' in html  # the red bar: the run is failing
    assert email.grid == {}


# --- size and determinism -------------------------------------------------------------------------


def huge(count: int, days: int) -> tuple[Report, list[Report], Report]:
    """``count`` failing tenants with long names and reasons, failing on each of ``days``
    days, all OK the day before those: today, its history, the previous report."""
    reason = "s3: newest backup object 31 h old (window 24 h); " + "x" * 200
    runbook = "https://wiki.example.com/runbooks/" + "r" * 60
    stale = row("t", Status.STALE, reason=reason).model_copy(update={"runbook": runbook})
    fine = row("t")

    def named(template: TenantReport, n: int) -> TenantReport:
        # model_copy does not validate: 20,000 rows in 0.1 s instead of 1 s.
        name = f"tenant-{n:05}-{'n' * 40}"
        return template.model_copy(update={"tenant": name, "db_instance_identifier": f"db-{n}"})

    failing = tuple(named(stale, n) for n in range(count))
    ok = tuple(named(fine, n) for n in range(count))
    previous = report(days, *ok)
    history = [previous, *(report(d, *failing) for d in range(days - 1, 0, -1))]
    return report(0, *failing), history, previous


def test_ten_thousand_failing_tenants_fit_under_gmails_clip() -> None:
    """10,000 failing tenants, all newly failing, failing for two weeks, with long names,
    reasons and runbooks: under ``MAX_BYTES``, cut with "… and N more" where N is true, in
    under a second (0.4 s here)."""
    current, history, previous = huge(10_000, GRID_DAYS)
    changes = compare(previous, current)
    archived = ArchivedReport(bucket="b", key="r.json", url="https://b/r.json")
    started = time.perf_counter()
    html = render_html_email(
        current, history=history, changes=changes, full_report=archived, status_page=archived
    )
    elapsed = time.perf_counter() - started
    size = len(html.encode())
    assert size <= MAX_BYTES
    assert size > MAX_BYTES * 0.8, size  # the budget is used, not wasted
    email = parse(html)
    assert not email.unclosed
    assert html.endswith("</html>\n")
    assert "10000 of 10000 tenants failing" in email.plain
    new = len(email.sections["New failures"])
    listed = len(email.sections["Failing"])
    assert new > 0
    assert 0 < listed < 10_000
    assert f"… and {10_000 - new} more" in email.plain
    assert f"… and {10_000 - listed} more, see the full report" in email.plain
    assert len(email.grid) == GRID_ROWS
    assert elapsed < 3.0, elapsed  # generous: a loaded CI machine


@pytest.mark.parametrize("count", [0, 1, 30, 300, 3_000])
def test_any_fleet_fits(count: int) -> None:
    """Whatever the count, the email fits, and every failing tenant is listed or counted."""
    current, history, previous = huge(count, 3)
    archived = ArchivedReport(bucket="b", key="r.json")
    changes = compare(previous, current)
    html = render_html_email(current, history=history, changes=changes, full_report=archived)
    assert len(html.encode()) <= MAX_BYTES
    email = parse(html)
    listed = len(email.sections.get("Failing", []))
    more = re.findall(r"… and (\d+) more, see the full report", email.plain)
    assert listed + sum(map(int, more)) == count


def test_the_same_reports_render_the_same_bytes() -> None:
    """Deterministic: the same arguments, the same bytes; history in any order (it is
    sorted by time, the newest of each day kept) and the current report in it change
    nothing."""
    reports = week()
    changes = compare(reports[-2], reports[-1])
    first = render_html_email(reports[-1], history=reports[:-1], changes=changes)
    assert first == render_html_email(reports[-1], history=reports[:-1], changes=changes)
    shuffled = [*reports[3:-1], *reports[:3], reports[-1]]
    assert first == render_html_email(reports[-1], history=shuffled, changes=changes)
    later = report(-1, row("acme"))  # after the current report: ignored
    assert first == render_html_email(reports[-1], history=[*reports[:-1], later], changes=changes)


def test_colour_of_follows_the_status_page() -> None:
    """The palette is the status page's, unknown statuses its magenta."""
    assert all(colour_of(status) == PALETTE[status] for status in Status)
    assert colour_of(unknown("CORRUPT")) == UNKNOWN_COLOUR


# --- in a browser -------------------------------------------------------------------------------

_PROBE = """<script>
for (const e of document.querySelectorAll('td[bgcolor], th, span')) {
  const s = getComputedStyle(e), r = e.getBoundingClientRect();
  e.dataset.bg = s.backgroundColor; e.dataset.fg = s.color;
  e.dataset.w = Math.round(r.width); e.dataset.h = Math.round(r.height);
}
document.body.dataset.scrollWidth = document.documentElement.scrollWidth;
document.body.dataset.ready = '1';
</script></body>"""


def test_chromium_paints_the_grid_and_pills_in_the_palette(tmp_path: Path) -> None:
    """Headless Chromium, 600 px wide (a phone held sideways, or a mail client's pane): the
    email needs no horizontal scrolling; every grid cell is a 14 px square painted its
    status's colour; every pill is painted its colour with its text colour. The probe script
    is added to a copy of the email, never to the email itself."""
    chromium = _chromium()
    reports = week()
    html = render_html_email(
        reports[-1], history=reports[:-1], changes=compare(reports[-2], reports[-1])
    )
    page = tmp_path / "email.html"
    page.write_text(html.replace("</body>", _PROBE), encoding="utf-8")
    done = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=600,900",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    dom = parse(done.stdout)
    [body] = [attrs for tag, attrs in dom.elements if tag == "body"]
    assert body.get("data-ready") == "1"
    assert int(body["data-scroll-width"]) <= 600
    assert list(dom.grid) == ["initech", "globex", "hooli", "soylent"]
    for name, cells in dom.grid.items():
        for day, (cell, status) in enumerate(zip(cells, WEEK[name], strict=True)):
            expected = PALETTE[status] if status is not None and day != NO_REPORT else ABSENT_COLOUR
            assert cell["data-bg"] == rgb(expected), (name, day)
            assert (cell["data-w"], cell["data-h"]) == ("14", "14"), (name, day)
    assert len(dom.pills) == 7  # news: 1 new, 2 still failing; lists: 3 failing, 1 stopped
    for label, attrs in dom.pills:
        status = Status(label) if label in Status.__members__ else None
        if status is not None:
            assert attrs["data-bg"] == rgb(PALETTE[status]), label
        assert attrs["data-fg"] in ("rgb(0, 0, 0)", "rgb(255, 255, 255)"), label
        assert int(attrs["data-h"]) > 0, label
