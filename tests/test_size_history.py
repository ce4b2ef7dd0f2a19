"""The size rule on realistic series: growth and noise never alarm, a sudden drop always does.

Each series is judged as the check judges it, day after day: the newest dump against the
median of up to seven earlier ones. The false-alarm rates printed in docs/evidence.md come
from ``false_alarm_rate`` below (seeded, so the numbers are the same on every machine).
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from backupwatch.core.models import Check, CheckResult, Report, Status, TenantReport
from backupwatch.core.size_history import (
    DEFAULT_DROP_RATIO,
    HISTORY_LENGTH,
    MIN_HISTORY,
    ArchivedDump,
    archived_dumps,
    archived_history,
    judge_size,
    series_of,
)

GIB = 1 << 30


def alarms(series: list[int], ratio: float = DEFAULT_DROP_RATIO) -> list[int]:
    """The days (indexes) on which the rule fails the newest dump of ``series``."""
    failed = []
    for day in range(1, len(series)):
        history = series[max(0, day - HISTORY_LENGTH) : day][::-1]  # newest first
        if judge_size(f"acme-{day}.dump", series[day], history, drop_ratio=ratio).problem:
            failed.append(day)
    return failed


def noisy(days: int, sigma: float, seed: int = 7) -> list[int]:
    """A stable database whose dump size varies day to day (log-normal, sigma in log space)."""
    rng = random.Random(seed)
    return [int(GIB * math.exp(rng.gauss(0, sigma))) for _ in range(days)]


def false_alarm_rate(sigma: float, days: int = 20_000) -> float:
    return len(alarms(noisy(days, sigma))) / (days - 1)


def test_a_growing_database_never_alarms() -> None:
    """1 % a day for a year, and a fast 10 % a day for two months."""
    assert alarms([int(GIB * 1.01**day) for day in range(365)]) == []
    assert alarms([int(GIB * 1.10**day) for day in range(60)]) == []


@pytest.mark.parametrize("sigma", [0.05, 0.1, 0.12])
def test_daily_noise_never_alarms(sigma: float) -> None:
    """20,000 days of noise up to sigma 0.12 (a dump often 12 % off its median): none."""
    assert false_alarm_rate(sigma) == 0.0


@pytest.mark.parametrize(("sigma", "at_most"), [(0.15, 0.0002), (0.2, 0.001), (0.3, 0.02)])
def test_very_noisy_series_alarm_rarely_and_the_rate_is_known(sigma: float, at_most: float) -> None:
    """Past what dumps of one database do (sigma 0.3: a third off on a normal day), the rule
    alarms rarely: 0.005 % of days at sigma 0.15, 0.07 % at 0.2, 1.8 % at 0.3 (docs/evidence.md)."""
    assert 0 < false_alarm_rate(sigma) < at_most


def test_weekends_that_dump_less_never_alarm() -> None:
    """A business database whose weekend dumps are 60 % of a weekday's."""
    week = [1.0, 1.0, 1.0, 1.0, 1.0, 0.6, 0.6]
    assert alarms([int(GIB * week[day % 7]) for day in range(140)]) == []


def test_a_sudden_drop_alarms_and_names_the_numbers() -> None:
    series = [int(GIB * 2.1)] * 10 + [70 << 20]
    assert alarms(series) == [10]
    verdict = judge_size("t/acme.dump", 70 << 20, [int(GIB * 2.1)] * 7, drop_ratio=0.5)
    assert verdict.problem == ("acme.dump is 70 MiB, 3% of the median of the last 7 dumps, 2.1 GiB")


