"""The status page (pure): rows, columns, cell data, escaping, self-containment, size.

What a browser makes of the page (the filter, the computed colours, the tooltips) is proven in
tests/test_status_page_browser.py; the parser here reads both the rendered HTML and Chromium's
dumped DOM.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backupwatch.core.digest import clean
from backupwatch.core.models import Check, CheckResult, RegionError, Report, Status, TenantReport
from backupwatch.core.status_page import (
    ABSENT_CLASS,
    NO_REPORT_CLASS,
    NOT_CHECKED_CLASS,
    PALETTE,
    STATUS_CLASS,
    _Texts,
    daily_reports,
    decode,
    render_status_page,
)

from .conftest import NOW, OTHER_REGION, REGION

DAY = timedelta(days=1)


# --- building reports -----------------------------------------------------------------------


def row(
    name: str,
    status: Status = Status.OK,
    *,
    reason: str | None = None,
    region: str = REGION,
    account: str | None = None,
    rds_age: float | None = 5.0,
    s3_age: float | None = 4.0,
    failing: bool | None = None,
    kind: str = "instance",
) -> TenantReport:
    """A tenant row with an rds and an s3 check of the given evidence ages (hours)."""
    text = reason if reason is not None else f"{name} is {status.value.lower()}"
    checks = {
        Check.RDS: CheckResult(check=Check.RDS, status=status, reason=text, age_hours=rds_age),
        Check.S3: CheckResult(check=Check.S3, status=Status.OK, reason="fine", age_hours=s3_age),
    }
    extra = {} if failing is None else {"failing": failing}
    return TenantReport.model_validate(
        {
            "tenant": name,
            "db_instance_identifier": f"db-{name}",
            "region": region,
            "kind": kind,
            "account_id": account,
            "status": status,
            "reason": text,
            "checks": checks,
            **extra,
        }
    )


def report(
    days_ago: int, *rows: TenantReport, errors: tuple[RegionError, ...] = (), hour: int = 7
) -> Report:
    """A daily report ``days_ago`` days before NOW's day, at ``hour`` UTC."""
    when = NOW.replace(hour=hour) - days_ago * DAY
    return Report(
        generated_at=when,
        regions=(REGION,),
        checks=(Check.RDS, Check.S3),
        tenants=rows,
        region_errors=errors,
    )


# --- reading the page -----------------------------------------------------------------------


@dataclass
class Row:
    """One ``<tr>`` of the grid's body, as the page (or a browser's DOM) has it."""

    attrs: dict[str, str]
    name: str = ""
    where: str = ""
    pill: dict[str, str] = field(default_factory=dict)
    ages: str = ""
    cells: list[dict[str, str]] = field(default_factory=list)

    @property
    def hidden(self) -> bool:
        return "hidden" in self.attrs

    def classes(self) -> list[str]:
        return [cell.get("class", "") for cell in self.cells]


@dataclass
class Page:
    """The parts of a status page the tests look at."""

    html: str
    days: list[dict[str, str]] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    swatches: list[dict[str, str]] = field(default_factory=list)
    chips: dict[str, str] = field(default_factory=dict)
    root: dict[str, str] = field(default_factory=dict)
    body: dict[str, str] = field(default_factory=dict)

    @property
    def data(self) -> dict[str, object]:
        island = re.search(
            r"<script type=\"?application/json\"? id=\"?data\"?>(.*?)</script>", self.html, re.S
        )
        assert island is not None
        loaded: dict[str, object] = json.loads(island.group(1))
        return loaded

    def row(self, name: str) -> Row:
        [found] = [r for r in self.rows if r.name == name]
        return found

    def names(self, *, visible_only: bool = False) -> list[str]:
        return [r.name for r in self.rows if not (visible_only and r.hidden)]


