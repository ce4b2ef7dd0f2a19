"""One run: discover tenants, gather evidence, judge it. Returns a ``Report``; sends nothing.

This is the only module that ties the AWS edges (discovery, RDS and S3 evidence) to the pure
core (evaluation). The clock, the boto3 session and the retry policy are parameters, so tests
and other Lambdas control all three.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, TypeVar

import boto3

from backupwatch.aws.accounts import enter, plan_scopes
from backupwatch.aws.clients import (
    backup_client,
    new_session,
    rds_client,
    s3_client,
    sts_client,
)
from backupwatch.aws.discovery import discover
from backupwatch.aws.ratelimit import TokenBucket
from backupwatch.aws.rds_evidence import (
    SnapshotLookup,
    newest_automated_cluster_snapshots,
    newest_automated_snapshots,
    newest_snapshots,
)
from backupwatch.aws.retry import DEADLINE_EXCEEDED, Retrier
from backupwatch.aws.s3_evidence import newest_dated_objects, newest_objects
from backupwatch.aws.s3_integrity import inspect_dump
from backupwatch.core.config import Settings
from backupwatch.core.copy_verdict import account_destination as copy_destination_of
from backupwatch.core.copy_verdict import copy_destinations
from backupwatch.core.deadline import Deadline
from backupwatch.core.errors import AwsCallError
from backupwatch.core.evaluation import error_result, judge_rds, judge_s3, tenant_report
from backupwatch.core.explain import Resolved
from backupwatch.core.integrity import integrity_policy
from backupwatch.core.merge import merge_reports
from backupwatch.core.models import (
    BackupEvidence,
    Check,
    CheckResult,
    CopyEvidence,
    Kind,
    RegionError,
    Report,
    RowKey,
    Scope,
    SnapshotInfo,
    Status,
    Tenant,
    TenantReport,
)
from backupwatch.core.ownership import Folders, assign_folders
from backupwatch.core.progress import EvidenceCounter, Progress, Step, no_progress
from backupwatch.core.selection import narrow_regions, unknown_tenants
from backupwatch.core.size_history import NO_ARCHIVED_DUMPS, ArchivedDump
from backupwatch.core.tenancy import bound_pause
from backupwatch.pipeline.extra_checks import (
    ExtraEvidence,
    gather_account_copies,
    gather_backup,
    gather_copies,
    judge_extra,
)

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger("backupwatch")

Clock = Callable[[], datetime]
SizeHistory = Mapping[RowKey, Sequence[ArchivedDump]]
"""Per row key, a tenant's dumps in earlier reports (``core.size_history.archived_dumps``)."""
TenantKey = tuple[str, str, str]
"""``Tenant.key``: region, kind, identifier (a cluster and an instance may share a name)."""

NOT_CHECKED = "not checked"
"""How the reason of a check cut off by the deadline begins."""


def utc_now() -> datetime:
    """The default clock: aware UTC (never ``utcnow()``, which is naive)."""
    return datetime.now(UTC)


def read_clock(clock: Clock) -> datetime:
    """``clock()``, the run's start time; ``ValueError`` when it is naive."""
    now = clock()
    if now.tzinfo is None:
        raise ValueError("clock() must return an aware datetime (AWS timestamps are aware)")
    return now


