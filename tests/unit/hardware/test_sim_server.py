"""The simulator's serial server when its process was starved of the CPU: several requests
arrive in one read. The master gave up on all but the last, so each is acted on and only the
last is answered (a late reply would reach a master listening for another meter)."""

from __future__ import annotations

import threading

from app.hardware.link import LineSettings
from app.hardware.modbus import SPEC
from app.hardware.modbus import pymodbus_adapter as mb
from app.hardware.simulator.faults import Answerer
from app.hardware.simulator.server import SimServer
from app.hardware.simulator.sim_meter import SimClock, SimMeter
from tests.unit.hardware.modbus.modbus_loopback import shipped_profile

LINE = LineSettings(baudrate=9600, bytesize=8, parity="N", stopbits=1, timeout_s=0.3)


class QueuedPort:
    """A port whose input is already waiting (what a starved reader finds); it stops the
    server once the input is read and what the server wrote has been kept."""

    def __init__(self, incoming: bytes, stop: threading.Event) -> None:
        self.incoming = incoming
        self.stop = stop
        self.written: list[bytes] = []
        self.timeout: float | None = None

    @property
    def in_waiting(self) -> int:
        return len(self.incoming)

    def read(self, size: int = 1) -> bytes:
        if not self.incoming:
            self.stop.set()
        chunk, self.incoming = self.incoming[:size], self.incoming[size:]
        return chunk

    def write(self, data: bytes) -> int:
        self.written.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass


def meters() -> dict[str, SimMeter]:
    profile = shipped_profile("hiking-dds238")
    return {a: SimMeter(a, profile, clock=SimClock(scale=0.0)) for a in ("1", "2")}


def serve(requests: list[mb.Request], line: dict[str, SimMeter]) -> tuple[SimServer, QueuedPort]:
    stop = threading.Event()
    port = QueuedPort(b"".join(mb.rtu_encode_request(r) for r in requests), stop)
    server = SimServer(port, LINE, Answerer(SPEC, line))  # type: ignore[arg-type]
    server.serve(stop)
    return server, port


def test_of_requests_read_at_once_only_the_last_is_answered() -> None:
    last = mb.Request(2, 3, 0x001A, 1)
    server, port = serve([mb.Request(1, 3, 0x001A, 1), last], meters())
    assert (server.requests, server.replies, server.superseded) == (2, 1, 1)
    assert len(port.written) == 1
    assert mb.rtu_decode_reply(port.written[0], last).registers == (1,)


def test_a_request_given_up_on_is_still_acted_on() -> None:
    line = meters()
    serve([mb.Request(1, 16, 0x001A, values=(0,)), mb.Request(2, 3, 0x001A, 1)], line)
    assert line["1"].supply_on is False  # the relay write took effect, unanswered
    assert line["2"].supply_on is True


def test_a_request_alone_is_answered() -> None:
    request = mb.Request(1, 3, 0x001A, 1)
    server, port = serve([request], meters())
    assert (server.requests, server.replies, server.superseded) == (1, 1, 0)
    assert mb.rtu_decode_reply(port.written[0], request).registers == (1,)
