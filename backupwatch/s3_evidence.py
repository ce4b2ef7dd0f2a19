"""S3 evidence: the newest object under a tenant's prefix (AWS I/O).

Keys come back in UTF-8 binary order, not time order, so the newest object can be on any page:
every page is read (the seed read only the first 1,000 keys and judged tenants on their oldest
backups). Memory stays flat: only the running newest objects are kept.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .models import ObjectInfo, S3Evidence
from .pagination import pages
from .retry import Retrier

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def newest_objects(
    s3: S3Client, retrier: Retrier, *, bucket: str, prefix: str, min_object_bytes: int
) -> S3Evidence:
    """List ``s3://bucket/prefix`` fully; keep the newest object and the newest large enough one.

    Raises ``AwsCallError`` when a page fails for good (``NoSuchBucket``, ``AccessDenied``...).
    """
    newest: ObjectInfo | None = None
    countable: ObjectInfo | None = None
    seen = 0
    for page in pages(
        retrier,
        "s3:ListBucket",
        s3.list_objects_v2,
        token_in="ContinuationToken",
        token_out="NextContinuationToken",
        Bucket=bucket,
        Prefix=prefix,
    ):
        for item in page.get("Contents", []):
            seen += 1
            modified, size = item["LastModified"], int(item.get("Size", 0))
            if newest is None or modified > newest.last_modified:
                newest = ObjectInfo(key=item["Key"], last_modified=modified, size=size)
            if size >= min_object_bytes and (
                countable is None or modified > countable.last_modified
            ):
                countable = ObjectInfo(key=item["Key"], last_modified=modified, size=size)
    return S3Evidence(
        bucket=bucket,
        prefix=prefix,
        min_object_bytes=min_object_bytes,
        objects_seen=seen,
        newest=newest,
        newest_countable=countable,
    )
