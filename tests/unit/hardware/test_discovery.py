"""The wildcard search (``app.hardware.discovery.search``) against fake lines: no port, no
protocol, just which addresses a pattern selects and what the line then carries back."""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Callable, Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.hardware.bcd_frame import address_matches
from app.hardware.discovery import (
    GARBLED,
    GARBLED_TWICE,
    NOTHING,
    Heard,
    branches,
    colliding_branches,
    one,
    search,
)


class FakeLine:
    """Meters at ``addresses`` (a duplicate address is two meters). Every meter a pattern
    selects answers; two or more garble each other. ``noise(pattern, attempt)`` may garble a
    reply that would have been valid (``attempt`` counts the asks of that pattern from 1)."""

    def __init__(
        self,
        addresses: Iterable[str],
        noise: Callable[[str, int], bool] = lambda _pattern, _attempt: False,
    ) -> None:
        self.meters = list(addresses)
        self.noise = noise
        self.asked: list[str] = []

    def ask(self, pattern: str) -> Heard:
        self.asked.append(pattern)
        selected = [a for a in self.meters if address_matches(pattern, a)]
        if not selected:
            return NOTHING
        if len(selected) > 1:
            return GARBLED
        if self.noise(pattern, self.asked.count(pattern)):
            return GARBLED
        return one(selected[0])


def expected_requests(addresses: set[str], width: int) -> int:
    """One request per settled branch (1 + 10 per collision) and one to confirm each meter
    found behind wildcard digits (a meter told apart only by its first digit is found at its
    full address, which confirms itself)."""
    at_full = sum(1 for a in addresses if any(b != a and b[1:] == a[1:] for b in addresses))
    return 1 + 10 * colliding_branches(addresses, width) + len(addresses) - at_full


def test_branches_fix_the_least_significant_wildcard_digit() -> None:
    assert branches("AAAA") == [f"AAA{d}" for d in "0123456789"]
    assert branches("AA37") == [f"A{d}37" for d in "0123456789"]
    assert branches("1234") == []
    assert address_matches("AA37", "1237")
    assert not address_matches("AA37", "1238")
    assert not address_matches("AA37", "12370")


def test_an_empty_line_costs_one_request() -> None:
    line = FakeLine([])
    result = search(line.ask, 12)
    assert result.found == []
    assert result.problems == []
    assert line.asked == ["A" * 12]
    assert result.requests == 1


def test_one_meter_is_found_and_confirmed_by_its_full_address() -> None:
    line = FakeLine(["123456789012"])
    result = search(line.ask, 12)
    assert result.found == ["123456789012"]
    assert line.asked == ["A" * 12, "123456789012"]


def test_four_meters_split_on_the_last_digit_first() -> None:
    meters = ["000000000001", "000000000002", "000000000013", "000000000014"]
    line = FakeLine(meters)
    result = search(line.ask, 12)
    assert sorted(result.found) == meters
    assert line.asked[0] == "A" * 12
    assert line.asked[1:3] == ["AAAAAAAAAAA0", "AAAAAAAAAAA1"]  # depth first, 0..9
    assert result.requests == len(line.asked) == 1 + 10 + 4


UNIVERSE = ("000", "001", "010", "011", "100", "101", "110", "111", "911", "999")


@pytest.mark.parametrize("size", range(len(UNIVERSE) + 1))
def test_every_subset_of_a_small_address_space_is_found(size: int) -> None:
    for subset in itertools.combinations(UNIVERSE, size):
        line = FakeLine(subset)
        result = search(line.ask, 3)
        assert sorted(result.found) == sorted(subset), subset
        assert result.problems == []
        assert result.requests == len(line.asked) == expected_requests(set(subset), 3), subset
        assert len(set(line.asked)) == len(line.asked)  # no pattern asked twice


addresses_12 = st.text(alphabet="0123456789", min_size=12, max_size=12)


@settings(max_examples=150, deadline=None)
@given(st.sets(addresses_12, min_size=1, max_size=40))
def test_random_sets_of_meters_are_all_found(meters: set[str]) -> None:
    line = FakeLine(meters)
    result = search(line.ask, 12)
    assert sorted(result.found) == sorted(meters)
    assert result.problems == []
    assert result.requests == expected_requests(meters, 12)


@settings(max_examples=100, deadline=None)
@given(st.sets(st.text(alphabet="0123", min_size=12, max_size=12), min_size=2, max_size=30))
def test_serials_alike_in_their_last_digits_still_cost_about_ten_per_meter_per_level(
    meters: set[str],
) -> None:
    """Few distinct digits make deep trees: the bound is ten requests per branch that holds
    two meters or more, plus one per meter, whatever the addresses."""
    line = FakeLine(meters)
    result = search(line.ask, 12)
    assert sorted(result.found) == sorted(meters)
    assert result.requests <= 1 + 10 * colliding_branches(meters, 12) + len(meters)
    assert result.requests <= 1 + len(meters) * (1 + 10 * 12)


