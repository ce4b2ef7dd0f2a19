"""The chat notification's preview page (pure, no browser, no network).

The mrkdwn conversion case by case, escaping (a tenant named ``<script>`` is text), links only
to ``http(s)`` and ``mailto``, a page with no script and no external resource, determinism,
notifications missing fields, and a property test: any text renders, with no ``<`` but this
module's own tags. docs/chat-card.png is the demo's page in headless Chromium (the command is
in ``backupwatch.core.chat_preview``); no test takes a screenshot.
"""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backupwatch.core.changes import Changes, compare
from backupwatch.core.chat import render_chat_notification
from backupwatch.core.chat_preview import (
    FOOTER,
    render_chat_preview,
    render_mrkdwn,
    render_mrkdwn_line,
)
from backupwatch.core.models import Report, Status

from .test_chat_renderers import NASTY, PAGE_LINK, PAGE_URL, REPORT_LINK, URL, worst_report
from .test_digest import make_report, row

OUR_TAGS = {"p", "ul", "li", "blockquote", "pre", "b", "i", "s", "code", "a", "span", "br"}
OUR_TAG = re.compile(
    r"</?(?:p|ul|li|blockquote|pre|b|i|s|code|span)>|<p class=gap>|<br>|<span class=mention>"
    r'|<a href="[^"<>]*">|</a>'
)
SCHEMES = ("https://", "http://", "mailto:")


