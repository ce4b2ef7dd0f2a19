"""template.yaml (AWS SAM): the schedule, retries, timeout, settings, topic and alarms.

The template is read with cfn-lint's own YAML loader, which understands the short forms
(``!Ref``, ``!Sub``, ``!If``) and turns them into their long forms (``{"Ref": ...}``). cfn-lint
itself runs in ``make lint``; these tests pin what the template must say, and that it agrees
with the code: the settings in ``backupwatch.config.ENVIRONMENT``, the library's defaults, and
the metric names ``handlers.metrics`` writes.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from annotated_types import Le
from cfnlint.decode import decode_str

from backupwatch import Settings, load_settings
from backupwatch.config import ENVIRONMENT
from handlers import metrics

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
FUNCTION = "DigestFunction"
TOPIC = "DigestTopic"
# Read by the handler, not by load_settings; see handlers/metrics.py.
HANDLER_VARIABLES = {metrics.NAMESPACE_VARIABLE: "MetricsNamespace"}
CLOUDWATCH_DAY, CLOUDWATCH_WEEK = 86_400, 604_800


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as plain JSON-like data, long forms for every intrinsic function."""
    template, problems = decode_str(path.read_text(encoding="utf-8"))
    assert not problems, [str(p) for p in problems]
    plain: dict[str, Any] = json.loads(json.dumps(template))
    return plain


