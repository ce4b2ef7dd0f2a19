"""The publish ledger: a retried or duplicated invocation sends nothing twice, on any channel.

Lambda retries a failed asynchronous invocation (twice by default) and may deliver one event
more than once. Without a record of what went out, each of those invocations would send the
digest again on every channel. So every channel is sent under a claim, one small JSON object
per channel per run, beside the report archive (``BACKUPWATCH_REPORT_BUCKET``)::

    <prefix>ledger/2026-11-27/<scope id>/sns.json
    <prefix>ledger/2026-11-27/<scope id>/owner-email.alice_at_example.com-1a2b3c4d.json

The scope id is 16 hex of the scope string's sha256; channel names are kept when S3-safe and
otherwise made so (``backupwatch.core.ledger_state.channel_slug``). The records and the rules
that read them are pure: ``backupwatch.core.ledger_state``.

How: S3 conditional writes. ``claim`` creates the record with ``If-None-Match: *`` (state
``sending``): of two invocations, exactly one creates it; the other gets 412 and reads it.
Every later change is written with ``If-Match: <the ETag read>``, a compare-and-swap: an
invocation that read a stale record cannot overwrite a newer one. A 409
``ConditionalRequestConflict`` (concurrent conditional writes) and a 404 ``NoSuchKey`` under
``If-Match`` (the record was deleted) are lost races too: read again and decide again, at most
``MAX_ROUNDS`` times, then "in flight". A retried PUT whose first attempt landed although its
answer was lost (a 5xx) meets its own record: it is recognised (the record carries a random
``owner`` per ``Ledger``) and the claim is kept, not mistaken for another invocation's.

Calls per channel per run (each a request to S3, measured in tests/test_ledger.py):

==========================================  ==========================================
first run                                   2 PUTs: claim, then sent (or failed)
a duplicate or retried invocation           1 PUT (412) + 1 GET; nothing sent
resuming after ``failed``                   1 PUT (412) + 1 GET + 1 PUT (claim) + 1 PUT
a lease that lapsed (the claimant died)     as resuming after ``failed``
==========================================  ==========================================

What it does not promise:

- **A crash between the send and ``sent()``** (a timeout, an out-of-memory kill) leaves the
  record ``sending``. Until its lease ends, other invocations skip the channel ("in flight");
  after it, the next one sends again. Only in this window is delivery at-least-once; a claimant
  still alive when its lease lapses (``lease_seconds`` shorter than its send) sends twice too,
  and finds its ``sent()`` refused (logged at ERROR). ``lease_seconds`` must outlast the send,
  and should end soon after the invocation surely ended (its deadline), so that Lambda's
  retries, a minute or two later, find it lapsed.
- **S3 trouble on ``claim``** (AccessDenied, no such bucket, retries or time exhausted, a
  record this version cannot read) raises ``LedgerUnavailable``. The ledger cannot then say
  whether the channel went out; the caller chooses. backupwatch's delivery sends anyway and
  logs "<channel>: ledger unavailable, sending without it": a digest twice is a nuisance, a
  digest lost is the silent failure backupwatch exists to prevent.
- **Recording the outcome never raises.** ``sent`` and ``failed`` come after the send; raising
  there would turn a delivered message into a failed run (and a retry: a duplicate). They log
  at ERROR and return False instead.
- ``failed`` means "surely not delivered": the next invocation sends again. After an
  ambiguous error (a 5xx or a timeout from SNS, which may hold the message already), calling
  ``sent`` with the error as detail keeps it at-most-once; calling ``failed``, at-least-once.
- The run date must be the same for every invocation of one delivery: the schedule's time
  (the EventBridge event's ``time``) or the report's date, never "today" at invocation, or a
  retry after midnight UTC would be a new delivery.

Permissions: ``s3:PutObject`` and ``s3:GetObject`` on ``<prefix>ledger/*``, and
``s3:ListBucket`` on the bucket (without it S3 answers a missing key with AccessDenied, and
``entries`` cannot list). The records are a few hundred bytes; nothing here expires them, a
lifecycle rule on ``<prefix>ledger/`` (a few days) should.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal

from pydantic import ValidationError

from backupwatch.aws.pagination import pages
from backupwatch.aws.retry import Retrier
from backupwatch.core.errors import AwsCallError
from backupwatch.core.ledger_state import (
    Claim,
    LedgerRecord,
    LedgerUnavailable,
    Ours,
    Skip,
    decide,
    finished,
    first_claim,
    ledger_key,
    run_folder,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["MAX_ROUNDS", "Claim", "Ledger", "LedgerRecord", "LedgerUnavailable", "Skip"]

logger = logging.getLogger("backupwatch")

CONTENT_TYPE = "application/json"
DEFAULT_LEASE_SECONDS = 300.0
"""A claim's lease when the caller names none: several of ``Retrier``'s 60 s call budgets."""
MAX_ROUNDS = 3
"""Conditional writes tried per ``claim`` (or per outcome) before giving way to the others."""
RACE_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey"})
"""What a conditional PUT answers when someone else wrote (or deleted) the record first."""
NO_SUCH_KEY = "NoSuchKey"


class Ledger:
    """The claims of one run (``run_date``, ``scope``) on its channels; see the module doc.

    ``scope`` names what the run covers (``"eu-west-1,us-east-1"``): runs of another scope, or
    on another day, are other deliveries and never skip each other. ``owner`` identifies this
    invocation in the records (random by default; tests fix it).
    """

    def __init__(
        self,
        s3: S3Client,
        retrier: Retrier,
        *,
        bucket: str,
        prefix: str,
        run_date: date,
        scope: str,
        clock: Callable[[], datetime],
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        owner: str | None = None,
    ) -> None:
        if isinstance(run_date, datetime):
            # a datetime is a date: "today at 07:00:12" would key each retry apart
            raise TypeError("run_date must be a date (the run's UTC day), not a datetime")
        if not lease_seconds > 0:
            raise ValueError(f"lease_seconds must be positive, not {lease_seconds!r}")
        self._s3 = s3
        self._retrier = retrier
        self.bucket = bucket
        self.prefix = prefix
        self.run_date = run_date
        self.scope = scope
        self._clock = clock
        self.lease_seconds = lease_seconds
        self.owner = owner or uuid.uuid4().hex

    @property
    def folder(self) -> str:
        """The key prefix of this run's records."""
        return run_folder(self.prefix, self.run_date, self.scope)

    def key(self, channel: str) -> str:
        """The key of ``channel``'s record."""
        return ledger_key(self.prefix, self.run_date, self.scope, channel)

    def claim(self, channel: str) -> Claim | Skip:
        """Take ``channel`` for this invocation (``Claim``: send it), or learn that it must not
        be sent (``Skip``: already sent, or in flight elsewhere).

        Raises ``LedgerUnavailable`` when S3 cannot say (the caller decides whether to send).
        """
        key = self.key(channel)
        attempted = self._first(channel)
        expected: str | None = None  # the ETag the write must replace; None: no record yet
        note = "first claim"
        for _ in range(MAX_ROUNDS):
            etag = self._write(channel, key, attempted, if_match=expected)
            if etag is not None:
                return Claim(channel, key, etag, attempted, note)
            found = self._read(channel, key)
            if found is None:  # deleted since the 412 (or the If-Match's 404): start afresh
                attempted, expected, note = self._first(channel), None, "first claim (again)"
                continue
            current, etag = found
            decision = decide(
                current,
                channel=channel,
                run_date=self.run_date,
                scope=self.scope,
                attempted=attempted,
                owner=self.owner,
                now=self._clock(),
                lease_seconds=self.lease_seconds,
            )
            if isinstance(decision, Ours):
                return Claim(channel, key, etag, current, note)
            if isinstance(decision, Skip):
                return decision
            attempted, expected, note = decision.record, etag, decision.note
        logger.warning("publish ledger: %s lost %d races for %s", channel, MAX_ROUNDS, key)
        return Skip(
            channel,
            f"in flight in another invocation (its record changed {MAX_ROUNDS} times while "
            "this one tried to claim it)",
            sent=False,
        )

    def sent(self, claim: Claim, detail: str | None = None) -> bool:
        """Record that ``claim``'s message went out (``detail``: its message id, never a
        secret). Never raises; False when it could not be recorded (logged at ERROR)."""
        return self._finish(claim, "sent", detail)

    def failed(self, claim: Claim, error: str) -> bool:
        """Record that ``claim``'s message surely did not go out, so the next invocation sends
        it. Never raises; False when it could not be recorded (logged)."""
        return self._finish(claim, "failed", error)

    def entries(self) -> dict[str, LedgerRecord]:
        """This run's records by channel name: one listing and a GET per record, for tools and
        tests (``claim`` never lists). Raises ``LedgerUnavailable``; unreadable records are
        left out (and logged)."""
        records: dict[str, LedgerRecord] = {}
        try:
            for page in pages(
                self._retrier,
                "s3:ListBucket",
                self._s3.list_objects_v2,
                token_in="ContinuationToken",
                token_out="NextContinuationToken",
                Bucket=self.bucket,
                Prefix=self.folder,
            ):
                for listed in page.get("Contents", []):
                    key = listed["Key"]
                    try:
                        found = self._read(key, key)
                    except LedgerUnavailable as error:
                        logger.warning("publish ledger: %s left out: %s", key, error.problem)
                        continue
                    if found is not None:
                        records[found[0].channel] = found[0]
        except AwsCallError as error:
            raise LedgerUnavailable("*", self._uri(self.folder), error.short) from error
        return records

    # --- internals ------------------------------------------------------------------------------

    def _first(self, channel: str) -> LedgerRecord:
        return first_claim(
            channel,
            run_date=self.run_date,
            scope=self.scope,
            owner=self.owner,
            now=self._clock(),
            lease_seconds=self.lease_seconds,
        )

    def _finish(self, claim: Claim, state: Literal["sent", "failed"], detail: str | None) -> bool:
        """Write ``claim``'s outcome over the claim's own version, and only over it."""
        outcome = finished(claim.record, state, detail, self._clock())
        uri = self._uri(claim.key)
        expected = claim.etag
        for _ in range(MAX_ROUNDS):
            try:
                if self._write(claim.channel, claim.key, outcome, if_match=expected) is not None:
                    return True
                found = self._read(claim.channel, claim.key)
            except LedgerUnavailable as error:
                logger.error(
                    "publish ledger: %s %s, but %s could not be recorded at %s: %s",
                    claim.channel,
                    _said(state),
                    state,
                    uri,
                    error.problem,
                )
                return False
            if found is not None and found[0] == outcome:
                return True  # our write landed; a retry of it met it
            if found is not None and found[0] == claim.record:
                expected = found[1]  # still our claim (a 409 conflict): write again
                continue
            now = found[0] if found is not None else None
            _log_taken_over(claim, state, uri, now)
            return False
        logger.error(
            "publish ledger: %s %s, but %s could not be recorded at %s: the record kept changing",
            claim.channel,
            _said(state),
            state,
            uri,
        )
        return False

    def _write(
        self, channel: str, key: str, record: LedgerRecord, *, if_match: str | None
    ) -> str | None:
        """PUT ``record`` if the key holds version ``if_match`` (None: if there is no key).

        The new ETag; None when the condition did not hold (a lost race). Raises
        ``LedgerUnavailable`` for any other failure.
        """
        body = record.model_dump_json().encode()

        def put() -> str:
            if if_match is None:
                response = self._s3.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=body,
                    ContentType=CONTENT_TYPE,
                    IfNoneMatch="*",
                )
            else:
                response = self._s3.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=body,
                    ContentType=CONTENT_TYPE,
                    IfMatch=if_match,
                )
            return response["ETag"]

        try:
            return self._retrier.call("s3:PutObject", put)
        except AwsCallError as error:
            if error.code in RACE_CODES:
                return None
            raise LedgerUnavailable(channel, self._uri(key), error.short) from error

    def _read(self, channel: str, key: str) -> tuple[LedgerRecord, str] | None:
        """The record at ``key`` and its ETag; None when there is none. Raises
        ``LedgerUnavailable`` when it cannot be read, or is not a record this version reads."""

        def get() -> tuple[bytes, str]:
            response = self._s3.get_object(Bucket=self.bucket, Key=key)
            return response["Body"].read(), response["ETag"]

        try:
            body, etag = self._retrier.call("s3:GetObject", get)
        except AwsCallError as error:
            if error.code == NO_SUCH_KEY:
                return None
            raise LedgerUnavailable(channel, self._uri(key), error.short) from error
        try:
            return LedgerRecord.model_validate_json(body), etag
        except ValidationError as error:
            problem = f"the record is not one this version can read ({error.error_count()} errors)"
            raise LedgerUnavailable(channel, self._uri(key), problem) from error

    def _uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"


def _said(state: Literal["sent", "failed"]) -> str:
    return "was sent" if state == "sent" else "failed"


def _log_taken_over(
    claim: Claim, state: Literal["sent", "failed"], uri: str, now: LedgerRecord | None
) -> None:
    """Another invocation holds the record now: its lease lapsed (or it was deleted).

    After a send, that other invocation may send too: the at-least-once window, worth an
    ERROR. After a failure nothing went out twice: a WARNING.
    """
    who = (
        f"attempt {now.attempt} ({now.state}) of another invocation"
        if now is not None
        else "nobody: the record is gone"
    )
    if state == "sent":
        logger.error(
            "publish ledger: %s was sent, but its claim had lapsed: its record at %s now holds %s: "
            "the message may go out twice",
            claim.channel,
            uri,
            who,
        )
    else:
        logger.warning(
            "publish ledger: %s failed, and its record at %s now holds %s already",
            claim.channel,
            uri,
            who,
        )
