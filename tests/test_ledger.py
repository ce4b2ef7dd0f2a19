"""The publish ledger on moto S3: a retried or duplicated invocation sends nothing twice.

Every S3 request is counted (a botocore ``after-call`` hook sees its operation and HTTP
status), so the cost per channel the module docstring promises is measured, not assumed.
Races are made deterministic: a hook on one invocation's client runs the other invocation's
claim at the exact moment between the first one's read and its conditional write.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import boto3
import pytest

from backupwatch import Retrier
from backupwatch.aws.clients import s3_client
from backupwatch.aws.ledger import MAX_ROUNDS, Claim, Ledger, LedgerUnavailable, Skip
from backupwatch.core.ledger_state import (
    CHANNEL_SLUG_MAX,
    DETAIL_MAX,
    LedgerRecord,
    Ours,
    Retake,
    channel_slug,
    clean_detail,
    decide,
    finished,
    first_claim,
    ledger_key,
    scope_id,
)

from .conftest import NOW, REGION, client_error_response

BUCKET = "backupwatch-reports"
PREFIX = "backupwatch/"
DAY = date(2026, 11, 27)
SCOPE = "eu-west-1,us-east-1"
LEASE = 120.0
CHANNELS = (
    "sns",
    "slack",
    "teams",
    "email",
    "owner-topic.team-data",
    "owner-email.alice@example.com",
)


class Clock:
    """The invocations' shared wall clock, moved by hand."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class S3Calls:
    """Every request a client makes, as ``(operation, HTTP status)``, and the headers of its
    PutObject requests (what actually went on the wire)."""

    def __init__(self, s3: Any) -> None:
        self.calls: list[tuple[str, int]] = []
        self.put_headers: list[dict[str, str]] = []
        s3.meta.events.register("after-call.s3", self._after)
        s3.meta.events.register("before-send.s3.PutObject", self._before_send)

    def _after(self, model: Any, http_response: Any, **_: Any) -> None:
        self.calls.append((model.name, http_response.status_code))

    def _before_send(self, request: Any, **_: Any) -> None:
        self.put_headers.append(
            {k: v.decode() if isinstance(v, bytes) else str(v) for k, v in request.headers.items()}
        )

    @property
    def counts(self) -> Counter[str]:
        """``PutObject 200``, ``PutObject 412``, ``GetObject 200``..."""
        return Counter(f"{name} {status}" for name, status in self.calls)

    def reset(self) -> None:
        self.calls.clear()
        self.put_headers.clear()


@pytest.fixture
def session(aws: None) -> boto3.Session:
    return boto3.Session(region_name=REGION)


@pytest.fixture
def s3(session: boto3.Session) -> Any:
    client = s3_client(session, REGION)
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def new_ledger(
    session: boto3.Session, s3: Any, retrier: Retrier, clock: Clock
) -> Callable[..., Ledger]:
    """An invocation on the shared clock. Clients are slow to make: invocations share the
    test's, and a test that hooks into one invocation's calls gives it a client of its own."""

    def make(
        *,
        owner: str | None = None,
        run_date: date = DAY,
        scope: str = SCOPE,
        client: Any = None,
        lease_seconds: float = LEASE,
        bucket: str = BUCKET,
    ) -> Ledger:
        return Ledger(
            client if client is not None else s3,
            retrier,
            bucket=bucket,
            prefix=PREFIX,
            run_date=run_date,
            scope=scope,
            clock=clock,
            lease_seconds=lease_seconds,
            owner=owner,
        )

    return make


def claimed(result: Claim | Skip) -> Claim:
    assert isinstance(result, Claim), result
    return result


def skipped(result: Claim | Skip) -> Skip:
    assert isinstance(result, Skip), result
    return result


def stored(s3: Any, channel: str, *, run_date: date = DAY, scope: str = SCOPE) -> LedgerRecord:
    key = ledger_key(PREFIX, run_date, scope, channel)
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return LedgerRecord.model_validate_json(body)


# --- the happy path and its cost ----------------------------------------------------------------


