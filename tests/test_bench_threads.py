"""Smoke test of ``benchmarks.threads`` (issue #18, item 4): it runs on a tiny world at two
thread counts, and its floors are the arithmetic docs/performance.md states ("Threads and
function memory")."""

from __future__ import annotations

import pytest

from benchmarks.threads import (
    Sample,
    effective_share,
    lambda_wall,
    latency_floor,
    measure,
    order,
    parse_args,
    path_floor,
    rds_rate_floor,
    report,
    rows,
    threads_for,
    vcpu_share,
)

TENANTS = 14
"""Three of the fates of ``benchmarks/world.py``: OK, S3 stale (7), S3 missing (13)."""


def test_the_benchmark_runs_and_its_floors_are_its_counts(
    fake_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOTO_RDS_SNAPSHOT_LIMIT", "1000")  # build_world raises it; restored
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "123456789012")
    flags = ["--tenants", str(TENANTS), "--threads", "4,2", "--latency-ms", "2"]
    args = parse_args([*flags, "--repeat", "1", "--no-warmup"])

    samples, warmup, _ = measure(args)

    assert warmup is None
    assert [s.threads for s in samples] == [2, 4]  # round 1 ascends
    for sample in samples:  # measure() exits on other verdicts; these are the world's
        assert sample.verdicts == {"OK": 12, "STALE": 1, "MISSING": 1}
        assert sample.s3_calls == TENANTS  # one listing each: 30 undated keys fit one page
        assert sample.rds_calls >= 2  # discovery's instances and clusters, then snapshots
        assert sample.wall >= sample.total_calls * 0.002 / sample.threads
        assert sample.client_cpu == pytest.approx(sample.cpu - sample.moto_cpu)
    found = rows(samples, latency=0.002)
    two = found[0]
    assert two.floor == pytest.approx(two.calls / 2 * 0.002)
    assert two.path == pytest.approx(max(two.rds_calls * 0.002, TENANTS / 2 * 0.002))
    text = report(args, samples, warmup, 200.0)
    assert f"| 2 | {two.wall:.1f} (" in text
    assert f"| {two.floor:.2f} | {two.path:.2f} |" in text


def test_the_floors() -> None:
    assert latency_floor(1081, 8, 0.05) == pytest.approx(6.75625)
    # 1,000 S3 listings on 8 threads beside a chain of 81 RDS pages: S3 is longer (6.25 s).
    assert path_floor(81, 1000, 8, 0.05) == pytest.approx(6.25)
    # ... on 16 threads the RDS chain is (4.05 s against 3.125 s).
    assert path_floor(81, 1000, 16, 0.05) == pytest.approx(4.05)
    assert rds_rate_floor(81, 10.0, 10) == pytest.approx(7.1)
    assert rds_rate_floor(81, 100.0, 300) == 0.0


def test_the_lambda_arithmetic() -> None:
    assert vcpu_share(1769) == 1.0
    assert vcpu_share(512) == pytest.approx(0.29, abs=0.005)
    assert effective_share(2.0) == 1.0  # one interpreter lock
    assert lambda_wall(4.0, 6.0, 0.58) == pytest.approx(6.0 / 0.58)
    assert lambda_wall(4.0, 1.0, 1.0) == 4.0
    # 50 ms of latency, 5 ms of CPU per call on a whole vCPU: 10 threads keep it busy.
    assert threads_for(0.05, 0.005, 1.0) == pytest.approx(10.0)
    assert threads_for(0.05, 0.005, 2.0) == pytest.approx(10.0)
    assert threads_for(0.05, 0.005, 0.29) == pytest.approx(2.9)


def test_rounds_alternate_and_rows_take_medians() -> None:
    assert order([32, 8, 16], 1) == [8, 16, 32]
    assert order([32, 8, 16], 2) == [32, 16, 8]
    samples = [
        Sample(8, n, wall, 3.0, 1.0, 2.0, {"rds:X": 10, "s3:ListObjectsV2": 90}, 8, 1.0, 1, 2)
        for n, wall in ((1, 2.0), (2, 4.0))
    ]
    (row,) = rows(samples, latency=0.05)
    assert row.wall == 3.0
    assert row.calls == 100
    assert row.floor == pytest.approx(100 / 8 * 0.05)
    assert row.path == pytest.approx(max(10 * 0.05, 90 / 8 * 0.05))
    assert row.cpu_per_call_ms == pytest.approx(20.0)
    assert row.loads == [1, 2, 1, 2]
