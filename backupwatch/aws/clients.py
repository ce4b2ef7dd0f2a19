"""Building boto3 clients the one way backupwatch needs them.

botocore's own retries are switched off (one attempt per call) because ``backupwatch.aws.retry``
owns retrying; see its docstring for why the two must not stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ConfigParseError, ProfileNotFound

from backupwatch.aws.timestamps import use_fast_timestamps
from backupwatch.core.config import CONNECT_TIMEOUT_SECONDS, DEFAULT_READ_TIMEOUT_SECONDS
from backupwatch.core.errors import ConfigurationError

if TYPE_CHECKING:
    from mypy_boto3_backup import BackupClient
    from mypy_boto3_organizations import OrganizationsClient
    from mypy_boto3_rds import RDSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sesv2 import SESV2Client
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_sts import STSClient

USER_AGENT_EXTRA = "backupwatch"


def new_session() -> boto3.Session:
    """``boto3.Session()``, with a broken local AWS configuration as a ``ConfigurationError``.

    Building a session reads ``~/.aws/config``: a profile that does not exist (``AWS_PROFILE``)
    or a file that does not parse raises there, before any call. That is the operator's
    configuration to fix (exit 2 on the command line), not AWS trouble and not a bug.
    """
    try:
        return boto3.Session()
    except ProfileNotFound as error:
        raise ConfigurationError(
            "AWS_PROFILE",
            error.kwargs.get("profile"),
            "no such profile in the AWS config or credentials file",
        ) from None
    except ConfigParseError as error:
        raise ConfigurationError(
            "AWS_CONFIG_FILE", error.kwargs.get("path"), "the AWS config file does not parse"
        ) from None
    except BotoCoreError as error:
        raise ConfigurationError("AWS configuration", None, str(error)) from None


def client_config(
    *, max_pool_connections: int = 10, read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS
) -> Config:
    """One attempt per call; bounded timeouts so a hung connection becomes a retryable error.

    ``read_timeout`` is ``BACKUPWATCH_READ_TIMEOUT_SECONDS``: settings keep it, with the
    connect timeout, below the publish reserve, so one hung call cannot eat it.
    """
    return Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=read_timeout,
        max_pool_connections=max_pool_connections,
        user_agent_extra=USER_AGENT_EXTRA,
    )


def _client(
    session: boto3.Session,
    service: str,
    region: str | None,
    *,
    max_pool_connections: int = 10,
    read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS,
) -> Any:
    """A client of ``session`` with ``client_config``, reading timestamps with backupwatch's
    parser (``backupwatch.aws.timestamps``: the same datetimes, a twentieth of the CPU); the
    session and its other clients are left as they are."""
    config = client_config(max_pool_connections=max_pool_connections, read_timeout=read_timeout)
    client = session.client(service, region_name=region, config=config)  # type: ignore[call-overload]
    use_fast_timestamps(client)
    return client


def rds_client(
    session: boto3.Session, region: str, *, read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS
) -> RDSClient:
    client: RDSClient = _client(session, "rds", region, read_timeout=read_timeout)
    return client


def backup_client(
    session: boto3.Session, region: str, *, read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS
) -> BackupClient:
    client: BackupClient = _client(session, "backup", region, read_timeout=read_timeout)
    return client


def s3_client(
    session: boto3.Session,
    region: str | None,
    *,
    max_pool_connections: int = 10,
    read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS,
) -> S3Client:
    """``max_pool_connections`` should match the threads sharing the client (urllib3 pool)."""
    client: S3Client = _client(
        session,
        "s3",
        region,
        max_pool_connections=max_pool_connections,
        read_timeout=read_timeout,
    )
    return client


def sns_client(
    session: boto3.Session,
    region: str | None,
    *,
    read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS,
) -> SNSClient:
    client: SNSClient = _client(session, "sns", region, read_timeout=read_timeout)
    return client


def sts_client(
    session: boto3.Session,
    region: str | None,
    *,
    read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS,
) -> STSClient:
    client: STSClient = _client(session, "sts", region, read_timeout=read_timeout)
    return client


def organizations_client(
    session: boto3.Session,
    region: str | None,
    *,
    read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS,
) -> OrganizationsClient:
    client: OrganizationsClient = _client(
        session, "organizations", region, read_timeout=read_timeout
    )
    return client


def secretsmanager_client(
    session: boto3.Session, region: str, *, read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS
) -> SecretsManagerClient:
    """In the secret's own region (from its ARN): a secret is read where it lives."""
    client: SecretsManagerClient = _client(
        session, "secretsmanager", region, read_timeout=read_timeout
    )
    return client


def ssm_client(
    session: boto3.Session, region: str, *, read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS
) -> SSMClient:
    """In the parameter's own region (from its ARN): a parameter is read where it lives."""
    client: SSMClient = _client(session, "ssm", region, read_timeout=read_timeout)
    return client


def sesv2_client(
    session: boto3.Session, region: str, *, read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS
) -> SESV2Client:
    """In the SES identity's region (``BACKUPWATCH_SES_REGION``): identities are regional."""
    client: SESV2Client = _client(session, "sesv2", region, read_timeout=read_timeout)
    return client
