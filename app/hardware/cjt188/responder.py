"""Simulator side of CJ/T 188: answers request frames for simulated water, gas and heat meters.

Meters are keyed by their 14-digit address (shorter keys are padded with zeros). A meter answers
901F from ``SimMeter.state()`` (the volume in litres while it fits, XXXXXX.XX L, so a read is
exact to the litre; in m³ above 999 999.99 L), its valve from ``supply_on`` and its own clock
from ``clock_now()``; the valve write calls ``set_supply`` and the clock write ``set_clock``.
``SimMeter.params["valve_fault"]`` and ``params["low_battery"]`` (tests, demos) set the status
bits. A request whose address has A wildcard digits (AA…AA: any meter) selects every meter of
its type whose address it matches; each answers, and several replies collide on the line (the
Answerer overlays them, ``simulator.collision``). Replies start with two FE bytes, like the
KingDa firmware's.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from app.hardware.cjt188.codec import (
    ANY_TYPE,
    DI_ADDRESS,
    READ_ADDRESS,
    READ_DATA,
    UNIT_LITRE,
    UNIT_M3,
    WRITE_DATA,
    Flow,
    Frame,
    Valve,
    address_matches,
    build_error_reply,
    build_reply,
    decode_frame,
    decode_time,
    encode_meter_data,
    encode_status,
    normalise_address,
    split_data,
)
from app.hardware.cjt188.options import Options, compile_options
from app.hardware.errors import FrameError
from app.hardware.simulator.sim_meter import SimMeter

REPLY_WAKE_UP = 2
MAX_LITRE_HUNDREDTHS = 10**8 - 1  # 4 BCD bytes


class Cjt188Responder:
    """The Responder for simulated CJ/T 188 meters."""

    def __init__(self, meters: Mapping[str, SimMeter]) -> None:
        self.meters: dict[str, SimMeter] = {
            normalise_address(address): meter for address, meter in meters.items()
        }
        self._options: dict[str, Options] = {
            address: compile_options(meter.profile) for address, meter in self.meters.items()
        }

    def addressees(self, request: bytes) -> list[tuple[str, SimMeter]]:
        try:
            frame = decode_frame(request, wildcards=True)
        except FrameError:
            return []
        if frame.is_reply:
            return []  # another meter's reply on the shared line
        return [(address, self.meters[address]) for address in self._select(frame)]

    def handle(self, request: bytes, key: str | None = None) -> bytes | None:
        frame = decode_frame(request, wildcards=True)
        if frame.is_reply:
            return None  # another meter's reply on the shared line
        if key is None:
            selected = self._select(frame)
            if len(selected) != 1:
                return None  # several would answer at once: the line carries the collision
            key = selected[0]
        address = normalise_address(key)
        return _Answer(self.meters[address], address, self._options[address], frame).reply()

    def _select(self, frame: Frame) -> list[str]:
        """The addresses of the meters a request selects: its address (A digits are
        wildcards, so WILDCARD selects every meter) matches theirs, and it names their meter
        type or any type (AA)."""
        return [
            address
            for address in sorted(self.meters)
            if address_matches(frame.address, address)
            and frame.meter_type in (self._options[address].meter_type, ANY_TYPE)
        ]


class _Answer:
    def __init__(self, meter: SimMeter, address: str, options: Options, request: Frame) -> None:
        self.meter = meter
        self.address = address
        self.options = options
        self.request = request

    def reply(self) -> bytes:
        try:
            di, _ser, payload = split_data(self.request, self.options.di_high_first)
        except FrameError:
            return self.error()
        function = self.request.function
        valve = self.options.valve
        if function == READ_DATA and di == self.options.volume_di:
            return self.ok(self.meter_data())
        if function == READ_ADDRESS and di == DI_ADDRESS:
            return self.ok(b"")
        if valve is not None and function == valve.control and di == valve.di:
            if payload[:1] == bytes([valve.open_code]):
                self.meter.set_supply(True)
            elif payload[:1] == bytes([valve.close_code]):
                self.meter.set_supply(False)
            else:
                return self.error()
            return self.ok(self.status())
        if function == WRITE_DATA and di == self.options.clock_di and len(payload) == 7:
            try:
                when = decode_time(payload)
            except FrameError:
                return self.error()
            self.meter.set_clock(when)
            return self.ok(b"")
        return self.error()

    def ok(self, payload: bytes) -> bytes:
        return build_reply(
            self.request, self.options.meter_type, self.address, payload, wake_up=REPLY_WAKE_UP
        )

    def error(self) -> bytes:
        return build_error_reply(
            self.request,
            self.options.meter_type,
            self.address,
            self.status(),
            wake_up=REPLY_WAKE_UP,
        )

    def status(self) -> bytes:
        params = self.meter.params
        if params.get("valve_fault"):
            valve = Valve.FAULT
        else:
            valve = Valve.OPEN if self.meter.supply_on else Valve.CLOSED
        low_battery = bool(params.get("low_battery"))
        return encode_status(valve, low_battery, self.options.status_layout)

    def meter_data(self) -> bytes:
        state = self.meter.state()
        litre_hundredths = round(state.volume_m3 * 100_000)
        if litre_hundredths <= MAX_LITRE_HUNDREDTHS:
            flow = Flow(litre_hundredths, UNIT_LITRE)
        else:
            flow = Flow(min(round(state.volume_m3 * 100), 10**8 - 1), UNIT_M3)
        meter_time: datetime = self.meter.clock_now()
        # The simulator keeps no settlement-day history: it reports the current flow there.
        return encode_meter_data(flow, flow, meter_time, self.status(), self.options.meter_type)
