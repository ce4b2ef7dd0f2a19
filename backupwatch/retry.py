"""The retry policy: which AWS errors are retried, how often, how long. Owned here, only here.

backupwatch, not botocore, owns retries. Every client is built with
``Config(retries={"total_max_attempts": 1})`` (see ``backupwatch.clients``), so botocore makes
exactly one attempt per call and ``Retrier`` decides about the next one. Stacking the two would
multiply attempts (botocore's legacy mode makes 5 per call: 5 x 5 = 25).

Retried: throttling codes (including SNS's ``Throttled``, which botocore never retries), HTTP 429
and 5xx, and network errors (connection refused/reset, timeouts). Not retried: everything else,
such as ``AccessDenied`` or ``NoSuchBucket``: asking again will not change the answer.

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
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from .deadline import Deadline
from .errors import AwsCallError

T = TypeVar("T")

DEADLINE_EXCEEDED = "DeadlineExceeded"
"""The code of the ``AwsCallError`` raised when the run's deadline stops a call or its retries."""

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
NETWORK_ERRORS = (
    ConnectionClosedError,
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
)


def is_retryable(error: BaseException) -> bool:
    """Whether asking again may succeed: throttling, a 5xx/429, or a network error."""
    if isinstance(error, NETWORK_ERRORS):
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
    opened. A read timeout or a dropped connection may come after SNS accepted the message,
    and a standard topic cannot deduplicate: sending again could deliver the digest twice.
    """
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError):
        return True
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code", "") in THROTTLING_CODES
    return False


def error_code(error: BaseException) -> str:
    """The AWS error code of ``error``, or its class name for network errors."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code") or "Unknown")
    return type(error).__name__


def _error_message(error: BaseException) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Message") or error)
    return str(error)


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

        Any botocore error (HTTP or not: missing credentials, invalid parameters) ends as
        ``AwsCallError``, so callers turn it into an ``ERROR`` row instead of crashing.
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
            # stop_before_delay: no backoff may end past the budget (stop_after_delay would let
            # the last wait overrun it by up to max_wait_seconds).
            stop=(
                _t.stop_after_attempt(self.attempts)
                | _t.stop_before_delay(self.budget_seconds)
                | _StopAtDeadline(self.deadline)
            ),
            wait=_t.wait_random_exponential(
                multiplier=self.initial_wait_seconds, max=self.max_wait_seconds
            ),
            retry=_t.retry_if_exception(retryable),
            before_sleep=before_sleep,
            reraise=True,
        )
        attempts = 0

        def attempt() -> T:
            nonlocal attempts
            if self.deadline is not None and self.deadline.expired:
                raise AwsCallError(operation, DEADLINE_EXCEEDED, "time budget exhausted", attempts)
            attempts += 1
            return fn()

        try:
            return retrying(attempt)
        except (ClientError, BotoCoreError) as error:
            raise AwsCallError(
                operation, error_code(error), _error_message(error), attempts
            ) from error


class _StopAtDeadline(_t.stop.stop_base):
    """Give up rather than begin a backoff that would end after the deadline."""

    def __init__(self, deadline: Deadline | None) -> None:
        self.deadline = deadline

    def __call__(self, retry_state: _t.RetryCallState) -> bool:
        if self.deadline is None:
            return False
        return self.deadline.seconds_left() <= retry_state.upcoming_sleep
