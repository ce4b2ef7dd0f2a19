"""Publishing a run's message to SNS: the plain-text digest, or one message per protocol."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from backupwatch.aws.retry import Retrier, is_safe_to_resend
from backupwatch.core.digest import MESSAGE_MAX_BYTES, Digest, _attributes_size
from backupwatch.core.errors import AwsCallError, PublishError
from backupwatch.core.sns_message import SnsMessage

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import PublishInputTypeDef


def publish_digest(
    sns: SNSClient,
    topic_arn: str,
    digest: Digest,
    *,
    retrier: Retrier,
    run_key: str,
    attributes_extra: Mapping[str, Mapping[str, str]] | None = None,
) -> str:
    """Publish ``digest`` once and return its message id; raise ``PublishError`` on failure.

    Throttling (``Throttled``, which botocore never retries) is retried by ``retrier``; a read
    timeout is not, because SNS may already have the message (see ``is_safe_to_resend``). On a FIFO
    topic the deduplication id is derived from ``run_key`` (date and scope), so a repeated
    invocation for the same run within SNS's 5-minute window is not delivered twice.
    ``attributes_extra`` as for ``publish_sns_message``: a plain-text message is the one whose
    attributes AWS documents as delivered (not with ``MessageStructure="json"``), which is why
    owner notices, routed by their ``owner`` attribute, go this way.
    """
    attributes, dedup_key = _attributes(
        topic_arn, digest.message_attributes, digest.size_bytes, attributes_extra, run_key
    )
    request: PublishInputTypeDef = {
        "TopicArn": topic_arn,
        "Subject": digest.subject,
        "Message": digest.body,
        "MessageAttributes": attributes,  # type: ignore[typeddict-item]
    }
    return _publish(sns, request, retrier=retrier, dedup_key=dedup_key)


def publish_sns_message(
    sns: SNSClient,
    topic_arn: str,
    message: SnsMessage,
    *,
    retrier: Retrier,
    run_key: str,
    attributes_extra: Mapping[str, Mapping[str, str]] | None = None,
) -> str:
    """Publish ``message`` once with ``MessageStructure="json"`` (each subscription gets its
    protocol's string) and return its message id; raise ``PublishError`` on failure.

    Retries, FIFO and ``PublishError`` are ``publish_digest``'s. ``attributes_extra`` adds
    message attributes (``{"owner": {"DataType": "String", "StringValue": key}}``) for
    subscription filter policies; it may not replace one of the message's own (``ValueError``:
    a filter on ``failing`` must mean what it says). With extra attributes the FIFO
    deduplication id covers them too, so notices of one run that differ only by their
    attributes (one per owner) are not taken for repeats of each other; without, it is the id
    ``publish_digest`` would use for ``run_key``. A message that the extra attributes would make
    too large for SNS is refused before it is sent (``PublishError``).
    """
    attributes, dedup_key = _attributes(
        topic_arn, message.attributes, message.size_bytes, attributes_extra, run_key
    )
    request: PublishInputTypeDef = {
        "TopicArn": topic_arn,
        "Subject": message.subject,
        "Message": message.message,
        "MessageStructure": "json",
        "MessageAttributes": attributes,  # type: ignore[typeddict-item]
    }
    return _publish(sns, request, retrier=retrier, dedup_key=dedup_key)


def _attributes(
    topic_arn: str,
    own: Mapping[str, Mapping[str, str]],
    size_bytes: int,
    attributes_extra: Mapping[str, Mapping[str, str]] | None,
    run_key: str,
) -> tuple[dict[str, dict[str, str]], str]:
    """The message's attributes with the extra ones, and the FIFO deduplication key."""
    extra = {name: dict(value) for name, value in (attributes_extra or {}).items()}
    clash = sorted(extra.keys() & own.keys())
    if clash:
        raise ValueError(f"attributes_extra may not replace the message's own: {clash}")
    size = size_bytes + _attributes_size(extra)
    if size > MESSAGE_MAX_BYTES:
        raise PublishError(
            f"could not publish the digest to {topic_arn}: {size} bytes with the extra "
            f"attributes, over SNS's {MESSAGE_MAX_BYTES}"
        )
    dedup_key = run_key if not extra else f"{run_key}\n{json.dumps(extra, sort_keys=True)}"
    return {**{k: dict(v) for k, v in own.items()}, **extra}, dedup_key


def _publish(
    sns: SNSClient, request: PublishInputTypeDef, *, retrier: Retrier, dedup_key: str
) -> str:
    """Send ``request`` once (resent only when it surely did not take effect); on a FIFO topic
    with the group and the deduplication id derived from ``dedup_key``."""
    topic_arn = request["TopicArn"]
    if topic_arn.endswith(".fifo"):
        request["MessageGroupId"] = "backupwatch"
        request["MessageDeduplicationId"] = hashlib.sha256(dedup_key.encode()).hexdigest()[:64]
    try:
        response = retrier.call(
            "sns:Publish", lambda: sns.publish(**request), retryable=is_safe_to_resend
        )
    except AwsCallError as error:
        raise PublishError(f"could not publish the digest to {topic_arn}: {error.short}") from error
    return response["MessageId"]


def topic_region(topic_arn: str) -> str:
    """The region in ``arn:aws:sns:<region>:<account>:<topic>``: publish where the topic lives."""
    return topic_arn.split(":")[3]
