"""Reports are data: JSON round-trips without loss, and partial reports merge into one.

Properties (hypothesis) for any reports, including ones whose rows and scope errors collide:
the JSON round-trip is the identity; ``merge_reports`` is associative, independent of order and
grouping, idempotent on duplicates; it loses no tenant key and no scope error; for disjoint
partials the counts add. Example-based tests pin the choices the properties leave open.
Example counts are small (the machine has two cores); keys are drawn from a few values so that
even few examples collide often.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backupwatch import (
    Check,
    CheckResult,
    NothingToMerge,
    RegionError,
    Report,
    Status,
    TenantReport,
    merge_reports,
)

from .conftest import NOW

# Few values for keys, so that generated partial reports collide often.
ACCOUNTS = st.sampled_from([None, "", "111111111111", "222222222222"])
REGIONS = st.sampled_from(["us-east-1", "eu-west-1"])
IDENTIFIERS = st.sampled_from(["db-a", "db-b", "db-c"])
TEXTS = st.text(max_size=12) | st.sampled_from(["ü", "😀", "a\nb", '"}', "\u202e"])


def _naive(year: int) -> datetime:
    return datetime(year, 1, 1)  # noqa: DTZ001 - hypothesis wants naive bounds


TIMES = st.builds(
    lambda when, minutes: when.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(min_value=_naive(2020), max_value=_naive(2030)),
    st.integers(-14 * 60, 14 * 60),
)
FLOATS = st.floats(allow_nan=False, allow_infinity=False, width=64)


@st.composite
def check_results(draw: st.DrawFn, check: Check) -> CheckResult:
    return CheckResult(
        check=check,
        status=draw(st.sampled_from(list(Status))),
        reason=draw(TEXTS),
        evidence_at=draw(st.none() | TIMES),
        age_hours=draw(st.none() | FLOATS),
        key=draw(st.none() | TEXTS),
        size_bytes=draw(st.none() | st.integers(0, 2**63)),
    )


@st.composite
def rows(draw: st.DrawFn) -> TenantReport:
    status = draw(st.sampled_from(list(Status)))
    if status is Status.OK:
        failing = False
    elif status.failing:
        failing = True
    else:
        failing = draw(st.booleans())  # STOPPED (and the like) may be made failing
    checks = draw(st.lists(st.sampled_from(list(Check)), unique=True))
    return TenantReport(
        tenant=draw(TEXTS),
        db_instance_identifier=draw(IDENTIFIERS),
        region=draw(REGIONS),
        kind=draw(st.sampled_from(["instance", "cluster"])),
        members=tuple(draw(st.lists(TEXTS, max_size=2))),
        account_id=draw(ACCOUNTS),
        s3_prefix=draw(st.none() | TEXTS),
        status=status,
        failing=failing,
        reason=draw(TEXTS),
        runbook=draw(st.none() | TEXTS),
        notes=tuple(draw(st.lists(TEXTS, max_size=2))),
        checks={check: draw(check_results(check)) for check in checks},
    )


region_errors = st.builds(
    RegionError,
    region=st.none() | REGIONS,
    reason=st.sampled_from(["denied", "throttled", "no result from the scan"]) | TEXTS,
    account_id=ACCOUNTS,
)


@st.composite
def reports(draw: st.DrawFn, *, max_rows: int = 6) -> Report:
    return Report(
        generated_at=draw(TIMES),
        regions=tuple(draw(st.lists(REGIONS, unique=True))),
        checks=tuple(draw(st.lists(st.sampled_from(list(Check)), unique=True))),
        tenants=tuple(draw(st.lists(rows(), max_size=max_rows))),
        region_errors=tuple(draw(st.lists(region_errors, max_size=3))),
        accounts=tuple(
            draw(st.lists(st.sampled_from(["111111111111", "222222222222"]), unique=True))
        ),
    )


partials = st.lists(reports(), min_size=1, max_size=4)


def keys(report: Report) -> set[tuple[str, str, str, str]]:
    return {row.key for row in report.tenants}


# --- JSON ----------------------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(reports())
def test_json_round_trip_is_lossless(report: Report) -> None:
    """``Report.from_json(report.to_json())`` is the same report, field for field."""
    again = Report.from_json(report.to_json())
    assert again == report
    assert again.model_dump() == report.model_dump()
    assert again.to_json() == report.to_json()


@settings(max_examples=25, deadline=None)
@given(reports())
def test_json_summary_is_written_and_recomputed_not_trusted(report: Report) -> None:
    """The JSON carries ``summary``; a tampered one is ignored on the way in."""
    data = json.loads(report.to_json())
    assert data["summary"]["tenants"] == len(report.tenants)
    data["summary"] = {"tenants": 10**6, "failing": -1, "by_status": {}, "regions_failed": 0}
    assert Report.from_json(json.dumps(data)).summary == report.summary


def test_json_keeps_offsets_unicode_and_nested_evidence() -> None:
    """An example: a +05:30 time, a non-ASCII name, checks with evidence, a scope error."""
    when = datetime(2026, 11, 27, 12, 30, 0, 123456, tzinfo=timezone(timedelta(hours=5.5)))
    report = Report(
        generated_at=when,
        regions=("eu-west-1",),
        checks=(Check.RDS, Check.S3),
        accounts=("111111111111",),
        tenants=(
            TenantReport(
                tenant="café 😀",
                db_instance_identifier="db-cafe",
                region="eu-west-1",
                account_id="111111111111",
                status=Status.STALE,
                reason="old",
                checks={
                    Check.RDS: CheckResult(
                        check=Check.RDS,
                        status=Status.STALE,
                        reason="31 h",
                        evidence_at=when - timedelta(hours=31),
                        age_hours=31.000000001,
                        key="rds:db-cafe-2026-11-26-05-30",
                    )
                },
            ),
        ),
        region_errors=(RegionError(region=None, account_id="222222222222", reason="denied"),),
    )
    again = Report.from_json(report.to_json(indent=2))
    assert again == report
    assert again.generated_at.utcoffset() == timedelta(hours=5.5)
    assert again.tenants[0].checks[Check.RDS].age_hours == 31.000000001


def test_json_that_is_not_a_report_is_refused() -> None:
    """A missing field raises, rather than yielding a half report. A stray field raises when
    validated strictly, and ``from_json`` ignores it: a newer writer's field (see
    tests/test_report_versions.py)."""
    data = json.loads(Report(generated_at=NOW, regions=(), checks=(), tenants=()).to_json())
    with pytest.raises(ValueError, match="colour"):
        Report.model_validate_json(json.dumps({**data, "colour": "red"}))
    assert Report.from_json(json.dumps({**data, "colour": "red"})) == Report.from_json(
        json.dumps(data)
    )
    del data["tenants"]
    with pytest.raises(ValueError, match="tenants"):
        Report.from_json(json.dumps(data))


# --- merge: the algebra ------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(reports(), reports(), reports())
def test_merge_is_associative(a: Report, b: Report, c: Report) -> None:
    """However the partial reports are grouped, the result is the same."""
    left = merge_reports([merge_reports([a, b]), c])
    right = merge_reports([a, merge_reports([b, c])])
    assert left == right == merge_reports([a, b, c])


@settings(max_examples=50, deadline=None)
@given(partials, st.randoms(use_true_random=False))
def test_merge_is_independent_of_order(parts: list[Report], rng: object) -> None:
    """The order partial reports arrive in never changes the merged report."""
    shuffled = list(parts)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    assert merge_reports(shuffled) == merge_reports(parts)
    assert merge_reports(shuffled).to_json() == merge_reports(parts).to_json()


@settings(max_examples=40, deadline=None)
@given(partials)
def test_merge_is_idempotent_on_duplicates(parts: list[Report]) -> None:
    """A partial report delivered twice (a retried child) changes nothing; merging is stable."""
    once = merge_reports(parts)
    assert merge_reports([*parts, *parts]) == once
    assert merge_reports([once]) == once
    assert merge_reports([once, *parts]) == once


@settings(max_examples=60, deadline=None)
@given(partials)
def test_merge_loses_nothing(parts: list[Report]) -> None:
    """Every tenant key and every scope error of every part is in the merge, each once; a key
    seen failing anywhere is failing in the merge; times, regions, accounts, checks are unions."""
    merged = merge_reports(parts)
    assert keys(merged) == set().union(*(keys(p) for p in parts))
    assert len(merged.tenants) == len(keys(merged))
    assert {e.key for e in merged.region_errors} == {e.key for p in parts for e in p.region_errors}
    assert len(merged.region_errors) == len({e.key for e in merged.region_errors})
    failing_anywhere = {row.key for p in parts for row in p.tenants if row.failing}
    assert {row.key for row in merged.tenants if row.failing} == failing_anywhere
    for row in merged.tenants:  # the kept row is one of the inputs, not a blend
        assert any(row in p.tenants for p in parts)
        worst = max(
            (
                r.status.severity
                for p in parts
                for r in p.tenants
                if r.key == row.key and r.failing == row.failing
            ),
        )
        assert row.status.severity == worst
    assert merged.generated_at == min(p.generated_at for p in parts)
    assert set(merged.regions) == {r for p in parts for r in p.regions}
    assert set(merged.accounts) == {a for p in parts for a in p.accounts}
    assert set(merged.checks) == {c for p in parts for c in p.checks}


@settings(max_examples=40, deadline=None)
@given(st.lists(reports(), min_size=1, max_size=4))
def test_counts_add_for_disjoint_partials(parts: list[Report]) -> None:
    """Partials from different accounts (one child per scope) add up: tenants, failing, each
    status, scope errors."""
    disjoint = [_in_account(part, f"{n:012d}") for n, part in enumerate(parts)]
    merged = merge_reports(disjoint).summary
    summaries = [p.summary for p in disjoint]
    assert merged.tenants == sum(s.tenants for s in summaries)
    assert merged.failing == sum(s.failing for s in summaries)
    assert merged.regions_failed == sum(s.regions_failed for s in summaries)
    assert Counter(merged.by_status) == sum((Counter(s.by_status) for s in summaries), Counter())


def _in_account(part: Report, account: str) -> Report:
    """``part`` moved to ``account``, one row per key and one error per key (as one scope's
    report always is)."""
    moved = [r.model_copy(update={"account_id": account}) for r in part.tenants]
    errors = [e.model_copy(update={"account_id": account}) for e in part.region_errors]
    return part.model_copy(
        update={
            "tenants": tuple({r.key: r for r in moved}.values()),
            "region_errors": tuple({e.key: e for e in errors}.values()),
        }
    )


# --- merge: examples ---------------------------------------------------------------------------


def row(account: str | None, status: Status, reason: str = "r", **extra: object) -> TenantReport:
    return TenantReport(
        tenant="acme",
        db_instance_identifier="db-acme",
        region="us-east-1",
        account_id=account,
        status=status,
        reason=reason,
        **extra,  # type: ignore[arg-type]
    )


def report(
    *tenants: TenantReport, errors: tuple[RegionError, ...] = (), at: datetime = NOW
) -> Report:
    return Report(
        generated_at=at,
        regions=("us-east-1",),
        checks=(Check.RDS,),
        tenants=tenants,
        region_errors=errors,
    )


def test_same_identifier_in_two_accounts_is_two_tenants() -> None:
    """``db-acme`` in two accounts is two rows: the account is part of the key."""
    merged = merge_reports(
        [report(row("111111111111", Status.OK)), report(row("222222222222", Status.OK))]
    )
    assert [r.account_id for r in merged.tenants] == ["111111111111", "222222222222"]


def test_duplicate_tenant_keeps_the_failing_row() -> None:
    """A tenant reported OK by one part and STALE by another is STALE: failures are never hidden."""
    merged = merge_reports([report(row("1" * 12, Status.OK)), report(row("1" * 12, Status.STALE))])
    assert [r.status for r in merged.tenants] == [Status.STALE]


def test_failing_stopped_beats_a_more_severe_looking_listed_status() -> None:
    """Failing first, then severity: a STOPPED row made failing beats a not-failing PENDING."""
    stopped = row("1" * 12, Status.STOPPED, failing=True)
    pending = row("1" * 12, Status.PENDING)
    assert merge_reports([report(pending), report(stopped)]).tenants == (stopped,)


def test_scope_errors_are_kept_each_once_and_sorted() -> None:
    """Two scopes' errors are both kept; the same error twice is kept once."""
    denied = RegionError(account_id="2" * 12, region="us-east-1", reason="denied")
    missing = RegionError(account_id="1" * 12, region="eu-west-1", reason="no result")
    merged = merge_reports([report(errors=(denied,)), report(errors=(missing, denied))])
    assert merged.region_errors == (missing, denied)
    assert merged.summary.regions_failed == 2


def test_merge_takes_the_earliest_time() -> None:
    """The run started when its first part did: the digest's date does not drift."""
    merged = merge_reports([report(at=NOW + timedelta(minutes=5)), report(at=NOW)])
    assert merged.generated_at == NOW


def test_merge_of_nothing_raises() -> None:
    """No partial report at all is a caller's bug, and says so."""
    with pytest.raises(NothingToMerge):
        merge_reports([])


def test_merged_report_survives_json() -> None:
    """What the publish step archives reads back as the same report."""
    merged = merge_reports(
        [report(row("1" * 12, Status.OK)), report(row(None, Status.ERROR), at=NOW.astimezone(UTC))]
    )
    assert Report.from_json(merged.to_json()) == merged
