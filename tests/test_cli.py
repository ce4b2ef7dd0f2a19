"""The ``backupwatch`` command: exit codes, JSON on stdout only, one-line errors."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import time_machine

import backupwatch
import backupwatch.cli.main as cli
from backupwatch import Retrier, Status
from backupwatch.aws.archive import read_index, write_run
from backupwatch.cli.main import main

from .conftest import BUCKET, DENIED, NOW, OTHER_REGION, REGION, Faults, World, hours_ago
from .test_status_page import parse, report, row

SetEnv = Callable[[dict[str, str]], None]


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def env(topic: str | None = None, **extra: str) -> dict[str, str]:
    base = {"BACKUPWATCH_S3_BUCKET": BUCKET, "BACKUPWATCH_REGIONS": REGION}
    if topic:
        base["BACKUPWATCH_SNS_TOPIC_ARN"] = topic
    return {**base, **extra}


def ok_tenant(world: World, name: str = "ok") -> None:
    world.instance(f"db-{name}", tenant=name)
    world.put(f"{name}-backups/x.dump", hours_ago(1))


def test_all_ok_exits_zero_and_publishes(
    world: World, patch_env: SetEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    """``check`` with every tenant OK exits 0 and publishes the one digest."""
    world.bucket()
    ok_tenant(world)
    topic = world.topic()
    patch_env(env(topic))
    assert main(["check"]) == 0
    out, err = capsys.readouterr()
    assert "ok" in out
    assert "OK" in out
    assert "digest published" in err
    assert len(world.published(topic)) == 1


def test_failing_tenant_exits_one(
    world: World, patch_env: SetEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    """Any failing tenant makes ``check`` exit 1; the table leads with it."""
    world.bucket()
    ok_tenant(world)
    world.instance("db-late", tenant="late", snapshot_at=hours_ago(40))
    patch_env(env())
    assert main(["check", "--dry-run"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("late")
    assert "MISSING" in lines[1]


def test_json_prints_only_the_report(
    world: World, patch_env: SetEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--json`` writes the report (summary + tenants with checks) and nothing else to stdout."""
    world.bucket()
    ok_tenant(world)
    patch_env(env())
    assert main(["check", "--json", "--dry-run"]) == 0
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["summary"] == {
        "tenants": 1,
        "failing": 0,
        "by_status": {**{s.value: 0 for s in Status}, "OK": 1},
        "regions_failed": 0,
    }
    [tenant] = report["tenants"]
    assert {k: tenant[k] for k in ("tenant", "db_instance_identifier", "region", "status")} == {
        "tenant": "ok",
        "db_instance_identifier": "db-ok",
        "region": REGION,
        "status": "OK",
    }
    assert tenant["reason"]
    s3 = tenant["checks"]["s3"]
    assert (s3["status"], s3["key"], s3["size_bytes"], s3["age_hours"]) == (
        "OK",
        "ok-backups/x.dump",
        1024,
        1.0,
    )
    assert tenant["checks"]["rds"]["key"].startswith("rds:db-ok-")
    assert "not published" in err


