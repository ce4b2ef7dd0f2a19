"""Settings of the AWS Backup, copy and policy checks: defaults, parsing, and a clear error for
every bad value, naming the variable and the value (docs/configuration.md)."""

from __future__ import annotations

from typing import Any

import pytest

from backupwatch import ConfigurationError, Settings, load_settings
from backupwatch.core.config import EVIDENCE_CHECKS, UnknownVariableError
from backupwatch.core.models import Check

BUCKET = "my-backups-bucket"
VALID: dict[str, str] = {"BACKUPWATCH_S3_BUCKET": BUCKET, "BACKUPWATCH_REGIONS": "us-east-1"}
KEY_ID = "0b9e6c2a-5d1f-4e8a-9c3b-7f2d1e4a6b58"
KEY_ARN = f"arn:aws:kms:us-east-1:123456789012:key/{KEY_ID}"
MULTI_REGION_KEY = "mrk-" + "0123abcd" * 4


def settings(**variables: str) -> Settings:
    return load_settings({**VALID, **variables})


def config_error(**variables: str) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as caught:
        load_settings({**VALID, **variables})
    return caught.value


# --- defaults -------------------------------------------------------------------------------


def test_every_control_is_off_by_default() -> None:
    """Unset, nothing of the new checks runs: the rds and s3 checks only, both required."""
    default = settings()
    assert default.rds_backup_rule == "both"
    assert default.copy_regions == ()
    assert default.min_retention_days is None
    assert default.require_encrypted_backups is False
    assert default.backup_kms_key is None
    assert default.daily_backup_days is None
    assert default.encryption_required is False
    assert default.policy_controls is False
    assert default.active_checks == (Check.RDS, Check.S3)


def test_an_empty_variable_is_unset() -> None:
    """As for every setting: blank means the default, not an error."""
    blank = settings(
        BACKUPWATCH_RDS_BACKUP_RULE=" ",
        BACKUPWATCH_COPY_REGIONS="",
        BACKUPWATCH_MIN_RETENTION_DAYS="",
        BACKUPWATCH_REQUIRE_ENCRYPTED_BACKUPS="",
        BACKUPWATCH_BACKUP_KMS_KEY="  ",
        BACKUPWATCH_DAILY_BACKUP_DAYS="",
    )
    assert blank == settings()


# --- parsing --------------------------------------------------------------------------------


def test_the_backup_check_is_listed_with_the_others() -> None:
    assert settings(BACKUPWATCH_CHECKS="backup").checks == (Check.BACKUP,)
    assert settings(BACKUPWATCH_CHECKS="rds, backup,s3,backup").checks == (
        Check.RDS,
        Check.BACKUP,
        Check.S3,
    )
    assert EVIDENCE_CHECKS == (Check.RDS, Check.S3, Check.BACKUP)


@pytest.mark.parametrize("checks", ["rds,backup", "backup,rds", "rds,s3,backup"])
def test_either_with_both_kinds_of_evidence(checks: str) -> None:
    given = settings(BACKUPWATCH_RDS_BACKUP_RULE="either", BACKUPWATCH_CHECKS=checks)
    assert given.rds_backup_rule == "either"


def test_both_needs_nothing_more() -> None:
    """The default rule, written out, is accepted whatever the checks."""
    for checks in ("rds", "s3", "backup", "rds,s3"):
        assert settings(BACKUPWATCH_RDS_BACKUP_RULE="both", BACKUPWATCH_CHECKS=checks)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("eu-central-1", ("eu-central-1",)),
        ("eu-central-1,us-west-2", ("eu-central-1", "us-west-2")),
        (" eu-central-1 , , us-west-2 ,eu-central-1", ("eu-central-1", "us-west-2")),
        ("us-gov-west-1", ("us-gov-west-1",)),
    ],
)
def test_copy_regions_are_a_list(text: str, expected: tuple[str, ...]) -> None:
    """Comma-separated, blanks ignored, duplicates dropped; they turn the copy check on."""
    given = settings(BACKUPWATCH_COPY_REGIONS=text)
    assert given.copy_regions == expected
    assert given.active_checks == (Check.RDS, Check.S3, Check.COPY)


