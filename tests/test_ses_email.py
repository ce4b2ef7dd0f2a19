"""The digest email through SES: the message (pure) and its sending (moto, Stubber, fakes).

What arrives is read from moto's SES backend (``ses_backends[account][region].sent_messages``:
moto's sesv2 ``SendEmail`` with raw content goes through v1's ``send_raw_email``, which keeps
the raw message as text) and parsed with the standard library, as a mail client would: the
expectations come from the digest and the HTML email rendered here, never from the message.

A moto quirk to know: moto adds the addresses of the raw message's ``To``/``Cc``/``Bcc``
headers to ``Destination`` before it checks SES's 50-recipient limit, so in moto a message
whose ``To`` header lists its 26 to 50 recipients is refused ("Too many recipients.") although
SES takes ``Destination`` as the envelope. The tests here send to at most 25 named recipients,
or to more in batches, whose ``To`` is an empty group.
"""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.stub import Stubber
from moto.ses.models import ses_backends

import backupwatch.aws.ses_email as ses_email
from backupwatch.aws.retry import Retrier
from backupwatch.aws.ses_email import MESSAGE_ID_SEPARATOR, send_email
from backupwatch.core.changes import compare
from backupwatch.core.digest import render_digest
from backupwatch.core.email_message import (
    MAX_LINE_BYTES,
    MAX_MESSAGE_BYTES_V1,
    MAX_RECIPIENTS_PER_MESSAGE,
    RUN_HEADER,
    UNDISCLOSED_RECIPIENTS,
    batches,
    build_email,
    validate_address,
)
from backupwatch.core.errors import PublishError
from backupwatch.core.html_email import MAX_BYTES, render_html_email
from backupwatch.core.models import Report, Status

from .conftest import ACCOUNT, REGION, RecordingSleep
from .test_html_email import huge
from .test_status_page import report, row

SENDER = "Backup Ops <ops@example.com>"
TEAM = ["alice@example.com", "bob@example.org"]
SEED = "2026-11-27/all"
ZURICH = "zürich-db"
UNICORN = "🦄-unicorn"
HOSTILE = "<script>alert(1)</script>"


# --- helpers ------------------------------------------------------------------------------------


def ses_client() -> Any:
    """An SES v2 client as backupwatch builds them: botocore makes one attempt, the Retrier
    owns retries."""
    return boto3.client(
        "sesv2", region_name=REGION, config=Config(retries={"total_max_attempts": 1})
    )


def sent() -> list[Any]:
    """What moto's SES accepted, oldest first (``RawMessage``: source, destinations, raw_data)."""
    return list(ses_backends[ACCOUNT][REGION].sent_messages)


def parse(raw: bytes | str) -> EmailMessage:
    data = raw.encode("ascii") if isinstance(raw, str) else raw
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def two_parts(message: EmailMessage) -> tuple[EmailMessage, EmailMessage]:
    """The text and the HTML part of a multipart/alternative message, and nothing else."""
    parts = list(message.iter_parts())
    assert len(parts) == 2
    plain, rich = parts
    assert isinstance(plain, EmailMessage)
    assert isinstance(rich, EmailMessage)
    return plain, rich


def as_sent(text: str) -> str:
    """``text`` as a MIME text part carries it: lines end with a line break, the last too."""
    return text if text.endswith("\n") else text + "\n"


def decoded(part: EmailMessage) -> str:
    """A part's content as the reader gets it (CRLF, MIME's canonical line end, as LF)."""
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def the_week() -> tuple[Report, list[Report], Report]:
    """Today's report with a non-ASCII and an emoji tenant and a hostile reason, its history
    and the previous report (for the change sections)."""
    yesterday = report(1, row(ZURICH), row(UNICORN), row("acme"), row("initech"))
    today = report(
        0,
        row(ZURICH, Status.STALE, reason=f"{ZURICH}: newest automated snapshot 31 h old"),
        row(UNICORN, Status.MISSING, reason="s3: no object under 🦄-unicorn-backups/"),
        row("acme"),
        row("initech", Status.ERROR, reason=f"tag backupwatch:owner={HOSTILE}"),
    )
    return today, [report(2, row(ZURICH), row("acme")), yesterday], yesterday


