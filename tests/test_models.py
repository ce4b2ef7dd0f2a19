"""The value models: status order, ``worst``, the report summary, freezing and JSON shape."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from backupwatch.core.models import (
    Check,
    CheckResult,
    ObjectInfo,
    RdsEvidence,
    RegionError,
    Report,
    S3Evidence,
    SnapshotInfo,
    Status,
    Tenant,
    TenantReport,
    worst,
)

from .conftest import NOW, OTHER_REGION, REGION

SEVERITY_ORDER = [
    Status.ERROR,
    Status.MISSING,
    Status.DISABLED,
    Status.SUSPECT,
    Status.STALE,
    Status.EMPTY,
    Status.NONCOMPLIANT,
    Status.STOPPED,
    Status.PENDING,
    Status.PAUSED,
    Status.SKIPPED,
    Status.OK,
]
"""Most severe first: the order the brief and the digest promise."""
FAILING = {
    Status.ERROR,
    Status.MISSING,
    Status.DISABLED,
    Status.SUSPECT,
    Status.STALE,
    Status.EMPTY,
    Status.NONCOMPLIANT,
}
"""Failing by default; STOPPED can be made failing per run (TenantReport.failing)."""


def row(name: str, status: Status = Status.OK, *, region: str = REGION) -> TenantReport:
    """A tenant row with one RDS check carrying ``status``."""
    result = CheckResult(check=Check.RDS, status=status, reason=f"{name} is {status.value}")
    return TenantReport(
        tenant=name,
        db_instance_identifier=f"{name}-instance",
        region=region,
        status=status,
        reason=result.reason,
        checks={Check.RDS: result},
    )


def make_report(*rows: TenantReport, region_errors: tuple[RegionError, ...] = ()) -> Report:
    """A report generated at NOW over ``rows``."""
    return Report(
        generated_at=NOW,
        regions=(REGION, OTHER_REGION),
        checks=(Check.RDS, Check.S3),
        tenants=rows,
        region_errors=region_errors,
    )


def region_error(region: str = OTHER_REGION) -> RegionError:
    """A region whose discovery failed."""
    return RegionError(region=region, reason="AccessDenied: rds:DescribeDBInstances")


# --- Status ---------------------------------------------------------------------------------


def test_severity_follows_declared_order() -> None:
    """ERROR > MISSING > DISABLED > SUSPECT > STALE > EMPTY > NONCOMPLIANT > STOPPED > PENDING >
    PAUSED > SKIPPED > OK."""
    severities = [status.severity for status in SEVERITY_ORDER]
    assert severities == sorted(severities, reverse=True)
    assert len(set(severities)) == len(SEVERITY_ORDER)
    assert Status.OK.severity == 0
    assert list(Status) == SEVERITY_ORDER


@pytest.mark.parametrize(
    ("worse", "better"),
    [
        (SEVERITY_ORDER[i], SEVERITY_ORDER[j])
        for i in range(len(SEVERITY_ORDER))
        for j in range(i + 1, len(SEVERITY_ORDER))
    ],
)
def test_every_pair_is_ordered(worse: Status, better: Status) -> None:
    """Each status is strictly more severe than every status declared after it."""
    assert worse.severity > better.severity


def test_severities_are_pinned() -> None:
    """The severity of each status is part of the contract (12 for ERROR, 11 is every unknown
    status, down to 0 for OK): an archived report's readers compare them."""
    assert {s: s.severity for s in Status} == {
        Status.ERROR: 12,
        Status.MISSING: 10,
        Status.DISABLED: 9,
        Status.SUSPECT: 8,
        Status.STALE: 7,
        Status.EMPTY: 6,
        Status.NONCOMPLIANT: 5,
        Status.STOPPED: 4,
        Status.PENDING: 3,
        Status.PAUSED: 2,
        Status.SKIPPED: 1,
        Status.OK: 0,
    }


