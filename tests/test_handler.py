"""The Lambda entry point, end to end against moto: one digest per run, a true summary."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator

import pytest
import time_machine

from backupwatch import ConfigurationError, PublishError, Status
from handlers.daily_digest import lambda_handler

from .conftest import BUCKET, NOW, REGION, World, hours_ago

SetEnv = Callable[[dict[str, str]], None]


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    """Freeze wall time at NOW: the handler uses the real clock, as in production."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def settings_env(topic_arn: str, **extra: str) -> dict[str, str]:
    return {
        "BACKUPWATCH_SNS_TOPIC_ARN": topic_arn,
        "BACKUPWATCH_S3_BUCKET": BUCKET,
        "BACKUPWATCH_REGIONS": REGION,
        **extra,
    }


def one_ok_tenant(world: World) -> None:
    world.bucket()
    world.instance("db-ok", tenant="ok")
    world.put("ok-backups/x.dump", hours_ago(1))


def two_tenants(world: World) -> None:
    one_ok_tenant(world)
    world.instance("db-stale", tenant="stale", snapshot_at=hours_ago(30))
    world.put("stale-backups/x.dump", hours_ago(30))


def test_one_run_publishes_exactly_one_digest(
    world: World, patch_env: SetEnv, clock: object
) -> None:
    """A run with failing and OK tenants sends one message and returns the summary contract."""
    two_tenants(world)
    topic = world.topic()
    patch_env(settings_env(topic))

    result = lambda_handler({}, None)

    sent = world.published(topic)
    assert len(sent) == 1
    assert result == {
        "tenants": 2,
        "failing": 1,
        "by_status": {**{s.value: 0 for s in Status}, "STALE": 1, "OK": 1},
        "regions_failed": 0,
        "ok": False,
        "message_id": sent[0]["message_id"],
        "subject": "backupwatch 2026-11-27: 1 of 2 tenants failing",
        "report": None,
        "changes": None,
        "status_page": None,
        "deliveries": {"sns": "sent"},
    }
    json.dumps(result)  # the Lambda runtime must be able to serialise it
    assert sent[0]["subject"] == result["subject"]
    assert "STALE (1)" in sent[0]["message"]
    assert "  - stale [STALE] (db-stale, us-east-1):" in sent[0]["message"]
    assert sent[0]["attributes"]["failing"] == {"Type": "Number", "Value": "1"}


def test_all_ok_still_sends_the_daily_digest(
    world: World, patch_env: SetEnv, clock: object
) -> None:
    """BACKUPWATCH_NOTIFY=always (default): a good day is reported too."""
    one_ok_tenant(world)
    topic = world.topic()
    patch_env(settings_env(topic))
    result = lambda_handler({}, None)
    assert result["failing"] == 0
    assert [m["subject"] for m in world.published(topic)] == [
        "backupwatch 2026-11-27: all 1 tenants OK"
    ]


def test_notify_failures_with_all_ok_publishes_nothing(
    world: World, patch_env: SetEnv, clock: object
) -> None:
    """BACKUPWATCH_NOTIFY=failures stays silent on a good day and says so in the result."""
    one_ok_tenant(world)
    topic = world.topic()
    patch_env(settings_env(topic, BACKUPWATCH_NOTIFY="failures"))
    result = lambda_handler({}, None)
    assert result["message_id"] is None
    assert world.published(topic) == []


def test_notify_failures_sends_when_something_fails(
    world: World, patch_env: SetEnv, clock: object
) -> None:
    """BACKUPWATCH_NOTIFY=failures still sends the one digest on a bad day."""
    two_tenants(world)
    topic = world.topic()
    patch_env(settings_env(topic, BACKUPWATCH_NOTIFY="failures"))
    lambda_handler({}, None)
    assert len(world.published(topic)) == 1


@pytest.mark.parametrize(
    ("event", "variables"),
    [({"dry_run": True}, {}), ({}, {"BACKUPWATCH_DRY_RUN": "true"})],
)
def test_dry_run_publishes_nothing(
    world: World,
    patch_env: SetEnv,
    clock: object,
    event: dict[str, bool],
    variables: dict[str, str],
) -> None:
    """A dry run (event or environment) evaluates everything and publishes nothing."""
    two_tenants(world)
    topic = world.topic()
    patch_env(settings_env(topic, **variables))
    result = lambda_handler(event, None)
    assert (result["tenants"], result["failing"], result["message_id"]) == (2, 1, None)
    assert world.published(topic) == []


