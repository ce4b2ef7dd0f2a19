"""The report archive in S3: every run's full report, and a small index that makes history cheap.

Under ``BACKUPWATCH_REPORT_BUCKET`` and ``BACKUPWATCH_REPORT_PREFIX`` (``backupwatch/`` by
default)::

    <prefix>reports/2026/11/27/070000Z.json          every run's full report (``Report.to_json``)
    <prefix>reports/2026/11/27/070000Z.day.json.gz   its day summary (``DaySummary``, gzip)
    <prefix>index.json                                the index: recent runs, failing streaks
    <prefix>status.html                               the status page, rewritten by every run

The digest is a summary that SNS caps at 256 KB; the archived report is the whole truth, linked
from the digest. Dated keys sort by time, so an operator (or ``aws s3 ls``) finds a day's report
by hand. Code never lists the archive: listing grows with the archive and costs a request per
1,000 keys. The index names the recent runs instead, so the previous report costs two GETs (the
index, then the report) and the last 30 days at most 31, whatever the archive holds.

The index is small and bounded (``ArchiveIndex``): the runs of the last ``INDEX_DAYS`` days, at
most ``MAX_RUNS`` of them, and one "failing since" entry per failing tenant, which is what makes
"still failing since 2026-11-20 (7 days)" one lookup instead of seven reports. It is versioned.

Beside each report, its day summary (``core.day_summary``): what the status page, the email's
grid and the size rule's fallback read of an earlier day, about a quarter of the report's JSON
before gzip and a twentieth after it. A run reads the summaries of the page's earlier days
(``earlier_days``), not their reports; a day archived before summaries existed, or whose
summary cannot be read, is read from its report instead. So is the previous run, which "what
changed" compares with (``load_history(reader=...)``): its summary holds every row's key,
status and ``failing``, all that ``changes.compare`` compares.

Writing a run puts the report, its day summary, then the index (read before, modified, written
back). There is one run a day, so there is no lock. Old reports (and their summaries) expire by
the bucket's lifecycle rule (90 days by default): an index entry whose report is gone
(``NoSuchKey``) is skipped, never fatal.

What goes wrong, and what happens:

- Writing never raises: the digest must go out even when the archive is unwritable; the digest
  says what could not be written instead of linking it.
- ``previous_report`` and ``recent_reports`` raise ``AwsCallError`` (AccessDenied, retries
  exhausted) or ``pydantic.ValidationError`` (an index that is not one), so their caller can
  say why. ``load_history``, what a run uses, never raises: ``History.problem`` says why there
  is nothing to compare with.
- A corrupt index is replaced by a new one, with a logged warning. An index that could not be
  read (denied, throttled out) or that a newer backupwatch wrote is left alone: a passing
  fault must not erase the history.
- Without ``s3:ListBucket`` on the archive bucket, S3 answers a missing key with AccessDenied,
  not NoSuchKey: a first run could not tell "no index yet" from "denied". The function's policy
  grants it (docs/history.md).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import AwareDatetime, Field, InstanceOf, ValidationError, field_validator

from backupwatch.aws.retry import Retrier
from backupwatch.core.day_summary import (
    DaySummary,
    DaySummaryError,
    DaySummaryReader,
)
from backupwatch.core.errors import AwsCallError
from backupwatch.core.models import ArchivedReport, FrozenValue, Report, RowKey

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger("backupwatch")

CONTENT_TYPE = "application/json"
HTML_CONTENT_TYPE = "text/html; charset=utf-8"
INDEX_VERSION: Literal[1] = 1
INDEX_DAYS = 92
"""Runs older than this leave the index: past the default 90-day lifecycle their reports are
gone anyway."""
MAX_RUNS = 400
"""A bound for runs made many times a day (by hand, say): the index stays under ~60 KB of runs."""
PREVIOUS_TRIES = 3
"""Index entries tried, newest first, when the newest report is missing: a bounded skip."""
NO_SUCH_KEY = "NoSuchKey"
_KEY_SEPARATOR = "|"
"""Joins a ``RowKey`` in the index; RDS identifiers, regions and account ids never contain it."""


class IndexedRun(FrozenValue):
    """One run, as the index remembers it: where its report is, and its headline counts."""

    key: str
    generated_at: AwareDatetime
    tenants: int
    failing: int
    regions_failed: int = 0

    @classmethod
    def of(cls, report: Report, key: str) -> IndexedRun:
        summary = report.summary
        return cls(
            key=key,
            generated_at=report.generated_at,
            tenants=summary.tenants,
            failing=summary.failing,
            regions_failed=summary.regions_failed,
        )


class ArchiveIndex(FrozenValue):
    """``<prefix>index.json``: what makes the previous report and the last days O(1) to find.

    Bounded: ``runs`` keeps the last ``INDEX_DAYS`` days (at most ``MAX_RUNS``), oldest first;
    ``failing_since`` one entry per tenant failing in the last run (plus the streaks of tenants
    whose scope could not be checked), about 70 bytes each: 1,000 failing tenants are 70 KB.
    """

    version: Literal[1] = INDEX_VERSION
    updated_at: AwareDatetime
    runs: tuple[IndexedRun, ...] = ()
    failing_since: dict[str, AwareDatetime] = Field(default_factory=dict)
    """``account|region|kind|identifier`` (``TenantReport.key``; account empty when unknown) ->
    when its failing streak began."""

    @field_validator("failing_since")
    @classmethod
    def _keys_are_row_keys(cls, value: dict[str, datetime]) -> dict[str, datetime]:
        for key in value:
            if len(key.split(_KEY_SEPARATOR)) != 4:
                raise ValueError(f"{key!r} is not account|region|kind|identifier")
        return value

    @property
    def streaks(self) -> dict[RowKey, datetime]:
        """``failing_since`` keyed like ``TenantReport.key``, for ``changes.compare``."""
        return {_row_key(key): since for key, since in self.failing_since.items()}

    def with_run(self, run: IndexedRun, streaks: Mapping[RowKey, datetime]) -> ArchiveIndex:
        """This index after ``run``: the run added (replacing one of the same key), old runs
        dropped, the streaks replaced by ``streaks`` (what ``compare`` computed for the run)."""
        runs = sorted(
            [r for r in self.runs if r.key != run.key] + [run], key=lambda r: r.generated_at
        )
        newest = runs[-1].generated_at
        kept = [r for r in runs if r.generated_at >= newest - timedelta(days=INDEX_DAYS)]
        return ArchiveIndex(
            updated_at=run.generated_at,
            runs=tuple(kept[-MAX_RUNS:]),
            failing_since={
                _KEY_SEPARATOR.join(key): since for key, since in sorted(streaks.items())
            },
        )


class History(FrozenValue):
    """What a run knows of the runs before it: never an exception, always a reason."""

    index: ArchiveIndex | None = None
    previous: Report | None = None
    """The previous run's full report, when that is what was read: ``load_history`` without a
    ``reader``, or with one when the run has no day summary (archived before summaries
    existed) or it could not be read."""
    previous_day: InstanceOf[DaySummary] | None = None
    """The previous run's day summary, when ``load_history`` was given a ``reader`` and the
    summary could be read: what "what changed" compares with (``changes.compare``)."""
    previous_key: str | None = None
    problem: str | None = None
    """Why there is no previous report to compare with (first run, unreadable archive...)."""
    index_writable: bool = True
    """False when an index exists that could not be read: this run must not replace it."""

    @property
    def compared_with(self) -> Report | DaySummary | None:
        """The previous run as read: its day summary, else its report, else None."""
        return self.previous_day if self.previous_day is not None else self.previous


def report_key(prefix: str, generated_at: datetime) -> str:
    """``<prefix>reports/YYYY/MM/DD/HHMMSSZ.json``: sorted by time, one per run."""
    return f"{prefix}reports/{generated_at.astimezone(UTC):%Y/%m/%d/%H%M%S}Z.json"


def day_summary_key(key: str) -> str:
    """The day summary of the report at ``key``: ``...reports/2026/11/27/070000Z.day.json.gz``,
    beside it, so the lifecycle rule that expires the reports expires it too."""
    return key.removesuffix(".json") + ".day.json.gz"


def index_key(prefix: str) -> str:
    """``<prefix>index.json``: outside ``reports/``, so a lifecycle rule on the reports never
    expires it (it is rewritten every run anyway)."""
    return f"{prefix}index.json"


def status_page_key(prefix: str) -> str:
    """``<prefix>status.html``: one fixed key, so a bookmark always shows the newest page."""
    return f"{prefix}status.html"


# --- writing ------------------------------------------------------------------------------------


def write_report(
    s3: S3Client,
    retrier: Retrier,
    report: Report,
    *,
    bucket: str,
    prefix: str,
    url_hours: float = 0.0,
) -> ArchivedReport:
    """Write ``report`` as JSON under its dated key; never raises for AWS trouble."""
    key = report_key(prefix, report.generated_at)
    return _put(s3, retrier, bucket, key, report.to_json().encode(), CONTENT_TYPE, url_hours)


def write_run(
    s3: S3Client,
    retrier: Retrier,
    report: Report,
    *,
    bucket: str,
    prefix: str,
    index: ArchiveIndex | None,
    streaks: Mapping[RowKey, datetime],
    update_index: bool = True,
    url_hours: float = 0.0,
    summary: DaySummary | None = None,
) -> ArchivedReport:
    """Archive one run: its report, its day summary (``summary``, or ``DaySummary.of(report)``),
    then the index with the run added (``index`` is the one read before the run, None to start
    a new one). Never raises for AWS trouble.

    The index is updated only once the report is written, so it never names a report that
    was never there; ``update_index=False`` (the index could not be read) leaves it alone. A
    summary that cannot be written is logged and costs nothing else: readers of that day read
    its report instead.
    """
    archived = write_report(s3, retrier, report, bucket=bucket, prefix=prefix, url_hours=url_hours)
    if archived.error is not None:
        return archived
    write_day_summary(
        s3, retrier, summary or DaySummary.of(report), bucket=bucket, key=archived.key
    )
    if not update_index:
        why = "it could not be read, so it was left as it is"
        logger.warning("archive index s3://%s/%s not updated: %s", bucket, index_key(prefix), why)
        return archived.model_copy(update={"index_error": why})
    new_index = (index or ArchiveIndex(updated_at=report.generated_at)).with_run(
        IndexedRun.of(report, archived.key), streaks
    )
    key = index_key(prefix)
    body = new_index.model_dump_json().encode()
    try:
        retrier.call(
            "s3:PutObject",
            lambda: s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=CONTENT_TYPE),
        )
    except AwsCallError as error:
        logger.error("could not write the archive index s3://%s/%s: %s", bucket, key, error)
        return archived.model_copy(update={"index_error": error.short})
    return archived


def write_day_summary(
    s3: S3Client, retrier: Retrier, summary: DaySummary, *, bucket: str, key: str
) -> str | None:
    """Write ``summary`` beside the report at ``key`` (``day_summary_key``), gzip-compressed
    JSON; None when written, or why not (logged). Never raises for AWS trouble."""
    where = day_summary_key(key)
    body = summary.to_bytes()
    try:
        retrier.call(
            "s3:PutObject",
            lambda: s3.put_object(
                Bucket=bucket,
                Key=where,
                Body=body,
                ContentType=CONTENT_TYPE,
                ContentEncoding="gzip",
            ),
        )
    except AwsCallError as error:
        logger.error(
            "could not write the day summary s3://%s/%s (its report is read instead): %s",
            bucket,
            where,
            error,
        )
        return error.short
    return None


def write_status_page(
    s3: S3Client,
    retrier: Retrier,
    html: str | bytes,
    *,
    bucket: str,
    prefix: str,
    url_hours: float = 0.0,
) -> ArchivedReport:
    """Write the status page (its text, or that text encoded as UTF-8:
    ``status_page.status_page_bytes``) to ``<prefix>status.html``; never raises for AWS
    trouble."""
    body = html.encode() if isinstance(html, str) else html
    return _put(s3, retrier, bucket, status_page_key(prefix), body, HTML_CONTENT_TYPE, url_hours)


def _put(
    s3: S3Client,
    retrier: Retrier,
    bucket: str,
    key: str,
    body: bytes,
    content_type: str,
    url_hours: float,
) -> ArchivedReport:
    try:
        retrier.call(
            "s3:PutObject",
            lambda: s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type),
        )
    except AwsCallError as error:
        logger.error("could not write s3://%s/%s: %s", bucket, key, error)
        return ArchivedReport(bucket=bucket, key=key, error=error.short)
    url = presigned_url(s3, bucket, key, url_hours) if url_hours else None
    return ArchivedReport(bucket=bucket, key=key, url=url)


def presigned_url(s3: S3Client, bucket: str, key: str, hours: float) -> str:
    """A GET link valid ``hours`` (at most 7 days, and never beyond the signing credentials'
    own expiry: a Lambda role's credentials last hours, see docs/configuration.md#reports)."""
    return s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=int(hours * 3600)
    )


