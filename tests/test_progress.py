"""Progress: a bounded number of steps from the library, rendered on stderr by ``-v`` (a live
line on a terminal, plain lines elsewhere), never on stdout, and no botocore chatter below
``-vv``."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Callable, Iterator

import pytest
import time_machine

from backupwatch import Retrier, check_tenants, load_settings
from backupwatch.cli.main import main
from backupwatch.cli.progress import SDK_LOGGERS, ProgressLine
from backupwatch.core.progress import EVIDENCE_STEPS, EvidenceCounter, Step

from .conftest import BUCKET, DENIED, NOW, OTHER_REGION, REGION, Faults, World, env_for, hours_ago

SetEnv = Callable[[dict[str, str]], None]


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def log_levels() -> Iterator[None]:
    """``-v`` sets logger levels for the process: put them back for the other tests."""
    names = ["", "backupwatch", *SDK_LOGGERS]
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def tenants(world: World, count: int = 3) -> None:
    world.bucket()
    for index in range(count):
        world.instance(f"db-t{index}", tenant=f"t{index}")
        world.put(f"t{index}-backups/x.dump", hours_ago(1))


# --- the library's steps ------------------------------------------------------------------------


def test_evidence_counts_are_bounded_for_a_large_fleet() -> None:
    """10,000 tenants: about a hundred steps, not ten thousand; the last one says N of N."""
    steps: list[Step] = []
    counter = EvidenceCounter(steps.append, "", 10_000)
    for _ in range(10_000):
        counter.add()
    counter.add()  # past the end: nothing more
    assert len(steps) <= EVIDENCE_STEPS + 2
    assert steps[0].message == "checking 10000 tenant(s)"
    assert (steps[-1].done, steps[-1].total) == (10_000, 10_000)
    assert [s.done for s in steps] == sorted(s.done or 0 for s in steps)


def test_check_tenants_tells_discovery_per_region_and_evidence(
    world: World, faults: Faults, retrier: Retrier
) -> None:
    """One discovery step per region (its count, or why it failed), then the evidence count."""
    tenants(world)
    faults.inject("rds", "DescribeDBInstances", DENIED, region=OTHER_REGION)
    steps: list[Step] = []
    check_tenants(
        load_settings(env_for(BACKUPWATCH_REGIONS=f"{REGION},{OTHER_REGION}")),
        session=world.session,
        clock=lambda: NOW,
        retrier=retrier,
        progress=steps.append,
    )
    texts = [step.text for step in steps]
    assert texts[0] == f"discovery {REGION}: 3 tenant(s) found"
    assert texts[1].startswith(f"discovery {OTHER_REGION}: failed: discovery failed: AccessDenied")
    assert texts[2:] == [
        "evidence: checking 3 tenant(s)",
        "evidence: checked 1 of 3",
        "evidence: checked 2 of 3",
        "evidence: checked 3 of 3",
    ]


def test_a_failing_progress_callback_costs_the_run_nothing(
    world: World, retrier: Retrier, caplog: pytest.LogCaptureFixture
) -> None:
    """The callback raises: logged once, never called again, and the report is the same."""
    tenants(world)
    calls: list[Step] = []

    def broken(step: Step) -> None:
        calls.append(step)
        raise RuntimeError("renderer bug")

    settings = load_settings(env_for())
    quiet = check_tenants(settings, session=world.session, clock=lambda: NOW, retrier=retrier)
    loud = check_tenants(
        settings, session=world.session, clock=lambda: NOW, retrier=retrier, progress=broken
    )
    assert loud == quiet
    assert len(calls) == 1
    assert caplog.text.count("the progress callback failed") == 1


# --- rendering ----------------------------------------------------------------------------------


def test_plain_lines_show_a_count_every_tenth() -> None:
    stream = io.StringIO()
    line = ProgressLine(stream)
    line(Step("discovery", REGION, "100 tenant(s) found"))
    counter = EvidenceCounter(line, "", 100)
    for _ in range(100):
        counter.add()
    lines = stream.getvalue().splitlines()
    assert lines[:3] == [
        f"discovery {REGION}: 100 tenant(s) found",
        "evidence: checking 100 tenant(s)",
        "evidence: checked 10 of 100",
    ]
    assert lines[-1] == "evidence: checked 100 of 100"
    assert len(lines) == 12
    assert "\r" not in stream.getvalue()


def test_a_terminal_gets_one_live_line_per_phase() -> None:
    """Counts rewrite the line in place; another phase or place keeps the finished line."""
    stream = Terminal()
    line = ProgressLine(stream)
    line(Step("discovery", REGION, "12 tenant(s) found"))
    line(Step("evidence", "", "checking 12 tenant(s)", 0, 12))
    line(Step("evidence", "", "checked 12 of 12", 12, 12))
    line.close()
    text = stream.getvalue()
    assert text == (
        f"\rdiscovery {REGION}: 12 tenant(s) found\n"
        "\revidence: checking 12 tenant(s)"
        "\revidence: checked 12 of 12" + " " * 5 + "\n"  # erases the longer line's end
    )
    # What a terminal finally shows:
    shown = [part.split("\r")[-1].rstrip() for part in text.split("\n")]
    assert shown == [f"discovery {REGION}: 12 tenant(s) found", "evidence: checked 12 of 12", ""]


def test_a_log_record_never_lands_in_the_live_line() -> None:
    stream = Terminal()
    line = ProgressLine(stream)
    line(Step("evidence", "", "checked 1 of 2", 1, 2))
    with line.interrupted():
        stream.write("WARNING backupwatch: retried\n")
    blank = " " * len("evidence: checked 1 of 2")
    assert stream.getvalue() == (
        f"\revidence: checked 1 of 2\r{blank}\rWARNING backupwatch: retried\n"
        "evidence: checked 1 of 2"
    )


def test_disabled_shows_nothing() -> None:
    stream = Terminal()
    line = ProgressLine(stream, enabled=False)
    line(Step("discovery", REGION, "1 tenant(s) found"))
    line.close()
    assert stream.getvalue() == ""


# --- the command --------------------------------------------------------------------------------


@pytest.mark.parametrize("terminal", [True, False], ids=["tty", "pipe"])
def test_progress_never_reaches_stdout(
    world: World,
    patch_env: SetEnv,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    terminal: bool,
) -> None:
    """``-v check --json``: stdout is the report alone; the progress is on stderr, live on a
    terminal, plain lines on a pipe."""
    tenants(world)
    patch_env({"BACKUPWATCH_S3_BUCKET": BUCKET, "BACKUPWATCH_REGIONS": REGION})
    stderr = Terminal() if terminal else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)

    assert main(["-v", "check", "--json", "--dry-run"]) == 0

    out = capsys.readouterr().out
    assert json.loads(out)["summary"]["tenants"] == 3
    assert "\r" not in out
    assert "evidence:" not in out
    assert "discovery" not in out
    err = stderr.getvalue()
    assert f"discovery {REGION}: 3 tenant(s) found" in err
    assert "evidence: checked 3 of 3" in err
    assert "publish: dry run: nothing" in err
    assert ("\r" in err) is terminal


def test_without_v_there_is_no_progress(
    world: World, patch_env: SetEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    tenants(world)
    patch_env({"BACKUPWATCH_S3_BUCKET": BUCKET, "BACKUPWATCH_REGIONS": REGION})
    assert main(["check", "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert "discovery" not in err
    assert "evidence" not in err


@pytest.mark.parametrize(
    ("flags", "backupwatch", "botocore"),
    [
        (["-v"], logging.INFO, logging.WARNING),
        (["-vv"], logging.DEBUG, logging.DEBUG),
        (["-v", "-v"], logging.DEBUG, logging.DEBUG),
    ],
)
def test_botocore_speaks_only_at_vv(
    fake_env: None,
    patch_env: SetEnv,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    backupwatch: int,
    botocore: int,
) -> None:
    """``-v`` is backupwatch's own INFO; the SDK stays at WARNING until ``-vv``."""
    patch_env({"BACKUPWATCH_REGIONS": REGION})
    main([*flags, "check", "--region", "us-west-2"])  # refused before any call
    assert logging.getLogger("backupwatch").getEffectiveLevel() == backupwatch
    for name in SDK_LOGGERS:
        assert logging.getLogger(name).getEffectiveLevel() == botocore
