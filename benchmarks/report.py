"""Formatting the results as Markdown, plus the header that says how to read them."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import boto3
import botocore
import moto

from .estimate import calls as model_calls
from .world import COPY_REGION, DAILY_BACKUP_DAYS, MIN_RETENTION_DAYS, REGION

AWS_RDS_BURST = 300
AWS_RDS_RATE = 12.0
MIB = 1024 * 1024

HEADER = """\
How to read the table (one fresh process per row; medians over {repeat} timed run(s)):

- **wall s**: median wall time of one check at {latency:g} ms per AWS call.
- **latency bound s**: calls x latency / concurrency, the best the check could do if AWS
  answered in exactly the latency and nothing else cost time (naive: concurrency 1;
  backupwatch: `s3_concurrency`).
- **RDS rate bound s**: the time RDS's token bucket forces: backupwatch's client-side limit
  ((RDS calls - burst) / rps, per region: the copy region's DescribeDBInstanceAutomatedBackups
  have a bucket of their own), or for the naive check AWS's own throttling ((RDS calls - 300)
  / 12 per s) that moto does not enforce, so the naive wall time here is *optimistic*.
- **CPU ms/tenant (client)**: process CPU of the timed run (median) / N: botocore + moto + our
  code (+ the fake's, with everything on); waiting for the latency costs none. In brackets the
  client's share: without moto's and the fake's (work AWS would do).
- **CPU floor s**: one run at latency 0: botocore + moto + our code, nothing to wait for.
  Threads share one interpreter lock, so CPU does not overlap: wall >= max(bounds, floor),
  roughly.
- **moto ms/call**: moto's own CPU per call (thread CPU inside its request handler, latency-0
  run). Against AWS that work happens on AWS's side, so the wall time against AWS is about
  max(latency bound, RDS rate bound, floor - moto share).
- **calls**: HTTP attempts counted by a botocore `before-send` hook (retries would count).
- **peak RSS MiB**: `ru_maxrss` of the process after the timed runs: moto's in-memory world
  (the *world* figure, after seeding) plus the check at its largest.
- **check peak MiB**: `tracemalloc` peak during one latency-0 run, started after the world was
  built: what the check itself allocates (responses included), independent of moto's world.
"""


@dataclass(frozen=True)
class Row:
    """One (approach, N) cell: a result dict from the worker, or why it was skipped."""

    approach: str
    tenants: int
    result: dict[str, Any] | None = None
    skipped: str | None = None


def machine_header(args: Any) -> str:
    """Machine, versions and load: enough to judge whether two tables are comparable."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        f"- machine: {os.cpu_count()} CPUs ({platform.machine()}), {platform.system()}; "
        f"load average {load} at start",
        f"- python {platform.python_version()}, boto3 {boto3.__version__}, "
        f"botocore {botocore.__version__}, moto {moto.__version__}",
        f"- backupwatch tree: {git_state()} at start (per row: see the end)",
        f"- world: {args.snapshots} automated snapshots and {args.objects} S3 objects per "
        f"tenant; date layout {args.date_layout or 'none (undated keys)'}; "
        f"dump checks {'on (format pg_custom, checksums)' if args.integrity else 'off'}; "
        f"moto {'as is' if args.moto_as_is else 'patched (benchmarks/moto_patches.py)'}",
        f"- mode: {_mode(args)}",
        f"- latency {args.latency_ms:g} ms per call; knobs: s3 concurrency "
        f"{_knob(args.s3_concurrency)}, RDS rps {_knob(args.rds_rps)}, RDS burst "
        f"{_knob(args.rds_burst)}",
    ]
    return "\n".join(lines)


def _mode(args: Any) -> str:
    """What backupwatch checks: the default checks, or everything (``--everything``)."""
    if not getattr(args, "everything", False):
        return "default checks (rds, s3); naive checks rds and s3"
    return (
        f"**everything on** for backupwatch: checks rds, s3, backup (rule both), copy to "
        f"{COPY_REGION}, policy (retention {MIN_RETENTION_DAYS} d, encryption with one KMS key, "
        f"a backup each of the last {DAILY_BACKUP_DAYS} d); world: encrypted instances, a "
        f"recovery point a day in 1 vault and a backup job per tenant in {REGION}, a replicated "
        f"automated backup per tenant in {COPY_REGION}, answered by backupwatch/cli/fake_aws.py "
        "(moto lacks these APIs); naive unchanged (rds and s3 only, plain world)"
    )


def _knob(value: object) -> str:
    return "default" if value is None else str(value)


def git_state() -> str:
    """Commit and whether backupwatch/ has uncommitted edits (read-only git commands)."""
    try:
        commit = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--", "backupwatch")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    return f"{commit}{' + uncommitted edits in backupwatch/' if dirty else ''}"


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], capture_output=True, text=True, check=True, timeout=10
    ).stdout.strip()


