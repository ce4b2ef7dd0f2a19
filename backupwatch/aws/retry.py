"""The retry policy: which AWS errors are retried, how often, how long. Owned here, only here.

backupwatch, not botocore, owns retries. Every client is built with
``Config(retries={"total_max_attempts": 1})`` (see ``backupwatch.aws.clients``), so botocore makes
exactly one attempt per call and ``Retrier`` decides about the next one. Stacking the two would
multiply attempts (botocore's legacy mode makes 5 per call: 5 x 5 = 25).

Retried (``is_retryable``), because asking again may get an answer:

- a ``ClientError`` with a throttling code (including SNS's ``Throttled``, which botocore never
  retries), with ``InternalError``, ``ServiceUnavailable`` or ``RequestTimeout``, or with HTTP
  status 429, 500, 502, 503 or 504 (``TRANSIENT_HTTP_STATUS``) whatever its code;
- the connection: refused or unresolvable (``EndpointConnectionError``), a connect timeout
  (``ConnectTimeoutError``), and botocore's ``HTTPClientError`` family: closed or reset
  (``ConnectionClosedError``), a read timeout (``ReadTimeoutError``), a streamed body broken
  off (``ResponseStreamingError``), any other failure of the send (a bare ``HTTPClientError``);
- a response that could not be read whole: ``IncompleteReadError`` (a streamed body shorter
  than its Content-Length), ``botocore.parsers.ResponseParserError`` (a body that is not the
  XML it should be), and any urllib3 error that escapes botocore unwrapped (only a streamed
  body's ``read()`` lets one through, such as urllib3's ``SSLError`` mid-body).

Not retried: everything else, such as ``AccessDenied``, ``NoSuchBucket``, a validation error,
or a botocore error raised before anything is sent (``NoCredentialsError``,
``ParamValidationError``, and ``SSLError`` or ``ProxyConnectionError``, which are set-up
problems): asking again will not change the answer.

Whatever botocore or urllib3 raises ends as ``AwsCallError`` (a one-line message), retried or
not, so callers make it an ``ERROR`` row or a region error, never a traceback. This matters
because ``ResponseParserError`` subclasses plain ``Exception``, not ``BotoCoreError``, and
carries the whole raw body (an HTML page) after its first line.

What botocore 1.44.18 raises for an answer it cannot parse, checked against a socket server
and through ``before-send`` (the same both ways; ``tests/test_parser_faults.py`` keeps it true):

=========================================  ===========================  ========================
The answer                                 query (RDS, SNS, STS)        rest-xml (S3 listing)
=========================================  ===========================  ========================
5xx, plain text ("upstream connect         ``ResponseParserError``      ``ClientError`` "502"
error or disconnect/reset before headers")
5xx, an HTML page that starts with         ``ResponseParserError``      ``ClientError`` "503"
``<!DOCTYPE html>`` (not well-formed XML)
5xx, a body starting with ``<html>``,      ``ClientError`` "503"        ``ClientError`` "503"
or empty (``_is_generic_error_response``)
5xx, well-formed XHTML                     ``ClientError``, no code     ``ClientError``, no code
                                           ("Unknown" here)             ("Unknown" here)
4xx, an HTML page (a proxy, a WAF)         ``ResponseParserError``      ``ClientError`` "403"
200, XML cut in the middle (also a body    ``ResponseParserError``      ``ClientError`` "500"
short of its Content-Length: botocore
does not enforce it)
=========================================  ===========================  ========================

S3 never raises ``ResponseParserError`` for these: its parser falls back to the HTTP status
for an error body it cannot read, and S3's ``_handle_200_error`` turns a 200 whose body does
not parse into a 500. A ``ResponseParserError`` does not say the status: a proxy's 403 page is
retried like a 5xx (bounded, as every retry). A connection reset or read timeout in the middle
of a non-streamed body is ``ConnectionClosedError`` or ``ReadTimeoutError``: botocore reads
the body inside its send.

``sns:Publish`` must never be sent twice, so it is resent (``is_safe_to_resend``) only when the
request surely did not take effect; a parser error is never such a case (a 200 cut short is an
accepted message).

Backoff is exponential with full jitter (``wait_random_exponential``), bounded in attempts, in
total seconds, and by the run's ``Deadline`` when it has one: no attempt starts after the
deadline and no backoff ends past it. Each call is retried on its own: a page of a listing,
never the listing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import tenacity as _t
import urllib3.exceptions
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    IncompleteReadError,
)
from botocore.parsers import ResponseParserError

from backupwatch.core.deadline import Deadline
from backupwatch.core.errors import AwsCallError

T = TypeVar("T")

DEADLINE_EXCEEDED = "DeadlineExceeded"
"""The code of the ``AwsCallError`` raised when the run's deadline stops a call or its retries."""

