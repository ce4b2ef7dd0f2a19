"""Least privilege, proven: the template grants exactly the IAM actions the code calls.

The calls are not listed by hand. ``recording`` wraps ``backupwatch.clients._client``, where
backupwatch builds every client it uses, and records each operation those clients perform (a
botocore ``before-parameter-build`` hook on each client). The scenarios then drive every code
path against moto: the demo world with a tenant in every status, the pipeline's publish, the
``{account_id}`` template, every optional setting at once, the Lambda handler and the CLI. The
operations are mapped to IAM actions (``OPERATIONS``) and compared with DigestFunction's policy
in template.yaml, both ways: a call the policy misses fails, and so does a grant nobody uses.

When new code calls a new operation, the test fails and names the action to add to
template.yaml and docs/iam.md; that is how ``DescribeDBClusters`` and
``DescribeDBClusterSnapshots`` arrived with Aurora support (the world holds a tagged Aurora
cluster for them). An operation missing from ``OPERATIONS`` fails too, asking for its IAM
action. A new setting must be switched on in ``EVERY_SETTING_ON``, so its calls are recorded.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import boto3
import pytest
from moto import mock_aws

import backupwatch.clients
from backupwatch import Retrier, check_tenants, load_settings
from backupwatch.clients import USER_AGENT_EXTRA
from backupwatch.config import ENVIRONMENT
from handlers import _pipeline
from handlers.cli import main as cli_main
from handlers.daily_digest import lambda_handler
from handlers.demo import ACCOUNT, BUCKET, REGION, TENANT_TAG, build_world

from .conftest import FAKE_ENV
from .test_template import ROOT, function_properties, load_template

OTHER_REGION = "us-east-1"


@dataclass(frozen=True)
class Action:
    """The IAM action that authorises an API operation."""

    name: str
    needs_permission: bool = True


# API operation ("<service>:<OperationName>", as botocore names it) -> IAM action. Names differ
# where AWS says so: ListObjectsV2 is authorised by s3:ListBucket.
OPERATIONS: dict[str, Action] = {
    "rds:DescribeDBInstances": Action("rds:DescribeDBInstances"),
    "rds:DescribeDBSnapshots": Action("rds:DescribeDBSnapshots"),
    "rds:DescribeDBClusters": Action("rds:DescribeDBClusters"),
    "rds:DescribeDBClusterSnapshots": Action("rds:DescribeDBClusterSnapshots"),
    "rds:DescribeDBInstanceAutomatedBackups": Action("rds:DescribeDBInstanceAutomatedBackups"),
    "rds:DescribeDBClusterAutomatedBackups": Action("rds:DescribeDBClusterAutomatedBackups"),
    "s3:ListObjectsV2": Action("s3:ListBucket"),
    "s3:ListObjects": Action("s3:ListBucket"),
    "sns:Publish": Action("sns:Publish"),
    # "No permissions are required to perform this operation", and an explicit deny cannot
    # block it (STS API reference, GetCallerIdentity): granting it would be noise.
    "sts:GetCallerIdentity": Action("sts:GetCallerIdentity", needs_permission=False),
}


def least_privilege_problems(
    used: Mapping[str, Collection[str]], granted: Collection[str]
) -> list[str]:
    """What is wrong between the operations called and the actions granted; empty when exact.

    ``used`` maps each API operation to the scenarios that called it (for the message).
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
            needed.setdefault(action.name, set()).update(scenarios)
    wildcards = {name for name in granted if "*" in name}
    problems += [f"the policy grants the wildcard action {name!r}" for name in sorted(wildcards)]
    for name in sorted(needed.keys() - set(granted)):
        problems.append(
            f"the template's policy misses {name}, which the code calls "
            f"(in: {', '.join(sorted(needed[name]))}): add it to DigestFunction's Policies in "
            "template.yaml and to docs/iam.md"
        )
    for name in sorted(set(granted) - needed.keys() - wildcards):
        no_permission = any(a.name == name and not a.needs_permission for a in OPERATIONS.values())
        why = "it needs no permission at all" if no_permission else "no code path calls it"
        problems.append(
            f"the template's policy grants {name}, but {why}: remove it from template.yaml "
            "and docs/iam.md"
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


def policy_statements(template: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every statement the function's role can get, under any parameter values."""
    statements: list[dict[str, Any]] = []
    for document in function_properties(template)["Policies"]:
        for item in document["Statement"]:
            statements.extend(_branches(item))
    return statements


def granted_actions(template: Mapping[str, Any]) -> set[str]:
    return {
        action
        for statement in policy_statements(template)
        if statement["Effect"] == "Allow"
        for action in _as_list(statement["Action"])
    }


# --- recording what the code calls ---------------------------------------------------------


@dataclass
class Recorder:
    """The operations backupwatch's own clients performed, and the names its retrier gave them."""

    scenario: str = "setup"
    operations: dict[str, set[str]] = field(default_factory=dict)
    """API operation -> scenarios that called it."""
    labels: set[str] = field(default_factory=set)
    """The names passed to ``Retrier.call`` (the IAM action, by backupwatch's convention)."""

    @contextmanager
    def running(self, scenario: str) -> Iterator[None]:
        self.scenario = scenario
        try:
            yield
        finally:
            self.scenario = "setup"

    def record(self, model: Any, **_: Any) -> None:
        operation = f"{model.service_model.service_name}:{model.name}"
        self.operations.setdefault(operation, set()).add(self.scenario)


@contextmanager
def recording(patch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    """Record every call of every client ``backupwatch.clients`` builds, and every label."""
    recorded = Recorder()
    build = backupwatch.clients._client

    def recording_client(
        session: boto3.Session, service: str, region: str | None, **kw: Any
    ) -> Any:
        client = build(session, service, region, **kw)
        assert USER_AGENT_EXTRA in (client.meta.config.user_agent_extra or "")
        # Every handler of this event runs (a before-call hook can answer a call and stop the
        # others), so no fault injection or stub can hide a call from the record.
        client.meta.events.register("before-parameter-build", recorded.record)
        return client

    patch.setattr(backupwatch.clients, "_client", recording_client)
    call = Retrier.call

    def labelled_call(self: Retrier, operation: str, fn: Callable[[], Any], **kw: Any) -> Any:
        recorded.labels.add(operation)
        return call(self, operation, fn, **kw)

    patch.setattr(Retrier, "call", labelled_call)
    yield recorded


# --- the scenarios ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeContext:
    """The parts of Lambda's context the handler may read."""

    function_name: str = "backupwatch-DigestFunction-TEST"
    aws_request_id: str = "00000000-0000-4000-8000-000000000000"
    invoked_function_arn: str = (
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:backupwatch-DigestFunction-TEST"
    )

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def _no_sleep(_seconds: float) -> None:
    """Retries and rate limits count their waits here instead of waiting."""


# One value per setting that turns its feature on: a new setting fails test_every_setting_is_on
# until it is given one here, so that whatever AWS calls it adds are recorded too.
EVERY_SETTING_ON = {
    "sns_topic_arn": f"arn:aws:sns:{REGION}:{ACCOUNT}:backup-digest",
    "s3_bucket": BUCKET,
    "tenant_tag": TENANT_TAG,
    "prefix_template": "{account_id}/{region}/{tenant}/",
    "max_age_hours": "26",
    "min_object_bytes": "1024",
    "checks": "rds,s3",
    "regions": f"{REGION},{OTHER_REGION}",
    "dry_run": "false",
    "notify": "failures",
    "publish_reserve_seconds": "30",
    "s3_concurrency": "4",
    "rds_requests_per_second": "100",
    "rds_burst": "300",
    "s3_date_layout": "%Y/%m/%d/",
    "new_tenant_grace_hours": "2",
    "stopped_is_failing": "true",
    "pitr_max_lag_hours": "1",
}


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
    """Beyond the demo: a tenant in a second region, and a tagged Aurora cluster."""
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


def _run_every_path(recorder: Recorder) -> None:
    """Drive every entry point and every optional feature once, recording the calls."""
    with recorder.running("backupwatch demo"):
        assert cli_main(["demo"]) == 0

    now = datetime.now(UTC)
    retrier = Retrier(sleep=_no_sleep)
    with mock_aws():
        setup = boto3.Session(region_name=REGION)
        topic_arn = build_world(setup, now)
        _more_world(setup)
        base = _base_env(topic_arn)

        def settings(**variables: str) -> Any:
            return load_settings({**base, **variables})

        with recorder.running("library: check_tenants"):
            check_tenants(settings(), session=boto3.Session(), clock=lambda: now, retrier=retrier)
        with recorder.running("pipeline: check and publish"):
            outcome = _pipeline.run(settings(), session=boto3.Session(), retrier=retrier)
            assert outcome.message_id is not None
        with recorder.running("{account_id} prefix template"):
            _pipeline.run(
                settings(
                    BACKUPWATCH_PREFIX_TEMPLATE="{account_id}/{tenant}/", BACKUPWATCH_DRY_RUN="1"
                ),
                session=boto3.Session(),
                retrier=retrier,
            )
        with recorder.running("every optional setting on"):
            every = {
                **base,
                **_environment(EVERY_SETTING_ON),
                "BACKUPWATCH_SNS_TOPIC_ARN": topic_arn,
            }
            outcome = _pipeline.run(load_settings(every), session=boto3.Session(), retrier=retrier)
            assert outcome.message_id is not None  # failing tenants: notify=failures publishes
        with mock.patch.dict(os.environ, base):
            with recorder.running("lambda handler"):
                assert lambda_handler({}, FakeContext())["message_id"] is not None
            with recorder.running("lambda handler, dry run"):
                assert lambda_handler({"dry_run": True}, FakeContext())["message_id"] is None
            with recorder.running("backupwatch check"):
                assert cli_main(["check", "--timeout", "600"]) == 1
                assert cli_main(["check", "--json", "--dry-run"]) == 1


@pytest.fixture(scope="module")
def recorded() -> Iterator[Recorder]:
    """Every path, run once for the module (it takes seconds), with fake credentials only."""
    with pytest.MonkeyPatch.context() as patch, recording(patch) as recorder:
        for name in list(os.environ):
            if name.startswith(("BACKUPWATCH_", "AWS_", "DB_INSTANCE_IDENTIFIER_", "S3_FOLDER_")):
                patch.delenv(name)
        for name, value in FAKE_ENV.items():
            patch.setenv(name, value)
        with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            _run_every_path(recorder)
        yield recorder


def test_policy_grants_exactly_what_the_code_calls(recorded: Recorder) -> None:
    """Every action the code paths call is granted, and every granted action is called."""
    assert recorded.operations, "nothing was recorded: is backupwatch.clients._client used?"
    problems = least_privilege_problems(recorded.operations, granted_actions(load_template()))
    assert not problems, "\n".join(problems)


def test_calls_are_labelled_with_their_iam_action(recorded: Recorder) -> None:
    """The name each call gets in errors ("AccessDenied on s3:ListBucket") is its IAM action."""
    mapped = {OPERATIONS[op].name for op in recorded.operations if op in OPERATIONS}
    assert recorded.labels == mapped


def test_every_setting_is_on_in_one_scenario() -> None:
    """A new setting must be switched on above, so the calls it adds are recorded too."""
    assert set(EVERY_SETTING_ON) == set(ENVIRONMENT)


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


def test_an_unmapped_operation_fails() -> None:
    """An operation nobody mapped is not silently ignored."""
    [problem] = least_privilege_problems({**USED, "kms:Decrypt": {"z"}}, EXACT)
    assert problem.startswith("kms:Decrypt (called in: z) has no IAM mapping")


# --- the policy's shape, and docs/iam.md ------------------------------------------------------


def test_policy_is_inline_and_scoped() -> None:
    """Only inline statements (nothing to hide actions), and only RDS's listings on ``*``."""
    template = load_template()
    for document in function_properties(template)["Policies"]:
        assert isinstance(document, dict), f"managed or SAM policy {document!r}: not comparable"
        assert set(document) == {"Version", "Statement"}
    by_action = {
        action: statement["Resource"]
        for statement in policy_statements(template)
        for action in _as_list(statement["Action"])
    }
    assert by_action["sns:Publish"] == {"Ref": "DigestTopic"}
    # Bucket-level: ListBucket is authorised on the bucket, never on its objects.
    assert by_action["s3:ListBucket"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::${S3Bucket}"}
    on_everything = {action for action, resource in by_action.items() if resource == "*"}
    assert {action.split(":")[0] for action in on_everything} == {"rds"}


# What docs/iam.md shows in place of the template's references.
_EXAMPLE = {
    "AWS::Partition": "aws",
    "AWS::Region": "eu-west-1",
    "AWS::AccountId": "123456789012",
    "S3Bucket": "acme-corp-db-backups",
    "DigestTopic": "arn:aws:sns:eu-west-1:123456789012:backup-digest",
}


def _as_documented(value: Any) -> Any:
    """A template value as docs/iam.md writes it: conditions taken, references filled in."""
    if isinstance(value, dict):
        if set(value) == {"Fn::If"}:
            return _as_documented(value["Fn::If"][1])
        if set(value) == {"Ref"}:
            return _EXAMPLE[value["Ref"]]
        if set(value) == {"Fn::Sub"}:
            return re.sub(r"\$\{([^}]+)\}", lambda m: _EXAMPLE[m.group(1)], value["Fn::Sub"])
        return {key: _as_documented(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_documented(item) for item in value]
    return value


def documented_policy() -> Any:
    """The JSON block under "## The policy" in docs/iam.md."""
    text = (ROOT / "docs" / "iam.md").read_text(encoding="utf-8")
    section = text.split("\n## The policy\n", 1)[1]
    match = re.search(r"```json\n(.*?)\n```", section, re.DOTALL)
    assert match, "docs/iam.md: no ```json block under '## The policy'"
    return json.loads(match.group(1))


def test_docs_show_the_templates_policy() -> None:
    """docs/iam.md's policy is the template's, with example names for the references."""
    [document] = function_properties(load_template())["Policies"]
    assert documented_policy() == _as_documented(document)


def test_docs_example_policy_is_the_full_deployment() -> None:
    """The documented policy holds every action the template can grant (none is hidden)."""
    documented = {
        action for s in documented_policy()["Statement"] for action in _as_list(s["Action"])
    }
    assert documented == granted_actions(load_template())


def test_docs_iam_names_every_mapped_action_the_policy_grants() -> None:
    """The table of calls in docs/iam.md lists every granted action, and GetCallerIdentity."""
    text = (ROOT / "docs" / "iam.md").read_text(encoding="utf-8")
    for action in granted_actions(load_template()) | {"sts:GetCallerIdentity"}:
        assert f"| `{action}` |" in text