def digest_parts(today: Report, history: list[Report], previous: Report) -> tuple[str, str, str]:
    """The subject (plus the tenants' names), the text and the HTML of today's digest."""
    changes = compare(previous, today)
    digest = render_digest(today, changes=changes)
    html = render_html_email(today, history=history, changes=changes)
    return f"{digest.subject} ({ZURICH}, {UNICORN})", digest.body, html


@pytest.fixture
def ses(aws: None) -> Any:
    """moto's SES with the sender's address verified."""
    client = ses_client()
    client.create_email_identity(EmailIdentity="ops@example.com")
    return client


class FakeSes:
    """A ``send_email`` that answers with ``outcomes`` in turn: a message id, or an error."""

    def __init__(self, *outcomes: str | BaseException) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[dict[str, Any]] = []

    def send_email(self, **request: Any) -> dict[str, str]:
        self.calls.append(request)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return {"MessageId": outcome}


def client_error(code: str, status: int = 400, message: str = "injected") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "SendEmail",
    )


ENDPOINT = f"https://email.{REGION}.amazonaws.com/v2/email/outbound-emails"


# --- the message, end to end through moto ---------------------------------------------------


def test_the_digest_arrives_as_text_and_html(ses: Any, retrier: Retrier) -> None:
    """One multipart/alternative message: the digest text as text/plain, the HTML email as
    text/html (in that order: clients show the last part they can), the subject with
    "Zürich" and an emoji decoded as written, the run's header, no script tag, 7-bit, no
    line over 998 bytes, sent from the sender to the team."""
    subject, text, html = digest_parts(*the_week())
    for name in (ZURICH, UNICORN):  # the test means something
        assert name in text
        assert name in html
    raw = build_email(
        subject=subject,
        sender=SENDER,
        recipients=TEAM,
        text=text,
        html=html,
        message_id_seed=SEED,
    )
    message_id = send_email(ses, raw, sender=SENDER, recipients=TEAM, retrier=retrier)

    [accepted] = sent()
    assert accepted.id == message_id
    assert accepted.source == SENDER
    assert accepted.destinations[: len(TEAM)] == TEAM  # moto then appends the To header's
    arrived = accepted.raw_data.encode("ascii")  # 7-bit: SES takes no 8bit part
    assert arrived == raw
    assert max(len(line) for line in arrived.split(b"\r\n")) <= MAX_LINE_BYTES

    message = parse(arrived)
    assert message.get_content_type() == "multipart/alternative"
    assert message["Subject"] == subject
    assert message["From"] == SENDER
    assert [a for _, a in getaddresses([str(message["To"])])] == TEAM
    assert message[RUN_HEADER] == SEED
    assert message["Message-ID"] is None  # SES sets it
    assert message["Date"] is None  # and this
    assert message["MIME-Version"] == "1.0"
    plain, rich = two_parts(message)
    assert plain.get_content_type() == "text/plain"
    assert rich.get_content_type() == "text/html"
    assert plain.get_content_charset() == rich.get_content_charset() == "utf-8"
    assert decoded(plain) == as_sent(text)
    assert decoded(rich) == as_sent(html)
    assert "&lt;script&gt;" in decoded(rich)  # the hostile reason is there, escaped
    assert not re.search(r"<\s*script", decoded(rich), re.IGNORECASE)


def test_long_lines_are_encoded_under_998_bytes(ses: Any, retrier: Retrier) -> None:
    """A 5,000-character line of HTML and a 3,000-character line of text (non-ASCII) arrive
    whole, and no line of the message is over 998 bytes."""
    html = "<!DOCTYPE html><html><body><p>" + "Zürich 🦄 " * 500 + "</p></body></html>"
    text = "x" * 3000 + "\n" + "ü" * 1500
    raw = build_email(subject="s", sender=SENDER, recipients=TEAM, text=text, html=html)
    send_email(ses, raw, sender=SENDER, recipients=TEAM, retrier=retrier)
    arrived = sent()[0].raw_data.encode("ascii")
    assert max(len(line) for line in arrived.split(b"\r\n")) <= MAX_LINE_BYTES
    plain, rich = two_parts(parse(arrived))
    assert decoded(plain) == as_sent(text)
    assert decoded(rich) == as_sent(html)


