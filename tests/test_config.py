"""Settings: defaults, parsing of every variable, and a clear error for every bad value."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pydantic import ValidationError

import backupwatch
from backupwatch import ConfigurationError, Settings, load_settings
from backupwatch.core.config import SeedInstance
from backupwatch.core.models import Check

ACCOUNT = "123456789012"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:backup-digest"
BUCKET = "my-backups-bucket"

VALID: dict[str, str] = {
    "BACKUPWATCH_SNS_TOPIC_ARN": TOPIC,
    "BACKUPWATCH_S3_BUCKET": BUCKET,
    "BACKUPWATCH_REGIONS": "us-east-1",
}


def env(**variables: str) -> dict[str, str]:
    """A complete, valid environment with ``variables`` set on top."""
    return {**VALID, **variables}


def without(*names: str, **variables: str) -> dict[str, str]:
    """``env(**variables)`` minus ``names``."""
    return {k: v for k, v in env(**variables).items() if k not in names}


def config_error(environ: dict[str, str], **kwargs: Any) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(environ, **kwargs)
    return caught.value


# --- defaults and parsing -------------------------------------------------------------------


def test_public_names_are_exported() -> None:
    """load_settings, Settings and ConfigurationError are part of the public API."""
    assert backupwatch.load_settings is load_settings
    assert backupwatch.Settings is Settings
    assert backupwatch.ConfigurationError is ConfigurationError


def test_configuration_error_is_a_backupwatch_error_and_a_value_error() -> None:
    """ConfigurationError can be caught as BackupwatchError or as ValueError."""
    error = ConfigurationError("BACKUPWATCH_X", "bad", "is wrong")
    assert isinstance(error, backupwatch.BackupwatchError)
    assert isinstance(error, ValueError)
    assert (error.variable, error.value, error.problem) == ("BACKUPWATCH_X", "bad", "is wrong")
    assert str(error) == "BACKUPWATCH_X='bad': is wrong"


def test_defaults() -> None:
    """With only the required variables set, every other setting has its documented default."""
    settings = load_settings(VALID)
    assert settings.sns_topic_arn == TOPIC
    assert settings.s3_bucket == BUCKET
    assert settings.tenant_tag == "backupwatch:tenant"
    assert settings.prefix_template == "{tenant}-backups/"
    assert settings.max_age_hours == 24
    assert settings.min_object_bytes == 1
    assert settings.checks == (Check.RDS, Check.S3)
    assert settings.regions == ("us-east-1",)
    assert settings.notify == "always"
    assert settings.dry_run is False
    assert settings.seed_instances == ()
    assert settings.uses_account_id is False


def test_every_variable_is_parsed() -> None:
    """Each BACKUPWATCH_* variable lands in its setting, parsed to the right type."""
    settings = load_settings(
        {
            "BACKUPWATCH_SNS_TOPIC_ARN": TOPIC,
            "BACKUPWATCH_S3_BUCKET": "other-bucket",
            "BACKUPWATCH_TENANT_TAG": "team:tenant",
            "BACKUPWATCH_PREFIX_TEMPLATE": "{region}/{tenant}/",
            "BACKUPWATCH_MAX_AGE_HOURS": "36.5",
            "BACKUPWATCH_MIN_OBJECT_BYTES": "1024",
            "BACKUPWATCH_CHECKS": "s3",
            "BACKUPWATCH_REGIONS": "eu-west-1,us-east-2",
            "BACKUPWATCH_DRY_RUN": "yes",
            "BACKUPWATCH_NOTIFY": "failures",
        }
    )
    assert settings.sns_topic_arn == TOPIC
    assert settings.s3_bucket == "other-bucket"
    assert settings.tenant_tag == "team:tenant"
    assert settings.prefix_template == "{region}/{tenant}/"
    assert settings.max_age_hours == 36.5
    assert settings.min_object_bytes == 1024
    assert settings.checks == (Check.S3,)
    assert settings.regions == ("eu-west-1", "us-east-2")
    assert settings.dry_run is True
    assert settings.notify == "failures"


def test_values_are_stripped() -> None:
    """Surrounding whitespace in any variable is ignored."""
    settings = load_settings(
        env(
            BACKUPWATCH_SNS_TOPIC_ARN=f"  {TOPIC}\n",
            BACKUPWATCH_S3_BUCKET=f" {BUCKET} ",
            BACKUPWATCH_TENANT_TAG=" team ",
            BACKUPWATCH_MAX_AGE_HOURS=" 12 ",
            BACKUPWATCH_MIN_OBJECT_BYTES="\t7 ",
            BACKUPWATCH_NOTIFY=" failures ",
        )
    )
    assert settings.sns_topic_arn == TOPIC
    assert settings.s3_bucket == BUCKET
    assert settings.tenant_tag == "team"
    assert settings.max_age_hours == 12
    assert settings.min_object_bytes == 7
    assert settings.notify == "failures"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("36", 36.0), ("0.5", 0.5), ("1e1", 10.0), ("168", 168.0), ("0.01", 0.01)],
)
def test_max_age_hours_parses_positive_numbers(text: str, expected: float) -> None:
    """BACKUPWATCH_MAX_AGE_HOURS accepts any positive finite number of hours."""
    assert load_settings(env(BACKUPWATCH_MAX_AGE_HOURS=text)).max_age_hours == expected


@pytest.mark.parametrize(("text", "expected"), [("0", 0), ("1", 1), ("1048576", 1048576)])
def test_min_object_bytes_parses_non_negative_integers(text: str, expected: int) -> None:
    """BACKUPWATCH_MIN_OBJECT_BYTES accepts whole numbers from zero up."""
    assert load_settings(env(BACKUPWATCH_MIN_OBJECT_BYTES=text)).min_object_bytes == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rds", (Check.RDS,)),
        ("s3", (Check.S3,)),
        ("rds,s3", (Check.RDS, Check.S3)),
        ("s3, rds", (Check.S3, Check.RDS)),
        (" rds , , s3 ,", (Check.RDS, Check.S3)),
        ("rds,rds", (Check.RDS,)),
        ("s3,rds,s3", (Check.S3, Check.RDS)),
    ],
)
def test_checks_parse_as_a_comma_list_without_duplicates(
    text: str, expected: tuple[Check, ...]
) -> None:
    """BACKUPWATCH_CHECKS is a comma list; blanks and duplicates are dropped, order kept."""
    assert load_settings(env(BACKUPWATCH_CHECKS=text)).checks == expected


@pytest.mark.parametrize("text", ["true", "TRUE", "True", "1", "yes", "on", " on "])
def test_dry_run_true_values(text: str) -> None:
    """BACKUPWATCH_DRY_RUN accepts true/1/yes/on in any case."""
    assert load_settings(env(BACKUPWATCH_DRY_RUN=text)).dry_run is True


@pytest.mark.parametrize("text", ["false", "FALSE", "0", "no", "off", "", "   "])
def test_dry_run_false_values(text: str) -> None:
    """BACKUPWATCH_DRY_RUN accepts false/0/no/off in any case; empty means unset (false)."""
    assert load_settings(env(BACKUPWATCH_DRY_RUN=text)).dry_run is False


@pytest.mark.parametrize("text", ["always", "failures"])
def test_notify_values(text: str) -> None:
    """BACKUPWATCH_NOTIFY is `always` or `failures`."""
    assert load_settings(env(BACKUPWATCH_NOTIFY=text)).notify == text


@pytest.mark.parametrize(
    "topic",
    [
        TOPIC,
        f"arn:aws:sns:eu-west-1:{ACCOUNT}:digest.fifo",
        f"arn:aws-cn:sns:cn-north-1:{ACCOUNT}:digest",
        f"arn:aws-us-gov:sns:us-gov-west-1:{ACCOUNT}:Backup_Digest-2",
    ],
)
def test_valid_topic_arns_are_accepted(topic: str) -> None:
    """Standard, FIFO, China and GovCloud SNS topic ARNs are accepted."""
    assert load_settings(env(BACKUPWATCH_SNS_TOPIC_ARN=topic)).sns_topic_arn == topic


@pytest.mark.parametrize(
    "bucket", ["abc", "my-backups-bucket", "my.backups.bucket", "Legacy_Bucket"]
)
def test_valid_bucket_names_are_accepted(bucket: str) -> None:
    """Plain bucket names, including legacy ones with capitals or underscores, are accepted."""
    assert load_settings(env(BACKUPWATCH_S3_BUCKET=bucket)).s3_bucket == bucket


# --- aliases ----------------------------------------------------------------------------------


def test_seed_aliases_are_read() -> None:
    """SNS_TOPIC_ARN and S3_BUCKET_NAME work when the BACKUPWATCH_ names are absent."""
    settings = load_settings(
        {
            "SNS_TOPIC_ARN": TOPIC,
            "S3_BUCKET_NAME": "seed-bucket",
            "BACKUPWATCH_REGIONS": "us-east-1",
        }
    )
    assert settings.sns_topic_arn == TOPIC
    assert settings.s3_bucket == "seed-bucket"


def test_backupwatch_names_win_over_aliases() -> None:
    """When both names are set, the BACKUPWATCH_ one is used."""
    other_topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:old-topic"
    settings = load_settings(env(SNS_TOPIC_ARN=other_topic, S3_BUCKET_NAME="old-bucket"))
    assert settings.sns_topic_arn == TOPIC
    assert settings.s3_bucket == BUCKET


def test_empty_backupwatch_name_falls_back_to_the_alias() -> None:
    """An empty BACKUPWATCH_ variable counts as unset, so the alias applies."""
    settings = load_settings(
        env(
            BACKUPWATCH_SNS_TOPIC_ARN=" ",
            SNS_TOPIC_ARN=TOPIC,
            BACKUPWATCH_S3_BUCKET="",
            S3_BUCKET_NAME="seed-bucket",
        )
    )
    assert settings.sns_topic_arn == TOPIC
    assert settings.s3_bucket == "seed-bucket"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SNS_TOPIC_ARN", "arn:aws:sqs:us-east-1:123456789012:queue"),
        ("S3_BUCKET_NAME", "s3://seed-bucket"),
    ],
)
def test_bad_alias_value_names_the_alias(variable: str, value: str) -> None:
    """An error in an alias names the alias the operator actually set."""
    environ = without("BACKUPWATCH_SNS_TOPIC_ARN", "BACKUPWATCH_S3_BUCKET")
    environ.update({"SNS_TOPIC_ARN": TOPIC, "S3_BUCKET_NAME": BUCKET, variable: value})
    error = config_error(environ)
    assert error.variable == variable
    assert value in str(error)


# --- regions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("us-east-1", ("us-east-1",)),
        ("us-east-1,eu-west-1", ("us-east-1", "eu-west-1")),
        (" us-east-1 , eu-west-1 ", ("us-east-1", "eu-west-1")),
        ("us-east-1,,eu-west-1,", ("us-east-1", "eu-west-1")),
        ("eu-west-1,us-east-1,eu-west-1", ("eu-west-1", "us-east-1")),
        ("us-gov-west-1,ap-southeast-2", ("us-gov-west-1", "ap-southeast-2")),
    ],
)
def test_regions_parse_as_a_comma_list_without_duplicates(
    text: str, expected: tuple[str, ...]
) -> None:
    """BACKUPWATCH_REGIONS is a comma list; whitespace, blanks and duplicates are dropped."""
    assert load_settings(env(BACKUPWATCH_REGIONS=text)).regions == expected


@pytest.mark.parametrize(
    ("environ", "default_region", "expected"),
    [
        (
            {
                "BACKUPWATCH_REGIONS": "eu-west-1",
                "AWS_REGION": "us-east-2",
                "AWS_DEFAULT_REGION": "us-west-2",
            },
            "ap-south-1",
            "eu-west-1",
        ),
        (
            {"AWS_REGION": "us-east-2", "AWS_DEFAULT_REGION": "us-west-2"},
            "ap-south-1",
            "us-east-2",
        ),
        ({}, "ap-south-1", "ap-south-1"),
        ({"AWS_REGION": "us-east-2", "AWS_DEFAULT_REGION": "us-west-2"}, None, "us-east-2"),
        ({"AWS_DEFAULT_REGION": "us-west-2"}, None, "us-west-2"),
        ({"AWS_REGION": "", "AWS_DEFAULT_REGION": "us-west-2"}, None, "us-west-2"),
        ({"BACKUPWATCH_REGIONS": " ", "AWS_REGION": "us-east-2"}, None, "us-east-2"),
    ],
)
def test_region_precedence(
    environ: dict[str, str], default_region: str | None, expected: str
) -> None:
    """BACKUPWATCH_REGIONS, then AWS_REGION, then AWS_DEFAULT_REGION, then default_region."""
    full = {**without("BACKUPWATCH_REGIONS"), **environ}
    settings = load_settings(full, default_region=default_region)
    assert settings.regions == (expected,)


def test_no_region_at_all_is_an_error() -> None:
    """Without any region source, the error names BACKUPWATCH_REGIONS."""
    error = config_error(without("BACKUPWATCH_REGIONS"))
    assert error.variable == "BACKUPWATCH_REGIONS"
    assert "region" in error.problem


def test_bad_fallback_region_is_reported() -> None:
    """A malformed AWS_REGION fallback raises, and the message shows the bad value."""
    error = config_error(without("BACKUPWATCH_REGIONS", AWS_REGION="mars"))
    assert error.variable in {"BACKUPWATCH_REGIONS", "AWS_REGION"}
    assert "mars" in str(error)


# --- overrides --------------------------------------------------------------------------------


def test_dry_run_override_wins_over_the_environment() -> None:
    """dry_run=True beats BACKUPWATCH_DRY_RUN=false, and then the topic is not needed."""
    settings = load_settings(
        without("BACKUPWATCH_SNS_TOPIC_ARN", BACKUPWATCH_DRY_RUN="false"), dry_run=True
    )
    assert settings.dry_run is True
    assert settings.sns_topic_arn is None


def test_false_override_is_not_ignored() -> None:
    """dry_run=False is a real value (only None is ignored), so it beats the environment."""
    settings = load_settings(env(BACKUPWATCH_DRY_RUN="true"), dry_run=False)
    assert settings.dry_run is False


@pytest.mark.parametrize("env_value", ["true", "false"])
def test_none_override_is_ignored(env_value: str) -> None:
    """dry_run=None leaves the environment's value in place."""
    settings = load_settings(env(BACKUPWATCH_DRY_RUN=env_value), dry_run=None)
    assert settings.dry_run is (env_value == "true")


