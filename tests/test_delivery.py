"""Every channel at most once per run, through the Lambda handler, against moto and a local
webhook server: the publish ledger makes a retried or repeated invocation send nothing twice,
and a channel that failed is sent again alone.

The world: two tenants, ``stale`` (failing, owned by team-data) and ``ok`` (owned by
team-web), the central topic, an owner topic, a report bucket (which holds the ledger), a Slack
webhook URL in Secrets Manager, a Teams one in an SSM SecureString, and a verified SES sender.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
import time_machine

from backupwatch import PublishError
from handlers.daily_digest import lambda_handler

from .conftest import ACCOUNT, BUCKET, NOW, REGION, World, hours_ago
from .webhook_server import OK, Reply, WebhookServer
from .webhook_server import webhook_server_fixture as webhook_server_fixture

SetEnv = Callable[[dict[str, str]], None]
REPORTS = "acme-backupwatch-reports"
SENDER = "backupwatch@example.com"
EVENT = {"scheduled_time": "2026-11-27T07:00:00Z"}
CHANNELS = ["sns", "slack", "teams", "email", "owner-topic.team-data", "owner-email.team-data"]


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def stack(world: World, patch_env: SetEnv, webhook_server: WebhookServer, clock: object) -> Stack:
    return Stack(world, patch_env, webhook_server)


class Stack:
    """The deployed stack's resources in moto, and its environment."""

    def __init__(self, world: World, patch_env: SetEnv, server: WebhookServer) -> None:
        self.world = world
        self.server = server
        world.bucket()
        world.bucket(REPORTS)
        world.instance("db-stale", tenant="stale", tags={"backupwatch:owner": "team-data"})
        world.put("stale-backups/x.dump", hours_ago(30))
        world.automated_snapshot("db-stale", hours_ago(30))
        world.drop_snapshots("db-stale")
        world.automated_snapshot("db-stale", hours_ago(30))
        world.instance("db-ok", tenant="ok", tags={"backupwatch:owner": "team-web"})
        world.put("ok-backups/x.dump", hours_ago(1))
        self.topic = world.topic()
        self.owner_topic = world.topic("backupwatch-owners")
        secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name="backupwatch/slack", SecretString=server.slack_url
        )["ARN"]
        parameter = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/backupwatch/teams"
        boto3.client("ssm", region_name=REGION).put_parameter(
            Name="/backupwatch/teams", Value=server.teams_url, Type="SecureString"
        )
        boto3.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity=SENDER)
        self.env = {
            "BACKUPWATCH_SNS_TOPIC_ARN": self.topic,
            "BACKUPWATCH_S3_BUCKET": BUCKET,
            "BACKUPWATCH_REGIONS": REGION,
            "BACKUPWATCH_REPORT_BUCKET": REPORTS,
            "BACKUPWATCH_SLACK_WEBHOOK_SECRET": secret,
            "BACKUPWATCH_TEAMS_WEBHOOK_SECRET": parameter,
            "BACKUPWATCH_SES_SENDER": SENDER,
            "BACKUPWATCH_SES_RECIPIENTS": "dba@example.com",
            "BACKUPWATCH_OWNER_TOPIC_ARN": self.owner_topic,
            "BACKUPWATCH_OWNERS": "team-data=data@example.com;team-web=web@example.com",
        }
        patch_env(self.env)
        self.patch_env = patch_env

    def sent(self) -> dict[str, int]:
        """How many messages each channel has received so far."""
        mail = self.mail()
        return {
            "sns": len(self.world.published(self.topic)),
            "slack": len([r for r in self.server.requests if "/services/" in r.path]),
            "teams": len([r for r in self.server.requests if "workflows" in r.path]),
            "email": len([m for m in mail if "dba@example.com" in m.destinations]),
            "owner-topic.team-data": len(
                [
                    n
                    for n in self.world.published(self.owner_topic)
                    if n["attributes"].get("owner", {}).get("Value") == "team-data"
                ]
            ),
            "owner-email.team-data": len([m for m in mail if "data@example.com" in m.destinations]),
            "others": len(self.world.published(self.owner_topic))
            + len([m for m in mail if "web@example.com" in m.destinations])
            - len(
                [
                    n
                    for n in self.world.published(self.owner_topic)
                    if n["attributes"].get("owner", {}).get("Value") == "team-data"
                ]
            ),
        }

    def mail(self) -> list[Any]:
        from moto.ses.models import ses_backends

        return list(ses_backends[ACCOUNT][REGION].sent_messages)


