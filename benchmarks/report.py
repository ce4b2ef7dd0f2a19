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
  ((RDS calls - burst) / rps), or for the naive check AWS's own throttling ((RDS calls - 300)
  / 12 per s) that moto does not enforce, so the naive wall time here is *optimistic*.
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
        f"- latency {args.latency_ms:g} ms per call; knobs: s3 concurrency "
        f"{_knob(args.s3_concurrency)}, RDS rps {_knob(args.rds_rps)}, RDS burst "
        f"{_knob(args.rds_burst)}",
    ]
    return "\n".join(lines)


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
        "| N | approach | wall s | latency bound s | RDS rate bound s | CPU floor s "
        "| moto ms/call | calls | calls/tenant | calls by operation | peak RSS MiB (world) "
        "| check peak MiB | verdicts |"
    )
    lines = [head, _rule(head)]
    lines += [_line(row, latency) for row in rows]
    return "\n".join(lines)


def _rule(head: str) -> str:
    columns = head.count("|") - 1
    return "|" + "|".join(["---"] * columns) + "|"


def _line(row: Row, latency: float) -> str:
    if row.result is None:
        return f"| {row.tenants:,} | {row.approach} | skipped: {row.skipped} |" + " |" * 10
    r = row.result
    total = sum(r["calls"].values())
    cells = [
        f"{row.tenants:,}",
        row.approach,
        _wall(r["walls"]),
        f"{latency_bound(row.approach, r, latency):.1f}",
        f"{rate_bound(row.approach, r):.1f}",
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


def _moto_ms(r: dict[str, Any]) -> float | None:
    if r["moto_cpu_seconds"] is None:
        return None
    calls: int = sum(r["calls"].values())
    return float(r["moto_cpu_seconds"]) / max(1, calls) * 1000


def _by_operation(counts: dict[str, int]) -> str:
    return ", ".join(f"{op.split(':', 1)[1]} {n:,}" for op, n in sorted(counts.items()))


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


def rate_bound(approach: str, r: dict[str, Any]) -> float:
    """Seconds the RDS token bucket forces (see the header)."""
    if approach == "naive":
        return max(0, rds_calls(r) - AWS_RDS_BURST) / AWS_RDS_RATE
    rps = float(r["settings"].get("rds_requests_per_second") or AWS_RDS_RATE)
    burst = int(r["settings"].get("rds_burst") or AWS_RDS_BURST)
    return max(0, rds_calls(r) - burst) / rps


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
        lines.append(
            f"- {row.approach} N={row.tenants:,}: latency-0 run {r['floor_seconds']:.1f} s "
            f"wall, {cpu_s:.1f} s CPU, of which moto {moto_s:.1f} s "
            f"({moto_s / total * 1000:.1f} ms/call over {total:,} calls); "
            f"client side (botocore + our code) {max(0.0, cpu_s - moto_s):.1f} s"
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


def expected_calls_note(rows: Sequence[Row], *, snapshots: int, objects: int) -> str:
    """Where measured calls differ from the model in docs/performance.md (surprises)."""
    notes = []
    for row in rows:
        if row.result is None:
            continue
        model = model_calls(row.approach, row.tenants, snapshots=snapshots, objects=objects)
        total = sum(row.result["calls"].values())
        if total != model.total:
            notes.append(
                f"- {row.approach} N={row.tenants:,}: {total:,} calls, model says "
                f"{model.total:,} ({_by_operation(row.result['calls'])})"
            )
    return "\n".join(notes)
