"""``inspect_dump`` against moto S3: what it reads, how few requests, and every way it breaks."""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backupwatch import AwsCallError, Retrier
from backupwatch.aws.clients import s3_client
from backupwatch.aws.s3_integrity import inspect_dump
from backupwatch.core.integrity import HEAD_BYTES, TAIL_BYTES, DumpFormat, IntegrityFindings

from .conftest import BUCKET, DENIED, NOW, REGION, THROTTLED, Fault, Faults, World
from .test_integrity_rules import (
    ERROR_MESSAGE,
    GZIP,
    MYSQLDUMP,
    PG_CUSTOM,
    PG_PLAIN,
    PG_PLAIN_TRUNCATED,
)

KEY = "acme-backups/2026/11/27/acme.dump"
SIDECAR = KEY + ".sha256"
LOCKED_BUCKET = "acme-locked-backups"
ARCHIVED = Fault("archived", {"*": ("InvalidObjectState", 403)})
"""What S3 answers a GET of an object in an Intelligent-Tiering archive tier (moto does not
model the tiers, so it is injected)."""
MIB = 1024 * 1024


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@pytest.fixture
def s3(world: World, faults: Faults) -> Any:
    """A client built after the ``Faults``: its requests are counted and can be faulted."""
    world.bucket()
    return s3_client(faults.session, REGION)


@pytest.fixture
def ranges(s3: Any) -> list[str | None]:
    """The ``Range`` of every GetObject, in order (None: the whole object)."""
    seen: list[str | None] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        seen.append(params.get("Range"))

    s3.meta.events.register("before-parameter-build.s3.GetObject", record)
    return seen


def put(s3: Any, key: str, body: bytes, *, bucket: str = BUCKET, **extra: Any) -> int:
    s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)
    return len(body)


def inspect(
    s3: Any,
    retrier: Retrier,
    size: int,
    *,
    key: str = KEY,
    bucket: str = BUCKET,
    storage_class: str | None = "STANDARD",
    fmt: DumpFormat | None = None,
    checksum: bool = False,
    lock_min_days: float | None = None,
    require_compliance: bool = False,
    require_sse: bool = False,
    kms_key: str | None = None,
    now: datetime = NOW,
) -> IntegrityFindings:
    return inspect_dump(
        s3,
        retrier,
        bucket=bucket,
        key=key,
        size=size,
        storage_class=storage_class,
        expected_format=fmt,
        verify_checksum=checksum,
        lock_min_days=lock_min_days,
        require_compliance=require_compliance,
        require_sse=require_sse,
        required_kms_key=kms_key,
        now=now,
    )


def requests(faults: Faults) -> Counter[str]:
    """The integrity requests made so far (puts and bucket set-up left out)."""
    return Counter(
        {k: v for k, v in faults.api_calls.items() if k in ("s3:GetObject", "s3:HeadObject")}
    )


# --- format -----------------------------------------------------------------------------------


def test_a_good_custom_dump_takes_one_ranged_read(
    s3: Any, retrier: Retrier, faults: Faults, ranges: list[str | None]
) -> None:
    """pg_custom has no completion marker: the first 512 bytes decide."""
    size = put(s3, KEY, PG_CUSTOM)
    findings = inspect(s3, retrier, size, fmt=DumpFormat.PG_CUSTOM)
    assert findings == IntegrityFindings(checked=("format pg_custom",), calls=1)
    assert ranges == [f"bytes=0-{HEAD_BYTES - 1}"]
    assert requests(faults) == {"s3:GetObject": 1}


def test_a_dump_that_is_an_error_message_fails(s3: Any, retrier: Retrier, faults: Faults) -> None:
    """The cron job wrote pg_dump's stderr into acme.dump: one read, failing, quoted."""
    size = put(s3, KEY, ERROR_MESSAGE)
    findings = inspect(s3, retrier, size, fmt=DumpFormat.PG_CUSTOM)
    assert findings.problems == (
        "first bytes are text 'pg_dump: error: connection to server at…', "
        "not a pg_dump custom-format archive",
    )
    assert findings.failing
    assert findings.calls == 1 == requests(faults)["s3:GetObject"]


