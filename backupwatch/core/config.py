"""Settings: validated once, up front, before any AWS call.

``load_settings(os.environ)`` reads the ``BACKUPWATCH_*`` variables (and the seed's
``SNS_TOPIC_ARN``, ``S3_BUCKET_NAME``, ``DB_INSTANCE_IDENTIFIER_<n>`` / ``S3_FOLDER_<n>``) and
returns a frozen ``Settings``. Any bad value raises ``ConfigurationError`` naming the variable
and the value, so an operator can fix it from the message alone.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from backupwatch.core.errors import ConfigurationError
from backupwatch.core.integrity import DumpFormat
from backupwatch.core.models import Check, Scope
from backupwatch.core.naming import DEFAULT_TEMPLATE, as_folder, template_fields
from backupwatch.core.owners import parse_owner_map

DEFAULT_TENANT_TAG = "backupwatch:tenant"
EVIDENCE_CHECKS = (Check.RDS, Check.S3, Check.BACKUP)
"""What ``BACKUPWATCH_CHECKS`` may list; ``copy`` and ``policy`` are on when configured."""

MAX_HOURS = 87_600.0
"""Ten years: the longest window, grace or lag accepted. Beyond about 2.4e10 hours Python's
``timedelta`` overflows, and a window of decades means the check is off, not configured."""

_SNS_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
REGION_NAME = _REGION
"""What an AWS region's name looks like (``eu-west-1``), for settings and tags alike."""
# Lenient on purpose: legacy us-east-1 buckets may have capitals and underscores.
_BUCKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$")
_SEED_VARIABLE = re.compile(r"^(DB_INSTANCE_IDENTIFIER|S3_FOLDER)_(\d+)$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$", re.ASCII)
_ROLE_NAME = re.compile(r"^[\w+=,.@/-]{1,512}$", re.ASCII)
# ASCII: STS's \w is [A-Za-z0-9_]; Python's would let "é" through, for AssumeRole to refuse.
_EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$", re.ASCII)
_KMS_KEY = re.compile(
    r"^(?:arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/)?(?:[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}"
    r"|mrk-[0-9a-f]{32})$"
)
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_SECRET_ARN = re.compile(
    r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$"
)
_PARAMETER_ARN = re.compile(
    r"^arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter/[A-Za-z0-9/_.-]{1,2048}$"
)
_DOMAIN = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$", re.ASCII
)
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$", re.ASCII
)
_REPORT_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()/-]{0,512}$")
CONNECT_TIMEOUT_SECONDS = 5
"""How long an AWS call may take to open its connection (fixed: a connection that takes longer
is better retried on another)."""
DEFAULT_READ_TIMEOUT_SECONDS = 20.0
"""``BACKUPWATCH_READ_TIMEOUT_SECONDS`` unless set: with the connect timeout, below the
default publish reserve (30 s)."""
LAMBDA_MEMORY_VARIABLE = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"
"""Set by Lambda: the function's memory in MB, which also sets its share of a vCPU."""
LAMBDA_MB_PER_VCPU = 1769
"""Lambda gives a function one full vCPU at 1,769 MB, and a share in proportion below."""
S3_THREADS_PER_VCPU = 20
"""S3 threads that keep one vCPU busy: twice latency / CPU per call (50 ms / 5 ms, measured
in docs/performance.md "Threads and function memory"), doubled because latency varies."""
DEFAULT_S3_CONCURRENCY = 16
"""``BACKUPWATCH_S3_CONCURRENCY`` outside Lambda (no memory size to size it from)."""
DEFAULT_DROP_RATIO = 0.5
"""``BACKUPWATCH_SIZE_DROP_RATIO``: see ``backupwatch.core.size_history``."""
DEFAULT_TAG_WINDOW_LIMIT_HOURS = 744.0
"""31 days: a monthly backup is the loosest schedule a tag may declare unless the operator says
otherwise. Beyond it, a window is no longer a policy but a way to switch the check off."""
DEFAULT_TAG_PAUSE_LIMIT_DAYS = 90.0
"""A quarter: long enough for a migration or a frozen tenant, short enough to be revisited."""
MAX_URL_HOURS = 168
"""Seven days: the longest a SigV4 presigned URL can be valid."""


class _CrossFieldProblem(ValueError):
    """A rule between fields broke; carries the field to blame so the message names it."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


class SeedInstance(BaseModel):
    """A DB instance listed the seed's way, ``DB_INSTANCE_IDENTIFIER_<n>`` + ``S3_FOLDER_<n>``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int
    db_instance_identifier: str = Field(min_length=1)
    s3_folder: str | None = None
    """The folder for this instance; None means "use the prefix template"."""


def _valid_bucket(value: str | None) -> str | None:
    if value is None:
        return None
    if value.startswith(("s3://", "arn:")) or "/" in value:
        raise ValueError("give the bucket name only, not a URL, ARN or path")
    if not _BUCKET.match(value):
        raise ValueError("not a valid S3 bucket name")
    return value


def _valid_external_id(value: str | None) -> str | None:
    if value is not None and not _EXTERNAL_ID.match(value):
        raise ValueError("an external id is 2 to 1224 of the characters A-Z a-z 0-9 +=,.@:/-_")
    return value


def _valid_regions(value: tuple[str, ...]) -> tuple[str, ...]:
    bad = [region for region in value if not _REGION.match(region)]
    if bad:
        raise ValueError(f"{bad[0]!r} is not an AWS region name (like eu-west-1)")
    return tuple(dict.fromkeys(value))


