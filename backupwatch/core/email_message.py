"""The digest as one email message (pure): plain text and HTML, as Amazon SES sends it raw.

SNS email subscriptions deliver plain text only; an email sent through SES can carry the HTML
digest (``html_email.py``) beside the plain one (``digest.py``). ``build_email`` builds the RFC
5322 message with the standard library's ``email`` package: a ``multipart/alternative`` of a
``text/plain`` part, then a ``text/html`` part (clients show the last part they can render, so
the HTML, and the text to the others), both UTF-8, and the bytes SES's ``SendEmail`` takes as
``Content={"Raw": {"Data": ...}}``.

What SES asks of a raw message, and how it is met here:

- *7-bit content.* SES does not support SMTPUTF8, and asks that non-ASCII content be encoded.
  Both parts are transfer-encoded as the ``email`` library decides, with a 7-bit policy
  (``cte_type="7bit"``: never ``8bit``): ``7bit`` for ASCII with short lines, else
  quoted-printable or base64, whichever its sample of the part's first lines says is shorter.
  For the digest that is quoted-printable for both: measured on the demo's email, the HTML
  is 33.7 KB quoted-printable against 43.2 KB in base64 (its ``=`` become ``=3D``, but it is
  mostly ASCII), and the whole message 57.9 KB. Gmail clips on the decoded HTML, which is
  what ``html_email.MAX_BYTES`` bounds; the largest digest email (both parts at their caps)
  is about 380 KB on the wire.
- *Lines of at most 1,000 characters* (RFC 5321; SES rejects longer ones). The HTML has long
  lines; encoded, every body line is at most 76 characters and headers are folded at 78
  (``email.policy.SMTP``). ``build_email`` checks that no line exceeds ``MAX_LINE_BYTES`` (998
  plus CRLF) before it returns.
- *Headers.* A non-ASCII subject ("Zürich", an emoji in a tenant's name) becomes RFC 2047
  encoded words; CR, LF and other control characters never reach a header (the subject's are
  folded into spaces, anything else with one is refused), so nothing can inject a ``Bcc:``.
  ``Date`` and ``Message-ID`` are left out: SES sets both, overriding any given
  (https://docs.aws.amazon.com/ses/latest/dg/header-fields.html), and leaving them out keeps
  this function pure: the same arguments give the same bytes.
- *Recipients.* The ``To`` header names the recipients when there are at most
  ``MAX_RECIPIENTS_PER_MESSAGE``; beyond that a message is sent per batch (``batches``) and the
  header says ``undisclosed-recipients:;`` (an empty group), because SES counts the addresses
  in the headers against the same per-message limit. Addresses are ASCII (``validate_address``):
  SES takes no SMTPUTF8 address, and a Unicode domain must be given in punycode.

The limits, from "Service quotas in Amazon SES"
(https://docs.aws.amazon.com/ses/latest/dg/quotas.html): at most 50 recipients per message; a
message (after base64 encoding) at most 10 MB through the SES v1 API, 40 MB through the v2 API
or SMTP. backupwatch sends through v2; a digest email is well under 1 MB (the HTML is capped at
``html_email.MAX_BYTES``, the text at ``digest.MESSAGE_MAX_BYTES``).
"""

from __future__ import annotations

import hashlib
import itertools
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from email.header import Header
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, parseaddr

