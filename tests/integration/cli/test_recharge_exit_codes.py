"""``main.py account recharge`` as a retrying script relies on it: a non-zero exit credited
nothing, and once the money is in the exit is 0 with the receipt number, whatever failed after.
Keys are never empty, never the engine's, and a key names one recharge only."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from app.demo.site import DEMO_PASSWORD
from tests.integration.cli.cli_support import seeded_demo, site_copy
from tests.integration.cli.conftest import NOBODY, RunMain
from tests.support import run_python


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seeded_demo(tmp_path_factory.mktemp("recharge-site"), 2)


@pytest.fixture
def site(template: Path, tmp_path: Path) -> Path:
    return site_copy(template, tmp_path / "site")


def main(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_python(
        ["main.py", *args, "--data-dir", str(site)], env={"METERDESK_PASSWORD": DEMO_PASSWORD}
    )


def balances(site: Path) -> dict[str, str]:
    proc = main(site, "account", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    return {str(row["account"]): str(row["balance"]) for row in json.loads(proc.stdout)}


def recharge(
    site: Path, account: str, *more: str, method: str = "cash", user: str = "cashier"
) -> subprocess.CompletedProcess[str]:
    return main(
        site,
        "account",
        "recharge",
        "--account",
        account,
        "--amount",
        "30",
        "--method",
        method,
        "--user",
        user,
        *more,
    )


def first_account(site: Path) -> tuple[str, dict[str, str]]:
    before = balances(site)
    return sorted(before)[0], before


@pytest.mark.parametrize("where", ["missing folder", "a folder"])
def test_a_receipt_copy_that_cannot_be_written_is_refused_before_the_money_moves(
    site: Path, tmp_path: Path, where: str
) -> None:
    account, before = first_account(site)
    target = tmp_path / "no" / "such" / "r.pdf" if where == "missing folder" else tmp_path
    proc = recharge(site, account, "--key", "K-copy", "--receipt", str(target))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    said = "does not exist" if where == "missing folder" else "is a folder"
    assert said in proc.stderr
    assert "Nothing was credited." in proc.stderr
    assert balances(site) == before
    assert not (site / "receipts").exists() or not any((site / "receipts").iterdir())
    # Fixed, the same key credits once.
    done = recharge(site, account, "--key", "K-copy", "--receipt", str(tmp_path / "r.pdf"))
    assert done.returncode == 0, done.stderr
    assert "Receipt 00000001: ¥30.00 credited" in done.stdout
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")


def test_a_copy_that_fails_after_the_commit_exits_0_with_the_receipt_and_what_to_do(
    site: Path,
) -> None:
    account, before = first_account(site)
    proc = recharge(site, account, "--key", "K-full", "--receipt", "/dev/full")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Receipt 00000001: ¥30.00 credited" in proc.stdout
    assert "warning:" in proc.stderr
    assert "do not take it again" in proc.stderr
    assert "--key K-full" in proc.stderr
    after = balances(site)
    assert round(float(after[account]) - float(before[account]), 2) == 30.00
    # The retry the warning suggests credits nothing more.
    again = recharge(site, account, "--key", "K-full")
    assert again.returncode == 0, again.stderr
    assert "Already done under this key: receipt 00000001" in again.stdout
    assert balances(site) == after


# The disk fills up right after the commit: every receipt PDF fails to be written.
DISK_FULL = """
import errno, sys
import app.services.receipts as receipts

def full(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")

receipts.write_receipt_pdf = full
from app.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_pdf_that_cannot_be_saved_after_the_commit_names_the_generated_key(site: Path) -> None:
    """No --key: the warning prints the key the command made, so the PDF can be saved later
    without crediting again."""
    account, before = first_account(site)
    args = ["account", "recharge", "--account", account, "--amount", "30", "--method", "cash"]
    proc = run_python(
        ["-c", DISK_FULL, *args, "--user", "cashier", "--data-dir", str(site)],
        env={"METERDESK_PASSWORD": DEMO_PASSWORD},
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Receipt 00000001: ¥30.00 credited" in proc.stdout
    assert "could not be saved (No space left on device)" in proc.stderr
    key = proc.stderr.split("The key is ")[1].split()[0].rstrip(".")
    assert key.startswith("rc-")
    again = recharge(site, account, "--key", key)
    assert again.returncode == 0, again.stderr
    assert "Already done under this key: receipt 00000001" in again.stdout
    assert (site / "receipts" / "receipt-00000001.pdf").read_bytes().startswith(b"%PDF")
    after = balances(site)
    assert round(float(after[account]) - float(before[account]), 2) == 30.00


@pytest.mark.parametrize(
    ("key", "said"),
    [
        ("", "must have 1 to 80 characters; it is empty"),
        ("   ", "must have 1 to 80 characters; it is empty"),
        ("fee:1:1:0:2026-12-01", "'fee:' are MeterDesk's own"),
        ("FEE:1:1:0:2026-12-01", "'fee:' are MeterDesk's own"),
    ],
)
def test_empty_keys_and_the_engines_keys_are_refused(site: Path, key: str, said: str) -> None:
    account, before = first_account(site)
    for _ in range(2):  # a script that retries never credits
        proc = recharge(site, account, "--key", key)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert said in proc.stderr
        assert "Nothing was credited." in proc.stderr
    assert balances(site) == before


def test_a_key_replays_only_the_same_recharge(site: Path) -> None:
    account, before = first_account(site)
    other = sorted(before)[1]
    done = recharge(site, account, "--key", "K-one")
    assert done.returncode == 0, done.stderr
    refusals = {
        "payment method": recharge(site, account, "--key", "K-one", method="card"),
        "operator": recharge(site, account, "--key", "K-one", user="supervisor"),
        "account": recharge(site, other, "--key", "K-one"),
    }
    for what, proc in refusals.items():
        assert proc.returncode == 1, (what, proc.stdout, proc.stderr)
        assert f"already used for a recharge with another {what}" in proc.stderr
        assert "Nothing was credited." in proc.stderr
    same = recharge(site, account, "--key", "K-one")
    assert same.returncode == 0, same.stderr
    assert "Already done under this key: receipt 00000001" in same.stdout
    after = balances(site)
    assert round(float(after[account]) - float(before[account]), 2) == 30.00
    assert after[other] == before[other]
    verify = main(site, "ledger", "verify", "--json")
    assert json.loads(verify.stdout)["ok"] is True


def test_a_copy_to_a_folder_that_cannot_be_written_is_refused_before_the_money_moves(
    template: Path,
    unprivileged_dir: Path,
    run_main_unprivileged: RunMain,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Permission bits apply (as user nobody when the tests run as root)."""
    site = unprivileged_dir / "site"
    site.mkdir()
    for item in template.iterdir():
        if item.is_file():
            (site / item.name).write_bytes(item.read_bytes())
    if os.geteuid() == 0:  # the program runs as nobody: its data folder is nobody's
        for path in (site, *site.iterdir()):
            os.chown(path, NOBODY, NOBODY)
    locked = unprivileged_dir / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    monkeypatch.setenv("METERDESK_PASSWORD", DEMO_PASSWORD)

    def listed() -> str:
        proc = run_main_unprivileged("account", "list", "--json", "--data-dir", str(site))
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    before = listed()
    account = str(json.loads(before)[0]["account"])
    args = ["account", "recharge", "--account", account, "--amount", "30", "--method", "cash"]
    proc = run_main_unprivileged(
        *args, "--user", "cashier", "--receipt", str(locked / "r.pdf"), "--data-dir", str(site)
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "cannot be written (no permission)" in proc.stderr
    assert "Nothing was credited." in proc.stderr
    assert listed() == before
