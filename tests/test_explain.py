"""``explain``: every threshold with its source (default, setting, tag), the evidence looked
at, and the rule that decided each check; ``backupwatch explain`` exits like ``check``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine

from backupwatch import Check, Report, Retrier, Status, load_settings
from backupwatch.cli.main import main
from backupwatch.core.config import Settings
from backupwatch.core.evaluation import judge_rds, judge_s3, tenant_report
from backupwatch.core.explain import Resolved, explain, thresholds
from backupwatch.core.models import ObjectInfo, S3Evidence, SnapshotInfo, Tenant
from backupwatch.core.tenancy import Resource, tenant_from_resource
from backupwatch.pipeline.monitor import examine_tenant

from .conftest import BUCKET, DENIED, NOW, OTHER_REGION, REGION, Faults, World, env_for, hours_ago

SetEnv = Callable[[dict[str, str]], None]
TENANT_TAG = "backupwatch:tenant"


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def settings(**variables: str) -> Settings:
    return load_settings(env_for(**variables))


def acme(policy: Settings, **tags: str) -> Tenant:
    """Tenant acme through the real tag parsing, with ``tags`` (``max_age_hours="12"``)."""
    resource = Resource(
        identifier="db-acme",
        region=REGION,
        tags={
            TENANT_TAG: "acme",
            **{f"backupwatch:{k.replace('_', '-')}": v for k, v in tags.items()},
        },
        backup_retention_period=7,
        status="available",
        created_at=NOW - timedelta(days=90),
    )
    tenant = tenant_from_resource(resource, settings=policy)
    assert tenant is not None
    return tenant


def source(tenant: Tenant, policy: Settings, name: str) -> str:
    return {t.name: t.source for t in thresholds(tenant, policy, bucket=BUCKET)}[name]


# --- where each threshold came from -------------------------------------------------------------


@pytest.mark.parametrize(
    ("variables", "tags", "expected"),
    [
        ({}, {}, "default (BACKUPWATCH_MAX_AGE_HOURS unset)"),
        ({"BACKUPWATCH_MAX_AGE_HOURS": "36"}, {}, "setting BACKUPWATCH_MAX_AGE_HOURS"),
        (
            {},
            {"max_age_hours": "12"},
            "tag backupwatch:max-age-hours (instead of the default 24 h; tags may set up to 744 h)",
        ),
        (
            {"BACKUPWATCH_MAX_AGE_HOURS": "36", "BACKUPWATCH_TAG_WINDOW_LIMIT_HOURS": "100"},
            {"max_age_hours": "72"},
            "tag backupwatch:max-age-hours (instead of 36 h from BACKUPWATCH_MAX_AGE_HOURS; "
            "tags may set up to 100 h by BACKUPWATCH_TAG_WINDOW_LIMIT_HOURS)",
        ),
        (
            {},
            {"max_age_hours": "2000"},
            "default (BACKUPWATCH_MAX_AGE_HOURS unset); tag backupwatch:max-age-hours refused "
            "(see the problem below)",
        ),
    ],
    ids=["default", "setting", "tag", "tag-over-setting", "tag-beyond-bound"],
)
def test_the_window_says_where_it_came_from(
    variables: dict[str, str], tags: dict[str, str], expected: str
) -> None:
    policy = settings(**variables)
    assert source(acme(policy, **tags), policy, "window") == expected


def test_every_other_threshold_says_where_it_came_from() -> None:
    policy = settings(BACKUPWATCH_PITR_MAX_LAG_HOURS="4", BACKUPWATCH_PREFIX_TEMPLATE="b/{tenant}/")
    tenant = acme(
        policy,
        min_object_bytes="0",
        checks="s3",
        s3_prefix="elsewhere/",
        paused_until="2026-12-01",
    )
    found = {t.name: (t.value, t.source) for t in thresholds(tenant, policy, bucket=BUCKET)}
    assert found == {
        "window": ("24 h", "default (BACKUPWATCH_MAX_AGE_HOURS unset)"),
        "minimum size": (
            "0 B",
            "tag backupwatch:min-object-bytes (instead of the default 1 B; tags may set down "
            "to 0 B)",
        ),
        "new-tenant grace": ("2 h", "default (BACKUPWATCH_NEW_TENANT_GRACE_HOURS unset)"),
        "checks": (
            "s3",
            "tag backupwatch:checks (instead of the default rds, s3; tags may switch one off)",
        ),
        "folder": (
            f"s3://{BUCKET}/elsewhere/",
            "tag backupwatch:s3-prefix; bucket: BACKUPWATCH_S3_BUCKET or S3_BUCKET_NAME",
        ),
        "paused until": (
            "2026-12-01 00:00 UTC",
            "tag backupwatch:paused-until (tags may pause up to 90 days ahead)",
        ),
    }  # no PITR limit: the tag switched the rds check off for this tenant
    untagged = acme(policy)
    assert source(untagged, policy, "PITR lag limit") == "setting BACKUPWATCH_PITR_MAX_LAG_HOURS"
    assert source(untagged, policy, "folder") == (
        "template b/{tenant}/ (setting BACKUPWATCH_PREFIX_TEMPLATE); bucket: "
        "BACKUPWATCH_S3_BUCKET or S3_BUCKET_NAME"
    )


def test_a_folder_from_the_environment_names_its_variable() -> None:
    policy = load_settings(env_for(DB_INSTANCE_IDENTIFIER_3="db-acme", S3_FOLDER_3="acme/dumps"))
    tenant = tenant_from_resource(
        Resource(identifier="db-acme", region=REGION, tags={}, backup_retention_period=7),
        settings=policy,
        seed=policy.seed_instances[0],
    )
    assert tenant is not None
    assert source(tenant, policy, "folder").startswith("S3_FOLDER_3; ")


# --- the rule that decided each check -----------------------------------------------------------


def explained(tenant: Tenant, policy: Settings, **results: Any) -> str:
    """The explanation of one tenant whose checks gave ``results`` (rds=..., s3=...)."""
    checks = {Check(name): result for name, result in results.items()}
    row = tenant_report(tenant, checks, now=NOW, settings=policy)
    report = Report(generated_at=NOW, regions=(REGION,), checks=policy.checks, tenants=(row,))
    return "\n".join(explain(report, {row.key: Resolved(tenant, BUCKET)}, settings=policy))


def snapshot(hours: float) -> SnapshotInfo:
    return SnapshotInfo(snapshot_id="rds:db-acme-x", created_at=hours_ago(hours))


def listing(*objects: tuple[str, float, int], minimum: int = 1) -> S3Evidence:
    infos = [ObjectInfo(key=k, last_modified=hours_ago(h), size=s) for k, h, s in objects]
    countable = [o for o in infos if o.size >= minimum]
    return S3Evidence(
        bucket=BUCKET,
        prefix="acme-backups/",
        min_object_bytes=minimum,
        objects_seen=len(infos),
        newest=max(infos, key=lambda o: o.last_modified, default=None),
        newest_countable=max(countable, key=lambda o: o.last_modified, default=None),
    )


def test_stale_by_a_tags_window_quotes_age_window_and_source() -> None:
    policy = settings()
    tenant = acme(policy, max_age_hours="12")
    text = explained(
        tenant,
        policy,
        rds=judge_rds(tenant, snapshot(3), now=NOW, settings=policy),
        s3=judge_s3(tenant, listing(("acme-backups/a.dump", 20, 2048)), now=NOW, settings=policy),
    )
    assert text.splitlines()[0] == "acme: STALE, failing"
    assert "    window            12 h      tag backupwatch:max-age-hours (instead of" in text
    assert (
        "    rule: OK: the newest automated snapshot is 3 h old, within the window of 12 h" in text
    )
    assert (
        f"    evidence: s3://{BUCKET}/acme-backups/a.dump, 2 KiB, last modified "
        "2026-11-26 11:00 UTC, 20 h old"
    ) in text
    assert (
        "    rule: STALE: the newest object of at least 1 B is 20 h old, older than the window "
        "of 12 h"
    ) in text
    assert text.endswith("  status: STALE, the worst of rds OK, s3 STALE")


def test_stale_by_point_in_time_recovery_names_the_limit() -> None:
    policy = settings()
    tenant = acme(policy).model_copy(update={"latest_restorable_time": hours_ago(5)})
    text = explained(tenant, policy, rds=judge_rds(tenant, snapshot(1), now=NOW, settings=policy))
    assert (
        "rule: STALE: point-in-time recovery is 5 h behind, more than the limit of 1 h "
        "(default (BACKUPWATCH_PITR_MAX_LAG_HOURS unset))"
    ) in text


def test_pending_says_when_the_first_backup_is_due() -> None:
    policy = settings()
    tenant = acme(policy).model_copy(update={"created_at": hours_ago(3)})
    text = explained(tenant, policy, rds=judge_rds(tenant, None, now=NOW, settings=policy))
    assert "acme: PENDING, not failing" in text
    assert (
        "rule: PENDING: a new tenant, created 2026-11-27 04:00 UTC: its first backup is due by "
        "2026-11-28 06:00 UTC (creation + window 24 h + grace 2 h)"
    ) in text


def test_missing_says_the_tenant_is_not_new_any_more() -> None:
    policy = settings()
    tenant = acme(policy)
    text = explained(tenant, policy, s3=judge_s3(tenant, listing(), now=NOW, settings=policy))
    assert "evidence: none" in text
    assert "rule: MISSING: no object of at least 1 B, and the tenant is not new (created" in text


def test_empty_names_the_minimum_size_and_its_tag() -> None:
    policy = settings()
    tenant = acme(policy, min_object_bytes="4096")
    evidence = listing(("acme-backups/a.dump", 1, 10), minimum=4096)
    text = explained(tenant, policy, s3=judge_s3(tenant, evidence, now=NOW, settings=policy))
    assert "minimum size      4 KiB     tag backupwatch:min-object-bytes" in text
    assert "rule: EMPTY: objects within the window of 24 h exist, but each is smaller" in text


def test_paused_and_stopped_name_their_switches() -> None:
    policy = settings()
    paused = acme(policy, paused_until="2026-12-01")
    text = explained(paused, policy, rds=judge_rds(paused, snapshot(30), now=NOW, settings=policy))
    assert "rule: PAUSED until 2026-12-01 00:00 UTC by tag backupwatch:paused-until" in text
    assert "would be STALE" in text

    stopped = acme(policy).model_copy(update={"resource_status": "stopped"})
    text = explained(stopped, policy, rds=judge_rds(stopped, None, now=NOW, settings=policy))
    assert "not failing (default (BACKUPWATCH_STOPPED_IS_FAILING unset))" in text


def test_a_row_without_its_policy_is_still_explained() -> None:
    """A scope whose check crashed has rows but no resolved tenant: say so, keep the rest."""
    policy = settings()
    tenant = acme(policy)
    row = tenant_report(
        tenant, {Check.RDS: judge_rds(tenant, snapshot(1), now=NOW, settings=policy)}
    )
    report = Report(generated_at=NOW, regions=(REGION,), checks=policy.checks, tenants=(row,))
    lines = explain(report, {}, settings=policy)
    assert "  policy: unknown (the check of this resource failed before it was kept)" in lines
    assert "    rule: OK: newest automated snapshot 1 h old" in lines


# --- on moto ------------------------------------------------------------------------------------


def test_examine_names_the_nested_folders_the_listing_skipped(
    world: World, retrier: Retrier
) -> None:
    world.bucket()
    world.instance("db-acme", tenant="acme", tags={"backupwatch:s3-prefix": "backups/acme/"})
    world.instance("db-eu", tenant="acme-eu", tags={"backupwatch:s3-prefix": "backups/acme/eu/"})
    world.put("backups/acme/old.dump", hours_ago(50))
    world.put("backups/acme/eu/fresh.dump", hours_ago(1))
    policy = settings()

    examination = examine_tenant(
        policy, "acme", session=world.session, clock=lambda: NOW, retrier=retrier
    )

    [row] = examination.report.tenants
    assert row.status is Status.STALE
    text = "\n".join(explain(examination.report, examination.resolved, settings=policy))
    assert (
        f"looked at: objects of at least 1 B under s3://{BUCKET}/backups/acme/, except the "
        "folders of other tenants inside it: backups/acme/eu/"
    ) in text
    assert f"evidence: s3://{BUCKET}/backups/acme/old.dump" in text


@pytest.mark.parametrize(("name", "code"), [("fresh", 0), ("late", 1)])
def test_explain_exits_like_check(
    world: World,
    patch_env: SetEnv,
    capsys: pytest.CaptureFixture[str],
    name: str,
    code: int,
) -> None:
    """0 when the tenant is not failing, 1 when it is; nothing is published (no topic needed)."""
    world.bucket()
    world.instance("db-fresh", tenant="fresh")
    world.put("fresh-backups/x.dump", hours_ago(1))
    world.instance("db-late", tenant="late", snapshot_at=hours_ago(40))
    patch_env({"BACKUPWATCH_S3_BUCKET": BUCKET, "BACKUPWATCH_REGIONS": REGION})
    assert main(["explain", name]) == code
    out, err = capsys.readouterr()
    assert out.startswith(f"{name}: ")
    assert err == ""


def test_explain_of_no_such_tenant_exits_two(
    world: World, patch_env: SetEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    world.bucket()
    world.instance("db-acme", tenant="acme")
    patch_env({"BACKUPWATCH_S3_BUCKET": BUCKET, "BACKUPWATCH_REGIONS": REGION})
    assert main(["explain", "Acme"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "backupwatch: no tenant named 'Acme' (did you mean 'acme'?)\n"


def test_explain_where_a_region_failed_exits_one_and_says_where(
    world: World,
    faults: Faults,
    patch_env: SetEnv,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not found, but a region could not be listed: the tenant may be there; exit 1, not 2."""
    world.bucket()
    faults.inject("rds", "DescribeDBInstances", DENIED, region=OTHER_REGION)
    monkeypatch.setattr("backupwatch.cli.main.new_session", lambda: world.session)
    patch_env({"BACKUPWATCH_S3_BUCKET": BUCKET, "BACKUPWATCH_REGIONS": f"{REGION},{OTHER_REGION}"})
    assert main(["explain", "acme"]) == 1
    out, err = capsys.readouterr()
    assert out.startswith(f"{OTHER_REGION} not checked: discovery failed: AccessDenied")
    assert "the tenant may be there" in err
