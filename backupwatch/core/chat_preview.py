"""A preview of the chat notification as a Slack channel shows it (pure): one HTML page.

``render_chat_notification`` (``backupwatch.core.chat``) writes an Amazon Q Developer in chat
applications custom notification: JSON whose title and description are Slack's markup
("mrkdwn"). Nobody reads JSON for what a channel will see, and a real channel needs an AWS
account, a Slack workspace and a day's wait. This renders the notification the way Slack shows
a message from the Amazon Q app, closely enough to judge it: the app's avatar (a CSS square
with a "Q"), its name with the "APP" badge and the notification's date, the title in bold, the
description from its markup, the next steps as a list and the keywords as chips. It is an
approximation, and says so in a footer: Amazon Q and Slack decide the real layout.

What mrkdwn the description may hold, and what it becomes here:

- ``*bold*``, ``_italic_``, ``~strike~`` (opening after a space, punctuation or the start of
  the line and before a non-space; closing after a non-space, on the same line; they nest, as
  in Slack); `` `code` `` and fenced `` ```code blocks``` `` (nothing is formatted inside);
- ``<url>`` and ``<url|text>`` are links when the URL is ``http(s)`` or ``mailto``; any other
  (``javascript:``, ``data:``) is shown as the text it is, never a link. ``<!here>``,
  ``<@U123>`` and ``<#C123|name>`` show as the mention they are. Bare ``http(s)`` URLs in the
  text are links, as Slack links them;
- lines starting with "• " (what ``chat.bullet`` writes) are a list; an indented line right
  after one (a runbook) stays with it; a line starting with ``>`` is a quote; blank lines are
  kept;
- ``&amp;``, ``&lt;`` and ``&gt;`` are Slack's escapes and show as ``&``, ``<``, ``>``.

Everything else is text: it is escaped for HTML character by character, so a tenant named
``<script>`` or ``&`` shows as those characters, and markup that does not close shows as the
characters it is. Control characters become spaces. The page has inline CSS only, no script
(its Content-Security-Policy forbids any), and no external font, image or stylesheet; the same
notification renders to the same bytes.

docs/chat-card.png is the demo's page (``backupwatch demo`` writes it beside the status page),
taken in headless Chromium as docs/status-page.png is, the window's height fitting the card::

    backupwatch demo >/dev/null
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=760,1356 \\
      --screenshot=docs/chat-card.png "file://$PWD/backupwatch-chat-preview.html"
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterator, Mapping
from typing import Any

FOOTER = (
    "Preview rendered by backupwatch from the notification JSON; Slack's own rendering may differ."
)
APP_NAME = "Amazon Q"
LINK_SCHEMES = ("https://", "http://", "mailto:")
"""The only targets that become links: a ``javascript:`` or ``data:`` URL is text."""
SPECIAL_MENTIONS = {"here": "@here", "channel": "@channel", "everyone": "@everyone"}
BULLETS = ("• ", "◦ ", "▪ ")

_ENTITY = re.compile(r"&(amp|lt|gt);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}
_BARE_URL = re.compile(r"https?://(?:[^\s<>\"'`|&]|&(?!lt;|gt;))+", re.IGNORECASE)
"""A web address in text, as far as a space, a quote, a ``|`` or Slack's ``&lt;``/``&gt;``."""
_URL_TRAILER = ".,;:!?)]}'\"*_~`"
_FENCE = re.compile(r"```(.*?)```", re.DOTALL)
_STYLE = {"*": "b", "_": "i", "~": "s"}


