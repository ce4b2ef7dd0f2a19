"""The SNS digest (subject, body, size limit, attributes), should_publish and the table."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from backupwatch.core.digest import (
    MESSAGE_MAX_BYTES,
    SUBJECT_MAX_CHARS,
    Digest,
    render_digest,
    render_subject,
    should_publish,
    to_subject,
)
from backupwatch.core.models import Check, CheckResult, RegionError, Report, Status, TenantReport
from backupwatch.core.table import render_table

from .conftest import NOW, OTHER_REGION, REGION

FAILING = [status for status in Status if status.failing]
TENANT_LINE = re.compile(r"^  - .* \[[A-Z]+\] \(db-[^,]*, [a-z0-9-]+\): ")
MORE_LINE = re.compile(r"^\.\.\. and (\d+) more$")


def row(
    name: str,
    status: Status = Status.STALE,
    *,
    reason: str | None = None,
    db: str | None = None,
    region: str = REGION,
) -> TenantReport:
    """One tenant row; its instance is ``db-<name>`` unless given."""
    text = reason if reason is not None else f"{name} reason"
    check = CheckResult(check=Check.RDS, status=status, reason=text)
    return TenantReport(
        tenant=name,
        db_instance_identifier=db or f"db-{name}",
        region=region,
        status=status,
        reason=text,
        checks={Check.RDS: check},
    )


def make_report(
    *rows: TenantReport, region_errors: tuple[RegionError, ...] = (), generated_at: datetime = NOW
) -> Report:
    """A report over ``rows`` generated at NOW, checking RDS and S3 in two regions."""
    return Report(
        generated_at=generated_at,
        regions=(REGION, OTHER_REGION),
        checks=(Check.RDS, Check.S3),
        tenants=rows,
        region_errors=region_errors,
    )


def region_errors(*regions: str) -> tuple[RegionError, ...]:
    """Failed discovery in each of ``regions``."""
    return tuple(RegionError(region=r, reason=f"AccessDenied in {r}") for r in regions)


def mixed(failing: int, ok: int) -> Report:
    """``failing`` tenants spread over the failing statuses, then ``ok`` OK tenants."""
    rows = [row(f"f{i:05d}", FAILING[i % len(FAILING)]) for i in range(failing)]
    rows += [row(f"ok{i:05d}", Status.OK) for i in range(ok)]
    return make_report(*rows)


def tenant_lines(body: str) -> list[str]:
    """The body's tenant lines (not region error lines)."""
    return [line for line in body.split("\n") if TENANT_LINE.match(line)]


def assert_valid_subject(subject: str) -> None:
    """What SNS accepts as a subject."""
    assert subject
    assert subject.isascii()
    assert subject.isprintable()
    assert "\n" not in subject
    assert len(subject) < 100  # AWS: "less than 100 characters"


# --- Subject ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("report", "text"),
    [
        (mixed(3, 7), "backupwatch 2026-11-27: 3 of 10 tenants failing"),
        (mixed(0, 5), "backupwatch 2026-11-27: all 5 tenants OK"),
        (mixed(0, 0), "backupwatch 2026-11-27: no tenants found, check the tenant tag"),
        (mixed(6, 0), "backupwatch 2026-11-27: 6 of 6 tenants failing"),
        (
            make_report(row("a", Status.OK), region_errors=region_errors(OTHER_REGION)),
            "backupwatch 2026-11-27: 0 of 1 tenants failing, 1 OK, 1 region(s) not checked",
        ),
        (
            make_report(region_errors=region_errors(REGION, OTHER_REGION)),
            "backupwatch 2026-11-27: no tenants found, 2 region(s) not checked",
        ),
        (
            make_report(row("a"), row("b", Status.OK), region_errors=region_errors(REGION)),
            "backupwatch 2026-11-27: 1 of 2 tenants failing, 1 region(s) not checked",
        ),
    ],
    ids=["some-failing", "all-ok", "none", "all-failing", "ok+region", "region-only", "both"],
)
def test_subject_states_counts(report: Report, text: str) -> None:
    """The subject states failing and total counts, and region errors when there are any."""
    subject = render_subject(report)
    assert subject == text
    assert_valid_subject(subject)
    assert render_digest(report).subject == subject


