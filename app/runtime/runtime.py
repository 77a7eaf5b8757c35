"""Wires the field side at run time: a bus worker per line, the engine, simulated lines for
``sim://`` buses. The GUI and ``main.py serve`` run the same Runtime."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.hardware.bus_diagnostics import ClockDrift
from app.hardware.bus_worker import BusWorker, PollPolicy, SupplyResult
from app.hardware.link import LineSettings
from app.hardware.meter_alarm import AlarmResult
from app.hardware.meter_side_guard import meter_side_guard
from app.hardware.snapshot import Snapshot
from app.queries.site_facts import power_groups
from app.runtime.account_orders import account_orders_since, newest_event_id
from app.runtime.clock_sync import ClockSyncOutcome, record_not_sent, record_sync, sync_meter_clock
from app.runtime.clock_watch import CLOCK_CHECK_S, FIRST_CHECK_S, ClockRounds
from app.runtime.command_queue import (
    NOBODY_POLLS,
    QUEUE_LIMIT_S,
    Queued,
    expired,
    pending,
    settled_ids,
    take_queued,
)
from app.runtime.engine import Engine
from app.runtime.fee_billing import FeeBilling
from app.runtime.health_days import HealthDays
from app.runtime.line_alarms import end_line_alarms, line_down, line_up
from app.runtime.live_share import LiveShare
from app.runtime.live_store import LiveStore
from app.runtime.load_control import LoadControl, record_parameters
from app.runtime.meter_alarms import MeterAlarms
from app.runtime.notice_sender import ROUND_S as NOTICE_ROUND_S
from app.runtime.notice_sender import NoticeSender
from app.runtime.operator_commands import OperatorCommands, RestoreOutcome, SwitchOutcome
from app.runtime.ownership import ClaimRound, Ownership
from app.runtime.reading_store import BatchResult, latest_good
from app.runtime.sim_site import SimMeterSpec, SimSite, sim_line_name, sim_spec
from app.runtime.supply_control import Route, SupplyControl, local_zone
from app.runtime.usage_billing import DEFAULT_POSTING_S, UsageBilling
from app.services.field_setup import BusSetup, load_field_setup
from app.services.ledger import counter_entries_since, newest_entry_id
from app.services.setup_checks import field_revision
from app.store.database import Database
from app.store.field_lock import FieldLocks, bus_unit
from app.vocabulary import RelayAction

log = logging.getLogger(__name__)


# How often the ledger is checked for counter work done by other processes (a cashier's PC, the
# command line): a recharge there restores supply within about this time.
MONEY_WATCH_S = 2.0
HEARTBEAT_S = 5.0  # how often the owner rows say their units are still held
WATCH_BACKOFF_ROUNDS = 5  # after failed rounds the watch waits up to this many times longer

# The demo stores a reading a minute and posts every minute, so balances visibly fall.
DEMO_INTERVAL_S = 60
DEMO_POSTING_S = 60.0


LIVE_CARRY_BUCKETS = 6  # of the live store's 5 s buckets


@dataclass(frozen=True)
class RuntimeOptions:
    simulate: bool = True  # serve sim:// buses with simulated meters
    time_scale: float = 1.0
    poll: PollPolicy = field(default_factory=lambda: PollPolicy(cycle_pause_s=1.0))
    interval_s: int = 900
    policy_tick_s: float = 60.0  # every account's supply policy is evaluated this often
    posting_s: float = DEFAULT_POSTING_S  # rated usage is posted to the ledger this often
    clock_check_s: float = CLOCK_CHECK_S  # every meter's clock is read this often
    attached: bool = False  # poll nothing: another runtime owns the field (a console's --attach)
    buses: frozenset[str] | None = None  # poll only these buses (``serve --buses``); None: all
    role: str = "console"  # "serve" or "console", for the owner rows people read
    queue_limit_s: float = QUEUE_LIMIT_S  # a queued command nobody took fails after this
    notice_s: float = NOTICE_ROUND_S  # the site's owner looks for texts to send this often


@dataclass(frozen=True)
class _WorkerKey:
    """What a bus's worker is built from: a bus whose key is unchanged polls on undisturbed
    (a meter's account, utility or rated current reach the engine, not the worker)."""

    url: str
    line: LineSettings
    meters: tuple[tuple[int, str, str], ...]  # (meter id, address, profile)

    @classmethod
    def of(cls, bus: BusSetup) -> _WorkerKey:
        return cls(bus.url, bus.line, tuple((m.meter_id, m.address, m.profile) for m in bus.meters))


def _now() -> datetime:
    return datetime.now(UTC)


class Runtime:
    def __init__(
        self, db: Database, options: RuntimeOptions | None = None, locks: FieldLocks | None = None
    ) -> None:
        self.db = db
        self.options = options or RuntimeOptions()
        # The meters that can show an alarm to the tenant are told when their account's
        # warnings change (a failed alarm command is logged, never a critical alarm).
        self.meter_alarms = MeterAlarms(self._dispatch_alarm)
        self.control = SupplyControl(self._dispatch, self.meter_alarms.account_changed)
        self.load = LoadControl(
            self.control, meter_side=self._meter_side, configure=self._configure
        )
        self.billing = UsageBilling(posting_s=self.options.posting_s)
        self._next_policy = 0.0  # monotonic time of the next supply evaluation
        self.fees = FeeBilling()
        # Live power for charts: per meter, floor, building, site. A group carries a member's
        # last value for 30 s: a slow bus (DL/T 645 at 9600 baud, one request per value) can
        # take 20 s to come back to a meter, and its building's line must not droop meanwhile.
        self.live = LiveStore(carry_buckets=LIVE_CARRY_BUCKETS)
        # Live share: the meters polled here are published through the database; those another
        # runtime polls (all of them on an attached console) are read from it into ``live``.
        self.live_share = LiveShare(
            db,
            self.live,
            polled_here=lambda: self._meter_bus.keys(),
            others_poll=lambda: bool(self._configured.difference(self._meter_bus)),
        )
        self.engine = Engine(
            db,
            interval_s=self.options.interval_s,
            on_snapshots=self._on_snapshots,
            on_stored=self._rate,
            on_start=self._start_billing,
            tick=self._tick,
            tick_s=min(self.options.policy_tick_s, self.options.posting_s),
        )
        # An operator's switch, load-guard restore and clock sync (the Meter detail), and live
        # values.
        self.operator_commands = OperatorCommands(
            self.engine.call, self.control, self.load, self._dispatch_clock
        )
        self.workers: list[BusWorker] = []
        # The workers' poll counters, added to each meter's day (meter_health_day).
        self.health = HealthDays(lambda: self.workers)
        # Every clock-keeping meter's clock is read now and then (the clock-drift alarm).
        self.clocks = ClockRounds(
            lambda: list(self.workers),
            self.engine.call,
            every_s=self.options.clock_check_s,
            first_s=min(FIRST_CHECK_S, self.options.clock_check_s),
        )
        # ``workers`` and ``_meter_bus`` are replaced whole, never changed in place: the engine
        # and the clock rounds read them while ``reload_field`` swaps in the new ones.
        self._meter_bus: dict[int, tuple[BusWorker, str]] = {}
        self._started: dict[str, _WorkerKey] = {}  # what each bus's worker was built from
        self._bus_ids: dict[str, int] = {}  # by name: the buses started (their line alarms)
        self._problems: dict[str, list[str]] = {}  # by bus: meters that could not be set up
        self._revision = 0  # the field revision the workers were started or reloaded at
        self.sim: SimSite | None = None
        # What this runtime owns (the site's duties, buses) and waits for as standby.
        self.ownership = Ownership(
            db,
            role=self.options.role,
            poll=not self.options.attached,
            buses=self.options.buses,
            locks=locks,
        )
        self._configured: set[int] = set()  # meters of every bus polled by any runtime
        # Told (on the money watch's thread) when this runtime took over or lost units.
        self.on_claims: Callable[[ClaimRound], None] | None = None
        self._field_lock = threading.Lock()  # one reload_field at a time
        self._paused: frozenset[str] = frozenset()  # units whose polling a technician paused
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        # Tenants' text messages go out from the runtime that holds the site's duties.
        self.notices = NoticeSender(
            db, lambda: self.ownership.site_duties, every_s=self.options.notice_s
        )

    def start(self) -> None:
        with self.db.session() as session:
            self._revision = field_revision(session)
        configured = load_field_setup(self.db)
        self._claim(configured)
        setup = [bus for bus in configured if self.ownership.owns_bus(bus.bus_id)]
        self.live.define_groups(power_groups(self.db))
        if self.options.simulate:
            specs, zone = self._sim_specs(setup)
            self.sim = SimSite(specs, scale=self.options.time_scale, zone=zone)
        self.engine.start()
        self._watcher = threading.Thread(target=self._watch_money, name="money watch", daemon=True)
        self._watcher.start()
        self.live_share.start()  # live share
        workers: list[BusWorker] = []
        meter_bus: dict[int, tuple[BusWorker, str]] = {}
        for bus in setup:
            self._start_worker(bus, workers, meter_bus)
        self.workers, self._meter_bus = workers, meter_bus
        # A line alarm of a bus no longer polled (disabled or retired since the last run) ends.
        if self.ownership.site_duties:
            polled = {bus.bus_id for bus in configured}
            self.engine.call(lambda session: end_line_alarms(session, _now(), keep=polled))
        self.clocks.start()
        self.notices.start()
        log.info(
            "runtime started: %d buses, %d meters%s",
            len(self.workers),
            sum(len(w.meters) for w in self.workers),
            "" if self.ownership.site_duties else " (the site's duties are another runtime's)",
        )

    def claim_field(self) -> None:
        """Claim what this runtime may own (the site's duties, its buses) without starting a
        worker: for a caller that feeds the engine itself (tests, benchmarks; they give the
        runtime ``SoleLocks``)."""
        self._claim(load_field_setup(self.db))

    def _claim(self, setup: list[BusSetup]) -> ClaimRound:
        """A claim round over the site's polled buses (``setup``), which are also what a supply
        command may be queued for."""
        self._configured = {m.meter_id for bus in setup for m in bus.meters}
        return self.ownership.claim({bus.name: bus.bus_id for bus in setup})

    @property
    def problems(self) -> list[str]:
        """Meters of the running buses that could not be set up (their profile cannot be
        loaded); the rest of each bus is polled."""
        return [problem for problems in list(self._problems.values()) for problem in problems]

    def _sim_specs(self, setup: list[BusSetup]) -> tuple[list[SimMeterSpec], ZoneInfo]:
        """Simulated meters for the sim:// buses, counting on from their stored registers, and
        the site's time zone (their clocks keep it)."""
        with self.db.session() as session:
            stored = {r.meter_id: r for r in latest_good(session)}
            zone = local_zone(session)
        specs = [
            sim_spec(bus.url, m.profile, m.address, stored.get(m.meter_id))
            for bus in setup
            if sim_line_name(bus.url)
            for m in bus.meters
        ]
        return specs, zone

    def _start_worker(
        self,
        bus: BusSetup,
        workers: list[BusWorker],
        meter_bus: dict[int, tuple[BusWorker, str]],
    ) -> None:
        """Start the bus's worker (none for a bus without meters) and add it to ``workers``
        and its meters to ``meter_bus``."""
        meters, problems = bus.bus_meters()
        self._problems[bus.name] = problems
        self._started[bus.name] = _WorkerKey.of(bus)
        self._bus_ids[bus.name] = bus.bus_id
        if not meters:
            return

        def on_line(error: str | None) -> None:  # on the bus worker's thread
            if error is None:
                self.engine.call(lambda session: line_up(session, bus.bus_id, _now()))
            else:
                self.engine.call(
                    lambda session: line_down(session, bus.bus_id, bus.name, bus.url, error, _now())
                )

        worker = BusWorker(
            bus.name,
            bus.url,
            bus.line,
            meters,
            self.engine.submit,
            policy=self.options.poll,
            on_line=on_line,
        )
        workers.append(worker)
        for meter in worker.meters:
            meter_bus[meter.meter_id] = (worker, meter.address)
        worker.start()

    def reload_field(self, field_changed: bool = True) -> None:
        """The money watch's thread (its only caller): take up buses and meters added, changed,
        disabled or retired since the start (or the last reload) without a restart. A bus whose
        port, line settings or meters (address, profile) changed is restarted; the others poll
        on undisturbed (an account opened or closed on a room changes nothing on its bus)."""
        with self._field_lock:
            self._reload_field(field_changed)

    def _reload_field(self, field_changed: bool) -> None:
        setup = load_field_setup(self.db)
        claimed = self._claim(setup)
        if claimed.changed and self.on_claims is not None:
            self.on_claims(claimed)
        if claimed.gained:
            # Another runtime billed these buses until now: start from what it stored.
            self.engine.reload()
            log.info("now owning %s", sorted(claimed.gained))
        if claimed.lost:
            log.warning("no longer owning %s: their polling stops", sorted(claimed.lost))
        wanted = {
            bus.name: bus
            for bus in setup
            if self.ownership.owns_bus(bus.bus_id) and bus_unit(bus.bus_id) not in self._paused
        }
        keys = {name: _WorkerKey.of(bus) for name, bus in wanted.items()}
        stop = {name for name, key in self._started.items() if keys.get(name) != key}
        start = [name for name, key in keys.items() if self._started.get(name) != key]
        if not (field_changed or start or stop):
            return  # a standby's round that took over nothing
        stopping = [w for w in self.workers if w.name in stop]
        # Nothing is handed to a stopping worker any more, then it stops.
        workers = [w for w in self.workers if w.name not in stop]
        meter_bus = {k: held for k, held in self._meter_bus.items() if held[0].name not in stop}
        self.workers, self._meter_bus = workers, meter_bus
        for worker in stopping:
            worker.stop()
        gone = []
        for name in stop:
            del self._started[name]
            self._problems.pop(name, None)
            gone.append(self._bus_ids.pop(name))
        if self.sim is not None and start:
            specs, _zone = self._sim_specs([wanted[name] for name in start])
            self.sim.update(specs)
        workers, meter_bus = list(workers), dict(meter_bus)
        for name in start:
            self._start_worker(wanted[name], workers, meter_bus)
        self.workers, self._meter_bus = workers, meter_bus
        self.live.define_groups(power_groups(self.db))
        self.engine.call(self._take_up_changes)
        # A bus no longer polled by anyone (disabled or retired) has no line to be down; one
        # that another runtime took over keeps its alarm for that runtime to clear.
        ended = set(gone) - {bus.bus_id for bus in setup}
        if ended:
            self.engine.call(lambda session: end_line_alarms(session, _now(), only=ended))
        if start or stop:
            log.info("field reloaded: started %s, stopped %s", start, sorted(stop))

    def _on_snapshots(self, session: Session, snapshots: list[Snapshot]) -> None:
        self.load.feed(session, snapshots)
        self.live.feed(snapshots)
        self.live_share.offer(snapshots)  # live share: for the consoles that do not poll
        self.operator_commands.seen(snapshots)
        self.health.flush_due(session)

    def _start_billing(self, session: Session) -> None:
        self.billing.load(session)
        self.fees.load(session, datetime.now(UTC))

    def _rate(self, session: Session, result: BatchResult) -> None:
        """Engine thread: price the readings just stored; post at once for accounts whose
        waiting charge crosses into another credit region, and act on their supply."""
        touched = self.billing.rate(session, result.stored)
        due = self.billing.crossing(session, touched)
        if due:
            posted = self.billing.post(session, due)
            if self.ownership.site_duties:  # else the site's owner sees the posting and acts
                self.control.evaluate(session, posted)

    def _tick(self, session: Session) -> None:
        """Engine thread, every ``posting_s`` or ``policy_tick_s``, whichever is shorter: post
        when a posting time has come; every ``policy_tick_s`` also take up replaced meters,
        tariff and account changes, charge fees due and evaluate every account's supply.
        Load-guard settings are not read here: saving them moves the field revision, and
        ``reload_field`` takes them up."""
        now = datetime.now(UTC)
        policy_due = time.monotonic() >= self._next_policy
        if policy_due:
            self._next_policy = time.monotonic() + self.options.policy_tick_s
            self._take_up_billing_changes(session)
        if self.billing.posting_due(now.timestamp()):
            self.billing.post(session)
        if policy_due and self.ownership.site_duties:  # fees and supply: the site's owner
            self.fees.charge(
                session, self.billing.book, self.billing.zone, self.billing.currency, now
            )
            self.control.evaluate(session, None, now)

    def _take_up_billing_changes(self, session: Session) -> None:
        """Engine thread: meters added, replaced or retired, tariff and account changes made
        meanwhile (by this console, another one or the command line)."""
        added, removed = self.engine.readings.refresh(session)
        if added or removed:
            self.billing.replaced(session, added, removed)
        self.billing.refresh(session)

    def _take_up_changes(self, session: Session) -> None:
        """Engine thread, after the field revision moved: what ``_take_up_billing_changes``
        takes up, and load-guard settings (and meters' rooms) changed meanwhile."""
        self._take_up_billing_changes(session)
        self.load.settings_changed(session)

    def post_now(self) -> None:
        """Any thread: post every waiting charge in the engine's next transaction."""
        self.engine.call(lambda session: self.billing.post(session))

    def post_and_wait(self, accounts: list[int] | None = None, timeout_s: float = 30.0) -> bool:
        """Any thread but the engine's: post what waits for these accounts (None: all) and
        return once it is committed (True), or False after ``timeout_s``. Settling an account
        calls it first, so its final bill holds the usage rated up to that moment."""
        committed = threading.Event()

        def task(session: Session) -> None:
            self.billing.post(session, accounts)
            event.listen(session, "after_commit", lambda _s: committed.set(), once=True)

        self.engine.call(task)
        return committed.wait(timeout_s)

    def account_changed(self, account_id: int) -> None:
        """Any thread: an account's balance or policy changed (a recharge was committed):
        evaluate its supply now, so a cut-off room is switched back on within seconds. Only the
        site's owner decides supply; another runtime leaves it to that one's money watch."""
        if self.ownership.site_duties:
            self.engine.call(lambda session: self.control.evaluate(session, [account_id]))

    def switch_relay(
        self, meter_id: int, on: bool, operator_id: int, reason: str
    ) -> Future[SwitchOutcome]:
        """Any thread: an operator switches the meter's supply on or off (a cut is manual: the
        balance policy leaves it off). The future resolves, on the engine thread, with the
        verified read-back, or fails with PermissionDenied / MeterActionRefused (switching on
        an account cut off for arrears without keep power, or a meter the load guard holds)."""
        return self.operator_commands.switch_relay(meter_id, on, operator_id, reason)

    def restore_load_guard(
        self, meter_id: int, operator_id: int, note: str
    ) -> Future[RestoreOutcome]:
        """Any thread: an operator lifts the meter's load-guard trip or lock-out and its supply
        is switched on (unless its account is cut off for arrears); see ``switch_relay``."""
        return self.operator_commands.restore_load_guard(meter_id, operator_id, note)

    def sync_clock(self, meter_id: int, operator_id: int, reason: str) -> Future[ClockSyncOutcome]:
        """Any thread: an operator sets the meter's clock to the site's time, on its bus here or
        by the runtime that polls it. The future resolves, on the engine thread, with the drift
        read before and after, or fails with PermissionDenied / MeterActionRefused."""
        return self.operator_commands.sync_clock(meter_id, operator_id, reason)

    def latest_snapshot(self, meter_id: int) -> Snapshot | None:
        """Any thread: the meter's newest polled values (None before its first good poll)."""
        return self.operator_commands.latest_snapshot(meter_id)

    def _route(self, meter_id: int, send: Callable[[tuple[BusWorker, str]], None]) -> Route:
        """Engine thread: ``send`` a command to the meter's bus worker, or leave it in the
        database for the runtime that owns the meter's bus."""
        found = self._meter_bus.get(meter_id)
        if found is None:
            return Route.QUEUED if meter_id in self._configured else Route.NO_BUS
        send(found)
        return Route.SENT

    def _dispatch(self, meter_id: int, on: bool, command_id: int) -> Route:
        return self._route(meter_id, lambda found: self._send(found, on, command_id))

    def _dispatch_clock(self, meter_id: int, command_id: int, zone: ZoneInfo) -> Route:
        return self._route(meter_id, lambda found: self._send_clock(found, command_id, zone))

    def _send(self, found: tuple[BusWorker, str], on: bool, command_id: int) -> None:
        """Any thread: send the command on the bus; its read-back is recorded on the engine
        thread (and delivered to an operator waiting for it)."""
        worker, address = found

        def done(future: Future[SupplyResult]) -> None:  # runs on the bus worker's thread
            result = future.result()

            def record(session: Session) -> None:
                self.control.record_result(session, command_id, result)
                self.operator_commands.settled(session, command_id)  # an operator may wait for it

            self.engine.call(record)

        worker.switch_supply(address, on).add_done_callback(done)

    def _dispatch_alarm(self, meter_id: int, command_id: int, on: bool) -> Route:
        return self._route(meter_id, lambda found: self._send_alarm(found, command_id, on))

    def _send_alarm(self, found: tuple[BusWorker, str], command_id: int, on: bool) -> None:
        """Any thread: tell the meter to show (or release) its alarm, ahead of polling; the
        outcome is recorded on the engine thread."""
        worker, address = found

        def done(future: Future[AlarmResult]) -> None:  # runs on the bus worker's thread
            result = future.result()
            self.engine.call(
                lambda session: self.meter_alarms.record_result(session, command_id, result)
            )

        worker.show_alarm(address, on).add_done_callback(done)

    def _send_clock(self, found: tuple[BusWorker, str], command_id: int, zone: ZoneInfo) -> None:
        """Any thread: sync the meter's clock on its bus; the drift before and after is
        recorded on the engine thread (and delivered to the operator waiting for it)."""
        worker, address = found

        def done(future: Future[ClockDrift]) -> None:  # runs on the bus worker's thread
            drift = future.result()

            def record(session: Session) -> None:
                record_sync(session, command_id, drift)
                self.operator_commands.settled(session, command_id)

            self.engine.call(record)

        sync_meter_clock(worker, address, zone).add_done_callback(done)

    def _meter_side(self, meter_id: int) -> Mapping[str, str] | None:
        """The meter's profile's meter-side load guard, if it has one (engine thread)."""
        found = self._meter_bus.get(meter_id)
        if found is None:
            return None
        worker, address = found
        meter = next((m for m in worker.meters if m.address == address), None)
        return None if meter is None else meter_side_guard(meter.profile)

    def _configure(self, meter_id: int, values: dict[str, float]) -> None:
        """Engine thread: write meter-side parameters; the read-back is checked when it comes
        and a meter that did not take them raises a critical alarm."""
        worker, address = self._meter_bus[meter_id]

        def done(future: Future[dict[str, float]]) -> None:  # on the bus worker's thread
            try:
                held: dict[str, float] | str = future.result()
            except Exception as exc:
                held = str(exc) or type(exc).__name__
            self.engine.call(lambda session: record_parameters(session, meter_id, values, held))

        worker.write_parameters(address, values).add_done_callback(done)

    def _watch_money(self) -> None:
        """Own thread, every ``MONEY_WATCH_S``: what other processes did. Accounts whose money
        changed there are evaluated at once (a recharge on another PC restores supply in
        seconds, not at the next tick); a change of buses or meters (the field revision moved)
        is taken up; buses whose owner died are taken over; supply commands other runtimes
        left for this one's buses are sent, and the outcomes of those this one left for others
        reach the operator waiting for them. A round that fails (the database busy or away) is
        logged and the next one tries again: the watch never ends before the runtime."""
        last: int | None = None
        last_event = 0
        next_beat = 0.0
        failures = 0
        wait_s = 0.0  # where the ledger and the audit trail stand is read at once
        while not self._stopping.wait(wait_s):
            wait_s = MONEY_WATCH_S * min(1 + failures, WATCH_BACKOFF_ROUNDS)
            try:
                if last is None:  # what is written from now on is what this watch acts on
                    with self.db.session() as session:
                        last, last_event = newest_entry_id(session), newest_event_id(session)
                    continue
                last, last_event = self._watch_round(last, last_event)
                if time.monotonic() >= next_beat:
                    next_beat = time.monotonic() + HEARTBEAT_S
                    self.ownership.heartbeat()
                failures = 0
            except Exception:
                failures += 1
                if failures == 1 or failures % 30 == 0:  # said once, then now and then
                    log.exception("a round of the money watch failed (%d in a row)", failures)

    def _watch_round(self, last: int, last_event: int) -> tuple[int, int]:
        """One round of the money watch after ledger entry ``last`` and audit event
        ``last_event``; the newest of each seen."""
        # Usage another runtime posted moves supply too: the site's owner evaluates it when it
        # does not poll every bus itself.
        every_kind = self.ownership.site_duties and bool(self._configured - set(self._meter_bus))
        with self.db.session() as session:
            last, accounts = counter_entries_since(session, last, every_kind=every_kind)
            # Keep power, a policy, an account opened or moved on another console: at once.
            last_event, ordered = account_orders_since(session, last_event)
            accounts |= ordered
            revision = field_revision(session)
        for account_id in sorted(accounts):
            self.account_changed(account_id)
        changed = revision != self._revision  # buses or meters changed (here or elsewhere)
        if changed or self.ownership.claim_due():
            self._revision = revision
            try:
                self.reload_field(field_changed=changed)
            except Exception:  # a bus that cannot start must not stop the rest of the round
                log.exception("taking up the changed buses and meters failed")
        self._pause_round()
        self._queue_round()
        return last, last_event

    def _pause_round(self) -> None:
        """Money watch: stop polling the buses a technician asked to pause (their workers stop
        and close the port; the lock stays) and resume those whose pause ended, then say so."""
        asked = self.ownership.pauses_asked()
        if asked == self._paused:
            return
        self._paused = asked
        self.reload_field(field_changed=False)
        self.ownership.say_paused(asked)
        log.info("polling paused for a technician on %s", sorted(asked) or "no bus")

    def _settled(self, command_id: int, session: Session) -> None:
        self.operator_commands.settled(session, command_id)

    def _queue_round(self) -> None:
        """Money watch: send the commands left for this runtime's buses, deliver the outcomes
        of the commands this runtime left for others, and (the site's owner) fail those that
        no runtime took in time."""
        meter_bus = self._meter_bus
        taken: list[Queued] = []
        if meter_bus:
            with self.db.session() as session:  # a read: most rounds find nothing waiting
                mine = [q for q in pending(session) if q.meter_id in meter_bus]
            if mine:
                with self.db.transaction() as session:  # the write lock first (SQLite)
                    taken = take_queued(session, mine)
                    zone = local_zone(session)
        for queued in taken:
            found = meter_bus.get(queued.meter_id)
            if found is None:
                continue
            if queued.action is RelayAction.SYNC_CLOCK:
                self._send_clock(found, queued.command_id, zone)
            elif queued.is_alarm:
                self._send_alarm(found, queued.command_id, queued.on)
            else:
                self._send(found, queued.on, queued.command_id)
        asked_here = self.operator_commands.waiting()
        if asked_here:
            with self.db.session() as session:
                settled = settled_ids(session, asked_here)
            for command_id in settled:
                self.engine.call(partial(self._settled, command_id))
        if self.load.awaiting_restore:  # an operator may have restored a trip elsewhere
            self.engine.call(
                lambda session: self.load.take_up_restores(session, self.operator_commands.seen_s)
            )
        if self.ownership.site_duties:

            def fail_expired(session: Session) -> None:
                for queued in expired(session, _now(), self.options.queue_limit_s):
                    if queued.action is RelayAction.SYNC_CLOCK:
                        record_not_sent(session, queued.command_id, NOBODY_POLLS)
                    elif queued.is_alarm:
                        self.meter_alarms.record_not_sent(session, queued.command_id, NOBODY_POLLS)
                    else:
                        result = SupplyResult("", queued.on, False, None, 0, NOBODY_POLLS)
                        self.control.record_result(session, queued.command_id, result)
                    self.operator_commands.settled(session, queued.command_id)

            self.engine.call(fail_expired)

    def stop(self) -> None:
        self._stopping.set()
        self.clocks.stop()
        self.notices.stop()
        self.live_share.stop()  # live share
        if self._watcher is not None:
            self._watcher.join(timeout=10)
        for worker in self.workers:  # all at once: each ends its current request meanwhile
            worker.request_stop()
        for worker in self.workers:
            worker.stop()
        self.engine.call(self.health.flush)  # what the workers counted last
        self.post_now()  # what was rated since the last posting is posted before the end
        self.engine.stop()
        self.ownership.release_all()  # a standby takes over at once
        if self.sim is not None:
            self.sim.close()
        log.info("runtime stopped")
