"""The identifying head of a tariff file: the shipped files read, every mistake is named."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from app.billing.tariff_header import TariffFileError, TariffHeader, read_tariff_header

TARIFFS = Path(__file__).resolve().parents[3] / "resources" / "tariffs"
SHIPPED = sorted(TARIFFS.glob("*.toml"))

GOOD = """\
name = "Dormitory electricity"
utility = "electricity"
unit = "kWh"
currency = "CNY"
effective_from = 2026-09-01
price = "0.5800"
"""


def test_the_shipped_tariffs_are_found() -> None:
    assert {p.name for p in SHIPPED} >= {
        "dorm-electricity.toml",
        "tou-electricity.toml",
        "tiered-water.toml",
    }


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_tariff_has_a_good_header(path: Path) -> None:
    head = read_tariff_header(path.read_text(encoding="utf-8"), str(path))
    assert head.name
    assert head.unit in {"kWh", "m3"}
    assert (head.utility, head.unit) in {("electricity", "kWh"), ("water", "m3"), ("gas", "m3")}
    assert head.currency == "CNY"
    assert type(head.effective_from) is date


def test_a_good_header_is_read_exactly() -> None:
    assert read_tariff_header(GOOD) == TariffHeader(
        "Dormitory electricity", "electricity", "kWh", "CNY", date(2026, 9, 1)
    )


def test_the_name_is_stripped_and_gas_is_billed_in_cubic_metres() -> None:
    text = GOOD.replace('"Dormitory electricity"', '"  Canteen gas "')
    text = text.replace('"electricity"', '"gas"').replace('"kWh"', '"m3"')
    head = read_tariff_header(text)
    assert (head.name, head.utility, head.unit) == ("Canteen gas", "gas", "m3")


def _without(key: str) -> str:
    return "".join(line + "\n" for line in GOOD.splitlines() if not line.startswith(key + " "))


def _with(key: str, value: str) -> str:
    return "".join(
        (f"{key} = {value}" if line.startswith(key + " ") else line) + "\n"
        for line in GOOD.splitlines()
    )


BAD_HEADERS = {
    "name-missing": (_without("name"), "name"),
    "name-empty": (_with("name", '""'), "name"),
    "name-blank": (_with("name", '"   "'), "name"),
    "name-not-text": (_with("name", "42"), "name"),
    "utility-missing": (_without("utility"), "utility"),
    "utility-unknown": (_with("utility", '"steam"'), "utility"),
    "utility-capitalised": (_with("utility", '"Electricity"'), "utility"),
    "utility-list": (_with("utility", '["electricity"]'), "utility"),
    "unit-missing": (_without("unit"), "unit"),
    "unit-of-another-utility": (_with("unit", '"m3"'), "unit"),
    "unit-lower-case": (_with("unit", '"kwh"'), "unit"),
    "unit-list": (_with("unit", '["kWh"]'), "unit"),
    "currency-missing": (_without("currency"), "currency"),
    "currency-lower-case": (_with("currency", '"cny"'), "currency"),
    "currency-unknown": (_with("currency", '"XYZ"'), "currency"),
    "currency-table": (_with("currency", "{ code = 'CNY' }"), "currency"),
    "effective-missing": (_without("effective_from"), "effective_from"),
    "effective-quoted": (_with("effective_from", '"2026-09-01"'), "effective_from"),
    "effective-number": (_with("effective_from", "20260901"), "effective_from"),
    "effective-time": (_with("effective_from", "08:00:00"), "effective_from"),
    "effective-local-datetime": (_with("effective_from", "2026-09-01T08:00:00"), "effective_from"),
    "effective-offset-datetime": (
        _with("effective_from", "2026-09-01T00:00:00+08:00"),
        "effective_from",
    ),
}


@pytest.mark.parametrize(("text", "key"), list(BAD_HEADERS.values()), ids=list(BAD_HEADERS))
def test_each_bad_key_is_refused_with_its_name(text: str, key: str) -> None:
    with pytest.raises(TariffFileError) as info:
        read_tariff_header(text, "tariffs/dorm.toml")
    message = str(info.value)
    assert f"'{key}'" in message
    assert message.startswith("tariffs/dorm.toml: ")


def test_a_unit_error_says_what_the_utility_is_billed_in() -> None:
    text = _with("utility", '"water"')  # still unit = "kWh"
    with pytest.raises(TariffFileError, match=r"'unit' is 'kWh'; water is billed in m3"):
        read_tariff_header(text)


@pytest.mark.parametrize("text", ['name = "x', "name = = 1", "[unclosed\n", 'a = "1"\na = "2"\n'])
def test_text_that_is_not_toml_is_refused_naming_the_source(text: str) -> None:
    with pytest.raises(TariffFileError, match=r"^my-tariff\.toml: not valid TOML"):
        read_tariff_header(text, "my-tariff.toml")


def test_the_default_source_name_is_tariff() -> None:
    with pytest.raises(TariffFileError, match=r"^tariff: 'name' is missing"):
        read_tariff_header(_without("name"))
