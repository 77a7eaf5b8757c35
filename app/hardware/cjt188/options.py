"""The CJ/T 188 part of a meter profile: checked on load, compiled once for driver and simulator.

Profile keys this protocol reads (everything vendor-specific lives here, not in code)::

    [values.volume_m3]            # the only value a CJ/T 188 water/gas/heat meter gives us
    di = "901F"                   # the read that returns the cumulative flow
    group = "slow"

    [supply]                      # optional: a motorised valve
    kind = "valve"
    di = "A017"                   # the write that switches the valve
    open_code = 0x55
    close_code = 0x99
    control = 0x04                # optional: the function code; 04 (write data) is standard,
                                  # some vendors use their own (2A)

    [cjt188]
    meter_type = 0x10             # T: 10-19 water, 20-29 heat, 30-39 gas
    wake_up = 3                   # FE bytes sent before each request (0-16)
    di_order = "high_first"       # "90 1F" on the wire; "low_first" sends "1F 90"
    ser = "increment"             # SER of each request: "increment" (mod 256) or "zero"
    check_ser = true              # the reply must echo the request's SER
    status_layout = "low_bits"    # valve D1-D0 / low battery D2 of the first status byte;
                                  # "high_bits": valve D7-D6 / low battery D5
    clock_di = "A015"             # optional: the write that sets the meter's clock
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.hardware.cjt188.codec import DI_METER_DATA, STATUS_LAYOUTS, WRITE_DATA, meter_family
from app.hardware.errors import ProfileError
from app.hardware.profiles import Profile

SECTION_KEYS = {
    "meter_type",
    "wake_up",
    "di_order",
    "ser",
    "check_ser",
    "status_layout",
    "clock_di",
}
SUPPLY_KEYS = {"kind", "di", "open_code", "close_code", "control"}
VALUE_KEYS = {"di", "group"}
SUPPORTED_VALUES = {"volume_m3": DI_METER_DATA}  # value name -> the DI that carries it
FAMILY_OF_UTILITY = {"water": ("water", "heat"), "gas": ("gas",)}
DEFAULT_TYPE = {"water": 0x10, "gas": 0x30}


@dataclass(frozen=True, slots=True)
class ValveOptions:
    control: int  # function code of the valve write (04 standard)
    di: int
    open_code: int
    close_code: int


@dataclass(frozen=True, slots=True)
class Options:
    meter_type: int
    wake_up: int
    di_high_first: bool
    ser_increment: bool
    check_ser: bool
    status_layout: str
    volume_di: int | None  # None when the profile reads no volume
    clock_di: int | None  # None when the model's clock cannot be set
    valve: ValveOptions | None


class _Checker:
    def __init__(self, profile: Profile) -> None:
        self.file = profile.path.name or f"{profile.name}.toml"

    def fail(self, key: str, reason: str) -> ProfileError:
        return ProfileError(f"{self.file}: {key}: {reason}")

    def unknown(self, table: Mapping[str, Any], allowed: set[str], where: str) -> None:
        extra = sorted(set(table) - allowed)
        if extra:
            raise self.fail(where + extra[0], f"unknown key; known: {', '.join(sorted(allowed))}")

    def byte(self, table: Mapping[str, Any], key: str, where: str, default: int | None) -> int:
        value = table.get(key, default)
        if value is None:
            raise self.fail(where + key, "missing; must be a byte 0-255 (e.g. 0x55)")
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 0xFF:
            raise self.fail(where + key, f"must be a byte 0-255, not {value!r}")
        return value

    def di(self, table: Mapping[str, Any], key: str, where: str) -> int:
        value = table.get(key)
        if not isinstance(value, str) or len(value) != 4:
            raise self.fail(where + key, f'must be a DI of 4 hex digits like "901F", not {value!r}')
        try:
            return int(value, 16)
        except ValueError:
            raise self.fail(
                where + key, f'must be a DI of 4 hex digits like "901F", not {value!r}'
            ) from None

    def choice(
        self, table: Mapping[str, Any], key: str, where: str, choices: tuple[str, ...]
    ) -> str:
        value = table.get(key, choices[0])
        if value not in choices:
            raise self.fail(where + key, f"must be one of {', '.join(choices)}, not {value!r}")
        return str(value)


def compile_options(profile: Profile) -> Options:
    """The profile's CJ/T 188 settings; ProfileError naming the file and key if one is wrong."""
    check = _Checker(profile)
    if profile.prepaid is not None:
        raise check.fail("prepaid", "meter-side prepaid parameters are not supported for cjt188")
    if profile.load_guard is not None:
        raise check.fail("load_guard", "a water, gas or heat meter has no load guard")
    section = profile.options
    check.unknown(section, SECTION_KEYS, "cjt188.")
    meter_type = check.byte(section, "meter_type", "cjt188.", DEFAULT_TYPE.get(profile.utility))
    families = FAMILY_OF_UTILITY.get(profile.utility, ())
    if meter_family(meter_type) not in families:
        raise check.fail(
            "cjt188.meter_type",
            f"{meter_type:#04x} is not a {profile.utility} meter type "
            "(water 0x10-0x19, heat 0x20-0x29, gas 0x30-0x39)",
        )
    wake_up = section.get("wake_up", 3)
    if not isinstance(wake_up, int) or isinstance(wake_up, bool) or not 0 <= wake_up <= 16:
        raise check.fail("cjt188.wake_up", f"must be a whole number from 0 to 16, not {wake_up!r}")
    check_ser = section.get("check_ser", True)
    if not isinstance(check_ser, bool):
        raise check.fail("cjt188.check_ser", f"must be true or false, not {check_ser!r}")
    clock_di = check.di(section, "clock_di", "cjt188.") if "clock_di" in section else None

    volume_di: int | None = None
    for name, spec in profile.values.items():
        where = f"values.{name}."
        if name not in SUPPORTED_VALUES:
            raise check.fail(
                f"values.{name}", f"not available over cjt188; use {', '.join(SUPPORTED_VALUES)}"
            )
        check.unknown(spec, VALUE_KEYS, where)
        di = check.di(spec, "di", where)
        if di != SUPPORTED_VALUES[name]:
            raise check.fail(
                where + "di", f"{name} comes from DI {SUPPORTED_VALUES[name]:04X}, not {di:04X}"
            )
        volume_di = di

    valve: ValveOptions | None = None
    if profile.supply is not None:
        supply = profile.supply
        check.unknown(supply, SUPPLY_KEYS, "supply.")
        if supply.get("kind") != "valve":
            raise check.fail("supply.kind", "a CJ/T 188 meter switches a valve, not a relay")
        valve = ValveOptions(
            control=check.byte(supply, "control", "supply.", WRITE_DATA),
            di=check.di(supply, "di", "supply."),
            open_code=check.byte(supply, "open_code", "supply.", None),
            close_code=check.byte(supply, "close_code", "supply.", None),
        )
        if valve.control & 0xC0:
            raise check.fail("supply.control", "must be a request function code below 0x40")
        if valve.open_code == valve.close_code:
            raise check.fail("supply.close_code", "must differ from supply.open_code")
    return Options(
        meter_type=meter_type,
        wake_up=wake_up,
        di_high_first=check.choice(section, "di_order", "cjt188.", ("high_first", "low_first"))
        == "high_first",
        ser_increment=check.choice(section, "ser", "cjt188.", ("increment", "zero")) == "increment",
        check_ser=check_ser,
        status_layout=check.choice(section, "status_layout", "cjt188.", tuple(STATUS_LAYOUTS)),
        volume_di=volume_di,
        clock_di=clock_di,
        valve=valve,
    )


def validate(profile: Profile) -> None:
    """ProtocolSpec.validate: raise ProfileError naming the file and key if the profile's
    CJ/T 188 tables are wrong."""
    compile_options(profile)