def test_overrides_take_field_names() -> None:
    """Any field can be overridden by name, beating its variable."""
    settings = load_settings(
        env(BACKUPWATCH_MAX_AGE_HOURS="24", BACKUPWATCH_NOTIFY="always"),
        max_age_hours=48,
        notify="failures",
        regions=("eu-west-1",),
    )
    assert settings.max_age_hours == 48
    assert settings.notify == "failures"
    assert settings.regions == ("eu-west-1",)


def test_bad_override_is_reported_with_its_own_value() -> None:
    """A bad override value is what the error shows, not the variable it overrode."""
    error = config_error(env(BACKUPWATCH_MAX_AGE_HOURS="24"), max_age_hours=-5)
    assert error.value == -5
    assert "-5" in str(error)


# --- bad values -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BACKUPWATCH_CHECKS", "rds,ec2"),
        ("BACKUPWATCH_CHECKS", "ec2"),
        ("BACKUPWATCH_CHECKS", ","),
        ("BACKUPWATCH_CHECKS", " , ,"),
        ("BACKUPWATCH_MAX_AGE_HOURS", "-1"),
        ("BACKUPWATCH_MAX_AGE_HOURS", "0"),
        ("BACKUPWATCH_MAX_AGE_HOURS", "-0.0"),
        ("BACKUPWATCH_MAX_AGE_HOURS", "abc"),
        ("BACKUPWATCH_MAX_AGE_HOURS", "24h"),
        ("BACKUPWATCH_MAX_AGE_HOURS", "nan"),
        ("BACKUPWATCH_MAX_AGE_HOURS", "inf"),
        ("BACKUPWATCH_MAX_AGE_HOURS", "-inf"),
        ("BACKUPWATCH_MAX_AGE_HOURS", "1e400"),
        ("BACKUPWATCH_MIN_OBJECT_BYTES", "1.5"),
        ("BACKUPWATCH_MIN_OBJECT_BYTES", "1e3"),
        ("BACKUPWATCH_MIN_OBJECT_BYTES", "abc"),
        ("BACKUPWATCH_MIN_OBJECT_BYTES", "-1"),
        ("BACKUPWATCH_PREFIX_TEMPLATE", "{tenant}/{date}"),
        ("BACKUPWATCH_PREFIX_TEMPLATE", "{tenant:>10}"),
        ("BACKUPWATCH_PREFIX_TEMPLATE", "{tenant!r}/"),
        ("BACKUPWATCH_PREFIX_TEMPLATE", "{0}/"),
        ("BACKUPWATCH_PREFIX_TEMPLATE", "{tenant"),
        ("BACKUPWATCH_PREFIX_TEMPLATE", "tenant}/"),
        ("BACKUPWATCH_PREFIX_TEMPLATE", "/"),
        ("BACKUPWATCH_PREFIX_TEMPLATE", "///"),
        ("BACKUPWATCH_SNS_TOPIC_ARN", "arn:aws:sqs:us-east-1:123456789012:backup-digest"),
        ("BACKUPWATCH_SNS_TOPIC_ARN", "backup-digest"),
        ("BACKUPWATCH_SNS_TOPIC_ARN", "arn:aws:sns:us-east-1:12345:backup-digest"),
        ("BACKUPWATCH_SNS_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:"),
        ("BACKUPWATCH_SNS_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:topic:sub-id"),
        ("BACKUPWATCH_S3_BUCKET", "s3://x"),
        ("BACKUPWATCH_S3_BUCKET", "s3://my-backups-bucket"),
        ("BACKUPWATCH_S3_BUCKET", "arn:aws:s3:::my-backups-bucket"),
        ("BACKUPWATCH_S3_BUCKET", "my-backups-bucket/tenants"),
        ("BACKUPWATCH_S3_BUCKET", "x"),
        ("BACKUPWATCH_S3_BUCKET", "-bucket"),
        ("BACKUPWATCH_S3_BUCKET", "bucket-"),
        ("BACKUPWATCH_S3_BUCKET", "my bucket"),
        ("BACKUPWATCH_REGIONS", "eu-west"),
        ("BACKUPWATCH_REGIONS", "US-EAST-1"),
        ("BACKUPWATCH_REGIONS", "us_east_1"),
        ("BACKUPWATCH_REGIONS", "us-east-1,mars-1"),
        ("BACKUPWATCH_REGIONS", ","),
        ("BACKUPWATCH_DRY_RUN", "maybe"),
        ("BACKUPWATCH_DRY_RUN", "2"),
        ("BACKUPWATCH_NOTIFY", "sometimes"),
        ("BACKUPWATCH_NOTIFY", "never"),
        ("BACKUPWATCH_TENANT_TAG", "t" * 129),
    ],
)
def test_bad_value_names_the_variable_and_the_value(variable: str, value: str) -> None:
    """Every bad value raises ConfigurationError naming its variable and showing the value."""
    error = config_error(env(**{variable: value}))
    assert error.variable == variable
    assert error.value == value.strip()
    assert value.strip() in str(error)
    assert str(error).startswith(f"{variable}=")


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("BACKUPWATCH_CHECKS", "rds,ec2", "unknown check"),
        ("BACKUPWATCH_CHECKS", ",", "at least one check"),
        ("BACKUPWATCH_MAX_AGE_HOURS", "abc", "number of hours"),
        ("BACKUPWATCH_MAX_AGE_HOURS", "nan", "finite"),
        ("BACKUPWATCH_MAX_AGE_HOURS", "inf", "finite"),
        ("BACKUPWATCH_MIN_OBJECT_BYTES", "1.5", "whole number"),
        ("BACKUPWATCH_PREFIX_TEMPLATE", "{tenant}/{date}", "{date}"),
        ("BACKUPWATCH_PREFIX_TEMPLATE", "{tenant:>10}", "format spec"),
        ("BACKUPWATCH_PREFIX_TEMPLATE", "{tenant", "not a valid template"),
        ("BACKUPWATCH_PREFIX_TEMPLATE", "/", "must contain {tenant}"),
        ("BACKUPWATCH_SNS_TOPIC_ARN", "arn:aws:sqs:us-east-1:123456789012:q", "SNS topic ARN"),
        ("BACKUPWATCH_S3_BUCKET", "s3://x", "bucket name only"),
        ("BACKUPWATCH_S3_BUCKET", "x", "not a valid S3 bucket name"),
        ("BACKUPWATCH_REGIONS", "eu-west", "'eu-west' is not an AWS region"),
        ("BACKUPWATCH_DRY_RUN", "maybe", "true or false"),
        ("BACKUPWATCH_NOTIFY", "sometimes", "always"),
    ],
)
def test_bad_value_message_says_what_is_wrong(variable: str, value: str, words: str) -> None:
    """The error explains the problem well enough to fix it from the message alone."""
    assert words in str(config_error(env(**{variable: value})))


