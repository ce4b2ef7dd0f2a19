"""Least privilege, proven: the template grants exactly the IAM actions the code calls.

The calls are not listed by hand. ``recording`` wraps ``backupwatch.aws.clients._client``, where
backupwatch builds every client it uses, and records each operation those clients perform (a
botocore ``before-parameter-build`` hook on each client), under the role that makes it. The
scenarios then drive every code path against moto: the demo world with a tenant in every status,
the pipeline's publish, the ``{account_id}`` template, every optional setting at once (a copy
account among them), targets in other accounts, an AWS Organization, the report archive, the
Lambda handler and the CLI (all of them DigestFunction's); and the state machine's three
handlers (PlanFunction, ScanFunction, PublishFunction), each run as its function would be. The
operations are mapped to IAM actions (``OPERATIONS``) and compared with each function's policy in
template.yaml, both ways: a call the policy misses fails, and so does a grant nobody uses.

A call made with a member account's credentials (``sts:AssumeRole``'d) is not the function's:
it is recorded for the member-account role, and compared, the same way, with that role's policy
in docs/iam.md. Likewise a call made with a copy account's credentials (the role of
``BACKUPWATCH_COPY_ROLE_NAME``, which lists the vaults of ``BACKUPWATCH_COPY_ACCOUNTS``) is
recorded for the copy-account role, and compared with its policy in docs/iam.md.

When new code calls a new operation, the test fails and names the action to add to
template.yaml and docs/iam.md; that is how ``DescribeDBClusters`` and
``DescribeDBClusterSnapshots`` arrived with Aurora support (the world holds a tagged Aurora
cluster for them). An operation missing from ``OPERATIONS`` fails too, asking for its IAM
action. A new setting must be switched on in ``EVERY_SETTING_ON``, so its calls are recorded.

Two grants are not the code's. Publishing to the encrypted digest topic, SNS calls KMS with the
publishing function's credentials, so that function needs ``kms:GenerateDataKey*`` and
``kms:Decrypt`` on the topic's key; reading an SSE-KMS dump (the inspections of issue 16), S3
calls ``kms:Decrypt`` with the reader's. No recorder can see those calls. ``TOPIC_KEY_GRANT``
and ``DUMP_KEY_GRANT`` are those statements, word for word; each alone is left out of the
comparison, and only in a function that publishes to the topic, or reads the backups bucket's
objects. Any other KMS grant is compared like the rest, and fails. A HEAD of a dump is
authorised by ``s3:GetObject``, and shows its Object Lock only with ``s3:GetObjectRetention``:
``OPERATIONS`` says so. Which parameters grant these (none at all without an inspection) is
proven on the template itself, in the tests at the end of the recorded ones.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest
from moto import mock_aws

import backupwatch.aws.clients
import backupwatch.aws.fanout_store
import backupwatch.pipeline.delivery
from backupwatch import Retrier, check_tenants, load_settings, run_daily
from backupwatch.aws.clients import USER_AGENT_EXTRA
from backupwatch.aws.webhook import WebhookReceipt
from backupwatch.cli.demo import ACCOUNT, BUCKET, REGION, TENANT_TAG, build_world
from backupwatch.cli.fake_aws import FakeAws
from backupwatch.cli.main import main as cli_main
from backupwatch.core.config import ENVIRONMENT
from backupwatch.core.integrity import HEAD_BYTES, TAIL_BYTES
from backupwatch.core.models import Check, Status
from backupwatch.core.tenancy import TAG_DUMP_FORMAT, TAG_OBJECT_LOCK_MIN_DAYS, TAG_VERIFY_CHECKSUM
from handlers import plan_scopes, publish_digest, scan_scope
from handlers.daily_digest import lambda_handler

from .conftest import FAKE_ENV, World
from .test_template import ROOT, Stack, function_properties, load_template

OTHER_REGION = "us-east-1"
COPY_REGION = "eu-central-1"
"""Where every tenant must have a copy: a region no tenant is in, so its clients are the copy
check's own."""
MEMBER = "111111111111"
OTHER_MEMBER = "222222222222"
MEMBER_ROLE = "backupwatch-reader"
MEMBER_BUCKET = "member-db-backups"
REPORTS = "acme-corp-backupwatch-reports"
EXTERNAL_ID = "acme-backupwatch-7f3a"
MEMBER_PRINCIPAL = "member-account role"
"""Who makes a call with a member account's assumed-role credentials."""
COPY_ACCOUNT = "222233334444"
"""The account of ``BACKUPWATCH_COPY_ACCOUNTS``: it holds ledger's AWS Backup copy."""
COPY_ROLE = "backupwatch-copy-reader"
COPY_PRINCIPAL = "copy-account role"
"""Who makes a call with the copy role's credentials (``BACKUPWATCH_COPY_ROLE_NAME``)."""
DUMP_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0b9e6c2a-5d1f-4e8a-9c3b-7f2d1e4a6b58"
"""The key ledger's dump is encrypted with (moto's S3 takes any key ARN without asking KMS)."""
INSPECTED = "ledger"
"""A tenant of this account with no tag of its own: only the settings decide its inspections."""
BACKUP_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/7c1e2b3a-4d5f-4a6b-8c7d-9e0f1a2b3c4d"
"""The key ledger, its snapshots and its recovery points are encrypted with
(``BACKUPWATCH_BACKUP_KMS_KEY``)."""
COPY_VAULTS = 12
"""Vaults in this account's copy region: more vault listings than it has tenants, and still the
copy check lists them vault by vault: copies are read with the vaults' listing only, never with
``ListRecoveryPointsByResource`` (the backup check's, when it is fewer calls)."""
FUNCTIONS = ("DigestFunction", "PlanFunction", "ScanFunction", "PublishFunction")
SLACK_SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:backupwatch/slack"
"""A partial ARN (no suffix): moto, like Secrets Manager, finds the secret by its name."""
TEAMS_PARAMETER = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/backupwatch/teams"
SENDER = "backupwatch@example.com"
OWNER_TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:backupwatch-owners"


@dataclass(frozen=True)
class Action:
    """The IAM action that authorises an API operation, and any the call needs besides."""

    name: str
    needs_permission: bool = True
    also: tuple[str, ...] = ()
    """Actions the operation needs to behave as the code expects, though never called."""


# API operation ("<service>:<OperationName>", as botocore names it) -> IAM action. Names differ
# where AWS says so: ListObjectsV2 is authorised by s3:ListBucket.
OPERATIONS: dict[str, Action] = {
    "rds:DescribeDBInstances": Action("rds:DescribeDBInstances"),
    "rds:DescribeDBSnapshots": Action("rds:DescribeDBSnapshots"),
    "rds:DescribeDBClusters": Action("rds:DescribeDBClusters"),
    "rds:DescribeDBClusterSnapshots": Action("rds:DescribeDBClusterSnapshots"),
    "rds:DescribeDBInstanceAutomatedBackups": Action("rds:DescribeDBInstanceAutomatedBackups"),
    "rds:DescribeDBClusterAutomatedBackups": Action("rds:DescribeDBClusterAutomatedBackups"),
    "backup:ListBackupVaults": Action("backup:ListBackupVaults"),
    "backup:ListRecoveryPointsByBackupVault": Action("backup:ListRecoveryPointsByBackupVault"),
    "backup:ListRecoveryPointsByResource": Action("backup:ListRecoveryPointsByResource"),
    "backup:ListBackupJobs": Action("backup:ListBackupJobs"),
    "s3:ListObjectsV2": Action("s3:ListBucket"),
    "s3:ListObjects": Action("s3:ListBucket"),
    # Also recorded when a GetObject URL is presigned: whoever follows the link is authorised
    # as the role that signed it, so the signer needs s3:GetObject on the key. And a GET of a
    # key that is not there (the first run's index) is NoSuchKey only with s3:ListBucket on the
    # bucket; without it, S3 says AccessDenied and "none yet" looks like "denied".
    "s3:GetObject": Action("s3:GetObject", also=("s3:ListBucket",)),
    # There is no s3:HeadObject action: a HEAD is authorised by s3:GetObject. It returns the
    # Object Lock mode and date only to a role that also has s3:GetObjectRetention; without it
    # a locked dump looks unlocked and the lock check fails it. (The template grants that one
    # only when a lock is checked: test_template.py's inspection table proves the conditions.)
    "s3:HeadObject": Action("s3:GetObject", also=("s3:GetObjectRetention",)),
    "s3:PutObject": Action("s3:PutObject"),
    "sns:Publish": Action("sns:Publish"),
    # The delivery channels: a webhook URL from its secret or parameter, mail through SES v2
    # (whose one sending action is ses:SendEmail, raw content included).
    "secretsmanager:GetSecretValue": Action("secretsmanager:GetSecretValue"),
    "ssm:GetParameter": Action("ssm:GetParameter"),
    "sesv2:SendEmail": Action("ses:SendEmail"),
    "sts:AssumeRole": Action("sts:AssumeRole"),
    "organizations:ListAccounts": Action("organizations:ListAccounts"),
    # "No permissions are required to perform this operation", and an explicit deny cannot
    # block it (STS API reference, GetCallerIdentity): granting it would be noise.
    "sts:GetCallerIdentity": Action("sts:GetCallerIdentity", needs_permission=False),
}


def least_privilege_problems(
    used: Mapping[str, Collection[str]],
    granted: Collection[str],
    *,
    where: str = "DigestFunction's Policies in template.yaml",
) -> list[str]:
    """What is wrong between the operations called and the actions granted; empty when exact.

    ``used`` maps each API operation to the scenarios that called it (for the message);
    ``where`` is the policy's place, for the message.
    """
    problems: list[str] = []
    needed: dict[str, set[str]] = {}
    for operation, scenarios in sorted(used.items()):
        action = OPERATIONS.get(operation)
        if action is None:
            problems.append(
                f"{operation} (called in: {', '.join(sorted(scenarios))}) has no IAM mapping: "
                "add it to OPERATIONS in tests/test_least_privilege.py with the IAM action "
                "that authorises it"
            )
        elif action.needs_permission:
            for name in (action.name, *action.also):
                needed.setdefault(name, set()).update(scenarios)
    wildcards = {name for name in granted if "*" in name}
    problems += [f"the policy grants the wildcard action {name!r}" for name in sorted(wildcards)]
    for name in sorted(needed.keys() - set(granted)):
        problems.append(
            f"the template's policy misses {name}, which the code calls "
            f"(in: {', '.join(sorted(needed[name]))}): add it to {where} "
            "and to docs/iam.md"
        )
    for name in sorted(set(granted) - needed.keys() - wildcards):
        no_permission = any(a.name == name and not a.needs_permission for a in OPERATIONS.values())
        why = "it needs no permission at all" if no_permission else "no code path calls it"
        problems.append(
            f"the template's policy grants {name}, but {why}: remove it from "
            f"{where.split(' in ')[-1]} and docs/iam.md"
        )
    return problems


