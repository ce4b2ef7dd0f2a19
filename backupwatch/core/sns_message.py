"""One SNS publish that renders right on every protocol (pure): ``MessageStructure="json"``.

A topic has subscribers of several kinds, and each needs its own rendering of the same run. With
``MessageStructure="json"``, ``Message`` is a JSON object holding one string per protocol, and
SNS hands each subscription the string for its protocol, or ``default``:

- ``email``: the plain-text digest (``digest.render_digest``), as it is sent today;
- ``https``: the Amazon Q Developer custom notification (``chat.render_chat_notification``),
  what its endpoint (``https://global.sns-api.chatbot.amazonaws.com``) renders into Slack or
  Teams; it drops anything else without a word;
- ``sqs``, ``lambda``, ``email-json``: the machine summary (``summary_message``), versioned
  JSON that a program reads without parsing prose;
- ``default``: every other protocol (``http``, ``sms``, ``firehose``, ``application``...): the
  subject, the counts and the links, a few hundred bytes.

SNS counts the whole ``Message`` (every protocol's string, as escaped JSON) plus the message
attributes against its 262,144 bytes. JSON escaping inflates text: a newline takes two bytes,
a quote two, a control character six. Everything but the email is bounded (the summary by
``SUMMARY_MAX_BYTES`` of text, three times; the chat notification by
``chat.CHAT_NOTIFICATION_MAX_BYTES``; the default by ``DEFAULT_MAX_BYTES``), and escaping at most
doubles each: about 190,000 bytes in the very worst case. The email text takes the rest. When
it does not fit, it is cut at a line boundary (a runbook line stays with its tenant, and a
section title is never left without a tenant line under it) and ends with a line saying how
many lines were cut and where the full report is. The lines at the top (the headline, the
counts, the links, what changed) come first, so they are the last to go.

``ATTRIBUTES_RESERVE_BYTES`` of the limit are left for message attributes a publisher adds
(``aws.publish.publish_sns_message(attributes_extra=...)``), so adding one never makes a
message that fits too large.

One caveat from AWS's documentation (Amazon SNS message attributes): "message attributes are
sent only when the message structure is String, not JSON". A subscriber therefore gets no
``MessageAttributes`` in what is delivered: what a program needs is in the summary itself.
"""

from __future__ import annotations

import json
import re
from typing import Final

from backupwatch.core.changes import Changes
from backupwatch.core.chat import archive_links, render_chat_notification, shorten
from backupwatch.core.digest import (
    MESSAGE_MAX_BYTES,
    Digest,
    _attributes_size,
    counts_line,
)
from backupwatch.core.models import ArchivedReport, FrozenValue, Report
from backupwatch.core.summary_message import render_summary_message

DEFAULT_MAX_BYTES: Final = 1_024
"""The ``default`` text at most (of UTF-8; it is a headline, counts and two links)."""
ATTRIBUTES_RESERVE_BYTES: Final = 1_024
"""Room left under ``max_bytes`` for message attributes added when publishing."""

DEFAULT: Final = "default"
EMAIL: Final = "email"
EMAIL_JSON: Final = "email-json"
HTTPS: Final = "https"
SQS: Final = "sqs"
LAMBDA: Final = "lambda"
MACHINE_PROTOCOLS: Final = (SQS, LAMBDA, EMAIL_JSON)
"""The protocols that get the machine summary."""

RUNBOOK_INDENT: Final = "    "
"""A digest line that starts so belongs to the tenant line above it (its runbook)."""
TENANT_BULLET: Final = "  - "
DIGEST_MORE: Final = re.compile(r"\.\.\. and (\d+) more")
"""The digest's own cut marker (``digest._more``): N tenant lines it left out."""


class SnsMessage(FrozenValue):
    """A run's message for ``sns.publish(MessageStructure="json")``."""

    subject: str
    """For email subscriptions (SNS puts it in the JSON envelopes too): the digest's subject."""
    message: str
    """The JSON object, one string per protocol: what to pass as ``Message``."""
    attributes: dict[str, dict[str, str]]
    """SNS ``MessageAttributes``: the digest's (``failing``, a Number)."""
    size_bytes: int
    """What SNS counts against its limit: ``message``'s UTF-8 bytes, plus the attributes'
    names, types and values."""
    email_cut_lines: int = 0
    """Lines of the digest's text left out of the ``email`` string to fit (0: all there)."""

    @property
    def protocols(self) -> dict[str, str]:
        """``message`` read back: each protocol's string."""
        parsed: dict[str, str] = json.loads(self.message)
        return parsed


