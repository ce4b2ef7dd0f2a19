"""The state machine of template.yaml (``Mode=step-functions``), executed by moto's interpreter.

tests/test_template.py reads the definition (and walks its data flow with a small interpreter of
its own); tests/test_fanout.py chains the handlers by hand. Here the definition itself runs:
taken out of the template, its substitutions filled with the ARNs of functions created in moto's
Lambda and a bucket in moto's S3, created and executed by moto's Step Functions engine (the ASL
interpreter ported from LocalStack: ``execute_state_machine``). The Lambda functions run no code
(no docker: ``use_docker: False``): each invocation is answered with a canned result, so what is
tested is the flow (routing, Retry, Catch, ItemReader, ItemSelector, the payloads between steps),
and that the publish step's reader (``backupwatch.core.fanout.read_publish_event``) accepts what
the state machine hands it. The handlers themselves are tested in tests/test_fanout.py.

What moto's engine (moto 5.2.x) runs, as these tests use it:

- Pass with ``Parameters`` and intrinsics (``States.JsonMerge``, ``States.StringToJson``),
  ``$$.Execution.Name``;
- Task on the optimised ``lambda:invoke`` integration: ``Parameters``, ``ResultSelector``,
  ``ResultPath``, ``OutputPath``; a function error (``X-Amz-Function-Error``) is named by its
  ``errorType``, a refused invocation (an API error) ``Lambda.<code>``, as on AWS;
- ``Retry``: ``ErrorEquals``, ``MaxAttempts``, and the wait from ``IntervalSeconds``,
  ``BackoffRate``, ``MaxDelaySeconds`` and ``JitterStrategy: FULL``. It waits with a real
  ``time.sleep``; the ``waits`` fixture records the waits instead;
- ``Catch`` with ``ResultPath``, on a Task, inside a Map's item processor, and on the Map;
- a ``DISTRIBUTED`` Map: ``ItemReader`` (``s3:getObject``, JSON) on the key the plan names,
  ``ItemSelector`` with ``$$.Map.Item.Value``, ``MaxConcurrencyPath`` (children on threads);
  ``ResultWriter`` (``s3:putObject``) writes a manifest under ``<Prefix>/<map run id>/``.

What it does not run, and what these tests do about it:

- An integer ``ToleratedFailurePercentage`` (``100``, valid ASL) is refused at
  CreateStateMachine (``ASLParserException``: its grammar takes a NUMBER token there, and
  ``100`` lexes as an INT); the copy here says ``100.0``. Tolerated-failure settings have no
  effect in moto anyway (it logs so).
- Escapes in intrinsic string literals: AWS reads ``\\{`` as ``{`` (``'``, ``{``, ``}`` and
  ``\\`` are reserved in intrinsics and escaped with a backslash); moto keeps the backslash,
  so the Start state's ``States.StringToJson('\\{...\\}')`` fails with ``States.Runtime``
  (``JSONDecodeError``). The copy here has the unescaped literal moto parses.
- ``ResultWriter`` writes only ``manifest.json``, with empty result lists: the children's
  outputs are dropped. To see them, ``inline_outputs`` removes the ResultWriter from a copy,
  so the Map's output is the children's outputs (the publish step reads ``scan`` as a list).
- Map children are not executions of their own (no history, no DescribeExecution); the
  parent's history has MapRun events only.
- A Map whose ItemReader cannot read its key fails with ``States.Runtime`` (AWS:
  ``States.ItemReaderFailed``), which moto's ``States.ALL`` catches; the test checks the route
  and the reader's message, not the error's name.
- Lambda without docker answers from one FIFO queue per account and region, shared by every
  function (``moto_api_backend.set_lambda_simple_result``: the Python side of POST
  ``/moto-api/static/lambda-simple/response``), or echoes the payload. It cannot say that a
  function raised or that Lambda refused, and Map children, on threads, take queued results in
  whatever order they run. ``Functions`` wraps the same backend's ``invoke``: it records every
  invocation, and answers, by the payload, the functions a test scripts; the others still get
  moto's queue or echo.
- A STANDARD execution runs on a thread of its own, and there is no synchronous mode for it
  (StartSyncExecution is for EXPRESS); ``run`` joins that thread instead of polling.
"""

