"""Balance policy decisions of DOMAIN.md section 1: warnings, cut, restore, friendly time, keep
power. All times are passed in; the demo site is in Asia/Shanghai."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from app.billing.credit_region import CreditThresholds
from app.billing.friendly_time import (
    FriendlyTimeError,
    FriendlyWindow,
    friendly_time_end,
    in_friendly_time,
    parse_friendly_dates,
    parse_friendly_hours,
)
from app.billing.supply_policy import (
    BalanceWarning,
    Decision,
    MeterSupply,
    OffReason,
    decide_supply,
)
from app.vocabulary import SupplyState

STUDENT = CreditThresholds(
    alarm_1_minor=2000, alarm_2_minor=1000, overdraft_limit_minor=0, close_permit_minor=500
)
STAFF = CreditThresholds(
    alarm_1_minor=5000, alarm_2_minor=2000, overdraft_limit_minor=3000, close_permit_minor=0
)
NIGHTS = [{"days": [0, 1, 2, 3, 4, 5, 6], "from": "22:00", "to": "07:00"}]
WEEKEND = [{"days": [5, 6], "from": "00:00", "to": "24:00"}]
FRIDAY_NIGHT = [{"days": [4], "from": "18:00", "to": "24:00"}]
NATIONAL_DAY = ["2026-10-01", "2026-10-02"]

# 2026-09-07 is a Monday.
MONDAY = date(2026, 9, 7)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day_offset: int, hhmm: str) -> datetime:
    hours, minutes = (int(x) for x in hhmm.split(":"))
    return datetime(2026, 9, 7, hours, minutes) + timedelta(days=day_offset)


ON = MeterSupply(1, supply_on=True)
OFF_ARREARS = MeterSupply(1, supply_on=False, off_reason=OffReason.ARREARS)


def decide(
    balance: int,
    previous: SupplyState | None,
    now: datetime,
    meters: Sequence[MeterSupply] = (ON,),
    limits: CreditThresholds = STUDENT,
    **kwargs: object,
) -> Decision:
    return decide_supply(
        balance_minor=balance,
        thresholds=limits,
        previous=previous,
        now=now,
        meters=meters,
        **kwargs,  # type: ignore[arg-type]
    )


# -- friendly time -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "inside"),
    [
        (at(0, "21:59"), False),
        (at(0, "22:00"), True),  # from is inclusive
        (at(0, "23:59"), True),
        (at(1, "00:00"), True),
        (at(1, "06:59"), True),
        (at(1, "07:00"), False),  # to is exclusive
        (at(1, "12:00"), False),
    ],
)
def test_a_night_window_runs_past_midnight(now: datetime, inside: bool) -> None:
    assert in_friendly_time(now, NIGHTS, []) is inside


def test_a_window_crossing_midnight_belongs_to_the_day_it_starts_on() -> None:
    friday_night = [{"days": [4], "from": "22:00", "to": "07:00"}]
    friday, saturday = MONDAY + timedelta(days=4), MONDAY + timedelta(days=5)
    assert friday.weekday() == 4
    assert in_friendly_time(
        datetime.combine(friday, datetime.min.time()).replace(hour=23), friday_night, []
    )
    assert in_friendly_time(datetime(2026, 9, 12, 6, 59), friday_night, [])  # Saturday morning
    assert not in_friendly_time(datetime(2026, 9, 11, 6, 0), friday_night, [])  # Friday morning
    assert not in_friendly_time(datetime(2026, 9, 13, 6, 0), friday_night, [])  # Sunday morning
    assert saturday.weekday() == 5


def test_24_00_ends_the_day_and_dates_are_whole_days() -> None:
    assert in_friendly_time(at(4, "23:59"), FRIDAY_NIGHT, [])
    assert not in_friendly_time(at(5, "00:00"), FRIDAY_NIGHT, [])
    assert in_friendly_time(datetime(2026, 10, 1, 0, 0), [], NATIONAL_DAY)
    assert in_friendly_time(datetime(2026, 10, 2, 23, 59, 59), [], [date(2026, 10, 2)])
    assert not in_friendly_time(datetime(2026, 10, 3, 0, 0), [], NATIONAL_DAY)
    assert not in_friendly_time(datetime(2026, 9, 30, 23, 59), [], NATIONAL_DAY)


def test_friendly_time_uses_the_wall_clock_of_an_aware_now() -> None:
    late = datetime(2026, 9, 7, 23, 0, tzinfo=SHANGHAI)  # 15:00 UTC, but 23:00 at the site
    assert in_friendly_time(late, NIGHTS, [])


def test_friendly_time_end_follows_touching_windows_and_dates() -> None:
    windows = FRIDAY_NIGHT + WEEKEND + NIGHTS
    # Friday 19:00 -> Friday night -> whole weekend -> Sunday night -> Monday 07:00
    assert friendly_time_end(at(4, "19:00"), windows, []) == at(7, "07:00")
    # not friendly: now itself
    assert friendly_time_end(at(0, "12:00"), windows, []) == at(0, "12:00")
    # National Day (Thursday, Friday) runs into the weekend and the nights
    end = friendly_time_end(datetime(2026, 10, 1, 9, 0), windows, NATIONAL_DAY)
    assert end == datetime(2026, 10, 5, 7, 0)
    always = [{"days": [0, 1, 2, 3, 4, 5, 6], "from": "00:00", "to": "24:00"}]
    assert friendly_time_end(at(0, "12:00"), always, []) is None


def test_friendly_time_end_keeps_the_timezone() -> None:
    now = datetime(2026, 9, 7, 23, 0, tzinfo=SHANGHAI)
    end = friendly_time_end(now, NIGHTS, [])
    assert end == datetime(2026, 9, 8, 7, 0, tzinfo=SHANGHAI)
    assert end is not None
    assert end.tzinfo is SHANGHAI


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"days": [], "from": "22:00", "to": "07:00"}, "'days'"),
        ({"days": [7], "from": "22:00", "to": "07:00"}, "day 7"),
        ({"days": [True], "from": "22:00", "to": "07:00"}, "day True"),
        ({"days": [0], "from": "24:00", "to": "07:00"}, "'from'"),
        ({"days": [0], "from": "22:00", "to": "7"}, "HH:MM"),
        ({"days": [0], "from": "22:00", "to": "25:00"}, "'to'"),
        ({"days": [0], "from": "22:60", "to": "23:00"}, "'from'"),
        ({"days": [0], "from": "08:00", "to": "08:00"}, "ambiguous"),
        ({"days": [0], "from": "00:00", "to": "00:00"}, "ambiguous"),
        ({"days": [0], "from": "22:00"}, "'to'"),
        ({"days": [0], "from": "22:00", "to": "07:00", "note": "x"}, "unknown keys"),
    ],
)
def test_bad_friendly_hours_are_refused_with_the_place(
    entry: dict[str, object], message: str
) -> None:
    with pytest.raises(FriendlyTimeError, match=r"friendly_hours\[1\]") as info:
        parse_friendly_hours([NIGHTS[0], entry])
    assert message in str(info.value)


def test_bad_friendly_dates_are_refused() -> None:
    with pytest.raises(FriendlyTimeError, match=r"friendly_dates\[0\] is '2026-13-01'"):
        parse_friendly_dates(["2026-13-01"])
    with pytest.raises(FriendlyTimeError, match="date only"):
        parse_friendly_dates([datetime(2026, 10, 1, 0, 0)])


def test_windows_round_trip_through_their_stored_form() -> None:
    windows = parse_friendly_hours(NIGHTS + WEEKEND + FRIDAY_NIGHT)
    assert [w.to_json() for w in windows] == NIGHTS + WEEKEND + FRIDAY_NIGHT
    assert str(windows[0]) == "Mon,Tue,Wed,Thu,Fri,Sat,Sun 22:00-07:00"
    assert windows[0].crosses_midnight
    assert not windows[1].crosses_midnight
    assert (
        FriendlyWindow(frozenset({0}), 0, 1440)
        == parse_friendly_hours([{"days": [0], "from": "00:00", "to": "24:00"}])[0]
    )


# -- warnings ----------------------------------------------------------------------------------


def test_warnings_are_raised_once_when_entering_and_cleared_when_leaving_upward() -> None:
    noon = at(0, "12:00")
    walk = [  # (balance, raised, cleared)
        (5000, (), ()),
        (2500, (), ()),
        (2000, (BalanceWarning.ALARM_1,), ()),  # alarm 1 at or below 2000
        (1800, (), ()),  # staying: nothing again
        (1500, (), ()),
        (1000, (BalanceWarning.ALARM_2,), ()),
        (600, (), ()),
        (1200, (), (BalanceWarning.ALARM_2,)),  # a small recharge: back to alarm 1
        (900, (BalanceWarning.ALARM_2,), ()),  # entering again raises again
        (3000, (), (BalanceWarning.ALARM_1, BalanceWarning.ALARM_2)),
    ]
    state: SupplyState | None = SupplyState.NORMAL
    for balance, raised, cleared in walk:
        decision = decide(balance, state, noon)
        assert decision.warnings_to_raise == raised, balance
        assert decision.warnings_to_clear == cleared, balance
        state = decision.new_state


def test_a_fall_past_both_thresholds_raises_both_and_the_cut_raises_nothing_new() -> None:
    noon = at(0, "12:00")
    first = decide(300, SupplyState.NORMAL, noon)
    assert first.warnings_to_raise == (BalanceWarning.ALARM_1, BalanceWarning.ALARM_2)
    cut = decide(-20, first.new_state, noon)
    assert cut.new_state is SupplyState.CUT_OFF
    assert cut.warnings_to_raise == ()
    assert cut.warnings_to_clear == ()
    assert "Warning alarm 1 raised: balance at or below 2000 (minor units)" in first.reason


def test_a_recharge_below_alarm_2_after_a_cut_keeps_the_warnings_up() -> None:
    decision = decide(800, SupplyState.CUT_OFF, at(0, "12:00"), meters=[OFF_ARREARS])
    assert decision.restore
    assert decision.warnings_to_raise == ()
    assert decision.warnings_to_clear == ()


def test_without_history_every_active_warning_is_raised() -> None:
    decision = decide(1500, None, at(0, "12:00"))
    assert decision.warnings_to_raise == (BalanceWarning.ALARM_1,)


# -- cut ---------------------------------------------------------------------------------------


def test_the_cut_at_zero_during_working_hours() -> None:
    meters = [MeterSupply(1, True), MeterSupply(2, None), MeterSupply(3, False, OffReason.MANUAL)]
    decision = decide(0, SupplyState.ALARM_2, at(0, "12:00"), meters=meters)
    assert decision.new_state is SupplyState.CUT_OFF
    assert decision.cut
    assert decision.cut_meters == (1, 2)
    assert not decision.restore
    assert not decision.cut_pending
    assert "cut-off point 0" in decision.reason
    assert "Cut meters 1, 2." in decision.reason


def test_overdraft_continues_until_its_limit() -> None:
    noon = at(0, "12:00")
    assert not decide(-2999, SupplyState.ZERO, noon, limits=STAFF).cut
    assert decide(-2999, SupplyState.ZERO, noon, limits=STAFF).new_state is SupplyState.OVERDRAFT
    assert decide(-3000, SupplyState.OVERDRAFT, noon, limits=STAFF).cut


def test_no_cut_command_when_supply_is_already_off() -> None:
    meters = [MeterSupply(1, False, OffReason.LOAD_GUARD)]
    decision = decide(-100, SupplyState.CUT_OFF, at(0, "12:00"), meters=meters)
    assert not decision.cut
    assert not decision.restore
    assert "already off" in decision.reason


def test_friendly_hours_defer_the_cut_and_their_end_makes_it() -> None:
    night = decide(-50, SupplyState.ALARM_2, at(0, "23:30"), friendly_hours=NIGHTS)
    assert night.new_state is SupplyState.CUT_OFF
    assert not night.cut
    assert night.cut_pending
    assert night.cut_pending_until == at(1, "07:00")
    assert "deferred until 2026-09-08 07:00: friendly hours" in night.reason
    still = decide(-80, night.new_state, at(1, "06:59"), friendly_hours=NIGHTS)
    assert not still.cut
    assert still.cut_pending
    morning = decide(-80, still.new_state, at(1, "07:00"), friendly_hours=NIGHTS)
    assert morning.cut
    assert morning.cut_meters == (1,)
    assert not morning.cut_pending


def test_a_friendly_date_defers_the_cut() -> None:
    holiday = datetime(2026, 10, 1, 15, 0)
    decision = decide(-50, SupplyState.CUT_OFF, holiday, friendly_dates=NATIONAL_DAY)
    assert not decision.cut
    assert decision.cut_pending
    assert decision.cut_pending_until == datetime(2026, 10, 3, 0, 0)
    assert "friendly date 2026-10-01" in decision.reason
    after = decide(
        -50, SupplyState.CUT_OFF, datetime(2026, 10, 3, 0, 0), friendly_dates=NATIONAL_DAY
    )
    assert after.cut


def test_keep_power_defers_the_cut_until_it_expires() -> None:
    until = at(2, "08:00")
    keep = {"keep_power_until": until, "keep_power_reason": "medical: oxygen concentrator"}
    before = decide(-900, SupplyState.CUT_OFF, at(1, "12:00"), **keep)
    assert not before.cut
    assert before.cut_pending
    assert before.cut_pending_until == until
    assert "keep power until 2026-09-09 08:00 (medical: oxygen concentrator)" in before.reason
    expired = decide(-900, SupplyState.CUT_OFF, until, **keep)  # the expiry instant: over
    assert expired.cut
    assert "Keep power ended at 2026-09-09 08:00." in expired.reason


def test_keep_power_running_into_friendly_time_defers_to_the_end_of_both() -> None:
    until = at(0, "23:00")  # expires inside the night window
    decision = decide(
        -10, SupplyState.CUT_OFF, at(0, "12:00"), keep_power_until=until, friendly_hours=NIGHTS
    )
    assert decision.cut_pending_until == at(1, "07:00")


def test_keep_power_compares_instants_across_time_zones() -> None:
    until_utc = datetime(2026, 9, 7, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
    before = datetime(2026, 9, 7, 11, 59, tzinfo=SHANGHAI)
    after = datetime(2026, 9, 7, 12, 0, tzinfo=SHANGHAI)
    assert not decide(-1, SupplyState.CUT_OFF, before, keep_power_until=until_utc).cut
    decision = decide(-1, SupplyState.CUT_OFF, before, keep_power_until=until_utc)
    assert decision.cut_pending_until == after
    assert decide(-1, SupplyState.CUT_OFF, after, keep_power_until=until_utc).cut


def test_mixing_naive_and_aware_times_is_refused() -> None:
    with pytest.raises(ValueError, match="both be naive or both timezone-aware"):
        decide(
            -1,
            SupplyState.CUT_OFF,
            at(0, "12:00"),
            keep_power_until=datetime(2026, 9, 8, tzinfo=UTC),
        )


# -- restore -----------------------------------------------------------------------------------


def test_a_recharge_that_reaches_the_close_permit_restores() -> None:
    decision = decide(500, SupplyState.CUT_OFF, at(0, "12:00"), meters=[OFF_ARREARS])
    assert decision.new_state is SupplyState.ALARM_2
    assert decision.restore
    assert decision.restore_meters == (1,)
    assert not decision.cut
    assert "Restore meter 1: the balance is at or above the close permit 500" in decision.reason


def test_a_recharge_below_the_close_permit_does_not_restore() -> None:
    decision = decide(499, SupplyState.CUT_OFF, at(0, "12:00"), meters=[OFF_ARREARS])
    assert decision.new_state is SupplyState.CUT_OFF
    assert not decision.restore
    assert not decision.cut


def test_only_arrears_cuts_are_restored_by_the_balance() -> None:
    meters = [
        MeterSupply(1, False, OffReason.ARREARS),
        MeterSupply(2, False, OffReason.LOAD_GUARD),
        MeterSupply(3, False, OffReason.MANUAL),
        MeterSupply(4, False, None),
        MeterSupply(5, None, OffReason.ARREARS),  # unknown after the cut: restore to be sure
        MeterSupply(6, True, OffReason.ARREARS),  # stale reason, already on
    ]
    decision = decide(10_000, SupplyState.CUT_OFF, at(0, "12:00"), meters=meters)
    assert decision.restore_meters == (1, 5)
    assert "Meter 2 stays off: tripped or locked out by the load guard." in decision.reason
    assert "Meter 3 stays off: cut by an operator." in decision.reason
    assert "Meter 4 stays off: no reason recorded" in decision.reason


def test_friendly_time_does_not_restore_but_keep_power_does() -> None:
    night = decide(
        -10, SupplyState.CUT_OFF, at(0, "23:00"), meters=[OFF_ARREARS], friendly_hours=NIGHTS
    )
    assert not night.restore
    assert not night.cut
    assert not night.cut_pending
    assert "friendly time does not restore" in night.reason
    keep = decide(
        -10,
        SupplyState.CUT_OFF,
        at(0, "12:00"),
        meters=[OFF_ARREARS],
        keep_power_until=at(1, "12:00"),
    )
    assert keep.restore
    assert keep.new_state is SupplyState.CUT_OFF
    assert keep.cut_pending
    assert keep.cut_pending_until == at(1, "12:00")


def test_amounts_in_the_reason_use_the_currency_when_given() -> None:
    decision = decide(-150, SupplyState.ALARM_2, at(0, "12:00"), currency="CNY")
    assert decision.reason.startswith("Balance -1.50 CNY: cut off.")


# -- properties --------------------------------------------------------------------------------

balances = st.integers(min_value=-(10**7), max_value=10**7)
states = st.sampled_from([*SupplyState, None])
moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31))


def _window(days: set[int], start: int, length: int) -> dict[str, object]:
    """A window of ``length`` minutes from ``start``; ends after midnight are written as such."""
    end = (start + length - 1) % 1440 + 1  # 1..1440, so 24:00 appears and never equals start
    return {
        "days": sorted(days),
        "from": f"{start // 60:02d}:{start % 60:02d}",
        "to": f"{end // 60:02d}:{end % 60:02d}",
    }


window_entries = st.builds(
    _window, st.sets(st.integers(0, 6), min_size=1), st.integers(0, 1439), st.integers(1, 1439)
)
meter_lists = st.lists(
    st.builds(
        MeterSupply,
        st.integers(1, 50),
        st.sampled_from([True, False, None]),
        st.sampled_from([*OffReason, None]),
    ),
    max_size=4,
)


@given(
    balance=balances,
    previous=states,
    windows=st.lists(window_entries, min_size=1, max_size=3),
    data=st.data(),
    meters=meter_lists,
)
def test_friendly_hours_never_cut(
    balance: int,
    previous: SupplyState | None,
    windows: list[dict[str, object]],
    data: st.DataObject,
    meters: list[MeterSupply],
) -> None:
    """Any balance, any moment inside a window (crossing midnight or not): no cut."""
    window = parse_friendly_hours([data.draw(st.sampled_from(windows))])[0]
    start_day = data.draw(st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 1)))
    assume(start_day.weekday() in window.days)
    length = (window.end_minute - window.start_minute) % 1440 or 1440
    offset = data.draw(st.integers(0, length * 60 - 1))  # seconds into the window
    now = datetime.combine(start_day, datetime.min.time()) + timedelta(
        minutes=window.start_minute, seconds=offset
    )
    assert in_friendly_time(now, windows, [])
    for limits in (STUDENT, STAFF):
        decision = decide(balance, previous, now, meters, limits, friendly_hours=windows)
        assert not decision.cut
        assert decision.cut_meters == ()


@given(
    balance=balances, previous=states, now=moments, meters=meter_lists, ahead=st.integers(1, 10**7)
)
def test_keep_power_never_cuts_before_expiry(
    balance: int, previous: SupplyState | None, now: datetime, meters: list[MeterSupply], ahead: int
) -> None:
    until = now + timedelta(seconds=ahead)
    decision = decide(balance, previous, now, meters, keep_power_until=until)
    assert not decision.cut
    if decision.new_state is SupplyState.CUT_OFF and any(m.supply_on is not False for m in meters):
        assert decision.cut_pending
        assert decision.cut_pending_until == until


@given(balance=balances, now=moments, meters=meter_lists)
def test_cut_and_restore_follow_the_region(
    balance: int, now: datetime, meters: list[MeterSupply]
) -> None:
    """Without friendly time or keep power: cut exactly when cut off and a meter may be on;
    restore exactly when not cut off and a meter is off for arrears; never both at once."""
    for limits in (STUDENT, STAFF):
        for previous in (SupplyState.CUT_OFF, SupplyState.NORMAL):
            decision = decide(balance, previous, now, meters, limits)
            cut_off = decision.new_state is SupplyState.CUT_OFF
            assert decision.cut == (cut_off and any(m.supply_on is not False for m in meters))
            arrears = any(
                m.supply_on is not True and m.off_reason is OffReason.ARREARS for m in meters
            )
            assert decision.restore == (not cut_off and arrears)
            assert not (decision.cut and decision.restore)


@given(
    start=balances,
    steps=st.lists(st.integers(-5000, 5000), min_size=1, max_size=30),
    now=moments,
)
def test_each_warning_is_raised_once_per_entry(start: int, steps: list[int], now: datetime) -> None:
    """Along any walk of the balance, raises and clears of each warning alternate, starting with
    a raise; and a warning is active exactly when the region says so."""
    for limits in (STUDENT, STAFF):
        state: SupplyState | None = None
        balance = start
        active: set[BalanceWarning] = set()
        for step in [0, *steps]:
            balance += step
            decision = decide(balance, state, now, (), limits)
            for warning in decision.warnings_to_raise:
                assert warning not in active
                active.add(warning)
            for warning in decision.warnings_to_clear:
                assert warning in active
                active.remove(warning)
            state = decision.new_state
            expected = set()
            if state is not SupplyState.NORMAL:
                expected.add(BalanceWarning.ALARM_1)
            if state not in (SupplyState.NORMAL, SupplyState.ALARM_1):
                expected.add(BalanceWarning.ALARM_2)
            assert active == expected


@given(balance=st.integers(-(10**6), 10**6), recharge=st.integers(0, 10**6), now=moments)
def test_a_recharge_restores_exactly_when_it_reaches_the_close_permit(
    balance: int, recharge: int, now: datetime
) -> None:
    for limits in (STUDENT, STAFF):
        cut = decide(balance, SupplyState.CUT_OFF, now, [OFF_ARREARS], limits)
        assume(cut.new_state is SupplyState.CUT_OFF)
        after = decide(balance + recharge, cut.new_state, now, [OFF_ARREARS], limits)
        assert after.restore == (balance + recharge >= limits.close_permit_minor)
