"""Entering other accounts: the scopes to check, and one boto3 session per scope.

A scope is one account-region (RDS's request budget is per account and region). Its session
holds assumed-role credentials that botocore refreshes before they expire, so a long scan never
fails halfway on an expired token. Every call goes through the run's ``Retrier``, so
throttling, the deadline and the error vocabulary are the same as everywhere else.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

import boto3
from botocore.credentials import RefreshableCredentials
from botocore.session import get_session

from backupwatch.aws.clients import organizations_client, sts_client
from backupwatch.aws.pagination import pages
from backupwatch.aws.retry import Retrier
from backupwatch.core.config import DEFAULT_READ_TIMEOUT_SECONDS, Settings
from backupwatch.core.errors import AwsCallError
from backupwatch.core.models import RegionError, Scope

if TYPE_CHECKING:
    from mypy_boto3_sts.type_defs import AssumeRoleResponseTypeDef

ROLE_SESSION_NAME = "backupwatch"
"""Shows in the member account's CloudTrail as ``assumed-role/<role>/backupwatch``."""
SESSION_SECONDS = 3600
"""One hour, the default maximum of a role; botocore refreshes 15 minutes before the end."""

_ACCOUNT = re.compile(r"^\d{12}$")


def enter(
    scope: Scope,
    home: boto3.Session,
    retrier: Retrier,
    *,
    read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS,
) -> boto3.Session:
    """The session to check ``scope`` with: ``home`` itself, or the role's (refreshable).

    The first ``sts:AssumeRole`` happens here, so a denied role is known before the scope's
    first RDS call; raises ``AwsCallError`` for it.
    """
    if scope.role_arn is None:
        return home
    # STS in the home region: a disabled opt-in region must fail at its RDS call, named.
    sts = sts_client(home, home.region_name or scope.region, read_timeout=read_timeout)

    def assume() -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "RoleArn": scope.role_arn,
            "RoleSessionName": ROLE_SESSION_NAME,
            "DurationSeconds": SESSION_SECONDS,
        }
        if scope.external_id is not None:
            kwargs["ExternalId"] = scope.external_id
        response: AssumeRoleResponseTypeDef = retrier.call(
            "sts:AssumeRole", partial(sts.assume_role, **kwargs)
        )
        credentials = response["Credentials"]
        return {
            "access_key": credentials["AccessKeyId"],
            "secret_key": credentials["SecretAccessKey"],
            "token": credentials["SessionToken"],
            "expiry_time": _iso(credentials["Expiration"]),
        }

    return _session(assume, region=scope.region)


def _session(refresh: Callable[[], dict[str, Any]], *, region: str) -> boto3.Session:
    credentials = RefreshableCredentials.create_from_metadata(
        metadata=refresh(), refresh_using=refresh, method="sts-assume-role"
    )
    botocore_session = get_session()
    # botocore has no public setter for refreshable credentials; this is the documented-by-use
    # way (boto3's own assume-role provider does the same internally).
    botocore_session._credentials = credentials  # type: ignore[attr-defined]
    return boto3.Session(botocore_session=botocore_session, region_name=region)


def _iso(value: datetime | str) -> str:
    return value.isoformat() if isinstance(value, datetime) else value


def plan_scopes(
    settings: Settings, home: boto3.Session, retrier: Retrier
) -> tuple[tuple[Scope, ...], tuple[RegionError, ...]]:
    """Every scope of the run, and what kept scopes from being known.

    From ``settings.scopes``, or, with an organization role name, from every ACTIVE account of
    ``organizations:ListAccounts`` times the run's regions. A failed listing is returned as one
    error (the run then checks nothing, and says so) rather than raised.
    """
    if settings.organization_role_name is None:
        return settings.scopes, ()
    try:
        accounts = organization_accounts(
            home, retrier, region=settings.regions[0], read_timeout=settings.read_timeout_seconds
        )
    except AwsCallError as error:
        reason = f"could not list the organization's accounts: {error.short}"
        return (), (RegionError(reason=reason),)
    partition = "aws"  # the role ARN's partition follows the home account's
    identity_region = settings.regions[0]
    if identity_region.startswith("cn-"):
        partition = "aws-cn"
    elif identity_region.startswith("us-gov-"):
        partition = "aws-us-gov"
    scopes = tuple(
        Scope(
            region=region,
            account_id=account,
            role_arn=f"arn:{partition}:iam::{account}:role/{settings.organization_role_name}",
            external_id=settings.external_id,
        )
        for account in accounts
        for region in settings.regions
    )
    return scopes, ()


def organization_accounts(
    home: boto3.Session,
    retrier: Retrier,
    *,
    region: str,
    read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS,
) -> list[str]:
    """The ids of the organization's ACTIVE accounts, sorted (suspended ones have no backups
    to check, and their roles cannot be assumed)."""
    client = organizations_client(home, region, read_timeout=read_timeout)
    accounts: set[str] = set()
    for page in pages(
        retrier,
        "organizations:ListAccounts",
        client.list_accounts,
        token_in="NextToken",
        token_out="NextToken",
    ):
        for account in page.get("Accounts", []):
            # "State" replaced "Status" in 2025; either says ACTIVE for a live account.
            state = account.get("State") or account.get("Status")
            if state == "ACTIVE" and _ACCOUNT.match(account.get("Id", "")):
                accounts.add(account["Id"])
    return sorted(accounts)
