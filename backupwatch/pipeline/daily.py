"""The daily run, as one function: check, compare with the archive, write the report and the
status page, render the digest, publish it.

``run_daily`` is what the daily digest Lambda does, and what any other Lambda, script or service
can do with its own topic, bucket, clock or publisher. Every step can be injected or switched
off by keyword.

With ``BACKUPWATCH_REPORT_BUCKET`` set, a run reads the archive before it checks, and before it
writes to it: the index and the previous run's day summary, to say what changed, and (when it
writes a status page) the day summary of the last run of each of the page's earlier days (a few
hundred bytes per tenant, where a report is a few kilobytes: ``core.day_summary``); a day
archived before summaries existed is read from its report. The size rule falls back on the
dumps those days judged ``OK`` when a tenant's folder holds too little history.
Then the check; then this run's report, its day summary, the index and the status page; then
the digest goes out. Every object is read once per run. Nothing the archive does can stop the
check or the digest: every failure becomes a line in the digest ("no comparison: ...", "could
not be written ...").
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import boto3
from pydantic import ValidationError

from backupwatch.aws.archive import (
    History,
    earlier_days,
    load_history,
    read_report,
    status_page_key,
    write_run,
    write_status_page,
)
from backupwatch.aws.clients import s3_client
from backupwatch.aws.retry import Retrier
from backupwatch.core.changes import Changes, change_counts, compare
from backupwatch.core.config import Settings
from backupwatch.core.day_summary import (
    AnyDay,
    DailyHistory,
    DaySummary,
    DaySummaryReader,
    collection_paused,
)
from backupwatch.core.deadline import Deadline
from backupwatch.core.digest import Digest, emergency_digest, render_digest
from backupwatch.core.errors import AwsCallError, ConfigurationError
from backupwatch.core.models import ArchivedReport, Report, RowKey
from backupwatch.core.size_history import NO_ARCHIVED_DUMPS, ArchivedDump, archived_dumps
from backupwatch.core.status_page import render_status_page, status_page_bytes
from backupwatch.pipeline.delivery import (
    CENTRAL,
    ChannelResult,
    DeliveryContext,
    deliver,
    raise_for_failures,
    summary_of,
)
from backupwatch.pipeline.monitor import Clock, check_tenants, read_clock, utc_now

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger("backupwatch")

PUBLISH_MARGIN_SECONDS = 2.0
"""Kept after the publish's own retries, to log the digest and return before a hard timeout."""
ARCHIVE_MARGIN_SECONDS = 10.0
"""The archive's calls stop this long before the deadline: what is left is the publish's."""
READ_BEFORE_CHECK_SHARE = 0.25
"""Before a check, the archive's reads keep to this share of the time left (and to their own
margin): a slow archive costs the comparison or the page, never the check."""
STATUS_PAGE_DAYS = 30


class DigestRenderer(Protocol):
    """``backupwatch.render_digest``'s shape: the report and what the archive step found, a
    ``Digest`` out (pure)."""

    def __call__(
        self,
        report: Report,
        *,
        full_report: ArchivedReport | None = None,
        changes: Changes | None = None,
        no_comparison: str | None = None,
        status_page: ArchivedReport | None = None,
    ) -> Digest: ...


class Publisher(Protocol):
    """Sends the digest somewhere and returns an id of what was sent, or None if nothing was.

    Called at most once per run, and only when ``should_publish`` says a digest is due. It may
    raise (``PublishError`` by convention): ``run_daily`` logs the digest's text first, then
    lets the error through, so a failed send is never silent.
    """

    def __call__(self, digest: Digest, report: Report) -> str | None: ...


class StatusPageRenderer(Protocol):
    """``backupwatch.core.status_page.render_status_page``: days oldest first, HTML out
    (pure). A run passes the earlier days as ``DaySummary`` (what the archive keeps beside each
    report: ``core.day_summary``; a day without one is summarised from its report) and its
    own last; ``DaySummary.of`` summarises a report, ``to_report`` goes back (rows without
    their checks' details)."""

    def __call__(
        self, reports: Sequence[AnyDay], *, generated_at: datetime | None = None
    ) -> str: ...


