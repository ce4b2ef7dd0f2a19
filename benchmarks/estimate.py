"""How many calls each approach needs, and how long a run would take: for skipping runs.

The call model is the same arithmetic as docs/performance.md: RDS pages hold 100 records,
S3 pages 1,000 keys. Durations are extrapolated linearly from the largest measured run of the
same approach (both approaches are linear in N once moto's lookups are indexed); with nothing
measured yet, from ``ASSUMED_CPU_PER_CALL`` (measured here for a 30-object listing) and ~7 ms
of seeding per tenant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

RDS_PAGE = 100
S3_PAGE = 1000
ASSUMED_CPU_PER_CALL = 0.025
"""Seconds of botocore + moto CPU per call when nothing was measured yet."""


BACKUP_PAGE = 1000
COPY_REGIONS = 1
VAULTS = 1
TYPES = 1
"""``--everything``: one copy region, one vault, one resource type (``RDS``) in the world."""


@dataclass(frozen=True)
class CallModel:
    """Calls for one run at N tenants; see ``docs/performance.md`` for the derivation."""

    discovery: int
    rds_snapshots: int
    s3: int
    backup: int = 0
    """``--everything``: the AWS Backup listings of the tenants' region."""
    copies: int = 0
    """``--everything``: the listings of the copy region."""

    @property
    def total(self) -> int:
        return self.discovery + self.rds_snapshots + self.s3 + self.backup + self.copies

    @property
    def rds(self) -> int:
        return self.discovery + self.rds_snapshots


def calls(
    approach: str,
    tenants: int,
    *,
    snapshots: int = 7,
    objects: int = 30,
    everything: bool = False,
) -> CallModel:
    """Expected calls: naive asks per tenant, backupwatch lists snapshots in bulk.

    ``everything`` (backupwatch only; naive checks only rds and s3): per region, 1
    ListBackupVaults + vaults x types x ceil(recovery points / 1,000) pages + types x
    ceil(backup jobs / 1,000) pages (one point a day per tenant, one job in the last day); per
    copy region, ceil(N / 100) DescribeDBInstanceAutomatedBackups pages + 1 ListBackupVaults
    (the copy region has no vault, so no recovery-point listing).
    """
    discovery = max(1, math.ceil(tenants / RDS_PAGE))
    s3 = tenants * max(1, math.ceil(objects / S3_PAGE))
    if approach == "naive":
        per_tenant = max(1, math.ceil(snapshots / RDS_PAGE))
        return CallModel(discovery, tenants * per_tenant, s3)
    discovery += 1  # backupwatch also lists clusters (DescribeDBClusters): they can be tenants
    rds_snapshots = max(1, math.ceil(tenants * snapshots / RDS_PAGE))
    if not everything:
        return CallModel(discovery, rds_snapshots, s3)
    points = max(1, math.ceil(tenants * snapshots / BACKUP_PAGE))
    jobs = max(1, math.ceil(tenants / BACKUP_PAGE))
    backup = 1 + VAULTS * TYPES * points + TYPES * jobs
    copies = COPY_REGIONS * (max(1, math.ceil(tenants / RDS_PAGE)) + 1)
    return CallModel(discovery, rds_snapshots, s3, backup=backup, copies=copies)


TRACE_FACTOR = 4.0
"""A run under tracemalloc takes about this many plain runs (moto and botocore allocate a lot)."""
STARTUP_SECONDS = 5.0
"""Interpreter, imports and botocore models, per worker."""


@dataclass(frozen=True)
class Measured:
    """The phases of a finished worker, to extrapolate from (seconds)."""

    tenants: int
    world: float
    run: float
    floor: float | None
    traced: float | None


@dataclass(frozen=True)
class Passes:
    """Which runs a worker will do."""

    repeat: int
    floor: bool
    traced: bool


def seconds(
    approach: str,
    tenants: int,
    *,
    latency: float,
    measured: Measured | None,
    passes: Passes,
    everything: bool = False,
) -> float:
    """Estimated worker seconds at ``tenants``: linear from ``measured``, else the call model."""
    if measured is None:
        model = calls(approach, tenants, everything=everything)
        wait = latency if approach == "naive" else 0.0  # backupwatch overlaps its waits
        run = model.total * (ASSUMED_CPU_PER_CALL + wait)
        floor = model.total * ASSUMED_CPU_PER_CALL
        measured = Measured(tenants, world=tenants * 0.007, run=run, floor=floor, traced=None)
    scale = tenants / measured.tenants
    floor = measured.floor if measured.floor is not None else measured.run
    total = measured.world + measured.run * passes.repeat
    if passes.floor:
        total += floor
    if passes.traced:
        total += measured.traced if measured.traced is not None else TRACE_FACTOR * floor
    return STARTUP_SECONDS + total * scale
