"""S3 evidence: the newest object under a tenant's prefix (AWS I/O).

Keys come back in UTF-8 binary order, not time order, so the newest object can be on any page:
every page is read (the seed read only the first 1,000 keys and judged tenants on their oldest
backups). Memory stays flat: only the running newest objects are kept.

When keys carry their date right after the prefix (``tenant-backups/2026/11/27/db.dump``,
``BACKUPWATCH_S3_DATE_LAYOUT=%Y/%m/%d/``), name order *is* date order, and
``newest_dated_objects`` reads only the keys dated inside the window (``StartAfter``), plus
one probe call to learn whether older ones exist: two calls per tenant, whatever the history
(a few more only for a folder whose first keys are console placeholders).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from backupwatch.aws.pagination import pages
from backupwatch.aws.retry import Retrier
from backupwatch.core.integrity import SIDECAR_SUFFIX
from backupwatch.core.models import ObjectInfo, S3Evidence
from backupwatch.core.size_history import HISTORY_LENGTH, series_of

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def newest_objects(
    s3: S3Client,
    retrier: Retrier,
    *,
    bucket: str,
    prefix: str,
    min_object_bytes: int,
    exclude: tuple[str, ...] = (),
) -> S3Evidence:
    """List ``s3://bucket/prefix`` fully; keep the newest object and the newest large enough one.

    Keys under ``exclude`` (the folders of other tenants nested inside this one) and folder
    placeholders (keys ending in ``/``) are skipped: neither is this tenant's backup.

    Raises ``AwsCallError`` when a page fails for good (``NoSuchBucket``, ``AccessDenied``...).
    """
    listing = _listing(s3, retrier, bucket=bucket, prefix=prefix)
    return _newest(
        listing, bucket=bucket, prefix=prefix, min_object_bytes=min_object_bytes, exclude=exclude
    )


DATE_MARGIN = timedelta(days=1)
"""Listed before the window, so keys dated in a time zone behind UTC are never skipped."""
HISTORY_MARGIN = timedelta(days=HISTORY_LENGTH)
"""Listed before that too: the earlier dumps the size rule compares the newest with. A week
of daily keys fits in the first page, so it costs no call."""


def newest_dated_objects(
    s3: S3Client,
    retrier: Retrier,
    *,
    bucket: str,
    prefix: str,
    min_object_bytes: int,
    date_layout: str,
    since: datetime,
    exclude: tuple[str, ...] = (),
) -> S3Evidence:
    """Like ``newest_objects``, reading only keys dated from ``since`` (minus a day, and minus
    a week of size history) on.

    Keys are judged by their ``LastModified`` as always; the date in the name only decides
    which keys are read. When nothing countable is dated in the window, one more call with
    ``MaxKeys=1`` tells whether older keys exist (``STALE``, age unknown) or none (``MISSING``).
    """
    start_after = prefix + (since.astimezone(UTC) - DATE_MARGIN - HISTORY_MARGIN).strftime(
        date_layout
    )
    recent = _listing(s3, retrier, bucket=bucket, prefix=prefix, StartAfter=start_after)
    evidence = _newest(
        recent, bucket=bucket, prefix=prefix, min_object_bytes=min_object_bytes, exclude=exclude
    )
    evidence = evidence.model_copy(update={"listed_after": start_after})
    if evidence.newest_countable is not None:
        return evidence
    older = _older_object_exists(
        s3, retrier, bucket=bucket, prefix=prefix, before=start_after, exclude=exclude
    )
    return evidence.model_copy(update={"unread_older_objects": older})


PROBE_KEYS = 20
"""Keys asked for per probe call: enough to step over a few folder placeholders at once."""
PROBE_CALLS = 5
"""At most this many probe calls; a folder of nothing but placeholders ends sooner."""
_AFTER_EVERY_KEY = "\U0010ffff"
"""Appended to a folder, a ``StartAfter`` past every key in it (S3 orders keys by UTF-8 bytes,
and no character encodes above U+10FFFF)."""


def _older_object_exists(
    s3: S3Client,
    retrier: Retrier,
    *,
    bucket: str,
    prefix: str,
    before: str,
    exclude: tuple[str, ...],
) -> bool:
    """Whether a backup object (not a placeholder, not a nested tenant's) sorts at or before
    ``before``: the first such key in name order decides.

    Folder placeholders sort first (``acme-backups/`` before everything in it, then
    ``acme-backups/2026/``...), so the first key alone would say "nothing older" of a folder
    made in the console; they are stepped over, and a nested tenant's folder is skipped whole.
    """
    after = prefix  # the folder's own placeholder, if any, is never a backup
    for _ in range(PROBE_CALLS):
        page = retrier.call(
            "s3:ListBucket",
            partial(
                s3.list_objects_v2,
                Bucket=bucket,
                Prefix=prefix,
                StartAfter=after,
                MaxKeys=PROBE_KEYS,
            ),
        )
        items = page.get("Contents", [])
        for item in items:
            key = item["Key"]
            if key > before:
                return False
            nested = next((folder for folder in exclude if key.startswith(folder)), None)
            if nested is not None:
                after = nested + _AFTER_EVERY_KEY
                break
            if not key.endswith("/"):
                return True
        else:
            if not page.get("IsTruncated") or not items:
                return False
            after = items[-1]["Key"]
    return False


def _listing(
    s3: S3Client, retrier: Retrier, *, bucket: str, prefix: str, **extra: Any
) -> Iterator[Mapping[str, Any]]:
    """The pages of ``ListObjectsV2`` under ``prefix``, each page retried on its own."""
    return pages(
        retrier,
        "s3:ListBucket",
        s3.list_objects_v2,
        token_in="ContinuationToken",
        token_out="NextContinuationToken",
        Bucket=bucket,
        Prefix=prefix,
        **extra,
    )


def _excluded(key: str, exclude: tuple[str, ...]) -> bool:
    return any(key.startswith(folder) for folder in exclude)


_Listed = tuple[datetime, str, int, str | None]
"""An object as listed: ``LastModified``, ``Key``, ``Size``, ``StorageClass``."""


def _newest(
    listing: Iterable[Mapping[str, Any]],
    *,
    bucket: str,
    prefix: str,
    min_object_bytes: int,
    exclude: tuple[str, ...] = (),
) -> S3Evidence:
    """Fold the pages of a listing into the newest object, the newest countable one, and the
    sizes of the countable ones before it in its series (for the size rule).

    The running newest are plain tuples, made models once at the end: with keys named by
    date, each key is newer than the one before, and a model per key would be most of the
    fold's cost.
    """
    newest: _Listed | None = None
    countable: _Listed | None = None
    series = _Series(prefix)
    seen = 0
    for page in listing:
        for item in page.get("Contents", []):
            key = item["Key"]
            if key.endswith("/") or key.endswith(SIDECAR_SUFFIX) or _excluded(key, exclude):
                # A console "folder" placeholder, or a checksum sidecar, is never a backup,
                # whatever its size; a key in a nested tenant's folder is that tenant's
                # evidence, never this one's.
                continue
            seen += 1
            modified, size = item["LastModified"], int(item.get("Size", 0))
            if newest is None or modified > newest[0]:
                newest = (modified, key, size, item.get("StorageClass"))
            if size >= min_object_bytes:
                series.add(key, modified, size)
                if countable is None or modified > countable[0]:
                    countable = (modified, key, size, item.get("StorageClass"))
    dump = _info(countable)
    return S3Evidence(
        bucket=bucket,
        prefix=prefix,
        min_object_bytes=min_object_bytes,
        objects_seen=seen,
        newest=_info(newest),
        newest_countable=dump,
        history_sizes=series.before(dump) if dump is not None else (),
    )


def _info(listed: _Listed | None) -> ObjectInfo | None:
    if listed is None:
        return None
    modified, key, size, storage_class = listed
    return ObjectInfo(key=key, last_modified=modified, size=size, storage_class=storage_class)


MAX_SERIES = 1024
"""Series tracked per folder: keys without digits that never repeat (random names) would
otherwise grow one list per key. A series first seen past this has no history."""


class _Series:
    """The newest ``HISTORY_LENGTH + 1`` countable objects of each series, by time: memory
    stays bounded by the series, not by the objects listed."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.newest: dict[str, list[tuple[datetime, str, int]]] = {}

    def add(self, key: str, modified: datetime, size: int) -> None:
        name = series_of(key, self.prefix)
        kept = self.newest.get(name)
        if kept is None:
            if len(self.newest) >= MAX_SERIES:
                return
            kept = self.newest[name] = []
        if len(kept) <= HISTORY_LENGTH:
            heapq.heappush(kept, (modified, key, size))
        elif (modified, key) > kept[0][:2]:
            heapq.heapreplace(kept, (modified, key, size))

    def before(self, dump: ObjectInfo) -> tuple[int, ...]:
        """Sizes of the earlier objects of ``dump``'s series, newest first."""
        kept = self.newest.get(series_of(dump.key, self.prefix), [])
        return tuple(size for _, key, size in sorted(kept, reverse=True) if key != dump.key)
