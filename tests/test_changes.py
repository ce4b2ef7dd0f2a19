"""What changed between two reports (pure): new failures, recoveries, streaks, gone tenants."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backupwatch.core.changes import Changed, Changes, compare, scope_failed, utc_days
from backupwatch.core.day_summary import DaySummary, DaySummaryReader
from backupwatch.core.digest import change_sections, render_digest
from backupwatch.core.models import Check, Kind, RegionError, Report, RowKey, Status, TenantReport
from backupwatch.core.owners import owner_changes

from .conftest import NOW, OTHER_REGION, REGION

YESTERDAY = NOW - timedelta(days=1)
ACCOUNT_A = "111111111111"
ACCOUNT_B = "222222222222"
LIFECYCLE = [Status.STOPPED, Status.PENDING, Status.PAUSED, Status.SKIPPED]


def row(
    name: str,
    status: Status = Status.OK,
    *,
    db: str | None = None,
    region: str = REGION,
    account: str | None = None,
    kind: Kind = "instance",
    failing: bool | None = None,
) -> TenantReport:
    """One tenant row; its resource is ``db-<name>`` unless given."""
    extra = {} if failing is None else {"failing": failing}
    return TenantReport(
        tenant=name,
        db_instance_identifier=db or f"db-{name}",
        region=region,
        kind=kind,
        account_id=account,
        status=status,
        reason=f"{name} is {status.value}",
        **extra,
    )


def report(at: datetime, *rows: TenantReport, errors: tuple[RegionError, ...] = ()) -> Report:
    return Report(
        generated_at=at,
        regions=(REGION, OTHER_REGION),
        checks=(Check.RDS, Check.S3),
        tenants=rows,
        region_errors=errors,
    )


def key(name: str, region: str = REGION, account: str = "") -> RowKey:
    return (account, region, "instance", f"db-{name}")


def names(items: tuple[Changed, ...]) -> list[str]:
    return [item.row.tenant for item in items]


# --- the four sections ------------------------------------------------------------------------


def test_same_report_twice_has_no_news() -> None:
    """Comparing a report with an identical later one: nothing new, failing ones still failing."""
    rows = (row("a"), row("b", Status.STALE), row("c", Status.PENDING))
    changes = compare(report(YESTERDAY, *rows), report(NOW, *rows))
    assert changes.compared
    assert not changes.news
    assert (changes.new_failures, changes.recovered, changes.gone) == ((), (), ())
    assert names(changes.still_failing) == ["b"]
    assert changes.still_failing[0].since == YESTERDAY
    assert changes.still_failing[0].days == 1


def test_ok_to_failing_is_a_new_failure_saying_what_it_was() -> None:
    """A tenant OK yesterday and STALE today is a new failure, with its previous status."""
    changes = compare(report(YESTERDAY, row("a")), report(NOW, row("a", Status.STALE)))
    assert names(changes.new_failures) == ["a"]
    assert changes.new_failures[0].before is Status.OK
    assert changes.new_failures[0].row.status is Status.STALE
    assert changes.news
    assert changes.failing_since == {key("a"): NOW}


def test_failing_tenant_absent_before_is_a_new_failure_not_a_new_tenant() -> None:
    """A tenant not in the previous report and failing now is a new failure (before=None)."""
    changes = compare(report(YESTERDAY), report(NOW, row("a", Status.MISSING)))
    assert names(changes.new_failures) == ["a"]
    assert changes.new_failures[0].before is None
    assert changes.new_tenants == ()


@pytest.mark.parametrize("before", LIFECYCLE)
def test_lifecycle_status_before_a_failure_is_not_a_streak(before: Status) -> None:
    """Previously PENDING, STOPPED, PAUSED or SKIPPED (not failing) and failing now: new."""
    changes = compare(report(YESTERDAY, row("a", before)), report(NOW, row("a", Status.MISSING)))
    assert names(changes.new_failures) == ["a"]
    assert changes.new_failures[0].before is before
    assert changes.still_failing == ()


def test_stopped_made_failing_then_stale_is_still_failing() -> None:
    """A STOPPED row made failing by the setting, STALE the next day: one streak, not news."""
    stopped = row("a", Status.STOPPED, failing=True)
    changes = compare(report(YESTERDAY, stopped), report(NOW, row("a", Status.STALE)))
    assert changes.new_failures == ()
    assert names(changes.still_failing) == ["a"]
    assert changes.still_failing[0].before is Status.STOPPED


@pytest.mark.parametrize("now", [Status.OK, *LIFECYCLE])
def test_failing_to_not_failing_is_recovered(now: Status) -> None:
    """STALE yesterday, not failing today (OK or a lifecycle status): recovered."""
    since = NOW - timedelta(days=4)
    changes = compare(
        report(YESTERDAY, row("a", Status.STALE)),
        report(NOW, row("a", now)),
        failing_since={key("a"): since},
    )
    assert names(changes.recovered) == ["a"]
    item = changes.recovered[0]
    assert (item.before, item.row.status, item.since, item.days) == (Status.STALE, now, since, 4)
    assert changes.failing_since == {}


def test_not_failing_both_times_is_in_no_section() -> None:
    """PAUSED yesterday and OK today, or PENDING both days: no section at all."""
    changes = compare(
        report(YESTERDAY, row("a", Status.PAUSED), row("b", Status.PENDING)),
        report(NOW, row("a"), row("b", Status.PENDING)),
    )
    for section in (changes.new_failures, changes.recovered, changes.still_failing):
        assert section == ()
    assert changes.gone == changes.new_tenants == ()


def test_status_change_while_failing_is_still_failing_with_before() -> None:
    """STALE then MISSING: still failing, the streak unbroken, the old status kept."""
    changes = compare(
        report(YESTERDAY, row("a", Status.STALE)),
        report(NOW, row("a", Status.MISSING)),
        failing_since={key("a"): NOW - timedelta(days=7)},
    )
    item = changes.still_failing[0]
    assert (item.before, item.row.status, item.days) == (Status.STALE, Status.MISSING, 7)


def test_new_tenant_not_failing_is_a_new_tenant() -> None:
    """A tenant first seen today and not failing (PENDING, OK) is listed as new, not news."""
    changes = compare(
        report(YESTERDAY, row("a")), report(NOW, row("a"), row("n", Status.PENDING), row("o"))
    )
    assert names(changes.new_tenants) == ["n", "o"]
    assert not changes.news


# --- gone, or not checked -----------------------------------------------------------------------


def test_tenant_absent_now_in_a_checked_scope_is_gone() -> None:
    """OK yesterday, absent today, its region checked without error: gone, and news."""
    changes = compare(report(YESTERDAY, row("a"), row("b")), report(NOW, row("b")))
    assert names(changes.gone) == ["a"]
    assert changes.gone[0].before is Status.OK
    assert changes.not_checked == ()
    assert changes.news


def test_scope_error_hides_tenants_as_not_checked_not_gone() -> None:
    """Yesterday's tenants in a region that failed today are not checked, not gone."""
    previous = report(YESTERDAY, row("a", region=OTHER_REGION), row("b", Status.STALE))
    current = report(
        NOW, row("b", Status.STALE), errors=(RegionError(region=OTHER_REGION, reason="denied"),)
    )
    changes = compare(previous, current)
    assert changes.gone == ()
    assert names(changes.not_checked) == ["a"]
    assert changes.not_checked[0].before is Status.OK
    assert not changes.news


