"""The retry policy: what is retried, how often, how long; one layer (tenacity) owns retries.

In-process moto through the shared fixtures, or plain fakes. No test sleeps: every retrier
records its waits in ``RecordingSleep``.
"""

from __future__ import annotations

import io
import types
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import boto3
import pytest
import tenacity
import urllib3.exceptions
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    ParamValidationError,
    ProxyConnectionError,
    ReadTimeoutError,
    ResponseStreamingError,
    SSLError,
)
from botocore.parsers import QueryParser, ResponseParserError
from botocore.response import StreamingBody

from backupwatch import (
    AwsCallError,
    Check,
    Digest,
    PublishError,
    Retrier,
    Status,
    check_tenants,
    load_settings,
)
from backupwatch.aws.clients import client_config, rds_client, s3_client, sns_client, sts_client
from backupwatch.aws.pagination import pages
from backupwatch.aws.publish import publish_digest
from backupwatch.aws.retry import MESSAGE_LIMIT, is_retryable, is_safe_to_resend
from backupwatch.aws.s3_evidence import newest_objects

from .conftest import (
    BUCKET,
    NOW,
    OTHER_REGION,
    REGION,
    Faults,
    RecordingSleep,
    World,
    env_for,
    hours_ago,
)

THROTTLING_CODES = [
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "Throttled",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "SlowDown",
]
FINAL_CODES = [
    ("AccessDenied", 403),
    ("NoSuchBucket", 404),
    ("DBInstanceNotFound", 404),
    ("ValidationError", 400),
]
NETWORK_ERRORS = [
    EndpointConnectionError,
    ConnectionClosedError,
    ReadTimeoutError,
    ConnectTimeoutError,
]
URL = "https://rds.us-east-1.amazonaws.com/"
PROXY_PAGE = (
    b"<!DOCTYPE html>\n<html><head><meta charset='utf-8'></head><body>502<hr></body></html>"
)


def parser_error(body: bytes = PROXY_PAGE, status: int = 502) -> ResponseParserError:
    """The ResponseParserError botocore's query parser raises for ``body``, made by that parser."""
    try:
        QueryParser().parse({"body": body, "status_code": status, "headers": {}}, None)
    except ResponseParserError as error:
        return error
    raise AssertionError("the body parsed")


UNREADABLE_ANSWERS = [
    pytest.param(parser_error(), id="ResponseParserError"),
    pytest.param(IncompleteReadError(actual_bytes=5, expected_bytes=10), id="IncompleteReadError"),
    pytest.param(HTTPClientError(error=ValueError("boom")), id="HTTPClientError"),
    pytest.param(ResponseStreamingError(error=ValueError("reset")), id="ResponseStreamingError"),
    pytest.param(urllib3.exceptions.ProtocolError("Connection broken"), id="urllib3.ProtocolError"),
    pytest.param(urllib3.exceptions.SSLError("bad record mac"), id="urllib3.SSLError"),
]
"""An answer that came but could not be read whole: retried like a 5xx, never safe to resend."""
NOT_RETRIED_BOTOCORE = [
    pytest.param(NoCredentialsError(), id="NoCredentialsError"),
    pytest.param(ParamValidationError(report="Bucket is missing"), id="ParamValidationError"),
    pytest.param(SSLError(endpoint_url=URL, error=ValueError("cert")), id="SSLError"),
    pytest.param(
        ProxyConnectionError(proxy_url="http://proxy:3128", error="refused"),
        id="ProxyConnectionError",
    ),
]
"""botocore errors that asking again will not mend; they still end as AwsCallError."""
RDS_THROTTLE_BODY = (
    b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
    b"<Message>Rate exceeded</Message></Error><RequestId>x</RequestId></ErrorResponse>"
)


