"""Scale-out settings: targets, external ids, the organization role, the report archive.

Every bad value is a ``ConfigurationError`` naming the variable; inside ``BACKUPWATCH_TARGETS``
the message also names the item and the field (``targets[1].role_arn``), so an operator can
fix a list of forty accounts from the message alone.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from backupwatch import ConfigurationError, Scope, load_settings
from backupwatch.core.config import Target

BASE = {
    "BACKUPWATCH_S3_BUCKET": "backups",
    "BACKUPWATCH_REGIONS": "us-east-1,eu-west-1",
    "BACKUPWATCH_DRY_RUN": "true",
}
ONE = "arn:aws:iam::111111111111:role/backupwatch-reader"
TWO = "arn:aws:iam::222222222222:role/teams/backupwatch-reader"


def settings(**variables: str) -> Any:
    return load_settings({**BASE, **variables})


def refused(**variables: str) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as raised:
        settings(**variables)
    return raised.value


def targets_json(*items: Any) -> str:
    return json.dumps(list(items))


# --- BACKUPWATCH_TARGETS ----------------------------------------------------------------------


def test_no_targets_is_the_home_account_in_every_region() -> None:
    """Without targets nothing fans out; the scopes are the run's regions, home account."""
    loaded = settings()
    assert loaded.targets == ()
    assert not loaded.fans_out
    assert loaded.scopes == (Scope(region="us-east-1"), Scope(region="eu-west-1"))


@pytest.mark.parametrize("text", [f"{ONE},{TWO}", f" {ONE} , {TWO} ,", f"{ONE},\n{TWO}"])
def test_comma_separated_role_arns(text: str) -> None:
    """Role ARNs separated by commas (spaces and a trailing comma tolerated), each checked in
    every run region, the account taken from the ARN."""
    loaded = settings(BACKUPWATCH_TARGETS=text)
    assert loaded.fans_out
    assert [(s.account_id, s.region, s.role_arn) for s in loaded.scopes] == [
        ("111111111111", "us-east-1", ONE),
        ("111111111111", "eu-west-1", ONE),
        ("222222222222", "us-east-1", TWO),
        ("222222222222", "eu-west-1", TWO),
    ]


def test_json_list_with_every_field() -> None:
    """A JSON list: per-target regions, external id and bucket; a target without regions gets
    the run's."""
    loaded = settings(
        BACKUPWATCH_TARGETS=targets_json(
            {
                "role_arn": ONE,
                "external_id": "ext-111",
                "regions": ["ap-southeast-2"],
                "s3_bucket": "backups-111",
            },
            {"role_arn": TWO},
        )
    )
    assert loaded.targets[0] == Target(
        role_arn=ONE, external_id="ext-111", regions=("ap-southeast-2",), s3_bucket="backups-111"
    )
    assert loaded.scopes == (
        Scope(
            region="ap-southeast-2",
            account_id="111111111111",
            role_arn=ONE,
            external_id="ext-111",
            s3_bucket="backups-111",
        ),
        Scope(region="us-east-1", account_id="222222222222", role_arn=TWO),
        Scope(region="eu-west-1", account_id="222222222222", role_arn=TWO),
    )


def test_json_object_is_one_target() -> None:
    """A single JSON object is a list of one."""
    loaded = settings(BACKUPWATCH_TARGETS=json.dumps({"role_arn": ONE, "regions": ["eu-west-1"]}))
    assert loaded.scopes == (Scope(region="eu-west-1", account_id="111111111111", role_arn=ONE),)


def test_target_without_role_is_the_home_account() -> None:
    """A JSON target with no role is the account backupwatch runs in, with its own credentials."""
    loaded = settings(
        BACKUPWATCH_TARGETS=targets_json({"regions": ["eu-west-1"]}, {"role_arn": ONE})
    )
    assert loaded.scopes[0] == Scope(region="eu-west-1")
    assert loaded.scopes[0].label == "eu-west-1"
    assert loaded.scopes[1].label == "111111111111 us-east-1"


