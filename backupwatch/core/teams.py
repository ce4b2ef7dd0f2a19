"""The digest as a Microsoft Teams Workflows webhook message (pure): one Adaptive Card.

The Office 365 connectors are retired; a Teams channel takes webhooks through a Workflows
(Power Automate) flow, "when a Teams webhook request is received", which posts the card of the
first attachment::

    {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                         "contentUrl": null, "content": {...the card...}}]}

The card: the headline, the counts as a FactSet, what changed, what is failing (most severe
first, each status group's title coloured ``attention`` or ``warning``), the news, and an
``Action.OpenUrl`` for the full report and the status page when they have a URL. What is said,
and in which order, is shared with every chat rendering (``backupwatch.core.chat``).

Teams' limits, and where they come from:

- Adaptive Card version 1.4. Teams' docs say 1.5, but a 1.5 card posted by Workflows shows
  "We're sorry, this card couldn't be displayed"; 1.4 renders
  (https://github.com/microsoft/AdaptiveCards/issues/8965,
  https://github.com/MicrosoftDocs/msteams-docs/issues/9801).
- About 28 KB a message, every element included; beyond, the post fails with "Request Entity
  too large" (https://learn.microsoft.com/en-us/connectors/teams/, known issues and
  limitations; "The message size limit is 28 KB",
  https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook).
  Posts have been seen to fail from about 21 KB, so the whole payload stays within
  ``TEAMS_PAYLOAD_MAX_BYTES`` of JSON (``chat.json_size``, an upper bound), and the lists are
  cut with "… and N more" to fit.
- A ``TextBlock`` reads a subset of Markdown; a ``TextRun`` does not ("Markdown is not
  supported", https://learn.microsoft.com/en-us/adaptive-cards/schema-explorer/text-run). So
  every text from the account (tenant names, reasons, URIs) is a ``TextRun``, which nothing in
  it can format or turn into a link, and ``TextBlock`` carries only backupwatch's own words.
"""

from __future__ import annotations

from typing import Any

from backupwatch.core.changes import Changes
from backupwatch.core.chat import (
    LINE_MAX_BYTES,
    NEWS_SHARE,
    Link,
    Section,
    archive_links,
    failing_sections,
    fit,
    headline,
    json_size,
    listed,
    more_text,
    news_sections,
    overview,
    rows_in,
    shorten,
)
from backupwatch.core.models import ArchivedReport, Report, Status

CARD_VERSION = "1.4"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
TEAMS_PAYLOAD_MAX_BYTES = 20_000


def render_teams_message(
    report: Report,
    *,
    changes: Changes | None = None,
    full_report: ArchivedReport | None = None,
    status_page: ArchivedReport | None = None,
) -> dict[str, Any]:
    """The Workflows webhook payload for ``report``: an Adaptive Card within Teams' limits.

    The headline, counts, what changed and the links are always whole; the failing list and
    the news share what room is left (the news at most a third of it), each cut with
    "… and N more".
    """
    links = archive_links(full_report, status_page)
    summary = report.summary
    facts = [{"title": "Failing", "value": f"{summary.failing} of {summary.tenants} tenants"}]
    facts += [
        {"title": status.value, "value": str(count)}
        for status, count in summary.by_status.items()
        if count
    ]
    if summary.regions_failed:
        facts.append({"title": "Not checked", "value": str(summary.regions_failed)})
    head: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": headline(report, changes),
            "size": "Large",
            "weight": "Bolder",
            "color": "attention" if report.failing else "good",
            "wrap": True,
        },
        {"type": "FactSet", "facts": facts},
        *(_run(line) for line in overview(report, changes)[1:]),  # the counts are the facts
    ]
    if not report.failing:
        head.append(_run("Nothing is failing.", color="good"))
    tail = [_run(shorten(_where(link), LINE_MAX_BYTES)) for link in links if link.url is None]
    actions = [
        {"type": "Action.OpenUrl", "title": link.label, "url": link.url}
        for link in links
        if link.url is not None
    ]
    payload = _payload([*head, *tail], actions)
    room = TEAMS_PAYLOAD_MAX_BYTES - json_size(payload)
    news = _list(news_sections(report, changes), room // NEWS_SHARE, links, failing=False)
    room -= sum(json_size(element) + 2 for element in news)
    failing = _list(failing_sections(report), room, links, failing=True)
    return _payload([*head, *failing, *news, *tail], actions)


def _payload(body: list[dict[str, Any]], actions: list[dict[str, Any]]) -> dict[str, Any]:
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": CARD_SCHEMA,
        "version": CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
    }
    if actions:
        card["actions"] = actions
    attachment = {"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": card}
    return {"type": "message", "attachments": [attachment]}


def _list(
    sections: list[Section], budget: int, links: list[Link], *, failing: bool
) -> list[dict[str, Any]]:
    """A coloured title per section and a ``TextRun`` per line, as many as fit in ``budget``
    bytes of JSON; then, if any line was cut, the line that says so."""

    def title(section: Section) -> dict[str, Any]:
        colour = _colour(section.status) if failing else "accent"
        return _run(section.title, color=colour, weight="Bolder")

    kept, omitted = fit(
        listed(sections, title, lambda line: _run(shorten(line, LINE_MAX_BYTES))),
        total=rows_in(sections),
        budget=budget,
        cost=lambda element: json_size(element) + 2,  # and ", " before it
        marker_cost=lambda n: json_size(_run(more_text(n, links))) + 2,
    )
    return kept + ([_run(more_text(omitted, links), color="attention")] if omitted else [])


def _colour(status: Status | None) -> str:
    """``attention`` for no usable backup, or none known (``SUSPECT`` and worse, unknown
    statuses, scopes not checked); ``warning`` for the rest that fail (``STALE``, ``EMPTY``,
    ``NONCOMPLIANT``, a ``STOPPED`` made failing)."""
    if status is None or status.severity >= Status.SUSPECT.severity:
        return "attention"
    return "warning"


def _where(link: Link) -> str:
    """A link with nothing to click: its ``s3://`` URI, or why it could not be written."""
    if link.error is not None:
        return f"{link.label}: could not be written to {link.uri}: {link.error}"
    return f"{link.label}: {link.uri}"


def _run(text: str, **style: str) -> dict[str, Any]:
    """A ``RichTextBlock`` of one ``TextRun``: ``text`` shown as it is, never as Markdown."""
    run = {"type": "TextRun", "text": text, **style}
    return {"type": "RichTextBlock", "inlines": [run]}
