"""``backupwatch demo`` runs the real pipeline on moto and shows every status."""

from __future__ import annotations

import pytest

from backupwatch import Status
from handlers.cli import main
from handlers.demo import run_demo

from .conftest import NOW


def test_demo_prints_the_published_digest(
    fake_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo publishes one digest and prints it: every status appears, the decoy does not."""
    assert run_demo(now=NOW) == 0
    out = capsys.readouterr().out
    subject_line = next(line for line in out.splitlines() if line.startswith("Subject: "))
    assert subject_line == "Subject: backupwatch 2026-11-27: 5 of 8 tenants failing"
    for status in Status:
        if status.failing:
            assert f"{status.value} (1)" in out
    assert "OK: 3 tenant(s) with fresh backups." in out
    assert "scratch-analytics" not in out
    assert "legacy-payroll" in out


def test_demo_command(fake_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    """``backupwatch demo --json`` prints the JSON report before the digest."""
    assert main(["demo", "--json"]) == 0
    out = capsys.readouterr().out
    assert out.lstrip().startswith("{")
    assert '"tenants": 8' in out


def test_demo_without_moto_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without the demo extra, ``demo`` exits 2 with the install command, not a traceback."""
    import builtins

    real_import = builtins.__import__

    def no_moto(name: str, *args: object, **kwargs: object) -> object:
        if name == "moto" or name.startswith("moto."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_moto)
    assert main(["demo"]) == 2
    assert "pip install 'backupwatch[demo]'" in capsys.readouterr().err
