"""Posting one message to a chat webhook: a Slack incoming webhook or a Teams Workflows webhook.

The webhook's URL *is* the credential: whoever has it can post to the channel. So it is read
from Secrets Manager or an SSM SecureString (``backupwatch.aws.secrets``), and it never appears
in an exception, its ``str`` or ``repr``, or a log line: errors say the service, the HTTP status
and the service's short error code (``slack webhook: HTTP 404 no_service``), nothing it echoed.

Only the standard library (``urllib.request``), so the Lambda bundle needs nothing more.

What the services answer, and where that comes from:

- Slack answers ``200`` with the body ``ok``. Errors are a status and a bare code in the body:
  ``400 invalid_payload`` / ``user_not_found``, ``403 action_prohibited``, ``404
  channel_not_found``, ``410 channel_is_archived``, ``500 rollup_error``
  (https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks). Seen in
  the field, not in that list: ``403 invalid_token`` (https://github.com/gueils/whales/issues/38),
  ``404 no_service``, ``400 invalid_blocks`` / ``invalid_blocks_format``
  (https://routeforms.com/tools/slack-webhook-error-decoder), and ``msg_blocks_too_long`` well
  inside the documented block limits (https://github.com/slackapi/bolt-js/issues/2509). Over
  its rate limit ("posting messages: 1 per second", short bursts allowed), Slack answers ``429``
  with ``Retry-After`` in seconds, incoming webhooks included
  (https://api.slack.com/docs/rate-limits).
- A Teams Workflows webhook ("When a Teams webhook request is received") answers ``202
  Accepted`` with an empty body when the flow run is queued, not ``200``
  (https://github.com/fluxcd/flagger/pull/1887, https://github.com/robusta-dev/robusta/pull/2113).
  Its URLs are on ``prod-NN.<region>.logic.azure.com`` (``/workflows/<id>/triggers/manual/paths/
  invoke?...&sig=``) and, for flows made or moved since 2025,
  ``<environment>.environment.api.powerplatform.com`` (``/powerautomate/automations/direct/
  workflows/...``); Microsoft said the logic.azure.com ones stop working after 2025-11-30
  (https://github.com/swisscom/backman/issues/102, https://github.com/caronc/apprise/issues/1405,
  https://learn.microsoft.com/en-us/troubleshoot/power-platform/power-automate/flow-run-issues/triggers-troubleshoot).
  Errors are JSON, ``{"error": {"code": ..., "message": ...}}``; only the code is kept, because
  the message can quote the request URI. A message over about 28 KB fails with "Request Entity
  too large" (https://learn.microsoft.com/en-us/connectors/teams/).

Retries, the same philosophy as ``is_safe_to_resend`` in ``backupwatch.aws.retry``: a duplicate
digest in a channel is worse than a late one, so a post is sent again only when the service
answered that it failed (``429``, ``500``, ``502``, ``503``, ``504``; a gateway's ``502`` or
``504`` can, rarely, follow a post that went through, a risk taken because these are the usual
passing failures) or when the request surely never reached it. urllib wraps in ``URLError``
exactly the failures of connecting and sending (refused, unresolvable, timed out before the
request was handed over whole); everything after the request was sent (a read timeout, a
connection closed before the answer) comes out unwrapped, and is never resent: the message may
be in the channel already.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import Message
from typing import Any, Literal

from backupwatch.core.deadline import Deadline
from backupwatch.core.errors import BackupwatchError

Service = Literal["slack", "teams"]

logger = logging.getLogger("backupwatch")

SLACK_HOSTS = frozenset({"hooks.slack.com"})
"""Where Slack's incoming webhooks live (``https://hooks.slack.com/services/T…/B…/…``)."""
TEAMS_HOST_SUFFIXES = (".logic.azure.com", ".powerplatform.com")
"""Where Teams Workflows webhooks live: Logic Apps hosts (``prod-NN.<region>.logic.azure.com``)
and, since 2025, ``<environment>.environment.api.powerplatform.com``."""

