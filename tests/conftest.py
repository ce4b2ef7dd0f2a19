"""Shared fixtures: an in-memory AWS (moto), a world builder, fault injection, a fixed clock.

No test reaches the network or a real account: ``aws`` sets fake credentials and
``mock_aws``; retries never sleep (``retrier`` records the waits instead).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import boto3
import botocore.loaders
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from backupwatch import Retrier

ACCOUNT = "123456789012"
REGION = "us-east-1"
OTHER_REGION = "eu-west-1"
BUCKET = "my-backups-bucket"
TENANT_TAG = "backupwatch:tenant"
NOW = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "MOTO_ALLOW_NONEXISTENT_REGION": "false",
}


def hours_ago(hours: float, now: datetime = NOW) -> datetime:
    return now - timedelta(hours=hours)


def _naive_utc(when: datetime) -> datetime:
    """moto keeps naive UTC datetimes internally."""
    return when.astimezone(UTC).replace(tzinfo=None)


@pytest.fixture(scope="session", autouse=True)
def _shared_model_loader() -> Iterator[None]:
    """One botocore model loader for all sessions: service JSON is parsed once, not per test."""
    loader = botocore.loaders.create_loader()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", lambda *_args, **_kwargs: loader)
        yield


@pytest.fixture
def fake_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials, and none of the developer's BACKUPWATCH_* or seed variables."""
    for name in list(os.environ):
        if name.startswith(("BACKUPWATCH_", "AWS_", "DB_INSTANCE_IDENTIFIER_", "S3_FOLDER_")):
            monkeypatch.delenv(name)
        if name in ("SNS_TOPIC_ARN", "S3_BUCKET_NAME"):
            monkeypatch.delenv(name)
    for name, value in FAKE_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def aws(fake_env: None) -> Iterator[None]:
    """moto's in-memory AWS for the test's duration."""
    with mock_aws():
        yield


@dataclass
class World:
    """Builds tenants, snapshots, objects and topics in moto, at chosen times."""

    session: boto3.Session = field(default_factory=lambda: boto3.Session(region_name=REGION))
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)

    def client(self, service: str, region: str = REGION) -> Any:
        """One client per service and region: building clients is the slow part of a test."""
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = self.session.client(service, region_name=region)  # type: ignore[call-overload]
        return self._clients[key]

    def rds(self, region: str = REGION) -> Any:
        return self.client("rds", region)

    @property
    def s3(self) -> Any:
        return self.client("s3")

    def instance(
        self,
        identifier: str,
        *,
        tenant: str | None = "",
        tags: dict[str, str] | None = None,
        retention: int = 7,
        region: str = REGION,
        snapshot_at: datetime | None = None,
    ) -> str:
        """Create a DB instance. ``tenant=None`` leaves the tenant tag off entirely.

        moto takes one automated snapshot at creation; ``snapshot_at`` moves it (default: 1 h
        before NOW, i.e. fresh).
        """
        all_tags = dict(tags or {})
        if tenant is not None:
            all_tags[TENANT_TAG] = tenant
        self.rds(region).create_db_instance(
            DBInstanceIdentifier=identifier,
            DBInstanceClass="db.t4g.micro",
            Engine="postgres",
            AllocatedStorage=20,
            MasterUsername="admin",
            MasterUserPassword="not-a-secret-1",
            BackupRetentionPeriod=retention,
            Tags=[{"Key": k, "Value": v} for k, v in all_tags.items()],
        )
        for snapshot in self._snapshots(identifier, region):
            snapshot.created = _naive_utc(snapshot_at or hours_ago(1))
        return identifier

    def automated_snapshot(
        self, identifier: str, at: datetime, *, region: str = REGION, status: str = "available"
    ) -> str:
        """Add an automated snapshot of ``identifier`` taken at ``at``."""
        snapshot_id = f"rds:{identifier}-{at:%Y-%m-%d-%H-%M}"
        backend = self._rds_backend(region)
        snapshot = backend.create_auto_snapshot(identifier, snapshot_id)
        snapshot.created = _naive_utc(at)
        snapshot.status = status
        return snapshot_id

    def manual_snapshot(self, identifier: str, at: datetime, *, region: str = REGION) -> str:
        snapshot_id = f"{identifier}-manual-{at:%Y%m%d%H%M}"
        snapshot = self._rds_backend(region).create_db_snapshot(identifier, snapshot_id)
        snapshot.created = _naive_utc(at)
        return snapshot_id

    def drop_snapshots(self, identifier: str, region: str = REGION) -> None:
        """Remove every snapshot of ``identifier`` (moto's creation snapshot included)."""
        backend = self._rds_backend(region)
        for key in [
            k
            for k, s in backend.database_snapshots.items()
            if s.database.db_instance_identifier == identifier
        ]:
            del backend.database_snapshots[key]

    def bucket(self, name: str = BUCKET) -> str:
        self.s3.create_bucket(Bucket=name)
        return name

    def put(self, key: str, at: datetime, *, size: int = 1024, bucket: str = BUCKET) -> None:
        """Put an object of ``size`` bytes whose LastModified is ``at``."""
        self.s3.put_object(Bucket=bucket, Key=key, Body=b"\0" * size)
        self.set_object_time(key, at, bucket=bucket)

    def put_many(
        self, keys: list[str], at: datetime, *, size: int = 1024, bucket: str = BUCKET
    ) -> None:
        """Seed many objects fast, through moto's backend (boto3 put_object is ~60x slower)."""
        from moto.s3.models import s3_backends

        backend = s3_backends[ACCOUNT]["aws"]
        for key in keys:
            backend.put_object(bucket, key, b"\0" * size)
            backend.buckets[bucket].keys[key].last_modified = _naive_utc(at)

    def set_object_time(self, key: str, at: datetime, *, bucket: str = BUCKET) -> None:
        from moto.s3.models import s3_backends

        s3_backends[ACCOUNT]["aws"].buckets[bucket].keys[key].last_modified = _naive_utc(at)

    def topic(self, name: str = "backup-digest") -> str:
        arn: str = self.client("sns").create_topic(Name=name)["TopicArn"]
        return arn

    def published(self, topic_arn: str) -> list[dict[str, Any]]:
        """Everything published to ``topic_arn``: subject, message, attributes."""
        from moto.sns.models import sns_backends

        region = topic_arn.split(":")[3]
        topic = sns_backends[ACCOUNT][region].topics[topic_arn]
        return [
            {"message_id": n[0], "message": n[1], "subject": n[2], "attributes": n[3]}
            for n in topic.sent_notifications
        ]

    def _rds_backend(self, region: str) -> Any:
        from moto.rds.models import rds_backends

        return rds_backends[ACCOUNT][region]

    def _snapshots(self, identifier: str, region: str) -> list[Any]:
        return [
            s
            for s in self._rds_backend(region).database_snapshots.values()
            if s.database.db_instance_identifier == identifier
        ]


