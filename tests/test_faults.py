"""Fault drill: every AWS call backupwatch makes, failed in every way AWS fails, in and over HTTP.

For each scenario: every discovered tenant appears exactly once; the tenants the fault touches
are ``ERROR`` with a reason naming the operation and the code (or recover, when the fault clears
within the retry policy); every other tenant reads exactly as in a run without faults; nothing
is ``OK`` without fresh evidence; and the number of HTTP attempts of the faulted call is exact.

The in-process scenarios share one moto world per class: checking only reads (Describe, List),
so a scenario needs a fresh session and its faults, not a fresh world (seeding is the slow part).
No test sleeps: retries record their waits, and a "slow" call raises ``ReadTimeoutError`` at once.
Raw answers (a proxy's 502 in plain text, an HTML error page, a 200 cut in the middle) go through
botocore's real parser: on RDS, SNS and STS they end as ``ResponseParserError``, which is no
``BotoCoreError``; on S3 as a ``ClientError`` coded with the HTTP status. Either way the operator
sees an ``ERROR`` line naming the operation, never a traceback (``tests/test_parser_faults.py``).
docs/reliability.md is the operator's view of this file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError
from moto import mock_aws

from backupwatch import (
    Check,
    ConfigurationError,
    PublishError,
    Report,
    Retrier,
    Status,
    TenantReport,
    check_tenants,
    load_settings,
    render_digest,
    run_daily,
)

from .conftest import (
    ACCOUNT,
    BUCKET,
    CONNECTION_RESET,
    DENIED,
    HTML_PAGE,
    NOW,
    OTHER_REGION,
    REGION,
    SERVER_ERROR,
    SLOW,
    TENANT_TAG,
    THROTTLED,
    TRUNCATED,
    UNREACHABLE,
    UPSTREAM_RESET,
    Fault,
    Faults,
    Injection,
    RecordingSleep,
    World,
    env_for,
    hours_ago,
    prefix_is,
    reset_moto_server,
    running_moto_server,
    use_fake_env,
)

ATTEMPTS = Retrier().attempts
"""The production policy's attempts per call (5); every scenario runs with it."""
WINDOW = timedelta(hours=24)
IAM_NAMES = {
    "ListObjectsV2": "s3:ListBucket",
    "DescribeDBSnapshots": "rds:DescribeDBSnapshots",
    "DescribeDBInstances": "rds:DescribeDBInstances",
    "GetCallerIdentity": "sts:GetCallerIdentity",
    "Publish": "sns:Publish",
}
BOTH_REGIONS = f"{REGION},{OTHER_REGION}"
QUIET_RATE_LIMIT = {
    # The client-side RDS rate limit really sleeps; it is not under test here.
    "BACKUPWATCH_RDS_REQUESTS_PER_SECOND": "100",
    "BACKUPWATCH_RDS_BURST": "300",
}
ACCOUNT_TEMPLATE = "{account_id}/{tenant}/"


def drill_env(**variables: str) -> dict[str, str]:
    """Dry-run settings for both regions, rate limit out of the way."""
    return env_for(BACKUPWATCH_REGIONS=BOTH_REGIONS, **QUIET_RATE_LIMIT, **variables)


# --- the drill world --------------------------------------------------------------------------


@dataclass(frozen=True)
class DrillTenant:
    name: str
    region: str
    retention: int
    snapshot_hours: float
    object_hours: float

    @property
    def identifier(self) -> str:
        return f"db-{self.name}"

    @property
    def prefix(self) -> str:
        return f"{self.name}-backups/"


DRILL_TENANTS = (
    DrillTenant("acme", REGION, 7, 1, 2),  # OK
    DrillTenant("globex", REGION, 7, 5, 3),  # OK
    DrillTenant("initech", REGION, 7, 40, 40),  # STALE on both checks
    DrillTenant("umbrella", REGION, 0, 1, 1),  # DISABLED (backups off), fresh dump
    DrillTenant("wayne", OTHER_REGION, 7, 1, 2),  # OK, in the other region
)
BY_NAME = {tenant.name: tenant for tenant in DRILL_TENANTS}


def seed_drill(world: World) -> None:
    """The drill's five tenants, also under ``{account_id}/{tenant}/`` for the STS scenarios."""
    world.bucket()
    for tenant in DRILL_TENANTS:
        world.instance(
            tenant.identifier,
            tenant=tenant.name,
            retention=tenant.retention,
            region=tenant.region,
            snapshot_at=hours_ago(tenant.snapshot_hours),
        )
        for prefix in (tenant.prefix, f"{ACCOUNT}/{tenant.name}/"):
            world.put(f"{prefix}{tenant.name}.dump", hours_ago(tenant.object_hours))


# --- scenarios --------------------------------------------------------------------------------

Target = Literal["s3", "snapshots", "discovery", "account"]


