"""The pure integrity rules: formats from realistic bytes, checksums, lock, encryption, archives."""

from __future__ import annotations

import base64
import bz2
import gzip
import hashlib
import io
import lzma
import tarfile
import zipfile
import zlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from backupwatch.core.integrity import (
    HEAD_BYTES,
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
    kms_key_matches,
    parse_sha256_metadata,
    parse_sha256_sidecar,
    refused_as_archived,
    sha256_hex_from_s3,
    sidecar_key,
    sniff,
    unreadable_storage_class,
)

NOW = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
KEY = "acme-backups/2026/11/27/acme.dump"

# --- realistic dumps ---------------------------------------------------------------------------


def _pg_int(value: int) -> bytes:
    """pg_backup_archiver.c WriteInt: a sign byte, then intSize (4) bytes, least significant
    first."""
    return bytes([0]) + value.to_bytes(4, "little")


def _pg_str(text: str) -> bytes:
    return _pg_int(len(text)) + text.encode()


PG_CUSTOM_HEADER = (
    b"PGDMP"
    + bytes([1, 15, 0])  # archive version 1.15 (pg_dump 16)
    + bytes([4, 8, 1])  # intSize, offSize, format archCustom
    + bytes([1])  # compression algorithm: gzip
    + b"".join(_pg_int(v) for v in (2, 10, 3, 27, 10, 126, 0))  # creation time, tm_* fields
    + _pg_str("acme")
    + _pg_str("16.4")
    + _pg_str("16.4")
)
PG_CUSTOM = PG_CUSTOM_HEADER + zlib.compress(b"CREATE TABLE public.invoices (id bigint);\n" * 400)
PG_DIRECTORY_TOC = PG_CUSTOM_HEADER[:10] + bytes([5]) + PG_CUSTOM_HEADER[11:]
"""``toc.dat`` of a ``pg_dump -Fd`` dump: the same header with format byte 5."""

