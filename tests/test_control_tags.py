"""The policy tags a tenant may carry (docs/tagging.md, "Policy tags"): each may tighten the
operator's policy controls, or switch one on for its tenant, never loosen one.

For each of ``backupwatch:rds-backup-rule``, ``backupwatch:min-retention-days``,
``backupwatch:require-encryption`` and ``backupwatch:daily-backup-days``: a valid value is
applied; a malformed one is a problem (the tenant is ``ERROR``) and the setting applies; one
that would loosen the setting is a problem too, and the setting applies; one that tightens it is
applied. What applies is read where the verdicts read it (``rule_for``, ``controls_for``), so a
tag that slipped through tenancy would show here too.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from backupwatch import Check, Settings, Status, Tenant, load_settings
from backupwatch.core.evaluation import tenant_report
from backupwatch.core.evidence_rule import rule_for
from backupwatch.core.models import CheckResult
from backupwatch.core.policy import controls_for
from backupwatch.core.tenancy import (
    TAG_COPY_REGIONS,
    TAG_DAILY_BACKUP_DAYS,
    TAG_MIN_RETENTION_DAYS,
    TAG_RDS_BACKUP_RULE,
    TAG_REQUIRE_ENCRYPTION,
    tenant_from_instance,
)

from .conftest import REGION, TENANT_TAG, env_for

TAGGING = Path(__file__).resolve().parent.parent / "docs" / "tagging.md"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/0b9e6c2a-5d1f-4e8a-9c3b-7f2d1e4a6b58"
NOW = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
BOTH_CHECKS = {"BACKUPWATCH_CHECKS": "rds,backup"}


def settings_with(**variables: str) -> Settings:
    return load_settings(env_for(**variables))


def tenant(tags: dict[str, str], settings: Settings) -> Tenant:
    found = tenant_from_instance(
        db_instance_identifier="db-acme",
        region=REGION,
        tags={TENANT_TAG: "acme", **tags},
        backup_retention_period=7,
        settings=settings,
    )
    assert found is not None
    return found


def status_of(tenant: Tenant, settings: Settings) -> Status:
    """The tenant's status with every check OK: its problems alone decide."""
    ok = {Check.RDS: CheckResult(check=Check.RDS, status=Status.OK, reason="fresh")}
    return tenant_report(tenant, ok, now=NOW, settings=settings).status


# --- backupwatch:rds-backup-rule --------------------------------------------------------------


@pytest.mark.parametrize("value", ["both", "Both", " BOTH "])
def test_rule_both_tightens_either(value: str) -> None:
    """Under ``BACKUPWATCH_RDS_BACKUP_RULE=either``, ``both`` requires each kind for this one."""
    settings = settings_with(**BOTH_CHECKS, BACKUPWATCH_RDS_BACKUP_RULE="either")
    found = tenant({TAG_RDS_BACKUP_RULE: value}, settings)
    assert found.problems == ()
    assert found.notes == ()
    assert rule_for(found, settings) == "both"
    assert status_of(found, settings) is Status.OK


@pytest.mark.parametrize(("setting", "value"), [("both", "both"), ("either", "either")])
def test_rule_equal_to_the_setting_is_valid(setting: str, value: str) -> None:
    settings = settings_with(**BOTH_CHECKS, BACKUPWATCH_RDS_BACKUP_RULE=setting)
    found = tenant({TAG_RDS_BACKUP_RULE: value}, settings)
    assert found.problems == ()
    assert rule_for(found, settings) == setting


@pytest.mark.parametrize("value", ["either", "Either", " EITHER "])
def test_rule_either_cannot_loosen_both(value: str) -> None:
    """The careless variant: under the default ``both``, a tag saying ``either`` must not let
    one kind of evidence stand in for the other. It is a problem, and both are required."""
    settings = settings_with(**BOTH_CHECKS)  # BACKUPWATCH_RDS_BACKUP_RULE unset: both
    found = tenant({TAG_RDS_BACKUP_RULE: value}, settings)
    assert found.problems == (
        f"tag backupwatch:rds-backup-rule={value!r} cannot loosen "
        "BACKUPWATCH_RDS_BACKUP_RULE=both; both are required",
    )
    assert found.rds_backup_rule is None
    assert rule_for(found, settings) == "both"
    assert status_of(found, settings) is Status.ERROR


def test_rule_either_cannot_loosen_an_explicit_both() -> None:
    settings = settings_with(**BOTH_CHECKS, BACKUPWATCH_RDS_BACKUP_RULE="both")
    found = tenant({TAG_RDS_BACKUP_RULE: "either"}, settings)
    assert len(found.problems) == 1
    assert rule_for(found, settings) == "both"