def check_tenants(
    settings: Settings,
    *,
    session: boto3.Session | None = None,
    clock: Clock = utc_now,
    retrier: Retrier | None = None,
    deadline: Deadline | None = None,
    tenants: Collection[str] = (),
    regions: Collection[str] = (),
    progress: Progress = no_progress,
    size_history: SizeHistory = NO_ARCHIVED_DUMPS,
) -> Report:
    """Discover every tenant, check each one, and return the report.

    Never raises for AWS trouble: a denied or throttled-out call becomes an ``ERROR`` row for
    the tenants it concerns (or a region error when discovery itself fails). Every discovered
    tenant appears in the report exactly once. Without ``session``, one is built from the
    local AWS configuration: a profile that does not exist raises ``ConfigurationError``
    before any call.

    With a ``deadline`` (the caller keeps its own publish reserve out of it), no check starts
    after it: tenants not reached are ``ERROR`` "not checked: time budget exhausted", and the
    call returns in time for the caller to publish.

    S3 checks (one per tenant) run on a pool of ``settings.s3_concurrency`` threads, each DB
    instance or cluster tenant's starting as soon as discovery's page holds it (kept only if folder
    ownership, decided once every tenant is known, leaves the tenant as it was). The RDS
    snapshot listings (one per region), AWS Backup and copy listings run beside them on a pool
    of their own; every RDS request waits for a token of the region's rate limit
    (``settings.rds_requests_per_second``).

    Narrowing (the CLI's ``--tenant`` and ``--region``):

    - ``regions``: only these of the run's own regions (``core.selection.narrow_regions``); a
      region the run does not check raises ``SelectionError`` before any AWS call.
    - ``tenants``: only the rows of the tenants of these names. Discovery still covers every
      tenant, and the names are picked after folder ownership is decided, so a row is the
      row the whole run would have given (a tenant never gets another's objects as evidence
      for being looked at alone); only the picked tenants' evidence is gathered. A name that
      matches no tenant raises ``SelectionError`` (carrying the narrowed report), so a typo
      is never an empty, all-clear report.

    A narrowed report is not the fleet's: do not publish or archive it as the day's report.

    ``progress`` is told the phases and counts as they happen (``core.progress``), from this
    thread, a bounded number of times; a callback that raises is logged and then left alone.

    ``size_history``: each tenant's dumps in earlier reports, by row key
    (``core.size_history.archived_dumps``); the size rule falls back on them when the listing
    holds fewer than ``MIN_HISTORY`` earlier dumps. ``run_daily`` passes what it read of the
    report archive; empty, the listing is all the rule has.
    """
    report, _ = _run(
        settings, session, clock, retrier, deadline, tenants, regions, progress, size_history
    )
    return report


@dataclass(frozen=True)
class Examination:
    """A run narrowed to one tenant, with what ``core.explain`` needs besides the rows."""

    report: Report
    """The tenant's rows (one per resource of that name), and the run's region errors."""
    resolved: Mapping[RowKey, Resolved]
    """By row key: each resource's resolved policy and where its evidence lay."""


def examine_tenant(
    settings: Settings,
    name: str,
    *,
    session: boto3.Session | None = None,
    clock: Clock = utc_now,
    retrier: Retrier | None = None,
    deadline: Deadline | None = None,
    regions: Collection[str] = (),
    progress: Progress = no_progress,
) -> Examination:
    """``check_tenants(tenants=[name])``, keeping each resource's resolved policy: what
    ``backupwatch explain`` shows. Raises ``SelectionError`` like it."""
    report, resolved = _run(
        settings, session, clock, retrier, deadline, (name,), regions, progress, NO_ARCHIVED_DUMPS
    )
    return Examination(report=report, resolved=resolved)


def _run(
    settings: Settings,
    session: boto3.Session | None,
    clock: Clock,
    retrier: Retrier | None,
    deadline: Deadline | None,
    tenants: Collection[str],
    regions: Collection[str],
    progress: Progress,
    size_history: SizeHistory,
) -> tuple[Report, dict[RowKey, Resolved]]:
    if isinstance(tenants, str) or isinstance(regions, str):
        raise TypeError("tenants and regions are collections of names, not one string")
    narrowed = narrow_regions(settings, regions) if regions else None
    selection = _Selection(tuple(dict.fromkeys(tenants)) or None)
    tell = _Told(progress)
    now, session, retrier = _start(clock, session, retrier, deadline)
    if settings.fans_out:
        scopes, planning_errors = plan_scopes(settings, session, retrier)
        if narrowed is not None:
            scopes = tuple(scope for scope in scopes if scope.region in narrowed)
        accounts = len({scope.account_id for scope in scopes})
        tell(Step("discovery", "", f"{len(scopes)} scope(s) in {accounts} account(s) to check"))
        for planning_error in planning_errors:
            tell(Step("discovery", "", f"failed: {planning_error.reason}"))
        report = _check_scopes(
            settings,
            scopes,
            planning_errors,
            session,
            now,
            retrier,
            deadline,
            selection,
            tell,
            size_history,
        )
    else:
        if narrowed is not None:  # as load_settings(regions=narrowed) would have it
            settings = settings.model_copy(update={"regions": narrowed})
        account_id = _account_id(settings, session, retrier) if settings.uses_account_id else None
        report = _guarded(
            now,
            settings,
            settings.scopes,
            partial(
                _check_account,
                settings,
                session,
                session,
                account_id,
                now,
                retrier,
                deadline,
                selection,
                tell,
                size_history,
            ),
        )
    if selection.names is not None:
        error = unknown_tenants(selection.names, report, selection.known)
        if error is not None:
            raise error
    return report, selection.resolved


