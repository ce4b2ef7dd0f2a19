"""The ``backupwatch`` command: ``check`` against your AWS account, ``demo`` against a fake one.

Exit codes: 0 every tenant OK; 1 something fails; 2 configuration or usage error; 3 the digest
could not be published. ``--json`` prints only the report on stdout; logs go to stderr.
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
    return _check(as_json=args.json, dry_run=args.dry_run)


def _check(*, as_json: bool, dry_run: bool) -> int:
    try:
        settings = load_settings(
            os.environ, default_region=boto3.Session().region_name, dry_run=dry_run or None
        )
    except ConfigurationError as error:
        print(f"backupwatch: configuration error: {error}", file=sys.stderr)
        return EXIT_USAGE
    session = boto3.Session()
    report, digest = _pipeline.check(settings, session=session)
    print_report(report, as_json=as_json)
    try:
        message_id = _pipeline.publish(settings, report, digest, session=session)
    except PublishError as error:
        print(f"backupwatch: {error}", file=sys.stderr)
        return EXIT_PUBLISH
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
    demo = commands.add_parser("demo", help="run against an in-memory AWS (needs the demo extra)")
    demo.add_argument("--json", action="store_true", help="print the report as JSON too")
    return parser


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
