"""backupwatch over real HTTP: a moto server on 127.0.0.1, reached through AWS_ENDPOINT_URL.

Everything is seeded with boto3 over HTTP. Times cannot be moved through the backend here, so
old evidence is created under time-machine (which moves the server thread's clock too).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import time_machine
from botocore.awsrequest import AWSResponse

from backupwatch import Check, Retrier, Settings, Status, check_tenants, load_settings

# Imported before any session is built: its handlers join botocore's built-in ones, as moto's.
from backupwatch.cli.fake_aws import FakeAws
from handlers.daily_digest import lambda_handler

from .conftest import (
    ACCOUNT,
    BUCKET,
    REGION,
    TENANT_TAG,
    RecordingSleep,
    reset_moto_server,
    running_moto_server,
)

RDS_THROTTLE_BODY = (
    b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
    b"<Message>Rate exceeded</Message></Error><RequestId>x</RequestId></ErrorResponse>"
)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """One moto server for the module, on a free local port."""
    with running_moto_server() as url:
        yield url


@pytest.fixture
def endpoint(server: str, fake_env: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh server state; every boto3 client of the test talks to it."""
    reset_moto_server(server)
    monkeypatch.setenv("AWS_ENDPOINT_URL", server)
    return server


@pytest.fixture
def session(endpoint: str) -> boto3.Session:
    return boto3.Session(region_name=REGION)


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def throttle_sends(
    session: boto3.Session, operation: str, sends: list[str], *, times: int | None
) -> None:
    """Answer the first ``times`` sends (all if None) of rds ``operation`` with Throttling."""

    def hook(request: Any, **_: Any) -> AWSResponse | None:
        sends.append(request.url)
        if times is not None and len(sends) > times:
            return None  # goes on to the server
        return AWSResponse(request.url, 400, {}, _Raw(RDS_THROTTLE_BODY))

    session.events.register_first(f"before-send.rds.{operation}", hook)


def tenant(
    session: boto3.Session, name: str, *, retention: int = 7, object_bytes: int | None = 2048
) -> None:
    """A tagged DB instance (moto snapshots it at creation) and, optionally, its dump in S3."""
    session.client("rds").create_db_instance(
        DBInstanceIdentifier=f"db-{name}",
        DBInstanceClass="db.t4g.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
        BackupRetentionPeriod=retention,
        Tags=[{"Key": TENANT_TAG, "Value": name}],
    )
    _established(f"db-{name}")
    if object_bytes is not None:
        session.client("s3").put_object(
            Bucket=BUCKET, Key=f"{name}-backups/{name}.dump", Body=b"\0" * object_bytes
        )


def _established(identifier: str) -> None:
    """Backdate the instance's creation by 90 days, so no evidence means MISSING, not PENDING.

    RDS has no API to change a creation time; the server runs in this process, so its backend
    is at hand.
    """
    from moto.rds.models import rds_backends

    database = rds_backends[ACCOUNT][REGION].databases[identifier]
    created = (datetime.now(UTC) - timedelta(days=90)).replace(tzinfo=None)
    database.created = database.instance_create_time = created


def settings() -> Settings:
    """Dry-run settings for ``check_tenants`` (the handler tests read the real environment)."""
    return load_settings(
        {"BACKUPWATCH_S3_BUCKET": BUCKET, "BACKUPWATCH_REGIONS": REGION, "BACKUPWATCH_DRY_RUN": "1"}
    )


def test_every_status_over_http(session: boto3.Session) -> None:
    """Seeded over HTTP (one tenant 48 h in the past), each tenant gets its status."""
    session.client("s3").create_bucket(Bucket=BUCKET)
    tenant(session, "acme")
    tenant(session, "initech", object_bytes=None)
    tenant(session, "umbrella", retention=0)
    tenant(session, "hooli", object_bytes=0)
    with time_machine.travel(datetime.now(UTC) - timedelta(hours=48), tick=True):
        tenant(session, "globex")
    session.client("rds").create_db_instance(
        DBInstanceIdentifier="scratch",
        DBInstanceClass="db.t4g.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
    )

    report = check_tenants(settings(), session=session, retrier=Retrier(sleep=RecordingSleep()))

    assert {row.tenant: row.status for row in report.tenants} == {
        "acme": Status.OK,
        "initech": Status.MISSING,
        "umbrella": Status.DISABLED,
        "hooli": Status.EMPTY,
        "globex": Status.STALE,
    }
    acme = next(row for row in report.tenants if row.tenant == "acme")
    assert (acme.checks[Check.RDS].key or "").startswith("rds:db-acme-")
    assert acme.checks[Check.S3].key == "acme-backups/acme.dump"
    globex = next(row for row in report.tenants if row.tenant == "globex")
    assert globex.checks[Check.RDS].status is Status.STALE
    assert globex.checks[Check.S3].status is Status.STALE
    assert report.failing