from __future__ import annotations

import copy
import io
import json
import threading
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda_simple.models import lambda_simple_backends
from moto.core.config import DefaultConfig
from moto.moto_api._internal.models import moto_api_backend
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.utils import TMP_THREADS

from backupwatch import Retrier, Scope
from backupwatch.aws.fanout_store import write_plan
from backupwatch.core.fanout import (
    Manifest,
    ScanRequest,
    ScanResult,
    collect,
    read_entry,
    read_publish_event,
)
from backupwatch.core.models import Check, RegionError, Report

from .conftest import ACCOUNT, NOW, OTHER_REGION, REGION
from .test_template import STATE_MACHINE, Stack, _substituted, load_template

REPORTS = "acme-backupwatch-reports"
PREFIX = "backupwatch/"
RUN_ID = "daily-2026-11-27"
MEMBER = "111111111111"
SCOPES = (
    Scope(region=REGION, account_id=MEMBER, role_arn=f"arn:aws:iam::{MEMBER}:role/reader"),
    Scope(region=OTHER_REGION),
)
FUNCTIONS = ("PlanFunction", "ScanFunction", "PublishFunction")
SUMMARY = {"message_id": "m-1", "scopes": 2, "scopes_failed": 0}
"""What a canned publish step returns (the handler's summary)."""
JOIN_SECONDS = 30.0
"""Bound on one execution; it takes well under a second, waits recorded, not slept."""


# --- canned Lambda answers --------------------------------------------------------------------


@dataclass(frozen=True)
class Raised:
    """The function ran and raised: Lambda answers 200 with ``X-Amz-Function-Error`` and the
    error as the payload; Step Functions names the error by its ``errorType``."""

    error_type: str
    message: str

    @property
    def cause(self) -> dict[str, Any]:
        return {"errorMessage": self.message, "errorType": self.error_type, "stackTrace": []}


@dataclass(frozen=True)
class Refused:
    """Lambda refused the invocation, the function never ran: an API error, which Step
    Functions names ``Lambda.<code>``."""

    code: str
    status: int
    message: str

    @property
    def error(self) -> str:
        return f"Lambda.{self.code}"


THROTTLED = Refused("TooManyRequestsException", 429, "Rate Exceeded.")
UNAVAILABLE = Refused("ServiceException", 500, "Lambda was unable to process the request.")
TIMED_OUT = Raised("Sandbox.Timedout", "Task timed out after 900.00 seconds")

Answer = Callable[[Any], Any]
"""The invocation's payload -> a JSON value (the function returned it), ``Raised`` or
``Refused``."""


def in_turn(*outcomes: Any) -> Answer:
    """The outcomes one invocation after the other; the last one for every later invocation."""
    remaining = list(outcomes)

    def answer(_payload: Any) -> Any:
        return remaining.pop(0) if len(remaining) > 1 else remaining[0]

    return answer


def partial_report(scope: Scope) -> Report:
    return Report(
        generated_at=NOW + timedelta(minutes=2),
        regions=(scope.region,),
        checks=(Check.RDS,),
        tenants=(),
        accounts=(scope.account_id,) if scope.account_id else (),
    )


def scanned(payload: Any) -> Any:
    """A scan child's result for the scope it was given, as handlers.scan_scope returns it."""
    scope = ScanRequest.model_validate(payload).scope
    return ScanResult(scope=scope, report=partial_report(scope)).to_event()


def scan_failing(failing: Scope, outcome: Raised | Refused) -> Answer:
    """Every scope scanned, but ``failing`` always ends in ``outcome``."""

    def answer(payload: Any) -> Any:
        return outcome if ScanRequest.model_validate(payload).scope == failing else scanned(payload)

    return answer


