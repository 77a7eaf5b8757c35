"""Finding every meter on a line with ``BusWorker.scan``: DL/T 645 and CJ/T 188 meters whose
replies to wildcard requests collide, on a ``sim://`` line and on a real pseudo-terminal pair
served by our simulator (``tests.support.simulated_line``). Times are never asserted."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import pytest

from app.hardware.bus_worker import BusWorker, ScanHit
from app.hardware.discovery import colliding_branches
from app.hardware.link import LineSettings, Link
from app.hardware.profiles import Profile, load_profile
from app.hardware.protocols import protocol_spec
from app.hardware.simulator.faults import Answerer
from app.hardware.simulator.sim_line import SimLine, register_line, unregister_line
from app.hardware.simulator.sim_meter import SimMeter
from tests.support import simulated_line

# Fast lines: the simulated meters answer at once, so a short timeout only bounds the silence
# of an empty branch of the search (the pty gets more: a thread and a kernel in between).
SIM = LineSettings(baudrate=115200, parity="E", timeout_s=0.1)
PTY = LineSettings(baudrate=115200, parity="N", timeout_s=0.15)
WAIT_S = 300.0

SERIALS = [f"2308150000{n:02d}" for n in range(1, 31)]  # thirty meters of one delivery
DLT645_SETS = {
    1: ["123456789012"],
    3: ["000000000001", "000000000002", "000000000003"],
    4: ["230815000001", "230815000002", "230815000017", "231102000555"],
    30: SERIALS,
}
WATER = ["00000091113480", "00000091113481", "00000091113490"]


@contextmanager
def worker_on(
    transport: str, profile: Profile, meters: Mapping[str, SimMeter]
) -> Iterator[BusWorker]:
    """A non-polling BusWorker on ``meters`` served by our simulator, over ``transport``."""
    spec = protocol_spec(profile.protocol)
    if transport == "sim":
        name = f"scan-{profile.name}-{len(meters)}"
        register_line(SimLine(name, [Answerer(spec, meters)]))
        worker = BusWorker(name, f"sim://{name}", SIM, [], lambda _s: None, poll=False)
        worker.start()
        try:
            yield worker
        finally:
            worker.stop()
            unregister_line(name)
        return
    with simulated_line(spec, meters, PTY) as (link, _server):
        links: list[Link] = [link]
        worker = BusWorker(
            "scan-pty",
            "pty",
            PTY,
            [],
            lambda _s: None,
            poll=False,
            link_factory=lambda: links[0],
        )
        worker.start()
        try:
            yield worker
        finally:
            worker.stop()


def search_requests(worker: BusWorker) -> int:
    return sum(
        1 for f in worker.stats.frames() if f.direction == "tx" and f.note.startswith("read ad")
    )


@pytest.mark.parametrize(
    ("transport", "count"), list(itertools.product(("sim", "pty"), (1, 3, 4, 30)))
)
def test_every_dlt645_meter_is_found_with_its_number_and_energy(transport: str, count: int) -> None:
    profile = load_profile("dlt645-2007")
    addresses = DLT645_SETS[count]
    meters = {a: SimMeter(a, profile, seed=5, reply_delay_s=0.0) for a in addresses}
    meters[addresses[-1]].params["meter_number"] = "990000000042"  # a number of its own
    progress: list[tuple[int, int, int]] = []
    with worker_on(transport, profile, meters) as worker:
        hits = worker.scan(
            profile, None, lambda d, t, found: progress.append((d, t, len(found)))
        ).result(WAIT_S)
        asked = search_requests(worker)
    assert [hit.address for hit in hits] == sorted(addresses)
    for hit in hits:
        assert isinstance(hit, ScanHit)
        assert hit.ok, hit.problem
        assert hit.profile == "dlt645-2007"
        assert hit.model == profile.title
        expected = "990000000042" if hit.address == addresses[-1] else hit.address
        assert hit.serial == expected
        assert hit.unit == "kWh"
        assert hit.energy_kwh is not None
        assert float(hit.energy_kwh) == pytest.approx(
            meters[hit.address].state().energy_import_kwh, abs=0.02
        )
    # Progress: branches settled, one at a time, until all known branches are settled.
    assert [d for d, _, _ in progress] == list(range(1, len(progress) + 1))
    assert progress[-1][0] == progress[-1][1]
    assert progress[-1][2] == count
    # Requests: one per branch (ten per collision), one to confirm each meter.
    assert asked == 1 + 10 * colliding_branches(addresses, 12) + count


@pytest.mark.parametrize("transport", ["sim", "pty"])
def test_three_water_meters_are_found_with_their_volumes(transport: str) -> None:
    profile = load_profile("cjt188-water")
    meters = {a: SimMeter(a, profile, seed=6, reply_delay_s=0.0) for a in WATER}
    with worker_on(transport, profile, meters) as worker:
        hits = worker.scan(profile, None).result(WAIT_S)
    assert [hit.address for hit in hits] == WATER
    for hit in hits:
        assert hit.ok
        assert hit.serial == hit.address  # the address is the meter number
        assert hit.unit == "m3"
        assert hit.volume_m3 is not None
        assert float(hit.volume_m3) == pytest.approx(
            meters[hit.address].state().volume_m3, abs=0.001
        )


def test_a_modbus_range_scan_lists_each_meter_with_its_energy() -> None:
    profile = load_profile("hiking-dds238")
    meters = {a: SimMeter(a, profile, seed=2, reply_delay_s=0.0) for a in ("2", "4")}
    with worker_on("sim", profile, meters) as worker:
        hits = worker.scan(profile, ["1", "2", "3", "4"]).result(WAIT_S)
    assert [hit.address for hit in hits] == ["2", "4"]
    for hit in hits:
        assert hit.serial is None  # the profile declares no serial register
        assert hit.model == profile.title
        assert hit.energy_kwh is not None
        assert float(hit.energy_kwh) == pytest.approx(
            meters[hit.address].state().energy_import_kwh, abs=0.01
        )
