"""CJ/T 188 driver against the simulator's responder, wired back to back in memory: every
request the driver writes is answered at once, so the driver's decisions are tested without a
serial line (the pty tests in tests/integration cover the line)."""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.hardware.cjt188 import SPEC, Cjt188Driver, codec
from app.hardware.cjt188.responder import Cjt188Responder
from app.hardware.errors import (
    AddressMismatch,
    ChecksumError,
    CommandRefused,
    ExceptionReply,
    FieldFault,
    FrameError,
    NoReply,
)
from app.hardware.link import FrameRecord, LineSettings, Link
from app.hardware.profiles import Profile, load_profile, parse_profile
from app.hardware.simulator.faults import Answerer
from app.hardware.simulator.sim_meter import SimMeter
from tests.support import ManualClock
from tests.unit.hardware.answer_loop import LoopPort

START = datetime(2026, 11, 27, 20, 0, 0)
A1 = "00000091113480"
A2 = "00000091113481"


@dataclasses.dataclass
class Bench:
    profile: Profile
    clock: ManualClock
    meters: dict[str, SimMeter]
    port: LoopPort
    link: Link
    driver: Cjt188Driver
    frames: list[FrameRecord]


def make_bench(profile: Profile, *addresses: str) -> Bench:
    clock = ManualClock(START)
    meters = {a: SimMeter(a, profile, clock=clock, seed=3) for a in addresses}
    port = LoopPort(Answerer(SPEC, meters))
    frames: list[FrameRecord] = []
    settings = LineSettings(baudrate=115200, parity="E", timeout_s=0.05)
    link = Link(port, settings, on_frame=frames.append)
    return Bench(profile, clock, meters, port, link, Cjt188Driver(profile), frames)


@pytest.fixture
def bench() -> Bench:
    return make_bench(load_profile("cjt188-water"), A1)


def test_read_volume_valve_and_status(bench: Bench) -> None:
    meter = bench.meters[A1]
    result = bench.driver.read(bench.link, A1, frozenset({"slow"}))
    assert result.values["volume_m3"] == pytest.approx(meter.state().volume_m3, abs=0.0005)
    assert result.supply_on is True
    assert result.failures == []
    assert result.status["low_battery"] is False
    assert result.status["valve_fault"] is False
    assert result.status["meter_time"] == START.isoformat()
    tx = [f for f in bench.frames if f.direction == "tx"]
    assert tx[-1].note == "read 901F flow, valve, clock"
    assert tx[-1].data.startswith(b"\xfe\xfe\xfe\x68\x10")  # 3 wake-up bytes, cold water


def test_fast_poll_leaves_volume_out_but_reads_the_valve(bench: Bench) -> None:
    result = bench.driver.read(bench.link, A1, frozenset({"fast"}))
    assert "volume_m3" not in result.values
    assert result.supply_on is True


def test_short_address_is_padded(bench: Bench) -> None:
    assert bench.driver.probe(bench.link, "91113480")


def test_valve_close_and_open(bench: Bench) -> None:
    meter = bench.meters[A1]
    bench.driver.set_supply(bench.link, A1, False)
    assert meter.supply_on is False
    assert bench.driver.read_supply(bench.link, A1) is False
    notes = [f.note for f in bench.frames if f.direction == "tx"]
    assert "write A017 valve close (99)" in notes
    bench.driver.set_supply(bench.link, A1, True)
    assert meter.supply_on is True
    assert bench.driver.read_supply(bench.link, A1) is True


def test_valve_fault_and_low_battery(bench: Bench) -> None:
    meter = bench.meters[A1]
    meter.params["valve_fault"] = True
    meter.params["low_battery"] = True
    result = bench.driver.read(bench.link, A1, frozenset({"slow"}))
    assert result.supply_on is None
    assert any("valve fault" in failure for failure in result.failures)
    assert result.status["valve_fault"] is True
    assert result.status["low_battery"] is True
    assert "volume_m3" in result.values  # the volume is still good
    with pytest.raises(ExceptionReply, match="valve fault"):
        bench.driver.read_supply(bench.link, A1)


def test_refused_valve_command(bench: Bench) -> None:
    # The meter knows other valve codes than the profile says: it refuses with C4.
    other = dataclasses.replace(
        bench.profile, supply={**(bench.profile.supply or {}), "close_code": 0x98}
    )
    driver = Cjt188Driver(other)
    with pytest.raises(CommandRefused, match=r"refused the valve close command \(error reply C4"):
        driver.set_supply(bench.link, A1, False)
    assert bench.meters[A1].supply_on is True