@pytest.mark.parametrize(
    ("variable", "text", "field", "expected"),
    [
        ("BACKUPWATCH_MIN_RETENTION_DAYS", "1", "min_retention_days", 1),
        ("BACKUPWATCH_MIN_RETENTION_DAYS", " 35 ", "min_retention_days", 35),
        ("BACKUPWATCH_MIN_RETENTION_DAYS", "36500", "min_retention_days", 36_500),
        ("BACKUPWATCH_DAILY_BACKUP_DAYS", "1", "daily_backup_days", 1),
        ("BACKUPWATCH_DAILY_BACKUP_DAYS", "35", "daily_backup_days", 35),
        ("BACKUPWATCH_BACKUP_KMS_KEY", KEY_ID, "backup_kms_key", KEY_ID),
        ("BACKUPWATCH_BACKUP_KMS_KEY", KEY_ARN, "backup_kms_key", KEY_ARN),
        ("BACKUPWATCH_BACKUP_KMS_KEY", MULTI_REGION_KEY, "backup_kms_key", MULTI_REGION_KEY),
    ],
)
def test_each_control_is_parsed_and_turns_the_policy_check_on(
    variable: str, text: str, field: str, expected: Any
) -> None:
    given = settings(**{variable: text})
    assert getattr(given, field) == expected
    assert given.policy_controls is True
    assert given.active_checks == (Check.RDS, Check.S3, Check.POLICY)


@pytest.mark.parametrize("word", ["true", "TRUE", "Yes", "on", "1"])
def test_require_encrypted_backups_takes_the_true_words(word: str) -> None:
    given = settings(BACKUPWATCH_REQUIRE_ENCRYPTED_BACKUPS=word)
    assert given.require_encrypted_backups is True
    assert given.encryption_required is True
    assert Check.POLICY in given.active_checks


@pytest.mark.parametrize("word", ["false", "FALSE", "No", "off", "0"])
def test_require_encrypted_backups_takes_the_false_words(word: str) -> None:
    given = settings(BACKUPWATCH_REQUIRE_ENCRYPTED_BACKUPS=word)
    assert given.require_encrypted_backups is False
    assert given.policy_controls is False


def test_a_required_key_implies_encryption() -> None:
    """``BACKUPWATCH_BACKUP_KMS_KEY`` alone switches the encryption control on."""
    given = settings(BACKUPWATCH_BACKUP_KMS_KEY=KEY_ARN)
    assert given.require_encrypted_backups is False
    assert given.encryption_required is True
    assert given.policy_controls is True


def test_every_check_at_once_in_order() -> None:
    """The checks listed, then copy, then policy: the report's order."""
    given = settings(
        BACKUPWATCH_CHECKS="rds,s3,backup",
        BACKUPWATCH_COPY_REGIONS="eu-central-1",
        BACKUPWATCH_DAILY_BACKUP_DAYS="7",
    )
    assert given.active_checks == (Check.RDS, Check.S3, Check.BACKUP, Check.COPY, Check.POLICY)


def test_encryption_needs_no_particular_check() -> None:
    """Encryption is judged on the database itself too, so it needs neither rds nor backup."""
    assert settings(BACKUPWATCH_CHECKS="s3", BACKUPWATCH_REQUIRE_ENCRYPTED_BACKUPS="true")
    assert settings(BACKUPWATCH_CHECKS="s3", BACKUPWATCH_BACKUP_KMS_KEY=KEY_ARN)


# --- bad values name the variable and the value ---------------------------------------------

