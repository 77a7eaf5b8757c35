"""Helpers shared by tests of every layer (imported as ``tests.support``)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import serial

from app.hardware.driver import ProtocolSpec
from app.hardware.link import FrameRecord, LineSettings, Link
from app.hardware.simulator.faults import Answerer
from app.hardware.simulator.server import SimServer
from app.hardware.simulator.sim_meter import SimClock, SimMeter

REPO = Path(__file__).resolve().parents[1]

# The Modbus meter profiles whose register maps were checked; Modbus tests run against each.
MODBUS_PROFILES = (
    "eastron-sdm120",
    "eastron-sdm630",
    "chint-ddsu666",
    "chint-dtsu666",
    "acrel-ddsy1352",
    "hiking-dds238",
)


def run_python(
    args: Sequence[str],
    *,
    cwd: Path = REPO,
    env: Mapping[str, str] | None = None,
    prefix: Sequence[str] = (),
    unset: Sequence[str] = (),
    timeout: float = 180,
) -> subprocess.CompletedProcess[str]:
    """Run ``python ARGS`` (this interpreter) as a separate process and capture its output.

    ``env`` is added to this process's environment; ``prefix`` goes before the interpreter
    (e.g. ``setpriv`` to run as another user); ``unset`` names variables to leave out.
    """
    full_env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    for name in unset:
        full_env.pop(name, None)
    return subprocess.run(
        [*prefix, sys.executable, *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def pty_pair() -> tuple[str, str, Callable[[], None]]:
    """Two linked pseudo-terminals in raw mode, like a null-modem cable: bytes written to one
    path are read from the other. Returns both device paths and a function that closes them."""
    import pty
    import tty

    master_a, slave_a = pty.openpty()
    master_b, slave_b = pty.openpty()
    for fd in (slave_a, slave_b):
        tty.setraw(fd)
    stop = threading.Event()

    def pump(src: int, dst: int) -> None:
        import select

        while not stop.is_set():
            ready, _, _ = select.select([src], [], [], 0.05)
            if ready:
                try:
                    data = os.read(src, 4096)
                except OSError:
                    return
                if data:
                    os.write(dst, data)

    threads = [
        threading.Thread(target=pump, args=(master_a, master_b), daemon=True),
        threading.Thread(target=pump, args=(master_b, master_a), daemon=True),
    ]
    for thread in threads:
        thread.start()

    def close() -> None:
        stop.set()
        for thread in threads:
            thread.join(timeout=2)
        for fd in (master_a, master_b, slave_a, slave_b):
            with contextlib.suppress(OSError):
                os.close(fd)

    return os.ttyname(slave_a), os.ttyname(slave_b), close


def socat_pair() -> tuple[str, str, Callable[[], None]]:
    """A pseudo-terminal pair made by ``socat -d -d pty,raw,echo=0 pty,raw,echo=0``, the way a
    technician links two programs on one PC: the two device paths and a function that stops
    socat. Skips the test when socat is missing, except in CI (CI=true), where it fails."""
    import shutil
    import tempfile
    import time

    exe = shutil.which("socat")
    if exe is None:
        if os.environ.get("CI") == "true":
            raise RuntimeError("socat is not installed (apt-get install socat)")
        import pytest

        pytest.skip("socat is not installed (apt-get install socat)")
    folder = Path(tempfile.mkdtemp(prefix="socat-"))
    ends = (folder / "a", folder / "b")
    log = (folder / "socat.log").open("wb")
    proc = subprocess.Popen(
        [exe, "-d", "-d", f"pty,raw,echo=0,link={ends[0]}", f"pty,raw,echo=0,link={ends[1]}"],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )

    def close() -> None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()
        for end in (*ends, folder / "socat.log"):
            end.unlink(missing_ok=True)
        folder.rmdir()

    deadline = time.monotonic() + 10
    while not all(end.exists() for end in ends):
        if proc.poll() is not None or time.monotonic() > deadline:
            said = (folder / "socat.log").read_text(errors="replace")[-500:]
            close()
            raise RuntimeError(f"socat did not make its pty pair ({proc.poll()}): {said}")
        time.sleep(0.02)
    return str(ends[0].resolve()), str(ends[1].resolve()), close


class ManualClock(SimClock):
    """Simulated time that starts at ``start`` and moves only when a test says so (no
    wall-clock dependence)."""

    def __init__(self, start: datetime) -> None:
        super().__init__(scale=0.0, start=start)
        self._seconds = 0.0

    def seconds(self) -> float:
        return self._seconds

    def advance(self, seconds: float) -> None:
        self._seconds += seconds


def open_pty_port(path: str, settings: LineSettings) -> serial.Serial:
    """The pseudo-terminal ``path`` with the line's settings. Some kernels refuse PARENB on a
    pseudo-terminal (EINVAL, sometimes only at the next reconfiguration); a pty carries no
    parity bit anyway, so the same bytes then flow with parity N."""
    import termios

    options = {
        "baudrate": settings.baudrate,
        "bytesize": settings.bytesize,
        "stopbits": settings.stopbits,
        "timeout": settings.timeout_s,
    }
    port = None
    try:
        port = serial.Serial(path, parity=settings.parity, **options)
        port.timeout = settings.timeout_s / 2  # Link and SimServer reconfigure: try it now
        port.timeout = settings.timeout_s
        return port
    except termios.error:
        if port is not None:
            port.close()
        return serial.Serial(path, parity=serial.PARITY_NONE, **options)


class SimulatedLine(NamedTuple):
    link: Link  # the console end, where a driver talks
    server: SimServer  # the far end, counting requests and replies


@contextlib.contextmanager
def simulated_line(
    spec: ProtocolSpec,
    meters: Mapping[str, SimMeter],
    settings: LineSettings,
    *,
    seed: int = 0,
    on_frame: Callable[[FrameRecord], None] | None = None,
) -> Iterator[SimulatedLine]:
    """Our simulator serving ``meters`` (``spec``'s responder, faults drawn from ``seed``) on
    its own thread at one end of a pty pair, and a Link with ``on_frame`` at the other. On the
    way out, however the block ends, the thread is stopped and must have ended, and both ports
    and the pty pair are closed."""
    console, far_end, close_ptys = pty_pair()
    ports: list[serial.Serial] = []
    stop = threading.Event()
    thread: threading.Thread | None = None
    try:
        ports.append(open_pty_port(far_end, settings))
        server = SimServer(ports[-1], settings, Answerer(spec, meters, seed=seed))
        thread = threading.Thread(
            target=server.serve, args=(stop,), name=f"sim-{spec.name}", daemon=True
        )
        thread.start()
        ports.append(open_pty_port(console, settings))
        yield SimulatedLine(Link(ports[-1], settings, on_frame=on_frame), server)
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=5)
        for port in ports:
            port.close()
        close_ptys()
        assert thread is None or not thread.is_alive(), "the simulator thread did not stop"


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds (a
    bound for a stuck test, never a measurement)."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)


def unmigrated_folder(folder: Path) -> Path:
    """A data folder holding an empty SQLite database file (no schema yet): a command that
    needs the schema must ask for ``main.py db upgrade``. Returns the folder."""
    import sqlite3

    from app.store.database import DB_FILE_NAME

    folder.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(folder / DB_FILE_NAME)
    conn.execute("VACUUM")  # writes the file's header: an empty database, not a missing one
    conn.close()
    return folder