@dataclass(frozen=True)
class Scenario:
    """One fault on one operation, and which tenants (or region) it reaches."""

    id: str
    target: Target
    fault: Fault
    times: int | None
    """Failing attempts before the fault clears; None: it never does."""
    tenants: tuple[str, ...] = ()
    """s3: the folders faulted (empty: every folder)."""
    region: str | None = None
    """snapshots/discovery: the one region faulted (None: every region)."""
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def service(self) -> str:
        return {"s3": "s3", "snapshots": "rds", "discovery": "rds", "account": "sts"}[self.target]

    @property
    def operation(self) -> str:
        return {
            "s3": "ListObjectsV2",
            "snapshots": "DescribeDBSnapshots",
            "discovery": "DescribeDBInstances",
            "account": "GetCallerIdentity",
        }[self.target]

    @property
    def retried(self) -> bool:
        """Everything but a denial is worth asking again, per backupwatch's retry policy."""
        return self.fault is not DENIED

    @property
    def attempts_per_call(self) -> int:
        """HTTP attempts the faulted call makes: all of them are sends, botocore adds none."""
        if not self.retried:
            return 1
        if self.times is None or self.times >= ATTEMPTS:
            return ATTEMPTS
        return self.times + 1

    @property
    def fails(self) -> bool:
        """Whether the call fails for good (else it recovers within the retry policy)."""
        return not self.retried or self.times is None or self.times >= ATTEMPTS

    @property
    def short(self) -> str:
        """What backupwatch's reason must say: ``SlowDown on s3:ListBucket (after 5 attempts)``."""
        tries = self.attempts_per_call
        suffix = "" if tries == 1 else f" (after {tries} attempts)"
        return f"{self.fault.code(self.service)} on {IAM_NAMES[self.operation]}{suffix}"

    def inject(self, faults: Faults) -> list[Injection]:
        """Wire the fault: one injection per faulted folder, so each call's attempts are exact."""
        if self.target == "s3" and self.tenants:
            return [
                faults.inject(
                    "s3",
                    "ListObjectsV2",
                    self.fault,
                    times=self.times,
                    when=prefix_is(BY_NAME[name].prefix),
                )
                for name in self.tenants
            ]
        return [
            faults.inject(
                self.service, self.operation, self.fault, times=self.times, region=self.region
            )
        ]


def _s3(id: str, fault: Fault, times: int | None, *tenants: str) -> Scenario:
    """The listing of the named tenants' folders (of every folder when none is named)."""
    return Scenario(id, "s3", fault, times, tenants)


def _snapshots(id: str, fault: Fault, times: int | None, region: str | None) -> Scenario:
    """The snapshot listing of one region (of every region when None)."""
    return Scenario(id, "snapshots", fault, times, region=region)


def _discovery(id: str, fault: Fault, times: int | None, region: str) -> Scenario:
    """The instance listing of one region."""
    return Scenario(id, "discovery", fault, times, region=region)


def _account(id: str, fault: Fault, times: int | None) -> Scenario:
    """The account id lookup, made only for a template with ``{account_id}``."""
    env = {"BACKUPWATCH_PREFIX_TEMPLATE": ACCOUNT_TEMPLATE}
    return Scenario(id, "account", fault, times, env=env)


SCENARIOS = [
    _s3("s3-throttled-twice", THROTTLED, 2, "globex"),
    _s3("s3-throttled-4-times", THROTTLED, 4, "globex"),
    _s3("s3-throttled-5-times", THROTTLED, 5, "globex"),
    _s3("s3-throttled-forever", THROTTLED, None, "globex"),
    _s3("s3-throttled-forever-stale-tenant", THROTTLED, None, "initech"),
    _s3("s3-throttled-forever-disabled-tenant", THROTTLED, None, "umbrella"),
    _s3("s3-denied", DENIED, None, "globex"),
    _s3("s3-denied-every-folder", DENIED, None),
    _s3("s3-http-500-once", SERVER_ERROR, 1, "globex"),
    _s3("s3-http-500-forever", SERVER_ERROR, None, "globex"),
    _s3("s3-connection-reset-once", CONNECTION_RESET, 1, "globex"),
    _s3("s3-connection-reset-forever", CONNECTION_RESET, None, "globex"),
    _s3("s3-unreachable-forever", UNREACHABLE, None, "globex"),
    _s3("s3-slow-3-times", SLOW, 3, "globex"),
    _s3("s3-slow-forever", SLOW, None, "globex"),
    _s3("s3-two-folders-two-faults", THROTTLED, None, "acme", "wayne"),
    # Raw answers: S3 names them by HTTP status ("502"; a 200 cut short becomes "500").
    _s3("s3-upstream-502-once", UPSTREAM_RESET, 1, "globex"),
    _s3("s3-upstream-502-forever", UPSTREAM_RESET, None, "globex"),
    _s3("s3-truncated-twice", TRUNCATED, 2, "globex"),
    _s3("s3-truncated-forever", TRUNCATED, None, "globex"),
    _s3("s3-html-page-forever", HTML_PAGE, None, "globex"),
    _snapshots("snapshots-throttled-twice", THROTTLED, 2, REGION),
    _snapshots("snapshots-throttled-forever", THROTTLED, None, REGION),
    _snapshots("snapshots-denied-everywhere", DENIED, None, None),
    _snapshots("snapshots-http-500-forever", SERVER_ERROR, None, REGION),
    _snapshots("snapshots-connection-reset-once", CONNECTION_RESET, 1, REGION),
    _snapshots("snapshots-slow-forever-other-region", SLOW, None, OTHER_REGION),
    # Raw answers on the query protocol: ResponseParserError, retried like a 5xx.
    _snapshots("snapshots-upstream-502-forever", UPSTREAM_RESET, None, REGION),
    _snapshots("snapshots-truncated-once", TRUNCATED, 1, REGION),
    _snapshots("snapshots-truncated-forever-everywhere", TRUNCATED, None, None),
    _snapshots("snapshots-html-page-4-times", HTML_PAGE, 4, OTHER_REGION),
    _snapshots("snapshots-html-page-forever", HTML_PAGE, None, OTHER_REGION),
    _discovery("discovery-denied-one-region", DENIED, None, OTHER_REGION),
    _discovery("discovery-throttled-forever-one-region", THROTTLED, None, OTHER_REGION),
    _discovery("discovery-throttled-twice", THROTTLED, 2, OTHER_REGION),
    _discovery("discovery-unreachable-one-region", UNREACHABLE, None, OTHER_REGION),
    _discovery("discovery-http-500-once", SERVER_ERROR, 1, REGION),
    _discovery("discovery-upstream-502-forever", UPSTREAM_RESET, None, OTHER_REGION),
    _discovery("discovery-truncated-twice", TRUNCATED, 2, REGION),
    _discovery("discovery-html-page-forever", HTML_PAGE, None, OTHER_REGION),
    _account("account-id-denied", DENIED, None),
    _account("account-id-throttled-twice", THROTTLED, 2),
    _account("account-id-truncated-once", TRUNCATED, 1),
    _account("account-id-html-page-forever", HTML_PAGE, None),
]