class Target(BaseModel):
    """An account to check: the role to assume in it, and which regions.

    ``role_arn`` None is the account backupwatch runs in. ``regions`` empty means the run's
    regions (``BACKUPWATCH_REGIONS``). ``s3_bucket`` names a backups bucket in that account,
    listed with the role; without it the run's bucket is listed with the run's credentials.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    role_arn: str | None = None
    external_id: str | None = None
    regions: tuple[str, ...] = ()
    s3_bucket: str | None = None

    @field_validator("role_arn")
    @classmethod
    def _role_is_an_arn(cls, value: str | None) -> str | None:
        if value is not None and not _ROLE_ARN.match(value):
            raise ValueError("not an IAM role ARN (arn:aws:iam::<account>:role/<name>)")
        return value

    _external_id = field_validator("external_id")(_valid_external_id)
    _regions = field_validator("regions")(_valid_regions)

    _s3_bucket = field_validator("s3_bucket")(_valid_bucket)

    @property
    def account_id(self) -> str | None:
        """From the role ARN; None for the account backupwatch runs in."""
        match = _ROLE_ARN.match(self.role_arn) if self.role_arn else None
        return match.group(1) if match else None


class Settings(BaseModel):
    """Everything a run needs to know, validated. Build it with ``load_settings``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sns_topic_arn: str | None = None
    s3_bucket: str | None = None
    tenant_tag: str = Field(default=DEFAULT_TENANT_TAG, min_length=1, max_length=128)
    prefix_template: str = DEFAULT_TEMPLATE
    max_age_hours: float = Field(default=24.0, gt=0, le=MAX_HOURS, allow_inf_nan=False)
    min_object_bytes: int = Field(default=1, ge=0)
    checks: tuple[Check, ...] = (Check.RDS, Check.S3)
    regions: tuple[str, ...]
    dry_run: bool = False
    notify: Literal["always", "failures"] = "always"
    seed_instances: tuple[SeedInstance, ...] = ()

    # Reliability: time kept back, when a deadline is known, for rendering and publishing.
    publish_reserve_seconds: float = Field(default=30.0, ge=0, le=600, allow_inf_nan=False)

    # Performance: see docs/performance.md.
    s3_concurrency: int = Field(default=DEFAULT_S3_CONCURRENCY, ge=1, le=128)
    read_timeout_seconds: float = Field(
        default=DEFAULT_READ_TIMEOUT_SECONDS, gt=0, le=300, allow_inf_nan=False
    )
    """How long an AWS call may wait for its response before it counts as failed (and is
    retried); bounded so one hung connection cannot eat the publish reserve."""
    rds_requests_per_second: float = Field(default=10.0, gt=0, le=100, allow_inf_nan=False)
    rds_burst: int = Field(default=10, ge=1, le=300)
    s3_date_layout: str | None = None
    """strftime layout of the dated part of keys after the prefix (``%Y/%m/%d/``), or None."""

    # Tenant lifecycle: see docs/evidence.md.
    new_tenant_grace_hours: float = Field(default=2.0, ge=0, le=MAX_HOURS, allow_inf_nan=False)
    stopped_is_failing: bool = False
    pitr_max_lag_hours: float = Field(default=1.0, gt=0, le=MAX_HOURS, allow_inf_nan=False)

    # Integrity of the dump objects: see docs/evidence.md ("Does the backup look right?").
    size_drop_ratio: float = Field(default=DEFAULT_DROP_RATIO, ge=0, le=1, allow_inf_nan=False)
    """The newest dump is ``SUSPECT`` below this fraction of the median of the earlier dumps
    of its series; 0 switches the rule off. Costs no call: the listing has the sizes."""
    dump_format: DumpFormat | None = None
    """The format every dump claims; checked from its first and last bytes (2 ranged GETs)."""
    verify_checksums: bool = False
    """Compare the producer's sha256 (``<key>.sha256`` or ``x-amz-meta-sha256``) with S3's."""
    object_lock_min_days: float | None = Field(
        default=None, ge=0, le=MAX_HOURS / 24, allow_inf_nan=False
    )
    """The newest dump's Object Lock must keep it this many more days; None: not checked."""
    object_lock_compliance: bool = False
    """With ``object_lock_min_days``: only COMPLIANCE mode counts, not GOVERNANCE."""
    require_encryption: bool = False
    """The newest dump must be encrypted at rest (server-side encryption)."""
    require_kms_key: str | None = None
    """...with this KMS key (key id or key ARN; implies ``require_encryption``)."""

    # AWS Backup, copies and policy controls: see docs/evidence.md ("AWS Backup", "Copies",
    # "Policy controls"). Each control is off until set.
    rds_backup_rule: Literal["both", "either"] = "both"
    """With the ``rds`` and ``backup`` checks both on: ``both`` requires each, ``either`` is
    satisfied by one of them (the row names which)."""
    copy_regions: tuple[str, ...] = ()
    """Regions where every tenant must have a fresh disaster-recovery copy (the ``copy``
    check): RDS automated-backup replication or an AWS Backup copy. Empty: no ``copy`` check."""
    copy_accounts: tuple[str, ...] = ()
    """Accounts where every tenant must have a fresh AWS Backup copy (cross-account copies),
    read through ``copy_role_name`` in each; a tenant's own account is left out."""
    copy_role_name: str | None = None
    """The role (name or path/name) assumed in each copy account to list its backup vaults."""
    min_retention_days: int | None = Field(default=None, ge=1, le=36_500)
    """Control: backups are kept at least this many days (the ``policy`` check)."""
    require_encrypted_backups: bool = False
    """Control: the resource, its snapshots and its recovery points are encrypted at rest."""
    backup_kms_key: str | None = None
    """Control: ...with this KMS key (key id or key ARN; implies ``require_encrypted_backups``)."""
    daily_backup_days: int | None = Field(default=None, ge=1, le=35)
    """Control: a backup in each of the last N days (24-hour periods ending at the run)."""

    # What a tenant's own tags may do: see docs/tagging.md. A tag beyond a bound is that
    # tenant's ERROR; a tag within them that loosens the defaults is named in the row's notes.
    tag_window_limit_hours: float | None = Field(
        default=None, gt=0, le=MAX_HOURS, allow_inf_nan=False
    )
    """The longest window ``backupwatch:max-age-hours`` may set; None: ``tag_window_limit``'s
    default."""
    tag_min_object_bytes_floor: int = Field(default=0, ge=0)
    """The smallest minimum size ``backupwatch:min-object-bytes`` may set."""
    tag_pause_limit_days: float = Field(
        default=DEFAULT_TAG_PAUSE_LIMIT_DAYS, ge=0, le=MAX_HOURS / 24, allow_inf_nan=False
    )
    """How far ahead of the run ``backupwatch:paused-until`` may be; 0: no tag may pause."""
    tag_may_skip_checks: bool = True
    """Whether ``backupwatch:checks`` may switch off one of the run's checks for its tenant."""
    tag_size_drop_ratio_floor: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    """The lowest ``backupwatch:size-drop-ratio`` a tag may set; None: ``size_drop_ratio``
    (tags may only make the rule stricter)."""

    # Scale-out: see docs/scale.md.
    targets: tuple[Target, ...] = ()
    """Accounts to check through assumed roles; empty: only the account backupwatch runs in."""
    external_id: str | None = None
    """The external id for every role that does not name its own."""
    organization_role_name: str | None = None
    """When set, every ACTIVE account of the AWS Organization is a target, through this role."""

    # The report archive: every run's full report in S3, linked from the digest.
    report_bucket: str | None = None
    report_prefix: str = "backupwatch/"
    report_url_hours: float = Field(default=0.0, ge=0, le=MAX_URL_HOURS, allow_inf_nan=False)
    """Hours a presigned link to the full report stays valid; 0: the digest gives the key only."""

    # Delivery: see docs/delivery.md. The SNS digest is always the one central message; the
    # rest are optional channels, each sent at most once per run (the ledger, with the archive).
    sns_message_format: Literal["per-protocol", "text"] = "per-protocol"
    """``per-protocol``: one publish with ``MessageStructure=json``, plain text to email, the
    chat notification to https (Amazon Q Developer), the machine summary to sqs, lambda and
    email-json. ``text``: the plain digest to every protocol, as before 0.3.0."""
    slack_webhook_secret: str | None = None
    """The ARN of a Secrets Manager secret or SSM SecureString holding a Slack incoming-webhook
    URL; never the URL itself (it is a credential)."""
    teams_webhook_secret: str | None = None
    """The same, for a Microsoft Teams Workflows webhook URL."""
    ses_sender: str | None = None
    """A verified SES identity's address: the digest goes as text and HTML email from it."""
    ses_recipients: tuple[str, ...] = ()
    """Who gets the central HTML digest through SES (at most 50 a message; more are batched)."""
    ses_region: str | None = None
    """Where the SES identity is; None: the first of ``regions``."""
    owner_topic_arn: str | None = None
    """A topic for owner notices: one message per owner, with the attribute ``owner``."""
    owners: dict[str, tuple[str, ...]] = {}
    """Owner key (tag ``backupwatch:owner``) to email addresses, for owner notices by SES."""
    owner_email_domains: tuple[str, ...] = ()
    """Domains an owner tag may name an address in directly (else only mapped keys get mail)."""
    owner_all_clear: tuple[str, ...] = ()
    """Owners who also want a notice on a day none of their tenants fails; ``*``: every owner."""

    @field_validator("sns_topic_arn", "owner_topic_arn")
    @classmethod
    def _topic_is_an_sns_arn(cls, value: str | None) -> str | None:
        if value is not None and not _SNS_TOPIC_ARN.match(value):
            raise ValueError("not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)")
        return value

    _s3_bucket = field_validator("s3_bucket")(_valid_bucket)

    @field_validator("prefix_template")
    @classmethod
    def _template_is_known(cls, value: str) -> str:
        fields = template_fields(value)  # raises ValueError naming a bad placeholder
        if not fields & {"tenant", "db_instance_identifier"}:
            # Without one, every tenant shares a folder: one fresh object would vouch for all.
            raise ValueError(
                "the template must contain {tenant} or {db_instance_identifier}, "
                "so that each tenant has a folder of its own"
            )
        return value

    @field_validator("s3_date_layout")
    @classmethod
    def _layout_sorts_by_date(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return check_date_layout(value)

    @field_validator("checks")
    @classmethod
    def _checks_are_unique_and_present(cls, value: tuple[Check, ...]) -> tuple[Check, ...]:
        if not value:
            raise ValueError("at least one check is needed: rds, s3, backup")
        if Check.COPY in value:
            raise ValueError(
                "copy is not listed here: set BACKUPWATCH_COPY_REGIONS or BACKUPWATCH_COPY_ACCOUNTS"
            )
        if Check.POLICY in value:
            raise ValueError(
                "policy is not listed here: set a control (BACKUPWATCH_MIN_RETENTION_DAYS, "
                "BACKUPWATCH_REQUIRE_ENCRYPTED_BACKUPS, BACKUPWATCH_DAILY_BACKUP_DAYS)"
            )
        return tuple(dict.fromkeys(value))

    @field_validator("regions")
    @classmethod
    def _regions_look_like_regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one region is needed")
        for region in value:
            if not _REGION.match(region):
                raise ValueError(f"{region!r} is not an AWS region name (like eu-west-1)")
        return tuple(dict.fromkeys(value))

    _external_id = field_validator("external_id")(_valid_external_id)

    @field_validator("organization_role_name", "copy_role_name")
    @classmethod
    def _role_name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.startswith("arn:"):
            raise ValueError("give the role's name (or path/name), not its ARN")
        if not _ROLE_NAME.match(value):
            raise ValueError("not an IAM role name")
        return value.strip("/")

    _report_bucket = field_validator("report_bucket")(_valid_bucket)

    @field_validator("copy_regions")
    @classmethod
    def _copy_regions_look_like_regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for region in value:
            if not _REGION.match(region):
                raise ValueError(f"{region!r} is not an AWS region name (like eu-central-1)")
        return tuple(dict.fromkeys(value))

    @field_validator("copy_accounts")
    @classmethod
    def _copy_accounts_are_account_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for account in value:
            if not _ACCOUNT_ID.match(account):
                raise ValueError(f"{account!r} is not an AWS account id (12 digits)")
        return tuple(dict.fromkeys(value))

    @field_validator("require_kms_key", "backup_kms_key")
    @classmethod
    def _kms_key_is_an_id_or_arn(cls, value: str | None, info: ValidationInfo) -> str | None:
        # S3, RDS and AWS Backup report the key's ARN, never an alias: one could never match.
        reporter = "S3" if info.field_name == "require_kms_key" else "RDS and AWS Backup"
        if value is not None and not _KMS_KEY.match(value):
            raise ValueError(
                "a KMS key id (1234abcd-...) or key ARN (arn:aws:kms:<region>:<account>:key/...); "
                f"an alias cannot be compared with what {reporter} report"
                + ("s" if reporter == "S3" else "")
            )
        return value

    @field_validator("report_prefix")
    @classmethod
    def _report_prefix_is_a_folder(cls, value: str) -> str:
        if value.startswith("/") or not _REPORT_PREFIX.match(value):
            raise ValueError("a key prefix of letters, digits and !_.*'()/- not starting with /")
        return as_folder(value) if value else ""

    @field_validator("ses_sender")
    @classmethod
    def _sender_is_an_address(cls, value: str | None) -> str | None:
        return None if value is None else _valid_address(value)

    @field_validator("ses_recipients")
    @classmethod
    def _recipients_are_addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(_valid_address(address) for address in value))

    @field_validator("ses_region")
    @classmethod
    def _ses_region_is_a_region(cls, value: str | None) -> str | None:
        if value is not None and not _REGION.match(value):
            raise ValueError(f"{value!r} is not an AWS region name (like eu-west-1)")
        return value

    @field_validator("owner_email_domains")
    @classmethod
    def _domains_are_domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for domain in value:
            if not _DOMAIN.match(domain):
                raise ValueError(f"{domain!r} is not a domain name (like example.com)")
        return tuple(dict.fromkeys(domain.lower() for domain in value))

    @model_validator(mode="after")
    def _required_together(self) -> Settings:
        every_target_has_a_bucket = bool(self.targets) and all(t.s3_bucket for t in self.targets)
        if self.s3_bucket is None and Check.S3 in self.checks and not every_target_has_a_bucket:
            raise _CrossFieldProblem(
                "s3_bucket", "required while the s3 check is on (unless every target names one)"
            )
        seen: dict[tuple[str | None, str], int] = {}
        for index, target in enumerate(self.targets):
            for region in target.regions or self.regions:
                first = seen.setdefault((target.account_id, region), index)
                if first != index:
                    account = target.account_id or "this account"
                    raise _CrossFieldProblem(
                        "targets",
                        f"targets[{index}]: {account} in {region} is already targets[{first}]; "
                        "checking a scope twice doubles its cost and its RDS requests",
                    )
        if self.targets and self.organization_role_name is not None:
            raise _CrossFieldProblem(
                "targets", "give either targets or an organization role name, not both"
            )
        limit = self.tag_window_limit_hours
        if limit is not None and limit < self.max_age_hours:
            raise _CrossFieldProblem(
                "tag_window_limit_hours",
                f"must be at least BACKUPWATCH_MAX_AGE_HOURS ({self.max_age_hours:g} h): "
                "a bound below the default would refuse the default itself",
            )
        if self.tag_min_object_bytes_floor > self.min_object_bytes:
            raise _CrossFieldProblem(
                "tag_min_object_bytes_floor",
                f"must be at most BACKUPWATCH_MIN_OBJECT_BYTES ({self.min_object_bytes} B): "
                "a floor above the default would refuse the default itself",
            )
        floor = self.tag_size_drop_ratio_floor
        if floor is not None and floor > self.size_drop_ratio:
            raise _CrossFieldProblem(
                "tag_size_drop_ratio_floor",
                f"must be at most BACKUPWATCH_SIZE_DROP_RATIO ({self.size_drop_ratio:g}): "
                "a floor above the default would refuse the default itself",
            )
        if self.object_lock_compliance and self.object_lock_min_days is None:
            raise _CrossFieldProblem(
                "object_lock_compliance", "needs BACKUPWATCH_OBJECT_LOCK_MIN_DAYS"
            )
        if self.copy_accounts and self.copy_role_name is None:
            raise _CrossFieldProblem(
                "copy_accounts", "needs BACKUPWATCH_COPY_ROLE_NAME, the role to read them with"
            )
        evidence = {Check.RDS, Check.BACKUP} & set(self.checks)
        if self.rds_backup_rule == "either" and len(evidence) < 2:
            raise _CrossFieldProblem(
                "rds_backup_rule", "'either' needs both rds and backup in BACKUPWATCH_CHECKS"
            )
        for control in ("min_retention_days", "daily_backup_days"):
            if getattr(self, control) is not None and not evidence:
                raise _CrossFieldProblem(
                    control, "needs rds or backup in BACKUPWATCH_CHECKS: it judges their backups"
                )
        reserve = self.publish_reserve_seconds
        slowest = self.read_timeout_seconds + CONNECT_TIMEOUT_SECONDS
        if "read_timeout_seconds" in self.model_fields_set and 0 < reserve <= slowest:
            raise _CrossFieldProblem(
                "read_timeout_seconds",
                f"with the {CONNECT_TIMEOUT_SECONDS} s connect timeout, must stay below "
                f"BACKUPWATCH_PUBLISH_RESERVE_SECONDS ({reserve:g} s): one hung call must not "
                "eat the time kept for publishing",
            )
        if self.report_url_hours and self.report_bucket is None:
            raise _CrossFieldProblem("report_url_hours", "needs BACKUPWATCH_REPORT_BUCKET")
        self._delivery_settings_agree()
        return self

    def _delivery_settings_agree(self) -> None:
        """Each delivery setting needs the others it works with: nothing is set in vain."""
        if self.ses_recipients and self.ses_sender is None:
            raise _CrossFieldProblem("ses_recipients", "needs BACKUPWATCH_SES_SENDER")
        owner_mail = bool(self.owners or self.owner_email_domains)
        if self.ses_sender is not None and not (self.ses_recipients or owner_mail):
            raise _CrossFieldProblem(
                "ses_sender",
                "needs BACKUPWATCH_SES_RECIPIENTS or owners to write to (BACKUPWATCH_OWNERS, "
                "BACKUPWATCH_OWNER_EMAIL_DOMAINS)",
            )
        for field in ("owners", "owner_email_domains"):
            if getattr(self, field) and self.ses_sender is None:
                raise _CrossFieldProblem(field, "needs BACKUPWATCH_SES_SENDER to send the mail")
        if self.ses_region is not None and self.ses_sender is None:
            raise _CrossFieldProblem("ses_region", "needs BACKUPWATCH_SES_SENDER")
        if self.owner_all_clear and not (self.owner_topic_arn or owner_mail):
            raise _CrossFieldProblem(
                "owner_all_clear",
                "needs owner notices: BACKUPWATCH_OWNER_TOPIC_ARN or BACKUPWATCH_OWNERS",
            )
        if "*" in self.owner_all_clear and len(self.owner_all_clear) > 1:
            raise _CrossFieldProblem("owner_all_clear", "'*' already means every owner")

    @property
    def owner_notices(self) -> bool:
        """Whether owners get notices of their own (a topic, or mail through SES)."""
        return self.owner_topic_arn is not None or bool(self.owners or self.owner_email_domains)

    @property
    def email_region(self) -> str:
        """Where the SES identity is: ``ses_region``, else the first region checked."""
        return self.ses_region or self.regions[0]

    @property
    def size_drop_ratio_floor(self) -> float:
        """The lowest size-drop ratio a tag may set: the setting, or the default itself."""
        floor = self.tag_size_drop_ratio_floor
        return self.size_drop_ratio if floor is None else floor

    @property
    def scopes(self) -> tuple[Scope, ...]:
        """Every account-region to check, from ``targets``; the home regions without them.

        With an organization role, the accounts are only known after
        ``organizations:ListAccounts``: see ``backupwatch.aws.accounts.plan_scopes``.
        """
        targets = self.targets or (Target(),)
        return tuple(
            Scope(
                region=region,
                account_id=target.account_id,
                role_arn=target.role_arn,
                external_id=target.external_id or (self.external_id if target.role_arn else None),
                s3_bucket=target.s3_bucket,
            )
            for target in targets
            for region in (target.regions or self.regions)
        )

    @property
    def encryption_required(self) -> bool:
        """Whether the encryption control is on (a required key implies it)."""
        return self.require_encrypted_backups or self.backup_kms_key is not None

    @property
    def policy_controls(self) -> bool:
        """Whether any policy control is on for every tenant (tags can add more)."""
        return (
            self.encryption_required
            or self.min_retention_days is not None
            or self.daily_backup_days is not None
        )

    @property
    def active_checks(self) -> tuple[Check, ...]:
        """The checks a run makes: ``checks``, then ``copy`` and ``policy`` when configured."""
        copies = self.copy_regions or self.copy_accounts
        extra = ((Check.COPY,) if copies else ()) + (
            (Check.POLICY,) if self.policy_controls else ()
        )
        return (*self.checks, *extra)

    @property
    def tag_window_limit(self) -> float:
        """The longest window a tag may set: the setting, else 31 days (or the default window,
        when that is longer, so raising the default never turns tags into errors)."""
        if self.tag_window_limit_hours is not None:
            return self.tag_window_limit_hours
        return max(DEFAULT_TAG_WINDOW_LIMIT_HOURS, self.max_age_hours)

    @property
    def fans_out(self) -> bool:
        """Whether other accounts are checked (targets or an organization role)."""
        return bool(self.targets) or self.organization_role_name is not None

    @property
    def uses_account_id(self) -> bool:
        """Whether the template needs ``{account_id}`` (it costs one STS call per run)."""
        return "account_id" in template_fields(self.prefix_template)


