"""Every ```` ```python runnable ```` block of README.md and docs/*.md runs here, against moto.

The rule, one for every page: the runnable blocks of one file run in order, in one namespace per
file, so a block may use names that an earlier block of the same file defined (``report``,
``settings``), and never names from another file. Each block is a test of its own, named
``docs/library.md:36``: the test builds a fresh world, runs the file's blocks before it (a failure
there names that block), then the block itself. A block that defines ``handler`` or
``lambda_handler`` is a Lambda function: the harness calls it once with ``{}`` and a fake context.

The world: fake credentials, ``mock_aws``, wall time frozen at ``NOW`` (so ``utc_now``,
``datetime.now`` and moto agree), three tagged DB instances in us-east-1 (acme OK, globex STALE,
initech MISSING), their dumps in the backups bucket, two SNS topics, and a report archive
holding the two previous days. The environment a block may read is ``ENV`` below.

Blocks must use the public API only: no block of README.md or docs/ (runnable or not) imports
from a ``backupwatch.`` submodule, because private imports in the docs are what issue 14 was
about. Every ``python`` block must be runnable, so none can rot unseen.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from moto import mock_aws

from backupwatch import Retrier, load_settings, run_daily

from .conftest import BUCKET, NOW, REGION, World, hours_ago, use_fake_env

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
REPORT_BUCKET = "acme-corp-backupwatch-reports"
REPORT_PREFIX = "backupwatch/"
PYTHON = frozenset({"python", "py", "python3"})
FENCE = re.compile(r"^(?P<indent>\s*)(?P<ticks>`{3,})(?P<info>.*)$")
PRIVATE_IMPORT = re.compile(r"\b(?:from|import)\s+backupwatch\.\w")
LAMBDA_NAMES = ("handler", "lambda_handler")

# Python blocks not runnable yet, each in a section another change owns; the test fails once one
# is runnable, so the list cannot outlive its reason.
NOT_RUNNABLE_YET: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    page: str
    """Relative to the repository root: ``docs/library.md``."""
    line: int
    """The line of the opening fence, 1-based."""
    info: tuple[str, ...]
    """The fence's info string, split: ``("python", "runnable")``."""
    section: str
    """The heading the block sits under (without its ``#``)."""
    code: str

    @property
    def language(self) -> str:
        return self.info[0] if self.info else ""

    @property
    def runnable(self) -> bool:
        return self.language in PYTHON and "runnable" in self.info[1:]

    @property
    def name(self) -> str:
        return f"{self.page}:{self.line}"


def blocks_of(path: Path) -> list[Block]:
    """Every fenced block of a Markdown page, indented ones (in a list item) included."""
    page = path.relative_to(ROOT).as_posix()
    found: list[Block] = []
    section = ""
    opening: tuple[int, str, str, tuple[str, ...]] | None = None  # line, indent, ticks, info
    body: list[str] = []
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        fence = FENCE.match(text)
        if opening is None:
            if fence:
                opening = (number, fence["indent"], fence["ticks"], tuple(fence["info"].split()))
                body = []
            elif text.startswith("#"):
                section = text.lstrip("#").strip()
            continue
        line, indent, ticks, info = opening
        if fence and fence["ticks"].startswith(ticks) and not fence["info"].strip():
            found.append(Block(page, line, info, section, "\n".join(body) + "\n"))
            opening = None
        else:
            body.append(text.removeprefix(indent))
    assert opening is None, f"{page}:{opening[0]}: a fence that never closes"
    return found


ALL_BLOCKS = [block for path in PAGES for block in blocks_of(path)]
RUNNABLE = [block for block in ALL_BLOCKS if block.runnable]


def test_the_pages_have_runnable_blocks() -> None:
    """The collector finds the blocks (a broken parser must not pass by finding none)."""
    assert len(RUNNABLE) >= 8
    assert {block.page for block in RUNNABLE} >= {
        "README.md",
        "docs/library.md",
        "docs/history.md",
        "docs/status-page.md",
    }


def test_every_python_block_is_runnable() -> None:
    """A ``python`` block that is not ``runnable`` is not run, so it could rot: none may be."""
    unmarked = {
        block.name: (block.page, block.section)
        for block in ALL_BLOCKS
        if block.language in PYTHON and not block.runnable
    }
    pending = {name for name, where in unmarked.items() if where in NOT_RUNNABLE_YET}
    assert sorted(set(unmarked) - pending) == [], "mark these ```python runnable and make them run"
    still_listed = NOT_RUNNABLE_YET - set(unmarked.values())
    assert not still_listed, f"runnable now: drop them from NOT_RUNNABLE_YET: {still_listed}"


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=lambda block: block.name)
def test_no_block_imports_a_private_module(block: Block) -> None:
    """Only ``import backupwatch`` / ``from backupwatch import ...``: the public API."""
    assert not PRIVATE_IMPORT.search(block.code), (
        f"{block.name} imports from a backupwatch submodule; use the names in backupwatch.__all__"
    )


# --- running the blocks -------------------------------------------------------------------------


@dataclass
class Harness:
    """The world a block runs in, and what the checks after it need."""

    world: World
    env: dict[str, str]
    digest_topic: str
    my_topic: str

    def archive_keys(self) -> set[str]:
        listed = self.world.s3.list_objects_v2(Bucket=REPORT_BUCKET, Prefix=REPORT_PREFIX)
        return {entry["Key"] for entry in listed.get("Contents", [])}


