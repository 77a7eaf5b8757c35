"""The DL/T 645-2007 driver against the responder (in memory) and against scripted replies."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.hardware.dlt645 import SPEC, codec
from app.hardware.dlt645.codec import Function
from app.hardware.dlt645.driver import Dlt645Driver
from app.hardware.dlt645.responder import Dlt645Responder
from app.hardware.driver import SUPPLY_GROUP
from app.hardware.errors import (
    AddressMismatch,
    CommandRefused,
    FieldFault,
    FrameError,
    NoReply,
)
from app.hardware.link import FrameRecord, LineSettings, Link
from app.hardware.profiles import Profile, load_profile
from app.hardware.simulator.faults import Answerer
from app.hardware.simulator.sim_meter import SimClock, SimMeter

ADDRESS = "000000000001"
ALL = frozenset({"fast", "slow", SUPPLY_GROUP})
FIXED_NOW = datetime(2026, 9, 1, 12, 0, 0)


class FakePort:
    """An in-memory serial port: each write is answered at once by ``answer``."""

    def __init__(self, answer: Callable[[bytes], bytes | None]) -> None:
        self.answer = answer
        self.timeout: float | None = None
        self.written: list[bytes] = []
        self._in = bytearray()

    def write(self, data: bytes, /) -> int:
        self.written.append(bytes(data))
        reply = self.answer(bytes(data))
        if reply:
            self._in += reply
        return len(data)

    def read(self, size: int = 1, /) -> bytes:
        if not self._in:
            time.sleep(0.001)
            return b""
        chunk = bytes(self._in[:size])
        del self._in[:size]
        return chunk

    @property
    def in_waiting(self) -> int:
        return len(self._in)

    def flush(self) -> None:
        pass

    def reset_input_buffer(self) -> None:
        self._in.clear()

    def close(self) -> None:
        pass


def make_link(
    answer: Callable[[bytes], bytes | None],
    frames: list[FrameRecord] | None = None,
    timeout_s: float = 0.05,
) -> tuple[Link, FakePort]:
    port = FakePort(answer)
    link = Link(
        port,
        LineSettings(115200, timeout_s=timeout_s),  # short silent gap
        on_frame=frames.append if frames is not None else None,
    )
    return link, port


def variant(profile: Profile, **options: Any) -> Profile:
    return dataclasses.replace(profile, options={**profile.options, **options})


@pytest.fixture
def profile() -> Profile:
    return load_profile("dlt645-2007")


@pytest.fixture
def meter(profile: Profile) -> SimMeter:
    meter = SimMeter(ADDRESS, profile, clock=SimClock(start=FIXED_NOW), seed=3, reply_delay_s=0.0)
    meter.params["balance"] = Decimal("87.65")
    return meter


def answering(
    meters: dict[str, SimMeter], responder: Dlt645Responder | None = None
) -> Callable[[bytes], bytes | None]:
    answerer = Answerer(SPEC, meters)
    if responder is not None:
        answerer.responder = responder

    def answer(request: bytes) -> bytes | None:
        result = answerer.answer(request)
        return None if result is None else result.reply

    return answer


@pytest.fixture
def line(meter: SimMeter) -> Iterator[tuple[Link, list[FrameRecord]]]:
    frames: list[FrameRecord] = []
    link, _ = make_link(answering({ADDRESS: meter}), frames)
    return link, frames


def driver_for(profile: Profile) -> Dlt645Driver:
    return Dlt645Driver(profile, now=lambda: FIXED_NOW)


# --- against the responder ----------------------------------------------------------------


def test_read_gives_si_values_and_the_relay_state(
    profile: Profile, meter: SimMeter, line: tuple[Link, list[FrameRecord]]
) -> None:
    link, frames = line
    meter.switch_on_heater(1500.0, 0.99, 3600)
    result = driver_for(profile).read(link, "1", ALL)
    state = meter.state()
    assert result.failures == []
    assert result.values["power_w"] == pytest.approx(state.power_w, abs=0.1)
    assert result.values["power_w"] > 1000  # kW on the wire, W in the result
    assert result.values["voltage_v"] == pytest.approx(state.voltage_v, abs=0.1)
    assert result.values["current_a"] == pytest.approx(state.current_a, abs=0.001)
    assert result.values["power_factor"] == pytest.approx(state.power_factor, abs=0.001)
    assert result.values["energy_import_kwh"] == pytest.approx(state.energy_import_kwh, abs=0.01)
    assert result.values["energy_rate_1_kwh"] == pytest.approx(state.energy_rate_kwh[0], abs=0.01)
    assert result.values["balance"] == 87.65
    assert result.supply_on is True
    assert result.status["relay_open"] is False
    assert result.status["meter_type"] == "money prepaid"
    # One request per identifier, each logged with what it means, wake-up bytes first.
    sent = [f for f in frames if f.direction == "tx"]
    assert len(sent) == 11
    assert all(f.data.startswith(b"\xfe\xfe\xfe\xfe\x68") for f in sent)
    assert "read 02010100 voltage phase A" in [f.note for f in sent]


def test_groups_select_what_is_read(profile: Profile, line: tuple[Link, list[FrameRecord]]) -> None:
    link, frames = line
    driver = driver_for(profile)
    result = driver.read(link, ADDRESS, frozenset({"fast"}))
    assert set(result.values) == {"power_w", "power_factor"}  # what the load guard needs
    assert result.supply_on is None
    assert len([f for f in frames if f.direction == "tx"]) == 2  # one request per value
    frames.clear()
    result = driver.read(link, ADDRESS, frozenset({"fast", SUPPLY_GROUP}))
    assert result.supply_on is True
    assert [f.note for f in frames if f.direction == "tx"][-1] == "read 04000503 run status word 3"


def test_relay_off_on_and_read_back(
    profile: Profile, meter: SimMeter, line: tuple[Link, list[FrameRecord]]
) -> None:
    link, frames = line
    driver = driver_for(profile)
    driver.set_supply(link, ADDRESS, False)
    assert meter.supply_on is False
    assert driver.read_supply(link, ADDRESS) is False
    relay = codec.decode_frame(next(f for f in frames if "relay control" in f.note).data)
    assert relay.data[8] == 0x1A
    assert codec.decode_datetime6(relay.data[10:]) == FIXED_NOW + timedelta(seconds=600)
    status = driver.read(link, ADDRESS, frozenset({SUPPLY_GROUP})).status
    assert status["run_status_word_3"] == 0x0250  # relay open, command open, money prepaid
    driver.set_supply(link, ADDRESS, True)
    assert meter.supply_on is True
    assert driver.read_supply(link, ADDRESS) is True
    status = driver.read(link, ADDRESS, frozenset({SUPPLY_GROUP})).status
    assert status["run_status_word_3"] == 0x0200


def test_close_permitted_leaves_the_relay_open_until_the_button(
    profile: Profile, meter: SimMeter
) -> None:
    supply = {**(profile.supply or {}), "close_action": "permit"}
    permit = dataclasses.replace(profile, supply=supply)
    link, _ = make_link(answering({ADDRESS: meter}))
    driver = driver_for(permit)
    driver.set_supply(link, ADDRESS, False)
    driver.set_supply(link, ADDRESS, True)
    assert driver.read_supply(link, ADDRESS) is False
    status = driver.read(link, ADDRESS, frozenset({SUPPLY_GROUP})).status
    assert status["relay_open"] is True
    assert status["relay_command_open"] is False  # the meter may close: the command says on


def test_wrong_password_is_refused_with_a_hint(profile: Profile, meter: SimMeter) -> None:
    link, _ = make_link(answering({ADDRESS: meter}))
    driver = driver_for(variant(profile, password="02999999"))
    with pytest.raises(CommandRefused, match="password error or not authorised") as caught:
        driver.set_supply(link, ADDRESS, False)
    assert "password and operator_code under [dlt645] in dlt645-2007.toml" in str(caught.value)
    assert meter.supply_on is True


def test_a_meter_that_demands_encryption_is_named_plainly(profile: Profile) -> None:
    esam = variant(profile, relay_commands="encrypted")
    meter = SimMeter(ADDRESS, esam, reply_delay_s=0.0)
    link, _ = make_link(answering({ADDRESS: meter}))
    with pytest.raises(CommandRefused, match="demands encrypted") as caught:
        driver_for(esam).set_supply(link, ADDRESS, False)
    assert "identity authentication" in str(caught.value)
    assert meter.supply_on is True


def test_plain_refusal_of_an_esam_meter_is_explained_from_the_profile(profile: Profile) -> None:
    def refuse(request: bytes) -> bytes:
        return codec.error_reply_frame(ADDRESS, Function.RELAY, bytes([codec.ERR_PASSWORD]))

    link, _ = make_link(refuse)
    with pytest.raises(CommandRefused, match="demands encrypted"):
        driver_for(variant(profile, relay_commands="encrypted")).set_supply(link, ADDRESS, True)
    with pytest.raises(CommandRefused, match="password error") as caught:
        driver_for(profile).set_supply(link, ADDRESS, True)
    assert "encrypted" not in str(caught.value)


def test_keep_power_blocks_a_trip(profile: Profile, meter: SimMeter) -> None:
    meter.params["keep_power"] = True
    link, _ = make_link(answering({ADDRESS: meter}))
    with pytest.raises(CommandRefused, match="refused the relay command trip"):
        driver_for(profile).set_supply(link, ADDRESS, False)
    assert meter.supply_on is True


def test_follow_up_frames_are_read_until_the_last(profile: Profile, meter: SimMeter) -> None:
    frames: list[FrameRecord] = []
    small = Dlt645Responder({ADDRESS: meter}, max_reply_data=6)  # 2 data bytes, then 1 a frame
    link, _ = make_link(answering({ADDRESS: meter}, small), frames)
    result = driver_for(profile).read(link, ADDRESS, frozenset({"slow"}))
    assert result.values["balance"] == 87.65
    assert result.values["energy_import_kwh"] == pytest.approx(
        meter.state().energy_import_kwh, abs=0.01
    )
    energy = "forward active energy total"
    follow = [
        codec.decode_frame(f.data) for f in frames if "follow-up" in f.note and energy in f.note
    ]
    assert follow
    assert {frame.function for frame in follow} == {Function.READ_FOLLOW}
    assert [frame.data[4] for frame in follow[:2]] == [1, 2]  # SEQ counts up


def test_discover_finds_the_only_meter(profile: Profile, meter: SimMeter) -> None:
    link, _ = make_link(answering({ADDRESS: meter}))
    assert driver_for(profile).discover(link) == ADDRESS


def test_discover_is_garbled_by_two_meters_and_discover_all_finds_both(
    profile: Profile, meter: SimMeter
) -> None:
    other = SimMeter("000000000002", profile, reply_delay_s=0.0)
    link, _ = make_link(answering({ADDRESS: meter, "000000000002": other}))
    with pytest.raises(FrameError):
        driver_for(profile).discover(link)
    assert sorted(driver_for(profile).discover_all(link).found) == [ADDRESS, "000000000002"]


def test_clock_read_broadcast_and_write(profile: Profile, meter: SimMeter) -> None:
    link, port = make_link(answering({ADDRESS: meter}))
    driver = driver_for(profile)
    assert abs(driver.read_clock(link, ADDRESS) - meter.clock_now()) <= timedelta(seconds=2)
    target = datetime(2031, 5, 6, 7, 8, 9)
    driver.sync_clock(link, None, target)
    assert codec.decode_frame(port.written[-1]).address == codec.BROADCAST
    assert abs(meter.clock_now() - target) <= timedelta(seconds=2)
    target = datetime(2032, 2, 29, 23, 0, 0)
    driver.sync_clock(link, ADDRESS, target)  # one meter: write with the password
    written = [codec.decode_frame(raw) for raw in port.written[-2:]]
    assert [frame.function for frame in written] == [Function.WRITE] * 2
    assert [frame.data[:4] for frame in written] == [
        codec.di_bytes(0x04000101),
        codec.di_bytes(0x04000102),
    ]
    assert abs(meter.clock_now() - target) <= timedelta(seconds=2)
    broadcaster = driver_for(variant(profile, clock_sync="broadcast"))
    broadcaster.sync_clock(link, ADDRESS, datetime(2033, 1, 1))
    assert codec.decode_frame(port.written[-1]).address == codec.BROADCAST
    assert abs(meter.clock_now() - datetime(2033, 1, 1)) <= timedelta(seconds=2)


def test_prepaid_parameters_are_written_and_read_back(profile: Profile, meter: SimMeter) -> None:
    link, _ = make_link(answering({ADDRESS: meter}))
    driver = driver_for(profile)
    driver.write_parameter(link, ADDRESS, "hoard_limit", Decimal("2000.00"))
    assert meter.params["hoard_limit"] == Decimal("2000.00")
    assert driver.read_parameter(link, ADDRESS, "hoard_limit") == Decimal("2000.00")
    with pytest.raises(CommandRefused, match="refused to write 04001001"):
        driver_for(variant(profile, password="02111111")).write_parameter(
            link, ADDRESS, "alarm_1", Decimal("10")
        )


def test_a_missing_meter_costs_one_timeout_not_one_per_value(profile: Profile) -> None:
    link, port = make_link(lambda request: None)
    with pytest.raises(NoReply):
        driver_for(profile).read(link, ADDRESS, ALL)
    assert len(port.written) == 1


def test_unsupported_identifiers_make_a_partial_read(profile: Profile, meter: SimMeter) -> None:
    values = {**profile.values, "frequency_hz": {"di": "02010200", "group": "fast"}}  # phase B
    odd = dataclasses.replace(profile, values=values)
    link, _ = make_link(answering({ADDRESS: meter}))
    result = driver_for(odd).read(link, ADDRESS, frozenset({"fast"}))
    assert "power_w" in result.values
    assert "frequency_hz" not in result.values
    assert any("frequency_hz (02010200)" in f and "no data requested" in f for f in result.failures)


def test_a_reply_from_another_meter_is_an_address_mismatch(profile: Profile) -> None:
    def impostor(request: bytes) -> bytes:
        asked = codec.decode_frame(request).data  # the DI
        return codec.reply_frame("000000000009", Function.READ, asked + b"\x00\x00")

    link, _ = make_link(impostor)
    with pytest.raises(AddressMismatch, match="from address 000000000009, asked 000000000001"):
        driver_for(profile).read_supply(link, ADDRESS)


def test_the_date_is_read_again_just_after_midnight(profile: Profile) -> None:
    """Date read at 23:59:59.9, time at 00:00:00: the date must be the new day's."""
    answers = iter(
        [
            codec.encode_date(datetime(2026, 9, 1).date()),
            codec.encode_time(datetime(2026, 9, 2, 0, 0, 0).time()),
            codec.encode_date(datetime(2026, 9, 2).date()),
        ]
    )

    def reply(request: bytes) -> bytes:
        frame = codec.decode_frame(request)
        return codec.reply_frame(ADDRESS, Function.READ, frame.data + next(answers))

    link, _ = make_link(reply)
    assert driver_for(profile).read_clock(link, ADDRESS) == datetime(2026, 9, 2, 0, 0, 0)


