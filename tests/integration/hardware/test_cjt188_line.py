"""CJ/T 188 driver against the simulator over a real serial line (two linked pseudo-terminals):
the SimServer answers on one end in its own thread, the driver's Link talks on the other."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import pytest

from app.hardware.cjt188 import SPEC, Cjt188Driver
from app.hardware.errors import ChecksumError, FrameError, NoReply
from app.hardware.link import FrameRecord, Link
from app.hardware.profiles import Profile, load_profile
from app.hardware.simulator.server import SimServer
from app.hardware.simulator.sim_meter import SimMeter
from tests.support import ManualClock, simulated_line

START = datetime(2026, 11, 27, 19, 0, 0)
A1 = "00000091113480"
A2 = "00000091113481"
SLOW = frozenset({"slow"})
DAY_S = 86_400.0


@dataclass
class Line:
    profile: Profile
    clock: ManualClock
    meters: dict[str, SimMeter]
    server: SimServer
    link: Link
    driver: Cjt188Driver
    frames: list[FrameRecord]


@contextmanager
def cjt188_line(*addresses: str) -> Iterator[Line]:
    profile = load_profile("cjt188-water")
    clock = ManualClock(START)
    meters = {a: SimMeter(a, profile, clock=clock, seed=11) for a in addresses}
    frames: list[FrameRecord] = []
    with simulated_line(SPEC, meters, profile.line, on_frame=frames.append) as (link, server):
        yield Line(profile, clock, meters, server, link, Cjt188Driver(profile), frames)


@pytest.fixture
def one_meter() -> Iterator[Line]:
    with cjt188_line(A1) as line:
        yield line


def _litres(volume_m3: float) -> int:
    return round(volume_m3 * 1000)


def test_volume_matches_the_meter_to_the_litre(one_meter: Line) -> None:
    line = one_meter
    result = line.driver.read(line.link, A1, SLOW)
    assert result.failures == []
    assert _litres(result.values["volume_m3"]) == _litres(line.meters[A1].state().volume_m3)
    assert result.supply_on is True
    rx = [f for f in line.frames if f.direction == "rx"]
    assert rx
    assert rx[-1].address == A1
    assert line.server.requests == line.server.replies == 1


def _volume_after_a_day(line: Line, address: str) -> tuple[float, float]:
    before = line.driver.read(line.link, address, SLOW).values["volume_m3"]
    line.clock.advance(DAY_S)
    after = line.driver.read(line.link, address, SLOW).values["volume_m3"]
    return before, after


def test_valve_close_stops_the_flow_and_open_restores_it(one_meter: Line) -> None:
    line = one_meter
    meter = line.meters[A1]
    before, after = _volume_after_a_day(line, A1)
    assert after > before  # a day of taps and showers with the valve open

    line.driver.set_supply(line.link, A1, False)
    assert meter.supply_on is False
    assert line.driver.read_supply(line.link, A1) is False
    before, after = _volume_after_a_day(line, A1)
    assert _litres(after) == _litres(before)  # no water through a closed valve
    assert _litres(after) == _litres(meter.state().volume_m3)

    line.driver.set_supply(line.link, A1, True)
    assert line.driver.read_supply(line.link, A1) is True
    before, after = _volume_after_a_day(line, A1)
    assert after > before
    notes = [f.note for f in line.frames if f.direction == "tx"]
    assert "write A017 valve close (99)" in notes
    assert "write A017 valve open (55)" in notes


def test_discover_with_the_wildcard(one_meter: Line) -> None:
    assert one_meter.driver.discover(one_meter.link) == A1


def test_clock_read_and_set_over_the_line(one_meter: Line) -> None:
    line = one_meter
    assert line.driver.read_clock(line.link, A1) == START
    when = datetime(2026, 12, 31, 23, 59, 30)
    line.driver.sync_clock(line.link, A1, when)
    assert line.meters[A1].clock_now() == when
    assert line.driver.read_clock(line.link, A1) == when


def test_corrupt_reply_is_a_checksum_error(one_meter: Line) -> None:
    line = one_meter
    line.meters[A1].faults.corrupt = 1.0
    with pytest.raises(ChecksumError):
        line.driver.read(line.link, A1, SLOW)
    line.meters[A1].faults.corrupt = 0.0
    assert "volume_m3" in line.driver.read(line.link, A1, SLOW).values  # the line recovers


def test_dead_meter_gives_no_reply(one_meter: Line) -> None:
    line = one_meter
    line.meters[A1].faults.dead = True
    with pytest.raises(NoReply):
        line.driver.read(line.link, A1, SLOW)
    assert line.driver.probe(line.link, A1) is False


def test_two_meters_answer_only_to_their_own_address() -> None:
    with cjt188_line(A1, A2) as line:
        line.meters[A2].set_supply(False)
        line.clock.advance(3600)
        for address, meter in line.meters.items():
            result = line.driver.read(line.link, address, SLOW)
            assert _litres(result.values["volume_m3"]) == _litres(meter.state().volume_m3)
            assert result.supply_on is meter.supply_on
        assert line.meters[A1].state().volume_m3 != line.meters[A2].state().volume_m3
        assert {f.address for f in line.frames if f.direction == "rx"} == {A1, A2}
        with pytest.raises(NoReply):
            line.driver.read(line.link, "00000091113482", SLOW)
        with pytest.raises(FrameError):  # both answer the wildcard at once: a collision
            line.driver.discover(line.link)