def test_a_first_run_claims_and_records_each_channel_with_two_puts(
    session: boto3.Session, s3: Any, new_ledger: Callable[..., Ledger]
) -> None:
    client = s3_client(session, REGION)
    calls = S3Calls(client)
    ledger = new_ledger(client=client, owner="first")

    for channel in CHANNELS:
        claim = claimed(ledger.claim(channel))
        assert claim.note == "first claim"
        assert claim.record.state == "sending"
        assert claim.record.attempt == 1
        assert ledger.sent(claim, f"msg-{channel}") is True

    assert calls.counts == {"PutObject 200": 2 * len(CHANNELS)}
    records = ledger.entries()
    assert set(records) == set(CHANNELS)
    assert {r.state for r in records.values()} == {"sent"}
    assert records["sns"].detail == "msg-sns"
    assert records["sns"].owner == "first"


def test_a_retried_invocation_sends_nothing_and_pays_one_put_and_one_get_per_channel(
    session: boto3.Session, new_ledger: Callable[..., Ledger]
) -> None:
    first = new_ledger()
    for channel in CHANNELS:
        first.sent(claimed(first.claim(channel)), f"msg-{channel}")

    client = s3_client(session, REGION)
    calls = S3Calls(client)
    retried = new_ledger(client=client)
    for channel in CHANNELS:
        skip = skipped(retried.claim(channel))
        assert skip.sent is True
        assert skip.reason == f"already sent msg-{channel}"

    assert calls.counts == {"PutObject 412": len(CHANNELS), "GetObject 200": len(CHANNELS)}


def test_a_failed_channel_alone_is_claimed_again_by_the_retry(
    session: boto3.Session, s3: Any, new_ledger: Callable[..., Ledger]
) -> None:
    first = new_ledger(owner="first")
    first.sent(claimed(first.claim("sns")), "msg-1")
    assert first.failed(claimed(first.claim("slack")), "Slack said 500") is True
    assert stored(s3, "slack").state == "failed"

    client = s3_client(session, REGION)
    calls = S3Calls(client)
    retry = new_ledger(client=client, owner="retry")
    assert skipped(retry.claim("sns")).sent is True
    calls.reset()

    claim = claimed(retry.claim("slack"))
    assert claim.record.attempt == 2
    assert claim.record.owner == "retry"
    assert claim.note == "retry: attempt 1 failed: Slack said 500"
    assert retry.sent(claim, "ok") is True

    # resuming after a failure: PUT (412), GET, PUT (If-Match), PUT (sent)
    assert calls.calls == [
        ("PutObject", 412),
        ("GetObject", 200),
        ("PutObject", 200),
        ("PutObject", 200),
    ]
    record = stored(s3, "slack")
    assert (record.state, record.attempt, record.detail) == ("sent", 2, "ok")


# --- leases -------------------------------------------------------------------------------------


def test_a_live_lease_is_skipped_and_a_lapsed_one_taken_over(
    s3: Any,
    clock: Clock,
    new_ledger: Callable[..., Ledger],
    caplog: pytest.LogCaptureFixture,
) -> None:
    dead = new_ledger(owner="dead")
    lost = claimed(dead.claim("sns"))  # ...and the invocation times out before sending

    clock.advance(LEASE - 1)
    skip = skipped(new_ledger(owner="early").claim("sns"))
    assert skip.sent is False
    assert skip.reason.startswith("in flight in another invocation (attempt 1")

    clock.advance(1)
    late = new_ledger(owner="late")
    claim = claimed(late.claim("sns"))
    assert claim.record.attempt == 2
    assert claim.note.startswith("take-over: attempt 1")

    # the claimant was only slow: its sent() is refused, and says the message may be doubled
    with caplog.at_level(logging.ERROR, logger="backupwatch"):
        assert dead.sent(lost, "msg-dead") is False
    assert "may go out twice" in caplog.text
    assert stored(s3, "sns").owner == "late"
    assert stored(s3, "sns").state == "sending"

    assert late.sent(claim, "msg-late") is True
    assert stored(s3, "sns").detail == "msg-late"


def test_a_failure_reported_after_a_take_over_changes_nothing(
    s3: Any, clock: Clock, new_ledger: Callable[..., Ledger], caplog: pytest.LogCaptureFixture
) -> None:
    slow = new_ledger(owner="slow")
    old = claimed(slow.claim("sns"))
    clock.advance(LEASE)
    fresh = claimed(new_ledger(owner="fresh").claim("sns"))

    with caplog.at_level(logging.WARNING, logger="backupwatch"):
        assert slow.failed(old, "boom") is False
    assert "now holds attempt 2 (sending) of another invocation" in caplog.text
    assert stored(s3, "sns") == fresh.record


