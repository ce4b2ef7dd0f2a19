"""Discovery: which DB instances and DB clusters are tenants, found by tag (AWS I/O).

One ``rds:DescribeDBInstances`` and one ``rds:DescribeDBClusters`` listing per region, every
page; resources carrying the tenant tag (or listed the seed's way in the environment) become
tenants. Nothing is hard-coded: onboarding a tenant is adding the tag.

Clusters (Aurora, Multi-AZ DB clusters) are backed up per cluster, never per member instance,
so a member instance is never a tenant of its own:

- its cluster is a tenant: the member is left out (logged), the cluster row covers it;
- its cluster is not: the member is still reported, as an ``ERROR`` row that says to tag the
  cluster instead. A tagged resource is never dropped in silence.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeGuard

from backupwatch.aws.pagination import pages
from backupwatch.aws.retry import Retrier
from backupwatch.core.config import SeedInstance, Settings
from backupwatch.core.errors import AwsCallError
from backupwatch.core.models import Kind, RegionError, Tenant
from backupwatch.core.tenancy import Resource, tenant_from_resource, tenant_not_found

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

logger = logging.getLogger("backupwatch")

PAGE_SIZE = 100  # the most RDS returns per page


@dataclass(frozen=True)
class Discovery:
    """What discovery found: tenants, and the regions it could not list."""

    tenants: tuple[Tenant, ...]
    region_errors: tuple[RegionError, ...] = field(default=())
    expected_snapshots: Mapping[str, Mapping[Kind, int]] = field(default_factory=dict)
    """Per region and kind, about how many automated snapshots exist (the sum of retention
    days of every instance or cluster, tenant or not): what a bulk listing would have to read."""


# Only what discovery reads is kept of each listed resource: a DescribeDBInstances item is
# about 10 KB in memory, 100 MB for 10,000 instances; these fields are a fraction of it.
INSTANCE_FIELDS = (
    "DBInstanceIdentifier",
    "DbiResourceId",
    "DBClusterIdentifier",
    "DBInstanceStatus",
    "BackupRetentionPeriod",
    "Engine",
    "InstanceCreateTime",
    "LatestRestorableTime",
    "ReadReplicaSourceDBInstanceIdentifier",
    "TagList",
    "DBInstanceArn",
    "StorageEncrypted",
    "KmsKeyId",
)
CLUSTER_FIELDS = (
    "DBClusterIdentifier",
    "DbClusterResourceId",
    "DBClusterMembers",
    "Status",
    "BackupRetentionPeriod",
    "Engine",
    "ClusterCreateTime",
    "LatestRestorableTime",
    "TagList",
    "DBClusterArn",
    "StorageEncrypted",
    "KmsKeyId",
)


def instance_pages(rds: RDSClient, retrier: Retrier) -> Iterator[list[Mapping[str, Any]]]:
    """The DB instances of the client's region, a page at a time as RDS returns them, with
    ``INSTANCE_FIELDS`` only: a caller can start on a page's tenants before the next arrives."""
    return _pages(
        retrier,
        "rds:DescribeDBInstances",
        rds.describe_db_instances,
        "DBInstances",
        INSTANCE_FIELDS,
    )


def cluster_pages(rds: RDSClient, retrier: Retrier) -> Iterator[list[Mapping[str, Any]]]:
    """The DB clusters of the client's region, a page at a time, with ``CLUSTER_FIELDS`` only.

    Listed even where no instance names a cluster: an Aurora Serverless v1 cluster has no
    instances at all.
    """
    return _pages(
        retrier, "rds:DescribeDBClusters", rds.describe_db_clusters, "DBClusters", CLUSTER_FIELDS
    )


def _pages(
    retrier: Retrier,
    operation: str,
    call: Callable[..., Mapping[str, Any]],
    items: str,
    fields: tuple[str, ...],
) -> Iterator[list[Mapping[str, Any]]]:
    """The items of an RDS ``Describe*`` listing page by page, cut down to ``fields`` as each
    page arrives, so a page is never held longer than its own loop."""
    for page in pages(
        retrier, operation, call, token_in="Marker", token_out="Marker", MaxRecords=PAGE_SIZE
    ):
        yield [{k: item[k] for k in fields if k in item} for item in page.get(items, [])]


