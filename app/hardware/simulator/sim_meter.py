"""A simulated meter with physics: a room's load, energy integrated from power over time, a relay
(or valve) that really cuts the load, a drifting clock, and optional wire faults.

Protocol responders read ``SimMeter.state()`` and encode it in their protocol's frames; they call
``set_supply`` for relay/valve commands. Time runs ``SimClock.scale`` times faster than real time,
so a demo can show a day in minutes.
"""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.hardware.profiles import Profile
from app.hardware.simulator.room_load import (
    FLOW_LPS,
    FLOW_S,
    HEATER_RATE_PER_H,
    HEATER_S,
    HEATER_W,
    RATE_OF_HOUR,
    RATE_SHARES,
    duty_at,
    room_appliances,
    seconds_between_draws,
)

MAX_STEP_S = 30.0  # the load model changes at most this often (simulated seconds)
# At most this many steps per catch-up: a long gap (a large time scale, a meter not asked for
# simulated days) is stepped more coarsely, so one request never costs seconds of CPU (a
# worker busy in one request cannot stop promptly).
MAX_STEPS = 2000


class SimClock:
    """Simulated wall time: starts at ``start`` and runs ``scale`` times faster than real time."""

    def __init__(self, scale: float = 1.0, start: datetime | None = None) -> None:
        self.scale = scale
        # Meters keep site-local wall time without a zone.
        self.start = start or datetime.now().astimezone().replace(tzinfo=None, microsecond=0)
        self._mono0 = time.monotonic()

    def seconds(self) -> float:
        """Simulated seconds since ``start``."""
        return (time.monotonic() - self._mono0) * self.scale

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.seconds())


@dataclass
class SimFaults:
    """Faults the line applies to this meter's replies (checked by the simulated line/server).

    ``SimFaults.parse("no_reply=0.1,corrupt=0.05,slow_ms=200,dead")`` reads the command-line form.
    """

    no_reply: float = 0.0  # probability that a request gets no reply
    corrupt: float = 0.0  # probability that a reply's checksum is broken
    slow_s: float = 0.0  # extra reply delay in seconds
    dead: bool = False  # never answers

    @classmethod
    def parse(cls, text: str) -> SimFaults:
        faults = cls()
        for item in filter(None, (part.strip() for part in text.split(","))):
            key, _, value = item.partition("=")
            try:
                if key in ("no_reply", "corrupt"):
                    number = float(value)
                    if not 0 <= number <= 1:
                        raise ValueError
                    setattr(faults, key, number)
                elif key == "slow_ms":
                    faults.slow_s = int(value) / 1000
                elif key == "dead" and not value:
                    faults.dead = True
                else:
                    raise KeyError(key)
            except ValueError:
                raise ValueError(
                    f"{item!r}: no_reply and corrupt take 0..1, slow_ms milliseconds"
                ) from None
            except KeyError:
                raise ValueError(
                    f"unknown fault {key!r}; use no_reply, corrupt, slow_ms or dead"
                ) from None
        return faults


@dataclass(frozen=True, slots=True)
class SimState:
    voltage_v: float
    current_a: float
    power_w: float
    power_factor: float
    frequency_hz: float
    energy_import_kwh: float
    energy_rate_kwh: tuple[float, float, float, float]  # sharp, peak, flat, valley
    volume_m3: float
    supply_on: bool


@dataclass
class _Heater:
    power_w: float
    power_factor: float
    until_s: float