# --- races --------------------------------------------------------------------------------------


def run_before_put(client: Any, action: Callable[[], None], *, when: str) -> None:
    """Run ``action`` once, just before ``client``'s first PutObject carrying ``when``
    (``IfNoneMatch`` or ``IfMatch``): another invocation acting inside this one's window."""
    done = False

    def hook(params: dict[str, Any], **_: Any) -> None:
        nonlocal done
        if when in params and not done:
            done = True
            action()

    client.meta.events.register("provide-client-params.s3.PutObject", hook)


def test_two_invocations_racing_for_a_new_channel_exactly_one_wins(
    session: boto3.Session, s3: Any, new_ledger: Callable[..., Ledger]
) -> None:
    client_a = s3_client(session, REGION)
    a = new_ledger(client=client_a, owner="a")
    b = new_ledger(owner="b")
    results: dict[str, Claim | Skip] = {}
    run_before_put(client_a, lambda: results.setdefault("b", b.claim("sns")), when="IfNoneMatch")

    results["a"] = a.claim("sns")

    assert claimed(results["b"]).record.owner == "b"
    assert skipped(results["a"]).sent is False
    assert stored(s3, "sns").owner == "b"


def test_two_invocations_racing_to_retry_a_failed_channel_exactly_one_wins(
    session: boto3.Session, s3: Any, new_ledger: Callable[..., Ledger]
) -> None:
    first = new_ledger(owner="first")
    first.failed(claimed(first.claim("sns")), "throttled")
    client_a = s3_client(session, REGION)
    calls = S3Calls(client_a)
    a = new_ledger(client=client_a, owner="a")
    b = new_ledger(owner="b")
    results: dict[str, Claim | Skip] = {}
    # both read "failed"; b writes its claim between a's read and a's If-Match write
    run_before_put(client_a, lambda: results.setdefault("b", b.claim("sns")), when="IfMatch")

    results["a"] = a.claim("sns")

    assert claimed(results["b"]).record.attempt == 2
    assert skipped(results["a"]).sent is False
    assert stored(s3, "sns").owner == "b"
    assert calls.calls == [
        ("PutObject", 412),  # If-None-Match: the record exists
        ("GetObject", 200),  # failed: take it
        ("PutObject", 412),  # If-Match: b got there first
        ("GetObject", 200),  # b's claim, within its lease
    ]


def test_a_record_that_keeps_changing_is_given_up_as_in_flight(
    session: boto3.Session, s3: Any, clock: Clock, new_ledger: Callable[..., Ledger]
) -> None:
    first = new_ledger(owner="first")
    first.failed(claimed(first.claim("sns")), "boom")
    client_a = s3_client(session, REGION)
    key = first.key("sns")
    writes = 0

    def meddle(params: dict[str, Any], **_: Any) -> None:
        """Before each of a's If-Match writes, another failed attempt lands."""
        nonlocal writes
        if "IfMatch" in params:
            writes += 1
            record = stored(s3, "sns").model_copy(update={"attempt": 10 + writes})
            s3.put_object(Bucket=BUCKET, Key=key, Body=record.model_dump_json().encode())

    client_a.meta.events.register("provide-client-params.s3.PutObject", meddle)
    skip = skipped(new_ledger(client=client_a, owner="a").claim("sns"))

    assert skip.sent is False
    assert f"changed {MAX_ROUNDS} times" in skip.reason
    assert writes == MAX_ROUNDS - 1  # the first round's write is If-None-Match


def test_a_conflict_409_is_a_lost_race_not_an_outage(
    session: boto3.Session, s3: Any, new_ledger: Callable[..., Ledger]
) -> None:
    client = s3_client(session, REGION)
    calls = S3Calls(client)
    injected = False

    def conflict(**_: Any) -> Any:
        nonlocal injected
        if injected:
            return None
        injected = True
        return client_error_response("ConditionalRequestConflict", 409)

    client.meta.events.register("before-call.s3.PutObject", conflict)
    claim = claimed(new_ledger(client=client, owner="a").claim("sns"))

    assert claim.note == "first claim (again)"
    assert calls.calls == [("PutObject", 409), ("GetObject", 404), ("PutObject", 200)]
    assert stored(s3, "sns").owner == "a"


