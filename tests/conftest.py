"""Shared fixtures: an in-memory AWS (moto), a world builder, fault injection, a fixed clock.

No test reaches the network or a real account: ``aws`` sets fake credentials and
``mock_aws``; retries never sleep (``retrier`` records the waits instead).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from unittest import mock

import boto3
import botocore.loaders
import botocore.session
import hypothesis
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import (
    ConnectionClosedError,
    EndpointConnectionError,
    HTTPClientError,
    ReadTimeoutError,
)
from moto import mock_aws
from moto.server import ThreadedMotoServer

from backupwatch import Report, Retrier, check_tenants, load_settings

# CI runs the property tests on a fixed seed: a red CI must mean a change broke something,
# never that this run drew a new example. Locally they explore (and keep what they found in
# .hypothesis/), which is where new counterexamples come from.
hypothesis.settings.register_profile("ci", derandomize=True, print_blob=True)
# `pytest --hypothesis-profile=noshrink --hypothesis-seed=N`: a counterexample's failure at
# once, without the minutes shrinking can take on a whole-run property.
hypothesis.settings.register_profile(
    "noshrink",
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.reuse, hypothesis.Phase.generate],
    print_blob=True,
)
if os.environ.get("CI"):
    hypothesis.settings.load_profile("ci")

ACCOUNT = "123456789012"
REGION = "us-east-1"
OTHER_REGION = "eu-west-1"
BUCKET = "my-backups-bucket"
TENANT_TAG = "backupwatch:tenant"
MEMBER_ROLE = "backupwatch-reader"
NOW = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "MOTO_ALLOW_NONEXISTENT_REGION": "false",
    # moto builds an EC2 backend for every RDS region, and loading its thousands of AMIs took
    # ~0.3 s per region and reset; backupwatch never looks at an AMI.
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
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


def use_fake_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials, and none of the developer's BACKUPWATCH_* or seed variables.

    A function, not only a fixture, so that class- or module-scoped fixtures (one moto world
    shared by many read-only scenarios) can use it with their own ``MonkeyPatch``.
    """
    for name in list(os.environ):
        if name.startswith(("BACKUPWATCH_", "AWS_", "DB_INSTANCE_IDENTIFIER_", "S3_FOLDER_")):
            monkeypatch.delenv(name)
        if name in ("SNS_TOPIC_ARN", "S3_BUCKET_NAME"):
            monkeypatch.delenv(name)
    for name, value in FAKE_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def fake_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials, and none of the developer's BACKUPWATCH_* or seed variables."""
    use_fake_env(monkeypatch)


@pytest.fixture
def aws(fake_env: None) -> Iterator[None]:
    """moto's in-memory AWS for the test's duration."""
    with mock_aws():
        yield