_ALLOWED_SCHEMES: frozenset[str] = frozenset({"https"})
"""https only: the URL is a credential, and so is the message. Tests patch this (with
``_ALLOWED_TEST_HOSTS``) to reach a local http server; production code never changes it."""
_ALLOWED_TEST_HOSTS: frozenset[str] = frozenset()
"""Hosts accepted for any service, besides the real ones: empty outside tests."""

SLACK_TEXT_MAX_CHARS = 40_000
"""Slack cuts a message's ``text`` beyond 40,000 characters
(https://api.slack.com/methods/chat.postMessage#truncating); the fallback is cut to fit."""
SLACK_PAYLOAD_ERRORS = frozenset(
    {"invalid_blocks", "invalid_blocks_format", "msg_blocks_too_long", "invalid_payload"}
)
"""Slack's ``400`` answers that blame the message's blocks: a text-only message may still go."""
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
"""The service said it did not take the message: sending it again cannot duplicate it."""
PAYLOAD_REJECTED_STATUS = frozenset({400, 413})
"""The service refused the message itself (Teams: a bad card, or "Request Entity too large")."""

RETRY_AFTER_CAP_SECONDS = 30.0
"""The longest ``Retry-After`` honoured: a digest should not wait minutes for a chat channel."""
INITIAL_BACKOFF_SECONDS = 1.0
"""The first wait after a 5xx (or a 429 without ``Retry-After``); it doubles each time."""
MAX_BACKOFF_SECONDS = 20.0
RESPONSE_BODY_MAX_BYTES = 4096
"""Only a short error code is wanted from an answer: never read a whole error page."""
DEADLINE_EXCEEDED = "DeadlineExceeded"

_SLACK_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_TEAMS_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
_SECRET_PART_MIN_CHARS = 8
"""A path segment or query value at least this long may be a token: never echoed."""


class WebhookError(BackupwatchError):
    """A message could not be posted to a chat webhook (or the webhook cannot be used).

    ``short`` is one URL-free line for a digest or a log (``slack webhook: HTTP 404
    no_service``); ``status`` the last HTTP status (None if no answer came), ``code`` the
    service's error code or the failure's kind (``ReadTimeout``, ``ConnectionRefused``,
    ``DeadlineExceeded``), ``attempts`` how many posts were made, and ``maybe_delivered`` whether
    the last post may have reached the channel although no answer said so.
    """

    def __init__(
        self,
        short: str,
        *,
        service: str,
        status: int | None = None,
        code: str = "",
        attempts: int = 0,
        maybe_delivered: bool = False,
    ) -> None:
        self.short = short
        self.service = service
        self.status = status
        self.code = code
        self.attempts = attempts
        self.maybe_delivered = maybe_delivered
        super().__init__(short)


class WebhookPayloadRejected(WebhookError):
    """The service refused the message itself (Slack ``invalid_blocks``, ``msg_blocks_too_long``;
    Teams ``400`` or ``413``): the caller may send a smaller or simpler one. For Slack,
    ``post_webhook`` has already tried the text-only fallback when it could."""


class WebhookConfigError(WebhookError):
    """The webhook's reference, or the URL it holds, is unusable: not an ARN, a plain String
    parameter, a secret without a ``url``, not https, not a Slack or Teams host. An operator's
    fix, never retried."""


@dataclass(frozen=True)
class WebhookReceipt:
    """A message the service accepted."""

    service: Service
    status: int
    """``200`` from Slack, ``202`` from a Teams Workflows webhook."""
    attempts: int
    """Posts made, the accepted one included."""
    text_only: bool = False
    """Slack refused the blocks, and the text-only fallback was accepted instead."""
    rejected_code: str = ""
    """Why the blocks were refused (``invalid_blocks``), when ``text_only``."""