def test_the_digest_parts_are_quoted_printable_and_ascii_text_is_as_it_is() -> None:
    """The library picks the shorter 7-bit encoding: quoted-printable for the digest's text
    and HTML (mostly ASCII, long lines); an ASCII text of short lines goes as it is, readable
    in the raw message."""
    subject, text, html = digest_parts(*the_week())
    raw = build_email(subject=subject, sender=SENDER, recipients=TEAM, text=text, html=html)
    encodings = [part["Content-Transfer-Encoding"] for part in two_parts(parse(raw))]
    assert encodings == ["quoted-printable", "quoted-printable"]
    raw = build_email(subject="s", sender=SENDER, recipients=TEAM, text="all OK\n", html="<p>")
    plain, _ = two_parts(parse(raw))
    assert plain["Content-Transfer-Encoding"] == "7bit"
    assert b"\r\nall OK\r\n" in raw


def test_short_non_ascii_lines_are_still_encoded() -> None:
    """SES wants non-ASCII content encoded: a short line of "Zürich 🦄" (which ``email``'s
    default policy would send as ``8bit``) is quoted-printable or base64, the message ASCII."""
    raw = build_email(subject="s", sender=SENDER, recipients=TEAM, text="Zürich 🦄 ok\n", html="ü")
    assert raw.isascii()
    plain, rich = two_parts(parse(raw))
    assert plain["Content-Transfer-Encoding"] in ("quoted-printable", "base64")
    assert decoded(plain) == "Zürich 🦄 ok\n"
    assert decoded(rich) == "ü\n"


def test_the_same_arguments_give_the_same_bytes() -> None:
    """No date, no random boundary: a rerun builds the very same message."""
    subject, text, html = digest_parts(*the_week())
    one = build_email(subject=subject, sender=SENDER, recipients=TEAM, text=text, html=html)
    two = build_email(subject=subject, sender=SENDER, recipients=TEAM, text=text, html=html)
    assert one == two


def test_a_text_line_like_the_boundary_does_not_split_the_message() -> None:
    """A 7-bit text part carries its lines as they are: one that looks like a MIME boundary
    (a hostile tenant name) must not cut the message, whatever boundary is chosen."""
    probe = build_email(subject="s", sender=SENDER, recipients=TEAM, text="a\n", html="<p>")
    boundary = parse(probe).get_boundary()
    assert boundary is not None
    text = f"a\n--{boundary}\n--{boundary}--\n"
    raw = build_email(subject="s", sender=SENDER, recipients=TEAM, text=text, html="<p>")
    message = parse(raw)
    assert message.get_boundary() not in text
    plain, rich = two_parts(message)
    assert decoded(plain) == text
    assert decoded(rich) == "<p>\n"


def test_the_largest_digest_email_is_far_under_the_ses_limits() -> None:
    """The HTML capped at ``html_email.MAX_BYTES`` and the text near SNS's 256 KiB (1,000
    failing tenants with long names and reasons): the message stays under 1 MB, a tenth of
    SES v1's 10 MB, so no digest can hit the size limit."""
    today, history, previous = huge(1_000, 14)
    changes = compare(previous, today)
    digest = render_digest(today, changes=changes)
    html = render_html_email(today, history=history, changes=changes)
    assert len(html.encode()) > MAX_BYTES * 0.8  # the test means something
    assert len(digest.body.encode()) > 200_000
    raw = build_email(
        subject=digest.subject, sender=SENDER, recipients=TEAM, text=digest.body, html=html
    )
    assert len(raw) < 1_000_000 < MAX_MESSAGE_BYTES_V1
    assert max(len(line) for line in raw.split(b"\r\n")) <= MAX_LINE_BYTES


# --- headers: nothing can inject one ---------------------------------------------------------


def test_a_subject_with_line_breaks_stays_one_header() -> None:
    """CR/LF in the subject become spaces: no ``Bcc`` header appears, the words remain."""
    raw = build_email(
        subject="failing\r\nBcc: evil@x.com\n\tmore",
        sender=SENDER,
        recipients=TEAM,
        text="t",
        html="<p>",
    )
    message = parse(raw)
    assert message["Bcc"] is None
    assert message["Subject"] == "failing Bcc: evil@x.com more"


@pytest.mark.parametrize(
    "headers",
    [
        {"Bcc": "evil@x.com"},
        {"bcc": "evil@x.com"},
        {"Content-Type": "text/plain"},
        {"From": "evil@x.com"},
        {RUN_HEADER: "forged"},
        {"X-Note": "fine\r\nBcc: evil@x.com"},
        {"X-Note": "fine\nBcc: evil@x.com"},
        {"X Note": "a space in the name"},
        {"X-Note:": "a colon in the name"},
        {"X-Note": "x" * 201},
    ],
)
def test_extra_headers_cannot_forge_or_inject(headers: dict[str, str]) -> None:
    """Extra headers are one short line each and never one build_email or SES sets."""
    with pytest.raises(ValueError, match="header"):
        build_email(
            subject="s", sender=SENDER, recipients=TEAM, text="t", html="h", headers=headers
        )


