"""``backupwatch demo`` runs the real pipeline on moto and shows every status."""

from __future__ import annotations

from pathlib import Path

import pytest

from backupwatch import Status
from backupwatch.cli.demo import HISTORY_DAYS, run_demo
from backupwatch.cli.main import main

from .conftest import NOW
from .test_status_page import parse


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


def test_demo_command(
    fake_env: None,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``backupwatch demo --json`` prints the JSON report before the digest, and writes the
    status page to the current directory by default."""
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--json"]) == 0
    out = capsys.readouterr().out
    assert out.lstrip().startswith("{")
    assert '"tenants": 13' in out
    page = tmp_path / "backupwatch-status.html"
    assert out.rstrip().endswith(f"Status page, a week of history: {page}")
    assert len(parse(page.read_text(encoding="utf-8")).days) == HISTORY_DAYS


# What the week of the demo's status page shows, day 1 to day 7 ("na": not a tenant that day).
WEEK = {
    "acme": ["ok"] * 7,
    "wayne": ["na", "na", "ok", "ok", "ok", "ok", "ok"],
    "globex": ["ok"] * 6 + ["stale"],
    "initech": ["missing"] * 7,
    "umbrella": ["disabled"] * 7,
    "hooli": ["missing"] * 3 + ["empty"] * 4,
    "stark": ["ok"] * 4 + ["error"] * 3,
    "legacy-payroll": ["ok"] * 7,
    "soylent": ["ok", "ok", "ok", "ok", "stale", "stale", "ok"],
    "newco": ["na"] * 6 + ["pending"],
    "cyberdyne": ["ok", "ok"] + ["stopped"] * 5,
    "tyrell": ["paused"] * 7,
    "oscorp-reports": ["skipped"] * 7,
    "vandelay": ["ok"] * 4 + ["na"] * 3,
}


def test_demo_writes_a_week_of_history(
    fake_env: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Seven archived runs on seven mornings: tenants fail, recover, arrive and leave; the last
    digest (the one printed) opens with what changed since the day before."""
    page_file = tmp_path / "page.html"
    assert run_demo(now=NOW, html=page_file) == 0
    out = capsys.readouterr().out
    assert out.count("Subject: ") == 1
    assert "Subject: backupwatch 2026-11-27: 1 new failure; 5 of 13 tenants failing" in out
    changes = out[out.index("WHAT CHANGED") : out.index("FULL STATUS")]
    assert "NEW FAILURES (1)\n  - globex [STALE]" in changes
    assert "RECOVERED (1)\n  - soylent [OK]" in changes
    assert "  - initech [MISSING] (db-initech, eu-west-1): since 2026-11-21 (6 days)" in changes
    assert "NEW TENANTS (1)\n  - newco [PENDING]" in changes
    page = parse(page_file.read_text(encoding="utf-8"))
    assert [day["title"][4:14] for day in page.days] == [f"2026-11-{day}" for day in range(21, 28)]
    assert {name: page.row(name).classes() for name in page.names()} == WEEK
    assert page.names()[:5] == ["stark", "initech", "umbrella", "globex", "hooli"]


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
