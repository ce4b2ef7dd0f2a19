"""The report JSON as a versioned contract: every version is read, newer ones leniently.

The fixtures in tests/fixtures/reports/ (their README says how each was made) are read through
every reader: ``Report.from_json``, the archive on moto S3, the fan-out's inline reports and
``backupwatch report --from``. Unknown statuses have their own file (test_unknown_status.py).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from backupwatch import Retrier
from backupwatch.aws.archive import (
    ArchiveIndex,
    IndexedRun,
    index_key,
    load_history,
    previous_report,
    read_index,
    recent_reports,
    report_key,
    write_run,
)
from backupwatch.aws.clients import s3_client
from backupwatch.cli.main import main
from backupwatch.core.changes import compare
from backupwatch.core.fanout import read_output
from backupwatch.core.models import (
    READING,
    SCHEMA_VERSION,
    Check,
    CheckResult,
    RegionError,
    Report,
    Scope,
    Status,
    Summary,
    TenantReport,
)
from backupwatch.core.status_page import render_status_page

from .conftest import REGION, World
from .test_status_page import parse

FIXTURES = Path(__file__).parent / "fixtures" / "reports"
V1, V2 = "v1.json", "v2.json"
EXTRA_FIELDS, NEW_STATUS = "v3-extra-fields.json", "v3-new-status.json"
REPORTS = (V1, V2, EXTRA_FIELDS, NEW_STATUS)
ARCHIVE, PREFIX = "backupwatch-reports", "backupwatch/"

EXTRA_NAMES = {
    "top": ("run_id", "producer", "annotations"),
    "row": ("owner", "tags"),
    "check": ("checksum_verified", "evidence"),
    "region_error": ("first_seen", "retryable"),
    "summary": ("by_check", "duration_seconds"),
}
"""The fields v3-extra-fields.json has that this version does not know, by level."""


def text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def document(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(text(name))
    return loaded


def read(name: str) -> Report:
    return Report.from_json(text(name))


def without_extras(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with the fields of ``EXTRA_NAMES`` removed at every level (a copy)."""

    def strip(part: dict[str, Any], level: str) -> dict[str, Any]:
        return {k: v for k, v in part.items() if k not in EXTRA_NAMES[level]}

    out = strip(doc, "top")
    out["summary"] = strip(out["summary"], "summary")
    out["region_errors"] = [strip(e, "region_error") for e in out["region_errors"]]
    out["tenants"] = [
        {**strip(r, "row"), "checks": {k: strip(c, "check") for k, c in r["checks"].items()}}
        for r in out["tenants"]
    ]
    return out


# --- Report.from_json: every version --------------------------------------------------------


@pytest.mark.parametrize("name", REPORTS)
def test_every_fixture_is_read_as_a_report_of_this_version(name: str) -> None:
    """Versions 1, 2 and 3 (with more fields, with new statuses) are all read, none refused,
    and what is read is a report of this version."""
    report = read(name)
    assert len(report.tenants) == 13
    assert report.schema_version == SCHEMA_VERSION == 2
    assert Report.from_json(report.to_json()) == report


def test_a_report_without_schema_version_is_version_1() -> None:
    """The v1 fixture is what the code before ``schema_version`` wrote: no such field."""
    assert "schema_version" not in document(V1)
    assert document(V2)["schema_version"] == 2


ADDED_IN_2 = {"notes": []}
"""Fields of a check result that version 2 added, with the value a version-1 report reads as
(what its check could not verify: nothing was recorded). Version 2 also added the status
``SUSPECT``, which the recomputed summary counts."""
ADDED_STATUSES = ("SUSPECT", "NONCOMPLIANT")
"""Statuses added since version 1, which the recomputed summary counts (zero in the
fixtures, written before they existed): ``SUSPECT`` with version 2, ``NONCOMPLIANT`` later,
within version 2 (a reader that does not know it reads it as an unknown status, failing)."""


def _without_added_fields(written: str) -> str:
    document = json.loads(written)
    for row in document["tenants"]:
        for result in row["checks"].values():
            for name, default in ADDED_IN_2.items():
                assert result.pop(name) == default
            assert "deferred_to" not in result  # written only when set
    # The summary counts every status this version knows, in severity order.
    by_status = document["summary"]["by_status"]
    assert list(by_status) == [status.value for status in Status]
    for name in ADDED_STATUSES:
        assert by_status.pop(name) == 0
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _counting_noncompliant(written_before: str) -> str:
    """What this version writes for a report written before ``NONCOMPLIANT`` existed: the same
    text, with the status counted (zero) between ``EMPTY`` and ``STOPPED`` in the summary."""
    pattern = re.compile(r'(\n( +)"EMPTY": \d+,)(\n +"STOPPED": )')
    rewritten, found = pattern.subn(r'\1\n\2"NONCOMPLIANT": 0,\3', written_before)
    assert found == 1
    return rewritten


