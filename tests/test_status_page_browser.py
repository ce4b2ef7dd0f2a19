"""The status page in a real browser: headless Chromium runs its script, we read the DOM.

``chromium --dump-dom`` prints the DOM after the page's scripts ran. The page applies a filter
from its URL fragment on load (``#q=acme``, ``#failing``, ``#status=STALE``) and, with
``#selftest``, writes each cell's computed background colour and tooltip text into data
attributes; so the rows a reader would see, the colours they would see and the tooltip they
would read are all in the dumped DOM. Expectations come from the reports built here, never
from the page's own classes, so a cell with the wrong class or a stylesheet that does not
apply fails.

Without Chromium the tests skip, except under CI (``CI`` set), where they fail: ``.ci/run``
installs Debian's ``chromium``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from backupwatch.core.models import RegionError, Report, Status
from backupwatch.core.status_page import PALETTE, UNKNOWN_COLOUR, render_status_page

from .conftest import NOW, OTHER_REGION, REGION
from .test_status_page import DAY, Page, parse, report, row

CHROMIUM = "/usr/bin/chromium"
TIMEOUT_SECONDS = 90


def _chromium() -> str:
    found = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if found is None:
        message = f"{CHROMIUM} not found (Debian: apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run the browser test")
        pytest.skip(message)
    return found


def rgb(colour: str) -> str:
    """``#1f9e77`` as a browser's computed style writes it: ``rgb(31, 158, 119)``."""
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"


# Six days; day 3 has no report; globex fails from day 4; newco arrives on day 5; vandelay
# leaves after day 2; on day 5 the other region was not checked (wayne unknown that day).
ERROR = RegionError(region=OTHER_REGION, reason="AccessDenied on rds:DescribeDBInstances")
NO_REPORT_DAY = 2


def every(status: Status) -> list[Status | str | None]:
    return [None if day == NO_REPORT_DAY else status for day in range(6)]


STATUS_BY_DAY: dict[str, list[Status | str | None]] = {
    "acme": every(Status.OK),
    "acme-eu": every(Status.OK),
    "globex": [Status.OK, Status.OK, None, Status.STALE, Status.STALE, Status.MISSING],
    "initech": every(Status.ERROR),
    "umbrella": every(Status.DISABLED),
    "hooli": every(Status.EMPTY),
    "soylent": every(Status.SUSPECT),
    "dunder": every(Status.NONCOMPLIANT),
    "cyberdyne": every(Status.STOPPED),
    "newco": ["absent", "absent", None, "absent", Status.PENDING, Status.OK],
    "tyrell": every(Status.PAUSED),
    "oscorp": every(Status.SKIPPED),
    "vandelay": [Status.OK, Status.OK, None, "absent", "absent", "absent"],
    "wayne": [Status.OK, Status.OK, None, Status.OK, "not checked", Status.OK],
}
REGION_OF = {"wayne": OTHER_REGION, "acme-eu": OTHER_REGION}


def build_reports() -> list[Report]:
    """The reports behind ``STATUS_BY_DAY`` (day 0 is five days before NOW)."""
    reports = []
    for day in range(6):
        if day == NO_REPORT_DAY:
            continue
        rows = [
            row(
                name,
                status,
                region=REGION_OF.get(name, REGION),
                reason=f"{name} on day {day}: {status.value}",
                rds_age=float(day + 1),
            )
            for name, statuses in STATUS_BY_DAY.items()
            if isinstance(status := statuses[day], Status)
        ]
        errors = (ERROR,) if "not checked" in [s[day] for s in STATUS_BY_DAY.values()] else ()
        reports.append(report(5 - day, *rows, errors=errors))
    return reports