ONCE_EACH = {**dict.fromkeys(CHANNELS, 1), "others": 0}


def test_two_invocations_with_the_same_event_send_one_message_per_channel(stack: Stack) -> None:
    first = lambda_handler(EVENT, None)
    second = lambda_handler(EVENT, None)

    assert stack.sent() == ONCE_EACH
    assert first["deliveries"] == dict.fromkeys(CHANNELS, "sent")
    assert second["deliveries"] == dict.fromkeys(CHANNELS, "already sent")
    assert first["message_id"] is not None
    assert second["message_id"] is None  # this invocation published nothing


def test_a_failure_between_channels_is_resumed_without_duplicates(stack: Stack) -> None:
    """Slack refuses the first post (final, not retried): the invocation fails after every
    other channel went out; the retry posts to Slack alone."""
    stack.server.script(Reply(404, "no_service"))

    with pytest.raises(PublishError, match=r"1 of 6 channel\(s\) failed: slack: .*404"):
        lambda_handler(EVENT, None)
    assert stack.sent() == {**ONCE_EACH, "slack": 1}  # the refused post was made
    result = lambda_handler(EVENT, None)

    assert result["deliveries"] == {
        **dict.fromkeys(CHANNELS, "already sent"),
        "slack": "sent",
    }
    assert stack.sent() == {**ONCE_EACH, "slack": 2}  # the refused one, then the good one
    slack = [r.json for r in stack.server.requests if "/services/" in r.path]
    assert slack[0] == slack[1]  # the same message, posted again


def test_the_central_digest_failing_still_tries_every_other_channel(
    stack: Stack, patch_env: SetEnv
) -> None:
    """A topic that does not exist: the SNS channel fails, the webhooks and mail go, and the
    retry (topic fixed) publishes the digest alone."""
    patch_env({"BACKUPWATCH_SNS_TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:gone"})
    with pytest.raises(PublishError, match="sns"):
        lambda_handler(EVENT, None)
    patch_env({"BACKUPWATCH_SNS_TOPIC_ARN": stack.topic})

    result = lambda_handler(EVENT, None)

    assert result["deliveries"]["sns"] == "sent"
    assert stack.sent() == ONCE_EACH


def test_a_retry_after_midnight_is_still_the_scheduled_run(
    stack: Stack, clock: time_machine.Traveller
) -> None:
    """The ledger is keyed by the schedule's time, not by when the retry runs: a 23:59 run
    retried at 00:01 the next day sends nothing twice."""
    late = {"scheduled_time": "2026-11-27T23:59:00Z"}
    clock.move_to(NOW.replace(hour=23, minute=59))
    lambda_handler(late, None)
    clock.move_to(NOW.replace(day=28, hour=0, minute=1))

    result = lambda_handler(late, None)

    assert result["deliveries"] == dict.fromkeys(CHANNELS, "already sent")
    assert stack.sent() == ONCE_EACH


def test_a_later_schedule_of_the_same_day_is_its_own_delivery(stack: Stack) -> None:
    lambda_handler(EVENT, None)
    lambda_handler({"scheduled_time": "2026-11-27T19:00:00Z"}, None)

    assert stack.sent() == {**dict.fromkeys(CHANNELS, 2), "others": 0}


def test_resend_sends_every_channel_again(stack: Stack) -> None:
    lambda_handler(EVENT, None)
    lambda_handler({**EVENT, "resend": True}, None)

    assert stack.sent() == {**dict.fromkeys(CHANNELS, 2), "others": 0}


