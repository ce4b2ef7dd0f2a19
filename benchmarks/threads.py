"""S3 concurrency against wall time: ``python -m benchmarks.threads`` (issue #18, item 4).

One world, built once; backupwatch's check run on it at each ``BACKUPWATCH_S3_CONCURRENCY`` of
``--threads``, the order ascending in odd rounds and descending in even ones, ``--repeat``
rounds. Every run must reach the world's verdict counts (else exit 1). For each thread count
the table shows the median wall time beside the floors it cannot beat:

- *latency floor*: calls / threads x latency, every call's wait spread evenly over the threads;
- *path floor*: the larger of that for the S3 calls alone and the RDS calls one after another
  (discovery's pages, then the snapshot listing's: one region's RDS listing is one chain of
  pages, which no number of S3 threads shortens); the RDS chain runs beside the S3 checks;
- *RDS rate floor*: (RDS calls - burst) / rate, the client-side token bucket's wait. The run
  sets a rate (``--rds-rps``, ``--rds-burst``) high enough not to bind, so the S3 concurrency is
  what is measured; the table also shows the floor at backupwatch's defaults (10/s, burst 10).

And the CPU: the process's (``time.process_time``, every thread) and, of it, moto's.
``--moto in-process`` (the default): moto answers inside this process (``mock_aws``, the
world of ``benchmarks/world.py`` patched by ``benchmarks/moto_patches.py``), and its CPU is what
``benchmarks/meter.py`` clocks inside its handler; it shares the interpreter lock with the
client, so a wall time at the process's CPU is moto-bound, not latency-bound. ``--moto server``:
moto in a process of its own (``benchmarks/cpu_server.py``, answers replayed after a warm-up
run), its CPU read from ``/proc``: the client alone in this process, as in Lambda.

*client CPU* = process CPU - moto's (in-process) or the process CPU (server). From it, the wall
time on Lambda: max(path floor, client CPU / vCPU share), with the share of the function's
memory (1,769 MB = 1 vCPU; ``LAMBDA_VCPU``). A Python process runs its Python code on one
thread at a time, so a share above 1 vCPU is counted as 1 (``effective_share``).

Peak RSS is the process's ``VmHWM``, reset before each run (``/proc/self/clear_refs``), so it
is that run's peak over the world already in memory; the load average is read before and
after each run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import boto3

from .approaches import backupwatch_settings, run_backupwatch
from .meter import AwsMeter, verify_latency
from .report import git_state
from .world import REGION, WorldSpec

DEFAULT_THREADS = (8, 16, 32, 64, 128)
DEFAULT_RDS_RPS = 10.0
DEFAULT_RDS_BURST = 10
"""backupwatch's own defaults (``Settings``), for the RDS rate floor the table shows beside."""
LAMBDA_VCPU: tuple[tuple[int, float], ...] = ((512, 0.29), (1024, 0.58), (1769, 1.0), (3538, 2.0))
"""Lambda memory (MB) -> vCPU share: 1,769 MB is one vCPU, in proportion below and above."""
LAMBDA_MB_PER_VCPU = 1769
MIB = 1024

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


# --- the arithmetic -------------------------------------------------------------------------


def latency_floor(calls: int, threads: int, latency: float) -> float:
    """Seconds for ``calls`` waits of ``latency`` each, ``threads`` at a time."""
    return calls / threads * latency


def path_floor(rds_calls: int, s3_calls: int, threads: int, latency: float) -> float:
    """The S3 calls ``threads`` at a time, beside one chain of RDS pages: the longer of the two."""
    return max(rds_calls * latency, latency_floor(s3_calls, threads, latency))


def rds_rate_floor(rds_calls: int, rate: float, burst: int) -> float:
    """Seconds the client-side token bucket holds ``rds_calls`` back (burst tokens are free)."""
    return max(0.0, (rds_calls - burst) / rate)


def vcpu_share(memory_mb: int) -> float:
    """Lambda's vCPU share of a function with ``memory_mb`` of memory."""
    return memory_mb / LAMBDA_MB_PER_VCPU


def effective_share(share: float) -> float:
    """The share the client's Python can use: its interpreter lock runs one thread at a time."""
    return min(share, 1.0)


def lambda_wall(floor: float, client_cpu: float, share: float) -> float:
    """Wall time on Lambda, about: the latency-bound path or the CPU, whichever is longer."""
    return max(floor, client_cpu / effective_share(share))


def threads_for(latency: float, cpu_per_call: float, share: float) -> float:
    """Threads that keep the CPU busy for the whole latency: each thread waits ``latency`` per
    call while the function's CPU, at ``share`` of a vCPU, can do one call in
    ``cpu_per_call / share``; more threads than that only queue for the CPU."""
    return latency * effective_share(share) / cpu_per_call


