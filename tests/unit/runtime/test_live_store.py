"""Live power ring buffers: buckets, last-wins, gaps, the 24 h ring, group sums with carry."""

from __future__ import annotations

import math
import threading
import tracemalloc
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from app.hardware.snapshot import Quality, Snapshot
from app.runtime import live_store
from app.runtime.live_store import LiveStore, carry_forward

T0 = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)  # a multiple of 5 s since the epoch
E0 = T0.timestamp()
DAY_S = 24 * 3600


def snap(
    meter_id: int, at_s: float, power_w: float | None, quality: Quality = Quality.GOOD
) -> Snapshot:
    """A poll of ``meter_id`` ``at_s`` seconds after T0."""
    at = T0 + timedelta(seconds=at_s)
    return Snapshot(meter_id, str(meter_id), at_s, at, quality, power_w=power_w)


def values(store: LiveStore, key: int | str, **window: float) -> list[float | None]:
    """A series as a list, None where there is no value."""
    _, vals = store.series(key, **window)
    return [None if math.isnan(v) else float(v) for v in vals]


def test_samples_land_in_the_bucket_of_their_wall_time() -> None:
    store = LiveStore()
    assert store.feed([snap(1, 0, 100), snap(2, 4.9, 200)]) == 2
    store.feed([snap(1, 5, 110), snap(1, 12, 120)])
    times, vals = store.series(1)
    assert times.dtype == np.float64
    assert vals.dtype == np.float32
    assert list(times) == [E0, E0 + 5, E0 + 10]  # bucket starts
    assert values(store, 1) == [100, 110, 120]
    assert values(store, 2) == [200, None, None]  # not seen since: NaN, not carried


def test_the_last_sample_fed_in_a_bucket_wins() -> None:
    store = LiveStore()
    assert store.feed([snap(1, 0, 100), snap(1, 2, 101), snap(2, 1, 7), snap(1, 3, 102)]) == 2
    store.feed([snap(1, 4, 103)])
    assert values(store, 1) == [103]
    assert values(store, 2) == [7]


def test_only_good_or_partial_snapshots_with_a_finite_power_count() -> None:
    store = LiveStore()
    version = store.version
    ignored = [
        snap(1, 0, 100, Quality.FAILED),
        snap(2, 0, None),
        snap(3, 0, math.nan),
        snap(4, 0, math.inf),
    ]
    assert store.feed(ignored) == 0
    assert store.version == version  # nothing changed: nothing to redraw
    assert store.keys() == []
    assert store.feed([*ignored, snap(5, 0, 50, Quality.PARTIAL)]) == 1
    assert store.keys() == [5]
    assert store.version == version + 1


def test_a_meter_that_misses_buckets_has_nan_gaps() -> None:
    store = LiveStore()
    store.feed([snap(1, 0, 10), snap(2, 0, 1)])
    store.feed([snap(2, 5, 2)])
    store.feed([snap(2, 10, 3)])
    store.feed([snap(1, 15, 40), snap(2, 15, 4)])
    assert values(store, 1) == [10, None, None, 40]
    assert values(store, 2) == [1, 2, 3, 4]


def test_the_ring_overwrites_after_24_hours_and_never_returns_old_data_as_new() -> None:
    store = LiveStore()
    assert store.capacity == DAY_S // 5
    store.feed([snap(1, 0, 100), snap(2, 0, 200)])
    store.feed([snap(1, DAY_S - 5, 101)])  # the last bucket of the first day
    times, _ = store.series(1)
    assert (times[0], times[-1]) == (E0, E0 + DAY_S - 5)
    assert values(store, 1)[0] == 100
    # Meter 1 reports in the bucket that reuses slot 0; meter 2 does not report again.
    store.feed([snap(1, DAY_S + 1, 102)])
    times, vals = store.series(1)
    assert times[0] == E0 + 5  # the first day's first bucket is gone
    assert times.size == store.capacity
    assert (vals[-2], vals[-1]) == (101, 102)
    assert np.isnan(vals[:-2]).all()
    assert all(v is None for v in values(store, 2))  # meter 2's slot-0 value did not come back
    assert values(store, 2, since=E0 + DAY_S) == [None]
    assert values(store, 1, until=E0 + 4) == []  # before the window: nothing, not old data


