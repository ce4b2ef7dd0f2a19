"""The rule between the ``rds`` and ``backup`` checks (``BACKUPWATCH_RDS_BACKUP_RULE``), pure.

``apply_rule`` (backupwatch/core/evidence_rule.py) marks the check that does not decide the
tenant's status ``deferred_to`` the one that does, and ``tenant_report`` leaves a deferred
check out of the tenant's status while keeping it in the row and its reason. Each rule has
its careless variant beside it: the evidence that must not pass.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from typing import Any

import pytest

from backupwatch.core.config import DEFAULT_TENANT_TAG, Settings
from backupwatch.core.evaluation import tenant_report
from backupwatch.core.evidence_rule import PAIR, apply_rule, counted_evidence, rule_for
from backupwatch.core.models import Check, CheckResult, Report, Status, Tenant, TenantReport
from backupwatch.core.tenancy import TAG_RDS_BACKUP_RULE, tenant_from_instance

from .conftest import NOW, REGION

EITHER = Settings(regions=(REGION,), checks=(Check.RDS, Check.BACKUP), rds_backup_rule="either")
BOTH = Settings(regions=(REGION,), checks=(Check.RDS, Check.BACKUP))
NOT_OK = [status for status in Status if status is not Status.OK]
FAILING = [status for status in Status if status.failing]


def tenant(**fields: Any) -> Tenant:
    base: dict[str, Any] = {
        "name": "acme",
        "db_instance_identifier": "db-acme",
        "region": REGION,
        "max_age_hours": 24,
        "min_object_bytes": 1,
        "backup_retention_period": 7,
    }
    return Tenant(**{**base, **fields})


def result(check: Check, status: Status, reason: str | None = None) -> CheckResult:
    """A check result with a recognisable reason."""
    return CheckResult(check=check, status=status, reason=reason or f"{check.value} said {status}")


def pair(rds: Status, backup: Status) -> dict[Check, CheckResult]:
    return {Check.RDS: result(Check.RDS, rds), Check.BACKUP: result(Check.BACKUP, backup)}


def judged(
    results: Mapping[Check, CheckResult], settings: Settings = EITHER, who: Tenant | None = None
) -> TenantReport:
    """The row ``check_tenants`` would make: the rule applied, then the results combined."""
    who = who or tenant()
    return tenant_report(who, apply_rule(who, results, settings), now=NOW, settings=settings)


def report(*rows: TenantReport) -> Report:
    return Report(generated_at=NOW, regions=(REGION,), checks=PAIR, tenants=rows)


# --- rule "either": one OK suffices -----------------------------------------------------------


def test_rds_disabled_is_not_needed_when_aws_backup_is_ok() -> None:
    """A fleet on AWS Backup: automated backups off, a fresh recovery point. The tenant is OK;
    the rds verdict stays in the row as SKIPPED, deferred to backup, saying what it would be."""
    results = {
        Check.RDS: result(Check.RDS, Status.DISABLED, "automated backups are off"),
        Check.BACKUP: result(Check.BACKUP, Status.OK, "AWS Backup recovery point 5 h old"),
    }
    combined = apply_rule(tenant(), results, EITHER)
    rds = combined[Check.RDS]
    assert rds.status is Status.SKIPPED
    assert rds.deferred_to is Check.BACKUP
    assert rds.reason == (
        "not needed, backup suffices (rule either); "
        "alone it would be DISABLED: automated backups are off"
    )
    assert combined[Check.BACKUP] == results[Check.BACKUP]
    assert combined[Check.BACKUP].deferred_to is None

    row = tenant_report(tenant(), combined, now=NOW, settings=EITHER)
    assert row.status is Status.OK
    assert not row.failing
    assert row.checks == combined
    # An OK row shows every check, what satisfied the policy first.
    assert row.reason == (
        "backup: AWS Backup recovery point 5 h old; rds: not needed, backup suffices "
        "(rule either); alone it would be DISABLED: automated backups are off"
    )


def test_backup_missing_is_not_needed_when_rds_is_ok() -> None:
    """The other way round: a fleet on automated snapshots, nothing in AWS Backup."""
    results = {
        Check.RDS: result(Check.RDS, Status.OK, "newest automated snapshot 5 h old"),
        Check.BACKUP: result(Check.BACKUP, Status.MISSING, "no AWS Backup recovery point"),
    }
    row = judged(results)
    assert row.status is Status.OK
    assert not row.failing
    backup = row.checks[Check.BACKUP]
    assert backup.status is Status.SKIPPED
    assert backup.deferred_to is Check.RDS
    assert "alone it would be MISSING: no AWS Backup recovery point" in backup.reason
    assert row.checks[Check.RDS] == results[Check.RDS]


@pytest.mark.parametrize("other", NOT_OK)
@pytest.mark.parametrize("ok", PAIR)
def test_whatever_the_other_says_one_ok_suffices(ok: Check, other: Status) -> None:
    """Under "either", one OK of the pair makes the tenant OK, whatever the other's verdict;
    the other is SKIPPED, deferred to the OK one, and keeps its verdict in its reason."""
    results = pair(Status.OK, other) if ok is Check.RDS else pair(other, Status.OK)
    row = judged(results)
    assert row.status is Status.OK
    [deferred] = [r for r in row.checks.values() if r.deferred_to is not None]
    assert deferred.check is not ok
    assert deferred.deferred_to is ok
    assert deferred.status is Status.SKIPPED
    assert f"alone it would be {other.value}: " in deferred.reason
    assert row.checks[ok] == results[ok]


def test_both_ok_defers_nothing() -> None:
    results = pair(Status.OK, Status.OK)
    assert apply_rule(tenant(), results, EITHER) == results
    row = judged(results)
    assert row.status is Status.OK
    assert all(r.deferred_to is None for r in row.checks.values())


def test_either_never_hides_the_tenants_own_problems_or_the_other_checks() -> None:
    """Careless variant: "either" read as "the tenant is OK". Only the pair is concerned: a
    problem of the tenant, a failing s3 or policy check still decide the status."""
    results = {
        **pair(Status.DISABLED, Status.OK),
        Check.S3: result(Check.S3, Status.STALE),
        Check.POLICY: result(Check.POLICY, Status.NONCOMPLIANT),
    }
    combined = apply_rule(tenant(), results, EITHER)
    for check in (Check.S3, Check.POLICY, Check.BACKUP):
        assert combined[check] == results[check]
    stale = tenant_report(tenant(), combined)
    assert stale.status is Status.STALE
    # A failing row explains its failure: the check that was not needed is not in it.
    assert stale.reason == "s3: s3 said STALE; policy: policy said NONCOMPLIANT"
    assert stale.checks[Check.RDS].deferred_to is Check.BACKUP
    del combined[Check.S3]
    assert tenant_report(tenant(), combined).status is Status.NONCOMPLIANT
    broken = tenant(problems=("tag backupwatch:max-age-hours='soon' is not a number",))
    row = judged(pair(Status.DISABLED, Status.OK), who=broken)
    assert row.status is Status.ERROR
    assert row.failing


@pytest.mark.parametrize("status", NOT_OK)
@pytest.mark.parametrize("ran", PAIR)
def test_with_only_one_of_the_pair_run_nothing_is_deferred(ran: Check, status: Status) -> None:
    """Careless variant: a check that did not run (the tenant's ``backupwatch:checks`` left it
    out) read as the other's proof. Its verdict stands alone."""
    results = {ran: result(ran, status)}
    assert apply_rule(tenant(), results, EITHER) == results
    assert judged(results).status is status


