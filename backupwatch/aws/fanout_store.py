"""The Step Functions data path's S3 side: the plan's scope list, large partial reports, and
the Distributed Map's ResultWriter output (AWS I/O).

Every call goes through the run's ``Retrier`` (``s3:PutObject``, ``s3:GetObject``). Writing the
scope list raises, because without it the Map has nothing to scan; everything the publish step
reads is read leniently (``gather`` never raises for AWS trouble or bad data): whatever cannot
be read becomes a scope error in the digest, and the digest still goes out.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from backupwatch.aws.retry import Retrier
from backupwatch.core.errors import AwsCallError
from backupwatch.core.fanout import (
    INLINE_MAX_BYTES,
    Collected,
    Manifest,
    Plan,
    PublishRequest,
    Received,
    ScanResult,
    collect,
    event_bytes,
    partial_key,
    read_entry,
    scopes_key,
)
from backupwatch.core.models import Check, RegionError, Report, S3Location, Scope

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger("backupwatch")

CONTENT_TYPE = "application/json"
_SCOPES = TypeAdapter(tuple[Scope, ...])


def write_plan(
    s3: S3Client,
    retrier: Retrier,
    *,
    bucket: str,
    prefix: str,
    run_id: str,
    started_at: datetime,
    scopes: Iterable[Scope],
    errors: Iterable[RegionError] = (),
) -> Plan:
    """Write the scope list the Map reads (a JSON array of scopes) and return the plan.

    Raises ``AwsCallError`` when the list cannot be written: the scan cannot start without it.
    """
    listed = tuple(scopes)
    key = scopes_key(prefix, run_id)
    body = _SCOPES.dump_json(listed)
    _put(s3, retrier, S3Location(bucket=bucket, key=key), body)
    return Plan(
        run_id=run_id,
        started_at=started_at,
        bucket=bucket,
        scopes_key=key,
        scope_count=len(listed),
        errors=tuple(errors),
    )


def read_scopes(s3: S3Client, retrier: Retrier, location: S3Location) -> tuple[Scope, ...]:
    """The plan's scope list; raises ``AwsCallError`` or ``ValueError`` (not a scope list)."""
    return _SCOPES.validate_json(_get(s3, retrier, location))


def store_scan(
    s3: S3Client,
    retrier: Retrier,
    scope: Scope,
    report: Report,
    *,
    bucket: str,
    prefix: str,
    run_id: str,
    max_inline_bytes: int | None = None,
) -> ScanResult:
    """The scan child's output: the report inline, or, when larger than ``max_inline_bytes``
    (``INLINE_MAX_BYTES``),
    written to S3 and returned as its location. Never raises for AWS trouble: a report that
    cannot be written is replaced by a scope error saying so (its tenants are then unknown to
    the digest, which says the scope was not checked, and why)."""
    inline = ScanResult(scope=scope, report=report)
    size = event_bytes(inline.to_event())
    if size <= (INLINE_MAX_BYTES if max_inline_bytes is None else max_inline_bytes):
        return inline
    location = S3Location(bucket=bucket, key=partial_key(prefix, run_id, scope))
    try:
        _put(s3, retrier, location, report.to_json().encode())
    except AwsCallError as error:
        logger.error("could not write the partial report to %s: %s", location.uri, error)
        reason = (
            f"its report ({len(report.tenants)} tenants, {size} bytes, too large to return) "
            f"could not be written to {location.uri}: {error.short}"
        )
        lost = RegionError(account_id=scope.account_id, region=scope.region, reason=reason)
        return ScanResult(
            scope=scope,
            report=report.model_copy(update={"tenants": (), "region_errors": (lost,)}),
        )
    return ScanResult(scope=scope, report_s3=location)