# field -> environment variables, preferred first.
ENVIRONMENT: dict[str, tuple[str, ...]] = {
    "sns_topic_arn": ("BACKUPWATCH_SNS_TOPIC_ARN", "SNS_TOPIC_ARN"),
    "s3_bucket": ("BACKUPWATCH_S3_BUCKET", "S3_BUCKET_NAME"),
    "tenant_tag": ("BACKUPWATCH_TENANT_TAG",),
    "prefix_template": ("BACKUPWATCH_PREFIX_TEMPLATE",),
    "max_age_hours": ("BACKUPWATCH_MAX_AGE_HOURS",),
    "min_object_bytes": ("BACKUPWATCH_MIN_OBJECT_BYTES",),
    "checks": ("BACKUPWATCH_CHECKS",),
    "regions": ("BACKUPWATCH_REGIONS",),
    "dry_run": ("BACKUPWATCH_DRY_RUN",),
    "notify": ("BACKUPWATCH_NOTIFY",),
    "publish_reserve_seconds": ("BACKUPWATCH_PUBLISH_RESERVE_SECONDS",),
    "s3_concurrency": ("BACKUPWATCH_S3_CONCURRENCY",),
    "read_timeout_seconds": ("BACKUPWATCH_READ_TIMEOUT_SECONDS",),
    "rds_requests_per_second": ("BACKUPWATCH_RDS_REQUESTS_PER_SECOND",),
    "rds_burst": ("BACKUPWATCH_RDS_BURST",),
    "s3_date_layout": ("BACKUPWATCH_S3_DATE_LAYOUT",),
    "new_tenant_grace_hours": ("BACKUPWATCH_NEW_TENANT_GRACE_HOURS",),
    "stopped_is_failing": ("BACKUPWATCH_STOPPED_IS_FAILING",),
    "pitr_max_lag_hours": ("BACKUPWATCH_PITR_MAX_LAG_HOURS",),
    "targets": ("BACKUPWATCH_TARGETS",),
    "external_id": ("BACKUPWATCH_EXTERNAL_ID",),
    "organization_role_name": ("BACKUPWATCH_ORGANIZATION_ROLE_NAME",),
    "report_bucket": ("BACKUPWATCH_REPORT_BUCKET",),
    "report_prefix": ("BACKUPWATCH_REPORT_PREFIX",),
    "report_url_hours": ("BACKUPWATCH_REPORT_URL_HOURS",),
    "tag_window_limit_hours": ("BACKUPWATCH_TAG_WINDOW_LIMIT_HOURS",),
    "tag_min_object_bytes_floor": ("BACKUPWATCH_TAG_MIN_OBJECT_BYTES_FLOOR",),
    "tag_pause_limit_days": ("BACKUPWATCH_TAG_PAUSE_LIMIT_DAYS",),
    "tag_may_skip_checks": ("BACKUPWATCH_TAG_MAY_SKIP_CHECKS",),
    "size_drop_ratio": ("BACKUPWATCH_SIZE_DROP_RATIO",),
    "tag_size_drop_ratio_floor": ("BACKUPWATCH_TAG_SIZE_DROP_RATIO_FLOOR",),
    "dump_format": ("BACKUPWATCH_DUMP_FORMAT",),
    "verify_checksums": ("BACKUPWATCH_VERIFY_CHECKSUMS",),
    "object_lock_min_days": ("BACKUPWATCH_OBJECT_LOCK_MIN_DAYS",),
    "object_lock_compliance": ("BACKUPWATCH_OBJECT_LOCK_COMPLIANCE",),
    "require_encryption": ("BACKUPWATCH_REQUIRE_ENCRYPTION",),
    "require_kms_key": ("BACKUPWATCH_REQUIRE_KMS_KEY",),
    "rds_backup_rule": ("BACKUPWATCH_RDS_BACKUP_RULE",),
    "copy_regions": ("BACKUPWATCH_COPY_REGIONS",),
    "copy_accounts": ("BACKUPWATCH_COPY_ACCOUNTS",),
    "copy_role_name": ("BACKUPWATCH_COPY_ROLE_NAME",),
    "min_retention_days": ("BACKUPWATCH_MIN_RETENTION_DAYS",),
    "require_encrypted_backups": ("BACKUPWATCH_REQUIRE_ENCRYPTED_BACKUPS",),
    "backup_kms_key": ("BACKUPWATCH_BACKUP_KMS_KEY",),
    "daily_backup_days": ("BACKUPWATCH_DAILY_BACKUP_DAYS",),
    "sns_message_format": ("BACKUPWATCH_SNS_MESSAGE_FORMAT",),
    "slack_webhook_secret": ("BACKUPWATCH_SLACK_WEBHOOK_SECRET",),
    "teams_webhook_secret": ("BACKUPWATCH_TEAMS_WEBHOOK_SECRET",),
    "ses_sender": ("BACKUPWATCH_SES_SENDER",),
    "ses_recipients": ("BACKUPWATCH_SES_RECIPIENTS",),
    "ses_region": ("BACKUPWATCH_SES_REGION",),
    "owner_topic_arn": ("BACKUPWATCH_OWNER_TOPIC_ARN",),
    "owners": ("BACKUPWATCH_OWNERS",),
    "owner_email_domains": ("BACKUPWATCH_OWNER_EMAIL_DOMAINS",),
    "owner_all_clear": ("BACKUPWATCH_OWNER_ALL_CLEAR",),
}
# BACKUPWATCH_* variables read outside ``ENVIRONMENT`` (by the handlers).
# tests/test_config_unknown.py greps the source so none is forgotten here.
OTHER_VARIABLES: tuple[str, ...] = ("BACKUPWATCH_METRICS_NAMESPACE",)
_PREFIX = "BACKUPWATCH_"
KNOWN_VARIABLES: frozenset[str] = frozenset(
    v for names in ENVIRONMENT.values() for v in names if v.startswith(_PREFIX)
) | frozenset(OTHER_VARIABLES)


