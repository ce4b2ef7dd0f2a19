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

``--simulate-fleet --scopes 100 --tenants 1000`` (issue item 6) measures a fleet too large to
check on moto: one scope is scanned for real, in a fresh process, the other scopes' partial
reports are synthesized from it, and the publish step runs over all of them in a fresh
process, twice (the second time with a month of archived history); both talk to a moto
server in this process. See the comment above ``HOME_ACCOUNT`` and docs/scale.md
("100,000 tenants"). Exit code 1 if a verdict or a merged report is not what was sent.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import logging
import math
import os
import platform
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import botocore
import botocore.session

import backupwatch.aws.accounts
from backupwatch import Report, Settings, check_scopes, check_tenants, load_settings
from backupwatch.core.evaluation import (
    apply_pause,
    evaluate_rds,
    evaluate_s3,
    format_time,
    tenant_report,
)
from backupwatch.core.models import (
    Check,
    CheckResult,
    ObjectInfo,
    RdsEvidence,
    S3Evidence,
    Scope,
    SnapshotInfo,
    Status,
    Tenant,
    TenantReport,
)

from . import moto_patches
from .meter import AwsMeter, verify_latency
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
    fleet = parser.add_argument_group(
        "fleet simulation",
        "one real scope of --tenants scanned in a child process, --scopes - 1 more synthesized "
        "from it, and the publish step over them all in a child process (docs/scale.md)",
    )
    fleet.add_argument("--simulate-fleet", action="store_true", help="run the fleet simulation")
    fleet.add_argument("--scopes", type=int, default=100, help="account-regions in the fleet")
    fleet.add_argument(
        "--days", type=int, default=2, help="runs in a row (each but the first compares)"
    )
    fleet.add_argument(
        "--history-days",
        type=int,
        default=28,
        help="after the first run, earlier days copied into the archive (index and day "
        "summary), so the last run reads a full status page's history (30 days with 2 runs)",
    )
    fleet.add_argument("--child", choices=("scan", "publish"), help=argparse.SUPPRESS)
    fleet.add_argument("--child-job", help=argparse.SUPPRESS)
    fleet.add_argument("--child-result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 1 <= args.regions <= len(REGIONS):
        parser.error(f"--regions must be 1 to {len(REGIONS)}")
    if args.scopes < 1 or args.days < 1 or args.history_days < 0:
        parser.error("--scopes and --days must be at least 1, --history-days at least 0")
    if args.simulate_fleet and not 1 <= args.tenants <= 99_999:
        parser.error("--simulate-fleet takes 1 to 99,999 --tenants (5-digit tenant names)")
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
    return load_settings(
        {"BACKUPWATCH_DRY_RUN": "true", **targets_environment(args.accounts, args.regions)}
    )


def targets_environment(accounts: int, regions: int) -> dict[str, str]:
    """The variables of ``settings_for``, dry run aside: what every function of the stack is
    given (template.yaml's Globals)."""
    targets = [
        {
            "role_arn": f"arn:aws:iam::{member_account(a)}:role/{MEMBER_ROLE}",
            "s3_bucket": bucket_of(member_account(a)),
        }
        for a in range(accounts)
    ]
    return {
        "BACKUPWATCH_REGIONS": ",".join(REGIONS[:regions]),
        "BACKUPWATCH_TENANT_TAG": TENANT_TAG,
        "BACKUPWATCH_TARGETS": json.dumps(targets),
        # Required while the s3 check is on, though every target names its own bucket.
        "BACKUPWATCH_S3_BUCKET": bucket_of(member_account(0)),
    }


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
    import moto  # here, not at the top: the fleet's child processes never load it

    from .report import git_state

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
    import moto

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


# --- the fleet: one real scope, the others synthesized, the publish step over them all --------
#
# ``--simulate-fleet`` (issue item 6). Checking 100 scopes of 1,000 tenants on moto would take
# hours here, and would measure the same scope 100 times. So one scope is checked for real, in
# a fresh process as a Map child would (``handlers.scan_scope``'s body: ``steps.scan``, which
# writes the partial report to S3); the other scopes' partial reports are made from its report
# (other accounts, regions and tenant names, a mix of every lifecycle status) and stored the way
# the scan step stores them (``fanout_store.store_scan``: inline when small, else in S3); the
# Distributed Map's ResultWriter output (a manifest and a result file) is written as AWS writes
# it; and the publish step (``handlers.publish_digest``'s body: ``steps.gather_run`` then
# ``run_daily``) runs over all of them in a fresh process, ``--days`` runs in a row so that the
# last one compares with the day before, as every run but the first does in production. After
# the first run, ``--history-days`` copies of its day summary and index entry make the archive
# look a month old, so the last run also reads the status page's 29 earlier days.
#
# Memory is the child's ``VmHWM`` (``_peak_rss_kib``), and each library function the publish
# step calls is wrapped to record the peak after it (``_Marks``): where the memory goes.
#
# Both steps talk to a moto server (``ThreadedMotoServer``) in this process through
# ``AWS_ENDPOINT_URL``: the children load no moto, so their RSS and CPU are backupwatch's,
# botocore's and the interpreter's alone; the server's CPU is this process's, measured apart.

HOME_ACCOUNT = "123456789012"
"""moto's default account: the one the stack runs in (fake credentials)."""
REPORTS_BUCKET = "bench-backupwatch-reports"
REPORT_PREFIX = "backupwatch/"
"""``BACKUPWATCH_REPORT_PREFIX``'s default."""
TOPIC_NAME = "bench-digest"
STATE_MACHINE = "backupwatch-run"
VARIANTS_PER_1000 = {
    "ERROR": 2,
    "DISABLED": 2,
    "SUSPECT": 3,
    "EMPTY": 2,
    "STOPPED": 12,
    "PENDING": 4,
    "PAUSED": 3,
    "SKIPPED": 8,
}
"""Lifecycle and failure statuses given to a synthesized scope's OK tenants (per 1,000), on
top of the world's own STALE and MISSING ones (75 and 20 per 1,000): the same tenants every
day."""
CHURN_PER_1000 = 5
"""OK tenants of a synthesized scope that fail (STALE or SUSPECT) on one day only: the news of
the digest's "what changed" (new failures today, recoveries of yesterday's)."""
BAD_TAG = (
    "tag backupwatch:max-age-hours='daily' is not a positive number of hours; checked with the "
    "default 24 h"
)
_TENANT_NAME = re.compile(r"\bt(\d{5})\b")


@dataclass
class ChildRun:
    """What one child process measured (``_child_main``), and the machine around it."""

    label: str
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    """User + system CPU of the child from its start to its end: the function's CPU."""
    rss_start_kib: int = 0
    """Peak RSS when the child's code starts: the interpreter, boto3 and backupwatch loaded."""
    rss_imports_kib: int = 0
    """... and the handler's module: what a Lambda's init phase loads."""
    rss_peak_kib: int = 0
    phases: dict[str, float] = field(default_factory=dict)
    """Wall seconds of each step of the run."""
    phase_rss_kib: dict[str, int] = field(default_factory=dict)
    """Peak RSS at the end of each step."""
    calls: dict[str, int] = field(default_factory=dict)
    server_cpu_seconds: float = 0.0
    """CPU of the moto server (this process) while the child ran: AWS's side of the work."""
    load_before: list[float] = field(default_factory=list)
    load_after: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class FleetDay:
    """One run of the fleet: its result files, and the publish step over them."""

    run_id: str
    started_at: str
    synthesis_seconds: float = 0.0
    partial_bytes: list[int] = field(default_factory=list)
    """Per scope: the partial report's bytes in S3, or 0 when it was returned inline."""
    inline_bytes: list[int] = field(default_factory=list)
    """Per scope: the scan output's bytes (what the Lambda returns, ``event_bytes``)."""
    result_entry_bytes: list[int] = field(default_factory=list)
    """Per scope: its entry in the ResultWriter's result file."""
    result_file_bytes: int = 0
    manifest_bytes: int = 0
    scopes_json_bytes: int = 0
    expected_tenants: int = 0
    expected_keys_sha256: str = ""
    expected_verdicts: dict[str, int] = field(default_factory=dict)
    publish: ChildRun | None = None
    archive_bytes: dict[str, int] = field(default_factory=dict)
    """The objects the publish step wrote, by key (under the report prefix, runs/ aside)."""


@dataclass
class FleetResults:
    scopes: int
    tenants_per_scope: int
    latency_ms: float
    world_seconds: float = 0.0
    scan: ChildRun | None = None
    scan_verdicts: dict[str, int] = field(default_factory=dict)
    scan_expected: dict[str, int] = field(default_factory=dict)
    days: list[FleetDay] = field(default_factory=list)
    history_days: int = 0
    history_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


def fleet_scopes(settings: Settings, count: int) -> list[Scope]:
    """``count`` scopes: the settings' one real scope first, then other member accounts'
    regions, as an organization's plan lists them (every account in every region)."""
    [real] = settings.scopes
    scopes = [real]
    for number in range(1, count):
        account = member_account(number // len(REGIONS))
        scopes.append(
            real.model_copy(
                update={
                    "account_id": account,
                    "region": REGIONS[number % len(REGIONS)],
                    "role_arn": f"arn:aws:iam::{account}:role/{MEMBER_ROLE}",
                    "s3_bucket": bucket_of(account),
                }
            )
        )
    return scopes


def synthesize(
    real: Report, scope: Scope, number: int, *, tenants: int, day: int, at: datetime
) -> Report:
    """Scope ``number``'s partial report, made from the real scope's: its account, region and
    tenant names everywhere (bucket names and keys in the reasons too), a few tenants in each
    status of ``VARIANTS_PER_1000``, and ``CHURN_PER_1000`` failing on ``day`` only.
    ``real``'s tenants must be ``t00000`` to ``t<tenants - 1>``, in one account-region."""
    [account], [region] = real.accounts, real.regions
    width = max(5, len(str((number + 1) * tenants - 1)))
    offset = number * tenants
    text = real.to_json().replace(account, scope.account_id or "")
    text = text.replace(region, scope.region)
    text = _TENANT_NAME.sub(lambda m: f"t{offset + int(m.group(1)):0{width}d}", text)
    report = Report.from_json(text)
    rows = list(report.tenants)
    ok = [i for i, row in enumerate(rows) if row.status is Status.OK]
    chosen = random.Random(f"fleet/{number}").sample(ok, len(ok))
    statuses = [
        status
        for status, per_1000 in VARIANTS_PER_1000.items()
        for _ in range(math.ceil(per_1000 * tenants / 1000))
    ]
    for index, status in zip(chosen, statuses, strict=False):
        rows[index] = _variant(rows[index], status, at)
    rest = chosen[len(statuses) :]
    churn = random.Random(f"fleet/{number}/{day}").sample(
        rest, min(len(rest), math.ceil(CHURN_PER_1000 * tenants / 1000))
    )
    for count, index in enumerate(churn):
        rows[index] = _variant(rows[index], "SUSPECT" if count % 3 == 2 else "STALE", at)
    return report.model_copy(update={"tenants": tuple(rows), "generated_at": at})


def _variant(row: TenantReport, status: str, at: datetime) -> TenantReport:
    """``row`` (an OK tenant) with ``status``, its reasons as backupwatch words them
    (``evaluation``'s functions where they apply, the README's examples otherwise)."""
    tenant = Tenant(
        name=row.tenant,
        db_instance_identifier=row.db_instance_identifier,
        region=row.region,
        account_id=row.account_id,
        s3_prefix=row.s3_prefix,
        max_age_hours=24,
        min_object_bytes=1,
    )
    results = dict(row.checks)
    rds, s3 = results[Check.RDS], results[Check.S3]
    prefix_ = row.s3_prefix or ""
    bucket = bucket_of(row.account_id or "")
    snapshot_id = f"rds:{row.db_instance_identifier}-{at - timedelta(days=9):%Y-%m-%d-%H-%M}"

    def snapshot(days: float) -> RdsEvidence:
        return RdsEvidence(
            db_instance_identifier=row.db_instance_identifier,
            backup_retention_period=0 if status == "DISABLED" else 7,
            newest_snapshot=SnapshotInfo(
                snapshot_id=snapshot_id, created_at=at - timedelta(days=days)
            ),
        )

    def objects(hours: float | None, size: int = 64) -> S3Evidence:
        found = (
            None
            if hours is None
            else ObjectInfo(
                key=f"{prefix_}backup-0000.dump",
                last_modified=at - timedelta(hours=hours),
                size=size,
            )
        )
        return S3Evidence(
            bucket=bucket,
            prefix=prefix_,
            min_object_bytes=1024 if status == "EMPTY" else 1,
            objects_seen=0 if found is None else 30,
            newest=found,
            newest_countable=found if size >= 1024 or status != "EMPTY" else None,
        )

    if status == "ERROR":
        tenant = tenant.model_copy(update={"problems": (BAD_TAG,)})
    elif status == "DISABLED":
        results[Check.RDS] = evaluate_rds(snapshot(9), max_age_hours=24, now=at)
    elif status == "EMPTY":
        results[Check.S3] = evaluate_s3(objects(2, size=0), max_age_hours=24, now=at)
    elif status == "STALE":
        results[Check.S3] = evaluate_s3(objects(30), max_age_hours=24, now=at)
    elif status == "SUSPECT":
        dump = f"{row.tenant}-{at:%Y-%m-%d}.dump"
        broken = (
            f", but it looks broken: {dump} is 2.4 KiB, 2% of the median of the last 7 dumps, "
            "120.1 KiB"
        )
        results[Check.S3] = s3.model_copy(
            update={"status": Status.SUSPECT, "reason": s3.reason + broken, "size_bytes": 2458}
        )
    elif status == "STOPPED":
        reason = (
            "DB instance is stopped, and RDS takes no automated backups while it is; newest "
            "automated snapshot 4 days old"
        )
        results[Check.RDS] = rds.model_copy(update={"status": Status.STOPPED, "reason": reason})
    elif status == "PENDING":
        due = f"new, first backup expected by {format_time(at + timedelta(hours=20))}"
        missing = evaluate_s3(objects(None), max_age_hours=24, now=at).reason
        results = {
            Check.RDS: CheckResult(check=Check.RDS, status=Status.PENDING, reason=due),
            Check.S3: CheckResult(
                check=Check.S3, status=Status.PENDING, reason=f"{due}; {missing}"
            ),
        }
    elif status == "PAUSED":
        tenant = tenant.model_copy(update={"paused_until": at + timedelta(days=5)})
        results = {
            Check.RDS: apply_pause(tenant, evaluate_rds(snapshot(5), max_age_hours=24, now=at), at),
            Check.S3: apply_pause(tenant, evaluate_s3(objects(None), max_age_hours=24, now=at), at),
        }
    elif status == "SKIPPED":
        reason = (
            f"PostgreSQL read replica of '{row.db_instance_identifier}-primary': RDS keeps no "
            "automated backups of PostgreSQL replicas; the source's backups cover it"
        )
        results[Check.RDS] = CheckResult(check=Check.RDS, status=Status.SKIPPED, reason=reason)
    else:
        raise ValueError(f"no variant for {status}")
    made = tenant_report(tenant, results, now=at)
    if made.status.value != status:
        raise AssertionError(f"variant {status} came out {made.status.value}: {made.reason}")
    return made


def _result_entry(
    scope: Scope, run_id: str, output: dict[str, Any], number: int, at: datetime
) -> dict[str, Any]:
    """One child's entry in the ResultWriter's ``SUCCEEDED_0.json``, as AWS writes it (Input
    and Output as JSON strings)."""
    name = f"{run_id}-{number:05d}"
    child_input = {
        "scope": scope.model_dump(mode="json"),
        "run_id": run_id,
        "bucket": REPORTS_BUCKET,
    }
    machine = f"arn:aws:states:{REGIONS[0]}:{HOME_ACCOUNT}:stateMachine:{STATE_MACHINE}"
    return {
        "ExecutionArn": f"{machine.replace('stateMachine', 'execution')}/map:{name}",
        "Input": json.dumps(child_input),
        "InputDetails": {"Included": True},
        "Name": name,
        "Output": json.dumps(output),
        "OutputDetails": {"Included": True},
        "RedriveCount": 0,
        "RedriveStatus": "NOT_REDRIVABLE",
        "RedriveStatusReason": "Execution is SUCCEEDED and cannot be redriven",
        "StartDate": at.isoformat(),
        "StateMachineArn": f"{machine}/map",
        "Status": "SUCCEEDED",
        "StopDate": (at + timedelta(seconds=30)).isoformat(),
    }


def _keys_sha256(keys: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()


def _row_keys(report: Report) -> list[str]:
    return ["|".join(row.key) for row in report.tenants]


def measure_fleet(args: argparse.Namespace) -> FleetResults:
    """The fleet mode (the section's comment): world, the real scope, then each day's run."""
    from moto.server import ThreadedMotoServer

    from backupwatch.aws.clients import s3_client

    results = FleetResults(
        scopes=args.scopes,
        tenants_per_scope=args.tenants,
        latency_ms=args.latency_ms,
        history_days=args.history_days if args.days > 1 else 0,
    )
    now = datetime.now(UTC).replace(microsecond=0)
    world = ScopeWorld(member_account(0), REGIONS[0], 0, args.tenants)
    spec = WorldSpec(
        tenants=args.tenants,
        now=now,
        snapshots_per_tenant=args.snapshots,
        objects_per_tenant=args.objects,
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ["AWS_ENDPOINT_URL"] = f"http://{host}:{port}"
    moto_patches.install()
    try:
        started = time.perf_counter()
        build_world([world], spec)
        results.world_seconds = time.perf_counter() - started
        _progress(f"world: 1 scope x {args.tenants} tenants, {results.world_seconds:.0f} s")
        home = boto3.Session(region_name=REGIONS[0])
        s3 = s3_client(home, REGIONS[0])
        s3.create_bucket(Bucket=REPORTS_BUCKET)
        topic = home.client("sns").create_topic(Name=TOPIC_NAME)["TopicArn"]
        environment = {
            **targets_environment(1, 1),
            "BACKUPWATCH_REPORT_BUCKET": REPORTS_BUCKET,
            "BACKUPWATCH_SNS_TOPIC_ARN": topic,
        }
        scopes = fleet_scopes(load_settings(environment), args.scopes)
        starts = [now - timedelta(days=args.days - 1 - day) for day in range(args.days)]
        run_ids = [f"bench-fleet-{at:%Y%m%dT%H%M%SZ}" for at in starts]

        # The real scope, as the last run's Map child for it.
        event = {
            "scope": scopes[0].model_dump(mode="json"),
            "run_id": run_ids[-1],
            "bucket": REPORTS_BUCKET,
        }
        job = {"event": event, "latency_ms": args.latency_ms}
        scan = _spawn("scan", f"scan: {scopes[0].label}", job, environment)
        results.scan = scan
        output: dict[str, Any] = scan.extra.pop("output")
        real = _read_report(s3, output)
        results.scan_verdicts = _verdicts(real)
        results.scan_expected = world.expected_verdicts()
        if results.scan_verdicts != results.scan_expected or real.region_errors:
            results.problems.append(
                f"the real scope: got {results.scan_verdicts} and "
                f"{len(real.region_errors)} scope error(s), world says {results.scan_expected}"
            )
        _progress(f"scan child: {scan.wall_seconds:.1f} s, {sum(scan.calls.values())} calls")

        for day, (at, run_id) in enumerate(zip(starts, run_ids, strict=True)):
            scanned = output if day == args.days - 1 else None
            fleet_day, publish_event = _fleet_day(
                s3, scopes, real, scanned, args, day=day, at=at, run_id=run_id
            )
            publish = _spawn(
                "publish", f"publish: run {day + 1}", {"event": publish_event}, environment
            )
            fleet_day.publish = publish
            fleet_day.archive_bytes = _archive_sizes(s3)
            if day == 0 and args.days > 1 and args.history_days:
                results.history_seconds = _seed_history(s3, args.history_days)
            results.problems += _verify_publish(fleet_day, publish, len(scopes))
            results.days.append(fleet_day)
            _progress(
                f"publish run {day + 1}: {publish.wall_seconds:.1f} s, "
                f"peak RSS {publish.rss_peak_kib / 1024:,.0f} MiB"
            )
    finally:
        moto_patches.uninstall()
        os.environ.pop("AWS_ENDPOINT_URL", None)
        server.stop()
    return results


def _fleet_day(
    s3: Any,
    scopes: Sequence[Scope],
    real: Report,
    real_output: dict[str, Any] | None,
    args: argparse.Namespace,
    *,
    day: int,
    at: datetime,
    run_id: str,
) -> tuple[FleetDay, dict[str, Any]]:
    """Write what the plan and the scan leave in S3 for one run; return it and the publish
    step's event. ``real_output`` is the scan child's output when it scanned for this run;
    otherwise the real scope's report is stored again, as of ``at``."""
    from backupwatch.aws.fanout_store import store_scan, write_plan
    from backupwatch.aws.retry import Retrier
    from backupwatch.core.fanout import event_bytes

    retrier = Retrier()
    result = FleetDay(run_id=run_id, started_at=at.isoformat())
    plan = write_plan(
        s3,
        retrier,
        bucket=REPORTS_BUCKET,
        prefix=REPORT_PREFIX,
        run_id=run_id,
        started_at=at,
        scopes=scopes,
    )
    result.scopes_json_bytes = _size(s3, plan.scopes_key)
    started = time.perf_counter()
    keys: list[str] = []
    verdicts: Counter[str] = Counter()
    entries = []
    for number, scope in enumerate(scopes):
        output = real_output if number == 0 else None
        if number == 0:
            report = real if output is not None else real.model_copy(update={"generated_at": at})
        else:
            report = synthesize(real, scope, number, tenants=args.tenants, day=day, at=at)
        if output is None:
            output = store_scan(
                s3,
                retrier,
                scope,
                report,
                bucket=REPORTS_BUCKET,
                prefix=REPORT_PREFIX,
                run_id=run_id,
            ).to_event()
        keys += _row_keys(report)
        verdicts.update(_verdicts(report))
        stored = output.get("report_s3")
        result.partial_bytes.append(_size(s3, stored["key"]) if stored else 0)
        result.inline_bytes.append(event_bytes(output))
        entry = _result_entry(scope, run_id, output, number, at)
        result.result_entry_bytes.append(len(json.dumps(entry).encode()))
        entries.append(entry)
    result.synthesis_seconds = time.perf_counter() - started
    result.expected_tenants = len(keys)
    result.expected_keys_sha256 = _keys_sha256(keys)
    result.expected_verdicts = dict(sorted(verdicts.items()))
    # What the ResultWriter leaves: <Prefix>/<map run id>/SUCCEEDED_0.json and manifest.json.
    base = f"{REPORT_PREFIX}runs/{run_id}-map/"
    body = json.dumps(entries).encode()
    s3.put_object(Bucket=REPORTS_BUCKET, Key=f"{base}SUCCEEDED_0.json", Body=body)
    result.result_file_bytes = len(body)
    map_run = f"arn:aws:states:{REGIONS[0]}:{HOME_ACCOUNT}:mapRun:{STATE_MACHINE}/map:{run_id}"
    manifest = json.dumps(
        {
            "DestinationBucket": REPORTS_BUCKET,
            "MapRunArn": map_run,
            "ResultFiles": {
                "FAILED": [],
                "PENDING": [],
                "SUCCEEDED": [{"Key": f"{base}SUCCEEDED_0.json", "Size": len(body)}],
            },
        }
    ).encode()
    s3.put_object(Bucket=REPORTS_BUCKET, Key=f"{base}manifest.json", Body=manifest)
    result.manifest_bytes = len(manifest)
    event = {
        "plan": plan.model_dump(mode="json"),
        "scan": {
            "MapRunArn": map_run,
            "ResultWriterDetails": {"Bucket": REPORTS_BUCKET, "Key": f"{base}manifest.json"},
        },
        "dry_run": False,
    }
    _progress(
        f"run {day + 1}: {len(scopes)} partial reports and the result file written in "
        f"{result.synthesis_seconds:.1f} s"
    )
    return result, event


DRIFTING_ROWS = 2
"""One row in this many has other numbers (ages, sizes) on each seeded day than on the day
after it; the others are the same every day, as a tenant backed up at the same hour each day
is. A reader shares a row that did not change with the day before (``DaySummaryReader``), so
copies alike in every row would flatter it."""


def _drift(numbers: str, back: int) -> str:
    """``numbers`` (a day summary row's, space-separated) with the first one moved by ``back``:
    another day's age."""
    first, _, rest = numbers.partition(" ")
    if not first.isdigit():
        return numbers
    return f"{int(first) + back}{' ' if rest else ''}{rest}"


def _seed_history(s3: Any, days: int) -> float:
    """Copy the first run into ``days`` earlier days of the archive: its day summary (with
    that day's ``generated_at``: the documented JSON of ``core.day_summary``; one row in
    ``DRIFTING_ROWS`` with other numbers each day) and an index entry each, as if the fleet
    had been running that long. The reports themselves are not copied: a run reads the earlier
    days' summaries only, and the previous run's."""
    from backupwatch.aws.archive import ArchiveIndex, day_summary_key, index_key, report_key
    from backupwatch.core.day_summary import COLUMNS

    started = time.perf_counter()
    key = index_key(REPORT_PREFIX)
    index = ArchiveIndex.model_validate_json(
        s3.get_object(Bucket=REPORTS_BUCKET, Key=key)["Body"].read()
    )
    [first] = index.runs
    body = s3.get_object(Bucket=REPORTS_BUCKET, Key=day_summary_key(first.key))["Body"].read()
    document = json.loads(gzip.decompress(body))
    rows = document["tenants"]
    numbers = COLUMNS.index("numbers")
    original = [row[numbers] for row in rows]
    runs = [first]
    for back in range(1, days + 1):
        at = first.generated_at - timedelta(days=back)
        document["generated_at"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
        for i in range(0, len(rows), DRIFTING_ROWS):
            rows[i][numbers] = _drift(original[i], back)
        copy = gzip.compress(json.dumps(document, separators=(",", ":")).encode(), mtime=0)
        earlier = report_key(REPORT_PREFIX, at)
        s3.put_object(Bucket=REPORTS_BUCKET, Key=day_summary_key(earlier), Body=copy)
        runs.append(first.model_copy(update={"key": earlier, "generated_at": at}))
    seeded = index.model_copy(update={"runs": tuple(sorted(runs, key=lambda r: r.generated_at))})
    s3.put_object(Bucket=REPORTS_BUCKET, Key=key, Body=seeded.model_dump_json().encode())
    seconds = time.perf_counter() - started
    _progress(f"history: {days} earlier day(s) seeded in {seconds:.1f} s")
    return seconds


def _size(s3: Any, key: str) -> int:
    return int(s3.head_object(Bucket=REPORTS_BUCKET, Key=key)["ContentLength"])


def _read_report(s3: Any, output: dict[str, Any]) -> Report:
    """The scan output's partial report: inline, or read from where the child wrote it."""
    if output.get("report") is not None:
        return Report.model_validate(output["report"])
    location = output["report_s3"]
    body = s3.get_object(Bucket=location["bucket"], Key=location["key"])["Body"].read()
    return Report.from_json(body)


def _archive_sizes(s3: Any) -> dict[str, int]:
    """Every object under the report prefix but the runs' own (the archive, page, ledger)."""
    sizes: dict[str, int] = {}
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=REPORTS_BUCKET, Prefix=REPORT_PREFIX):
        for item in page.get("Contents", []):
            if not item["Key"].startswith(f"{REPORT_PREFIX}runs/"):
                sizes[item["Key"].removeprefix(REPORT_PREFIX)] = int(item["Size"])
    return sizes


def _verify_publish(day: FleetDay, publish: ChildRun, scopes: int) -> list[str]:
    """Every tenant of every scope in the merged report exactly once, every scope checked."""
    got = publish.extra
    problems = []
    if got.get("tenants") != day.expected_tenants:
        problems.append(f"{day.run_id}: {got.get('tenants')} tenants, {day.expected_tenants} sent")
    if got.get("unique_keys") != got.get("tenants"):
        problems.append(f"{day.run_id}: {got.get('unique_keys')} distinct of {got.get('tenants')}")
    if got.get("keys_sha256") != day.expected_keys_sha256:
        problems.append(f"{day.run_id}: the merged report's tenants are not the ones sent")
    if got.get("verdicts") != day.expected_verdicts:
        problems.append(f"{day.run_id}: verdicts {got.get('verdicts')}, {day.expected_verdicts}")
    if (got.get("scopes"), got.get("scopes_failed"), got.get("region_errors")) != (scopes, 0, []):
        problems.append(
            f"{day.run_id}: scopes {got.get('scopes')}, failed {got.get('scopes_failed')}, "
            f"errors {got.get('region_errors')}"
        )
    if not got.get("message_id") or not got.get("report"):
        problems.append(f"{day.run_id}: no digest published or no report archived")
    return problems


def _spawn(kind: str, label: str, job: dict[str, Any], environment: dict[str, str]) -> ChildRun:
    """Run ``job`` in a fresh ``python -m benchmarks.scale --child kind``; return what it
    measured, with the server's CPU (this process's, while it ran) and the load around it."""
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as folder:
        job_path, result_path = Path(folder, "job.json"), Path(folder, "result.json")
        log_path = Path(folder, "child.log")
        job_path.write_text(json.dumps(job), encoding="utf-8")
        command = [sys.executable, "-m", "benchmarks.scale", "--child", kind]
        command += ["--child-job", str(job_path), "--child-result", str(result_path)]
        run = ChildRun(label=label, load_before=list(os.getloadavg()))
        cpu = time.process_time()
        with log_path.open("wb") as log:
            finished = subprocess.run(
                command,
                env={**os.environ, **environment},
                cwd=Path(__file__).resolve().parents[1],
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
            )
        run.server_cpu_seconds = time.process_time() - cpu
        run.load_after = list(os.getloadavg())
        if finished.returncode != 0:
            tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
            raise RuntimeError(f"the {kind} child failed ({finished.returncode}):\n{tail}")
        measured = json.loads(result_path.read_text(encoding="utf-8"))
    for name in (
        "wall_seconds",
        "cpu_seconds",
        "rss_start_kib",
        "rss_imports_kib",
        "rss_peak_kib",
        "phases",
        "phase_rss_kib",
        "calls",
    ):
        setattr(run, name, measured.pop(name))
    run.extra = measured
    return run


# --- the fleet's child processes ---------------------------------------------------------------


def _child_main(args: argparse.Namespace) -> int:
    """One step of the state machine in this fresh process, measured; the result goes to
    ``--child-result`` as JSON."""
    start_kib = _peak_rss_kib()
    # Lambda's runtime logs every record at INFO and up (the template's LoggingConfig).
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(message)s")
    job = json.loads(Path(args.child_job).read_text(encoding="utf-8"))
    measured = _scan_child(job) if args.child == "scan" else _publish_child(job)
    measured["rss_start_kib"] = start_kib
    measured["rss_peak_kib"] = _peak_rss_kib()
    measured["ru_maxrss_kib"] = _max_rss_kib()  # at least the parent's RSS at the fork
    Path(args.child_result).write_text(json.dumps(measured, default=str), encoding="utf-8")
    return 0


def _peak_rss_kib() -> int:
    """This process's peak resident set size (``VmHWM``), in KiB.

    Not ``ru_maxrss``: Linux carries the parent's high-water mark over ``fork`` and ``exec``
    (``signal->maxrss``), so a child of the parent (moto's server and world) would report at
    least the parent's RSS. ``VmHWM`` belongs to the memory of this program alone.
    """
    peak = _status_kib("VmHWM")
    return _max_rss_kib() if peak is None else peak


def _status_kib(field_name: str) -> int | None:
    """A ``/proc/self/status`` memory line (``VmHWM``, ``VmRSS``) in KiB; None off Linux."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(f"{field_name}:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


@dataclass
class _Marks:
    """Wall time, and peak and current RSS after it, of named library functions: the module's
    global is wrapped (benchmark instrumentation: what each does is unchanged), so the
    step that raises the peak shows."""

    steps: dict[str, dict[str, float]] = field(default_factory=dict)

    def wrap(self, module: Any, names: Sequence[str]) -> None:
        for name in names:
            original = getattr(module, name, None)
            if callable(original):
                setattr(module, name, self._timed(name, original))

    def _timed(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                step = self.steps.setdefault(name, {"calls": 0, "seconds": 0.0})
                step["calls"] += 1
                step["seconds"] += time.perf_counter() - started
                step["peak_kib"] = _peak_rss_kib()
                step["rss_kib"] = _status_kib("VmRSS") or 0

        return timed


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _scan_child(job: dict[str, Any]) -> dict[str, Any]:
    """``handlers.scan_scope.lambda_handler``'s body, with a metered session (every AWS call
    counted and ``latency_ms`` added, member accounts' too)."""
    import handlers.scan_scope  # noqa: F401 - what the function's init phase loads
    from backupwatch.pipeline import steps
    from backupwatch.pipeline.lambda_run import start

    imports_kib = _peak_rss_kib()
    cpu, started = _cpu_seconds(), time.perf_counter()
    start(None, os.environ)
    request = steps.scan_request(job["event"])
    settings = load_settings(os.environ)
    meter = AwsMeter(latency_seconds=job["latency_ms"] / 1000)
    session = boto3.Session()
    meter.attach(session)
    with _metered_sessions(meter):
        output = steps.scan(settings, request, session=session)
    wall = time.perf_counter() - started
    return {
        "wall_seconds": wall,
        "cpu_seconds": _cpu_seconds() - cpu,
        "rss_imports_kib": imports_kib,
        "phases": {"scan": wall},
        "phase_rss_kib": {"scan": _peak_rss_kib()},
        "calls": dict(sorted(meter.calls.items())),
        "output": output,
    }


def _publish_child(job: dict[str, Any]) -> dict[str, Any]:
    """``handlers.publish_digest.lambda_handler``'s body, step by step, each step timed; then
    (outside the figures) what the merged report holds, for the parent to verify."""
    import backupwatch.aws.fanout_store
    import backupwatch.pipeline.daily
    import handlers.publish_digest  # noqa: F401 - what the function's init phase loads
    from backupwatch import run_daily
    from backupwatch.pipeline import steps
    from backupwatch.pipeline.lambda_run import (
        dry_run_from,
        finish,
        occasion_from,
        resend_from,
        start,
    )

    marks = _Marks()
    marks.wrap(backupwatch.aws.fanout_store, ("_from_manifest", "_resolve", "collect"))
    marks.wrap(
        backupwatch.pipeline.daily,
        (
            "load_history",
            "earlier_days",
            "archived_dumps",
            "compare",
            "write_run",
            "write_status_page_for",
            "_deliver",
        ),
    )
    imports_kib = _peak_rss_kib()
    event = job["event"]
    phases: dict[str, float] = {}
    phase_rss: dict[str, int] = {}
    cpu, started = _cpu_seconds(), time.perf_counter()

    def done(phase: str, since: float) -> float:
        now = time.perf_counter()
        phases[phase] = now - since
        phase_rss[phase] = _peak_rss_kib()
        return now

    telemetry = start(None, os.environ)
    settings = load_settings(os.environ, dry_run=dry_run_from(event))
    session = telemetry.session()
    collected = steps.gather_run(settings, event, session=session)
    mark = done("gather: read and merge", started)
    outcome = run_daily(
        settings,
        report=collected.report,
        session=session,
        occasion=occasion_from(event),
        resend=resend_from(event),
    )
    mark = done("archive, compare, page, digest, publish", mark)
    summary = finish(
        outcome, telemetry, scopes=collected.scopes, scopes_failed=collected.scopes_failed
    )
    done("finish: metrics, failing-tenant log lines", mark)
    wall, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    peak_kib = _peak_rss_kib()
    report = collected.report
    keys = _row_keys(report)
    digest = outcome.digest
    return {
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "rss_imports_kib": imports_kib,
        "phases": phases,
        "phase_rss_kib": {**phase_rss, "peak before verifying": peak_kib},
        "calls": {},
        "library_steps": marks.steps,
        "tenants": len(keys),
        "unique_keys": len(set(keys)),
        "keys_sha256": _keys_sha256(keys),
        "verdicts": _verdicts(report),
        "scopes": collected.scopes,
        "scopes_failed": collected.scopes_failed,
        "region_errors": [error.reason for error in report.region_errors][:5],
        "message_id": summary.get("message_id"),
        "report": summary.get("report"),
        "changes": summary.get("changes"),
        "digest_subject": digest.subject,
        "digest_bytes": digest.size_bytes,
        "digest_body_lines": digest.body.count("\n") + 1,
        "digest_omitted": digest.omitted,
        "digest_failing": digest.failing,
    }


# --- the fleet's report --------------------------------------------------------------------------


def render_fleet(results: FleetResults, args: argparse.Namespace) -> str:
    import moto

    tenants = results.scopes * results.tenants_per_scope
    header = "\n".join(
        [
            "## backupwatch fleet simulation",
            "",
            f"- machine: {os.cpu_count()} CPUs ({platform.machine()}), {platform.system()}, "
            f"load average {_load(os.getloadavg())} at the end",
            f"- python {platform.python_version()}, boto3 {boto3.__version__}, "
            f"botocore {botocore.__version__}, moto {moto.__version__} (a server in the parent "
            "process, patched as benchmarks/moto_patches.py says)",
            f"- fleet: {results.scopes} scopes x {results.tenants_per_scope:,} tenants = "
            f"{tenants:,}; one scope scanned for real ({args.snapshots} automated snapshots "
            f"and {args.objects} S3 objects per tenant, {results.latency_ms:g} ms added per "
            f"AWS call, world seeded in {results.world_seconds:.0f} s), "
            f"{results.scopes - 1} synthesized from it; {len(results.days)} run(s) in a row, "
            "the last compared with the one before"
            + (
                f"; before the last, {results.history_days} earlier days copied from the "
                f"first into the archive ({results.history_seconds:.0f} s), so it reads "
                f"{results.history_days + 1} earlier days for the status page"
                if results.history_days
                else ""
            ),
        ]
    )
    head = (
        "| step | wall s | CPU s | moto server CPU s | RSS at start MiB | after imports MiB "
        "| peak RSS MiB | calls | load average before / after |"
    )
    lines = [head, "|" + "|".join(["---"] * (head.count("|") - 1)) + "|"]
    children = [results.scan] if results.scan else []
    children += [day.publish for day in results.days if day.publish]
    for child in children:
        calls = sum(child.calls.values())
        lines.append(
            f"| {child.label} | {child.wall_seconds:.1f} | {child.cpu_seconds:.1f} "
            f"| {child.server_cpu_seconds:.1f} | {child.rss_start_kib / 1024:.0f} "
            f"| {child.rss_imports_kib / 1024:.0f} | {child.rss_peak_kib / 1024:.0f} "
            f"| {f'{calls:,}' if calls else '-'} "
            f"| {_load(child.load_before)} / {_load(child.load_after)} |"
        )
    notes = []
    if results.scan:
        notes.append(
            "- scan calls: " + ", ".join(f"{op} {n:,}" for op, n in results.scan.calls.items())
        )
        notes.append(f"- scan verdicts: {results.scan_verdicts}")
    for day in results.days:
        publish = day.publish
        if publish is None:
            continue
        steps_ = ", ".join(
            f"{name} {seconds:.1f} s (peak RSS {publish.phase_rss_kib[name] / 1024:.0f} MiB)"
            for name, seconds in publish.phases.items()
        )
        library = ", ".join(
            f"{name} {step['seconds']:.1f} s"
            + (f" ({int(step['calls'])} calls)" if step["calls"] > 1 else "")
            + f" -> peak {step['peak_kib'] / 1024:,.0f} / now {step['rss_kib'] / 1024:,.0f} MiB"
            for name, step in publish.extra.get("library_steps", {}).items()
        )
        partials = [b for b in day.partial_bytes if b]
        inline = [i for i, p in zip(day.inline_bytes, day.partial_bytes, strict=True) if not p]
        archive = ", ".join(f"{key} {_bytes(size)}" for key, size in day.archive_bytes.items())
        extra = publish.extra
        notes += [
            "",
            f"**{publish.label}** ({day.run_id}, started {day.started_at})",
            "",
            f"- steps: {steps_}",
            f"- inside them (each function's time; the peak and current RSS after it): {library}",
            f"- partial reports in S3: {len(partials)} of {len(day.partial_bytes)} scopes, "
            f"{_spread(partials)} each, {_bytes(sum(partials))} in all; inline outputs "
            f"{_spread(inline)}",
            f"- ResultWriter: SUCCEEDED_0.json {_bytes(day.result_file_bytes)} "
            f"({_spread(day.result_entry_bytes)} per entry), manifest.json "
            f"{_bytes(day.manifest_bytes)}; scopes.json {_bytes(day.scopes_json_bytes)}; "
            f"written in {day.synthesis_seconds:.1f} s",
            f"- merged: {extra['tenants']:,} tenants ({extra['unique_keys']:,} distinct), "
            f"{extra['scopes']} scopes, {extra['scopes_failed']} failed; verdicts "
            f"{extra['verdicts']}",
            f"- digest: {_bytes(extra['digest_bytes'])} ({extra['digest_body_lines']:,} lines, "
            f"{extra['digest_omitted']:,} tenant lines cut to fit SNS), subject "
            f"'{extra['digest_subject']}'; changes {extra['changes']}",
            f"- the archive after the run: {archive}",
        ]
    verdict = (
        "VERIFICATION FAILED:\n" + "\n".join(f"- {p}" for p in results.problems)
        if results.problems
        else "Verified: the real scope reached the world's verdicts, and every merged report "
        "holds every tenant sent, each exactly once, with the verdicts sent."
    )
    return "\n\n".join([header, "\n".join(lines), "\n".join(notes), verdict])


def _load(values: Sequence[float]) -> str:
    return ", ".join(f"{x:.2f}" for x in values)


def _bytes(size: float) -> str:
    for unit, scale in (("MB", 1e6), ("KB", 1e3)):
        if size >= scale:
            return f"{size / scale:,.1f} {unit}"
    return f"{size:,.0f} B"


def _spread(sizes: Sequence[int]) -> str:
    if not sizes:
        return "none"
    low, mid, high = min(sizes), statistics.median(sizes), max(sizes)
    return _bytes(mid) if low == high else f"{_bytes(low)} to {_bytes(high)} (median {_bytes(mid)})"


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print the report; exit 1 if a verdict differs from the world's."""
    args = parse_args(argv)
    if args.child:
        return _child_main(args)
    for name, value in FAKE_CREDENTIALS.items():
        os.environ[name] = value
    # Never MOTO_ACCOUNT_ID: it would override the member account of an assumed role.
    os.environ.pop("MOTO_ACCOUNT_ID", None)
    if args.simulate_fleet:
        fleet = measure_fleet(args)
        print(render_fleet(fleet, args))
        if args.json:
            with open(args.json, "w", encoding="utf-8") as out:
                json.dump(asdict(fleet), out, indent=2)
        return 1 if fleet.problems else 0
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