def test_subject_fits_with_huge_counts() -> None:
    """Even very large counts keep the subject valid."""
    report = make_report(
        *(row(f"t{i}") for i in range(1200)),
        region_errors=region_errors(*(f"r-{i}" for i in range(30))),
    )
    subject = render_subject(report)
    assert_valid_subject(subject)
    assert "1200 of 1200 tenants failing" in subject


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain subject", "plain subject"),
        ("two\nlines", "two lines"),
        ("tabs\tand\r\nreturns", "tabs and returns"),
        ("nul\x00bell\x07del\x7f", "nul bell del"),
        ("  padded   spaces  ", "padded spaces"),
        ("Müller über Straße", "Muller uber Strae"),
        ("日本 backup", "backup"),
        ("ﬁle", "file"),
        ("", "backupwatch digest"),
        ("\n\t日本", "backupwatch digest"),
    ],
)
def test_to_subject_cleans(text: str, expected: str) -> None:
    """to_subject makes one printable ASCII line: controls and newlines gone, accents folded."""
    assert to_subject(text) == expected
    assert_valid_subject(to_subject(text))


@pytest.mark.parametrize("length", [100, 101, 150, 5000])
def test_to_subject_cuts_long_text(length: int) -> None:
    """Text of 100 characters or more is cut and marked with "..." (SNS wants fewer than 100)."""
    subject = to_subject("x" * length)
    assert subject == "x" * (SUBJECT_MAX_CHARS - 3) + "..."
    assert len(subject) == SUBJECT_MAX_CHARS


def test_to_subject_keeps_exactly_99() -> None:
    """Text of exactly 99 characters is kept whole."""
    assert to_subject("y" * SUBJECT_MAX_CHARS) == "y" * SUBJECT_MAX_CHARS


@pytest.mark.parametrize(
    "text", ["ü" * 300, "a\n" * 200, "日本" * 80 + "z" * 120, "word " * 40 + "\x00" * 10]
)
def test_to_subject_always_valid(text: str) -> None:
    """Whatever goes in, a valid SNS subject comes out."""
    assert_valid_subject(to_subject(text))


# --- Body -------------------------------------------------------------------------------------


def test_body_groups_failing_tenants_by_status_most_severe_first() -> None:
    """Failing tenants are grouped under their status, most severe section first."""
    rows = [
        row("e1", Status.EMPTY),
        row("s1", Status.STALE),
        row("ok1", Status.OK),
        row("x1", Status.ERROR),
        row("m1", Status.MISSING),
        row("s2", Status.STALE),
        row("d1", Status.DISABLED),
        row("x2", Status.ERROR),
    ]
    body = render_digest(make_report(*rows)).body
    lines = body.split("\n")
    headers = {
        "ERROR (2)": ["x1", "x2"],
        "MISSING (1)": ["m1"],
        "DISABLED (1)": ["d1"],
        "STALE (2)": ["s1", "s2"],
        "EMPTY (1)": ["e1"],
    }
    positions = [lines.index(header) for header in headers]
    assert positions == sorted(positions)
    for (header, names), start in zip(headers.items(), positions, strict=True):
        section = lines[start + 1 : start + 1 + len(names)]
        assert section == [
            f"  - {n} [{header.split()[0]}] (db-{n}, {REGION}): {n} reason" for n in names
        ], header
    assert "OK (" not in body
    assert "ok1" not in body


