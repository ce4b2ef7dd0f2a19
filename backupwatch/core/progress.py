"""Progress of a run, for whoever shows it: the CLI's ``-v`` renders it on stderr (pure).

A run calls its ``Progress`` a bounded number of times, never per object or per page: once per
region when discovery is done, and about a hundred times at most per account while evidence
comes in ("checked k of N"), so that a run of 10,000 tenants pays nothing for it. The calls
come from the thread that called ``check_tenants``, never from the listing threads.

Progress is for people; it changes no verdict. ``check_tenants`` logs a callback that raises
and stops calling it: showing progress must never cost a run its report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Phase = Literal["discovery", "evidence", "archive", "publish"]

EVIDENCE_STEPS = 100
"""At most this many "checked k of N" calls per account (plus the first and the last)."""


@dataclass(frozen=True)
class Step:
    """One thing worth telling: ``discovery us-east-1: 12 tenants found``."""

    phase: Phase
    where: str
    """The region, ``<account> <region>``, the account, or "" for the whole run."""
    message: str
    done: int | None = None
    """For a count in progress (evidence): how many of ``total`` are done."""
    total: int | None = None

    @property
    def text(self) -> str:
        """One line, without a newline."""
        where = f" {self.where}" if self.where else ""
        return f"{self.phase}{where}: {self.message}"


class Progress(Protocol):
    """Receives the steps of a run; returns nothing, and should return quickly."""

    def __call__(self, step: Step) -> None: ...


def no_progress(step: Step) -> None:
    """The default: tells no one."""


class EvidenceCounter:
    """``checked k of N`` for one account, told at most ``EVIDENCE_STEPS`` times."""

    def __init__(self, progress: Progress, where: str, total: int) -> None:
        self._progress = progress
        self._where = where
        self._total = total
        self._done = 0
        self._every = max(1, total // EVIDENCE_STEPS)
        progress(Step("evidence", where, f"checking {total} tenant(s)", 0, total))

    def add(self, count: int = 1) -> None:
        """``count`` more tenants have all their evidence in."""
        if count <= 0 or self._done == self._total:
            return
        before = self._done
        self._done = min(self._done + count, self._total)
        if self._done == self._total or self._done // self._every > before // self._every:
            self._progress(
                Step(
                    "evidence",
                    self._where,
                    f"checked {self._done} of {self._total}",
                    self._done,
                    self._total,
                )
            )
