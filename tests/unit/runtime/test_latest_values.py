"""The runtime's latest values of a meter: what the newest poll did not read (slow values, the
relay state) is the value last read, never blanked by a poll that skipped it."""

from __future__ import annotations

from datetime import UTC, datetime

from app.hardware.snapshot import Quality, Snapshot
from app.runtime.operator_commands import carry_over

AT = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def poll(at_s: float, **values: object) -> Snapshot:
    return Snapshot(1, "1", at_s, AT, Quality.GOOD, **values)  # type: ignore[arg-type]


def test_a_fast_poll_keeps_the_slow_values_and_the_relay_state_last_read() -> None:
    slow = poll(1.0, power_w=900.0, voltage_v=229.5, energy_import_kwh=12.5, relay_closed=True)
    fast = poll(2.0, power_w=1500.0, power_factor=0.99)
    merged = carry_over(slow, fast)
    assert merged.power_w == 1500.0  # the newest poll's own values win
    assert merged.power_factor == 0.99
    assert merged.voltage_v == 229.5
    assert merged.energy_import_kwh == 12.5
    assert merged.relay_closed is True
    assert merged.monotonic_s == 2.0
    opened = carry_over(merged, poll(3.0, power_w=0.0, relay_closed=False))
    assert opened.relay_closed is False
    assert opened.voltage_v == 229.5


def test_the_first_poll_and_a_full_poll_stand_as_they_are() -> None:
    first = poll(1.0, power_w=10.0)
    assert carry_over(None, first) is first
    full = poll(2.0, power_w=20.0, voltage_v=230.0, energy_import_kwh=13.0, relay_closed=True)
    assert carry_over(poll(1.0, voltage_v=1.0, power_w=1.0), full).voltage_v == 230.0
