"""One thread per RS485 line: it owns the port, polls its meters round-robin, and runs commands
(relay, valve, the meter's own alarm, clock) ahead of polls through a priority queue.

RS485 is half-duplex and strictly sequential, so a plain thread running a blocking
request/response loop is the natural model. Results leave through ``on_snapshot`` (called on
this worker's thread; the receiver must only queue it). Wire faults are counted per meter,
retried with a bound, and turn a meter offline after ``offline_after`` failed polls; an offline
meter is probed every ``offline_probe_s`` until it answers. One bad meter never stalls the rest.

A port that cannot be opened, or fails while open (a USB adapter pulled, a gateway gone), is a
line down: every meter on it counts a failed poll per attempt to open it again (every
``reopen_after_s``), ``on_line`` hears the line go down and come back (on this worker's thread;
the receiver must only queue it), and every request queued meanwhile fails at once with the
reason instead of waiting for a line that is not there. Whatever is queued always resolves: a
request that fails or is still queued when the worker stops fails its future.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from app.hardware.bus_scan import ScanProgress, scan_line
from app.hardware.bus_stats import BusStats
from app.hardware.discovery import ScanHit as ScanHit  # re-exported: what scan returns
from app.hardware.driver import SUPPLY_GROUP, MeterDriver, ParameterDriver, ReadResult
from app.hardware.errors import CommandRefused, FieldFault, PortLost, PortUnavailable
from app.hardware.link import MAX_FRAME, LineSettings, Link
from app.hardware.meter_alarm import AlarmDriver, AlarmResult
from app.hardware.profiles import Profile
from app.hardware.protocols import protocol_spec
from app.hardware.snapshot import LINE_DOWN, OFFLINE, VALUE_FIELDS, Quality, Snapshot
from app.hardware.transport import open_link

log = logging.getLogger(__name__)

COMMAND_PRIORITY = 0  # relay, valve and alarm commands: restore supply seconds after a recharge
CLOCK_PRIORITY = 1
READ_PRIORITY = 2
NO_LOAD_W = 1.0  # a load that drops below this gets the relay state read in the same poll


class WorkerStopped(PortUnavailable):
    """The bus worker stopped before it got to the request (the console or serve is ending,
    or the bus was changed): nothing was sent."""


T = TypeVar("T")


@dataclass(frozen=True)
class BusMeter:
    meter_id: int
    address: str
    profile: Profile


@dataclass(frozen=True)
class PollPolicy:
    slow_every: int = 5  # read slow values (energy) on every Nth poll of a meter
    # Read the relay/valve state on every Nth poll (commands read it back at once anyway):
    # it changes only by our commands or the meter's own guard or prepaid limit, and costs a
    # request a poll. A meter whose load drops to nothing has its state read at once.
    supply_every: int = 5
    retries: int = 1  # extra attempts of a failed request
    offline_after: int = 3  # consecutive failed polls before a meter is marked offline
    offline_probe_s: float = 30.0  # how often an offline meter is tried again
    cycle_pause_s: float = 0.0  # rest after each full round (0: poll continuously)
    reopen_after_s: float = 5.0  # wait before reopening a port that failed


@dataclass(frozen=True)
class SupplyResult:
    address: str
    requested_on: bool
    verified: bool  # the read-back state equals the requested one
    supply_on: bool | None  # what the read-back said
    attempts: int
    error: str = ""
    line_down: bool = False  # the port could not be opened or failed: the meter was not asked


@dataclass(order=True)
class _Queued:
    priority: int
    seq: int
    run: Callable[[Link], None] = field(compare=False)
    # Resolves the request's future with the reason it could not run (line down, stopped).
    fail: Callable[[Exception], None] = field(compare=False, default=lambda _exc: None)


class BusWorker:
    def __init__(
        self,
        name: str,
        url: str,
        settings: LineSettings,
        meters: list[BusMeter],
        on_snapshot: Callable[[Snapshot], None],
        *,
        policy: PollPolicy | None = None,
        poll: bool = True,
        link_factory: Callable[[], Link] | None = None,
        on_line: Callable[[str | None], None] | None = None,
    ) -> None:
        self.name = name
        self.url = url
        self.settings = settings
        self.meters = list(meters)
        self.on_snapshot = on_snapshot
        self.policy = policy or PollPolicy()
        self.polling = poll
        self._link_factory = link_factory
        self.stats = BusStats([m.address for m in self.meters])
        self._drivers: dict[str, MeterDriver] = {}
        self._queue: queue.PriorityQueue[_Queued] = queue.PriorityQueue()
        self._seq = itertools.count()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._poll_counts: dict[str, int] = {}
        self._stagger = {m.address: i for i, m in enumerate(self.meters)}
        self._supply_seen: dict[str, bool] = {}  # last relay/valve state read, by address
        self._power_seen: dict[str, float] = {}  # last power read, by address
        self._next_probe: dict[str, float] = {}
        self.cycles = 0
        self.port_error = ""  # why the port is down ("" while it is up)
        # Told the line's state on each change (the reason it is down, or None once it is up;
        # also None at the first opening, so an alarm of an earlier run ends).
        self.on_line = on_line
        self._line_told: str | None = None  # the state last told ("" up, None: not yet)
        self._closing = threading.Lock()  # a request is queued, or refused once the thread ended
        self._ended = False

    # --- life ------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"bus {self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)

    def request_stop(self) -> None:
        """Ask the thread to end after its current request, without waiting for it (stop
        several workers at once, then ``stop`` each to wait)."""
        self._stop.set()
        self._queue.put(_Queued(-1, -1, lambda _link: None))  # wake the loop

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def request_bound_s(self) -> float:
        """The longest one request can take on this line: waiting out a talking line before
        it (at most a reply timeout), the request's own wire time and its reply's bound
        (``Link.frame_bound_s``: the timeout plus the longest frame's wire time)."""
        line = self.settings
        return 2 * (line.timeout_s + line.wire_time_s(MAX_FRAME))

    def read_bound_s(self, profile: Profile) -> float:
        """The longest ``read_now`` of a meter of ``profile`` can take once it runs: at most a
        request per value, the relay state and a follow-up, each attempt."""
        requests = len(profile.values) + 3
        return (self.policy.retries + 1) * requests * self.request_bound_s()

    def switch_bound_s(self) -> float:
        """The longest ``switch_supply`` can take once it runs: a switch and its read-back,
        each attempt."""
        return (self.policy.retries + 1) * 2 * self.request_bound_s()

    # --- commands (any thread) ---------------------------------------------------------------

    def switch_supply(
        self, address: str, on: bool, profile: Profile | None = None
    ) -> Future[SupplyResult]:
        """Switch the relay/valve, then read it back. Jumps ahead of every poll. ``profile``
        serves an address this worker does not poll (a technician's test); without it an
        unknown address raises KeyError."""
        future: Future[SupplyResult] = Future()
        meter = self._meter(address, profile)

        def fail(exc: Exception) -> None:
            error = str(exc) or type(exc).__name__
            line_down = isinstance(exc, PortUnavailable) and not isinstance(exc, WorkerStopped)
            future.set_result(SupplyResult(address, on, False, None, 0, error, line_down))

        self._submit(
            COMMAND_PRIORITY, lambda link: future.set_result(self._switch(link, meter, on)), fail
        )
        return future

    def show_alarm(self, address: str, on: bool) -> Future[AlarmResult]:
        """Make the meter show its alarm to the tenant (buzzer, LED, display), or release it.
        Jumps ahead of every poll like a supply command; a field fault is retried like one.
        The future always resolves with the outcome (a line down or a stopped worker too)."""
        future: Future[AlarmResult] = Future()
        meter = self._meter(address)

        def fail(exc: Exception) -> None:
            error = str(exc) or type(exc).__name__
            line_down = isinstance(exc, PortUnavailable) and not isinstance(exc, WorkerStopped)
            future.set_result(AlarmResult(address, on, False, 0, error, line_down))

        self._submit(
            COMMAND_PRIORITY, lambda link: future.set_result(self._alarm(link, meter, on)), fail
        )
        return future

    def sync_clock(self, address: str | None, when: datetime) -> Future[None]:
        """Set one meter's clock, or broadcast to all (address None)."""
        future: Future[None] = Future()

        def run(link: Link) -> None:
            target = self._meter(address) if address is not None else self.meters[0]
            try:
                self._driver(target).sync_clock(link, address, when)
            except FieldFault as exc:
                future.set_exception(exc)
            else:
                future.set_result(None)

        self._submit(CLOCK_PRIORITY, run, future.set_exception)
        return future

    def write_parameters(
        self, address: str, values: Mapping[str, float]
    ) -> Future[dict[str, float]]:
        """Write meter-side parameters, then read each back: the values the meter now holds
        (the caller compares). A field fault fails the future."""
        future: Future[dict[str, float]] = Future()
        meter = self._meter(address)

        def run(link: Link) -> None:
            driver = self._driver(meter)
            if not isinstance(driver, ParameterDriver):
                future.set_exception(CommandRefused(f"{meter.profile.name} keeps no parameters"))
                return
            try:
                for name, value in values.items():
                    driver.write_parameter(link, address, name, value)
                held = {name: float(driver.read_parameter(link, address, name)) for name in values}
            except FieldFault as exc:
                future.set_exception(exc)
            else:
                future.set_result(held)

        self._submit(COMMAND_PRIORITY, run, future.set_exception)
        return future

    def call(self, fn: Callable[[Link], T], priority: int = COMMAND_PRIORITY) -> Future[T]:
        """Run ``fn(link)`` on this worker's thread (raw requests, diagnostics), ahead of polls
        of lower priority. Whatever ``fn`` raises fails the future; the bus carries on."""
        future: Future[T] = Future()

        def run(link: Link) -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = fn(link)
            except PortLost as exc:  # the port failed: the worker opens it again
                future.set_exception(exc)
                raise
            except Exception as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)

        def fail(exc: Exception) -> None:
            if not future.done():
                future.set_exception(exc)

        self._submit(priority, run, fail)
        return future

    def driver_for(self, profile: Profile) -> MeterDriver:
        """The (cached) driver of ``profile``. Use it on this worker's thread only."""
        driver = self._drivers.get(profile.name)
        if driver is None:
            driver = self._drivers[profile.name] = protocol_spec(profile.protocol).make_driver(
                profile
            )
        return driver

    def read_now(self, address: str, slow: bool = True) -> Future[Snapshot]:
        """Poll one meter now (ahead of the round-robin)."""
        future: Future[Snapshot] = Future()
        meter = self._meter(address)
        self._submit(
            READ_PRIORITY,
            lambda link: future.set_result(self._poll(link, meter, force_slow=slow)),
            future.set_exception,
        )
        return future

    def scan(
        self,
        profile: Profile,
        addresses: list[str] | None,
        progress: ScanProgress | None = None,
        cancel: threading.Event | None = None,
    ) -> Future[list[ScanHit]]:
        """Find meters of ``profile`` at ``addresses``; None finds every meter on the line
        (DL/T 645 / CJ/T 188: the wildcard search; Modbus: unit ids 1-247). Each meter found
        is read in the same visit (``ScanHit``: meter number, register); addresses whose
        replies stayed garbled come back as hits with a ``problem``. ``progress(done, total,
        hits)`` and ``cancel``: see ``app.hardware.bus_scan``. Runs ahead of polls; the
        bus's own line settings and timeout apply."""

        def run(link: Link) -> list[ScanHit]:
            driver = protocol_spec(profile.protocol).make_driver(profile)
            return scan_line(driver, link, addresses, progress, cancel)

        return self.call(run, READ_PRIORITY)

    def _submit(
        self, priority: int, run: Callable[[Link], None], fail: Callable[[Exception], None]
    ) -> None:
        with self._closing:
            if not self._ended:
                self._queue.put(_Queued(priority, next(self._seq), run, fail))
                return
        fail(self._stopped())

    def _meter(self, address: str, profile: Profile | None = None) -> BusMeter:
        for meter in self.meters:
            if meter.address == address:
                return meter
        if profile is not None:
            return BusMeter(0, address, profile)
        raise KeyError(f"no meter at address {address} on bus {self.name}")

    def _driver(self, meter: BusMeter) -> MeterDriver:
        return self.driver_for(meter.profile)

    # --- the loop ----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    link = self._open()
                except PortUnavailable as exc:
                    self._line_failed(str(exc))
                    self._refuse_until(time.monotonic() + self.policy.reopen_after_s)
                    continue
                self._line_up()
                link.between_requests = functools.partial(self._run_urgent, link)
                try:
                    self._serve(link)
                except PortLost as exc:
                    # The line is down until the port opens again: a gateway that dropped the
                    # connection takes the next one after ``reopen_after_s``.
                    self._line_failed(str(exc))
                    self._refuse_until(time.monotonic() + self.policy.reopen_after_s)
                except Exception:
                    log.exception("bus %s: unexpected error; reopening the port", self.name)
                    self._stop.wait(self.policy.reopen_after_s)
                finally:
                    link.close()
        finally:
            with self._closing:
                self._ended = True  # nothing is queued from now on: what is there fails
            self._refuse_queued(self._stopped())

    def _open(self) -> Link:
        if self._link_factory is not None:
            link = self._link_factory()
            link.on_frame = self.stats.record_frame
            return link
        return open_link(self.url, self.settings, self.stats.record_frame)

    def _line_up(self) -> None:
        """The port is open: tell it once (and at the first opening); offline meters are
        probed at once rather than ``offline_probe_s`` after the line came back."""
        if self.port_error:
            log.info("bus %s: %s is open again", self.name, self.url)
            self._next_probe.clear()
        self.port_error = ""
        if self._line_told != "":
            self._line_told = ""
            if self.on_line is not None:
                self.on_line(None)

    def _line_failed(self, error: str) -> None:
        """The port cannot be opened, or failed: one failed poll for every meter on it (each its
        FAILED snapshot, offline after ``offline_after`` of them), and the line down told once
        (with the first reason: a port that failed, then cannot be opened, is one fault)."""
        if not self.port_error:
            log.warning("bus %s: %s", self.name, error)
        self.port_error = error
        wall = time.time()
        for meter in self.meters:
            self.stats.count_fault(meter.address, "errors", error)
            self.stats.poll_done(meter.address, False, None, wall)
            self._update_online(meter.address, False)
            snapshot = self._snapshot(meter, None, time.monotonic(), error)
            snapshot.status[LINE_DOWN] = True
            self.on_snapshot(snapshot)
        if not self._line_told:
            self._line_told = error
            if self.on_line is not None:
                self.on_line(error)

    def _refuse_until(self, until: float) -> None:
        """While the line is down: every request queued fails at once with the reason, until
        it is time to open the port again (or the worker stops)."""
        while not self._stop.is_set() and (remaining := until - time.monotonic()) > 0:
            try:
                queued = self._queue.get(timeout=remaining)
            except queue.Empty:
                return
            if queued.priority >= 0:
                self._fail(queued, PortUnavailable(f"the line is down ({self.port_error})"))

    def _refuse_queued(self, exc: Exception) -> None:
        while (queued := self._next_command(block=False)) is not None:
            if queued.priority >= 0:
                self._fail(queued, exc)

    def _stopped(self) -> WorkerStopped:
        return WorkerStopped(f"bus {self.name} stopped before it got to this request")

    def _fail(self, queued: _Queued, exc: Exception) -> None:
        with contextlib.suppress(InvalidStateError):  # its future was already resolved
            queued.fail(exc)

    def _run_item(self, queued: _Queued, link: Link) -> None:
        """Run one queued request. If it raises (the port failed under it), its future fails
        with the reason and the exception goes on up: the port is opened again."""
        try:
            queued.run(link)
        except Exception as exc:
            self._fail(queued, exc)
            raise

    def _serve(self, link: Link) -> None:
        order = itertools.cycle(range(len(self.meters))) if self.meters else None
        since_round = 0
        while not self._stop.is_set():
            queued = self._next_command(block=not self.polling or order is None)
            if queued is not None:
                if queued.priority >= 0:
                    self._run_item(queued, link)
                continue
            if order is None:
                continue
            meter = self.meters[next(order)]
            since_round += 1
            if since_round >= len(self.meters):
                since_round = 0
                self.cycles += 1
                self._rest(link, self.policy.cycle_pause_s)
            counters = self.stats.meter(meter.address)
            if counters.online is False and time.monotonic() < self._next_probe.get(
                meter.address, 0.0
            ):
                continue
            self._poll(link, meter)

    def _rest(self, link: Link, seconds: float) -> None:
        """Pause polling, but keep serving commands."""
        until = time.monotonic() + seconds
        while not self._stop.is_set() and (remaining := until - time.monotonic()) > 0:
            try:
                queued = self._queue.get(timeout=remaining)
            except queue.Empty:
                return
            if queued.priority >= 0:
                self._run_item(queued, link)

    def _run_urgent(self, link: Link) -> None:
        """Run queued supply commands now, between two requests of a poll."""
        while True:
            with self._queue.mutex:
                heap = self._queue.queue
                urgent = bool(heap) and heap[0].priority == COMMAND_PRIORITY
            if not urgent:
                return
            queued = self._next_command(block=False)
            if queued is None:
                return
            self._run_item(queued, link)

    def _next_command(self, block: bool) -> _Queued | None:
        try:
            return self._queue.get(timeout=0.5) if block else self._queue.get_nowait()
        except queue.Empty:
            return None

    # --- polling -----------------------------------------------------------------------------

    def _poll(self, link: Link, meter: BusMeter, force_slow: bool = False) -> Snapshot:
        count = self._poll_counts.get(meter.address, 0)
        self._poll_counts[meter.address] = count + 1
        # Every value on the first poll; after it, the meters take their turns for the slow
        # reads (staggered by their place on the bus), so each round of the bus costs about
        # the same and no meter's power waits for a whole round of slow reads.
        turn = count + self._stagger.get(meter.address, 0)
        groups = {"fast"}
        if force_slow or count == 0 or turn % max(1, self.policy.slow_every) == 0:
            groups.add("slow")
        if force_slow or count == 0 or turn % max(1, self.policy.supply_every) == 0:
            groups.add(SUPPLY_GROUP)
        started = time.monotonic()
        result: ReadResult | None = None
        error = ""
        for attempt in range(self.policy.retries + 1):
            try:
                result = self._driver(meter).read(link, meter.address, frozenset(groups))
                break
            except FieldFault as exc:
                error = str(exc) or type(exc).__name__
                self.stats.count_fault(meter.address, exc.counter, error)
                if attempt == self.policy.retries:
                    result = None
        if result is not None:
            self._watch_supply(link, meter, result)
        latency_ms = (time.monotonic() - started) * 1000
        wall = time.time()
        ok = result is not None
        self.stats.poll_done(meter.address, ok, latency_ms if ok else None, wall)
        self._update_online(meter.address, ok)
        snapshot = self._snapshot(meter, result, started, error)
        self.on_snapshot(snapshot)
        return snapshot

    def _watch_supply(self, link: Link, meter: BusMeter, result: ReadResult) -> None:
        """Remember the load and the relay state read. When the load of a meter whose relay was
        last seen closed drops to nothing and this poll did not read the state, the relay may
        have opened by itself (the meter's own load guard or prepaid limit): read it now, not
        polls later. (An idle meter's relay is read on the usual ``supply_every``th poll.)"""
        address = meter.address
        power = result.values.get("power_w")
        before = self._power_seen.get(address)
        if power is not None:
            self._power_seen[address] = power
        if (
            result.supply_on is None
            and meter.profile.supply is not None
            and power is not None
            and abs(power) < NO_LOAD_W
            and before is not None
            and abs(before) >= NO_LOAD_W
            and self._supply_seen.get(address) is not False
        ):
            try:
                result.supply_on = self._driver(meter).read_supply(link, address)
            except FieldFault as exc:
                self.stats.count_fault(address, exc.counter, str(exc) or type(exc).__name__)
                result.failures.append(f"supply state: {exc}")
        if result.supply_on is not None:
            self._supply_seen[address] = result.supply_on

    def _update_online(self, address: str, ok: bool) -> None:
        counters = self.stats.meter(address)
        if ok:
            if counters.online is not True:
                self.stats.set_online(address, True)
        elif counters.consecutive_failures >= self.policy.offline_after:
            if counters.online is not False:
                log.info("bus %s: meter %s offline (%s)", self.name, address, counters.last_error)
                self.stats.set_online(address, False)
            self._next_probe[address] = time.monotonic() + self.policy.offline_probe_s

    def _snapshot(
        self, meter: BusMeter, result: ReadResult | None, started: float, error: str
    ) -> Snapshot:
        wall = datetime.now().astimezone()
        if result is None:
            # Tell the engine whether the worker now counts the meter offline.
            offline = self.stats.meter(meter.address).online is False
            return Snapshot(
                meter.meter_id,
                meter.address,
                started,
                wall,
                Quality.FAILED,
                error=error,
                status={OFFLINE: offline},
            )
        values = {k: v for k, v in result.values.items() if k in VALUE_FIELDS}
        supply = result.supply_on
        kind = meter.profile.supply_kind
        quality = Quality.PARTIAL if result.failures else Quality.GOOD
        return Snapshot(
            meter.meter_id,
            meter.address,
            started,
            wall,
            quality,
            relay_closed=supply if kind == "relay" else None,
            valve_open=supply if kind == "valve" else None,
            status=dict(result.status),
            error="; ".join(result.failures),
            **values,
        )

    # --- supply commands ---------------------------------------------------------------------

    def _switch(self, link: Link, meter: BusMeter, on: bool) -> SupplyResult:
        driver = self._driver(meter)
        if meter.profile.supply is None:
            return SupplyResult(
                meter.address,
                on,
                False,
                None,
                0,
                f"profile {meter.profile.name} has no relay or valve",
            )
        error = ""
        state: bool | None = None
        for attempt in range(1, self.policy.retries + 2):
            try:
                driver.set_supply(link, meter.address, on)
                state = driver.read_supply(link, meter.address)
            except CommandRefused as exc:
                self.stats.count_fault(meter.address, exc.counter, str(exc))
                return SupplyResult(meter.address, on, False, state, attempt, str(exc))
            except FieldFault as exc:
                error = str(exc) or type(exc).__name__
                self.stats.count_fault(meter.address, exc.counter, error)
                continue
            if state is not None:
                self._supply_seen[meter.address] = state
            if state is on:
                return SupplyResult(meter.address, on, True, state, attempt)
            error = "the read-back state did not change"
        return SupplyResult(meter.address, on, False, state, self.policy.retries + 1, error)

    def _alarm(self, link: Link, meter: BusMeter, on: bool) -> AlarmResult:
        driver = self._driver(meter)
        if not meter.profile.shows_alarm or not isinstance(driver, AlarmDriver):
            return AlarmResult(
                meter.address, on, False, 0, f"profile {meter.profile.name} shows no alarm"
            )
        error = ""
        for attempt in range(1, self.policy.retries + 2):
            try:
                driver.show_alarm(link, meter.address, on)
            except CommandRefused as exc:
                self.stats.count_fault(meter.address, exc.counter, str(exc))
                return AlarmResult(meter.address, on, False, attempt, str(exc))
            except FieldFault as exc:
                error = str(exc) or type(exc).__name__
                self.stats.count_fault(meter.address, exc.counter, error)
                continue
            return AlarmResult(meter.address, on, True, attempt)
        return AlarmResult(meter.address, on, False, self.policy.retries + 1, error)