@pytest.mark.parametrize("value", ["all", "one", "", "both either", "rds", " Both, either "])
def test_rule_malformed_is_a_problem_and_the_setting_applies(value: str) -> None:
    """The reason shows the tag's value as it is (not stripped nor lowered), and which rule
    applies in its place."""
    for setting in ("both", "either"):
        settings = settings_with(**BOTH_CHECKS, BACKUPWATCH_RDS_BACKUP_RULE=setting)
        found = tenant({TAG_RDS_BACKUP_RULE: value}, settings)
        assert found.problems == (
            f"tag {TAG_RDS_BACKUP_RULE}={value!r} is not both or either; "
            f"checked with BACKUPWATCH_RDS_BACKUP_RULE={setting}",
        )
        assert rule_for(found, settings) == setting
        assert status_of(found, settings) is Status.ERROR


# --- backupwatch:min-retention-days and backupwatch:daily-backup-days ----------------------------

DAY_TAGS = [
    # tag, field, setting, most
    (TAG_MIN_RETENTION_DAYS, "min_retention_days", "BACKUPWATCH_MIN_RETENTION_DAYS", 36_500),
    (TAG_DAILY_BACKUP_DAYS, "daily_backup_days", "BACKUPWATCH_DAILY_BACKUP_DAYS", 35),
]


def _days(settings: Settings, found: Tenant, field: str) -> int | None:
    value: int | None = getattr(controls_for(found, settings), field)
    return value


@pytest.mark.parametrize(("tag", "field", "variable", "most"), DAY_TAGS)
@pytest.mark.parametrize("value", ["1", "7", " 14 "])
def test_days_switch_the_control_on_where_the_setting_is_unset(
    tag: str, field: str, variable: str, most: int, value: str
) -> None:
    settings = settings_with()
    found = tenant({tag: value}, settings)
    assert found.problems == ()
    assert _days(settings, found, field) == int(value)
    assert controls_for(found, settings).any


@pytest.mark.parametrize(("tag", "field", "variable", "most"), DAY_TAGS)
def test_days_at_the_ends_of_the_range_are_valid(
    tag: str, field: str, variable: str, most: int
) -> None:
    settings = settings_with()
    for days in (1, most):
        found = tenant({tag: str(days)}, settings)
        assert found.problems == ()
        assert _days(settings, found, field) == days


@pytest.mark.parametrize(("tag", "field", "variable", "most"), DAY_TAGS)
def test_days_above_the_setting_tighten_it(tag: str, field: str, variable: str, most: int) -> None:
    settings = settings_with(**{variable: "5"})
    for days in ("5", "6", str(most)):  # at the bound, and beyond it the strict way
        found = tenant({tag: days}, settings)
        assert found.problems == ()
        assert _days(settings, found, field) == int(days)
        assert status_of(found, settings) is Status.OK


@pytest.mark.parametrize(("tag", "field", "variable", "most"), DAY_TAGS)
def test_days_below_the_setting_cannot_loosen_it(
    tag: str, field: str, variable: str, most: int
) -> None:
    settings = settings_with(**{variable: "5"})
    found = tenant({tag: "4"}, settings)
    assert found.problems == (
        f"tag {tag}='4' is below the operator's {variable}=5; checked with 5 days",
    )
    assert _days(settings, found, field) == 5
    assert status_of(found, settings) is Status.ERROR


MALFORMED_DAYS = ["0", "-1", "7.5", "a week", "", "1e3", "+7", "0x10", "7 days", "1_000"]
NON_ASCII_DIGITS = ["²", "7²", "٣", "３", "١٤"]
"""Digits to ``str.isdigit()`` (and some to ``int()``: Arabic-Indic, full-width), but not the
ASCII digits a tag's whole number of days is written with."""


def _applies(setting: str | None) -> str:
    """How a malformed day tag's reason ends: what is checked in its place."""
    return f"checked with {setting} days" if setting else "the control stays off"


@pytest.mark.parametrize(("tag", "field", "variable", "most"), DAY_TAGS)
@pytest.mark.parametrize("value", MALFORMED_DAYS + NON_ASCII_DIGITS)
def test_days_malformed_are_a_problem_and_the_setting_applies(
    tag: str, field: str, variable: str, most: int, value: str
) -> None:
    """Only ASCII digits make a number of days; anything else (a superscript or another
    script's digits included, which ``int()`` would read or refuse) is the tenant's problem,
    never a crash, and the setting applies: its days, or no control at all."""
    for setting in (None, "5"):
        settings = settings_with(**({variable: setting} if setting else {}))
        found = tenant({tag: value}, settings)
        assert found.problems == (
            f"tag {tag}={value.strip()!r} is not a whole number of days, 1 to {most}; "
            f"{_applies(setting)}",
        )
        assert _days(settings, found, field) == (int(setting) if setting else None)
        assert status_of(found, settings) is Status.ERROR