def test_a_record_deleted_before_the_retake_is_claimed_afresh(
    session: boto3.Session, s3: Any, new_ledger: Callable[..., Ledger]
) -> None:
    first = new_ledger(owner="first")
    first.failed(claimed(first.claim("sns")), "boom")
    client = s3_client(session, REGION)
    key = first.key("sns")
    run_before_put(client, lambda: s3.delete_object(Bucket=BUCKET, Key=key), when="IfMatch")

    claim = claimed(new_ledger(client=client, owner="a").claim("sns"))

    assert claim.record.attempt == 1  # If-Match on a missing key: 404; then If-None-Match
    assert stored(s3, "sns").owner == "a"


def test_its_own_write_whose_answer_was_lost_is_still_its_claim(
    session: boto3.Session, s3: Any, retrier: Retrier, new_ledger: Callable[..., Ledger]
) -> None:
    """S3 stored the claim, the 200 was lost (a 500 instead), the Retrier asked again and met
    the claim's own object: that is this invocation's claim, not another's "in flight"."""
    client = s3_client(session, REGION)
    calls = S3Calls(client)
    params_seen: list[dict[str, Any]] = []
    client.meta.events.register(
        "provide-client-params.s3.PutObject", lambda params, **_: params_seen.append(params)
    )

    def land_then_fail(**_: Any) -> Any:
        if len(params_seen) != 1:
            return None
        s3.put_object(**params_seen[0])  # the write lands...
        return client_error_response("InternalError", 500)  # ...the answer does not

    client.meta.events.register("before-call.s3.PutObject", land_then_fail)
    ledger = new_ledger(client=client, owner="me")

    claim = claimed(ledger.claim("sns"))
    assert claim.record.owner == "me"
    assert calls.calls == [("PutObject", 500), ("PutObject", 412), ("GetObject", 200)]
    assert ledger.sent(claim, "msg") is True  # the ETag it kept is the stored one
    assert stored(s3, "sns").state == "sent"
    assert skipped(new_ledger(owner="dup").claim("sns")).sent is True


# --- the conditional write is what does it ------------------------------------------------------


class Careless:
    """An S3 client that drops the conditions: what a ledger without them would do."""

    def __init__(self, s3: Any) -> None:
        self._s3 = s3

    def put_object(self, **params: Any) -> Any:
        params.pop("IfNoneMatch", None)
        params.pop("IfMatch", None)
        return self._s3.put_object(**params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)


def test_without_the_conditional_write_both_racers_would_win(
    session: boto3.Session, new_ledger: Callable[..., Ledger]
) -> None:
    careless_a = Careless(s3_client(session, REGION))
    careless_b = Careless(s3_client(session, REGION))
    assert isinstance(new_ledger(client=careless_a, owner="a").claim("sns"), Claim)
    assert isinstance(new_ledger(client=careless_b, owner="b").claim("sns"), Claim)  # twice!

    careful = new_ledger(client=s3_client(session, REGION), owner="c")
    assert isinstance(careful.claim("slack"), Claim)
    assert isinstance(new_ledger(owner="d").claim("slack"), Skip)


def test_every_write_carries_its_condition_on_the_wire(
    session: boto3.Session, new_ledger: Callable[..., Ledger]
) -> None:
    first = new_ledger()
    first.failed(claimed(first.claim("sns")), "boom")
    client = s3_client(session, REGION)
    calls = S3Calls(client)
    ledger = new_ledger(client=client)

    claim = claimed(ledger.claim("sns"))
    ledger.sent(claim, "msg")

    assert calls.put_headers[0].get("If-None-Match") == "*"
    assert "If-Match" not in calls.put_headers[0]
    read_etag = calls.put_headers[1].get("If-Match")  # the retake replaces the failed record
    assert read_etag is not None
    assert "If-None-Match" not in calls.put_headers[1]
    assert calls.put_headers[2].get("If-Match") == claim.etag != read_etag


# --- S3 trouble ---------------------------------------------------------------------------------


def test_a_missing_bucket_makes_the_ledger_unavailable(
    session: boto3.Session, new_ledger: Callable[..., Ledger]
) -> None:
    client = s3_client(session, REGION)
    calls = S3Calls(client)
    ledger = new_ledger(client=client, bucket="no-such-ledger-bucket")

    with pytest.raises(LedgerUnavailable) as raised:
        ledger.claim("sns")

    assert raised.value.channel == "sns"
    assert "NoSuchBucket on s3:PutObject" in str(raised.value)
    assert "s3://no-such-ledger-bucket/backupwatch/ledger/2026-11-27/" in str(raised.value)
    assert calls.calls == [("PutObject", 404)]  # not retried


