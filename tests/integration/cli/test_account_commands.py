"""``main.py account list|show|recharge`` as a script or an operator runs them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from app.demo.site import DEMO_PASSWORD
from tests.integration.cli.cli_support import seeded_demo, site_copy
from tests.support import run_python


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seeded_demo(tmp_path_factory.mktemp("site"), 3)


@pytest.fixture
def site(template: Path, tmp_path: Path) -> Path:
    return site_copy(template, tmp_path / "site")


def main(
    site: Path, *args: str, password: str | None = DEMO_PASSWORD
) -> subprocess.CompletedProcess[str]:
    env = {} if password is None else {"METERDESK_PASSWORD": password}
    unset = ["METERDESK_PASSWORD"] if password is None else []
    return run_python(["main.py", *args, "--data-dir", str(site)], env=env, unset=unset)


def accounts(site: Path) -> list[dict[str, object]]:
    proc = main(site, "account", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert isinstance(rows, list)
    return rows


def test_list_and_show_give_the_documented_keys(site: Path) -> None:
    rows = accounts(site)
    assert len(rows) == 3
    first = rows[0]
    assert {"account", "room", "holder", "status", "balance", "meters"} <= first.keys()
    assert first["status"] == "open"
    assert isinstance(first["balance"], str)
    assert "." in first["balance"]
    shown = main(site, "account", "show", "--account", str(first["account"]), "--json")
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    assert detail["account"] == first["account"]
    assert detail["meters"] == first["meters"]
    assert detail["balance"] == first["balance"]
    missing = main(site, "account", "show", "--account", "NOPE")
    assert missing.returncode == 1
    assert "There is no account 'NOPE'" in missing.stderr


def test_a_recharge_commits_once_per_key_and_saves_its_receipt(site: Path, tmp_path: Path) -> None:
    first = accounts(site)[0]
    number = str(first["account"])
    copy = tmp_path / "r.pdf"
    args = ("account", "recharge", "--account", number, "--amount", "25.50", "--method", "cash")
    done = main(site, *args, "--user", "cashier", "--key", "K1", "--receipt", str(copy))
    assert done.returncode == 0, done.stderr
    assert "Receipt 00000001: ¥25.50 credited" in done.stdout
    assert (site / "receipts" / "receipt-00000001.pdf").exists()
    text = subprocess.run(
        ["pdftotext", str(copy), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert number in text
    assert "00000001" in text
    again = main(site, *args, "--user", "cashier", "--key", "K1")
    assert again.returncode == 0, again.stderr
    assert "Already done under this key: receipt 00000001" in again.stdout
    after = next(r for r in accounts(site) if r["account"] == number)
    before = float(str(first["balance"]))
    assert round(float(str(after["balance"])) - before, 2) == 25.50
    verify = main(site, "ledger", "verify", "--json")
    assert json.loads(verify.stdout)["ok"] is True


@pytest.mark.parametrize(
    ("amount", "code", "message"),
    [
        ("0", 1, "more than zero"),
        ("1.234", 1, "more than 2 decimal places"),
        ("20000", 1, "single-recharge cap"),
    ],
)
def test_bad_amounts_are_refused_with_the_reason(
    site: Path, amount: str, code: int, message: str
) -> None:
    number = str(accounts(site)[0]["account"])
    proc = main(
        site, "account", "recharge", "--account", number, "--amount", amount, "--method", "card",
        "--user", "cashier",
    )  # fmt: skip
    assert proc.returncode == code
    assert message in proc.stderr
    assert "Nothing was credited" in proc.stderr
    assert proc.stdout == ""


def test_only_a_signed_in_operator_who_may_take_money_recharges(site: Path) -> None:
    first = accounts(site)[0]
    number = str(first["account"])
    args = ("account", "recharge", "--account", number, "--amount", "5", "--method", "cash")
    wrong = main(site, *args, "--user", "cashier", password="not-the-password")
    assert wrong.returncode == 16
    assert "user name or the password is wrong" in wrong.stderr
    none = main(site, *args, "--user", "cashier", password=None)
    assert none.returncode == 16
    assert "METERDESK_PASSWORD" in none.stderr
    tech = main(site, *args, "--user", "technician")
    assert tech.returncode == 16
    assert "A technician may not recharge" in tech.stderr
    assert accounts(site)[0]["balance"] == first["balance"]
    verify = json.loads(main(site, "ledger", "verify", "--json").stdout)
    assert verify["receipts"] == 0


def test_the_recharge_cap_is_a_setting_a_supervisor_changes(site: Path) -> None:
    listed = json.loads(main(site, "setting", "list", "--json").stdout)
    assert listed["recharge_cap_minor"] == "10000.00"
    refused = main(site, "setting", "set", "recharge_cap_minor", "500", "--user", "cashier")
    assert refused.returncode == 16
    assert "A cashier may not change balance policies" in refused.stderr
    bad = main(site, "setting", "set", "recharge_cap_minor", "5.001", "--user", "supervisor")
    assert bad.returncode == 1
    assert "more than 2 decimal places" in bad.stderr
    changed = main(site, "setting", "set", "recharge_cap_minor", "500", "--user", "supervisor")
    assert changed.returncode == 0, changed.stderr
    assert "recharge_cap_minor is now 500.00" in changed.stdout
    number = str(accounts(site)[0]["account"])
    over = main(
        site, "account", "recharge", "--account", number, "--amount", "500.01", "--method",
        "cash", "--user", "cashier",
    )  # fmt: skip
    assert over.returncode == 1
    assert "single-recharge cap of ¥500.00" in over.stderr