def client_error(code: str, status: int = 400, operation: str = "Op") -> ClientError:
    """A botocore ``ClientError`` as botocore builds it from a parsed error response."""
    return ClientError(
        {
            "Error": {"Code": code, "Message": f"{code} message"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


class Flaky:
    """Raises ``errors`` in turn (the last one for good if ``forever``), then succeeds."""

    def __init__(self, errors: Sequence[BaseException], *, forever: bool = False) -> None:
        self.errors = errors
        self.forever = forever
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= len(self.errors):
            raise self.errors[self.calls - 1]
        if self.forever:
            raise self.errors[-1]
        return "done"


class _Raw:
    """The ``raw`` of an ``AWSResponse``: just a body to stream."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def throttle_sends(
    session: boto3.Session, event: str, sends: list[str], *, times: int | None = None
) -> None:
    """Answer the first ``times`` (all if None) sends of ``event`` with an RDS ``Throttling`` error.

    A ``before-send`` answer goes through botocore's parser and its retry handler, as a real
    throttled response would; registered first so it precedes moto's in-process stub.
    """

    def hook(request: Any, **_: Any) -> AWSResponse | None:
        sends.append(request.url)
        if times is not None and len(sends) > times:
            return None
        return AWSResponse(request.url, 400, {}, _Raw(RDS_THROTTLE_BODY))

    session.events.register_first(f"before-send.{event}", hook)


# --- is_retryable -----------------------------------------------------------------------------


@pytest.mark.parametrize("code", THROTTLING_CODES)
def test_throttling_codes_are_retryable(code: str) -> None:
    """Every throttling code AWS services use is retried."""
    assert is_retryable(client_error(code))


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_http_statuses_are_retryable(status: int) -> None:
    """HTTP 429 and 5xx are retried whatever the error code."""
    assert is_retryable(client_error("SomethingUnexpected", status))


@pytest.mark.parametrize(("code", "status"), FINAL_CODES)
def test_final_errors_are_not_retryable(code: str, status: int) -> None:
    """Denied, missing or invalid requests are not retried: asking again changes nothing."""
    assert not is_retryable(client_error(code, status))


@pytest.mark.parametrize("error_class", NETWORK_ERRORS)
def test_network_errors_are_retryable(error_class: type[Exception]) -> None:
    """Refused, closed and timed-out connections are retried."""
    assert is_retryable(error_class(endpoint_url="https://rds.us-east-1.amazonaws.com/"))


@pytest.mark.parametrize("error", UNREADABLE_ANSWERS)
def test_unreadable_answers_are_retryable(error: Exception) -> None:
    """A body botocore could not parse, a streamed body cut short, a broken send."""
    assert is_retryable(error)


@pytest.mark.parametrize("error", NOT_RETRIED_BOTOCORE)
def test_set_up_errors_are_not_retryable(error: Exception) -> None:
    """No credentials, invalid parameters, a certificate or proxy problem: asked once."""
    assert not is_retryable(error)


def test_a_generic_5xx_client_error_is_retryable() -> None:
    """A 5xx with an ``<html>`` or empty body is coded "503" by botocore: retried by status;
    one whose body parsed as XHTML has no code at all, and is retried by status too."""
    assert is_retryable(client_error("503", 503))
    assert is_retryable(ClientError({"ResponseMetadata": {"HTTPStatusCode": 503}}, "Op"))


def test_other_exceptions_are_not_retryable() -> None:
    """A programming error is never retried."""
    assert not is_retryable(ValueError("bug"))


# --- Retrier.call -----------------------------------------------------------------------------


@pytest.mark.parametrize("throttles", [0, 1, 2, 4])
def test_succeeds_after_throttles(throttles: int, sleep: RecordingSleep) -> None:
    """N throttles then success: exactly N+1 attempts and N recorded waits."""
    fn = Flaky([client_error("Throttling")] * throttles)
    assert Retrier(attempts=5, sleep=sleep).call("rds:DescribeDBSnapshots", fn) == "done"
    assert fn.calls == throttles + 1
    assert len(sleep.waits) == throttles


@pytest.mark.parametrize("attempts", [1, 2, 5])
def test_gives_up_after_attempts(attempts: int, sleep: RecordingSleep) -> None:
    """Retries run out: AwsCallError carries the code, operation and attempt count."""
    fn = Flaky([client_error("Throttling")], forever=True)
    with pytest.raises(AwsCallError) as caught:
        Retrier(attempts=attempts, sleep=sleep).call("rds:DescribeDBSnapshots", fn)
    assert (caught.value.code, caught.value.operation) == ("Throttling", "rds:DescribeDBSnapshots")
    assert caught.value.attempts == attempts == fn.calls
    assert len(sleep.waits) == attempts - 1
    assert isinstance(caught.value.__cause__, ClientError)


@pytest.mark.parametrize(("code", "status"), FINAL_CODES)
def test_final_error_raises_at_once(code: str, status: int, sleep: RecordingSleep) -> None:
    """A non-retryable error: AwsCallError after one attempt, no wait."""
    fn = Flaky([client_error(code, status)], forever=True)
    with pytest.raises(AwsCallError) as caught:
        Retrier(attempts=5, sleep=sleep).call("s3:ListBucket", fn)
    assert (caught.value.code, caught.value.attempts, fn.calls) == (code, 1, 1)
    assert "after" not in caught.value.short
    assert sleep.waits == []


@pytest.mark.parametrize("error_class", NETWORK_ERRORS)
def test_network_error_exhausted_is_named_by_class(
    error_class: type[Exception], sleep: RecordingSleep
) -> None:
    """A network error that persists becomes AwsCallError coded with the exception class name."""
    fn = Flaky([error_class(endpoint_url="https://s3.amazonaws.com/")], forever=True)
    with pytest.raises(AwsCallError) as caught:
        Retrier(attempts=3, sleep=sleep).call("s3:ListBucket", fn)
    assert (caught.value.code, caught.value.attempts) == (error_class.__name__, 3)


# --- answers botocore cannot read -------------------------------------------------------------


@pytest.mark.parametrize("error", UNREADABLE_ANSWERS)
def test_unreadable_answer_retried_then_recovers(error: Exception, sleep: RecordingSleep) -> None:
    """Once, then a whole answer: two attempts, one wait."""
    fn = Flaky([error])
    assert Retrier(sleep=sleep).call("rds:DescribeDBInstances", fn) == "done"
    assert (fn.calls, len(sleep.waits)) == (2, 1)


@pytest.mark.parametrize("error", UNREADABLE_ANSWERS)
def test_unreadable_answer_exhausted_is_aws_call_error(
    error: Exception, sleep: RecordingSleep
) -> None:
    """For good: AwsCallError coded with the class name after every attempt, a one-line message
    that never holds the body."""
    fn = Flaky([error], forever=True)
    with pytest.raises(AwsCallError) as caught:
        Retrier(sleep=sleep).call("rds:DescribeDBInstances", fn)
    assert (caught.value.code, caught.value.attempts) == (type(error).__name__, 5)
    assert caught.value.__cause__ is error
    assert "\n" not in str(caught.value)
    assert "DOCTYPE" not in str(caught.value)


@pytest.mark.parametrize("error", NOT_RETRIED_BOTOCORE)
def test_set_up_error_is_aws_call_error_at_once(error: Exception, sleep: RecordingSleep) -> None:
    """Not retried, and still an AwsCallError (an ERROR row), never a traceback."""
    fn = Flaky([error], forever=True)
    with pytest.raises(AwsCallError) as caught:
        Retrier(sleep=sleep).call("s3:ListBucket", fn)
    assert (caught.value.code, caught.value.attempts, fn.calls) == (type(error).__name__, 1, 1)
    assert sleep.waits == []


def test_parser_error_message_is_its_first_line(sleep: RecordingSleep) -> None:
    """botocore's message is a line about the XML, then the raw body: only the line is kept."""
    error = parser_error()
    assert "DOCTYPE" in str(error)
    with pytest.raises(AwsCallError) as caught:
        Retrier(attempts=1, sleep=sleep).call("sns:Publish", Flaky([error]))
    assert caught.value.message == (
        "Unable to parse response (mismatched tag: line 2, column 36), invalid XML received. "
        "Further retries may succeed"
    )


def test_a_long_or_multi_line_message_is_one_capped_line(sleep: RecordingSleep) -> None:
    """Whatever an error says, AwsCallError's message is its first line, at most MESSAGE_LIMIT."""
    long = client_error("AccessDenied", 403)
    long.response["Error"]["Message"] = "x" * 500
    several = client_error("AccessDenied", 403)
    several.response["Error"]["Message"] = "\nfirst\nsecond"
    messages = []
    for error in (long, several):
        with pytest.raises(AwsCallError) as caught:
            Retrier(sleep=sleep).call("s3:ListBucket", Flaky([error]))
        messages.append(caught.value.message)
    assert messages == ["x" * (MESSAGE_LIMIT - 1) + "…", "first"]


def test_a_client_error_without_a_code_is_unknown(sleep: RecordingSleep) -> None:
    """A 503 whose body parsed as XHTML has no Error at all: coded Unknown, retried, one line."""
    error = ClientError({"ResponseMetadata": {"HTTPStatusCode": 503}}, "DescribeDBInstances")
    with pytest.raises(AwsCallError) as caught:
        Retrier(sleep=sleep).call("rds:DescribeDBInstances", Flaky([error], forever=True))
    assert (caught.value.code, caught.value.attempts) == ("Unknown", 5)
    assert "\n" not in caught.value.message


def test_a_streamed_body_cut_short_is_read_again(sleep: RecordingSleep) -> None:
    """botocore's StreamingBody (s3:GetObject) raises IncompleteReadError when fewer bytes came
    than Content-Length said: the GET is retried, as a whole."""
    bodies = [b'{"vers', b'{"version": 1}']

    def get_object() -> bytes:
        body = bodies.pop(0)
        whole = len(b'{"version": 1}')
        read: bytes = StreamingBody(io.BytesIO(body), whole).read()
        return read

    assert Retrier(sleep=sleep).call("s3:GetObject", get_object) == b'{"version": 1}'
    assert len(sleep.waits) == 1


def test_on_retry_sees_a_parser_error(sleep: RecordingSleep) -> None:
    """Metrics hear of a parser error like of any other retried error."""
    seen: list[str] = []
    retrier = Retrier(
        sleep=sleep, on_retry=lambda _op, error, _n: seen.append(type(error).__name__)
    )
    assert retrier.call("sts:GetCallerIdentity", Flaky([parser_error()])) == "done"
    assert seen == ["ResponseParserError"]


def test_non_aws_exception_propagates_unchanged(sleep: RecordingSleep) -> None:
    """A bug in the wrapped function is raised as itself, after one attempt."""
    fn = Flaky([KeyError("oops")], forever=True)
    with pytest.raises(KeyError):
        Retrier(sleep=sleep).call("s3:ListBucket", fn)
    assert (fn.calls, sleep.waits) == (1, [])


def test_waits_are_jittered_and_capped() -> None:
    """Full-jitter waits: each within [0, min(initial * 2**k, cap)], and not all equal."""
    initial, cap, attempts = 0.5, 2.0, 8
    all_waits: list[float] = []
    for _ in range(40):
        sleep = RecordingSleep()
        retrier = Retrier(
            attempts=attempts, initial_wait_seconds=initial, max_wait_seconds=cap, sleep=sleep
        )
        with pytest.raises(AwsCallError):
            retrier.call(
                "rds:DescribeDBInstances", Flaky([client_error("Throttling")], forever=True)
            )
        assert len(sleep.waits) == attempts - 1
        for retry, wait in enumerate(sleep.waits):
            assert 0 <= wait <= min(initial * 2**retry, cap)
        all_waits.extend(sleep.waits)
    assert len(set(all_waits)) > len(all_waits) // 2
    assert max(all_waits) > cap / 2  # the cap is reached for, not just respected


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """tenacity's monotonic clock, as a one-element list tests advance by hand."""
    now = [1000.0]
    monkeypatch.setattr(tenacity, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
    return now


def _advancing_sleep(now: list[float], sleep: RecordingSleep) -> Callable[[float], None]:
    def advance(seconds: float) -> None:
        sleep(seconds)
        now[0] += seconds

    return advance


def test_budget_stops_retries_early(fake_clock: list[float], sleep: RecordingSleep) -> None:
    """Attempts of 3 s each against a 10 s budget: the 4th attempt (at 12 s) is the last."""

    def slow_throttled() -> None:
        fake_clock[0] += 3.0
        raise client_error("Throttling")

    retrier = Retrier(
        attempts=100,
        initial_wait_seconds=0.001,
        budget_seconds=10,
        sleep=_advancing_sleep(fake_clock, sleep),
    )
    with pytest.raises(AwsCallError) as caught:
        retrier.call("rds:DescribeDBSnapshots", slow_throttled)
    assert caught.value.attempts == 4
    assert len(sleep.waits) == 3


def test_zero_budget_means_one_attempt(sleep: RecordingSleep) -> None:
    """budget_seconds=0: stop_after_delay ends the call after its first attempt, even a throttle."""
    fn = Flaky([client_error("Throttling")], forever=True)
    with pytest.raises(AwsCallError) as caught:
        Retrier(attempts=5, budget_seconds=0, sleep=sleep).call("sns:Publish", fn)
    assert (caught.value.attempts, fn.calls, sleep.waits) == (1, 1, [])


def test_budget_is_a_cap_on_time_spent(fake_clock: list[float], sleep: RecordingSleep) -> None:
    """No backoff starts that would end past budget_seconds (documented as a cap on a call)."""
    start = fake_clock[0]
    retrier = Retrier(
        attempts=100,
        initial_wait_seconds=8,
        max_wait_seconds=8,
        budget_seconds=10,
        sleep=_advancing_sleep(fake_clock, sleep),
    )
    with pytest.raises(AwsCallError):
        retrier.call("rds:DescribeDBSnapshots", Flaky([client_error("Throttling")], forever=True))
    assert fake_clock[0] - start <= 10


def test_on_retry_sees_each_retry(sleep: RecordingSleep) -> None:
    """on_retry is called once per retry with the operation, the error and the attempt number."""
    errors = [client_error("Throttling"), client_error("SlowDown", 503)]
    seen: list[tuple[str, str, int]] = []

    def on_retry(operation: str, error: BaseException, attempt: int) -> None:
        assert isinstance(error, ClientError)
        seen.append((operation, error.response["Error"]["Code"], attempt))

    retrier = Retrier(sleep=sleep, on_retry=on_retry)
    assert retrier.call("s3:ListBucket", Flaky(errors)) == "done"
    assert seen == [("s3:ListBucket", "Throttling", 1), ("s3:ListBucket", "SlowDown", 2)]


def test_on_retry_not_called_for_final_error(sleep: RecordingSleep) -> None:
    """A non-retryable error is never reported as a retry."""
    seen: list[int] = []
    retrier = Retrier(sleep=sleep, on_retry=lambda _op, _error, n: seen.append(n))
    with pytest.raises(AwsCallError):
        retrier.call("s3:ListBucket", Flaky([client_error("AccessDenied", 403)]))
    assert seen == []


@pytest.mark.parametrize("attempts", [0, -1])
def test_attempts_below_one_rejected(attempts: int) -> None:
    """A retrier that would never call is a configuration error."""
    with pytest.raises(ValueError, match="attempts"):
        Retrier(attempts=attempts)


# --- pagination -------------------------------------------------------------------------------


def test_throttled_page_is_retried_with_its_own_token(sleep: RecordingSleep) -> None:
    """A fake RDS listing: page 2 is throttled twice and retried with the same Marker."""
    requests: list[dict[str, Any]] = []
    failures = [2]

    def describe(**params: Any) -> dict[str, Any]:
        requests.append(params)
        marker = params.get("Marker")
        if marker == "m1" and failures[0] > 0:
            failures[0] -= 1
            raise client_error("Throttling")
        listing: dict[str | None, dict[str, Any]] = {
            None: {"Items": [1], "Marker": "m1"},
            "m1": {"Items": [2], "Marker": "m2"},
            "m2": {"Items": [3]},
        }
        return listing[marker]

    got = [
        item
        for page in pages(
            Retrier(sleep=sleep),
            "rds:Op",
            describe,
            token_in="Marker",
            token_out="Marker",
            MaxRecords=100,
        )
        for item in page["Items"]
    ]
    assert got == [1, 2, 3]
    assert [r.get("Marker") for r in requests] == [None, "m1", "m1", "m1", "m2"]
    assert all(r["MaxRecords"] == 100 for r in requests)
    assert len(sleep.waits) == 2


def test_repeated_page_token_stops_the_listing(sleep: RecordingSleep) -> None:
    """A service that hands back the same token twice cannot loop forever."""

    def describe(**_: Any) -> dict[str, Any]:
        return {"Marker": "same"}

    with pytest.raises(AwsCallError) as caught:
        list(pages(Retrier(sleep=sleep), "rds:Op", describe, token_in="Marker", token_out="Marker"))
    assert caught.value.code == "RepeatedPageToken"


def test_s3_listing_retries_one_page_not_the_listing(
    world: World, faults: Faults, retrier: Retrier, sleep: RecordingSleep
) -> None:
    """2,100 keys, freshest on page 3; page 2 throttled twice: 3 pages + 2 retries, newest found."""
    world.bucket()
    keys = [f"db1-backups/{i:05d}.dump" for i in range(2100)]
    world.put_many(keys, hours_ago(100))
    world.put_many([keys[2050]], hours_ago(1))
    faults.count("s3", "ListObjectsV2")
    faults.fail(
        "s3",
        "ListObjectsV2",
        "SlowDown",
        times=2,
        status=503,
        when=lambda params: "continuation-token" in params["query_string"],
    )
    evidence = newest_objects(
        s3_client(world.session, REGION),
        retrier,
        bucket=BUCKET,
        prefix="db1-backups/",
        min_object_bytes=1,
    )
    assert evidence.objects_seen == 2100
    assert evidence.newest is not None
    assert evidence.newest.key == keys[2050]
    assert evidence.newest.last_modified == hours_ago(1)
    assert faults.calls["s3:ListObjectsV2"] == 3 + 2
    assert len(sleep.waits) == 2


# --- clients: botocore makes one attempt, the Retrier owns the rest ---------------------------


def test_client_config_turns_botocore_retries_off() -> None:
    """client_config() asks botocore for exactly one attempt per call."""
    assert client_config().retries == {"total_max_attempts": 1, "mode": "standard"}


@pytest.mark.parametrize("build", [rds_client, s3_client, sns_client, sts_client])
def test_every_client_has_retries_off(fake_env: None, build: Callable[..., Any]) -> None:
    """Every client backupwatch builds carries the one-attempt config."""
    client = build(boto3.Session(), REGION)
    assert client.meta.config.retries["total_max_attempts"] == 1


def test_botocore_sends_a_throttled_call_once(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A throttled response: a backupwatch client sends once, a 3-attempt client 3 times."""
    backoffs: list[float] = []
    monkeypatch.setattr("botocore.endpoint.time", types.SimpleNamespace(sleep=backoffs.append))
    session = boto3.Session(region_name=REGION)
    sends: list[str] = []
    throttle_sends(session, "rds.DescribeDBInstances", sends)

    with pytest.raises(ClientError, match="Throttling"):
        rds_client(session, REGION).describe_db_instances()
    assert (len(sends), backoffs) == (1, [])

    # The control: the injected response really goes through botocore's retry handler.
    sends.clear()
    retrying = session.client(
        "rds", config=Config(retries={"total_max_attempts": 3, "mode": "standard"})
    )
    with pytest.raises(ClientError, match="Throttling"):
        retrying.describe_db_instances()
    assert (len(sends), len(backoffs)) == (3, 2)


@pytest.mark.parametrize("attempts", [1, 3, 5])
def test_retrier_attempts_are_the_sends(aws: None, attempts: int, sleep: RecordingSleep) -> None:
    """Throttled forever: HTTP sends == Retrier attempts (no botocore multiplication)."""
    session = boto3.Session(region_name=REGION)
    sends: list[str] = []
    throttle_sends(session, "rds.DescribeDBInstances", sends)
    rds = rds_client(session, REGION)
    with pytest.raises(AwsCallError) as caught:
        Retrier(attempts=attempts, sleep=sleep).call(
            "rds:DescribeDBInstances", rds.describe_db_instances
        )
    assert caught.value.code == "Throttling"
    assert caught.value.attempts == len(sends) == attempts
    assert len(sleep.waits) == attempts - 1


def test_retrier_recovers_from_throttled_sends(aws: None, sleep: RecordingSleep) -> None:
    """Two throttled sends, then moto answers: 3 sends, 2 waits, the real result."""
    session = boto3.Session(region_name=REGION)
    sends: list[str] = []
    throttle_sends(session, "rds.DescribeDBInstances", sends, times=2)
    rds = rds_client(session, REGION)
    page = Retrier(sleep=sleep).call("rds:DescribeDBInstances", rds.describe_db_instances)
    assert page["DBInstances"] == []
    assert (len(sends), len(sleep.waits)) == (3, 2)


# --- a whole run: RDS throttled or denied -----------------------------------------------------


def _three_tenants(world: World) -> None:
    world.bucket()
    for name in ("acme", "globex", "initech"):
        world.instance(f"db-{name}", tenant=name)
        world.put(f"{name}-backups/{name}.dump", hours_ago(2))


def test_one_throttled_snapshot_page_is_absorbed(
    world: World, faults: Faults, retrier: Retrier, sleep: RecordingSleep
) -> None:
    """DescribeDBSnapshots throttled once mid-run: every tenant OK, one wait, two calls."""
    _three_tenants(world)
    faults.count("rds", "DescribeDBSnapshots")
    faults.fail("rds", "DescribeDBSnapshots", "Throttling", times=1)
    report = check_tenants(
        load_settings(env_for()), session=world.session, clock=lambda: NOW, retrier=retrier
    )
    assert [row.status for row in report.tenants] == [Status.OK] * 3
    assert not report.failing
    assert faults.calls["rds:DescribeDBSnapshots"] == 2
    assert len(sleep.waits) == 1


def test_snapshots_throttled_forever_is_error_per_tenant(
    world: World, faults: Faults, retrier: Retrier
) -> None:
    """Throttled for good: every rds check ERROR naming Throttling; the s3 check still runs."""
    _three_tenants(world)
    faults.count("rds", "DescribeDBSnapshots")
    faults.fail("rds", "DescribeDBSnapshots", "Throttling")
    report = check_tenants(
        load_settings(env_for()), session=world.session, clock=lambda: NOW, retrier=retrier
    )
    assert len(report.tenants) == 3
    for row in report.tenants:
        assert row.status is Status.ERROR
        assert row.checks[Check.RDS].status is Status.ERROR
        assert "Throttling" in row.checks[Check.RDS].reason
        assert f"after {retrier.attempts} attempts" in row.checks[Check.RDS].reason
        assert row.checks[Check.S3].status is Status.OK
    assert faults.calls["rds:DescribeDBSnapshots"] == retrier.attempts  # one listing per region
    assert report.failing


def test_denied_region_is_a_region_error(
    world: World, faults: Faults, retrier: Retrier, sleep: RecordingSleep
) -> None:
    """AccessDenied listing instances in one of two regions: region error, other region checked."""
    world.bucket()
    world.instance("db-acme", tenant="acme")
    world.put("acme-backups/acme.dump", hours_ago(2))
    world.instance("db-wayne", tenant="wayne", region=OTHER_REGION)
    faults.count("rds", "DescribeDBInstances")
    faults.fail(
        "rds",
        "DescribeDBInstances",
        "AccessDenied",
        status=403,
        when=lambda params: f"rds.{OTHER_REGION}." in params["url"],
    )
    settings = load_settings(env_for(BACKUPWATCH_REGIONS=f"{REGION},{OTHER_REGION}"))
    report = check_tenants(settings, session=world.session, clock=lambda: NOW, retrier=retrier)
    assert [e.region for e in report.region_errors] == [OTHER_REGION]
    assert "AccessDenied" in report.region_errors[0].reason
    assert [(row.tenant, row.region, row.status) for row in report.tenants] == [
        ("acme", REGION, Status.OK)
    ]
    assert report.failing
    assert faults.calls["rds:DescribeDBInstances"] == 2  # one per region; the denial not retried
    assert sleep.waits == []


# --- SNS publish ------------------------------------------------------------------------------

DIGEST = Digest(subject="backupwatch: 1 tenant, all OK", body="acme OK", failing=0)


def test_publish_retries_throttled(
    world: World, faults: Faults, retrier: Retrier, sleep: RecordingSleep
) -> None:
    """SNS Throttled (never retried by botocore) is retried by the Retrier: one message lands."""
    topic = world.topic()
    faults.count("sns", "Publish")
    faults.fail("sns", "Publish", "Throttled", times=2)
    message_id = publish_digest(
        sns_client(world.session, REGION), topic, DIGEST, retrier=retrier, run_key="2026-11-27"
    )
    published = world.published(topic)
    assert [(p["message_id"], p["subject"]) for p in published] == [(message_id, DIGEST.subject)]
    assert faults.calls["sns:Publish"] == 3
    assert len(sleep.waits) == 2


def test_publish_throttled_forever_raises(world: World, faults: Faults, retrier: Retrier) -> None:
    """Persistent throttling: PublishError after every attempt, nothing published."""
    topic = world.topic()
    faults.count("sns", "Publish")
    faults.fail("sns", "Publish", "Throttled")
    with pytest.raises(PublishError, match="Throttled"):
        publish_digest(
            sns_client(world.session, REGION), topic, DIGEST, retrier=retrier, run_key="k"
        )
    assert world.published(topic) == []
    assert faults.calls["sns:Publish"] == retrier.attempts


@pytest.mark.parametrize(
    ("error", "safe"),
    [
        (client_error("Throttled"), True),
        (client_error("Throttling"), True),
        (EndpointConnectionError(endpoint_url="https://sns.invalid"), True),
        (ConnectTimeoutError(endpoint_url="https://sns.invalid"), True),
        (ReadTimeoutError(endpoint_url="https://sns.invalid"), False),
        (ConnectionClosedError(endpoint_url="https://sns.invalid"), False),
        (client_error("InternalError", status=500), False),
        (client_error("503", status=503), False),
        (client_error("AuthorizationError", status=403), False),
    ],
)
def test_publish_is_resent_only_when_it_surely_did_not_land(error: Exception, safe: bool) -> None:
    """A read timeout may follow an accepted publish: resending could double the digest."""
    assert is_safe_to_resend(error) is safe


@pytest.mark.parametrize("error", UNREADABLE_ANSWERS)
def test_publish_is_never_resent_after_an_unreadable_answer(error: Exception) -> None:
    """Retried for a read, never for a publish: the answer came, so the request arrived (a 200
    cut in the middle is an accepted message)."""
    assert is_retryable(error)
    assert not is_safe_to_resend(error)


@pytest.mark.parametrize("error", UNREADABLE_ANSWERS)
def test_publish_after_an_unreadable_answer_is_one_send(
    error: Exception, sleep: RecordingSleep
) -> None:
    """Through the Retrier with the publish policy: one attempt, AwsCallError."""
    fn = Flaky([error])
    with pytest.raises(AwsCallError) as caught:
        Retrier(sleep=sleep).call("sns:Publish", fn, retryable=is_safe_to_resend)
    assert (caught.value.code, fn.calls, sleep.waits) == (type(error).__name__, 1, [])
