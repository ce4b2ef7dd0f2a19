"""The Step Functions data path as data (pure): what each step hands the next, and how the
publish step turns whatever came back into the run's one report.

::

    Plan ── scopes.json ──> Scan (Distributed Map: one child per scope) ── ResultWriter ──> Publish

Step Functions caps a state's payload at 256 KiB, so the scope list travels through S3 (the
Map's ItemReader reads it), and so does a partial report too large to return inline (the child
returns its key instead). Keys live under ``<report prefix>runs/<run id>/``; the run id is the
execution's name.

The publish step must never lose a scope in silence. Every planned scope ends in the report in
exactly one of three ways: checked (its partial report, tenants and all), failed (a
``RegionError`` naming the scan's error), or not heard from (a ``RegionError`` "no result from
the scan", saying why when the publish step knows: an unreadable manifest, say).

Nothing here calls AWS; ``backupwatch.aws.fanout_store`` reads and writes S3.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from backupwatch.core.merge import merge_reports
from backupwatch.core.models import (
    READING,
    Check,
    FrozenValue,
    RegionError,
    Report,
    S3Location,
    Scope,
)

INLINE_MAX_BYTES = 200_000
"""Largest scan output returned inline. Step Functions' limit is 262,144 bytes per state
payload; the rest is headroom for what the ``lambda:invoke`` integration adds around it. A
larger partial report goes to S3. About 240 tenants fit (some 820 bytes each)."""

CAUSE_MAX_CHARS = 300
"""How much of a Step Functions error ``Cause`` a digest line keeps (a stack trace is long)."""

RUN_ID_MAX_CHARS = 80
"""Step Functions execution names are 1 to 80 characters."""

ScopeKey = tuple[str, str]
"""A scope's identity across steps: account id ("" for the home account) and region."""


class _AwsShape(BaseModel):
    """A structure AWS writes (a manifest, a ResultWriter entry): fields AWS adds later are
    ignored rather than refused, so a new field never costs a digest."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


def scope_key(scope: Scope) -> ScopeKey:
    return (scope.account_id or "", scope.region)


def check_run_id(run_id: str) -> str:
    """The run id, if it is safe as one S3 key segment; raises ``ValueError`` otherwise.

    Any execution name passes (Step Functions already refuses ``/``, spaces and control
    characters in them); what would leave the run's folder (``/``, ``\\``, ``.``, ``..``) or
    break a key does not.
    """
    unsafe = (
        not 1 <= len(run_id) <= RUN_ID_MAX_CHARS
        or set(run_id) <= {"."}
        or any(c in "/\\" or c.isspace() or not c.isprintable() for c in run_id)
    )
    if unsafe:
        raise ValueError(
            f"run id {run_id!r} must be 1 to {RUN_ID_MAX_CHARS} printable characters without "
            "'/', '\\' or spaces, and not only dots (a Step Functions execution name)"
        )
    return run_id


def run_prefix(prefix: str, run_id: str) -> str:
    """``<prefix>runs/<run id>/``: where one run's plan and large partial reports live."""
    return f"{prefix}runs/{check_run_id(run_id)}/"


def scopes_key(prefix: str, run_id: str) -> str:
    """The JSON array of the run's scopes, which the Map's ItemReader reads."""
    return f"{run_prefix(prefix, run_id)}scopes.json"


def partial_key(prefix: str, run_id: str, scope: Scope) -> str:
    """Where a scope's partial report goes when it is too large to return inline."""
    return f"{run_prefix(prefix, run_id)}partials/{scope.account_id or 'home'}-{scope.region}.json"


class Plan(FrozenValue):
    """What the plan step returns, and the state machine passes on to the publish step."""

    run_id: str
    started_at: AwareDatetime
    """When the run started: the digest's date and time, whatever time the scans ran at."""
    bucket: str
    scopes_key: str
    scope_count: int = Field(ge=0)
    errors: tuple[RegionError, ...] = ()
    """What kept scopes from being known (an organization that could not be listed)."""

    _run_id = field_validator("run_id")(check_run_id)

    @property
    def scopes(self) -> S3Location:
        return S3Location(bucket=self.bucket, key=self.scopes_key)


