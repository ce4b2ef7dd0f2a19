"""``backupwatch demo``: the real pipeline against an in-memory AWS (moto). No account needed.

It builds one tenant in every status (an Aurora cluster among them), runs discovery, evidence,
evaluation and the SNS publish exactly as a real run does, and prints the digest as a
subscriber receives it.

With ``html`` (the command always passes one) it also writes the status page over a week of
history: the same world checked on seven consecutive mornings, the clock and the evidence moved
back for each, so that tenants change over the week (see ``stage_day``). Each morning is a full
run with the report archive on (in moto's S3), so the last digest opens with what changed since
the day before, and the status page is the one the run wrote beside its report.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import boto3

from backupwatch import Outcome, load_settings, run_daily
from backupwatch.cli.output import print_report

REGION = "eu-west-1"
ACCOUNT = "123456789012"
BUCKET = "acme-corp-db-backups"
REPORTS_BUCKET = "acme-corp-backupwatch-reports"
TOPIC = "backup-digest"
TENANT_TAG = "backupwatch:tenant"
HISTORY_DAYS = 7
"""Mornings on the demo's status page, the last one included."""


def run_demo(
    *, as_json: bool = False, now: datetime | None = None, html: Path | None = None
) -> int:
    """Build the demo world, run one check, print the report and the published digest.

    With ``html``, check the six mornings before too and write the week's status page there.
    """
    now = now or datetime.now(UTC)
    with demo_aws():
        session = boto3.Session(region_name=REGION)
        topic_arn = build_world(session, now)
        variables = {
            "BACKUPWATCH_SNS_TOPIC_ARN": topic_arn,
            "BACKUPWATCH_S3_BUCKET": BUCKET,
            "BACKUPWATCH_REGIONS": REGION,
            # The seed's way of listing an instance still works beside the tags.
            "DB_INSTANCE_IDENTIFIER_1": "legacy-payroll",
            "S3_FOLDER_1": "payroll-backups/",
        }
        if html is not None:  # the week goes through the real report archive
            session.client("s3").create_bucket(
                Bucket=REPORTS_BUCKET,
                CreateBucketConfiguration={"LocationConstraint": REGION},  # type: ignore[typeddict-item]
            )
            variables["BACKUPWATCH_REPORT_BUCKET"] = REPORTS_BUCKET
        settings = load_settings(variables)
        if html is not None:
            for days_before in range(HISTORY_DAYS - 1, 0, -1):
                stage_day(session, now, days_before)
                clock = functools.partial(_minus_days, now, days_before)
                run_daily(settings, session=session, clock=clock)  # archived, like a Lambda
            stage_day(session, now, 0)
        outcome = run_daily(settings, session=session, clock=lambda: now)
        print_report(outcome.report, as_json=as_json)
        subject, message = published_messages(topic_arn)[-1]
        page = _status_page(session, outcome) if html is not None else None
    print()
    print("=" * 72)
    print("What a subscriber to the digest topic receives (one message per run):")
    print("=" * 72)
    print(f"Subject: {subject}\n")
    print(message)
    print(f"\n(message id {outcome.message_id}; run summary: {json.dumps(outcome.summary())})")
    if html is not None and page is not None:
        html.write_text(page, encoding="utf-8")
        print(f"\nStatus page, a week of history: {html.resolve()}")
    return 0


def _status_page(session: boto3.Session, outcome: Outcome) -> str:
    """The page the run wrote beside its report, read back from the (in-memory) archive."""
    written = outcome.status_page
    if written is None or written.error is not None:
        raise RuntimeError(f"the demo's status page was not written: {written}")
    body = session.client("s3").get_object(Bucket=written.bucket, Key=written.key)["Body"]
    page: str = body.read().decode("utf-8")
    return page