MAX_RECIPIENTS_PER_MESSAGE = 50
"""SES: "Maximum number of recipients per message: 50", To, CC and BCC together
(https://docs.aws.amazon.com/ses/latest/dg/quotas.html)."""
MAX_MESSAGE_BYTES_V1 = 10_000_000
"""SES v1 API (``SendRawEmail``): 10 MB per message after base64 encoding, not adjustable
(https://docs.aws.amazon.com/ses/latest/dg/quotas.html). Counted as 10,000,000 bytes, the
smaller reading of "MB"."""
MAX_MESSAGE_BYTES_V2 = 40_000_000
"""SES v2 API (``SendEmail``, what ``backupwatch.aws.ses_email`` uses) or SMTP: 40 MB per
message after base64 encoding, not adjustable (same page); 40,000,000 bytes here."""
MAX_LINE_BYTES = 998
"""RFC 5322 2.1.1: a line is at most 998 characters plus CRLF (SES: "can't exceed 1,000")."""
RUN_HEADER = "X-Backupwatch-Run"
"""Names the run (``message_id_seed``), so a reader or a mail filter can tell two runs' emails
apart, and a repeated send of one run is visible as such."""
UNDISCLOSED_RECIPIENTS = "undisclosed-recipients:;"
"""The ``To`` header of a message sent in batches: an empty group (RFC 5322 3.4), no address."""
MAX_ADDRESS_CHARS = 254
"""An address (``local@domain``) at most: RFC 5321's 256-octet path, less its angle brackets."""
MAX_DISPLAY_NAME_CHARS = 100
"""A display name at most, so that even encoded (one word, base64) it stays one short line."""
MAX_HEADER_VALUE_CHARS = 200
"""An extra header's value, or the run seed, at most: one short line, never a page."""

# A 7-bit policy: never an 8bit part (SES wants non-ASCII content encoded); CRLF line ends,
# headers folded at 78 characters (email.policy.SMTP). refold_source="none": the address and
# subject headers are encoded and folded here (``_set_folded``) and must be written as they are.
_POLICY = SMTP.clone(cte_type="7bit", refold_source="none")
_FOLD_AT = 78
"""Header lines are folded to at most this many characters where they can be (RFC 5322's
"SHOULD"); only a single unbreakable word longer than that (a long address) makes a longer
line, and never one over ``MAX_LINE_BYTES``."""

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDR_SPEC = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+", re.ASCII)
"""A dot-atom local part (no quoted strings, no comments) at a domain of two or more labels."""
_NAMED = re.compile(r"(?P<name>[^<>]*)<(?P<address>[^<>]*)>")
_NAME_SPECIALS = frozenset('"(),:;<>@[\\]')
"""Characters a display name may not have here: each would need quoting or would end the
name, and a comma or semicolon would make one value two addresses."""
_HEADER_NAME = re.compile(r"[!-9;-~]+", re.ASCII)
"""RFC 5322 ``field-name``: printable ASCII but the colon, no space."""
_RESERVED_HEADERS = frozenset(
    {
        "from",
        "sender",
        "to",
        "cc",
        "bcc",
        "reply-to",
        "return-path",
        "subject",
        "date",
        "message-id",
        "mime-version",
        RUN_HEADER.lower(),
    }
)
"""Set by ``build_email`` itself (or by SES), or an address header that would bypass
``validate_address``: never taken from ``headers``. ``Content-*`` is refused too."""


def validate_address(value: str) -> str:
    """One email address, as configuration gives it: ``ops@example.com`` or
    ``Backup Ops <ops@example.com>``; returns it in canonical form, or raises ``ValueError``.

    Refused: anything that is not exactly one address (a comma or semicolon, two ``<...>``,
    an empty value), a quoted local part or a comment, a non-ASCII address (SES takes no
    SMTPUTF8 address; give a Unicode domain in punycode), an address longer than
    ``MAX_ADDRESS_CHARS``, a display name with a comma, quote, parenthesis, bracket, colon,
    semicolon, ``@`` or backslash, and any control character anywhere (CR and LF above all:
    ``"a@x.com\\nBcc: evil@x.com"`` is refused, never split into two headers). A display name
    may be non-ASCII ("Zürich Ops"): it is returned as an RFC 2047 encoded word, the form SES
    asks for in ``FromEmailAddress``, so the returned string is ASCII and fit for a header and
    for the SES API alike.
    """
    if not isinstance(value, str):
        raise ValueError(f"an email address must be text, not {type(value).__name__}")
    text = value.strip()  # spaces, tabs or a final newline around it, as files leave them
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise ValueError(f"{value!r}: control characters (a line break?) in an email address")
    if not text:
        raise ValueError("an email address is empty")
    if "," in text or ";" in text:
        raise ValueError(f"{value!r}: one email address only (no commas or semicolons)")
    named = _NAMED.fullmatch(text)
    if named is not None:
        name = " ".join(named.group("name").split())
        if len(name) >= 2 and name[0] == name[-1] == '"':  # "J. R. Ops", as returned here
            name = " ".join(name[1:-1].split())
        address = named.group("address").strip()
    elif "<" in text or ">" in text:
        raise ValueError(f"{value!r}: not 'address' or 'Name <address>'")
    else:
        name, address = "", text
    if not address.isascii():
        raise ValueError(
            f"{value!r}: the address must be ASCII (give a Unicode domain in punycode)"
        )
    if len(address) > MAX_ADDRESS_CHARS or not _ADDR_SPEC.fullmatch(address):
        raise ValueError(f"{value!r}: not an email address like ops@example.com")
    if len(address.partition("@")[0]) > 64:
        raise ValueError(f"{value!r}: the part before @ is longer than 64 characters")
    if len(name) > MAX_DISPLAY_NAME_CHARS:
        raise ValueError(
            f"{value!r}: a display name of at most {MAX_DISPLAY_NAME_CHARS} characters"
        )
    bad = sorted({ch for ch in name if ch in _NAME_SPECIALS})
    if bad:
        raise ValueError(f"{value!r}: the display name may not contain {''.join(bad)!r}")
    if not name:
        return address
    return formataddr((name, address), charset="utf-8")