@dataclass(frozen=True)
class Archival:
    """What the archive step gave the run; all None when the archive is off."""

    archived: ArchivedReport | None = None
    """Where the full report went (``BACKUPWATCH_REPORT_BUCKET``), or why it could not."""
    changes: Changes | None = None
    """What changed since the previous report; None when the archive is off."""
    no_comparison: str | None = None
    """Why nothing was compared, when the archive is on and there was no previous report."""
    status_page: ArchivedReport | None = None
    """Where the status page went, or None (archive off, dry run, no renderer)."""


@dataclass(frozen=True)
class EarlierRuns:
    """What the report archive held before this run, read once (``read_earlier``): for the
    comparison, the status page and the size rule's fallback history."""

    history: History = field(default_factory=History)
    """The index and the previous report, or why there is none."""
    daily: DailyHistory | None = None
    """The last run of each earlier day of the status page's window, oldest first, as day
    summaries (``daily.days``; ``earlier_days``), and as reports to readers that take reports
    (the delivery's; the HTML email's grid reads the summaries); None when not read (no page
    will be written: ``status_page=None``, a dry run, an index that could not be read)."""
    daily_error: str | None = None
    """Why ``daily`` could not be read; the status page is then not written, and says why."""
    failed: str | None = None
    """The read crashed (a bug): nothing is compared or written, the digest says why."""
    sizes: Mapping[RowKey, tuple[ArchivedDump, ...]] = field(default_factory=dict)
    """``archived_dumps`` of every day read: what ``check_tenants(size_history=...)`` gets;
    empty when no check follows (``read_earlier(size_history=False)``)."""


@dataclass(frozen=True)
class Outcome:
    """What one run produced: the report, its digest, the id of the published message, and
    what the archive step did."""

    report: Report
    digest: Digest
    message_id: str | None
    """The central digest's message id; None when this run did not publish it (dry run,
    ``notify=failures`` on a good day, or already sent by an earlier run: ``deliveries``)."""
    archival: Archival = Archival()
    deliveries: tuple[ChannelResult, ...] = ()
    """What happened to each channel (``sns``, ``slack``, ``email``, owners' notices...)."""

    @property
    def archived(self) -> ArchivedReport | None:
        return self.archival.archived

    @property
    def changes(self) -> Changes | None:
        return self.archival.changes

    @property
    def no_comparison(self) -> str | None:
        return self.archival.no_comparison

    @property
    def status_page(self) -> ArchivedReport | None:
        return self.archival.status_page

    def summary(self) -> dict[str, Any]:
        """The JSON-serialisable result the Lambda returns.

        ``changes`` counts what changed since the previous report (None when nothing was
        compared); ``report`` and ``status_page`` are the archived objects' ``s3://`` URIs.
        """
        summary = self.report.summary
        page = self.status_page
        return {
            "tenants": summary.tenants,
            "failing": summary.failing,
            "by_status": {status.value: count for status, count in summary.by_status.items()},
            "regions_failed": summary.regions_failed,
            "ok": not self.report.failing,
            "message_id": self.message_id,
            "subject": self.digest.subject,
            "report": self.archived.uri if self.archived and not self.archived.error else None,
            "changes": change_counts(self.changes),
            "status_page": page.uri if page is not None and page.error is None else None,
            "deliveries": summary_of(self.deliveries),
        }


