"""``main.py report NAME --term NAME|current|last``: a supervisor sets the site's terms once
(``setting set terms``, checked: an overlap is refused and nothing changes), then a report of
"this term" or "last term" covers the term's days in the site's calendar; a term that is not
there says what there is; --term with --from/--to, or neither, is bad usage."""

from __future__ import annotations

import json
import subprocess
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.demo.site import DEMO_PASSWORD
from app.vocabulary import ExitCode
from tests.integration.cli.cli_support import seeded_demo, site_copy
from tests.integration.cli.conftest import assert_one_line_error
from tests.support import REPO, run_python

TODAY = datetime.now(ZoneInfo("Asia/Shanghai")).date()  # the demo site's day
NOW_TERM = (TODAY - timedelta(days=10), TODAY + timedelta(days=10))
LAST_TERM = (TODAY - timedelta(days=100), TODAY - timedelta(days=40))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seeded_demo(tmp_path_factory.mktemp("term-site"), 1)


@pytest.fixture
def site(template: Path, tmp_path: Path) -> Path:
    return site_copy(template, tmp_path / "site")


def main(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_python(
        [str(REPO / "main.py"), *args, "--data-dir", str(site)],
        env={"METERDESK_PASSWORD": DEMO_PASSWORD},
    )


def term(name: str, days: tuple[date, date]) -> str:
    return f"{name}={days[0].isoformat()}..{days[1].isoformat()}"


def revenue(site: Path, *period: str) -> subprocess.CompletedProcess[str]:
    return main(site, "report", "revenue", *period, "--format", "json", "--user", "office")


def test_this_term_and_last_term_cover_the_terms_days(site: Path) -> None:
    terms = f"{term('this one', NOW_TERM)}; {term('the one before', LAST_TERM)}"
    overlap = f"{terms}; {term('clash', (NOW_TERM[1], NOW_TERM[1] + timedelta(days=5)))}"
    refused = main(site, "setting", "set", "terms", overlap, "--user", "supervisor")
    assert refused.returncode == ExitCode.REFUSED
    assert "'this one'" in refused.stderr
    assert "overlap; a day belongs to one term at most. Nothing was changed." in refused.stderr
    done = main(site, "setting", "set", "terms", terms, "--user", "supervisor")
    assert done.returncode == 0, done.stderr
    assert f"terms is now {term('the one before', LAST_TERM)}; {term('this one', NOW_TERM)}." in (
        done.stdout
    )

    for which, days in (("current", NOW_TERM), ("last", LAST_TERM), ("The One Before", LAST_TERM)):
        proc = revenue(site, "--term", which)
        assert proc.returncode == 0, proc.stderr
        report = json.loads(proc.stdout)
        assert report["title"].endswith(f"{days[0].isoformat()} to {days[1].isoformat()}")
        same = revenue(site, "--from", days[0].isoformat(), "--to", days[1].isoformat())
        assert json.loads(same.stdout)["rows"] == report["rows"]

    missing = revenue(site, "--term", "winter")
    assert missing.returncode == ExitCode.REFUSED
    assert "there is no term 'winter'; the site's terms are 'the one before', 'this one'" in (
        assert_one_line_error(missing)
    )


def test_no_terms_yet_says_how_to_set_them(site: Path) -> None:
    proc = revenue(site, "--term", "current")
    assert proc.returncode == ExitCode.REFUSED
    assert "the site has no terms yet; a supervisor or administrator sets them with" in (
        assert_one_line_error(proc)
    )


@pytest.mark.parametrize(
    ("period", "said"),
    [
        (("--term", "current", "--from", "2026-01-01"), "give --term or --from and --to, not both"),
        (("--to", "2026-01-01"), "give the period: --from DATE --to DATE, or --term NAME"),
        ((), "give the period"),
    ],
)
def test_term_or_a_range_but_not_both(site: Path, period: tuple[str, ...], said: str) -> None:
    proc = revenue(site, *period)
    assert proc.returncode == ExitCode.USAGE
    assert said in assert_one_line_error(proc)