class UnknownVariableError(ConfigurationError):
    """One or more ``BACKUPWATCH_*`` variables the project does not know (a typo, say)."""

    def __init__(self, names: list[str], environ: Mapping[str, str]) -> None:
        problems = []
        # Compare what follows the shared prefix, or every name looks close.
        suffixes = {v.removeprefix(_PREFIX): v for v in KNOWN_VARIABLES}
        for name in names:
            close = [
                suffixes[m]
                for m in difflib.get_close_matches(
                    name.removeprefix(_PREFIX), sorted(suffixes), n=1
                )
            ]
            hint = (
                f"did you mean {close[0]}?"
                if close
                else "the known variables are listed in docs/configuration.md"
            )
            problems.append(f"{name} is not a backupwatch variable: {hint}")
        message = "; ".join(problems)
        super().__init__(", ".join(names), [environ[n] for n in names], message)
        self.names = names
        self.args = (message,)

    def __str__(self) -> str:
        return str(self.args[0])


def check_unknown_variables(environ: Mapping[str, str]) -> None:
    """Raise ``UnknownVariableError`` naming every unknown ``BACKUPWATCH_*`` variable."""
    unknown = sorted(n for n in environ if n.startswith(_PREFIX) and n not in KNOWN_VARIABLES)
    if unknown:
        raise UnknownVariableError(unknown, environ)


