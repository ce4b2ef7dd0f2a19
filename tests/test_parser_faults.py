"""Answers botocore cannot parse: what botocore really raises, and that each ends as one ERROR line.

A proxy's plain-text 502, an HTML error page, a 200 whose XML was cut in the middle. On the query
protocol (RDS, SNS, STS) botocore raises ``ResponseParserError``, a plain ``Exception``: the
``except (ClientError, BotoCoreError)`` the ``Retrier`` had let it out as a traceback, with the
whole raw body in its message. On S3 (rest-xml) the same answers are ``ClientError``s coded with
the HTTP status. The table in ``backupwatch/aws/retry.py``'s docstring is checked here, through the
harness's ``before-send`` and over a real socket, and both ways agree.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from backupwatch import AwsCallError, Digest, PublishError, Retrier, Status, render_digest
from backupwatch.aws.clients import rds_client, s3_client, sns_client, sts_client
from backupwatch.aws.publish import publish_digest
from backupwatch.aws.retry import MESSAGE_LIMIT, error_code, is_retryable, is_safe_to_resend

from .conftest import (
    BUCKET,
    HTML_ERROR_PAGE,
    HTML_PAGE,
    OTHER_REGION,
    REGION,
    TRUNCATED,
    UPSTREAM_RESET,
    UPSTREAM_RESET_BODY,
    Fault,
    Faults,
    RecordingSleep,
    World,
    hours_ago,
    prefix_is,
    run_check,
)

TOPIC = "arn:aws:sns:us-east-1:123456789012:backup-digest"

# Answers beside the drill's three, to pin down the rest of botocore's behaviour.
HTML_503 = Fault(
    "503 with a body starting <html>",
    {"*": ("503", 503)},
    bodies={"*": b"<html><body><b>Http/1.1 Service Unavailable</b></body></html>"},
)
"""botocore's ``_is_generic_error_response`` case: a ``ClientError`` coded with the status."""
EMPTY_503 = Fault("503 with no body", {"*": ("503", 503)}, bodies={"*": b""})
XHTML_503 = Fault(
    "503 with a well-formed XHTML page",
    {"*": ("Unknown", 503)},
    bodies={
        "*": b"<!DOCTYPE html><html><head><title>503</title></head><body><h1>503</h1></body></html>"
    },
)
"""Parses as XML, so no parser error: a ``ClientError`` without an error code."""
PROXY_403 = Fault(
    "403 HTML page from a proxy",
    {"*": ("ResponseParserError", 403), "s3": ("403", 403)},
    bodies={"*": HTML_ERROR_PAGE},
)
"""A ``ResponseParserError`` does not say its status: on the query protocol it is retried."""
RAW_FAULTS = [UPSTREAM_RESET, TRUNCATED, HTML_PAGE, HTML_503, EMPTY_503, XHTML_503, PROXY_403]
DRILL_RAW_FAULTS = [UPSTREAM_RESET, TRUNCATED, HTML_PAGE]

Call = Callable[[boto3.Session], Callable[[], object]]
CALLS: dict[str, Call] = {
    "rds:DescribeDBInstances": lambda s: rds_client(s, REGION).describe_db_instances,
    "rds:DescribeDBSnapshots": lambda s: (
        lambda: rds_client(s, REGION).describe_db_snapshots(SnapshotType="automated")
    ),
    "sns:Publish": lambda s: lambda: sns_client(s, REGION).publish(TopicArn=TOPIC, Message="m"),
    "sts:GetCallerIdentity": lambda s: sts_client(s, REGION).get_caller_identity,
    "s3:ListObjectsV2": lambda s: (
        lambda: s3_client(s, REGION).list_objects_v2(Bucket=BUCKET, Prefix="acme-backups/")
    ),
}
QUERY_CALLS = [key for key in CALLS if not key.startswith("s3:")]


def _split(key: str) -> tuple[str, str]:
    service, operation = key.split(":")
    return service, operation


def _raised(call: Callable[[], object]) -> Exception:
    try:
        call()
    except Exception as error:
        return error
    raise AssertionError("the call did not fail")


def _no_sleep(_: float) -> None:
    """No test waits."""