# --- reading ------------------------------------------------------------------------------------


def read_report(s3: S3Client, retrier: Retrier, *, bucket: str, key: str) -> Report:
    """Read a report written by ``write_report`` (or any ``Report.to_json``); raises
    ``AwsCallError`` when it cannot be read and ``pydantic.ValidationError`` when it is not a
    report."""
    return Report.from_json(_get(s3, retrier, bucket, key))


def read_index(s3: S3Client, retrier: Retrier, *, bucket: str, prefix: str) -> ArchiveIndex | None:
    """The archive's index; None when there is none yet. One GET.

    Raises ``AwsCallError`` when it cannot be read and ``pydantic.ValidationError`` when it is
    not an index of this version.
    """
    try:
        body = _get(s3, retrier, bucket, index_key(prefix))
    except AwsCallError as error:
        if error.code == NO_SUCH_KEY:
            return None
        raise
    return ArchiveIndex.model_validate_json(body)


def previous_report(s3: S3Client, retrier: Retrier, *, bucket: str, prefix: str) -> Report | None:
    """The newest archived report: two GETs (index, report), never a listing.

    None when there is no index yet, or it names no report that still exists (the newest
    ``PREVIOUS_TRIES`` are tried, newest first, skipping expired or deleted ones). Raises
    ``AwsCallError`` or ``pydantic.ValidationError`` when the archive cannot be read, so the
    caller can say why (``load_history`` is the variant that never raises).
    """
    index = read_index(s3, retrier, bucket=bucket, prefix=prefix)
    if index is None:
        return None
    found = _newest_report(s3, retrier, index.runs, bucket=bucket)
    return found[0] if found else None