def render_chat_preview(notification: Mapping[str, Any]) -> str:
    """The custom notification ``notification`` (as ``render_chat_notification`` returns it,
    or parsed from its JSON) as a standalone HTML page that looks like the Slack message.

    Fields that are missing or not of their type (no description, no next steps, a number
    where text goes) are left out; the page never fails on what a notification holds.
    """
    content = _mapping(notification.get("content"))
    metadata = _mapping(notification.get("metadata"))
    context = _mapping(metadata.get("additionalContext"))
    title = _text(content.get("title"))
    description = _text(content.get("description"))
    steps = [step for step in _texts(content.get("nextSteps")) if step.strip()]
    keywords = [word for word in _texts(content.get("keywords")) if word.strip()]
    when = _text(context.get("date")).strip()

    body: list[str] = []
    if title.strip():
        body.append(f"<div class=title>{render_mrkdwn_line(title)}</div>\n")
    if description.strip():
        body.append(f"<div class=text>\n{render_mrkdwn(description)}</div>\n")
    if steps:
        items = "".join(f"<li>{render_mrkdwn_line(step)}</li>\n" for step in steps)
        body.append(f"<div class=steps><b>Next steps</b>\n<ol>\n{items}</ol></div>\n")
    if keywords:
        chips = "".join(f"<span class=chip>{_e(word)}</span>" for word in keywords)
        body.append(f"<div class=chips>{chips}</div>\n")
    stamp = f" <span class=time>{_e(when)}</span>" if when else ""
    page_title = _plain(title) or "Amazon Q notification"
    return (
        "<!DOCTYPE html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n"
        "<meta http-equiv=Content-Security-Policy "
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
        "<meta name=viewport content='width=device-width, initial-scale=1'>\n"
        f"<title>{_e(page_title)} (chat preview)</title>\n<style>\n{_CSS}</style>\n</head>\n"
        "<body>\n<main class=message>\n"
        "<div class=avatar aria-hidden=true>Q</div>\n<div class=content>\n"
        f"<div class=head><b class=app>{APP_NAME}</b> <span class=badge>APP</span>{stamp}</div>\n"
        f"<div class=card>\n{''.join(body)}</div>\n</div>\n</main>\n"
        f"<footer>{_e(FOOTER)}</footer>\n</body>\n</html>\n"
    )


# --- mrkdwn -----------------------------------------------------------------------------------


def render_mrkdwn(text: str) -> str:
    """Slack mrkdwn ``text`` (several lines) as HTML blocks: lines, lists, quotes, code
    blocks and blank lines. Any text renders; only this module's tags are made."""
    out: list[str] = []
    rest = text.replace("\r\n", "\n")
    while rest:
        fence = _FENCE.search(rest)
        before = rest if fence is None else rest[: fence.start()].removesuffix("\n")
        out.extend(_blocks(before))
        if fence is None:
            break
        out.append(f"<pre>{_e(_decode(fence.group(1).strip(chr(10))))}</pre>\n")
        rest = rest[fence.end() :].removeprefix("\n")
    return "".join(out)


def render_mrkdwn_line(text: str) -> str:
    """Slack mrkdwn ``text`` as inline HTML, its line breaks as ``<br>``."""
    return "<br>".join(_inline(_clean(line)) for line in text.replace("\r\n", "\n").split("\n"))


def _blocks(text: str) -> Iterator[str]:
    """Lines, grouped: consecutive bullets in one list (an indented line after a bullet
    continues it), consecutive quote lines in one quote."""
    if not text:
        return
    lines = [_clean(line) for line in text.split("\n")]
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith(BULLETS):
            items: list[str] = []
            while index < len(lines) and lines[index].startswith(BULLETS):
                item = _inline(lines[index][2:])
                index += 1
                while index < len(lines) and lines[index][:1].isspace() and lines[index].strip():
                    item += f"<br>{_inline(lines[index].strip())}"
                    index += 1
                items.append(f"<li>{item}</li>\n")
            yield f"<ul>\n{''.join(items)}</ul>\n"
        elif line.startswith((">", "&gt;")):
            quoted: list[str] = []
            while index < len(lines) and lines[index].startswith((">", "&gt;")):
                quoted.append(_inline(_unquote(lines[index])))
                index += 1
            yield f"<blockquote>{'<br>'.join(quoted)}</blockquote>\n"
        else:
            yield f"<p>{_inline(line)}</p>\n" if line.strip() else "<p class=gap></p>\n"
            index += 1


