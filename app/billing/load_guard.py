"""Console-side load guard ("malignant load" detection, DOMAIN.md section 3).

For meters without built-in detection the engine feeds each meter's polled power and power factor
to one :class:`LoadGuard`, which answers with events: :class:`Alarm`, :class:`Trip`,
:class:`AutoRestoreDue` and :class:`LockedOut`. The engine turns a trip into a cut command, an
auto-restore into a close command, and logs every event with its evidence. Pure and synchronous:
the caller passes monotonic sample times (seconds) and the site-local day; nothing here reads a
clock. One guard belongs to one meter and is used from one thread (the engine's).

Rules and the choices behind them:

Total-power mode
    A *run* starts at the first sample whose power is above ``total_limit_w`` (strictly) and ends
    at the first sample at or below it. When a sample of the run is ``total_duration_s`` or more
    after the run's first sample, the mode fires, once per run. (The guard only sees polled
    samples, so "longer than the duration" is measured from sample to sample: with a 5 s poll a
    10 s duration fires on the third sample above the limit, at 10 s.) ``total_duration_s = 0``
    fires on the first sample above the limit. Evidence: ``delta_power_w`` is the excess over the
    limit, ``window_s`` the time the run has lasted.

Increment (new power) mode
    A step is measured between the current sample and a *baseline*: the lowest-power sample among
    the previous sample and every earlier sample not older than ``step_window_s`` before the
    current one (so a load that comes on across two polls is seen as one step; with
    ``step_window_s = 0`` only consecutive samples are compared). ``delta_power_w`` is the current
    power minus the baseline's (to 1 mW). The step falls in the band with ``low_w <= ΔP <
    high_w``; bands may not overlap and a step outside every band is ignored (below the first:
    noise; above the last: total-power mode's job). A step in an uncontrolled band never fires
    (white list). A step in a controlled band fires when the *step's* power factor, rounded to
    the meters' resolution of 0.001, is at or above ``pf_threshold``.
    The step's PF is the PF of the added load, derived from both samples: each sample's reactive
    power is estimated as ``Q = P·√(1-PF²)/PF`` (PF magnitude, reactive power taken as the same
    sign in both, PF below 0.1 treated as 0.1 so that a near-idle reading cannot blow Q up), and
    ``PF_step = ΔP / √(ΔP² + ΔQ²)``. When the circuit was idle before the step this equals the
    line PF; when a heater joins a running motor it is the heater's PF, not the mixture's (the line
    PF of the mixture would hide the heater, and a laptop added to a heater would look resistive).
    A sample without PF cannot prove a load resistive: such a step does not fire. The evidence
    keeps both the step's PF (``power_factor``) and the line PF (``line_power_factor``).
    After a step fires, the current sample becomes the only history, so one step fires once.
    The very first sample a guard sees is a baseline, never a step.

Alarm or trip
    A mode set to ``alarm`` produces :class:`Alarm` events and leaves supply alone; ``trip``
    produces one :class:`Trip` (if both modes trip on one sample, the increment evidence is kept:
    it names the appliance's band). Alarms of the other mode on the same sample come first.

While tripped or locked out
    Supply is off: samples are not evaluated (their ~0 W never counts as a step down or up). A
    trip with fewer than ``max_auto_restores_per_day`` automatic restores made on the trip's
    local day gets one: :class:`AutoRestoreDue` is returned by the first feed at or after
    ``restore_delay_s`` past the trip (the reaction is bounded by the poll cycle), and that
    restore is counted on the local day of that feed. A trip when the day's allowance is used up
    returns :class:`Trip` and :class:`LockedOut` together and stays locked out until
    :meth:`LoadGuard.operator_restore`, whatever day it is. The daily count restarts at the first
    feed with a new ``local_day``; an operator's restore does not reset it (so after a lock-out the
    next trip that day locks out again at once: the operator has already been called out).

After a restore (automatic, operator's, or any return of supply the caller reports)
    The room's ordinary loads come back together, which would look like one big step. The guard
    therefore measures the first step after a restore from the *reference load*: the baseline in
    force just before the trip (or before supply went off). Legitimate loads that return give
    ΔP ≈ 0 and do not fire; a heater still plugged in comes back as the same ΔP that tripped it
    and trips again - which is how a plugged-in heater reaches lock-out after N restores. Samples
    at or below ``idle_w`` after a restore are taken as "supply not back yet" (the close command
    may still be on its way) and skipped until one shows power or reports ``supply_on=True``. A
    total-power run starts afresh after a restore.

Supply switched off by others
    A sample with ``supply_on=False`` (relay read back open: an arrears cut, an operator's cut) is
    not evaluated; the guard keeps the load before the cut as the reference for the return of
    supply, exactly as after its own trip. With ``supply_on=None`` the guard only knows about its
    own trips.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

MAX_BANDS = 6
PF_THRESHOLD_MAX = 0.997
PF_RESOLUTION_DIGITS = 3  # meters report PF to 0.001; thresholds are set to 0.001
_MIN_PF_FOR_Q = 0.1


class GuardMode(StrEnum):
    OFF = "off"
    ALARM = "alarm"  # raise an alarm, leave supply on
    TRIP = "trip"  # cut supply


class DetectionMode(StrEnum):
    TOTAL_POWER = "total_power"
    INCREMENT = "increment"


class GuardState(StrEnum):
    ARMED = "armed"
    TRIPPED = "tripped"  # supply cut, an automatic restore will follow
    LOCKED_OUT = "locked_out"  # supply cut until an operator restores it


def _finite(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}.")
    return float(value)


def _mode(value: object, name: str) -> GuardMode:
    if isinstance(value, str) and value in set(GuardMode):
        return GuardMode(value)
    raise ValueError(f"{name} is {value!r}; use 'off', 'alarm' or 'trip'.")


@dataclass(frozen=True, slots=True)
class PowerBand:
    """A band of step sizes ``[low_w, high_w)``; ``controlled=False`` makes it a white list."""

    low_w: float
    high_w: float
    controlled: bool = True

    def __post_init__(self) -> None:
        low = _finite(self.low_w, "low_w")
        high = _finite(self.high_w, "high_w")
        object.__setattr__(self, "low_w", low)  # frozen: normalise ints to float in place
        object.__setattr__(self, "high_w", high)
        if low < 0:
            raise ValueError(f"low_w is {low:g} W; a band starts at 0 W or above.")
        if high <= low:
            raise ValueError(f"high_w {high:g} W must be above low_w {low:g} W.")
        if not isinstance(self.controlled, bool):
            raise ValueError(f"controlled must be True or False, got {self.controlled!r}.")

    def contains(self, delta_power_w: float) -> bool:
        return self.low_w <= delta_power_w < self.high_w

    def __str__(self) -> str:
        kind = "controlled" if self.controlled else "white-listed"
        return f"{self.low_w:g}-{self.high_w:g} W {kind}"


@dataclass(frozen=True, slots=True)
class LoadGuardParams:
    """A building's load-guard settings; ValueError with a clear message when unusable.

    ``bands`` may be given as ``PowerBand`` objects or ``(low_w, high_w, controlled)`` tuples,
    modes as their strings. Times are seconds, powers watts. ``step_window_s``: how far back the
    increment baseline may reach; ``idle_w``: power at or below which a circuit that was just
    restored is taken as still dark (see the module docstring).
    """

    total_mode: GuardMode = GuardMode.OFF
    total_limit_w: float = 0.0
    total_duration_s: float = 0.0
    increment_mode: GuardMode = GuardMode.OFF
    bands: tuple[PowerBand, ...] = ()
    pf_threshold: float = 0.9
    step_window_s: float = 3.0
    restore_delay_s: float = 60.0
    max_auto_restores_per_day: int = 3
    idle_w: float = 5.0

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # normalise in place: the dataclass is frozen
        set_(self, "total_mode", _mode(self.total_mode, "total_mode"))
        set_(self, "increment_mode", _mode(self.increment_mode, "increment_mode"))
        set_(self, "bands", _bands(self.bands))
        for name in (
            "total_limit_w",
            "total_duration_s",
            "pf_threshold",
            "step_window_s",
            "restore_delay_s",
            "idle_w",
        ):
            set_(self, name, _finite(getattr(self, name), name))
        if self.total_mode is not GuardMode.OFF and self.total_limit_w <= 0:
            raise ValueError(
                f"total_limit_w is {self.total_limit_w:g} W; total-power mode "
                f"'{self.total_mode}' needs a limit above 0 W (or set the mode to 'off')."
            )
        for name in ("total_duration_s", "step_window_s", "restore_delay_s", "idle_w"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} is {getattr(self, name):g}; it cannot be negative.")
        if not 0.0 <= self.pf_threshold <= PF_THRESHOLD_MAX:
            raise ValueError(
                f"pf_threshold is {self.pf_threshold:g}; use a power factor from 0.000 to "
                f"{PF_THRESHOLD_MAX:.3f}."
            )
        if self.increment_mode is not GuardMode.OFF and not any(b.controlled for b in self.bands):
            raise ValueError(
                f"increment mode is '{self.increment_mode}' but no band is controlled; add a "
                "controlled band or set the mode to 'off'."
            )
        count = self.max_auto_restores_per_day
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(
                f"max_auto_restores_per_day is {count!r}; give a whole number, 0 or more "
                "(typically 3 to 5; 0 locks out on the first trip)."
            )

    @property
    def enabled(self) -> bool:
        """Whether any detection is on."""
        return self.total_mode is not GuardMode.OFF or self.increment_mode is not GuardMode.OFF


def _bands(raw: object) -> tuple[PowerBand, ...]:
    if not isinstance(raw, Iterable) or isinstance(raw, str):
        raise ValueError(f"bands must be a list of (low_w, high_w, controlled), got {raw!r}.")
    bands: list[PowerBand] = []
    for index, item in enumerate(raw):
        if isinstance(item, PowerBand):
            bands.append(item)
            continue
        if not isinstance(item, Sequence) or isinstance(item, str) or len(item) != 3:
            raise ValueError(
                f"bands[{index}] is {item!r}; write it as (low_w, high_w, controlled), "
                "like (800, 3000, True)."
            )
        try:
            bands.append(PowerBand(item[0], item[1], item[2]))
        except ValueError as exc:
            raise ValueError(f"bands[{index}]: {exc}") from None
    if len(bands) > MAX_BANDS:
        raise ValueError(f"{len(bands)} bands given; a meter has at most {MAX_BANDS}.")
    order = sorted(range(len(bands)), key=lambda i: bands[i].low_w)
    for left, right in itertools.pairwise(order):
        if bands[right].low_w < bands[left].high_w:
            raise ValueError(
                f"bands[{left}] ({bands[left]}) and bands[{right}] ({bands[right]}) overlap; "
                "a step must fall in one band only."
            )
    return tuple(bands)


@dataclass(frozen=True, slots=True)
class Sample:
    """One polled reading: monotonic ``time_s``, ``power_w``, ``power_factor`` (None when the
    meter does not report it; a sign, if the meter gives one, is ignored) and, when the caller
    knows it, whether supply is on (relay read back closed)."""

    time_s: float
    power_w: float
    power_factor: float | None = None
    supply_on: bool | None = None

    def __post_init__(self) -> None:
        _finite(self.time_s, "time_s")
        _finite(self.power_w, "power_w")
        if self.power_factor is not None:
            pf = _finite(self.power_factor, "power_factor")
            if abs(pf) > 1.0:
                raise ValueError(f"power_factor {pf:g} is outside -1..1; hold this reading.")


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a detection saw, for the log and for settling disputes.

    ``power_w``: line power of the sample that fired. ``delta_power_w``: the step (increment
    mode) or the excess over the limit (total-power mode). ``power_factor``: the PF compared
    with the threshold (the step's PF in increment mode, the line PF in total-power mode);
    ``line_power_factor`` the sample's own. ``band_index`` is the 0-based position in
    ``LoadGuardParams.bands`` (None for total power). ``window_s``: the time the step was measured
    over (baseline sample to this one) or the time the power has been above the limit.
    The settings in force are copied in (``band``, ``limit_w``, ``pf_threshold``) so a later
    change of settings does not change the record.
    """

    mode: DetectionMode
    time_s: float
    power_w: float
    delta_power_w: float
    power_factor: float | None
    line_power_factor: float | None
    band_index: int | None
    window_s: float
    baseline_power_w: float
    band: PowerBand | None = None
    limit_w: float | None = None
    pf_threshold: float | None = None

    def describe(self) -> str:
        """One line for the alarm list and the audit trail."""
        line_pf = _pf_text(self.line_power_factor)
        if self.mode is DetectionMode.TOTAL_POWER:
            return (
                f"total power {self.power_w:.0f} W above the limit {self.limit_w or 0:.0f} W "
                f"by {self.delta_power_w:.0f} W for {self.window_s:.1f} s, PF {line_pf}"
            )
        return (
            f"new load +{self.delta_power_w:.0f} W ({self.baseline_power_w:.0f} W to "
            f"{self.power_w:.0f} W over {self.window_s:.1f} s) in band {self.band_index} "
            f"({self.band}), step PF {_pf_text(self.power_factor)} >= "
            f"{_pf_text(self.pf_threshold)}, line PF {line_pf}"
        )


