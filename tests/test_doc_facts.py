"""Facts the docs state, pinned to the code: a change to either side fails here, naming the page.

The public API table of docs/library.md, the Lambda function's return value, the configuration
errors and the no-credentials output of docs/configuration.md, the retry rules of docs/deploy.md,
the files and dotted names the pages refer to, and the numbers they quote.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

import backupwatch
from backupwatch import (
    Check,
    ConfigurationError,
    Digest,
    Outcome,
    Report,
    Retrier,
    Status,
    load_settings,
    render_digest,
    run_daily,
)
from backupwatch.aws import archive, clients, retry
from backupwatch.aws.publish import publish_digest
from backupwatch.cli.main import MAX_DAYS
from backupwatch.core import digest as digest_module
from backupwatch.core import fanout
from backupwatch.core.deadline import RESERVE_FLOOR_SECONDS as RESERVE_FLOOR
from backupwatch.pipeline import daily

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BASE = {"BACKUPWATCH_S3_BUCKET": "my-backups-bucket", "BACKUPWATCH_REGIONS": "us-east-1"}
NOW = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)


def page(name: str) -> str:
    return (ROOT / name).read_text()


def fenced_after(text: str, marker: str, language: str) -> str:
    """The body of the first ```language block after ``marker``."""
    rest = text.split(marker, 1)[1]
    return rest.split(f"```{language}\n", 1)[1].split("\n```", 1)[0]


# --- docs/library.md's public API table -----------------------------------------------------------


def api_table_names() -> list[str]:
    """Every name in the first column of the table under ``## The public API``."""
    section = page("docs/library.md").split("## The public API\n", 1)[1].split("\n## ", 1)[0]
    names: list[str] = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        first = line.split(" | ", 1)[0]
        names += [re.match(r"\w+", code)[0] for code in re.findall(r"`([^`]+)`", first)]  # type: ignore[index]
    return names


def test_the_api_table_lists_exactly_the_public_api() -> None:
    """Every name of ``backupwatch.__all__`` has a row, once, and nothing else has one."""
    names = api_table_names()
    assert sorted(set(backupwatch.__all__) - set(names)) == [], "public, not in the table"
    assert sorted(set(names) - set(backupwatch.__all__)) == [], "in the table, not public"
    assert sorted(n for n in set(names) if names.count(n) > 1) == [], "listed twice"


# --- the Lambda function's return value -----------------------------------------------------------


def a_summary() -> dict[str, Any]:
    report = Report(generated_at=NOW, regions=("us-east-1",), checks=(Check.RDS,), tenants=())
    return Outcome(report=report, digest=render_digest(report), message_id=None).summary()


def documented_return_values() -> Iterator[tuple[str, dict[str, Any]]]:
    import json

    configuration = page("docs/configuration.md")
    yield "configuration.md", json.loads(fenced_after(configuration, "- Return value:", "json"))
    deploy = page("docs/deploy.md")
    yield "deploy.md", json.loads(fenced_after(deploy, "`message_id` is `null`", "json"))


@pytest.mark.parametrize(("where", "documented"), list(documented_return_values()))
def test_the_documented_return_value_has_the_real_keys(
    where: str, documented: dict[str, Any]
) -> None:
    """The example JSON has ``Outcome.summary()``'s keys in order, and every status counted."""
    assert list(documented) == list(a_summary()), where
    assert list(documented["by_status"]) == [status.value for status in Status], where


def test_the_readme_names_the_returned_keys() -> None:
    """README.md's one-line shape of the Lambda's result has the same keys, in order."""
    shape = page("README.md").split("It returns `{", 1)[1].split("}`", 1)[0]
    assert re.findall(r'"(\w+)":', shape) == list(a_summary())


def test_every_returned_key_is_explained() -> None:
    """The key table of docs/configuration.md's Lambda section names each key, in order."""
    section = page("docs/configuration.md").split("## The Lambda function", 1)[1]
    table = section.split("| Key | Meaning |", 1)[1].split("\n\n", 1)[0]
    keys = re.findall(r"^\| `(\w+)` \|", table, re.MULTILINE)
    assert keys == list(a_summary())


# --- configuration errors -------------------------------------------------------------------------

ERROR_LINE = re.compile(r"^(BACKUPWATCH_\w+)='(.*)': ")
# Documented messages that need more than BASE plus the variable.
CONTEXTS: dict[str, dict[str, str]] = {
    "BACKUPWATCH_TARGETS='arn:aws:iam::111122223333:role/r': give either": {
        "BACKUPWATCH_ORGANIZATION_ROLE_NAME": "backupwatch-reader"
    },
    "BACKUPWATCH_MIN_RETENTION_DAYS='35': needs rds or backup": {"BACKUPWATCH_CHECKS": "s3"},
}
NOT_PROBED = ("--timeout=", "event.dry_run=")
"""The command line's and the Lambda event's own (tests/test_cli.py, tests/test_handler.py)."""


def configuration_error(environ: dict[str, str], **overrides: Any) -> str:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(environ, **overrides)
    return str(caught.value)


def topic_error() -> str:
    settings = load_settings(BASE)
    with pytest.raises(ConfigurationError) as caught:
        run_daily(settings)  # refused before any AWS call
    return str(caught.value)


SPECIAL = {
    "BACKUPWATCH_SNS_TOPIC_ARN=None": topic_error,
    "BACKUPWATCH_S3_BUCKET=None": lambda: configuration_error({"AWS_REGION": "us-east-1"}),
    "BACKUPWATCH_REGIONS=None": lambda: configuration_error({"BACKUPWATCH_S3_BUCKET": "b-1"}),
    "AWS_REGION='Frankfurt'": lambda: configuration_error(
        {"BACKUPWATCH_S3_BUCKET": "b-1", "AWS_REGION": "Frankfurt"}
    ),
    "the AWS profile's region='Frankfurt'": lambda: configuration_error(
        {"BACKUPWATCH_S3_BUCKET": "b-1"}, default_region="Frankfurt"
    ),
    "DB_INSTANCE_IDENTIFIER_1=''": lambda: configuration_error(
        {**BASE, "DB_INSTANCE_IDENTIFIER_1": ""}
    ),
    "DB_INSTANCE_IDENTIFIER_1='a'": lambda: configuration_error(
        {**BASE, "DB_INSTANCE_IDENTIFIER_1": "a", "DB_INSTANCE_IDENTIFIER_01": "b"}
    ),
    "DB_INSTANCE_IDENTIFIER_2='db1'": lambda: configuration_error(
        {
            **BASE,
            "DB_INSTANCE_IDENTIFIER_1": "db1",
            "S3_FOLDER_1": "a/",
            "DB_INSTANCE_IDENTIFIER_2": "db1",
            "S3_FOLDER_2": "b/",
        }
    ),
    "S3_FOLDER_2='x/'": lambda: configuration_error({**BASE, "S3_FOLDER_2": "x/"}),
}


def documented_errors() -> list[str]:
    configuration = page("docs/configuration.md")
    return fenced_after(configuration, "More real messages:", "text").splitlines()


@pytest.mark.parametrize("line", documented_errors())
def test_each_documented_configuration_error_is_real(line: str) -> None:
    """Each line under "More real messages" is what backupwatch says, word for word."""
    if line.startswith(NOT_PROBED):
        return
    special = next((make for prefix, make in SPECIAL.items() if line.startswith(prefix)), None)
    if special is not None:
        assert special() == line
        return
    found = ERROR_LINE.match(line)
    assert found, f"no way to reproduce {line!r}: add it to SPECIAL"
    context = next((env for prefix, env in CONTEXTS.items() if line.startswith(prefix)), {})
    assert configuration_error({**BASE, **context, found[1]: found[2]}) == line


# --- the command without credentials --------------------------------------------------------------


def test_the_no_credentials_example_is_real(tmp_path: Path) -> None:
    """docs/configuration.md's run without credentials: the very lines a terminal shows (stdout
    and stderr as they interleave), and exit code 1. A process of its own, with no AWS
    configuration at all; nothing is sent (botocore stops before the request)."""
    example = fenced_after(
        page("docs/configuration.md"), "Without credentials, for example:", "console"
    )
    command, *lines = example.splitlines()
    shown, exit_code = lines[: lines.index("$ echo $?")], lines[-1]
    variables = dict(v.split("=", 1) for v in command.removeprefix("$ ").split() if "=" in v)
    argv = command.split(" backupwatch ", 1)[1].split()
    environ = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",  # stdout and stderr in the order a terminal shows them
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        **variables,
    }
    done = subprocess.run(
        [sys.executable, "-m", "backupwatch", *argv],
        env=environ,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.stdout.splitlines() == shown
    assert str(done.returncode) == exit_code


# --- retries --------------------------------------------------------------------------------------


def test_the_retried_http_statuses_are_documented() -> None:
    """docs/deploy.md's "HTTP status" row is ``TRANSIENT_HTTP_STATUS``; a 501 is not retried."""
    row = next(
        line for line in page("docs/deploy.md").splitlines() if line.startswith("| HTTP status |")
    )
    assert {int(n) for n in re.findall(r"\d{3}", row)} == retry.TRANSIENT_HTTP_STATUS
    reliability = page("docs/reliability.md")
    assert "HTTP status 429, 500, 502, 503 or 504 whatever its code" in reliability
    unknown_501 = ClientError({"ResponseMetadata": {"HTTPStatusCode": 501}}, "Op")
    assert not retry.is_retryable(unknown_501)


class ThrottledOnce:
    """An SNS client whose first publish is throttled."""

    def __init__(self) -> None:
        self.calls = 0

    def publish(self, **_: Any) -> dict[str, str]:
        self.calls += 1
        if self.calls == 1:
            raise ClientError({"Error": {"Code": "Throttled", "Message": "slow down"}}, "Publish")
        return {"MessageId": "m-1"}


def test_publish_retries_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    """docs/deploy.md: "Each retry is logged as a warning, the publish's included"."""
    caplog.set_level(logging.WARNING, logger="backupwatch")
    sns = ThrottledOnce()
    digest = Digest(subject="s", body="b", failing=0)
    topic = "arn:aws:sns:us-east-1:123456789012:t"
    retrier = Retrier(sleep=lambda _seconds: None)
    assert publish_digest(sns, topic, digest, retrier=retrier, run_key="k") == "m-1"  # type: ignore[arg-type]
    message = "retrying sns:Publish after attempt 1: Throttled"
    assert message in caplog.messages
    assert f"`{message}`" in page("docs/deploy.md")


# --- what the pages refer to ----------------------------------------------------------------------

FILE = re.compile(r"\b((?:backupwatch|handlers|tests|benchmarks)/[\w/.-]+\.py)(?:::(\w+))?")
DOTTED = re.compile(r"`((?:backupwatch|handlers)\.[\w.]+)`")


@pytest.mark.parametrize("path", PAGES, ids=lambda path: path.name)
def test_the_files_a_page_names_exist(path: Path) -> None:
    """``backupwatch/aws/retry.py``, ``tests/test_faults.py::test_...``: still there."""
    for file, function in FILE.findall(path.read_text()):
        assert (ROOT / file).is_file(), f"{path.name} names {file}, which does not exist"
        if function:
            assert re.search(rf"def {function}\(", (ROOT / file).read_text()), (
                f"{path.name} names {file}::{function}, which does not exist"
            )


@pytest.mark.parametrize("path", PAGES, ids=lambda path: path.name)
def test_the_dotted_names_a_page_uses_are_real_and_public(path: Path) -> None:
    """```backupwatch.run_daily``` is public; ```handlers.scan_scope``` can be imported."""
    for dotted in DOTTED.findall(path.read_text()):
        module, _, name = dotted.rpartition(".")
        if dotted.startswith("backupwatch."):
            assert module == "backupwatch", f"{path.name}: {dotted} is not a public name"
            assert name in backupwatch.__all__, f"{path.name}: {dotted} is not public"
        else:
            try:
                importlib.import_module(dotted)
            except ModuleNotFoundError:
                assert hasattr(importlib.import_module(module), name), f"{path.name}: {dotted}"


def test_the_status_page_colours_are_the_palette() -> None:
    """docs/status-page.md's colour table is ``PALETTE``, status by status."""
    from backupwatch.core.status_page import PALETTE

    rows = re.findall(
        r"^\| [a-z ]+ `(#[0-9a-f]{6})` \| `([A-Z]+)` \|", page("docs/status-page.md"), re.M
    )
    assert {Status(name): colour for colour, name in rows} == dict(PALETTE)


# --- numbers the pages quote ----------------------------------------------------------------------

QUOTED = [
    (
        "docs/history.md",
        "with a deadline they stop 10 s before it",
        daily.ARCHIVE_MARGIN_SECONDS,
        10,
    ),
    ("docs/library.md", "the archive 10 s before it", daily.ARCHIVE_MARGIN_SECONDS, 10),
    (
        "docs/reliability.md",
        "may retry until 2 s before the deadline",
        daily.PUBLISH_MARGIN_SECONDS,
        2,
    ),
    ("docs/history.md", "rendered from the last 30 days' reports", daily.STATUS_PAGE_DAYS, 30),
    ("docs/history.md", "the runs of the last 92 days (at most 400)", archive.INDEX_DAYS, 92),
    ("docs/history.md", "the runs of the last 92 days (at most 400)", archive.MAX_RUNS, 400),
    ("docs/history.md", "(the three newest entries are tried)", archive.PREVIOUS_TRIES, 3),
    ("docs/evidence.md", "at most 99 characters", digest_module.SUBJECT_MAX_CHARS, 99),
    (
        "docs/evidence.md",
        "at most 262,144 bytes of UTF-8",
        digest_module.MESSAGE_MAX_BYTES,
        262_144,
    ),
    ("docs/reliability.md", "one line of at most 200 characters", retry.MESSAGE_LIMIT, 200),
    ("docs/reliability.md", "| Attempts per call | 5, the first included", Retrier().attempts, 5),
    ("docs/reliability.md", "| Time cap | 60 s per call", Retrier().budget_seconds, 60),
    ("docs/deploy.md", "multiplier 0.5 s, cap 20 s", Retrier().initial_wait_seconds, 0.5),
    ("docs/deploy.md", "multiplier 0.5 s, cap 20 s", Retrier().max_wait_seconds, 20),
    ("docs/reliability.md", "longer than the 3 s floor of the reserve", RESERVE_FLOOR, 3),
    ("docs/status-page.md", "(`--days N`, at most 92)", MAX_DAYS, 92),
    ("docs/scale.md", "too large to return (over 200 KB)", fanout.INLINE_MAX_BYTES, 200_000),
    ("docs/deploy.md", "a 5 s connect timeout", clients.client_config().connect_timeout, 5),
    ("docs/deploy.md", "and a 20 s read timeout", clients.client_config().read_timeout, 20),
]


@pytest.mark.parametrize(("where", "phrase", "value", "quoted"), QUOTED)
def test_quoted_numbers_are_the_code_s(
    where: str, phrase: str, value: float, quoted: float
) -> None:
    """The page says it, and the code has it."""
    assert phrase in " ".join(page(where).split()), f"{where} no longer says {phrase!r}"
    assert value == quoted, f"{where} says {phrase!r}; the code has {value}"
