"""A bus worker whose port goes away (the USB adapter pulled out) and comes back: every meter
counts failed polls and goes offline, the line is told down once and up again, requests queued
meanwhile fail at once with the reason, and polling resumes without waiting out the offline
probe interval."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import serial

from app.hardware.bus_worker import BusMeter, BusWorker, PollPolicy
from app.hardware.errors import PortLost, PortUnavailable
from app.hardware.link import Link
from app.hardware.simulator.faults import Answerer
from app.hardware.simulator.sim_line import SimLine, register_line, unregister_line
from app.hardware.simulator.sim_meter import SimMeter
from app.hardware.snapshot import LINE_DOWN, Quality, Snapshot
from tests.support import wait_for
from tests.unit.hardware.toy_protocol import SPEC, toy_profile

LINE = "line-down-worker"
ADDRESSES = ["1", "2", "3"]
WAIT_S = 20.0  # a bound for a stuck test, never a measurement


class Adapter:
    """A USB-RS485 adapter that can be pulled out: while it is, opening its port fails and
    the port already open fails on every use, as pyserial's do."""

    def __init__(self) -> None:
        self.pulled = threading.Event()
        self.opened = 0

    def link(self) -> Link:
        if self.pulled.is_set():
            raise PortUnavailable("cannot open /dev/ttyUSB7: [Errno 2] No such file or directory")
        self.opened += 1
        port = serial.serial_for_url(f"sim://{LINE}", timeout=0.05)
        return Link(_Pullable(port, self.pulled), toy_profile().line)


class _Pullable:
    def __init__(self, port: serial.SerialBase, pulled: threading.Event) -> None:
        self._port = port
        self._pulled = pulled
        self.timeout: float | None = port.timeout

    def _check(self) -> None:
        if self._pulled.is_set():
            raise serial.SerialException("read failed: [Errno 19] No such device")
        self._port.timeout = self.timeout

    @property
    def in_waiting(self) -> int:
        self._check()
        return int(self._port.in_waiting)

    def write(self, data: bytes, /) -> int | None:
        self._check()
        return self._port.write(data)

    def read(self, size: int = 1, /) -> bytes:
        self._check()
        return bytes(self._port.read(size))

    def flush(self) -> None:
        self._check()

    def reset_input_buffer(self) -> None:
        self._check()
        self._port.reset_input_buffer()

    def close(self) -> None:
        self._port.close()


class Run:
    def __init__(self) -> None:
        profile = toy_profile(delay_s=0.002)
        meters = {a: SimMeter(a, profile, seed=2) for a in ADDRESSES}
        register_line(SimLine(LINE, [Answerer(SPEC, meters, seed=1)]))
        self.adapter = Adapter()
        self.lock = threading.Lock()
        self.snapshots: list[Snapshot] = []
        self.told: list[str | None] = []
        self.worker = BusWorker(
            "Block 7",
            "/dev/ttyUSB7",
            profile.line,
            [BusMeter(i, a, profile) for i, a in enumerate(ADDRESSES)],
            self.collect,
            policy=PollPolicy(offline_after=2, offline_probe_s=3600, reopen_after_s=0.05),
            link_factory=self.adapter.link,
            on_line=self.told.append,
        )

    def collect(self, snapshot: Snapshot) -> None:
        with self.lock:
            self.snapshots.append(snapshot)

    def good_since(self, count: int) -> set[str]:
        with self.lock:
            return {s.address for s in self.snapshots[count:] if s.quality is Quality.GOOD}

    def counters(self) -> dict[str, tuple[int, bool | None]]:
        return {c.address: (c.failed_polls, c.online) for c in self.worker.stats.counters()}


@pytest.fixture
def run() -> Iterator[Run]:
    made = Run()
    made.worker.start()
    yield made
    made.worker.stop()
    assert not made.worker.alive, "the bus thread must end when stopped"
    unregister_line(LINE)


def test_a_pulled_adapter_is_a_line_down_for_every_meter_until_it_is_back(run: Run) -> None:
    wait_for(lambda: run.good_since(0) == set(ADDRESSES), "every meter answered", WAIT_S)
    assert run.told == [None]  # the first opening says the line is up (ends an old alarm)

    run.adapter.pulled.set()
    wait_for(
        lambda: all(online is False for _, online in run.counters().values()),
        "every meter of the line is offline",
        WAIT_S,
    )
    assert all(failed >= 2 for failed, _ in run.counters().values())
    assert run.told[0] is None
    assert run.told[1] is not None
    assert "the port stopped working: read failed: [Errno 19] No such device" in run.told[1]
    assert len(run.told) == 2, "the line is told down once, not at each attempt"
    with run.lock:
        down = [s for s in run.snapshots if s.status.get(LINE_DOWN)]
    assert {s.address for s in down} == set(ADDRESSES)
    assert all(s.quality is Quality.FAILED for s in down)
    assert "cannot open /dev/ttyUSB7" in down[-1].error

    # A relay command for the bus fails at once with the reason; it does not wait for a line
    # that is not there.
    result = run.worker.switch_supply("2", False).result(WAIT_S)
    assert not result.verified
    assert result.line_down
    assert "the line is down (cannot open /dev/ttyUSB7" in result.error
    failed_read = run.worker.read_now("1").exception(WAIT_S)
    assert isinstance(failed_read, PortUnavailable)

    count = len(run.snapshots)
    run.adapter.pulled.clear()
    # Back: told once, and the offline meters are asked at once (the probe interval is an
    # hour here), not after it.
    wait_for(lambda: run.good_since(count) == set(ADDRESSES), "every meter answered again", WAIT_S)
    assert run.told[-1] is None
    assert all(online for _, online in run.counters().values())


def test_a_read_cut_off_by_the_port_failing_fails_with_the_reason(run: Run) -> None:
    wait_for(lambda: run.good_since(0) == set(ADDRESSES), "every meter answered", WAIT_S)
    run.worker.polling = False
    opened = run.adapter.opened

    def pull_then_read(link: Link) -> None:
        run.adapter.pulled.set()
        link.send(b"\x01\x03")

    broken = run.worker.call(pull_then_read)
    assert isinstance(broken.exception(WAIT_S), PortLost)
    queued = run.worker.read_now("1")
    assert isinstance(queued.exception(WAIT_S), PortUnavailable)
    run.adapter.pulled.clear()
    wait_for(lambda: run.told[-1] is None, "the line is up again", WAIT_S)
    snapshot = run.worker.read_now("3").result(WAIT_S)
    assert snapshot.quality is Quality.GOOD
    assert run.adapter.opened > opened  # the port was opened again
