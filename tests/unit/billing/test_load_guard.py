"""Console-side load guard of DOMAIN.md section 3, fed hand-made poll sequences.

Times are monotonic seconds chosen by the test; days are site-local dates chosen by the test."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.billing.load_guard import (
    Alarm,
    AutoRestoreDue,
    DetectionMode,
    Event,
    GuardMode,
    GuardState,
    LoadGuard,
    LoadGuardParams,
    LockedOut,
    PowerBand,
    Sample,
    Trip,
)

DAY = date(2026, 9, 7)
NEXT_DAY = DAY + timedelta(days=1)

# A dormitory block: chargers and laptops may stay (white list), a water dispenser may stay,
# small and large resistive loads are banned.
LAPTOPS, SMALL, DISPENSER, HEATERS = 0, 1, 2, 3
DORM_BANDS = (
    (30, 150, False),  # phones, laptops, lamps
    (150, 400, True),  # hot plates at low setting, small heaters
    (400, 700, False),  # water dispenser: white list
    (700, 3000, True),  # kettles, heaters, electric blankets
)
DORM = LoadGuardParams(
    increment_mode=GuardMode.TRIP,
    bands=DORM_BANDS,  # type: ignore[arg-type]  # tuples are accepted and normalised
    pf_threshold=0.95,
    step_window_s=3.0,
    restore_delay_s=60.0,
    max_auto_restores_per_day=3,
)


def line(parts: Iterable[tuple[float, float]]) -> tuple[float, float]:
    """Line power and PF (rounded like a meter) of loads given as (P W, PF) each."""
    p = q = 0.0
    for power, pf in parts:
        p += power
        q += power * math.sqrt(1 - pf * pf) / pf
    return p, (round(p / math.hypot(p, q), 3) if p else 1.0)


def sample(t: float, *loads: tuple[float, float]) -> Sample:
    p, pf = line(loads)
    return Sample(t, p, pf)


def feed_all(guard: LoadGuard, samples: Iterable[Sample], day: date = DAY) -> list[Event]:
    events: list[Event] = []
    for s in samples:
        events += guard.feed(s, day)
    return events


HEATER = (1500.0, 0.99)
LAPTOP = (60.0, 0.95)
PC = (120.0, 0.9)
DISPENSER_LOAD = (550.0, 1.0)
FRIDGE = (400.0, 0.5)


# -- increment mode ----------------------------------------------------------------------------


def test_a_1500_w_heater_at_pf_0_99_trips_with_its_evidence() -> None:
    guard = LoadGuard(DORM)
    assert feed_all(guard, [sample(0), sample(2)]) == []
    events = guard.feed(sample(4, HEATER), DAY)
    assert len(events) == 1
    trip = events[0]
    assert isinstance(trip, Trip)
    ev = trip.evidence
    assert ev.mode is DetectionMode.INCREMENT
    assert ev.power_w == 1500
    assert ev.delta_power_w == 1500
    assert ev.power_factor == 0.99
    assert ev.line_power_factor == 0.99
    assert ev.band_index == HEATERS
    assert ev.band == PowerBand(700, 3000, True)
    assert ev.window_s == 2.0
    assert ev.time_s == 4
    assert ev.pf_threshold == 0.95
    assert trip.restore_due_at_s == 64.0
    assert guard.state is GuardState.TRIPPED
    assert "new load +1500 W (0 W to 1500 W over 2.0 s) in band 3" in ev.describe()
    assert "step PF 0.990 >= 0.950" in ev.describe()


def test_a_60_w_laptop_at_pf_0_95_in_a_white_listed_band_does_not_trip() -> None:
    guard = LoadGuard(DORM)
    events = feed_all(guard, [sample(0), sample(2, LAPTOP), sample(4, LAPTOP), sample(6)])
    assert events == []
    assert guard.state is GuardState.ARMED


def test_a_heater_joining_a_motor_is_judged_by_its_own_pf() -> None:
    """Fridge 400 W at PF 0.5 plus an 800 W heater: the line PF is 0.866, below the threshold,
    but the new load's PF is 1.0 - the heater is caught."""
    guard = LoadGuard(DORM)
    feed_all(guard, [sample(0, FRIDGE), sample(2, FRIDGE)])
    both = sample(4, FRIDGE, (800.0, 1.0))
    assert both.power_factor == pytest.approx(0.866, abs=0.001)
    [trip] = guard.feed(both, DAY)
    assert isinstance(trip, Trip)
    assert trip.evidence.power_factor == 1.0
    assert trip.evidence.line_power_factor == both.power_factor
    assert trip.evidence.delta_power_w == pytest.approx(800)
    assert trip.evidence.baseline_power_w == pytest.approx(400)


