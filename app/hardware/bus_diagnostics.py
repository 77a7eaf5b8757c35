"""A technician's tests on one bus, run on its bus worker's thread through ``BusWorker.call``.

- ``check_line``: probe meters with the worker's line settings; how many answered, how many
  timed out, how many replies were garbled (CRC/checksum, framing) or refused;
- ``read_registers`` / ``write_registers`` (Modbus FC03/FC04, FC06/FC16) and ``read_di`` /
  ``write_di`` (DL/T 645 read and write data): the raw result in hex and decoded, a write read
  back;
- ``sync_clocks``: each meter's clock drift against the PC clock, then a time sync (broadcast
  or per meter), then the drift again.

Every function returns a ``Future`` at once. Field faults (timeouts, CRC errors, refusals) come
back inside the result as text, never as exceptions, and are counted in the worker's stats.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as day_time
from decimal import Decimal, InvalidOperation

from app.hardware.bus_worker import CLOCK_PRIORITY, COMMAND_PRIORITY, BusMeter, BusWorker
from app.hardware.dlt645.di_table import lookup, parse_di
from app.hardware.dlt645.driver import Dlt645Driver, local_now
from app.hardware.errors import FieldFault
from app.hardware.frame_text import hex_bytes
from app.hardware.link import DROPPED, Link
from app.hardware.modbus.driver import ModbusDriver
from app.hardware.modbus.registers import decode_value
from app.hardware.profiles import Profile

DIAGNOSTIC_PRIORITY = COMMAND_PRIORITY  # a technician waits at the bus: go ahead of polls


@dataclass(frozen=True)
class LineCheck:
    """What probing the meters with the line settings found."""

    asked: int
    answered: tuple[str, ...]
    timeouts: int = 0
    crc_errors: int = 0
    frame_errors: int = 0
    exceptions: int = 0  # answered, but refused (not this profile's registers, no such data)
    errors: int = 0
    problems: tuple[str, ...] = ()  # "000000000002: no reply within 500 ms"


@dataclass(frozen=True)
class RawResult:
    """One raw read or write. ``data`` is the reply in hex (registers, or DI data with the
    0x33 offset removed, least significant byte first); ``decoded`` the value(s) in words."""

    request: str
    ok: bool
    data: str = ""
    decoded: str = ""
    error: str = ""


@dataclass(frozen=True)
class ClockDrift:
    """A meter's clock minus the PC clock, in seconds, before and after the sync (None: not
    read; ``error`` says why)."""

    address: str
    before_s: float | None
    after_s: float | None
    error: str = ""


def _fault_text(exc: FieldFault) -> str:
    return str(exc) or type(exc).__name__


# --- line check ------------------------------------------------------------------------------


def check_line(worker: BusWorker, meters: Sequence[BusMeter]) -> Future[LineCheck]:
    """Probe each meter once with the worker's line settings (counted in its stats)."""

    def run(link: Link) -> LineCheck:
        counts: Counter[str] = Counter()
        answered: list[str] = []
        problems: list[str] = []
        for meter in meters:
            worker.stats.track(meter.address)
            seen = worker.stats.frames_total
            started = time.monotonic()
            try:
                found = worker.driver_for(meter.profile).probe(link, meter.address)
            except FieldFault as exc:
                counts[exc.counter] += 1
                problems.append(f"{meter.address}: {_fault_text(exc)}")
                worker.stats.count_fault(meter.address, exc.counter, _fault_text(exc))
                worker.stats.poll_done(meter.address, False, None, time.time())
                continue
            latency_ms = (time.monotonic() - started) * 1000
            if found:
                answered.append(meter.address)
                worker.stats.poll_done(meter.address, True, latency_ms, time.time())
                continue
            replies = [
                f
                for f in worker.stats.frames_since(seen)[0]
                if f.direction == "rx" and f.note != DROPPED  # not an earlier reply's tail
            ]
            counter, text = (
                ("exceptions", f"answered, but not as a {meter.profile.name} meter")
                if replies
                else ("timeouts", "no reply")
            )
            counts[counter] += 1
            problems.append(f"{meter.address}: {text}")
            worker.stats.count_fault(meter.address, counter, text)
            worker.stats.poll_done(meter.address, False, None, time.time())
        return LineCheck(
            asked=len(meters),
            answered=tuple(answered),
            timeouts=counts["timeouts"],
            crc_errors=counts["crc_errors"],
            frame_errors=counts["frame_errors"],
            exceptions=counts["exceptions"],
            errors=counts["errors"],
            problems=tuple(problems),
        )

    return worker.call(run, DIAGNOSTIC_PRIORITY)