@dataclass
class World:
    """Builds tenants, snapshots, objects and topics in moto, at chosen times."""

    session: boto3.Session = field(default_factory=lambda: boto3.Session(region_name=REGION))
    account: str = ACCOUNT
    """The account the world's resources live in (moto keys its backends by account)."""
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)

    @classmethod
    def in_account(cls, account: str, role: str = MEMBER_ROLE) -> World:
        """A world in another account: moto's ``assume_role`` hands out credentials whose
        resources live in the role's account (never set ``MOTO_ACCOUNT_ID`` for this)."""
        sts = boto3.client("sts", region_name=REGION)
        credentials = sts.assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName="world-builder"
        )["Credentials"]
        session = boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=REGION,
        )
        return cls(session=session, account=account)

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
        created_at: datetime | None = None,
    ) -> str:
        """Create a DB instance. ``tenant=None`` leaves the tenant tag off entirely.

        moto takes one automated snapshot at creation; ``snapshot_at`` moves it (default: 1 h
        before NOW, i.e. fresh). ``created_at`` is the instance's creation time (default: 90
        days before NOW, an established tenant; a recent one would be ``PENDING``).
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
        database = self._rds_backend(region).databases[identifier]
        database.created = database.instance_create_time = _naive_utc(
            created_at or NOW - timedelta(days=90)
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

        backend = s3_backends[self.account]["aws"]
        for key in keys:
            backend.put_object(bucket, key, b"\0" * size)
            backend.buckets[bucket].keys[key].last_modified = _naive_utc(at)

    def set_object_time(self, key: str, at: datetime, *, bucket: str = BUCKET) -> None:
        from moto.s3.models import s3_backends

        s3_backends[self.account]["aws"].buckets[bucket].keys[key].last_modified = _naive_utc(at)

    def topic(self, name: str = "backup-digest") -> str:
        arn: str = self.client("sns").create_topic(Name=name)["TopicArn"]
        return arn

    def published(self, topic_arn: str) -> list[dict[str, Any]]:
        """Everything published to ``topic_arn``: subject, message, attributes."""
        from moto.sns.models import sns_backends

        region = topic_arn.split(":")[3]
        topic = sns_backends[self.account][region].topics[topic_arn]
        return [
            {
                "message_id": n[0],
                "message": as_email(n[1]),
                "protocols": protocols_of(n[1]),
                "raw": n[1],
                "subject": n[2],
                "attributes": n[3],
            }
            for n in topic.sent_notifications
        ]

    def _rds_backend(self, region: str) -> Any:
        from moto.rds.models import rds_backends

        return rds_backends[self.account][region]

    def _snapshots(self, identifier: str, region: str) -> list[Any]:
        return [
            s
            for s in self._rds_backend(region).database_snapshots.values()
            if s.database.db_instance_identifier == identifier
        ]


def protocols_of(message: str) -> dict[str, str] | None:
    """A ``MessageStructure=json`` message's strings by protocol; None for a plain one (moto
    keeps what was published, not what each subscriber got)."""
    try:
        parsed = json.loads(message)
    except ValueError:
        return None
    if isinstance(parsed, dict) and "default" in parsed and "email" in parsed:
        return {str(k): str(v) for k, v in parsed.items()}
    return None


def as_email(message: str) -> str:
    """What an email subscriber reads of a published message (its ``email`` string)."""
    protocols = protocols_of(message)
    return protocols["email"] if protocols is not None else message


@pytest.fixture
def world(aws: None) -> World:
    return World()


def run_check(world: World, retrier: Retrier, **variables: str) -> Report:
    """``check_tenants`` on the world at NOW, with ``env_for(**variables)`` as the settings."""
    return check_tenants(
        load_settings(env_for(**variables)),
        session=world.session,
        clock=lambda: NOW,
        retrier=retrier,
    )


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


# --- fault injection ----------------------------------------------------------------------------

_QUERY_ERROR = (  # rds, sns, sts speak the query protocol
    "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>"
    "</Error><RequestId>injected</RequestId></ErrorResponse>"
)
_REST_XML_ERROR = (  # s3
    '<?xml version="1.0" encoding="UTF-8"?>'
    "<Error><Code>{code}</Code><Message>{message}</Message><RequestId>injected</RequestId></Error>"
)
_PARAMS = "faults.api_params"
_ORIGINAL_URL = "faults.original_url"
_NOWHERE = "https://fault-injected.invalid/"
"""Where a faulted send is pointed: in-process moto ignores a URL outside amazonaws.com."""


class _Body:
    """The ``raw`` of an ``AWSResponse``: a body botocore can stream and parse."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


