"""Reading a chat webhook's URL from where it is kept secret.

A Slack or Teams webhook URL is a credential: anyone holding it can post to the channel. So
backupwatch is never given the URL itself, only a reference to where it is kept encrypted:

- a Secrets Manager secret, ``arn:aws:secretsmanager:<region>:<account>:secret:<name>-XXXXXX``,
  whose ``SecretString`` is the URL, or a JSON object with the URL under ``"url"``;
- an SSM parameter, ``arn:aws:ssm:<region>:<account>:parameter/<name>``, of type
  ``SecureString`` (same two forms). A plain ``String`` parameter is refused: anyone allowed
  ``ssm:GetParameter`` or ``DescribeParameters`` reads it in clear, so the URL has leaked.

The region is the ARN's: the secret is read where it lives, whatever region the run checks.
The URL read is checked (https, a Slack or Teams Workflows host) before it is returned, and no
error or log line ever quotes it or any part of it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from backupwatch.aws.clients import secretsmanager_client, ssm_client
from backupwatch.aws.retry import Retrier
from backupwatch.aws.webhook import Service, WebhookConfigError, webhook_url_problem
from backupwatch.core.config import DEFAULT_READ_TIMEOUT_SECONDS

if TYPE_CHECKING:
    import boto3

SecretKind = Literal["secretsmanager", "ssm"]

_PARTITION = r"aws(?:-cn|-us-gov|-iso|-iso-b|-iso-e|-iso-f|-eusc)?"
_REGION = r"[a-z]{2,4}(?:-[a-z]+)+-\d+"
_SECRET_ARN = re.compile(
    rf"arn:(?P<partition>{_PARTITION}):secretsmanager:(?P<region>{_REGION}):"
    r"(?P<account>\d{12}):secret:(?P<name>[A-Za-z0-9/_+=.@-]{1,512})"
)
_PARAMETER_ARN = re.compile(
    rf"arn:(?P<partition>{_PARTITION}):ssm:(?P<region>{_REGION}):"
    r"(?P<account>\d{12}):parameter/(?P<name>[A-Za-z0-9_.\-/]{1,2048})"
)
_SECRET_SHAPE = "arn:aws:secretsmanager:<region>:<account>:secret:<name>-XXXXXX"
_PARAMETER_SHAPE = "arn:aws:ssm:<region>:<account>:parameter/<name>"
_URL_LIKE = re.compile(r"^[a-z][a-z0-9+.-]*://|hooks\.slack|logic\.azure|powerplatform", re.I)


@dataclass(frozen=True)
class SecretReference:
    """Where a webhook URL is kept: a Secrets Manager secret or an SSM parameter, by ARN.

    Nothing here is secret (an ARN names the secret, it does not hold it), so it may be logged
    and shown in configuration errors.
    """

    kind: SecretKind
    arn: str
    partition: str
    region: str
    account: str
    name: str
    """The secret's name (with Secrets Manager's random suffix, if the ARN has it), or the
    parameter's name as it appears after ``parameter/``."""

    @property
    def operation(self) -> str:
        """The IAM action that reads it: what the function's role must be allowed."""
        if self.kind == "secretsmanager":
            return "secretsmanager:GetSecretValue"
        return "ssm:GetParameter"


def parse_secret_reference(value: str) -> SecretReference:
    """``value`` as a ``SecretReference``; ``ValueError`` with the reason if it is not one.

    Pure (no AWS call), so configuration can validate it before a run. The message never quotes
    ``value``: it may be the webhook URL itself, pasted where its reference belongs.
    """
    text = value.strip()
    secret = _SECRET_ARN.fullmatch(text)
    if secret is not None:
        return SecretReference("secretsmanager", text, **secret.groupdict())
    parameter = _PARAMETER_ARN.fullmatch(text)
    if parameter is not None:
        return SecretReference("ssm", text, **parameter.groupdict())
    if _URL_LIKE.search(text):
        raise ValueError(
            "this looks like a webhook URL itself: webhook URLs are secrets and belong in Secrets"
            " Manager or an SSM SecureString parameter; give the ARN of the secret"
            f" ({_SECRET_SHAPE}) or of the parameter ({_PARAMETER_SHAPE}) instead"
        )
    if text.startswith(("arn:", "ARN:")):
        raise ValueError(
            "not the ARN of a Secrets Manager secret or an SSM parameter: expected"
            f" {_SECRET_SHAPE} or {_PARAMETER_SHAPE}"
        )
    raise ValueError(
        "not an ARN: give the ARN of the Secrets Manager secret"
        f" ({_SECRET_SHAPE}) or of the SSM SecureString parameter ({_PARAMETER_SHAPE}) that"
        " holds the webhook URL"
    )