def _pf_text(pf: float | None) -> str:
    return "n/a" if pf is None else f"{pf:.3f}"


@dataclass(frozen=True, slots=True)
class Alarm:
    """A detection in a mode set to 'alarm': tell staff, leave supply on."""

    evidence: Evidence


@dataclass(frozen=True, slots=True)
class Trip:
    """A detection in a mode set to 'trip': cut supply now. ``restore_due_at_s`` is when an
    automatic restore is due, None when this trip locks the circuit out."""

    evidence: Evidence
    restore_due_at_s: float | None


@dataclass(frozen=True, slots=True)
class AutoRestoreDue:
    """Close supply again: the restore delay after a trip has passed. ``restores_today`` counts
    this restore."""

    time_s: float
    due_at_s: float
    restores_today: int
    max_per_day: int


@dataclass(frozen=True, slots=True)
class LockedOut:
    """The trip came after the day's automatic restores were used: only an operator restores."""

    time_s: float
    restores_today: int
    max_per_day: int
    evidence: Evidence


Event = Alarm | Trip | AutoRestoreDue | LockedOut


@dataclass(frozen=True, slots=True)
class _Point:
    time_s: float
    power_w: float
    reactive_var: float | None  # estimated; None when the PF is unknown


def _point(sample: Sample) -> _Point:
    if sample.power_w == 0:
        return _Point(sample.time_s, 0.0, 0.0)
    if sample.power_factor is None:
        return _Point(sample.time_s, sample.power_w, None)
    pf = max(abs(sample.power_factor), _MIN_PF_FOR_Q)
    return _Point(sample.time_s, sample.power_w, abs(sample.power_w) * math.sqrt(1 - pf * pf) / pf)