# --- one run --------------------------------------------------------------------------------


@dataclass
class Sample:
    """One measured run of backupwatch at ``threads``."""

    threads: int
    round: int
    wall: float
    cpu: float
    """Process CPU seconds (user + sys, every thread)."""
    moto_cpu: float
    """Of ``cpu`` (in-process) or in the server's process: moto's seconds."""
    client_cpu: float
    calls: dict[str, int]
    max_in_flight: int
    rss_peak_mib: float
    load_before: float
    load_after: float
    verdicts: dict[str, int] = field(default_factory=dict)

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    @property
    def rds_calls(self) -> int:
        return sum(n for name, n in self.calls.items() if name.startswith("rds:"))

    @property
    def s3_calls(self) -> int:
        return self.total_calls - self.rds_calls


class Bench:
    """The world, its session and meter; ``run(threads)`` measures one check."""

    def __init__(self, args: argparse.Namespace, session: boto3.Session, meter: AwsMeter) -> None:
        self.args = args
        self.session = session
        self.meter = meter
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.expected: dict[str, int] = {}
        self.server_cpu: Callable[[], float] | None = None
        """In server mode: the moto server process's CPU seconds so far."""

    def run(self, threads: int, number: int) -> Sample:
        settings = backupwatch_settings(
            s3_concurrency=threads,
            rds_requests_per_second=self.args.rds_rps,
            rds_burst=self.args.rds_burst,
        )
        self.meter.reset()
        _reset_peak_rss()
        load_before = os.getloadavg()[0]
        server_before = self.server_cpu() if self.server_cpu else 0.0
        cpu, started = time.process_time(), time.perf_counter()
        verdicts = run_backupwatch(self.session, settings, self.now)
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu
        if self.server_cpu is not None:
            moto = self.server_cpu() - server_before
            client = cpu
        else:
            moto = self.meter.moto_cpu_seconds
            client = cpu - moto
        return Sample(
            threads=threads,
            round=number,
            wall=wall,
            cpu=cpu,
            moto_cpu=moto,
            client_cpu=client,
            calls=dict(sorted(self.meter.calls.items())),
            max_in_flight=self.meter.max_in_flight,
            rss_peak_mib=_peak_rss_kib() / MIB,
            load_before=load_before,
            load_after=os.getloadavg()[0],
            verdicts=verdicts,
        )


@contextmanager
def world(args: argparse.Namespace) -> Iterator[Bench]:
    """The world of ``args.tenants`` (built once), a metered session on it, checked warm."""
    for name, value in FAKE_CREDENTIALS.items():
        os.environ[name] = value
    os.environ.setdefault("MOTO_ACCOUNT_ID", "123456789012")
    meter = AwsMeter(latency_seconds=args.latency_ms / 1000)
    if args.moto == "server":
        with _served(args, meter) as bench:
            yield bench
        return
    from moto import mock_aws

    from . import moto_patches
    from .worker import _build, _warm_up

    with mock_aws():
        moto_patches.install()
        try:
            session = boto3.Session(region_name=REGION)
            meter.attach(session)
            bench = Bench(args, session, meter)
            spec = WorldSpec(tenants=args.tenants, now=bench.now)
            bench.expected = spec.expected_verdicts()
            seconds = _build(spec, patched=True)
            _progress(f"world of {args.tenants:,} tenants built in {seconds:.1f} s (in-process)")
            verify_latency(session, meter)
            _warm_up(session)
            yield bench
        finally:
            moto_patches.uninstall()


@contextmanager
def _served(args: argparse.Namespace, meter: AwsMeter) -> Iterator[Bench]:
    """moto in a server process (``benchmarks.cpu_server``, replay on); the client here."""
    from .cpu import _Server

    server_args = argparse.Namespace(snapshots=7, objects=30, no_replay=False)
    with _Server(args.tenants, server_args) as server:
        os.environ["AWS_ENDPOINT_URL"] = server.endpoint
        try:
            session = boto3.Session(region_name=REGION)
            meter.attach(session)
            bench = Bench(args, session, meter)
            bench.now = server.now
            bench.expected = WorldSpec(tenants=args.tenants, now=server.now).expected_verdicts()
            assert server.process is not None
            pid = server.process.pid
            bench.server_cpu = lambda: _process_cpu(pid)
            verify_latency(session, meter)
            yield bench
        finally:
            os.environ.pop("AWS_ENDPOINT_URL", None)


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux ``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _reset_peak_rss() -> None:
    """Linux: ``5`` to ``/proc/self/clear_refs`` resets ``VmHWM`` to the current RSS."""
    with suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_rss_kib() -> int:
    with suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# --- the rounds and the table ---------------------------------------------------------------