def recent_reports(
    s3: S3Client,
    retrier: Retrier,
    *,
    bucket: str,
    prefix: str,
    days: int = 30,
    now: datetime | None = None,
) -> list[Report]:
    """The last run of each UTC day of the ``days`` days ending on ``now``'s day, oldest first.

    One GET for the index plus at most ``days`` GETs, never a listing. ``now`` defaults to the
    newest run in the index (the archive's own last day, no clock needed). Days without a run,
    and reports that expired or are not reports, are left out. Raises like ``previous_report``.
    """
    index = read_index(s3, retrier, bucket=bucket, prefix=prefix)
    if index is None or not index.runs:
        return []
    runs = daily_runs(index.runs, days=days, now=now or index.runs[-1].generated_at)
    return fetch_reports(s3, retrier, runs, bucket=bucket)


def recent_reports_with(
    s3: S3Client,
    retrier: Retrier,
    index: ArchiveIndex | None,
    current: Report,
    *,
    bucket: str,
    days: int = 30,
) -> list[Report]:
    """Like ``recent_reports``, for a run that holds its index already and whose own report
    stands for today: at most ``days - 1`` GETs, ``current`` last."""
    earlier = earlier_reports(
        s3, retrier, index, bucket=bucket, days=days, now=current.generated_at
    )
    return [*earlier, current]