# --- what must hold -------------------------------------------------------------------------


View = tuple[Status, bool, str, tuple[tuple[str, Status, str], ...]]


def view(row: TenantReport) -> View:
    """What a reader sees of a row: status, failing, reason, each check's status and reason."""
    checks = tuple(sorted((c.value, r.status, r.reason) for c, r in row.checks.items()))
    return (row.status, row.failing, row.reason, checks)


def check_status(seen: View, check: Check) -> Status | None:
    return next((status for name, status, _ in seen[3] if name == check.value), None)


def keys(report: Report) -> list[tuple[str, str]]:
    return [(row.region, row.db_instance_identifier) for row in report.tenants]


def assert_report_invariants(report: Report, *, now: datetime = NOW) -> None:
    """Holds for every run, faulted or not: once each, counts add up, no OK without evidence."""
    assert len(keys(report)) == len(set(keys(report))), "a tenant appears twice"
    summary = report.summary
    assert list(summary.by_status) == list(Status)
    assert sum(summary.by_status.values()) == summary.tenants == len(report.tenants)
    assert summary.failing == sum(1 for row in report.tenants if row.failing)
    assert summary.regions_failed == len(report.region_errors)
    for row in report.tenants:
        if row.status is Status.OK:
            assert row.checks, f"{row.tenant} is OK without any check"
            for result in row.checks.values():
                assert result.status is Status.OK
                assert result.evidence_at is not None, f"{row.tenant} OK without evidence"
                assert now - result.evidence_at <= WINDOW, f"{row.tenant} OK on old evidence"
    digest = render_digest(report)
    assert (digest.failing > 0) == report.failing


def expected_keys(regions_failed: set[str]) -> set[tuple[str, str]]:
    return {(t.region, t.identifier) for t in DRILL_TENANTS if t.region not in regions_failed}


def faulted_tenants(scenario: Scenario) -> set[str]:
    """Tenants whose affected check (or whole row) must read ``ERROR`` when the fault holds."""
    if scenario.target == "s3":
        return set(scenario.tenants) or set(BY_NAME)
    if scenario.target == "snapshots":
        return {
            t.name for t in DRILL_TENANTS if scenario.region in (None, t.region) and t.retention > 0
        }
    if scenario.target == "account":
        return set(BY_NAME)
    return set()


def calls_faulted(scenario: Scenario) -> int:
    """How many API calls the fault hits: one listing per folder, per region, or per run."""
    if scenario.target == "s3":
        return len(scenario.tenants) or len(DRILL_TENANTS)
    if scenario.target == "snapshots" and scenario.region is None:
        return len({t.region for t in DRILL_TENANTS})
    return 1


