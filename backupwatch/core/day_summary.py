"""A run's report in a few bytes per tenant: what the history needs of an earlier day (pure).

The status page draws 30 days, the HTML email's grid 14, and the size rule falls back on the
dumps of about a month of reports. Reading 29 full reports for that costs, at 10,000 tenants,
30 to 50 s of CPU and 1.5 GiB, and at 100,000 tenants about 15 GiB, more memory than any
Lambda function has: a full report carries every check's evidence, notes and keys, which none
of these readers looks at (docs/performance.md, "History at fleet scale").

A ``DaySummary`` keeps, per row, only what they read:

- the row's key (account, region, kind, identifier), its tenant name, status and ``failing``;
- the cell's text as the status page shows it (the reason, then ``backup age: rds 31 h ·
  s3 50 h``), split like the page splits it: a *template* shared by the fleet
  (``rds: newest automated snapshot \\x010\\x02 h old``) and the row's numbers (``"31"``);
- which of those ages belong to a failing check (``bad``, a bit per age, in order);
- the newest dump, when the S3 check judged it ``OK``: its key, size and ``LastModified``,
  what ``size_history.archived_dumps`` reads.

Built from a report (``DaySummary.of``), it is written beside the report as gzip-compressed
JSON (``to_bytes``; ``DaySummaryReader.read`` reads it back to an equal summary): about 40 KB
per 1,000 tenants where the report is 840 KB. The status page drawn from summaries is byte for
byte the page drawn from the reports (tests/test_day_summary.py), and so is the HTML email's
grid, which a run hands its days as a ``DailyHistory``.

The JSON (``schema`` ``backupwatch.day-summary``, ``version`` 1) is one object; rows are arrays,
described by ``columns``, with the strings that repeat across rows in tables::

    {"schema": "backupwatch.day-summary", "version": 1,
     "generated_at": "2026-11-27T07:00:00Z", "regions": ["eu-west-1"], "checks": ["rds", "s3"],
     "accounts": [], "region_errors": [],
     "columns": ["scope", "kind", "identifier", "tenant", "status", "failing", "text",
                 "numbers", "bad", "dump"],
     "scopes": [["111122223333", "eu-west-1"]],
     "texts": ["rds: newest automated snapshot \\u00010\\u0002 h old ..."],
     "tenants": [[0, "instance", "db-acme", "acme", "OK", 0, 0, "5 24 4", 0,
                  ["acme-backups/acme-2026-11-27.dump", 52428800, "2026-11-27T03:00:00Z"]]]}

``scope`` indexes ``scopes`` (account, "" when unknown, and region), ``text`` indexes ``texts``,
``dump`` is null when there is none. When any row has owners (``TenantReport.owners``), an
``owners`` member follows ``tenants``: ``[[row index, owner, ...], ...]``, what a gone tenant's
owner notice needs when "what changed" is computed from the summary (``changes.compare``); a
summary of a report without owners has no such member, and its bytes are what they were
before it existed; a reader that does not know the member ignores it. A reader accepts
version 1 only: a summary it cannot read (corrupt, or from a newer backupwatch) is
``DaySummaryError``, and the archive then reads the full report instead, which is read
leniently whatever its version.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import gzip
import json
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, NamedTuple, TypeAlias, overload

from pydantic import TypeAdapter, ValidationError

from backupwatch.core.digest import clean
from backupwatch.core.evaluation import format_age
from backupwatch.core.models import (
    READING,
    Check,
    RegionError,
    Report,
    RowKey,
    Status,
    Summary,
    TenantReport,
    most_severe_first,
)
from backupwatch.core.size_history import ArchivedDump, ok_dump

SCHEMA: Final = "backupwatch.day-summary"
VERSION: Literal[1] = 1
COLUMNS: Final = (
    "scope",
    "kind",
    "identifier",
    "tenant",
    "status",
    "failing",
    "text",
    "numbers",
    "bad",
    "dump",
)
"""What each element of a row of ``tenants`` is, in the JSON (written there too, for readers)."""

# --- the cell's text, split into a template and its numbers -------------------------------------

HOLE_OPEN, HOLE_CLOSE = "\x01", "\x02"
"""Around a number's slot in a template: control characters, which no cleaned text holds."""
_NUMBER = re.compile(r"(?<![A-Za-z0-9.])([0-9]+(?:\.[0-9]+)?)")
_HOLE = re.compile(f"{HOLE_OPEN}([0-9]+){HOLE_CLOSE}")
AGES_LABEL: Final = "\nbackup age: "
"""Between the reason and the ages in a cell's text."""
AGES_SEPARATOR: Final = " · "
NO_AGES: Final = "unknown"
"""The ages part of a row with no check age at all."""


