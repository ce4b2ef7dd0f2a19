"""Latency and call counting for every AWS call a session makes, via botocore event hooks.

Why ``before-send``: it fires once per HTTP *attempt* (botocore retries re-send, and so do
backupwatch's own retries, which build a new call), so the counts are what AWS would bill and
throttle. ``before-call`` would count API calls before botocore's retry loop instead.

How it works with moto: moto's ``mock_aws`` answers requests from a ``before-send`` handler
that it adds to every botocore session (``BUILTIN_HANDLERS``). botocore's endpoint ``emit``s
``before-send`` to *every* handler and then takes the first response, so handlers registered
around moto's still run. We register one handler first (start a per-thread CPU clock) and one
last (stop it, then sleep the simulated latency):

    [meter.started] -> [moto answers: serialise, dispatch, build the response] -> [meter.sent]

``time.thread_time`` between the two is moto's own CPU per call (excluding sleeps and waits for
the GIL), and the sleep happens with the GIL released, like a real network wait, so threads
overlap their latencies exactly as they would against AWS. ``verify_latency`` checks that the
sleep really lands on each call.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.session


@dataclass
class AwsMeter:
    """Adds ``latency_seconds`` to each HTTP attempt and counts attempts by operation.

    Thread-safe: backupwatch may call AWS from a thread pool.
    """

    latency_seconds: float = 0.0
    calls: Counter[str] = field(default_factory=Counter)
    moto_cpu_seconds: float = 0.0
    """CPU spent inside moto's handler, summed over calls (``time.thread_time``)."""
    max_in_flight: int = 0
    """Most attempts observed between send and response at once: the real concurrency."""
    _in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _local: threading.local = field(default_factory=threading.local, repr=False)

    def attach(self, session: boto3.Session | botocore.session.Session) -> None:
        """Hook the session (boto3's, or a bare botocore one); clients created from it
        afterwards inherit the handlers."""
        events = (
            session.events
            if isinstance(session, boto3.Session)
            else session.get_component("event_emitter")
        )
        events.register_first("before-send", self._started, unique_id="bench-meter-started")
        events.register_last("before-send", self._sent, unique_id="bench-meter-sent")

    def reset(self) -> None:
        """Forget the counts, e.g. between a warm-up and a measured run."""
        with self._lock:
            self.calls.clear()
            self.moto_cpu_seconds = 0.0
            self.max_in_flight = 0

    @property
    def total_calls(self) -> int:
        """HTTP attempts, all operations together."""
        return sum(self.calls.values())

    def _started(self, event_name: str, **_: Any) -> None:
        # event_name is "before-send.<service-id>.<Operation>", e.g. before-send.s3.ListObjectsV2.
        service, operation = event_name.split(".", 2)[1:]
        with self._lock:
            self.calls[f"{service}:{operation}"] += 1
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        self._local.cpu_started = time.thread_time()

    def _sent(self, **_: Any) -> None:
        cpu = time.thread_time() - getattr(self._local, "cpu_started", time.thread_time())
        if self.latency_seconds > 0:
            time.sleep(self.latency_seconds)
        with self._lock:
            self.moto_cpu_seconds += cpu
            self._in_flight -= 1


def verify_latency(session: boto3.Session, meter: AwsMeter, *, calls: int = 5) -> float:
    """Measure the seconds each STS call takes through ``session``: must be >= the latency.

    Raises ``RuntimeError`` when the hook did not add the latency (e.g. moto answered before
    our handler in some future botocore/moto), so a benchmark never silently runs at zero.
    """
    sts = session.client("sts", region_name="us-east-1")
    sts.get_caller_identity()  # builds the client's endpoint etc. outside the timing
    started = time.perf_counter()
    for _ in range(calls):
        sts.get_caller_identity()
    per_call = (time.perf_counter() - started) / calls
    if per_call < meter.latency_seconds * 0.95:
        raise RuntimeError(
            f"latency hook ineffective: {per_call * 1000:.1f} ms per call, "
            f"expected >= {meter.latency_seconds * 1000:.0f} ms"
        )
    return per_call


@dataclass
class HandlerClock:
    """CPU spent in the handlers of some specific ``before-send.<service>.<Operation>`` events
    (``FakeAws``'s), summed over threads: the share of a run that AWS would spend, not us.

    botocore calls an event's handlers registered first, then the built-in ones (the fake's),
    then those registered last, and the specific event's before the generic ``before-send``
    ones (the meter's and moto's); so the interval between ours is the fake's work alone.
    """

    events: tuple[str, ...]
    cpu_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _local: threading.local = field(default_factory=threading.local, repr=False)

    def attach(self, session: boto3.Session) -> None:
        """Hook ``session``; clients created from it afterwards inherit the handlers."""
        for index, event in enumerate(self.events):
            session.events.register_first(event, self._started, unique_id=f"bench-fake-{index}")
            session.events.register_last(event, self._done, unique_id=f"bench-fake-{index}-end")

    def reset(self) -> None:
        with self._lock:
            self.cpu_seconds = 0.0

    def _started(self, **_: Any) -> None:
        self._local.started = time.thread_time()

    def _done(self, **_: Any) -> None:
        cpu = time.thread_time() - getattr(self._local, "started", time.thread_time())
        with self._lock:
            self.cpu_seconds += cpu
