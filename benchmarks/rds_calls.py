"""RDS calls per tenant, by retention (issue #18, item 3): ``python -m benchmarks.rds_calls``.

RDS throttles per account and region, shared with every other caller, so the number of RDS
requests a run makes is the cost that matters, not its seconds. This counts the requests
``check_tenants`` (the ``rds`` check alone) makes against a moto region, for each case, beside:

- the floor of a bulk listing: ``ceil(instances / 100)`` DescribeDBInstances pages, one
  DescribeDBClusters, ``ceil(snapshots / 100)`` DescribeDBSnapshots pages, every automated
  snapshot of the region read once;
- the floor of what the verdicts need: the same, reading only the tenants' own snapshots;
- the per-tenant alternative: the discovery pages and one DescribeDBSnapshots per tenant.

Each case is a world of its own (``mock_aws``), seeded through moto's backend: ``instances``
DB instances with ``retention`` days of automated snapshots each (one a day, the newest an hour
old), ``tenants`` of them tagged. moto's DescribeDBSnapshots is paged like AWS's, 100 at most
(``benchmarks.moto_patches``), else the bulk listing would be one call whatever its size.
Requests are counted per HTTP attempt (``benchmarks.meter``); nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import boto3
from moto import mock_aws

from backupwatch import Check, Status, check_tenants, load_settings
from backupwatch.aws import rds_evidence

from . import moto_patches
from .meter import AwsMeter
from .world import (
    BUCKET,
    REGION,
    TENANT_TAG,
    account_id,
    instance_id,
    instance_kwargs,
    raise_snapshot_limit,
)

PAGE = 100
"""The most RDS returns per page, of instances and of snapshots alike."""
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


@dataclass(frozen=True)
class Case:
    """One region: ``instances`` DB instances of ``retention`` days, ``tenants`` of them
    tagged (the first ones)."""

    instances: int
    tenants: int
    retention: int

    @property
    def label(self) -> str:
        return "every instance a tenant" if self.tenants == self.instances else "tenants a few"

    @property
    def snapshots(self) -> int:
        """Automated snapshots of the region: what a bulk listing reads."""
        return self.instances * self.retention

    @property
    def discovery(self) -> int:
        """DescribeDBInstances pages and the one DescribeDBClusters, paid whatever follows."""
        return math.ceil(self.instances / PAGE) + 1

    @property
    def floor(self) -> int:
        """Every automated snapshot of the region read once, 100 a call (the bulk listing)."""
        return self.discovery + max(1, math.ceil(self.snapshots / PAGE))

    @property
    def tenants_floor(self) -> int:
        """Only the tenants' own snapshots read, 100 a call: what the verdicts need."""
        return self.discovery + max(1, math.ceil(self.tenants * self.retention / PAGE))

    @property
    def per_tenant(self) -> int:
        """Discovery, then one DescribeDBSnapshots per tenant (each holds at most a page)."""
        return self.discovery + self.tenants


CASES = (
    Case(instances=1_000, tenants=1_000, retention=1),
    Case(instances=1_000, tenants=1_000, retention=7),
    Case(instances=1_000, tenants=1_000, retention=35),
    Case(instances=2_000, tenants=50, retention=1),
    Case(instances=2_000, tenants=50, retention=7),
    Case(instances=2_000, tenants=50, retention=35),
)


@dataclass(frozen=True)
class Counted:
    """What one run of ``check_tenants`` asked RDS for, by operation."""

    case: Case
    calls: dict[str, int]
    seconds: float

    @property
    def rds(self) -> int:
        return sum(n for op, n in self.calls.items() if op.startswith("rds:"))


def seed(case: Case, now: datetime) -> None:
    """The case's instances and snapshots in moto's backend (inside ``mock_aws``), indexed for
    ``moto_patches``. The snapshot moto takes at creation is dropped: each instance holds
    exactly ``retention`` automated snapshots, as discovery expects."""
    from moto.rds.models import rds_backends
    from moto.s3.models import s3_backends

    raise_snapshot_limit(case.snapshots + case.instances)
    backend = rds_backends[account_id()][REGION]
    created = (now - timedelta(days=90)).astimezone(UTC).replace(tzinfo=None)
    for index in range(case.instances):
        database = backend.create_db_instance(
            instance_kwargs(index, retention=case.retention, tagged=index < case.tenants)
        )
        database.created = database.instance_create_time = created
    backend.database_snapshots.clear()
    for index in range(case.instances):
        for day in range(case.retention):
            at = now - timedelta(hours=1, days=day)
            name = f"rds:{instance_id(index)}-{at:%Y-%m-%d-%H-%M}"
            snapshot = backend.create_auto_snapshot(instance_id(index), name)
            snapshot.created = snapshot.original_snapshot_create_time = at.astimezone(UTC).replace(
                tzinfo=None
            )
    s3 = s3_backends[account_id()]["aws"]
    s3.create_bucket(BUCKET, REGION)
    moto_patches.index_world(s3, BUCKET, backend)


