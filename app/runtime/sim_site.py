"""Simulated meters for every ``sim://`` bus of a site, so the demo runs live with no hardware.

For each bus whose URL is ``sim://NAME`` a ``SimLine`` is registered under NAME with one
simulated meter per meter row on that bus (same profile and address). All share one
``SimClock``, so a time scale makes a day pass in minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from app.hardware.errors import ProfileError
from app.hardware.profiles import load_profile
from app.hardware.protocols import protocol_spec
from app.hardware.simulator.faults import Answerer
from app.hardware.simulator.sim_line import SimLine, register_line, unregister_line
from app.hardware.simulator.sim_meter import SimClock, SimMeter
from app.runtime.reading_store import StoredReading


@dataclass(frozen=True)
class SimMeterSpec:
    bus_url: str
    profile: str
    address: str
    register: float | None = None  # last stored reading (kWh or m3): the meter counts on
    rates: tuple[float, ...] | None = None  # its four rate registers (kWh), when stored


def sim_spec(bus_url: str, profile: str, address: str, last: StoredReading | None) -> SimMeterSpec:
    """A simulated meter that counts on from ``last``, the meter's last stored reading."""
    if last is None:
        return SimMeterSpec(bus_url, profile, address)
    rates = None
    if last.rates and len(last.rates) == 4:
        rates = tuple(last.rates[f"rate_{n}"] / 1000 for n in range(1, 5))
    return SimMeterSpec(bus_url, profile, address, last.units / 1000, rates)


def sim_line_name(url: str) -> str | None:
    if not url.lower().startswith("sim://"):
        return None
    parts = urlsplit(url)
    return parts.netloc or parts.path.lstrip("/")


class SimSite:
    """The simulated lines of one site; ``close`` unregisters them."""

    def __init__(
        self,
        meters: list[SimMeterSpec],
        *,
        scale: float = 1.0,
        seed: int = 0,
        zone: ZoneInfo | None = None,
    ) -> None:
        # The meters keep the site's local time (``zone``; else this computer's).
        start = None if zone is None else datetime.now(zone).replace(tzinfo=None, microsecond=0)
        self.clock = SimClock(scale=scale, start=start)
        self.seed = seed
        self.lines: dict[str, SimLine] = {}
        self._meters: dict[str, dict[str, dict[str, SimMeter]]] = {}  # line, protocol, address
        self.update(meters)

    def update(self, meters: list[SimMeterSpec]) -> None:
        """Serve these meters on their lines: a line named here is built again with exactly
        these meters (one already simulated keeps its state: its register counts on); a meter
        whose profile cannot be loaded is left out, as the bus worker leaves it out. Call it
        while no bus worker has the line open (the runtime restarts that bus's worker)."""
        by_line: dict[str, dict[str, dict[str, SimMeter]]] = {}
        for spec in meters:
            name = sim_line_name(spec.bus_url)
            if name is None:
                continue
            try:
                profile = load_profile(spec.profile)
            except ProfileError:
                continue  # not simulated: the bus worker names the meter it cannot set up
            per_protocol = by_line.setdefault(name, {}).setdefault(profile.protocol, {})
            known = self._meters.get(name, {}).get(profile.protocol, {}).get(spec.address)
            if known is not None and known.profile.name == profile.name:
                per_protocol[spec.address] = known
                continue
            meter = SimMeter(spec.address, profile, clock=self.clock, seed=self.seed, lived_in=True)
            if spec.register is not None:
                meter.continue_from(spec.register, spec.rates)
            per_protocol[spec.address] = meter
        for name, protocols in by_line.items():
            answerers = [
                Answerer(protocol_spec(p), m, seed=self.seed) for p, m in protocols.items()
            ]
            if name in self.lines:
                unregister_line(name)
            self.lines[name] = register_line(SimLine(name, answerers))
            self._meters[name] = protocols

    def meter(self, bus_url: str, address: str) -> SimMeter:
        name = sim_line_name(bus_url)
        if name is None or name not in self.lines:
            raise KeyError(f"{bus_url} is not a simulated line of this site")
        return self.lines[name].meter(address)

    def close(self) -> None:
        for name in self.lines:
            unregister_line(name)
        self.lines.clear()
