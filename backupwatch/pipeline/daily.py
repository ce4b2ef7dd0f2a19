"""The daily run, as one function: check, compare with the archive, write the report and the
status page, render the digest, publish it.

``run_daily`` is what the daily digest Lambda does, and what any other Lambda, script or service
can do with its own topic, bucket, clock or publisher. Every step can be injected or switched
off by keyword.

With ``BACKUPWATCH_REPORT_BUCKET`` set, a run reads the archive before it writes to it: the
index and the previous report first, to say what changed; then this run's report, the index
and the status page; then the digest goes out. Nothing the archive does can stop the digest:
every failure becomes a line in it ("no comparison: ...", "could not be written ...").
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import boto3

from backupwatch.aws.archive import (
    ArchiveIndex,
    load_history,
    recent_reports_with,
    status_page_key,
    write_run,
    write_status_page,
)
from backupwatch.aws.clients import s3_client, sns_client
from backupwatch.aws.publish import publish_digest, topic_region
from backupwatch.aws.retry import Retrier
from backupwatch.core.changes import Changes, compare
from backupwatch.core.config import Settings
from backupwatch.core.deadline import Deadline
from backupwatch.core.digest import Digest, emergency_digest, render_digest, should_publish
from backupwatch.core.errors import AwsCallError, ConfigurationError
from backupwatch.core.models import ArchivedReport, Report
from backupwatch.core.status_page import render_status_page
from backupwatch.pipeline.monitor import Clock, check_tenants, utc_now

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger("backupwatch")

PUBLISH_MARGIN_SECONDS = 2.0
"""Kept after the publish's own retries, to log the digest and return before a hard timeout."""
ARCHIVE_MARGIN_SECONDS = 10.0
"""The archive's calls stop this long before the deadline: what is left is the publish's."""
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
    """``backupwatch.core.status_page.render_status_page``: reports oldest first, HTML out
    (pure)."""

    def __call__(
        self, reports: Sequence[Report], *, generated_at: datetime | None = None
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
class Outcome:
    """What one run produced: the report, its digest, the id of the published message, and
    what the archive step did."""

    report: Report
    digest: Digest
    message_id: str | None
    """None when nothing was published (dry run, or ``notify=failures`` on a good day)."""
    archival: Archival = Archival()

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
        compared = self.changes if self.changes is not None and self.changes.compared else None
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
            "changes": None
            if compared is None
            else {
                "new_failures": len(compared.new_failures),
                "recovered": len(compared.recovered),
                "still_failing": len(compared.still_failing),
                "gone": len(compared.gone),
            },
            "status_page": page.uri if page is not None and page.error is None else None,
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
      still goes out.
    - ``archive=False``: no comparison and nothing written, even with
      ``BACKUPWATCH_REPORT_BUCKET`` set. The archive is also off when that setting is unset.
    - ``status_page=None``: no status page is written or linked; or another renderer.
    - ``render``: another digest renderer; a renderer that raises costs the formatting only
      (a plain fallback digest goes out instead).
    - ``publish=False``: nothing is sent. ``publisher``: your own sender instead of SNS
      (``BACKUPWATCH_SNS_TOPIC_ARN``). Either way, a dry run and ``BACKUPWATCH_NOTIFY=failures``
      on a good day send nothing.

    Never raises for AWS trouble in the check or the archive: those are in the report and the
    digest. Raises ``PublishError`` (after logging the digest's full text) when the digest
    could not be sent, so the caller's error metric and alarms fire.
    """
    if publish and publisher is None:
        require_topic(settings)
    session = session or boto3.Session()
    if report is None:
        report = check_tenants(
            settings,
            session=session,
            clock=clock,
            retrier=retrier,
            deadline=check_deadline(settings, deadline),
        )
    archival = (
        archive_run(
            settings,
            report,
            session=session,
            retrier=retrier,
            deadline=deadline,
            status_page=status_page,
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
    message_id = None
    if publish:
        message_id = _publish(
            settings,
            report,
            digest,
            publisher=publisher,
            session=session,
            retrier=retrier,
            deadline=deadline,
        )
    return Outcome(report=report, digest=digest, message_id=message_id, archival=archival)


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


def archive_run(
    settings: Settings,
    report: Report,
    *,
    session: boto3.Session,
    retrier: Retrier | None = None,
    deadline: Deadline | None = None,
    status_page: StatusPageRenderer | None = render_status_page,
) -> Archival:
    """Read the previous report, compare, then write this run (``BACKUPWATCH_REPORT_BUCKET``).

    Reads before it writes, or the "previous" report would be this one. A dry run reads and
    compares, and writes nothing. Never raises: the digest must go out whatever the archive
    does. Its calls stop ``ARCHIVE_MARGIN_SECONDS`` before ``deadline``, keeping the rest for
    the publish.
    """
    if settings.report_bucket is None:
        return Archival()
    retrier = retrier or Retrier()
    if deadline is not None:
        retrier = replace(retrier, deadline=deadline.earlier(ARCHIVE_MARGIN_SECONDS))
    try:
        return _archive(settings, settings.report_bucket, report, session, retrier, status_page)
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
) -> Archival:
    s3 = s3_client(session, settings.regions[0])
    prefix = settings.report_prefix
    history = load_history(s3, retrier, bucket=bucket, prefix=prefix, before=report.generated_at)
    streaks = history.index.streaks if history.index is not None else None
    changes = compare(history.previous, report, failing_since=streaks)
    if settings.dry_run:
        return Archival(changes=changes, no_comparison=history.problem)
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
    )
    page = None
    if archived.error is None and not history.index_writable:
        # Rendered from this run alone, the page would hide the days it could not read.
        page = ArchivedReport(
            bucket=bucket,
            key=status_page_key(prefix),
            error="not rewritten: the archive index could not be read",
        )
    elif archived.error is None and render_page is not None:
        page = write_status_page_for(
            s3,
            retrier,
            history.index,
            report,
            bucket=bucket,
            prefix=prefix,
            url_hours=settings.report_url_hours,
            render=render_page,
        )
    return Archival(
        archived=archived, changes=changes, no_comparison=history.problem, status_page=page
    )


def write_status_page_for(
    s3: S3Client,
    retrier: Retrier,
    index: ArchiveIndex | None,
    report: Report,
    *,
    bucket: str,
    prefix: str,
    url_hours: float = 0.0,
    render: StatusPageRenderer = render_status_page,
) -> ArchivedReport:
    """Render the status page of the last ``STATUS_PAGE_DAYS`` days (the index's daily runs
    plus this run) and write it to ``<prefix>status.html``. Never raises: a page that cannot
    be read together, rendered or written is an ``error`` the digest shows."""
    key = status_page_key(prefix)
    try:
        reports = recent_reports_with(
            s3, retrier, index, report, bucket=bucket, days=STATUS_PAGE_DAYS
        )
    except AwsCallError as error:
        logger.error("status page not written: %s", error)
        return ArchivedReport(bucket=bucket, key=key, error=error.short)
    try:
        html = render(reports, generated_at=report.generated_at)
    except Exception as error:  # another module's rendering must never stop the digest
        logger.exception("status page not rendered")
        return ArchivedReport(
            bucket=bucket, key=key, error=f"could not be rendered: {type(error).__name__}"
        )
    return write_status_page(s3, retrier, html, bucket=bucket, prefix=prefix, url_hours=url_hours)


def _publish(
    settings: Settings,
    report: Report,
    digest: Digest,
    *,
    publisher: Publisher | None,
    session: boto3.Session | None = None,
    retrier: Retrier | None = None,
    deadline: Deadline | None = None,
) -> str | None:
    """Publish the digest at most once, if the settings want it; return the message id.

    Raises ``PublishError`` after logging the full digest, so a failed publish is never silent
    and the digest text is never lost. Retries stop ``PUBLISH_MARGIN_SECONDS`` before
    ``deadline``, leaving time to log the digest.
    """
    if settings.dry_run or not should_publish(report, settings.notify):
        return None
    if publisher is not None:
        return _publish_with(publisher, digest, report)
    if settings.sns_topic_arn is None:
        return None
    sns = sns_client(session or boto3.Session(), topic_region(settings.sns_topic_arn))
    run_key = f"{report.generated_at.astimezone(UTC):%Y-%m-%d}|{','.join(settings.regions)}"
    retrier = retrier or Retrier()
    if deadline is not None:
        retrier = replace(retrier, deadline=deadline.earlier(PUBLISH_MARGIN_SECONDS))
    try:
        return publish_digest(sns, settings.sns_topic_arn, digest, retrier=retrier, run_key=run_key)
    except Exception:  # PublishError, or a bug: either way the digest's text is not lost
        logger.error(
            "digest not published; its text follows\n%s\n\n%s", digest.subject, digest.body
        )
        raise


def _publish_with(publisher: Publisher, digest: Digest, report: Report) -> str | None:
    try:
        return publisher(digest, report)
    except Exception:  # whatever the publisher raises, the digest's text is not lost
        logger.error(
            "digest not published; its text follows\n%s\n\n%s", digest.subject, digest.body
        )
        raise
