"""Posting to chat webhooks: retries that never duplicate, Slack's text-only fallback, deadlines,
and never a URL in an exception or a log line.

Against a real local HTTP server (``tests/webhook_server.py``); waits are recorded, never slept,
and a server that "hangs" is ended by a 0.2 s client timeout.
"""

from __future__ import annotations

import json
import logging
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import pytest

from backupwatch.aws import webhook
from backupwatch.aws.webhook import (
    RETRY_AFTER_CAP_SECONDS,
    SLACK_TEXT_MAX_CHARS,
    WebhookConfigError,
    WebhookError,
    WebhookPayloadRejected,
    check_webhook_url,
    post_webhook,
    slack_text_fallback,
    webhook_url_problem,
)
from backupwatch.core.deadline import Deadline

from .conftest import RecordingSleep
from .webhook_server import (
    ACCEPTED,
    OK,
    SLACK_TOKEN,
    TEAMS_SIGNATURE,
    Reply,
    WebhookServer,
    rate_limited,
    webhook_server_fixture,  # noqa: F401 - registers the webhook_server fixture
)

BLOCKS_MESSAGE: dict[str, Any] = {
    "text": "backupwatch 2026-11-27: 2 of 5 tenants failing",
    "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "2 of 5 tenants failing"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*STALE* globex: 31 h old"}},
    ],
}
TEAMS_MESSAGE: dict[str, Any] = {
    "type": "message",
    "attachments": [
        {
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": None,
            "content": {"type": "AdaptiveCard", "version": "1.4", "body": []},
        }
    ],
}
SHORT = 0.2
"""The client timeout of the tests where the server hangs."""


@dataclass
class FakeClock:
    """Monotonic time that only ``sleep`` advances: deadlines without waiting."""

    now: float = 0.0
    waits: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def deadline(self, seconds: float) -> Deadline:
        return Deadline.after(seconds, monotonic=lambda: self.now)


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "backupwatch" and r.levelno == logging.WARNING
    ]


# --- success -------------------------------------------------------------------------------------


def test_slack_posts_json_once_and_takes_200_ok(
    webhook_server: WebhookServer, sleep: RecordingSleep
) -> None:
    receipt = post_webhook(webhook_server.slack_url, BLOCKS_MESSAGE, service="slack", sleep=sleep)

    assert (receipt.service, receipt.status, receipt.attempts) == ("slack", 200, 1)
    assert not receipt.text_only
    [request] = webhook_server.requests
    assert request.method == "POST"
    assert request.path == f"/services/T0000TEST/B0000TEST/{SLACK_TOKEN}"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.json == BLOCKS_MESSAGE
    assert sleep.waits == []


def test_teams_workflows_202_accepted_is_success(webhook_server: WebhookServer) -> None:
    webhook_server.default = ACCEPTED
    receipt = post_webhook(webhook_server.teams_url, TEAMS_MESSAGE, service="teams")

    assert (receipt.status, receipt.attempts) == (202, 1)
    [request] = webhook_server.requests
    assert TEAMS_SIGNATURE in request.path
    assert request.json == TEAMS_MESSAGE


def test_unicode_is_sent_as_utf8_json(webhook_server: WebhookServer) -> None:
    post_webhook(webhook_server.slack_url, {"text": "Zürich ✓ 東京"}, service="slack")

    [request] = webhook_server.requests
    assert request.body.decode("utf-8") == json.dumps({"text": "Zürich ✓ 東京"}, ensure_ascii=False)


# --- retries that cannot duplicate ---------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_is_retried_with_backoff_then_succeeds(
    webhook_server: WebhookServer,
    sleep: RecordingSleep,
    caplog: pytest.LogCaptureFixture,
    status: int,
) -> None:
    webhook_server.script(Reply(status, "rollup_error"), Reply(status, ""), OK)

    receipt = post_webhook(webhook_server.slack_url, BLOCKS_MESSAGE, service="slack", sleep=sleep)

    assert receipt.attempts == 3
    assert len(webhook_server.requests) == 3
    assert sleep.waits == [1.0, 2.0]
    assert len(warnings(caplog)) == 2  # one per retry
    assert f"HTTP {status}" in warnings(caplog)[0]


def test_retries_are_bounded_by_attempts(
    webhook_server: WebhookServer, sleep: RecordingSleep
) -> None:
    webhook_server.default = Reply(503, "")

    with pytest.raises(WebhookError) as caught:
        post_webhook(webhook_server.slack_url, BLOCKS_MESSAGE, service="slack", sleep=sleep)

    assert len(webhook_server.requests) == 3
    assert caught.value.short == "slack webhook: HTTP 503 (after 3 attempts)"
    assert (caught.value.status, caught.value.attempts) == (503, 3)
    assert not isinstance(caught.value, WebhookPayloadRejected)


