"""The report archive as the size rule's history, through ``run_daily`` on moto.

A lifecycle rule that keeps only the newest dump leaves the folder's listing no history: the
size rule falls back on the dumps that earlier archived reports judged ``OK``, which the run
reads anyway (before the check, once). The rule itself is tested in tests/test_size_history.py;
here, that a run uses the archive, says so, never counts a broken day as normal, never lets an
unreadable archive stop the check, and costs no GET more than before.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from backupwatch import (
    Check,
    CheckResult,
    Deadline,
    Outcome,
    Report,
    Retrier,
    Status,
    StatusPageRenderer,
    load_settings,
    render_status_page,
    run_daily,
)
from backupwatch.aws.archive import index_key, load_history, write_run
from backupwatch.aws.clients import s3_client
from backupwatch.pipeline.daily import ARCHIVE_MARGIN_SECONDS, reading_deadline

from .conftest import BUCKET, DENIED, NOW, REGION, Faults, World, env_for, hours_ago

ARCHIVE = "backupwatch-reports"
PREFIX = "backupwatch/"
FOLDER = "acme-backups/"
NORMAL = [200_000, 204_000, 198_000, 201_000, 199_000]
"""Five mornings of a healthy ~195 KiB dump: median 200,000 bytes."""
SHRUNK = 4_000


def dated_key(when: datetime) -> str:
    return f"{FOLDER}acme-{when:%Y-%m-%d}.dump"


def nested_key(when: datetime) -> str:
    """Another key shape, so another series: ``#/#/#/acme.dump``."""
    return f"{FOLDER}{when:%Y/%m/%d}/acme.dump"


def only_dump(world: World, key: str, when: datetime, size: int) -> None:
    """The folder holds this dump alone: a lifecycle rule removed every older one."""
    listed = world.s3.list_objects_v2(Bucket=BUCKET, Prefix=FOLDER).get("Contents", [])
    for item in listed:
        world.s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    world.put(key, when, size=size)


@pytest.fixture
def topic(world: World) -> str:
    """One tenant (acme), the backups bucket, the archive bucket, a topic."""
    world.bucket()
    world.bucket(ARCHIVE)
    world.instance("db-acme", tenant="acme")
    return world.topic()


def run_on(
    world: World,
    retrier: Retrier,
    topic: str,
    at: datetime,
    *,
    status_page: StatusPageRenderer | None = render_status_page,
    deadline: Deadline | None = None,
) -> Outcome:
    settings = load_settings(
        env_for(topic, BACKUPWATCH_REPORT_BUCKET=ARCHIVE, BACKUPWATCH_REPORT_PREFIX=PREFIX)
    )
    return run_daily(
        settings,
        session=world.session,
        clock=lambda: at,
        retrier=retrier,
        status_page=status_page,
        deadline=deadline,
    )


def mornings(
    world: World,
    retrier: Retrier,
    topic: str,
    sizes: list[int],
    *,
    key: Callable[[datetime], str] = dated_key,
) -> list[Outcome]:
    """One daily run per size, oldest first, the last one yesterday; each morning the folder
    holds only that day's dump, written 3 h before the run."""
    outcomes = []
    for days_ago, size in zip(range(len(sizes), 0, -1), sizes, strict=True):
        at = NOW - timedelta(days=days_ago)
        only_dump(world, key(at - timedelta(hours=3)), at - timedelta(hours=3), size)
        outcomes.append(run_on(world, retrier, topic, at))
    return outcomes


def today(
    world: World,
    retrier: Retrier,
    topic: str,
    size: int,
    *,
    key: Callable[[datetime], str] = dated_key,
    **options: Any,
) -> Outcome:
    only_dump(world, key(hours_ago(3)), hours_ago(3), size)
    return run_on(world, retrier, topic, NOW, **options)


