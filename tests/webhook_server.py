"""A local chat-webhook server for tests: records every request, answers from a script.

``webhook_server`` runs ``http.server.ThreadingHTTPServer`` on 127.0.0.1 (a free port) in a
thread for one test. Each request is recorded (method, path, headers, raw and JSON body) before
it is answered, then answered by the next scripted ``Reply``; once the script is used up, every
request gets the default reply (Slack's ``200 ok``). A ``Reply(hang=True)`` never answers: the
client's own read timeout ends it (give the client a short one, such as 0.2 s; nothing here
sleeps).

It also lets ``backupwatch.aws.webhook`` reach it: the production rules take only https URLs on
Slack and Teams hosts, so the fixture allows http on 127.0.0.1 for the test's duration
(``_ALLOWED_SCHEMES`` and ``_ALLOWED_TEST_HOSTS``, patched and restored by ``monkeypatch``).

A test module registers the fixture by importing ``webhook_server_fixture`` (its function; the
fixture's name is ``webhook_server``, so the import shadows nothing), with ``Reply`` and the rest.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from backupwatch.aws import webhook

SLACK_TOKEN = "XoXsEcReTtOkEn0123456789"
"""The secret part of the test Slack URL: no error or log may contain it."""
TEAMS_SIGNATURE = "SiGsEcReT_0123456789abcdefXYZ"
"""The secret part of the test Teams URL (its ``sig``)."""
HANG_LIMIT_SECONDS = 10.0
"""A hanging handler gives up after this long even if the test never ends it (it always does)."""


@dataclass(frozen=True)
class Reply:
    """One scripted answer."""

    status: int = 200
    body: str = "ok"
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/plain; charset=utf-8"
    hang: bool = False
    """Never answer: the client's read timeout ends the exchange."""


OK = Reply()
"""Slack's success."""
ACCEPTED = Reply(202, "")
"""A Teams Workflows webhook's success."""


def rate_limited(retry_after: str | None = "1") -> Reply:
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    return Reply(429, "rate_limited", headers)


@dataclass(frozen=True)
class Recorded:
    """One request as it arrived."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class WebhookServer:
    """The server's state: its address, the script, and what it received."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.requests: list[Recorded] = []
        self.default = OK
        self._script: list[Reply] = []
        self._lock = threading.Lock()
        self.release = threading.Event()
        """Set at teardown: hanging handlers stop waiting."""

    @property
    def slack_url(self) -> str:
        """Shaped like a Slack incoming webhook's, token and all."""
        return f"{self.base_url}/services/T0000TEST/B0000TEST/{SLACK_TOKEN}"

    @property
    def teams_url(self) -> str:
        """Shaped like a Teams Workflows webhook's (powerplatform.com form), signature and all."""
        return (
            f"{self.base_url}/powerautomate/automations/direct/workflows/0a1b2c3d4e5f/triggers/"
            f"manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0"
            f"&sig={TEAMS_SIGNATURE}"
        )

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies``, in order, then with ``default``."""
        with self._lock:
            self._script.extend(replies)

    def _next(self, request: Recorded) -> Reply:
        with self._lock:
            self.requests.append(request)
            return self._script.pop(0) if self._script else self.default


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        recorded = Recorded("POST", self.path, dict(self.headers.items()), body)
        reply = self.server.state._next(recorded)
        if reply.hang:
            self.server.state.release.wait(HANG_LIMIT_SECONDS)
            self.close_connection = True
            return
        data = reply.body.encode("utf-8")
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test asserts on ``requests``, not on stderr."""


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    state: WebhookServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out and left is expected here, not an error worth a traceback."""


@pytest.fixture(name="webhook_server")
def webhook_server_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookServer]:
    """A local webhook server for this test, and backupwatch allowed to post to it over http."""
    server = _Server(("127.0.0.1", 0), _Handler)
    host, port = server.server_address[:2]
    state = WebhookServer(f"http://{host!s}:{port}")
    server.state = state
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.daemon = True
    thread.start()
    monkeypatch.setattr(webhook, "_ALLOWED_SCHEMES", frozenset({"https", "http"}))
    monkeypatch.setattr(webhook, "_ALLOWED_TEST_HOSTS", frozenset({"127.0.0.1"}))
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
