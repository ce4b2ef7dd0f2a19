"""The chat renderings of the digest: Amazon Q Developer, Slack, Teams (pure, no network).

Each is checked against its channel's documented shape and limits (the numbers below are the
channels', not ours), at the extremes: 10,000 failing tenants with long unicode names, markup
characters and newlines. A cut always says how many lines it left out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backupwatch.core.changes import Changes, compare
from backupwatch.core.chat import render_chat_notification
from backupwatch.core.digest import no_tenants_hint, render_subject
from backupwatch.core.models import (
    ArchivedReport,
    RegionError,
    Report,
    Status,
    TenantReport,
    most_severe_first,
)
from backupwatch.core.slack import render_slack_message
from backupwatch.core.teams import render_teams_message

from .conftest import NOW
from .test_digest import make_report, region_errors, row

Renderer = Callable[..., dict[str, Any]]
RENDERERS: dict[str, Renderer] = {
    "chat": render_chat_notification,
    "slack": render_slack_message,
    "teams": render_teams_message,
}
FAILING = [status for status in Status if status.failing]
MORE = re.compile(r"… and (\d+) more")
ROW = re.compile(r"^(?:• )?(t\d{5}|xx-scope-)")
"""A tenant or scope line of the generated reports below (a tenant ``t00042…``)."""
NASTY = "*bold* _it_ ~s~ `code` <!channel> & <https://evil.example|click> 日本 🦄"
URL = "https://reports.example.com/r.json?X-Amz-Signature=abc&X-Amz-Security-Token=x"
PAGE_URL = "https://reports.example.com/status.html?X-Amz-Signature=def&X-Amz-Expires=3600"


def archived(key: str, *, url: str | None = None, error: str | None = None) -> ArchivedReport:
    return ArchivedReport(bucket="acme-reports", key=key, url=url, error=error)


REPORT_LINK = archived("backupwatch/reports/2026/11/27/070000Z.json", url=URL)
PAGE_LINK = archived("backupwatch/status.html", url=PAGE_URL)


def worst_report(failing: int = 10_000, scopes: int = 40) -> Report:
    """``failing`` tenants over every failing status, each with a long unicode name full of
    markup, and a reason with newlines and control characters; ``scopes`` scopes not checked."""
    rows = [
        row(
            f"t{i:05d}-{NASTY}-{'ü' * 60}",
            FAILING[i % len(FAILING)],
            reason=f"line one\nline two\r\n\t{NASTY} " + "x" * (i % 500),
            db=f"db-{i}",
        )
        for i in range(failing)
    ]
    rows.append(row("fine", Status.OK))
    errors = tuple(
        RegionError(region=f"xx-scope-{i}", reason=f"AccessDenied\n{NASTY}") for i in range(scopes)
    )
    return make_report(*rows, region_errors=errors)


@pytest.fixture(scope="module")
def worst() -> tuple[Report, Changes]:
    """The worst report, compared with a previous one where every tenant was OK: every
    failing tenant is news too."""
    current = worst_report()
    previous = Report(
        generated_at=NOW - timedelta(days=1),
        regions=current.regions,
        checks=current.checks,
        tenants=tuple(
            r.model_copy(update={"status": Status.OK, "failing": False}) for r in current.tenants
        ),
    )
    return current, compare(previous, current)


# --- What each channel accepts -----------------------------------------------------------------


def utf8(text: str) -> int:
    return len(text.encode())


def assert_chat_valid(payload: dict[str, Any]) -> None:
    """The custom-notification schema (AWS's page): version 1.0, source custom, client-markdown;
    content fields kept within what Slack and Teams render them into."""
    assert payload["version"] == "1.0"
    assert payload["source"] == "custom"
    content, metadata = payload["content"], payload["metadata"]
    assert content["textType"] == "client-markdown"
    assert isinstance(content["title"], str)
    assert 0 < utf8(content["title"]) <= 150  # a Slack header
    assert 0 < utf8(content["description"]) <= 3_000  # a Slack text object
    for step in content.get("nextSteps", []):
        assert 0 < utf8(step) <= 3_000
    assert all(isinstance(word, str) and word for word in content["keywords"])
    assert re.fullmatch(r"backupwatch-\d{4}-\d{2}-\d{2}", metadata["threadId"])
    assert re.fullmatch(r"[a-zA-Z0-9-]{1,100}", metadata["eventType"])  # NotificationType
    assert metadata["summary"]
    assert all(uri.startswith("s3://") for uri in metadata["relatedResources"])
    for key, value in metadata["additionalContext"].items():  # custom action variables
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,100}", key)
        assert re.fullmatch(r"[\x21-\x7f]{1,1024}", value)
    assert len(json.dumps(payload)) <= 20_000  # under Teams' 28 KB; SNS takes 262,144


def slack_texts(payload: dict[str, Any]) -> list[str]:
    blocks = payload["blocks"]
    texts = [block["text"]["text"] for block in blocks if "text" in block]
    return texts + [element["text"] for block in blocks for element in block.get("elements", ())]


def assert_slack_valid(payload: dict[str, Any]) -> None:
    """Block Kit's limits (docs.slack.dev), and the undocumented total behind
    msg_blocks_too_long (about 13,000 characters)."""
    blocks = payload["blocks"]
    assert isinstance(payload["text"], str)
    assert payload["text"]
    assert len(payload["text"]) <= 40_000
    assert 0 < len(blocks) <= 50
    header = blocks[0]
    assert header["type"] == "header"
    assert header["text"]["type"] == "plain_text"
    assert 0 < len(header["text"]["text"]) <= 150
    for block in blocks[1:]:
        assert block["type"] in ("section", "context")
        if block["type"] == "section":
            assert block["text"]["type"] == "mrkdwn"
            assert 0 < utf8(block["text"]["text"]) <= 3_000
        else:
            assert 0 < len(block["elements"]) <= 10
            assert all(0 < utf8(e["text"]) <= 3_000 for e in block["elements"])
    assert sum(utf8(text) for text in slack_texts(payload)) <= 13_000


def teams_elements(payload: dict[str, Any]) -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = payload["attachments"][0]["content"]["body"]
    return body


def teams_runs(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [run for e in teams_elements(payload) for run in e.get("inlines", ())]


def assert_teams_valid(payload: dict[str, Any]) -> None:
    """The Workflows webhook envelope, an Adaptive Card 1.4 (what Workflows renders), under
    Teams' 28 KB."""
    assert payload["type"] == "message"
    [attachment] = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.4"
    assert card["body"][0]["type"] == "TextBlock"
    assert any(e["type"] == "FactSet" for e in card["body"])
    for element in card["body"]:
        assert element["type"] in ("TextBlock", "FactSet", "RichTextBlock")
        for run in element.get("inlines", ()):
            assert run["type"] == "TextRun"
            assert run.get("color", "default") in (
                "default",
                "good",
                "warning",
                "attention",
                "accent",
            )
    for action in card.get("actions", ()):
        assert action["type"] == "Action.OpenUrl"
        assert action["url"].startswith("https://")
    assert len(json.dumps(payload)) <= 28_000
    assert len(json.dumps(payload, ensure_ascii=False).encode()) <= 28_000
    assert len(json.dumps(payload)) <= 20_000  # our margin: posts have failed from ~21 KB


VALIDATORS = {"chat": assert_chat_valid, "slack": assert_slack_valid, "teams": assert_teams_valid}


def shown_lines(name: str, payload: dict[str, Any]) -> list[str]:
    """Every line a rendering shows, in order: the text a reader sees."""
    if name == "chat":
        content = payload["content"]
        return [
            content["title"],
            *content["description"].split("\n"),
            *content.get("nextSteps", []),
        ]
    if name == "slack":
        return [line for text in slack_texts(payload) for line in text.split("\n")]
    texts = [e.get("text", "") for e in teams_elements(payload)]
    return texts + [run["text"] for run in teams_runs(payload)]


def accounted(name: str, payload: dict[str, Any]) -> int:
    """The rows shown plus the rows every "… and N more" says were left out."""
    lines = shown_lines(name, payload)
    shown = sum(1 for line in lines if ROW.match(line))
    return shown + sum(int(n) for line in lines for n in MORE.findall(line))


def teams_titles(payload: dict[str, Any]) -> dict[str, str]:
    """The Teams list titles (bold runs) and their colours."""
    return {run["text"]: run["color"] for run in teams_runs(payload) if "weight" in run}


def render_all(report: Report, **kwargs: Any) -> dict[str, dict[str, Any]]:
    return {name: render(report, **kwargs) for name, render in RENDERERS.items()}


# --- At the extremes ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", RENDERERS)
def test_worst_case_stays_within_limits_and_says_what_it_cut(
    name: str, worst: tuple[Report, Changes]
) -> None:
    """10,000 failing tenants, long unicode names with markup, newlines in reasons, 40 scopes
    not checked, all news: within every limit, valid JSON, and every line is shown or counted
    in an "… and N more"."""
    report, changes = worst
    payload = RENDERERS[name](
        report, changes=changes, full_report=REPORT_LINK, status_page=PAGE_LINK
    )
    VALIDATORS[name](payload)
    assert json.loads(json.dumps(payload, ensure_ascii=False)) == payload
    news = len(changes.new_failures)  # every failing tenant was OK the day before
    expected = len(report.region_errors) + report.summary.failing + news
    assert accounted(name, payload) == expected
    assert MORE.search(json.dumps(payload, ensure_ascii=False))


@pytest.mark.parametrize("name", RENDERERS)
def test_a_cut_links_the_status_page_and_the_report(
    name: str, worst: tuple[Report, Changes]
) -> None:
    """The "… and N more" line says where the rest is."""
    report, _ = worst
    payload = RENDERERS[name](report, full_report=REPORT_LINK, status_page=PAGE_LINK)
    text = json.dumps(payload, ensure_ascii=False)
    assert "more: see the full report and the status page" in text
    assert "reports.example.com/status.html" in text


def test_chat_stays_small_whatever_the_script() -> None:
    """Names, keys and errors in a script that JSON escapes (``\\u00fc``: 6 bytes for 2 of
    UTF-8) still keep the whole notification within its budget, far below SNS's limit."""
    rows = [row(f"t{i:05d}-{'ü' * 300}", Status.STALE, reason="é" * 900) for i in range(50)]
    unicode_key = archived("r/" + "ü" * 500 + ".json")
    failed = archived("s/" + "ü" * 500 + ".html", error="é" * 5_000)
    payload = render_chat_notification(
        make_report(*rows), full_report=unicode_key, status_page=failed
    )
    assert_chat_valid(payload)
    assert accounted("chat", payload) == 50


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    names=st.lists(st.text(min_size=1, max_size=300), min_size=0, max_size=60),
    reason=st.text(max_size=2_000),
    statuses=st.lists(st.sampled_from(list(Status)), min_size=1, max_size=60),
)
def test_any_names_and_reasons_render_within_limits(
    names: list[str], reason: str, statuses: list[Status]
) -> None:
    """Whatever the account holds (any unicode, controls, markup), every rendering is valid
    and within its limits."""
    rows = [
        row(f"t{i:05d}{name}", statuses[i % len(statuses)], reason=reason, db=f"db-{i}")
        for i, name in enumerate(names)
    ]
    report = make_report(*rows)
    for name, payload in render_all(report, full_report=REPORT_LINK).items():
        VALIDATORS[name](payload)
        assert json.loads(json.dumps(payload)) == payload
        assert accounted(name, payload) == report.summary.failing