def discover(
    settings: Settings,
    rds_by_region: Mapping[str, RDSClient],
    retrier: Retrier,
    *,
    account_id: str | None = None,
    on_tenant: Callable[[Tenant], None] | None = None,
) -> Discovery:
    """Find every tenant in every configured region.

    A region whose instance listing fails becomes a ``RegionError`` (the run is then failing,
    never a false all-clear); the other regions go on. A region whose cluster listing alone
    fails is a ``RegionError`` too, but its instances are still checked. An instance listed in
    the environment that no region returned is reported as an ``ERROR`` tenant, never dropped.

    ``on_tenant`` is told each DB cluster tenant and each standalone DB instance tenant (not a
    cluster member) as soon as its page arrives, before the next page is asked for, so its S3
    listing can start while discovery goes on. It is the very ``Tenant`` object ``tenants``
    will hold unless a later page or listing fails. It runs on this thread; an exception it
    raises is logged and ignored: it may only start work early, never change what is
    discovered.
    """
    seeds = {seed.db_instance_identifier: seed for seed in settings.seed_instances}
    found_seeds: set[str] = set()
    tenants: list[Tenant] = []
    region_errors: list[RegionError] = []
    expected: dict[str, dict[Kind, int]] = {}
    for region in settings.regions:
        rds = rds_by_region[region]
        instances: list[Mapping[str, Any]] = []
        built: dict[str, Tenant | None] = {}
        try:
            for page in instance_pages(rds, retrier):
                instances.extend(page)
                for instance in page:
                    tenant = _built(instance, region, settings, seeds, account_id)
                    built[instance["DBInstanceIdentifier"]] = tenant
                    if on_tenant is not None and _standalone(tenant):
                        _tell(on_tenant, tenant)
        except Exception as error:  # AWS trouble, an odd page or a bug: this region's alone
            region_errors.append(RegionError(region=region, reason=_failed(error, region)))
            continue
        clusters: list[Mapping[str, Any]] | None
        listed: list[Mapping[str, Any]] = []
        instance_ids = set(built)
        built_clusters: dict[str, Tenant | None] = {}
        try:
            for page in cluster_pages(rds, retrier):
                listed.extend(page)
                for cluster in page:
                    tenant = _built_cluster(
                        cluster, region, settings, seeds, instance_ids, account_id
                    )
                    built_clusters[cluster["DBClusterIdentifier"]] = tenant
                    if on_tenant is not None and tenant is not None:
                        _tell(on_tenant, tenant)
            clusters = listed
        except Exception as error:
            clusters = None
            region_errors.append(
                RegionError(
                    region=region,
                    reason=f"cluster {_failed(error, region)}; "
                    "DB instances were checked, DB clusters were not",
                )
            )
        expected[region] = {
            # A cluster member's snapshots are its cluster's: counted once, as the cluster's.
            "instance": sum(_retention(i) for i in instances if not i.get("DBClusterIdentifier")),
            "cluster": sum(_retention(c) for c in clusters or []),
        }
        try:
            found = _region_tenants(
                settings,
                region,
                instances,
                clusters,
                seeds,
                account_id=account_id,
                built=built,
                built_clusters=built_clusters,
            )
        except Exception as error:  # each tenant is guarded; this is the region's own logic
            region_errors.append(RegionError(region=region, reason=_failed(error, region)))
            continue
        tenants.extend(found.tenants)
        found_seeds |= found.seeds
    for identifier, seed in seeds.items():
        if identifier not in found_seeds:
            tenants.append(
                tenant_not_found(
                    seed,
                    settings=settings,
                    regions_searched=settings.regions,
                    regions_failed=[e.region for e in region_errors if e.region],
                    account_id=account_id,
                )
            )
    return Discovery(
        tenants=tuple(tenants), region_errors=tuple(region_errors), expected_snapshots=expected
    )


def _built(
    instance: Mapping[str, Any],
    region: str,
    settings: Settings,
    seeds: Mapping[str, SeedInstance],
    account_id: str | None,
) -> Tenant | None:
    """The tenant of one listed DB instance, or None when it is not one."""
    return _tenant_or_error(
        instance,
        "instance",
        region,
        settings=settings,
        seed=seeds.get(instance["DBInstanceIdentifier"]),
        account_id=account_id,
    )