# --- reading the policy ---------------------------------------------------------------------


def _branches(value: Any) -> Iterator[Any]:
    """Every value a template expression may take, for conditions either way."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        _condition, when_true, when_false = value["Fn::If"]
        yield from _branches(when_true)
        yield from _branches(when_false)
    elif value != {"Ref": "AWS::NoValue"}:
        yield value


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_statements(
    template: Mapping[str, Any], function: str = "DigestFunction"
) -> list[dict[str, Any]]:
    """Every statement the function's role can get, under any parameter values (a statement
    whose action is conditional, such as reading a webhook URL from Secrets Manager or SSM, is
    one statement per action it may have)."""
    statements: list[dict[str, Any]] = []
    for document in function_properties(template, function)["Policies"]:
        for item in document["Statement"]:
            for statement in _branches(item):
                statements.extend(
                    {**statement, "Action": action} for action in _branches(statement["Action"])
                )
    return statements


def granted_actions(template: Mapping[str, Any], function: str = "DigestFunction") -> set[str]:
    return {
        action
        for statement in policy_statements(template, function)
        if statement["Effect"] == "Allow"
        for action in _as_list(statement["Action"])
    }


# --- the one grant for calls SNS makes, not the code ----------------------------------------

# A function that publishes to a topic encrypted with a customer managed key needs these two
# actions on that key (AWS, "Key management" in the SNS developer guide): SNS asks KMS for the
# message's data key with the publisher's credentials. The code never calls KMS, so the
# recorder never sees them. Exempt exactly this statement (these two actions, the topic's key,
# through SNS only), and only next to a grant of sns:Publish on the topic.
TOPIC_KEY_GRANT = {
    "Sid": "PublishToTheEncryptedTopic",
    "Effect": "Allow",
    "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
    "Resource": {"Fn::GetAtt": ["DigestTopicKey", "Arn"]},
    "Condition": {
        "StringEquals": {"kms:ViaService": {"Fn::Sub": "sns.${AWS::Region}.amazonaws.com"}}
    },
}


def publishes_the_digest(statements: Collection[Mapping[str, Any]]) -> bool:
    """Whether the statements allow sns:Publish on the digest topic."""
    return any(
        s["Effect"] == "Allow"
        and "sns:Publish" in _as_list(s["Action"])
        and s["Resource"] == {"Ref": "DigestTopic"}
        for s in statements
    )


# --- and the one grant for calls S3 makes, reading an encrypted dump -------------------------

# Reading an SSE-KMS object (a ranged GET, the sidecar, or a HEAD with ChecksumMode), S3 asks KMS
# to decrypt its data key with the reader's credentials: the reader needs kms:Decrypt on the
# object's key (AWS, "Using server-side encryption with AWS KMS keys" in the S3 user guide).
# The code never calls KMS, so the recorder never sees it. Exempt exactly this statement (that
# one action, through S3 only, for the backups bucket's objects only, on RequireKmsKey's key
# when one is set), and only next to a grant of s3:GetObject on the backups bucket's objects.
BACKUP_OBJECTS = {"Fn::Sub": "arn:${AWS::Partition}:s3:::${S3Bucket}/*"}
DUMP_KEY_GRANT = {
    "Sid": "DecryptTheDumps",
    "Effect": "Allow",
    "Action": "kms:Decrypt",
    "Resource": {
        "Fn::If": [
            "RequiresKmsKey",
            {"Ref": "RequireKmsKey"},
            {"Fn::Sub": "arn:${AWS::Partition}:kms:*:*:key/*"},
        ]
    },
    "Condition": {
        "StringLike": {
            "kms:ViaService": {"Fn::Sub": "s3.*.${AWS::URLSuffix}"},
            "kms:EncryptionContext:aws:s3:arn": [
                {"Fn::Sub": "arn:${AWS::Partition}:s3:::${S3Bucket}"},
                BACKUP_OBJECTS,
            ],
        }
    },
}


def reads_the_backups(statements: Collection[Mapping[str, Any]]) -> bool:
    """Whether the statements allow s3:GetObject on the backups bucket's objects."""
    return any(
        s["Effect"] == "Allow"
        and "s3:GetObject" in _as_list(s["Action"])
        and s["Resource"] == BACKUP_OBJECTS
        for s in statements
    )


def actions_for_the_code(statements: list[dict[str, Any]]) -> set[str]:
    """The actions the statements allow, but for ``TOPIC_KEY_GRANT`` in a publishing function
    and ``DUMP_KEY_GRANT`` in one that reads the backups: what must match the code's calls
    exactly."""
    exempt = []
    if publishes_the_digest(statements):
        exempt.append(TOPIC_KEY_GRANT)
    if reads_the_backups(statements):
        exempt.append(DUMP_KEY_GRANT)
    return {
        action
        for statement in statements
        if statement["Effect"] == "Allow" and statement not in exempt
        for action in _as_list(statement["Action"])
    }


# --- recording what the code calls ---------------------------------------------------------

OBJECT_READS = frozenset({"s3:HeadObject", "s3:GetObject"})


@dataclass(frozen=True)
class ObjectRead:
    """One read of an S3 object (or its metadata), as the code asked for it."""

    scenario: str
    operation: str
    bucket: str
    key: str
    byte_range: str | None


@dataclass
class Recorder:
    """The operations backupwatch's own clients performed, by whom, and the names its retrier
    gave them."""

    function: str = "setup"
    scenario: str = "setup"
    operations: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    """Role (a function of the template, MEMBER_PRINCIPAL or COPY_PRINCIPAL) -> API operation
    -> scenarios."""
    object_reads: dict[str, set[ObjectRead]] = field(default_factory=dict)
    """Role -> every HeadObject and GetObject it made, with its bucket, key and range."""
    inspected_by_tags: set[str] = field(default_factory=set)
    """The world's tenants whose own tags ask for an inspection of their dumps."""
    labels: set[str] = field(default_factory=set)
    """The names passed to ``Retrier.call`` (the IAM action, by backupwatch's convention)."""
    roles_assumed: dict[str, set[tuple[str, str | None]]] = field(default_factory=dict)
    """Who assumed a role -> (the role's ARN, the external id sent)."""
    read_timeouts: dict[str, set[tuple[str, float]]] = field(default_factory=dict)
    """Scenario -> (service, read timeout) of every client built in it."""

    @contextmanager
    def running(self, scenario: str, function: str = "DigestFunction") -> Iterator[None]:
        self.function, self.scenario = function, scenario
        try:
            yield
        finally:
            self.function = self.scenario = "setup"

    def recorder_for(self, assumed_role: str | None) -> Callable[..., None]:
        """The hook for one client: its calls are the copy-account role's if it holds that
        role's credentials, the member role's if it holds another role's, else those of the
        function running."""

        def record(model: Any, params: Mapping[str, Any] | None = None, **_: Any) -> None:
            operation = f"{model.service_model.service_name}:{model.name}"
            who = (
                self.function
                if assumed_role is None
                else COPY_PRINCIPAL
                if assumed_role == COPY_ROLE
                else MEMBER_PRINCIPAL
            )
            calls = self.operations.setdefault(who, {})
            calls.setdefault(operation, set()).add(self.scenario)
            if operation == "sts:AssumeRole" and params is not None:
                role = (params.get("RoleArn", ""), params.get("ExternalId"))
                self.roles_assumed.setdefault(who, set()).add(role)
            if operation in OBJECT_READS and params is not None:
                read = ObjectRead(
                    self.scenario,
                    operation,
                    params.get("Bucket", ""),
                    params.get("Key", ""),
                    params.get("Range"),
                )
                self.object_reads.setdefault(who, set()).add(read)

        return record

    def calls_of(self, who: str) -> dict[str, set[str]]:
        return self.operations.get(who, {})


def _assumed_role(session: boto3.Session) -> str | None:
    """The name of the role whose assumed-role credentials ``session`` holds; None for the
    function's own. Asked of STS with a client of the test's own (not recorded)."""
    credentials = session.get_credentials()
    if getattr(credentials, "method", None) != "sts-assume-role":
        return None
    frozen = credentials.get_frozen_credentials()
    sts = boto3.client(
        "sts",
        region_name=REGION,
        aws_access_key_id=frozen.access_key,
        aws_secret_access_key=frozen.secret_key,
        aws_session_token=frozen.token,
    )
    # arn:aws:sts::<account>:assumed-role/<role name>/<session name>
    arn: str = sts.get_caller_identity()["Arn"]
    return arn.split(":assumed-role/", 1)[1].rsplit("/", 1)[0]