def test_extra_headers_are_added() -> None:
    raw = build_email(
        subject="s",
        sender=SENDER,
        recipients=TEAM,
        text="t",
        html="h",
        headers={"X-Backupwatch-Failing": "3", "Auto-Submitted": "auto-generated"},
    )
    message = parse(raw)
    assert message["X-Backupwatch-Failing"] == "3"
    assert message["Auto-Submitted"] == "auto-generated"


def test_a_seed_with_a_line_break_is_refused() -> None:
    with pytest.raises(ValueError, match="control character"):
        build_email(
            subject="s",
            sender=SENDER,
            recipients=TEAM,
            text="t",
            html="h",
            message_id_seed="run\r\nBcc: evil@x.com",
        )


# --- addresses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ops@example.com", "ops@example.com"),
        ("  ops@example.com \t", "ops@example.com"),
        ("Backup Ops <ops@example.com>", "Backup Ops <ops@example.com>"),
        ("Backup   Ops<ops@example.com>", "Backup Ops <ops@example.com>"),
        ("<ops@example.com>", "ops@example.com"),
        ("J. R. Ops <ops@example.com>", '"J. R. Ops" <ops@example.com>'),
        ("Zürich Ops <ops@example.ch>", "=?utf-8?q?Z=C3=BCrich_Ops?= <ops@example.ch>"),
        ("first.last+backups@sub.example.co.uk", "first.last+backups@sub.example.co.uk"),
        ("ops@xn--bcher-kva.example", "ops@xn--bcher-kva.example"),
    ],
)
def test_valid_addresses_in_canonical_form(value: str, expected: str) -> None:
    """One address, plain or with a display name; a non-ASCII name as an encoded word (what
    SES asks for in ``FromEmailAddress``); the result is ASCII and validates to itself."""
    assert validate_address(value) == expected
    assert expected.isascii()
    assert validate_address(expected) == expected  # settings may hold the canonical form


@pytest.mark.parametrize(
    "value",
    [
        "a@x.com\nBcc: evil@x.com",
        "a@x.com\r\nBcc: evil@x.com",
        "a@x.com\rBcc: evil@x.com",
        "Name\n <a@x.com>",
        "a@x.com\x00",
        "a@x.com, b@x.com",
        "a@x.com; b@x.com",
        "Evil, Inc <a@x.com>",
        'Evil "Inc" <a@x.com>',
        "Evil (Inc) <a@x.com>",
        "Evil: <a@x.com>",
        "<a@x.com> <b@x.com>",
        "a@x.com>",
        "",
        "   ",
        "not-an-address",
        "@x.com",
        "a@",
        "a@localhost",
        "a@-x.com",
        "a..b@x.com",
        '"quoted"@x.com',
        "ü@x.com",
        "a@bücher.de",
        "a" * 65 + "@x.com",
        "a@" + "b" * 250 + ".com",
    ],
)
def test_invalid_addresses_are_refused(value: str) -> None:
    """Not one plain address: refused with ``ValueError``, never split into headers."""
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        validate_address(value)


def test_build_email_refuses_an_injected_recipient() -> None:
    with pytest.raises(ValueError, match="control characters"):
        build_email(
            subject="s", sender=SENDER, recipients=["a@x.com\nBcc: evil@x.com"], text="t", html="h"
        )
    with pytest.raises(ValueError, match="at least one recipient"):
        build_email(subject="s", sender=SENDER, recipients=[], text="t", html="h")


def test_send_email_refuses_an_injected_address_before_any_call(retrier: Retrier) -> None:
    fake = FakeSes()
    raw = build_email(subject="s", sender=SENDER, recipients=TEAM, text="t", html="h")
    with pytest.raises(PublishError, match="control characters"):
        send_email(fake, raw, sender=SENDER, recipients=["a@x.com\nBcc: e@x.com"], retrier=retrier)
    with pytest.raises(PublishError, match="no recipients"):
        send_email(fake, raw, sender=SENDER, recipients=[], retrier=retrier)
    assert fake.calls == []


