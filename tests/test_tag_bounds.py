"""Tags cannot quietly loosen the operator's policy: the operator bounds what a tag may do.

``BACKUPWATCH_TAG_WINDOW_LIMIT_HOURS`` (the longest window), ``..._MIN_OBJECT_BYTES_FLOOR`` (the
smallest minimum size), ``..._PAUSE_LIMIT_DAYS`` (the longest pause) and ``..._MAY_SKIP_CHECKS``
(whether a check may be switched off). A tag beyond a bound is that tenant's ``ERROR``, naming
the tag and the bound, and the tenant is still checked with the default; a tag within them
that loosens the defaults is a note. Each rule has the careless variant beside it: a tag at
the bound is accepted, and a tag beyond one never turns into an OK.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from backupwatch import (
    Check,
    ConfigurationError,
    Retrier,
    Settings,
    Status,
    Tenant,
    load_settings,
)
from backupwatch.core.tenancy import Resource, bound_pause, tenant_from_resource

from .conftest import NOW, REGION, World, env_for, hours_ago
from .conftest import run_check as run

WINDOW = "BACKUPWATCH_TAG_WINDOW_LIMIT_HOURS"
FLOOR = "BACKUPWATCH_TAG_MIN_OBJECT_BYTES_FLOOR"
PAUSE = "BACKUPWATCH_TAG_PAUSE_LIMIT_DAYS"
SKIP = "BACKUPWATCH_TAG_MAY_SKIP_CHECKS"


def _tenant(tags: dict[str, str], **variables: str) -> tuple[Tenant, Settings]:
    settings = load_settings(env_for(**variables))
    resource = Resource(
        identifier="db-acme",
        region=REGION,
        tags={settings.tenant_tag: "acme", **tags},
        backup_retention_period=7,
    )
    tenant = tenant_from_resource(resource, settings=settings)
    assert tenant is not None
    return tenant, settings


# --- the window -------------------------------------------------------------------------------


def test_default_bound_is_31_days() -> None:
    """Unset, a tag may ask for up to 744 h (a monthly backup), not a year."""
    at_bound, _ = _tenant({"backupwatch:max-age-hours": "744"})
    beyond, _ = _tenant({"backupwatch:max-age-hours": "745"})
    assert (at_bound.max_age_hours, at_bound.problems) == (744, ())
    assert beyond.max_age_hours == 24
    (problem,) = beyond.problems
    assert "backupwatch:max-age-hours='745'" in problem
    assert f"bound of 744 h ({WINDOW})" in problem


def test_default_bound_follows_a_longer_default_window() -> None:
    """Raising the default window beyond 31 days never turns the same tag into an error."""
    tenant, settings = _tenant(
        {"backupwatch:max-age-hours": "1000"}, BACKUPWATCH_MAX_AGE_HOURS="1000"
    )
    assert settings.tag_window_limit == 1000
    assert tenant.problems == ()


@pytest.mark.parametrize(("tag", "accepted"), [("48", True), ("48.5", False), ("12", True)])
def test_operator_bound_on_the_window(tag: str, accepted: bool) -> None:
    tenant, _ = _tenant({"backupwatch:max-age-hours": tag}, **{WINDOW: "48"})
    assert (tenant.problems == ()) is accepted
    assert tenant.max_age_hours == (float(tag) if accepted else 24)


def test_window_beyond_the_bound_is_error_on_stale_evidence(world: World, retrier: Retrier) -> None:
    """End to end: a 30 h old backup, a tag of 72 h and a bound of 48 h. The careless variant
    (honour the tag) says OK; the tenant is ERROR, naming the tag and the bound, and the checks
    still report what the default window makes of the evidence."""
    world.bucket()
    world.instance(
        "db-loose",
        tenant="loose",
        tags={"backupwatch:max-age-hours": "72"},
        snapshot_at=hours_ago(30),
    )
    world.put("loose-backups/x.dump", hours_ago(30))

    row = run(world, retrier, **{WINDOW: "48"}).tenants[0]

    assert row.status is Status.ERROR
    assert row.failing
    assert row.reason == (  # as docs/tagging.md shows it
        "tag backupwatch:max-age-hours='72' is beyond the operator's bound of 48 h "
        f"({WINDOW}); checked with the default 24 h; "
        "rds: newest automated snapshot 30 h old (window 24 h); "
        "s3: newest backup object 30 h old (window 24 h)"
    )
    assert row.checks[Check.RDS].status is Status.STALE
    assert row.checks[Check.S3].status is Status.STALE


# --- the minimum size -------------------------------------------------------------------------


def test_floor_refuses_a_smaller_minimum(world: World, retrier: Retrier) -> None:
    """A tag lowering the minimum to 0 B under a 1 KiB floor: ERROR, and the empty dump is
    judged with the default 4 KiB minimum (EMPTY), never counted."""
    world.bucket()
    world.instance("db-tiny", tenant="tiny", tags={"backupwatch:min-object-bytes": "0"})
    world.put("tiny-backups/x.dump", hours_ago(1), size=0)

    row = run(world, retrier, BACKUPWATCH_MIN_OBJECT_BYTES="4096", **{FLOOR: "1024"}).tenants[0]

    assert row.status is Status.ERROR
    assert f"below the operator's bound of 1024 B ({FLOOR})" in row.reason
    assert row.checks[Check.S3].status is Status.EMPTY


@pytest.mark.parametrize(("tag", "accepted"), [("1024", True), ("1023", False), ("9999", True)])
def test_floor_at_the_bound_is_accepted(tag: str, accepted: bool) -> None:
    tenant, _ = _tenant(
        {"backupwatch:min-object-bytes": tag},
        BACKUPWATCH_MIN_OBJECT_BYTES="4096",
        **{FLOOR: "1024"},
    )
    assert (tenant.problems == ()) is accepted
    assert tenant.min_object_bytes == (int(tag) if accepted else 4096)


# --- switching a check off --------------------------------------------------------------------


def test_checks_off_refused_when_the_operator_says_so(world: World, retrier: Retrier) -> None:
    """``backupwatch:checks=s3`` with skipping forbidden: ERROR, and the RDS check runs anyway
    (here it finds backups off: the very thing the tag would have hidden)."""
    world.bucket()
    world.instance("db-s3only", tenant="s3only", tags={"backupwatch:checks": "s3"}, retention=0)
    world.put("s3only-backups/x.dump", hours_ago(1))

    row = run(world, retrier, **{SKIP: "false"}).tenants[0]

    assert row.status is Status.ERROR
    assert f"switches off rds, which the operator does not allow ({SKIP}=false)" in row.reason
    assert row.checks[Check.RDS].status is Status.DISABLED


def test_checks_naming_every_check_is_no_skip() -> None:
    """The careless variant would refuse any ``checks`` tag; naming every check is fine."""
    tenant, _ = _tenant({"backupwatch:checks": "rds,s3"}, **{SKIP: "false"})
    assert tenant.problems == ()


def test_checks_off_allowed_by_default_with_a_note() -> None:
    tenant, _ = _tenant({"backupwatch:checks": "s3"})
    assert tenant.problems == ()
    assert tenant.checks == (Check.S3,)
    assert "rds check off by tag backupwatch:checks" in tenant.notes


# --- the pause --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ahead", "paused"),
    [(timedelta(days=90), True), (timedelta(days=90, seconds=1), False), (timedelta(0), True)],
    ids=["at-bound", "beyond", "now"],
)
def test_pause_bound(ahead: timedelta, paused: bool) -> None:
    until = NOW + ahead
    tenant, settings = _tenant({"backupwatch:paused-until": until.isoformat()})
    bounded = bound_pause(tenant, now=NOW, settings=settings)
    assert (bounded.paused_until is not None) is paused
    assert (bounded.problems == ()) is paused
    if not paused:
        (problem,) = bounded.problems
        assert f"beyond the operator's bound of 90 days ({PAUSE}); not paused" in problem


@pytest.mark.parametrize(
    ("days_ahead", "status"),
    [(365, Status.ERROR), (10, Status.PAUSED)],
    ids=["year-beyond-bound", "within-bound"],
)
def test_a_pause_beyond_the_bound_never_hides_a_missing_backup(
    world: World, retrier: Retrier, days_ahead: int, status: Status
) -> None:
    """No backup at all, a 30-day bound. A year-long pause: the careless variant says PAUSED
    (not failing); the tenant is ERROR and its check says MISSING. A 10-day pause: PAUSED."""
    world.bucket()
    until = (NOW + timedelta(days=days_ahead)).date().isoformat()
    world.instance(
        "db-frozen",
        tenant="frozen",
        tags={"backupwatch:paused-until": until, "backupwatch:checks": "s3"},
    )

    row = run(world, retrier, **{PAUSE: "30"}).tenants[0]

    assert row.status is status
    assert row.failing is (status is Status.ERROR)
    if status is Status.ERROR:
        assert f"bound of 30 days ({PAUSE})" in row.reason
        assert row.checks[Check.S3].status is Status.MISSING


def test_zero_pause_bound_forbids_pausing() -> None:
    tenant, settings = _tenant(
        {"backupwatch:paused-until": (NOW + timedelta(hours=1)).isoformat()}, **{PAUSE: "0"}
    )
    assert bound_pause(tenant, now=NOW, settings=settings).paused_until is None


# --- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variables", "variable", "problem"),
    [
        ({WINDOW: "12"}, WINDOW, "must be at least BACKUPWATCH_MAX_AGE_HOURS (24 h)"),
        ({WINDOW: "0"}, WINDOW, "greater than 0"),
        ({WINDOW: "1e6"}, WINDOW, "less than or equal to 87600"),
        ({WINDOW: "a week"}, WINDOW, "expected a number of hours"),
        ({FLOOR: "2"}, FLOOR, "must be at most BACKUPWATCH_MIN_OBJECT_BYTES (1 B)"),
        ({FLOOR: "-1"}, FLOOR, "greater than or equal to 0"),
        ({PAUSE: "-1"}, PAUSE, "greater than or equal to 0"),
        ({PAUSE: "nan"}, PAUSE, "expected a finite number of days"),
        ({SKIP: "maybe"}, SKIP, "expected true or false"),
    ],
)
def test_bad_bounds_are_refused(variables: dict[str, str], variable: str, problem: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(env_for(**variables))
    assert caught.value.variable == variable
    assert problem in caught.value.problem


def test_defaults() -> None:
    settings = load_settings(env_for())
    assert (
        settings.tag_window_limit,
        settings.tag_min_object_bytes_floor,
        settings.tag_pause_limit_days,
        settings.tag_may_skip_checks,
    ) == (744, 0, 90, True)