def _minus_days(when: datetime, days: int) -> datetime:
    return when - timedelta(days=days)


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
    """Tenants in every status, as they are at ``now``; returns the digest topic's ARN.

    This creates the resources; ``stage_day`` sets their evidence, tags and state.
    """
    rds = session.client("rds")
    s3 = session.client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})  # type: ignore[typeddict-item]
    topic_arn: str = session.client("sns").create_topic(Name=TOPIC)["TopicArn"]

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
        _rds_backend().databases[identifier].instance_create_time = _naive(
            now - timedelta(hours=created)
        )

    # Tenant tags that change during the week (wayne, stark, newco, vandelay) are stage_day's.
    instance("db-acme", {TENANT_TAG: "acme"})
    instance("db-wayne", {"backupwatch:s3-prefix": "legacy/wayne"})
    instance(
        "db-globex",
        {TENANT_TAG: "globex", "backupwatch:runbook": "https://wiki.example.com/runbooks/globex"},
    )
    instance("db-initech", {TENANT_TAG: "initech"})
    instance("db-umbrella", {TENANT_TAG: "umbrella"}, retention=0)
    instance("db-hooli", {TENANT_TAG: "hooli"})
    instance("db-stark", {})
    # Listed the seed's way (DB_INSTANCE_IDENTIFIER_1 / S3_FOLDER_1), no tag.
    instance("legacy-payroll", {})
    # Not a tenant: no tag, not listed.
    instance("scratch-analytics", {"team": "data"})
    instance("db-vandelay", {})

    # An Aurora cluster: the cluster is the tenant, judged on its cluster snapshot; its member
    # instance carries the tag too (tag propagation) and is not a tenant of its own.
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
    _rds_backend().clusters["aurora-soylent"].cluster_create_time = _naive(
        now - timedelta(days=400)
    )
    # PENDING: onboarded three hours ago; no backup of any kind yet, none due yet.
    instance("db-newco", {}, created=3)
    drop_snapshots("db-newco")
    instance("db-cyberdyne", {TENANT_TAG: "cyberdyne"})
    # PAUSED: migrating, paused until five days from now.
    pause_end = (now + timedelta(days=5)).astimezone(UTC).strftime("%Y-%m-%d")
    instance("db-tyrell", {TENANT_TAG: "tyrell", "backupwatch:paused-until": pause_end})
    # SKIPPED: a PostgreSQL read replica has no automated backups; its dumps are checked.
    instance("db-oscorp", {})
    rds.create_db_instance_read_replica(
        DBInstanceIdentifier="db-oscorp-replica",
        SourceDBInstanceIdentifier="db-oscorp",
        Tags=[{"Key": TENANT_TAG, "Value": "oscorp-reports"}],
    )
    _rds_backend().databases["db-oscorp-replica"].instance_create_time = _naive(
        now - timedelta(days=90)
    )
    stage_day(session, now, 0)
    return topic_arn


