"""The report archive on moto S3: dated keys, the index, O(1) reads, and every way it breaks."""

from __future__ import annotations

import gzip
import json
import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

import backupwatch.pipeline.daily as _pipeline
from backupwatch import (
    AwsCallError,
    Retrier,
    StatusPageRenderer,
    load_settings,
    render_status_page,
    run_daily,
)
from backupwatch.aws.archive import (
    INDEX_DAYS,
    MAX_RUNS,
    ArchiveIndex,
    IndexedRun,
    daily_runs,
    day_summary_key,
    earlier_days,
    index_key,
    load_history,
    previous_report,
    read_index,
    recent_reports,
    report_key,
    status_page_key,
    write_run,
)
from backupwatch.aws.clients import s3_client
from backupwatch.core.changes import compare
from backupwatch.core.day_summary import AnyDay, DaySummary, DaySummaryReader
from backupwatch.core.models import Check, Report, Status, TenantReport

from .conftest import DENIED, NOW, REGION, Faults, World, env_for, hours_ago

ARCHIVE = "backupwatch-reports"
PREFIX = "backupwatch/"


def row(name: str, status: Status = Status.OK, *, account: str | None = None) -> TenantReport:
    return TenantReport(
        tenant=name,
        db_instance_identifier=f"db-{name}",
        region=REGION,
        account_id=account,
        status=status,
        reason=f"{name} is {status.value}",
    )


def report(at: datetime, *rows: TenantReport) -> Report:
    return Report(generated_at=at, regions=(REGION,), checks=(Check.RDS,), tenants=rows)