@dataclass(frozen=True)
class _Outcome:
    """One post's result, reduced to what the retry decision and the error message need."""

    status: int | None
    code: str
    description: str
    retryable: bool = False
    maybe_delivered: bool = False
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def webhook_url_problem(url: str, service: Service | None = None) -> str | None:
    """Why ``url`` cannot be ``service``'s webhook (any of them when None), or None if it can.

    The answer never quotes the URL, its host or any part of it: a Teams host names the tenant's
    environment, and the rest is the token.
    """
    if not url:
        return "the URL is empty"
    try:
        parts = urllib.parse.urlsplit(url)
        host = (parts.hostname or "").lower()
        _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        return "the URL does not parse"
    if any(char.isspace() for char in url):
        return "the URL contains whitespace"
    if parts.scheme not in _ALLOWED_SCHEMES:
        return "the URL is not https"
    if not host:
        return "the URL has no host"
    if host in _ALLOWED_TEST_HOSTS:
        return None
    slack = host in SLACK_HOSTS
    teams = host.endswith(TEAMS_HOST_SUFFIXES)
    if service == "slack" and not slack:
        return "the URL's host is not hooks.slack.com"
    if service == "teams" and not teams:
        return (
            "the URL's host is not a Teams Workflows one (*.logic.azure.com, *.powerplatform.com)"
        )
    if service is None and not (slack or teams):
        return "the URL's host is neither hooks.slack.com nor a Teams Workflows host"
    return None


def check_webhook_url(url: str, service: Service | None = None) -> None:
    """Raise ``WebhookConfigError`` unless ``url`` can be ``service``'s webhook (see
    ``webhook_url_problem``): checked before anything is sent anywhere."""
    problem = webhook_url_problem(url, service)
    if problem is not None:
        label = f"{service} webhook" if service else "webhook"
        raise WebhookConfigError(f"{label}: {problem}", service=service or "", code="InvalidUrl")


def slack_text_fallback(payload: Mapping[str, Any]) -> dict[str, str]:
    """``payload`` as a text-only Slack message: ``{"text": ...}``, at most 40,000 characters.

    For when Slack refuses the blocks (``invalid_blocks``, ``msg_blocks_too_long``): the
    message's own ``text`` (its notification fallback) still says what matters. A payload without
    ``text`` gets the text of its blocks' sections and headers instead.
    """
    text = payload.get("text")
    if not isinstance(text, str) or not text.strip():
        text = "\n".join(_block_texts(payload.get("blocks")))
    if len(text) > SLACK_TEXT_MAX_CHARS:
        text = text[: SLACK_TEXT_MAX_CHARS - 1] + "…"
    return {"text": text}


def _block_texts(blocks: object) -> list[str]:
    texts: list[str] = []
    if not isinstance(blocks, list):
        return texts
    for block in blocks:
        if not isinstance(block, Mapping):
            continue
        text = block.get("text")
        if isinstance(text, Mapping) and isinstance(text.get("text"), str):
            texts.append(text["text"])
    return texts


