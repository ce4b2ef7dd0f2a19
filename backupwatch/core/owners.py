"""Owner routing: who owns a tenant, and the notice each owner gets (pure).

A tenant names its owners in tag ``backupwatch:owner``: one or more *owner keys* separated by
spaces (AWS tag values cannot hold commas). A key is either

- a team key, ``[a-z0-9][a-z0-9._-]{0,63}`` (written in any case, kept in lowercase), which the
  operator's owner map turns into addresses (``parse_owner_map``); or
- an email address, ``local@domain`` (the domain kept in lowercase, the local part as written),
  which is used as is only when its domain is one the operator allows (``owner_recipients``): a
  tenant's tag must never be able to send fleet data to an arbitrary address.

Each owner gets a notice with only its own tenants (``owner_notices``), on top of the one central
digest, which is unchanged and still lists every tenant. A tenant of a scope that could not be
checked has no row, so it is in no owner's notice; ``scope_note`` says so in each notice.

Everything here validates with ASCII-only patterns *before* lowercasing: ``str.lower`` maps some
non-ASCII letters to ASCII ones (the Kelvin sign to ``k``), which would let a look-alike pass.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from typing import Literal

from backupwatch.core.changes import Changed, Changes
from backupwatch.core.models import FrozenValue, Report, RowKey, TenantReport

MAX_OWNERS = 5
"""The most owner keys one tenant's tag may name (after duplicates collapse)."""

_TEAM_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_EMAIL = re.compile(
    rf"(?P<local>{_ATEXT}(?:\.{_ATEXT})*)@(?P<domain>(?:{_LABEL}\.)+[A-Za-z]{{2,63}})"
)
"""A plain address (RFC 5322's dot-atom on both sides, ASCII only): no quoted local part, no
comments, no display name, no IP literal, at least two labels in the domain."""
_TAG_SEPARATORS = re.compile(r"[ \t]+")
"""Between the keys of a tag: spaces or tabs. Any other character (a newline, a control or
bidi character, a comma) is part of a key, and no key holds one, so the tag is refused."""
_ADDRESS_SEPARATORS = re.compile(r"[\s,]+")

TEAM_KEY_RULE = "a-z, 0-9, '.', '_' and '-', starting with a letter or digit, at most 64"


def _email(text: str) -> str | None:
    """``text`` as a normalised email address (domain in lowercase), or None."""
    match = _EMAIL.fullmatch(text)
    if match is None or len(match["local"]) > 64 or len(text) > 254:
        return None
    return f"{match['local']}@{match['domain'].lower()}"


def owner_key(text: str) -> str | None:
    """``text`` as a normalised owner key: a team key in lowercase, or an email address with
    its domain in lowercase; None when it is neither."""
    if _TEAM_KEY.fullmatch(text):
        return text.lower()
    return _email(text)


def is_address(key: str) -> bool:
    """Whether an owner key is an email address (rather than a team key)."""
    return "@" in key


def parse_owners(value: str) -> tuple[str, ...]:
    """The owner keys of a ``backupwatch:owner`` tag value, normalised, duplicates collapsed,
    in the order written.

    Raises ``ValueError`` saying what is wrong when any part is malformed: the whole tag is
    refused, never half used, so a typo cannot silently route a tenant to only some of its
    owners. The message is shown after the tag and its value.
    """
    text = value.strip(" \t")
    if not text:
        raise ValueError("names no owner")
    if "," in text:
        raise ValueError("holds a comma: separate owners with spaces")
    keys: dict[str, None] = {}
    for token in _TAG_SEPARATORS.split(text):
        key = owner_key(token)
        if key is None:
            raise ValueError(
                f"has {token[:64]!r}, which is neither a team key ({TEAM_KEY_RULE}) nor an "
                "email address"
            )
        keys[key] = None
    if len(keys) > MAX_OWNERS:
        raise ValueError(f"names {len(keys)} owners; at most {MAX_OWNERS}")
    return tuple(keys)


def parse_owner_map(raw: str) -> dict[str, tuple[str, ...]]:
    """Owner keys to email addresses, from ``team-data=a@example.com b@example.com;team-web=...``.

    ``;`` separates entries (blank ones, such as after a trailing ``;``, are ignored), ``=``
    separates an owner key (as in the tag: a team key, or an address to redirect) from its
    addresses, which are separated by spaces or commas. Keys and addresses are normalised like
    the tag's, and an entry's duplicate addresses collapse. Raises ``ValueError`` naming the
    entry on anything malformed: no ``=``, a bad key, a key mapped twice, no address, or
    something that is not an email address.
    """
    owners: dict[str, tuple[str, ...]] = {}
    where: dict[str, int] = {}
    for number, entry in enumerate(raw.split(";"), start=1):
        if not entry.strip():
            continue
        name, equals, addresses = entry.partition("=")
        name = name.strip()
        if not equals:
            raise ValueError(
                f"entry {number} {entry.strip()[:64]!r} has no '=': "
                "write owner=address [address ...]"
            )
        key = owner_key(name)
        if key is None:
            raise ValueError(
                f"entry {number}: {name[:64]!r} is neither a team key ({TEAM_KEY_RULE}) "
                "nor an email address"
            )
        if key in owners:
            raise ValueError(f"entry {number}: {key} is mapped twice (also in entry {where[key]})")
        found: dict[str, None] = {}
        for token in _ADDRESS_SEPARATORS.split(addresses.strip()):
            if not token:
                continue
            address = _email(token)
            if address is None:
                raise ValueError(
                    f"entry {number} ({key}): {token[:64]!r} is not an email address (local@domain)"
                )
            found[address] = None
        if not found:
            raise ValueError(f"entry {number} ({key}): names no address")
        owners[key] = tuple(found)
        where[key] = number
    return owners