@dataclass
class Functions:
    """The state machine's three functions in moto's Lambda without docker (no code runs).

    Every invocation is recorded (``calls``, by logical id). A function given an ``Answer``
    (``answers``) is answered by it; the others as moto answers: the next result queued with
    ``queue``, else an echo of the payload.
    """

    arns: dict[str, str]
    moto_invoke: Callable[..., Any]
    """moto's own ``invoke``: its queue, else an echo."""
    calls: dict[str, list[Any]] = field(default_factory=dict)
    answers: dict[str, Answer] = field(default_factory=dict)
    most_at_once: dict[str, int] = field(default_factory=dict)
    """The most invocations of each function in flight together (Map children on threads)."""
    _running: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def queue(self, result: Any) -> None:
        """moto's own canned result: the next invocation of any function not answered here
        returns it (POST /moto-api/static/lambda-simple/response, in process)."""
        moto_api_backend.set_lambda_simple_result(json.dumps(result), ACCOUNT, REGION)

    def invoke(
        self,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: dict[str, str],
    ) -> Any:
        """``LambdaSimpleBackend.invoke``'s signature: called on the engine's threads."""
        [name] = [n for n, arn in self.arns.items() if arn == function_name]
        payload = json.loads(body)
        with self._lock:
            self.calls.setdefault(name, []).append(payload)
            self._running[name] = self._running.get(name, 0) + 1
            self.most_at_once[name] = max(self.most_at_once.get(name, 0), self._running[name])
            answer = self.answers.get(name)
            outcome = answer(payload) if answer is not None else None
        try:
            if answer is None:
                return self.moto_invoke(function_name, qualifier, body, headers, response_headers)
            return self._respond(outcome, response_headers)
        finally:
            with self._lock:
                self._running[name] -= 1

    @staticmethod
    def _respond(outcome: Any, response_headers: dict[str, str]) -> bytes:
        if isinstance(outcome, Refused):
            error = LambdaClientError(outcome.code, outcome.message)
            error.code = outcome.status
            raise error
        if isinstance(outcome, Raised):
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(outcome.cause).encode()
        return json.dumps(outcome).encode()


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


# --- moto with the engine on ------------------------------------------------------------------


@pytest.fixture
def engine(fake_env: None) -> Iterator[None]:
    """moto with Step Functions executing definitions, and Lambda answering without docker."""
    config: DefaultConfig = {
        "stepfunctions": {"execute_state_machine": True},
        "lambda": {"use_docker": False},
    }
    with mock_aws(config=config):
        yield