@pytest.mark.parametrize("operation", ["PutObject", "GetObject"])
def test_access_denied_on_claim_makes_the_ledger_unavailable(
    session: boto3.Session, new_ledger: Callable[..., Ledger], operation: str
) -> None:
    new_ledger().sent(claimed(new_ledger().claim("sns")), "msg")  # so a GET follows the 412
    client = s3_client(session, REGION)
    client.meta.events.register(
        f"before-call.s3.{operation}", lambda **_: client_error_response("AccessDenied", 403)
    )

    with pytest.raises(LedgerUnavailable, match=f"AccessDenied on s3:{operation}"):
        new_ledger(client=client).claim("sns")


def test_throttling_is_retried_then_the_ledger_is_unavailable(
    session: boto3.Session, new_ledger: Callable[..., Ledger], retrier: Retrier
) -> None:
    client = s3_client(session, REGION)
    calls = S3Calls(client)
    client.meta.events.register(
        "before-call.s3.PutObject", lambda **_: client_error_response("SlowDown", 503)
    )

    with pytest.raises(LedgerUnavailable, match=r"SlowDown on s3:PutObject \(after 5 attempts\)"):
        new_ledger(client=client).claim("sns")
    assert len(calls.calls) == retrier.attempts


def test_a_record_this_version_cannot_read_makes_the_ledger_unavailable(
    s3: Any, new_ledger: Callable[..., Ledger]
) -> None:
    ledger = new_ledger()
    s3.put_object(Bucket=BUCKET, Key=ledger.key("sns"), Body=b'{"version": 2, "state": "new"}')

    with pytest.raises(LedgerUnavailable, match="not one this version can read"):
        ledger.claim("sns")


def test_a_record_of_another_channel_under_the_key_is_not_trusted(
    s3: Any, new_ledger: Callable[..., Ledger]
) -> None:
    ledger = new_ledger()
    other = first_claim(
        "slack", run_date=DAY, scope=SCOPE, owner="x", now=NOW, lease_seconds=LEASE
    ).model_copy(update={"state": "sent"})
    s3.put_object(Bucket=BUCKET, Key=ledger.key("sns"), Body=other.model_dump_json().encode())

    with pytest.raises(LedgerUnavailable, match="belongs to channel 'slack'"):
        ledger.claim("sns")


@pytest.mark.parametrize("outcome", ["sent", "failed"])
@pytest.mark.parametrize(
    ("code", "status"), [("AccessDenied", 403), ("SlowDown", 503), ("NoSuchBucket", 404)]
)
def test_recording_an_outcome_never_raises(
    session: boto3.Session,
    s3: Any,
    new_ledger: Callable[..., Ledger],
    caplog: pytest.LogCaptureFixture,
    outcome: str,
    code: str,
    status: int,
) -> None:
    client = s3_client(session, REGION)
    ledger = new_ledger(client=client)
    claim = claimed(ledger.claim("sns"))
    client.meta.events.register(
        "before-call.s3.PutObject", lambda **_: client_error_response(code, status)
    )

    with caplog.at_level(logging.ERROR, logger="backupwatch"):
        recorded = ledger.sent(claim, "msg") if outcome == "sent" else ledger.failed(claim, "x")

    assert recorded is False
    assert f"{code} on s3:PutObject" in caplog.text
    assert stored(s3, "sns").state == "sending"  # the lease ends it, as after a crash


def test_a_conflict_while_recording_is_written_again(
    session: boto3.Session, s3: Any, new_ledger: Callable[..., Ledger]
) -> None:
    client = s3_client(session, REGION)
    ledger = new_ledger(client=client)
    claim = claimed(ledger.claim("sns"))
    calls = S3Calls(client)
    injected = False

    def conflict(**_: Any) -> Any:
        nonlocal injected
        if injected:
            return None
        injected = True
        return client_error_response("ConditionalRequestConflict", 409)

    client.meta.events.register("before-call.s3.PutObject", conflict)

    assert ledger.sent(claim, "msg") is True
    assert calls.calls == [("PutObject", 409), ("GetObject", 200), ("PutObject", 200)]
    assert stored(s3, "sns").state == "sent"


# --- runs, keys, records ------------------------------------------------------------------------