def test_scope_error_in_another_region_does_not_excuse_a_gone_tenant() -> None:
    """A failed region elsewhere does not hide a tenant that vanished from a checked region."""
    current = report(NOW, errors=(RegionError(region=OTHER_REGION, reason="denied"),))
    changes = compare(report(YESTERDAY, row("a")), current)
    assert names(changes.gone) == ["a"]


@pytest.mark.parametrize(
    ("error", "covered"),
    [
        (RegionError(region=REGION, reason="x"), {"a1", "b1"}),
        (RegionError(region=None, reason="x"), {"a1", "a2", "b1"}),
        (RegionError(region=None, reason="x", account_id=ACCOUNT_A), {"a1", "a2"}),
        (RegionError(region=REGION, reason="x", account_id=ACCOUNT_A), {"a1"}),
        (RegionError(region=OTHER_REGION, reason="x", account_id=ACCOUNT_B), set()),
    ],
    ids=["home-region", "organization", "whole-account", "account-region", "other-scope"],
)
def test_scope_errors_cover_their_account_and_region(error: RegionError, covered: set[str]) -> None:
    """A scope error covers its region (or all) of its account (or all), and nothing else."""
    previous = report(
        YESTERDAY,
        row("a1", account=ACCOUNT_A),
        row("a2", account=ACCOUNT_A, region=OTHER_REGION),
        row("b1", account=ACCOUNT_B),
    )
    changes = compare(previous, report(NOW, errors=(error,)))
    assert set(names(changes.not_checked)) == covered
    assert set(names(changes.gone)) == {"a1", "a2", "b1"} - covered


