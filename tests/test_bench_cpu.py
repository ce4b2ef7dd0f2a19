"""Smoke tests of ``benchmarks.cpu`` (issue #18): its clients agree, its server layer counts
and replays, and a verdict that differs cannot go unnoticed. Small worlds only."""

from __future__ import annotations

import http.client
import io
import json
import selectors
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from benchmarks.approaches import backupwatch_settings, backupwatch_verdicts
from benchmarks.cpu import Run, _verdict_errors, expected_verdicts, report
from benchmarks.cpu_server import BenchLayer, keep_alive_handler
from benchmarks.minimal import minimal_verdicts
from benchmarks.naive import naive_verdicts
from benchmarks.world import REGION, WorldSpec, build_world

NOW = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
TENANTS = 22
"""Enough for every fate of ``benchmarks/world.py``: OK, S3 stale (7), S3 missing (13), RDS
stale (21)."""


@pytest.fixture
def world(fake_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MOTO_RDS_SNAPSHOT_LIMIT", "1000")  # build_world raises it; restored
    with mock_aws():
        build_world(WorldSpec(tenants=TENANTS, now=NOW))
        yield


def test_every_client_reaches_the_worlds_verdicts(world: None) -> None:
    """naive, minimal and backupwatch, tenant by tenant, on one world (in-process moto)."""
    expected = expected_verdicts(TENANTS)
    assert set(expected.values()) == {"OK", "STALE", "MISSING"}
    assert naive_verdicts(boto3.Session(region_name=REGION), NOW) == expected
    assert minimal_verdicts(NOW, threads=4) == expected
    assert backupwatch_verdicts(backupwatch_settings(), NOW) == expected


def _run(client: str, verdicts: dict[str, str], cpu: float = 1.0, number: int = 1) -> Run:
    result = {
        "cpu_user": cpu,
        "cpu_sys": 0.0,
        "wall": 2.0,
        "rss_peak_kib": 100 * 1024,
        "rss_baseline_kib": 50 * 1024,
        "gc_collections": [10, 1, 0],
        "gc_seconds": 0.01,
        "verdicts": verdicts,
    }
    calls = {"rds:DescribeDBInstances": 1, "s3:ListObjectsV2": 4}
    return Run(4, client, number, False, [0.5, 0.4, 0.3], calls, result, {})


def test_a_verdict_that_differs_is_named() -> None:
    """One tenant off is enough to fail the benchmark, and the line says which."""
    right = expected_verdicts(4)
    assert _verdict_errors(_run("backupwatch", right)) == []
    wrong = dict(right, t00001="MISSING", t00003="STALE")
    (line,) = _verdict_errors(_run("backupwatch", wrong))
    assert "2 tenant(s) differ" in line
    assert "t00001: MISSING (world: OK)" in line


def test_the_report_gives_the_ratio_and_the_load() -> None:
    """backupwatch / minimal per N, and the load average of the runs, in the table."""
    runs = [
        _run("minimal", {}, cpu=0.010, number=1),
        _run("backupwatch", {}, cpu=0.006, number=1),
        _run("minimal", {}, cpu=0.012, number=2),
        _run("backupwatch", {}, cpu=0.006, number=2),
    ]
    text = report(runs, "- header", repeat=2)
    assert "| 4 | minimal | **2.75** (2.50-3.00)" in text
    assert "backupwatch / minimal CPU per tenant = 0.55" in text
    assert "| 0.50-0.50 |" in text


class _Moto:
    """A stand-in for moto's WSGI application: answers 200 with a counter, or an error."""

    def __init__(self, status: str = "200 OK") -> None:
        self.status = status
        self.asked = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.asked += 1
        body = f"<answer n='{self.asked}'/>".encode()
        start_response(self.status, [("Content-Length", str(len(body)))])
        return [body]


def _request(layer: BenchLayer, body: bytes = b"", path: str = "/", query: str = "") -> bytes:
    environ = {
        "REQUEST_METHOD": "POST" if body else "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "HTTP_HOST": "127.0.0.1:5000",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "HTTP_AUTHORIZATION": (
            "AWS4-HMAC-SHA256 Credential=testing/20261127/us-east-1/"
            f"{'rds' if body else 's3'}/aws4_request, SignedHeaders=host, Signature=x"
        ),
    }
    statuses: list[str] = []
    answer = layer(environ, lambda status, headers, *_: statuses.append(status))
    return b"".join(answer)


def test_the_server_layer_counts_every_call_and_replays_answers() -> None:
    """Counted by operation, replayed or not; only successful answers are replayed."""
    moto = _Moto()
    layer = BenchLayer(moto)
    page = b"Action=DescribeDBSnapshots&Version=2014-10-31&MaxRecords=100"
    first = _request(layer, page)
    assert _request(layer, page) == first  # the same bytes, moto not asked again
    listing = _request(layer, query="list-type=2&prefix=t00001-backups%2F")
    assert listing != first
    assert moto.asked == 2
    counts = json.loads(_request(layer, path="/__bench__/calls"))
    assert counts == {
        "calls": {"rds:DescribeDBSnapshots": 2, "s3:ListObjectsV2": 1},
        "replayed": 1,
    }
    json.loads(_request(layer, path="/__bench__/reset"))
    assert json.loads(_request(layer, path="/__bench__/calls"))["calls"] == {}

    failing = BenchLayer(_Moto("503 Service Unavailable"))
    _request(failing, page)
    _request(failing, page)
    assert failing.app.asked == 2  # type: ignore[attr-defined]


def test_the_server_keeps_connections_alive(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests one after another on one connection are all answered, none swallowed by
    werkzeug's drain (in-process: the same handler and layer as ``benchmarks.cpu_server``)."""
    import werkzeug.serving

    monkeypatch.setattr(werkzeug.serving, "selectors", selectors)  # what it was; restored after
    moto = _Moto()
    server = werkzeug.serving.make_server(
        "127.0.0.1", 0, BenchLayer(moto), threaded=True, request_handler=keep_alive_handler()
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=5)
        sockets = set()
        for number in range(5):
            connection.request("POST", "/", body=f"Action=DescribeDBSnapshots&n={number}")
            answer = connection.getresponse()
            assert (answer.status, answer.read()) == (200, f"<answer n='{number + 1}'/>".encode())
            assert answer.getheader("Connection") != "close"
            sockets.add(id(connection.sock))
        assert len(sockets) == 1
        connection.close()
    finally:
        server.shutdown()
        thread.join(timeout=5)
