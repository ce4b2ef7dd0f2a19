"""The dated-keys fast path: at most two S3 calls per tenant, whatever the history.

With ``BACKUPWATCH_S3_DATE_LAYOUT=%Y/%m/%d/`` a key's name sorts like its date, so a listing
that starts after the window's first day reads only what can be fresh.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from backupwatch import Report, Retrier, Status, check_tenants, load_settings

from .conftest import NOW, World, env_for, hours_ago

LAYOUT = "%Y/%m/%d/"


def history(world: World, tenant: str, days: int, *, newest_hours: float = 2) -> list[str]:
    """One dated dump per day for ``days`` days, the newest ``newest_hours`` old."""
    keys = []
    for day in range(days):
        at = hours_ago(newest_hours + 24 * day)
        key = f"{tenant}-backups/{at:%Y/%m/%d}/dump.sql.gz"
        world.put_many([key], at)
        keys.append(key)
    return keys


@pytest.fixture
def listings(world: World) -> list[dict[str, Any]]:
    """The parameters of every ListObjectsV2 call of the run."""
    calls: list[dict[str, Any]] = []
    world.session.events.register(
        "before-parameter-build.s3.ListObjectsV2", lambda params, **_: calls.append(dict(params))
    )
    return calls


def run(world: World, retrier: Retrier, **variables: str) -> Report:
    settings = load_settings(env_for(BACKUPWATCH_CHECKS="s3", **variables))
    return check_tenants(settings, session=world.session, clock=lambda: NOW, retrier=retrier)


def only(report: Report) -> Any:
    (row,) = report.tenants
    return row.checks["s3"]


def test_a_fresh_dump_in_a_long_history_takes_one_call(
    world: World, retrier: Retrier, listings: list[dict[str, Any]]
) -> None:
    """Three years of daily dumps (3 pages for a full listing): one call, the newest found."""
    world.bucket()
    world.instance("db-acme", tenant="acme")
    keys = history(world, "acme", 3 * 365)

    result = only(run(world, retrier, BACKUPWATCH_S3_DATE_LAYOUT=LAYOUT))

    assert result.status is Status.OK
    assert result.key == keys[0]
    assert len(listings) == 1
    # The window, a day for time zones, and a week of size history (the same single page).
    assert listings[0]["StartAfter"] == f"acme-backups/{NOW - timedelta(days=9):%Y/%m/%d/}"


def test_the_full_listing_of_the_same_history_reads_every_page(
    world: World, retrier: Retrier, listings: list[dict[str, Any]]
) -> None:
    """The comparison: without the layout, 1,095 keys are 2 pages (and grow every day)."""
    world.bucket()
    world.instance("db-acme", tenant="acme")
    keys = history(world, "acme", 3 * 365)

    result = only(run(world, retrier))

    assert result.status is Status.OK
    assert result.key == keys[0]
    assert len(listings) == 2


def test_a_dump_a_few_days_old_is_stale_with_its_age_in_one_call(
    world: World, retrier: Retrier, listings: list[dict[str, Any]]
) -> None:
    """Within the week of size history the listing reads anyway, a stale dump's age is known."""
    world.bucket()
    world.instance("db-acme", tenant="acme")
    history(world, "acme", 400, newest_hours=24 * 5)

    result = only(run(world, retrier, BACKUPWATCH_S3_DATE_LAYOUT=LAYOUT))

    assert result.status is Status.STALE
    assert result.reason.startswith("newest backup object 5 days old")
    assert len(listings) == 1


def test_only_old_dumps_is_stale_in_two_calls(
    world: World, retrier: Retrier, listings: list[dict[str, Any]]
) -> None:
    world.bucket()
    world.instance("db-acme", tenant="acme")
    history(world, "acme", 400, newest_hours=24 * 12)

    result = only(run(world, retrier, BACKUPWATCH_S3_DATE_LAYOUT=LAYOUT))

    assert result.status is Status.STALE
    assert "older keys exist" in result.reason
    assert len(listings) == 2
    assert listings[1]["StartAfter"] == "acme-backups/"


def test_an_empty_prefix_is_missing_in_two_calls(
    world: World, retrier: Retrier, listings: list[dict[str, Any]]
) -> None:
    world.bucket()
    world.instance("db-acme", tenant="acme")
    history(world, "acme-other", 10)  # a neighbour whose prefix starts the same way

    result = only(run(world, retrier, BACKUPWATCH_S3_DATE_LAYOUT=LAYOUT))

    assert result.status is Status.MISSING
    assert len(listings) == 2