# --- what botocore raises ---------------------------------------------------------------------


@pytest.mark.parametrize("key", list(CALLS))
@pytest.mark.parametrize("fault", RAW_FAULTS, ids=[f.label for f in RAW_FAULTS])
def test_what_botocore_raises(aws: None, fault: Fault, key: str) -> None:
    """Each raw answer, parsed by botocore: the exception, its code, whether it is retried, and
    the code of the ``AwsCallError`` it ends as (``Fault.code``). Never safe to resend."""
    service, operation = _split(key)
    session = boto3.Session(region_name=REGION)
    Faults(session).inject(service, operation, fault)
    raised = _raised(CALLS[key](session))
    expected = fault.code(service)
    if expected == "ResponseParserError":
        assert type(raised) is ResponseParserError
    else:
        assert isinstance(raised, ClientError)
    assert error_code(raised) == expected
    retried = not (service == "s3" and fault is PROXY_403)  # ClientError "403": a 4xx
    assert is_retryable(raised) is retried
    assert is_safe_to_resend(raised) is False

    sleep = RecordingSleep()
    with pytest.raises(AwsCallError) as caught:
        Retrier(sleep=sleep).call(key, CALLS[key](session))
    assert (caught.value.code, caught.value.attempts) == (expected, 5 if retried else 1)
    assert len(sleep.waits) == caught.value.attempts - 1


@pytest.mark.parametrize("key", QUERY_CALLS)
@pytest.mark.parametrize("fault", DRILL_RAW_FAULTS, ids=[f.label for f in DRILL_RAW_FAULTS])
def test_the_old_except_clause_lets_a_parser_error_escape(
    aws: None, fault: Fault, key: str
) -> None:
    """The careless variant: ``except (ClientError, BotoCoreError)``, the clause the Retrier had,
    does not catch a parser error, because it is neither. The broadened catch is required."""
    service, operation = _split(key)
    session = boto3.Session(region_name=REGION)
    Faults(session).inject(service, operation, fault)
    raised = _raised(CALLS[key](session))
    assert isinstance(raised, ResponseParserError)
    assert not isinstance(raised, BotoCoreError | ClientError)

    def old_call() -> object:
        try:
            return CALLS[key](session)()
        except (ClientError, BotoCoreError) as error:
            raise AwsCallError(key, error_code(error), str(error), 1) from error

    with pytest.raises(ResponseParserError):
        old_call()
    with pytest.raises(AwsCallError) as caught:
        Retrier(attempts=1).call(key, CALLS[key](session))
    assert isinstance(caught.value.__cause__, ResponseParserError)


@pytest.mark.parametrize("key", QUERY_CALLS)
@pytest.mark.parametrize("fault", DRILL_RAW_FAULTS, ids=[f.label for f in DRILL_RAW_FAULTS])
def test_the_message_is_one_short_line_without_the_body(aws: None, fault: Fault, key: str) -> None:
    """botocore's message holds the whole raw body after its first line; AwsCallError keeps
    only that first line: no HTML, no proxy text, within MESSAGE_LIMIT."""
    service, operation = _split(key)
    session = boto3.Session(region_name=REGION)
    Faults(session).inject(service, operation, fault)
    # botocore formats the body as bytes, so its repr follows the first line
    assert repr(fault.body(service, operation)) in str(_raised(CALLS[key](session)))
    with pytest.raises(AwsCallError) as caught:
        Retrier(attempts=1).call(key, CALLS[key](session))
    message = caught.value.message
    assert message.startswith("Unable to parse response (")
    assert "\n" not in str(caught.value)
    assert len(message) <= MESSAGE_LIMIT
    for fragment in ("<", "DOCTYPE", "nginx", "upstream connect", "b'"):
        assert fragment not in message


# --- the harness against a real socket ---------------------------------------------------------


@dataclass
class _Answer:
    status: int
    body: bytes
    announced: int | None = None
    """The Content-Length sent, if not the body's own (a body cut short on the wire)."""


