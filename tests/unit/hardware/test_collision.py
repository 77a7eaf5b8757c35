"""Colliding replies on a simulated line, and the drivers' wildcard search over it, in memory:
the Answerer (shared by ``sim://`` lines and the pty server) is wired straight to a Link, so
what the drivers decide is tested without timing (the integration tests run the real lines)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.hardware.bus_scan import scan_line
from app.hardware.cjt188 import SPEC as CJT188
from app.hardware.cjt188 import Cjt188Driver
from app.hardware.cjt188 import codec as cjt
from app.hardware.discovery import GARBLED, GARBLED_TWICE, NOTHING, one
from app.hardware.dlt645 import SPEC as DLT645
from app.hardware.dlt645 import codec as dlt
from app.hardware.dlt645.driver import Dlt645Driver
from app.hardware.errors import ChecksumError, FrameError
from app.hardware.link import DROPPED, FrameRecord
from app.hardware.profiles import Profile, load_profile
from app.hardware.simulator.collision import collide
from app.hardware.simulator.faults import Answerer
from app.hardware.simulator.sim_meter import SimFaults, SimMeter
from tests.unit.hardware.answer_loop import loop


def dlt645_meters(addresses: list[str], profile: Profile) -> dict[str, SimMeter]:
    return {a: SimMeter(a, profile, seed=2, reply_delay_s=0.0) for a in addresses}


@pytest.fixture(scope="module")
def electricity() -> Profile:
    return load_profile("dlt645-2007")


@pytest.fixture(scope="module")
def water() -> Profile:
    return load_profile("cjt188-water")


# --- the overlay ------------------------------------------------------------------------------


def test_one_reply_comes_through_unchanged() -> None:
    assert collide([b"\xfe\x68\x01"]) == b"\xfe\x68\x01"
    assert collide([]) == b""


def test_replies_start_a_character_apart_and_a_driven_zero_wins() -> None:
    assert collide([b"\xf0\x0f", b"\x3c\xff"]) == bytes([0xF0, 0x0F & 0x3C, 0xFF])
    assert collide([b"\xff", b"\xff", b"\x00"]) == b"\xff\xff\x00"


# --- DL/T 645 ---------------------------------------------------------------------------------


def check_read_address_reply(stream: bytes) -> str:
    """What a master makes of ``stream`` as the reply to read address: the address, or the
    FrameError (ChecksumError) a garbled stream raises."""
    length = dlt.frame_length(stream)
    raw = stream if length is None else stream[:length]
    frame = dlt.decode_frame(raw)
    dlt.check_reply(frame, function=dlt.Function.READ_ADDRESS, address=None)
    return dlt.parse_address_reply(frame)


dlt645_addresses = st.text(alphabet="0123456789", min_size=12, max_size=12).filter(
    lambda a: a != dlt.BROADCAST  # 99…99 is every meter, nobody's own address
)


@settings(max_examples=200, deadline=None)
@given(st.sets(dlt645_addresses, min_size=2, max_size=6))
def test_dlt645_replies_that_collide_always_fail_the_frame_checks(addresses: set[str]) -> None:
    profile = load_profile("dlt645-2007")
    meters = dlt645_meters(sorted(addresses), profile)
    answer = Answerer(DLT645, meters).answer(dlt.read_address_request())
    assert answer is not None
    alone = Answerer(DLT645, dict([next(iter(meters.items()))])).answer(dlt.read_address_request())
    assert alone is not None
    assert len(answer.reply) == len(alone.reply) + len(meters) - 1  # longer than one reply
    with pytest.raises(FrameError):
        check_read_address_reply(answer.reply)
    link, _ = loop(DLT645, meters)
    assert Dlt645Driver(profile).ask_address(link, "A" * 12) == GARBLED


def test_dlt645_a_pattern_that_selects_one_meter_gets_its_valid_reply(
    electricity: Profile,
) -> None:
    meters = dlt645_meters(["000000000011", "000000000021", "000000000012"], electricity)
    link, _ = loop(DLT645, meters)
    driver = Dlt645Driver(electricity)
    assert driver.ask_address(link, "AAAAAAAAAAA2") == one("000000000012")
    assert driver.ask_address(link, "AAAAAAAAAA21") == one("000000000021")
    assert driver.ask_address(link, "AAAAAAAAAAA1") == GARBLED
    assert driver.ask_address(link, "AAAAAAAAAAA3") == NOTHING
    assert driver.ask_address(link, "000000000011") == one("000000000011")


def test_dlt645_the_one_meter_discover_is_garbled_by_several_meters(
    electricity: Profile,
) -> None:
    meters = dlt645_meters(["000000000001", "000000000002"], electricity)
    link, _ = loop(DLT645, meters)
    with pytest.raises(FrameError):
        Dlt645Driver(electricity).discover(link)
    single, _ = loop(DLT645, dlt645_meters(["000000000002"], electricity))
    assert Dlt645Driver(electricity).discover(single) == "000000000002"


def test_a_dead_meter_does_not_take_part_in_a_collision(electricity: Profile) -> None:
    meters = dlt645_meters(["000000000001", "000000000002"], electricity)
    meters["000000000002"].faults = SimFaults(dead=True)
    link, _ = loop(DLT645, meters)
    assert Dlt645Driver(electricity).ask_address(link, "A" * 12) == one("000000000001")


def test_the_collision_starts_after_the_earliest_reply_delay(electricity: Profile) -> None:
    meters = {
        "000000000001": SimMeter("000000000001", electricity, reply_delay_s=0.08),
        "000000000002": SimMeter("000000000002", electricity, reply_delay_s=0.03),
    }
    answer = Answerer(DLT645, meters).answer(dlt.read_address_request())
    assert answer is not None
    assert answer.delay_s == 0.03


def test_the_tail_of_a_collision_is_drained_before_the_next_request(
    electricity: Profile,
) -> None:
    frames: list[FrameRecord] = []
    meters = dlt645_meters([f"00000000000{n}" for n in range(1, 6)], electricity)
    link, _ = loop(DLT645, meters, frames)
    driver = Dlt645Driver(electricity)
    assert driver.ask_address(link, "A" * 12) == GARBLED
    assert driver.ask_address(link, "000000000003") == one("000000000003")
    assert any(f.note == DROPPED for f in frames)  # the leftovers, logged as dropped


@settings(max_examples=10, deadline=None)
@given(st.sets(dlt645_addresses, min_size=1, max_size=12))
def test_dlt645_search_finds_every_meter_with_its_number_and_energy(addresses: set[str]) -> None:
    profile = load_profile("dlt645-2007")
    meters = dlt645_meters(sorted(addresses), profile)
    link, _ = loop(DLT645, meters)
    hits = scan_line(Dlt645Driver(profile), link, None)
    assert [h.address for h in hits] == sorted(addresses)
    for hit in hits:
        assert hit.ok
        assert hit.serial == hit.address
        assert hit.unit == "kWh"
        assert hit.register == pytest.approx(
            Decimal(str(meters[hit.address].state().energy_import_kwh)), abs=Decimal("0.02")
        )


def test_dlt645_the_meter_number_is_read_from_the_meter(electricity: Profile) -> None:
    meters = dlt645_meters(["000000000001", "000000000002"], electricity)
    meters["000000000002"].params["meter_number"] = "230815000042"
    link, _ = loop(DLT645, meters)
    hits = scan_line(Dlt645Driver(electricity), link, None)
    assert [(h.address, h.serial) for h in hits] == [
        ("000000000001", "000000000001"),
        ("000000000002", "230815000042"),
    ]
    assert {h.model for h in hits} == {electricity.title}
    assert hits[0].energy_kwh == hits[0].register is not None


def test_dlt645_two_meters_sharing_an_address_are_reported(electricity: Profile) -> None:
    """Keys "7" and "000000000007" are one address on the wire: two meters answer it."""
    meters = dlt645_meters(["000000000001", "7", "000000000007"], electricity)
    link, _ = loop(DLT645, meters)
    hits = scan_line(Dlt645Driver(electricity), link, None)
    assert [(h.address, h.ok) for h in hits] == [("000000000001", True), ("000000000007", False)]
    assert "share this address" in hits[1].problem


def test_an_address_range_scan_reports_an_address_that_stays_garbled(
    electricity: Profile,
) -> None:
    meters = dlt645_meters(["000000000001", "000000000002"], electricity)
    meters["000000000002"].faults = SimFaults(corrupt=1.0)
    link, _ = loop(DLT645, meters)
    hits = scan_line(Dlt645Driver(electricity), link, ["000000000001", "000000000002", "3"])
    assert [(h.address, h.problem) for h in hits] == [
        ("000000000001", ""),
        ("000000000002", GARBLED_TWICE),
    ]


# --- CJ/T 188 ---------------------------------------------------------------------------------

cjt188_addresses = st.text(alphabet="0123456789", min_size=14, max_size=14)


def water_meters(addresses: list[str], profile: Profile) -> dict[str, SimMeter]:
    return {a: SimMeter(a, profile, seed=4, reply_delay_s=0.0) for a in addresses}


@settings(max_examples=200, deadline=None)
@given(st.sets(cjt188_addresses, min_size=2, max_size=6))
def test_cjt188_replies_that_collide_always_fail_the_frame_checks(addresses: set[str]) -> None:
    profile = load_profile("cjt188-water")
    meters = water_meters(sorted(addresses), profile)
    link, _ = loop(CJT188, meters)
    assert Cjt188Driver(profile).ask_address(link, "A" * 14) == GARBLED


def test_cjt188_patterns_select_meters_by_their_digits(water: Profile) -> None:
    a1, a2, a3 = "00000091113480", "00000091113481", "00000091113491"
    link, _ = loop(CJT188, water_meters([a1, a2, a3], water))
    driver = Cjt188Driver(water)
    assert driver.ask_address(link, "AAAAAAAAAAAAA0") == one(a1)
    assert driver.ask_address(link, "AAAAAAAAAAAA81") == one(a2)
    assert driver.ask_address(link, "AAAAAAAAAAAAA1") == GARBLED
    assert driver.ask_address(link, "AAAAAAAAAAAAA5") == NOTHING
    with pytest.raises(FrameError):
        driver.discover(link)


def test_cjt188_search_finds_three_water_meters_with_their_volumes(water: Profile) -> None:
    addresses = ["00000091113480", "00000091113481", "00000091113490"]
    meters = water_meters(addresses, water)
    link, _ = loop(CJT188, meters)
    hits = scan_line(Cjt188Driver(water), link, None)
    assert [h.address for h in hits] == addresses
    for hit in hits:
        assert hit.serial == hit.address  # a CJ/T 188 meter's address is its number
        assert hit.unit == "m3"
        assert hit.volume_m3 is not None
        assert float(hit.volume_m3) == pytest.approx(
            meters[hit.address].state().volume_m3, abs=0.001
        )


def test_cjt188_pattern_addresses_encode_and_only_requests_may_hold_them() -> None:
    request = cjt.build_request(cjt.ANY_TYPE, "AAAAAAAAAAAA07", cjt.READ_ADDRESS, 0x810A, 1)
    assert cjt.decode_frame(request, wildcards=True).address == "AAAAAAAAAAAA07"
    with pytest.raises(FrameError, match="not BCD"):
        cjt.decode_frame(request)
    assert cjt.address_matches("AAAAAAAAAAAA07", "00000091113407")
    assert not cjt.address_matches("AAAAAAAAAAAA07", "00000091113408")


def test_a_corrupted_reply_still_is_a_checksum_error(electricity: Profile) -> None:
    meters = dlt645_meters(["000000000001"], electricity)
    meters["000000000001"].faults = SimFaults(corrupt=1.0)
    link, _ = loop(DLT645, meters)
    with pytest.raises(ChecksumError):
        Dlt645Driver(electricity).read_di(link, "000000000001", 0x00010000)