@dataclass
class SimMeter:
    """One simulated meter. Thread-safe: the simulated line and tests may touch it at once."""

    address: str
    profile: Profile
    clock: SimClock = field(default_factory=SimClock)
    seed: int = 0
    faults: SimFaults = field(default_factory=SimFaults)
    heater_rate_per_h: float = HEATER_RATE_PER_H  # chance per simulated hour of a heater
    clock_drift_s_per_day: float | None = None  # None: a few seconds a day, either way
    reply_delay_s: float | None = None  # None: the profile's typical delay
    # False: every appliance starts off (a test knows the load exactly); True: the room is
    # already lived in, as a demo site's rooms are when the console starts (no hour of warm-up).
    lived_in: bool = False

    def __post_init__(self) -> None:
        self._rng = random.Random(f"{self.seed}:{self.profile.name}:{self.address}")
        self._lock = threading.Lock()
        self._t = self.clock.seconds()
        self._supply_on = True
        self._energy_kwh = round(self._rng.uniform(150, 3000), 2)
        self._rate_kwh = [self._energy_kwh * share for share in RATE_SHARES]
        self._volume_m3 = round(self._rng.uniform(5, 400), 3)
        self._appliances = room_appliances(self._rng)
        self._heater: _Heater | None = None
        self._flow_lps = 0.0
        self._flow_until = 0.0
        self._clock_offset_s = 0.0
        if self.clock_drift_s_per_day is None:
            self.clock_drift_s_per_day = round(self._rng.uniform(-3.0, 3.0), 2)
        self.params: dict[str, object] = {}  # meter-side parameters written by commands
        self._over_s = 0.0  # how long the load has been above a meter-side limit
        self.self_trips = 0  # times the meter opened its relay by itself (meter-side guard)
        self.rated_current_a = self.profile.rated_current_a or 60.0
        if self.lived_in:
            # Each appliance is on with the share of time it is on at this hour (its own
            # generator, so the room's later life is the same either way).
            warm = random.Random(f"warm:{self.seed}:{self.profile.name}:{self.address}")
            hour = (self.clock.start + timedelta(seconds=self._t)).hour
            for appliance in self._appliances:
                appliance.on = warm.random() < duty_at(appliance, hour)

    def continue_from(self, register: float, rates: tuple[float, ...] | None = None) -> None:
        """Carry on from a register already read (kWh, or m3 for water and gas): a simulated
        meter of a restarted console counts on from where it stopped, never backwards."""
        with self._lock:
            if self.profile.utility == "electricity":
                self._energy_kwh = register
                if rates is not None and len(rates) == 4:
                    self._rate_kwh = list(rates)
                else:
                    self._rate_kwh = [register * share for share in RATE_SHARES]
            else:
                self._volume_m3 = register

    # --- what responders call -------------------------------------------------------------

    def state(self) -> SimState:
        with self._lock:
            self._advance(self.clock.seconds())
            p, pf = self._load()
            voltage = 220.0 + 2.0 * math.sin(self._t / 600) - 0.002 * p
            current = p / (voltage * pf) if p > 0 else 0.0
            return SimState(
                voltage_v=round(voltage, 1),
                current_a=round(current, 3),
                power_w=round(p, 1),
                power_factor=round(pf, 3),
                frequency_hz=50.0,
                energy_import_kwh=self._energy_kwh,
                energy_rate_kwh=(
                    self._rate_kwh[0],
                    self._rate_kwh[1],
                    self._rate_kwh[2],
                    self._rate_kwh[3],
                ),
                volume_m3=self._volume_m3,
                supply_on=self._supply_on,
            )

    def set_supply(self, on: bool) -> None:
        with self._lock:
            self._advance(self.clock.seconds())
            self._supply_on = on

    @property
    def supply_on(self) -> bool:
        return self._supply_on

    @property
    def alarm_on(self) -> bool:
        """Is the meter showing its alarm (buzzer, LED) after an alarm command (DL/T 645 1C)?"""
        return bool(self.params.get("alarm", False))

    def clock_now(self) -> datetime:
        """The meter's own clock (site-local, naive), drifting from the simulated time."""
        seconds = self.clock.seconds()
        drift = (self.clock_drift_s_per_day or 0.0) * seconds / 86400
        return (self.clock.now() + timedelta(seconds=drift + self._clock_offset_s)).replace(
            microsecond=0
        )

    def set_clock(self, when: datetime) -> None:
        with self._lock:
            seconds = self.clock.seconds()
            drift = (self.clock_drift_s_per_day or 0.0) * seconds / 86400
            self._clock_offset_s = (when - self.clock.now()).total_seconds() - drift

    def switch_on_heater(
        self, power_w: float = 1500.0, power_factor: float = 0.99, duration_s: float = 900.0
    ) -> None:
        """Plug in a resistive heater now (tests and demos of the load guard)."""
        with self._lock:
            self._advance(self.clock.seconds())
            self._heater = _Heater(power_w, power_factor, self._t + duration_s)

    @property
    def delay_s(self) -> float:
        base = self.profile.reply_delay_s if self.reply_delay_s is None else self.reply_delay_s
        return base + self.faults.slow_s

    # --- physics ----------------------------------------------------------------------------

    def _load(self) -> tuple[float, float]:
        """Active power (W) and power factor of what is switched on now."""
        if not self._supply_on or self.profile.utility != "electricity":
            return 0.0, 1.0
        active = 0.0
        reactive = 0.0
        parts = [(a.power_w, a.power_factor) for a in self._appliances if a.on]
        if self._heater is not None:
            parts.append((self._heater.power_w, self._heater.power_factor))
        for power, pf in parts:
            active += power
            reactive += power * math.tan(math.acos(pf))
        limit = 230.0 * self.rated_current_a
        active = min(active, limit)
        if active <= 0:
            return 0.0, 1.0
        return active, active / math.hypot(active, reactive)

    def _advance(self, now_s: float) -> None:
        longest = max(MAX_STEP_S, (now_s - self._t) / MAX_STEPS)
        while self._t < now_s:
            step = min(longest, now_s - self._t)
            self._integrate(step)
            self._t += step
            self._guard_itself(step)
            self._switch_things(step)

    def _guard_itself(self, dt: float) -> None:
        """A meter with a meter-side load guard (the profile's ``[load_guard]``) opens its own
        relay when the load stays above the limit parameter for the duration parameter."""
        mapping = self.profile.load_guard
        if not mapping or not self._supply_on:
            self._over_s = 0.0
            return
        limit = self.params.get(str(mapping.get("total_limit_w")))
        hold = self.params.get(str(mapping.get("total_duration_s")), 0.0)
        if not isinstance(limit, int | float) or limit <= 0 or not isinstance(hold, int | float):
            return
        if self._load()[0] <= limit:
            self._over_s = 0.0
            return
        self._over_s += dt
        if self._over_s >= hold:
            self._supply_on = False
            self._over_s = 0.0
            self.self_trips += 1

    def _integrate(self, dt: float) -> None:
        if self.profile.utility == "electricity":
            power, _ = self._load()
            kwh = power * dt / 3_600_000
            self._energy_kwh += kwh
            hour = (self.clock.start + timedelta(seconds=self._t)).hour
            self._rate_kwh[RATE_OF_HOUR[hour]] += kwh
        elif self._supply_on and self._t < self._flow_until:
            self._volume_m3 += self._flow_lps * dt / 1000

    def _switch_things(self, dt: float) -> None:
        rng = self._rng
        hour = (self.clock.start + timedelta(seconds=self._t)).hour
        for appliance in self._appliances:
            duty = duty_at(appliance, hour)
            if appliance.on:
                if rng.random() < dt / appliance.mean_on_s:
                    appliance.on = False
            else:
                mean_off = appliance.mean_on_s * (1 - duty) / max(duty, 0.01)
                if rng.random() < dt / mean_off:
                    appliance.on = True
        if self._heater is not None and self._t >= self._heater.until_s:
            self._heater = None
        if self._heater is None and rng.random() < self.heater_rate_per_h * dt / 3600:
            self._heater = _Heater(
                rng.uniform(*HEATER_W), rng.uniform(0.97, 1.0), self._t + rng.uniform(*HEATER_S)
            )
        # Water or gas: a draw (shower, tap, stove) now and then, more in the evening.
        if (
            self.profile.utility != "electricity"
            and self._t >= self._flow_until
            and rng.random() < dt / seconds_between_draws(hour)
        ):
            self._flow_lps = rng.uniform(*FLOW_LPS)
            self._flow_until = self._t + rng.uniform(*FLOW_S)
