"""What ``sam build`` packs into each function: the library and the one handler it runs.

template.yaml builds every function with ``BuildMethod: makefile``: SAM runs
``make build-<LogicalId>`` with ``ARTIFACTS_DIR`` set. Here the same targets run into a
temporary folder, without the dependencies (``LAMBDA_DEPS=none``: no network), and each handler
is imported from that folder alone, so a bundle that misses a module the handler needs fails
here rather than on the first scheduled run. The measured zip sizes are in docs/deploy.md.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .test_template import ROOT, load_template, resources_of_type

FUNCTIONS = resources_of_type(load_template(), "AWS::Serverless::Function")


def _handler_module(function: dict[str, Any]) -> str:
    handler: str = function["Properties"]["Handler"]
    module, _, name = handler.rpartition(".")
    assert name == "lambda_handler"
    assert module.startswith("handlers.")
    return module.removeprefix("handlers.")


def bundle(logical_id: str, into: Path) -> set[str]:
    """Run the function's build target; return every file it wrote, relative to ``into``."""
    assert shutil.which("make"), "make is needed to build the Lambda bundles"
    subprocess.run(
        [
            "make",
            "--no-print-directory",
            f"build-{logical_id}",
            f"ARTIFACTS_DIR={into}",
            f"PYTHON={sys.executable}",
            "LAMBDA_DEPS=none",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return {str(p.relative_to(into)) for p in into.rglob("*") if p.is_file()}


def test_every_function_is_built_by_its_make_target() -> None:
    assert set(FUNCTIONS) == {"DigestFunction", "PlanFunction", "ScanFunction", "PublishFunction"}
    makefile = (ROOT / "Makefile").read_text()
    for logical_id, function in FUNCTIONS.items():
        assert function["Metadata"] == {"BuildMethod": "makefile"}, logical_id
        assert f"build-{logical_id}:\n" in makefile
        assert (
            f"HANDLER={_handler_module(function)}\n"
            in makefile.split(f"build-{logical_id}:\n")[1].split("\n\n")[0] + "\n"
        )


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_a_bundle_holds_the_library_and_its_own_handler_only(
    logical_id: str, tmp_path: Path
) -> None:
    """No tests, docs, benchmarks, CLI, other handlers or caches; the package data is there."""
    module = _handler_module(FUNCTIONS[logical_id])
    files = bundle(logical_id, tmp_path)
    tops = {name.split("/")[0] for name in files}
    assert tops == {"backupwatch", "handlers"}
    assert {n for n in files if n.startswith("handlers/")} == {
        "handlers/__init__.py",
        f"handlers/{module}.py",
    }
    library = {n for n in files if n.startswith("backupwatch/")}
    expected = {
        str(p.relative_to(ROOT))
        for p in (ROOT / "backupwatch").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    assert library == {n for n in expected if not n.startswith("backupwatch/cli/")}
    assert "backupwatch/core/assets/status_page.js" in library


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_each_handler_imports_from_its_bundle_alone(logical_id: str, tmp_path: Path) -> None:
    """The handler and everything it imports come from the bundle (dependencies aside): a
    module left out of the bundle is an ImportError here, not on Lambda."""
    module = _handler_module(FUNCTIONS[logical_id])
    bundle(logical_id, tmp_path)
    code = (
        f"import sys; sys.path.insert(0, {str(tmp_path)!r}); "
        f"import handlers.{module} as h, backupwatch; "
        "assert callable(h.lambda_handler); "
        f"bad = [m.__file__ for n, m in sys.modules.items() "
        f"if n.split('.')[0] in ('backupwatch', 'handlers') and getattr(m, '__file__', None) "
        f"and not m.__file__.startswith({str(tmp_path)!r})]; "
        "assert not bad, bad; "
        "assert 'moto' not in sys.modules and 'backupwatch.cli' not in sys.modules"
    )
    subprocess.run([sys.executable, "-I", "-c", code], check=True, cwd=tmp_path)