def assert_scenario(
    scenario: Scenario,
    report: Report,
    baseline: Mapping[tuple[str, str], View],
    injections: list[Injection],
    faults: Faults,
    sleep: RecordingSleep,
) -> None:
    """Everything the drill promises for one scenario (see the module docstring)."""
    assert_report_invariants(report)
    failed_regions = {e.region for e in report.region_errors}
    if scenario.target == "discovery" and scenario.fails:
        assert failed_regions == {scenario.region}
        (error,) = report.region_errors
        assert error.reason == f"discovery failed: {scenario.short}"
    else:
        assert failed_regions == set()
    assert set(keys(report)) == expected_keys(failed_regions), "a tenant was lost"

    hit = faulted_tenants(scenario) if scenario.fails else set()
    for row in report.tenants:
        before = baseline[(row.region, row.db_instance_identifier)]
        drill_tenant = BY_NAME[row.tenant]
        if row.tenant not in hit:
            if (
                scenario.target == "snapshots"
                and scenario.fails
                and scenario.region in (None, row.region)
            ):
                # Backups off needs no snapshot to be judged: still DISABLED, minus the age.
                assert drill_tenant.retention == 0
                assert row.status is before[0] is Status.DISABLED, row.reason
            else:
                assert view(row) == before, f"{row.tenant} changed by a fault that missed it"
            continue
        assert row.status is Status.ERROR, row.reason
        assert row.failing
        if scenario.target == "s3":
            s3 = row.checks[Check.S3]
            assert s3.status is Status.ERROR
            folder = drill_tenant.prefix
            assert s3.reason == f"could not list s3://{BUCKET}/{folder}: {scenario.short}"
            assert row.checks[Check.RDS].status is check_status(before, Check.RDS)
        elif scenario.target == "snapshots":
            rds = row.checks[Check.RDS]
            assert rds.status is Status.ERROR
            assert rds.reason == f"could not list snapshots: {scenario.short}"
        else:  # account: no folder without the account id; the reason names the call
            assert IAM_NAMES[scenario.operation] in row.reason
            assert "account id" in row.reason
            assert row.checks[Check.S3].status is Status.ERROR

    # Exact HTTP attempts of every faulted call; botocore itself never resends.
    per_call = scenario.attempts_per_call
    calls = calls_faulted(scenario) // len(injections)
    for injection in injections:
        assert injection.matched == calls * per_call
        assert injection.fired == calls * min(per_call, scenario.times or per_call)
    key = f"{scenario.service}:{scenario.operation}"
    assert faults.api_calls[key] == faults.sends[key]
    assert len(sleep.waits) == calls_faulted(scenario) * (per_call - 1)


# --- in-process: one moto world for every scenario ------------------------------------------


@dataclass
class Drill:
    """The shared world and the fault-free view of it per environment (computed once)."""

    world: World
    baselines: dict[tuple[tuple[str, str], ...], dict[tuple[str, str], View]] = field(
        default_factory=dict
    )

    def baseline(self, env: Mapping[str, str]) -> dict[tuple[str, str], View]:
        key = tuple(sorted(env.items()))
        if key not in self.baselines:
            session = boto3.Session(region_name=REGION)
            report = self.check(session, env, Retrier(sleep=RecordingSleep()))
            assert_report_invariants(report)
            assert report.region_errors == ()
            self.baselines[key] = {
                (row.region, row.db_instance_identifier): view(row) for row in report.tenants
            }
        return self.baselines[key]

    def check(self, session: boto3.Session, env: Mapping[str, str], retrier: Retrier) -> Report:
        """One run as production makes it, at the drill's fixed time."""
        settings = load_settings(dict(env))
        return check_tenants(settings, session=session, clock=lambda: NOW, retrier=retrier)


@pytest.fixture(scope="class")
def drill() -> Iterator[Drill]:
    """One seeded moto world for the whole class: scenarios only read it, each through a session
    of its own, and seeding is most of a scenario's cost."""
    with pytest.MonkeyPatch.context() as patch:
        use_fake_env(patch)
        with mock_aws():
            world = World()
            seed_drill(world)
            yield Drill(world)


def run_scenario(
    drill: Drill, scenario: Scenario
) -> tuple[Report, Faults, list[Injection], RecordingSleep]:
    """One faulted run on a fresh session (faults never leak into the next scenario)."""
    faults = Faults(boto3.Session(region_name=REGION))
    injections = scenario.inject(faults)
    sleep = RecordingSleep()
    env = drill_env(**scenario.env)
    report = drill.check(faults.session, env, Retrier(sleep=sleep))
    return report, faults, injections, sleep