# --- raw access ------------------------------------------------------------------------------


def _raw(
    worker: BusWorker, address: str, request: str, work: Callable[[Link], RawResult]
) -> Future[RawResult]:
    def run(link: Link) -> RawResult:
        try:
            return work(link)
        except FieldFault as exc:
            worker.stats.count_fault(address, exc.counter, _fault_text(exc))
            return RawResult(request, False, error=_fault_text(exc))

    return worker.call(run, DIAGNOSTIC_PRIORITY)


def _modbus(worker: BusWorker, profile: Profile) -> ModbusDriver:
    driver = worker.driver_for(profile)
    if not isinstance(driver, ModbusDriver):
        raise ValueError(f"{profile.name} is not a Modbus profile")
    return driver


def _dlt645(worker: BusWorker, profile: Profile) -> Dlt645Driver:
    driver = worker.driver_for(profile)
    if not isinstance(driver, Dlt645Driver):
        raise ValueError(f"{profile.name} is not a DL/T 645 profile")
    return driver


def describe_registers(
    profile: Profile, function: int, start: int, registers: Sequence[int]
) -> str:
    """Registers as decimal numbers, and the profile's values that lie wholly in them."""
    parts = [", ".join(str(r) for r in registers)]
    driver_map = ModbusDriver(profile).map
    for spec in (*driver_map.values, *driver_map.parameters):
        if (
            spec.function == function
            and start <= spec.address
            and spec.end <= start + len(registers)
        ):
            offset = spec.address - start
            try:
                value = decode_value(spec, registers[offset : offset + spec.size])
            except FieldFault:
                continue
            parts.append(f"{spec.name} = {value:g}")
    return "; ".join(parts)


def _register_hex(registers: Sequence[int]) -> str:
    return " ".join(f"{r:04X}" for r in registers)


def read_registers(
    worker: BusWorker, profile: Profile, address: str, function: int, start: int, count: int
) -> Future[RawResult]:
    """FC03/FC04 read of ``count`` registers from ``start``."""
    request = f"unit {address} FC{function:02d} 0x{start:04X}+{count}"

    def work(link: Link) -> RawResult:
        registers = _modbus(worker, profile).read_registers(
            link, address, function, start, count, "diagnostics read"
        )
        decoded = describe_registers(profile, function, start, registers)
        return RawResult(request, True, _register_hex(registers), decoded)

    return _raw(worker, address, request, work)


def write_registers(
    worker: BusWorker,
    profile: Profile,
    address: str,
    function: int,
    start: int,
    values: tuple[int, ...],
) -> Future[RawResult]:
    """FC06 (one value) or FC16 write, then an FC03 read-back of the same registers."""
    request = f"unit {address} FC{function:02d} 0x{start:04X} = {list(values)}"

    def work(link: Link) -> RawResult:
        driver = _modbus(worker, profile)
        driver.write_registers(link, address, function, start, values, "diagnostics write")
        try:
            back = driver.read_registers(link, address, 3, start, len(values), "read back")
        except FieldFault as exc:
            return RawResult(request, True, decoded=f"written; read-back failed: {exc}")
        same = "matches" if tuple(back) == values else "differs"
        return RawResult(
            request,
            True,
            _register_hex(back),
            f"written; reads back {list(back)} ({same})",
        )

    return _raw(worker, address, request, work)


def describe_di_data(di: int, data: bytes) -> str:
    """The value of a DL/T 645 identifier's data (0x33 removed) in its table format."""
    item = lookup(di)
    if item is None:
        return "not in the DI table: shown as bytes"
    try:
        value = item.decode(data)
    except FieldFault as exc:
        return f"{item.name}: {exc}"
    if isinstance(value, date | day_time):
        text = value.isoformat()
    elif item.kind == "word":
        text = f"{value:0{2 * item.length}X}h"
    else:
        text = f"{value}{' ' + item.unit if item.unit else ''}"
    return f"{item.name} = {text}"


