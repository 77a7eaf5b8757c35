"""A simulated meter asked after a long simulated gap (a large ``--time-scale``) catches up in
a bounded number of model steps: one request never costs seconds of CPU, so a bus worker busy
with it still stops promptly when asked."""

from __future__ import annotations

from datetime import datetime

import pytest

from app.hardware.profiles import load_profile
from app.hardware.simulator import sim_meter
from app.hardware.simulator.sim_meter import MAX_STEP_S, MAX_STEPS, SimMeter
from tests.support import ManualClock


@pytest.mark.parametrize("profile", ["dlt645-2007", "cjt188-water"])
def test_a_long_gap_is_stepped_in_at_most_max_steps(
    profile: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = ManualClock(datetime(2026, 12, 7, 8, 0))
    meter = SimMeter("000000000001", load_profile(profile), clock=clock, seed=1)
    meter.state()
    steps: list[float] = []
    integrate = SimMeter._integrate

    def counted(self: SimMeter, dt: float) -> None:
        steps.append(dt)
        integrate(self, dt)

    monkeypatch.setattr(sim_meter.SimMeter, "_integrate", counted)
    clock.advance(1_000_000 * 10.0)  # ten real seconds at a time scale of a million
    state = meter.state()
    assert len(steps) <= MAX_STEPS + 1
    assert sum(steps) == pytest.approx(10_000_000.0)
    assert state.energy_import_kwh >= 0

    steps.clear()
    clock.advance(600.0)  # an ordinary gap keeps the fine steps
    meter.state()
    assert max(steps) <= MAX_STEP_S