class TestInProcess:
    """The scenario matrix against in-process moto; faults answer botocore's ``before-send``."""

    def test_baseline_is_what_the_world_says(self, drill: Drill) -> None:
        """Without faults: acme, globex, wayne OK; initech STALE; umbrella DISABLED."""
        baseline = drill.baseline(drill_env())
        statuses = {key[1]: view[0] for key, view in baseline.items()}
        assert statuses == {
            "db-acme": Status.OK,
            "db-globex": Status.OK,
            "db-initech": Status.STALE,
            "db-umbrella": Status.DISABLED,
            "db-wayne": Status.OK,
        }
        assert drill.baseline(drill_env(BACKUPWATCH_PREFIX_TEMPLATE=ACCOUNT_TEMPLATE)) == baseline

    @pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
    def test_scenario(self, drill: Drill, scenario: Scenario) -> None:
        """Once each; ERROR or recovered; the others untouched; exact sends (module docstring)."""
        baseline = drill.baseline(drill_env(**scenario.env))
        report, faults, injections, sleep = run_scenario(drill, scenario)
        assert_scenario(scenario, report, baseline, injections, faults, sleep)

    def test_recovery_stays_within_the_policy(self) -> None:
        """The matrix covers both sides of the policy's edge: 4 throttles recover, 5 do not."""
        edge = {s.id: s.fails for s in SCENARIOS if s.id.startswith("s3-throttled-")}
        assert edge["s3-throttled-4-times"] is False
        assert edge["s3-throttled-5-times"] is True
        assert {s.fails for s in SCENARIOS} == {True, False}
        for fault in (UPSTREAM_RESET, TRUNCATED, HTML_PAGE):
            sides = {s.fails for s in SCENARIOS if s.fault is fault}
            assert sides == {True, False}, f"{fault.label}: recovery and failure both drilled"

    def test_faults_on_every_call_at_once(self, drill: Drill) -> None:
        """Discovery throttled once, snapshots reset once, every folder throttled twice: all OK
        as without faults, and each call's sends exact (1 + its failures)."""
        faults = Faults(boto3.Session(region_name=REGION))
        discovery = faults.inject("rds", "DescribeDBInstances", THROTTLED, times=1, region=REGION)
        snapshots = faults.inject("rds", "DescribeDBSnapshots", CONNECTION_RESET, times=1)
        folders = [
            faults.inject("s3", "ListObjectsV2", THROTTLED, times=2, when=prefix_is(t.prefix))
            for t in DRILL_TENANTS
        ]
        sleep = RecordingSleep()
        report = drill.check(faults.session, drill_env(), Retrier(sleep=sleep))
        baseline = drill.baseline(drill_env())
        assert {k: view(r) for k, r in zip(keys(report), report.tenants, strict=True)} == baseline
        # One snapshot listing per region: the first reset once, then both answer.
        assert (discovery.matched, snapshots.matched) == (2, 3)
        assert [f.matched for f in folders] == [3] * len(DRILL_TENANTS)
        assert len(sleep.waits) == 1 + 1 + 2 * len(DRILL_TENANTS)

    def test_the_digest_names_every_faulted_tenant(self, drill: Drill) -> None:
        """A denied folder and a region not listed both reach the digest a subscriber reads."""
        faults = Faults(boto3.Session(region_name=REGION))
        faults.inject("s3", "ListObjectsV2", DENIED, when=prefix_is("globex-backups/"))
        faults.inject("rds", "DescribeDBInstances", THROTTLED, region=OTHER_REGION)
        report = drill.check(faults.session, drill_env(), Retrier(sleep=RecordingSleep()))
        body = render_digest(report).body.splitlines()
        assert (
            f"  - globex [ERROR] (db-globex, {REGION}): s3: could not list "
            f"s3://{BUCKET}/globex-backups/: AccessDenied on s3:ListBucket"
        ) in body
        assert (
            f"  - {OTHER_REGION}: discovery failed: Throttling on rds:DescribeDBInstances "
            f"(after {ATTEMPTS} attempts)"
        ) in body


# --- the harness itself -----------------------------------------------------------------------


def test_send_faults_go_through_botocore(world: World) -> None:
    """A send-level fault is parsed by botocore (code and HTTP status), one send per call; a
    faulted send never reaches moto (a throttled PutObject writes nothing)."""
    world.bucket()
    faults = Faults(world.session)
    faults.inject("s3", "ListObjectsV2", THROTTLED, times=1)
    faults.inject("s3", "PutObject", THROTTLED, times=1)
    faults.inject("s3", "HeadBucket", CONNECTION_RESET, times=1)
    s3 = world.session.client("s3", config=Config(retries={"total_max_attempts": 1}))

    with pytest.raises(ClientError) as caught:
        s3.list_objects_v2(Bucket=BUCKET)
    error = caught.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (
        "SlowDown",
        503,
    )
    with pytest.raises(ClientError):
        s3.put_object(Bucket=BUCKET, Key="k", Body=b"x")
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0  # the fault cleared; no "k"
    with pytest.raises(ConnectionClosedError):
        s3.head_bucket(Bucket=BUCKET)
    s3.head_bucket(Bucket=BUCKET)
    assert faults.sends == faults.api_calls
    assert faults.attempts("s3", "ListObjectsV2") == 2


def test_harness_counts_exactly_across_threads(world: World) -> None:
    """16 threads, 200 listings, one fault for 75 of them: every count exact (a lock guards
    the counters, since S3 checks run on a thread pool)."""
    world.bucket()
    faults = Faults(world.session)
    injection = faults.inject("s3", "ListObjectsV2", THROTTLED, times=75)
    s3 = world.session.client("s3", config=Config(retries={"total_max_attempts": 1}))

    def listing(_: int) -> bool:
        try:
            s3.list_objects_v2(Bucket=BUCKET, Prefix="p/")
        except ClientError:
            return False
        return True

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(listing, range(200)))
    assert outcomes.count(False) == injection.fired == 75
    assert injection.matched == faults.attempts("s3", "ListObjectsV2") == 200


