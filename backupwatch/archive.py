"""The report archive in S3: every run's full JSON report, under a dated key.

The digest is a summary that SNS caps at 256 KB; the archived report is the whole truth,
linked from the digest. Keys sort by time, so an operator (or ``aws s3 ls``) finds a day's
report without an index::

    <prefix>reports/2026/11/27/070000Z.json

Writing never raises: the digest must go out even when the archive bucket is unwritable; the
failure is logged and reported in the digest instead of the link.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from .errors import AwsCallError
from .models import Report
from .retry import Retrier

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger("backupwatch")

CONTENT_TYPE = "application/json"


class ArchivedReport(BaseModel):
    """Where a report was written, or why it could not be."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bucket: str
    key: str
    url: str | None = None
    """A presigned GET URL, when ``BACKUPWATCH_REPORT_URL_HOURS`` asks for one."""
    error: str | None = None
    """Set when the write failed: the digest says so instead of linking a missing object."""

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def report_key(prefix: str, generated_at: datetime) -> str:
    """``<prefix>reports/YYYY/MM/DD/HHMMSSZ.json``: sorted by time, one per run."""
    return f"{prefix}reports/{generated_at.astimezone(UTC):%Y/%m/%d/%H%M%S}Z.json"


def write_report(
    s3: S3Client,
    retrier: Retrier,
    report: Report,
    *,
    bucket: str,
    prefix: str,
    url_hours: float = 0.0,
) -> ArchivedReport:
    """Write ``report`` as JSON under its dated key; never raises for AWS trouble."""
    key = report_key(prefix, report.generated_at)
    body = report.to_json().encode()
    try:
        retrier.call(
            "s3:PutObject",
            lambda: s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=CONTENT_TYPE),
        )
    except AwsCallError as error:
        logger.error("could not write the report to s3://%s/%s: %s", bucket, key, error)
        return ArchivedReport(bucket=bucket, key=key, error=error.short)
    url = presigned_url(s3, bucket, key, url_hours) if url_hours else None
    return ArchivedReport(bucket=bucket, key=key, url=url)


def presigned_url(s3: S3Client, bucket: str, key: str, hours: float) -> str:
    """A GET link valid ``hours`` (at most 7 days, and never beyond the signing credentials'
    own expiry: a Lambda role's credentials last hours, see docs/configuration.md#reports)."""
    return s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=int(hours * 3600)
    )


def read_report(s3: S3Client, retrier: Retrier, *, bucket: str, key: str) -> Report:
    """Read a report written by ``write_report`` (or any ``Report.to_json``); raises
    ``AwsCallError`` when it cannot be read and ``pydantic.ValidationError`` when it is not a
    report."""
    body: bytes = retrier.call(
        "s3:GetObject", lambda: s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    )
    return Report.from_json(body)
