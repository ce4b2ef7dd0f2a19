"""template.yaml (AWS SAM): the schedule, retries, timeout, settings, topic, alarms, and the
optional state machine (``Mode=step-functions``).

The template is read with cfn-lint's own YAML loader, which understands the short forms
(``!Ref``, ``!Sub``, ``!If``) and turns them into their long forms (``{"Ref": ...}``). cfn-lint
itself runs in ``make lint`` (and once here with the state machine switched on); these tests pin
what the template must say, and that it agrees with the code: the settings in
``backupwatch.core.config.ENVIRONMENT``, the library's defaults, the metric names
``backupwatch.pipeline.telemetry``
writes, the handlers it names, and the data each state machine step hands the next
(``backupwatch.core.fanout``).

``Stack`` evaluates the template's conditions and intrinsic functions for given parameter
values, so a test can say what a deployment with those values contains, without AWS.
"""

from __future__ import annotations

import copy
import importlib
import json
import re
import tomllib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from annotated_types import Le
from cfnlint.decode import decode_str

import backupwatch.pipeline.telemetry as metrics
from backupwatch import ConfigurationError, Settings, load_settings
from backupwatch.core.config import ENVIRONMENT
from backupwatch.core.fanout import Plan, ScanRequest, read_output, read_publish_event
from backupwatch.core.models import Check as EvidenceCheck
from backupwatch.core.models import Scope

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
FUNCTION = "DigestFunction"
TOPIC = "DigestTopic"
STATE_MACHINE = "RunStateMachine"
STEP_FUNCTIONS = {"Mode": "step-functions"}
ACCOUNT = "123456789012"  # AWS::AccountId in a Stack
ORGANIZATION = "o-a1b2c3d4e5"
# Read by the handler, not by load_settings; see backupwatch/pipeline/telemetry.py.
HANDLER_VARIABLES = {metrics.NAMESPACE_VARIABLE: "MetricsNamespace"}
CLOUDWATCH_DAY, CLOUDWATCH_WEEK = 86_400, 604_800
LAMBDA_TRANSIENT = {
    "Lambda.TooManyRequestsException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
}


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as plain JSON-like data, long forms for every intrinsic function."""
    template, problems = decode_str(path.read_text(encoding="utf-8"))
    assert not problems, [str(p) for p in problems]
    plain: dict[str, Any] = json.loads(json.dumps(template))
    return plain


def function_properties(template: Mapping[str, Any], name: str = FUNCTION) -> dict[str, Any]:
    """A function's properties as SAM deploys them: ``Globals`` merged in (the function's own
    environment variables win over the global ones)."""
    own: dict[str, Any] = template["Resources"][name]["Properties"]
    shared = template.get("Globals", {}).get("Function", {})
    merged = {**shared, **own}
    variables = {
        **shared.get("Environment", {}).get("Variables", {}),
        **own.get("Environment", {}).get("Variables", {}),
    }
    if variables:
        merged["Environment"] = {"Variables": variables}
    return merged


def resources_of_type(template: Mapping[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


class Stack:
    """The template deployed with ``parameters`` (defaults for the rest): which conditions
    hold, which resources exist, and what a value resolves to. A resource's ``Ref`` is its
    logical id, and ``GetAtt`` is ``<id>.<attribute>``: names only AWS would know."""

    account_id = ACCOUNT
    """``AWS::AccountId``: the account the stack is deployed in (a subclass may deploy it in
    another, such as a member account's role)."""

    def __init__(self, template: Mapping[str, Any], **parameters: str) -> None:
        unknown = set(parameters) - set(template["Parameters"])
        assert not unknown, f"no such parameter: {unknown}"
        self.template = template
        self.parameters = {
            name: str(parameters.get(name, spec.get("Default", "")))
            for name, spec in template["Parameters"].items()
        }
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self._eval(self.template["Conditions"][name]))
        return self._conditions[name]

    def _eval(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            [(function, args)] = value.items()
            if function == "Fn::Equals":
                return self.resolve(args[0]) == self.resolve(args[1])
            if function == "Fn::Not":
                return not self._eval(args[0])
            if function == "Fn::Or":
                return any(self._eval(arg) for arg in args)
            if function == "Fn::And":
                return all(self._eval(arg) for arg in args)
            if function == "Condition":
                return self.condition(args)
        raise AssertionError(f"not a condition: {value!r}")

    def exists(self, name: str) -> bool:
        resources = self.template["Resources"]
        function = name.removesuffix("Role")
        if name not in resources and function in resources_of_type(
            self.template, "AWS::Serverless::Function"
        ):
            return self.exists(function)  # the role SAM creates for a function: <function>Role
        resource = resources[name]
        return "Condition" not in resource or self.condition(resource["Condition"])

    def broken_rules(self) -> list[str]:
        """The template's Rules that refuse these parameters, as CloudFormation would."""
        broken = []
        for name, rule in self.template.get("Rules", {}).items():
            if "RuleCondition" in rule and not self._eval(rule["RuleCondition"]):
                continue
            if not all(self._eval(assertion["Assert"]) for assertion in rule["Assertions"]):
                broken.append(name)
        return broken

    @property
    def resources(self) -> set[str]:
        return {name for name in self.template["Resources"] if self.exists(name)}

    def resolve(self, value: Any) -> Any:
        """``value`` with every condition taken and every reference filled in."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            [(function, args)] = value.items()
            if function == "Fn::If":
                condition, when_true, when_false = args
                return self.resolve(when_true if self.condition(condition) else when_false)
            if function == "Ref":
                return self._ref(args)
            if function == "Fn::GetAtt":
                resource, attribute = args if isinstance(args, list) else args.split(".", 1)
                assert self.exists(resource), f"GetAtt to {resource}, which is not deployed"
                return f"{resource}.{attribute}"
            if function == "Fn::Sub":
                text, variables = (args, {}) if isinstance(args, str) else args
                values = {k: self.resolve(v) for k, v in variables.items()}
                return re.sub(
                    r"\$\{([^}!]+)\}",
                    lambda m: str(values[m.group(1)] if m.group(1) in values else self._sub(m)),
                    text,
                )
            if function == "Fn::Split":
                delimiter, source = args
                return str(self.resolve(source)).split(delimiter)
            if function == "Fn::Select":
                index, source = args
                return self.resolve(source)[int(index)]
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        pseudo = {
            "AWS::Partition": "aws",
            "AWS::Region": "eu-west-1",
            "AWS::URLSuffix": "amazonaws.com",
        }
        pseudo |= {"AWS::AccountId": self.account_id, "AWS::StackName": "backupwatch"}
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        assert self.exists(name), f"Ref to {name}, which is not deployed"
        return name

    def _sub(self, match: re.Match[str]) -> str:
        name = match.group(1)
        if "." in name and not name.startswith("AWS::"):
            resource, attribute = name.split(".", 1)
            return str(self.resolve({"Fn::GetAtt": [resource, attribute]}))
        return str(self._ref(name))

    def properties(self, name: str) -> dict[str, Any]:
        assert self.exists(name), f"{name} is not deployed with {self.parameters}"
        properties = (
            function_properties(self.template, name)
            if self.template["Resources"][name]["Type"] == "AWS::Serverless::Function"
            else self.template["Resources"][name]["Properties"]
        )
        resolved: dict[str, Any] = self.resolve(properties)
        return resolved


_NO_VALUE = object()


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def function(template: dict[str, Any]) -> dict[str, Any]:
    return function_properties(template)


def test_is_a_sam_template(template: dict[str, Any]) -> None:
    """SAM's transform is declared: ``sam build`` and ``sam deploy`` take it as is."""
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    assert template["Resources"][FUNCTION]["Type"] == "AWS::Serverless::Function"


def test_function_runs_the_daily_digest_handler(function: dict[str, Any]) -> None:
    """The handler, a supported Python runtime, and the repository root as the code."""
    assert function["Handler"] == "handlers.daily_digest.lambda_handler"
    assert function["Runtime"] in {"python3.12", "python3.13"}
    assert function["CodeUri"] == "."


def test_schedule_is_daily_at_seven_in_a_chosen_time_zone(
    template: dict[str, Any], function: dict[str, Any]
) -> None:
    """One EventBridge Scheduler schedule: 07:00 daily by default, in a parameter time zone."""
    [event] = function["Events"].values()
    assert event["Type"] == "ScheduleV2"
    schedule = event["Properties"]
    parameters = template["Parameters"]
    assert schedule["ScheduleExpression"] == {"Ref": "ScheduleExpression"}
    assert parameters["ScheduleExpression"]["Default"] == "cron(0 7 * * ? *)"
    assert schedule["ScheduleExpressionTimezone"] == {"Ref": "ScheduleTimezone"}
    assert parameters["ScheduleTimezone"]["Default"] == "UTC"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    # Not a dry run; the schedule's time, filled in by EventBridge Scheduler, keys the
    # publish ledger (a repeated or retried invocation of one schedule sends nothing twice).
    assert json.loads(schedule["Input"]) == {"scheduled_time": "<aws.scheduler.scheduled-time>"}


@pytest.mark.parametrize(
    ("parameters", "retries"),
    [({}, 0), ({"ArchiveReports": "true"}, 2), ({"ReportBucket": "my-reports"}, 2)],
)
def test_failed_runs_are_retried_only_with_the_ledger(
    template: dict[str, Any], parameters: dict[str, str], retries: int
) -> None:
    """Without the archive, no retry: a retried run would publish a second digest. With it,
    the publish ledger beside the archive lets a retry send only what did not go out."""
    stack = Stack(template, **parameters)
    assert stack.properties(FUNCTION)["EventInvokeConfig"]["MaximumRetryAttempts"] == retries


def test_timeout_outlasts_any_publish_reserve(
    template: dict[str, Any], function: dict[str, Any]
) -> None:
    """900 s, the most Lambda allows; even the largest reserve leaves minutes for checking."""
    [largest] = [
        m.le for m in Settings.model_fields["publish_reserve_seconds"].metadata if isinstance(m, Le)
    ]
    assert isinstance(largest, int | float)
    for name in (FUNCTION, "ScanFunction", "PublishFunction"):
        properties = function_properties(template, name)
        assert properties["Timeout"] == 900, name
        assert properties["Timeout"] - largest >= 300
    variable = ENVIRONMENT["publish_reserve_seconds"][0]
    assert function["Environment"]["Variables"][variable] == {"Ref": "PublishReserveSeconds"}


def _parameter_name(field: str) -> str:
    """``max_age_hours`` -> ``MaxAgeHours``: one rule, so nobody has to guess a name."""
    return "".join(part.title() for part in field.split("_"))


# Settings the template sets from something other than the parameter of the same name.
REPORT_BUCKET_VALUE = {
    "Fn::If": [
        "ArchivesReports",
        {"Fn::If": ["CreatesReportBucket", {"Ref": "ReportsBucket"}, {"Ref": "ReportBucket"}]},
        "",
    ]
}
SPECIAL = {
    "sns_topic_arn": {"Ref": TOPIC},
    "report_bucket": REPORT_BUCKET_VALUE,
    "owner_topic_arn": {"Fn::If": ["HasOwnerTopic", {"Ref": "OwnerTopic"}, ""]},
}
STACK_RESOURCES = {"sns_topic_arn", "owner_topic_arn"}
"""Settings the stack fills with a resource of its own, not with a parameter of their name."""
FUNCTIONS = ("DigestFunction", "PlanFunction", "ScanFunction", "PublishFunction")


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_setting_is_a_parameter(template: dict[str, Any], name: str) -> None:
    """Each setting in config.ENVIRONMENT reaches every function, under its preferred name:
    the steps of the state machine are configured exactly as the single function is."""
    variables = function_properties(template, name)["Environment"]["Variables"]
    for field, names in ENVIRONMENT.items():
        parameter = _parameter_name(field)
        assert variables[names[0]] == SPECIAL.get(field, {"Ref": parameter}), names[0]
        if field not in STACK_RESOURCES:  # the stack's own topics
            assert parameter in template["Parameters"], parameter
    expected = {names[0] for names in ENVIRONMENT.values()} | set(HANDLER_VARIABLES)
    assert set(variables) == expected


# Defaults the template must know itself: the report prefix scopes the IAM permissions and the
# expiry rule, which cannot read the library's default. A test pins it to the library's.
TEMPLATE_KNOWS = {"report_prefix"}


def _defaults(template: Mapping[str, Any]) -> dict[str, str]:
    """The environment the function gets when every parameter keeps its default."""
    parameters = template["Parameters"]
    stack = Stack(template)
    return {
        names[0]: str(stack.resolve(SPECIAL.get(field, {"Ref": _parameter_name(field)})))
        for field, names in ENVIRONMENT.items()
        if field not in STACK_RESOURCES
        and (field not in TEMPLATE_KNOWS or parameters[_parameter_name(field)]["Default"])
    }


def test_empty_defaults_are_the_librarys_defaults(template: dict[str, Any]) -> None:
    """An empty parameter is an unset variable: the settings equal the library's defaults."""
    required = {
        "BACKUPWATCH_SNS_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:t",
        "BACKUPWATCH_S3_BUCKET": "acme-corp-db-backups",
        "AWS_REGION": "eu-west-1",
    }
    defaults = {k: v for k, v in _defaults(template).items() if k != "BACKUPWATCH_S3_BUCKET"}
    known = {ENVIRONMENT[field][0] for field in TEMPLATE_KNOWS}
    empty = {k: v for k, v in defaults.items() if k not in known}
    assert set(empty.values()) == {""}, "give a setting's default in the library, not here"
    assert load_settings({**defaults, **required}) == load_settings(required)


@pytest.mark.parametrize("field", sorted(TEMPLATE_KNOWS))
def test_defaults_the_template_repeats_are_the_librarys(
    template: dict[str, Any], field: str
) -> None:
    """Where the template must know a default (the report prefix, for IAM), it is the
    library's, and the library reads it back unchanged."""
    default = template["Parameters"][_parameter_name(field)]["Default"]
    assert default == Settings.model_fields[field].default
    environ = {"BACKUPWATCH_DRY_RUN": "1", "AWS_REGION": "eu-west-1", "BACKUPWATCH_CHECKS": "rds"}
    assert getattr(load_settings({**environ, ENVIRONMENT[field][0]: default}), field) == default


def test_allowed_values_are_accepted_by_the_library(template: dict[str, Any]) -> None:
    """A value the template lets through is never one the library then rejects at 07:00."""
    base = {
        "BACKUPWATCH_SNS_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:t",
        "BACKUPWATCH_S3_BUCKET": "acme-corp-db-backups",
        "AWS_REGION": "eu-west-1",
    }
    for field, names in ENVIRONMENT.items():
        parameter = template["Parameters"].get(_parameter_name(field), {})
        for value in parameter.get("AllowedValues", []):
            companions = ALLOWED_WITH.get(field, ("", {}))[1]
            load_settings({**base, **companions, names[0]: str(value)})


# Values the library accepts only together with another setting: field -> (the value, the
# companions); the template's Rules ask for the same (test_rules_ask_for_what_the_library_needs).
ALLOWED_WITH: dict[str, tuple[str, dict[str, str]]] = {
    "object_lock_compliance": ("true", {"BACKUPWATCH_OBJECT_LOCK_MIN_DAYS": "30"}),
    "rds_backup_rule": ("either", {"BACKUPWATCH_CHECKS": "rds,backup"}),
}
BUCKET_PARAMETERS = {"S3Bucket": "acme-corp-db-backups"}
COPY_ACCOUNT, OTHER_COPY_ACCOUNT = "222233334444", "555566667777"
COPY_ROLE = "backupwatch-copy-reader"

# Parameters one of the template's Rules refuses, as load_settings refuses the same variables:
# (the parameters, the rule, what the library says, parameters that make both accept them).
RULES: list[tuple[dict[str, str], str, str, dict[str, str]]] = [
    (
        {"ObjectLockCompliance": "true"},
        "LockComplianceNeedsMinDays",
        "needs BACKUPWATCH_OBJECT_LOCK_MIN_DAYS",
        {"ObjectLockMinDays": "30"},
    ),
    # 'either' needs both kinds of evidence: the default checks (rds,s3) lack backup.
    (
        {"RdsBackupRule": "either"},
        "EitherNeedsRdsAndBackup",
        "'either' needs both rds and backup in BACKUPWATCH_CHECKS",
        {"Checks": "rds,backup"},
    ),
    (
        {"RdsBackupRule": "either", "Checks": "backup"},
        "EitherNeedsRdsAndBackup",
        "'either' needs both rds and backup in BACKUPWATCH_CHECKS",
        {"Checks": "rds,s3,backup"},
    ),
    # The retention and daily controls judge the rds and backup checks' backups.
    (
        {"MinRetentionDays": "35", "Checks": "s3"},
        "ControlsNeedRdsOrBackup",
        "needs rds or backup in BACKUPWATCH_CHECKS",
        {"Checks": "s3,backup"},
    ),
    (
        {"DailyBackupDays": "7", "Checks": "s3"},
        "ControlsNeedRdsOrBackup",
        "needs rds or backup in BACKUPWATCH_CHECKS",
        {"Checks": "rds,s3"},
    ),
    # Without the s3 check there is no bucket to name.
    (
        {"Checks": "s3,backup", "S3Bucket": ""},
        "BucketNeededForTheS3Check",
        "required while the s3 check is on",
        {"Checks": "backup"},
    ),
    # A copy account is read through its role: no role name, nothing to assume.
    (
        {"CopyAccounts": COPY_ACCOUNT},
        "CopyAccountsNeedTheRoleName",
        "needs BACKUPWATCH_COPY_ROLE_NAME",
        {"CopyRoleName": COPY_ROLE},
    ),
    (
        {"CopyAccounts": f"{COPY_ACCOUNT},{OTHER_COPY_ACCOUNT}", "CopyRegions": "eu-central-1"},
        "CopyAccountsNeedTheRoleName",
        "needs BACKUPWATCH_COPY_ROLE_NAME",
        {"CopyRoleName": f"backups/{COPY_ROLE}"},
    ),
]


def _environ(parameters: Mapping[str, str]) -> dict[str, str]:
    """The variables the functions get for these parameters (an empty one is unset)."""
    values = {**BUCKET_PARAMETERS, **parameters}
    return {"AWS_REGION": "eu-west-1"} | {PARAMETER_VARIABLES[k]: v for k, v in values.items()}


@pytest.mark.parametrize(
    ("parameters", "rule", "problem", "fix"),
    RULES,
    ids=[",".join(f"{k}={v}" for k, v in p.items()) for p, *_ in RULES],
)
def test_rules_ask_for_what_the_library_needs(
    template: dict[str, Any],
    parameters: dict[str, str],
    rule: str,
    problem: str,
    fix: dict[str, str],
) -> None:
    """What load_settings would refuse at 07:00 is refused at deploy time, by the rule named;
    and what fixes it for the library fixes it for CloudFormation."""
    alone = Stack(template, **{**BUCKET_PARAMETERS, **parameters})
    assert alone.broken_rules() == [rule]
    with pytest.raises(ValueError, match=re.escape(problem)):
        load_settings(_environ(parameters))
    fixed = {**parameters, **fix}
    assert Stack(template, **{**BUCKET_PARAMETERS, **fixed}).broken_rules() == []
    load_settings(_environ(fixed))


def test_every_companion_is_one_the_rules_accept(template: dict[str, Any]) -> None:
    """The values ALLOWED_WITH lets through with their companions deploy, and load."""
    for field, (value, companions) in ALLOWED_WITH.items():
        together = {_parameter_name(FIELD_OF[v]): c for v, c in companions.items()}
        stack = Stack(template, **BUCKET_PARAMETERS, **{_parameter_name(field): value}, **together)
        assert stack.broken_rules() == []
        load_settings({**_environ({}), ENVIRONMENT[field][0]: value, **companions})


CHECKS_VALUES = [v for v in load_template()["Parameters"]["Checks"]["AllowedValues"] if v]


@pytest.mark.parametrize("checks", CHECKS_VALUES)
def test_the_checks_conditions_are_the_librarys(template: dict[str, Any], checks: str) -> None:
    """For every Checks the template allows, its conditions and rules read it as the library
    does: whether the backup check is on (its grants), whether a bucket is needed, whether
    'either' and the retention and daily controls are accepted."""
    stack = Stack(template, Checks=checks)
    settings = load_settings(_environ({"Checks": checks}))
    assert stack.condition("ChecksAwsBackup") == (EvidenceCheck.BACKUP in settings.checks)

    def library_refuses(**parameters: str) -> bool:
        try:
            load_settings(_environ({"Checks": checks, **parameters}))
        except ValueError:
            return True
        return False

    def rule_refuses(rule: str, **parameters: str) -> bool:
        return rule in Stack(template, Checks=checks, **parameters).broken_rules()

    assert rule_refuses("BucketNeededForTheS3Check") == library_refuses(S3Bucket="")
    assert rule_refuses("EitherNeedsRdsAndBackup", RdsBackupRule="either") == library_refuses(
        RdsBackupRule="either"
    )
    for control in ("MinRetentionDays", "DailyBackupDays"):
        assert rule_refuses("ControlsNeedRdsOrBackup", **{control: "7"}) == library_refuses(
            **{control: "7"}
        )


FIELD_OF = {names[0]: field for field, names in ENVIRONMENT.items()}


PARAMETER_VARIABLES = {_parameter_name(field): names[0] for field, names in ENVIRONMENT.items()}
NEWER_PARAMETERS = {
    "SizeDropRatio",
    "TagSizeDropRatioFloor",
    "ObjectLockMinDays",
    "RequireKmsKey",
    "CopyRegions",
    "CopyAccounts",
    "CopyRoleName",
    "MinRetentionDays",
    "BackupKmsKey",
    "DailyBackupDays",
}
"""Parameters whose good values are also loaded (older ones have the library's own tests)."""
KMS_KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/0b9e6c2a-5d1f-4e8a-9c3b-7f2d1e4a6b58"
EXACT_PATTERNS = {"MinRetentionDays", "DailyBackupDays", "BackupKmsKey"}
LOADED_WITH = {"CopyAccounts": {"BACKUPWATCH_COPY_ROLE_NAME": COPY_ROLE}}
"""What a parameter's good values are loaded with (the library refuses them alone)."""
"""Parameters whose pattern is exactly the library's rule: every bad value is refused by both
(CopyRegions is stricter: no spaces, no blank item, which the library would strip)."""


@pytest.mark.parametrize(
    ("parameter", "good", "bad"),
    [
        ("MaxAgeHours", ["24", "0.5", "168"], ["-1", "a day", "1e3"]),
        ("MinObjectBytes", ["0", "1048576"], ["1.5", "-1"]),
        ("S3Bucket", ["acme-corp-db-backups", "Legacy_Bucket"], ["s3://b", "b", "a/b"]),
        ("ReportBucket", ["acme-corp-reports"], ["s3://b", "b", "a/b"]),
        ("OrganizationRoleName", ["backupwatch-reader", "ops/reader", "r"], ["a b", "/x", "x/"]),
        ("MemberRoleName", ["backupwatch-reader", "*"], ["", "a b", "arn:aws:iam::1:role/x"]),
        (
            "OrganizationId",
            ["o-a1b2c3d4e5", "o-" + "a" * 32],
            ["a1b2c3d4e5", "o-short", "O-A1B2C3D4E5", "o-" + "a" * 33, "r-a1b2"],
        ),
        ("ExternalId", ["acme-backupwatch-7f3a", "a:b"], ["x", "has space"]),
        ("ReportUrlHours", ["24", "0.5"], ["-1", "a day"]),
        ("MapMaxConcurrency", ["1", "40", "10000"], ["0", "10001", "1.5", "-1", "040"]),
        *[
            (ratio, ["0", "0.5", "1", "1.0", ".25"], ["1.5", "-0.1", "half", "2", "0.5.1"])
            for ratio in ("SizeDropRatio", "TagSizeDropRatioFloor")
        ],
        ("ObjectLockMinDays", ["0", "30", "29.5"], ["-1", "a month", "30d"]),
        (
            "RequireKmsKey",
            [KMS_KEY_ARN, "arn:aws:kms:us-east-1:123456789012:key/mrk-" + "0123abcd" * 4],
            [
                "1234abcd-12ab-34cd-56ef-1234567890ab",  # a key id: the policy needs the ARN
                "alias/backups",
                "arn:aws:kms:eu-west-1:123456789012:alias/backups",
                KMS_KEY_ARN.upper(),
            ],
        ),
        (
            "CopyRegions",
            ["eu-central-1", "eu-central-1,us-west-2", "us-gov-west-1"],
            ["Frankfurt", "eu-central-1,", "eu-central-1, us-west-2", "EU-CENTRAL-1"],
        ),
        (
            "MinRetentionDays",
            ["1", "35", "9999", "10000", "29999", "35999", "36499", "36500"],
            ["0", "-1", "36501", "40000", "99999", "7.5", "a month"],
        ),
        (
            "BackupKmsKey",
            [
                KMS_KEY_ARN,
                "0b9e6c2a-5d1f-4e8a-9c3b-7f2d1e4a6b58",  # a key id will do: only compared
                "mrk-" + "0123abcd" * 4,
            ],
            ["alias/backups", "arn:aws:kms:eu-west-1:123456789012:alias/backups", "key"],
        ),
        ("DailyBackupDays", ["1", "7", "19", "30", "35"], ["0", "36", "40", "1.5", "-1", "week"]),
        # Account ids only, no space (a space would be in the IAM condition's account id).
        (
            "CopyAccounts",
            [COPY_ACCOUNT, f"{COPY_ACCOUNT},{OTHER_COPY_ACCOUNT}"],
            [
                "2222333344",
                "2222-3333-4444",
                f"{COPY_ACCOUNT},",
                f"{COPY_ACCOUNT}, {OTHER_COPY_ACCOUNT}",
                f"arn:aws:iam::{COPY_ACCOUNT}:root",
            ],
        ),
        (
            "CopyRoleName",
            [COPY_ROLE, f"backups/{COPY_ROLE}", "r"],
            ["a b", "/x", "x/", f"arn:aws:iam::{COPY_ACCOUNT}:role/{COPY_ROLE}"],
        ),
    ],
)
def test_patterns_reject_obvious_mistakes(
    template: dict[str, Any], parameter: str, good: list[str], bad: list[str]
) -> None:
    """CloudFormation refuses these at deploy time, before a morning run would; what they let
    through, a setting's library accepts."""
    spec = template["Parameters"][parameter]
    pattern = re.compile(spec["AllowedPattern"])
    optional = [""] if spec.get("Default") == "" else []
    assert all(pattern.fullmatch(value) for value in [*good, *optional])
    assert not any(pattern.fullmatch(value) for value in bad)
    variable = PARAMETER_VARIABLES.get(parameter)
    if variable is not None and parameter in NEWER_PARAMETERS:
        # The floor may not be above the ratio: with the ratio at its highest, any floor is.
        environ = {
            "AWS_REGION": "eu-west-1",
            "BACKUPWATCH_S3_BUCKET": "acme-corp-db-backups",
            "BACKUPWATCH_SIZE_DROP_RATIO": "1",
        }
        for value in good:
            load_settings({**environ, **LOADED_WITH.get(parameter, {}), variable: value})
        if parameter in EXACT_PATTERNS:
            # The pattern is the library's bound: what it refuses, the library refuses too.
            for value in bad:
                with pytest.raises(ConfigurationError, match=variable):
                    load_settings({**environ, variable: value})


@pytest.mark.parametrize(
    ("good", "bad"),
    [(["backupwatch/", "reports/prod/", "a/"], ["", "/backupwatch/", "backupwatch", "a b/"])],
)
def test_report_prefix_is_a_folder_the_library_accepts(
    template: dict[str, Any], good: list[str], bad: list[str]
) -> None:
    """The prefix ends with / (so ``<prefix>*`` in IAM is exactly the library's keys) and the
    library keeps it as given."""
    pattern = re.compile(template["Parameters"]["ReportPrefix"]["AllowedPattern"])
    environ = {"BACKUPWATCH_DRY_RUN": "1", "AWS_REGION": "eu-west-1", "BACKUPWATCH_CHECKS": "rds"}
    for value in good:
        assert pattern.fullmatch(value)
        settings = load_settings({**environ, "BACKUPWATCH_REPORT_PREFIX": value})
        assert settings.report_prefix == value
    assert not any(pattern.fullmatch(value) for value in bad)


def test_topic_with_an_optional_email_subscription(template: dict[str, Any]) -> None:
    """The stack owns the digest topic; an email address subscribes only when given."""
    assert template["Resources"][TOPIC]["Type"] == "AWS::SNS::Topic"
    [subscription] = resources_of_type(template, "AWS::SNS::Subscription").values()
    assert subscription["Condition"] == "HasDigestEmail"
    assert template["Conditions"]["HasDigestEmail"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "DigestEmail"}, ""]}]
    }
    assert subscription["Properties"] == {
        "TopicArn": {"Ref": TOPIC},
        "Protocol": "email",
        "Endpoint": {"Ref": "DigestEmail"},
    }
    assert template["Parameters"]["DigestEmail"]["Default"] == ""