@settings(max_examples=100, deadline=None)
@given(st.sets(addresses_12, min_size=1, max_size=25), st.integers(0, 2**32), st.floats(0, 0.5))
def test_a_noisy_line_loses_no_meter(meters: set[str], seed: int, rate: float) -> None:
    """Noise garbles a valid reply now and then (never the same request twice running): the
    search still finds every meter and reports no problem, for a few requests more."""
    rng = random.Random(seed)

    def noise(_pattern: str, attempt: int) -> bool:
        return attempt % 2 == 1 and rng.random() < rate

    line = FakeLine(meters, noise)
    result = search(line.ask, 12)
    assert sorted(result.found) == sorted(meters)
    assert result.problems == []
    assert len(result.found) == len(set(result.found))


def test_a_garbled_reply_at_a_full_address_is_asked_once_more() -> None:
    """Meters told apart only by their first digit are asked by their full addresses; noise
    there gets one more request, and the meter is found."""
    first, second = "100000000007", "200000000007"
    line = FakeLine([first, second], noise=lambda p, attempt: p == first and attempt == 1)
    result = search(line.ask, 12)
    assert sorted(result.found) == [first, second]
    assert line.asked.count(first) == 2
    assert line.asked.count(second) == 1
    assert result.problems == []


def test_a_confirmation_lost_to_noise_splits_the_branch_and_the_meter_is_found_below() -> None:
    meter = "000000000007"
    line = FakeLine([meter], noise=lambda pattern, attempt: pattern == meter and attempt == 1)
    result = search(line.ask, 12)
    assert result.found == [meter]
    assert line.asked[:2] == ["A" * 12, meter]  # one reply, confirmation garbled
    assert "AAAAAAAAAAA7" in line.asked
    assert result.problems == []


def test_two_meters_sharing_an_address_are_reported_not_dropped() -> None:
    twins = "000000000005"
    line = FakeLine(["000000000001", twins, twins, "000000000023"])
    result = search(line.ask, 12)
    assert sorted(result.found) == ["000000000001", "000000000023"]
    assert result.problems == [(twins, GARBLED_TWICE)]
    assert "share this address" in GARBLED_TWICE
    assert line.asked.count(twins) == 2  # asked, then asked once more


def test_a_reply_made_up_by_colliding_replies_is_not_believed() -> None:
    """A collision may add up to a valid frame naming an address nobody has (a phantom):
    asking that address gets no reply, so the branch is split like any collision."""
    meters = ["000000000012", "000000000021"]
    real = FakeLine(meters)

    def ask(pattern: str) -> Heard:
        heard = real.ask(pattern)
        if heard.kind == "garbled" and pattern == "A" * 12:
            return one("000000000000")  # the AND of both addresses
        return heard

    result = search(ask, 12)
    assert sorted(result.found) == meters
    assert "000000000000" in real.asked  # the phantom was asked by its address


def test_a_valid_reply_from_outside_the_pattern_counts_as_a_collision() -> None:
    meters = ["000000000012", "000000000021"]
    real = FakeLine(meters)

    def ask(pattern: str) -> Heard:
        heard = real.ask(pattern)
        return one("999999999999") if heard.kind == "garbled" else heard

    result = search(ask, 12)
    assert sorted(result.found) == meters


def test_progress_counts_settled_branches_against_those_known_so_far() -> None:
    meters = [f"0000000000{n:02d}" for n in range(1, 31)]
    line = FakeLine(meters)
    seen: list[tuple[int, int, int]] = []
    result = search(line.ask, 12, progress=lambda d, t, f: seen.append((d, t, len(f))))
    assert [d for d, _, _ in seen] == list(range(1, len(seen) + 1))
    assert all(d <= t for d, t, _ in seen)
    assert [t for _, t, _ in seen] == sorted(t for _, t, _ in seen)  # the total only grows
    assert seen[0][1] == 11  # the first collision: ten branches known besides the root
    assert seen[-1][0] == seen[-1][1] == result.settled
    assert seen[-1][2] == 30
    assert [f for _, _, f in seen] == sorted(f for _, _, f in seen)


def test_on_found_is_called_once_per_meter_as_it_is_found() -> None:
    meters = ["000000000001", "000000000011", "000000000002"]
    line = FakeLine(meters)
    calls: list[tuple[str, int]] = []
    result = search(line.ask, 12, on_found=lambda a: calls.append((a, len(line.asked))))
    assert [a for a, _ in calls] == result.found
    assert sorted(result.found) == sorted(meters)
    assert calls[0][1] < len(line.asked)  # the first was reported before the search ended


def test_cancel_stops_between_branches() -> None:
    line = FakeLine([f"0000000000{n:02d}" for n in range(1, 31)])
    cancel = threading.Event()

    def progress(done: int, _total: int, _found: list[str]) -> None:
        if done == 5:
            cancel.set()

    result = search(line.ask, 12, progress=progress, cancel=cancel)
    assert result.cancelled
    assert result.settled == 5
    assert len(result.found) < 30