def test_unknown_check_message_lists_the_known_checks() -> None:
    """An unknown check name is reported with the list of valid ones."""
    error = config_error(env(BACKUPWATCH_CHECKS="rds,ec2"))
    assert "rds" in error.problem
    assert "s3" in error.problem


@pytest.mark.parametrize("dry_run", [None, "false", "0"])
def test_topic_is_required_unless_dry_run(dry_run: str | None) -> None:
    """Without a topic and without dry run, a run that publishes through SNS names
    BACKUPWATCH_SNS_TOPIC_ARN as missing, before any AWS call (the settings alone may lack it:
    a caller with its own publisher needs none)."""
    from backupwatch.pipeline.daily import require_topic

    environ = without("BACKUPWATCH_SNS_TOPIC_ARN")
    if dry_run is not None:
        environ["BACKUPWATCH_DRY_RUN"] = dry_run
    with pytest.raises(ConfigurationError) as caught:
        require_topic(load_settings(environ))
    error = caught.value
    assert error.variable == "BACKUPWATCH_SNS_TOPIC_ARN"
    assert error.value is None
    assert "dry run" in error.problem


def test_topic_is_optional_in_dry_run() -> None:
    """In dry run the topic may be absent."""
    settings = load_settings(without("BACKUPWATCH_SNS_TOPIC_ARN", BACKUPWATCH_DRY_RUN="true"))
    assert settings.sns_topic_arn is None