def _unquote(line: str) -> str:
    rest = line[1:] if line.startswith(">") else line[4:]
    return rest.removeprefix(" ")


def _inline(text: str) -> str:
    """One line of mrkdwn as inline HTML: code spans, ``<...>`` sequences, then styles."""
    out: list[str] = []
    plain_from = index = 0
    while index < len(text):
        char = text[index]
        made: str | None = None
        end = index
        if char == "`":
            close = text.find("`", index + 1)
            if close > index + 1:
                made, end = f"<code>{_e(_decode(text[index + 1 : close]))}</code>", close + 1
        elif char == "<":
            close = text.find(">", index + 1)
            if close > index + 1 and "<" not in text[index + 1 : close]:
                made, end = _angle(text[index + 1 : close]), close + 1
        elif char in "hH" and (index == 0 or not _word(text[index - 1])):
            url = _bare_url(text, index)
            if url:
                made, end = _link(_decode(url)), index + len(url)
        elif char in _STYLE and _opens(text, index):
            closing = _closing(text, index)
            if closing is not None:
                tag = _STYLE[char]
                made, end = f"<{tag}>{_inline(text[index + 1 : closing])}</{tag}>", closing + 1
        if made is None:
            index += 1
            continue
        out.append(_plain_html(text[plain_from:index]))
        out.append(made)
        plain_from = index = end
    out.append(_plain_html(text[plain_from:]))
    return "".join(out)


def _opens(text: str, index: int) -> bool:
    """Slack's rule, roughly: a style opens at the start or after a non-word character, and
    is followed by a non-space (so ``snake_case`` and ``2 * 3`` stay as they are)."""
    before = text[index - 1] if index else " "
    after = text[index + 1] if index + 1 < len(text) else " "
    return not _word(before) and not after.isspace() and after != text[index]


def _closing(text: str, start: int) -> int | None:
    """Where the style opened at ``start`` closes: the next same character after a non-space
    and before a non-word character or the end."""
    mark = text[start]
    close = text.find(mark, start + 2)
    while close != -1:
        after = text[close + 1] if close + 1 < len(text) else " "
        if not text[close - 1].isspace() and not _word(after):
            return close
        close = text.find(mark, close + 1)
    return None


def _word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _angle(inner: str) -> str:
    """A ``<...>`` sequence: a mention, a link (``http(s)``, ``mailto``), or its own text."""
    target, _bar, label = inner.partition("|")
    if target.startswith("!"):
        command = target[1:].split("^", 1)[0]
        shown = label or SPECIAL_MENTIONS.get(command) or f"@{command}"
        return f"<span class=mention>{_e(_decode(shown))}</span>"
    if target.startswith(("@", "#")):
        shown = f"{target[0]}{label}" if label else target
        return f"<span class=mention>{_e(_decode(shown))}</span>"
    url = _decode(target).strip()
    if _linkable(url):
        return _link(url, _decode(label) if label else None)
    return _e(f"<{_decode(inner)}>")


def _linkable(url: str) -> bool:
    return url.lower().startswith(LINK_SCHEMES) and not any(c.isspace() for c in url)


def _bare_url(text: str, index: int) -> str:
    """The web address starting at ``index`` (as Slack links one in text), without the
    punctuation that ends a sentence around it; "" when there is none."""
    match = _BARE_URL.match(text, index)
    if match is None:
        return ""
    url = match.group().rstrip(_URL_TRAILER)
    return url if len(url) > len(url.split("://", 1)[0]) + 3 else ""


def _link(url: str, label: str | None = None) -> str:
    return f'<a href="{_e(url)}">{_e(url if label is None else label)}</a>'


def _plain_html(text: str) -> str:
    """Plain mrkdwn text: Slack's escapes decoded, the rest escaped."""
    return _e(_decode(text))


def _decode(text: str) -> str:
    """Slack's three escapes, in one pass (``&amp;lt;`` is the text ``&lt;``)."""
    return _ENTITY.sub(lambda match: _ENTITIES[match.group(1)], text)