@contextmanager
def recording(patch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    """Record every call of every client ``backupwatch.aws.clients`` builds, and every label."""
    recorded = Recorder()
    build = backupwatch.aws.clients._client

    def recording_client(
        session: boto3.Session, service: str, region: str | None, **kw: Any
    ) -> Any:
        client = build(session, service, region, **kw)
        assert USER_AGENT_EXTRA in (client.meta.config.user_agent_extra or "")
        timeout = (service, client.meta.config.read_timeout)
        recorded.read_timeouts.setdefault(recorded.scenario, set()).add(timeout)
        # Every handler of this event runs (a before-call hook can answer a call and stop the
        # others), so no fault injection or stub can hide a call from the record.
        client.meta.events.register(
            "before-parameter-build", recorded.recorder_for(_assumed_role(session))
        )
        return client

    patch.setattr(backupwatch.aws.clients, "_client", recording_client)
    call = Retrier.call

    def labelled_call(self: Retrier, operation: str, fn: Callable[[], Any], **kw: Any) -> Any:
        recorded.labels.add(operation)
        return call(self, operation, fn, **kw)

    patch.setattr(Retrier, "call", labelled_call)
    yield recorded


# --- the scenarios ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeContext:
    """The parts of Lambda's context the handlers may read."""

    function_name: str = "backupwatch-DigestFunction-TEST"
    aws_request_id: str = "00000000-0000-4000-8000-000000000000"
    invoked_function_arn: str = (
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:backupwatch-DigestFunction-TEST"
    )

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def _context(function: str) -> FakeContext:
    name = f"backupwatch-{function}-TEST"
    return FakeContext(
        function_name=name,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
    )


def _no_sleep(_seconds: float) -> None:
    """Retries and rate limits count their waits here instead of waiting."""


def _role(account: str) -> str:
    return f"arn:aws:iam::{account}:role/{MEMBER_ROLE}"


# One value per setting that turns its feature on: a new setting fails test_every_setting_is_on
# until it is given one here, so that whatever AWS calls it adds are recorded too.
EVERY_SETTING_ON = {
    "sns_topic_arn": f"arn:aws:sns:{REGION}:{ACCOUNT}:backup-digest",
    "s3_bucket": BUCKET,
    "tenant_tag": TENANT_TAG,
    "prefix_template": "{account_id}/{region}/{tenant}/",
    "max_age_hours": "26",
    "min_object_bytes": "1024",
    # Every check: rds, s3 and backup listed; copy and policy by their settings below.
    "checks": "rds,s3,backup",
    "regions": f"{REGION},{OTHER_REGION}",
    "dry_run": "false",
    "notify": "failures",
    "publish_reserve_seconds": "30",
    "s3_concurrency": "4",
    "read_timeout_seconds": "10",
    "rds_requests_per_second": "100",
    "rds_burst": "300",
    "s3_date_layout": "%Y/%m/%d/",
    "new_tenant_grace_hours": "2",
    "stopped_is_failing": "true",
    "pitr_max_lag_hours": "1",
    "tag_window_limit_hours": "168",
    "tag_min_object_bytes_floor": "1",
    "tag_pause_limit_days": "30",
    "tag_may_skip_checks": "false",
    # Every inspection of the newest dump, so HeadObject (with ChecksumMode), both ranged GETs
    # (pg_plain has a completion marker) and the sidecar GET are made: _more_world gives ledger a
    # fresh dump that passes them all.
    "size_drop_ratio": "0.6",
    "tag_size_drop_ratio_floor": "0.4",
    "dump_format": "pg_plain",
    "verify_checksums": "true",
    "object_lock_min_days": "20",
    "object_lock_compliance": "true",
    "require_encryption": "true",
    "require_kms_key": DUMP_KEY_ARN,
    # This account as a target of its own, a member account with its own bucket and external
    # id, and one reached through the run's external id.
    "targets": json.dumps(
        [
            {"regions": [REGION]},
            {
                "role_arn": _role(MEMBER),
                "external_id": "member-specific-id",
                "s3_bucket": MEMBER_BUCKET,
            },
            {"role_arn": _role(OTHER_MEMBER), "regions": [OTHER_REGION]},
        ]
    ),
    "external_id": EXTERNAL_ID,
    # Not together with targets (the library refuses both): the organization scenario turns
    # it on, with every other setting but targets.
    "organization_role_name": MEMBER_ROLE,
    "report_bucket": REPORTS,
    "report_prefix": "backupwatch/prod/",
    "report_url_hours": "12",
    # The backup check's recovery points and jobs, the copy check's vaults and replicated
    # automated backups in the copy region, the copy account's vaults (through the copy role),
    # and every policy control (which read nothing more). With a retention control the backup
    # check lists the recovery points per vault (their lifecycle); BACKUP_PER_TENANT, without
    # it, per tenant: both listings are made. Copies are listed per vault, always.
    "rds_backup_rule": "either",
    "copy_regions": COPY_REGION,
    "copy_accounts": COPY_ACCOUNT,
    "copy_role_name": COPY_ROLE,
    "min_retention_days": "7",
    "require_encrypted_backups": "true",
    "backup_kms_key": BACKUP_KEY_ARN,
    "daily_backup_days": "3",
    # Every delivery channel: the per-protocol digest, Slack (its URL in Secrets Manager),
    # Teams (in an SSM SecureString), the HTML email through SES, owner notices on their topic
    # and by mail, and every owner's all-clear (_delivery_world; the posts are stubbed).
    "sns_message_format": "per-protocol",
    "slack_webhook_secret": SLACK_SECRET,
    "teams_webhook_secret": TEAMS_PARAMETER,
    "ses_sender": SENDER,
    "ses_recipients": "dba@example.com",
    "ses_region": REGION,
    "owner_topic_arn": OWNER_TOPIC,
    "owners": "team-data=data@example.com",
    "owner_email_domains": "example.com",
    "owner_all_clear": "*",
}
NOT_WITH_TARGETS = {"organization_role_name"}
PER_TENANT = "the backup check per tenant"
"""In the names of BACKUP_PER_TENANT's scenarios."""
BACKUP_PER_TENANT = {
    **{k: v for k, v in EVERY_SETTING_ON.items() if k not in NOT_WITH_TARGETS},
    "min_retention_days": "",
    # This account in OTHER_REGION, and the member account in REGION: each has one tenant
    # there and two vaults (_aws_backup_world), so the backup check lists that tenant's
    # recovery points (ListRecoveryPointsByResource) rather than the vaults'.
    "targets": json.dumps(
        [
            {"regions": [OTHER_REGION]},
            {
                "role_arn": _role(MEMBER),
                "external_id": "member-specific-id",
                "s3_bucket": MEMBER_BUCKET,
                "regions": [REGION],
            },
        ]
    ),
}
"""Every setting on but the retention control, whose lifecycle only the vaults' listing has:
where a region's vaults are more listings than its tenants, the backup check lists per tenant.
"""


def _environment(values: Mapping[str, str]) -> dict[str, str]:
    return {ENVIRONMENT[name][0]: value for name, value in values.items()}


def _base_env(topic_arn: str) -> dict[str, str]:
    return {
        "BACKUPWATCH_SNS_TOPIC_ARN": topic_arn,
        "BACKUPWATCH_S3_BUCKET": BUCKET,
        "BACKUPWATCH_REGIONS": f"{REGION},{OTHER_REGION}",
        # The seed's way of listing an instance: the tenant-not-found path too.
        "DB_INSTANCE_IDENTIFIER_1": "legacy-payroll",
        "S3_FOLDER_1": "payroll-backups/",
        "DB_INSTANCE_IDENTIFIER_2": "no-such-instance",
        # The handler and the CLI build their own Retrier, whose sleep is real: a burst this
        # large means the RDS rate limit never makes them wait.
        "BACKUPWATCH_RDS_BURST": "300",
    }


def _more_world(session: boto3.Session) -> None:
    """Beyond the demo: a tenant in a second region, a tagged Aurora cluster, the report
    bucket, and tenants in two member accounts (one with a backups bucket of its own)."""
    session.client("rds", region_name=OTHER_REGION).create_db_instance(
        DBInstanceIdentifier="db-east",
        DBInstanceClass="db.t4g.micro",
        Engine="mysql",
        AllocatedStorage=20,
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
        BackupRetentionPeriod=7,
        Tags=[{"Key": TENANT_TAG, "Value": "east"}],
    )
    session.client("rds").create_db_cluster(
        DBClusterIdentifier="aurora-tenant",
        Engine="aurora-postgresql",
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
        BackupRetentionPeriod=7,
        Tags=[{"Key": TENANT_TAG, "Value": "aurora"}],
    )
    session.client("s3").create_bucket(
        Bucket=REPORTS, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    member = World.in_account(MEMBER)
    member.instance("db-member", tenant="member-tenant", region=REGION)
    member.bucket(MEMBER_BUCKET)
    member.put("member-tenant-backups/dump.sql", datetime.now(UTC), bucket=MEMBER_BUCKET)
    World.in_account(OTHER_MEMBER).instance("db-other", tenant="other", region=OTHER_REGION)
    session.client("rds").create_db_instance(
        DBInstanceIdentifier=f"db-{INSPECTED}",
        DBInstanceClass="db.t4g.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
        BackupRetentionPeriod=7,
        StorageEncrypted=True,
        KmsKeyId=BACKUP_KEY_ARN,
        Tags=[{"Key": TENANT_TAG, "Value": INSPECTED}],
    )
    _inspected_dump(session)


def _delivery_world(session: boto3.Session) -> None:
    """The delivery channels' resources: the webhook URLs' secret and parameter, a verified
    SES sender, and the owner topic."""
    session.client("secretsmanager").create_secret(
        Name="backupwatch/slack", SecretString="https://hooks.slack.com/services/T0/B0/token"
    )
    session.client("ssm").put_parameter(
        Name="/backupwatch/teams",
        Value="https://prod-01.westeurope.logic.azure.com/workflows/0/triggers/manual/paths/invoke",
        Type="SecureString",
    )
    session.client("sesv2").create_email_identity(EmailIdentity=SENDER)
    session.client("sns").create_topic(Name="backupwatch-owners")


def _posted(url: str, payload: Any, **_: Any) -> WebhookReceipt:
    """The webhook post, stubbed: it is HTTP to Slack or Teams, no AWS call to record."""
    return WebhookReceipt(service="slack" if "slack" in url else "teams", status=200, attempts=1)


def _instance(session: boto3.Session, identifier: str, region: str) -> dict[str, Any]:
    client = session.client("rds", region_name=region)
    [instance] = client.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"]
    return dict(instance)


def _aws_backup_world(fake: FakeAws, session: boto3.Session, now: datetime) -> None:
    """What AWS Backup and RDS's replication hold, where EVERY_SETTING_ON looks (moto has none
    of it): ledger's daily recovery points, kept 35 days, with the required key, in this
    account's region, and its copies in the copy region (an AWS Backup copy in one of
    COPY_VAULTS vaults, a replicated automated backup); a failed job of another tenant; and in
    the member account, a recovery point in its region and two vaults in its copy region (more
    vault listings than its one tenant: still listed per vault); in the copy account
    (COPY_ACCOUNT), ledger's AWS Backup copy; and a second vault beside db-east's recovery point
    in OTHER_REGION, and beside the member's in REGION, for BACKUP_PER_TENANT."""
    ledger = _instance(session, f"db-{INSPECTED}", REGION)
    arn = ledger["DBInstanceArn"]
    for days in range(4):
        fake.add_recovery_point(
            region=REGION,
            vault="Default",
            resource_arn=arn,
            resource_type="RDS",
            created=now - timedelta(days=days, hours=2),
            encryption_key_arn=BACKUP_KEY_ARN,
            delete_after_days=35,
        )
    source_vault = f"arn:aws:backup:{REGION}:{ACCOUNT}:backup-vault:Default"
    for number in range(COPY_VAULTS):
        fake.add_recovery_point(
            region=COPY_REGION,
            vault=f"dr-{number}",
            resource_arn=arn,
            resource_type="RDS",
            created=now - timedelta(hours=3 + number),
            encryption_key_arn=BACKUP_KEY_ARN,
            delete_after_days=35,
            source_vault_arn=source_vault,
        )
    fake.add_automated_backup(
        region=COPY_REGION,
        source_region=REGION,
        instance_arn=arn,
        identifier=f"db-{INSPECTED}",
        resource_id=ledger["DbiResourceId"],
        latest=now - timedelta(minutes=20),
        earliest=now - timedelta(days=7),
        kms_key_id=BACKUP_KEY_ARN,
    )
    acme = _instance(session, "db-acme", REGION)
    fake.add_backup_job(
        region=REGION,
        resource_arn=acme["DBInstanceArn"],
        resource_type="RDS",
        created=now - timedelta(hours=5),
        state="FAILED",
        status_message="Insufficient privileges to perform this action.",
    )
    # Copied since ledger was created (just now, in moto): a copy older than its resource
    # would be of a predecessor of the same name.
    fake.add_recovery_point(
        account_id=COPY_ACCOUNT,
        region=REGION,
        vault="central",
        resource_arn=arn,
        resource_type="RDS",
        created=max(now, ledger["InstanceCreateTime"]),
        encryption_key_arn=BACKUP_KEY_ARN,
        delete_after_days=35,
        source_vault_arn=source_vault,
    )
    east = _instance(session, "db-east", OTHER_REGION)
    fake.add_recovery_point(
        region=OTHER_REGION,
        vault="Default",
        resource_arn=east["DBInstanceArn"],
        resource_type="RDS",
        created=now - timedelta(hours=6),
    )
    fake.add_vault(OTHER_REGION, "monthly")
    member = f"arn:aws:rds:{REGION}:{MEMBER}:db:db-member"
    fake.add_recovery_point(
        region=REGION,
        vault="Default",
        resource_arn=member,
        resource_type="RDS",
        created=now - timedelta(hours=4),
        account_id=MEMBER,
    )
    fake.add_vault(REGION, "monthly", account_id=MEMBER)
    for vault in ("dr-a", "dr-b"):
        fake.add_recovery_point(
            region=COPY_REGION,
            vault=vault,
            resource_arn=member,
            resource_type="RDS",
            created=now - timedelta(hours=5),
            account_id=MEMBER,
            source_vault_arn=f"arn:aws:backup:{REGION}:{MEMBER}:backup-vault:Default",
        )


PG_PLAIN_DUMP = (
    b"--\n-- PostgreSQL database dump\n--\n\n"
    + b"INSERT INTO entries VALUES (1, 'ledger');\n" * 60
    + b"\n--\n-- PostgreSQL database dump complete\n--\n\n"
)


def _inspected_dump(session: boto3.Session) -> str:
    """ledger's newest dump where EVERY_SETTING_ON looks for it (this account, dated folder):
    plain SQL with its completion marker, larger than one ranged read, a sha256sum sidecar
    and no sha256 metadata (so the sidecar is read), S3's SHA-256 checksum, a COMPLIANCE lock
    for 30 more days, and SSE-KMS with ``DUMP_KEY_ARN``. Every inspection passes. Returns
    its key."""
    now = datetime.now(UTC)
    name = f"{INSPECTED}-{now:%Y%m%d}.sql"
    key = f"{ACCOUNT}/{REGION}/{INSPECTED}/{now:%Y/%m/%d}/{name}"
    assert len(PG_PLAIN_DUMP) > 2 * 1024  # over the head read and BACKUPWATCH_MIN_OBJECT_BYTES
    # AWS lets an existing bucket turn Object Lock on (PutObjectLockConfiguration); moto only
    # a new, empty one, so its flag is set directly.
    from moto.s3.models import s3_backends

    s3_backends[ACCOUNT]["aws"].buckets[BUCKET].object_lock_enabled = True
    s3 = session.client("s3")
    s3.put_object(
        Bucket=BUCKET,
        Key=key,
        Body=PG_PLAIN_DUMP,
        ChecksumAlgorithm="SHA256",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=now + timedelta(days=30),
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=DUMP_KEY_ARN,
    )
    digest = hashlib.sha256(PG_PLAIN_DUMP).hexdigest()
    s3.put_object(Bucket=BUCKET, Key=f"{key}.sha256", Body=f"{digest}  {name}\n".encode())
    return key


INSPECTION_TAGS = (TAG_DUMP_FORMAT, TAG_VERIFY_CHECKSUM, TAG_OBJECT_LOCK_MIN_DAYS)


def _inspected_by_tags(session: boto3.Session) -> set[str]:
    """The tenants of this account whose tags ask for a format, checksums or a lock."""
    names = set()
    for page in session.client("rds").get_paginator("describe_db_instances").paginate():
        for instance in page["DBInstances"]:
            tags = {tag["Key"]: tag["Value"] for tag in instance.get("TagList", [])}
            asks = any(tags.get(key, "false").lower() != "false" for key in INSPECTION_TAGS)
            if asks and tags.get(TENANT_TAG):
                names.add(tags[TENANT_TAG])
    return names


def _organization(session: boto3.Session) -> None:
    """An AWS Organization whose management account is this one, with one member."""
    organizations = session.client("organizations", region_name=OTHER_REGION)
    organizations.create_organization(FeatureSet="ALL")
    organizations.create_account(AccountName="member", Email="member@example.com")


def _digest_paths(recorder: Recorder, base: dict[str, str], retrier: Retrier) -> None:
    """DigestFunction's code paths: the library, the pipeline, the handler, the CLI."""
    now = datetime.now(UTC)

    def settings(**variables: str) -> Any:
        return load_settings({**base, **variables})

    with recorder.running("library: check_tenants"):
        check_tenants(settings(), session=boto3.Session(), clock=lambda: now, retrier=retrier)
    with recorder.running("pipeline: check and publish"):
        outcome = run_daily(settings(), session=boto3.Session(), retrier=retrier)
        assert outcome.message_id is not None
    with recorder.running("{account_id} prefix template"):
        run_daily(
            settings(BACKUPWATCH_PREFIX_TEMPLATE="{account_id}/{tenant}/", BACKUPWATCH_DRY_RUN="1"),
            session=boto3.Session(),
            retrier=retrier,
        )
    every = {**base, **_environment(EVERY_SETTING_ON)}
    with_targets = {k: v for k, v in every.items() if k not in _environment_names(NOT_WITH_TARGETS)}
    with recorder.running("every optional setting on (targets)"):
        # The second run reads the first run's report back, to compare, and the ledger's
        # records: every channel was sent by the first.
        first, outcome = (
            run_daily(load_settings(with_targets), session=boto3.Session(), retrier=retrier)
            for _ in range(2)
        )
        assert first.message_id is not None  # failing tenants: notify=failures publishes
        assert {d.state for d in first.deliveries} == {"sent"}
        assert {d.state for d in outcome.deliveries} == {"already sent"}
        assert outcome.archived is not None
        assert outcome.archived.error is None
        assert outcome.archived.url is not None  # a presigned link
        # ledger's dump passed every inspection, so every read of it was made (none cut short);
        # its AWS Backup recovery points and its copies were found, so were listed.
        [ledger] = [row for row in outcome.report.tenants if row.tenant == INSPECTED]
        assert ledger.status is Status.OK, ledger.reason
        assert set(ledger.checks) == {Check.RDS, Check.S3, Check.BACKUP, Check.COPY, Check.POLICY}
    per_tenant = {**base, **_environment(BACKUP_PER_TENANT), "BACKUPWATCH_DRY_RUN": "true"}
    with recorder.running(f"every optional setting on but retention ({PER_TENANT})"):
        run_daily(load_settings(per_tenant), session=boto3.Session(), retrier=retrier)
    organization = {k: v for k, v in every.items() if k != "BACKUPWATCH_TARGETS"}
    with recorder.running("every optional setting on (an organization)"):
        run_daily(load_settings(organization), session=boto3.Session(), retrier=retrier)
    with mock.patch.dict(os.environ, base):
        with recorder.running("lambda handler"):
            assert lambda_handler({}, FakeContext())["message_id"] is not None
        with recorder.running("lambda handler, dry run"):
            assert lambda_handler({"dry_run": True}, FakeContext())["message_id"] is None
        with recorder.running("backupwatch check"):
            assert cli_main(["check", "--timeout", "600"]) == 1
            assert cli_main(["check", "--json", "--dry-run"]) == 1


def _environment_names(fields: Collection[str]) -> set[str]:
    return {ENVIRONMENT[name][0] for name in fields}


MAP_RUN_ID = "0b5e7a53-4c6f-3a51-9d2e-8a1f0c2d9e47"


def _result_writer_output(
    session: boto3.Session, prefix: str, children: list[tuple[dict[str, Any], Any]]
) -> dict[str, Any]:
    """What the Distributed Map's ResultWriter leaves in S3 (a manifest and one result file
    per status, Transformation NONE) and the Map's output pointing at it; written with plain
    boto3, so the writes are Step Functions', not a function's."""
    s3 = session.client("s3")
    base = f"{prefix}runs/{MAP_RUN_ID}/"
    entries: dict[str, list[dict[str, Any]]] = {"SUCCEEDED": [], "FAILED": []}
    for number, (child, output) in enumerate(children):
        entry: dict[str, Any] = {"Name": f"child-{number}", "Input": json.dumps(child)}
        if output is None:
            entry.update({"Status": "FAILED", "Error": "States.Timeout", "Cause": "timed out"})
        else:
            entry.update({"Status": "SUCCEEDED", "Output": json.dumps(output)})
        entries[entry["Status"]].append(entry)
    listed: dict[str, list[dict[str, Any]]] = {"SUCCEEDED": [], "FAILED": [], "PENDING": []}
    for status, items in entries.items():
        key = f"{base}{status}_0.json"
        body = json.dumps(items).encode()
        s3.put_object(Bucket=REPORTS, Key=key, Body=body)
        listed[status].append({"Key": key, "Size": len(body)})
    manifest = {"DestinationBucket": REPORTS, "MapRunArn": "arn:m", "ResultFiles": listed}
    s3.put_object(Bucket=REPORTS, Key=f"{base}manifest.json", Body=json.dumps(manifest))
    return {
        "MapRunArn": "arn:m",
        "ResultWriterDetails": {"Bucket": REPORTS, "Key": f"{base}manifest.json"},
    }


def _state_machine_paths(recorder: Recorder, base: dict[str, str]) -> None:
    """The three steps of Mode=step-functions, each as its own function, with every setting
    on: plan (targets, then an organization), a scan of each scope (this account's and
    member accounts', one report too large to return), publish (with the archive)."""
    every = {**base, **_environment(EVERY_SETTING_ON)}
    prefix = EVERY_SETTING_ON["report_prefix"]
    organization = {k: v for k, v in every.items() if k != "BACKUPWATCH_TARGETS"}
    with (
        mock.patch.dict(os.environ, organization),
        recorder.running("plan: an organization", "PlanFunction"),
    ):
        plan_scopes.lambda_handler({"run_id": "org-run"}, _context("PlanFunction"))
    env = {k: v for k, v in every.items() if k not in _environment_names(NOT_WITH_TARGETS)}
    with mock.patch.dict(os.environ, env):
        with recorder.running("plan: targets", "PlanFunction"):
            plan = plan_scopes.lambda_handler({"run_id": "run-1"}, _context("PlanFunction"))
        scopes = json.loads(
            boto3.client("s3")
            .get_object(Bucket=plan["bucket"], Key=plan["scopes_key"])["Body"]
            .read()
        )
        assert {scope["account_id"] for scope in scopes} >= {MEMBER, OTHER_MEMBER}
        children = []
        for number, scope in enumerate(scopes):
            child = {"scope": scope, "run_id": plan["run_id"], "bucket": plan["bucket"]}
            # The first scope's report is too large to return inline: it goes to S3.
            inline = 10 if number == 0 else backupwatch.aws.fanout_store.INLINE_MAX_BYTES
            with (
                recorder.running(f"scan: {scope['account_id']} {scope['region']}", "ScanFunction"),
                mock.patch.object(backupwatch.aws.fanout_store, "INLINE_MAX_BYTES", inline),
            ):
                output = scan_scope.lambda_handler(child, _context("ScanFunction"))
            assert ("report_s3" in output) == (number == 0)
            children.append((child, output))
        children.append(({"scope": scopes[0], "run_id": "run-1"}, None))  # a failed child
        _scan_per_tenant(recorder, base)
        scan = _result_writer_output(boto3.Session(), prefix, children)
        # The second reads the first's report back, to compare. The first resends: the
        # single Lambda's paths above made the same delivery today, and the ledger knows it.
        for run in range(2):
            with recorder.running("publish: the run, archived", "PublishFunction"):
                result = publish_digest.lambda_handler(
                    {"plan": plan, "scan": scan, "dry_run": False, "resend": run == 0},
                    _context("PublishFunction"),
                )
            assert (result["message_id"] is not None) == (run == 0), run
            assert set(result["deliveries"].values()) == {"sent" if run == 0 else "already sent"}
            assert result["report"] is not None


def _scan_per_tenant(recorder: Recorder, base: dict[str, str]) -> None:
    """The plan and the scans of BACKUP_PER_TENANT, where the backup check lists per tenant."""
    with mock.patch.dict(os.environ, {**base, **_environment(BACKUP_PER_TENANT)}):
        with recorder.running(f"plan: {PER_TENANT}", "PlanFunction"):
            plan = plan_scopes.lambda_handler({"run_id": "run-2"}, _context("PlanFunction"))
        scopes = json.loads(
            boto3.client("s3")
            .get_object(Bucket=plan["bucket"], Key=plan["scopes_key"])["Body"]
            .read()
        )
        for scope in scopes:
            child = {"scope": scope, "run_id": plan["run_id"], "bucket": plan["bucket"]}
            where = f"{scope['account_id']} {scope['region']}"
            with recorder.running(f"scan: {where} ({PER_TENANT})", "ScanFunction"):
                scan_scope.lambda_handler(child, _context("ScanFunction"))


def _run_every_path(recorder: Recorder) -> None:
    """Drive every entry point and every optional feature once, recording the calls."""
    # The page goes to a temporary directory: never litter the working tree.
    with recorder.running("backupwatch demo"), tempfile.TemporaryDirectory() as page_dir:
        assert cli_main(["demo", "--html", str(Path(page_dir) / "status.html")]) == 0

    now = datetime.now(UTC)
    retrier = Retrier(sleep=_no_sleep)
    with mock_aws(), FakeAws() as fake:
        setup = boto3.Session(region_name=REGION)
        topic_arn = build_world(setup, now)
        _more_world(setup)
        _delivery_world(setup)
        _aws_backup_world(fake, setup, now)
        recorder.inspected_by_tags = _inspected_by_tags(setup)
        _organization(setup)
        base = {**_base_env(topic_arn), "BACKUPWATCH_SNS_TOPIC_ARN": topic_arn}
        _digest_paths(recorder, base, retrier)
        _state_machine_paths(recorder, _base_env(topic_arn))


@pytest.fixture(scope="module")
def recorded() -> Iterator[Recorder]:
    """Every path, run once for the module (it takes seconds), with fake credentials only."""
    with pytest.MonkeyPatch.context() as patch, recording(patch) as recorder:
        for name in list(os.environ):
            if name.startswith(("BACKUPWATCH_", "AWS_", "DB_INSTANCE_IDENTIFIER_", "S3_FOLDER_")):
                patch.delenv(name)
        for name, value in FAKE_ENV.items():
            patch.setenv(name, value)
        patch.setattr(backupwatch.pipeline.delivery, "post_webhook", _posted)
        with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            _run_every_path(recorder)
        yield recorder


@pytest.mark.parametrize("function", FUNCTIONS)
def test_policy_grants_exactly_what_the_code_calls(recorded: Recorder, function: str) -> None:
    """Every action a function's code paths call is granted to it, and every action granted
    to it is called."""
    used = recorded.calls_of(function)
    assert used, f"nothing was recorded for {function}: is backupwatch.aws.clients._client used?"
    granted = actions_for_the_code(policy_statements(load_template(), function))
    problems = least_privilege_problems(
        used, granted, where=f"{function}'s Policies in template.yaml"
    )
    assert not problems, "\n".join(problems)


MEMBER_PERMISSIONS = 1
"""The member-account role's JSON blocks in docs/iam.md: its trust policy (0), its permissions
(1), the inspections' statements (2) and the backup and copy checks' statements (3)."""
MEMBER_AWS_BACKUP = 3


def test_every_client_waits_as_long_as_the_setting_says(recorded: Recorder) -> None:
    """``BACKUPWATCH_READ_TIMEOUT_SECONDS`` reaches every client of every path: RDS, S3, AWS
    Backup, STS, Organizations, SNS, SES, Secrets Manager, SSM. A builder that forgot it would
    leave its client at botocore's 60 s, or at the 20 s default."""
    every_on = {
        scenario: timeouts
        for scenario, timeouts in recorded.read_timeouts.items()
        if scenario.startswith("every optional setting on")
    }
    assert len(every_on) == 3
    services = {service for timeouts in every_on.values() for service, _ in timeouts}
    assert {"rds", "s3", "backup", "sts", "sns", "sesv2", "secretsmanager"} <= services
    for scenario, timeouts in every_on.items():
        assert {timeout for _, timeout in timeouts} == {10.0}, scenario
    assert {t for _, t in recorded.read_timeouts["library: check_tenants"]} == {20.0}


def test_member_role_policy_grants_exactly_what_the_code_calls(recorded: Recorder) -> None:
    """What backupwatch does with a member account's credentials (every check on) is exactly
    what the member-account role of docs/iam.md allows, with the backup and copy checks'
    statements."""
    used = recorded.calls_of(MEMBER_PRINCIPAL)
    assert used, "nothing was recorded with assumed-role credentials"
    granted = {
        action
        for block in (MEMBER_PERMISSIONS, MEMBER_AWS_BACKUP)
        for statement in documented_policy("The member-account role", block=block)["Statement"]
        for action in _as_list(statement["Action"])
    }
    problems = least_privilege_problems(
        used, granted, where="the member-account role's policy in docs/iam.md"
    )
    assert not problems, "\n".join(problems)


COPY_PERMISSIONS = 1
"""The copy-account role's JSON blocks in docs/iam.md: its trust policy (0), its permissions
(1)."""


def test_copy_role_policy_grants_exactly_what_the_code_calls(recorded: Recorder) -> None:
    """What backupwatch does with the copy role's credentials (the vaults of the copy account,
    in the tenants' regions and the copy region) is exactly what the copy-account role of
    docs/iam.md allows; the copy account's vaults only, for the recovery points."""
    used = recorded.calls_of(COPY_PRINCIPAL)
    assert set(used) == {"backup:ListBackupVaults", "backup:ListRecoveryPointsByBackupVault"}
    statements = documented_policy("The copy-account role", block=COPY_PERMISSIONS)["Statement"]
    granted = {action for statement in statements for action in _as_list(statement["Action"])}
    problems = least_privilege_problems(
        used, granted, where="the copy-account role's policy in docs/iam.md"
    )
    assert not problems, "\n".join(problems)
    resources = {
        action: statement["Resource"]
        for statement in statements
        for action in _as_list(statement["Action"])
    }
    assert resources == {
        "backup:ListBackupVaults": "*",
        "backup:ListRecoveryPointsByBackupVault": (
            f"arn:aws:backup:*:{COPY_ACCOUNT}:backup-vault:*"
        ),
    }


@pytest.mark.parametrize("function", ["DigestFunction", "ScanFunction"])
def test_the_copy_role_is_assumed_with_the_functions_credentials(
    recorded: Recorder, function: str
) -> None:
    """The function that checks scopes assumes the copy role itself (never through a member
    role), by name in the copy account, with BACKUPWATCH_EXTERNAL_ID: what the copy-account
    role's trust policy in docs/iam.md asks for."""
    copy_role = f"arn:aws:iam::{COPY_ACCOUNT}:role/{COPY_ROLE}"
    assert (copy_role, EXTERNAL_ID) in recorded.roles_assumed.get(function, set())
    for who in (MEMBER_PRINCIPAL, COPY_PRINCIPAL):
        assert who not in recorded.roles_assumed
    trust = documented_policy("The copy-account role", block=0)
    [statement] = trust["Statement"]
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    assert statement["Condition"]["StringEquals"] == {"sts:ExternalId": EXTERNAL_ID}
    assert (
        statement["Condition"]["ArnLike"]
        == documented_policy("The member-account role")["Statement"][0]["Condition"]["ArnLike"]
    )


def test_copies_are_read_with_the_vaults_listing_only(recorded: Recorder) -> None:
    """ListRecoveryPointsByResource is the backup check's, when it is fewer calls: only the
    scenarios without the retention control call it, and no copy listing ever does, although
    this account's copy region (COPY_VAULTS), the member's (two vaults) and the copy account
    hold more vaults than tenants."""
    by_resource = "backup:ListRecoveryPointsByResource"
    for who in ("DigestFunction", "ScanFunction", MEMBER_PRINCIPAL):
        scenarios = recorded.calls_of(who).get(by_resource, set())
        assert scenarios, f"{who} never listed a tenant's recovery points"
        assert all(PER_TENANT in scenario for scenario in scenarios), (who, scenarios)
    assert by_resource not in recorded.calls_of(COPY_PRINCIPAL)


def test_calls_are_labelled_with_their_iam_action(recorded: Recorder) -> None:
    """The name each call gets in errors ("AccessDenied on s3:ListBucket") is its IAM action."""
    mapped = {
        OPERATIONS[op].name
        for calls in recorded.operations.values()
        for op in calls
        if op in OPERATIONS
    }
    assert recorded.labels == mapped


def test_every_setting_is_on_in_one_scenario() -> None:
    """A new setting must be switched on above, so the calls it adds are recorded too."""
    assert set(EVERY_SETTING_ON) == set(ENVIRONMENT)


# --- reading the backups: only when an inspection is on -------------------------------------

INSPECTING = ("every optional setting on", "scan: ")
"""The scenarios run with EVERY_SETTING_ON (the state machine's scans all are)."""
DUMP_NAME = re.compile(rf"{INSPECTED}-\d{{8}}\.sql")


def _in_folder_of(key: str, tenants: Collection[str]) -> bool:
    """Whether ``key`` lies in one of these tenants' folders, under any template the scenarios
    use (``{tenant}-backups/``, ``{account_id}/{tenant}/``, ...)."""
    segments = key.split("/")[:-1]
    return any(s in (name, f"{name}-backups") for name in tenants for s in segments)


@pytest.mark.parametrize("function", ["DigestFunction", "ScanFunction"])
def test_the_backups_are_read_only_when_an_inspection_is_on(
    recorded: Recorder, function: str
) -> None:
    """Without an inspection setting, no object of the backups bucket is read but the dumps of
    tenants whose own tags ask for an inspection (the demo's: hence ``InspectionByTags`` in
    the template). With every setting on, ledger's newest dump (it passes every check) gets
    exactly its four reads: the HEAD, the first bytes, the last bytes (pg_plain has a
    completion marker) and the sha256sum sidecar. (Other fresh dumps are read too.)"""
    backups = [r for r in recorded.object_reads.get(function, set()) if r.bucket == BUCKET]
    by_tags = recorded.inspected_by_tags
    assert [
        r
        for r in backups
        if not r.scenario.startswith(INSPECTING) and not _in_folder_of(r.key, by_tags)
    ] == []
    reads = {
        (r.operation, DUMP_NAME.sub("<dump>", r.key.rsplit("/", 1)[-1]), r.byte_range)
        for r in backups
        if DUMP_NAME.search(r.key)
    }
    assert reads == {
        ("s3:HeadObject", "<dump>", None),
        ("s3:GetObject", "<dump>", f"bytes=0-{HEAD_BYTES - 1}"),
        ("s3:GetObject", "<dump>", f"bytes=-{TAIL_BYTES}"),
        ("s3:GetObject", "<dump>.sha256", None),
    }


EVERY_INSPECTION = {
    "DumpFormat": EVERY_SETTING_ON["dump_format"],
    "VerifyChecksums": EVERY_SETTING_ON["verify_checksums"],
    "ObjectLockMinDays": EVERY_SETTING_ON["object_lock_min_days"],
    "ObjectLockCompliance": EVERY_SETTING_ON["object_lock_compliance"],
    "RequireEncryption": EVERY_SETTING_ON["require_encryption"],
    "RequireKmsKey": DUMP_KEY_ARN,
}
NO_INSPECTION: list[dict[str, str]] = [
    {},
    {
        "VerifyChecksums": "false",
        "RequireEncryption": "false",
        "ObjectLockCompliance": "false",
        "InspectionByTags": "false",
    },
    # The size rule reads no object: the listing has the sizes.
    {"SizeDropRatio": "0.3", "TagSizeDropRatioFloor": "0.1"},
    # Reading the report archive is not reading the backups.
    {"ArchiveReports": "true", "ReportUrlHours": "12"},
    # Inspections, but no backups bucket of this account to inspect (every target names its
    # own, read through the member role).
    {**EVERY_INSPECTION, "S3Bucket": ""},
]
MODES = {"single-lambda": "DigestFunction", "step-functions": "ScanFunction"}
"""Each mode's function that checks scopes (and so may read the backups)."""


def _deployed_policies(mode: str, **parameters: str) -> dict[str, list[dict[str, Any]]]:
    """Each deployed function's policy statements, for these parameters."""
    stack = Stack(load_template(), **{"S3Bucket": BUCKET, "Mode": mode, **parameters})
    policies = {}
    for function in FUNCTIONS:
        if stack.exists(function):
            [document] = stack.properties(function)["Policies"]
            policies[function] = document["Statement"]
    return policies


@pytest.mark.parametrize("mode", sorted(MODES))
def test_inspection_grows_the_policy_by_exactly_its_actions(mode: str) -> None:
    """Every inspection on adds three statements to the function that checks scopes, and
    nothing else anywhere: s3:GetObject and s3:GetObjectRetention on the backups bucket's
    objects, and kms:Decrypt on the required key, through S3, for that bucket only."""
    off = _deployed_policies(mode)
    on = _deployed_policies(mode, **EVERY_INSPECTION)
    assert set(on) == set(off)
    for function, statements in off.items():
        assert [s for s in statements if s not in on[function]] == [], function
        if function != MODES[mode]:
            assert on[function] == statements, function
    objects = f"arn:aws:s3:::{BUCKET}/*"
    added = [s for s in on[MODES[mode]] if s not in off[MODES[mode]]]
    assert added == [
        {
            "Sid": "InspectTheNewestDumps",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": objects,
        },
        {
            "Sid": "ReadTheDumpsObjectLock",
            "Effect": "Allow",
            "Action": "s3:GetObjectRetention",
            "Resource": objects,
        },
        {
            "Sid": "DecryptTheDumps",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": DUMP_KEY_ARN,
            "Condition": {
                "StringLike": {
                    "kms:ViaService": "s3.*.amazonaws.com",
                    "kms:EncryptionContext:aws:s3:arn": [f"arn:aws:s3:::{BUCKET}", objects],
                }
            },
        },
    ]
    grown = {a for s in added for a in _as_list(s["Action"])}
    assert grown == {"s3:GetObject", "s3:GetObjectRetention", "kms:Decrypt"}


def _reads_a_backup(statement: Mapping[str, Any]) -> bool:
    """Whether an Allow statement lets its role read an object of the backups bucket, its
    lock, or decrypt anything but the digest topic's key."""
    if statement["Effect"] != "Allow":
        return False
    actions = set(_as_list(statement["Action"]))
    resources = _as_list(statement["Resource"])
    on_backups = any(str(r).startswith(f"arn:aws:s3:::{BUCKET}/") or r == "*" for r in resources)
    return bool(
        (actions & {"s3:GetObject", "s3:GetObjectRetention", "s3:GetObjectVersion"} and on_backups)
        or "s3:GetObjectRetention" in actions
        or ("kms:Decrypt" in actions and resources != ["DigestTopicKey.Arn"])
    )


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize(
    "parameters", NO_INSPECTION, ids=lambda p: ",".join(sorted(p)) or "defaults"
)
def test_without_an_inspection_no_backup_is_readable(mode: str, parameters: dict[str, str]) -> None:
    """Least privilege: with no inspection asked for, no function may read an object of the
    backups bucket (s3:GetObject), its lock, or decrypt with any key but the topic's."""
    for function, statements in _deployed_policies(mode, **parameters).items():
        assert [s for s in statements if _reads_a_backup(s)] == [], function


def test_the_careless_read_is_caught() -> None:
    """The check above fails on the statements inspection adds (so it is not vacuous)."""
    on = _deployed_policies("single-lambda", **EVERY_INSPECTION)["DigestFunction"]
    assert [s["Sid"] for s in on if _reads_a_backup(s)] == [
        "InspectTheNewestDumps",
        "ReadTheDumpsObjectLock",
        "DecryptTheDumps",
    ]


# --- the comparison itself --------------------------------------------------------------------

USED = {
    "rds:DescribeDBInstances": {"a"},
    "rds:DescribeDBSnapshots": {"a"},
    "s3:ListObjectsV2": {"a"},
    "sns:Publish": {"b"},
    "sts:GetCallerIdentity": {"c"},
}
EXACT = {"rds:DescribeDBInstances", "rds:DescribeDBSnapshots", "s3:ListBucket", "sns:Publish"}


def test_the_exact_grant_passes() -> None:
    """Operations mapped to actions (ListObjectsV2 -> s3:ListBucket; STS needs none) match."""
    assert least_privilege_problems(USED, EXACT) == []


def test_dropping_a_used_action_fails() -> None:
    """A policy without an action the code calls is reported, with where it was called."""
    problems = least_privilege_problems(USED, EXACT - {"rds:DescribeDBSnapshots"})
    assert problems == [
        "the template's policy misses rds:DescribeDBSnapshots, which the code calls (in: a): "
        "add it to DigestFunction's Policies in template.yaml and to docs/iam.md"
    ]


def test_adding_an_unused_action_fails() -> None:
    """A policy granting an action no code path calls is reported."""
    problems = least_privilege_problems(USED, EXACT | {"rds:DescribeDBClusters"})
    assert problems == [
        "the template's policy grants rds:DescribeDBClusters, but no code path calls it: "
        "remove it from template.yaml and docs/iam.md"
    ]


def test_granting_get_caller_identity_fails() -> None:
    """sts:GetCallerIdentity needs no permission, so granting it is noise, and is reported."""
    [problem] = least_privilege_problems(USED, EXACT | {"sts:GetCallerIdentity"})
    assert "sts:GetCallerIdentity, but it needs no permission at all" in problem


def test_wildcards_fail() -> None:
    """``rds:*`` or ``*`` is never least privilege, even when it covers every call."""
    problems = least_privilege_problems(USED, EXACT | {"rds:*"})
    assert problems == ["the policy grants the wildcard action 'rds:*'"]


def test_aurora_operations_map_to_their_actions() -> None:
    """When cluster support lands, its calls ask for their own actions by name."""
    used = {**USED, "rds:DescribeDBClusters": {"x"}, "rds:DescribeDBClusterSnapshots": {"x"}}
    problems = least_privilege_problems(used, EXACT)
    assert [p.split(",")[0] for p in problems] == [
        "the template's policy misses rds:DescribeDBClusterSnapshots",
        "the template's policy misses rds:DescribeDBClusters",
    ]


def test_reading_an_object_needs_list_bucket_too() -> None:
    """A role that reads objects that may be missing needs s3:ListBucket, though it never
    lists: without it a missing key is AccessDenied, not NoSuchKey."""
    problems = least_privilege_problems({"s3:GetObject": {"r"}}, {"s3:GetObject"})
    assert problems == [
        "the template's policy misses s3:ListBucket, which the code calls (in: r): "
        "add it to DigestFunction's Policies in template.yaml and to docs/iam.md"
    ]
    granted = {"s3:GetObject", "s3:ListBucket"}
    assert least_privilege_problems({"s3:GetObject": {"r"}}, granted) == []


def test_a_head_is_a_get_that_shows_the_lock_only_with_get_object_retention() -> None:
    """HeadObject is authorised by s3:GetObject (there is no s3:HeadObject action), and shows
    the Object Lock only to a role that has s3:GetObjectRetention too."""
    head = {"s3:HeadObject": {"h"}}
    assert least_privilege_problems(head, {"s3:GetObject"}) == [
        "the template's policy misses s3:GetObjectRetention, which the code calls (in: h): "
        "add it to DigestFunction's Policies in template.yaml and to docs/iam.md"
    ]
    assert least_privilege_problems(head, {"s3:GetObject", "s3:GetObjectRetention"}) == []
    problems = least_privilege_problems(head, {"s3:HeadObject", "s3:GetObjectRetention"})
    assert [problem.split(",")[0] for problem in problems] == [
        "the template's policy misses s3:GetObject",
        "the template's policy grants s3:HeadObject",
    ]


def test_an_unmapped_operation_fails() -> None:
    """An operation nobody mapped is not silently ignored."""
    [problem] = least_privilege_problems({**USED, "kms:Decrypt": {"z"}}, EXACT)
    assert problem.startswith("kms:Decrypt (called in: z) has no IAM mapping")


def test_problems_name_the_function_whose_policy_is_wrong() -> None:
    """A miss in a step function's policy says which function's Policies to change."""
    [problem] = least_privilege_problems(
        {"s3:PutObject": {"plan"}}, set(), where="PlanFunction's Policies in template.yaml"
    )
    assert "add it to PlanFunction's Policies in template.yaml" in problem


def test_assumed_role_calls_are_the_member_roles() -> None:
    """Only a client holding assumed-role credentials records its calls for the member role,
    or, holding the copy role's, for the copy-account role."""
    recorder = Recorder()
    model = mock.Mock()
    model.service_model.service_name, model.name = "rds", "DescribeDBInstances"
    with recorder.running("s", "ScanFunction"):
        recorder.recorder_for(MEMBER_ROLE)(model)
        model.name = "DescribeDBSnapshots"
        recorder.recorder_for(None)(model)
        model.service_model.service_name, model.name = "backup", "ListBackupVaults"
        recorder.recorder_for(COPY_ROLE)(model)
    assert recorder.operations == {
        MEMBER_PRINCIPAL: {"rds:DescribeDBInstances": {"s"}},
        "ScanFunction": {"rds:DescribeDBSnapshots": {"s"}},
        COPY_PRINCIPAL: {"backup:ListBackupVaults": {"s"}},
    }


# --- the exemption for SNS's calls to KMS ------------------------------------------------------

PUBLISH = {
    "Sid": "PublishTheDigest",
    "Effect": "Allow",
    "Action": "sns:Publish",
    "Resource": {"Ref": "DigestTopic"},
}
PUBLISHED = {"sns:Publish": {"p"}}


def test_the_topic_key_grant_of_a_publisher_is_not_the_codes() -> None:
    """Next to sns:Publish on the topic, the exact key grant is left out of the comparison."""
    statements = [PUBLISH, TOPIC_KEY_GRANT]
    assert actions_for_the_code(statements) == {"sns:Publish"}
    assert least_privilege_problems(PUBLISHED, actions_for_the_code(statements)) == []


READ_BACKUPS = {
    "Sid": "InspectTheNewestDumps",
    "Effect": "Allow",
    "Action": "s3:GetObject",
    "Resource": BACKUP_OBJECTS,
}
LIST_BACKUPS = {
    "Sid": "ListTenantBackupFolders",
    "Effect": "Allow",
    "Action": "s3:ListBucket",
    "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${S3Bucket}"},
}
READ = {"s3:GetObject": {"r"}}


def test_the_dump_key_grant_of_a_backup_reader_is_not_the_codes() -> None:
    """Next to s3:GetObject on the backups, the exact dump key grant is left out of the
    comparison."""
    statements = [LIST_BACKUPS, READ_BACKUPS, DUMP_KEY_GRANT]
    assert actions_for_the_code(statements) == {"s3:ListBucket", "s3:GetObject"}
    assert least_privilege_problems(READ, actions_for_the_code(statements)) == []


def _widened(**changes: Any) -> dict[str, Any]:
    return {**TOPIC_KEY_GRANT, **changes}


def _widened_dump_grant(**changes: Any) -> dict[str, Any]:
    return {**DUMP_KEY_GRANT, **changes}


_ANY_BUCKET = {"StringLike": {"kms:ViaService": {"Fn::Sub": "s3.*.${AWS::URLSuffix}"}}}


@pytest.mark.parametrize(
    ("statements", "flagged"),
    [
        # On every key, not the topic's.
        ([PUBLISH, _widened(Resource="*")], "kms:Decrypt"),
        # One more action, or all of them.
        (
            [PUBLISH, _widened(Action=["kms:GenerateDataKey*", "kms:Decrypt", "kms:Encrypt"])],
            "kms:Encrypt",
        ),
        ([PUBLISH, _widened(Action="kms:*")], "'kms:*'"),
        # Usable directly, not only through SNS.
        ([PUBLISH, {k: v for k, v in TOPIC_KEY_GRANT.items() if k != "Condition"}], "kms:Decrypt"),
        # In a function that does not publish (the scan function, say).
        ([TOPIC_KEY_GRANT], "kms:Decrypt"),
        # Next to a publish on some other topic.
        ([{**PUBLISH, "Resource": "*"}, TOPIC_KEY_GRANT], "kms:Decrypt"),
        # The dump key grant on "*", not on keys (nor on the required one).
        ([LIST_BACKUPS, READ_BACKUPS, _widened_dump_grant(Resource="*")], "kms:Decrypt"),
        # One more action: what a reader never needs.
        (
            [
                LIST_BACKUPS,
                READ_BACKUPS,
                _widened_dump_grant(Action=["kms:Decrypt", "kms:GenerateDataKey"]),
            ],
            "kms:GenerateDataKey",
        ),
        # For any bucket's objects, or directly, not only through S3.
        ([LIST_BACKUPS, READ_BACKUPS, _widened_dump_grant(Condition=_ANY_BUCKET)], "kms:Decrypt"),
        (
            [
                LIST_BACKUPS,
                READ_BACKUPS,
                {k: v for k, v in DUMP_KEY_GRANT.items() if k != "Condition"},
            ],
            "kms:Decrypt",
        ),
        # In a function that does not read the backups (the plan or publish step).
        ([DUMP_KEY_GRANT], "kms:Decrypt"),
        # Next to a read of some other objects (the report bucket's).
        ([{**READ_BACKUPS, "Resource": "*"}, DUMP_KEY_GRANT], "kms:Decrypt"),
    ],
)
def test_any_other_kms_grant_is_compared_and_fails(
    statements: list[dict[str, Any]], flagged: str
) -> None:
    """The exemptions are those two statements: a careless variant is an ordinary grant, which
    no code path calls (or a wildcard), and the comparison reports it."""
    used = {
        **(PUBLISHED if publishes_the_digest(statements) else {}),
        **(READ if reads_the_backups(statements) else {}),
    }
    problems = least_privilege_problems(used, actions_for_the_code(statements))
    assert any(flagged in problem for problem in problems), problems


@pytest.mark.parametrize("function", FUNCTIONS)
def test_exactly_the_publishing_functions_hold_the_topic_key_grant(function: str) -> None:
    """The functions that publish the digest (sns:Publish on the topic) hold the key grant,
    once, as written in TOPIC_KEY_GRANT; the functions that read the backups hold the dump key
    grant, once, as written in DUMP_KEY_GRANT; no function holds any other KMS permission."""
    statements = policy_statements(load_template(), function)
    kms = [s for s in statements if any(a.startswith("kms:") for a in _as_list(s["Action"]))]
    expected = [TOPIC_KEY_GRANT] if publishes_the_digest(statements) else []
    expected += [DUMP_KEY_GRANT] if reads_the_backups(statements) else []
    assert sorted(kms, key=str) == sorted(expected, key=str)
    # The two functions that check scopes read the backups; the plan and publish steps never.
    assert reads_the_backups(statements) == (function in ("DigestFunction", "ScanFunction"))


# --- the policy's shape, and docs/iam.md ------------------------------------------------------


@pytest.mark.parametrize("function", FUNCTIONS)
def test_policy_is_inline_and_scoped(function: str) -> None:
    """Only inline statements (nothing to hide actions); only RDS's listings and the listings
    without resource-level permissions (organizations:ListAccounts, AWS Backup's vaults,
    recovery points by resource and jobs) on ``*``; a vault's recovery points in this account's
    vaults only; object actions on the report prefix only; roles to assume by name (the copy
    role in the copy accounts only)."""
    template = load_template()
    for document in function_properties(template, function)["Policies"]:
        assert isinstance(document, dict), f"managed or SAM policy {document!r}: not comparable"
        assert set(document) == {"Version", "Statement"}
    by_action: dict[str, list[Any]] = {}
    for statement in policy_statements(template, function):
        for action in _as_list(statement["Action"]):
            by_action.setdefault(action, []).append(statement["Resource"])
    if "sns:Publish" in by_action:
        # The digest topic, and the owner topic when the stack has one.
        assert by_action["sns:Publish"] == [{"Ref": "DigestTopic"}, {"Ref": "OwnerTopic"}]
    # Each channel's one secret, parameter or SES identity: never "*".
    for action, parameter in (
        ("secretsmanager:GetSecretValue", "WebhookSecret"),
        ("ssm:GetParameter", "WebhookSecret"),
    ):
        for resource in by_action.get(action, []):
            assert resource["Ref"].endswith(parameter), (action, resource)
    for resource in by_action.get("ses:SendEmail", []):
        assert all(":identity/" in item["Fn::Sub"][0] for item in resource), resource
    for resource in by_action.get("s3:ListBucket", []):
        # Bucket-level: ListBucket is authorised on the bucket, never on its objects.
        assert resource in (
            {"Fn::Sub": "arn:${AWS::Partition}:s3:::${S3Bucket}"},
            {"Fn::Sub": ["arn:${AWS::Partition}:s3:::${Bucket}", REPORT_BUCKET]},
        )
    for action in ("s3:GetObject", "s3:PutObject"):
        for resource in by_action.get(action, []):
            if action == "s3:GetObject" and resource == BACKUP_OBJECTS:
                continue  # reading the newest dumps: never written, never deleted
            assert resource["Fn::Sub"][0].startswith(
                "arn:${AWS::Partition}:s3:::${Bucket}/${ReportPrefix}"
            )
    for resource in by_action.get("s3:GetObjectRetention", []):
        assert resource == BACKUP_OBJECTS
    for resource in by_action.get("sts:AssumeRole", []):
        assert resource == COPY_ROLES or (
            resource["Fn::Sub"][0] == "arn:${AWS::Partition}:iam::*:role/${Role}"
        )
    for statement in policy_statements(template, function):
        if statement["Resource"] == COPY_ROLES:
            assert statement["Condition"] == {
                "StringEquals": {
                    "aws:ResourceAccount": {"Fn::Split": [",", {"Ref": "CopyAccounts"}]}
                }
            }
    for action in ("kms:GenerateDataKey*", "kms:Decrypt"):
        for resource in by_action.get(action, []):
            assert resource in (
                {"Fn::GetAtt": ["DigestTopicKey", "Arn"]},
                DUMP_KEY_GRANT["Resource"] if action == "kms:Decrypt" else None,
            )
    for resource in by_action.get("backup:ListRecoveryPointsByBackupVault", []):
        assert resource == THIS_ACCOUNTS_VAULTS
    on_everything = {action for action, resources in by_action.items() if "*" in resources}
    assert {a.split(":")[0] for a in on_everything} <= {"rds", "organizations", "backup"}
    assert on_everything - {a for a in on_everything if a.startswith("rds:")} <= {
        "organizations:ListAccounts",
        *WITHOUT_RESOURCE_LEVEL_PERMISSIONS,
    }


REPORT_BUCKET = {
    "Bucket": {"Fn::If": ["CreatesReportBucket", {"Ref": "ReportsBucket"}, {"Ref": "ReportBucket"}]}
}
THIS_ACCOUNTS_VAULTS = {
    "Fn::Sub": "arn:${AWS::Partition}:backup:*:${AWS::AccountId}:backup-vault:*"
}
COPY_ROLES = {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${CopyRoleName}"}
WITHOUT_RESOURCE_LEVEL_PERMISSIONS = {
    "backup:ListBackupVaults",
    "backup:ListRecoveryPointsByResource",
    "backup:ListBackupJobs",
}
"""AWS Backup's listings whose only resource is ``*`` (the Service Authorization Reference);
``ListRecoveryPointsByBackupVault`` has one, the vault."""

# What docs/iam.md shows in place of the template's references.
_EXAMPLE = {
    "AWS::Partition": "aws",
    "AWS::Region": "eu-west-1",
    "AWS::AccountId": "123456789012",
    "S3Bucket": "acme-corp-db-backups",
    "DigestTopic": "arn:aws:sns:eu-west-1:123456789012:backup-digest",
    "ReportsBucket": REPORTS,
    "ReportPrefix": "backupwatch/",
    "OrganizationRoleName": MEMBER_ROLE,
    "MemberRoleName": MEMBER_ROLE,
    "OrganizationId": "o-a1b2c3d4e5",
    "CopyRoleName": COPY_ROLE,
    "CopyAccounts": f"{COPY_ACCOUNT},555566667777",
    "AWS::URLSuffix": "amazonaws.com",
    "SlackWebhookSecret": (
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:backupwatch/slack-AbCdEf"
    ),
    "TeamsWebhookSecret": "arn:aws:ssm:eu-west-1:123456789012:parameter/backupwatch/teams",
    "SesSender": "backupwatch@example.com",
    "SesRegion": "eu-west-1",
    "Regions": "eu-west-1",
    "OwnerTopic": "arn:aws:sns:eu-west-1:123456789012:backupwatch-owners",
    "RequireKmsKey": (
        "arn:aws:kms:eu-west-1:123456789012:key/0b9e6c2a-5d1f-4e8a-9c3b-7f2d1e4a6b58"
    ),
    "DigestTopicKey.Arn": (
        "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    ),
    "DigestFunctionRole.Arn": (
        "arn:aws:iam::123456789012:role/backupwatch-DigestFunctionRole-AbCdEf123456"
    ),
    "RunStateMachine": "arn:aws:states:eu-west-1:123456789012:stateMachine:backupwatch-run",
    "RunStateMachine.Name": "backupwatch-run",
    **{
        f"{name}.Arn": f"arn:aws:lambda:eu-west-1:123456789012:function:backupwatch-{name}"
        for name in ("PlanFunction", "ScanFunction", "PublishFunction")
    },
}


def _as_documented(value: Any) -> Any:
    """A template value as docs/iam.md writes it: conditions taken, references filled in."""
    if isinstance(value, dict):
        if set(value) == {"Fn::If"}:
            return _as_documented(value["Fn::If"][1])
        if set(value) == {"Ref"}:
            return _EXAMPLE[value["Ref"]]
        if set(value) == {"Fn::GetAtt"}:
            return _EXAMPLE[".".join(value["Fn::GetAtt"])]
        if set(value) == {"Fn::Sub"}:
            text, variables = (
                (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]
            )
            names = {**_EXAMPLE, **{k: _as_documented(v) for k, v in variables.items()}}
            return re.sub(r"\$\{([^}]+)\}", lambda m: names[m.group(1)], text)
        if set(value) == {"Fn::Split"}:
            delimiter, source = value["Fn::Split"]
            return str(_as_documented(source)).split(delimiter)
        if set(value) == {"Fn::Select"}:
            index, source = value["Fn::Select"]
            return _as_documented(source)[int(index)]
        return {key: _as_documented(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_documented(item) for item in value]
    return value


def documented_policy(heading: str = "The policy", *, block: int = 0) -> Any:
    """The JSON block number ``block`` under the heading ``heading`` in docs/iam.md."""
    text = (ROOT / "docs" / "iam.md").read_text(encoding="utf-8")
    pattern = re.compile(rf"^#+ {re.escape(heading)}\n", re.MULTILINE)
    match = pattern.search(text)
    assert match, f"docs/iam.md: no heading {heading!r}"
    section = re.split(r"^#+ ", text[match.end() :], maxsplit=1, flags=re.MULTILINE)[0]
    blocks = re.findall(r"```json\n(.*?)\n```", section, re.DOTALL)
    assert len(blocks) > block, f"docs/iam.md: no ```json block {block} under {heading!r}"
    return json.loads(blocks[block])


# Where docs/iam.md shows each function's policy.
DOCUMENTED = {
    "DigestFunction": "The policy",
    "PlanFunction": "PlanFunction",
    "ScanFunction": "ScanFunction",
    "PublishFunction": "PublishFunction",
}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_docs_show_the_templates_policy(function: str) -> None:
    """docs/iam.md's policy is the template's, with example names for the references."""
    [document] = function_properties(load_template(), function)["Policies"]
    assert documented_policy(DOCUMENTED[function]) == _as_documented(document)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_docs_example_policy_is_the_full_deployment(function: str) -> None:
    """The documented policy holds every action the template can grant (none is hidden)."""
    documented = {
        action
        for s in documented_policy(DOCUMENTED[function])["Statement"]
        for action in _as_list(s["Action"])
    }
    assert documented == granted_actions(load_template(), function)


def test_docs_show_the_state_machines_permissions() -> None:
    """docs/iam.md's state machine policy is the role's inline policy and the policy that
    lets it run its own children, together; the schedule's role likewise."""
    template = load_template()
    role = template["Resources"]["StateMachineRole"]["Properties"]
    [inline] = role["Policies"]
    children = template["Resources"]["StateMachineChildrenPolicy"]["Properties"]
    together = {
        "Version": "2012-10-17",
        "Statement": inline["PolicyDocument"]["Statement"]
        + children["PolicyDocument"]["Statement"],
    }
    assert documented_policy("The state machine's role") == _as_documented(together)
    [schedule] = template["Resources"]["RunScheduleRole"]["Properties"]["Policies"]
    assert documented_policy("The schedule's role") == _as_documented(schedule["PolicyDocument"])


def test_docs_show_the_topics_key_policy_and_topic_policy() -> None:
    """docs/iam.md's key policy and topic policy are the template's, for the default
    deployment (the digest function publishes, the alarms come to the digest topic)."""
    resources = load_template()["Resources"]
    key = resources["DigestTopicKey"]["Properties"]["KeyPolicy"]
    assert documented_policy("The key policy") == _as_documented(key)
    topic = resources["DigestTopicPolicy"]["Properties"]["PolicyDocument"]
    assert documented_policy("The topic policy") == _as_documented(topic)


def test_docs_member_role_trust_requires_the_external_id() -> None:
    """The member-account role trusts this account's backupwatch roles only, and only with
    the external id (the confused deputy's guard)."""
    trust = documented_policy("The member-account role", block=0)
    [statement] = trust["Statement"]
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    assert statement["Condition"]["StringEquals"] == {"sts:ExternalId": EXTERNAL_ID}
    assert "aws:PrincipalArn" in statement["Condition"]["ArnLike"]


def test_docs_iam_names_every_mapped_action_the_policy_grants() -> None:
    """The table of calls in docs/iam.md lists every granted action, and GetCallerIdentity."""
    text = (ROOT / "docs" / "iam.md").read_text(encoding="utf-8")
    template = load_template()
    granted = set().union(*(granted_actions(template, f) for f in FUNCTIONS))
    for action in granted | {"sts:GetCallerIdentity"}:
        assert f"| `{action}` |" in text


def _member_role_template() -> str:
    """The StackSet template in docs/scale.md that creates the member-account role."""
    text = (ROOT / "docs" / "scale.md").read_text(encoding="utf-8")
    section = text.split("\n## The member-account role in every account\n", 1)[1]
    match = re.search(r"```yaml\n(.*?)\n```", section, re.DOTALL)
    assert match, "docs/scale.md: no ```yaml block under its member-account role heading"
    return match.group(1)


class MemberStack(Stack):
    """The StackSet deployed in a member account (docs/iam.md's example one)."""

    account_id = "111122223333"


def test_the_stackset_template_creates_the_documented_member_role() -> None:
    """docs/scale.md's template lints, and deployed with the example values it creates the
    role of docs/iam.md: the same trust policy, the same permissions; with the backup and copy
    checks on, those of docs/iam.md for them, after the others, and each check only its own."""
    from cfnlint.api import lint
    from cfnlint.decode import decode_str

    text = _member_role_template()
    matches = lint(text)
    assert not matches, "\n".join(str(m) for m in matches)
    decoded, problems = decode_str(text)
    assert not problems
    example = {
        "BackupwatchAccountId": ACCOUNT,
        "ExternalId": EXTERNAL_ID,
        "RoleName": MEMBER_ROLE,
        "BackupsBucket": MEMBER_BUCKET,
    }
    template = json.loads(json.dumps(decoded))
    stack = MemberStack(template, **example)
    role = stack.properties("Role")
    assert role["RoleName"] == MEMBER_ROLE
    assert role["AssumeRolePolicyDocument"] == documented_policy("The member-account role")
    [policy] = role["Policies"]
    permissions = documented_policy("The member-account role", block=MEMBER_PERMISSIONS)
    assert policy["PolicyDocument"] == permissions
    aws_backup = documented_policy("The member-account role", block=MEMBER_AWS_BACKUP)["Statement"]
    sids = {
        ("true", "true"): [s["Sid"] for s in aws_backup],
        ("true", "false"): [
            "ListAwsBackupVaults",
            "ListTheVaultsRecoveryPoints",
            "ListEachTenantsRecoveryPoints",
            "ListAwsBackupJobs",
        ],
        # Copies are read with the vaults' listing only.
        ("false", "true"): [
            "ListAwsBackupVaults",
            "ListTheVaultsRecoveryPoints",
            "ListReplicatedAutomatedBackups",
        ],
    }
    for (backup, copy), wanted in sids.items():
        on = MemberStack(template, **example, AwsBackupCheck=backup, CopyCheck=copy)
        [policy] = on.properties("Role")["Policies"]
        statements = policy["PolicyDocument"]["Statement"]
        [rds, *rest] = permissions["Statement"]
        assert statements == [rds, *[s for s in aws_backup if s["Sid"] in wanted], *rest]
