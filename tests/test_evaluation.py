"""Verdicts: evaluate_rds, evaluate_s3, tenant_report, format_age and format_bytes (pure)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest

from backupwatch.core.evaluation import (
    error_result,
    evaluate_rds,
    evaluate_s3,
    format_age,
    format_bytes,
    tenant_report,
)
from backupwatch.core.models import (
    Check,
    CheckResult,
    ObjectInfo,
    RdsEvidence,
    S3Evidence,
    SnapshotInfo,
    Status,
    Tenant,
)

from .conftest import BUCKET, NOW, REGION

H = timedelta(hours=1)
PREFIX = "db1-backups/"


def snapshot(age: timedelta, snapshot_id: str = "rds:db1-2026-11-27-06-00") -> SnapshotInfo:
    """An automated snapshot taken ``age`` before NOW."""
    return SnapshotInfo(snapshot_id=snapshot_id, created_at=NOW - age)


def rds(age: timedelta | None, *, retention: int = 7) -> RdsEvidence:
    """RDS evidence whose newest snapshot is ``age`` old (None: no snapshot)."""
    return RdsEvidence(
        db_instance_identifier="db1",
        backup_retention_period=retention,
        newest_snapshot=None if age is None else snapshot(age),
    )


def obj(key: str, age: timedelta, size: int = 1024) -> ObjectInfo:
    """An object under PREFIX modified ``age`` before NOW."""
    return ObjectInfo(key=PREFIX + key, last_modified=NOW - age, size=size)


def s3(*objects: ObjectInfo, min_bytes: int = 1) -> S3Evidence:
    """S3 evidence as a full listing of ``objects`` would produce it (see s3_evidence)."""
    newest = max(objects, key=lambda o: o.last_modified, default=None)
    countable = max(
        (o for o in objects if o.size >= min_bytes), key=lambda o: o.last_modified, default=None
    )
    return S3Evidence(
        bucket=BUCKET,
        prefix=PREFIX,
        min_object_bytes=min_bytes,
        objects_seen=len(objects),
        newest=newest,
        newest_countable=countable,
    )


def tenant(*problems: str, max_age_hours: float = 24) -> Tenant:
    """Tenant db1 with the given configuration problems."""
    return Tenant(
        name="db1",
        db_instance_identifier="db1-instance",
        region=REGION,
        account_id="123456789012",
        s3_prefix=PREFIX,
        max_age_hours=max_age_hours,
        min_object_bytes=1,
        backup_retention_period=7,
        problems=problems,
    )


def result(check: Check, status: Status, reason: str | None = None) -> CheckResult:
    """A check result with a recognisable reason."""
    return CheckResult(check=check, status=status, reason=reason or f"{check.value} {status.value}")


def _age_of(when: datetime | None) -> timedelta:
    assert when is not None
    return max(NOW - when, timedelta(0))


# --- evaluate_rds -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "window", "expected"),
    [
        (timedelta(0), 24, Status.OK),
        (timedelta(minutes=42), 24, Status.OK),
        (23 * H, 24, Status.OK),
        (24 * H, 24, Status.OK),
        (24 * H + timedelta(microseconds=1), 24, Status.STALE),
        (24 * H + timedelta(seconds=1), 24, Status.STALE),
        (31 * H, 24, Status.STALE),
        (31 * H, 36, Status.OK),
        (36 * H, 36, Status.OK),
        (37 * H, 36, Status.STALE),
        (30 * timedelta(minutes=1), 0.5, Status.OK),
        (31 * timedelta(minutes=1), 0.5, Status.STALE),
    ],
)
def test_rds_window(age: timedelta, window: float, expected: Status) -> None:
    """Fresh means age <= window: the boundary itself is fresh, anything past it is STALE."""
    verdict = evaluate_rds(rds(age), max_age_hours=window, now=NOW)
    assert verdict.status is expected
    assert verdict.check is Check.RDS


def test_rds_stale_reason_states_age_and_window() -> None:
    """A STALE verdict says how old the snapshot is and what the window was."""
    verdict = evaluate_rds(rds(31 * H), max_age_hours=24, now=NOW)
    assert verdict.status is Status.STALE
    assert "31 h old (window 24 h)" in verdict.reason


def test_rds_ok_reason_states_age() -> None:
    """An OK verdict says how old the snapshot is."""
    verdict = evaluate_rds(rds(timedelta(minutes=42)), max_age_hours=24, now=NOW)
    assert verdict.reason == "newest automated snapshot 42 min old"


@pytest.mark.parametrize("retention", [1, 7, 35])
def test_rds_missing_without_snapshot(retention: int) -> None:
    """No automated snapshot at all is MISSING, with no evidence fields."""
    verdict = evaluate_rds(rds(None, retention=retention), max_age_hours=24, now=NOW)
    assert verdict.status is Status.MISSING
    assert "no available automated snapshot" in verdict.reason
    assert (verdict.evidence_at, verdict.age_hours, verdict.key) == (None, None, None)


@pytest.mark.parametrize("age", [None, timedelta(0), H, 24 * H, 200 * H])
def test_rds_retention_zero_is_disabled(age: timedelta | None) -> None:
    """Retention 0 is DISABLED whatever snapshot remains, a fresh one included."""
    verdict = evaluate_rds(rds(age, retention=0), max_age_hours=24, now=NOW)
    assert verdict.status is Status.DISABLED
    assert "BackupRetentionPeriod=0" in verdict.reason
    if age is not None:
        assert verdict.key == "rds:db1-2026-11-27-06-00"
        assert f"{format_age(age)} old" in verdict.reason


@pytest.mark.parametrize(
    ("age", "window", "age_hours"),
    [(90 * timedelta(minutes=1), 24, 1.5), (31 * H, 24, 31.0), (timedelta(minutes=1), 24, 0.02)],
)
def test_rds_evidence_fields(age: timedelta, window: float, age_hours: float) -> None:
    """evidence_at, age_hours and key come from the newest snapshot."""
    verdict = evaluate_rds(rds(age), max_age_hours=window, now=NOW)
    assert verdict.evidence_at == NOW - age
    assert verdict.age_hours == age_hours
    assert verdict.key == "rds:db1-2026-11-27-06-00"
    assert verdict.size_bytes is None


@pytest.mark.parametrize("ahead", [timedelta(seconds=1), 2 * H, 1000 * H])
def test_rds_future_snapshot_counts_as_age_zero(ahead: timedelta) -> None:
    """A snapshot stamped in the future (clock skew) is age 0 and OK."""
    verdict = evaluate_rds(rds(-ahead), max_age_hours=24, now=NOW)
    assert verdict.status is Status.OK
    assert verdict.age_hours == 0
    assert verdict.reason == "newest automated snapshot 0 min old"


def test_rds_per_tenant_window_changes_verdict() -> None:
    """The same 30 h old snapshot is STALE under 24 h and OK under the tenant's 36 h."""
    evidence = rds(30 * H)
    assert evaluate_rds(evidence, max_age_hours=24, now=NOW).status is Status.STALE
    assert evaluate_rds(evidence, max_age_hours=36, now=NOW).status is Status.OK