def _alarm(template: Mapping[str, Any], metric: str) -> dict[str, Any]:
    [alarm] = [
        r
        for r in resources_of_type(template, "AWS::CloudWatch::Alarm").values()
        if r["Properties"].get("MetricName") == metric
    ]
    return alarm


def _periods(properties: Mapping[str, Any]) -> list[int]:
    """An alarm's period, or the periods of the metrics its expression reads."""
    if "Period" in properties:
        return [properties["Period"]]
    return [m["MetricStat"]["Period"] for m in properties["Metrics"] if "MetricStat" in m]


def _within_cloudwatch_limits(properties: Mapping[str, Any]) -> bool:
    """Period x EvaluationPeriods: at most 7 days, or 1 day for periods under an hour."""
    for period in _periods(properties):
        span = period * properties["EvaluationPeriods"]
        limit = CLOUDWATCH_WEEK if period >= 3600 else CLOUDWATCH_DAY
        if not (span <= limit and properties.get("DatapointsToAlarm", 1) <= span):
            return False
    return True


def test_alarms_notify_the_topic(template: dict[str, Any]) -> None:
    """Every alarm notifies: the digest topic, or a separate alarm topic when one is given."""
    alarms = resources_of_type(template, "AWS::CloudWatch::Alarm")
    assert len(alarms) == 6
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [
            {"Fn::If": ["HasAlarmTopic", {"Ref": "AlarmTopicArn"}, {"Ref": TOPIC}]}
        ]
        assert _within_cloudwatch_limits(alarm["Properties"])


