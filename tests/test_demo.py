"""``backupwatch demo`` runs the real pipeline on moto and shows every status."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from backupwatch import Status
from backupwatch.cli.demo import HISTORY_DAYS, run_demo
from backupwatch.cli.main import main
from backupwatch.core.chat_preview import render_chat_preview
from backupwatch.core.integrity import IntegrityFindings
from backupwatch.pipeline import monitor

from .conftest import NOW
from .test_status_page import parse


def test_demo_prints_the_published_digest(
    fake_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo publishes one digest and prints it: every status appears, once unless more
    ways to reach it are shown (SUSPECT four times, one per way a dump can be broken; STALE
    twice, a dump job that died and a disaster-recovery copy that stopped), the decoy does
    not."""
    assert run_demo(now=NOW) == 0
    out = capsys.readouterr().out
    subject_line = next(line for line in out.splitlines() if line.startswith("Subject: "))
    assert subject_line == "Subject: backupwatch 2026-11-27: 11 of 20 tenants failing"
    lines = out.splitlines()
    shown = {Status.SUSPECT: 4, Status.STALE: 2}
    for status in Status:
        if status.failing:
            assert f"{status.value} ({shown.get(status, 1)})" in lines
        elif status.listed:
            assert f"{status.value} (1, not failing)" in lines
    assert "NONCOMPLIANT (1)" in lines
    assert "OK: 5 tenant(s) with fresh backups." in out
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


