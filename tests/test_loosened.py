"""Every row whose tags loosen the operator's defaults says so, in its notes and reason."""

from __future__ import annotations

from backupwatch import Check, Retrier, Status

from .conftest import World, hours_ago
from .conftest import run_check as run


def test_loosening_tags_are_named_in_the_row(world: World, retrier: Retrier) -> None:
    world.bucket()
    world.instance(
        "db-loose",
        tenant="loose",
        tags={
            "backupwatch:max-age-hours": "72",
            "backupwatch:min-object-bytes": "0",
            "backupwatch:checks": "s3",
        },
    )
    world.put("loose-backups/x.dump", hours_ago(50), size=0)

    row = run(world, retrier, BACKUPWATCH_MIN_OBJECT_BYTES="1024").tenants[0]

    assert row.status is Status.OK
    assert row.notes == (
        "window 72 h by tag backupwatch:max-age-hours (default 24 h)",
        "minimum size 0 B by tag backupwatch:min-object-bytes (default 1024 B)",
        "rds check off by tag backupwatch:checks",
    )
    assert all(note in row.reason for note in row.notes)
    assert Check.RDS not in row.checks


def test_careless_variant_tightening_tags_need_no_note(world: World, retrier: Retrier) -> None:
    """A stricter window or a larger minimum loosens nothing: no note."""
    world.bucket()
    world.instance(
        "db-tight",
        tenant="tight",
        tags={"backupwatch:max-age-hours": "12", "backupwatch:min-object-bytes": "2048"},
    )
    world.put("tight-backups/x.dump", hours_ago(1), size=4096)

    row = run(world, retrier, BACKUPWATCH_MIN_OBJECT_BYTES="1024").tenants[0]

    assert row.status is Status.OK
    assert row.notes == ()