def test_errors_alarm_fires_on_one_failed_run(template: dict[str, Any]) -> None:
    """Configuration errors, unpublished digests and timeouts all count as Lambda Errors."""
    alarm = _alarm(template, "Errors")
    assert alarm["Condition"] == "SingleLambdaMode"
    properties = alarm["Properties"]
    assert properties["Namespace"] == "AWS/Lambda"
    assert properties["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": FUNCTION}}]
    assert (properties["Statistic"], properties["Threshold"]) == ("Sum", 1)
    assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


# The function whose run metrics (Heartbeat, NeedsAttention) the alarms watch: the one that
# publishes the digest, in either mode.
PUBLISHER = {"Fn::If": ["StepFunctionsMode", {"Ref": "PublishFunction"}, {"Ref": FUNCTION}]}


def test_heartbeat_alarm_fires_after_26_hours_of_silence(template: dict[str, Any]) -> None:
    """Dead man's switch: no completed run for 26 h alarms, and silence counts as breaching."""
    properties = _alarm(template, metrics.HEARTBEAT)["Properties"]
    assert properties["Namespace"] == {"Ref": "MetricsNamespace"}
    assert template["Parameters"]["MetricsNamespace"]["Default"] == metrics.DEFAULT_NAMESPACE
    assert properties["Dimensions"] == [{"Name": metrics.DIMENSION, "Value": PUBLISHER}]
    assert properties["TreatMissingData"] == "breaching"
    assert (properties["Statistic"], properties["Threshold"]) == ("Sum", 1)
    assert properties["ComparisonOperator"] == "LessThanThreshold"
    window = properties["Period"] * properties["EvaluationPeriods"]
    assert window == 26 * 3600
    # Every period of the window must lack a heartbeat, not just some of them.
    assert properties["DatapointsToAlarm"] == properties["EvaluationPeriods"]


def test_failing_tenants_alarm_is_optional(template: dict[str, Any]) -> None:
    """Off by default (the digest says it every morning); on, it reads NeedsAttention, which
    counts what the digest counts as failing (regions not checked and no tenants too)."""
    alarm = _alarm(template, metrics.NEEDS_ATTENTION)
    assert alarm["Condition"] == "AlarmsOnFailingTenants"
    assert template["Parameters"]["AlarmOnFailingTenants"]["Default"] == "false"
    properties = alarm["Properties"]
    assert properties["MetricName"] == metrics.NEEDS_ATTENTION
    assert properties["Namespace"] == {"Ref": "MetricsNamespace"}
    assert properties["Dimensions"] == [{"Name": metrics.DIMENSION, "Value": PUBLISHER}]
    assert (properties["Threshold"], properties["ComparisonOperator"]) == (
        0,
        "GreaterThanThreshold",
    )


def test_publish_handler_writes_the_metrics_the_alarms_read() -> None:
    """In step-functions mode the heartbeat comes from the publish step: its handler writes
    the run's metrics (RunTelemetry) under its own function name, like the digest handler.
    (tests/test_fanout.py reads the Heartbeat it really prints.)"""
    for handler in ("publish_digest.py", "daily_digest.py"):
        source = (ROOT / "handlers" / handler).read_text(encoding="utf-8")
        assert "telemetry = start(context" in source, handler
        assert re.search(r"finish\(\s*outcome, telemetry", source), handler


def test_step_functions_errors_alarm_covers_every_step(template: dict[str, Any]) -> None:
    """One alarm sums the Errors of the plan, scan and publish functions, hour by hour."""
    alarm = template["Resources"]["StepErrorsAlarm"]
    assert alarm["Condition"] == "StepFunctionsMode"
    properties = alarm["Properties"]
    watched = {
        m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Ref"]
        for m in properties["Metrics"]
        if "MetricStat" in m
    }
    assert watched == {"PlanFunction", "ScanFunction", "PublishFunction"}
    for metric in properties["Metrics"]:
        if "MetricStat" in metric:
            stat = metric["MetricStat"]
            assert stat["Metric"]["Namespace"] == "AWS/Lambda"
            assert stat["Metric"]["MetricName"] == "Errors"
            assert (stat["Stat"], metric["ReturnData"]) == ("Sum", False)
            assert metric["Id"] in properties["Metrics"][-1]["Expression"]
    [returned] = [m for m in properties["Metrics"] if m.get("ReturnData")]
    assert "Expression" in returned
    assert (properties["Threshold"], properties["ComparisonOperator"]) == (
        1,
        "GreaterThanOrEqualToThreshold",
    )


