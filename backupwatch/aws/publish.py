"""Publishing the one digest of a run to SNS."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from backupwatch.aws.retry import Retrier, is_safe_to_resend
from backupwatch.core.digest import Digest
from backupwatch.core.errors import AwsCallError, PublishError

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import PublishInputTypeDef


def publish_digest(
    sns: SNSClient, topic_arn: str, digest: Digest, *, retrier: Retrier, run_key: str
) -> str:
    """Publish ``digest`` once and return its message id; raise ``PublishError`` on failure.

    Throttling (``Throttled``, which botocore never retries) is retried by ``retrier``; a read
    timeout is not, because SNS may already have the message (see ``is_safe_to_resend``). On a FIFO
    topic the deduplication id is derived from ``run_key`` (date and scope), so a repeated
    invocation for the same run within SNS's 5-minute window is not delivered twice.
    """
    request: PublishInputTypeDef = {
        "TopicArn": topic_arn,
        "Subject": digest.subject,
        "Message": digest.body,
        "MessageAttributes": digest.message_attributes,  # type: ignore[typeddict-item]
    }
    if topic_arn.endswith(".fifo"):
        request["MessageGroupId"] = "backupwatch"
        request["MessageDeduplicationId"] = hashlib.sha256(run_key.encode()).hexdigest()[:64]
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
