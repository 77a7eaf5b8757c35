"""Loopback ports for Modbus driver tests: the far end of the "line" is a function that answers
request bytes (our simulator's responder, a scripted meter, or a Modbus TCP gateway in front of
a responder). No threads, no timing: a reply is available as soon as the request is written."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from app.hardware.link import LineSettings, Link
from app.hardware.modbus import pymodbus_adapter as mb
from app.hardware.profiles import Profile, load_profile_file, parse_profile

Answer = Callable[[bytes], bytes | None]

FAST_LINE = LineSettings(baudrate=115200, timeout_s=0.05)
PROFILES = Path(__file__).resolve().parents[4] / "resources" / "meters"


class LoopbackPort:
    """A ``SerialPort`` whose far end is ``answer``."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.timeout: float | None = None
        self.written: list[bytes] = []
        self._pending = b""

    def write(self, data: bytes, /) -> int:
        self.written.append(bytes(data))
        reply = self.answer(bytes(data))
        if reply:
            self._pending += reply
        return len(data)

    def read(self, size: int = 1, /) -> bytes:
        chunk, self._pending = self._pending[:size], self._pending[size:]
        if not chunk and self.timeout:
            time.sleep(min(self.timeout, 0.01))  # as a real port waits for its timeout
        return chunk

    @property
    def in_waiting(self) -> int:
        return len(self._pending)

    def flush(self) -> None:
        pass

    def reset_input_buffer(self) -> None:
        self._pending = b""

    def close(self) -> None:
        pass


def loopback_link(answer: Answer, *, mbap: bool = False) -> tuple[Link, LoopbackPort]:
    port = LoopbackPort(answer)
    link = Link(port, FAST_LINE)
    link.mbap = mbap
    return link, port


def mbap_gateway(rtu_answer: Answer) -> Answer:
    """A Modbus TCP gateway in front of an RTU line: MBAP in, RTU to the line, MBAP back."""

    def answer(frame: bytes) -> bytes | None:
        tid, unit, pdu = frame[0:2], frame[6], frame[7:]
        rtu = bytes([unit]) + pdu
        reply = rtu_answer(rtu + mb.crc16(rtu))
        if reply is None:
            return None
        body = reply[:-2]  # unit + PDU without the CRC
        return tid + b"\x00\x00" + len(body).to_bytes(2, "big") + body

    return answer


def shipped_profile(name: str) -> Profile:
    return load_profile_file(PROFILES / f"{name}.toml")


def profile_from_text(text: str, name: str = "test-meter") -> Profile:
    return parse_profile(text, Path(f"{name}.toml"))


RELAY_PROFILES = ("acrel-ddsy1352", "hiking-dds238")
