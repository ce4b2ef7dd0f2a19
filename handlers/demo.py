"""``backupwatch demo``: the real pipeline against an in-memory AWS (moto). No account needed.

It builds one tenant in every status (an Aurora cluster among them), runs discovery, evidence,
evaluation and the SNS publish exactly as a real run does, and prints the digest as a
subscriber receives it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import boto3

from backupwatch import load_settings

from . import _pipeline
from .cli import print_report

REGION = "eu-west-1"
ACCOUNT = "123456789012"
BUCKET = "acme-corp-db-backups"
TOPIC = "backup-digest"
TENANT_TAG = "backupwatch:tenant"


def run_demo(*, as_json: bool = False, now: datetime | None = None) -> int:
    """Build the demo world, run one check, print the report and the published digest."""
    now = now or datetime.now(UTC)
    with demo_aws():
        session = boto3.Session(region_name=REGION)
        topic_arn = build_world(session, now)
        settings = load_settings(
            {
                "BACKUPWATCH_SNS_TOPIC_ARN": topic_arn,
                "BACKUPWATCH_S3_BUCKET": BUCKET,
                "BACKUPWATCH_REGIONS": REGION,
                # The seed's way of listing an instance still works beside the tags.
                "DB_INSTANCE_IDENTIFIER_1": "legacy-payroll",
                "S3_FOLDER_1": "payroll-backups/",
            }
        )
        outcome = _pipeline.run(settings, session=session, clock=lambda: now)
        print_report(outcome.report, as_json=as_json)
        subject, message = published_messages(topic_arn)[-1]
    print()
    print("=" * 72)
    print("What a subscriber to the digest topic receives (one message per run):")
    print("=" * 72)
    print(f"Subject: {subject}\n")
    print(message)
    print(f"\n(message id {outcome.message_id}; run summary: {json.dumps(outcome.summary())})")
    return 0


@contextmanager
def demo_aws() -> Iterator[None]:
    """moto's in-memory AWS, with fake credentials so nothing can reach a real account."""
    from moto import mock_aws

    fake = {
        "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_SESSION_TOKEN": "demo",
        "AWS_DEFAULT_REGION": REGION,
    }
    with mock.patch.dict(os.environ, fake), mock_aws():
        yield