def test_body_tenant_line_has_name_instance_region_and_reason() -> None:
    """Each failing tenant is one line: name, status, instance, region, reason."""
    body = render_digest(make_report(row("acme", Status.MISSING, reason="no snapshot"))).body
    assert f"  - acme [MISSING] (db-acme, {REGION}): no snapshot" in body.split("\n")


def test_body_head_and_tail() -> None:
    """The body opens with the date and true counts and ends with the OK count."""
    report = mixed(6, 4)
    lines = render_digest(report).body.split("\n")
    assert lines[0] == "backupwatch digest for 2026-11-27 07:00 UTC"
    assert lines[2] == (
        "6 of 10 tenants failing "
        "(1 ERROR, 1 MISSING, 1 DISABLED, 1 SUSPECT, 1 STALE, 1 EMPTY); 4 OK."
    )
    assert lines[3] == f"Regions: {REGION}, {OTHER_REGION}. Checks: rds, s3."
    assert lines[-2:] == ["", "OK: 4 tenant(s) with fresh backups."]


def test_body_all_ok_lists_no_tenants() -> None:
    """An all-OK report has no tenant lines, only the OK count."""
    body = render_digest(mixed(0, 3)).body
    assert tenant_lines(body) == []
    assert body.split("\n")[2] == "0 of 3 tenants failing; 3 OK."
    assert body.endswith("OK: 3 tenant(s) with fresh backups.")


def test_body_no_tenants_says_so() -> None:
    """With no tenants the body is not empty and hints at the tenant tag."""
    body = render_digest(mixed(0, 0)).body
    assert body.endswith("No tenants were found: is the tenant tag set on the DB instances?")


def test_body_region_errors_at_top() -> None:
    """Region errors get their own section, above every tenant section, and in the counts."""
    report = make_report(
        row("x", Status.ERROR),
        row("ok", Status.OK),
        region_errors=region_errors(OTHER_REGION, "ap-south-1"),
    )
    lines = render_digest(report).body.split("\n")
    top = lines.index("REGIONS NOT CHECKED (2)")
    assert lines[top + 1 : top + 3] == [
        f"  - {OTHER_REGION}: AccessDenied in {OTHER_REGION}",
        "  - ap-south-1: AccessDenied in ap-south-1",
    ]
    assert top < lines.index("ERROR (1)")
    assert lines[2].endswith(" 2 region(s) could not be checked.")


@pytest.mark.parametrize(
    "name",
    [
        "evil\nname",
        "carriage\rreturn",
        "nul\x00tab\tbell\x07",
        "line\u2028separator\u2029para",
        "next\x85line",
        "crlf\r\n- fake (db-x, us-east-1): forged",
    ],
)
def test_control_characters_do_not_break_lines(name: str) -> None:
    """Control characters and newlines in names and reasons never split a tenant line."""
    report = make_report(
        row(name, Status.STALE, reason=f"bad\nreason\r{name}", db="db-1"),
        row("plain", Status.MISSING, db="db-2"),
        region_errors=(RegionError(region="eu\nwest", reason="denied\nhere"),),
    )
    body = render_digest(report).body
    lines = body.split("\n")
    assert len(tenant_lines(body)) == 2
    assert all(line.isprintable() for line in lines)
    assert "  - eu west: denied here" in lines
    assert body.splitlines() == lines
    shown = "".join(c if c.isprintable() else " " for c in name)
    stale = lines.index("STALE (1)")
    assert lines[stale + 1] == f"  - {shown} [STALE] (db-1, {REGION}): bad reason {shown}"
    assert lines[stale + 2] == ""


def test_region_error_text_is_cleaned() -> None:
    """A region error reason with newlines stays on its line."""
    report = make_report(region_errors=(RegionError(region=REGION, reason="a\nb\rc"),))
    assert f"  - {REGION}: a b c" in render_digest(report).body.split("\n")


