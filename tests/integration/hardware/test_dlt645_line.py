"""Our DL/T 645-2007 driver against our simulator over a real pseudo-terminal pair.

The simulator (SimServer) serves the meters on one end on its own thread; the driver talks
through a Link on the other end, byte by byte as on an RS485 adapter. The ptys are opened with
parity N: the Linux pty driver refuses the even parity a real DL/T 645 line uses (EINVAL), and
a pty does not care about line settings anyway.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from app.hardware.dlt645 import SPEC
from app.hardware.dlt645.driver import Dlt645Driver
from app.hardware.driver import SUPPLY_GROUP
from app.hardware.errors import ChecksumError, CommandRefused, NoReply
from app.hardware.link import FrameRecord, LineSettings, Link
from app.hardware.profiles import Profile, load_profile
from app.hardware.simulator.server import SimServer
from app.hardware.simulator.sim_meter import SimFaults, SimMeter
from tests.support import simulated_line

ADDRESS = "000000000001"
OTHER = "000000000002"
ALL = frozenset({"fast", "slow", SUPPLY_GROUP})
SETTINGS = LineSettings(baudrate=9600, bytesize=8, parity="N", stopbits=1, timeout_s=0.5)


@dataclass
class Line:
    link: Link
    driver: Dlt645Driver
    meters: Mapping[str, SimMeter]
    frames: list[FrameRecord]
    server: SimServer


@pytest.fixture
def profile() -> Profile:
    return load_profile("dlt645-2007")


def make_meter(address: str, profile: Profile, faults: SimFaults | None = None) -> SimMeter:
    meter = SimMeter(address, profile, seed=7, reply_delay_s=0.0, faults=faults or SimFaults())
    meter.params["balance"] = Decimal("42.50")
    return meter


@contextmanager
def serving(profile: Profile, meters: Mapping[str, SimMeter]) -> Iterator[Line]:
    """The simulator on one pty, a Link on the other (``tests.support.simulated_line``)."""
    frames: list[FrameRecord] = []
    with simulated_line(SPEC, meters, SETTINGS, on_frame=frames.append) as (link, server):
        yield Line(link, Dlt645Driver(profile), meters, frames, server)


def test_read_values_match_the_simulated_meter(profile: Profile) -> None:
    meter = make_meter(ADDRESS, profile)
    meter.switch_on_heater(1200.0, 0.98, duration_s=3600)
    with serving(profile, {ADDRESS: meter}) as line:
        result = line.driver.read(line.link, ADDRESS, ALL)
        state = meter.state()
    assert result.failures == []
    values = result.values
    assert values["voltage_v"] == pytest.approx(state.voltage_v, abs=0.5)
    assert values["power_w"] == pytest.approx(state.power_w, abs=5)
    assert values["power_w"] >= 1200
    assert values["current_a"] == pytest.approx(state.current_a, abs=0.05)
    assert values["power_factor"] == pytest.approx(state.power_factor, abs=0.01)
    assert values["energy_import_kwh"] == pytest.approx(state.energy_import_kwh, abs=0.02)
    for rate in range(4):
        assert values[f"energy_rate_{rate + 1}_kwh"] == pytest.approx(
            state.energy_rate_kwh[rate], abs=0.02
        )
    assert values["balance"] == 42.5
    assert result.supply_on is True
    # Every request went out with its meaning for the frame log, and every reply came back.
    sent = [f for f in line.frames if f.direction == "tx"]
    received = [f for f in line.frames if f.direction == "rx"]
    assert len(sent) == len(received) == 11
    assert {f.address for f in sent} == {ADDRESS}
    assert "read 02030000 active power total" in [f.note for f in sent]


def test_relay_off_drops_the_load_and_on_restores_supply(profile: Profile) -> None:
    meter = make_meter(ADDRESS, profile)
    meter.switch_on_heater(1500.0, 0.99, duration_s=3600)
    with serving(profile, {ADDRESS: meter}) as line:
        before = line.driver.read(line.link, ADDRESS, frozenset({"fast", SUPPLY_GROUP}))
        assert before.values["power_w"] > 1000
        line.driver.set_supply(line.link, ADDRESS, False)
        assert line.driver.read_supply(line.link, ADDRESS) is False
        after = line.driver.read(line.link, ADDRESS, ALL)
        assert after.values["power_w"] == 0.0
        assert after.values["current_a"] == 0.0
        assert after.supply_on is False
        assert meter.supply_on is False
        line.driver.set_supply(line.link, ADDRESS, True)
        assert line.driver.read_supply(line.link, ADDRESS) is True
        assert (
            line.driver.read(line.link, ADDRESS, frozenset({"fast", SUPPLY_GROUP})).values[
                "power_w"
            ]
            > 1000
        )
    assert meter.supply_on is True


def test_discover_the_only_meter_with_the_wildcard(profile: Profile) -> None:
    meter = make_meter("123456789012", profile)
    with serving(profile, {"123456789012": meter}) as line:
        assert line.driver.discover(line.link) == "123456789012"
        assert line.driver.probe(line.link, "123456789012") is True


def test_broadcast_time_sync_moves_the_meter_clock(profile: Profile) -> None:
    meters = {ADDRESS: make_meter(ADDRESS, profile), OTHER: make_meter(OTHER, profile)}
    target = datetime(2030, 1, 2, 3, 4, 5)
    with serving(profile, meters) as line:
        line.driver.sync_clock(line.link, None, target)
        # The broadcast has no reply; the next request's reply comes after it was handled.
        clock = line.driver.read_clock(line.link, ADDRESS)
        other = line.driver.read_clock(line.link, OTHER)
    assert clock is not None
    assert other is not None
    assert abs(clock - target) < timedelta(seconds=30)
    assert abs(other - target) < timedelta(seconds=30)
    assert abs(meters[ADDRESS].clock_now() - target) < timedelta(seconds=30)


def test_a_wrong_password_is_refused(profile: Profile) -> None:
    meter = make_meter(ADDRESS, profile)
    wrong = dataclasses.replace(profile, options={**profile.options, "password": "02654321"})
    with serving(profile, {ADDRESS: meter}) as line:
        driver = Dlt645Driver(wrong)
        with pytest.raises(CommandRefused, match="refused the relay command trip"):
            driver.set_supply(line.link, ADDRESS, False)
        assert driver.read_supply(line.link, ADDRESS) is True
    assert meter.supply_on is True


def test_a_corrupting_meter_gives_checksum_errors(profile: Profile) -> None:
    meter = make_meter(ADDRESS, profile, faults=SimFaults(corrupt=1.0))
    with serving(profile, {ADDRESS: meter}) as line:
        with pytest.raises(ChecksumError):
            line.driver.read(line.link, ADDRESS, frozenset({"fast", SUPPLY_GROUP}))
        with pytest.raises(ChecksumError):
            line.driver.read_supply(line.link, ADDRESS)


def test_a_dead_meter_gives_no_reply_and_its_neighbour_still_answers(profile: Profile) -> None:
    dead = make_meter(ADDRESS, profile, faults=SimFaults(dead=True))
    alive = make_meter(OTHER, profile)
    with serving(profile, {ADDRESS: dead, OTHER: alive}) as line:
        with pytest.raises(NoReply):
            line.driver.read(line.link, ADDRESS, ALL)
        assert line.driver.probe(line.link, ADDRESS) is False
        assert (
            line.driver.read(line.link, OTHER, frozenset({"fast", SUPPLY_GROUP})).supply_on is True
        )
