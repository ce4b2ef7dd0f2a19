"""Lifecycle statuses excuse only what truly cannot have a backup yet (pure verdicts)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from backupwatch import Status
from backupwatch.core.evaluation import NO_BACKUP_STATES, judge_rds, judge_s3
from backupwatch.core.models import S3Evidence, Tenant

from .conftest import BUCKET, NOW, REGION
from .test_lifecycle import SETTINGS, snap

NEW = NOW - timedelta(hours=2)


def tenant(**fields: Any) -> Tenant:
    base: dict[str, Any] = {
        "name": "acme",
        "db_instance_identifier": "db-acme",
        "region": REGION,
        "s3_prefix": "acme-backups/",
        "max_age_hours": 24,
        "min_object_bytes": 1,
        "backup_retention_period": 7,
        "engine": "postgres",
        "resource_status": "available",
        "created_at": NEW,
    }
    return Tenant(**{**base, **fields})


EMPTY_FOLDER = S3Evidence(bucket=BUCKET, prefix="acme-backups/", min_object_bytes=1)


@pytest.mark.parametrize("state", sorted(NO_BACKUP_STATES | {"incompatible-something-new"}))
@pytest.mark.parametrize("kind", ["instance", "cluster"])
def test_new_resource_that_can_never_back_up_is_failing(state: str, kind: str) -> None:
    broken = tenant(kind=kind, resource_status=state)
    rds = judge_rds(broken, None, now=NOW, settings=SETTINGS)
    s3 = judge_s3(broken, EMPTY_FOLDER, now=NOW, settings=SETTINGS)
    assert rds.status is Status.MISSING
    assert rds.status.failing
    assert repr(state) in rds.reason
    assert s3.status is Status.MISSING


def test_careless_variant_a_healthy_new_resource_is_pending() -> None:
    """The same new tenant in 'available' (or 'backing-up') is excused: PENDING."""
    for state in ("available", "backing-up", "modifying"):
        fine = tenant(resource_status=state)
        assert judge_rds(fine, None, now=NOW, settings=SETTINGS).status is Status.PENDING
        assert judge_s3(fine, EMPTY_FOLDER, now=NOW, settings=SETTINGS).status is Status.PENDING


def test_old_resource_in_a_broken_state_with_a_fresh_snapshot_says_so() -> None:
    broken = tenant(resource_status="incompatible-parameters", created_at=NOW - timedelta(days=90))
    verdict = judge_rds(broken, snap(timedelta(hours=2)), now=NOW, settings=SETTINGS)
    assert verdict.status is Status.OK  # the snapshot is real evidence within the window
    assert "'incompatible-parameters'" in verdict.reason


@pytest.mark.parametrize("kind", ["instance", "cluster"])
def test_resource_being_created_has_no_create_time_and_is_pending(kind: str) -> None:
    creating = tenant(kind=kind, resource_status="creating", created_at=None)
    rds = judge_rds(creating, None, now=NOW, settings=SETTINGS)
    s3 = judge_s3(creating, EMPTY_FOLDER, now=NOW, settings=SETTINGS)
    assert rds.status is Status.PENDING
    assert "still being created" in rds.reason
    assert s3.status is Status.PENDING


def test_careless_variant_no_create_time_outside_creating_is_not_excused() -> None:
    unknown = tenant(resource_status="available", created_at=None)
    assert judge_rds(unknown, None, now=NOW, settings=SETTINGS).status is Status.MISSING
    assert judge_s3(unknown, EMPTY_FOLDER, now=NOW, settings=SETTINGS).status is Status.MISSING


def test_being_created_with_backups_off_is_disabled() -> None:
    creating = tenant(resource_status="creating", created_at=None, backup_retention_period=0)
    assert judge_rds(creating, None, now=NOW, settings=SETTINGS).status is Status.DISABLED
