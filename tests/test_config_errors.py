"""Issue #3, item 6: every bad configuration is refused before any AWS call.

The message is ``<VARIABLE>=<value>: <problem>`` (docs/configuration.md), so an operator can fix
it from the message alone; the CLI prints it as one line and exits 2, the Lambda handler raises
``ConfigurationError``. "Before any AWS call" is proved, not assumed: these tests run without
moto, and the ``no_aws`` guard fails on any botocore API call or HTTP send in the process.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import botocore.client
import botocore.httpsession
import pytest

from backupwatch import ConfigurationError, load_settings
from backupwatch.cli.main import main
from handlers.daily_digest import lambda_handler

from .conftest import BUCKET, REGION

SetEnv = Callable[[dict[str, str]], None]

BASE = {"BACKUPWATCH_S3_BUCKET": BUCKET, "BACKUPWATCH_REGIONS": REGION, "BACKUPWATCH_DRY_RUN": "1"}
"""A valid dry-run configuration: each case changes one variable."""

TOPIC = "arn:aws:sns:us-east-1:123456789012:backup-digest"

BAD: list[tuple[str, str, str]] = [
    # (variable, value, what the problem must say)
    ("BACKUPWATCH_CHECKS", "rds,ebs", "unknown check; known: rds, s3"),
    ("BACKUPWATCH_CHECKS", "RDS", "unknown check"),  # names are case-sensitive
    ("BACKUPWATCH_CHECKS", "snapshots", "unknown check"),
    ("BACKUPWATCH_CHECKS", ",", "at least one check is needed"),
    ("BACKUPWATCH_MAX_AGE_HOURS", "-1", "greater than 0"),
    ("BACKUPWATCH_MAX_AGE_HOURS", "0", "greater than 0"),
    ("BACKUPWATCH_MAX_AGE_HOURS", "abc", "expected a number of hours"),
    ("BACKUPWATCH_MAX_AGE_HOURS", "24h", "expected a number of hours"),
    ("BACKUPWATCH_MAX_AGE_HOURS", "inf", "expected a finite number of hours"),
    ("BACKUPWATCH_MAX_AGE_HOURS", "-inf", "expected a finite number of hours"),
    ("BACKUPWATCH_MAX_AGE_HOURS", "nan", "expected a finite number of hours"),
    ("BACKUPWATCH_MAX_AGE_HOURS", "1e400", "expected a finite number of hours"),  # float: inf
    ("BACKUPWATCH_MIN_OBJECT_BYTES", "-1", "greater than or equal to 0"),
    ("BACKUPWATCH_MIN_OBJECT_BYTES", "1.5", "expected a whole number of bytes"),
    ("BACKUPWATCH_PREFIX_TEMPLATE", "{customer}/", "unknown placeholder {customer}"),
    ("BACKUPWATCH_PREFIX_TEMPLATE", "{tenant}/{date}/", "unknown placeholder {date}"),
    ("BACKUPWATCH_PREFIX_TEMPLATE", "{0}/{tenant}", "unknown placeholder {0}"),
    ("BACKUPWATCH_PREFIX_TEMPLATE", "{tenant!r}/", "takes no format spec or conversion"),
    ("BACKUPWATCH_PREFIX_TEMPLATE", "{tenant", "not a valid template"),
    ("BACKUPWATCH_PREFIX_TEMPLATE", "{region}/", "must contain {tenant} or"),
    ("BACKUPWATCH_SNS_TOPIC_ARN", "arn:aws:sqs:us-east-1:123456789012:q", "not an SNS topic ARN"),
    (
        "BACKUPWATCH_SNS_TOPIC_ARN",
        "arn:aws:lambda:us-east-1:123456789012:function:digest",
        "not an SNS topic ARN",
    ),
    (  # a subscription ARN is not its topic's ARN
        "BACKUPWATCH_SNS_TOPIC_ARN",
        "arn:aws:sns:us-east-1:123456789012:backup-digest:0b6941c3-f04d-4d3e-a66d-b1df00e1e381",
        "not an SNS topic ARN",
    ),
    ("BACKUPWATCH_SNS_TOPIC_ARN", "arn:aws:sns:us-east-1:123:backup-digest", "not an SNS topic"),
    ("BACKUPWATCH_SNS_TOPIC_ARN", "backup-digest", "not an SNS topic ARN"),
    ("BACKUPWATCH_S3_BUCKET", "s3://bkt", "give the bucket name only"),
    ("BACKUPWATCH_REGIONS", ",", "at least one region is needed"),
    ("BACKUPWATCH_REGIONS", "us-east-1,Frankfurt", "'Frankfurt' is not an AWS region name"),
    ("BACKUPWATCH_DRY_RUN", "maybe", "expected true or false"),
    ("BACKUPWATCH_NOTIFY", "Always", "'always' or 'failures'"),
    # The settings added for issue #3 and after.
    ("BACKUPWATCH_PUBLISH_RESERVE_SECONDS", "-1", "greater than or equal to 0"),
    ("BACKUPWATCH_PUBLISH_RESERVE_SECONDS", "601", "less than or equal to 600"),
    ("BACKUPWATCH_PUBLISH_RESERVE_SECONDS", "soon", "expected a number of seconds"),
    ("BACKUPWATCH_PUBLISH_RESERVE_SECONDS", "inf", "expected a finite number of seconds"),
    ("BACKUPWATCH_PUBLISH_RESERVE_SECONDS", "nan", "expected a finite number of seconds"),
    ("BACKUPWATCH_S3_CONCURRENCY", "0", "greater than or equal to 1"),
    ("BACKUPWATCH_S3_CONCURRENCY", "-3", "greater than or equal to 1"),
    ("BACKUPWATCH_S3_CONCURRENCY", "129", "less than or equal to 128"),
    ("BACKUPWATCH_S3_CONCURRENCY", "1.5", "expected a whole number of threads"),
    ("BACKUPWATCH_S3_CONCURRENCY", "1e2", "expected a whole number of threads"),
    ("BACKUPWATCH_S3_CONCURRENCY", "many", "expected a whole number of threads"),
    ("BACKUPWATCH_RDS_REQUESTS_PER_SECOND", "0", "greater than 0"),
    ("BACKUPWATCH_RDS_REQUESTS_PER_SECOND", "-1", "greater than 0"),
    ("BACKUPWATCH_RDS_REQUESTS_PER_SECOND", "101", "less than or equal to 100"),
    ("BACKUPWATCH_RDS_REQUESTS_PER_SECOND", "inf", "expected a finite number"),
    ("BACKUPWATCH_RDS_REQUESTS_PER_SECOND", "nan", "expected a finite number"),
    ("BACKUPWATCH_RDS_REQUESTS_PER_SECOND", "fast", "expected a number of requests per second"),
    ("BACKUPWATCH_RDS_BURST", "0", "greater than or equal to 1"),
    ("BACKUPWATCH_RDS_BURST", "301", "less than or equal to 300"),
    ("BACKUPWATCH_RDS_BURST", "2.5", "expected a whole number of requests"),
    ("BACKUPWATCH_S3_DATE_LAYOUT", "%d/%m/%Y/", "%Y, then %m, then %d, then %H"),
    ("BACKUPWATCH_S3_DATE_LAYOUT", "%m/%d/", "%Y, then %m, then %d, then %H"),
    ("BACKUPWATCH_S3_DATE_LAYOUT", "%Y/%d/", "%Y, then %m, then %d, then %H"),
    ("BACKUPWATCH_S3_DATE_LAYOUT", "%Y/%m/%H/", "%Y, then %m, then %d, then %H"),
    ("BACKUPWATCH_S3_DATE_LAYOUT", "%H/%Y/", "%Y, then %m, then %d, then %H"),
    ("BACKUPWATCH_S3_DATE_LAYOUT", "%Y/%m/%d/%H/%H", "%Y, then %m, then %d, then %H"),
    ("BACKUPWATCH_S3_DATE_LAYOUT", "backups", "%Y, then %m, then %d, then %H"),
    ("BACKUPWATCH_S3_DATE_LAYOUT", "%Y/%m/%d/%M/", "unsupported directive %M"),
    ("BACKUPWATCH_S3_DATE_LAYOUT", "%y/%m/%d/", "unsupported directive %y"),
    ("BACKUPWATCH_S3_DATE_LAYOUT", "%Y/%j/", "unsupported directive %j"),
    ("BACKUPWATCH_S3_DATE_LAYOUT", "daily/%Y/%m/", "must start with %Y"),
    ("BACKUPWATCH_NEW_TENANT_GRACE_HOURS", "-1", "greater than or equal to 0"),
    ("BACKUPWATCH_NEW_TENANT_GRACE_HOURS", "inf", "expected a finite number of hours"),
    ("BACKUPWATCH_NEW_TENANT_GRACE_HOURS", "nan", "expected a finite number of hours"),
    ("BACKUPWATCH_NEW_TENANT_GRACE_HOURS", "a day", "expected a number of hours"),
    ("BACKUPWATCH_STOPPED_IS_FAILING", "maybe", "expected true or false"),
    ("BACKUPWATCH_STOPPED_IS_FAILING", "2", "expected true or false"),
    ("BACKUPWATCH_PITR_MAX_LAG_HOURS", "0", "greater than 0"),
    ("BACKUPWATCH_PITR_MAX_LAG_HOURS", "-1", "greater than 0"),
    ("BACKUPWATCH_PITR_MAX_LAG_HOURS", "inf", "expected a finite number of hours"),
    ("BACKUPWATCH_PITR_MAX_LAG_HOURS", "nan", "expected a finite number of hours"),
    ("BACKUPWATCH_PITR_MAX_LAG_HOURS", "1h", "expected a number of hours"),
    ("BACKUPWATCH_READ_TIMEOUT_SECONDS", "0", "greater than 0"),
    ("BACKUPWATCH_READ_TIMEOUT_SECONDS", "301", "less than or equal to 300"),
    ("BACKUPWATCH_READ_TIMEOUT_SECONDS", "20s", "expected a number of seconds"),
    ("BACKUPWATCH_READ_TIMEOUT_SECONDS", "inf", "expected a finite number of seconds"),
    # with the 5 s connect timeout, a hung call would eat the whole 30 s publish reserve
    ("BACKUPWATCH_READ_TIMEOUT_SECONDS", "25", "must stay below BACKUPWATCH_PUBLISH_RESERVE"),
]

GOOD: list[tuple[str, str, str, object]] = [
    # (variable, value, Settings field, the value it must become)
    ("BACKUPWATCH_CHECKS", "s3,rds,", "checks", ("s3", "rds")),
    ("BACKUPWATCH_MAX_AGE_HOURS", "26.5", "max_age_hours", 26.5),
    ("BACKUPWATCH_PUBLISH_RESERVE_SECONDS", "0", "publish_reserve_seconds", 0.0),
    ("BACKUPWATCH_READ_TIMEOUT_SECONDS", "24.5", "read_timeout_seconds", 24.5),
    ("BACKUPWATCH_READ_TIMEOUT_SECONDS", " 3 ", "read_timeout_seconds", 3.0),
    ("BACKUPWATCH_PUBLISH_RESERVE_SECONDS", "600", "publish_reserve_seconds", 600.0),
    ("BACKUPWATCH_PUBLISH_RESERVE_SECONDS", " 12.5 ", "publish_reserve_seconds", 12.5),
    ("BACKUPWATCH_S3_CONCURRENCY", "1", "s3_concurrency", 1),
    ("BACKUPWATCH_S3_CONCURRENCY", "128", "s3_concurrency", 128),
    ("BACKUPWATCH_S3_CONCURRENCY", " 8 ", "s3_concurrency", 8),
    ("BACKUPWATCH_RDS_REQUESTS_PER_SECOND", "0.5", "rds_requests_per_second", 0.5),
    ("BACKUPWATCH_RDS_REQUESTS_PER_SECOND", "100", "rds_requests_per_second", 100.0),
    ("BACKUPWATCH_RDS_BURST", "1", "rds_burst", 1),
    ("BACKUPWATCH_RDS_BURST", "300", "rds_burst", 300),
    ("BACKUPWATCH_S3_DATE_LAYOUT", "%Y/%m/%d/", "s3_date_layout", "%Y/%m/%d/"),
    ("BACKUPWATCH_S3_DATE_LAYOUT", "%Y-%m-%d", "s3_date_layout", "%Y-%m-%d"),
    ("BACKUPWATCH_S3_DATE_LAYOUT", "%Y/%m/%d/%H/", "s3_date_layout", "%Y/%m/%d/%H/"),
    ("BACKUPWATCH_S3_DATE_LAYOUT", "%Y%m", "s3_date_layout", "%Y%m"),
    ("BACKUPWATCH_S3_DATE_LAYOUT", "%Y/", "s3_date_layout", "%Y/"),
    ("BACKUPWATCH_S3_DATE_LAYOUT", "", "s3_date_layout", None),  # empty is unset
    ("BACKUPWATCH_NEW_TENANT_GRACE_HOURS", "0", "new_tenant_grace_hours", 0.0),
    ("BACKUPWATCH_NEW_TENANT_GRACE_HOURS", "36", "new_tenant_grace_hours", 36.0),
    ("BACKUPWATCH_STOPPED_IS_FAILING", "true", "stopped_is_failing", True),
    ("BACKUPWATCH_STOPPED_IS_FAILING", "YES", "stopped_is_failing", True),
    ("BACKUPWATCH_STOPPED_IS_FAILING", "off", "stopped_is_failing", False),
    ("BACKUPWATCH_STOPPED_IS_FAILING", "0", "stopped_is_failing", False),
    ("BACKUPWATCH_PITR_MAX_LAG_HOURS", "0.25", "pitr_max_lag_hours", 0.25),
    ("BACKUPWATCH_PITR_MAX_LAG_HOURS", "6", "pitr_max_lag_hours", 6.0),
]


def _id(case: tuple[Any, ...]) -> str:
    return f"{case[0].removeprefix('BACKUPWATCH_')}={case[1]!r}"


@pytest.fixture(autouse=True)
def no_aws(fake_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Fail on any AWS API call, and on any HTTP send at all (credentials lookups included).

    No moto here: were the guard to miss a call, it would fail on the fake credentials instead
    of passing silently against an in-memory AWS.
    """
    attempted: list[str] = []

    def refuse_call(client: Any, operation: str, params: Any) -> Any:
        attempted.append(f"{client.meta.service_model.service_name}:{operation}")
        raise AssertionError(f"AWS call {attempted[-1]} during a configuration error")

    def refuse_send(_session: Any, request: Any) -> Any:
        attempted.append(f"HTTP {request.url}")
        raise AssertionError(f"HTTP send to {request.url} during a configuration error")

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", refuse_call)
    monkeypatch.setattr(botocore.httpsession.URLLib3Session, "send", refuse_send)
    yield attempted
    assert attempted == [], f"AWS was called: {attempted}"


