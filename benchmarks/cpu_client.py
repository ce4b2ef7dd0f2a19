"""One client run of ``benchmarks.cpu``, in a fresh process.

``python -m benchmarks.cpu_client JOB``, where ``JOB`` is a JSON ``ClientJob``. The process
imports what its client needs (boto3 alone for ``naive`` and ``minimal``; boto3 and
backupwatch for ``backupwatch``), records its resident set (the *baseline*: interpreter and
imports), then runs the client once against the moto server
at ``endpoint`` (``AWS_ENDPOINT_URL``) and records:

- process CPU (``getrusage(RUSAGE_SELF)``, user and system) and wall time of the run: from
  building the session to the last verdict, so client construction and botocore's model
  loading are in it, as they are in every real run;
- peak RSS (``VmHWM``) after it, and the garbage collections during it (how many, and
  the time inside them);
- every tenant's verdict.

With ``profile``, the run is under ``cProfile`` instead and its stats go to that file (its
CPU figures are then not comparable). The result is one JSON line on stdout.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
CLIENTS = ("naive", "minimal", "backupwatch")


@dataclass(frozen=True)
class ClientJob:
    client: str
    endpoint: str
    now: str
    """The world's ``now`` (ISO 8601): the clients' clock."""
    threads: int = 64
    """The minimal client's pool."""
    profile: str | None = None


@dataclass
class ClientResult:
    job: ClientJob
    cpu_user: float = 0.0
    cpu_sys: float = 0.0
    wall: float = 0.0
    import_cpu: float = 0.0
    """CPU seconds of the imports, before the run (not in ``cpu_user``/``cpu_sys``)."""
    rss_baseline_kib: int = 0
    rss_peak_kib: int = 0
    gc_collections: list[int] = field(default_factory=list)
    gc_seconds: float = 0.0
    """CPU time inside the garbage collector during the run (``gc.callbacks``)."""
    verdicts: dict[str, str] = field(default_factory=dict)


def main(argv: list[str]) -> int:
    job = ClientJob(**json.loads(argv[1]))
    os.environ.update(FAKE_CREDENTIALS)
    os.environ["AWS_ENDPOINT_URL"] = job.endpoint
    result = ClientResult(job=job)
    before = _cpu()
    run = _client(job)
    result.import_cpu = _cpu() - before
    result.rss_baseline_kib = _max_rss_kib()
    collections = [stats["collections"] for stats in gc.get_stats()]
    gc_clock = _GcClock()
    gc.callbacks.append(gc_clock)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    if job.profile:
        result.verdicts = _profiled(run, job.profile)
    else:
        result.verdicts = run()
    result.wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    result.cpu_user = after.ru_utime - usage.ru_utime
    result.cpu_sys = after.ru_stime - usage.ru_stime
    gc.callbacks.remove(gc_clock)
    result.gc_seconds = gc_clock.seconds
    result.rss_peak_kib = _max_rss_kib()
    result.gc_collections = [
        stats["collections"] - earlier
        for stats, earlier in zip(gc.get_stats(), collections, strict=True)
    ]
    print(json.dumps(asdict(result)))
    return 0


def _client(job: ClientJob) -> Callable[[], dict[str, str]]:
    """Import what ``job.client`` needs (and nothing else) and return its run."""
    now = datetime.fromisoformat(job.now)
    if job.client == "naive":
        import boto3

        from .naive import naive_verdicts
        from .world import REGION

        return lambda: naive_verdicts(boto3.Session(region_name=REGION), now)
    if job.client == "minimal":
        from .minimal import minimal_verdicts

        return lambda: minimal_verdicts(now, threads=job.threads)
    if job.client == "backupwatch":
        from .approaches import backupwatch_settings, backupwatch_verdicts

        return lambda: backupwatch_verdicts(backupwatch_settings(), now)
    raise ValueError(f"unknown client {job.client!r}")


class _GcClock:
    """Sums the CPU time between each collection's start and stop (a ``gc.callbacks`` entry):
    a collection runs in the thread whose allocation triggered it, so that thread's clock,
    which a preemption in the middle does not advance."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = threading.local()

    def __call__(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._started.at = time.thread_time()
        else:
            self.seconds += time.thread_time() - getattr(self._started, "at", time.thread_time())


def _profiled(run: Callable[[], dict[str, str]], path: str) -> dict[str, str]:
    """``run()`` under cProfile, in every thread it starts too (cProfile sees only the thread
    that enabled it): one profiler per thread, clocked by that thread's CPU time (not the wall
    clock, which would count the waits of 64 threads), merged into ``path``."""
    import cProfile
    import pstats

    profilers: list[cProfile.Profile] = []
    original = threading.Thread.run

    def profiled_run(self: threading.Thread) -> None:
        profiler = cProfile.Profile(time.thread_time)
        profilers.append(profiler)
        profiler.runcall(original, self)

    threading.Thread.run = profiled_run  # type: ignore[method-assign]
    main = cProfile.Profile(time.thread_time)
    try:
        verdicts = main.runcall(run)
    finally:
        threading.Thread.run = original  # type: ignore[method-assign]
    stats = pstats.Stats(main)
    for profiler in profilers:
        stats.add(profiler)
    stats.dump_stats(path)
    return verdicts


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _max_rss_kib() -> int:
    """Peak resident set size of this process so far, in KiB: Linux's ``VmHWM``.

    Not ``ru_maxrss``: Linux carries it across ``execve``, so a child started by a parent of
    300 MiB reports at least 300 MiB from its first line on. ``VmHWM`` belongs to the
    process's own memory, which ``execve`` replaces. Elsewhere, ``ru_maxrss`` it is.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


if __name__ == "__main__":
    sys.exit(main(sys.argv))
