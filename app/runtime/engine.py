"""The engine thread: snapshots in, database writes in batches, events out.

Bus workers call ``submit`` from their threads; the engine drains its queue every
``batch_s`` seconds and handles the batch in one transaction that it owns. (Rating, postings,
supply decisions and the load guard join this loop in later steps of the billing issue.)
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from app.hardware.snapshot import Snapshot
from app.runtime.reading_store import BatchResult, ReadingStore
from app.store.database import Database

log = logging.getLogger(__name__)


@dataclass
class EngineTotals:
    snapshots: int = 0
    batches: int = 0
    readings: int = 0
    held: int = 0


class Engine:
    def __init__(
        self,
        db: Database,
        *,
        batch_s: float = 1.0,
        interval_s: int = 900,
        on_batch: Callable[[BatchResult], None] | None = None,
    ) -> None:
        self.db = db
        self.batch_s = batch_s
        self.readings = ReadingStore(interval_s)
        self.on_batch = on_batch
        self.totals = EngineTotals()
        self._inbox: queue.SimpleQueue[Snapshot | None] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def submit(self, snapshot: Snapshot) -> None:
        """Any thread: queue a snapshot for the next batch."""
        self._inbox.put(snapshot)

    def start(self) -> None:
        with self.db.session() as session:
            self.readings.load(session)
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
            if batch:
                try:
                    self.process(batch)
                except Exception:
                    log.exception(
                        "engine: a batch of %d snapshots failed; it was rolled back", len(batch)
                    )
            if self._stop.is_set() and self._inbox.empty():
                return

    def _drain(self) -> list[Snapshot]:
        batch: list[Snapshot] = []
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

    def process(self, batch: list[Snapshot]) -> BatchResult:
        """Handle one batch in one transaction (also called directly by tests)."""
        with self.db.transaction() as session:
            result = self.readings.store(session, batch)
        self.totals.snapshots += len(batch)
        self.totals.batches += 1
        self.totals.readings += result.readings
        self.totals.held += result.held
        if self.on_batch is not None:
            self.on_batch(result)
        return result