def _built_cluster(
    cluster: Mapping[str, Any],
    region: str,
    settings: Settings,
    seeds: Mapping[str, SeedInstance],
    instance_ids: Collection[str],
    account_id: str | None,
) -> Tenant | None:
    """The tenant of one listed DB cluster, or None when it is not one. A seed names a DB
    instance; it names a cluster only when no instance of the region has that name."""
    identifier = cluster["DBClusterIdentifier"]
    seed = seeds.get(identifier) if identifier not in instance_ids else None
    return _tenant_or_error(
        cluster, "cluster", region, settings=settings, seed=seed, account_id=account_id
    )


def _standalone(tenant: Tenant | None) -> TypeGuard[Tenant]:
    """A DB instance tenant no cluster can take over: its row is final once built."""
    return tenant is not None and tenant.db_cluster_identifier is None


def _tell(on_tenant: Callable[[Tenant], None], tenant: Tenant) -> None:
    try:
        on_tenant(tenant)
    except Exception:
        logger.exception("starting early work for tenant %s failed; it waits", tenant.name)


def _failed(error: Exception, region: str) -> str:
    """Why a region's discovery failed: the AWS error, or (logged with its traceback) a bug."""
    if isinstance(error, AwsCallError):
        return f"discovery failed: {error.short}"
    logger.exception("discovery in %s crashed", region)
    return f"discovery failed unexpectedly: {type(error).__name__}: {error}"


def _retention(resource: Mapping[str, Any]) -> int:
    """Retention days: about the number of automated snapshots RDS keeps (one a day)."""
    return int(resource.get("BackupRetentionPeriod") or 0)


@dataclass(frozen=True)
class _RegionTenants:
    tenants: list[Tenant]
    seeds: set[str]
    """Identifiers of seed entries this region accounted for."""


def _region_tenants(
    settings: Settings,
    region: str,
    instances: list[Mapping[str, Any]],
    clusters: list[Mapping[str, Any]] | None,
    seeds: Mapping[str, SeedInstance],
    *,
    account_id: str | None,
    built: Mapping[str, Tenant | None] | None = None,
    built_clusters: Mapping[str, Tenant | None] | None = None,
) -> _RegionTenants:
    """The tenants of one region: instances first (in listing order), then clusters.

    ``clusters`` is None when the cluster listing failed: members are then reported, since
    whether their cluster is a tenant cannot be known. ``built`` and ``built_clusters``: the
    instances' and clusters' tenants already made as their pages arrived (identifier ->
    tenant, None: not a tenant).
    """
    instance_ids = {instance["DBInstanceIdentifier"] for instance in instances}
    found_seeds: set[str] = set()

    cluster_tenants: dict[str, Tenant] = {}
    for cluster in clusters or []:
        identifier = cluster["DBClusterIdentifier"]
        seed = seeds.get(identifier) if identifier not in instance_ids else None
        tenant = (
            built_clusters[identifier]
            if built_clusters is not None and identifier in built_clusters
            else _built_cluster(cluster, region, settings, seeds, instance_ids, account_id)
        )
        if tenant is not None:
            cluster_tenants[identifier] = tenant
            if seed is not None:
                found_seeds.add(identifier)

    tenants: list[Tenant] = []
    for instance in instances:
        identifier = instance["DBInstanceIdentifier"]
        seed = seeds.get(identifier)
        tenant = (
            built[identifier]
            if built is not None and identifier in built
            else _built(instance, region, settings, seeds, account_id)
        )
        if tenant is None:
            continue
        if seed is not None:
            found_seeds.add(identifier)
        cluster_id = tenant.db_cluster_identifier
        if cluster_id is not None and cluster_id in cluster_tenants:
            logger.info(
                "instance %s in %s is a member of DB cluster %s, which is the tenant: "
                "the member is not a tenant of its own",
                identifier,
                region,
                cluster_id,
            )
            continue
        if cluster_id is not None:
            tenant = tenant.model_copy(
                update={"problems": (_member_problem(cluster_id, clusters), *tenant.problems)}
            )
        tenants.append(tenant)
    tenants.extend(cluster_tenants.values())
    return _RegionTenants(tenants=tenants, seeds=found_seeds)