def _plain(text: str) -> str:
    """A one-line title as text (for ``<title>``): its escapes decoded, its marks kept."""
    return " ".join(_decode(_clean(text)).split())


# --- values -----------------------------------------------------------------------------------


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _texts(value: Any) -> list[str]:
    if not isinstance(value, list | tuple):
        return []
    return [item for item in value if isinstance(item, str)]


def _clean(text: str) -> str:
    """Control characters as spaces and lone surrogates as U+FFFD: what HTML cannot carry."""
    if text.isprintable():
        return text
    return "".join(_clean_char(char) for char in text)


def _clean_char(char: str) -> str:
    category = unicodedata.category(char)
    if category == "Cc":
        return " "
    return "\ufffd" if category == "Cs" else char


def _e(text: str) -> str:
    """Escaped for HTML text and quoted attributes."""
    return html.escape(_clean(text), quote=True)


# --- style ------------------------------------------------------------------------------------

# Slack's message look, approximately: its colours and sizes, the system's sans-serif (no
# external font), a 36 px rounded avatar, and the notification in a card with a bar on its left.
_CSS = """\
*{box-sizing:border-box}
html{background:#fff}
body{margin:0;padding:20px 20px 14px;color:#1d1c1d;
font:15px/1.47 -apple-system,BlinkMacSystemFont,"Segoe UI",Lato,"Helvetica Neue",Helvetica,
"DejaVu Sans",Arial,sans-serif;-webkit-font-smoothing:antialiased}
.message{display:flex;gap:8px;max-width:720px}
.avatar{flex:0 0 36px;width:36px;height:36px;border-radius:6px;
background:#5a3fd9;color:#fff;
font:700 20px/36px "Helvetica Neue",Arial,"DejaVu Sans",sans-serif;text-align:center}
.content{flex:1 1 auto;min-width:0}
.head{line-height:22px;margin-top:-3px}
.app{font-weight:900;color:#1d1c1d}
.badge{display:inline-block;margin-left:2px;padding:0 3px;border-radius:2px;
background:rgba(29,28,29,.13);color:rgba(29,28,29,.7);font-size:10px;font-weight:700;
line-height:14px;vertical-align:1px}
.time{margin-left:4px;color:#616061;font-size:12px}
.card{margin-top:4px;padding:2px 0 2px 12px;border-left:4px solid #dddddd;border-radius:2px;
overflow-wrap:anywhere}
.title{font-weight:700;margin-bottom:4px}
.text p{margin:0;white-space:pre-wrap}
.text p.gap{height:.75em}
ul,ol{margin:0;padding:0 0 0 22px}
ul{list-style:none}
ul li{position:relative}
ul li::before{content:"\\2022";position:absolute;left:-14px}
blockquote{margin:0;padding-left:12px;border-left:4px solid #dddddd}
code{padding:1px 3px;border:1px solid rgba(29,28,29,.13);border-radius:3px;
background:rgba(29,28,29,.04);color:#e01e5a;
font:12px/1.5 Monaco,Menlo,Consolas,"DejaVu Sans Mono",monospace}
pre{margin:4px 0;padding:8px;border:1px solid rgba(29,28,29,.13);border-radius:4px;
background:rgba(29,28,29,.04);font:12px/1.5 Monaco,Menlo,Consolas,"DejaVu Sans Mono",monospace;
white-space:pre-wrap}
a{color:#1264a3;text-decoration:none}
.mention{padding:0 2px;border-radius:3px;background:rgba(29,155,209,.1);color:#1264a3}
.steps{margin-top:8px}
.chips{margin-top:8px;display:flex;flex-wrap:wrap;gap:4px}
.chip{padding:0 6px;border-radius:4px;background:#f0f0f0;color:#616061;font-size:12px;
line-height:20px}
footer{max-width:720px;margin-top:16px;padding-top:8px;border-top:1px solid #e8e8e8;
color:#868686;font-size:12px}
"""
