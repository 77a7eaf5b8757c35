"""The dlt645-2007 meter profile and the checks of its protocol-specific keys."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from app.hardware.dlt645.codec import RelayAction
from app.hardware.dlt645.driver import compile_profile
from app.hardware.errors import ProfileError
from app.hardware.profiles import PROFILES_DIR, load_profile, load_profile_file

SHIPPED = PROFILES_DIR / "dlt645-2007.toml"


def test_the_shipped_profile_loads_and_compiles() -> None:
    profile = load_profile("dlt645-2007")
    assert profile.protocol == "dlt645-2007"
    assert (profile.line.baudrate, profile.line.parity, profile.line.bytesize) == (2400, "E", 8)
    settings = compile_profile(profile)
    by_name = {spec.name: spec for spec in settings.values}
    assert by_name["power_w"].scale == Decimal(1000)
    assert by_name["voltage_v"].item.di == 0x02010100
    assert by_name["energy_import_kwh"].group == "slow"
    assert set(by_name) >= {
        "voltage_v",
        "current_a",
        "power_w",
        "power_factor",
        "energy_import_kwh",
        "energy_rate_1_kwh",
        "energy_rate_4_kwh",
        "balance",
    }
    assert settings.supply is not None
    assert settings.supply.open_bit == 4
    assert settings.supply.close_action == RelayAction.CLOSE_DIRECT
    assert set(settings.prepaid) == {
        "alarm_1",
        "alarm_2",
        "overdraft_limit",
        "hoard_limit",
        "close_permit",
    }


def write_variant(tmp_path: Path, old: str, new: str) -> Path:
    text = SHIPPED.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "dlt645-2007.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'di = "02010100"',
            'di = "0201010"',
            "dlt645-2007.toml: values.voltage_v.di: must be 8 hex digits",
        ),
        (
            'di = "02010100"',
            'di = "0201010X"',
            "dlt645-2007.toml: values.voltage_v.di: must be 8 hex digits",
        ),
        (
            'di = "02010100"',
            'di = "02800002"',
            "values.voltage_v.di: 02800002 is not in the DL/T 645 table; give length and decimals",
        ),
        ('di = "02010100"', 'di = "04000101"', "values.voltage_v.di: 04000101 date and weekday"),
        ('di = "02010100"', 'colour = "red"', "values.voltage_v.colour: unknown key"),
        ("scale = 1000", "scale = 0", "values.power_w.scale: must be a positive number"),
        ('kind = "relay"', 'kind = "valve"', "supply.kind: a DL/T 645 meter switches a relay"),
        ("status_bit = 4", "status_bit = 16", "supply.status_bit: must be a whole number from 0"),
        ('status_di = "04000503"', 'status_di = "02010100"', "supply.status_di:"),
        ('close_action = "direct"', 'close_action = "now"', "supply.close_action:"),
        ("command_valid_s = 600", "command_valid_s = 1", "supply.command_valid_s:"),
        ('password = "02000000"', 'password = "0200"', "dlt645.password: must be 8 digits"),
        ('password = "02000000"', "password = 2000000", "dlt645.password: must be 8 digits"),
        ('operator_code = "00000000"', 'operator_code = "abc"', "dlt645.operator_code:"),
        ("wake_up_bytes = 4", "wake_up_bytes = 99", "dlt645.wake_up_bytes:"),
        ('clock_sync = "write"', 'clock_sync = "radio"', "dlt645.clock_sync:"),
        ('relay_commands = "plain"', 'relay_commands = "secret"', "dlt645.relay_commands:"),
        ('relay_commands = "plain"', "baud = 9600", "dlt645.baud: unknown key"),
        ('alarm_1 = "04001001"', 'alarm_1 = "00010000"', "prepaid.alarm_1: 00010000 is not a"),
        ('alarm_1 = "04001001"', 'bonus = "04001001"', "prepaid.bonus: unknown key"),
        ('utility = "electricity"', 'utility = "water"', "utility: DL/T 645-2007 meters measure"),
        ("[prepaid]", "[load_guard]\nlimit_w = 1000\n\n[prepaid]", "load_guard: not supported"),
    ],
)
def test_a_wrong_protocol_key_names_file_and_key(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    path = write_variant(tmp_path, old, new)
    with pytest.raises(ProfileError, match=r"^dlt645-2007\.toml: ") as caught:
        load_profile_file(path)
    assert message in str(caught.value)


def test_an_identifier_outside_the_table_works_with_its_format(tmp_path: Path) -> None:
    path = write_variant(
        tmp_path,
        'di = "02010100"          # voltage phase A, XXX.X V',
        'di = "02800002"\nlength = 2\ndecimals = 2',
    )
    settings = compile_profile(load_profile_file(path))
    voltage = next(spec for spec in settings.values if spec.name == "voltage_v")
    assert (voltage.item.di, voltage.item.length, voltage.item.decimals) == (0x02800002, 2, 2)


def test_protocol_options_are_optional(tmp_path: Path) -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    text = text[: text.index("[dlt645]")]  # no [dlt645], no [prepaid]
    path = tmp_path / "dlt645-2007.toml"
    path.write_text(text.replace("status_bit = 4", ""), encoding="utf-8")
    settings = compile_profile(load_profile_file(path))
    assert (settings.password, settings.operator_code, settings.wake_up) == (
        "02000000",
        "00000000",
        4,
    )
    assert settings.supply is not None
    assert settings.supply.open_bit == 4
    assert settings.prepaid == {}