@pytest.mark.parametrize(
    ("retry_after", "wait"),
    [("1", 1.0), ("2.5", 2.5), ("600", RETRY_AFTER_CAP_SECONDS), (None, 1.0), ("soon", 1.0)],
)
def test_429_waits_retry_after_capped(
    webhook_server: WebhookServer, sleep: RecordingSleep, retry_after: str | None, wait: float
) -> None:
    webhook_server.script(rate_limited(retry_after), OK)

    receipt = post_webhook(webhook_server.slack_url, BLOCKS_MESSAGE, service="slack", sleep=sleep)

    assert receipt.attempts == 2
    assert sleep.waits == [wait]


def test_teams_429_is_retried_too(webhook_server: WebhookServer, sleep: RecordingSleep) -> None:
    webhook_server.script(rate_limited("3"), ACCEPTED)

    receipt = post_webhook(webhook_server.teams_url, TEAMS_MESSAGE, service="teams", sleep=sleep)

    assert (receipt.status, receipt.attempts, sleep.waits) == (202, 2, [3.0])


def test_a_read_timeout_is_never_resent(
    webhook_server: WebhookServer, sleep: RecordingSleep, caplog: pytest.LogCaptureFixture
) -> None:
    """The server got the request and did not answer: it may be in the channel already."""
    webhook_server.script(Reply(hang=True))

    with pytest.raises(WebhookError) as caught:
        post_webhook(
            webhook_server.slack_url,
            BLOCKS_MESSAGE,
            service="slack",
            timeout_seconds=SHORT,
            sleep=sleep,
        )

    assert len(webhook_server.requests) == 1
    assert caught.value.code == "ReadTimeout"
    assert caught.value.maybe_delivered
    assert caught.value.status is None
    assert "may have been delivered" in caught.value.short
    assert sleep.waits == []
    assert warnings(caplog) == []