@pytest.fixture(autouse=True)
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The engine's Retry waits, recorded instead of slept (it calls ``time.sleep``): no test
    here ever waits for a retry."""
    recorded: list[float] = []

    class _Clock:
        @staticmethod
        def sleep(seconds: float) -> None:
            recorded.append(seconds)

    monkeypatch.setattr(retrier_decl, "time", _Clock)
    return recorded


@pytest.fixture
def s3(engine: None) -> Any:
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket=REPORTS)
    return client


@pytest.fixture
def functions(engine: None) -> Iterator[Functions]:
    """The three functions, created in moto's Lambda (any zip: it never runs)."""
    role = boto3.client("iam").create_role(
        RoleName="backupwatch-function",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    client = boto3.client("lambda", region_name=REGION)
    arns = {
        name: client.create_function(
            FunctionName=f"backupwatch-{name.removesuffix('Function').lower()}",
            Runtime="python3.12",
            Role=role,
            Handler="index.handler",
            Code={"ZipFile": _zip()},
        )["FunctionArn"]
        for name in FUNCTIONS
    }
    backend = lambda_simple_backends[ACCOUNT][REGION]
    fakes = Functions(arns=arns, moto_invoke=backend.invoke)
    backend.invoke = fakes.invoke  # type: ignore[method-assign]
    try:
        yield fakes
    finally:
        vars(backend).pop("invoke", None)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def deployable_definition(template: Mapping[str, Any], arns: Mapping[str, str]) -> dict[str, Any]:
    """The definition as CloudFormation hands it to Step Functions (Mode=step-functions, the
    report bucket given): the template's DefinitionSubstitutions resolved, ``GetAtt`` of each
    function replaced by the ARN of the function created in moto."""
    stack = Stack(template, Mode="step-functions", ReportBucket=REPORTS, ReportPrefix=PREFIX)
    machine = stack.properties(STATE_MACHINE)
    real = {f"{name}.Arn": arn for name, arn in arns.items()}
    values = {
        name: str(real.get(value, value))
        for name, value in machine["DefinitionSubstitutions"].items()
    }
    assert not [v for v in values.values() if v.endswith(".Arn")], values
    return _substituted(machine, values)


def for_moto(definition: Mapping[str, Any]) -> dict[str, Any]:
    """The definition with the two values moto's interpreter cannot take rewritten to
    equivalents it can (see the module's docstring); nothing else changes."""
    moto_copy = copy.deepcopy(dict(definition))
    states = moto_copy["States"]
    scan = states["Scan"]
    assert scan["ToleratedFailurePercentage"] == 100
    scan["ToleratedFailurePercentage"] = 100.0
    options = states["Start"]["Parameters"]["options.$"]
    assert "StringToJson('\\{" in options
    states["Start"]["Parameters"]["options.$"] = options.replace("\\{", "{").replace("\\}", "}")
    return moto_copy


def inline_outputs(definition: Mapping[str, Any]) -> dict[str, Any]:
    """Without the ResultWriter (moto's writes none of the result files): the Map's output is
    then the children's outputs, what AWS would have written to the result files' ``Output``."""
    inline = copy.deepcopy(dict(definition))
    del inline["States"]["Scan"]["ResultWriter"]
    return inline


@pytest.fixture
def definition(template: dict[str, Any], functions: Functions) -> dict[str, Any]:
    return for_moto(deployable_definition(template, functions.arns))


@dataclass(frozen=True)
class Finished:
    """A finished execution, as DescribeExecution and GetExecutionHistory tell it."""

    status: str
    output: Any
    error: str | None
    cause: str | None
    history: list[dict[str, Any]]

    def states_entered(self) -> list[str]:
        return [
            e["stateEnteredEventDetails"]["name"]
            for e in self.history
            if "stateEnteredEventDetails" in e
        ]


def run(definition: Mapping[str, Any], execution_input: Any = None) -> Finished:
    """Create the state machine in moto, start an execution named with the run id (the plan
    step takes the execution's name as the run id), and wait for the execution's thread: no
    polling, no sleeping."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="backupwatch",  # one per test: each test has a moto of its own
        definition=json.dumps(definition),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/backupwatch-state-machine",
        type="STANDARD",
    )["stateMachineArn"]
    before = len(TMP_THREADS)
    execution = sfn.start_execution(
        stateMachineArn=machine, name=RUN_ID, input=json.dumps(execution_input or {})
    )["executionArn"]
    worker = TMP_THREADS[before]  # the execution's thread, started by StartExecution
    worker.join(timeout=JOIN_SECONDS)
    assert not worker.is_alive(), f"the execution did not end within {JOIN_SECONDS} s"
    described = sfn.describe_execution(executionArn=execution)
    history = sfn.get_execution_history(executionArn=execution)["events"]
    output = described.get("output")
    return Finished(
        status=described["status"],
        output=json.loads(output) if output is not None else None,
        error=described.get("error"),
        cause=described.get("cause"),
        history=[dict(event) for event in history],
    )


def planned(s3: Any, functions: Functions, retrier: Retrier) -> dict[str, Any]:
    """The scope list written as handlers.plan_scopes writes it, and the plan step's result
    queued in moto (the plan is the first invocation of the run)."""
    plan = write_plan(
        s3,
        retrier,
        bucket=REPORTS,
        prefix=PREFIX,
        run_id=RUN_ID,
        started_at=NOW,
        scopes=SCOPES,
    ).model_dump(mode="json")
    functions.queue(plan)
    return plan


def published(functions: Functions) -> dict[str, Any]:
    [event] = functions.calls["PublishFunction"]
    assert isinstance(event, dict)
    return event


def scanned_scopes(functions: Functions) -> list[Scope]:
    """The scopes the scan function was asked for, each a ScanRequest of this run, in the
    scope list's order (children run in any order)."""
    requests = [ScanRequest.model_validate(c) for c in functions.calls.get("ScanFunction", [])]
    for request in requests:
        assert (request.run_id, request.bucket) == (RUN_ID, REPORTS)
    return sorted((r.scope for r in requests), key=SCOPES.index)


# --- 1. the happy path ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("execution_input", "dry_run", "at_once"),
    [({}, False, 2), ({"dry_run": True, "max_concurrency": 1}, True, 1)],
    ids=["scheduled", "dry-run-one-at-a-time"],
)
def test_a_run_plans_scans_each_scope_and_publishes_what_the_reader_accepts(
    definition: dict[str, Any],
    functions: Functions,
    s3: Any,
    retrier: Retrier,
    execution_input: dict[str, Any],
    dry_run: bool,
    at_once: int,
) -> None:
    """Start -> Plan -> Scan -> Publish, SUCCEEDED: the plan step is asked for the execution's
    name as run id; the Map reads the plan's scopes.json and gives each scope its own child
    (no more at once than the run's max_concurrency); Publish gets {plan, scan: the
    ResultWriter's manifest, dry_run}, which ``read_publish_event`` reads without a problem."""
    plan = planned(s3, functions, retrier)
    functions.answers["ScanFunction"] = scanned
    functions.answers["PublishFunction"] = in_turn(SUMMARY)

    finished = run(definition, execution_input)

    assert (finished.status, finished.error) == ("SUCCEEDED", None)
    assert finished.states_entered() == ["Start", "Plan", "Scan", "Publish"]
    assert finished.output == SUMMARY  # Publish's OutputPath: the function's own result
    assert functions.calls["PlanFunction"] == [{"run_id": RUN_ID}]
    assert scanned_scopes(functions) == list(SCOPES)
    assert functions.most_at_once["ScanFunction"] <= at_once
    event = published(functions)
    assert event["plan"] == plan
    assert event["dry_run"] is dry_run
    request = read_publish_event(event)
    assert (request.problems, request.scan_problems) == ((), ())
    assert request.plan is not None
    assert request.plan.model_dump(mode="json") == plan
    assert request.manifest is not None
    assert request.manifest.bucket == REPORTS
    assert request.manifest.key.startswith(f"{PREFIX}runs/")
    # moto wrote the manifest where the Map's output says (its result lists are empty: moto).
    body = s3.get_object(Bucket=REPORTS, Key=request.manifest.key)["Body"].read()
    manifest = Manifest.model_validate_json(body)
    assert manifest.map_run_arn == event["scan"]["MapRunArn"]
    assert manifest.destination_bucket == REPORTS


