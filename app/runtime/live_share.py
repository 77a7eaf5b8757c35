"""Live load through the database, for the runtimes that do not poll a bus: the bus's owner
publishes its meters' newest power (``LivePublisher``), the others read it into their own
``LiveStore`` (``LiveReader``), so an attached console on another PC, or a standby waiting for
a bus, draws the same site, building, floor and meter lines as the owner.

Why the database: every console already holds a connection to it (PostgreSQL across PCs,
SQLite between the processes of one PC), so this needs no port, address or firewall rule of
its own and works the same wherever the owner runs; a feed from the owner's process would need
all three. What it costs is bounded by the ``live_power`` table: one row per meter, overwritten,
never history (``app.store.models.live_models``).

The owner's side: the engine thread hands each batch of snapshots to ``LivePublisher.offer``
(a dict update under a lock, no database work); every ``SHARE_S`` the live-share thread writes
the newest power of each meter sampled since the last write in one batched upsert, in its own
short transaction. A row is only ever moved forward in time (the upsert's WHERE), so a runtime
that lost a bus a moment ago cannot write an older value over its successor's.

The reader's side: every ``SHARE_S`` the rows written since the last read, skipping the meters
this runtime polls itself (a standby that owns some buses). "Since the last read" is counted on
the rows' own times (the owners' clocks, never the reader's), with ``READ_OVERLAP_S`` of overlap:
a row committed a moment after a newer one was read, or written by a second owner whose clock is
a few seconds behind, is still read, and the newest time fed per meter keeps it from being fed
twice.

Threads: ``LiveShare`` runs one daemon thread, "live share", which alone publishes, reads and
feeds ``LiveStore.feed_values``; ``offer`` is called on the engine thread. A database that
cannot be reached is logged once per outage and tried again the next round; the samples not
written are kept (the newest per meter) and written when it can.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Insert, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from app.hardware.snapshot import Quality, Snapshot
from app.runtime.live_store import LiveStore
from app.store.database import Database
from app.store.models import LivePower

log = logging.getLogger(__name__)

SHARE_S = 2.0  # how often the owner writes and the others read
READ_OVERLAP_S = 10.0  # how far back of the newest row read each read looks again
_COUNTED = (Quality.GOOD, Quality.PARTIAL)  # as the live store counts them


@dataclass(frozen=True, slots=True)
class LiveSample:
    meter_id: int
    at: datetime  # when the owner's poll measured it (aware, UTC)
    power_w: float


def _upsert(db: Database) -> Insert:
    """INSERT ... ON CONFLICT (meter_id) DO UPDATE, moving a row only forward in time. Core,
    not the ORM's bulk path: a third of the time for 2,000 rows."""
    table = LivePower.__table__
    assert isinstance(table, Table)
    stmt = (sqlite.insert if db.is_sqlite else postgresql.insert)(table)
    return stmt.on_conflict_do_update(
        index_elements=[table.c.meter_id],
        set_={"at": stmt.excluded.at, "power_w": stmt.excluded.power_w},
        where=table.c.at < stmt.excluded.at,
    )


class LivePublisher:
    """The owner's side: the newest power of the meters polled here, written in batches."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._pending: dict[int, LiveSample] = {}  # sampled since the last write, newest each

    def offer(self, snapshots: Iterable[Snapshot]) -> None:
        """Engine thread: remember each meter's newest finite power of a good or partial poll."""
        found: list[LiveSample] = []
        for snap in snapshots:
            power = snap.power_w
            if power is None or snap.quality not in _COUNTED or not math.isfinite(power):
                continue
            found.append(LiveSample(snap.meter_id, snap.wall_time, power))
        if found:
            with self._lock:
                self._keep_newest(found)

    def publish(self) -> int:
        """The live-share thread: write what was sampled since the last write in one upsert and
        one transaction; returns how many meters it wrote. If the write fails, its samples are
        kept for the next one (unless newer ones came meanwhile) and the error is raised."""
        with self._lock:
            taken, self._pending = self._pending, {}
        if not taken:
            return 0
        rows: list[dict[str, Any]] = [
            {"meter_id": s.meter_id, "at": s.at, "power_w": s.power_w}
            for s in sorted(taken.values(), key=lambda s: s.meter_id)  # one lock order
        ]
        try:
            with self.db.transaction() as session:
                session.connection().execute(_upsert(self.db), rows)
        except Exception:
            with self._lock:
                self._keep_newest(taken.values(), only_new=True)
            raise
        return len(rows)

    def _keep_newest(self, samples: Iterable[LiveSample], only_new: bool = False) -> None:
        pending = self._pending
        for sample in samples:
            held = pending.get(sample.meter_id)
            if held is None or (held.at < sample.at and not only_new):
                pending[sample.meter_id] = sample


class LiveReader:
    """The other runtimes' side: the rows written since the last read, each meter's once."""

    def __init__(self, db: Database, overlap_s: float = READ_OVERLAP_S) -> None:
        self.db = db
        self.overlap = timedelta(seconds=overlap_s)
        self._newest: datetime | None = None  # the newest row time read so far
        self._fed: dict[int, datetime] = {}  # per meter, the newest time handed out

    def read(self, polled_here: Collection[int] = ()) -> list[LiveSample]:
        """Rows newer than the last read (less the overlap; every row the first time) of the
        meters not in ``polled_here``, each meter's newest time only once, oldest first."""
        query = select(LivePower.meter_id, LivePower.at, LivePower.power_w).order_by(LivePower.at)
        if self._newest is not None:
            query = query.where(LivePower.at > self._newest - self.overlap)
        with self.db.session() as session:
            rows = session.execute(query).all()
        fresh: list[LiveSample] = []
        for meter_id, at, power_w in rows:
            if self._newest is None or at > self._newest:
                self._newest = at
            if meter_id in polled_here:
                continue
            fed = self._fed.get(meter_id)
            if fed is None or at > fed:
                self._fed[meter_id] = at
                fresh.append(LiveSample(meter_id, at, power_w))
        return fresh


class LiveShare:
    """Every ``every_s`` on its own thread: publish what this runtime polled, and (while
    ``others_poll()`` says some of the site's meters are polled elsewhere) feed ``store`` what
    the others published, leaving out ``polled_here()``."""

    def __init__(
        self,
        db: Database,
        store: LiveStore,
        *,
        polled_here: Callable[[], Collection[int]],
        others_poll: Callable[[], bool],
        every_s: float = SHARE_S,
    ) -> None:
        self.store = store
        self.publisher = LivePublisher(db)
        self.reader = LiveReader(db)
        self.every_s = every_s
        self._polled_here = polled_here
        self._others_poll = others_poll
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def offer(self, snapshots: Iterable[Snapshot]) -> None:
        """Engine thread: see ``LivePublisher.offer``."""
        self.publisher.offer(snapshots)

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="live share", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def round(self) -> tuple[int, int]:
        """One round: (meters written, samples fed into the store)."""
        written = self.publisher.publish()
        fed = 0
        if self._others_poll():
            samples = self.reader.read(self._polled_here())
            fed = self.store.feed_values((s.meter_id, s.at.timestamp(), s.power_w) for s in samples)
        return written, fed

    def _run(self) -> None:
        while not self._stopping.wait(self.every_s):
            try:
                self.round()
            except Exception:  # the database is away: try again next round, say so once
                if not self._failing:
                    log.warning("live load could not be shared through the database", exc_info=True)
                self._failing = True
            else:
                if self._failing:
                    log.info("live load is shared through the database again")
                self._failing = False
