"""Integrity of one dump object: a few small reads, judged by ``backupwatch.core.integrity``.

Per object, at most four requests, each asked for only when a check needs it:

1. ``HeadObject`` (``ChecksumMode=ENABLED`` when checksums are verified): the checksum and its
   type, the Object Lock mode and date, the encryption, the user metadata, the storage class,
   the archive and restore state, and the ETag (whose ``-N`` says "multipart upload"). One
   call gives all of them; ``GetObjectAttributes`` gives the checksum and parts but no lock,
   encryption or metadata, so it would need a HEAD as well. Only when the checksum, the lock
   or the encryption is checked.
2. ``GetObject(Range="bytes=0-511")``: the first bytes. Only when a format is declared, the
   object is not empty, and is not known to be archived.
3. ``GetObject(Range="bytes=-1024")``: the last bytes. Only for a format with a completion
   marker, once the first bytes are right, and when the first read did not already return the
   whole object.
4. ``GetObject`` of the sidecar ``<key>.sha256``: only when checksums are verified and the
   object's metadata has no sha256. A missing sidecar (``NoSuchKey``) is a note.

The retrier names each call after the IAM action that authorises it, as every call of
backupwatch is named (``AccessDenied on s3:GetObject`` tells the operator what to grant):
HeadObject and GetObject are both authorised by ``s3:GetObject``; the lock fields need
``s3:GetObjectRetention`` too (without it HeadObject leaves them out, and the object looks
unlocked); for an SSE-KMS object, a GET, and a HEAD with ``ChecksumMode``, need
``kms:Decrypt`` on its key; a missing sidecar is ``NoSuchKey`` only with ``s3:ListBucket``
(otherwise ``AccessDenied``).

``InvalidObjectState`` (an archived object) becomes a note. Every other failure, for good
(``AccessDenied``, the object gone since the listing, retries exhausted), raises
``AwsCallError``: the caller makes it an ``ERROR``, never a pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from backupwatch.aws.retry import Retrier
from backupwatch.core.errors import AwsCallError
from backupwatch.core.integrity import (
    HEAD_BYTES,
    METADATA_SHA256,
    TAIL_BYTES,
    ChecksumOutcome,
    DumpFormat,
    IntegrityFindings,
    MalformedChecksum,
    check_encryption,
    check_format,
    check_lock,
    compare_checksums,
    has_completion_marker,
    parse_sha256_metadata,
    parse_sha256_sidecar,
    refused_as_archived,
    sidecar_key,
    unreadable_storage_class,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

HEAD_OBJECT = "s3:GetObject"  # the IAM action that authorises HeadObject
GET_OBJECT = "s3:GetObject"
NO_SUCH_KEY = "NoSuchKey"
INVALID_OBJECT_STATE = "InvalidObjectState"
INVALID_RANGE = "InvalidRange"
"""A ranged GET of an empty object: S3 answers 416 rather than no bytes."""
SIDECAR_MAX_BYTES = 64 * 1024
"""A sidecar is read up to this much: a sha256sum file for thousands of dumps, never a dump."""
_CHECKSUM_ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")
_MULTIPART_ETAG = re.compile(r'-(\d+)"?$')


@dataclass
class _Tally:
    """What one inspection found so far, and the requests it made."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    calls: int = 0

    def judge(self, problem: str | None, passed: str) -> None:
        if problem is None:
            self.checked.append(passed)
        else:
            self.problems.append(problem)

    def findings(self) -> IntegrityFindings:
        return IntegrityFindings(
            problems=tuple(self.problems),
            notes=tuple(self.notes),
            checked=tuple(self.checked),
            calls=self.calls,
        )


def inspect_dump(
    s3: S3Client,
    retrier: Retrier,
    *,
    bucket: str,
    key: str,
    size: int,
    storage_class: str | None,
    expected_format: DumpFormat | None,
    verify_checksum: bool,
    lock_min_days: float | None,
    require_compliance: bool,
    require_sse: bool,
    required_kms_key: str | None,
    now: datetime,
) -> IntegrityFindings:
    """Look at ``s3://bucket/key`` (``size`` and ``storage_class`` as listed) with the checks
    asked for: the declared format (``expected_format``), the producer's sha256
    (``verify_checksum``), Object Lock retention for ``lock_min_days`` more days (COMPLIANCE
    when ``require_compliance``), server-side encryption (``require_sse``, with
    ``required_kms_key`` when given). Nothing asked: no request, empty findings.

    Raises ``AwsCallError`` when a request fails for good (see the module docstring).
    """
    tally = _Tally()
    head: Mapping[str, Any] | None = None
    if verify_checksum or lock_min_days is not None or require_sse or required_kms_key:
        head = _head_object(s3, retrier, tally, bucket=bucket, key=key, checksum=verify_checksum)
        size = int(head.get("ContentLength", size))
        storage_class = head.get("StorageClass", storage_class)
    if expected_format is not None:
        _check_format(
            s3,
            retrier,
            tally,
            bucket=bucket,
            key=key,
            size=size,
            storage_class=storage_class,
            head=head,
            expected=expected_format,
        )
    if head is not None and verify_checksum:
        _check_checksum(s3, retrier, tally, bucket=bucket, key=key, head=head)
    if head is not None and lock_min_days is not None:
        tally.judge(
            check_lock(
                head.get("ObjectLockMode"),
                head.get("ObjectLockRetainUntilDate"),
                now=now,
                min_days=lock_min_days,
                require_compliance=require_compliance,
            ),
            "Object Lock",
        )
    if head is not None and (require_sse or required_kms_key):
        tally.judge(
            check_encryption(
                head.get("ServerSideEncryption"),
                head.get("SSEKMSKeyId"),
                required_kms_key=required_kms_key,
            ),
            "encryption",
        )
    return tally.findings()