# --- Shape and content --------------------------------------------------------------------------


def small_report() -> tuple[Report, Changes]:
    """Yesterday acme was OK, initech STALE, stark ERROR; today acme is MISSING, initech
    recovered, stark still ERROR."""
    previous = make_report(
        row("acme", Status.OK),
        row("initech", Status.STALE),
        row("stark", Status.ERROR, reason="AccessDenied"),
        generated_at=NOW - timedelta(days=1),
    )
    current = make_report(
        row("acme", Status.MISSING, reason="s3: no object"),
        row("initech", Status.OK),
        row("stark", Status.ERROR, reason="AccessDenied"),
    )
    return current, compare(previous, current)


def test_chat_notification_carries_headline_news_failures_and_links() -> None:
    """Title is the digest's subject; the description has the counts, the news and the failing
    tenants; nextSteps link the report and the status page; thread per UTC day."""
    report, changes = small_report()
    payload = render_chat_notification(
        report, changes=changes, full_report=REPORT_LINK, status_page=PAGE_LINK
    )
    assert_chat_valid(payload)
    content = payload["content"]
    assert content["title"] == render_subject(report, changes=changes)
    assert content["title"] == "backupwatch 2026-11-27: 1 new failure; 2 of 3 tenants failing"
    description = content["description"]
    assert description.startswith("2 of 3 tenants failing (1 ERROR, 1 MISSING); 1 OK.")
    assert "WHAT CHANGED since 2026-11-26 07:00 UTC: 1 new failure, 1 recovered" in description
    assert "*NEW FAILURES (1)*\n• acme [MISSING] (db-acme, us-east-1): was OK; s3: no object" in (
        description
    )
    assert "*RECOVERED (1)*" in description
    assert description.index("*ERROR (1)*") < description.index("*MISSING (1)*")
    assert content["nextSteps"] == [
        f"Full report: {URL.replace('&', '&amp;')}",
        f"Status page: {PAGE_URL.replace('&', '&amp;')}",
    ]
    assert content["keywords"] == ["backupwatch", "failing", "ERROR", "MISSING"]
    metadata = payload["metadata"]
    assert metadata["threadId"] == "backupwatch-2026-11-27"
    assert metadata["relatedResources"] == [REPORT_LINK.uri, PAGE_LINK.uri]
    assert metadata["additionalContext"] == {
        "date": "2026-11-27",
        "tenants": "3",
        "failingTenants": "2",
        "notChecked": "0",
        "omitted": "0",
        "newFailures": "1",
        "recovered": "1",
    }