@pytest.mark.parametrize(("tag", "field", "variable", "most"), DAY_TAGS)
def test_days_beyond_the_range_are_malformed(
    tag: str, field: str, variable: str, most: int
) -> None:
    for setting in (None, "5"):
        settings = settings_with(**({variable: setting} if setting else {}))
        found = tenant({tag: str(most + 1)}, settings)
        assert found.problems == (
            f"tag {tag}='{most + 1}' is not a whole number of days, 1 to {most}; "
            f"{_applies(setting)}",
        )
        assert _days(settings, found, field) == (int(setting) if setting else None)


@pytest.mark.parametrize(("tag", "field", "variable", "most"), DAY_TAGS)
@pytest.mark.parametrize("value", NON_ASCII_DIGITS)
def test_days_in_other_digits_are_malformed_not_a_crash(
    tag: str, field: str, variable: str, most: int, value: str
) -> None:
    """The careless variant: ``str.isdigit()`` takes '²' (which ``int()`` refuses, a crash)
    and '٣' (which ``int()`` reads as 3, a number nobody wrote). Both are a problem here, and
    the tenant's other tags still apply."""
    settings = settings_with()
    found = tenant({tag: value, TAG_REQUIRE_ENCRYPTION: "true"}, settings)
    assert found.problems == (
        f"tag {tag}={value!r} is not a whole number of days, 1 to {most}; the control stays off",
    )
    assert _days(settings, found, field) is None
    assert controls_for(found, settings).encryption is True


# --- backupwatch:require-encryption -----------------------------------------------------------


@pytest.mark.parametrize("value", ["true", "TRUE", "yes", "On", "1"])
def test_encryption_true_switches_the_control_on(value: str) -> None:
    settings = settings_with()
    found = tenant({TAG_REQUIRE_ENCRYPTION: value}, settings)
    assert found.problems == ()
    assert controls_for(found, settings).encryption is True


@pytest.mark.parametrize(
    "variables",
    [{"BACKUPWATCH_REQUIRE_ENCRYPTED_BACKUPS": "true"}, {"BACKUPWATCH_BACKUP_KMS_KEY": KEY_ARN}],
)
def test_encryption_true_under_the_setting_is_valid(variables: dict[str, str]) -> None:
    settings = settings_with(**variables)
    found = tenant({TAG_REQUIRE_ENCRYPTION: "true"}, settings)
    assert found.problems == ()
    assert controls_for(found, settings).encryption is True


@pytest.mark.parametrize("value", ["false", "No", "OFF", "0"])
def test_encryption_false_is_valid_where_the_setting_is_off(value: str) -> None:
    settings = settings_with()
    found = tenant({TAG_REQUIRE_ENCRYPTION: value}, settings)
    assert found.problems == ()
    assert controls_for(found, settings).encryption is False
    assert status_of(found, settings) is Status.OK


@pytest.mark.parametrize(
    "variables",
    [{"BACKUPWATCH_REQUIRE_ENCRYPTED_BACKUPS": "true"}, {"BACKUPWATCH_BACKUP_KMS_KEY": KEY_ARN}],
)
@pytest.mark.parametrize("value", ["false", "no", "0"])
def test_encryption_false_cannot_switch_the_setting_off(
    variables: dict[str, str], value: str
) -> None:
    """A required key implies encryption: a tag cannot switch either off."""
    settings = settings_with(**variables)
    found = tenant({TAG_REQUIRE_ENCRYPTION: value}, settings)
    switch = next(iter(variables))  # the setting that switched it on, named
    assert found.problems == (
        f"tag {TAG_REQUIRE_ENCRYPTION}={value!r} cannot switch off what "
        f"{switch} switched on; encryption is checked",
    )
    controls = controls_for(found, settings)
    assert controls.encryption is True
    assert controls.kms_key == variables.get("BACKUPWATCH_BACKUP_KMS_KEY")
    assert status_of(found, settings) is Status.ERROR


@pytest.mark.parametrize("value", ["maybe", "", "encrypted", "2", " Maybe "])
def test_encryption_malformed_is_a_problem_and_the_setting_applies(value: str) -> None:
    for setting, encryption in (("false", False), ("true", True)):
        settings = settings_with(BACKUPWATCH_REQUIRE_ENCRYPTED_BACKUPS=setting)
        found = tenant({TAG_REQUIRE_ENCRYPTION: value}, settings)
        assert found.problems == (
            f"tag {TAG_REQUIRE_ENCRYPTION}={value!r} is not true or false; "
            "checked with the setting",
        )
        assert controls_for(found, settings).encryption is encryption
        assert status_of(found, settings) is Status.ERROR


