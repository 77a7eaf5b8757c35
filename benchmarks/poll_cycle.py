"""Poll cycle on a simulated line against the wire-time lower bound, and 8 lines at once.

32 simulated meters of PROFILE on one ``sim://`` line at 9600 8N1 with a 20 ms reply delay are
polled by a real BusWorker (fast and slow values every poll). The lower bound of a cycle is the
wire time of the bytes actually exchanged (character time x bytes, both ways) plus one silent gap
and one reply delay per request. Target: measured / bound <= 1.15.

Then 8 such lines are polled at once, each by its own worker, and the request throughput is
compared with one line's in the same run. Target: speed-up >= 7.
Exit status 1 if a target is missed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.hardware.bus_worker import BusMeter, BusWorker, PollPolicy
from app.hardware.link import FrameRecord, LineSettings
from app.hardware.profiles import load_profile
from app.hardware.simulator.sim_line import build_line, register_line

PROFILE = "eastron-sdm120"
METERS = 32
DELAY_S = 0.020
SETTINGS = LineSettings(baudrate=9600, bytesize=8, parity="N", stopbits=1, timeout_s=0.25)
CYCLES = 4
RATIO_TARGET = 1.15
SPEEDUP_TARGET = 7.0


def make_worker(name: str) -> BusWorker:
    profile = load_profile(PROFILE)
    addresses = [str(n) for n in range(1, METERS + 1)]
    register_line(build_line(name, profile, addresses, delay_s=DELAY_S))
    meters = [BusMeter(i, a, profile) for i, a in enumerate(addresses)]
    return BusWorker(
        name,
        f"sim://{name}",
        SETTINGS,
        meters,
        lambda _s: None,
        policy=PollPolicy(slow_every=1, retries=0),
    )


def wait_cycles(workers: list[BusWorker], count: int) -> tuple[float, float]:
    """Wall-clock window (start, end) of ``count`` full cycles of every worker, starting at
    the next cycle boundary."""
    start_counts = [w.cycles for w in workers]
    while any(w.cycles == c for w, c in zip(workers, start_counts, strict=True)):
        time.sleep(0.0005)
    begin = time.time()
    marks = [w.cycles for w in workers]
    while any(w.cycles < m + count for w, m in zip(workers, marks, strict=True)):
        time.sleep(0.0005)
    return begin, time.time()


def tx_frames(worker: BusWorker, window: tuple[float, float]) -> list[FrameRecord]:
    begin, end = window
    return [f for f in worker.stats.frames() if begin <= f.wall_time <= end]


def main() -> int:
    worker = make_worker("bench-1")
    worker.start()
    try:
        wait_cycles([worker], 1)  # warm up: first slow reads, imports
        window = wait_cycles([worker], CYCLES)
    finally:
        worker.stop()
    elapsed = window[1] - window[0]
    frames = tx_frames(worker, window)
    requests = sum(1 for f in frames if f.direction == "tx")
    total_bytes = sum(len(f.data) for f in frames)
    bound = total_bytes * SETTINGS.char_time_s + requests * (SETTINGS.silent_gap_s + DELAY_S)
    cycle = elapsed / CYCLES
    bound_cycle = bound / CYCLES
    ratio = elapsed / bound
    failures = sum(c.failures for c in worker.stats.counters())
    print(f"one line: {METERS} x {PROFILE} at 9600 8N1, reply delay {DELAY_S * 1000:.0f} ms")
    print(
        f"  requests per cycle {requests / CYCLES:.1f}, bytes per cycle "
        f"{total_bytes / CYCLES:.0f}, failures {failures}"
    )
    print(
        f"  measured cycle {cycle * 1000:.1f} ms, wire-time lower bound "
        f"{bound_cycle * 1000:.1f} ms, ratio {ratio:.3f} (target <= {RATIO_TARGET})"
    )
    single_rate = requests / elapsed

    workers = [make_worker(f"bench-8-{n}") for n in range(8)]
    for w in workers:
        w.start()
    try:
        wait_cycles(workers, 1)
        wall0 = time.time()
        wait_cycles(workers, CYCLES)
        wall1 = time.time()
    finally:
        for w in workers:
            w.stop()
    total = sum(
        sum(1 for f in w.stats.frames() if wall0 <= f.wall_time <= wall1 and f.direction == "tx")
        for w in workers
    )
    speedup = (total / (wall1 - wall0)) / single_rate
    print(
        f"eight lines at once: {total / (wall1 - wall0):.1f} requests/s against "
        f"{single_rate:.1f} on one line: speed-up {speedup:.2f} (target >= {SPEEDUP_TARGET})"
    )
    ok = ratio <= RATIO_TARGET and speedup >= SPEEDUP_TARGET
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
