"""A bus's line settings as typed: the bounds of ``app.hardware.ports``, and anything that is
not a plain whole number refused with a message rather than a traceback."""

from __future__ import annotations

import pytest

from app.hardware.profiles import load_profile
from app.services.bus_setup import BusForm, line_settings
from app.services.setup_checks import SetupRefused

HIKING = "hiking-dds238"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"timeout_ms": "²"}, "timeout_ms", "The reply timeout '²' is not a whole number"),
        ({"baud": "9" * 5000}, "baud", "is not a whole number; type one"),
        ({"retries": "٣"}, "retries", "is not a whole number"),
        ({"timeout_ms": "1000000000"}, "timeout_ms", "give 50 to 10000"),
        ({"baud": "1234"}, "baud", "1234 baud is not an RS485 meter speed"),
    ],
)
def test_line_settings_refuse_what_a_line_cannot_take(
    change: dict[str, str], field: str, words: str
) -> None:
    form = BusForm("Line 2", "sim://x", HIKING, **change)
    with pytest.raises(SetupRefused) as refused:
        line_settings(form, load_profile(HIKING))
    assert refused.value.field == field
    assert words in str(refused.value)


def test_line_settings_as_typed_within_the_bounds() -> None:
    form = BusForm("Line 2", "sim://x", HIKING, baud="19200", timeout_ms="50", retries="5")
    assert line_settings(form, load_profile(HIKING))[0] == 19200