def test_a_refused_connection_is_retried(
    webhook_server: WebhookServer, sleep: RecordingSleep
) -> None:
    """Nothing listens: nothing can have been delivered, so sending again is safe."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/services/T0000TEST/B0000TEST/{SLACK_TOKEN}"

    with pytest.raises(WebhookError) as caught:
        post_webhook(url, BLOCKS_MESSAGE, service="slack", sleep=sleep)

    assert (caught.value.code, caught.value.attempts) == ("ConnectionRefused", 3)
    assert not caught.value.maybe_delivered
    assert sleep.waits == [1.0, 2.0]


def test_a_redirect_is_not_followed(webhook_server: WebhookServer) -> None:
    """urllib would follow it as a GET without the message, and call the 200 a success."""
    webhook_server.script(Reply(302, "", {"Location": f"{webhook_server.base_url}/elsewhere"}))

    with pytest.raises(WebhookError) as caught:
        post_webhook(webhook_server.slack_url, BLOCKS_MESSAGE, service="slack")

    assert caught.value.status == 302
    assert [r.path for r in webhook_server.requests] == [
        f"/services/T0000TEST/B0000TEST/{SLACK_TOKEN}"
    ]


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (404, "no_service"),
        (404, "channel_not_found"),
        (403, "invalid_token"),
        (403, "action_prohibited"),
        (410, "channel_is_archived"),
        (400, "user_not_found"),
    ],
)
def test_slack_refusals_are_final(
    webhook_server: WebhookServer, sleep: RecordingSleep, status: int, code: str
) -> None:
    webhook_server.script(Reply(status, code))

    with pytest.raises(WebhookError) as caught:
        post_webhook(webhook_server.slack_url, BLOCKS_MESSAGE, service="slack", sleep=sleep)

    assert caught.value.short == f"slack webhook: HTTP {status} {code}"
    assert (caught.value.status, caught.value.code, caught.value.attempts) == (status, code, 1)
    assert not isinstance(caught.value, WebhookPayloadRejected)
    assert len(webhook_server.requests) == 1
    assert sleep.waits == []


@pytest.mark.parametrize("code", ["invalid_blocks", "msg_blocks_too_long", "invalid_payload"])
def test_slack_refusing_the_blocks_gets_one_text_only_post(
    webhook_server: WebhookServer,
    sleep: RecordingSleep,
    caplog: pytest.LogCaptureFixture,
    code: str,
) -> None:
    webhook_server.script(Reply(400, code), OK)

    receipt = post_webhook(webhook_server.slack_url, BLOCKS_MESSAGE, service="slack", sleep=sleep)

    assert (receipt.status, receipt.attempts, receipt.text_only) == (200, 2, True)
    assert receipt.rejected_code == code
    first, second = webhook_server.requests
    assert first.json == BLOCKS_MESSAGE
    assert second.json == {"text": BLOCKS_MESSAGE["text"]}
    assert sleep.waits == []
    assert len(warnings(caplog)) == 1
    assert "text-only" in warnings(caplog)[0]


def test_the_text_only_fallback_is_tried_once(webhook_server: WebhookServer) -> None:
    webhook_server.script(Reply(400, "invalid_blocks"), Reply(400, "invalid_payload"))

    with pytest.raises(WebhookPayloadRejected) as caught:
        post_webhook(webhook_server.slack_url, BLOCKS_MESSAGE, service="slack", attempts=5)

    assert len(webhook_server.requests) == 2
    assert caught.value.short == (
        "slack webhook: HTTP 400 invalid_payload (text-only fallback, after 2 attempts)"
    )
    assert caught.value.code == "invalid_payload"


def test_no_fallback_without_an_attempt_left(webhook_server: WebhookServer) -> None:
    webhook_server.script(Reply(400, "msg_blocks_too_long"))

    with pytest.raises(WebhookPayloadRejected) as caught:
        post_webhook(webhook_server.slack_url, BLOCKS_MESSAGE, service="slack", attempts=1)

    assert len(webhook_server.requests) == 1
    assert caught.value.code == "msg_blocks_too_long"


def test_no_fallback_for_a_message_that_is_text_only_already(
    webhook_server: WebhookServer,
) -> None:
    webhook_server.script(Reply(400, "invalid_payload"))

    with pytest.raises(WebhookPayloadRejected):
        post_webhook(webhook_server.slack_url, {"text": "hello"}, service="slack")

    assert len(webhook_server.requests) == 1


def test_the_fallback_is_retried_like_any_post(
    webhook_server: WebhookServer, sleep: RecordingSleep
) -> None:
    webhook_server.script(Reply(400, "invalid_blocks"), Reply(503, ""), OK)

    receipt = post_webhook(webhook_server.slack_url, BLOCKS_MESSAGE, service="slack", sleep=sleep)

    assert (receipt.attempts, receipt.text_only) == (3, True)
    assert [r.json for r in webhook_server.requests[1:]] == [{"text": BLOCKS_MESSAGE["text"]}] * 2
    assert sleep.waits == [1.0]


@pytest.mark.parametrize("status", [400, 413])
def test_teams_refusing_the_card_is_a_typed_failure_without_fallback(
    webhook_server: WebhookServer, status: int
) -> None:
    webhook_server.script(
        Reply(status, json.dumps({"error": {"code": "InvalidRequestContent", "message": "x"}}))
    )

    with pytest.raises(WebhookPayloadRejected) as caught:
        post_webhook(webhook_server.teams_url, TEAMS_MESSAGE, service="teams")

    assert caught.value.short == f"teams webhook: HTTP {status} InvalidRequestContent"
    assert len(webhook_server.requests) == 1


# --- deadlines -----------------------------------------------------------------------------------


def test_no_attempt_after_the_deadline(webhook_server: WebhookServer) -> None:
    clock = FakeClock()
    with pytest.raises(WebhookError) as caught:
        post_webhook(
            webhook_server.slack_url,
            BLOCKS_MESSAGE,
            service="slack",
            deadline=clock.deadline(0),
            sleep=clock.sleep,
        )

    assert webhook_server.requests == []
    assert caught.value.code == "DeadlineExceeded"
    assert caught.value.short == "slack webhook: time budget exhausted before the first attempt"


def test_no_backoff_that_would_end_past_the_deadline(
    webhook_server: WebhookServer, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    webhook_server.default = Reply(503, "")

    with pytest.raises(WebhookError) as caught:
        post_webhook(
            webhook_server.slack_url,
            BLOCKS_MESSAGE,
            service="slack",
            deadline=clock.deadline(2.5),
            sleep=clock.sleep,
        )

    # 503, wait 1 s (1.5 s left), 503, a 2 s wait would end past the deadline: stop.
    assert len(webhook_server.requests) == 2
    assert clock.waits == [1.0]
    assert caught.value.code == "DeadlineExceeded"
    assert caught.value.short == "slack webhook: time budget exhausted after 2 attempts (HTTP 503)"
    assert len(warnings(caplog)) == 1


def test_retry_after_is_never_waited_past_the_deadline(webhook_server: WebhookServer) -> None:
    clock = FakeClock()
    webhook_server.script(rate_limited("5"))

    with pytest.raises(WebhookError) as caught:
        post_webhook(
            webhook_server.slack_url,
            BLOCKS_MESSAGE,
            service="slack",
            deadline=clock.deadline(4),
            sleep=clock.sleep,
        )

    assert len(webhook_server.requests) == 1
    assert clock.waits == []
    assert caught.value.status == 429


def test_each_attempt_waits_no_longer_than_the_deadline(webhook_server: WebhookServer) -> None:
    """A 10 s timeout, but 0.2 s left: the hung post is given up after 0.2 s, not 10."""
    webhook_server.script(Reply(hang=True))

    with pytest.raises(WebhookError) as caught:
        post_webhook(
            webhook_server.slack_url,
            BLOCKS_MESSAGE,
            service="slack",
            timeout_seconds=10.0,
            deadline=Deadline.after(SHORT),
        )

    assert caught.value.code == "ReadTimeout"
    assert len(webhook_server.requests) == 1


class RecordingOpener(urllib.request.OpenerDirector):
    """Records each post's timeout and refuses the connection: no network at all."""

    def __init__(self) -> None:
        super().__init__()
        self.timeouts: list[float] = []

    def open(self, fullurl: Any, data: Any = None, timeout: Any = None) -> Any:
        self.timeouts.append(timeout)
        raise urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))