def test_an_inductive_load_joining_a_resistive_one_is_not_a_heater() -> None:
    """A 550 W dispenser (PF 1) runs; a 200 W fan at PF 0.6 joins. The line PF of the mix is
    0.938, above a 0.9 threshold, but the new load's PF is 0.6: no trip."""
    guard = LoadGuard(replace(DORM, pf_threshold=0.9))
    feed_all(guard, [sample(0), sample(2, DISPENSER_LOAD), sample(4, DISPENSER_LOAD)])
    mixed = sample(6, DISPENSER_LOAD, (200.0, 0.6))
    assert mixed.power_factor is not None
    assert mixed.power_factor >= 0.9
    assert guard.feed(mixed, DAY) == []


def test_a_load_coming_on_across_two_polls_is_one_step_within_the_window() -> None:
    """0 -> 600 W (white-listed step) -> 1200 W one poll later: against the window's lowest
    sample the step is 1200 W, a heater. Comparing consecutive polls only, it would pass as two
    white-listed 600 W steps."""
    ramp = [sample(0), sample(1, (600.0, 1.0)), sample(2, (1200.0, 1.0))]
    windowed = feed_all(LoadGuard(DORM), ramp)
    assert [type(e) for e in windowed] == [Trip]
    assert isinstance(windowed[0], Trip)
    assert windowed[0].evidence.window_s == 2.0
    assert windowed[0].evidence.delta_power_w == 1200
    consecutive = LoadGuard(replace(DORM, step_window_s=0.0))
    assert feed_all(consecutive, ramp) == []


def test_a_step_without_a_power_factor_reading_does_not_trip() -> None:
    guard = LoadGuard(DORM)
    assert feed_all(guard, [Sample(0, 0.0, None), Sample(2, 1500.0, None)]) == []


def test_the_first_sample_is_a_baseline_never_a_step() -> None:
    guard = LoadGuard(DORM)
    assert guard.feed(sample(0, HEATER), DAY) == []


def test_steps_outside_every_band_and_steps_down_are_ignored() -> None:
    guard = LoadGuard(DORM)
    quiet = [
        sample(0),
        sample(2, (20.0, 1.0)),  # below the first band: noise
        sample(4, (20.0, 1.0), (3500.0, 1.0)),  # above the last band: total power's job
        sample(6),  # step down
    ]
    assert feed_all(guard, quiet) == []


def test_pf_is_compared_at_the_meters_resolution() -> None:
    """A heater at PF 0.95 exactly meets a 0.95 threshold despite float arithmetic."""
    guard = LoadGuard(DORM)
    events = feed_all(guard, [sample(0, PC), sample(2, PC), sample(4, PC, (1000.0, 0.95))])
    assert [type(e) for e in events] == [Trip]


def test_alarm_mode_alarms_once_per_step_and_leaves_supply_on() -> None:
    guard = LoadGuard(replace(DORM, increment_mode="alarm"))
    events = feed_all(
        guard,
        [sample(0), sample(2, HEATER), sample(4, HEATER), sample(6, HEATER), sample(8)],
    )
    assert [type(e) for e in events] == [Alarm]
    assert guard.state is GuardState.ARMED
    again = guard.feed(sample(10, HEATER), DAY)  # switched on again: a new step
    assert [type(e) for e in again] == [Alarm]


