"""The daily digest: one plain-text message for the whole run (pure).

It is shaped by SNS's limits, enforced here because moto does not enforce them all:

- subject: printable ASCII, one line, fewer than 100 characters (AWS: "less than 100");
- body + message attributes: at most 262,144 bytes of UTF-8, never empty.

Failing tenants come first, grouped by status (most severe first), one line each; then the
tenants listed but not failing (stopped, new, paused, skipped), so that nobody wonders where a
tenant went; then OK tenants that carry a note; then the OK count. When the body would be too
large, the list is cut and ends with "... and N more" while the counts at the top stay true.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable
from datetime import UTC

from pydantic import BaseModel, ConfigDict

from .archive import ArchivedReport
from .models import Report, Status, TenantReport

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
    """Tenant lines cut to fit SNS's size limit ("... and N more"); the full report has them."""

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
) -> Digest:
    """Render ``report`` as one message that SNS will accept.

    ``full_report`` is where the whole report was archived: linked near the top, so a reader
    of a cut digest knows where the rest is.
    """
    summary = report.summary
    failing = summary.failing + summary.regions_failed + (0 if summary.tenants else 1)
    attributes_size = _attributes_size(
        {FAILING_ATTRIBUTE: {"DataType": "Number", "StringValue": str(failing)}}
    )
    body, omitted = _body(report, budget=max_bytes - attributes_size, full_report=full_report)
    return Digest(subject=render_subject(report), body=body, failing=failing, omitted=omitted)


def render_subject(report: Report) -> str:
    """``backupwatch 2026-11-27: 3 of 120 tenants failing`` and the like; ASCII, < 100 chars."""
    summary = report.summary
    day = report.generated_at.astimezone(UTC).strftime("%Y-%m-%d")
    ok = summary.by_status[Status.OK]
    if summary.failing:
        text = f"{summary.failing} of {summary.tenants} tenants failing"
    elif summary.tenants and ok == summary.tenants:
        text = f"all {summary.tenants} tenants OK"
    elif summary.tenants:
        # Nothing failing, yet not all OK (new, paused, stopped...): "all OK" would be untrue.
        text = f"0 of {summary.tenants} tenants failing, {ok} OK"
    else:
        text = "no tenants found" + ("" if summary.regions_failed else ", check the tenant tag")
    if summary.regions_failed:
        text += f", {summary.regions_failed} region(s) not checked"
    return to_subject(f"backupwatch {day}: {text}")


def to_subject(text: str) -> str:
    """Make ``text`` a valid SNS subject: printable ASCII, one line, under 100 characters."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    one_line = " ".join("".join(c if c.isprintable() else " " for c in ascii_text).split())
    if len(one_line) > SUBJECT_MAX_CHARS:
        one_line = one_line[: SUBJECT_MAX_CHARS - 3].rstrip() + "..."
    return one_line or "backupwatch digest"


def _body(report: Report, *, budget: int, full_report: ArchivedReport | None) -> tuple[str, int]:
    summary = report.summary
    head = [
        f"backupwatch digest for {report.generated_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        _counts_line(report),
        *_accounts_line(report),
        f"Regions: {', '.join(report.regions) or '-'}. "
        f"Checks: {', '.join(c.value for c in report.checks) or '-'}.",
        *_full_report_lines(full_report),
    ]
    sections: list[tuple[str, list[str]]] = []
    if report.region_errors:
        title = "SCOPES NOT CHECKED" if report.accounts else "REGIONS NOT CHECKED"
        sections.append(
            (
                f"{title} ({len(report.region_errors)})",
                [f"  - {clean(e.scope)}: {clean(e.reason)}" for e in report.region_errors],
            )
        )
    for failing in (True, False):
        for status in Status:
            rows = [
                row
                for row in report.tenants
                if row.status is status and row.status.listed and row.failing is failing
            ]
            if rows:
                title = f"{status.value} ({len(rows)}{'' if failing else ', not failing'})"
                lines = [_tenant_line(r, accounts=bool(report.accounts)) for r in rows]
                sections.append((title, lines))
    noted = [row for row in report.tenants if not row.status.listed and row.notes]
    if noted:
        lines = [_tenant_line(r, notes_only=True, accounts=bool(report.accounts)) for r in noted]
        sections.append((f"NOTES ({len(noted)})", lines))
    tail = [
        "",
        f"OK: {summary.by_status[Status.OK]} tenant(s) with fresh backups."
        if summary.tenants
        else "No tenants were found: is the tenant tag set on the DB instances?",
    ]
    return _fit([*head], sections, tail, budget=budget)


ACCOUNTS_SHOWN = 20


def _accounts_line(report: Report) -> list[str]:
    if not report.accounts:
        return []
    shown = ", ".join(report.accounts[:ACCOUNTS_SHOWN])
    more = len(report.accounts) - ACCOUNTS_SHOWN
    return [f"Accounts ({len(report.accounts)}): {shown}{f' and {more} more' if more > 0 else ''}."]


def _full_report_lines(archived: ArchivedReport | None) -> list[str]:
    if archived is None:
        return []
    if archived.error is not None:
        return [f"Full report: could not be written to {archived.uri}: {clean(archived.error)}"]
    return [f"Full report: {archived.uri}", *([f"  {archived.url}"] if archived.url else [])]


def _counts_line(report: Report) -> str:
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
        line += f" {summary.regions_failed} region(s) could not be checked."
    return line


def _status_counts(rows: Iterable[TenantReport]) -> str:
    """``1 ERROR, 2 STALE``: counts per status, most severe first, zeros left out."""
    counts = Counter(row.status for row in rows)
    return ", ".join(f"{counts[s]} {s.value}" for s in Status if counts[s])


def _tenant_line(row: TenantReport, *, notes_only: bool = False, accounts: bool = False) -> str:
    """``  - acme [STALE] (db-acme, eu-west-1): reason``; a cluster reads ``(cluster x, ...)``;
    with several accounts, the account comes before the region.

    A failing tenant with a runbook gets it on the next line, where a reader looks first.
    """
    resource = row.identifier if row.kind == "instance" else f"{row.kind} {row.identifier}"
    account = f"{row.account_id} " if accounts and row.account_id else ""
    where = f"{resource}, {account}{row.region}"
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

    The cut is marked "... and N more", N counting the tenant lines left out.
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
