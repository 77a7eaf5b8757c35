"""The technician's wire commands end, with their documented exit code and one line saying
what happened, on a line that dies mid-read, a line flooded with wake-up bytes, addresses the
protocol cannot have and line settings outside sane ranges: never a hang or a traceback."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.demo.site import DEMO_PASSWORD
from tests.support import REPO, pty_pair, run_python

SDM = "sim://wire-bounds?profile=eastron-sdm120&addresses=1-3"


def main(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_python(["main.py", *args], env=env, timeout=120)


def error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The one ``error:`` line of a command that failed cleanly."""
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip().startswith("error: ")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.fixture
def flooded_line() -> Iterator[str]:
    """A pseudo-terminal whose far end sends nothing but FE wake-up bytes, without end."""
    console, far, close = pty_pair()
    stop = threading.Event()
    fd = os.open(far, os.O_RDWR | os.O_NONBLOCK | os.O_NOCTTY)

    def flood() -> None:
        while not stop.is_set():
            with contextlib.suppress(BlockingIOError):
                os.write(fd, b"\xfe" * 64)
            time.sleep(0.002)

    thread = threading.Thread(target=flood, name="FE flood", daemon=True)
    thread.start()
    yield console
    stop.set()
    thread.join(timeout=5)
    os.close(fd)
    close()


def test_a_flood_of_wake_up_bytes_ends_as_a_garbled_reply(flooded_line: str) -> None:
    for profile, address in (("dlt645-2007", "000000000001"), ("cjt188-water", "1" * 14)):
        proc = main(
            "meter",
            "read",
            *("--port", flooded_line, "--profile", profile, "--address", address),
            *("--timeout-ms", "100"),
        )
        assert proc.returncode == 15, proc.stderr
        assert "without forming a frame" in error_line(proc)


@pytest.fixture
def dying_gateway() -> Iterator[str]:
    """A ``socket://`` gateway that takes each request, sends two bytes of a reply and hangs
    up (a gateway switched off mid-read)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                with contextlib.suppress(OSError):
                    conn.recv(256)
                    conn.sendall(b"\x01\x03")

    thread = threading.Thread(target=serve, name="dying gateway", daemon=True)
    thread.start()
    yield f"socket://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    server.close()


def test_a_line_that_dies_mid_read_ends_as_a_port_that_stopped_working(
    dying_gateway: str,
) -> None:
    proc = main(
        "meter",
        "read",
        *("--port", dying_gateway, "--profile", "eastron-sdm120", "--address", "1"),
    )
    assert proc.returncode == 11, proc.stderr
    line = error_line(proc)
    assert f"meter 1 on {dying_gateway}: the port stopped working" in line
    assert "Check the cable, the adapter or the gateway" in line


@pytest.fixture(scope="module")
def modbus_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site with a Modbus bus on a simulated line, scanned by name."""
    folder = tmp_path_factory.mktemp("wire-site")
    seeded = run_python(
        ["main.py", "demo", "seed", "--data-dir", str(folder), "--buildings", "1", "--floors",
         "1", "--rooms-per-floor", "1"]
    )  # fmt: skip
    assert seeded.returncode == 0, seeded.stderr
    added = main(
        "bus",
        "add",
        *("--data-dir", str(folder), "--name", "Modbus line", "--port", SDM),
        *("--profile", "eastron-sdm120", "--user", "admin"),
        env={"METERDESK_PASSWORD": DEMO_PASSWORD},
    )
    assert added.returncode == 0, added.stderr
    return folder


def test_a_scan_of_a_site_bus_refuses_addresses_modbus_cannot_have(modbus_site: Path) -> None:
    proc = main(
        "bus",
        "scan",
        *("--data-dir", str(modbus_site), "--bus", "Modbus line", "--addresses", "0-300"),
    )
    assert proc.returncode == 2, proc.stderr
    assert "Modbus address '0' must be a number from 1 to 247" in error_line(proc)


@pytest.mark.parametrize(
    ("profile", "addresses", "words"),
    [
        ("eastron-sdm120", "200-300", "Modbus address '248' must be a number from 1 to 247"),
        ("dlt645-2007", "1234567890123", "at most 12 digits, 000000000000 to 999999999999"),
        ("eastron-sdm120", "9" * 5000, "is not an address or a range like 1-32"),
    ],
)
def test_a_scan_of_a_port_refuses_addresses_the_protocol_cannot_have(
    profile: str, addresses: str, words: str
) -> None:
    proc = main(
        "bus",
        "scan",
        *("--port", SDM, "--profile", profile, "--addresses", addresses, "--timeout-ms", "50"),
    )
    assert proc.returncode == 2, proc.stderr
    assert words in error_line(proc)


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--timeout-ms", "1000000000", "a reply timeout of 1000000000 ms is out of range"),
        ("--timeout-ms", "0", "give 50 to 10000 ms"),
        ("--timeout-ms", "²", "is not a whole number of milliseconds"),
        ("--baud", "1234", "1234 baud is not an RS485 meter speed"),
        ("--baud", "9" * 400, "is not a whole number of baud"),
    ],
)
@pytest.mark.parametrize("command", ["read", "scan", "simulate"])
def test_line_settings_outside_sane_ranges_are_refused(
    command: str, option: str, value: str, words: str
) -> None:
    args = {
        "read": ["meter", "read", "--port", SDM, "--profile", "eastron-sdm120", "--address", "1"],
        "scan": ["bus", "scan", "--port", SDM, "--profile", "eastron-sdm120"],
        "simulate": ["simulate", "--port", SDM, "--profile", "eastron-sdm120", "--addresses", "1"],
    }[command]
    proc = main(*args, option, value)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"argument {option}: " in proc.stderr
    assert words in proc.stderr
    assert proc.stdout == ""


def test_a_bus_test_on_a_line_that_dies_ends_as_a_port_that_stopped_working(
    modbus_site: Path, dying_gateway: str
) -> None:
    as_admin = ("--data-dir", str(modbus_site), "--user", "admin")
    env = {"METERDESK_PASSWORD": DEMO_PASSWORD}
    added = main(
        "bus", "add", "--name", "Gateway line", "--port", dying_gateway,
        "--profile", "eastron-sdm120", *as_admin, env=env,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    meter = main(
        "meter", "add", "--serial", "GW-1", "--bus", "Gateway line", "--address", "1",
        *as_admin, env=env,
    )  # fmt: skip
    assert meter.returncode == 0, meter.stderr
    proc = main("bus", "test", "--data-dir", str(modbus_site), "--bus", "Gateway line")
    assert proc.returncode == 11, proc.stderr
    assert "bus Gateway line: the port stopped working" in error_line(proc)


def test_simulate_on_a_line_that_goes_away_ends_with_the_reason() -> None:
    _console, far, close = pty_pair()
    server = subprocess.Popen(
        [sys.executable, "main.py", "simulate", "--port", far, "--profile", "eastron-sdm120",
         "--addresses", "1"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        assert "Serving 1 simulated eastron-sdm120 meter(s)" in server.stdout.readline()
    finally:
        close()  # the far end's pseudo-terminal pair is gone
    try:
        _out, err = server.communicate(timeout=60)
    finally:
        server.kill()
    assert server.returncode == 11, err
    assert "Traceback" not in err
    assert f"error: {far} stopped working after 0 requests" in err
