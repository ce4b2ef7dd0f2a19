"""From an instance and its tags to a Tenant: name, prefix precedence, per-tenant overrides."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from backupwatch import Check, Settings, Tenant, load_settings
from backupwatch.core.config import SeedInstance
from backupwatch.core.tenancy import (
    TAG_CHECKS,
    TAG_MAX_AGE_HOURS,
    TAG_MIN_OBJECT_BYTES,
    TAG_PAUSED_UNTIL,
    TAG_RUNBOOK,
    TAG_S3_PREFIX,
    Resource,
    tenant_from_instance,
    tenant_from_resource,
    tenant_not_found,
)

from .conftest import ACCOUNT, OTHER_REGION, REGION, TENANT_TAG, env_for

IDENTIFIER = "db1-instance"


def settings_with(**variables: str) -> Settings:
    """Dry-run settings for one region, plus ``variables``."""
    return load_settings(env_for(**variables))


def seed(folder: str | None = None, identifier: str = IDENTIFIER) -> SeedInstance:
    return SeedInstance(index=1, db_instance_identifier=identifier, s3_folder=folder)


def tenant(
    tags: dict[str, str],
    *,
    settings: Settings | None = None,
    seed: SeedInstance | None = None,
    account_id: str | None = None,
    region: str = REGION,
    retention: int = 7,
) -> Tenant | None:
    return tenant_from_instance(
        db_instance_identifier=IDENTIFIER,
        region=region,
        tags=tags,
        backup_retention_period=retention,
        settings=settings or settings_with(),
        seed=seed,
        account_id=account_id,
    )


def found(tags: dict[str, str], **kwargs: Any) -> Tenant:
    result = tenant(tags, **kwargs)
    assert result is not None
    return result


# --- who is a tenant ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tags",
    [
        {},
        {"Name": "acme"},
        {"Backupwatch:Tenant": "acme"},
        {"backupwatch:tenant ": "acme"},
        {TAG_S3_PREFIX: "acme/", TAG_MAX_AGE_HOURS: "12"},
    ],
)
def test_untagged_instance_not_in_the_environment_is_not_a_tenant(tags: dict[str, str]) -> None:
    """Without the exact tenant tag and without a seed entry, the instance is ignored."""
    assert tenant(tags) is None


def test_custom_tenant_tag_is_used() -> None:
    """BACKUPWATCH_TENANT_TAG changes which tag marks a tenant."""
    settings = settings_with(BACKUPWATCH_TENANT_TAG="team")
    assert tenant({TENANT_TAG: "acme"}, settings=settings) is None
    assert found({"team": "acme"}, settings=settings).name == "acme"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("acme", "acme"),
        (" acme ", "acme"),
        ("", IDENTIFIER),
        ("   ", IDENTIFIER),
        ("\t\n", IDENTIFIER),
    ],
)
def test_tenant_name_is_the_tag_value_or_the_identifier(value: str, expected: str) -> None:
    """The tag's stripped value names the tenant; an empty or blank value falls back to the id."""
    assert found({TENANT_TAG: value}).name == expected


@pytest.mark.parametrize(
    "name",
    [
        "acme; rm -rf /",
        "$(whoami)",
        "`id`",
        "ü-tenant",
        "租户",
        "tenant 🚀",
        "a/b",
        "{account_id}",
        "x" * 256,
    ],
)
def test_unusual_tenant_names_pass_through_unchanged(name: str) -> None:
    """Unicode, very long and shell-ish names are kept verbatim in the name and the prefix."""
    result = found({TENANT_TAG: name})
    assert result.name == name
    assert result.s3_prefix == f"{name}-backups/"
    assert result.problems == ()


