"""Properties: what must hold for *any* tenants, names, statuses, evidence and faults.

Three levels, cheapest first:

- the digest (pure): for any report, a subject SNS accepts, a body within SNS's byte limit, and
  every tenant either on a line or counted in "... and N more", the counts true;
- the verdicts (pure): ``OK`` only with evidence younger than the window, for any ages, windows,
  sizes and minimum sizes, exactly per the decision tables of docs/evidence.md;
- a whole run (moto): for generated tenant sets, tags (malformed ones too) and injected faults,
  every tenant exactly once, counts that add up, never ``OK`` without fresh evidence, faulted
  tenants never ``OK``.

Statuses are drawn from ``list(Status)``, so new statuses are covered without editing this file.
The machine has two cores: example counts are kept small enough for the file to stay < 30 s.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from backupwatch import (
    Check,
    CheckResult,
    ObjectInfo,
    RdsEvidence,
    RegionError,
    Report,
    Retrier,
    S3Evidence,
    SnapshotInfo,
    Status,
    Tenant,
    TenantReport,
    check_tenants,
    evaluate_rds,
    evaluate_s3,
    load_settings,
    render_digest,
)
from backupwatch.core.digest import no_tenants_hint
from backupwatch.core.evaluation import tenant_report

from .conftest import (
    CONNECTION_RESET,
    DENIED,
    NOW,
    OTHER_REGION,
    REGION,
    SERVER_ERROR,
    SLOW,
    THROTTLED,
    Fault,
    Faults,
    RecordingSleep,
    World,
    env_for,
    hours_ago,
    prefix_is,
    use_fake_env,
)

SNS_MESSAGE_MAX_BYTES = 262_144
SUBJECT_LIMIT = 100  # AWS: "less than 100 characters"
ATTEMPTS = Retrier().attempts

# --- strategies -------------------------------------------------------------------------------

NASTY = [
    "$(rm -rf /)",
    "`reboot`",
    "; DROP TABLE tenants; --",
    "' OR '1'='1",
    "<script>alert(1)</script>",
    "&amp; <&>",
    "😀🔥💾",
    "👨‍👩‍👧‍👦",
    "שלום עולם",
    "مرحبا",
    "\u202egnp.exe",
    "e\u0301\u0301\u0301",
    "a\nb\r\nc",
    "line\u2028sep\u2029para",
    "\x00\x07\x1b[31mred",
    "\t",
    " ",
    "",
    "Ω≈ç√∫",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "  - fake [OK] (db, r): injected line",
    "... and 3 more",
    "OK: 99 tenant(s) with fresh backups.",
]
"""Names and reasons that have broken other people's reports: shells, SQL, markup, RTL,
combining marks, zero-width joiners, line separators, terminal escapes, lookalike lines."""

texts = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=40),
    # Very long, cheaply: a short piece repeated (hypothesis draws big strings slowly).
    st.builds(
        lambda piece, times: piece * times, st.text(min_size=1, max_size=4), st.integers(1, 3000)
    ),
)
statuses = st.sampled_from(list(Status))
regions = st.sampled_from(["us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1"])


def _naive(year: int, month: int = 1, day: int = 1) -> datetime:
    """Hypothesis wants naive bounds for ``st.datetimes``; these are UTC."""
    return datetime(year, month, day, tzinfo=UTC).replace(tzinfo=None)


aware_times = st.datetimes(
    min_value=_naive(2000), max_value=_naive(2100), timezones=st.just(UTC)
) | st.builds(
    lambda when, minutes: when.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(min_value=_naive(2000, 1, 2), max_value=_naive(2099, 12, 30)),
    st.integers(-14 * 60, 14 * 60),
)

_EXTRA_ROW_FIELDS = set(TenantReport.model_fields) & {"runbook"}
"""Optional row fields the digest renders, when this version of the model has them."""


@st.composite
def rows(
    draw: st.DrawFn,
    reason: st.SearchStrategy[str] = texts,
    status: st.SearchStrategy[Status] = statuses,
) -> TenantReport:
    extra: dict[str, Any] = {}
    if "runbook" in _EXTRA_ROW_FIELDS:
        extra["runbook"] = draw(st.none() | texts)
    return TenantReport(
        tenant=draw(texts),
        db_instance_identifier=draw(texts),
        region=draw(regions),
        status=draw(status),
        reason=draw(reason),
        **extra,
    )


@st.composite
def reports(draw: st.DrawFn, tenants: st.SearchStrategy[list[TenantReport]]) -> Report:
    region_list = draw(st.lists(regions, min_size=1, max_size=3, unique=True))
    return Report(
        generated_at=draw(aware_times),
        regions=tuple(region_list),
        checks=tuple(draw(st.lists(st.sampled_from(list(Check)), min_size=1, unique=True))),
        tenants=tuple(draw(tenants)),
        region_errors=tuple(
            RegionError(region=draw(regions), reason=draw(texts))
            for _ in range(draw(st.integers(0, 2)))
        ),
    )


# --- (a) the digest ---------------------------------------------------------------------------


def clean(text: str) -> str:
    """docs/evidence.md: control characters (newlines included) become spaces."""
    return "".join(c if c.isprintable() else " " for c in text)


def attributes_bytes(attributes: dict[str, dict[str, str]]) -> int:
    """How SNS counts message attributes against the 256 KiB limit: name, type and value."""
    return sum(
        len(name.encode()) + len(value["DataType"].encode()) + len(value["StringValue"].encode())
        for name, value in attributes.items()
    )


def expected_lines(report: Report) -> list[str]:
    """The start of each line the digest may list, in order: regions not checked, then the
    failing tenants by status (most severe first), then the other listed ones, then the OK
    ones with notes."""
    starts = [f"  - {clean(e.region)}: " for e in report.region_errors]
    for failing in (True, False):
        for status in Status:
            starts += [
                f"  - {clean(row.tenant)} [{status.value}] ("
                for row in report.tenants
                if row.status is status and row.status is not Status.OK and row.failing is failing
            ]
    # OK rows with a note (a shared tenant name, a loosened policy) are named under NOTES.
    starts += [
        f"  - {clean(row.tenant)} [OK] ("
        for row in report.tenants
        if row.status is Status.OK and row.notes
    ]
    return starts


def assert_digest_holds(report: Report) -> tuple[int, int]:
    """Every promise of the digest, for this report; returns (lines listed, N in "and N more")."""
    digest = render_digest(report)
    summary = report.summary

    subject = digest.subject
    assert 0 < len(subject) < SUBJECT_LIMIT
    assert subject.isascii(), repr(subject)
    assert subject.isprintable(), repr(subject)
    assert subject.startswith(f"backupwatch {report.generated_at.astimezone(UTC):%Y-%m-%d}: ")

    assert digest.body
    size = len(digest.body.encode()) + attributes_bytes(digest.message_attributes)
    assert size == digest.size_bytes <= SNS_MESSAGE_MAX_BYTES
    assert all(c == "\n" or c.isprintable() for c in digest.body), "a control character leaked"

    # The counts are true, and add up.
    assert list(summary.by_status) == list(Status)
    assert sum(summary.by_status.values()) == summary.tenants == len(report.tenants)
    assert summary.failing == sum(1 for row in report.tenants if row.failing)
    assert all(not row.failing for row in report.tenants if row.status is Status.OK)
    expected_failing = summary.failing + summary.regions_failed + (0 if summary.tenants else 1)
    assert digest.failing == expected_failing
    assert digest.message_attributes["failing"] == {
        "DataType": "Number",
        "StringValue": str(expected_failing),
    }
    assert report.failing is (expected_failing > 0)

    lines = digest.body.split("\n")
    assert lines[2].startswith(f"{summary.failing} of {summary.tenants} tenants failing")
    if summary.tenants:
        assert lines[-1] == f"OK: {summary.by_status[Status.OK]} tenant(s) with fresh backups."
    else:
        assert lines[-1] == no_tenants_hint(report)
        assert ("is the tenant tag set" in lines[-1]) is (summary.regions_failed == 0)

    # Every tenant listed, or counted in "... and N more"; listed in order, none invented.
    listed = [line for line in lines if line.startswith("  - ")]
    cuts = [m for line in lines if (m := re.fullmatch(r"\.\.\. and (\d+) more", line))]
    assert len(cuts) <= 1
    more = int(cuts[0].group(1)) if cuts else 0
    expected = expected_lines(report)
    assert len(listed) + more == len(expected)
    for line, start in zip(listed, expected, strict=False):
        assert line.startswith(start), (line[:80], start[:80])
    event("digest cut" if more else "digest whole")
    return len(listed), more


@settings(max_examples=60, deadline=None)
@given(reports(st.lists(rows(), max_size=40)))
def test_digest_for_any_report(report: Report) -> None:
    """Any tenants, names, statuses and reasons: a subject and body SNS accepts, counts true,
    every tenant listed or counted."""
    assert_digest_holds(report)


huge_reasons = st.builds(
    lambda piece, times: piece * times,
    st.sampled_from(["x", "é", "😀", "\n", "ab\u202e"]),
    st.integers(5_000, 12_000),
)


@settings(max_examples=12, deadline=None)
@given(
    reports(
        st.lists(
            rows(huge_reasons, st.sampled_from([s for s in Status if s is not Status.OK])),
            min_size=25,
            max_size=60,
        )
    )
)
def test_digest_too_big_for_sns_is_cut_and_counted(report: Report) -> None:
    """25+ listed tenants with reasons of 5,000+ characters, mostly over 256 KiB: the list is
    cut exactly when it must be, the cut counts what it left out, and the message still fits."""
    listed, more = assert_digest_holds(report)
    reasons_bytes = sum(len(clean(row.reason).encode()) for row in report.tenants)
    if reasons_bytes > SNS_MESSAGE_MAX_BYTES:
        assert more > 0
        assert listed < len(report.tenants) + len(report.region_errors)


# --- (b) the verdicts -------------------------------------------------------------------------

windows = st.one_of(
    st.floats(min_value=0.01, max_value=24 * 400, allow_nan=False, allow_infinity=False),
    st.sampled_from([24.0, 1.0, 0.5, 26.0, 168.0]),
)
ages = st.one_of(
    st.integers(-3 * 86_400, 500 * 86_400).map(lambda s: timedelta(seconds=s)),
    # Right at a window's edge, where off-by-one errors live.
    st.sampled_from([24, 1, 26, 168]).flatmap(
        lambda h: st.integers(-2, 2).map(lambda s: timedelta(hours=h, seconds=s))
    ),
)


def fresh(age: timedelta, window_hours: float) -> bool:
    """docs/evidence.md: fresh when age <= window; a future time counts as age 0."""
    return max(age, timedelta(0)) <= timedelta(hours=window_hours)


@given(
    retention=st.integers(0, 35),
    age=st.none() | ages,
    window=windows,
    now=aware_times,
)
def test_rds_ok_only_with_a_fresh_snapshot(
    retention: int, age: timedelta | None, window: float, now: datetime
) -> None:
    """Backups on and a snapshot no older than the window: OK; anything else never is."""
    snapshot = None if age is None else SnapshotInfo(snapshot_id="rds:x", created_at=now - age)
    evidence = RdsEvidence(
        db_instance_identifier="db", backup_retention_period=retention, newest_snapshot=snapshot
    )
    result = evaluate_rds(evidence, max_age_hours=window, now=now)
    assert result.status in list(Status)
    if retention == 0:
        expected = Status.DISABLED
    elif age is None:
        expected = Status.MISSING
    else:
        expected = Status.OK if fresh(age, window) else Status.STALE
    assert result.status is expected, result.reason
    if result.status is Status.OK:
        assert result.evidence_at is not None
        assert fresh(now - result.evidence_at, window)


@dataclass(frozen=True)
class Listed:
    age: timedelta
    size: int


@given(
    objects=st.lists(
        st.builds(Listed, ages, st.sampled_from([0, 1, 512, 1023, 1024, 1025, 10**9])), max_size=6
    ),
    minimum=st.sampled_from([0, 1, 1024, 10**6]),
    window=windows,
    unread_older=st.booleans(),
    now=aware_times,
)
def test_s3_ok_only_with_a_fresh_full_size_object(
    objects: list[Listed], minimum: int, window: float, unread_older: bool, now: datetime
) -> None:
    """The S3 decision table of docs/evidence.md, for any objects, sizes and windows: OK only
    when an object of at least the minimum size is no older than the window."""
    infos = [
        ObjectInfo(key=f"k{i}", last_modified=now - o.age, size=o.size)
        for i, o in enumerate(objects)
    ]
    newest = max(infos, key=lambda o: o.last_modified, default=None)
    countable = max(
        (o for o in infos if o.size >= minimum), key=lambda o: o.last_modified, default=None
    )
    evidence = S3Evidence(
        bucket="b",
        prefix="t/",
        min_object_bytes=minimum,
        objects_seen=len(infos),
        newest=newest,
        newest_countable=countable,
        listed_after="t/2026/11/26" if unread_older else None,
        unread_older_objects=unread_older,
    )
    result = evaluate_s3(evidence, max_age_hours=window, now=now)

    def is_fresh(item: ObjectInfo | None) -> bool:
        return item is not None and fresh(now - item.last_modified, window)

    if is_fresh(countable):
        expected = Status.OK
    elif is_fresh(newest):
        expected = Status.EMPTY
    elif countable is not None or unread_older:
        expected = Status.STALE
    else:
        expected = Status.MISSING
    assert result.status is expected, result.reason
    if result.status is Status.OK:
        assert any(o.size >= minimum and fresh(now - o.last_modified, window) for o in infos)
        assert result.size_bytes is not None
        assert result.size_bytes >= minimum
        assert result.evidence_at is not None
        assert fresh(now - result.evidence_at, window)


@given(
    checks=st.dictionaries(st.sampled_from(list(Check)), statuses, max_size=2),
    problems=st.lists(texts, max_size=2),
)
def test_a_tenant_is_ok_only_when_every_check_is(
    checks: dict[Check, Status], problems: list[str]
) -> None:
    """A tenant takes its worst check; a problem of its own, or no check at all, is ERROR."""
    tenant = Tenant(
        name="t",
        db_instance_identifier="db-t",
        region=REGION,
        max_age_hours=24,
        min_object_bytes=1,
        problems=tuple(problems),
    )
    results = {c: CheckResult(check=c, status=s, reason=f"{s}") for c, s in checks.items()}
    row = tenant_report(tenant, results)
    statuses_seen = [*checks.values(), *([Status.ERROR] if problems or not checks else [])]
    assert row.status.severity == max(s.severity for s in statuses_seen)
    assert (row.status is Status.OK) is (
        not problems and bool(checks) and all(s is Status.OK for s in checks.values())
    )
    assert row.reason
    for problem in problems:
        assert problem in row.reason


# --- (c) a whole run against moto -------------------------------------------------------------

TAG_MAX_AGE = "backupwatch:max-age-hours"
MISSING_SEED = "db-gone"
"""Listed in the environment (``DB_INSTANCE_IDENTIFIER_1``), absent from every region."""
TAG_PREFIX = "backupwatch:s3-prefix"
FAULTS: list[tuple[Fault, int | None]] = [
    (THROTTLED, 2),
    (THROTTLED, ATTEMPTS - 1),
    (THROTTLED, None),
    (DENIED, None),
    (CONNECTION_RESET, 1),
    (SLOW, None),
    (SERVER_ERROR, None),
]
tag_names = st.one_of(
    st.sampled_from(["acme", "Globex Corp", "$(rm -rf /)", "; DROP", "😀", "שלום", "a\tb", ""]),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12),
)


@dataclass(frozen=True)
class Spec:
    """One generated tenant: its tags, its evidence, and the fault on its folder."""

    name: str
    region: str
    max_age: str | None
    prefix_tag: str | None
    retention: int
    snapshot_hours: float
    object: tuple[float, int] | None
    fault: tuple[Fault, int | None] | None

    def window(self) -> float | None:
        """The tenant's window; None when its tag is malformed (the tenant is then ERROR)."""
        if self.max_age is None:
            return 24.0
        try:
            hours = float(self.max_age.strip())
        except ValueError:
            return None
        return hours if math.isfinite(hours) and hours > 0 else None

    def folder(self, identifier: str) -> str | None:
        """docs/tagging.md: the prefix tag (stripped; empty is a problem), else the template."""
        if self.prefix_tag is None:
            return f"{self.name.strip() or identifier}-backups/"
        stripped = self.prefix_tag.strip()
        if not stripped:
            return None
        return stripped if stripped.endswith("/") else stripped + "/"