@pytest.mark.parametrize("checks", [None, "s3", "rds,s3", "s3,rds"])
def test_bucket_is_required_while_the_s3_check_is_on(checks: str | None) -> None:
    """Without a bucket, any check list including s3 names BACKUPWATCH_S3_BUCKET as missing."""
    environ = without("BACKUPWATCH_S3_BUCKET")
    if checks is not None:
        environ["BACKUPWATCH_CHECKS"] = checks
    error = config_error(environ)
    assert error.variable == "BACKUPWATCH_S3_BUCKET"
    assert "s3" in error.problem


def test_bucket_is_optional_with_rds_check_only() -> None:
    """BACKUPWATCH_CHECKS=rds needs no bucket."""
    settings = load_settings(without("BACKUPWATCH_S3_BUCKET", BACKUPWATCH_CHECKS="rds"))
    assert settings.s3_bucket is None
    assert settings.checks == (Check.RDS,)


@pytest.mark.parametrize("value", [math.nan, math.inf, 0, -1])
def test_bad_max_age_override_is_a_configuration_error(value: float) -> None:
    """A non-positive or non-finite max_age_hours override is rejected, not accepted."""
    error = config_error(VALID, max_age_hours=value)
    assert error.variable == "BACKUPWATCH_MAX_AGE_HOURS"