def test_demo_shows_aws_backup_copies_and_policy(
    fake_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """The three tenants of the backup, copy and policy checks (issue #15): bluth is OK on AWS
    Backup alone (its automated backups are off, and under the rule "either" that is not
    needed); massive-dynamic's disaster-recovery copy went stale while its own backups are
    fresh; pied-piper's fresh backups are kept for less than its policy asks."""
    assert run_demo(now=NOW) == 0
    lines = capsys.readouterr().out.splitlines()

    def digest_line(tenant: str) -> str:
        return next(line for line in lines if line.startswith(f"  - {tenant} ["))

    bluth = next(line for line in lines if line.startswith("bluth "))
    assert bluth.split()[:4] == ["bluth", "OK", "db-bluth", "eu-west-1"]
    assert "backup: AWS Backup recovery point 5 h old" in bluth
    assert "rds: not needed" in bluth
    assert "alone it would be DISABLED" in bluth
    assert not any(line.startswith("  - bluth [") for line in lines)  # OK: counted, not listed
    assert digest_line("massive-dynamic") == (
        "  - massive-dynamic [STALE] (db-massive, eu-west-1): copy: copy in eu-central-1 40 h "
        "old (automated backup replication) (window 24 h)"
    )
    assert digest_line("pied-piper") == (
        "  - pied-piper [NONCOMPLIANT] (db-piedpiper, eu-west-1): policy: retention 7 days "
        "(BackupRetentionPeriod), policy 14 days"
    )
    assert "Regions: eu-west-1. Checks: rds, s3, backup." in lines


SUSPECT_REASONS = {
    # A shrunk dump: the size rule, against the earlier dumps of its series.
    "wonka": "wonka-2026-11-27.dump is 2.4 KiB, 2% of the median of the last 7 dumps, 120.1 KiB",
    # A truncated plain dump: its completion trailer is not at its end.
    "nakatomi": "no '-- PostgreSQL database dump complete' in the last 1024 bytes: the dump looks "
    "truncated",
    # An error message instead of a dump: its size, and what its first bytes are instead.
    "virtucon": "virtucon-2026-11-27.dump is 170 B, 0.2% of the median of the last 7 dumps, "
    "92.4 KiB; first bytes are text 'pg_dump: error: connection to server at…', not a pg_dump "
    "custom-format archive",
    # A checksum mismatch: the sidecar's sha256 against the one S3 computed.
    "gringotts": re.compile(
        r"sha256 in gringotts-2026-11-27\.dump\.sha256 is [0-9a-f]{12}…, "
        r"S3 computed [0-9a-f]{12}…"
    ),
}


def test_demo_catches_each_broken_backup(
    fake_env: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The digest lists the four broken dumps as SUSPECT, each saying what was found, while
    acme's dumps, growing with some noise, stay OK with their format and checksum checked."""
    inspected: dict[str, tuple[Any, IntegrityFindings]] = {}
    real_inspect = monitor.inspect_dump

    def spy(*args: Any, **kwargs: Any) -> IntegrityFindings:
        findings = real_inspect(*args, **kwargs)
        inspected[kwargs["key"]] = (kwargs, findings)
        return findings

    monkeypatch.setattr(monitor, "inspect_dump", spy)
    assert run_demo(now=NOW, as_json=True) == 0
    out = capsys.readouterr().out
    report, _ = json.JSONDecoder().raw_decode(out.lstrip())
    lines = out.splitlines()
    for tenant, found in SUSPECT_REASONS.items():
        line = next(line for line in lines if line.startswith(f"  - {tenant} ["))
        start = (
            f"  - {tenant} [SUSPECT] (db-{tenant}, eu-west-1): s3: newest backup object 4 h old "
        )
        assert line.startswith(start), line
        reason = line.split(", but it looks broken: ", 1)[1]
        if isinstance(found, str):
            assert reason == found
        else:
            assert found.fullmatch(reason), reason
    rows = {row["tenant"]: row for row in report["tenants"]}
    acme = rows["acme"]["checks"]["s3"]
    assert (rows["acme"]["status"], acme["status"]) == ("OK", "OK")
    assert acme["key"] == "acme-backups/acme-2026-11-27.dump"
    assert acme["notes"] == []  # the size compared, nothing "not verifiable"
    asked, findings = inspected[acme["key"]]
    assert (asked["expected_format"], asked["verify_checksum"]) == ("pg_custom", True)
    assert findings.checked == ("format pg_custom", "sha256")
    assert (findings.problems, findings.notes) == ((), ())


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
    assert '"tenants": 20' in out
    page = tmp_path / "backupwatch-status.html"
    assert f"Status page, a week of history: {page}\n" in out
    assert out.rstrip().endswith(str(page.with_name("backupwatch-email.html")))
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
    "wonka": ["ok"] * 6 + ["suspect"],
    "nakatomi": ["ok"] * 6 + ["suspect"],
    "virtucon": ["ok"] * 6 + ["suspect"],
    "gringotts": ["ok"] * 6 + ["suspect"],
    "bluth": ["ok"] * 7,
    "massive-dynamic": ["ok"] * 6 + ["stale"],
    "pied-piper": ["ok"] * 3 + ["noncompliant"] * 4,
}


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """One run of the week-long demo (seven mornings, each a full run: seconds) for every test
    that reads it: what it printed, and the status page it wrote (the channels beside it)."""
    page_file = tmp_path_factory.mktemp("week") / "backupwatch-status.html"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert run_demo(now=NOW, html=page_file) == 0
    return printed.getvalue(), page_file


def test_demo_writes_a_week_of_history(week: tuple[str, Path]) -> None:
    """Seven archived runs on seven mornings: tenants fail, recover, arrive and leave; the last
    digest (the one printed) opens with what changed since the day before."""
    out, page_file = week
    assert out.count("Subject: ") == 1
    assert "Subject: backupwatch 2026-11-27: 6 new failures; 11 of 20 tenants failing" in out
    changes = out[out.index("WHAT CHANGED") : out.index("FULL STATUS")]
    new_failures = changes[changes.index("NEW FAILURES (6)\n") : changes.index("RECOVERED")]
    assert re.findall(r"^  - (\S+) \[(\w+)\] .*: was OK;", new_failures, re.MULTILINE) == [
        ("gringotts", "SUSPECT"),
        ("nakatomi", "SUSPECT"),
        ("virtucon", "SUSPECT"),
        ("wonka", "SUSPECT"),
        ("globex", "STALE"),
        ("massive-dynamic", "STALE"),
    ]
    assert "RECOVERED (1)\n  - soylent [OK]" in changes
    assert "  - initech [MISSING] (db-initech, eu-west-1): since 2026-11-21 (6 days)" in changes
    assert (
        "  - pied-piper [NONCOMPLIANT] (db-piedpiper, eu-west-1): since 2026-11-24 (3 days)"
        in changes
    )
    assert "NEW TENANTS (1)\n  - newco [PENDING]" in changes
    page = parse(page_file.read_text(encoding="utf-8"))
    assert [day["title"][4:14] for day in page.days] == [f"2026-11-{day}" for day in range(21, 28)]
    assert {name: page.row(name).classes() for name in page.names()} == WEEK
    assert page.names()[:11] == [
        "stark",
        "initech",
        "umbrella",
        "gringotts",
        "nakatomi",
        "virtucon",
        "wonka",
        "globex",
        "massive-dynamic",
        "hooli",
        "pied-piper",
    ]


def test_demo_renders_every_channel_to_files(week: tuple[str, Path]) -> None:
    """Beside the status page, the last morning's digest as each channel renders it: the
    chat custom notification and its preview page, a Slack message, a Teams card and the HTML
    email."""
    out, page_file = week
    tmp_path = page_file.parent
    chat = json.loads((tmp_path / "backupwatch-chat.json").read_text(encoding="utf-8"))
    assert (chat["version"], chat["source"]) == ("1.0", "custom")
    title = "backupwatch 2026-11-27: 6 new failures; 11 of 20 tenants failing"
    assert chat["content"]["title"] == title
    description = chat["content"]["description"]
    assert "stark [ERROR]" in description  # failures first, cut to the field's room:
    assert "more: see the full report and the status page (below)" in description
    slack = json.loads((tmp_path / "backupwatch-slack.json").read_text(encoding="utf-8"))
    assert 0 < len(slack["blocks"]) <= 50
    assert slack["blocks"][0]["type"] == "header"
    teams = json.loads((tmp_path / "backupwatch-teams.json").read_text(encoding="utf-8"))
    card = teams["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard"
    email = (tmp_path / "backupwatch-email.html").read_text(encoding="utf-8")
    assert "<script" not in email
    assert "massive-dynamic" in email
    preview = (tmp_path / "backupwatch-chat-preview.html").read_text(encoding="utf-8")
    assert preview == render_chat_preview(chat)  # the same notification as chat.json
    assert f"<div class=title>{title}</div>" in preview
    for name in ("chat.json", "chat-preview.html", "slack.json", "teams.json", "email.html"):
        assert str(tmp_path / f"backupwatch-{name}") in out


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
