"""Credit regions of DOMAIN.md section 1, and the hysteresis of a cut-off account."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.billing.credit_region import CreditThresholds, credit_region
from app.vocabulary import SupplyState

# The two policies of the demo site: students are cut at zero, staff may run into overdraft.
STUDENT = CreditThresholds(
    alarm_1_minor=2000, alarm_2_minor=1000, overdraft_limit_minor=0, close_permit_minor=500
)
STAFF = CreditThresholds(
    alarm_1_minor=5000, alarm_2_minor=2000, overdraft_limit_minor=3000, close_permit_minor=0
)

ORDER = [
    SupplyState.NORMAL,
    SupplyState.ALARM_1,
    SupplyState.ALARM_2,
    SupplyState.ZERO,
    SupplyState.OVERDRAFT,
    SupplyState.CUT_OFF,
]


@pytest.mark.parametrize(
    ("balance", "region"),
    [
        (48000, SupplyState.NORMAL),
        (2001, SupplyState.NORMAL),
        (2000, SupplyState.ALARM_1),
        (1001, SupplyState.ALARM_1),
        (1000, SupplyState.ALARM_2),
        (1, SupplyState.ALARM_2),
        (0, SupplyState.CUT_OFF),  # overdraft limit 0: cut at zero
        (-1, SupplyState.CUT_OFF),
        (-250000, SupplyState.CUT_OFF),
    ],
)
def test_regions_without_overdraft(balance: int, region: SupplyState) -> None:
    assert credit_region(balance, STUDENT) is region


@pytest.mark.parametrize(
    ("balance", "region"),
    [
        (5001, SupplyState.NORMAL),
        (5000, SupplyState.ALARM_1),
        (2000, SupplyState.ALARM_2),
        (1, SupplyState.ALARM_2),
        (0, SupplyState.ZERO),
        (-1, SupplyState.OVERDRAFT),
        (-2999, SupplyState.OVERDRAFT),
        (-3000, SupplyState.CUT_OFF),  # the limit itself is where supply stops
        (-3001, SupplyState.CUT_OFF),
    ],
)
def test_regions_with_overdraft(balance: int, region: SupplyState) -> None:
    assert credit_region(balance, STAFF) is region


def test_a_cut_off_account_stays_cut_off_below_the_close_permit() -> None:
    for balance in (-100, 0, 1, 250, 499):
        assert credit_region(balance, STUDENT, SupplyState.CUT_OFF) is SupplyState.CUT_OFF
    # the same balances without the history are not cut off (except at or below zero)
    assert credit_region(499, STUDENT) is SupplyState.ALARM_2


def test_reaching_the_close_permit_restores_supply() -> None:
    assert credit_region(500, STUDENT, SupplyState.CUT_OFF) is SupplyState.ALARM_2
    assert credit_region(1500, STUDENT, SupplyState.CUT_OFF) is SupplyState.ALARM_1
    assert credit_region(3000, STUDENT, SupplyState.CUT_OFF) is SupplyState.NORMAL


def test_a_cut_off_account_in_overdraft_range_stays_cut_until_the_permit() -> None:
    """Staff cut at -3000 and recharged to -100 are inside the overdraft range but stay cut:
    the close permit (0) must be reached first."""
    assert credit_region(-100, STAFF) is SupplyState.OVERDRAFT
    assert credit_region(-100, STAFF, SupplyState.CUT_OFF) is SupplyState.CUT_OFF
    assert credit_region(0, STAFF, SupplyState.CUT_OFF) is SupplyState.ZERO
    assert credit_region(10, STAFF, SupplyState.CUT_OFF) is SupplyState.ALARM_2


@pytest.mark.parametrize(
    "previous",
    [SupplyState.NORMAL, SupplyState.ALARM_2, SupplyState.ZERO, SupplyState.OVERDRAFT, None],
)
def test_only_a_cut_off_history_holds_the_state(previous: SupplyState | None) -> None:
    assert credit_region(-100, STAFF, previous) is SupplyState.OVERDRAFT
    assert credit_region(100, STUDENT, previous) is SupplyState.ALARM_2
    assert credit_region(0, STUDENT, previous) is SupplyState.CUT_OFF


balances = st.integers(min_value=-(10**9), max_value=10**9)


@given(a=balances, b=balances)
def test_a_lower_balance_is_never_in_a_better_region(a: int, b: int) -> None:
    low, high = sorted((a, b))
    for limits in (STUDENT, STAFF):
        assert ORDER.index(credit_region(low, limits)) >= ORDER.index(credit_region(high, limits))


@given(balance=balances)
def test_hysteresis_only_ever_keeps_an_account_cut(balance: int) -> None:
    for limits in (STUDENT, STAFF):
        fresh = credit_region(balance, limits)
        held = credit_region(balance, limits, SupplyState.CUT_OFF)
        if balance >= limits.close_permit_minor:
            assert held is fresh
        else:
            assert held is SupplyState.CUT_OFF
