"""docs/configuration.md shows the real ``--help`` of every command, and the real output of
``backupwatch explain``, so neither can drift."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import time_machine

from backupwatch.cli.main import main

from .conftest import BUCKET, NOW, REGION, World, hours_ago

DOC = Path(__file__).parent.parent / "docs" / "configuration.md"
BLOCK = re.compile(r"```console\n\$ backupwatch ((?:\w+ )?)--help\n(.*?)\n```", re.DOTALL)
EXPLAIN = re.compile(
    r"```console\n\$ backupwatch explain (\w\S*)\n(.*?)\n\$ echo \$\?\n(\d+)\n```", re.DOTALL
)


def _documented() -> dict[str, str]:
    return {command.strip(): text for command, text in BLOCK.findall(DOC.read_text())}


def test_every_command_has_its_help_in_the_docs() -> None:
    """The top level and each subcommand (check, explain, demo, report) have a documented
    --help."""
    assert sorted(_documented()) == ["", "check", "demo", "explain", "report"]


@pytest.mark.parametrize("command", ["", "check", "explain", "demo", "report"])
def test_documented_help_is_the_real_help(
    command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What ``backupwatch [command] --help`` prints at 80 columns is what the docs show."""
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit) as exited:
        main([*command.split(), "--help"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.rstrip() == _documented()[command]


def test_documented_explain_is_the_real_output(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The world the docs describe: acme's tag sets a 12 h window, its RDS snapshot is 3 h old,
    its newest dump 20 h old; ``backupwatch explain acme`` prints what the docs show."""
    [(tenant, shown, code)] = EXPLAIN.findall(DOC.read_text())
    world.bucket()
    world.instance("db-acme", tenant="acme", tags={"backupwatch:max-age-hours": "12"})
    world.drop_snapshots("db-acme")
    world.automated_snapshot("db-acme", hours_ago(3))
    world.put("acme-backups/acme-2026-11-26.dump", hours_ago(20), size=2 * 1024 * 1024)
    world.instance("db-globex", tenant="globex")
    world.put("globex-backups/globex.dump", hours_ago(2))
    monkeypatch.setenv("BACKUPWATCH_S3_BUCKET", BUCKET)
    monkeypatch.setenv("BACKUPWATCH_REGIONS", REGION)
    with time_machine.travel(NOW, tick=False):
        exit_code = main(["explain", tenant])
    assert capsys.readouterr().out.rstrip() == shown
    assert exit_code == int(code)