MESSAGE_LIMIT = 200
"""The longest ``AwsCallError.message``, in characters: one line of a log, never a page."""

logger = logging.getLogger("backupwatch")

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "Throttled",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "SlowDown",
        "ProvisionedThroughputExceededException",
        "BandwidthLimitExceeded",
        "PriorRequestNotComplete",
    }
)
TRANSIENT_CODES = frozenset(
    {"RequestTimeout", "RequestTimeoutException", "InternalError", "ServiceUnavailable"}
)
TRANSIENT_HTTP_STATUS = frozenset({429, 500, 502, 503, 504})
NETWORK_ERRORS: tuple[type[Exception], ...] = (
    EndpointConnectionError,
    ConnectTimeoutError,
    HTTPClientError,  # ConnectionClosedError, ReadTimeoutError, ResponseStreamingError, bare
)
"""The connection failed: not opened, closed or reset, timed out, broken off mid-body."""
UNREADABLE_RESPONSE_ERRORS: tuple[type[Exception], ...] = (
    ResponseParserError,
    IncompleteReadError,
    urllib3.exceptions.HTTPError,
)
"""An answer came, but not whole or not readable: retried like a 5xx, never safe to resend."""
AWS_EDGE_ERRORS: tuple[type[Exception], ...] = (
    ClientError,
    BotoCoreError,
    ResponseParserError,
    urllib3.exceptions.HTTPError,
)
"""Everything botocore or urllib3 raises out of a call; each ends as ``AwsCallError``.

``ResponseParserError`` and urllib3's errors are not ``BotoCoreError``s: an ``except
(ClientError, BotoCoreError)`` lets them escape as a traceback.
"""


def is_retryable(error: BaseException) -> bool:
    """Whether asking again may succeed: throttling, a 5xx/429, a network error, or an answer
    that could not be read whole (see the module docstring for the exact list)."""
    if isinstance(error, NETWORK_ERRORS + UNREADABLE_RESPONSE_ERRORS):
        return True
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return (
            code in THROTTLING_CODES or code in TRANSIENT_CODES or status in TRANSIENT_HTTP_STATUS
        )
    return False


def is_safe_to_resend(error: BaseException) -> bool:
    """Whether a call that must not run twice (``sns:Publish``) may be sent again.

    Only when the request surely did not take effect: throttled, or the connection never
    opened (``EndpointConnectionError``, ``ConnectTimeoutError``). Never after an answer
    botocore could not read (``ResponseParserError``, ``IncompleteReadError``, a urllib3 error:
    a 200 cut in the middle is an accepted message), nor after a read timeout, a closed
    connection or any other ``HTTPClientError``, nor after a 5xx: SNS may already have the
    message, and a standard topic cannot deduplicate, so sending again could deliver the digest
    twice. An allowlist, so an error nobody thought of is never resent.
    """
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError):
        return True
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code", "") in THROTTLING_CODES
    return False