class Page(HTMLParser):
    """What a browser would make of the HTML: its tags, attributes and text."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.open: list[str] = []
        self.parts: list[str] = []
        self.anchors: list[tuple[str, list[str]]] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "a":
            self.anchors.append((str(dict(attrs).get("href")), []))
        if tag not in ("br", "meta"):
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open, tag
        assert self.open[-1] == tag, (tag, self.open)
        self.open.pop()

    def handle_data(self, data: str) -> None:
        if "body" in self.open:  # what the page shows, not its <title> or <style>
            self.parts.append(data)
        if "a" in self.open:
            self.anchors[-1][1].append(data)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def links(self) -> list[str]:
        return [href for href, _ in self.anchors]

    def link_texts(self) -> list[tuple[str, str]]:
        return [(href, "".join(parts)) for href, parts in self.anchors]


def text_of(markup: str) -> str:
    """The text a fragment shows."""
    return Page(f"<body>{markup}</body>").text


# --- mrkdwn, case by case ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mrkdwn", "expected"),
    [
        ("*bold*", "<b>bold</b>"),
        ("_italic_", "<i>italic</i>"),
        ("~struck~", "<s>struck</s>"),
        ("`code`", "<code>code</code>"),
        ("a *b _c_ d* e", "a <b>b <i>c</i> d</b> e"),
        ("(*x*)", "(<b>x</b>)"),
        ("`*not bold*`", "<code>*not bold*</code>"),
        ("snake_case_name stays", "snake_case_name stays"),
        ("2 * 3 * 4", "2 * 3 * 4"),
        ("a*b*c", "a*b*c"),
        ("*open only", "*open only"),
        ("**", "**"),
        ("<https://x.example/a?b=1&amp;c=2|the report>",
         '<a href="https://x.example/a?b=1&amp;c=2">the report</a>'),
        ("<https://x.example>", '<a href="https://x.example">https://x.example</a>'),
        ("<mailto:ops@example.com|ops>", '<a href="mailto:ops@example.com">ops</a>'),
        ("see https://w.example/r/globex.", 'see <a href="https://w.example/r/globex">https://w.example/r/globex</a>.'),
        ("<javascript:alert(1)|click>", "&lt;javascript:alert(1)|click&gt;"),
        ("<JavaScript:alert(1)>", "&lt;JavaScript:alert(1)&gt;"),
        ("<data:text/html,x|x>", "&lt;data:text/html,x|x&gt;"),
        ("javascript:alert(1)", "javascript:alert(1)"),
        ("<!channel> <!here>",
         "<span class=mention>@channel</span> <span class=mention>@here</span>"),
        ("<@U123|ana> <#C42|backups>",
         "<span class=mention>@ana</span> <span class=mention>#backups</span>"),
        ("&amp; &lt;b&gt; &amp;lt;", "&amp; &lt;b&gt; &amp;lt;"),
        ("<script>x</script>", "&lt;script&gt;x&lt;/script&gt;"),
        ("a < b > c & d", "a &lt; b &gt; c &amp; d"),
        ("\"q\" 'a'", "&quot;q&quot; &#x27;a&#x27;"),
        ("bell\x07 nul\x00", "bell  nul "),
    ],
)  # fmt: skip
def test_inline_mrkdwn(mrkdwn: str, expected: str) -> None:
    assert render_mrkdwn_line(mrkdwn) == expected
    assert render_mrkdwn(mrkdwn) == f"<p>{expected}</p>\n"


def test_a_link_is_only_to_the_web_or_mail() -> None:
    """``javascript:``, ``data:``, ``file:`` and relative targets stay text, whatever their
    case or the spaces around them; the text is all there."""
    for target in ("javascript:alert(1)", " JAVASCRIPT:x", "data:text/html;base64,x", "file:///etc",
                   "/relative", "vbscript:x", "https://a b"):  # fmt: skip
        markup = render_mrkdwn_line(f"<{target}|click me>")
        assert "<a" not in markup
        assert text_of(markup) == f"<{target}|click me>"
    assert Page(render_mrkdwn_line("<HTTPS://x.example|x>")).links() == ["HTTPS://x.example"]


def test_blocks() -> None:
    """Bullets make a list, an indented line after one stays with it, blank lines are kept,
    quotes and fenced code are blocks; nothing is formatted inside code."""
    text = (
        "*NEW FAILURES (2)*\n• a [STALE]: *x*\n    runbook: https://w.example/a\n• b [ERROR]\n"
        "\n&gt; quoted\n> raw quote\n```\n*not* <b>\n```\nafter"
    )
    assert render_mrkdwn(text) == (
        "<p><b>NEW FAILURES (2)</b></p>\n"
        "<ul>\n<li>a [STALE]: <b>x</b><br>runbook: "
        '<a href="https://w.example/a">https://w.example/a</a></li>\n<li>b [ERROR]</li>\n</ul>\n'
        "<p class=gap></p>\n"
        "<blockquote>quoted<br>raw quote</blockquote>\n"
        "<pre>*not* &lt;b&gt;</pre>\n"
        "<p>after</p>\n"
    )


# --- The page ----------------------------------------------------------------------------------


def notification(**content: Any) -> dict[str, Any]:
    return {
        "version": "1.0",
        "source": "custom",
        "content": {"textType": "client-markdown", **content},
        "metadata": {
            "threadId": "backupwatch-2026-11-27",
            "additionalContext": {"date": "2026-11-27"},
        },
    }


def test_the_page_shows_every_part() -> None:
    page = render_chat_preview(
        notification(
            title="backupwatch 2026-11-27: 1 of 2 tenants failing",
            description="1 of 2 tenants failing\n• *acme* [STALE]",
            nextSteps=[f"Status page: {PAGE_URL.replace('&', '&amp;')}"],
            keywords=["backupwatch", "failing", "STALE"],
        )
    )
    parsed = Page(page)
    assert not parsed.open
    text = parsed.text
    for shown in ("Amazon Q", "APP", "2026-11-27", "backupwatch 2026-11-27: 1 of 2 tenants failing",
                  "acme [STALE]", "Next steps", FOOTER):  # fmt: skip
        assert shown in text
    assert parsed.links() == [PAGE_URL]
    chips = [i for i, (tag, attrs) in enumerate(parsed.tags) if attrs.get("class") == "chip"]
    assert len(chips) == 3
    assert ("div", {"class": "avatar", "aria-hidden": "true"}) in parsed.tags


def test_the_page_is_self_contained() -> None:
    """No script (the page's policy forbids any), no external font, image or stylesheet."""
    page = render_chat_preview(notification(title="t", description=NASTY, keywords=[NASTY]))
    lowered = page.lower()
    for banned in ("<script", "src=", "<img", "<link", "@import", "url(", "@font-face"):
        assert banned not in lowered, banned
    assert not re.search(r"<[^>]*\son\w+=", lowered)  # no event handler
    assert "content=\"default-src 'none'; style-src 'unsafe-inline'\"" in page
    tags = {tag for tag, _ in Page(page).tags}
    assert tags <= OUR_TAGS | {"html", "head", "meta", "title", "style", "body", "main", "div",
                               "footer", "ol"}  # fmt: skip


def test_account_text_is_text() -> None:
    """A tenant named ``<script>`` or ``&`` (escaped for Slack, as chat.py writes it) shows
    as those characters, everywhere: title, description, next steps, keywords."""
    name = "<script>alert('x')</script> & co"
    escaped = name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    page = render_chat_preview(
        notification(
            title=escaped, description=f"• {escaped}", nextSteps=[escaped], keywords=[name]
        )
    )
    assert "<script" not in page
    assert Page(page).text.count(name) == 4
    title = re.search(r"<title>(.*)</title>", page)
    assert title is not None
    assert html.unescape(title.group(1)) == f"{name} (chat preview)"


def test_same_notification_same_bytes() -> None:
    """Deterministic, and the same from the dict as from its JSON."""
    report, changes = small_report()
    made = render_chat_notification(report, changes=changes, full_report=REPORT_LINK)
    page = render_chat_preview(made)
    assert render_chat_preview(made) == page
    assert render_chat_preview(json.loads(json.dumps(made))) == page


@pytest.mark.parametrize(
    "partial",
    [
        {},
        {"content": {}},
        {"content": {"title": "only a title"}},
        {"content": {"description": "only *text*"}, "metadata": {}},
        {"content": None, "metadata": "x"},
        {"content": {"title": 3, "description": ["x"], "nextSteps": "x", "keywords": [1, None, ""]},
         "metadata": {"additionalContext": {"date": 20261127}}},
    ],
)  # fmt: skip
def test_missing_or_odd_fields(partial: dict[str, Any]) -> None:
    """What is missing or not text is left out; the page still renders, footer and all."""
    page = render_chat_preview(partial)
    parsed = Page(page)
    assert not parsed.open
    assert FOOTER in parsed.text
    assert "Amazon Q" in parsed.text
    classes = {attrs.get("class") for _, attrs in parsed.tags}
    assert ("title" in classes) == ("only a title" in parsed.text)
    assert "steps" not in classes
    assert "chip" not in classes
    assert "time" not in classes


def small_report() -> tuple[Report, Changes]:
    previous = make_report(row("acme", Status.OK), row("globex", Status.OK))
    current = make_report(row("acme", Status.OK), row("globex", Status.STALE, reason="31 h old"))
    return current, compare(previous, current)


def test_a_digest_with_nasty_names_renders() -> None:
    """The digest's notification (presigned links, failing tenants named with every markup
    character, ``<!channel>`` and a ``<https://evil.example|click>`` among them): every title
    and tenant shown is there as text and nobody is mentioned. Links are the archive's, and a
    bare URL in a name (as Slack links one), each showing its own address."""
    report = worst_report(failing=30, scopes=2)
    made = render_chat_notification(report, full_report=REPORT_LINK, status_page=PAGE_LINK)
    page = render_chat_preview(made)
    parsed = Page(page)
    assert not parsed.open
    assert parsed.links()[-2:] == [URL, PAGE_URL]
    assert set(parsed.links()[:-2]) == {"https://evil.example"}
    assert all(href == text for href, text in parsed.link_texts()[:-2])
    assert not any(attrs.get("class") == "mention" for _, attrs in parsed.tags)
    assert made["content"]["title"] in parsed.text
    assert "t00000-bold it s code <!channel> & <https://evil.example|click> 日本 🦄" in parsed.text
    assert "<b>bold</b> <i>it</i> <s>s</s> <code>code</code>" in page
    assert "more: see the full report and the status page (below)" in parsed.text
    lines = made["content"]["description"].count("\n• ")
    assert sum(tag == "li" for tag, _ in parsed.tags) == lines + len(made["content"]["nextSteps"])


# --- Any text ----------------------------------------------------------------------------------

MARKUP = st.text(alphabet=st.sampled_from("*_~`<>|&;!@#:/ \n•abhtps.-ltgamp"), max_size=80)
ANY = st.text(max_size=80) | MARKUP | st.lists(MARKUP | st.text(max_size=20)).map("".join)


def assert_only_our_tags(markup: str) -> None:
    leftover = OUR_TAG.sub("", markup)
    assert "<" not in leftover, leftover
    assert ">" not in leftover, leftover
    parsed = Page(markup)
    assert not parsed.open
    assert all(href.lower().startswith(SCHEMES) for href in parsed.links())


@settings(max_examples=300, deadline=None)
@given(ANY)
def test_any_text_renders_safely(text: str) -> None:
    """Never raises; every ``<`` and ``>`` is one of our tags; the tags balance; links only to
    the web or mail."""
    assert_only_our_tags(render_mrkdwn(text))
    assert_only_our_tags(render_mrkdwn_line(text))


@settings(max_examples=100, deadline=None)
@given(
    title=ANY,
    description=ANY,
    steps=st.lists(ANY, max_size=3),
    keywords=st.lists(ANY, max_size=3),
    date=ANY,
)
def test_any_notification_renders(
    title: str, description: str, steps: list[str], keywords: list[str], date: str
) -> None:
    made = notification(title=title, description=description, nextSteps=steps, keywords=keywords)
    made["metadata"]["additionalContext"]["date"] = date
    page = render_chat_preview(made)
    parsed = Page(page)
    assert not parsed.open
    assert "<script" not in page.lower()
    assert parsed.text.rstrip().endswith(FOOTER)
    assert all(href.lower().startswith(SCHEMES) for href in parsed.links())
