"""The CLI's exit codes for what is not a verdict: Ctrl-C (130) and a bug (4), never 0 or 1."""

from __future__ import annotations

from typing import Any

import pytest

from handlers import _pipeline, cli

from .conftest import env_for


def _raise(error: BaseException) -> Any:
    def fail(*_: Any, **__: Any) -> Any:
        raise error

    return fail


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch, fake_env: None) -> None:
    for name, value in env_for().items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("configured")
def test_ctrl_c_exits_130_quietly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(_pipeline, "check", _raise(KeyboardInterrupt()))
    assert cli.main(["check"]) == cli.EXIT_INTERRUPTED == 130
    err = capsys.readouterr().err
    assert "interrupted" in err
    assert "Traceback" not in err


@pytest.mark.usefixtures("configured")
def test_a_bug_has_its_own_exit_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The careless variant would be exit 1 ("tenants failing") or 0; a bug is neither."""
    monkeypatch.setattr(_pipeline, "check", _raise(RuntimeError("boom")))
    code = cli.main(["check"])
    assert code == cli.EXIT_INTERNAL
    assert code not in (cli.EXIT_OK, cli.EXIT_FAILING, cli.EXIT_USAGE, cli.EXIT_PUBLISH)
    assert "RuntimeError: boom" in capsys.readouterr().err


@pytest.mark.usefixtures("configured")
def test_a_bug_after_the_check_keeps_the_printed_report(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bug while delivering: the report was already printed on stdout, and the exit is 4."""
    from backupwatch import Report

    from .conftest import NOW, REGION

    report = Report(generated_at=NOW, regions=(REGION,), checks=(), tenants=())
    monkeypatch.setattr(_pipeline, "check", lambda *_, **__: report)
    monkeypatch.setattr(_pipeline, "deliver", _raise(KeyError("late bug")))
    assert cli.main(["check", "--json"]) == cli.EXIT_INTERNAL
    out, err = capsys.readouterr()
    assert Report.from_json(out.encode()) == report  # stdout still holds only the report
    assert "KeyError: 'late bug'" in err
