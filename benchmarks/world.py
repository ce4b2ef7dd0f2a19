"""The benchmark's fake AWS: N tenants with a week of snapshots and a month of S3 objects.

Seeded through moto's backends, not boto3: ``create_db_instance`` and ``put_object`` on the
backend are ~60x faster than the same calls through boto3 (see notes/moto.md), which is the
difference between seconds and many minutes at 10,000 tenants.

Every tenant has a fate, fixed by its index, so both approaches must reach the same verdict
counts and we can tell which is wrong when they do not (``expected_verdicts``).

With ``everything`` (``--everything``) the world also holds what the ``backup``, ``copy`` and
``policy`` checks read, so that a healthy tenant passes every one of them and an unhealthy one
fails for the same reason as before: encrypted instances (and so snapshots) with one KMS key;
in ``FakeAws`` (``backupwatch/cli/fake_aws.py``: moto lacks these APIs) a recovery point a day
for ``snapshots_per_tenant`` days in one vault, kept ``RECOVERY_POINT_DAYS`` days, a backup job
in the last day, and in ``COPY_REGION`` a replicated automated backup per tenant. The fate
``RDS_STALE`` means the database's backups stopped: its recovery points and its copy are as old
as its snapshots (and its last backup job FAILED), so every one of those checks says STALE.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

TENANT_TAG = "backupwatch:tenant"
BUCKET = "bench-backups"
REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"
OBJECT_BYTES = 64
PG_CUSTOM_HEADER = b"PGDMP\x01\x0e\x00\x04\x08\x01\x01"
"""What ``pg_dump -Fc`` writes first (format 1.14, int and offset sizes, custom format)."""
"""Small on purpose: sizes do not change listing costs, and 300,000 keys must fit in RAM."""
FRESH_HOURS = 1
"""Age of the newest evidence of a healthy tenant."""
STALE_HOURS = 50
"""Age of the newest evidence of a stale one: older than the 24 h window."""
COPY_REGION = "us-west-2"
"""The disaster-recovery region of ``--everything`` (``BACKUPWATCH_COPY_REGIONS``)."""
VAULT = "bench-daily"
"""The one AWS Backup vault of ``--everything``, in ``REGION``."""
RECOVERY_POINT_DAYS = 35
"""Lifecycle ``DeleteAfterDays`` of every recovery point: above ``MIN_RETENTION_DAYS``."""
MIN_RETENTION_DAYS = 7
DAILY_BACKUP_DAYS = 7
"""The policy controls of ``--everything``: what a week of daily backups satisfies."""
KMS_KEY = f"arn:aws:kms:{REGION}:{DEFAULT_ACCOUNT}:key/0b7e4c1a-5d2f-4e8a-9c3b-6a1f2e3d4c5b"
"""The key of every instance (so of its snapshots) and recovery point under ``--everything``,
and ``BACKUPWATCH_BACKUP_KMS_KEY``."""


class Fate(Enum):
    """What the world did to a tenant's backups."""

    OK = "ok"
    S3_STALE = "s3-stale"
    RDS_STALE = "rds-stale"
    S3_MISSING = "s3-missing"

    @property
    def verdict(self) -> str:
        """The tenant status a correct checker reports (the worst of its two checks)."""
        return _VERDICTS[self]


_VERDICTS = {
    Fate.OK: "OK",
    Fate.S3_STALE: "STALE",
    Fate.RDS_STALE: "STALE",
    Fate.S3_MISSING: "MISSING",
}


def fate(index: int) -> Fate:
    """A few percent of unhealthy tenants, spread evenly, so the verdicts are not all OK."""
    if index % 50 == 13:
        return Fate.S3_MISSING
    if index % 20 == 7:
        return Fate.S3_STALE
    if index % 40 == 21:
        return Fate.RDS_STALE
    return Fate.OK


def tenant_name(index: int) -> str:
    return f"t{index:05d}"


def instance_id(index: int) -> str:
    return f"db-{tenant_name(index)}"


def prefix(index: int) -> str:
    """The default template's folder, ``{tenant}-backups/``."""
    return f"{tenant_name(index)}-backups/"


def account_id() -> str:
    """moto's account: ``MOTO_ACCOUNT_ID`` if set, else moto's default."""
    return os.environ.get("MOTO_ACCOUNT_ID", DEFAULT_ACCOUNT)