def split_numbers(text: str) -> tuple[str, str]:
    """``text`` as ``(template, numbers)``: each number (a run of digits not glued to a letter,
    digit or dot before it, so ``s3`` stays text) becomes a hole ``\\x01i\\x02``, ``i`` its
    place among the distinct numbers, written once each in ``numbers``, space-separated."""
    parts = _NUMBER.split(text)
    numbers = list(dict.fromkeys(parts[1::2]))
    slot = {number: str(i) for i, number in enumerate(numbers)}
    template = parts[0] + "".join(
        f"{HOLE_OPEN}{slot[number]}{HOLE_CLOSE}{after}"
        for number, after in zip(parts[1::2], parts[2::2], strict=True)
    )
    return template, " ".join(numbers)


def fill(template: str, numbers: str) -> str:
    """The text ``split_numbers`` split (what the status page's script does on hover)."""
    values = numbers.split(" ")
    return _HOLE.sub(lambda hole: values[int(hole[1])], template)


def clean_text(text: str) -> str:
    """``digest.clean``, which goes character by character, only for the rare text that needs
    it: 30,000 reasons through it cost a second."""
    return text if text.isprintable() else clean(text)


_CHECKS = tuple((check, check.value) for check in Check)
_FAILING: dict[Status, bool] = {}
"""``Status.failing`` by status: asked for every check of every row, and slow for ``OK``."""


def status_failing(status: Status) -> bool:
    """``status.failing``, remembered per status."""
    failing = _FAILING.get(status)
    if failing is None:
        failing = _FAILING[status] = status.failing
    return failing


@functools.lru_cache(maxsize=4096)
def age_label(hours: float | None) -> str:
    """``5 h``, ``9.2 days``, ``none``: ages repeat across a fleet, so they are cached."""
    return "none" if hours is None else format_age(timedelta(hours=hours))


def check_ages(row: TenantReport) -> list[tuple[str, str, bool]]:
    """Per check: its name, the age of its newest evidence, whether that check is failing."""
    out: list[tuple[str, str, bool]] = []
    checks = row.checks
    for check, name in _CHECKS:
        result = checks.get(check)
        # A check deferred to another (rule "either") is not the tenant's backup age.
        if result is not None and result.deferred_to is None:
            out.append((name, age_label(result.age_hours), status_failing(result.status)))
    return out


def ages_text(ages: Iterable[tuple[str, str, bool]]) -> str:
    """``rds 31 h · s3 50 h``; ``unknown`` when there is no age."""
    return AGES_SEPARATOR.join(f"{check} {age}" for check, age, _ in ages) or NO_AGES


def cell_text(row: TenantReport) -> str:
    """The status page's text of a row: its reason, cleaned, then its backup ages."""
    return f"{clean_text(row.reason)}{AGES_LABEL}{ages_text(check_ages(row))}"


# --- the model ----------------------------------------------------------------------------------


