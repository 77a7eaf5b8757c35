"""A deliberately tiny protocol for testing the bus machinery apart from real protocols.

Request: 7E addr cmd sum 16 (5 bytes); cmd 01 read, 02 supply off, 03 supply on.
Reply: 7E addr cmd|80 p_hi p_lo supply sum 16 (8 bytes), power in watts; error reply: cmd|C0
(5 bytes). Like the real protocols, the checksum is the byte before the last.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from app.hardware.driver import MeterIdentity, ProtocolSpec, ReadResult
from app.hardware.errors import ChecksumError, CommandRefused, FrameError
from app.hardware.link import LineSettings, Link
from app.hardware.profiles import Profile
from app.hardware.simulator.sim_meter import SimMeter


def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def frame(*body: int) -> bytes:
    data = bytes([0x7E, *body])
    return data + bytes([checksum(data), 0x16])


def request_length(buffer: bytes) -> int | None:
    if not buffer:
        return None
    if buffer[0] != 0x7E:
        raise FrameError("no start byte")
    return 5


def reply_length(buffer: bytes) -> int | None:
    if not buffer:
        return None
    if buffer[0] != 0x7E:
        raise FrameError("no start byte")
    if len(buffer) < 3:
        return None
    return 5 if buffer[2] & 0x40 else 8


def check(reply: bytes) -> bytes:
    if checksum(reply[:-2]) != reply[-2]:
        raise ChecksumError("bad sum")
    return reply


class ToyDriver:
    def __init__(self, profile: Profile) -> None:
        self.profile = profile

    def _ask(self, link: Link, address: str, cmd: int) -> bytes:
        reply = check(link.transact(frame(int(address), cmd), reply_length, address=address))
        if reply[2] & 0x40:
            raise CommandRefused("the toy meter said no", reply[2])
        return reply

    def read(self, link: Link, address: str, groups: frozenset[str]) -> ReadResult:
        reply = self._ask(link, address, 0x01)
        return ReadResult(
            values={"power_w": float(reply[3] << 8 | reply[4])}, supply_on=bool(reply[5])
        )

    def set_supply(self, link: Link, address: str, on: bool) -> None:
        self._ask(link, address, 0x03 if on else 0x02)

    def read_supply(self, link: Link, address: str) -> bool | None:
        return bool(self._ask(link, address, 0x01)[5])

    def probe(self, link: Link, address: str) -> bool:
        self._ask(link, address, 0x01)
        return True

    def discover(self, link: Link) -> str | None:
        return None

    def identify(self, link: Link, address: str) -> MeterIdentity | None:
        self._ask(link, address, 0x01)
        return MeterIdentity(None, None, "")

    def read_clock(self, link: Link, address: str) -> datetime | None:
        return None

    def sync_clock(self, link: Link, address: str | None, when: datetime) -> None:
        return None


class ToyResponder:
    def __init__(self, meters: Mapping[str, SimMeter]) -> None:
        self.meters = meters
        self.refuse_switching = False

    def addressees(self, request: bytes) -> list[tuple[str, SimMeter]]:
        meter = self.meters.get(str(request[1])) if len(request) > 1 else None
        return [(str(request[1]), meter)] if meter is not None else []

    def handle(self, request: bytes, key: str | None = None) -> bytes | None:
        if checksum(request[:3]) != request[3]:
            return None
        meter = self.meters.get(str(request[1]))
        if meter is None:
            return None
        cmd = request[2]
        if cmd in (0x02, 0x03):
            if self.refuse_switching:
                return frame(request[1], cmd | 0xC0)
            meter.set_supply(cmd == 0x03)
        elif cmd != 0x01:
            return frame(request[1], cmd | 0xC0)
        state = meter.state()
        power = min(0xFFFF, round(state.power_w))
        return frame(request[1], cmd | 0x80, power >> 8, power & 0xFF, int(state.supply_on))


SPEC = ProtocolSpec(
    name="toy",
    validate=lambda _profile: None,
    reply_length=reply_length,
    request_length=request_length,
    make_driver=ToyDriver,
    make_responder=ToyResponder,
)


def toy_profile(delay_s: float = 0.005) -> Profile:
    return Profile(
        name="toy",
        title="Toy meter",
        protocol="toy",
        utility="electricity",
        phases=1,
        line=LineSettings(baudrate=19200, timeout_s=0.1),
        reply_delay_s=delay_s,
        rated_current_a=40,
        values={"power_w": {"group": "fast"}},
        supply={"kind": "relay"},
        options={},
        prepaid=None,
        load_guard=None,
        path=Path("toy"),
    )