@dataclass(frozen=True)
class WorldSpec:
    """How big the world is and what its keys look like."""

    tenants: int
    now: datetime
    """Aware UTC; every timestamp in the world is relative to it (so is the checks' clock)."""
    snapshots_per_tenant: int = 7
    objects_per_tenant: int = 30
    date_layout: str | None = None
    """``%Y/%m/%d/``: keys become ``{prefix}2026/11/26/backup.dump`` (one per day)."""
    integrity: bool = False
    """Objects start like a pg_dump custom-format archive, for the format check to pass."""
    everything: bool = False
    """Encrypted instances, and AWS Backup and copies in a ``FakeAws`` world (module doc)."""

    def expected_verdicts(self) -> dict[str, int]:
        """Tenant verdict counts a correct checker must report for this world."""
        return dict(Counter(fate(i).verdict for i in range(self.tenants)))

    def object_key(self, index: int, day: int, at: datetime) -> str:
        """The key of tenant ``index``'s backup from ``day`` days ago."""
        if self.date_layout is None:
            return f"{prefix(index)}backup-{day:04d}.dump"
        return f"{prefix(index)}{at.strftime(self.date_layout)}backup.dump"


def build_world(spec: WorldSpec, fake: Any = None) -> None:
    """Create the bucket, the tenants' instances, snapshots and objects inside ``mock_aws``;
    with ``spec.everything``, also their recovery points, jobs and copies in ``fake`` (a
    ``FakeAws``)."""
    _seed_rds(spec)
    _seed_s3(spec)
    if spec.everything:
        if fake is None:
            raise ValueError("everything needs a FakeAws world to seed")
        from moto.rds.models import rds_backends

        seed_backups(fake, rds_backends[account_id()][REGION], spec, range(spec.tenants))


def _naive_utc(when: datetime) -> datetime:
    """moto keeps naive UTC datetimes internally."""
    return when.astimezone(UTC).replace(tzinfo=None)


def _seed_rds(spec: WorldSpec) -> None:
    from moto.rds.models import rds_backends

    # moto refuses a snapshot once a backend holds MOTO_RDS_SNAPSHOT_LIMIT of them (default
    # 1,000: SnapshotQuotaExceeded). Its SNAPSHOT_QUOTA property re-reads the variable on every
    # create, so raising it here, before the first instance (each makes one snapshot), is
    # enough: 10,000 tenants x 7 = 70,000 snapshots.
    raise_snapshot_limit(spec.tenants * max(spec.snapshots_per_tenant, 1))
    seed_instances(rds_backends[account_id()][REGION], spec, range(spec.tenants))


def raise_snapshot_limit(needed: int) -> None:
    """Let one moto RDS backend hold ``needed`` snapshots (see ``_seed_rds``)."""
    os.environ["MOTO_RDS_SNAPSHOT_LIMIT"] = str(max(needed * 2, 1000))


def seed_instances(backend: Any, spec: WorldSpec, indexes: Iterable[int]) -> None:
    """The tenants ``indexes`` as DB instances of one moto RDS backend (account-region), each
    with its automated snapshots; ``benchmarks.scale`` seeds several backends this way."""
    created = _naive_utc(spec.now - timedelta(days=90))  # long past any new-tenant grace
    for index in indexes:
        before = _minute()
        database = backend.create_db_instance(instance_kwargs(index, spec.everything))
        stamps = {before, _minute()}
        database.created = database.instance_create_time = created
        _seed_snapshots(backend, spec, index, _creation_snapshot(backend, index, stamps))


def _minute() -> str:
    """moto names the snapshot it takes at creation after the current UTC minute."""
    return datetime.now(UTC).strftime("%Y-%m-%d-%H-%M")


def _creation_snapshot(backend: Any, index: int, stamps: set[str]) -> Any:
    """The automated snapshot moto took when creating the instance (found by name, not by
    scanning every snapshot, which would make seeding quadratic)."""
    for stamp in stamps:
        snapshot = backend.database_snapshots.get(f"rds:{instance_id(index)}-{stamp}")
        if snapshot is not None:
            return snapshot
    raise RuntimeError(f"moto took no snapshot when creating {instance_id(index)}")


def instance_kwargs(
    index: int, encrypted: bool = False, *, retention: int = 7, tagged: bool = True
) -> dict[str, Any]:
    """``create_db_instance`` kwargs, snake_case as moto's backend takes them. ``encrypted``:
    storage encrypted with ``KMS_KEY``; moto gives each snapshot its instance's key and
    ``Encrypted`` when the instance's storage is encrypted. ``tagged``: a tenant (with the
    tenant tag) or not."""
    encryption = {"storage_encrypted": True, "kms_key_id": KMS_KEY} if encrypted else {}
    return {
        **encryption,
        "db_instance_identifier": instance_id(index),
        "db_instance_class": "db.t4g.micro",
        "engine": "postgres",
        "allocated_storage": 20,
        "master_username": "bench",
        "master_user_password": "not-a-secret-1",
        "backup_retention_period": retention,
        "tags": [{"Key": TENANT_TAG, "Value": tenant_name(index)}] if tagged else [],
    }


