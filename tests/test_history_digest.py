"""Five mornings in a row on moto: what the digest says changed, day after day.

The whole pipeline (``backupwatch.pipeline.daily.run``) runs once per day with that day's fixed
clock,
against one world whose tenants change between days:

=========  ==========  ===========  ===========  ==============  ==============
tenant     day 1       day 2        day 3        day 4           day 5
=========  ==========  ===========  ===========  ==============  ==============
steady     OK          OK           OK           OK              OK
broken     MISSING     MISSING      MISSING      MISSING         MISSING
flaky      OK          STALE (new)  STALE        OK (recovered)  OK
wobbly     OK          OK           OK           STALE (new)     OK (recovered)
leaving    OK          OK           tag removed  -               -
newco      -           -            PENDING      PENDING         MISSING (new)
far        OK          OK           OK           region failed   OK
=========  ==========  ===========  ===========  ==============  ==============

Day 4 has a new failure, a recovery, a streak and a tenant not checked at once: the digest
shown in docs/history.md.

``far`` lives in the second region, whose discovery is denied on day 4: not checked that day,
never "gone", and not "new" when it is back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from moto import mock_aws

from backupwatch import (
    Check,
    RegionError,
    Report,
    Retrier,
    Status,
    TenantReport,
    load_settings,
    run_daily,
)
from backupwatch.aws.archive import read_index
from backupwatch.aws.clients import s3_client
from backupwatch.core.changes import Changes, compare
from backupwatch.core.digest import render_digest, render_subject
from backupwatch.core.models import ArchivedReport

from .conftest import (
    ACCOUNT,
    DENIED,
    NOW,
    OTHER_REGION,
    REGION,
    TENANT_TAG,
    Faults,
    RecordingSleep,
    World,
    env_for,
    use_fake_env,
)

ARCHIVE = "backupwatch-reports"
DAYS = [NOW + timedelta(days=n) for n in range(-3, 2)]  # 2026-11-24 .. 2026-11-28, 07:00 UTC
"""Day 4 is conftest's NOW."""


@dataclass
class Week:
    """The world, and what each morning's run published."""

    world: World
    topic: str
    faults: Faults
    outcomes: list[Any] = field(default_factory=list)
    digests: list[dict[str, Any]] = field(default_factory=list)

    def lines(self, day: int) -> list[str]:
        body: str = self.digests[day - 1]["message"]
        return body.split("\n")

    def section(self, day: int, title: str) -> list[str]:
        """The lines under ``title`` (``NEW FAILURES (1)``) up to the next blank line."""
        lines = self.lines(day)
        start = lines.index(title) + 1
        end = lines.index("", start) if "" in lines[start:] else len(lines)
        return lines[start:end]


def backed_up(
    world: World, identifier: str, tenant: str, at: datetime, region: str = REGION
) -> None:
    """A fresh automated snapshot and a fresh dump, taken an hour before ``at``."""
    world.automated_snapshot(identifier, at - timedelta(hours=1), region=region)
    world.put(f"{tenant}-backups/{at:%Y-%m-%d}.dump", at - timedelta(hours=1))