PG_PLAIN_START = (
    b"--\n-- PostgreSQL database dump\n--\n\n"
    b"\\restrict cg1SoWoMXB3vxhQ72gGJ0Fk4UUEsfvQ8jSQMWYeHgxShxrNK7CzdbCcRBpqgIkc\n\n"
    b"-- Dumped from database version 16.10\n-- Dumped by pg_dump version 16.10\n\n"
    b"SET statement_timeout = 0;\nSET lock_timeout = 0;\nSET client_encoding = 'UTF8';\n"
    b"SET standard_conforming_strings = on;\n"
    b"SELECT pg_catalog.set_config('search_path', '', false);\n\n"
    b"CREATE TABLE public.invoices (\n    id bigint NOT NULL,\n    total numeric(12,2)\n);\n\n"
    b"COPY public.invoices (id, total) FROM stdin;\n"
)
PG_PLAIN_ROWS = b"".join(b"%d\t%d.00\n" % (i, i * 7) for i in range(400)) + b"\\.\n\n\n"
PG_PLAIN_TRAILER = (
    b"--\n-- PostgreSQL database dump complete\n--\n\n"
    b"\\unrestrict cg1SoWoMXB3vxhQ72gGJ0Fk4UUEsfvQ8jSQMWYeHgxShxrNK7CzdbCcRBpqgIkc\n\n"
)
PG_PLAIN = PG_PLAIN_START + PG_PLAIN_ROWS + PG_PLAIN_TRAILER
PG_PLAIN_TRUNCATED = PG_PLAIN_START + PG_PLAIN_ROWS[: len(PG_PLAIN_ROWS) // 2]
"""pg_dump killed in the middle of a COPY: a clean header, no trailer."""
PG_DUMPALL_START = (
    b"--\n-- PostgreSQL database cluster dump\n--\n\n\\restrict k1\n\n"
    b"SET client_encoding = 'UTF8';\nCREATE ROLE acme;\n\n\\unrestrict k1\n\n"
    b'--\n-- Databases\n--\n\n--\n-- Database "acme" dump\n--\n\n'
    b"--\n-- PostgreSQL database dump\n--\n\n\\restrict k2\n\n"
    + PG_PLAIN_ROWS
    + b"--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict k2\n\n"
)
PG_DUMPALL = PG_DUMPALL_START + b"--\n-- PostgreSQL database cluster dump complete\n--\n\n"
PG_DUMPALL_CUT_AFTER_FIRST_DATABASE = PG_DUMPALL_START + (
    b'--\n-- Database "billing" dump\n--\n\n\\connect billing\n'
    b"COPY public.ledger (id) FROM stdin;\n1\n2\n"
)
"""pg_dumpall died in its second database: the first one's marker is in the tail, followed by
more SQL."""

MYSQL_START = (
    b"-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)\n--\n"
    b"-- Host: acme-db.internal    Database: acme\n"
    b"-- ------------------------------------------------------\n-- Server version\t8.0.36\n\n"
    b"/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n"
    b"/*!50503 SET NAMES utf8mb4 */;\n\n"
    b"DROP TABLE IF EXISTS `invoices`;\nCREATE TABLE `invoices` (\n  `id` bigint NOT NULL\n);\n"
    b"LOCK TABLES `invoices` WRITE;\n"
)
MYSQL_ROWS = b"INSERT INTO `invoices` VALUES " + b",".join(b"(%d)" % i for i in range(600)) + b";\n"
MYSQL_END = (
    b"UNLOCK TABLES;\n/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;\n"
    b"/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;\n\n"
)
MYSQLDUMP = MYSQL_START + MYSQL_ROWS + MYSQL_END + b"-- Dump completed on 2026-11-27  3:10:02\n"
MYSQLDUMP_NO_DATE = MYSQL_START + MYSQL_ROWS + MYSQL_END + b"-- Dump completed\n"
MYSQLDUMP_TRUNCATED = MYSQL_START + MYSQL_ROWS[:1500]
MARIADB_DUMP = (
    b"/*M!999999\\- enable the sandbox mode */ \n"
    b"-- MariaDB dump 10.19-11.4.2-MariaDB, for Linux (x86_64)\n--\n" + MYSQLDUMP.split(b"\n", 2)[2]
)

ERROR_MESSAGE = (
    b'pg_dump: error: connection to server at "acme-db.internal" (10.0.4.17), port 5432 '
    b'failed: FATAL:  password authentication failed for user "backup"\n'
)
"""What a cron job's ``pg_dump ... > acme.dump 2>&1`` leaves when the password rotated."""
GZIP = gzip.compress(PG_PLAIN, mtime=0)  # deterministic: test ids hold these bytes
ZSTD = (
    bytes.fromhex("28b52ffd")  # RFC 8878 magic, then a frame header and a raw last block
    + bytes([0x20, len(b"hello")])
    + bytes([(len(b"hello") << 3) | 1, 0, 0])
    + b"hello"
)
ZSTD_PZSTD = bytes.fromhex("502a4d18") + (4).to_bytes(4, "little") + bytes(4) + ZSTD
"""pzstd puts a 12-byte skippable frame before each zstd frame."""
BZIP2 = bz2.compress(PG_PLAIN)
XZ = lzma.compress(PG_PLAIN)


def _tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in (("toc.dat", PG_CUSTOM), ("3.dat", PG_PLAIN_ROWS)):
            member = tarfile.TarInfo(name)
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    return buffer.getvalue()


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("acme.sql", PG_PLAIN)
    return buffer.getvalue()


TAR = _tar()
ZIP = _zip()

GOOD = {
    DumpFormat.PG_CUSTOM: PG_CUSTOM,
    DumpFormat.PG_PLAIN: PG_PLAIN,
    DumpFormat.MYSQLDUMP: MYSQLDUMP,
    DumpFormat.GZIP: GZIP,
    DumpFormat.ZSTD: ZSTD,
    DumpFormat.BZIP2: BZIP2,
    DumpFormat.XZ: XZ,
    DumpFormat.TAR: TAR,
    DumpFormat.ZIP: ZIP,
}
DESCRIBED = {
    DumpFormat.PG_CUSTOM: "a pg_dump custom-format archive",
    DumpFormat.PG_PLAIN: "a plain-SQL pg_dump",
    DumpFormat.MYSQLDUMP: "a mysqldump",
    DumpFormat.GZIP: "gzip data",
    DumpFormat.ZSTD: "zstd data",
    DumpFormat.BZIP2: "bzip2 data",
    DumpFormat.XZ: "xz data",
    DumpFormat.TAR: "a tar archive",
    DumpFormat.ZIP: "a zip archive",
}


def judge(expected: DumpFormat, data: bytes) -> str | None:
    """``check_format`` on the reads ``s3_integrity`` would make of ``data``."""
    head = data[:HEAD_BYTES]
    tail = data[-TAIL_BYTES:] if has_completion_marker(expected) else None
    return check_format(expected, head, tail, len(data))


# --- formats -------------------------------------------------------------------------------


def test_every_declared_format_is_covered() -> None:
    """A new DumpFormat needs realistic bytes here before it ships."""
    assert set(GOOD) == set(DumpFormat) == set(DESCRIBED)


@pytest.mark.parametrize("fmt", list(DumpFormat))
def test_a_real_dump_of_each_format_passes(fmt: DumpFormat) -> None:
    """Bytes made the way the tool makes them (Python's gzip, bz2, lzma, tarfile, zipfile;
    pg_dump's and mysqldump's own layout) are what they claim."""
    assert judge(fmt, GOOD[fmt]) is None


@pytest.mark.parametrize("fmt", list(DumpFormat))
def test_an_error_message_is_no_dump_of_any_format(fmt: DumpFormat) -> None:
    """The cron job's stderr in acme.dump fails every format, quoting the error."""
    assert judge(fmt, ERROR_MESSAGE) == (
        f"first bytes are text 'pg_dump: error: connection to server at…', not {DESCRIBED[fmt]}"
    )


@pytest.mark.parametrize("fmt", list(DumpFormat))
def test_an_empty_object_is_no_dump(fmt: DumpFormat) -> None:
    assert check_format(fmt, b"", b"", 0) == f"the object is empty (0 bytes), not {DESCRIBED[fmt]}"


@pytest.mark.parametrize(
    ("fmt", "data", "problem"),
    [
        (
            DumpFormat.PG_PLAIN,
            PG_PLAIN_TRUNCATED,
            "no '-- PostgreSQL database dump complete' in the last 1024 bytes: "
            "the dump looks truncated",
        ),
        (
            DumpFormat.PG_PLAIN,
            PG_DUMPALL_CUT_AFTER_FIRST_DATABASE,
            "'-- PostgreSQL database dump complete' is followed by more than its trailer in the "
            "last 1024 bytes: the dump looks truncated",
        ),
        (
            DumpFormat.MYSQLDUMP,
            MYSQLDUMP_TRUNCATED,
            "no '-- Dump completed' in the last 1024 bytes: the dump looks truncated",
        ),
        (
            DumpFormat.XZ,
            XZ[: len(XZ) - 30],
            f"the last {min(TAIL_BYTES, len(XZ) - 30)} bytes do not end with an xz stream footer "
            "('YZ'): the file looks truncated",
        ),
        (
            DumpFormat.TAR,
            TAR[:2048],
            "the last 512 bytes are not zero, but a tar archive ends with zero blocks: "
            "the archive looks truncated",
        ),
        (
            DumpFormat.ZIP,
            ZIP[: len(ZIP) // 2],
            "no zip end-of-central-directory record in the last 1024 bytes: the archive looks "
            "truncated (or ends with a longer comment than that)",
        ),
    ],
    ids=["pg_plain", "pg_dumpall", "mysqldump", "xz", "tar", "zip"],
)
def test_a_truncated_dump_fails_on_its_missing_completion_marker(
    fmt: DumpFormat, data: bytes, problem: str
) -> None:
    """The first bytes are right, the end is not: the marker the tool writes last is missing."""
    assert check_format(fmt, data[:HEAD_BYTES], None, len(data)) is None
    assert judge(fmt, data) == problem


@pytest.mark.parametrize(
    ("fmt", "data"),
    [
        (DumpFormat.PG_PLAIN, PG_DUMPALL),
        (DumpFormat.PG_PLAIN, PG_PLAIN.replace(b"\n", b"\r\n")),
        (DumpFormat.PG_PLAIN, PG_PLAIN_START + PG_PLAIN_ROWS + PG_PLAIN_TRAILER.split(b"\\un")[0]),
        (DumpFormat.MYSQLDUMP, MYSQLDUMP_NO_DATE),
        (DumpFormat.MYSQLDUMP, MARIADB_DUMP),
        (DumpFormat.ZSTD, ZSTD_PZSTD),
        (DumpFormat.XZ, XZ + bytes(8)),
    ],
    ids=[
        "pg_dumpall",
        "crlf",
        "pg_dump-before-2025-no-unrestrict",
        "skip-dump-date",
        "mariadb-sandbox-line",
        "pzstd-skippable-frame",
        "xz-stream-padding",
    ],
)
def test_real_variants_pass(fmt: DumpFormat, data: bytes) -> None:
    """pg_dumpall, Windows line ends, older pg_dump, --skip-dump-date, MariaDB's sandbox line
    before its header, pzstd's skippable frame, xz stream padding: all complete dumps."""
    assert judge(fmt, data) is None


def test_completion_markers_are_known_per_format() -> None:
    """Only these formats get a tail read: the others cannot tell a truncation cheaply."""
    assert {fmt for fmt in DumpFormat if has_completion_marker(fmt)} == {
        DumpFormat.PG_PLAIN,
        DumpFormat.MYSQLDUMP,
        DumpFormat.XZ,
        DumpFormat.TAR,
        DumpFormat.ZIP,
    }


@pytest.mark.parametrize(
    ("fmt", "data", "problem"),
    [
        (
            DumpFormat.PG_CUSTOM,
            PG_CUSTOM[:10],
            "only 10 bytes: too short for a pg_dump custom-format archive (at least 11 bytes), "
            "so it is truncated",
        ),
        (
            DumpFormat.GZIP,
            GZIP[:10],
            "only 10 bytes: too short for gzip data (at least 18 bytes), so it is truncated",
        ),
        (
            DumpFormat.PG_CUSTOM,
            b"0123456789",
            "first bytes are text '0123456789', not a pg_dump custom-format archive",
        ),
        (
            DumpFormat.TAR,
            TAR[:10],
            "first bytes are binary data 74 6f 63 2e 64 61 74 00 …, not a tar archive",
        ),
    ],
    ids=["pg_custom-prefix", "gzip-prefix", "ten-digits", "tar-prefix"],
)
def test_a_ten_byte_object(fmt: DumpFormat, data: bytes, problem: str) -> None:
    """Ten bytes that start right are a truncated dump; ten other bytes are something else."""
    assert judge(fmt, data) == problem


@pytest.mark.parametrize(
    ("fmt", "data", "seen"),
    [
        (DumpFormat.PG_CUSTOM, GZIP, "gzip data"),
        (DumpFormat.PG_CUSTOM, PG_PLAIN, "text '-- PostgreSQL database dump'"),
        (
            DumpFormat.PG_CUSTOM,
            PG_DIRECTORY_TOC,
            "the table of contents (toc.dat) of a pg_dump directory-format archive",
        ),
        (DumpFormat.PG_PLAIN, PG_CUSTOM, "a pg_dump custom-format archive"),
        (DumpFormat.PG_PLAIN, MYSQLDUMP, "text '-- MySQL dump 10.13 Distrib 8.0.36, for…'"),
        (DumpFormat.GZIP, ZSTD, "zstd data"),
        (DumpFormat.MYSQLDUMP, XZ, "xz data"),
        (DumpFormat.ZIP, TAR, "a tar archive"),
    ],
)
def test_the_wrong_format_says_what_it_is(fmt: DumpFormat, data: bytes, seen: str) -> None:
    """A pg_dump piped through gzip but declared custom, a toc.dat alone, a MySQL dump declared
    PostgreSQL: the reason names what was found."""
    assert judge(fmt, data) == f"first bytes are {seen}, not {DESCRIBED[fmt]}"


def test_a_small_object_is_judged_from_its_only_read() -> None:
    """Smaller than the first read, the object is its own tail: a complete tiny dump passes, a
    tiny dump without its trailer fails."""
    tiny = PG_PLAIN_START[:200] + PG_PLAIN_TRAILER
    assert len(tiny) < HEAD_BYTES
    assert check_format(DumpFormat.PG_PLAIN, tiny, tiny, len(tiny)) is None
    cut = PG_PLAIN_START[:300]
    assert check_format(DumpFormat.PG_PLAIN, cut, cut, len(cut)) == (
        f"no '-- PostgreSQL database dump complete' in the last {len(cut)} bytes: "
        "the dump looks truncated"
    )


def test_an_unread_tail_is_not_judged() -> None:
    """``tail=None`` means the caller did not read it: the header alone is judged."""
    assert check_format(DumpFormat.PG_PLAIN, PG_PLAIN_TRUNCATED[:512], None, 10_000) is None


# --- sniff ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "seen"),
    [
        (b"", "nothing (0 bytes)"),
        (bytes(range(16)), "binary data 00 01 02 03 04 05 06 07 …"),
        (bytes([0x80, 0x81]), "binary data 80 81"),
        (b"ERROR: connection to server failed\n", "text 'ERROR: connection to server failed'"),
        (b"\n\n--\n-- \n\tAccess\x07 denied\r\n", "text 'Access denied'"),
        (b"x" * 100, "text '" + "x" * 39 + "…'"),
        (PG_CUSTOM_HEADER[:8], "a pg_dump archive header"),
        (gzip.compress(b"", mtime=0), "gzip data"),
        (BZIP2, "bzip2 data"),
        (ZIP, "a zip archive"),
    ],
)
def test_sniff_says_what_the_first_bytes_look_like(head: bytes, seen: str) -> None:
    """Text is quoted from its first real line, cleaned and cut; binary is shown as hex."""
    assert sniff(head) == seen


# --- checksums ------------------------------------------------------------------------------

DIGEST = hashlib.sha256(PG_CUSTOM).hexdigest()
OTHER = hashlib.sha256(b"something else").hexdigest()
DIGEST_B64 = base64.b64encode(bytes.fromhex(DIGEST)).decode()


@pytest.mark.parametrize(
    "text",
    [
        f"{DIGEST}  acme.dump\n",
        f"{DIGEST} *acme.dump\n",
        f"{DIGEST.upper()}  /var/backups/acme.dump.tmp\r\n",
        f"{DIGEST}\n",
        f"SHA256 (acme.dump) = {DIGEST}\n",
        f"SHA2-256(acme.dump)= {DIGEST}\n",
        f"{OTHER}  billing.dump\n{DIGEST}  ./2026/11/27/acme.dump\n{OTHER}  crm.dump\n",
        f"\n{DIGEST}  acme.dump\n\n",
    ],
    ids=[
        "two-spaces",
        "asterisk",
        "one-line-any-name",
        "bare-digest",
        "bsd-tag",
        "openssl",
        "several-lines",
        "blank-lines",
    ],
)
def test_a_sidecar_gives_the_sha256_of_the_object(text: str) -> None:
    assert parse_sha256_sidecar(text.encode(), KEY) == DIGEST


def test_a_sidecar_listing_other_files_only_gives_nothing() -> None:
    text = f"{OTHER}  billing.dump\n{DIGEST}  crm.dump\n".encode()
    assert parse_sha256_sidecar(text, KEY) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"", "acme.dump.sha256 is empty"),
        (b"  \n", "acme.dump.sha256 is empty"),
        (b"\xff\xfe\x00\x01", "acme.dump.sha256 is not text: binary data ff fe 00 01"),
        (
            b"sha256sum: acme.dump: No such file or directory\n",
            "acme.dump.sha256 line 1 is not a sha256sum line: "
            "'sha256sum: acme.dump: No such file or d…'",
        ),
        (
            f"{DIGEST[:63]}  acme.dump\n".encode(),
            f"acme.dump.sha256 line 1 is not a sha256sum line: '{DIGEST[:39]}…'",
        ),
        (
            f"{DIGEST}  acme.dump\n{DIGEST}\n".encode(),
            f"acme.dump.sha256 line 2 is not a sha256sum line: '{DIGEST[:39]}…'",
        ),
    ],
    ids=["empty", "blank", "binary", "error-message", "63-digits", "bare-digest-among-lines"],
)
def test_a_malformed_sidecar_is_an_error(text: bytes, message: str) -> None:
    with pytest.raises(MalformedChecksum) as raised:
        parse_sha256_sidecar(text, KEY)
    assert str(raised.value) == message


