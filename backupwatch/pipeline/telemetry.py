"""Run metrics and JSON logs for the Lambda function: what the alarms in template.yaml watch.

One run writes one CloudWatch Embedded Metric Format (EMF) record to stdout: CloudWatch Logs
turns it into metrics, with no ``cloudwatch:PutMetricData`` call, permission or latency. The
``Heartbeat`` metric of a completed run feeds the template's dead-man alarm; ``Failing`` feeds
the optional failing-tenants alarm. The record is built by a pure function, so tests check it
without a Lambda.

Why hand-written and not aws-lambda-powertools: backupwatch writes one record per run with one
dimension, and EMF for that is a few dozen lines of stdlib. Powertools' ``Metrics`` and
``Logger`` would do it, but as a runtime dependency of the library and the CLI too, for
features (metric buffering, cold-start metrics, sampling) that a once-a-day job does not use.

Logs: the function logs in Lambda's own JSON format (``LoggingConfig: LogFormat: JSON`` in
template.yaml), which writes one object per line with the request id, and turns the ``extra``
of a log call into top-level keys. So ``log_failing_tenants`` writes one line per failing
tenant and ``log_run_done`` the run's summary, each with its fields as keys, and Logs Insights
can ``filter status = "STALE"`` or ``filter failing > 0`` without parsing a message. (A
formatter of our own did the same in 40 more lines, and was dropped for the runtime's.)
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

import boto3

from backupwatch.aws.retry import THROTTLING_CODES
from backupwatch.core.models import Report

DEFAULT_NAMESPACE = "backupwatch"
NAMESPACE_VARIABLE = "BACKUPWATCH_METRICS_NAMESPACE"
"""Set by template.yaml from its MetricsNamespace parameter; the alarms read the same one."""
DIMENSION = "FunctionName"
"""The one dimension: two stacks (staging, production) in one account stay apart."""
HEARTBEAT = "Heartbeat"
"""1 in every record: a record is written only for a run that completed."""
NEEDS_ATTENTION = "NeedsAttention"
"""1 when the run is failing as the digest counts it; the optional failing alarm watches it."""
_COUNT, _SECONDS = "Count", "Seconds"


def metrics_record(
    summary: Mapping[str, Any],
    *,
    duration_seconds: float,
    aws_calls: int,
    throttles: int,
    at: datetime,
    function_name: str,
    namespace: str = DEFAULT_NAMESPACE,
) -> dict[str, Any]:
    """The EMF record of one completed run, from ``Outcome.summary()`` and the run's counts.

    Metrics: ``Tenants``, ``Failing``, ``Status_<STATUS>`` for each status in ``by_status``,
    ``RegionsFailed``, ``NeedsAttention`` (1 unless ``ok``), ``DurationSeconds``,
    ``AwsCalls``, ``Throttles`` and ``Heartbeat`` (1).
    ``ok``, ``subject`` and ``message_id`` ride along as plain log fields, not metrics.
    Raises ``ValueError`` for what CloudWatch would silently drop: a naive ``at``, an empty or
    overlong namespace, an empty function name.
    """
    if at.tzinfo is None:
        raise ValueError("at must be an aware datetime (EMF timestamps are UTC epoch ms)")
    if not 1 <= len(namespace) <= 255:
        raise ValueError(f"namespace must be 1 to 255 characters, got {namespace!r}")
    if not function_name:
        raise ValueError("function_name must not be empty: it is the metrics' dimension")
    values: dict[str, tuple[float, str]] = {
        "Tenants": (int(summary["tenants"]), _COUNT),
        "Failing": (int(summary["failing"]), _COUNT),
        **{
            f"Status_{status}": (int(count), _COUNT)
            for status, count in summary["by_status"].items()
        },
        "RegionsFailed": (int(summary["regions_failed"]), _COUNT),
        # 1 whenever the digest says "failing": tenants, regions not checked, or no tenants.
        NEEDS_ATTENTION: (0 if summary["ok"] else 1, _COUNT),
        "DurationSeconds": (round(duration_seconds, 3), _SECONDS),
        "AwsCalls": (aws_calls, _COUNT),
        "Throttles": (throttles, _COUNT),
        HEARTBEAT: (1, _COUNT),
    }
    directive = {
        "Namespace": namespace,
        "Dimensions": [[DIMENSION]],
        "Metrics": [{"Name": name, "Unit": unit} for name, (_value, unit) in values.items()],
    }
    return {
        "_aws": {"Timestamp": int(at.timestamp() * 1000), "CloudWatchMetrics": [directive]},
        DIMENSION: function_name,
        **{name: value for name, (value, _unit) in values.items()},
        "ok": bool(summary["ok"]),
        "subject": summary.get("subject"),
        "message_id": summary.get("message_id"),
    }


def print_metrics(record: Mapping[str, Any], stream: TextIO | None = None) -> None:
    """Write ``record`` as one JSON line: CloudWatch Logs reads EMF only from a whole line."""
    print(json.dumps(record, separators=(",", ":"), ensure_ascii=False), file=stream or sys.stdout)


@dataclass
class CallCounter:
    """Counts the AWS calls made through a session, and how many of them were throttled.

    Every attempt counts, retries included, because every attempt uses the shared RDS rate.
    ``attach`` hooks botocore's events on a ``boto3.Session``; clients made from it afterwards
    report here. Calls are counted at ``before-parameter-build``, which every handler sees
    (``before-call`` stops at the first handler that answers the call itself). A lock keeps
    counts exact when listings run in threads.
    """

    calls: int = 0
    throttles: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def attach(self, session: boto3.Session) -> CallCounter:
        session.events.register("before-parameter-build", self._on_call)
        session.events.register("after-call", self._after_call)
        return self

    def _on_call(self, **_: Any) -> None:
        with self._lock:
            self.calls += 1

    def _after_call(self, parsed: Mapping[str, Any] | None = None, **_: Any) -> None:
        code = (parsed or {}).get("Error", {}).get("Code")
        if code in THROTTLING_CODES:
            with self._lock:
                self.throttles += 1


# What ``logging.LogRecord`` and Lambda's JSON format keep for themselves: a field of ours
# with one of these names would raise (``makeRecord``) or vanish from the line.
RESERVED_LOG_KEYS = frozenset(
    {*vars(logging.LogRecord("", 0, "", 0, "", None, None)), "message", "asctime"}
    | {"aws_request_id", "tenant_id", "requestId", "timestamp", "level", "logger"}
)


def log_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` as a log call's ``extra``: a reserved name gets a ``bw_`` prefix instead of
    raising or being dropped."""
    return {(f"bw_{k}" if k in RESERVED_LOG_KEYS else k): v for k, v in fields.items()}


