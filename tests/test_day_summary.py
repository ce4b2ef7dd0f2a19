"""Day summaries (pure): what the history keeps of a report, and that nothing shown changes.

The status page, the HTML email's grid and the size rule's fallback read earlier days from
summaries instead of reports; these tests prove they draw and find exactly what they drew and
found from the reports: the same bytes, the same dumps, the same news.
"""

from __future__ import annotations

import gzip
import itertools
import json
from collections.abc import Sequence
from datetime import timedelta

import pytest

from backupwatch.core import status_page
from backupwatch.core.changes import compare
from backupwatch.core.day_summary import (
    COLUMNS,
    SCHEMA,
    AnyDay,
    DailyHistory,
    DayRow,
    DaySummary,
    DaySummaryError,
    DaySummaryReader,
    cell_text,
    check_ages,
    days_of,
)
from backupwatch.core.html_email import render_html_email
from backupwatch.core.models import Check, CheckResult, RegionError, Report, Status, TenantReport
from backupwatch.core.size_history import ArchivedDump, archived_dumps
from backupwatch.core.status_page import changed_names, render_status_page

from .conftest import NOW, OTHER_REGION, REGION
from .test_status_page import EVIL, EVIL_REASON, report, row

DAY = timedelta(days=1)


def through_json(reports: Sequence[Report]) -> list[DaySummary]:
    """Each report summarised, written as the archive writes it (gzip) and read back."""
    reader = DaySummaryReader()
    return [reader.read(DaySummary.of(r).to_bytes()) for r in reports]


def with_dump(
    name: str, size: int, *, status: Status = Status.OK, days_ago: int = 0
) -> TenantReport:
    base = row(name, status)
    s3 = CheckResult(
        check=Check.S3,
        status=status,
        reason=f"s3: newest backup object 4 h old ({size} B)",
        key=f"{name}-backups/{name}-{days_ago}.dump",
        size_bytes=size,
        evidence_at=NOW - days_ago * DAY - timedelta(hours=4),
        age_hours=4.0,
    )
    return base.model_copy(update={"checks": {**base.checks, Check.S3: s3}})


def unknown_status_report() -> Report:
    """A report as a newer backupwatch wrote it: ``globex`` is ``CORRUPT``, not a status here."""
    text = report(0, row("acme"), row("globex", Status.STALE)).to_json()
    return Report.from_json(text.replace('"STALE"', '"CORRUPT"'))


@pytest.fixture(scope="module")
def fleet() -> list[Report]:
    """benchmarks/status_page.py's fleet, 300 tenants x 30 days: every status, a day without a
    report, a region not checked for a day, tenants new and gone, real reasons."""
    from benchmarks.status_page import synthetic_reports

    return synthetic_reports(300, 30, seed=3)


SCENARIOS = {
    "failing first": [
        report(1, row("acme"), row("globex", Status.STALE), row("tyrell", Status.PAUSED)),
        report(0, row("acme"), row("globex", Status.STALE), row("initech", Status.ERROR)),
    ],
    "days without a report": [
        report(3, row("acme"), row("hooli", Status.EMPTY)),
        report(0, row("acme"), row("soylent", kind="cluster")),
    ],
    "scope not checked": [
        report(1, row("acme"), row("wayne", region=OTHER_REGION)),
        report(
            0,
            row("wayne", region=OTHER_REGION),
            errors=(RegionError(region=REGION, reason="AccessDenied on rds:DescribeDBInstances"),),
        ),
    ],
    "news": [
        report(1, row("acme"), row("globex", Status.STALE), row("vandelay")),
        report(0, row("acme", Status.MISSING), row("globex"), row("newco", Status.PENDING)),
    ],
    "stopped failing by setting, no ages": [
        report(0, row("cyberdyne", Status.STOPPED, failing=True, rds_age=None, s3_age=None)),
    ],
    "accounts": [
        report(0, row("a", account="111122223333"), row("b", Status.STALE, account="444455556666")),
    ],
    "escaping and control characters": [
        report(0, row(EVIL, Status.ERROR, reason=EVIL_REASON + "\n\t\x00 31 h", account="1'2")),
    ],
    "an unknown status": [unknown_status_report()],
}