def test_the_sidecar_sits_next_to_the_object() -> None:
    assert sidecar_key(KEY) == "acme-backups/2026/11/27/acme.dump.sha256"


@pytest.mark.parametrize("value", [DIGEST, DIGEST.upper(), DIGEST_B64, f" {DIGEST}\n"])
def test_metadata_sha256_is_hex_or_base64(value: str) -> None:
    assert parse_sha256_metadata(value) == DIGEST


@pytest.mark.parametrize("value", ["", "abc", DIGEST[:-2], DIGEST_B64[:-4], "not a digest"])
def test_metadata_that_is_no_sha256_is_an_error(value: str) -> None:
    with pytest.raises(MalformedChecksum, match="is neither 64 hex digits nor the base64"):
        parse_sha256_metadata(value)


def test_s3_checksum_is_base64_of_the_digest() -> None:
    assert sha256_hex_from_s3(DIGEST_B64) == DIGEST
    with pytest.raises(MalformedChecksum, match="composite"):
        sha256_hex_from_s3(DIGEST_B64 + "-12")
    with pytest.raises(MalformedChecksum, match="not the base64 of 32 bytes"):
        sha256_hex_from_s3("AAAA")


def test_matching_digests_verify() -> None:
    """Hex from the producer, base64 from S3, case aside: the same digest."""
    verdict = compare_checksums(
        DIGEST.upper(), DIGEST_B64, "FULL_OBJECT", source="acme.dump.sha256"
    )
    assert verdict.outcome is ChecksumOutcome.VERIFIED
    assert verdict.detail == f"sha256 in acme.dump.sha256 matches S3's ({DIGEST[:12]}…)"
    assert not verdict.failing