def run_daily(
    settings: Settings,
    *,
    report: Report | None = None,
    session: boto3.Session | None = None,
    clock: Clock = utc_now,
    retrier: Retrier | None = None,
    deadline: Deadline | None = None,
    archive: bool = True,
    status_page: StatusPageRenderer | None = render_status_page,
    render: DigestRenderer = render_digest,
    publish: bool = True,
    publisher: Publisher | None = None,
    occasion: str | None = None,
    resend: bool = False,
) -> Outcome:
    """One daily run: check every tenant, compare with the previous report and archive this
    one, write the status page, render the digest and publish it at most once.

    Every step is a keyword:

    - ``report``: an already checked report (a fan-out's merged one, or one you printed
      first); the check is skipped.
    - ``session``, ``clock``, ``retrier``: as for ``check_tenants``; the archive and the
      publish use them too.
    - ``deadline``: the run's hard end (a Lambda's timeout, a CLI ``--timeout``). Checking stops
      ``settings.publish_reserve_seconds`` before it (less when little time is left: see
      ``Deadline.reserving``), the archive ``ARCHIVE_MARGIN_SECONDS`` before it, so the digest
      still goes out. The archive's reads before a check keep to ``READ_BEFORE_CHECK_SHARE``
      of the time left, so the check keeps the rest.
    - ``archive=False``: no comparison and nothing written, even with
      ``BACKUPWATCH_REPORT_BUCKET`` set. The archive is also off when that setting is unset.
      When it is on, the archive is read before the check (``read_earlier``), and the check's
      size rule falls back on the dump sizes of the reports read (``check_tenants``'s
      ``size_history``).
    - ``status_page=None``: no status page is written or linked; or another renderer.
    - ``render``: another digest renderer; a renderer that raises costs the formatting only
      (a plain fallback digest goes out instead).
    - ``publish=False``: nothing is sent. ``publisher``: your own sender instead of SNS
      (``BACKUPWATCH_SNS_TOPIC_ARN``). Either way, a dry run and ``BACKUPWATCH_NOTIFY=failures``
      on a good day send nothing.
    - The other channels (webhooks, SES, owner notices: docs/delivery.md) go after the central
      digest, each at most once per run date and scope: with the archive on, a publish ledger
      beside it makes a retried or repeated run send nothing twice. ``occasion`` (a schedule's
      time) tells apart two scheduled runs of one day; ``resend=True`` sends again anyway.

    Never raises for AWS trouble in the check or the archive: those are in the report and the
    digest. Raises ``PublishError`` (after logging the digest's full text) when the digest
    could not be sent, so the caller's error metric and alarms fire.
    """
    if publish and publisher is None:
        require_topic(settings)
    session = session or boto3.Session()
    earlier: EarlierRuns | None = None
    check_clock = clock
    if report is None:
        if archive and settings.report_bucket is not None:
            # Read before the check, for the size rule. The run's time is read first and is
            # the check's too: the "previous" report is one from before the report it makes.
            started = read_clock(clock)
            check_clock = _fixed_clock(started)
            earlier = read_earlier(
                settings,
                before=started,
                session=session,
                retrier=retrier,
                deadline=reading_deadline(deadline),
                status_page=status_page,
            )
        report = check_tenants(
            settings,
            session=session,
            clock=check_clock,
            retrier=retrier,
            deadline=check_deadline(settings, deadline),
            size_history=earlier.sizes if earlier is not None else NO_ARCHIVED_DUMPS,
        )
    archival = (
        archive_run(
            settings,
            report,
            session=session,
            retrier=retrier,
            deadline=deadline,
            status_page=status_page,
            earlier=earlier,
        )
        if archive
        else Archival()
    )
    try:
        digest = render(
            report,
            full_report=archival.archived,
            changes=archival.changes,
            no_comparison=archival.no_comparison,
            status_page=archival.status_page,
        )
    except Exception as error:  # a rendering bug must cost the formatting, never the digest
        logger.exception("digest not rendered; publishing the plain fallback")
        digest = emergency_digest(report, error)
    deliveries: tuple[ChannelResult, ...] = ()
    if publish:
        deliveries = _deliver(
            settings,
            DeliveryContext(
                report=report,
                digest=digest,
                changes=archival.changes,
                full_report=archival.archived,
                status_page=archival.status_page,
                history=(earlier.daily or ()) if earlier is not None else (),
            ),
            publisher=publisher,
            session=session,
            retrier=retrier,
            deadline=deadline,
            clock=clock,
            occasion=occasion,
            resend=resend,
        )
    central = next((d for d in deliveries if d.channel == CENTRAL), None)
    message_id = central.detail if central is not None and central.state == "sent" else None
    return Outcome(
        report=report,
        digest=digest,
        message_id=message_id,
        archival=archival,
        deliveries=deliveries,
    )


def _fixed_clock(at: datetime) -> Clock:
    return lambda: at