def test_a_drop_hidden_among_noise_still_alarms() -> None:
    """The careless variant would compare with the mean, which one big day inflates, or with
    yesterday only, which one small day deflates: the median of seven does neither."""
    history = [GIB, GIB, 3 * GIB, GIB, GIB, GIB, 100]  # one huge day, one broken day
    assert judge_size("a.dump", GIB, history, drop_ratio=0.5).problem is None
    assert judge_size("a.dump", GIB // 4, history, drop_ratio=0.5).problem is not None


def test_a_purge_under_half_is_tolerated_at_the_default() -> None:
    """Shrinking on purpose by 40 % passes at 0.5; an operator who wants it flagged raises
    the ratio (0.7 fails it)."""
    history = [GIB] * 7
    assert judge_size("a.dump", int(GIB * 0.6), history, drop_ratio=0.5).problem is None
    assert judge_size("a.dump", int(GIB * 0.6), history, drop_ratio=0.7).problem is not None


@pytest.mark.parametrize("earlier", range(MIN_HISTORY))
def test_too_little_history_says_so_and_never_fails(earlier: int) -> None:
    verdict = judge_size("a.dump", 1, [GIB] * earlier, drop_ratio=0.5)
    assert verdict.problem is None
    assert verdict.note is not None
    assert "size not compared" in verdict.note
    assert f"{MIN_HISTORY} needed" in verdict.note


def test_ratio_zero_switches_the_rule_off() -> None:
    verdict = judge_size("a.dump", 1, [GIB] * 7, drop_ratio=0)
    assert verdict.problem is None
    assert verdict.note == "size rule off (BACKUPWATCH_SIZE_DROP_RATIO=0)"


def test_only_the_last_seven_count() -> None:
    """A month-old giant does not keep failing a database that shrank for good weeks ago."""
    history = [GIB // 10] * 7 + [10 * GIB] * 20
    assert judge_size("a.dump", GIB // 10, history, drop_ratio=0.5).problem is None


@pytest.mark.parametrize(
    ("key", "series"),
    [
        ("acme-backups/acme-2026-11-27.dump", "acme-#-#-#.dump"),
        ("acme-backups/2026/11/27/acme.dump", "#/#/#/acme.dump"),
        ("acme-backups/2026/11/27/globals.sql", "#/#/#/globals.sql"),
        ("acme-backups/acme.dump", "acme.dump"),
    ],
)
def test_a_series_is_the_key_without_its_digits(key: str, series: str) -> None:
    assert series_of(key, "acme-backups/") == series


# --- the report archive as history ----------------------------------------------------------------

NOW = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
ACME = ("", "eu-west-1", "instance", "db-acme")
GLOBEX = ("111122223333", "eu-west-1", "instance", "db-globex")


def s3_row(
    identifier: str,
    key: str | None,
    size: int | None,
    status: Status = Status.OK,
    *,
    modified: datetime | None = None,
    account: str | None = None,
) -> TenantReport:
    result = CheckResult(
        check=Check.S3,
        status=status,
        reason="...",
        key=key,
        size_bytes=size,
        evidence_at=modified,
    )
    return TenantReport(
        tenant=identifier.removeprefix("db-"),
        db_instance_identifier=identifier,
        region="eu-west-1",
        account_id=account,
        status=status,
        reason="...",
        checks={Check.S3: result},
    )


def day(days_ago: int, *rows: TenantReport) -> Report:
    at = NOW - timedelta(days=days_ago)
    return Report(generated_at=at, regions=("eu-west-1",), checks=(Check.S3,), tenants=rows)


def dump(days_ago: int, size: int, name: str = "acme") -> TenantReport:
    """acme's dated dump of that morning, written 3 h before the run, as an OK row."""
    when = NOW - timedelta(days=days_ago, hours=3)
    key = f"{name}-backups/{name}-{when:%Y-%m-%d}.dump"
    return s3_row(f"db-{name}", key, size, modified=when)


def test_archived_dumps_are_per_row_newest_report_first() -> None:
    """Reports in any order: each row's dumps come newest report first, keyed like
    ``TenantReport.key`` (the account in it), with key, size and LastModified."""
    globex = s3_row("db-globex", "g/g-1.dump", 7, account="111122223333", modified=NOW)
    found = archived_dumps(
        [day(3, dump(3, 300)), day(1, dump(1, 100), globex), day(2, dump(2, 200))]
    )
    assert [d.size for d in found[ACME]] == [100, 200, 300]
    assert found[ACME][0] == ArchivedDump(
        key="acme-backups/acme-2026-11-26.dump",
        size=100,
        modified_at=NOW - timedelta(days=1, hours=3),
    )
    assert found[GLOBEX] == (ArchivedDump(key="g/g-1.dump", size=7, modified_at=NOW),)


@pytest.mark.parametrize(
    "status", [Status.SUSPECT, Status.EMPTY, Status.STALE, Status.PAUSED, Status.ERROR]
)
def test_only_ok_days_are_history(status: Status) -> None:
    """A SUSPECT or EMPTY day is no normal size; nor is anything but OK."""
    broken = s3_row("db-acme", "acme-backups/acme-2026-11-25.dump", 5, status, modified=NOW)
    found = archived_dumps([day(1, dump(1, 100)), day(2, broken)])
    assert [d.size for d in found[ACME]] == [100]


def test_rows_without_an_s3_result_or_its_evidence_are_left_out() -> None:
    """An RDS-only row, or an OK result naming no object, gives no history."""
    rds_only = TenantReport(
        tenant="acme",
        db_instance_identifier="db-acme",
        region="eu-west-1",
        status=Status.OK,
        reason="...",
    )
    no_key = s3_row("db-acme", None, None)
    assert archived_dumps([day(1, rds_only), day(2, no_key)]) == {}
    assert archived_dumps([]) == {}


def test_one_dump_seen_by_two_runs_counts_once() -> None:
    """The same object (key and LastModified) in two reports is one dump; a key overwritten
    every day (a new LastModified) is one dump a day."""
    same = NOW - timedelta(days=2)
    seen_twice = [day(d, s3_row("db-acme", "a/x.dump", 9, modified=same)) for d in (1, 2)]
    assert len(archived_dumps(seen_twice)[ACME]) == 1
    overwritten = [
        day(d, s3_row("db-acme", "a/latest.dump", 100 + d, modified=NOW - timedelta(days=d)))
        for d in (1, 2, 3)
    ]
    assert [d.size for d in archived_dumps(overwritten)[ACME]] == [101, 102, 103]


def test_archived_history_keeps_the_series_and_what_came_before() -> None:
    """Only the newest dump's series, only dumps modified before it, at most 7, in order."""
    before = NOW - timedelta(days=1)
    archived = [
        ArchivedDump(key="acme-backups/acme-2026-11-27.dump", size=1, modified_at=NOW),  # itself
        ArchivedDump(key="acme-backups/acme-2026-11-28.dump", size=2, modified_at=NOW),  # later
        ArchivedDump(key="acme-backups/globals-2026-11-26.sql", size=3, modified_at=before),
        *(
            ArchivedDump(key=f"acme-backups/acme-2026-10-{d:02d}.dump", size=d, modified_at=before)
            for d in range(10, 20)
        ),
    ]
    history = archived_history(
        "acme-backups/acme-2026-11-27.dump", NOW, archived, prefix="acme-backups/"
    )
    assert history == tuple(range(10, 10 + HISTORY_LENGTH))


def test_archived_history_without_times_skips_only_the_same_key() -> None:
    """A dump with no LastModified counts unless it has the newest one's key."""
    archived = [ArchivedDump(key="a/x-1.dump", size=5), ArchivedDump(key="a/x-2.dump", size=6)]
    assert archived_history("a/x-1.dump", NOW, archived, prefix="a/") == (6,)


def test_archived_sizes_fill_in_when_the_listing_has_too_few() -> None:
    """Fewer than 3 listed: the archive's sizes judge, and the reason says where they are."""
    verdict = judge_size(
        "t/acme.dump", 70 << 20, [int(GIB * 2.1)], drop_ratio=0.5, archived=[int(GIB * 2.1)] * 5
    )
    assert verdict.problem == (
        "acme.dump is 70 MiB, 3% of the median of the last 5 dumps in the report archive, 2.1 GiB"
    )
    assert (verdict.median, verdict.history) == (int(GIB * 2.1), 5)
    assert judge_size("a.dump", GIB, [], drop_ratio=0.5, archived=[GIB] * 3).problem is None


def test_the_listing_wins_when_it_has_enough() -> None:
    """Three listed: the archive is not consulted, and the wording is the listing's."""
    verdict = judge_size("a.dump", 1, [GIB] * 3, drop_ratio=0.5, archived=[1] * 7)
    assert verdict.problem == "a.dump is 1 B, under 0.1% of the median of the last 3 dumps, 1 GiB"


@pytest.mark.parametrize(
    ("listed", "archived", "note"),
    [
        (0, 0, "size not compared: no earlier dump of its series, 3 needed"),
        (0, 1, "size not compared: 1 earlier dump of its series in the report archive "
               "(none in the folder), 3 needed"),
        (1, 2, "size not compared: 2 earlier dumps of its series in the report archive "
               "(1 in the folder), 3 needed"),
        (2, 1, "size not compared: 2 earlier dumps of its series, 3 needed"),
        (2, 2, "size not compared: 2 earlier dumps of its series, 3 needed"),
    ],
)  # fmt: skip
def test_too_little_history_anywhere_says_how_much(listed: int, archived: int, note: str) -> None:
    """The note names the archive only when it had more than the listing."""
    verdict = judge_size("a.dump", 1, [GIB] * listed, drop_ratio=0.5, archived=[GIB] * archived)
    assert verdict.problem is None
    assert verdict.note == note


def test_ratio_zero_switches_the_archive_off_too() -> None:
    """Ratio 0 is off whatever the archive holds."""
    verdict = judge_size("a.dump", 1, [], drop_ratio=0, archived=[GIB] * 7)
    assert verdict.problem is None
    assert verdict.note == "size rule off (BACKUPWATCH_SIZE_DROP_RATIO=0)"
