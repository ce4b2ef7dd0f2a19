"""Discovery: which DB instances are tenants, found by tag (AWS I/O).

One ``rds:DescribeDBInstances`` listing per region, every page; instances carrying the tenant
tag (or listed the seed's way in the environment) become tenants. Nothing is hard-coded:
onboarding a tenant is adding the tag.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .config import Settings
from .errors import AwsCallError
from .models import RegionError, Tenant
from .pagination import pages
from .retry import Retrier
from .tenancy import tenant_from_instance, tenant_not_found

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

PAGE_SIZE = 100  # the most RDS returns per page


@dataclass(frozen=True)
class Discovery:
    """What discovery found: tenants, and the regions it could not list."""

    tenants: tuple[Tenant, ...]
    region_errors: tuple[RegionError, ...] = field(default=())


def list_instances(rds: RDSClient, retrier: Retrier) -> list[Mapping[str, Any]]:
    """Every DB instance in the client's region, all pages."""
    instances: list[Mapping[str, Any]] = []
    for page in pages(
        retrier,
        "rds:DescribeDBInstances",
        rds.describe_db_instances,
        token_in="Marker",
        token_out="Marker",
        MaxRecords=PAGE_SIZE,
    ):
        instances.extend(page.get("DBInstances", []))
    return instances


def discover(
    settings: Settings,
    rds_by_region: Mapping[str, RDSClient],
    retrier: Retrier,
    *,
    account_id: str | None = None,
) -> Discovery:
    """Find every tenant in every configured region.

    A region whose listing fails becomes a ``RegionError`` (the run is then failing, never a
    false all-clear); the other regions go on. An instance listed in the environment that no
    region returned is reported as an ``ERROR`` tenant, never dropped.
    """
    seeds = {seed.db_instance_identifier: seed for seed in settings.seed_instances}
    found_seeds: set[str] = set()
    tenants: list[Tenant] = []
    region_errors: list[RegionError] = []
    for region in settings.regions:
        try:
            instances = list_instances(rds_by_region[region], retrier)
        except AwsCallError as error:
            region_errors.append(
                RegionError(region=region, reason=f"discovery failed: {error.short}")
            )
            continue
        for instance in instances:
            identifier = instance["DBInstanceIdentifier"]
            seed = seeds.get(identifier)
            tenant = tenant_from_instance(
                db_instance_identifier=identifier,
                region=region,
                tags=_tags(instance),
                backup_retention_period=int(instance.get("BackupRetentionPeriod", 0)),
                settings=settings,
                seed=seed,
                account_id=account_id,
            )
            if tenant is not None:
                tenants.append(tenant)
                if seed is not None:
                    found_seeds.add(identifier)
    for identifier, seed in seeds.items():
        if identifier not in found_seeds:
            tenants.append(
                tenant_not_found(
                    seed,
                    settings=settings,
                    regions_searched=settings.regions,
                    regions_failed=[e.region for e in region_errors],
                    account_id=account_id,
                )
            )
    return Discovery(tenants=tuple(tenants), region_errors=tuple(region_errors))


def _tags(instance: Mapping[str, Any]) -> dict[str, str]:
    return {tag["Key"]: tag.get("Value", "") for tag in instance.get("TagList", [])}