@dataclass
class _Selection:
    """The tenants a run reports: every one, or those of some names, picked after folder
    ownership is decided over every tenant discovered."""

    names: tuple[str, ...] | None = None
    known: set[str] = field(default_factory=set)
    """Every tenant name discovered (only kept when narrowing: for the error's suggestions)."""
    resolved: dict[RowKey, Resolved] = field(default_factory=dict)
    """The picked tenants' policies, for ``examine_tenant`` (only kept when narrowing)."""

    def pick(self, folders: Folders, bucket: str | None) -> list[int]:
        """Indices into ``folders.tenants`` of the tenants to check and report."""
        if self.names is None:
            return list(range(len(folders.tenants)))
        wanted = frozenset(self.names)
        picked: list[int] = []
        for index, tenant in enumerate(folders.tenants):
            self.known.add(tenant.name)
            if tenant.name not in wanted:
                continue
            picked.append(index)
            self.resolved[tenant.row_key] = Resolved(
                tenant=tenant, bucket=bucket, excluded=folders.exclude.get(index, ())
            )
        return picked


class _Told:
    """The caller's ``Progress``, which cannot break the run: a callback that raises is logged
    once, then no longer called."""

    def __init__(self, progress: Progress) -> None:
        self._progress: Progress | None = progress

    def __call__(self, step: Step) -> None:
        if self._progress is None:
            return
        try:
            self._progress(step)
        except Exception:
            logger.warning("the progress callback failed; no more progress", exc_info=True)
            self._progress = None


def check_scopes(
    settings: Settings,
    scopes: Iterable[Scope],
    *,
    session: boto3.Session | None = None,
    clock: Clock = utc_now,
    retrier: Retrier | None = None,
    deadline: Deadline | None = None,
    progress: Progress = no_progress,
    size_history: SizeHistory = NO_ARCHIVED_DUMPS,
) -> Report:
    """Check the given account-regions only: one child of the state machine checks one.

    Like ``check_tenants``, never raises for AWS trouble: a role that cannot be assumed, or a
    region that cannot be read, is a ``RegionError`` naming the scope. Tenants carry their
    ``account_id``, so partial reports merge without collisions. ``progress`` and
    ``size_history`` as for ``check_tenants`` (the state machine's scan passes no history: it
    does not read the archive).
    """
    now, session, retrier = _start(clock, session, retrier, deadline)
    return _check_scopes(
        settings,
        tuple(scopes),
        (),
        session,
        now,
        retrier,
        deadline,
        _Selection(),
        _Told(progress),
        size_history,
    )


def _start(
    clock: Clock, session: boto3.Session | None, retrier: Retrier | None, deadline: Deadline | None
) -> tuple[datetime, boto3.Session, Retrier]:
    now = read_clock(clock)
    retrier = retrier or Retrier()
    if deadline is not None:
        retrier = replace(retrier, deadline=deadline)
    return now, session or new_session(), retrier


def _check_scopes(
    settings: Settings,
    scopes: tuple[Scope, ...],
    planning_errors: tuple[RegionError, ...],
    home: boto3.Session,
    now: datetime,
    retrier: Retrier,
    deadline: Deadline | None,
    selection: _Selection,
    progress: Progress,
    size_history: SizeHistory,
) -> Report:
    """Scope by scope, one session per account (its regions share the credentials)."""
    partials = [
        Report(
            generated_at=now,
            regions=tuple(dict.fromkeys(scope.region for scope in scopes)),
            accounts=tuple(sorted({s.account_id for s in scopes if s.account_id is not None})),
            checks=settings.active_checks,
            tenants=(),
            region_errors=planning_errors,
        )
    ]
    home_account: str | None = None
    for group in _by_account(scopes).values():
        regions = tuple(scope.region for scope in group)
        first = group[0]
        if deadline is not None and deadline.discovery.expired:
            partials.append(
                _scope_errors(now, settings, group, f"{NOT_CHECKED}: time budget exhausted")
            )
            continue
        try:
            scoped = enter(first, home, retrier, read_timeout=settings.read_timeout_seconds)
        except AwsCallError as error:
            logger.error("cannot enter %s: %s", first.role_arn, error)
            reason = f"could not assume role {first.role_arn}: {error.short}"
            partials.append(_scope_errors(now, settings, group, reason))
            progress(Step("discovery", first.account_id or "", f"failed: {reason}"))
            continue
        account_id = first.account_id
        if account_id is None:  # the home account: named, so its rows merge with the others
            home_account = home_account or _account_id(settings, home, retrier)
            account_id = home_account
        bucket = first.s3_bucket or settings.s3_bucket
        scope_settings = settings.model_copy(update={"regions": regions, "s3_bucket": bucket})
        s3_session = scoped if first.s3_bucket else home
        report = _guarded(
            now,
            settings,
            group,
            partial(
                _check_account,
                scope_settings,
                scoped,
                s3_session,
                account_id,
                now,
                retrier,
                deadline,
                selection,
                progress,
                size_history,
                home,
            ),
        )
        errors = tuple(
            e.model_copy(update={"account_id": account_id}) for e in report.region_errors
        )
        partials.append(
            report.model_copy(
                update={"region_errors": errors, "accounts": (account_id,) if account_id else ()}
            )
        )
    return merge_reports(partials)