def post_webhook(
    url: str,
    payload: Mapping[str, Any],
    *,
    service: Service,
    timeout_seconds: float = 10.0,
    deadline: Deadline | None = None,
    attempts: int = 3,
    sleep: Callable[[float], None] = time.sleep,
    opener: urllib.request.OpenerDirector | None = None,
) -> WebhookReceipt:
    """Post ``payload`` as JSON to ``service``'s webhook at ``url``; raise ``WebhookError``.

    At most ``attempts`` posts in all, each waiting at most ``timeout_seconds`` (less when the
    ``deadline`` is nearer); no post starts after the deadline and no wait ends past it. Resent
    only when it cannot duplicate the message: after a 429 (waiting ``Retry-After``, capped at
    ``RETRY_AFTER_CAP_SECONDS``), a 500/502/503/504 (exponential backoff), or a connection that
    was never made. A read timeout is final (``maybe_delivered``). When Slack refuses the blocks
    (``SLACK_PAYLOAD_ERRORS``), the text-only fallback is posted once instead (it counts as an
    attempt); ``WebhookPayloadRejected`` if that is refused too or cannot be made. Any other 4xx
    is final. Each retry logs one WARNING on logger ``backupwatch``; nothing logged or raised
    quotes the URL. ``opener`` replaces urllib's (which refuses redirects here: a redirected
    POST would arrive as a GET without the message, and a 3xx is no webhook's answer).
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    if timeout_seconds <= 0:
        raise ValueError("timeout_seconds must be positive")
    check_webhook_url(url, service)
    opener = opener or _default_opener()
    secrets = _secret_parts(url)
    body = _encode(payload)
    text_only = False
    rejected_code = ""
    made = 0
    transient_failures = 0
    last: _Outcome | None = None
    while True:
        left = None if deadline is None else deadline.seconds_left()
        if left is not None and left <= 0:
            raise _deadline_error(service, made, last)
        timeout = timeout_seconds if left is None else min(timeout_seconds, left)
        made += 1
        last = _post(opener, url, body, timeout, service, secrets)
        if last.ok and last.status is not None:
            return WebhookReceipt(service, last.status, made, text_only, rejected_code)
        if service == "slack" and not text_only and _slack_blocks_refused(last):
            fallback = slack_text_fallback(payload)
            if fallback["text"].strip() and made < attempts and dict(payload) != fallback:
                logger.warning(
                    "%s webhook refused the message after attempt %d (%s): posting the text-only"
                    " fallback",
                    service,
                    made,
                    last.description,
                )
                body = _encode(fallback)
                text_only = True
                rejected_code = last.code
                continue
        if not last.retryable or made >= attempts:
            raise _final_error(service, made, last, text_only)
        transient_failures += 1
        wait = last.retry_after
        if wait is None:
            wait = min(MAX_BACKOFF_SECONDS, INITIAL_BACKOFF_SECONDS * 2 ** (transient_failures - 1))
        if deadline is not None and wait >= deadline.seconds_left():
            raise _deadline_error(service, made, last)
        logger.warning(
            "retrying %s webhook after attempt %d: %s; waiting %.1f s",
            service,
            made,
            last.description,
            wait,
        )
        sleep(wait)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx becomes an ``HTTPError``: urllib would follow it as a GET, without the message."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


def _default_opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_NoRedirects)


def _encode(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, allow_nan=False).encode("utf-8")


def _post(
    opener: urllib.request.OpenerDirector,
    url: str,
    body: bytes,
    timeout: float,
    service: Service,
    secrets: tuple[str, ...],
) -> _Outcome:
    """One POST, reduced to an ``_Outcome``; never raises for what the network or server does."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "backupwatch"},
    )
    try:
        with opener.open(request, timeout=timeout) as response:
            status = int(response.status)
            _read_bounded(response)  # the answer is in the status; the body is only drained
            return _Outcome(status, "", f"HTTP {status}")
    except urllib.error.HTTPError as error:
        return _http_error_outcome(error, service, secrets)
    except urllib.error.URLError as error:
        # Raised by urllib only around connecting and sending: the request never arrived whole.
        reason = error.reason
        if isinstance(reason, ConnectionRefusedError):
            return _Outcome(None, "ConnectionRefused", "connection refused", retryable=True)
        if isinstance(reason, socket.gaierror):
            return _Outcome(None, "NameNotResolved", "host name not resolved", retryable=True)
        if isinstance(reason, TimeoutError):
            return _Outcome(
                None, "ConnectTimeout", f"no connection within {timeout:.3g} s", retryable=True
            )
        kind = type(reason).__name__ if isinstance(reason, BaseException) else "URLError"
        return _Outcome(None, kind, f"connection failed ({kind})")
    except TimeoutError:
        return _Outcome(
            None,
            "ReadTimeout",
            f"no answer within {timeout:.3g} s; not sent again, it may have been delivered",
            maybe_delivered=True,
        )
    except (OSError, http.client.HTTPException) as error:
        kind = type(error).__name__
        return _Outcome(
            None,
            kind,
            f"no answer ({kind}); not sent again, it may have been delivered",
            maybe_delivered=True,
        )