# --- Attributes and counts --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failing", "ok", "regions", "expected"),
    [(0, 0, 0, 1), (0, 5, 0, 0), (3, 7, 0, 3), (0, 2, 1, 1), (4, 1, 2, 6), (0, 0, 2, 3)],
)
def test_failing_counts_tenants_and_regions(
    failing: int, ok: int, regions: int, expected: int
) -> None:
    """Digest.failing: failing tenants + regions not checked (1 when no tenant was found)."""
    base = mixed(failing, ok)
    report = make_report(
        *base.tenants, region_errors=region_errors(*(f"r-{i}" for i in range(regions)))
    )
    digest = render_digest(report)
    assert digest.failing == expected
    assert digest.message_attributes == {
        "failing": {"DataType": "Number", "StringValue": str(expected)}
    }


def test_size_bytes_counts_body_and_attributes() -> None:
    """size_bytes is the UTF-8 body plus attribute name, type and value."""
    digest = Digest(subject="s", body="ü", failing=12)
    assert digest.size_bytes == 2 + len("failing") + len("Number") + len("12")


# --- Size limit -------------------------------------------------------------------------------


def _huge_report(count: int = 3000, *, with_region_errors: bool = False) -> Report:
    rows = []
    for i in range(count):
        name = f"{i:05d}-" + ("ü日本" * 70)[:194]
        reason = (
            f"rds: newest automated snapshot {i} h old; s3: " + "Größe überschritten 日本語 " * 12
        )
        rows.append(row(name, FAILING[i % len(FAILING)], reason=reason, db=f"db-{i}"))
    rows.append(row("fine", Status.OK))
    errors = region_errors(OTHER_REGION) if with_region_errors else ()
    return make_report(*rows, region_errors=errors)


def _assert_cut_is_true(report: Report, body: str) -> int:
    """The cut marker sits before the tail and N counts exactly the tenant lines left out."""
    lines = body.split("\n")
    failing = report.summary.failing
    present = tenant_lines(body)
    assert lines[-2:] == [
        "",
        f"OK: {report.summary.by_status[Status.OK]} tenant(s) with fresh backups.",
    ]
    marker = MORE_LINE.match(lines[-3])
    assert marker, lines[-3]
    assert int(marker.group(1)) == failing - len(present)
    assert sum(1 for line in lines if MORE_LINE.match(line)) == 1
    assert lines[2].startswith(f"{failing} of {report.summary.tenants} tenants failing")
    return len(present)


@pytest.mark.parametrize("with_region_errors", [False, True])
def test_huge_report_fits_sns_limit(with_region_errors: bool) -> None:
    """3,000 failing tenants with long unicode names fit in 256 KiB, cut with a true N."""
    report = _huge_report(with_region_errors=with_region_errors)
    assert all(len(r.tenant) == 200 for r in report.tenants[:-1])
    digest = render_digest(report)

    assert digest.size_bytes <= MESSAGE_MAX_BYTES
    assert len(digest.body.encode()) < MESSAGE_MAX_BYTES
    present = _assert_cut_is_true(report, digest.body)
    assert 0 < present < 3000
    longest = max(len(line.encode()) for line in tenant_lines(digest.body))
    assert digest.size_bytes > MESSAGE_MAX_BYTES - 2 * longest - 100, "cut far too early"
    lines = digest.body.split("\n")
    assert lines[2].startswith("3000 of 3001 tenants failing (")
    if with_region_errors:
        assert "REGIONS NOT CHECKED (1)" in lines
        assert lines[2].endswith(" 1 region(s) could not be checked.")
    assert_valid_subject(digest.subject)
    assert digest.failing == 3000 + with_region_errors


@pytest.mark.parametrize("max_bytes", [600, 800, 1000, 1500, 2000, 2500, 3000])
@pytest.mark.parametrize("count", [80, 400])
def test_small_budget_truncates_correctly(max_bytes: int, count: int) -> None:
    """A small max_bytes is respected and the cut states exactly how many lines are left out."""
    report = mixed(count, 3)
    assert render_digest(report, max_bytes=10**9).size_bytes > max_bytes
    digest = render_digest(report, max_bytes=max_bytes)
    assert digest.size_bytes <= max_bytes
    _assert_cut_is_true(report, digest.body)


