"""The naming convention: which S3 prefix holds a tenant's backups.

A template such as ``{tenant}-backups/`` is checked once, when settings load, and rendered per
tenant. A prefix is a folder: it always ends in ``/``, so tenant ``acme`` never sees the objects
of ``acme-eu/``.
"""

from __future__ import annotations

import string

PLACEHOLDERS = frozenset({"tenant", "db_instance_identifier", "region", "account_id"})
"""Names a prefix template may use."""

DEFAULT_TEMPLATE = "{tenant}-backups/"


def template_fields(template: str) -> frozenset[str]:
    """The placeholders ``template`` uses.

    Raises ``ValueError`` (with a message fit for an operator) for anything but plain
    ``{name}`` placeholders from ``PLACEHOLDERS``: format specs, conversions, positional or
    unknown names, unbalanced braces.
    """
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"not a valid template ({exc})") from None
    fields: set[str] = set()
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            known = ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS))
            raise ValueError(f"unknown placeholder {{{name}}}; known: {known}")
        if spec or conversion:
            raise ValueError(f"placeholder {{{name}}} takes no format spec or conversion")
        fields.add(name)
    return frozenset(fields)


def as_folder(prefix: str) -> str:
    """``prefix`` with exactly the trailing ``/`` that makes it a folder."""
    return prefix if prefix.endswith("/") else prefix + "/"


def render_prefix(
    template: str,
    *,
    tenant: str,
    db_instance_identifier: str,
    region: str,
    account_id: str | None = None,
) -> str:
    """The folder for one tenant. ``account_id`` is needed only if the template uses it."""
    if account_id is None and "account_id" in template_fields(template):
        raise ValueError("template uses {account_id} but no account id was given")
    rendered = template.format(
        tenant=tenant,
        db_instance_identifier=db_instance_identifier,
        region=region,
        account_id=account_id or "",
    )
    return as_folder(rendered)
