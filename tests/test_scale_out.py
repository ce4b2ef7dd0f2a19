"""Several accounts from one run: targets, the organization, assumed roles, scope errors.

Every member account is a real moto account: STS ``assume_role`` hands out credentials whose
resources live in the role's account (``MOTO_ACCOUNT_ID`` is never set). A scope that cannot be
checked (a denied role, a failed region, an organization that cannot be listed) is a scope
error naming the account and region; the other scopes' tenants are still checked, each once,
each carrying its account.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import boto3
import pytest
import time_machine

from backupwatch import (
    Check,
    Report,
    Retrier,
    Scope,
    Status,
    check_scopes,
    check_tenants,
    load_settings,
    render_digest,
)
from backupwatch.aws.accounts import enter, plan_scopes

from .conftest import (
    ACCOUNT,
    BUCKET,
    DENIED,
    MEMBER_ROLE,
    NOW,
    OTHER_REGION,
    REGION,
    Faults,
    World,
    env_for,
    hours_ago,
)

MEMBERS = ("111111111111", "222222222222", "333333333333")
REGIONS = (REGION, OTHER_REGION)


def role(account: str, name: str = MEMBER_ROLE) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


def member_fleet() -> list[dict[str, str]]:
    """One fresh tenant per member account and region, each account with its own backups
    bucket, plus a stale tenant in 111111111111 eu-west-1; returns BACKUPWATCH_TARGETS."""
    targets = []
    for account in MEMBERS:
        member = World.in_account(account)
        bucket = member.bucket(f"backups-{account}")
        for region in REGIONS:
            name = f"t{account[0]}-{region}"
            member.instance(f"db-{name}", tenant=name, region=region)
            member.put(f"{name}-backups/x.dump", hours_ago(1), bucket=bucket)
        if account == "111111111111":
            member.instance(
                "db-stale", tenant="stale", region=OTHER_REGION, snapshot_at=hours_ago(30)
            )
            member.put("stale-backups/x.dump", hours_ago(30), bucket=bucket)
        targets.append({"role_arn": role(account), "s3_bucket": bucket})
    return targets


def fail_in_account(
    monkeypatch: pytest.MonkeyPatch, account: str, inject: Callable[[Faults], object]
) -> None:
    """Faults on the assumed-role session of one account (the shared ``faults`` fixture only
    sees the home session): ``inject`` wires them as soon as the session exists."""

    def entering(
        scope: Scope, home: boto3.Session, retrier: Retrier, **options: Any
    ) -> boto3.Session:
        session = enter(scope, home, retrier, **options)
        if scope.account_id == account:
            inject(Faults(session))
        return session

    monkeypatch.setattr("backupwatch.pipeline.monitor.enter", entering)


def check(world: World, retrier: Retrier, **variables: str) -> Report:
    """``check_tenants`` at NOW in both regions (unless ``variables`` say otherwise)."""
    return check_tenants(
        load_settings(env_for(**{"BACKUPWATCH_REGIONS": ",".join(REGIONS), **variables})),
        session=world.session,
        clock=lambda: NOW,
        retrier=retrier,
    )


def test_three_accounts_two_regions_with_a_denied_role_and_a_failed_region(
    world: World, faults: Faults, retrier: Retrier, monkeypatch: pytest.MonkeyPatch
) -> None:
    """222222222222's role is denied (both its scopes fail, named), 333333333333 eu-west-1
    cannot be listed; every other tenant is checked once and carries its account."""
    world.bucket()
    targets = member_fleet()
    denied = faults.inject(
        "sts", "AssumeRole", DENIED, when=lambda p: p.get("RoleArn") == role("222222222222")
    )
    fail_in_account(
        monkeypatch,
        "333333333333",
        lambda f: f.inject("rds", "DescribeDBInstances", DENIED, region=OTHER_REGION),
    )

    report = check(world, retrier, BACKUPWATCH_TARGETS=json.dumps(targets))

    assert {(row.account_id, row.region, row.tenant, row.status) for row in report.tenants} == {
        ("111111111111", REGION, "t1-us-east-1", Status.OK),
        ("111111111111", OTHER_REGION, "t1-eu-west-1", Status.OK),
        ("111111111111", OTHER_REGION, "stale", Status.STALE),
        ("333333333333", REGION, "t3-us-east-1", Status.OK),
    }
    assert [(e.account_id, e.region) for e in report.region_errors] == [
        ("222222222222", OTHER_REGION),
        ("222222222222", REGION),
        ("333333333333", OTHER_REGION),
    ]
    assert report.accounts == MEMBERS
    assert report.failing
    assert denied.fired == 1  # once per account, not per scope: AccessDenied is not retried
    assert faults.api_calls["sts:AssumeRole"] == 3

    body = render_digest(report).body
    assert "Accounts (3): 111111111111, 222222222222, 333333333333." in body
    assert "SCOPES NOT CHECKED (3)" in body
    cannot = f"could not assume role {role('222222222222')}: AccessDenied on sts:AssumeRole"
    assert f"  - 222222222222 eu-west-1: {cannot}\n" in body
    assert f"  - 222222222222 us-east-1: {cannot}\n" in body
    assert (
        "  - 333333333333 eu-west-1: discovery failed: AccessDenied on rds:DescribeDBInstances\n"
        in body
    )
    assert "  - stale [STALE] (db-stale, 111111111111 eu-west-1):" in body


def test_same_identifier_in_two_accounts_is_two_tenants(world: World, retrier: Retrier) -> None:
    """``db-shared`` in two accounts and the same region: two rows, told apart by account."""
    for account in MEMBERS[:2]:
        World.in_account(account).instance("db-shared", tenant=f"shared-{account[0]}")
    report = check(
        world,
        retrier,
        BACKUPWATCH_CHECKS="rds",
        BACKUPWATCH_REGIONS=REGION,
        BACKUPWATCH_TARGETS=",".join(role(a) for a in MEMBERS[:2]),
    )
    assert [(r.account_id, r.db_instance_identifier, r.status) for r in report.tenants] == [
        ("111111111111", "db-shared", Status.OK),
        ("222222222222", "db-shared", Status.OK),
    ]


def test_home_account_scope_names_its_account(world: World, retrier: Retrier) -> None:
    """A target without a role (the home account) uses the run's credentials, and its tenants
    and errors carry the home account id, so they merge with the members' without collision."""
    world.instance("db-home", tenant="home")
    World.in_account("111111111111").instance("db-member", tenant="member")
    settings = load_settings(env_for(BACKUPWATCH_CHECKS="rds"))
    scopes = [
        Scope(region=REGION),
        Scope(region=REGION, account_id="111111111111", role_arn=role("111111111111")),
    ]

    report = check_scopes(
        settings, scopes, session=world.session, clock=lambda: NOW, retrier=retrier
    )

    assert [(r.account_id, r.tenant) for r in report.tenants] == [
        ("111111111111", "member"),
        (ACCOUNT, "home"),
    ]
    assert report.accounts == ("111111111111", ACCOUNT)