def order(threads: Sequence[int], number: int) -> list[int]:
    """Round ``number`` (1-based): ascending when odd, descending when even."""
    ascending = sorted(threads)
    return ascending if number % 2 else ascending[::-1]


def measure(args: argparse.Namespace) -> tuple[list[Sample], Sample | None, float]:
    """Build the world, warm up, run the rounds: (samples, warm-up, world RSS MiB)."""
    samples: list[Sample] = []
    with world(args) as bench:
        warmup: Sample | None = None
        if args.warmup:
            # Loads backupwatch's lazy imports and fills the server's replay (moto's CPU
            # otherwise lands on the first measured run); not in the medians.
            _progress(f"warm-up at {max(args.threads)} threads...")
            warmup = bench.run(max(args.threads), 0)
            _check(bench, warmup)
        world_rss = _current_rss_kib() / MIB
        for number in range(1, args.repeat + 1):
            for threads in order(args.threads, number):
                _progress(f"round {number}/{args.repeat}: {threads} threads...")
                sample = bench.run(threads, number)
                _check(bench, sample)
                _progress(
                    f"  wall {sample.wall:.2f} s, CPU {sample.cpu:.1f} s (moto "
                    f"{sample.moto_cpu:.1f}), {sample.total_calls:,} calls, load "
                    f"{sample.load_before:.2f}-{sample.load_after:.2f}"
                )
                samples.append(sample)
    return samples, warmup, world_rss


def _check(bench: Bench, sample: Sample) -> None:
    if sample.verdicts != bench.expected:
        raise SystemExit(
            f"verdicts differ at {sample.threads} threads: {sample.verdicts} != {bench.expected}"
        )


def _current_rss_kib() -> int:
    with suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@dataclass(frozen=True)
class Row:
    """The medians of one thread count, and the floors computed from them."""

    threads: int
    walls: list[float]
    calls: int
    rds_calls: int
    s3_calls: int
    latency: float
    floor: float
    path: float
    rds_rate_default: float
    cpu: float
    moto_cpu: float
    client_cpu: float
    max_in_flight: int
    rss_peak_mib: float
    loads: list[float]
    lambda_walls: dict[int, float]

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu_per_call_ms(self) -> float:
        return self.client_cpu / self.calls * 1000


def rows(samples: Sequence[Sample], latency: float) -> list[Row]:
    """One row per thread count, ascending: medians, and floors from the median counts."""
    found: list[Row] = []
    for threads in sorted({s.threads for s in samples}):
        mine = [s for s in samples if s.threads == threads]
        calls = round(statistics.median(s.total_calls for s in mine))
        rds = round(statistics.median(s.rds_calls for s in mine))
        s3 = calls - rds
        client = statistics.median(s.client_cpu for s in mine)
        path = path_floor(rds, s3, threads, latency)
        found.append(
            Row(
                threads=threads,
                walls=[s.wall for s in mine],
                calls=calls,
                rds_calls=rds,
                s3_calls=s3,
                latency=latency,
                floor=latency_floor(calls, threads, latency),
                path=path,
                rds_rate_default=rds_rate_floor(rds, DEFAULT_RDS_RPS, DEFAULT_RDS_BURST),
                cpu=statistics.median(s.cpu for s in mine),
                moto_cpu=statistics.median(s.moto_cpu for s in mine),
                client_cpu=client,
                max_in_flight=max(s.max_in_flight for s in mine),
                rss_peak_mib=max(s.rss_peak_mib for s in mine),
                loads=[x for s in mine for x in (s.load_before, s.load_after)],
                lambda_walls={mb: lambda_wall(path, client, share) for mb, share in LAMBDA_VCPU},
            )
        )
    return found


def table(found: Sequence[Row]) -> str:
    """The measured table (Markdown)."""
    head = (
        "| threads | wall s, median (runs) | AWS calls (RDS) | floor s = calls / threads x "
        "latency | path floor s | wall / floor | wall / path floor | CPU s | moto CPU s | "
        "client CPU s (ms/call) | max in flight | peak RSS MiB | load average before-after |"
    )
    lines = [head, "|" + _rule(head)]
    for row in found:
        runs = ", ".join(f"{w:.1f}" for w in row.walls)
        lines.append(
            f"| {row.threads} | {row.wall:.1f} ({runs}) | {row.calls:,} ({row.rds_calls}) | "
            f"{row.floor:.2f} | {row.path:.2f} | {row.wall / row.floor:.1f} | "
            f"{row.wall / row.path:.1f} | {row.cpu:.1f} | {row.moto_cpu:.1f} | "
            f"{row.client_cpu:.1f} ({row.cpu_per_call_ms:.2f}) | {row.max_in_flight} | "
            f"{row.rss_peak_mib:.0f} | {min(row.loads):.2f}-{max(row.loads):.2f} |"
        )
    return "\n".join(lines)


