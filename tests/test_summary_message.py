"""The machine summary (``backupwatch.core.summary_message``): a versioned contract for programs.

The shape is pinned here key by key: a program that reads version 1 must never find a key
moved, renamed or retyped. The cut is checked at the extremes: the document stays within its
budget, the counts stay whole, and ``omitted`` accounts for every entry left out.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from backupwatch.core.changes import Changes, compare
from backupwatch.core.chat import failing_groups
from backupwatch.core.digest import render_subject
from backupwatch.core.models import (
    ArchivedReport,
    RegionError,
    Report,
    Status,
    TenantReport,
)
from backupwatch.core.summary_message import (
    REASON_MAX_CHARS,
    SUMMARY_MAX_BYTES,
    render_summary_message,
)

from .conftest import NOW, OTHER_REGION, REGION
from .test_digest import make_report, row

FAILING = [status for status in Status if status.failing]
REPORT = ArchivedReport(
    bucket="acme-reports",
    key="backupwatch/reports/2026/11/27/070000Z.json",
    url="https://acme-reports.s3.amazonaws.com/r.json?X-Amz-Signature=abc",
)
PAGE = ArchivedReport(bucket="acme-reports", key="backupwatch/status.html")
CONTRACT_KEYS = [
    "schema",
    "version",
    "generated_at",
    "run_date",
    "ok",
    "subject",
    "tenants",
    "failing",
    "by_status",
    "regions_failed",
    "changes",
    "report",
    "status_page",
    "failing_tenants",
    "scope_errors",
    "omitted",
]


def summary(report: Report, **kwargs: Any) -> dict[str, Any]:
    """The summary of ``report`` with the digest's subject, parsed."""
    subject = render_subject(report)
    parsed: dict[str, Any] = json.loads(render_summary_message(report, subject=subject, **kwargs))
    return parsed


def small_run() -> tuple[Report, Changes]:
    """Four tenants and a scope not checked, compared with yesterday: one new failure, one
    still failing, one recovered, one gone."""
    current = make_report(
        row("acme", Status.STALE, reason="rds: newest automated snapshot 31 h old (window 24 h)"),
        row("bolt", Status.ERROR, reason="AccessDenied on s3:ListBucket"),
        row("cobalt", Status.OK, reason="fresh"),
        row("delta", Status.PENDING, reason="new, first backup expected by 2026-11-28"),
        region_errors=(
            RegionError(region=OTHER_REGION, account_id="111122223333", reason="role not assumed"),
        ),
    )
    previous = make_report(
        row("acme", Status.OK),
        row("bolt", Status.ERROR),
        row("cobalt", Status.STALE),
        row("zeta", Status.OK),
        generated_at=NOW - timedelta(days=1),
    )
    return current, compare(previous, current)


def test_the_version_1_contract_is_pinned() -> None:
    """Every key, its order, its type and its meaning: what a program of today reads."""
    report, changes = small_run()
    subject = render_subject(report, changes=changes)
    text = render_summary_message(
        report, subject=subject, changes=changes, full_report=REPORT, status_page=PAGE
    )
    document = json.loads(text)
    assert list(document) == CONTRACT_KEYS
    assert document == {
        "schema": "backupwatch.summary",
        "version": 1,
        "generated_at": "2026-11-27T07:00:00Z",
        "run_date": "2026-11-27",
        "ok": False,
        "subject": "backupwatch 2026-11-27: 1 new failure, 1 gone; 2 of 4 tenants failing, "
        "1 scope(s) not checked",
        "tenants": 4,
        "failing": 2,
        "by_status": {
            "ERROR": 1,
            "MISSING": 0,
            "DISABLED": 0,
            "SUSPECT": 0,
            "STALE": 1,
            "EMPTY": 0,
            "NONCOMPLIANT": 0,
            "STOPPED": 0,
            "PENDING": 1,
            "PAUSED": 0,
            "SKIPPED": 0,
            "OK": 1,
        },
        "regions_failed": 1,
        "changes": {"new_failures": 1, "recovered": 1, "still_failing": 1, "gone": 1},
        "report": "s3://acme-reports/backupwatch/reports/2026/11/27/070000Z.json",
        "status_page": "s3://acme-reports/backupwatch/status.html",
        "failing_tenants": [
            {
                "tenant": "bolt",
                "status": "ERROR",
                "account_id": None,
                "region": REGION,
                "kind": "instance",
                "identifier": "db-bolt",
                "reason": "AccessDenied on s3:ListBucket",
            },
            {
                "tenant": "acme",
                "status": "STALE",
                "account_id": None,
                "region": REGION,
                "kind": "instance",
                "identifier": "db-acme",
                "reason": "rds: newest automated snapshot 31 h old (window 24 h)",
            },
        ],
        "scope_errors": [
            {
                "scope": f"111122223333 {OTHER_REGION}",
                "account_id": "111122223333",
                "region": OTHER_REGION,
                "error": "role not assumed",
            }
        ],
        "omitted": 0,
    }
    assert "\n" not in text  # compact: one line, whatever a consumer logs it with


