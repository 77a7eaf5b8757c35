"""A Link wired straight to a simulated line's Answerer, in memory: every reply is readable as
soon as its request is written, so drivers and scans are tested without timing."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from app.hardware.driver import ProtocolSpec
from app.hardware.link import FrameRecord, LineSettings, Link
from app.hardware.simulator.faults import Answerer
from app.hardware.simulator.sim_meter import SimMeter

# The loop answers at once, so a short timeout only bounds the wait for a reply that never
# comes (an empty branch of the search).
FAST = LineSettings(baudrate=115200, parity="E", timeout_s=0.01)


class LoopPort:
    """A SerialPort whose far end is an Answerer: a reply is readable as soon as the request
    is written. ``mangle`` may rewrite each reply on its way back."""

    def __init__(self, answerer: Answerer) -> None:
        self.answerer = answerer
        self.timeout: float | None = None
        self.mangle: Callable[[bytes], bytes] = lambda reply: reply
        self.requests: list[bytes] = []
        self._rx = bytearray()

    @property
    def in_waiting(self) -> int:
        return len(self._rx)

    def write(self, data: bytes, /) -> int:
        self.requests.append(bytes(data))
        answer = self.answerer.answer(bytes(data))
        if answer is not None:
            self._rx += self.mangle(answer.reply)
        return len(data)

    def read(self, size: int = 1, /) -> bytes:
        chunk = bytes(self._rx[:size])
        del self._rx[:size]
        return chunk

    def flush(self) -> None:
        pass

    def reset_input_buffer(self) -> None:
        self._rx.clear()

    def close(self) -> None:
        pass


def loop(
    spec: ProtocolSpec, meters: Mapping[str, SimMeter], frames: list[FrameRecord] | None = None
) -> tuple[Link, LoopPort]:
    port = LoopPort(Answerer(spec, meters))
    return Link(port, FAST, on_frame=frames.append if frames is not None else None), port
