"""The digest for chat (pure): what every chat rendering says, and the Amazon Q Developer one.

Three chat renderings tell the story of the plain digest (``backupwatch.core.digest``) in the
same order, from the same helpers: the headline (``render_subject``), the counts, what changed,
then what is failing, most severe first, as the digest's own tenant lines. Only the cut
differs, because each channel has its own limits; a cut always ends in "… and N more", N
counting the lines left out, and points at the full report and the status page. This module
holds what the three share, and the rendering for Amazon Q Developer in chat applications
(formerly AWS Chatbot), which carries a custom notification from SNS to Slack or Teams.
``backupwatch.core.slack`` and ``backupwatch.core.teams`` render the direct webhooks.

Text that comes from the account (tenant names, identifiers, reasons, runbooks) is put through
``clean`` (one line per item, no control characters). Where it lands in Slack's markup it is
escaped as Slack requires (``&``, ``<``, ``>``: so a tenant named ``<!channel>`` never pings
anyone); formatting characters (``*``, ``_``, ``~``, backticks) have no escape in Slack's
markup and are left as they are: at worst a name renders bold, and its text is all there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC
from typing import Any, NamedTuple, TypeVar, overload

from backupwatch.core.changes import Changes
from backupwatch.core.digest import (
    MESSAGE_MAX_BYTES,
    change_sections,
    changes_line,
    clean,
    counts_line,
    no_tenants_hint,
    render_subject,
    tenant_line,
)
from backupwatch.core.models import ArchivedReport, Report, Status, TenantReport

T = TypeVar("T")

ELLIPSIS = "…"
LINE_MAX_BYTES = 700
"""One tenant line at most (after escaping): the demo's longest reason takes about 400, and a
cap keeps one runaway reason from pushing every other tenant out of a message."""

# Amazon Q Developer in chat applications, custom notifications:
# https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html
# "version: Must be 1.0", "source: Must be custom", "Only client-markdown textType is currently
# supported" (its parameter table). Anything else on the topic is dropped silently.
CHAT_VERSION = "1.0"
CHAT_SOURCE = "custom"
CHAT_TEXT_TYPE = "client-markdown"
CHAT_EVENT_TYPE = "backupwatch-digest"
"""``metadata.eventType``, what a custom action button can be attached to: AWS's
``CustomActionAttachment.NotificationType`` is ``[a-zA-Z0-9-]+``, at most 100 characters
(https://docs.aws.amazon.com/chatbot/latest/APIReference/API_CustomActionAttachment.html)."""
# No character limit for the content fields (title, description, nextSteps, keywords, summary)
# could be confirmed from that page (the copy we could search shows the schema and the required
# values, not the rest of its parameter table). The notification is rendered into Slack
# or Teams, so it is kept within theirs, which are confirmed (backupwatch.core.slack and
# backupwatch.core.teams): the description within one Slack text object (3,000 characters),
# the title within a Slack header (150), and the whole notification far below Teams' 28 KB.
# Sizes are counted as JSON text (``json_text_size``): never fewer than the UTF-8 bytes, which
# are never fewer than the characters of any count a service might use (code points or UTF-16
# units); and so the whole notification stays within CHAT_NOTIFICATION_MAX_BYTES, whatever
# the script of the names in it.
CHAT_TITLE_MAX_BYTES = 150
CHAT_DESCRIPTION_MAX_BYTES = 3_000
CHAT_NEXT_STEP_MAX_BYTES = 3_000
CHAT_KEYWORDS_MAX = 10
CHAT_NOTIFICATION_MAX_BYTES = min(20_000, MESSAGE_MAX_BYTES)
"""The whole notification as JSON (``json_size``), which the budgets above keep it within
(about 16,000 at most): under Teams' card limit with room to spare, and far under SNS's 262,144
bytes (``digest.MESSAGE_MAX_BYTES``)."""
NEWS_SHARE = 3
"""The news gets at most a third of a message's room for lists; what is failing, the rest."""


class Link(NamedTuple):
    """An object of the report archive, as a chat message links it."""

    label: str
    """``Full report`` or ``Status page``."""
    uri: str
    """``s3://bucket/key``: shown when there is no URL to click."""
    url: str | None
    """The presigned HTTPS URL, when the run made one and the object was written."""
    error: str | None
    """Why the object could not be written (``clean``): then there is nothing to link."""


class Section(NamedTuple):
    """A titled list of plain-text lines (``clean``), one per tenant or scope."""

    title: str
    lines: Sequence[str]
    status: Status | None = None
    """The status of every tenant listed, for a group of failing tenants."""


def render_chat_notification(
    report: Report,
    *,
    changes: Changes | None = None,
    full_report: ArchivedReport | None = None,
    status_page: ArchivedReport | None = None,
) -> dict[str, Any]:
    """The digest as an Amazon Q Developer custom notification (the SNS ``https`` message).

    ``title`` is the headline (the digest's subject); ``description`` the counts, what changed,
    the news, then scopes not checked and failing tenants, most severe first, cut to fit with
    "… and N more"; ``nextSteps`` the links to the full report and the status page.

    ``metadata.threadId`` is ``backupwatch-YYYY-MM-DD`` (the report's UTC day): a rerun or a
    retried invocation on the same day replies in that day's thread instead of posting a second
    digest, while each day's digest starts a thread of its own, at the top of the channel,
    where it is read. A thread per deployment would bury every morning's news in replies.
    """
    links = archive_links(full_report, status_page)
    title = shorten(headline(report, changes), CHAT_TITLE_MAX_BYTES, escape=escape_mrkdwn)
    day = f"{report.generated_at.astimezone(UTC):%Y-%m-%d}"
    summary = report.summary
    compared = compared_changes(changes)
    description, omitted = _description(report, changes, links)
    content: dict[str, Any] = {
        "textType": CHAT_TEXT_TYPE,
        "title": title,
        "description": description,
    }
    steps = [_next_step(link) for link in links]
    if steps:
        content["nextSteps"] = steps
    content["keywords"] = _keywords(report)
    # additionalContext feeds custom action variables: keys [A-Za-z0-9-_]+, values printable
    # ASCII without spaces ([\x21-\x7F]+), at most 1,024 (CustomActionAttachment.Variables,
    # same API page): a date and counts.
    context = {
        "date": day,
        "tenants": str(summary.tenants),
        "failingTenants": str(summary.failing),
        "notChecked": str(summary.regions_failed),
        "omitted": str(omitted),
    }
    if compared is not None:
        context["newFailures"] = str(len(compared.new_failures))
        context["recovered"] = str(len(compared.recovered))
    return {
        "version": CHAT_VERSION,
        "source": CHAT_SOURCE,
        "id": f"backupwatch-{report.generated_at.astimezone(UTC):%Y%m%dT%H%M%SZ}",
        "content": content,
        "metadata": {
            "threadId": f"backupwatch-{day}",
            "summary": title,
            "eventType": CHAT_EVENT_TYPE,
            "relatedResources": [
                link.uri
                for link in links
                if link.error is None and json_text_size(link.uri) <= CHAT_NEXT_STEP_MAX_BYTES
            ],
            "additionalContext": context,
        },
    }


def _description(report: Report, changes: Changes | None, links: Sequence[Link]) -> tuple[str, int]:
    """The counts and what changed, whole; then the news and what is failing, each cut to its
    share of the room. Returns the text and the lines left out."""
    lines = [escape_mrkdwn(line) for line in overview(report, changes)]
    if not report.failing:
        lines.append("Nothing is failing.")
    room = CHAT_DESCRIPTION_MAX_BYTES - json_text_size("\n".join(lines))
    omitted = 0
    for sections, share in (
        (news_sections(report, changes), NEWS_SHARE),
        (failing_sections(report), 1),
    ):
        shown, cut = fit(
            listed(sections, lambda s: f"\n*{escape_mrkdwn(s.title)}*", bullet),
            total=rows_in(sections),
            budget=room // share,
            cost=lambda line: json_text_size(line) + 2,  # and "\n" before it
            marker_cost=lambda n: json_text_size(escape_mrkdwn(more_text(n, links))) + 2,
        )
        shown += [escape_mrkdwn(more_text(cut, links))] if cut else []
        room -= sum(json_text_size(line) + 2 for line in shown)
        lines += shown
        omitted += cut
    return "\n".join(lines), omitted


def _next_step(link: Link) -> str:
    """``Status page: https://...``; a URL that does not fit is never cut (a cut URL is a
    broken one): the ``s3://`` URI stands in."""
    if link.error is not None:
        text = f"{link.label}: could not be written to {link.uri}: {link.error}"
        return shorten(text, CHAT_NEXT_STEP_MAX_BYTES, escape=escape_mrkdwn, size=json_text_size)
    if link.url is not None:
        step = escape_mrkdwn(f"{link.label}: {link.url}")
        if json_text_size(step) <= CHAT_NEXT_STEP_MAX_BYTES:
            return step
    return shorten(
        f"{link.label}: {link.uri}",
        CHAT_NEXT_STEP_MAX_BYTES,
        escape=escape_mrkdwn,
        size=json_text_size,
    )


def _keywords(report: Report) -> list[str]:
    """``backupwatch``, ``failing`` or ``ok``, then the failing statuses, most severe first."""
    statuses = [status.value for status, _ in failing_groups(report)]
    verdict = "failing" if report.failing else "ok"
    return ["backupwatch", verdict, *statuses][:CHAT_KEYWORDS_MAX]


# --- What every chat rendering shares --------------------------------------------------------


def compared_changes(changes: Changes | None) -> Changes | None:
    """``changes`` when there was a previous report to compare with, else None."""
    return changes if changes is not None and changes.compared else None


def headline(report: Report, changes: Changes | None) -> str:
    """The digest's subject (``render_subject``): what the run means, on one ASCII line."""
    return render_subject(report, changes=compared_changes(changes))


def overview(report: Report, changes: Changes | None) -> list[str]:
    """What every rendering shows whole, above any list: the digest's counts line, what changed
    since the previous report (or why nothing was compared), and with no tenant what that
    means. Plain text, one line each."""
    lines = [counts_line(report)]
    compared = compared_changes(changes)
    if compared is not None and compared.previous_at is not None:
        lines.append(changes_line(compared, compared.previous_at))
    elif changes is not None:
        lines.append("WHAT CHANGED: no earlier report to compare with; today's view only.")
    if not report.tenants:
        lines.append(no_tenants_hint(report))
    return lines


def failing_groups(report: Report) -> list[tuple[Status, list[TenantReport]]]:
    """The failing tenants by status, most severe first (``Summary.by_status`` order, which
    has unknown statuses too), each group in report order: the digest's order."""
    groups = [
        (status, [row for row in report.tenants if row.failing and row.status is status])
        for status in report.summary.by_status
    ]
    return [(status, rows) for status, rows in groups if rows]


def failing_sections(report: Report) -> list[Section]:
    """What needs attention, most severe first: the scopes that could not be checked (their
    tenants are unknown), then the failing tenants by status, as the digest's tenant lines
    (rendered when read: a cut list renders only what it shows)."""
    sections: list[Section] = []
    if report.region_errors:
        lines = [f"{clean(e.scope)}: {clean(e.reason)}" for e in report.region_errors]
        sections.append(Section(f"COULD NOT BE CHECKED ({len(lines)})", lines))
    accounts = bool(report.accounts)

    def line(row: TenantReport) -> str:
        return tenant_line(row, accounts=accounts).removeprefix("  - ")

    for status, rows in failing_groups(report):
        sections.append(Section(f"{status.value} ({len(rows)})", _Lines(rows, line), status))
    return sections


class _Lines(Sequence[str]):
    """Lines rendered from their rows when read."""

    def __init__(self, rows: Sequence[TenantReport], render: Callable[[TenantReport], str]):
        self._rows = rows
        self._render = render

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            return [self._render(row) for row in self._rows[index]]
        return self._render(self._rows[index])


def news_sections(report: Report, changes: Changes | None) -> list[Section]:
    """The digest's change sections (new failures, recovered, still failing, gone, not
    checked, new tenants: those that happened), its lines without their bullets."""
    compared = compared_changes(changes)
    if compared is None:
        return []
    sections = change_sections(compared, accounts=bool(report.accounts))
    return [
        Section(title, [line.removeprefix("  - ") for line in lines]) for title, lines in sections
    ]


def archive_links(
    full_report: ArchivedReport | None, status_page: ArchivedReport | None
) -> list[Link]:
    """The full report, then the status page: those the run archived (or tried to)."""
    pairs = (("Full report", full_report), ("Status page", status_page))
    return [
        Link(
            label,
            archived.uri,
            None if archived.error is not None else archived.url,
            None if archived.error is None else clean(archived.error),
        )
        for label, archived in pairs
        if archived is not None
    ]


def more_text(omitted: int, links: Sequence[Link]) -> str:
    """The end of a cut list: how many lines were left out, and where they all are."""
    places = [link.label.lower() for link in links if link.error is None]
    if places:
        return f"{ELLIPSIS} and {omitted} more: see the {' and the '.join(places)} (below)"
    return f"{ELLIPSIS} and {omitted} more: the email digest lists them"


def fit(
    items: Iterable[tuple[T, int]],
    *,
    total: int,
    budget: int,
    cost: Callable[[T], int],
    marker_cost: Callable[[int], int],
    max_items: int | None = None,
) -> tuple[list[T], int]:
    """The longest start of ``items`` that fits in ``budget`` (and ``max_items``) with room
    left for the marker of what is cut; returns it and how many rows were cut.

    Each item is ``(value, rows)``: ``rows`` is how many lines a marker would count for it
    (0 for a title), ``total`` their sum. Items are read only until the cut, so a list of
    10,000 renders only the lines it shows. A title left with none of its rows is dropped. The
    caller appends the marker (``marker_cost(n)`` of room, one item) when rows were cut:
    nothing is dropped silently, and the order is kept, so what comes first is the last to go.
    """
    kept: list[tuple[T, int]] = []
    used = shown = 0
    for value, rows in items:
        left = total - shown - rows
        reserve = marker_cost(left) if left else 0
        too_many = max_items is not None and len(kept) + 1 + bool(left) > max_items
        if too_many or used + cost(value) + reserve > budget:
            break
        kept.append((value, rows))
        used += cost(value)
        shown += rows
    while kept and kept[-1][1] == 0 and shown < total:
        kept.pop()
    return [value for value, _ in kept], total - shown


def listed(
    sections: Iterable[Section], title: Callable[[Section], T], line: Callable[[str], T]
) -> Iterator[tuple[T, int]]:
    """``sections`` as items for ``fit``: each title (no row), then each of its lines."""
    for section in sections:
        yield title(section), 0
        for text in section.lines:
            yield line(text), 1


def rows_in(sections: Iterable[Section]) -> int:
    return sum(len(section.lines) for section in sections)


def bullet(line: str) -> str:
    """A tenant line as a markup list item, escaped and capped at ``LINE_MAX_BYTES``."""
    return shorten(f"• {line}", LINE_MAX_BYTES, escape=escape_mrkdwn)


def escape_mrkdwn(text: str) -> str:
    """Escape what Slack reads as control characters in its markup: ``&``, ``<``, ``>``
    (https://api.slack.com/reference/surfaces/formatting#escaping); nothing else."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def shorten(
    text: str,
    max_bytes: int,
    *,
    escape: Callable[[str], str] = str,
    size: Callable[[str], int] | None = None,
) -> str:
    """``escape(text)``, cut to at most ``max_bytes`` (of UTF-8, or by ``size``) and then
    ending in "…"; cut between characters, never inside one or inside an escape."""
    measure = size or utf8_size
    whole = escape(text[: max_bytes + 1])  # a character takes a byte at least
    if len(text) <= max_bytes and measure(whole) <= max_bytes:
        return whole
    room = max_bytes - measure(ELLIPSIS)
    pieces: list[str] = []
    for char in text[:max_bytes]:
        piece = escape(char)
        room -= measure(piece)
        if room < 0:
            break
        pieces.append(piece)
    return "".join(pieces) + ELLIPSIS


def utf8_size(text: str) -> int:
    return len(text.encode())


def json_text_size(text: str) -> int:
    """What ``text`` takes inside a JSON document (``json_size`` without the quotes)."""
    return json_size(text) - 2


def json_size(value: Any) -> int:
    """The size of ``value`` as JSON, the largest a sender would make of it: ``json.dumps``'s
    defaults escape every non-ASCII character (``\\uXXXX`` never takes fewer bytes than its
    UTF-8) and put a space after each separator."""
    return len(json.dumps(value))
