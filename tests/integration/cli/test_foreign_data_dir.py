"""A data folder of one's own is no key to another site's meters: anyone could make a new folder
and be its first administrator, and 'meter relay' then switched any meter on any port it could
open (checked against the new folder's database). Now a database without meters in service
drives nothing: refused before the port is opened, not a byte on the wire, and the switch
checked against the site that has the meter. An empty --data-dir or --db is refused."""

from __future__ import annotations

import json
import os
import select
import subprocess
from pathlib import Path

import pytest

from app.cli.auth import NotSignedIn, require_field
from app.demo.site import DEMO_PASSWORD
from app.store.database import Database, sqlite_url_for
from tests.integration.cli.conftest import assert_one_line_error
from tests.support import pty_pair, run_python

OWN_PASSWORD = "mallory-password"
RELAY = ["meter", "relay", "--profile", "acrel-ddsy1352", "--address", "1", "off"]


def main(*args: str, password: str = OWN_PASSWORD) -> subprocess.CompletedProcess[str]:
    return run_python(["main.py", *args], env={"METERDESK_PASSWORD": password}, unset=["CI"])


def test_the_admin_of_a_new_folder_cannot_switch_a_relay(tmp_path: Path) -> None:
    own = tmp_path / "own"
    made = main("--data-dir", str(own), "operator", "first-admin", "--user", "mallory")
    assert made.returncode == 0, made.stderr
    console, far_end, close = pty_pair()
    wire = os.open(far_end, os.O_RDONLY | os.O_NONBLOCK)
    try:
        proc = main("--data-dir", str(own), *RELAY, "--port", console, "--user", "mallory")
        ready, _, _ = select.select([wire], [], [], 0.2)
        sent = os.read(wire, 4096) if ready else b""
    finally:
        os.close(wire)
        close()
    assert proc.returncode == 16, proc.stderr
    assert assert_one_line_error(proc) == (
        f"error: {own / 'meterdesk.sqlite3'} has no meters in service, so its operators may "
        "not drive meters on the wire: name the database of the site the meter belongs to "
        "with --data-dir or --db."
    )
    assert sent == b""  # nothing reached the meter


def test_a_relay_command_on_a_folder_without_a_site_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    proc = main("--data-dir", str(missing), *RELAY, "--port", "/dev/null", "--user", "x")
    assert proc.returncode == 8, proc.stderr
    assert not missing.exists()


@pytest.mark.parametrize("option", ["--data-dir", "--db"])
def test_an_empty_place_is_refused_not_taken_as_the_default(option: str) -> None:
    for argv in ([option, "", "account", "list"], ["account", "list", option, " "]):
        proc = main(*argv)
        assert proc.returncode == 2, proc.stderr
        assert f"argument {option}: give a" in proc.stderr
        assert "an empty one is refused" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_a_site_names_only_its_own_meters(tmp_path: Path) -> None:
    site = tmp_path / "site"
    seeded = main(
        *("--data-dir", str(site), "demo", "seed", "--buildings", "1", "--floors", "1"),
        *("--rooms-per-floor", "2", "--history-days", "0"),
        password=DEMO_PASSWORD,
    )
    assert seeded.returncode == 0, seeded.stderr
    listed = main("--data-dir", str(site), "meter", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    meter = json.loads(listed.stdout)[0]
    db = Database(sqlite_url_for(site))
    try:
        require_field(db)
        require_field(db, meter["bus_url"], meter["address"])
        with pytest.raises(NotSignedIn, match="is not one of the meters of"):
            require_field(db, "/dev/ttyUSB9", meter["address"])
        with pytest.raises(NotSignedIn, match="is not one of the meters of"):
            require_field(db, meter["bus_url"], "200")
    finally:
        db.dispose()
