"""One (approach, N) measurement, in a process of its own: ``python -m benchmarks.worker JOB``.

A fresh process per measurement so that peak RSS (``ru_maxrss``, which only ever grows) belongs
to that measurement alone, and so nothing (caches, moto state, patches) leaks between them.
``JOB`` is a JSON ``Job``; the result is one JSON line on stdout, logs go to stderr.

Inside, after building the world:

1. the timed runs (``repeat`` of them) at the configured latency: wall time and calls;
2. peak RSS so far: moto's world plus the check at its largest;
3. one run at latency 0: the CPU floor (botocore + moto + our code, nothing to wait for) and
   moto's own CPU per call, so the gap between the wall time and the latency bound has a
   measured explanation;
4. one run at latency 0 under ``tracemalloc``: the peak of Python allocations made by the
   check itself (responses included), which excludes the world built before it started.

With ``everything``, a ``FakeAws`` world (``backupwatch/cli/fake_aws.py``) answers the AWS
Backup listings and DescribeDBInstanceAutomatedBackups, which moto lacks, for the whole job.
Its handlers are specific ``before-send.<service>.<Operation>`` ones, which botocore calls
before the meter's generic ``before-send`` ones; every handler runs (``emit``) and the first
response wins, so the meter still counts each faked call and sleeps its latency after it.
``_verify_fake`` checks both before measuring, and each timed run checks that the meter counted
exactly the calls the fake answered.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import boto3
from moto import mock_aws
from moto.rds.models import rds_backends
from moto.s3.models import s3_backends

# Before any session exists: the fake's handlers join botocore's built-in ones at import.
from backupwatch.cli.fake_aws import FAKED_OPERATIONS, FakeAws

from . import moto_patches
from .approaches import backupwatch_settings, run_backupwatch, run_naive
from .meter import AwsMeter, HandlerClock, verify_latency
from .report import git_state
from .world import (
    BUCKET,
    COPY_REGION,
    REGION,
    WorldSpec,
    account_id,
    build_world,
    instance_id,
    prefix,
)

Run = Callable[[], dict[str, int]]

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@dataclass(frozen=True)
class Job:
    """What to measure. Knobs left ``None`` keep backupwatch's defaults."""

    approach: str  # "naive" | "backupwatch"
    tenants: int
    latency_ms: float = 20.0
    repeat: int = 1
    snapshots_per_tenant: int = 7
    objects_per_tenant: int = 30
    date_layout: str | None = None
    integrity: bool = False
    s3_concurrency: int | None = None
    rds_requests_per_second: float | None = None
    rds_burst: int | None = None
    moto_as_is: bool = False
    floor: bool = True
    memory: bool = True
    everything: bool = False
    """backupwatch with every check and control on, on a world that passes them (world.py)."""


@dataclass
class Result:
    """What one job measured; seconds, bytes and KiB as named."""

    job: Job
    world_seconds: float = 0.0
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    """Process CPU seconds of each timed run (botocore + moto + our code; sleeps cost none)."""
    moto_cpus: list[float] = field(default_factory=list)
    """moto's share of ``cpus``, run by run (``AwsMeter.moto_cpu_seconds``)."""
    fake_cpus: list[float] = field(default_factory=list)
    """With ``everything``: ``FakeAws``'s share of ``cpus``, run by run."""
    calls: dict[str, int] = field(default_factory=dict)
    verdicts: dict[str, int] = field(default_factory=dict)
    expected_verdicts: dict[str, int] = field(default_factory=dict)
    max_in_flight: int = 0
    settings: dict[str, object] = field(default_factory=dict)
    rss_world_kib: int = 0
    rss_peak_kib: int = 0
    floor_seconds: float | None = None
    floor_cpu_seconds: float | None = None
    moto_cpu_seconds: float | None = None
    floor_fake_cpu_seconds: float | None = None
    """With ``everything``: ``FakeAws``'s CPU in the latency-0 run (0.0 without it)."""
    tracemalloc_peak_bytes: int | None = None
    traced_seconds: float | None = None
    latency_check_ms: float | None = None
    fake_latency_check_ms: float | None = None
    """With ``everything``: seconds per call answered by ``FakeAws``, as ``latency_check_ms``."""
    fake_calls: int | None = None
    """With ``everything``: calls ``FakeAws`` answered in the last timed run (= metered ones)."""
    tree: str = ""
    """The backupwatch commit this process imported (others edit the tree meanwhile)."""


