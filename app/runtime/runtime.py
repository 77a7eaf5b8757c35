"""Wires the field side at run time: a bus worker per line, the engine, simulated lines for
``sim://`` buses. The GUI and ``main.py serve`` run the same Runtime."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from app.hardware.bus_worker import BusMeter, BusWorker, PollPolicy
from app.hardware.errors import ProfileError
from app.hardware.link import LineSettings
from app.hardware.profiles import load_profile
from app.runtime.engine import Engine
from app.runtime.sim_site import SimMeterSpec, SimSite, sim_line_name
from app.services.field_setup import BusSetup, load_field_setup
from app.store.database import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RuntimeOptions:
    simulate: bool = True  # serve sim:// buses with simulated meters
    time_scale: float = 1.0
    poll: PollPolicy = field(default_factory=lambda: PollPolicy(cycle_pause_s=1.0))
    interval_s: int = 900


class Runtime:
    def __init__(self, db: Database, options: RuntimeOptions | None = None) -> None:
        self.db = db
        self.options = options or RuntimeOptions()
        self.engine = Engine(db, interval_s=self.options.interval_s)
        self.workers: list[BusWorker] = []
        self.sim: SimSite | None = None
        self.problems: list[str] = []  # buses or meters that could not be set up

    def start(self) -> None:
        setup = load_field_setup(self.db)
        if self.options.simulate:
            specs = [
                SimMeterSpec(bus.url, m.profile, m.address)
                for bus in setup
                if sim_line_name(bus.url)
                for m in bus.meters
            ]
            self.sim = SimSite(specs, scale=self.options.time_scale)
        self.engine.start()
        for bus in setup:
            worker = self._worker(bus)
            if worker is not None:
                self.workers.append(worker)
                worker.start()
        log.info(
            "runtime started: %d buses, %d meters",
            len(self.workers),
            sum(len(w.meters) for w in self.workers),
        )

    def _worker(self, bus: BusSetup) -> BusWorker | None:
        meters: list[BusMeter] = []
        for meter in bus.meters:
            try:
                meters.append(BusMeter(meter.meter_id, meter.address, load_profile(meter.profile)))
            except ProfileError as exc:
                self.problems.append(f"bus {bus.name}, meter {meter.address}: {exc}")
        if not meters:
            return None
        settings = LineSettings(
            bus.baudrate, bus.bytesize, bus.parity, bus.stopbits, bus.timeout_ms / 1000
        )
        return BusWorker(
            bus.name, bus.url, settings, meters, self.engine.submit, policy=self.options.poll
        )

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.engine.stop()
        if self.sim is not None:
            self.sim.close()
        log.info("runtime stopped")