def test_unknown_override_is_a_configuration_error() -> None:
    """An override that names no setting is rejected."""
    with pytest.raises(ConfigurationError):
        load_settings(VALID, no_such_setting=1)


# --- seed variables ---------------------------------------------------------------------------


def test_seed_five_instance_layout() -> None:
    """The seed's DB_INSTANCE_IDENTIFIER_1..5 / S3_FOLDER_1..5 become five seed instances."""
    seeds = {}
    for n in range(1, 6):
        seeds[f"DB_INSTANCE_IDENTIFIER_{n}"] = f"db{n}-instance"
        seeds[f"S3_FOLDER_{n}"] = f"db{n}-backups/"
    settings = load_settings(env(**seeds))
    assert settings.seed_instances == tuple(
        SeedInstance(index=n, db_instance_identifier=f"db{n}-instance", s3_folder=f"db{n}-backups/")
        for n in range(1, 6)
    )


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        ("db1-backups/", "db1-backups/"),
        ("db1-backups", "db1-backups/"),
        (" db1-backups ", "db1-backups/"),
        ("tenants/db1", "tenants/db1/"),
    ],
)
def test_seed_folder_is_normalised_to_a_folder(folder: str, expected: str) -> None:
    """S3_FOLDER_<n> always ends in `/` once loaded, and surrounding whitespace is dropped."""
    settings = load_settings(env(DB_INSTANCE_IDENTIFIER_1=" db1-instance ", S3_FOLDER_1=folder))
    (seed,) = settings.seed_instances
    assert seed.db_instance_identifier == "db1-instance"
    assert seed.s3_folder == expected