def test_different_digests_fail_and_show_both() -> None:
    other_b64 = base64.b64encode(bytes.fromhex(OTHER)).decode()
    verdict = compare_checksums(DIGEST, other_b64, None, source="acme.dump.sha256")
    assert verdict.outcome is ChecksumOutcome.MISMATCH
    assert verdict.failing
    assert verdict.detail == (
        f"sha256 in acme.dump.sha256 is {DIGEST[:12]}…, S3 computed {OTHER[:12]}…"
    )


def test_a_checksum_s3_holds_proves_nothing_without_the_producers() -> None:
    """The careless pass: S3 has a SHA-256 (the uploader's SDK computed it), the producer said
    nothing. Not verified."""
    why = "no sidecar acme.dump.sha256 and no sha256 in the object's metadata"
    verdict = compare_checksums(None, DIGEST_B64, "FULL_OBJECT", source=why)
    assert verdict.outcome is ChecksumOutcome.NOT_VERIFIABLE
    assert verdict.detail == why
    assert not verdict.failing


@pytest.mark.parametrize(
    ("algorithms", "held"),
    [
        (["CRC64NVME"], "only CRC64NVME"),
        (["CRC32", "SHA1"], "only CRC32, SHA1"),
        ([], "none at all"),
    ],
)
def test_an_s3_crc_is_no_sha256(algorithms: list[str], held: str) -> None:
    """The careless pass: S3's default CRC64NVME (or the SDK's CRC32) is present, but it is not
    the producer's sha256 and cannot be compared with it."""
    verdict = compare_checksums(
        DIGEST, None, "FULL_OBJECT", source="acme.dump.sha256", s3_algorithms=algorithms
    )
    assert verdict.outcome is ChecksumOutcome.NOT_VERIFIABLE
    assert verdict.detail == (
        f"S3 holds no SHA-256 checksum for this object (it was uploaded without one; S3 holds "
        f"{held}), so the sha256 in acme.dump.sha256 cannot be compared"
    )


