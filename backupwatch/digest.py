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

    @property
    def message_attributes(self) -> dict[str, dict[str, str]]:
        """SNS ``MessageAttributes``: ``failing`` as a Number, for subscription filters."""
        return {FAILING_ATTRIBUTE: {"DataType": "Number", "StringValue": str(self.failing)}}

    @property
    def size_bytes(self) -> int:
        """What SNS counts against its limit: body plus attribute names, types and values."""
        return len(self.body.encode()) + _attributes_size(self.message_attributes)


def render_digest(report: Report, *, max_bytes: int = MESSAGE_MAX_BYTES) -> Digest:
    """Render ``report`` as one message that SNS will accept."""
    summary = report.summary
    failing = summary.failing + summary.regions_failed + (0 if summary.tenants else 1)
    attributes_size = _attributes_size(
        {FAILING_ATTRIBUTE: {"DataType": "Number", "StringValue": str(failing)}}
    )
    body = _body(report, budget=max_bytes - attributes_size)
    return Digest(subject=render_subject(report), body=body, failing=failing)


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


def _body(report: Report, *, budget: int) -> str:
    summary = report.summary
    head = [
        f"backupwatch digest for {report.generated_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        _counts_line(report),
        f"Regions: {', '.join(report.regions) or '-'}. "
        f"Checks: {', '.join(c.value for c in report.checks) or '-'}.",
    ]
    sections: list[tuple[str, list[str]]] = []
    if report.region_errors:
        sections.append(
            (
                f"REGIONS NOT CHECKED ({len(report.region_errors)})",
                [f"  - {clean(e.region)}: {clean(e.reason)}" for e in report.region_errors],
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
                sections.append((title, [_tenant_line(r) for r in rows]))
    noted = [row for row in report.tenants if not row.status.listed and row.notes]
    if noted:
        sections.append(
            (f"NOTES ({len(noted)})", [_tenant_line(r, notes_only=True) for r in noted])
        )
    tail = [
        "",
        f"OK: {summary.by_status[Status.OK]} tenant(s) with fresh backups."
        if summary.tenants
        else "No tenants were found: is the tenant tag set on the DB instances?",
    ]
    return _fit([*head], sections, tail, budget=budget)


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


def _tenant_line(row: TenantReport, *, notes_only: bool = False) -> str:
    """``  - acme [STALE] (db-acme, eu-west-1): reason``; a cluster reads ``(cluster x, ...)``.

    A failing tenant with a runbook gets it on the next line, where a reader looks first.
    """
    resource = row.identifier if row.kind == "instance" else f"{row.kind} {row.identifier}"
    where = f"{resource}, {row.region}"
    reason = "; ".join(row.notes) if notes_only else row.reason
    line = f"  - {clean(row.tenant)} [{row.status.value}] ({clean(where)}): {clean(reason)}"
    if row.failing and row.runbook:
        line += f"\n    runbook: {clean(row.runbook)}"
    return line


def _fit(
    head: list[str], sections: list[tuple[str, list[str]]], tail: list[str], *, budget: int
) -> str:
    """Join the lines, cutting the tenant lists when the message would exceed ``budget`` bytes.

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
                return "\n".join([*lines, *tail])
            lines.append(line)
            used += len(line.encode()) + 1
            kept += is_row
    return "\n".join([*lines, *tail])


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
