"""``backupwatch.cli.fake_aws``: the AWS Backup and RDS evidence APIs moto lacks, faked at HTTP.

Every call goes through a real boto3 client, so botocore serializes the request and parses the
fake's answer exactly as it would AWS's. The faithfulness tests walk each answer against the
botocore model: a field or enum value the model lacks would be a fake that lies to the tests
built on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import boto3
import botocore.handlers
import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.model import ListShape, MapShape, Shape, StringShape, StructureShape

from backupwatch.cli import fake_aws
from backupwatch.cli.fake_aws import FAKED_OPERATIONS, FakeAws

from .conftest import ACCOUNT, NOW, OTHER_REGION, REGION, World

DB_ARN = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:orders"
CLUSTER_ARN = f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:billing"
OTHER_DB_ARN = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:payroll"


@pytest.fixture
def fake(aws: None) -> Iterator[FakeAws]:
    """An active fake world inside moto, its clock at NOW."""
    with FakeAws(clock=lambda: NOW) as world:
        yield world


@pytest.fixture
def backup(aws: None) -> Any:
    return boto3.Session(region_name=REGION).client("backup")


@pytest.fixture
def rds(aws: None) -> Any:
    return boto3.Session(region_name=REGION).client("rds")


def code_of(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response: Any = error.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def point(fake: FakeAws, hours: float, **overrides: Any) -> str:
    fields: dict[str, Any] = {
        "region": REGION,
        "vault": "Default",
        "resource_arn": DB_ARN,
        "resource_type": "RDS",
        "created": NOW - timedelta(hours=hours),
    }
    return fake.add_recovery_point(**(fields | overrides))


# --- the mechanism -----------------------------------------------------------------------------


def test_one_handler_per_operation_under_the_models_event_name() -> None:
    session = botocore.session.get_session()
    registered = [  # (event, handler) or (event, handler, REGISTER_FIRST/LAST)
        entry[0] for entry in botocore.handlers.BUILTIN_HANDLERS if entry[1] is fake_aws._handler
    ]
    expected = [
        f"before-send.{session.get_service_model(service).service_id.hyphenize()}.{operation}"
        for operation, service in FAKED_OPERATIONS.items()
    ]
    assert registered == expected
    for operation, service in FAKED_OPERATIONS.items():  # every name is a real operation
        assert session.get_service_model(service).operation_model(operation).name == operation


def test_our_handler_runs_before_motos(backup: Any) -> None:
    """botocore calls ``before-send.backup.ListBackupVaults`` handlers before ``before-send``
    ones and takes the first response: with a world active, moto's vaults are not listed."""
    from moto.core.models import botocore_stubber

    backup.create_backup_vault(BackupVaultName="moto-vault")

    def names() -> list[str]:
        return [v["BackupVaultName"] for v in backup.list_backup_vaults()["BackupVaultList"]]

    assert names() == ["moto-vault"]
    with FakeAws() as world:
        world.add_vault(REGION, "world-vault")
        assert names() == ["world-vault"]
    assert names() == ["moto-vault"]
    order = list(
        backup.meta.events._emitter._handlers.prefix_search("before-send.backup.ListBackupVaults")
    )
    assert order.index(fake_aws._handler) < order.index(botocore_stubber)


def test_nothing_is_faked_without_a_world(backup: Any, rds: Any) -> None:
    with pytest.raises(ClientError) as error:  # moto: "Not yet implemented"
        backup.list_backup_jobs()
    assert code_of(error)[1] == 404
    assert rds.describe_db_snapshots(SnapshotType="awsbackup")["DBSnapshots"] == []


def test_usable_outside_mock_aws(fake_env: None) -> None:
    """No moto: the world answers, and no request leaves the process."""
    with FakeAws() as world:
        world.add_vault(REGION, "Default")
        client = boto3.Session(region_name=REGION).client("backup")
        listed = client.list_backup_vaults()["BackupVaultList"]
    assert [v["BackupVaultName"] for v in listed] == ["Default"]


