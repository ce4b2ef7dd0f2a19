"""The client's own CPU per tenant: ``python -m benchmarks.cpu`` (part of ``make bench``).

Issue #18. One moto server per size, in a process of its own (``benchmarks.cpu_server``: the
world is built there), and every client run in a fresh process of its own
(``benchmarks.cpu_client``) pointed at it by ``AWS_ENDPOINT_URL``, so a client's CPU and memory
are its own and nothing of moto's:

- ``naive``: the seed's algorithm made correct (``benchmarks/naive.py``): sequential, per tenant
  one filtered DescribeDBSnapshots and one ListObjectsV2;
- ``minimal``: the honest simple client (``benchmarks/minimal.py``): boto3 with botocore's
  defaults, 64 threads, one bulk DescribeDBSnapshots listing + one ListObjectsV2 per tenant, no
  retries, no models;
- ``backupwatch``: ``check_tenants(load_settings(...))`` with default settings, as a caller
  writes it (its own session).

For each: process CPU (user + sys, ``getrusage``) per tenant, wall time, AWS calls per tenant
(counted by the server), peak RSS and the baseline RSS of the interpreter and imports, the
load average at the start of the run. The clients take turns round after round (the order
rotates), and the table shows medians over ``--repeat`` rounds. With replay (the default), the
server answers a request it has seen with the same bytes (``benchmarks/cpu_server.py``), so
the first round is a warm-up: recorded and verdict-checked, not in the medians.

Every run's verdicts, tenant by tenant, must equal what the world was built to produce (so
every client agrees with every other, in every round): otherwise the command says which
tenants differ and exits 1. ``--results FILE`` keeps each run as a JSON line; with ``--resume``
the runs already there are not run again.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .cpu_client import CLIENTS, ClientJob
from .cpu_server import ServerSpec
from .world import fate, tenant_name

MIB = 1024


@dataclass(frozen=True)
class Run:
    """One client run as recorded: where it sits, and what ``cpu_client`` measured."""

    tenants: int
    client: str
    round: int
    warmup: bool
    load: list[float]
    calls: dict[str, int]
    result: dict[str, Any]
    settings: dict[str, Any]

    @property
    def cpu_ms_per_tenant(self) -> float:
        seconds = float(self.result["cpu_user"]) + float(self.result["cpu_sys"])
        return seconds * 1000 / self.tenants


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.cpu",
        description="Client CPU per tenant: naive, minimal and backupwatch against one moto "
        "server, each run in a fresh process.",
    )
    parser.add_argument("--sizes", type=_ints, default=[1000, 10000], help="tenant counts")
    parser.add_argument("--repeat", type=int, default=3, help="measured rounds per size")
    parser.add_argument("--clients", type=_names, default=list(CLIENTS))
    parser.add_argument(
        "--naive-max-n",
        type=int,
        default=1000,
        help="run naive only up to this N (it makes ~2 sequential calls per tenant)",
    )
    parser.add_argument("--threads", type=int, default=64, help="the minimal client's threads")
    parser.add_argument("--snapshots", type=int, default=7, help="automated ones per tenant")
    parser.add_argument("--objects", type=int, default=30, help="S3 objects per tenant")
    parser.add_argument(
        "--no-replay", action="store_true", help="moto answers every request (no warm-up round)"
    )
    parser.add_argument("--results", metavar="FILE", help="append each run here (JSON lines)")
    parser.add_argument(
        "--resume", action="store_true", help="skip the runs --results already holds"
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="after the rounds, one cProfile run per client and size: DIR/<client>-<N>.prof/.txt",
    )
    args = parser.parse_args(argv)
    if args.resume and not args.results:
        parser.error("--resume needs --results FILE")
    return args


def _ints(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def _names(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = set(names) - set(CLIENTS)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown client(s): {', '.join(sorted(unknown))}")
    return names


def main(argv: Sequence[str] | None = None) -> int:
    """Run the rounds, print the table; exit 1 if any run's verdicts differ."""
    args = parse_args(argv)
    settings = {
        "snapshots": args.snapshots,
        "objects": args.objects,
        "replay": not args.no_replay,
        "threads": args.threads,
    }
    done = _load(args.results, settings) if args.resume else []
    runs = list(done)
    header = _header()
    header += "\n- load average at the start: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    wrong: list[str] = []
    for tenants in sorted(args.sizes):
        clients = [c for c in args.clients if c != "naive" or tenants <= args.naive_max_n]
        skipped = [c for c in args.clients if c not in clients]
        if skipped:
            _progress(f"N={tenants:,}: naive skipped (--naive-max-n {args.naive_max_n:,})")
        todo = [
            (number, client)
            for number in range(1, args.repeat + 1)
            for client in _rotated(clients, number)
            if not any(
                r.tenants == tenants and r.client == client and r.round == number for r in done
            )
        ]
        if settings["replay"]:  # a fresh server: each client's requests answered once first
            pending = {client for _, client in todo}
            todo = [(0, client) for client in clients if client in pending] + todo
        if not todo and not args.profile:
            continue
        with _Server(tenants, args) as server:
            for number, client in todo:
                run = _client_run(server, client, tenants, number, args, settings)
                runs.append(run)
                if args.results:
                    _append(args.results, run)
                wrong += _verdict_errors(run)
                if wrong:
                    break
            if args.profile and not wrong:
                for client in clients:
                    _profile(server, client, tenants, args)
        if wrong:
            break
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(report(runs, f"{header}\n- load average at the end: {load}", args.repeat))
    if wrong:
        print("\n**VERDICTS DIFFER**:\n" + "\n".join(f"- {line}" for line in wrong))
        return 1
    return 0