def error_code(error: BaseException) -> str:
    """The AWS error code of ``error`` (``Unknown`` when the answer had none), or its class
    name for an error without one (``ReadTimeoutError``, ``ResponseParserError``)."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code") or "Unknown")
    return type(error).__name__


def _error_message(error: BaseException) -> str:
    """One line: a ``ResponseParserError`` puts the whole raw body (an HTML page) after its
    first line, so only that first line is kept, and never more than ``MESSAGE_LIMIT``."""
    if isinstance(error, ClientError):
        text = str(error.response.get("Error", {}).get("Message") or error)
    else:
        text = str(error)
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    if isinstance(error, ResponseParserError):
        line = line.removesuffix(":")  # "...Further retries may succeed:" introduces the body
    if len(line) > MESSAGE_LIMIT:
        line = line[: MESSAGE_LIMIT - 1] + "…"
    return line or type(error).__name__


@dataclass(frozen=True)
class Retrier:
    """Runs one AWS call with the retry policy; turns its final failure into ``AwsCallError``.

    Each retry is logged (WARNING, logger ``backupwatch``). ``sleep`` is injectable so tests
    prove attempt counts without waiting; ``on_retry`` sees each retried error (for metrics).
    """

    attempts: int = 5
    """Total attempts per call, the first included."""
    initial_wait_seconds: float = 0.5
    max_wait_seconds: float = 20.0
    """Cap on one backoff."""
    budget_seconds: float = 60.0
    """Cap on the time one call may spend, retries included."""
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    on_retry: Callable[[str, BaseException, int], None] | None = field(default=None, repr=False)
    deadline: Deadline | None = field(default=None, repr=False)
    """No attempt starts after it, and no backoff is begun that would end past it."""

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")

    def call(
        self,
        operation: str,
        fn: Callable[[], T],
        *,
        retryable: Callable[[BaseException], bool] = is_retryable,
    ) -> T:
        """``fn()`` with retries; ``operation`` (``rds:DescribeDBSnapshots``) names it in errors.

        Any error of botocore or urllib3 (``AWS_EDGE_ERRORS``: HTTP or not, missing credentials,
        invalid parameters, a body botocore could not parse) ends as ``AwsCallError`` with a
        one-line message, so callers turn it into an ``ERROR`` row instead of crashing. Any
        other exception (a bug in ``fn``) is raised as itself, after one attempt.
        """

        attempts = 0

        def attempt() -> T:
            nonlocal attempts
            if self.deadline is not None and self.deadline.expired:
                raise AwsCallError(operation, DEADLINE_EXCEEDED, "time budget exhausted", attempts)
            attempts += 1
            return fn()

        started = _tenacity_clock()
        try:
            try:
                # Nearly every call succeeds at once: the retry machinery is built only for
                # a call whose first attempt failed with a retryable error.
                return attempt()
            except BaseException as error:
                if not retryable(error):
                    raise
                return self._retry(operation, attempt, error, started, retryable)
        except AWS_EDGE_ERRORS as error:
            raise AwsCallError(
                operation, error_code(error), _error_message(error), attempts
            ) from error

    def _retry(
        self,
        operation: str,
        attempt: Callable[[], T],
        first: BaseException,
        started: float,
        retryable: Callable[[BaseException], bool],
    ) -> T:
        """The attempts after a first one that failed with ``first``, at ``started``.

        tenacity sees the first attempt as its own (it re-raises ``first`` without calling
        ``attempt``), so the attempt numbers, the backoffs and the stops are those of one
        tenacity loop over every attempt, the budget counted from the first attempt's start.
        """

        def before_sleep(state: _t.RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome is not None else None
            if error is None:
                return
            logger.warning(
                "retrying %s after attempt %d: %s",
                operation,
                state.attempt_number,
                error_code(error),
            )
            if self.on_retry is not None:
                self.on_retry(operation, error, state.attempt_number)

        retrying = _t.Retrying(
            sleep=self.sleep,
            # Before the budget: no backoff may end past it (stop_after_delay would let the
            # last wait overrun it by up to max_wait_seconds).
            stop=(
                _t.stop_after_attempt(self.attempts)
                | _StopBeforeBudget(self.budget_seconds, started)
                | _StopAtDeadline(self.deadline)
            ),
            wait=_t.wait_random_exponential(
                multiplier=self.initial_wait_seconds, max=self.max_wait_seconds
            ),
            retry=_t.retry_if_exception(retryable),
            before_sleep=before_sleep,
            reraise=True,
        )
        unreported = [first]

        def again() -> T:
            if unreported:
                raise unreported.pop()
            return attempt()

        return retrying(again)


def _tenacity_clock() -> float:
    """Now, on the clock tenacity stamps each attempt's outcome with (its ``time.monotonic``)."""
    return float(_t.time.monotonic())  # type: ignore[attr-defined]


class _StopBeforeBudget(_t.stop.stop_base):
    """tenacity's ``stop_before_delay``, counting from ``started`` (the first attempt, made
    before tenacity's loop began) rather than from the loop's own start."""

    def __init__(self, budget_seconds: float, started: float) -> None:
        self.budget_seconds = budget_seconds
        self.started = started

    def __call__(self, retry_state: _t.RetryCallState) -> bool:
        finished = retry_state.outcome_timestamp
        if finished is None:
            raise RuntimeError("a stop was asked before any outcome")
        return finished - self.started + retry_state.upcoming_sleep >= self.budget_seconds


class _StopAtDeadline(_t.stop.stop_base):
    """Give up rather than begin a backoff that would end after the deadline."""

    def __init__(self, deadline: Deadline | None) -> None:
        self.deadline = deadline

    def __call__(self, retry_state: _t.RetryCallState) -> bool:
        if self.deadline is None:
            return False
        return self.deadline.seconds_left() <= retry_state.upcoming_sleep