def test_after_a_gap_longer_than_the_ring_nothing_old_is_left() -> None:
    store = LiveStore(step_s=5, hours=1)
    for k in range(720):
        store.feed([snap(1, 5 * k, k), snap(2, 5 * k, k)])
    store.feed([snap(1, 3 * 3600 + 5 * 7, 999)])  # 2 h later, slot 7 again
    times, vals = store.series(1)
    assert times.size == 720
    assert np.flatnonzero(~np.isnan(vals)).tolist() == [719]
    assert vals[-1] == 999
    assert all(v is None for v in values(store, 2))


def test_late_samples_within_the_window_are_kept_older_ones_dropped() -> None:
    store = LiveStore(step_s=5, hours=1)
    store.feed([snap(1, 3600, 50)])
    store.feed([snap(1, 3600 - 20, 40), snap(1, 0, 1)])  # 20 s late; 1 h late: outside
    assert values(store, 1) == [40, None, None, None, 50]


def test_the_history_restarts_when_the_clock_goes_back_more_than_the_window() -> None:
    store = LiveStore(step_s=5, hours=1)
    store.feed([snap(1, 2 * 3600, 70)])
    store.feed([snap(1, 0, 10)])
    times, _ = store.series(1)
    assert list(times) == [E0]
    assert values(store, 1) == [10]


def test_series_window_selects_the_buckets_overlapping_since_and_until() -> None:
    store = LiveStore()
    for k in range(10):
        store.feed([snap(1, 5 * k, k)])
    assert values(store, 1, since=E0 + 12, until=E0 + 25) == [2, 3, 4, 5]
    assert values(store, 1, since=E0 + 40) == [8, 9]
    assert values(store, 1, until=E0 + 5) == [0, 1]
    assert values(store, 1, since=E0 + 30, until=E0 + 20) == []
    assert values(store, 1, since=E0 + 1000) == []
    with pytest.raises(KeyError):
        store.series(99)
    with pytest.raises(KeyError):
        store.series("floor:none")


def test_an_empty_store_has_empty_series_and_no_latest() -> None:
    store = LiveStore()
    store.define_groups({"site": [1, 2]})
    times, vals = store.series("site")
    assert (times.size, vals.size) == (0, 0)
    assert store.latest(1) is None
    assert store.keys() == [1, 2, "site"]


def test_group_sums_carry_a_missing_member_for_at_most_three_buckets() -> None:
    store = LiveStore()
    store.define_groups({"site": [1, 2, 3], "floor:A-1": [2]})
    store.feed([snap(1, 0, 100), snap(2, 0, 10)])
    for k in range(1, 7):
        store.feed([snap(1, 5 * k, 100)])
    # meter 2 is carried in buckets 1-3, then left out; meter 3 never reported
    assert values(store, "site") == [110, 110, 110, 110, 100, 100, 100]
    assert values(store, "floor:A-1") == [10, 10, 10, 10, None, None, None]
    assert values(store, 2) == [10, None, None, None, None, None, None]


def test_carry_zero_means_a_missed_bucket_is_left_out() -> None:
    store = LiveStore(carry_buckets=0)
    store.define_groups({"site": [1, 2]})
    store.feed([snap(1, 0, 100), snap(2, 0, 10)])
    store.feed([snap(1, 5, 100)])
    assert values(store, "site") == [110, 100]


def test_a_late_sample_updates_the_group_in_its_bucket_and_the_carry_after_it() -> None:
    store = LiveStore()
    store.define_groups({"site": [1, 2]})
    for k in range(8):
        store.feed([snap(1, 5 * k, 100)])
    store.feed([snap(2, 5 * 3, 10)])  # bucket 3, fed after bucket 7
    assert values(store, "site") == [100, 100, 100, 110, 110, 110, 110, 100]


def test_a_group_is_nan_only_where_no_member_has_a_value() -> None:
    store = LiveStore()
    store.define_groups({"site": [1, 2], "empty": [], "floor": [2, 3]})
    store.feed([snap(1, 0, 5)])
    store.feed([snap(3, 50, 1)])  # another meter moves the clock on
    assert values(store, "site") == [5, 5, 5, 5, None, None, None, None, None, None, None]
    assert all(v is None for v in values(store, "empty"))
    assert values(store, "floor") == [None] * 10 + [1]


