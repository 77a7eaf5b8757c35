"""``app.hardware.bus_scan``: which way a scan goes, its progress and cancel, in memory."""

from __future__ import annotations

import threading

from app.hardware.bus_scan import scan_line
from app.hardware.dlt645 import SPEC as DLT645
from app.hardware.dlt645.driver import Dlt645Driver
from app.hardware.modbus import SPEC as MODBUS
from app.hardware.modbus.driver import ModbusDriver
from app.hardware.profiles import load_profile
from app.hardware.simulator.sim_meter import SimMeter
from tests.unit.hardware.answer_loop import loop

SERIALS = [f"2308150000{n:02d}" for n in range(1, 31)]


def test_a_modbus_scan_without_addresses_asks_every_unit_id() -> None:
    profile = load_profile("eastron-sdm120")
    meters = {a: SimMeter(a, profile, seed=1, reply_delay_s=0.0) for a in ("5", "247")}
    link, port = loop(MODBUS, meters)
    progress: list[tuple[int, int]] = []
    hits = scan_line(ModbusDriver(profile), link, None, lambda d, t, _h: progress.append((d, t)))
    assert [h.address for h in hits] == ["5", "247"]
    assert progress == [(n, 247) for n in range(1, 248)]
    assert len(port.requests) == 247  # one request an address: the register read is the probe
    assert all(h.unit == "kWh" and h.register is not None and h.serial is None for h in hits)


def test_an_address_range_reports_progress_with_the_hits_so_far() -> None:
    profile = load_profile("dlt645-2007")
    meters = {a: SimMeter(a, profile, seed=1, reply_delay_s=0.0) for a in SERIALS[:2]}
    link, _ = loop(DLT645, meters)
    seen: list[tuple[int, int, int]] = []
    wanted = [*SERIALS[:2], "000000000009"]
    hits = scan_line(
        Dlt645Driver(profile), link, wanted, lambda d, t, h: seen.append((d, t, len(h)))
    )
    assert [h.address for h in hits] == SERIALS[:2]
    assert seen == [(1, 3, 1), (2, 3, 2), (3, 3, 2)]


def test_cancel_stops_a_search_between_branches_with_what_was_found() -> None:
    profile = load_profile("dlt645-2007")
    meters = {a: SimMeter(a, profile, seed=1, reply_delay_s=0.0) for a in SERIALS}
    link, _ = loop(DLT645, meters)
    cancel = threading.Event()
    seen: list[tuple[int, int, int]] = []

    def progress(done: int, total: int, hits: list[object]) -> None:
        seen.append((done, total, len(hits)))
        if len(hits) >= 5:
            cancel.set()

    hits = scan_line(Dlt645Driver(profile), link, None, progress, cancel)
    assert 5 <= len(hits) < len(SERIALS)
    assert all(h.ok for h in hits)
    assert seen[-1][0] < seen[-1][1]  # branches were still waiting
    assert [h.address for h in hits] == sorted(h.address for h in hits)