def stage_day(session: boto3.Session, last_run: datetime, days_before: int) -> None:
    """Make the world look as it did ``days_before`` days before ``last_run`` (0: as it is).

    Every varying thing is set outright, so the mornings can be staged in any order. Over the
    week (day 1 is six days before the last run, day 7 the last run):

    - acme, legacy-payroll: OK all week; wayne: onboarded (tagged) on day 3, OK since;
    - globex: OK until its dump job died, STALE on day 7 (a new failure in the last digest);
    - initech: MISSING all week (its folder was never written); umbrella: DISABLED all week;
    - hooli: MISSING until its export began on day 4, writing empty files: EMPTY since;
    - stark: OK until someone set its max-age tag to 'daily' on day 5: ERROR since;
    - soylent (Aurora): two cluster snapshots missed, STALE on days 5 and 6, recovered on day 7;
    - cyberdyne: stopped on day 3, STOPPED since; tyrell PAUSED, oscorp-reports SKIPPED;
    - newco: created on the morning of day 7, PENDING; vandelay: offboarded (untagged) on day 5.
    """
    rds = session.client("rds")
    s3 = session.client("s3")
    morning = last_run - timedelta(days=days_before)

    def at(hours: float) -> datetime:
        """``hours`` before this morning's run."""
        return morning - timedelta(hours=hours)

    def job(hours: float, *, last: float | None = None) -> datetime:
        """The newest run of a daily job that runs ``hours`` before each morning's check and,
        with ``last``, ran for the last time ``last`` hours before the last run."""
        if last is None:
            return at(hours)
        return min(at(hours), last_run - timedelta(hours=last))

    def tenant_tag(identifier: str, name: str, on: bool) -> None:
        arn = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{identifier}"
        if on:
            rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": TENANT_TAG, "Value": name}])
        else:
            rds.remove_tags_from_resource(ResourceName=arn, TagKeys=[TENANT_TAG])

    def dump(key: str, when: datetime | None, size: int = 2048) -> None:
        """The tenant's newest backup object, or none at all."""
        if when is None:
            s3.delete_object(Bucket=BUCKET, Key=key)
            return
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"\0" * size)
        set_object_time(BUCKET, key, when)

    # OK: fresh snapshot, fresh dump.
    set_snapshot_times("db-acme", at(5))
    dump("acme-backups/2026/acme.dump", at(4))
    # OK, with its folder chosen by tag; a tenant since its tag was added on day 3.
    tenant_tag("db-wayne", "wayne", days_before <= 4)
    set_snapshot_times("db-wayne", at(2))
    dump("legacy/wayne/full.sql.gz", at(3))
    # STALE: the nightly dump died 30 h before the last run. Its runbook is shown next to it.
    set_snapshot_times("db-globex", job(7, last=31))
    dump("globex-backups/globex.dump", job(2, last=30))
    # MISSING: S3 folder never written.
    set_snapshot_times("db-initech", at(6))
    # DISABLED: someone set retention to 0 (the instance was built so); snapshots stopped.
    set_snapshot_times("db-umbrella", last_run - timedelta(days=9))
    dump("umbrella-backups/umbrella.dump", at(7))
    # EMPTY: the export runs since day 4, but writes nothing.
    set_snapshot_times("db-hooli", at(8))
    dump("hooli-backups/hooli.dump", at(2) if days_before <= 3 else None, size=0)
    # ERROR: a malformed tag marks this tenant, not the run (a number of hours until day 5).
    age_tag = "daily" if days_before <= 2 else "36"
    rds.add_tags_to_resource(
        ResourceName=f"arn:aws:rds:{REGION}:{ACCOUNT}:db:db-stark",
        Tags=[
            {"Key": TENANT_TAG, "Value": "stark"},
            {"Key": "backupwatch:max-age-hours", "Value": age_tag},
        ],
    )
    set_snapshot_times("db-stark", at(3))
    dump("stark-backups/stark.dump", at(3))
    # OK, listed the seed's way.
    set_snapshot_times("legacy-payroll", at(9))
    dump("payroll-backups/payroll.bak", at(9))
    # OK, an Aurora cluster; the snapshots of days 5 and 6 were missed.
    missed = days_before in (1, 2)
    set_cluster_snapshot_times(
        "aurora-soylent", last_run - timedelta(days=4, hours=6) if missed else at(6)
    )
    dump("soylent-backups/soylent.dump", at(5))
    # PENDING: created three hours before the last run: no tenant before that.
    tenant_tag("db-newco", "newco", days_before == 0)
    # STOPPED: stopped on day 3 to save money; the dumps go on.
    set_snapshot_times("db-cyberdyne", job(3, last=24 * 4))
    _rds_backend().databases["db-cyberdyne"].status = "stopped" if days_before <= 4 else "available"
    dump("cyberdyne-backups/cyberdyne.dump", at(6))
    # PAUSED: nothing fresh anywhere, and no dump at all.
    set_snapshot_times("db-tyrell", job(5, last=24 * 5))
    # SKIPPED: the replica's RDS check does not apply; its dumps are checked.
    dump("oscorp-reports-backups/reports.dump", at(8))
    # Offboarded on day 5: its tag removed, it is no tenant since.
    tenant_tag("db-vandelay", "vandelay", days_before >= 3)
    set_snapshot_times("db-vandelay", at(4))
    dump("vandelay-backups/vandelay.dump", at(4))


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