class _Parser(HTMLParser):
    def __init__(self, page: Page) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self.section = ""
        self.stack: list[str] = []
        self.text_into: str | None = None
        self.chip: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        classes = a.get("class", "").split()
        if tag == "html":
            self.page.root = a
        elif tag == "body":
            self.page.body = a
        elif tag in ("thead", "tbody"):
            self.section = tag
        elif tag == "tr" and self.section == "tbody":
            self.page.rows.append(Row(attrs=a))
        elif tag == "th" and self.section == "thead" and "d" in classes:
            self.page.days.append(a)
        elif tag == "td" and self.section == "tbody":
            self.page.rows[-1].cells.append(a)
        elif tag == "th" and self.section == "tbody":
            self.stack.append(classes[0] if classes else "")
            if self.stack[-1] == "age":
                self.text_into = "ages"
        elif tag == "b" and self.stack and self.stack[-1] == "tn":
            self.text_into = "name"
        elif tag == "small" and self.stack and self.stack[-1] == "tn":
            self.text_into = "where"
        elif tag == "span" and "pill" in classes and self.page.rows:
            self.page.rows[-1].pill = a
        elif tag == "i" and "sw" in classes:
            self.page.swatches.append(a)
        elif tag == "button" and "chip" in classes:
            self.chip = a.get("data-status", "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("thead", "tbody"):
            self.section = ""
        elif tag == "th" and self.stack:
            self.stack.pop()
            self.text_into = None
        elif tag in ("b", "small") and self.text_into in ("name", "where"):
            self.text_into = None
        elif tag == "button":
            self.chip = None

    def handle_data(self, data: str) -> None:
        if self.chip is not None and data.strip().isdigit():
            self.page.chips[self.chip] = data.strip()
        if self.text_into is None or not self.page.rows:
            return
        current = self.page.rows[-1]
        setattr(current, self.text_into, getattr(current, self.text_into) + data)


def parse(html: str) -> Page:
    """Read a page (or a dumped DOM) into rows, day columns, swatches and chip counts."""
    page = Page(html=html)
    _Parser(page).feed(html)
    return page


def cell_texts(page: Page) -> dict[tuple[str, int], str]:
    """Every present cell's tooltip text (reason and ages), decoded from the JSON island."""
    data = page.data
    templates = data["text"]
    assert isinstance(templates, list)
    out = {}
    for tr, cells in zip(page.rows, data["rows"], strict=True):  # type: ignore[call-overload]
        for day, cell in enumerate(cells):
            if cell != 0:
                out[(tr.name, day)] = decode(templates, cell[1], cell[2])
    return out


# --- tests ----------------------------------------------------------------------------------


def test_one_row_per_tenant_failing_first() -> None:
    """Every tenant of the range is one row; failing ones first, most severe first."""
    reports = [
        report(1, row("acme"), row("globex", Status.STALE), row("tyrell", Status.PAUSED)),
        report(
            0,
            row("acme"),
            row("globex", Status.STALE),
            row("initech", Status.ERROR),
            row("tyrell", Status.PAUSED),
        ),
    ]
    page = parse(render_status_page(reports))
    assert page.names() == ["initech", "globex", "tyrell", "acme"]
    assert [r.attrs.get("class") for r in page.rows] == ["f", "f", None, None]
    assert [r.attrs["data-s"] for r in page.rows] == ["ERROR", "STALE", "PAUSED", "OK"]
    assert all(len(r.cells) == 2 for r in page.rows)


def test_rows_are_resources_not_names() -> None:
    """Two resources sharing a tenant name in two regions are two rows, told apart by region."""
    page = parse(
        render_status_page(
            [report(0, row("acme"), row("acme", Status.MISSING, region=OTHER_REGION))]
        )
    )
    assert page.names() == ["acme", "acme"]
    assert [r.where for r in page.rows] == [f"db-acme · {OTHER_REGION}", f"db-acme · {REGION}"]


def test_one_region_and_account_are_not_repeated_on_every_row() -> None:
    """With one region and account, a row shows its resource only (clusters say so)."""
    page = parse(render_status_page([report(0, row("acme"), row("soylent", kind="cluster"))]))
    assert [r.where for r in page.rows] == ["db-acme", "cluster db-soylent"]


def test_columns_span_the_range_and_days_without_a_report_are_no_data() -> None:
    """Reports three days apart: four columns, the two between hatched in every row."""
    reports = [report(3, row("acme"), row("hooli", Status.EMPTY)), report(0, row("acme"))]
    page = parse(render_status_page(reports))
    days = [NOW.date() - n * DAY for n in (3, 2, 1, 0)]
    assert [d["title"].split(" · ")[0] for d in page.days] == [f"{d:%a %Y-%m-%d}" for d in days]
    assert [NO_REPORT_CLASS in d["class"] for d in page.days] == [False, True, True, False]
    assert page.row("acme").classes() == ["ok", NO_REPORT_CLASS, NO_REPORT_CLASS, "ok"]
    assert page.row("hooli").classes() == ["empty", NO_REPORT_CLASS, NO_REPORT_CLASS, ABSENT_CLASS]
    assert page.data["has"] == [1, 0, 0, 1]


def test_absent_tenants_are_distinct_from_any_status() -> None:
    """A tenant onboarded later, or gone since, is "not in that report" on the other days."""
    reports = [
        report(2, row("acme"), row("vandelay")),
        report(1, row("acme"), row("vandelay")),
        report(0, row("acme"), row("newco", Status.PENDING)),
    ]
    page = parse(render_status_page(reports))
    assert page.row("newco").classes() == [ABSENT_CLASS, ABSENT_CLASS, "pending"]
    gone = page.row("vandelay")
    assert gone.classes() == ["ok", "ok", ABSENT_CLASS]
    assert gone.attrs["data-s"] == "GONE"
    assert "last seen" in gone.pill["title"]
    assert page.names() == ["newco", "vandelay", "acme"]  # gone: after lifecycle, before OK


def test_a_scope_not_checked_is_shown_on_its_cells_and_at_the_top() -> None:
    """Tenants of a region that could not be checked are "not checked" that day, with why."""
    error = RegionError(region=REGION, reason="AccessDenied on rds:DescribeDBInstances")
    reports = [
        report(1, row("acme"), row("wayne", region=OTHER_REGION)),
        report(0, row("wayne", region=OTHER_REGION), errors=(error,)),
    ]
    html = render_status_page(reports)
    page = parse(html)
    assert page.row("acme").classes() == ["ok", NOT_CHECKED_CLASS]
    assert page.row("wayne").classes() == ["ok", "ok"]
    [cell] = [c for c in page.data["rows"][page.names().index("acme")] if c and c[0] < 0]  # type: ignore[index]
    assert decode(page.data["text"], cell[1], cell[2]) == (  # type: ignore[arg-type]
        f"{REGION} not checked: AccessDenied on rds:DescribeDBInstances"
    )
    assert "Not checked in the latest report" in html
    assert "re" in page.days[1]["class"].split()
    assert "gone" not in html.split("class=news>")[1].split("</p>")[0]


def test_cell_data_decodes_to_each_reason_and_backup_age() -> None:
    """Every cell's tooltip text is its row's reason and the age of each check's evidence."""
    reports = [
        report(
            1,
            row(
                "globex",
                Status.STALE,
                reason="rds: newest snapshot 31 h old (window 24 h)",
                rds_age=31.0,
                s3_age=50.5,
            ),
        ),
        report(
            0,
            row(
                "globex",
                Status.MISSING,
                reason="s3: no object under s3://b/globex-1/",
                rds_age=7.0,
                s3_age=None,
            ),
        ),
    ]
    texts = cell_texts(parse(render_status_page(reports)))
    assert texts == {
        ("globex", 0): "rds: newest snapshot 31 h old (window 24 h)\n"
        "backup age: rds 31 h · s3 50.5 h",
        ("globex", 1): "s3: no object under s3://b/globex-1/\nbackup age: rds 7 h · s3 none",
    }


def test_newest_backup_age_per_tenant_marks_failing_checks() -> None:
    """The "Newest backup" column shows each check's age from the newest report, failing ones
    marked."""
    reports = [report(1, row("globex")), report(0, row("globex", Status.STALE, rds_age=30.0))]
    html = render_status_page(reports)
    assert parse(html).row("globex").ages == "rds 30 hs3 4 h"
    assert "<span class=bad>rds 30 h</span><span>s3 4 h</span>" in html


def test_counts_per_status_are_the_latest_reports() -> None:
    """The legend counts each status in the newest report, and the headline its failing."""
    reports = [
        report(1, *(row(f"t{i}", Status.STALE) for i in range(5))),
        report(
            0,
            row("a", Status.STALE),
            row("b", Status.STALE),
            row("c", Status.STOPPED),
            row("d"),
            row("e", Status.OK),
        ),
    ]
    html = render_status_page(reports)
    chips = parse(html).chips
    assert chips == {s.value: str(reports[-1].summary.by_status[s]) for s in Status}
    assert chips["STALE"] == "2"
    assert "<b>2</b> of 5 failing" in html


def test_a_stopped_tenant_failing_by_setting_is_failing_on_the_page() -> None:
    """STOPPED made failing by BACKUPWATCH_STOPPED_IS_FAILING sorts and filters as failing."""
    reports = [report(0, row("acme"), row("cyberdyne", Status.STOPPED, failing=True))]
    page = parse(render_status_page(reports))
    assert page.row("cyberdyne").attrs.get("class") == "f"
    assert page.data["rows"][0][0][3:] == [1]  # type: ignore[index]
    assert page.row("acme").attrs.get("class") is None


def test_news_says_who_started_and_stopped_failing() -> None:
    """Since the previous report: newly failing, recovered, new and gone tenants, by name."""
    reports = [
        report(1, row("acme"), row("globex", Status.STALE), row("vandelay")),
        report(0, row("acme", Status.MISSING), row("globex"), row("newco", Status.PENDING)),
    ]
    html = render_status_page(reports)
    news = html.split("class=news>")[1].split("</p>")[0]
    assert "1 newly failing</span>: acme" in news
    assert "1 recovered</span>: globex" in news
    assert "1 new: newco" in news
    assert "1 gone: vandelay" in news


EVIL = "<script>alert(1)</script>"
EVIL_REASON = '</script><img src=x onerror=alert(2)> it\'s "quoted" & <b>bold</b>'


def test_names_and_reasons_are_escaped() -> None:
    """Tags and AWS texts cannot inject markup: not in the HTML, not out of the JSON island."""
    reports = [
        report(0, row(EVIL, Status.ERROR, reason=EVIL_REASON, region=REGION, account="1'2\"3")),
    ]
    html = render_status_page(reports)
    assert EVIL not in html
    assert "<img" not in html
    assert "<b>bold" not in html
    assert len(re.findall(r"<script", html, re.I)) == 2  # the JSON island and the script
    assert len(re.findall(r"</script", html, re.I)) == 2
    page = parse(html)
    assert page.names() == [EVIL]  # the escaped text reads back as the name
    assert page.rows[0].attrs["data-q"].startswith(EVIL.lower())
    assert cell_texts(page)[(EVIL, 0)].startswith(EVIL_REASON)


def test_control_characters_in_texts_become_spaces() -> None:
    """A newline in a tag cannot split a row, nor collide with the template slots."""
    name = "two\nlines\x01\x02"
    page = parse(render_status_page([report(0, row(name, reason="a\x01b\x02c 12"))]))
    assert page.names() == [clean(name)]
    assert cell_texts(page)[(clean(name), 0)].startswith("a b c 12\n")


def test_the_page_loads_nothing_from_anywhere() -> None:
    """No external asset: every src and href is a data: URI or a fragment; no CSS url()."""
    reports = [report(1, row("acme")), report(0, row("acme"), row("globex", Status.STALE))]
    html = render_status_page(reports)
    links = re.findall(r"""\b(?:src|href)\s*=\s*['"]?([^'"\s>]+)""", html, re.I)
    assert links, "the favicon at least"
    assert all(link.startswith(("data:", "#")) for link in links), links
    assert "url(" not in html
    assert "@import" not in html
    for tag in ("<img", "<iframe", "<object", "<embed", "<link rel=stylesheet", "<script src"):
        assert tag not in html.lower()
    without_data_uris = re.sub(r"data:[^'\"\s>]+", "", html)
    assert "http://" not in without_data_uris
    assert "https://" not in without_data_uris


def test_every_status_has_its_own_colour_in_the_stylesheet() -> None:
    """One colour per status, all different, each the custom property of its class."""
    assert len(set(PALETTE.values())) == len(Status) == len(PALETTE)
    html = render_status_page([report(0, row("acme"))])
    for status, colour in PALETTE.items():
        assert f".{STATUS_CLASS[status]}{{--c:{colour}}}" in html


def test_two_reports_of_one_day_keep_the_newer() -> None:
    """``daily_reports`` sorts and keeps the last run of each UTC day."""
    early = report(0, row("acme", Status.STALE), hour=1)
    late = report(0, row("acme"), hour=9)
    yesterday = report(1, row("acme"))
    assert daily_reports([late, yesterday, early]) == [yesterday, late]
    page = parse(render_status_page([yesterday, early, late]))
    assert page.row("acme").classes() == ["ok", "ok"]


def test_a_page_rendered_after_the_last_report_shows_the_missing_days() -> None:
    """Rendered two days after the newest report: two empty columns and a warning."""
    reports = [report(1, row("acme")), report(0, row("acme"))]
    html = render_status_page(reports, generated_at=NOW + 2 * DAY)
    page = parse(html)
    assert page.row("acme").classes() == ["ok", "ok", NO_REPORT_CLASS, NO_REPORT_CLASS]
    assert "No report for the last 2 days" in html
    assert f"Rendered {NOW + 2 * DAY:%Y-%m-%d %H:%M} UTC" in html


def test_a_naive_generated_at_is_refused() -> None:
    """Aware datetimes only."""
    with pytest.raises(ValueError, match="aware"):
        render_status_page([], generated_at=datetime(2026, 11, 27, 7, 0))  # noqa: DTZ001


def test_no_reports_still_make_a_page() -> None:
    """An empty archive renders a page that says so (and a script that copes)."""
    html = render_status_page([])
    assert "No reports to show" in html
    assert parse(html).rows == []


def test_rendering_is_deterministic() -> None:
    """The same reports render the same bytes (no clock read inside)."""
    reports = [report(1, row("acme")), report(0, row("acme", Status.STALE))]
    assert render_status_page(reports) == render_status_page(list(reports))


@given(st.text(max_size=200))
def test_template_encoding_gives_back_every_text(text: str) -> None:
    """Whatever a (cleaned) text holds, template + numbers decode to exactly that text."""
    text = clean(text)
    texts = _Texts()
    index, numbers = texts.encode(text)
    assert decode(texts.templates, index, numbers) == text


def test_templates_are_shared_and_repeated_numbers_stored_once() -> None:
    """Reasons that differ in their numbers share a template; a repeated age is stored once."""
    texts = _Texts()
    one = texts.encode("s3: newest object 4.5 h old\nbackup age: s3 4.5 h")
    two = texts.encode("s3: newest object 31 h old\nbackup age: s3 31 h")
    assert one == (0, "4.5")
    assert two == (0, "31")
    assert texts.templates == ["s3: newest object \x010\x02 h old\nbackup age: s3 \x010\x02 h"]


def test_a_thousand_tenants_for_thirty_days_stay_under_two_megabytes(
    thousand_by_thirty: list[Report],
) -> None:
    """The issue's scale: 1,000 tenants x 30 days (benchmarks/status_page.py's fleet) < 2 MB."""
    html = render_status_page(thousand_by_thirty)
    assert len(html.encode()) < 2_000_000
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    rows = body.split("<tr")[1:]
    keys = {r.key for rep in thousand_by_thirty for r in rep.tenants}
    assert len(rows) == len(keys) >= 1000
    assert {row.count("<td ") for row in rows} == {30}


@pytest.fixture(scope="module")
def thousand_by_thirty() -> list[Report]:
    from benchmarks.status_page import synthetic_reports

    reports = synthetic_reports(1000, 30)
    assert reports[0].generated_at.astimezone(UTC).date() + 29 * DAY == (
        reports[-1].generated_at.astimezone(UTC).date()
    )
    return reports