def require_topic(settings: Settings) -> None:
    """Raise ``ConfigurationError`` unless the digest has somewhere to go through SNS.

    Checked before any AWS call, here rather than in ``Settings``: a caller with its own
    publisher (or one that only checks) needs no topic.
    """
    if settings.sns_topic_arn is None and not settings.dry_run:
        raise ConfigurationError(
            "BACKUPWATCH_SNS_TOPIC_ARN",
            None,
            "required unless dry run is on (or the caller publishes the digest itself)",
        )


def check_deadline(settings: Settings, deadline: Deadline | None) -> Deadline | None:
    """When checking must stop for the digest to go out before ``deadline``."""
    return deadline.reserving(settings.publish_reserve_seconds) if deadline is not None else None


def reading_deadline(deadline: Deadline | None) -> Deadline | None:
    """The deadline given to ``read_earlier`` before a check: its reads (which keep their own
    ``ARCHIVE_MARGIN_SECONDS``) then stop after ``READ_BEFORE_CHECK_SHARE`` of the time left
    now, and the check keeps the rest."""
    if deadline is None:
        return None
    left = deadline.seconds_left()
    return deadline.earlier(max(0.0, left * (1 - READ_BEFORE_CHECK_SHARE) - ARCHIVE_MARGIN_SECONDS))


def read_earlier(
    settings: Settings,
    *,
    before: datetime,
    session: boto3.Session,
    retrier: Retrier | None = None,
    deadline: Deadline | None = None,
    status_page: StatusPageRenderer | None = render_status_page,
    size_history: bool = True,
) -> EarlierRuns:
    """Read what the archive holds of the runs before ``before``: the index and the previous
    run's day summary (``load_history``: 2 GETs; its report instead when it has no summary, one
    GET more), and, when this run will write a status page, the day summary of the last run of
    each of the page's earlier days (``earlier_days``: at most ``STATUS_PAGE_DAYS - 1`` GETs,
    the previous run not read again; one more per day archived before summaries existed, for
    its report). No listing, nothing written. A report is held only for a run that has no
    summary; at 100,000 tenants the previous report, read whole, held about 1 GiB.

    What was read also becomes the size rule's fallback history (``EarlierRuns.sizes``): about
    a month of days with the status page, only the previous run without one (too little for
    the rule's 3 earlier dumps on its own; a run writing no page reads no more for it).
    ``size_history=False`` (no check follows: the state machine's publish step) gathers none,
    and the days are read without their dumps (``DaySummaryReader(dumps=False)``), which lets
    a tenant's unchanged row be shared by every day it did not change.

    Never raises: an unreadable archive is ``history.problem`` (the digest's "no comparison"),
    a crash is ``failed``. Its calls stop ``ARCHIVE_MARGIN_SECONDS`` before ``deadline``.
    """
    if settings.report_bucket is None:
        return EarlierRuns()
    try:
        with collection_paused():  # millions of objects, no cycle: see collection_paused
            return _read_earlier(
                settings,
                settings.report_bucket,
                before,
                session,
                _archive_retrier(retrier, deadline),
                status_page,
                size_history,
            )
    except Exception as error:  # a bug here must cost the comparison, never the check
        logger.exception("reading the report archive failed")
        return EarlierRuns(failed=f"the archive step failed: {type(error).__name__}")