def morning(week: Week, day: int, retrier: Retrier) -> None:
    """Change the world as the table says, then run the pipeline at 07:00 UTC that day."""
    world, at = week.world, DAYS[day - 1]
    backed_up(world, "db-steady", "steady", at)
    world.automated_snapshot("db-broken", at - timedelta(hours=1))  # but never a dump
    backed_up(world, "db-far", "far", at, region=OTHER_REGION)
    if day in (1, 4, 5):
        backed_up(world, "db-flaky", "flaky", at)
    if day != 4:
        backed_up(world, "db-wobbly", "wobbly", at)
    if day <= 2:
        backed_up(world, "db-leaving", "leaving", at)
    if day == 3:
        world.rds().remove_tags_from_resource(
            ResourceName=f"arn:aws:rds:{REGION}:{ACCOUNT}:db:db-leaving", TagKeys=[TENANT_TAG]
        )
        world.instance("db-newco", tenant="newco", created_at=at - timedelta(hours=1))
        world.drop_snapshots("db-newco")
    denied = None
    if day == 4:
        denied = week.faults.inject("rds", "DescribeDBInstances", DENIED, region=OTHER_REGION)
    settings = load_settings(
        env_for(
            week.topic,
            BACKUPWATCH_REGIONS=f"{REGION},{OTHER_REGION}",
            BACKUPWATCH_REPORT_BUCKET=ARCHIVE,
        )
    )
    # Wall time too: moto stamps LatestRestorableTime with it (point-in-time recovery lag).
    with time_machine.travel(at, tick=False):
        outcome = run_daily(settings, session=world.session, clock=lambda: at, retrier=retrier)
    week.outcomes.append(outcome)
    if denied is not None:
        week.faults.injections.remove(denied)
    week.digests.append(world.published(week.topic)[-1])


@pytest.fixture(scope="module")
def week() -> Iterator[Week]:
    """Five mornings, run once for the module (they take seconds); tests only read them."""
    with pytest.MonkeyPatch.context() as patch, mock_aws():
        use_fake_env(patch)
        world = World()
        world.bucket()
        world.bucket(ARCHIVE)
        start = DAYS[0] - timedelta(hours=1)
        for name in ("steady", "broken", "flaky", "wobbly", "leaving"):
            world.instance(f"db-{name}", tenant=name, snapshot_at=start)
        world.instance("db-far", tenant="far", region=OTHER_REGION, snapshot_at=start)
        result = Week(world=world, topic=world.topic(), faults=Faults(world.session))
        retrier = Retrier(sleep=RecordingSleep())
        for day in range(1, 6):
            morning(result, day, retrier)
        yield result


def test_each_morning_publishes_one_digest_with_the_news_in_the_subject(week: Week) -> None:
    """One digest per day; the subject leads with new failures, gone tenants or recoveries."""
    assert len(week.world.published(week.topic)) == 5
    assert [d["subject"] for d in week.digests] == [
        "backupwatch 2026-11-24: 1 of 6 tenants failing",
        "backupwatch 2026-11-25: 1 new failure; 2 of 6 tenants failing",
        "backupwatch 2026-11-26: 1 gone; 2 of 6 tenants failing",
        "backupwatch 2026-11-27: 1 new failure; 2 of 5 tenants failing, 1 region(s) not checked",
        "backupwatch 2026-11-28: 1 new failure; 2 of 6 tenants failing",
    ]


def test_first_morning_says_there_is_nothing_to_compare_with(week: Week) -> None:
    """Day 1: no earlier report; the digest says so and shows today's view."""
    assert (
        f"WHAT CHANGED: no comparison: first run: no earlier report in "
        f"s3://{ARCHIVE}/backupwatch/; today's view only."
    ) in week.lines(1)
    assert "MISSING (1)" in week.lines(1)
    assert "NEW FAILURES" not in week.digests[0]["message"]


def test_second_morning_names_the_new_failure_and_the_streak(week: Week) -> None:
    """Day 2: flaky is a new failure (was OK); broken is still failing since day 1 (1 day)."""
    lines = week.lines(2)
    assert (
        "WHAT CHANGED since 2026-11-24 07:00 UTC: "
        "1 new failure, 0 recovered, 1 still failing, 0 gone."
    ) in lines
    [new] = week.section(2, "NEW FAILURES (1)")
    assert new.startswith(f"  - flaky [STALE] (db-flaky, {REGION}): was OK; rds: newest automated")
    assert week.section(2, "STILL FAILING (1)") == [
        f"  - broken [MISSING] (db-broken, {REGION}): since 2026-11-24 (1 day)"
    ]


