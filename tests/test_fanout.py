"""The state machine's data path, handler by handler, the way Step Functions drives it.

moto interprets ASL but cannot run Lambda code without docker, so the chain is driven here:
``plan_scopes`` writes the scope list; ``scan_scope`` runs once per scope, as the Distributed
Map's children would; the Map's ResultWriter output (manifest and result files, in AWS's exact
format) is written to moto's S3; ``publish_digest`` reads it back and publishes one digest.
Every AWS call the handlers make goes to moto, with assumed roles in three member accounts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import boto3
import pytest
import time_machine

from backupwatch import ConfigurationError, PublishError, Report, Scope, Status
from backupwatch.aws.fanout_store import gather, store_scan
from backupwatch.core.fanout import (
    Plan,
    Received,
    ScanResult,
    StepError,
    collect,
    read_entry,
    read_publish_event,
    scopes_key,
)
from backupwatch.core.models import Check, RegionError, S3Location, TenantReport
from handlers import plan_scopes, publish_digest, scan_scope

from .conftest import (
    BUCKET,
    DENIED,
    MEMBER_ROLE,
    NOW,
    OTHER_REGION,
    REGION,
    Faults,
    World,
    hours_ago,
)

SetEnv = Callable[[dict[str, str]], None]

MEMBERS = ("111111111111", "222222222222", "333333333333")
REGIONS = (REGION, OTHER_REGION)
REPORTS = "backupwatch-reports"
RUN_ID = "daily-2026-11-27"
MAP_RUN_ID = "0b5e7a53-4c6f-3a51-9d2e-8a1f0c2d9e47"
STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:backupwatch"
MAP_RUN_ARN = f"arn:aws:states:us-east-1:123456789012:mapRun:backupwatch/Scan:{MAP_RUN_ID}"
THROTTLED = {"Error": "Lambda.TooManyRequestsException", "Cause": "Rate Exceeded."}


def role(account: str) -> str:
    return f"arn:aws:iam::{account}:role/{MEMBER_ROLE}"


@dataclass
class FakeContext:
    """The parts of Lambda's context the handlers read; ten minutes left, always."""

    aws_request_id: str = "req-1"
    function_name: str = "backupwatch-publish"
    remaining_ms: int = 600_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


CONTEXT = FakeContext()


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    """Wall time frozen at NOW: the handlers use the real clock, as in production."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@dataclass
class Fleet:
    """Three member accounts x two regions in moto, one fresh tenant per scope and a stale one
    in 333333333333 eu-west-1; the home account holds the topic and the report bucket."""

    world: World
    env: dict[str, str]
    topic: str
    tenants: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    """(account, region) -> tenant names."""


def build_fleet(world: World) -> Fleet:
    world.bucket()
    world.bucket(REPORTS)
    topic = world.topic()
    targets = []
    tenants: dict[tuple[str, str], list[str]] = {}
    for account in MEMBERS:
        member = World.in_account(account)
        bucket = member.bucket(f"backups-{account}")
        for region in REGIONS:
            name = f"t{account[0]}-{region}"
            member.instance(f"db-{name}", tenant=name, region=region)
            member.put(f"{name}-backups/x.dump", hours_ago(1), bucket=bucket)
            tenants[(account, region)] = [name]
        if account == "333333333333":
            member.instance(
                "db-stale", tenant="stale", region=OTHER_REGION, snapshot_at=hours_ago(30)
            )
            member.put("stale-backups/x.dump", hours_ago(30), bucket=bucket)
            tenants[(account, OTHER_REGION)].append("stale")
        targets.append({"role_arn": role(account), "s3_bucket": bucket})
    env = {
        "BACKUPWATCH_SNS_TOPIC_ARN": topic,
        "BACKUPWATCH_S3_BUCKET": BUCKET,
        "BACKUPWATCH_REGIONS": ",".join(REGIONS),
        "BACKUPWATCH_TARGETS": json.dumps(targets),
        "BACKUPWATCH_REPORT_BUCKET": REPORTS,
    }
    return Fleet(world=world, env=env, topic=topic, tenants=tenants)


@pytest.fixture
def fleet(world: World, patch_env: SetEnv, clock: object) -> Fleet:
    built = build_fleet(world)
    patch_env(built.env)
    return built


@pytest.fixture
def settings_only(world: World, patch_env: SetEnv, clock: object) -> Fleet:
    """The fleet's settings, topic and report bucket, without its tenants (for tests that never
    scan): building the fleet's accounts is the slow part."""
    world.bucket(REPORTS)
    topic = world.topic()
    targets = [{"role_arn": role(account)} for account in MEMBERS]
    env = {
        "BACKUPWATCH_SNS_TOPIC_ARN": topic,
        "BACKUPWATCH_S3_BUCKET": BUCKET,
        "BACKUPWATCH_REGIONS": ",".join(REGIONS),
        "BACKUPWATCH_TARGETS": json.dumps(targets),
        "BACKUPWATCH_REPORT_BUCKET": REPORTS,
    }
    patch_env(env)
    return Fleet(world=world, env=env, topic=topic)


