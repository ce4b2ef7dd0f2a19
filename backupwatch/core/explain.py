"""Why a tenant has its status: evidence, rules and thresholds, each with its source (pure).

``backupwatch explain TENANT`` prints ``explain(...)``: for each resource of the tenant, its
policy (every threshold, and whether it is the default, a ``BACKUPWATCH_*`` setting or a
``backupwatch:*`` tag), what was looked at, the evidence found, and the rule that decided each
check; so "why is it STALE?" has its answer in one place.

A row does not carry the policy it was judged by; the ``Resolved`` tenant does, and where a
value came from is worked out from it and the ``Settings``: a value that differs from the
setting can only come from its tag, and a setting is a setting when the environment (or a
caller) gave it (``Settings.model_fields_set``), else the default. A tag that repeats the
setting's value changes nothing, and is shown as the setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from backupwatch.core.config import ENVIRONMENT, Settings
from backupwatch.core.copy_verdict import copy_accounts_of, copy_destinations
from backupwatch.core.digest import clean
from backupwatch.core.evaluation import (
    first_backup_due,
    format_age,
    format_time,
)
from backupwatch.core.evidence_rule import rule_for
from backupwatch.core.integrity import size_drop_ratio
from backupwatch.core.models import (
    Check,
    CheckResult,
    Report,
    RowKey,
    Status,
    Tenant,
    TenantReport,
)
from backupwatch.core.policy import controls_for
from backupwatch.core.tenancy import (
    TAG_CHECKS,
    TAG_COPY_REGIONS,
    TAG_DAILY_BACKUP_DAYS,
    TAG_MAX_AGE_HOURS,
    TAG_MIN_OBJECT_BYTES,
    TAG_MIN_RETENTION_DAYS,
    TAG_PAUSED_UNTIL,
    TAG_RDS_BACKUP_RULE,
    TAG_REQUIRE_ENCRYPTION,
    TAG_S3_PREFIX,
    TAG_SIZE_DROP_RATIO,
)
from backupwatch.core.units import format_bytes

VALUE_WIDTH = 8
"""Values are aligned up to this width; a longer one (a folder) pushes its source along."""


@dataclass(frozen=True)
class Resolved:
    """One of the tenant's resources as the run resolved it, which its row does not carry:
    its policy (thresholds from tags, bounded by the settings), and where its evidence lay."""

    tenant: Tenant
    """After the tag bounds and folder ownership: what was judged."""
    bucket: str | None = None
    """The backups bucket its folder was listed in (None when the S3 check is off)."""
    excluded: tuple[str, ...] = ()
    """Nested folders of other tenants that its S3 listing skipped."""


@dataclass(frozen=True)
class Threshold:
    """One value the verdict depends on, and where it came from."""

    name: str
    value: str
    source: str
    """``default (BACKUPWATCH_X unset)``, ``setting BACKUPWATCH_X``, or ``tag backupwatch:x``
    (with what it replaced and the operator's bound on it)."""


def explain(
    report: Report, resolved: Mapping[RowKey, Resolved], *, settings: Settings
) -> list[str]:
    """The explanation of every row of ``report`` (one tenant's resources), as lines.

    ``resolved`` holds each row's resolved tenant, by row key; a row without one (its check
    crashed before) is explained from the row alone. The report's region errors end it: the
    tenant may have resources where nobody could look.
    """
    now = report.generated_at
    lines: list[str] = []
    for row in report.tenants:
        if lines:
            lines.append("")
        lines.extend(_row_lines(row, resolved.get(row.key), settings, now))
    for error in report.region_errors:
        lines.append(
            f"{error.scope} not checked: {clean(error.reason)} (the tenant may have "
            "resources there)"
        )
    return lines


def thresholds(
    tenant: Tenant, settings: Settings, *, bucket: str | None = None
) -> tuple[Threshold, ...]:
    """Every threshold that applies to ``tenant``, with its value and its source."""
    wanted = [check for check in settings.checks if tenant.wants(check)]
    found: list[Threshold] = [
        Threshold(
            "window",
            f"{tenant.max_age_hours:g} h",
            _tagged(
                tenant,
                settings,
                "max_age_hours",
                TAG_MAX_AGE_HOURS,
                differs=tenant.max_age_hours != settings.max_age_hours,
                default=f"{settings.max_age_hours:g} h",
                bound=f"tags may set up to {settings.tag_window_limit:g} h"
                f"{_by(settings, 'tag_window_limit_hours')}",
            ),
        )
    ]
    if Check.S3 in wanted:
        found.append(
            Threshold(
                "minimum size",
                format_bytes(tenant.min_object_bytes),
                _tagged(
                    tenant,
                    settings,
                    "min_object_bytes",
                    TAG_MIN_OBJECT_BYTES,
                    differs=tenant.min_object_bytes != settings.min_object_bytes,
                    default=format_bytes(settings.min_object_bytes),
                    bound=f"tags may set down to {settings.tag_min_object_bytes_floor} B"
                    f"{_by(settings, 'tag_min_object_bytes_floor')}",
                ),
            )
        )
    found.append(
        Threshold(
            "new-tenant grace",
            f"{settings.new_tenant_grace_hours:g} h",
            _origin(settings, "new_tenant_grace_hours"),
        )
    )
    if Check.RDS in wanted:
        found.append(
            Threshold(
                "PITR lag limit",
                f"{settings.pitr_max_lag_hours:g} h",
                _origin(settings, "pitr_max_lag_hours"),
            )
        )
    found.append(
        Threshold(
            "checks",
            ", ".join(check.value for check in wanted),
            _tagged(
                tenant,
                settings,
                "checks",
                TAG_CHECKS,
                differs=tenant.checks is not None,
                default=", ".join(check.value for check in settings.checks),
                bound="tags may switch one off"
                if settings.tag_may_skip_checks
                else "tags may not switch one off",
            ),
        )
    )
    if Check.S3 in wanted:
        found.append(
            Threshold("folder", _folder(tenant, bucket), _folder_source(tenant, settings, bucket))
        )
    found.extend(_backup_thresholds(tenant, settings, wanted))
    if tenant.paused_until is not None:
        found.append(
            Threshold(
                "paused until",
                format_time(tenant.paused_until),
                f"tag {TAG_PAUSED_UNTIL} (tags may pause up to "
                f"{settings.tag_pause_limit_days:g} days ahead"
                f"{_by(settings, 'tag_pause_limit_days')})",
            )
        )
    return tuple(found)


def _backup_thresholds(tenant: Tenant, settings: Settings, wanted: list[Check]) -> list[Threshold]:
    """The rds/backup rule, the copy destinations and the policy controls in force."""
    found: list[Threshold] = []
    if Check.RDS in wanted and Check.BACKUP in wanted:
        rule = rule_for(tenant, settings)
        found.append(
            Threshold(
                "rds/backup rule",
                rule,
                _tagged(
                    tenant,
                    settings,
                    "rds_backup_rule",
                    TAG_RDS_BACKUP_RULE,
                    differs=rule != settings.rds_backup_rule,
                    default=settings.rds_backup_rule,
                    bound="tags may only make it both",
                ),
            )
        )
    regions = copy_destinations(tenant, settings)
    if regions:
        added = [r for r in tenant.copy_regions if r not in settings.copy_regions]
        source = _origin(settings, "copy_regions")
        if added:
            source += f"; tag {TAG_COPY_REGIONS} adds {', '.join(added)}"
        found.append(Threshold("copy regions", ", ".join(regions), source))
    accounts = copy_accounts_of(tenant, settings)
    if accounts:
        found.append(
            Threshold("copy accounts", ", ".join(accounts), _origin(settings, "copy_accounts"))
        )
    controls = controls_for(tenant, settings)
    for name, value, field, tag, setting in (
        (
            "min retention",
            controls.min_retention_days,
            "min_retention_days",
            TAG_MIN_RETENTION_DAYS,
            settings.min_retention_days,
        ),
        (
            "daily backups",
            controls.daily_backup_days,
            "daily_backup_days",
            TAG_DAILY_BACKUP_DAYS,
            settings.daily_backup_days,
        ),
    ):
        if value is not None:
            found.append(
                Threshold(
                    name,
                    f"{value} days",
                    _tagged(
                        tenant,
                        settings,
                        field,
                        tag,
                        differs=value != setting,
                        default=f"{setting} days" if setting else "off",
                        bound="tags may only raise it",
                    ),
                )
            )
    if controls.encryption:
        source = (
            _origin(settings, "backup_kms_key")
            if controls.kms_key
            else _tagged(
                tenant,
                settings,
                "require_encrypted_backups",
                TAG_REQUIRE_ENCRYPTION,
                differs=not settings.encryption_required,
                default="off",
                bound="tags may only switch it on",
            )
        )
        found.append(Threshold("encryption", controls.kms_key or "required", source))
    return found


def _row_lines(
    row: TenantReport, resolved: Resolved | None, settings: Settings, now: datetime
) -> list[str]:
    failing = "failing" if row.failing else "not failing"
    resource = f"DB {row.kind} {row.identifier}"
    account = f", account {row.account_id}" if row.account_id else ""
    lines = [
        f"{row.tenant}: {row.status.value}, {failing}",
        f"  {resource} in {row.region}{account}, checked {format_time(now)}",
    ]
    if row.members:
        lines.append(f"  cluster members (no rows of their own): {', '.join(row.members)}")
    tenant = resolved.tenant if resolved is not None else None
    if resolved is None:
        lines.append("  policy: unknown (the check of this resource failed before it was kept)")
    else:
        found = thresholds(resolved.tenant, settings, bucket=resolved.bucket)
        name_width = max(len(t.name) for t in found)
        value_width = min(max(len(t.value) for t in found), VALUE_WIDTH)
        lines.append("  policy:")
        lines.extend(
            f"    {t.name.ljust(name_width)}  {t.value.ljust(value_width)}  {t.source}"
            for t in found
        )
    for check, result in row.checks.items():
        lines.extend(_check_lines(check, result, resolved, settings, now))
    if tenant is not None:
        lines.extend(f"  problem (makes it ERROR): {clean(p)}" for p in tenant.problems)
    lines.extend(f"  note: {clean(note)}" for note in row.notes)
    counted = {c: r for c, r in row.checks.items() if r.deferred_to is None}
    verdicts = ", ".join(f"{check.value} {r.status.value}" for check, r in counted.items())
    why = f"the worst of {verdicts}" if verdicts else "no check ran"
    deferred = [
        f"{check.value} deferred to {r.deferred_to.value} (rule either)"
        for check, r in row.checks.items()
        if r.deferred_to is not None
    ]
    if deferred:
        why += f"; {', '.join(deferred)}"
    if tenant is not None and tenant.problems:
        why += "; a problem makes it ERROR"
    lines.append(f"  status: {row.status.value}, {why}")
    return lines


def _check_lines(
    check: Check,
    result: CheckResult,
    resolved: Resolved | None,
    settings: Settings,
    now: datetime,
) -> list[str]:
    lines = [f"  {check.value}: {result.status.value}"]
    if resolved is not None:
        looked = {
            Check.RDS: lambda: _rds_looked_at(resolved.tenant),
            Check.S3: lambda: _s3_looked_at(resolved, settings),
            Check.BACKUP: lambda: _backup_looked_at(resolved.tenant),
            Check.COPY: lambda: _copy_looked_at(resolved.tenant, settings),
        }.get(check, list)()
        lines.extend(f"    looked at: {text}" for text in looked)
    lines.append(f"    evidence: {_evidence(check, result, resolved)}")
    tenant = resolved.tenant if resolved is not None else None
    rule = _rule(check, result, tenant, settings, now) if tenant is not None else None
    lines.append(f"    rule: {clean(rule or f'{result.status.value}: {result.reason}')}")
    lines.extend(f"    not verified: {clean(note)}" for note in result.notes)
    return lines


def _rds_looked_at(tenant: Tenant) -> list[str]:
    if tenant.backup_retention_period is None:
        return []
    facts = [f"BackupRetentionPeriod {tenant.backup_retention_period}"]
    if tenant.resource_status:
        facts.insert(0, f"status {tenant.resource_status}")
    if tenant.created_at is not None:
        facts.append(f"created {format_time(tenant.created_at)}")
    if tenant.latest_restorable_time is not None:
        facts.append(f"latest restorable time {format_time(tenant.latest_restorable_time)}")
    return [
        f"the newest automated snapshot of DB {tenant.kind} {tenant.identifier} (manual "
        "snapshots never count)",
        f"the DB {tenant.kind}: {', '.join(facts)}",
    ]


def _backup_looked_at(tenant: Tenant) -> list[str]:
    if tenant.resource_arn is None:
        return []
    return [
        f"AWS Backup recovery points of {tenant.resource_arn} in the region's vaults "
        "(COMPLETED or AVAILABLE count), and its backup jobs that went wrong"
    ]


def _copy_looked_at(tenant: Tenant, settings: Settings) -> list[str]:
    looked = [
        f"in {region}: replicated automated backups and AWS Backup vaults"
        for region in copy_destinations(tenant, settings)
    ]
    looked.extend(
        f"in account {account}: AWS Backup vaults, through role {settings.copy_role_name}"
        for account in copy_accounts_of(tenant, settings)
    )
    return looked


def _s3_looked_at(resolved: Resolved, settings: Settings) -> list[str]:
    tenant = resolved.tenant
    if tenant.s3_prefix is None or resolved.bucket is None:
        return []
    text = (
        f"objects of at least {format_bytes(tenant.min_object_bytes)} under "
        f"s3://{resolved.bucket}/{tenant.s3_prefix}"
    )
    if resolved.excluded:
        text += f", except the folders of other tenants inside it: {', '.join(resolved.excluded)}"
    if settings.s3_date_layout is not None:
        text += (
            f"; only keys dated within the window ({ENVIRONMENT['s3_date_layout'][0]}="
            f"{settings.s3_date_layout})"
        )
    return [text]


def _evidence(check: Check, result: CheckResult, resolved: Resolved | None) -> str:
    if result.key is None:
        return "none"
    age = f", {_hours(result.age_hours)} old" if result.age_hours is not None else ""
    when = format_time(result.evidence_at) if result.evidence_at is not None else "unknown"
    if check is Check.RDS:
        return f"automated snapshot {result.key}, created {when}{age}"
    if check is Check.BACKUP:
        return f"{result.key}, created {when}{age}"
    if check is Check.COPY:
        return f"the oldest of the newest copies, {result.key}, latest {when}{age}"
    if check is not Check.S3:
        return result.key
    bucket = resolved.bucket if resolved is not None else None
    where = f"s3://{bucket}/{result.key}" if bucket else result.key
    size = f", {format_bytes(result.size_bytes)}" if result.size_bytes is not None else ""
    return f"{where}{size}, last modified {when}{age}"


def _rule(
    check: Check, result: CheckResult, tenant: Tenant, settings: Settings, now: datetime
) -> str | None:
    """The rule that gave ``result`` its status, with the numbers it compared."""
    if check not in (Check.RDS, Check.S3):
        return None  # the reason says it: docs/evidence.md has the rules
    status = result.status
    window = _hours(tenant.max_age_hours)
    newest = (
        "automated snapshot"
        if check is Check.RDS
        else f"object of at least {format_bytes(tenant.min_object_bytes)}"
    )
    age = _hours(result.age_hours) if result.age_hours is not None else None
    if status is Status.OK and age is not None:
        rule = f"OK: the newest {newest} is {age} old, within the window of {window}"
        lag = _pitr_lag(tenant, now) if check is Check.RDS else None
        if lag is not None:
            rule += (
                f"; point-in-time recovery is {format_age(lag)} behind, within the limit of "
                f"{_hours(settings.pitr_max_lag_hours)}"
            )
        return rule
    if status is Status.STALE:
        parts = []
        if age is not None and (result.age_hours or 0) > tenant.max_age_hours:
            parts.append(f"the newest {newest} is {age} old, older than the window of {window}")
        lag = _pitr_lag(tenant, now) if check is Check.RDS else None
        if lag is not None and lag > timedelta(hours=settings.pitr_max_lag_hours):
            parts.append(
                f"point-in-time recovery is {format_age(lag)} behind, more than the limit of "
                f"{_hours(settings.pitr_max_lag_hours)} "
                f"({_origin(settings, 'pitr_max_lag_hours')})"
            )
        return f"STALE: {'; '.join(parts)}" if parts else None
    if status is Status.MISSING:
        what = "no available automated snapshot" if check is Check.RDS else f"no {newest}"
        return f"MISSING: {what}, and the tenant is not new{_not_new(tenant, settings)}"
    if status is Status.SUSPECT:
        looks = result.reason.partition(", but it looks broken: ")[2]
        if not looks:
            return None
        rule = (
            f"SUSPECT: the newest {newest} is {age} old, within the window of {window}, but it "
            f"looks broken: {looks}"
        )
        if "of the median of the last" in looks:
            origin = (
                f"tag {TAG_SIZE_DROP_RATIO}"
                if tenant.size_drop_ratio is not None
                else _origin(settings, "size_drop_ratio")
            )
            rule += f" (the size rule fails below {size_drop_ratio(tenant, settings):g}: {origin})"
        return rule
    if status is Status.EMPTY:
        return (
            f"EMPTY: objects within the window of {window} exist, but each is smaller than "
            f"the minimum of {format_bytes(tenant.min_object_bytes)}"
        )
    if status is Status.PENDING:
        due = first_backup_due(tenant, now=now, settings=settings)
        if due is None or tenant.created_at is None:
            return None
        return (
            f"PENDING: a new tenant, created {format_time(tenant.created_at)}: its first backup "
            f"is due by {format_time(due)} (creation + window {window} + grace "
            f"{_hours(settings.new_tenant_grace_hours)})"
        )
    if status is Status.STOPPED:
        failing = "failing" if settings.stopped_is_failing else "not failing"
        return (
            f"STOPPED: RDS takes no automated backups of a stopped DB {tenant.kind}; "
            f"{failing} ({_origin(settings, 'stopped_is_failing')})"
        )
    if status is Status.PAUSED and tenant.paused_until is not None:
        return (
            f"PAUSED until {format_time(tenant.paused_until)} by tag {TAG_PAUSED_UNTIL}, "
            f"which covers every verdict but ERROR; {result.reason}"
        )
    if status is Status.DISABLED:
        return "DISABLED: BackupRetentionPeriod is 0, so RDS takes no automated backups"
    if status is Status.ERROR:
        return f"ERROR: not checked: {result.reason}"
    return None


def _not_new(tenant: Tenant, settings: Settings) -> str:
    if tenant.created_at is None:
        return ""
    due = tenant.created_at + timedelta(
        hours=tenant.max_age_hours + settings.new_tenant_grace_hours
    )
    return (
        f" (created {format_time(tenant.created_at)}; a first backup was due by {format_time(due)})"
    )


def _pitr_lag(tenant: Tenant, now: datetime) -> timedelta | None:
    if tenant.latest_restorable_time is None:
        return None
    return max(now - tenant.latest_restorable_time, timedelta(0))


def _origin(settings: Settings, field: str) -> str:
    """``setting BACKUPWATCH_X`` when given (by the environment or a caller), else the
    default, naming the variable that would change it."""
    variables = " or ".join(ENVIRONMENT[field])
    if field in settings.model_fields_set:
        return f"setting {variables}"
    return f"default ({variables} unset)"


def _by(settings: Settings, field: str) -> str:
    """`` by BACKUPWATCH_X`` when that bound was set; nothing for a default bound."""
    return f" by {ENVIRONMENT[field][0]}" if field in settings.model_fields_set else ""


def _tagged(
    tenant: Tenant,
    settings: Settings,
    field: str,
    tag: str,
    *,
    differs: bool,
    default: str,
    bound: str,
) -> str:
    """The source of a value a tag may set: the tag, or the setting (a refused tag said)."""
    if differs:
        instead = (
            f"{default} from {ENVIRONMENT[field][0]}"
            if field in settings.model_fields_set
            else f"the default {default}"
        )
        return f"tag {tag} (instead of {instead}; {bound})"
    refused = any(problem.startswith(f"tag {tag}") for problem in tenant.problems)
    if refused:
        return f"{_origin(settings, field)}; tag {tag} refused (see the problem below)"
    return _origin(settings, field)


def _folder(tenant: Tenant, bucket: str | None) -> str:
    if tenant.s3_prefix is None:
        return "none"
    return f"s3://{bucket}/{tenant.s3_prefix}" if bucket else tenant.s3_prefix


def _folder_source(tenant: Tenant, settings: Settings, bucket: str | None) -> str:
    if tenant.prefix_source == "tag":
        folder = f"tag {TAG_S3_PREFIX}"
    elif tenant.prefix_source == "environment":
        seed = next(
            (s for s in settings.seed_instances if s.db_instance_identifier == tenant.identifier),
            None,
        )
        folder = f"S3_FOLDER_{seed.index}" if seed is not None else "S3_FOLDER_<n>"
    else:
        template = settings.prefix_template
        folder = (
            f"template {template} (setting {ENVIRONMENT['prefix_template'][0]})"
            if "prefix_template" in settings.model_fields_set
            else f"default template {template} ({ENVIRONMENT['prefix_template'][0]} unset)"
        )
    if bucket is not None and bucket != settings.s3_bucket:
        return f"{folder}; bucket: the target's s3_bucket ({ENVIRONMENT['targets'][0]})"
    return f"{folder}; bucket: {' or '.join(ENVIRONMENT['s3_bucket'])}"


def _hours(hours: float | None) -> str:
    return format_age(timedelta(hours=hours or 0.0))