def _tell_discovered(
    progress: Progress,
    account: str,
    regions: Iterable[str],
    tenants: Iterable[Tenant],
    errors: Iterable[RegionError],
) -> None:
    """One step per region: how many tenants discovery found there, or why it found none."""
    found = Counter(tenant.region for tenant in tenants)
    failed = {error.region: error.reason for error in errors}
    for region in regions:
        message = (
            f"failed: {failed[region]}" if region in failed else f"{found[region]} tenant(s) found"
        )
        progress(Step("discovery", f"{account}{region}", message))


def _guarded(
    now: datetime, settings: Settings, scopes: Iterable[Scope], check: Callable[[], Report]
) -> Report:
    """``check()``; a bug outside every per-tenant guard fails its scopes, never the run.

    Tenants and regions have guards of their own; this is the last one, so that whatever
    happens the caller gets a report, failing and naming the scopes, and the digest goes out.
    """
    try:
        return check()
    except Exception as error:
        logger.exception("check crashed")
        reason = f"check failed unexpectedly: {type(error).__name__}: {error}"
        return _scope_errors(now, settings, scopes, reason)


def _by_account(scopes: Iterable[Scope]) -> dict[tuple[str | None, ...], list[Scope]]:
    groups: dict[tuple[str | None, ...], list[Scope]] = {}
    for scope in scopes:
        key = (scope.account_id, scope.role_arn, scope.external_id, scope.s3_bucket)
        groups.setdefault(key, []).append(scope)
    return groups


def _scope_errors(
    now: datetime, settings: Settings, scopes: Iterable[Scope], reason: str
) -> Report:
    errors = tuple(
        RegionError(account_id=scope.account_id, region=scope.region, reason=reason)
        for scope in scopes
    )
    return Report(
        generated_at=now,
        regions=(),
        checks=settings.active_checks,
        tenants=(),
        region_errors=errors,
    )