GOLDEN = Spec(
    name="golden",
    region=REGION,
    max_age=None,
    prefix_tag=None,
    retention=7,
    snapshot_hours=1.0,
    object=(1.0, 4096),
    fault=None,
)
"""Put first in every generated run: a tenant with fresh evidence and nothing wrong."""
GOLDEN_ID = "db-0"


def _mostly(usual: object, *others: object, weight: int = 3) -> st.SearchStrategy[Any]:
    """``usual`` ``weight`` times as likely as each of ``others``: most generated tenants stay
    checkable, so that OK (the verdict that must be earned) is common enough to be tested."""
    return st.sampled_from([usual] * weight * max(1, len(others) // 2) + list(others))


specs = st.builds(
    Spec,
    name=tag_names,
    region=st.sampled_from([REGION, OTHER_REGION]),
    max_age=_mostly(None, " 48 ", "36.5", "12", "daily", "-5", "0", "inf", "nan", "1e309", ""),
    prefix_tag=_mostly(None, "custom/x", "legacy/$(rm -rf /)", "ñ ü/", "", "   "),
    retention=_mostly(7, 0),
    snapshot_hours=_mostly(1.0, 23.0, 30.0, 60.0),
    object=_mostly((1.0, 4096), (20.0, 1), (30.0, 4096), (1.0, 0), (80.0, 4096), None),
    fault=_mostly(None, *FAULTS),
)


def _fails(fault: tuple[Fault, int | None]) -> bool:
    kind, times = fault
    return kind is DENIED or times is None or times >= ATTEMPTS


def _short(kind: Fault, operation: str) -> str:
    return f"{kind.code('s3' if operation.startswith('s3') else 'rds')} on {operation}"


@functools.cache
def _seeding_clients() -> dict[tuple[str, str], Any]:
    """Seeding clients shared by every example: moto's stubber is global, so a client outlives
    the world it wrote to, and building clients is most of an example's cost."""
    return {}


def _world(
    tenants: list[Spec], missing_seed: bool
) -> tuple[World, dict[str, Spec], dict[str, str]]:
    """Seed moto with the generated tenants; return them by identifier, and the environment."""
    world = World(_clients=_seeding_clients())
    world.bucket()
    by_id: dict[str, Spec] = {}
    for index, spec in enumerate(tenants):
        identifier = f"db-{index}"
        by_id[identifier] = spec
        tags = {}
        if spec.max_age is not None:
            tags[TAG_MAX_AGE] = spec.max_age
        if spec.prefix_tag is not None:
            tags[TAG_PREFIX] = spec.prefix_tag
        world.instance(
            identifier,
            tenant=spec.name,
            tags=tags,
            retention=spec.retention,
            region=spec.region,
            snapshot_at=hours_ago(spec.snapshot_hours),
        )
        folder = spec.folder(identifier)
        if spec.object is not None and folder is not None:
            world.put(f"{folder}{index}.dump", hours_ago(spec.object[0]), size=spec.object[1])
    env = env_for(
        BACKUPWATCH_REGIONS=f"{REGION},{OTHER_REGION}",
        BACKUPWATCH_RDS_REQUESTS_PER_SECOND="100",  # the rate limit really sleeps
        BACKUPWATCH_RDS_BURST="300",
        **({"DB_INSTANCE_IDENTIFIER_1": MISSING_SEED} if missing_seed else {}),
    )
    return world, by_id, env


def _run(session: boto3.Session, env: dict[str, str], by_id: dict[str, Spec]) -> Report:
    report = check_tenants(
        load_settings(env),
        session=session,
        clock=lambda: NOW,
        retrier=Retrier(sleep=RecordingSleep()),
    )
    assert_run_holds(report, by_id)
    return report


def _inject(
    faults: Faults,
    by_id: dict[str, Spec],
    snapshots_fault: tuple[Fault, int | None] | None,
    region_denied: bool,
) -> dict[str, tuple[Fault, int | None]]:
    """Wire the generated faults; return the fault of each faulted folder (the first tenant's,
    when tenants share a folder)."""
    folder_faults: dict[str, tuple[Fault, int | None]] = {}
    for identifier, spec in by_id.items():
        folder = spec.folder(identifier)
        if spec.fault is not None and folder is not None:
            folder_faults.setdefault(folder, spec.fault)
    for folder, (kind, times) in folder_faults.items():
        faults.inject("s3", "ListObjectsV2", kind, times=times, when=prefix_is(folder))
    if snapshots_fault is not None:
        kind, times = snapshots_fault
        faults.inject("rds", "DescribeDBSnapshots", kind, times=times, region=REGION)
    if region_denied:
        faults.inject("rds", "DescribeDBInstances", DENIED, region=OTHER_REGION)
    return folder_faults


def assert_run_holds(report: Report, by_id: dict[str, Spec]) -> None:
    """Once each; counts add up; the digest holds; OK only on fresh evidence, by the tags.

    Evidence is judged per folder, not per tenant: two tenants with the same name share a
    folder, so one fresh object counts for both (docs/tagging.md); a prefix tag onto another
    name's folder is refused (ERROR), which only removes OK rows.
    """
    keys = [(row.region, row.db_instance_identifier) for row in report.tenants]
    assert len(keys) == len(set(keys)), "a tenant appears twice"
    assert_digest_holds(report)
    in_folder: dict[str, list[tuple[float, int]]] = {}
    for identifier, spec in by_id.items():
        folder = spec.folder(identifier)
        if folder is not None and spec.object is not None:
            in_folder.setdefault(folder, []).append(spec.object)
    for row in report.tenants:
        if row.status is not Status.OK:
            continue
        spec = by_id[row.db_instance_identifier]
        window = spec.window()
        assert window is not None, "OK despite a malformed window tag"
        assert spec.retention > 0
        assert spec.snapshot_hours <= window
        folder = spec.folder(row.db_instance_identifier)
        assert folder is not None
        objects = in_folder.get(folder, [])
        assert any(hours <= window and size >= 1 for hours, size in objects), objects
        for result in row.checks.values():
            assert result.evidence_at is not None
            assert NOW - result.evidence_at <= timedelta(hours=window)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    tenants=st.lists(specs, max_size=6),
    snapshots_fault=st.none()
    | st.sampled_from([(THROTTLED, None), (DENIED, None), (THROTTLED, 2)]),
    region_denied=st.booleans(),
    missing_seed=st.booleans(),
)
def test_any_run_reports_every_tenant_once_and_never_ok_without_evidence(
    tenants: list[Spec],
    snapshots_fault: tuple[Fault, int | None] | None,
    region_denied: bool,
    missing_seed: bool,
) -> None:
    """Generated tenants, tags and faults, checked by ``check_tenants`` against moto twice:
    clean, then faulted. Every tenant once, counts true, OK only on fresh evidence, faulted
    tenants never OK, and a fault that clears (or misses a tenant) changes nothing."""
    with pytest.MonkeyPatch.context() as patch:
        use_fake_env(patch)  # inside the test: one moto world per example, not per test
        with mock_aws():
            _, by_id, env = _world([GOLDEN, *tenants], missing_seed)
            clean_run = _run(boto3.Session(region_name=REGION), env, by_id)
            faults = Faults(boto3.Session(region_name=REGION))
            folder_faults = _inject(faults, by_id, snapshots_fault, region_denied)
            faulted_run = _run(faults.session, env, by_id)

    assert [e.region for e in faulted_run.region_errors] == (
        [OTHER_REGION] if region_denied else []
    )
    expected = {i for i, s in by_id.items() if not (region_denied and s.region == OTHER_REGION)}
    expected |= {MISSING_SEED} if missing_seed else set()
    assert {row.db_instance_identifier for row in faulted_run.tenants} == expected, "tenant lost"
    event(f"faults fired: {sum(i.fired for i in faults.injections) > 0}")
    for row in faulted_run.tenants:
        event(f"status {row.status.value}")

    before = {row.db_instance_identifier: row for row in clean_run.tenants}
    unseen_folders = {
        spec.folder(identifier) for identifier, spec in by_id.items() if spec.region == OTHER_REGION
    }
    snapshots_fail = snapshots_fault is not None and _fails(snapshots_fault)
    for row in faulted_run.tenants:
        if row.db_instance_identifier == MISSING_SEED:
            assert row.status is Status.ERROR
            assert "not found" in row.reason
            continue
        spec = by_id[row.db_instance_identifier]
        folder = spec.folder(row.db_instance_identifier)
        fault = folder_faults.get(folder) if folder is not None else None
        touched = False
        if fault is not None and _fails(fault):
            touched = True
            assert row.status is Status.ERROR
            s3_reason = row.checks[Check.S3].reason
            # A folder refused as another name's (ownership) is ERROR without being listed.
            refused = "belongs to tenant" in s3_reason or "no one's evidence" in s3_reason
            assert refused or _short(fault[0], "s3:ListBucket") in s3_reason
        if snapshots_fail and spec.region == REGION:
            touched = True  # retention 0 stays DISABLED, minus the snapshot's age
            if spec.retention > 0:
                assert snapshots_fault is not None
                assert row.status is Status.ERROR
                reason = row.checks[Check.RDS].reason
                assert _short(snapshots_fault[0], "rds:DescribeDBSnapshots") in reason
        if not touched and region_denied and folder in unseen_folders:
            # Its folder is also claimed by a resource of the region that could not be listed:
            # who owns it is unknown, so the verdict may differ from the clean run's (it is
            # still judged on its own folder's evidence, never on another tenant's).
            continue
        if not touched:
            # Missed by every fault, or a fault that cleared in time: as in the clean run.
            clean_row = before[row.db_instance_identifier]
            clean_reason = clean_row.reason
            if region_denied:
                # Claimants of a name in a region that was not listed are unknown: the note
                # "also claimed by" can only name the ones that were found.
                clean_reason = _without_claimants_in(clean_reason, OTHER_REGION)
                assert _without_claimants_in(row.reason, OTHER_REGION) == row.reason
            assert (row.status, row.reason) == (clean_row.status, clean_reason)
            if row.db_instance_identifier == GOLDEN_ID:
                # Nothing is wrong with it: OK must be reachable, not only ERROR.
                assert row.status is Status.OK, row.reason


def _without_claimants_in(reason: str, region: str) -> str:
    """``reason`` with every "also claimed by" claimant in ``region`` left out (and the note
    itself when none is left)."""
    marker = " is also claimed by "
    head, found, rest = reason.partition(marker)
    if not found:
        return reason
    claims, semicolon, tail = rest.partition("; ")
    kept = [c for c in claims.split(", ") if not c.endswith(f"({region})")]
    if kept:
        return f"{head}{marker}{', '.join(kept)}{semicolon}{tail}"
    # The note starts at "tenant name": the name itself may hold "; " (a tenant called
    # "; DROP"), so the note's start is never found by looking for the separator.
    note_start = head.rfind("tenant name ")
    prefix = head[:note_start].removesuffix("; ") if note_start > 0 else ""
    return f"{prefix}{semicolon}{tail}" if prefix else tail
