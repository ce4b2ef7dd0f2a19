"""Evidence belongs to exactly one tenant: nested folders, borrowed folders, shared names and
folder placeholders. The pure rules first (``assign_folders``), then whole runs on moto."""

from __future__ import annotations

from typing import Any

from backupwatch import Check, Retrier, Status
from backupwatch.core.models import Tenant, TenantReport
from backupwatch.core.ownership import assign_folders

from .conftest import BUCKET, NOW, REGION, World, hours_ago
from .conftest import run_check as run

PREFIX_TAG = "backupwatch:s3-prefix"


def tenant(name: str, prefix: str, **fields: Any) -> Tenant:
    base: dict[str, Any] = {
        "name": name,
        "db_instance_identifier": f"db-{name}",
        "region": REGION,
        "s3_prefix": prefix,
        "max_age_hours": 24,
        "min_object_bytes": 1,
        "backup_retention_period": 7,
        "created_at": NOW.replace(year=2025),
    }
    return Tenant(**{**base, **fields})


def by_name(rows: tuple[TenantReport, ...]) -> dict[str, TenantReport]:
    return {row.tenant: row for row in rows}


# --- assign_folders: pure -----------------------------------------------------------------------


def test_outer_folder_excludes_nested_tenant_folders_only() -> None:
    tenants = [
        tenant("acme", "backups/acme/"),
        tenant("acme-eu", "backups/acme/eu/"),
        tenant("acmex", "backups/acmex/"),  # a sibling that shares a string prefix, not a folder
    ]
    folders = assign_folders(tenants, bucket=BUCKET)
    assert folders.exclude == {0: ("backups/acme/eu/",)}
    assert folders.refused == {}
    assert "inside the folder of tenant 'acme'" in folders.tenants[1].notes[0]
    assert folders.tenants[0].notes == folders.tenants[2].notes == ()


def test_override_onto_another_tenants_folder_is_refused() -> None:
    owner = tenant("acme", "acme-backups/")
    thief = tenant("evil", "acme-backups/", prefix_source="tag")
    folders = assign_folders([owner, thief], bucket=BUCKET)
    assert folders.refused == {
        1: f"folder s3://{BUCKET}/acme-backups/ belongs to tenant 'acme'; "
        f"tag {PREFIX_TAG} cannot make it this tenant's"
    }


def test_folder_with_no_single_owner_is_nobodys() -> None:
    one = tenant("a", "shared/", prefix_source="tag")
    two = tenant("b", "shared/", prefix_source="tag")
    assert set(assign_folders([one, two]).refused) == {0, 1}


def test_one_name_on_several_resources_is_allowed_and_named() -> None:
    east = tenant("acme", "acme-backups/", db_instance_identifier="db-acme-east")
    west = tenant(
        "acme", "acme-backups/", db_instance_identifier="db-acme-west", region="us-west-2"
    )
    folders = assign_folders([east, west])
    assert folders.refused == {}
    assert folders.exclude == {}
    assert folders.tenants[0].notes == (
        "tenant name 'acme' is also claimed by DB instance 'db-acme-west' (us-west-2)",
    )
    assert "'db-acme-east' (us-east-1)" in folders.tenants[1].notes[0]


# --- whole runs ---------------------------------------------------------------------------------


def test_nested_tenant_dumps_never_vouch_for_the_outer(world: World, retrier: Retrier) -> None:
    """``backups/acme/`` holds only ``backups/acme/eu/`` dumps: acme has none of its own."""
    world.bucket()
    world.instance("db-acme", tenant="acme", tags={PREFIX_TAG: "backups/acme/"})
    world.instance("db-acme-eu", tenant="acme-eu", tags={PREFIX_TAG: "backups/acme/eu/"})
    world.put("backups/acme/old.dump", hours_ago(50))
    world.put("backups/acme/eu/fresh.dump", hours_ago(1))

    rows = by_name(run(world, retrier).tenants)

    assert rows["acme"].checks[Check.S3].status is Status.STALE
    assert rows["acme"].checks[Check.S3].key == "backups/acme/old.dump"
    assert rows["acme-eu"].checks[Check.S3].status is Status.OK
    assert rows["acme-eu"].status is Status.OK  # a nested layout is legitimate


