"""The delivery settings: validated once, up front; a webhook URL is a secret and is never
repeated; each setting needs the others it works with."""

from __future__ import annotations

import pytest

from backupwatch import ConfigurationError, load_settings

BASE = {"BACKUPWATCH_S3_BUCKET": "my-backups-bucket", "BACKUPWATCH_REGIONS": "eu-west-1"}
SLACK_URL = "https://hooks.slack.com/services/T000/B000/XoXsEcReTtOkEn"
SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:backupwatch/slack-AbCdEf"
PARAMETER = "arn:aws:ssm:eu-west-1:123456789012:parameter/backupwatch/teams"


def refused(**variables: str) -> str:
    with pytest.raises(ConfigurationError) as caught:
        load_settings({**BASE, **variables})
    return str(caught.value)


@pytest.mark.parametrize(
    "variable", ["BACKUPWATCH_SLACK_WEBHOOK_SECRET", "BACKUPWATCH_TEAMS_WEBHOOK_SECRET"]
)
@pytest.mark.parametrize(
    "url",
    [
        SLACK_URL,
        "http://hooks.slack.com/services/T000/B000/XoXsEcReTtOkEn",
        "hooks.slack.com/services/T000/B000/XoXsEcReTtOkEn",
        "https://prod-01.westeurope.logic.azure.com/workflows/abc?sig=XoXsEcReTtOkEn",
    ],
)
def test_a_webhook_url_is_refused_and_never_repeated(variable: str, url: str) -> None:
    """Careless variant: the URL itself as the setting. It would sit in plain text in the
    function's configuration, and the error, which is logged, must not leak it either."""
    message = refused(**{variable: url})
    assert "XoXsEcReTtOkEn" not in message
    assert "webhook URL is a secret" in message
    assert variable in message


@pytest.mark.parametrize("reference", [SECRET, PARAMETER])
def test_a_secret_or_parameter_arn_is_accepted(reference: str) -> None:
    settings = load_settings({**BASE, "BACKUPWATCH_SLACK_WEBHOOK_SECRET": reference})
    assert settings.slack_webhook_secret == reference


def test_anything_else_is_refused_naming_what_is_expected() -> None:
    message = refused(BACKUPWATCH_TEAMS_WEBHOOK_SECRET="backupwatch/teams")
    assert "arn:aws:secretsmanager" in message
    assert "arn:aws:ssm" in message


def test_the_per_protocol_message_is_the_default_and_text_is_the_way_back() -> None:
    assert load_settings(BASE).sns_message_format == "per-protocol"
    text = load_settings({**BASE, "BACKUPWATCH_SNS_MESSAGE_FORMAT": "text"})
    assert text.sns_message_format == "text"
    assert "BACKUPWATCH_SNS_MESSAGE_FORMAT" in refused(BACKUPWATCH_SNS_MESSAGE_FORMAT="html")


@pytest.mark.parametrize(
    ("variables", "blamed"),
    [
        ({"BACKUPWATCH_SES_RECIPIENTS": "dba@example.com"}, "BACKUPWATCH_SES_RECIPIENTS"),
        ({"BACKUPWATCH_SES_SENDER": "bw@example.com"}, "BACKUPWATCH_SES_SENDER"),
        ({"BACKUPWATCH_OWNERS": "team-a=a@example.com"}, "BACKUPWATCH_OWNERS"),
        ({"BACKUPWATCH_OWNER_EMAIL_DOMAINS": "example.com"}, "BACKUPWATCH_OWNER_EMAIL_DOMAINS"),
        ({"BACKUPWATCH_OWNER_ALL_CLEAR": "team-a"}, "BACKUPWATCH_OWNER_ALL_CLEAR"),
        (
            {
                "BACKUPWATCH_OWNER_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:owners",
                "BACKUPWATCH_OWNER_ALL_CLEAR": "*,team-a",
            },
            "BACKUPWATCH_OWNER_ALL_CLEAR",
        ),
    ],
)
def test_each_delivery_setting_needs_its_partners(variables: dict[str, str], blamed: str) -> None:
    """Nothing is set in vain: a setting that could never send anything is refused, naming it."""
    assert refused(**variables).startswith(blamed)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BACKUPWATCH_SES_SENDER", "Backups <bw@example.com>"),
        ("BACKUPWATCH_SES_SENDER", "bw@example.com\nBcc: evil@example.net"),
        ("BACKUPWATCH_SES_RECIPIENTS", "dba@example.com;evil@example.net"),
        ("BACKUPWATCH_OWNER_EMAIL_DOMAINS", "example"),
        ("BACKUPWATCH_OWNERS", "team-a alice@example.com"),
        ("BACKUPWATCH_OWNERS", "Team A=alice@example.com"),
        ("BACKUPWATCH_OWNER_TOPIC_ARN", "backupwatch-owners"),
    ],
)
def test_malformed_delivery_values_are_refused(variable: str, value: str) -> None:
    partners = {
        "BACKUPWATCH_SES_SENDER": "bw@example.com",
        "BACKUPWATCH_SES_RECIPIENTS": "dba@example.com",
    }
    partners.pop(variable, None)
    assert refused(**partners, **{variable: value}).startswith(variable)


def test_a_whole_delivery_configuration_is_accepted() -> None:
    settings = load_settings(
        {
            **BASE,
            "BACKUPWATCH_SLACK_WEBHOOK_SECRET": SECRET,
            "BACKUPWATCH_TEAMS_WEBHOOK_SECRET": PARAMETER,
            "BACKUPWATCH_SES_SENDER": "BW@Example.COM",
            "BACKUPWATCH_SES_RECIPIENTS": "dba@example.com, oncall@example.com, dba@example.com",
            "BACKUPWATCH_OWNER_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:owners",
            "BACKUPWATCH_OWNERS": "team-data=alice@example.com bob@example.com;team-web=w@x.org",
            "BACKUPWATCH_OWNER_EMAIL_DOMAINS": "Example.com",
            "BACKUPWATCH_OWNER_ALL_CLEAR": "*",
        }
    )
    assert settings.ses_sender == "BW@example.com"  # the domain is case-insensitive
    assert settings.ses_recipients == ("dba@example.com", "oncall@example.com")
    assert settings.owners == {
        "team-data": ("alice@example.com", "bob@example.com"),
        "team-web": ("w@x.org",),
    }
    assert settings.owner_email_domains == ("example.com",)
    assert settings.owner_notices
    assert settings.email_region == "eu-west-1"
