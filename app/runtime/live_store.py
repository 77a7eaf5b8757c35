"""Live power history for the load charts: a ring buffer per meter and per group of meters.

Time is cut into buckets of ``step_s`` seconds: bucket ``b = floor(epoch_s / step_s)`` covers
``[b * step_s, (b + 1) * step_s)`` and lives in slot ``b mod capacity`` of every series, where
``capacity = hours * 3600 / step_s``. Times are implicit; a series is float32 watts with NaN
where nothing was measured. All series share one clock: the store remembers the newest bucket it
has seen (the head) and the bucket each slot holds (``slot_bucket``, one int64 per slot, shared
by all series). When the head moves on, the slots it passes over are cleared to NaN in every
series before reuse, and reads mask any slot whose bucket is not the one asked for, so data older
than ``hours`` is never returned as if it were new. If the wall clock goes back by more than the
window, the history starts again (logged).

Meters: only GOOD or PARTIAL snapshots with a finite ``power_w`` count. Within a bucket the last
sample fed wins (snapshots of one meter arrive in poll order: one bus worker per line, one FIFO
engine queue). A bucket a meter was not seen in stays NaN in that meter's series.

Groups (``"site"``, ``"building:A"``, ``"floor:A-3"``...): named sets of meter ids. A group's
value in a bucket is the sum over its members; a member with no sample in the bucket counts with
its last value if that is at most ``carry_buckets`` buckets old (so the site line does not dip
when a poll lands in the next bucket), and is left out otherwise. A group is NaN only where no
member has a value. Group series are kept up to date by ``feed`` (only the buckets a batch
touched and the carry after them are recomputed), so reading one is a copy, like a meter.

Samples measured by another runtime's polling (read from the database by
``app.runtime.live_share``) come in through ``feed_values`` as (meter id, time, W), under the
same rules as a snapshot's power.

Threads: ``feed`` runs on the engine thread, ``feed_values`` on the live-share thread (for
meters the engine is not fed: the two never write one meter); ``series``, ``latest``, ``keys``,
``version`` and ``define_groups`` may be called from any thread. One lock guards the arrays and
is held only for short work: writing one batch, recomputing a few group buckets, copying one
series out (a full recompute in ``define_groups`` takes and releases it per ``REBUILD_CELLS``
cells, a few ms). Only the Python loop over a batch's samples runs outside the lock.

Memory (``nbytes``): 4 bytes x capacity per meter and per group, 8 bytes x capacity for the
slot table, and 8 bytes per (group, member) pair and per member meter for the membership index.
At 5 s and 24 h the capacity is 17,280 slots, 69,120 bytes a series: 2,000 meters take
138.24 MB (131.8 MiB); with site + 4 buildings of 500 + 40 floors of 50 (45 groups: 3.11 MB,
slots 0.14 MB, membership 0.06 MB) the store holds 141.55 MB. That is close to the floor of dense
float32 at this resolution (the meter rows alone); 10 s buckets or 12 h halve it. Meter rows are
allocated 16 at a time (a new block copies the array once); ``define_groups`` reserves rows for
every member at once, so a whole site is allocated in one go.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable, Mapping

import numpy as np
from numpy.typing import NDArray

from app.hardware.snapshot import Quality, Snapshot

log = logging.getLogger(__name__)

Key = int | str  # a meter id or a group name
Floats = NDArray[np.float32]
Times = NDArray[np.float64]

ROW_BLOCK = 16  # meter rows are allocated in blocks of this many
# define_groups recomputes about this many (member x bucket) cells per lock hold (a few ms)
REBUILD_CELLS = 131_072
_COUNTED = (Quality.GOOD, Quality.PARTIAL)


def carry_forward(values: Floats, limit: int) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Fill each row's gaps with the row's last value if it is at most ``limit`` columns old.

    Returns the filled values as float64 with 0 where still missing, and the mask of where a
    value (measured or carried) is present. Pure numpy: no loop over columns.
    """
    present = ~np.isnan(values)
    if limit <= 0:
        return np.where(present, values, 0.0).astype(np.float64), present
    columns = np.arange(values.shape[1], dtype=np.int32)
    last = np.where(present, columns, np.int32(-1))
    np.maximum.accumulate(last, axis=1, out=last)
    present = (last >= 0) & (columns - last <= limit)
    carried = np.take_along_axis(values, np.maximum(last, 0), axis=1)
    return np.where(present, carried, 0.0).astype(np.float64), present


