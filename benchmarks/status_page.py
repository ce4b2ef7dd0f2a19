"""The status page at scale: ``python -m benchmarks.status_page`` (issue 8, item 5).

Builds 1,000 tenants x 30 days of synthetic daily reports whose reasons come from backupwatch's
own evaluation (so they carry real ages, sizes and keys, and rarely repeat), renders the page,
and prints the median render time of 5 and the page size. For comparison it renders the naive
page in the same run: the same grid with the tooltip text in a ``title`` attribute per cell.

Nothing here touches AWS. ``synthetic_reports`` is also what tests/test_status_page.py uses
for its size assertion, so the test and these figures describe the same fleet.
"""

from __future__ import annotations

import argparse
import html
import os
import platform
import random
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

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
from backupwatch.core.evaluation import error_result, tenant_report
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
    rng = random.Random(seed)
    fleet = [_tenant(rng, i) for i in range(tenants)]
    plans = [(tenant, _profile(rng), rng.randrange(days)) for tenant in fleet]
    skip = days // 2 if missing_day and days > 2 else None
    outage_day, outage = days // 3, (ACCOUNTS[1], REGIONS[2])
    reports = []
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
        reports.append(
            Report(
                generated_at=now,
                regions=REGIONS,
                checks=(Check.RDS, Check.S3),
                tenants=tuple(rows),
                region_errors=tuple(errors),
                accounts=ACCOUNTS,
            )
        )
    return reports


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
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    main()