def test_chat_thread_is_the_reports_utc_day() -> None:
    """A report made at 20:30 in UTC-5 belongs to the next UTC day's thread."""
    late = datetime(2026, 11, 27, 20, 30, tzinfo=timezone(timedelta(hours=-5)))
    payload = render_chat_notification(make_report(row("a"), generated_at=late))
    assert payload["metadata"]["threadId"] == "backupwatch-2026-11-28"


def test_slack_message_puts_failures_first_then_news_then_links() -> None:
    """Header, counts, failing groups (most severe first), news, then the links."""
    report, changes = small_report()
    payload = render_slack_message(
        report, changes=changes, full_report=REPORT_LINK, status_page=PAGE_LINK
    )
    assert_slack_valid(payload)
    blocks = payload["blocks"]
    assert blocks[0]["text"]["text"] == render_subject(report, changes=changes)
    texts = [block["text"]["text"] for block in blocks[1:-1]]
    titles = [text.split("\n")[0] for text in texts[1:]]
    assert titles == [
        "*ERROR (1)*",
        "*MISSING (1)*",
        "*NEW FAILURES (1)*",
        "*RECOVERED (1)*",
        "*STILL FAILING (1)*",
    ]
    link = blocks[-1]
    assert link["type"] == "context"
    assert [e["text"] for e in link["elements"]] == [
        f"<{URL.replace('&', '&amp;')}|Full report>",
        f"<{PAGE_URL.replace('&', '&amp;')}|Status page>",
    ]
    assert payload["text"].startswith(render_subject(report, changes=changes))