def unique_addresses(values: Iterable[str]) -> list[str]:
    """``values`` validated (``validate_address``), in order, each address once: a second
    mention of an address (however capitalised, with or without a name) is dropped, so nobody
    gets the digest twice."""
    seen: set[str] = set()
    out: list[str] = []
    for value in values:
        canonical = validate_address(value)
        key = parseaddr(canonical)[1].lower()
        if key not in seen:
            seen.add(key)
            out.append(canonical)
    return out


def batches(recipients: Sequence[str], size: int = MAX_RECIPIENTS_PER_MESSAGE) -> list[list[str]]:
    """``recipients`` (validated and without repeats, see ``unique_addresses``) in batches of
    at most ``size``, in order: one SES message each. 120 recipients: 50, 50 and 20."""
    if size < 1:
        raise ValueError("a batch holds at least one recipient")
    unique = unique_addresses(recipients)
    return [unique[start : start + size] for start in range(0, len(unique), size)]


def build_email(
    *,
    subject: str,
    sender: str,
    recipients: Sequence[str],
    text: str,
    html: str,
    message_id_seed: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> bytes:
    """The raw RFC 5322 message (CRLF line ends, 7-bit) of a ``multipart/alternative`` email:
    ``text`` as its ``text/plain`` part, ``html`` as its ``text/html`` part, both UTF-8.

    ``sender`` and ``recipients`` are checked by ``validate_address`` (``ValueError`` names a
    bad one); the ``To`` header lists the recipients (each once) when they fit in one message
    (``MAX_RECIPIENTS_PER_MESSAGE``), else it is ``undisclosed-recipients:;`` and the sender
    addresses the batches (``batches``) through SES's ``Destination``. ``subject`` is made one
    line (line breaks and other control characters become spaces) and encoded when not ASCII.
    ``message_id_seed`` (the run's key) is sent as ``X-Backupwatch-Run``; the ``Message-ID``
    and ``Date`` are SES's. ``headers`` are extra header fields, one short line each (refused
    with ``ValueError``: a name that is not a field name, a control character in a value, or a
    header this function or SES sets, such as ``From``, ``Bcc`` or ``Content-Type``).

    The same arguments give the same bytes (no date, no random boundary).
    """
    from_ = validate_address(sender)
    to = unique_addresses(recipients)
    if not to:
        raise ValueError("an email needs at least one recipient")
    extra = _extra_headers(headers or {})
    message = EmailMessage(policy=_POLICY)
    one_message = len(to) <= MAX_RECIPIENTS_PER_MESSAGE
    _set_folded(message, "From", from_)
    _set_folded(message, "To", ", ".join(to) if one_message else UNDISCLOSED_RECIPIENTS)
    _set_folded(message, "Subject", _one_line(subject), text=True)
    if message_id_seed is not None:
        message[RUN_HEADER] = _header_value(RUN_HEADER, message_id_seed)
    for name, value in extra:
        message[name] = value
    message.set_content(text, charset="utf-8")
    message.add_alternative(html, subtype="html", charset="utf-8")  # QP or base64, see above
    for part in message.iter_parts():
        del part["MIME-Version"]  # the message's own, not each part's (add_alternative adds it)
    message.set_boundary(_boundary(message))
    raw = message.as_bytes(policy=_POLICY)
    longest = max((len(line) for line in raw.split(b"\r\n")), default=0)
    if longest > MAX_LINE_BYTES:  # the policy folds and encodes; this keeps it honest
        raise ValueError(f"a line of the email is {longest} bytes, over {MAX_LINE_BYTES}")
    return raw


def _boundary(message: EmailMessage) -> str:
    """A boundary derived from the parts (so the same arguments give the same bytes) that
    occurs in none of their encoded lines. ``email`` checks only the random boundaries it
    makes itself, not one that is set: a 7-bit text part may hold any line (a hostile tenant
    name), so the check is here."""
    encoded = "\n".join(str(part.get_payload()) for part in message.iter_parts())
    seed = hashlib.sha256(encoded.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    for attempt in itertools.count():
        boundary = f"=_backupwatch_{seed}_{attempt}"
        if boundary not in encoded:
            return boundary
    raise AssertionError("unreachable")  # pragma: no cover


def _set_folded(message: EmailMessage, name: str, value: str, *, text: bool = False) -> None:
    """Write header ``name`` encoded and folded here, not by ``email``'s folder.

    Python's folder (3.11) mangles the spaces around RFC 2047 encoded words: it turned
    "failing (zürich-db, 🦄-unicorn)" into "failing  (zürich-db,🦄-unicorn)", and a display
    name "Équipe …" into "É quipe …", as decoded by ``email`` itself. So: a non-ASCII subject is
    encoded whole by ``email.header.Header`` (encoded words cut between characters, every
    space inside a word, which decoders join back exactly); anything else is ASCII (the
    addresses, as ``validate_address`` returns them: a non-ASCII display name is one encoded
    word) and is folded only at its single spaces, which unfolding restores. ``set_raw``
    stores the result as it is, and the policy (``refold_source="none"``) writes it so.

    A ``text`` header (the subject) that merely contains ``=?`` is encoded too, so that a
    tenant named like an encoded word is shown as written, not decoded into something else.
    """
    if not value.isascii() or (text and "=?" in value):
        folded = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    else:
        lines = [f"{name}:"]
        for word in value.split(" "):
            if len(lines[-1]) + 1 + len(word) > _FOLD_AT and lines[-1] != f"{name}:":
                lines.append("")
            lines[-1] += f" {word}"
        folded = "\r\n".join(lines).removeprefix(f"{name}: ")
    message.set_raw(name, folded)


def _one_line(subject: str) -> str:
    """Control characters (CR, LF, tab, NUL...) to spaces, runs of spaces to one."""
    spaced = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in subject)
    return " ".join(spaced.split())


def _header_value(name: str, value: str) -> str:
    """One short line of printable ASCII (no encoded words: see ``_set_folded``)."""
    if not isinstance(value, str) or any(unicodedata.category(ch) == "Cc" for ch in value):
        raise ValueError(f"header {name}: {value!r} has a control character (a line break?)")
    if not value.isascii():
        raise ValueError(f"header {name}: {value!r} is not ASCII")
    if len(value) > MAX_HEADER_VALUE_CHARS:
        raise ValueError(f"header {name}: longer than {MAX_HEADER_VALUE_CHARS} characters")
    return value.strip()


def _extra_headers(headers: Mapping[str, str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a header field name")
        key = name.lower()
        if key in _RESERVED_HEADERS or key.startswith("content-"):
            raise ValueError(f"header {name} is set by build_email or by SES, not by the caller")
        if key in seen:
            raise ValueError(f"header {name} is given twice")
        seen.add(key)
        out.append((name, _header_value(name, value)))
    return out
