"""``main.py operator``: adding an operator to a database that has none yet points to the
first administrator, and a new password typed at a terminal is asked before the write lock is
taken (on SQLite a console or ``serve`` would wait on it while a person types)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from app.services.operators import login
from app.store.database import DB_FILE_NAME, Database, sqlite_url_for
from tests.support import run_python

ADMIN_PW = "admin-password-1"
CASHIER_PW = "cashier-password-1"
NEW_PW = "cashier-password-2"

OneLine = Callable[[subprocess.CompletedProcess[str]], str]


def main(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``main.py ARGS --data-dir FOLDER`` as the administrator unless ``env`` says otherwise."""
    return run_python(
        ["main.py", *args, "--data-dir", str(folder)],
        env={"METERDESK_PASSWORD": ADMIN_PW, **env},
        unset=["CI", *({"METERDESK_NEW_PASSWORD"} - set(env))],
    )


def test_adding_an_operator_before_the_administrator_says_to_create_the_administrator(
    tmp_path: Path, one_line_error: OneLine
) -> None:
    folder = tmp_path / "site"
    upgrade = main(folder, "db", "upgrade")  # the schema, and no operator yet
    assert upgrade.returncode == 0, upgrade.stderr
    proc = main(
        folder,
        *("operator", "add", "--user", "admin", "--new", "wang", "--role", "cashier"),
        METERDESK_NEW_PASSWORD=CASHIER_PW,
    )
    assert proc.returncode == 16, proc.stderr
    assert one_line_error(proc) == (
        f"error: {folder / DB_FILE_NAME} has no operator yet: create its administrator first "
        "with 'main.py operator first-admin --user NAME'."
    )


# A person at a terminal: the new password is typed at a prompt. Each prompt notes whether
# another connection could take the database's write lock at that moment.
AT_A_TERMINAL = """
import getpass, json, sqlite3, sys
from app.cli import main

class Terminal:
    def isatty(self):
        return True

asked = []

def prompt(text):
    probe = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        locked = False
    except sqlite3.OperationalError:
        locked = True
    finally:
        probe.close()
    asked.append({"prompt": text, "locked": locked})
    return sys.argv[2]

getpass.getpass = prompt
sys.stdin = Terminal()
code = main(sys.argv[3:])
print(json.dumps({"code": code, "asked": asked}))
"""


def test_a_new_password_is_asked_before_the_write_lock_is_taken(tmp_path: Path) -> None:
    folder = tmp_path / "site"
    for args, env in (
        (["operator", "first-admin", "--user", "admin", "--name", "Admin"], {}),
        (
            ["operator", "add", "--user", "admin", "--new", "wang", "--role", "cashier"],
            {"METERDESK_NEW_PASSWORD": CASHIER_PW},
        ),
    ):
        proc = main(folder, *args, **env)
        assert proc.returncode == 0, proc.stderr

    proc = run_python(
        [
            *("-c", AT_A_TERMINAL, str(folder / DB_FILE_NAME), NEW_PW),
            *("operator", "reset-password", "--user", "admin", "--operator", "wang"),
            *("--data-dir", str(folder)),
        ],
        env={"METERDESK_PASSWORD": ADMIN_PW},
        unset=["CI", "METERDESK_NEW_PASSWORD"],
    )
    assert proc.returncode == 0, proc.stderr
    *said, last = proc.stdout.splitlines()
    assert json.loads(last) == {
        "code": 0,
        "asked": [{"prompt": "Password for wang: ", "locked": False}],
    }
    assert said == ["wang: cashier.", "The password of wang was changed."]
    db = Database(sqlite_url_for(folder))
    try:
        assert login(db, "wang", NEW_PW).username == "wang"
    finally:
        db.dispose()

    off = main(folder, "operator", "disable", "--user", "admin", "--operator", "wang")
    assert off.returncode == 0, off.stderr
    assert off.stdout.splitlines() == ["wang: cashier.", "wang is switched off."]
