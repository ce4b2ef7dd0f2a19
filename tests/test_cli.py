"""The ``backupwatch`` command: exit codes, JSON on stdout only, one-line errors."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
import time_machine

from backupwatch import Status
from handlers.cli import main

from .conftest import BUCKET, NOW, REGION, World, hours_ago

SetEnv = Callable[[dict[str, str]], None]


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def env(topic: str | None = None, **extra: str) -> dict[str, str]:
    base = {"BACKUPWATCH_S3_BUCKET": BUCKET, "BACKUPWATCH_REGIONS": REGION}
    if topic:
        base["BACKUPWATCH_SNS_TOPIC_ARN"] = topic
    return {**base, **extra}


def ok_tenant(world: World, name: str = "ok") -> None:
    world.instance(f"db-{name}", tenant=name)
    world.put(f"{name}-backups/x.dump", hours_ago(1))


def test_all_ok_exits_zero_and_publishes(
    world: World, patch_env: SetEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    """``check`` with every tenant OK exits 0 and publishes the one digest."""
    world.bucket()
    ok_tenant(world)
    topic = world.topic()
    patch_env(env(topic))
    assert main(["check"]) == 0
    out, err = capsys.readouterr()
    assert "ok" in out
    assert "OK" in out
    assert "digest published" in err
    assert len(world.published(topic)) == 1


def test_failing_tenant_exits_one(
    world: World, patch_env: SetEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    """Any failing tenant makes ``check`` exit 1; the table leads with it."""
    world.bucket()
    ok_tenant(world)
    world.instance("db-late", tenant="late", snapshot_at=hours_ago(40))
    patch_env(env())
    assert main(["check", "--dry-run"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("late")
    assert "MISSING" in lines[1]


def test_json_prints_only_the_report(
    world: World, patch_env: SetEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--json`` writes the report (summary + tenants with checks) and nothing else to stdout."""
    world.bucket()
    ok_tenant(world)
    patch_env(env())
    assert main(["check", "--json", "--dry-run"]) == 0
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["summary"] == {
        "tenants": 1,
        "failing": 0,
        "by_status": {**{s.value: 0 for s in Status}, "OK": 1},
        "regions_failed": 0,
    }
    [tenant] = report["tenants"]
    assert {k: tenant[k] for k in ("tenant", "db_instance_identifier", "region", "status")} == {
        "tenant": "ok",
        "db_instance_identifier": "db-ok",
        "region": REGION,
        "status": "OK",
    }
    assert tenant["reason"]
    s3 = tenant["checks"]["s3"]
    assert (s3["status"], s3["key"], s3["size_bytes"], s3["age_hours"]) == (
        "OK",
        "ok-backups/x.dump",
        1024,
        1.0,
    )
    assert tenant["checks"]["rds"]["key"].startswith("rds:db-ok-")
    assert "not published" in err


def test_dry_run_flag_publishes_nothing(world: World, patch_env: SetEnv) -> None:
    """``--dry-run`` overrides a configured topic: nothing is sent."""
    world.bucket()
    ok_tenant(world)
    topic = world.topic()
    patch_env(env(topic))
    assert main(["check", "--dry-run"]) == 0
    assert world.published(topic) == []


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"BACKUPWATCH_CHECKS": "rds,ec2"}, "BACKUPWATCH_CHECKS"),
        ({"BACKUPWATCH_MAX_AGE_HOURS": "yesterday"}, "BACKUPWATCH_MAX_AGE_HOURS"),
        ({"BACKUPWATCH_PREFIX_TEMPLATE": "{tenant}/{date}/"}, "BACKUPWATCH_PREFIX_TEMPLATE"),
        (
            {"BACKUPWATCH_SNS_TOPIC_ARN": "arn:aws:sqs:us-east-1:123456789012:q"},
            "BACKUPWATCH_SNS_TOPIC_ARN",
        ),
    ],
)
def test_configuration_error_exits_two_with_one_line(
    fake_env: None,
    patch_env: SetEnv,
    capsys: pytest.CaptureFixture[str],
    variables: dict[str, str],
    named: str,
) -> None:
    """A bad variable: exit 2, one line on stderr naming it and its value, no traceback."""
    patch_env(env(**variables))
    assert main(["check", "--dry-run"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert named in err
    assert variables[named] in err
    assert "Traceback" not in err


def test_missing_topic_without_dry_run_is_a_configuration_error(
    fake_env: None, patch_env: SetEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    """Publishing needs a topic: without one (and without --dry-run) ``check`` exits 2."""
    patch_env(env())
    assert main(["check"]) == 2
    assert "BACKUPWATCH_SNS_TOPIC_ARN" in capsys.readouterr().err


def test_usage_error_exits_two(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown command or flag is a usage error (exit 2)."""
    with pytest.raises(SystemExit) as raised:
        main(["check", "--frobnicate"])
    assert raised.value.code == 2


def test_failed_publish_exits_three(
    world: World, patch_env: SetEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    """A digest that cannot be published: exit 3, one line on stderr, the report still printed."""
    world.bucket()
    ok_tenant(world)
    patch_env(env("arn:aws:sns:us-east-1:123456789012:gone"))
    assert main(["check"]) == 3
    out, err = capsys.readouterr()
    assert "ok" in out
    assert "could not publish the digest" in err
    assert err.strip().splitlines()[-1].startswith("backupwatch: could not publish")
