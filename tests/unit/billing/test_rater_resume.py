"""A rater rebuilt from its saved state (after a restart) goes on exactly as the one that never
stopped; per-rate registers share a slice between TOU periods as the meter counted it."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.billing.rating import Posting, Rater, RaterState, UsageError
from app.billing.tariff import Tariff, parse_tariff
from tests.unit.billing.test_rating_properties import HEAD, TOU, readings, tariffs

D = Decimal


@given(tariffs(), readings(), st.data())
def test_a_resumed_rater_posts_what_the_uninterrupted_one_posts(
    tariff: Tariff, usage: list[tuple[datetime, int, Decimal]], data: st.DataObject
) -> None:
    steady, restarted = Rater(tariff), Rater(tariff)
    steady_postings: list[Posting] = []
    restarted_postings: list[Posting] = []
    for start, minutes, rate in usage:
        end = start + timedelta(minutes=minutes)
        steady_postings += steady.post(start, end, rate * minutes)
        if data.draw(st.booleans()):  # a restart before this reading
            state = restarted.state()
            restarted = Rater.resume(tariff, state)
            assert restarted.state() == state
        restarted_postings += restarted.post(start, end, rate * minutes)
    assert restarted_postings == steady_postings
    assert restarted.residue == steady.residue


def test_the_state_is_plain_values_and_a_fresh_state_resumes_a_fresh_rater() -> None:
    tariff = parse_tariff(HEAD.format(date="2026-09-01") + 'price = "0.58"\n')
    fresh = Rater(tariff).state()
    assert fresh.last_end is None
    assert fresh.posted == 0
    rater = Rater(tariff)
    rater.post(datetime(2026, 9, 2), datetime(2026, 9, 2, 1), D("1.5"))
    for value in dataclasses.astuple(rater.state()):
        assert not isinstance(value, float)
    resumed = Rater.resume(tariff, rater.state())
    with pytest.raises(UsageError, match="time order"):
        resumed.post(datetime(2026, 9, 1, 23), datetime(2026, 9, 2, 0, 30), D(1))


def test_resuming_without_the_version_that_priced_open_units_is_refused() -> None:
    text = HEAD.format(date="2026-09-01") + 'price = "0.5"\n'
    tiers = '[tiers]\ncycle = "month"\nmode = "all_units"\nbasis = "surcharge"\n'
    tiers += 'steps = [{ upto = "10", value = "0" }, { value = "0.1" }]\n'
    rater = Rater(parse_tariff(text + tiers))
    rater.post(datetime(2026, 9, 2), datetime(2026, 9, 2, 1), D(4))
    state: RaterState = rater.state()
    assert state.open_units  # all_units waits for the step the month reaches
    later = parse_tariff((HEAD.format(date="2026-10-01") + 'price = "0.5"\n') + tiers)
    with pytest.raises(UsageError, match="2026-09-01"):
        Rater.resume([later], state)


TOU_TARIFF = parse_tariff(HEAD.format(date="2026-09-01") + TOU)


def test_per_rate_registers_share_the_slice_as_the_meter_counted() -> None:
    # Weekday 10:00-12:00: by time half peak (to 11:00) and half flat.
    start, end = datetime(2026, 9, 2, 10), datetime(2026, 9, 2, 12)
    by_time = Rater(TOU_TARIFF).post(start, end, D(2))
    by_register = Rater(TOU_TARIFF).post(start, end, D(2), {"peak": D("1.5"), "flat": D("0.5")})
    assert by_time[0].exact == D("0.88") + D("0.55")
    assert by_register[0].exact == D("1.5") * D("0.88") + D("0.5") * D("0.55")


def test_registers_share_the_register_total_not_their_own_sum() -> None:
    # The meter's rate registers add to 1.001 kWh, its total register to 1 kWh: bill 1 kWh.
    start, end = datetime(2026, 9, 2, 10), datetime(2026, 9, 2, 12)
    posted = Rater(TOU_TARIFF).post(start, end, D(1), {"peak": D("0.5005"), "flat": D("0.5005")})
    assert posted[0].exact == D("0.5") * D("0.88") + D("0.5") * D("0.55")


def test_a_period_the_bands_do_not_reach_is_priced_on_the_slices_day() -> None:
    # 10:00-10:30 is all peak by the tariff, but the meter (its clock ahead) counted valley.
    start, end = datetime(2026, 9, 2, 10), datetime(2026, 9, 2, 10, 30)
    posted = Rater(TOU_TARIFF).post(start, end, D(1), {"valley": D(1)})
    assert posted[0].exact == D("0.22")


@pytest.mark.parametrize(
    "by_period",
    [{"sharp": D(1)}, {}, {"peak": D(0), "flat": D(0)}],
    ids=["period unknown to the tariff", "no registers", "registers counted nothing"],
)
def test_registers_that_cannot_be_used_fall_back_to_the_time_split(
    by_period: dict[str, Decimal],
) -> None:
    start, end = datetime(2026, 9, 2, 10), datetime(2026, 9, 2, 12)
    assert Rater(TOU_TARIFF).post(start, end, D(2), by_period) == Rater(TOU_TARIFF).post(
        start, end, D(2)
    )


def test_a_single_rate_tariff_ignores_the_registers() -> None:
    tariff = parse_tariff(HEAD.format(date="2026-09-01") + 'price = "0.58"\n')
    start, end = datetime(2026, 9, 2, 10), datetime(2026, 9, 2, 12)
    assert Rater(tariff).post(start, end, D(2), {"peak": D(2)})[0].exact == D("1.16")