@pytest.mark.parametrize(
    ("s3_checksum", "checksum_type", "parts", "count"),
    [
        (DIGEST_B64 + "-12", None, None, "12 parts"),
        (DIGEST_B64, "COMPOSITE", None, "parts"),
        (DIGEST_B64, "COMPOSITE", 3, "3 parts"),
        (DIGEST_B64, None, 2, "2 parts"),
    ],
    ids=["suffix", "type", "type-and-etag", "etag-only"],
)
def test_a_composite_checksum_cannot_be_compared(
    s3_checksum: str, checksum_type: str | None, parts: int | None, count: str
) -> None:
    """A multipart upload's SHA-256 is a checksum of checksums: even the right file differs."""
    verdict = compare_checksums(
        DIGEST, s3_checksum, checksum_type, source="acme.dump.sha256", parts=parts
    )
    assert verdict.outcome is ChecksumOutcome.NOT_VERIFIABLE
    assert verdict.detail == (
        f"S3 holds a composite checksum of a multipart upload ({count}), which cannot be "
        "compared with the sha256 of the file in acme.dump.sha256"
    )


def test_a_full_object_checksum_of_a_multipart_upload_is_compared() -> None:
    """S3 says FULL_OBJECT: the ETag's part count does not make it composite."""
    verdict = compare_checksums(DIGEST, DIGEST_B64, "FULL_OBJECT", source="s", parts=4)
    assert verdict.outcome is ChecksumOutcome.VERIFIED


