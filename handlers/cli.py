"""The ``backupwatch`` command: ``check`` against your AWS account, ``demo`` against a fake one.

Exit codes: 0 nothing fails (lifecycle statuses such as PENDING do not fail); 1 something
fails; 2 configuration or usage error; 3 the digest could not be published. ``--json`` prints
only the report on stdout; logs go to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence

import boto3

from backupwatch import ConfigurationError, PublishError, Report, load_settings, render_table
from backupwatch.deadline import Deadline

from . import _pipeline

EXIT_OK, EXIT_FAILING, EXIT_USAGE, EXIT_PUBLISH = 0, 1, 2, 3


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.command == "demo":
        try:
            import moto  # noqa: F401  (an optional extra: checked only here)
        except ImportError:
            print(
                "backupwatch: the demo needs moto: pip install 'backupwatch[demo]'", file=sys.stderr
            )
            return EXIT_USAGE
        from .demo import run_demo

        return run_demo(as_json=args.json)
    return _check(as_json=args.json, dry_run=args.dry_run, timeout=args.timeout)


def _check(*, as_json: bool, dry_run: bool, timeout: float | None) -> int:
    try:
        settings = load_settings(
            os.environ, default_region=boto3.Session().region_name, dry_run=dry_run or None
        )
        if timeout is not None and timeout <= settings.publish_reserve_seconds:
            raise ConfigurationError(
                "--timeout",
                str(timeout),
                "must be longer than BACKUPWATCH_PUBLISH_RESERVE_SECONDS "
                f"({settings.publish_reserve_seconds:g} s), the time kept to publish",
            )
    except ConfigurationError as error:
        print(f"backupwatch: configuration error: {error}", file=sys.stderr)
        return EXIT_USAGE
    # Started before the first AWS call, so the whole run fits in the timeout.
    deadline = Deadline.after(timeout) if timeout is not None else None
    session = boto3.Session()
    report = _pipeline.check(settings, session=session, deadline=deadline)
    print_report(report, as_json=as_json)
    try:
        outcome = _pipeline.deliver(settings, report, session=session, deadline=deadline)
    except PublishError as error:
        print(f"backupwatch: {error}", file=sys.stderr)
        return EXIT_PUBLISH
    if outcome.archived is not None:
        print(f"full report: {outcome.archived.uri}", file=sys.stderr)
    message_id = outcome.message_id
    if message_id:
        print(f"digest published: {message_id}", file=sys.stderr)
    else:
        print("digest not published (dry run or nothing to report)", file=sys.stderr)
    return EXIT_FAILING if report.failing else EXIT_OK


def print_report(report: Report, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False))
    else:
        print(render_table(report))


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number of seconds")
    return seconds


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backupwatch",
        description="Did every tenant get a backup in the last day? Settings come from "
        "BACKUPWATCH_* environment variables (see docs/configuration.md).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="check every tenant and publish the digest")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument("--dry-run", action="store_true", help="evaluate, publish nothing")
    check.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help="finish within SECONDS: stop checking in time to publish (unchecked tenants "
        "are reported as ERROR)",
    )
    demo = commands.add_parser("demo", help="run against an in-memory AWS (needs the demo extra)")
    demo.add_argument("--json", action="store_true", help="print the report as JSON too")
    return parser


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
