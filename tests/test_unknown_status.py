"""A status written by a newer backupwatch: read, shown by its name, and always failing.

tests/fixtures/reports/v3-new-status.json is the v2 fixture as a newer writer could have
written it: ``globex`` is ``CORRUPT`` (failing, it said) and ``acme`` is ``ARCHIVED`` (not
failing, it said). Every reader of reports is driven through its real entry point.
"""

from __future__ import annotations

import copy
import itertools
import json
import pickle
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from backupwatch.core.changes import compare
from backupwatch.core.digest import render_digest, render_subject
from backupwatch.core.merge import merge_reports
from backupwatch.core.models import (
    Check,
    CheckResult,
    Report,
    Status,
    TenantReport,
    most_severe_first,
    worst,
)
from backupwatch.core.status_page import UNKNOWN_CLASS, UNKNOWN_COLOUR, render_status_page
from backupwatch.core.table import render_table

from .conftest import REGION
from .test_status_page import parse

FIXTURES = Path(__file__).parent / "fixtures" / "reports"
KNOWN = list(Status)
FAILING_NOW = {"stark", "acme", "globex", "initech", "umbrella", "hooli"}


def document(name: str = "v3-new-status.json") -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return loaded


def read(name: str = "v3-new-status.json") -> Report:
    return Report.from_json((FIXTURES / name).read_bytes())


def tenant(report: Report, name: str) -> TenantReport:
    [found] = [row for row in report.tenants if row.tenant == name]
    return found


def unknown(name: str) -> Status:
    """The unknown status ``name``, obtained the only way there is: reading a report."""
    doc = document("v2.json")
    doc["tenants"][0]["status"] = name
    return Report.from_json(json.dumps(doc)).tenants[0].status


@pytest.fixture
def new() -> Report:
    return read()


# --- the status itself ------------------------------------------------------------------------


def test_an_unknown_status_keeps_its_name(new: Report) -> None:
    """``CORRUPT`` is read as a status called CORRUPT, on the row and on its check, and is
    written back as CORRUPT."""
    globex = tenant(new, "globex")
    assert globex.status == "CORRUPT"
    assert globex.status.value == globex.status.name == str(globex.status) == "CORRUPT"
    assert f"{globex.status}" == "CORRUPT"
    assert globex.checks[Check.RDS].status.value == "CORRUPT"
    written = json.loads(new.to_json())
    [row] = [r for r in written["tenants"] if r["tenant"] == "globex"]
    assert row["status"] == row["checks"]["rds"]["status"] == "CORRUPT"
    assert written["summary"]["by_status"]["CORRUPT"] == 1
    assert new.model_dump(mode="json")["summary"]["by_status"]["ARCHIVED"] == 1


def test_an_unknown_status_is_failing_and_listed_and_not_known(new: Report) -> None:
    """Unknown means failing: never OK, never a lifecycle status."""
    for name in ("globex", "acme"):
        status = tenant(new, name).status
        assert isinstance(status, Status)
        assert not status.known
        assert status.failing
        assert status.listed
        assert (status is Status.OK, status == Status.OK) == (False, False)
        assert not (status.listed and not status.failing), "counted as a lifecycle status"
    assert all(status.known for status in Status)


def test_a_status_its_writer_called_not_failing_is_failing_here(new: Report) -> None:
    """``ARCHIVED`` came with ``"failing": false``: a reader cannot know what it means, so it
    fails, and the counts are this reader's, not the newer writer's summary."""
    assert document()["tenants"][0]["failing"] is False
    assert tenant(new, "acme").failing
    assert document()["summary"]["failing"] == 5
    assert new.summary.failing == 6
    assert {row.tenant for row in new.tenants if row.failing} == FAILING_NOW
    assert new.failing


def test_one_unknown_status_alone_makes_the_report_failing() -> None:
    """A report whose only tenant has an unknown, "not failing" status is never an all-clear."""
    doc = document("v2.json")
    [acme] = [row for row in doc["tenants"] if row["tenant"] == "acme"]
    doc["tenants"] = [{**acme, "status": "ARCHIVED", "failing": False}]
    report = Report.from_json(json.dumps(doc))
    assert report.failing
    assert report.summary.failing == 1
    assert report.summary.by_status[Status.OK] == 0
    assert "1 of 1 tenants failing" in render_subject(report)
    assert "OK" not in render_subject(report)