# --- the same page, the same email, the same dumps ----------------------------------------------


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_page_from_summaries_is_the_page_from_reports(name: str) -> None:
    """Byte for byte, whether the days are reports, summaries read back, or both."""
    reports = SCENARIOS[name]
    summaries = through_json(reports)
    expected = render_status_page(reports)
    assert render_status_page(summaries) == expected
    assert render_status_page([*summaries[:-1], reports[-1]]) == expected
    later = NOW + 2 * DAY
    assert render_status_page(summaries, generated_at=later) == render_status_page(
        reports, generated_at=later
    )


def test_a_month_of_the_fleet_draws_the_same_page_and_email(fleet: list[Report]) -> None:
    """300 tenants x 30 days of real reasons: the page and the email's grid, from summaries
    (as a run holds them: a ``DailyHistory``), are the bytes drawn from the reports."""
    summaries = through_json(fleet)
    assert render_status_page(summaries) == render_status_page(fleet)
    history = DailyHistory(summaries[:-1])
    expected = render_html_email(fleet[-1], history=fleet[:-1])
    assert render_html_email(fleet[-1], history=history) == expected
    assert render_html_email(fleet[-1], history=list(history)) == expected  # as reports


def test_archived_dumps_from_summaries_are_those_from_reports(fleet: list[Report]) -> None:
    """The size rule's fallback finds the same dumps, in the same order, in the summaries."""
    mine = [
        report(2, with_dump("acme", 100, days_ago=2), with_dump("bad", 5, status=Status.SUSPECT)),
        report(1, with_dump("acme", 110, days_ago=1), row("nos3")),
        report(0, with_dump("acme", 110, days_ago=1)),  # the same object, seen twice
    ]
    for reports in (mine, fleet):
        assert archived_dumps(through_json(reports)) == archived_dumps(reports)
    found = archived_dumps(through_json(mine))
    assert [d.size for d in found[mine[0].tenants[0].key]] == [110, 100]
    assert set(found) == {mine[0].tenants[0].key}


def test_the_news_is_compare_s(fleet: list[Report]) -> None:
    """``changed_names`` gives the names of ``compare``'s new failures, recoveries, new and
    gone tenants, for every pair of days of the fleet and the hand-made scenarios."""
    pairs = list(itertools.pairwise(fleet))
    pairs += [(s[-2], s[-1]) for s in SCENARIOS.values() if len(s) > 1]
    pairs.append((SCENARIOS["news"][1], SCENARIOS["news"][0]))
    pairs.append((SCENARIOS["scope not checked"][1], SCENARIOS["scope not checked"][0]))
    for before, now in pairs:
        changes = compare(before, now)
        expected = [
            sorted(c.row.tenant for c in section)
            for section in (
                changes.new_failures,
                changes.recovered,
                changes.new_tenants,
                changes.gone,
            )
        ]
        got = changed_names(DaySummary.of(before), DaySummary.of(now))
        assert [sorted(names) for names in got] == expected


# --- the model and its JSON ---------------------------------------------------------------------


def test_a_summary_reads_back_equal_and_writes_the_same_bytes(fleet: list[Report]) -> None:
    """JSON and gzip round-trip to an equal summary; the same summary, the same bytes."""
    for scenario in [*SCENARIOS.values(), fleet[:3]]:
        for one in scenario:
            summary = DaySummary.of(one)
            reader = DaySummaryReader()
            assert reader.read(summary.to_json()) == summary
            assert reader.read(summary.to_bytes()) == summary
            assert summary.to_bytes() == DaySummary.of(one).to_bytes()
            assert summary.summary == one.summary
            assert summary.failing == one.failing