class LiveStore:
    """Ring buffers of live power (W) per meter and per group; see the module docstring."""

    def __init__(self, step_s: int = 5, hours: float = 24, carry_buckets: int = 3) -> None:
        if step_s < 1:
            raise ValueError(f"step_s must be a whole number of seconds >= 1, got {step_s}")
        exact = hours * 3600 / step_s
        capacity = round(exact)
        if capacity < 1 or abs(exact - capacity) > 1e-6:
            raise ValueError(f"{hours} h is not a whole number of {step_s} s steps")
        if carry_buckets < 0:
            raise ValueError(f"carry_buckets must be >= 0, got {carry_buckets}")
        self.step_s = step_s
        self.capacity = capacity
        self.carry_buckets = carry_buckets
        self._lock = threading.Lock()
        self._define_lock = threading.Lock()  # one define_groups at a time
        self._meter_rows: dict[int, int] = {}
        self._meters: Floats = self._nan_rows(0)
        self._group_rows: dict[str, int] = {}
        self._groups: Floats = self._nan_rows(0)
        # Membership, flat: the meter rows of any group (ascending); for each group that has
        # members, its members as positions in that list, one group after another; where each
        # such group starts in that list; and which group rows these are.
        self._member_rows: NDArray[np.intp] = np.zeros(0, dtype=np.intp)
        self._member_index: NDArray[np.intp] = np.zeros(0, dtype=np.intp)
        self._group_starts: NDArray[np.intp] = np.zeros(0, dtype=np.intp)
        self._filled_groups: NDArray[np.intp] = np.zeros(0, dtype=np.intp)
        self._slot_bucket: NDArray[np.int64] = np.full(self.capacity, -1, dtype=np.int64)
        self._head: int | None = None  # the newest bucket seen
        self._first = 0  # the oldest bucket written since the history (re)started
        self._version = 0

    # -- reading (any thread) ---------------------------------------------------------------

    @property
    def version(self) -> int:
        """Goes up whenever what ``series`` would return may have changed; a chart that saw
        this number last time can skip its redraw."""
        return self._version

    @property
    def nbytes(self) -> int:
        with self._lock:
            arrays = (
                self._meters,
                self._groups,
                self._slot_bucket,
                self._member_rows,
                self._member_index,
                self._group_starts,
                self._filled_groups,
            )
            return sum(a.nbytes for a in arrays)

    def keys(self) -> list[Key]:
        """Meter ids (ascending), then group names (in definition order)."""
        with self._lock:
            return [*sorted(self._meter_rows), *self._group_rows]

    def series(
        self, key: Key, since: float | None = None, until: float | None = None
    ) -> tuple[Times, Floats]:
        """Bucket start times (epoch seconds, float64) and values (W, float32, NaN = none) of a
        meter id or group name, for every bucket of the window that overlaps [since, until]
        (either end open when None). Raises KeyError for an unknown key."""
        with self._lock:
            lo, hi = self._window()
            if since is not None:
                lo = max(lo, math.floor(since / self.step_s))
            if until is not None:
                hi = min(hi, math.floor(until / self.step_s))
            buckets, values = self._copy(key, lo, hi)
        return buckets.astype(np.float64) * self.step_s, values

    def latest(self, key: Key) -> tuple[float, float] | None:
        """(bucket start, W) of the newest value of the series within the last
        ``carry_buckets + 1`` buckets (the same age limit as a group's carry), else None."""
        with self._lock:
            lo, hi = self._window()
            buckets, values = self._copy(key, max(lo, hi - self.carry_buckets), hi)
        found = np.flatnonzero(~np.isnan(values))
        if found.size == 0:
            return None
        at = int(found[-1])
        return float(buckets[at] * self.step_s), float(values[at])

    # -- writing ------------------------------------------------------------------------------

    def define_groups(self, mapping: Mapping[str, Iterable[int]]) -> None:
        """Replace the groups by ``mapping`` (name -> meter ids) and compute their series over
        the history already held. Any thread; reserves a row for every member meter."""
        members = {name: sorted(set(ids)) for name, ids in mapping.items()}
        with self._define_lock:
            with self._lock:
                self._install_groups(members)
                self._version += 1
                if self._head is None:
                    return
                bucket = self._window()[0]
                chunk = self._piece_buckets()
            while True:
                with self._lock:
                    lo, hi = self._window()
                    bucket = max(bucket, lo)
                    if bucket > hi:
                        break
                    end = min(bucket + chunk - 1, hi)
                    self._recompute_groups(bucket, end)
                bucket = end + 1
                time.sleep(0)  # a lock is not fair: let a waiting reader take it now
            with self._lock:
                self._version += 1

    def feed(self, snapshots: Iterable[Snapshot]) -> int:
        """Engine thread: take a batch of snapshots; returns how many samples were stored."""
        ids: list[int] = []
        times: list[float] = []
        powers: list[float] = []
        for snap in snapshots:
            power = snap.power_w
            if power is None or snap.quality not in _COUNTED or not math.isfinite(power):
                continue
            ids.append(snap.meter_id)
            times.append(snap.wall_time.timestamp())
            powers.append(power)
        return self._store(ids, times, powers)

    def feed_values(self, samples: Iterable[tuple[int, float, float]]) -> int:
        """The live-share thread: take samples another runtime measured, each (meter id, epoch
        seconds, W); a non-finite power is skipped. Returns how many samples were stored."""
        ids: list[int] = []
        times: list[float] = []
        powers: list[float] = []
        for meter_id, at_s, power in samples:
            if math.isfinite(power) and math.isfinite(at_s):
                ids.append(meter_id)
                times.append(at_s)
                powers.append(power)
        return self._store(ids, times, powers)

    def _store(self, ids: list[int], times: list[float], powers: list[float]) -> int:
        if not ids:
            return 0
        buckets = np.floor_divide(np.asarray(times), self.step_s).astype(np.int64)
        values = np.asarray(powers, dtype=np.float32)
        with self._lock:
            rows = self._rows_for(ids)
            stored = self._write(rows, buckets, values)
            self._version += 1
        return stored

    # -- internals (the lock is held) -----------------------------------------------------------

    def _nan_rows(self, count: int) -> Floats:
        return np.full((count, self.capacity), np.nan, dtype=np.float32)

    def _window(self) -> tuple[int, int]:
        """First and last bucket that may hold data (empty, lo > hi, before any feed)."""
        if self._head is None:
            return 0, -1
        return max(self._first, self._head - self.capacity + 1), self._head

    def _copy(self, key: Key, lo: int, hi: int) -> tuple[NDArray[np.int64], Floats]:
        if isinstance(key, str):
            array, row = self._groups, self._group_rows[key]
        else:
            array, row = self._meters, self._meter_rows[key]
        buckets = np.arange(lo, max(lo, hi + 1), dtype=np.int64)
        slots = buckets % self.capacity
        values = array[row, slots]
        values[self._slot_bucket[slots] != buckets] = np.nan  # a stale slot is no sample
        return buckets, values

    def _rows_for(self, ids: list[int]) -> NDArray[np.intp]:
        rows = self._meter_rows
        get = rows.get
        out = [get(meter_id, -1) for meter_id in ids]
        if -1 in out:  # meters seen for the first time get the next rows
            out = [rows.setdefault(meter_id, len(rows)) for meter_id in ids]
        needed = len(rows)
        if needed > self._meters.shape[0]:
            grown = self._nan_rows(-(-needed // ROW_BLOCK) * ROW_BLOCK)
            grown[: self._meters.shape[0]] = self._meters
            self._meters = grown
        return np.asarray(out, dtype=np.intp)

    def _install_groups(self, members: Mapping[str, list[int]]) -> None:
        member_rows = np.unique(self._rows_for([m for ids in members.values() for m in ids]))
        position = {int(row): i for i, row in enumerate(member_rows)}
        index: list[int] = []
        starts: list[int] = []
        filled: list[int] = []
        for g, ids in enumerate(members.values()):
            if ids:
                filled.append(g)
                starts.append(len(index))
                index.extend(position[self._meter_rows[m]] for m in ids)
        self._group_rows = {name: g for g, name in enumerate(members)}
        self._groups = self._nan_rows(len(members))
        self._member_rows = member_rows
        self._member_index = np.asarray(index, dtype=np.intp)
        self._group_starts = np.asarray(starts, dtype=np.intp)
        self._filled_groups = np.asarray(filled, dtype=np.intp)

    def _write(self, rows: NDArray[np.intp], buckets: NDArray[np.int64], values: Floats) -> int:
        newest = int(buckets.max())
        head = self._head
        changed: list[int] = []  # besides the written buckets, where groups may change
        if head is None or newest <= head - self.capacity:
            if head is not None:
                log.warning(
                    "live store: the clock went back by more than %d s; live history restarts",
                    self.capacity * self.step_s,
                )
            self._restart(newest)
        elif newest > head:
            self._advance(newest)
            changed.append(head + 1)  # members carried into the new buckets
        assert self._head is not None
        keep = buckets > self._head - self.capacity  # older than the window: dropped
        rows, buckets, values = rows[keep], buckets[keep], values[keep]
        slots = buckets % self.capacity
        # Last fed wins: of repeated (meter, slot) pairs keep the last occurrence.
        flat = rows * self.capacity + slots
        _, from_end = np.unique(flat[::-1], return_index=True)
        pick = flat.size - 1 - from_end
        self._meters[rows[pick], slots[pick]] = values[pick]
        self._first = min(self._first, int(buckets.min()))
        # A group changes in a written bucket and the carry_buckets after it, nowhere else (the
        # buckets the head passed over are NaN already): one recompute per run of those.
        starts = np.unique(np.append(buckets, changed))
        ends = starts + self.carry_buckets
        breaks = np.flatnonzero(starts[1:] > ends[:-1] + 1) + 1
        last = np.append(breaks - 1, starts.size - 1)
        for lo, hi in zip(starts[np.append(0, breaks)], ends[last], strict=True):
            self._recompute_groups(int(lo), int(hi))
        return int(pick.size)

    def _restart(self, newest: int) -> None:
        self._meters.fill(np.nan)
        self._groups.fill(np.nan)
        buckets = np.arange(newest - self.capacity + 1, newest + 1, dtype=np.int64)
        self._slot_bucket[buckets % self.capacity] = buckets
        self._head = newest
        self._first = newest

    def _advance(self, newest: int) -> None:
        assert self._head is not None
        buckets = np.arange(
            max(self._head + 1, newest - self.capacity + 1), newest + 1, dtype=np.int64
        )
        slots = buckets % self.capacity
        if slots.size == self.capacity:
            self._meters.fill(np.nan)
            self._groups.fill(np.nan)
        else:
            self._meters[:, slots] = np.nan
            self._groups[:, slots] = np.nan
        self._slot_bucket[slots] = buckets
        self._head = newest

    def _piece_buckets(self) -> int:
        """How many buckets of group recompute make about REBUILD_CELLS cells."""
        cells_per_bucket = max(1, self._member_rows.size, self._member_index.size)
        return max(1, REBUILD_CELLS // cells_per_bucket)

    def _recompute_groups(self, lo: int, hi: int) -> None:
        """Group values of buckets lo..hi from the members' values (with carry) as they are,
        in pieces of about REBUILD_CELLS cells so the temporary arrays stay small."""
        if self._filled_groups.size == 0:
            return  # a group with no members stays NaN
        first, last = self._window()
        lo, hi = max(lo, first), min(hi, last)
        piece = self._piece_buckets()
        while lo <= hi:
            end = min(lo + piece - 1, hi)
            self._recompute_piece(lo, end, first)
            lo = end + 1

    def _recompute_piece(self, lo: int, hi: int, first: int) -> None:
        context = max(lo - self.carry_buckets, first)
        slots = np.arange(context, hi + 1, dtype=np.int64) % self.capacity
        raw = self._meters[np.ix_(self._member_rows, slots)]
        filled, present = carry_forward(raw, self.carry_buckets)
        skip = lo - context
        # Every (group, member) pair's values one group after another, summed per group: numpy
        # loops only (no BLAS thread pool, whose spinning stalls a busy two-core PC).
        picked = self._member_index
        sums = np.add.reduceat(filled[picked, skip:], self._group_starts, axis=0)
        seen = np.logical_or.reduceat(present[picked, skip:], self._group_starts, axis=0)
        self._groups[np.ix_(self._filled_groups, slots[skip:])] = np.where(
            seen, sums, np.nan
        ).astype(np.float32)
