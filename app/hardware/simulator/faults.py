"""How a simulated line answers one request: which meter, which faults, after what delay."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from app.hardware.driver import ProtocolSpec, Responder
from app.hardware.simulator.sim_meter import SimMeter


@dataclass(frozen=True, slots=True)
class Answer:
    reply: bytes
    delay_s: float  # from the end of the request to the first byte of the reply


class Answerer:
    """Applies a meter's faults around the protocol responder. Used by the pty server and by
    the in-process ``sim://`` line alike, so both behave the same."""

    def __init__(self, spec: ProtocolSpec, meters: Mapping[str, SimMeter], seed: int = 0) -> None:
        self.spec = spec
        self.meters = meters
        self.responder: Responder = spec.make_responder(meters)
        self._rng = random.Random(seed)

    def answer(self, request: bytes) -> Answer | None:
        address = self.spec.request_address(request)
        meter = self.meters.get(address) if address is not None else None
        if meter is not None:
            faults = meter.faults
            if faults.dead or (faults.no_reply and self._rng.random() < faults.no_reply):
                return None
        reply = self.responder.handle(request)
        if reply is None:
            return None
        delay = meter.delay_s if meter is not None else 0.0
        if meter is not None and meter.faults.corrupt and self._rng.random() < meter.faults.corrupt:
            broken = bytearray(reply)
            broken[-2] ^= 0x5A  # the checksum (or CRC low byte) of every supported protocol
            reply = bytes(broken)
        return Answer(reply, delay)