def test_bad_configuration_raises_before_any_aws_call(
    world: World, patch_env: SetEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad variable raises ConfigurationError naming it, and no AWS client is even built."""
    patch_env(settings_env("arn:aws:sns:us-east-1:123456789012:t", BACKUPWATCH_MAX_AGE_HOURS="-3"))
    monkeypatch.setattr("boto3.Session", lambda *a, **k: pytest.fail("AWS touched"))
    with pytest.raises(ConfigurationError, match="BACKUPWATCH_MAX_AGE_HOURS") as raised:
        lambda_handler({}, None)
    assert raised.value.variable == "BACKUPWATCH_MAX_AGE_HOURS"


def test_failed_publish_raises_and_logs_the_digest(
    world: World, patch_env: SetEnv, clock: object, caplog: pytest.LogCaptureFixture
) -> None:
    """A topic that does not exist: PublishError is raised and the full digest is in the logs."""
    two_tenants(world)
    patch_env(settings_env("arn:aws:sns:us-east-1:123456789012:no-such-topic"))
    with caplog.at_level(logging.ERROR, logger="backupwatch"), pytest.raises(PublishError):
        lambda_handler({}, None)
    logged = caplog.text
    assert "1 of 2 tenants failing" in logged
    assert "  - stale [STALE] (db-stale, us-east-1):" in logged


def test_three_thousand_failing_long_names_fit_sns_limits(
    world: World, patch_env: SetEnv, clock: object
) -> None:
    """3,000 failing tenants with long unicode names: one message within SNS limits, true counts."""
    topic = world.topic()
    seeds = {
        f"DB_INSTANCE_IDENTIFIER_{n}": f"tenant-{n:04d}-{'ü' * 80}-{'x' * 100}" for n in range(3000)
    }
    patch_env(settings_env(topic, BACKUPWATCH_CHECKS="rds", **seeds))

    result = lambda_handler({}, None)

    assert (result["tenants"], result["failing"]) == (3000, 3000)
    [sent] = world.published(topic)
    subject, message = sent["subject"], sent["message"]
    assert subject == "backupwatch 2026-11-27: 3000 of 3000 tenants failing"
    assert subject.isascii()
    assert len(subject) < 100
    assert "\n" not in subject
    attributes_size = len("failing") + len("Number") + len("3000")
    # What SNS counts: the whole per-protocol message, every protocol's string in it.
    assert len(sent["raw"].encode()) + attributes_size <= 262_144
    assert "3000 of 3000 tenants failing (3000 ERROR); 0 OK." in message
    shown = sum(1 for line in message.splitlines() if line.startswith("  - "))
    assert 0 < shown < 3000
    # The email's text was cut twice: by the digest (to SNS's limit), then to leave room for
    # the other protocols; its last line counts every tenant line left out.
    assert message.endswith(
        f"({3000 - shown} tenant lines not shown in all); no full report was archived for this run."
    )


@pytest.mark.parametrize(
    ("value", "published"), [("false", True), ("true", False), (False, True), ("on", False)]
)
def test_event_dry_run_is_parsed_not_truthy(
    world: World, patch_env: SetEnv, clock: object, value: object, published: bool
) -> None:
    """``{"dry_run": "false"}`` is not a dry run: the string is parsed, not tested for truth."""
    two_tenants(world)
    topic = world.topic()
    patch_env(settings_env(topic))
    lambda_handler({"dry_run": value}, None)
    assert len(world.published(topic)) == (1 if published else 0)


def test_no_tenants_found_is_not_an_all_clear(
    world: World, patch_env: SetEnv, clock: object
) -> None:
    """A run that finds no tenant (a mistyped tag key?) is reported even with NOTIFY=failures."""
    world.bucket()
    world.instance("db-a", tenant=None, tags={"backupwatch:tennant": "a"})
    topic = world.topic()
    patch_env(settings_env(topic, BACKUPWATCH_NOTIFY="failures"))
    result = lambda_handler({}, None)
    assert (result["tenants"], result["ok"]) == (0, False)
    [sent] = world.published(topic)
    assert sent["subject"] == "backupwatch 2026-11-27: no tenants found, check the tenant tag"
    assert sent["attributes"]["failing"] == {"Type": "Number", "Value": "1"}


def test_bad_event_dry_run_is_a_configuration_error(world: World, patch_env: SetEnv) -> None:
    """An event dry_run that is neither true nor false is refused, naming event.dry_run."""
    patch_env(settings_env(world.topic()))
    with pytest.raises(ConfigurationError, match=r"event\.dry_run='maybe'"):
        lambda_handler({"dry_run": "maybe"}, None)
