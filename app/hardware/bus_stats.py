"""Per-meter error counters, latency percentiles and the raw frame ring buffer of one bus.

Written by the bus worker's thread, read by anyone (diagnostics dialog, CLI) through
``counters()`` and ``frames()``, which return copies taken under a lock.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field, replace

from app.hardware.link import FrameRecord

FRAME_LOG_SIZE = 4000
LATENCY_SAMPLES = 256


@dataclass
class MeterCounters:
    address: str
    requests: int = 0  # frames sent to this address
    polls: int = 0
    good_polls: int = 0
    failed_polls: int = 0
    timeouts: int = 0
    crc_errors: int = 0
    frame_errors: int = 0
    exceptions: int = 0
    errors: int = 0
    consecutive_failures: int = 0
    online: bool | None = None  # None until the first poll
    last_good_wall: float | None = None
    last_error: str = ""
    latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_SAMPLES))

    def percentile_ms(self, fraction: float) -> float | None:
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]

    @property
    def p50_ms(self) -> float | None:
        return self.percentile_ms(0.5)

    @property
    def p95_ms(self) -> float | None:
        return self.percentile_ms(0.95)

    @property
    def failures(self) -> int:
        return self.timeouts + self.crc_errors + self.frame_errors + self.exceptions + self.errors


class BusStats:
    def __init__(self, addresses: list[str]) -> None:
        self._lock = threading.Lock()
        self._meters = {address: MeterCounters(address) for address in addresses}
        self._frames: deque[FrameRecord] = deque(maxlen=FRAME_LOG_SIZE)
        self.frames_total = 0

    def meter(self, address: str) -> MeterCounters:
        """The live counters of one meter (worker thread only)."""
        counters = self._meters.get(address)
        if counters is None:
            counters = self._meters[address] = MeterCounters(address)
        return counters

    def record_frame(self, frame: FrameRecord) -> None:
        with self._lock:
            self._frames.append(frame)
            self.frames_total += 1
            if frame.direction == "tx" and frame.address in self._meters:
                self._meters[frame.address].requests += 1

    def track(self, address: str) -> None:
        """Keep counters for ``address`` from now on (a meter found by a scan). Any thread."""
        with self._lock:
            self.meter(address)

    def count_fault(self, address: str, counter: str, message: str) -> None:
        with self._lock:
            meter = self.meter(address)
            setattr(meter, counter, getattr(meter, counter) + 1)
            meter.last_error = message

    def poll_done(self, address: str, ok: bool, latency_ms: float | None, wall: float) -> None:
        with self._lock:
            meter = self.meter(address)
            meter.polls += 1
            if ok:
                meter.good_polls += 1
                meter.consecutive_failures = 0
                meter.last_good_wall = wall
                if latency_ms is not None:
                    meter.latencies_ms.append(latency_ms)
            else:
                meter.failed_polls += 1
                meter.consecutive_failures += 1

    def set_online(self, address: str, online: bool) -> None:
        with self._lock:
            self.meter(address).online = online

    def counters(self) -> list[MeterCounters]:
        """Copies of every meter's counters, the failing meters first."""
        with self._lock:
            copies = [replace(m, latencies_ms=deque(m.latencies_ms)) for m in self._meters.values()]
        return sorted(copies, key=lambda m: (-m.failures, m.address))

    def frames_since(self, total: int) -> tuple[list[FrameRecord], int]:
        """The frames recorded after the first ``total`` ones (those still in the ring buffer)
        and the new total: call again with it to get only what came since."""
        with self._lock:
            new = max(0, min(self.frames_total - total, len(self._frames)))
            frames = list(self._frames)[len(self._frames) - new :] if new else []
            return frames, self.frames_total

    def frames(self, address: str | None = None, limit: int | None = None) -> list[FrameRecord]:
        with self._lock:
            frames = [f for f in self._frames if address is None or f.address == address]
        return frames if limit is None else frames[-limit:]