def earlier_reports(
    s3: S3Client,
    retrier: Retrier,
    index: ArchiveIndex | None,
    *,
    bucket: str,
    days: int = 30,
    now: datetime,
    known: Mapping[str, Report] | None = None,
) -> list[Report]:
    """The last run of each UTC day of the ``days`` days ending on ``now``'s day, but not of
    that day itself (a run's own report stands for it), oldest first.

    At most ``days - 1`` GETs, never a listing; none for a report in ``known`` (reports the
    caller read already, by key: the previous report). Raises like ``fetch_reports``.
    """
    known = known or {}
    reports: list[Report] = []
    for run in _earlier_runs(index, days=days, now=now):
        report = known.get(run.key) or _read_if_there(s3, retrier, bucket, run.key)
        if report is not None:
            reports.append(report)
    return reports


def earlier_days(
    s3: S3Client,
    retrier: Retrier,
    index: ArchiveIndex | None,
    *,
    bucket: str,
    days: int = 30,
    now: datetime,
    known: Mapping[str, Report | DaySummary] | None = None,
    reader: DaySummaryReader | None = None,
) -> list[DaySummary]:
    """``earlier_reports``, as day summaries: what the status page and the size rule read of
    the earlier days, a few hundred bytes per tenant instead of a few kilobytes.

    One GET per day, for its summary; a day archived before summaries existed (``NoSuchKey``),
    or whose summary is not one this version reads, costs a second GET, for its report, which is
    summarised at once (``reader.of``) and dropped, so that at most one full report is held at a
    time. A run in ``known`` (read already, by key: the previous run, as its summary or its
    report) costs no GET; a report there is summarised. Days whose report is gone too are left
    out. Raises ``AwsCallError`` like ``fetch_reports``.
    """
    known = known or {}
    reader = reader or DaySummaryReader()
    summaries: list[DaySummary] = []
    for run in _earlier_runs(index, days=days, now=now):
        read = known.get(run.key)
        summary = (
            _read_day_summary(s3, retrier, bucket, run.key, reader)
            if read is None
            else read
            if isinstance(read, DaySummary)
            else reader.of(read)
        )
        if summary is not None:
            summaries.append(summary)
    return summaries