class DayRow(NamedTuple):
    """One tenant on one day: what the page, the email's grid and the size rule read."""

    key: RowKey
    tenant: str
    status: Status
    failing: bool
    template: str
    """The cell's text with its numbers taken out (``split_numbers``); shared across rows."""
    numbers: str
    bad: int
    """Bit ``i`` set: the ``i``-th age of the text is a failing check's."""
    dump: ArchivedDump | None
    """The newest dump, when the S3 check judged it ``OK`` (``archived_dumps``)."""

    @property
    def text(self) -> str:
        """The cell's text: the reason, cleaned, then ``backup age: ...``."""
        return fill(self.template, self.numbers)

    @property
    def reason(self) -> str:
        """The row's reason, cleaned (control characters made spaces)."""
        return self.text.rpartition(AGES_LABEL)[0]

    @property
    def ages(self) -> list[tuple[str, str, bool]]:
        """Per check with an age: its name, the age, whether it is failing (``check_ages``)."""
        listed = self.text.rpartition(AGES_LABEL)[2]
        if listed == NO_AGES:
            return []
        out = []
        for i, part in enumerate(listed.split(AGES_SEPARATOR)):
            check, _, age = part.partition(" ")
            out.append((check, age, bool(self.bad >> i & 1)))
        return out


@dataclass(frozen=True)
class DaySummary:
    """A report as the history reads it; built by ``DaySummary.of`` or read from JSON."""

    generated_at: datetime
    regions: tuple[str, ...]
    checks: tuple[Check, ...]
    tenants: tuple[DayRow, ...]
    region_errors: tuple[RegionError, ...] = ()
    accounts: tuple[str, ...] = ()
    owners: Mapping[RowKey, tuple[str, ...]] | None = field(default=None, compare=False)
    """The owner keys of the rows that have any (``TenantReport.owners``), so that "what
    changed" can be computed from yesterday's summary and still route a gone tenant to its
    owners. None when not known: a summary written before summaries kept them, or one whose
    rows have none (the JSON then leaves ``owners`` out, and its bytes are what they were)."""
    summary: Summary = field(init=False, compare=False, repr=False)
    """The report's counts, as ``Report.summary`` has them."""

    def __post_init__(self) -> None:
        counts = Counter(row.status for row in self.tenants)
        summary = Summary(
            tenants=len(self.tenants),
            failing=sum(1 for row in self.tenants if row.failing),
            by_status={status: counts[status] for status in most_severe_first({*Status, *counts})},
            regions_failed=len(self.region_errors),
        )
        object.__setattr__(self, "summary", summary)

    @property
    def failing(self) -> bool:
        """``Report.failing``: a tenant fails, a scope was not checked, or there is no tenant."""
        return not self.tenants or bool(self.region_errors) or self.summary.failing > 0

    @classmethod
    def of(cls, report: Report) -> DaySummary:
        """The summary of ``report`` (``DaySummaryReader().of``)."""
        return DaySummaryReader().of(report)

    def to_json(self) -> str:
        """The summary as compact JSON (see the module); ``DaySummaryReader.read`` reads it."""
        scopes: dict[tuple[str, str], int] = {}
        texts: dict[str, int] = {}
        rows: list[list[Any]] = []
        for row in self.tenants:
            account, region, kind, identifier = row.key
            scope = scopes.setdefault((account, region), len(scopes))
            text = texts.setdefault(row.template, len(texts))
            dump = row.dump
            rows.append(
                [
                    scope,
                    kind,
                    identifier,
                    row.tenant,
                    row.status.value,
                    int(row.failing),
                    text,
                    row.numbers,
                    row.bad,
                    None
                    if dump is None
                    else [
                        dump.key,
                        dump.size,
                        _time(dump.modified_at) if dump.modified_at else None,
                    ],
                ]
            )
        document = {
            "schema": SCHEMA,
            "version": VERSION,
            "generated_at": _time(self.generated_at),
            "regions": list(self.regions),
            "checks": [check.value for check in self.checks],
            "accounts": list(self.accounts),
            "region_errors": [error.model_dump(mode="json") for error in self.region_errors],
            "columns": list(COLUMNS),
            "scopes": [list(scope) for scope in scopes],
            "texts": list(texts),
            "tenants": rows,
        }
        if self.owners:
            where = {row.key: i for i, row in enumerate(self.tenants)}
            document["owners"] = [
                [where[key], *owners] for key, owners in self.owners.items() if key in where
            ]
        return json.dumps(document, ensure_ascii=False, separators=(",", ":"))

    def to_bytes(self) -> bytes:
        """``to_json``, gzip-compressed (about a fifth of its size), as the archive stores it;
        the same summary always gives the same bytes."""
        return gzip.compress(self.to_json().encode(), compresslevel=6, mtime=0)

    def report_row(self, row: DayRow) -> TenantReport:
        """``row`` as a report's row: its tenant, resource, status, ``failing``, reason and
        owners (when the summary knows them), no check's details. What ``changes.compare``
        makes of a tenant of yesterday's summary that is gone today: the digest shows its
        name, resource and status, an owner's notice routes it by its owners."""
        account, region, kind, identifier = row.key
        return TenantReport.model_construct(
            tenant=row.tenant,
            db_instance_identifier=identifier,
            region=region,
            kind=kind,
            account_id=account or None,
            status=row.status,
            failing=row.failing,
            reason=row.reason,
            owners=self.owners.get(row.key, ()) if self.owners else (),
        )

    def to_report(self) -> Report:
        """A report of what the summary holds: every row's tenant, status, ``failing`` and
        reason (and owners, when the summary knows them), but no check's details. For readers
        that take reports; the history's own readers take summaries."""
        rows = [self.report_row(row) for row in self.tenants]
        return Report.model_construct(
            generated_at=self.generated_at,
            regions=self.regions,
            checks=self.checks,
            tenants=tuple(rows),
            region_errors=self.region_errors,
            accounts=self.accounts,
        )