def owner_recipients(
    owner: str,
    owner_map: Mapping[str, Collection[str]],
    *,
    allowed_domains: Collection[str],
) -> tuple[str, ...]:
    """The email addresses an owner's notice goes to.

    A key in ``owner_map`` (the operator's setting): its addresses, whatever their domains. An
    unmapped key that is itself an email address: that address, only if its domain is one of
    ``allowed_domains`` exactly (no subdomains: ``eu.example.com`` is its own entry). Anything
    else (an unmapped team key, an address of another domain, a key that is not a key at all,
    as a row read from JSON may hold): nobody, ``()``.
    """
    key = owner_key(owner)
    if key is None:
        return ()
    if key in owner_map:
        return tuple(owner_map[key])
    if not is_address(key):
        return ()
    allowed = {domain.strip().lower().rstrip(".") for domain in allowed_domains}
    return (key,) if key.rpartition("@")[2] in allowed else ()


class OwnerNotice(FrozenValue):
    """What one owner is told: its own tenants, and what changed for them."""

    owner: str
    """The owner key, as in the tag (normalised)."""
    report: Report
    """A report of this owner's rows only, all of them (its counts are the owner's own), with
    the run's ``generated_at``, ``regions``, ``checks`` and ``accounts``, and no
    ``region_errors``: a scope that could not be checked has no rows to route (``scope_note``)."""
    changes: Changes | None = None
    """The run's changes restricted to this owner's tenants (for ``gone`` and ``not_checked``,
    the owners of the tenant's previous row); None when ``owner_notices`` was given none."""
    failing: int
    """How many of the owner's tenants are failing (``TenantReport.failing``)."""
    all_clear: bool
    """True when none is: the owner asked to hear that too (``owner_notices``'s
    ``all_clear``)."""


def owner_notices(
    report: Report,
    *,
    changes: Changes | None = None,
    all_clear: Collection[str] | Literal["*"] = (),
) -> list[OwnerNotice]:
    """One notice per owner key with at least one failing tenant in ``report``, sorted by key.

    A tenant with several owners is in each of their notices. An owner none of whose tenants
    fails gets an all-clear notice only when ``all_clear`` names it (or is or holds ``"*"``),
    and only when it owns at least one tenant of this report. A row with a status this version
    does not know is failing (``TenantReport.failing`` says so), so it is routed like any
    failure.
    """
    if isinstance(all_clear, str) and all_clear != "*":
        raise TypeError(f"all_clear is '*' or a collection of owner keys, not {all_clear!r}")
    # "*" alone, or among the keys (as a setting holds it): every owner.
    every = all_clear == "*" or "*" in all_clear
    wanted = None if every else {owner_key(key) or key for key in all_clear}
    rows: dict[str, list[TenantReport]] = {}
    for row in report.tenants:
        for owner in dict.fromkeys(row.owners):
            rows.setdefault(owner, []).append(row)
    notices: list[OwnerNotice] = []
    for owner in sorted(rows):
        own = rows[owner]
        failing = sum(1 for row in own if row.failing)
        if not failing and wanted is not None and owner not in wanted:
            continue
        notices.append(
            OwnerNotice(
                owner=owner,
                report=Report(
                    generated_at=report.generated_at,
                    regions=report.regions,
                    checks=report.checks,
                    accounts=report.accounts,
                    tenants=tuple(own),
                ),
                changes=None if changes is None else owner_changes(changes, owner, rows=own),
                failing=failing,
                all_clear=not failing,
            )
        )
    return notices


def owner_changes(changes: Changes, owner: str, *, rows: Iterable[TenantReport] = ()) -> Changes:
    """``changes`` with only the tenants ``owner`` owns in each section, and only their streaks
    (``failing_since``): those of the sections' tenants and of ``rows``, the owner's rows now
    (a run with nothing to compare with has empty sections, yet streaks).

    A section's row is the tenant's row now, or for ``gone`` and ``not_checked`` its row in the
    previous report: an owner hears that its tenant is gone or could not be checked.
    """

    def mine(section: Iterable[Changed]) -> tuple[Changed, ...]:
        return tuple(item for item in section if owner in item.row.owners)

    sections = {
        name: mine(getattr(changes, name))
        for name in (
            "new_failures",
            "recovered",
            "still_failing",
            "gone",
            "not_checked",
            "new_tenants",
        )
    }
    keys: set[RowKey] = {item.row.key for section in sections.values() for item in section}
    keys.update(row.key for row in rows if owner in row.owners)
    return changes.model_copy(
        update={
            **sections,
            "failing_since": {k: v for k, v in changes.failing_since.items() if k in keys},
        }
    )


def scope_note(report: Report) -> str | None:
    """For every owner notice of a run that could not check some scopes: how many, and that
    their tenants (whose rows are unknown) are in no owner's notice; None when every scope was
    checked."""
    failed = len(report.region_errors)
    if not failed:
        return None
    several = report.accounts or any(error.account_id for error in report.region_errors)
    scopes = "scope(s)" if several else "region(s)"
    return (
        f"{failed} {scopes} could not be checked in this run; their tenants are in no owner's "
        "notice (see the central digest)."
    )