def _earlier_runs(index: ArchiveIndex | None, *, days: int, now: datetime) -> list[IndexedRun]:
    today = now.astimezone(UTC).date()
    return [
        run
        for run in daily_runs(index.runs if index else (), days=days, now=now)
        if run.generated_at.astimezone(UTC).date() != today
    ]


def daily_runs(runs: Iterable[IndexedRun], *, days: int, now: datetime) -> list[IndexedRun]:
    """The last run of each UTC day among the ``days`` days ending on ``now``'s day (pure);
    oldest first; runs after ``now`` left out."""
    last_day = now.astimezone(UTC).date()
    first_day = last_day - timedelta(days=days - 1)
    by_day: dict[date, IndexedRun] = {}
    for run in sorted(runs, key=lambda r: r.generated_at):
        day = run.generated_at.astimezone(UTC).date()
        if first_day <= day <= last_day and run.generated_at <= now:
            by_day[day] = run
    return [by_day[day] for day in sorted(by_day)]


def fetch_reports(
    s3: S3Client, retrier: Retrier, runs: Sequence[IndexedRun], *, bucket: str
) -> list[Report]:
    """One GET per run, in order; a report that expired or is not a report is skipped (and
    logged); any other failure raises ``AwsCallError``."""
    reports: list[Report] = []
    for run in runs:
        report = _read_if_there(s3, retrier, bucket, run.key)
        if report is not None:
            reports.append(report)
    return reports


def load_history(
    s3: S3Client,
    retrier: Retrier,
    *,
    bucket: str,
    prefix: str,
    before: datetime | None = None,
    reader: DaySummaryReader | None = None,
) -> History:
    """The index and the previous run (runs strictly before ``before``), for a run about to
    be compared and archived. Never raises: ``History.problem`` says why a comparison is not
    possible, and ``History.index_writable`` whether the index may be replaced.

    With a ``reader``, the previous run is read as its day summary (``History.previous_day``),
    what "what changed" needs of it: at 100,000 tenants, 1 MB of gzip JSON and a few hundred
    MiB less held than its 73 MB report, read whole. A run archived before summaries existed,
    or whose summary cannot be read, is read from its report (``History.previous``), as
    without one.
    """
    where = f"s3://{bucket}/{prefix}"
    index_uri = f"s3://{bucket}/{index_key(prefix)}"
    try:
        body = _get(s3, retrier, bucket, index_key(prefix))
    except AwsCallError as error:
        if error.code == NO_SUCH_KEY:
            return History(problem=f"first run: no earlier report in {where}")
        logger.error("could not read the archive index %s: %s", index_uri, error)
        return History(
            problem=f"the archive could not be read: {error.short}", index_writable=False
        )
    version = _version_of(body)
    if version is not None and version > INDEX_VERSION:
        logger.error("archive index %s has version %s; left as it is", index_uri, version)
        return History(
            problem=f"the archive index {index_uri} was written by a newer backupwatch "
            f"(version {version}) and is left as it is",
            index_writable=False,
        )
    try:
        index = ArchiveIndex.model_validate_json(body)
    except ValidationError as error:
        logger.warning(
            "the archive index %s is corrupt and is replaced by a new one: %s",
            index_uri,
            error.errors(include_url=False)[:3],
        )
        return History(problem=f"the archive index {index_uri} was corrupt and is started anew")
    runs = [r for r in index.runs if before is None or r.generated_at < before]
    if not runs:
        return History(index=index, problem=f"first run: no earlier report in {where}")
    try:
        found = (
            _newest_report(s3, retrier, runs, bucket=bucket)
            if reader is None
            else _newest_run(s3, retrier, runs, bucket=bucket, reader=reader)
        )
    except AwsCallError as error:
        logger.error("could not read the previous report: %s", error)
        return History(index=index, problem=f"the previous report could not be read: {error.short}")
    if found is None:
        newest = f"s3://{bucket}/{runs[-1].key}"
        return History(
            index=index,
            problem=f"the previous report {newest} is gone (expired or deleted)",
        )
    previous, key = found
    if isinstance(previous, DaySummary):
        return History(index=index, previous_day=previous, previous_key=key)
    return History(index=index, previous=previous, previous_key=key)