def test_a_row_keeps_what_the_page_shows() -> None:
    """Key, name, status, the cell's text (reason and ages), which ages are failing, the dump."""
    one = report(0, with_dump("globex", 2048))
    base = row("globex", Status.STALE, rds_age=31.0, s3_age=None)
    stale = report(0, base)
    [ok] = DaySummary.of(one).tenants
    [bad] = DaySummary.of(stale).tenants
    assert ok.key == ("", REGION, "instance", "db-globex")
    assert (ok.tenant, ok.status, ok.failing) == ("globex", Status.OK, False)
    assert ok.dump == ArchivedDump(
        key="globex-backups/globex-0.dump", size=2048, modified_at=NOW - timedelta(hours=4)
    )
    assert ok.text == cell_text(one.tenants[0])
    assert bad.text == "globex is stale\nbackup age: rds 31 h · s3 none"
    assert bad.reason == "globex is stale"
    assert bad.ages == [("rds", "31 h", True), ("s3", "none", False)]
    assert [(c, a, f) for c, a, f in check_ages(base)] == bad.ages
    assert bad.dump is None
    assert bad.template == "globex is stale\nbackup age: rds \x010\x02 h · s3 none"
    assert bad.numbers == "31"


def test_the_json_is_compact_and_self_describing() -> None:
    """Versioned, rows as arrays under ``columns``, scopes and texts in tables."""
    summary = DaySummary.of(
        report(0, with_dump("acme", 100), row("globex", Status.STALE, account="111122223333"))
    )
    document = json.loads(gzip.decompress(summary.to_bytes()))
    assert document["schema"] == SCHEMA
    assert document["version"] == 1
    assert document["generated_at"] == "2026-11-27T07:00:00Z"
    assert document["columns"] == list(COLUMNS)
    assert document["scopes"] == [["", REGION], ["111122223333", REGION]]
    acme, globex = document["tenants"]
    assert acme[:6] == [0, "instance", "db-acme", "acme", "OK", 0]
    assert acme[9] == ["acme-backups/acme-0.dump", 100, "2026-11-27T03:00:00Z"]
    assert globex[:6] == [1, "instance", "db-globex", "globex", "STALE", 1]
    assert globex[9] is None
    assert document["texts"][globex[6]].startswith("globex is stale\nbackup age: rds ")


def test_a_thousand_tenants_are_a_fraction_of_their_report() -> None:
    """What drawing the page reads per day: a summary of 1,000 tenants is under a third of the
    report's JSON, and under 60 KB as the archive stores it."""
    from benchmarks.status_page import synthetic_reports

    [one] = synthetic_reports(1000, 1)
    summary = DaySummary.of(one)
    assert len(summary.to_json().encode()) < len(one.to_json().encode()) / 3
    assert len(summary.to_bytes()) < 60_000


def test_an_unknown_status_stays_unknown_and_failing() -> None:
    """A newer backupwatch's status survives the summary: its name, and failing."""
    summary = through_json([unknown_status_report()])[0]
    globex = next(r for r in summary.tenants if r.tenant == "globex")
    assert globex.status.value == "CORRUPT"
    assert not globex.status.known
    assert globex.failing
    document = json.loads(summary.to_json())
    document["tenants"][0][4] = "ARCHIVED"  # acme, as a newer writer might call it: not failing
    document["tenants"][0][5] = 0
    document["checks"].append("tape")  # a check this version does not know
    read = DaySummaryReader().read(json.dumps(document))
    assert read.tenants[0].status.value == "ARCHIVED"
    assert read.tenants[0].failing
    assert read.checks == (Check.RDS, Check.S3)


def break_version(d: dict[str, object]) -> None:
    d["version"] = 2


def break_columns(d: dict[str, object]) -> None:
    d["columns"] = [*COLUMNS, "extra"]


