"""The CLI's exit codes for what is not a verdict: Ctrl-C (130) and a bug (4), never 0 or 1."""

from __future__ import annotations

from typing import Any

import pytest

import backupwatch.cli.main as cli

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
    monkeypatch.setattr(cli, "check_tenants", _raise(KeyboardInterrupt()))
    assert cli.main(["check"]) == cli.EXIT_INTERRUPTED == 130
    err = capsys.readouterr().err
    assert "interrupted" in err
    assert "Traceback" not in err


@pytest.mark.usefixtures("configured")
def test_a_bug_has_its_own_exit_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The careless variant would be exit 1 ("tenants failing") or 0; a bug is neither."""
    monkeypatch.setattr(cli, "check_tenants", _raise(RuntimeError("boom")))
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
    monkeypatch.setattr(cli, "check_tenants", lambda *_, **__: report)
    monkeypatch.setattr(cli, "run_daily", _raise(KeyError("late bug")))
    assert cli.main(["check", "--json"]) == cli.EXIT_INTERNAL
    out, err = capsys.readouterr()
    assert Report.from_json(out.encode()) == report  # stdout still holds only the report
    assert "KeyError: 'late bug'" in err


@pytest.mark.usefixtures("configured")
@pytest.mark.parametrize("command", [["check", "--dry-run"], ["report", "--html", "out.html"]])
def test_a_missing_aws_profile_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    tmp_path: Any,
) -> None:
    """``AWS_PROFILE`` naming no profile: exit 2 with one line, not exit 4 ("a bug") and a
    botocore traceback."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("BACKUPWATCH_REPORT_BUCKET", "reports")
    assert cli.main(command) == cli.EXIT_USAGE
    assert capsys.readouterr().err == (
        "backupwatch: configuration error: AWS_PROFILE='no-such-profile': "
        "no such profile in the AWS config or credentials file\n"
    )


@pytest.mark.usefixtures("configured")
def test_an_unparsable_aws_config_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    config = tmp_path / "config"
    config.write_text("[default\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    assert cli.main(["check", "--dry-run"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("backupwatch: configuration error: AWS_CONFIG_FILE=")
    assert "the AWS config file does not parse" in err


@pytest.mark.usefixtures("configured")
def test_the_library_raises_configuration_error_for_a_missing_profile(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """``check_tenants`` without a session builds one: a missing profile is the caller's
    ``ConfigurationError``, raised before any call, never a botocore exception."""
    from backupwatch import ConfigurationError, check_tenants, load_settings

    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    settings = load_settings(env_for())
    with pytest.raises(ConfigurationError) as caught:
        check_tenants(settings)
    assert caught.value.variable == "AWS_PROFILE"