def _newest_run(
    s3: S3Client,
    retrier: Retrier,
    runs: Sequence[IndexedRun],
    *,
    bucket: str,
    reader: DaySummaryReader,
) -> tuple[Report | DaySummary, str] | None:
    """``_newest_report``, each run read as its day summary, or as its report when it has no
    readable summary."""
    for run in sorted(runs, key=lambda r: r.generated_at, reverse=True)[:PREVIOUS_TRIES]:
        found: Report | DaySummary | None = _summary_if_there(s3, retrier, bucket, run.key, reader)
        if found is None:
            found = _read_if_there(s3, retrier, bucket, run.key)
        if found is not None:
            return found, run.key
    return None


def _newest_report(
    s3: S3Client, retrier: Retrier, runs: Sequence[IndexedRun], *, bucket: str
) -> tuple[Report, str] | None:
    """The newest of ``runs`` whose report can be read, trying at most ``PREVIOUS_TRIES``."""
    for run in sorted(runs, key=lambda r: r.generated_at, reverse=True)[:PREVIOUS_TRIES]:
        report = _read_if_there(s3, retrier, bucket, run.key)
        if report is not None:
            return report, run.key
    return None


def _read_if_there(s3: S3Client, retrier: Retrier, bucket: str, key: str) -> Report | None:
    """The report at ``key``; None when it expired, was deleted, or is not a report."""
    try:
        return read_report(s3, retrier, bucket=bucket, key=key)
    except AwsCallError as error:
        if error.code != NO_SUCH_KEY:
            raise
        logger.info("archived report s3://%s/%s is gone (expired?); skipped", bucket, key)
    except ValidationError:
        logger.warning("archived report s3://%s/%s is not a report; skipped", bucket, key)
    return None


def _read_day_summary(
    s3: S3Client, retrier: Retrier, bucket: str, key: str, reader: DaySummaryReader
) -> DaySummary | None:
    """The day summary of the report at ``key``; the report, summarised, when the summary is
    missing or unreadable; None when the report is gone too."""
    summary = _summary_if_there(s3, retrier, bucket, key, reader)
    if summary is not None:
        return summary
    report = _read_if_there(s3, retrier, bucket, key)
    return reader.of(report) if report is not None else None


def _summary_if_there(
    s3: S3Client, retrier: Retrier, bucket: str, key: str, reader: DaySummaryReader
) -> DaySummary | None:
    """The day summary of the report at ``key``; None (logged) when it is missing or cannot
    be read, for the caller to read the report instead."""
    where = day_summary_key(key)
    try:
        return reader.read(_get(s3, retrier, bucket, where))
    except AwsCallError as error:
        if error.code != NO_SUCH_KEY:
            raise
        logger.info("no day summary s3://%s/%s; reading its report", bucket, where)
    except DaySummaryError as error:
        logger.warning(
            "day summary s3://%s/%s not read (%s); reading its report", bucket, where, error
        )
    return None


def _get(s3: S3Client, retrier: Retrier, bucket: str, key: str) -> bytes:
    body: bytes = retrier.call(
        "s3:GetObject", lambda: s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    )
    return body


def _version_of(body: bytes) -> int | None:
    """The ``version`` of an index document, without trusting anything else in it."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    version = document.get("version") if isinstance(document, dict) else None
    return version if isinstance(version, int) and not isinstance(version, bool) else None


def _row_key(text: str) -> RowKey:
    account, region, kind, identifier = text.split(_KEY_SEPARATOR)
    return (account, region, kind, identifier)
