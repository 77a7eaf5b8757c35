"""CJ/T 188 profile tables: the shipped profile loads; every mistake names file, key, reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.hardware.cjt188.options import compile_options
from app.hardware.errors import ProfileError
from app.hardware.profiles import PROFILES_DIR, load_profile_file, parse_profile

SHIPPED = PROFILES_DIR / "cjt188-water.toml"
TEXT = SHIPPED.read_text(encoding="utf-8")
PATH = Path("cjt188-water.toml")


def test_shipped_profile_compiles() -> None:
    profile = load_profile_file(SHIPPED)
    options = compile_options(profile)
    assert (profile.line.baudrate, profile.line.parity) == (2400, "E")
    assert 0.05 <= profile.reply_delay_s <= 0.1
    assert profile.groups_of("slow") == ("volume_m3",)
    assert options.meter_type == 0x10
    assert options.volume_di == 0x901F
    assert options.clock_di == 0xA015
    assert options.valve is not None
    assert (options.valve.control, options.valve.di) == (0x04, 0xA017)
    assert (options.valve.open_code, options.valve.close_code) == (0x55, 0x99)
    assert options.di_high_first
    assert options.ser_increment
    assert options.check_ser
    assert options.status_layout == "low_bits"


def _with(old: str, new: str) -> str:
    assert old in TEXT, old
    return TEXT.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("open_code = 0x55", "open_code = 300", "supply.open_code: must be a byte 0-255"),
        ("open_code = 0x55", 'open_code = "55"', "supply.open_code: must be a byte 0-255"),
        ("open_code = 0x55\n", "", "supply.open_code: missing"),
        ("close_code = 0x99", "close_code = 0x55", "supply.close_code: must differ"),
        ("control = 0x04", "control = 0x84", "supply.control: must be a request function"),
        ('di = "A017"', 'di = "A0"', "supply.di: must be a DI of 4 hex digits"),
        ('di = "A017"', 'di = "ZZZZ"', "supply.di: must be a DI of 4 hex digits"),
        ('kind = "valve"', 'kind = "relay"', "supply.kind: a CJ/T 188 meter switches a valve"),
        ("close_code = 0x99", "close_code = 0x99\nspeed = 1", "supply.speed: unknown key"),
        ('di = "901F"', 'di = "9020"', "values.volume_m3.di: volume_m3 comes from DI 901F"),
        ('group = "slow"', 'group = "slow"\nscale = 2', "values.volume_m3.scale: unknown key"),
        ("[values.volume_m3]", "[values.power_w]", "values.power_w: not available over cjt188"),
        ("meter_type = 0x10", "meter_type = 0x30", "cjt188.meter_type: 0x30 is not a water"),
        ("meter_type = 0x10", "meter_type = -1", "cjt188.meter_type: must be a byte 0-255"),
        ("wake_up = 3", "wake_up = 17", "cjt188.wake_up: must be a whole number from 0 to 16"),
        ("wake_up = 3", "wake_up = true", "cjt188.wake_up: must be a whole number"),
        ('di_order = "high_first"', 'di_order = "big"', "cjt188.di_order: must be one of"),
        ('ser = "increment"', 'ser = "random"', "cjt188.ser: must be one of increment, zero"),
        ("check_ser = true", "check_ser = 1", "cjt188.check_ser: must be true or false"),
        ('status_layout = "low_bits"', 'status_layout = "x"', "cjt188.status_layout: must be"),
        ('clock_di = "A015"', "clock_di = 0xA015", "cjt188.clock_di: must be a DI"),
        ('clock_di = "A015"', "baud = 9600", "cjt188.baud: unknown key"),
        ("[cjt188]", "[prepaid]\nalarm_1 = 5\n\n[cjt188]", "prepaid: meter-side prepaid"),
        ("[cjt188]", "[load_guard]\nmode = 1\n\n[cjt188]", "load_guard: a water, gas or heat"),
    ],
)
def test_mistakes_name_file_and_key(old: str, new: str, message: str) -> None:
    with pytest.raises(ProfileError) as caught:
        parse_profile(_with(old, new), PATH)
    assert str(caught.value).startswith("cjt188-water.toml: ")
    assert message in str(caught.value)


def test_defaults_and_alternatives() -> None:
    text = TEXT.split("[cjt188]")[0]  # no [cjt188] section at all
    text = text.replace("control = 0x04\n", "")
    options = compile_options(parse_profile(text, PATH))
    assert options.meter_type == 0x10
    assert options.wake_up == 3
    assert options.clock_di is None
    assert options.valve is not None
    assert options.valve.control == 0x04
    gas = parse_profile(text.replace('utility = "water"', 'utility = "gas"'), PATH)
    assert compile_options(gas).meter_type == 0x30
    heat = parse_profile(TEXT.replace("meter_type = 0x10", "meter_type = 0x20"), PATH)
    assert compile_options(heat).meter_type == 0x20
    vendor = _with('di_order = "high_first"', 'di_order = "low_first"')
    vendor = vendor.replace('ser = "increment"', 'ser = "zero"').replace("0x04", "0x2A")
    options = compile_options(parse_profile(vendor, PATH))
    assert not options.di_high_first
    assert not options.ser_increment
    assert options.valve is not None
    assert options.valve.control == 0x2A


def test_profile_without_valve() -> None:
    start = TEXT.index("[supply]")
    end = TEXT.index("[cjt188]")
    options = compile_options(parse_profile(TEXT[:start] + TEXT[end:], PATH))
    assert options.valve is None