def test_list_of_statuses_never_grows(new: Report) -> None:
    """Reading unknown statuses adds no member: iteration, ``__members__`` and lookups by
    value are those of this version."""
    assert list(Status) == KNOWN
    assert len(Status) == 12
    assert set(Status.__members__) == {status.value for status in KNOWN}
    assert tenant(new, "globex").status not in KNOWN
    with pytest.raises(ValueError, match="CORRUPT"):
        Status("CORRUPT")
    with pytest.raises(KeyError):
        Status["CORRUPT"]


def test_an_unknown_status_is_one_object_hashable_copyable_and_picklable(new: Report) -> None:
    """Compared with ``is`` like a member, a dict key equal to its name, and the same object
    after copy and pickle; a report holding one pickles and copies equal."""
    status = tenant(new, "globex").status
    assert tenant(read(), "globex").status is status
    assert status is unknown("CORRUPT")
    assert hash(status) == hash("CORRUPT")
    by_name: dict[str, int] = {status: 1}
    assert by_name["CORRUPT"] == 1
    assert copy.copy(status) is status
    assert copy.deepcopy(status) is status
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        assert pickle.loads(pickle.dumps(status, protocol)) is status
    assert pickle.loads(pickle.dumps(new)) == new
    assert copy.deepcopy(new) == new
    assert new.model_copy() == new
    assert Status(status) is status