def test_third_morning_hears_of_the_tenant_that_disappeared(week: Week) -> None:
    """Day 3: leaving lost its tag: GONE; newco is a new tenant; streaks grow."""
    assert week.section(3, "GONE (1)") == [
        f"  - leaving (db-leaving, {REGION}): was OK; not found in this run: deleted, or its "
        "tenant tag removed? (its scope was checked)"
    ]
    assert week.section(3, "NEW TENANTS (1)") == [
        f"  - newco [PENDING] (db-newco, {REGION}): new: not in the previous report"
    ]
    assert week.section(3, "STILL FAILING (2)") == [
        f"  - broken [MISSING] (db-broken, {REGION}): since 2026-11-24 (2 days)",
        f"  - flaky [STALE] (db-flaky, {REGION}): since 2026-11-25 (1 day)",
    ]


def test_fourth_morning_new_recovered_still_and_not_checked(week: Week) -> None:
    """Day 4: wobbly fails, flaky recovered after 2 days, broken still fails, and far is not
    checked (its region failed), not gone."""
    assert (
        "WHAT CHANGED since 2026-11-26 07:00 UTC: "
        "1 new failure, 1 recovered, 1 still failing, 0 gone, 1 not checked."
    ) in week.lines(4)
    [new] = week.section(4, "NEW FAILURES (1)")
    assert new.startswith(f"  - wobbly [STALE] (db-wobbly, {REGION}): was OK; rds: newest ")
    assert week.section(4, "RECOVERED (1)") == [
        f"  - flaky [OK] (db-flaky, {REGION}): was STALE since 2026-11-25 (2 days)"
    ]
    assert week.section(4, "NOT CHECKED (1)") == [
        f"  - far (db-far, {OTHER_REGION}): was OK; its scope could not be checked in this run "
        "(listed below)"
    ]
    assert "GONE" not in week.digests[3]["message"]
    assert week.section(4, "STILL FAILING (1)") == [
        f"  - broken [MISSING] (db-broken, {REGION}): since 2026-11-24 (3 days)"
    ]
    assert "REGIONS NOT CHECKED (1)" in week.lines(4)


def test_fifth_morning_pending_tenant_fails_and_the_region_is_back(week: Week) -> None:
    """Day 5: newco's first backup never came (was PENDING); wobbly recovered after 1 day;
    far is back, and not 'new'."""
    [new] = week.section(5, "NEW FAILURES (1)")
    assert new.startswith(f"  - newco [MISSING] (db-newco, {REGION}): was PENDING; ")
    assert "NEW TENANTS" not in week.digests[4]["message"]
    assert "NOT CHECKED" not in week.digests[4]["message"]
    assert week.section(5, "RECOVERED (1)") == [
        f"  - wobbly [OK] (db-wobbly, {REGION}): was STALE since 2026-11-27 (1 day)"
    ]
    assert week.section(5, "STILL FAILING (1)") == [
        f"  - broken [MISSING] (db-broken, {REGION}): since 2026-11-24 (4 days)"
    ]
    assert week.outcomes[4].summary()["changes"] == {
        "new_failures": 1,
        "recovered": 1,
        "still_failing": 1,
        "gone": 0,
    }


def test_change_sections_come_before_the_full_lists(week: Week) -> None:
    """The change sections open the body; the status lists follow under FULL STATUS."""
    lines = week.lines(4)
    order = [
        lines.index("NEW FAILURES (1)"),
        lines.index("RECOVERED (1)"),
        lines.index("STILL FAILING (1)"),
        lines.index("NOT CHECKED (1)"),
        lines.index("FULL STATUS"),
        lines.index("REGIONS NOT CHECKED (1)"),
        lines.index("MISSING (1)"),
    ]
    assert order == sorted(order)