def test_dry_run_flag_publishes_nothing(world: World, patch_env: SetEnv) -> None:
    """``--dry-run`` overrides a configured topic: nothing is sent."""
    world.bucket()
    ok_tenant(world)
    topic = world.topic()
    patch_env(env(topic))
    assert main(["check", "--dry-run"]) == 0
    assert world.published(topic) == []


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"BACKUPWATCH_CHECKS": "rds,ec2"}, "BACKUPWATCH_CHECKS"),
        ({"BACKUPWATCH_MAX_AGE_HOURS": "yesterday"}, "BACKUPWATCH_MAX_AGE_HOURS"),
        ({"BACKUPWATCH_PREFIX_TEMPLATE": "{tenant}/{date}/"}, "BACKUPWATCH_PREFIX_TEMPLATE"),
        (
            {"BACKUPWATCH_SNS_TOPIC_ARN": "arn:aws:sqs:us-east-1:123456789012:q"},
            "BACKUPWATCH_SNS_TOPIC_ARN",
        ),
    ],
)
def test_configuration_error_exits_two_with_one_line(
    fake_env: None,
    patch_env: SetEnv,
    capsys: pytest.CaptureFixture[str],
    variables: dict[str, str],
    named: str,
) -> None:
    """A bad variable: exit 2, one line on stderr naming it and its value, no traceback."""
    patch_env(env(**variables))
    assert main(["check", "--dry-run"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert named in err
    assert variables[named] in err
    assert "Traceback" not in err


def test_missing_topic_without_dry_run_is_a_configuration_error(
    fake_env: None, patch_env: SetEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    """Publishing needs a topic: without one (and without --dry-run) ``check`` exits 2."""
    patch_env(env())
    assert main(["check"]) == 2
    assert "BACKUPWATCH_SNS_TOPIC_ARN" in capsys.readouterr().err


def test_usage_error_exits_two(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown command or flag is a usage error (exit 2)."""
    with pytest.raises(SystemExit) as raised:
        main(["check", "--frobnicate"])
    assert raised.value.code == 2


def test_failed_publish_exits_three(
    world: World, patch_env: SetEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    """A digest that cannot be published: exit 3, one line on stderr, the report still printed."""
    world.bucket()
    ok_tenant(world)
    patch_env(env("arn:aws:sns:us-east-1:123456789012:gone"))
    assert main(["check"]) == 3
    out, err = capsys.readouterr()
    assert "ok" in out
    assert "could not publish the digest" in err
    assert err.strip().splitlines()[-1].startswith("backupwatch: could not publish")


# --- backupwatch report: the status page --------------------------------------------------------


def test_report_from_json_files_writes_the_page(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``report --html OUT --from a.json b.json``: one column per day, every tenant a row."""
    files = []
    for days_ago, status in ((1, Status.OK), (0, Status.STALE)):
        path = tmp_path / f"{days_ago}.json"
        path.write_text(report(days_ago, row("acme"), row("globex", status)).to_json())
        files.append(str(path))
    out = tmp_path / "status.html"
    assert main(["report", "--html", str(out), "--from", *files]) == 0
    page = parse(out.read_text(encoding="utf-8"))
    assert page.names() == ["globex", "acme"]
    assert page.row("globex").classes() == ["ok", "stale"]
    assert capsys.readouterr().out.startswith(f"status page: {out} (2 tenants, 2 daily reports, ")


def test_report_days_keeps_the_last_days_of_the_files(tmp_path: Path) -> None:
    """``--days 2`` with three daily files: the two newest days only."""
    files = []
    for days_ago in (2, 1, 0):
        path = tmp_path / f"{days_ago}.json"
        path.write_text(report(days_ago, row(f"t{days_ago}")).to_json())
        files.append(str(path))
    out = tmp_path / "status.html"
    assert main(["report", "--html", str(out), "--days", "2", "--from", *files]) == 0
    page = parse(out.read_text(encoding="utf-8"))
    assert sorted(page.names()) == ["t0", "t1"]
    assert len(page.days) == 2


@pytest.mark.parametrize(
    ("content", "says"),
    [(None, "cannot read"), ('{"not": "a report"}', "is not a backupwatch report")],
)
def test_report_with_a_bad_file_exits_two(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, says: str
) -> None:
    """A missing or foreign ``--from`` file: exit 2, one line naming it, no page written."""
    path = tmp_path / "in.json"
    if content is not None:
        path.write_text(content)
    out = tmp_path / "status.html"
    assert main(["report", "--html", str(out), "--from", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert str(path) in err
    assert says in err
    assert not out.exists()


def test_report_needs_html(capsys: pytest.CaptureFixture[str]) -> None:
    """``report`` without ``--html`` is a usage error (exit 2)."""
    with pytest.raises(SystemExit) as raised:
        main(["report"])
    assert raised.value.code == 2


def test_report_without_an_archive_bucket_exits_two(
    fake_env: None, patch_env: SetEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reading the archive needs BACKUPWATCH_REPORT_BUCKET: exit 2 naming it, before any call."""
    patch_env({"BACKUPWATCH_REGIONS": REGION})
    out = tmp_path / "status.html"
    assert main(["report", "--html", str(out)]) == 2
    err = capsys.readouterr().err
    assert "BACKUPWATCH_REPORT_BUCKET" in err
    assert "--from" in err
    assert not out.exists()


def test_report_reads_the_archive(
    world: World, patch_env: SetEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without ``--from``, the page comes from the archive (no backups bucket needed), and runs
    up to today: a day the archive misses is an empty column."""
    world.bucket("archive-bucket")
    retrier = Retrier(sleep=lambda _: None)
    for days_ago in (3, 1):  # nothing archived two days ago, nor today
        archived = report(days_ago, row("acme"), row("globex", Status.MISSING))
        index = read_index(world.s3, retrier, bucket="archive-bucket", prefix="bw/")
        write_run(
            world.s3,
            retrier,
            archived,
            bucket="archive-bucket",
            prefix="bw/",
            index=index,
            streaks={},
        )
    patch_env(
        {
            "BACKUPWATCH_REGIONS": REGION,
            "BACKUPWATCH_REPORT_BUCKET": "archive-bucket",
            "BACKUPWATCH_REPORT_PREFIX": "bw/",
        }
    )
    out = tmp_path / "status.html"
    assert main(["report", "--html", str(out), "--days", "7"]) == 0
    html = out.read_text(encoding="utf-8")
    page = parse(html)
    assert page.names() == ["globex", "acme"]
    assert page.row("acme").classes() == ["ok", "nd", "ok", "nd"]
    assert "No report for the last 1 day" in html
    assert "2 daily reports" in capsys.readouterr().out


def test_report_from_an_unreadable_archive_exits_one(
    world: World, patch_env: SetEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An archive bucket that cannot be read: exit 1, one line saying where, no page."""
    patch_env({"BACKUPWATCH_REGIONS": REGION, "BACKUPWATCH_REPORT_BUCKET": "no-such-archive"})
    out = tmp_path / "status.html"
    assert main(["report", "--html", str(out)]) == 1
    err = capsys.readouterr().err
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith("backupwatch: could not read the archive s3://no-such-archive/backupwatch/")
    )
    assert not out.exists()


# --- --version, --tenant, --region --------------------------------------------------------------


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    """``--version``: ``backupwatch <version>`` on stdout, exit 0."""
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"backupwatch {backupwatch.__version__}\n"


def test_a_narrowed_check_publishes_and_archives_nothing(
    world: World, patch_env: SetEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--tenant``: the named rows only, and no digest nor archive write even with a topic and
    an archive bucket set; the exit code is the narrowed report's."""
    world.bucket()
    world.bucket("archive-bucket")
    ok_tenant(world)
    world.instance("db-late", tenant="late", snapshot_at=hours_ago(40))
    topic = world.topic()
    patch_env(env(topic, BACKUPWATCH_REPORT_BUCKET="archive-bucket"))

    assert main(["check", "--tenant", "ok"]) == 0

    out, err = capsys.readouterr()
    assert [line.split()[0] for line in out.splitlines()[1:2]] == ["ok"]
    assert "late" not in out
    assert "digest not published, report not archived" in err
    assert world.published(topic) == []
    assert world.s3.list_objects_v2(Bucket="archive-bucket")["KeyCount"] == 0


def test_a_narrowed_check_needs_no_topic(
    world: World, patch_env: SetEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    world.bucket()
    world.instance("db-late", tenant="late", snapshot_at=hours_ago(40))
    patch_env(env())
    assert main(["check", "--region", REGION]) == 1
    assert "late" in capsys.readouterr().out


def test_an_unknown_tenant_exits_two_naming_it(
    world: World, patch_env: SetEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    """A name that matches no tenant is a usage error, never an empty OK."""
    world.bucket()
    ok_tenant(world)
    patch_env(env())
    assert main(["check", "--json", "--tenant", "ok", "--tenant", "nope"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "backupwatch: no tenant named 'nope' among the 1 tenant(s) discovered\n"


def test_a_region_the_run_does_not_check_exits_two(
    fake_env: None, patch_env: SetEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    patch_env(env())
    assert main(["check", "--region", "eu-west-3"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(
        f"backupwatch: region 'eu-west-3' is not checked by this run: its regions are {REGION} "
    )
    assert err.count("\n") == 1


def test_an_unknown_tenant_where_a_region_failed_exits_one_with_the_table(
    world: World, patch_env: SetEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not found, but eu-west-1 could not be listed: the tenant may be there, so not a usage
    error (2) but a failing run (1), its table showing the region not checked."""
    Faults(world.session).inject("rds", "DescribeDBInstances", DENIED, region=OTHER_REGION)
    patch_env(env(BACKUPWATCH_REGIONS=f"{REGION},{OTHER_REGION}", BACKUPWATCH_CHECKS="rds"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli, "new_session", lambda: world.session)
        assert main(["check", "--tenant", "acme"]) == 1
    out, err = capsys.readouterr()
    assert f"region {OTHER_REGION} not checked: discovery failed: AccessDenied" in out
    assert "is the tenant tag set" not in out
    assert "the tenant may be there" in err


def test_organization_that_cannot_be_listed_prints_no_region_none(
    world: World, patch_env: SetEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    """Organization mode whose listing fails: the table says the organization was not checked,
    never ``region None``, and does not ask whether the tenant tag is set."""
    world.bucket()
    Faults(world.session).inject("organizations", "ListAccounts", DENIED, via="call")
    patch_env(env(BACKUPWATCH_ORGANIZATION_ROLE_NAME="OrgReader"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli, "new_session", lambda: world.session)
        assert main(["check", "--dry-run"]) == 1
    out = capsys.readouterr().out
    assert "organization not checked: could not list the organization's accounts" in out
    assert "None" not in out
    assert "is the tenant tag set" not in out