def test_nested_layout_keeps_working(world: World, retrier: Retrier) -> None:
    world.bucket()
    world.instance("db-acme", tenant="acme", tags={PREFIX_TAG: "backups/acme/"})
    world.instance("db-acme-eu", tenant="acme-eu", tags={PREFIX_TAG: "backups/acme/eu/"})
    world.put("backups/acme/fresh.dump", hours_ago(2))
    world.put("backups/acme/eu/fresh.dump", hours_ago(1))

    rows = by_name(run(world, retrier).tenants)

    assert rows["acme"].checks[Check.S3].key == "backups/acme/fresh.dump"
    assert {row.status for row in rows.values()} == {Status.OK}


def test_nested_exclusion_holds_on_the_dated_keys_path(world: World, retrier: Retrier) -> None:
    world.bucket()
    world.instance("db-acme", tenant="acme", tags={PREFIX_TAG: "b/acme/"})
    world.instance("db-eu", tenant="acme-eu", tags={PREFIX_TAG: "b/acme/2026/"})
    world.put(f"b/acme/2026/{NOW:%Y/%m/%d}/x.dump", hours_ago(1))

    rows = by_name(run(world, retrier, BACKUPWATCH_S3_DATE_LAYOUT="%Y/%m/%d/").tenants)

    assert rows["acme"].checks[Check.S3].status.failing


def test_prefix_tag_cannot_borrow_another_tenants_folder(world: World, retrier: Retrier) -> None:
    """The careless variant: evil points its tag at acme's fresh folder; it must be ERROR."""
    world.bucket()
    world.instance("db-acme", tenant="acme")
    world.instance("db-evil", tenant="evil", tags={PREFIX_TAG: "acme-backups/"})
    world.put("acme-backups/fresh.dump", hours_ago(1))

    rows = by_name(run(world, retrier).tenants)

    assert rows["acme"].status is Status.OK
    evil = rows["evil"]
    assert evil.status is Status.ERROR
    assert evil.failing
    assert evil.checks[Check.S3].status is Status.ERROR
    assert "folder s3://" in evil.reason
    assert "belongs to tenant 'acme'" in evil.reason
    assert evil.checks[Check.S3].key is None  # no evidence quoted for it


def test_same_name_in_two_regions_carries_a_note(world: World, retrier: Retrier) -> None:
    world.bucket()
    world.instance("db-acme-1", tenant="acme")
    world.instance("db-acme-2", tenant="acme")
    world.put("acme-backups/fresh.dump", hours_ago(1))

    report = run(world, retrier)

    rows = [row for row in report.tenants if row.tenant == "acme"]
    assert len(rows) == 2
    assert all(row.status is Status.OK for row in rows)
    assert any("also claimed by DB instance 'db-acme-2'" in note for note in rows[0].notes)
    assert "also claimed by" in rows[0].reason


def test_folder_placeholder_is_never_a_backup(world: World, retrier: Retrier) -> None:
    """A console "Create folder" key is a 0-byte key ending in '/'; with min size 0 it still
    is not a backup: an established tenant is MISSING, a new one PENDING (folder empty)."""
    world.bucket()
    world.instance("db-old", tenant="old")
    world.instance("db-new", tenant="new", created_at=hours_ago(2))
    world.put("old-backups/", hours_ago(1), size=0)
    world.put("new-backups/", hours_ago(1), size=0)
    world.put("old-backups/sub/", hours_ago(1), size=0)

    rows = by_name(run(world, retrier, BACKUPWATCH_MIN_OBJECT_BYTES="0").tenants)

    assert rows["old"].checks[Check.S3].status is Status.MISSING
    assert rows["new"].checks[Check.S3].status is Status.PENDING


def test_placeholder_does_not_hide_a_real_dump(world: World, retrier: Retrier) -> None:
    world.bucket()
    world.instance("db-acme", tenant="acme")
    world.put("acme-backups/", hours_ago(1), size=0)
    world.put("acme-backups/x.dump", hours_ago(3))

    rows = by_name(run(world, retrier, BACKUPWATCH_MIN_OBJECT_BYTES="0").tenants)

    assert rows["acme"].checks[Check.S3].key == "acme-backups/x.dump"
    assert rows["acme"].status is Status.OK