# --- Object Lock ----------------------------------------------------------------------------


def test_no_lock_is_a_problem_that_names_the_permission() -> None:
    assert check_lock(None, None, now=NOW, min_days=7) == (
        "no Object Lock retention (S3 shows it only to a role allowed s3:GetObjectRetention)"
    )


@pytest.mark.parametrize("mode", ["GOVERNANCE", "COMPLIANCE"])
def test_a_long_enough_lock_passes_in_either_mode(mode: str) -> None:
    """GOVERNANCE counts unless the policy requires COMPLIANCE."""
    assert check_lock(mode, NOW + timedelta(days=29.5), now=NOW, min_days=29) is None


def test_a_short_lock_fails_with_the_days() -> None:
    until = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert check_lock("GOVERNANCE", until, now=NOW, min_days=30) == (
        "Object Lock GOVERNANCE until 2026-12-01, 4 days ahead; the policy asks for 30 days"
    )
    assert check_lock("COMPLIANCE", NOW + timedelta(hours=5), now=NOW, min_days=1) == (
        "Object Lock COMPLIANCE until 2026-11-27, less than a day ahead; the policy asks for 1 day"
    )


def test_governance_fails_when_compliance_is_required() -> None:
    until = NOW + timedelta(days=40)
    assert check_lock("COMPLIANCE", until, now=NOW, min_days=30, require_compliance=True) is None
    assert check_lock("GOVERNANCE", until, now=NOW, min_days=30, require_compliance=True) == (
        "Object Lock GOVERNANCE until 2027-01-06, 40 days ahead; the policy asks for COMPLIANCE "
        "(GOVERNANCE can be lifted by anyone allowed s3:BypassGovernanceRetention)"
    )
    assert check_lock(
        "GOVERNANCE", NOW + timedelta(days=1.5), now=NOW, min_days=7.5, require_compliance=True
    ) == (
        "Object Lock GOVERNANCE until 2026-11-28, 1 day ahead; the policy asks for COMPLIANCE "
        "and 7.5 days (GOVERNANCE can be lifted by anyone allowed s3:BypassGovernanceRetention)"
    )