def test_fresh_tenants_turn_stale_in_the_future(session: boto3.Session) -> None:
    """The same fresh evidence, checked 30 h later (time-machine), is STALE."""
    session.client("s3").create_bucket(Bucket=BUCKET)
    tenant(session, "acme")
    now = check_tenants(settings(), session=session, retrier=Retrier(sleep=RecordingSleep()))
    assert [row.status for row in now.tenants] == [Status.OK]
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=30), tick=True):
        later = check_tenants(settings(), session=session, retrier=Retrier(sleep=RecordingSleep()))
    assert [row.status for row in later.tenants] == [Status.STALE]


@pytest.mark.parametrize("operation", ["DescribeDBInstances", "DescribeDBSnapshots"])
@pytest.mark.parametrize("throttles", [1, 3])
def test_throttled_sends_are_retried_by_the_retrier(
    session: boto3.Session, operation: str, throttles: int
) -> None:
    """N throttled sends then the server answers: N+1 sends, N waits, every tenant OK."""
    session.client("s3").create_bucket(Bucket=BUCKET)
    tenant(session, "acme")
    tenant(session, "globex")
    sends: list[str] = []
    throttle_sends(session, operation, sends, times=throttles)
    sleep = RecordingSleep()

    report = check_tenants(settings(), session=session, retrier=Retrier(attempts=5, sleep=sleep))

    assert [row.status for row in report.tenants] == [Status.OK, Status.OK]
    assert len(sends) == throttles + 1
    assert len(sleep.waits) == throttles
    assert all(url.startswith("http://127.0.0.1:") for url in sends)


@pytest.mark.parametrize("attempts", [1, 3])
def test_snapshots_throttled_for_good_over_http(session: boto3.Session, attempts: int) -> None:
    """Throttled on every send: exactly `attempts` sends (botocore adds none), rds ERROR, s3 OK."""
    session.client("s3").create_bucket(Bucket=BUCKET)
    tenant(session, "acme")
    sends: list[str] = []
    throttle_sends(session, "DescribeDBSnapshots", sends, times=None)
    sleep = RecordingSleep()

    report = check_tenants(
        settings(), session=session, retrier=Retrier(attempts=attempts, sleep=sleep)
    )

    assert len(sends) == attempts
    assert len(sleep.waits) == attempts - 1
    (row,) = report.tenants
    assert row.status is Status.ERROR
    assert "Throttling" in row.checks[Check.RDS].reason
    assert row.checks[Check.S3].status is Status.OK


def test_discovery_throttled_for_good_is_a_region_error(session: boto3.Session) -> None:
    """DescribeDBInstances throttled on every send: a region error, never an all-clear."""
    sends: list[str] = []
    throttle_sends(session, "DescribeDBInstances", sends, times=None)
    report = check_tenants(
        settings(), session=session, retrier=Retrier(attempts=2, sleep=RecordingSleep())
    )
    assert len(sends) == 2
    assert [e.region for e in report.region_errors] == [REGION]
    assert "Throttling" in report.region_errors[0].reason
    assert report.failing


def _digest_queue(session: boto3.Session, topic_arn: str) -> str:
    """An SQS queue subscribed to ``topic_arn``: what a subscriber receives, read over HTTP."""
    sqs = session.client("sqs")
    queue_url: str = sqs.create_queue(QueueName="digest-copy")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    session.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return queue_url


def _received(session: boto3.Session, queue_url: str) -> list[dict[str, Any]]:
    messages = session.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