def test_a_truncated_plain_dump_fails_on_its_tail(
    s3: Any, retrier: Retrier, faults: Faults, ranges: list[str | None]
) -> None:
    """Right header, no "dump complete": two ranged reads, the second from the end."""
    size = put(s3, KEY, PG_PLAIN_TRUNCATED)
    assert size > HEAD_BYTES + TAIL_BYTES
    findings = inspect(s3, retrier, size, fmt=DumpFormat.PG_PLAIN)
    assert findings.problems == (
        "no '-- PostgreSQL database dump complete' in the last 1024 bytes: "
        "the dump looks truncated",
    )
    assert ranges == [f"bytes=0-{HEAD_BYTES - 1}", f"bytes=-{TAIL_BYTES}"]
    assert findings.calls == 2 == requests(faults)["s3:GetObject"]


def test_a_complete_plain_dump_passes(s3: Any, retrier: Retrier) -> None:
    size = put(s3, KEY, PG_PLAIN)
    findings = inspect(s3, retrier, size, fmt=DumpFormat.PG_PLAIN)
    assert findings == IntegrityFindings(checked=("format pg_plain",), calls=2)


def test_a_wrong_header_saves_the_tail_read(
    s3: Any, retrier: Retrier, ranges: list[str | None]
) -> None:
    """A gzip declared as a mysqldump: the first bytes already fail; the tail is not read."""
    size = put(s3, KEY, GZIP)
    findings = inspect(s3, retrier, size, fmt=DumpFormat.MYSQLDUMP)
    assert findings.problems == ("first bytes are gzip data, not a mysqldump",)
    assert ranges == [f"bytes=0-{HEAD_BYTES - 1}"]


def test_a_small_object_is_read_once(s3: Any, retrier: Retrier, ranges: list[str | None]) -> None:
    """Smaller than the first read: its bytes serve as head and tail."""
    tiny = (
        b"--\n-- PostgreSQL database dump\n--\n\n--\n-- PostgreSQL database dump complete\n--\n\n"
    )
    size = put(s3, KEY, tiny)
    assert inspect(s3, retrier, size, fmt=DumpFormat.PG_PLAIN).checked == ("format pg_plain",)
    cut = MYSQLDUMP[:300]
    size = put(s3, KEY, cut)
    findings = inspect(s3, retrier, size, fmt=DumpFormat.MYSQLDUMP)
    assert findings.problems == (
        "no '-- Dump completed' in the last 300 bytes: the dump looks truncated",
    )
    assert findings.calls == 1
    assert len(ranges) == 2


def test_an_empty_object_is_judged_without_a_read(
    s3: Any, retrier: Retrier, faults: Faults
) -> None:
    """S3 cannot serve a range of nothing (InvalidRange): an empty object is not read."""
    put(s3, KEY, b"")
    findings = inspect(s3, retrier, 0, fmt=DumpFormat.GZIP)
    assert findings == IntegrityFindings(
        problems=("the object is empty (0 bytes), not gzip data",), calls=0
    )
    assert requests(faults) == {}


def test_an_object_emptied_since_the_listing_is_empty(s3: Any, retrier: Retrier) -> None:
    """Listed with 4 KiB, empty when read: S3's InvalidRange means "nothing there now"."""
    put(s3, KEY, b"")
    findings = inspect(s3, retrier, 4096, fmt=DumpFormat.PG_CUSTOM)
    assert findings.problems == (
        "the object is empty (0 bytes), not a pg_dump custom-format archive",
    )
    assert findings.calls == 1


def test_a_retried_read_is_one_call(s3: Any, retrier: Retrier, faults: Faults) -> None:
    """``calls`` counts requests, not attempts: a throttled read retried once is one call."""
    size = put(s3, KEY, PG_CUSTOM)
    faults.inject("s3", "GetObject", THROTTLED, times=1)
    findings = inspect(s3, retrier, size, fmt=DumpFormat.PG_CUSTOM)
    assert findings.checked == ("format pg_custom",)
    assert findings.calls == 1
    assert faults.attempts("s3", "GetObject") == 2


# --- archived objects -----------------------------------------------------------------------


