"""The status page at scale: ``python -m benchmarks.status_page`` (issue 8, item 5).

Builds 1,000 tenants x 30 days of synthetic daily reports whose reasons come from backupwatch's
own evaluation (so they carry real ages, sizes and keys, and rarely repeat), renders the page,
and prints the median render time of 5 and the page size. For comparison it renders the naive
page in the same run: the same grid with the tooltip text in a ``title`` attribute per cell.

Nothing here touches AWS. ``synthetic_reports`` is also what tests/test_status_page.py uses
for its size assertion, so the test and these figures describe the same fleet.

``--history`` (issue "Performance at fleet scale", item 7) measures what a daily run does with
the report archive at 10,000 and 100,000 tenants, the old way (29 full reports read for the
status page) against the day summaries (``backupwatch.core.day_summary``): see ``history``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import html
import io
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from backupwatch import (
    Check,
    CheckResult,
    ObjectInfo,
    RdsEvidence,
    RegionError,
    Report,
    S3Evidence,
    SnapshotInfo,
    Status,
    Tenant,
    TenantReport,
    evaluate_rds,
    evaluate_s3,
)
from backupwatch.aws.archive import (
    ArchiveIndex,
    History,
    IndexedRun,
    earlier_days,
    earlier_reports,
    index_key,
    load_history,
    read_index,
    write_report,
    write_run,
    write_status_page,
)
from backupwatch.aws.retry import Retrier
from backupwatch.core.changes import compare
from backupwatch.core.day_summary import DaySummary, DaySummaryReader, collection_paused
from backupwatch.core.evaluation import error_result, tenant_report
from backupwatch.core.size_history import archived_dumps
from backupwatch.core.status_page import render_status_page

END = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
ACCOUNTS = ("111122223333", "444455556666", "777788889999")
REGIONS = ("eu-west-1", "us-east-1", "ap-southeast-2")
BUCKET = "acme-corp-db-backups"
WORDS = (
    *("acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "soylent"),
    *("cyberdyne", "tyrell", "oscorp", "wonka", "vandelay", "monarch", "gringotts"),
    *("aperture", "blackmesa", "massive", "dunder", "pied", "piper", "nakatomi"),
)
# What each tenant does over the range, with its share of the fleet (the rest is healthy).
PROFILES = (
    ("flaky", 0.06),  # STALE on a few random days
    ("broken", 0.03),  # MISSING from some day on
    ("disabled", 0.01),
    ("empty", 0.02),
    ("denied", 0.02),  # ERROR: AccessDenied, long reasons
    ("stopped", 0.02),
    ("paused", 0.01),
    ("replica", 0.01),
    ("new", 0.02),  # onboarded during the range: absent before, PENDING on its first day
    ("gone", 0.01),  # offboarded during the range: absent after
)


def synthetic_reports(
    tenants: int = 1000, days: int = 30, *, seed: int = 8, missing_day: bool = True
) -> list[Report]:
    """``days`` daily reports of ``tenants`` tenants, oldest first, deterministic for a seed.

    One day has no report (the run did not happen) when ``missing_day``, and one day one region
    of one account could not be checked (a ``RegionError``; its tenants are absent that day).
    """
    return list(synthetic_days(tenants, days, seed=seed, missing_day=missing_day))


def synthetic_days(
    tenants: int = 1000, days: int = 30, *, seed: int = 8, missing_day: bool = True
) -> Iterator[Report]:
    """``synthetic_reports`` one report at a time: 100,000 tenants x 30 days do not fit in
    memory as reports, which is the point of ``--history``."""
    rng = random.Random(seed)
    fleet = [_tenant(rng, i) for i in range(tenants)]
    plans = [(tenant, _profile(rng), rng.randrange(days)) for tenant in fleet]
    skip = days // 2 if missing_day and days > 2 else None
    outage_day, outage = days // 3, (ACCOUNTS[1], REGIONS[2])
    for day in range(days):
        if day == skip:
            continue
        now = END - timedelta(days=days - 1 - day)
        rows, errors = [], []
        if day == outage_day:
            errors.append(
                RegionError(
                    account_id=outage[0],
                    region=outage[1],
                    reason="could not assume arn:aws:iam::444455556666:role/backupwatch-reader: "
                    "AccessDenied",
                )
            )
        for tenant, profile, pivot in plans:
            if day == outage_day and (tenant.account_id, tenant.region) == outage:
                continue
            row = _row(rng, tenant, profile, day, pivot, now)
            if row is not None:
                rows.append(row)
        yield Report(
            generated_at=now,
            regions=REGIONS,
            checks=(Check.RDS, Check.S3),
            tenants=tuple(rows),
            region_errors=tuple(errors),
            accounts=ACCOUNTS,
        )


def _tenant(rng: random.Random, i: int) -> Tenant:
    name = f"{rng.choice(WORDS)}-{rng.choice(WORDS)}-{i:04d}"
    cluster = rng.random() < 0.1
    return Tenant(
        name=name,
        db_instance_identifier=f"{'aurora' if cluster else 'db'}-{name}",
        region=REGIONS[i % len(REGIONS)],
        kind="cluster" if cluster else "instance",
        account_id=ACCOUNTS[(i // len(REGIONS)) % len(ACCOUNTS)],
        s3_prefix=f"{name}-backups/",
        max_age_hours=24.0,
        min_object_bytes=1024,
    )


def _profile(rng: random.Random) -> str:
    draw = rng.random()
    for name, share in PROFILES:
        if draw < share:
            return name
        draw -= share
    return "healthy"


def _row(
    rng: random.Random, tenant: Tenant, profile: str, day: int, pivot: int, now: datetime
) -> TenantReport | None:
    """One tenant's row on one day, or None when it is no tenant that day."""
    if (profile == "new" and day < pivot) or (profile == "gone" and day > pivot):
        return None
    snapshot_hours = rng.uniform(1, 20)
    object_hours = rng.uniform(1, 20)
    size = rng.randint(50_000_000, 9_000_000_000)
    retention = 7
    if profile == "flaky" and rng.random() < 0.3:
        snapshot_hours = rng.uniform(25, 70)
    if profile == "broken" and day >= pivot:
        object_hours = -1.0
    if profile == "disabled" and day >= pivot:
        retention, snapshot_hours = 0, 24.0 * (day - pivot + 1) + snapshot_hours
    if profile == "empty" and day >= pivot:
        size = 0
    if profile == "new" and day == pivot:
        return _lifecycle(tenant, Status.PENDING, _pending(tenant, now))
    if profile == "stopped" and day >= pivot:
        hours = 24.0 * (day - pivot) + snapshot_hours
        reason = (
            "DB instance is stopped, and RDS takes no automated backups while it is; newest "
            f"automated snapshot {_age(hours)} old"
        )
        return _lifecycle(tenant, Status.STOPPED, reason)
    if profile == "paused":
        return _lifecycle(
            tenant,
            Status.PAUSED,
            f"paused until {(END + timedelta(days=9)):%Y-%m-%d} 00:00 UTC; would be STALE: "
            f"newest automated snapshot {_age(24 * (day + 3) + snapshot_hours)} old (window 24 h)",
        )
    if profile == "replica":
        return _lifecycle(
            tenant,
            Status.SKIPPED,
            f"PostgreSQL read replica of 'db-{tenant.name}-primary': RDS keeps no automated "
            "backups of PostgreSQL replicas; the source's backups cover it",
        )
    taken = now - timedelta(hours=snapshot_hours)
    rds = evaluate_rds(
        RdsEvidence(
            db_instance_identifier=tenant.identifier,
            backup_retention_period=retention,
            newest_snapshot=SnapshotInfo(
                snapshot_id=f"rds:{tenant.identifier}-{taken:%Y-%m-%d-%H-%M}", created_at=taken
            ),
        ),
        max_age_hours=tenant.max_age_hours,
        now=now,
    )
    if profile == "denied" and day >= pivot:
        s3 = error_result(
            Check.S3,
            f"AccessDenied: User: arn:aws:sts::{tenant.account_id}:assumed-role/backupwatch/"
            f"digest is not authorized to perform: s3:ListBucket on resource: "
            f'"arn:aws:s3:::{BUCKET}" because no identity-based policy allows the '
            "s3:ListBucket action (after 5 attempts)",
        )
    else:
        s3 = evaluate_s3(_s3_evidence(tenant, now, object_hours, size), max_age_hours=24.0, now=now)
    return tenant_report(tenant, {Check.RDS: rds, Check.S3: s3}, now=now)


