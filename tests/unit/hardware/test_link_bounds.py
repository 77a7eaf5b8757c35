"""Every receive on a Link ends within its bound: a flood of wake-up bytes, a reply that
trickles on for ever and a port that fails under it end in a wire error, never a hang."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import serial

from app.hardware.dlt645 import codec as dlt645
from app.hardware.errors import FrameError, PortLost
from app.hardware.link import MAX_FRAME, LineSettings, Link

SETTINGS = LineSettings(baudrate=9600, parity="E", timeout_s=0.2)


class FakeClock:
    """Monotonic time that moves only when the fake port says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


class ScriptedPort:
    """A port whose every read gives what ``answer(size)`` says, moving the clock by
    ``per_read_s`` (the time the bytes took to come)."""

    def __init__(
        self, clock: FakeClock, answer: Callable[[int], bytes], per_read_s: float = 0.0
    ) -> None:
        self.clock = clock
        self.answer = answer
        self.per_read_s = per_read_s
        self.timeout: float | None = None
        self.reads = 0
        self.waiting = 1  # what ``in_waiting`` says

    @property
    def in_waiting(self) -> int:
        return self.waiting

    def write(self, data: bytes, /) -> int:
        return len(data)

    def read(self, size: int = 1, /) -> bytes:
        self.reads += 1
        self.clock.now += self.per_read_s
        return self.answer(size)

    def flush(self) -> None:
        pass

    def reset_input_buffer(self) -> None:
        pass

    def close(self) -> None:
        pass


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr("app.hardware.link.time.monotonic", fake.monotonic)
    return fake


def receive_in_thread(link: Link) -> BaseException | bytes:
    """``link.receive`` of a DL/T 645 frame on a thread: what it returned or raised. A receive
    still running after 10 s fails the test (a bound for a stuck test, not a measurement)."""
    outcome: list[BaseException | bytes] = []

    def run() -> None:
        try:
            outcome.append(
                link.receive(dlt645.frame_length, shortest=dlt645.SHORTEST_FRAME, timeout_s=0.2)
            )
        except BaseException as exc:  # handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "receive did not end"
    return outcome[0]


def test_a_flood_of_wake_up_bytes_is_a_frame_error(clock: FakeClock) -> None:
    """DL/T 645 and CJ/T 188 skip any number of FE bytes before a frame: a line that sends
    nothing else used to keep a read going for ever (each byte extended the deadline)."""
    port = ScriptedPort(clock, lambda size: b"\xfe" * size, per_read_s=0.001)
    outcome = receive_in_thread(Link(port, SETTINGS))
    assert isinstance(outcome, FrameError)
    assert "without forming a frame" in str(outcome)
    assert port.reads <= MAX_FRAME + 1  # given up once more than a frame's bytes came


def test_a_reply_that_trickles_on_is_cut_at_the_frame_bound(clock: FakeClock) -> None:
    """A meter that sends a byte just before each timeout ran out: a silence timeout alone
    would wait 255 times the timeout for a long frame; the bound is the timeout plus the
    wire time of the longest frame."""
    header = bytes.fromhex("68 01 00 00 00 00 00 68 91 F0")  # says 240 data bytes follow
    stream = iter(header + bytes(300))
    port = ScriptedPort(clock, lambda _size: bytes([next(stream)]), per_read_s=0.15)
    link = Link(port, SETTINGS)
    started = clock.now
    outcome = receive_in_thread(link)
    assert isinstance(outcome, FrameError)
    assert "did not end within" in str(outcome)
    assert clock.now - started <= link.frame_bound_s(0.2) + 0.15


def test_a_port_that_fails_while_reading_is_a_lost_port(clock: FakeClock) -> None:
    def unplugged(_size: int) -> bytes:
        raise serial.SerialException(
            "device reports readiness to read but returned no data "
            "(device disconnected or multiple access on port?)"
        )

    outcome = receive_in_thread(Link(ScriptedPort(clock, unplugged), SETTINGS))
    assert isinstance(outcome, PortLost)
    assert "the port stopped working: device reports readiness" in str(outcome)


def test_a_port_that_fails_while_writing_is_a_lost_port(clock: FakeClock) -> None:
    port = ScriptedPort(clock, lambda _size: b"")
    port.waiting = 0  # the line is silent before the request

    def gone(_data: bytes) -> int:
        raise serial.SerialException("write failed: [Errno 5] Input/output error")

    port.write = gone  # type: ignore[method-assign]
    with pytest.raises(PortLost, match="Input/output error"):
        Link(port, SETTINGS).send(b"\x68")
