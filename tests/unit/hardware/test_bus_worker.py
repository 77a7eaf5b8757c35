"""The bus worker: round-robin polling, faults counted and survived, commands first."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from app.hardware.bus_worker import BusMeter, BusWorker, PollPolicy
from app.hardware.profiles import load_profile
from app.hardware.protocols import protocol_spec
from app.hardware.simulator.faults import Answerer
from app.hardware.simulator.sim_line import SimLine, register_line, unregister_line
from app.hardware.simulator.sim_meter import SimFaults, SimMeter
from app.hardware.snapshot import Quality, Snapshot
from tests.unit.hardware.toy_protocol import SPEC, ToyResponder, toy_profile

ADDRESSES = ["1", "2", "3", "4"]


class Harness:
    def __init__(self, faults: dict[str, SimFaults] | None = None) -> None:
        self.profile = toy_profile()
        self.meters = {
            a: SimMeter(a, self.profile, seed=3, faults=(faults or {}).get(a, SimFaults()))
            for a in ADDRESSES
        }
        self.answerer = Answerer(SPEC, self.meters, seed=5)
        register_line(SimLine("worker-line", [self.answerer]))
        self.snapshots: list[Snapshot] = []
        self.lock = threading.Lock()
        self.worker = BusWorker(
            "test",
            "sim://worker-line",
            self.profile.line,
            [BusMeter(i, a, self.profile) for i, a in enumerate(ADDRESSES)],
            self.collect,
            policy=PollPolicy(retries=1, offline_after=3, offline_probe_s=3600),
        )

    def collect(self, snapshot: Snapshot) -> None:
        with self.lock:
            self.snapshots.append(snapshot)

    def wait_for(self, condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError("condition not reached")
            time.sleep(0.01)

    def polled(self, address: str, quality: Quality | None = None) -> list[Snapshot]:
        with self.lock:
            return [
                s
                for s in self.snapshots
                if s.address == address and (quality is None or s.quality is quality)
            ]


@pytest.fixture
def harness() -> Iterator[Harness]:
    made: list[Harness] = []

    def make(**kwargs) -> Harness:  # type: ignore[no-untyped-def]
        h = Harness(**kwargs)
        made.append(h)
        h.worker.start()
        return h

    yield make  # type: ignore[misc]
    for h in made:
        h.worker.stop()
        assert not h.worker.alive, "the bus thread must end when stopped"
    unregister_line("worker-line")


def test_every_meter_is_polled_round_robin_with_its_values(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness()
    h.wait_for(lambda: all(len(h.polled(a, Quality.GOOD)) >= 2 for a in ADDRESSES))
    for address in ADDRESSES:
        snap = h.polled(address, Quality.GOOD)[-1]
        assert snap.power_w is not None
        assert snap.power_w >= 0
        assert snap.relay_closed is True
        assert snap.valve_open is None
        assert snap.voltage_v is None  # not read by this profile: None, never 0
    counters = {c.address: c for c in h.worker.stats.counters()}
    assert all(counters[a].online for a in ADDRESSES)
    assert all(counters[a].p50_ms is not None for a in ADDRESSES)
    assert h.worker.stats.frames(address="2")[0].direction == "tx"


def test_a_dead_meter_goes_offline_and_the_others_keep_being_polled(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness(faults={"3": SimFaults(dead=True)})
    h.wait_for(lambda: {c.address: c for c in h.worker.stats.counters()}["3"].online is False)
    before = {a: len(h.polled(a, Quality.GOOD)) for a in ("1", "2", "4")}
    failed_polls = len(h.polled("3", Quality.FAILED))
    h.wait_for(lambda: all(len(h.polled(a, Quality.GOOD)) > before[a] + 3 for a in before))
    assert len(h.polled("3", Quality.FAILED)) == failed_polls  # not polled while offline
    dead = {c.address: c for c in h.worker.stats.counters()}["3"]
    assert dead.timeouts >= 3 * 2  # every failed poll was retried once
    assert h.worker.stats.counters()[0].address == "3"  # the failing meter comes first
    assert h.polled("3", Quality.FAILED)[-1].error.startswith("no reply")


def test_corrupt_replies_are_counted_as_crc_errors_and_retried(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness(faults={"2": SimFaults(corrupt=0.5)})

    def meter_2():  # type: ignore[no-untyped-def]
        return {c.address: c for c in h.worker.stats.counters()}["2"]

    h.wait_for(lambda: meter_2().crc_errors >= 3 and len(h.polled("2", Quality.GOOD)) >= 5)
    assert meter_2().online is True
    assert meter_2().requests > meter_2().polls  # the broken replies were asked again


def test_a_supply_command_is_verified_by_read_back(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness()
    result = h.worker.switch_supply("4", False).result(10)
    assert result.verified
    assert result.supply_on is False
    assert h.meters["4"].supply_on is False
    assert h.meters["4"].state().power_w == 0
    h.wait_for(lambda: any(s.relay_closed is False for s in h.polled("4", Quality.GOOD)))
    assert h.worker.switch_supply("4", True).result(10).verified


def test_a_refused_command_is_reported_not_retried(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness()
    responder = h.answerer.responder
    assert isinstance(responder, ToyResponder)
    responder.refuse_switching = True
    result = h.worker.switch_supply("1", False).result(10)
    assert not result.verified
    assert result.attempts == 1
    assert "said no" in result.error
    assert h.meters["1"].supply_on is True


def test_commands_jump_ahead_of_polls(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness()
    h.wait_for(lambda: len(h.snapshots) >= 4)
    with h.lock:
        polls_before = len(h.snapshots)
    h.worker.switch_supply("1", False).result(10)
    with h.lock:
        polls_between = len(h.snapshots) - polls_before
    assert polls_between <= 1  # at most the poll already on the wire finished first


def test_a_line_with_ten_percent_bad_replies_keeps_every_meter_polled(harness) -> None:  # type: ignore[no-untyped-def]
    noisy = SimFaults(no_reply=0.05, corrupt=0.05)
    h = harness(faults=dict.fromkeys(ADDRESSES, noisy))
    h.wait_for(lambda: all(len(h.polled(a, Quality.GOOD)) >= 15 for a in ADDRESSES), 30)
    counters = h.worker.stats.counters()
    assert sum(c.timeouts for c in counters) > 0
    assert sum(c.crc_errors for c in counters) > 0
    assert all(c.online for c in counters)


def dlt645_line(
    name: str, addresses: list[str], policy: PollPolicy
) -> tuple[dict[str, SimMeter], list[Snapshot], BusWorker]:
    """DL/T 645 meters on a fast ``sim://`` line named ``name`` and a worker polling them
    (not started), collecting its snapshots. The caller unregisters the line."""
    profile = load_profile("dlt645-2007")
    meters = {a: SimMeter(a, profile, seed=1, reply_delay_s=0.0) for a in addresses}
    register_line(SimLine(name, [Answerer(protocol_spec(profile.protocol), meters)]))
    snapshots: list[Snapshot] = []
    worker = BusWorker(
        name,
        f"sim://{name}",
        replace(profile.line, baudrate=115200),
        [BusMeter(i, a, profile) for i, a in enumerate(addresses)],
        snapshots.append,
        policy=policy,
    )
    return meters, snapshots, worker


def test_the_relay_state_is_read_now_and_then_and_at_once_when_the_load_drops() -> None:
    """Relay state costs a request a poll (DL/T 645): it is read on every ``supply_every``th
    poll, and at once when a meter last seen on shows no load (it opened by itself)."""
    addresses = ["000000000001", "000000000002"]
    meters, snapshots, worker = dlt645_line(
        "supply-line", addresses, PollPolicy(slow_every=1000, supply_every=1000)
    )
    for meter in meters.values():
        meter.switch_on_heater(1500.0, 0.99, 3600)
    worker.start()
    try:

        def polls(address: str) -> list[Snapshot]:
            return [s for s in list(snapshots) if s.address == address]

        deadline = time.monotonic() + 10
        while min(len(polls(a)) for a in addresses) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        first, *later = polls(addresses[1])
        assert first.relay_closed is True  # the first poll reads everything
        assert later
        assert all(s.relay_closed is None for s in later)  # then not every time
        meters[addresses[0]].set_supply(False)  # the meter opens its relay by itself
        deadline = time.monotonic() + 10
        while not any(s.relay_closed is False for s in polls(addresses[0])):
            assert time.monotonic() < deadline, "the opened relay was not noticed"
            time.sleep(0.01)
        opened = next(s for s in polls(addresses[0]) if s.relay_closed is False)
        assert opened.power_w == 0.0
    finally:
        worker.stop()
        unregister_line("supply-line")
    status_reads = [
        f for f in worker.stats.frames(address=addresses[1]) if "run status word 3" in f.note
    ]
    assert len(status_reads) == 1  # a meter under load: its state read on the first poll only


def test_the_meters_take_turns_for_the_slow_reads() -> None:
    """Every meter reads everything on its first poll; after it, one meter in five reads its
    slow values (energy) in each round of the bus, each in its turn."""
    addresses = [f"00000000000{n}" for n in range(1, 6)]
    _meters, snapshots, worker = dlt645_line(
        "turns-line", addresses, PollPolicy(slow_every=5, supply_every=1000)
    )
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while min(sum(s.address == a for s in list(snapshots)) for a in addresses) < 6:
            assert time.monotonic() < deadline, "the bus did not go round six times"
            time.sleep(0.01)
    finally:
        worker.stop()
        unregister_line("turns-line")
    rounds = [
        {
            a
            for a in addresses
            if [s for s in snapshots if s.address == a][n].energy_import_kwh is not None
        }
        for n in range(6)
    ]
    assert rounds[0] == set(addresses)  # the first poll reads everything
    assert all(len(r) == 1 for r in rounds[1:])  # then one meter a round ...
    assert set().union(*rounds[1:]) == set(addresses)  # ... each in its turn