def test_one_scope_checks_only_that_account_region(world: World, retrier: Retrier) -> None:
    """``check_scopes`` with one scope (what one Map child does) looks nowhere else."""
    targets = member_fleet()
    settings = load_settings(
        env_for(BACKUPWATCH_REGIONS=",".join(REGIONS), BACKUPWATCH_TARGETS=json.dumps(targets))
    )
    scope = next(
        s for s in settings.scopes if s.account_id == "333333333333" and s.region == OTHER_REGION
    )
    report = check_scopes(
        settings, [scope], session=world.session, clock=lambda: NOW, retrier=retrier
    )
    assert [(r.account_id, r.region, r.tenant) for r in report.tenants] == [
        ("333333333333", OTHER_REGION, "t3-eu-west-1")
    ]
    assert (report.regions, report.accounts, report.region_errors) == (
        (OTHER_REGION,),
        ("333333333333",),
        (),
    )


# --- organization mode ----------------------------------------------------------------------


def organization(world: World) -> tuple[str, str]:
    """An organization with the home account as management, one ACTIVE member and one closed
    (SUSPENDED) member; returns (active, suspended)."""
    org = world.client("organizations")
    org.create_organization(FeatureSet="ALL")
    active, suspended = (
        org.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"][
            "AccountId"
        ]
        for name in ("active", "closed")
    )
    org.close_account(AccountId=suspended)
    return active, suspended


def test_organization_mode_checks_every_active_account(world: World, retrier: Retrier) -> None:
    """Every ACTIVE account (the management account included) is entered through the named
    role in every region; a suspended account is left out."""
    active, suspended = organization(world)
    World.in_account(active, role="OrgReader").instance("db-a", tenant="a", region=OTHER_REGION)
    world.instance("db-m", tenant="m")
    settings = load_settings(
        env_for(
            BACKUPWATCH_CHECKS="rds",
            BACKUPWATCH_REGIONS=",".join(REGIONS),
            BACKUPWATCH_ORGANIZATION_ROLE_NAME="OrgReader",
            BACKUPWATCH_EXTERNAL_ID="org-ext",
        )
    )

    scopes, errors = plan_scopes(settings, world.session, retrier)

    assert errors == ()
    assert {(s.account_id, s.region) for s in scopes} == {
        (account, region) for account in (ACCOUNT, active) for region in REGIONS
    }
    assert {s.role_arn for s in scopes} == {role(ACCOUNT, "OrgReader"), role(active, "OrgReader")}
    assert {s.external_id for s in scopes} == {"org-ext"}
    assert suspended not in {s.account_id for s in scopes}

    report = check_tenants(settings, session=world.session, clock=lambda: NOW, retrier=retrier)
    assert {(r.account_id, r.region, r.tenant) for r in report.tenants} == {
        (active, OTHER_REGION, "a"),
        (ACCOUNT, REGION, "m"),
    }
    assert len(report.tenants) == 2
    assert report.region_errors == ()


