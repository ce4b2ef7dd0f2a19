"""The ``backupwatch`` command: ``check`` against your AWS account, ``explain`` one tenant's
status, ``demo`` against a fake account, ``report`` to render the status page from archived
(or local) reports.

Exit codes of ``check`` and ``explain``: 0 nothing fails (lifecycle statuses such as PENDING do
not fail); 1 something fails (a tenant, a region not checked, no tenant found at all); 2
configuration or usage error, a ``--region`` the run does not check, or a ``--tenant`` (the
``explain`` TENANT) that matches no tenant (exit 1 instead when a region could not be listed:
the tenant may be there); 3 the digest could not be published (``check`` only); 4 internal
error (a bug: traceback logged, one line on stderr); 130 interrupted (Ctrl-C). ``--json`` prints
only the report on stdout; logs and ``-v`` progress go to stderr. A narrowed ``check``
(``--tenant``, ``--region``) publishes no digest and archives nothing.

Exit codes of ``report``: 0 the page was written; 1 the archive could not be read; 2
configuration or usage error (no archive bucket, an unreadable ``--from`` file, an unwritable
output path). ``--version`` prints ``backupwatch <version>``, exit 0.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from pydantic import ValidationError

from backupwatch import (
    BackupwatchError,
    Check,
    ConfigurationError,
    PublishError,
    Report,
    Retrier,
    Settings,
    __version__,
    check_tenants,
    load_settings,
    run_daily,
)
from backupwatch.aws.archive import recent_reports
from backupwatch.aws.clients import new_session, s3_client
from backupwatch.cli.output import print_report
from backupwatch.cli.progress import ProgressLine, configure_logging
from backupwatch.core.deadline import RESERVE_FLOOR_SECONDS, Deadline
from backupwatch.core.errors import SelectionError
from backupwatch.core.explain import explain
from backupwatch.core.progress import Step
from backupwatch.core.status_page import daily_reports, render_status_page
from backupwatch.pipeline.daily import check_deadline, require_topic
from backupwatch.pipeline.monitor import Clock, examine_tenant, utc_now

EXIT_OK, EXIT_FAILING, EXIT_USAGE, EXIT_PUBLISH = 0, 1, 2, 3
EXIT_INTERNAL, EXIT_INTERRUPTED = 4, 130
MAX_DAYS = 92
"""The most days ``report`` shows: the archive index keeps about that many."""
DEMO_PAGE = Path("backupwatch-status.html")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it).

    Ctrl-C: one line on stderr, exit 130. An unexpected exception (a bug): traceback logged at
    error level, one line on stderr, exit 4 (never 0 or 1). The report table is printed before
    the digest is delivered, and a digest that was rendered but not published is logged, so a
    bug late in the run loses neither.
    """
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("backupwatch: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        logging.getLogger("backupwatch").error("internal error", exc_info=True)
        print(
            f"backupwatch: internal error (a bug): {type(error).__name__}: {error}",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    progress = ProgressLine(sys.stderr, enabled=args.verbose > 0)
    configure_logging(args.verbose, stream=sys.stderr, line=progress)
    try:
        return _command(args, progress)
    finally:
        progress.close()


def _command(args: argparse.Namespace, progress: ProgressLine) -> int:
    if args.command == "demo":
        try:
            import moto  # noqa: F401  (an optional extra: checked only here)
        except ImportError:
            print(
                "backupwatch: the demo needs moto: pip install 'backupwatch[demo]'", file=sys.stderr
            )
            return EXIT_USAGE
        from backupwatch.cli.demo import run_demo  # imports moto: only when asked

        return run_demo(as_json=args.json, html=args.html)
    if args.command == "report":
        return _report(out=args.html, sources=args.sources, days=args.days)
    if args.command == "explain":
        return _explain(tenant=args.tenant, regions=args.regions, progress=progress)
    return _check(
        as_json=args.json,
        dry_run=args.dry_run,
        timeout=args.timeout,
        tenants=args.tenants,
        regions=args.regions,
        progress=progress,
    )


def _report(*, out: Path, sources: list[Path] | None, days: int, clock: Clock = utc_now) -> int:
    """Render the status page from ``sources`` (local JSON reports) or from the archive."""
    generated_at: datetime | None = None
    if sources:
        reports = []
        for path in sources:
            try:
                reports.append(Report.from_json(path.read_bytes()))
            except OSError as error:
                print(f"backupwatch: cannot read {path}: {error.strerror}", file=sys.stderr)
                return EXIT_USAGE
            except ValidationError:
                print(
                    f"backupwatch: {path} is not a backupwatch report "
                    "(`backupwatch check --json` writes one)",
                    file=sys.stderr,
                )
                return EXIT_USAGE
        reports = _last_days(daily_reports(reports), days)
    else:
        generated_at = clock()
        try:
            # The archive is all this command reads: the checks' own requirements (the
            # backups bucket, the topic) do not apply to it.
            session = new_session()
            settings = load_settings(
                os.environ,
                default_region=session.region_name,
                dry_run=True,
                checks=[Check.RDS],
            )
        except ConfigurationError as error:
            print(f"backupwatch: configuration error: {error}", file=sys.stderr)
            return EXIT_USAGE
        if settings.report_bucket is None:
            print(
                "backupwatch: configuration error: BACKUPWATCH_REPORT_BUCKET is not set: the "
                "status page is rendered from the report archive there (or give --from FILE...)",
                file=sys.stderr,
            )
            return EXIT_USAGE
        s3 = s3_client(session, settings.regions[0], read_timeout=settings.read_timeout_seconds)
        try:
            reports = recent_reports(
                s3,
                Retrier(),
                bucket=settings.report_bucket,
                prefix=settings.report_prefix,
                days=days,
                now=generated_at,
            )
        except (BackupwatchError, ValidationError) as error:
            where = f"s3://{settings.report_bucket}/{settings.report_prefix}"
            print(f"backupwatch: could not read the archive {where}: {error}", file=sys.stderr)
            return EXIT_FAILING
    page = render_status_page(reports, generated_at=generated_at)
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as error:
        print(f"backupwatch: cannot write {out}: {error.strerror}", file=sys.stderr)
        return EXIT_USAGE
    tenants = len({row.key for report in reports for row in report.tenants})
    print(
        f"status page: {out} ({tenants} tenants, {len(reports)} daily reports, "
        f"{len(page.encode()) // 1024} KiB)"
    )
    if not reports:
        print("backupwatch: no reports found: the page says so", file=sys.stderr)
    return EXIT_OK


def _last_days(reports: list[Report], days: int) -> list[Report]:
    """The reports of the ``days`` UTC days ending on the newest one's day."""
    if not reports:
        return reports
    first = _utc_day(reports[-1].generated_at) - timedelta(days=days - 1)
    return [r for r in reports if _utc_day(r.generated_at) >= first]


def _utc_day(when: datetime) -> date:
    return when.astimezone(UTC).date()


def _check(
    *,
    as_json: bool,
    dry_run: bool,
    timeout: float | None,
    tenants: Sequence[str],
    regions: Sequence[str],
    progress: ProgressLine,
) -> int:
    narrowed = bool(tenants or regions)
    try:
        session = new_session()
        settings = load_settings(
            os.environ, default_region=session.region_name, dry_run=dry_run or None
        )
        # The reserve adapts to the time left (Deadline.reserving), down to its floor: only a
        # timeout within that floor leaves no time to check at all.
        least = min(settings.publish_reserve_seconds, RESERVE_FLOOR_SECONDS)
        if timeout is not None and timeout <= least:
            raise ConfigurationError(
                "--timeout",
                str(timeout),
                f"must be longer than {least:g} s, the least time kept to publish",
            )
        if not narrowed:  # a narrowed run publishes nothing: it needs no topic
            require_topic(settings)
    except ConfigurationError as error:
        print(f"backupwatch: configuration error: {error}", file=sys.stderr)
        return EXIT_USAGE
    # Started before the first AWS call, so the whole run fits in the timeout.
    deadline = Deadline.after(timeout) if timeout is not None else None
    try:
        report = check_tenants(
            settings,
            session=session,
            deadline=check_deadline(settings, deadline),
            tenants=tenants,
            regions=regions,
            progress=progress,
        )
    except SelectionError as error:
        progress.close()
        return _not_selected(error, as_json=as_json)
    progress.close()  # the live line ends before stdout is written
    print_report(report, as_json=as_json)  # before the delivery: a late failure loses nothing
    if narrowed:
        # Not the fleet's report: as the day's digest or archive it would read as tenants gone.
        print(
            "narrowed run (--tenant, --region): digest not published, report not archived",
            file=sys.stderr,
        )
        return EXIT_FAILING if report.failing else EXIT_OK
    _tell_delivery(progress, settings)
    try:
        outcome = run_daily(settings, report=report, session=session, deadline=deadline)
    except PublishError as error:
        print(f"backupwatch: {error}", file=sys.stderr)
        return EXIT_PUBLISH
    for label, written in (("full report", outcome.archived), ("status page", outcome.status_page)):
        if written is not None:
            problem = f" NOT written: {written.error}" if written.error else ""
            print(f"{label}: {written.uri}{problem}", file=sys.stderr)
    message_id = outcome.message_id
    if message_id:
        print(f"digest published: {message_id}", file=sys.stderr)
    else:
        print("digest not published (dry run or nothing to report)", file=sys.stderr)
    return EXIT_FAILING if report.failing else EXIT_OK


def _tell_delivery(progress: ProgressLine, settings: Settings) -> None:
    """The archive and publish steps of ``run_daily``, told before it runs them."""
    if settings.report_bucket is not None:
        writes = "nothing written (dry run)" if settings.dry_run else "then this run written"
        progress(
            Step(
                "archive",
                f"s3://{settings.report_bucket}/{settings.report_prefix}",
                f"previous report read, {writes}",
            )
        )
    topic = settings.sns_topic_arn
    progress(Step("publish", "", "dry run: nothing" if settings.dry_run else f"digest to {topic}"))


def _not_selected(error: SelectionError, *, as_json: bool) -> int:
    """A ``--tenant`` or ``--region`` that names nothing: exit 2; exit 1 with the region
    errors printed when a region could not be listed (the tenant may be there)."""
    if error.report is not None and error.report.region_errors:
        print_report(error.report, as_json=as_json)
        print(f"backupwatch: {error}", file=sys.stderr)
        return EXIT_FAILING
    print(f"backupwatch: {error}", file=sys.stderr)
    return EXIT_USAGE


def _explain(*, tenant: str, regions: Sequence[str], progress: ProgressLine) -> int:
    """Check one tenant, publishing nothing, and print why it has its status."""
    try:
        session = new_session()
        settings = load_settings(os.environ, default_region=session.region_name)
    except ConfigurationError as error:
        print(f"backupwatch: configuration error: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        examination = examine_tenant(
            settings, tenant, session=session, regions=regions, progress=progress
        )
    except SelectionError as error:
        progress.close()
        if error.report is not None and error.report.region_errors:
            print("\n".join(explain(error.report, {}, settings=settings)))
            print(f"backupwatch: {error}", file=sys.stderr)
            return EXIT_FAILING
        print(f"backupwatch: {error}", file=sys.stderr)
        return EXIT_USAGE
    progress.close()
    report = examination.report
    print("\n".join(explain(report, examination.resolved, settings=settings)))
    return EXIT_FAILING if report.failing else EXIT_OK


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number of seconds")
    return seconds


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None
    if not 1 <= days <= MAX_DAYS:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 1 and {MAX_DAYS} days")
    return days


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backupwatch",
        description="Did every tenant get a backup in the last day? Settings come from "
        "BACKUPWATCH_* environment variables (see docs/configuration.md).",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"backupwatch {__version__}",
        help="print the version and exit",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="progress and backupwatch's log on stderr; -vv: the AWS SDK's debug log too",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser(
        "check",
        help="check every tenant and publish the digest",
        description="Check every tenant, print the report, archive it and publish the "
        "digest. A narrowed run (--tenant, --region) is not the whole fleet's: it prints "
        "its report and exits as usual, but publishes no digest and archives nothing.",
    )
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument("--dry-run", action="store_true", help="evaluate, publish nothing")
    check.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help="finish within SECONDS: stop checking in time to publish (unchecked tenants "
        "are reported as ERROR)",
    )
    check.add_argument(
        "--tenant",
        action="append",
        dest="tenants",
        default=[],
        metavar="NAME",
        help="report only the tenant NAME (repeatable); every tenant is still discovered, "
        "so its verdict is the one of a whole run; a NAME that matches no tenant exits 2",
    )
    _narrowing(check)
    explain = commands.add_parser(
        "explain",
        help="why a tenant has its status: evidence, rules, thresholds",
        description="Check one tenant, publishing nothing, and explain its status: the "
        "evidence looked at, the rule that decided each check, and where each threshold "
        "came from (default, setting BACKUPWATCH_..., or tag backupwatch:...). Exit 0: "
        "not failing; 1: failing; 2: no tenant of that name.",
    )
    explain.add_argument("tenant", metavar="TENANT", help="the tenant's name (its tag's value)")
    _narrowing(explain)
    demo = commands.add_parser("demo", help="run against an in-memory AWS (needs the demo extra)")
    demo.add_argument("--json", action="store_true", help="print the report as JSON too")
    demo.add_argument(
        "--html",
        type=Path,
        default=DEMO_PAGE,
        metavar="PATH",
        help=f"write the status page of a week of history there (default: {DEMO_PAGE})",
    )
    report = commands.add_parser(
        "report", help="render the status page from the report archive (or JSON files)"
    )
    report.add_argument(
        "--html", type=Path, required=True, metavar="OUT.html", help="write the page there"
    )
    report.add_argument(
        "--from",
        dest="sources",
        type=Path,
        nargs="+",
        metavar="REPORT.json",
        help="reports written by `backupwatch check --json`, instead of the archive in "
        "BACKUPWATCH_REPORT_BUCKET",
    )
    report.add_argument(
        "--days",
        type=_days,
        default=30,
        metavar="N",
        help="days to show, ending today (with --from: on the newest report's day; default: 30)",
    )
    return parser


def _narrowing(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--region",
        action="append",
        dest="regions",
        default=[],
        metavar="REGION",
        help="check only REGION (repeatable), one of the run's regions; another exits 2 "
        "(BACKUPWATCH_REGIONS sets the run's regions)",
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