def _check_account(
    settings: Settings,
    session: boto3.Session,
    s3_session: boto3.Session,
    account_id: str | None,
    now: datetime,
    retrier: Retrier,
    deadline: Deadline | None,
    selection: _Selection,
    progress: Progress,
    size_history: SizeHistory,
    home: boto3.Session | None = None,
) -> Report:
    """Every region of ``settings`` in one account, with ``session``'s credentials; ``home``
    (the run's own session, default ``session``) assumes the copy accounts' role."""
    # Clients are built here, on this thread: boto3 sessions are not thread-safe, clients are.
    rds_by_region = {
        region: _limited(
            rds_client(session, region, read_timeout=settings.read_timeout_seconds),
            settings,
            retrier,
        )
        for region in settings.regions
    }
    # Settings guarantee a bucket whenever the s3 check is on.
    bucket = settings.s3_bucket if Check.S3 in settings.checks else None
    s3 = (
        s3_client(
            s3_session,
            settings.regions[0],
            max_pool_connections=settings.s3_concurrency,
            read_timeout=settings.read_timeout_seconds,
        )
        if bucket is not None
        else None
    )
    # Two pools: the S3 checks, many and short; and the long listings (RDS snapshots, AWS
    # Backup, copies), a few tasks, each started at once rather than queued behind S3 checks
    # that discovery has already started.
    with (
        ThreadPoolExecutor(
            max_workers=settings.s3_concurrency, thread_name_prefix="backupwatch-s3"
        ) as pool,
        ThreadPoolExecutor(
            max_workers=settings.s3_concurrency, thread_name_prefix="backupwatch"
        ) as listings,
    ):
        early = (
            _EarlyS3(pool, s3, retrier, bucket, now, deadline, settings, size_history, selection)
            if s3 is not None and bucket is not None
            else None
        )
        # Discovery keeps to a later deadline than the checks: every tenant gets listed.
        listing = replace(retrier, deadline=deadline.discovery) if deadline is not None else retrier
        found = discover(settings, rds_by_region, listing, account_id=account_id, on_tenant=early)
        for region_error in found.region_errors:
            logger.error("region %s not checked: %s", region_error.region, region_error.reason)
        account = f"{account_id} " if account_id is not None and settings.fans_out else ""
        _tell_discovered(progress, account, settings.regions, found.tenants, found.region_errors)

        bounded = tuple(bound_pause(tenant, now=now, settings=settings) for tenant in found.tenants)
        # Ownership over every tenant of the bucket first; only then the tenants asked for.
        folders = assign_folders(bounded, bucket=bucket)
        picked = selection.pick(folders, bucket)
        tenants = folders.tenants
        counter = EvidenceCounter(progress, account.strip(), len(picked))

        rds_pending = (
            listings.submit(
                _rds_results,
                [tenants[i] for i in picked if tenants[i].wants(Check.RDS)],
                rds_by_region,
                retrier,
                now,
                deadline,
                settings,
                found.expected_snapshots,
            )
            if Check.RDS in settings.checks
            else None
        )
        extra_pending = _submit_extra(
            listings,
            session,
            home or session,
            settings,
            [tenants[i] for i in picked],
            rds_by_region,
            retrier,
            now,
            deadline,
        )
        s3_pending: dict[int, Future[CheckResult]] | None = None
        if early is not None:
            s3_pending = {}
            for index in picked:
                tenant = tenants[index]
                if not tenant.wants(Check.S3):  # tag backupwatch:checks
                    continue
                exclude = folders.exclude.get(index, ())
                refused = folders.refused.get(index)
                s3_pending[index] = early.started_for(tenant, exclude, refused) or pool.submit(
                    _s3_result,
                    tenant,
                    early.s3,
                    retrier,
                    early.bucket,
                    now,
                    deadline,
                    settings,
                    exclude,
                    refused,
                    size_history.get(tenant.row_key, ()),
                )
            early.cancel_the_rest()
        rds = (
            _rds_outcome(rds_pending, [tenants[i] for i in picked])
            if rds_pending
            else _RdsFindings()
        )
        rds_results = rds.results
        s3_results: dict[int, CheckResult] | None = None
        if s3_pending is None:
            counter.add(len(picked))
        else:
            counter.add(len(picked) - len(s3_pending))  # those have no S3 check to wait for
            s3_results = {}
            for index, pending in s3_pending.items():
                s3_results[index] = _s3_outcome(pending)
                counter.add()
        extra = _extra_outcome(extra_pending)

    rows: list[TenantReport] = []
    for index in picked:
        tenant = tenants[index]
        results: dict[Check, CheckResult] = {}
        if Check.RDS in settings.checks and tenant.wants(Check.RDS):
            results[Check.RDS] = rds_results[tenant.key]
        if s3_results is not None and index in s3_results:
            results[Check.S3] = s3_results[index]
        results = judge_extra(
            tenant,
            results,
            extra,
            snapshot=rds.snapshots.get(tenant.key),
            rds_error=rds.errors.get(tenant.key),
            rds_listed=tenant.key in rds.listed,
            now=now,
            settings=settings,
        )
        rows.append(_row(tenant, results, now, settings))
    unchecked = sum(1 for row in rows if _not_checked(row))
    if unchecked:
        logger.error("time budget exhausted: %d tenant(s) not fully checked", unchecked)

    return Report(
        generated_at=now,
        regions=settings.regions,
        checks=settings.active_checks,
        tenants=tuple(rows),
        region_errors=found.region_errors,
    )


