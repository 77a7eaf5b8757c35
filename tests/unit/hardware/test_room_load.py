"""The room model summed over past hours agrees with the simulated meters that run it live."""

from __future__ import annotations

from datetime import datetime
from statistics import mean

import pytest

from app.hardware.profiles import load_profile
from app.hardware.simulator.room_load import past_usage
from app.hardware.simulator.sim_meter import SimMeter
from tests.support import ManualClock

DAY = list(range(24))
ROOMS = 40


def _live_per_day(profile_name: str, address: str, days: int = 2) -> float:
    profile = load_profile(profile_name)
    clock = ManualClock(datetime(2026, 3, 2))
    meter = SimMeter(address, profile, clock=clock, seed=1)
    before = meter.state()
    clock.advance(days * 86_400.0)
    after = meter.state()
    if profile.utility == "electricity":
        return (after.energy_import_kwh - before.energy_import_kwh) * 1000 / days
    return (after.volume_m3 - before.volume_m3) * 1000 / days


def test_a_meters_past_is_the_same_every_time_and_differs_between_meters() -> None:
    assert past_usage("E-A101", "electricity", DAY) == past_usage("E-A101", "electricity", DAY)
    assert past_usage("E-A101", "electricity", DAY) != past_usage("E-A102", "electricity", DAY)
    assert all(wh >= 0 for wh in past_usage("W-A102", "water", DAY * 7))


@pytest.mark.parametrize(
    ("profile", "utility"), [("acrel-ddsy1352", "electricity"), ("cjt188-water", "water")]
)
def test_the_past_of_many_rooms_matches_what_the_simulated_meters_use_live(
    profile: str, utility: str
) -> None:
    live = mean(_live_per_day(profile, str(n)) for n in range(ROOMS))
    past = mean(sum(past_usage(f"room {n}", utility, DAY * 2)) / 2 for n in range(ROOMS))
    assert past == pytest.approx(live, rel=0.12)


def test_rooms_use_more_in_the_evening_than_at_night() -> None:
    hours = DAY * 7
    evening = night = 0.0
    for n in range(ROOMS):
        used = past_usage(f"room {n}", "electricity", hours)
        evening += sum(u for h, u in zip(hours, used, strict=True) if 19 <= h < 22)
        night += sum(u for h, u in zip(hours, used, strict=True) if 2 <= h < 5)
    assert evening > 2 * night