@pytest.fixture
def world(aws: None) -> World:
    return World()


def env_for(world_topic: str | None = None, **variables: str) -> dict[str, str]:
    """A minimal valid environment for ``load_settings``, plus ``variables``."""
    env = {"BACKUPWATCH_S3_BUCKET": BUCKET, "BACKUPWATCH_REGIONS": REGION, "AWS_REGION": REGION}
    if world_topic:
        env["BACKUPWATCH_SNS_TOPIC_ARN"] = world_topic
    else:
        env["BACKUPWATCH_DRY_RUN"] = "true"
    env.update(variables)
    return env


@dataclass
class RecordingSleep:
    """A ``sleep`` that records the waits instead of waiting."""

    waits: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def retrier(sleep: RecordingSleep) -> Retrier:
    """The production policy, minus the waiting."""
    return Retrier(sleep=sleep)


def client_error_response(
    code: str, status: int = 400, message: str = "injected"
) -> tuple[AWSResponse, dict[str, Any]]:
    """What a ``before-call`` hook returns to make botocore raise ``ClientError(code)``."""
    http = AWSResponse(url="https://injected.invalid", status_code=status, headers={}, raw=None)
    parsed = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return http, parsed


@dataclass
class Faults:
    """Make chosen operations fail, through botocore's ``before-call`` hook on a session.

    ``fail("rds", "DescribeDBSnapshots", "Throttling", times=2)`` throttles the first two calls.
    ``when`` narrows it to calls whose parameters match (e.g. one prefix). ``calls`` counts every
    call per operation, failed or not.
    """

    session: boto3.Session
    calls: dict[str, int] = field(default_factory=dict)

    def fail(
        self,
        service: str,
        operation: str,
        code: str,
        *,
        times: int | None = None,
        status: int = 400,
        when: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        remaining = [times]

        def hook(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
            if when is not None and not when(params):
                return None
            if remaining[0] is not None:
                if remaining[0] <= 0:
                    return None
                remaining[0] -= 1
            return client_error_response(code, status)

        self.session.events.register(f"before-call.{service}.{operation}", hook)

    def count(self, service: str, operation: str) -> None:
        def hook(**_: Any) -> None:
            key = f"{service}:{operation}"
            self.calls[key] = self.calls.get(key, 0) + 1

        # Registered first so it sees calls that a later fault hook answers.
        self.session.events.register_first(f"before-call.{service}.{operation}", hook)


@pytest.fixture
def faults(world: World) -> Faults:
    return Faults(world.session)


@pytest.fixture
def patch_env() -> Iterator[Callable[[dict[str, str]], None]]:
    """Replace BACKUPWATCH-relevant environment variables for one test (handler/CLI tests)."""
    patches: list[Any] = []

    def apply(variables: dict[str, str]) -> None:
        patcher = mock.patch.dict(os.environ, variables)
        patcher.start()
        patches.append(patcher)

    yield apply
    for patcher in reversed(patches):
        patcher.stop()