# --- recipients in batches of 50 ------------------------------------------------------------


def test_120_recipients_go_in_three_messages_of_at_most_50(aws: None, retrier: Retrier) -> None:
    """One message per 50 recipients (50, 50, 20), each recipient in exactly one, in order;
    the ``To`` header names nobody (an empty group), so nobody sees the 119 others and the
    header never counts against a message's 50; the ids come back in order, comma-joined."""
    client = ses_client()
    client.create_email_identity(EmailIdentity="example.com")  # a verified domain
    people = [f"person{n:03}@example.com" for n in range(120)]
    raw = build_email(subject="s", sender=SENDER, recipients=people, text="t", html="<p>")
    assert parse(raw)["To"] == UNDISCLOSED_RECIPIENTS

    ids = send_email(client, raw, sender=SENDER, recipients=people, retrier=retrier)

    messages = sent()
    assert [len(m.destinations) for m in messages] == [50, 50, 20]
    assert [a for m in messages for a in m.destinations] == people
    assert ids.split(MESSAGE_ID_SEPARATOR) == [m.id for m in messages]
    assert all(m.raw_data.encode("ascii") == raw for m in messages)


def test_a_recipient_listed_twice_gets_one_copy(ses: Any, retrier: Retrier) -> None:
    team = [
        "alice@example.com",
        "Alice <ALICE@example.com>",
        "bob@example.org",
        "alice@example.com",
    ]
    raw = build_email(subject="s", sender=SENDER, recipients=team, text="t", html="h")
    assert [a for _, a in getaddresses([str(parse(raw)["To"])])] == TEAM
    send_email(ses, raw, sender=SENDER, recipients=team, retrier=retrier)
    [message] = sent()
    assert message.destinations[:2] == TEAM


def test_batches() -> None:
    people = [f"p{n}@example.com" for n in range(101)]
    assert [len(b) for b in batches(people)] == [50, 50, 1]
    assert [len(b) for b in batches(people[:50])] == [MAX_RECIPIENTS_PER_MESSAGE]
    assert batches([]) == []


def test_a_batch_that_fails_after_others_were_sent_says_which(
    retrier: Retrier, sleep: RecordingSleep
) -> None:
    """Messages 1 and 2 went out; the third is rejected: the error says so, with the ids of
    the two sent, and neither is sent again."""
    people = [f"person{n:03}@example.com" for n in range(120)]
    raw = build_email(subject="s", sender=SENDER, recipients=people, text="t", html="h")
    fake = FakeSes(
        "id-1", "id-2", client_error("MessageRejected", message="Email address is not verified.")
    )
    with pytest.raises(PublishError) as caught:
        send_email(fake, raw, sender=SENDER, recipients=people, retrier=retrier)
    text = str(caught.value)
    assert "to 120 recipient(s) (message 3 of 3)" in text
    assert "MessageRejected" in text
    assert "already sent to 100 of 120 recipient(s) as message(s) id-1,id-2" in text
    assert len(fake.calls) == 3
    assert sleep.waits == []


# --- failures: clear errors, and resending only when SES surely has nothing ----------------


def test_an_unverified_sender_is_a_publish_error_naming_message_rejected(
    aws: None, retrier: Retrier, sleep: RecordingSleep
) -> None:
    """In the SES sandbox an unverified sender is refused with ``MessageRejected``: a
    ``PublishError`` naming the sender, the recipient count and the code, after one attempt;
    nothing was sent."""
    raw = build_email(subject="s", sender=SENDER, recipients=TEAM, text="t", html="h")
    with pytest.raises(PublishError) as caught:
        send_email(ses_client(), raw, sender=SENDER, recipients=TEAM, retrier=retrier)
    text = str(caught.value)
    assert "from Backup Ops <ops@example.com> to 2 recipient(s)" in text
    assert "MessageRejected on ses:SendEmail" in text
    assert "verified SES identity" in text
    assert "\n" not in text
    assert sent() == []
    assert sleep.waits == []