# --- 2. a failed scan child -------------------------------------------------------------------


def test_a_failed_child_does_not_fail_the_map_or_the_run(
    definition: dict[str, Any], functions: Functions, s3: Any, retrier: Retrier
) -> None:
    """As deployed (ResultWriter on): one scope's function times out; its child is caught, the
    Map succeeds, and Publish gets the manifest as on a good day (the failure is in the result
    files, which moto does not write: see the next test)."""
    planned(s3, functions, retrier)
    functions.answers["ScanFunction"] = scan_failing(SCOPES[0], TIMED_OUT)
    functions.answers["PublishFunction"] = in_turn(SUMMARY)

    finished = run(definition)

    assert (finished.status, finished.states_entered()) == (
        "SUCCEEDED",
        ["Start", "Plan", "Scan", "Publish"],
    )
    assert scanned_scopes(functions) == list(SCOPES)  # a function error is not retried
    request = read_publish_event(published(functions))
    assert (request.problems, request.scan_problems) == ((), ())
    assert request.manifest is not None


@pytest.mark.parametrize(
    ("outcome", "invocations", "failure"),
    [
        (TIMED_OUT, 1, "scan failed: Sandbox.Timedout: Task timed out after 900.00 seconds"),
        (THROTTLED, 7, "scan failed: Lambda.TooManyRequestsException: Rate Exceeded."),
    ],
    ids=["function-error-not-retried", "throttled-retried-then-caught"],
)
def test_a_failed_childs_item_is_the_failed_scope_the_digest_reports(
    definition: dict[str, Any],
    functions: Functions,
    s3: Any,
    retrier: Retrier,
    waits: list[float],
    outcome: Raised | Refused,
    invocations: int,
    failure: str,
) -> None:
    """The children's outputs, inline: the failed scope's item is its scan request plus
    ``error: {Error, Cause}`` (the Catch's ResultPath), which the publish step reads as that
    scope's failure, and the digest reports as a scope error; the other scope is checked. A
    throttled child is retried first (MaxAttempts 6, backoff with jitter), then caught."""
    planned(s3, functions, retrier)
    functions.answers["ScanFunction"] = scan_failing(SCOPES[0], outcome)
    functions.answers["PublishFunction"] = in_turn(SUMMARY)

    finished = run(inline_outputs(definition))

    assert finished.status == "SUCCEEDED"
    calls = [ScanRequest.model_validate(c).scope for c in functions.calls["ScanFunction"]]
    assert (calls.count(SCOPES[0]), calls.count(SCOPES[1])) == (invocations, 1)
    assert len(waits) == invocations - 1
    request = read_publish_event(published(functions))
    assert (request.problems, request.scan_problems) == ((), ())
    assert request.results is not None
    failed_item, checked_item = request.results  # in item order, as the scope list has them
    assert failed_item["error"]["Error"] == (
        outcome.error_type if isinstance(outcome, Raised) else outcome.error
    )
    assert {k: v for k, v in failed_item.items() if k != "error"} == {
        "scope": SCOPES[0].model_dump(mode="json"),
        "run_id": RUN_ID,
        "bucket": REPORTS,
    }
    failed, checked = read_entry(failed_item), read_entry(checked_item)
    assert failed.scope == SCOPES[0]
    assert failed.failure is not None
    assert failed.failure.startswith(failure)
    assert (checked.scope, checked.report) == (SCOPES[1], partial_report(SCOPES[1]))
    collected = collect([failed, checked], started_at=NOW, checks=(Check.RDS,), planned=SCOPES)
    assert (collected.scopes, collected.scopes_failed) == (2, 1)
    [error] = collected.report.region_errors
    assert error == RegionError(account_id=MEMBER, region=REGION, reason=failed.failure)


