"""Make moto behave like AWS where it matters to a benchmark. Benchmark-only; never in tests.

Two kinds of patch, both undone by ``uninstall`` (each benchmark runs in its own process
anyway), and both disabled by ``--moto-as-is``:

Fidelity. moto 5.2 returns *every* snapshot from ``DescribeDBSnapshots`` in one page and never
a ``Marker``; AWS returns at most ``MaxRecords`` (20..100, default 100). Without paging, the
bulk listing that backupwatch does would cost 1 call instead of ~700 at 10,000 tenants, and
the call counts (the point of issue #4) would be wrong. We page it, 100 at most, with an
opaque offset marker.

Speed. moto finds a prefix's objects by scanning every key of the bucket (``list_objects``)
and an instance's snapshots by scanning every snapshot (``_filter_resources``): per call cost
grows with the world, ~50 ms per ListObjectsV2 at 30,000 keys and ~75 ms per
DescribeDBSnapshots at 7,000 snapshots on this machine, ~10x that at 10,000 tenants. AWS does
not get slower per call as other tenants' data grows, so that cost measures moto, not us; it
made N=10,000 take hours. We index the frozen world once (sorted key names; snapshots by
instance and type) and answer those two lookups from the index, returning the same objects in
the same order (``self_check`` compares with moto's own answer). Serialising the response,
which is per item, stays moto's: that is the measured "moto ms/call".
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

_ORIGINALS: dict[str, Any] = {}
_S3_INDEXES: dict[str, _KeyIndex] = {}
_RDS_INDEXES: dict[int, _SnapshotIndex] = {}
RDS_MAX_RECORDS = 100
"""The most RDS returns per page."""
MARKER_PREFIX = "bench-offset-"


@dataclass
class _KeyIndex:
    """Sorted key names of one bucket (S3 lists in UTF-8 binary order; str order matches)."""

    names: list[str]
    size: int


@dataclass
class _SnapshotIndex:
    """Snapshots by type and by (instance, type), in the backend's insertion order."""

    size: int
    by_type: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    by_instance: dict[tuple[str, str], list[Any]] = field(default_factory=lambda: defaultdict(list))


def install(*, speed: bool = True) -> None:
    """Page DescribeDBSnapshots like AWS; with ``speed``, answer lookups from indexes."""
    from moto.rds.models import RDSBackend
    from moto.rds.responses import RDSResponse
    from moto.s3.models import S3Backend

    _swap(RDSResponse, "describe_db_snapshots", _paged_describe_db_snapshots)
    if speed:
        _swap(RDSBackend, "describe_db_snapshots", _indexed_describe_db_snapshots)
        _swap(S3Backend, "list_objects_v2", _indexed_list_objects_v2)


def uninstall() -> None:
    """Put moto's own methods back."""
    from moto.rds.models import RDSBackend
    from moto.rds.responses import RDSResponse
    from moto.s3.models import S3Backend

    owners = {"RDSResponse": RDSResponse, "RDSBackend": RDSBackend, "S3Backend": S3Backend}
    for qualified, original in _ORIGINALS.items():
        owner, name = qualified.split(".")
        setattr(owners[owner], name, original)
    _ORIGINALS.clear()
    _S3_INDEXES.clear()
    _RDS_INDEXES.clear()


def index_world(s3_backend: Any, bucket: str, rds_backend: Any) -> None:
    """Index the seeded world; call after seeding. A changed world falls back to moto's path."""
    keys = s3_backend.buckets[bucket].keys
    _S3_INDEXES[bucket] = _KeyIndex(names=sorted(keys.keys()), size=len(keys))
    index = _SnapshotIndex(size=len(rds_backend.database_snapshots))
    for snapshot in rds_backend.database_snapshots.values():
        index.by_type[snapshot.snapshot_type].append(snapshot)
        index.by_instance[(snapshot.db_instance_identifier, snapshot.snapshot_type)].append(
            snapshot
        )
    _RDS_INDEXES[id(rds_backend)] = index