def test_threads_reading_one_new_status_get_one_object() -> None:
    """Two readers at once (the archive's threads, say) never make two objects of one name."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: unknown("RACED_STATUS"), range(32)))
    assert all(status is statuses[0] for status in statuses)


@pytest.mark.parametrize(
    "name", ["corrupt", "<b>X</b>", "", "A" * 33, "TWO WORDS", "1ST", "CORRUPT\n", "ÉTAT"]
)
def test_a_status_name_no_backupwatch_writes_is_refused(name: str) -> None:
    """Unknown statuses end up in HTML classes, data attributes and subjects, so only a
    status-shaped name (A-Z, 0-9, _, at most 32) is read; anything else is no report."""
    for where in ("row", "check"):
        doc = document("v2.json")
        if where == "row":
            doc["tenants"][0]["status"] = name
        else:
            doc["tenants"][0]["checks"]["rds"]["status"] = name
        with pytest.raises(ValidationError, match="is not a status"):
            Report.from_json(json.dumps(doc))
    assert unknown("A" * 32).value == "A" * 32


# --- severity ---------------------------------------------------------------------------------


def test_an_unknown_status_ranks_just_below_error() -> None:
    """Above every known status but ERROR; ERROR stays the largest."""
    corrupt = unknown("CORRUPT")
    assert Status.ERROR.severity > corrupt.severity
    assert (Status.ERROR.severity, corrupt.severity, Status.MISSING.severity) == (12, 11, 10)
    assert all(corrupt.severity > s.severity for s in Status if s is not Status.ERROR)
    assert Status.ERROR.severity == max(s.severity for s in Status)
    assert Status.OK.severity == 0


def test_orderings_with_unknown_statuses_are_total() -> None:
    """Unknown statuses rank among themselves by name: ``worst`` and ``most_severe_first`` give
    one answer whatever the input order."""
    a, b = unknown("ARCHIVED"), unknown("CORRUPT")
    statuses = [Status.OK, Status.MISSING, b, a, Status.STOPPED]
    for order in itertools.permutations(statuses):
        assert worst(order) is a
        assert most_severe_first(order) == [a, b, Status.MISSING, Status.STOPPED, Status.OK]
    assert worst([a, Status.ERROR]) is Status.ERROR
    assert worst([]) is Status.ERROR
    assert most_severe_first(Status) == KNOWN


def test_by_status_counts_unknown_statuses_in_severity_order(new: Report) -> None:
    """Every member is counted (zeros too), and each unknown status, right after ERROR."""
    by_status = new.summary.by_status
    assert [s.value for s in by_status] == [
        "ERROR",
        "ARCHIVED",
        "CORRUPT",
        "MISSING",
        "DISABLED",
        "SUSPECT",
        "STALE",
        "EMPTY",
        "NONCOMPLIANT",
        "STOPPED",
        "PENDING",
        "PAUSED",
        "SKIPPED",
        "OK",
    ]
    assert by_status[Status.STALE] == 0
    assert by_status[Status.NONCOMPLIANT] == 0
    assert by_status[Status.OK] == 3
    assert sum(by_status.values()) == new.summary.tenants
    assert list(read("v2.json").summary.by_status) == KNOWN


# --- built in code: still strict --------------------------------------------------------------


def test_building_a_row_or_check_with_an_unknown_status_in_code_raises() -> None:
    """A typo in our own code (``STAEL``) is an error, never an unknown status."""
    with pytest.raises(ValidationError, match="STAEL"):
        TenantReport(
            tenant="a",
            db_instance_identifier="db-a",
            region=REGION,
            status="STAEL",  # type: ignore[arg-type]
            reason="x",
        )
    with pytest.raises(ValidationError, match="STAEL"):
        CheckResult(check=Check.RDS, status="STAEL", reason="x")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="STAEL"):
        TenantReport.model_validate_json(
            '{"tenant": "a", "db_instance_identifier": "db-a", "region": "r", '
            '"status": "STAEL", "reason": "x"}'
        )


def test_a_row_built_in_code_with_an_unknown_status_cannot_say_not_failing() -> None:
    """Holding a status read elsewhere, code may build a row with it (a merge does), failing
    by default; marking it not failing raises, as for any failing status."""
    corrupt = unknown("CORRUPT")
    fields: dict[str, Any] = {
        "tenant": "a",
        "db_instance_identifier": "db-a",
        "region": REGION,
        "status": corrupt,
        "reason": "x",
    }
    assert TenantReport(**fields).failing
    with pytest.raises(ValidationError, match="always failing"):
        TenantReport(**fields, failing=False)


# --- every reader of reports -----------------------------------------------------------------


def test_merge_keeps_the_graver_row_and_is_order_independent(new: Report) -> None:
    """A duplicate row: CORRUPT beats STALE, ERROR beats CORRUPT, and ARCHIVED (failing)
    beats OK; the merge does not depend on the order of its parts."""
    older = read("v2.json")
    merged = merge_reports([new, older])
    assert merged == merge_reports([older, new])
    assert tenant(merged, "globex").status.value == "CORRUPT"
    assert tenant(merged, "acme").status.value == "ARCHIVED"
    assert merged.summary.failing == 6

    doc = document("v2.json")
    [globex] = [row for row in doc["tenants"] if row["tenant"] == "globex"]
    globex["status"] = "ERROR"
    erred = Report.from_json(json.dumps(doc))
    assert tenant(merge_reports([new, erred]), "globex").status is Status.ERROR
    assert tenant(merge_reports([erred, new]), "globex").status is Status.ERROR


def test_merge_of_two_unknown_statuses_is_order_independent() -> None:
    """Two newer writers' statuses for one tenant: one answer, whatever arrives first."""
    a, b = document("v2.json"), document("v2.json")
    a["tenants"][0]["status"], b["tenants"][0]["status"] = "ARCHIVED", "CORRUPT"
    first, second = Report.from_json(json.dumps(a)), Report.from_json(json.dumps(b))
    assert merge_reports([first, second]) == merge_reports([second, first])


def test_the_digest_lists_unknown_statuses_as_failing_after_error(new: Report) -> None:
    """Each unknown status is a failing section of its own, after ERROR and before MISSING;
    the counts and the subject count it as failing, never as OK or "not failing"."""
    digest = render_digest(new)
    body = digest.body
    positions = [body.index(f"\n{title}\n") for title in ("ERROR (1)", "ARCHIVED (1)")]
    positions += [body.index(f"\n{title}\n") for title in ("CORRUPT (1)", "MISSING (1)")]
    assert positions == sorted(positions)
    assert "  - acme [ARCHIVED] (db-acme, eu-west-1): archived on 2026-11-29" in body
    assert "  - globex [CORRUPT] (db-globex, eu-west-1): rds: newest automated" in body
    assert "ARCHIVED (1, not failing)" not in body
    assert (
        "6 of 13 tenants failing (1 ERROR, 1 ARCHIVED, 1 CORRUPT, 1 MISSING, 1 DISABLED, "
        "1 EMPTY); 3 OK; 4 listed, not failing (1 STOPPED, 1 PENDING, 1 PAUSED, 1 SKIPPED)."
    ) in body
    assert "OK: 3 tenant(s) with fresh backups." in body
    assert digest.failing == 6
    assert digest.subject == "backupwatch 2026-11-30: 6 of 13 tenants failing"