def test_an_expired_lock_fails() -> None:
    assert check_lock("COMPLIANCE", NOW - timedelta(days=2), now=NOW, min_days=0) == (
        "Object Lock COMPLIANCE expired on 2026-11-25"
    )
    assert check_lock("COMPLIANCE", None, now=NOW, min_days=0) == (
        "Object Lock COMPLIANCE without a retain-until date"
    )


def test_lock_dates_are_shown_in_utc() -> None:
    """boto3 hands back the date in the local time zone: shown in UTC all the same."""
    tokyo = timezone(timedelta(hours=9))
    until = datetime(2026, 12, 31, 3, 0, tzinfo=tokyo)  # 2026-12-30 18:00 UTC
    problem = check_lock("GOVERNANCE", until, now=NOW, min_days=60)
    assert problem is not None
    assert "until 2026-12-30," in problem


def test_lock_rules_refuse_naive_dates_and_negative_days() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        check_lock("COMPLIANCE", datetime(2027, 1, 1), now=NOW, min_days=1)  # noqa: DTZ001
    with pytest.raises(ValueError, match="must not be negative"):
        check_lock("COMPLIANCE", NOW, now=NOW, min_days=-1)


# --- encryption -----------------------------------------------------------------------------

KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:us-east-1:123456789012:key/{KEY_ID}"
REPLICA_ARN = f"arn:aws:kms:eu-west-1:123456789012:key/{KEY_ID}"
OTHER_ARN = "arn:aws:kms:us-east-1:123456789012:key/0987dcba-09fe-87dc-65ba-ab0987654321"


@pytest.mark.parametrize(
    ("required", "found", "matches"),
    [
        (KEY_ID, KEY_ARN, True),
        (KEY_ARN, KEY_ARN, True),
        (KEY_ARN, KEY_ID, True),
        (KEY_ID, KEY_ID, True),
        (KEY_ARN, REPLICA_ARN, False),
        (KEY_ID, OTHER_ARN, False),
        ("alias/backups", KEY_ARN, None),
        ("arn:aws:kms:us-east-1:123456789012:alias/backups", KEY_ARN, None),
    ],
)
def test_kms_keys_compare_by_arn_or_id(required: str, found: str, matches: bool | None) -> None:
    """An id matches its ARN; two ARNs must be equal (a multi-Region replica is not the key);
    an alias cannot be compared without KMS."""
    assert kms_key_matches(required, found) is matches


