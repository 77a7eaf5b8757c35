"""Each meter's daily poll health as the bus owner keeps it: the workers' counters added to the
meter's site-local day at each flush (only what is new since the last one), a worker started
again (counting from 0) adding no negative deltas, offline time and counters across local
midnight shared between the two days, the day's worst clock drift kept with its sign, a
rolled-back flush lost nowhere; and a real runtime's counters all in the table after its stop.

Workers are real ``BusWorker`` objects that are never started: the test counts on their
``BusStats`` as their threads would, and moves an injected clock (no sleeps)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.demo.site import DemoSpec, seed_demo_site
from app.hardware.bus_worker import BusMeter, BusWorker
from app.hardware.link import LineSettings
from app.hardware.profiles import load_profile
from app.runtime.clock_watch import record_clock
from app.runtime.health_days import COUNTERS, HealthDays
from app.store.database import Database
from app.store.models import Meter, MeterHealthDay
from tests.integration.runtime.runtime_support import polled_meter, polling
from tests.support import wait_for

ZONE = ZoneInfo("Asia/Shanghai")  # the demo site's
DAY = date(2026, 11, 10)
NEXT = DAY + timedelta(days=1)


class Clock:
    """The present the flushes see, moved by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def set(self, hour: int, minute: int, second: int = 0, day: date = DAY) -> None:
        self.at = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=ZONE)


@pytest.fixture
def meters(db: Database) -> list[BusMeter]:
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=2))
    with db.session() as session:
        rows = session.execute(
            select(Meter.id, Meter.address, Meter.profile).order_by(Meter.id).limit(2)
        ).all()
    return [
        BusMeter(meter_id, address, load_profile(profile)) for meter_id, address, profile in rows
    ]


def worker(meters: list[BusMeter]) -> BusWorker:
    """A bus worker never started: its counters are the test's to move."""
    return BusWorker("bus 1", "sim://health", LineSettings(), meters, lambda _snapshot: None)


def polls(stats_of: BusWorker, address: str, good: int, failed: int = 0, at: float = 0) -> None:
    for _ in range(good):
        stats_of.stats.poll_done(address, True, 12.0, at)
    for _ in range(failed):
        stats_of.stats.count_fault(address, "timeouts", "no answer")
        stats_of.stats.poll_done(address, False, None, at)


def flush(db: Database, health: HealthDays) -> int:
    with db.transaction() as session:
        return health.flush(session)


def days(db: Database, meter_id: int) -> dict[date, dict[str, object]]:
    with db.session() as session:
        return {
            row.day: {
                **{name: getattr(row, name) for name in COUNTERS},
                "offline_s": row.offline_s,
                "drift_s": row.drift_s,
            }
            for row in session.scalars(
                select(MeterHealthDay).where(MeterHealthDay.meter_id == meter_id)
            )
        }


def test_only_what_is_new_since_the_last_flush_is_added(
    db: Database, meters: list[BusMeter]
) -> None:
    clock = Clock(datetime(2026, 11, 10, 10, 0, tzinfo=ZONE))
    bus = worker(meters)
    health = HealthDays(lambda: [bus], clock=clock)
    first, second = meters
    polls(bus, first.address, good=10, failed=2)
    bus.stats.count_fault(first.address, "crc_errors", "bad CRC")
    bus.stats.count_fault(first.address, "frame_errors", "short frame")
    bus.stats.count_fault(first.address, "exceptions", "exception reply 2")
    polls(bus, second.address, good=4)
    clock.set(10, 1)
    assert flush(db, health) == 2
    assert days(db, first.meter_id)[DAY] == {
        "polls": 12,
        "failed_polls": 2,
        "timeouts": 2,
        "crc_errors": 1,
        "frame_errors": 1,
        "exceptions": 1,
        "offline_s": 0,
        "drift_s": None,
    }
    polls(bus, first.address, good=5, failed=1)
    clock.set(10, 2)
    assert flush(db, health) == 1  # the second meter counted nothing new
    row = days(db, first.meter_id)[DAY]
    assert (row["polls"], row["failed_polls"], row["timeouts"]) == (18, 3, 3)
    assert days(db, second.meter_id)[DAY]["polls"] == 4
    clock.set(10, 3)
    assert flush(db, health) == 0
    assert health.flushes == 3


