"""The publish ledger's records and decisions (pure): what a channel's record says, and what
an invocation may do about it.

One record per channel per run says whether that channel's message went out. The S3 side
(``backupwatch.aws.ledger``) writes records with conditional PUTs; everything it decides from
a record it has read is decided here, so the rules can be tested without S3:

- ``sent``: the message went out; nobody sends it again (``Skip``, ``sent=True``).
- ``failed``: the sender said it surely did not go out; the next invocation takes it over
  (``Retake``, attempt + 1).
- ``sending``: someone claimed it and has not said how it ended. While its lease runs, that
  invocation may be sending right now: ``Skip`` (``sent=False``, "in flight"). Once the lease
  has ended, the claimant is taken to be dead (timed out, crashed) and the channel is taken
  over (``Retake``). A claimant that was only slow sends a second time: that is the one
  at-least-once window, and ``lease_seconds`` must outlast the longest send to close it.
- A record equal to the one this invocation tried to write is its own write, landed although
  the answer was lost (a 5xx, then a retry that met its own object): ``Ours``. This is why a
  record carries ``owner`` (random per invocation): without it, two invocations writing at the
  same moment would write byte-identical records with identical ETags, and each would take the
  other's claim for its own.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, Field

from backupwatch.core.errors import BackupwatchError
from backupwatch.core.models import FrozenValue

LedgerState = Literal["sending", "sent", "failed"]
RECORD_VERSION: Literal[1] = 1
SCOPE_ID_CHARS = 16
"""Hex characters of sha256 kept for a scope's folder: 64 bits, short and collision-free in
practice (a record also names its scope, and a mismatch is refused, never trusted)."""
CHANNEL_SLUG_MAX = 80
"""The longest channel slug: keys stay readable in ``aws s3 ls`` and far below S3's 1,024."""
DETAIL_MAX = 300
"""The longest ``detail``: one line of a log, never a response body."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_URL = re.compile(r"(?P<origin>[A-Za-z][A-Za-z0-9+.-]*://[^/\s?#'\"]+)[^\s'\"]*")
_URL_PATH = re.compile(r"(?P<label>\burl: ?)/\S*", re.IGNORECASE)


class LedgerUnavailable(BackupwatchError):
    """The ledger could not say whether a channel was sent (S3 denied, missing, throttled out,
    or a record this version cannot read).

    The caller chooses: send anyway and say "not deduplicated", or hold the message back. It
    is raised by ``claim`` only; recording the outcome of a send never raises.
    """

    def __init__(self, channel: str, where: str, problem: str) -> None:
        self.channel = channel
        self.where = where
        self.problem = problem
        super().__init__(f"publish ledger unavailable for {channel!r} ({where}): {problem}")


class LedgerRecord(FrozenValue):
    """``<prefix>ledger/<run date>/<scope id>/<channel>.json``: one channel of one run.

    ``extra="forbid"`` and the version make a record written by a newer backupwatch
    unreadable here, which ``claim`` reports as ``LedgerUnavailable`` rather than guess.
    """

    version: Literal[1] = RECORD_VERSION
    state: LedgerState
    channel: str
    """The channel's name as the caller gave it (the key holds its slug)."""
    run_date: date
    scope: str
    owner: str
    """Which invocation wrote it: random per ``Ledger``, never a secret (see the module doc)."""
    claimed_at: AwareDatetime
    lease_until: AwareDatetime
    """Until when a ``sending`` record keeps other invocations off the channel."""
    attempt: int = Field(ge=1)
    detail: str | None = None
    """The message id when sent, the error when failed; never a secret (``clean_detail``)."""
    updated_at: AwareDatetime


@dataclass(frozen=True)
class Claim:
    """This invocation holds the channel: send, then report with ``sent`` or ``failed``.

    ``etag`` is the version of the record written by the claim; recording the outcome writes
    only over that version (``If-Match``), so a claim taken over by another invocation is
    never overwritten by the one it replaced.
    """

    channel: str
    key: str
    etag: str
    record: LedgerRecord
    note: str
    """Why the claim was granted: a first claim, a retry after a failure, or a lapsed lease."""


@dataclass(frozen=True)
class Skip:
    """This invocation must not send the channel.

    ``sent`` is True when the channel already went out; False when another invocation holds
    it ("in flight"): the caller reports it as not sent by this invocation.
    """

    channel: str
    reason: str
    sent: bool
    record: LedgerRecord | None = None


@dataclass(frozen=True)
class Ours:
    """The record read is the one this invocation tried to write: its write landed."""


@dataclass(frozen=True)
class Retake:
    """The channel may be claimed again: write ``record`` over the version just read."""

    record: LedgerRecord
    note: str


Decision = Ours | Retake | Skip


# --- keys ---------------------------------------------------------------------------------------


def scope_id(scope: str) -> str:
    """A short stable folder name for ``scope`` (``"eu-west-1,us-east-1"``): the scope itself
    can be long and hold characters S3 keys should not."""
    return hashlib.sha256(scope.encode("utf-8")).hexdigest()[:SCOPE_ID_CHARS]