def test_organization_that_cannot_be_listed_is_one_scope_error(
    world: World, faults: Faults, retrier: Retrier
) -> None:
    """organizations:ListAccounts denied: one error saying so, no tenants, a failing run; the
    digest names it rather than reading as an empty all-clear."""
    organization(world)
    faults.inject("organizations", "ListAccounts", DENIED, via="call")
    report = check(world, retrier, BACKUPWATCH_ORGANIZATION_ROLE_NAME="OrgReader")

    assert report.tenants == ()
    [error] = report.region_errors
    assert (error.account_id, error.region) == (None, None)
    assert error.reason == (
        "could not list the organization's accounts: AccessDenied on organizations:ListAccounts"
    )
    assert report.failing
    digest = render_digest(report)
    assert "  - the run: could not list the organization's accounts" in (digest.body)
    assert digest.subject.endswith("no tenants found, 1 region(s) not checked")


# --- assumed-role sessions ---------------------------------------------------------------------


def test_assumed_role_credentials_are_refreshed_before_they_expire(
    world: World, faults: Faults, retrier: Retrier
) -> None:
    """One AssumeRole while the credentials are fresh; another once fewer than ten minutes are
    left (botocore's mandatory refresh), and the new ones still reach the member account."""
    scope = Scope(region=REGION, account_id="111111111111", role_arn=role("111111111111"))
    with time_machine.travel(NOW, tick=False) as traveller:
        session = enter(scope, world.session, retrier)
        credentials = session.get_credentials()
        assert credentials is not None
        first = credentials.get_frozen_credentials()
        traveller.shift(timedelta(minutes=30))
        assert credentials.get_frozen_credentials() == first
        assert faults.api_calls["sts:AssumeRole"] == 1

        traveller.shift(timedelta(minutes=26))  # 4 minutes before the hour is up
        second = credentials.get_frozen_credentials()

        assert faults.api_calls["sts:AssumeRole"] == 2
        assert second.access_key != first.access_key
        identity = session.client("sts", region_name=REGION).get_caller_identity()
        assert identity["Account"] == "111111111111"


def test_denied_refresh_in_a_long_scan_is_an_error_not_a_crash(
    world: World, faults: Faults, retrier: Retrier, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the role is revoked mid-run, the refresh fails as an AwsCallError naming AssumeRole
    (what the checks then turn into ERROR rows), not as an untyped exception."""
    from backupwatch import AwsCallError

    scope = Scope(region=REGION, account_id="111111111111", role_arn=role("111111111111"))
    with time_machine.travel(NOW, tick=False) as traveller:
        session = enter(scope, world.session, retrier)
        credentials = session.get_credentials()
        assert credentials is not None
        faults.inject("sts", "AssumeRole", DENIED)
        traveller.shift(timedelta(minutes=56))
        with pytest.raises(AwsCallError, match="sts:AssumeRole"):
            credentials.get_frozen_credentials()


def test_external_id_is_sent_with_assume_role(world: World, retrier: Retrier) -> None:
    """The scope's external id reaches sts:AssumeRole (the member role's trust policy needs it)."""
    sent: list[dict[str, Any]] = []
    world.session.events.register(
        "provide-client-params.sts.AssumeRole", lambda params, **_: sent.append(dict(params))
    )
    scope = Scope(
        region=REGION, account_id="111111111111", role_arn=role("111111111111"), external_id="ext-1"
    )
    enter(scope, world.session, retrier)
    assert [(p["RoleArn"], p.get("ExternalId"), p["RoleSessionName"]) for p in sent] == [
        (role("111111111111"), "ext-1", "backupwatch")
    ]


def test_member_buckets_are_listed_with_the_members_role(world: World, retrier: Retrier) -> None:
    """A target's own bucket is listed with its role: the home bucket is empty, so every S3
    verdict below rests on the member account's objects."""
    world.bucket()
    targets = member_fleet()
    report = check(world, retrier, BACKUPWATCH_TARGETS=json.dumps(targets[:1]))
    s3 = {r.tenant: r.checks[Check.S3] for r in report.tenants}
    assert {name: (result.status, result.key) for name, result in s3.items()} == {
        "t1-us-east-1": (Status.OK, "t1-us-east-1-backups/x.dump"),
        "t1-eu-west-1": (Status.OK, "t1-eu-west-1-backups/x.dump"),
        "stale": (Status.STALE, "stale-backups/x.dump"),
    }
    assert world.s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0
