"""What MeterDesk writes is its user's alone: every folder a command run and a recharge create
is 0700 and every file 0600 (database, journal, logs, receipts, the copy of a receipt given
with --receipt), even when the shell's umask would share them, and a data folder that others
could read is made private with a line in the log."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from app.demo.site import DEMO_PASSWORD
from app.process.data_dir import logs_dir
from app.process.logging_setup import LOG_FILE_NAME
from tests.support import run_python

pytestmark = pytest.mark.skipif(os.name != "posix", reason="Windows keeps profiles by ACLs")

# A shell whose umask shares every new file with the group and the world (0644, 0755).
SHARING_SHELL = ["/bin/sh", "-c", 'umask 022 && exec "$0" "$@"']


def main(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_python(
        ["main.py", *args, "--data-dir", str(folder)],
        prefix=SHARING_SHELL,
        env={"METERDESK_PASSWORD": DEMO_PASSWORD},
        unset=["CI"],
    )


def _modes(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder.parent)): oct(stat.S_IMODE(path.stat().st_mode))
        for path in [folder, *folder.rglob("*")]
    }


def test_a_site_and_a_recharge_leave_nothing_others_can_read(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)  # a folder everybody may list, where a script keeps receipt copies
    site = tmp_path / "site"
    seeded = main(
        site,
        *("demo", "seed", "--buildings", "1", "--floors", "1", "--rooms-per-floor", "2"),
        *("--history-days", "0"),
    )
    assert seeded.returncode == 0, seeded.stderr
    listed = main(site, "account", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    number = str(json.loads(listed.stdout)[0]["account"])
    paid = main(
        site,
        *("account", "recharge", "--account", number, "--amount", "20", "--method", "cash"),
        *("--user", "cashier", "--receipt", str(shared / "receipt.pdf")),
    )
    assert paid.returncode == 0, paid.stderr
    modes = _modes(site)
    assert any(name.endswith(".pdf") for name in modes)  # the receipt in the data folder
    assert any(name.endswith(LOG_FILE_NAME) for name in modes)
    assert any(name.endswith(".sqlite3") for name in modes)
    for name, mode in modes.items():
        want = "0o700" if (tmp_path / name).is_dir() else "0o600"
        assert mode == want, f"{name} is {mode}, not {want}"
    assert oct(stat.S_IMODE((shared / "receipt.pdf").stat().st_mode)) == "0o600"


def test_a_data_folder_others_could_read_is_made_private_and_said_in_the_log(
    tmp_path: Path,
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    site.chmod(0o755)
    made = main(site, "db", "upgrade")
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(site.stat().st_mode) == 0o700
    log = (logs_dir(site) / LOG_FILE_NAME).read_text(encoding="utf-8")
    assert f"the data folder {site} could be read by other users of this computer" in log
    assert "(mode 755); it is now private to its owner (mode 700)" in log