def _member_problem(cluster_id: str, clusters: list[Mapping[str, Any]] | None) -> str:
    where = f"member of DB cluster {cluster_id!r}, which RDS backs up as a whole"
    if clusters is None:
        return f"{where}; the clusters could not be listed, so its backups are unknown"
    return f"{where}: tag the cluster instead of this instance"


def _tenant_or_error(
    raw: Mapping[str, Any],
    kind: Kind,
    region: str,
    *,
    settings: Settings,
    seed: SeedInstance | None,
    account_id: str | None,
) -> Tenant | None:
    """``tenant_from_resource``, with a bug or an odd response confined to its own tenant.

    Whatever a tag value or a Describe entry holds, the tenant is still listed: ``ERROR``
    with "check failed unexpectedly", never a crash that loses every tenant's verdict.
    """
    try:
        resource = (
            _instance_resource(raw, region)
            if kind == "instance"
            else _cluster_resource(raw, region)
        )
        return tenant_from_resource(resource, settings=settings, seed=seed, account_id=account_id)
    except Exception as error:
        logger.exception("tenant from %s in %s failed", kind, region)
        identifier = str(
            raw.get("DBInstanceIdentifier" if kind == "instance" else "DBClusterIdentifier", "?")
        )
        tags = {
            str(tag.get("Key")): str(tag.get("Value", ""))
            for tag in raw.get("TagList", []) or []
            if isinstance(tag, Mapping)
        }
        if settings.tenant_tag not in tags and seed is None:
            return None
        return Tenant(
            name=tags.get(settings.tenant_tag, "").strip() or identifier,
            db_instance_identifier=identifier,
            region=region,
            kind=kind,
            account_id=account_id,
            max_age_hours=settings.max_age_hours,
            min_object_bytes=settings.min_object_bytes,
            problems=(f"check failed unexpectedly: {type(error).__name__}: {error}",),
        )


def _instance_resource(instance: Mapping[str, Any], region: str) -> Resource:
    return Resource(
        identifier=instance["DBInstanceIdentifier"],
        region=region,
        tags=_tags(instance),
        backup_retention_period=int(instance.get("BackupRetentionPeriod", 0)),
        kind="instance",
        resource_id=instance.get("DbiResourceId") or None,
        db_cluster_identifier=instance.get("DBClusterIdentifier") or None,
        engine=instance.get("Engine"),
        status=instance.get("DBInstanceStatus"),
        created_at=_aware(instance.get("InstanceCreateTime")),
        read_replica_source=instance.get("ReadReplicaSourceDBInstanceIdentifier") or None,
        latest_restorable_time=_aware(instance.get("LatestRestorableTime")),
        arn=instance.get("DBInstanceArn") or None,
        storage_encrypted=_flag(instance.get("StorageEncrypted")),
        kms_key_id=instance.get("KmsKeyId") or None,
    )


def _cluster_resource(cluster: Mapping[str, Any], region: str) -> Resource:
    return Resource(
        identifier=cluster["DBClusterIdentifier"],
        region=region,
        tags=_tags(cluster),
        backup_retention_period=int(cluster.get("BackupRetentionPeriod", 0)),
        kind="cluster",
        resource_id=cluster.get("DbClusterResourceId") or None,
        members=tuple(
            member["DBInstanceIdentifier"]
            for member in cluster.get("DBClusterMembers", [])
            if "DBInstanceIdentifier" in member
        ),
        engine=cluster.get("Engine"),
        status=cluster.get("Status"),
        created_at=_aware(cluster.get("ClusterCreateTime")),
        latest_restorable_time=_aware(cluster.get("LatestRestorableTime")),
        arn=cluster.get("DBClusterArn") or None,
        storage_encrypted=_flag(cluster.get("StorageEncrypted")),
        kms_key_id=cluster.get("KmsKeyId") or None,
    )


def _flag(value: Any) -> bool | None:
    """A boolean RDS gave, or None when it gave none (never guessed as False)."""
    return value if isinstance(value, bool) else None


def _aware(value: Any) -> datetime | None:
    """botocore parses timestamps to aware datetimes; anything else is treated as unknown."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value
    return None


def _tags(resource: Mapping[str, Any]) -> dict[str, str]:
    return {tag["Key"]: tag.get("Value", "") for tag in resource.get("TagList", [])}
