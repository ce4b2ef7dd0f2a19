"""``backupwatch demo``: the real pipeline against an in-memory AWS (moto). No account needed.

It builds one tenant in every status, runs discovery, evidence, evaluation and the SNS publish
exactly as a real run does, and prints the digest as a subscriber receives it.
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

    def instance(identifier: str, tags: dict[str, str], *, retention: int = 7) -> None:
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
    # STALE: the nightly job died two days ago.
    instance("db-globex", {TENANT_TAG: "globex"})
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
    return topic_arn


def _rds_backend() -> Any:  # moto's backends are untyped
    from moto.rds.models import rds_backends

    return rds_backends[ACCOUNT][REGION]


def set_snapshot_times(identifier: str, at: datetime) -> None:
    """Move every snapshot of ``identifier`` to ``at`` (moto takes one at creation, "now")."""
    for snapshot in _rds_backend().database_snapshots.values():
        if snapshot.database.db_instance_identifier == identifier:
            snapshot.created = at.astimezone(UTC).replace(tzinfo=None)


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
