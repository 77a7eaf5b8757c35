"""Our own Modbus RTU slave for the simulator (not pymodbus's server).

Each simulated meter answers from a register image built, at the moment of the request, from
``SimMeter.state()`` through its profile's register map: the registers of every configured batch
(unused ones read 0), the supply state registers and the meter-side parameters. A read that
touches any other register gets exception 02, a count out of range exception 03. Writes switch
the supply (``SimMeter.set_supply``) or store a parameter in ``SimMeter.params``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from app.hardware.errors import FrameError
from app.hardware.modbus import pymodbus_adapter as mb
from app.hardware.modbus.registers import RegisterMap, compile_map, decode_value, encode_value

if TYPE_CHECKING:
    from app.hardware.simulator.sim_meter import SimMeter, SimState

ILLEGAL_FUNCTION = 0x01
ILLEGAL_ADDRESS = 0x02
ILLEGAL_VALUE = 0x03


def state_values(state: SimState) -> dict[str, float]:
    """The simulated quantities by Snapshot value name, in SI units."""
    sharp, peak, flat, valley = state.energy_rate_kwh
    return {
        "voltage_v": state.voltage_v,
        "current_a": state.current_a,
        "power_w": state.power_w,
        "power_factor": state.power_factor,
        "frequency_hz": state.frequency_hz,
        "energy_import_kwh": state.energy_import_kwh,
        "energy_rate_1_kwh": sharp,
        "energy_rate_2_kwh": peak,
        "energy_rate_3_kwh": flat,
        "energy_rate_4_kwh": valley,
        "volume_m3": state.volume_m3,
    }


def register_image(meter: SimMeter, rmap: RegisterMap, function: int) -> dict[int, int]:
    """Every register the meter answers for ``function`` (3 or 4), with its value now."""
    image: dict[int, int] = {}
    for batch in rmap.batches:
        if batch.function == function:
            image.update(dict.fromkeys(range(batch.address, batch.end), 0))
    state = meter.state()
    values = state_values(state)
    for spec in rmap.values:
        if spec.function == function:
            registers = encode_value(spec, values.get(spec.name, 0.0))
            image.update(zip(range(spec.address, spec.end), registers, strict=True))
    for spec in rmap.parameters:
        if spec.function == function:
            stored = meter.params.get(spec.name, 0.0)
            value = float(stored) if isinstance(stored, int | float) else 0.0
            image.update(zip(range(spec.address, spec.end), encode_value(spec, value), strict=True))
    supply = rmap.supply
    if supply is not None and supply.function == function:
        shown = supply.registers_for(state.supply_on)
        image.update(zip(range(supply.address, supply.address + supply.count), shown, strict=True))
    return image


class ModbusResponder:
    """``Responder`` for simulated Modbus meters, keyed by their unit id as text."""

    def __init__(self, meters: Mapping[str, SimMeter]) -> None:
        self.meters = meters
        self._maps: dict[str, RegisterMap] = {}

    def _map(self, meter: SimMeter) -> RegisterMap:
        rmap = self._maps.get(meter.profile.name)
        if rmap is None:
            rmap = self._maps[meter.profile.name] = compile_map(meter.profile)
        return rmap

    def addressees(self, request: bytes) -> list[tuple[str, SimMeter]]:
        """The one meter whose unit id the request names ([] for a broadcast: nobody
        answers one). Modbus has no wildcard addresses."""
        try:
            incoming = mb.rtu_decode_request(request)
        except FrameError:
            return []
        key = str(incoming.unit)
        meter = self.meters.get(key) if incoming.unit else None
        return [(key, meter)] if meter is not None else []

    def handle(self, request: bytes, key: str | None = None) -> bytes | None:
        """The reply of the meter whose unit id the request names (``key`` is that unit id as
        text when given); None for broadcasts, garbled requests and unknown units."""
        try:
            incoming = mb.rtu_decode_request(request)
        except FrameError:
            return None  # a real slave stays silent on a garbled request
        if incoming.unit == 0:  # broadcast: writes apply to every meter, nobody answers
            if incoming.function in mb.WRITE_FUNCTIONS and incoming.problem is None:
                for each in self.meters.values():
                    self._write(each, incoming)
            return None
        meter = self.meters.get(str(incoming.unit))
        if meter is None:
            return None
        code = incoming.problem
        if code is None:
            if incoming.function in mb.READ_FUNCTIONS:
                result = self._read(meter, incoming)
                if isinstance(result, list):
                    return mb.rtu_encode_read_reply(incoming.unit, incoming.function, result)
                code = result
            else:
                code = self._write(meter, incoming)
                if code is None:
                    return mb.rtu_encode_write_reply(
                        incoming.unit, incoming.function, incoming.address, incoming.values
                    )
        return mb.rtu_encode_exception(incoming.unit, incoming.function, code)

    def _read(self, meter: SimMeter, incoming: mb.IncomingRequest) -> list[int] | int:
        image = register_image(meter, self._map(meter), incoming.function)
        wanted = range(incoming.address, incoming.address + incoming.count)
        if any(address not in image for address in wanted):
            return ILLEGAL_ADDRESS
        return [image[address] for address in wanted]

    def _write(self, meter: SimMeter, incoming: mb.IncomingRequest) -> int | None:
        """Apply a write; the exception code when it cannot be applied."""
        rmap = self._map(meter)
        values = incoming.values
        supply = rmap.supply
        if supply is not None and incoming.address == supply.write_address:
            if len(values) != len(supply.on_registers):
                return ILLEGAL_ADDRESS
            if incoming.function != supply.write_function:
                return ILLEGAL_FUNCTION  # e.g. the Hiking DDS238 takes FC16 only
            if values == supply.on_registers:
                meter.set_supply(True)
            elif values == supply.off_registers:
                meter.set_supply(False)
            else:
                return ILLEGAL_VALUE
            return None
        for spec in rmap.parameters:
            if incoming.address == spec.address and len(values) == spec.size:
                try:
                    meter.params[spec.name] = decode_value(spec, values)
                except FrameError:
                    return ILLEGAL_VALUE  # not a number (float32 NaN or infinity)
                return None
        return ILLEGAL_ADDRESS