def reference_group(store: LiveStore, members: list[int]) -> list[float | None]:
    """The group rule written out bucket by bucket, to check the vectorised one against."""
    series = [values(store, m) for m in members]
    out: list[float | None] = []
    for t in range(len(series[0])):
        total, seen = 0.0, False
        for vals in series:
            for age in range(min(t, store.carry_buckets) + 1):
                value = vals[t - age]
                if value is not None:
                    total += value
                    seen = True
                    break
        out.append(total if seen else None)
    return out


def random_feed(store: LiveStore, meters: int, buckets: int, seed: int) -> None:
    """Each meter reports in about 70% of buckets (polls drift across bucket edges)."""
    rng = np.random.default_rng(seed)
    for k in range(buckets):
        batch = [
            snap(m, 5 * k + float(rng.uniform(0, 5)), float(rng.integers(0, 5000)))
            for m in range(1, meters + 1)
            if rng.random() < 0.7
        ]
        store.feed(batch)


def test_groups_defined_after_the_history_match_groups_fed_live_and_the_rule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    groups = {"site": [1, 2, 3, 4, 5, 6], "building:A": [1, 2, 3], "floor:A-1": [2, 5]}
    monkeypatch.setattr(live_store, "REBUILD_CELLS", 6 * 50)  # 50 buckets per lock hold
    buckets = 2 * 50 + 37  # three chunks, the chunk edges inside a carry
    live, later = LiveStore(), LiveStore()
    live.define_groups(groups)
    random_feed(live, 6, buckets, seed=7)
    random_feed(later, 6, buckets, seed=7)
    version = later.version
    later.define_groups(groups)
    assert later.version > version
    for name, members in groups.items():
        expected = reference_group(live, members)
        assert values(live, name) == pytest.approx(expected)
        assert values(later, name) == pytest.approx(expected)


def test_redefining_groups_replaces_them() -> None:
    store = LiveStore()
    store.define_groups({"old": [1]})
    store.feed([snap(1, 0, 10), snap(2, 0, 20)])
    store.define_groups({"new": [2]})
    assert store.keys() == [1, 2, "new"]
    assert values(store, "new") == [20]
    with pytest.raises(KeyError):
        store.series("old")


def test_latest_is_the_newest_value_no_older_than_the_carry_limit() -> None:
    store = LiveStore()
    store.define_groups({"site": [1, 2]})
    store.feed([snap(1, 0, 100), snap(2, 0, 10)])
    store.feed([snap(1, 5, 120)])
    assert store.latest(1) == (E0 + 5, 120)
    assert store.latest(2) == (E0, 10)
    assert store.latest("site") == (E0 + 5, 130)
    for k in range(2, 5):
        store.feed([snap(1, 5 * k, 100)])
    assert store.latest(2) is None  # 4 buckets old: no current value
    assert store.latest("site") == (E0 + 20, 100)


def test_carry_forward_fills_each_row_up_to_the_limit() -> None:
    nan = np.nan
    raw = np.array([[1, nan, nan, nan, 2, nan], [nan, nan, 3, nan, nan, nan]], dtype=np.float32)
    filled, present = carry_forward(raw, 2)
    assert present.tolist() == [
        [True, True, True, False, True, True],
        [False, False, True, True, True, False],
    ]
    assert filled.tolist() == [[1, 1, 1, 0, 2, 2], [0, 0, 3, 3, 3, 0]]


def test_the_version_goes_up_with_every_feed_that_stores_something() -> None:
    store = LiveStore()
    seen = [store.version]
    store.feed([snap(1, 0, 1)])
    seen.append(store.version)
    store.feed([snap(1, 1, 2)])  # same bucket: still a change
    seen.append(store.version)
    store.feed([])
    seen.append(store.version)
    assert seen[0] < seen[1] < seen[2] == seen[3]