def _seed_snapshots(backend: Any, spec: WorldSpec, index: int, own: Any) -> None:
    """One automated snapshot a day, newest first; moto's creation snapshot ``own`` is reused
    as the newest (or removed when the spec asks for none)."""
    identifier = instance_id(index)
    if spec.snapshots_per_tenant == 0:
        del backend.database_snapshots[own.db_snapshot_identifier]
        return
    newest_hours = STALE_HOURS if fate(index) is Fate.RDS_STALE else FRESH_HOURS
    for day in range(spec.snapshots_per_tenant):
        at = spec.now - timedelta(hours=newest_hours, days=day)
        snapshot = (
            own
            if day == 0
            else backend.create_auto_snapshot(identifier, f"rds:{identifier}-{at:%Y-%m-%d-%H-%M}")
        )
        snapshot.created = snapshot.original_snapshot_create_time = _naive_utc(at)


def _seed_s3(spec: WorldSpec) -> None:
    from moto.s3.models import s3_backends

    seed_objects(s3_backends[account_id()]["aws"], BUCKET, REGION, spec, range(spec.tenants))


def seed_objects(
    backend: Any, bucket: str, region: str, spec: WorldSpec, indexes: Iterable[int]
) -> None:
    """The backup objects of tenants ``indexes`` in ``bucket`` (created if missing) of one
    moto S3 backend (an account)."""
    if bucket not in backend.buckets:
        backend.create_bucket(bucket, region)
    body = b"\0" * OBJECT_BYTES
    if spec.integrity:
        body = PG_CUSTOM_HEADER + body[len(PG_CUSTOM_HEADER) :]
    for index in indexes:
        tenant_fate = fate(index)
        if tenant_fate is Fate.S3_MISSING:
            continue
        newest_hours = STALE_HOURS if tenant_fate is Fate.S3_STALE else FRESH_HOURS
        for day in range(spec.objects_per_tenant):
            at = spec.now - timedelta(hours=newest_hours, days=day)
            key = backend.put_object(bucket, spec.object_key(index, day, at), body)
            key.last_modified = _naive_utc(at)


def newest_hours(index: int) -> int:
    """Age of the tenant's newest database backup: snapshot, recovery point and copy alike."""
    return STALE_HOURS if fate(index) is Fate.RDS_STALE else FRESH_HOURS


def seed_backups(fake: Any, backend: Any, spec: WorldSpec, indexes: Iterable[int]) -> None:
    """Each tenant's AWS Backup recovery points (one a day, in ``VAULT``), its backup job of
    the last day, and its replicated automated backup in ``COPY_REGION``, in ``fake``.

    The resource ARN and ``DbiResourceId`` are the moto instance's own, as backupwatch matches
    by both. Points are spaced like the snapshots: one per 24 h period ending at ``now``.
    """
    account = account_id()
    for index in indexes:
        database = backend.databases[instance_id(index)]
        arn, hours = database.db_instance_arn, newest_hours(index)
        for day in range(spec.snapshots_per_tenant):
            at = spec.now - timedelta(hours=hours, days=day)
            job = _job_id(index, day) if day == 0 and hours == FRESH_HOURS else None
            fake.add_recovery_point(
                region=REGION,
                vault=VAULT,
                resource_arn=arn,
                resource_type="RDS",
                created=at,
                encryption_key_arn=KMS_KEY,
                delete_after_days=RECOVERY_POINT_DAYS,
                account_id=account,
                job_id=job,
            )
            if job is not None:
                fake.add_backup_job(
                    region=REGION,
                    resource_arn=arn,
                    resource_type="RDS",
                    created=at,
                    state="COMPLETED",
                    vault=VAULT,
                    account_id=account,
                    job_id=job,
                    delete_after_days=RECOVERY_POINT_DAYS,
                )
        if hours != FRESH_HOURS:  # the day's job went wrong: listed, but no recovery point
            fake.add_backup_job(
                region=REGION,
                resource_arn=arn,
                resource_type="RDS",
                created=spec.now - timedelta(hours=FRESH_HOURS),
                state="FAILED",
                status_message="bench: the backup window passed without a snapshot",
                vault=VAULT,
                account_id=account,
            )
        latest = spec.now - timedelta(hours=hours)
        fake.add_automated_backup(
            region=COPY_REGION,
            source_region=REGION,
            instance_arn=arn,
            identifier=instance_id(index),
            resource_id=database.dbi_resource_id,
            latest=latest,
            earliest=latest - timedelta(days=spec.snapshots_per_tenant),
            kms_key_id=KMS_KEY.replace(REGION, COPY_REGION),
        )


def _job_id(index: int, day: int) -> str:
    """A stable UUID, as AWS Backup's job ids are, tying a job to its recovery point."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"backupwatch-bench/{tenant_name(index)}/{day}"))