def test_noncompliant_is_failing_between_empty_and_stopped() -> None:
    """NONCOMPLIANT (a fresh backup that breaks a policy control) fails the run, ranks below
    every "no usable backup" status (EMPTY and above) and above every lifecycle status."""
    assert Status.NONCOMPLIANT.failing
    assert Status.NONCOMPLIANT.listed
    assert Status.NONCOMPLIANT.known
    assert Status.EMPTY.severity > Status.NONCOMPLIANT.severity > Status.STOPPED.severity
    assert SEVERITY_ORDER.index(Status.NONCOMPLIANT) == SEVERITY_ORDER.index(Status.EMPTY) + 1
    assert SEVERITY_ORDER.index(Status.STOPPED) == SEVERITY_ORDER.index(Status.NONCOMPLIANT) + 1
    assert worst([Status.NONCOMPLIANT, Status.STOPPED, Status.OK]) is Status.NONCOMPLIANT
    assert worst([Status.NONCOMPLIANT, Status.EMPTY]) is Status.EMPTY
    assert row("a", Status.NONCOMPLIANT).failing
    assert make_report(row("a", Status.NONCOMPLIANT), row("b")).failing
    with pytest.raises(ValidationError):
        TenantReport.model_validate(
            {**row("a", Status.NONCOMPLIANT).model_dump(), "failing": False}
        )


def test_checks_are_pinned() -> None:
    """The checks, in declaration order: what ``BACKUPWATCH_CHECKS`` and the JSON accept."""
    assert [c.value for c in Check] == ["rds", "s3", "backup", "copy", "policy"]


@pytest.mark.parametrize("status", list(Status))
def test_failing_statuses_are_error_to_noncompliant(status: Status) -> None:
    """``failing`` holds for ERROR to NONCOMPLIANT only; every status but OK is ``listed``."""
    assert status.failing is (status in FAILING)
    assert status.listed is (status is not Status.OK)


def test_lifecycle_statuses_rank_below_every_failing_one() -> None:
    """A lifecycle status never hides a failing check: each failing status is more severe."""
    lifecycle = [s for s in Status if s.listed and not s.failing]
    assert lifecycle == [Status.STOPPED, Status.PENDING, Status.PAUSED, Status.SKIPPED]
    assert min(s.severity for s in FAILING) > max(s.severity for s in lifecycle)
    assert min(s.severity for s in lifecycle) > Status.OK.severity


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], Status.ERROR),
        ([Status.OK], Status.OK),
        ([Status.OK, Status.OK], Status.OK),
        ([Status.OK, Status.EMPTY], Status.EMPTY),
        ([Status.EMPTY, Status.STALE], Status.STALE),
        ([Status.STALE, Status.DISABLED, Status.OK], Status.DISABLED),
        ([Status.DISABLED, Status.MISSING], Status.MISSING),
        ([Status.OK, Status.ERROR, Status.MISSING], Status.ERROR),
        (list(reversed(SEVERITY_ORDER)), Status.ERROR),
    ],
)
def test_worst(statuses: list[Status], expected: Status) -> None:
    """``worst`` picks the most severe status, and ERROR when given none."""
    assert worst(statuses) is expected


def test_worst_accepts_a_generator() -> None:
    """``worst`` takes any iterable, a one-shot generator included."""
    assert worst(s for s in (Status.OK, Status.STALE)) is Status.STALE
    assert worst(s for s in ()) is Status.ERROR


# --- Report summary ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statuses",
    [
        [],
        [Status.OK],
        [Status.OK, Status.OK, Status.STALE],
        list(Status),
        [Status.PENDING, Status.PAUSED, Status.OK, Status.STOPPED, Status.SKIPPED],
        [Status.EMPTY] * 4 + [Status.OK] * 3,
    ],
)
def test_summary_counts(statuses: list[Status]) -> None:
    """Summary counts tenants, failing tenants and each status, zeros included."""
    report = make_report(*(row(f"t{i}", status) for i, status in enumerate(statuses)))
    summary = report.summary
    assert summary.tenants == len(statuses)
    assert summary.failing == sum(1 for status in statuses if status in FAILING)
    assert summary.regions_failed == 0
    assert list(summary.by_status) == SEVERITY_ORDER
    assert summary.by_status == {status: statuses.count(status) for status in SEVERITY_ORDER}