def test_status_page_is_written_and_linked_every_morning(week: Week) -> None:
    """Each digest links the status page, which the real renderer wrote as HTML."""
    link = f"Status page: s3://{ARCHIVE}/backupwatch/status.html"
    assert all(link in week.lines(day) for day in range(1, 6))
    page = week.world.s3.get_object(Bucket=ARCHIVE, Key="backupwatch/status.html")
    assert page["ContentType"] == "text/html; charset=utf-8"
    html = page["Body"].read().decode()
    assert html.lstrip().lower().startswith("<!doctype html")
    assert all(name in html for name in ("wobbly", "flaky", "broken", "newco", "far"))


def test_index_after_the_week_holds_five_runs_and_the_open_streaks(week: Week) -> None:
    """The index names the five reports and the streaks of the two tenants failing on day 5."""
    s3 = s3_client(week.world.session, REGION)
    index = read_index(s3, Retrier(), bucket=ARCHIVE, prefix="backupwatch/")
    assert index is not None
    assert [r.generated_at for r in index.runs] == DAYS
    assert index.streaks == {
        ("", REGION, "instance", "db-broken"): DAYS[0],
        ("", REGION, "instance", "db-newco"): DAYS[4],
    }


# --- rendering the changes (pure) ----------------------------------------------------------------


def _row(name: str, status: Status = Status.OK, **update: Any) -> TenantReport:
    return TenantReport(
        tenant=name,
        db_instance_identifier=f"db-{name}",
        region=REGION,
        status=status,
        reason=f"{name} reason " + "x" * 60,
        **update,
    )


def _report(at: datetime, *rows: TenantReport) -> Report:
    return Report(generated_at=at, regions=(REGION,), checks=(Check.RDS, Check.S3), tenants=rows)


YESTERDAY = NOW - timedelta(days=1)


@pytest.mark.parametrize(
    ("before", "after", "subject"),
    [
        (
            [Status.OK, Status.OK, Status.STALE],
            [Status.STALE, Status.MISSING, Status.STALE],
            "backupwatch 2026-11-27: 2 new failures; 3 of 3 tenants failing",
        ),
        (
            [Status.OK, Status.STALE, Status.STALE],
            [Status.STALE, Status.OK, Status.STALE],
            "backupwatch 2026-11-27: 1 new failure; 2 of 3 tenants failing",
        ),
        (
            [Status.STALE, Status.STALE, Status.OK],
            [Status.OK, Status.OK, Status.OK],
            "backupwatch 2026-11-27: 2 recovered; all 3 tenants OK",
        ),
        (
            [Status.STALE, Status.OK, Status.OK],
            [Status.STALE, Status.OK, Status.OK],
            "backupwatch 2026-11-27: 1 of 3 tenants failing",
        ),
        (
            [Status.OK, Status.OK, Status.OK],
            [Status.OK, Status.OK, None],
            "backupwatch 2026-11-27: 1 gone; all 2 tenants OK",
        ),
        (
            [Status.OK, Status.STALE, Status.OK],
            [Status.MISSING, Status.OK, None],
            "backupwatch 2026-11-27: 1 new failure, 1 gone; 1 of 2 tenants failing",
        ),
    ],
    ids=["new-failures", "new-beats-recovered", "recovered", "no-news", "gone", "new-and-gone"],
)
def test_subject_leads_with_the_news(
    before: list[Status], after: list[Status | None], subject: str
) -> None:
    """New failures first (and gone tenants); recoveries only when nothing new fails."""
    names = ["a", "b", "c"]
    previous = _report(YESTERDAY, *(_row(n, s) for n, s in zip(names, before, strict=True)))
    current = _report(
        NOW, *(_row(n, s) for n, s in zip(names, after, strict=True) if s is not None)
    )
    changes = compare(previous, current)
    digest = render_digest(current, changes=changes)
    assert digest.subject == subject
    assert render_subject(current, changes=changes) == subject