def test_the_v1_fixture_written_again_is_itself_plus_schema_version() -> None:
    """Byte for byte: reading a version-1 report and writing it adds ``schema_version`` first,
    the fields version 2 added with their defaults and the statuses added since (counted
    zero), and changes nothing else (no field renamed, reordered, reformatted or dropped)."""
    original = text(V1)
    rewritten = _without_added_fields(read(V1).to_json(indent=2))
    assert rewritten == '{\n  "schema_version": 2,' + original.removeprefix("{")
    assert {**document(V1), "schema_version": 2} == json.loads(rewritten)


def test_a_version_2_report_written_again_only_gains_the_new_status_count() -> None:
    """Byte for byte: the v2 fixture (written before ``NONCOMPLIANT``), read and written again,
    is the same text plus ``"NONCOMPLIANT": 0`` between ``EMPTY`` and ``STOPPED`` in the
    summary; nothing else changes (no ``deferred_to`` appears: it is written only when set)."""
    written = read(V2).to_json(indent=2) + "\n"
    assert written == _counting_noncompliant(text(V2))
    assert '"deferred_to"' not in written
    by_status = json.loads(written)["summary"]["by_status"]
    assert list(by_status) == [status.value for status in Status]
    assert by_status["NONCOMPLIANT"] == 0


def test_a_report_of_this_version_round_trips_byte_for_byte() -> None:
    """The current writer's output, read and written again, is the same text."""
    written = read(V2).to_json(indent=2)
    assert Report.from_json(written).to_json(indent=2) == written
    assert Report.from_json(written) == read(V2)


def test_schema_version_comes_first() -> None:
    """Readers that branch on the version find it first, compact or indented."""
    report = read(V1)
    for written in (report.to_json(), report.to_json(indent=2)):
        assert next(iter(json.loads(written))) == "schema_version"
    assert report.to_json().startswith('{"schema_version":2,')


@pytest.mark.parametrize("version", [1, 3, 4, 99, 10**6])
def test_any_version_is_read_and_written_as_this_one(version: int) -> None:
    """A newer (or older) ``schema_version`` is never a reason to refuse a report; written
    again it says 2, because fields it did not know were dropped on the way in."""
    doc = {**document(V2), "schema_version": version}
    report = Report.from_json(json.dumps(doc))
    assert report == read(V2)
    assert json.loads(report.to_json())["schema_version"] == 2


@pytest.mark.parametrize("version", ["2", 0, -1, True, 2.5, None, [2]])
def test_a_schema_version_that_is_no_version_is_refused(version: object) -> None:
    """Lenient is not blind: a ``schema_version`` that is not a positive integer means the
    document is not a backupwatch report."""
    doc = {**document(V2), "schema_version": version}
    with pytest.raises(ValidationError, match="schema_version"):
        Report.from_json(json.dumps(doc))


@pytest.mark.parametrize("version", [1, 3])
def test_building_a_report_of_another_version_in_code_raises(version: int) -> None:
    """In code, a report is of this version: ``schema_version`` cannot be set to another."""
    report = read(V2)
    with pytest.raises(ValidationError, match="schema_version"):
        Report(**{**report.model_dump(exclude={"summary"}), "schema_version": version})


# --- unknown fields ---------------------------------------------------------------------------


def test_unknown_fields_at_every_level_are_ignored_on_read() -> None:
    """The v3 fixture's extra fields (top level, rows, check results, their evidence, region
    errors, summary) are dropped: the report is the one without them."""
    doc = document(EXTRA_FIELDS)
    for level, names in EXTRA_NAMES.items():
        assert names, level
    assert all(name in doc for name in EXTRA_NAMES["top"])
    report = Report.from_json(json.dumps(doc))
    assert report == Report.from_json(json.dumps(without_extras(doc)))
    written = report.to_json()
    for names in EXTRA_NAMES.values():
        for name in names:
            assert f'"{name}"' not in written
    assert report.region_errors == (
        RegionError(region="eu-central-1", reason="rds:DescribeDBInstances failed: AccessDenied"),
    )