@pytest.mark.parametrize("metric", ["ExecutionsFailed", "ExecutionsTimedOut"])
def test_state_machine_alarms(template: dict[str, Any], metric: str) -> None:
    """A run that ends without a digest (failed, or stopped by its time limit) alarms once."""
    alarm = _alarm(template, metric)
    assert alarm["Condition"] == "StepFunctionsMode"
    properties = alarm["Properties"]
    assert properties["Namespace"] == "AWS/States"
    assert properties["Dimensions"] == [
        {"Name": "StateMachineArn", "Value": {"Ref": STATE_MACHINE}}
    ]
    assert (properties["Statistic"], properties["Threshold"]) == ("Sum", 1)
    assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_alarmed_metrics_are_the_ones_the_handler_writes() -> None:
    """The names the alarms watch are in every record backupwatch.pipeline.telemetry writes."""
    record = metrics.metrics_record(
        {"tenants": 0, "failing": 0, "by_status": {}, "regions_failed": 0, "ok": False},
        duration_seconds=0,
        aws_calls=0,
        throttles=0,
        at=datetime(2026, 11, 27, tzinfo=UTC),
        function_name="f",
    )
    names = {m["Name"] for m in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {metrics.HEARTBEAT, metrics.NEEDS_ATTENTION} <= names
    assert record["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [[metrics.DIMENSION]]


def test_metrics_namespace_reaches_the_handler(function: dict[str, Any]) -> None:
    """The handler writes metrics where the alarms look for them."""
    for variable, parameter in HANDLER_VARIABLES.items():
        assert function["Environment"]["Variables"][variable] == {"Ref": parameter}


INSPECTION_SIDS = ("InspectTheNewestDumps", "ReadTheDumpsObjectLock", "DecryptTheDumps")
"""The statements that let the function that checks scopes inspect the newest dumps."""
AWS_BACKUP_SIDS = (
    "ListAwsBackupVaults",
    "ListTheVaultsRecoveryPoints",
    "ListEachTenantsRecoveryPoints",
    "ListAwsBackupJobs",
    "ListReplicatedAutomatedBackups",
)
"""The statements of the backup and copy checks, in the function that checks scopes."""


def _statements(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        item["Fn::If"][1] if set(item) == {"Fn::If"} else item for item in document["Statement"]
    ]


DELIVERY_SIDS = {
    "ReadTheSlackWebhookUrl",
    "ReadTheTeamsWebhookUrl",
    "SendTheDigestByEmail",
    "PublishOwnerNotices",
}
"""The delivery channels' statements (docs/delivery.md), each only with its channel."""


@pytest.mark.parametrize(
    ("name", "sids"),
    [
        (
            FUNCTION,
            {
                "ListDatabasesAndAutomatedSnapshots",
                "ListTenantBackupFolders",
                "PublishTheDigest",
                "PublishToTheEncryptedTopic",
                "ArchiveTheReport",
                "TellMissingFromDenied",
                "AssumeMemberRoles",
                "AssumeCopyRoles",
                "ListOrganizationAccounts",
                *INSPECTION_SIDS,
                *AWS_BACKUP_SIDS,
                *DELIVERY_SIDS,
            },
        ),
        ("PlanFunction", {"WriteTheScopeList", "ListOrganizationAccounts"}),
        (
            "ScanFunction",
            {
                "ListDatabasesAndAutomatedSnapshots",
                "ListTenantBackupFolders",
                "AssumeMemberRoles",
                "AssumeCopyRoles",
                "WriteLargePartialReports",
                *INSPECTION_SIDS,
                *AWS_BACKUP_SIDS,
            },
        ),
        (
            "PublishFunction",
            {
                "ReadTheRunAndArchiveTheReport",
                "TellMissingFromDenied",
                "PublishTheDigest",
                "PublishToTheEncryptedTopic",
                *DELIVERY_SIDS,
            },
        ),
    ],
)
def test_the_policy_is_there(template: dict[str, Any], name: str, sids: set[str]) -> None:
    """Each function's inline policy exists; test_least_privilege.py proves it is exact."""
    [document] = function_properties(template, name)["Policies"]
    assert document["Version"] == "2012-10-17"
    assert {s["Sid"] for s in _statements(document)} == sids


# --- what a deployment contains, by mode ----------------------------------------------------

SINGLE_LAMBDA_RESOURCES = {
    TOPIC,
    "DigestTopicKey",
    "DigestTopicPolicy",
    FUNCTION,
    "DigestFunctionLogGroup",
    "ErrorsAlarm",
    "HeartbeatAlarm",
}


def test_the_single_lambda_stack_is_the_default(template: dict[str, Any]) -> None:
    """With every parameter at its default (but the backups bucket, which is required): the
    function, its schedule, the topic and two alarms, as before the state machine existed; no
    report bucket, no role to assume, no archive."""
    stack = Stack(template, S3Bucket="acme-corp-db-backups")
    assert template["Parameters"]["Mode"]["Default"] == "single-lambda"
    assert stack.resources == SINGLE_LAMBDA_RESOURCES
    properties = stack.properties(FUNCTION)
    assert properties["Environment"]["Variables"]["BACKUPWATCH_REPORT_BUCKET"] == ""
    [document] = properties["Policies"]
    assert [s["Sid"] for s in document["Statement"]] == [
        "ListDatabasesAndAutomatedSnapshots",
        "ListTenantBackupFolders",
        "PublishTheDigest",
        "PublishToTheEncryptedTopic",
    ]


def test_step_functions_mode_replaces_the_digest_function(template: dict[str, Any]) -> None:
    """Mode=step-functions: three functions, the state machine, its roles and schedule, the
    report bucket; no digest function, so only one of the two ever runs."""
    stack = Stack(template, **STEP_FUNCTIONS)
    assert FUNCTION not in stack.resources
    assert {
        "PlanFunction",
        "ScanFunction",
        "PublishFunction",
        STATE_MACHINE,
        "StateMachineRole",
        "StateMachineChildrenPolicy",
        "RunSchedule",
        "RunScheduleRole",
        "ReportsBucket",
        "StepErrorsAlarm",
        "ExecutionsFailedAlarm",
        "ExecutionsTimedOutAlarm",
        "HeartbeatAlarm",
    } <= stack.resources
    assert "ErrorsAlarm" not in stack.resources
    for name in ("PlanFunction", "ScanFunction", "PublishFunction"):
        variables = stack.properties(name)["Environment"]["Variables"]
        assert variables["BACKUPWATCH_REPORT_BUCKET"] == "ReportsBucket"  # the archive is on


@pytest.mark.parametrize("mode", ["single-lambda", "step-functions"])
def test_exactly_one_schedule_starts_the_run(template: dict[str, Any], mode: str) -> None:
    """One schedule per deployment: the digest function's (SAM's ScheduleV2 event), or the
    state machine's; the same expression and time zone either way."""
    stack = Stack(template, Mode=mode)
    schedules = [
        name
        for name in stack.resources
        if stack.template["Resources"][name]["Type"] == ("AWS::Scheduler::Schedule")
    ]
    scheduled_functions = [
        name
        for name in stack.resources
        if stack.template["Resources"][name]["Type"] == "AWS::Serverless::Function"
        and stack.template["Resources"][name]["Properties"].get("Events")
    ]
    if mode == "single-lambda":
        assert (schedules, scheduled_functions) == ([], [FUNCTION])
        return
    assert (schedules, scheduled_functions) == (["RunSchedule"], [])
    schedule = stack.properties("RunSchedule")
    assert schedule["Target"]["Arn"] == STATE_MACHINE
    assert schedule["Target"]["RoleArn"] == "RunScheduleRole.Arn"
    assert json.loads(schedule["Target"]["Input"]) == {}
    assert schedule["ScheduleExpression"] == "cron(0 7 * * ? *)"
    assert schedule["ScheduleExpressionTimezone"] == "UTC"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}


@pytest.mark.parametrize(
    ("parameters", "bucket"),
    [
        ({}, None),
        ({"ArchiveReports": "true"}, "ReportsBucket"),
        ({"ReportBucket": "acme-corp-reports"}, "acme-corp-reports"),
        ({"ArchiveReports": "true", "ReportBucket": "acme-corp-reports"}, "acme-corp-reports"),
        (STEP_FUNCTIONS, "ReportsBucket"),
        ({**STEP_FUNCTIONS, "ReportBucket": "acme-corp-reports"}, "acme-corp-reports"),
    ],
)
def test_the_report_bucket(
    template: dict[str, Any], parameters: dict[str, str], bucket: str | None
) -> None:
    """Off by default; ArchiveReports=true creates a bucket, ReportBucket names yours, and the
    state machine always has one. The functions get it as BACKUPWATCH_REPORT_BUCKET."""
    stack = Stack(template, **parameters)
    assert ("ReportsBucket" in stack.resources) == (bucket == "ReportsBucket")
    name = "PublishFunction" if stack.condition("StepFunctionsMode") else FUNCTION
    variables = stack.properties(name)["Environment"]["Variables"]
    assert variables["BACKUPWATCH_REPORT_BUCKET"] == (bucket or "")


def test_the_created_bucket_is_private_encrypted_and_expires_reports(
    template: dict[str, Any],
) -> None:
    """No public access, encrypted, TLS only, kept when the stack goes; the reports expire
    after ReportRetentionDays (90 by default), a run's working data after a week; the index
    and the status page, rewritten every run, are left alone."""
    stack = Stack(template, ArchiveReports="true", ReportRetentionDays="30")
    resource = template["Resources"]["ReportsBucket"]
    assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert template["Parameters"]["ReportRetentionDays"]["Default"] == 90
    bucket = stack.properties("ReportsBucket")
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    [encryption] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    reports, ledger, runs = bucket["LifecycleConfiguration"]["Rules"]
    # The publish ledger's records matter while a run can be retried or repeated.
    assert (ledger["Status"], ledger["Prefix"], ledger["ExpirationInDays"]) == (
        "Enabled",
        "backupwatch/ledger/",
        7,
    )
    assert (reports["Status"], reports["Prefix"], reports["ExpirationInDays"]) == (
        "Enabled",
        "backupwatch/reports/",
        "30",
    )
    # A run's working data is the state machine's, for that run only.
    assert (runs["Status"], runs["Prefix"], runs["ExpirationInDays"]) == (
        "Enabled",
        "backupwatch/runs/",
        7,
    )
    assert runs["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    [deny] = stack.properties("ReportsBucketPolicy")["PolicyDocument"]["Statement"]
    assert (deny["Effect"], deny["Action"]) == ("Deny", "s3:*")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_report_permissions_are_limited_to_the_prefix(template: dict[str, Any]) -> None:
    """Every S3 object permission on the report bucket is under ReportPrefix; the state
    machine's and the plan's and scan's writes are under its runs/ folder."""
    stack = Stack(template, **STEP_FUNCTIONS, ReportPrefix="bw/")
    prefix = "arn:aws:s3:::ReportsBucket/bw/"
    for name in ("PlanFunction", "ScanFunction", "PublishFunction"):
        [document] = stack.properties(name)["Policies"]
        for statement in document["Statement"]:
            actions = _as_list(statement["Action"])
            if any(a in {"s3:PutObject", "s3:GetObject"} for a in actions):
                assert statement["Resource"].startswith(prefix), (name, statement)
                if name != "PublishFunction":
                    assert statement["Resource"] == f"{prefix}runs/*"
    [run] = stack.properties("StateMachineRole")["Policies"]
    [s3] = [s for s in run["PolicyDocument"]["Statement"] if s["Sid"] == "ReadScopesWriteResults"]
    assert s3["Resource"] == f"{prefix}runs/*"
    digest = Stack(template, ArchiveReports="true", ReportPrefix="bw/").properties(FUNCTION)
    [archive] = [s for s in digest["Policies"][0]["Statement"] if s["Sid"] == "ArchiveTheReport"]
    assert archive["Resource"] == f"{prefix}*"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize(
    ("parameters", "role"),
    [
        ({"Targets": "arn:aws:iam::111122223333:role/backupwatch-reader"}, "backupwatch-reader"),
        ({"Targets": "arn:aws:iam::111122223333:role/x", "MemberRoleName": "ops/x"}, "ops/x"),
        (
            {"OrganizationRoleName": "OrganizationReader", "OrganizationId": ORGANIZATION},
            "OrganizationReader",
        ),
    ],
)
@pytest.mark.parametrize("mode", ["single-lambda", "step-functions"])
def test_assume_role_is_scoped_to_the_member_role(
    template: dict[str, Any], parameters: dict[str, str], role: str, mode: str
) -> None:
    """sts:AssumeRole only with targets or an organization, on that role name only, by the
    function that checks scopes; ListAccounts only with an organization."""
    stack = Stack(template, Mode=mode, **parameters)
    assert "OrganizationModeNamesTheOrganization" not in stack.broken_rules()
    checker = "ScanFunction" if mode == "step-functions" else FUNCTION
    [document] = stack.properties(checker)["Policies"]
    [assume] = [s for s in document["Statement"] if s["Sid"] == "AssumeMemberRoles"]
    assert (assume["Action"], assume["Resource"]) == (
        "sts:AssumeRole",
        f"arn:aws:iam::*:role/{role}",
    )
    assert assume_role_problems(stack) == []
    lister = "PlanFunction" if mode == "step-functions" else FUNCTION
    [document] = stack.properties(lister)["Policies"]
    organization = "OrganizationRoleName" in parameters
    sids = {s["Sid"] for s in document["Statement"]}
    assert ("ListOrganizationAccounts" in sids) == organization
    unfanned = Stack(template, Mode=mode)
    for name in {checker, lister}:
        [document] = unfanned.properties(name)["Policies"]
        assert not {"AssumeMemberRoles", "ListOrganizationAccounts"} & {
            s["Sid"] for s in document["Statement"]
        }


@pytest.mark.parametrize("mode", ["single-lambda", "step-functions"])
def test_copy_roles_are_assumed_in_the_copy_accounts_only(
    template: dict[str, Any], mode: str
) -> None:
    """With CopyAccounts, the function that checks scopes may assume CopyRoleName, in those
    accounts only (aws:ResourceAccount: the account that owns the role), beside the member
    roles or without them; the other functions never; without CopyAccounts, no copy-account
    role at all. The stack's output names the role for the copy roles' trust policies."""
    accounts = f"{COPY_ACCOUNT},{OTHER_COPY_ACCOUNT}"
    checker = "ScanFunction" if mode == "step-functions" else FUNCTION
    fan_outs: list[dict[str, str]] = [
        {},
        {"Targets": "arn:aws:iam::111122223333:role/backupwatch-reader"},
        {"OrganizationRoleName": "backupwatch-reader", "OrganizationId": ORGANIZATION},
    ]
    for fan_out in fan_outs:
        stack = Stack(
            template,
            Mode=mode,
            **BUCKET_PARAMETERS,
            CopyAccounts=accounts,
            CopyRoleName=f"backups/{COPY_ROLE}",
            **fan_out,
        )
        assert stack.broken_rules() == []
        for name in FUNCTIONS:
            if not stack.exists(name):
                continue
            copies = [s for s in _policy_statements(stack, name) if s["Sid"] == "AssumeCopyRoles"]
            assert copies == (
                [
                    {
                        "Sid": "AssumeCopyRoles",
                        "Effect": "Allow",
                        "Action": "sts:AssumeRole",
                        "Resource": f"arn:aws:iam::*:role/backups/{COPY_ROLE}",
                        "Condition": {
                            "StringEquals": {
                                "aws:ResourceAccount": [COPY_ACCOUNT, OTHER_COPY_ACCOUNT]
                            }
                        },
                    }
                ]
                if name == checker
                else []
            ), name
        assert assume_role_problems(stack) == []
        output = template["Outputs"]["MemberRoleTrustedRoleArn"]
        assert stack.condition(output["Condition"])
    # A role name alone (the library accepts it) assumes nothing.
    alone = Stack(template, Mode=mode, **BUCKET_PARAMETERS, CopyRoleName=COPY_ROLE)
    for name in FUNCTIONS:
        if alone.exists(name):
            actions = {a for s in _policy_statements(alone, name) for a in _as_list(s["Action"])}
            assert "sts:AssumeRole" not in actions, name
    assert not alone.condition(template["Outputs"]["MemberRoleTrustedRoleArn"]["Condition"])


def test_targets_and_organization_are_exclusive_like_in_the_library(
    template: dict[str, Any],
) -> None:
    """A rule refuses both at deploy time, as load_settings does at run time."""
    [assertion] = template["Rules"]["TargetsOrOrganization"]["Assertions"]
    assert assertion["Assert"] == {
        "Fn::Or": [
            {"Fn::Equals": [{"Ref": "Targets"}, ""]},
            {"Fn::Equals": [{"Ref": "OrganizationRoleName"}, ""]},
        ]
    }
    environ = {
        "BACKUPWATCH_DRY_RUN": "1",
        "AWS_REGION": "eu-west-1",
        "BACKUPWATCH_CHECKS": "rds",
        "BACKUPWATCH_TARGETS": "arn:aws:iam::111122223333:role/r",
        "BACKUPWATCH_ORGANIZATION_ROLE_NAME": "r",
    }
    with pytest.raises(ValueError, match="not both"):
        load_settings(environ)


# --- the digest topic: encrypted, published to by this stack only; roles in the organization --

CLOUDWATCH = "cloudwatch.amazonaws.com"
THIS_ACCOUNTS_ALARMS = f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:"
KEY_ARN = "DigestTopicKey.Arn"  # what a Stack resolves !GetAtt DigestTopicKey.Arn to
TOPIC_KEY_ACTIONS = {"kms:GenerateDataKey*", "kms:Decrypt"}


def _everyone(principal: Any) -> bool:
    return principal in ("*", {"AWS": "*"})


def _policy_statements(stack: Stack, function: str) -> list[dict[str, Any]]:
    [document] = stack.properties(function)["Policies"]
    statements: list[dict[str, Any]] = document["Statement"]
    return statements


def _publishers(stack: Stack) -> list[str]:
    """The deployed functions whose policy allows sns:Publish: those that publish the digest."""
    return [
        name
        for name in FUNCTIONS
        if stack.exists(name)
        and any("sns:Publish" in _as_list(s["Action"]) for s in _policy_statements(stack, name))
    ]


def _alarms_notify_the_topic(stack: Stack) -> bool:
    return any(
        TOPIC in stack.properties(name)["AlarmActions"]
        for name in resources_of_type(stack.template, "AWS::CloudWatch::Alarm")
        if stack.exists(name)
    )


def _cloudwatch_condition_problems(where: str, statement: Mapping[str, Any]) -> list[str]:
    """CloudWatch acts for whichever account's alarm names a topic: it must be held to this
    account's alarms (the confused deputy)."""
    condition = statement.get("Condition", {})
    problems = []
    if condition.get("StringEquals", {}).get("aws:SourceAccount") != ACCOUNT:
        problems.append(f"{where}: CloudWatch is not limited to this account (aws:SourceAccount)")
    source = condition.get("ArnLike", {}).get("aws:SourceArn", THIS_ACCOUNTS_ALARMS)
    if not str(source).startswith(THIS_ACCOUNTS_ALARMS):
        problems.append(f"{where}: aws:SourceArn {source!r} is not this account's alarms")
    return problems


def topic_policy_problems(stack: Stack) -> list[str]:
    """Who other than the stack's publishing function (and this account's alarms, when they
    notify the topic) could publish a digest, or reach the topic without TLS; empty when the
    topic policy is as it must be."""
    policies = [
        stack.properties(name)
        for name in resources_of_type(stack.template, "AWS::SNS::TopicPolicy")
        if stack.exists(name)
    ]
    policies = [p for p in policies if TOPIC in p["Topics"]]
    if len(policies) != 1:
        return [f"{len(policies)} topic policies on the digest topic, not 1"]
    statements = policies[0]["PolicyDocument"]["Statement"]
    roles = sorted(f"{name}Role.Arn" for name in _publishers(stack))
    problems = []
    allowed_roles: list[str] = []
    allowed_services: list[str] = []
    for statement in statements:
        sid = statement.get("Sid", "a statement")
        if statement["Resource"] != TOPIC:
            problems.append(f"{sid} is on {statement['Resource']!r}, not the digest topic")
        if statement["Effect"] != "Allow":
            continue
        principal = statement["Principal"]
        if _as_list(statement["Action"]) != ["sns:Publish"]:
            problems.append(f"{sid} allows {statement['Action']!r}, not sns:Publish alone")
        if _everyone(principal) or not isinstance(principal, dict):
            problems.append(f"{sid} lets anyone publish: Principal {principal!r}")
            continue
        allowed_roles += _as_list(principal.get("AWS", []))
        for service in _as_list(principal.get("Service", [])):
            allowed_services.append(service)
            if service != CLOUDWATCH:
                problems.append(f"{sid} lets the service {service} publish")
            problems += _cloudwatch_condition_problems(sid, statement)
    if sorted(allowed_roles) != roles:
        problems.append(f"the roles allowed to publish are {allowed_roles}, not {roles}")
    if (CLOUDWATCH in allowed_services) != _alarms_notify_the_topic(stack):
        problems.append(
            "the alarms notify the digest topic, but CloudWatch may not publish to it"
            if _alarms_notify_the_topic(stack)
            else "CloudWatch may publish, but no alarm notifies the digest topic"
        )
    others = {
        "ArnNotEquals": {"aws:PrincipalArn": roles[0] if len(roles) == 1 else roles},
        "Bool": {"aws:PrincipalIsAWSService": "false"},
    }
    if not any(
        s["Effect"] == "Deny"
        and _everyone(s["Principal"])
        and "sns:Publish" in _as_list(s["Action"])
        and s.get("Condition") == others
        for s in statements
    ):
        problems.append(
            "no Deny of sns:Publish for every principal but the publishing role: any role of "
            "the account whose own policy allows sns:Publish could forge a digest"
        )
    if not any(
        s["Effect"] == "Deny"
        and _everyone(s["Principal"])
        and _as_list(s["Action"]) in (["sns:*"], ["*"])
        and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    ):
        problems.append("no Deny of every action on the topic without TLS (aws:SecureTransport)")
    return problems


def key_policy_problems(stack: Stack) -> list[str]:
    """Whether the digest topic is encrypted with the stack's own key, rotated, administered by
    the account, usable by CloudWatch when (and only when) the alarms notify the topic, and by
    nobody else through its policy; empty when all is as it must be."""
    problems = []
    if stack.properties(TOPIC).get("KmsMasterKeyId") != KEY_ARN:
        problems.append("the digest topic is not encrypted with the stack's key DigestTopicKey")
    key = stack.properties("DigestTopicKey")
    if key.get("EnableKeyRotation") is not True:
        problems.append("the key's rotation is off")
    if key.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
        problems.append("SNS encrypts with symmetric keys only")
    root = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    statements = key["KeyPolicy"]["Statement"]
    if not any(s["Effect"] == "Allow" and s["Principal"] == root for s in statements):
        problems.append("the account root does not administer the key")
    cloudwatch = [s for s in statements if s["Principal"] == {"Service": CLOUDWATCH}]
    for statement in statements:
        if statement["Principal"] not in (root, {"Service": CLOUDWATCH}):
            problems.append(f"the key policy names {statement['Principal']!r}")
    if _alarms_notify_the_topic(stack) and not cloudwatch:
        problems.append(
            "the alarms notify the digest topic, but the key policy does not let CloudWatch "
            "use the key: every alarm notification would fail"
        )
    if cloudwatch and not _alarms_notify_the_topic(stack):
        problems.append("CloudWatch may use the key, but no alarm notifies the digest topic")
    for statement in cloudwatch:
        if set(_as_list(statement["Action"])) != TOPIC_KEY_ACTIONS:
            problems.append(f"CloudWatch may {statement['Action']!r} with the key")
        problems += _cloudwatch_condition_problems("the key policy", statement)
    return problems


def key_grant_problems(stack: Stack) -> list[str]:
    """Exactly the functions that publish the digest may use the topic's key, for exactly what
    SNS needs to encrypt their message, and only through SNS."""
    problems = []
    publishers = _publishers(stack)
    for name in FUNCTIONS:
        if not stack.exists(name):
            continue
        grants = [
            s
            for s in _policy_statements(stack, name)
            if any(a.startswith("kms:") for a in _as_list(s["Action"])) and not _through_s3(s)
        ]
        if name not in publishers:
            if grants:
                problems.append(f"{name} does not publish, but may use KMS: {grants}")
            continue
        if len(grants) != 1:
            problems.append(
                f"{name} publishes: it needs one grant on the topic's key, not {grants}"
            )
            continue
        [grant] = grants
        if set(_as_list(grant["Action"])) != TOPIC_KEY_ACTIONS or grant["Resource"] != KEY_ARN:
            problems.append(f"{name} may {grant['Action']!r} on {grant['Resource']!r}")
        via = {"StringEquals": {"kms:ViaService": "sns.eu-west-1.amazonaws.com"}}
        if grant.get("Condition") != via:
            problems.append(f"{name} may use the topic's key outside SNS")
    return problems


def _through_s3(statement: Mapping[str, Any]) -> bool:
    """Whether a KMS grant is usable only through S3 (the dump key grant); dump_key_problems
    judges those."""
    via = statement.get("Condition", {}).get("StringLike", {}).get("kms:ViaService")
    return isinstance(via, str) and via.startswith("s3.")


BACKUPS_BUCKET = "acme-corp-db-backups"
ANY_KEY = "arn:aws:kms:*:*:key/*"


def dump_key_problems(stack: Stack) -> list[str]:
    """Only a function that reads the backups' content (a declared format, checksums, or
    InspectionByTags) may decrypt, once: kms:Decrypt alone, through S3 only, for the backups
    bucket's objects only (S3's encryption context), on RequireKmsKey's key when it is set."""
    bucket = stack.parameters["S3Bucket"]
    objects = f"arn:aws:s3:::{bucket}/*"
    reads_content = stack.condition("ReadsDumpContent")
    required = stack.parameters["RequireKmsKey"]
    problems = []
    for name in FUNCTIONS:
        if not stack.exists(name):
            continue
        statements = _policy_statements(stack, name)
        reads = any(
            "s3:GetObject" in _as_list(s["Action"]) and s["Resource"] == objects for s in statements
        )
        decrypts = [
            s for s in statements if "kms:Decrypt" in _as_list(s["Action"]) and _through_s3(s)
        ]
        if not (reads and reads_content):
            if decrypts:
                problems.append(f"{name} does not read the backups' content, but may decrypt")
            continue
        if len(decrypts) != 1:
            problems.append(f"{name} reads the backups: it needs one kms:Decrypt, not {decrypts}")
            continue
        [grant] = decrypts
        if _as_list(grant["Action"]) != ["kms:Decrypt"]:
            problems.append(f"{name} may {grant['Action']!r} through S3")
        key = required or ANY_KEY
        if grant["Resource"] != key:
            problems.append(f"{name} may decrypt with {grant['Resource']!r}, not {key!r}")
        context = grant["Condition"]["StringLike"].get("kms:EncryptionContext:aws:s3:arn")
        if context != [f"arn:aws:s3:::{bucket}", objects]:
            problems.append(f"{name} may decrypt objects of other buckets: {context!r}")
        if (
            set(grant["Condition"]) != {"StringLike"}
            or grant["Condition"]["StringLike"].get("kms:ViaService") != "s3.*.amazonaws.com"
        ):
            problems.append(f"{name} may decrypt outside S3: {grant['Condition']!r}")
    return problems


def assume_role_problems(stack: Stack) -> list[str]:
    """In organization mode, the roles the functions may assume are limited to the
    organization's accounts (aws:ResourceOrgID); so are the targets' when OrganizationId is
    given with Targets. The copy-account role only in the copy accounts (aws:ResourceAccount),
    and only with copy accounts."""
    organization = stack.parameters["OrganizationId"]
    copy_accounts = stack.parameters["CopyAccounts"]
    problems = []
    if stack.parameters["OrganizationRoleName"] and not organization:
        problems.append("organization mode without OrganizationId")
    for name in FUNCTIONS:
        if not stack.exists(name):
            continue
        for statement in _policy_statements(stack, name):
            if "sts:AssumeRole" not in _as_list(statement["Action"]):
                continue
            condition = statement.get("Condition")
            if statement.get("Sid") == "AssumeCopyRoles":
                problems += _copy_role_problems(name, statement, copy_accounts)
                continue
            if organization and condition != {"StringEquals": {"aws:ResourceOrgID": organization}}:
                problems.append(
                    f"{name} may assume roles outside the organization {organization}: "
                    f"Condition {condition!r}"
                )
            if not organization and condition is not None:
                problems.append(f"{name}: a condition {condition!r} without OrganizationId")
    return problems


def _copy_role_problems(function: str, statement: Mapping[str, Any], accounts: str) -> list[str]:
    """The copy-account role's statement: there only with copy accounts, and then on their
    roles only, whatever role name the others may assume."""
    if not accounts:
        return [f"{function} may assume a copy-account role without CopyAccounts"]
    wanted = {"StringEquals": {"aws:ResourceAccount": accounts.split(",")}}
    condition = statement.get("Condition")
    if condition != wanted:
        return [f"{function} may assume copy-account roles outside {accounts}: {condition!r}"]
    return []


ORG_MODE_WITH_COPIES = {
    "OrganizationRoleName": "backupwatch-reader",
    "OrganizationId": ORGANIZATION,
    "CopyAccounts": "222233334444",
    "CopyRoleName": "backupwatch-copy-reader",
}

GUARDED = [
    {},
    STEP_FUNCTIONS,
    {"AlarmTopicArn": "arn:aws:sns:eu-west-1:123456789012:ops-alarms"},
    {**STEP_FUNCTIONS, "AlarmTopicArn": "arn:aws:sns:eu-west-1:123456789012:ops-alarms"},
    {"OrganizationRoleName": "backupwatch-reader", "OrganizationId": ORGANIZATION},
    {**STEP_FUNCTIONS, "OrganizationRoleName": "r", "OrganizationId": ORGANIZATION},
    {"Targets": "arn:aws:iam::111122223333:role/backupwatch-reader"},
    {
        "Targets": "arn:aws:iam::111122223333:role/backupwatch-reader",
        "OrganizationId": ORGANIZATION,
    },
    {"AlarmOnFailingTenants": "true", "ArchiveReports": "true"},
    {"DumpFormat": "pg_custom", "VerifyChecksums": "true", "ObjectLockMinDays": "30"},
    {**STEP_FUNCTIONS, "InspectionByTags": "true", "RequireKmsKey": KMS_KEY_ARN},
    {**ORG_MODE_WITH_COPIES},
    {**STEP_FUNCTIONS, **ORG_MODE_WITH_COPIES},
    {"CopyAccounts": "222233334444,555566667777", "CopyRoleName": "backupwatch-copy-reader"},
]


@pytest.mark.parametrize(
    "parameters", GUARDED, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()) or "defaults"
)
def test_the_digest_topic_is_encrypted_and_only_the_stack_publishes(
    template: dict[str, Any], parameters: dict[str, str]
) -> None:
    """In every deployment: the topic is encrypted with a rotated key of the stack's own; the
    publishing function, and this account's alarms when they notify the topic, may publish and
    use the key, nobody else; nothing reaches the topic without TLS; organization mode limits
    the roles to assume to the organization; only a function that reads the backups' content
    may decrypt them, and only through S3."""
    stack = Stack(template, S3Bucket="acme-corp-db-backups", **parameters)
    assert stack.broken_rules() == []
    assert {"DigestTopicKey", "DigestTopicPolicy"} <= stack.resources
    assert topic_policy_problems(stack) == []
    assert key_policy_problems(stack) == []
    assert key_grant_problems(stack) == []
    assert dump_key_problems(stack) == []
    assert assume_role_problems(stack) == []


# --- inspecting the newest dumps: what each inspection may read ------------------------------

# parameters -> (s3:GetObject, s3:GetObjectRetention, kms:Decrypt's key or None), on the backups
INSPECTIONS: list[tuple[dict[str, str], tuple[bool, bool, str | None]]] = [
    ({}, (False, False, None)),
    # The size rule reads nothing: the listing has the sizes.
    ({"SizeDropRatio": "0.3", "TagSizeDropRatioFloor": "0.2"}, (False, False, None)),
    # Ranged GETs of the dump: SSE-KMS objects are decrypted for them.
    ({"DumpFormat": "pg_custom"}, (True, False, ANY_KEY)),
    # HeadObject with ChecksumMode, the sidecar's GET: both decrypt.
    ({"VerifyChecksums": "true"}, (True, False, ANY_KEY)),
    ({"VerifyChecksums": "false"}, (False, False, None)),
    # HeadObject alone, which shows the lock with s3:GetObjectRetention only.
    ({"ObjectLockMinDays": "30"}, (True, True, None)),
    ({"ObjectLockMinDays": "30", "ObjectLockCompliance": "true"}, (True, True, None)),
    # HeadObject alone, without ChecksumMode: no decryption.
    ({"RequireEncryption": "true"}, (True, False, None)),
    ({"RequireEncryption": "false"}, (False, False, None)),
    ({"RequireKmsKey": KMS_KEY_ARN}, (True, False, None)),
    # Reading the content of dumps that must be encrypted with one key: that key only.
    ({"RequireKmsKey": KMS_KEY_ARN, "DumpFormat": "gzip"}, (True, False, KMS_KEY_ARN)),
    ({"RequireKmsKey": KMS_KEY_ARN, "VerifyChecksums": "true"}, (True, False, KMS_KEY_ARN)),
    # Tags may ask for any inspection: everything they might need.
    ({"InspectionByTags": "true"}, (True, True, ANY_KEY)),
    # No backups bucket of this account: nothing of it to read.
    ({"S3Bucket": "", "Checks": "rds", "DumpFormat": "zstd"}, (False, False, None)),
]


@pytest.mark.parametrize("mode", ["single-lambda", "step-functions"])
@pytest.mark.parametrize(
    ("parameters", "granted"),
    INSPECTIONS,
    ids=[",".join(f"{k}={v}" for k, v in p.items()) or "none" for p, _ in INSPECTIONS],
)
def test_each_inspection_grants_only_what_it_reads(
    template: dict[str, Any],
    mode: str,
    parameters: dict[str, str],
    granted: tuple[bool, bool, str | None],
) -> None:
    """The function that checks scopes may read the backups' objects only when an inspection
    asks for it; their lock only when it is checked; and decrypt them only when their content
    (or checksum) is read, with the required key when there is one. The other functions never."""
    stack = Stack(template, **{"S3Bucket": BACKUPS_BUCKET, "Mode": mode, **parameters})
    assert stack.broken_rules() == []
    checker = "ScanFunction" if mode == "step-functions" else FUNCTION
    objects = f"arn:aws:s3:::{BACKUPS_BUCKET}/*"
    for name in FUNCTIONS:
        if not stack.exists(name):
            continue
        statements = _policy_statements(stack, name)
        pairs = {(a, s["Resource"]) for s in statements for a in _as_list(s["Action"])}
        keys = [s["Resource"] for s in statements if _through_s3(s)]
        get, retention, key = granted if name == checker else (False, False, None)
        assert (("s3:GetObject", objects) in pairs) == get, name
        assert any(a == "s3:GetObjectRetention" for a, _ in pairs) == retention, name
        assert (("s3:GetObjectRetention", objects) in pairs) == retention, name
        assert keys == ([key] if key else []), name
    assert dump_key_problems(stack) == []


# --- AWS Backup and copies: what each check may list ----------------------------------------

LIST_VAULTS = "backup:ListBackupVaults"
BY_VAULT = "backup:ListRecoveryPointsByBackupVault"
BY_RESOURCE = "backup:ListRecoveryPointsByResource"
JOBS = "backup:ListBackupJobs"
REPLICATED = "rds:DescribeDBInstanceAutomatedBackups"
VAULTS = {LIST_VAULTS, BY_VAULT}
"""The vaults' listing: what both checks read (copies with it alone)."""
THIS_ACCOUNTS_VAULTS = f"arn:aws:backup:*:{ACCOUNT}:backup-vault:*"
EVERY_CONTROL = {
    "MinRetentionDays": "35",
    "RequireEncryptedBackups": "true",
    "BackupKmsKey": KMS_KEY_ARN,
    "DailyBackupDays": "7",
}

COPY_ACCOUNTS = {"CopyAccounts": COPY_ACCOUNT, "CopyRoleName": COPY_ROLE}

# parameters -> the AWS Backup and replication actions of the function that checks scopes
AWS_BACKUP_GRANTS: list[tuple[dict[str, str], set[str]]] = [
    ({}, set()),
    ({"Checks": "rds,s3"}, set()),
    ({"Checks": "rds"}, set()),
    # The backup check: the recovery points (either listing, chosen by cost) and the jobs.
    ({"Checks": "backup"}, VAULTS | {BY_RESOURCE, JOBS}),
    ({"Checks": "rds,s3,backup"}, VAULTS | {BY_RESOURCE, JOBS}),
    ({"Checks": "rds,backup", "RdsBackupRule": "either"}, VAULTS | {BY_RESOURCE, JOBS}),
    # The copy check: the copy regions' vaults (the vaults' listing only, never a resource's
    # recovery points) and RDS's replicated automated backups; no jobs.
    ({"CopyRegions": "eu-central-1"}, VAULTS | {REPLICATED}),
    # Tags may ask for copies too (backupwatch:copy-regions): the same, for them.
    ({"CopiesByTags": "true"}, VAULTS | {REPLICATED}),
    ({"CopiesByTags": "false"}, set()),
    (
        {"Checks": "s3,backup", "CopyRegions": "eu-central-1,us-west-2"},
        VAULTS | {BY_RESOURCE, JOBS, REPLICATED},
    ),
    # Copy accounts are listed by their own role (AssumeCopyRoles): nothing here.
    ({**COPY_ACCOUNTS}, set()),
    ({**COPY_ACCOUNTS, "CopyRegions": "eu-central-1"}, VAULTS | {REPLICATED}),
    # The policy controls judge what the checks read: nothing more, the key included.
    ({**EVERY_CONTROL}, set()),
    ({**EVERY_CONTROL, "RdsBackupRule": "both"}, set()),
]
EXTRA_ACTIONS = VAULTS | {BY_RESOURCE, JOBS, REPLICATED}


@pytest.mark.parametrize("mode", ["single-lambda", "step-functions"])
@pytest.mark.parametrize(
    ("parameters", "granted"),
    AWS_BACKUP_GRANTS,
    ids=[",".join(f"{k}={v}" for k, v in p.items()) or "none" for p, _ in AWS_BACKUP_GRANTS],
)
def test_the_backup_and_copy_checks_grant_only_what_they_list(
    template: dict[str, Any], mode: str, parameters: dict[str, str], granted: set[str]
) -> None:
    """The function that checks scopes may list AWS Backup only with the backup or copy check,
    its jobs only with the backup check, RDS's replicated backups only with the copy check;
    the vaults' recovery points of this account's vaults only. The other functions never. The
    snapshots AWS Backup took (the backup check's second source) are always readable."""
    stack = Stack(template, **{**BUCKET_PARAMETERS, "Mode": mode, **parameters})
    assert stack.broken_rules() == []
    checker = "ScanFunction" if mode == "step-functions" else FUNCTION
    for name in FUNCTIONS:
        if not stack.exists(name):
            continue
        statements = _policy_statements(stack, name)
        pairs = {(a, s["Resource"]) for s in statements for a in _as_list(s["Action"])}
        actions = {a for a, _ in pairs}
        assert actions & EXTRA_ACTIONS == (granted if name == checker else set()), name
        for action, resource in pairs:
            if action in EXTRA_ACTIONS:
                assert resource == (THIS_ACCOUNTS_VAULTS if action == BY_VAULT else "*"), action
        if name == checker:
            assert {"rds:DescribeDBSnapshots", "rds:DescribeDBClusterSnapshots"} <= actions
            sids = {s["Sid"] for s in statements}
            assert bool(sids & set(AWS_BACKUP_SIDS)) == bool(granted)


def test_the_template_lints_with_every_check_and_inspection_on() -> None:
    """cfn-lint passes with the backup and copy statements in (copy accounts too) and the
    inspection statements in (the key named, by tags too), in both modes: one lint per mode,
    every conditional statement of both kinds included (cfn-lint takes seconds a run)."""
    from cfnlint.api import lint

    text = TEMPLATE.read_text(encoding="utf-8")
    for old, new in [
        (
            '  RequireKmsKey:\n    Type: String\n    Default: ""\n',
            f"  RequireKmsKey:\n    Type: String\n    Default: {KMS_KEY_ARN}\n",
        ),
        (
            '  InspectionByTags:\n    Type: String\n    Default: "false"\n',
            '  InspectionByTags:\n    Type: String\n    Default: "true"\n',
        ),
    ]:
        assert old in text, old
        text = text.replace(old, new, 1)
    for name, value in (
        ("Checks", '"rds,s3,backup"'),
        ("CopyRegions", "eu-central-1"),
        ("CopyAccounts", f'"{COPY_ACCOUNT},{OTHER_COPY_ACCOUNT}"'),
        ("CopyRoleName", COPY_ROLE),
    ):
        old = f'  {name}:\n    Type: String\n    Default: ""\n'
        assert old in text, old
        text = text.replace(old, f"  {name}:\n    Type: String\n    Default: {value}\n", 1)
    for mode in ("single-lambda", "step-functions"):
        flipped = text.replace("    Default: single-lambda\n", f"    Default: {mode}\n", 1)
        matches = lint(flipped)
        assert not matches, "\n".join(str(m) for m in matches)


def test_the_default_stack_in_plain_words(template: dict[str, Any]) -> None:
    """What the checks above accept, spelled out for the default deployment."""
    stack = Stack(template, S3Bucket="acme-corp-db-backups")
    assert stack.properties(TOPIC)["KmsMasterKeyId"] == KEY_ARN
    assert stack.properties("DigestTopicKey")["EnableKeyRotation"] is True
    statements = {
        s["Sid"]: s for s in stack.properties("DigestTopicPolicy")["PolicyDocument"]["Statement"]
    }
    assert statements["FunctionPublishesTheDigest"]["Principal"] == {
        "AWS": "DigestFunctionRole.Arn"
    }
    assert statements["AlarmsPublish"]["Principal"] == {"Service": CLOUDWATCH}
    assert statements["TlsOnly"] == {
        "Sid": "TlsOnly",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sns:*",
        "Resource": TOPIC,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    # The key is deleted with the stack (after KMS's waiting period): nothing else uses it.
    assert "DeletionPolicy" not in template["Resources"]["DigestTopicKey"]


def _statements_of(template: dict[str, Any], *path: str | int) -> list[Any]:
    found: Any = template["Resources"]
    for part in path:
        found = found[part]
    statements: list[Any] = found
    return statements


def _topic_statements(template: dict[str, Any]) -> list[Any]:
    return _statements_of(
        template, "DigestTopicPolicy", "Properties", "PolicyDocument", "Statement"
    )


def _key_statements(template: dict[str, Any]) -> list[Any]:
    return _statements_of(template, "DigestTopicKey", "Properties", "KeyPolicy", "Statement")


def _function_statements(template: dict[str, Any], function: str) -> list[Any]:
    return _statements_of(template, function, "Properties", "Policies", 0, "Statement")


def _find(statements: list[Any], sid: str) -> dict[str, Any]:
    """The statement ``sid`` of a template's policy, inside its Fn::If if it has one."""
    for item in statements:
        for candidate in (item, *item.get("Fn::If", [])[1:]):
            if isinstance(candidate, dict) and candidate.get("Sid") == sid:
                return candidate
    raise KeyError(sid)


def _drop(statements: list[Any], sid: str) -> None:
    target = _find(statements, sid)
    statements[:] = [
        item for item in statements if item is not target and target not in item.get("Fn::If", [])
    ]


def _no_tls_deny(t: dict[str, Any]) -> None:
    _drop(_topic_statements(t), "TlsOnly")


def _tls_deny_on_publish_only(t: dict[str, Any]) -> None:
    _find(_topic_statements(t), "TlsOnly")["Action"] = "sns:Publish"


def _no_deny_for_others(t: dict[str, Any]) -> None:
    _drop(_topic_statements(t), "NobodyElsePublishes")


def _anyone_publishes(t: dict[str, Any]) -> None:
    _find(_topic_statements(t), "FunctionPublishesTheDigest")["Principal"] = {"AWS": "*"}


def _cloudwatch_for_any_account(t: dict[str, Any]) -> None:
    del _find(_topic_statements(t), "AlarmsPublish")["Condition"]


def _alarms_cannot_publish(t: dict[str, Any]) -> None:
    _drop(_topic_statements(t), "AlarmsPublish")


def _key_policy_without_cloudwatch(t: dict[str, Any]) -> None:
    _drop(_key_statements(t), "AlarmsPublishToTheEncryptedTopic")


def _key_for_cloudwatch_of_any_account(t: dict[str, Any]) -> None:
    del _find(_key_statements(t), "AlarmsPublishToTheEncryptedTopic")["Condition"]


def _key_for_everyone(t: dict[str, Any]) -> None:
    _find(_key_statements(t), "AlarmsPublishToTheEncryptedTopic")["Principal"] = "*"


def _no_rotation(t: dict[str, Any]) -> None:
    del t["Resources"]["DigestTopicKey"]["Properties"]["EnableKeyRotation"]


def _unencrypted_topic(t: dict[str, Any]) -> None:
    del t["Resources"][TOPIC]["Properties"]["KmsMasterKeyId"]


def _key_grant_to_the_scan_function(t: dict[str, Any]) -> None:
    grant = _find(_function_statements(t, "PublishFunction"), "PublishToTheEncryptedTopic")
    _function_statements(t, "ScanFunction").append(copy.deepcopy(grant))


def _key_grant_on_every_key(t: dict[str, Any]) -> None:
    _find(_function_statements(t, FUNCTION), "PublishToTheEncryptedTopic")["Resource"] = "*"


def _no_key_grant(t: dict[str, Any]) -> None:
    _drop(_function_statements(t, FUNCTION), "PublishToTheEncryptedTopic")


def _assume_role_without_the_organization(t: dict[str, Any]) -> None:
    del _find(_function_statements(t, FUNCTION), "AssumeMemberRoles")["Condition"]


def _copy_roles_in_any_account(t: dict[str, Any]) -> None:
    del _find(_function_statements(t, FUNCTION), "AssumeCopyRoles")["Condition"]


def _copy_roles_in_the_organization(t: dict[str, Any]) -> None:
    statement = _find(_function_statements(t, "ScanFunction"), "AssumeCopyRoles")
    statement["Condition"] = {"StringEquals": {"aws:ResourceOrgID": {"Ref": "OrganizationId"}}}


def _copy_roles_without_copy_accounts(t: dict[str, Any]) -> None:
    for item in _function_statements(t, FUNCTION):
        if item.get("Fn::If", [None, {}])[1].get("Sid") == "AssumeCopyRoles":
            item["Fn::If"][0] = "ReadsRecoveryPoints"


def _dump_key_on_every_key(t: dict[str, Any]) -> None:
    _find(_function_statements(t, FUNCTION), "DecryptTheDumps")["Resource"] = "*"


def _dump_key_for_any_bucket(t: dict[str, Any]) -> None:
    grant = _find(_function_statements(t, FUNCTION), "DecryptTheDumps")
    del grant["Condition"]["StringLike"]["kms:EncryptionContext:aws:s3:arn"]


def _dump_key_to_the_publish_function(t: dict[str, Any]) -> None:
    grant = _find(_function_statements(t, "ScanFunction"), "DecryptTheDumps")
    _function_statements(t, "PublishFunction").append(copy.deepcopy(grant))


def _dump_key_when_only_the_head_is_read(t: dict[str, Any]) -> None:
    for item in _function_statements(t, FUNCTION):
        if item.get("Fn::If", [None, {}])[1].get("Sid") == "DecryptTheDumps":
            item["Fn::If"][0] = "InspectsDumps"


def _organization_id_not_required(t: dict[str, Any]) -> None:
    del t["Rules"]["OrganizationModeNamesTheOrganization"]


ORG_MODE = {"OrganizationRoleName": "backupwatch-reader", "OrganizationId": ORGANIZATION}
READS_DUMPS = {"DumpFormat": "pg_custom"}
Check = Callable[[Stack], list[str]]


CARELESS: list[tuple[Callable[[dict[str, Any]], None], dict[str, str], Check, str]] = [
    (_no_tls_deny, {}, topic_policy_problems, "without TLS"),
    (_tls_deny_on_publish_only, {}, topic_policy_problems, "without TLS"),
    (_no_deny_for_others, {}, topic_policy_problems, "could forge a digest"),
    (_anyone_publishes, {}, topic_policy_problems, "lets anyone publish"),
    (_cloudwatch_for_any_account, {}, topic_policy_problems, "aws:SourceAccount"),
    (_alarms_cannot_publish, {}, topic_policy_problems, "CloudWatch may not publish"),
    (_key_policy_without_cloudwatch, {}, key_policy_problems, "every alarm notification"),
    (_key_for_cloudwatch_of_any_account, {}, key_policy_problems, "aws:SourceAccount"),
    (_key_for_everyone, {}, key_policy_problems, "the key policy names '*'"),
    (_no_rotation, {}, key_policy_problems, "rotation is off"),
    (_unencrypted_topic, {}, key_policy_problems, "not encrypted"),
    (_key_grant_to_the_scan_function, STEP_FUNCTIONS, key_grant_problems, "ScanFunction"),
    (_key_grant_on_every_key, {}, key_grant_problems, "on '*'"),
    (_no_key_grant, {}, key_grant_problems, "needs one grant"),
    (_assume_role_without_the_organization, ORG_MODE, assume_role_problems, "outside"),
    (_copy_roles_in_any_account, COPY_ACCOUNTS, assume_role_problems, f"outside {COPY_ACCOUNT}"),
    (
        _copy_roles_in_the_organization,
        {**STEP_FUNCTIONS, **ORG_MODE_WITH_COPIES},
        assume_role_problems,
        f"outside {COPY_ACCOUNT}",
    ),
    (
        _copy_roles_without_copy_accounts,
        {"Checks": "rds,s3,backup", "CopyRoleName": COPY_ROLE},
        assume_role_problems,
        "without CopyAccounts",
    ),
    (_dump_key_on_every_key, READS_DUMPS, dump_key_problems, "may decrypt with '*'"),
    (_dump_key_for_any_bucket, READS_DUMPS, dump_key_problems, "other buckets"),
    (
        _dump_key_to_the_publish_function,
        {**STEP_FUNCTIONS, **READS_DUMPS},
        dump_key_problems,
        "PublishFunction does not read",
    ),
    (
        _dump_key_when_only_the_head_is_read,
        {"RequireEncryption": "true"},
        dump_key_problems,
        "does not read the backups' content",
    ),
    (
        _organization_id_not_required,
        {"OrganizationRoleName": "backupwatch-reader"},
        assume_role_problems,
        "without OrganizationId",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "parameters", "check", "expected"),
    CARELESS,
    ids=[mutate.__name__.strip("_") for mutate, *_ in CARELESS],
)
def test_careless_variants_are_caught(
    template: dict[str, Any],
    mutate: Callable[[dict[str, Any]], None],
    parameters: dict[str, str],
    check: Check,
    expected: str,
) -> None:
    """Each check above fails on a template that got its rule wrong, and says what is wrong;
    the template itself passes the same check with the same parameters."""
    careless = copy.deepcopy(template)
    mutate(careless)
    stack = Stack(careless, S3Bucket="acme-corp-db-backups", **parameters)
    problems = check(stack)
    assert any(expected in problem for problem in problems), problems
    if mutate is not _organization_id_not_required:  # the template refuses these parameters
        assert check(Stack(template, S3Bucket="acme-corp-db-backups", **parameters)) == []


def test_organization_mode_requires_the_organization_id(template: dict[str, Any]) -> None:
    """OrganizationRoleName without OrganizationId is refused at deploy time; with it, the
    functions may assume roles in the organization only. OrganizationId alone is optional."""
    rule = template["Rules"]["OrganizationModeNamesTheOrganization"]
    assert rule["RuleCondition"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "OrganizationRoleName"}, ""]}]
    }
    for mode in ("single-lambda", "step-functions"):
        alone = Stack(template, S3Bucket="b-c-d", Mode=mode, OrganizationRoleName="r")
        assert alone.broken_rules() == ["OrganizationModeNamesTheOrganization"]
        named = Stack(
            template,
            S3Bucket="b-c-d",
            Mode=mode,
            OrganizationRoleName="r",
            OrganizationId=ORGANIZATION,
        )
        assert named.broken_rules() == []
        assert assume_role_problems(named) == []
    assert template["Parameters"]["OrganizationId"]["Default"] == ""
    assert Stack(template, S3Bucket="b-c-d").broken_rules() == []


