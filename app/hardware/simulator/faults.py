"""How a simulated line answers one request: which meters, which faults, after what delay.

A request selects the meters its address names (several, with wildcard digits). Each selected
meter that is not silenced by its faults acts on the request and answers; one reply reaches the
master as sent (its checksum broken when the meter's ``corrupt`` fault strikes), several collide
on the line (``collision.collide``) into one garbled stream.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from app.hardware.driver import ProtocolSpec, Responder
from app.hardware.simulator.collision import collide
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
        """What the line carries back after ``request``: None for silence."""
        chosen = self.responder.addressees(request)
        if chosen:
            return self._replies(request, chosen)
        reply = self.responder.handle(request)  # nobody selected: e.g. a broadcast acts
        return None if reply is None else Answer(reply, 0.0)

    def _replies(self, request: bytes, chosen: list[tuple[str, SimMeter]]) -> Answer | None:
        """Every selected meter answers at once (one reply comes through as sent, several
        collide); the earliest reply delay comes first."""
        replies: list[tuple[float, bytes]] = []
        for key, meter in chosen:
            if self._silent(meter):
                continue
            reply = self.responder.handle(request, key)
            if reply is not None:
                replies.append((meter.delay_s, self._corrupted(meter, reply)))
        if not replies:
            return None
        replies.sort(key=lambda each: each[0])  # stable: meters with one delay keep key order
        return Answer(collide([reply for _, reply in replies]), replies[0][0])

    def _silent(self, meter: SimMeter) -> bool:
        faults = meter.faults
        return faults.dead or bool(faults.no_reply and self._rng.random() < faults.no_reply)

    def _corrupted(self, meter: SimMeter, reply: bytes) -> bytes:
        if not meter.faults.corrupt or self._rng.random() >= meter.faults.corrupt:
            return reply
        broken = bytearray(reply)
        broken[-2] ^= 0x5A  # the checksum (or CRC low byte) of every supported protocol
        return bytes(broken)