# --- together ---------------------------------------------------------------------------------


def test_every_tag_tightening_at_once() -> None:
    settings = settings_with(
        **BOTH_CHECKS,
        BACKUPWATCH_RDS_BACKUP_RULE="either",
        BACKUPWATCH_MIN_RETENTION_DAYS="7",
        BACKUPWATCH_DAILY_BACKUP_DAYS="3",
    )
    found = tenant(
        {
            TAG_RDS_BACKUP_RULE: "both",
            TAG_MIN_RETENTION_DAYS: "35",
            TAG_REQUIRE_ENCRYPTION: "true",
            TAG_DAILY_BACKUP_DAYS: "7",
        },
        settings,
    )
    assert found.problems == ()
    assert rule_for(found, settings) == "both"
    controls = controls_for(found, settings)
    assert (controls.min_retention_days, controls.encryption, controls.daily_backup_days) == (
        35,
        True,
        7,
    )


def test_every_tag_loosening_at_once_is_refused_tag_by_tag() -> None:
    """Each refusal is its own problem; every setting still applies."""
    settings = settings_with(
        **BOTH_CHECKS,
        BACKUPWATCH_MIN_RETENTION_DAYS="35",
        BACKUPWATCH_REQUIRE_ENCRYPTED_BACKUPS="true",
        BACKUPWATCH_DAILY_BACKUP_DAYS="7",
    )
    found = tenant(
        {
            TAG_RDS_BACKUP_RULE: "either",
            TAG_MIN_RETENTION_DAYS: "1",
            TAG_REQUIRE_ENCRYPTION: "false",
            TAG_DAILY_BACKUP_DAYS: "1",
        },
        settings,
    )
    assert len(found.problems) == 4
    assert rule_for(found, settings) == "both"
    controls = controls_for(found, settings)
    assert (controls.min_retention_days, controls.encryption, controls.daily_backup_days) == (
        35,
        True,
        7,
    )


def test_the_policy_tags_make_no_one_a_tenant() -> None:
    """Like every per-tenant tag, they do nothing without the tenant tag."""
    settings = settings_with()
    tags = {
        TAG_RDS_BACKUP_RULE: "both",
        TAG_MIN_RETENTION_DAYS: "35",
        TAG_REQUIRE_ENCRYPTION: "true",
        TAG_DAILY_BACKUP_DAYS: "7",
        TAG_COPY_REGIONS: "eu-central-1",
    }
    found = tenant_from_instance(
        db_instance_identifier="db-untagged",
        region=REGION,
        tags=tags,
        backup_retention_period=7,
        settings=settings,
    )
    assert found is None


def documented_reasons() -> list[str]:
    """The "Real reasons" of docs/tagging.md's policy tags."""
    section = TAGGING.read_text(encoding="utf-8").split("\n### Policy tags\n", 1)[1]
    block = section.split("Real reasons", 1)[1].split("```text\n", 1)[1]
    return block.split("\n```", 1)[0].splitlines()


@pytest.mark.parametrize("line", documented_reasons())
def test_the_reasons_docs_tagging_md_shows_are_the_librarys(line: str) -> None:
    """Each, word for word, under the settings the page names."""
    settings = settings_with(
        **BOTH_CHECKS,
        BACKUPWATCH_MIN_RETENTION_DAYS="35",
        BACKUPWATCH_REQUIRE_ENCRYPTED_BACKUPS="true",
        BACKUPWATCH_DAILY_BACKUP_DAYS="7",
    )
    found = re.match(r"tag (backupwatch:[\w-]+)='([^']*)' ", line)
    assert found, f"docs/tagging.md: {line!r} names no tag and value"
    assert tenant({found[1]: found[2]}, settings).problems == (line,)


# --- backupwatch:copy-regions ---------------------------------------------------------------


def test_copy_regions_tag_adds_regions() -> None:
    settings = settings_with(BACKUPWATCH_COPY_REGIONS="eu-central-1")
    found = tenant({TAG_COPY_REGIONS: "us-west-2 eu-central-1"}, settings)
    assert found.problems == ()
    assert set(found.copy_regions) == {"us-west-2", "eu-central-1"}


@pytest.mark.parametrize("value", ["Frankfurt", "", "eu-central-1 mars"])
def test_copy_regions_tag_malformed_is_a_problem(value: str) -> None:
    settings = settings_with()
    found = tenant({TAG_COPY_REGIONS: value}, settings)
    [problem] = found.problems
    assert problem.startswith(f"tag {TAG_COPY_REGIONS}=")
    assert found.copy_regions == ()