BAD_VALUES = [
    ("BACKUPWATCH_RDS_BACKUP_RULE", "Either", "Input should be 'both' or 'either'"),
    ("BACKUPWATCH_RDS_BACKUP_RULE", "any", "Input should be 'both' or 'either'"),
    (
        "BACKUPWATCH_COPY_REGIONS",
        "Frankfurt",
        "'Frankfurt' is not an AWS region name (like eu-central-1)",
    ),
    (
        "BACKUPWATCH_COPY_REGIONS",
        "eu-central-1,EU-WEST-1",
        "'EU-WEST-1' is not an AWS region name (like eu-central-1)",
    ),
    ("BACKUPWATCH_MIN_RETENTION_DAYS", "a month", "expected a whole number of days"),
    ("BACKUPWATCH_MIN_RETENTION_DAYS", "7.5", "expected a whole number of days"),
    ("BACKUPWATCH_MIN_RETENTION_DAYS", "0", "Input should be greater than or equal to 1"),
    ("BACKUPWATCH_MIN_RETENTION_DAYS", "-7", "Input should be greater than or equal to 1"),
    ("BACKUPWATCH_MIN_RETENTION_DAYS", "36501", "Input should be less than or equal to 36500"),
    ("BACKUPWATCH_DAILY_BACKUP_DAYS", "weekly", "expected a whole number of days"),
    ("BACKUPWATCH_DAILY_BACKUP_DAYS", "0", "Input should be greater than or equal to 1"),
    ("BACKUPWATCH_DAILY_BACKUP_DAYS", "36", "Input should be less than or equal to 35"),
    ("BACKUPWATCH_REQUIRE_ENCRYPTED_BACKUPS", "maybe", "expected true or false"),
    ("BACKUPWATCH_BACKUP_KMS_KEY", "alias/backups", "a KMS key id (1234abcd-...) or key ARN"),
    ("BACKUPWATCH_BACKUP_KMS_KEY", KEY_ARN.upper(), "a KMS key id (1234abcd-...) or key ARN"),
    ("BACKUPWATCH_BACKUP_KMS_KEY", "not-a-key", "a KMS key id (1234abcd-...) or key ARN"),
]


@pytest.mark.parametrize(("variable", "value", "problem"), BAD_VALUES)
def test_a_bad_value_names_the_variable_and_the_value(
    variable: str, value: str, problem: str
) -> None:
    error = config_error(**{variable: value})
    assert (error.variable, error.value) == (variable, value)
    assert str(error).startswith(f"{variable}={value!r}: {problem}")


def test_a_keyword_override_is_named_after_its_variable() -> None:
    """A library caller's ``min_retention_days=0`` is reported as the variable it stands for."""
    with pytest.raises(ConfigurationError) as caught:
        load_settings(VALID, min_retention_days=0)
    assert str(caught.value) == (
        "BACKUPWATCH_MIN_RETENTION_DAYS=0: Input should be greater than or equal to 1"
    )


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("BACKUPWATCH_COPY_REGION", "BACKUPWATCH_COPY_REGIONS"),
        ("BACKUPWATCH_MIN_RETENTION", "BACKUPWATCH_MIN_RETENTION_DAYS"),
        ("BACKUPWATCH_REQUIRE_ENCRYPTED_BACKUP", "BACKUPWATCH_REQUIRE_ENCRYPTED_BACKUPS"),
        ("BACKUPWATCH_DAILY_BACKUPS_DAYS", "BACKUPWATCH_DAILY_BACKUP_DAYS"),
    ],
)
def test_a_misspelt_variable_is_refused_with_a_suggestion(typo: str, meant: str) -> None:
    with pytest.raises(UnknownVariableError) as caught:
        load_settings({**VALID, typo: "7"})
    assert f"did you mean {meant}?" in str(caught.value)


# --- rules between settings ---------------------------------------------------------------

EITHER = "'either' needs both rds and backup in BACKUPWATCH_CHECKS"


