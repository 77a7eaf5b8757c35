"""Register maps: decoding and encoding values, word orders, scales, batching, and the checks that
turn a wrong profile into a message naming the file and the key."""

from __future__ import annotations

import math
import struct
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.hardware.errors import FrameError, ProfileError
from app.hardware.modbus.registers import (
    RegisterValue,
    auto_batches,
    compile_map,
    compile_tables,
    decode_batch,
    decode_value,
    encode_value,
)
from tests.support import MODBUS_PROFILES
from tests.unit.hardware.modbus.modbus_loopback import (
    profile_from_text,
    shipped_profile,
)


def spec(
    kind: str, scale: str = "1", order: str = "big", address: int = 0, name: str = "x"
) -> RegisterValue:
    return RegisterValue(name, 3, address, kind, Decimal(scale), order)


# --- decoding --------------------------------------------------------------------------------


def test_float32_high_word_first() -> None:
    # 0x43663334 is 230.2 (Tasmota's SDM120 capture)
    assert decode_value(spec("float32"), [0x4366, 0x3334]) == pytest.approx(230.2, abs=1e-4)


def test_float32_low_word_first() -> None:
    assert decode_value(spec("float32", order="little"), [0x3334, 0x4366]) == pytest.approx(
        230.2, abs=1e-4
    )
    # and the same registers read the other way round are a different number entirely
    assert decode_value(spec("float32"), [0x3334, 0x4366]) != pytest.approx(230.2, abs=1)


def test_scaled_float_of_a_chint_dtsu666() -> None:
    # DTSU666 keeps Ua in 0.1 V inside a float: 2301.0 -> 230.1 V
    registers = list(struct.unpack(">HH", struct.pack(">f", 2301.0)))
    assert decode_value(spec("float32", "0.1"), registers) == pytest.approx(230.1)


def test_integers_with_scales() -> None:
    assert decode_value(spec("uint16", "0.1"), [2302]) == pytest.approx(230.2)
    assert decode_value(spec("int16"), [0xFF38]) == -200.0  # export shows as negative power
    assert decode_value(spec("uint16"), [0xFF38]) == 65336.0
    assert decode_value(spec("uint32", "0.01"), [0x0001, 0x0000]) == pytest.approx(655.36)
    assert decode_value(spec("uint32", "0.01", "little"), [0x0000, 0x0001]) == pytest.approx(655.36)
    assert decode_value(spec("int32"), [0xFFFF, 0xFFFE]) == -2.0
    assert decode_value(spec("uint16", "1000"), [3]) == 3000.0  # kW -> W


def test_integer_scales_are_exact() -> None:
    # 0.01 as a binary float times 12345 would give 123.45000000000002
    assert decode_value(spec("uint32", "0.01"), [0, 12345]) == 123.45


def test_not_a_number_is_a_frame_error() -> None:
    with pytest.raises(FrameError, match="not a number"):
        decode_value(spec("float32"), [0x7FC0, 0x0000])
    with pytest.raises(FrameError, match="needs 2 registers"):
        decode_value(spec("float32"), [0x4366])


def test_encoding_saturates_integers_as_a_display_would() -> None:
    assert encode_value(spec("uint16", "0.01"), 700.0) == [0xFFFF]
    assert encode_value(spec("uint16"), -5.0) == [0]
    assert encode_value(spec("int16"), -200.0) == [0xFF38]
    assert encode_value(spec("uint32", "0.01", "little"), 655.36) == [0x0000, 0x0001]


@given(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), st.sampled_from(["big", "little"])
)
def test_float32_round_trip(value: float, order: str) -> None:
    registers = encode_value(spec("float32", order=order), value)
    assert decode_value(spec("float32", order=order), registers) == pytest.approx(
        value, rel=1e-6, abs=1e-30
    )


@given(
    st.sampled_from(["uint16", "int16", "uint32", "int32"]),
    st.sampled_from(["1", "0.1", "0.01", "0.001", "1000"]),
    st.sampled_from(["big", "little"]),
    st.integers(min_value=0, max_value=30000),
)
def test_integer_round_trip(kind: str, scale: str, order: str, raw: int) -> None:
    value = float(Decimal(raw) * Decimal(scale))
    registers = encode_value(spec(kind, scale, order), value)
    assert decode_value(spec(kind, scale, order), registers) == pytest.approx(value)


# --- batching --------------------------------------------------------------------------------