def channel_slug(channel: str) -> str:
    """``channel`` as a readable, S3-safe file name (``[A-Za-z0-9._-]``).

    A safe, short name is kept as it is (``sns``, ``owner-topic.team-data``). Any other is
    made safe (``@`` reads ``_at_``, any other unsafe character ``_``), cut to length, and
    suffixed with 8 hex of its sha256: ``owner-email.alice_at_example.com-1a2b3c4d``. The
    suffix keeps distinct channels distinct (``a/b`` and ``a:b`` would both read ``a_b``): two
    channels sharing a record would let one's send skip the other.
    """
    if not channel:
        raise ValueError("a ledger channel needs a name")
    if not _UNSAFE.search(channel) and len(channel) <= CHANNEL_SLUG_MAX:
        return channel
    readable = _UNSAFE.sub("_", channel.replace("@", "_at_"))
    digest = hashlib.sha256(channel.encode("utf-8")).hexdigest()[:8]
    return f"{readable[: CHANNEL_SLUG_MAX - 9]}-{digest}"


def run_folder(prefix: str, run_date: date, scope: str) -> str:
    """``<prefix>ledger/YYYY-MM-DD/<scope id>/``: one run's records, listable together."""
    return f"{prefix}ledger/{run_date:%Y-%m-%d}/{scope_id(scope)}/"


def ledger_key(prefix: str, run_date: date, scope: str, channel: str) -> str:
    """``<prefix>ledger/YYYY-MM-DD/<scope id>/<channel slug>.json``."""
    return f"{run_folder(prefix, run_date, scope)}{channel_slug(channel)}.json"


# --- records ------------------------------------------------------------------------------------


def clean_detail(text: str | None) -> str | None:
    """``text`` fit for a record anyone with read access to the archive may see: one line, at
    most ``DETAIL_MAX`` characters, URLs cut to their origin.

    A webhook's URL *is* its secret (Slack's ``/services/T…/B…/<token>``), and an HTTP library's
    error text quotes it (``Max retries exceeded with url: /services/…``), so paths are dropped
    wherever they appear. Anything else secret is the caller's to keep out.
    """
    if text is None:
        return None
    line = " ".join(text.split())
    line = _URL.sub(lambda m: f"{m.group('origin')}/…", line)
    line = _URL_PATH.sub(lambda m: f"{m.group('label')}/…", line)
    if len(line) > DETAIL_MAX:
        line = line[: DETAIL_MAX - 1] + "…"
    return line or None


def lease_end(now: datetime, lease_seconds: float) -> datetime:
    return now + timedelta(seconds=lease_seconds)


def first_claim(
    channel: str, *, run_date: date, scope: str, owner: str, now: datetime, lease_seconds: float
) -> LedgerRecord:
    """The record a first claim writes (``If-None-Match: *``)."""
    return LedgerRecord(
        state="sending",
        channel=channel,
        run_date=run_date,
        scope=scope,
        owner=owner,
        claimed_at=now,
        lease_until=lease_end(now, lease_seconds),
        attempt=1,
        updated_at=now,
    )


def finished(
    claim: LedgerRecord, state: Literal["sent", "failed"], detail: str | None, now: datetime
) -> LedgerRecord:
    """The record that closes ``claim``: its outcome, when, and the (cleaned) detail."""
    return claim.model_copy(
        update={"state": state, "detail": clean_detail(detail), "updated_at": now}
    )


def decide(
    current: LedgerRecord,
    *,
    channel: str,
    run_date: date,
    scope: str,
    attempted: LedgerRecord | None,
    owner: str,
    now: datetime,
    lease_seconds: float,
) -> Decision:
    """What an invocation that found ``current`` (after its own write was refused) may do.

    ``attempted`` is the record it tried to write: finding exactly that one means the write
    landed after all. Raises ``LedgerUnavailable`` for a record of another channel, day or
    scope under this key (a bug, or a scope-id collision): trusting it could skip a channel.
    """
    if (current.channel, current.run_date, current.scope) != (channel, run_date, scope):
        raise LedgerUnavailable(
            channel,
            "record",
            f"the record belongs to channel {current.channel!r}, {current.run_date}, "
            f"scope {current.scope!r}",
        )
    if attempted is not None and current == attempted:
        return Ours()
    if current.state == "sent":
        said = f" {current.detail}" if current.detail else ""
        return Skip(channel, f"already sent{said}", sent=True, record=current)
    if current.state == "failed":
        note = f"retry: attempt {current.attempt} failed: {current.detail or 'no detail'}"
        return Retake(_retaken(current, owner, now, lease_seconds), note)
    if now >= current.lease_until:
        note = (
            f"take-over: attempt {current.attempt}, claimed at {_hms(current.claimed_at)}, "
            f"never finished; its lease ended at {_hms(current.lease_until)}"
        )
        return Retake(_retaken(current, owner, now, lease_seconds), note)
    return Skip(
        channel,
        f"in flight in another invocation (attempt {current.attempt}, claimed at "
        f"{_hms(current.claimed_at)}, lease until {_hms(current.lease_until)})",
        sent=False,
        record=current,
    )


def _hms(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%H:%M:%S} UTC"


def _retaken(
    current: LedgerRecord, owner: str, now: datetime, lease_seconds: float
) -> LedgerRecord:
    return current.model_copy(
        update={
            "state": "sending",
            "owner": owner,
            "claimed_at": now,
            "lease_until": lease_end(now, lease_seconds),
            "attempt": current.attempt + 1,
            "detail": None,
            "updated_at": now,
        }
    )
