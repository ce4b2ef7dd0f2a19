"""The size rule on realistic series: growth and noise never alarm, a sudden drop always does.

Each series is judged as the check judges it, day after day: the newest dump against the
median of up to seven earlier ones. The false-alarm rates printed in docs/evidence.md come
from ``false_alarm_rate`` below (seeded, so the numbers are the same on every machine).
"""

from __future__ import annotations

import math
import random

import pytest

from backupwatch.core.size_history import (
    DEFAULT_DROP_RATIO,
    HISTORY_LENGTH,
    MIN_HISTORY,
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