# --- evaluate_s3 ------------------------------------------------------------------------------

S3_CASES = {
    "fresh-full": ([obj("a.dump", H, 2048)], 1, Status.OK, "a.dump"),
    "fresh-exactly-min": ([obj("a.dump", H, 1024)], 1024, Status.OK, "a.dump"),
    "fresh-zero-byte": ([obj("a.dump", H, 0)], 1, Status.EMPTY, "a.dump"),
    "fresh-below-min": ([obj("a.dump", H, 1023)], 1024, Status.EMPTY, "a.dump"),
    "fresh-tiny-and-old-full": (
        [obj("tiny", H, 0), obj("old.dump", 48 * H, 4096)],
        1,
        Status.EMPTY,
        "tiny",
    ),
    "old-full": ([obj("old.dump", 48 * H, 4096)], 1, Status.STALE, "old.dump"),
    "old-full-and-older-tiny": (
        [obj("old.dump", 48 * H), obj("older", 60 * H, 0)],
        1,
        Status.STALE,
        "old.dump",
    ),
    "old-full-newer-old-tiny": (
        [obj("old.dump", 60 * H), obj("tiny", 48 * H, 0)],
        1,
        Status.STALE,
        "old.dump",
    ),
    "nothing": ([], 1, Status.MISSING, None),
    "old-tiny-only": ([obj("a", 48 * H, 0), obj("b", 50 * H, 3)], 1024, Status.MISSING, None),
    "boundary-fresh": ([obj("a.dump", 24 * H)], 1, Status.OK, "a.dump"),
    "just-past-boundary": (
        [obj("a.dump", 24 * H + timedelta(seconds=1))],
        1,
        Status.STALE,
        "a.dump",
    ),
    "min-zero-accepts-empty": ([obj("a.dump", H, 0)], 0, Status.OK, "a.dump"),
    "fresher-tiny-fresh-full": (
        [obj("tiny", timedelta(minutes=5), 0), obj("full.dump", 2 * H)],
        1,
        Status.OK,
        "full.dump",
    ),
    "newest-full-wins": (
        [obj("one.dump", 3 * H), obj("two.dump", 2 * H), obj("zero.dump", 20 * H)],
        1,
        Status.OK,
        "two.dump",
    ),
    "future-object": ([obj("a.dump", -2 * H)], 1, Status.OK, "a.dump"),
}