def test_a_flush_rolled_back_is_added_by_the_next(db: Database, meters: list[BusMeter]) -> None:
    clock = Clock(datetime(2026, 11, 10, 10, 0, tzinfo=ZONE))
    bus = worker(meters)
    health = HealthDays(lambda: [bus], clock=clock)
    address, meter_id = meters[0].address, meters[0].meter_id
    polls(bus, address, good=7)
    clock.set(10, 1)

    def failing_batch() -> None:
        with db.transaction() as session:
            health.flush(session)
            raise RuntimeError("the batch failed")  # e.g. a posting of the same batch

    with pytest.raises(RuntimeError, match="the batch failed"):
        failing_batch()
    assert days(db, meter_id) == {}
    polls(bus, address, good=1)
    clock.set(10, 2)
    flush(db, health)
    assert days(db, meter_id)[DAY]["polls"] == 8


def test_a_worker_started_again_adds_no_negative_counts(
    db: Database, meters: list[BusMeter]
) -> None:
    clock = Clock(datetime(2026, 11, 10, 10, 0, tzinfo=ZONE))
    old = worker(meters)
    running = [old]
    health = HealthDays(lambda: running, clock=clock)
    address, meter_id = meters[0].address, meters[0].meter_id
    polls(old, address, good=10, failed=4)
    clock.set(10, 1)
    flush(db, health)
    # The bus is reloaded: the old worker counted 2 more polls before it stopped, the new one
    # counts from 0 (fewer than the old one had).
    polls(old, address, good=2)
    new = worker(meters)
    polls(new, address, good=3)
    running[:] = [new]
    clock.set(10, 2)
    flush(db, health)
    assert days(db, meter_id)[DAY]["polls"] == 14 + 2 + 3
    assert days(db, meter_id)[DAY]["failed_polls"] == 4
    # The old worker was read for the last time (its thread has ended): never again.
    polls(old, address, good=50)
    polls(new, address, good=1)
    clock.set(10, 3)
    flush(db, health)
    assert days(db, meter_id)[DAY]["polls"] == 20
    # Counters that went down on the same worker are a new count from 0, never negative.
    counters = new.stats.meter(address)
    counters.polls, counters.good_polls, counters.failed_polls = 2, 2, 0
    clock.set(10, 4)
    flush(db, health)
    row = days(db, meter_id)[DAY]
    assert (row["polls"], row["failed_polls"]) == (22, 4)


def test_offline_time_and_counters_are_shared_across_midnight(
    db: Database, meters: list[BusMeter]
) -> None:
    clock = Clock(datetime(2026, 11, 10, 23, 50, tzinfo=ZONE))
    bus = worker(meters)
    health = HealthDays(lambda: [bus], clock=clock)
    address, meter_id = meters[0].address, meters[0].meter_id
    polls(bus, meters[1].address, good=2)
    polls(bus, address, good=1, at=clock().timestamp())  # its last good poll: 23:50
    polls(bus, address, good=0, failed=3)
    bus.stats.set_online(address, False)
    clock.set(23, 58)
    flush(db, health)
    assert days(db, meter_id)[DAY]["offline_s"] == 8 * 60  # since its last good poll
    polls(bus, address, good=0, failed=10)
    clock.set(0, 3, day=NEXT)  # 5 minutes: 2 before midnight, 3 after
    flush(db, health)
    polls(bus, address, good=1)
    bus.stats.set_online(address, True)
    clock.set(0, 5, day=NEXT)  # back online during these 2 minutes: counted offline
    flush(db, health)
    polls(bus, address, good=6)
    clock.set(0, 6, day=NEXT)
    flush(db, health)
    stored = days(db, meter_id)
    assert stored[DAY]["offline_s"] == 8 * 60 + 2 * 60
    assert stored[NEXT]["offline_s"] == 3 * 60 + 2 * 60
    # The 10 failed polls of 23:58-00:03 shared 2:3 between the days.
    assert stored[DAY]["failed_polls"] == 3 + 4
    assert stored[NEXT]["failed_polls"] == 6
    assert stored[DAY]["polls"] + stored[NEXT]["polls"] == 1 + 3 + 10 + 1 + 6
    assert stored[NEXT]["polls"] == 6 + 1 + 6
    # The other meter never went offline.
    assert [row["offline_s"] for row in days(db, meters[1].meter_id).values()] == [0]