def test_news_subject_stays_a_valid_sns_subject() -> None:
    """Thousands of new failures and gone tenants still make a subject under 100 ASCII chars
    that keeps the news at its start."""
    previous = _report(YESTERDAY, *(_row(f"g{i}") for i in range(5000)))
    current = _report(NOW, *(_row(f"n{i}", Status.MISSING) for i in range(12000)))
    subject = render_digest(current, changes=compare(previous, current)).subject
    assert subject.startswith("backupwatch 2026-11-27: 12000 new failures, 5000 gone; ")
    assert len(subject) < 100
    assert subject.isascii()


def test_without_a_previous_report_the_digest_says_why() -> None:
    """compare(None, ...) renders the no-comparison line, with the caller's reason or a
    default; the subject is today's."""
    current = _report(NOW, _row("a", Status.STALE))
    changes = compare(None, current)
    lines = render_digest(current, changes=changes).body.split("\n")
    assert "WHAT CHANGED: no comparison: no earlier report to compare with; today's view only." in (
        lines
    )
    denied = render_digest(current, changes=changes, no_comparison="AccessDenied on s3:GetObject")
    assert "WHAT CHANGED: no comparison: AccessDenied on s3:GetObject; today's view only." in (
        denied.body.split("\n")
    )
    assert denied.subject == "backupwatch 2026-11-27: 1 of 1 tenants failing"


def test_without_the_archive_the_digest_is_unchanged() -> None:
    """No changes and no reason (archive off): no WHAT CHANGED line, no FULL STATUS heading."""
    body = render_digest(_report(NOW, _row("a", Status.STALE))).body
    assert "WHAT CHANGED" not in body
    assert "FULL STATUS" not in body


def test_links_and_index_trouble_are_in_the_head() -> None:
    """The status page link (with its presigned URL), and an index that was not updated."""
    current = _report(NOW, _row("a"))
    archived = ArchivedReport(
        bucket="b", key="p/r.json", index_error="AccessDenied on s3:PutObject"
    )
    page = ArchivedReport(bucket="b", key="p/status.html", url="https://example.invalid/s")
    lines = render_digest(current, full_report=archived, status_page=page).body.split("\n")
    assert lines[4:8] == [
        "Full report: s3://b/p/r.json",
        "Archive index not updated: AccessDenied on s3:PutObject; the next run compares with an "
        "older report.",
        "Status page: s3://b/p/status.html",
        "  https://example.invalid/s",
    ]


def _busy_day() -> tuple[Report, Changes]:
    """300 still failing, 200 new failures, 100 recovered, 50 gone: long change sections."""
    previous = _report(
        YESTERDAY,
        *(_row(f"still{i:03d}", Status.STALE) for i in range(300)),
        *(_row(f"new{i:03d}") for i in range(200)),
        *(_row(f"rec{i:03d}", Status.MISSING) for i in range(100)),
        *(_row(f"gone{i:03d}") for i in range(50)),
    )
    current = _report(
        NOW,
        *(_row(f"still{i:03d}", Status.STALE) for i in range(300)),
        *(_row(f"new{i:03d}", Status.EMPTY) for i in range(200)),
        *(_row(f"rec{i:03d}") for i in range(100)),
    )
    return current, compare(previous, current)


def _shown(body: str) -> int:
    return sum(1 for line in body.split("\n") if line.startswith("  - "))


def test_cut_keeps_the_change_sections_and_cuts_the_full_lists_first() -> None:
    """With room for the changes but not everything, the change sections are whole, the full
    lists are cut, and "... and N more" counts exactly the lines left out."""
    current, changes = _busy_day()
    full = render_digest(current, changes=changes, max_bytes=10**9)
    total = _shown(full.body)
    assert total == 650 + 500  # change lines, then every failing tenant again
    budget = full.body.index("FULL STATUS") + 3000
    digest = render_digest(current, changes=changes, max_bytes=budget)
    assert digest.size_bytes <= budget
    lines = digest.body.split("\n")
    for title, count in [
        ("NEW FAILURES (200)", 200),
        ("RECOVERED (100)", 100),
        ("STILL FAILING (300)", 300),
        ("GONE (50)", 50),
    ]:
        start = lines.index(title) + 1
        assert all(line.startswith("  - ") for line in lines[start : start + count]), title
        assert lines[start + count] == "", title
    assert "FULL STATUS" in lines
    assert digest.omitted == total - _shown(digest.body) > 0
    assert f"... and {digest.omitted} more" in lines
    assert lines[-1] == "OK: 100 tenant(s) with fresh backups."


