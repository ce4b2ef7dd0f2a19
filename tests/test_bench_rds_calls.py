"""Smoke test of ``benchmarks.rds_calls`` on tiny regions: backupwatch's RDS calls are the
floor, and the counting would show a careless strategy above it. The figures for 1,000 and
2,000 instances are in docs/performance.md ("RDS calls per tenant, by retention")."""

from __future__ import annotations

from benchmarks.rds_calls import Case, count, table


def test_a_full_region_at_35_days_costs_the_bulk_floor_and_per_tenant_more() -> None:
    """10 tenants, 350 snapshots: 1 + 1 + 4 calls; one call per tenant would be 1 + 1 + 10."""
    case = Case(instances=10, tenants=10, retention=35)

    chosen = count(case)
    careless = count(case, careless=True)

    assert chosen.calls == {
        "rds:DescribeDBClusters": 1,
        "rds:DescribeDBInstances": 1,
        "rds:DescribeDBSnapshots": 4,
    }
    assert chosen.rds == case.floor == case.tenants_floor == 6
    assert careless.rds == case.per_tenant == 12 > chosen.rds
    assert "| every instance a tenant | 10 | 10 | 35 d | 350 | 6 | 0.60 |" in table([chosen])


def test_a_few_tenants_read_only_their_own_snapshots() -> None:
    """2 tenants among 40 instances at 35 days: the others' 1,330 snapshots are not paged
    through (the bulk listing's 14 pages), and neither is a call made per tenant."""
    case = Case(instances=40, tenants=2, retention=35)

    chosen = count(case)

    assert chosen.rds == case.tenants_floor == 1 + 1 + 1
    assert case.per_tenant == 4
    assert case.floor == 1 + 1 + 14