def _rotated(clients: list[str], number: int) -> list[str]:
    """The clients in turn, starting one further each round."""
    shift = number % len(clients) if clients else 0
    return clients[shift:] + clients[:shift]


class _Server:
    """``benchmarks.cpu_server`` for one size: started, and stopped by closing its stdin."""

    def __init__(self, tenants: int, args: argparse.Namespace) -> None:
        self.tenants = tenants
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.spec = ServerSpec(
            tenants=tenants,
            now=self.now.isoformat(),
            snapshots_per_tenant=args.snapshots,
            objects_per_tenant=args.objects,
            replay=not args.no_replay,
        )
        self.process: subprocess.Popen[str] | None = None
        self.endpoint = ""

    def __enter__(self) -> _Server:
        _progress(f"N={self.tenants:,}: building the world in the moto server...")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.cpu_server", json.dumps(asdict(self.spec))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"the moto server for N={self.tenants} did not start")
        ready = json.loads(line)
        self.endpoint = f"http://127.0.0.1:{ready['port']}"
        _progress(f"N={self.tenants:,}: world built in {ready['world_seconds']:.0f} s")
        return self

    def __exit__(self, *_: object) -> None:
        if self.process is not None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            self.process.wait(timeout=60)

    def control(self, action: str) -> dict[str, Any]:
        method = "POST" if action == "reset" else "GET"
        request = urllib.request.Request(f"{self.endpoint}/__bench__/{action}", method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            payload: dict[str, Any] = json.load(response)
        return payload


def _client_run(
    server: _Server,
    client: str,
    tenants: int,
    number: int,
    args: argparse.Namespace,
    settings: dict[str, Any],
) -> Run:
    label = "warm-up" if number == 0 else f"round {number}/{args.repeat}"
    load = list(os.getloadavg())
    _progress(f"N={tenants:,} {client} ({label}), load {load[0]:.2f}...")
    server.control("reset")
    result = _spawn(
        ClientJob(
            client=client,
            endpoint=server.endpoint,
            now=server.now.isoformat(),
            threads=args.threads,
        )
    )
    counted = server.control("calls")
    run = Run(
        tenants=tenants,
        client=client,
        round=number,
        warmup=number == 0,
        load=load,
        calls=counted["calls"],
        result=result,
        settings=settings,
    )
    _progress(
        f"  {run.cpu_ms_per_tenant:.2f} ms CPU per tenant, wall {result['wall']:.1f} s, "
        f"{sum(run.calls.values()):,} calls ({counted['replayed']:,} replayed)"
    )
    return run


def _spawn(job: ClientJob) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.cpu_client", json.dumps(asdict(job))],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        sys.stderr.write(completed.stderr)
        raise SystemExit(f"the {job.client} client failed")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def _profile(server: _Server, client: str, tenants: int, args: argparse.Namespace) -> None:
    """One run under cProfile; its stats, and the top of them as text, in ``args.profile``."""
    import pstats

    folder = Path(args.profile)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{client}-{tenants}.prof"
    _progress(f"N={tenants:,} {client}: profiling to {path}")
    _spawn(
        ClientJob(
            client=client,
            endpoint=server.endpoint,
            now=server.now.isoformat(),
            threads=args.threads,
            profile=str(path),
        )
    )
    with open(path.with_suffix(".txt"), "w", encoding="utf-8") as out:
        stats = pstats.Stats(str(path), stream=out)
        stats.sort_stats("tottime").print_stats(40)
        stats.sort_stats("cumulative").print_stats(60)


def expected_verdicts(tenants: int) -> dict[str, str]:
    """What the world was built to produce, tenant by tenant (``benchmarks/world.py``)."""
    return {tenant_name(index): fate(index).verdict for index in range(tenants)}


def _verdict_errors(run: Run) -> list[str]:
    """Lines naming the tenants whose verdict differs from the world's, if any."""
    expected = expected_verdicts(run.tenants)
    got: dict[str, str] = run.result["verdicts"]
    differ = sorted(
        name for name in expected.keys() | got.keys() if expected.get(name) != got.get(name)
    )
    if not differ:
        return []
    sample = ", ".join(f"{n}: {got.get(n)} (world: {expected.get(n)})" for n in differ[:5])
    return [
        f"N={run.tenants:,} {run.client} round {run.round}: {len(differ)} tenant(s) differ: "
        f"{sample}"
    ]


def _load(path: str, settings: dict[str, Any]) -> list[Run]:
    """The runs of ``path`` made with the same settings (others are ignored)."""
    if not os.path.exists(path):
        return []
    runs = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            data = json.loads(line)
            if data["settings"] == settings:
                runs.append(Run(**data))
    return runs


def _append(path: str, run: Run) -> None:
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(asdict(run)) + "\n")


