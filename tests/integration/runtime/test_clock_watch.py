"""The clock-drift alarm: raised beyond two minutes either way, one per meter while it lasts,
kept between the clear and raise limits, cleared once the clock is close again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.demo.site import DemoSpec, seed_demo_site
from app.hardware.bus_worker import PollPolicy
from app.runtime.clock_watch import clock_drift_s, record_clock
from app.runtime.runtime import Runtime, RuntimeOptions
from app.store.database import Database
from app.store.models import Alarm, Meter
from app.vocabulary import AlarmKind, AlarmSeverity, AlarmState
from tests.support import wait_for

SHANGHAI = ZoneInfo("Asia/Shanghai")  # the demo site's zone


def test_drift_is_meter_minus_console_in_the_site_zone() -> None:
    read_at = datetime(2026, 11, 28, 2, 0, 0, tzinfo=UTC)  # 10:00 in Shanghai
    assert clock_drift_s(datetime(2026, 11, 28, 10, 0, 30), read_at, SHANGHAI) == 30.0
    assert clock_drift_s(datetime(2026, 11, 28, 9, 58, 0), read_at, SHANGHAI) == -120.0
    with pytest.raises(ValueError, match="naive"):
        clock_drift_s(datetime(2026, 11, 28, 10, 0, tzinfo=SHANGHAI), read_at, SHANGHAI)


def test_alarm_raised_kept_and_cleared(db: Database) -> None:
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=2))
    with db.session() as session:
        meter_id = session.scalars(select(Meter.id).order_by(Meter.id)).first()
    assert meter_id is not None
    read_at = datetime.now(UTC).replace(microsecond=0)
    console = read_at.astimezone(SHANGHAI).replace(tzinfo=None)

    def read(offset_s: float) -> list[Alarm]:
        with db.transaction() as session:
            drift = record_clock(session, meter_id, console + timedelta(seconds=offset_s), read_at)
            assert drift == offset_s
        with db.session() as session:
            return list(
                session.scalars(
                    select(Alarm)
                    .where(Alarm.meter_id == meter_id, Alarm.kind == AlarmKind.CLOCK_DRIFT)
                    .order_by(Alarm.id)
                )
            )

    assert read(10) == []
    assert read(-119) == []
    [alarm] = read(300)
    assert alarm.state is AlarmState.ACTIVE
    assert alarm.severity is AlarmSeverity.WARNING
    assert "5 min ahead of" in alarm.message
    assert alarm.evidence is not None
    assert alarm.evidence["drift_s"] == 300
    [alarm] = read(420)  # still the one alarm, its evidence follows the newest reading
    assert alarm.evidence is not None
    assert alarm.evidence["drift_s"] == 420
    assert "7 min ahead of" in alarm.message
    [alarm] = read(60)  # between the limits: kept
    assert alarm.state is AlarmState.ACTIVE
    [alarm] = read(5)  # synced: cleared
    assert alarm.state is AlarmState.CLEARED
    assert alarm.cleared_at is not None
    alarms = read(-3 * 3600)
    assert len(alarms) == 2
    assert alarms[-1].state is AlarmState.ACTIVE
    assert "3.0 h behind" in alarms[-1].message


def test_runtime_round_reads_clocks_and_raises_for_the_one_off(db: Database) -> None:
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=4))
    runtime = Runtime(
        db,
        RuntimeOptions(poll=PollPolicy(cycle_pause_s=0.5), policy_tick_s=3600, clock_check_s=3600),
    )
    runtime.start()
    try:
        assert runtime.sim is not None
        keeping = [
            (worker, meter)
            for worker in runtime.workers
            for meter in worker.meters
            if meter.profile.keeps_clock
        ]
        assert len(keeping) >= 2
        worker, off = keeping[0]
        simulated = runtime.sim.meter(worker.url, off.address)
        simulated.set_clock(simulated.clock_now() + timedelta(minutes=10))

        def drift_alarms() -> list[Alarm]:
            with db.session() as session:
                return list(
                    session.scalars(select(Alarm).where(Alarm.kind == AlarmKind.CLOCK_DRIFT))
                )

        # The simulated meters keep the site's time (Asia/Shanghai), as real ones would: only
        # the meter set ten minutes ahead is reported.
        assert runtime.clocks.run_round() == len(keeping)
        wait_for(lambda: len(drift_alarms()) == 1, "the drift alarm was raised")
        [alarm] = drift_alarms()
        assert alarm.meter_id == off.meter_id
        assert alarm.evidence is not None
        assert 590 <= float(str(alarm.evidence["drift_s"])) <= 610
        simulated.set_clock(simulated.clock_now() - timedelta(minutes=10))
        runtime.clocks.run_round()
        wait_for(
            lambda: drift_alarms()[0].state is AlarmState.CLEARED, "the drift alarm was cleared"
        )
    finally:
        runtime.stop()