def test_teams_card_has_title_facts_coloured_groups_and_buttons() -> None:
    """TextBlock headline, FactSet counts, coloured status titles, Action.OpenUrl per link."""
    report, changes = small_report()
    payload = render_teams_message(
        report, changes=changes, full_report=REPORT_LINK, status_page=PAGE_LINK
    )
    assert_teams_valid(payload)
    card = payload["attachments"][0]["content"]
    assert card["body"][0]["text"] == render_subject(report, changes=changes)
    assert card["body"][0]["color"] == "attention"
    facts = {fact["title"]: fact["value"] for fact in card["body"][1]["facts"]}
    assert facts == {"Failing": "2 of 3 tenants", "ERROR": "1", "MISSING": "1", "OK": "1"}
    assert teams_titles(payload) == {
        "ERROR (1)": "attention",
        "MISSING (1)": "attention",
        "NEW FAILURES (1)": "accent",
        "RECOVERED (1)": "accent",
        "STILL FAILING (1)": "accent",
    }
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Full report", "url": URL},
        {"type": "Action.OpenUrl", "title": "Status page", "url": PAGE_URL},
    ]


def test_teams_colours_the_milder_failures_warning() -> None:
    """STALE, EMPTY, NONCOMPLIANT are ``warning``; SUSPECT and worse ``attention``."""
    statuses = [Status.SUSPECT, Status.STALE, Status.EMPTY, Status.NONCOMPLIANT]
    payload = render_teams_message(make_report(*(row(s.value, s) for s in statuses)))
    assert teams_titles(payload) == {
        "SUSPECT (1)": "attention",
        "STALE (1)": "warning",
        "EMPTY (1)": "warning",
        "NONCOMPLIANT (1)": "warning",
    }