def break_row(d: dict[str, object]) -> None:
    d["tenants"] = [[0, "instance", "db-acme"]]


def break_kind(d: dict[str, object]) -> None:
    d["tenants"][0][1] = "table"  # type: ignore[index]


def break_scope(d: dict[str, object]) -> None:
    d["tenants"][0][0] = 7  # type: ignore[index]


def break_time(d: dict[str, object]) -> None:
    d["generated_at"] = "2026-11-27T07:00:00"


def break_dump(d: dict[str, object]) -> None:
    d["tenants"][0][9] = ["k", "12", None]  # type: ignore[index]


def break_status(d: dict[str, object]) -> None:
    d["tenants"][0][4] = "not a status"  # type: ignore[index]


@pytest.mark.parametrize(
    "damage",
    [
        break_version,
        break_columns,
        break_row,
        break_kind,
        break_scope,
        break_time,
        break_dump,
        break_status,
    ],
)
def test_what_is_not_a_summary_of_this_version_is_refused(damage: object) -> None:
    """A newer version, other columns, a short row, a bad value: ``DaySummaryError`` (the
    archive then reads the day's report), never a wrong page."""
    document = json.loads(DaySummary.of(report(0, with_dump("acme", 100))).to_json())
    damage(document)  # type: ignore[operator]
    with pytest.raises(DaySummaryError):
        DaySummaryReader().read(json.dumps(document))


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[]", b'{"schema": "other"}', b"\x1f\x8b broken gzip", '{"schema": 1}'],
)
def test_garbage_is_refused(body: bytes | str) -> None:
    with pytest.raises(DaySummaryError):
        DaySummaryReader().read(body)


def test_one_reader_keeps_one_copy_of_what_repeats(fleet: list[Report]) -> None:
    """Thirty days of one fleet hold each name, key and template once."""
    summaries = through_json(fleet[:5])
    first = {r.key: r for r in summaries[0].tenants}
    for summary in summaries[1:]:
        for r in summary.tenants:
            if r.key in first:
                assert r.key is first[r.key].key
                assert r.tenant is first[r.key].tenant
                if r.template == first[r.key].template:
                    assert r.template is first[r.key].template


def test_a_daily_history_is_reports_to_those_that_want_reports() -> None:
    """``DailyHistory`` is a sequence of reports (rows without their checks' details) over the
    summaries, which ``days_of`` gives back without building a report."""
    reports = SCENARIOS["news"]
    summaries = [DaySummary.of(r) for r in reports]
    history = DailyHistory(summaries)
    assert len(history) == 2
    assert days_of(history) == tuple(summaries)
    assert days_of(reports) is reports
    assert isinstance(history[1:], DailyHistory)
    assert days_of(history[1:]) == (summaries[1],)
    for got, expected in zip(history, reports, strict=True):
        assert got.generated_at == expected.generated_at
        assert [(r.key, r.tenant, r.status, r.failing, r.reason) for r in got.tenants] == [
            (r.key, r.tenant, r.status, r.failing, r.reason) for r in expected.tenants
        ]
        assert got.summary == expected.summary
        assert all(not r.checks for r in got.tenants)
    assert history[0].tenants[0].reason == reports[0].tenants[0].reason


def test_a_row_is_small() -> None:
    """A row is a tuple of shared values: what 2.9 million of them cost at 100,000 tenants."""
    assert DayRow._fields == (
        "key",
        "tenant",
        "status",
        "failing",
        "template",
        "numbers",
        "bad",
        "dump",
    )
    assert not hasattr(DaySummary.of(report(0, row("acme"))).tenants[0], "__dict__")


def test_the_collector_is_paused_only_inside_and_as_it_was_after() -> None:
    """``collection_paused``: off inside, back on after (even after an error); left off when
    it was off."""
    import gc

    from backupwatch.core.day_summary import collection_paused

    def fail_inside() -> None:
        with collection_paused():
            assert not gc.isenabled()
            raise KeyError("inside")

    assert gc.isenabled()
    with pytest.raises(KeyError):
        fail_inside()
    assert gc.isenabled()
    gc.disable()
    try:
        with collection_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


