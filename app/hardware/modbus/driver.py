"""Modbus master for one meter profile: reads its batches, reads and switches its supply.

Runs on the bus worker's thread. The framing follows the link: RTU on serial lines and
transparent gateways, MBAP when ``link.mbap`` is set (a ``modbus-tcp://`` gateway).
"""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal

from app.hardware.addresses import MODBUS_MAX_UNIT
from app.hardware.driver import SUPPLY_GROUP, MeterIdentity, ReadResult
from app.hardware.errors import (
    AddressMismatch,
    CommandRefused,
    ExceptionReply,
    FieldFault,
    NoReply,
)
from app.hardware.link import Link
from app.hardware.modbus import pymodbus_adapter as mb
from app.hardware.modbus.registers import (
    Batch,
    RegisterMap,
    RegisterValue,
    compile_map,
    decode_batch,
    decode_value,
    encode_value,
)
from app.hardware.profiles import Profile

LATE_REPLIES_SKIPPED = 2  # late replies from other units skipped while one reply is awaited


def unit_id(address: str) -> int:
    """The Modbus unit id of a meter address as people type it (``"1"`` .. ``"247"``)."""
    text = address.strip()
    if not text.isdigit() or not 1 <= int(text) <= MODBUS_MAX_UNIT:
        raise ValueError(f"Modbus address {address!r} must be a number from 1 to {MODBUS_MAX_UNIT}")
    return int(text)


