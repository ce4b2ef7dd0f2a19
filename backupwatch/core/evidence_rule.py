"""The rule between the ``rds`` and ``backup`` checks: both required, or either suffices. Pure.

A fleet on AWS Backup has no automated snapshots to show, and one on automated snapshots no
recovery points; ``BACKUPWATCH_RDS_BACKUP_RULE=either`` (a tenant's tag may only make it
``both``) lets one satisfy the policy. When one is ``OK``, the other is kept in the row as
``SKIPPED``, ``deferred_to`` the one that satisfied, with a reason that says what it would
have been alone. When neither is ``OK``, one decides the tenant's status (``_deciding``: a
check that could not be made, else the better failing evidence, so a 30-hour-old snapshot is
``STALE``, not "no backup at all" because AWS Backup has none) and both verdicts and both
reasons stay in the row. "Either" never turns two failures into a pass, and a lifecycle
status of one never hides a failure of the other: a tenant is ``OK`` only on evidence that is.
"""

from __future__ import annotations

from collections.abc import Mapping

from backupwatch.core.config import Settings
from backupwatch.core.models import Check, CheckResult, Status, Tenant

PAIR = (Check.RDS, Check.BACKUP)


def rule_for(tenant: Tenant, settings: Settings) -> str:
    """``both`` or ``either`` for this tenant: its tag (never looser), else the setting."""
    return tenant.rds_backup_rule or settings.rds_backup_rule


def apply_rule(
    tenant: Tenant, results: Mapping[Check, CheckResult], settings: Settings
) -> dict[Check, CheckResult]:
    """``results`` with the rule applied: under "either", the check that does not decide the
    tenant's status is marked ``deferred_to`` the one that does."""
    combined = dict(results)
    if rule_for(tenant, settings) != "either" or not all(check in results for check in PAIR):
        return combined
    ok = [check for check in PAIR if results[check].status is Status.OK]
    if len(ok) == 2:
        return combined
    if len(ok) == 1:
        decides = ok[0]
        other = PAIR[1] if decides is Check.RDS else PAIR[0]
        alone = results[other]
        combined[other] = alone.model_copy(
            update={
                "status": Status.SKIPPED,
                "deferred_to": decides,
                "reason": f"not needed, {decides.value} suffices (rule either); "
                f"alone it would be {alone.status.value}: {alone.reason}",
            }
        )
        return combined
    decides = _deciding(results[Check.RDS], results[Check.BACKUP])
    other = PAIR[1] if decides is Check.RDS else PAIR[0]
    combined[other] = results[other].model_copy(update={"deferred_to": decides})
    return combined


def _deciding(rds: CheckResult, backup: CheckResult) -> Check:
    """Neither is OK: which one decides the tenant's status.

    "Could not check" decides first: under "either" an unread source may hold the backup the
    other lacks, so the tenant is ``ERROR``, never ``MISSING``. Then a failing status over a
    lifecycle one: a stopped instance's ``STOPPED`` excuses its automated snapshots, not the
    AWS Backup recovery point that could have been taken. Then the better evidence: a
    30-hour-old snapshot makes the tenant ``STALE``, whatever AWS Backup lacks.
    """
    pair = (rds, backup)
    errors = [r for r in pair if r.status is Status.ERROR or not r.status.known]
    failing = [r for r in pair if r.status.failing]
    candidates = errors or failing or list(pair)
    pick = errors[0] if errors else min(candidates, key=lambda r: r.status.severity)
    return pick.check


def counted_evidence(
    tenant: Tenant, results: Mapping[Check, CheckResult], settings: Settings
) -> frozenset[Check]:
    """The evidence the policy controls judge: what the tenant relies on. With "either" and
    one of the pair ``OK``, that one; otherwise every one of the pair that ran."""
    ran = frozenset(check for check in PAIR if check in results)
    if rule_for(tenant, settings) == "either":
        ok = frozenset(c for c in ran if results[c].status is Status.OK)
        if ok:
            return ok
    return ran