def test_a_good_day_is_ok_with_empty_lists_and_no_links() -> None:
    """All OK, no archive, nothing compared: ``ok`` true, nulls where nothing exists."""
    document = summary(make_report(row("acme", Status.OK), row("bolt", Status.OK)))
    assert list(document) == CONTRACT_KEYS
    assert document["ok"] is True
    assert (document["tenants"], document["failing"], document["regions_failed"]) == (2, 0, 0)
    assert document["failing_tenants"] == document["scope_errors"] == []
    assert document["changes"] is document["report"] is document["status_page"] is None
    assert document["omitted"] == 0


def test_no_tenant_at_all_is_not_ok() -> None:
    """A run that finds nobody (a mistyped tag) must never read as an all-clear."""
    document = summary(make_report())
    assert (document["ok"], document["tenants"], document["failing"]) == (False, 0, 0)


def test_a_failing_stopped_tenant_is_listed() -> None:
    """``BACKUPWATCH_STOPPED_IS_FAILING``: the row's own ``failing`` decides, not its status."""
    stopped = row("idle", Status.STOPPED).model_copy(update={"failing": True})
    document = summary(make_report(stopped, row("calm", Status.STOPPED)))
    assert [t["tenant"] for t in document["failing_tenants"]] == ["idle"]
    assert document["ok"] is False


def test_failing_tenants_most_severe_first_then_report_order() -> None:
    """The digest's order (``chat.failing_groups``): by status, most severe first; within a
    status, as in the report."""
    rows = [
        row("e1", Status.EMPTY),
        row("s1", Status.STALE),
        row("ok1", Status.OK),
        row("x1", Status.ERROR),
        row("n1", Status.NONCOMPLIANT),
        row("s2", Status.STALE),
        row("x2", Status.ERROR),
        row("p1", Status.PAUSED),
    ]
    report = make_report(*rows)
    names = [t["tenant"] for t in summary(report)["failing_tenants"]]
    assert names == ["x1", "x2", "s1", "s2", "e1", "n1"]
    assert names == [r.tenant for _, group in failing_groups(report) for r in group]


def test_links_only_for_objects_that_were_written() -> None:
    """A failed write is null (a program must not be sent to fetch nothing); a presigned URL
    is not the link (it expires; the URI does not)."""
    failed = PAGE.model_copy(update={"error": "AccessDenied"})
    document = summary(make_report(row("a")), full_report=REPORT, status_page=failed)
    assert document["report"] == REPORT.uri
    assert document["status_page"] is None


def test_changes_are_null_when_nothing_was_compared() -> None:
    """No previous report: ``changes`` null, not four zeros (which would claim a comparison)."""
    report = make_report(row("a"))
    nothing = compare(None, report)
    assert summary(report, changes=nothing)["changes"] is None


def test_times_are_utc() -> None:
    """``generated_at`` in UTC with a Z, ``run_date`` its UTC day (not the local one)."""
    local = datetime(2026, 11, 27, 1, 30, 15, 999_999, tzinfo=timezone(timedelta(hours=5)))
    document = summary(make_report(row("a"), generated_at=local))
    assert document["generated_at"] == "2026-11-26T20:30:15Z"
    assert document["run_date"] == "2026-11-26"