def test_seed_identifier_without_folder_uses_the_template() -> None:
    """DB_INSTANCE_IDENTIFIER_<n> alone gives a seed whose s3_folder is None."""
    settings = load_settings(env(DB_INSTANCE_IDENTIFIER_1="db1-instance"))
    assert settings.seed_instances == (
        SeedInstance(index=1, db_instance_identifier="db1-instance", s3_folder=None),
    )


def test_seed_folder_without_identifier_is_an_error() -> None:
    """S3_FOLDER_<n> without its DB_INSTANCE_IDENTIFIER_<n> names S3_FOLDER_<n>."""
    error = config_error(
        env(DB_INSTANCE_IDENTIFIER_1="db1-instance", S3_FOLDER_1="a/", S3_FOLDER_3="db3-backups/")
    )
    assert error.variable == "S3_FOLDER_3"
    assert "db3-backups/" in str(error)
    assert "DB_INSTANCE_IDENTIFIER_3" in error.problem


@pytest.mark.parametrize("variable", ["DB_INSTANCE_IDENTIFIER_2", "S3_FOLDER_1"])
@pytest.mark.parametrize("value", ["", "   "])
def test_empty_seed_variable_is_an_error(variable: str, value: str) -> None:
    """A seed variable that is set but empty is reported by name."""
    environ = env(DB_INSTANCE_IDENTIFIER_1="db1-instance", S3_FOLDER_1="db1-backups/")
    environ[variable] = value
    error = config_error(environ)
    assert error.variable == variable
    assert "empty" in error.problem


