"""The integrity of the newest dump, through ``check_tenants`` on moto: a broken backup that
exists is ``SUSPECT``, an inspection that cannot be made is ``ERROR``, and what cannot be
verified is said (``notes``), never passed in silence.

The rules themselves are tested in tests/test_size_history.py and tests/test_integrity_rules.py,
the reads in tests/test_s3_integrity.py; here, that they decide the tenant's verdict, cost what
they should, and that tags tighten the operator's policy but never loosen it.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from backupwatch import Check, Retrier, Status, TenantReport

from .conftest import BUCKET, DENIED, NOW, Faults, World, env_for, hours_ago
from .conftest import run_check as run

PG_CUSTOM = b"PGDMP\x01\x0e\x00\x04\x08\x01\x01" + b"\x00" * 500 + b"data" * 200
ERROR_TEXT = (
    b'pg_dump: error: connection to server at "db-acme" (10.0.0.5), port 5432 failed: '
    b'FATAL:  password authentication failed for user "backup"\n'
)


def daily_dumps(world: World, tenant: str, sizes: list[int], *, newest_hours: float = 3) -> None:
    """One dump a day, oldest first, the last ``newest_hours`` before NOW."""
    for days_ago, size in zip(range(len(sizes) - 1, -1, -1), sizes, strict=True):
        when = hours_ago(newest_hours + 24 * days_ago)
        world.put(f"{tenant}-backups/{tenant}-{when:%Y-%m-%d}.dump", when, size=size)


def put_bytes(world: World, key: str, body: bytes, hours: float, **extra: Any) -> None:
    world.s3.put_object(Bucket=BUCKET, Key=key, Body=body, **extra)
    world.set_object_time(key, hours_ago(hours))


def row(report: Any, tenant: str) -> TenantReport:
    [found] = [r for r in report.tenants if r.tenant == tenant]
    return found


def s3_calls(faults: Faults) -> dict[str, int]:
    return {k: v for k, v in faults.api_calls.items() if k.startswith("s3:")}


@pytest.fixture
def acme(world: World) -> World:
    world.bucket()
    world.instance("db-acme", tenant="acme")
    return world


# --- the size rule: no call, on by default ------------------------------------------------------


def test_a_shrunk_dump_is_suspect_with_the_numbers(acme: World, retrier: Retrier) -> None:
    daily_dumps(acme, "acme", [200_000] * 7 + [4_000])
    s3 = row(run(acme, retrier), "acme").checks[Check.S3]
    assert s3.status is Status.SUSPECT
    assert s3.reason.startswith("newest backup object 3 h old (3.9 KiB), but it looks broken: ")
    assert s3.reason.endswith("is 3.9 KiB, 2% of the median of the last 7 dumps, 195.3 KiB")


def test_growth_and_noise_stay_ok(acme: World, retrier: Retrier) -> None:
    daily_dumps(
        acme, "acme", [100_000, 104_000, 97_000, 110_000, 106_000, 99_000, 115_000, 112_000]
    )
    result = row(run(acme, retrier), "acme")
    assert result.status is Status.OK
    assert result.checks[Check.S3].notes == ()


def test_a_first_dump_is_ok_and_says_the_size_was_not_compared(
    acme: World, retrier: Retrier
) -> None:
    daily_dumps(acme, "acme", [50_000, 5])
    s3 = row(run(acme, retrier), "acme").checks[Check.S3]
    assert s3.status is Status.OK
    assert s3.notes == ("size not compared: 1 earlier dump of its series, 3 needed",)


def test_another_series_never_vouches_for_the_size(acme: World, retrier: Retrier) -> None:
    """A small globals file written beside each big dump is its own series: neither makes the
    other look shrunk (the careless variant compares every object of the folder)."""
    daily_dumps(acme, "acme", [200_000] * 8)
    for days_ago in range(8):
        when = hours_ago(2 + 24 * days_ago)
        acme.put(f"acme-backups/globals-{when:%Y-%m-%d}.sql", when, size=900)
    assert row(run(acme, retrier), "acme").status is Status.OK


def test_ratio_zero_switches_the_rule_off(acme: World, retrier: Retrier) -> None:
    daily_dumps(acme, "acme", [200_000] * 7 + [4_000])
    report = run(acme, retrier, BACKUPWATCH_SIZE_DROP_RATIO="0")
    assert row(report, "acme").status is Status.OK


def test_the_size_rule_costs_no_call(acme: World, retrier: Retrier, faults: Faults) -> None:
    daily_dumps(acme, "acme", [200_000] * 7 + [4_000])
    faults.count("s3", "GetObject")
    faults.count("s3", "HeadObject")
    faults.count("s3", "ListObjectsV2")
    run(acme, retrier)
    assert s3_calls(faults) == {"s3:ListObjectsV2": 1}


def test_a_stale_dump_is_stale_not_suspect(acme: World, retrier: Retrier) -> None:
    """Only a fresh dump is judged for its looks: an old one is STALE, whatever its size."""
    daily_dumps(acme, "acme", [200_000] * 7 + [4_000], newest_hours=40)
    assert row(run(acme, retrier), "acme").status is Status.STALE


# --- reading the object: opt-in --------------------------------------------------------------


def test_an_error_message_saved_as_the_dump_is_suspect(acme: World, retrier: Retrier) -> None:
    put_bytes(acme, "acme-backups/acme.dump", ERROR_TEXT, 2)
    s3 = row(run(acme, retrier, BACKUPWATCH_DUMP_FORMAT="pg_custom"), "acme").checks[Check.S3]
    assert s3.status is Status.SUSPECT
    assert "but it looks broken: first bytes are text 'pg_dump: error: connection" in s3.reason


def test_the_format_tag_declares_it_for_one_tenant(acme: World, retrier: Retrier) -> None:
    acme.instance("db-globex", tenant="globex", tags={"backupwatch:dump-format": "pg_custom"})
    put_bytes(acme, "acme-backups/acme.dump", ERROR_TEXT, 2)
    put_bytes(acme, "globex-backups/globex.dump", ERROR_TEXT, 2)
    report = run(acme, retrier)
    assert row(report, "acme").status is Status.OK  # no format declared: not read
    assert row(report, "globex").status is Status.SUSPECT


def test_a_good_dump_with_a_matching_checksum_is_ok(
    acme: World, retrier: Retrier, faults: Faults
) -> None:
    put_bytes(acme, "acme-backups/acme.dump", PG_CUSTOM, 2, ChecksumAlgorithm="SHA256")
    sidecar = f"{hashlib.sha256(PG_CUSTOM).hexdigest()}  acme.dump\n".encode()
    put_bytes(acme, "acme-backups/acme.dump.sha256", sidecar, 1)
    for operation in ("GetObject", "HeadObject", "ListObjectsV2"):
        faults.count("s3", operation)
    report = run(
        acme, retrier, BACKUPWATCH_DUMP_FORMAT="pg_custom", BACKUPWATCH_VERIFY_CHECKSUMS="true"
    )
    s3 = row(report, "acme").checks[Check.S3]
    assert s3.status is Status.OK, s3.reason
    assert s3.reason.endswith("; verified: format pg_custom, sha256")
    assert s3.key == "acme-backups/acme.dump"  # the newer sidecar is never the evidence
    assert s3.notes == ("size not compared: no earlier dump of its series, 3 needed",)
    # One listing, one HEAD, one ranged read of the head, one read of the sidecar.
    assert s3_calls(faults) == {"s3:ListObjectsV2": 1, "s3:HeadObject": 1, "s3:GetObject": 2}


def test_a_checksum_mismatch_is_suspect(acme: World, retrier: Retrier) -> None:
    put_bytes(acme, "acme-backups/acme.dump", PG_CUSTOM, 2, ChecksumAlgorithm="SHA256")
    other = hashlib.sha256(b"another file").hexdigest()
    put_bytes(acme, "acme-backups/acme.dump.sha256", f"{other}  acme.dump\n".encode(), 1)
    s3 = row(run(acme, retrier, BACKUPWATCH_VERIFY_CHECKSUMS="true"), "acme").checks[Check.S3]
    assert s3.status is Status.SUSPECT
    assert "sha256" in s3.reason


def test_a_checksum_s3_computed_itself_is_not_verified(acme: World, retrier: Retrier) -> None:
    """The careless variant counts any checksum S3 holds as proof: without the producer's
    sha256 there is nothing to compare, which is said, and never failing."""
    put_bytes(acme, "acme-backups/acme.dump", PG_CUSTOM, 2, ChecksumAlgorithm="SHA256")
    s3 = row(run(acme, retrier, BACKUPWATCH_VERIFY_CHECKSUMS="true"), "acme").checks[Check.S3]
    assert s3.status is Status.OK
    assert s3.notes[-1] == "no sidecar acme.dump.sha256 and no sha256 in the object's metadata"
    assert s3.reason.endswith(f"; not verified: {s3.notes[-1]}")  # said, not passed in silence


def test_a_sidecar_alone_is_no_backup(acme: World, retrier: Retrier) -> None:
    """A job that wrote only its checksum file today backed nothing up today."""
    put_bytes(acme, "acme-backups/acme.dump", PG_CUSTOM, 40)
    put_bytes(acme, "acme-backups/acme.dump.sha256", b"0" * 64 + b"  acme.dump\n", 1)
    assert row(run(acme, retrier), "acme").checks[Check.S3].status is Status.STALE


def test_an_archived_dump_is_a_note_not_a_pass_or_a_failure(acme: World, retrier: Retrier) -> None:
    put_bytes(acme, "acme-backups/acme.dump", PG_CUSTOM, 2, StorageClass="GLACIER")
    s3 = row(run(acme, retrier, BACKUPWATCH_DUMP_FORMAT="pg_custom"), "acme").checks[Check.S3]
    assert s3.status is Status.OK
    assert s3.notes[-1].startswith("stored in GLACIER (S3 Glacier Flexible Retrieval): it cannot")
    assert "; not verified: stored in GLACIER" in s3.reason


def test_an_inspection_that_cannot_be_made_is_error_never_ok(
    acme: World, retrier: Retrier, faults: Faults
) -> None:
    put_bytes(acme, "acme-backups/acme.dump", PG_CUSTOM, 2)
    faults.inject("s3", "GetObject", DENIED, times=10)
    faults.inject("s3", "HeadObject", DENIED, times=10)
    report = run(acme, retrier, BACKUPWATCH_DUMP_FORMAT="pg_custom")
    s3 = row(report, "acme").checks[Check.S3]
    assert s3.status is Status.ERROR
    assert "could not inspect s3://" in s3.reason
    assert "AccessDenied" in s3.reason


def test_no_read_when_no_inspection_is_asked(acme: World, retrier: Retrier, faults: Faults) -> None:
    put_bytes(acme, "acme-backups/acme.dump", ERROR_TEXT, 2)
    faults.count("s3", "GetObject")
    faults.count("s3", "HeadObject")
    run(acme, retrier)
    assert s3_calls(faults) == {"s3:ListObjectsV2": 1}


# --- tags tighten, never loosen -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "variables", "problem"),
    [
        (
            {"backupwatch:size-drop-ratio": "0.1"},
            {},
            "tag backupwatch:size-drop-ratio='0.1' is below the operator's bound of 0.5",
        ),
        (
            {"backupwatch:verify-checksum": "false"},
            {"BACKUPWATCH_VERIFY_CHECKSUMS": "true"},
            "cannot switch off what BACKUPWATCH_VERIFY_CHECKSUMS switched on",
        ),
        (
            {"backupwatch:object-lock-min-days": "1"},
            {"BACKUPWATCH_OBJECT_LOCK_MIN_DAYS": "30"},
            "is below the operator's BACKUPWATCH_OBJECT_LOCK_MIN_DAYS=30",
        ),
        ({"backupwatch:dump-format": "sql"}, {}, "tag backupwatch:dump-format='sql' is not one of"),
    ],
)
def test_a_tag_that_would_loosen_is_the_tenants_error(
    world: World,
    retrier: Retrier,
    tags: dict[str, str],
    variables: dict[str, str],
    problem: str,
) -> None:
    world.bucket()
    world.instance("db-acme", tenant="acme", tags=tags)
    daily_dumps(world, "acme", [200_000] * 7 + [4_000])
    result = row(run(world, retrier, **variables), "acme")
    assert result.status is Status.ERROR
    assert problem in result.reason
    # Still checked with the operator's policy: the shrunk dump is named too.
    assert result.checks[Check.S3].status is Status.SUSPECT


def test_a_floor_below_the_default_lets_tags_loosen_within_it(
    world: World, retrier: Retrier
) -> None:
    world.bucket()
    world.instance("db-acme", tenant="acme", tags={"backupwatch:size-drop-ratio": "0.01"})
    daily_dumps(world, "acme", [200_000] * 7 + [4_000])
    report = run(world, retrier, BACKUPWATCH_TAG_SIZE_DROP_RATIO_FLOOR="0")
    assert row(report, "acme").status is Status.OK


def test_a_tag_may_ask_for_more(world: World, retrier: Retrier) -> None:
    world.bucket()
    world.instance("db-acme", tenant="acme", tags={"backupwatch:size-drop-ratio": "0.9"})
    daily_dumps(world, "acme", [200_000] * 7 + [150_000])  # 75 % of the median
    assert row(run(world, retrier), "acme").status is Status.SUSPECT


def test_explain_names_the_size_rule_and_what_was_not_verified(
    acme: World, retrier: Retrier
) -> None:
    """``backupwatch explain``'s lines for a suspect dump: the rule with its numbers and where
    the ratio came from, and every note as "not verified"."""
    from backupwatch import load_settings
    from backupwatch.core.explain import explain
    from backupwatch.pipeline.monitor import examine_tenant

    daily_dumps(acme, "acme", [200_000] * 7 + [4_000])
    settings = load_settings(env_for(BACKUPWATCH_VERIFY_CHECKSUMS="true"))
    examination = examine_tenant(
        settings, "acme", session=acme.session, clock=lambda: NOW, retrier=retrier
    )
    text = "\n".join(explain(examination.report, examination.resolved, settings=settings))
    assert "rule: SUSPECT: the newest object of at least 1 B is 3 h old" in text
    assert "(the size rule fails below 0.5: default (BACKUPWATCH_SIZE_DROP_RATIO unset))" in text
    assert "not verified: no sidecar" in text