def _http_error_outcome(
    error: urllib.error.HTTPError, service: Service, secrets: tuple[str, ...]
) -> _Outcome:
    status = int(error.code)
    try:
        code = _error_code(service, _read_bounded(error), secrets)
        retry_after = _retry_after(error.headers) if status == 429 else None
    finally:
        error.close()
    description = f"HTTP {status} {code}".rstrip()
    return _Outcome(
        status, code, description, retryable=status in RETRYABLE_STATUS, retry_after=retry_after
    )


def _read_bounded(response: Any) -> bytes:
    """At most ``RESPONSE_BODY_MAX_BYTES`` of the answer's body; empty if it cannot be read."""
    try:
        data = response.read(RESPONSE_BODY_MAX_BYTES)
    except (OSError, http.client.HTTPException, ValueError):
        return b""
    return data if isinstance(data, bytes) else b""


def _error_code(service: Service, body: bytes, secrets: tuple[str, ...]) -> str:
    """The service's short error code in ``body`` (Slack: the bare body, ``no_service``; Teams:
    ``error.code`` of the JSON), or "" if there is none; never a message, which could quote the
    request's URL, and never anything that contains a part of it."""
    text = body.decode("utf-8", "replace").strip()
    candidate = ""
    pattern = _SLACK_CODE if service == "slack" else _TEAMS_CODE
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            found = parsed.get("error")
            if isinstance(found, dict):
                found = found.get("code")
            if isinstance(found, str):
                candidate = found
    elif service == "slack":
        candidate = text
    if not pattern.fullmatch(candidate):
        return ""
    if any(part in candidate for part in secrets):
        return ""
    return candidate


def _retry_after(headers: Message | None) -> float | None:
    """``Retry-After`` in seconds (the delta-seconds form), capped; None if absent or a date."""
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if seconds != seconds or seconds < 0:  # NaN, or nonsense
        return None
    return min(seconds, RETRY_AFTER_CAP_SECONDS)


def _secret_parts(url: str) -> tuple[str, ...]:
    """The pieces of ``url`` that may be its token: the whole URL, its path and query, and every
    long path segment or query value. Nothing that contains one is ever echoed."""
    parts = urllib.parse.urlsplit(url)
    pieces = {url, parts.path, parts.query}
    pieces.update(segment for segment in parts.path.split("/"))
    pieces.update(value for _, value in urllib.parse.parse_qsl(parts.query))
    pieces.update(raw.partition("=")[2] for raw in parts.query.split("&"))
    return tuple(piece for piece in pieces if len(piece) >= _SECRET_PART_MIN_CHARS)


def _slack_blocks_refused(outcome: _Outcome) -> bool:
    return outcome.status == 400 and outcome.code in SLACK_PAYLOAD_ERRORS


def _final_error(service: Service, made: int, last: _Outcome, text_only: bool) -> WebhookError:
    notes = ["text-only fallback"] if text_only else []
    if made > 1:
        notes.append(f"after {made} attempts")
    short = f"{service} webhook: {last.description}"
    if notes:
        short += f" ({', '.join(notes)})"
    kind: type[WebhookError] = WebhookError
    if last.status in PAYLOAD_REJECTED_STATUS and (
        service == "teams" or last.code in SLACK_PAYLOAD_ERRORS or last.status == 413
    ):
        kind = WebhookPayloadRejected
    return kind(
        short,
        service=service,
        status=last.status,
        code=last.code,
        attempts=made,
        maybe_delivered=last.maybe_delivered,
    )


def _deadline_error(service: Service, made: int, last: _Outcome | None) -> WebhookError:
    if last is None:
        short = f"{service} webhook: time budget exhausted before the first attempt"
    else:
        tries = "1 attempt" if made == 1 else f"{made} attempts"
        short = f"{service} webhook: time budget exhausted after {tries} ({last.description})"
    return WebhookError(
        short,
        service=service,
        status=None if last is None else last.status,
        code=DEADLINE_EXCEEDED,
        attempts=made,
        maybe_delivered=False if last is None else last.maybe_delivered,
    )