# --- rule "either": neither OK ----------------------------------------------------------------


@pytest.mark.parametrize(("rds", "backup"), list(itertools.product(NOT_OK, NOT_OK)))
def test_neither_ok_both_verdicts_stand_and_the_row_gives_both_reasons(
    rds: Status, backup: Status
) -> None:
    """Neither is OK: each keeps its own status and reason (nothing is SKIPPED), the row's
    reason carries both, and the tenant is never OK."""
    results = pair(rds, backup)
    row = judged(results)
    for check in PAIR:
        assert row.checks[check].status is results[check].status
        assert row.checks[check].reason == results[check].reason
        assert f"{check.value}: {results[check].reason}" in row.reason
    assert row.status is not Status.OK
    assert row.status in (rds, backup)


@pytest.mark.parametrize(("rds", "backup"), list(itertools.product(FAILING, FAILING)))
def test_either_never_turns_two_failures_into_a_pass(rds: Status, backup: Status) -> None:
    """Careless variant: "either" read as "one of them is enough to pass". Two failing
    verdicts make a failing tenant, of one of the two statuses."""
    row = judged(pair(rds, backup))
    assert row.status.failing
    assert row.failing
    assert row.status in (rds, backup)


@pytest.mark.parametrize(
    ("rds", "backup", "expected"),
    [
        (Status.DISABLED, Status.MISSING, Status.DISABLED),
        (Status.MISSING, Status.STALE, Status.STALE),
        (Status.STALE, Status.MISSING, Status.STALE),
        (Status.STALE, Status.STALE, Status.STALE),
        # Could not check decides: the unread source may hold the backup the other lacks.
        (Status.ERROR, Status.SUSPECT, Status.ERROR),
        (Status.EMPTY, Status.ERROR, Status.ERROR),
        (Status.MISSING, Status.ERROR, Status.ERROR),
        # A lifecycle status of one never hides a failure of the other.
        (Status.STOPPED, Status.MISSING, Status.MISSING),
        (Status.SKIPPED, Status.STALE, Status.STALE),
        (Status.PENDING, Status.PAUSED, Status.PAUSED),
    ],
)
def test_neither_ok_one_decides_and_both_reasons_stay(
    rds: Status, backup: Status, expected: Status
) -> None:
    """Neither OK (evidence_rule._deciding): a check that could not be made decides (ERROR,
    never MISSING); else the better failing evidence (a 30-hour-old snapshot is STALE, not
    "no backup at all" because AWS Backup has none); a lifecycle status only when neither
    fails. The other is deferred to it; under "both" the worse one always decides."""
    results = pair(rds, backup)
    row = judged(results)
    assert row.status is expected
    assert row.failing is (rds.failing or backup.failing)
    deferred = [r for r in row.checks.values() if r.deferred_to is not None]
    assert len(deferred) == 1
    [decides] = [c for c in PAIR if c is not deferred[0].check]
    assert deferred[0].deferred_to is decides
    assert results[decides].status is expected
    assert judged(results, BOTH).status is max(rds, backup, key=lambda s: s.severity)