# -- total power mode --------------------------------------------------------------------------

TOTAL = LoadGuardParams(
    total_mode=GuardMode.TRIP, total_limit_w=2500, total_duration_s=10, restore_delay_s=30
)


def test_total_power_needs_the_duration_to_elapse() -> None:
    guard = LoadGuard(TOTAL)
    over = (3000.0, 0.98)
    assert feed_all(guard, [sample(0, over), sample(5, over), sample(9.9, over)]) == []
    [trip] = guard.feed(sample(10, over), DAY)
    assert isinstance(trip, Trip)
    ev = trip.evidence
    assert ev.mode is DetectionMode.TOTAL_POWER
    assert ev.power_w == 3000
    assert ev.delta_power_w == 500  # the excess over the limit
    assert ev.power_factor == 0.98
    assert ev.band_index is None
    assert ev.window_s == 10
    assert ev.limit_w == 2500
    assert "above the limit 2500 W by 500 W for 10.0 s" in ev.describe()


def test_a_dip_to_the_limit_restarts_the_duration() -> None:
    guard = LoadGuard(TOTAL)
    over, at_limit = (3000.0, 0.98), (2500.0, 0.98)
    quiet = [sample(0, over), sample(8, over), sample(9, at_limit), sample(10, over)]
    assert feed_all(guard, [*quiet, sample(19, over)]) == []
    assert [type(e) for e in guard.feed(sample(20, over), DAY)] == [Trip]


def test_total_power_alarm_is_once_per_run() -> None:
    guard = LoadGuard(
        LoadGuardParams(total_mode="alarm", total_limit_w=2500, total_duration_s=0)  # type: ignore[arg-type]
    )
    over = (3000.0, 0.98)
    events = feed_all(guard, [sample(t, over) for t in range(0, 30, 5)])
    assert [type(e) for e in events] == [Alarm]
    events = feed_all(guard, [sample(30), sample(35, over)])
    assert [type(e) for e in events] == [Alarm]


def test_when_both_modes_fire_one_trip_carries_the_increment_evidence() -> None:
    params = replace(DORM, total_mode="trip", total_limit_w=1000)
    events = feed_all(LoadGuard(params), [sample(0), sample(2, HEATER)])
    assert [type(e) for e in events] == [Trip]
    assert isinstance(events[0], Trip)
    assert events[0].evidence.mode is DetectionMode.INCREMENT


def test_an_alarm_of_one_mode_comes_before_the_trip_of_the_other() -> None:
    params = replace(DORM, total_mode="alarm", total_limit_w=1000)
    events = feed_all(LoadGuard(params), [sample(0), sample(2, HEATER)])
    assert [type(e) for e in events] == [Alarm, Trip]
    assert isinstance(events[0], Alarm)
    assert events[0].evidence.mode is DetectionMode.TOTAL_POWER


# -- trip, restore, lock-out -------------------------------------------------------------------


def trip_heater(guard: LoadGuard, t: float, day: date = DAY, *base: tuple[float, float]) -> Trip:
    events = feed_all(guard, [sample(t, *base), sample(t + 2, *base, HEATER)], day)
    assert [type(e) for e in events] == [Trip], events
    assert isinstance(events[0], Trip)
    return events[0]


def test_samples_while_tripped_do_not_trigger_and_restore_comes_after_the_delay() -> None:
    guard = LoadGuard(DORM)
    trip = trip_heater(guard, 0)
    assert trip.restore_due_at_s == 62
    assert guard.restore_due_at_s == 62
    dark = [sample(t) for t in (4, 10, 30, 61.9)]
    assert feed_all(guard, dark) == []
    assert guard.state is GuardState.TRIPPED
    [restore] = guard.feed(sample(63), DAY)
    assert restore == AutoRestoreDue(time_s=63, due_at_s=62, restores_today=1, max_per_day=3)
    assert guard.state is GuardState.ARMED
    assert guard.restore_due_at_s is None


