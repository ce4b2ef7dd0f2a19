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

Where the listing holds too little history (a lifecycle rule that keeps only the newest dump, a
key overwritten every day, the dated-keys fast path), the report archive stands in: every
archived report kept the key, size and time of each tenant's newest dump, and so does the day
summary written beside it (``core.day_summary``). ``archived_dumps`` gathers them from earlier
reports or their summaries (only from S3 checks that were ``OK``: a ``SUSPECT`` or ``EMPTY``
day is no normal size), and ``judge_size(..., archived=...)`` uses their sizes, said so in the
reason ("... of the median of the last 5 dumps in the report archive, ...").
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple

from backupwatch.core.config import DEFAULT_DROP_RATIO
from backupwatch.core.models import Check, FrozenValue, Report, RowKey, Status, TenantReport
from backupwatch.core.units import format_bytes

if TYPE_CHECKING:
    from backupwatch.core.day_summary import DaySummary

__all__ = [
    "DEFAULT_DROP_RATIO",
    "HISTORY_LENGTH",
    "MIN_HISTORY",
    "NO_ARCHIVED_DUMPS",
    "ArchivedDump",
    "SizeVerdict",
    "archived_dumps",
    "archived_history",
    "judge_size",
    "ok_dump",
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


def judge_size(
    name: str,
    size: int,
    history: Sequence[int],
    *,
    drop_ratio: float,
    archived: Sequence[int] = (),
) -> SizeVerdict:
    """Judge the newest dump (``name``, ``size`` bytes) against ``history``, the sizes of up
    to ``HISTORY_LENGTH`` earlier dumps of its series, newest first.

    ``drop_ratio`` 0 switches the rule off. Failing when ``size < drop_ratio * median``:
    "acme.dump is 1 MiB, 3% of the median of the last 7 dumps, 2.1 GiB".

    ``archived``: the same from the report archive (``archived_history``), used instead when
    ``history`` has fewer than ``MIN_HISTORY`` sizes and ``archived`` has more than it; the
    reason then says "of the median of the last 5 dumps in the report archive", and a note
    that the size was not compared says how many each source had.
    """
    if drop_ratio <= 0:
        return SizeVerdict(note="size rule off (BACKUPWATCH_SIZE_DROP_RATIO=0)")
    earlier = list(history[:HISTORY_LENGTH])
    from_archive = list(archived[:HISTORY_LENGTH])
    where = ""
    if len(earlier) < MIN_HISTORY and len(from_archive) > len(earlier):
        if len(from_archive) < MIN_HISTORY:
            return SizeVerdict(
                note=(
                    f"size not compared: {_earlier_dumps(len(from_archive))} of its series in "
                    f"the report archive ({len(earlier) or 'none'} in the folder), "
                    f"{MIN_HISTORY} needed"
                ),
                history=len(from_archive),
            )
        earlier, where = from_archive, " in the report archive"
    if len(earlier) < MIN_HISTORY:
        return SizeVerdict(
            note=(
                f"size not compared: {_earlier_dumps(len(earlier))} of its series, "
                f"{MIN_HISTORY} needed"
            ),
            history=len(earlier),
        )
    median = int(statistics.median(earlier))
    if median > 0 and size < drop_ratio * median:
        percent = _percent(size / median)
        return SizeVerdict(
            problem=(
                f"{_basename(name)} is {format_bytes(size)}, {percent} of the median of the "
                f"last {len(earlier)} dumps{where}, {format_bytes(median)}"
            ),
            median=median,
            history=len(earlier),
        )
    return SizeVerdict(median=median, history=len(earlier))


def _earlier_dumps(count: int) -> str:
    return {0: "no earlier dump", 1: "1 earlier dump"}.get(count) or f"{count} earlier dumps"


def _basename(key: str) -> str:
    return key.rsplit("/", 1)[-1] or key


def _percent(share: float) -> str:
    if share >= 0.01:
        return f"{share:.0%}"
    return f"{share:.1%}" if share >= 0.001 else "under 0.1%"


# --- the report archive as history ------------------------------------------------------------


class ArchivedDump(NamedTuple):
    """A tenant's newest dump as an earlier report saw it, and judged it ``OK``.

    A named tuple, not a model: a month of history holds one per tenant and day (2.9 million
    at 100,000 tenants); a model costs five times the memory, and, unlike a tuple of a string,
    an int and a datetime, is watched by the garbage collector, whose full collections then
    walk millions of them.
    """

    key: str
    size: int
    modified_at: datetime | None = None
    """Its ``LastModified`` (the check result's ``evidence_at``, aware); None if the report had
    none."""


NO_ARCHIVED_DUMPS: Mapping[RowKey, tuple[ArchivedDump, ...]] = MappingProxyType({})
"""``archived_dumps`` of no report: what a run without the archive passes on."""


def archived_dumps(
    reports: Iterable[Report | DaySummary],
) -> dict[RowKey, tuple[ArchivedDump, ...]]:
    """Per row (``TenantReport.key``), the dumps earlier ``reports`` (or their day summaries,
    which keep the same dumps: ``DayRow.dump``) judged ``OK``, newest report first, each dump
    once.

    Only S3 check results whose status was ``OK`` count: a ``SUSPECT``, ``EMPTY`` or
    ``PAUSED`` day is no normal size, and a day without an S3 result says nothing. A dump is
    its key and its ``LastModified``: the same object seen by two runs counts once, and a key
    overwritten every day (``acme/latest.dump``) is one dump per day. The series is not
    decided here: ``archived_history`` picks the dumps of the newest one's series.
    """
    found: dict[RowKey, list[ArchivedDump]] = {}
    seen: set[tuple[RowKey, str, datetime | None]] = set()
    for report in sorted(reports, key=lambda r: r.generated_at, reverse=True):
        for key, dump in _dumps_of(report):
            identity = (key, dump.key, dump.modified_at)
            if identity in seen:
                continue
            seen.add(identity)
            found.setdefault(key, []).append(dump)
    return {row: tuple(dumps) for row, dumps in found.items()}


def _dumps_of(report: Report | DaySummary) -> Iterator[tuple[RowKey, ArchivedDump]]:
    if not isinstance(report, Report):
        yield from ((row.key, row.dump) for row in report.tenants if row.dump is not None)
        return
    for row in report.tenants:
        dump = ok_dump(row)
        if dump is not None:
            yield row.key, dump


def ok_dump(row: TenantReport) -> ArchivedDump | None:
    """The row's newest dump, when its S3 check judged it ``OK`` and saw its key and size."""
    result = row.checks.get(Check.S3)
    if result is None or result.status is not Status.OK:
        return None
    if result.key is None or result.size_bytes is None:
        return None
    return ArchivedDump(key=result.key, size=result.size_bytes, modified_at=result.evidence_at)


def archived_history(
    key: str, modified_at: datetime, archived: Iterable[ArchivedDump], *, prefix: str = ""
) -> tuple[int, ...]:
    """The sizes of up to ``HISTORY_LENGTH`` archived dumps of ``key``'s series (under
    ``prefix``) from before the dump itself (``key`` last modified at ``modified_at``), in the
    order given (``archived_dumps``: newest first).

    "Before" is by ``LastModified``; an archived dump without one counts unless it has the
    same key (it might be this very object).
    """
    series = series_of(key, prefix)
    sizes: list[int] = []
    for dump in archived:
        if series_of(dump.key, prefix) != series:
            continue
        if dump.modified_at is None and dump.key == key:
            continue
        if dump.modified_at is not None and dump.modified_at >= modified_at:
            continue
        sizes.append(dump.size)
        if len(sizes) == HISTORY_LENGTH:
            break
    return tuple(sizes)
