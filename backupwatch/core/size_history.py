"""Is the newest dump the size of the ones before it? (pure)

A dump that shrank from 2 GiB to 1 MiB overnight is fresh and not empty, and almost surely
not restorable: a schema dropped, a job cut short. The listing of a tenant's folder already
returns the size of every older dump, so judging the newest against its own history costs no
call.

What counts as "the ones before it": objects of the same *series*, keys that differ only in
their digits (``acme-2026-11-27.dump`` and ``acme-2026-11-26.dump``; ``2026/11/27/acme.dump``
and ``2026/11/26/acme.dump``), so a folder that also holds a small ``globals.sql`` every day
never compares the two. The rule compares the newest with the median of up to
``HISTORY_LENGTH`` earlier ones of its series: the median shrugs off one odd day, and a
fraction of it (``BACKUPWATCH_SIZE_DROP_RATIO``, default 0.5) leaves room for daily noise and
for shrinking on purpose (a purge) by less than half. With fewer than ``MIN_HISTORY`` earlier
dumps the rule does not apply, and says so.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence

from backupwatch.core.config import DEFAULT_DROP_RATIO
from backupwatch.core.models import FrozenValue
from backupwatch.core.units import format_bytes

__all__ = [
    "DEFAULT_DROP_RATIO",
    "HISTORY_LENGTH",
    "MIN_HISTORY",
    "SizeVerdict",
    "judge_size",
    "series_of",
]

HISTORY_LENGTH = 7
"""Earlier dumps of a series kept by the listing: a week of dailies."""
MIN_HISTORY = 3
"""Fewer earlier dumps than this, and a median says too little to fail a tenant on."""
_DIGITS = re.compile(r"\d+")


def series_of(key: str, prefix: str = "") -> str:
    """The series a key belongs to: its name under ``prefix`` with every run of digits as
    ``#`` (``2026/11/27/acme-0300.dump`` is ``#/#/#/acme-#.dump``)."""
    return _DIGITS.sub("#", key.removeprefix(prefix))


class SizeVerdict(FrozenValue):
    """What the size rule found: ``problem`` (failing) or ``note`` (why it did not apply)."""

    problem: str | None = None
    note: str | None = None
    median: int | None = None
    history: int = 0


def judge_size(name: str, size: int, history: Sequence[int], *, drop_ratio: float) -> SizeVerdict:
    """Judge the newest dump (``name``, ``size`` bytes) against ``history``, the sizes of up
    to ``HISTORY_LENGTH`` earlier dumps of its series, newest first.

    ``drop_ratio`` 0 switches the rule off. Failing when ``size < drop_ratio * median``:
    "acme.dump is 1 MiB, 3% of the median of the last 7 dumps, 2.1 GiB".
    """
    if drop_ratio <= 0:
        return SizeVerdict(note="size rule off (BACKUPWATCH_SIZE_DROP_RATIO=0)")
    earlier = list(history[:HISTORY_LENGTH])
    if len(earlier) < MIN_HISTORY:
        had = {0: "no earlier dump", 1: "1 earlier dump"}.get(len(earlier))
        had = had or f"{len(earlier)} earlier dumps"
        return SizeVerdict(
            note=f"size not compared: {had} of its series, {MIN_HISTORY} needed",
            history=len(earlier),
        )
    median = int(statistics.median(earlier))
    if median > 0 and size < drop_ratio * median:
        percent = _percent(size / median)
        return SizeVerdict(
            problem=(
                f"{_basename(name)} is {format_bytes(size)}, {percent} of the median of the "
                f"last {len(earlier)} dumps, {format_bytes(median)}"
            ),
            median=median,
            history=len(earlier),
        )
    return SizeVerdict(median=median, history=len(earlier))


def _basename(key: str) -> str:
    return key.rsplit("/", 1)[-1] or key


def _percent(share: float) -> str:
    if share >= 0.01:
        return f"{share:.0%}"
    return f"{share:.1%}" if share >= 0.001 else "under 0.1%"
