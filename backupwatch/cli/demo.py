"""``backupwatch demo``: the real pipeline against an in-memory AWS (moto). No account needed.

It builds one tenant in every status (an Aurora cluster among them, four whose fresh dump is
broken: shrunk, truncated, an error message, a checksum mismatch, one backed up by AWS Backup
alone, one whose disaster-recovery copy went stale, and one kept too short for its policy),
runs discovery, evidence,
evaluation, the inspection of the newest dumps and the SNS publish exactly as a real run does,
and prints the digest as a subscriber receives it.

With ``html`` (the command always passes one) it also writes the status page over a week of
history: the same world checked on seven consecutive mornings, the clock and the evidence moved
back for each, so that tenants change over the week (see ``stage_day``). Each morning is a full
run with the report archive on (in moto's S3), so the last digest opens with what changed since
the day before, and the status page is the one the run wrote beside its report.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import random
import string
from collections.abc import Callable, Iterator
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
DUMPS_KEPT = 8
"""Dated daily dumps a lifecycle rule keeps for each tenant that writes them: the newest and
the seven before it, so the size rule has its week of history on every morning."""
DUMP_FORMAT_TAG = "backupwatch:dump-format"
VERIFY_CHECKSUM_TAG = "backupwatch:verify-checksum"
COPY_REGION = "eu-central-1"
"""Where massive-dynamic's disaster-recovery copies go (tag ``backupwatch:copy-regions``)."""


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
            # Automated snapshots or AWS Backup, whichever the tenant uses.
            "BACKUPWATCH_CHECKS": "rds,s3,backup",
            "BACKUPWATCH_RDS_BACKUP_RULE": "either",
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
        channels = _channels(session, outcome) if html is not None else {}
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
        print("The same digest as each channel renders it:")
        for suffix, text in channels.items():
            path = html.with_name(f"{html.stem.removesuffix('-status')}-{suffix}")
            path.write_text(text, encoding="utf-8")
            print(f"  {path.resolve()}")
    return 0


