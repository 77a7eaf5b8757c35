"""What a simulated room draws: its appliances and their duty by hour, the odd heater, water
draws; and the same model summed over whole hours, for a demo site's past readings.

``SimMeter`` steps this model in simulated time; ``past_usage`` gives what a room of the same
model typically used in each of a run of past hours, so a demo's stored history and its live
meters tell one story.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

# Four DL/T 645 rates (sharp, peak, flat, valley) by hour of the simulated day.
RATE_OF_HOUR = (3, 3, 3, 3, 3, 3, 3, 3, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 1, 0, 0, 1, 3, 3)
RATE_SHARES = (0.08, 0.32, 0.35, 0.25)  # a register's split over the rates, when unknown
HEATER_RATE_PER_H = 0.03  # chance per hour that a heater is switched on
HEATER_W = (800.0, 2000.0)
HEATER_S = (300.0, 1200.0)
FLOW_LPS = (0.05, 0.2)  # a water draw: litres per second, for ...
FLOW_S = (60.0, 600.0)  # ... this long


@dataclass
class Appliance:
    name: str
    power_w: float
    power_factor: float
    duty: float  # share of time on, at an ordinary hour
    mean_on_s: float  # how long it stays on when switched on
    evening_boost: float = 1.0  # duty multiplier from 18:00 to 23:00
    on: bool = False


def room_appliances(rng: random.Random) -> list[Appliance]:
    """A dormitory room: fridge, lights, laptops, a fan; heaters come and go separately."""
    return [
        Appliance("fridge", rng.uniform(70, 120), 0.78, 0.35, 900),
        Appliance("lights", rng.uniform(20, 60), 0.92, 0.25, 3600, evening_boost=3.0),
        Appliance("laptops", rng.uniform(40, 150), 0.95, 0.35, 5400, evening_boost=2.0),
        Appliance("fan", rng.uniform(30, 60), 0.85, 0.15, 2400),
        Appliance("water dispenser", rng.uniform(400, 550), 0.98, 0.03, 240),
    ]


def is_evening(hour: int) -> bool:
    return 18 <= hour < 23


def duty_at(appliance: Appliance, hour: int) -> float:
    """The share of time ``appliance`` is on at local ``hour``: more in the evening, less at
    night (but the fridge)."""
    duty = appliance.duty * (appliance.evening_boost if is_evening(hour) else 1.0)
    night = hour < 7 and appliance.name != "fridge"
    return min(0.95, duty * (0.3 if night else 1.0))


def seconds_between_draws(hour: int) -> float:
    """Mean time between water draws (shower, tap, stove) at local ``hour``."""
    return 900.0 if is_evening(hour) else 3600.0


def past_usage(key: str, utility: str, hours: Sequence[int]) -> list[float]:
    """What a room of this model used in each past hour whose local hour of day is listed in
    ``hours``: Wh for electricity, litres for water or gas. Drawn from a generator seeded with
    ``key``, so a meter's past is the same every time it is made."""
    rng = random.Random(f"past:{key}")
    if utility == "electricity":
        appliances = room_appliances(rng)
        typical = [sum(a.power_w * duty_at(a, h) for a in appliances) for h in range(24)]
        used = []
        for hour in hours:
            wh = typical[hour] * rng.uniform(0.6, 1.4)
            if rng.random() < HEATER_RATE_PER_H:
                wh += rng.uniform(*HEATER_W) * rng.uniform(*HEATER_S) / 3600
            used.append(wh)
        return used
    used = []
    for hour in hours:
        # A new draw only starts once the last one has ended.
        draws = _poisson(rng, 3600.0 / (seconds_between_draws(hour) + sum(FLOW_S) / 2))
        used.append(sum(rng.uniform(*FLOW_LPS) * rng.uniform(*FLOW_S) for _ in range(draws)))
    return used


def _poisson(rng: random.Random, mean: float) -> int:
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