def _s3_evidence(tenant: Tenant, now: datetime, hours: float, size: int) -> S3Evidence:
    prefix = tenant.s3_prefix or ""
    if hours < 0:
        return S3Evidence(bucket=BUCKET, prefix=prefix, min_object_bytes=1024)
    item = ObjectInfo(
        key=f"{prefix}{now - timedelta(hours=hours):%Y/%m/%d}/{tenant.name}.dump.gz",
        last_modified=now - timedelta(hours=hours),
        size=size,
    )
    return S3Evidence(
        bucket=BUCKET,
        prefix=prefix,
        min_object_bytes=1024,
        objects_seen=1,
        newest=item,
        newest_countable=item if size >= 1024 else None,
    )


def _lifecycle(tenant: Tenant, status: Status, reason: str) -> TenantReport:
    result = CheckResult(check=Check.RDS, status=status, reason=reason)
    return tenant_report(tenant, {Check.RDS: result})


def _pending(tenant: Tenant, now: datetime) -> str:
    return f"new, first backup expected by {now + timedelta(hours=20):%Y-%m-%d %H:%M} UTC"


def _age(hours: float) -> str:
    return f"{hours:.0f} h" if hours < 72 else f"{hours / 24:.1f} days"


def render_naive(reports: Sequence[Report]) -> str:
    """The obvious page: the same grid, the whole tooltip in a ``title`` on every cell."""
    days = [r.generated_at for r in reports]
    keys: dict[tuple[str, str, str, str], TenantReport] = {}
    for report in reports:
        keys.update((row.key, row) for row in report.tenants)
    indexed = [{row.key: row for row in report.tenants} for report in reports]
    out = ["<!doctype html><table><tbody>"]
    for key, newest in keys.items():
        out.append(f"<tr><th>{html.escape(newest.tenant)}</th>")
        for day, rows in zip(days, indexed, strict=True):
            row = rows.get(key)
            if row is None:
                out.append("<td class=na></td>")
                continue
            ages = ", ".join(
                f"{c.value} {r.age_hours if r.age_hours is not None else 'none'} h"
                for c, r in row.checks.items()
            )
            title = f"{row.tenant} {day:%Y-%m-%d}\n{row.status.value}\n{row.reason}\n{ages}"
            out.append(f"<td class={row.status.value.lower()} title='{html.escape(title)}'></td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def measure(render: Callable[[], str], repeat: int) -> tuple[float, float, int]:
    """Median wall and CPU seconds of ``repeat`` renders, and the page's size in bytes.

    CPU time is printed beside wall time because on a shared machine wall time measures the
    neighbours too; on an idle one the two agree.
    """
    walls, cpus, page = [], [], ""
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        page = render()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), len(page.encode())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.status_page")
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", help="also write the page there (to look at it)")
    parser.add_argument(
        "--history",
        metavar="TENANTS",
        help="measure the archive path instead, at these fleet sizes (comma-separated: "
        "10000,100000); see history()",
    )
    parser.add_argument(
        "--data",
        default=os.path.join(tempfile.gettempdir(), "backupwatch-history-bench"),
        help="--history: where the synthetic archives are kept (built once, reused)",
    )
    parser.add_argument(
        "--old-max",
        type=int,
        default=10_000,
        help="--history: the old way's page step is not run above this many tenants "
        "(100,000 would need about 15 GiB); the table says so",
    )
    parser.add_argument("--step", help=argparse.SUPPRESS)  # internal: one measurement
    args = parser.parse_args(argv)
    if args.step:
        _run_step(args.step, Path(args.data))
        return
    if args.history:
        history(
            [int(n) for n in args.history.split(",")],
            days=args.days,
            data=Path(args.data),
            old_max=args.old_max,
        )
        return
    start = time.perf_counter()
    reports = synthetic_reports(args.tenants, args.days)
    built = time.perf_counter() - start
    cells = sum(len(r.tenants) for r in reports)
    statuses = {s: sum(r.summary.by_status[s] for r in reports) for s in Status}
    print(
        f"{args.tenants} tenants x {args.days} days: {len(reports)} reports, {cells:,} "
        f"tenant-days, built in {built:.1f} s"
    )
    print("  tenant-days by status: " + ", ".join(f"{s.value} {n}" for s, n in statuses.items()))
    rows = [
        ("status page", lambda: render_status_page(reports)),
        ("naive (title per cell)", lambda: render_naive(reports)),
    ]
    print(
        f"\n| page | wall s (median of {args.repeat}) | CPU s (median) | size MB |\n"
        "|---|---|---|---|"
    )
    for name, render in rows:
        wall, cpu, size = measure(render, args.repeat)
        print(f"| {name} | {wall:.3f} | {cpu:.3f} | {size / 1_000_000:.2f} |")
    load = os.getloadavg()[0]
    print(
        f"\n(load average {load:.1f} on {os.cpu_count()} CPUs; Python {platform.python_version()})"
    )
    if args.out:
        with open(args.out, "w", encoding="utf-8") as page:
            page.write(render_status_page(reports))