def _read_earlier(
    settings: Settings,
    bucket: str,
    before: datetime,
    session: boto3.Session,
    retrier: Retrier,
    render_page: StatusPageRenderer | None,
    size_history: bool,
) -> EarlierRuns:
    s3 = s3_client(session, settings.regions[0], read_timeout=settings.read_timeout_seconds)
    # One reader for every day: names, keys and unchanged rows are shared across them.
    reader = DaySummaryReader(dumps=size_history)
    history = load_history(
        s3, retrier, bucket=bucket, prefix=settings.report_prefix, before=before, reader=reader
    )
    previous = history.compared_with
    daily: DailyHistory | None = None
    daily_error = None
    if render_page is not None and not settings.dry_run and history.index_writable:
        known = {history.previous_key: previous} if history.previous_key and previous else {}
        try:
            daily = DailyHistory(
                earlier_days(
                    s3,
                    retrier,
                    history.index,
                    bucket=bucket,
                    days=STATUS_PAGE_DAYS,
                    now=before,
                    known=known,
                    reader=reader,
                )
            )
        except AwsCallError as error:
            logger.error("the last days' summaries could not be read: %s", error)
            daily_error = error.short
    sizes: Mapping[RowKey, tuple[ArchivedDump, ...]] = {}
    if size_history:
        read: list[AnyDay] = [*(daily.days if daily is not None else ())]
        if previous is not None:
            read.append(previous)
        try:
            sizes = archived_dumps(read)
        except Exception:  # a bug here must cost the size rule's fallback, never the comparison
            logger.exception("the archived dump sizes could not be gathered")
    return EarlierRuns(history=history, daily=daily, daily_error=daily_error, sizes=sizes)


def _archive_retrier(retrier: Retrier | None, deadline: Deadline | None) -> Retrier:
    retrier = retrier or Retrier()
    if deadline is not None:
        retrier = replace(retrier, deadline=deadline.earlier(ARCHIVE_MARGIN_SECONDS))
    return retrier


def archive_run(
    settings: Settings,
    report: Report,
    *,
    session: boto3.Session,
    retrier: Retrier | None = None,
    deadline: Deadline | None = None,
    status_page: StatusPageRenderer | None = render_status_page,
    earlier: EarlierRuns | None = None,
) -> Archival:
    """Compare with the previous report, then write this run (``BACKUPWATCH_REPORT_BUCKET``).

    ``earlier`` is what ``read_earlier`` read before the check; without it, it is read now,
    without the size rule's history (no check follows).
    Reads before it writes, or the "previous" report would be this one. A dry run reads and
    compares, and writes nothing. Never raises: the digest must go out whatever the archive
    does. Its calls stop ``ARCHIVE_MARGIN_SECONDS`` before ``deadline``, keeping the rest for
    the publish.
    """
    if settings.report_bucket is None:
        return Archival()
    if earlier is None:
        earlier = read_earlier(
            settings,
            before=report.generated_at,
            session=session,
            retrier=retrier,
            deadline=deadline,
            status_page=status_page,
            size_history=False,
        )
    if earlier.failed is not None:
        return Archival(no_comparison=earlier.failed)
    retrier = _archive_retrier(retrier, deadline)
    try:
        return _archive(
            settings, settings.report_bucket, report, session, retrier, status_page, earlier
        )
    except Exception as error:  # a bug here must cost the comparison, never the digest
        logger.exception("the report archive step failed")
        return Archival(no_comparison=f"the archive step failed: {type(error).__name__}")


def _archive(
    settings: Settings,
    bucket: str,
    report: Report,
    session: boto3.Session,
    retrier: Retrier,
    render_page: StatusPageRenderer | None,
    earlier: EarlierRuns,
) -> Archival:
    s3 = s3_client(session, settings.regions[0], read_timeout=settings.read_timeout_seconds)
    prefix = settings.report_prefix
    history = earlier.history
    changes = _compare(s3, retrier, bucket, history, report)
    if settings.dry_run:
        return Archival(changes=changes, no_comparison=history.problem)
    today = DaySummary.of(report)
    archived = write_run(
        s3,
        retrier,
        report,
        bucket=bucket,
        prefix=prefix,
        index=history.index,
        streaks=changes.failing_since,
        update_index=history.index_writable,
        url_hours=settings.report_url_hours,
        summary=today,
    )
    page = None
    if archived.error is None and not history.index_writable:
        # Rendered from this run alone, the page would hide the days it could not read.
        page = ArchivedReport(
            bucket=bucket,
            key=status_page_key(prefix),
            error="not rewritten: the archive index could not be read",
        )
    elif archived.error is None and earlier.daily_error is not None:
        page = ArchivedReport(bucket=bucket, key=status_page_key(prefix), error=earlier.daily_error)
    elif archived.error is None and render_page is not None:
        page = write_status_page_for(
            s3,
            retrier,
            earlier.daily.days if earlier.daily is not None else (),
            today,
            bucket=bucket,
            prefix=prefix,
            url_hours=settings.report_url_hours,
            render=render_page,
        )
    return Archival(
        archived=archived, changes=changes, no_comparison=history.problem, status_page=page
    )