def test_a_reader_thread_sees_whole_batches_while_a_feeder_thread_writes() -> None:
    """Every bucket's batch holds all meters with power = f(bucket); a reader must only ever
    see values that belong to the bucket they are shown at, and whole-batch group sums."""
    meters = list(range(1, 21))
    store = LiveStore(step_s=5, hours=1)  # 720 slots: the feeder wraps the ring 3 times
    store.define_groups({"site": meters})

    def power(bucket_start: float) -> float:
        return float(int((bucket_start - E0) / 5) % 1000)

    done = threading.Event()
    problems: list[str] = []
    reads = 0

    def feeder() -> None:
        try:
            for k in range(3 * 720 + 100):
                store.feed([snap(m, 5 * k + 1, power(E0 + 5 * k)) for m in meters])
        finally:
            done.set()

    def reader() -> None:
        nonlocal reads
        while not done.is_set() or reads == 0:
            for key in (7, "site"):
                times, vals = store.series(key)
                reads += 1
                if times.size != vals.size or times.size > store.capacity:
                    problems.append(f"{key}: {times.size} times, {vals.size} values")
                if times.size > 1 and not np.all(np.diff(times) == 5):
                    problems.append(f"{key}: times not on a 5 s grid")
                expected = np.array([power(t) for t in times], dtype=np.float32)
                if key == "site":
                    expected *= len(meters)
                finite = ~np.isnan(vals)
                if not np.array_equal(vals[finite], expected[finite]):
                    problems.append(f"{key}: a value shown at the wrong time or half a batch")
                if times.size and np.isnan(vals[-1]):
                    problems.append(f"{key}: the newest bucket has no value")

    threads = [threading.Thread(target=feeder), threading.Thread(target=reader)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert problems == []
    assert reads > 0
    assert values(store, "site")[-1] == power(E0 + 5 * (3 * 720 + 99)) * len(meters)


def test_2000_meters_for_24_hours_at_5_s_fit_in_a_known_bound_under_150_mb() -> None:
    store = LiveStore(step_s=5, hours=24)
    meters = list(range(1, 2001))
    groups: dict[str, list[int]] = {"site": meters}
    for b, building in enumerate("ABCD"):
        block = meters[b * 500 : (b + 1) * 500]
        groups[f"building:{building}"] = block
        for floor in range(10):
            groups[f"floor:{building}-{floor + 1}"] = block[floor * 50 : (floor + 1) * 50]
    store.define_groups(groups)
    store.feed([snap(m, 0, 100) for m in meters])
    before = store.nbytes
    store.feed([snap(m, DAY_S + 3600, 100) for m in meters])  # past a full turn of the ring
    assert store.nbytes == before  # bounded: a day later nothing has grown
    per_series = 17_280 * 4  # float32 per 5 s bucket
    memberships = 2000 * 3  # every meter is in the site, a building and a floor
    expected = (
        2000 * per_series  # meters: 138.24 MB
        + 45 * per_series  # groups: 3.11 MB
        + 17_280 * 8  # the bucket held by each slot
        + (2000 + memberships + 2 * 45) * 8  # membership index
    )
    assert before == expected == 141_553_360
    assert before < 150_000_000
    assert values(store, "site", since=E0 + DAY_S + 3600) == [200_000]


def test_a_long_gap_costs_what_the_batch_touches_not_a_day_of_groups() -> None:
    store = LiveStore()
    meters = list(range(1, 201))
    store.define_groups({"site": meters, "one": [1]})
    store.feed([snap(m, 0, 10) for m in meters])
    tracemalloc.start()
    try:
        store.feed([snap(1, DAY_S - 60, 7)])  # nearly a day later
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # One day of the 200 members as float32 alone would be 13.8 MB.
    assert peak < 1_000_000
    site = values(store, "site")
    assert site[:5] == [2000, 2000, 2000, 2000, None]  # carried 3 buckets, then nothing
    assert site[5:-1] == [None] * (len(site) - 6)
    assert site[-1] == 7


def test_meters_seen_later_get_rows_without_disturbing_the_others() -> None:
    store = LiveStore(step_s=5, hours=1)
    store.define_groups({"site": [1, 2]})
    store.feed([snap(1, 0, 10), snap(2, 0, 20)])
    store.feed([snap(m, 5, m) for m in range(3, 60)])  # rows beyond the first block of 16
    assert store.keys() == [1, 2, *range(3, 60), "site"]
    assert values(store, 1) == [10, None]
    assert values(store, 59) == [None, 59]
    assert values(store, "site") == [30, 30]
