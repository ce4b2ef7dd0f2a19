"""The daily digest: one plain-text message for the whole run (pure).

It is shaped by SNS's limits, enforced here because moto does not enforce them all:

- subject: printable ASCII, one line, fewer than 100 characters (AWS: "less than 100");
- body + message attributes: at most 262,144 bytes of UTF-8, never empty.

A digest that says "7 tenants failing" every morning trains people to stop reading it, so when
the report archive is on, the digest opens with what changed since the previous report
(``backupwatch.core.changes``): ``NEW FAILURES``, ``RECOVERED``, ``STILL FAILING`` (each with the
day its streak began), ``GONE``, then tenants ``NOT CHECKED`` now and ``NEW TENANTS``; the
subject leads with the new failures (or the recoveries, when they are the news). Without a
previous report it says why in one line ("first run", "the archive could not be read").

Then the full lists, as every day: failing tenants grouped by status (most severe first), one
line each; then the tenants listed but not failing (stopped, new, paused, skipped), so that
nobody wonders where a tenant went; then OK tenants that carry a note; then the OK count. When
the body would be too large, the lists are cut from the end, so the change sections at the top
are the last to go; the cut ends with "... and N more" while the counts at the top stay true.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

from backupwatch.core.changes import Changed, Changes
from backupwatch.core.models import (
    ArchivedReport,
    Report,
    Status,
    TenantReport,
    most_severe_first,
)

SUBJECT_MAX_CHARS = 99
MESSAGE_MAX_BYTES = 262_144
FAILING_ATTRIBUTE = "failing"


class Digest(BaseModel):
    """A rendered digest, ready for ``sns.publish``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str
    body: str
    failing: int
    """What needs attention, sent as attribute ``failing``: failing tenants, plus regions that
    could not be checked, plus 1 when no tenant was found at all. Zero exactly on a good day."""
    omitted: int = 0
    """Lines cut to fit SNS's size limit ("... and N more"): tenant lines of the full lists
    and of the change sections; the full report has them all."""

    @property
    def message_attributes(self) -> dict[str, dict[str, str]]:
        """SNS ``MessageAttributes``: ``failing`` as a Number, for subscription filters."""
        return {FAILING_ATTRIBUTE: {"DataType": "Number", "StringValue": str(self.failing)}}

    @property
    def size_bytes(self) -> int:
        """What SNS counts against its limit: body plus attribute names, types and values."""
        return len(self.body.encode()) + _attributes_size(self.message_attributes)


def render_digest(
    report: Report,
    *,
    max_bytes: int = MESSAGE_MAX_BYTES,
    full_report: ArchivedReport | None = None,
    changes: Changes | None = None,
    no_comparison: str | None = None,
    status_page: ArchivedReport | None = None,
) -> Digest:
    """Render ``report`` as one message that SNS will accept.

    ``full_report`` is where the whole report was archived: linked near the top, so a reader
    of a cut digest knows where the rest is; ``status_page`` likewise for the status page.

    ``changes`` (``changes.compare`` against the previous report) opens the body with what
    changed. When there was nothing to compare with, ``no_comparison`` says why, in one line,
    above today's view. Both None (no archive): the digest is today's view alone.
    """
    summary = report.summary
    failing = summary.failing + summary.regions_failed + (0 if summary.tenants else 1)
    attributes_size = _attributes_size(
        {FAILING_ATTRIBUTE: {"DataType": "Number", "StringValue": str(failing)}}
    )
    compared = changes if changes is not None and changes.compared else None
    if compared is None and changes is not None and no_comparison is None:
        no_comparison = "no earlier report to compare with"
    body, omitted = _body(
        report,
        budget=max_bytes - attributes_size,
        full_report=full_report,
        changes=compared,
        no_comparison=no_comparison,
        status_page=status_page,
    )
    return Digest(
        subject=render_subject(report, changes=compared),
        body=body,
        failing=failing,
        omitted=omitted,
    )