def test_huge_report_with_small_budget() -> None:
    """The 3,000-tenant unicode report also cuts correctly at 2,000 bytes."""
    report = _huge_report()
    digest = render_digest(report, max_bytes=2000)
    assert digest.size_bytes <= 2000
    _assert_cut_is_true(report, digest.body)


@pytest.mark.parametrize(("failing", "ok"), [(0, 0), (1, 0), (5, 5), (300, 10)])
def test_report_that_fits_is_not_truncated(failing: int, ok: int) -> None:
    """A report well under the limit lists every failing tenant and has no "... and" line."""
    report = mixed(failing, ok)
    digest = render_digest(report)
    assert "... and" not in digest.body
    assert len(tenant_lines(digest.body)) == failing


def test_every_line_kept_when_budget_is_roomy() -> None:
    """With a little slack over the exact size nothing is cut."""
    report = mixed(5, 1)
    full = render_digest(report, max_bytes=10**9)
    assert render_digest(report, max_bytes=full.size_bytes + 64).body == full.body


def test_report_fitting_exactly_is_not_truncated() -> None:
    """A digest whose full size equals max_bytes is sent whole, not cut."""
    report = mixed(5, 1)
    full = render_digest(report, max_bytes=10**9)
    assert render_digest(report, max_bytes=full.size_bytes).body == full.body


def test_non_utc_generated_at_is_shown_in_utc() -> None:
    """A report stamped in another zone is still dated and timed in UTC."""
    pacific = NOW.astimezone(timezone(timedelta(hours=-8)))  # 2026-11-26 23:00 -08:00
    digest = render_digest(make_report(row("a"), generated_at=pacific))
    assert digest.body.split("\n")[0] == "backupwatch digest for 2026-11-27 07:00 UTC"
    assert digest.subject.startswith("backupwatch 2026-11-27:")


# --- should_publish ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("report", "notify", "expected"),
    [
        (mixed(0, 3), "always", True),
        (mixed(0, 0), "always", True),
        (mixed(2, 3), "always", True),
        (mixed(0, 3), "failures", False),
        (mixed(0, 0), "failures", True),  # no tenant found: never a silent all-clear
        (mixed(2, 3), "failures", True),
        (make_report(row("a", Status.OK), region_errors=region_errors(REGION)), "failures", True),
        (make_report(region_errors=region_errors(REGION)), "failures", True),
    ],
    ids=[
        "always-ok",
        "always-empty",
        "always-failing",
        "failures-ok",
        "failures-empty",
        "failures-failing",
        "failures-ok-but-region-error",
        "failures-region-error-only",
    ],
)
def test_should_publish(report: Report, notify: str, expected: bool) -> None:
    """``always`` always publishes; ``failures`` only when the report fails (regions count)."""
    assert should_publish(report, notify) is expected


# --- Table ------------------------------------------------------------------------------------


def test_table_failing_first_one_line_each() -> None:
    """The table lists failing tenants first, most severe first, one line each, then counts."""
    report = make_report(
        row("a-ok", Status.OK),
        row("b-stale", Status.STALE),
        row("c-error", Status.ERROR),
        row("d-empty", Status.EMPTY),
    )
    lines = render_table(report).split("\n")
    assert lines[0].split() == ["TENANT", "STATUS", "INSTANCE", "REGION", "REASON"]
    names = [line.split()[0] for line in lines[1:5]]
    assert names == ["c-error", "b-stale", "d-empty", "a-ok"]
    assert [line.split()[1] for line in lines[1:5]] == ["ERROR", "STALE", "EMPTY", "OK"]
    assert lines[1].endswith("c-error reason")
    assert lines[-2:] == ["", "3 of 4 tenants failing (1 ERROR, 1 STALE, 1 EMPTY, 1 OK)"]