def read_webhook_url(
    session: boto3.Session,
    reference: str | SecretReference,
    *,
    retrier: Retrier,
    service: Service | None = None,
    read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS,
) -> str:
    """The webhook URL kept at ``reference``, checked to be ``service``'s (any known one when
    None).

    AWS failures raise ``AwsCallError`` (retried by ``retrier`` when asking again may help; an
    ``AccessDeniedException``, ``ResourceNotFoundException`` or ``ParameterNotFound`` is not).
    A bad reference, a plain ``String`` parameter, a secret that is binary or lacks ``"url"``, or
    a URL that is not https on a Slack or Teams host raise ``WebhookConfigError``. Neither ever
    quotes the value read.
    """
    if isinstance(reference, SecretReference):
        ref = reference
    else:
        try:
            ref = parse_secret_reference(reference)
        except ValueError as error:
            raise WebhookConfigError(
                f"webhook reference: {error}", service=service or "", code="InvalidReference"
            ) from None
    if ref.kind == "secretsmanager":
        text = _secret_string(session, ref, retrier, read_timeout)
    else:
        text = _secure_parameter(session, ref, retrier, read_timeout)
    url = _url_in(text, ref, service)
    problem = webhook_url_problem(url, service)
    if problem is not None:
        raise WebhookConfigError(
            f"the webhook URL in {ref.arn} is unusable: {problem}",
            service=service or "",
            code="InvalidUrl",
        )
    return url


def _secret_string(
    session: boto3.Session, ref: SecretReference, retrier: Retrier, read_timeout: float
) -> str:
    client = secretsmanager_client(session, ref.region, read_timeout=read_timeout)
    response = retrier.call(ref.operation, lambda: client.get_secret_value(SecretId=ref.arn))
    text = response.get("SecretString")
    if text is None:
        raise WebhookConfigError(
            f"secret {ref.arn} holds binary data: store the webhook URL as its secret string",
            service="",
            code="InvalidSecret",
        )
    return text


def _secure_parameter(
    session: boto3.Session, ref: SecretReference, retrier: Retrier, read_timeout: float
) -> str:
    client = ssm_client(session, ref.region, read_timeout=read_timeout)
    # By ARN, not by name: a parameter shared from another account is found only by its ARN.
    response = retrier.call(
        ref.operation, lambda: client.get_parameter(Name=ref.arn, WithDecryption=True)
    )
    parameter = response.get("Parameter", {})
    kind = parameter.get("Type", "")
    if kind != "SecureString":
        raise WebhookConfigError(
            f"SSM parameter {ref.arn} is a {kind or 'untyped'} parameter, readable in clear: a"
            " webhook URL is a secret; store it as a SecureString (and replace the webhook, whose"
            " URL has leaked)",
            service="",
            code="NotSecureString",
        )
    return parameter.get("Value", "")


def _url_in(text: str, ref: SecretReference, service: Service | None) -> str:
    """The URL in a secret's text: the whole text, or the ``"url"`` of a JSON object."""
    stripped = text.strip()
    if not stripped.startswith("{"):
        return stripped
    try:
        document = json.loads(stripped)
    except ValueError:
        document = None
    url = document.get("url") if isinstance(document, dict) else None
    if not isinstance(url, str):
        raise WebhookConfigError(
            f'{ref.arn} holds JSON without a string "url": store the webhook URL under "url",'
            " or as the whole value",
            service=service or "",
            code="InvalidSecret",
        )
    return url.strip()
