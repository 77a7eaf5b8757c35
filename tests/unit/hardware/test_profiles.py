"""Profiles are data: every shipped model loads, and a bad file names the file, key and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.hardware.errors import ProfileError
from app.hardware.profiles import (
    CLOCK_PROTOCOLS,
    PROFILES_DIR,
    available_profiles,
    load_profile,
    parse_profile,
)
from app.hardware.protocols import MODULES

REQUIRED = {
    "eastron-sdm120",
    "eastron-sdm630",
    "chint-ddsu666",
    "chint-dtsu666",
    "acrel-ddsy1352",
    "hiking-dds238",
    "dlt645-2007",
    "cjt188-water",
}


def test_every_required_profile_ships_and_loads() -> None:
    assert set(available_profiles()) >= REQUIRED
    for name in available_profiles():
        profile = load_profile(name)
        assert profile.name == name
        assert profile.values
        assert profile.sources, f"{name} says where its map was checked"


def test_relay_and_valve_models_say_how_to_switch() -> None:
    assert load_profile("hiking-dds238").supply_kind == "relay"
    assert load_profile("dlt645-2007").supply_kind == "relay"
    assert load_profile("cjt188-water").supply_kind == "valve"
    assert load_profile("eastron-sdm120").supply_kind is None


def test_the_dlt645_and_cjt188_models_keep_a_clock_and_the_modbus_ones_do_not() -> None:
    """Their clocks are read by the clock rounds and set by a clock sync."""
    keeping = {name for name in available_profiles() if load_profile(name).keeps_clock}
    assert keeping == {"dlt645-2007", "cjt188-water"}
    assert set(MODULES) >= CLOCK_PROTOCOLS  # named as profiles name their protocol


def test_an_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(ProfileError) as caught:
        load_profile("nope")
    assert "unknown meter profile 'nope'; known profiles:" in str(caught.value)
    assert "eastron-sdm120" in str(caught.value)


GOOD = (PROFILES_DIR / "eastron-sdm120.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda t: t.replace('name = "eastron-sdm120"', 'name = "other"'),
            "eastron-sdm120.toml: name: must equal the file name",
        ),
        (
            lambda t: t.replace('protocol = "modbus-rtu"', 'protocol = "mbus"'),
            "eastron-sdm120.toml: protocol: must be one of",
        ),
        (
            lambda t: t.replace('utility = "electricity"', 'utility = "steam"'),
            "eastron-sdm120.toml: utility: must be one of",
        ),
        (lambda t: "colour = 3\n" + t, "eastron-sdm120.toml: colour: unknown key"),
        (
            lambda t: t.replace("[values.voltage_v]", "[values.voltage]"),
            "eastron-sdm120.toml: values.voltage: unknown value",
        ),
        (
            lambda t: t + "\n[dlt645]\npassword = '00000000'\n",
            "eastron-sdm120.toml: dlt645: belongs to another protocol",
        ),
        (lambda t: t.replace("[line]", "[line]\nspeed = 1"), "eastron-sdm120.toml: line.speed"),
        (lambda t: t + "\n[supply]\nkind = 'switch'\n", "eastron-sdm120.toml: supply.kind"),
        (lambda t: t + "\nbroken = [", "eastron-sdm120.toml: not valid TOML"),
    ],
)
def test_mistakes_name_file_key_and_reason(change, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ProfileError) as caught:
        parse_profile(change(GOOD), Path("eastron-sdm120.toml"))
    assert message in str(caught.value)