def test_table_shows_region_errors() -> None:
    """Region errors appear as their own lines."""
    report = make_report(row("a", Status.OK), region_errors=region_errors(OTHER_REGION))
    table = render_table(report)
    assert f"region {OTHER_REGION} not checked: AccessDenied in {OTHER_REGION}" in table.split("\n")


def test_table_empty_report() -> None:
    """An empty report renders a header and the counts line."""
    lines = render_table(make_report()).split("\n")
    assert lines[0].startswith("TENANT")
    assert lines[-1] == "0 of 0 tenants failing (none)"


def test_table_keeps_each_tenant_on_one_line() -> None:
    """Newlines in names and reasons, and very long names, keep one line per tenant."""
    report = make_report(
        row("evil\nname", Status.ERROR, reason="multi\nline\rreason"),
        row("x" * 80, Status.OK),
    )
    lines = render_table(report).split("\n")
    assert len(lines) == 1 + 2 + 2
    assert lines[1].startswith("evil name")
    assert lines[1].endswith("multi line reason")
    assert lines[2].startswith("x" * 37 + "...")


def test_every_budget_is_respected_and_counts_stay_true() -> None:
    """For every budget from tight to ample the message fits, and the marker counts what is cut."""
    report = mixed(40, 3)
    full = render_digest(report, max_bytes=10**9)
    for budget in range(full.size_bytes - 1200, full.size_bytes + 2):
        digest = render_digest(report, max_bytes=budget)
        assert digest.size_bytes <= budget
        shown = sum(1 for line in digest.body.splitlines() if line.startswith("  - "))
        if shown < 40:
            assert f"... and {40 - shown} more" in digest.body
        else:
            assert "... and" not in digest.body


def test_table_says_why_an_empty_run_fails() -> None:
    """A run with no tenants says so in the table, not only '0 of 0'."""
    assert "No tenants were found" in render_table(make_report())


# --- Lifecycle statuses, notes, runbooks, clusters (issue #5) ----------------------------------

LIFECYCLE = [Status.STOPPED, Status.PENDING, Status.PAUSED, Status.SKIPPED]


def test_listed_statuses_follow_the_failing_ones_and_say_not_failing() -> None:
    """Stopped, new, paused and skipped tenants are listed after every failing section."""
    rows = [row(f"l{i}", status) for i, status in enumerate(LIFECYCLE)]
    rows += [row("x", Status.ERROR), row("e", Status.EMPTY), row("ok", Status.OK)]
    report = make_report(*rows)
    lines = render_digest(report).body.split("\n")
    headers = [
        "ERROR (1)",
        "EMPTY (1)",
        "STOPPED (1, not failing)",
        "PENDING (1, not failing)",
        "PAUSED (1, not failing)",
        "SKIPPED (1, not failing)",
    ]
    positions = [lines.index(header) for header in headers]
    assert positions == sorted(positions)
    assert lines[2] == (
        "2 of 7 tenants failing (1 ERROR, 1 EMPTY); 1 OK; "
        "4 listed, not failing (1 STOPPED, 1 PENDING, 1 PAUSED, 1 SKIPPED)."
    )
    assert len(tenant_lines("\n".join(lines))) == 6
    assert render_digest(report).failing == 2


def test_nothing_failing_but_not_all_ok_has_an_honest_subject() -> None:
    """'all N tenants OK' only when they are; otherwise the subject says how many are OK."""
    report = make_report(row("a", Status.OK), row("b", Status.PENDING), row("c", Status.PAUSED))
    digest = render_digest(report)
    assert digest.subject == "backupwatch 2026-11-27: 0 of 3 tenants failing, 1 OK"
    assert digest.failing == 0
    assert not report.failing
    assert not should_publish(report, "failures")
    assert digest.body.split("\n")[2] == (
        "0 of 3 tenants failing; 1 OK; 2 listed, not failing (1 PENDING, 1 PAUSED)."
    )


