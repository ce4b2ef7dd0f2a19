"""Sending the digest email through Amazon SES: API v2 ``SendEmail`` with raw content.

The message is built by ``backupwatch.core.email_message.build_email`` (text and HTML, 7-bit,
no line over 998 bytes); this module only sends it, once per batch of at most
``MAX_RECIPIENTS_PER_MESSAGE`` (50) recipients, and never sends a batch twice.

What ``SendEmail`` can answer (botocore's sesv2 2019-09-27 model lists ``TooManyRequestsException``
(429), ``LimitExceededException``, ``AccountSuspendedException``, ``SendingPausedException``,
``MessageRejected``, ``MailFromDomainNotVerifiedException``, ``NotFoundException`` and
``BadRequestException``, all 400 but the first), and what is done with it:

- Resent (``is_safe_to_resend_email``), because SES surely did not take the message: a throttle
  (``TooManyRequestsException``, which is what SES v2 answers for "Maximum sending rate
  exceeded"; ``Throttling``/``ThrottlingException``, the v1 and documented names), a
  ``LimitExceededException`` (a refusal for a limit: nothing was accepted), and a connection
  that never opened (``EndpointConnectionError``, ``ConnectTimeoutError``). Bounded by the
  ``Retrier`` (attempts, budget, the run's deadline).
- Never resent: a read timeout, a closed connection, a 5xx or an answer botocore could not
  read. SES may have accepted the message, and an email cannot be taken back: sending again
  could deliver the digest twice (``is_safe_to_resend``, as for ``sns:Publish``).
- Never retried, raised at once: ``MessageRejected`` (in the SES sandbox, "Email address is not
  verified", for the sender or a recipient), ``MailFromDomainNotVerifiedException``, a paused or
  suspended account, a bad request, a missing configuration set (``NotFoundException``): asking
  again will not change the answer.

Every failure is a ``PublishError`` naming the sender, the recipient count, the AWS error code
and SES's message (one line), and, when some batches were already sent, which: those are not
sent again by a caller that retries the run unless it chooses to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from backupwatch.aws.retry import Retrier, is_safe_to_resend
from backupwatch.core.email_message import (
    MAX_MESSAGE_BYTES_V2,
    batches,
    validate_address,
)
from backupwatch.core.errors import AwsCallError, PublishError

if TYPE_CHECKING:
    from mypy_boto3_sesv2 import SESV2Client
    from mypy_boto3_sesv2.type_defs import SendEmailRequestTypeDef, SendEmailResponseTypeDef

OPERATION = "ses:SendEmail"
"""The IAM action (and the name in errors and retry logs) of SES v2 ``SendEmail``."""
MESSAGE_ID_SEPARATOR = ","
"""Joins the message ids of a send in batches; SES message ids never contain it."""
REFUSED_FOR_A_LIMIT = frozenset({"LimitExceededException"})
"""SES codes that refuse a send for a limit: nothing was accepted, so it may be sent again."""
UNVERIFIED_CODES = frozenset({"MessageRejected", "MailFromDomainNotVerifiedException"})
_UNVERIFIED_HINT = (
    " (is the sender a verified SES identity in this region? In the SES sandbox every"
    " recipient must be one too)"
)


def is_safe_to_resend_email(error: BaseException) -> bool:
    """Whether a ``SendEmail`` that failed with ``error`` may be sent again: only when SES
    surely did not take the message (``is_safe_to_resend``: throttled, or never connected),
    or refused it for a limit (``REFUSED_FOR_A_LIMIT``)."""
    if is_safe_to_resend(error):
        return True
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code", "") in REFUSED_FOR_A_LIMIT
    return False


def send_email(
    sesv2_client: SESV2Client,
    raw: bytes,
    *,
    sender: str,
    recipients: Sequence[str],
    retrier: Retrier,
    configuration_set: str | None = None,
) -> str:
    """Send ``raw`` (from ``build_email``) from ``sender`` to ``recipients``; return the SES
    message id, or, when the recipients take more than one message, the ids of the messages
    in order joined by ``MESSAGE_ID_SEPARATOR`` (",").

    Recipients are validated and each is sent to once (``unique_addresses``), in batches of at
    most ``MAX_RECIPIENTS_PER_MESSAGE``: one ``SendEmail`` per batch, the batch as
    ``Destination.ToAddresses`` (the envelope: SES delivers to these, whatever the headers
    say). ``configuration_set`` is SES's ``ConfigurationSetName`` (event publishing, a
    dedicated IP pool). Retries follow ``is_safe_to_resend_email``. Raises ``PublishError``
    before any call for an invalid address, no recipient or a message over
    ``MAX_MESSAGE_BYTES_V2`` once base64-encoded (as the API carries it; SES's quota is "after
    base64 encoding"), and when a send fails for good.
    """
    try:
        from_ = validate_address(sender)
        groups = batches(recipients)
    except ValueError as error:
        raise PublishError(f"could not send the digest email: {error}") from error
    total = sum(len(group) for group in groups)
    if not groups:
        raise PublishError(f"could not send the digest email from {from_}: no recipients")
    encoded = (len(raw) + 2) // 3 * 4  # the stricter reading of "after base64 encoding"
    if encoded > MAX_MESSAGE_BYTES_V2:
        raise PublishError(
            f"could not send the digest email from {from_} to {total} recipient(s): the message"
            f" is {encoded:,} bytes in base64, over SES's {MAX_MESSAGE_BYTES_V2:,}"
        )
    sent: list[str] = []
    for number, group in enumerate(groups, start=1):
        request: SendEmailRequestTypeDef = {
            "FromEmailAddress": from_,
            "Destination": {"ToAddresses": group},
            "Content": {"Raw": {"Data": raw}},
        }
        if configuration_set is not None:
            request["ConfigurationSetName"] = configuration_set
        try:
            response = retrier.call(
                OPERATION, _sending(sesv2_client, request), retryable=is_safe_to_resend_email
            )
        except AwsCallError as error:
            raise PublishError(_failure(from_, total, groups, number, sent, error)) from error
        sent.append(response["MessageId"])
    return MESSAGE_ID_SEPARATOR.join(sent)


def _sending(
    sesv2_client: SESV2Client, request: SendEmailRequestTypeDef
) -> Callable[[], SendEmailResponseTypeDef]:
    return lambda: sesv2_client.send_email(**request)


def _failure(
    sender: str,
    total: int,
    groups: Sequence[Sequence[str]],
    number: int,
    sent: Sequence[str],
    error: AwsCallError,
) -> str:
    """One line: who sent to how many, which message, the AWS code and message, and what was
    already sent."""
    which = "" if len(groups) == 1 else f" (message {number} of {len(groups)})"
    hint = _UNVERIFIED_HINT if error.code in UNVERIFIED_CODES else ""
    text = (
        f"could not send the digest email from {sender} to {total} recipient(s){which}:"
        f" {error.short}: {error.message}{hint}"
    )
    if sent:
        done = sum(len(group) for group in groups[: number - 1])
        text += (
            f"; already sent to {done} of {total} recipient(s) as message(s)"
            f" {MESSAGE_ID_SEPARATOR.join(sent)}, which are not sent again"
        )
    return text