@dataclass(frozen=True)
class Fault:
    """One way an AWS call fails, as the client sees it: an error response, a network error, or
    an answer that is no AWS document at all (a proxy's page, a body cut short).

    ``codes`` maps a service (``"*"`` for any other) to the error code the ``AwsCallError`` will
    carry and the HTTP status of the answer, since the same fault has a different code per
    service (throttling is ``Throttling`` on RDS, ``SlowDown`` 503 on S3, ``Throttled`` on SNS).
    ``error`` is the botocore exception raised instead, for faults where no response comes back
    at all. ``bodies`` makes a raw fault: the body is sent as it is, with the status from
    ``codes``, and botocore's own parser decides what it becomes; the code in ``codes`` is what
    it really becomes (``tests/test_parser_faults.py`` checks each one against botocore).
    ``bodies`` is keyed ``"service:Operation"``, ``"service"`` or ``"*"``, most specific first.
    """

    label: str
    codes: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    error: type[HTTPClientError] | None = None
    bodies: Mapping[str, bytes] = field(default_factory=dict)

    def code(self, service: str) -> str:
        """The code an ``AwsCallError`` will carry: the class name for a network error."""
        if self.error is not None:
            return self.error.__name__
        return self._code_and_status(service)[0]

    def status(self, service: str) -> int:
        """The HTTP status of the answer (none for a network error: 0)."""
        return 0 if self.error is not None else self._code_and_status(service)[1]

    def _code_and_status(self, service: str) -> tuple[str, int]:
        return self.codes.get(service) or self.codes["*"]

    def body(self, service: str, operation: str = "") -> bytes:
        """The body of the answer: the raw one, else an error document in the service's protocol
        (rest-xml for S3, query for the others)."""
        if self.bodies:
            for key in (f"{service}:{operation}", service, "*"):
                if key in self.bodies:
                    return self.bodies[key]
            raise KeyError(f"fault {self.label!r} has no body for {service}:{operation}")
        code, _ = self._code_and_status(service)
        template = _REST_XML_ERROR if service == "s3" else _QUERY_ERROR
        return template.format(code=code, message=f"injected {self.label}").encode()

    def response(self, service: str, url: str, operation: str = "") -> AWSResponse:
        """The answer to a send: botocore's own parser builds the error from it."""
        return AWSResponse(url, self.status(service), {}, _Body(self.body(service, operation)))

    def parsed(self, service: str) -> tuple[AWSResponse, dict[str, Any]]:
        """The same error as a ``before-call`` answer (no HTTP send at all)."""
        if self.bodies:
            raise ValueError(f"{self.label}: a raw answer must be parsed by botocore (via='send')")
        code, status = self._code_and_status(service)
        return client_error_response(code, status, f"injected {self.label}")

    def exception(self, url: str) -> HTTPClientError:
        assert self.error is not None
        return self.error(endpoint_url=url)


THROTTLED = Fault(
    "throttling", {"*": ("Throttling", 400), "s3": ("SlowDown", 503), "sns": ("Throttled", 400)}
)
DENIED = Fault("access denied", {"*": ("AccessDenied", 403), "sns": ("AuthorizationError", 403)})
SERVER_ERROR = Fault("HTTP 500", {"*": ("InternalFailure", 500), "s3": ("InternalError", 500)})
CONNECTION_RESET = Fault("connection reset", error=ConnectionClosedError)
UNREACHABLE = Fault("endpoint unreachable", error=EndpointConnectionError)
SLOW = Fault("read timeout", error=ReadTimeoutError)
"""A call slower than the client's read timeout: raised at once, nothing really waits."""

# Raw answers. On the query protocol (RDS, SNS, STS) botocore raises ResponseParserError, which
# is not a BotoCoreError; S3's rest-xml parser falls back to the HTTP status as the code instead.
UPSTREAM_RESET_BODY = (
    b"upstream connect error or disconnect/reset before headers. reset reason: connection "
    b"termination"
)
"""What an Envoy proxy (an API gateway, a service mesh) answers when AWS dropped the connection."""
HTML_ERROR_PAGE = (
    b'<!DOCTYPE html>\n<html>\n<head><meta charset="utf-8">'
    b"<title>503 Service Temporarily Unavailable</title></head>\n<body>\n"
    b"<center><h1>503 Service Temporarily Unavailable</h1></center>\n"
    b"<hr><center>nginx</center>\n</body>\n</html>\n"
)
"""A proxy's error page. It starts with ``<!DOCTYPE html>``, not ``<html>``, so botocore's
generic-error check (``_is_generic_error_response``) misses it and the XML parser chokes on it."""
CUT_BODIES = {
    # The first part of what moto really answers for each call, cut in the middle of an element.
    "rds:DescribeDBInstances": (
        b'<DescribeDBInstancesResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">'
        b"<DescribeDBInstancesResult><DBInstances><DBInstance><DBInstanceIdentifier>db-acme"
        b"</DBInstanceIdentifier><DBInstanceClass>db.t4g.micro</DBInstanceClass><Engine>postgres"
        b"</Engine><DBInstanceStatus>avail"
    ),
    "rds:DescribeDBSnapshots": (
        b'<DescribeDBSnapshotsResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">'
        b"<DescribeDBSnapshotsResult><DBSnapshots><DBSnapshot><DBSnapshotIdentifier>"
        b"rds:db-acme-2026-11-27-06-00</DBSnapshotIdentifier><DBInstanceIdentifier>db-acme"
        b"</DBInstanceIdentifier><SnapshotCreateTime>2026-11-27T06:00:"
    ),
    "s3:ListObjectsV2": (
        b'<?xml version="1.0" encoding="utf-8"?>\n'
        b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<IsTruncated>false</IsTruncated><Contents><Key>acme-backups/acme.dump</Key>"
        b"<LastModified>2026-11-27T05:00:00.000Z</LastMod"
    ),
    "sns:Publish": (
        b'<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult>'
        b"<MessageId>71893d05-7f15-45"
    ),
    "sts:GetCallerIdentity": (
        b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        b"<GetCallerIdentityResult><UserId>AKIAIOSFODNN7EXAMPLE</UserId><Acc"
    ),
}
UPSTREAM_RESET = Fault(
    "proxy 502 with a plain-text body",
    {"*": ("ResponseParserError", 502), "s3": ("502", 502)},
    bodies={"*": UPSTREAM_RESET_BODY},
)
TRUNCATED = Fault(
    "200 with its XML cut in the middle",
    # S3's _handle_200_error makes a 200 whose body does not parse a 500 (code "500").
    {"*": ("ResponseParserError", 200), "s3": ("500", 200)},
    bodies=CUT_BODIES,
)
"""The start of a real response, status 200: the body was cut in the middle (a connection
closed early; botocore does not enforce Content-Length). A ``Publish`` cut so was accepted."""
HTML_PAGE = Fault(
    "HTML error page (503)",
    {"*": ("ResponseParserError", 503), "s3": ("503", 503)},
    bodies={"*": HTML_ERROR_PAGE},
)