@pytest.fixture(scope="module")
def page_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("page") / "status.html"
    path.write_text(render_status_page(build_reports()), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def browse(page_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Page]:
    """Open the page at a fragment in headless Chromium; the DOM after its scripts ran."""
    chromium = _chromium()
    profile = tmp_path_factory.mktemp("chromium-profile")
    seen: dict[str, Page] = {}

    def open_at(fragment: str) -> Page:
        if fragment not in seen:
            done = subprocess.run(
                [
                    chromium,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    f"--user-data-dir={profile}",
                    "--dump-dom",
                    f"{page_file.as_uri()}{fragment}",
                ],
                capture_output=True,
                text=True,
                timeout=TIMEOUT_SECONDS,
                check=False,
            )
            assert done.returncode == 0, done.stderr[-2000:]
            seen[fragment] = parse(done.stdout)
            assert seen[fragment].root.get("data-ready") == "1", "the page's script did not finish"
        return seen[fragment]

    return open_at


def test_every_tenant_row_is_present(browse: Callable[[str], Page]) -> None:
    """After the script ran, every tenant of the range is a visible row with a cell per day."""
    page = browse("#selftest")
    assert sorted(page.names(visible_only=True)) == sorted(STATUS_BY_DAY)
    assert all(len(r.cells) == 6 for r in page.rows)
    assert page.body["data-shown"] == str(len(STATUS_BY_DAY))


def test_colours_match_statuses(browse: Callable[[str], Page]) -> None:
    """Each cell's computed colour is its status's palette colour; legend swatches likewise;
    no-report, absent and not-checked cells are the distinct neutral styles."""
    page = browse("#selftest")
    absent = "rgb(246, 248, 250)"
    for name, statuses in STATUS_BY_DAY.items():
        cells = page.row(name).cells
        for day, expected in enumerate(statuses):
            cell = cells[day]
            where = f"{name} day {day}"
            if isinstance(expected, Status):
                assert cell["data-bg"] == rgb(PALETTE[expected]), where
                assert cell["data-bgi"] == "", where
            elif expected is None or expected == "not checked":
                assert cell["data-bgi"] == "gradient", where
                assert cell["data-bg"] == "rgba(0, 0, 0, 0)", where
            else:
                assert cell["data-bg"] == absent, where
    legend = {
        s.get("class", "").split()[1]: s["data-bg"]
        for s in page.swatches
        if "data-bg" in s and len(s.get("class", "").split()) == 2
    }
    for status, colour in PALETTE.items():
        assert legend[status.value.lower()] == rgb(colour), status


def test_the_palette_is_what_the_browser_paints(browse: Callable[[str], Page]) -> None:
    """Every status is painted, each in a colour of its own (no class paints as another), and
    NONCOMPLIANT in its pink, apart from the colour of an unknown status."""
    page = browse("#selftest")
    by_status: dict[Status, set[str]] = {}
    for r in page.rows:
        for cell, status in zip(r.cells, STATUS_BY_DAY[r.name], strict=True):
            if isinstance(status, Status):
                by_status.setdefault(status, set()).add(cell["data-bg"])
    assert set(by_status) == set(Status)
    assert all(len(colours) == 1 for colours in by_status.values()), by_status
    painted = {colour for colours in by_status.values() for colour in colours}
    assert len(painted) == len(Status) == 12
    assert PALETTE[Status.NONCOMPLIANT] == "#d6609c"
    assert by_status[Status.NONCOMPLIANT] == {"rgb(214, 96, 156)"}
    assert rgb(UNKNOWN_COLOUR) not in painted


def test_tooltips_carry_date_status_reason_and_age(browse: Callable[[str], Page]) -> None:
    """The script builds each cell's tooltip: tenant and date, status, reason, backup age."""
    page = browse("#selftest")
    day4 = NOW.date() - DAY
    assert page.row("globex").cells[4]["data-tip"] == (
        f"globex · {day4:%a %Y-%m-%d}\nSTALE · failing\nglobex on day 4: STALE\n"
        "backup age: rds 5 h · s3 4 h"
    )
    assert page.row("cyberdyne").cells[0]["data-tip"].split("\n")[1] == "STOPPED · not failing"
    no_report = page.row("acme").cells[NO_REPORT_DAY]["data-tip"]
    assert no_report.endswith("No report this day: the daily run did not archive one.")
    assert page.row("newco").cells[0]["data-tip"].endswith("not yet a tenant, or gone.")
    assert page.row("wayne").cells[4]["data-tip"].split("\n")[1:] == [
        "NOT CHECKED",
        f"{OTHER_REGION} not checked: AccessDenied on rds:DescribeDBInstances",
    ]


def test_fragment_filter_hides_the_rows_that_do_not_match(browse: Callable[[str], Page]) -> None:
    """``#q=ACME eu-west-1``: terms are ANDed, case-insensitive, matched in name and region."""
    page = browse(f"#q=ACME%20{OTHER_REGION}")
    assert page.names(visible_only=True) == ["acme-eu"]
    assert page.body["data-shown"] == "1"
    assert len([r for r in page.rows if r.hidden]) == len(STATUS_BY_DAY) - 1


def test_failing_only_and_status_filters(browse: Callable[[str], Page]) -> None:
    """``#failing`` keeps the tenants failing in the latest report; ``#status=`` one status."""
    failing = browse("#failing").names(visible_only=True)
    assert sorted(failing) == ["dunder", "globex", "hooli", "initech", "soylent", "umbrella"]
    assert browse("#status=GONE").names(visible_only=True) == ["vandelay"]
