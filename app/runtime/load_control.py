"""The console-side load guard at run time: feeds every electricity snapshot to the meter's
``billing.load_guard.LoadGuard`` and carries out what it decides.

Settings come from ``LoadGuardSetting`` (the meter's building, else the site-wide row with no
building); a meter with no settings is not guarded. A trip in trip mode cuts the supply (the
meter then remembers ``off_reason = load_guard``, so the balance policy never restores it) and is
recorded as a ``LoadTrip`` with its evidence and a critical alarm; alarm mode only raises the
alarm. An automatic restore switches the supply back on unless the account is cut off for
arrears meanwhile. A lock-out raises a critical alarm and waits for an operator.

A meter whose profile has a meter-side load guard (``hardware.meter_side_guard``) gets the
total-power limit and duration written to it (read back; a critical alarm if it did not take
them) and watches its total power itself; the console keeps the increment mode for it. When
such a meter opens its relay without a console command, the trip is recorded (mode
``meter_total``, the power and PF last seen) and waits for an operator.
Runs on the engine thread, inside the engine's transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.billing.load_guard import (
    Alarm as GuardAlarm,
)
from app.billing.load_guard import (
    AutoRestoreDue,
    Evidence,
    GuardMode,
    GuardState,
    LoadGuard,
    LoadGuardParams,
    LockedOut,
    Sample,
    Trip,
)
from app.hardware.snapshot import Quality, Snapshot
from app.runtime.supply_control import SupplyControl, local_zone, meter_alarm
from app.services.notices import tell_trip
from app.store.models import Account, LoadGuardSetting, LoadTrip, Meter, Room
from app.vocabulary import AlarmKind, AlarmSeverity, OffReason, SupplyState, Utility

log = logging.getLogger(__name__)


def evidence_json(evidence: Evidence) -> dict[str, object]:
    return {
        "mode": evidence.mode.value,
        "power_w": evidence.power_w,
        "delta_power_w": evidence.delta_power_w,
        "power_factor": evidence.power_factor,
        "line_power_factor": evidence.line_power_factor,
        "band": evidence.band_index,
        "window_s": evidence.window_s,
        "baseline_power_w": evidence.baseline_power_w,
        "limit_w": evidence.limit_w,
        "pf_threshold": evidence.pf_threshold,
        "summary": evidence.describe(),
    }


# meter id -> its profile's meter-side load guard (setting -> parameter name), or None
MeterSide = Callable[[int], Mapping[str, str] | None]
# (meter id, parameter values): write them to the meter, read back, record the outcome
Configure = Callable[[int, dict[str, float]], None]


class LoadControl:
    def __init__(
        self,
        control: SupplyControl,
        *,
        meter_side: MeterSide | None = None,
        configure: Configure | None = None,
    ) -> None:
        self.control = control
        self.meter_side = meter_side
        self.configure = configure
        self.guards: dict[int, LoadGuard | None] = {}  # None: the meter is not guarded
        self.self_guarded: dict[int, LoadGuardParams] = {}  # meters that watch total power
        self._last: dict[int, tuple[bool | None, float, float | None]] = {}  # relay, P, PF
        self._open_trip: dict[int, int] = {}  # meter id -> LoadTrip id awaiting restore
        self._zone: ZoneInfo | None = None  # the site's: the daily restore cap counts its days

    def feed(self, session: Session, snapshots: list[Snapshot]) -> None:
        now = datetime.now(UTC)
        if self._zone is None:
            self._zone = local_zone(session)
        for snapshot in snapshots:
            if snapshot.quality is Quality.FAILED or snapshot.power_w is None:
                continue
            guard = self._guard(session, snapshot.meter_id)
            if snapshot.meter_id in self.self_guarded:
                self._watch_meter_side(session, snapshot, now)
            if guard is None:
                continue
            sample = Sample(
                snapshot.monotonic_s,
                snapshot.power_w,
                snapshot.power_factor,
                supply_on=snapshot.relay_closed,
            )
            for event in guard.feed(sample, snapshot.wall_time.astimezone(self._zone).date()):
                self._handle(session, snapshot.meter_id, guard, event, now)

    @property
    def awaiting_restore(self) -> bool:
        """Any thread: some trip waits for a restore."""
        return bool(self._open_trip)

    def take_up_restores(self, session: Session, seen_s: Callable[[int], float]) -> list[int]:
        """Engine thread: re-arm the guards whose trip an operator restored on another console
        (its row has ``restored_at``; a restore on this one re-arms at once). ``seen_s(meter)``
        is the meter's newest sample time. Returns the meters re-armed."""
        if not self._open_trip:
            return []
        restored = set(
            session.scalars(
                select(LoadTrip.id).where(
                    LoadTrip.id.in_(sorted(self._open_trip.values())),
                    LoadTrip.restored_at.is_not(None),
                )
            )
        )
        rearmed = []
        for meter_id, trip_id in list(self._open_trip.items()):
            if trip_id not in restored:
                continue
            del self._open_trip[meter_id]
            guard = self.guards.get(meter_id)
            if guard is not None and guard.state is not GuardState.ARMED:
                guard.operator_restore(seen_s(meter_id))
                rearmed.append(meter_id)
        return rearmed

    def _guard(self, session: Session, meter_id: int) -> LoadGuard | None:
        if meter_id in self.guards:
            return self.guards[meter_id]
        params = self._params(session, meter_id)
        guard = None if params is None else LoadGuard(self._hand_over(meter_id, params))
        self.guards[meter_id] = guard
        return guard

    def _params(self, session: Session, meter_id: int) -> LoadGuardParams | None:
        """The settings of the meter's building, else the site's; None for a meter that is not
        guarded (not electricity, a building's incomer, no settings, or settings that cannot be
        used). A room's limits on a building's incomer would cut the whole building."""
        row = session.execute(
            select(Meter.utility, Room.building_id, Meter.incomer_building_id)
            .outerjoin(Room, Meter.room_id == Room.id)
            .where(Meter.id == meter_id)
        ).first()
        if row is None or row[0] is not Utility.ELECTRICITY or row[2] is not None:
            return None
        settings = session.scalars(
            select(LoadGuardSetting)
            .where(
                (LoadGuardSetting.building_id == row[1]) | LoadGuardSetting.building_id.is_(None)
            )
            .order_by(LoadGuardSetting.building_id.is_(None))
        ).first()
        if settings is None or not settings.params:
            return None
        try:
            return LoadGuardParams(**settings.params)  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            log.error("load-guard settings %s are unusable: %s", settings.id, exc)
            return None

    def settings_changed(self, session: Session) -> None:
        """Engine thread: load-guard settings (or meters' rooms) changed. Each guard takes its
        new settings and keeps its state (a trip, today's restores); a meter that had none gets
        a guard at its next sample."""
        for meter_id, guard in list(self.guards.items()):
            params = self._params(session, meter_id)
            if guard is None or params is None:
                if guard is None:
                    del self.guards[meter_id]  # looked up again with its next sample
                continue
            self.self_guarded.pop(meter_id, None)
            guard.params = self._hand_over(meter_id, params)

    def _hand_over(self, meter_id: int, params: LoadGuardParams) -> LoadGuardParams:
        """A meter that detects overloads itself gets the total-power settings written to it
        and the console stops watching its total power (the increment mode stays here)."""
        mapping = self.meter_side(meter_id) if self.meter_side is not None else None
        if mapping is None or self.configure is None or params.total_mode is not GuardMode.TRIP:
            return params
        self.configure(
            meter_id,
            {
                mapping["total_limit_w"]: params.total_limit_w,
                mapping["total_duration_s"]: params.total_duration_s,
            },
        )
        self.self_guarded[meter_id] = params
        return replace(params, total_mode=GuardMode.OFF)

    def _watch_meter_side(self, session: Session, snapshot: Snapshot, now: datetime) -> None:
        """The relay of a self-guarding meter opened and the console did not open it: the
        meter tripped on its total power. Record the trip with what was last seen. (Polls read
        the relay state only now and then: the last state read carries over.)"""
        before = self._last.get(snapshot.meter_id)
        relay = snapshot.relay_closed
        if relay is None and before is not None:
            relay = before[0]
        self._last[snapshot.meter_id] = (relay, snapshot.power_w or 0.0, snapshot.power_factor)
        if before is None or before[0] is not True or snapshot.relay_closed is not False:
            return
        meter = session.get_one(Meter, snapshot.meter_id)
        if meter.off_reason is not None:
            return  # cut by the console (arrears, its own trip, an operator)
        params = self.self_guarded[snapshot.meter_id]
        _, power, power_factor = before
        note = (
            f"the meter opened its relay: load above {params.total_limit_w:g} W for "
            f"{params.total_duration_s:g} s (last seen {power:.0f} W)"
        )
        trip = LoadTrip(
            meter_id=meter.id,
            tripped_at=now,
            mode="meter_total",
            power_w=power,
            delta_power_w=max(power - params.total_limit_w, 0.0),
            power_factor=power_factor,
            band=None,
            window_s=params.total_duration_s,
            note=note,
            locked_out=True,  # the meter does not come back by itself: an operator does
        )
        session.add(trip)
        session.flush()
        tell_trip(session, meter, trip.id, power, now)
        meter.off_reason = OffReason.LOAD_GUARD.value
        meter_alarm(
            session,
            meter,
            AlarmKind.LOAD_GUARD_TRIP,
            f"load guard tripped: {note}.",
            {"power_w": power, "power_factor": power_factor, "meter_side": True},
            now,
        )

    def _handle(
        self, session: Session, meter_id: int, guard: LoadGuard, event: object, now: datetime
    ) -> None:
        meter = session.get_one(Meter, meter_id)
        if isinstance(event, Trip):
            trip = LoadTrip(
                meter_id=meter_id,
                tripped_at=now,
                mode=event.evidence.mode.value,
                power_w=event.evidence.power_w,
                delta_power_w=event.evidence.delta_power_w,
                power_factor=event.evidence.power_factor,
                band=event.evidence.band_index,
                window_s=event.evidence.window_s,
                note=event.evidence.describe(),
            )
            session.add(trip)
            session.flush()
            self._open_trip[meter_id] = trip.id
            tell_trip(session, meter, trip.id, event.evidence.power_w, now)
            _alarm(
                session,
                meter,
                AlarmKind.LOAD_GUARD_TRIP,
                AlarmSeverity.CRITICAL,
                f"load guard tripped: {event.evidence.describe()}",
                event.evidence,
                now,
            )
            self.control.command(
                session,
                meter_id,
                False,
                f"Load guard trip: {event.evidence.describe()}",
                now,
                off_reason=OffReason.LOAD_GUARD,
            )
        elif isinstance(event, GuardAlarm):
            _alarm(
                session,
                meter,
                AlarmKind.LOAD_GUARD_ALARM,
                AlarmSeverity.WARNING,
                f"heavy load: {event.evidence.describe()}",
                event.evidence,
                now,
            )
        elif isinstance(event, AutoRestoreDue):
            trip_id = self._open_trip.pop(meter_id, None)
            if trip_id is not None:
                session.get_one(LoadTrip, trip_id).restored_at = now
            if meter.off_reason == OffReason.MANUAL.value:
                return  # an operator cut it meanwhile: only an operator switches it back on
            account = session.get(Account, meter.account_id) if meter.account_id else None
            if account is not None and account.supply_state is SupplyState.CUT_OFF:
                meter.off_reason = OffReason.ARREARS.value  # the balance policy decides now
                return
            self.control.command(
                session,
                meter_id,
                True,
                f"Automatic restore after a load-guard trip "
                f"({event.restores_today} of {event.max_per_day} today)",
                now,
            )
        elif isinstance(event, LockedOut):
            trip_id = self._open_trip.get(meter_id)
            if trip_id is not None:
                session.get_one(LoadTrip, trip_id).locked_out = True
            _alarm(
                session,
                meter,
                AlarmKind.LOAD_GUARD_LOCKOUT,
                AlarmSeverity.CRITICAL,
                f"locked out after {event.restores_today} automatic restores today; an "
                "operator must restore it",
                event.evidence,
                now,
            )