def main(argv: list[str]) -> int:
    """Run the job in ``argv[1]``; print its ``Result`` as one JSON line."""
    job = Job(**json.loads(argv[1]))
    for name, value in FAKE_CREDENTIALS.items():
        os.environ[name] = value
    os.environ.setdefault("MOTO_ACCOUNT_ID", "123456789012")
    result = measure(job)
    print(json.dumps(asdict(result)))
    return 0


def measure(job: Job) -> Result:
    """Build the world and run the measurements in the module docstring, in that order."""
    result = Result(job=job, tree=git_state())
    now = datetime.now(UTC).replace(microsecond=0)
    spec = WorldSpec(
        tenants=job.tenants,
        now=now,
        snapshots_per_tenant=job.snapshots_per_tenant,
        objects_per_tenant=job.objects_per_tenant,
        date_layout=job.date_layout,
        integrity=job.integrity,
        everything=job.everything,
    )
    result.expected_verdicts = spec.expected_verdicts()
    with mock_aws(), _fake_world(job, now) as fake:
        if not job.moto_as_is:
            moto_patches.install()
        result.world_seconds = _build(spec, patched=not job.moto_as_is, fake=fake)

        session = boto3.Session(region_name=REGION)
        meter = AwsMeter(latency_seconds=job.latency_ms / 1000)
        meter.attach(session)
        fake_clock = HandlerClock(
            tuple(f"before-send.{service}.{op}" for op, service in FAKED_OPERATIONS.items())
        )
        if fake is not None:
            fake_clock.attach(session)
        result.latency_check_ms = verify_latency(session, meter) * 1000
        _warm_up(session, everything=job.everything)
        if fake is not None:
            result.fake_latency_check_ms = _verify_fake(session, meter, fake) * 1000
        meter.reset()
        result.rss_world_kib = _max_rss_kib()

        run = _runner(job, session, now, result)

        for _ in range(job.repeat):
            meter.reset()
            fake_clock.reset()
            if fake is not None:
                fake.calls.clear()
            cpu, started = time.process_time(), time.perf_counter()
            result.verdicts = run()
            result.walls.append(time.perf_counter() - started)
            result.cpus.append(time.process_time() - cpu)
            result.moto_cpus.append(meter.moto_cpu_seconds)
            result.fake_cpus.append(fake_clock.cpu_seconds)
            if fake is not None:
                result.fake_calls = _check_fake_counted(meter, fake)
        result.calls = dict(sorted(meter.calls.items()))
        result.max_in_flight = meter.max_in_flight
        result.rss_peak_kib = _max_rss_kib()

        meter.latency_seconds = 0.0
        if fake is not None:
            run = _forgetting(run, fake)  # the fake records every call: keep it from growing
        if job.floor:
            _floor(result, meter, run, fake_clock)
        if job.memory:
            started = time.perf_counter()
            result.tracemalloc_peak_bytes = _traced_peak(run)
            result.traced_seconds = time.perf_counter() - started
        moto_patches.uninstall()
    return result


def _warm_up(session: boto3.Session, *, everything: bool = False) -> None:
    """Load botocore's RDS and S3 models (and Backup's) into the session before timing anything.

    The first client of a service parses its JSON model (~0.5 s); without this the first timed
    run of each approach pays it and the medians of few runs mix cold and warm starts.
    """
    session.client("rds", region_name=REGION).describe_db_instances(
        DBInstanceIdentifier=instance_id(0)
    )
    session.client("s3", region_name=REGION).list_objects_v2(
        Bucket=BUCKET, Prefix=prefix(0), MaxKeys=1
    )
    if everything:
        session.client("backup", region_name=REGION).list_backup_vaults(MaxResults=1)
        session.client("rds", region_name=COPY_REGION).describe_db_instance_automated_backups(
            MaxRecords=20
        )


@contextmanager
def _fake_world(job: Job, now: datetime) -> Iterator[FakeAws | None]:
    """The ``FakeAws`` world for ``everything`` (active for the whole job), else nothing:
    without it the fake's handlers answer nothing and cost nothing."""
    if not job.everything:
        yield None
        return
    with FakeAws(clock=lambda: now) as fake:
        yield fake


def _verify_fake(session: boto3.Session, meter: AwsMeter, fake: FakeAws, calls: int = 5) -> float:
    """Seconds per call the fake answers: the meter must count each and add the latency.

    Raises ``RuntimeError`` otherwise, like ``verify_latency`` (e.g. if a botocore version
    called the generic handlers first and stopped at the fake's response).
    """
    backup = session.client("backup", region_name=COPY_REGION)
    meter.reset()
    fake.calls.clear()
    started = time.perf_counter()
    for _ in range(calls):
        backup.list_backup_vaults()
    per_call = (time.perf_counter() - started) / calls
    counted = meter.calls.get("backup:ListBackupVaults", 0)
    if counted != calls or len(fake.calls) != calls:
        raise RuntimeError(
            f"fake calls not metered: {calls} made, meter counted {counted}, "
            f"the fake answered {len(fake.calls)}"
        )
    if per_call < meter.latency_seconds * 0.95:
        raise RuntimeError(
            f"latency not added to fake calls: {per_call * 1000:.1f} ms per call, "
            f"expected >= {meter.latency_seconds * 1000:.0f} ms"
        )
    fake.calls.clear()
    return per_call