# --- 3. a failed plan, a failed Map -----------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "invocations"),
    [
        (Raised("ConfigurationError", "BACKUPWATCH_REPORT_BUCKET='': required"), 1),
        (UNAVAILABLE, 6),
    ],
    ids=["function-error-not-retried", "lambda-unavailable-retried-then-caught"],
)
def test_a_failed_plan_still_reaches_publish(
    definition: dict[str, Any],
    functions: Functions,
    waits: list[float],
    outcome: Raised | Refused,
    invocations: int,
) -> None:
    """The plan step fails for good (after its retries, for a transient Lambda error): the
    Catch puts the error in ``plan``, PlanFailed skips the Map, and Publish gets
    {plan: {Error, Cause}, scan: [], dry_run}, which the publish step reads as "the plan step
    failed: ...": a digest still goes out, and the run SUCCEEDS."""
    functions.answers["PlanFunction"] = in_turn(outcome)
    functions.answers["PublishFunction"] = in_turn(SUMMARY)

    finished = run(definition)

    assert (finished.status, finished.states_entered()) == (
        "SUCCEEDED",
        ["Start", "Plan", "PlanFailed", "Publish"],
    )
    assert len(functions.calls["PlanFunction"]) == invocations
    assert len(waits) == invocations - 1
    assert "ScanFunction" not in functions.calls
    event = published(functions)
    error = outcome.error_type if isinstance(outcome, Raised) else outcome.error
    assert event["plan"]["Error"] == error
    assert (event["scan"], event["dry_run"]) == ([], False)
    request = read_publish_event(event)
    assert request.plan is None
    [problem] = request.problems
    assert problem.startswith(f"the plan step failed: {error}: {outcome.message}")
    assert (request.results, request.scan_problems) == ((), ())