@pytest.mark.parametrize("budget", [1500, 4000, 20_000, 60_000, 90_000, 120_000])
def test_every_budget_keeps_head_and_true_counts(budget: int) -> None:
    """Whatever the budget, the message fits, the WHAT CHANGED line survives, sections come in
    order, and the marker counts what was cut."""
    current, changes = _busy_day()
    total = _shown(render_digest(current, changes=changes, max_bytes=10**9).body)
    digest = render_digest(current, changes=changes, max_bytes=budget)
    assert digest.size_bytes <= budget
    assert (
        "WHAT CHANGED since 2026-11-26 07:00 UTC: 200 new failures, 100 recovered, "
        "300 still failing, 50 gone."
    ) in digest.body.split("\n")
    assert digest.omitted == total - _shown(digest.body)
    if digest.omitted:
        assert digest.body.split("\n")[-3] == f"... and {digest.omitted} more"
    titles = ["NEW FAILURES", "RECOVERED", "STILL FAILING", "GONE", "FULL STATUS"]
    positions = [digest.body.find(t) for t in titles if t in digest.body]
    assert positions == sorted(positions)


def _scopes_failed(report: Report, count: int) -> Report:
    """``report`` with ``count`` scopes not checked, each in its own account."""
    errors = tuple(
        RegionError(account_id=f"{i:012d}", region=REGION, reason="AccessDenied")
        for i in range(count)
    )
    return report.model_copy(update={"region_errors": errors})


@pytest.mark.parametrize(
    ("new", "gone", "recovered", "failed"),
    # Five-digit counts make the longest subjects; 10,000 is as long as 99,999 to write and
    # several times cheaper to build than 70,000 rows.
    [(12000, 5000, 0, 30000), (1, 0, 0, 1), (0, 0, 10000, 10000), (0, 10000, 0, 1)],
    ids=["huge-news-many-scopes", "small", "recoveries", "gone"],
)
def test_the_verdict_survives_any_news(new: int, gone: int, recovered: int, failed: int) -> None:
    """However long the news, the subject ends with the counts and the scopes not checked, and
    never says "all N tenants OK" while a scope was not checked. (The old subject, news then
    verdict cut at 99 characters, lost "not checked" in the first and last cases.)"""
    previous = _report(
        YESTERDAY,
        *(_row(f"n{i}") for i in range(new)),
        *(_row(f"g{i}") for i in range(gone)),
        *(_row(f"r{i}", Status.STALE) for i in range(recovered)),
    )
    current = _report(
        NOW,
        *(_row(f"n{i}", Status.MISSING) for i in range(new)),
        *(_row(f"r{i}") for i in range(recovered)),
        _row("steady"),
    )
    current = _scopes_failed(current, failed)
    subject = render_digest(current, changes=compare(previous, current)).subject
    assert len(subject) < 100
    assert subject.endswith(f", {failed} scope(s) not checked")
    assert "all " not in subject
    tenants = new + recovered + 1
    assert f"of {tenants} tenants failing" in subject


def test_all_ok_only_when_every_scope_was_checked() -> None:
    """Every tenant OK but one scope unread: the subject counts, it does not say "all OK"."""
    current = _scopes_failed(_report(NOW, _row("a"), _row("b")), 1)
    previous = _report(YESTERDAY, _row("a", Status.STALE), _row("b"))
    subject = render_subject(current, changes=compare(previous, current))
    assert subject == (
        "backupwatch 2026-11-27: 1 recovered; 0 of 2 tenants failing, 2 OK, 1 scope(s) not checked"
    )