def test_a_glacier_object_is_a_note_not_a_pass(s3: Any, retrier: Retrier, faults: Faults) -> None:
    """Without a HEAD, the GET is tried (a restored copy would be readable); moto refuses it
    with InvalidObjectState, which is a note."""
    size = put(s3, KEY, PG_CUSTOM, StorageClass="GLACIER")
    findings = inspect(s3, retrier, size, storage_class="GLACIER", fmt=DumpFormat.PG_CUSTOM)
    assert findings == IntegrityFindings(
        notes=(
            "stored in GLACIER (S3 Glacier Flexible Retrieval): it cannot be read without a "
            "restore, so its content was not checked",
        ),
        calls=1,
    )
    assert not findings.failing
    assert requests(faults) == {"s3:GetObject": 1}


def test_a_glacier_object_known_from_the_head_is_not_read(
    s3: Any, retrier: Retrier, faults: Faults
) -> None:
    """With a HEAD made anyway (encryption checked), its storage class spares the doomed GET."""
    size = put(s3, KEY, PG_CUSTOM, StorageClass="DEEP_ARCHIVE", ServerSideEncryption="AES256")
    findings = inspect(
        s3, retrier, size, storage_class="DEEP_ARCHIVE", fmt=DumpFormat.PG_CUSTOM, require_sse=True
    )
    assert findings.notes == (
        "stored in DEEP_ARCHIVE (S3 Glacier Deep Archive): it cannot be read without a restore, "
        "so its content was not checked",
    )
    assert findings.checked == ("encryption",)
    assert requests(faults) == {"s3:HeadObject": 1}


def test_an_archive_tier_refusal_is_a_note(s3: Any, retrier: Retrier, faults: Faults) -> None:
    """Intelligent-Tiering's archive tiers are invisible in a listing: S3's InvalidObjectState
    on the read is the only sign, and a note."""
    size = put(s3, KEY, PG_CUSTOM, StorageClass="INTELLIGENT_TIERING")
    faults.inject("s3", "GetObject", ARCHIVED)
    findings = inspect(
        s3, retrier, size, storage_class="INTELLIGENT_TIERING", fmt=DumpFormat.PG_CUSTOM
    )
    assert findings.notes == (
        "S3 refused to read it (InvalidObjectState): the object is archived "
        "(INTELLIGENT_TIERING) and needs a restore, so its content was not checked",
    )
    assert findings.problems == ()
    assert faults.attempts("s3", "GetObject") == 1  # not retried


# --- failures that are errors ---------------------------------------------------------------


def test_denied_read_raises(s3: Any, retrier: Retrier, faults: Faults) -> None:
    """AccessDenied is never a note and never a pass: the caller makes it an ERROR."""
    size = put(s3, KEY, PG_CUSTOM)
    faults.inject("s3", "GetObject", DENIED)
    with pytest.raises(AwsCallError) as raised:
        inspect(s3, retrier, size, fmt=DumpFormat.PG_CUSTOM)
    assert (raised.value.operation, raised.value.code) == ("s3:GetObject", "AccessDenied")


def test_denied_head_raises(s3: Any, retrier: Retrier, faults: Faults) -> None:
    size = put(s3, KEY, PG_CUSTOM)
    faults.inject("s3", "HeadObject", DENIED)
    with pytest.raises(AwsCallError) as raised:
        inspect(s3, retrier, size, checksum=True)
    assert raised.value.operation == "s3:GetObject"  # the IAM action of HeadObject


def test_denied_sidecar_raises(s3: Any, retrier: Retrier, faults: Faults) -> None:
    """Only a missing sidecar (NoSuchKey) is a note; a denied one is an error."""
    size = put(s3, KEY, PG_CUSTOM, ChecksumAlgorithm="SHA256")
    put(s3, SIDECAR, f"{sha256(PG_CUSTOM)}  acme.dump\n".encode())
    faults.inject("s3", "GetObject", DENIED, when=lambda p: p.get("Key") == SIDECAR)
    with pytest.raises(AwsCallError) as raised:
        inspect(s3, retrier, size, fmt=DumpFormat.PG_CUSTOM, checksum=True)
    assert (raised.value.operation, raised.value.code) == ("s3:GetObject", "AccessDenied")


def test_an_object_gone_since_the_listing_raises(s3: Any, retrier: Retrier) -> None:
    with pytest.raises(AwsCallError) as raised:
        inspect(s3, retrier, 4096, fmt=DumpFormat.PG_CUSTOM)
    assert raised.value.code == "NoSuchKey"


