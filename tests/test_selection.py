"""Narrowing a run by tenant or region: a narrowed row is the whole run's row, a name that
matches nothing is an error, and a region the run does not check is said, before any call."""

from __future__ import annotations

import json

import pytest

from backupwatch import Check, Report, Retrier, Status, check_tenants, load_settings
from backupwatch.core.errors import SelectionError
from backupwatch.core.selection import configured_regions, narrow_regions

from .conftest import DENIED, NOW, OTHER_REGION, REGION, Faults, World, env_for, hours_ago
from .test_scale_out import REGIONS, member_fleet

PREFIX_TAG = "backupwatch:s3-prefix"


def run(
    world: World,
    retrier: Retrier,
    *,
    tenants: tuple[str, ...] = (),
    regions: tuple[str, ...] = (),
    **variables: str,
) -> Report:
    return check_tenants(
        load_settings(env_for(**variables)),
        session=world.session,
        clock=lambda: NOW,
        retrier=retrier,
        tenants=tenants,
        regions=regions,
    )


def nested_world(world: World) -> None:
    """acme's folder holds acme-eu's: acme's own dump is old, acme-eu's fresh."""
    world.bucket()
    world.instance("db-acme", tenant="acme", tags={PREFIX_TAG: "backups/acme/"})
    world.instance("db-acme-eu", tenant="acme-eu", tags={PREFIX_TAG: "backups/acme/eu/"})
    world.instance("db-other", tenant="other")
    world.put("backups/acme/old.dump", hours_ago(50))
    world.put("backups/acme/eu/fresh.dump", hours_ago(1))
    world.put("other-backups/x.dump", hours_ago(1))


# --- pure ---------------------------------------------------------------------------------------


def test_narrow_regions_keeps_the_runs_order_and_refuses_others() -> None:
    """Narrowing never adds a region: one the run does not check is named, with the run's."""
    settings = load_settings(env_for(BACKUPWATCH_REGIONS=f"{REGION},{OTHER_REGION}"))
    assert narrow_regions(settings, [OTHER_REGION, REGION, OTHER_REGION]) == (
        REGION,
        OTHER_REGION,
    )
    with pytest.raises(SelectionError) as refused:
        narrow_regions(settings, [REGION, "us-west-2", "eu-wst-1"])
    assert refused.value.names == ("us-west-2", "eu-wst-1")
    assert refused.value.report is None
    message = str(refused.value)
    assert message.startswith("regions 'us-west-2', 'eu-wst-1' are not checked by this run")
    assert f"its regions are {REGION}, {OTHER_REGION} (BACKUPWATCH_REGIONS" in message


def test_a_targets_own_regions_are_the_runs_too() -> None:
    targets = json.dumps(
        [{"role_arn": "arn:aws:iam::111111111111:role/r", "regions": ["ap-south-1"]}]
    )
    settings = load_settings(env_for(BACKUPWATCH_TARGETS=targets))
    assert configured_regions(settings) == (REGION, "ap-south-1")
    assert narrow_regions(settings, ["ap-south-1"]) == ("ap-south-1",)


# --- whole runs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["acme", "acme-eu"])
def test_a_narrowed_row_is_the_whole_runs_row_with_nested_folders(
    world: World, retrier: Retrier, name: str
) -> None:
    """Ownership is decided over every tenant before the names are picked: acme alone still
    skips acme-eu's folder (STALE on its own old dump, never OK on acme-eu's fresh one), and
    acme-eu alone still says whose folder it lies in."""
    nested_world(world)
    whole = {row.tenant: row for row in run(world, retrier).tenants}
    narrowed = run(world, retrier, tenants=(name,))

    assert narrowed.tenants == (whole[name],)
    assert whole["acme"].checks[Check.S3].status is Status.STALE
    assert whole["acme"].checks[Check.S3].key == "backups/acme/old.dump"
    assert any("inside the folder of tenant 'acme'" in n for n in whole["acme-eu"].notes)


def test_a_narrowed_tenant_cannot_borrow_another_tenants_folder(
    world: World, retrier: Retrier
) -> None:
    """Looked at alone, evil's tag still points at acme's folder: ERROR, as in the whole run."""
    world.bucket()
    world.instance("db-acme", tenant="acme")
    world.instance("db-evil", tenant="evil", tags={PREFIX_TAG: "acme-backups/"})
    world.put("acme-backups/fresh.dump", hours_ago(1))

    [evil] = run(world, retrier, tenants=("evil",)).tenants

    assert evil.status is Status.ERROR
    assert "belongs to tenant 'acme'" in evil.reason


