"""``main.py ledger verify`` as an operator runs it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.support import run_python, unmigrated_folder


def test_verify_passes_on_the_demo_site_and_names_a_tampered_balance(tmp_path: Path) -> None:
    folder = tmp_path / "site"
    seeded = run_python(["main.py", "demo", "seed", "--data-dir", str(folder)])
    assert seeded.returncode == 0, seeded.stderr
    ok = run_python(["main.py", "ledger", "verify", "--data-dir", str(folder), "--json"])
    assert ok.returncode == 0, ok.stderr
    report = json.loads(ok.stdout)
    assert report["ok"] is True
    assert report["accounts"] == 240
    with sqlite3.connect(folder / "meterdesk.sqlite3") as conn:
        number = conn.execute("SELECT number FROM account WHERE id = 7").fetchone()[0]
        conn.execute("UPDATE account SET balance_minor = balance_minor + 100 WHERE id = 7")
    bad = run_python(["main.py", "ledger", "verify", "--data-dir", str(folder)])
    assert bad.returncode == 1
    assert f"balance: account {number} shows a balance" in bad.stdout


def test_verify_refuses_a_database_that_needs_an_upgrade(tmp_path: Path) -> None:
    folder = unmigrated_folder(tmp_path / "empty")
    proc = run_python(["main.py", "ledger", "verify", "--data-dir", str(folder)])
    assert proc.returncode == 8
    assert "Run 'main.py db upgrade' first" in proc.stderr