def table(rows: Sequence[Row], *, latency: float) -> str:
    """The main Markdown table, one line per (N, approach)."""
    head = (
        "| N | approach | wall s | latency bound s | RDS rate bound s | CPU ms/tenant (client) "
        "| CPU floor s | moto ms/call | calls | calls/tenant | calls by operation "
        "| peak RSS MiB (world) | check peak MiB | verdicts |"
    )
    lines = [head, _rule(head)]
    lines += [_line(row, latency) for row in rows]
    return "\n".join(lines)


def _rule(head: str) -> str:
    columns = head.count("|") - 1
    return "|" + "|".join(["---"] * columns) + "|"


def _line(row: Row, latency: float) -> str:
    if row.result is None:
        return f"| {row.tenants:,} | {row.approach} | skipped: {row.skipped} |" + " |" * 11
    r = row.result
    total = sum(r["calls"].values())
    cells = [
        f"{row.tenants:,}",
        row.approach,
        _wall(r["walls"]),
        f"{latency_bound(row.approach, r, latency):.1f}",
        f"{rate_bound(row.approach, r):.1f}",
        _cpu_cell(r, row.tenants),
        _opt(r["floor_seconds"], "{:.1f}"),
        _opt(_moto_ms(r), "{:.1f}"),
        f"{total:,}",
        f"{total / row.tenants:.2f}",
        _by_operation(r["calls"]),
        f"{r['rss_peak_kib'] / 1024:,.0f} ({r['rss_world_kib'] / 1024:,.0f})",
        _opt(r["tracemalloc_peak_bytes"] and r["tracemalloc_peak_bytes"] / MIB, "{:.1f}"),
        _verdicts(r["verdicts"]),
    ]
    return "| " + " | ".join(cells) + " |"


def _wall(walls: list[float]) -> str:
    median = statistics.median(walls)
    if len(walls) == 1:
        return f"{median:.1f}"
    return f"{median:.1f} ({min(walls):.1f}-{max(walls):.1f})"


