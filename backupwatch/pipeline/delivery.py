"""Sending one run's digest to every channel it is configured for, each at most once.

The channels, in the order they are sent:

- ``sns``: the central digest on ``BACKUPWATCH_SNS_TOPIC_ARN`` (or the caller's publisher),
  one publish that renders right on every protocol (``backupwatch.core.sns_message``);
- ``slack`` and ``teams``: direct webhooks, their URLs read from Secrets Manager or SSM;
- ``email``: the central digest as text and HTML through SES;
- ``owner-topic.<owner>`` and ``owner-email.<owner>``: each owner's notice of their own failing
  tenants (tag ``backupwatch:owner``), on the owner topic and by SES.

Each channel is sent under a claim in the publish ledger (``backupwatch.aws.ledger``) when the
report archive is on: a retried or duplicated invocation finds the channels already sent and
sends nothing twice; one that failed is sent again, alone. Every channel is tried whatever
happened to the others, and the run then raises ``PublishError`` naming each one that failed,
so the invocation fails, its alarm fires, and Lambda's retry resumes what is missing.

The rendering is pure (``backupwatch.core``); the sending is the AWS and HTTP edge
(``backupwatch.aws``). This module only decides what goes where, and keeps the accounts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Literal

import boto3

from backupwatch.aws.clients import s3_client, sesv2_client, sns_client
from backupwatch.aws.ledger import Claim, Ledger, LedgerUnavailable
from backupwatch.aws.publish import publish_digest, publish_sns_message, topic_region
from backupwatch.aws.retry import Retrier
from backupwatch.aws.secrets import read_webhook_url
from backupwatch.aws.ses_email import send_email
from backupwatch.aws.webhook import post_webhook
from backupwatch.core.changes import Changes
from backupwatch.core.config import Settings
from backupwatch.core.deadline import Deadline
from backupwatch.core.digest import Digest, render_digest, should_publish
from backupwatch.core.email_message import build_email
from backupwatch.core.errors import BackupwatchError, PublishError
from backupwatch.core.html_email import render_html_email
from backupwatch.core.models import ArchivedReport, Report
from backupwatch.core.owners import OwnerNotice, owner_notices, owner_recipients, scope_note
from backupwatch.core.slack import render_slack_message
from backupwatch.core.sns_message import render_sns_message
from backupwatch.core.teams import render_teams_message

if TYPE_CHECKING:
    from backupwatch.pipeline.daily import Publisher

logger = logging.getLogger("backupwatch")

SUBJECT_MAX_CHARS = 99
"""SNS refuses a subject of 100 characters or more; SES has no such limit, the mailbox does."""
LEASE_SECONDS = 900.0
"""How long a claim keeps other invocations off a channel when no deadline says otherwise:
Lambda's longest timeout, so a claim outlives the invocation that made it."""

CENTRAL = "sns"
"""The central digest's channel: the topic, or the caller's own publisher."""
State = Literal["sent", "already sent", "in flight", "failed"]


@dataclass(frozen=True)
class ChannelResult:
    """What happened to one channel in this invocation."""

    channel: str
    state: State
    detail: str | None = None
    """The message id when sent; the ledger's account when skipped; the error when failed."""


@dataclass(frozen=True)
class DeliveryContext:
    """Everything the channels render from: the run's report and what its archive step did."""

    report: Report
    digest: Digest
    changes: Changes | None = None
    full_report: ArchivedReport | None = None
    status_page: ArchivedReport | None = None
    history: Sequence[Report] = ()
    """Earlier daily reports (oldest first), for the HTML email's grid."""


@dataclass(frozen=True)
class _Channel:
    name: str
    send: Callable[[], str | None]


def delivery_scope(settings: Settings, occasion: str | None = None) -> str:
    """What one run covers, for the ledger: two runs of it on one day are the same delivery.

    The regions, the accounts or organization role, and ``occasion`` (the scheduled time of a
    schedule that fires more than once a day): a run of another scope, or at another scheduled
    time, is another delivery.
    """
    accounts = sorted(t.account_id or "self" for t in settings.targets)
    parts = [",".join(settings.regions), ",".join(accounts)]
    if settings.organization_role_name:
        parts.append(f"org:{settings.organization_role_name}")
    parts.append(occasion or "daily")
    return "|".join(parts)