@pytest.mark.parametrize(
    ("tags", "with_seed", "expected"),
    [
        ({TENANT_TAG: "acme"}, False, "tag"),
        ({}, True, "environment"),
        ({TENANT_TAG: "acme"}, True, "tag+environment"),
        ({TENANT_TAG: ""}, True, "tag+environment"),
    ],
)
def test_source_says_what_made_it_a_tenant(
    tags: dict[str, str], with_seed: bool, expected: str
) -> None:
    """source is `tag`, `environment`, or `tag+environment`."""
    assert found(tags, seed=seed() if with_seed else None).source == expected


def test_seed_only_tenant_is_named_after_the_instance() -> None:
    """An instance listed only in the environment is named by its identifier."""
    result = found({}, seed=seed("db1-backups/"))
    assert result.name == IDENTIFIER
    assert result.s3_prefix == "db1-backups/"


def test_tenant_carries_the_instance_and_settings_values() -> None:
    """Identifier, region, account, retention and size floor are copied onto the tenant."""
    settings = settings_with(BACKUPWATCH_MIN_OBJECT_BYTES="512", BACKUPWATCH_MAX_AGE_HOURS="30")
    result = found(
        {TENANT_TAG: "acme"},
        settings=settings,
        account_id=ACCOUNT,
        region=OTHER_REGION,
        retention=0,
    )
    assert result.db_instance_identifier == IDENTIFIER
    assert result.region == OTHER_REGION
    assert result.account_id == ACCOUNT
    assert result.backup_retention_period == 0
    assert result.min_object_bytes == 512
    assert result.max_age_hours == 30
    assert result.problems == ()


# --- prefix ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix_tag", "seed_folder", "expected"),
    [
        (None, None, "acme-backups/"),
        (None, "legacy-backups/", "legacy-backups/"),
        ("tagged", None, "tagged/"),
        ("tagged/", "legacy-backups/", "tagged/"),
        (" tagged/sub ", "legacy-backups/", "tagged/sub/"),
    ],
)
def test_prefix_precedence_tag_then_seed_folder_then_template(
    prefix_tag: str | None, seed_folder: str | None, expected: str
) -> None:
    """The s3-prefix tag beats S3_FOLDER_<n>, which beats the template; tags become folders."""
    tags = {TENANT_TAG: "acme"}
    if prefix_tag is not None:
        tags[TAG_S3_PREFIX] = prefix_tag
    with_seed = seed(seed_folder) if seed_folder is not None else None
    result = found(tags, seed=with_seed)
    assert result.s3_prefix == expected
    assert result.problems == ()


def test_blank_tenant_tag_uses_the_identifier_in_the_template() -> None:
    """An empty tenant tag renders the template with the identifier as the tenant."""
    assert found({TENANT_TAG: ""}).s3_prefix == f"{IDENTIFIER}-backups/"


def test_template_receives_tenant_identifier_and_region() -> None:
    """The template is rendered with this tenant's name, identifier and region."""
    settings = settings_with(
        BACKUPWATCH_PREFIX_TEMPLATE="{region}/{db_instance_identifier}/{tenant}"
    )
    result = found({TENANT_TAG: "acme"}, settings=settings, region=OTHER_REGION)
    assert result.s3_prefix == f"{OTHER_REGION}/{IDENTIFIER}/acme/"


@pytest.mark.parametrize("value", ["", " ", "\t"])
@pytest.mark.parametrize("with_seed", [False, True])
def test_empty_s3_prefix_tag_is_a_problem(value: str, with_seed: bool) -> None:
    """An empty s3-prefix tag leaves no prefix and a problem naming the tag."""
    result = found(
        {TENANT_TAG: "acme", TAG_S3_PREFIX: value},
        seed=seed("legacy-backups/") if with_seed else None,
    )
    assert result.s3_prefix is None
    (problem,) = result.problems
    assert TAG_S3_PREFIX in problem


def test_account_id_template_without_account_id_is_a_problem_not_an_exception() -> None:
    """A template needing {account_id} with no account id gives prefix None and a problem."""
    settings = settings_with(BACKUPWATCH_PREFIX_TEMPLATE="{account_id}/{tenant}/")
    result = found({TENANT_TAG: "acme"}, settings=settings)
    assert result.s3_prefix is None
    (problem,) = result.problems
    assert "{account_id}" in problem