@dataclass
class _EarlyS3:
    """S3 checks started while discovery is still paging, one per DB cluster and standalone DB
    instance tenant as its page arrives (``discover``'s ``on_tenant``).

    Folder ownership can only be decided once every tenant is known, so an early check is
    kept only when ownership left its tenant exactly as it was started (no note, nothing
    excluded, nothing refused); otherwise the tenant is checked again, the ordinary way. The
    verdicts are the same either way; the early start only overlaps S3 with discovery.
    """

    pool: ThreadPoolExecutor
    s3: S3Client
    retrier: Retrier
    bucket: str
    now: datetime
    deadline: Deadline | None
    settings: Settings
    size_history: SizeHistory
    selection: _Selection
    started: dict[tuple[str, str, str], tuple[Tenant, Future[CheckResult]]] = field(
        default_factory=dict
    )

    def __call__(self, tenant: Tenant) -> None:
        names = self.selection.names
        if names is not None and tenant.name not in names:
            return
        bounded = bound_pause(tenant, now=self.now, settings=self.settings)
        if not bounded.wants(Check.S3) or bounded.s3_prefix is None:
            return
        pending = self.pool.submit(
            _s3_result,
            bounded,
            self.s3,
            self.retrier,
            self.bucket,
            self.now,
            self.deadline,
            self.settings,
            (),
            None,
            self.size_history.get(bounded.row_key, ()),
        )
        self.started[bounded.key] = (bounded, pending)

    def started_for(
        self, tenant: Tenant, exclude: tuple[str, ...], refused: str | None
    ) -> Future[CheckResult] | None:
        """The early check of ``tenant``, if it was started for exactly this tenant; one
        started for the tenant as it was before ownership changed it is cancelled."""
        early = self.started.pop(tenant.key, None)
        if early is None:
            return None
        started, pending = early
        if exclude or refused is not None or (started is not tenant and started != tenant):
            pending.cancel()
            return None
        return pending

    def cancel_the_rest(self) -> None:
        """Checks started for tenants that ownership changed: not needed, not waited for."""
        for _, pending in self.started.values():
            pending.cancel()
        self.started.clear()


_Found = TypeVar("_Found")
_ExtraPending = tuple[
    dict[str, Future[dict[TenantKey, BackupEvidence] | None]],
    dict[str, Future[dict[TenantKey, CopyEvidence] | None]],
]


def _submit_extra(
    pool: ThreadPoolExecutor,
    session: boto3.Session,
    home: boto3.Session,
    settings: Settings,
    tenants: Sequence[Tenant],
    rds_by_region: Mapping[str, RDSClient],
    retrier: Retrier,
    now: datetime,
    deadline: Deadline | None,
) -> _ExtraPending:
    """Start the AWS Backup listings (one task per region) and the copy listings (one task
    per copy region) on the pool. Clients are built here, on the calling thread."""
    backups: dict[str, Future[dict[TenantKey, BackupEvidence] | None]] = {}
    copies: dict[str, Future[dict[TenantKey, CopyEvidence] | None]] = {}
    if Check.BACKUP in settings.checks:
        for region in settings.regions:
            members = [t for t in tenants if t.region == region and t.wants(Check.BACKUP)]
            if members:
                backups[region] = pool.submit(
                    gather_backup,
                    backup_client(session, region, read_timeout=settings.read_timeout_seconds),
                    rds_by_region[region],
                    retrier,
                    members,
                    now=now,
                    settings=settings,
                    deadline=deadline,
                )
    destinations = dict.fromkeys(
        region for tenant in tenants for region in copy_destinations(tenant, settings)
    )
    for account in settings.copy_accounts:
        copies[copy_destination_of(account)] = pool.submit(
            gather_account_copies,
            account,
            home,
            retrier,
            list(tenants),
            now=now,
            settings=settings,
            deadline=deadline,
        )
    for destination in destinations:
        rds = rds_by_region.get(destination) or _limited(
            rds_client(session, destination, read_timeout=settings.read_timeout_seconds),
            settings,
            retrier,
        )
        copies[destination] = pool.submit(
            gather_copies,
            destination,
            rds,
            backup_client(session, destination, read_timeout=settings.read_timeout_seconds),
            retrier,
            list(tenants),
            now=now,
            settings=settings,
            deadline=deadline,
        )
    return backups, copies


def _extra_outcome(pending: _ExtraPending) -> ExtraEvidence:
    """What the extra listings found; a listing that crashed or ran out of time leaves its
    tenants without evidence, which their verdicts turn into ERROR."""
    backups, copies = pending
    by_region, backup_unchecked = _settled(backups, "backup evidence for")
    copied, copies_unchecked = _settled(copies, "copies in")
    return ExtraEvidence(
        backup={key: found for region in by_region.values() for key, found in region.items()},
        copies=copied,
        backup_unchecked=backup_unchecked,
        copies_unchecked=copies_unchecked,
    )


def _settled(
    pending: Mapping[str, Future[_Found | None]], what: str
) -> tuple[dict[str, _Found], set[str]]:
    """Each listing's result by its region or destination, and apart those the deadline cut
    off (None). One that crashed (a bug) is logged and left out: no evidence, hence ERROR."""
    found: dict[str, _Found] = {}
    unchecked: set[str] = set()
    for where, future in pending.items():
        try:
            result = future.result()
        except Exception:
            logger.exception("%s %s crashed", what, where)
            continue
        if result is None:
            unchecked.add(where)
        else:
            found[where] = result
    return found, unchecked