def render_sns_message(
    report: Report,
    digest: Digest,
    *,
    changes: Changes | None = None,
    full_report: ArchivedReport | None = None,
    status_page: ArchivedReport | None = None,
    max_bytes: int = MESSAGE_MAX_BYTES,
) -> SnsMessage:
    """The run as one message for every protocol, within ``max_bytes`` (see the module).

    ``digest`` is ``render_digest(report, ...)`` for the same report, with the same
    ``changes`` and links: its subject, text and attributes are used as they are, except that
    the text may be cut further (``SnsMessage.email_cut_lines``). Raises ``ValueError`` only when
    ``max_bytes`` cannot hold even the other protocols' strings (never with the default).
    """
    summary = render_summary_message(
        report,
        subject=digest.subject,
        changes=changes,
        full_report=full_report,
        status_page=status_page,
    )
    chat = render_chat_notification(
        report, changes=changes, full_report=full_report, status_page=status_page
    )
    others = {
        DEFAULT: default_text(report, digest.subject, full_report, status_page),
        HTTPS: json.dumps(chat),
        **dict.fromkeys(MACHINE_PROTOCOLS, summary),
    }
    attributes = digest.message_attributes
    budget = max_bytes - ATTRIBUTES_RESERVE_BYTES - _attributes_size(attributes)
    room = budget - _size(_compose("", others))
    email, cut = fit_email(digest.body, room, full_report)
    message = _compose(email, others)
    size = len(message.encode()) + _attributes_size(attributes)
    if size > max_bytes - ATTRIBUTES_RESERVE_BYTES:
        raise ValueError(
            f"max_bytes={max_bytes} cannot hold the message: {size} bytes with the email text "
            f"cut to {len(email.encode())} bytes"
        )
    return SnsMessage(
        subject=digest.subject,
        message=message,
        attributes=attributes,
        size_bytes=size,
        email_cut_lines=cut,
    )


def default_text(
    report: Report,
    subject: str,
    full_report: ArchivedReport | None,
    status_page: ArchivedReport | None,
) -> str:
    """What any other protocol gets: the headline, the counts, where the rest is."""
    lines = [subject, counts_line(report)]
    for link in archive_links(full_report, status_page):
        where = link.uri if link.error is None else f"could not be written to {link.uri}"
        lines.append(f"{link.label}: {where}")
    return shorten("\n".join(lines), DEFAULT_MAX_BYTES)


def fit_email(body: str, room: int, full_report: ArchivedReport | None = None) -> tuple[str, int]:
    """``body`` whole when it takes at most ``room`` bytes as a JSON string's content, else
    its longest start that fits, cut at a line boundary and ended by ``cut_line``; returns
    the text and how many of ``body``'s lines were left out.

    A runbook line stays with the tenant line above it, and a section left with no tenant
    line (its blank line and title) goes with the cut.
    """
    if _text_size(body) <= room:
        return body, 0
    lines = body.split("\n")
    units = _units(lines)
    most = cut_line(len(lines), full_report, tenant_lines=_tenant_lines(lines))
    marker_cost = _text_size(most)  # never less than the marker's
    kept: list[str] = []
    used = 0
    for unit in units:
        cost = sum(_text_size(line) + 2 for line in unit)  # each line, then "\n" (2 bytes)
        if used + cost + marker_cost > room:
            break
        kept += unit
        used += cost
    head = _head_length(lines)
    while len(kept) > head and (kept[-1] == "" or (len(kept) > 1 and kept[-2] == "")):
        kept.pop()  # a blank line, or a title (what follows a blank line) with no row
    cut = len(lines) - len(kept)
    marker = cut_line(cut, full_report, tenant_lines=_tenant_lines(lines[len(kept) :]))
    return "\n".join([*kept, marker]), cut


def cut_line(count: int, full_report: ArchivedReport | None, *, tenant_lines: int = 0) -> str:
    """The last line of a cut email: how much is missing, and where it all is.

    ``tenant_lines`` is how many tenant (and scope) lines the reader does not see: those cut
    here, plus those the digest had already left out when its own "... and N more" is among
    the lines cut (otherwise that N would vanish with them)."""
    text = f"... and {count} more lines, cut to fit one SNS message"
    if tenant_lines:
        text += f" ({tenant_lines} tenant lines not shown in all)"
    if full_report is None:
        return f"{text}; no full report was archived for this run."
    if full_report.error is not None:
        return f"{text}; the full report could not be written to {full_report.uri}."
    return f"{text}; the full report has everything: {full_report.uri}"


def _tenant_lines(lines: list[str]) -> int:
    """Tenant (and scope) lines among ``lines``, counting a digest's own cut marker for the
    lines it stands for."""
    count = 0
    for line in lines:
        if line.startswith(TENANT_BULLET):
            count += 1
        elif marker := DIGEST_MORE.fullmatch(line):
            count += int(marker.group(1))
    return count


def _units(lines: list[str]) -> list[list[str]]:
    """The lines in groups that are kept or cut together: a line and its runbook line."""
    units: list[list[str]] = []
    for line in lines:
        if units and line.startswith(RUNBOOK_INDENT):
            units[-1].append(line)
        else:
            units.append([line])
    return units


def _head_length(lines: list[str]) -> int:
    """How many lines come before the first section: up to the blank line and title above
    the first tenant or scope line (all of them when there is none)."""
    first = next((i for i, line in enumerate(lines) if line.startswith(TENANT_BULLET)), None)
    return len(lines) if first is None else max(first - 2, 0)


def _compose(email: str, others: dict[str, str]) -> str:
    """The ``Message``: ``default`` first (the one SNS requires), then ``email`` and the rest.
    UTF-8 is left as is: SNS counts bytes, and ``\\uXXXX`` takes up to six for two or three."""
    document = {DEFAULT: others[DEFAULT], EMAIL: email}
    document.update((key, value) for key, value in others.items() if key != DEFAULT)
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def _text_size(text: str) -> int:
    """The bytes ``text`` takes inside a JSON string as ``_compose`` writes it."""
    return _size(json.dumps(text, ensure_ascii=False)) - 2


def _size(text: str) -> int:
    return len(text.encode())