@pytest.mark.parametrize(
    ("folder_1", "folder_2"),
    [(None, None), ("db1-backups/", "db1-backups/"), ("db1-backups", "db1-backups/")],
)
def test_same_identifier_with_the_same_folder_is_listed_once(
    folder_1: str | None, folder_2: str | None
) -> None:
    """One identifier listed twice with the same (normalised) folder becomes one seed."""
    environ = env(DB_INSTANCE_IDENTIFIER_1="db1-instance", DB_INSTANCE_IDENTIFIER_2="db1-instance")
    if folder_1 is not None:
        environ["S3_FOLDER_1"] = folder_1
    if folder_2 is not None:
        environ["S3_FOLDER_2"] = folder_2
    (seed,) = load_settings(environ).seed_instances
    assert seed.index == 1
    assert seed.db_instance_identifier == "db1-instance"


@pytest.mark.parametrize(
    ("folder_1", "folder_2"),
    [("db1-backups/", "other-backups/"), ("db1-backups/", None), (None, "db1-backups/")],
)
def test_same_identifier_with_different_folders_is_an_error(
    folder_1: str | None, folder_2: str | None
) -> None:
    """One identifier listed twice with different folders is ambiguous and rejected."""
    environ = env(DB_INSTANCE_IDENTIFIER_1="db1-instance", DB_INSTANCE_IDENTIFIER_2="db1-instance")
    if folder_1 is not None:
        environ["S3_FOLDER_1"] = folder_1
    if folder_2 is not None:
        environ["S3_FOLDER_2"] = folder_2
    error = config_error(environ)
    assert error.variable == "DB_INSTANCE_IDENTIFIER_2"
    assert "db1-instance" in str(error)
    assert "DB_INSTANCE_IDENTIFIER_1" in error.problem


