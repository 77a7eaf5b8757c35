"""Modbus RTU (and Modbus TCP through gateways) for meters whose profiles say
``protocol = "modbus-rtu"``.

- ``pymodbus_adapter``: the only module importing pymodbus (frames, CRC, MBAP);
- ``registers``: a profile's register map, checked, and registers <-> SI values;
- ``driver``: the master side (``ModbusDriver``), used by the bus worker;
- ``responder``: our own RTU slave for the simulator.
"""

from __future__ import annotations

from app.hardware.driver import ProtocolSpec
from app.hardware.modbus.driver import ModbusDriver
from app.hardware.modbus.pymodbus_adapter import rtu_reply_length, rtu_request_length
from app.hardware.modbus.registers import validate
from app.hardware.modbus.responder import ModbusResponder

SPEC = ProtocolSpec(
    name="modbus-rtu",
    validate=validate,
    reply_length=rtu_reply_length,
    request_length=rtu_request_length,
    make_driver=ModbusDriver,
    make_responder=ModbusResponder,
)

__all__ = ["SPEC", "ModbusDriver", "ModbusResponder"]