def test_another_day_or_scope_is_another_delivery(
    s3: Any, new_ledger: Callable[..., Ledger]
) -> None:
    ledger = new_ledger()
    ledger.sent(claimed(ledger.claim("sns")), "msg")

    tomorrow = new_ledger(run_date=DAY + timedelta(days=1))
    elsewhere = new_ledger(scope="eu-west-1")
    assert isinstance(tomorrow.claim("sns"), Claim)
    assert isinstance(elsewhere.claim("sns"), Claim)
    assert len({ledger.key("sns"), tomorrow.key("sns"), elsewhere.key("sns")}) == 3
    assert skipped(new_ledger().claim("sns")).sent is True


def test_the_key_layout(new_ledger: Callable[..., Ledger]) -> None:
    ledger = new_ledger()
    sid = scope_id(SCOPE)
    assert len(sid) == 16
    assert int(sid, 16) >= 0
    assert sid == scope_id("eu-west-1,us-east-1") != scope_id("us-east-1,eu-west-1")
    assert ledger.key("sns") == f"backupwatch/ledger/2026-11-27/{sid}/sns.json"
    assert ledger.folder == f"backupwatch/ledger/2026-11-27/{sid}/"
    key = ledger.key("owner-email.alice@example.com")
    assert key.startswith(f"backupwatch/ledger/2026-11-27/{sid}/owner-email.alice_at_example.com-")


@pytest.mark.parametrize(
    "channel", ["sns", "slack", "teams", "email", "owner-topic.team-data", "a_b.c-d"]
)
def test_a_safe_channel_name_is_its_own_slug(channel: str) -> None:
    assert channel_slug(channel) == channel


def test_any_other_channel_name_is_made_safe_and_kept_distinct() -> None:
    names = [
        "owner-email.alice@example.com",
        "owner-email.alice_at_example.com-x",
        "a/b",
        "a:b",
        "a b",
        "a_b",
        "tëam",
        "x" * 200,
        "x" * 201,
        "../../etc",
    ]
    slugs = [channel_slug(name) for name in names]
    assert len(set(slugs)) == len(names)
    for slug in slugs:
        assert len(slug) <= CHANNEL_SLUG_MAX
        assert all(c.isascii() and (c.isalnum() or c in "._-") for c in slug), slug
    assert channel_slug("a/b").startswith("a_b-")
    with pytest.raises(ValueError, match="needs a name"):
        channel_slug("")


def test_details_are_one_line_without_secret_urls() -> None:
    slack = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"
    assert clean_detail(f"POST {slack} failed:\n  500") == (
        "POST https://hooks.slack.com/… failed: 500"
    )
    requests_error = (
        "HTTPSConnectionPool(host='hooks.slack.com', port=443): Max retries exceeded with "
        "url: /services/T000/B000/XXXXXXXX (Caused by NewConnectionError)"
    )
    assert "XXXXXXXX" not in (clean_detail(requests_error) or "")
    assert "T000" not in (clean_detail(requests_error) or "")
    assert len(clean_detail("e" * 5000) or "") == DETAIL_MAX
    assert clean_detail("  ") is None
    assert clean_detail(None) is None


def test_the_ledger_refuses_a_datetime_for_a_day_and_a_lease_of_nothing(
    new_ledger: Callable[..., Ledger],
) -> None:
    with pytest.raises(TypeError, match="must be a date"):
        new_ledger(run_date=NOW)
    with pytest.raises(ValueError, match="positive"):
        new_ledger(lease_seconds=0)


def test_the_record_on_disk(s3: Any, new_ledger: Callable[..., Ledger], clock: Clock) -> None:
    ledger = new_ledger(owner="inv-1")
    claim = claimed(ledger.claim("owner-email.alice@example.com"))
    clock.advance(3)
    ledger.sent(claim, "0100018c-ses-id")
    document = stored(s3, "owner-email.alice@example.com").model_dump(mode="json")
    assert document == {
        "version": 1,
        "state": "sent",
        "channel": "owner-email.alice@example.com",
        "run_date": "2026-11-27",
        "scope": SCOPE,
        "owner": "inv-1",
        "claimed_at": "2026-11-27T07:00:00Z",
        "lease_until": "2026-11-27T07:02:00Z",
        "attempt": 1,
        "detail": "0100018c-ses-id",
        "updated_at": "2026-11-27T07:00:03Z",
    }


