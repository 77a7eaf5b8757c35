"""The technician's command line against simulated meters: sim:// lines and a real pty pair."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app.demo.site import DEMO_PASSWORD
from tests.support import REPO, pty_pair, run_python

SDM = "sim://cli-sdm?profile=eastron-sdm120&addresses=1-3"
HIKING = "sim://cli-hiking?profile=hiking-dds238&addresses=1-2"


def main(*args: str) -> subprocess.CompletedProcess[str]:
    return run_python(["main.py", *args], timeout=120)


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_meter_read_json_has_the_documented_keys() -> None:
    proc = main(
        "meter", "read", "--port", SDM, "--profile", "eastron-sdm120", "--address", "2", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    for key in ("voltage_v", "current_a", "power_w", "power_factor", "energy_import_kwh"):
        assert isinstance(data[key], float), key
    assert data["relay_closed"] is None  # the SDM120 has no relay
    assert 200 < data["voltage_v"] < 240
    assert data["quality"] == "good"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site database with the demo's operators, who sign in to switch relays."""
    folder = tmp_path_factory.mktemp("site")
    size = ["--buildings", "1", "--floors", "1", "--rooms-per-floor", "1"]
    seeded = run_python(["main.py", "demo", "seed", "--data-dir", str(folder), *size])
    assert seeded.returncode == 0, seeded.stderr
    # The lines the relay tests switch on are the site's own: a relay is switched only on a
    # meter of the site whose operator signs in.
    for bus, port, profile in (
        ("cli-hiking", HIKING, "hiking-dds238"),
        ("cli-sdm", SDM, "eastron-sdm120"),
    ):
        steps = (
            ["bus", "add", "--name", bus, "--port", port, "--profile", profile],
            ["meter", "add", "--serial", f"{bus}-1", "--bus", bus, "--address", "1"],
        )
        for step in steps:
            done = run_python(
                ["main.py", *step, "--user", "admin", "--data-dir", str(folder)],
                env={"METERDESK_PASSWORD": DEMO_PASSWORD},
            )
            assert done.returncode == 0, done.stderr
    return folder


def relay(site: Path, user: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_python(
        ["main.py", "meter", "relay", *args, "--user", user, "--data-dir", str(site)],
        env={"METERDESK_PASSWORD": DEMO_PASSWORD},
        timeout=120,
    )


def test_meter_relay_switches_verifies_and_is_audited(site: Path) -> None:
    proc = relay(
        site, "technician", "--port", HIKING, "--profile", "hiking-dds238", "--address", "1", "off"
    )
    assert proc.returncode == 0, proc.stderr
    assert "open (supply off), verified by read-back" in proc.stdout
    with sqlite3.connect(site / "meterdesk.sqlite3") as conn:
        action, target = conn.execute(
            "SELECT action, target_id FROM audit_event ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert (action, target) == ("relay.switch", f"{HIKING} #1")


def test_a_cashier_may_not_switch_a_relay(site: Path) -> None:
    proc = relay(
        site, "cashier", "--port", HIKING, "--profile", "hiking-dds238", "--address", "1", "off"
    )
    assert proc.returncode == 16
    assert "A cashier may not switch relays and valves" in one_line_error(proc)
    assert proc.stdout == ""


def test_a_meter_that_does_not_answer_times_out_with_its_own_code() -> None:
    proc = main(
        "meter",
        "read",
        "--port",
        SDM,
        "--profile",
        "eastron-sdm120",
        "--address",
        "9",
        "--timeout-ms",
        "100",
    )
    assert proc.returncode == 12
    assert "no reply" in one_line_error(proc)


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (
            ["--port", SDM, "--profile", "no-such-meter", "--address", "1"],
            10,
            "unknown meter profile 'no-such-meter'",
        ),
        (
            ["--port", "/dev/ttyNOPE9", "--profile", "eastron-sdm120", "--address", "1"],
            11,
            "cannot open /dev/ttyNOPE9",
        ),
        (
            ["--port", SDM, "--profile", "eastron-sdm120", "--address", "300"],
            2,
            "must be a number from 1 to 247",
        ),
        (["--port", SDM, "--profile", "dlt645-2007", "--address", "12"], 2, "must be 12 digits"),
    ],
)
def test_bad_input_gets_one_clear_line_and_a_distinct_code(
    args: list[str], code: int, words: str
) -> None:
    proc = main("meter", "read", *args)
    assert proc.returncode == code, proc.stderr
    assert words in one_line_error(proc)