class ScanRequest(BaseModel):
    """A scan child's input, as the Map's ItemSelector builds it. Other keys are ignored (the
    template may pass more); the scope itself must be exactly a ``Scope``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    scope: Scope
    run_id: str
    bucket: str | None = None
    """Where a large partial report goes; ``BACKUPWATCH_REPORT_BUCKET`` when not given."""

    _run_id = field_validator("run_id")(check_run_id)


class ScanResult(FrozenValue):
    """A scan child's output: the scope and its partial report, inline or in S3."""

    scope: Scope
    report: Report | None = None
    report_s3: S3Location | None = None

    @model_validator(mode="after")
    def _one_report(self) -> ScanResult:
        if (self.report is None) == (self.report_s3 is None):
            raise ValueError("a scan result has either 'report' or 'report_s3'")
        return self

    def to_event(self) -> dict[str, Any]:
        """The JSON-ready dict the Lambda returns: only the one of ``report``/``report_s3``
        that is set (inside the report, every field is kept so it round-trips)."""
        event: dict[str, Any] = {"scope": self.scope.model_dump(mode="json")}
        if self.report is not None:
            event["report"] = self.report.model_dump(mode="json")
        if self.report_s3 is not None:
            event["report_s3"] = self.report_s3.model_dump(mode="json")
        return event


def event_bytes(event: Mapping[str, Any]) -> int:
    """An upper bound of the size Step Functions counts for a Lambda's result: ``json.dumps``
    with its defaults (spaces after separators, non-ASCII escaped) is never shorter than what
    any Lambda runtime sends."""
    return len(json.dumps(event).encode())


class StepError(_AwsShape):
    """A Step Functions error: ``{"Error": ..., "Cause": ...}`` (a Catch's ResultPath, or a
    failed child in the ResultWriter's files)."""

    error: str = Field(alias="Error")
    cause: str | None = Field(default=None, alias="Cause")

    @property
    def short(self) -> str:
        """``Lambda.TooManyRequestsException: Rate Exceeded.``: one line, the cause clipped.

        A Lambda function's error arrives with a JSON cause (``errorMessage``, ``errorType``,
        ``stackTrace``); only its message is kept.
        """
        cause = self.cause or ""
        try:
            parsed = json.loads(cause)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("errorMessage"), str):
            cause = parsed["errorMessage"]
        cause = " ".join(cause.split())
        if len(cause) > CAUSE_MAX_CHARS:
            cause = cause[: CAUSE_MAX_CHARS - 3].rstrip() + "..."
        return f"{self.error}: {cause}" if cause else self.error


class ResultFile(_AwsShape):
    key: str = Field(alias="Key")
    size: int | None = Field(default=None, alias="Size")


class ResultFiles(_AwsShape):
    succeeded: tuple[ResultFile, ...] = Field(default=(), alias="SUCCEEDED")
    failed: tuple[ResultFile, ...] = Field(default=(), alias="FAILED")
    pending: tuple[ResultFile, ...] = Field(default=(), alias="PENDING")

    @property
    def all(self) -> tuple[ResultFile, ...]:
        return (*self.succeeded, *self.failed, *self.pending)


class Manifest(_AwsShape):
    """The ResultWriter's ``manifest.json``: which files hold the children's results, by
    status. The files are in ``DestinationBucket``, at the keys given."""

    destination_bucket: str | None = Field(default=None, alias="DestinationBucket")
    map_run_arn: str | None = Field(default=None, alias="MapRunArn")
    result_files: ResultFiles = Field(default_factory=ResultFiles, alias="ResultFiles")


class Received(FrozenValue):
    """What the publish step learned about one scope from one entry of the scan's results.

    Exactly one of: ``report`` (checked), ``report_s3`` (checked, report still to be read), or
    ``failure`` (why not). ``scope`` is None only when the entry was too broken to say which
    scope it was about.
    """

    scope: Scope | None
    report: Report | None = None
    report_s3: S3Location | None = None
    failure: str | None = None

    @model_validator(mode="after")
    def _one_outcome(self) -> Received:
        if sum(x is not None for x in (self.report, self.report_s3, self.failure)) != 1:
            raise ValueError("an entry is either a report, a report's location, or a failure")
        if self.scope is None and self.failure is None:
            raise ValueError("a report must say which scope it is about")
        return self