def test_auto_batching_merges_contiguous_values_of_one_function_and_group() -> None:
    values = [
        RegisterValue("voltage_v", 3, 0x0C, "uint16", Decimal("0.1"), "big"),
        RegisterValue("current_a", 3, 0x0D, "uint16", Decimal("0.01"), "big"),
        RegisterValue("power_w", 3, 0x0E, "int16", Decimal(1), "big"),
        RegisterValue("power_factor", 3, 0x10, "uint16", Decimal("0.001"), "big"),
        RegisterValue("energy_import_kwh", 3, 0x0A, "uint32", Decimal("0.01"), "big", "slow"),
        RegisterValue("frequency_hz", 4, 0x11, "uint16", Decimal("0.01"), "big"),
    ]
    strict = auto_batches(values, cap=125, max_gap=0)
    assert [(b.function, b.address, b.count) for b in strict] == [
        (3, 0x0C, 3),
        (3, 0x10, 1),
        (3, 0x0A, 2),
        (4, 0x11, 1),
    ]
    gapped = auto_batches(values, cap=125, max_gap=1)
    assert [(b.function, b.address, b.count) for b in gapped] == [
        (3, 0x0C, 5),
        (3, 0x0A, 2),
        (4, 0x11, 1),
    ]
    assert [v.name for v in gapped[0].values] == [
        "voltage_v",
        "current_a",
        "power_w",
        "power_factor",
    ]
    capped = auto_batches(values, cap=2, max_gap=1)
    assert all(b.count <= 2 for b in capped)
    assert sum(len(b.values) for b in capped) == len(values)


def test_decode_batch_cuts_values_out_of_one_read() -> None:
    values = [
        RegisterValue("voltage_v", 3, 0x0C, "uint16", Decimal("0.1"), "big"),
        RegisterValue("power_factor", 3, 0x10, "uint16", Decimal("0.001"), "big"),
    ]
    (batch,) = auto_batches(values, cap=125, max_gap=3)
    assert decode_batch(batch, [2302, 0, 0, 0, 998]) == {
        "voltage_v": pytest.approx(230.2),
        "power_factor": pytest.approx(0.998),
    }
    with pytest.raises(FrameError, match="4 registers came back"):
        decode_batch(batch, [1, 2, 3, 4])


def test_shipped_batches_read_what_each_group_needs() -> None:
    rmap = compile_map(shipped_profile("hiking-dds238"))
    fast = rmap.batches_for({"fast"})
    slow = rmap.batches_for({"slow"})
    assert [(b.address, b.count) for b in fast] == [(0x000C, 6)]
    assert [(b.address, b.count) for b in slow] == [(0x000A, 2)]
    assert rmap.batches_for({"fast", "slow"}) == rmap.batches


# --- profile checks --------------------------------------------------------------------------

BASE = """
name = "test-meter"
protocol = "modbus-rtu"
utility = "electricity"
[line]
baudrate = 9600
[modbus]
function = 3
{modbus}
[values.voltage_v]
address = 0x0C
type = "uint16"
scale = "0.1"
[values.power_w]
address = 0x0E
type = "int16"
{extra}
"""


def profile(modbus: str = "", extra: str = "") -> str:
    return BASE.format(modbus=modbus, extra=extra)


