"""backupwatch's timestamp parser gives exactly what botocore's gives; only its clients use it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.parsers import DEFAULT_TIMESTAMP_PARSER
from botocore.utils import parse_timestamp as botocore_parse_timestamp
from hypothesis import example, given, settings
from hypothesis import strategies as st

from backupwatch.aws import timestamps
from backupwatch.aws.clients import rds_client, s3_client
from backupwatch.aws.timestamps import FAST_TIMESTAMPS, parse_timestamp, use_fast_timestamps

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
INSTANTS = st.datetimes(  # hypothesis takes naive bounds, and gives times in ``timezones``
    min_value=datetime(1970, 1, 2),  # noqa: DTZ001
    max_value=datetime(2199, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)


def outcome(parse: Any, value: Any) -> tuple[str, ...]:
    """What a parser made of ``value``: the datetime's repr (fields and zone), its offset and
    zone type, or the error's type and message."""
    try:
        parsed = parse(value)
    except Exception as error:  # both must fail alike
        return ("error", type(error).__name__, str(error))
    return (repr(parsed), str(parsed.utcoffset()), type(parsed.tzinfo).__name__)


def same_as_botocore(value: Any) -> None:
    assert outcome(parse_timestamp, value) == outcome(botocore_parse_timestamp, value), value


def iso(when: datetime, digits: int, zone: str) -> str:
    fraction = f".{when.microsecond:06d}{'0' * max(0, digits - 6)}"[: digits + 1] if digits else ""
    return f"{when:%Y-%m-%dT%H:%M:%S}{fraction}{zone}"


def http_date(when: datetime, *, weekday: int | None = None, one_digit_day: bool = False) -> str:
    day = str(when.day) if one_digit_day else f"{when.day:02d}"
    name = WEEKDAYS[when.weekday() if weekday is None else weekday]
    return f"{name}, {day} {MONTHS[when.month - 1]} {when:%Y %H:%M:%S} GMT"


@settings(max_examples=300, deadline=None)
@given(
    when=INSTANTS,
    digits=st.integers(min_value=0, max_value=9),
    zone=st.sampled_from(["Z", "+00:00", "-00:00", "+01:00", "-05:30", "z", "", " UTC"]),
)
@example(when=datetime(2026, 11, 27, 3, 12, 44, 123000, tzinfo=UTC), digits=3, zone="Z")
@example(when=datetime(2026, 11, 27, 3, 12, 44, 946000, tzinfo=UTC), digits=6, zone="Z")
def test_iso_8601_as_botocore(when: datetime, digits: int, zone: str) -> None:
    """RDS, S3 listings, STS: ISO 8601 with 0 to 9 fractional digits, ``Z`` or an offset."""
    same_as_botocore(iso(when, digits, zone))


@settings(max_examples=200, deadline=None)
@given(
    when=INSTANTS.map(lambda when: when.replace(microsecond=0)),
    weekday=st.one_of(st.none(), st.integers(min_value=0, max_value=6)),
    one_digit_day=st.booleans(),
)
def test_http_dates_as_botocore(when: datetime, weekday: int | None, one_digit_day: bool) -> None:
    """S3's ``Last-Modified`` header: RFC 822 in GMT, a wrong weekday or a short day included."""
    same_as_botocore(http_date(when, weekday=weekday, one_digit_day=one_digit_day))


@settings(max_examples=100, deadline=None)
@given(
    seconds=st.one_of(
        st.integers(min_value=0, max_value=4_000_000_000),
        st.floats(min_value=0, max_value=4e9, allow_nan=False),
    ),
    as_text=st.booleans(),
)
def test_epoch_seconds_as_botocore(seconds: float, as_text: bool) -> None:
    """JSON protocols (AWS Backup) send epoch seconds, as numbers or text: botocore's alone."""
    same_as_botocore(str(seconds) if as_text else seconds)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789-:TZ.+ ,GMTMonDecWedz٣", max_size=32))
def test_anything_else_as_botocore(text: str) -> None:
    """Near misses and garbage (non-ASCII digits too) parse or fail exactly as botocore's."""
    same_as_botocore(text)


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-27T24:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-11-27T23:59:60Z",
        "Sun, 30 Feb 2026 00:00:00 GMT",
        "2026-11-27T03:12:44.1234567Z",
        "2026-11-27T03:12:44",
        "2026-11-27",
        "",
        "1764213164",
        "not a time",
    ],
)
def test_edge_cases_as_botocore(value: str) -> None:
    """Out-of-range fields, leap seconds, naive and date-only strings, epochs, text."""
    same_as_botocore(value)


@pytest.fixture
def local_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Switch the process's local zone (``TZ`` + ``time.tzset``), restored afterwards."""

    def switch(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield switch
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"])
def test_the_zone_follows_the_local_zone_as_dateutil_does(local_zone: Any, zone: str) -> None:
    """dateutil gives ``Z`` the local zone when it is called UTC (Lambda), else ``tzutc()``."""
    local_zone(zone)
    for value in (
        "2026-11-27T03:12:44Z",
        "2026-11-27T03:12:44.5+00:00",
        http_date(datetime.now(UTC)),
    ):
        same_as_botocore(value)


def test_the_fast_path_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS's own formats never reach dateutil (else there is nothing to gain)."""
    calls: list[Any] = []

    def recording(value: Any) -> datetime:
        calls.append(value)
        parsed: datetime = DEFAULT_TIMESTAMP_PARSER(value)
        return parsed

    monkeypatch.setattr(timestamps, "DEFAULT_TIMESTAMP_PARSER", recording)
    parse_timestamp("2026-11-27T03:12:44Z")
    parse_timestamp("2026-11-27T03:12:44.123Z")
    parse_timestamp("Fri, 27 Nov 2026 03:12:44 GMT")
    parse_timestamp(1764213164)
    assert calls == [1764213164]


def parser_factory(client: Any) -> Any:
    """The response parser factory botocore keeps on a client's endpoint (private)."""
    return client._endpoint._response_parser_factory


def test_backupwatch_clients_use_it_and_the_callers_clients_do_not(fake_env: None) -> None:
    """Per client: the caller's session, and the clients it builds itself, keep botocore's."""
    session = boto3.Session(region_name="us-east-1")
    ours = [rds_client(session, "us-east-1"), s3_client(session, "us-east-1")]
    theirs = session.client("rds")
    for client in ours:
        assert parser_factory(client) is FAST_TIMESTAMPS
        parser: Any = parser_factory(client).create_parser("query")
        assert parser._timestamp_parser is parse_timestamp
    factory = parser_factory(theirs)
    assert factory is not FAST_TIMESTAMPS
    assert factory.create_parser("query")._timestamp_parser is DEFAULT_TIMESTAMP_PARSER
    assert session._session.get_component("response_parser_factory") is factory


def test_a_client_without_the_private_attribute_is_left_alone() -> None:
    """If botocore moves the endpoint's factory, the client keeps botocore's parser."""

    class Elsewhere:
        pass

    assert use_fast_timestamps(Elsewhere()) is False


def test_parsed_times_compare_with_aware_datetimes() -> None:
    """What the checks do with them: compare with an aware ``now`` and subtract."""
    parsed = parse_timestamp("2026-11-27T03:12:44Z")
    now = datetime(2026, 11, 27, 4, 12, 44, tzinfo=UTC)
    assert now - parsed == timedelta(hours=1)
    assert parsed < now