def test_after_a_restore_the_room_s_ordinary_loads_do_not_trip() -> None:
    """PC and fridge were on before the heater; after the restore they come back together
    (a 520 W step at PF 0.68 would be ambiguous) and are measured from the pre-trip load."""
    guard = LoadGuard(DORM)
    trip_heater(guard, 0, DAY, PC, FRIDGE)
    restored = feed_all(guard, [sample(62), sample(63, PC, FRIDGE), sample(65, PC, FRIDGE)])
    assert [type(e) for e in restored] == [AutoRestoreDue]


def test_a_heater_still_plugged_in_after_a_restore_trips_again() -> None:
    guard = LoadGuard(DORM)
    trip_heater(guard, 0, DAY, PC)
    events = feed_all(
        guard,
        [
            sample(62),  # restore due: the engine closes the relay
            sample(63),  # relay not closed yet: no power, skipped
            sample(64, PC, HEATER),  # back, with the heater
        ],
    )
    assert [type(e) for e in events] == [AutoRestoreDue, Trip]
    trip = events[1]
    assert isinstance(trip, Trip)
    assert trip.evidence.delta_power_w == pytest.approx(1500)
    assert trip.evidence.baseline_power_w == pytest.approx(120)


def lock_out_day(guard: LoadGuard, day: date, start: float, restores: int) -> float:
    """Trip a plugged-in heater until the day's restores are used; returns the time after."""
    t = start
    for n in range(1, restores + 1):
        trip_heater(guard, t, day)
        [restore] = guard.feed(sample(t + 62), day)
        assert isinstance(restore, AutoRestoreDue)
        assert restore.restores_today == n
        t += 70
    return t


def test_lock_out_after_n_automatic_restores_in_a_day() -> None:
    guard = LoadGuard(DORM)
    t = lock_out_day(guard, DAY, 0, 3)
    events = feed_all(guard, [sample(t), sample(t + 2, HEATER)])
    assert [type(e) for e in events] == [Trip, LockedOut]
    trip, locked = events
    assert isinstance(trip, Trip)
    assert isinstance(locked, LockedOut)
    assert trip.restore_due_at_s is None
    assert locked.restores_today == 3
    assert locked.evidence == trip.evidence
    assert guard.state is GuardState.LOCKED_OUT
    # no automatic restore, not later that day, not the next day
    assert feed_all(guard, [sample(t + 1000), sample(t + 5000)]) == []
    assert guard.feed(sample(t + 90_000), NEXT_DAY) == []
    assert guard.state is GuardState.LOCKED_OUT


def test_the_daily_count_resets_the_next_day() -> None:
    guard = LoadGuard(DORM)
    t = lock_out_day(guard, DAY, 0, 3)
    trip = trip_heater(guard, t + 86_400, NEXT_DAY)
    assert trip.restore_due_at_s is not None
    [restore] = guard.feed(sample(t + 86_500), NEXT_DAY)
    assert isinstance(restore, AutoRestoreDue)
    assert restore.restores_today == 1


def test_a_restore_is_counted_on_the_day_it_happens() -> None:
    guard = LoadGuard(DORM)
    t = lock_out_day(guard, DAY, 0, 2)
    trip_heater(guard, t, DAY)  # the third trip of the day, late in the evening
    [restore] = guard.feed(sample(t + 62), NEXT_DAY)  # restored after midnight
    assert isinstance(restore, AutoRestoreDue)
    assert restore.restores_today == 1


