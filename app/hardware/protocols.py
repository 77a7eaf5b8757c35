"""Find a protocol's ``ProtocolSpec`` by the name used in profiles."""

from __future__ import annotations

import importlib

from app.hardware.driver import ProtocolSpec
from app.hardware.errors import ProfileError

MODULES = {
    "modbus-rtu": "app.hardware.modbus",
    "dlt645-2007": "app.hardware.dlt645",
    "cjt188": "app.hardware.cjt188",
}


def protocol_spec(name: str) -> ProtocolSpec:
    module = MODULES.get(name)
    if module is None:
        raise ProfileError(f"unknown protocol {name!r}; known: {', '.join(MODULES)}")
    spec = importlib.import_module(module).SPEC
    assert isinstance(spec, ProtocolSpec)
    return spec