def settings_environment() -> dict[str, str]:
    """The ``rds`` check alone, and RDS's client-side rate at its most: calls, not seconds."""
    return {
        "BACKUPWATCH_DRY_RUN": "true",
        "BACKUPWATCH_CHECKS": "rds",
        "BACKUPWATCH_S3_BUCKET": BUCKET,
        "BACKUPWATCH_REGIONS": REGION,
        "BACKUPWATCH_TENANT_TAG": TENANT_TAG,
        "BACKUPWATCH_RDS_REQUESTS_PER_SECOND": "100",
        "BACKUPWATCH_RDS_BURST": "300",
    }


@contextmanager
def per_tenant_listing() -> Iterator[None]:
    """The careless strategy: one DescribeDBSnapshots per tenant, whatever the region holds
    (a filter of one identifier, always chosen). For the tests' comparison only."""
    cheaper, values = rds_evidence.filtered_is_cheaper, rds_evidence.FILTER_VALUES
    rds_evidence.filtered_is_cheaper = lambda *_, **__: True
    rds_evidence.FILTER_VALUES = 1
    try:
        yield
    finally:
        rds_evidence.filtered_is_cheaper, rds_evidence.FILTER_VALUES = cheaper, values


def count(case: Case, *, careless: bool = False) -> Counted:
    """Seed ``case`` in a fresh moto world and count the RDS calls of one ``check_tenants``.

    Raises ``RuntimeError`` unless every tenant's RDS check is OK: a run that found nothing
    would be a cheap run, not a measurement.
    """
    for name, value in FAKE_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    now = datetime.now(UTC).replace(microsecond=0)
    with mock_aws():
        moto_patches.install()
        try:
            seed(case, now)
            session = boto3.Session(region_name=REGION)
            meter = AwsMeter()
            meter.attach(session)
            settings = load_settings(settings_environment())
            started = time.perf_counter()
            with per_tenant_listing() if careless else _nothing():
                report = check_tenants(settings, session=session, clock=lambda: now)
            seconds = time.perf_counter() - started
        finally:
            moto_patches.uninstall()
    statuses = {row.checks[Check.RDS].status for row in report.tenants}
    if len(report.tenants) != case.tenants or statuses != {Status.OK}:
        raise RuntimeError(f"{case}: {len(report.tenants)} tenants, RDS statuses {statuses}")
    return Counted(case=case, calls=dict(sorted(meter.calls.items())), seconds=seconds)


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def table(rows: Sequence[Counted]) -> str:
    """The Markdown table of docs/performance.md: calls, and calls per tenant."""
    lines = [
        "| region | instances | tenants | retention | snapshots | backupwatch | "
        "per tenant | bulk floor | tenants' floor | per-tenant calls |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        case = row.case
        lines.append(
            f"| {case.label} | {case.instances:,} | {case.tenants:,} | {case.retention} d | "
            f"{case.snapshots:,} | {row.rds:,} | {row.rds / case.tenants:.2f} | "
            f"{case.floor:,} ({case.floor / case.tenants:.2f}) | "
            f"{case.tenants_floor:,} ({case.tenants_floor / case.tenants:.2f}) | "
            f"{case.per_tenant:,} ({case.per_tenant / case.tenants:.2f}) |"
        )
    return "\n".join(lines)


def by_operation(rows: Sequence[Counted]) -> str:
    """What each backupwatch count is made of."""
    return "\n".join(
        f"- {row.case.instances:,} instances, {row.case.tenants:,} tenants, "
        f"{row.case.retention} d: "
        + ", ".join(f"{op.removeprefix('rds:')} {n:,}" for op, n in row.calls.items())
        for row in rows
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Count every case, print the tables; exit 1 if a count is above the bulk floor or the
    per-tenant alternative (the choice was not the cheapest)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.rds_calls", description=__doc__)
    parser.parse_args(argv)
    rows: list[Counted] = []
    for case in CASES:
        print(f"[bench] {case}...", file=sys.stderr, flush=True)
        rows.append(count(case))
        print(f"[bench] {rows[-1].rds} RDS calls, {rows[-1].seconds:.1f} s", file=sys.stderr)
    print(table(rows))
    print()
    print(by_operation(rows))
    worse = [row for row in rows if row.rds > min(row.case.floor, row.case.per_tenant)]
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