def test_one_world_at_a_time_and_reset(fake_env: None) -> None:
    with FakeAws() as world:
        assert fake_aws.active_world() is world
        with pytest.raises(RuntimeError), FakeAws():
            pass
        point(world, 1)
        world.fail("ListBackupJobs")
        world.reset()  # the demo restages each morning from scratch
        client = boto3.Session(region_name=REGION).client("backup")
        assert client.list_backup_vaults()["BackupVaultList"] == []
        assert client.list_backup_jobs()["BackupJobs"] == []  # the failure is gone too
        assert len(world.calls) == 2
    assert fake_aws.active_world() is None
    assert not world.active


def test_calls_are_recorded_with_parsed_parameters(fake: FakeAws, backup: Any, rds: Any) -> None:
    point(fake, 1)
    after = NOW - timedelta(days=1)
    backup.list_recovery_points_by_backup_vault(
        BackupVaultName="Default", ByCreatedAfter=after, MaxResults=5
    )
    rds.describe_db_snapshots(
        SnapshotType="awsbackup", Filters=[{"Name": "engine", "Values": ["postgres", "mysql"]}]
    )
    rds.describe_db_snapshots()  # moto's: not recorded
    assert [(op, region) for op, region, _ in fake.calls] == [
        ("ListRecoveryPointsByBackupVault", REGION),
        ("DescribeDBSnapshots", REGION),
    ]
    assert fake.calls[0][2] == {
        "BackupVaultName": "Default",
        "ByCreatedAfter": after,
        "MaxResults": 5,
    }
    assert fake.calls[1][2] == {
        "SnapshotType": "awsbackup",
        "Filters": [{"Name": "engine", "Values": ["postgres", "mysql"]}],
    }


# --- AWS Backup --------------------------------------------------------------------------------


