"""What the Lambda handler and the CLI share: check, render, decide, publish."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC
from typing import Any

import boto3

from backupwatch import (
    Digest,
    PublishError,
    Report,
    Retrier,
    Settings,
    check_tenants,
    render_digest,
    should_publish,
)
from backupwatch.archive import ArchivedReport, write_report
from backupwatch.clients import s3_client, sns_client
from backupwatch.deadline import Deadline
from backupwatch.monitor import Clock, utc_now

from .publish import publish_digest, topic_region

logger = logging.getLogger("backupwatch")

PUBLISH_MARGIN_SECONDS = 2.0
"""Kept after the publish's own retries, to log the digest and return before a hard timeout."""


@dataclass(frozen=True)
class Outcome:
    """What one run produced: the report, its digest, and the id of the published message."""

    report: Report
    digest: Digest
    message_id: str | None
    """None when nothing was published (dry run, or ``notify=failures`` on a good day)."""
    archived: ArchivedReport | None = None
    """Where the full report went (``BACKUPWATCH_REPORT_BUCKET``), or None."""

    def summary(self) -> dict[str, Any]:
        """The JSON-serialisable result the Lambda returns."""
        summary = self.report.summary
        return {
            "tenants": summary.tenants,
            "failing": summary.failing,
            "by_status": {status.value: count for status, count in summary.by_status.items()},
            "regions_failed": summary.regions_failed,
            "ok": not self.report.failing,
            "message_id": self.message_id,
            "subject": self.digest.subject,
            "report": self.archived.uri if self.archived and not self.archived.error else None,
        }


def check(
    settings: Settings,
    *,
    session: boto3.Session | None = None,
    clock: Clock = utc_now,
    retrier: Retrier | None = None,
    deadline: Deadline | None = None,
) -> Report:
    """Check every tenant; sends and writes nothing.

    ``deadline`` is the run's hard end (a Lambda timeout, the CLI's ``--timeout``): checking
    stops ``settings.publish_reserve_seconds`` before it, so the digest still goes out.
    """
    return check_tenants(
        settings,
        session=session,
        clock=clock,
        retrier=retrier,
        deadline=_check_deadline(settings, deadline),
    )


def _check_deadline(settings: Settings, deadline: Deadline | None) -> Deadline | None:
    return deadline.earlier(settings.publish_reserve_seconds) if deadline is not None else None


def deliver(
    settings: Settings,
    report: Report,
    *,
    session: boto3.Session | None = None,
    retrier: Retrier | None = None,
    deadline: Deadline | None = None,
) -> Outcome:
    """Archive the full report (when configured), render the digest that links it, publish.

    Raises ``PublishError`` like ``publish``; an archive that cannot be written never stops
    the digest, which says so instead of linking it.
    """
    session = session or boto3.Session()
    archived = archive(settings, report, session=session, retrier=retrier, deadline=deadline)
    digest = render_digest(report, full_report=archived)
    message_id = publish(
        settings, report, digest, session=session, retrier=retrier, deadline=deadline
    )
    return Outcome(report=report, digest=digest, message_id=message_id, archived=archived)


def archive(
    settings: Settings,
    report: Report,
    *,
    session: boto3.Session,
    retrier: Retrier | None = None,
    deadline: Deadline | None = None,
) -> ArchivedReport | None:
    """Write the full report to ``BACKUPWATCH_REPORT_BUCKET``; None when off or a dry run."""
    if settings.report_bucket is None or settings.dry_run:
        return None
    retrier = retrier or Retrier()
    if deadline is not None:
        retrier = replace(retrier, deadline=deadline.earlier(PUBLISH_MARGIN_SECONDS))
    s3 = s3_client(session, settings.regions[0])
    return write_report(
        s3,
        retrier,
        report,
        bucket=settings.report_bucket,
        prefix=settings.report_prefix,
        url_hours=settings.report_url_hours,
    )


def publish(
    settings: Settings,
    report: Report,
    digest: Digest,
    *,
    session: boto3.Session | None = None,
    retrier: Retrier | None = None,
    deadline: Deadline | None = None,
) -> str | None:
    """Publish the digest at most once, if the settings want it; return the message id.

    Raises ``PublishError`` after logging the full digest, so a failed publish is never silent
    and the digest text is never lost. Retries stop ``PUBLISH_MARGIN_SECONDS`` before
    ``deadline``, leaving time to log the digest.
    """
    if settings.sns_topic_arn is None or settings.dry_run:
        return None
    if not should_publish(report, settings.notify):
        return None
    sns = sns_client(session or boto3.Session(), topic_region(settings.sns_topic_arn))
    run_key = f"{report.generated_at.astimezone(UTC):%Y-%m-%d}|{','.join(settings.regions)}"
    retrier = retrier or Retrier()
    if deadline is not None:
        retrier = replace(retrier, deadline=deadline.earlier(PUBLISH_MARGIN_SECONDS))
    try:
        return publish_digest(sns, settings.sns_topic_arn, digest, retrier=retrier, run_key=run_key)
    except PublishError:
        logger.error(
            "digest not published; its text follows\n%s\n\n%s", digest.subject, digest.body
        )
        raise


def run(
    settings: Settings,
    *,
    session: boto3.Session | None = None,
    clock: Clock = utc_now,
    retrier: Retrier | None = None,
    deadline: Deadline | None = None,
) -> Outcome:
    """One run: check every tenant, archive the report, publish the digest at most once."""
    session = session or boto3.Session()
    report = check(settings, session=session, clock=clock, retrier=retrier, deadline=deadline)
    return deliver(settings, report, session=session, retrier=retrier, deadline=deadline)