def gather(
    s3: S3Client,
    retrier: Retrier,
    request: PublishRequest,
    *,
    checks: tuple[Check, ...],
    now: datetime,
) -> Collected:
    """Everything the scan returned, as the run's one report; never raises for AWS trouble.

    Reads the plan's scope list, the scan results (inline, or the ResultWriter's manifest and
    its files) and any partial report stored in S3. Whatever cannot be read is reported: a
    planned scope with no readable result is a scope error saying why; an unreadable scope list
    is a scope error of its own, and every scope heard from is still reported. ``now`` is the
    report's time only when the plan (which carries the run's start) is missing.
    """
    errors = [RegionError(reason=problem) for problem in request.problems]
    missing_because = list(request.scan_problems)
    planned: tuple[Scope, ...] | None = None
    started_at = now
    if request.plan is not None:
        started_at = request.plan.started_at
        errors.extend(request.plan.errors)
        try:
            planned = read_scopes(s3, retrier, request.plan.scopes)
        except (AwsCallError, ValueError) as error:
            reason = f"the run's scope list {request.plan.scopes.uri} could not be read: "
            errors.append(RegionError(reason=reason + _why(error)))
            logger.error("%s%s", reason, error)
    received: list[Received] = []
    if request.results is not None:
        received = [read_entry(entry) for entry in request.results]
    elif request.manifest is not None:
        received = _from_manifest(s3, retrier, request.manifest, missing_because)
    resolved = [_resolve(s3, retrier, item) for item in received]
    for item in resolved:
        if item.failure is not None:
            where = item.scope.label if item.scope is not None else "?"
            logger.error("scope %s not checked: %s", where, item.failure)
    return collect(
        resolved,
        started_at=started_at,
        checks=checks,
        planned=planned,
        errors=errors,
        missing_because=missing_because,
    )


def _from_manifest(
    s3: S3Client, retrier: Retrier, location: S3Location, missing_because: list[str]
) -> list[Received]:
    """Every entry of every result file the manifest lists (succeeded, failed, pending)."""
    try:
        manifest = Manifest.model_validate_json(_get(s3, retrier, location))
    except (AwsCallError, ValueError) as error:
        missing_because.append(
            f"the scan's manifest {location.uri} could not be read: {_why(error)}"
        )
        logger.error("cannot read the manifest %s: %s", location.uri, error)
        return []
    bucket = manifest.destination_bucket or location.bucket
    received: list[Received] = []
    for result_file in manifest.result_files.all:
        where = S3Location(bucket=bucket, key=result_file.key)
        try:
            entries = _entries(_get(s3, retrier, where))
        except (AwsCallError, ValueError) as error:
            missing_because.append(f"result file {where.uri} could not be read: {_why(error)}")
            logger.error("cannot read the result file %s: %s", where.uri, error)
            continue
        received.extend(read_entry(entry) for entry in entries)
    return received


def _entries(body: bytes) -> list[Any]:
    """A result file: a JSON array (``OutputType: JSON``, the default) or JSON Lines."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return [json.loads(line) for line in body.splitlines() if line.strip()]
    if not isinstance(parsed, list):
        raise ValueError("a result file holds a JSON array of executions")
    return parsed


def _resolve(s3: S3Client, retrier: Retrier, item: Received) -> Received:
    """A received report whose body is in S3, read; an unreadable one becomes a failure."""
    if item.report_s3 is None:
        return item
    try:
        report = Report.from_json(_get(s3, retrier, item.report_s3))
    except (AwsCallError, ValueError) as error:
        return Received(
            scope=item.scope,
            failure=f"its report {item.report_s3.uri} could not be read: {_why(error)}",
        )
    return Received(scope=item.scope, report=report)


def _why(error: Exception) -> str:
    if isinstance(error, AwsCallError):
        return error.short
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top)"
        return f"not what was expected: {where}: {first['msg']}"
    text = " ".join(str(error).split())
    return text[:200]


def _get(s3: S3Client, retrier: Retrier, location: S3Location) -> bytes:
    def read() -> bytes:
        # Inside the retried call: a body cut off mid-read is retried like a failed request.
        return s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read()

    return retrier.call("s3:GetObject", read)


def _put(s3: S3Client, retrier: Retrier, location: S3Location, body: bytes) -> None:
    retrier.call(
        "s3:PutObject",
        lambda: s3.put_object(
            Bucket=location.bucket, Key=location.key, Body=body, ContentType=CONTENT_TYPE
        ),
    )