_BOOLEANS = frozenset(
    {
        "dry_run",
        "stopped_is_failing",
        "tag_may_skip_checks",
        "verify_checksums",
        "object_lock_compliance",
        "require_encryption",
        "require_encrypted_backups",
    }
)
_NUMBERS = {
    "max_age_hours": "hours",
    "publish_reserve_seconds": "seconds",
    "read_timeout_seconds": "seconds",
    "rds_requests_per_second": "requests per second",
    "new_tenant_grace_hours": "hours",
    "pitr_max_lag_hours": "hours",
    "report_url_hours": "hours",
    "tag_window_limit_hours": "hours",
    "tag_pause_limit_days": "days",
    "size_drop_ratio": "a fraction",
    "tag_size_drop_ratio_floor": "a fraction",
    "object_lock_min_days": "days",
}
_WHOLE_NUMBERS = {
    "min_object_bytes": "bytes",
    "s3_concurrency": "threads",
    "rds_burst": "requests",
    "tag_min_object_bytes_floor": "bytes",
    "min_retention_days": "days",
    "daily_backup_days": "days",
}
# Directives whose zero-padded output sorts the same way as time does, biggest unit first.
_DATE_DIRECTIVES = ("%Y", "%m", "%d", "%H")
_DIRECTIVE = re.compile(r"%.")
_LISTS = frozenset(
    {
        "checks",
        "regions",
        "copy_regions",
        "copy_accounts",
        "ses_recipients",
        "owner_email_domains",
        "owner_all_clear",
    }
)
_SECRETS = frozenset({"slack_webhook_secret", "teams_webhook_secret"})
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})