def test_stopped_made_failing_is_a_failing_section() -> None:
    """A STOPPED row marked failing counts as failing and sits among the failing sections."""
    stopped = row("s", Status.STOPPED).model_copy(update={"failing": True})
    report = make_report(stopped, row("p", Status.PENDING), row("ok", Status.OK))
    digest = render_digest(report)
    lines = digest.body.split("\n")
    assert "STOPPED (1)" in lines
    assert lines.index("STOPPED (1)") < lines.index("PENDING (1, not failing)")
    assert (
        lines[2] == "1 of 3 tenants failing (1 STOPPED); 1 OK; 1 listed, not failing (1 PENDING)."
    )
    assert digest.subject == "backupwatch 2026-11-27: 1 of 3 tenants failing"
    assert digest.failing == 1


def test_runbook_follows_a_failing_line_only() -> None:
    """The runbook URL is on the line after a failing tenant; not for listed or OK tenants."""
    url = "https://wiki.example.com/r"
    failing = row("f", Status.STALE).model_copy(update={"runbook": url})
    pending = row("p", Status.PENDING).model_copy(update={"runbook": url + "/p"})
    body = render_digest(make_report(failing, pending)).body
    lines = body.split("\n")
    start = lines.index(f"  - f [STALE] (db-f, {REGION}): f reason")
    assert lines[start + 1] == f"    runbook: {url}"
    assert url + "/p" not in body


def test_runbook_lines_do_not_upset_the_cut() -> None:
    """With runbooks on every row the body still fits, and N still counts tenants left out."""
    rows = [
        row(f"f{i:04d}", FAILING[i % len(FAILING)]).model_copy(
            update={"runbook": f"https://wiki.example.com/{i}"}
        )
        for i in range(200)
    ]
    report = make_report(*rows, row("ok", Status.OK))
    digest = render_digest(report, max_bytes=3000)
    assert digest.size_bytes <= 3000
    _assert_cut_is_true(report, digest.body)


def test_ok_tenants_with_notes_are_named_under_notes() -> None:
    """An OK tenant's note (a pause that ended) is shown; the tenant is not failing."""
    noted = row("n", Status.OK).model_copy(update={"notes": ("the pause ended; remove the tag",)})
    report = make_report(noted, row("ok", Status.OK))
    lines = render_digest(report).body.split("\n")
    start = lines.index("NOTES (1)")
    assert lines[start + 1] == f"  - n [OK] (db-n, {REGION}): the pause ended; remove the tag"
    assert lines[-1] == "OK: 2 tenant(s) with fresh backups."
    assert render_digest(report).failing == 0


def test_cluster_row_names_its_kind() -> None:
    """A cluster's line reads (cluster <id>, <region>); an instance's stays (<id>, <region>)."""
    cluster_row = row("c", Status.MISSING, db="aurora-c").model_copy(update={"kind": "cluster"})
    body = render_digest(make_report(cluster_row, row("i", Status.MISSING))).body
    assert f"  - c [MISSING] (cluster aurora-c, {REGION}): c reason" in body.split("\n")
    assert f"  - i [MISSING] (db-i, {REGION}): i reason" in body.split("\n")
    table = render_table(make_report(cluster_row))
    assert "cluster aurora-c" in table


def test_table_sorts_failing_stopped_with_failing_rows() -> None:
    """In the table a failing STOPPED tenant comes before a not failing one, and OK last."""
    stopped = row("s", Status.STOPPED).model_copy(update={"failing": True})
    report = make_report(
        row("a", Status.OK), row("p", Status.PENDING), stopped, row("e", Status.EMPTY)
    )
    names = [line.split()[0] for line in render_table(report).split("\n")[1:5]]
    assert names == ["e", "s", "p", "a"]