def test_a_throttled_send_is_sent_again(
    fake_env: None, retrier: Retrier, sleep: RecordingSleep
) -> None:
    """SES v2's throttle (429 ``TooManyRequestsException``, "Maximum sending rate exceeded")
    means SES has nothing: the same request is sent again after a backoff and succeeds.
    Stubbed on a real client, so the request is checked against botocore's model too."""
    client = ses_client()
    raw = build_email(subject="s", sender=SENDER, recipients=TEAM, text="t", html="h")
    request = {
        "FromEmailAddress": SENDER,
        "Destination": {"ToAddresses": TEAM},
        "Content": {"Raw": {"Data": raw}},
        "ConfigurationSetName": "digest",
    }
    with Stubber(client) as stub:
        stub.add_client_error(
            "send_email",
            service_error_code="TooManyRequestsException",
            service_message="Maximum sending rate exceeded.",
            http_status_code=429,
            expected_params=request,
        )
        stub.add_response("send_email", {"MessageId": "m-1"}, expected_params=request)
        message_id = send_email(
            client, raw, sender=SENDER, recipients=TEAM, retrier=retrier, configuration_set="digest"
        )
        stub.assert_no_pending_responses()
    assert message_id == "m-1"
    assert len(sleep.waits) == 1


@pytest.mark.parametrize(
    "error",
    [
        client_error("TooManyRequestsException", 429),
        client_error("Throttling"),
        client_error("ThrottlingException"),
        client_error("LimitExceededException"),
        EndpointConnectionError(endpoint_url=ENDPOINT),
        ConnectTimeoutError(endpoint_url=ENDPOINT),
    ],
    ids=lambda e: getattr(e, "response", {}).get("Error", {}).get("Code") or type(e).__name__,
)
def test_sent_again_when_ses_surely_has_nothing(
    error: BaseException, retrier: Retrier, sleep: RecordingSleep
) -> None:
    fake = FakeSes(error, "m-2")
    raw = build_email(subject="s", sender=SENDER, recipients=TEAM, text="t", html="h")
    assert send_email(fake, raw, sender=SENDER, recipients=TEAM, retrier=retrier) == "m-2"
    assert len(fake.calls) == 2
    assert fake.calls[0] == fake.calls[1]
    assert len(sleep.waits) == 1


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ReadTimeoutError(endpoint_url=ENDPOINT), "ReadTimeoutError"),
        (client_error("InternalFailure", 500), "InternalFailure"),
        (client_error("ServiceUnavailable", 503), "ServiceUnavailable"),
        (
            client_error("MessageRejected", message="Email address is not verified."),
            "MessageRejected",
        ),
        (client_error("MailFromDomainNotVerifiedException"), "MailFromDomainNotVerifiedException"),
        (client_error("SendingPausedException"), "SendingPausedException"),
        (client_error("AccountSuspendedException"), "AccountSuspendedException"),
        (client_error("NotFoundException", 404), "NotFoundException"),
        (client_error("BadRequestException"), "BadRequestException"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_never_sent_twice_after_an_ambiguous_or_final_failure(
    error: BaseException, code: str, retrier: Retrier, sleep: RecordingSleep
) -> None:
    """A read timeout or a 5xx may come after SES accepted the message (sending again could
    deliver the digest twice); a rejection will not change. One attempt, a ``PublishError``
    with the code."""
    fake = FakeSes(error, "never")
    raw = build_email(subject="s", sender=SENDER, recipients=TEAM, text="t", html="h")
    with pytest.raises(PublishError, match=re.escape(f"{code} on ses:SendEmail")):
        send_email(fake, raw, sender=SENDER, recipients=TEAM, retrier=retrier)
    assert len(fake.calls) == 1
    assert sleep.waits == []


def test_throttled_for_good_says_how_often_it_tried(
    retrier: Retrier, sleep: RecordingSleep
) -> None:
    fake = FakeSes(*[client_error("TooManyRequestsException", 429)] * retrier.attempts)
    raw = build_email(subject="s", sender=SENDER, recipients=TEAM, text="t", html="h")
    with pytest.raises(PublishError, match=r"TooManyRequestsException on ses:SendEmail \(after 5"):
        send_email(fake, raw, sender=SENDER, recipients=TEAM, retrier=retrier)
    assert len(fake.calls) == retrier.attempts


def test_a_message_over_the_size_limit_is_refused_before_any_call(
    retrier: Retrier, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ses_email, "MAX_MESSAGE_BYTES_V2", 100)
    fake = FakeSes()
    raw = build_email(subject="s", sender=SENDER, recipients=TEAM, text="t" * 200, html="h")
    with pytest.raises(PublishError, match="over SES's 100"):
        send_email(fake, raw, sender=SENDER, recipients=TEAM, retrier=retrier)
    assert fake.calls == []