def test_read_error_reply(bench: Bench) -> None:
    # A master with the other DI byte order sends DI 1F90, which the meter does not know.
    swapped = dataclasses.replace(
        bench.profile, options={**bench.profile.options, "di_order": "low_first"}
    )
    with pytest.raises(ExceptionReply, match=r"refused the read of DI 901F \(error reply C1"):
        Cjt188Driver(swapped).read(bench.link, A1, frozenset({"slow"}))
    assert Cjt188Driver(swapped).probe(bench.link, A1) is True  # a meter did answer


def test_clock_read_and_sync(bench: Bench) -> None:
    meter = bench.meters[A1]
    assert bench.driver.read_clock(bench.link, A1) == meter.clock_now() == START
    when = datetime(2027, 1, 2, 3, 4, 5)
    bench.driver.sync_clock(bench.link, A1, when)
    assert meter.clock_now() == when
    assert bench.driver.read_clock(bench.link, A1) == when
    bench.clock.advance(61)
    assert bench.driver.read_clock(bench.link, A1) == datetime(2027, 1, 2, 3, 5, 6)


def test_clock_sync_limits(bench: Bench) -> None:
    with pytest.raises(CommandRefused, match="no broadcast"):
        bench.driver.sync_clock(bench.link, None, START)
    no_clock = dataclasses.replace(
        bench.profile,
        options={k: v for k, v in bench.profile.options.items() if k != "clock_di"},
    )
    with pytest.raises(CommandRefused, match="names no clock_di"):
        Cjt188Driver(no_clock).sync_clock(bench.link, A1, START)


def test_unset_meter_clock(bench: Bench) -> None:
    bench.port.mangle = _zero_time
    with pytest.raises(FrameError, match="clock is not set"):
        bench.driver.read_clock(bench.link, A1)
    result = bench.driver.read(bench.link, A1, frozenset({"slow"}))
    assert result.status["meter_time"] is None
    assert "volume_m3" in result.values


def _zero_time(reply: bytes) -> bytes:
    frame = codec.decode_frame(reply)
    data = bytearray(frame.data)
    data[13:20] = bytes(7)
    return codec.encode_frame(frame.meter_type, frame.address, frame.control, bytes(data))


def test_discover_one_meter(bench: Bench) -> None:
    assert bench.driver.discover(bench.link) == A1
    tx = [f for f in bench.frames if f.direction == "tx"][-1]
    assert codec.decode_frame(tx.data).address == codec.WILDCARD
    assert tx.data[4] == codec.ANY_TYPE


def test_discover_two_meters_garble_each_other() -> None:
    """Both answer the wildcard at once: their replies collide (``discover_all`` finds both)."""
    bench = make_bench(load_profile("cjt188-water"), A1, A2)
    with pytest.raises(FrameError):
        bench.driver.discover(bench.link)
    found = bench.driver.discover_all(bench.link)
    assert sorted(found.found) == [A1, A2]


def test_two_meters_answer_only_to_their_address() -> None:
    bench = make_bench(load_profile("cjt188-water"), A1, A2)
    bench.meters[A2].set_supply(False)
    assert bench.driver.read_supply(bench.link, A1) is True
    assert bench.driver.read_supply(bench.link, A2) is False
    for address, meter in bench.meters.items():
        volume = bench.driver.read(bench.link, address, frozenset({"slow"})).values["volume_m3"]
        assert volume == pytest.approx(meter.state().volume_m3, abs=0.0005)
    assert bench.driver.probe(bench.link, "00000091113482") is False


def test_wrong_address_in_reply(bench: Bench) -> None:
    bench.port.mangle = lambda reply: _readdress(reply, A2)
    with pytest.raises(AddressMismatch):
        bench.driver.read(bench.link, A1, frozenset({"slow"}))
    assert bench.driver.probe(bench.link, A1) is False


def _readdress(reply: bytes, address: str) -> bytes:
    frame = codec.decode_frame(reply)
    return codec.encode_frame(frame.meter_type, address, frame.control, frame.data)


def test_stale_ser_is_refused(bench: Bench) -> None:
    def older(reply: bytes) -> bytes:
        frame = codec.decode_frame(reply)
        data = bytearray(frame.data)
        data[2] = (data[2] - 1) & 0xFF
        return codec.encode_frame(frame.meter_type, frame.address, frame.control, bytes(data))

    bench.port.mangle = older
    with pytest.raises(FrameError, match="SER"):
        bench.driver.read(bench.link, A1, frozenset({"slow"}))


def test_corrupt_reply(bench: Bench) -> None:
    bench.meters[A1].faults.corrupt = 1.0
    with pytest.raises(ChecksumError):
        bench.driver.read(bench.link, A1, frozenset({"slow"}))


def test_dead_meter(bench: Bench) -> None:
    bench.meters[A1].faults.dead = True
    with pytest.raises(NoReply):
        bench.driver.read(bench.link, A1, frozenset({"slow"}))
    assert bench.driver.probe(bench.link, A1) is False