# --- checksums ------------------------------------------------------------------------------


def test_a_matching_sidecar_verifies(
    s3: Any, retrier: Retrier, faults: Faults, ranges: list[str | None]
) -> None:
    """Uploaded with a SHA-256 checksum, sidecar from sha256sum: verified, in two requests."""
    size = put(s3, KEY, PG_CUSTOM, ChecksumAlgorithm="SHA256")
    put(s3, SIDECAR, f"{sha256(PG_CUSTOM)}  acme.dump\n".encode())
    findings = inspect(s3, retrier, size, checksum=True)
    assert findings == IntegrityFindings(checked=("sha256",), calls=2)
    assert requests(faults) == {"s3:HeadObject": 1, "s3:GetObject": 1}
    assert ranges == [None]


def test_a_sidecar_mismatch_fails(s3: Any, retrier: Retrier) -> None:
    size = put(s3, KEY, PG_CUSTOM, ChecksumAlgorithm="SHA256")
    put(s3, SIDECAR, f"{sha256(b'yesterday')} *acme.dump\n".encode())
    findings = inspect(s3, retrier, size, checksum=True)
    assert findings.problems == (
        f"sha256 in acme.dump.sha256 is {sha256(b'yesterday')[:12]}…, "
        f"S3 computed {sha256(PG_CUSTOM)[:12]}…",
    )


def test_a_metadata_mismatch_fails_without_a_sidecar_read(
    s3: Any, retrier: Retrier, faults: Faults
) -> None:
    """The producer's sha256 in x-amz-meta-sha256: no sidecar GET at all."""
    size = put(
        s3, KEY, PG_CUSTOM, ChecksumAlgorithm="SHA256", Metadata={"sha256": sha256(b"other")}
    )
    findings = inspect(s3, retrier, size, checksum=True)
    assert findings.problems == (
        f"sha256 in metadata sha256 is {sha256(b'other')[:12]}…, "
        f"S3 computed {sha256(PG_CUSTOM)[:12]}…",
    )
    assert findings.calls == 1
    assert requests(faults) == {"s3:HeadObject": 1}


def test_a_base64_metadata_sha256_verifies(s3: Any, retrier: Retrier) -> None:
    size = put(
        s3, KEY, PG_CUSTOM, ChecksumAlgorithm="SHA256", Metadata={"sha256": sha256_b64(PG_CUSTOM)}
    )
    assert inspect(s3, retrier, size, checksum=True).checked == ("sha256",)


def test_a_malformed_sidecar_fails(s3: Any, retrier: Retrier) -> None:
    """The sidecar job's own error message in the sidecar: the backup run is broken."""
    size = put(s3, KEY, PG_CUSTOM, ChecksumAlgorithm="SHA256")
    put(s3, SIDECAR, b"sha256sum: /backups/acme.dump: No such file or directory\n")
    findings = inspect(s3, retrier, size, checksum=True)
    assert findings.problems == (
        "acme.dump.sha256 line 1 is not a sha256sum line: "
        "'sha256sum: /backups/acme.dump: No such …'",
    )


def test_an_sdk_crc_is_not_a_verified_checksum(s3: Any, retrier: Retrier) -> None:
    """The careless pass: boto3 uploads with a CRC32 by default (S3 itself adds CRC64NVME). A
    checksum is present, the producer's sha256 is right, and still nothing is verified."""
    size = put(s3, KEY, PG_CUSTOM)
    put(s3, SIDECAR, f"{sha256(PG_CUSTOM)}  acme.dump\n".encode())
    findings = inspect(s3, retrier, size, checksum=True)
    assert findings.checked == ()
    assert findings.notes == (
        "S3 holds no SHA-256 checksum for this object (it was uploaded without one; S3 holds "
        "only CRC32), so the sha256 in acme.dump.sha256 cannot be compared",
    )


def test_an_s3_sha256_without_the_producers_is_not_verified(
    s3: Any, retrier: Retrier, faults: Faults
) -> None:
    """The careless pass: S3 holds a SHA-256, nobody said what it should be. A missing sidecar
    is a note, not an error."""
    size = put(s3, KEY, PG_CUSTOM, ChecksumAlgorithm="SHA256")
    findings = inspect(s3, retrier, size, checksum=True)
    assert findings == IntegrityFindings(
        notes=("no sidecar acme.dump.sha256 and no sha256 in the object's metadata",), calls=2
    )
    assert requests(faults) == {"s3:HeadObject": 1, "s3:GetObject": 1}