@pytest.mark.parametrize(
    ("objects", "min_bytes", "expected", "key"), list(S3_CASES.values()), ids=list(S3_CASES)
)
def test_s3_verdicts(
    objects: list[ObjectInfo], min_bytes: int, expected: Status, key: str | None
) -> None:
    """OK needs a fresh object of the minimum size; EMPTY, STALE, MISSING tell the rest apart."""
    verdict = evaluate_s3(s3(*objects, min_bytes=min_bytes), max_age_hours=24, now=NOW)
    assert verdict.status is expected
    assert verdict.check is Check.S3
    assert verdict.key == (None if key is None else PREFIX + key)


def test_s3_ok_fields_and_reason() -> None:
    """OK reports the countable object's key, size, time and age."""
    item = obj("db1.dump", 2 * H, 1536)
    verdict = evaluate_s3(s3(item), max_age_hours=24, now=NOW)
    assert verdict.status is Status.OK
    assert verdict.reason == "newest backup object 2 h old (1.5 KiB)"
    assert (verdict.key, verdict.size_bytes) == (item.key, 1536)
    assert verdict.evidence_at == item.last_modified
    assert verdict.age_hours == 2.0


def test_s3_empty_reason_names_minimum_and_object() -> None:
    """EMPTY says the minimum, and the newest fresh object's key, size and age."""
    verdict = evaluate_s3(s3(obj("tiny.dump", H, 10), min_bytes=1024), max_age_hours=24, now=NOW)
    assert verdict.status is Status.EMPTY
    assert verdict.reason == (
        f"fresh objects are all smaller than 1 KiB: newest '{PREFIX}tiny.dump' is 10 B, 1 h old"
        "; no backup object of full size at all"
    )
    assert (verdict.size_bytes, verdict.age_hours) == (10, 1.0)


def test_s3_empty_reason_also_dates_the_last_full_size_backup() -> None:
    """Fresh tiny objects over an old real backup: EMPTY, and the reason says how old it is."""
    verdict = evaluate_s3(
        s3(obj("tiny.dump", H, 0), obj("real.dump", 50 * H, 4096)), max_age_hours=24, now=NOW
    )
    assert verdict.status is Status.EMPTY
    assert verdict.reason.endswith("; last backup object of full size 50 h old")


def test_s3_stale_reason_states_age_and_window() -> None:
    """STALE says the countable object's age and the window."""
    verdict = evaluate_s3(s3(obj("old.dump", 31 * H)), max_age_hours=24, now=NOW)
    assert verdict.status is Status.STALE
    assert verdict.reason == "newest backup object 31 h old (window 24 h)"
    assert verdict.evidence_at == NOW - 31 * H


def test_s3_missing_with_no_objects() -> None:
    """An empty prefix is MISSING, names the location, and reports no evidence."""
    verdict = evaluate_s3(s3(min_bytes=1), max_age_hours=24, now=NOW)
    assert verdict.status is Status.MISSING
    assert verdict.reason == f"no object of at least 1 B under s3://{BUCKET}/{PREFIX}"
    assert "smaller" not in verdict.reason
    assert (verdict.key, verdict.size_bytes, verdict.evidence_at) == (None, None, None)


def test_s3_missing_mentions_smaller_objects() -> None:
    """Only old objects below the minimum is MISSING, and says smaller objects were found."""
    evidence = s3(obj("a", 48 * H, 0), obj("b", 50 * H, 3), min_bytes=1024)
    verdict = evaluate_s3(evidence, max_age_hours=24, now=NOW)
    assert verdict.status is Status.MISSING
    assert "at least 1 KiB" in verdict.reason
    assert "(2 smaller object(s) found)" in verdict.reason