def build_world(session: boto3.Session, now: datetime) -> str:
    """Tenants in every status; returns the digest topic's ARN."""
    rds = session.client("rds")
    s3 = session.client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})  # type: ignore[typeddict-item]
    topic_arn: str = session.client("sns").create_topic(Name=TOPIC)["TopicArn"]

    def hours(n: float) -> datetime:
        return now - timedelta(hours=n)

    def instance(
        identifier: str, tags: dict[str, str], *, retention: int = 7, created: float = 24 * 180
    ) -> None:
        """A PostgreSQL instance, created ``created`` hours ago (half a year: not new)."""
        rds.create_db_instance(
            DBInstanceIdentifier=identifier,
            DBInstanceClass="db.t4g.micro",
            Engine="postgres",
            AllocatedStorage=20,
            MasterUsername="admin",
            MasterUserPassword="not-a-secret-1",
            BackupRetentionPeriod=retention,
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        )
        _rds_backend().databases[identifier].instance_create_time = _naive(hours(created))

    def backup_object(key: str, at: datetime, size: int = 2048) -> None:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"\0" * size)
        set_object_time(BUCKET, key, at)

    # OK: fresh snapshot, fresh dump.
    instance("db-acme", {TENANT_TAG: "acme"})
    set_snapshot_times("db-acme", hours(5))
    backup_object("acme-backups/2026/acme.dump", hours(4))
    # OK, with its folder chosen by tag.
    instance("db-wayne", {TENANT_TAG: "wayne", "backupwatch:s3-prefix": "legacy/wayne"})
    set_snapshot_times("db-wayne", hours(2))
    backup_object("legacy/wayne/full.sql.gz", hours(3))
    # STALE: the nightly job died two days ago. Its runbook is shown next to it.
    instance(
        "db-globex",
        {TENANT_TAG: "globex", "backupwatch:runbook": "https://wiki.example.com/runbooks/globex"},
    )
    set_snapshot_times("db-globex", hours(31))
    backup_object("globex-backups/globex.dump", hours(50))
    # MISSING: S3 folder never written.
    instance("db-initech", {TENANT_TAG: "initech"})
    set_snapshot_times("db-initech", hours(6))
    # DISABLED: someone set retention to 0.
    instance("db-umbrella", {TENANT_TAG: "umbrella"}, retention=0)
    set_snapshot_times("db-umbrella", hours(24 * 9))
    backup_object("umbrella-backups/umbrella.dump", hours(7))
    # EMPTY: the export ran but wrote nothing.
    instance("db-hooli", {TENANT_TAG: "hooli"})
    set_snapshot_times("db-hooli", hours(8))
    backup_object("hooli-backups/hooli.dump", hours(2), size=0)
    # ERROR: a malformed tag marks this tenant, not the run.
    instance("db-stark", {TENANT_TAG: "stark", "backupwatch:max-age-hours": "daily"})
    set_snapshot_times("db-stark", hours(3))
    backup_object("stark-backups/stark.dump", hours(3))
    # Listed the seed's way (DB_INSTANCE_IDENTIFIER_1 / S3_FOLDER_1), no tag.
    instance("legacy-payroll", {})
    set_snapshot_times("legacy-payroll", hours(9))
    backup_object("payroll-backups/payroll.bak", hours(9))
    # Not a tenant: no tag, not listed.
    instance("scratch-analytics", {"team": "data"})

    # OK, an Aurora cluster: the cluster is the tenant, judged on its cluster snapshot; its
    # member instance carries the tag too (tag propagation) and is not a tenant of its own.
    rds.create_db_cluster(
        DBClusterIdentifier="aurora-soylent",
        Engine="aurora-postgresql",
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
        BackupRetentionPeriod=7,
        Tags=[{"Key": TENANT_TAG, "Value": "soylent"}],
    )
    rds.create_db_instance(
        DBInstanceIdentifier="aurora-soylent-1",
        DBClusterIdentifier="aurora-soylent",
        Engine="aurora-postgresql",
        DBInstanceClass="db.r6g.large",
        Tags=[{"Key": TENANT_TAG, "Value": "soylent"}],
    )
    _rds_backend().clusters["aurora-soylent"].cluster_create_time = _naive(hours(24 * 400))
    set_cluster_snapshot_times("aurora-soylent", hours(6))
    backup_object("soylent-backups/soylent.dump", hours(5))
    # PENDING: onboarded three hours ago; no backup of any kind yet, none due yet.
    instance("db-newco", {TENANT_TAG: "newco"}, created=3)
    drop_snapshots("db-newco")
    # STOPPED: stopped four days ago to save money; the dumps go on.
    instance("db-cyberdyne", {TENANT_TAG: "cyberdyne"})
    set_snapshot_times("db-cyberdyne", hours(24 * 4))
    rds.stop_db_instance(DBInstanceIdentifier="db-cyberdyne")
    backup_object("cyberdyne-backups/cyberdyne.dump", hours(6))
    # PAUSED: migrating, nothing fresh anywhere, paused until five days from now.
    pause_end = (now + timedelta(days=5)).astimezone(UTC).strftime("%Y-%m-%d")
    instance("db-tyrell", {TENANT_TAG: "tyrell", "backupwatch:paused-until": pause_end})
    set_snapshot_times("db-tyrell", hours(24 * 5))
    # SKIPPED: a PostgreSQL read replica has no automated backups; its dumps are checked.
    instance("db-oscorp", {})
    rds.create_db_instance_read_replica(
        DBInstanceIdentifier="db-oscorp-replica",
        SourceDBInstanceIdentifier="db-oscorp",
        Tags=[{"Key": TENANT_TAG, "Value": "oscorp-reports"}],
    )
    _rds_backend().databases["db-oscorp-replica"].instance_create_time = _naive(hours(24 * 90))
    backup_object("oscorp-reports-backups/reports.dump", hours(8))
    return topic_arn


def _rds_backend() -> Any:  # moto's backends are untyped
    from moto.rds.models import rds_backends

    return rds_backends[ACCOUNT][REGION]


def _naive(at: datetime) -> datetime:
    """moto keeps naive UTC datetimes."""
    return at.astimezone(UTC).replace(tzinfo=None)


def set_snapshot_times(identifier: str, at: datetime) -> None:
    """Move every snapshot of ``identifier`` to ``at`` (moto takes one at creation, "now")."""
    for snapshot in _rds_backend().database_snapshots.values():
        if snapshot.database.db_instance_identifier == identifier:
            snapshot.created = _naive(at)


def set_cluster_snapshot_times(identifier: str, at: datetime) -> None:
    """Move every snapshot of cluster ``identifier`` to ``at``."""
    for snapshot in _rds_backend().cluster_snapshots.values():
        if snapshot.db_cluster_identifier == identifier:
            snapshot.created = _naive(at)


def drop_snapshots(identifier: str) -> None:
    """Remove every snapshot of ``identifier``: a new instance whose first backup is to come."""
    backend = _rds_backend()
    for key in [
        k
        for k, s in backend.database_snapshots.items()
        if s.database.db_instance_identifier == identifier
    ]:
        del backend.database_snapshots[key]


def set_object_time(bucket: str, key: str, at: datetime) -> None:
    from moto.s3.models import s3_backends

    s3_backends[ACCOUNT]["aws"].buckets[bucket].keys[key].last_modified = at.astimezone(
        UTC
    ).replace(tzinfo=None)


def published_messages(topic_arn: str) -> list[tuple[str, str]]:
    """(subject, message) of everything published to ``topic_arn``, as subscribers get it."""
    from moto.sns.models import sns_backends

    topic = sns_backends[ACCOUNT][REGION].topics[topic_arn]
    return [(subject or "", message) for _id, message, subject, *_rest in topic.sent_notifications]