def _channels(session: boto3.Session, outcome: Outcome) -> dict[str, str]:
    """The run's digest as each channel renders it: the Amazon Q Developer (chat) custom
    notification and its preview as a Slack channel shows it, a Slack message, a Teams card
    and the HTML email (with the week's grid)."""
    from backupwatch import Retrier, recent_reports
    from backupwatch.core.chat import render_chat_notification
    from backupwatch.core.chat_preview import render_chat_preview
    from backupwatch.core.html_email import render_html_email
    from backupwatch.core.slack import render_slack_message
    from backupwatch.core.teams import render_teams_message

    links: dict[str, Any] = {
        "changes": outcome.changes,
        "full_report": outcome.archived,
        "status_page": outcome.status_page,
    }
    history = recent_reports(
        session.client("s3"), Retrier(), bucket=REPORTS_BUCKET, prefix="backupwatch/"
    )
    earlier = [r for r in history if r.generated_at < outcome.report.generated_at]
    notification = render_chat_notification(outcome.report, **links)
    return {
        "chat.json": json.dumps(notification, indent=2),
        "chat-preview.html": render_chat_preview(notification),
        "slack.json": json.dumps(render_slack_message(outcome.report, **links), indent=2),
        "teams.json": json.dumps(render_teams_message(outcome.report, **links), indent=2),
        "email.html": render_html_email(outcome.report, history=earlier, **links),
    }


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
    """moto's in-memory AWS, with fake credentials so nothing can reach a real account, and
    the AWS Backup and automated-backup APIs moto lacks answered by ``fake_aws``."""
    from moto import mock_aws

    from backupwatch.cli.fake_aws import FakeAws

    fake = {
        "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_SESSION_TOKEN": "demo",
        "AWS_DEFAULT_REGION": REGION,
    }
    with mock.patch.dict(os.environ, fake), mock_aws(), FakeAws():
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
    # acme's tags ask for every check of its dumps' bytes; they all pass.
    instance(
        "db-acme", {TENANT_TAG: "acme", DUMP_FORMAT_TAG: "pg_custom", VERIFY_CHECKSUM_TAG: "true"}
    )
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
    # Not on AWS Backup: under the rule "either" a stopped instance's missing recovery point
    # would fail it, so its tag says which evidence it has.
    instance("db-cyberdyne", {TENANT_TAG: "cyberdyne", "backupwatch:checks": "rds s3"})
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
    # SUSPECT on the last morning: each one's newest dump is broken in its own way (stage_day).
    instance("db-wonka", {TENANT_TAG: "wonka"})
    instance("db-nakatomi", {TENANT_TAG: "nakatomi", DUMP_FORMAT_TAG: "pg_plain"})
    instance("db-virtucon", {TENANT_TAG: "virtucon", DUMP_FORMAT_TAG: "pg_custom"})
    instance("db-gringotts", {TENANT_TAG: "gringotts", VERIFY_CHECKSUM_TAG: "true"})
    # OK on AWS Backup alone: automated backups off, a recovery point every night.
    instance("db-bluth", {TENANT_TAG: "bluth"}, retention=0)
    # STALE on day 7: its copies to eu-central-1 (RDS automated-backup replication) stopped
    # 40 h before the last run.
    instance(
        "db-massive",
        {TENANT_TAG: "massive-dynamic", "backupwatch:copy-regions": COPY_REGION},
    )
    # NONCOMPLIANT from day 4: its policy asks for 14 days of backups, RDS keeps 7.
    instance("db-piedpiper", {TENANT_TAG: "pied-piper"})
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
    - newco: created on the morning of day 7, PENDING; vandelay: offboarded (untagged) on day 5;
    - bluth: OK all week on AWS Backup alone (retention 0, a recovery point every night);
    - massive-dynamic: OK until its replicated automated backups in eu-central-1 stopped
      40 h before the last run, STALE on day 7 (a new failure in the last digest);
    - pied-piper: OK until its policy asked for 14 days of backups on day 4 (RDS keeps 7),
      NONCOMPLIANT since;
    - acme, wonka, nakatomi, virtucon, gringotts write a dated dump every night (the last
      ``DUMPS_KEPT`` are kept; later ones are not written yet); acme's pass every check all
      week. The other four are OK until their dump of day 7 is broken, SUSPECT on day 7 (new
      failures in the last digest): wonka's shrank to 2% of the ones before, nakatomi's plain
      SQL is cut short before its trailer, virtucon's is pg_dump's error message, and
      gringotts's sidecar gives the sha256 of other bytes than S3's checksum.
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

    def daily(
        stem: str,
        body: Callable[[int, datetime, random.Random], bytes],
        *,
        suffix: str = ".dump",
        checksummed: Callable[[int, bytes], bytes] | None = None,
    ) -> None:
        """A dump a night, ``<stem>-YYYY-MM-DD<suffix>``, written 4 h before each morning's
        run: this morning's and the ones before it that a lifecycle rule has not expired yet
        (``DUMPS_KEPT`` in all); the later ones are not written yet.

        ``body(days, written, rng)`` gives the bytes of the dump of ``days`` days before the
        last run (``rng`` is seeded by the tenant and ``days``: the same bytes every time, so
        a dump already there is not written again). With ``checksummed``, each dump is
        uploaded with S3's SHA-256 checksum and a ``sha256sum`` sidecar beside it giving the
        sha256 of ``checksummed(days, dump)`` (the dump itself, when the producer works).
        """
        for days in range(HISTORY_DAYS + DUMPS_KEPT - 1):  # every dump of any morning
            written = last_run - timedelta(days=days, hours=4)
            key = f"{stem}-{written.astimezone(UTC):%Y-%m-%d}{suffix}"
            keys = [key] if checksummed is None else [key, key + ".sha256"]
            if not days_before <= days < days_before + DUMPS_KEPT:  # not written, or expired
                for gone in keys:
                    if object_exists(BUCKET, gone):
                        s3.delete_object(Bucket=BUCKET, Key=gone)
                continue
            if not object_exists(BUCKET, key):
                data = body(days, written, random.Random(f"{stem}:{days}"))
                if checksummed is None:
                    s3.put_object(Bucket=BUCKET, Key=key, Body=data)
                else:
                    s3.put_object(Bucket=BUCKET, Key=key, Body=data, ChecksumAlgorithm="SHA256")
                    digest = hashlib.sha256(checksummed(days, data)).hexdigest()
                    name = key.rsplit("/", 1)[-1]
                    s3.put_object(Bucket=BUCKET, Key=keys[1], Body=f"{digest}  {name}\n".encode())
            for written_key in keys:
                set_object_time(BUCKET, written_key, written)

    # OK: fresh snapshot, fresh dump, and its bytes pass every check its tags ask for: a
    # pg_dump custom-format archive growing slowly (with some noise day to day), its sha256
    # in a sidecar and in S3's checksum.
    set_snapshot_times("db-acme", at(5))
    daily(
        "acme-backups/acme",
        lambda days, written, rng: _pg_custom("acme", written, _grown(160 * KIB, days, rng), rng),
        checksummed=lambda days, data: data,
    )
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
    # SUSPECT on day 7: fresh snapshots, fresh dumps, the newest of them broken.
    for identifier in ("db-wonka", "db-nakatomi", "db-virtucon", "db-gringotts"):
        set_snapshot_times(identifier, at(5))
    # A table was dropped: the dump of day 7 is 2% of the size of the ones before it.
    daily(
        "wonka-backups/wonka",
        lambda days, written, rng: _pg_custom(
            "wonka",
            written,
            _grown(120 * KIB, days, rng, growth=0, noise=0.01) if days else 120 * KIB * 2 // 100,
            rng,
        ),
    )
    # The job was killed mid-dump: plain SQL cut short before its completion trailer, at 70%
    # (the size rule lets that pass; the format check does not).
    daily(
        "nakatomi-backups/nakatomi",
        lambda days, written, rng: _pg_plain(
            _grown(48 * KIB, days, rng), rng, cut=None if days else 0.7
        ),
        suffix=".sql",
    )
    # The job wrote pg_dump's error message where the dump goes (``pg_dump ... >x.dump 2>&1``).
    daily(
        "virtucon-backups/virtucon",
        lambda days, written, rng: (
            _pg_custom("virtucon", written, _grown(88 * KIB, days, rng), rng)
            if days
            else VIRTUCON_ERROR
        ),
    )
    # The bytes in S3 are not the ones the producer checksummed: the sidecar of day 7 gives
    # the sha256 of a dump whose last byte differs (changed after it was checksummed).
    daily(
        "gringotts-backups/gringotts",
        lambda days, written, rng: _pg_custom(
            "gringotts", written, _grown(64 * KIB, days, rng), rng
        ),
        checksummed=lambda days, data: data if days else data[:-1] + bytes([data[-1] ^ 1]),
    )
    _stage_aws_backup(session, last_run, days_before)