def test_recovery_points_by_vault_as_added(fake: FakeAws, backup: Any) -> None:
    arn = point(
        fake,
        3,
        status="AVAILABLE",
        delete_after_days=35,
        size_bytes=123,
        encryption_key_arn="arn:aws:kms:us-east-1:123456789012:key/k",
    )
    [listed] = backup.list_recovery_points_by_backup_vault(BackupVaultName="Default")[
        "RecoveryPoints"
    ]
    created = NOW - timedelta(hours=3)
    assert arn == listed["RecoveryPointArn"]
    assert arn.startswith(f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:awsbackup:job-")
    assert listed["CreationDate"] == created
    assert listed["CreationDate"].tzinfo is not None
    assert listed["CompletionDate"] == created + timedelta(minutes=15)
    assert (listed["Status"], listed["ResourceType"], listed["ResourceName"]) == (
        "AVAILABLE",
        "RDS",
        "orders",
    )
    assert listed["BackupSizeInBytes"] == 123
    assert listed["IsEncrypted"] is True
    assert listed["EncryptionKeyArn"] == "arn:aws:kms:us-east-1:123456789012:key/k"
    assert listed["Lifecycle"] == {"DeleteAfterDays": 35}
    assert listed["CalculatedLifecycle"] == {"DeleteAt": created + timedelta(days=35)}
    assert listed["BackupVaultArn"] == f"arn:aws:backup:{REGION}:{ACCOUNT}:backup-vault:Default"


def test_recovery_points_by_vault_filters(fake: FakeAws, backup: Any) -> None:
    old, new = point(fake, 30), point(fake, 2)
    other = point(fake, 2, resource_arn=OTHER_DB_ARN)
    aurora = point(fake, 2, resource_arn=CLUSTER_ARN, resource_type="Aurora")
    point(fake, 2, region=OTHER_REGION)

    def arns(**filters: Any) -> list[str]:
        found = backup.list_recovery_points_by_backup_vault(BackupVaultName="Default", **filters)
        return [rp["RecoveryPointArn"] for rp in found["RecoveryPoints"]]

    assert arns() == [old, new, other, aurora]
    assert arns(ByResourceArn=DB_ARN) == [old, new]
    assert arns(ByResourceType="Aurora") == [aurora]
    assert ":cluster-snapshot:awsbackup:job-" in aurora
    assert arns(ByCreatedAfter=NOW - timedelta(hours=24)) == [new, other, aurora]
    assert arns(ByCreatedBefore=NOW - timedelta(hours=24)) == [old]


def test_recovery_points_by_vault_paginate(fake: FakeAws, backup: Any) -> None:
    added = [point(fake, hours) for hours in range(5)]
    pages = backup.get_paginator("list_recovery_points_by_backup_vault").paginate(
        BackupVaultName="Default", PaginationConfig={"PageSize": 2}
    )
    seen = [[rp["RecoveryPointArn"] for rp in page["RecoveryPoints"]] for page in pages]
    assert [len(page) for page in seen] == [2, 2, 1]
    assert [arn for page in seen for arn in page] == added


def test_page_size_makes_a_forgotten_next_token_visible(aws: None, backup: Any) -> None:
    with FakeAws(page_size=2) as world:
        for hours in range(3):
            point(world, hours)
        first = backup.list_recovery_points_by_backup_vault(BackupVaultName="Default")
        rest = backup.list_recovery_points_by_backup_vault(
            BackupVaultName="Default", NextToken=first["NextToken"]
        )
    assert len(first["RecoveryPoints"]) == 2
    assert len(rest["RecoveryPoints"]) == 1
    assert "NextToken" not in rest


def test_unknown_vault_is_resource_not_found(fake: FakeAws, backup: Any) -> None:
    with pytest.raises(ClientError) as error:
        backup.list_recovery_points_by_backup_vault(BackupVaultName="nope")
    assert code_of(error) == ("ResourceNotFoundException", 400)


def test_max_results_above_the_models_bound_is_rejected(fake: FakeAws, backup: Any) -> None:
    """The model says 1..1000; botocore checks the minimum only, the service the maximum."""
    with pytest.raises(ClientError) as error:
        backup.list_backup_jobs(MaxResults=1001)
    assert code_of(error) == ("InvalidParameterValueException", 400)


def test_recovery_points_by_resource(fake: FakeAws, backup: Any) -> None:
    arn = point(fake, 1, status="PARTIAL", status_message="one volume failed", size_bytes=7)
    point(fake, 1, resource_arn=OTHER_DB_ARN)
    [listed] = backup.list_recovery_points_by_resource(ResourceArn=DB_ARN)["RecoveryPoints"]
    assert listed["RecoveryPointArn"] == arn
    assert listed["BackupSizeBytes"] == 7  # not BackupSizeInBytes
    assert (listed["Status"], listed["StatusMessage"]) == ("PARTIAL", "one volume failed")
    assert "Lifecycle" not in listed
    assert "ResourceArn" not in listed


@pytest.mark.parametrize(("max_results", "ok"), [(19, False), (20, True)])
def test_recovery_points_by_resource_rds_needs_at_least_20(
    fake: FakeAws, backup: Any, max_results: int | None, ok: bool
) -> None:
    point(fake, 1)
    kwargs = {} if max_results is None else {"MaxResults": max_results}
    if ok:
        assert (
            len(
                backup.list_recovery_points_by_resource(ResourceArn=DB_ARN, **kwargs)[
                    "RecoveryPoints"
                ]
            )
            == 1
        )
    else:
        with pytest.raises(ClientError) as error:
            backup.list_recovery_points_by_resource(ResourceArn=DB_ARN, **kwargs)
        assert code_of(error) == ("InvalidParameterValueException", 400)


def test_list_backup_vaults(fake: FakeAws, backup: Any) -> None:
    point(fake, 1)
    point(fake, 2)
    point(fake, 1, vault="copies")
    fake.add_vault(REGION, "empty")
    fake.add_vault(OTHER_REGION, "elsewhere")
    vaults = backup.list_backup_vaults()["BackupVaultList"]
    assert {v["BackupVaultName"]: v["NumberOfRecoveryPoints"] for v in vaults} == {
        "Default": 2,
        "copies": 1,
        "empty": 0,
    }
    assert vaults[0]["CreationDate"] == NOW - timedelta(hours=2)  # its oldest content
    assert {v["VaultType"] for v in vaults} == {"BACKUP_VAULT"}
    pages = backup.get_paginator("list_backup_vaults").paginate(PaginationConfig={"PageSize": 2})
    assert [len(p["BackupVaultList"]) for p in pages] == [2, 1]


def test_backup_jobs(fake: FakeAws, backup: Any) -> None:
    done = fake.add_backup_job(
        region=REGION, resource_arn=DB_ARN, resource_type="RDS", created=NOW - timedelta(hours=5),
        state="COMPLETED", message_category="SUCCESS", delete_after_days=7,
    )  # fmt: skip
    failed = fake.add_backup_job(
        region=REGION, resource_arn=CLUSTER_ARN, resource_type="Aurora",
        created=NOW - timedelta(hours=2), state="FAILED", status_message="Insufficient privileges",
        message_category="AccessDenied", vault="aurora",
    )  # fmt: skip
    running = fake.add_backup_job(
        region=REGION, resource_arn=DB_ARN, resource_type="RDS", created=NOW, state="RUNNING"
    )
    rp = point(fake, 5, job_id=done)

    def ids(**filters: Any) -> list[str]:
        return [job["BackupJobId"] for job in backup.list_backup_jobs(**filters)["BackupJobs"]]

    assert ids() == [done, failed, running]
    assert ids(ByState="FAILED") == [failed]
    assert ids(ByResourceType="Aurora") == ids(ByBackupVaultName="aurora") == [failed]
    assert ids(ByResourceArn=DB_ARN, ByCreatedAfter=NOW - timedelta(hours=3)) == [running]
    assert ids(ByCompleteAfter=NOW - timedelta(hours=3)) == [failed]
    assert ids(ByMessageCategory="AccessDenied") == [failed]
    assert ids(ByAccountId="210987654321") == []
    jobs = {job["BackupJobId"]: job for job in backup.list_backup_jobs()["BackupJobs"]}
    assert jobs[done]["RecoveryPointArn"] == rp  # one backup, seen by both APIs
    assert jobs[done]["RecoveryPointLifecycle"] == {"DeleteAfterDays": 7}
    assert jobs[failed]["StatusMessage"] == "Insufficient privileges"
    assert jobs[failed]["CompletionDate"] == NOW - timedelta(hours=2) + timedelta(minutes=15)
    assert "CompletionDate" not in jobs[running]
    assert "RecoveryPointArn" not in jobs[running]
    assert isinstance(jobs[done]["BackupSizeInBytes"], int)


def test_backup_jobs_older_than_30_days_are_not_listed(fake: FakeAws, backup: Any) -> None:
    for days in (29, 31):
        fake.add_backup_job(
            region=REGION, resource_arn=DB_ARN, resource_type="RDS",
            created=NOW - timedelta(days=days), state="FAILED",
        )  # fmt: skip
    [job] = backup.list_backup_jobs()["BackupJobs"]
    assert job["CreationDate"] == NOW - timedelta(days=29)


def test_world_is_scoped_by_region_and_account(fake: FakeAws, backup: Any) -> None:
    """A recovery point is listed to its own account, in its own region only."""
    member = "111111111111"
    mine = point(fake, 1)
    theirs = point(fake, 1, account_id=member, resource_arn=DB_ARN.replace(ACCOUNT, member))
    credentials = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{member}:role/reader", RoleSessionName="test"
    )["Credentials"]
    as_member = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    ).client("backup")

    def arns(client: Any) -> list[str]:
        found = client.list_recovery_points_by_backup_vault(BackupVaultName="Default")
        return [rp["RecoveryPointArn"] for rp in found["RecoveryPoints"]]

    assert arns(backup) == [mine]
    assert arns(as_member) == [theirs]
    elsewhere = boto3.Session(region_name=OTHER_REGION).client("backup")
    with pytest.raises(ClientError):  # no vault named Default there
        arns(elsewhere)


