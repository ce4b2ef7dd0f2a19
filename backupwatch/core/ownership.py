"""Whose folder is whose: evidence belongs to exactly one tenant (pure).

Run once per bucket over the discovered tenants, before any S3 listing:

- A folder nested in another tenant's folder (``backups/acme/eu/`` in ``backups/acme/``) is
  legitimate: the outer tenant's listing excludes the inner subtree, so the inner tenant's dumps
  never vouch for the outer one. The inner row says where it lies.
- A folder shared by tenants of different names belongs to the one whose folder comes from the
  operator (the template or ``S3_FOLDER_<n>``). A ``backupwatch:s3-prefix`` tag that points at
  it is refused: that tenant's S3 check is ``ERROR`` ("folder ... belongs to tenant ..."), never
  OK on another tenant's objects. With no single owner, every claimant is refused.
- One tenant name on several resources (one database per region, say) stays allowed; each row
  names the other claimants, so a look-alike claim is visible.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field

from backupwatch.core.models import Tenant
from backupwatch.core.tenancy import TAG_S3_PREFIX


@dataclass(frozen=True)
class Folders:
    """What the S3 check needs to know of the other tenants' folders."""

    tenants: tuple[Tenant, ...]
    """The tenants, with ownership notes added (same order as given)."""
    exclude: dict[int, tuple[str, ...]] = field(default_factory=dict)
    """By tenant index: the nested folders of other tenants its listing must skip."""
    refused: dict[int, str] = field(default_factory=dict)
    """By tenant index: why its folder is not its own (its S3 check is then ``ERROR``)."""


def assign_folders(tenants: Sequence[Tenant], *, bucket: str | None = None) -> Folders:
    """Decide, for tenants sharing one bucket, which objects are whose evidence."""
    where = f"s3://{bucket}/" if bucket else ""
    by_folder: dict[str, list[int]] = {}
    for index, tenant in enumerate(tenants):
        if tenant.s3_prefix is not None:
            by_folder.setdefault(tenant.s3_prefix, []).append(index)
    notes: dict[int, list[str]] = {index: [] for index in range(len(tenants))}
    refused: dict[int, str] = {}

    for folder, claimants in by_folder.items():
        names = {tenants[i].name for i in claimants}
        if len(names) < 2:
            continue
        owners = {tenants[i].name for i in claimants if tenants[i].prefix_source != "tag"}
        owner = next(iter(owners)) if len(owners) == 1 else None
        for i in claimants:
            if tenants[i].name == owner:
                continue
            others = sorted(names - {tenants[i].name})
            if owner is not None:
                refused[i] = (
                    f"folder {where}{folder} belongs to tenant {owner!r}; "
                    f"tag {TAG_S3_PREFIX} cannot make it this tenant's"
                )
            else:
                refused[i] = (
                    f"folder {where}{folder} is claimed by tenants "
                    f"{', '.join(repr(n) for n in others)} too, so it is no one's evidence"
                )

    by_name: dict[str, list[int]] = {}
    for index, tenant in enumerate(tenants):
        by_name.setdefault(tenant.name, []).append(index)
    for claimants in by_name.values():
        if len(claimants) < 2:
            continue
        for i in claimants:
            claims = ", ".join(
                f"DB {tenants[j].kind} {tenants[j].identifier!r} ({tenants[j].region})"
                for j in claimants
                if j != i
            )
            notes[i].append(f"tenant name {tenants[i].name!r} is also claimed by {claims}")

    exclude: dict[int, tuple[str, ...]] = {}
    folders = sorted(by_folder)
    for index, tenant in enumerate(tenants):
        mine = tenant.s3_prefix
        if mine is None:
            continue
        nested = _nested_in(mine, folders)
        if nested:
            exclude[index] = nested
        # The folders that are prefixes of mine, shortest (so first in sorted order) first.
        outer = [mine[:end] for end in range(len(mine)) if mine[:end] in by_folder]
        for f in outer:
            outer_names = sorted({tenants[j].name for j in by_folder[f]})
            notes[index].append(
                f"folder {where}{mine} lies inside the folder of tenant "
                f"{', '.join(repr(n) for n in outer_names)}, whose evidence excludes it"
            )

    updated = tuple(
        tenant.model_copy(update={"notes": (*tenant.notes, *notes[index])})
        if notes[index]
        else tenant
        for index, tenant in enumerate(tenants)
    )
    return Folders(tenants=updated, exclude=exclude, refused=refused)


def _nested_in(folder: str, folders: list[str]) -> tuple[str, ...]:
    """The other folders of ``folders`` (sorted) that start with ``folder``, in order: they
    sort right after it, so a binary search and a walk over them alone, not every folder
    (which made the whole assignment quadratic: 30 s at 10,000 tenants)."""
    start = bisect.bisect_right(folders, folder)
    end = start
    while end < len(folders) and folders[end].startswith(folder):
        end += 1
    return tuple(folders[start:end])