@pytest.mark.parametrize("checks", [None, "rds", "backup", "rds,s3", "s3,backup", "s3"])
def test_either_without_both_kinds_of_evidence_is_refused(checks: str | None) -> None:
    """'either' can only choose between two checks that both run (None: the default rds,s3)."""
    variables = {"BACKUPWATCH_RDS_BACKUP_RULE": "either"}
    if checks is not None:
        variables["BACKUPWATCH_CHECKS"] = checks
    error = config_error(**variables)
    assert str(error) == f"BACKUPWATCH_RDS_BACKUP_RULE='either': {EITHER}"


CONTROL_NEEDS = "needs rds or backup in BACKUPWATCH_CHECKS: it judges their backups"


@pytest.mark.parametrize(
    "variable", ["BACKUPWATCH_MIN_RETENTION_DAYS", "BACKUPWATCH_DAILY_BACKUP_DAYS"]
)
def test_retention_and_daily_without_rds_or_backup_are_refused(variable: str) -> None:
    """They judge the rds and backup checks' backups: with the s3 check alone there are none."""
    error = config_error(**{variable: "7", "BACKUPWATCH_CHECKS": "s3"})
    assert str(error) == f"{variable}='7': {CONTROL_NEEDS}"


@pytest.mark.parametrize(
    "variable", ["BACKUPWATCH_MIN_RETENTION_DAYS", "BACKUPWATCH_DAILY_BACKUP_DAYS"]
)
@pytest.mark.parametrize("checks", ["rds", "backup", "s3,backup", "rds,s3", "rds,s3,backup"])
def test_retention_and_daily_with_rds_or_backup_are_accepted(variable: str, checks: str) -> None:
    given = settings(**{variable: "7", "BACKUPWATCH_CHECKS": checks})
    assert Check.POLICY in given.active_checks


@pytest.mark.parametrize(
    ("checks", "message"),
    [
        (
            "copy",
            "copy is not listed here: set BACKUPWATCH_COPY_REGIONS or BACKUPWATCH_COPY_ACCOUNTS",
        ),
        (
            "rds,copy",
            "copy is not listed here: set BACKUPWATCH_COPY_REGIONS or BACKUPWATCH_COPY_ACCOUNTS",
        ),
        (
            "policy",
            "policy is not listed here: set a control (BACKUPWATCH_MIN_RETENTION_DAYS, "
            "BACKUPWATCH_REQUIRE_ENCRYPTED_BACKUPS, BACKUPWATCH_DAILY_BACKUP_DAYS)",
        ),
        (
            "s3,policy",
            "policy is not listed here: set a control (BACKUPWATCH_MIN_RETENTION_DAYS, "
            "BACKUPWATCH_REQUIRE_ENCRYPTED_BACKUPS, BACKUPWATCH_DAILY_BACKUP_DAYS)",
        ),
    ],
)
def test_copy_and_policy_are_not_listed_in_the_checks(checks: str, message: str) -> None:
    """They are real checks, but their own settings switch them on: the message says which."""
    error = config_error(BACKUPWATCH_CHECKS=checks)
    assert error.variable == "BACKUPWATCH_CHECKS"
    assert str(error) == f"BACKUPWATCH_CHECKS={checks!r}: {message}"


def test_an_unknown_check_lists_the_three_that_may_be_listed() -> None:
    error = config_error(BACKUPWATCH_CHECKS="rds,ebs")
    assert str(error) == "BACKUPWATCH_CHECKS='rds,ebs': unknown check; known: rds, s3, backup"
    empty = config_error(BACKUPWATCH_CHECKS=",")
    assert str(empty) == "BACKUPWATCH_CHECKS=',': at least one check is needed: rds, s3, backup"


def test_without_the_s3_check_no_bucket_is_needed() -> None:
    """The backup check reads AWS Backup, not the bucket."""
    given = load_settings({"BACKUPWATCH_REGIONS": "us-east-1", "BACKUPWATCH_CHECKS": "rds,backup"})
    assert given.s3_bucket is None
    with pytest.raises(ConfigurationError, match="required while the s3 check is on"):
        load_settings({"BACKUPWATCH_REGIONS": "us-east-1", "BACKUPWATCH_CHECKS": "s3,backup"})