def _alarm(
    session: Session,
    meter: Meter,
    kind: AlarmKind,
    severity: AlarmSeverity,
    what: str,
    evidence: Evidence,
    now: datetime,
) -> None:
    meter_alarm(session, meter, kind, f"{what}.", evidence_json(evidence), now, severity)


def record_parameters(
    session: Session, meter_id: int, wanted: dict[str, float], held: dict[str, float] | str
) -> None:
    """Engine thread: the outcome of writing meter-side load-guard settings. ``held`` is what
    the meter reads back, or the fault that stopped the write."""
    wrong = (
        held
        if isinstance(held, str)
        else ", ".join(
            f"{name} reads {held.get(name)!r} instead of {value:g}"
            for name, value in wanted.items()
            if held.get(name) is None or abs(held[name] - value) > max(1e-6, abs(value) * 0.01)
        )
    )
    if not wrong:
        log.info("meter %s holds its load-guard settings %s", meter_id, wanted)
        return
    meter_alarm(
        session,
        session.get_one(Meter, meter_id),
        AlarmKind.COMMAND_FAILED,
        f"the load-guard settings were not taken ({wrong}); the meter does not guard its "
        "load. Check its line and parameters.",
        {"wanted": dict(wanted), "held": held},
        datetime.now(UTC),
    )