def function_properties(template: Mapping[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = template["Resources"][FUNCTION]["Properties"]
    return properties


def resources_of_type(template: Mapping[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


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
    assert json.loads(schedule["Input"]) == {}  # not a dry run


def test_failed_runs_are_never_retried(function: dict[str, Any]) -> None:
    """Async retries at 0: a retried run would publish a second digest."""
    assert function["EventInvokeConfig"]["MaximumRetryAttempts"] == 0


def test_timeout_outlasts_any_publish_reserve(
    template: dict[str, Any], function: dict[str, Any]
) -> None:
    """900 s, the most Lambda allows; even the largest reserve leaves minutes for checking."""
    assert function["Timeout"] == 900
    [largest] = [
        m.le for m in Settings.model_fields["publish_reserve_seconds"].metadata if isinstance(m, Le)
    ]
    assert isinstance(largest, int | float)
    assert function["Timeout"] - largest >= 300
    variable = ENVIRONMENT["publish_reserve_seconds"][0]
    assert function["Environment"]["Variables"][variable] == {"Ref": "PublishReserveSeconds"}


def _parameter_name(field: str) -> str:
    """``max_age_hours`` -> ``MaxAgeHours``: one rule, so nobody has to guess a name."""
    return "".join(part.title() for part in field.split("_"))


def test_every_setting_is_a_parameter(template: dict[str, Any], function: dict[str, Any]) -> None:
    """Each setting in config.ENVIRONMENT reaches the function, under its preferred name."""
    variables = function["Environment"]["Variables"]
    for field, names in ENVIRONMENT.items():
        if field == "sns_topic_arn":
            assert variables[names[0]] == {"Ref": TOPIC}  # the stack's own topic
            continue
        parameter = _parameter_name(field)
        assert variables[names[0]] == {"Ref": parameter}, names[0]
        assert parameter in template["Parameters"], parameter
    expected = {names[0] for names in ENVIRONMENT.values()} | set(HANDLER_VARIABLES)
    assert set(variables) == expected


def _defaults(template: Mapping[str, Any]) -> dict[str, str]:
    """The environment the function gets when every parameter keeps its default."""
    parameters = template["Parameters"]
    return {
        names[0]: str(parameters[_parameter_name(field)]["Default"])
        for field, names in ENVIRONMENT.items()
        if field != "sns_topic_arn"
    }


def test_empty_defaults_are_the_librarys_defaults(template: dict[str, Any]) -> None:
    """An empty parameter is an unset variable: the settings equal the library's defaults."""
    required = {
        "BACKUPWATCH_SNS_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:t",
        "BACKUPWATCH_S3_BUCKET": "acme-corp-db-backups",
        "AWS_REGION": "eu-west-1",
    }
    defaults = {k: v for k, v in _defaults(template).items() if k != "BACKUPWATCH_S3_BUCKET"}
    assert set(defaults.values()) == {""}, "give a setting's default in the library, not here"
    assert load_settings({**defaults, **required}) == load_settings(required)


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
            load_settings({**base, names[0]: str(value)})


@pytest.mark.parametrize(
    ("parameter", "good", "bad"),
    [
        ("MaxAgeHours", ["24", "0.5", "168"], ["-1", "a day", "1e3"]),
        ("MinObjectBytes", ["0", "1048576"], ["1.5", "-1"]),
        ("S3Bucket", ["acme-corp-db-backups", "Legacy_Bucket"], ["s3://b", "b", "a/b"]),
    ],
)
def test_patterns_reject_obvious_mistakes(
    template: dict[str, Any], parameter: str, good: list[str], bad: list[str]
) -> None:
    """CloudFormation refuses these at deploy time, before a morning run would."""
    pattern = re.compile(template["Parameters"][parameter]["AllowedPattern"])
    assert all(pattern.fullmatch(value) for value in [*good, ""])
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
        if r["Properties"]["MetricName"] == metric
    ]
    return alarm


def _within_cloudwatch_limits(properties: Mapping[str, Any]) -> bool:
    """Period x EvaluationPeriods: at most 7 days, or 1 day for periods under an hour."""
    span = properties["Period"] * properties["EvaluationPeriods"]
    limit = CLOUDWATCH_WEEK if properties["Period"] >= 3600 else CLOUDWATCH_DAY
    return bool(span <= limit and properties.get("DatapointsToAlarm", 1) <= span)


def test_alarms_notify_the_topic(template: dict[str, Any]) -> None:
    """Every alarm notifies: the digest topic, or a separate alarm topic when one is given."""
    alarms = resources_of_type(template, "AWS::CloudWatch::Alarm")
    assert len(alarms) == 3
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [
            {"Fn::If": ["HasAlarmTopic", {"Ref": "AlarmTopicArn"}, {"Ref": TOPIC}]}
        ]
        assert _within_cloudwatch_limits(alarm["Properties"])


def test_errors_alarm_fires_on_one_failed_run(template: dict[str, Any]) -> None:
    """Configuration errors, unpublished digests and timeouts all count as Lambda Errors."""
    properties = _alarm(template, "Errors")["Properties"]
    assert properties["Namespace"] == "AWS/Lambda"
    assert properties["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": FUNCTION}}]
    assert (properties["Statistic"], properties["Threshold"]) == ("Sum", 1)
    assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_heartbeat_alarm_fires_after_26_hours_of_silence(template: dict[str, Any]) -> None:
    """Dead man's switch: no completed run for 26 h alarms, and silence counts as breaching."""
    properties = _alarm(template, metrics.HEARTBEAT)["Properties"]
    assert properties["Namespace"] == {"Ref": "MetricsNamespace"}
    assert template["Parameters"]["MetricsNamespace"]["Default"] == metrics.DEFAULT_NAMESPACE
    assert properties["Dimensions"] == [{"Name": metrics.DIMENSION, "Value": {"Ref": FUNCTION}}]
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
    assert properties["Dimensions"] == [{"Name": metrics.DIMENSION, "Value": {"Ref": FUNCTION}}]
    assert (properties["Threshold"], properties["ComparisonOperator"]) == (
        0,
        "GreaterThanThreshold",
    )


def test_alarmed_metrics_are_the_ones_the_handler_writes() -> None:
    """The names the alarms watch are in every record handlers.metrics writes."""
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


def test_the_policy_is_there(function: dict[str, Any]) -> None:
    """The role's inline policy exists; test_least_privilege.py proves it is exact."""
    [document] = function["Policies"]
    assert document["Version"] == "2012-10-17"
    assert {s["Sid"] for s in _statements(document)} == {
        "ListDatabasesAndAutomatedSnapshots",
        "ListTenantBackupFolders",
        "PublishTheDigest",
    }


def _statements(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        item["Fn::If"][1] if set(item) == {"Fn::If"} else item for item in document["Statement"]
    ]


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

MY_DOCS = {"deploy.md", "library.md", "iam.md"}
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