def _header() -> str:
    import boto3
    import botocore
    import moto

    return (
        f"- machine: {os.cpu_count()} CPUs ({platform.machine()}), {platform.system()}, "
        f"shared; python {platform.python_version()}, boto3 {boto3.__version__}, "
        f"botocore {botocore.__version__}, moto {moto.__version__}"
    )


def report(runs: Sequence[Run], header: str, repeat: int) -> str:
    """The Markdown table of the measured rounds (warm-ups left out), and the ratios."""
    measured = [run for run in runs if not run.warmup]
    lines = [
        "## Client CPU per tenant (benchmarks.cpu)",
        header,
        f"- medians over {repeat} round(s); each run a fresh process against one moto server "
        "per size; the load average is the 1-minute figure at the start of each run",
        "",
        "| N | client | CPU ms/tenant | user + sys s | wall s | calls/tenant | peak RSS MiB "
        "| baseline RSS MiB | GC collections (share of CPU) | load average |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    sizes = sorted({run.tenants for run in measured})
    clients = [c for c in CLIENTS if any(run.client == c for run in measured)]
    for tenants in sizes:
        for client in clients:
            cell = [r for r in measured if r.tenants == tenants and r.client == client]
            if cell:
                lines.append(_row(tenants, client, cell))
    lines += ["", *_ratios(measured, sizes), "", "Calls per tenant by operation:", ""]
    for tenants in sizes:
        for client in clients:
            cell = [r for r in measured if r.tenants == tenants and r.client == client]
            if cell:
                calls = ", ".join(
                    f"{name.split(':')[1]} {count / tenants:.3f}"
                    for name, count in sorted(cell[0].calls.items())
                )
                lines.append(f"- N={tenants:,} {client}: {calls}")
    return "\n".join(lines)


def _row(tenants: int, client: str, cell: list[Run]) -> str:
    cpu = [run.cpu_ms_per_tenant for run in cell]
    user = statistics.median(run.result["cpu_user"] for run in cell)
    system = statistics.median(run.result["cpu_sys"] for run in cell)
    wall = statistics.median(run.result["wall"] for run in cell)
    calls = statistics.median(sum(run.calls.values()) for run in cell)
    peak = statistics.median(run.result["rss_peak_kib"] for run in cell) / MIB
    base = statistics.median(run.result["rss_baseline_kib"] for run in cell) / MIB
    collections = statistics.median(sum(run.result["gc_collections"]) for run in cell)
    gc_share = statistics.median(
        run.result.get("gc_seconds", 0.0)
        / max(run.result["cpu_user"] + run.result["cpu_sys"], 1e-9)
        for run in cell
    )
    loads = [run.load[0] for run in cell]
    return (
        f"| {tenants:,} | {client} | **{statistics.median(cpu):.2f}** ({min(cpu):.2f}-"
        f"{max(cpu):.2f}) | {user:.1f} + {system:.1f} | {wall:.1f} | {calls / tenants:.3f} "
        f"| {peak:.0f} | {base:.0f} | {collections:.0f} ({gc_share:.0%}) "
        f"| {min(loads):.2f}-{max(loads):.2f} |"
    )


def _ratios(runs: Sequence[Run], sizes: list[int]) -> list[str]:
    """backupwatch / minimal (ratio of medians, and median of the per-round ratios); each
    client's marginal CPU per tenant between the smallest and the largest size."""
    lines = []
    for tenants in sizes:
        by_client = {
            c: {
                r.round: r.cpu_ms_per_tenant for r in runs if r.tenants == tenants and r.client == c
            }
            for c in CLIENTS
        }
        ours, theirs = by_client["backupwatch"], by_client["minimal"]
        if ours and theirs:
            rounds = sorted(ours.keys() & theirs.keys())
            paired = statistics.median(ours[n] / theirs[n] for n in rounds) if rounds else None
            lines.append(
                f"- N={tenants:,}: backupwatch / minimal CPU per tenant = "
                f"{statistics.median(ours.values()) / statistics.median(theirs.values()):.2f}"
                + (f" (median of the per-round ratios {paired:.2f})" if paired else "")
            )
    if len(sizes) > 1:
        low, high = sizes[0], sizes[-1]
        for client in CLIENTS:
            a = [r.cpu_ms_per_tenant * low for r in runs if r.tenants == low and r.client == client]
            b = [
                r.cpu_ms_per_tenant * high for r in runs if r.tenants == high and r.client == client
            ]
            if a and b:
                marginal = (statistics.median(b) - statistics.median(a)) / (high - low)
                lines.append(
                    f"- {client}: marginal CPU per tenant from N={low:,} to N={high:,}: "
                    f"{marginal:.2f} ms (fixed costs such as loading botocore's models cancel)"
                )
    return lines


def _progress(message: str) -> None:
    print(f"[bench.cpu {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