def test_duplicate_regions_of_a_target_are_checked_once() -> None:
    """``["eu-west-1", "eu-west-1"]`` is one scope, not two children scanning the same thing."""
    loaded = settings(
        BACKUPWATCH_TARGETS=targets_json({"role_arn": ONE, "regions": ["eu-west-1", "eu-west-1"]})
    )
    assert [s.region for s in loaded.scopes] == ["eu-west-1"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"{ONE},not-an-arn", "targets[1].role_arn: not an IAM role ARN"),
        ("arn:aws:iam::12345:role/r", "targets[0].role_arn: not an IAM role ARN"),
        ("arn:aws:iam::111111111111:user/bob", "targets[0].role_arn: not an IAM role ARN"),
        (targets_json({"role_arn": ONE}, {"role_arn": "x"}), "targets[1].role_arn"),
        (targets_json({"role_arn": ONE, "colour": "red"}), "targets[0].colour: Extra inputs"),
        (
            targets_json({"role_arn": ONE, "regions": ["eu-west-1", "moon-1"]}),
            "targets[0].regions: 'moon-1' is not an AWS region name",
        ),
        (
            targets_json({"role_arn": ONE, "s3_bucket": "s3://backups/x"}),
            "targets[0].s3_bucket: give the bucket name only",
        ),
        (
            targets_json({"role_arn": ONE, "external_id": "x"}),
            "targets[0].external_id: an external id is 2 to 1224",
        ),
        (targets_json({"role_arn": ONE}, 7), "targets[1]: Input should be a valid dictionary"),
        ("[{", "not valid JSON"),
        ('[{"role_arn": "' + ONE + '",}]', "not valid JSON"),
    ],
)
def test_bad_targets_name_the_variable_the_item_and_the_field(text: str, message: str) -> None:
    """A bad target is refused with BACKUPWATCH_TARGETS, its value, the item and the field."""
    error = refused(BACKUPWATCH_TARGETS=text)
    assert error.variable == "BACKUPWATCH_TARGETS"
    assert error.value == text
    assert message in str(error)


# --- external id ------------------------------------------------------------------------------


def test_external_id_applies_to_every_role_without_its_own() -> None:
    """BACKUPWATCH_EXTERNAL_ID is the default; a target's own wins; the home account (no role)
    gets none, since no role is assumed there."""
    loaded = settings(
        BACKUPWATCH_EXTERNAL_ID="org-wide",
        BACKUPWATCH_TARGETS=targets_json(
            {"role_arn": ONE, "regions": ["us-east-1"]},
            {"role_arn": TWO, "external_id": "own-222", "regions": ["us-east-1"]},
            {"regions": ["us-east-1"]},
        ),
    )
    assert [s.external_id for s in loaded.scopes] == ["org-wide", "own-222", None]


@pytest.mark.parametrize("value", ["x", "has space", "a" * 1225, "semi;colon"])
def test_bad_external_id_is_refused(value: str) -> None:
    """An external id outside AWS's 2-1224 allowed characters is refused, named."""
    error = refused(BACKUPWATCH_EXTERNAL_ID=value)
    assert error.variable == "BACKUPWATCH_EXTERNAL_ID"
    assert "2 to 1224" in str(error)


# --- organization ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("backupwatch-reader", "backupwatch-reader"), ("/teams/reader/", "teams/reader")],
)
def test_organization_role_name_fans_out(value: str, expected: str) -> None:
    """A role name (or path/name) turns on organization mode; the scopes are known only after
    organizations:ListAccounts, so the settings list only the home ones."""
    loaded = settings(BACKUPWATCH_ORGANIZATION_ROLE_NAME=value)
    assert loaded.organization_role_name == expected
    assert loaded.fans_out


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("arn:aws:iam::111111111111:role/reader", "not its ARN"),
        ("reader role", "not an IAM role name"),
        ("reader;drop", "not an IAM role name"),
    ],
)
def test_bad_organization_role_name_is_refused(value: str, message: str) -> None:
    """An ARN or a name with characters IAM refuses is a ConfigurationError, named."""
    error = refused(BACKUPWATCH_ORGANIZATION_ROLE_NAME=value)
    assert error.variable == "BACKUPWATCH_ORGANIZATION_ROLE_NAME"
    assert message in str(error)


def test_targets_and_organization_together_are_refused() -> None:
    """Two sources of accounts would be ambiguous: refused, naming BACKUPWATCH_TARGETS."""
    error = refused(BACKUPWATCH_TARGETS=ONE, BACKUPWATCH_ORGANIZATION_ROLE_NAME="reader")
    assert error.variable == "BACKUPWATCH_TARGETS"
    assert "not both" in str(error)


# --- the report archive ----------------------------------------------------------------------