# --- RDS ---------------------------------------------------------------------------------------


def test_awsbackup_db_snapshots(fake: FakeAws, rds: Any) -> None:
    snapshot = fake.add_awsbackup_snapshot(
        region=REGION, kind="instance", identifier="orders", created=NOW, kms_key_id="k"
    )
    fake.add_awsbackup_snapshot(
        region=REGION, kind="instance", identifier="payroll", created=NOW, encrypted=False
    )
    [listed] = rds.describe_db_snapshots(SnapshotType="awsbackup", DBInstanceIdentifier="ORDERS")[
        "DBSnapshots"
    ]
    assert snapshot.startswith("awsbackup:job-")
    assert listed["DBSnapshotIdentifier"] == snapshot
    assert listed["SnapshotCreateTime"] == NOW
    assert listed["SnapshotCreateTime"].tzinfo is not None
    assert (listed["SnapshotType"], listed["Status"], listed["Engine"]) == (
        "awsbackup",
        "available",
        "postgres",
    )
    assert listed["Encrypted"] is True
    assert listed["KmsKeyId"] == "k"
    assert listed["DbiResourceId"].startswith("db-")
    assert listed["DBSnapshotArn"] == f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:{snapshot}"
    by_filter = rds.describe_db_snapshots(
        SnapshotType="awsbackup", Filters=[{"Name": "db-instance-id", "Values": [DB_ARN]}]
    )["DBSnapshots"]
    assert [s["DBSnapshotIdentifier"] for s in by_filter] == [snapshot]
    [plain] = rds.describe_db_snapshots(SnapshotType="awsbackup", DBInstanceIdentifier="payroll")[
        "DBSnapshots"
    ]
    assert plain["Encrypted"] is False
    assert "KmsKeyId" not in plain


