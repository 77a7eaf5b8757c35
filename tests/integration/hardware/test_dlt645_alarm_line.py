"""The meter's own alarm (DL/T 645-2007 relay control 1C, N1 2A alarm / 2B alarm released): our
driver and bus worker against our simulator over a real pseudo-terminal pair, byte for byte.

The expected frames below were worked out by hand from DL/T 645-2007 (not by our codec): every
data byte plus 0x33, the checksum the sum mod 256 of the bytes from the first 68 to the last
data byte. The ptys run with parity N (the Linux pty driver refuses even parity).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime

import pytest

from app.hardware.bus_worker import BusMeter, BusWorker, PollPolicy
from app.hardware.dlt645 import SPEC
from app.hardware.dlt645.driver import Dlt645Driver
from app.hardware.errors import CommandRefused
from app.hardware.link import FrameRecord, LineSettings, Link
from app.hardware.profiles import Profile, load_profile
from app.hardware.simulator.sim_meter import SimFaults, SimMeter
from tests.support import simulated_line

ADDRESS = "000000000001"
SETTINGS = LineSettings(baudrate=9600, bytesize=8, parity="N", stopbits=1, timeout_s=0.3)
NOW = datetime(2030, 1, 2, 3, 4, 5)  # the command is valid 600 s: until 2030-01-02 03:14:05

# 4 wake-up FE · 68 · address 01 00 00 00 00 00 · 68 · 1C · L 10 · password 02 000000 (35 33 33
# 33) · operator 00000000 (33 33 33 33) · N1 2A (5D) · N2 00 (33) · expiry ss mm hh DD MM YY
# 05 14 03 02 01 30 (38 47 36 35 34 63) · checksum · 16
ALARM_ON_FRAME = bytes.fromhex(
    "FEFEFEFE 68 010000000000 68 1C 10 35333333 33333333 5D 33 384736353463 A8 16"
)
ALARM_OFF_FRAME = bytes.fromhex(
    "FEFEFEFE 68 010000000000 68 1C 10 35333333 33333333 5E 33 384736353463 A9 16"
)
# The meter's acknowledgement: 2 wake-up FE · 68 · address · 68 · 9C (reply to 1C) · L 00 · CS · 16
ACK_FRAME = bytes.fromhex("FEFE 68 010000000000 68 9C 00 6D 16")


@pytest.fixture
def profile() -> Profile:
    return load_profile("dlt645-2007")


def make_meter(profile: Profile, faults: SimFaults | None = None) -> SimMeter:
    return SimMeter(ADDRESS, profile, seed=3, reply_delay_s=0.0, faults=faults or SimFaults())


@contextmanager
def line_to(
    profile: Profile, meters: Mapping[str, SimMeter]
) -> Iterator[tuple[Link, list[FrameRecord]]]:
    frames: list[FrameRecord] = []
    with simulated_line(SPEC, meters, SETTINGS, on_frame=frames.append) as (link, _server):
        yield link, frames


@contextmanager
def worker_on(profile: Profile, meter: SimMeter, retries: int = 1) -> Iterator[BusWorker]:
    """A non-polling bus worker whose one meter is ``meter``, over the pty pair."""
    with line_to(meter.profile, {ADDRESS: meter}) as (link, _frames):
        worker = BusWorker(
            "alarm",
            "pty",
            SETTINGS,
            [BusMeter(1, ADDRESS, profile)],
            lambda _snapshot: None,
            policy=PollPolicy(retries=retries),
            poll=False,
            link_factory=lambda: link,
        )
        worker.start()
        try:
            yield worker
        finally:
            worker.stop()
        assert not worker.alive


def test_the_profile_says_the_meter_shows_an_alarm(profile: Profile) -> None:
    assert profile.shows_alarm
    for other in ("acrel-ddsy1352", "hiking-dds238", "eastron-sdm120", "cjt188-water"):
        assert not load_profile(other).shows_alarm, other


def test_alarm_on_and_off_frames_byte_for_byte(profile: Profile) -> None:
    meter = make_meter(profile)
    driver = Dlt645Driver(profile, now=lambda: NOW)
    with line_to(profile, {ADDRESS: meter}) as (link, frames):
        assert not meter.alarm_on
        driver.show_alarm(link, ADDRESS, True)
        assert meter.alarm_on  # the simulated meter sounds its buzzer
        driver.show_alarm(link, ADDRESS, False)
        assert not meter.alarm_on
    sent = [f for f in frames if f.direction == "tx"]
    received = [f for f in frames if f.direction == "rx"]
    assert [f.data for f in sent] == [ALARM_ON_FRAME, ALARM_OFF_FRAME]
    assert [f.data for f in received] == [ACK_FRAME, ACK_FRAME]
    assert [f.note for f in sent] == [
        "relay control alarm on (alarm on (2A))",
        "relay control alarm off (alarm off (2B))",
    ]
    # An alarm is no supply command: the relay stayed closed throughout.
    assert meter.supply_on


def test_a_vendor_code_from_the_profile_goes_on_the_wire(profile: Profile) -> None:
    vendor = dataclasses.replace(profile, alarm={"on": "4A", "off": "4B"})
    meter = make_meter(vendor)
    driver = Dlt645Driver(vendor, now=lambda: NOW)
    with line_to(vendor, {ADDRESS: meter}) as (link, frames):
        driver.show_alarm(link, ADDRESS, True)
        assert meter.alarm_on
    request = next(f.data for f in frames if f.direction == "tx")
    assert request[4 + 10 + 8] == (0x4A + 0x33) & 0xFF  # N1, after the header and PA..C3
    assert request[-2] == sum(request[4:-2]) % 256


def test_a_meter_that_refuses_says_why(profile: Profile) -> None:
    meter = make_meter(profile)
    wrong = dataclasses.replace(profile, options={**profile.options, "password": "02654321"})
    refused = pytest.raises(CommandRefused, match="refused the alarm command alarm on")
    with line_to(profile, {ADDRESS: meter}) as (link, _frames), refused as info:
        Dlt645Driver(wrong).show_alarm(link, ADDRESS, True)
    assert "password" in str(info.value)
    assert not meter.alarm_on


def test_a_profile_without_an_alarm_table_sends_nothing(profile: Profile) -> None:
    silent = dataclasses.replace(profile, alarm=None)
    meter = make_meter(profile)
    refused = pytest.raises(CommandRefused, match=r"has no \[alarm\] table")
    with line_to(profile, {ADDRESS: meter}) as (link, frames), refused:
        Dlt645Driver(silent).show_alarm(link, ADDRESS, True)
    assert frames == []


def test_the_bus_worker_runs_it_and_reports_the_acknowledgement(profile: Profile) -> None:
    meter = make_meter(profile)
    with worker_on(profile, meter) as worker:
        result = worker.show_alarm(ADDRESS, True).result(timeout=30)
        assert result.acknowledged
        assert (result.requested_on, result.attempts, result.error) == (True, 1, "")
        assert meter.alarm_on
        result = worker.show_alarm(ADDRESS, False).result(timeout=30)
        assert result.acknowledged
        assert not meter.alarm_on


def test_the_bus_worker_reports_a_dead_meter_after_its_retries(profile: Profile) -> None:
    meter = make_meter(profile, SimFaults(dead=True))
    with worker_on(profile, meter, retries=2) as worker:
        result = worker.show_alarm(ADDRESS, True).result(timeout=30)
        counters = worker.stats.meter(ADDRESS)
    assert not result.acknowledged
    assert result.attempts == 3
    assert result.error.startswith("no reply within")
    assert counters.timeouts == 3  # each attempt counted on the meter like any wire fault
    assert counters.last_error == result.error


def test_the_bus_worker_does_not_retry_a_refusal(profile: Profile) -> None:
    meter = make_meter(profile)
    encrypted = dataclasses.replace(
        profile, options={**profile.options, "relay_commands": "encrypted"}
    )
    with worker_on(encrypted, dataclasses.replace(meter, profile=encrypted)) as worker:
        result = worker.show_alarm(ADDRESS, True).result(timeout=30)
    assert not result.acknowledged
    assert result.attempts == 1
    assert "encrypted" in result.error