def test_a_sidecar_for_other_files_is_a_note(s3: Any, retrier: Retrier) -> None:
    size = put(s3, KEY, PG_CUSTOM, ChecksumAlgorithm="SHA256")
    other = sha256(b"billing")
    put(s3, SIDECAR, f"{other}  billing.dump\n{other}  crm.dump\n".encode())
    findings = inspect(s3, retrier, size, checksum=True)
    assert findings.notes == ("acme.dump.sha256 lists no sha256 for acme.dump",)


def test_a_multipart_upload_is_not_verifiable(s3: Any, retrier: Retrier) -> None:
    """A SHA-256 multipart upload holds a composite checksum: even the right sidecar cannot be
    compared with it (moto shows it only in the ETag's "-2")."""
    body = PG_CUSTOM + bytes(5 * MIB) + b"end"
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=KEY, ChecksumAlgorithm="SHA256")
    parts = []
    for number, chunk in enumerate((body[: 5 * MIB], body[5 * MIB :]), start=1):
        part = s3.upload_part(
            Bucket=BUCKET,
            Key=KEY,
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=chunk,
            ChecksumAlgorithm="SHA256",
        )
        parts.append(
            {"PartNumber": number, "ETag": part["ETag"], "ChecksumSHA256": part["ChecksumSHA256"]}
        )
    s3.complete_multipart_upload(
        Bucket=BUCKET, Key=KEY, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
    )
    put(s3, SIDECAR, f"{sha256(body)}  acme.dump\n".encode())
    findings = inspect(s3, retrier, len(body), fmt=DumpFormat.PG_CUSTOM, checksum=True)
    assert findings.checked == ("format pg_custom",)
    assert findings.notes == (
        "S3 holds a composite checksum of a multipart upload (2 parts), which cannot be "
        "compared with the sha256 of the file in acme.dump.sha256",
    )
    assert not findings.failing


# --- Object Lock and encryption -------------------------------------------------------------

UNTIL = datetime(2036, 1, 31, tzinfo=UTC)
"""Far ahead of any wall clock moto may check a retain-until date against; ``now`` is set
relative to it instead."""


@pytest.fixture
def locked(s3: Any) -> Any:
    s3.create_bucket(Bucket=LOCKED_BUCKET, ObjectLockEnabledForBucket=True)
    return s3


@pytest.mark.parametrize(
    ("mode", "ahead", "min_days", "compliance", "problem"),
    [
        ("COMPLIANCE", 30, 7, True, None),
        ("GOVERNANCE", 30, 7, False, None),
        (
            "GOVERNANCE",
            30,
            7,
            True,
            "Object Lock GOVERNANCE until 2036-01-31, 30 days ahead; the policy asks for "
            "COMPLIANCE (GOVERNANCE can be lifted by anyone allowed "
            "s3:BypassGovernanceRetention)",
        ),
        (
            "COMPLIANCE",
            4,
            30,
            False,
            "Object Lock COMPLIANCE until 2036-01-31, 4 days ahead; the policy asks for 30 days",
        ),
    ],
)
def test_object_lock_from_the_head(
    locked: Any,
    retrier: Retrier,
    mode: str,
    ahead: int,
    min_days: float,
    compliance: bool,
    problem: str | None,
) -> None:
    size = put(
        locked,
        KEY,
        PG_CUSTOM,
        bucket=LOCKED_BUCKET,
        ObjectLockMode=mode,
        ObjectLockRetainUntilDate=UNTIL,
    )
    findings = inspect(
        locked,
        retrier,
        size,
        bucket=LOCKED_BUCKET,
        lock_min_days=min_days,
        require_compliance=compliance,
        now=UNTIL - timedelta(days=ahead),
    )
    assert findings.calls == 1
    if problem is None:
        assert findings.checked == ("Object Lock",)
    else:
        assert findings.problems == (problem,)