AnyDay: TypeAlias = Report | DaySummary
"""A day of history as the status page and the email's grid take it."""
AnyRow: TypeAlias = TenantReport | DayRow


class DaySummaryError(ValueError):
    """A day summary that cannot be read: corrupt, or written by a newer backupwatch."""


def _time(when: datetime) -> str:
    when = when.astimezone(UTC)
    return f"{when:%Y-%m-%dT%H:%M:%S}Z" if not when.microsecond else when.isoformat()


def _parse_time(text: Any) -> datetime:
    if not isinstance(text, str):
        raise DaySummaryError(f"{text!r} is not a time")
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        raise DaySummaryError(f"{text!r} has no time zone")
    return when


_STATUS = TypeAdapter(Status)
_KINDS = frozenset({"instance", "cluster"})
_GZIP_MAGIC = b"\x1f\x8b"


class DaySummaryReader:
    """Builds and reads summaries, sharing what repeats from day to day.

    Thirty days of one fleet name the same tenants, resources and templates thirty times; one
    reader keeps one copy of each (strings, row keys, statuses), so a month of summaries of
    100,000 tenants holds each name once. A tenant's row that is the same as on the day read
    before it (a tenant backed up at the same hour every day shows the same ages, the same
    text) is that day's row, not a copy: a month of a steady fleet costs little more than a
    day. Use one reader for the days of one page, read oldest first.

    ``dumps=False`` leaves every row's ``dump`` out (None): the status page, the email's grid
    and "what changed" never read it, only the size rule's fallback does (``archived_dumps``),
    and a dump (a dated key, a size, a time) differs every day, so a row that keeps one is never
    the day before's. The state machine's publish step, which checks nothing, reads so.
    """

    def __init__(self, *, dumps: bool = True) -> None:
        self.dumps = dumps
        self._strings: dict[str, str] = {}
        self._keys: dict[RowKey, RowKey] = {}
        self._statuses: dict[str, tuple[Status, bool]] = {}
        self._last: dict[RowKey, DayRow] = {}

    def _shared(self, row: DayRow) -> DayRow:
        """``row``, or the equal row of the same tenant on the day read before (see the
        class)."""
        last = self._last.get(row.key)
        if last is not None and last == row:
            return last
        self._last[row.key] = row
        return row

    def _string(self, text: str) -> str:
        return self._strings.setdefault(text, text)

    def _key(self, key: RowKey) -> RowKey:
        found = self._keys.get(key)
        if found is None:
            account, region, kind, identifier = key
            found = self._keys[key] = (
                self._string(account),
                self._string(region),
                self._string(kind),
                self._string(identifier),
            )
        return found

    def of(self, report: Report) -> DaySummary:
        """The summary of ``report``."""
        return DaySummary(
            generated_at=report.generated_at,
            regions=report.regions,
            checks=report.checks,
            tenants=tuple(self._row(row) for row in report.tenants),
            region_errors=report.region_errors,
            accounts=report.accounts,
            owners={row.key: row.owners for row in report.tenants if row.owners},
        )

    def _row(self, row: TenantReport) -> DayRow:
        ages = check_ages(row)
        text = f"{clean_text(row.reason)}{AGES_LABEL}{ages_text(ages)}"
        template, numbers = split_numbers(text)
        return self._shared(
            DayRow(  # key, tenant, status, failing, template, numbers, bad, dump
                self._key(row.key),
                self._string(row.tenant),
                row.status,
                row.failing,
                self._string(template),
                numbers,
                sum(1 << i for i, (_, _, bad) in enumerate(ages) if bad),
                ok_dump(row) if self.dumps else None,
            )
        )

    def read(self, body: str | bytes) -> DaySummary:
        """Read what ``DaySummary.to_json`` (or ``to_bytes``: gzip) wrote; ``DaySummaryError``
        when it is not a day summary of this version (corrupt, or a newer backupwatch's)."""
        if isinstance(body, bytes) and body[:2] == _GZIP_MAGIC:
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError, zlib.error) as error:
                raise DaySummaryError(f"not gzip: {error}") from None
        try:
            document = json.loads(body)
        except ValueError as error:
            raise DaySummaryError(f"not JSON: {error}") from None
        if not isinstance(document, dict) or document.get("schema") != SCHEMA:
            raise DaySummaryError("not a day summary")
        version = document.get("version")
        if version != VERSION:
            raise DaySummaryError(f"version {version!r}, not {VERSION}")
        try:
            return self._document(document)
        except (KeyError, IndexError, TypeError, ValueError, ValidationError) as error:
            if isinstance(error, DaySummaryError):
                raise
            raise DaySummaryError(f"malformed: {type(error).__name__}: {error}") from None

    def _document(self, document: Mapping[str, Any]) -> DaySummary:
        if tuple(document["columns"]) != COLUMNS:
            raise DaySummaryError(f"columns {document['columns']!r}")
        scopes = [
            (self._string(account), self._string(region)) for account, region in document["scopes"]
        ]
        texts = [self._string(text) for text in document["texts"]]
        for part in (*(p for s in scopes for p in s), *texts):
            if not isinstance(part, str):
                raise DaySummaryError(f"{part!r} is not a string")
        rows = [self._read_row(row, scopes, texts) for row in document["tenants"]]
        known = {check.value for check in Check}
        owners = _owners(document["owners"], rows) if "owners" in document else None
        return DaySummary(
            generated_at=_parse_time(document["generated_at"]),
            regions=tuple(self._string(r) for r in _strings(document["regions"])),
            checks=tuple(Check(c) for c in _strings(document["checks"]) if c in known),
            tenants=tuple(rows),
            region_errors=tuple(
                RegionError.model_validate(error, context=READING)
                for error in document["region_errors"]
            ),
            accounts=tuple(self._string(a) for a in _strings(document["accounts"])),
            owners=owners,
        )

    def _read_row(
        self, row: Sequence[Any], scopes: Sequence[tuple[str, str]], texts: Sequence[str]
    ) -> DayRow:
        scope, kind, identifier, tenant, status, failing, text, numbers, bad, dump = row
        if not (
            type(scope) is int
            and scope >= 0
            and kind in _KINDS
            and type(identifier) is str
            and type(tenant) is str
            and failing in (0, 1)
            and type(text) is int
            and text >= 0
            and type(numbers) is str
            and type(bad) is int
        ):
            raise DaySummaryError(f"row {row!r}: not {COLUMNS}")
        account, region = scopes[scope]
        found, unknown = self._status(status)
        return self._shared(
            DayRow(  # key, tenant, status, failing, template, numbers, bad, dump
                self._key((account, region, kind, identifier)),
                self._string(tenant),
                found,
                bool(failing) or unknown,
                texts[text],
                numbers,
                bad,
                None if dump is None or not self.dumps else _dump(dump),
            )
        )

    def _status(self, name: Any) -> tuple[Status, bool]:
        """The status called ``name``, and whether it is unknown (a newer backupwatch's: then
        the row is failing, as when a report is read)."""
        found = self._statuses.get(name)
        if found is None:
            if not isinstance(name, str):
                raise DaySummaryError(f"{name!r} is not a status")
            status = _STATUS.validate_python(name, context=READING)
            found = self._statuses[name] = (status, not status.known)
        return found


