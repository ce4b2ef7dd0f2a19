"""The terminal table says where a failure is, and never blames the tag for an unread region."""

from __future__ import annotations

import pytest

from backupwatch import RegionError, Report, render_table

from .conftest import NOW, REGION


def _report(*errors: RegionError, accounts: tuple[str, ...] = ()) -> Report:
    return Report(
        generated_at=NOW,
        regions=(REGION,),
        accounts=accounts,
        checks=(),
        tenants=(),
        region_errors=errors,
    )


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (RegionError(region=REGION, reason="x"), f"region {REGION} not checked: x"),
        (
            RegionError(account_id="111122223333", region=REGION, reason="x"),
            f"scope 111122223333 {REGION} not checked: x",
        ),
        (
            RegionError(account_id="111122223333", reason="AccessDenied on sts:AssumeRole"),
            "account 111122223333 not checked: AccessDenied on sts:AssumeRole",
        ),
        (
            RegionError(reason="AccessDenied on organizations:ListAccounts"),
            "organization not checked: AccessDenied on organizations:ListAccounts",
        ),
    ],
    ids=["region", "scope", "account", "organization"],
)
def test_each_failure_names_its_scope_never_none(error: RegionError, line: str) -> None:
    """Organization mode has errors without a region: once printed as ``region None``."""
    table = render_table(_report(error))
    assert line in table.splitlines()
    assert "None" not in table


def test_the_tag_hint_only_when_every_region_was_read() -> None:
    """Every region failed: the tenants are unknown, so "is the tag set?" would mislead."""
    failed = render_table(_report(RegionError(region=REGION, reason="NoCredentialsError")))
    assert "is the tenant tag set" not in failed
    assert "the tenants of the 1 region(s) not checked are unknown" in failed
    assert failed.endswith("0 of 0 tenants failing (none); 1 not checked")

    empty = render_table(_report())
    assert "No tenants were found: is the tenant tag set on the DB instances?" in empty
    assert empty.endswith("0 of 0 tenants failing (none)")


@pytest.mark.parametrize(
    "error",
    [
        RegionError(reason="AccessDenied on organizations:ListAccounts"),
        RegionError(account_id="111122223333", reason="AccessDenied on sts:AssumeRole"),
        RegionError(account_id="111122223333", region=REGION, reason="NoCredentialsError"),
    ],
    ids=["organization", "account", "scope"],
)
def test_organization_mode_failures_never_blame_the_tag_nor_print_none(
    error: RegionError,
) -> None:
    """Organization mode: errors without a region (or an account) still name their scope, and
    an empty report whose scopes failed says the tenants are unknown, not "is the tag set?"."""
    table = render_table(_report(error, accounts=("111122223333",)))
    assert "None" not in table
    assert "is the tenant tag set" not in table
    assert "not checked are unknown" in table


def test_one_region_read_and_empty_another_failed_is_not_the_tags_fault() -> None:
    """Some region was listed and had no tenant, another failed: the tenants of the failed one
    are unknown, so the hint still does not blame the tag."""
    report = Report(
        generated_at=NOW,
        regions=(REGION, "eu-west-1"),
        checks=(),
        tenants=(),
        region_errors=(RegionError(region="eu-west-1", reason="AccessDenied"),),
    )
    table = render_table(report)
    assert "is the tenant tag set" not in table
    assert "No tenants were found where backupwatch could look" in table