class S3Calls:
    """Counts the S3 operations a client makes (a botocore ``before-call`` hook)."""

    def __init__(self, s3: Any) -> None:
        self.counts: Counter[str] = Counter()
        s3.meta.events.register("before-call.s3", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.counts[model.name] += 1

    def reset(self) -> None:
        self.counts.clear()

    @property
    def listings(self) -> int:
        return sum(n for name, n in self.counts.items() if name.startswith("List"))


@pytest.fixture
def s3(world: World) -> Any:
    world.bucket(ARCHIVE)
    return s3_client(world.session, REGION)


@pytest.fixture
def calls(s3: Any) -> S3Calls:
    return S3Calls(s3)


def archive_run(s3: Any, retrier: Retrier, current: Report) -> Any:
    """What a run does: read the history, compare, write the report and the index."""
    history = load_history(s3, retrier, bucket=ARCHIVE, prefix=PREFIX, before=current.generated_at)
    streaks = history.index.streaks if history.index else None
    changes = compare(history.previous, current, failing_since=streaks)
    return write_run(
        s3,
        retrier,
        current,
        bucket=ARCHIVE,
        prefix=PREFIX,
        index=history.index,
        streaks=changes.failing_since,
        update_index=history.index_writable,
    )


def stored(s3: Any, key: str) -> Any:
    return s3.get_object(Bucket=ARCHIVE, Key=key)


# --- layout and the index -----------------------------------------------------------------------


def test_run_writes_a_dated_report_and_the_index(s3: Any, retrier: Retrier) -> None:
    """A run puts its report under reports/YYYY/MM/DD/HHMMSSZ.json and names it in the index."""
    current = report(NOW, row("a"), row("b", Status.STALE))
    archived = archive_run(s3, retrier, current)
    assert archived.key == "backupwatch/reports/2026/11/27/070000Z.json" == report_key(PREFIX, NOW)
    assert (archived.error, archived.index_error) == (None, None)
    written = stored(s3, archived.key)
    assert written["ContentType"] == "application/json"
    assert Report.from_json(written["Body"].read()) == current
    index = ArchiveIndex.model_validate_json(stored(s3, index_key(PREFIX))["Body"].read())
    assert index.runs == (
        IndexedRun(key=archived.key, generated_at=NOW, tenants=2, failing=1, regions_failed=0),
    )
    assert index.failing_since == {f"|{REGION}|instance|db-b": NOW}
    assert index.updated_at == NOW


def test_index_accumulates_runs_and_streaks(s3: Any, retrier: Retrier) -> None:
    """Three daily runs: the index lists them oldest first and keeps the streak's first day."""
    for days_ago in (2, 1, 0):
        archive_run(s3, retrier, report(NOW - timedelta(days=days_ago), row("b", Status.STALE)))
    index = read_index(s3, retrier, bucket=ARCHIVE, prefix=PREFIX)
    assert index is not None
    assert [r.generated_at for r in index.runs] == [NOW - timedelta(days=d) for d in (2, 1, 0)]
    assert index.streaks == {("", REGION, "instance", "db-b"): NOW - timedelta(days=2)}


def test_index_is_bounded_in_days_and_runs() -> None:
    """Runs older than INDEX_DAYS leave the index, and at most MAX_RUNS stay."""
    index = ArchiveIndex(updated_at=NOW)
    for days_ago in range(INDEX_DAYS + 20, -1, -1):
        at = NOW - timedelta(days=days_ago)
        index = index.with_run(
            IndexedRun(key=f"k{days_ago}", generated_at=at, tenants=1, failing=0), {}
        )
    assert len(index.runs) == INDEX_DAYS + 1
    assert index.runs[0].generated_at == NOW - timedelta(days=INDEX_DAYS)
    for minute in range(MAX_RUNS + 50):
        at = NOW + timedelta(minutes=minute + 1)
        index = index.with_run(
            IndexedRun(key=f"m{minute}", generated_at=at, tenants=1, failing=0), {}
        )
    assert len(index.runs) == MAX_RUNS
    assert index.runs[-1].key == f"m{MAX_RUNS + 49}"


def test_index_replaces_a_rerun_of_the_same_second() -> None:
    """A run written twice under one key is one index entry, the newer counts."""
    first = IndexedRun(key="k", generated_at=NOW, tenants=1, failing=1)
    again = IndexedRun(key="k", generated_at=NOW, tenants=1, failing=0)
    index = ArchiveIndex(updated_at=NOW).with_run(first, {}).with_run(again, {})
    assert index.runs == (again,)


def test_index_for_a_thousand_failing_tenants_stays_small() -> None:
    """1,000 failing tenants in three accounts and 92 days of runs: under 100 KB of JSON."""
    streaks = {
        (f"{100000000000 + i % 3}", "eu-west-1", "instance", f"tenant-db-{i:05d}"): NOW
        for i in range(1000)
    }
    index = ArchiveIndex(updated_at=NOW)
    for days_ago in range(INDEX_DAYS, -1, -1):
        at = NOW - timedelta(days=days_ago)
        run = IndexedRun(key=report_key(PREFIX, at), generated_at=at, tenants=1000, failing=1000)
        index = index.with_run(run, streaks)
    size = len(index.model_dump_json().encode())
    assert size < 100_000, size
    assert ArchiveIndex.model_validate_json(index.model_dump_json()) == index


def test_malformed_streak_key_is_not_an_index() -> None:
    """A failing_since key that is not account|region|kind|identifier fails validation."""
    with pytest.raises(ValidationError, match="account\\|region\\|kind\\|identifier"):
        ArchiveIndex(updated_at=NOW, failing_since={"db-a": NOW})


# --- day summaries ------------------------------------------------------------------------------


def test_a_run_writes_its_day_summary_beside_the_report(s3: Any, retrier: Retrier) -> None:
    """``...070000Z.day.json.gz`` beside ``...070000Z.json``: gzip JSON, labelled so, which
    reads back to the report's summary; under ``reports/``, so the lifecycle expires both."""
    current = report(NOW, row("a"), row("b", Status.STALE))
    archived = archive_run(s3, retrier, current)
    key = day_summary_key(archived.key)
    assert key == "backupwatch/reports/2026/11/27/070000Z.day.json.gz"
    written = stored(s3, key)
    assert (written["ContentType"], written["ContentEncoding"]) == ("application/json", "gzip")
    assert DaySummaryReader().read(written["Body"].read()) == DaySummary.of(current)


def seed(s3: Any, retrier: Retrier, days: int) -> list[Report]:
    """``days`` daily runs before NOW's day, oldest first, through ``write_run``."""
    reports = [
        report(NOW - timedelta(days=d), row("a"), row("b", Status.STALE if d % 2 else Status.OK))
        for d in range(days, 0, -1)
    ]
    for one in reports:
        archive_run(s3, retrier, one)
    return reports


def days_before_now(s3: Any, retrier: Retrier, **extra: Any) -> list[DaySummary]:
    index = read_index(s3, retrier, bucket=ARCHIVE, prefix=PREFIX)
    return earlier_days(s3, retrier, index, bucket=ARCHIVE, days=30, now=NOW, **extra)


def test_earlier_days_are_one_summary_get_per_day(
    s3: Any, retrier: Retrier, calls: S3Calls
) -> None:
    """Five earlier days: five GETs, of summaries, equal to the reports' summaries; a report
    the run holds already (the previous one) costs none."""
    reports = seed(s3, retrier, 5)
    calls.reset()
    days = days_before_now(s3, retrier)
    assert days == [DaySummary.of(r) for r in reports]
    assert calls.counts == {"GetObject": 1 + 5}
    calls.reset()
    known = {report_key(PREFIX, reports[-1].generated_at): reports[-1]}
    assert days_before_now(s3, retrier, known=known) == days
    assert calls.counts == {"GetObject": 1 + 4}
    assert calls.listings == 0


def test_an_archive_older_than_summaries_is_read_from_its_reports(
    s3: Any, retrier: Retrier, calls: S3Calls, caplog: pytest.LogCaptureFixture
) -> None:
    """Days archived before summaries existed (no summary), a corrupt summary and a newer
    version's: each day read from its report instead (a second GET), the same summaries."""
    reports = seed(s3, retrier, 4)
    keys = [day_summary_key(report_key(PREFIX, r.generated_at)) for r in reports]
    s3.delete_object(Bucket=ARCHIVE, Key=keys[0])
    s3.delete_object(Bucket=ARCHIVE, Key=keys[1])
    s3.put_object(Bucket=ARCHIVE, Key=keys[2], Body=b"\x1f\x8b not gzip")
    newer = json.loads(DaySummary.of(reports[3]).to_json()) | {"version": 2}
    s3.put_object(Bucket=ARCHIVE, Key=keys[3], Body=json.dumps(newer).encode())
    calls.reset()
    with caplog.at_level(logging.INFO, logger="backupwatch"):
        assert days_before_now(s3, retrier) == [DaySummary.of(r) for r in reports]
    assert calls.counts == {"GetObject": 1 + 4 * 2}
    assert f"day summary s3://{ARCHIVE}/{keys[2]} not read (not gzip" in caplog.text
    assert "version 2, not 1" in caplog.text


def test_a_day_whose_report_is_gone_too_is_left_out(s3: Any, retrier: Retrier) -> None:
    """Expired (both objects gone): the day is missing from the page, never an error."""
    reports = seed(s3, retrier, 3)
    gone = report_key(PREFIX, reports[1].generated_at)
    s3.delete_object(Bucket=ARCHIVE, Key=gone)
    s3.delete_object(Bucket=ARCHIVE, Key=day_summary_key(gone))
    assert days_before_now(s3, retrier) == [DaySummary.of(reports[0]), DaySummary.of(reports[2])]


def test_a_denied_summary_read_raises(s3: Any, retrier: Retrier, faults: Faults) -> None:
    """AccessDenied on a summary is not "no summary": it raises, as a denied report does (the
    run's status page then says why it was not written)."""
    seed(s3, retrier, 2)
    faults.inject(
        "s3", "GetObject", DENIED, when=lambda params: params["Key"].endswith(".day.json.gz")
    )
    denied = s3_client(faults.session, REGION)  # built after the Faults: its calls are faulted
    with pytest.raises(AwsCallError, match="AccessDenied"):
        days_before_now(denied, retrier)


def test_a_summary_that_cannot_be_written_costs_only_a_log_line(
    s3: Any, retrier: Retrier, faults: Faults, caplog: pytest.LogCaptureFixture
) -> None:
    """The report and the index are written all the same, the digest has nothing to say, and
    the day is read from its report later."""
    faults.inject(
        "s3", "PutObject", DENIED, when=lambda params: params["Key"].endswith(".day.json.gz")
    )
    denied = s3_client(faults.session, REGION)
    current = report(NOW - timedelta(days=1), row("a"))
    archived = archive_run(denied, retrier, current)
    assert (archived.error, archived.index_error) == (None, None)
    assert "could not write the day summary" in caplog.text
    assert "(its report is read instead): s3:PutObject failed: AccessDenied" in caplog.text
    assert read_index(s3, retrier, bucket=ARCHIVE, prefix=PREFIX) is not None
    assert days_before_now(s3, retrier) == [DaySummary.of(current)]


def test_the_page_is_the_same_with_or_without_summaries(world: World, retrier: Retrier) -> None:
    """The daily run's status page, from an archive of summaries, is the page drawn from the
    same archive with every summary deleted (as written before they existed)."""
    topic = pipeline_world(world)
    seeding = s3_client(world.session, REGION)
    seeded = [
        report(NOW - timedelta(days=d), row("ok"), row("old", Status.STALE if d > 2 else Status.OK))
        for d in range(6, 0, -1)
    ]
    for one in seeded:
        archive_run(seeding, retrier, one)
    run_at(world, retrier, topic, NOW)
    page = stored(seeding, status_page_key(PREFIX))["Body"].read()
    for one in seeded:
        seeding.delete_object(
            Bucket=ARCHIVE, Key=day_summary_key(report_key(PREFIX, one.generated_at))
        )
    run_at(world, retrier, topic, NOW)
    assert stored(seeding, status_page_key(PREFIX))["Body"].read() == page
    assert b"class=news>" in page


# --- O(1) reads ---------------------------------------------------------------------------------


def test_previous_report_is_two_gets_and_never_a_listing(
    s3: Any, retrier: Retrier, calls: S3Calls
) -> None:
    """With 40 runs archived, the previous report costs the index plus one report: 2 GETs."""
    for days_ago in range(40, 0, -1):
        archive_run(s3, retrier, report(NOW - timedelta(days=days_ago), row(f"t{days_ago}")))
    calls.reset()
    found = previous_report(s3, retrier, bucket=ARCHIVE, prefix=PREFIX)
    assert found is not None
    assert found.generated_at == NOW - timedelta(days=1)
    assert calls.counts == {"GetObject": 2}
    assert calls.listings == 0


def test_no_index_yet_means_no_previous_report(s3: Any, retrier: Retrier, calls: S3Calls) -> None:
    """An empty archive: previous_report is None after one GET, recent_reports empty."""
    assert previous_report(s3, retrier, bucket=ARCHIVE, prefix=PREFIX) is None
    assert recent_reports(s3, retrier, bucket=ARCHIVE, prefix=PREFIX) == []
    assert calls.counts == {"GetObject": 2}
    history = load_history(s3, retrier, bucket=ARCHIVE, prefix=PREFIX)
    assert history.problem == f"first run: no earlier report in s3://{ARCHIVE}/{PREFIX}"
    assert history.index_writable


def test_recent_reports_are_one_per_day_oldest_first_in_at_most_days_gets(
    s3: Any, retrier: Retrier, calls: S3Calls
) -> None:
    """40 days with two runs each: the last 30 days' last runs, oldest first, 1 + 30 GETs."""
    for days_ago in range(39, -1, -1):
        day = NOW - timedelta(days=days_ago)
        archive_run(s3, retrier, report(day - timedelta(hours=3), row("early")))
        archive_run(s3, retrier, report(day, row("late")))
    calls.reset()
    reports = recent_reports(s3, retrier, bucket=ARCHIVE, prefix=PREFIX, days=30, now=NOW)
    assert [r.generated_at for r in reports] == [NOW - timedelta(days=d) for d in range(29, -1, -1)]
    assert {r.tenants[0].tenant for r in reports} == {"late"}
    assert calls.counts == {"GetObject": 31}
    assert calls.listings == 0


def test_recent_reports_defaults_to_the_archives_last_day(s3: Any, retrier: Retrier) -> None:
    """Without ``now``, the window ends on the newest run's day (no clock is read)."""
    for days_ago in (10, 9, 8):
        archive_run(s3, retrier, report(NOW - timedelta(days=days_ago), row("a")))
    reports = recent_reports(s3, retrier, bucket=ARCHIVE, prefix=PREFIX, days=2)
    assert [r.generated_at for r in reports] == [NOW - timedelta(days=d) for d in (9, 8)]


def test_daily_runs_skips_days_without_a_run_and_runs_after_now() -> None:
    """daily_runs: the last run per UTC day inside the window, nothing from the future."""
    runs = [
        IndexedRun(key=str(h), generated_at=hours_ago(h), tenants=0, failing=0)
        for h in (-5, 1, 3, 30, 24 * 9)
    ]
    chosen = daily_runs(runs, days=3, now=NOW)
    assert [r.key for r in chosen] == ["30", "1"]


# --- expired and missing reports -----------------------------------------------------------------


def test_expired_reports_are_skipped_not_fatal(s3: Any, retrier: Retrier) -> None:
    """Reports the index names but the lifecycle deleted are left out of recent_reports."""
    keys = [
        archive_run(s3, retrier, report(NOW - timedelta(days=d), row("a"))).key for d in (3, 2, 1)
    ]
    s3.delete_object(Bucket=ARCHIVE, Key=keys[0])
    reports = recent_reports(s3, retrier, bucket=ARCHIVE, prefix=PREFIX, now=NOW)
    assert [r.generated_at for r in reports] == [NOW - timedelta(days=2), NOW - timedelta(days=1)]


def test_missing_newest_report_falls_back_to_the_one_before(
    s3: Any, retrier: Retrier, calls: S3Calls
) -> None:
    """The newest report deleted: previous_report is the one before it, in 3 GETs."""
    keys = [
        archive_run(s3, retrier, report(NOW - timedelta(days=d), row("a"))).key for d in (3, 2, 1)
    ]
    s3.delete_object(Bucket=ARCHIVE, Key=keys[-1])
    calls.reset()
    found = previous_report(s3, retrier, bucket=ARCHIVE, prefix=PREFIX)
    assert found is not None
    assert found.generated_at == NOW - timedelta(days=2)
    assert calls.counts == {"GetObject": 3}


def test_all_recent_reports_missing_is_no_previous_report_with_a_reason(
    s3: Any, retrier: Retrier, calls: S3Calls
) -> None:
    """Every report gone: None from previous_report after a bounded number of GETs, and the
    history says which report is gone."""
    keys = [
        archive_run(s3, retrier, report(NOW - timedelta(days=d), row("a"))).key
        for d in range(5, 0, -1)
    ]
    for key in keys:
        s3.delete_object(Bucket=ARCHIVE, Key=key)
    calls.reset()
    assert previous_report(s3, retrier, bucket=ARCHIVE, prefix=PREFIX) is None
    assert calls.counts == {"GetObject": 4}  # the index, then 3 reports
    history = load_history(s3, retrier, bucket=ARCHIVE, prefix=PREFIX, before=NOW)
    assert (
        history.problem
        == f"the previous report s3://{ARCHIVE}/{keys[-1]} is gone (expired or deleted)"
    )
    assert history.index is not None
    assert history.index_writable


def test_report_that_is_not_a_report_is_skipped(s3: Any, retrier: Retrier) -> None:
    """A garbled archived report is skipped (with a warning), the one before it used."""
    keys = [archive_run(s3, retrier, report(NOW - timedelta(days=d), row("a"))).key for d in (2, 1)]
    s3.put_object(Bucket=ARCHIVE, Key=keys[-1], Body=b"{not json")
    found = previous_report(s3, retrier, bucket=ARCHIVE, prefix=PREFIX)
    assert found is not None
    assert found.generated_at == NOW - timedelta(days=2)


# --- corrupt, unreadable, newer indexes ---------------------------------------------------------


def test_corrupt_index_is_replaced_with_a_warning(
    s3: Any, retrier: Retrier, caplog: pytest.LogCaptureFixture
) -> None:
    """A corrupt index: readers raise ValidationError, a run says so, logs a warning and writes
    a new index holding its own run."""
    archive_run(s3, retrier, report(NOW - timedelta(days=1), row("a")))
    s3.put_object(Bucket=ARCHIVE, Key=index_key(PREFIX), Body=b'{"version": 1, "runs": "oops"}')
    with pytest.raises(ValidationError):
        previous_report(s3, retrier, bucket=ARCHIVE, prefix=PREFIX)
    with caplog.at_level(logging.WARNING, logger="backupwatch"):
        history = load_history(s3, retrier, bucket=ARCHIVE, prefix=PREFIX, before=NOW)
    assert history.problem == (
        f"the archive index s3://{ARCHIVE}/{PREFIX}index.json was corrupt and is started anew"
    )
    assert history.index_writable
    assert "corrupt" in caplog.text
    archived = archive_run(s3, retrier, report(NOW, row("a")))
    assert archived.index_error is None
    index = read_index(s3, retrier, bucket=ARCHIVE, prefix=PREFIX)
    assert index is not None
    assert [r.generated_at for r in index.runs] == [NOW]


def test_index_from_a_newer_version_is_left_alone(s3: Any, retrier: Retrier) -> None:
    """An index of a later version is neither trusted nor overwritten (a rollback is safe)."""
    newer = b'{"version": 2, "runs": [], "something": "new"}'
    s3.put_object(Bucket=ARCHIVE, Key=index_key(PREFIX), Body=newer)
    history = load_history(s3, retrier, bucket=ARCHIVE, prefix=PREFIX)
    assert not history.index_writable
    assert "newer backupwatch (version 2)" in (history.problem or "")
    archived = archive_run(s3, retrier, report(NOW, row("a")))
    assert archived.error is None
    assert archived.index_error == "it could not be read, so it was left as it is"
    assert stored(s3, index_key(PREFIX))["Body"].read() == newer


def test_denied_index_read_raises_and_is_never_overwritten(
    s3: Any, retrier: Retrier, faults: Faults
) -> None:
    """AccessDenied reading the index: readers raise AwsCallError (s3:GetObject), a run says
    why and leaves the index as it was."""
    archive_run(s3, retrier, report(NOW - timedelta(days=1), row("a")))
    before = stored(s3, index_key(PREFIX))["Body"].read()
    faults.inject("s3", "GetObject", DENIED)
    denied = s3_client(faults.session, REGION)  # built after the Faults: its calls are faulted
    with pytest.raises(AwsCallError) as raised:
        previous_report(denied, retrier, bucket=ARCHIVE, prefix=PREFIX)
    assert (raised.value.operation, raised.value.code) == ("s3:GetObject", "AccessDenied")
    history = load_history(denied, retrier, bucket=ARCHIVE, prefix=PREFIX, before=NOW)
    assert history.problem == "the archive could not be read: AccessDenied on s3:GetObject"
    assert not history.index_writable
    archive_run(denied, retrier, report(NOW, row("a")))
    assert stored(s3, index_key(PREFIX))["Body"].read() == before


def test_failed_report_write_leaves_the_index_alone(
    s3: Any, retrier: Retrier, faults: Faults
) -> None:
    """The report cannot be written: the index does not name it (and is not rewritten)."""
    archive_run(s3, retrier, report(NOW - timedelta(days=1), row("a")))
    before = stored(s3, index_key(PREFIX))["Body"].read()
    faults.inject("s3", "PutObject", DENIED)
    archived = archive_run(s3_client(faults.session, REGION), retrier, report(NOW, row("a")))
    assert archived.error == "AccessDenied on s3:PutObject"
    assert stored(s3, index_key(PREFIX))["Body"].read() == before


def test_failed_index_write_is_reported(s3: Any, retrier: Retrier, faults: Faults) -> None:
    """The report is written but the index is not: index_error says why."""
    faults.inject("s3", "PutObject", DENIED, when=lambda p: p.get("Key") == index_key(PREFIX))
    archived = archive_run(s3_client(faults.session, REGION), retrier, report(NOW, row("a")))
    assert archived.error is None
    assert archived.index_error == "AccessDenied on s3:PutObject"
    assert stored(s3, archived.key)["ContentLength"] > 0


# --- the pipeline ---------------------------------------------------------------------------------


def pipeline_world(world: World) -> str:
    """One OK tenant, the backups bucket, the archive bucket, a topic."""
    world.bucket()
    world.bucket(ARCHIVE)
    world.instance("db-ok", tenant="ok")
    world.put("ok-backups/x.dump", hours_ago(1))
    return world.topic()


def run_at(
    world: World,
    retrier: Retrier,
    topic: str,
    at: datetime,
    *,
    status_page: StatusPageRenderer | None = render_status_page,
    **extra: str,
) -> Any:
    settings = load_settings(
        env_for(topic, BACKUPWATCH_REPORT_BUCKET=ARCHIVE, BACKUPWATCH_REPORT_PREFIX=PREFIX, **extra)
    )
    return run_daily(
        settings,
        session=world.session,
        clock=lambda: at,
        retrier=retrier,
        status_page=status_page,
    )


def test_unreadable_archive_still_publishes_and_says_why(
    world: World, retrier: Retrier, faults: Faults
) -> None:
    """AccessDenied on every archive read: the digest goes out, saying there is no comparison
    and why, and the index is not overwritten."""
    topic = pipeline_world(world)
    run_at(world, retrier, topic, NOW - timedelta(days=1))
    faults.inject("s3", "GetObject", DENIED)
    outcome = run_at(world, retrier, topic, NOW)
    sent = world.published(topic)
    assert len(sent) == 2
    body = sent[-1]["message"]
    assert (
        "WHAT CHANGED: no comparison: the archive could not be read: AccessDenied on "
        "s3:GetObject; today's view only."
    ) in body.split("\n")
    assert "Archive index not updated: it could not be read, so it was left as it is;" in body
    assert (
        f"Status page: could not be written to s3://{ARCHIVE}/{PREFIX}status.html: "
        "not rewritten: the archive index could not be read"
    ) in body
    assert outcome.no_comparison == "the archive could not be read: AccessDenied on s3:GetObject"
    assert outcome.summary()["changes"] is None
    assert sent[-1]["subject"] == "backupwatch 2026-11-27: all 1 tenants OK"


def test_first_run_says_so(world: World, retrier: Retrier) -> None:
    """The very first run: 'first run: no earlier report in s3://...'; the index is created."""
    topic = pipeline_world(world)
    outcome = run_at(world, retrier, topic, NOW)
    body = world.published(topic)[-1]["message"]
    assert (
        f"WHAT CHANGED: no comparison: first run: no earlier report in s3://{ARCHIVE}/{PREFIX}; "
        "today's view only."
    ) in body.split("\n")
    assert f"Full report: s3://{ARCHIVE}/{report_key(PREFIX, NOW)}" in body
    assert outcome.archived.index_error is None


def test_dry_run_reads_the_archive_and_writes_nothing(
    world: World, retrier: Retrier, faults: Faults
) -> None:
    """A dry run compares with the previous report but puts no object at all."""
    topic = pipeline_world(world)
    run_at(world, retrier, topic, NOW - timedelta(days=1))
    faults.count("s3", "PutObject")
    faults.count("s3", "GetObject")
    outcome = run_at(world, retrier, topic, NOW, BACKUPWATCH_DRY_RUN="true")
    assert outcome.changes is not None
    assert outcome.changes.previous_at == NOW - timedelta(days=1)
    assert outcome.archived is None
    assert outcome.message_id is None
    assert faults.calls.get("s3:PutObject", 0) == 0
    assert faults.calls["s3:GetObject"] == 2
    assert "WHAT CHANGED since 2026-11-26 07:00 UTC" in outcome.digest.body


def test_archive_calls_stay_o1_per_run(
    world: World, retrier: Retrier, faults: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run with 20 days of history, status page off: 2 GETs (index, previous report), 3 PUTs
    (report, its day summary, index), and no listing of the archive bucket. The publish ledger
    beside the archive adds 2 PUTs per channel (its claim and its record), here the one
    digest."""
    topic = pipeline_world(world)
    seeding = s3_client(world.session, REGION)
    for days_ago in range(20, 0, -1):
        archive_run(seeding, retrier, report(NOW - timedelta(days=days_ago), row("ok")))
    faults.count("s3", "GetObject")
    faults.count("s3", "PutObject")
    listed: list[str] = []
    world.session.events.register(
        "before-call.s3.ListObjectsV2", lambda params, **_: listed.append(params["Bucket"])
    )
    run_at(world, retrier, topic, NOW, status_page=None)
    assert faults.calls == {"s3:GetObject": 2, "s3:PutObject": 3 + 2}
    assert ARCHIVE not in listed


# --- the status page wiring ---------------------------------------------------------------------


class FakeRenderer:
    """Stands in for backupwatch.core.status_page.render_status_page: records what it was given."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.seen: list[list[datetime]] = []

    def __call__(self, reports: Sequence[AnyDay], *, generated_at: datetime | None = None) -> str:
        self.seen.append([r.generated_at for r in reports])
        if self.fail:
            raise RuntimeError("renderer bug")
        return f"<html><body>{len(reports)} reports at {generated_at}</body></html>"


def test_status_page_is_written_beside_the_reports_and_linked(
    world: World, retrier: Retrier, faults: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a renderer, each run writes <prefix>status.html (text/html) from the last 30 days'
    daily reports plus its own, and the digest links it. Every report is read once: the index,
    then the 29 earlier days' reports, yesterday's (the previous report) among them."""
    renderer = FakeRenderer()
    topic = pipeline_world(world)
    seeding = s3_client(world.session, REGION)
    for days_ago in range(35, 0, -1):  # history written directly: 35 pipeline runs are slow
        archive_run(seeding, retrier, report(NOW - timedelta(days=days_ago), row("ok")))
    faults.count("s3", "GetObject")
    outcome = run_at(
        world, retrier, topic, NOW, status_page=renderer, BACKUPWATCH_REPORT_URL_HOURS="2"
    )
    assert renderer.seen[-1] == [NOW - timedelta(days=d) for d in range(29, -1, -1)]
    assert faults.calls["s3:GetObject"] == 1 + 29
    page = world.s3.get_object(Bucket=ARCHIVE, Key=status_page_key(PREFIX))
    assert page["ContentType"] == "text/html; charset=utf-8"
    assert page["Body"].read().decode().startswith("<html><body>30 reports")
    body = world.published(topic)[-1]["message"].split("\n")
    assert f"Status page: s3://{ARCHIVE}/{PREFIX}status.html" in body
    url_line = body[body.index(f"Status page: s3://{ARCHIVE}/{PREFIX}status.html") + 1]
    assert url_line.startswith("  https://")
    assert "status.html" in url_line
    assert outcome.summary()["status_page"] == f"s3://{ARCHIVE}/{PREFIX}status.html"


def test_status_page_failure_never_blocks_the_digest(
    world: World, retrier: Retrier, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A renderer that raises: the digest still goes out and says the page was not written."""
    topic = pipeline_world(world)
    outcome = run_at(world, retrier, topic, NOW, status_page=FakeRenderer(fail=True))
    assert outcome.message_id is not None
    assert (
        f"Status page: could not be written to s3://{ARCHIVE}/{PREFIX}status.html: "
        "could not be rendered: RuntimeError"
    ) in world.published(topic)[-1]["message"]
    assert outcome.summary()["status_page"] is None


def test_archive_bug_never_blocks_the_digest(
    world: World, retrier: Retrier, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected exception inside the archive step costs the comparison, not the digest."""

    def broken(*_: Any, **__: Any) -> Any:
        raise KeyError("bug")

    monkeypatch.setattr(_pipeline, "load_history", broken)
    topic = pipeline_world(world)
    outcome = run_at(world, retrier, topic, NOW)
    assert outcome.message_id is not None
    assert outcome.no_comparison == "the archive step failed: KeyError"
    assert (
        "no comparison: the archive step failed: KeyError" in world.published(topic)[-1]["message"]
    )


def test_index_json_is_plain_readable_json(s3: Any, retrier: Retrier) -> None:
    """The index is ordinary JSON an operator can read with jq: version, runs, failing_since."""
    archive_run(s3, retrier, report(NOW, row("b", Status.STALE, account="123456789012")))
    document = json.loads(stored(s3, index_key(PREFIX))["Body"].read())
    assert set(document) == {"version", "updated_at", "runs", "failing_since"}
    assert document["version"] == 1
    assert document["failing_since"] == {
        f"123456789012|{REGION}|instance|db-b": "2026-11-27T07:00:00Z"
    }


# --- "what changed" from the previous run's day summary ------------------------------------------


def test_the_previous_run_is_read_as_its_summary_when_asked(
    s3: Any, retrier: Retrier, calls: S3Calls
) -> None:
    """With a reader, ``load_history`` reads the index and the previous run's day summary (2
    GETs, no report); a run archived before summaries existed is read from its report, as
    without a reader (``History.previous``)."""
    yesterday = report(NOW - timedelta(days=1), row("a"), row("b", Status.STALE))
    archived = archive_run(s3, retrier, yesterday)
    calls.reset()
    history = load_history(
        s3, retrier, bucket=ARCHIVE, prefix=PREFIX, before=NOW, reader=DaySummaryReader()
    )
    assert calls.counts == {"GetObject": 2}
    assert history.previous is None
    assert history.previous_key == archived.key
    assert history.previous_day == DaySummary.of(yesterday)
    assert history.compared_with is history.previous_day

    s3.delete_object(Bucket=ARCHIVE, Key=day_summary_key(archived.key))
    calls.reset()
    older = load_history(
        s3, retrier, bucket=ARCHIVE, prefix=PREFIX, before=NOW, reader=DaySummaryReader()
    )
    assert calls.counts == {"GetObject": 3}
    assert older.previous_day is None
    assert older.previous == yesterday
    assert older.compared_with == yesterday


def publish(world: World, retrier: Retrier, topic: str, current: Report) -> Any:
    """The state machine's publish step on ``current``: ``run_daily(report=...)``."""
    settings = load_settings(
        env_for(topic, BACKUPWATCH_REPORT_BUCKET=ARCHIVE, BACKUPWATCH_REPORT_PREFIX=PREFIX)
    )
    return run_daily(settings, report=current, session=world.session, retrier=retrier, resend=True)


def owned(name: str, status: Status = Status.OK, *owners: str) -> TenantReport:
    return row(name, status).model_copy(update={"owners": owners})


def as_read(changes: Any) -> list[Any]:
    """What a reader sees of the changes (tests/test_changes.py's ``_as_read``)."""
    return [
        [
            (i.row.key, i.row.tenant, i.row.status, i.row.owners, i.before, i.since, i.days)
            for i in getattr(changes, section)
        ]
        for section in ("new_failures", "recovered", "still_failing", "gone", "new_tenants")
    ] + [changes.previous_at, changes.failing_since]


def page(s3: Any) -> bytes:
    body: bytes = s3.get_object(Bucket=ARCHIVE, Key=status_page_key(PREFIX))["Body"].read()
    return body


def test_a_publish_compares_with_the_summary_as_with_the_report(
    world: World, retrier: Retrier, s3: Any
) -> None:
    """Two days of the publish step, with new failures, recoveries, a new tenant and two gone
    (one with owners): the same changes, digest and status page whether yesterday is read as
    its day summary or, its summary deleted (an older archive), as its report."""
    topic = pipeline_world(world)
    yesterday = report(
        NOW - timedelta(days=1),
        owned("a", Status.OK, "team-a"),
        row("b", Status.STALE),
        row("c"),
        owned("d", Status.MISSING, "team-d", "ops"),
        row("e", Status.STALE),
    )
    today = report(
        NOW, owned("a", Status.STALE, "team-a"), row("b"), row("e", Status.STALE), row("f")
    )
    first = publish(world, retrier, topic, yesterday)
    from_summary = publish(world, retrier, topic, today)
    page_from_summary = page(s3)
    s3.delete_object(Bucket=ARCHIVE, Key=day_summary_key(first.archived.key))
    from_report = publish(world, retrier, topic, today)
    changes = from_summary.changes
    assert [i.row.tenant for i in changes.gone] == ["c", "d"]
    assert changes.gone[1].row.owners == ("team-d", "ops")
    assert [i.row.tenant for i in changes.new_failures] == ["a"]
    assert [i.row.tenant for i in changes.recovered] == ["b"]
    assert as_read(changes) == as_read(from_report.changes)
    assert from_summary.digest == from_report.digest
    assert page(s3) == page_from_summary


def test_a_summary_without_owners_sends_the_run_to_the_report_for_them(
    world: World, retrier: Retrier, s3: Any
) -> None:
    """Yesterday's summary written before summaries kept owners (no ``owners`` member), owners
    in use, a tenant gone: its owners come from yesterday's report, read for them. A summary
    that keeps owners costs no such read."""
    topic = pipeline_world(world)
    yesterday = report(
        NOW - timedelta(days=1), owned("a", Status.OK, "team-a"), owned("d", Status.OK, "team-d")
    )
    today = report(NOW, owned("a", Status.OK, "team-a"))
    first = publish(world, retrier, topic, yesterday)
    key = first.archived.key
    gets: list[str] = []

    def remember(params: dict[str, Any], **_: Any) -> None:
        gets.append(params["Key"])

    world.session.events.register("before-parameter-build.s3.GetObject", remember)
    assert publish(world, retrier, topic, today).changes.gone[0].row.owners == ("team-d",)
    assert day_summary_key(key) in gets
    assert key not in gets

    summary = day_summary_key(key)
    body = s3.get_object(Bucket=ARCHIVE, Key=summary)["Body"].read()
    document = json.loads(gzip.decompress(body))
    del document["owners"]
    s3.put_object(Bucket=ARCHIVE, Key=summary, Body=gzip.compress(json.dumps(document).encode()))
    gets.clear()
    outcome = publish(world, retrier, topic, today)
    assert outcome.changes.gone[0].row.owners == ("team-d",)
    assert gets.count(key) == 1
