"""The engine thread: snapshots and tasks in, database writes in batches, events out.

Bus workers call ``submit`` from their threads; anyone may ``call`` a task (a function of the
engine's session, e.g. "evaluate this account's supply now"). The engine takes what is queued
as soon as it arrives (waiting at most ``batch_s``) and handles it in one transaction that it
owns: snapshots first (``on_stored`` then rates and posts what they measured), then tasks,
then, every ``tick_s``, the periodic task (postings on the hour, fees, the supply policy of
every account: friendly windows and keep-power orders end on their own).

Postings are isolated per account (``account_isolation``), so one bad row does not fail a
batch. A batch that fails all the same (the database went away, a bug) is rolled back whole,
and what the engine keeps in memory (last registers, charges rated but not posted, fees
charged) may then be ahead of the database: before the next batch the engine loads it again
from the database (``load``), which rates again what was stored since the last posting, so a
failed batch loses no usage and bills none twice.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.hardware.snapshot import Snapshot
from app.runtime.reading_store import BatchResult, ReadingStore
from app.store.database import Database

log = logging.getLogger(__name__)

Task = Callable[[Session], object]


@dataclass
class EngineTotals:
    snapshots: int = 0
    batches: int = 0
    readings: int = 0
    held: int = 0
    tasks: int = 0
    failed: int = 0  # batches rolled back


class Engine:
    def __init__(
        self,
        db: Database,
        *,
        batch_s: float = 1.0,
        interval_s: int = 900,
        on_batch: Callable[[BatchResult], None] | None = None,
        on_snapshots: Callable[[Session, list[Snapshot]], None] | None = None,
        on_stored: Callable[[Session, BatchResult], None] | None = None,
        on_start: Task | None = None,
        tick: Task | None = None,
        tick_s: float = 60.0,
    ) -> None:
        self.db = db
        self.batch_s = batch_s
        self.readings = ReadingStore(interval_s)
        self.on_batch = on_batch
        self.on_snapshots = on_snapshots  # e.g. the load guard, in the same transaction
        self.on_stored = on_stored  # rating and postings of the readings just stored
        self.on_start = on_start  # first transaction: e.g. rate what was stored before a crash
        self.totals = EngineTotals()
        self.tick = tick
        self.tick_s = tick_s
        self._next_tick = 0.0
        self._inbox: queue.SimpleQueue[Snapshot | Task | None] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._stale = False  # a batch was rolled back: load again before the next one
        # ``reload`` asks for a load before the next batch (a bus taken over from another
        # runtime): a count, so a request made while a load runs is not lost.
        self._reloads_asked = 0
        self._reloads_done = 0

    def submit(self, snapshot: Snapshot) -> None:
        """Any thread: queue a snapshot for the next batch."""
        self._inbox.put(snapshot)

    def call(self, task: Task) -> None:
        """Any thread: run ``task(session)`` on the engine thread, in its next transaction."""
        self._inbox.put(task)

    def reload(self) -> None:
        """Any thread: load what the engine remembers again before the next batch (another
        runtime billed meanwhile: start from the stored registers and rating states)."""
        self._reloads_asked += 1

    def load(self) -> None:
        """What the engine remembers: each meter's last register, then ``on_start``."""
        self._reloads_done = self._reloads_asked
        with self.db.transaction() as session:
            self.readings.load(session)
            if self.on_start is not None:
                self.on_start(session)
        self._stale = False

    def start(self) -> None:
        self.load()
        self._thread = threading.Thread(target=self._run, name="engine", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Handle what is queued, then end the thread."""
        self._stop.set()
        self._inbox.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while True:
            batch = self._drain()
            due = self.tick is not None and time.monotonic() >= self._next_tick
            if batch or due:
                try:
                    self.process(batch, tick=due)
                except Exception:
                    log.exception(
                        "engine: a batch of %d items failed; it was rolled back", len(batch)
                    )
            if self._stop.is_set() and self._inbox.empty():
                return

    def _drain(self) -> list[Snapshot | Task]:
        batch: list[Snapshot | Task] = []
        try:
            first = self._inbox.get(timeout=self.batch_s)
        except queue.Empty:
            return batch
        if first is not None:
            batch.append(first)
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return batch
            if item is not None:
                batch.append(item)

    def process(self, batch: Sequence[Snapshot | Task], *, tick: bool = False) -> BatchResult:
        """Handle one batch in one transaction (also called directly by tests). If it fails, it
        is rolled back, the exception goes on to the caller, and the next batch first loads
        again what the engine keeps in memory."""
        try:
            if self._stale or self._reloads_done != self._reloads_asked:
                self.load()
            return self._process(batch, tick=tick)
        except BaseException:
            self._stale = True
            self.totals.failed += 1
            raise

    def _process(self, batch: Sequence[Snapshot | Task], *, tick: bool) -> BatchResult:
        snapshots = [item for item in batch if isinstance(item, Snapshot)]
        tasks = [item for item in batch if not isinstance(item, Snapshot)]
        with self.db.transaction() as session:
            result = self.readings.store(session, snapshots)
            if self.on_stored is not None and result.stored:
                self.on_stored(session, result)
            if self.on_snapshots is not None and snapshots:
                self.on_snapshots(session, snapshots)
            for task in tasks:
                task(session)
            if tick and self.tick is not None:
                self._next_tick = time.monotonic() + self.tick_s
                self.tick(session)
        self.totals.tasks += len(tasks)
        self.totals.snapshots += len(snapshots)
        self.totals.batches += 1
        self.totals.readings += result.readings
        self.totals.held += result.held
        if self.on_batch is not None:
            self.on_batch(result)
        return result