class ModbusDriver:
    """``MeterDriver`` for Modbus RTU / Modbus TCP meters of one profile."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.map: RegisterMap = compile_map(profile)
        self._transaction_ids = itertools.cycle(range(1, 0x10000))

    # --- one request ----------------------------------------------------------------------

    def transact(self, link: Link, request: mb.Request, note: str = "") -> mb.Reply:
        """Send ``request`` and return the checked reply (which may be an exception reply)."""
        address = str(request.unit)
        note = note or request.describe()
        if link.mbap:
            tid = next(self._transaction_ids)
            frame = mb.tcp_encode_request(request, tid)
            raw = link.transact(
                frame,
                mb.tcp_reply_length,
                address=address,
                note=note,
                shortest=mb.TCP_SHORTEST_REPLY,
            )
            return mb.tcp_decode_reply(raw, request, tid)
        frame = mb.rtu_encode_request(request)
        raw = link.transact(
            frame, mb.rtu_reply_length, address=address, note=note, shortest=mb.RTU_SHORTEST_REPLY
        )
        for _ in range(LATE_REPLIES_SKIPPED):
            try:
                return mb.rtu_decode_reply(raw, request)
            except AddressMismatch:
                # A whole frame (its CRC holds) from another unit: a late reply to an earlier
                # request, from a slow meter or a busy gateway. Skip it and keep listening for
                # the unit asked, for one more timeout.
                raw = link.receive(
                    mb.rtu_reply_length,
                    address=address,
                    note=f"{note}, after a late reply from unit {raw[0]}",
                    shortest=mb.RTU_SHORTEST_REPLY,
                )
        return mb.rtu_decode_reply(raw, request)

    def read_registers(
        self, link: Link, address: str, function: int, start: int, count: int, note: str = ""
    ) -> tuple[int, ...]:
        """Read ``count`` registers; ExceptionReply when the meter refuses."""
        request = mb.Request(unit_id(address), function, start, count)
        reply = self.transact(link, request, note)
        if reply.exception_code is not None:
            raise ExceptionReply(
                f"meter {address} refused {request.describe()}: "
                f"{mb.exception_name(reply.exception_code)}",
                reply.exception_code,
            )
        return reply.registers

    def write_registers(
        self,
        link: Link,
        address: str,
        function: int,
        start: int,
        values: tuple[int, ...],
        note: str,
    ) -> None:
        """Write registers; CommandRefused (naming the Modbus exception) when the meter says no."""
        request = mb.Request(unit_id(address), function, start, values=values)
        reply = self.transact(link, request, note)
        if reply.exception_code is not None:
            raise CommandRefused(
                f"meter {address} refused {note or request.describe()}: "
                f"{mb.exception_name(reply.exception_code)}",
                reply.exception_code,
            )

    # --- MeterDriver -----------------------------------------------------------------------

    def read(self, link: Link, address: str, groups: frozenset[str]) -> ReadResult:
        """Read the batches holding values of ``groups``, then the supply state if asked. A failed
        request is recorded in ``failures`` and the others still run; raises the first fault
        only when nothing at all came back."""
        unit_id(address)
        result = ReadResult()
        faults: list[FieldFault] = []
        answered = False
        for batch in self.map.batches_for(groups):
            try:
                registers = self._read_batch(link, address, batch)
                values = decode_batch(batch, registers)
            except FieldFault as exc:
                faults.append(exc)
                result.failures.append(f"{batch.describe()}: {exc}")
                continue
            answered = True
            for spec in batch.values:
                if spec.group in groups:
                    result.values[spec.name] = values[spec.name]
        if self.map.supply is not None and SUPPLY_GROUP in groups:
            try:
                result.supply_on = self.read_supply(link, address)
            except FieldFault as exc:
                faults.append(exc)
                result.failures.append(f"supply state: {exc}")
            else:
                answered = True
        if faults and not answered:
            raise faults[0]
        return result

    def _read_batch(self, link: Link, address: str, batch: Batch) -> tuple[int, ...]:
        note = "read " + ", ".join(v.name for v in batch.values)
        return self.read_registers(link, address, batch.function, batch.address, batch.count, note)

    def read_supply(self, link: Link, address: str) -> bool | None:
        supply = self.map.supply
        if supply is None:
            return None
        registers = self.read_registers(
            link, address, supply.function, supply.address, supply.count, "read supply state"
        )
        state = supply.state_of(registers)
        if state is None:
            raise FieldFault(
                f"meter {address} shows supply state {list(registers)}, which is neither "
                f"on {list(supply.on_state)} nor off {list(supply.off_state or ())}"
            )
        return state

    def set_supply(self, link: Link, address: str, on: bool) -> None:
        unit_id(address)
        supply = self.map.supply
        if supply is None:
            raise CommandRefused(f"profile {self.profile.name} has no relay or valve to switch")
        values = supply.on_registers if on else supply.off_registers
        action = "switch supply on" if on else "switch supply off"
        self.write_registers(
            link, address, supply.write_function, supply.write_address, values, action
        )

    def probe(self, link: Link, address: str) -> bool:
        """One short read of the profile's first value. A meter that answers with an exception
        is a Modbus device, but not one with this profile's registers: False."""
        first = self._first_value()
        try:
            self.read_registers(link, address, first.function, first.address, first.size, "probe")
        except ExceptionReply:
            return False
        return True

    def _first_value(self) -> RegisterValue:
        """The profile's value at the lowest function code and register address."""
        return min(self.map.values, key=lambda v: (v.function, v.address))

    def discover(self, link: Link) -> str | None:
        return None  # Modbus has no "who is there" request; scan addresses instead

    def identify(self, link: Link, address: str) -> MeterIdentity | None:
        """One read of the cumulative register (import energy in kWh, or volume in m3 for a
        water or gas profile; the profile's first value if it has neither). None for no
        reply, or an exception reply (a Modbus device without this profile's registers).
        Modbus meters tell no meter number unless a profile declares one: serial None."""
        named = {v.name: v for v in self.map.values}
        register = named.get("energy_import_kwh") or named.get("volume_m3")
        spec = register or self._first_value()
        try:
            registers = self.read_registers(
                link, address, spec.function, spec.address, spec.size, f"scan: read {spec.name}"
            )
        except (NoReply, ExceptionReply):
            return None
        if register is None:
            return MeterIdentity(None, None, "")
        value = Decimal(repr(decode_value(spec, registers)))
        return MeterIdentity(None, value, "kWh" if spec.name == "energy_import_kwh" else "m3")

    def read_clock(self, link: Link, address: str) -> datetime | None:
        return None  # no supported Modbus profile exposes its clock

    def sync_clock(self, link: Link, address: str | None, when: datetime) -> None:
        return None

    # --- meter-side parameters ([modbus.parameters]) -----------------------------------------

    def read_parameter(self, link: Link, address: str, name: str) -> float:
        spec = self.map.parameter(name)
        registers = self.read_registers(
            link, address, spec.function, spec.address, spec.size, f"read {name}"
        )
        return decode_value(spec, registers)

    def write_parameter(self, link: Link, address: str, name: str, value: float) -> None:
        spec = self.map.parameter(name)
        registers = tuple(encode_value(spec, value))
        # FC16 even for one register: some meters (Hiking DDS238) do not implement FC06.
        self.write_registers(
            link, address, mb.WRITE_MULTIPLE, spec.address, registers, f"write {name}"
        )
