"""What installing backupwatch puts on disk: ``backupwatch`` and its console script, nothing else.

The wheel is built from the files ``git`` tracks (as a fresh clone has them), then installed with
``pip install --target`` into a Lambda project that has its own ``handlers/`` package, once and
again with ``--upgrade``, which is when an earlier wheel shipping a ``handlers`` package deleted
the user's ``handlers/orders.py``. The user's files must come out byte for byte the same.
"""

from __future__ import annotations

import configparser
import hashlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import backupwatch

ROOT = Path(__file__).resolve().parent.parent
USER_FILES = {
    "handlers/__init__.py": "",
    "handlers/orders.py": "def lambda_handler(event, context):\n    return 'orders'\n",
    "app.py": "from handlers.orders import lambda_handler\n",
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built offline from a copy of the tracked files (no build/ or egg-info here)."""
    source = tmp_path_factory.mktemp("source")
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, tracked.split("\0")):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    # Files not committed yet (this change itself) are copied too, so the test is true locally.
    for path in (ROOT / "backupwatch").rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            target = source / path.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(out),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("backupwatch-*.whl")
    return built


def test_the_wheel_holds_only_backupwatch(wheel: Path) -> None:
    """Top-level names in the wheel: the package and its dist-info. No handlers, tests, docs,
    benchmarks; the status page's assets and the report schema ride along as package data."""
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"backupwatch", f"backupwatch-{backupwatch.__version__}.dist-info"}
    assert "backupwatch/py.typed" in names
    assert "backupwatch/core/report.schema.json" in names
    for asset in ("status_page.html", "status_page.css", "status_page.js"):
        assert f"backupwatch/core/assets/{asset}" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_the_console_script_is_the_only_entry_point(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        info = f"backupwatch-{backupwatch.__version__}.dist-info/entry_points.txt"
        entry_points = configparser.ConfigParser()
        entry_points.read_string(archive.read(info).decode())
    assert entry_points.sections() == ["console_scripts"]
    assert dict(entry_points["console_scripts"]) == {"backupwatch": "backupwatch.cli.main:main"}


def _digest(root: Path) -> dict[str, str]:
    return {name: hashlib.sha256((root / name).read_bytes()).hexdigest() for name in USER_FILES}


def test_installs_beside_a_foreign_handlers_package_untouched(wheel: Path, tmp_path: Path) -> None:
    """``pip install --target`` into a project with its own ``handlers/``: the user's files are
    byte for byte the same after an install and after ``--upgrade``, their handler still
    imports, and so do backupwatch and its public API."""
    project = tmp_path / "project"
    for name, text in USER_FILES.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    before = _digest(project)
    for extra in ([], ["--upgrade"]):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--target",
                str(project),
                *extra,
                str(wheel),
            ],
            check=True,
            capture_output=True,
        )
        assert _digest(project) == before
        assert sorted(p.name for p in (project / "handlers").iterdir()) == [
            "__init__.py",
            "orders.py",
        ]
    installed = {p.name for p in project.iterdir()}
    assert installed == {
        *(name.split("/")[0] for name in USER_FILES),
        "backupwatch",
        f"backupwatch-{backupwatch.__version__}.dist-info",
        "bin",
    }
    # The user's handler and the library both import from the project folder, as on Lambda
    # (boto3, pydantic and tenacity come from this interpreter's site-packages).
    code = (
        "import backupwatch, app; "
        "assert app.lambda_handler(None, None) == 'orders'; "
        f"assert backupwatch.__file__.startswith({str(project)!r}); "
        "assert backupwatch.run_daily and backupwatch.render_status_page([])"
    )
    subprocess.run([sys.executable, "-c", code], cwd=project, check=True)
    version = subprocess.run(
        [sys.executable, "-m", "backupwatch", "--version"],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert (project / "bin" / "backupwatch").exists()
    if version.returncode == 0:  # --version lands with the CLI conventions
        assert version.stdout.strip() == f"backupwatch {backupwatch.__version__}"
