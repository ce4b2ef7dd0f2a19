"""Narrowing a run to some tenants or regions by name: the CLI's ``--tenant`` and ``--region``
(pure).

A region narrows what is listed: only the run's own regions can be asked for, so a typo is an
error before any AWS call, never a region silently skipped. A tenant name narrows what is
reported, not what is discovered: folder ownership (``ownership.assign_folders``) needs every
tenant of the bucket, or a tenant could be vouched for by another's objects; so the tenants are
picked after it, and a narrowed row is the very row of the whole run.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable

from backupwatch.core.config import Settings
from backupwatch.core.errors import SelectionError
from backupwatch.core.models import Report

SUGGESTIONS = 3
"""Close names offered for a tenant name that matched nothing."""


def configured_regions(settings: Settings) -> tuple[str, ...]:
    """Every region the run checks: ``BACKUPWATCH_REGIONS``, then the targets' own."""
    regions = [*settings.regions, *(r for target in settings.targets for r in target.regions)]
    return tuple(dict.fromkeys(regions))


def narrow_regions(settings: Settings, regions: Iterable[str]) -> tuple[str, ...]:
    """The run's regions that are among ``regions``, in the run's order.

    Raises ``SelectionError`` naming each region the run does not check: narrowing never adds
    a region (``BACKUPWATCH_REGIONS`` does), and a region that is not checked is said, not
    silently dropped.
    """
    asked = tuple(dict.fromkeys(regions))
    configured = configured_regions(settings)
    unknown = tuple(region for region in asked if region not in configured)
    if unknown:
        where = (
            "BACKUPWATCH_REGIONS and the targets' regions"
            if settings.targets
            else ("BACKUPWATCH_REGIONS, or the AWS region when it is unset")
        )
        raise SelectionError(
            f"{_names('region', unknown)} {'is' if len(unknown) == 1 else 'are'} not checked "
            f"by this run: its regions are "
            f"{', '.join(configured)} ({where}); a run can only be narrowed to them",
            names=unknown,
        )
    return tuple(region for region in configured if region in asked)


def unknown_tenants(
    names: Collection[str], report: Report, known: Collection[str]
) -> SelectionError | None:
    """The error for the ``names`` no row of the narrowed ``report`` has, or None.

    ``known`` is every tenant name the run discovered: the closest ones are suggested. When a
    region could not be listed, the tenant may be there: the message says so, and the error
    carries the report so that its region errors can be shown.
    """
    found = {row.tenant for row in report.tenants}
    missing = tuple(name for name in dict.fromkeys(names) if name not in found)
    if not missing:
        return None
    message = f"no tenant named {_quoted(missing)}"
    if report.region_errors:
        scopes = len(report.region_errors)
        message += (
            f" where backupwatch could look: {scopes} region(s) or scope(s) could not be "
            "checked, and the tenant may be there"
        )
    else:
        close = {
            match
            for name in missing
            for match in difflib.get_close_matches(name, sorted(known), n=SUGGESTIONS)
        }
        if close:
            message += f" (did you mean {_quoted(sorted(close))}?)"
        else:
            message += f" among the {len(known)} tenant(s) discovered"
    return SelectionError(message, names=missing, report=report)


def _names(what: str, names: tuple[str, ...]) -> str:
    return f"{what} {_quoted(names)}" if len(names) == 1 else f"{what}s {_quoted(names)}"


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(repr(name) for name in names)