@pytest.mark.parametrize(
    ("missing", "failing"), [(False, 0), (True, 1)], ids=["all-ok", "one-missing"]
)
def test_lambda_handler_over_http(
    session: boto3.Session, monkeypatch: pytest.MonkeyPatch, missing: bool, failing: int
) -> None:
    """The Lambda entry point, configured by environment only, checks and publishes once."""
    session.client("s3").create_bucket(Bucket=BUCKET)
    topic_arn = session.client("sns").create_topic(Name="backup-digest")["TopicArn"]
    queue_url = _digest_queue(session, topic_arn)
    tenant(session, "acme")
    tenant(session, "globex", object_bytes=None if missing else 2048)
    monkeypatch.setenv("BACKUPWATCH_SNS_TOPIC_ARN", topic_arn)
    monkeypatch.setenv("BACKUPWATCH_S3_BUCKET", BUCKET)
    monkeypatch.setenv("BACKUPWATCH_REGIONS", REGION)

    result = lambda_handler({}, None)

    assert (result["tenants"], result["failing"], result["regions_failed"]) == (2, failing, 0)
    assert result["by_status"]["OK"] == 2 - failing
    assert result["by_status"]["MISSING"] == failing
    assert result["message_id"]
    received = _received(session, queue_url)
    assert [(m["MessageId"], m["Subject"]) for m in received] == [
        (result["message_id"], result["subject"])
    ]
    assert received[0]["MessageAttributes"]["failing"]["Value"] == str(failing)


def test_lambda_handler_dry_run_publishes_nothing(
    session: boto3.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A {"dry_run": true} event checks everything and publishes nothing."""
    session.client("s3").create_bucket(Bucket=BUCKET)
    topic_arn = session.client("sns").create_topic(Name="backup-digest")["TopicArn"]
    queue_url = _digest_queue(session, topic_arn)
    tenant(session, "acme")
    monkeypatch.setenv("BACKUPWATCH_SNS_TOPIC_ARN", topic_arn)
    monkeypatch.setenv("BACKUPWATCH_S3_BUCKET", BUCKET)
    monkeypatch.setenv("BACKUPWATCH_REGIONS", REGION)

    result = lambda_handler({"dry_run": True}, None)

    assert (result["tenants"], result["failing"], result["message_id"]) == (1, 0, None)
    assert _received(session, queue_url) == []


def test_aws_backup_and_a_copy_over_http(session: boto3.Session) -> None:
    """The backup and copy checks through a real HTTP client: moto's server answers RDS, the
    fake answers what moto lacks from the request alone (its region from the SigV4 scope, as
    the host is 127.0.0.1), and both arrive through botocore's real parsers."""
    session.client("s3").create_bucket(Bucket=BUCKET)
    tenant(session, "acme", retention=0)
    tenant(session, "beta", retention=0)
    now = datetime.now(UTC)
    arn = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:db-acme"
    with FakeAws() as fake:
        fake.add_recovery_point(
            region=REGION,
            vault="Default",
            resource_arn=arn,
            resource_type="RDS",
            created=now - timedelta(hours=5),
        )
        fake.add_recovery_point(
            region="eu-central-1",
            vault="dr",
            resource_arn=arn,
            resource_type="RDS",
            created=now - timedelta(hours=4),
        )
        report = check_tenants(
            load_settings(
                {
                    "BACKUPWATCH_S3_BUCKET": BUCKET,
                    "BACKUPWATCH_REGIONS": REGION,
                    "BACKUPWATCH_DRY_RUN": "1",
                    "BACKUPWATCH_CHECKS": "rds,s3,backup",
                    "BACKUPWATCH_RDS_BACKUP_RULE": "either",
                    "BACKUPWATCH_COPY_REGIONS": "eu-central-1",
                }
            ),
            session=session,
            retrier=Retrier(sleep=RecordingSleep()),
        )
        answered = {(operation, region) for operation, region, _ in fake.calls}
    rows = {row.tenant: row for row in report.tenants}
    assert rows["acme"].status is Status.OK
    assert rows["acme"].checks[Check.BACKUP].reason == "AWS Backup recovery point 5 h old"
    assert rows["acme"].checks[Check.COPY].status is Status.OK
    assert rows["beta"].status is Status.MISSING  # neither source has a backup, nor a copy
    assert ("ListRecoveryPointsByBackupVault", REGION) in answered
    assert ("DescribeDBInstanceAutomatedBackups", "eu-central-1") in answered
