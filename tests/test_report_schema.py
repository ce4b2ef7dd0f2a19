"""The report's JSON Schema file: shipped, in docs, and always what the models generate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from backupwatch.core import schema
from backupwatch.core.models import SCHEMA_VERSION, Check, Report, Status

ROOT = Path(__file__).parent.parent
COPIES = (ROOT / "backupwatch" / "core" / schema.SCHEMA_FILE, ROOT / "docs" / schema.SCHEMA_FILE)
FIXTURES = ROOT / "tests" / "fixtures" / "reports"
REGENERATE = (
    "the report models changed: regenerate the schema with\n"
    "    .venv/bin/python -m backupwatch.core.schema "
    "backupwatch/core/report.schema.json docs/report.schema.json\n"
    "and say in CHANGELOG.md what changed for readers (bump SCHEMA_VERSION if a reader "
    "of the previous version would misread it)"
)


def loaded() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(schema.generate())
    return document


@pytest.mark.parametrize("path", COPIES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_schema_files_are_what_the_models_generate(path: Path) -> None:
    """The package's file and the docs' copy are the models' schema of right now."""
    assert path.read_text(encoding="utf-8") == schema.generate(), f"{path}: {REGENERATE}"


def test_the_installed_schema_is_read_with_importlib_resources() -> None:
    """What ships in the package is found the way an installed backupwatch finds it."""
    assert schema.shipped() == schema.generate()


def test_the_schema_describes_what_this_version_writes() -> None:
    """Serialisation mode: ``schema_version`` 2 first, the computed ``summary`` in, every
    property required but ``CheckResult.deferred_to`` and ``TenantReport.owners`` (written
    only when set), nothing else allowed; a status is a member, or status-shaped (one read
    from a newer report, written back as read)."""
    document = loaded()
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["properties"]["schema_version"]["const"] == SCHEMA_VERSION == 2
    assert next(iter(document["properties"])) == "schema_version"
    assert document["properties"]["summary"]["readOnly"] is True
    assert set(document["required"]) == set(document["properties"])
    assert document["additionalProperties"] is False
    omitted = {name: sorted(fields) for name, fields in schema.OMITTED_WHEN_UNSET.items()}
    assert omitted == {"CheckResult": ["deferred_to"], "TenantReport": ["owners"]}
    for name in ("TenantReport", "CheckResult", "RegionError", "Summary"):
        definition = document["$defs"][name]
        assert definition["additionalProperties"] is False, name
        optional = schema.OMITTED_WHEN_UNSET.get(name, frozenset())
        assert set(definition["required"]) == set(definition["properties"]) - optional, name
        assert optional <= set(definition["properties"]), name
    assert document["$defs"]["CheckResult"]["properties"]["deferred_to"]["anyOf"] == [
        {"$ref": "#/$defs/Check"},
        {"type": "null"},
    ]
    assert document["$defs"]["Check"]["enum"] == [check.value for check in Check]
    assert "unknown statuses" in document["$comment"]
    known, newer = document["$defs"]["Status"]["anyOf"]
    assert known["enum"] == [status.value for status in Status]
    assert newer == {"type": "string", "pattern": "^[A-Z][A-Z0-9_]{0,31}$"}


def test_main_writes_the_schema_to_each_path(tmp_path: Path) -> None:
    """``python -m backupwatch.core.schema A B`` writes both files, identical."""
    paths = [tmp_path / "a.json", tmp_path / "b.json"]
    assert schema.main([str(p) for p in paths]) == 0
    assert [p.read_text(encoding="utf-8") for p in paths] == [schema.generate()] * 2


def test_main_without_paths_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    """Without arguments the schema goes to stdout, for a pipe or a diff."""
    assert schema.main([]) == 0
    assert capsys.readouterr().out == schema.generate()


@pytest.mark.parametrize(
    "name", ["v1.json", "v2.json", "v3-extra-fields.json", "v3-new-status.json"]
)
def test_what_this_version_writes_is_valid_against_the_schema(name: str) -> None:
    """Every fixture, read and written again by this version, validates: the schema is a
    check on our own writer."""
    jsonschema = pytest.importorskip("jsonschema")
    report = Report.from_json((FIXTURES / name).read_bytes())
    jsonschema.validate(json.loads(report.to_json()), loaded())


def test_a_newer_report_is_not_valid_against_the_schema_but_is_read() -> None:
    """The schema is closed on purpose: it says what version 2 writes. A reader must be more
    lenient than it (docs/library.md), as ``Report.from_json`` is."""
    jsonschema = pytest.importorskip("jsonschema")
    document = json.loads((FIXTURES / "v3-extra-fields.json").read_text(encoding="utf-8"))
    document["schema_version"] = 2  # only the extra fields are wrong
    with pytest.raises(jsonschema.ValidationError, match="Additional properties"):
        jsonschema.validate(document, loaded())
    Report.from_json(json.dumps(document))


def test_an_unknown_status_is_valid_a_malformed_one_is_not() -> None:
    """The schema's statuses are the reader's: status-shaped names pass, markup does not."""
    jsonschema = pytest.importorskip("jsonschema")
    document = json.loads(Report.from_json((FIXTURES / "v2.json").read_bytes()).to_json())
    document["tenants"][0]["status"] = "CORRUPT"
    jsonschema.validate(document, loaded())
    document["tenants"][0]["status"] = "<b>corrupt</b>"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, loaded())


def test_a_check_deferred_to_another_is_valid_against_the_schema() -> None:
    """A row where ``backup`` satisfied ``rds`` (rule "either") validates with the field
    written; a ``deferred_to`` that is no check does not."""
    jsonschema = pytest.importorskip("jsonschema")
    document = json.loads(Report.from_json((FIXTURES / "v2.json").read_bytes()).to_json())
    rds = document["tenants"][0]["checks"]["rds"]
    rds.update(status="SKIPPED", deferred_to="backup")
    jsonschema.validate(document, loaded())
    rds["deferred_to"] = "tape"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, loaded())