def emergency_digest(report: Report, error: BaseException) -> Digest:
    """The digest when ``render_digest`` itself failed (a bug): plain, but never nothing.

    One digest goes out whatever happened, so this reads only the rows' and errors' own fields
    (not ``summary``, sections or changes, where the bug may be) and shares only the SNS-limit
    helpers: the counts, every scope not checked, every failing tenant with its status and
    reason, cut to SNS's size limit. Its subject says it is a fallback.
    """
    failing_rows = [row for row in report.tenants if row.failing]
    unchecked = len(report.region_errors)
    failing = len(failing_rows) + unchecked + (0 if report.tenants else 1)
    day = report.generated_at.astimezone(UTC).strftime("%Y-%m-%d")
    lines = [
        f"backupwatch could not render today's digest ({type(error).__name__}: {error}); "
        "this is its plain fallback. The full report and the logs have the rest.",
        "",
        f"{len(failing_rows)} of {len(report.tenants)} tenants failing; "
        f"{unchecked} region(s) or scope(s) not checked.",
        "",
        *(
            f"NOT CHECKED {' '.join(filter(None, (e.account_id, e.region)))}: {e.reason}"
            for e in report.region_errors
        ),
        *(
            f"  - {row.tenant} [{row.status.value}] ({row.db_instance_identifier}, "
            f"{row.region}): {row.reason}"
            for row in failing_rows
        ),
    ]
    budget = MESSAGE_MAX_BYTES - _attributes_size(
        {FAILING_ATTRIBUTE: {"DataType": "Number", "StringValue": str(failing)}}
    )
    body = "\n".join(lines).encode()[:budget].decode(errors="ignore")
    verdict = f"{len(failing_rows)} of {len(report.tenants)} tenants failing"
    if unchecked:
        verdict += f", {unchecked} not checked"
    return Digest(
        subject=to_subject(f"backupwatch {day}: {verdict} (plain digest)"),
        body=body,
        failing=failing,
    )


def render_subject(report: Report, *, changes: Changes | None = None) -> str:
    """``backupwatch 2026-11-27: 3 of 120 tenants failing`` and the like; ASCII, < 100 chars.

    With ``changes``, the news leads: ``2 new failures; 5 of 120 tenants failing``, tenants
    gone next to them, and recoveries when there is no new failure (``1 recovered; all 120
    tenants OK``). The verdict (the counts, and any region or scope not checked) is never cut:
    news that does not fit beside it is dropped, part by part. "All N tenants OK" is said only
    when every tenant is OK and every region was checked.
    """
    summary = report.summary
    day = report.generated_at.astimezone(UTC).strftime("%Y-%m-%d")
    ok = summary.by_status[Status.OK]
    if summary.failing:
        text = f"{summary.failing} of {summary.tenants} tenants failing"
    elif summary.tenants and ok == summary.tenants and not summary.regions_failed:
        text = f"all {summary.tenants} tenants OK"
    elif summary.tenants:
        # Nothing failing, yet not all OK (new, paused, stopped...) or not all regions checked:
        # "all OK" would be untrue.
        text = f"0 of {summary.tenants} tenants failing, {ok} OK"
    else:
        text = "no tenants found" + ("" if summary.regions_failed else ", check the tenant tag")
    if summary.regions_failed:
        text += f", {summary.regions_failed} {_scopes(report)} not checked"
    head = f"backupwatch {day}: "
    room = SUBJECT_MAX_CHARS - len(head) - len(text)
    news = _news(changes, room) if changes is not None else ""
    return to_subject(f"{head}{news}{text}")