def step_power_factor(delta_power_w: float, delta_reactive_var: float) -> float:
    """PF of an added load from its active and reactive steps."""
    return delta_power_w / math.hypot(delta_power_w, delta_reactive_var)


@dataclass
class _Run:
    """A stretch of samples above the total-power limit."""

    since_s: float
    reported: bool = False


class LoadGuard:
    """Detection state of one meter. Create one per meter; feed it every polled sample.

    A console restart must not lift a lock-out: pass ``locked_out=True`` (and the day's count
    with its day) when recreating the guard of a locked-out meter.
    """

    def __init__(
        self,
        params: LoadGuardParams,
        *,
        locked_out: bool = False,
        restores_today: int = 0,
        restores_day: date | None = None,
    ) -> None:
        self.params = params
        self.restores_today = restores_today  # automatic restores made on restores_day
        self.restores_day = restores_day
        self._state = GuardState.LOCKED_OUT if locked_out else GuardState.ARMED
        self._history: deque[_Point] = deque()
        self._run: _Run | None = None
        # The load present before the last trip or loss of supply; the first step after supply
        # returns is measured from it.
        self._reference: _Point | None = None
        self._awaiting_supply = False
        self._supply_off = False
        self._tripped_at_s: float | None = None
        self._last_time_s: float | None = None

    @property
    def state(self) -> GuardState:
        return self._state

    @property
    def restore_due_at_s(self) -> float | None:
        """When the pending automatic restore is due (None unless tripped)."""
        if self._state is not GuardState.TRIPPED or self._tripped_at_s is None:
            return None
        return self._tripped_at_s + self.params.restore_delay_s

    def replace_params(self, params: LoadGuardParams) -> None:
        """New settings (a building retuned): trip, lock-out and the day's count are kept; the
        step history and any total-power run start afresh."""
        self.params = params
        self._run = None
        if self._history:
            self._history = deque([self._history[-1]])

    def feed(self, sample: Sample, local_day: date) -> list[Event]:
        """Evaluate one polled sample; ``local_day`` is the site-local date of the sample."""
        self._check_time(sample.time_s)
        if local_day != self.restores_day:
            self.restores_day = local_day
            self.restores_today = 0
        if self._state is GuardState.LOCKED_OUT:
            return []
        if self._state is GuardState.TRIPPED:
            return self._maybe_restore(sample.time_s)
        if sample.supply_on is False:
            self._note_supply_off(sample.time_s)
            return []
        if self._awaiting_supply:
            if sample.power_w <= self.params.idle_w and sample.supply_on is not True:
                self._hold_reference(sample.time_s)
                return []
            self._awaiting_supply = False
            self._supply_off = False
        return self._evaluate(_point(sample), sample)

    def operator_restore(self, now_s: float) -> bool:
        """An operator closed the circuit: lifts a trip or lock-out. The day's count of automatic
        restores is kept. Returns False when there was nothing to restore."""
        self._check_time(now_s)
        if self._state is GuardState.ARMED:
            return False
        self._restart_from_reference(now_s)
        return True

    # -- internals -------------------------------------------------------------------------

    def _check_time(self, time_s: float) -> None:
        _finite(time_s, "time")
        if self._last_time_s is not None and time_s < self._last_time_s:
            raise ValueError(
                f"time went backwards ({time_s:g} s after {self._last_time_s:g} s); "
                "feed monotonic times."
            )
        self._last_time_s = time_s

    def _baseline(self, time_s: float) -> _Point | None:
        if not self._history:
            return None
        oldest = time_s - self.params.step_window_s
        candidates = [p for p in self._history if p.time_s >= oldest]
        candidates.append(self._history[-1])
        # The latest of equally low points: the shortest honest window.
        return min(reversed(candidates), key=lambda p: p.power_w)

    def _note_supply_off(self, time_s: float) -> None:
        if not self._supply_off:
            self._supply_off = True
            self._run = None
            if self._history and not self._awaiting_supply:
                self._reference = self._baseline(self._history[-1].time_s)
        self._awaiting_supply = True
        self._hold_reference(time_s)

    def _hold_reference(self, time_s: float) -> None:
        """While supply is away, the history is the reference load, stamped with the latest
        sample time, so the step on its return is measured from it over one poll interval."""
        if self._reference is None:
            self._history.clear()
        else:
            ref = self._reference
            self._history = deque([_Point(time_s, ref.power_w, ref.reactive_var)])

    def _restart_from_reference(self, time_s: float) -> None:
        self._state = GuardState.ARMED
        self._tripped_at_s = None
        self._run = None
        self._awaiting_supply = True
        if self._reference is None:
            self._reference = _Point(time_s, 0.0, 0.0)
        self._hold_reference(time_s)

    def _maybe_restore(self, time_s: float) -> list[Event]:
        due = self.restore_due_at_s
        if due is None or time_s < due:
            return []
        self.restores_today += 1
        self._restart_from_reference(time_s)
        return [
            AutoRestoreDue(time_s, due, self.restores_today, self.params.max_auto_restores_per_day)
        ]

    def _evaluate(self, point: _Point, sample: Sample) -> list[Event]:
        params = self.params
        baseline = self._baseline(point.time_s)
        increment = self._increment(point, sample, baseline)
        total = self._total(point, sample, baseline)
        if increment is not None:
            self._history = deque([point])
        else:
            self._history.append(point)
            self._prune(point.time_s)

        events: list[Event] = []
        trip: Evidence | None = None
        for evidence, mode in ((total, params.total_mode), (increment, params.increment_mode)):
            if evidence is None:
                continue
            if mode is GuardMode.ALARM:
                events.append(Alarm(evidence))
            elif trip is None or evidence.mode is DetectionMode.INCREMENT:
                trip = evidence
        if trip is None:
            return events

        self._reference = baseline if baseline is not None else _Point(point.time_s, 0.0, 0.0)
        self._run = None
        self._tripped_at_s = point.time_s
        if self.restores_today >= params.max_auto_restores_per_day:
            self._state = GuardState.LOCKED_OUT
            events.append(Trip(trip, None))
            events.append(
                LockedOut(point.time_s, self.restores_today, params.max_auto_restores_per_day, trip)
            )
        else:
            self._state = GuardState.TRIPPED
            events.append(Trip(trip, point.time_s + params.restore_delay_s))
        return events

    def _prune(self, time_s: float) -> None:
        oldest = time_s - self.params.step_window_s
        while len(self._history) > 1 and self._history[0].time_s < oldest:
            self._history.popleft()

    def _increment(self, point: _Point, sample: Sample, baseline: _Point | None) -> Evidence | None:
        params = self.params
        if params.increment_mode is GuardMode.OFF or baseline is None:
            return None
        # Rounded to 1 mW so float noise cannot move a step across a band edge (meters report
        # 0.1 W at best).
        delta = round(point.power_w - baseline.power_w, 3)
        if delta <= 0:
            return None
        found = [i for i, band in enumerate(params.bands) if band.contains(delta)]
        if not found or not params.bands[found[0]].controlled:
            return None
        if point.reactive_var is None or baseline.reactive_var is None:
            return None
        step_pf = round(
            step_power_factor(delta, point.reactive_var - baseline.reactive_var),
            PF_RESOLUTION_DIGITS,
        )
        if step_pf < params.pf_threshold:
            return None
        return Evidence(
            mode=DetectionMode.INCREMENT,
            time_s=point.time_s,
            power_w=point.power_w,
            delta_power_w=delta,
            power_factor=step_pf,
            line_power_factor=sample.power_factor,
            band_index=found[0],
            window_s=point.time_s - baseline.time_s,
            baseline_power_w=baseline.power_w,
            band=params.bands[found[0]],
            pf_threshold=params.pf_threshold,
        )

    def _total(self, point: _Point, sample: Sample, baseline: _Point | None) -> Evidence | None:
        params = self.params
        if params.total_mode is GuardMode.OFF or point.power_w <= params.total_limit_w:
            self._run = None
            return None
        if self._run is None:
            self._run = _Run(point.time_s)
        elapsed = point.time_s - self._run.since_s
        if self._run.reported or elapsed < params.total_duration_s:
            return None
        self._run.reported = True
        return Evidence(
            mode=DetectionMode.TOTAL_POWER,
            time_s=point.time_s,
            power_w=point.power_w,
            delta_power_w=point.power_w - params.total_limit_w,
            power_factor=sample.power_factor,
            line_power_factor=sample.power_factor,
            band_index=None,
            window_s=elapsed,
            baseline_power_w=baseline.power_w if baseline is not None else point.power_w,
            limit_w=params.total_limit_w,
        )
