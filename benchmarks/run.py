"""The one command: ``python -m benchmarks.run`` (or ``make bench``). See ``--help``.

Runs the naive baseline and backupwatch for each N, each in a fresh process
(``benchmarks.worker``), and prints a Markdown table to stdout; progress goes to stderr, so
``python -m benchmarks.run > table.md`` keeps only what belongs in the docs.

Runs that would take longer than ``--max-cell-minutes`` (by a computed estimate) are skipped
with that estimate printed, unless ``--force``: by default the naive check at N=10,000, which
makes ~20,000 sequential calls.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from . import estimate, report
from .worker import Job
from .world import COPY_REGION, DAILY_BACKUP_DAYS

APPROACHES = ("naive", "backupwatch")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Benchmark the naive check against backupwatch on a moto world.",
    )
    parser.add_argument("--sizes", type=_ints, default=[100, 1000, 10000], help="tenant counts")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per cell (median)")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="added per AWS call")
    parser.add_argument("--approaches", type=_names, default=list(APPROACHES))
    parser.add_argument("--snapshots", type=int, default=7, help="automated ones per tenant")
    parser.add_argument("--objects", type=int, default=30, help="S3 objects per tenant")
    parser.add_argument("--date-layout", help="dated keys, e.g. %%Y/%%m/%%d/ (and the setting)")
    parser.add_argument(
        "--integrity",
        action="store_true",
        help="every dump check that reads the object on (format, checksum): their cost",
    )
    parser.add_argument(
        "--everything",
        action="store_true",
        help="backupwatch with every check and control on: backup (rule both), copy to "
        f"{COPY_REGION}, retention, encryption, daily; AWS Backup answered by FakeAws",
    )
    parser.add_argument("--s3-concurrency", type=int, help="BACKUPWATCH_S3_CONCURRENCY")
    parser.add_argument("--rds-rps", type=float, help="BACKUPWATCH_RDS_REQUESTS_PER_SECOND")
    parser.add_argument("--rds-burst", type=int, help="BACKUPWATCH_RDS_BURST")
    parser.add_argument("--max-cell-minutes", type=float, default=4.0, help="skip longer runs")
    parser.add_argument("--force", action="store_true", help="run cells estimated too long")
    parser.add_argument("--no-floor", action="store_true", help="skip the latency-0 run")
    parser.add_argument(
        "--memory-max-n",
        type=int,
        default=100,
        help="tracemalloc run only up to this N (it costs ~4 runs); 0 disables it",
    )
    parser.add_argument("--moto-as-is", action="store_true", help="no moto patches")
    parser.add_argument("--json", metavar="FILE", help="also write raw results here")
    args = parser.parse_args(argv)
    if args.everything and args.snapshots < DAILY_BACKUP_DAYS:
        parser.error(
            f"--everything needs --snapshots >= {DAILY_BACKUP_DAYS}: the daily and retention "
            "controls judge that many days"
        )
    return args


def _ints(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def _names(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = set(names) - set(APPROACHES)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown approach(es): {', '.join(sorted(unknown))}")
    return names


def main(argv: Sequence[str] | None = None) -> int:
    """Run every cell, print the header and tables; exit 1 if the verdicts disagree."""
    args = parse_args(argv)
    header = report.machine_header(args)
    rows: list[report.Row] = []
    last: dict[str, estimate.Measured] = {}
    for tenants in sorted(args.sizes):
        for approach in args.approaches:
            rows.append(_cell(args, approach, tenants, last))
    ok, verdicts = report.verdict_check(rows)
    _print_report(args, header, rows, verdicts)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump([asdict(row) for row in rows], out, indent=2)
    return 0 if ok else 1


def _cell(
    args: argparse.Namespace, approach: str, tenants: int, last: dict[str, estimate.Measured]
) -> report.Row:
    """Run one (approach, N) in a worker, or skip it with its estimate."""
    passes = estimate.Passes(
        repeat=args.repeat, floor=not args.no_floor, traced=_traced(args, tenants)
    )
    guess = estimate.seconds(
        approach,
        tenants,
        latency=args.latency_ms / 1000,
        measured=last.get(approach),
        passes=passes,
        everything=args.everything,
    )
    if guess > args.max_cell_minutes * 60 and not args.force:
        model = estimate.calls(
            approach,
            tenants,
            snapshots=args.snapshots,
            objects=args.objects,
            everything=args.everything,
        )
        basis = last.get(approach)
        how = f"linear from N={basis.tenants:,}" if basis else "from the call model"
        reason = (
            f"estimated {guess / 60:.0f} min ({how}; {model.total:,} calls per run); "
            "--force runs it"
        )
        _progress(f"{approach} N={tenants:,}: skipped, {reason}")
        return report.Row(approach, tenants, skipped=reason)
    _progress(f"{approach} N={tenants:,}: running (estimate {guess:.0f} s)...")
    started = time.perf_counter()
    result = _run_worker(_job(args, approach, tenants))
    elapsed = time.perf_counter() - started
    last[approach] = _measured(tenants, result)
    _progress(f"{approach} N={tenants:,}: done in {elapsed:.0f} s, wall {result['walls']}")
    return report.Row(approach, tenants, result=result)


def _measured(tenants: int, result: dict[str, Any]) -> estimate.Measured:
    return estimate.Measured(
        tenants=tenants,
        world=float(result["world_seconds"]),
        run=statistics.median(result["walls"]),
        floor=result["floor_seconds"],
        traced=result["traced_seconds"],
    )


def _job(args: argparse.Namespace, approach: str, tenants: int) -> Job:
    return Job(
        approach=approach,
        tenants=tenants,
        latency_ms=args.latency_ms,
        repeat=args.repeat,
        snapshots_per_tenant=args.snapshots,
        objects_per_tenant=args.objects,
        date_layout=args.date_layout,
        integrity=args.integrity,
        s3_concurrency=args.s3_concurrency if approach == "backupwatch" else None,
        rds_requests_per_second=args.rds_rps if approach == "backupwatch" else None,
        rds_burst=args.rds_burst if approach == "backupwatch" else None,
        moto_as_is=args.moto_as_is,
        floor=not args.no_floor,
        memory=_traced(args, tenants),
        everything=args.everything and approach == "backupwatch",
    )


def _traced(args: argparse.Namespace, tenants: int) -> bool:
    """tracemalloc slows moto and botocore ~4x: by default only the small sizes get it."""
    return bool(tenants <= args.memory_max_n)


def _run_worker(job: Job) -> dict[str, Any]:
    """``python -m benchmarks.worker`` in a fresh interpreter; its last stdout line is JSON."""
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.worker", json.dumps(asdict(job))],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        sys.stderr.write(completed.stderr)
        raise SystemExit(f"worker failed for {job.approach} N={job.tenants}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def _print_report(
    args: argparse.Namespace, header: str, rows: list[report.Row], verdicts: str
) -> None:
    latency = args.latency_ms / 1000
    sections = [
        "## backupwatch benchmark",
        header,
        report.HEADER.format(repeat=args.repeat, latency=args.latency_ms),
        report.table(rows, latency=latency),
        "Calls per tenant by operation:",
        report.per_tenant(rows),
        "Baseline / backupwatch:",
        report.ratios(rows),
        "moto's own cost (latency-0 run):",
        report.moto_costs(rows) or "- not measured (--no-floor)",
        verdicts,
        "backupwatch tree measured by each row:",
        report.trees(rows),
    ]
    surprises = report.expected_calls_note(
        rows, snapshots=args.snapshots, objects=args.objects, everything=args.everything
    )
    if surprises:
        sections += ["Calls that differ from the model in docs/performance.md:", surprises]
    print("\n\n".join(sections))


def _progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
