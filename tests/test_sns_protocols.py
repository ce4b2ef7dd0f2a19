"""One SNS publish, every protocol rendered right (``core.sns_message``, ``aws.publish``).

With ``MessageStructure="json"`` each subscription gets its own protocol's string: the email
the plain digest, Amazon Q Developer (``https``) its custom notification, programs (``sqs``,
``lambda``, ``email-json``) the machine summary, anything else ``default``. Checked twice:
on the rendering itself, and through moto's SNS, which picks each subscription's string as
SNS does (``Subscription._parse_message_structure``: the protocol's key, else ``default``).

What moto does per protocol (moto/sns/models.py, 5.x): ``sqs`` is delivered to the queue (raw,
or in the JSON envelope); ``https`` is POSTed with ``requests`` (patched here: nothing leaves
the process); ``lambda`` goes to the Lambda backend's ``send_sns_message`` (patched: invoking
needs docker); ``email``, ``email-json``, ``sms`` and ``firehose`` are picked and then dropped,
so ``deliveries`` records what each subscription was handed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto.awslambda.models import LambdaBackend
from moto.sns import models as sns_models
from moto.sns.models import sns_backends

from backupwatch.aws.publish import publish_digest, publish_sns_message
from backupwatch.aws.retry import Retrier
from backupwatch.core.changes import Changes, compare
from backupwatch.core.chat import CHAT_NOTIFICATION_MAX_BYTES
from backupwatch.core.digest import MESSAGE_MAX_BYTES, Digest, counts_line, render_digest
from backupwatch.core.errors import PublishError
from backupwatch.core.models import ArchivedReport, RegionError, Report, Status, TenantReport
from backupwatch.core.sns_message import (
    ATTRIBUTES_RESERVE_BYTES,
    DEFAULT_MAX_BYTES,
    SnsMessage,
    cut_line,
    fit_email,
    render_sns_message,
)
from backupwatch.core.summary_message import render_summary_message

from .conftest import ACCOUNT, NOW, REGION
from .test_chat_renderers import assert_chat_valid
from .test_digest import make_report, row

FAILING = [status for status in Status if status.failing]
PROTOCOLS = {"default", "email", "https", "sqs", "lambda", "email-json"}
REPORT_LINK = ArchivedReport(
    bucket="acme-corp-backupwatch-reports",
    key="backupwatch/reports/2026/11/27/070000Z.json",
    url="https://acme-corp-backupwatch-reports.s3.amazonaws.com/r.json?X-Amz-Signature="
    + "a" * 600,
)
PAGE_LINK = ArchivedReport(bucket="acme-corp-backupwatch-reports", key="backupwatch/status.html")
CHATBOT = "https://global.sns-api.chatbot.amazonaws.com"
LAMBDA_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:digest-reader"


# --- Reports ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """What a run hands the renderer."""

    report: Report
    changes: Changes
    digest: Digest

    def message(self, **kwargs: Any) -> SnsMessage:
        return render_sns_message(
            self.report,
            self.digest,
            changes=self.changes,
            full_report=REPORT_LINK,
            status_page=PAGE_LINK,
            **kwargs,
        )

    def summary(self) -> str:
        return render_summary_message(
            self.report,
            subject=self.digest.subject,
            changes=self.changes,
            full_report=REPORT_LINK,
            status_page=PAGE_LINK,
        )


def make_run(current: Report, previous: Report) -> Run:
    changes = compare(previous, current)
    digest = render_digest(current, full_report=REPORT_LINK, changes=changes, status_page=PAGE_LINK)
    return Run(current, changes, digest)


DEMO_ROWS: list[tuple[str, Status, str]] = [
    ("stark", Status.ERROR, "tag backupwatch:max-age-hours='daily' is not a positive number"),
    ("initech", Status.MISSING, "s3: no object of at least 1 B under s3://db/initech-backups/"),
    ("umbrella", Status.DISABLED, "rds: automated backups are off (BackupRetentionPeriod=0)"),
    ("wonka", Status.SUSPECT, "s3: wonka-2026-11-27.dump is 2.4 KiB, 2% of the median"),
    ("nakatomi", Status.SUSPECT, "s3: no '-- PostgreSQL database dump complete' at the end"),
    ("virtucon", Status.SUSPECT, "s3: first bytes are text 'pg_dump: error: connection…'"),
    ("gringotts", Status.SUSPECT, "s3: sha256 in gringotts.dump.sha256 is b94c10951fc5…"),
    ("globex", Status.STALE, "rds: newest automated snapshot 31 h old (window 24 h)"),
    ("massive-dynamic", Status.STALE, "copy: copy in eu-central-1 40 h old (window 24 h)"),
    ("hooli", Status.EMPTY, "s3: fresh objects are all smaller than 1 B"),
    ("pied-piper", Status.NONCOMPLIANT, "policy: retention 7 days, policy 14 days"),
    ("cyberdyne", Status.STOPPED, "rds: DB instance is stopped"),
    ("newco", Status.PENDING, "rds: new, first backup expected by 2026-11-28 06:00 UTC"),
    ("tyrell", Status.PAUSED, "rds: paused until 2026-12-02 00:00 UTC"),
    ("oscorp-reports", Status.SKIPPED, "rds: PostgreSQL read replica of 'db-oscorp'"),
    *((name, Status.OK, "fresh") for name in ("acme", "soylent", "wayne", "aperture", "cyber")),
]
ALREADY_FAILING = {"stark", "initech", "umbrella", "hooli", "pied-piper"}


@pytest.fixture(scope="module")
def demo() -> Run:
    """The README's demo fleet: 20 tenants, one in every status, 6 new failures since
    yesterday, one recovery, a new tenant, a runbook."""
    rows = [row(name, status, reason=reason) for name, status, reason in DEMO_ROWS]
    rows = [
        r.model_copy(update={"runbook": "https://wiki.example.com/runbooks/globex"})
        if r.tenant == "globex"
        else r
        for r in rows
    ]
    current = make_report(*rows)
    before = {name: Status.OK for name, *_ in DEMO_ROWS}
    before.update({name: status for name, status, _ in DEMO_ROWS if name in ALREADY_FAILING})
    before["soylent"] = Status.STALE
    previous = make_report(
        *(row(name, status) for name, status in before.items() if name != "newco"),
        generated_at=NOW - timedelta(days=1),
    )
    return make_run(current, previous)


NASTY = 'we "quote" \\back\\slash\ttab\x07bell 日本 🦄 <!channel>'


def huge_report(failing: int = 3_000) -> Report:
    """``failing`` tenants over every failing status, names with quotes, newlines and control
    characters, long reasons full of what JSON escapes; runbooks; scopes not checked."""
    rows: list[TenantReport] = []
    for i in range(failing):
        tenant = row(
            f't{i:05d} "{NASTY}"\nline two',
            FAILING[i % len(FAILING)],
            reason=f'line one\nline "two"\r\n{NASTY} ' + "Größe überschritten 日本語 " * 12,
            db=f"db-{i}",
        )
        if i % 7 == 0:
            tenant = tenant.model_copy(update={"runbook": f"https://wiki.example.com/rb/{i}"})
        rows.append(tenant)
    rows.append(row("fine", Status.OK))
    errors = tuple(
        RegionError(region=f"xx-scope-{i}", reason=f"AccessDenied\n{NASTY}") for i in range(20)
    )
    return make_report(*rows, region_errors=errors)


@pytest.fixture(scope="module")
def huge() -> Run:
    """The huge report, compared with a day when every tenant was OK: all of it is news."""
    current = huge_report()
    previous = make_report(
        *(r.model_copy(update={"status": Status.OK, "failing": False}) for r in current.tenants),
        generated_at=NOW - timedelta(days=1),
    )
    return make_run(current, previous)


@pytest.fixture(scope="module")
def huge_message(huge: Run) -> SnsMessage:
    return huge.message()


@pytest.fixture(scope="module")
def sixty_body() -> str:
    """The digest of 60 failing tenants (some with runbooks), for cuts at every room."""
    return render_digest(huge_report(60), full_report=REPORT_LINK).body


# --- What each protocol gets ------------------------------------------------------------------


def assert_email_is_the_digest(email: str, digest: Digest) -> None:
    """What an email subscriber reads: the plain digest, never a JSON object."""
    assert not email.lstrip().startswith("{"), "the email got JSON: MessageStructure missing?"
    assert email == digest.body


def assert_summary(text: str, run: Run) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(text)
    assert (document["schema"], document["version"]) == ("backupwatch.summary", 1)
    assert document["subject"] == run.digest.subject
    assert document["failing"] == run.report.summary.failing
    return document


def test_each_protocol_gets_its_rendering(demo: Run) -> None:
    """The demo fleet: every string whole, each the rendering its protocol expects."""
    message = demo.message()
    protocols = message.protocols
    assert set(protocols) == PROTOCOLS
    assert message.subject == demo.digest.subject
    assert (
        message.attributes
        == demo.digest.message_attributes
        == {"failing": {"DataType": "Number", "StringValue": "11"}}
    )
    assert message.email_cut_lines == 0
    assert_email_is_the_digest(protocols["email"], demo.digest)
    chat = json.loads(protocols["https"])
    assert_chat_valid(chat)
    assert chat["content"]["title"] == demo.digest.subject
    assert chat["metadata"]["threadId"] == "backupwatch-2026-11-27"
    assert protocols["sqs"] == protocols["lambda"] == protocols["email-json"] == demo.summary()
    summary = assert_summary(protocols["sqs"], demo)
    assert [t["tenant"] for t in summary["failing_tenants"][:2]] == ["stark", "initech"]
    assert summary["changes"] == {
        "new_failures": 6,
        "recovered": 1,
        "still_failing": 5,
        "gone": 0,
    }
    assert protocols["default"] == "\n".join(
        [
            demo.digest.subject,
            counts_line(demo.report),
            f"Full report: {REPORT_LINK.uri}",
            f"Status page: {PAGE_LINK.uri}",
        ]
    )
    assert message.size_bytes == len(message.message.encode()) + len("failing") + len(
        "Number"
    ) + len("11")


def test_the_default_is_short_and_never_a_presigned_url(demo: Run) -> None:
    """SMS, plain HTTP, Firehose...: the headline, the counts and where the rest is, a few
    hundred bytes; a presigned URL (600 bytes of signature here) would be most of it."""
    default = demo.message().protocols["default"]
    assert len(default.encode()) <= 500
    assert "X-Amz-Signature" not in default


def test_the_default_says_when_a_link_was_not_written(demo: Run) -> None:
    failed = PAGE_LINK.model_copy(update={"error": "AccessDenied"})
    message = render_sns_message(
        demo.report, demo.digest, full_report=REPORT_LINK, status_page=failed
    )
    assert message.protocols["default"].endswith(
        f"Status page: could not be written to {PAGE_LINK.uri}"
    )


def test_a_huge_report_fits_sns_and_every_protocol_still_reads_right(
    huge: Run, huge_message: SnsMessage
) -> None:
    """3,000 failing tenants whose names and reasons JSON must escape (quotes, backslashes,
    newlines, control characters), all of them news: the whole message with its attributes
    within SNS's 262,144 bytes; the email cut at a line, its head whole, its last line saying
    how many lines were cut and where the full report is."""
    message = huge_message
    attributes = sum(
        len(name) + len(value["DataType"]) + len(value["StringValue"])
        for name, value in message.attributes.items()
    )
    assert message.size_bytes == len(message.message.encode()) + attributes
    assert message.size_bytes <= MESSAGE_MAX_BYTES - ATTRIBUTES_RESERVE_BYTES
    assert message.size_bytes > MESSAGE_MAX_BYTES - ATTRIBUTES_RESERVE_BYTES - 2_000  # tight
    protocols = message.protocols
    assert set(protocols) == PROTOCOLS

    email, body = protocols["email"].split("\n"), huge.digest.body.split("\n")
    assert message.email_cut_lines > 0
    assert email[:-1] == body[: len(email) - 1]  # a start of the digest, cut at a line
    assert len(body) - (len(email) - 1) == message.email_cut_lines
    # Every tenant line is shown, or counted in the last line: those cut here and those the
    # digest had already left out (its own "... and N more" went with the cut).
    assert huge.digest.omitted > 0
    bullets = sum(1 for line in body if line.startswith("  - "))
    shown = sum(1 for line in email if line.startswith("  - "))
    missing = bullets - shown + huge.digest.omitted
    assert email[-1] == cut_line(message.email_cut_lines, REPORT_LINK, tenant_lines=missing)
    assert email[-1] == (
        f"... and {message.email_cut_lines} more lines, cut to fit one SNS message "
        f"({missing} tenant lines not shown in all); "
        f"the full report has everything: {REPORT_LINK.uri}"
    )
    assert email[2] == counts_line(huge.report)  # the head: never cut
    assert any(line.startswith("WHAT CHANGED since") for line in email[:12])
    assert email[-2].startswith("  - "), "a section title left with no tenant under it"

    assert_chat_valid(json.loads(protocols["https"]))
    assert len(protocols["https"]) <= CHAT_NOTIFICATION_MAX_BYTES
    summary = assert_summary(protocols["sqs"], huge)
    assert summary["omitted"] > 0
    assert protocols["sqs"] == protocols["lambda"] == protocols["email-json"]
    assert len(protocols["default"].encode()) <= DEFAULT_MAX_BYTES


def test_the_cut_line_says_where_the_rest_is() -> None:
    """The full report when it was written; else that there is none to look in."""
    failed = REPORT_LINK.model_copy(update={"error": "AccessDenied"})
    head = "... and 12 more lines, cut to fit one SNS message"
    assert cut_line(12, REPORT_LINK) == f"{head}; the full report has everything: {REPORT_LINK.uri}"
    assert cut_line(12, failed) == f"{head}; the full report could not be written to {failed.uri}."
    assert cut_line(12, None) == f"{head}; no full report was archived for this run."
    assert cut_line(12, None, tenant_lines=40) == (
        f"{head} (40 tenant lines not shown in all); no full report was archived for this run."
    )


@pytest.mark.parametrize("room", range(600, 12_000, 397))
def test_the_email_cut_keeps_runbooks_with_their_tenant(room: int, sixty_body: str) -> None:
    """Whatever the room: within it, a start of the digest, a runbook line never without its
    tenant line nor a tenant line without its runbook, no title without a tenant under it."""
    body = sixty_body
    email, cut = fit_email(body, room, REPORT_LINK)
    size = len(json.dumps(email, ensure_ascii=False).encode()) - 2
    assert size <= room
    lines, original = email.split("\n"), body.split("\n")
    assert cut > 0
    kept = lines[:-1]
    assert kept == original[: len(kept)]
    assert len(original) - len(kept) == cut
    assert not original[len(kept)].startswith("    runbook:")  # its tenant was not kept alone
    missing = sum(1 for line in original[len(kept) :] if line.startswith("  - "))
    assert lines[-1] == cut_line(cut, REPORT_LINK, tenant_lines=missing)
    head = next(i for i, line in enumerate(original) if line.startswith("  - ")) - 2
    assert len(kept) <= head or kept[-1].startswith(("  - ", "    runbook:", "... and "))


def test_a_budget_too_small_for_the_other_protocols_is_an_error(demo: Run) -> None:
    with pytest.raises(ValueError, match="cannot hold the message"):
        demo.message(max_bytes=5_000)


# --- Through SNS (moto) ---------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    protocol: str
    endpoint: str
    message: str
    subject: str | None


@pytest.fixture
def deliveries(aws: None, monkeypatch: pytest.MonkeyPatch) -> list[Delivery]:
    """What each subscription is handed, as moto picks it; HTTPS posts and Lambda invocations
    are recorded instead of made."""
    seen: list[Delivery] = []
    original = sns_models.Subscription.publish

    def publish(self: Any, message: str, message_id: str, **kwargs: Any) -> None:
        matcher = self._filter_policy_matcher
        if matcher is None or matcher.matches(kwargs.get("message_attributes"), message):
            text = (
                self._parse_message_structure(message, self.protocol)
                if kwargs.get("message_structure") == "json"
                else message
            )
            seen.append(Delivery(self.protocol, self.endpoint, text, kwargs.get("subject")))
        original(self, message, message_id, **kwargs)

    def post(url: str, **kwargs: Any) -> None:
        posted.append((url, kwargs["json"]))

    def send_sns_message(
        _self: Any, function_name: str, message: str, subject: str | None = None, **_: Any
    ) -> None:
        invoked.append((function_name, message, subject))

    posted.clear()
    invoked.clear()
    monkeypatch.setattr(sns_models.Subscription, "publish", publish)
    monkeypatch.setattr(sns_models.requests, "post", post)
    monkeypatch.setattr(LambdaBackend, "send_sns_message", send_sns_message)
    return seen


posted: list[tuple[str, dict[str, Any]]] = []
"""What moto POSTed to HTTPS subscribers: (url, the SNS notification)."""
invoked: list[tuple[str, str, str | None]] = []
"""What moto handed Lambda subscribers: (function, message, subject)."""


@dataclass
class Topic:
    sns: Any
    sqs: Any
    arn: str
    queues: dict[str, str]

    def received(self, queue: str) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=self.queues[queue],
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    def queue(self, name: str, *, raw: bool, **attributes: str) -> None:
        fifo = {"FifoQueue": "true"} if name.endswith(".fifo") else {}
        url = self.sqs.create_queue(QueueName=name, Attributes=fifo)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.queues[name] = url
        self.subscribe("sqs", arn, RawMessageDelivery=str(raw).lower(), **attributes)

    def subscribe(self, protocol: str, endpoint: str, **attributes: str) -> None:
        self.sns.subscribe(
            TopicArn=self.arn, Protocol=protocol, Endpoint=endpoint, Attributes=attributes
        )


def make_topic(name: str = "backup-digest") -> Topic:
    session = boto3.Session(region_name=REGION)
    sns, sqs = session.client("sns"), session.client("sqs")
    fifo = {"FifoTopic": "true"} if name.endswith(".fifo") else {}
    arn = sns.create_topic(Name=name, Attributes=fifo)["TopicArn"]
    return Topic(sns, sqs, arn, {})


@pytest.fixture
def topic(deliveries: list[Delivery]) -> Topic:
    """A topic with a subscriber of every kind a digest topic has."""
    topic = make_topic()
    topic.queue("enveloped", raw=False)
    topic.queue("raw", raw=True)
    topic.subscribe("email", "oncall@example.com")
    topic.subscribe("email-json", "tickets@example.com")
    topic.subscribe("https", CHATBOT)
    topic.subscribe("lambda", LAMBDA_ARN)
    topic.subscribe("sms", "+15555550100")
    topic.subscribe("firehose", f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/digests")
    return topic


def handed(deliveries: list[Delivery], protocol: str) -> Delivery:
    (delivery,) = [d for d in deliveries if d.protocol == protocol]
    return delivery


def test_every_subscriber_receives_its_own_string(
    topic: Topic, deliveries: list[Delivery], retrier: Retrier, demo: Run
) -> None:
    """One publish: the email the digest, the queues and the Lambda the summary (raw: exactly
    it; enveloped: as the envelope's Message), the chat endpoint its notification, SMS and
    Firehose the default."""
    message = demo.message()
    message_id = publish_sns_message(
        topic.sns, topic.arn, message, retrier=retrier, run_key="2026-11-27|123456789012"
    )
    summary = demo.summary()

    (raw,) = topic.received("raw")
    assert raw["Body"] == summary
    (enveloped,) = topic.received("enveloped")
    envelope = json.loads(enveloped["Body"])
    assert (envelope["Type"], envelope["MessageId"]) == ("Notification", message_id)
    assert envelope["Message"] == summary
    assert envelope["Subject"] == demo.digest.subject

    email = handed(deliveries, "email")
    assert_email_is_the_digest(email.message, demo.digest)
    assert email.subject == demo.digest.subject
    assert handed(deliveries, "email-json").message == summary

    ((url, notification),) = posted
    assert url == CHATBOT
    chat = json.loads(notification["Message"])
    assert_chat_valid(chat)
    assert chat["content"]["title"] == demo.digest.subject
    assert handed(deliveries, "https").message == notification["Message"]

    ((function, event_message, subject),) = invoked
    assert (function, event_message, subject) == ("digest-reader", summary, demo.digest.subject)

    default = message.protocols["default"]
    assert handed(deliveries, "sms").message == default
    assert handed(deliveries, "firehose").message == default

    ((_, published, published_subject, attributes, _),) = (
        sns_backends[ACCOUNT][REGION].topics[topic.arn].sent_notifications
    )
    assert (published, published_subject) == (message.message, message.subject)
    assert attributes == {"failing": {"Type": "Number", "Value": "11"}}


def test_without_message_structure_the_email_would_be_json(
    topic: Topic, deliveries: list[Delivery], demo: Run
) -> None:
    """The careless publish (the per-protocol JSON without ``MessageStructure="json"``)
    mails the raw JSON object to every human: the assertion above catches it."""
    message = demo.message()
    topic.sns.publish(TopicArn=topic.arn, Subject=message.subject, Message=message.message)
    email = handed(deliveries, "email").message
    assert email == message.message
    with pytest.raises(AssertionError, match="MessageStructure missing"):
        assert_email_is_the_digest(email, demo.digest)


def test_the_plain_digest_still_goes_to_everyone(
    topic: Topic, deliveries: list[Delivery], retrier: Retrier, demo: Run
) -> None:
    """``publish_digest`` (the ``text`` format) is unchanged: the same text for all."""
    publish_digest(topic.sns, topic.arn, demo.digest, retrier=retrier, run_key="k")
    assert {d.message for d in deliveries} == {demo.digest.body}
    assert topic.received("raw")[0]["Body"] == demo.digest.body


def test_a_huge_message_goes_through(
    topic: Topic, deliveries: list[Delivery], retrier: Retrier, huge: Run, huge_message: SnsMessage
) -> None:
    """The 3,000-tenant message is accepted, and each subscriber gets a string it can use."""
    message = huge_message
    publish_sns_message(topic.sns, topic.arn, message, retrier=retrier, run_key="k")
    assert topic.received("raw")[0]["Body"] == huge.summary()
    email = handed(deliveries, "email").message
    assert email == message.protocols["email"]
    assert email.startswith(huge.digest.body.split("\n", 1)[0])
    assert_chat_valid(json.loads(posted[0][1]["Message"]))


def test_a_fifo_topic_gets_one_message_per_run(
    deliveries: list[Delivery], retrier: Retrier, demo: Run
) -> None:
    """FIFO: group ``backupwatch``, deduplication by run: a repeated invocation of the same
    run is not delivered twice; an owner's notice (extra attributes) is not a repeat."""
    topic = make_topic("backup-digest.fifo")
    topic.queue("raw.fifo", raw=True)
    message = demo.message()
    for _ in range(2):
        publish_sns_message(topic.sns, topic.arn, message, retrier=retrier, run_key="2026-11-27")
    publish_sns_message(
        topic.sns,
        topic.arn,
        message,
        retrier=retrier,
        run_key="2026-11-27",
        attributes_extra={"owner": {"DataType": "String", "StringValue": "team-a"}},
    )
    received = topic.received("raw.fifo")
    assert [m["Body"] for m in received] == [demo.summary()] * 2
    assert {m["Attributes"]["MessageGroupId"] for m in received} == {"backupwatch"}
    dedup = [m["Attributes"]["MessageDeduplicationId"] for m in received]
    assert len(set(dedup)) == 2
    assert all(re.fullmatch(r"[0-9a-f]{64}", d) for d in dedup)


def test_extra_attributes_reach_filter_policies(
    topic: Topic, deliveries: list[Delivery], retrier: Retrier, demo: Run
) -> None:
    """An owner's notice carries ``owner`` beside ``failing``: a subscription filtering on it
    gets that notice and nothing else. (moto applies the filter to the published attributes;
    AWS documents that with a JSON message structure attributes are not *delivered*, so a
    subscriber must read the body, not the attributes.)"""
    topic.queue("team-a", raw=True, FilterPolicy=json.dumps({"owner": ["team-a"]}))
    message = demo.message()
    publish_sns_message(topic.sns, topic.arn, message, retrier=retrier, run_key="d")
    owner = {"owner": {"DataType": "String", "StringValue": "team-a"}}
    publish_sns_message(
        topic.sns, topic.arn, message, retrier=retrier, run_key="d|a", attributes_extra=owner
    )
    assert [m["Body"] for m in topic.received("team-a")] == [demo.summary()]
    (*_, (_, _, _, attributes, _)) = (
        sns_backends[ACCOUNT][REGION].topics[topic.arn].sent_notifications
    )
    assert attributes == {
        "failing": {"Type": "Number", "Value": "11"},
        "owner": {"Type": "String", "Value": "team-a"},
    }


def test_extra_attributes_may_not_replace_the_messages_own(
    topic: Topic, retrier: Retrier, demo: Run
) -> None:
    fake = {"failing": {"DataType": "Number", "StringValue": "0"}}
    with pytest.raises(ValueError, match="failing"):
        publish_sns_message(
            topic.sns,
            topic.arn,
            demo.message(),
            retrier=retrier,
            run_key="k",
            attributes_extra=fake,
        )
    assert sns_backends[ACCOUNT][REGION].topics[topic.arn].sent_notifications == []


def test_extra_attributes_that_would_not_fit_are_refused_before_sending(
    topic: Topic, retrier: Retrier, huge_message: SnsMessage
) -> None:
    """The message keeps ``ATTRIBUTES_RESERVE_BYTES`` free; more than that is a PublishError
    from us, not an InvalidParameter from SNS after retries."""
    message = huge_message
    room = MESSAGE_MAX_BYTES - message.size_bytes - len("owner") - len("String")
    assert room >= ATTRIBUTES_RESERVE_BYTES - len("owner") - len("String")
    big = {"owner": {"DataType": "String", "StringValue": "x" * (room + 1)}}
    with pytest.raises(PublishError, match="over SNS's 262144"):
        publish_sns_message(
            topic.sns, topic.arn, message, retrier=retrier, run_key="k", attributes_extra=big
        )
    assert sns_backends[ACCOUNT][REGION].topics[topic.arn].sent_notifications == []


def test_a_missing_topic_is_a_publish_error(
    deliveries: list[Delivery], retrier: Retrier, demo: Run
) -> None:
    sns = boto3.Session(region_name=REGION).client("sns")
    missing = f"arn:aws:sns:{REGION}:{ACCOUNT}:nope"
    with pytest.raises(PublishError, match=r"could not publish the digest to .*nope"):
        publish_sns_message(sns, missing, demo.message(), retrier=retrier, run_key="k")


@pytest.fixture(autouse=True)
def _nothing_leaks() -> Iterator[None]:
    yield
    posted.clear()
    invoked.clear()
