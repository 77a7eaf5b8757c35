"""Each meter's daily poll health (``meter_health_day``), kept by the runtime that polls it.

The bus workers count polls and wire faults per meter in memory (``BusStats``), which the
diagnostics dialog reads; a restart or a takeover loses them. ``HealthDays`` adds what they
counted since its last flush to the meter's site-local day, every ``FLUSH_S`` (asked on the
engine thread as snapshots come in: ``flush_due``) and once more at the runtime's stop, in the
engine's transaction. One upsert adds (``ON CONFLICT (meter_id, day) DO UPDATE SET polls =
polls + ...``), so two runtimes owning different buses of one site never overwrite each other.

- Counters only grow while one worker runs. A worker that is started again (a bus reloaded, a
  takeover, a restart) counts from 0 in a new ``BusStats``: it is told apart by its identity,
  and a count below the one seen before is taken as a new start too, so no delta is negative.
  A worker stopped since the last flush is read once more after its thread ended (what it
  counted last is not lost), then forgotten; its meters' offline time ends with the last
  flush that saw it running (a bus started again counts its own).
- Offline seconds: the time the worker counted the meter offline (``MeterCounters.online`` is
  False), sampled at each flush: offline at both ends of an interval counts all of it; gone
  offline during it counts from its last good poll (or the interval's start); back online
  counts all of it (to within one flush). Time when no runtime polled counts nothing. Interval
  edges are whole epoch seconds, so the seconds of consecutive intervals add up exactly.
- An interval across local midnight is shared between its days in proportion to time (the
  counters as the offline seconds), in whole numbers that add up exactly (``split_units``).
- The flush's memory moves on only when its transaction commits: a rolled-back batch hands the
  same deltas to the next flush, so nothing is lost or counted twice.

``keep_drift`` (called by ``clock_watch.record_clock`` for every clock read) keeps the day's
largest drift by absolute value, with its sign, in ``drift_s``.

Engine thread only, except for construction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Table, case, event, func, or_
from sqlalchemy.orm import Session

from app.hardware.bus_stats import BusStats, MeterCounters
from app.hardware.bus_worker import BusWorker
from app.runtime.supply_control import local_zone
from app.services.usage_days import LocalDays, split_units
from app.store.bulk_rows import upsert
from app.store.models import MeterHealthDay

log = logging.getLogger(__name__)

FLUSH_S = 60.0  # how often the counters are added to the days
COUNTERS = ("polls", "failed_polls", "timeouts", "crc_errors", "frame_errors", "exceptions")
_CHUNK = 500  # rows per upsert statement


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _Seen:
    """What a flush saw of one meter on one worker."""

    stats: BusStats  # held, so the key's id() is never reused while it is remembered
    counts: tuple[int, ...]  # COUNTERS, in order
    offline: bool
    at_s: int  # epoch seconds of that flush


_Key = tuple[int, str]  # (id of the worker's BusStats, meter address)
Cells = dict[tuple[int, date], list[int]]  # (meter id, day) -> COUNTERS + [offline seconds]


def counts_of(counters: MeterCounters) -> tuple[int, ...]:
    return tuple(int(getattr(counters, name)) for name in COUNTERS)


def day_spans(start_s: int, end_s: int, days: LocalDays) -> list[tuple[date, int]]:
    """(local day, whole seconds of [start_s, end_s) in it) for each day the interval overlaps;
    an interval that does not move forward is one span of 0 s on the day of its end."""
    if end_s <= start_s:
        return [(days.window(end_s)[0], 0)]
    spans: list[tuple[date, int]] = []
    moment = start_s
    while moment < end_s:
        day, _start, day_end = days.window(moment)
        edge = min(end_s, int(day_end))
        spans.append((day, edge - moment))
        moment = edge
    return spans


class HealthDays:
    """The poll health of the meters of ``workers()`` (this runtime's bus workers), added to
    their days. ``clock`` gives the aware present (tests pass their own)."""

    def __init__(
        self,
        workers: Callable[[], Sequence[BusWorker]],
        *,
        clock: Callable[[], datetime] = _now,
        every_s: float = FLUSH_S,
    ) -> None:
        self._workers = workers
        self._clock = clock
        self.every_s = every_s
        self._last_s = int(clock().timestamp())  # the last flush (or the start)
        self._seen: dict[_Key, _Seen] = {}
        self._known: list[BusWorker] = []  # the workers of the last flush
        self.flushes = 0  # flushes committed
        self.rows = 0  # (meter, day) rows added to by them

    def flush_due(self, session: Session) -> None:
        """Flush if ``every_s`` passed since the last flush (engine thread, in its
        transaction): called for every batch of snapshots, it costs a clock read otherwise."""
        if self._clock().timestamp() - self._last_s >= self.every_s:
            self.flush(session)

    def flush(self, session: Session) -> int:
        """Add what every worker counted since the last flush to its meters' days, in the
        caller's transaction; returns how many (meter, day) rows were added to."""
        now_s = int(self._clock().timestamp())
        current = list(self._workers())
        if not current and not self._known:  # an attached console, a standby: nothing polled
            self._last_s = now_s
            return 0
        days = LocalDays(local_zone(session))
        ids = {id(worker) for worker in current}
        # A worker stopped since the last flush is read until its thread has ended.
        stopped = [w for w in self._known if id(w) not in ids]
        ended = [w for w in stopped if not w.alive]
        seen: dict[_Key, _Seen] = {}
        cells: Cells = {}
        for worker in [*current, *stopped]:
            running = id(worker) in ids  # a stopped worker's offline meters count no more
            meter_ids = {m.address: m.meter_id for m in worker.meters}
            for counters in worker.stats.counters():
                meter_id = meter_ids.get(counters.address)
                if meter_id is None:  # an address a scan found: no meter of the site
                    continue
                key = (id(worker.stats), counters.address)
                offline = running and counters.online is False
                now = _Seen(worker.stats, counts_of(counters), offline, now_s)
                before = self._seen.get(key)
                self._add(cells, meter_id, before, now, counters, days, running)
                seen[key] = now
        for worker in ended:  # read for the last time: forgotten once this flush commits
            for key in [k for k in seen if k[0] == id(worker.stats)]:
                del seen[key]
        written = _add_rows(session, cells)
        known = [w for w in [*current, *stopped] if w not in ended]

        def committed(_session: Session) -> None:
            self._seen, self._known, self._last_s = seen, known, now_s
            self.flushes += 1
            self.rows += written

        event.listen(session, "after_commit", committed, once=True)
        return written

    def _add(
        self,
        cells: Cells,
        meter_id: int,
        before: _Seen | None,
        now: _Seen,
        counters: MeterCounters,
        days: LocalDays,
        running: bool,
    ) -> None:
        """Add one meter's deltas between ``before`` (None: a worker new since the last
        flush) and ``now`` to ``cells``."""
        start_s = self._last_s if before is None else before.at_s
        base = before.counts if before is not None else (0,) * len(COUNTERS)
        if any(n < b for n, b in zip(now.counts, base, strict=True)):
            base = (0,) * len(COUNTERS)  # counted again from 0: a new start
        deltas = [n - b for n, b in zip(now.counts, base, strict=True)]
        offline_from: int | None = None
        if now.offline:
            offline_from = start_s
            if before is None or not before.offline:  # went offline after its last good poll
                last_good = counters.last_good_wall
                if last_good is not None:
                    offline_from = max(start_s, min(now.at_s, int(last_good)))
        elif before is not None and before.offline and running:
            offline_from = start_s  # back online during the interval
        if not any(deltas) and offline_from is None:
            return
        spans = day_spans(start_s, now.at_s, days)
        weights = [seconds for _day, seconds in spans]
        shares = [split_units(delta, weights) for delta in deltas]
        # offline_from is within the interval: its days are among the interval's.
        offline = dict(day_spans(offline_from, now.at_s, days)) if offline_from is not None else {}
        for index, (day, _seconds) in enumerate(spans):
            cell = cells.setdefault((meter_id, day), [0] * (len(COUNTERS) + 1))
            for counter, share in enumerate(shares):
                cell[counter] += share[index]
            cell[-1] += offline.get(day, 0)


def _add_rows(session: Session, cells: Cells) -> int:
    """One upsert that adds ``cells`` to their rows, in (meter, day) order so two runtimes'
    transactions lock shared rows alike."""
    rows = [
        {
            "meter_id": meter_id,
            "day": day,
            **dict(zip(COUNTERS, values[:-1], strict=True)),
            "offline_s": values[-1],
            "drift_s": None,
        }
        for (meter_id, day), values in sorted(cells.items())
        if any(values)
    ]
    if not rows:
        return 0
    table: Table = MeterHealthDay.__table__  # type: ignore[assignment]
    insert = upsert(session, table)
    statement = insert.on_conflict_do_update(
        index_elements=["meter_id", "day"],
        set_={name: table.c[name] + insert.excluded[name] for name in (*COUNTERS, "offline_s")},
    )
    for start in range(0, len(rows), _CHUNK):
        session.execute(statement, rows[start : start + _CHUNK])
    return len(rows)


def keep_drift(session: Session, meter_id: int, day: date, drift_s: float) -> None:
    """Engine thread: a clock read of the meter on its site-local ``day`` showed ``drift_s``
    (+ ahead, - behind); keep it if it is the day's largest by absolute value."""
    table: Table = MeterHealthDay.__table__  # type: ignore[assignment]
    row = {
        "meter_id": meter_id,
        "day": day,
        **dict.fromkeys(COUNTERS, 0),
        "offline_s": 0,
        "drift_s": float(drift_s),
    }
    insert = upsert(session, table)
    kept, new = table.c.drift_s, insert.excluded.drift_s
    statement = insert.on_conflict_do_update(
        index_elements=["meter_id", "day"],
        set_={
            "drift_s": case((or_(kept.is_(None), func.abs(new) > func.abs(kept)), new), else_=kept)
        },
    )
    session.execute(statement, [row])
