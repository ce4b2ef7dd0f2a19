"""Is a fresh, non-empty dump also a restorable one? The pure rules (no I/O, no boto3).

A dump object can be fresh and large enough and still be useless: a ``pg_dump`` that died half
way (truncated), a cron job that wrote its error message into ``acme.dump``, a file whose bytes
differ from the ones the producer checksummed. These rules judge what
``backupwatch.aws.s3_integrity`` reads: the first ``HEAD_BYTES`` and last ``TAIL_BYTES`` of the
object, the producer's sha256 next to S3's own checksum, the Object Lock retention, the
server-side encryption and the storage class. Each rule answers with ``None`` (fine) or one
sentence for a human.

Every finding is one of three kinds (``IntegrityFindings``): a *problem* (the backup is not what
it claims: failing), a *note* (it could not be judged, and the note says why: shown, never
failing, never counted as a pass), or a check that passed.

Magic numbers and markers, and where they come from:

================  ==========================================  ==================================
Format            First bytes                                 Completion marker near the end
================  ==========================================  ==================================
``pg_custom``     ``PGDMP``, 3 version bytes, intSize,        none (the cheap reads cannot tell
                  offSize, format byte 1 (``archCustom``)     a truncated archive)
``pg_plain``      line ``-- PostgreSQL database dump``        line ``-- PostgreSQL database dump
                  (``pg_dumpall``: ``... cluster dump``)      complete`` (``... cluster dump
                                                              complete``), then only ``--``,
                                                              blank and ``\\unrestrict`` lines
``mysqldump``     line ``-- MySQL dump ...`` or               line ``-- Dump completed`` (``on
                  ``-- MariaDB dump ...``                     <date>`` unless --skip-dump-date)
``gzip``          ``1f 8b 08``                                none (CRC32 + ISIZE, no marker)
``zstd``          ``28 b5 2f fd`` (or a skippable frame,      none
                  ``5? 2a 4d 18``, which pzstd writes first)
``bzip2``         ``BZh`` + block size ``1``-``9``            none (the end-of-stream marker is
                                                              not byte-aligned)
``xz``            ``fd 37 7a 58 5a 00``                       stream footer ``59 5a`` (``YZ``),
                                                              maybe followed by null padding
``tar``           ``ustar`` at offset 257                     a zero 512-byte block
``zip``           ``PK 03 04``                                end-of-central-directory
                                                              record ``PK 05 06``
================  ==========================================  ==================================

Sources:

- PostgreSQL ``src/bin/pg_dump/pg_backup_archiver.c``: ``WriteHead`` writes ``"PGDMP"`` then
  ``ARCHIVE_MAJOR/MINOR/REV``, ``intSize``, ``offSize``, ``format``; ``RestoreArchive`` ends a
  plain-text dump with ``"--\\n-- PostgreSQL database dump complete\\n--\\n\\n"``.
  ``pg_backup.h``: ``archCustom = 1, archTar = 3, archNull = 4, archDirectory = 5``.
  ``pg_dumpall.c`` writes ``"--\\n-- PostgreSQL database cluster dump complete\\n--\\n\\n"``.
  Since the August 2025 minor releases (CVE-2025-8714) a plain dump has a ``\\restrict <key>``
  line after its header and ends ``...dump complete\\n--\\n\\n\\unrestrict <key>\\n\\n``, as real
  pg_dump 16.10 output shows; hence the lines allowed after the marker.
- MySQL and MariaDB ``client/mysqldump.c``: ``write_header`` prints ``"-- MySQL dump %s  Distrib
  %s, for %s (%s)"`` (MariaDB: ``"-- MariaDB dump ..."``), ``write_footer`` prints ``"-- Dump
  completed on %s\\n"`` or ``"-- Dump completed\\n"``, both only with comments on (the default;
  ``--compact`` and ``--skip-comments`` drop them, and such dumps cannot pass this check).
  MariaDB since May 2024 puts ``/*M!999999\\- enable the sandbox mode */`` before the header, so
  the header is searched among the first lines, not at byte 0.
- RFC 1952 (gzip) 2.3.1: ``ID1 = 31 (0x1f), ID2 = 139 (0x8b)``, ``CM = 8`` (deflate); a member
  is at least a 10-byte header and an 8-byte trailer.
- RFC 8878 (zstd) 3.1.1: ``Magic_Number`` 0xFD2FB528, little-endian; 3.1.2: skippable frames
  0x184D2A50-0x184D2A5F.
- bzip2: stream header ``BZh`` and the block size digit ``1``-``9``.
- The .xz File Format 1.1.0, 2.1.1.1 Header Magic Bytes ``FD 37 7A 58 5A 00``; 2.1.2.4 Footer
  Magic Bytes ``59 5A``; 2.2 Stream Padding (null bytes, a multiple of four).
- POSIX ``pax``, ustar interchange format: ``magic`` field ``ustar`` at offset 257; "at the end
  of the archive file there shall be two 512-byte blocks filled with binary zeros". Only one is
  required here: pg_dump's tar format once wrote a single one.
- PKWARE APPNOTE 4.3.7 local file header ``0x04034b50`` and 4.3.16 end of central directory
  record ``0x06054b50`` (22 bytes plus a comment of up to 65,535 bytes: an archive with a longer
  comment than ``TAIL_BYTES`` allows looks truncated here).

A ``pg_dump --format=directory`` dump is a folder of files, not one object: it is not a format
here (its ``toc.dat`` alone is recognised, and refused as a custom-format archive).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from backupwatch.core.errors import BackupwatchError
from backupwatch.core.models import FrozenValue

if TYPE_CHECKING:
    from backupwatch.core.config import Settings
    from backupwatch.core.models import Tenant

HEAD_BYTES: Final = 512
"""Read from the start: enough for every magic number (tar's is at offset 257) and for the
first lines of a text dump (MariaDB's sandbox line, pg_dump's ``\\restrict`` line)."""
TAIL_BYTES: Final = 1024
"""Read from the end, for formats with a completion marker. pg_dump's trailer with its
``\\unrestrict`` line is about 110 bytes, pg_dumpall's about 200, mysqldump's about 45, xz's
footer 12, zip's end record 22 (plus its comment), tar's end block 512."""
SNIFF_CHARS: Final = 40
"""The longest text excerpt ``sniff`` quotes: enough to recognise an error message, short
enough not to copy a page of someone's data into the digest."""
SIDECAR_SUFFIX: Final = ".sha256"
"""The producer's digest of ``acme.dump`` is looked for in ``acme.dump.sha256``."""
METADATA_SHA256: Final = "sha256"
"""User metadata key (``x-amz-meta-sha256``) a producer may set to the object's sha256."""


class DumpFormat(StrEnum):
    """What an operator declares a tenant's dump objects to be."""

    PG_CUSTOM = "pg_custom"
    """``pg_dump --format=custom`` (``-Fc``)."""
    PG_PLAIN = "pg_plain"
    """Plain SQL from ``pg_dump`` (``-Fp``, the default) or ``pg_dumpall``, uncompressed."""
    MYSQLDUMP = "mysqldump"
    """Plain SQL from ``mysqldump`` or ``mariadb-dump``, uncompressed, with its comments."""
    GZIP = "gzip"
    ZSTD = "zstd"
    BZIP2 = "bzip2"
    XZ = "xz"
    TAR = "tar"
    """A tar archive, ``pg_dump --format=tar`` (``-Ft``) included."""
    ZIP = "zip"


class MalformedChecksum(BackupwatchError, ValueError):
    """A sha256 from the producer (a sidecar file, user metadata) or from S3 is not one.

    The producer wrote something, so this is a problem with the backup, not a missing proof:
    a sidecar holding an error message is as broken as a dump holding one.
    """


# --- formats ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Format:
    description: str
    """What the object should be, after "not": "a pg_dump custom-format archive"."""
    min_bytes: int
    """No complete object of the format is shorter (the structure alone takes this much)."""
    header: Callable[[bytes], bool]
    trailer: Callable[[bytes], str | None] | None = None
    """Given the last bytes, a problem sentence, or None when the completion marker is there."""


_PGDMP = b"PGDMP"
_PG_ARCHIVE_FORMATS = {1: "custom", 3: "tar", 5: "directory"}
"""``pg_backup.h`` ``ArchiveFormat``: the byte at offset 10 of a ``PGDMP`` header."""
_PG_FORMAT_OFFSET = 10
_PG_HEADERS = ("-- PostgreSQL database dump", "-- PostgreSQL database cluster dump")
_PG_MARKERS = (
    "-- PostgreSQL database dump complete",
    "-- PostgreSQL database cluster dump complete",
)
_MYSQL_HEADERS = ("-- MySQL dump", "-- MariaDB dump")
_MYSQL_MARKER = "-- Dump completed"
_GZIP = b"\x1f\x8b\x08"
_ZSTD_FRAME = 0xFD2FB528
_ZSTD_SKIPPABLE = 0x184D2A50
_BZIP2 = b"BZh"
_XZ = b"\xfd7zXZ\x00"
_XZ_FOOTER = b"YZ"
_TAR_MAGIC = b"ustar"
_TAR_MAGIC_OFFSET = 257
_TAR_BLOCK = 512
_ZIP = b"PK\x03\x04"
_ZIP_END = b"PK\x05\x06"


def _lines(data: bytes) -> list[str]:
    """The lines of ``data`` as text, without line ends (``\\r\\n`` too); bad bytes replaced."""
    return [line.rstrip("\r") for line in data.decode("utf-8", errors="replace").split("\n")]


def _pg_custom_header(head: bytes) -> bool:
    if not head.startswith(_PGDMP):
        return False
    # Too short to hold the format byte: let the size rule say "truncated".
    return len(head) <= _PG_FORMAT_OFFSET or head[_PG_FORMAT_OFFSET] == 1


def _bzip2_header(head: bytes) -> bool:
    # Too short to hold the block size digit: let the size rule say "truncated".
    return head.startswith(_BZIP2) and (len(head) == len(_BZIP2) or head[3] in b"123456789")


def _zstd_header(head: bytes) -> bool:
    if len(head) < 4:
        return False
    magic = int.from_bytes(head[:4], "little")
    return magic == _ZSTD_FRAME or magic & 0xFFFFFFF0 == _ZSTD_SKIPPABLE


def _ends_with_text_marker(
    tail: bytes, markers: tuple[str, ...], allowed_after: Callable[[str], bool]
) -> str | None:
    """The last line that starts with one of ``markers`` must be followed only by lines that
    ``allowed_after`` accepts; anything else after it means the dump went on (and then broke)."""
    lines = _lines(tail)
    found = [i for i, line in enumerate(lines) if line.startswith(markers)]
    marker = markers[0]
    if not found:
        return f"no '{marker}' in the last {len(tail)} bytes: the dump looks truncated"
    after = lines[found[-1] + 1 :]
    if all(allowed_after(line) for line in after):
        return None
    return (
        f"'{marker}' is followed by more than its trailer in the last {len(tail)} bytes: "
        "the dump looks truncated"
    )


def _pg_trailer(tail: bytes) -> str | None:
    return _ends_with_text_marker(
        tail,
        _PG_MARKERS,
        lambda line: line.strip() in ("", "--") or line.startswith("\\unrestrict "),
    )


def _mysql_trailer(tail: bytes) -> str | None:
    return _ends_with_text_marker(tail, (_MYSQL_MARKER,), lambda line: not line.strip())


def _xz_trailer(tail: bytes) -> str | None:
    if tail.rstrip(b"\x00").endswith(_XZ_FOOTER):
        return None
    return (
        f"the last {len(tail)} bytes do not end with an xz stream footer ('YZ'): "
        "the file looks truncated"
    )


def _tar_trailer(tail: bytes) -> str | None:
    if len(tail) >= _TAR_BLOCK and not any(tail[-_TAR_BLOCK:]):
        return None
    return (
        "the last 512 bytes are not zero, but a tar archive ends with zero blocks: "
        "the archive looks truncated"
    )


def _zip_trailer(tail: bytes) -> str | None:
    if _ZIP_END in tail:
        return None
    return (
        f"no zip end-of-central-directory record in the last {len(tail)} bytes: the archive "
        "looks truncated (or ends with a longer comment than that)"
    )


def _has_line(head: bytes, wanted: Callable[[str], bool]) -> bool:
    return any(wanted(line) for line in _lines(head))


_FORMATS: Final[dict[DumpFormat, _Format]] = {
    DumpFormat.PG_CUSTOM: _Format(
        "a pg_dump custom-format archive", _PG_FORMAT_OFFSET + 1, _pg_custom_header
    ),
    DumpFormat.PG_PLAIN: _Format(
        "a plain-SQL pg_dump",
        1,
        lambda head: _has_line(head, lambda line: line in _PG_HEADERS),
        _pg_trailer,
    ),
    DumpFormat.MYSQLDUMP: _Format(
        "a mysqldump",
        1,
        lambda head: _has_line(head, lambda line: line.startswith(_MYSQL_HEADERS)),
        _mysql_trailer,
    ),
    # A gzip member: 10-byte header + 8-byte trailer (RFC 1952 2.3).
    DumpFormat.GZIP: _Format("gzip data", 18, lambda head: head.startswith(_GZIP)),
    # A zstd frame: magic (4) + smallest frame header (2) + one block header (3).
    DumpFormat.ZSTD: _Format("zstd data", 9, _zstd_header),
    # A bzip2 stream: "BZh" + level (4) + end-of-stream magic (6) + combined CRC (4).
    DumpFormat.BZIP2: _Format("bzip2 data", 14, _bzip2_header),
    # An xz stream: stream header (12) + smallest index (8) + stream footer (12).
    DumpFormat.XZ: _Format("xz data", 32, lambda head: head.startswith(_XZ), _xz_trailer),
    # One member header block and one zero end block.
    DumpFormat.TAR: _Format(
        "a tar archive",
        2 * _TAR_BLOCK,
        lambda head: head[_TAR_MAGIC_OFFSET : _TAR_MAGIC_OFFSET + 5] == _TAR_MAGIC,
        _tar_trailer,
    ),
    # A local file header (30), its central directory header (46), the end record (22).
    DumpFormat.ZIP: _Format("a zip archive", 98, lambda head: head.startswith(_ZIP), _zip_trailer),
}


def has_completion_marker(expected: DumpFormat) -> bool:
    """Whether ``check_format`` looks at the tail of this format (so the tail is worth a read)."""
    return _FORMATS[expected].trailer is not None


def check_format(expected: DumpFormat, head: bytes, tail: bytes | None, size: int) -> str | None:
    """None when the object looks like the ``expected`` format, else the problem in a sentence.

    ``head`` is the object's first ``HEAD_BYTES`` (all of it when it is smaller), ``tail`` its
    last ``TAIL_BYTES`` or None when they were not read (the tail is then not judged), ``size``
    the object's size. The first bytes are checked first; the tail only of a format with a
    completion marker (``has_completion_marker``), and only once the first bytes are right.
    """
    spec = _FORMATS[expected]
    if size == 0 or not head:
        return f"the object is empty (0 bytes), not {spec.description}"
    if not spec.header(head):
        return f"first bytes are {sniff(head)}, not {spec.description}"
    if size < spec.min_bytes:
        return (
            f"only {size} bytes: too short for {spec.description} (at least "
            f"{spec.min_bytes} bytes), so it is truncated"
        )
    if spec.trailer is None or tail is None:
        return None
    return spec.trailer(tail)


def sniff(head: bytes) -> str:
    """What the first bytes look like, in words, for a reason: "gzip data", "text 'pg_dump:
    error: connection to server…'", "binary data 00 01 02 …".

    Text is quoted from its first line that says something (pg_dump's plain header starts with
    a bare ``--``), cleaned of control characters and cut at ``SNIFF_CHARS``.
    """
    if not head:
        return "nothing (0 bytes)"
    if head.startswith(_PGDMP):
        kind = (
            _PG_ARCHIVE_FORMATS.get(head[_PG_FORMAT_OFFSET])
            if len(head) > _PG_FORMAT_OFFSET
            else None
        )
        if kind == "custom":
            return "a pg_dump custom-format archive"
        if kind is not None:
            return f"the table of contents (toc.dat) of a pg_dump {kind}-format archive"
        return "a pg_dump archive header"
    for fmt in (DumpFormat.GZIP, DumpFormat.ZSTD, DumpFormat.BZIP2, DumpFormat.XZ):
        if _FORMATS[fmt].header(head):
            return _FORMATS[fmt].description
    if _FORMATS[DumpFormat.ZIP].header(head):
        return "a zip archive"
    if _FORMATS[DumpFormat.TAR].header(head):
        return "a tar archive"
    text = _as_text(head)
    if text is None:
        return "binary data " + head[:8].hex(" ") + (" …" if len(head) > 8 else "")
    return f"text '{_excerpt(text)}'"


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _as_text(head: bytes) -> str | None:
    """``head`` as text when it reads as text (UTF-8, at most one bad character in twenty; a
    multi-byte character cut by the read is one); None for binary data."""
    text = head.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") + len(_CONTROL.findall(text))
    return text if bad * 20 <= len(text) else None


def _excerpt(text: str) -> str:
    lines = [" ".join(_CONTROL.sub(" ", line).split()) for line in text.split("\n")]
    first = next((line for line in lines if line.strip("- ")), lines[0])
    return first if len(first) <= SNIFF_CHARS else first[: SNIFF_CHARS - 1] + "…"


# --- checksums --------------------------------------------------------------------------------


class ChecksumOutcome(StrEnum):
    """How the producer's sha256 and S3's compare."""

    VERIFIED = "verified"
    """S3 computed the same sha256 as the producer: the bytes are the ones that were hashed."""
    MISMATCH = "mismatch"
    """They differ: failing."""
    NOT_VERIFIABLE = "not_verifiable"
    """One side is missing or cannot be compared; the detail says which. Never a pass."""


class ChecksumVerdict(FrozenValue):
    """The outcome of ``compare_checksums`` and its sentence."""

    outcome: ChecksumOutcome
    detail: str

    @property
    def failing(self) -> bool:
        return self.outcome is ChecksumOutcome.MISMATCH


_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_SHA256_BYTES = 32
_COMPOSITE_SUFFIX = re.compile(r"-(\d+)$")
_GNU_LINE = re.compile(r"\\?(?P<hex>[0-9a-fA-F]{64}) [ *](?P<name>.+)")
"""``sha256sum``: ``<hex>  <name>`` (text mode) or ``<hex> *<name>`` (binary mode); a leading
backslash marks a name with escaped characters."""
_BSD_LINE = re.compile(r"SHA2?-?256 ?\((?P<name>.+)\) ?= ?(?P<hex>[0-9a-fA-F]{64})")
"""``sha256sum --tag``, BSD ``sha256`` and ``openssl dgst -sha256``: ``SHA256 (name) = <hex>``."""


def sidecar_key(key: str) -> str:
    """Where the producer's sha256 of ``key`` is looked for: ``key`` + ``SIDECAR_SUFFIX``."""
    return key + SIDECAR_SUFFIX


def _basename(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def parse_sha256_sidecar(text: bytes, key: str) -> str | None:
    """The sha256 (lowercase hex) that a sidecar file gives for the object ``key``.

    Understands ``sha256sum`` output (``<hex>  <name>``, ``<hex> *<name>``), its ``--tag``
    form (``SHA256 (<name>) = <hex>``) and a bare ``<hex>``. Of several lines, the one whose
    file name (without its folder) is ``key``'s wins; a single line counts whatever its name,
    since producers often hash a temporary file. None when several lines name other files
    only. Raises ``MalformedChecksum`` for anything else: empty, not text, a line that is no
    digest.
    """
    name = _basename(key)
    sidecar = _basename(sidecar_key(key))
    try:
        lines = [line.strip() for line in text.decode("utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError:
        raise MalformedChecksum(f"{sidecar} is not text: {sniff(text)}") from None
    if not lines:
        raise MalformedChecksum(f"{sidecar} is empty")
    entries: list[tuple[str, str | None]] = []
    for number, line in enumerate(lines, start=1):
        match = _GNU_LINE.fullmatch(line) or _BSD_LINE.fullmatch(line)
        if match is not None:
            entries.append((match["hex"].lower(), _basename(match["name"])))
        elif _HEX_SHA256.fullmatch(line) and len(lines) == 1:
            entries.append((line.lower(), None))
        else:
            shown = _excerpt(line)
            raise MalformedChecksum(f"{sidecar} line {number} is not a sha256sum line: '{shown}'")
    if len(entries) == 1:
        return entries[0][0]
    return next((digest for digest, listed in entries if listed == name), None)


def parse_sha256_metadata(value: str) -> str:
    """A sha256 given in user metadata, as hex (64 characters) or base64 (of 32 bytes, as S3
    writes its own), in lowercase hex. Raises ``MalformedChecksum`` otherwise."""
    value = value.strip()
    if _HEX_SHA256.fullmatch(value):
        return value.lower()
    try:
        digest = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != _SHA256_BYTES:
        raise MalformedChecksum(
            f"metadata {METADATA_SHA256}={_excerpt(value)!r} is neither 64 hex digits nor the "
            "base64 of 32 bytes"
        )
    return digest.hex()


def sha256_hex_from_s3(checksum_b64: str) -> str:
    """S3's ``ChecksumSHA256`` (base64 of the 32-byte digest) as lowercase hex.

    Raises ``MalformedChecksum`` for a composite checksum (``...-12``: a checksum of the parts'
    checksums, which no sha256 of the whole file can equal) and for anything not 32 bytes.
    """
    if _COMPOSITE_SUFFIX.search(checksum_b64):
        raise MalformedChecksum(
            f"S3 checksum {checksum_b64} is composite (of a multipart upload's parts), "
            "not a sha256 of the object"
        )
    try:
        digest = base64.b64decode(checksum_b64, validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != _SHA256_BYTES:
        raise MalformedChecksum(f"S3 checksum {checksum_b64!r} is not the base64 of 32 bytes")
    return digest.hex()


def _short(digest_hex: str) -> str:
    return digest_hex[:12] + "…"


def compare_checksums(
    expected_hex: str | None,
    s3_checksum: str | None,
    checksum_type: str | None,
    *,
    source: str,
    s3_algorithms: Collection[str] = (),
    parts: int | None = None,
) -> ChecksumVerdict:
    """The producer's sha256 against S3's ``ChecksumSHA256``.

    Only two digests, computed apart, prove anything. S3 keeps a checksum of every object, but
    one the SDK or S3 itself computed at upload (CRC32 by default since the 2024-25 SDKs, or
    CRC64NVME added by S3) only says S3 stored what the uploader sent; it says nothing about
    what the dump should contain. So a missing producer digest, a missing S3 SHA-256 and a
    composite S3 checksum are each ``NOT_VERIFIABLE``, never a pass.

    ``source`` names where ``expected_hex`` came from ("acme.dump.sha256", "metadata sha256")
    or, when it is None, says why there is none. ``s3_algorithms`` lists the checksums S3 does
    hold (``CRC32``, ``CRC64NVME``...), for the reason. The S3 checksum is composite when
    ``checksum_type`` is ``COMPOSITE``, when it ends in ``-<parts>``, or when the object was a
    multipart upload (``parts``, from its ETag) and the type is not ``FULL_OBJECT``: S3 offers
    full-object checksums only for CRC algorithms, so a multipart SHA-256 is always composite.
    """
    if expected_hex is None:
        return ChecksumVerdict(outcome=ChecksumOutcome.NOT_VERIFIABLE, detail=source)
    if s3_checksum is None:
        held = ", ".join(sorted(a for a in s3_algorithms if a != "SHA256"))
        why = f"only {held}" if held else "none at all"
        return ChecksumVerdict(
            outcome=ChecksumOutcome.NOT_VERIFIABLE,
            detail=(
                "S3 holds no SHA-256 checksum for this object (it was uploaded without one; "
                f"S3 holds {why}), so the sha256 in {source} cannot be compared"
            ),
        )
    suffix = _COMPOSITE_SUFFIX.search(s3_checksum)
    if suffix is not None:
        parts = int(suffix.group(1))
    if (
        checksum_type == "COMPOSITE"
        or suffix is not None
        or (parts is not None and checksum_type != "FULL_OBJECT")
    ):
        count = f"{parts} parts" if parts is not None else "parts"
        return ChecksumVerdict(
            outcome=ChecksumOutcome.NOT_VERIFIABLE,
            detail=(
                f"S3 holds a composite checksum of a multipart upload ({count}), which cannot "
                f"be compared with the sha256 of the file in {source}"
            ),
        )
    actual = sha256_hex_from_s3(s3_checksum)
    expected = expected_hex.lower()
    if actual == expected:
        return ChecksumVerdict(
            outcome=ChecksumOutcome.VERIFIED,
            detail=f"sha256 in {source} matches S3's ({_short(actual)})",
        )
    return ChecksumVerdict(
        outcome=ChecksumOutcome.MISMATCH,
        detail=f"sha256 in {source} is {_short(expected)}, S3 computed {_short(actual)}",
    )


# --- Object Lock, encryption, storage class ---------------------------------------------------


COMPLIANCE: Final = "COMPLIANCE"


def _days(days: float) -> str:
    if days < 1:
        return "less than a day"
    whole = int(days)
    return "1 day" if whole == 1 else f"{whole} days"


def check_lock(
    mode: str | None,
    retain_until: datetime | None,
    *,
    now: datetime,
    min_days: float,
    require_compliance: bool = False,
) -> str | None:
    """None when the object is locked for at least ``min_days`` more days, else the problem.

    ``min_days`` counts from ``now``, not from the upload: it asks "can this backup still not be
    deleted for N days?". With 30-day locks and a backup up to a day old, ask for 29.

    GOVERNANCE counts by default: it stops deletes and overwrites by everyone without
    ``s3:BypassGovernanceRetention``, and most accounts use it. ``require_compliance`` asks for
    COMPLIANCE, which nobody (not even the root user) can shorten or lift: the mode for an
    operator who needs the backup immutable against a compromised admin.

    S3 returns the lock only to a caller allowed ``s3:GetObjectRetention``; without it a locked
    object looks unlocked, and the problem says so.
    """
    if now.tzinfo is None or (retain_until is not None and retain_until.tzinfo is None):
        raise ValueError("check_lock needs timezone-aware datetimes")
    if min_days < 0:
        raise ValueError(f"min_days must not be negative, got {min_days}")
    if mode is None:
        return "no Object Lock retention (S3 shows it only to a role allowed s3:GetObjectRetention)"
    if retain_until is None:
        return f"Object Lock {mode} without a retain-until date"
    until = f"{retain_until.astimezone(UTC):%Y-%m-%d}"
    days = (retain_until - now).total_seconds() / 86_400
    if days <= 0:
        return f"Object Lock {mode} expired on {until}"
    wanted: list[str] = []
    if require_compliance and mode != COMPLIANCE:
        wanted.append(COMPLIANCE)
    if days < min_days:
        wanted.append("1 day" if min_days == 1 else f"{min_days:g} days")
    if not wanted:
        return None
    why = (
        f" ({mode} can be lifted by anyone allowed s3:BypassGovernanceRetention)"
        if COMPLIANCE in wanted
        else ""
    )
    return (
        f"Object Lock {mode} until {until}, {_days(days)} ahead; the policy asks for "
        f"{' and '.join(wanted)}{why}"
    )


_KMS_ALGORITHMS = frozenset({"aws:kms", "aws:kms:dsse"})
_SSE_NAMES = {"AES256": "SSE-S3 (AES256)", "aws:kms": "SSE-KMS", "aws:kms:dsse": "DSSE-KMS"}


def _is_alias(key: str) -> bool:
    return key.startswith("alias/") or ":alias/" in key


def _key_id(key: str) -> str:
    return key.rsplit(":key/", 1)[-1] if key.startswith("arn:") else key


def kms_key_matches(required: str, found: str) -> bool | None:
    """Whether the KMS key S3 reports (``SSEKMSKeyId``: a key ARN, sometimes a bare key id) is
    the ``required`` one, given as a key id, a key ARN or an alias (name or ARN).

    Two ARNs must be equal: a multi-Region key's replicas share the key id but not the ARN.
    Otherwise the key ids are compared. None for an alias: S3 never reports one, and only KMS
    (``kms:DescribeKey``) could resolve it, which this rule cannot do.
    """
    if _is_alias(required):
        return None
    if required.startswith("arn:") and found.startswith("arn:"):
        return required == found
    return _key_id(required) == _key_id(found)


def check_encryption(
    sse: str | None, kms_key_id: str | None, *, required_kms_key: str | None
) -> str | None:
    """None when the object is encrypted at rest (with ``required_kms_key`` when one is given),
    else the problem, saying what was found.

    Any server-side encryption counts without a required key (S3 encrypts every new object with
    SSE-S3 since January 2023, so "none" means an old object or a non-AWS S3). A required key
    means SSE-KMS or DSSE-KMS with that key.
    """
    if sse is None:
        return "not encrypted at rest: S3 reports no server-side encryption"
    if required_kms_key is None:
        return None
    name = _SSE_NAMES.get(sse, sse)
    if sse not in _KMS_ALGORITHMS:
        return f"encrypted with {name}, not with the KMS key {required_kms_key}"
    if kms_key_id is None:
        return f"encrypted with {name}, but S3 names no key; the policy asks for {required_kms_key}"
    match = kms_key_matches(required_kms_key, kms_key_id)
    if match is None:
        return (
            f"encrypted with {name} key {kms_key_id}; the policy names the alias "
            f"{required_kms_key}, which S3 never reports: give the key's id or ARN instead"
        )
    if not match:
        return f"encrypted with {name} key {kms_key_id}, not {required_kms_key}"
    return None


_ARCHIVED_CLASSES = {
    "GLACIER": "S3 Glacier Flexible Retrieval",
    "DEEP_ARCHIVE": "S3 Glacier Deep Archive",
}
_ARCHIVE_TIERS = {
    "ARCHIVE_ACCESS": "Intelligent-Tiering Archive Access tier",
    "DEEP_ARCHIVE_ACCESS": "Intelligent-Tiering Deep Archive Access tier",
}


def unreadable_storage_class(
    storage_class: str | None, *, archive_status: str | None = None, restore: str | None = None
) -> str | None:
    """Why the object's bytes cannot be read now, or None when they can. A note, never a
    problem: an archived dump may be perfectly good, it just cannot be looked at.

    GLACIER and DEEP_ARCHIVE objects, and Intelligent-Tiering objects in an archive tier
    (``archive_status`` from HeadObject), need a ``RestoreObject`` first; a GET answers
    ``InvalidObjectState``. GLACIER_IR (Instant Retrieval) is readable like STANDARD. A restored
    copy (HeadObject's ``Restore: ongoing-request="false", ...``) is readable.
    """
    if restore is not None and 'ongoing-request="false"' in restore:
        return None
    if storage_class in _ARCHIVED_CLASSES:
        where = f"{storage_class} ({_ARCHIVED_CLASSES[storage_class]})"
    elif archive_status in _ARCHIVE_TIERS:
        where = f"the {_ARCHIVE_TIERS[archive_status]}"
    else:
        return None
    if restore is not None and 'ongoing-request="true"' in restore:
        return f"stored in {where}, being restored: its content was not checked"
    return f"stored in {where}: it cannot be read without a restore, so its content was not checked"


def refused_as_archived(storage_class: str | None) -> str:
    """The note for a GET that S3 refused with ``InvalidObjectState``: the object is archived
    (an Intelligent-Tiering archive tier, which a listing does not show)."""
    where = f" ({storage_class})" if storage_class else ""
    return (
        f"S3 refused to read it (InvalidObjectState): the object is archived{where} and needs "
        "a restore, so its content was not checked"
    )


# --- the result -------------------------------------------------------------------------------


class IntegrityFindings(FrozenValue):
    """What one look at one dump object found.

    Each check that was asked for ends in exactly one of the three tuples: ``problems``
    (failing: the dump is not what it claims), ``notes`` (could not be judged, and why: shown,
    not failing, never a pass) or ``checked`` (passed: "format pg_custom", "sha256",
    "Object Lock", "encryption").
    """

    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    checked: tuple[str, ...] = ()
    calls: int = 0
    """AWS requests made (retries of one request not counted)."""

    @property
    def failing(self) -> bool:
        return bool(self.problems)


class IntegrityPolicy(FrozenValue):
    """What to inspect of one tenant's newest dump: the settings, tightened by its tags."""

    dump_format: DumpFormat | None = None
    verify_checksum: bool = False
    lock_min_days: float | None = None
    require_compliance: bool = False
    require_sse: bool = False
    required_kms_key: str | None = None

    @property
    def reads_the_object(self) -> bool:
        """Whether any check needs an AWS call (the size rule needs none)."""
        return (
            self.dump_format is not None
            or self.verify_checksum
            or self.lock_min_days is not None
            or self.require_sse
        )


def integrity_policy(tenant: Tenant, settings: Settings) -> IntegrityPolicy:
    """The tenant's policy: its tags where they declare a format or ask for more, else the
    settings (``backupwatch.core.tenancy`` has already refused tags that would ask for less)."""
    fmt = tenant.dump_format or settings.dump_format
    lock = tenant.object_lock_min_days
    return IntegrityPolicy(
        dump_format=DumpFormat(fmt) if fmt is not None else None,
        verify_checksum=settings.verify_checksums or tenant.verify_checksum,
        lock_min_days=lock if lock is not None else settings.object_lock_min_days,
        require_compliance=settings.object_lock_compliance,
        require_sse=settings.require_encryption or settings.require_kms_key is not None,
        required_kms_key=settings.require_kms_key,
    )


def size_drop_ratio(tenant: Tenant, settings: Settings) -> float:
    """The tenant's size-drop ratio: its tag (never below the operator's floor), else the
    setting."""
    ratio = tenant.size_drop_ratio
    return ratio if ratio is not None else settings.size_drop_ratio