def test_report_settings_defaults() -> None:
    """No report bucket: no archive; the prefix defaults to ``backupwatch/``; no link."""
    loaded = settings()
    assert (loaded.report_bucket, loaded.report_prefix, loaded.report_url_hours) == (
        None,
        "backupwatch/",
        0.0,
    )


@pytest.mark.parametrize(
    ("prefix", "expected"), [("reports", "reports/"), ("a/b/", "a/b/"), ("x.y-z_(1)", "x.y-z_(1)/")]
)
def test_report_prefix_is_a_folder(prefix: str, expected: str) -> None:
    """The report prefix always ends in one ``/``, so keys never run into the prefix."""
    loaded = settings(BACKUPWATCH_REPORT_BUCKET="reports-bucket", BACKUPWATCH_REPORT_PREFIX=prefix)
    assert loaded.report_prefix == expected


@pytest.mark.parametrize(
    ("variables", "variable", "message"),
    [
        (
            {"BACKUPWATCH_REPORT_BUCKET": "s3://reports"},
            "BACKUPWATCH_REPORT_BUCKET",
            "bucket name only",
        ),
        ({"BACKUPWATCH_REPORT_PREFIX": "/abs"}, "BACKUPWATCH_REPORT_PREFIX", "not starting with /"),
        ({"BACKUPWATCH_REPORT_PREFIX": "a b"}, "BACKUPWATCH_REPORT_PREFIX", "a key prefix"),
        (
            {"BACKUPWATCH_REPORT_URL_HOURS": "2"},
            "BACKUPWATCH_REPORT_URL_HOURS",
            "needs BACKUPWATCH_REPORT_BUCKET",
        ),
        (
            {"BACKUPWATCH_REPORT_URL_HOURS": "169", "BACKUPWATCH_REPORT_BUCKET": "reports"},
            "BACKUPWATCH_REPORT_URL_HOURS",
            "168",
        ),
        (
            {"BACKUPWATCH_REPORT_URL_HOURS": "soon", "BACKUPWATCH_REPORT_BUCKET": "reports"},
            "BACKUPWATCH_REPORT_URL_HOURS",
            "expected a number of hours",
        ),
    ],
)
def test_bad_report_settings_are_refused(
    variables: dict[str, str], variable: str, message: str
) -> None:
    """Each bad report setting is refused, naming its variable and saying what is wrong."""
    error = refused(**variables)
    assert error.variable == variable
    assert message in str(error)


def test_report_link_hours_up_to_seven_days() -> None:
    """A presigned link may last up to 168 hours (SigV4's limit)."""
    loaded = settings(BACKUPWATCH_REPORT_BUCKET="reports", BACKUPWATCH_REPORT_URL_HOURS="168")
    assert loaded.report_url_hours == 168.0


def test_a_scope_listed_twice_is_refused() -> None:
    """The same account-region in two targets would be checked twice: refused, both named."""
    error = refused(BACKUPWATCH_TARGETS=f"{ONE},{ONE}")
    assert error.variable == "BACKUPWATCH_TARGETS"
    assert "targets[1]: 111111111111 in us-east-1 is already targets[0]" in str(error)


def test_one_account_in_two_targets_with_other_regions_is_accepted() -> None:
    """Two entries for one account are fine when their regions differ (two roles, say)."""
    text = targets_json(
        {"role_arn": ONE, "regions": ["us-east-1"]},
        {"role_arn": ONE.replace("reader", "auditor"), "regions": ["eu-west-1"]},
    )
    assert [s.region for s in settings(BACKUPWATCH_TARGETS=text).scopes] == [
        "us-east-1",
        "eu-west-1",
    ]


def test_backups_bucket_not_needed_when_every_target_names_one() -> None:
    """BACKUPWATCH_S3_BUCKET is only required for targets that list the run's own bucket."""
    own = targets_json({"role_arn": ONE, "s3_bucket": "member-backups"})
    variables = {k: v for k, v in BASE.items() if k != "BACKUPWATCH_S3_BUCKET"}
    loaded = load_settings({**variables, "BACKUPWATCH_TARGETS": own})
    assert loaded.s3_bucket is None
    assert loaded.scopes[0].s3_bucket == "member-backups"
    mixed = targets_json({"role_arn": ONE, "s3_bucket": "member-backups"}, {"role_arn": TWO})
    with pytest.raises(ConfigurationError, match="BACKUPWATCH_S3_BUCKET"):
        load_settings({**variables, "BACKUPWATCH_TARGETS": mixed})