def test_without_the_archive_there_is_no_ledger_and_a_repeat_sends_again(
    stack: Stack, patch_env: SetEnv
) -> None:
    """The careless variant: the ledger is what stops the second send. Without the archive
    (no bucket to keep it in), a repeated invocation duplicates every channel."""
    patch_env({"BACKUPWATCH_REPORT_BUCKET": ""})
    lambda_handler(EVENT, None)
    lambda_handler(EVENT, None)

    assert stack.sent() == {**dict.fromkeys(CHANNELS, 2), "others": 0}


def test_an_unusable_ledger_never_stops_the_digest(stack: Stack) -> None:
    """The report bucket disappears: the archive and the ledger fail, every channel still
    goes (not deduplicated: the log says so)."""
    s3 = stack.world.s3
    s3.delete_bucket(Bucket=REPORTS)

    result = lambda_handler(EVENT, None)

    assert result["deliveries"] == dict.fromkeys(CHANNELS, "sent")
    assert stack.sent() == ONCE_EACH


def test_a_dry_run_sends_nothing_anywhere(stack: Stack) -> None:
    result = lambda_handler({**EVENT, "dry_run": True}, None)

    assert result["deliveries"] == {}
    assert stack.sent() == {**dict.fromkeys(CHANNELS, 0), "others": 0}


def test_owner_notices_carry_only_their_own_tenants(stack: Stack) -> None:
    lambda_handler(EVENT, None)

    (notice,) = stack.world.published(stack.owner_topic)
    assert notice["attributes"]["owner"] == {"Type": "String", "Value": "team-data"}
    assert notice["subject"].startswith("[team-data] ")
    assert "stale [STALE]" in notice["message"]
    assert "db-ok" not in notice["message"]
    assert notice["protocols"] is None  # plain text: its attributes are delivered
    (mail,) = [m for m in stack.mail() if "data@example.com" in m.destinations]
    assert "db-ok" not in mail.raw_data


def test_an_owner_asking_for_an_all_clear_gets_one(stack: Stack, patch_env: SetEnv) -> None:
    patch_env({"BACKUPWATCH_OWNER_ALL_CLEAR": "team-web"})

    result = lambda_handler(EVENT, None)

    assert "owner-topic.team-web" in result["deliveries"]
    owners = [n["attributes"]["owner"]["Value"] for n in stack.world.published(stack.owner_topic)]
    assert sorted(owners) == ["team-data", "team-web"]


def test_notify_failures_on_a_good_day_holds_the_central_digest_everywhere(
    stack: Stack, patch_env: SetEnv
) -> None:
    stack.world.put("stale-backups/y.dump", hours_ago(1))
    stack.world.automated_snapshot("db-stale", hours_ago(1))
    patch_env({"BACKUPWATCH_NOTIFY": "failures"})

    result = lambda_handler(EVENT, None)

    assert result["ok"] is True
    assert result["deliveries"] == {}
    assert stack.sent() == {**dict.fromkeys(CHANNELS, 0), "others": 0}


def test_every_protocol_of_the_central_digest(stack: Stack) -> None:
    lambda_handler(EVENT, None)

    (digest,) = stack.world.published(stack.topic)
    protocols = digest["protocols"]
    assert protocols is not None
    assert digest["message"].startswith("backupwatch") or "STALE" in digest["message"]
    chat = json.loads(protocols["https"])
    assert (chat["version"], chat["source"]) == ("1.0", "custom")
    summary = json.loads(protocols["sqs"])
    assert (summary["schema"], summary["version"], summary["failing"]) == (
        "backupwatch.summary",
        1,
        1,
    )
    assert protocols["lambda"] == protocols["sqs"] == protocols["email-json"]


def test_the_slack_and_teams_urls_never_reach_the_logs(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    stack.server.script(Reply(404, "no_service"), OK)
    with pytest.raises(PublishError) as raised:
        lambda_handler(EVENT, None)

    for secret in (stack.server.slack_url, stack.server.teams_url):
        path = secret.split("/", 3)[-1]
        assert path not in caplog.text
        assert path not in str(raised.value)