def _limited(client: RDSClient, settings: Settings, retrier: Retrier) -> RDSClient:
    """``client`` behind the region's RDS request budget, shared with every other tool; the
    retrier's sleep, so whoever controls waiting (tests, a caller) controls it here too."""
    limit = TokenBucket(settings.rds_requests_per_second, settings.rds_burst, sleep=retrier.sleep)
    client.meta.events.register_first("before-send.rds", limit.hook)
    return client


def _row(
    tenant: Tenant, results: dict[Check, CheckResult], now: datetime, settings: Settings
) -> TenantReport:
    """The tenant's row; a bug while combining its results is that tenant's ERROR alone."""
    try:
        return tenant_report(tenant, results, now=now, settings=settings)
    except Exception as error:
        logger.exception("report row for tenant %s crashed", tenant.name)
        crashed = {check: _crashed(check, error) for check in results}
        bare = tenant.model_copy(update={"notes": (), "problems": (), "paused_until": None})
        return tenant_report(bare, crashed or {Check.RDS: _crashed(Check.RDS, error)})


@dataclass
class _RdsFindings:
    """The RDS verdicts, and what the policy controls read of the same listing."""

    results: dict[TenantKey, CheckResult] = field(default_factory=dict)
    snapshots: dict[TenantKey, SnapshotInfo] = field(default_factory=dict)
    errors: dict[TenantKey, str] = field(default_factory=dict)
    listed: set[TenantKey] = field(default_factory=set)
    """Tenants whose snapshot listing ran and succeeded: their snapshot times are known."""


def _rds_outcome(pending: Future[_RdsFindings], tenants: Iterable[Tenant]) -> _RdsFindings:
    """The RDS results; a bug (not an AWS error) marks every tenant instead of ending the run."""
    try:
        return pending.result()
    except Exception as error:
        logger.exception("rds check crashed")
        crashed = {t.key: _crashed(Check.RDS, error) for t in tenants}
        return _RdsFindings(results=crashed, errors={key: r.reason for key, r in crashed.items()})


def _s3_outcome(pending: Future[CheckResult]) -> CheckResult:
    """One tenant's S3 result; a bug in its check marks that tenant, not the whole run."""
    try:
        return pending.result()
    except Exception as error:
        logger.exception("s3 check crashed")
        return _crashed(Check.S3, error)


def _crashed(check: Check, error: Exception) -> CheckResult:
    return error_result(check, f"check failed unexpectedly: {type(error).__name__}: {error}")


def _not_checked(row: TenantReport) -> bool:
    return any(result.reason.startswith(NOT_CHECKED) for result in row.checks.values())


def _rds_results(
    tenants: Iterable[Tenant],
    rds_by_region: Mapping[str, RDSClient],
    retrier: Retrier,
    now: datetime,
    deadline: Deadline | None,
    settings: Settings,
    expected_snapshots: Mapping[str, Mapping[Kind, int]],
) -> _RdsFindings:
    """RDS verdict per tenant, from one bulk snapshot listing per region and kind (instance,
    cluster) that has tenants; the verdict itself (lifecycle, then freshness) is ``judge_rds``."""
    by_region: dict[str, list[Tenant]] = {}
    findings = _RdsFindings()
    results = findings.results
    for tenant in tenants:
        if tenant.backup_retention_period is None:
            results[tenant.key] = judge_rds(tenant, None, now=now, settings=settings)
        else:
            by_region.setdefault(tenant.region, []).append(tenant)

    for region, members in by_region.items():
        if deadline is not None and deadline.expired:
            for tenant in members:
                results[tenant.key] = _unchecked(Check.RDS)
                findings.errors[tenant.key] = f"{NOT_CHECKED}: time budget exhausted"
            continue
        lookup = newest_snapshots(
            rds_by_region[region],
            retrier,
            members,
            instances=newest_automated_snapshots,  # looked up here, so tests can replace them
            clusters=newest_automated_cluster_snapshots,
            expected=expected_snapshots.get(region),
        )
        for failed in lookup.errors.values():
            logger.error("rds evidence for %s failed: %s", region, failed)
        for tenant in members:
            error = lookup.error_for(tenant)
            if error is not None:
                findings.errors[tenant.key] = f"could not list snapshots: {error.short}"
            else:
                findings.listed.add(tenant.key)
                snapshot = lookup.snapshot_of(tenant)
                if snapshot is not None:
                    findings.snapshots[tenant.key] = snapshot
            try:
                results[tenant.key] = _rds_verdict(tenant, lookup, now, settings)
            except Exception as error:  # a bug judging one tenant is that tenant's ERROR
                logger.exception("rds verdict for tenant %s crashed", tenant.name)
                results[tenant.key] = _crashed(Check.RDS, error)
    return findings