# --- what Step Functions does between the handlers ----------------------------------------------


def map_items(world: World, plan: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The Map's ItemReader: the JSON array in scopes.json, one item per scope."""
    body = world.s3.get_object(Bucket=plan["bucket"], Key=plan["scopes_key"])["Body"].read()
    items: list[dict[str, Any]] = json.loads(body)
    return items


def child_input(plan: Mapping[str, Any], item: Mapping[str, Any]) -> dict[str, Any]:
    """The Map's ItemSelector."""
    return {"scope": dict(item), "run_id": plan["run_id"], "bucket": plan["bucket"]}


def execution(
    child: Mapping[str, Any],
    number: int,
    *,
    output: Any = None,
    error: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One child execution as the ResultWriter writes it (Transformation NONE, the default):
    ``Input`` and ``Output`` are JSON strings; a failed child has ``Error``/``Cause`` instead."""
    name = f"{MAP_RUN_ID[:8]}-{number:04d}"
    entry: dict[str, Any] = {
        "ExecutionArn": f"{STATE_MACHINE.replace('stateMachine', 'execution')}/Scan:{name}",
        "Input": json.dumps(child),
        "InputDetails": {"Included": True},
        "Name": name,
        "RedriveCount": 0,
        "StartDate": "2026-11-27T07:00:01.123Z",
        "StateMachineArn": f"{STATE_MACHINE}/Scan",
        "StopDate": "2026-11-27T07:00:09.456Z",
    }
    if error is None:
        entry.update(
            {
                "Output": json.dumps(output),
                "OutputDetails": {"Included": True},
                "RedriveStatus": "NOT_REDRIVABLE",
                "RedriveStatusReason": "Execution is SUCCEEDED and cannot be redriven",
                "Status": "SUCCEEDED",
            }
        )
    else:
        entry.update({**error, "RedriveStatus": "REDRIVABLE", "Status": "FAILED"})
    return entry


def write_results(
    world: World, files: Mapping[str, list[list[dict[str, Any]]]], *, prefix: str
) -> dict[str, Any]:
    """What the ResultWriter leaves: one file per status and chunk, a manifest listing them,
    and the Map's output pointing at the manifest."""
    base = f"{prefix}{MAP_RUN_ID}/"
    listed: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    for status, chunks in files.items():
        for number, entries in enumerate(chunks):
            key = f"{base}{status}_{number}.json"
            body = json.dumps(entries).encode()
            world.s3.put_object(Bucket=REPORTS, Key=key, Body=body)
            listed[status].append({"Key": key, "Size": len(body)})
    manifest = {"DestinationBucket": REPORTS, "MapRunArn": MAP_RUN_ARN, "ResultFiles": listed}
    world.s3.put_object(Bucket=REPORTS, Key=f"{base}manifest.json", Body=json.dumps(manifest))
    return {
        "MapRunArn": MAP_RUN_ARN,
        "ResultWriterDetails": {"Bucket": REPORTS, "Key": f"{base}manifest.json"},
    }


def is_failing_scope(item: Mapping[str, Any]) -> bool:
    return (item["account_id"], item["region"]) == ("222222222222", REGION)


def plan_and_scan(
    fleet: Fleet, *, fail: Callable[[Mapping[str, Any]], bool] = is_failing_scope
) -> tuple[dict[str, Any], list[tuple[dict[str, Any], dict[str, Any] | None]]]:
    """Run the plan step, then every scope's scan except those ``fail`` picks (their child is
    throttled out: no output). Returns the plan and (child input, output or None) per item."""
    plan = plan_scopes.lambda_handler({"run_id": RUN_ID}, CONTEXT)
    children = []
    for item in map_items(fleet.world, plan):
        child = child_input(plan, item)
        output = None if fail(item) else scan_scope.lambda_handler(child, CONTEXT)
        children.append((child, output))
    return plan, children


def caught(child: Mapping[str, Any]) -> dict[str, Any]:
    """The Map's Catch -> Pass state: the child's input plus the error at ``$.error``."""
    return {**child, "error": THROTTLED}


def the_digest(fleet: Fleet) -> dict[str, Any]:
    [sent] = fleet.world.published(fleet.topic)
    return sent


# --- the whole chain ------------------------------------------------------------------------------


@pytest.mark.parametrize("failure", ["caught", "failed"])
def test_three_accounts_two_regions_one_failed_scope_one_digest(
    fleet: Fleet, failure: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Plan, six scans (one throttled out, caught or FAILED), ResultWriter files, publish: one
    SNS message naming every checked tenant with its account, and the failed scope."""
    plan, children = plan_and_scan(fleet)
    assert plan["scope_count"] == 6
    succeeded = [execution(c, n, output=o) for n, (c, o) in enumerate(children) if o is not None]
    failed_child = next(c for c, o in children if o is None)
    files: dict[str, list[list[dict[str, Any]]]]
    if failure == "caught":  # the Catch turned the failure into a succeeded item
        succeeded.append(execution(failed_child, 9, output=caught(failed_child)))
        files = {"SUCCEEDED": [succeeded[:3], succeeded[3:]], "FAILED": [[]]}
    else:
        files = {
            "SUCCEEDED": [succeeded[:3], succeeded[3:]],
            "FAILED": [[execution(failed_child, 9, error=THROTTLED)]],
        }
    scan = write_results(fleet.world, files, prefix="backupwatch/runs/")
    capsys.readouterr()

    result = publish_digest.lambda_handler({"plan": plan, "scan": scan}, CONTEXT)

    sent = the_digest(fleet)
    message = sent["message"]
    assert (
        sent["subject"] == "backupwatch 2026-11-27: 1 of 6 tenants failing, 1 scope(s) not checked"
    )
    assert "Accounts (3): 111111111111, 222222222222, 333333333333." in message
    assert "Regions: eu-west-1, us-east-1." in message
    assert "SCOPES NOT CHECKED (1)" in message
    reason = "scan failed: Lambda.TooManyRequestsException: Rate Exceeded."
    assert f"  - 222222222222 us-east-1: {reason}\n" in message
    assert "  - stale [STALE] (db-stale, 333333333333 eu-west-1):" in message
    assert "OK: 5 tenant(s) with fresh backups." in message
    assert "t2-us-east-1" not in message  # never checked, so never claimed
    report_key = "backupwatch/reports/2026/11/27/070000Z.json"
    assert f"Full report: s3://{REPORTS}/{report_key}" in message
    archived = Report.from_json(
        fleet.world.s3.get_object(Bucket=REPORTS, Key=report_key)["Body"].read()
    )
    assert {(row.account_id, row.region, row.tenant) for row in archived.tenants} == {
        (account, region, name)
        for (account, region), names in fleet.tenants.items()
        if (account, region) != ("222222222222", REGION)
        for name in names
    }
    assert result["scopes"] == 6
    assert result["scopes_failed"] == 1
    assert (result["tenants"], result["failing"], result["regions_failed"]) == (6, 1, 1)
    assert result["ok"] is False
    assert result["message_id"] == sent["message_id"]
    assert result["report"] == f"s3://{REPORTS}/{report_key}"
    json.dumps(result)
    [metrics] = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line
    ]
    assert (metrics["Heartbeat"], metrics["Tenants"], metrics["RegionsFailed"]) == (1, 6, 1)


def test_scan_failure_with_status_failed_says_the_status(fleet: Fleet) -> None:
    """A child that ended TIMED_OUT (no Catch applies) is reported with that status."""
    plan, children = plan_and_scan(fleet)
    entries = [execution(c, n, output=o) for n, (c, o) in enumerate(children) if o is not None]
    failed_child = next(c for c, o in children if o is None)
    timed_out = execution(failed_child, 9, error={"Error": "States.Timeout", "Cause": ""})
    timed_out["Status"] = "TIMED_OUT"
    scan = write_results(
        fleet.world, {"SUCCEEDED": [entries], "FAILED": [[timed_out]]}, prefix="runs/"
    )
    publish_digest.lambda_handler({"plan": plan, "scan": scan}, CONTEXT)
    assert (
        "  - 222222222222 us-east-1: scan timed_out: States.Timeout\n"
        in the_digest(fleet)["message"]
    )


def test_inline_results_give_the_same_digest_as_the_result_writer(fleet: Fleet) -> None:
    """``{"plan", "results": [...]}`` (an inline Map, or a manual run) is merged the same way."""
    plan, children = plan_and_scan(fleet)
    results = [o if o is not None else caught(c) for c, o in children]

    result = publish_digest.lambda_handler({"plan": plan, "results": results}, CONTEXT)

    message = the_digest(fleet)["message"]
    assert "  - 222222222222 us-east-1: scan failed: Lambda.TooManyRequestsException" in message
    assert (result["tenants"], result["failing"], result["scopes_failed"]) == (6, 1, 1)


def test_large_report_goes_through_s3_and_comes_back_whole(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scan whose output would be too large returns its S3 key; publish reads it back."""
    monkeypatch.setattr("backupwatch.aws.fanout_store.INLINE_MAX_BYTES", 1_000)
    plan, children = plan_and_scan(fleet, fail=lambda item: False)
    outputs = [o for _, o in children if o is not None]
    assert all("report" not in o for o in outputs)
    locations = {o["report_s3"]["key"] for o in outputs}
    assert f"backupwatch/runs/{RUN_ID}/partials/333333333333-eu-west-1.json" in locations
    assert {o["report_s3"]["bucket"] for o in outputs} == {REPORTS}

    result = publish_digest.lambda_handler({"plan": plan, "results": outputs}, CONTEXT)

    assert (result["tenants"], result["failing"], result["scopes_failed"]) == (7, 1, 0)
    assert "  - stale [STALE] (db-stale, 333333333333 eu-west-1):" in the_digest(fleet)["message"]


def test_unreadable_partial_report_fails_only_its_scope(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A partial report deleted from S3 makes its scope a scope error; the others still count."""
    monkeypatch.setattr("backupwatch.aws.fanout_store.INLINE_MAX_BYTES", 1_000)
    plan, children = plan_and_scan(fleet, fail=lambda item: False)
    outputs = [o for _, o in children if o is not None]
    lost = f"backupwatch/runs/{RUN_ID}/partials/111111111111-us-east-1.json"
    fleet.world.s3.delete_object(Bucket=REPORTS, Key=lost)

    result = publish_digest.lambda_handler({"plan": plan, "results": outputs}, CONTEXT)

    message = the_digest(fleet)["message"]
    assert (
        f"  - 111111111111 us-east-1: its report s3://{REPORTS}/{lost} could not be read: "
        "NoSuchKey on s3:GetObject" in message
    )
    assert (result["tenants"], result["scopes_failed"]) == (6, 1)


def test_scopes_with_no_result_are_reported_missing(fleet: Fleet) -> None:
    """Planned scopes that no result file mentions are scope errors, never a silent gap."""
    plan, children = plan_and_scan(fleet)
    some = [execution(c, n, output=o) for n, (c, o) in enumerate(children[:2]) if o is not None]
    scan = write_results(fleet.world, {"SUCCEEDED": [some]}, prefix="runs/")

    result = publish_digest.lambda_handler({"plan": plan, "scan": scan}, CONTEXT)

    message = the_digest(fleet)["message"]
    heard = {(c["scope"]["account_id"], c["scope"]["region"]) for c, o in children[:2] if o}
    silent = [(a, r) for a in MEMBERS for r in REGIONS if (a, r) not in heard]
    assert len(silent) == 4
    for account, region in silent:
        assert f"  - {account} {region}: no result from the scan\n" in message
    assert result["scopes_failed"] == 4
    assert result["regions_failed"] == 4


def test_unreadable_manifest_still_sends_the_digest(fleet: Fleet) -> None:
    """A manifest that is not there: every planned scope is a scope error saying why, and the
    one digest still goes out."""
    plan, _ = plan_and_scan(fleet)
    manifest = f"runs/{MAP_RUN_ID}/manifest.json"
    scan = {"MapRunArn": MAP_RUN_ARN, "ResultWriterDetails": {"Bucket": REPORTS, "Key": manifest}}

    result = publish_digest.lambda_handler({"plan": plan, "scan": scan}, CONTEXT)

    sent = the_digest(fleet)
    why = (
        f"no result from the scan (the scan's manifest s3://{REPORTS}/{manifest} could not be "
        "read: NoSuchKey on s3:GetObject)"
    )
    assert sent["subject"] == "backupwatch 2026-11-27: no tenants found, 6 scope(s) not checked"
    for account in MEMBERS:
        for region in REGIONS:
            assert f"  - {account} {region}: {why}" in sent["message"]
    assert (result["scopes"], result["scopes_failed"], result["tenants"]) == (6, 6, 0)


def test_unreadable_result_file_fails_the_scopes_it_held(fleet: Fleet) -> None:
    """A result file that is not JSON loses only the scopes it held, and says which file."""
    plan, children = plan_and_scan(fleet, fail=lambda item: False)
    entries = [execution(c, n, output=o) for n, (c, o) in enumerate(children)]
    scan = write_results(fleet.world, {"SUCCEEDED": [entries[:4], entries[4:]]}, prefix="runs/")
    broken = f"runs/{MAP_RUN_ID}/SUCCEEDED_1.json"
    fleet.world.s3.put_object(Bucket=REPORTS, Key=broken, Body=b'[{"Status": ')

    result = publish_digest.lambda_handler({"plan": plan, "scan": scan}, CONTEXT)

    message = the_digest(fleet)["message"]
    assert f"result file s3://{REPORTS}/{broken} could not be read" in message
    assert result["scopes_failed"] == 2


def test_unreadable_scope_list_still_sends_what_was_heard(fleet: Fleet) -> None:
    """scopes.json gone by publish time: the digest says the list could not be read, and still
    reports every scope that did report."""
    plan, children = plan_and_scan(fleet)
    fleet.world.s3.delete_object(Bucket=REPORTS, Key=plan["scopes_key"])
    results = [o if o is not None else caught(c) for c, o in children]

    result = publish_digest.lambda_handler({"plan": plan, "results": results}, CONTEXT)

    message = the_digest(fleet)["message"]
    assert (
        f"the run's scope list s3://{REPORTS}/backupwatch/runs/{RUN_ID}/scopes.json could not be "
        "read: NoSuchKey on s3:GetObject" in message
    )
    assert "  - 222222222222 us-east-1: scan failed:" in message
    assert (result["tenants"], result["scopes"], result["scopes_failed"]) == (6, 6, 1)


def test_failed_plan_step_still_sends_a_digest(settings_only: Fleet) -> None:
    """A Plan failure caught into ``$.plan`` and a Map failure into ``$.scan``: one digest says
    both, rather than none."""
    plan_error = {"Error": "States.TaskFailed", "Cause": "AccessDenied on s3:PutObject"}
    scan_error = {"Error": "States.ItemReaderFailed", "Cause": "NoSuchKey"}

    result = publish_digest.lambda_handler({"plan": plan_error, "scan": scan_error}, CONTEXT)

    message = the_digest(settings_only)["message"]
    assert "the plan step failed: States.TaskFailed: AccessDenied on s3:PutObject" in message
    assert "the scan step failed: States.ItemReaderFailed: NoSuchKey" in message
    assert result["ok"] is False
    assert result["scopes"] == 0


def test_publish_dry_run_sends_nothing(fleet: Fleet) -> None:
    """``{"dry_run": true}`` in the publish event merges and renders but publishes nothing."""
    plan, children = plan_and_scan(fleet)
    results = [o if o is not None else caught(c) for c, o in children]
    result = publish_digest.lambda_handler(
        {"plan": plan, "results": results, "dry_run": True}, CONTEXT
    )
    assert result["message_id"] is None
    assert result["tenants"] == 6
    assert fleet.world.published(fleet.topic) == []


def test_failed_publish_raises_and_logs_the_digest(
    fleet: Fleet, patch_env: SetEnv, caplog: pytest.LogCaptureFixture
) -> None:
    """A topic that is gone: PublishError, with the merged digest's text in the logs."""
    plan, children = plan_and_scan(fleet)
    results = [o if o is not None else caught(c) for c, o in children]
    patch_env({"BACKUPWATCH_SNS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:gone"})
    with caplog.at_level(logging.ERROR, logger="backupwatch"), pytest.raises(PublishError):
        publish_digest.lambda_handler({"plan": plan, "results": results}, CONTEXT)
    assert "1 of 6 tenants failing" in caplog.text


# --- the plan and scan steps on their own -----------------------------------------------------


def test_plan_writes_every_scope_for_the_map(settings_only: Fleet) -> None:
    """The plan lists 3 accounts x 2 regions in scopes.json, under the run's prefix."""
    plan = plan_scopes.lambda_handler({"run_id": RUN_ID}, CONTEXT)
    assert plan == {
        "run_id": RUN_ID,
        "started_at": "2026-11-27T07:00:00Z",
        "bucket": REPORTS,
        "scopes_key": f"backupwatch/runs/{RUN_ID}/scopes.json",
        "scope_count": 6,
        "errors": [],
    }
    items = map_items(settings_only.world, plan)
    assert [(i["account_id"], i["region"], i["role_arn"]) for i in items] == [
        (account, region, role(account)) for account in MEMBERS for region in REGIONS
    ]
    assert [Scope.model_validate(item) for item in items]  # the scan accepts each as it is


def test_plan_without_run_id_takes_one_from_the_clock(settings_only: Fleet) -> None:
    """A manual invocation with no run id still gets a unique, key-safe one."""
    plan = plan_scopes.lambda_handler({}, CONTEXT)
    assert plan["run_id"] == "run-20261127T070000Z"
    assert plan["scopes_key"] == "backupwatch/runs/run-20261127T070000Z/scopes.json"


@pytest.mark.parametrize("run_id", ["../../etc", "a/b", "x" * 81, ".."])
def test_plan_refuses_a_run_id_unsafe_as_a_key(settings_only: Fleet, run_id: str) -> None:
    """A run id that would escape the run's folder is a ConfigurationError naming it."""
    with pytest.raises(ConfigurationError, match=r"event\.run_id"):
        plan_scopes.lambda_handler({"run_id": run_id}, CONTEXT)


def test_plan_needs_the_report_bucket(settings_only: Fleet, patch_env: SetEnv) -> None:
    """Without BACKUPWATCH_REPORT_BUCKET the plan cannot pass the scopes on: it says so."""
    patch_env({"BACKUPWATCH_REPORT_BUCKET": ""})
    with pytest.raises(ConfigurationError, match="BACKUPWATCH_REPORT_BUCKET") as raised:
        plan_scopes.lambda_handler({"run_id": RUN_ID}, CONTEXT)
    assert raised.value.variable == "BACKUPWATCH_REPORT_BUCKET"


@pytest.mark.parametrize(
    ("event", "where"),
    [
        ({"run_id": RUN_ID}, "event.scope"),
        (
            {"scope": {"region": "us-east-1", "colour": "red"}, "run_id": RUN_ID},
            "event.scope.colour",
        ),
        ({"scope": {"account_id": "1"}, "run_id": RUN_ID}, "event.scope.region"),
        ("us-east-1", "event"),
    ],
)
def test_scan_refuses_an_event_that_is_not_a_scope(
    settings_only: Fleet, event: Any, where: str
) -> None:
    """A bad scan event raises a ConfigurationError naming the bad part, before any AWS call."""
    with pytest.raises(ConfigurationError) as raised:
        scan_scope.lambda_handler(event, CONTEXT)
    assert raised.value.variable == where


def test_scan_of_a_denied_role_is_a_scope_error_not_an_exception(
    settings_only: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scope whose role is denied (sts:AssumeRole answers AccessDenied) returns a partial
    report with the scope error: the child succeeds, and the digest will name the scope."""
    session = boto3.Session()
    Faults(session).inject("sts", "AssumeRole", DENIED)
    monkeypatch.setattr("backupwatch.pipeline.steps.boto3.Session", lambda: session)
    scope = Scope(region=REGION, account_id="111111111111", role_arn=role("111111111111"))

    output = scan_scope.lambda_handler(
        {"scope": scope.model_dump(mode="json"), "run_id": RUN_ID}, CONTEXT
    )

    report = Report.model_validate(output["report"])
    assert output["scope"] == scope.model_dump(mode="json")
    assert report.tenants == ()
    assert report.region_errors == (
        RegionError(
            account_id="111111111111",
            region=REGION,
            reason=f"could not assume role {role('111111111111')}: AccessDenied on sts:AssumeRole",
        ),
    )


# --- the library parts, without AWS -------------------------------------------------------------

SCOPE = Scope(region=REGION, account_id="111111111111", role_arn=role("111111111111"))


def partial(scope: Scope, *names: str, failing: bool = False) -> Report:
    rows = tuple(
        TenantReport(
            tenant=name,
            db_instance_identifier=f"db-{name}",
            region=scope.region,
            account_id=scope.account_id,
            status=Status.STALE if failing else Status.OK,
            reason="stale" if failing else "fresh",
        )
        for name in names
    )
    return Report(
        generated_at=NOW + timedelta(minutes=3),
        regions=(scope.region,),
        checks=(Check.RDS,),
        tenants=rows,
        accounts=(scope.account_id,) if scope.account_id else (),
    )


def test_step_error_keeps_a_lambda_errors_message_only() -> None:
    """A Lambda error's JSON cause is cut to its message; a long one is clipped to one line."""
    cause = json.dumps(
        {"errorMessage": "boom", "errorType": "KeyError", "stackTrace": ["  File x\n"] * 50}
    )
    assert StepError.model_validate({"Error": "KeyError", "Cause": cause}).short == "KeyError: boom"
    long = StepError.model_validate({"Error": "E", "Cause": "a\nb " * 500}).short
    assert "\n" not in long
    assert long.endswith("...")
    assert len(long) < 320


def test_read_entry_unwraps_the_lambda_invoke_payload() -> None:
    """``arn:aws:states:::lambda:invoke`` wraps the result in Payload; it is unwrapped."""
    output = {
        "scope": SCOPE.model_dump(mode="json"),
        "report": partial(SCOPE, "a").model_dump(mode="json"),
    }
    got = read_entry({"Payload": output, "StatusCode": 200, "ExecutedVersion": "$LATEST"})
    assert got.scope == SCOPE
    assert got.report == partial(SCOPE, "a")


def test_read_entry_of_garbage_is_a_failure_never_an_exception() -> None:
    """Entries that are not scan results become failures, attributed when the scope is known."""
    assert read_entry(None).failure is not None
    assert read_entry({"Status": "SUCCEEDED", "Output": "not json"}).scope is None
    bad = read_entry({"scope": SCOPE.model_dump(mode="json"), "report": {"tenants": 3}})
    assert bad.scope == SCOPE
    assert bad.failure is not None
    assert bad.failure.startswith("scan result unreadable")


def test_collect_counts_each_scope_once_whatever_came_back() -> None:
    """Checked, failed, failed-then-checked (a redrive) and silent scopes: each counted once."""
    other = SCOPE.model_copy(update={"region": OTHER_REGION})
    silent = SCOPE.model_copy(update={"account_id": "222222222222", "role_arn": role("2" * 12)})
    got = collect(
        [
            Received(scope=SCOPE, report=partial(SCOPE, "a")),
            Received(scope=other, failure="scan failed: X"),
            Received(scope=other, report=partial(other, "b", failing=True)),
            Received(scope=other, report=partial(other, "b", failing=True)),
        ],
        started_at=NOW,
        checks=(Check.RDS,),
        planned=(SCOPE, other, silent),
    )
    assert got.report.generated_at == NOW
    assert sorted(row.tenant for row in got.report.tenants) == ["a", "b"]
    assert got.report.region_errors == (
        RegionError(account_id="222222222222", region=REGION, reason="no result from the scan"),
    )
    assert (got.scopes, got.scopes_failed) == (3, 1)
    assert got.report.accounts == ("111111111111", "222222222222")


def test_collect_without_a_plan_keeps_every_reason() -> None:
    """With no scope list, why results are missing is a scope error of its own."""
    got = collect(
        [Received(scope=SCOPE, report=partial(SCOPE, "a"))],
        started_at=NOW,
        checks=(Check.RDS,),
        planned=None,
        missing_because=["the scan step failed: X"],
    )
    assert [e.reason for e in got.report.region_errors] == ["the scan step failed: X"]
    assert (got.scopes, got.scopes_failed) == (1, 0)


def test_collect_refuses_an_unresolved_report() -> None:
    """A partial report still in S3 is the caller's bug, not a silent gap."""
    with pytest.raises(ValueError, match="unresolved"):
        collect(
            [Received(scope=SCOPE, report_s3=S3Location(bucket="b", key="k"))],
            started_at=NOW,
            checks=(),
            planned=None,
        )


def test_publish_event_problems_are_named() -> None:
    """An event with no plan and no results is read, not raised: each lack is a problem."""
    request = read_publish_event({"scan": {"ResultWriterDetails": {"Bucket": "b"}}})
    assert request.plan is None
    assert request.problems == ("the publish step was given no plan: its scopes are unknown",)
    unreadable = read_publish_event({"plan": {"run_id": "r"}, "results": []})
    assert unreadable.problems[0].startswith("the publish step's plan is unreadable: started_at")
    assert unreadable.scan_problems == ()
    assert request.scan_problems[0].startswith("the scan's ResultWriterDetails name no manifest")
    assert read_publish_event([1]).problems[0].startswith("the publish step's event is not")


@pytest.mark.parametrize(
    "run_id", ["exec-1", "0b5e7a53-4c6f-3a51-9d2e-8a1f0c2d9e47", "test+run@2026(1)", "été", "a.b"]
)
def test_any_execution_name_is_a_run_id(run_id: str) -> None:
    """Execution names (uuids, or names with @ + ( ) and letters of any script) are accepted;
    the plan's key is ``<prefix>runs/<run id>/scopes.json``."""
    assert scopes_key("bw/", run_id) == f"bw/runs/{run_id}/scopes.json"


@pytest.mark.parametrize("run_id", ["", ".", "..", "a/b", "a\\b", "a b", "tab\t", "x" * 81])
def test_unsafe_run_ids_are_refused(run_id: str) -> None:
    """What would leave the run's folder, or is not an execution name, is refused."""
    with pytest.raises(ValueError, match="run id"):
        scopes_key("bw/", run_id)


def test_store_scan_that_cannot_write_reports_the_scope_as_not_checked(
    aws: None, retrier: Any
) -> None:
    """A large report whose write fails becomes a scope error saying so, not an exception and
    not an oversized payload."""
    import boto3

    s3 = boto3.client("s3", region_name=REGION)  # no bucket: NoSuchBucket
    big = partial(SCOPE, *[f"tenant-{n}" for n in range(50)])
    result = store_scan(
        s3, retrier, SCOPE, big, bucket="nope", prefix="", run_id="r", max_inline_bytes=1_000
    )
    assert result.report is not None
    assert result.report.tenants == ()
    [error] = result.report.region_errors
    assert (error.account_id, error.region) == (SCOPE.account_id, SCOPE.region)
    assert "50 tenants" in error.reason
    assert "could not be written to s3://nope/runs/r/partials/111111111111-us-east-1.json" in (
        error.reason
    )


def test_gather_reads_json_lines_result_files(aws: None, retrier: Any) -> None:
    """A ResultWriter with ``OutputType: JSONL`` (one execution per line) reads the same."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=REPORTS)
    other = SCOPE.model_copy(update={"region": OTHER_REGION})
    s3.put_object(
        Bucket=REPORTS, Key="runs/scopes.json", Body=json.dumps([SCOPE.model_dump(mode="json")])
    )
    lines = [
        execution(
            {"scope": s.model_dump(mode="json")},
            n,
            output=ScanResult(scope=s, report=partial(s, "a" if s == SCOPE else "b")).to_event(),
        )
        for n, s in enumerate((SCOPE, other))
    ]
    s3.put_object(
        Bucket=REPORTS, Key="runs/m/SUCCEEDED_0.json", Body="\n".join(map(json.dumps, lines))
    )
    manifest = {"ResultFiles": {"SUCCEEDED": [{"Key": "runs/m/SUCCEEDED_0.json", "Size": 1}]}}
    s3.put_object(Bucket=REPORTS, Key="runs/m/manifest.json", Body=json.dumps(manifest))
    plan = Plan(
        run_id="r", started_at=NOW, bucket=REPORTS, scopes_key="runs/scopes.json", scope_count=1
    )
    request = read_publish_event(
        {
            "plan": plan.model_dump(mode="json"),
            "scan": {"ResultWriterDetails": {"Bucket": REPORTS, "Key": "runs/m/manifest.json"}},
        }
    )

    got = gather(s3, retrier, request, checks=(Check.RDS,), now=NOW + timedelta(hours=1))

    assert sorted(row.tenant for row in got.report.tenants) == ["a", "b"]
    assert got.report.generated_at == NOW
    assert (got.scopes, got.scopes_failed) == (1, 0)  # planned scopes; the unplanned one is kept