def prefix_is(prefix: str) -> Callable[[Mapping[str, Any]], bool]:
    """A ``when`` for S3 listings of exactly one tenant's folder."""
    return lambda params: params.get("Prefix") == prefix


@dataclass
class Injection:
    """One fault wired to one operation; ``matched``/``fired`` are read after the run."""

    service: str
    operation: str
    fault: Fault
    times: int | None
    """How many matching attempts fail; None: every one (a fault that never clears)."""
    via: Literal["send", "call"]
    when: Callable[[Mapping[str, Any]], bool] | None = None
    """Sees the API parameters (``Bucket``, ``Prefix``, ``Marker``...)."""
    region: str | None = None
    when_request: Callable[[dict[str, Any]], bool] | None = field(default=None, repr=False)
    """The legacy ``Faults.fail`` predicate: sees botocore's request dict (url, query string)."""
    matched: int = 0
    """Attempts of the operation that matched ``when`` and ``region``."""
    fired: int = 0
    """Attempts this fault made fail."""

    def _applies(self, call: _Attempt) -> bool:
        if (call.service, call.operation, call.via) != (self.service, self.operation, self.via):
            return False
        if self.region is not None and call.region != self.region:
            return False
        if self.when is not None and not self.when(call.params):
            return False
        return self.when_request is None or self.when_request(call.request)


@dataclass(frozen=True)
class _Attempt:
    service: str
    operation: str
    via: Literal["send", "call"]
    region: str | None
    params: Mapping[str, Any]
    request: dict[str, Any]