@pytest.mark.parametrize(
    ("sse", "key", "required", "problem"),
    [
        ("AES256", None, None, None),
        ("aws:kms", KEY_ARN, None, None),
        ("aws:kms", KEY_ARN, KEY_ID, None),
        ("aws:kms:dsse", KEY_ARN, KEY_ARN, None),
        (None, None, None, "not encrypted at rest: S3 reports no server-side encryption"),
        (None, None, KEY_ID, "not encrypted at rest: S3 reports no server-side encryption"),
        ("AES256", None, KEY_ID, f"encrypted with SSE-S3 (AES256), not with the KMS key {KEY_ID}"),
        ("aws:kms", OTHER_ARN, KEY_ARN, f"encrypted with SSE-KMS key {OTHER_ARN}, not {KEY_ARN}"),
        (
            "aws:kms",
            None,
            KEY_ARN,
            f"encrypted with SSE-KMS, but S3 names no key; the policy asks for {KEY_ARN}",
        ),
        (
            "aws:kms",
            KEY_ARN,
            "alias/backups",
            f"encrypted with SSE-KMS key {KEY_ARN}; the policy names the alias alias/backups, "
            "which S3 never reports: give the key's id or ARN instead",
        ),
    ],
)
def test_encryption_rules(
    sse: str | None, key: str | None, required: str | None, problem: str | None
) -> None:
    """Any SSE counts unless a key is required; a required key must be the one S3 reports."""
    assert check_encryption(sse, key, required_kms_key=required) == problem


# --- storage classes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("storage_class", "archive_status", "restore", "note"),
    [
        ("STANDARD", None, None, None),
        (None, None, None, None),
        ("GLACIER_IR", None, None, None),
        ("STANDARD_IA", None, None, None),
        ("INTELLIGENT_TIERING", None, None, None),
        (
            "GLACIER",
            None,
            None,
            "stored in GLACIER (S3 Glacier Flexible Retrieval): it cannot be read without a "
            "restore, so its content was not checked",
        ),
        (
            "DEEP_ARCHIVE",
            None,
            None,
            "stored in DEEP_ARCHIVE (S3 Glacier Deep Archive): it cannot be read without a "
            "restore, so its content was not checked",
        ),
        (
            "INTELLIGENT_TIERING",
            "DEEP_ARCHIVE_ACCESS",
            None,
            "stored in the Intelligent-Tiering Deep Archive Access tier: it cannot be read "
            "without a restore, so its content was not checked",
        ),
        (
            "GLACIER",
            None,
            'ongoing-request="true"',
            "stored in GLACIER (S3 Glacier Flexible Retrieval), being restored: its content was "
            "not checked",
        ),
        (
            "GLACIER",
            None,
            'ongoing-request="false", expiry-date="Fri, 04 Dec 2026 00:00:00 GMT"',
            None,
        ),
    ],
)
def test_archived_objects_are_noted_never_passed(
    storage_class: str | None, archive_status: str | None, restore: str | None, note: str | None
) -> None:
    """GLACIER, DEEP_ARCHIVE and Intelligent-Tiering archive tiers need a restore; Instant
    Retrieval and a restored copy are readable."""
    assert (
        unreadable_storage_class(storage_class, archive_status=archive_status, restore=restore)
        == note
    )


def test_a_refused_read_is_noted_as_archived() -> None:
    assert refused_as_archived("INTELLIGENT_TIERING") == (
        "S3 refused to read it (InvalidObjectState): the object is archived "
        "(INTELLIGENT_TIERING) and needs a restore, so its content was not checked"
    )


# --- findings -------------------------------------------------------------------------------


def test_findings_are_frozen_strict_values() -> None:
    findings = IntegrityFindings(problems=("truncated",), notes=("archived",), calls=2)
    assert findings.failing
    assert not IntegrityFindings(notes=("archived",)).failing
    with pytest.raises(ValidationError):
        findings.calls = 3
    with pytest.raises(ValidationError):
        IntegrityFindings(problem="typo")  # type: ignore[call-arg]
    assert IntegrityFindings.model_validate_json(findings.model_dump_json()) == findings