def test_row_without_account_is_covered_by_any_account_error_in_its_region() -> None:
    """In doubt (no account id on the row), a scope error in its region means not checked."""
    error = RegionError(region=REGION, reason="x", account_id=ACCOUNT_A)
    assert scope_failed(key("a"), [error])
    assert not scope_failed(key("a", OTHER_REGION), [error])
    assert not scope_failed(key("a", account=ACCOUNT_B), [error])


def test_tenant_back_after_a_scope_error_is_not_new() -> None:
    """OK, then not checked (scope error), then OK again: in no section on its return."""
    not_checked = report(YESTERDAY, errors=(RegionError(region=REGION, reason="denied"),))
    changes = compare(not_checked, report(NOW, row("a")))
    assert changes.new_tenants == ()
    assert not changes.news
    brand_new = compare(not_checked, report(NOW, row("b", region=OTHER_REGION)))
    assert names(brand_new.new_tenants) == ["b"]


def test_failing_streak_survives_a_run_that_could_not_check_it() -> None:
    """Failing on day 1, not checked on day 2 (scope error), failing on day 3: still failing
    since day 1, not a new failure."""
    day1, day2, day3 = NOW - timedelta(days=2), NOW - timedelta(days=1), NOW
    first = report(day1, row("a", Status.STALE))
    after_first = compare(None, first).failing_since
    second = report(day2, errors=(RegionError(region=REGION, reason="throttled"),))
    changes2 = compare(first, second, failing_since=after_first)
    assert names(changes2.not_checked) == ["a"]
    assert changes2.failing_since == {key("a"): day1}
    changes3 = compare(second, report(day3, row("a", Status.STALE)), failing_since=after_first)
    assert changes3.new_failures == ()
    assert names(changes3.still_failing) == ["a"]
    assert (changes3.still_failing[0].since, changes3.still_failing[0].days) == (day1, 2)


def test_streak_of_a_gone_tenant_is_dropped() -> None:
    """A stored streak of a tenant absent now from a checked scope is forgotten."""
    changes = compare(
        report(YESTERDAY, row("a", Status.STALE)),
        report(NOW),
        failing_since={key("a"): YESTERDAY, key("zombie"): YESTERDAY},
    )
    assert names(changes.gone) == ["a"]
    assert changes.failing_since == {}


# --- the key is the resource --------------------------------------------------------------------


def test_renamed_tenant_is_the_same_row() -> None:
    """The same DB instance under a new tenant name: neither gone nor new."""
    changes = compare(
        report(YESTERDAY, row("old-name", db="db-x", status=Status.STALE)),
        report(NOW, row("new-name", db="db-x", status=Status.STALE)),
    )
    assert (changes.gone, changes.new_failures, changes.new_tenants) == ((), (), ())
    assert names(changes.still_failing) == ["new-name"]


def test_same_tenant_name_on_another_resource_is_gone_plus_new() -> None:
    """A tenant moved to a new instance: the old resource is gone, the new one is new."""
    changes = compare(
        report(YESTERDAY, row("acme", db="db-acme-1")), report(NOW, row("acme", db="db-acme-2"))
    )
    assert [c.row.identifier for c in changes.gone] == ["db-acme-1"]
    assert [c.row.identifier for c in changes.new_tenants] == ["db-acme-2"]


def test_cluster_and_instance_with_one_identifier_are_two_tenants() -> None:
    """An instance and a cluster sharing an identifier never stand in for each other."""
    changes = compare(
        report(YESTERDAY, row("x", db="shared", status=Status.STALE)),
        report(NOW, row("x", db="shared", kind="cluster", status=Status.STALE)),
    )
    assert [c.row.kind for c in changes.new_failures] == ["cluster"]
    assert [c.row.kind for c in changes.gone] == ["instance"]