def test_awsbackup_snapshots_paginate_within_rds_bounds(fake: FakeAws, rds: Any) -> None:
    for minutes in range(25):
        fake.add_awsbackup_snapshot(
            region=REGION,
            kind="instance",
            identifier="orders",
            created=NOW - timedelta(minutes=minutes),
        )
    pages = rds.get_paginator("describe_db_snapshots").paginate(
        SnapshotType="awsbackup", PaginationConfig={"PageSize": 20}
    )
    assert [len(page["DBSnapshots"]) for page in pages] == [20, 5]
    with pytest.raises(ClientError) as error:  # "Constraints: Minimum 20, maximum 100."
        rds.describe_db_snapshots(SnapshotType="awsbackup", MaxRecords=10)
    assert code_of(error) == ("InvalidParameterValue", 400)


def test_unknown_awsbackup_snapshot_is_not_found(fake: FakeAws, rds: Any) -> None:
    with pytest.raises(ClientError) as error:
        rds.describe_db_snapshots(SnapshotType="awsbackup", DBSnapshotIdentifier="awsbackup:job-x")
    assert code_of(error) == ("DBSnapshotNotFound", 404)


def test_a_snapshot_being_created_has_no_create_time(fake: FakeAws, rds: Any) -> None:
    fake.add_awsbackup_snapshot(
        region=REGION, kind="instance", identifier="orders", created=NOW, status="creating"
    )
    [listed] = rds.describe_db_snapshots(SnapshotType="awsbackup")["DBSnapshots"]
    assert listed["Status"] == "creating"
    assert "SnapshotCreateTime" not in listed


def test_awsbackup_cluster_snapshots(fake: FakeAws, rds: Any) -> None:
    snapshot = fake.add_awsbackup_snapshot(
        region=REGION, kind="cluster", identifier="billing", created=NOW, resource_id="cluster-X"
    )
    fake.add_awsbackup_snapshot(region=REGION, kind="cluster", identifier="other", created=NOW)
    [listed] = rds.describe_db_cluster_snapshots(
        SnapshotType="awsbackup", DBClusterIdentifier="billing"
    )["DBClusterSnapshots"]
    assert listed["DBClusterSnapshotIdentifier"] == snapshot
    assert (listed["DBClusterIdentifier"], listed["DbClusterResourceId"]) == (
        "billing",
        "cluster-X",
    )
    assert listed["StorageEncrypted"] is True
    assert "Encrypted" not in listed
    assert listed["SnapshotType"] == "awsbackup"
    assert listed["SnapshotCreateTime"] == NOW
    assert rds.describe_db_snapshots(SnapshotType="awsbackup")["DBSnapshots"] == []