def _rule(head: str) -> str:
    return "---|" * (head.count("|") - 1)


def lambda_table(found: Sequence[Row]) -> str:
    """Wall time on Lambda, about max(path floor, client CPU / share), by memory."""
    mbs = [mb for mb, _ in LAMBDA_VCPU]
    head = "| threads | path floor s | " + " | ".join(
        f"{mb:,} MB ({share:g} vCPU) s" for mb, share in LAMBDA_VCPU
    )
    head += " |"
    lines = [head, "|" + _rule(head)]
    for row in found:
        cells = " | ".join(f"{row.lambda_walls[mb]:.1f}" for mb in mbs)
        lines.append(f"| {row.threads} | {row.path:.2f} | {cells} |")
    return "\n".join(lines)


def recommendation(found: Sequence[Row], latency: float) -> str:
    """Threads that match the latency to the CPU, per memory, from the measured CPU per call."""
    lowest = min(found, key=lambda row: row.threads)
    per_call = lowest.client_cpu / lowest.calls
    lines = [
        f"Client CPU per call at {lowest.threads} threads: {per_call * 1000:.2f} ms. "
        f"threads = latency x min(vCPU share, 1) / CPU per call, at {latency * 1000:g} ms:",
        "",
        "| memory MB | vCPU share | threads that keep the CPU busy |",
        "|---|---|---|",
    ]
    for mb, share in LAMBDA_VCPU:
        lines.append(f"| {mb:,} | {share:g} | {threads_for(latency, per_call, share):.1f} |")
    return "\n".join(lines)


def report(
    args: argparse.Namespace, samples: Sequence[Sample], warmup: Sample | None, world_rss: float
) -> str:
    latency = args.latency_ms / 1000
    found = rows(samples, latency)
    import botocore

    loads = [x for s in samples for x in (s.load_before, s.load_after)]
    header = [
        "## backupwatch wall time by S3 concurrency (benchmarks.threads)",
        f"- machine: {os.cpu_count()} CPUs; python {sys.version.split()[0]}, boto3 "
        f"{boto3.__version__}, botocore {botocore.__version__}; backupwatch {git_state()}",
        f"- {args.tenants:,} tenants, {args.latency_ms:g} ms per AWS call, moto {args.moto}; "
        f"RDS rate {args.rds_rps:g}/s, burst {args.rds_burst} (not binding); median of "
        f"{args.repeat} round(s), order alternating; load average "
        f"{min(loads):.2f}-{max(loads):.2f}",
        f"- RSS with the world built, before the runs: {world_rss:.0f} MiB",
    ]
    if warmup is not None:
        header.append(
            f"- warm-up ({warmup.threads} threads, not in the medians): wall {warmup.wall:.1f} s,"
            f" CPU {warmup.cpu:.1f} s, moto {warmup.moto_cpu:.1f} s"
        )
    if found:
        rate = found[0].rds_rate_default
        header.append(
            f"- RDS rate floor at backupwatch's defaults ({DEFAULT_RDS_RPS:g}/s, burst "
            f"{DEFAULT_RDS_BURST}): {rate:.1f} s for {found[0].rds_calls} RDS calls"
        )
    return "\n\n".join(
        [
            "\n".join(header),
            table(found),
            "Wall time on Lambda, about max(path floor, client CPU / min(vCPU share, 1)):",
            lambda_table(found),
            recommendation(found, latency),
        ]
    )


# --- the command ----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.threads",
        description="backupwatch's wall time by S3 concurrency, beside the latency floor.",
    )
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--threads", type=_ints, default=list(DEFAULT_THREADS))
    parser.add_argument("--latency-ms", type=float, default=50.0, help="added per AWS call")
    parser.add_argument("--repeat", type=int, default=2, help="rounds (order alternates)")
    parser.add_argument(
        "--rds-rps", type=float, default=100.0, help="BACKUPWATCH_RDS_REQUESTS_PER_SECOND"
    )
    parser.add_argument("--rds-burst", type=int, default=300, help="BACKUPWATCH_RDS_BURST")
    parser.add_argument("--moto", choices=("in-process", "server"), default="in-process")
    parser.add_argument(
        "--no-warmup", dest="warmup", action="store_false", help="no unmeasured first run"
    )
    parser.add_argument("--json", metavar="FILE", help="also write every run here")
    return parser.parse_args(argv)


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    samples, warmup, world_rss = measure(args)
    print(report(args, samples, warmup, world_rss))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump([asdict(s) for s in samples], out, indent=2)
    return 0


def _progress(message: str) -> None:
    print(f"[threads] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
