"""backupwatch.pipeline.telemetry: the run's EMF record, the call counter, and the JSON logs.

The EMF checks follow the format's specification: the directive's metric names are exactly the
numeric members at the root, every dimension key is a string member at the root, and the
timestamp is epoch milliseconds. A record CloudWatch would reject is dropped in silence, and
the dead-man alarm would then fire on a healthy function.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

import backupwatch.pipeline.telemetry as metrics
from backupwatch import Check, Report, Status, TenantReport, render_digest
from backupwatch.pipeline.daily import Outcome
from backupwatch.pipeline.telemetry import (
    CallCounter,
    RunTelemetry,
    failing_tenant_records,
    log_failing_tenants,
    metrics_record,
    print_metrics,
)

from .conftest import BUCKET, NOW, REGION, World, client_error_response, hours_ago
from .lambda_json_logs import as_lambda_writes_it


def row(tenant: str, status: Status, reason: str = "because") -> TenantReport:
    return TenantReport(
        tenant=tenant,
        db_instance_identifier=f"db-{tenant}",
        region="eu-west-1",
        status=status,
        reason=reason,
    )


REPORT = Report(
    generated_at=NOW,
    regions=("eu-west-1",),
    checks=(Check.RDS, Check.S3),
    tenants=(
        row("acme", Status.OK, "fresh"),
        row("globex", Status.STALE, "newest automated snapshot 31 h old"),
        row("stark", Status.ERROR, "AccessDenied on s3:ListBucket"),
        row("wayne", Status.OK, "fresh"),
    ),
)
SUMMARY = Outcome(report=REPORT, digest=render_digest(REPORT), message_id="m-1").summary()


ARGS: dict[str, Any] = {
    "duration_seconds": 12.3456,
    "aws_calls": 42,
    "throttles": 3,
    "at": NOW,
    "function_name": "backupwatch-DigestFunction-X",
}


def record(**overrides: Any) -> dict[str, Any]:
    return metrics_record(SUMMARY, **{**ARGS, **overrides})


def test_emf_directive_names_exactly_the_metrics_at_the_root() -> None:
    """``_aws.CloudWatchMetrics[0].Metrics`` names are the numeric root members, no more."""
    emf = record()
    [directive] = emf["_aws"]["CloudWatchMetrics"]
    names = [metric["Name"] for metric in directive["Metrics"]]
    assert len(names) == len(set(names)) <= 100
    numeric = {k for k, v in emf.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    assert set(names) == numeric
    for dimension_set in directive["Dimensions"]:
        assert len(dimension_set) <= 30
        for key in dimension_set:
            assert isinstance(emf[key], str)
            assert key not in names


def test_emf_timestamp_is_epoch_milliseconds() -> None:
    """An integer of milliseconds: seconds would date the metrics to January 1970."""
    timestamp = record()["_aws"]["Timestamp"]
    assert isinstance(timestamp, int)
    assert timestamp == int(NOW.timestamp()) * 1000
    later = record(at=NOW + timedelta(milliseconds=1500))["_aws"]["Timestamp"]
    assert later - timestamp == 1500


def test_emf_values_come_from_the_summary() -> None:
    """Counts from ``Outcome.summary()``, one metric per status, and the heartbeat."""
    emf = record()
    assert (emf["Tenants"], emf["Failing"], emf["RegionsFailed"]) == (4, 2, 0)
    assert {k: v for k, v in emf.items() if k.startswith("Status_")} == {
        f"Status_{status}": count for status, count in SUMMARY["by_status"].items()
    }
    assert (emf["Status_OK"], emf["Status_STALE"], emf["Status_ERROR"]) == (2, 1, 1)
    assert (emf["DurationSeconds"], emf["AwsCalls"], emf["Throttles"]) == (12.346, 42, 3)
    assert emf[metrics.HEARTBEAT] == 1
    assert emf[metrics.NEEDS_ATTENTION] == 1  # the summary's ok is False
    assert metrics_record({**SUMMARY, "ok": True}, **ARGS)[metrics.NEEDS_ATTENTION] == 0
    assert emf[metrics.DIMENSION] == "backupwatch-DigestFunction-X"
    assert (emf["ok"], emf["message_id"], emf["subject"]) == (False, "m-1", SUMMARY["subject"])


def test_emf_units_and_namespace() -> None:
    """Seconds for the duration, Count for the rest; the namespace is a parameter."""
    [directive] = record(namespace="backupwatch-staging")["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "backupwatch-staging"
    units = {metric["Name"]: metric["Unit"] for metric in directive["Metrics"]}
    assert units.pop("DurationSeconds") == "Seconds"
    assert set(units.values()) == {"Count"}
    [default] = record()["_aws"]["CloudWatchMetrics"]
    assert default["Namespace"] == metrics.DEFAULT_NAMESPACE == "backupwatch"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"at": datetime(2026, 11, 27, 7, 0)}, "aware"),  # noqa: DTZ001 - the point of the test
        ({"namespace": ""}, "namespace"),
        ({"namespace": "x" * 256}, "namespace"),
        ({"function_name": ""}, "function_name"),
    ],
)
def test_emf_refuses_what_cloudwatch_would_drop(overrides: dict[str, Any], message: str) -> None:
    """A record CloudWatch ignores would look like a dead function: refuse it loudly."""
    with pytest.raises(ValueError, match=message):
        record(**overrides)


def test_print_metrics_writes_one_json_line() -> None:
    """CloudWatch Logs extracts EMF only from a log event that is one whole JSON object."""
    stream = io.StringIO()
    print_metrics(record(), stream)
    text = stream.getvalue()
    assert text.count("\n") == 1
    assert text.endswith("\n")
    assert json.loads(text) == record()


def test_call_counter_counts_every_call_and_each_throttle(world: World) -> None:
    """Every request through the session counts; throttled answers count as throttles too."""
    world.bucket()
    session = boto3.Session(region_name=REGION)
    counter = CallCounter().attach(session)
    throttled = [2]

    def throttle(**_: Any) -> Any:
        if throttled[0]:
            throttled[0] -= 1
            return client_error_response("SlowDown", 503)
        return None

    session.events.register("before-call.s3.ListObjectsV2", throttle)
    s3 = session.client("s3")
    for _ in range(3):
        with contextlib.suppress(ClientError):
            s3.list_objects_v2(Bucket=BUCKET)
    session.client("rds").describe_db_instances()
    assert (counter.calls, counter.throttles) == (4, 2)


def test_call_counter_ignores_other_errors(world: World) -> None:
    """AccessDenied is not throttling."""
    session = boto3.Session(region_name=REGION)
    counter = CallCounter().attach(session)
    session.events.register(
        "before-call.rds.DescribeDBInstances", lambda **_: client_error_response("AccessDenied")
    )
    with pytest.raises(ClientError, match="AccessDenied"):
        session.client("rds").describe_db_instances()
    assert (counter.calls, counter.throttles) == (1, 0)


def log_record(message: str = "hello %s", *args: Any, **extra: Any) -> logging.LogRecord:
    made = logging.LogRecord("backupwatch", logging.WARNING, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(made, key, value)
    return made


def test_the_run_done_line_is_structured_fields() -> None:
    """The last line of a run, as Lambda's JSON format writes it: the summary's keys are the
    line's keys (numbers as numbers, by_status as an object), not a repr inside ``message``."""
    summary = {**SUMMARY, "changes": {"new_failures": 1}, "message_id": "m-1"}
    logger = logging.getLogger("test_metrics.done")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        metrics.log_run_done(summary, logger)
    finally:
        logger.removeHandler(handler)
    [record] = records
    record.aws_request_id = "req-1"
    entry = as_lambda_writes_it(record)
    assert entry["message"] == "backupwatch run done"
    assert entry["requestId"] == "req-1"
    for key, value in summary.items():
        if value is not None:
            assert entry[key] == value, key
    assert "{" not in entry["message"]