def test_s3_per_tenant_window_changes_verdict() -> None:
    """The same 30 h old object is STALE under 24 h and OK under 36 h."""
    evidence = s3(obj("a.dump", 30 * H))
    assert evaluate_s3(evidence, max_age_hours=24, now=NOW).status is Status.STALE
    assert evaluate_s3(evidence, max_age_hours=36, now=NOW).status is Status.OK


# --- Property: OK only ever with fresh evidence ------------------------------------------------

GRID_AGES = [-2 * H, timedelta(0), H, 23.99 * H, 24 * H, 24.01 * H, 36 * H, 48 * H, 500 * H]
GRID_SIZES = [0, 1, 1023, 1024, 5000]
GRID_OBJECTS = [
    obj(f"k{i}-{j}", age, size)
    for i, age in enumerate(GRID_AGES)
    for j, size in enumerate(GRID_SIZES)
]


@pytest.mark.parametrize("window", [0.5, 24, 36])
@pytest.mark.parametrize("min_bytes", [0, 1, 1024])
def test_s3_verdict_matches_oracle_over_grid(window: float, min_bytes: int) -> None:
    """Over every listing of 0-2 objects from a grid, the verdict matches the definitions.

    In particular OK only ever rests on evidence with age <= window and size >= minimum.
    """
    limit = timedelta(hours=window)
    listings = itertools.chain(
        [()], ((o,) for o in GRID_OBJECTS), itertools.combinations(GRID_OBJECTS, 2)
    )
    for objects in listings:
        verdict = evaluate_s3(s3(*objects, min_bytes=min_bytes), max_age_hours=window, now=NOW)
        fresh = [o for o in objects if _age_of(o.last_modified) <= limit]
        if any(o.size >= min_bytes for o in fresh):
            expected = Status.OK
        elif fresh:
            expected = Status.EMPTY
        elif any(o.size >= min_bytes for o in objects):
            expected = Status.STALE
        else:
            expected = Status.MISSING
        assert verdict.status is expected, objects
        if verdict.status is Status.OK:
            assert _age_of(verdict.evidence_at) <= limit, objects
            assert verdict.size_bytes is not None
            assert verdict.size_bytes >= min_bytes, objects


@pytest.mark.parametrize("window", [0.5, 1, 24, 36, 72])
@pytest.mark.parametrize("retention", [0, 1, 7])
@pytest.mark.parametrize("age", [None, *GRID_AGES])
def test_rds_ok_only_with_fresh_snapshot(
    window: float, retention: int, age: timedelta | None
) -> None:
    """evaluate_rds is OK exactly when backups are on and the snapshot is at most window old."""
    verdict = evaluate_rds(rds(age, retention=retention), max_age_hours=window, now=NOW)
    fresh = age is not None and max(age, timedelta(0)) <= timedelta(hours=window)
    assert (verdict.status is Status.OK) is (retention > 0 and fresh)
    if verdict.status is Status.OK:
        assert _age_of(verdict.evidence_at) <= timedelta(hours=window)


@pytest.mark.parametrize("check", list(Check))
def test_error_result_is_never_ok(check: Check) -> None:
    """A check that could not be made is ERROR with its reason and no evidence."""
    verdict = error_result(check, "AccessDenied")
    assert (verdict.check, verdict.status, verdict.reason) == (check, Status.ERROR, "AccessDenied")
    assert verdict.evidence_at is None


# --- tenant_report ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rds_status", "s3_status"), list(itertools.product(list(Status), list(Status)))
)
def test_tenant_status_is_worst_of_checks(rds_status: Status, s3_status: Status) -> None:
    """A tenant's status is the most severe of its checks."""
    results = {Check.RDS: result(Check.RDS, rds_status), Check.S3: result(Check.S3, s3_status)}
    report = tenant_report(tenant(), results)
    expected = max(rds_status, s3_status, key=lambda s: s.severity)
    assert report.status is expected
    assert report.failing is expected.failing


@pytest.mark.parametrize(
    "problems",
    [("bad max-age tag 'abc'",), ("instance not found", "bad min-bytes tag '-1'")],
)
@pytest.mark.parametrize("check_status", [Status.OK, Status.STALE])
def test_problems_force_error_but_keep_checks(
    problems: tuple[str, ...], check_status: Status
) -> None:
    """Configuration problems make the tenant ERROR; the check results are still carried."""
    results = {
        Check.RDS: result(Check.RDS, check_status),
        Check.S3: result(Check.S3, Status.OK),
    }
    report = tenant_report(tenant(*problems), results)
    assert report.status is Status.ERROR
    assert report.checks == results
    assert report.reason.startswith("; ".join(problems))