def load_settings(
    environ: Mapping[str, str],
    *,
    default_region: str | None = None,
    **overrides: Any,
) -> Settings:
    """Validate the environment into ``Settings``; raise ``ConfigurationError`` on a bad value.

    When ``BACKUPWATCH_REGIONS`` is unset, the region is ``AWS_REGION`` (Lambda always sets
    it), else ``AWS_DEFAULT_REGION``, else ``default_region`` (the CLI passes the profile's).
    ``overrides`` take field names (``dry_run=True``) and win over the environment; ``None``
    values are ignored.
    """
    check_unknown_variables(environ)
    raw: dict[str, Any] = {}
    source: dict[str, tuple[str, Any]] = {}
    for field, variables in ENVIRONMENT.items():
        variable = next((v for v in variables if environ.get(v, "").strip()), None)
        if variable is None:
            continue
        text = environ[variable].strip()
        source[field] = (variable, text)
        raw[field] = _parse(field, variable, text)

    if "regions" not in raw:
        fallbacks = [
            ("AWS_REGION", environ.get("AWS_REGION")),
            ("AWS_DEFAULT_REGION", environ.get("AWS_DEFAULT_REGION")),
            ("the AWS profile's region", default_region),
        ]
        named, region = next(((n, r) for n, r in fallbacks if r), ("BACKUPWATCH_REGIONS", None))
        raw["regions"] = [region] if region else []
        source["regions"] = (named, region)
    raw["seed_instances"] = _seed_instances(environ)
    for field, value in overrides.items():
        if value is not None:
            raw[field] = value
            # Named after the variable it stands in for, shown with its own value.
            source[field] = (ENVIRONMENT.get(field, (field,))[0], value)
    memory = environ.get(LAMBDA_MEMORY_VARIABLE, "").strip()
    if "s3_concurrency" not in raw and memory:
        raw["s3_concurrency"] = s3_concurrency_for_memory(_lambda_memory(memory))

    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise _explain(exc, source) from None