# --- Escaping -------------------------------------------------------------------------------------


def test_markup_from_the_account_is_escaped_for_slack() -> None:
    """``&``, ``<``, ``>`` are escaped wherever Slack reads markup: a tenant named
    ``<!channel>`` pings nobody, a reason cannot make a link."""
    report = make_report(row(f"evil {NASTY}", reason=f"see {NASTY}"))
    escaped = "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;"
    slack = render_slack_message(report)
    chat = render_chat_notification(report)
    for text in [*slack_texts(slack), slack["text"], chat["content"]["description"]]:
        assert "<!channel>" not in text
        assert "<https://evil" not in text
    assert escaped in "\n".join(slack_texts(slack))
    assert escaped in chat["content"]["description"]
    assert "*bold* _it_ ~s~ `code`" in chat["content"]["description"]  # formatting: as is


def test_teams_shows_account_text_only_as_plain_text_runs() -> None:
    """Text from the account is only ever a TextRun (no Markdown), verbatim; TextBlocks, which
    read Markdown, hold backupwatch's own words."""
    report = make_report(row(f"evil {NASTY}", reason=f"see {NASTY}"))
    payload = render_teams_message(report)
    blocks = [e for e in teams_elements(payload) if e["type"] == "TextBlock"]
    assert all("evil" not in block["text"] for block in blocks)
    runs = [run["text"] for run in teams_runs(payload)]
    assert f"evil {NASTY} [STALE] (db-evil {NASTY}, us-east-1): see {NASTY}" in runs


def test_newlines_in_reasons_never_break_a_line() -> None:
    """A reason with newlines is one line (``clean``), in every rendering."""
    report = make_report(row("acme", reason="first\nsecond\r\nthird"))
    for name, payload in render_all(report).items():
        assert any("first second  third" in line for line in shown_lines(name, payload))


# --- Days -----------------------------------------------------------------------------------------


def test_an_all_ok_day() -> None:
    """All OK: the headline says so, nothing is listed, nothing is cut."""
    report = make_report(*(row(f"ok{i}", Status.OK) for i in range(3)))
    payloads = render_all(report)
    for name, payload in payloads.items():
        VALIDATORS[name](payload)
        lines = shown_lines(name, payload)
        assert "backupwatch 2026-11-27: all 3 tenants OK" in lines
        assert "Nothing is failing." in [line.strip() for line in lines]
        assert not MORE.search(json.dumps(payload, ensure_ascii=False))
    assert payloads["chat"]["content"]["keywords"] == ["backupwatch", "ok"]
    assert teams_elements(payloads["teams"])[0]["color"] == "good"


def test_a_day_with_no_tenants() -> None:
    """No tenant found: failing, and every rendering says what that likely means."""
    report = make_report()
    for name, payload in render_all(report).items():
        VALIDATORS[name](payload)
        lines = shown_lines(name, payload)
        assert "backupwatch 2026-11-27: no tenants found, check the tenant tag" in lines
        assert no_tenants_hint(report) in lines
        assert "Nothing is failing." not in [line.strip() for line in lines]


def test_scopes_not_checked_come_first() -> None:
    """Regions that could not be checked are listed before the failing tenants."""
    report = make_report(row("acme", Status.ERROR), region_errors=region_errors("xx-1", "xx-2"))
    for name, payload in render_all(report).items():
        VALIDATORS[name](payload)
        lines = shown_lines(name, payload)
        first = lines.index(next(line for line in lines if "COULD NOT BE CHECKED (2)" in line))
        assert first < lines.index(next(line for line in lines if "ERROR (1)" in line))
        assert any("xx-1: AccessDenied in xx-1" in line for line in lines)
    runs = teams_runs(render_teams_message(report))
    assert next(r for r in runs if r["text"] == "COULD NOT BE CHECKED (2)")["color"] == "attention"


