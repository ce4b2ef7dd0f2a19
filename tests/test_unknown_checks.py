"""A report from a newer backupwatch may hold a check this version does not know: it is read,
the check's details left out, and the row's verdict kept as written (never loosened)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from backupwatch import Report
from backupwatch.core.models import Check, CheckResult, Status, TenantReport


def report_with_newer_check(row_status: str) -> str:
    row = TenantReport(
        tenant="acme",
        db_instance_identifier="db-acme",
        region="eu-west-1",
        status=Status.OK,
        reason="rds: newest automated snapshot 2 h old",
        checks={Check.RDS: CheckResult(check=Check.RDS, status=Status.OK, reason="2 h old")},
    )
    report = Report(
        generated_at=datetime(2026, 11, 27, 7, tzinfo=UTC),
        regions=("eu-west-1",),
        checks=(Check.RDS,),
        tenants=(row,),
    )
    data = json.loads(report.to_json())
    data["checks"].append("vault-lock")
    data["tenants"][0]["checks"]["vault-lock"] = {
        "check": "vault-lock",
        "status": "UNLOCKED",
        "reason": "the vault is not locked",
    }
    data["tenants"][0]["status"] = row_status
    data["tenants"][0]["failing"] = True
    return json.dumps(data)


def test_an_unknown_check_is_left_out_and_the_rows_verdict_kept() -> None:
    read = Report.from_json(report_with_newer_check("UNLOCKED"))
    assert read.checks == (Check.RDS,)
    (row,) = read.tenants
    assert list(row.checks) == [Check.RDS]
    assert row.status.value == "UNLOCKED"
    assert row.failing  # the newer check failed the row: still failing here
    assert read.failing


def test_built_in_code_an_unknown_check_is_still_refused() -> None:
    """Careless variant: leniency leaking into models built in code, where a typo must fail."""
    with pytest.raises(ValidationError):
        TenantReport.model_validate(
            {
                "tenant": "acme",
                "db_instance_identifier": "db-acme",
                "region": "eu-west-1",
                "status": "OK",
                "reason": "x",
                "checks": {"vault-lock": {"check": "vault-lock", "status": "OK", "reason": "x"}},
            }
        )