def deliver(
    settings: Settings,
    context: DeliveryContext,
    *,
    session: boto3.Session,
    retrier: Retrier,
    deadline: Deadline | None = None,
    publisher: Publisher | None = None,
    run_date: date | None = None,
    occasion: str | None = None,
    resend: bool = False,
    clock: Callable[[], datetime] | None = None,
) -> tuple[ChannelResult, ...]:
    """Send every configured channel at most once; return what happened to each.

    Never raises for one channel's trouble: each is tried, and the caller raises for those
    that failed (``raise_for_failures``). ``resend`` skips the ledger (a deliberate second
    run the same day). ``run_date`` and ``occasion`` key the ledger: the UTC day of the report
    and the schedule's time by default.
    """
    channels = plan_channels(
        settings, context, session=session, retrier=retrier, deadline=deadline, publisher=publisher
    )
    if not channels:
        return ()
    ledger = None
    if settings.report_bucket is not None and not resend:
        day = run_date or _day_of(occasion) or context.report.generated_at.astimezone(UTC).date()
        ledger = Ledger(
            s3_client(session, settings.regions[0], read_timeout=settings.read_timeout_seconds),
            retrier,
            bucket=settings.report_bucket,
            prefix=settings.report_prefix,
            run_date=day,
            scope=delivery_scope(settings, occasion),
            clock=clock or (lambda: datetime.now(UTC)),
            lease_seconds=_lease(deadline),
        )
    return tuple(_send(channel, ledger) for channel in channels)


def _day_of(occasion: str | None) -> date | None:
    """The UTC day of a schedule's time (``2026-11-27T07:00:00Z``): a retry after midnight of a
    run scheduled before it is still that run. None when it is not a time."""
    if occasion is None:
        return None
    try:
        when = datetime.fromisoformat(occasion)
    except ValueError:
        return None
    return when.astimezone(UTC).date() if when.tzinfo is not None else when.date()


def raise_for_failures(results: Sequence[ChannelResult]) -> None:
    """Raise ``PublishError`` naming every channel that failed (after all were tried)."""
    failed = [r for r in results if r.state == "failed"]
    if len(results) == 1 and failed:  # the one channel: its own words
        raise PublishError(failed[0].detail or f"{failed[0].channel} failed")
    if failed:
        listed = "; ".join(f"{r.channel}: {r.detail}" for r in failed)
        raise PublishError(f"{len(failed)} of {len(results)} channel(s) failed: {listed}")


def _lease(deadline: Deadline | None) -> float:
    if deadline is None:
        return LEASE_SECONDS
    return max(60.0, deadline.seconds_left() + 60.0)


def _send(channel: _Channel, ledger: Ledger | None) -> ChannelResult:
    claim: Claim | None = None
    if ledger is not None:
        try:
            decision = ledger.claim(channel.name)
        except LedgerUnavailable as error:
            # The digest matters more than its duplicate: send, and say it was not guarded.
            logger.error("%s: ledger unavailable, sending without it: %s", channel.name, error)
        else:
            if not isinstance(decision, Claim):
                state: State = "already sent" if decision.sent else "in flight"
                logger.info("%s: %s", channel.name, decision.reason)
                return ChannelResult(channel.name, state, decision.reason)
            claim = decision
    try:
        detail = channel.send()
    except Exception as error:  # one channel's failure, or bug, must not stop the others
        text = _short(error)
        logger.error("%s: not sent: %s", channel.name, text, exc_info=not _expected(error))
        if ledger is not None and claim is not None:
            ledger.failed(claim, text)
        return ChannelResult(channel.name, "failed", text)
    if ledger is not None and claim is not None:
        ledger.sent(claim, detail)
    logger.info("%s: sent %s", channel.name, detail or "")
    return ChannelResult(channel.name, "sent", detail)


def _expected(error: BaseException) -> bool:
    """A failure backupwatch names itself (no traceback needed), rather than a bug."""
    return isinstance(error, BackupwatchError)