def s3_concurrency_for_memory(memory_mb: int) -> int:
    """The S3 threads a Lambda function of ``memory_mb`` should run when the operator has not
    set ``BACKUPWATCH_S3_CONCURRENCY``: enough to keep its vCPU share busy while calls wait on
    the network, and no more, since a thread beyond that only queues for the CPU.

    The share stops counting at one vCPU: backupwatch's Python runs one thread at a time.
    8 at 512 MB, 12 at 1,024 MB, 20 from 1,769 MB up; never below 8 nor above 128.
    """
    share = min(memory_mb / LAMBDA_MB_PER_VCPU, 1.0)
    return max(8, min(128, math.ceil(S3_THREADS_PER_VCPU * share)))


def _lambda_memory(text: str) -> int:
    """``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``: Lambda's whole number of MB, 128 to 10,240."""
    problem = "expected the function's memory in MB, a whole number from 128 to 10240"
    try:
        memory = int(text)
    except ValueError:
        raise ConfigurationError(LAMBDA_MEMORY_VARIABLE, text, problem) from None
    if not 128 <= memory <= 10_240:
        raise ConfigurationError(LAMBDA_MEMORY_VARIABLE, text, problem)
    return memory


def _parse(field: str, variable: str, text: str) -> Any:
    if field == "targets":
        return _targets(variable, text)
    if field in _SECRETS:
        return secret_reference(variable, text)
    if field == "owners":
        try:
            return parse_owner_map(text)
        except ValueError as error:
            raise ConfigurationError(variable, text, str(error)) from None
    if field in _LISTS:
        return [item.strip() for item in text.split(",") if item.strip()]
    if field in _BOOLEANS:
        return parse_bool(variable, text)
    if field in _NUMBERS:
        unit = _NUMBERS[field]
        what = "a fraction from 0 to 1" if unit == "a fraction" else f"a number of {unit}"
        try:
            number = float(text)
        except ValueError:
            raise ConfigurationError(variable, text, f"expected {what}") from None
        if not math.isfinite(number):
            finite = (
                "a finite fraction from 0 to 1" if unit == "a fraction" else f"a finite {what[2:]}"
            )
            raise ConfigurationError(variable, text, f"expected {finite}")
        return number
    if field in _WHOLE_NUMBERS:
        try:
            return int(text)
        except ValueError:
            unit = _WHOLE_NUMBERS[field]
            raise ConfigurationError(variable, text, f"expected a whole number of {unit}") from None
    return text