def test_the_timeout_is_clipped_to_the_deadline_on_every_attempt() -> None:
    clock = FakeClock()
    opener = RecordingOpener()

    with pytest.raises(WebhookError):
        post_webhook(
            "https://hooks.slack.com/services/T0000TEST/B0000TEST/" + SLACK_TOKEN,
            BLOCKS_MESSAGE,
            service="slack",
            timeout_seconds=10.0,
            deadline=clock.deadline(6.5),
            sleep=clock.sleep,
            opener=opener,
        )

    assert opener.timeouts == [6.5, 5.5, 3.5]  # what was left of the 6.5 s at each attempt
    assert clock.waits == [1.0, 2.0]


# --- the URL is a secret -------------------------------------------------------------------------


class NeverOpener(urllib.request.OpenerDirector):
    def open(self, fullurl: Any, data: Any = None, timeout: Any = None) -> Any:
        raise AssertionError("nothing may be sent")


@pytest.mark.parametrize(
    ("url", "service", "problem"),
    [
        (f"http://hooks.slack.com/services/T0/B0/{SLACK_TOKEN}", "slack", "not https"),
        (f"https://hooks.slack.com.evil.example/services/{SLACK_TOKEN}", "slack", "not hooks"),
        (f"https://prod-1.westeurope.logic.azure.com/workflows/x?sig={SLACK_TOKEN}", "slack", ""),
        (f"https://hooks.slack.com/services/T0/B0/{SLACK_TOKEN}", "teams", "Teams"),
        (f"https://logic.azure.com.evil.example/workflows?sig={SLACK_TOKEN}", "teams", "Teams"),
        (f"ftp://hooks.slack.com/{SLACK_TOKEN}", "slack", "not https"),
        (f"https://hooks.slack.com:notaport/{SLACK_TOKEN}", "slack", "does not parse"),
        ("", "slack", "empty"),
    ],
)
def test_a_url_that_is_not_the_services_is_refused_before_anything_is_sent(
    url: str, service: webhook.Service, problem: str
) -> None:
    with pytest.raises(WebhookConfigError) as caught:
        post_webhook(url, BLOCKS_MESSAGE, service=service, opener=NeverOpener())

    assert problem in caught.value.short
    if url:
        assert url not in str(caught.value)
    assert SLACK_TOKEN not in str(caught.value)
    assert "evil" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "service"),
    [
        ("https://hooks.slack.com/services/T0/B0/abc", "slack"),
        (
            "https://prod-23.westeurope.logic.azure.com:443/workflows/0a1b/triggers/manual/paths/"
            "invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=abc",
            "teams",
        ),
        (
            "https://default0a1b2c.3d.environment.api.powerplatform.com:443/powerautomate/"
            "automations/direct/workflows/0a1b/triggers/manual/paths/invoke?api-version=1&sig=abc",
            "teams",
        ),
    ],
)
def test_real_webhook_urls_are_accepted(url: str, service: webhook.Service) -> None:
    check_webhook_url(url, service)
    check_webhook_url(url, None)
    assert webhook_url_problem(url, service) is None