# --- owners, dumps left out, rows shared across days --------------------------------------------


def test_owners_are_kept_only_when_a_row_has_some() -> None:
    """A report with owners: an ``owners`` member after ``tenants``, read back by row key, and
    ``report_row`` gives them to a gone tenant's row. Without owners: no member, so the bytes
    are those of a summary from before the member existed, and the reader says it does not
    know (None)."""
    owned = row("acme").model_copy(update={"owners": ("team-a", "ops")})
    summary = DaySummary.of(report(0, row("globex", Status.STALE), owned))
    document = json.loads(summary.to_json())
    assert list(document)[-2:] == ["tenants", "owners"]
    assert document["owners"] == [[1, "team-a", "ops"]]
    read = DaySummaryReader().read(summary.to_bytes())
    assert read.owners == {owned.key: ("team-a", "ops")}
    gone = read.report_row(read.tenants[1])
    assert (gone.tenant, gone.key, gone.status, gone.owners) == (
        "acme",
        owned.key,
        Status.OK,
        owned.owners,
    )
    assert gone.reason == owned.reason
    assert read.report_row(read.tenants[0]).owners == ()

    plain = DaySummary.of(report(0, row("globex", Status.STALE)))
    assert "owners" not in json.loads(plain.to_json())
    assert plain.owners == {}
    assert DaySummaryReader().read(plain.to_bytes()).owners is None


@pytest.mark.parametrize("owners", [{}, [[0]], [["0", "x"]], [[-1, "x"]], [[5, "x"]], [[0, 1]]])
def test_malformed_owners_are_refused(owners: object) -> None:
    document = json.loads(DaySummary.of(report(0, row("acme"))).to_json())
    document["owners"] = owners
    with pytest.raises(DaySummaryError):
        DaySummaryReader().read(json.dumps(document))


def test_a_reader_without_dumps_shares_a_row_that_did_not_change(fleet: list[Report]) -> None:
    """``dumps=False``: no row keeps a dump; a tenant's row equal to the day before's is that
    row, so a steady month costs about a day. With dumps, the same days read equal rows (a
    dump is a new key every day, so they are seldom shared)."""
    days = [DaySummary.of(one).to_bytes() for one in fleet[:4]]
    lean = DaySummaryReader(dumps=False)
    read = [lean.read(body) for body in days]
    full = [DaySummaryReader().read(body) for body in days]
    assert all(r.dump is None for day in read for r in day.tenants)
    assert any(r.dump is not None for day in full for r in day.tenants)
    shared = 0
    for before, after in itertools.pairwise(read):
        old = {r.key: r for r in before.tenants}
        for r in after.tenants:
            if r == old.get(r.key):
                assert r is old[r.key]
                shared += 1
    assert shared
    for lean_day, full_day in zip(read, full, strict=True):
        assert [r._replace(dump=None) for r in full_day.tenants] == list(lean_day.tenants)
        assert render_status_page([lean_day]) == render_status_page([full_day])


@pytest.mark.parametrize("rows_per_chunk", [1, 7, 500])
def test_the_page_in_pieces_is_the_page(
    fleet: list[Report], rows_per_chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``status_page_bytes`` (what a run writes) is the page's text, encoded, however many rows
    go in a piece; so are the pieces joined, for the fleet's days and every scenario."""
    monkeypatch.setattr(status_page, "ROWS_PER_CHUNK", rows_per_chunk)
    cases: list[Sequence[AnyDay]] = [through_json(fleet[:5]), *SCENARIOS.values(), []]
    for reports in cases:
        text = render_status_page(reports)
        assert "".join(status_page.status_page_chunks(reports)) == text
        assert status_page.status_page_bytes(reports) == text.encode()