def _check_fake_counted(meter: AwsMeter, fake: FakeAws) -> int:
    """The calls the fake answered in one run; raises unless the meter counted the same.

    DescribeDB(Cluster)Snapshots are left out: the fake answers them only for
    ``SnapshotType=awsbackup`` and moto answers the rest, all counted under one name.
    """
    shared = {"DescribeDBSnapshots", "DescribeDBClusterSnapshots"}
    answered = Counter(
        f"{FAKED_OPERATIONS[operation]}:{operation}"
        for operation, _region, _params in fake.calls
        if operation not in shared
    )
    wholly = {f"{service}:{op}" for op, service in FAKED_OPERATIONS.items() if op not in shared}
    metered = Counter({name: n for name, n in meter.calls.items() if name in wholly})
    if metered != answered:
        raise RuntimeError(f"metered {dict(metered)} but the fake answered {dict(answered)}")
    total = len(fake.calls)
    fake.calls.clear()
    return total


def _forgetting(run: Run, fake: FakeAws) -> Run:
    """``run``, emptying the fake's record of calls first (it would grow run after run)."""

    def forgetful() -> dict[str, int]:
        fake.calls.clear()
        return run()

    return forgetful


def _runner(job: Job, session: boto3.Session, now: datetime, result: Result) -> Run:
    """The approach under test as a no-argument call; records backupwatch's settings."""
    if job.approach == "naive":
        return lambda: run_naive(session, now)
    if job.approach != "backupwatch":
        raise ValueError(f"unknown approach {job.approach!r}")
    settings = backupwatch_settings(
        s3_concurrency=job.s3_concurrency,
        rds_requests_per_second=job.rds_requests_per_second,
        rds_burst=job.rds_burst,
        date_layout=job.date_layout,
        integrity=job.integrity,
        everything=job.everything,
    )
    names = (
        "s3_concurrency",
        "rds_requests_per_second",
        "rds_burst",
        "s3_date_layout",
        "dump_format",
        "verify_checksums",
        "checks",
        "rds_backup_rule",
        "copy_regions",
        "min_retention_days",
        "encryption_required",
        "backup_kms_key",
        "daily_backup_days",
    )
    result.settings = {name: _plain(getattr(settings, name, None)) for name in names}
    return lambda: run_backupwatch(session, settings, now)


def _plain(value: object) -> object:
    """A setting as JSON can carry it (``checks`` is a tuple of enums)."""
    if isinstance(value, tuple):
        return [str(item) for item in value]
    return value


def _build(spec: WorldSpec, *, patched: bool, fake: FakeAws | None = None) -> float:
    """Seed the world (and, when patched, index and self-check it); return the seconds."""
    started = time.perf_counter()
    build_world(spec, fake)
    if patched:
        s3_backend = s3_backends[account_id()]["aws"]
        rds_backend = rds_backends[account_id()][REGION]
        moto_patches.index_world(s3_backend, BUCKET, rds_backend)
        samples = sorted({0, spec.tenants // 2, spec.tenants - 1})
        moto_patches.self_check(
            s3_backend,
            BUCKET,
            [prefix(i) for i in samples],
            rds_backend,
            [instance_id(i) for i in samples],
        )
    return time.perf_counter() - started


def _floor(result: Result, meter: AwsMeter, run: Run, fake_clock: HandlerClock) -> None:
    """One run with no latency: wall and process CPU of the check, moto's and the fake's share."""
    meter.reset()
    fake_clock.reset()
    cpu, started = time.process_time(), time.perf_counter()
    run()
    result.floor_seconds = time.perf_counter() - started
    result.floor_cpu_seconds = time.process_time() - cpu
    result.moto_cpu_seconds = meter.moto_cpu_seconds
    result.floor_fake_cpu_seconds = fake_clock.cpu_seconds


def _traced_peak(run: Run) -> int:
    """Peak bytes allocated by one run (tracemalloc sees only what is allocated after start)."""
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _max_rss_kib() -> int:
    """Peak resident set size of this process so far; Linux reports KiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


if __name__ == "__main__":
    sys.exit(main(sys.argv))
