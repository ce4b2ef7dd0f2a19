"""Reading a webhook URL from Secrets Manager or an SSM SecureString, on moto.

The secrets live in eu-west-1 while the session's default region is us-east-1: the region must
come from the ARN. No error or log line may contain the URL or its token.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Literal

import boto3
import pytest

from backupwatch.aws.retry import Retrier
from backupwatch.aws.secrets import SecretReference, parse_secret_reference, read_webhook_url
from backupwatch.aws.webhook import WebhookConfigError
from backupwatch.core.errors import AwsCallError, BackupwatchError

from .conftest import ACCOUNT, OTHER_REGION, RecordingSleep, client_error_response

TOKEN = "XoXsEcReTtOkEn0123456789"
SLACK_URL = f"https://hooks.slack.com/services/T0000TEST/B0000TEST/{TOKEN}"
TEAMS_URL = (
    "https://default0a1b2c.3d.environment.api.powerplatform.com:443/powerautomate/automations/"
    f"direct/workflows/0a1b2c/triggers/manual/paths/invoke?api-version=1&sv=1.0&sig={TOKEN}"
)
SECRET_ARN = f"arn:aws:secretsmanager:{OTHER_REGION}:{ACCOUNT}:secret:backupwatch/slack-AbCdEf"
PARAMETER_ARN = f"arn:aws:ssm:{OTHER_REGION}:{ACCOUNT}:parameter/backupwatch/slack-webhook"


@pytest.fixture
def session(aws: None) -> boto3.Session:
    return boto3.Session(region_name="us-east-1")


def put_secret(session: boto3.Session, value: str | bytes, name: str = "backupwatch/slack") -> str:
    client = session.client("secretsmanager", region_name=OTHER_REGION)
    if isinstance(value, bytes):
        return str(client.create_secret(Name=name, SecretBinary=value)["ARN"])
    return str(client.create_secret(Name=name, SecretString=value)["ARN"])


ParameterType = Literal["String", "StringList", "SecureString"]


def put_parameter(
    session: boto3.Session,
    value: str,
    kind: ParameterType,
    name: str = "/backupwatch/slack-webhook",
) -> str:
    client = session.client("ssm", region_name=OTHER_REGION)
    client.put_parameter(Name=name, Value=value, Type=kind)
    return f"arn:aws:ssm:{OTHER_REGION}:{ACCOUNT}:parameter{name}"


def assert_no_leak(error: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    for text in (str(error), repr(error), *map(str, error.args), caplog.text):
        assert TOKEN not in text
        assert "hooks.slack.com/services" not in text


# --- parsing references --------------------------------------------------------------------------


def test_a_secrets_manager_arn_is_a_reference() -> None:
    ref = parse_secret_reference(f"  {SECRET_ARN}\n")

    assert ref == SecretReference(
        "secretsmanager", SECRET_ARN, "aws", OTHER_REGION, ACCOUNT, "backupwatch/slack-AbCdEf"
    )
    assert ref.operation == "secretsmanager:GetSecretValue"


@pytest.mark.parametrize(
    ("arn", "region", "name"),
    [
        (PARAMETER_ARN, OTHER_REGION, "backupwatch/slack-webhook"),
        ("arn:aws:ssm:us-east-1:123456789012:parameter/slack", "us-east-1", "slack"),
        ("arn:aws-us-gov:ssm:us-gov-west-1:123456789012:parameter/a/b", "us-gov-west-1", "a/b"),
    ],
)
def test_an_ssm_parameter_arn_is_a_reference(arn: str, region: str, name: str) -> None:
    ref = parse_secret_reference(arn)

    assert (ref.kind, ref.region, ref.name, ref.operation) == (
        "ssm",
        region,
        name,
        "ssm:GetParameter",
    )


@pytest.mark.parametrize(
    "value",
    [
        SLACK_URL,
        TEAMS_URL,
        f"hooks.slack.com/services/T0000TEST/B0000TEST/{TOKEN}",
        f"http://example.com/{TOKEN}",
    ],
)
def test_a_url_is_refused_as_a_secret_without_being_repeated(value: str) -> None:
    with pytest.raises(ValueError, match="webhook URLs are secrets") as caught:
        parse_secret_reference(value)

    message = str(caught.value)
    assert "Secrets Manager" in message
    assert "SecureString" in message
    assert TOKEN not in message
    assert "hooks.slack.com/services" not in message


@pytest.mark.parametrize(
    "value",
    [
        "backupwatch/slack",
        "",
        f"arn:aws:sns:{OTHER_REGION}:{ACCOUNT}:backup-digest",
        f"arn:aws:secretsmanager:{OTHER_REGION}:{ACCOUNT}:backupwatch/slack",
        f"arn:aws:ssm:{OTHER_REGION}:{ACCOUNT}:document/slack",
        f"arn:aws:ssm:{OTHER_REGION}:12345:parameter/slack",
        f"arn:aws:ssm:{OTHER_REGION}:{ACCOUNT}:parameter/has space",
    ],
)
def test_anything_else_is_refused_with_the_shapes_expected(value: str) -> None:
    with pytest.raises(ValueError, match=r"arn:aws:secretsmanager:<region>") as caught:
        parse_secret_reference(value)

    assert "arn:aws:ssm:<region>:<account>:parameter/<name>" in str(caught.value)


# --- Secrets Manager -----------------------------------------------------------------------------


def test_a_secret_string_that_is_the_url(session: boto3.Session, retrier: Retrier) -> None:
    arn = put_secret(session, SLACK_URL + "\n")

    assert read_webhook_url(session, arn, retrier=retrier, service="slack") == SLACK_URL


def test_a_secret_string_that_is_json_with_a_url(session: boto3.Session, retrier: Retrier) -> None:
    arn = put_secret(session, json.dumps({"url": TEAMS_URL, "channel": "ops"}))

    assert read_webhook_url(session, arn, retrier=retrier, service="teams") == TEAMS_URL
    assert read_webhook_url(session, parse_secret_reference(arn), retrier=retrier) == TEAMS_URL


@pytest.mark.parametrize(
    "value", [json.dumps({"webhook": SLACK_URL}), json.dumps({"url": 42}), "{" + SLACK_URL]
)
def test_json_without_a_url_is_refused_without_quoting_it(
    session: boto3.Session, retrier: Retrier, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    arn = put_secret(session, value)

    with pytest.raises(WebhookConfigError, match='without a string "url"') as caught:
        read_webhook_url(session, arn, retrier=retrier)

    assert arn in str(caught.value)
    assert_no_leak(caught.value, caplog)


def test_a_binary_secret_is_refused(session: boto3.Session, retrier: Retrier) -> None:
    arn = put_secret(session, SLACK_URL.encode())

    with pytest.raises(WebhookConfigError, match="binary"):
        read_webhook_url(session, arn, retrier=retrier)


def test_a_missing_secret_is_not_retried(
    session: boto3.Session,
    retrier: Retrier,
    sleep: RecordingSleep,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(AwsCallError) as caught:
        read_webhook_url(session, SECRET_ARN, retrier=retrier)

    assert caught.value.code == "ResourceNotFoundException"
    assert caught.value.operation == "secretsmanager:GetSecretValue"
    assert caught.value.attempts == 1
    assert sleep.waits == []
    assert_no_leak(caught.value, caplog)


def _inject(session: boto3.Session, event: str, codes: list[str]) -> list[str]:
    """Make the next calls fail with ``codes`` (then succeed); returns the calls seen."""
    seen: list[str] = []

    def before_call(**_: Any) -> Any:
        seen.append(event)
        if len(seen) <= len(codes):
            code = codes[len(seen) - 1]
            return client_error_response(code, 429 if code == "ThrottlingException" else 400)
        return None

    session.events.register(event, before_call)
    return seen


@pytest.mark.parametrize(
    ("event", "reference"),
    [
        ("before-call.secrets-manager.GetSecretValue", "secret"),
        ("before-call.ssm.GetParameter", "parameter"),
    ],
)
def test_access_denied_is_not_retried(
    session: boto3.Session,
    retrier: Retrier,
    sleep: RecordingSleep,
    caplog: pytest.LogCaptureFixture,
    event: str,
    reference: str,
) -> None:
    arn = (
        put_secret(session, SLACK_URL)
        if reference == "secret"
        else put_parameter(session, SLACK_URL, "SecureString")
    )
    seen = _inject(session, event, ["AccessDeniedException"])

    with pytest.raises(AwsCallError) as caught:
        read_webhook_url(session, arn, retrier=retrier)

    assert (caught.value.code, caught.value.attempts) == ("AccessDeniedException", 1)
    assert len(seen) == 1
    assert sleep.waits == []
    assert_no_leak(caught.value, caplog)


def test_throttling_is_retried_by_the_retrier(
    session: boto3.Session, retrier: Retrier, sleep: RecordingSleep
) -> None:
    arn = put_secret(session, SLACK_URL)
    seen = _inject(session, "before-call.secrets-manager.GetSecretValue", ["ThrottlingException"])

    assert read_webhook_url(session, arn, retrier=retrier) == SLACK_URL
    assert len(seen) == 2
    assert len(sleep.waits) == 1


# --- SSM -----------------------------------------------------------------------------------------


def test_a_secure_string_parameter(session: boto3.Session, retrier: Retrier) -> None:
    arn = put_parameter(session, SLACK_URL, "SecureString")

    assert read_webhook_url(session, arn, retrier=retrier, service="slack") == SLACK_URL


def test_a_secure_string_parameter_with_json(session: boto3.Session, retrier: Retrier) -> None:
    arn = put_parameter(session, json.dumps({"url": TEAMS_URL}), "SecureString")

    assert read_webhook_url(session, arn, retrier=retrier, service="teams") == TEAMS_URL


@pytest.mark.parametrize("kind", ["String", "StringList"])
def test_a_plain_parameter_is_refused_as_a_leaked_secret(
    session: boto3.Session,
    retrier: Retrier,
    caplog: pytest.LogCaptureFixture,
    kind: ParameterType,
) -> None:
    arn = put_parameter(session, SLACK_URL, kind)

    with pytest.raises(WebhookConfigError, match=f"is a {kind} parameter") as caught:
        read_webhook_url(session, arn, retrier=retrier)

    assert "SecureString" in str(caught.value)
    assert caught.value.code == "NotSecureString"
    assert isinstance(caught.value, BackupwatchError)
    assert_no_leak(caught.value, caplog)


def test_a_missing_parameter_is_not_retried(
    session: boto3.Session, retrier: Retrier, sleep: RecordingSleep
) -> None:
    with pytest.raises(AwsCallError) as caught:
        read_webhook_url(session, PARAMETER_ARN, retrier=retrier)

    assert (caught.value.code, caught.value.attempts) == ("ParameterNotFound", 1)
    assert sleep.waits == []


# --- the URL read is checked ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "service", "problem"),
    [
        (SLACK_URL.replace("https:", "http:"), "slack", "not https"),
        (SLACK_URL, "teams", "not a Teams Workflows"),
        (TEAMS_URL, "slack", "not hooks.slack.com"),
        (f"https://hooks.slack.example/services/{TOKEN}", None, "neither"),
        ("", None, "empty"),
    ],
)
def test_the_url_read_must_be_the_services(
    session: boto3.Session,
    retrier: Retrier,
    caplog: pytest.LogCaptureFixture,
    value: str,
    service: Any,
    problem: str,
) -> None:
    arn = put_parameter(session, json.dumps({"url": value}), "SecureString")

    with pytest.raises(WebhookConfigError, match=problem) as caught:
        read_webhook_url(session, arn, retrier=retrier, service=service)

    assert arn in str(caught.value)
    assert_no_leak(caught.value, caplog)


def test_a_url_given_as_the_reference_is_refused_before_any_call(
    session: boto3.Session, retrier: Retrier, caplog: pytest.LogCaptureFixture
) -> None:
    seen = _inject(session, "before-call", [])

    with pytest.raises(WebhookConfigError, match="webhook URLs are secrets") as caught:
        read_webhook_url(session, SLACK_URL, retrier=retrier)

    assert seen == []
    assert_no_leak(caught.value, caplog)


def test_nothing_is_logged_with_the_url(
    session: boto3.Session, retrier: Retrier, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    arn = put_secret(session, SLACK_URL)
    _inject(session, "before-call.secrets-manager.GetSecretValue", ["ThrottlingException"])

    read_webhook_url(session, arn, retrier=retrier)

    backupwatch_lines = [r.getMessage() for r in caplog.records if r.name == "backupwatch"]
    assert backupwatch_lines  # the retry was logged
    assert all(TOKEN not in line for line in backupwatch_lines)