def test_a_good_profile_loads() -> None:
    loaded = profile_from_text(profile())
    assert loaded.protocol == "modbus-rtu"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            profile(extra='[values.current_a]\naddress = 0x0D\ntype = "float"'),
            "test-meter.toml: values.current_a.type: must be one of uint16, int16, uint32, int32,"
            " float32, not 'float'",
        ),
        (
            profile(extra='[values.current_a]\naddress = 0x0D\ntype = "uint32"'),
            "test-meter.toml: values.power_w: registers 0x000E-0x000E (FC03) overlap"
            " values.current_a",
        ),
        (
            profile(extra='[values.current_a]\naddress = 0x0D\ntype = "uint16"\nscale = 0.01'),
            'test-meter.toml: values.current_a.scale: must be a decimal in quotes like "0.1"',
        ),
        (
            profile(extra='[values.current_a]\naddress = 0x0D\ntype = "uint16"\nscale = "abc"'),
            "test-meter.toml: values.current_a.scale: 'abc' is not a decimal number",
        ),
        (
            profile(extra='[values.current_a]\naddress = 0x0D\ntype = "uint16"\nscale = "0"'),
            "test-meter.toml: values.current_a.scale: must be a finite number other than 0",
        ),
        (
            profile(extra='[values.current_a]\naddress = 0x0D\ntype = "uint16"\nfunction = 6'),
            "test-meter.toml: values.current_a.function: must be 3 (holding) or 4 (input)",
        ),
        (
            profile(extra='[values.current_a]\naddress = -1\ntype = "uint16"'),
            "test-meter.toml: values.current_a.address: must be a whole number from 0 to 65535",
        ),
        (
            profile(extra='[values.current_a]\naddress = 0x0D\ntype = "uint16"\nbits = 3'),
            "test-meter.toml: values.current_a.bits: unknown key",
        ),
        (
            profile(
                extra='[values.current_a]\naddress = 0x0D\ntype = "uint16"\nword_order = "mid"'
            ),
            "test-meter.toml: values.current_a.word_order: must be big or little, not 'mid'",
        ),
        (
            profile(modbus='word_order = "middle"'),
            "test-meter.toml: modbus.word_order: must be big or little, not 'middle'",
        ),
        (
            profile(modbus="max_registers_per_request = 200"),
            "test-meter.toml: modbus.max_registers_per_request: must be a whole number"
            " from 1 to 125",
        ),
        (profile(modbus="password = 1"), "test-meter.toml: modbus.password: unknown key"),
        (
            profile(modbus="[[modbus.batch]]\nfunction = 3\naddress = 0x0C\ncount = 2"),
            "test-meter.toml: values.power_w: registers 0x000E-0x000E (FC03) lie outside every"
            " [[modbus.batch]]",
        ),
        (
            profile(
                modbus="max_registers_per_request = 2\n"
                "[[modbus.batch]]\nfunction = 3\naddress = 0x0C\ncount = 3"
            ),
            "test-meter.toml: modbus.batch[0].count: 3 registers is more than"
            " max_registers_per_request = 2",
        ),
        (
            profile(
                modbus="[[modbus.batch]]\nfunction = 3\naddress = 0x0C\ncount = 2\n"
                "[[modbus.batch]]\nfunction = 3\naddress = 0x0D\ncount = 2"
            ),
            "test-meter.toml: modbus.batch[1]: overlaps modbus.batch[0]",
        ),
        (
            profile(
                modbus="[[modbus.batch]]\nfunction = 3\naddress = 0x0C\ncount = 3\n"
                "[[modbus.batch]]\nfunction = 3\naddress = 0x20\ncount = 2"
            ),
            "test-meter.toml: modbus.batch[1]: holds no value; remove it",
        ),
        (
            profile(modbus="[[modbus.batch]]\nfunction = 5\naddress = 0x0C\ncount = 3"),
            "test-meter.toml: modbus.batch[0].function: must be 3 or 4, not 5",
        ),
        (
            profile(
                extra='[supply]\nkind = "relay"\nfunction = 3\naddress = 0x1A\non_state = [1]\n'
                "write_function = 5\non_registers = [1]\noff_registers = [0]"
            ),
            "test-meter.toml: supply.write_function: must be 6 or 16, not 5",
        ),
        (
            profile(
                extra='[supply]\nkind = "relay"\nfunction = 3\naddress = 0x1A\non_state = [1]\n'
                "write_function = 16\non_registers = [1]\noff_registers = [1]"
            ),
            "test-meter.toml: supply.off_registers: must differ from on_registers",
        ),
        (
            profile(
                extra='[supply]\nkind = "relay"\nfunction = 3\naddress = 0x57\non_state = [1, 0]\n'
                "write_function = 6\non_registers = [1, 0]\noff_registers = [1, 1]"
            ),
            "test-meter.toml: supply.write_function: 6 writes one register; use 16 for more",
        ),
        (
            profile(
                extra='[supply]\nkind = "relay"\nfunction = 3\naddress = 0x1A\non_state = []\n'
                "write_function = 16\non_registers = [1]\noff_registers = [0]"
            ),
            "test-meter.toml: supply.on_state: must be a list of register values 0-65535",
        ),
        (
            profile(
                extra='[supply]\nkind = "relay"\nfunction = 3\naddress = 0x1A\non_state = [1]\n'
                "off_state = [0, 0]\nwrite_function = 16\non_registers = [1]\noff_registers = [0]"
            ),
            "test-meter.toml: supply.off_state: must have as many registers as on_state",
        ),
    ],
)
def test_profile_mistakes_name_the_file_and_the_key(text: str, message: str) -> None:
    with pytest.raises(ProfileError) as caught:
        profile_from_text(text)
    assert str(caught.value).startswith(message)


def test_a_value_without_a_function_says_where_to_give_one() -> None:
    text = profile().replace("function = 3\n", "")
    with pytest.raises(ProfileError, match=r"values\.voltage_v\.function: missing; give 3 or 4"):
        profile_from_text(text)


def test_tables_compile_without_a_profile_file() -> None:
    options: dict[str, Any] = {"function": 4, "max_gap": 4}
    values = {
        "voltage_v": {"address": 0, "type": "float32"},
        "current_a": {"address": 6, "type": "float32"},
    }
    rmap = compile_tables(Path("x.toml"), options, values, None)
    assert [(b.address, b.count) for b in rmap.batches] == [(0, 8)]


@pytest.mark.parametrize("name", MODBUS_PROFILES)
def test_every_shipped_profile_loads_and_names_its_sources(name: str) -> None:
    loaded = shipped_profile(name)
    assert loaded.protocol == "modbus-rtu"
    assert loaded.sources
    assert {"voltage_v", "current_a", "power_w", "power_factor", "energy_import_kwh"} <= set(
        loaded.values
    )
    assert "energy_import_kwh" in loaded.groups_of("slow")
    assert "power_w" in loaded.groups_of("fast")
    assert loaded.rated_current_a is not None
    assert loaded.rated_current_a > 0
    assert math.isfinite(loaded.line.timeout_s)