def test_the_newer_summary_is_ignored_and_recomputed() -> None:
    """The summary a newer writer wrote (with its own extra counts) is never trusted."""
    doc = document(EXTRA_FIELDS)
    doc["summary"] = {"tenants": 1, "failing": 0, "something": "else"}
    report = Report.from_json(json.dumps(doc))
    assert report.summary.tenants == 13
    assert report.summary.failing == 5
    assert report.summary.regions_failed == 1


def _with_extra(level: str) -> dict[str, Any]:
    doc = document(V2)
    if level == "top":
        doc["colour"] = "red"
    elif level == "row":
        doc["tenants"][0]["colour"] = "red"
    elif level == "check":
        doc["tenants"][0]["checks"]["rds"]["colour"] = "red"
    elif level == "region_error":
        doc["region_errors"] = [{"region": "eu-central-1", "reason": "x", "colour": "red"}]
    else:
        doc["summary"]["colour"] = "red"
    return doc


LEVELS = ("top", "row", "check", "region_error", "summary")


@pytest.mark.parametrize("level", LEVELS)
def test_an_unknown_field_is_read_by_from_json(level: str) -> None:
    """At any level, ``from_json`` reads a report with a field it does not know."""
    assert "colour" not in Report.from_json(json.dumps(_with_extra(level))).to_json()


@pytest.mark.parametrize("level", [lvl for lvl in LEVELS if lvl != "summary"])
def test_an_unknown_field_still_fails_strict_validation(level: str) -> None:
    """Without the reading context the models are as strict as ever (the summary is derived,
    so it is dropped whole in both modes)."""
    with pytest.raises(ValidationError, match="colour"):
        Report.model_validate_json(json.dumps(_with_extra(level)))
    with pytest.raises(ValidationError, match="colour"):
        Report.model_validate(_with_extra(level))


def test_building_any_report_model_with_an_unknown_field_raises() -> None:
    """A typo in our own code still fails, at every level of the report."""
    when = read(V2).generated_at
    builders: list[tuple[type[Any], dict[str, Any]]] = [
        (Report, {"generated_at": when, "regions": (), "checks": (), "tenants": ()}),
        (
            TenantReport,
            {
                "tenant": "a",
                "db_instance_identifier": "db-a",
                "region": REGION,
                "status": Status.OK,
                "reason": "fine",
            },
        ),
        (CheckResult, {"check": Check.RDS, "status": Status.OK, "reason": "fine"}),
        (RegionError, {"region": REGION, "reason": "denied"}),
        (Summary, {"tenants": 0, "failing": 0, "by_status": {}, "regions_failed": 0}),
    ]
    for model, fields in builders:
        model(**fields)  # the fields alone are fine
        with pytest.raises(ValidationError, match="colour"):
            model(**fields, colour="red")
        with pytest.raises(ValidationError, match="colour"):
            model.model_validate({**fields, "colour": "red"})


def test_a_document_that_is_not_a_report_is_still_refused() -> None:
    """Lenient reading never turns garbage into a half report: a required field missing or
    of the wrong type still raises."""
    doc = document(V2)
    del doc["tenants"]
    with pytest.raises(ValidationError, match="tenants"):
        Report.from_json(json.dumps(doc))
    doc = document(V2)
    doc["tenants"][0]["failing"] = "perhaps"
    with pytest.raises(ValidationError, match="failing"):
        Report.from_json(json.dumps(doc))
    with pytest.raises(ValidationError):
        Report.from_json('{"not": "a report"}')


# --- the other readers ------------------------------------------------------------------------


def test_a_newer_scan_result_is_read_by_the_fan_out() -> None:
    """A scan Lambda newer than the publish step (mid-deploy): its inline report, with new
    fields and statuses, is read, not turned into a failed scope; the scope stays strict."""
    scope = Scope(region=REGION).model_dump(mode="json")
    for name in REPORTS:
        received = read_output({"scope": scope, "report": document(name)})
        assert received.failure is None, received.failure
        assert received.report == read(name)
    bad_scope = {**scope, "colour": "red"}
    assert read_output({"scope": bad_scope, "report": document(V2)}).failure is not None


def test_the_reading_context_is_what_from_json_uses() -> None:
    """``READING`` is public so that a model holding a report (``ScanResult``) can read it the
    same way; with it, ``model_validate_json`` is ``from_json``."""
    for name in REPORTS:
        assert Report.model_validate_json(text(name), context=READING) == read(name)


@pytest.fixture
def s3(world: World) -> Any:
    world.bucket(ARCHIVE)
    return s3_client(world.session, REGION)


def _put(s3: Any, key: str, body: str) -> None:
    s3.put_object(Bucket=ARCHIVE, Key=key, Body=body.encode(), ContentType="application/json")