# --- rule "both" --------------------------------------------------------------------------------


@pytest.mark.parametrize(("rds", "backup"), list(itertools.product(Status, Status)))
def test_under_both_nothing_changes(rds: Status, backup: Status) -> None:
    """The default: every result as judged, nothing deferred, the worse decides."""
    results = pair(rds, backup)
    assert apply_rule(tenant(), results, BOTH) == results
    row = judged(results, BOTH)
    assert all(r.deferred_to is None for r in row.checks.values())
    assert row.status is max(rds, backup, key=lambda s: s.severity)


@pytest.mark.parametrize("rds", [Status.MISSING, Status.DISABLED, Status.STALE, Status.ERROR])
def test_under_both_a_fresh_recovery_point_never_vouches_for_rds(rds: Status) -> None:
    """Careless variant: AWS Backup's OK excusing missing automated backups when the policy
    wants both."""
    row = judged(pair(rds, Status.OK), BOTH)
    assert row.status is rds
    assert row.failing
    assert row.checks[Check.RDS].status is rds
    assert row.checks[Check.RDS].deferred_to is None


def test_a_tenant_tag_both_under_the_setting_either_requires_both() -> None:
    """``backupwatch:rds-backup-rule=both`` tightens "either" for that tenant alone."""
    strict = tenant(rds_backup_rule="both")
    assert rule_for(strict, EITHER) == "both"
    assert rule_for(tenant(), EITHER) == "either"
    results = pair(Status.MISSING, Status.OK)
    assert apply_rule(strict, results, EITHER) == results
    row = judged(results, who=strict)
    assert row.status is Status.MISSING
    assert row.failing
    assert judged(results).status is Status.OK  # the other tenants: "either"


def test_the_tag_read_from_the_instance_tightens_the_rule() -> None:
    """The same, from the tag as discovery reads it (case and spaces forgiven)."""
    found = tenant_from_instance(
        db_instance_identifier="db-acme",
        region=REGION,
        tags={DEFAULT_TENANT_TAG: "acme", TAG_RDS_BACKUP_RULE: " Both "},
        backup_retention_period=0,
        settings=EITHER,
    )
    assert found is not None
    assert found.problems == ()
    assert found.rds_backup_rule == "both"
    assert rule_for(found, EITHER) == "both"
    assert judged(pair(Status.DISABLED, Status.OK), who=found).status is Status.DISABLED