def test_names_and_reasons_are_given_as_they_are() -> None:
    """JSON escapes what needs it: a program gets the tenant's exact name, newlines included;
    a long reason is cut to ``REASON_MAX_CHARS`` characters, ending in "…"."""
    name = 'we"ird\\ten\nant 日本 🦄'
    long_reason = "é" * 1_000
    document = summary(
        make_report(
            row(name, Status.MISSING, reason='no "dump"\tat all', db="db-weird"),
            row("long", Status.STALE, reason=long_reason),
        )
    )
    weird, long = document["failing_tenants"]
    assert weird["tenant"] == name
    assert weird["reason"] == 'no "dump"\tat all'
    assert len(long["reason"]) == REASON_MAX_CHARS
    assert long["reason"] == "é" * (REASON_MAX_CHARS - 1) + "…"


def huge_report(failing: int = 3_000, scopes: int = 30) -> Report:
    """``failing`` tenants over every failing status with long unicode names and reasons full
    of what JSON escapes, and ``scopes`` scopes not checked."""
    rows: list[TenantReport] = [
        row(
            f't{i:05d} "quoted"\n{"ü日本" * 40}',
            FAILING[i % len(FAILING)],
            reason=f'line\none "{i}" \\ ' + "Größe überschritten 日本語 " * 20,
            db=f"db-{i}",
        )
        for i in range(failing)
    ]
    rows.append(row("fine", Status.OK))
    errors = tuple(
        RegionError(region=f"xx-scope-{i}", account_id=f"{i:012d}", reason="AccessDenied " * 40)
        for i in range(scopes)
    )
    return make_report(*rows, region_errors=errors)


@pytest.fixture(scope="module")
def huge() -> Report:
    return huge_report()


@pytest.mark.parametrize("max_bytes", [SUMMARY_MAX_BYTES, 8_192, 2_000])
def test_a_huge_report_is_cut_to_fit_and_its_counts_stay_true(max_bytes: int, huge: Report) -> None:
    """The lists are cut from the end (scopes first, then tenants, most severe first), never
    the counts; ``omitted`` counts every entry left out."""
    report = huge
    text = render_summary_message(report, subject=render_subject(report), max_bytes=max_bytes)
    assert len(text.encode()) <= max_bytes
    document = json.loads(text)
    assert (document["tenants"], document["failing"], document["regions_failed"]) == (
        3_001,
        3_000,
        30,
    )
    shown = len(document["failing_tenants"]) + len(document["scope_errors"])
    assert document["omitted"] == 3_000 + 30 - shown > 0
    in_order = [e.scope for e in report.region_errors] + [
        r.tenant for _, rows in failing_groups(report) for r in rows
    ]
    listed = [e["scope"] for e in document["scope_errors"]] + [
        t["tenant"] for t in document["failing_tenants"]
    ]
    assert listed == in_order[:shown]  # a prefix: nothing skipped to squeeze a later one in
    if document["failing_tenants"]:
        assert len(document["scope_errors"]) == 30
    assert all(len(t["reason"]) <= REASON_MAX_CHARS for t in document["failing_tenants"])
    assert all(len(e["error"]) <= REASON_MAX_CHARS for e in document["scope_errors"])


def test_the_default_budget_is_used_well(huge: Report) -> None:
    """Within a line's worth of the budget: the cut is not wasteful."""
    report = huge
    text = render_summary_message(report, subject=render_subject(report))
    assert SUMMARY_MAX_BYTES - 1_000 < len(text.encode()) <= SUMMARY_MAX_BYTES


def test_a_budget_below_the_counts_still_gets_the_counts() -> None:
    """The counts are the part a program cannot do without: every entry omitted."""
    report = huge_report(failing=5, scopes=1)
    document = json.loads(
        render_summary_message(report, subject=render_subject(report), max_bytes=10)
    )
    assert (document["failing"], document["omitted"]) == (5, 6)
    assert document["failing_tenants"] == document["scope_errors"] == []


def test_a_report_that_fits_is_whole() -> None:
    """Nothing omitted when it fits, even with the budget exactly its size."""
    report = huge_report(failing=20, scopes=2)
    text = render_summary_message(report, subject="s")
    document = json.loads(text)
    assert (len(document["failing_tenants"]), len(document["scope_errors"])) == (20, 2)
    assert document["omitted"] == 0
    exact = render_summary_message(report, subject="s", max_bytes=len(text.encode()))
    assert exact == text