def test_an_archive_written_before_schema_version_is_read_and_extended(
    s3: Any, retrier: Retrier
) -> None:
    """The v1 report and the index exactly as the code before this change wrote them: read,
    compared with, and extended by a run of this version."""
    v1 = read(V1)
    index_text = text("index-v1.json")
    [run] = json.loads(index_text)["runs"]
    _put(s3, run["key"], text(V1))
    _put(s3, index_key(PREFIX), index_text)

    assert previous_report(s3, retrier, bucket=ARCHIVE, prefix=PREFIX) == v1
    assert recent_reports(s3, retrier, bucket=ARCHIVE, prefix=PREFIX) == [v1]
    current = read(V2)
    history = load_history(s3, retrier, bucket=ARCHIVE, prefix=PREFIX, before=current.generated_at)
    assert history.problem is None
    assert history.previous == v1
    assert history.index is not None

    changes = compare(history.previous, current, failing_since=history.index.streaks)
    assert {c.row.tenant for c in changes.still_failing} == {
        "globex",
        "initech",
        "umbrella",
        "hooli",
        "stark",
    }
    assert all(c.since == v1.generated_at for c in changes.still_failing)
    archived = write_run(
        s3,
        retrier,
        current,
        bucket=ARCHIVE,
        prefix=PREFIX,
        index=history.index,
        streaks=changes.failing_since,
    )
    assert archived.error is None
    assert archived.index_error is None
    body = s3.get_object(Bucket=ARCHIVE, Key=archived.key)["Body"].read().decode()
    assert body.startswith('{"schema_version":2,')
    index = read_index(s3, retrier, bucket=ARCHIVE, prefix=PREFIX)
    assert index is not None
    assert index.version == 1  # the index keeps its own version
    assert [r.key for r in index.runs] == [run["key"], archived.key]
    assert recent_reports(s3, retrier, bucket=ARCHIVE, prefix=PREFIX) == [v1, current]


def test_the_archive_reads_every_version(s3: Any, retrier: Retrier) -> None:
    """Reports of versions 1, 2 and 3 side by side in one archive: the last days, the previous
    report and the history all read them, and the status page renders them."""
    index: ArchiveIndex | None = None
    for name in REPORTS:
        report = read(name)
        key = report_key(PREFIX, report.generated_at)
        _put(s3, key, text(name))  # as written, not as this version would write them
        index = (index or ArchiveIndex(updated_at=report.generated_at)).with_run(
            IndexedRun.of(report, key), {}
        )
    assert index is not None
    _put(s3, index_key(PREFIX), index.model_dump_json())

    expected = [read(name) for name in REPORTS]
    assert recent_reports(s3, retrier, bucket=ARCHIVE, prefix=PREFIX) == expected
    newest = previous_report(s3, retrier, bucket=ARCHIVE, prefix=PREFIX)
    assert newest == expected[-1]
    assert newest is not None
    assert "CORRUPT" in {row.status.value for row in newest.tenants}
    history = load_history(
        s3, retrier, bucket=ARCHIVE, prefix=PREFIX, before=datetime(2026, 12, 1, tzinfo=UTC)
    )
    assert history.problem is None
    assert history.previous == expected[-1]
    page = parse(render_status_page(expected))
    assert page.row("globex").classes() == ["stale", "stale", "stale", "ux"]


# --- backupwatch report --from ----------------------------------------------------------------


@pytest.mark.parametrize("name", REPORTS)
def test_report_from_reads_every_version(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``backupwatch report --html OUT --from FILE``: no report of any version is "not a
    backupwatch report"."""
    out = tmp_path / "status.html"
    assert main(["report", "--html", str(out), "--from", str(FIXTURES / name)]) == 0
    assert "not a backupwatch report" not in capsys.readouterr().err
    assert len(parse(out.read_text(encoding="utf-8")).rows) == 13


def test_report_from_reads_all_versions_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Four days from four versions: one page, the newer writer's statuses shown by name."""
    out = tmp_path / "status.html"
    files = [str(FIXTURES / name) for name in REPORTS]
    assert main(["report", "--html", str(out), "--from", *files]) == 0
    assert "13 tenants, 4 daily reports" in capsys.readouterr().out
    page = parse(out.read_text(encoding="utf-8"))
    assert page.row("acme").classes() == ["ok", "ok", "ok", "ux"]
    assert page.row("acme").pill["title"] == "failing"
    assert page.chips["CORRUPT"] == "1"
    assert page.chips["ARCHIVED"] == "1"