def _stage_aws_backup(session: boto3.Session, last_run: datetime, days_before: int) -> None:
    """bluth's recovery points, massive-dynamic's copies and pied-piper's policy tag, as they
    were ``days_before`` days before ``last_run`` (AWS Backup's side lives in ``fake_aws``)."""
    from backupwatch.cli.fake_aws import active_world

    fake = active_world()
    if fake is None:
        raise RuntimeError("the demo needs a FakeAws world for AWS Backup (see demo_aws)")
    rds = session.client("rds")
    morning = last_run - timedelta(days=days_before)
    fake.reset()  # set outright, like everything else staged here
    # bluth: one recovery point a night, 5 h before each morning, kept 35 days.
    for days in range(days_before, days_before + 10):
        fake.add_recovery_point(
            region=REGION,
            vault="Default",
            resource_arn=_arn("db-bluth"),
            resource_type="RDS",
            created=last_run - timedelta(days=days, hours=5),
            delete_after_days=35,
        )
    set_snapshot_times("db-bluth", last_run - timedelta(days=200))
    dump("bluth-backups/bluth.dump", morning - timedelta(hours=6))
    # massive-dynamic: its snapshots and dumps are fine; its copies stopped 40 h before the
    # last run.
    set_snapshot_times("db-massive", morning - timedelta(hours=4))
    dump("massive-dynamic-backups/massive-dynamic.dump", morning - timedelta(hours=5))
    latest = min(morning - timedelta(minutes=20), last_run - timedelta(hours=40))
    fake.add_automated_backup(
        region=COPY_REGION,
        source_region=REGION,
        instance_arn=_arn("db-massive"),
        identifier="db-massive",
        resource_id=_resource_id(rds, "db-massive"),
        latest=latest,
        earliest=latest - timedelta(days=7),
    )
    # pied-piper: fine on its own terms, but from day 4 its policy asks for 14 days.
    set_snapshot_times("db-piedpiper", morning - timedelta(hours=3))
    dump("pied-piper-backups/pied-piper.dump", morning - timedelta(hours=2))
    tags = [{"Key": "backupwatch:min-retention-days", "Value": "14"}]
    if days_before <= 3:
        rds.add_tags_to_resource(ResourceName=_arn("db-piedpiper"), Tags=tags)  # type: ignore[arg-type]
    else:
        rds.remove_tags_from_resource(
            ResourceName=_arn("db-piedpiper"), TagKeys=["backupwatch:min-retention-days"]
        )


def _arn(identifier: str) -> str:
    return f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{identifier}"


def _resource_id(rds: Any, identifier: str) -> str:
    described = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"]
    return str(described[0]["DbiResourceId"])


def dump(key: str, when: datetime) -> None:
    """Write a 2 KiB backup object ``key`` last modified at ``when``."""
    from moto.s3.models import s3_backends

    bucket = s3_backends[ACCOUNT]["aws"].buckets[BUCKET]
    if key not in bucket.keys:
        boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key=key, Body=b"\0" * 2048)
    set_object_time(BUCKET, key, when)