class FakeLambdaContext:
    """What a Lambda function's handler reads of its context."""

    function_name = "doc-example"
    aws_request_id = "doc-example-request"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def build_world() -> Harness:
    """Three tenants, their dumps, two topics, and an archive of the two days before NOW."""
    world = World()
    world.bucket(BUCKET)
    world.instance("db-acme", tenant="acme")
    world.put("acme-backups/acme.dump", hours_ago(2))
    world.instance("db-globex", tenant="globex", snapshot_at=hours_ago(30))
    world.put("globex-backups/globex.dump", hours_ago(30))
    world.instance("db-initech", tenant="initech")
    world.bucket(REPORT_BUCKET)
    digest_topic = world.topic("backup-digest")
    my_topic = world.topic("my-topic")
    env = {
        "BACKUPWATCH_S3_BUCKET": BUCKET,
        "BACKUPWATCH_REGIONS": REGION,
        "BACKUPWATCH_REPORT_BUCKET": REPORT_BUCKET,
        "BACKUPWATCH_SNS_TOPIC_ARN": digest_topic,
        "MY_TOPIC_ARN": my_topic,
    }
    harness = Harness(world=world, env=env, digest_topic=digest_topic, my_topic=my_topic)
    settings = load_settings(harness.env)
    for days_before in (2, 1):
        run_daily(
            settings,
            session=world.session,
            clock=lambda days=days_before: NOW - timedelta(days=days),
            retrier=Retrier(sleep=lambda _seconds: None),
            status_page=None,  # so a block that writes one is seen writing it
            publish=False,
        )
    return harness


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Harness]:
    use_fake_env(monkeypatch)
    monkeypatch.chdir(tmp_path)  # what a block writes (status.html) lands here
    with time_machine.travel(NOW, tick=False), mock_aws():
        built = build_world()
        for name, value in built.env.items():
            monkeypatch.setenv(name, value)
        yield built


def defined_functions(block: Block) -> set[str]:
    return {n.name for n in ast.parse(block.code).body if isinstance(n, ast.FunctionDef)}


def run_block(block: Block, namespace: dict[str, Any]) -> Any:
    """Run one block in ``namespace``, its output swallowed; call the Lambda it defines."""
    # Blank lines first, so a traceback names the line of the page.
    code = compile("\n" * block.line + block.code, block.page, "exec")
    result = None
    with contextlib.redirect_stdout(io.StringIO()):
        exec(code, namespace)
        for name in LAMBDA_NAMES:
            if name in defined_functions(block):
                result = namespace[name]({}, FakeLambdaContext())
    return result


def check_the_daily_run(harness: Harness, result: Any, before: dict[str, Any]) -> None:
    """The daily run in your own Lambda: archive and status page written, own publisher once."""
    written = harness.archive_keys() - before["keys"]
    ledger = {key for key in written if key.startswith(f"{REPORT_PREFIX}ledger/2026-11-27/")}
    assert [key.rsplit("/", 1)[1] for key in ledger] == ["sns.json"], "its publisher's record"
    assert written - ledger == {
        f"{REPORT_PREFIX}reports/2026/11/27/070000Z.json",
        f"{REPORT_PREFIX}reports/2026/11/27/070000Z.day.json.gz",
        f"{REPORT_PREFIX}status.html",
    }
    assert f"{REPORT_PREFIX}index.json" in harness.archive_keys()
    sent = harness.world.published(harness.my_topic)[before["my_topic"] :]
    assert len(sent) == 1, "the publisher is called exactly once"
    assert sent[0]["subject"].startswith("backupwatch 2026-11-27: 1 new failure")
    assert harness.world.published(harness.digest_topic) == [], "no SNS publish of its own"
    assert (
        result["report"] == f"s3://{REPORT_BUCKET}/{REPORT_PREFIX}reports/2026/11/27/070000Z.json"
    )
    assert result["status_page"] == f"s3://{REPORT_BUCKET}/{REPORT_PREFIX}status.html"
    assert result["message_id"] == sent[0]["message_id"]
    assert result["deliveries"] == {"sns": "sent"}


# (page, section) -> what must be true after the block ran, beyond running without an error.
CHECKS: dict[tuple[str, str], Callable[[Harness, Any, dict[str, Any]], None]] = {
    ("docs/library.md", "The daily run in your own Lambda"): check_the_daily_run,
}


def test_every_check_has_its_block() -> None:
    """A renamed section must not silently drop the checks made after its block."""
    assert set(CHECKS) <= {(block.page, block.section) for block in RUNNABLE}


@pytest.mark.parametrize("block", RUNNABLE, ids=lambda block: block.name)
def test_runnable_block_runs(block: Block, harness: Harness) -> None:
    """The block runs against moto after the blocks before it on its page (one namespace)."""
    namespace: dict[str, Any] = {"__name__": "doc_example"}
    for earlier in RUNNABLE:
        if earlier.page != block.page:
            continue
        if earlier == block:
            break
        try:
            run_block(earlier, namespace)
        except Exception as error:
            pytest.fail(f"{earlier.name}, run before {block.name}, failed: {error!r}")
    before = {
        "keys": harness.archive_keys(),
        "my_topic": len(harness.world.published(harness.my_topic)),
    }
    result = run_block(block, namespace)
    check = CHECKS.get((block.page, block.section))
    if check is not None:
        check(harness, result, before)
