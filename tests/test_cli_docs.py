"""docs/configuration.md shows the real ``--help`` of every command, so it cannot drift."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from backupwatch.cli.main import main

DOC = Path(__file__).parent.parent / "docs" / "configuration.md"
BLOCK = re.compile(r"```console\n\$ backupwatch ((?:\w+ )?)--help\n(.*?)\n```", re.DOTALL)


def _documented() -> dict[str, str]:
    return {command.strip(): text for command, text in BLOCK.findall(DOC.read_text())}


def test_every_command_has_its_help_in_the_docs() -> None:
    """The top level and each subcommand (check, demo, report) have a documented --help."""
    assert sorted(_documented()) == ["", "check", "demo", "report"]


@pytest.mark.parametrize("command", ["", "check", "demo", "report"])
def test_documented_help_is_the_real_help(
    command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What ``backupwatch [command] --help`` prints at 80 columns is what the docs show."""
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit) as exited:
        main([*command.split(), "--help"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.rstrip() == _documented()[command]
