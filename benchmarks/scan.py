"""Bus scans on simulated lines against the wire-time bound.

(a) A Modbus scan of unit ids 1-247 at 9600 8N1 on a ``sim://`` line with 30 Hiking DDS238-2
    meters (profile hiking-dds238) at 1-30, by a real BusWorker with the profile's reply
    timeout and reply delay.
(b) The DL/T 645 wildcard search of a line with 30 meters (thirty serial numbers of one
    delivery) at 9600 8E1, each meter found read in the same visit (energy, meter number).

The bound of a scan: the bytes actually exchanged (both ways, the tails of colliding replies
included) at the line's character time, plus one silent gap and one reply delay per request
that drew a reply (garbled or not), plus the configured reply timeout per request that drew
none. Target: measured / bound <= 1.15. The work must be right: every meter found, nothing
else, each with its register (and for DL/T 645 its meter number).
Exit status 1 if the work was wrong or a ratio is above its target.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.hardware import transport  # noqa: F401  (registers sim://)
from app.hardware.addresses import MODBUS_MAX_UNIT
from app.hardware.bus_worker import BusWorker, ScanHit
from app.hardware.discovery import colliding_branches
from app.hardware.link import FrameRecord, LineSettings
from app.hardware.profiles import Profile, load_profile
from app.hardware.simulator.sim_line import build_line, register_line, unregister_line

RATIO_TARGET = 1.15
MODBUS_PROFILE = "hiking-dds238"
MODBUS_METERS = [str(n) for n in range(1, 31)]
DLT645_PROFILE = "dlt645-2007"
DLT645_METERS = [f"2308150000{n:02d}" for n in range(1, 31)]
DLT645_TIMEOUT_S = 0.3  # a 9600-baud sub-meter line; the profile's 800 ms is for 2400 baud


@dataclass(frozen=True)
class Wire:
    """What went over the line during a scan, from the worker's frame log."""

    requests: int
    answered: int
    total_bytes: int

    @property
    def silent(self) -> int:
        return self.requests - self.answered


def wire_of(frames: list[FrameRecord]) -> Wire:
    """Requests, those that drew any reply bytes before the next request, and all bytes."""
    requests = answered = 0
    replied = False
    for frame in frames:
        if frame.direction == "tx":
            requests += 1
            answered += replied
            replied = False
        else:
            replied = True
    answered += replied
    return Wire(requests, answered, sum(len(f.data) for f in frames))


def run_scan(
    name: str, profile: Profile, addresses: list[str], settings: LineSettings, wanted: list[str]
) -> tuple[list[ScanHit], float, Wire]:
    register_line(build_line(name, profile, addresses, delay_s=profile.reply_delay_s))
    worker = BusWorker(name, f"sim://{name}", settings, [], lambda _s: None, poll=False)
    worker.start()
    try:
        worker.call(lambda _link: None).result(30)  # the port is open: start the clock now
        started = time.monotonic()
        hits = worker.scan(profile, wanted if profile.protocol == "modbus-rtu" else None).result(
            3600
        )
        elapsed = time.monotonic() - started
        frames = worker.stats.frames()
    finally:
        worker.stop()
        unregister_line(name)
    return hits, elapsed, wire_of(frames)


def report(title: str, settings: LineSettings, delay_s: float, elapsed: float, wire: Wire) -> float:
    char = settings.char_time_s
    wire_s = wire.total_bytes * char
    turn_s = wire.answered * (settings.silent_gap_s + delay_s)
    wait_s = wire.silent * settings.timeout_s
    bound = wire_s + turn_s + wait_s
    ratio = elapsed / bound
    print(title)
    print(
        f"  requests {wire.requests} ({wire.answered} answered, {wire.silent} silent), "
        f"bytes {wire.total_bytes}"
    )
    print(
        f"  bound = bytes x {char * 1000:.3f} ms + answered x ({settings.silent_gap_s * 1000:.2f} "
        f"ms gap + {delay_s * 1000:.0f} ms delay) + silent x {settings.timeout_s * 1000:.0f} ms "
        f"timeout = {wire_s:.2f} + {turn_s:.2f} + {wait_s:.2f} = {bound:.2f} s"
    )
    shares = {"reply timeouts of silent requests": wait_s, "bytes on the wire": wire_s}
    shares["gaps and reply delays"] = turn_s
    top = max(shares, key=lambda k: shares[k])
    print(f"  dominated by {top}: {shares[top] / bound:.0%} of the bound")
    print(f"  measured {elapsed:.2f} s, ratio {ratio:.3f} (target <= {RATIO_TARGET})")
    return ratio


def check(hits: list[ScanHit], addresses: list[str], with_serials: bool) -> list[str]:
    """What is wrong with the hits (empty: the work was right)."""
    wrong = []
    found = [h.address for h in hits if h.ok]
    if sorted(found) != sorted(addresses):
        wrong.append(f"found {len(found)} meters, expected {len(addresses)}")
    for hit in hits:
        if not hit.ok:
            wrong.append(f"{hit.address}: {hit.problem}")
        if hit.register is None:
            wrong.append(f"{hit.address}: register not read")
        if with_serials and hit.serial != hit.address:
            wrong.append(f"{hit.address}: meter number {hit.serial}")
    return wrong


def main() -> int:
    modbus = load_profile(MODBUS_PROFILE)
    line_a = replace(modbus.line, baudrate=9600, bytesize=8, parity="N", stopbits=1)
    wanted = [str(n) for n in range(1, MODBUS_MAX_UNIT + 1)]
    hits_a, elapsed_a, wire_a = run_scan("bench-scan-a", modbus, MODBUS_METERS, line_a, wanted)
    found_a = sorted((h for h in hits_a if h.ok), key=lambda h: int(h.address))
    ratio_a = report(
        f"(a) Modbus scan of 1-247: {len(MODBUS_METERS)} x {MODBUS_PROFILE} at 9600 8N1, "
        f"timeout {line_a.timeout_s * 1000:.0f} ms; found {len(found_a)}",
        line_a,
        modbus.reply_delay_s,
        elapsed_a,
        wire_a,
    )
    wrong_a = check(found_a, MODBUS_METERS, with_serials=False)

    dlt645 = load_profile(DLT645_PROFILE)
    line_b = replace(dlt645.line, baudrate=9600, parity="E", timeout_s=DLT645_TIMEOUT_S)
    hits_b, elapsed_b, wire_b = run_scan("bench-scan-b", dlt645, DLT645_METERS, line_b, [])
    collisions = colliding_branches(DLT645_METERS, len(DLT645_METERS[0]))
    search = 1 + 10 * collisions + len(DLT645_METERS)
    ratio_b = report(
        f"(b) DL/T 645 wildcard search: {len(DLT645_METERS)} x {DLT645_PROFILE} at 9600 8E1, "
        f"timeout {line_b.timeout_s * 1000:.0f} ms; found {sum(h.ok for h in hits_b)}",
        line_b,
        dlt645.reply_delay_s,
        elapsed_b,
        wire_b,
    )
    print(
        f"  requests: {search} for the search (1 + 10 x {collisions} branches "
        f"holding two meters or more + 1 to confirm each meter), "
        f"{wire_b.requests - search} to read energy and meter number"
    )
    wrong_b = check(hits_b, DLT645_METERS, with_serials=True)
    for problem in wrong_a + wrong_b:
        print(f"WRONG: {problem}")
    ok = not wrong_a and not wrong_b and ratio_a <= RATIO_TARGET and ratio_b <= RATIO_TARGET
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