def test_units_and_layouts_of_other_profiles() -> None:
    """A gas meter in m³ (volume above what litres can carry), a heat meter's 901F layout, the
    high_bits status layout and a vendor valve function 2A with SER always zero."""
    text = (load_profile("cjt188-water").path).read_text(encoding="utf-8")
    text = text.replace('utility = "water"', 'utility = "gas"').replace("0x10", "0x30")
    text = text.replace('"low_bits"', '"high_bits"').replace("0x04", "0x2A")
    text = text.replace('ser = "increment"', 'ser = "zero"')
    gas = parse_profile(text, Path("cjt188-water.toml"))
    bench = make_bench(gas, A1)
    meter = bench.meters[A1]
    meter._volume_m3 = 1234.567  # type: ignore[attr-defined]  # beyond 999 999.99 L
    result = bench.driver.read(bench.link, A1, frozenset({"slow"}))
    assert result.values["volume_m3"] == pytest.approx(1234.57)
    bench.driver.set_supply(bench.link, A1, False)
    assert bench.driver.read_supply(bench.link, A1) is False
    sent = [codec.decode_frame(f.data) for f in bench.frames if f.direction == "tx"]
    assert {f.data[2] for f in sent} == {0}
    assert any(f.control == 0x2A for f in sent)
    assert all(f.meter_type == 0x30 for f in sent)

    heat_text = load_profile("cjt188-water").path.read_text(encoding="utf-8")
    heat = parse_profile(heat_text.replace("0x10", "0x20"), Path("cjt188-water.toml"))
    bench = make_bench(heat, A1)
    result = bench.driver.read(bench.link, A1, frozenset({"slow"}))
    assert result.values["volume_m3"] == pytest.approx(bench.meters[A1].state().volume_m3, abs=5e-4)


def test_responder_ignores_replies_others_and_other_types(bench: Bench) -> None:
    responder = Cjt188Responder(bench.meters)
    read = codec.build_request(0x10, A1, codec.READ_DATA, codec.DI_METER_DATA, 1)
    assert responder.handle(read) is not None
    reply = responder.handle(read)
    assert reply is not None
    assert responder.handle(reply) is None
    assert responder.handle(codec.build_request(0x30, A1, 1, codec.DI_METER_DATA, 1)) is None
    assert responder.handle(codec.build_request(0x10, A2, 1, codec.DI_METER_DATA, 1)) is None
    any_type = codec.build_request(codec.ANY_TYPE, A1, 1, codec.DI_METER_DATA, 1)
    assert responder.handle(any_type) is not None
    # too short for DI and SER, an unknown function, a bad clock: error replies
    for request in (
        codec.encode_frame(0x10, A1, codec.READ_DATA, b"\x90"),
        codec.build_request(0x10, A1, 0x09, 0x8106, 1),
        codec.build_request(0x10, A1, codec.WRITE_DATA, 0xA015, 1, bytes(7)),
    ):
        answer = responder.handle(request)
        assert answer is not None
        assert codec.decode_frame(answer).is_error


def test_keys_may_be_short_addresses() -> None:
    profile = load_profile("cjt188-water")
    meter = SimMeter("7", profile, clock=ManualClock(START))
    port = LoopPort(Answerer(SPEC, {"7": meter}))
    link = Link(port, LineSettings(timeout_s=0.05))
    assert Cjt188Driver(profile).discover(link) == "00000000000007"


requests = st.builds(
    lambda t, a, c, di, ser, payload: codec.build_request(t, a, c, di, ser, payload),
    st.sampled_from([0x10, 0x30, codec.ANY_TYPE]) | st.integers(0, 255),
    st.sampled_from([A1, A2, codec.WILDCARD]),
    st.sampled_from([codec.READ_DATA, codec.READ_ADDRESS, codec.WRITE_DATA]) | st.integers(0, 255),
    st.sampled_from([codec.DI_METER_DATA, codec.DI_VALVE, codec.DI_REAL_TIME, codec.DI_ADDRESS])
    | st.integers(0, 0xFFFF),
    st.integers(0, 255),
    st.binary(max_size=9),
)


@given(st.binary(max_size=60) | requests, st.data())
def test_responder_raises_only_our_errors(raw: bytes, data: st.DataObject) -> None:
    """Whatever reaches the simulated meter: an answer, silence, or FrameError (the server
    drops such bytes); never another exception."""
    if raw and data.draw(st.booleans()):
        mutated = bytearray(raw)
        mutated[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
        raw = bytes(mutated)
    meter = SimMeter(A1, load_profile("cjt188-water"), clock=ManualClock(START))
    responder = Cjt188Responder({A1: meter})
    for call in (responder.handle, responder.addressees, SPEC.request_length):
        with contextlib.suppress(FieldFault):
            call(raw)