def test_the_days_worst_drift_is_kept_with_its_sign(db: Database, meters: list[BusMeter]) -> None:
    meter_id = meters[0].meter_id
    read_at = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    console = read_at.astimezone(ZONE).replace(tzinfo=None)
    clock = Clock(read_at)
    bus = worker(meters)
    health = HealthDays(lambda: [bus], clock=clock)
    polls(bus, meters[0].address, good=3)
    clock.at = read_at + timedelta(minutes=1)
    flush(db, health)
    for offset_s in (30.0, -200.0, 150.0):
        with db.transaction() as session:
            record_clock(session, meter_id, console + timedelta(seconds=offset_s), read_at)
    later = read_at + timedelta(days=1)
    with db.transaction() as session:
        record_clock(session, meter_id, console + timedelta(days=1, seconds=4), later)
    polls(bus, meters[0].address, good=2)
    clock.at = read_at + timedelta(minutes=2)
    flush(db, health)  # counters added after the drift leave it as it is
    stored = days(db, meter_id)
    assert stored[DAY]["drift_s"] == -200.0
    assert stored[DAY]["polls"] == 5
    assert stored[NEXT]["drift_s"] == 4.0
    assert stored[NEXT]["polls"] == 0


def test_a_runtime_leaves_every_count_of_its_workers_in_the_table(db: Database) -> None:
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=4))
    with polling(db, cycle_pause_s=0.05) as runtime:
        _meter, simulated = polled_meter(runtime, db)
        simulated.faults.dead = True  # timeouts, failed polls, then offline
        wait_for(
            lambda: any(c.timeouts >= 3 for w in runtime.workers for c in w.stats.counters()),
            "a dead meter's timeouts were counted",
        )
        workers = list(runtime.workers)
    assert runtime.health.flushes >= 1
    counted = dict.fromkeys(COUNTERS, 0)
    for bus in workers:
        for counters in bus.stats.counters():
            for name in COUNTERS:
                counted[name] += getattr(counters, name)
    with db.session() as session:
        stored = {
            name: int(session.scalar(select(func.sum(getattr(MeterHealthDay, name)))) or 0)
            for name in COUNTERS
        }
    assert stored == counted
    assert stored["timeouts"] >= 3
    assert stored["polls"] > stored["failed_polls"] > 0


def test_time_before_a_bus_was_taken_over_counts_nothing(
    db: Database, meters: list[BusMeter]
) -> None:
    clock = Clock(datetime(2026, 11, 10, 8, 0, tzinfo=ZONE))
    running: list[BusWorker] = []
    health = HealthDays(lambda: running, clock=clock)
    clock.set(9, 0)
    assert flush(db, health) == 0  # a standby: nothing polled here
    taken = worker(meters)  # the owner died: this runtime takes the bus over at 09:00
    running.append(taken)
    polls(taken, meters[0].address, good=0, failed=3)  # never answered since
    taken.stats.set_online(meters[0].address, False)
    clock.set(9, 1)
    flush(db, health)
    assert days(db, meters[0].meter_id)[DAY]["offline_s"] == 60
