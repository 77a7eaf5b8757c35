"""The "Block 7" site set up from an empty data folder through the commands and a workbook, as
an office's IT person scripts it, then run: one building of 3 floors x 10 rooms, 30 Hiking
DDS238-2 meters (with relays) at addresses 1-30 on a USB-RS485 line at 9600 8N1 (here a socat
pseudo-terminal pair, the meters served by ``main.py simulate``), a single rate of 0.60 CNY/kWh
and warnings at 20 and 5 CNY.

``main.py serve`` then polls all 30 meters; the account of room 7-101 runs down on its own
usage, is warned twice and cut (the relay read back open), and a recharge from the command line
restores it. The simulated meters run 20,000 times faster than real time (the test lasts
seconds); their rating is raised in the database so that the engine does not hold such
registers as implausible (a real meter counts in real time)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from app.documents.site_workbook import read_workbook, write_workbook
from app.store.database import Database, sqlite_url_for
from app.store.models import Account, Alarm, Meter, Room
from app.vocabulary import AlarmKind, SupplyState
from tests.support import REPO, run_python, socat_pair, wait_for

ADMIN = ("--user", "admin")
PASSWORD = {"METERDESK_PASSWORD": "block-7-admin"}
TARIFF = """name = "Block 7 electricity"
utility = "electricity"
unit = "kWh"
currency = "CNY"
effective_from = 2026-01-01
price = "0.6000"
"""
POLICY = """name = "Block 7 students"
currency = "CNY"
alarm_1 = "20.00"
alarm_2 = "5.00"
overdraft_limit = "0.00"
close_permit = "1.00"
"""


def main(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # As tests/integration/cli/conftest.py runs it: the program must not behave differently
    # under CI.
    return run_python(
        ["main.py", "--data-dir", str(folder), *args], env=PASSWORD, unset=["CI"], timeout=300
    )


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def spawn(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, **PASSWORD}
    env.pop("CI", None)  # as in main()
    return subprocess.Popen(
        [sys.executable, "main.py", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    try:
        out, _err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _err = proc.communicate()
    return out


@pytest.fixture
def line() -> Iterator[tuple[str, str]]:
    """The console's end and the meters' end of a null-modem cable."""
    console, meters, close = socat_pair()
    try:
        yield console, meters
    finally:
        close()


def test_block_7_from_an_empty_folder_through_commands_and_a_workbook(
    tmp_path: Path, line: tuple[str, str]
) -> None:
    console, meters_end = line
    site = tmp_path / "block7"
    simulator = spawn(
        *("simulate", "--port", meters_end, "--profile", "hiking-dds238"),
        *("--addresses", "1-30", "--time-scale", "20000"),
    )
    serve: subprocess.Popen[str] | None = None
    try:
        assert simulator.stdout is not None
        assert "Serving 30 simulated hiking-dds238 meter(s)" in simulator.stdout.readline()
        # The site, from nothing: the first command makes the database.
        assert "Administrator admin created" in ok(
            main(site, "operator", "first-admin", "--user", "admin", "--name", "Block 7 office")
        )
        ok(
            main(
                site,
                *("site", "init", "--name", "Block 7 Dormitory", "--timezone", "Asia/Shanghai"),
                *("--currency", "CNY", "--address", "7 College Road", *ADMIN),
            )
        )
        assert "code 7" in ok(main(site, "building", "add", "--name", "Block 7", *ADMIN))
        preview = ok(
            main(
                site,
                "room",
                "generate",
                "--building",
                "Block 7",
                "--floors",
                "1-3",
                "--rooms",
                "01-10",
                "--dry-run",
            )
        )
        assert "30 rooms would be added" in preview
        assert "30 rooms added" in ok(
            main(
                site,
                "room",
                "generate",
                "--building",
                "Block 7",
                "--floors",
                "1-3",
                "--rooms",
                "01-10",
                *ADMIN,
            )
        )
        (tmp_path / "tariff.toml").write_text(TARIFF, encoding="utf-8")
        (tmp_path / "policy.toml").write_text(POLICY, encoding="utf-8")
        ok(main(site, "tariff", "import", str(tmp_path / "tariff.toml"), *ADMIN))
        ok(main(site, "policy", "import", str(tmp_path / "policy.toml"), *ADMIN))
        ok(
            main(
                site,
                *("bus", "add", "--name", "Block 7 meters", "--port", console),
                *("--profile", "hiking-dds238", "--baud", "9600", "--parity", "N"),
                # The line is a pty and the meters a process on a busy test machine: a second
                # rather than the profile's 300 ms, so a slow reply is not taken for no meter.
                *("--timeout-ms", "1000", *ADMIN),
            )
        )
        # No meters yet: the port opened, nothing to ask.
        assert "No meters on this bus yet: add them, or find them with 'main.py bus scan'." in ok(
            main(site, "bus", "test", "--bus", "Block 7 meters")
        )

        # Scan the line, fill the rooms into what it wrote, add the tenants, import it all.
        scanned = tmp_path / "scan.xlsx"
        scan = json.loads(
            ok(
                main(
                    site,
                    *("bus", "scan", "--bus", "Block 7 meters", "--addresses", "1-30"),
                    *("--save", str(scanned), "--json"),
                )
            )
        )
        assert sorted(int(hit["address"]) for hit in scan["found"]) == list(range(1, 31))
        found = read_workbook(scanned).sheets["meters"]
        rooms = [f"7-{floor}{n:02d}" for floor in (1, 2, 3) for n in range(1, 11)]
        meters = [
            {**row.values, "serial": f"H7-{int(row.values['address']):03d}", "room": room}
            for row, room in zip(
                sorted(found, key=lambda r: int(r.values["address"])), rooms, strict=True
            )
        ]
        tenants = [
            {
                "room": room,
                "holder": f"Student {n}",
                "holder_ref": f"2026{n:04d}",
                "phone": "",
                "tariffs": "Block 7 electricity",
                "policy": "Block 7 students",
                "opening_balance": "25.00" if room == "7-101" else "5000.00",
            }
            for n, room in enumerate(rooms, start=1)
        ]
        workbook = tmp_path / "block7.xlsx"
        write_workbook(workbook, {"meters": meters, "tenants": tenants})
        dry = ok(main(site, "site", "import", str(workbook), "--dry-run"))
        assert "meters: 30 to add" in dry
        assert "tenants: 30 to add" in dry
        assert "Nothing was written" in dry
        assert "meters: 30 added" in ok(main(site, "site", "import", str(workbook), *ADMIN))
        assert "Nothing to change" in ok(main(site, "site", "import", str(workbook), *ADMIN))
        assert "30 of 30 meters answered" in ok(
            main(site, "bus", "test", "--bus", "Block 7 meters")
        )

        db = Database(sqlite_url_for(site))
        with db.transaction() as session:  # time runs fast: see the module docstring
            session.execute(update(Meter).values(rated_current_a=1_000_000))
            account_id, number = session.execute(
                select(Account.id, Account.number)
                .join(Room, Room.id == Account.room_id)
                .where(Room.label == "7-101")
            ).one()

        serve = spawn("serve", "--data-dir", str(site), "--interval", "1", "--post-every", "1")

        def polled() -> int:
            with db.session() as session:
                return (
                    session.scalar(
                        select(func.count())
                        .select_from(Meter)
                        .where(Meter.last_seen_at.is_not(None))
                    )
                    or 0
                )

        wait_for(lambda: polled() == 30, "serve polled all 30 meters", timeout=120)

        def account() -> tuple[SupplyState, bool | None]:
            with db.session() as session:
                state = session.get_one(Account, account_id).supply_state
                relay = session.scalars(
                    select(Meter.relay_closed).where(Meter.account_id == account_id)
                ).one()
                return state, relay

        wait_for(
            lambda: account() == (SupplyState.CUT_OFF, False),
            "room 7-101 ran down and was cut, the relay read back open",
            timeout=180,
        )
        with db.session() as session:
            kinds = [
                a.kind
                for a in session.scalars(
                    select(Alarm).where(Alarm.account_id == account_id).order_by(Alarm.id)
                )
            ]
        assert kinds[:2] == [AlarmKind.LOW_BALANCE_1, AlarmKind.LOW_BALANCE_2]
        assert AlarmKind.CUT_OFF in kinds

        paid = ok(
            main(
                site,
                *("account", "recharge", "--account", number, "--amount", "500"),
                *("--method", "cash", *ADMIN),
            )
        )
        assert "Receipt" in paid or "receipt" in paid
        wait_for(
            lambda: account()[1] is True and account()[0] is not SupplyState.CUT_OFF,
            "the recharge restored room 7-101",
            timeout=60,
        )
        summary = json.loads(stop(serve).strip().splitlines()[-1])
        serve = None
        assert summary["buses"] == 1
        db.dispose()
        verified = main(site, "ledger", "verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr
    finally:
        if serve is not None:
            stop(serve)
        stop(simulator)