def test_account_id_template_with_account_id_renders() -> None:
    """With the account id known, an {account_id} template renders normally."""
    settings = settings_with(BACKUPWATCH_PREFIX_TEMPLATE="{account_id}/{tenant}/")
    result = found({TENANT_TAG: "acme"}, settings=settings, account_id=ACCOUNT)
    assert result.s3_prefix == f"{ACCOUNT}/acme/"
    assert result.problems == ()


@pytest.mark.parametrize(
    ("tags", "seed_folder", "expected"),
    [
        ({TAG_S3_PREFIX: "tagged/"}, None, "tagged/"),
        ({}, "legacy-backups/", "legacy-backups/"),
    ],
)
def test_account_id_is_not_needed_when_the_template_is_not_used(
    tags: dict[str, str], seed_folder: str | None, expected: str
) -> None:
    """A tag or S3_FOLDER prefix avoids the template, so a missing account id is no problem."""
    settings = settings_with(BACKUPWATCH_PREFIX_TEMPLATE="{account_id}/{tenant}/")
    with_seed = seed(seed_folder) if seed_folder is not None else None
    result = found({TENANT_TAG: "acme", **tags}, settings=settings, seed=with_seed)
    assert result.s3_prefix == expected
    assert result.problems == ()


# --- max age --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("36", 36.0), ("0.5", 0.5), (" 12 ", 12.0), ("1e1", 10.0), ("168", 168.0)],
)
def test_max_age_tag_overrides_the_window(value: str, expected: float) -> None:
    """A positive max-age-hours tag replaces the default window for this tenant."""
    result = found({TENANT_TAG: "acme", TAG_MAX_AGE_HOURS: value})
    assert result.max_age_hours == expected
    assert result.problems == ()


@pytest.mark.parametrize(
    "value",
    ["abc", "-1", "0", "-0", "nan", "inf", "-inf", "1e400", "", " ", "24h", "1e11", "87601"],
)
def test_malformed_max_age_tag_is_a_problem_and_keeps_the_default(value: str) -> None:
    """A malformed max-age-hours tag is a problem naming tag and value; the default applies."""
    settings = settings_with(BACKUPWATCH_MAX_AGE_HOURS="30")
    result = found({TENANT_TAG: "acme", TAG_MAX_AGE_HOURS: value}, settings=settings)
    assert result.max_age_hours == 30
    assert result.s3_prefix == "acme-backups/"
    (problem,) = result.problems
    assert TAG_MAX_AGE_HOURS in problem
    assert repr(value) in problem
    assert "30" in problem


def test_every_problem_is_kept() -> None:
    """An empty prefix tag and a bad max-age tag are both reported."""
    result = found({TENANT_TAG: "acme", TAG_S3_PREFIX: "", TAG_MAX_AGE_HOURS: "soon"})
    assert len(result.problems) == 2
    assert TAG_S3_PREFIX in result.problems[0]
    assert TAG_MAX_AGE_HOURS in result.problems[1]


# --- tenant_not_found -----------------------------------------------------------------------------


def test_not_found_names_the_regions_searched() -> None:
    """A seed no region returned is an environment tenant with one problem naming the regions."""
    settings = settings_with(BACKUPWATCH_MAX_AGE_HOURS="30", BACKUPWATCH_MIN_OBJECT_BYTES="9")
    result = tenant_not_found(
        seed("db1-backups/"), settings=settings, regions_searched=[REGION, OTHER_REGION]
    )
    assert result.name == IDENTIFIER
    assert result.db_instance_identifier == IDENTIFIER
    assert result.source == "environment"
    assert result.backup_retention_period is None
    assert result.max_age_hours == 30
    assert result.min_object_bytes == 9
    (problem,) = result.problems
    assert "not found" in problem
    assert REGION in problem
    assert OTHER_REGION in problem
    assert "could not list" not in problem