def test_the_guard_sees_a_call(no_aws: list[str]) -> None:
    """The control: a real client call inside the guard is caught and recorded."""
    sts = boto3.Session(region_name=REGION).client("sts")
    with pytest.raises(AssertionError, match="sts:GetCallerIdentity"):
        sts.get_caller_identity()
    assert no_aws == ["sts:GetCallerIdentity"]
    no_aws.clear()


def test_the_guard_sees_the_entry_points_reach_aws(
    no_aws: list[str], patch_env: SetEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    """The control for the entry points: with a good configuration both go on to AWS, and the
    guard stops them at the first call. So where they stay silent below, no call was made.

    The guard's AssertionError is, to backupwatch, a bug in one region's discovery: the region
    is not checked (exit 1, ``ok`` false), and the run still ends with a report."""
    patch_env(BASE)
    assert main(["check", "--dry-run"]) == 1
    assert "rds:DescribeDBInstances" in capsys.readouterr().out
    result = lambda_handler({}, FakeContext())
    assert (result["ok"], result["regions_failed"]) == (False, 1)
    assert no_aws == ["rds:DescribeDBInstances"] * 2
    no_aws.clear()
    capsys.readouterr()


@pytest.mark.parametrize(("variable", "value", "problem"), BAD, ids=[_id(c) for c in BAD])
def test_bad_value_is_refused_naming_variable_and_value(
    variable: str, value: str, problem: str
) -> None:
    """``VARIABLE='value': problem``: the variable, the value as given (trimmed), the rule."""
    with pytest.raises(ConfigurationError) as caught:
        load_settings({**BASE, variable: value})
    error = caught.value
    assert (error.variable, error.value) == (variable, value.strip())
    assert str(error).startswith(f"{variable}={value.strip()!r}: ")
    assert problem in error.problem
    assert "\n" not in str(error)


@pytest.mark.parametrize(
    ("variable", "value", "field", "expected"), GOOD, ids=[_id(c) for c in GOOD]
)
def test_good_value_is_taken(variable: str, value: str, field: str, expected: object) -> None:
    """The edges of every range are accepted, and parse to what they say."""
    settings = load_settings({**BASE, variable: value})
    assert getattr(settings, field) == expected


def test_defaults_of_the_new_settings() -> None:
    """Unset, the new settings take the defaults docs/configuration.md promises."""
    settings = load_settings(BASE)
    assert (
        settings.publish_reserve_seconds,
        settings.s3_concurrency,
        settings.rds_requests_per_second,
        settings.rds_burst,
        settings.s3_date_layout,
        settings.new_tenant_grace_hours,
        settings.stopped_is_failing,
        settings.pitr_max_lag_hours,
    ) == (30.0, 16, 10.0, 10, None, 2.0, False, 1.0)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"s3_concurrency": 0}, "BACKUPWATCH_S3_CONCURRENCY=0: "),
        ({"rds_burst": 1000}, "BACKUPWATCH_RDS_BURST=1000: "),
        ({"max_age_hours": -1}, "BACKUPWATCH_MAX_AGE_HOURS=-1: "),
        ({"s3_date_layout": "%d/%m/%Y"}, "BACKUPWATCH_S3_DATE_LAYOUT='%d/%m/%Y': "),
    ],
)
def test_keyword_overrides_are_named_after_their_variable(
    overrides: dict[str, Any], message: str
) -> None:
    """A library caller's keyword is reported under the variable it stands in for."""
    with pytest.raises(ConfigurationError, match="^" + re.escape(message)):
        load_settings(BASE, **overrides)


