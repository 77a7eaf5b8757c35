"""A demo site's past: hourly interval readings of every meter over the last days, so the
history bars, the overview's energy of today and a meter's recent readings have something to
show the moment the demo opens.

Each hour's usage comes from the simulator's room model (``past_usage``), and each meter's
registers count up to its last stored reading, from which the runtime's simulated meter carries
on live. Billing starts from a meter's latest reading, so this past is shown, never charged.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.hardware.profiles import load_profile
from app.hardware.simulator.room_load import RATE_OF_HOUR, RATE_SHARES, past_usage
from app.services.usage_days import add_readings
from app.store.models import IntervalReading, Meter
from app.vocabulary import MeterStatus, ReadingQuality, Utility

DEMO_HISTORY_DAYS = 7
RATE_REGISTER = "energy_rate_1_kwh"  # a profile that reads this has the four rate registers
# The demo's meters count in 0.01 kWh or 0.01 m3: a stored register finer than that would be
# read back lower by the live meter that carries on from it, and held as going backwards.
REGISTER_STEP = 10  # Wh or litres


def _step_down(units: float) -> int:
    return int(units // REGISTER_STEP) * REGISTER_STEP


def seed_demo_history(session: Session, zone: ZoneInfo, now: datetime, days: int) -> int:
    """Store a reading on every hour of the last ``days`` days up to ``now`` (rounded down to
    the hour) for each meter in service; returns how many readings were stored."""
    if days <= 0:
        return 0
    # On a local hour, stepped back in UTC: arithmetic on local times would skip or repeat an
    # hour where the clocks change.
    end = now.astimezone(zone).replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    times = [end - timedelta(hours=h) for h in range(days * 24, -1, -1)]
    local_hours = [t.astimezone(zone).hour for t in times[:-1]]
    has_rates: dict[str, bool] = {}
    rows: list[dict[str, object]] = []
    readings: list[tuple[int, datetime, int]] = []  # the same, for the daily rollup
    meters = session.execute(
        select(Meter.id, Meter.serial, Meter.utility, Meter.profile).where(
            Meter.status == MeterStatus.ACTIVE
        )
    )
    for meter_id, serial, utility, profile in meters:
        if profile not in has_rates:
            has_rates[profile] = RATE_REGISTER in load_profile(profile).values
        start = random.Random(f"start:{serial}")
        electricity = utility is Utility.ELECTRICITY
        register = start.uniform(150, 3000) * 1000 if electricity else start.uniform(5, 400) * 1000
        rates = [register * share for share in RATE_SHARES] if has_rates[profile] else None
        used = past_usage(serial, utility.value, local_hours)
        for index, at in enumerate(times):
            if index:
                register += used[index - 1]
                if rates is not None:
                    rates[RATE_OF_HOUR[local_hours[index - 1]]] += used[index - 1]
            readings.append((meter_id, at, _step_down(register)))
            rows.append(
                {
                    "meter_id": meter_id,
                    "read_at": at,
                    "register_units": readings[-1][2],
                    "rate_registers": None if rates is None else [_step_down(r) for r in rates],
                    "quality": ReadingQuality.GOOD,
                }
            )
    if rows:
        session.execute(insert(IntervalReading), rows)
        # The daily rollup the energy report reads, as the engine would have added to it.
        add_readings(session, readings)
    return len(rows)