def test_many_tenants_on_the_thread_pool(world: World, retrier: Retrier) -> None:
    """12 tenants checked on 8 threads, each folder with its own fault: every tenant once, each
    verdict and each call's sends exact."""
    world.bucket()
    plan: dict[str, tuple[Fault | None, int | None]] = {}
    kinds: list[tuple[Fault | None, int | None]] = [
        (None, None),
        (DENIED, None),
        (THROTTLED, 2),
        (THROTTLED, None),
        (CONNECTION_RESET, 1),
        (SLOW, None),
    ]
    for n in range(2 * len(kinds)):
        name = f"t{n:02d}"
        world.instance(f"db-{name}", tenant=name)
        world.put(f"{name}-backups/x.dump", hours_ago(2))
        plan[name] = kinds[n % len(kinds)]
    faults = Faults(world.session)
    injections = {
        name: faults.inject("s3", "ListObjectsV2", f, times=t, when=prefix_is(f"{name}-backups/"))
        for name, (f, t) in plan.items()
        if f is not None
    }
    report = check_tenants(
        load_settings(env_for(**QUIET_RATE_LIMIT, BACKUPWATCH_S3_CONCURRENCY="8")),
        session=world.session,
        clock=lambda: NOW,
        retrier=retrier,
    )
    assert_report_invariants(report)
    assert sorted(row.tenant for row in report.tenants) == sorted(plan)
    for row in report.tenants:
        fault, times = plan[row.tenant]
        if fault is None:
            assert row.status is Status.OK, row.reason
            continue
        scenario = Scenario(row.tenant, "s3", fault, times, (row.tenant,))
        assert injections[row.tenant].matched == scenario.attempts_per_call
        if scenario.fails:
            assert row.status is Status.ERROR
            assert row.checks[Check.S3].reason.endswith(scenario.short)
        else:
            assert row.status is Status.OK, row.reason


# --- publishing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublishScenario:
    """One fault on ``sns:Publish``, and what must follow: how many sends, delivered or not."""

    id: str
    fault: Fault
    times: int | None
    sends: int
    """HTTP attempts of sns:Publish."""
    published: bool
    via: Literal["send", "call"] = "send"


PUBLISH_SCENARIOS = [
    # Throttled: surely not delivered, so resent; botocore never retries SNS's Throttled itself.
    PublishScenario("throttled-twice", THROTTLED, 2, sends=3, published=True),
    # The same, answered before any send (as in-process tests without HTTP faults do).
    PublishScenario("throttled-twice-no-send", THROTTLED, 2, sends=1, published=True, via="call"),
    PublishScenario("throttled-forever", THROTTLED, None, sends=ATTEMPTS, published=False),
    PublishScenario("unreachable-once", UNREACHABLE, 1, sends=2, published=True),
    # May have been delivered already: never resent, the run fails instead.
    PublishScenario("read-timeout", SLOW, 1, sends=1, published=False),
    PublishScenario("connection-reset", CONNECTION_RESET, 1, sends=1, published=False),
    PublishScenario("http-500", SERVER_ERROR, 1, sends=1, published=False),
    # An answer botocore cannot parse says nothing of the message: a 200 cut short was accepted.
    PublishScenario("upstream-502", UPSTREAM_RESET, 1, sends=1, published=False),
    PublishScenario("truncated-answer", TRUNCATED, 1, sends=1, published=False),
    PublishScenario("html-page", HTML_PAGE, 1, sends=1, published=False),
    PublishScenario("authorization-error", DENIED, None, sends=1, published=False),
]


def a_report() -> Report:
    """A small failing report to publish (the publish path does not care how it was made)."""
    return Report(
        generated_at=NOW,
        regions=(REGION,),
        checks=(Check.RDS, Check.S3),
        tenants=(
            TenantReport(
                tenant="globex",
                db_instance_identifier="db-globex",
                region=REGION,
                status=Status.ERROR,
                reason="s3: could not list s3://b/globex-backups/: AccessDenied on s3:ListBucket",
            ),
        ),
    )


@pytest.mark.parametrize("scenario", PUBLISH_SCENARIOS, ids=[s.id for s in PUBLISH_SCENARIOS])
def test_publish(
    world: World,
    sleep: RecordingSleep,
    caplog: pytest.LogCaptureFixture,
    scenario: PublishScenario,
) -> None:
    """sns:Publish is resent only when the digest surely did not arrive; otherwise the run
    raises PublishError and the full digest is in the log, never lost."""
    topic = world.topic()
    faults = Faults(world.session)
    faults.inject("sns", "Publish", scenario.fault, times=scenario.times, via=scenario.via)
    report = a_report()
    digest = render_digest(report)
    settings = load_settings(env_for(topic))

    def publish() -> str | None:
        return run_daily(
            settings, report=report, session=world.session, retrier=Retrier(sleep=sleep)
        ).message_id

    if scenario.published:
        message_id = publish()
        assert [p["message_id"] for p in world.published(topic)] == [message_id]
    else:
        with (
            caplog.at_level(logging.ERROR, logger="backupwatch"),
            pytest.raises(PublishError, match=scenario.fault.code("sns")),
        ):
            publish()
        assert world.published(topic) == []
        logged = "\n".join(record.getMessage() for record in caplog.records)
        assert digest.subject in logged
        assert digest.body in logged
    assert faults.attempts("sns", "Publish") == scenario.sends
    assert faults.api_calls["sns:Publish"] == len(sleep.waits) + 1