def test_a_fresh_but_tiny_dump_is_empty(world: World, retrier: Retrier) -> None:
    world.bucket()
    world.instance("db-acme", tenant="acme")
    history(world, "acme", 30, newest_hours=24 * 3)
    world.put(f"acme-backups/{hours_ago(1):%Y/%m/%d}/dump.sql.gz", hours_ago(1), size=0)

    result = only(run(world, retrier, BACKUPWATCH_S3_DATE_LAYOUT=LAYOUT))

    assert result.status is Status.EMPTY


def test_keys_are_judged_by_last_modified_not_by_their_name(world: World, retrier: Retrier) -> None:
    """A key dated today whose object is 3 days old (a re-upload of an old file) is STALE."""
    world.bucket()
    world.instance("db-acme", tenant="acme")
    world.put(f"acme-backups/{NOW:%Y/%m/%d}/dump.sql.gz", hours_ago(72))

    assert only(run(world, retrier, BACKUPWATCH_S3_DATE_LAYOUT=LAYOUT)).status is Status.STALE


def test_a_key_dated_in_a_zone_behind_utc_is_still_read(world: World, retrier: Retrier) -> None:
    """Written at 20:00 in UTC-8 on the 26th, i.e. 04:00 UTC on the 27th: named the 26th."""
    world.bucket()
    world.instance("db-acme", tenant="acme")
    world.put("acme-backups/2026/11/26/dump.sql.gz", hours_ago(3))

    result = only(
        run(world, retrier, BACKUPWATCH_S3_DATE_LAYOUT=LAYOUT, BACKUPWATCH_MAX_AGE_HOURS="6")
    )

    assert result.status is Status.OK


def test_hourly_layout(world: World, retrier: Retrier, listings: list[dict[str, Any]]) -> None:
    world.bucket()
    world.instance("db-acme", tenant="acme")
    for hours in range(1, 24 * 30, 6):
        at = hours_ago(hours)
        world.put_many([f"acme-backups/{at:%Y-%m-%d-%H}.dump"], at)

    result = only(run(world, retrier, BACKUPWATCH_S3_DATE_LAYOUT="%Y-%m-%d-%H"))

    assert result.status is Status.OK
    assert result.key == f"acme-backups/{hours_ago(1):%Y-%m-%d-%H}.dump"
    assert len(listings) == 1


def test_console_placeholders_do_not_hide_older_dumps(
    world: World, retrier: Retrier, listings: list[dict[str, Any]]
) -> None:
    """Folders made in the console leave placeholders that sort before every dump in them.
    The careless probe (the first key only) saw ``acme-backups/2026/`` and said MISSING;
    old dumps exist, so it is STALE, still in two calls."""
    world.bucket()
    world.instance("db-acme", tenant="acme")
    history(world, "acme", 30, newest_hours=24 * 12)  # older than the week of history
    world.put_many(
        ["acme-backups/", "acme-backups/2026/", "acme-backups/2026/10/"], hours_ago(24 * 60)
    )

    result = only(run(world, retrier, BACKUPWATCH_S3_DATE_LAYOUT=LAYOUT))

    assert result.status is Status.STALE
    assert "older keys exist" in result.reason
    assert len(listings) == 2


def test_only_placeholders_is_missing(world: World, retrier: Retrier) -> None:
    """The careless variant the other way: placeholders alone are no backup, old or new."""
    world.bucket()
    world.instance("db-acme", tenant="acme")
    world.put_many(["acme-backups/", "acme-backups/2025/"], hours_ago(24 * 60))

    result = only(run(world, retrier, BACKUPWATCH_S3_DATE_LAYOUT=LAYOUT))

    assert result.status is Status.MISSING


def test_a_nested_tenants_old_dumps_do_not_make_the_outer_one_stale(
    world: World, retrier: Retrier
) -> None:
    """``acme/`` holds nothing of its own but ``acme/eu/``'s old dumps: MISSING, not STALE
    on the inner tenant's evidence."""
    world.bucket()
    world.instance("db-acme", tenant="acme", tags={"backupwatch:s3-prefix": "acme/"})
    world.instance("db-acme-eu", tenant="acme-eu", tags={"backupwatch:s3-prefix": "acme/eu/"})
    world.put_many([f"acme/eu/2025/01/{day:02d}/x.dump" for day in range(1, 29)], hours_ago(900))

    settings = load_settings(env_for(BACKUPWATCH_CHECKS="s3", BACKUPWATCH_S3_DATE_LAYOUT=LAYOUT))
    report = check_tenants(settings, session=world.session, clock=lambda: NOW, retrier=retrier)
    rows = {row.tenant: row.checks["s3"] for row in report.tenants}

    assert rows["acme"].status is Status.MISSING
    assert rows["acme-eu"].status is Status.STALE