def _strings(values: Any) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise DaySummaryError(f"{values!r} is not a list of strings")
    return values


def _owners(value: Any, rows: Sequence[DayRow]) -> dict[RowKey, tuple[str, ...]]:
    """The ``owners`` member: ``[[row index, owner, ...], ...]``, by row key."""
    if not isinstance(value, list):
        raise DaySummaryError(f"owners {value!r}")
    owners: dict[RowKey, tuple[str, ...]] = {}
    for entry in value:
        if not isinstance(entry, list) or len(entry) < 2 or type(entry[0]) is not int:
            raise DaySummaryError(f"owners entry {entry!r}")
        if entry[0] < 0:
            raise DaySummaryError(f"owners entry {entry!r}")
        owners[rows[entry[0]].key] = tuple(_strings(entry[1:]))
    return owners


def _dump(value: Any) -> ArchivedDump:
    key, size, modified_at = value
    if not isinstance(key, str) or not isinstance(size, int) or isinstance(size, bool):
        raise DaySummaryError(f"dump {value!r}")
    return ArchivedDump(key, size, None if modified_at is None else _parse_time(modified_at))


# --- a history of summaries where reports are expected ------------------------------------------


class DailyHistory(Sequence[Report]):
    """The earlier days a run read, as summaries (``days``), where reports are expected.

    ``run_daily`` hands its history to the delivery channels as reports; the HTML email's grid
    reads ``days`` (``days_of``) and never builds a report. Any other reader gets each day as
    ``DaySummary.to_report`` on access: rows without their checks' details.
    """

    def __init__(self, days: Iterable[DaySummary]) -> None:
        self.days: tuple[DaySummary, ...] = tuple(days)

    @overload
    def __getitem__(self, index: int) -> Report: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Report]: ...

    def __getitem__(self, index: int | slice) -> Report | Sequence[Report]:
        if isinstance(index, slice):
            return DailyHistory(self.days[index])
        return self.days[index].to_report()

    def __len__(self) -> int:
        return len(self.days)

    def __iter__(self) -> Iterator[Report]:
        return (day.to_report() for day in self.days)

    def __repr__(self) -> str:
        return f"DailyHistory({len(self.days)} days)"


def days_of(history: Sequence[AnyDay]) -> Sequence[AnyDay]:
    """The summaries behind a ``DailyHistory``; any other history as it is."""
    return history.days if isinstance(history, DailyHistory) else history


@contextlib.contextmanager
def collection_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the block, as it was after it.

    Reading a month of summaries makes millions of small objects (a ``DayRow`` and an
    ``ArchivedDump`` per tenant and day, named tuples, which the collector always watches) and
    no reference cycle; each full collection would walk them all again, and several run while
    they are made: at 10,000 tenants that was 40 % of reading the days and drawing the page. No
    cycle is made in the block, so nothing is collected later than it would have been.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