def test_whole_pipeline_publishes_once_through_throttling(world: World, retrier: Retrier) -> None:
    """Check + render + publish, as the Lambda and the CLI run it: a folder throttled twice and
    SNS throttled twice still give one true digest, published once."""
    seed_drill(world)
    topic = world.topic()
    faults = Faults(world.session)
    faults.inject("s3", "ListObjectsV2", THROTTLED, times=2, when=prefix_is("acme-backups/"))
    faults.inject("sns", "Publish", THROTTLED, times=2)
    outcome = run_daily(
        load_settings(drill_env(BACKUPWATCH_SNS_TOPIC_ARN=topic, BACKUPWATCH_DRY_RUN="false")),
        session=world.session,
        clock=lambda: NOW,
        retrier=retrier,
    )
    assert_report_invariants(outcome.report)
    assert len(outcome.report.tenants) == len(DRILL_TENANTS)
    (sent,) = world.published(topic)
    assert (sent["message_id"], sent["subject"]) == (outcome.message_id, outcome.digest.subject)
    assert sent["message"] == outcome.digest.body
    assert faults.attempts("sns", "Publish") == 3


# --- over HTTP: botocore's own HTTP and retry layers in the loop -----------------------------


@pytest.fixture(scope="class")
def server() -> Iterator[str]:
    """One moto server for the class, on a free local port."""
    with running_moto_server() as url:
        yield url


@pytest.fixture(scope="class")
def http_seeded(server: str) -> str:
    """The server, reset once and seeded over HTTP with the drill's fresh tenants (acme, globex
    in one region; wayne in the other). Once per class: checking only reads, and publishing
    adds nothing a check reads. Times are real: everything was written just now."""
    reset_moto_server(server)
    with pytest.MonkeyPatch.context() as patch:
        use_fake_env(patch)
        patch.setenv("AWS_ENDPOINT_URL", server)
        session = boto3.Session(region_name=REGION)
        s3 = session.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        for name, region in (("acme", REGION), ("globex", REGION), ("wayne", OTHER_REGION)):
            _http_tenant(session, s3, name, region)
    return server


def _http_tenant(session: boto3.Session, s3: Any, name: str, region: str) -> None:
    session.client("rds", region_name=region).create_db_instance(
        DBInstanceIdentifier=f"db-{name}",
        DBInstanceClass="db.t4g.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
        BackupRetentionPeriod=7,
        Tags=[{"Key": TENANT_TAG, "Value": name}],
    )
    s3.put_object(Bucket=BUCKET, Key=f"{name}-backups/{name}.dump", Body=b"\0" * 2048)


