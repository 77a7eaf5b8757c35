"""What one poll of one meter saw. Values in SI units with explicit names; absent is None."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

# Keys of a FAILED snapshot's ``status`` set by the bus worker: the worker now counts the meter
# offline; the meter's line was down (its port could not be opened), so the meter was not asked.
OFFLINE = "offline"
LINE_DOWN = "line_down"


class Quality(StrEnum):
    GOOD = "good"  # every requested value was read
    PARTIAL = "partial"  # some requests failed; the values that came are good
    FAILED = "failed"  # nothing came back (the meter counts a failed poll)


# The value names a profile may map, and what the Snapshot holds. One source of truth.
VALUE_FIELDS = (
    "voltage_v",
    "current_a",
    "power_w",
    "power_factor",
    "energy_import_kwh",
    "energy_rate_1_kwh",
    "energy_rate_2_kwh",
    "energy_rate_3_kwh",
    "energy_rate_4_kwh",
    "volume_m3",
    "balance",
    "frequency_hz",
)


@dataclass(frozen=True, slots=True)
class Snapshot:
    meter_id: int
    address: str
    monotonic_s: float
    wall_time: datetime
    quality: Quality
    voltage_v: float | None = None
    current_a: float | None = None
    power_w: float | None = None
    power_factor: float | None = None
    energy_import_kwh: float | None = None
    energy_rate_1_kwh: float | None = None
    energy_rate_2_kwh: float | None = None
    energy_rate_3_kwh: float | None = None
    energy_rate_4_kwh: float | None = None
    volume_m3: float | None = None
    balance: float | None = None  # meter-side prepaid balance, currency units
    frequency_hz: float | None = None
    relay_closed: bool | None = None  # electricity: supply on
    valve_open: bool | None = None  # water and gas: supply on
    status: dict[str, object] = field(default_factory=dict)  # meter status words, decoded
    error: str = ""  # what went wrong when quality is not GOOD

    def values(self) -> dict[str, object]:
        """The measured values by name (None included), for JSON output."""
        out: dict[str, object] = {name: getattr(self, name) for name in VALUE_FIELDS}
        out["relay_closed"] = self.relay_closed
        out["valve_open"] = self.valve_open
        return out