def _compare(
    s3: S3Client, retrier: Retrier, bucket: str, history: History, report: Report
) -> Changes:
    """``compare`` with the previous run as read (its day summary, or its report).

    One case reads the previous report after all: the summary was written before summaries
    kept owners (it has none, ``owners`` None), this run's tenants have owners, and a tenant is
    gone or not checked, so its owners' notices need its owners, which only the report holds.
    It happens on the first run after an upgrade, if at all; a report that cannot be read then
    costs those notices the tenant, never the comparison.
    """
    streaks = history.index.streaks if history.index is not None else None
    day = history.previous_day
    changes = compare(history.compared_with, report, failing_since=streaks)
    if (
        day is None
        or day.owners is not None
        or not (changes.gone or changes.not_checked)
        or history.previous_key is None
        or not any(row.owners for row in report.tenants)
    ):
        return changes
    try:
        previous = read_report(s3, retrier, bucket=bucket, key=history.previous_key)
    except (AwsCallError, ValidationError) as error:
        logger.warning("previous report not read for its tenants' owners: %s", error)
        return changes
    return compare(previous, report, failing_since=streaks)


def write_status_page_for(
    s3: S3Client,
    retrier: Retrier,
    earlier: Sequence[AnyDay],
    report: AnyDay,
    *,
    bucket: str,
    prefix: str,
    url_hours: float = 0.0,
    render: StatusPageRenderer = render_status_page,
) -> ArchivedReport:
    """Render the status page of the last ``STATUS_PAGE_DAYS`` days (``earlier``, the day
    summaries ``read_earlier`` read, plus this run's report or its summary) and write it to
    ``<prefix>status.html``.
    Never raises: a page that cannot be rendered or written is an ``error`` the digest
    shows."""
    key = status_page_key(prefix)
    reports = [*earlier, report]
    html: str | bytes
    try:
        with collection_paused():
            if render is render_status_page:
                # The same bytes, encoded piece by piece: at 100,000 tenants the page is
                # 123 MB, and held as one string, then encoded, it cost 450 MiB at its peak.
                html = status_page_bytes(reports, generated_at=report.generated_at)
            else:
                html = render(reports, generated_at=report.generated_at)
    except Exception as error:  # another module's rendering must never stop the digest
        logger.exception("status page not rendered")
        return ArchivedReport(
            bucket=bucket, key=key, error=f"could not be rendered: {type(error).__name__}"
        )
    return write_status_page(s3, retrier, html, bucket=bucket, prefix=prefix, url_hours=url_hours)


def _deliver(
    settings: Settings,
    context: DeliveryContext,
    *,
    publisher: Publisher | None,
    session: boto3.Session,
    retrier: Retrier | None,
    deadline: Deadline | None,
    clock: Clock,
    occasion: str | None,
    resend: bool,
) -> tuple[ChannelResult, ...]:
    """Send every channel at most once (``backupwatch.pipeline.delivery``); raise
    ``PublishError`` for those that failed, after logging the digest's full text, so a failed
    send is never silent and the digest is never lost. Retries stop
    ``PUBLISH_MARGIN_SECONDS`` before ``deadline``, leaving time to log the digest."""
    retrier = retrier or Retrier()
    if deadline is not None:
        retrier = replace(retrier, deadline=deadline.earlier(PUBLISH_MARGIN_SECONDS))
    try:
        results = deliver(
            settings,
            context,
            session=session,
            retrier=retrier,
            deadline=deadline,
            publisher=publisher,
            occasion=occasion,
            resend=resend,
            # The wall clock, not the check's fixed one: a claim's lease runs from when it
            # was made.
            clock=lambda: read_clock(clock),
        )
        raise_for_failures(results)
    except Exception:  # PublishError, or a bug: either way the digest's text is not lost
        logger.error(
            "digest not delivered everywhere; its text follows\n%s\n\n%s",
            context.digest.subject,
            context.digest.body,
        )
        raise
    return results