# --- since and days ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("since", "now", "days"),
    [
        (datetime(2026, 11, 20, 7, tzinfo=UTC), datetime(2026, 11, 27, 7, tzinfo=UTC), 7),
        (datetime(2026, 11, 20, 7, tzinfo=UTC), datetime(2026, 11, 27, 6, tzinfo=UTC), 7),
        (datetime(2026, 11, 26, 23, 59, tzinfo=UTC), datetime(2026, 11, 27, 0, 1, tzinfo=UTC), 1),
        (datetime(2026, 11, 27, 0, 1, tzinfo=UTC), datetime(2026, 11, 27, 23, 59, tzinfo=UTC), 0),
        (datetime(2026, 11, 28, 7, tzinfo=UTC), datetime(2026, 11, 27, 7, tzinfo=UTC), 0),
        (
            datetime(2026, 11, 26, 20, tzinfo=timezone(timedelta(hours=-8))),  # 11-27 04:00 UTC
            datetime(2026, 11, 27, 7, tzinfo=UTC),
            0,
        ),
    ],
    ids=["week", "week-earlier-hour", "midnight", "same-day", "future-is-zero", "other-zone"],
)
def test_days_count_utc_calendar_days_never_negative(
    since: datetime, now: datetime, days: int
) -> None:
    """N days counts UTC dates crossed, whatever the hour or zone, and is never negative."""
    assert utc_days(since, now) == days


def test_stored_streak_start_gives_since_and_days() -> None:
    """The archive's failing_since is the streak's start: 'since 2026-11-20 (7 days)'."""
    since = datetime(2026, 11, 20, 7, tzinfo=UTC)
    changes = compare(
        report(YESTERDAY, row("a", Status.STALE)),
        report(NOW, row("a", Status.STALE)),
        failing_since={key("a"): since},
    )
    assert (changes.still_failing[0].since, changes.still_failing[0].days) == (since, 7)
    assert changes.failing_since == {key("a"): since}


def test_stored_streak_later_than_the_previous_report_is_not_trusted() -> None:
    """A stored start after the previous report (an inconsistent index) is capped to it."""
    changes = compare(
        report(YESTERDAY, row("a", Status.STALE)),
        report(NOW, row("a", Status.STALE)),
        failing_since={key("a"): NOW},
    )
    assert changes.still_failing[0].since == YESTERDAY


def test_stored_streak_of_a_tenant_ok_yesterday_is_ignored() -> None:
    """OK in the previous report resets the streak, whatever the index says."""
    changes = compare(
        report(YESTERDAY, row("a")),
        report(NOW, row("a", Status.STALE)),
        failing_since={key("a"): NOW - timedelta(days=9)},
    )
    assert names(changes.new_failures) == ["a"]
    assert changes.failing_since == {key("a"): NOW}


def test_without_previous_report_nothing_is_compared_but_streaks_carry_on() -> None:
    """No previous report: every section empty, not compared; stored streaks continue and
    new ones start now."""
    since = NOW - timedelta(days=3)
    changes = compare(
        None,
        report(NOW, row("a", Status.STALE), row("b", Status.MISSING), row("c")),
        failing_since={key("a"): since, key("c"): since},
    )
    assert not changes.compared
    assert changes.previous_at is None
    for section in (
        changes.new_failures,
        changes.recovered,
        changes.still_failing,
        changes.gone,
        changes.not_checked,
        changes.new_tenants,
    ):
        assert section == ()
    assert changes.failing_since == {key("a"): since, key("b"): NOW}


def test_sections_are_ordered_for_reading() -> None:
    """New failures most severe first; still failing longest streak first; others by name."""
    changes = compare(
        report(
            YESTERDAY,
            row("s1", Status.STALE),
            row("s2", Status.STALE),
            row("z"),
            row("y"),
        ),
        report(
            NOW,
            row("s1", Status.STALE),
            row("s2", Status.STALE),
            row("z", Status.EMPTY),
            row("y", Status.ERROR),
        ),
        failing_since={key("s2"): NOW - timedelta(days=5)},
    )
    assert names(changes.new_failures) == ["y", "z"]
    assert names(changes.still_failing) == ["s2", "s1"]


# --- properties ----------------------------------------------------------------------------------

