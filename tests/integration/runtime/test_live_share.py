"""Live load through the database: the owner of the buses publishes its meters' newest power in
``live_power``, and a runtime that polls nothing (an attached console on another PC, here a
second database handle) reads it into its own LiveStore, so its site, building, floor and meter
lines move. The publisher and the reader on their own: batched upserts that only move forward,
reads of what is new, each meter's sample once, the meters polled here left out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from app.demo.site import DemoSpec, seed_demo_site
from app.hardware.bus_worker import PollPolicy
from app.hardware.snapshot import Quality, Snapshot
from app.queries.site_facts import power_groups
from app.runtime.live_share import LivePublisher, LiveReader, LiveShare
from app.runtime.live_store import LiveStore
from app.runtime.runtime import Runtime, RuntimeOptions
from app.store.database import Database, sqlite_url_for
from app.store.models import LivePower, Meter
from app.vocabulary import Utility
from tests.support import wait_for

T0 = datetime(2026, 12, 7, 8, 0, 0, tzinfo=UTC)


@pytest.fixture
def site(db: Database) -> Database:
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=2))
    return db


@pytest.fixture
def other(site: Database, migrated_url: str) -> Iterator[Database]:
    """The same database through a handle of its own, as another PC (or process) has it."""
    database = Database(migrated_url, key_dir=site.audit_keys.folder)
    yield database
    database.dispose()


def meter_ids(db: Database, utility: Utility | None = Utility.ELECTRICITY) -> list[int]:
    """The site's meter ids (of one utility, or all: live_power takes any meter's row)."""
    query = select(Meter.id).order_by(Meter.id)
    if utility is not None:
        query = query.where(Meter.utility == utility)
    with db.session() as session:
        return list(session.scalars(query))


def snap(
    meter_id: int, at: datetime, power_w: float | None, quality: Quality = Quality.GOOD
) -> Snapshot:
    return Snapshot(meter_id, "1", 0.0, at, quality, power_w=power_w)


def stored(db: Database) -> dict[int, tuple[datetime, float]]:
    with db.session() as session:
        rows = session.execute(select(LivePower.meter_id, LivePower.at, LivePower.power_w))
        return {meter_id: (at, power_w) for meter_id, at, power_w in rows}


def test_the_owner_writes_each_meters_newest_power_once_per_round(site: Database) -> None:
    a, b = meter_ids(site)[:2]
    publisher = LivePublisher(site)
    publisher.offer([snap(a, T0, 100.0), snap(b, T0, 200.0)])
    publisher.offer([snap(a, T0 + timedelta(seconds=1), 150.0)])
    publisher.offer([snap(b, T0 - timedelta(seconds=1), 999.0)])  # older: not kept
    publisher.offer([snap(a, T0, None), snap(b, T0, 5.0, Quality.FAILED)])  # nothing measured
    publisher.offer([snap(b, T0, float("nan"))])

    assert publisher.publish() == 2
    assert stored(site) == {a: (T0 + timedelta(seconds=1), 150.0), b: (T0, 200.0)}
    assert publisher.publish() == 0  # nothing new since: nothing written

    publisher.offer([snap(b, T0 + timedelta(seconds=3), 250.0)])
    assert publisher.publish() == 1
    assert stored(site)[b] == (T0 + timedelta(seconds=3), 250.0)
    assert stored(site)[a] == (T0 + timedelta(seconds=1), 150.0)  # untouched


def test_a_row_only_moves_forward_in_time(site: Database, other: Database) -> None:
    a = meter_ids(site)[0]
    newer = LivePublisher(site)
    newer.offer([snap(a, T0 + timedelta(seconds=10), 300.0)])
    newer.publish()
    late = LivePublisher(other)  # a runtime that lost the bus a moment ago
    late.offer([snap(a, T0, 100.0)])
    late.publish()
    assert stored(site)[a] == (T0 + timedelta(seconds=10), 300.0)


def test_a_failed_write_keeps_its_samples_for_the_next_round(
    site: Database, tmp_path: Path
) -> None:
    a = meter_ids(site)[0]
    folder = tmp_path / "not-migrated"
    folder.mkdir()
    unusable = Database(sqlite_url_for(folder))  # no live_power table: every write fails
    publisher = LivePublisher(unusable)
    publisher.offer([snap(a, T0, 100.0)])
    try:
        with pytest.raises(OperationalError):
            publisher.publish()
    finally:
        unusable.dispose()
    publisher.offer([snap(a, T0 - timedelta(seconds=1), 1.0)])  # older than the one kept
    publisher.db = site
    assert publisher.publish() == 1
    assert stored(site)[a] == (T0, 100.0)


def test_the_reader_gets_what_is_new_each_meter_once_and_not_its_own(
    site: Database, other: Database
) -> None:
    a, b, c = meter_ids(site, None)[:3]
    publisher = LivePublisher(site)
    reader = LiveReader(other, overlap_s=10)
    assert reader.read() == []

    publisher.offer([snap(a, T0, 100.0), snap(b, T0, 200.0), snap(c, T0, 300.0)])
    publisher.publish()
    first = reader.read(polled_here={c})  # c is polled by the reader's own runtime
    assert [(s.meter_id, s.at, s.power_w) for s in first] == [(a, T0, 100.0), (b, T0, 200.0)]
    assert reader.read(polled_here={c}) == []  # read already: not again

    # b's next sample, then one of a that was measured earlier but committed later (within
    # the overlap): each is read, once. c, no longer polled here, is read now too.
    publisher.offer([snap(b, T0 + timedelta(seconds=5), 210.0)])
    publisher.publish()
    assert [(s.meter_id, s.power_w) for s in reader.read()] == [(c, 300.0), (b, 210.0)]
    publisher.offer([snap(a, T0 + timedelta(seconds=2), 120.0)])
    publisher.publish()
    assert [(s.meter_id, s.at, s.power_w) for s in reader.read()] == [
        (a, T0 + timedelta(seconds=2), 120.0)
    ]
    assert reader.read() == []


def test_one_round_publishes_here_and_feeds_the_others_values_into_the_store(
    site: Database, other: Database
) -> None:
    ids = meter_ids(site)
    owner_store, console_store = LiveStore(), LiveStore()
    console_store.define_groups(power_groups(other))
    owner = LiveShare(site, owner_store, polled_here=lambda: ids, others_poll=lambda: False)
    console = LiveShare(other, console_store, polled_here=lambda: (), others_poll=lambda: True)
    now = datetime.now(UTC)
    owner.offer([snap(meter_id, now, 100.0 * (i + 1)) for i, meter_id in enumerate(ids)])

    assert console.round() == (0, 0)  # nothing published yet
    assert owner.round() == (len(ids), 0)  # the owner reads nothing: it polls everything
    assert console.round() == (0, len(ids))
    bucket = now.timestamp() // console_store.step_s * console_store.step_s
    assert console_store.latest(ids[1]) == (bucket, 200.0)
    site_w = sum(100.0 * (i + 1) for i in range(len(ids)))
    assert console_store.latest("site") == (bucket, pytest.approx(site_w))
    assert console.round() == (0, 0)


@pytest.fixture
def pair(site: Database, other: Database) -> Iterator[tuple[Runtime, Runtime]]:
    """The owner polling the demo's simulated buses, and a console attached to the same
    database through its own handle."""
    owner = Runtime(site, RuntimeOptions(poll=PollPolicy(cycle_pause_s=0.0), policy_tick_s=3600))
    owner.start()
    try:  # a console that cannot start must not leave the owner polling a dropped database
        console = Runtime(other, RuntimeOptions(attached=True, policy_tick_s=3600))
        console.start()
        try:
            yield owner, console
        finally:
            console.stop()
    finally:
        owner.stop()


def test_the_attached_consoles_live_lines_follow_the_owners_polls(
    pair: tuple[Runtime, Runtime], site: Database
) -> None:
    owner, console = pair
    assert console.workers == []  # it polls nothing: all it draws came through the database
    groups = power_groups(site)
    meter = groups["site"][0]
    building = next(key for key in groups if key.startswith("building:"))
    floor = next(key for key in groups if key.startswith("floor:"))
    keys = ("site", building, floor, meter)

    wait_for(
        lambda: all(console.live.latest(key) is not None for key in keys),
        "the console's site, building, floor and meter lines have a value",
    )
    seen = console.live.latest("site")
    assert seen is not None
    wait_for(
        lambda: (now := console.live.latest("site")) is not None and now[0] > seen[0],
        "the console's site line moved on to a newer bucket",
    )

    # What it draws is what the owner measured and wrote: once the owner's lines go quiet, the
    # console's meter line ends on the owner's last written value, in its bucket.
    for worker in owner.workers:
        worker.stop()

    def drawn_as_written() -> bool:
        at, power_w = stored(site)[meter]
        bucket = at.timestamp() // console.live.step_s * console.live.step_s
        newest = console.live.latest(meter)
        return newest is not None and newest == (bucket, float(np.float32(power_w)))

    wait_for(drawn_as_written, "the console drew the owner's last written value")
