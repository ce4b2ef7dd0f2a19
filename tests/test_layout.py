"""The folders say the architecture, and the imports keep to it.

``backupwatch/core`` is pure: it imports neither boto3/botocore nor the AWS edge, the pipeline
or the CLI. ``backupwatch/aws`` is the edge: it imports the core, never the pipeline or the
CLI. ``backupwatch/pipeline`` composes the two and never imports an entry point. Entry points
(``backupwatch/cli``, ``handlers/``) import the library, never another entry point. A handler
imports the public package and the pipeline (its Lambda plumbing and the state machine's
steps), never the core or the edge directly, and never another handler.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "backupwatch"


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth (TYPE_CHECKING blocks included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import; use the absolute module path"
            found.add(node.module or "")
    return found


def modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


FORBIDDEN = {
    "core": ("boto3", "botocore", "mypy_boto3", "backupwatch.aws", "backupwatch.pipeline",
             "backupwatch.cli", "handlers", "moto", "urllib3"),
    "aws": ("backupwatch.pipeline", "backupwatch.cli", "handlers", "moto"),
    "pipeline": ("backupwatch.cli", "handlers", "moto"),
    "cli": ("handlers",),
}  # fmt: skip


@pytest.mark.parametrize(
    ("layer", "path"),
    [(layer, p) for layer in FORBIDDEN for p in modules(PACKAGE / layer)],
    ids=lambda value: value if isinstance(value, str) else str(value.relative_to(ROOT)),
)
def test_a_layer_imports_only_what_is_below_it(layer: str, path: Path) -> None:
    bad = {
        name
        for name in imports_of(path)
        for banned in FORBIDDEN[layer]
        if name == banned or name.startswith(banned + ".")
    }
    assert not bad, f"{path.relative_to(ROOT)} ({layer}) imports {sorted(bad)}"


def test_the_core_imports_the_public_package_never() -> None:
    """``from backupwatch import X`` inside the package would tie a module to the whole
    public surface (and its import order); modules import the module that defines X."""
    for path in modules(PACKAGE):
        if path.name in ("__init__.py", "__main__.py") and path.parent == PACKAGE:
            continue
        if path.parent.name == "cli":
            continue  # an entry point uses the public API like any caller
        assert "backupwatch" not in imports_of(path), path.relative_to(ROOT)


@pytest.mark.parametrize("path", modules(ROOT / "handlers"), ids=lambda p: p.name)
def test_a_handler_is_thin(path: Path) -> None:
    """Only the public package and ``backupwatch.pipeline``: logic lives in the library."""
    ours = {n for n in imports_of(path) if n.split(".")[0] in ("backupwatch", "handlers")}
    bad = {n for n in ours if n != "backupwatch" and not n.startswith("backupwatch.pipeline")}
    assert not bad, f"{path.name} imports {sorted(bad)}"
    tree = ast.parse(path.read_text())
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
    assert [f.name for f in functions] in ([], ["lambda_handler"]), path.name


def test_every_module_is_in_a_layer() -> None:
    """A newcomer finds a concern from the folder names: nothing but the public surface
    (``__init__``, ``__main__``) sits directly in ``backupwatch/``."""
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert loose == ["__init__.py", "__main__.py"]
    assert sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__") == [
        "aws",
        "cli",
        "core",
        "pipeline",
    ]