def test_failing_reason_leads_with_problems_then_failing_checks() -> None:
    """The reason is the problems, then each failing check prefixed with its name; OK checks out."""
    results = {
        Check.RDS: result(Check.RDS, Status.STALE, "snapshot 31 h old"),
        Check.S3: result(Check.S3, Status.OK, "object 1 h old"),
    }
    report = tenant_report(tenant("bad tag"), results)
    assert report.reason == "bad tag; rds: snapshot 31 h old"


def test_failing_reason_lists_every_failing_check() -> None:
    """Two failing checks both appear, in check order, each with its name."""
    results = {
        Check.RDS: result(Check.RDS, Status.MISSING, "no snapshot"),
        Check.S3: result(Check.S3, Status.EMPTY, "all tiny"),
    }
    report = tenant_report(tenant(), results)
    assert report.status is Status.MISSING
    assert report.reason == "rds: no snapshot; s3: all tiny"


def test_ok_reason_lists_each_check() -> None:
    """An OK tenant's reason shows every check's evidence."""
    results = {
        Check.RDS: result(Check.RDS, Status.OK, "snapshot 2 h old"),
        Check.S3: result(Check.S3, Status.OK, "object 1 h old"),
    }
    report = tenant_report(tenant(), results)
    assert report.status is Status.OK
    assert report.reason == "rds: snapshot 2 h old; s3: object 1 h old"


def test_tenant_report_copies_identity() -> None:
    """Name, instance, region, account and prefix come from the tenant."""
    report = tenant_report(tenant(), {Check.RDS: result(Check.RDS, Status.OK)})
    assert (
        report.tenant,
        report.db_instance_identifier,
        report.region,
        report.account_id,
        report.s3_prefix,
    ) == ("db1", "db1-instance", REGION, "123456789012", PREFIX)


@pytest.mark.parametrize("problems", [(), ("instance not found",)])
def test_no_checks_is_never_ok(problems: tuple[str, ...]) -> None:
    """A tenant with no check results is ERROR: no evidence is never OK."""
    report = tenant_report(tenant(*problems), {})
    assert report.status is Status.ERROR
    assert report.failing
    assert report.checks == {}
    assert report.reason == ("; ".join(problems) or "no check ran")


@pytest.mark.parametrize(
    "statuses",
    [s for n in (0, 1, 2) for s in itertools.product(list(Status), repeat=n)],
)
@pytest.mark.parametrize("problems", [(), ("bad tag",)])
def test_tenant_ok_only_when_everything_ok(
    statuses: tuple[Status, ...], problems: tuple[str, ...]
) -> None:
    """A tenant is OK exactly when it has checks, all OK, and no problems."""
    results = {
        check: result(check, status)
        for check, status in zip(list(Check)[: len(statuses)], statuses, strict=True)
    }
    report = tenant_report(tenant(*problems), results)
    expected_ok = bool(results) and not problems and all(s is Status.OK for s in statuses)
    assert (report.status is Status.OK) is expected_ok


# --- format_age / format_bytes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "text"),
    [
        (timedelta(0), "0 min"),
        (timedelta(seconds=59), "0 min"),
        (timedelta(minutes=42), "42 min"),
        (timedelta(minutes=59, seconds=59), "59 min"),
        (H, "1 h"),
        (24 * H, "24 h"),
        (24.5 * H, "24.5 h"),
        (31 * H, "31 h"),
        (71.5 * H, "71.5 h"),
        (72 * H, "3 days"),
        (timedelta(days=9.2), "9.2 days"),
        (timedelta(days=400), "400 days"),
        (-5 * H, "0 min"),
    ],
)
def test_format_age(age: timedelta, text: str) -> None:
    """Ages read as minutes, hours, then days; negative ages read as zero."""
    assert format_age(age) == text


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (1, "1 B"),
        (512, "512 B"),
        (1023, "1023 B"),
        (1024, "1 KiB"),
        (1536, "1.5 KiB"),
        (1024**2, "1 MiB"),
        (int(3.2 * 1024**3), "3.2 GiB"),
        (1024**4, "1 TiB"),
        (1024**5, "1024 TiB"),
    ],
)
def test_format_bytes(size: int, text: str) -> None:
    """Sizes read in binary units with at most one decimal."""
    assert format_bytes(size) == text