@dataclass
class Faults:
    """Make chosen AWS operations fail, and count every attempt, on one boto3 session.

    Two layers, because they prove different things:

    - ``via="send"`` (``inject``'s default) answers botocore's ``before-send``: the fault is an
      HTTP error response with a protocol-correct body, or a network exception, so botocore's
      parser and its retry handler see it exactly as they would see AWS (and botocore's
      ``total_max_attempts=1`` is really tested). Each such attempt is one HTTP send.
    - ``via="call"`` (and the older ``fail``) answers ``before-call``: the ``ClientError`` is
      made without any send. Enough when only backupwatch's own retry policy is under test.

    A faulted send never reaches the service: over HTTP it is not sent; in-process its URL is
    pointed away from moto for the rest of the ``before-send`` handlers (botocore calls them
    all), so a throttled ``sns:Publish`` is not also delivered.

    ``sends`` counts HTTP attempts and ``api_calls`` API calls, per ``"service:Operation"``, for
    every client built from the session after the ``Faults``; ``calls`` keeps the older contract
    (only operations passed to ``count``). Hooks run on the S3 thread pool's threads, so every
    counter is updated under one lock.
    """

    session: boto3.Session
    calls: dict[str, int] = field(default_factory=dict)
    sends: dict[str, int] = field(default_factory=dict)
    api_calls: dict[str, int] = field(default_factory=dict)
    injections: list[Injection] = field(default_factory=list)
    _counted: set[str] = field(default_factory=set, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        events = self.session.events
        events.register("before-parameter-build", self._remember_params)
        # First in their node, so they see (and count) attempts before moto answers them. The
        # wildcard node runs after service-specific handlers such as the RDS rate limit's.
        events.register_first("before-call", self._on_call)
        events.register_first("before-send", self._on_send)
        events.register_last("before-send", self._restore_url)

    def inject(
        self,
        service: str,
        operation: str,
        fault: Fault,
        *,
        times: int | None = None,
        when: Callable[[Mapping[str, Any]], bool] | None = None,
        region: str | None = None,
        via: Literal["send", "call"] = "send",
    ) -> Injection:
        """Make ``service``'s ``operation`` fail with ``fault``: ``times`` times, or for good.

        ``when`` narrows it to calls whose API parameters match (``prefix_is("b-backups/")``);
        ``region`` to one client region. Returns the injection, whose counters say how many
        attempts matched and failed.
        """
        injection = Injection(service, operation, fault, times, via, when=when, region=region)
        with self._lock:
            self.injections.append(injection)
        return injection

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
        """``fail("rds", "DescribeDBSnapshots", "Throttling", times=2)``: a ``ClientError``
        without a send. ``when`` sees botocore's request dict (``url``, ``query_string``)."""
        fault = Fault(code, {"*": (code, status)})
        injection = Injection(service, operation, fault, times, "call", when_request=when)
        with self._lock:
            self.injections.append(injection)

    def count(self, service: str, operation: str) -> None:
        """Count ``operation``'s API calls in ``calls`` (faulted ones included)."""
        with self._lock:
            self._counted.add(f"{service}:{operation}")

    def attempts(self, service: str, operation: str) -> int:
        """HTTP attempts of ``operation`` so far (faulted sends included)."""
        with self._lock:
            return self.sends.get(f"{service}:{operation}", 0)

    def _remember_params(
        self, params: Mapping[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        context[_PARAMS] = dict(params)

    def _due(self, attempt: _Attempt) -> Fault | None:
        """The fault this attempt gets, if any; counts it. Called under the lock."""
        for injection in self.injections:
            if not injection._applies(attempt):
                continue
            injection.matched += 1
            if injection.times is not None and injection.fired >= injection.times:
                continue
            injection.fired += 1
            return injection.fault
        return None

    def _on_call(
        self, event_name: str, params: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> tuple[AWSResponse, dict[str, Any]] | None:
        service, operation = event_name.split(".")[1:3]
        attempt = _Attempt(
            service,
            operation,
            "call",
            context.get("client_region"),
            context.get(_PARAMS, {}),
            params,
        )
        key = f"{service}:{operation}"
        with self._lock:
            self.api_calls[key] = self.api_calls.get(key, 0) + 1
            if key in self._counted:
                self.calls[key] = self.calls.get(key, 0) + 1
            fault = self._due(attempt)
        if fault is None:
            return None
        if fault.error is not None:
            raise fault.exception(str(params.get("url", _NOWHERE)))
        return fault.parsed(service)

    def _on_send(self, event_name: str, request: Any, **_: Any) -> AWSResponse | None:
        service, operation = event_name.split(".")[1:3]
        context = request.context
        attempt = _Attempt(
            service, operation, "send", context.get("client_region"), context.get(_PARAMS, {}), {}
        )
        key = f"{service}:{operation}"
        with self._lock:
            self.sends[key] = self.sends.get(key, 0) + 1
            fault = self._due(attempt)
        if fault is None:
            return None
        if fault.error is not None:
            raise fault.exception(request.url)  # later handlers (moto) never see the request
        response = fault.response(service, request.url, operation)
        context[_ORIGINAL_URL] = request.url
        request.url = _NOWHERE
        return response

    def _restore_url(self, request: Any, **_: Any) -> None:
        original = request.context.pop(_ORIGINAL_URL, None)
        if original is not None:
            request.url = original


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


@contextmanager
def running_moto_server() -> Iterator[str]:
    """A moto server on a free local port, for tests where botocore's HTTP path matters.

    Every botocore session meanwhile shares one model loader (handlers build their own
    sessions): parsing the service JSON once, not once per session, halves the runtime.
    """
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    loader = botocore.loaders.create_loader()
    moto_server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", lambda *_args, **_kwargs: loader)
        moto_server.start()
        host, port = moto_server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            moto_server.stop()


def reset_moto_server(url: str) -> None:
    """Empty every backend of the server at ``url``: one server, a clean world per test."""
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.load(response) == {"status": "ok"}