def test_not_found_names_the_failed_regions() -> None:
    """Regions whose listing failed are named in the problem."""
    result = tenant_not_found(
        seed("db1-backups/"),
        settings=settings_with(),
        regions_searched=[REGION, OTHER_REGION],
        regions_failed=[OTHER_REGION],
    )
    (problem,) = result.problems
    assert f"could not list {OTHER_REGION}" in problem


@pytest.mark.parametrize(
    ("folder", "expected"), [("db1-backups/", "db1-backups/"), (None, f"{IDENTIFIER}-backups/")]
)
def test_not_found_keeps_the_s3_folder(folder: str | None, expected: str) -> None:
    """S3_FOLDER_<n> is kept so the bucket is still checked; otherwise the template is used."""
    result = tenant_not_found(seed(folder), settings=settings_with(), regions_searched=[REGION])
    assert result.s3_prefix == expected


def test_not_found_with_a_single_region_renders_the_region() -> None:
    """With one region searched, a {region} template renders that region."""
    settings = settings_with(BACKUPWATCH_PREFIX_TEMPLATE="{region}/{tenant}/")
    result = tenant_not_found(seed(), settings=settings, regions_searched=[REGION])
    assert result.s3_prefix == f"{REGION}/{IDENTIFIER}/"


def test_not_found_never_renders_a_joined_region_list_into_the_prefix() -> None:
    """With several regions searched, {region} is unknown: no made-up `r1,r2/` prefix."""
    settings = settings_with(
        BACKUPWATCH_PREFIX_TEMPLATE="{region}/{tenant}/",
        BACKUPWATCH_REGIONS=f"{REGION},{OTHER_REGION}",
    )
    result = tenant_not_found(seed(), settings=settings, regions_searched=[REGION, OTHER_REGION])
    assert result.s3_prefix is None
    assert len(result.problems) == 2


def test_not_found_without_account_id_adds_a_problem() -> None:
    """An {account_id} template without an account id gives prefix None and a second problem."""
    settings = settings_with(BACKUPWATCH_PREFIX_TEMPLATE="{account_id}/{tenant}/")
    result = tenant_not_found(seed(), settings=settings, regions_searched=[REGION])
    assert result.s3_prefix is None
    assert len(result.problems) == 2
    assert "{account_id}" in result.problems[1]


def test_not_found_with_account_id_renders_it() -> None:
    """With the account id known, the {account_id} template renders for a missing instance."""
    settings = settings_with(BACKUPWATCH_PREFIX_TEMPLATE="{account_id}/{tenant}/")
    result = tenant_not_found(
        seed(), settings=settings, regions_searched=[REGION], account_id=ACCOUNT
    )
    assert result.s3_prefix == f"{ACCOUNT}/{IDENTIFIER}/"
    assert result.account_id == ACCOUNT
    assert len(result.problems) == 1


def test_not_found_seed_folder_needs_no_account_id() -> None:
    """S3_FOLDER_<n> avoids the template, so a missing account id adds no problem."""
    settings = settings_with(BACKUPWATCH_PREFIX_TEMPLATE="{account_id}/{tenant}/")
    result = tenant_not_found(seed("db1-backups/"), settings=settings, regions_searched=[REGION])
    assert result.s3_prefix == "db1-backups/"
    assert len(result.problems) == 1


# --- lifecycle facts and policy tags (issue #5) ---------------------------------------------------


def resource_tenant(resource: Resource, **variables: str) -> Tenant:
    result = tenant_from_resource(resource, settings=settings_with(**variables))
    assert result is not None
    return result