@pytest.mark.parametrize(
    ("environ", "accepted"),
    [
        ({"BACKUPWATCH_READ_TIMEOUT_SECONDS": "24.9"}, True),
        ({"BACKUPWATCH_READ_TIMEOUT_SECONDS": "25"}, False),
        # the reserve is what the timeout must fit in: raised, it makes room
        (
            {"BACKUPWATCH_READ_TIMEOUT_SECONDS": "60", "BACKUPWATCH_PUBLISH_RESERVE_SECONDS": "90"},
            True,
        ),
        # no reserve (the CLI without --timeout, say): nothing to protect
        (
            {"BACKUPWATCH_READ_TIMEOUT_SECONDS": "300", "BACKUPWATCH_PUBLISH_RESERVE_SECONDS": "0"},
            True,
        ),
        # the default timeout with a small reserve stays accepted: configurations that loaded
        # before the setting existed still load
        ({"BACKUPWATCH_PUBLISH_RESERVE_SECONDS": "10"}, True),
        (
            {"BACKUPWATCH_READ_TIMEOUT_SECONDS": "20", "BACKUPWATCH_PUBLISH_RESERVE_SECONDS": "10"},
            False,
        ),
    ],
)
def test_the_read_timeout_fits_in_the_publish_reserve(
    environ: dict[str, str], accepted: bool
) -> None:
    """One hung call lasts the connect timeout (5 s) plus the read timeout: set, that must end
    before the reserve does, or the call that hangs at the deadline eats the publish."""
    if accepted:
        load_settings({**BASE, **environ})
        return
    with pytest.raises(ConfigurationError) as caught:
        load_settings({**BASE, **environ})
    assert caught.value.variable == "BACKUPWATCH_READ_TIMEOUT_SECONDS"
    assert str(caught.value).startswith(
        f"BACKUPWATCH_READ_TIMEOUT_SECONDS={environ['BACKUPWATCH_READ_TIMEOUT_SECONDS']!r}"
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"BACKUPWATCH_S3_BUCKET": BUCKET},
            "BACKUPWATCH_REGIONS=None: at least one region is needed",
        ),
        (
            {"BACKUPWATCH_S3_BUCKET": BUCKET, "BACKUPWATCH_REGIONS": " , , "},
            "BACKUPWATCH_REGIONS=', ,': at least one region is needed",
        ),
        (
            {"BACKUPWATCH_REGIONS": REGION, "BACKUPWATCH_DRY_RUN": "1"},
            "BACKUPWATCH_S3_BUCKET=None: required while the s3 check is on "
            "(unless every target names one)",
        ),
    ],
    ids=["no-region", "empty-region-list", "no-bucket"],
)
def test_missing_or_empty_settings(environ: dict[str, str], message: str) -> None:
    """No region at all, an empty list, a missing topic or bucket: named, with None or the value."""
    with pytest.raises(ConfigurationError) as caught:
        load_settings(environ)
    assert str(caught.value) == message