def read_entry(entry: Any) -> Received:
    """One scan result, in any form the state machine can deliver it (never raises):

    - a ResultWriter entry (``Status``, and ``Input``/``Output`` as JSON *strings*): a child
      that did not succeed is a failure of the scope in its input;
    - a scan output (``{"scope", "report"}`` or ``{"scope", "report_s3"}``), as an inline Map
      or a COMPACT ResultWriter gives it, possibly wrapped in ``Payload`` by the
      ``lambda:invoke`` integration;
    - a caught failure: the child's input plus ``"error": {"Error", "Cause"}``.
    """
    if isinstance(entry, Mapping) and "Status" in entry:
        return _read_execution(entry)
    return read_output(entry)


def _read_execution(entry: Mapping[str, Any]) -> Received:
    status = str(entry.get("Status"))
    if status == "SUCCEEDED":
        output, problem = _json_field(entry, "Output")
        if problem is not None:
            return _broken(_json_field(entry, "Input")[0], problem)
        return read_output(output)
    step_input, _ = _json_field(entry, "Input")
    why = _step_error(entry) if entry.get("Error") else "no error given"
    return _broken(step_input, f"scan {status.lower()}: {why}")


def read_output(output: Any) -> Received:
    """One scan child's output (see ``read_entry``); never raises."""
    if isinstance(output, Mapping) and isinstance(output.get("Payload"), Mapping):
        output = output["Payload"]  # arn:aws:states:::lambda:invoke wraps the result
    if not isinstance(output, Mapping):
        return Received(scope=None, failure=f"a scan result is not an object: {_clip(output)}")
    caught = output.get("error")
    if caught is not None:
        try:
            why = StepError.model_validate(caught).short
        except ValidationError:
            why = _clip(caught)
        return _broken(output, f"scan failed: {why}")
    try:
        # READING: the report of a newer scan (mid-deploy) is read like Report.from_json reads.
        result = ScanResult.model_validate(output, context=READING)
    except ValidationError as error:
        return _broken(output, f"scan result unreadable: {_first_error(error)}")
    return Received(scope=result.scope, report=result.report, report_s3=result.report_s3)


def _broken(step_input: Any, failure: str) -> Received:
    """A failure, attributed to the scope in ``step_input`` when there is one to find."""
    scope = None
    if isinstance(step_input, Mapping):
        try:
            scope = Scope.model_validate(step_input.get("scope"))
        except ValidationError:
            scope = None
    if scope is None:
        failure = f"a scan result names no scope it is about: {failure}"
    return Received(scope=scope, failure=failure)


def _json_field(entry: Mapping[str, Any], name: str) -> tuple[Any, str | None]:
    """``entry[name]``: a JSON string in ResultWriter files (tolerated: already parsed)."""
    value = entry.get(name)
    if not isinstance(value, str):
        return value, None if value is not None else f"no {name} in the entry"
    try:
        return json.loads(value), None
    except ValueError as error:
        return None, f"{name} is not JSON: {error}"


def _clip(value: Any, limit: int = 120) -> str:
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top)"
    return f"{where}: {first['msg']}"


class Collected(FrozenValue):
    """The run's one report, and how its scopes fared."""

    report: Report
    scopes: int
    """Planned scopes, each once (or, when the plan could not be read, the scopes heard from)."""
    scopes_failed: int
    """Scopes not fully checked: failed, not heard from, or with a scope error of their own."""