def failing_tenant_records(report: Report) -> list[dict[str, str]]:
    """One flat record per failing tenant, most severe first, as the digest orders them."""
    rows = sorted(
        (row for row in report.tenants if row.failing),
        key=lambda row: (-row.status.severity, row.tenant),
    )
    return [
        {
            "tenant": row.tenant,
            "status": row.status.value,
            "reason": row.reason,
            "region": row.region,
            "db_instance_identifier": row.db_instance_identifier,
        }
        for row in rows
    ]


def log_failing_tenants(report: Report, logger: logging.Logger | None = None) -> None:
    """Log one WARNING line per failing tenant, its fields as the line's JSON keys."""
    target = logger or logging.getLogger("backupwatch")
    for record in failing_tenant_records(report):
        target.warning(
            "tenant %s is %s: %s",
            record["tenant"],
            record["status"],
            record["reason"],
            extra=log_fields(record),
        )


def log_run_done(summary: Mapping[str, Any], logger: logging.Logger | None = None) -> None:
    """The run's last log line: "backupwatch run done", with the summary's keys as the line's
    JSON keys (``tenants``, ``failing``, ``by_status``, ``ok``, ``message_id``...)."""
    target = logger or logging.getLogger("backupwatch")
    target.info("backupwatch run done", extra=log_fields(summary))


@dataclass
class RunTelemetry:
    """Everything the handler adds for metrics and logs, so wiring it in is three lines.

    ``start`` notes the time and returns a session whose calls are counted; ``finish`` logs
    the failing tenants and prints the EMF record. A run that raises never reaches ``finish``:
    no heartbeat, and the alarm sees it.
    """

    run_id: str
    function_name: str
    namespace: str
    counter: CallCounter = field(default_factory=CallCounter)
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def start(cls, context: Any, environ: Mapping[str, str]) -> RunTelemetry:
        return cls(
            run_id=getattr(context, "aws_request_id", None) or f"local-{time.time_ns()}",
            function_name=getattr(context, "function_name", None)
            or environ.get("AWS_LAMBDA_FUNCTION_NAME")
            or "backupwatch",
            namespace=environ.get(NAMESPACE_VARIABLE) or DEFAULT_NAMESPACE,
        )

    def session(self) -> boto3.Session:
        """A new session whose clients' calls are counted: pass it to ``run``."""
        session = boto3.Session()
        self.counter.attach(session)
        return session

    def finish(self, report: Report, summary: Mapping[str, Any]) -> None:
        """Log the failing tenants and print the metrics; never raise.

        It runs after the publish, where an exception would fail the invocation and invite a
        second digest: a problem here is logged, and the missing heartbeat shows it.
        """
        try:
            log_failing_tenants(report)
            print_metrics(
                metrics_record(
                    summary,
                    duration_seconds=time.monotonic() - self.started,
                    aws_calls=self.counter.calls,
                    throttles=self.counter.throttles,
                    at=report.generated_at,
                    function_name=self.function_name,
                    namespace=self.namespace,
                )
            )
        except Exception:
            logging.getLogger("backupwatch").exception("could not write the run's metrics")