def test_operator_restore_clears_a_lock_out_but_not_the_day_s_count() -> None:
    guard = LoadGuard(DORM)
    t = lock_out_day(guard, DAY, 0, 3)
    feed_all(guard, [sample(t), sample(t + 2, HEATER)])
    assert guard.state is GuardState.LOCKED_OUT
    assert guard.operator_restore(t + 600) is True
    assert guard.state is GuardState.ARMED
    assert guard.operator_restore(t + 601) is False  # nothing left to restore
    # the room comes back without the heater: nothing happens
    assert feed_all(guard, [sample(t + 602, LAPTOP), sample(t + 604, LAPTOP)]) == []
    # the heater again, the same day: straight to lock-out
    events = guard.feed(sample(t + 606, LAPTOP, HEATER), DAY)
    assert [type(e) for e in events] == [Trip, LockedOut]


def test_operator_restore_of_a_pending_trip_is_not_counted() -> None:
    guard = LoadGuard(DORM)
    trip_heater(guard, 0)
    assert guard.operator_restore(10) is True
    assert guard.restores_today == 0
    assert guard.feed(sample(70), DAY) == []  # no automatic restore left pending


def test_zero_automatic_restores_locks_out_on_the_first_trip() -> None:
    guard = LoadGuard(replace(DORM, max_auto_restores_per_day=0))
    events = feed_all(guard, [sample(0), sample(2, HEATER)])
    assert [type(e) for e in events] == [Trip, LockedOut]


def test_a_lock_out_survives_a_console_restart() -> None:
    guard = LoadGuard(DORM, locked_out=True, restores_today=3, restores_day=DAY)
    assert guard.state is GuardState.LOCKED_OUT
    assert feed_all(guard, [sample(0), sample(100)]) == []
    assert guard.operator_restore(200)
    events = feed_all(guard, [sample(201), sample(203, HEATER)])
    assert [type(e) for e in events] == [Trip, LockedOut]


def test_supply_cut_for_arrears_returns_without_a_false_trip() -> None:
    """The balance policy cut the room (relay read back open); after the recharge the room's
    loads return together and are measured from the load before the cut."""
    guard = LoadGuard(DORM)
    feed_all(guard, [sample(0, PC, FRIDGE), sample(2, PC, FRIDGE)])
    off = [Sample(t, 0.0, None, supply_on=False) for t in (4, 6, 500)]
    assert feed_all(guard, off) == []
    assert guard.feed(sample(502, PC, FRIDGE), DAY) == []
    # and a heater after that is still a heater
    assert [type(e) for e in guard.feed(sample(504, PC, FRIDGE, HEATER), DAY)] == [Trip]


def test_new_settings_keep_the_trip() -> None:
    guard = LoadGuard(DORM)
    trip_heater(guard, 0)
    guard.replace_params(replace(DORM, restore_delay_s=10.0))
    assert guard.state is GuardState.TRIPPED
    assert [type(e) for e in guard.feed(sample(12), DAY)] == [AutoRestoreDue]


def test_time_going_backwards_is_refused() -> None:
    guard = LoadGuard(DORM)
    guard.feed(sample(10), DAY)
    with pytest.raises(ValueError, match="time went backwards"):
        guard.feed(sample(9), DAY)