def _opt(value: float | None, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def cpu_split(r: dict[str, Any]) -> tuple[float, float] | None:
    """Process CPU seconds of the median timed run and the client's share of it (without
    moto's and the fake's); None for results without them."""
    cpus: list[float] = r.get("cpus") or []
    if not cpus:
        return None
    median = sorted(range(len(cpus)), key=cpus.__getitem__)[(len(cpus) - 1) // 2]
    others = sum(float((r.get(k) or [0.0] * len(cpus))[median]) for k in ("moto_cpus", "fake_cpus"))
    return float(cpus[median]), float(cpus[median]) - others


def _cpu_cell(r: dict[str, Any], tenants: int) -> str:
    split = cpu_split(r)
    if split is None:
        return "-"
    total, client = split
    return f"{total / tenants * 1000:.1f} ({client / tenants * 1000:.1f})"


def _moto_ms(r: dict[str, Any]) -> float | None:
    if r["moto_cpu_seconds"] is None:
        return None
    calls: int = sum(r["calls"].values())
    return float(r["moto_cpu_seconds"]) / max(1, calls) * 1000


def _by_operation(counts: dict[str, int]) -> str:
    return ", ".join(f"{op.split(':', 1)[1]} {n:,}" for op, n in sorted(counts.items()))


def per_tenant(rows: Sequence[Row]) -> str:
    """Calls per tenant by operation, one column per measured row, and their total."""
    measured = [row for row in rows if row.result is not None]
    if not measured:
        return "- nothing measured"
    operations = sorted({op for row in measured for op in _calls(row)})
    head = "| operation | " + " | ".join(f"{r.approach} N={r.tenants:,}" for r in measured) + " |"
    lines = [head, _rule(head)]
    for op in operations:
        cells = [_per(_calls(row).get(op, 0), row.tenants) for row in measured]
        lines.append(f"| {op} | " + " | ".join(cells) + " |")
    totals = [_per(sum(_calls(row).values()), row.tenants) for row in measured]
    lines.append("| **total** | " + " | ".join(f"**{t}**" for t in totals) + " |")
    return "\n".join(lines)


def _calls(row: Row) -> dict[str, int]:
    return row.result["calls"] if row.result is not None else {}


def _per(calls: int, tenants: int) -> str:
    """Calls per tenant, with the count: ``0.007 (7)``; ``-`` for none."""
    return f"{calls / tenants:.3f} ({calls:,})" if calls else "-"


def _verdicts(counts: dict[str, int]) -> str:
    return " ".join(f"{status} {n}" for status, n in sorted(counts.items()))


def concurrency(approach: str, r: dict[str, Any]) -> int:
    """Naive is sequential; backupwatch runs ``s3_concurrency`` calls at once."""
    if approach == "naive":
        return 1
    return int(r["settings"].get("s3_concurrency") or 1)


def latency_bound(approach: str, r: dict[str, Any], latency: float) -> float:
    """``calls x latency / concurrency``: the time spent waiting, perfectly overlapped."""
    total: int = sum(r["calls"].values())
    return total * latency / concurrency(approach, r)


def rds_calls(r: dict[str, Any]) -> int:
    return sum(n for op, n in r["calls"].items() if op.startswith("rds:"))


COPY_REGION_RDS = "rds:DescribeDBInstanceAutomatedBackups"
"""The one RDS call the benchmark makes only in the copy region (``--everything``): it spends
that region's budget, not the tenants' region's, so it is bounded on its own."""


def rate_bound(approach: str, r: dict[str, Any]) -> float:
    """Seconds the RDS token bucket forces (see the header): the slowest region's, since
    each account-region has its own bucket (and backupwatch its own limiter per region)."""
    if approach == "naive":
        return max(0, rds_calls(r) - AWS_RDS_BURST) / AWS_RDS_RATE
    rps = float(r["settings"].get("rds_requests_per_second") or AWS_RDS_RATE)
    burst = int(r["settings"].get("rds_burst") or AWS_RDS_BURST)
    elsewhere: int = r["calls"].get(COPY_REGION_RDS, 0)
    return max(max(0, rds_calls(r) - elsewhere - burst), max(0, elsewhere - burst)) / rps


def ratios(rows: Sequence[Row]) -> str:
    """Baseline / backupwatch per N, where both ran."""
    lines = [
        "| N | wall naive/backupwatch | calls naive/backupwatch | RDS calls naive/backupwatch |",
        "|---|---|---|---|",
    ]
    by_key = {(row.approach, row.tenants): row.result for row in rows if row.result}
    for tenants in sorted({row.tenants for row in rows}):
        naive, ours = by_key.get(("naive", tenants)), by_key.get(("backupwatch", tenants))
        if naive is None or ours is None:
            continue
        lines.append(
            f"| {tenants:,} "
            f"| {statistics.median(naive['walls']) / statistics.median(ours['walls']):.1f}x "
            f"| {sum(naive['calls'].values()) / sum(ours['calls'].values()):.1f}x "
            f"| {rds_calls(naive) / max(1, rds_calls(ours)):.1f}x |"
        )
    if len(lines) == 2:
        return "- no N with both approaches measured"
    return "\n".join(lines)


def moto_costs(rows: Sequence[Row]) -> str:
    """moto's CPU per call and the client's share of the floor, per measured row."""
    lines = []
    for row in rows:
        r = row.result
        if r is None or r["floor_seconds"] is None:
            continue
        total = sum(r["calls"].values())
        moto_s, cpu_s = r["moto_cpu_seconds"], r["floor_cpu_seconds"]
        fake_s = float(r.get("floor_fake_cpu_seconds") or 0.0)
        fake = f", the fake {fake_s:.1f} s" if fake_s else ""
        lines.append(
            f"- {row.approach} N={row.tenants:,}: latency-0 run {r['floor_seconds']:.1f} s "
            f"wall, {cpu_s:.1f} s CPU, of which moto {moto_s:.1f} s "
            f"({moto_s / total * 1000:.1f} ms/call over {total:,} calls){fake}; "
            f"client side (botocore + our code) {max(0.0, cpu_s - moto_s - fake_s):.1f} s"
        )
    return "\n".join(lines)


def trees(rows: Sequence[Row]) -> str:
    """Which backupwatch commit each row measured: the tree may change between rows."""
    seen: dict[str, list[str]] = {}
    for row in rows:
        if row.result is not None:
            seen.setdefault(row.result.get("tree", "?"), []).append(
                f"{row.approach} N={row.tenants:,}"
            )
    return "\n".join(f"- {tree}: {', '.join(cells)}" for tree, cells in seen.items())


def verdict_check(rows: Sequence[Row]) -> tuple[bool, str]:
    """Both approaches must reach the world's verdict counts; say which did not."""
    problems = [
        f"- {row.approach} N={row.tenants:,}: got {row.result['verdicts']}, "
        f"world says {row.result['expected_verdicts']}"
        for row in rows
        if row.result is not None and row.result["verdicts"] != row.result["expected_verdicts"]
    ]
    if problems:
        return False, "VERDICTS DISAGREE:\n" + "\n".join(problems)
    return True, "Verdicts: every run reached the world's verdict counts (naive and backupwatch)."


def expected_calls_note(
    rows: Sequence[Row], *, snapshots: int, objects: int, everything: bool = False
) -> str:
    """Where measured calls differ from the model in docs/performance.md (surprises)."""
    notes = []
    for row in rows:
        if row.result is None:
            continue
        model = model_calls(
            row.approach,
            row.tenants,
            snapshots=snapshots,
            objects=objects,
            everything=everything and row.approach == "backupwatch",
        )
        total = sum(row.result["calls"].values())
        if total != model.total:
            notes.append(
                f"- {row.approach} N={row.tenants:,}: {total:,} calls, model says "
                f"{model.total:,} ({_by_operation(row.result['calls'])})"
            )
    return "\n".join(notes)