def test_a_failed_map_still_reaches_publish(
    definition: dict[str, Any], functions: Functions, s3: Any
) -> None:
    """The Map itself fails (its ItemReader finds no scopes.json): the Map's Catch puts the
    error in ``scan``, and the publish step reads "the scan step failed: ..." (every planned
    scope is then reported as not heard from)."""
    plan = {
        "run_id": RUN_ID,
        "started_at": "2026-11-27T07:00:00Z",
        "bucket": REPORTS,
        "scopes_key": f"{PREFIX}runs/{RUN_ID}/scopes.json",  # never written
        "scope_count": 2,
        "errors": [],
    }
    functions.queue(plan)
    functions.answers["PublishFunction"] = in_turn(SUMMARY)

    finished = run(definition)

    assert (finished.status, finished.states_entered()) == (
        "SUCCEEDED",
        ["Start", "Plan", "Scan", "Publish"],
    )
    assert "ScanFunction" not in functions.calls
    event = published(functions)
    assert set(event["scan"]) == {"Error", "Cause"}
    request = read_publish_event(event)
    assert (request.problems, request.manifest) == ((), None)
    [problem] = request.scan_problems
    assert problem.startswith(f"the scan step failed: {event['scan']['Error']}")


# --- 4. the publish step's retries --------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcomes", "invocations", "status", "error"),
    [
        ((THROTTLED, THROTTLED, SUMMARY), 3, "SUCCEEDED", None),
        ((THROTTLED,), 6, "FAILED", THROTTLED.error),  # 1 + MaxAttempts
        ((UNAVAILABLE,), 1, "FAILED", UNAVAILABLE.error),
        ((Raised("PublishError", "SNS refused the digest"),), 1, "FAILED", "PublishError"),
    ],
    ids=["throttled-twice", "throttled-always", "lambda-unavailable", "function-error"],
)
def test_publish_is_retried_only_when_lambda_refused_it(
    definition: dict[str, Any],
    functions: Functions,
    s3: Any,
    retrier: Retrier,
    waits: list[float],
    outcomes: tuple[Any, ...],
    invocations: int,
    status: str,
    error: str | None,
) -> None:
    """A throttled Publish (the function never ran) is retried, at most MaxAttempts times,
    each wait within its backoff (FULL jitter: anywhere from 0 to the backoff); any other
    failure may come after SNS took the digest, so it is not retried, and, uncaught, fails the
    run (the ExecutionsFailed alarm)."""
    planned(s3, functions, retrier)
    functions.answers["ScanFunction"] = scanned
    functions.answers["PublishFunction"] = in_turn(*outcomes)

    finished = run(definition)

    assert (finished.status, finished.error) == (status, error)
    assert len(functions.calls["PublishFunction"]) == invocations
    [retry] = definition["States"]["Publish"]["Retry"]
    assert len(waits) == invocations - 1 <= retry["MaxAttempts"]
    for attempt, wait in enumerate(waits):
        backoff = retry["IntervalSeconds"] * retry["BackoffRate"] ** attempt
        assert 0 <= wait <= min(backoff, retry["MaxDelaySeconds"])
    if status == "SUCCEEDED":
        assert finished.output == SUMMARY
