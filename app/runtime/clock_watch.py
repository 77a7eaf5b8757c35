"""Meter clocks: how far each meter's clock is from the console's, and the clock-drift alarm.

A meter keeps site-local wall time without a zone (its time-of-use registers switch by it). The
runtime reads every clock-keeping meter's clock now and then (``CLOCK_CHECK_S``) and records
the drift here, on the engine thread: ``meter clock - console clock`` in seconds, the console's
clock taken in the site's zone at the moment of the read. A drift beyond ``DRIFT_ALARM_S`` either
way raises a warning (one per meter while it lasts; its evidence and message follow the newest
reading); back within ``DRIFT_CLEAR_S`` (after a time sync from the diagnostics dialog, say) it
is cleared. The gap between the two keeps a clock that hovers around the limit from flapping.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.runtime.supply_control import local_zone, meter_alarm
from app.store.models import Alarm, Meter
from app.vocabulary import AlarmSeverity, AlarmState

log = logging.getLogger(__name__)

CLOCK_DRIFT_KIND = "clock_drift"
DRIFT_ALARM_S = 120.0  # two minutes off: time-of-use bands start at the wrong moment
DRIFT_CLEAR_S = 30.0
CLOCK_CHECK_S = 6 * 3600.0  # how often every meter's clock is read
FIRST_CHECK_S = 60.0  # the first round, after start


def clock_drift_s(meter_time: datetime, read_at: datetime, zone: ZoneInfo) -> float:
    """Seconds the meter's clock (naive, site-local) is ahead (+) or behind (-) the console's
    clock at ``read_at`` (aware)."""
    if meter_time.tzinfo is not None:
        raise ValueError("a meter's clock is naive site-local time")
    console = read_at.astimezone(zone).replace(tzinfo=None)
    return (meter_time - console).total_seconds()


def record_clock(session: Session, meter_id: int, meter_time: datetime, read_at: datetime) -> float:
    """Engine thread: store what a clock read showed; raise or clear the drift alarm. Returns
    the drift in seconds."""
    drift = clock_drift_s(meter_time, read_at, local_zone(session))
    open_alarms = list(
        session.scalars(
            select(Alarm).where(
                Alarm.meter_id == meter_id,
                Alarm.kind == CLOCK_DRIFT_KIND,
                Alarm.state != AlarmState.CLEARED,
            )
        )
    )
    evidence: dict[str, object] = {
        "drift_s": round(drift, 1),
        "meter_time": meter_time.isoformat(),
        "console_time": read_at.astimezone(local_zone(session))
        .replace(tzinfo=None)
        .isoformat(timespec="seconds"),
        "limit_s": DRIFT_ALARM_S,
    }
    what = _describe(drift)
    if abs(drift) > DRIFT_ALARM_S:
        if open_alarms:
            for alarm in open_alarms:
                alarm.evidence = evidence
                meter = session.get_one(Meter, meter_id)
                alarm.message = f"Meter {meter.serial}: {what}"
            return drift
        meter = session.get_one(Meter, meter_id)
        meter_alarm(
            session, meter, CLOCK_DRIFT_KIND, what, evidence, read_at, AlarmSeverity.WARNING
        )
        log.info("meter %s: %s", meter.serial, what)
    elif abs(drift) <= DRIFT_CLEAR_S:
        for alarm in open_alarms:
            alarm.state = AlarmState.CLEARED
            alarm.cleared_at = read_at
    return drift


def _describe(drift: float) -> str:
    way = "ahead of" if drift > 0 else "behind"
    amount = abs(drift)
    if amount >= 3600:
        size = f"{amount / 3600:.1f} h"
    elif amount >= 120:
        size = f"{amount / 60:.0f} min"
    else:
        size = f"{amount:.0f} s"
    return (
        f"its clock is {size} {way} the console's; time-of-use bands switch at the wrong time. "
        "Sync its clock (Diagnostics, Time sync)."
    )