def read_di(worker: BusWorker, profile: Profile, address: str, di: int) -> Future[RawResult]:
    """DL/T 645 read data (11) of identifier ``di``."""
    request = f"{address} read DI {di:08X}"

    def work(link: Link) -> RawResult:
        data = _dlt645(worker, profile).read_di(link, address, di)
        return RawResult(request, True, hex_bytes(data), describe_di_data(di, data))

    return _raw(worker, address, request, work)


def write_di(
    worker: BusWorker, profile: Profile, address: str, di: int, data: bytes
) -> Future[RawResult]:
    """DL/T 645 write data (14) with the profile's password, then read it back."""
    request = f"{address} write DI {di:08X} = {hex_bytes(data)}"

    def work(link: Link) -> RawResult:
        driver = _dlt645(worker, profile)
        driver.write_di(link, address, di, data)
        try:
            back = driver.read_di(link, address, di)
        except FieldFault as exc:
            return RawResult(request, True, decoded=f"written; read-back failed: {exc}")
        same = "matches" if back == data else "differs"
        return RawResult(
            request,
            True,
            hex_bytes(back),
            f"written; reads back {describe_di_data(di, back)} ({same})",
        )

    return _raw(worker, address, request, work)


def parse_di_value(di: int, text: str) -> bytes:
    """What a technician typed for a DL/T 645 write, as the data bytes (0x33 not added): a
    number, date (2030-01-31) or time (12:30:00) for a known identifier, else hex bytes least
    significant first ("00 12"). ValueError says what is wrong."""
    item = lookup(di)
    cleaned = text.strip()
    if item is not None and item.kind in ("number", "date", "time"):
        try:
            if item.kind == "number":
                return item.encode(Decimal(cleaned))
            if item.kind == "date":
                return item.encode(date.fromisoformat(cleaned))
            return item.encode(day_time.fromisoformat(cleaned))
        except (InvalidOperation, ValueError) as exc:
            raise ValueError(f"{item.label} takes a {item.kind}: {exc}") from None
    try:
        data = bytes.fromhex(cleaned)
    except ValueError:
        raise ValueError(f"{cleaned!r} is not hex bytes like 00 12 34") from None
    if not data:
        raise ValueError("give the data to write as hex bytes")
    return data


def parse_di_code(text: str) -> int:
    """A data identifier as people write it (``02010100``, DI3 first). ValueError if not."""
    di = parse_di(text.strip())
    if di is None:
        raise ValueError(f"{text!r} is not a data identifier: give 8 hex digits like 02010100")
    return di


# --- clocks ----------------------------------------------------------------------------------


def sync_clocks(
    worker: BusWorker,
    meters: Sequence[BusMeter],
    broadcast: bool,
    now: Callable[[], datetime] = local_now,
) -> Future[list[ClockDrift]]:
    """Read each meter's clock drift, set the clocks to ``now()`` (one broadcast, or one write
    per meter), read the drift again."""

    def drift(link: Link, meter: BusMeter) -> tuple[float | None, str]:
        try:
            clock = worker.driver_for(meter.profile).read_clock(link, meter.address)
        except FieldFault as exc:
            worker.stats.count_fault(meter.address, exc.counter, _fault_text(exc))
            return None, _fault_text(exc)
        if clock is None:
            return None, f"{meter.profile.name} meters keep no clock"
        return round((clock - now()).total_seconds(), 1), ""

    def run(link: Link) -> list[ClockDrift]:
        before = {m.address: drift(link, m) for m in meters}
        errors: dict[str, str] = {}
        if broadcast and meters:
            worker.driver_for(meters[0].profile).sync_clock(link, None, now())
        else:
            for meter in meters:
                try:
                    worker.driver_for(meter.profile).sync_clock(link, meter.address, now())
                except FieldFault as exc:
                    worker.stats.count_fault(meter.address, exc.counter, _fault_text(exc))
                    errors[meter.address] = _fault_text(exc)
        results = []
        for meter in meters:
            after, problem = drift(link, meter)
            error = errors.get(meter.address) or before[meter.address][1] or problem
            results.append(ClockDrift(meter.address, before[meter.address][0], after, error))
        return results

    return worker.call(run, CLOCK_PRIORITY)
