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
    assert subject_line == "Subject: backupwatch 2026-11-27: 5 of 13 tenants failing"
    lines = out.splitlines()
    for status in Status:
        if status.failing:
            assert f"{status.value} (1)" in lines
        elif status.listed:
            assert f"{status.value} (1, not failing)" in lines
    assert "OK: 4 tenant(s) with fresh backups." in out
    assert "scratch-analytics" not in out
    assert "legacy-payroll" in out


def test_demo_shows_each_lifecycle_state(
    fake_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """New, stopped, paused, replica and cluster tenants read as the docs say (issue #5)."""
    assert run_demo(now=NOW) == 0
    lines = capsys.readouterr().out.splitlines()

    def digest_line(tenant: str) -> str:
        return next(line for line in lines if line.startswith(f"  - {tenant} ["))

    assert digest_line("newco").startswith(
        "  - newco [PENDING] (db-newco, eu-west-1): rds: new, first backup expected by "
        "2026-11-28 06:00 UTC"
    )
    assert digest_line("cyberdyne").startswith(
        "  - cyberdyne [STOPPED] (db-cyberdyne, eu-west-1): rds: DB instance is stopped"
    )
    assert digest_line("tyrell").startswith(
        "  - tyrell [PAUSED] (db-tyrell, eu-west-1): rds: paused until 2026-12-02 00:00 UTC; "
        "would be STALE"
    )
    assert digest_line("oscorp-reports").startswith(
        "  - oscorp-reports [SKIPPED] (db-oscorp-replica, eu-west-1): rds: PostgreSQL read "
        "replica of 'db-oscorp'"
    )
    globex = lines.index(digest_line("globex"))
    assert lines[globex + 1] == "    runbook: https://wiki.example.com/runbooks/globex"
    soylent = next(line for line in lines if line.startswith("soylent "))
    assert soylent.split()[:4] == ["soylent", "OK", "cluster", "aurora-soylent"]
    assert not any("aurora-soylent-1" in line for line in lines)


def test_demo_command(fake_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    """``backupwatch demo --json`` prints the JSON report before the digest."""
    assert main(["demo", "--json"]) == 0
    out = capsys.readouterr().out
    assert out.lstrip().startswith("{")
    assert '"tenants": 13' in out


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
