"""A client-side rate limit for RDS: the account's API budget is shared with everyone.

RDS allows a burst of about 300 requests, then about 12 per second, per account and region,
for every tool in the account at once. A monitor that takes all of it makes the console,
Terraform and the on-call's CLI fail with ``Throttling``. ``TokenBucket`` keeps backupwatch
under a fixed rate (default 10 requests/s with a small burst), counting every HTTP attempt,
retries included.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; ``acquire`` waits for one.

    Thread-safe: one bucket is shared by every client of an account and region. The clock and
    the sleep are injectable so tests count waits instead of waiting.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._updated = monotonic()
        self.waited_seconds = 0.0
        """Total time callers spent waiting for a token (for the run's metrics)."""

    def acquire(self) -> None:
        """Take one token, waiting as long as needed for it."""
        with self._lock:
            now = self._monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            # Take the token now, even into debt: callers queue up in order, each waiting
            # for its own turn, and the bucket never hands out more than `rate` per second.
            self._tokens -= 1
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
            self.waited_seconds += wait
        if wait > 0:
            self._sleep(wait)

    def hook(self, **_: Any) -> None:
        """A botocore ``before-send`` handler: one token per HTTP attempt."""
        self.acquire()
