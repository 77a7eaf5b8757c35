"""``main.py account statement`` as office staff run it: the PDF lands in the current folder (or
--output) and the closing balance is printed; a cashier is refused, an unknown account, a bad
month or an unwritable file is one clear error line, and nothing is written."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.billing.money import Money
from app.demo.site import DEMO_PASSWORD
from app.vocabulary import ExitCode
from tests.integration.cli.cli_support import seeded_demo, site_copy
from tests.integration.cli.conftest import assert_one_line_error
from tests.support import REPO, run_python


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seeded_demo(tmp_path_factory.mktemp("statement-site"), 2)


@pytest.fixture
def site(template: Path, tmp_path: Path) -> Path:
    return site_copy(template, tmp_path / "site")


def main(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_python(
        [str(REPO / "main.py"), *args, "--data-dir", str(site)],
        cwd=cwd,
        env={"METERDESK_PASSWORD": DEMO_PASSWORD},
    )


def statement(
    site: Path, cwd: Path, account: str, month: str, *more: str, user: str = "office"
) -> subprocess.CompletedProcess[str]:
    return main(
        site, cwd, "account", "statement", "--account", account, "--month", month, "--user", user,
        *more,
    )  # fmt: skip


def first_account(site: Path, cwd: Path) -> dict[str, str]:
    proc = main(site, cwd, "account", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    rows: list[dict[str, str]] = json.loads(proc.stdout)
    return rows[0]


def this_month() -> str:
    return datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")  # the demo site's zone


def test_the_statement_is_written_beside_the_caller_with_the_closing_balance(
    site: Path, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    account = first_account(site, work)["account"]
    paid = main(
        site, work, "account", "recharge", "--account", account, "--amount", "12.34",
        "--method", "cash", "--user", "cashier",
    )  # fmt: skip
    assert paid.returncode == 0, paid.stderr
    month = this_month()
    proc = statement(site, work, account, month)
    assert proc.returncode == 0, proc.stderr
    pdf = work / f"statement-{account}-{month}.pdf"
    assert pdf.is_file()
    assert pdf.read_bytes().startswith(b"%PDF")
    assert str(pdf.name) in proc.stdout
    balance = first_account(site, work)["balance"]
    assert f"Closing balance {Money.parse(balance).display()}." in proc.stdout
    assert [p.name for p in work.iterdir()] == [pdf.name]  # no temporary file left behind


def test_output_names_the_file_and_the_pdf_reads_as_a_statement(site: Path, tmp_path: Path) -> None:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    row = first_account(site, tmp_path)
    target = tmp_path / "out" / "nov.pdf"
    target.parent.mkdir()
    proc = statement(site, tmp_path, row["account"], this_month(), "--output", str(target))
    assert proc.returncode == 0, proc.stderr
    text = subprocess.run(
        ["pdftotext", "-layout", str(target), "-"], capture_output=True, check=True
    ).stdout.decode()
    chinese = row["holder"].split()[-1]  # "Zhang Wei 张伟"
    assert chinese in text
    assert "Page 1 of" in text
    assert row["account"] in text


def test_a_cashier_may_not_print_statements(site: Path, tmp_path: Path) -> None:
    account = first_account(site, tmp_path)["account"]
    proc = statement(site, tmp_path, account, this_month(), user="cashier")
    assert proc.returncode == ExitCode.DENIED
    assert "may not view and export reports" in assert_one_line_error(proc)
    assert not list(tmp_path.glob("statement-*"))


@pytest.mark.parametrize(
    ("account", "month", "said"),
    [
        ("999999", "2026-11", "there is no account 999999; check the number"),
        (None, "2026-13", "--month '2026-13' is not a month: give it like 2026-11"),
        (None, "nov", "give it like 2026-11"),
    ],
)
def test_an_unknown_account_or_month_is_refused(
    site: Path, tmp_path: Path, account: str | None, month: str, said: str
) -> None:
    number = account or first_account(site, tmp_path)["account"]
    proc = statement(site, tmp_path, number, month)
    assert proc.returncode == ExitCode.REFUSED
    assert said in assert_one_line_error(proc)
    assert not list(tmp_path.glob("statement-*"))


def test_a_file_that_cannot_be_written_is_refused(site: Path, tmp_path: Path) -> None:
    account = first_account(site, tmp_path)["account"]
    missing = tmp_path / "no" / "such" / "s.pdf"
    proc = statement(site, tmp_path, account, "2026-11", "--output", str(missing))
    assert proc.returncode == ExitCode.REFUSED
    assert "could not be written" in assert_one_line_error(proc)
    folder = statement(site, tmp_path, account, "2026-11", "--output", str(tmp_path))
    assert folder.returncode == ExitCode.REFUSED
    assert "is a folder" in assert_one_line_error(folder)
