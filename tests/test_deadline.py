"""Deadline awareness: when time runs short, stop starting checks and still publish one digest.

Time here is a fake clock that moves only when an AWS request is sent (one second each), so
"the run is slow" is exact and nothing sleeps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import time_machine

import backupwatch.cli.main as cli
from backupwatch import AwsCallError, Deadline, Report, Retrier, Status, check_tenants
from backupwatch import load_settings as load
from handlers.daily_digest import lambda_handler

from .conftest import BUCKET, NOW, REGION, RecordingSleep, World, client_error_response, env_for
from .conftest import hours_ago as ago

SetEnv = Callable[[dict[str, str]], None]
NOT_CHECKED = "not checked: time budget exhausted"


@dataclass
class FakeTime:
    """A monotonic clock that advances by ``per_request`` seconds on every AWS request sent."""

    now: float = 1000.0
    per_request: float = 1.0
    requests: int = 0

    def __call__(self) -> float:
        return self.now

    def on_send(self, **_: Any) -> None:
        self.requests += 1
        self.now += self.per_request

    def attach(self, world: World) -> None:
        """Start counting: every request the world's session sends from now on costs time."""
        world.session.events.register("before-send", self.on_send)


@dataclass
class FakeLambdaContext:
    """Lambda's context: the time left until the function's timeout, on the fake clock."""

    time: FakeTime
    ends_at: float

    def get_remaining_time_in_millis(self) -> int:
        return int((self.ends_at - self.time()) * 1000)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def use_world_session(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Handlers build their own session: give them the world's (and its fake-time hook)."""
    monkeypatch.setattr("boto3.Session", lambda *_a, **_k: world.session)


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def tenants(world: World, count: int, time: FakeTime | None = None) -> list[str]:
    """``count`` OK tenants; then, if given, ``time`` starts ticking with each request."""
    world.bucket()
    names = [f"t{i:02d}" for i in range(count)]
    for name in names:
        world.instance(f"db-{name}", tenant=name)
        world.put(f"{name}-backups/x.dump", ago(1))
    if time is not None:
        time.attach(world)
    return names


def reasons(report: Report) -> dict[str, set[str]]:
    return {row.tenant: {r.reason for r in row.checks.values()} for row in report.tenants}


# --- Deadline itself ---------------------------------------------------------------------


def test_deadline_after_counts_down_on_the_monotonic_clock() -> None:
    time = FakeTime()
    deadline = Deadline.after(10, monotonic=time)
    assert deadline.seconds_left() == 10
    time.now += 4
    assert deadline.seconds_left() == 6
    assert not deadline.expired
    time.now += 6
    assert deadline.expired


def test_earlier_keeps_a_reserve() -> None:
    time = FakeTime()
    deadline = Deadline.after(60, monotonic=time).earlier(30)
    assert deadline.seconds_left() == 30
    time.now += 30
    assert deadline.expired


def test_from_lambda_context_reads_the_time_left_live() -> None:
    time = FakeTime()
    deadline = Deadline.from_lambda_context(FakeLambdaContext(time, ends_at=time.now + 90))
    assert deadline.seconds_left() == 90
    time.now += 89.5
    assert deadline.seconds_left() == pytest.approx(0.5)


# --- The retrier respects it ---------------------------------------------------------------


def test_no_attempt_starts_after_the_deadline(sleep: RecordingSleep) -> None:
    calls: list[int] = []
    retrier = Retrier(sleep=sleep, deadline=Deadline(lambda: 0.0))
    with pytest.raises(AwsCallError) as raised:
        retrier.call("s3:ListBucket", lambda: calls.append(1))
    assert raised.value.code == "DeadlineExceeded"
    assert calls == []


def test_no_backoff_begins_that_would_end_past_the_deadline() -> None:
    """Throttled forever with 3 s left: retries stop as soon as the next wait would not fit."""
    from botocore.exceptions import ClientError

    time = FakeTime()
    deadline = Deadline.after(3, monotonic=time)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.now += seconds

    def throttled() -> None:
        raise ClientError(client_error_response("Throttling")[1], "ListObjectsV2")  # type: ignore[arg-type]

    retrier = Retrier(sleep=sleep, deadline=deadline, attempts=50, budget_seconds=1e6)
    with pytest.raises(AwsCallError) as raised:
        retrier.call("s3:ListBucket", throttled)
    assert sum(waits) <= 3
    assert raised.value.code in {"Throttling", "DeadlineExceeded"}
    assert raised.value.attempts < 50


# --- check_tenants --------------------------------------------------------------------------


def test_a_run_past_its_deadline_marks_every_unreached_tenant(
    world: World, fake_time: FakeTime, retrier: Retrier
) -> None:
    """One request per second, 12 s of budget: the tenants reached are OK, the rest say why."""
    names = tenants(world, 20, fake_time)
    settings = load(env_for(BACKUPWATCH_S3_CONCURRENCY="1"))
    deadline = Deadline.after(12, monotonic=fake_time)

    report = check_tenants(
        settings, session=world.session, clock=lambda: NOW, retrier=retrier, deadline=deadline
    )

    assert [row.tenant for row in report.tenants] == names  # every tenant, once, in order
    unreached = [row for row in report.tenants if NOT_CHECKED in reasons(report)[row.tenant]]
    reached = [row for row in report.tenants if row not in unreached]
    assert reached
    assert unreached
    assert all(row.status is Status.OK for row in reached)
    assert all(row.status is Status.ERROR for row in unreached)
    assert report.failing
    # Nothing was started after the deadline: one request per tenant reached, plus
    # discovery and the snapshot listing, and at most one request in flight when time ran out.
    assert fake_time.requests <= 12 + 1


def test_a_deadline_already_past_still_returns_every_tenant(
    world: World, fake_time: FakeTime, retrier: Retrier
) -> None:
    """Discovery runs (it must, to name the tenants); no evidence call is made after that."""
    names = tenants(world, 5, fake_time)
    settings = load(env_for())
    deadline = Deadline.after(1, monotonic=fake_time)

    report = check_tenants(
        settings, session=world.session, clock=lambda: NOW, retrier=retrier, deadline=deadline
    )

    assert [row.tenant for row in report.tenants] == names
    assert all(row.status is Status.ERROR for row in report.tenants)
    assert all(reasons(report)[name] == {NOT_CHECKED} for name in names)
    assert fake_time.requests == 1  # DescribeDBInstances only


def test_no_deadline_checks_everything(world: World, retrier: Retrier) -> None:
    tenants(world, 3)
    report = check_tenants(
        load(env_for()), session=world.session, clock=lambda: NOW, retrier=retrier
    )
    assert {row.status for row in report.tenants} == {Status.OK}


# --- The Lambda handler ---------------------------------------------------------------------


def settings_env(topic: str, **extra: str) -> dict[str, str]:
    return {
        "BACKUPWATCH_SNS_TOPIC_ARN": topic,
        "BACKUPWATCH_S3_BUCKET": BUCKET,
        "BACKUPWATCH_REGIONS": REGION,
        "BACKUPWATCH_S3_CONCURRENCY": "1",
        **extra,
    }


@pytest.mark.usefixtures("use_world_session")
def test_handler_keeps_the_publish_reserve_and_still_publishes(
    world: World, fake_time: FakeTime, patch_env: SetEnv
) -> None:
    """15 s left and a 30 s reserve, shrunk to a quarter of 15 s: about 11 s of checks, not
    enough for 20 tenants at one request a second, then exactly one digest."""
    tenants(world, 20, fake_time)
    topic = world.topic()
    patch_env(settings_env(topic))
    context = FakeLambdaContext(fake_time, ends_at=fake_time.now + 15)

    result = lambda_handler({}, context)

    sent = world.published(topic)
    assert len(sent) == 1
    assert result["tenants"] == 20
    assert result["by_status"]["ERROR"] > 0
    assert result["ok"] is False
    assert NOT_CHECKED in sent[0]["message"]
    # The publish happened before the function's own timeout.
    assert context.get_remaining_time_in_millis() > 0


@pytest.mark.usefixtures("use_world_session")
def test_handler_with_less_time_than_the_reserve_still_checks_and_publishes(
    world: World, fake_time: FakeTime, patch_env: SetEnv
) -> None:
    """45 s left and a 60 s reserve: the reserve shrinks to a quarter of the time left (11 s),
    so the tenants are checked instead of none, and the digest still goes out in time."""
    tenants(world, 3, fake_time)
    topic = world.topic()
    patch_env(settings_env(topic, BACKUPWATCH_PUBLISH_RESERVE_SECONDS="60"))
    context = FakeLambdaContext(fake_time, ends_at=fake_time.now + 45)

    result = lambda_handler({}, context)

    assert len(world.published(topic)) == 1
    assert result["ok"] is True
    assert result["by_status"]["OK"] == 3
    assert context.get_remaining_time_in_millis() > 0


@pytest.mark.usefixtures("use_world_session")
def test_eight_seconds_and_slow_calls_list_every_tenant_and_publish_in_time(
    world: World, fake_time: FakeTime, patch_env: SetEnv
) -> None:
    """The issue's case: 8 s left, 0.4 s per AWS call, 40 tenants, the default 30 s reserve.
    A fixed reserve would check nothing and list nothing; the adaptive one lists all 40
    (discovery runs), checks what fits, and publishes one digest before the timeout."""
    fake_time.per_request = 0.4
    names = tenants(world, 40, fake_time)
    topic = world.topic()
    patch_env(settings_env(topic))
    context = FakeLambdaContext(fake_time, ends_at=fake_time.now + 8)

    result = lambda_handler({}, context)

    sent = world.published(topic)
    assert len(sent) == 1
    assert result["tenants"] == len(names) == 40
    assert result["regions_failed"] == 0
    assert result["ok"] is False  # some tenants are not checked: never an all-clear
    assert NOT_CHECKED in sent[0]["message"]
    assert context.get_remaining_time_in_millis() > 0


def test_reserve_shrinks_only_when_time_is_short(fake_time: FakeTime) -> None:
    plenty = Deadline.after(600, monotonic=fake_time).reserving(30)
    assert plenty.seconds_left() == pytest.approx(570)
    short = Deadline.after(8, monotonic=fake_time).reserving(30)
    assert short.seconds_left() == pytest.approx(8 - 3)  # the floor: max(3, 8 / 4)
    assert short.discovery.seconds_left() == pytest.approx(8 - 1.5)
    medium = Deadline.after(40, monotonic=fake_time).reserving(30)
    assert medium.seconds_left() == pytest.approx(30)  # a quarter of 40 s kept back
    gone = Deadline.after(1, monotonic=fake_time).reserving(30)
    assert gone.expired


def test_handler_without_a_context_has_no_deadline(world: World, patch_env: SetEnv) -> None:
    """A console test event may pass no usable context: the run simply has no deadline."""
    tenants(world, 2)
    topic = world.topic()
    patch_env(settings_env(topic))
    assert lambda_handler({}, object())["by_status"]["OK"] == 2


# --- The command line -----------------------------------------------------------------------


@pytest.mark.usefixtures("use_world_session")
@pytest.mark.parametrize("timeout", ["35", "8"])
def test_cli_timeout_stops_checks_and_still_reports(
    world: World,
    fake_time: FakeTime,
    patch_env: SetEnv,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    timeout: str,
) -> None:
    """``--timeout 35`` with the 30 s reserve (shrunk to a quarter of 35 s): the same cut-off
    as the Lambda, exit 1. ``--timeout 8``, shorter than the reserve itself (once refused): run
    like the Lambda with 8 s left. Either way every tenant is listed and one digest goes out.

    The fake clock adds up requests that are really concurrent: the S3 checks start during
    discovery, and the RDS listing runs beside them, so two overlapping calls count twice. With
    8 s, the publish's own margin leaves about 1 s for the calls in flight at the cut-off: 0.4 s
    a request keeps two of them within it."""
    fake_time.per_request = 1.0 if timeout == "35" else 0.4
    tenants(world, 40, fake_time)
    topic = world.topic()
    patch_env(settings_env(topic))
    after = Deadline.after
    monkeypatch.setattr(
        cli.Deadline, "after", classmethod(lambda cls, s: after(s, monotonic=fake_time))
    )

    code = cli.main(["check", "--json", "--timeout", timeout])

    report = Report.from_json(capsys.readouterr().out.encode())
    assert code == cli.EXIT_FAILING
    assert len(report.tenants) == 40
    assert any(NOT_CHECKED in row.reason for row in report.tenants)
    assert len(world.published(topic)) == 1


@pytest.mark.parametrize("value", ["3", "2.5", "0", "-1", "soon", "inf", "nan"])
def test_cli_refuses_a_timeout_that_leaves_no_time_to_check(
    value: str, patch_env: SetEnv, fake_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    patch_env(settings_env("arn:aws:sns:us-east-1:123456789012:digest"))
    try:
        code = cli.main(["check", "--timeout", value])
    except SystemExit as usage:  # argparse rejects what is not a positive number
        code = usage.code  # type: ignore[assignment]
    assert code == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "timeout" in err
    assert value in err


def test_a_deadline_after_discovery_stops_before_the_snapshot_listing(
    world: World, fake_time: FakeTime, retrier: Retrier
) -> None:
    """120 tenants: 2 instance pages and 1 cluster page use the 3 s. No snapshot page is
    asked for; every RDS check says it was not checked, and every tenant is still listed."""
    names = tenants(world, 120, fake_time)
    settings = load(env_for(BACKUPWATCH_CHECKS="rds"))
    deadline = Deadline.after(3, monotonic=fake_time)

    report = check_tenants(
        settings, session=world.session, clock=lambda: NOW, retrier=retrier, deadline=deadline
    )

    assert [row.tenant for row in report.tenants] == names
    assert {row.checks["rds"].reason for row in report.tenants} == {NOT_CHECKED}
    assert fake_time.requests == 3


def test_a_listing_stops_between_pages_at_the_deadline(sleep: RecordingSleep) -> None:
    """Page 1 of a listing uses the last second: page 2 is never requested."""
    from backupwatch.aws.pagination import pages

    time = FakeTime()
    requested: list[str | None] = []

    def list_page(**params: Any) -> dict[str, Any]:
        requested.append(params.get("Marker"))
        time.now += 1
        return {"Items": [1], "Marker": f"page-{len(requested) + 1}"}

    retrier = Retrier(sleep=sleep, deadline=Deadline.after(1, monotonic=time))
    listing = pages(
        retrier, "rds:DescribeDBSnapshots", list_page, token_in="Marker", token_out="Marker"
    )
    with pytest.raises(AwsCallError) as stopped:
        list(listing)
    assert requested == [None]
    assert stopped.value.short == "time budget exhausted before rds:DescribeDBSnapshots"