# -- parameters --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"increment_mode": "cut"}, "increment_mode is 'cut'; use 'off', 'alarm' or 'trip'"),
        ({"total_mode": "trip", "total_limit_w": 0}, "needs a limit above 0 W"),
        ({"total_duration_s": -1}, "total_duration_s is -1; it cannot be negative"),
        ({"pf_threshold": 0.998}, "use a power factor from 0.000 to 0.997"),
        ({"pf_threshold": -0.1}, "pf_threshold is -0.1"),
        ({"pf_threshold": math.nan}, "pf_threshold must be a finite number"),
        ({"bands": [(30, 150, False)] * 7}, "at most 6"),
        ({"bands": [(300, 150, True)]}, r"bands\[0\]: high_w 150 W must be above low_w 300 W"),
        ({"bands": [(-5, 150, True)]}, "starts at 0 W or above"),
        (
            {"bands": [(700, 3000, True), (30, 800, False)]},
            r"bands\[1\] .* and bands\[0\] .* overlap",
        ),
        (
            {"bands": [(30, 150)]},
            r"bands\[0\] is \(30, 150\); write it as \(low_w, high_w, controlled\)",
        ),
        ({"bands": [(30, 150, "yes")]}, "controlled must be True or False"),
        ({"bands": [(30, 150, False)]}, "no band is controlled"),
        ({"max_auto_restores_per_day": -1}, "0 or more"),
        ({"max_auto_restores_per_day": 2.5}, "whole number"),
        ({"restore_delay_s": math.inf}, "restore_delay_s must be a finite number"),
    ],
)
def test_unusable_parameters_are_refused_clearly(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(DORM, **changes)  # type: ignore[arg-type]


def test_parameters_accept_plain_values() -> None:
    params = LoadGuardParams(
        total_mode="alarm",  # type: ignore[arg-type]
        total_limit_w=2500,
        bands=[(30, 150, False), PowerBand(700, 3000)],  # type: ignore[arg-type]
        increment_mode="trip",  # type: ignore[arg-type]
        pf_threshold=0.997,
    )
    assert params.total_mode is GuardMode.ALARM
    assert params.bands == (PowerBand(30.0, 150.0, False), PowerBand(700.0, 3000.0, True))
    assert params.enabled
    assert not LoadGuardParams().enabled


def test_implausible_samples_are_refused() -> None:
    with pytest.raises(ValueError, match=r"power_factor 1\.2 is outside"):
        Sample(0, 100.0, 1.2)
    with pytest.raises(ValueError, match="power_w must be a finite number"):
        Sample(0, math.nan, 0.9)


# -- properties --------------------------------------------------------------------------------

pf_values = st.floats(min_value=0.3, max_value=1.0)
base_loads = st.lists(
    st.tuples(st.floats(min_value=5, max_value=140), pf_values), min_size=0, max_size=3
)


@given(
    base=base_loads,
    heater_w=st.floats(min_value=700, max_value=2999),
    heater_pf=st.floats(min_value=0.97, max_value=1.0),
    poll_s=st.floats(min_value=0.5, max_value=10),
)
def test_a_heater_in_a_controlled_band_always_trips(
    base: list[tuple[float, float]], heater_w: float, heater_pf: float, poll_s: float
) -> None:
    """Whatever small loads run before, a heater at PF >= 0.97 added in the heater band trips,
    and its evidence names the band, the step and a PF at or above the threshold."""
    assert sum(p for p, _ in base) < 700
    guard = LoadGuard(DORM)
    feed_all(guard, [sample(0, *base), sample(poll_s, *base)])
    events = guard.feed(sample(2 * poll_s, *base, (heater_w, heater_pf)), DAY)
    assert [type(e) for e in events] == [Trip]
    assert isinstance(events[0], Trip)
    evidence = events[0].evidence
    assert evidence.band_index == HEATERS
    assert evidence.delta_power_w == pytest.approx(heater_w)
    assert evidence.power_factor is not None
    assert evidence.power_factor >= 0.95
    assert evidence.window_s == pytest.approx(poll_s)


@given(
    moments=st.lists(
        st.tuples(
            st.floats(min_value=0.5, max_value=30),  # seconds since the last poll
            st.booleans(),  # dispenser heating
            st.floats(min_value=-8, max_value=8),  # noise W
            st.floats(min_value=0.97, max_value=1.0),  # its PF
        ),
        min_size=2,
        max_size=60,
    )
)
def test_a_white_listed_dispenser_never_trips(
    moments: list[tuple[float, bool, float, float]],
) -> None:
    guard = LoadGuard(DORM)
    t = 0.0
    for gap, heating, noise, pf in moments:
        t += gap
        power = (550.0 + noise) if heating else 0.0
        assert guard.feed(Sample(t, power, pf if heating else None), DAY) == []
    assert guard.state is GuardState.ARMED


samples_strategy = st.lists(
    st.tuples(
        st.floats(min_value=0.5, max_value=40),  # gap
        st.floats(min_value=0, max_value=4000),  # power
        st.one_of(st.none(), st.floats(min_value=0.0, max_value=1.0)),  # PF
        st.integers(0, 2),  # days since the start
    ),
    min_size=1,
    max_size=80,
)


@given(
    polls=samples_strategy,
    total_mode=st.sampled_from(list(GuardMode)),
    increment_mode=st.sampled_from([GuardMode.ALARM, GuardMode.TRIP]),
    max_restores=st.integers(0, 5),
    operator_at=st.sets(st.integers(0, 79), max_size=3),
)
def test_every_event_is_consistent_with_its_evidence_and_the_limits(
    polls: list[tuple[float, float, float | None, int]],
    total_mode: GuardMode,
    increment_mode: GuardMode,
    max_restores: int,
    operator_at: set[int],
) -> None:
    """Random traffic: every detection's evidence holds P, ΔP, PF, band and window and agrees
    with the settings; trips only happen when armed; automatic restores follow trips and never
    exceed the day's allowance; a lock-out only ends by an operator."""
    params = replace(
        DORM,
        total_mode=total_mode,
        total_limit_w=2500,
        total_duration_s=20,
        increment_mode=increment_mode,
        restore_delay_s=30,
        max_auto_restores_per_day=max_restores,
    )
    guard = LoadGuard(params)
    t = 0.0
    restores: dict[date, int] = {}
    last_day = DAY
    for index, (gap, power, pf, day_offset) in enumerate(polls):
        t += gap
        day = max(last_day, DAY + timedelta(days=day_offset))  # days only go forward
        last_day = day
        state_before = guard.state
        if index in operator_at:
            assert guard.operator_restore(t) == (state_before is not GuardState.ARMED)
            state_before = guard.state
        events = guard.feed(Sample(t, power, pf), day)
        for event in events:
            if isinstance(event, Alarm | Trip | LockedOut):
                ev = event.evidence
                assert ev.time_s == t
                assert ev.power_w == power
                assert ev.line_power_factor == pf
                if ev.mode is DetectionMode.INCREMENT:
                    assert ev.band_index is not None
                    assert ev.band is params.bands[ev.band_index]
                    assert ev.band.controlled
                    assert ev.band.contains(ev.delta_power_w)
                    # the step is rounded to 1 mW (see LoadGuard._increment)
                    step = ev.power_w - ev.baseline_power_w
                    assert step == pytest.approx(ev.delta_power_w, abs=0.0005)
                    assert ev.power_factor is not None
                    assert ev.power_factor >= params.pf_threshold
                    assert ev.window_s >= 0
                else:
                    assert ev.band_index is None
                    assert ev.power_w > params.total_limit_w
                    assert ev.delta_power_w == pytest.approx(power - params.total_limit_w)
                    assert ev.window_s >= params.total_duration_s
            if isinstance(event, Trip | Alarm):
                assert state_before is GuardState.ARMED
            if isinstance(event, AutoRestoreDue):
                assert state_before is GuardState.TRIPPED
                restores[day] = restores.get(day, 0) + 1
                assert event.restores_today == restores[day] <= max_restores
        if state_before is GuardState.LOCKED_OUT:
            assert events == []
            assert guard.state is GuardState.LOCKED_OUT
        kinds = [type(e) for e in events]
        if LockedOut in kinds:
            assert kinds[-2:] == [Trip, LockedOut]
            assert guard.state is GuardState.LOCKED_OUT
        elif Trip in kinds:
            assert guard.state is GuardState.TRIPPED