def _head_object(
    s3: S3Client, retrier: Retrier, tally: _Tally, *, bucket: str, key: str, checksum: bool
) -> Mapping[str, Any]:
    tally.calls += 1
    extra: dict[str, Any] = {"ChecksumMode": "ENABLED"} if checksum else {}
    head: Mapping[str, Any] = retrier.call(
        HEAD_OBJECT, lambda: s3.head_object(Bucket=bucket, Key=key, **extra)
    )
    return head


def _check_format(
    s3: S3Client,
    retrier: Retrier,
    tally: _Tally,
    *,
    bucket: str,
    key: str,
    size: int,
    storage_class: str | None,
    head: Mapping[str, Any] | None,
    expected: DumpFormat,
) -> None:
    """The first bytes, then (for a format with a completion marker) the last ones."""
    if head is not None:
        # Known archived and not restored: a GET would only be refused.
        archived = unreadable_storage_class(
            storage_class, archive_status=head.get("ArchiveStatus"), restore=head.get("Restore")
        )
        if archived is not None:
            tally.notes.append(archived)
            return
    first = b""
    if size > 0:
        try:
            first = _get(
                s3, retrier, tally, bucket=bucket, key=key, byte_range=f"bytes=0-{HEAD_BYTES - 1}"
            )
        except AwsCallError as error:
            if error.code == INVALID_OBJECT_STATE:
                tally.notes.append(
                    unreadable_storage_class(storage_class) or refused_as_archived(storage_class)
                )
                return
            if error.code != INVALID_RANGE:
                raise
            size = 0  # emptied since it was listed: S3 cannot serve a range of nothing
    whole = len(first) < HEAD_BYTES or size <= HEAD_BYTES
    problem = check_format(expected, first, first if whole else None, len(first) if whole else size)
    if problem is None and has_completion_marker(expected) and not whole:
        last = _get(s3, retrier, tally, bucket=bucket, key=key, byte_range=f"bytes=-{TAIL_BYTES}")
        problem = check_format(expected, first, last, size)
    tally.judge(problem, f"format {expected.value}")


def _get(
    s3: S3Client, retrier: Retrier, tally: _Tally, *, bucket: str, key: str, byte_range: str
) -> bytes:
    def read() -> bytes:
        # Inside the retried call: a body cut off mid-read is retried like a failed request.
        return s3.get_object(Bucket=bucket, Key=key, Range=byte_range)["Body"].read()

    tally.calls += 1
    body: bytes = retrier.call(GET_OBJECT, read)
    return body


def _check_checksum(
    s3: S3Client,
    retrier: Retrier,
    tally: _Tally,
    *,
    bucket: str,
    key: str,
    head: Mapping[str, Any],
) -> None:
    """The producer's sha256 (user metadata first, else the sidecar) against S3's."""
    try:
        expected, source = _producer_sha256(s3, retrier, tally, bucket=bucket, key=key, head=head)
    except MalformedChecksum as error:
        tally.problems.append(str(error))
        return
    algorithms = [name for name in _CHECKSUM_ALGORITHMS if head.get(f"Checksum{name}")]
    multipart = _MULTIPART_ETAG.search(str(head.get("ETag", "")))
    verdict = compare_checksums(
        expected,
        head.get("ChecksumSHA256"),
        head.get("ChecksumType"),
        source=source,
        s3_algorithms=algorithms,
        parts=int(multipart.group(1)) if multipart else None,
    )
    if verdict.outcome is ChecksumOutcome.VERIFIED:
        tally.checked.append("sha256")
    elif verdict.outcome is ChecksumOutcome.MISMATCH:
        tally.problems.append(verdict.detail)
    else:
        tally.notes.append(verdict.detail)


def _producer_sha256(
    s3: S3Client,
    retrier: Retrier,
    tally: _Tally,
    *,
    bucket: str,
    key: str,
    head: Mapping[str, Any],
) -> tuple[str | None, str]:
    """The producer's sha256 and where it came from, or None and why there is none.

    Raises ``MalformedChecksum`` when the metadata or the sidecar holds something else.
    """
    metadata: Mapping[str, str] = head.get("Metadata") or {}
    if METADATA_SHA256 in metadata:
        return parse_sha256_metadata(metadata[METADATA_SHA256]), f"metadata {METADATA_SHA256}"
    sidecar = sidecar_key(key)
    sidecar_name, name = _basename(sidecar), _basename(key)
    text = _read_sidecar(s3, retrier, tally, bucket=bucket, key=sidecar)
    if text is None:
        return None, f"no sidecar {sidecar_name} and no {METADATA_SHA256} in the object's metadata"
    expected = parse_sha256_sidecar(text, key)
    if expected is None:
        return None, f"{sidecar_name} lists no sha256 for {name}"
    return expected, sidecar_name


def _basename(key: str) -> str:
    return key.rsplit("/", 1)[-1]


def _read_sidecar(
    s3: S3Client, retrier: Retrier, tally: _Tally, *, bucket: str, key: str
) -> bytes | None:
    """The sidecar's first ``SIDECAR_MAX_BYTES``; None when there is none."""

    def read() -> bytes:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        try:
            return body.read(SIDECAR_MAX_BYTES)
        finally:
            body.close()

    tally.calls += 1
    try:
        text: bytes = retrier.call(GET_OBJECT, read)
    except AwsCallError as error:
        if error.code == NO_SUCH_KEY:
            return None
        raise
    return text