# --- the entry points: one line and exit 2; ConfigurationError; never an AWS call --------------

ENTRY_CASES = [
    ("BACKUPWATCH_CHECKS", "rds,ebs"),
    ("BACKUPWATCH_MAX_AGE_HOURS", "nan"),
    ("BACKUPWATCH_PREFIX_TEMPLATE", "{customer}/"),
    ("BACKUPWATCH_SNS_TOPIC_ARN", "arn:aws:sqs:us-east-1:123456789012:q"),
    ("BACKUPWATCH_SNS_TOPIC_ARN", "arn:aws:lambda:us-east-1:123456789012:function:digest"),
    ("BACKUPWATCH_REGIONS", ","),
    ("BACKUPWATCH_PUBLISH_RESERVE_SECONDS", "601"),
    ("BACKUPWATCH_S3_CONCURRENCY", "0"),
    ("BACKUPWATCH_READ_TIMEOUT_SECONDS", "0"),
    ("BACKUPWATCH_RDS_REQUESTS_PER_SECOND", "inf"),
    ("BACKUPWATCH_RDS_BURST", "2.5"),
    ("BACKUPWATCH_S3_DATE_LAYOUT", "%d/%m/%Y/"),
    ("BACKUPWATCH_NEW_TENANT_GRACE_HOURS", "-1"),
    ("BACKUPWATCH_STOPPED_IS_FAILING", "maybe"),
    ("BACKUPWATCH_PITR_MAX_LAG_HOURS", "0"),
]


