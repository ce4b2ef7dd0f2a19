"""The moto server of ``benchmarks.cpu``, in a process of its own.

``python -m benchmarks.cpu_server SPEC``, where ``SPEC`` is a JSON ``ServerSpec``. The world
(``benchmarks/world.py``) is built in this process, through moto's backends, with
``benchmarks/moto_patches.py`` (RDS pages of 100 like AWS; indexed lookups), then served on
a free port of 127.0.0.1 by moto's own WSGI application behind a thin benchmark layer that:

- counts the AWS calls by operation (``GET /__bench__/calls``; ``POST /__bench__/reset``);
- with ``replay`` on, answers a request it has answered before (same method, host, path, query
  and body; the signature headers aside) with the same bytes, without asking moto again. The
  world is frozen while it serves, so the answer would be the same; what it saves is moto's
  own CPU (10 to 100 ms a call), which on a 2-core machine shared with the client under test
  would otherwise be most of each run's wall time.

The first line on stdout is JSON: ``{"port": ..., "world_seconds": ..., "now": ...}``. The
server stops when its stdin closes (the parent exits or closes the pipe).
"""

from __future__ import annotations

import io
import json
import logging
import re
import selectors
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

from . import moto_patches
from .world import BUCKET, REGION, WorldSpec, account_id, build_world, instance_id, prefix

StartResponse = Callable[..., Any]
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/")


@dataclass(frozen=True)
class ServerSpec:
    """The world to build and serve."""

    tenants: int
    now: str
    """ISO 8601, aware: every timestamp of the world is relative to it."""
    snapshots_per_tenant: int = 7
    objects_per_tenant: int = 30
    replay: bool = True


class BenchLayer:
    """WSGI middleware in front of moto: call counts, and replayed answers (module doc)."""

    def __init__(self, app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]) -> None:
        self.app = app
        self.replay = True
        self.calls: Counter[str] = Counter()
        self.replayed = 0
        self._answers: dict[tuple[str, ...], tuple[str, list[tuple[str, str]], bytes]] = {}
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/__bench__/"):
            return self._control(path, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        method = environ.get("REQUEST_METHOD", "GET")
        query = environ.get("QUERY_STRING", "")
        with self._lock:
            self.calls[_operation(environ, method, query, body)] += 1
        key = (method, environ.get("HTTP_HOST", ""), path, query, body.decode("latin-1"))
        if self.replay:
            answer = self._answers.get(key)
            if answer is not None:
                with self._lock:
                    self.replayed += 1
                status, headers, content = answer
                start_response(status, headers)
                return [content]
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            captured["status"], captured["headers"] = status, headers
            return start_response(status, headers, *exc)

        result = self.app(environ, capture)
        try:
            content = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if self.replay and captured.get("status", "").startswith("2"):
            self._answers[key] = (captured["status"], list(captured["headers"]), content)
        return [content]

    def _control(self, path: str, start_response: StartResponse) -> Iterable[bytes]:
        with self._lock:
            if path == "/__bench__/reset":
                self.calls.clear()
                self.replayed = 0
            payload = {"calls": dict(self.calls), "replayed": self.replayed}
        body = json.dumps(payload).encode()
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]


def keep_alive_handler() -> type:
    """moto's request handler, keeping connections alive between requests (and sending
    without Nagle's delay, as AWS's endpoints answer).

    werkzeug's development server ends every response with ``Connection: close`` and then
    drains the socket, which on a kept-alive connection would swallow the client's next
    request. Clients talk to AWS over kept-alive connections; without them each call would pay
    a new TCP connection here (socket, connect, close: client CPU that AWS does not cost). So
    the header is left out and the drain finds nothing to read: safe because ``BenchLayer``
    always reads a request's body whole, the one thing werkzeug's comment says ``http.server``
    cannot do by itself. Benchmark-only; this process serves nothing else.
    """
    import werkzeug.serving
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    werkzeug.serving.selectors = SimpleNamespace(  # type: ignore[assignment,attr-defined]
        DefaultSelector=_NothingToDrain, EVENT_READ=selectors.EVENT_READ
    )

    class KeepAlive(MotoRequestHandler):
        # Headers and body leave in two writes: without TCP_NODELAY the body waits for the
        # client's delayed ACK of the headers (40 ms) on every kept-alive request.
        disable_nagle_algorithm = True

        def send_header(self, keyword: str, value: str) -> None:
            if keyword.lower() == "connection" and value.lower() == "close":
                return
            super().send_header(keyword, value)

    return KeepAlive


class _NothingToDrain:
    """What werkzeug's drain after a response sees instead of a selector: nothing to read."""

    def register(self, *_: Any) -> None:
        pass

    def select(self, timeout: float | None = None) -> list[Any]:
        return []

    def close(self) -> None:
        pass


def _operation(environ: dict[str, Any], method: str, query: str, body: bytes) -> str:
    """``rds:DescribeDBSnapshots``, ``s3:ListObjectsV2``...: the service from the signature's
    credential scope; the query protocol's ``Action``; S3's from the method and query."""
    scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    service = scope.group(1) if scope else "unknown"
    if service == "s3":
        params = parse_qs(query, keep_blank_values=True)
        if method == "GET" and params.get("list-type") == ["2"]:
            return "s3:ListObjectsV2"
        return (
            f"s3:{method} {'object' if environ.get('PATH_INFO', '').count('/') > 1 else 'bucket'}"
        )
    action = parse_qs(body.decode("utf-8", "replace")).get("Action") or parse_qs(query).get(
        "Action"
    )
    return f"{service}:{action[0] if action else method}"


def main(argv: list[str]) -> int:
    spec = ServerSpec(**json.loads(argv[1]))
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from moto.rds.models import rds_backends
    from moto.s3.models import s3_backends
    from werkzeug.serving import make_server

    world = WorldSpec(
        tenants=spec.tenants,
        now=datetime.fromisoformat(spec.now),
        snapshots_per_tenant=spec.snapshots_per_tenant,
        objects_per_tenant=spec.objects_per_tenant,
    )
    started = time.perf_counter()
    moto_patches.install()
    build_world(world)
    s3_backend = s3_backends[account_id()]["aws"]
    rds_backend = rds_backends[account_id()][REGION]
    moto_patches.index_world(s3_backend, BUCKET, rds_backend)
    samples = sorted({0, spec.tenants // 2, spec.tenants - 1})
    moto_patches.self_check(
        s3_backend,
        BUCKET,
        [prefix(i) for i in samples],
        rds_backend,
        [instance_id(i) for i in samples],
    )
    seconds = time.perf_counter() - started

    layer = BenchLayer(DomainDispatcherApplication(create_backend_app))
    layer.replay = spec.replay
    server = make_server("127.0.0.1", 0, layer, threaded=True, request_handler=keep_alive_handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    ready = {"port": server.server_port, "world_seconds": seconds, "now": spec.now}
    print(json.dumps(ready), flush=True)
    sys.stdin.read()  # until the parent closes the pipe
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
