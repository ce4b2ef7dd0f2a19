"""Scale-out: one account-region per Map child, against one Lambda checking them all in turn.

``python -m benchmarks.scale`` (see ``--help``) builds a moto world of ``--accounts`` member
accounts x ``--regions`` regions, ``--tenants`` tenants in each of these account-regions
(*scopes*), each account with its own backups bucket listed through the role, and measures:

1. **per scope**: ``check_scopes(settings, [scope])`` for each scope alone, what one child of
   the state machine's Distributed Map does (``handlers.scan_scope``, minus writing its result):
   ``sts:AssumeRole`` into the member account, discovery, the RDS snapshot pages and one S3
   listing per tenant;
2. **sequential**: ``check_tenants(settings)`` with every scope as a target, what the
   single-Lambda stack does with ``BACKUPWATCH_TARGETS``: the same scopes, one after the other.

Both at ``--latency-ms`` per AWS call (the same ``AwsMeter`` as ``benchmarks.run``), with the
same default settings (RDS 10 requests/s per account-region, 16 S3 threads). Then, at latency 0,
the CPU floor of each, and the ``tracemalloc`` peak of the first scope (it costs about four
runs; the scopes are alike) and of the sequential run.
A Markdown report goes to stdout, progress to stderr; the exit code is 1 if any run's verdicts
differ from the world's.

Member-account sessions are built by ``backupwatch.aws.accounts`` from a fresh botocore session, so
the meter is attached there too (``_metered_sessions``); otherwise the member accounts' calls
would be neither counted nor delayed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from unittest import mock

import boto3
import botocore
import botocore.session
import moto

import backupwatch.aws.accounts
from backupwatch import Report, Settings, check_scopes, check_tenants, load_settings
from backupwatch.core.models import Scope

from . import moto_patches
from .meter import AwsMeter, verify_latency
from .report import git_state
from .world import (
    TENANT_TAG,
    WorldSpec,
    fate,
    instance_id,
    prefix,
    raise_snapshot_limit,
    seed_instances,
    seed_objects,
)

MEMBER_ROLE = "backupwatch-reader"
REGIONS = ("us-east-1", "eu-west-1", "us-west-2", "eu-central-1")
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    # moto builds an EC2 backend per RDS region; its AMIs are never looked at.
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
}
MIB = 1024 * 1024


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.scale",
        description="Per-scope (one Map child) against sequential (one Lambda) on moto.",
    )
    parser.add_argument("--accounts", type=int, default=3, help="member accounts")
    parser.add_argument("--regions", type=int, default=2, help=f"regions each (max {len(REGIONS)})")
    parser.add_argument("--tenants", type=int, default=200, help="tenants per account-region")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="added per AWS call")
    parser.add_argument("--snapshots", type=int, default=7, help="automated ones per tenant")
    parser.add_argument("--objects", type=int, default=30, help="S3 objects per tenant")
    parser.add_argument("--no-floor", action="store_true", help="skip the latency-0 runs")
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc runs")
    parser.add_argument("--json", metavar="FILE", help="also write the raw results here")
    args = parser.parse_args(argv)
    if not 1 <= args.regions <= len(REGIONS):
        parser.error(f"--regions must be 1 to {len(REGIONS)}")
    return args


@dataclass
class Run:
    """One measured check: what it did and what it cost."""

    label: str
    tenants: int
    wall_seconds: float = 0.0
    calls: dict[str, int] = field(default_factory=dict)
    verdicts: dict[str, int] = field(default_factory=dict)
    expected_verdicts: dict[str, int] = field(default_factory=dict)
    region_errors: int = 0
    floor_seconds: float | None = None
    floor_cpu_seconds: float | None = None
    moto_cpu_seconds: float | None = None
    tracemalloc_peak_bytes: int | None = None

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


@dataclass
class Results:
    """Everything one invocation measured."""

    accounts: int
    regions: list[str]
    tenants_per_scope: int
    latency_ms: float
    tree: str
    world_seconds: float = 0.0
    latency_check_ms: float = 0.0
    rss_world_kib: int = 0
    rss_peak_kib: int = 0
    scopes: list[Run] = field(default_factory=list)
    sequential: Run | None = None


def member_account(number: int) -> str:
    """``111111111111``, ``222222222222``, ...: one digit repeated, never the home account."""
    digit = str(number + 1)
    return digit * 12 if number < 9 else f"{number + 1:012d}"


def bucket_of(account: str) -> str:
    return f"bench-backups-{account}"


@dataclass(frozen=True)
class ScopeWorld:
    """One account-region of the world and the tenant indexes seeded in it."""

    account: str
    region: str
    first: int
    count: int

    @property
    def indexes(self) -> range:
        return range(self.first, self.first + self.count)

    def expected_verdicts(self) -> dict[str, int]:
        return dict(Counter(fate(i).verdict for i in self.indexes))


def plan_world(args: argparse.Namespace) -> list[ScopeWorld]:
    """Tenant indexes are unique across scopes, so names, folders and fates never collide."""
    pairs = [
        (member_account(a), region)
        for a in range(args.accounts)
        for region in REGIONS[: args.regions]
    ]
    return [
        ScopeWorld(account, region, i * args.tenants, args.tenants)
        for i, (account, region) in enumerate(pairs)
    ]


def build_world(worlds: Sequence[ScopeWorld], spec: WorldSpec) -> None:
    """Seed every scope through moto's backends, index it, and check the index's answers."""
    from moto.rds.models import rds_backends
    from moto.s3.models import s3_backends

    raise_snapshot_limit(max(w.count for w in worlds) * max(spec.snapshots_per_tenant, 1))
    for world in worlds:
        rds_backend = rds_backends[world.account][world.region]
        s3_backend = s3_backends[world.account]["aws"]
        bucket = bucket_of(world.account)
        seed_instances(rds_backend, spec, world.indexes)
        seed_objects(s3_backend, bucket, REGIONS[0], spec, world.indexes)
    for world in worlds:  # after every scope of the bucket is seeded: the index is final
        rds_backend = rds_backends[world.account][world.region]
        s3_backend = s3_backends[world.account]["aws"]
        moto_patches.index_world(s3_backend, bucket_of(world.account), rds_backend)
        last = world.first + world.count - 1
        samples = sorted({world.first, world.first + world.count // 2, last})
        moto_patches.self_check(
            s3_backend,
            bucket_of(world.account),
            [prefix(i) for i in samples],
            rds_backend,
            [instance_id(i) for i in samples],
        )


def settings_for(args: argparse.Namespace) -> Settings:
    """The run's settings as an operator writes them: one target per member account, each
    with its regions and its own backups bucket (listed with the role)."""
    targets = [
        {
            "role_arn": f"arn:aws:iam::{member_account(a)}:role/{MEMBER_ROLE}",
            "s3_bucket": bucket_of(member_account(a)),
        }
        for a in range(args.accounts)
    ]
    return load_settings(
        {
            "BACKUPWATCH_DRY_RUN": "true",
            "BACKUPWATCH_REGIONS": ",".join(REGIONS[: args.regions]),
            "BACKUPWATCH_TENANT_TAG": TENANT_TAG,
            "BACKUPWATCH_TARGETS": json.dumps(targets),
            # Required while the s3 check is on, though every target names its own bucket.
            "BACKUPWATCH_S3_BUCKET": bucket_of(member_account(0)),
        }
    )


@contextmanager
def _metered_sessions(meter: AwsMeter) -> Iterator[None]:
    """Attach ``meter`` to the botocore sessions ``backupwatch.aws.accounts`` builds for roles."""

    def metered() -> botocore.session.Session:
        session = botocore.session.get_session()
        meter.attach(session)
        return session

    with mock.patch.object(backupwatch.aws.accounts, "get_session", metered):
        yield


def _verdicts(report: Report) -> dict[str, int]:
    return dict(sorted(Counter(str(row.status) for row in report.tenants).items()))


def measure(args: argparse.Namespace) -> Results:
    """Build the world, then the runs in the module docstring, in that order."""
    regions = list(REGIONS[: args.regions])
    results = Results(
        accounts=args.accounts,
        regions=regions,
        tenants_per_scope=args.tenants,
        latency_ms=args.latency_ms,
        tree=git_state(),
    )
    now = datetime.now(UTC).replace(microsecond=0)
    spec = WorldSpec(
        tenants=args.tenants,
        now=now,
        snapshots_per_tenant=args.snapshots,
        objects_per_tenant=args.objects,
    )
    worlds = plan_world(args)
    with moto.mock_aws():
        moto_patches.install()
        started = time.perf_counter()
        build_world(worlds, spec)
        results.world_seconds = time.perf_counter() - started
        _progress(
            f"world: {len(worlds)} scopes x {args.tenants} tenants, {results.world_seconds:.0f} s"
        )

        settings = settings_for(args)
        scopes = settings.scopes
        assert [(s.account_id, s.region) for s in scopes] == [
            (w.account, w.region) for w in worlds
        ], "the settings' scopes must be the world's, in order"
        home = boto3.Session(region_name=regions[0])
        meter = AwsMeter(latency_seconds=args.latency_ms / 1000)
        meter.attach(home)
        with _metered_sessions(meter):
            results.latency_check_ms = verify_latency(home, meter) * 1000
            clock = lambda: now  # noqa: E731 - the world's now, for every run
            # Warm-up, untimed: imports, botocore's models and the first clients.
            check_scopes(settings, scopes[:1], session=home, clock=clock)
            results.rss_world_kib = _max_rss_kib()

            def one_scope(scope: Scope) -> Callable[[], Report]:
                return lambda: check_scopes(settings, [scope], session=home, clock=clock)

            for number, (scope, world) in enumerate(zip(scopes, worlds, strict=True)):
                run = Run(label=scope.label, tenants=world.count)
                run.expected_verdicts = world.expected_verdicts()
                # tracemalloc costs ~4 runs: the first scope stands for the others.
                _timed(run, one_scope(scope), meter, args, memory=number == 0)
                results.scopes.append(run)
                _progress(f"scope {run.label}: {run.wall_seconds:.1f} s, {run.total_calls} calls")

            sequential = Run(label="sequential", tenants=sum(w.count for w in worlds))
            sequential.expected_verdicts = dict(
                sum((Counter(w.expected_verdicts()) for w in worlds), Counter())
            )
            _timed(
                sequential,
                lambda: check_tenants(settings, session=home, clock=clock),
                meter,
                args,
                memory=True,
            )
            results.sequential = sequential
            _progress(
                f"sequential: {sequential.wall_seconds:.1f} s, {sequential.total_calls} calls"
            )
        results.rss_peak_kib = _max_rss_kib()
        moto_patches.uninstall()
    return results


def _timed(
    run: Run,
    check: Callable[[], Report],
    meter: AwsMeter,
    args: argparse.Namespace,
    *,
    memory: bool,
) -> None:
    """The timed run at the latency, then (unless turned off) the floor and the memory runs."""
    latency = meter.latency_seconds
    meter.reset()
    started = time.perf_counter()
    report = check()
    run.wall_seconds = time.perf_counter() - started
    run.calls = dict(sorted(meter.calls.items()))
    run.verdicts = _verdicts(report)
    run.region_errors = len(report.region_errors)
    meter.latency_seconds = 0.0
    try:
        if not args.no_floor:
            meter.reset()
            cpu, started = time.process_time(), time.perf_counter()
            check()
            run.floor_seconds = time.perf_counter() - started
            run.floor_cpu_seconds = time.process_time() - cpu
            run.moto_cpu_seconds = meter.moto_cpu_seconds
        if memory and not args.no_memory:
            tracemalloc.start()
            try:
                check()
                run.tracemalloc_peak_bytes = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
    finally:
        meter.latency_seconds = latency


def _max_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# --- the report ------------------------------------------------------------------------------


def render(results: Results, args: argparse.Namespace) -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    header = "\n".join(
        [
            "## backupwatch scale-out benchmark",
            "",
            f"- machine: {os.cpu_count()} CPUs ({platform.machine()}), {platform.system()}; "
            f"load average {load} at the end",
            f"- python {platform.python_version()}, boto3 {boto3.__version__}, "
            f"botocore {botocore.__version__}, moto {moto.__version__}",
            f"- backupwatch tree: {results.tree}",
            f"- world: {results.accounts} member accounts x {len(results.regions)} regions "
            f"({', '.join(results.regions)}) = {len(results.scopes)} scopes, "
            f"{results.tenants_per_scope} tenants each; {args.snapshots} automated snapshots and "
            f"{args.objects} S3 objects per tenant; one backups bucket per account, listed with "
            f"the role; seeded in {results.world_seconds:.0f} s; moto patched",
            f"- latency {results.latency_ms:g} ms per call (measured "
            f"{results.latency_check_ms:.1f} ms); default settings (RDS 10 requests/s and burst "
            "10 per account-region, 16 S3 threads)",
        ]
    )
    head = (
        "| run | tenants | wall s | CPU floor s | moto s | client CPU s | calls | calls/tenant "
        "| calls by operation | check peak MiB | verdicts |"
    )
    lines = [head, "|" + "|".join(["---"] * (head.count("|") - 1)) + "|"]
    runs = [*results.scopes, *([results.sequential] if results.sequential else [])]
    lines += [_line(run) for run in runs]
    walls = [run.wall_seconds for run in results.scopes]
    summary = []
    if walls and results.sequential:
        seq = results.sequential.wall_seconds
        summary = [
            f"- per scope (one Map child): median {statistics.median(walls):.1f} s, "
            f"min {min(walls):.1f} s, max {max(walls):.1f} s for {results.tenants_per_scope} "
            f"tenants; {statistics.median(walls) / results.tenants_per_scope * 1000:.1f} ms "
            "per tenant",
            f"- sequential (one Lambda, every scope in turn): {seq:.1f} s; sum of the scopes "
            f"alone {sum(walls):.1f} s; with every scope in parallel the run would take the "
            f"slowest scope, {max(walls):.1f} s ({seq / max(walls):.1f}x less)",
            f"- peak RSS of this process {results.rss_peak_kib / 1024:,.0f} MiB "
            f"(moto's world and botocore loaded: {results.rss_world_kib / 1024:,.0f} MiB)",
        ]
    problems = [
        f"- {run.label}: got {run.verdicts}, world says {run.expected_verdicts}"
        for run in runs
        if run.verdicts != run.expected_verdicts or run.region_errors
    ]
    verdicts = (
        "VERDICTS DISAGREE:\n" + "\n".join(problems)
        if problems
        else "Verdicts: every run reached the world's verdict counts, with no scope errors."
    )
    return "\n\n".join([header, "\n".join(lines), "\n".join(summary), verdicts])


def _line(run: Run) -> str:
    client = (
        run.floor_cpu_seconds - run.moto_cpu_seconds
        if run.floor_cpu_seconds is not None and run.moto_cpu_seconds is not None
        else None
    )
    cells = [
        run.label,
        f"{run.tenants:,}",
        f"{run.wall_seconds:.1f}",
        _opt(run.floor_seconds),
        _opt(run.moto_cpu_seconds),
        _opt(client),
        f"{run.total_calls:,}",
        f"{run.total_calls / max(1, run.tenants):.3f}",
        ", ".join(f"{op} {n:,}" for op, n in run.calls.items()),
        _opt(run.tracemalloc_peak_bytes and run.tracemalloc_peak_bytes / MIB),
        " ".join(f"{status} {n}" for status, n in run.verdicts.items()),
    ]
    return "| " + " | ".join(cells) + " |"


def _opt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _progress(message: str) -> None:
    print(f"[scale] {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print the report; exit 1 if a verdict differs from the world's."""
    args = parse_args(argv)
    for name, value in FAKE_CREDENTIALS.items():
        os.environ[name] = value
    # Never MOTO_ACCOUNT_ID: it would override the member account of an assumed role.
    os.environ.pop("MOTO_ACCOUNT_ID", None)
    results = measure(args)
    print(render(results, args))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(asdict(results), out, indent=2)
    runs = [*results.scopes, *([results.sequential] if results.sequential else [])]
    ok = all(run.verdicts == run.expected_verdicts and not run.region_errors for run in runs)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