def test_organization_id_is_not_a_setting(template: dict[str, Any]) -> None:
    """Like MemberRoleName, it shapes the IAM policy only: no function reads it."""
    for name in FUNCTIONS:
        variables = function_properties(template, name)["Environment"]["Variables"]
        assert {"Ref": "OrganizationId"} not in variables.values()


# --- the state machine ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def machine(template: dict[str, Any]) -> dict[str, Any]:
    resource = template["Resources"][STATE_MACHINE]
    assert resource["Type"] == "AWS::StepFunctions::StateMachine"  # cfn-lint checks its ASL
    assert resource["Condition"] == "StepFunctionsMode"
    properties: dict[str, Any] = resource["Properties"]
    return properties


@pytest.fixture(scope="module")
def states(machine: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = machine["Definition"]["States"]
    return found


def test_plan_then_scan_then_publish(machine: dict[str, Any], states: dict[str, Any]) -> None:
    """Start -> Plan -> Scan -> Publish, which ends the run; a failed Plan or Scan still
    reaches Publish (the digest names the failure); the run has a time limit."""
    definition = machine["Definition"]
    assert machine["StateMachineType"] == "STANDARD"
    assert definition["StartAt"] == "Start"
    assert 0 < definition["TimeoutSeconds"] <= 24 * 3600
    assert states["Start"]["Next"] == "Plan"
    assert states["Plan"]["Next"] == "Scan"
    assert states["Scan"]["Next"] == "Publish"
    assert states["Publish"]["End"] is True
    [plan_catch] = states["Plan"]["Catch"]
    assert plan_catch["ErrorEquals"] == ["States.ALL"]
    assert states[plan_catch["Next"]]["Next"] == "Publish"
    [scan_catch] = states["Scan"]["Catch"]
    assert (scan_catch["ErrorEquals"], scan_catch["Next"]) == (["States.ALL"], "Publish")
    assert scan_catch["ResultPath"] == states["Scan"]["ResultPath"] == "$.scan"


def test_the_tasks_invoke_the_three_functions(
    machine: dict[str, Any], states: dict[str, Any]
) -> None:
    """Each task calls Lambda's optimised integration on its function."""
    substitutions = machine["DefinitionSubstitutions"]
    assert substitutions["LambdaInvoke"] == {
        "Fn::Sub": "arn:${AWS::Partition}:states:::lambda:invoke"
    }
    scan_scope = states["Scan"]["ItemProcessor"]["States"]["ScanScope"]
    for task, function in [
        (states["Plan"], "PlanFunction"),
        (scan_scope, "ScanFunction"),
        (states["Publish"], "PublishFunction"),
    ]:
        assert task["Type"] == "Task"
        assert task["Resource"] == "${LambdaInvoke}"
        name = task["Parameters"]["FunctionName"].strip("${}")
        assert substitutions[name] == {"Fn::GetAtt": [function, "Arn"]}


def test_scan_is_a_distributed_map_reading_the_plans_scope_list(
    machine: dict[str, Any], states: dict[str, Any]
) -> None:
    """Distributed mode, standard children, items from the scope list the plan wrote."""
    scan = states["Scan"]
    assert scan["Type"] == "Map"
    config = scan["ItemProcessor"]["ProcessorConfig"]
    assert config == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    reader = scan["ItemReader"]
    assert reader["Resource"] == "${S3GetObject}"
    assert machine["DefinitionSubstitutions"]["S3GetObject"] == {
        "Fn::Sub": "arn:${AWS::Partition}:states:::s3:getObject"
    }
    assert reader["ReaderConfig"] == {"InputType": "JSON"}
    assert reader["Parameters"] == {"Bucket.$": "$.plan.bucket", "Key.$": "$.plan.scopes_key"}
    assert scan["ItemSelector"]["scope.$"] == "$$.Map.Item.Value"
    assert scan["ToleratedFailurePercentage"] == 100


def test_scan_results_go_to_the_report_bucket(
    machine: dict[str, Any], states: dict[str, Any]
) -> None:
    """The ResultWriter writes under <prefix>runs in the report bucket; the Map's output
    (the manifest's location) goes to the publish step as ``scan``."""
    writer = states["Scan"]["ResultWriter"]
    assert writer["Resource"] == "${S3PutObject}"
    assert machine["DefinitionSubstitutions"]["S3PutObject"] == {
        "Fn::Sub": "arn:${AWS::Partition}:states:::s3:putObject"
    }
    assert writer["Parameters"] == {"Bucket": "${ReportBucket}", "Prefix": "${ReportPrefix}runs"}
    substitutions = machine["DefinitionSubstitutions"]
    assert substitutions["ReportBucket"] == REPORT_BUCKET_VALUE["Fn::If"][1]
    assert substitutions["ReportPrefix"] == {"Ref": "ReportPrefix"}


def test_max_concurrency_comes_from_the_parameter(
    machine: dict[str, Any], states: dict[str, Any]
) -> None:
    """MapMaxConcurrency bounds the children at once, through the run's options (an
    execution may lower it); default 40."""
    assert states["Scan"]["MaxConcurrencyPath"] == "$.options.max_concurrency"
    assert "${MapMaxConcurrency}" in states["Start"]["Parameters"]["options.$"]
    assert machine["DefinitionSubstitutions"]["MapMaxConcurrency"] == {"Ref": "MapMaxConcurrency"}


def _retry_is_bounded_with_full_jitter(retry: Mapping[str, Any]) -> None:
    assert retry["JitterStrategy"] == "FULL"
    assert retry["BackoffRate"] > 1
    assert 1 <= retry["MaxAttempts"] <= 10
    assert 0 < retry["IntervalSeconds"] <= retry["MaxDelaySeconds"] <= 300


def test_children_retry_lambda_throttles_with_jitter_then_catch(states: dict[str, Any]) -> None:
    """A throttled or failed invocation is retried (backoff, full jitter, bounded); anything
    else is caught into ``error`` by a Pass state that ends the item, so the item succeeds
    and the digest reports the scope as not checked."""
    processor = states["Scan"]["ItemProcessor"]
    assert processor["StartAt"] == "ScanScope"
    task = processor["States"]["ScanScope"]
    assert task["Parameters"]["Payload.$"] == "$"
    assert task["OutputPath"] == "$.Payload"
    [retry] = task["Retry"]
    assert set(retry["ErrorEquals"]) == LAMBDA_TRANSIENT
    _retry_is_bounded_with_full_jitter(retry)
    [catch] = task["Catch"]
    assert (catch["ErrorEquals"], catch["ResultPath"]) == (["States.ALL"], "$.error")
    caught = processor["States"][catch["Next"]]
    assert (caught["Type"], caught["End"]) == ("Pass", True)
    assert task["End"] is True
    assert task["TimeoutSeconds"] > 900  # the function's own timeout ends it first


def test_plan_retries_transient_errors_publish_only_refused_invocations(
    states: dict[str, Any],
) -> None:
    """Planning twice is harmless; publishing twice is not: Publish is retried only when
    Lambda refused the invocation (the function never ran)."""
    [plan_retry] = states["Plan"]["Retry"]
    assert set(plan_retry["ErrorEquals"]) == LAMBDA_TRANSIENT
    _retry_is_bounded_with_full_jitter(plan_retry)
    [publish_retry] = states["Publish"]["Retry"]
    assert publish_retry["ErrorEquals"] == ["Lambda.TooManyRequestsException"]
    _retry_is_bounded_with_full_jitter(publish_retry)
    assert "Catch" not in states["Publish"]  # a failed publish fails the run, and alarms


def test_plan_result_is_the_plan_the_publish_step_reads(states: dict[str, Any]) -> None:
    """The plan step's ResultSelector keeps every field of ``backupwatch.core.fanout.Plan``."""
    selector = states["Plan"]["ResultSelector"]
    assert {key.removesuffix(".$") for key in selector} == set(Plan.model_fields)
    for key, path in selector.items():
        assert path == f"$.Payload.{key.removesuffix('.$')}"


# A small interpreter for the parts of the ASL the state machine uses (JSONPath mode): enough
# to run the definition's data flow with fake task results, and hand what each step gives the
# next to the code that reads it.


def _path(document: Any, path: str, context: Mapping[str, Any]) -> Any:
    """``$``, ``$.a.b`` in the document, ``$$.a.b`` in the context object."""
    value, rest = (context, path[3:]) if path.startswith("$$.") else (document, path[2:])
    for part in [p for p in rest.split(".") if p]:
        value = value[part]
    return value


def _intrinsic(expression: str, document: Any, context: Mapping[str, Any]) -> Any:
    expression = expression.strip()
    if expression.startswith("'"):
        literal = expression[1:-1]
        return re.sub(r"\\(.)", r"\1", literal)
    if expression.startswith("$"):
        return _path(document, expression, context)
    if expression in {"true", "false"}:
        return expression == "true"
    name, _, args = expression.partition("(")
    parts, depth, quoted, current = [], 0, False, ""
    escaped = False
    for char in args[:-1]:
        if escaped:
            current, escaped = current + char, False
            continue
        if char == "\\":
            current, escaped = current + char, True
            continue
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        if char == "," and depth == 0 and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    values = [_intrinsic(part, document, context) for part in parts]
    if name == "States.StringToJson":
        return json.loads(values[0])
    if name == "States.JsonMerge":
        assert values[2] is False, "JsonMerge is shallow only"
        return {**values[0], **values[1]}
    raise AssertionError(f"intrinsic {name} not modelled")


def _template(value: Any, document: Any, context: Mapping[str, Any]) -> Any:
    """A Parameters/ResultSelector/ItemSelector template applied to ``document``."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key.endswith(".$"):
                out[key[:-2]] = _intrinsic(item, document, context)
            else:
                out[key] = _template(item, document, context)
        return out
    if isinstance(value, list):
        return [_template(item, document, context) for item in value]
    return value


def _put(document: Any, path: str, value: Any) -> Any:
    if path == "$":
        return value
    out = dict(document)
    parts = path[2:].split(".")
    target = out
    for part in parts[:-1]:
        target[part] = dict(target.get(part, {}))
        target = target[part]
    target[parts[-1]] = value
    return out


def _finish(state: Mapping[str, Any], document: Any, result: Any, context: Any) -> Any:
    if "ResultSelector" in state:
        result = _template(state["ResultSelector"], result, context)
    document = _put(document, state.get("ResultPath", "$"), result)
    if "OutputPath" in state:
        document = _path(document, state["OutputPath"], context)
    return document


def _substituted(machine: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, Any]:
    """The definition as CloudFormation hands it to Step Functions: ``${Name}`` replaced as
    plain text in its JSON (so a number arrives inside a string)."""
    text = json.dumps(machine["Definition"])
    assert set(machine["DefinitionSubstitutions"]) == set(values)
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    definition: dict[str, Any] = json.loads(text)
    return definition


SUBSTITUTIONS = {
    "LambdaInvoke": "arn:aws:states:::lambda:invoke",
    "S3GetObject": "arn:aws:states:::s3:getObject",
    "S3PutObject": "arn:aws:states:::s3:putObject",
    "PlanFunctionArn": "arn:aws:lambda:eu-west-1:123456789012:function:plan",
    "ScanFunctionArn": "arn:aws:lambda:eu-west-1:123456789012:function:scan",
    "PublishFunctionArn": "arn:aws:lambda:eu-west-1:123456789012:function:publish",
    "ReportBucket": "acme-corp-backupwatch-reports",
    "ReportPrefix": "backupwatch/",
    "MapMaxConcurrency": "40",
}
PLAN = {
    "run_id": "run-1",
    "started_at": "2026-11-27T07:00:00Z",
    "bucket": "acme-corp-backupwatch-reports",
    "scopes_key": "backupwatch/runs/run-1/scopes.json",
    "scope_count": 2,
    "errors": [],
}
SCOPE = {"region": "eu-west-1", "account_id": "111122223333", "role_arn": None}
MAP_OUTPUT = {
    "MapRunArn": "arn:aws:states:eu-west-1:123456789012:mapRun:m/Scan:1",
    "ResultWriterDetails": {
        "Bucket": "acme-corp-backupwatch-reports",
        "Key": "backupwatch/runs/1/manifest.json",
    },
}
FAILURE = {"Error": "Lambda.Unknown", "Cause": "The function timed out."}


def _run(
    machine: Mapping[str, Any],
    execution_input: Any,
    *,
    plan: Any = None,
    scan: Any = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the top level with fake results (an exception's ``{"Error", "Cause"}`` when
    ``plan`` or ``scan`` is FAILURE); return the Publish payload and the Map's input."""
    definition = _substituted(machine, SUBSTITUTIONS)
    context = {"Execution": {"Name": "run-1", "Input": execution_input}}
    states = definition["States"]
    document, name, map_input = execution_input, definition["StartAt"], {}
    while True:
        state = states[name]
        if state["Type"] == "Pass":
            result = _template(state.get("Parameters", {}), document, context)
            document = _put(document, state.get("ResultPath", "$"), result)
        elif name == "Plan":
            _template(state["Parameters"], document, context)  # every path must resolve
            if plan is FAILURE:
                document = _put(document, state["Catch"][0]["ResultPath"], FAILURE)
                name = state["Catch"][0]["Next"]
                continue
            document = _finish(state, document, {"Payload": plan, "StatusCode": 200}, context)
        elif name == "Scan":
            map_input = document
            if scan is FAILURE:
                document = _put(document, state["Catch"][0]["ResultPath"], FAILURE)
                name = state["Catch"][0]["Next"]
                continue
            document = _finish(state, document, scan, context)
        elif name == "Publish":
            return _template(state["Parameters"], document, context)["Payload"], map_input
        name = state["Next"]


def test_the_data_flow_gives_each_step_what_its_handler_reads(machine: dict[str, Any]) -> None:
    """Scheduled ({}), the publish step gets {plan, scan, dry_run: false}, which
    backupwatch.core.fanout reads as a plan and the ResultWriter's manifest; the Map reads the
    plan's bucket and key, and at most MapMaxConcurrency children run at once."""
    payload, map_input = _run(machine, {}, plan=PLAN, scan=MAP_OUTPUT)
    assert payload == {"plan": PLAN, "scan": MAP_OUTPUT, "dry_run": False}
    request = read_publish_event(payload)
    assert (request.problems, request.scan_problems) == ((), ())
    assert request.plan is not None
    assert request.plan.scopes_key == PLAN["scopes_key"]
    assert request.manifest is not None
    assert request.manifest.key == MAP_OUTPUT["ResultWriterDetails"]["Key"]
    states = _substituted(machine, SUBSTITUTIONS)["States"]
    scan = states["Scan"]
    assert _path(map_input, scan["MaxConcurrencyPath"], {}) == 40  # a number, not "40"
    reader = _template(scan["ItemReader"]["Parameters"], map_input, {})
    assert reader == {"Bucket": PLAN["bucket"], "Key": PLAN["scopes_key"]}


def test_an_execution_can_ask_for_a_dry_run_and_less_concurrency(
    machine: dict[str, Any],
) -> None:
    """start-execution --input '{"dry_run": true, "max_concurrency": 5}': a test run that
    publishes nothing (the publish handler reads ``dry_run``), five children at a time."""
    payload, map_input = _run(
        machine, {"dry_run": True, "max_concurrency": 5}, plan=PLAN, scan=MAP_OUTPUT
    )
    assert payload["dry_run"] is True
    assert _path(map_input, "$.options.max_concurrency", {}) == 5


def test_each_child_gets_a_scan_request(machine: dict[str, Any]) -> None:
    """The ItemSelector builds what handlers.scan_scope reads: the scope, the run id and
    the bucket; a caught failure keeps the scope, so the digest can name it."""
    _, map_input = _run(machine, {}, plan=PLAN, scan=MAP_OUTPUT)
    scan = _substituted(machine, SUBSTITUTIONS)["States"]["Scan"]
    context = {"Map": {"Item": {"Value": SCOPE, "Index": 0}}}
    item = _template(scan["ItemSelector"], map_input, context)
    request = ScanRequest.model_validate(item)
    assert request.scope == Scope.model_validate(SCOPE)
    assert (request.run_id, request.bucket) == (PLAN["run_id"], PLAN["bucket"])
    task = scan["ItemProcessor"]["States"]["ScanScope"]
    caught = _put(item, task["Catch"][0]["ResultPath"], FAILURE)
    received = read_output(caught)
    assert received.scope == request.scope
    assert received.failure is not None
    assert "Lambda.Unknown" in received.failure


@pytest.mark.parametrize("failed", ["plan", "scan"])
def test_a_failed_step_still_reaches_the_digest(machine: dict[str, Any], failed: str) -> None:
    """A plan or scan that failed for good is caught, and the publish step reads the
    failure as a problem the digest reports, not as a crash."""
    if failed == "plan":
        payload, _ = _run(machine, {}, plan=FAILURE)
    else:
        payload, _ = _run(machine, {}, plan=PLAN, scan=FAILURE)
    request = read_publish_event(payload)
    problems = " ".join((*request.problems, *request.scan_problems))
    assert f"the {failed} step failed: Lambda.Unknown" in problems


def test_every_handler_named_is_importable(template: dict[str, Any]) -> None:
    """Each function's Handler is a callable in the package SAM builds from the repository."""
    handlers = {
        name: function_properties(template, name)["Handler"]
        for name in resources_of_type(template, "AWS::Serverless::Function")
    }
    assert set(handlers) == set(FUNCTIONS)
    for name, handler in handlers.items():
        module, _, attribute = handler.rpartition(".")
        assert callable(getattr(importlib.import_module(module), attribute)), (name, handler)


# --- IAM of the state machine and its schedule ------------------------------------------------


def test_state_machine_role(template: dict[str, Any]) -> None:
    """Trusted by Step Functions for this account only; it may invoke the three functions,
    read the scope list and write the results under runs/; start, watch and stop its own
    children; nothing else."""
    stack = Stack(template, **STEP_FUNCTIONS)
    role = stack.properties("StateMachineRole")
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "states.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    [policy] = role["Policies"]
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert statements["InvokeTheSteps"]["Action"] == "lambda:InvokeFunction"
    assert statements["InvokeTheSteps"]["Resource"] == [
        "PlanFunction.Arn",
        "ScanFunction.Arn",
        "PublishFunction.Arn",
    ]
    assert set(statements["ReadScopesWriteResults"]["Action"]) == {
        "s3:GetObject",
        "s3:PutObject",
        "s3:ListMultipartUploadParts",
        "s3:AbortMultipartUpload",
    }
    assert set(statements) == {"InvokeTheSteps", "ReadScopesWriteResults"}
    children = stack.properties("StateMachineChildrenPolicy")
    assert children["RoleName"] == "StateMachineRole"
    start, watch = children["PolicyDocument"]["Statement"]
    assert (start["Action"], start["Resource"]) == ("states:StartExecution", STATE_MACHINE)
    assert set(watch["Action"]) == {"states:DescribeExecution", "states:StopExecution"}
    assert watch["Resource"] == (
        f"arn:aws:states:eu-west-1:123456789012:execution:{STATE_MACHINE}.Name/*"
    )
    assert stack.properties(STATE_MACHINE)["RoleArn"] == "StateMachineRole.Arn"


def test_schedule_role_only_starts_the_run(template: dict[str, Any]) -> None:
    """EventBridge Scheduler's role, for this account only, may start this state machine."""
    role = Stack(template, **STEP_FUNCTIONS).properties("RunScheduleRole")
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    [policy] = role["Policies"]
    [statement] = policy["PolicyDocument"]["Statement"]
    assert (statement["Action"], statement["Resource"]) == ("states:StartExecution", STATE_MACHINE)


def test_the_template_lints_with_the_state_machine_on() -> None:
    """cfn-lint (which validates the ASL definition) passes with Mode=step-functions as the
    default, the deployment the issue asks to lint, not only with the default stack."""
    from cfnlint.api import lint

    text = TEMPLATE.read_text(encoding="utf-8")
    flipped = text.replace("    Default: single-lambda\n", "    Default: step-functions\n", 1)
    assert flipped != text
    matches = lint(flipped)
    assert not matches, "\n".join(str(m) for m in matches)


def test_lint_checks_the_template() -> None:
    """``make lint`` (and so ``make test`` and CI) runs cfn-lint on the template."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    lint = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "$(BIN)/cfn-lint template.yaml" in lint


def test_requirements_match_pyproject() -> None:
    """``sam build`` installs requirements.txt: it must hold pyproject's runtime dependencies."""
    requirements = ROOT / "requirements.txt"
    if not requirements.exists():
        pytest.skip("requirements.txt is missing: sam build would package no dependencies")
    listed = {
        line.split("#", 1)[0].strip()
        for line in requirements.read_text(encoding="utf-8").splitlines()
        if line.split("#", 1)[0].strip()
    }
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared = {d.split("#", 1)[0].strip() for d in pyproject["project"]["dependencies"]}
    assert listed == declared


# --- the deployment docs' links ------------------------------------------------------------

MY_DOCS = {"deploy.md", "library.md", "iam.md", "scale.md", "configuration.md"}
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", re.sub(r"```.*?```", "", markdown, flags=re.DOTALL), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def _links() -> list[tuple[Path, str]]:
    """Relative links into the deployment docs, and every relative link out of them."""
    found = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in _LINK.findall(page.read_text(encoding="utf-8")):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            file_part = target.split("#", 1)[0]
            if page.name in MY_DOCS or Path(file_part).name in MY_DOCS | {"deployment.md"}:
                found.append((page, target))
    return found


@pytest.mark.parametrize(("page", "target"), _links(), ids=lambda value: str(value))
def test_deployment_docs_links_resolve(page: Path, target: str) -> None:
    """No link points at the retired deployment.md, or at a heading that does not exist."""
    file_part, _, anchor = target.partition("#")
    path = (page.parent / file_part).resolve() if file_part else page
    assert path.exists(), f"{page.name}: {target} does not exist"
    if anchor and path.suffix == ".md":
        assert anchor in _anchors(path.read_text(encoding="utf-8")), f"{page.name}: {target}"


def test_scale_doc_reports_the_benchmark() -> None:
    """docs/scale.md says how its per-scope figures were measured, so they can be redone."""
    text = (ROOT / "docs" / "scale.md").read_text(encoding="utf-8")
    assert "python -m benchmarks.scale" in text
    assert (ROOT / "benchmarks" / "scale.py").exists()


def test_report_bucket_keeps_every_version(template: dict[str, Any]) -> None:
    """The bucket the stack creates is versioned: a report is never silently overwritten."""
    bucket = Stack(template, ArchiveReports="true").properties("ReportsBucket")
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}


def test_the_functions_that_publish_take_the_publish_memory(template: dict[str, Any]) -> None:
    """The step that holds the fleet's report and a month of summaries can be given memory
    without editing the template (1,077 MiB at 100,000 tenants, docs/scale.md); the checks'
    functions keep the Globals' 512 MB."""
    parameter = template["Parameters"]["PublishMemorySize"]
    assert (parameter["Default"], parameter["MinValue"], parameter["MaxValue"]) == (512, 128, 10240)
    for name in ("DigestFunction", "PublishFunction"):
        assert function_properties(template, name)["MemorySize"] == {"Ref": "PublishMemorySize"}
    for name in ("PlanFunction", "ScanFunction"):
        assert "MemorySize" not in template["Resources"][name]["Properties"]
    assert template["Globals"]["Function"]["MemorySize"] == 512