def test_statuses_are_in_the_digests_order() -> None:
    """Most severe first (a STOPPED tenant made failing among them), whatever the rows' order."""
    statuses = [Status.NONCOMPLIANT, Status.STALE, Status.ERROR, Status.EMPTY, Status.MISSING]
    rows = [row(s.value.lower(), s) for s in statuses]
    rows.append(
        TenantReport(
            tenant="cyberdyne",
            db_instance_identifier="db-cyberdyne",
            region="us-east-1",
            status=Status.STOPPED,
            failing=True,
            reason="stopped",
        )
    )
    report = make_report(*rows)
    expected = [f"{s.value} (1)" for s in most_severe_first([*statuses, Status.STOPPED])]
    for name, payload in render_all(report).items():
        titles = [
            line.strip("*").removeprefix("\n")
            for line in shown_lines(name, payload)
            if re.fullmatch(r"\*?[A-Z]+ \(1\)\*?", line)
        ]
        assert titles == expected, name


# --- Links ----------------------------------------------------------------------------------------


def test_no_archive_no_links() -> None:
    """Without the archive, nothing is linked, and a cut says where the rest is."""
    payloads = render_all(worst_report(failing=300, scopes=0))
    assert "nextSteps" not in payloads["chat"]["content"]
    assert payloads["chat"]["metadata"]["relatedResources"] == []
    assert all(b["type"] != "context" for b in payloads["slack"]["blocks"])
    assert "actions" not in payloads["teams"]["attachments"][0]["content"]
    for payload in payloads.values():
        assert "more: the email digest lists them" in json.dumps(payload, ensure_ascii=False)


def test_without_a_url_the_uri_is_shown_and_nothing_is_clicked() -> None:
    """An object archived without a presigned URL is named by its s3:// URI."""
    plain = archived("backupwatch/reports/x.json")
    payloads = render_all(make_report(row("a")), full_report=plain)
    assert payloads["chat"]["content"]["nextSteps"] == [f"Full report: {plain.uri}"]
    assert payloads["slack"]["blocks"][-1]["elements"] == [
        {"type": "mrkdwn", "text": f"Full report: `{plain.uri}`"}
    ]
    assert "actions" not in payloads["teams"]["attachments"][0]["content"]
    assert f"Full report: {plain.uri}" in [r["text"] for r in teams_runs(payloads["teams"])]


def test_an_object_that_could_not_be_written_is_not_linked() -> None:
    """A failed write is said, never linked, never a related resource."""
    failed = archived("backupwatch/status.html", url=PAGE_URL, error="AccessDenied\nno")
    payloads = render_all(make_report(row("a")), status_page=failed)
    said = f"Status page: could not be written to {failed.uri}: AccessDenied no"
    assert payloads["chat"]["content"]["nextSteps"] == [said]
    assert payloads["chat"]["metadata"]["relatedResources"] == []
    assert PAGE_URL.split("?")[0] not in json.dumps(payloads["slack"])
    assert "actions" not in payloads["teams"]["attachments"][0]["content"]
    assert said in [r["text"] for r in teams_runs(payloads["teams"])]


def test_a_url_too_long_to_show_whole_gives_way_to_the_uri() -> None:
    """A URL is never cut (a cut URL is a broken one): the s3:// URI stands in."""
    long = archived("backupwatch/reports/x.json", url="https://x.example/?" + "a" * 5_000)
    payloads = render_all(make_report(row("a")), full_report=long)
    assert payloads["chat"]["content"]["nextSteps"] == [f"Full report: {long.uri}"]
    assert payloads["slack"]["blocks"][-1]["elements"][0]["text"] == f"Full report: `{long.uri}`"
    for name, payload in payloads.items():
        VALIDATORS[name](payload)


# --- Determinism ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", RENDERERS)
def test_same_report_same_bytes(name: str) -> None:
    """The same report, even read back from its JSON, renders to the same bytes."""
    report, changes = small_report()
    again = Report.from_json(report.to_json())
    kwargs = {"changes": changes, "full_report": REPORT_LINK, "status_page": PAGE_LINK}
    first = json.dumps(RENDERERS[name](report, **kwargs), ensure_ascii=False)
    second = json.dumps(RENDERERS[name](again, **kwargs), ensure_ascii=False)
    assert first == second
