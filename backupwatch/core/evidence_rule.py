"""The rule between the ``rds`` and ``backup`` checks: both required, or either suffices. Pure.

A fleet on AWS Backup has no automated snapshots to show, and one on automated snapshots no
recovery points; ``BACKUPWATCH_RDS_BACKUP_RULE=either`` (or a tenant's tag, which may only
make it ``both``) lets one satisfy the policy. Then the other check is kept in the row, as
``SKIPPED`` with ``satisfied_by`` and a reason that says what it would have been alone, and
the tenant's status leaves it out. When neither is ``OK``, both verdicts stand as they are, so
the row gives both reasons and the worse status: "either" never turns two failures into a
pass, nor hides one behind a lifecycle status of the other.
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
    """``results`` with the check that another satisfied marked as not needed."""
    combined = dict(results)
    if rule_for(tenant, settings) != "either" or not all(check in results for check in PAIR):
        return combined
    ok = [check for check in PAIR if results[check].status is Status.OK]
    if len(ok) != 1:
        return combined
    satisfied = ok[0]
    other = PAIR[1] if satisfied is Check.RDS else PAIR[0]
    alone = results[other]
    combined[other] = alone.model_copy(
        update={
            "status": Status.SKIPPED,
            "satisfied_by": satisfied,
            "reason": f"not needed, {satisfied.value} satisfies the policy (either suffices); "
            f"alone it would be {alone.status.value}: {alone.reason}",
        }
    )
    return combined


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