# --- history at fleet scale (--history) ------------------------------------------------------

ARCHIVE_BUCKET = "bench-archive"
ARCHIVE_PREFIX = "backupwatch/"
STEPS = ("compare", "archive", "page", "run")
"""What a daily run does with the archive, measured one at a time (each in a fresh process):

- ``compare``: read the index and the previous report (2 GETs), ``compare`` with today's;
  the same both ways (the previous report is read whole);
- ``archive``: write today's run: the report and the index, and the new way its day summary;
- ``page``: read the page's 29 earlier days (the old way their reports, the new way their day
  summaries; the previous report, in memory already, not read again), gather the size rule's
  fallback (``archived_dumps``), render the page and write it;
- ``run``: all of it in a run's order, in one process: its peak is a run's.
"""


class DiskS3:
    """``get_object`` and ``put_object`` on a folder, for the archive's own functions.

    What the archive's reads cost in a Lambda, minus the network: the bytes arrive in memory,
    are parsed and kept. Not moto: its in-memory store of 30 reports of 100,000 tenants (2.5
    GB) would count in the peak measured.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.gets = self.puts = self.read_bytes = self.written_bytes = 0

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        try:
            body = (self.root / Bucket / Key).read_bytes()
        except FileNotFoundError:
            error = {"Error": {"Code": "NoSuchKey", "Message": "The key does not exist."}}
            raise ClientError(error, "GetObject") from None
        self.gets += 1
        self.read_bytes += len(body)
        return {"Body": io.BytesIO(body)}

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, **_: Any) -> dict[str, Any]:
        path = self.root / Bucket / Key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(Body)
        self.puts += 1
        self.written_bytes += len(Body)
        return {}


def _archive_dir(data: Path, tenants: int, days: int) -> Path:
    return data / f"{tenants}x{days}"


def prepare(data: Path, tenants: int, days: int) -> Path:
    """Build (once) an archive of ``days - 1`` daily runs of ``tenants`` tenants, each written
    by ``write_run`` (report, day summary, index), and today's report beside it, unarchived:
    what a run holds after its check. Streamed: one day in memory at a time."""
    where = _archive_dir(data, tenants, days)
    done = where / "ready.json"
    if done.exists():
        return where
    if where.exists():
        shutil.rmtree(where)
    where.mkdir(parents=True)
    s3 = DiskS3(where / "s3")
    retrier = Retrier()
    index: ArchiveIndex | None = None
    previous: Report | None = None
    started = time.perf_counter()
    for n, report in enumerate(synthetic_days(tenants, days)):
        if report.generated_at == END:
            (where / "today.json").write_text(report.to_json())
            break
        streaks = index.streaks if index is not None else None
        changes = compare(previous, report, failing_since=streaks)
        write_run(
            s3,
            retrier,
            report,
            bucket=ARCHIVE_BUCKET,
            prefix=ARCHIVE_PREFIX,
            index=index,
            streaks=changes.failing_since,
        )
        index = read_index(s3, retrier, bucket=ARCHIVE_BUCKET, prefix=ARCHIVE_PREFIX)
        previous = report
        print(f"  {tenants} tenants: day {n + 1} archived ({time.perf_counter() - started:.0f} s)")
    done.write_text(json.dumps({"tenants": tenants, "days": days}))
    return where


def history(scales: Sequence[int], *, days: int, data: Path, old_max: int) -> None:
    """Each step of ``STEPS``, old way and new, at each fleet size, in a fresh process each;
    prints a Markdown table (the one in docs/performance.md)."""
    results: list[dict[str, Any]] = []
    for tenants in scales:
        where = prepare(data, tenants, days)
        for step in STEPS:
            for way in ("old", "new"):
                if way == "old" and step in ("page", "run") and tenants > old_max:
                    results.append({"tenants": tenants, "step": step, "way": way})
                    continue
                spec = json.dumps({"dir": str(where), "step": step, "way": way})
                out = subprocess.run(
                    [sys.executable, "-m", "benchmarks.status_page", "--step", spec],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                result = json.loads(out.strip().splitlines()[-1])
                results.append({"tenants": tenants, "step": step, "way": way, **result})
                print(f"  {tenants} {step} {way}: {result}", file=sys.stderr)
    print(
        "\n| tenants | step | way | wall s | CPU s | peak RSS MiB (above the report) "
        "| read MB (GETs) | written MB (PUTs) |\n|---|---|---|---|---|---|---|---|"
    )
    for r in results:
        if "wall" not in r:
            guess = _guess(r, results)
            print(f"| {r['tenants']:,} | {r['step']} | {r['way']} | not run | | {guess} | | |")
            continue
        print(
            f"| {r['tenants']:,} | {r['step']} | {r['way']} | {r['wall']:.1f} | {r['cpu']:.1f} "
            f"| {r['peak_mib']:,.0f} ({r['above_mib']:,.0f}) "
            f"| {r['read_mb']:,.1f} ({r['gets']}) | {r['written_mb']:,.1f} ({r['puts']}) |"
        )
    load = os.getloadavg()
    print(
        f"\n(load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} "
        f"CPUs; Python {platform.python_version()})"
    )


def _guess(skipped: dict[str, Any], results: Sequence[dict[str, Any]]) -> str:
    """The peak of a step not run, scaled from the largest fleet it was run at (it grows with
    the tenants: every report read holds every tenant)."""
    runs = [
        r
        for r in results
        if "wall" in r and (r["step"], r["way"]) == (skipped["step"], skipped["way"])
    ]
    if not runs:
        return ""
    base = max(runs, key=lambda r: r["tenants"])
    times = skipped["tenants"] / base["tenants"]
    return (
        f"about {base['peak_mib'] * times / 1024:,.0f} GiB ({times:g} x the peak at "
        f"{base['tenants']:,})"
    )


def _run_step(spec_text: str, _data: Path) -> None:
    """One measurement, in this (fresh) process: prints one line of JSON."""
    spec = json.loads(spec_text)
    where, step, way = Path(spec["dir"]), spec["step"], spec["way"]
    s3: Any = DiskS3(where / "s3")
    retrier = Retrier()
    today = Report.from_json((where / "today.json").read_bytes())  # what the check produced
    now = today.generated_at
    bucket, prefix = ARCHIVE_BUCKET, ARCHIVE_PREFIX
    history_read = None
    if step in ("archive", "page"):  # read before: in a run, they are in memory already
        history_read = load_history(s3, retrier, bucket=bucket, prefix=prefix, before=now)
    gc.collect()
    baseline = _rss_mib()
    _reset_peak()
    wall, cpu = time.perf_counter(), time.process_time()
    if step == "run":
        with _paused(way):  # read_earlier: the previous report, then the days
            history_read = load_history(s3, retrier, bucket=bucket, prefix=prefix, before=now)
            earlier = _page_days(s3, retrier, history_read, way, now)
        streaks = history_read.index.streaks if history_read.index else None
        changes = compare(history_read.previous, today, failing_since=streaks)
        _archive(s3, retrier, history_read, today, changes, way)
        _page(s3, retrier, earlier, today, way)
    elif step == "compare":
        with _paused(way):
            history_read = load_history(s3, retrier, bucket=bucket, prefix=prefix, before=now)
        streaks = history_read.index.streaks if history_read.index else None
        compare(history_read.previous, today, failing_since=streaks)
    elif step == "archive":
        assert history_read is not None
        streaks = history_read.index.streaks if history_read.index else None
        changes = compare(history_read.previous, today, failing_since=streaks)
        s3.gets = s3.read_bytes = 0
        _archive(s3, retrier, history_read, today, changes, way)
    else:
        assert history_read is not None
        s3.gets = s3.read_bytes = 0
        with _paused(way):
            earlier = _page_days(s3, retrier, history_read, way, now)
        _page(s3, retrier, earlier, today, way)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = _peak_mib()
    print(
        json.dumps(
            {
                "wall": wall,
                "cpu": cpu,
                "peak_mib": peak,
                "above_mib": peak - baseline,
                "gets": s3.gets,
                "read_mb": s3.read_bytes / 1e6,
                "puts": s3.puts,
                "written_mb": s3.written_bytes / 1e6,
            }
        )
    )


def _page_days(
    s3: Any, retrier: Retrier, found: History, way: str, now: datetime
) -> list[Report] | list[DaySummary]:
    """The page's earlier days and the size rule's fallback, as ``read_earlier`` reads them."""
    known = {found.previous_key: found.previous} if found.previous_key and found.previous else {}
    args = {"bucket": ARCHIVE_BUCKET, "days": 30, "now": now, "known": known}
    days: list[Report] | list[DaySummary]
    if way == "old":
        days = earlier_reports(s3, retrier, found.index, **args)
    else:
        days = earlier_days(s3, retrier, found.index, reader=DaySummaryReader(), **args)
    archived_dumps([*days, *([found.previous] if found.previous else [])])
    return days


def _archive(
    s3: Any, retrier: Retrier, found: History, today: Report, changes: Any, way: str
) -> None:
    """Write the run: the old way the report and the index (``write_run`` before day
    summaries), the new way also its day summary (``write_run``)."""
    args = {
        "bucket": ARCHIVE_BUCKET,
        "prefix": ARCHIVE_PREFIX,
        "index": found.index,
        "streaks": changes.failing_since,
    }
    if way == "new":
        write_run(s3, retrier, today, **args)
        return
    archived = write_report(s3, retrier, today, bucket=ARCHIVE_BUCKET, prefix=ARCHIVE_PREFIX)
    index = (found.index or ArchiveIndex(updated_at=today.generated_at)).with_run(
        IndexedRun.of(today, archived.key), changes.failing_since
    )
    s3.put_object(
        Bucket=ARCHIVE_BUCKET, Key=index_key(ARCHIVE_PREFIX), Body=index.model_dump_json().encode()
    )


def _page(s3: Any, retrier: Retrier, earlier: Sequence[Any], today: Report, way: str) -> None:
    with _paused(way):  # write_status_page_for
        html = render_status_page([*earlier, today], generated_at=today.generated_at)
    write_status_page(s3, retrier, html, bucket=ARCHIVE_BUCKET, prefix=ARCHIVE_PREFIX)


def _paused(way: str) -> contextlib.AbstractContextManager[None]:
    """The new way pauses the cyclic garbage collector where ``run_daily`` does (reading the
    archive, drawing the page: ``collection_paused``); the old way did not."""
    return collection_paused() if way == "new" else contextlib.nullcontext()


def _rss_mib() -> float:
    return _status_field("VmRSS")


def _peak_mib() -> float:
    try:
        return _status_field("VmHWM")
    except (OSError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> None:
    """Reset the process's peak RSS (Linux: ``5`` to ``/proc/self/clear_refs``), so the peak
    read after a step is the step's, not the loading of today's report before it."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _status_field(name: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1]) / 1024
    raise ValueError(name)


if __name__ == "__main__":
    main()