def test_log_fields_never_collide_with_the_log_records_own_keys() -> None:
    """A field named like a LogRecord attribute would raise in ``makeRecord``; one named like a
    key of Lambda's format would be lost. Both get a prefix instead (the careless variant,
    ``extra=fields`` as is, raises KeyError for ``message`` or ``name``)."""
    fields = {"message": "m", "name": "n", "tenant_id": "t", "requestId": "r", "tenant": "acme"}
    with pytest.raises(KeyError):
        logging.getLogger("test_metrics.careless").makeRecord(
            "x", logging.INFO, __file__, 1, "msg", (), None, extra=fields
        )
    made = logging.getLogger("test_metrics.safe").makeRecord(
        "x", logging.INFO, __file__, 1, "msg", (), None, extra=metrics.log_fields(fields)
    )
    entry = as_lambda_writes_it(made)
    assert entry["bw_message"] == "m"
    assert entry["bw_name"] == "n"
    assert entry["bw_tenant_id"] == "t"
    assert entry["bw_requestId"] == "r"
    assert entry["tenant"] == "acme"
    assert entry["message"] == "msg"


def test_the_summary_keys_are_not_reserved() -> None:
    """Today's summary keys pass through unprefixed, so queries use the documented names."""
    from backupwatch.pipeline.telemetry import RESERVED_LOG_KEYS

    assert not set(SUMMARY) & RESERVED_LOG_KEYS
    assert not {"scopes", "scopes_failed", "report", "changes", "status_page"} & RESERVED_LOG_KEYS


