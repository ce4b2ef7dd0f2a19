"""The digest as a Slack incoming-webhook message (pure): Block Kit within Slack's limits.

``{"text": fallback, "blocks": [...]}``: a header (the headline), a section with the counts
and what changed, what is failing (most severe first), then the news, then a context block
with the links to the full report and the status page. What is said, and in which order
within a list, is shared with every chat rendering (``backupwatch.core.chat``).

Slack's limits, and where they come from:

- at most 50 blocks in a message (https://docs.slack.dev/reference/block-kit/blocks);
- a text object, so a section's text, at most 3,000 characters
  (https://docs.slack.dev/reference/block-kit/composition-objects/text-object);
- a header's text at most 150 characters, plain text only
  (https://docs.slack.dev/reference/block-kit/blocks/header-block);
- a context block at most 10 elements
  (https://docs.slack.dev/reference/block-kit/blocks/context-block);
- the top-level ``text`` is cut beyond 40,000 characters
  (https://api.slack.com/methods/chat.postMessage#truncating);
- undocumented, but observed: ``msg_blocks_too_long`` from about 13,000 characters of blocks
  in all, well inside the limits above (https://github.com/slackapi/bolt-js/issues/2509).
  So all the blocks' text together stays within ``SLACK_BLOCKS_TEXT_MAX_BYTES``.

Sizes are counted in UTF-8 bytes, never fewer than Slack's characters. A list is cut a block
at a time, and its blocks are small (``CHUNK_BYTES``) so that the cut is fine-grained; the cut
ends in a block "… and N more: see the status page and the full report (below)".
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from backupwatch.core.changes import Changes
from backupwatch.core.chat import (
    NEWS_SHARE,
    Link,
    Section,
    archive_links,
    bullet,
    escape_mrkdwn,
    failing_sections,
    fit,
    headline,
    more_text,
    news_sections,
    overview,
    rows_in,
    shorten,
    utf8_size,
)
from backupwatch.core.models import ArchivedReport, Report

SLACK_MAX_BLOCKS = 50
SLACK_TEXT_MAX_BYTES = 3_000
SLACK_HEADER_MAX_BYTES = 150
SLACK_CONTEXT_MAX_ELEMENTS = 10
SLACK_FALLBACK_MAX_BYTES = 40_000
SLACK_BLOCKS_TEXT_MAX_BYTES = 12_000
CHUNK_BYTES = 1_500
"""A list block at most: half a section's limit, so a cut loses little room."""


def render_slack_message(
    report: Report,
    *,
    changes: Changes | None = None,
    full_report: ArchivedReport | None = None,
    status_page: ArchivedReport | None = None,
) -> dict[str, Any]:
    """The incoming-webhook payload for ``report``: failures first, then the news, then links.

    The header, the counts and the links are always whole; the failing list and the news share
    what room is left (the news at most a third of it), each cut with "… and N more".
    """
    links = archive_links(full_report, status_page)
    title = shorten(headline(report, changes), SLACK_HEADER_MAX_BYTES)
    lines = overview(report, changes)
    head = [
        {"type": "header", "text": {"type": "plain_text", "text": title, "emoji": False}},
        _section(shorten("\n".join(lines), SLACK_TEXT_MAX_BYTES, escape=escape_mrkdwn)),
    ]
    tail = [_links_block(links)] if links else []
    room = SLACK_BLOCKS_TEXT_MAX_BYTES - _text_size(head) - _text_size(tail)
    free = SLACK_MAX_BLOCKS - len(head) - len(tail)
    news = _list_blocks(
        news_sections(report, changes), room // NEWS_SHARE, free // NEWS_SHARE, links
    )
    failing = _list_blocks(
        failing_sections(report), room - _text_size(news), free - len(news), links
    )
    if not report.failing:
        failing.append(_section("Nothing is failing."))
    fallback = shorten("\n".join([title, *lines]), SLACK_FALLBACK_MAX_BYTES, escape=escape_mrkdwn)
    return {"text": fallback, "blocks": [*head, *failing, *news, *tail]}


def _list_blocks(
    sections: list[Section], budget: int, max_blocks: int, links: list[Link]
) -> list[dict[str, Any]]:
    """``sections`` as mrkdwn sections, as many as fit; then, if any line was cut, the block
    that says so."""
    kept, omitted = fit(
        _chunks(sections),
        total=rows_in(sections),
        budget=budget,
        cost=utf8_size,
        marker_cost=lambda n: utf8_size(escape_mrkdwn(more_text(n, links))),
        max_items=max_blocks,
    )
    blocks = [_section(text) for text in kept]
    if omitted:
        blocks.append(_section(escape_mrkdwn(more_text(omitted, links))))
    return blocks


def _chunks(sections: list[Section]) -> Iterator[tuple[str, int]]:
    """Each section's lines in texts of at most ``CHUNK_BYTES``, its title heading the first,
    with how many lines each holds."""
    for section in sections:
        text, count = f"*{escape_mrkdwn(section.title)}*", 0
        for line in section.lines:
            item = bullet(line)
            if count and utf8_size(text) + 1 + utf8_size(item) > CHUNK_BYTES:
                yield text, count
                text, count = item, 1
            else:
                text, count = f"{text}\n{item}", count + 1
        yield text, count


def _links_block(links: list[Link]) -> dict[str, Any]:
    """A context block: ``<url|Full report>`` when there is a URL, else the ``s3://`` URI, or
    why the object could not be written."""
    elements = []
    for link in links[:SLACK_CONTEXT_MAX_ELEMENTS]:
        text = f"<{escape_mrkdwn(link.url)}|{link.label}>" if link.url else ""
        if not text or utf8_size(text) > SLACK_TEXT_MAX_BYTES:  # never a cut URL
            where = f"{link.label}: `{link.uri}`"
            if link.error is not None:
                where = f"{link.label}: could not be written to `{link.uri}`: {link.error}"
            text = shorten(where, SLACK_TEXT_MAX_BYTES, escape=escape_mrkdwn)
        elements.append({"type": "mrkdwn", "text": text})
    return {"type": "context", "elements": elements}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _text_size(blocks: list[dict[str, Any]]) -> int:
    """The text the blocks carry, in UTF-8 bytes: what ``msg_blocks_too_long`` counts."""
    texts = [block["text"]["text"] for block in blocks if "text" in block]
    texts += [element["text"] for block in blocks for element in block.get("elements", ())]
    return sum(utf8_size(text) for text in texts)
