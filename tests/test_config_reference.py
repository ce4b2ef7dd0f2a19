"""docs/configuration.md's table of variables is checked against the code, so it cannot drift.

The table is parsed (``## Variables``: variable, alias, meaning, default, accepted values,
example) and compared with ``backupwatch.core.config``: every variable the code knows
(``ENVIRONMENT``, plus ``OTHER_VARIABLES``, read by the Lambda functions) is documented, and
nothing else; each alias is the code's; each default is what an unset variable gives; each bound
(pydantic's ``gt``/``ge``/``lt``/``le`` and lengths, the limits inside validators, the rules
between settings) is the code's, probed through ``load_settings``; each example is accepted. A
new setting without a row fails here, named.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import annotated_types
import pytest

from backupwatch import ConfigurationError, Settings, load_settings
from backupwatch.core.config import ENVIRONMENT, EVIDENCE_CHECKS, KNOWN_VARIABLES, OTHER_VARIABLES
from backupwatch.pipeline import telemetry

DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
BASE = {"BACKUPWATCH_S3_BUCKET": "my-backups-bucket", "BACKUPWATCH_REGIONS": "us-east-1"}
"""The least a valid environment needs."""
FIELD = {names[0]: field for field, names in ENVIRONMENT.items()}
"""Preferred variable -> Settings field."""
CODE = re.compile(r"`([^`]*)`")
NUMBER = r"(\d[\d,]*(?:\.\d+)?)"


@dataclass(frozen=True)
class Row:
    variable: str
    alias: str
    meaning: str
    default: str
    accepted: str
    example: str


def cells(line: str) -> list[str]:
    """The cells of a Markdown table row; a ``|`` inside backticks is not a separator."""
    out, cell, in_code = [], "", False
    for char in line.strip().strip("|"):
        if char == "`":
            in_code = not in_code
        if char == "|" and not in_code:
            out.append(cell.strip())
            cell = ""
        else:
            cell += char
    return [*out, cell.strip()]


@cache
def reference() -> dict[str, Row]:
    """The rows of the first table under ``## Variables``, by variable."""
    lines = DOC.read_text().split("\n## Variables\n", 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| Variable |"))
    rows: dict[str, Row] = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        variable, alias, meaning, default, accepted, example = cells(line)
        row = Row(variable.strip("`"), alias, meaning, default, accepted, example)
        assert row.variable not in rows, f"{row.variable} is documented twice"
        rows[row.variable] = row
    return rows


def documented() -> set[str]:
    return {v for v in reference() if v.startswith("BACKUPWATCH_")}


def number(text: str) -> float:
    return float(text.replace(",", ""))


def code_spans(text: str) -> list[str]:
    return CODE.findall(text)


def settings_with(**variables: str) -> Settings:
    return load_settings({**BASE, **variables})


def refused(**variables: str) -> bool:
    try:
        settings_with(**variables)
    except ConfigurationError:
        return True
    return False


# --- what the code has ----------------------------------------------------------------------


def test_every_variable_is_documented() -> None:
    """Each variable the code reads has a row; a new setting without one is named here."""
    missing = sorted(KNOWN_VARIABLES - documented())
    assert not missing, f"not in docs/configuration.md's table of variables: {', '.join(missing)}"


def test_no_documented_variable_is_unknown() -> None:
    """No row for a variable that does not exist (it would be refused as unknown)."""
    unknown = sorted(documented() - KNOWN_VARIABLES)
    assert not unknown, f"documented, but backupwatch does not read them: {', '.join(unknown)}"


def test_every_setting_has_a_variable() -> None:
    """Every ``Settings`` field is read from a variable (the seed's instances from their own)."""
    fields = set(Settings.model_fields) - {"seed_instances"}
    assert sorted(fields - set(ENVIRONMENT)) == [], "Settings fields without a variable"
    assert sorted(set(ENVIRONMENT) - fields) == [], "variables without a Settings field"


@pytest.mark.parametrize("field", sorted(ENVIRONMENT))
def test_aliases_as_documented(field: str) -> None:
    """The alias column is the code's other names (a dash: none)."""
    preferred, *aliases = ENVIRONMENT[field]
    assert code_spans(reference()[preferred].alias) == aliases


# --- defaults -----------------------------------------------------------------------------

EFFECTIVE = {"tag_window_limit_hours": "tag_window_limit"}
"""Fields whose documented default is that of a property (None in the field means "derived")."""


@pytest.mark.parametrize("field", sorted(ENVIRONMENT))
def test_default_as_documented(field: str) -> None:
    """Setting a variable to its documented default changes nothing; ``none`` is no value;
    a default in words only (the run's region) is a field without a default."""
    variable = ENVIRONMENT[field][0]
    text = reference()[variable].default
    info = Settings.model_fields[field]
    if text.lower().startswith("none"):
        assert info.default in (None, (), {}), f"{variable}: documented none, is {info.default!r}"
        return
    spans = code_spans(text)
    if not spans:
        assert info.is_required(), f"{variable}: the docs give no default; the code has one"
        return
    assert variable not in BASE, f"{variable}: the test's base environment sets it"
    attribute = EFFECTIVE.get(field, field)
    given = getattr(settings_with(**{variable: spans[0]}), attribute)
    assert given == getattr(settings_with(), attribute), f"{variable}={spans[0]} is not the default"


def test_the_tag_window_limit_follows_a_longer_default_window() -> None:
    """``744 (31 days), or BACKUPWATCH_MAX_AGE_HOURS when that is longer``."""
    assert settings_with().tag_window_limit == 744
    assert settings_with(BACKUPWATCH_MAX_AGE_HOURS="1000").tag_window_limit == 1000


OTHER_DEFAULTS: Mapping[str, str] = {"BACKUPWATCH_METRICS_NAMESPACE": telemetry.DEFAULT_NAMESPACE}


def test_every_other_variable_has_its_default_here() -> None:
    """A variable read outside ``load_settings`` needs its default known to this test."""
    assert set(OTHER_VARIABLES) == set(OTHER_DEFAULTS)


@pytest.mark.parametrize("variable", sorted(OTHER_DEFAULTS))
def test_other_defaults_as_documented(variable: str) -> None:
    assert code_spans(reference()[variable].default)[:1] == [OTHER_DEFAULTS[variable]]


# --- bounds -------------------------------------------------------------------------------

NUMERIC_BOUNDS = {
    "gt": re.compile(rf"greater than {NUMBER}"),
    "lt": re.compile(rf"less than {NUMBER}"),
    "le": re.compile(rf"at most {NUMBER}"),
    "ge": re.compile(rf"{NUMBER} or more"),
}
RANGE = re.compile(rf"from {NUMBER} to {NUMBER}")
LENGTHS = re.compile(r"(\d+)[–-](\d+) (?:characters|of the characters|letters)")
LONGEST = re.compile(r"at most (\d+)(?! \()")  # "at most 512", not "at most 87600 (10 years)"


def field_bounds(field: str) -> dict[str, float]:
    """pydantic's metadata of ``field``: ``gt``, ``ge``, ``lt``, ``le``, ``min``, ``max``."""
    bounds: dict[str, float] = {}
    for item in Settings.model_fields[field].metadata:
        for name in ("gt", "ge", "lt", "le"):
            if isinstance(item, getattr(annotated_types, name.capitalize())):
                bounds[name] = float(getattr(item, name))
        if isinstance(item, annotated_types.MinLen):
            bounds["min"] = item.min_length
        if isinstance(item, annotated_types.MaxLen):
            bounds["max"] = item.max_length
    return bounds


def documented_numeric_bounds(text: str) -> dict[str, float]:
    bounds = {name: number(m[1]) for name, rx in NUMERIC_BOUNDS.items() if (m := rx.search(text))}
    if found := RANGE.search(text):
        bounds |= {"ge": number(found[1]), "le": number(found[2])}
    return bounds


def is_number(field: str) -> bool:
    if field not in Settings.model_fields:
        return False
    annotation = Settings.model_fields[field].annotation
    return annotation in (int, float, int | None, float | None)


@pytest.mark.parametrize("field", sorted(f for f in ENVIRONMENT if is_number(f)))
def test_numeric_bounds_as_documented(field: str) -> None:
    """ "greater than 0, at most 87600", "from 1 to 128", "0 or more": the field's ge/gt/le/lt."""
    variable = ENVIRONMENT[field][0]
    assert documented_numeric_bounds(reference()[variable].accepted) == field_bounds(field), (
        variable
    )


def documented_lengths(text: str) -> tuple[int, int] | None:
    if found := LENGTHS.search(text):
        return int(found[1]), int(found[2])
    if found := LONGEST.search(text):
        return 0, int(found[1])
    return None


def topic_named(length: int) -> str:
    return f"arn:aws:sns:us-east-1:123456789012:{'t' * length}"


def namespace_accepted(value: str) -> bool:
    try:
        telemetry.metrics_record(
            {"tenants": 0, "failing": 0, "by_status": {}, "regions_failed": 0, "ok": True},
            duration_seconds=0,
            aws_calls=0,
            throttles=0,
            at=datetime(2026, 11, 27, tzinfo=UTC),
            function_name="f",
            namespace=value,
        )
    except ValueError:
        return False
    return True


def accepted_by_settings(variable: str) -> Callable[[str], bool]:
    return lambda value: not refused(**{variable: value})


# variable -> (a value of the given length, whether a value is accepted)
LENGTH_PROBES: dict[str, tuple[Callable[[int], str], Callable[[str], bool]]] = {
    "BACKUPWATCH_SNS_TOPIC_ARN": (topic_named, accepted_by_settings("BACKUPWATCH_SNS_TOPIC_ARN")),
    "BACKUPWATCH_S3_BUCKET": (lambda n: "b" * n, accepted_by_settings("BACKUPWATCH_S3_BUCKET")),
    "BACKUPWATCH_TENANT_TAG": (lambda n: "t" * n, accepted_by_settings("BACKUPWATCH_TENANT_TAG")),
    "BACKUPWATCH_EXTERNAL_ID": (
        lambda n: "e" * n,
        accepted_by_settings("BACKUPWATCH_EXTERNAL_ID"),
    ),
    "BACKUPWATCH_REPORT_PREFIX": (
        lambda n: "p" * n,
        accepted_by_settings("BACKUPWATCH_REPORT_PREFIX"),
    ),
    "BACKUPWATCH_METRICS_NAMESPACE": (lambda n: "n" * n, namespace_accepted),
}


def test_every_documented_length_is_probed() -> None:
    """A variable whose docs give a length has a probe here, and only those."""
    with_lengths = {
        v
        for v, row in reference().items()
        if v.startswith("BACKUPWATCH_")
        and not is_number(FIELD.get(v, ""))
        and documented_lengths(row.accepted)
    }
    assert with_lengths == set(LENGTH_PROBES)


@pytest.mark.parametrize("variable", sorted(LENGTH_PROBES))
def test_lengths_as_documented(variable: str) -> None:
    """The shortest and longest documented values are accepted, one more or less is not."""
    lengths = documented_lengths(reference()[variable].accepted)
    assert lengths is not None
    shortest, longest = lengths
    make, accepted = LENGTH_PROBES[variable]
    assert accepted(make(longest)), f"{variable}: {longest} characters refused"
    assert not accepted(make(longest + 1)), f"{variable}: {longest + 1} characters accepted"
    if shortest > 0:
        assert accepted(make(shortest)), f"{variable}: {shortest} characters refused"
    if shortest > 1:  # an empty variable is unset, so 0 characters is no probe
        assert not accepted(make(shortest - 1)), f"{variable}: {shortest - 1} characters accepted"
    field = FIELD.get(variable)
    if field is not None and "max" in field_bounds(field):
        assert (field_bounds(field)["min"], field_bounds(field)["max"]) == lengths


CHARACTERS = re.compile(r"of the characters `([^`]*)`")
OUTSIDE = (" ", "é", "ß", "٣", "!", "#", "*", "\t")
"""Characters to try that a documented set might not hold (a non-ASCII letter and digit too)."""


def charset(spec: str) -> set[str]:
    """``A-Z a-z 0-9 + = , . @ : / - _`` -> the characters."""
    allowed: set[str] = set()
    for token in spec.split():
        if len(token) == 3 and token[1] == "-":
            allowed |= {chr(c) for c in range(ord(token[0]), ord(token[2]) + 1)}
        else:
            allowed |= set(token)
    return allowed


@pytest.mark.parametrize(
    "variable",
    sorted(v for v, row in reference().items() if CHARACTERS.search(row.accepted)),
)
def test_character_sets_as_documented(variable: str) -> None:
    """Every documented character is accepted, and none outside the set (ASCII only)."""
    allowed = charset(CHARACTERS.search(reference()[variable].accepted)[1])  # type: ignore[index]
    _, accepted = LENGTH_PROBES[variable]
    everything = "".join(sorted(allowed))
    assert accepted(everything), f"{variable}={everything!r} refused"
    for char in OUTSIDE:
        if char not in allowed:
            assert not accepted(f"ab{char}cd"), f"{variable}: {char!r} accepted"


NEEDS = re.compile(r"needs `(BACKUPWATCH_\w+)`")
AT_LEAST = re.compile(r"at least `(BACKUPWATCH_\w+)`")
AT_MOST = re.compile(r"at most `(BACKUPWATCH_\w+)`")
NOT_WITH = re.compile(r"Not together with `(BACKUPWATCH_\w+)`")
CHECKS_NEEDED = re.compile(r"[Nn]eeds ((?:`\w+`(?: and | or )?)+) in `BACKUPWATCH_CHECKS`")
"""``needs `rds` and `backup` in `BACKUPWATCH_CHECKS```: checks that must all (``and``) or
one of which (``or``) must be on."""


def example(variable: str) -> str:
    return code_spans(reference()[variable].example)[0]


def dependencies(variable: str, seen: frozenset[str] = frozenset()) -> dict[str, str]:
    """The other variables that the accepted values say this one needs, at their examples,
    and what those need in turn; the checks it needs, when it needs some."""
    text = reference()[variable].accepted
    needed = NEEDS.findall(text) + AT_LEAST.findall(text) + AT_MOST.findall(text)
    found: dict[str, str] = {}
    for other in needed:
        if other not in seen and other != variable:
            found |= dependencies(other, seen | {variable, *needed})
    found |= {other: example(other) for other in needed if other not in seen}
    for names, kind in checks_needed(variable):
        found["BACKUPWATCH_CHECKS"] = ",".join(names if kind == "and" else names[:1])
    return found


def checks_needed(variable: str) -> list[tuple[tuple[str, ...], str]]:
    """The checks a variable's accepted values say it needs: (their names, ``and``/``or``)."""
    return [
        (tuple(code_spans(group)), "and" if " and " in group else "or")
        for group in CHECKS_NEEDED.findall(reference()[variable].accepted)
    ]


@pytest.mark.parametrize("variable", sorted(documented() - set(OTHER_VARIABLES)))
def test_the_example_is_accepted(variable: str) -> None:
    """Each row's example is a valid value (with the variables the row says it needs)."""
    settings_with(**dependencies(variable), **{variable: example(variable)})


def test_the_other_examples_are_accepted() -> None:
    assert namespace_accepted(example("BACKUPWATCH_METRICS_NAMESPACE"))


def rules(pattern: re.Pattern[str]) -> list[tuple[str, str]]:
    return [
        (variable, other)
        for variable, row in reference().items()
        for other in pattern.findall(row.accepted)
    ]


def test_the_rules_between_settings_are_found() -> None:
    """The parser sees the documented rules (so the probes below are not vacuous)."""
    assert rules(NEEDS) == [
        ("BACKUPWATCH_OBJECT_LOCK_COMPLIANCE", "BACKUPWATCH_OBJECT_LOCK_MIN_DAYS"),
        ("BACKUPWATCH_COPY_ACCOUNTS", "BACKUPWATCH_COPY_ROLE_NAME"),
        ("BACKUPWATCH_REPORT_URL_HOURS", "BACKUPWATCH_REPORT_BUCKET"),
        ("BACKUPWATCH_SES_SENDER", "BACKUPWATCH_SES_RECIPIENTS"),
        ("BACKUPWATCH_SES_RECIPIENTS", "BACKUPWATCH_SES_SENDER"),
        ("BACKUPWATCH_SES_REGION", "BACKUPWATCH_SES_SENDER"),
        ("BACKUPWATCH_OWNERS", "BACKUPWATCH_SES_SENDER"),
        ("BACKUPWATCH_OWNER_EMAIL_DOMAINS", "BACKUPWATCH_SES_SENDER"),
        ("BACKUPWATCH_OWNER_ALL_CLEAR", "BACKUPWATCH_OWNER_TOPIC_ARN"),
    ]
    assert rules(AT_LEAST) == [("BACKUPWATCH_TAG_WINDOW_LIMIT_HOURS", "BACKUPWATCH_MAX_AGE_HOURS")]
    assert rules(AT_MOST) == [
        ("BACKUPWATCH_TAG_MIN_OBJECT_BYTES_FLOOR", "BACKUPWATCH_MIN_OBJECT_BYTES")
    ]
    assert sorted(rules(NOT_WITH)) == [
        ("BACKUPWATCH_ORGANIZATION_ROLE_NAME", "BACKUPWATCH_TARGETS"),
        ("BACKUPWATCH_TARGETS", "BACKUPWATCH_ORGANIZATION_ROLE_NAME"),
    ]
    assert check_rules() == [
        ("BACKUPWATCH_RDS_BACKUP_RULE", ("rds", "backup"), "and"),
        ("BACKUPWATCH_MIN_RETENTION_DAYS", ("rds", "backup"), "or"),
        ("BACKUPWATCH_DAILY_BACKUP_DAYS", ("rds", "backup"), "or"),
    ]


def check_rules() -> list[tuple[str, tuple[str, ...], str]]:
    return [
        (variable, names, kind)
        for variable in reference()
        for names, kind in checks_needed(variable)
    ]


EVERY_CHECKS_LIST = [
    ",".join(c.value for c in chosen)
    for size in range(1, len(EVIDENCE_CHECKS) + 1)
    for chosen in itertools.combinations(EVIDENCE_CHECKS, size)
]
"""Every non-empty combination of the checks ``BACKUPWATCH_CHECKS`` may list."""


@pytest.mark.parametrize(("variable", "names", "kind"), check_rules())
def test_needed_checks_as_documented(variable: str, names: tuple[str, ...], kind: str) -> None:
    """The example is refused exactly when ``BACKUPWATCH_CHECKS`` lacks what the row says it
    needs: all of the checks (``and``), or every one of them (``or``)."""
    for checks in EVERY_CHECKS_LIST:
        listed = set(checks.split(","))
        met = all(n in listed for n in names) if kind == "and" else any(n in listed for n in names)
        given = {variable: example(variable), "BACKUPWATCH_CHECKS": checks}
        assert refused(**given) is not met, given


NEEDS_PROBES = {
    "BACKUPWATCH_COPY_ACCOUNTS": "222233334444",
    "BACKUPWATCH_SES_SENDER": "backupwatch@example.com",
    "BACKUPWATCH_SES_RECIPIENTS": "dba@example.com",
    "BACKUPWATCH_SES_REGION": "eu-west-1",
    "BACKUPWATCH_OWNERS": "team-data=alice@example.com",
    "BACKUPWATCH_OWNER_EMAIL_DOMAINS": "example.com",
    "BACKUPWATCH_OWNER_ALL_CLEAR": "team-data",
}
"""A value that turns the variable on, where "1" would not be valid (an account id)."""


@pytest.mark.parametrize(("variable", "other"), rules(NEEDS))
def test_needs_as_documented(variable: str, other: str) -> None:
    """Refused alone, accepted with the other variable (and what that one needs in turn,
    unless it is this one): the value alone is valid."""
    value = NEEDS_PROBES.get(variable, "1")
    assert refused(**{variable: value})
    others = {k: v for k, v in dependencies(other).items() if k != variable}
    assert not refused(**others, **{variable: value, other: example(other)})


@pytest.mark.parametrize(("variable", "other"), rules(AT_LEAST))
def test_at_least_as_documented(variable: str, other: str) -> None:
    assert refused(**{other: "10", variable: "9"})
    assert not refused(**{other: "10", variable: "10"})


@pytest.mark.parametrize(("variable", "other"), rules(AT_MOST))
def test_at_most_as_documented(variable: str, other: str) -> None:
    assert refused(**{other: "10", variable: "11"})
    assert not refused(**{other: "10", variable: "10"})


@pytest.mark.parametrize(("variable", "other"), rules(NOT_WITH))
def test_not_together_as_documented(variable: str, other: str) -> None:
    assert refused(**{variable: example(variable), other: example(other)})


def test_true_and_false_words_as_documented() -> None:
    """Every boolean setting takes the documented words, in any case."""
    booleans = [f for f, info in Settings.model_fields.items() if info.annotation is bool]
    for field in booleans:
        variable = ENVIRONMENT[field][0]
        assert "(any case)" in reference()[variable].accepted, variable
        for word, value in [("TRUE", True), ("Yes", True), ("on", True), ("1", True)]:
            given = settings_with(**dependencies(variable), **{variable: word})
            assert getattr(given, field) is value, (variable, word)
        for word in ("FALSE", "No", "off", "0"):
            given = settings_with(**dependencies(variable), **{variable: word})
            assert getattr(given, field) is False, (variable, word)


def test_required_settings_as_documented() -> None:
    """The topic is not required by ``load_settings`` (``run_daily`` wants it); the bucket is,
    while the s3 check is on, unless every target names its own."""
    assert settings_with().sns_topic_arn is None
    without_bucket = {"BACKUPWATCH_REGIONS": "us-east-1"}
    with pytest.raises(ConfigurationError, match="required while the s3 check is on"):
        load_settings(without_bucket)
    load_settings({**without_bucket, "BACKUPWATCH_CHECKS": "rds"})
    targets = '[{"role_arn": "arn:aws:iam::111122223333:role/r", "s3_bucket": "their-backups"}]'
    load_settings({**without_bucket, "BACKUPWATCH_TARGETS": targets})