def _short(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= 300 else text[:299] + "…"


def plan_channels(
    settings: Settings,
    context: DeliveryContext,
    *,
    session: boto3.Session,
    retrier: Retrier,
    deadline: Deadline | None = None,
    publisher: Publisher | None = None,
) -> list[_Channel]:
    """The channels this run sends, in order, each with its sender (nothing sent yet).

    A dry run sends nothing. ``BACKUPWATCH_NOTIFY=failures`` on a good day holds back the
    central digest on every channel; an owner's all-clear is the owner's own choice and still
    goes.
    """
    if settings.dry_run:
        return []
    channels: list[_Channel] = []
    if should_publish(context.report, settings.notify):
        channels.extend(_central(settings, context, session, retrier, deadline, publisher))
    if settings.owner_notices:
        channels.extend(_owners(settings, context, session, retrier))
    return channels


def _central(
    settings: Settings,
    context: DeliveryContext,
    session: boto3.Session,
    retrier: Retrier,
    deadline: Deadline | None,
    publisher: Publisher | None,
) -> list[_Channel]:
    channels: list[_Channel] = []
    if publisher is not None:
        custom = publisher
        channels.append(_Channel(CENTRAL, lambda: custom(context.digest, context.report)))
    elif settings.sns_topic_arn is not None:
        topic = settings.sns_topic_arn
        channels.append(
            _Channel(CENTRAL, lambda: _publish_central(settings, topic, context, session, retrier))
        )
    webhooks: tuple[tuple[Literal["slack", "teams"], str | None], ...] = (
        ("slack", settings.slack_webhook_secret),
        ("teams", settings.teams_webhook_secret),
    )
    for service, secret in webhooks:
        if secret is not None:
            channels.append(
                _Channel(
                    service,
                    _poster(service, secret, settings, context, session, retrier, deadline),
                )
            )
    if settings.ses_sender is not None and settings.ses_recipients:
        recipients = settings.ses_recipients
        channels.append(
            _Channel(
                "email",
                lambda: _mail(
                    settings,
                    session,
                    retrier,
                    recipients=recipients,
                    subject=context.digest.subject,
                    text=context.digest.body,
                    html=render_html_email(
                        context.report,
                        history=context.history,
                        changes=context.changes,
                        full_report=context.full_report,
                        status_page=context.status_page,
                    ),
                    seed=context.report.generated_at.isoformat(),
                ),
            )
        )
    return channels


def _publish_central(
    settings: Settings,
    topic: str,
    context: DeliveryContext,
    session: boto3.Session,
    retrier: Retrier,
) -> str:
    sns = sns_client(session, topic_region(topic), read_timeout=settings.read_timeout_seconds)
    run_key = f"{context.report.generated_at.astimezone(UTC):%Y-%m-%d}|{delivery_scope(settings)}"
    if settings.sns_message_format == "text":
        return publish_digest(sns, topic, context.digest, retrier=retrier, run_key=run_key)
    message = render_sns_message(
        context.report,
        context.digest,
        changes=context.changes,
        full_report=context.full_report,
        status_page=context.status_page,
    )
    return publish_sns_message(sns, topic, message, retrier=retrier, run_key=run_key)


def _poster(
    service: Literal["slack", "teams"],
    secret: str,
    settings: Settings,
    context: DeliveryContext,
    session: boto3.Session,
    retrier: Retrier,
    deadline: Deadline | None,
) -> Callable[[], str]:
    """Read the webhook's URL from its secret (each time: never kept), render, post."""
    render = render_slack_message if service == "slack" else render_teams_message

    def post() -> str:
        payload = render(
            context.report,
            changes=context.changes,
            full_report=context.full_report,
            status_page=context.status_page,
        )
        url = read_webhook_url(
            session,
            secret,
            retrier=retrier,
            service=service,
            read_timeout=settings.read_timeout_seconds,
        )
        receipt = post_webhook(url, payload, service=service, deadline=deadline)
        text_only = " (text only: the blocks were refused)" if receipt.text_only else ""
        return f"HTTP {receipt.status} after {receipt.attempts} attempt(s){text_only}"

    return post


def _mail(
    settings: Settings,
    session: boto3.Session,
    retrier: Retrier,
    *,
    recipients: Sequence[str],
    subject: str,
    text: str,
    html: str,
    seed: str,
) -> str:
    sender = settings.ses_sender
    if sender is None:  # pragma: no cover - planned only with a sender
        raise PublishError("no BACKUPWATCH_SES_SENDER")
    raw = build_email(
        subject=subject,
        sender=sender,
        recipients=recipients,
        text=text,
        html=html,
        message_id_seed=seed,
    )
    ses = sesv2_client(session, settings.email_region, read_timeout=settings.read_timeout_seconds)
    return str(send_email(ses, raw, sender=sender, recipients=recipients, retrier=retrier))


def _owners(
    settings: Settings,
    context: DeliveryContext,
    session: boto3.Session,
    retrier: Retrier,
) -> list[_Channel]:
    all_clear = "*" if "*" in settings.owner_all_clear else settings.owner_all_clear
    channels: list[_Channel] = []
    for notice in owner_notices(context.report, changes=context.changes, all_clear=all_clear):
        digest = owner_digest(notice, context)
        if settings.owner_topic_arn is not None:
            topic = settings.owner_topic_arn
            channels.append(
                _Channel(
                    f"owner-topic.{notice.owner}",
                    _owner_publisher(settings, topic, notice, digest, context, session, retrier),
                )
            )
        recipients = owner_recipients(
            notice.owner, settings.owners, allowed_domains=settings.owner_email_domains
        )
        if settings.ses_sender is not None and recipients:
            channels.append(
                _Channel(
                    f"owner-email.{notice.owner}",
                    _owner_mailer(settings, notice, digest, context, recipients, session, retrier),
                )
            )
    return channels


def owner_digest(notice: OwnerNotice, context: DeliveryContext) -> Digest:
    """The owner's notice as a digest: their tenants only, their name in the subject, and a
    line saying what no owner's notice can cover (scopes that could not be checked)."""
    digest = render_digest(
        notice.report,
        full_report=context.full_report,
        changes=notice.changes,
        status_page=context.status_page,
    )
    note = scope_note(context.report)
    body = f"{note}\n\n{digest.body}" if note else digest.body
    subject = f"[{notice.owner}] {digest.subject}"
    if len(subject) > SUBJECT_MAX_CHARS:
        subject = subject[: SUBJECT_MAX_CHARS - 1] + "…"
    return digest.model_copy(update={"subject": subject, "body": body})


def _owner_publisher(
    settings: Settings,
    topic: str,
    notice: OwnerNotice,
    digest: Digest,
    context: DeliveryContext,
    session: boto3.Session,
    retrier: Retrier,
) -> Callable[[], str]:
    def publish() -> str:
        # Plain text, whatever BACKUPWATCH_SNS_MESSAGE_FORMAT says: AWS documents message
        # attributes as delivered only with a plain-text message, and the owner attribute is
        # what keeps one owner's notice from another's subscribers (docs/delivery.md).
        sns = sns_client(session, topic_region(topic), read_timeout=settings.read_timeout_seconds)
        day = f"{context.report.generated_at.astimezone(UTC):%Y-%m-%d}"
        return publish_digest(
            sns,
            topic,
            digest,
            retrier=retrier,
            run_key=f"{day}|{delivery_scope(settings)}|{notice.owner}",
            attributes_extra={"owner": {"DataType": "String", "StringValue": notice.owner}},
        )

    return publish


def _owner_mailer(
    settings: Settings,
    notice: OwnerNotice,
    digest: Digest,
    context: DeliveryContext,
    recipients: Sequence[str],
    session: boto3.Session,
    retrier: Retrier,
) -> Callable[[], str]:
    def mail() -> str:
        html = render_html_email(
            notice.report,
            history=(),
            changes=notice.changes,
            full_report=context.full_report,
            status_page=context.status_page,
        )
        return _mail(
            settings,
            session,
            retrier,
            recipients=recipients,
            subject=digest.subject,
            text=digest.body,
            html=html,
            seed=f"{context.report.generated_at.isoformat()}|{notice.owner}",
        )

    return mail


def summary_of(results: Sequence[ChannelResult]) -> dict[str, str]:
    """``{channel: state}``, for the Lambda's result (``deliveries``)."""
    return {r.channel: r.state for r in results}