def test_resource_facts_are_copied_onto_the_tenant() -> None:
    """Kind, cluster, members, engine, status, creation and PITR times come from the Describe."""
    created = datetime(2026, 11, 1, tzinfo=UTC)
    restorable = datetime(2026, 11, 27, 6, 55, tzinfo=UTC)
    cluster = resource_tenant(
        Resource(
            identifier="aurora-acme",
            region=REGION,
            tags={TENANT_TAG: "acme"},
            backup_retention_period=14,
            kind="cluster",
            members=("aurora-acme-1", "aurora-acme-2"),
            engine="aurora-postgresql",
            status="available",
            created_at=created,
            latest_restorable_time=restorable,
        )
    )
    assert (cluster.kind, cluster.identifier, cluster.db_instance_identifier) == (
        "cluster",
        "aurora-acme",
        "aurora-acme",
    )
    assert cluster.members == ("aurora-acme-1", "aurora-acme-2")
    assert (cluster.engine, cluster.resource_status) == ("aurora-postgresql", "available")
    assert (cluster.created_at, cluster.latest_restorable_time) == (created, restorable)
    assert cluster.backup_retention_period == 14
    assert cluster.s3_prefix == "acme-backups/"
    replica = resource_tenant(
        Resource(
            identifier="db-r",
            region=REGION,
            tags={TENANT_TAG: ""},
            backup_retention_period=0,
            read_replica_source="db-src",
            db_cluster_identifier=None,
        )
    )
    assert (replica.kind, replica.read_replica_source, replica.name) == (
        "instance",
        "db-src",
        "db-r",
    )


def test_tenant_from_instance_still_makes_a_plain_instance() -> None:
    """The old keyword API gives an instance with no lifecycle facts and every check."""
    result = found({TENANT_TAG: "acme"})
    assert (result.kind, result.created_at, result.checks, result.paused_until) == (
        "instance",
        None,
        None,
        None,
    )


@pytest.mark.parametrize(("value", "expected"), [("0", 0), (" 1048576 ", 1048576), ("1", 1)])
def test_min_object_bytes_tag_overrides_the_setting(value: str, expected: int) -> None:
    """backupwatch:min-object-bytes replaces BACKUPWATCH_MIN_OBJECT_BYTES for this tenant."""
    result = found({TENANT_TAG: "acme", TAG_MIN_OBJECT_BYTES: value})
    assert result.min_object_bytes == expected
    assert result.problems == ()


@pytest.mark.parametrize("value", ["-1", "1.5", "1MB", "", "lots"])
def test_malformed_min_object_bytes_tag_is_a_problem(value: str) -> None:
    """A bad min-object-bytes tag is a problem naming it; the setting's minimum applies."""
    settings = settings_with(BACKUPWATCH_MIN_OBJECT_BYTES="512")
    result = found({TENANT_TAG: "acme", TAG_MIN_OBJECT_BYTES: value}, settings=settings)
    assert result.min_object_bytes == 512
    (problem,) = result.problems
    assert f"{TAG_MIN_OBJECT_BYTES}={value!r}" in problem
    assert "512 B" in problem


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("s3", (Check.S3,)),
        ("rds", (Check.RDS,)),
        ("rds s3", (Check.RDS, Check.S3)),
        ("s3+rds", (Check.RDS, Check.S3)),
        ("s3/rds", (Check.RDS, Check.S3)),
        (" s3 ", (Check.S3,)),
        ("s3,s3", (Check.S3,)),
    ],
)
def test_checks_tag_narrows_the_checks(value: str, expected: tuple[Check, ...]) -> None:
    """backupwatch:checks picks a subset of the run's checks (commas are not allowed in RDS
    tag values, so a space, + or / separates too); the order is the run's."""
    result = found({TENANT_TAG: "acme", TAG_CHECKS: value})
    assert result.checks == expected
    assert result.problems == ()
    off = [c for c in (Check.RDS, Check.S3) if c not in expected]
    assert result.notes == tuple(f"{c.value} check off by tag {TAG_CHECKS}" for c in off)