def _rds_verdict(
    tenant: Tenant, lookup: SnapshotLookup, now: datetime, settings: Settings
) -> CheckResult:
    # Stopped, replica, retention 0 need no snapshot to be judged; all else is unknown.
    error = lookup.error_for(tenant)
    result = judge_rds(
        tenant,
        lookup.snapshot_of(tenant),
        now=now,
        settings=settings,
        listing_error=error.short if error is not None else None,
    )
    if error is not None and error.code == DEADLINE_EXCEEDED and result.status is Status.ERROR:
        return _unchecked(Check.RDS)
    return result


def _unchecked(check: Check) -> CheckResult:
    return error_result(check, f"{NOT_CHECKED}: time budget exhausted")


def _s3_result(
    tenant: Tenant,
    s3: S3Client,
    retrier: Retrier,
    bucket: str,
    now: datetime,
    deadline: Deadline | None,
    settings: Settings,
    exclude: tuple[str, ...] = (),
    refused: str | None = None,
    archived: Sequence[ArchivedDump] = (),
) -> CheckResult:
    date_layout = settings.s3_date_layout
    if tenant.s3_prefix is None:
        return error_result(Check.S3, "no folder to check (see the tenant's problems)")
    if refused is not None:
        return error_result(Check.S3, refused)
    if deadline is not None and deadline.expired:
        return _unchecked(Check.S3)
    try:
        if date_layout is None:
            evidence = newest_objects(
                s3,
                retrier,
                bucket=bucket,
                prefix=tenant.s3_prefix,
                min_object_bytes=tenant.min_object_bytes,
                exclude=exclude,
            )
        else:
            evidence = newest_dated_objects(
                s3,
                retrier,
                bucket=bucket,
                prefix=tenant.s3_prefix,
                min_object_bytes=tenant.min_object_bytes,
                date_layout=date_layout,
                since=now - timedelta(hours=tenant.max_age_hours),
                exclude=exclude,
            )
    except AwsCallError as error:
        if error.code == DEADLINE_EXCEEDED:
            return _unchecked(Check.S3)
        logger.error("s3 evidence for tenant %s failed: %s", tenant.name, error)
        return error_result(
            Check.S3, f"could not list s3://{bucket}/{tenant.s3_prefix}: {error.short}"
        )
    result = judge_s3(tenant, evidence, now=now, settings=settings, archived_sizes=archived)
    policy = integrity_policy(tenant, settings)
    dump = evidence.newest_countable
    if dump is None or not policy.reads_the_object or result.status not in _INSPECTED:
        return result
    if deadline is not None and deadline.expired:
        return _unchecked(Check.S3)
    try:
        findings = inspect_dump(
            s3,
            retrier,
            bucket=bucket,
            key=dump.key,
            size=dump.size,
            storage_class=dump.storage_class,
            expected_format=policy.dump_format,
            verify_checksum=policy.verify_checksum,
            lock_min_days=policy.lock_min_days,
            require_compliance=policy.require_compliance,
            require_sse=policy.require_sse,
            required_kms_key=policy.required_kms_key,
            now=now,
        )
    except AwsCallError as error:
        if error.code == DEADLINE_EXCEEDED:
            return _unchecked(Check.S3)
        logger.error("s3 inspection of tenant %s failed: %s", tenant.name, error)
        # The dump could not be read: its integrity is unknown, which is never a pass.
        return error_result(
            Check.S3,
            f"{result.reason}; could not inspect s3://{bucket}/{dump.key}: {error.short}",
        )
    return judge_s3(
        tenant, evidence, now=now, settings=settings, findings=findings, archived_sizes=archived
    )


_INSPECTED = frozenset({Status.OK, Status.SUSPECT})
"""Only a fresh dump is read: a stale, missing or paused one has its verdict already."""


def _account_id(settings: Settings, session: boto3.Session, retrier: Retrier) -> str | None:
    """The account id for ``{account_id}`` templates: one STS call, made only when needed."""
    sts = sts_client(session, settings.regions[0], read_timeout=settings.read_timeout_seconds)
    try:
        identity = retrier.call("sts:GetCallerIdentity", sts.get_caller_identity)
    except AwsCallError as error:
        logger.error("cannot read the account id for the prefix template: %s", error)
        return None
    return identity["Account"]