def test_only_the_named_tenants_evidence_is_gathered(
    world: World, faults: Faults, retrier: Retrier
) -> None:
    """Discovery covers everyone; the S3 listing is the named tenant's alone."""
    nested_world(world)
    faults.count("s3", "ListObjectsV2")

    report = run(world, retrier, tenants=("other", "other"))

    assert [row.tenant for row in report.tenants] == ["other"]
    assert faults.calls["s3:ListObjectsV2"] == 1
    assert report.summary.tenants == 1


def test_a_name_that_matches_nothing_is_an_error_with_suggestions(
    world: World, retrier: Retrier
) -> None:
    """Never an empty, all-clear report: the error names the name and the closest tenants."""
    nested_world(world)
    with pytest.raises(SelectionError) as missing:
        run(world, retrier, tenants=("other", "acmee"))
    assert missing.value.names == ("acmee",)
    assert str(missing.value) == "no tenant named 'acmee' (did you mean 'acme', 'acme-eu'?)"
    assert missing.value.report is not None
    assert [row.tenant for row in missing.value.report.tenants] == ["other"]


def test_a_name_not_found_while_a_region_failed_may_be_there(
    world: World, faults: Faults, retrier: Retrier
) -> None:
    """The tenant may live in the region nobody could list: the error says so and carries the
    region error, instead of calling the name a typo."""
    world.bucket()
    world.instance("db-acme", tenant="acme")
    faults.inject("rds", "DescribeDBInstances", DENIED, region=OTHER_REGION)

    with pytest.raises(SelectionError) as missing:
        run(world, retrier, tenants=("globex",), BACKUPWATCH_REGIONS=",".join(REGIONS))

    assert "where backupwatch could look" in str(missing.value)
    assert "the tenant may be there" in str(missing.value)
    report = missing.value.report
    assert report is not None
    assert [e.region for e in report.region_errors] == [OTHER_REGION]


def test_regions_narrow_what_is_listed(world: World, faults: Faults, retrier: Retrier) -> None:
    """``regions`` lists only those regions: the other region's tenants are not there, and no
    call is made to it."""
    world.bucket()
    world.instance("db-east", tenant="east")
    world.instance("db-west", tenant="west", region=OTHER_REGION)
    world.put("east-backups/x.dump", hours_ago(1))
    every = faults.inject("rds", "DescribeDBInstances", DENIED, region=OTHER_REGION)

    report = run(world, retrier, regions=(REGION,), BACKUPWATCH_REGIONS=",".join(REGIONS))

    assert [row.tenant for row in report.tenants] == ["east"]
    assert report.regions == (REGION,)
    assert report.region_errors == ()
    assert every.matched == 0


def test_a_region_not_checked_is_refused_before_any_call(
    world: World, faults: Faults, retrier: Retrier
) -> None:
    with pytest.raises(SelectionError, match="'us-west-2' is not checked by this run"):
        run(world, retrier, regions=("us-west-2",))
    assert faults.api_calls == {}


def test_one_string_is_not_a_list_of_names(world: World, retrier: Retrier) -> None:
    """``tenants="acme"`` would be the names "a", "c", "m", "e": refused, not guessed."""
    with pytest.raises(TypeError, match="not one string"):
        run(world, retrier, tenants="acme")  # type: ignore[arg-type]


def test_fan_out_narrows_scopes_by_region_and_tenant(world: World, retrier: Retrier) -> None:
    """With targets, a region narrows the scopes; the tenant is picked in each account."""
    world.bucket()
    targets = member_fleet()
    report = check_tenants(
        load_settings(
            env_for(BACKUPWATCH_REGIONS=",".join(REGIONS), BACKUPWATCH_TARGETS=json.dumps(targets))
        ),
        session=world.session,
        clock=lambda: NOW,
        retrier=retrier,
        regions=(OTHER_REGION,),
        tenants=("stale",),
    )
    assert [(row.account_id, row.region, row.status) for row in report.tenants] == [
        ("111111111111", OTHER_REGION, Status.STALE)
    ]
    assert report.regions == (OTHER_REGION,)
    assert report.region_errors == ()
