"""From an instance and its tags to a ``Tenant`` with its resolved policy (pure).

The tags a tenant may carry, besides the tenant tag itself:

- ``backupwatch:s3-prefix``: the tenant's folder, instead of the template's;
- ``backupwatch:max-age-hours``: its freshness window, instead of ``BACKUPWATCH_MAX_AGE_HOURS``.

A malformed value never stops the run: it becomes a problem on that tenant (status ``ERROR``),
and the checks that can still run are still reported.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from .config import SeedInstance, Settings
from .models import Tenant
from .naming import as_folder, render_prefix, template_fields

TAG_S3_PREFIX = "backupwatch:s3-prefix"
TAG_MAX_AGE_HOURS = "backupwatch:max-age-hours"


def tenant_from_instance(
    *,
    db_instance_identifier: str,
    region: str,
    tags: Mapping[str, str],
    backup_retention_period: int,
    settings: Settings,
    seed: SeedInstance | None = None,
    account_id: str | None = None,
) -> Tenant | None:
    """The tenant this instance is, or None when neither its tag nor the environment lists it.

    Name: the tenant tag's value, or the instance identifier when the value is empty (or the
    instance is listed only in the environment). Prefix precedence: the ``backupwatch:s3-prefix``
    tag, then ``S3_FOLDER_<n>``, then the template.
    """
    tagged = settings.tenant_tag in tags
    if not tagged and seed is None:
        return None
    name = tags.get(settings.tenant_tag, "").strip() if tagged else ""
    name = name or db_instance_identifier
    problems: list[str] = []

    prefix: str | None
    if TAG_S3_PREFIX in tags:
        override = tags[TAG_S3_PREFIX].strip()
        prefix = as_folder(override) if override else None
        if prefix is None:
            problems.append(f"tag {TAG_S3_PREFIX} is empty; remove it or name a folder")
    elif seed is not None and seed.s3_folder is not None:
        prefix = seed.s3_folder
    else:
        prefix = _templated_prefix(settings, name, db_instance_identifier, region, account_id)
        if prefix is None:
            problems.append(_NO_ACCOUNT_ID)

    max_age_hours = settings.max_age_hours
    if TAG_MAX_AGE_HOURS in tags:
        parsed = _positive_hours(tags[TAG_MAX_AGE_HOURS])
        if parsed is None:
            problems.append(
                f"tag {TAG_MAX_AGE_HOURS}={tags[TAG_MAX_AGE_HOURS]!r} is not a positive number "
                f"of hours; checked with the default {settings.max_age_hours:g} h"
            )
        else:
            max_age_hours = parsed

    return Tenant(
        name=name,
        db_instance_identifier=db_instance_identifier,
        region=region,
        account_id=account_id,
        s3_prefix=prefix,
        max_age_hours=max_age_hours,
        min_object_bytes=settings.min_object_bytes,
        backup_retention_period=backup_retention_period,
        source="tag+environment" if tagged and seed else "tag" if tagged else "environment",
        problems=tuple(problems),
    )


def tenant_not_found(
    seed: SeedInstance,
    *,
    settings: Settings,
    regions_searched: Sequence[str],
    regions_failed: Sequence[str] = (),
    account_id: str | None = None,
) -> Tenant:
    """A tenant listed in the environment whose instance no region returned.

    It is reported (``ERROR``), never dropped; its S3 folder is still checked.
    """
    region = ",".join(regions_searched)
    problem = f"DB instance not found in {', '.join(regions_searched)}"
    if regions_failed:
        problem += f" (could not list {', '.join(regions_failed)})"
    identifier = seed.db_instance_identifier
    problems = [problem]
    prefix = seed.s3_folder
    if (
        prefix is None
        and len(regions_searched) > 1
        and "region" in template_fields(settings.prefix_template)
    ):
        problems.append("the prefix template uses {region}, and the instance's region is unknown")
    elif prefix is None:
        prefix = _templated_prefix(settings, identifier, identifier, region, account_id)
        if prefix is None:
            problems.append(_NO_ACCOUNT_ID)
    return Tenant(
        name=seed.db_instance_identifier,
        db_instance_identifier=seed.db_instance_identifier,
        region=region,
        account_id=account_id,
        s3_prefix=prefix,
        max_age_hours=settings.max_age_hours,
        min_object_bytes=settings.min_object_bytes,
        source="environment",
        problems=tuple(problems),
    )


_NO_ACCOUNT_ID = (
    "the prefix template uses {account_id}, but the account id could not be read "
    "(sts:GetCallerIdentity failed; see the logs)"
)


def _templated_prefix(
    settings: Settings, tenant: str, identifier: str, region: str, account_id: str | None
) -> str | None:
    """The template's folder for this tenant; None when it needs an account id we lack."""
    if account_id is None and settings.uses_account_id:
        return None
    return render_prefix(
        settings.prefix_template,
        tenant=tenant,
        db_instance_identifier=identifier,
        region=region,
        account_id=account_id,
    )


def _positive_hours(text: str) -> float | None:
    try:
        hours = float(text.strip())
    except ValueError:
        return None
    return hours if math.isfinite(hours) and hours > 0 else None