def test_http_is_refused_by_default_even_on_loopback() -> None:
    """Only the ``webhook_server`` fixture opens http on 127.0.0.1, for its test."""
    assert frozenset({"https"}) == webhook._ALLOWED_SCHEMES
    assert frozenset() == webhook._ALLOWED_TEST_HOSTS
    with pytest.raises(WebhookConfigError, match="not https"):
        check_webhook_url("http://127.0.0.1:8080/services/T0/B0/x", "slack")
    with pytest.raises(WebhookConfigError, match=r"not hooks\.slack\.com"):
        check_webhook_url("https://127.0.0.1:8080/services/T0/B0/x", "slack")


def _leaks(text: str, url: str) -> list[str]:
    secrets = [url, SLACK_TOKEN, TEAMS_SIGNATURE, "127.0.0.1"]
    return [secret for secret in secrets if secret in text]


@pytest.mark.parametrize(
    ("service", "replies", "timeout"),
    [
        ("slack", [Reply(404, "no_service")], 10.0),
        ("slack", [Reply(503, "")] * 3, 10.0),
        ("slack", [Reply(400, "invalid_blocks"), Reply(400, "invalid_blocks")], 10.0),
        ("slack", [Reply(hang=True)], SHORT),
        ("slack", [Reply(400, SLACK_TOKEN)], 10.0),  # a body quoting the token is not echoed
        ("slack", [Reply(404, "<html>Not found: /services/T0000TEST</html>")], 10.0),
        (
            "teams",
            [Reply(404, '{"error": {"code": "WorkflowNotFound", "message": "%URL%"}}')],
            10.0,
        ),
        ("teams", [Reply(400, '{"error": {"code": "%SIG%"}}')], 10.0),
        ("teams", [rate_limited("1")] * 3, 10.0),
    ],
)
def test_no_exception_or_log_line_contains_the_url_or_its_token(
    webhook_server: WebhookServer,
    sleep: RecordingSleep,
    caplog: pytest.LogCaptureFixture,
    service: webhook.Service,
    replies: list[Reply],
    timeout: float,
) -> None:
    url = webhook_server.slack_url if service == "slack" else webhook_server.teams_url
    webhook_server.script(
        *(
            Reply(
                r.status,
                r.body.replace("%URL%", url).replace("%SIG%", TEAMS_SIGNATURE),
                r.headers,
                r.content_type,
                r.hang,
            )
            for r in replies
        )
    )
    caplog.set_level(logging.DEBUG)
    message = BLOCKS_MESSAGE if service == "slack" else TEAMS_MESSAGE

    with pytest.raises(WebhookError) as caught:
        post_webhook(url, message, service=service, timeout_seconds=timeout, sleep=sleep)

    error = caught.value
    seen = [str(error), repr(error), error.short, error.code, *map(str, error.args), caplog.text]
    seen += [str(getattr(error, name)) for name in vars(error)]
    assert error.__cause__ is None  # urllib's exceptions carry the URL: not chained
    for text in seen:
        assert _leaks(text, url) == [], text


# --- the text-only fallback ----------------------------------------------------------------------


def test_slack_text_fallback_keeps_only_the_text() -> None:
    assert slack_text_fallback(BLOCKS_MESSAGE) == {"text": BLOCKS_MESSAGE["text"]}


def test_slack_text_fallback_is_cut_to_slacks_limit() -> None:
    fallback = slack_text_fallback({"text": "x" * 50_000, "blocks": []})

    assert len(fallback["text"]) == SLACK_TEXT_MAX_CHARS
    assert fallback["text"].endswith("…")


def test_slack_text_fallback_without_text_uses_the_blocks_text() -> None:
    fallback = slack_text_fallback({"blocks": BLOCKS_MESSAGE["blocks"]})

    assert fallback == {"text": "2 of 5 tenants failing\n*STALE* globex: 31 h old"}


def test_bad_arguments_are_refused() -> None:
    url = "https://hooks.slack.com/services/T0/B0/abc"
    with pytest.raises(ValueError, match="attempts"):
        post_webhook(url, {}, service="slack", attempts=0, opener=NeverOpener())
    with pytest.raises(ValueError, match="timeout"):
        post_webhook(url, {}, service="slack", timeout_seconds=0, opener=NeverOpener())