_KEYS = [
    (account, region, name)
    for account in (None, ACCOUNT_A)
    for region in (REGION, OTHER_REGION)
    for name in ("p", "q", "r")
]
_ERRORS = [
    RegionError(region=REGION, reason="x"),
    RegionError(region=OTHER_REGION, reason="x", account_id=ACCOUNT_A),
    RegionError(region=None, reason="x", account_id=ACCOUNT_A),
]
_state = st.one_of(st.none(), st.sampled_from(list(Status)), st.just("stopped-failing"))


def _rows(states: list[object]) -> tuple[TenantReport, ...]:
    rows = []
    for (account, region, name), state in zip(_KEYS, states, strict=True):
        if state is None:
            continue
        if state == "stopped-failing":
            rows.append(row(name, Status.STOPPED, account=account, region=region, failing=True))
        else:
            assert isinstance(state, Status)
            rows.append(row(name, state, account=account, region=region))
    return tuple(rows)


@st.composite
def _pairs(draw: st.DrawFn) -> tuple[Report | None, Report, dict[RowKey, datetime]]:
    before = draw(st.lists(_state, min_size=len(_KEYS), max_size=len(_KEYS)))
    after = draw(st.lists(_state, min_size=len(_KEYS), max_size=len(_KEYS)))
    errors_before = draw(st.lists(st.sampled_from(_ERRORS), max_size=2, unique=True))
    errors_now = draw(st.lists(st.sampled_from(_ERRORS), max_size=2, unique=True))
    previous_at = NOW - timedelta(hours=draw(st.integers(1, 24 * 20)))
    previous = (
        report(previous_at, *_rows(before), errors=tuple(errors_before))
        if draw(st.booleans())
        else None
    )
    current = report(NOW, *_rows(after), errors=tuple(errors_now))
    stored = draw(
        st.dictionaries(
            st.sampled_from([(a or "", r, "instance", f"db-{n}") for a, r, n in _KEYS]),
            st.integers(0, 24 * 40).map(lambda h: previous_at - timedelta(hours=h)),
        )
    )
    return previous, current, stored


@settings(max_examples=300, deadline=None)
@given(_pairs())
def test_changes_partition_the_tenants(
    pair: tuple[Report | None, Report, dict[RowKey, datetime]],
) -> None:
    """For any two reports: each current tenant in at most one section; failing now is new +
    still; every previous tenant absent now is gone or not checked; days never negative."""
    previous, current, stored = pair
    changes = compare(previous, current, failing_since=stored)
    failing_now = {r.key for r in current.tenants if r.failing}
    assert set(changes.failing_since) >= failing_now
    assert all(since <= NOW for since in changes.failing_since.values())
    if previous is None:
        assert _sections(changes) == [(), (), (), (), (), ()]
        return
    current_sections = [
        changes.new_failures,
        changes.recovered,
        changes.still_failing,
        changes.new_tenants,
    ]
    seen = [item.row.key for section in current_sections for item in section]
    assert len(seen) == len(set(seen))
    assert {i.row.key for i in changes.new_failures + changes.still_failing} == failing_now
    before = {r.key: r for r in previous.tenants}
    assert all(before[i.row.key].failing and not i.row.failing for i in changes.recovered)
    absent = {k for k in before if k not in {r.key for r in current.tenants}}
    gone = {i.row.key for i in changes.gone}
    not_checked = {i.row.key for i in changes.not_checked}
    assert gone | not_checked == absent
    assert not gone & not_checked
    for item in changes.still_failing + changes.recovered:
        assert item.since is not None
        assert item.days is not None
        assert item.days >= 0
        assert item.since <= previous.generated_at
    assert changes.news == bool(changes.new_failures or changes.recovered or changes.gone)


@settings(max_examples=100, deadline=None)
@given(_pairs())
def test_comparing_a_report_with_itself_is_quiet(
    pair: tuple[Report | None, Report, dict[RowKey, datetime]],
) -> None:
    """A report compared with the same tenants a day later: no new failures, no recoveries,
    nothing gone; its failing tenants are all still failing."""
    _previous, current, stored = pair
    earlier = current.model_copy(update={"generated_at": YESTERDAY})
    changes = compare(earlier, current, failing_since=stored)
    assert not changes.news
    assert changes.not_checked == changes.new_tenants == ()
    assert {i.row.key for i in changes.still_failing} == {
        r.key for r in current.tenants if r.failing
    }


