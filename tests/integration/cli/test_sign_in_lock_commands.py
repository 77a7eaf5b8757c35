"""Wrong passwords at the command line: the fifth in a row locks the name (said with the time
and who can lift it), the right password is refused while it lasts, the failures are in the
log as typed at the command line, 'operator list' shows the lock and 'operator unlock' by an
administrator lifts it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from app.process.data_dir import logs_dir
from app.process.logging_setup import LOG_FILE_NAME
from tests.integration.cli.conftest import assert_one_line_error
from tests.support import run_python

ADMIN_PW = "admin-password-1"
CASHIER_PW = "cashier-password-1"
WRONG = "error: The user name or the password is wrong; try again."


def main(folder: Path, password: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_python(
        ["main.py", *args, "--data-dir", str(folder)],
        env={"METERDESK_PASSWORD": password, "METERDESK_NEW_PASSWORD": CASHIER_PW},
        unset=["CI"],
    )


def _as_wang(folder: Path, password: str) -> subprocess.CompletedProcess[str]:
    """A command wang signs in for (and may not do: a cashier changes no roles)."""
    return main(
        folder,
        password,
        "operator",
        "role",
        "--user",
        "wang",
        "--operator",
        "wang",
        "--role",
        "admin",
    )


def test_wrong_passwords_lock_the_name_until_an_administrator_unlocks_it(tmp_path: Path) -> None:
    site = tmp_path / "site"
    assert main(site, ADMIN_PW, "operator", "first-admin", "--user", "admin").returncode == 0
    added = main(
        site, ADMIN_PW, "operator", "add", "--user", "admin", "--new", "wang", "--role", "cashier"
    )
    assert added.returncode == 0, added.stderr
    for _ in range(4):
        proc = _as_wang(site, "not-the-password")
        assert proc.returncode == 16, proc.stderr
        assert assert_one_line_error(proc) == WRONG
    fifth = assert_one_line_error(_as_wang(site, "not-the-password"))
    assert fifth.startswith("error: The user name or the password is wrong. wang is locked until")
    assert "after 5 wrong passwords in a row" in fifth
    locked = _as_wang(site, CASHIER_PW)
    assert locked.returncode == 16
    assert "wang is locked until" in assert_one_line_error(locked)
    listed = main(site, ADMIN_PW, "operator", "list", "--json")
    assert [row["locked_until"] is not None for row in json.loads(listed.stdout)] == [False, True]
    log = (logs_dir(site) / LOG_FILE_NAME).read_text(encoding="utf-8")
    assert log.count("failed sign-in as 'wang' at the command line") == 5
    assert "not-the-password" not in log

    denied = main(site, CASHIER_PW, "operator", "unlock", "--user", "wang", "--operator", "wang")
    assert denied.returncode == 16  # locked, and a cashier may not anyway
    unlocked = main(site, ADMIN_PW, "operator", "unlock", "--user", "admin", "--operator", "wang")
    assert unlocked.returncode == 0, unlocked.stderr
    assert unlocked.stdout == "wang may sign in again.\n"
    allowed_in = _as_wang(site, CASHIER_PW)  # signed in, then refused for the role
    assert "A cashier may not manage operators" in assert_one_line_error(allowed_in)
    again = main(site, ADMIN_PW, "operator", "unlock", "--user", "admin", "--operator", "wang")
    assert again.stdout == "wang was not locked; nothing was changed.\n"