def seed_days(world: World, retrier: Retrier, days: int) -> None:
    """Archive a bare report for each of the ``days`` days before NOW, directly (faster than
    that many runs)."""
    s3 = s3_client(world.session, REGION)
    for days_ago in range(days, 0, -1):
        at = NOW - timedelta(days=days_ago)
        history = load_history(s3, retrier, bucket=ARCHIVE, prefix=PREFIX, before=at)
        bare = Report(generated_at=at, regions=(REGION,), checks=(Check.RDS,), tenants=())
        write_run(s3, retrier, bare, bucket=ARCHIVE, prefix=PREFIX, index=history.index, streaks={})


def s3_result(outcome: Outcome) -> CheckResult:
    [row] = outcome.report.tenants
    return row.checks[Check.S3]


def test_a_shrunk_dump_is_suspect_against_the_archived_sizes(
    world: World, retrier: Retrier, topic: str
) -> None:
    """The folder holds only today's dump, 2% of the ~195 KiB the last 5 reports saw:
    SUSPECT, and the reason says the median comes from the report archive."""
    mornings(world, retrier, topic, NORMAL)
    outcome = today(world, retrier, topic, SHRUNK)
    result = s3_result(outcome)
    assert result.status is Status.SUSPECT
    assert result.reason == (
        "newest backup object 3 h old (3.9 KiB), but it looks broken: acme-2026-11-27.dump is "
        "3.9 KiB, 2% of the median of the last 5 dumps in the report archive, 195.3 KiB"
    )
    assert result.notes == ()
    assert "acme [SUSPECT]" in world.published(topic)[-1]["message"]


def test_a_normal_dump_is_ok_and_compared(world: World, retrier: Retrier, topic: str) -> None:
    """The same folder with a dump of the usual size: OK, with no "size not compared" note
    (the careless variant would leave every lifecycle-pruned tenant unjudged)."""
    first = mornings(world, retrier, topic, NORMAL)[0]
    assert s3_result(first).notes == ("size not compared: no earlier dump of its series, 3 needed",)
    result = s3_result(today(world, retrier, topic, 202_000))
    assert result.status is Status.OK
    assert result.notes == ()


def test_two_archived_days_are_too_few_and_the_note_says_so(
    world: World, retrier: Retrier, topic: str
) -> None:
    """Two earlier reports are fewer than 3: OK, and the note counts both sources."""
    mornings(world, retrier, topic, NORMAL[:2])
    result = s3_result(today(world, retrier, topic, SHRUNK))
    assert result.status is Status.OK
    assert result.notes == (
        "size not compared: 2 earlier dumps of its series in the report archive (none in the "
        "folder), 3 needed",
    )


def test_suspect_days_never_become_the_normal_size(
    world: World, retrier: Retrier, topic: str
) -> None:
    """Three good days, then four SUSPECT ones of a producer gone wrong: today's equally small
    dump is still SUSPECT, against the three good days only (counting the broken days, the
    median would be the broken size and today would pass)."""
    outcomes = mornings(world, retrier, topic, NORMAL[:3] + [SHRUNK] * 4)
    assert [s3_result(o).status for o in outcomes] == [Status.OK] * 3 + [Status.SUSPECT] * 4
    result = s3_result(today(world, retrier, topic, SHRUNK))
    assert result.status is Status.SUSPECT
    assert result.reason.endswith(
        "3.9 KiB, 2% of the median of the last 3 dumps in the report archive, 195.3 KiB"
    )


def test_another_series_in_the_archive_is_not_used(
    world: World, retrier: Retrier, topic: str
) -> None:
    """The producer changed its key shape today: the archived dumps of the old shape are
    another series, and never vouch for (nor against) the new one."""
    mornings(world, retrier, topic, NORMAL)
    result = s3_result(today(world, retrier, topic, SHRUNK, key=nested_key))
    assert result.status is Status.OK
    assert result.notes == ("size not compared: no earlier dump of its series, 3 needed",)


