"""Deadlines: how long a run may keep checking before it must stop and publish.

A Lambda function is killed at its timeout; a digest that was never published is the silent
failure backupwatch exists to prevent. So a run knows its deadline, stops *starting* checks
when the time left falls to the reserve kept for rendering and publishing, and reports every
tenant it did not reach as ``ERROR`` ("not checked: time budget exhausted").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

RESERVE_FLOOR_SECONDS = 3.0
"""The least publish reserve: rendering plus one ``sns:Publish`` with a retry."""


class LambdaContext(Protocol):
    """The one method of Lambda's context object that a deadline needs."""

    def get_remaining_time_in_millis(self) -> int: ...


@dataclass(frozen=True)
class Deadline:
    """A moment after which no new work may start, as "seconds left" on demand.

    Built from a Lambda context (``from_lambda_context``) or a duration (``after``); ``earlier``
    gives the same deadline moved forward, which is how a publish reserve is kept back.
    """

    seconds_left: Callable[[], float] = field(repr=False)
    """Seconds until the deadline; zero or negative once it has passed."""
    listing: Deadline | None = field(default=None, repr=False, compare=False)
    """For a checking deadline made by ``reserving``: the later deadline that discovery keeps
    to, so every tenant is listed (as "not checked" if need be) while time remains."""

    @classmethod
    def after(cls, seconds: float, *, monotonic: Callable[[], float] = time.monotonic) -> Deadline:
        """The deadline ``seconds`` from now, on the monotonic clock (immune to clock jumps)."""
        ends_at = monotonic() + seconds
        return cls(lambda: ends_at - monotonic())

    @classmethod
    def from_lambda_context(cls, context: LambdaContext) -> Deadline:
        """The function's own timeout, read live from ``get_remaining_time_in_millis()``."""
        return cls(lambda: context.get_remaining_time_in_millis() / 1000.0)

    def earlier(self, seconds: float) -> Deadline:
        """This deadline, ``seconds`` sooner (a reserve kept for what must happen after it)."""
        outer = self.seconds_left
        return Deadline(lambda: outer() - seconds)

    def reserving(self, reserve: float, *, floor: float = RESERVE_FLOOR_SECONDS) -> Deadline:
        """The checking deadline: this one, less a publish reserve that adapts to the time left.

        With plenty of time the reserve is ``reserve``; with little, it shrinks to
        ``max(floor, a quarter of the time left)`` (never more than ``reserve``), so an 8 s
        budget still checks for 5 s instead of none at all. Decided once, now. Discovery keeps
        to the halfway point of the reserve (``listing``), so it runs whenever there is time.
        """
        kept = min(reserve, max(floor, self.seconds_left() / 4))
        checking = self.earlier(kept)
        return Deadline(checking.seconds_left, listing=self.earlier(kept / 2))

    @property
    def discovery(self) -> Deadline:
        """The deadline discovery keeps to: ``listing`` when there is one, else this one."""
        return self.listing or self

    @property
    def expired(self) -> bool:
        return self.seconds_left() <= 0


class DeadlineExceeded(Exception):
    """Raised inside a retry loop when the deadline passed before the next attempt."""
