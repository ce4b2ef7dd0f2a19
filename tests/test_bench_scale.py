"""Smoke tests of ``benchmarks.scale --simulate-fleet`` (issue item 6): the synthesized scopes
are what the publish step must see, and a whole tiny fleet goes through both child processes
and verifies. The figures themselves are in docs/scale.md."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from backupwatch import load_settings
from backupwatch.core.evaluation import tenant_report
from backupwatch.core.models import Check, CheckResult, Report, Scope, Status, Tenant
from benchmarks import scale

from .conftest import NOW

MEMBER = "111111111111"
REAL = Scope(region="us-east-1", account_id=MEMBER, s3_bucket=f"bench-backups-{MEMBER}")
TENANTS = 40


def _tenant(index: int) -> Tenant:
    return Tenant(
        name=f"t{index:05d}",
        db_instance_identifier=f"db-t{index:05d}",
        region=REAL.region,
        account_id=REAL.account_id,
        s3_prefix=f"t{index:05d}-backups/",
        max_age_hours=24,
        min_object_bytes=1,
    )


def _real_report() -> Report:
    """A real scope's report as the scan writes it: every tenant OK, both checks."""
    rows = []
    for index in range(TENANTS):
        tenant = _tenant(index)
        results = {
            Check.RDS: CheckResult(
                check=Check.RDS,
                status=Status.OK,
                reason="newest automated snapshot 1 h old",
                key=f"rds:db-t{index:05d}-2026-11-27-06-00",
            ),
            Check.S3: CheckResult(
                check=Check.S3,
                status=Status.OK,
                reason="newest backup object 1 h old (64 B)",
                key=f"t{index:05d}-backups/backup-0000.dump",
            ),
        }
        rows.append(tenant_report(tenant, results, now=NOW))
    return Report(
        generated_at=NOW,
        regions=(REAL.region,),
        checks=(Check.RDS, Check.S3),
        tenants=tuple(rows),
        accounts=(MEMBER,),
    )


def test_a_synthesized_scope_is_another_account_regions_tenants_in_every_status() -> None:
    """Scope 5 of the fleet: its own account, region and tenant names everywhere (keys too),
    each lifecycle and failure status of the mix, one tenant failing on this day only."""
    [scope] = scale.fleet_scopes(
        load_settings(
            {
                **scale.targets_environment(1, 1),
                "BACKUPWATCH_REPORT_BUCKET": scale.REPORTS_BUCKET,
            }
        ),
        6,
    )[5:]
    real = _real_report()

    made = scale.synthesize(real, scope, 5, tenants=TENANTS, day=0, at=NOW)

    assert (made.accounts, made.regions) == ((scope.account_id,), (scope.region,))
    names = [row.tenant for row in made.tenants]
    assert names == [f"t{5 * TENANTS + i:05d}" for i in range(TENANTS)]
    text = made.to_json()
    assert MEMBER not in text
    assert "t00001" not in text  # renamed in the keys and reasons too
    statuses = Counter(row.status.value for row in made.tenants)
    assert set(scale.VARIANTS_PER_1000) | {"OK", "STALE"} == set(statuses)
    assert statuses["STALE"] == 1  # the day's churn: 5 per 1,000, at least one
    assert len({row.key for row in made.tenants}) == TENANTS
    other_day = scale.synthesize(real, scope, 5, tenants=TENANTS, day=1, at=NOW)
    changed = [a.tenant for a, b in zip(made.tenants, other_day.tenants, strict=True) if a != b]
    assert 1 <= len(changed) <= 2  # only the churn differs from one day to the next


def test_a_tiny_fleet_is_scanned_merged_published_and_verified(
    fake_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """2 scopes x 5 tenants, one run: the scan child's real scope, one synthesized scope, the
    publish child's merged report (every tenant once), the digest sent, figures recorded."""
    monkeypatch.setenv("MOTO_RDS_SNAPSHOT_LIMIT", "1000")  # the world raises it; restored
    for name, value in scale.FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "fleet.json"
    argv = ["--simulate-fleet", "--scopes", "2", "--tenants", "5", "--days", "1"]
    argv += ["--latency-ms", "0", "--json", str(out)]

    assert scale.main(argv) == 0

    results = json.loads(out.read_text(encoding="utf-8"))
    assert results["problems"] == []
    assert results["scan_verdicts"] == {"OK": 5}
    assert results["scan"]["calls"]["s3:ListObjectsV2"] == 5
    [day] = results["days"]
    publish = day["publish"]
    assert (publish["extra"]["tenants"], publish["extra"]["unique_keys"]) == (10, 10)
    assert publish["extra"]["message_id"]
    assert publish["rss_peak_kib"] >= publish["rss_imports_kib"] > 0
    assert day["partial_bytes"] == [0, 0]  # 5 tenants: returned inline, no partial in S3
    assert any(key.startswith("reports/") for key in day["archive_bytes"])


def test_a_seeded_day_moves_the_first_number_of_a_drifting_row() -> None:
    """``_drift``: another day's age for one row in ``DRIFTING_ROWS`` of the seeded history, so
    the reader's sharing of unchanged rows is not measured on copies alike in every row."""
    assert scale._drift("5 24 4", 3) == "8 24 4"
    assert scale._drift("31", 1) == "32"
    assert scale._drift("52.4 7", 1) == "52.4 7"
    assert scale._drift("", 2) == ""