def test_what_changed_with_unknown_statuses(new: Report) -> None:
    """OK -> ARCHIVED is a new failure; STALE -> CORRUPT still failing, "was STALE"; back from
    ARCHIVED to OK a recovery, "was ARCHIVED"."""
    older = read("v2.json")
    changes = compare(older, new)
    assert [c.row.tenant for c in changes.new_failures] == ["acme"]
    assert changes.new_failures[0].before is Status.OK
    [globex] = [c for c in changes.still_failing if c.row.tenant == "globex"]
    assert globex.before is Status.STALE
    assert globex.row.status.value == "CORRUPT"
    body = render_digest(new, changes=changes).body
    assert "NEW FAILURES (1)\n  - acme [ARCHIVED] (db-acme, eu-west-1): was OK;" in body
    assert "globex [CORRUPT] (db-globex, eu-west-1): since 2026-11-28 (2 days), was STALE" in body

    later = older.model_copy(update={"generated_at": new.generated_at + timedelta(days=1)})
    back = compare(new, later)
    assert [(c.row.tenant, c.before) for c in back.recovered] == [("acme", unknown("ARCHIVED"))]
    assert (
        "  - acme [OK] (db-acme, eu-west-1): was ARCHIVED"
        in render_digest(later, changes=back).body
    )


def test_the_table_sorts_unknown_statuses_after_error_and_counts_them(new: Report) -> None:
    """``backupwatch check`` prints them among the failing rows, by severity."""
    lines = render_table(new).splitlines()
    assert [line.split()[0] for line in lines[1:5]] == ["stark", "acme", "globex", "initech"]
    assert lines[2].split()[1] == "ARCHIVED"
    assert lines[-1].startswith("6 of 13 tenants failing (1 ERROR, 1 ARCHIVED, 1 CORRUPT, ")


def test_the_status_page_shows_unknown_statuses_by_name_as_failing(new: Report) -> None:
    """Cells and pills of their own class and colour, a legend chip each, failing in the data
    the script reads, and sorted with the failing rows."""
    html = render_status_page([read("v2.json"), new])
    page = parse(html)
    assert page.names()[:3] == ["stark", "acme", "globex"]
    assert page.row("globex").classes() == ["stale", "nd", UNKNOWN_CLASS]
    assert page.row("acme").classes() == ["ok", "nd", UNKNOWN_CLASS]
    assert page.row("globex").pill["class"] == f"pill {UNKNOWN_CLASS}"
    assert page.row("acme").pill["title"] == "failing"
    assert page.row("acme").attrs["data-s"] == "ARCHIVED"
    assert page.row("acme").attrs.get("class") == "f"
    assert page.chips["CORRUPT"] == page.chips["ARCHIVED"] == "1"
    assert f".{UNKNOWN_CLASS}{{--c:{UNKNOWN_COLOUR}}}" in html
    assert "6</b> of 13 failing" in html
    data = page.data
    assert data["status"] == [*(s.value for s in Status), "ARCHIVED", "CORRUPT"]
    assert data["failing"] == [*(int(s.failing) for s in Status), 1, 1]


def test_the_status_page_renders_unknown_statuses_of_older_days(new: Report) -> None:
    """An unknown status only in an older report still gets its cells; the legend is the
    latest report's, so it has no chip for it."""
    later = read("v2.json").model_copy(
        update={"generated_at": new.generated_at + timedelta(days=1)}
    )
    page = parse(render_status_page([new, later]))
    assert page.row("globex").classes() == [UNKNOWN_CLASS, "stale"]
    assert "CORRUPT" not in page.chips
    data = page.data
    assert isinstance(data["status"], list)
    assert "CORRUPT" in data["status"]


def test_a_page_without_unknown_statuses_is_as_before() -> None:
    """No unknown status, no change: the data island lists the members, in their order."""
    page = parse(render_status_page([read("v2.json")]))
    assert page.data["status"] == [s.value for s in Status]
    assert set(page.chips) == {s.value for s in Status}