class _RawHttp(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    answer = _Answer(500, b"")


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        length = 0
        while (line := self.rfile.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        self.rfile.read(length)
        answer = self.server.answer  # type: ignore[attr-defined]
        announced = len(answer.body) if answer.announced is None else answer.announced
        head = f"HTTP/1.1 {answer.status} X\r\nContent-Length: {announced}\r\nConnection: close"
        self.wfile.write(f"{head}\r\n\r\n".encode() + answer.body)
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_WR)


@pytest.fixture(scope="module")
def raw_http() -> Iterator[_RawHttp]:
    """A server on 127.0.0.1 that answers every request with ``server.answer``, byte for byte."""
    with _RawHttp(("127.0.0.1", 0), _Handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield server
        server.shutdown()


def _describe(error: Exception) -> tuple[str, str]:
    return type(error).__name__, error_code(error)


SOCKET_CALLS = ["rds:DescribeDBInstances", "sns:Publish", "s3:ListObjectsV2"]


@pytest.mark.parametrize("key", SOCKET_CALLS)
@pytest.mark.parametrize("fault", [*DRILL_RAW_FAULTS, HTML_503, XHTML_503], ids=lambda f: f.label)
def test_the_harness_answers_as_a_socket_would(
    fake_env: None,
    monkeypatch: pytest.MonkeyPatch,
    raw_http: _RawHttp,
    fault: Fault,
    key: str,
) -> None:
    """The same status and body from a real socket give the same exception and code as the
    harness's ``before-send`` answer: the drill's raw faults are what botocore really sees."""
    service, operation = _split(key)
    injected = boto3.Session(region_name=REGION)
    Faults(injected).inject(service, operation, fault)
    raw_http.answer = _Answer(fault.status(service), fault.body(service, operation))
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{raw_http.server_address[1]}")
    over_the_wire = _raised(CALLS[key](boto3.Session(region_name=REGION)))
    assert _describe(over_the_wire) == _describe(_raised(CALLS[key](injected)))
    assert error_code(over_the_wire) == fault.code(service)


@pytest.mark.parametrize("key", SOCKET_CALLS)
def test_a_body_short_of_its_content_length_reads_as_truncated(
    fake_env: None, monkeypatch: pytest.MonkeyPatch, raw_http: _RawHttp, key: str
) -> None:
    """botocore does not enforce Content-Length: a connection closed 100 bytes early is read as
    a body cut short, the TRUNCATED fault, not as a network error."""
    service, operation = _split(key)
    cut = TRUNCATED.body(service, operation)
    raw_http.answer = _Answer(200, cut, announced=len(cut) + 100)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{raw_http.server_address[1]}")
    raised = _raised(CALLS[key](boto3.Session(region_name=REGION)))
    assert error_code(raised) == TRUNCATED.code(service)


# --- a whole run ------------------------------------------------------------------------------


def test_a_run_full_of_unparseable_answers_logs_no_traceback(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Discovery of one region answered by an HTML page, the other region's snapshot listing by
    a proxy's 502, a folder by a body cut short: ERROR lines naming each operation, no traceback
    in the log, no HTML in the digest."""
    world.bucket()
    for name, region in (("acme", REGION), ("globex", REGION), ("wayne", OTHER_REGION)):
        world.instance(f"db-{name}", tenant=name, region=region)
        world.put(f"{name}-backups/{name}.dump", hours_ago(2))
    faults = Faults(world.session)
    faults.inject("rds", "DescribeDBInstances", HTML_PAGE, region=OTHER_REGION)
    faults.inject("rds", "DescribeDBSnapshots", UPSTREAM_RESET, region=REGION)
    faults.inject("s3", "ListObjectsV2", TRUNCATED, when=prefix_is("globex-backups/"))
    with caplog.at_level(logging.DEBUG, logger="backupwatch"):
        report = run_check(
            world,
            Retrier(sleep=RecordingSleep()),
            BACKUPWATCH_REGIONS=f"{REGION},{OTHER_REGION}",
            BACKUPWATCH_RDS_REQUESTS_PER_SECOND="100",
            BACKUPWATCH_RDS_BURST="300",
        )
    assert [e.reason for e in report.region_errors] == [
        "discovery failed: ResponseParserError on rds:DescribeDBInstances (after 5 attempts)"
    ]
    rows = {row.tenant: row for row in report.tenants}
    assert sorted(rows) == ["acme", "globex"]
    for row in rows.values():
        assert row.status is Status.ERROR
        assert row.reason.startswith(
            "rds: could not list snapshots: "
            "ResponseParserError on rds:DescribeDBSnapshots (after 5 attempts)"
        )
    assert rows["globex"].reason.endswith(
        f"s3: could not list s3://{BUCKET}/globex-backups/: 500 on s3:ListBucket (after 5 attempts)"
    )
    backupwatch_records = [r for r in caplog.records if r.name == "backupwatch"]
    assert [r for r in backupwatch_records if r.exc_info] == []
    logged = "\n".join(r.getMessage() for r in backupwatch_records)
    assert "retrying rds:DescribeDBSnapshots after attempt 1: ResponseParserError" in logged
    body = render_digest(report).body
    for text in (logged, body):
        assert "DOCTYPE" not in text
        assert UPSTREAM_RESET_BODY.decode() not in text
        assert "Traceback" not in text


# --- sns:Publish: a parser error may follow an accepted message -------------------------------

DIGEST = Digest(subject="backupwatch: 1 tenant, all OK", body="acme OK", failing=0)


def _cut_publish_answers(session: boto3.Session, times: int) -> list[int]:
    """Let ``sns:Publish`` reach moto (the message is delivered), then cut moto's real answer
    in half before botocore parses it, ``times`` times: SNS took the message, the client cannot
    tell. Returns the list of cut body lengths."""
    cuts: list[int] = []

    def cut(response_dict: dict[str, Any], **_: Any) -> None:
        if len(cuts) < times:
            cuts.append(len(response_dict["body"]))
            response_dict["body"] = response_dict["body"][: cuts[-1] // 2]

    session.events.register("before-parse.sns.Publish", cut)
    return cuts


def test_a_publish_whose_answer_was_cut_is_not_resent(world: World) -> None:
    """The message arrived, its answer did not parse: PublishError, one send, one message."""
    topic = world.topic()
    faults = Faults(world.session)
    cuts = _cut_publish_answers(world.session, times=1)
    sns = sns_client(world.session, REGION)
    with pytest.raises(PublishError, match=r"ResponseParserError on sns:Publish$"):
        publish_digest(sns, topic, DIGEST, retrier=Retrier(sleep=_no_sleep), run_key="k")
    assert len(cuts) == 1
    assert faults.attempts("sns", "Publish") == 1
    assert len(world.published(topic)) == 1


def test_the_read_policy_would_deliver_the_digest_twice(world: World) -> None:
    """Why sns:Publish has its own policy: retried like a read, the same cut answer is followed
    by a second send, and the subscriber gets the digest twice."""
    topic = world.topic()
    _cut_publish_answers(world.session, times=1)
    sns = sns_client(world.session, REGION)
    Retrier(sleep=_no_sleep).call(
        "sns:Publish",
        lambda: sns.publish(TopicArn=topic, Subject=DIGEST.subject, Message=DIGEST.body),
        retryable=is_retryable,
    )
    assert [p["message"] for p in world.published(topic)] == [DIGEST.body, DIGEST.body]


def test_a_raw_fault_cannot_be_answered_before_the_send(aws: None) -> None:
    """A raw answer only means something to botocore's parser: ``via="call"`` is refused."""
    session = boto3.Session(region_name=REGION)
    Faults(session).inject("sts", "GetCallerIdentity", TRUNCATED, via="call")
    with pytest.raises(ValueError, match="via='send'"):
        sts_client(session, REGION).get_caller_identity()


def test_the_truncated_fault_keeps_only_the_start_of_a_real_answer() -> None:
    """Each cut body is the start of the document its call returns, and not a whole one."""
    for key in CALLS:
        service, operation = _split(key)
        body = TRUNCATED.body(service, operation)
        root = "ListBucketResult" if service == "s3" else f"{operation}Response"
        assert f"<{root} xmlns=".encode() in body
        assert f"</{root}>".encode() not in body