def test_summary_counts_region_errors() -> None:
    """``regions_failed`` counts region errors, separately from failing tenants."""
    report = make_report(row("a"), region_errors=(region_error(), region_error("ap-south-1")))
    assert report.summary.regions_failed == 2
    assert report.summary.failing == 0


@pytest.mark.parametrize(
    ("statuses", "errors", "failing"),
    [
        ([], 0, True),
        ([Status.OK, Status.OK], 0, False),
        ([Status.OK, Status.EMPTY], 0, True),
        ([Status.ERROR], 0, True),
        ([Status.OK, Status.OK], 1, True),
        ([], 1, True),
    ],
)
def test_report_failing(statuses: list[Status], errors: int, failing: bool) -> None:
    """A report fails on a failing tenant, a region error, or no tenant at all (never all-clear)."""
    report = make_report(
        *(row(f"t{i}", status) for i, status in enumerate(statuses)),
        region_errors=tuple(region_error(f"region-{i}") for i in range(errors)),
    )
    assert report.failing is failing


@pytest.mark.parametrize("status", list(Status))
def test_tenant_report_failing_follows_status(status: Status) -> None:
    """``TenantReport.failing`` is its status's ``failing`` unless set, and lands in the JSON."""
    assert row("a", status).failing is status.failing
    assert row("a", status).model_dump(mode="json")["failing"] is status.failing


def test_stopped_row_can_be_made_failing() -> None:
    """A STOPPED row may be marked failing (BACKUPWATCH_STOPPED_IS_FAILING); it then counts."""
    stopped = row("a", Status.STOPPED).model_copy(update={"failing": True})
    rebuilt = TenantReport.model_validate(stopped.model_dump())
    assert rebuilt.failing
    report = make_report(rebuilt, row("b"))
    assert report.failing
    assert report.summary.failing == 1
    assert not make_report(row("a", Status.STOPPED), row("b")).failing


@pytest.mark.parametrize("status", [s for s in Status if s.failing])
def test_a_failing_status_cannot_be_marked_not_failing(status: Status) -> None:
    """``failing=False`` on a failing status is rejected, as is ``failing=True`` on OK."""
    data = row("a", status).model_dump()
    with pytest.raises(ValidationError):
        TenantReport.model_validate({**data, "failing": False})
    with pytest.raises(ValidationError):
        TenantReport.model_validate({**row("a").model_dump(), "failing": True})


def test_tenant_defaults_describe_a_plain_instance() -> None:
    """New Tenant fields default to a plain DB instance with every check and no pause."""
    tenant = Tenant(
        name="db1",
        db_instance_identifier="db1",
        region=REGION,
        max_age_hours=24,
        min_object_bytes=1,
    )
    assert (tenant.kind, tenant.identifier, tenant.key) == (
        "instance",
        "db1",
        (REGION, "instance", "db1"),
    )
    assert tenant.wants(Check.RDS)
    assert tenant.wants(Check.S3)
    assert (tenant.paused_until, tenant.runbook, tenant.created_at) == (None, None, None)
    s3_only = tenant.model_copy(update={"checks": (Check.S3,)})
    assert not s3_only.wants(Check.RDS)
    assert s3_only.wants(Check.S3)


# --- Frozen models ----------------------------------------------------------------------------


def _instances() -> list[tuple[Any, str, Any]]:
    snapshot = SnapshotInfo(snapshot_id="rds:db1-2026-11-27", created_at=NOW)
    item = ObjectInfo(key="db1/a.dump", last_modified=NOW, size=10)
    return [
        (snapshot, "snapshot_id", "other"),
        (
            RdsEvidence(db_instance_identifier="db1", backup_retention_period=7),
            "newest_snapshot",
            snapshot,
        ),
        (item, "size", 0),
        (S3Evidence(bucket="b", prefix="p/", min_object_bytes=1), "newest", item),
        (
            Tenant(
                name="db1",
                db_instance_identifier="db1",
                region=REGION,
                max_age_hours=24,
                min_object_bytes=1,
            ),
            "max_age_hours",
            48,
        ),
        (CheckResult(check=Check.RDS, status=Status.OK, reason="fine"), "status", Status.ERROR),
        (row("db1"), "status", Status.ERROR),
        (region_error(), "reason", "fine now"),
        (make_report(row("db1")), "tenants", ()),
    ]


