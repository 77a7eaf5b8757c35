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
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import wait as wait_futures
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.hardware.bus_worker import READ_PRIORITY, BusMeter, BusWorker
from app.hardware.errors import FieldFault
from app.hardware.link import Link
from app.runtime.health_days import keep_drift
from app.runtime.supply_control import local_zone, meter_alarm
from app.store.models import Alarm, Meter
from app.vocabulary import AlarmKind, AlarmSeverity, AlarmState

log = logging.getLogger(__name__)

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
    """Engine thread: store what a clock read showed (the day's worst drift in the meter's
    poll health); raise or clear the drift alarm. Returns the drift in seconds."""
    zone = local_zone(session)
    drift = clock_drift_s(meter_time, read_at, zone)
    keep_drift(session, meter_id, read_at.astimezone(zone).date(), drift)
    open_alarms = list(
        session.scalars(
            select(Alarm).where(
                Alarm.meter_id == meter_id,
                Alarm.kind == AlarmKind.CLOCK_DRIFT,
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
            session, meter, AlarmKind.CLOCK_DRIFT, what, evidence, read_at, AlarmSeverity.WARNING
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
        "Sync its clock (Meter detail, Sync clock)."
    )


READ_WAIT_S = 30.0  # a bus that does not answer a clock read in this time is passed over

EngineCall = Callable[[Callable[[Session], object]], None]


class ClockRounds:
    """Own thread: every ``every_s`` (the first time ``first_s`` after ``start``) read the clock
    of every clock-keeping meter and hand each result to the engine (``record_clock``).

    Reads go through each bus worker's queue at poll priority, one meter per bus at a time (the
    buses in parallel), so a round never holds a line's polling up for long. A meter that does
    not answer is skipped; its poll counters already tell that story.
    """

    def __init__(
        self,
        workers: Callable[[], Sequence[BusWorker]],
        engine_call: EngineCall,
        *,
        every_s: float = CLOCK_CHECK_S,
        first_s: float = FIRST_CHECK_S,
    ) -> None:
        self._workers = workers
        self._engine_call = engine_call
        self.every_s = every_s
        self.first_s = first_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0
        self.reads = 0  # clocks read and handed to the engine

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="clock rounds", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=READ_WAIT_S)

    def _run(self) -> None:
        wait_s = self.first_s
        while not self._stop.wait(wait_s):
            try:
                self.run_round()
            except Exception:  # a round must never end the watch
                log.exception("clock round failed")
            wait_s = self.every_s

    def run_round(self) -> int:
        """Read every clock once (any thread but a bus worker's); returns how many were read."""
        queues = [
            (worker, [m for m in worker.meters if m.profile.keeps_clock])
            for worker in self._workers()
            if worker.alive
        ]
        read = 0
        step = 0
        while not self._stop.is_set():
            batch: list[tuple[BusMeter, Future[tuple[datetime | None, datetime]]]] = [
                (meters[step], worker.call(_reader(worker, meters[step]), READ_PRIORITY))
                for worker, meters in queues
                if step < len(meters)
            ]
            if not batch:
                break
            wait_futures([f for _m, f in batch], timeout=READ_WAIT_S)
            for meter, future in batch:
                if not future.done() or future.exception() is not None:
                    continue
                meter_time, read_at = future.result()
                if meter_time is None:
                    continue
                self._engine_call(_recorder(meter.meter_id, meter_time, read_at))
                read += 1
            step += 1
        self.rounds += 1
        self.reads += read
        log.info("clock round %d: %d meter clocks read", self.rounds, read)
        return read


def _reader(
    worker: BusWorker, meter: BusMeter
) -> Callable[[Link], tuple[datetime | None, datetime]]:
    def read(link: Link) -> tuple[datetime | None, datetime]:
        try:
            meter_time = worker.driver_for(meter.profile).read_clock(link, meter.address)
        except FieldFault as exc:
            log.debug("meter %s: clock not read: %s", meter.address, exc)
            return None, datetime.now().astimezone()
        return meter_time, datetime.now().astimezone()

    return read


def _recorder(
    meter_id: int, meter_time: datetime, read_at: datetime
) -> Callable[[Session], object]:
    return lambda session: record_clock(session, meter_id, meter_time, read_at)