def test_an_unlocked_object_fails_the_lock_check(s3: Any, retrier: Retrier) -> None:
    size = put(s3, KEY, PG_CUSTOM)
    findings = inspect(s3, retrier, size, lock_min_days=7)
    assert findings.problems == (
        "no Object Lock retention (S3 shows it only to a role allowed s3:GetObjectRetention)",
    )


def test_encryption_with_the_required_kms_key(world: World, s3: Any, retrier: Retrier) -> None:
    """The key given as its ARN matches the id S3 was given; another key does not; an object
    without SSE fails ``require_sse``."""
    kms = world.client("kms")
    key = kms.create_key()["KeyMetadata"]
    other = kms.create_key()["KeyMetadata"]
    size = put(s3, KEY, PG_CUSTOM, ServerSideEncryption="aws:kms", SSEKMSKeyId=key["KeyId"])
    assert inspect(s3, retrier, size, kms_key=key["Arn"]).checked == ("encryption",)
    assert inspect(s3, retrier, size, kms_key=other["Arn"]).problems == (
        f"encrypted with SSE-KMS key {key['KeyId']}, not {other['Arn']}",
    )
    size = put(s3, "acme-backups/plain.dump", PG_CUSTOM)
    findings = inspect(s3, retrier, size, key="acme-backups/plain.dump", require_sse=True)
    assert findings.problems == ("not encrypted at rest: S3 reports no server-side encryption",)


# --- the budget -----------------------------------------------------------------------------


def test_nothing_asked_nothing_read(s3: Any, retrier: Retrier, faults: Faults) -> None:
    size = put(s3, KEY, PG_CUSTOM)
    assert inspect(s3, retrier, size) == IntegrityFindings()
    assert requests(faults) == {}


def test_everything_at_once_stays_within_four_requests(
    world: World, locked: Any, retrier: Retrier, faults: Faults, ranges: list[str | None]
) -> None:
    """Format with a tail, sidecar checksum, lock and KMS: one HEAD, two ranged GETs and the
    sidecar GET, and ``calls`` agrees with what was really sent."""
    key = world.client("kms").create_key()["KeyMetadata"]
    size = put(
        locked,
        KEY,
        PG_PLAIN,
        bucket=LOCKED_BUCKET,
        ChecksumAlgorithm="SHA256",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=UNTIL,
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=key["Arn"],
    )
    put(locked, SIDECAR, f"{sha256(PG_PLAIN)}  acme.dump\n".encode(), bucket=LOCKED_BUCKET)
    findings = inspect(
        locked,
        retrier,
        size,
        bucket=LOCKED_BUCKET,
        fmt=DumpFormat.PG_PLAIN,
        checksum=True,
        lock_min_days=7,
        require_compliance=True,
        require_sse=True,
        kms_key=key["KeyId"],
        now=UNTIL - timedelta(days=30),
    )
    assert findings == IntegrityFindings(
        checked=("format pg_plain", "sha256", "Object Lock", "encryption"), calls=4
    )
    assert requests(faults) == {"s3:HeadObject": 1, "s3:GetObject": 3}
    assert ranges == [f"bytes=0-{HEAD_BYTES - 1}", f"bytes=-{TAIL_BYTES}", None]


@pytest.mark.parametrize(
    "body",
    [PG_PLAIN, PG_PLAIN_TRUNCATED, PG_CUSTOM, ERROR_MESSAGE, GZIP, b""],
    ids=["complete", "truncated", "custom", "error", "gzip", "empty"],
)
@pytest.mark.parametrize("fmt", [DumpFormat.PG_PLAIN, DumpFormat.PG_CUSTOM])
def test_never_more_than_the_budget(
    s3: Any, retrier: Retrier, faults: Faults, body: bytes, fmt: DumpFormat
) -> None:
    """Whatever the object, at most one HEAD, two ranged GETs and one sidecar GET; every
    requested check ends as exactly one of problem, note or passed."""
    size = put(s3, KEY, body, ChecksumAlgorithm="SHA256")
    put(s3, SIDECAR, f"{sha256(body)}  acme.dump\n".encode())
    findings = inspect(s3, retrier, size, fmt=fmt, checksum=True, require_sse=True)
    made = requests(faults)
    assert made["s3:HeadObject"] == 1
    assert made["s3:GetObject"] <= 3
    assert findings.calls == sum(made.values())
    assert len(findings.problems) + len(findings.notes) + len(findings.checked) == 3
