"""What the runtime needs to poll: every enabled bus with its line settings and meters (the
Diagnostics dialog offers the same buses); and how a technician's job (a line test, a scan)
reaches a bus's line: ``bus_in_use`` then ``run_on_bus``.

One port, one owner: a bus the running console polls takes the job on its own bus worker; any
other bus gets a service worker opened for the job, which ``BusJob.release`` stops.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from typing import Generic, TypeVar

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from app.hardware.bus_worker import BusMeter, BusWorker
from app.hardware.errors import PortUnavailable, ProfileError
from app.hardware.link import LineSettings
from app.hardware.profiles import load_profile
from app.hardware.service_worker import open_service_worker
from app.services.bus_pause import borrow_line, end_pause, not_let_go
from app.services.setup_checks import SetupRefused
from app.store.database import Database
from app.store.models import Bus, Meter
from app.vocabulary import MeterStatus, Utility

T = TypeVar("T")

STOP_WAIT_S = 5.0  # a blocking caller waits this long for a worker opened for it to let go


@dataclass(frozen=True, slots=True)
class MeterSetup:
    meter_id: int
    address: str
    profile: str
    utility: Utility
    account_id: int | None
    rated_current_a: int | None


@dataclass(frozen=True, slots=True)
class BusSetup:
    bus_id: int
    name: str
    url: str
    baudrate: int
    bytesize: int
    parity: str
    stopbits: int
    timeout_ms: int
    retries: int
    profile: str  # the bus's meter profile ("" when none is set)
    meters: tuple[MeterSetup, ...]

    @property
    def line(self) -> LineSettings:
        return LineSettings(
            self.baudrate, self.bytesize, self.parity, self.stopbits, self.timeout_ms / 1000
        )

    def bus_meters(self) -> tuple[list[BusMeter], list[str]]:
        """The meters with their profiles loaded, and a problem for each whose profile cannot
        be (that meter is left out; the rest of the bus works)."""
        meters: list[BusMeter] = []
        problems: list[str] = []
        for meter in self.meters:
            try:
                meters.append(BusMeter(meter.meter_id, meter.address, load_profile(meter.profile)))
            except ProfileError as exc:
                problems.append(f"bus {self.name}, meter {meter.address}: {exc}")
        return meters, problems


def load_field_setup(db: Database) -> list[BusSetup]:
    """Enabled buses in use and their meters in service (not removed or disabled), by name."""
    with db.session() as session:
        return _setups(session, Bus.enabled.is_(True))


def load_bus_setup(db: Database, name: str) -> BusSetup | None:
    """One bus in use (enabled or not) by name, case-insensitive; None when there is none."""
    with db.session() as session:
        found = _setups(session, func.lower(Bus.name) == " ".join(name.split()).lower())
    return found[0] if found else None


def _setups(session: Session, where: ColumnElement[bool]) -> list[BusSetup]:
    meters: dict[int, list[MeterSetup]] = defaultdict(list)
    for row in session.execute(
        select(
            Meter.bus_id,
            Meter.id,
            Meter.address,
            Meter.profile,
            Meter.utility,
            Meter.account_id,
            Meter.rated_current_a,
        )
        .where(Meter.status.in_([MeterStatus.ACTIVE, MeterStatus.OFFLINE]))
        .order_by(Meter.bus_id, Meter.id)
    ):
        meters[row[0]].append(MeterSetup(*row[1:]))
    buses = session.scalars(select(Bus).where(where, Bus.retired_at.is_(None)).order_by(Bus.name))
    return [
        BusSetup(
            b.id,
            b.name,
            b.url,
            b.baudrate,
            b.bytesize,
            b.parity,
            b.stopbits,
            b.timeout_ms,
            b.retries,
            b.profile or "",
            tuple(meters.get(b.id, ())),
        )
        for b in buses
    ]


def bus_in_use(db: Database, name: str) -> BusSetup:
    """``load_bus_setup``, or SetupRefused naming the bus when there is none in use."""
    setup = load_bus_setup(db, name)
    if setup is None:
        raise SetupRefused("bus", f"There is no bus {name.strip()!r} in use.")
    return setup


@dataclass(frozen=True)
class BusJob(Generic[T]):
    """A job queued on a bus's worker. ``future`` resolves on the worker's thread; ``owned``:
    ``worker`` is a service worker opened for this job, and holds the port until ``release``."""

    setup: BusSetup
    worker: BusWorker
    future: Future[T]
    owned: bool
    give_back: Callable[[], None] | None = None  # ends the pause of the bus's owner, if asked

    def release(self, wait_s: float = 0.0) -> None:
        """Let go of the port (any thread but the worker's; again is harmless): a worker opened
        for the job stops once its current request is done, waiting up to ``wait_s`` for it
        (0: not at all, so the GUI thread may call it). The running console's worker polls on;
        a runtime that paused the bus for the job (on this PC or another) resumes once the
        port is closed (with ``wait_s`` 0, on a thread of its own)."""
        if not self.owned:
            return
        give_back = self.give_back
        if give_back is None or wait_s > 0:
            self.worker.stop(timeout=wait_s)
            if give_back is not None:
                give_back()
            return

        def stop_then_give_back() -> None:
            self.worker.stop(timeout=STOP_WAIT_S)
            give_back()

        threading.Thread(target=stop_then_give_back, name="give the bus back", daemon=True).start()

    def wait(self, timeout_s: float) -> T:
        """Block until the job's result (or its error), then release the port."""
        try:
            return self.future.result(timeout_s)
        finally:
            self.release(STOP_WAIT_S)


def run_on_bus(
    setup: BusSetup,
    job: Callable[[BusWorker], Future[T]],
    workers: Mapping[str, BusWorker] | None = None,
    borrow: tuple[Database, str] | None = None,
) -> BusJob[T]:
    """Queue ``job(worker)`` on the bus's worker: the running console's (``workers``, by bus
    name) or a service worker opened now. ``borrow`` (the database, what asks: "line test on
    PC2"): a runtime that polls the bus elsewhere is first asked to let go of its port
    (``bus_pause``), and resumes when the job is released. Opening the port blocks (call it off
    the GUI thread) but the job does not: wait on ``BusJob.future``, then ``release``.
    SetupRefused ("port") with the system's reason when the port cannot be opened, or naming
    the runtime that did not let go of it."""
    running = (workers or {}).get(setup.name)
    if running is not None:
        return BusJob(setup, running, job(running), owned=False)
    give_back = None
    if borrow is not None:
        db, by = borrow
        borrowed = borrow_line(db, setup.bus_id, by)
        if borrowed.owner is not None and not borrowed.free:
            raise SetupRefused("port", not_let_go(borrowed.owner))
        if borrowed.owner is not None:
            give_back = partial(end_pause, db, setup.bus_id, by)
    meters, _problems = setup.bus_meters()
    try:
        worker = open_service_worker(setup.name, setup.url, setup.line, meters, retries=0)
    except PortUnavailable as exc:
        if give_back is not None:
            give_back()
        raise SetupRefused("port", f"{exc}. Check the cable, the adapter and the port.") from None
    try:
        return BusJob(setup, worker, job(worker), owned=True, give_back=give_back)
    except BaseException:
        worker.stop()
        if give_back is not None:
            give_back()
        raise