def test_a_relay_is_switched_only_on_a_meter_of_the_signed_in_site(site: Path) -> None:
    proc = relay(
        site, "technician", "--port", HIKING, "--profile", "hiking-dds238", "--address", "2", "off"
    )
    assert proc.returncode == 16
    assert "is not one of the meters of" in one_line_error(proc)
    assert proc.stdout == ""


def test_relay_on_a_meter_without_one_is_refused(site: Path) -> None:
    proc = relay(
        site, "supervisor", "--port", SDM, "--profile", "eastron-sdm120", "--address", "1", "on"
    )
    assert proc.returncode == 13
    assert "has no relay" in one_line_error(proc)


def test_bus_scan_finds_exactly_the_meters_present() -> None:
    proc = main(
        "bus",
        "scan",
        "--port",
        "sim://cli-scan?profile=eastron-sdm120&addresses=3,7",
        "--profile",
        "eastron-sdm120",
        "--addresses",
        "1-10",
        "--timeout-ms",
        "60",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [hit["address"] for hit in data["found"]] == ["3", "7"]
    assert data["problems"] == []
    for hit in data["found"]:
        assert hit["profile"] == "eastron-sdm120"
        assert hit["model"].startswith("Eastron SDM120")
        assert hit["serial"] is None  # Modbus meters tell no meter number
        assert hit["unit"] == "kWh"
        assert hit["register"] > 0


def test_simulate_serves_a_real_serial_line_until_terminated() -> None:
    console, meters, close = pty_pair()
    server = subprocess.Popen(
        [
            sys.executable,
            "main.py",
            "simulate",
            "--port",
            meters,
            "--profile",
            "dlt645-2007",
            "--addresses",
            "000000000001-000000000003",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        assert "Serving 3 simulated dlt645-2007 meter(s)" in server.stdout.readline()
        proc = main(
            "meter",
            "read",
            "--port",
            console,
            "--profile",
            "dlt645-2007",
            "--address",
            "000000000002",
            "--json",
        )
        assert proc.returncode == 0, proc.stderr
        data = json.loads(proc.stdout)
        assert data["relay_closed"] is True
        assert data["energy_import_kwh"] > 0
        scan = main(
            "bus",
            "scan",
            "--port",
            console,
            "--profile",
            "dlt645-2007",
            "--timeout-ms",
            "300",
            "--json",
        )
        assert scan.returncode == 0, scan.stderr
        # Three meters answer the wildcard at once and collide; the search splits the
        # address space until each answers alone.
        found = json.loads(scan.stdout)["found"]
        assert [hit["address"] for hit in found] == [f"00000000000{n}" for n in (1, 2, 3)]
        assert [hit["serial"] for hit in found] == [hit["address"] for hit in found]
        assert all(hit["register"] > 0 and hit["unit"] == "kWh" for hit in found)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            out, _ = server.communicate(timeout=10)
        finally:
            close()
    assert server.returncode == 0
    assert "Stopped after" in out


def test_bus_scan_asks_a_lone_dlt645_meter_for_its_address() -> None:
    proc = main(
        "bus",
        "scan",
        "--port",
        "sim://cli-one?profile=dlt645-2007&addresses=000000000042",
        "--profile",
        "dlt645-2007",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)["found"]
    assert [(hit["address"], hit["serial"]) for hit in found] == [("000000000042",) * 2]


FOUR = ("230815000001", "230815000002", "230815000017", "231102000555")


@pytest.mark.parametrize("as_json", [True, False])
def test_bus_scan_finds_four_dlt645_meters_on_one_line(as_json: bool) -> None:
    """With no --addresses the scan searches the line: four meters whose replies to the
    wildcard collide are all found, each with its meter number and energy register."""
    url = f"sim://cli-four-{as_json}?profile=dlt645-2007&addresses={','.join(FOUR)}&delay_ms=5"
    args = ["bus", "scan", "--port", url, "--profile", "dlt645-2007"]
    proc = main(*args, "--baud", "9600", "--timeout-ms", "100", *(["--json"] if as_json else []))
    assert proc.returncode == 0, proc.stderr
    if as_json:
        found = json.loads(proc.stdout)["found"]
        assert [hit["address"] for hit in found] == list(FOUR)
        assert [hit["serial"] for hit in found] == list(FOUR)
        assert all(hit["register"] > 0 and hit["unit"] == "kWh" for hit in found)
        assert {hit["model"] for hit in found} == {
            "DL/T 645-2007 single-phase cost-control meter with relay"
        }
        return
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["address", "serial", "register", "model"]
    for address, line in zip(FOUR, lines[1:5], strict=True):
        assert line.split()[:2] == [address, address]
        assert line.split()[3] == "kWh"
    assert lines[-1] == "4 meter(s) found."
    assert "searched branches" in proc.stderr