def test_the_rules_alone() -> None:
    """``decide``, without S3: each state, the lease's edge, a record not ours to read."""
    mine = first_claim("sns", run_date=DAY, scope=SCOPE, owner="a", now=NOW, lease_seconds=60)
    edge = NOW + timedelta(seconds=60)

    def rule(current: LedgerRecord, now: datetime, attempted: LedgerRecord | None = None) -> Any:
        return decide(
            current,
            channel="sns",
            run_date=DAY,
            scope=SCOPE,
            attempted=attempted,
            owner="b",
            now=now,
            lease_seconds=60,
        )

    assert isinstance(rule(mine, NOW, attempted=mine), Ours)
    assert rule(mine, edge - timedelta(microseconds=1)).sent is False
    taken = rule(mine, edge)
    assert isinstance(taken, Retake)
    assert (taken.record.owner, taken.record.attempt, taken.record.state) == ("b", 2, "sending")
    assert taken.record.lease_until == edge + timedelta(seconds=60)

    failed = finished(mine, "failed", "boom", NOW)
    assert isinstance(rule(failed, NOW), Retake)
    done = finished(mine, "sent", "msg-1", NOW)
    assert rule(done, edge + timedelta(days=1)) == Skip("sns", "already sent msg-1", True, done)
    with pytest.raises(LedgerUnavailable, match="belongs to"):
        rule(done.model_copy(update={"scope": "elsewhere"}), NOW)


# --- the property -------------------------------------------------------------------------------


SEEDS = range(16)


def test_no_sequence_of_events_sends_a_channel_twice_without_a_lapsed_lease(
    s3: Any, retrier: Retrier
) -> None:
    """Three invocations claim, send, fail, crash, and time passes, in a random order (one
    seeded sequence per scope, all in one moto world: a world per seed costs more than the
    sequence).

    A claim is a send. Each one must be the first, or follow a recorded failure, or follow a
    lease that had lapsed; never after a recorded ``sent``; and ``sent`` is recorded at most
    once per channel.
    """
    for seed in SEEDS:
        _random_sequence(s3, retrier, seed)


def _random_sequence(s3: Any, retrier: Retrier, seed: int) -> None:
    rng = random.Random(seed)
    clock = Clock()
    ledgers = [
        Ledger(
            s3,
            retrier,
            bucket=BUCKET,
            prefix=PREFIX,
            run_date=DAY,
            scope=f"seed-{seed}",
            clock=clock,
            lease_seconds=60,
            owner=f"inv-{i}",
        )
        for i in range(3)
    ]
    channels = ("sns", "owner-email.bob@example.com")
    held: dict[tuple[int, str], Claim] = {}
    claims: Counter[str] = Counter()
    recorded_sent: Counter[str] = Counter()
    recorded_failures: Counter[str] = Counter()
    takeovers: Counter[str] = Counter()
    where = f"seed {seed}"

    for _ in range(30):
        event = rng.choice(["claim", "claim", "sent", "failed", "crash", "tick", "lapse"])
        i, channel = rng.randrange(3), rng.choice(channels)
        claim = held.get((i, channel))
        if event == "claim" and claim is None:
            result = ledgers[i].claim(channel)
            if isinstance(result, Skip):
                assert result.sent == (recorded_sent[channel] == 1), where
                continue
            assert recorded_sent[channel] == 0, where
            for (j, other), theirs in held.items():
                if other == channel:  # any other holder's lease has lapsed
                    assert clock.now >= theirs.record.lease_until, (where, j, theirs)
            claims[channel] += 1
            takeovers[channel] += result.note.startswith("take-over")
            held[i, channel] = result
        elif event == "sent" and claim is not None:
            del held[i, channel]
            recorded_sent[channel] += ledgers[i].sent(claim, f"msg-{i}")
            assert recorded_sent[channel] <= 1, where
        elif event == "failed" and claim is not None:
            del held[i, channel]
            recorded_failures[channel] += ledgers[i].failed(claim, "boom")
        elif event == "crash" and claim is not None:
            del held[i, channel]  # the invocation dies: its record stays "sending"
        elif event == "tick":
            clock.advance(rng.choice([1, 10, 30]))
        elif event == "lapse":
            clock.advance(61)

    entries = ledgers[0].entries()
    for channel in channels:
        assert claims[channel] <= 1 + recorded_failures[channel] + takeovers[channel], where
        if recorded_sent[channel]:
            assert entries[channel].state == "sent", where