@pytest.fixture
def http_world(http_seeded: str, fake_env: None, monkeypatch: pytest.MonkeyPatch) -> boto3.Session:
    """A session whose every client talks to the seeded server."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", http_seeded)
    return boto3.Session(region_name=REGION)


HTTP_SCENARIOS = [
    _s3("http-s3-throttled-forever", THROTTLED, None, "globex"),
    _s3("http-s3-connection-reset-twice", CONNECTION_RESET, 2, "globex"),
    _s3("http-s3-denied", DENIED, None, "globex"),
    _snapshots("http-snapshots-throttled-twice", THROTTLED, 2, REGION),
    _snapshots("http-snapshots-http-500-forever", SERVER_ERROR, None, REGION),
    _discovery("http-discovery-denied-one-region", DENIED, None, OTHER_REGION),
    _discovery("http-discovery-slow-once", SLOW, 1, OTHER_REGION),
    _s3("http-s3-truncated-forever", TRUNCATED, None, "globex"),
    _snapshots("http-snapshots-upstream-502-once", UPSTREAM_RESET, 1, REGION),
    _discovery("http-discovery-html-page-forever", HTML_PAGE, None, OTHER_REGION),
]


class TestOverHttp:
    """The same promises through ``moto.server``: real HTTP, botocore's parser and retry handler
    (configured for one attempt) see every faulted response."""

    @pytest.mark.parametrize("scenario", HTTP_SCENARIOS, ids=[s.id for s in HTTP_SCENARIOS])
    def test_scenario(self, http_world: boto3.Session, scenario: Scenario) -> None:
        """Faulted tenants ERROR (or recovered), others OK, sends exact, nothing lost."""
        faults = Faults(http_world)
        injections = scenario.inject(faults)
        sleep = RecordingSleep()
        settings = load_settings(drill_env())
        now = datetime.now(UTC)
        report = check_tenants(
            settings, session=http_world, clock=lambda: now, retrier=Retrier(sleep=sleep)
        )
        assert_report_invariants(report, now=now)
        region_failed = scenario.target == "discovery" and scenario.fails
        expected = {"db-acme", "db-globex"} | (set() if region_failed else {"db-wayne"})
        assert {row.db_instance_identifier for row in report.tenants} == expected
        hit = (
            set(scenario.tenants)
            if scenario.target == "s3"
            else {t for t in ("acme", "globex", "wayne") if BY_NAME[t].region == scenario.region}
            if scenario.target == "snapshots"
            else set()
        )
        for row in report.tenants:
            if scenario.fails and row.tenant in hit:
                assert row.status is Status.ERROR
                assert row.reason.endswith(scenario.short), row.reason
            else:
                assert row.status is Status.OK, row.reason
        if region_failed:
            assert [e.reason for e in report.region_errors] == [
                f"discovery failed: {scenario.short}"
            ]
        (injection,) = injections
        assert injection.matched == scenario.attempts_per_call
        assert len(sleep.waits) == scenario.attempts_per_call - 1
        key = f"{scenario.service}:{scenario.operation}"
        assert faults.api_calls[key] == faults.sends[key]

    def test_publish_throttled_twice_over_http(self, http_world: boto3.Session) -> None:
        """SNS Throttled is answered over the wire twice, then the server takes the message:
        3 sends, exactly one message (a faulted send never reaches the server)."""
        from moto.sns.models import sns_backends

        topic = http_world.client("sns").create_topic(Name="backup-digest")["TopicArn"]
        faults = Faults(http_world)
        faults.inject("sns", "Publish", THROTTLED, times=2)
        sleep = RecordingSleep()
        report = a_report()
        message_id = run_daily(
            load_settings(env_for(topic)),
            report=report,
            session=http_world,
            retrier=Retrier(sleep=sleep),
            archive=False,
        ).message_id
        sent = sns_backends[ACCOUNT][REGION].topics[topic].sent_notifications
        assert [n[0] for n in sent] == [message_id]
        assert faults.attempts("sns", "Publish") == 3
        assert len(sleep.waits) == 2

    @pytest.mark.parametrize("fault", [SLOW, TRUNCATED], ids=["read-timeout", "truncated"])
    def test_publish_not_resent_over_http(self, http_world: boto3.Session, fault: Fault) -> None:
        """A read timeout, or a 200 whose body was cut, may follow a delivered message: one send,
        PublishError, no resend."""
        topic = http_world.client("sns").create_topic(Name="backup-digest")["TopicArn"]
        faults = Faults(http_world)
        faults.inject("sns", "Publish", fault)
        report = a_report()
        with pytest.raises(PublishError, match=f"{fault.code('sns')} on sns:Publish$"):
            run_daily(
                load_settings(env_for(topic)),
                report=report,
                session=http_world,
                retrier=Retrier(sleep=RecordingSleep()),
                archive=False,
            )
        assert faults.attempts("sns", "Publish") == 1


# --- bugs found by this drill, fixed: windows too long to compute ---------------------------

HUGE_HOURS = "1e11"
"""Finite and positive, so accepted; longer than ``timedelta`` holds (~2.4e10 h)."""


def test_one_tenants_huge_window_tag_spoils_only_that_tenant(
    world: World, retrier: Retrier
) -> None:
    """A tag problem is its tenant's problem: the other tenants are judged as usual."""
    world.bucket()
    world.instance("db-odd", tenant="odd", tags={"backupwatch:max-age-hours": HUGE_HOURS})
    world.put("odd-backups/x.dump", hours_ago(1))
    world.instance("db-fine", tenant="fine")
    world.put("fine-backups/x.dump", hours_ago(1))
    world.instance("db-far", tenant="far", region=OTHER_REGION)
    world.put("far-backups/x.dump", hours_ago(1))
    report = check_tenants(
        load_settings(drill_env()), session=world.session, clock=lambda: NOW, retrier=retrier
    )
    assert_report_invariants(report)
    rows = {row.tenant: row for row in report.tenants}
    assert rows["fine"].status is Status.OK, rows["fine"].reason
    assert rows["far"].status is Status.OK, rows["far"].reason
    assert "unexpectedly" not in rows["odd"].reason


@pytest.mark.parametrize(
    "variable",
    [
        "BACKUPWATCH_MAX_AGE_HOURS",
        "BACKUPWATCH_PITR_MAX_LAG_HOURS",
        "BACKUPWATCH_NEW_TENANT_GRACE_HOURS",
    ],
)
def test_a_huge_window_setting_never_turns_fresh_backups_into_errors(
    world: World, retrier: Retrier, variable: str
) -> None:
    """Either the setting is refused up front, or a fresh tenant reads OK with it."""
    try:
        settings = load_settings(drill_env(**{variable: HUGE_HOURS}))
    except ConfigurationError:
        return
    # Ten minutes after moto created the instance (its create time is the real clock's), so
    # that the new-tenant grace is computed; one hour old evidence, PITR current.
    now = datetime.now(UTC) + timedelta(minutes=10)
    world.bucket()
    world.instance("db-acme", tenant="acme", snapshot_at=now - timedelta(hours=1))
    world.put("acme-backups/x.dump", now - timedelta(hours=1))
    report = check_tenants(settings, session=world.session, clock=lambda: now, retrier=retrier)
    (row,) = report.tenants
    assert row.status is Status.OK, row.reason