def _news(changes: Changes, room: int) -> str:
    """``2 new failures, 1 gone; `` or ``3 recovered; `` or nothing: what leads the subject,
    as many of its parts as fit in ``room`` characters."""
    parts = []
    if changes.new_failures:
        parts.append(_plural(len(changes.new_failures), "new failure", "new failures"))
    if changes.gone:
        parts.append(f"{len(changes.gone)} gone")
    if changes.recovered and not changes.new_failures:
        parts.append(f"{len(changes.recovered)} recovered")
    while parts and len(f"{', '.join(parts)}; ") > room:
        parts.pop()
    return f"{', '.join(parts)}; " if parts else ""


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def to_subject(text: str) -> str:
    """Make ``text`` a valid SNS subject: printable ASCII, one line, under 100 characters."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    one_line = " ".join("".join(c if c.isprintable() else " " for c in ascii_text).split())
    if len(one_line) > SUBJECT_MAX_CHARS:
        one_line = one_line[: SUBJECT_MAX_CHARS - 3].rstrip() + "..."
    return one_line or "backupwatch digest"


def _body(
    report: Report,
    *,
    budget: int,
    full_report: ArchivedReport | None,
    changes: Changes | None = None,
    no_comparison: str | None = None,
    status_page: ArchivedReport | None = None,
) -> tuple[str, int]:
    summary = report.summary
    head = [
        f"backupwatch digest for {_when(report.generated_at)}",
        "",
        counts_line(report),
        *_accounts_line(report),
        f"Regions: {', '.join(report.regions) or '-'}. "
        f"Checks: {', '.join(c.value for c in report.checks) or '-'}.",
        *_full_report_lines(full_report),
        *_link_lines("Status page", status_page),
    ]
    sections: list[tuple[str, list[str]]] = []
    if changes is not None and changes.previous_at is not None:
        head += ["", changes_line(changes, changes.previous_at)]
        sections += change_sections(changes, accounts=bool(report.accounts))
        sections.append(("FULL STATUS", []))
    elif no_comparison is not None:
        head += ["", f"WHAT CHANGED: no comparison: {clean(no_comparison)}; today's view only."]
    if report.region_errors:
        title = f"{_scopes(report).removesuffix('(s)').upper()}S NOT CHECKED"
        sections.append(
            (
                f"{title} ({len(report.region_errors)})",
                [f"  - {clean(e.scope)}: {clean(e.reason)}" for e in report.region_errors],
            )
        )
    for failing in (True, False):
        for status in summary.by_status:  # unknown statuses too (a newer writer's)
            rows = [
                row
                for row in report.tenants
                if row.status is status and row.status.listed and row.failing is failing
            ]
            if rows:
                title = f"{status.value} ({len(rows)}{'' if failing else ', not failing'})"
                lines = [tenant_line(r, accounts=bool(report.accounts)) for r in rows]
                sections.append((title, lines))
    noted = [row for row in report.tenants if not row.status.listed and row.notes]
    if noted:
        lines = [tenant_line(r, notes_only=True, accounts=bool(report.accounts)) for r in noted]
        sections.append((f"NOTES ({len(noted)})", lines))
    tail = [
        "",
        f"OK: {summary.by_status[Status.OK]} tenant(s) with fresh backups."
        if summary.tenants
        else no_tenants_hint(report),
    ]
    return _fit([*head], sections, tail, budget=budget)


ACCOUNTS_SHOWN = 20


def no_tenants_hint(report: Report) -> str:
    """What an empty report means: a missing tag, or regions nobody could read.

    "Is the tenant tag set?" is only the question when every region was listed; when some
    could not be, their tenants are unknown, and the tag may well be there.
    """
    failed = report.summary.regions_failed
    if not failed:
        return "No tenants were found: is the tenant tag set on the DB instances?"
    return (
        f"No tenants were found where backupwatch could look; the tenants of the "
        f"{failed} {_scopes(report)} not checked are unknown."
    )


def _accounts_line(report: Report) -> list[str]:
    if not report.accounts:
        return []
    shown = ", ".join(report.accounts[:ACCOUNTS_SHOWN])
    more = len(report.accounts) - ACCOUNTS_SHOWN
    return [f"Accounts ({len(report.accounts)}): {shown}{f' and {more} more' if more > 0 else ''}."]


def _full_report_lines(archived: ArchivedReport | None) -> list[str]:
    lines = _link_lines("Full report", archived)
    if archived is not None and archived.error is None and archived.index_error is not None:
        lines.append(
            f"Archive index not updated: {clean(archived.index_error)}; "
            "the next run compares with an older report."
        )
    return lines


def _link_lines(label: str, archived: ArchivedReport | None) -> list[str]:
    if archived is None:
        return []
    if archived.error is not None:
        return [f"{label}: could not be written to {archived.uri}: {clean(archived.error)}"]
    return [f"{label}: {archived.uri}", *([f"  {archived.url}"] if archived.url else [])]


def _when(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def changes_line(changes: Changes, previous_at: datetime) -> str:
    """``WHAT CHANGED since 2026-11-26 07:00 UTC: 1 new failure, 2 recovered, ...``: in the
    head, so it survives any cut."""
    counts = [
        _plural(len(changes.new_failures), "new failure", "new failures"),
        f"{len(changes.recovered)} recovered",
        f"{len(changes.still_failing)} still failing",
        f"{len(changes.gone)} gone",
    ]
    if changes.not_checked:
        counts.append(f"{len(changes.not_checked)} not checked")
    if changes.new_tenants:
        counts.append(_plural(len(changes.new_tenants), "new tenant", "new tenants"))
    return f"WHAT CHANGED since {_when(previous_at)}: {', '.join(counts)}."


def change_sections(changes: Changes, *, accounts: bool) -> list[tuple[str, list[str]]]:
    """One section per kind of change that happened; empty ones are only counted."""

    def lines(
        items: tuple[Changed, ...], describe: Callable[[Changed], str], *, absent: bool = False
    ) -> list[str]:
        return [
            _change_line(item, describe(item), accounts=accounts, absent=absent) for item in items
        ]

    sections = [
        ("NEW FAILURES", lines(changes.new_failures, describe_new_failure)),
        ("RECOVERED", lines(changes.recovered, describe_recovered)),
        ("STILL FAILING", lines(changes.still_failing, describe_still_failing)),
        ("GONE", lines(changes.gone, describe_gone, absent=True)),
        ("NOT CHECKED", lines(changes.not_checked, describe_not_checked, absent=True)),
        ("NEW TENANTS", lines(changes.new_tenants, describe_new_tenant)),
    ]
    return [(f"{title} ({len(rows)})", rows) for title, rows in sections if rows]


def describe_new_failure(item: Changed) -> str:
    was = f"was {item.before.value}" if item.before else "not in the previous report"
    return f"{was}; {item.row.reason}"


def describe_recovered(item: Changed) -> str:
    was = item.before.value if item.before else "failing"
    return f"was {was}{_since(item)}"


def describe_still_failing(item: Changed) -> str:
    changed = (
        f", was {item.before.value}" if item.before and item.before is not item.row.status else ""
    )
    return f"{_since(item).lstrip()}{changed}"


def describe_gone(item: Changed) -> str:
    was = item.before.value if item.before else "listed"
    return (
        f"was {was}; not found in this run: deleted, or its tenant tag removed? "
        "(its scope was checked)"
    )


def describe_not_checked(item: Changed) -> str:
    was = item.before.value if item.before else "listed"
    return f"was {was}; its scope could not be checked in this run (listed below)"


def describe_new_tenant(_item: Changed) -> str:
    return "new: not in the previous report"


def _since(item: Changed) -> str:
    """`` since 2026-11-20 (7 days)``; ``(today)`` for a streak that began today."""
    if item.since is None or item.days is None:
        return ""
    days = "today" if item.days == 0 else _plural(item.days, "day", "days")
    return f" since {item.since.astimezone(UTC):%Y-%m-%d} ({days})"


def _change_line(item: Changed, text: str, *, accounts: bool, absent: bool) -> str:
    """``  - acme [STALE] (db-acme, eu-west-1): was OK; <reason>``: the shape of a tenant line,
    without the runbook (the full lists below show it). A tenant ``absent`` now (``GONE``,
    ``NOT CHECKED``) has no status now, so none in brackets: its text says what it was."""
    row = item.row
    status = "" if absent else f" [{row.status.value}]"
    return (
        f"  - {clean(row.tenant)}{status} ({clean(tenant_location(row, accounts))}): {clean(text)}"
    )


def counts_line(report: Report) -> str:
    summary = report.summary
    line = f"{summary.failing} of {summary.tenants} tenants failing"
    failing = _status_counts(row for row in report.tenants if row.failing)
    if failing:
        line += f" ({failing})"
    line += f"; {summary.by_status[Status.OK]} OK"
    listed = [row for row in report.tenants if row.status.listed and not row.failing]
    if listed:
        line += f"; {len(listed)} listed, not failing ({_status_counts(listed)})"
    line += "."
    if summary.regions_failed:
        line += f" {summary.regions_failed} {_scopes(report)} could not be checked."
    return line


def _scopes(report: Report) -> str:
    """What a failed scope is called: a region, or with several accounts an account-region."""
    several = report.accounts or any(e.account_id for e in report.region_errors)
    return "scope(s)" if several else "region(s)"


def _status_counts(rows: Iterable[TenantReport]) -> str:
    """``1 ERROR, 2 STALE``: counts per status, most severe first, zeros left out."""
    counts = Counter(row.status for row in rows)
    return ", ".join(f"{counts[s]} {s.value}" for s in most_severe_first(counts))


def tenant_location(row: TenantReport, accounts: bool) -> str:
    """``db-acme, eu-west-1``, ``cluster aurora-x, eu-west-1``, ``db-acme, 1111 eu-west-1``."""
    resource = row.identifier if row.kind == "instance" else f"{row.kind} {row.identifier}"
    account = f"{row.account_id} " if accounts and row.account_id else ""
    return f"{resource}, {account}{row.region}"


def tenant_line(row: TenantReport, *, notes_only: bool = False, accounts: bool = False) -> str:
    """``  - acme [STALE] (db-acme, eu-west-1): reason``; a cluster reads ``(cluster x, ...)``;
    with several accounts, the account comes before the region.

    A failing tenant with a runbook gets it on the next line, where a reader looks first.
    """
    where = tenant_location(row, accounts)
    reason = "; ".join(row.notes) if notes_only else row.reason
    line = f"  - {clean(row.tenant)} [{row.status.value}] ({clean(where)}): {clean(reason)}"
    if row.failing and row.runbook:
        line += f"\n    runbook: {clean(row.runbook)}"
    return line


def _fit(
    head: list[str], sections: list[tuple[str, list[str]]], tail: list[str], *, budget: int
) -> tuple[str, int]:
    """Join the lines, cutting the tenant lists when the message would exceed ``budget`` bytes;
    return the text and how many tenant lines were left out.

    ``head`` and ``tail`` are always whole. Sections are kept in order and the cut removes
    everything after it, so what comes first (the change sections) is the last to go. The cut
    is marked "... and N more", N counting the tenant lines left out, of every section.
    """
    total_rows = sum(len(rows) for _, rows in sections)
    lines = list(head)
    used = _size(lines) + _size(tail) - 1  # join() puts no newline after the last line
    kept = 0
    for title, rows in sections:
        for index, line in enumerate(["", title, *rows]):
            is_row = index >= 2
            # Room must stay for the marker that a later cut would need, if rows remain.
            left_after = total_rows - kept - is_row
            reserve = _size([_more(left_after)]) if left_after else 0
            if used + len(line.encode()) + 1 + reserve > budget:
                lines.append(_more(total_rows - kept))
                return "\n".join([*lines, *tail]), total_rows - kept
            lines.append(line)
            used += len(line.encode()) + 1
            kept += is_row
    return "\n".join([*lines, *tail]), 0


def _more(count: int) -> str:
    return f"... and {count} more"


def clean(text: str) -> str:
    """One printable line: control characters (newlines included) become spaces."""
    return "".join(c if c.isprintable() else " " for c in text)


def _size(lines: list[str]) -> int:
    return sum(len(line.encode()) + 1 for line in lines)


def _attributes_size(attributes: dict[str, dict[str, str]]) -> int:
    return sum(
        len(name.encode()) + len(value["DataType"].encode()) + len(value["StringValue"].encode())
        for name, value in attributes.items()
    )


def should_publish(report: Report, notify: str) -> bool:
    """``always``: every run sends its digest. ``failures``: only when something fails."""
    return notify == "always" or report.failing