def test_failing_tenant_records_are_flat_and_most_severe_first() -> None:
    """One record per failing tenant with the five fields; OK tenants are left out."""
    assert failing_tenant_records(REPORT) == [
        {
            "tenant": "stark",
            "status": "ERROR",
            "reason": "AccessDenied on s3:ListBucket",
            "region": "eu-west-1",
            "db_instance_identifier": "db-stark",
        },
        {
            "tenant": "globex",
            "status": "STALE",
            "reason": "newest automated snapshot 31 h old",
            "region": "eu-west-1",
            "db_instance_identifier": "db-globex",
        },
    ]


def test_log_failing_tenants_writes_one_json_line_each(caplog: pytest.LogCaptureFixture) -> None:
    """One WARNING per failing tenant; in Lambda's JSON format its fields are the line's keys."""
    with caplog.at_level(logging.WARNING, logger="backupwatch"):
        log_failing_tenants(REPORT)
    assert [r.getMessage() for r in caplog.records] == [
        "tenant stark is ERROR: AccessDenied on s3:ListBucket",
        "tenant globex is STALE: newest automated snapshot 31 h old",
    ]
    for record in caplog.records:
        record.aws_request_id = "run-4"
    lines = [as_lambda_writes_it(r) for r in caplog.records]
    assert [(line["tenant"], line["status"], line["requestId"]) for line in lines] == [
        ("stark", "ERROR", "run-4"),
        ("globex", "STALE", "run-4"),
    ]


class FakeContext:
    function_name = "backupwatch-DigestFunction-X"
    aws_request_id = "req-1"


def test_telemetry_outside_lambda_keeps_the_logging_setup(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Outside Lambda (tests, a laptop) nothing global changes; the record still prints."""
    root_formatters = [h.formatter for h in logging.getLogger().handlers]
    telemetry = RunTelemetry.start(FakeContext(), {metrics.NAMESPACE_VARIABLE: "ns-test"})
    assert [h.formatter for h in logging.getLogger().handlers] == root_formatters
    assert (telemetry.run_id, telemetry.function_name) == ("req-1", FakeContext.function_name)
    world.bucket()
    world.put("acme-backups/x.dump", hours_ago(1))
    telemetry.session().client("s3").list_objects_v2(Bucket=BUCKET)
    telemetry.finish(REPORT, SUMMARY)
    [line] = capsys.readouterr().out.splitlines()
    emf = json.loads(line)
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ns-test"
    assert (emf["AwsCalls"], emf[metrics.HEARTBEAT], emf["Failing"]) == (1, 1, 2)


def test_telemetry_without_a_context_still_names_the_run() -> None:
    """A console test or the CLI has no request id: the run still gets one, and a name."""
    telemetry = RunTelemetry.start(None, {})
    assert telemetry.run_id.startswith("local-")
    assert telemetry.function_name == "backupwatch"
    assert telemetry.namespace == metrics.DEFAULT_NAMESPACE


def test_telemetry_finish_never_raises(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """After the publish nothing may raise (a retry would resend): a bad record is logged."""
    telemetry = RunTelemetry(run_id="r", function_name="", namespace="backupwatch")
    with caplog.at_level(logging.ERROR, logger="backupwatch"):
        telemetry.finish(REPORT, SUMMARY)
    assert "could not write the run's metrics" in caplog.text
    assert capsys.readouterr().out == ""


def test_the_handler_writes_the_heartbeat(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """template.yaml's dead-man alarm needs a Heartbeat from every completed run."""
    from handlers.daily_digest import lambda_handler

    world.bucket()
    world.instance("db-acme", tenant="acme")
    world.put("acme-backups/x.dump", hours_ago(1))
    monkeypatch.setenv("BACKUPWATCH_S3_BUCKET", BUCKET)
    monkeypatch.setenv("BACKUPWATCH_REGIONS", REGION)
    monkeypatch.setenv("BACKUPWATCH_DRY_RUN", "true")
    lambda_handler({}, FakeContext())
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert [line[metrics.HEARTBEAT] for line in lines if "_aws" in line] == [1]


def test_every_function_logs_in_lambdas_json_format() -> None:
    """The structured lines above are JSON only under ``LogFormat: JSON`` (template Globals)."""
    from .test_template import load_template

    logging_config = load_template()["Globals"]["Function"]["LoggingConfig"]
    assert logging_config["LogFormat"] == "JSON"
    assert logging_config["ApplicationLogLevel"] == "INFO"  # the failing-tenant lines are WARNING
