"""``main.py account statements`` as office staff run it at the end of a month: every account's
PDF in the folder (made if missing), each listed with its room, and the combined file with its
pages; an account whose ledger does not add up is listed as refused, the others are written and
the exit code is 1; a cashier, an unknown building and a month with nobody in it are one clear
error line, and nothing is written."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from app.demo.site import DEMO_PASSWORD
from app.services.ledger import post_entry
from app.store.database import Database, sqlite_url_for
from app.store.models import Account, LedgerEntry
from app.vocabulary import ExitCode, LedgerKind
from tests.integration.cli.cli_support import seeded_demo, site_copy
from tests.integration.cli.conftest import assert_one_line_error
from tests.support import REPO, run_python


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seeded_demo(tmp_path_factory.mktemp("statements-site"), 3)


@pytest.fixture
def site(template: Path, tmp_path: Path) -> Path:
    return site_copy(template, tmp_path / "site")


def main(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_python(
        [str(REPO / "main.py"), *args, "--data-dir", str(site)],
        env={"METERDESK_PASSWORD": DEMO_PASSWORD},
    )


def statements(
    site: Path, out: Path, *more: str, month: str | None = None, user: str = "office"
) -> subprocess.CompletedProcess[str]:
    return main(
        site, "account", "statements", "--month", month or this_month(), "--output-dir", str(out),
        "--user", user, *more,
    )  # fmt: skip


def this_month() -> str:
    return datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")  # the demo site's zone


def accounts(site: Path) -> list[dict[str, str]]:
    proc = main(site, "account", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    rows: list[dict[str, str]] = json.loads(proc.stdout)
    return rows


def pages(path: Path) -> int:
    if shutil.which("pdfinfo") is None:
        pytest.skip("pdfinfo (poppler-utils) is not installed")
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True, text=True)
    found = re.search(r"^Pages:\s+(\d+)$", info.stdout, re.MULTILINE)
    assert found is not None
    return int(found.group(1))


def test_every_account_is_written_and_listed_with_the_combined_file(
    site: Path, tmp_path: Path
) -> None:
    out = tmp_path / "statements" / "this-month"
    proc = statements(site, out, "--building", "A")
    assert proc.returncode == ExitCode.OK, proc.stderr
    month = this_month()
    rows = accounts(site)
    files = sorted(out.glob("statement-*.pdf"))
    assert len(files) == len(rows) == 3
    for row in rows:
        name = f"statement-{row['account']}-{row['room']}-{month}.pdf"
        assert (out / name).is_file()
        assert re.search(rf"^  {row['account']} +{row['room']} +{name}$", proc.stdout, re.M)
    combined = out / f"statements-A-{month}.pdf"
    total = sum(pages(f) for f in files)
    assert f"({len(rows)} statement(s), {total} page(s)): {combined}" in proc.stdout
    assert pages(combined) == total
    assert proc.stdout.rstrip().endswith("3 written, 0 refused.")
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*(f.name for f in files), combined.name]
    )


def test_a_refused_account_is_listed_and_the_others_are_written(site: Path, tmp_path: Path) -> None:
    broken = accounts(site)[1]["account"]
    db = Database(sqlite_url_for(site))
    with db.transaction() as session:
        account_id = session.scalars(select(Account.id).where(Account.number == broken)).one()
        entry = post_entry(
            session, account_id, LedgerKind.ADJUSTMENT, 500, reason="test", at=datetime.now(UTC)
        )
        session.execute(
            update(LedgerEntry)
            .where(LedgerEntry.id == entry.entry_id)
            .values(balance_after_minor=LedgerEntry.balance_after_minor + 1)
        )
    db.dispose()
    out = tmp_path / "out"
    proc = statements(site, out)  # the whole site
    assert proc.returncode == ExitCode.REFUSED
    assert re.search(rf"^  {broken} .* REFUSED: the ledger of account {broken} does not add up",
                     proc.stdout, re.M)  # fmt: skip
    assert "2 written, 1 refused." in proc.stdout
    assert len(list(out.glob("statement-*.pdf"))) == 2
    assert (out / f"statements-site-{this_month()}.pdf").is_file()
    error = proc.stderr.strip().splitlines()
    assert error == [
        "error: 1 statement(s) refused (listed above): their ledgers do not add up; run "
        "'main.py ledger verify', fix the ledger, then run the batch again"
    ]


@pytest.mark.parametrize(
    ("more", "user", "month", "code", "said"),
    [
        ((), "cashier", None, ExitCode.DENIED, "A cashier may not view and export reports"),
        (("--building", "Z"), "office", None, ExitCode.REFUSED, "there is no building Z"),
        (("--floor", "1"), "office", None, ExitCode.REFUSED, "give --building with --floor"),
        ((), "office", "2020-01", ExitCode.REFUSED, "no account of the whole site was open"),
        ((), "office", "2026-13", ExitCode.REFUSED, "--month '2026-13' is not a month"),
    ],
)
def test_refusals_are_one_line_and_write_nothing(
    site: Path,
    tmp_path: Path,
    more: tuple[str, ...],
    user: str,
    month: str | None,
    code: ExitCode,
    said: str,
) -> None:
    out = tmp_path / "out"
    proc = statements(site, out, *more, month=month, user=user)
    assert proc.returncode == code
    assert said in assert_one_line_error(proc)
    assert not out.exists()