@pytest.mark.parametrize(
    ("instance", "field", "value"),
    _instances(),
    ids=[type(instance).__name__ for instance, _, _ in _instances()],
)
def test_models_are_frozen(instance: Any, field: str, value: Any) -> None:
    """Assigning to a field of any model raises: reports cannot change after the fact."""
    with pytest.raises(ValidationError):
        setattr(instance, field, value)


@pytest.mark.parametrize(
    ("model", "kwargs"),
    [
        (RegionError, {"region": REGION, "reason": "x", "extra": 1}),
        (SnapshotInfo, {"snapshot_id": "s", "created_at": NOW.replace(tzinfo=None)}),
        (ObjectInfo, {"key": "k", "last_modified": NOW.replace(tzinfo=None), "size": 1}),
    ],
)
def test_models_reject_extra_fields_and_naive_times(model: Any, kwargs: dict[str, Any]) -> None:
    """Unknown fields and naive datetimes are rejected at construction."""
    with pytest.raises(ValidationError):
        model(**kwargs)


# --- JSON -------------------------------------------------------------------------------------


def test_report_json_shape() -> None:
    """``model_dump(mode="json")`` is JSON-serialisable and carries summary and per-check status."""
    rds = CheckResult(
        check=Check.RDS,
        status=Status.STALE,
        reason="old",
        evidence_at=NOW - timedelta(hours=31),
        age_hours=31.0,
        key="rds:db1-2026-11-26",
    )
    s3 = CheckResult(check=Check.S3, status=Status.OK, reason="fine", size_bytes=1024)
    stale = TenantReport(
        tenant="db1",
        db_instance_identifier="db1",
        region=REGION,
        status=Status.STALE,
        reason="rds: old",
        checks={Check.RDS: rds, Check.S3: s3},
    )
    report = make_report(stale, row("db2"), region_errors=(region_error(),))

    data = report.model_dump(mode="json")
    decoded = json.loads(json.dumps(data))

    assert decoded == data
    assert decoded["summary"]["tenants"] == 2
    assert decoded["summary"]["failing"] == 1
    assert decoded["summary"]["regions_failed"] == 1
    assert list(decoded["summary"]["by_status"]) == [s.value for s in SEVERITY_ORDER]
    assert decoded["summary"]["by_status"]["STALE"] == 1
    assert decoded["summary"]["by_status"]["OK"] == 1
    assert decoded["summary"]["by_status"]["ERROR"] == 0
    first = decoded["tenants"][0]
    assert first["status"] == "STALE"
    assert first["checks"]["rds"]["status"] == "STALE"
    assert first["checks"]["rds"]["age_hours"] == 31.0
    assert first["checks"]["s3"]["status"] == "OK"
    assert first["checks"]["rds"]["evidence_at"].startswith("2026-11-26T00:00:00")
    assert decoded["tenants"][1]["checks"]["rds"]["status"] == "OK"
    assert decoded["region_errors"] == [
        {
            "region": OTHER_REGION,
            "reason": "AccessDenied: rds:DescribeDBInstances",
            "account_id": None,
        }
    ]
    assert decoded["generated_at"].startswith("2026-11-27T07:00:00")


def test_empty_report_json() -> None:
    """An empty report still serialises, with every status counted as zero."""
    data = json.loads(json.dumps(make_report().model_dump(mode="json")))
    assert data["summary"] == {
        "tenants": 0,
        "failing": 0,
        "by_status": dict.fromkeys((s.value for s in SEVERITY_ORDER), 0),
        "regions_failed": 0,
    }
    assert data["tenants"] == []