def _targets(variable: str, text: str) -> Any:
    """``BACKUPWATCH_TARGETS``: role ARNs separated by commas (each checked in the run's
    regions), or a JSON list of objects with ``role_arn``, ``external_id``, ``regions`` and
    ``s3_bucket``; validation of each field is the model's."""
    if not text.startswith(("[", "{")):
        return [{"role_arn": arn.strip()} for arn in text.split(",") if arn.strip()]
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigurationError(variable, text, f"not valid JSON: {error}") from None
    return [parsed] if isinstance(parsed, dict) else parsed


def secret_reference(variable: str, text: str) -> str:
    """A webhook secret's ARN: a Secrets Manager secret or an SSM parameter, nothing else.

    A URL is refused without being repeated: a webhook URL is a credential (anyone holding it
    can post to the channel), and this error is logged.
    """
    if _SECRET_ARN.match(text) or _PARAMETER_ARN.match(text):
        return text
    if "://" in text or text.startswith(("hooks.", "www.")):
        raise ConfigurationError(
            variable,
            "<a URL, not repeated here>",
            "a webhook URL is a secret: store it in Secrets Manager or as an SSM SecureString "
            "parameter and give that ARN",
        )
    raise ConfigurationError(
        variable,
        text,
        "expected the ARN of a Secrets Manager secret (arn:aws:secretsmanager:...:secret:...) "
        "or of an SSM parameter (arn:aws:ssm:...:parameter/...)",
    )


def _valid_address(value: str) -> str:
    """One plain email address: no display name, nothing a mail header could be split on."""
    if not _EMAIL.match(value):
        raise ValueError(f"{value[:80]!r} is not a plain email address (like ops@example.com)")
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


def check_date_layout(layout: str) -> str:
    """Accept a key date layout only if sorting keys by name sorts them by date.

    S3 lists keys in name order; the fast path (``StartAfter``) is only right when the dated
    part of a key sorts like time: ``%Y`` then ``%m`` then ``%d`` (then ``%H``), in that order,
    starting with ``%Y``, with nothing but literal text between them.
    """
    directives = _DIRECTIVE.findall(layout)
    unknown = [d for d in directives if d not in _DATE_DIRECTIVES]
    if unknown:
        raise ValueError(
            f"unsupported directive {unknown[0]}; use {', '.join(_DATE_DIRECTIVES)} only"
        )
    if not directives or list(directives) != list(_DATE_DIRECTIVES[: len(directives)]):
        raise ValueError("directives must be %Y, then %m, then %d, then %H, in that order")
    if not layout.startswith("%Y"):
        raise ValueError("the layout must start with %Y, right after the tenant's prefix")
    return layout


def parse_bool(variable: str, text: str) -> bool:
    """``true``/``1``/``yes``/``on`` or ``false``/``0``/``no``/``off``/empty, any case."""
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigurationError(variable, text, "expected true or false")


def _seed_instances(environ: Mapping[str, str]) -> list[SeedInstance]:
    """The seed's ``DB_INSTANCE_IDENTIFIER_<n>`` / ``S3_FOLDER_<n>`` pairs, checked.

    Errors name each variable exactly as it was spelled. ``_1`` and ``_01`` are the same
    number; two variables for one number are rejected rather than one silently dropped.
    """
    identifiers: dict[int, tuple[str, str]] = {}  # n -> (variable, value)
    folders: dict[int, tuple[str, str]] = {}
    for name, value in sorted(environ.items()):
        match = _SEED_VARIABLE.match(name)
        if not match:
            continue
        kind, index = match.group(1), int(match.group(2))
        if not value.strip():
            raise ConfigurationError(name, value, "is set but empty")
        found = identifiers if kind == "DB_INSTANCE_IDENTIFIER" else folders
        if index in found:
            raise ConfigurationError(
                name, value, f"has the same number as {found[index][0]}; number each pair once"
            )
        found[index] = (name, value.strip())
    orphans = sorted(folders.keys() - identifiers.keys())
    if orphans:
        name, value = folders[orphans[0]]
        partner = name.replace("S3_FOLDER_", "DB_INSTANCE_IDENTIFIER_")
        raise ConfigurationError(name, value, f"has no {partner} beside it")
    seen: dict[str, SeedInstance] = {}
    for index in sorted(identifiers):
        name, identifier = identifiers[index]
        folder = folders.get(index, ("", ""))[1]
        seed = SeedInstance(
            index=index,
            db_instance_identifier=identifier,
            s3_folder=as_folder(folder) if folder else None,
        )
        earlier = seen.get(identifier)
        if earlier is None:
            seen[identifier] = seed
        elif earlier.s3_folder != seed.s3_folder:
            raise ConfigurationError(
                name,
                identifier,
                f"already listed as {identifiers[earlier.index][0]} with another folder",
            )
    return list(seen.values())


def _explain(
    exc: ValidationError, source: Mapping[str, tuple[str, str | None]]
) -> ConfigurationError:
    """Turn pydantic's error into one naming the environment variable and its value."""
    error = exc.errors()[0]
    cause = error.get("ctx", {}).get("error")
    field = cause.field if isinstance(cause, _CrossFieldProblem) else str(error["loc"][0])
    variable, value = source.get(field, (ENVIRONMENT.get(field, (field,))[0], None))
    message = str(cause) if cause is not None else error["msg"]
    if len(error["loc"]) > 1:  # inside a list of objects: say which item and which field
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"][1:])
        message = f"{field}{where}: {message}"
    if field == "checks" and error["type"] == "enum":
        message = f"unknown check; known: {', '.join(c.value for c in EVIDENCE_CHECKS)}"
    return ConfigurationError(variable, value, message)