def _sections(changes: Changes) -> list[tuple[Changed, ...]]:
    return [
        changes.new_failures,
        changes.recovered,
        changes.still_failing,
        changes.gone,
        changes.not_checked,
        changes.new_tenants,
    ]


# --- compared with yesterday's day summary instead of its report ------------------------------


def _as_read(changes: Changes) -> list[object]:
    """Everything of ``changes`` a reader sees: the sections' rows (for ``gone`` and
    ``not_checked``, what the digest and an owner's notice read of the previous row), their
    before, since and days, and the streaks."""
    sections = [
        [
            (
                item.row.key,
                item.row.tenant,
                item.row.status,
                item.row.failing,
                item.row.owners,
                item.before,
                item.since,
                item.days,
            )
            for item in section
        ]
        for section in _sections(changes)
    ]
    return [changes.previous_at, changes.current_at, changes.failing_since, *sections]


def _summary_of(previous: Report) -> DaySummary:
    """``previous`` as the archive keeps its summary, read back as a run reads it."""
    return DaySummaryReader(dumps=False).read(DaySummary.of(previous).to_bytes())


@settings(max_examples=100, deadline=None)
@given(_pairs())
def test_comparing_with_the_day_summary_is_comparing_with_the_report(
    pair: tuple[Report | None, Report, dict[RowKey, datetime]],
) -> None:
    """For any two reports and stored streaks: the same changes, section by section, and the
    same digest lines, whether the previous run is its report or its summary."""
    previous, current, stored = pair
    if previous is None:
        return
    from_report = compare(previous, current, failing_since=stored)
    from_summary = compare(_summary_of(previous), current, failing_since=stored)
    assert _as_read(from_summary) == _as_read(from_report)
    for accounts in (False, True):
        assert change_sections(from_summary, accounts=accounts) == change_sections(
            from_report, accounts=accounts
        )


def test_a_gone_tenant_from_the_summary_keeps_its_owners_and_reason() -> None:
    """A tenant gone, and one not checked: from the summary, each is yesterday's row with its
    name, resource, status, reason and owners, so its owners' notices still name it."""
    gone = row("gone", Status.STALE, account=ACCOUNT_A).model_copy(update={"owners": ("team-a",)})
    hidden = row("hidden", account=ACCOUNT_B, region=OTHER_REGION).model_copy(
        update={"owners": ("team-b", "ops")}
    )
    kept = row("kept", account=ACCOUNT_A)
    previous = report(YESTERDAY, gone, hidden, kept)
    error = RegionError(account_id=ACCOUNT_B, region=OTHER_REGION, reason="AccessDenied")
    current = report(NOW, kept, errors=(error,))
    from_report = compare(previous, current)
    from_summary = compare(_summary_of(previous), current)
    assert _as_read(from_summary) == _as_read(from_report)
    [item] = from_summary.gone
    assert (item.row.tenant, item.row.owners, item.row.reason) == ("gone", ("team-a",), gone.reason)
    assert from_summary.not_checked[0].row.owners == ("team-b", "ops")
    for owner in ("team-a", "team-b", "ops"):
        assert _as_read(owner_changes(from_summary, owner)) == _as_read(
            owner_changes(from_report, owner)
        )


def test_a_realistic_week_compares_the_same_from_summaries(fleet_days: list[Report]) -> None:
    """benchmarks/status_page.py's fleet (every status, tenants new and gone, a scope not
    checked for a day), each day of a week compared with the day before: the same changes and
    the same digest, byte for byte, from the day before's summary as from its report."""
    compared = 0
    for previous, current in itertools.pairwise(fleet_days):
        from_report = compare(previous, current)
        from_summary = compare(_summary_of(previous), current)
        assert _as_read(from_summary) == _as_read(from_report)
        assert render_digest(current, changes=from_summary) == render_digest(
            current, changes=from_report
        )
        compared += len(from_report.gone) + len(from_report.not_checked)
    assert compared, "the month has tenants gone or not checked"


@pytest.fixture(scope="module")
def fleet_days() -> list[Report]:
    from benchmarks.status_page import synthetic_reports

    return synthetic_reports(300, 8, seed=3)