@pytest.mark.parametrize(
    ("value", "why"),
    [("s3 ebs", "unknown check 'ebs'"), ("", "names no check"), ("S3", "unknown check 'S3'")],
)
def test_malformed_checks_tag_is_a_problem_and_keeps_every_check(value: str, why: str) -> None:
    """Unknown names (or none) are a problem; the tenant is checked with every check."""
    result = found({TENANT_TAG: "acme", TAG_CHECKS: value})
    assert result.checks is None
    (problem,) = result.problems
    assert f"{TAG_CHECKS}={value!r}" in problem
    assert why in problem


def test_checks_tag_asking_for_a_check_the_run_does_not_make() -> None:
    """A known check the run does not make is a note; one that leaves nothing is a problem."""
    settings = settings_with(BACKUPWATCH_CHECKS="s3")
    both = found({TENANT_TAG: "acme", TAG_CHECKS: "rds s3"}, settings=settings)
    assert both.checks == (Check.S3,)
    assert both.problems == ()
    (note,) = both.notes
    assert "asks for rds" in note
    only_rds = found({TENANT_TAG: "acme", TAG_CHECKS: "rds"}, settings=settings)
    assert only_rds.checks is None
    (problem,) = only_rds.problems
    assert "leaves no check to run" in problem


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-01", datetime(2026, 12, 1, tzinfo=UTC)),
        ("2026-12-01T09:30", datetime(2026, 12, 1, 9, 30, tzinfo=UTC)),
        ("2026-12-01T09:30:00Z", datetime(2026, 12, 1, 9, 30, tzinfo=UTC)),
        ("2026-12-01 10:30+01:00", datetime(2026, 12, 1, 9, 30, tzinfo=UTC)),
        (" 2026-12-01 ", datetime(2026, 12, 1, tzinfo=UTC)),
    ],
)
def test_paused_until_tag_is_parsed(value: str, expected: datetime) -> None:
    """An ISO date means 00:00 UTC that day; a time without offset is UTC."""
    result = found({TENANT_TAG: "acme", TAG_PAUSED_UNTIL: value})
    assert result.paused_until == expected
    assert result.paused_until is not None
    assert result.paused_until.tzinfo is not None
    assert result.problems == ()


@pytest.mark.parametrize("value", ["next week", "", "2026-13-01", "01/12/2026", "tomorrow"])
def test_unparsable_paused_until_is_a_problem_not_a_pause(value: str) -> None:
    """An unparsable pause is never honoured: it is a problem and the tenant is not paused."""
    result = found({TENANT_TAG: "acme", TAG_PAUSED_UNTIL: value})
    assert result.paused_until is None
    (problem,) = result.problems
    assert f"{TAG_PAUSED_UNTIL}={value!r}" in problem
    assert "not paused" in problem


@pytest.mark.parametrize(
    "value", ["https://wiki.example.com/runbooks/acme", " http://x.example/r "]
)
def test_runbook_tag_is_kept(value: str) -> None:
    """backupwatch:runbook keeps an http(s) URL for the digest."""
    result = found({TENANT_TAG: "acme", TAG_RUNBOOK: value})
    assert result.runbook == value.strip()
    assert result.problems == ()


@pytest.mark.parametrize("value", ["", "wiki/acme", "ftp://x.example/r", "https://"])
def test_malformed_runbook_tag_is_a_problem(value: str) -> None:
    """A runbook that is not an http(s) URL is a problem; none is shown."""
    result = found({TENANT_TAG: "acme", TAG_RUNBOOK: value})
    assert result.runbook is None
    (problem,) = result.problems
    assert TAG_RUNBOOK in problem


def test_new_tags_make_no_one_a_tenant() -> None:
    """Policy tags alone, without the tenant tag, do not make a tenant."""
    assert (
        tenant({TAG_CHECKS: "s3", TAG_PAUSED_UNTIL: "2026-12-01", TAG_RUNBOOK: "https://x.example"})
        is None
    )