def collect(
    received: Iterable[Received],
    *,
    started_at: datetime,
    checks: tuple[Check, ...],
    planned: tuple[Scope, ...] | None,
    errors: Iterable[RegionError] = (),
    missing_because: Iterable[str] = (),
) -> Collected:
    """Join what the scan returned into one report; nothing is lost, no scope is dropped.

    ``received`` must be resolved (no ``report_s3`` left). ``planned`` None means the scope
    list could not be read (``errors`` then says so): every scope heard from is still
    reported. ``missing_because`` explains a planned scope with no entry (an unreadable
    manifest or result file); without a plan, each is a scope error of its own. ``errors`` are
    the plan's own and any others to keep.

    A scope with a report and also a failure (a child retried by a redrive) counts as checked.
    """
    reports: dict[ScopeKey, list[Report]] = {}
    failures: dict[ScopeKey, list[str]] = {}
    scopes: dict[ScopeKey, Scope] = {scope_key(s): s for s in planned or ()}
    kept = list(errors)
    for item in received:
        if item.report_s3 is not None:
            raise ValueError(f"unresolved partial report {item.report_s3.uri}")
        if item.scope is None:
            kept.append(RegionError(reason=item.failure or "a scan result was unreadable"))
            continue
        key = scope_key(item.scope)
        scopes.setdefault(key, item.scope)
        if item.report is not None:
            reports.setdefault(key, []).append(item.report)
        else:
            failures.setdefault(key, []).append(item.failure or "scan failed")
    reasons = tuple(dict.fromkeys(missing_because))
    if planned is None:  # no scope to carry them: each is a scope error of its own
        kept.extend(RegionError(reason=reason) for reason in reasons)
    why = "; ".join(reasons)
    missing = "no result from the scan" + (f" ({why})" if why else "")
    for key, scope in scopes.items():
        if key in reports:
            continue
        for reason in dict.fromkeys(failures.get(key, [missing])):
            kept.append(
                RegionError(account_id=scope.account_id, region=scope.region, reason=reason)
            )
    base = Report(
        generated_at=started_at,
        regions=tuple(dict.fromkeys(s.region for s in scopes.values())),
        accounts=tuple(sorted({s.account_id for s in scopes.values() if s.account_id})),
        checks=checks,
        tenants=(),
        region_errors=tuple(kept),
    )
    report = merge_reports([base, *(r for parts in reports.values() for r in parts)])
    failed = sum(
        1 for key in scopes if key not in reports or any(r.region_errors for r in reports[key])
    )
    return Collected(
        report=report,
        scopes=len({scope_key(s) for s in planned}) if planned is not None else len(scopes),
        scopes_failed=failed,
    )


class PublishRequest(FrozenValue):
    """The publish step's event, read leniently: whatever is wrong with it becomes a problem
    the digest reports, never an exception that would stop the digest."""

    plan: Plan | None = None
    manifest: S3Location | None = None
    results: tuple[Any, ...] | None = None
    problems: tuple[str, ...] = ()
    """What was wrong with the event or the plan: each is a scope error of its own."""
    scan_problems: tuple[str, ...] = ()
    """Why scan results may be missing (the Map failed, no results given): the reason every
    planned scope without a result is reported with."""


def read_publish_event(event: Any) -> PublishRequest:
    """``{"plan": <Plan>, "scan": <Map output>}`` or ``{"plan": ..., "results": [...]}``.

    ``scan`` is the Distributed Map's output with a ResultWriter
    (``{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}``); a step whose failure was
    caught into its result path (``{"Error", "Cause"}`` in place of ``plan`` or ``scan``) is
    reported as such.
    """
    if not isinstance(event, Mapping):
        return PublishRequest(
            problems=(f"the publish step's event is not an object: {_clip(event)}",)
        )
    problems: list[str] = []
    plan = _read_plan(event.get("plan"), problems)
    manifest: S3Location | None = None
    results: tuple[Any, ...] | None = None
    scan_problems: list[str] = []
    scan = event.get("scan")
    if isinstance(event.get("results"), list):
        results = tuple(event["results"])
    elif isinstance(scan, list):  # an inline Map's output under the same name
        results = tuple(scan)
    elif isinstance(scan, Mapping) and "Error" in scan:
        scan_problems.append(f"the scan step failed: {_step_error(scan)}")
    elif isinstance(scan, Mapping) and isinstance(scan.get("ResultWriterDetails"), Mapping):
        details = scan["ResultWriterDetails"]
        try:
            manifest = S3Location(bucket=details.get("Bucket"), key=details.get("Key"))
        except ValidationError:
            scan_problems.append(
                f"the scan's ResultWriterDetails name no manifest: {_clip(details)}"
            )
    else:
        scan_problems.append("the publish step was given no scan results")
    return PublishRequest(
        plan=plan,
        manifest=manifest,
        results=results,
        problems=tuple(problems),
        scan_problems=tuple(scan_problems),
    )


def _read_plan(plan: Any, problems: list[str]) -> Plan | None:
    if plan is None:
        problems.append("the publish step was given no plan: its scopes are unknown")
        return None
    if isinstance(plan, Mapping) and "Error" in plan:
        problems.append(f"the plan step failed: {_step_error(plan)}")
        return None
    try:
        return Plan.model_validate(plan)
    except ValidationError as error:
        problems.append(f"the publish step's plan is unreadable: {_first_error(error)}")
        return None


def _step_error(value: Mapping[str, Any]) -> str:
    try:
        return StepError.model_validate(value).short
    except ValidationError:
        return _clip(value)