def self_check(
    s3_backend: Any, bucket: str, prefixes: list[str], rds_backend: Any, instances: list[str]
) -> None:
    """Raise ``AssertionError`` unless the indexed answers equal moto's own, for samples."""
    if "S3Backend.list_objects_v2" in _ORIGINALS:
        original = _ORIGINALS["S3Backend.list_objects_v2"]
        fake = s3_backend.buckets[bucket]
        for prefix in prefixes:
            for start_after in (None, f"{prefix}~"):
                args = (fake, prefix, None, None, start_after, 1000)
                ours = _indexed_list_objects_v2(s3_backend, *args)
                theirs = original(s3_backend, *args)
                assert _names(ours[0]) == _names(theirs[0]), f"s3 index differs for {prefix}"
                assert ours[1:] == theirs[1:], f"s3 paging differs for {prefix}"
    if "RDSBackend.describe_db_snapshots" in _ORIGINALS:
        original = _ORIGINALS["RDSBackend.describe_db_snapshots"]
        for instance in [*instances, None]:
            ours = _indexed_describe_db_snapshots(rds_backend, instance, None, "automated", {})
            theirs = original(rds_backend, instance, None, "automated", {})
            assert ours == theirs, f"rds index differs for {instance}"


def _names(keys: list[Any]) -> list[str]:
    return [getattr(key, "name", key) for key in keys]


def _swap(owner: type, name: str, replacement: Any) -> None:
    qualified = f"{owner.__name__}.{name}"
    if qualified not in _ORIGINALS:
        _ORIGINALS[qualified] = getattr(owner, name)
    setattr(owner, name, replacement)


def _paged_describe_db_snapshots(self: Any) -> Any:
    """moto's response, cut to one page of ``MaxRecords`` (at most 100) like AWS."""
    from moto.core.responses import ActionResult

    snapshots = list(_ORIGINALS["RDSResponse.describe_db_snapshots"](self).result["DBSnapshots"])
    size = min(int(self.params.get("MaxRecords") or RDS_MAX_RECORDS), RDS_MAX_RECORDS)
    marker = str(self.params.get("Marker") or "")
    start = int(marker.removeprefix(MARKER_PREFIX)) if marker.startswith(MARKER_PREFIX) else 0
    end = start + size
    next_marker = f"{MARKER_PREFIX}{end}" if end < len(snapshots) else None
    return ActionResult({"DBSnapshots": snapshots[start:end], "Marker": next_marker})


def _indexed_describe_db_snapshots(
    self: Any,
    db_instance_identifier: str | None,
    db_snapshot_identifier: str | None = None,
    snapshot_type: str | None = None,
    filters: dict[str, Any] | None = None,
) -> list[Any]:
    index = _RDS_INDEXES.get(id(self))
    usable = (
        index is not None
        and index.size == len(self.database_snapshots)
        and db_snapshot_identifier is None
        and not filters
        and snapshot_type in ("automated", "manual")
    )
    if not usable or index is None or snapshot_type is None:
        original = _ORIGINALS["RDSBackend.describe_db_snapshots"]
        return list(
            original(self, db_instance_identifier, db_snapshot_identifier, snapshot_type, filters)
        )
    if db_instance_identifier:
        return list(index.by_instance.get((db_instance_identifier, snapshot_type), []))
    return list(index.by_type.get(snapshot_type, []))


def _indexed_list_objects_v2(
    self: Any,
    bucket: Any,
    prefix: str | None,
    delimiter: str | None,
    continuation_token: str | None,
    start_after: str | None,
    max_keys: int,
) -> Any:
    """moto's ``list_objects_v2`` for the no-delimiter case, from a sorted index of names."""
    from moto.s3.models import FakeDeleteMarker

    index = _S3_INDEXES.get(bucket.name)
    if index is None or delimiter or index.size != len(bucket.keys):
        original = _ORIGINALS["S3Backend.list_objects_v2"]
        return original(self, bucket, prefix, delimiter, continuation_token, start_after, max_keys)
    names, prefix = index.names, prefix or ""
    low = bisect.bisect_left(names, prefix)
    high = low
    while high < len(names) and names[high].startswith(prefix):
        high += 1
    after = self._pagination_tokens.get(continuation_token) if continuation_token else start_after
    if after:
        low = bisect.bisect_right(names, after, low, high)
    keys = [bucket.keys[name] for name in names[low:high]]
    keys = [key for key in keys if not isinstance(key, FakeDeleteMarker)]
    return self._truncate_result(keys, max_keys)