def test_replicated_automated_backups(fake: FakeAws, rds: Any) -> None:
    """In the destination region: the replicated backup, ``Region`` naming the source."""
    source_arn = f"arn:aws:rds:{OTHER_REGION}:{ACCOUNT}:db:orders"
    common = {"instance_arn": source_arn, "identifier": "orders", "resource_id": "db-ORDERS"}
    replica = fake.add_automated_backup(
        region=REGION, source_region=OTHER_REGION, latest=NOW - timedelta(minutes=5),
        earliest=NOW - timedelta(days=7), retention_days=14, kms_key_id="dest-key", **common,
    )  # fmt: skip
    fake.add_automated_backup(
        region=OTHER_REGION, source_region=OTHER_REGION, latest=NOW, earliest=NOW, status="active",
        **common,
    )  # fmt: skip
    [listed] = rds.describe_db_instance_automated_backups()["DBInstanceAutomatedBackups"]
    assert listed["DBInstanceAutomatedBackupsArn"] == replica
    assert replica.startswith(f"arn:aws:rds:{REGION}:{ACCOUNT}:auto-backup:ab-")
    assert (listed["Region"], listed["Status"], listed["DBInstanceArn"]) == (
        OTHER_REGION,
        "replicating",
        source_arn,
    )
    assert listed["RestoreWindow"] == {
        "EarliestTime": NOW - timedelta(days=7),
        "LatestTime": NOW - timedelta(minutes=5),
    }
    assert (listed["BackupRetentionPeriod"], listed["Encrypted"], listed["KmsKeyId"]) == (
        14,
        True,
        "dest-key",
    )
    source = boto3.Session(region_name=OTHER_REGION).client("rds")
    [own] = source.describe_db_instance_automated_backups()["DBInstanceAutomatedBackups"]
    assert own["DBInstanceAutomatedBackupsReplications"] == [
        {"DBInstanceAutomatedBackupsArn": replica}
    ]


def test_automated_backup_filters_and_not_found(fake: FakeAws, rds: Any) -> None:
    for identifier, status in (("orders", "active"), ("payroll", "retained")):
        fake.add_automated_backup(
            region=REGION, source_region=REGION, identifier=identifier, status=status,
            instance_arn=f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{identifier}",
            resource_id=f"db-{identifier.upper()}", latest=NOW, earliest=NOW - timedelta(days=1),
        )  # fmt: skip

    def ids(**kwargs: Any) -> list[str]:
        found = rds.describe_db_instance_automated_backups(**kwargs)
        return [b["DBInstanceIdentifier"] for b in found["DBInstanceAutomatedBackups"]]

    assert ids(Filters=[{"Name": "status", "Values": ["retained"]}]) == ["payroll"]
    assert ids(DbiResourceId="db-ORDERS") == ids(DBInstanceIdentifier="orders") == ["orders"]
    with pytest.raises(ClientError) as error:
        rds.describe_db_instance_automated_backups(DBInstanceIdentifier="gone")
    assert code_of(error) == ("DBInstanceAutomatedBackupNotFound", 404)


@pytest.mark.parametrize("snapshot_type", [None, "automated"])
def test_other_snapshot_types_are_motos(fake: FakeAws, rds: Any, snapshot_type: str | None) -> None:
    moto_world = World()
    moto_world.instance("orders")
    moto_world.manual_snapshot("orders", NOW)
    fake.add_awsbackup_snapshot(region=REGION, kind="instance", identifier="orders", created=NOW)
    kwargs = {} if snapshot_type is None else {"SnapshotType": snapshot_type}
    listed = rds.describe_db_snapshots(**kwargs)["DBSnapshots"]
    expected = {None: {"automated", "manual"}}.get(snapshot_type, {snapshot_type})
    assert {s["SnapshotType"] for s in listed} == expected
    assert fake.calls == []


# --- fail() ------------------------------------------------------------------------------------


def test_fail_a_backup_operation(fake: FakeAws, backup: Any) -> None:
    fake.add_vault(REGION, "Default")
    fake.fail("ListRecoveryPointsByBackupVault", times=1)
    fake.fail("ListBackupVaults", code="ResourceNotFoundException", region=OTHER_REGION)
    with pytest.raises(ClientError) as error:
        backup.list_recovery_points_by_backup_vault(BackupVaultName="Default")
    assert code_of(error) == ("AccessDeniedException", 400)
    assert (
        backup.list_recovery_points_by_backup_vault(BackupVaultName="Default")["RecoveryPoints"]
        == []
    )
    assert len(backup.list_backup_vaults()["BackupVaultList"]) == 1  # another region fails
    with pytest.raises(ClientError) as error:
        boto3.Session(region_name=OTHER_REGION).client("backup").list_backup_vaults()
    assert code_of(error) == ("ResourceNotFoundException", 400)
    with pytest.raises(ValueError, match="not faked"):
        fake.fail("DescribeDBInstances")