KIB = 1024
VIRTUCON_ERROR = (
    b'pg_dump: error: connection to server at "db-virtucon.c7qvxn2kd9fa.eu-west-1.rds.amazonaws'
    b'.com", port 5432 failed: FATAL: password authentication failed for user "backup"\n'
)
"""What virtucon's job wrote as its dump of day 7."""


def _grown(
    first: int, days: int, rng: random.Random, *, growth: float = 0.005, noise: float = 0.02
) -> int:
    """The size of a dump of ``days`` days before the last run: ``first`` bytes two weeks
    before the last run, ``growth`` more a day since, give or take ``noise`` (a fraction)."""
    grown = first * (1 + growth) ** (14 - days)
    return int(grown * (1 + rng.uniform(-noise, noise)))


def _pg_custom(database: str, written: datetime, size: int, rng: random.Random) -> bytes:
    """``size`` bytes that start as ``pg_dump --format=custom`` of PostgreSQL 16 starts
    (``WriteHead`` in ``pg_backup_archiver.c``, archive version 1.15): ``PGDMP``, the version,
    int and offset sizes, the format (1, custom), the compression (1, gzip), the dump's time
    and the database and server versions; random bytes stand for the compressed archive."""

    def number(value: int) -> bytes:  # WriteInt: a sign byte, then intSize bytes, LSB first
        return b"\x00" + value.to_bytes(4, "little")

    def text(value: str) -> bytes:  # WriteStr: its length, then its bytes
        return number(len(value)) + value.encode()

    when = written.astimezone(UTC)
    clock = (when.second, when.minute, when.hour, when.day, when.month - 1, when.year - 1900, 0)
    header = (
        b"PGDMP"
        + bytes([1, 15, 0, 4, 8, 1, 1])
        + b"".join(number(part) for part in clock)
        + text(database)
        + text("16.10")
        + text("16.10")
    )
    return header + rng.randbytes(max(size - len(header), 0))


def _pg_plain(size: int, rng: random.Random, *, cut: float | None = None) -> bytes:
    """About ``size`` bytes of plain SQL as ``pg_dump`` 16.10 writes it (its ``\\restrict``
    lines included); with ``cut``, only that fraction of it, ending mid-row."""
    key = "".join(rng.choices(string.ascii_letters + string.digits, k=64))
    head = (
        "--\n-- PostgreSQL database dump\n--\n\n"
        f"\\restrict {key}\n\n"
        "-- Dumped from database version 16.10\n-- Dumped by pg_dump version 16.10\n\n"
        "SET statement_timeout = 0;\nSET client_encoding = 'UTF8';\n"
        "SET standard_conforming_strings = on;\n"
        "SELECT pg_catalog.set_config('search_path', '', false);\n\n"
        "--\n-- Data for Name: orders; Type: TABLE DATA; Schema: public; Owner: app\n--\n\n"
        "COPY public.orders (id, customer, total, state) FROM stdin;\n"
    )
    tail = f"\\.\n\n\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict {key}\n\n"
    rows: list[str] = []
    length = len(head) + len(tail)
    while length < size:
        row = (
            f"{len(rows) + 1}\tcustomer-{rng.randrange(10_000):04d}\t"
            f"{rng.randrange(100, 1_000_000) / 100:.2f}\tshipped\n"
        )
        rows.append(row)
        length += len(row)
    data = (head + "".join(rows) + tail).encode()
    return data if cut is None else data[: int(len(data) * cut)]


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


def object_exists(bucket: str, key: str) -> bool:
    from moto.s3.models import s3_backends

    return key in s3_backends[ACCOUNT]["aws"].buckets[bucket].keys


def set_object_time(bucket: str, key: str, at: datetime) -> None:
    from moto.s3.models import s3_backends

    s3_backends[ACCOUNT]["aws"].buckets[bucket].keys[key].last_modified = at.astimezone(
        UTC
    ).replace(tzinfo=None)


def published_messages(topic_arn: str) -> list[tuple[str, str]]:
    """(subject, message) of everything published to ``topic_arn``, as subscribers get it."""
    from moto.sns.models import sns_backends

    topic = sns_backends[ACCOUNT][REGION].topics[topic_arn]
    return [
        (subject or "", _as_email(message))
        for _id, message, subject, *_rest in topic.sent_notifications
    ]


def _as_email(message: str) -> str:
    """An email subscriber's string of a ``MessageStructure=json`` message (moto keeps the
    published JSON); a plain message as it is."""
    try:
        protocols = json.loads(message)
    except ValueError:
        return message
    return (
        str(protocols["email"]) if isinstance(protocols, dict) and "email" in protocols else message
    )