def test_an_unreadable_archive_never_stops_the_check(
    world: World, retrier: Retrier, topic: str, faults: Faults
) -> None:
    """AccessDenied on the index: the check still runs, the tenant is judged on its listing
    alone (no fallback), and the digest says there is no comparison and why."""
    mornings(world, retrier, topic, NORMAL)
    faults.inject("s3", "GetObject", DENIED, when=lambda p: p.get("Key") == index_key(PREFIX))
    outcome = today(world, retrier, topic, SHRUNK)
    result = s3_result(outcome)
    assert result.status is Status.OK
    assert result.notes == ("size not compared: no earlier dump of its series, 3 needed",)
    assert outcome.report.tenants[0].checks[Check.RDS].status is Status.OK
    assert outcome.no_comparison == "the archive could not be read: AccessDenied on s3:GetObject"
    body = world.published(topic)[-1]["message"]
    assert (
        "WHAT CHANGED: no comparison: the archive could not be read: AccessDenied on "
        "s3:GetObject; today's view only."
    ) in body.split("\n")


@pytest.mark.parametrize(
    ("status_page", "gets", "notes"),
    [
        # The index, then the 5 earlier days' reports (yesterday's, the previous one, once).
        (render_status_page, 1 + 5, ()),
        # The index and the previous report only: one earlier dump, too few (the limit of a
        # run without a status page, which reads no more for the fallback).
        (
            None,
            2,
            (
                "size not compared: 1 earlier dump of its series in the report archive (none "
                "in the folder), 3 needed",
            ),
        ),
    ],
    ids=["status page on", "status page off"],
)
def test_the_fallback_costs_no_get(
    world: World,
    retrier: Retrier,
    topic: str,
    faults: Faults,
    status_page: StatusPageRenderer | None,
    gets: int,
    notes: tuple[str, ...],
) -> None:
    """The fallback uses what the run reads anyway: a run costs the GETs it cost before it
    (fewer by one with the status page: the previous report is no longer read twice)."""
    mornings(world, retrier, topic, NORMAL)
    faults.count("s3", "GetObject")
    outcome = today(world, retrier, topic, 202_000, status_page=status_page)
    assert faults.calls == {"s3:GetObject": gets}
    assert s3_result(outcome).notes == notes


def test_a_slow_archive_gets_a_quarter_of_the_time_before_the_check(
    world: World, retrier: Retrier, topic: str
) -> None:
    """Every request takes 1 s and the run has 80 s: the archive's reads before the check stop
    after a quarter of that, less their margin (20 s); every tenant is still checked and the
    digest goes out, saying the status page could not be written."""
    seed_days(world, retrier, 35)  # the status page's 30 days: 30 GETs to read them
    only_dump(world, dated_key(hours_ago(3)), hours_ago(3), 202_000)
    clock = {"now": 0.0}

    def tick(**_: Any) -> None:
        clock["now"] += 1.0

    world.session.events.register("before-send", tick)
    deadline = Deadline(lambda: 80.0 - clock["now"])
    outcome = run_on(world, retrier, topic, NOW, deadline=deadline)
    [row] = outcome.report.tenants
    assert row.status is Status.OK
    assert outcome.changes is not None
    assert outcome.changes.compared
    assert outcome.status_page is not None
    assert outcome.status_page.error == "time budget exhausted before s3:GetObject"
    assert outcome.message_id is not None


def test_the_reads_before_a_check_keep_a_quarter_of_the_time() -> None:
    """80 s left: the reads get 20 s once their own 10 s margin is taken; with little time
    left, never more than the archive's own deadline."""
    left = {"now": 80.0}
    reading = reading_deadline(Deadline(lambda: left["now"]))
    assert reading is not None
    assert reading.earlier(ARCHIVE_MARGIN_SECONDS).seconds_left() == pytest.approx(20.0)
    short = reading_deadline(Deadline(lambda: 8.0))
    assert short is not None
    assert short.earlier(ARCHIVE_MARGIN_SECONDS).seconds_left() == pytest.approx(-2.0)
    assert reading_deadline(None) is None