def test_seeds_are_ordered_by_number() -> None:
    """Seeds come out in numeric index order (2 before 10), whatever the environment order."""
    settings = load_settings(
        env(
            DB_INSTANCE_IDENTIFIER_10="db10-instance",
            DB_INSTANCE_IDENTIFIER_2="db2-instance",
            DB_INSTANCE_IDENTIFIER_1="db1-instance",
        )
    )
    assert [s.index for s in settings.seed_instances] == [1, 2, 10]


@pytest.mark.parametrize(
    "name",
    [
        "DB_INSTANCE_IDENTIFIER",
        "DB_INSTANCE_IDENTIFIER_X",
        "S3_FOLDER",
        "MY_S3_FOLDER_1",
        "S3_FOLDER_1_OLD",
    ],
)
def test_unrelated_variables_are_not_seeds(name: str) -> None:
    """Only DB_INSTANCE_IDENTIFIER_<n> / S3_FOLDER_<n> with a numeric suffix are read."""
    assert load_settings(env(**{name: "something"})).seed_instances == ()


def test_seed_variables_with_the_same_number_are_rejected() -> None:
    """DB_INSTANCE_IDENTIFIER_1 and _01 both mean seed 1: ambiguous, so rejected, never dropped."""
    environ = env(DB_INSTANCE_IDENTIFIER_1="db-a", DB_INSTANCE_IDENTIFIER_01="db-b")
    error = config_error(environ)
    assert error.variable in {"DB_INSTANCE_IDENTIFIER_1", "DB_INSTANCE_IDENTIFIER_01"}


def test_seed_error_names_the_variable_as_spelled() -> None:
    """An orphan S3_FOLDER_07 is reported as S3_FOLDER_07, the variable actually set."""
    error = config_error(env(S3_FOLDER_07="db7-backups/"))
    assert error.variable == "S3_FOLDER_07"


# --- the Settings object ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [("dry_run", True), ("max_age_hours", 1.0), ("regions", ("eu-west-1",)), ("s3_bucket", "x")],
)
def test_settings_are_frozen(field: str, value: object) -> None:
    """Assigning to a loaded Settings raises; settings never change mid-run."""
    settings = load_settings(VALID)
    with pytest.raises(ValidationError):
        setattr(settings, field, value)


def test_seed_instances_are_frozen() -> None:
    """A loaded SeedInstance cannot be modified either."""
    (seed,) = load_settings(env(DB_INSTANCE_IDENTIFIER_1="db1-instance")).seed_instances
    with pytest.raises(ValidationError):
        seed.s3_folder = "elsewhere/"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{tenant}-backups/", False),
        ("{region}/{db_instance_identifier}/", False),
        ("{account_id}/{tenant}/", True),
        ("backups/{account_id}-{region}/{tenant}", True),
    ],
)
def test_uses_account_id_reflects_the_template(template: str, expected: bool) -> None:
    """uses_account_id is true exactly when the template has {account_id}."""
    settings = load_settings(env(BACKUPWATCH_PREFIX_TEMPLATE=template))
    assert settings.uses_account_id is expected


@pytest.mark.parametrize("template", ["backups/", "{region}/", "{account_id}/daily/"])
def test_template_without_a_tenant_placeholder_is_rejected(template: str) -> None:
    """A template every tenant would share is refused: one fresh object must not vouch for all."""
    error = config_error(env(BACKUPWATCH_PREFIX_TEMPLATE=template))
    assert error.variable == "BACKUPWATCH_PREFIX_TEMPLATE"
    assert "{tenant}" in str(error)


def test_bad_fallback_region_names_where_it_came_from() -> None:
    """A bad AWS_REGION used as the fallback is reported as AWS_REGION, with its value."""
    environ = without("BACKUPWATCH_REGIONS", AWS_REGION="moon-base-1")
    error = config_error(environ)
    assert (error.variable, error.value) == ("AWS_REGION", "moon-base-1")


def test_orphan_folder_error_names_its_partner_as_spelled() -> None:
    """A stray S3_FOLDER_02 is told it lacks DB_INSTANCE_IDENTIFIER_02, spelled the same way."""
    error = config_error(env(S3_FOLDER_02="x/"))
    assert error.variable == "S3_FOLDER_02"
    assert "DB_INSTANCE_IDENTIFIER_02" in str(error)