def test_fail_an_rds_operation_even_for_motos_calls(fake: FakeAws, rds: Any) -> None:
    fake.fail("DescribeDBSnapshots")
    for kwargs in ({"SnapshotType": "awsbackup"}, {}):
        with pytest.raises(ClientError) as error:
            rds.describe_db_snapshots(**kwargs)
        assert code_of(error) == ("AccessDenied", 403)
    # (a throttling code or a 5xx would be retried by botocore, after a sleep, using up times)
    fake.fail("DescribeDBInstanceAutomatedBackups", code="InvalidParameterCombination", times=1)
    with pytest.raises(ClientError) as error:
        rds.describe_db_instance_automated_backups()
    assert code_of(error) == ("InvalidParameterCombination", 400)
    assert rds.describe_db_instance_automated_backups()["DBInstanceAutomatedBackups"] == []


@pytest.mark.parametrize(
    "bad",
    [
        {"status": "DONE"},
        {"resource_type": "EBS"},
        {"created": datetime(2026, 1, 1)},  # noqa: DTZ001 naive on purpose
    ],
)
def test_adding_what_aws_would_not_say_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="AWS"):
        point(FakeAws(), 1, **bad)


# --- faithfulness to the botocore model --------------------------------------------------------


def rich_world(fake: FakeAws) -> None:
    """A world in which every optional field the fake can emit is emitted."""
    point(
        fake, 1, status="PARTIAL", status_message="m", delete_after_days=35,
        source_vault_arn=f"arn:aws:backup:{OTHER_REGION}:{ACCOUNT}:backup-vault:Default",
        backup_plan_id="plan",
    )  # fmt: skip
    fake.add_backup_job(
        region=REGION, resource_arn=DB_ARN, resource_type="RDS", created=NOW, state="COMPLETED",
        status_message="m", message_category="SUCCESS", delete_after_days=35,
    )  # fmt: skip
    fake.add_awsbackup_snapshot(region=REGION, kind="instance", identifier="orders", created=NOW)
    fake.add_awsbackup_snapshot(region=REGION, kind="cluster", identifier="billing", created=NOW)
    for region, status in ((REGION, "active"), (OTHER_REGION, "replicating")):
        fake.add_automated_backup(
            region=region, source_region=REGION, instance_arn=DB_ARN, identifier="orders",
            resource_id="db-ORDERS", latest=NOW, earliest=NOW, status=status,
        )  # fmt: skip


FAITHFUL: dict[str, tuple[str, dict[str, Any], str, tuple[str, ...]]] = {
    "ListBackupVaults": ("list_backup_vaults", {}, "BackupVaultList", (
        "BackupVaultName", "BackupVaultArn", "VaultType", "VaultState", "CreationDate",
        "EncryptionKeyArn", "NumberOfRecoveryPoints", "Locked",
    )),
    "ListRecoveryPointsByBackupVault": (
        "list_recovery_points_by_backup_vault", {"BackupVaultName": "Default"}, "RecoveryPoints", (
            "RecoveryPointArn", "BackupVaultName", "BackupVaultArn", "SourceBackupVaultArn",
            "ResourceArn", "ResourceType", "ResourceName", "CreatedBy", "CreatedBy.BackupPlanId",
            "IamRoleArn", "Status", "StatusMessage", "CreationDate", "CompletionDate",
            "BackupSizeInBytes", "Lifecycle", "Lifecycle.DeleteAfterDays", "CalculatedLifecycle",
            "CalculatedLifecycle.DeleteAt", "EncryptionKeyArn", "IsEncrypted", "IsParent",
            "VaultType",
        ),
    ),
    "ListRecoveryPointsByResource": (
        "list_recovery_points_by_resource", {"ResourceArn": DB_ARN}, "RecoveryPoints", (
            "RecoveryPointArn", "CreationDate", "Status", "StatusMessage", "EncryptionKeyArn",
            "BackupSizeBytes", "BackupVaultName", "IsParent", "ResourceName", "VaultType",
        ),
    ),
    "ListBackupJobs": ("list_backup_jobs", {}, "BackupJobs", (
        "AccountId", "BackupJobId", "BackupVaultName", "BackupVaultArn", "VaultType",
        "RecoveryPointArn", "RecoveryPointLifecycle", "RecoveryPointLifecycle.DeleteAfterDays",
        "ResourceArn", "ResourceType", "ResourceName", "CreationDate", "CompletionDate", "State",
        "StatusMessage", "BackupSizeInBytes", "IamRoleArn", "IsParent", "MessageCategory",
    )),
    "DescribeDBSnapshots": ("describe_db_snapshots", {"SnapshotType": "awsbackup"}, "DBSnapshots", (
        "DBSnapshotIdentifier", "DBInstanceIdentifier", "SnapshotCreateTime", "Engine",
        "AllocatedStorage", "Status", "SnapshotType", "PercentProgress", "Encrypted", "KmsKeyId",
        "DBSnapshotArn", "DbiResourceId", "OriginalSnapshotCreateTime",
    )),
    "DescribeDBClusterSnapshots": (
        "describe_db_cluster_snapshots", {"SnapshotType": "awsbackup"}, "DBClusterSnapshots", (
            "DBClusterSnapshotIdentifier", "DBClusterIdentifier", "SnapshotCreateTime", "Engine",
            "AllocatedStorage", "Status", "SnapshotType", "PercentProgress", "StorageEncrypted",
            "KmsKeyId", "DBClusterSnapshotArn", "DbClusterResourceId",
        ),
    ),
    "DescribeDBInstanceAutomatedBackups": (
        "describe_db_instance_automated_backups", {}, "DBInstanceAutomatedBackups", (
            "DBInstanceArn", "DbiResourceId", "Region", "DBInstanceIdentifier", "RestoreWindow",
            "RestoreWindow.EarliestTime", "RestoreWindow.LatestTime", "AllocatedStorage", "Status",
            "Engine", "Encrypted", "KmsKeyId", "BackupRetentionPeriod",
            "DBInstanceAutomatedBackupsArn", "DBInstanceAutomatedBackupsReplications",
            "DBInstanceAutomatedBackupsReplications[].DBInstanceAutomatedBackupsArn",
        ),
    ),
}  # fmt: skip
"""Operation -> (client method, arguments, list key, the exact fields of a listed item)."""

PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "long": (int,),
    "timestamp": (datetime,),
}


def walk(shape: Shape, value: Any, path: str, seen: set[str]) -> None:
    """Every key a member of its shape, every value of its shape's type and enum; ``seen``
    collects the path of every key (``List[].Member.Member``)."""
    if isinstance(shape, StructureShape):
        assert isinstance(value, dict), path
        for key, item in value.items():
            assert key in shape.members, f"{path}.{key} is not in {shape.name}"
            child = f"{path}.{key}".lstrip(".")
            seen.add(child)
            walk(shape.members[key], item, child, seen)
    elif isinstance(shape, ListShape):
        assert isinstance(value, list), path
        for item in value:
            walk(shape.member, item, f"{path}[]", seen)
    elif isinstance(shape, MapShape):
        pytest.fail(f"{path}: the fake emits no maps")
    else:
        assert isinstance(value, PYTHON_TYPES[shape.type_name]), f"{path}: {value!r}"
        assert not (shape.type_name in ("integer", "long") and isinstance(value, bool)), path
        if isinstance(value, datetime):
            assert value.tzinfo is not None, path
        if isinstance(shape, StringShape) and shape.enum:
            assert value in shape.enum, f"{path}: {value!r} not in {shape.enum}"


@pytest.mark.parametrize("operation", list(FAITHFUL))
def test_every_field_is_in_the_model(fake: FakeAws, operation: str) -> None:
    method, kwargs, listed, fields = FAITHFUL[operation]
    service = FAKED_OPERATIONS[operation]
    rich_world(fake)
    response = getattr(boto3.Session(region_name=REGION).client(service), method)(**kwargs)
    del response["ResponseMetadata"]
    model = botocore.session.get_session().get_service_model(service)
    output = model.operation_model(operation).output_shape
    assert output is not None
    seen: set[str] = set()
    walk(output, response, "", seen)
    assert seen == {listed} | {f"{listed}[].{field}" for field in fields}


def test_model_enums_cover_the_new_statuses() -> None:
    """The note's warning, checked in the installed model: AVAILABLE, STOPPED, CREATING exist."""
    assert fake_aws.model_enum("backup", "RecoveryPointStatus") >= {
        "COMPLETED", "PARTIAL", "DELETING", "EXPIRED", "AVAILABLE", "STOPPED", "CREATING",
    }  # fmt: skip
    assert "PARTIAL" in fake_aws.model_enum("backup", "BackupJobState")
