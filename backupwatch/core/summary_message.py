"""The machine summary of a run (pure): one versioned JSON document for programs, not people.

Subscribers that are programs (an SQS queue, a Lambda function, an ``email-json`` address that
feeds a ticketing system) should not have to parse the email's prose. Through SNS's
``MessageStructure="json"`` (``backupwatch.core.sns_message``) they receive this document
instead, the same morning, from the same publish.

It is a contract, like the report's JSON: ``schema`` names it and ``version`` says which shape
it has. Version 1 is, key by key, in this order::

    {"schema": "backupwatch.summary", "version": 1,
     "generated_at": "2026-11-27T07:00:00Z", "run_date": "2026-11-27",
     "ok": false, "subject": "backupwatch 2026-11-27: ...",
     "tenants": 20, "failing": 11, "by_status": {"ERROR": 1, ..., "OK": 5},
     "regions_failed": 0,
     "changes": null | {"new_failures": 6, "recovered": 1, "still_failing": 5, "gone": 0},
     "report": "s3://..." | null, "status_page": "s3://..." | null,
     "failing_tenants": [{"tenant", "status", "account_id", "region", "kind", "identifier",
                          "reason"}, ...],
     "scope_errors": [{"scope", "account_id", "region", "error"}, ...],
     "omitted": 0}

The counts are those the Lambda returns (``pipeline.daily.Outcome.summary``): ``failing``
counts tenants, ``regions_failed`` the scopes not checked, ``ok`` is false whenever the run
needs attention (also with no tenant at all). ``report`` and ``status_page`` are the archived
objects' ``s3://`` URIs, null when not archived or when the write failed: a program should
never be sent to fetch what is not there. ``changes`` is null when nothing was compared.

Failing tenants come most severe first, in the digest's order (``chat.failing_groups``), after
the scopes that could not be checked (their tenants are unknown). Names and reasons are given
as they are (JSON escapes what needs escaping), each reason cut to ``REASON_MAX_CHARS``. The
document is kept within ``max_bytes`` of UTF-8 by cutting those two lists from the end; the
counts are never cut, and ``omitted`` says how many entries of the two lists were left out,
so ``failing - len(failing_tenants)`` and ``regions_failed - len(scope_errors)`` say which.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any, Final

from backupwatch.core.changes import Changes, change_counts
from backupwatch.core.chat import failing_groups
from backupwatch.core.models import ArchivedReport, RegionError, Report, TenantReport

SUMMARY_SCHEMA: Final = "backupwatch.summary"
SUMMARY_VERSION: Final = 1
SUMMARY_MAX_BYTES: Final = 24_576
"""24 KiB: whole lists for a few dozen failing tenants, and small enough that three copies
(``sqs``, ``lambda``, ``email-json``) leave most of an SNS message to the email text."""
REASON_MAX_CHARS: Final = 300
"""A reason (or a scope's error) at most: the digest's longest take about 400, and one runaway
text must not push every other tenant out of the document."""
ELLIPSIS: Final = "…"


def render_summary_message(
    report: Report,
    *,
    subject: str,
    changes: Changes | None = None,
    full_report: ArchivedReport | None = None,
    status_page: ArchivedReport | None = None,
    max_bytes: int = SUMMARY_MAX_BYTES,
) -> str:
    """The machine summary of ``report`` as compact JSON text, at most ``max_bytes`` of UTF-8.

    ``subject`` is the digest's (so a program can show the same headline as the email);
    ``changes``, ``full_report`` and ``status_page`` are what the digest got. A ``max_bytes``
    too small for the counts alone still gets the counts, with every list entry omitted: the
    counts are the part a program cannot do without.
    """
    entries: list[tuple[str, dict[str, Any]]] = [
        ("scope_errors", _scope_error(error)) for error in report.region_errors
    ]
    entries += [
        ("failing_tenants", _failing_tenant(row))
        for _, rows in failing_groups(report)
        for row in rows
    ]
    document = _skeleton(
        report,
        subject=subject,
        changes=changes,
        full_report=full_report,
        status_page=status_page,
    )
    used = _size(document)  # with "omitted": 0, one digit
    kept = 0
    for key, entry in entries:
        cost = _size(entry) + (1 if document[key] else 0)  # and a comma before it
        # The size if the cut came right after this entry: every entry costs more than the
        # digit it saves in ``omitted``, so the size only grows and the first miss is the cut.
        if used + cost + len(str(len(entries) - kept - 1)) - 1 > max_bytes:
            break
        document[key].append(entry)
        used += cost
        kept += 1
    document["omitted"] = len(entries) - kept
    return _dumps(document)


def _skeleton(
    report: Report,
    *,
    subject: str,
    changes: Changes | None,
    full_report: ArchivedReport | None,
    status_page: ArchivedReport | None,
) -> dict[str, Any]:
    """Every key of the contract, in its order, with both lists empty."""
    summary = report.summary
    moment = report.generated_at.astimezone(UTC)
    return {
        "schema": SUMMARY_SCHEMA,
        "version": SUMMARY_VERSION,
        "generated_at": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "run_date": moment.strftime("%Y-%m-%d"),
        "ok": not report.failing,
        "subject": subject,
        "tenants": summary.tenants,
        "failing": summary.failing,
        "by_status": {status.value: count for status, count in summary.by_status.items()},
        "regions_failed": summary.regions_failed,
        "changes": change_counts(changes),
        "report": archived_uri(full_report),
        "status_page": archived_uri(status_page),
        "failing_tenants": [],
        "scope_errors": [],
        "omitted": 0,
    }


def archived_uri(archived: ArchivedReport | None) -> str | None:
    """The ``s3://`` URI of an object the run wrote; None when it was not written."""
    return archived.uri if archived is not None and archived.error is None else None


def _failing_tenant(row: TenantReport) -> dict[str, Any]:
    return {
        "tenant": row.tenant,
        "status": row.status.value,
        "account_id": row.account_id,
        "region": row.region,
        "kind": row.kind,
        "identifier": row.identifier,
        "reason": cut(row.reason),
    }


def _scope_error(error: RegionError) -> dict[str, Any]:
    return {
        "scope": error.scope,
        "account_id": error.account_id,
        "region": error.region,
        "error": cut(error.reason),
    }


def cut(text: str, max_chars: int = REASON_MAX_CHARS) -> str:
    """``text``, or its first characters ending in "…", ``max_chars`` characters in all."""
    return text if len(text) <= max_chars else text[: max_chars - len(ELLIPSIS)] + ELLIPSIS


def _dumps(value: Any) -> str:
    """Compact, and UTF-8 left as is: the most of the document per byte SNS counts."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _size(value: Any) -> int:
    return len(_dumps(value).encode())
