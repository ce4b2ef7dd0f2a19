"""From a DB instance or cluster and its tags to a ``Tenant`` with its resolved policy (pure).

The tags a tenant may carry, besides the tenant tag itself:

- ``backupwatch:s3-prefix``: the tenant's folder, instead of the template's;
- ``backupwatch:max-age-hours``: its freshness window, instead of ``BACKUPWATCH_MAX_AGE_HOURS``;
- ``backupwatch:min-object-bytes``: its smallest countable object, instead of
  ``BACKUPWATCH_MIN_OBJECT_BYTES``;
- ``backupwatch:checks``: which of the run's checks apply to it (``s3`` for a tenant whose RDS
  backups are someone else's business);
- ``backupwatch:paused-until``: an ISO date or date and time before which it is ``PAUSED``;
- ``backupwatch:runbook``: a URL the digest shows next to its failure.
- ``backupwatch:owner``: who owns it, one or more owner keys (team keys or email addresses)
  separated by spaces, each of which gets a notice with only its own tenants
  (``backupwatch.core.owners``).

The operator bounds what these tags may loosen (``BACKUPWATCH_TAG_*``: the longest window, the
smallest minimum size, the longest pause, whether a check may be switched off). A tag beyond a
bound is a problem like a malformed one; a tag within them that loosens the defaults is a note.

A malformed value never stops the run: it becomes a problem on that tenant (status ``ERROR``),
and the checks that can still run are still reported, with the default for the bad tag. Nothing
here knows the time: whether a pause is over is decided in ``evaluation``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from backupwatch.core.config import (
    EVIDENCE_CHECKS,
    MAX_HOURS,
    REGION_NAME,
    SeedInstance,
    Settings,
)
from backupwatch.core.evaluation import format_time
from backupwatch.core.integrity import DumpFormat
from backupwatch.core.models import Check, Kind, Tenant
from backupwatch.core.naming import as_folder, render_prefix, template_fields
from backupwatch.core.owners import parse_owners

TAG_S3_PREFIX = "backupwatch:s3-prefix"
TAG_MAX_AGE_HOURS = "backupwatch:max-age-hours"
TAG_MIN_OBJECT_BYTES = "backupwatch:min-object-bytes"
TAG_CHECKS = "backupwatch:checks"
TAG_PAUSED_UNTIL = "backupwatch:paused-until"
TAG_RUNBOOK = "backupwatch:runbook"
TAG_OWNER = "backupwatch:owner"
TAG_SIZE_DROP_RATIO = "backupwatch:size-drop-ratio"
TAG_DUMP_FORMAT = "backupwatch:dump-format"
TAG_VERIFY_CHECKSUM = "backupwatch:verify-checksum"
TAG_OBJECT_LOCK_MIN_DAYS = "backupwatch:object-lock-min-days"
TAG_RDS_BACKUP_RULE = "backupwatch:rds-backup-rule"
TAG_MIN_RETENTION_DAYS = "backupwatch:min-retention-days"
TAG_REQUIRE_ENCRYPTION = "backupwatch:require-encryption"
TAG_DAILY_BACKUP_DAYS = "backupwatch:daily-backup-days"
TAG_COPY_REGIONS = "backupwatch:copy-regions"

# The settings that bound what a tag may do, named in the problem of a tag beyond them.
BOUND_WINDOW = "BACKUPWATCH_TAG_WINDOW_LIMIT_HOURS"
BOUND_FLOOR = "BACKUPWATCH_TAG_MIN_OBJECT_BYTES_FLOOR"
BOUND_PAUSE = "BACKUPWATCH_TAG_PAUSE_LIMIT_DAYS"
BOUND_CHECKS = "BACKUPWATCH_TAG_MAY_SKIP_CHECKS"

S3_MAX_OBJECT_BYTES = 5 * 1024**4
"""5 TiB: a minimum above it could never be met, so it is a malformed tag, not a policy."""

# RDS tag values cannot contain commas, so a space, "+" or "/" separates checks too.
_WHOLE_DAYS = re.compile(r"[0-9]{1,6}")
_CHECK_SEPARATORS = re.compile(r"[\s,+/]+")
_URL = re.compile(r"^https?://\S+$")


@dataclass(frozen=True)
class Resource:
    """What one Describe call says about a DB instance or DB cluster, as tenancy needs it.

    Discovery fills it from ``DescribeDBInstances`` / ``DescribeDBClusters``; nothing here is an
    extra API call.
    """

    identifier: str
    region: str
    tags: Mapping[str, str]
    backup_retention_period: int
    kind: Kind = "instance"
    resource_id: str | None = None
    db_cluster_identifier: str | None = None
    members: tuple[str, ...] = ()
    engine: str | None = None
    status: str | None = None
    created_at: datetime | None = None
    read_replica_source: str | None = None
    latest_restorable_time: datetime | None = None
    arn: str | None = None
    storage_encrypted: bool | None = None
    kms_key_id: str | None = None


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
    """The tenant this DB instance is, or None (see ``tenant_from_resource``)."""
    resource = Resource(
        identifier=db_instance_identifier,
        region=region,
        tags=tags,
        backup_retention_period=backup_retention_period,
    )
    return tenant_from_resource(resource, settings=settings, seed=seed, account_id=account_id)


def tenant_from_resource(
    resource: Resource,
    *,
    settings: Settings,
    seed: SeedInstance | None = None,
    account_id: str | None = None,
) -> Tenant | None:
    """The tenant this instance or cluster is, or None when neither its tag nor the environment
    lists it.

    Name: the tenant tag's value, or the identifier when the value is empty (or the resource is
    listed only in the environment). Prefix precedence: the ``backupwatch:s3-prefix`` tag, then
    ``S3_FOLDER_<n>``, then the template. Whether a cluster member may be a tenant is decided by
    discovery, which knows the clusters; here a member is a tenant like any instance.
    """
    tags = resource.tags
    db_instance_identifier = resource.identifier
    region = resource.region
    tagged = settings.tenant_tag in tags
    if not tagged and seed is None:
        return None
    name = tags.get(settings.tenant_tag, "").strip() if tagged else ""
    name = name or db_instance_identifier
    problems: list[str] = []
    notes: list[str] = []

    prefix: str | None
    prefix_source: Literal["tag", "environment", "template"] = "template"
    if TAG_S3_PREFIX in tags:
        prefix_source = "tag"
        override = tags[TAG_S3_PREFIX].strip()
        prefix = as_folder(override) if override else None
        if prefix is None:
            problems.append(f"tag {TAG_S3_PREFIX} is empty; remove it or name a folder")
    elif seed is not None and seed.s3_folder is not None:
        prefix = seed.s3_folder
        prefix_source = "environment"
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
        elif parsed > MAX_HOURS:
            problems.append(
                f"tag {TAG_MAX_AGE_HOURS}={tags[TAG_MAX_AGE_HOURS]!r} is more than {MAX_HOURS:g} "
                f"hours (10 years); checked with the default {settings.max_age_hours:g} h"
            )
        elif parsed > settings.tag_window_limit:
            problems.append(
                f"tag {TAG_MAX_AGE_HOURS}={tags[TAG_MAX_AGE_HOURS]!r} is beyond the operator's "
                f"bound of {settings.tag_window_limit:g} h ({BOUND_WINDOW}); checked with the "
                f"default {settings.max_age_hours:g} h"
            )
        else:
            max_age_hours = parsed

    min_object_bytes = settings.min_object_bytes
    if TAG_MIN_OBJECT_BYTES in tags:
        size = _whole_bytes(tags[TAG_MIN_OBJECT_BYTES])
        if size is not None and size > S3_MAX_OBJECT_BYTES:
            problems.append(
                f"tag {TAG_MIN_OBJECT_BYTES}={tags[TAG_MIN_OBJECT_BYTES][:40]!r} is more than "
                f"{S3_MAX_OBJECT_BYTES} B, the largest object S3 stores; checked with the "
                f"default {settings.min_object_bytes} B"
            )
        elif size is None:
            problems.append(
                f"tag {TAG_MIN_OBJECT_BYTES}={tags[TAG_MIN_OBJECT_BYTES]!r} is not a whole "
                f"number of bytes (0 or more); checked with the default "
                f"{settings.min_object_bytes} B"
            )
        elif size < settings.tag_min_object_bytes_floor:
            problems.append(
                f"tag {TAG_MIN_OBJECT_BYTES}={tags[TAG_MIN_OBJECT_BYTES]!r} is below the "
                f"operator's bound of {settings.tag_min_object_bytes_floor} B ({BOUND_FLOOR}); "
                f"checked with the default {settings.min_object_bytes} B"
            )
        else:
            min_object_bytes = size

    checks: tuple[Check, ...] | None = None
    if TAG_CHECKS in tags:
        checks = _tenant_checks(tags[TAG_CHECKS], settings, problems, notes)

    paused_until: datetime | None = None
    if TAG_PAUSED_UNTIL in tags:
        paused_until = parse_pause(tags[TAG_PAUSED_UNTIL])
        if paused_until is None:
            problems.append(
                f"tag {TAG_PAUSED_UNTIL}={tags[TAG_PAUSED_UNTIL]!r} is not an ISO date "
                "(2026-12-01) or date and time (2026-12-01T09:00Z); not paused"
            )

    runbook: str | None = None
    if TAG_RUNBOOK in tags:
        runbook = tags[TAG_RUNBOOK].strip()
        if not _URL.match(runbook):
            problems.append(
                f"tag {TAG_RUNBOOK}={tags[TAG_RUNBOOK]!r} is not an http:// or https:// URL"
            )
            runbook = None

    owners: tuple[str, ...] = ()
    if TAG_OWNER in tags:
        # Like a bad runbook: a problem (ERROR, in the central digest), and none of it is used,
        # so a typo never routes the tenant to only some of its owners.
        try:
            owners = parse_owners(tags[TAG_OWNER])
        except ValueError as error:
            problems.append(
                f"tag {TAG_OWNER}={tags[TAG_OWNER][:80]!r} {error}; the tenant is in no "
                "owner's notice"
            )

    integrity = _integrity_tags(tags, settings, problems)
    controls = _control_tags(tags, settings, problems)

    notes.extend(
        loosened(
            settings, max_age_hours=max_age_hours, min_object_bytes=min_object_bytes, checks=checks
        )
    )
    return Tenant(
        name=name,
        db_instance_identifier=db_instance_identifier,
        region=region,
        kind=resource.kind,
        resource_id=resource.resource_id,
        db_cluster_identifier=resource.db_cluster_identifier,
        members=resource.members,
        engine=resource.engine,
        resource_status=resource.status,
        created_at=resource.created_at,
        read_replica_source=resource.read_replica_source,
        latest_restorable_time=resource.latest_restorable_time,
        resource_arn=resource.arn,
        storage_encrypted=resource.storage_encrypted,
        kms_key_id=resource.kms_key_id,
        account_id=account_id,
        s3_prefix=prefix,
        prefix_source=prefix_source,
        max_age_hours=max_age_hours,
        min_object_bytes=min_object_bytes,
        backup_retention_period=resource.backup_retention_period,
        source="tag+environment" if tagged and seed else "tag" if tagged else "environment",
        checks=checks,
        paused_until=paused_until,
        runbook=runbook,
        owners=owners,
        problems=tuple(problems),
        notes=tuple(notes),
        **integrity,
        **controls,
    )


def _control_tags(
    tags: Mapping[str, str], settings: Settings, problems: list[str]
) -> dict[str, Any]:
    """The tenant's policy-control tags, each within the operator's bounds: a tag may ask for
    more (both kinds of evidence, longer retention, encryption, more days in a row), never
    less. A tag that would loosen the policy is a problem (the tenant is ERROR) and the
    setting applies."""
    fields: dict[str, Any] = {}
    if TAG_RDS_BACKUP_RULE in tags:
        raw = tags[TAG_RDS_BACKUP_RULE]
        text = raw.strip().lower()
        if text not in ("both", "either"):
            problems.append(
                f"tag {TAG_RDS_BACKUP_RULE}={raw[:40]!r} is not both or either; checked with "
                f"BACKUPWATCH_RDS_BACKUP_RULE={settings.rds_backup_rule}"
            )
        elif text == "either" and settings.rds_backup_rule == "both":
            problems.append(
                f"tag {TAG_RDS_BACKUP_RULE}={raw!r} cannot loosen "
                "BACKUPWATCH_RDS_BACKUP_RULE=both; both are required"
            )
        else:
            fields["rds_backup_rule"] = text
    for tag, field, setting, most in (
        (TAG_MIN_RETENTION_DAYS, "min_retention_days", "BACKUPWATCH_MIN_RETENTION_DAYS", 36_500),
        (TAG_DAILY_BACKUP_DAYS, "daily_backup_days", "BACKUPWATCH_DAILY_BACKUP_DAYS", 35),
    ):
        if tag not in tags:
            continue
        text = tags[tag].strip()
        least: int = getattr(settings, field) or 0
        # ASCII digits only: str.isdigit() takes '²' and '٣', which int() refuses or reads.
        days = int(text) if _WHOLE_DAYS.fullmatch(text) else None
        if days is None or not 1 <= days <= most:
            applies = f"checked with {least} days" if least else "the control stays off"
            problems.append(
                f"tag {tag}={text[:40]!r} is not a whole number of days, 1 to {most}; {applies}"
            )
        elif days < least:
            problems.append(
                f"tag {tag}={text!r} is below the operator's {setting}={least}; "
                f"checked with {least} days"
            )
        else:
            fields[field] = days
    if TAG_COPY_REGIONS in tags:
        text = tags[TAG_COPY_REGIONS]
        regions = [r for r in _CHECK_SEPARATORS.split(text.strip()) if r]
        bad = [r for r in regions if not REGION_NAME.match(r)]
        if bad or not regions:
            problems.append(
                f"tag {TAG_COPY_REGIONS}={text[:60]!r} is not a list of region names "
                "(like eu-central-1 us-east-1)"
            )
        else:
            # On top of the setting's: a tag adds copy regions, never removes one.
            fields["copy_regions"] = tuple(dict.fromkeys(regions))
    if TAG_REQUIRE_ENCRYPTION in tags:
        text = tags[TAG_REQUIRE_ENCRYPTION].strip().lower()
        if text in ("true", "yes", "on", "1"):
            fields["require_encrypted_backups"] = True
        elif text not in ("false", "no", "off", "0"):
            problems.append(
                f"tag {TAG_REQUIRE_ENCRYPTION}={tags[TAG_REQUIRE_ENCRYPTION][:40]!r} is not true "
                "or false; checked with the setting"
            )
        elif settings.encryption_required:
            switch = (
                "BACKUPWATCH_REQUIRE_ENCRYPTED_BACKUPS"
                if settings.require_encrypted_backups
                else "BACKUPWATCH_BACKUP_KMS_KEY"
            )
            problems.append(
                f"tag {TAG_REQUIRE_ENCRYPTION}={text!r} cannot switch off what {switch} "
                "switched on; encryption is checked"
            )
    return fields


def _integrity_tags(
    tags: Mapping[str, str], settings: Settings, problems: list[str]
) -> dict[str, Any]:
    """The tenant's integrity tags, each within the operator's bounds: a tag may ask for
    more checking (a format, checksums, a longer lock, a stricter size rule), never less.
    A tag beyond a bound is a problem (the tenant is ERROR) and the setting applies."""
    fields: dict[str, Any] = {}
    if TAG_SIZE_DROP_RATIO in tags:
        text = tags[TAG_SIZE_DROP_RATIO]
        ratio = _fraction(text)
        floor = settings.size_drop_ratio_floor
        if ratio is None:
            problems.append(
                f"tag {TAG_SIZE_DROP_RATIO}={text!r} is not a fraction from 0 to 1; checked "
                f"with the default {settings.size_drop_ratio:g}"
            )
        elif ratio < floor:
            problems.append(
                f"tag {TAG_SIZE_DROP_RATIO}={text!r} is below the operator's bound of "
                f"{floor:g} (BACKUPWATCH_TAG_SIZE_DROP_RATIO_FLOOR); checked with the default "
                f"{settings.size_drop_ratio:g}"
            )
        else:
            fields["size_drop_ratio"] = ratio
    if TAG_DUMP_FORMAT in tags:
        text = tags[TAG_DUMP_FORMAT].strip()
        if text in DumpFormat.__members__.values():
            fields["dump_format"] = text
        else:
            known = ", ".join(f.value for f in DumpFormat)
            problems.append(f"tag {TAG_DUMP_FORMAT}={text[:40]!r} is not one of: {known}")
    if TAG_VERIFY_CHECKSUM in tags:
        text = tags[TAG_VERIFY_CHECKSUM].strip().lower()
        if text in ("true", "yes", "on", "1"):
            fields["verify_checksum"] = True
        elif text not in ("false", "no", "off", "0"):
            problems.append(f"tag {TAG_VERIFY_CHECKSUM}={text[:40]!r} is not true or false")
        elif settings.verify_checksums:
            problems.append(
                f"tag {TAG_VERIFY_CHECKSUM}={text!r} cannot switch off what "
                "BACKUPWATCH_VERIFY_CHECKSUMS switched on; checksums are verified"
            )
    if TAG_OBJECT_LOCK_MIN_DAYS in tags:
        text = tags[TAG_OBJECT_LOCK_MIN_DAYS]
        days = _positive_hours(text)  # the same rule: a positive, finite number
        least = settings.object_lock_min_days or 0.0
        if days is None or days > MAX_HOURS / 24:
            problems.append(
                f"tag {TAG_OBJECT_LOCK_MIN_DAYS}={text[:40]!r} is not a positive number of "
                "days (at most 10 years)"
            )
        elif days < least:
            problems.append(
                f"tag {TAG_OBJECT_LOCK_MIN_DAYS}={text!r} is below the operator's "
                f"BACKUPWATCH_OBJECT_LOCK_MIN_DAYS={least:g}; checked with {least:g} days"
            )
        else:
            fields["object_lock_min_days"] = days
    return fields


def _fraction(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if 0 <= value <= 1 else None


def loosened(
    settings: Settings,
    *,
    max_age_hours: float,
    min_object_bytes: int,
    checks: tuple[Check, ...] | None,
) -> list[str]:
    """What a tenant's tags loosen against the operator's defaults, one note each.

    A looser policy is allowed within bounds, never silent: the note is in the row's reason,
    the JSON's ``notes``, the digest and the status page ("window 72 h by tag").
    """
    notes: list[str] = []
    if max_age_hours > settings.max_age_hours:
        notes.append(
            f"window {max_age_hours:g} h by tag {TAG_MAX_AGE_HOURS} "
            f"(default {settings.max_age_hours:g} h)"
        )
    if min_object_bytes < settings.min_object_bytes:
        notes.append(
            f"minimum size {min_object_bytes} B by tag {TAG_MIN_OBJECT_BYTES} "
            f"(default {settings.min_object_bytes} B)"
        )
    if checks is not None:
        notes.extend(
            f"{check.value} check off by tag {TAG_CHECKS}"
            for check in settings.checks
            if check not in checks
        )
    return notes


def bound_pause(tenant: Tenant, *, now: datetime, settings: Settings) -> Tenant:
    """The tenant, its pause refused when it reaches further ahead than the operator allows.

    A refused pause is a problem (the tenant is ``ERROR``, naming the tag and the bound), and
    the tenant is checked as if unpaused: a pause beyond the bound would be a check switched
    off for as long as the tag says. Pure: ``now`` is the run's clock.
    """
    until = tenant.paused_until
    if until is None:
        return tenant
    limit_days = settings.tag_pause_limit_days
    if until - now <= timedelta(days=limit_days):
        return tenant
    problem = (
        f"tag {TAG_PAUSED_UNTIL} pauses until {format_time(until)}, "
        f"{(until - now).total_seconds() / 86400:.0f} days ahead, beyond the operator's bound "
        f"of {limit_days:g} days ({BOUND_PAUSE}); not paused"
    )
    return tenant.model_copy(update={"paused_until": None, "problems": (*tenant.problems, problem)})


def parse_pause(text: str) -> datetime | None:
    """An aware datetime from an ISO date or date and time; None when it is neither.

    A date alone means its start, 00:00 UTC: ``paused-until=2026-12-01`` is checked again on
    1 December. A time without an offset is UTC, the zone of every time backupwatch shows.
    """
    try:
        when = datetime.fromisoformat(text.strip())
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when
        # 9999-12-31T23:00-05:00 parses, yet is past datetime.max in UTC: every later
        # comparison or format would raise. Such a date is malformed here, not a crash.
        when.astimezone(UTC)
        (when - datetime.min.replace(tzinfo=UTC)).total_seconds()
    except (ValueError, OverflowError):
        return None
    return when


def _tenant_checks(
    text: str, settings: Settings, problems: list[str], notes: list[str]
) -> tuple[Check, ...] | None:
    """The tenant's checks from tag ``backupwatch:checks``; None (every check) when malformed.

    The tag can only narrow the run's checks: a known check the run does not make is a note
    (nothing to fix on the tenant), an unknown name a problem, and so is a tag that leaves no
    check at all, since a tenant with no check can never be shown to be backed up. Like every
    malformed tag, a bad one falls back to the default: every check the run makes.
    """
    names = [name for name in _CHECK_SEPARATORS.split(text.strip()) if name]
    known = {check.value: check for check in EVIDENCE_CHECKS}
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        why = f"unknown check {unknown[0]!r}" if unknown else "names no check"
        problems.append(
            f"tag {TAG_CHECKS}={text!r}: {why}; known: {', '.join(known)}; "
            "checked with every configured check"
        )
        return None
    wanted = {known[name] for name in names}
    off = [c.value for c in EVIDENCE_CHECKS if c in wanted and c not in settings.checks]
    chosen = tuple(check for check in settings.checks if check in wanted)
    run = ", ".join(check.value for check in settings.checks)
    if not chosen:
        problems.append(
            f"tag {TAG_CHECKS}={text!r} leaves no check to run (this run makes {run}); "
            "checked with every configured check"
        )
        return None
    skipped = [check.value for check in settings.checks if check not in chosen]
    if skipped and not settings.tag_may_skip_checks:
        problems.append(
            f"tag {TAG_CHECKS}={text!r} switches off {', '.join(skipped)}, which the operator "
            f"does not allow ({BOUND_CHECKS}=false); checked with every configured check"
        )
        return None
    if off:
        notes.append(
            f"tag {TAG_CHECKS}={text!r} asks for {', '.join(off)}, which this run does not "
            f"make (BACKUPWATCH_CHECKS={','.join(c.value for c in settings.checks)})"
        )
    return chosen


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


def _whole_bytes(text: str) -> int | None:
    try:
        size = int(text.strip())
    except ValueError:
        return None
    return size if size >= 0 else None


def _positive_hours(text: str) -> float | None:
    try:
        hours = float(text.strip())
    except ValueError:
        return None
    return hours if math.isfinite(hours) and hours > 0 else None