@pytest.mark.parametrize(("variable", "value"), ENTRY_CASES, ids=[_id(c) for c in ENTRY_CASES])
def test_cli_prints_one_line_and_exits_2(
    patch_env: SetEnv, capsys: pytest.CaptureFixture[str], variable: str, value: str
) -> None:
    """``backupwatch check``: exit 2, nothing on stdout, one line on stderr naming the variable
    and its value, no traceback, no AWS call."""
    patch_env({**BASE, variable: value})
    assert main(["check", "--dry-run"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    problem = _problem(variable, value)
    assert err == f"backupwatch: configuration error: {variable}={value!r}: {problem}\n"


def _problem(variable: str, value: str) -> str:
    """The problem ``load_settings`` states for this value (the CLI must print it whole)."""
    with pytest.raises(ConfigurationError) as caught:
        load_settings({**BASE, variable: value})
    return caught.value.problem


def test_cli_timeout_within_the_publish_reserve_is_refused(
    patch_env: SetEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--timeout`` must leave room for the least publish reserve (3 s; the reserve shrinks
    to it when time is short): refused before any AWS call."""
    patch_env({**BASE, "BACKUPWATCH_PUBLISH_RESERVE_SECONDS": "30"})
    assert main(["check", "--dry-run", "--timeout", "3"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "backupwatch: configuration error: --timeout='3.0': must be longer than 3 s, "
        "the least time kept to publish\n"
    )


class FakeContext:
    """What the handler may read of Lambda's context: a request id and the time left."""

    aws_request_id = "00000000-0000-0000-0000-000000000000"
    function_name = "backupwatch"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


@pytest.mark.parametrize(("variable", "value"), ENTRY_CASES, ids=[_id(c) for c in ENTRY_CASES])
def test_lambda_raises_configuration_error(patch_env: SetEnv, variable: str, value: str) -> None:
    """The Lambda handler raises ``ConfigurationError`` naming the variable; no AWS call."""
    patch_env({**BASE, variable: value})
    with pytest.raises(ConfigurationError) as caught:
        lambda_handler({}, FakeContext())
    assert (caught.value.variable, caught.value.value) == (variable, value)
    assert str(caught.value).startswith(f"{variable}={value!r}: ")


@pytest.mark.parametrize("dry_run", ["maybe", 2, "yes please"])
def test_lambda_bad_dry_run_event_is_refused(patch_env: SetEnv, dry_run: object) -> None:
    """``{"dry_run": "maybe"}``: ``event.dry_run='maybe': expected true or false``."""
    patch_env(BASE)
    with pytest.raises(ConfigurationError) as caught:
        lambda_handler({"dry_run": dry_run}, FakeContext())
    assert str(caught.value) == f"event.dry_run={str(dry_run)!r}: expected true or false"


# --- bugs found -------------------------------------------------------------------------------

TOO_LONG = "1e11"
"""Hours: finite and positive, and more than ``timedelta`` holds (999,999,999 days ~ 2.4e10 h).
What such a setting does to a run is shown in tests/test_faults.py."""

HUGE_WINDOWS = [
    "BACKUPWATCH_MAX_AGE_HOURS",
    "BACKUPWATCH_PITR_MAX_LAG_HOURS",
    "BACKUPWATCH_NEW_TENANT_GRACE_HOURS",
]


@pytest.mark.parametrize("variable", HUGE_WINDOWS)
def test_a_window_too_long_to_compute_is_refused(variable: str) -> None:
    """A setting the run cannot compute with is a configuration error, named, up front."""
    with pytest.raises(ConfigurationError) as caught:
        load_settings({**BASE, variable: TOO_LONG})
    assert caught.value.variable == variable