def test_a_tag_either_under_both_stays_both() -> None:
    """A tag never loosens the policy: the tenant is ERROR and both are required."""
    found = tenant_from_instance(
        db_instance_identifier="db-acme",
        region=REGION,
        tags={DEFAULT_TENANT_TAG: "acme", TAG_RDS_BACKUP_RULE: "either"},
        backup_retention_period=0,
        settings=BOTH,
    )
    assert found is not None
    assert found.rds_backup_rule is None
    assert rule_for(found, BOTH) == "both"
    assert any("cannot loosen" in problem for problem in found.problems)
    row = judged(pair(Status.DISABLED, Status.OK), BOTH, who=found)
    assert row.status is Status.ERROR
    assert row.checks[Check.RDS].deferred_to is None


# --- tenant_report: a deferred check is in the row, not in its status ------------------------


def test_tenant_report_leaves_a_deferred_result_out_of_the_status() -> None:
    """Whoever set ``deferred_to``, ``tenant_report`` counts only the others."""
    deferred = result(Check.RDS, Status.MISSING).model_copy(update={"deferred_to": Check.BACKUP})
    results = {Check.RDS: deferred, Check.BACKUP: result(Check.BACKUP, Status.STALE)}
    row = tenant_report(tenant(), results)
    assert row.status is Status.STALE
    assert row.checks[Check.RDS] is deferred
    assert "rds: rds said MISSING" in row.reason
    undeferred = {**results, Check.RDS: result(Check.RDS, Status.MISSING)}
    assert tenant_report(tenant(), undeferred).status is Status.MISSING


# --- the evidence the policy controls judge ---------------------------------------------------


@pytest.mark.parametrize(
    ("rds", "backup", "settings", "expected"),
    [
        (Status.OK, Status.MISSING, EITHER, {Check.RDS}),
        (Status.DISABLED, Status.OK, EITHER, {Check.BACKUP}),
        (Status.OK, Status.OK, EITHER, {Check.RDS, Check.BACKUP}),
        (Status.STALE, Status.MISSING, EITHER, {Check.RDS, Check.BACKUP}),
        (Status.OK, Status.MISSING, BOTH, {Check.RDS, Check.BACKUP}),
    ],
)
def test_counted_evidence_is_what_the_tenant_relies_on(
    rds: Status, backup: Status, settings: Settings, expected: set[Check]
) -> None:
    assert counted_evidence(tenant(), pair(rds, backup), settings) == expected
    assert counted_evidence(tenant(), {Check.RDS: result(Check.RDS, rds)}, settings) == {Check.RDS}


# --- the JSON ---------------------------------------------------------------------------------


def test_deferred_to_round_trips_and_is_written_only_when_set() -> None:
    """A row with a deferred check is read back equal, ``"deferred_to": "backup"`` on the rds
    result alone; a report without one has no such field anywhere (byte for byte as before)."""
    either_row = judged(pair(Status.DISABLED, Status.OK))
    both_row = judged(pair(Status.DISABLED, Status.OK), BOTH).model_copy(
        update={"tenant": "globex"}
    )
    written = report(either_row, both_row)
    for text in (written.to_json(), written.to_json(indent=2)):
        read = Report.from_json(text)
        assert read == written
        assert read.to_json(indent=2 if "\n" in text else None) == text
        assert read.tenants[0].checks[Check.RDS].deferred_to is Check.BACKUP
        assert text.count('"deferred_to"') == 1
    document = json.loads(written.to_json())
    acme, globex = document["tenants"]
    assert acme["checks"]["rds"]["deferred_to"] == "backup"
    assert acme["checks"]["rds"]["status"] == "SKIPPED"
    assert "deferred_to" not in acme["checks"]["backup"]
    assert all("deferred_to" not in r for r in globex["checks"].values())
    assert '"deferred_to"' not in report(both_row).to_json()
    assert "deferred_to" not in result(Check.RDS, Status.OK).model_dump(mode="json")


def test_a_null_deferred_to_is_read_and_not_written() -> None:
    """A reader may meet an explicit null (another writer): it means "not deferred"."""
    document = json.loads(report(judged(pair(Status.OK, Status.OK))).to_json())
    document["tenants"][0]["checks"]["rds"]["deferred_to"] = None
    read = Report.from_json(json.dumps(document))
    assert read.tenants[0].checks[Check.RDS].deferred_to is None
    assert '"deferred_to"' not in read.to_json()
