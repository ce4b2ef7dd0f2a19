"""The client-side RDS rate limit: a token bucket, proven with a fake clock (no waiting)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest

from backupwatch import Retrier, check_tenants, load_settings
from backupwatch.aws.ratelimit import TokenBucket

from .conftest import NOW, RecordingSleep, World, env_for, hours_ago


@dataclass
class Clock:
    """Fake monotonic time; ``sleep`` advances it, so waits add up exactly."""

    now: float = 0.0
    waits: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def test_a_burst_passes_without_waiting() -> None:
    clock = Clock()
    bucket = TokenBucket(10, 5, monotonic=clock, sleep=clock.sleep)
    for _ in range(5):
        bucket.acquire()
    assert clock.waits == []


def test_beyond_the_burst_requests_are_spaced_at_the_rate() -> None:
    """25 requests at 10/s with a burst of 5: the last 20 take 2 s, one every 0.1 s."""
    clock = Clock()
    bucket = TokenBucket(10, 5, monotonic=clock, sleep=clock.sleep)
    for _ in range(25):
        bucket.acquire()
    assert len(clock.waits) == 20
    assert clock.now == pytest.approx(2.0)
    assert all(wait == pytest.approx(0.1) for wait in clock.waits)
    assert bucket.waited_seconds == pytest.approx(2.0)


def test_idle_time_refills_the_bucket_up_to_the_burst_only() -> None:
    clock = Clock()
    bucket = TokenBucket(10, 5, monotonic=clock, sleep=clock.sleep)
    for _ in range(5):
        bucket.acquire()
    clock.now += 3600  # an hour idle saves up 5 tokens, not 36,000
    for _ in range(6):
        bucket.acquire()
    assert clock.waits == [pytest.approx(0.1)]


def test_threads_share_the_rate() -> None:
    """Eight threads, 100 requests, rate 10/s, burst 10: 9 s of spacing, however interleaved."""
    clock = Clock()
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        with lock:
            clock.waits.append(seconds)

    bucket = TokenBucket(10, 10, monotonic=clock, sleep=sleep)
    threads = [
        threading.Thread(target=lambda: [bucket.acquire() for _ in range(25)]) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Time never moves here, so each request waits for its own slot in the queue: the n-th
    # request beyond the burst waits n/10 s. The total is exact whatever the interleaving.
    assert bucket.waited_seconds == pytest.approx(sum(n / 10 for n in range(1, 91)))
    assert max(clock.waits) == pytest.approx(9.0)


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_nonsense_limits_are_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="rate must be"):
        TokenBucket(rate, burst)


def test_every_rds_request_of_a_run_takes_a_token(
    world: World, retrier: Retrier, sleep: RecordingSleep, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run's RDS requests (discovery and snapshots) go through the bucket; S3's do not."""
    world.bucket()
    for n in range(3):
        world.instance(f"db-{n}", tenant=f"t{n}")
        world.put(f"t{n}-backups/x.dump", hours_ago(1))
    taken: list[str] = []
    original = TokenBucket.acquire

    def counting_acquire(self: TokenBucket) -> None:
        taken.append("token")
        original(self)

    monkeypatch.setattr(TokenBucket, "acquire", counting_acquire)
    rds_sent: list[str] = []
    world.session.events.register("before-send.rds", lambda **_: rds_sent.append("rds"))

    check_tenants(
        load_settings(env_for(BACKUPWATCH_RDS_BURST="1")),  # waits go to the retrier's sleep
        session=world.session,
        clock=lambda: NOW,
        retrier=retrier,
    )

    # DescribeDBInstances, DescribeDBClusters, DescribeDBSnapshots (no cluster: no cluster listing)
    assert len(taken) == len(rds_sent) == 3
    assert len(sleep.waits) >= 1  # burst 1: the second request waited (on the fake sleep)
