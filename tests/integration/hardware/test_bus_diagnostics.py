"""A technician's tests through a bus worker on a simulated Modbus line (``sim://``): raw
register reads and writes, faults as results, the line check, ad-hoc relay tests, and the
worker's generic ``call``."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from app.hardware import bus_diagnostics as diag
from app.hardware.bus_worker import BusMeter, BusWorker, PollPolicy
from app.hardware.modbus import SPEC
from app.hardware.profiles import Profile, load_profile
from app.hardware.simulator.faults import Answerer
from app.hardware.simulator.sim_line import SimLine, register_line, unregister_line
from app.hardware.simulator.sim_meter import SimClock, SimMeter

WAIT_S = 30.0


@pytest.fixture
def profile() -> Profile:
    return load_profile("acrel-ddsy1352")


@pytest.fixture
def meters(profile: Profile) -> dict[str, SimMeter]:
    return {
        a: SimMeter(a, profile, clock=SimClock(scale=0.0), seed=int(a), reply_delay_s=0.0)
        for a in ("1", "2")
    }


@pytest.fixture
def worker(profile: Profile, meters: dict[str, SimMeter]) -> Iterator[BusWorker]:
    register_line(SimLine("diag-modbus", [Answerer(SPEC, meters)]))
    line = profile.line.__class__(9600, 8, "N", 1, 0.1)
    bus = BusWorker(
        "diag",
        "sim://diag-modbus",
        line,
        [BusMeter(1, "1", profile)],
        lambda _snapshot: None,
        policy=PollPolicy(retries=0),
        poll=False,
    )
    bus.start()
    yield bus
    bus.stop()
    unregister_line("diag-modbus")
    assert not bus.alive


def test_raw_read_shows_registers_and_the_profile_values_in_them(
    worker: BusWorker, profile: Profile, meters: dict[str, SimMeter]
) -> None:
    result = diag.read_registers(worker, profile, "1", 3, 0x000B, 6).result(WAIT_S)
    assert result.ok, result.error
    assert result.request == "unit 1 FC03 0x000B+6"
    assert len(result.data.split()) == 6
    voltage = meters["1"].state().voltage_v
    assert f"voltage_v = {voltage:g}" in result.decoded
    assert "power_factor = " in result.decoded
    tx = [f for f in worker.stats.frames() if f.direction == "tx"]
    assert tx[-1].note == "diagnostics read"


def test_raw_write_is_read_back(
    worker: BusWorker, profile: Profile, meters: dict[str, SimMeter]
) -> None:
    result = diag.write_registers(worker, profile, "1", 16, 0x0057, (1, 1)).result(WAIT_S)
    assert result.ok, result.error
    assert result.data == "0001 0001"
    assert result.decoded == "written; reads back [1, 1] (matches)"
    assert meters["1"].supply_on is False


def test_an_exception_reply_and_a_silent_address_are_results_not_errors(
    worker: BusWorker, profile: Profile
) -> None:
    refused = diag.read_registers(worker, profile, "1", 3, 0x9000, 2).result(WAIT_S)
    assert not refused.ok
    assert "illegal data address (exception 02)" in refused.error
    silent = diag.read_registers(worker, profile, "9", 3, 0, 1).result(WAIT_S)
    assert not silent.ok
    assert "no reply" in silent.error
    counters = {c.address: c for c in worker.stats.counters()}
    assert counters["1"].exceptions == 1
    assert counters["9"].timeouts == 1
    with pytest.raises(ValueError, match="not a DL/T 645 profile"):
        diag.read_di(worker, profile, "1", 0x00010000).result(WAIT_S)


def test_line_check_counts_who_answered(worker: BusWorker, profile: Profile) -> None:
    meters = [BusMeter(0, a, profile) for a in ("1", "2", "9")]
    check = diag.check_line(worker, meters).result(WAIT_S)
    assert check.asked == 3
    assert check.answered == ("1", "2")
    assert check.timeouts == 1
    assert check.problems == ("9: no reply within 100 ms",)
    counters = {c.address: c for c in worker.stats.counters()}
    assert counters["2"].good_polls == 1
    assert counters["2"].p50_ms is not None
    assert counters["9"].timeouts == 1
    assert counters["9"].failed_polls == 1


def test_line_check_tells_a_refusing_device_from_a_silent_one(worker: BusWorker) -> None:
    other = load_profile("eastron-sdm120")  # FC04 at 0x0000: the Acrel simulator refuses it
    check = diag.check_line(worker, [BusMeter(0, "1", other)]).result(WAIT_S)
    assert check.answered == ()
    assert check.exceptions == 1
    assert check.timeouts == 0
    assert "answered, but not as a eastron-sdm120 meter" in check.problems[0]


def test_relay_test_of_an_address_the_worker_does_not_poll(
    worker: BusWorker, profile: Profile, meters: dict[str, SimMeter]
) -> None:
    with pytest.raises(KeyError):
        worker.switch_supply("2", False)
    result = worker.switch_supply("2", False, profile).result(WAIT_S)
    assert result.verified
    assert result.supply_on is False
    assert meters["2"].supply_on is False


def test_a_modbus_meter_without_a_clock_says_so(worker: BusWorker, profile: Profile) -> None:
    (drift,) = diag.sync_clocks(worker, [BusMeter(0, "1", profile)], broadcast=False).result(WAIT_S)
    assert drift.before_s is None
    assert drift.after_s is None
    assert drift.error == "acrel-ddsy1352 meters keep no clock"


def test_call_runs_on_the_worker_thread_and_survives_errors(worker: BusWorker) -> None:
    assert worker.call(lambda _link: threading.current_thread().name).result(WAIT_S) == "bus diag"

    def broken(_link: object) -> None:
        raise ValueError("bad request")

    with pytest.raises(ValueError, match="bad request"):
        worker.call(broken).result(WAIT_S)
    assert worker.call(lambda link: link.settings.baudrate).result(WAIT_S) == 9600
    assert worker.alive


def test_frames_since_returns_only_what_is_new(worker: BusWorker, profile: Profile) -> None:
    frames, total = worker.stats.frames_since(0)
    assert frames == []
    assert total == 0
    diag.read_registers(worker, profile, "1", 3, 0, 2).result(WAIT_S)
    frames, total = worker.stats.frames_since(0)
    assert [f.direction for f in frames] == ["tx", "rx"]
    assert total == 2
    diag.read_registers(worker, profile, "1", 3, 0, 2).result(WAIT_S)
    newer, total = worker.stats.frames_since(2)
    assert len(newer) == 2
    assert total == 4
    assert worker.stats.frames_since(total) == ([], 4)