# --- any reply bytes: a value or one of our errors ----------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=64), st.sampled_from(["read", "supply", "clock", "relay", "discover"]))
def test_any_reply_bytes_raise_only_our_errors(reply: bytes, action: str) -> None:
    profile = load_profile("dlt645-2007")
    link, _ = make_link(lambda request: reply, timeout_s=0.003)
    driver = driver_for(profile)
    calls: dict[str, Callable[[], object]] = {
        "read": lambda: driver.read(link, ADDRESS, frozenset({"fast"})),
        "supply": lambda: driver.read_supply(link, ADDRESS),
        "clock": lambda: driver.read_clock(link, ADDRESS),
        "relay": lambda: driver.set_supply(link, ADDRESS, False),
        "discover": lambda: driver.discover(link),
    }
    with contextlib.suppress(FieldFault):
        calls[action]()


_MUTATION = st.tuples(
    st.sampled_from(["none", "flip", "cut", "extra"]),
    st.integers(min_value=0, max_value=10_000),
    st.integers(min_value=1, max_value=255),
    st.binary(min_size=1, max_size=3),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_MUTATION, min_size=1, max_size=8))
def test_mutated_meter_replies_raise_only_our_errors(
    mutations: list[tuple[str, int, int, bytes]],
) -> None:
    """Every mutation is drawn before the exchange starts.

    How many requests the driver sends depends on timeouts, so drawing inside the reply
    callback made Hypothesis see different draws on a replay (FlakyStrategyDefinition).
    The replies take the planned mutations in order and are honest once they run out.
    """
    profile = load_profile("dlt645-2007")
    meter = SimMeter(ADDRESS, profile, reply_delay_s=0.0)
    honest = answering({ADDRESS: meter})
    plan = iter(mutations)

    def mutate(request: bytes) -> bytes | None:
        reply = honest(request)
        if reply is None:
            return None
        kind, where, flip, extra = next(plan, ("none", 0, 1, b""))
        raw = bytearray(reply)
        at = where % len(raw)
        if kind == "flip":
            raw[at] ^= flip
        elif kind == "cut":
            del raw[at:]
        elif kind == "extra":
            raw[at:at] = extra
        return bytes(raw)

    link, _ = make_link(mutate, timeout_s=0.003)
    with contextlib.suppress(FieldFault):
        driver_for(profile).read(link, ADDRESS, frozenset({"fast"}))
