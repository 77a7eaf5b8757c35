"""Which units of the field this runtime owns: the site's duties and each bus it polls.

A runtime claims what it may (``Ownership.claim``): everything when it polls the whole site,
the buses named by ``serve --buses`` (and the site's duties if nobody holds them), nothing when
it is attached. What another process holds it waits for as standby: every round of the money
watch tries again, so it takes over within a few seconds of the owner's death (the lock ends
with the owner, see ``app.store.field_lock``). Each unit held has a ``FieldOwner`` row saying
who holds it, on which host, since when, refreshed by a heartbeat; the row is only for people,
the lock alone decides.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select, update

from app.store.database import Database
from app.store.field_lock import SITE_UNIT, FieldLocks, bus_unit, field_locks
from app.store.models import FieldOwner

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClaimRound:
    gained: frozenset[str]
    lost: frozenset[str]

    @property
    def changed(self) -> bool:
        return bool(self.gained or self.lost)


class Ownership:
    def __init__(
        self,
        db: Database,
        *,
        role: str,
        poll: bool = True,
        buses: frozenset[str] | None = None,
        locks: FieldLocks | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.db = db
        self.role = role
        self.poll = poll  # False: attached, claims nothing
        self.buses = buses  # by name; None: every bus of the site
        self.runtime_id = secrets.token_hex(16)
        self.host = socket.gethostname()[:120]
        self._locks = locks if locks is not None else field_locks(db)
        self._clock = clock
        self._held: frozenset[str] = frozenset()
        self._wanted: frozenset[str] = frozenset()

    @property
    def held(self) -> frozenset[str]:
        return self._held

    @property
    def site_duties(self) -> bool:
        return SITE_UNIT in self._held

    def owns_bus(self, bus_id: int) -> bool:
        return bus_unit(bus_id) in self._held

    def wanted(self, buses: Mapping[str, int]) -> list[str]:
        """The units this runtime polls or waits for: the site's duties first, then its buses
        (``buses``: the site's polled buses, name -> id)."""
        if not self.poll:
            return []
        names = sorted(buses) if self.buses is None else sorted(set(buses) & self.buses)
        return [SITE_UNIT, *(bus_unit(buses[name]) for name in names)]

    def claim(self, buses: Mapping[str, int]) -> ClaimRound:
        """One round: take what is wanted and free, let go of what is no longer wanted, and
        notice locks lost with the database connection. Writes the rows of units gained."""
        before = self._held
        if not self._locks.healthy():
            log.error("lost the locks on %s: polling stops until they are held again", before)
        wanted = self.wanted(buses)
        self._wanted = frozenset(wanted)
        for unit in set(self._locks.held()) - set(wanted):
            self._locks.release(unit)
        for unit in wanted:
            self._locks.try_claim(unit)
        held = self._locks.held()
        self._held = held
        gained, lost = held - before, before - held
        if gained:
            self._write_rows(gained)
        if lost:
            self._forget_rows(lost)
        return ClaimRound(frozenset(gained), frozenset(lost))

    def claim_due(self) -> bool:
        """Whether a claim round can change anything: something wanted is another's (this
        runtime is standby for it), or the locks held may have been lost."""
        return bool(self._wanted - self._held) or not self._locks.healthy()

    def heartbeat(self) -> None:
        """Say the units held are still held (their rows' ``seen_at``)."""
        if not self._held:
            return
        with self.db.transaction() as session:
            session.execute(
                update(FieldOwner)
                .where(FieldOwner.runtime_id == self.runtime_id)
                .values(seen_at=self._clock())
            )

    def pauses_asked(self) -> frozenset[str]:
        """The buses held whose polling a technician asked to pause, until now or later."""
        if not self._held:
            return frozenset()
        now = self._clock()
        with self.db.session() as session:
            units = session.scalars(
                select(FieldOwner.unit).where(
                    FieldOwner.runtime_id == self.runtime_id,
                    FieldOwner.pause_until.is_not(None),
                    FieldOwner.pause_until > now,
                )
            ).all()
        return frozenset(units) & self._held

    def say_paused(self, paused: frozenset[str]) -> None:
        """Tell the technician which of this runtime's buses let go of their port."""
        with self.db.transaction() as session:
            session.execute(
                update(FieldOwner)
                .where(FieldOwner.runtime_id == self.runtime_id)
                .values(paused=FieldOwner.unit.in_(sorted(paused)) if paused else False)
            )

    def release_all(self) -> None:
        """Clean stop: let go of everything and remove this runtime's rows."""
        held = self._held
        self._held = frozenset()
        try:
            if held:
                self._forget_rows(held)
        finally:
            self._locks.close()

    def _write_rows(self, units: Iterable[str]) -> None:
        now = self._clock()
        units = sorted(units)
        with self.db.transaction() as session:
            session.execute(delete(FieldOwner).where(FieldOwner.unit.in_(units)))
            session.add_all(
                FieldOwner(
                    unit=unit,
                    runtime_id=self.runtime_id,
                    host=self.host,
                    pid=os.getpid(),
                    role=self.role,
                    since=now,
                    seen_at=now,
                )
                for unit in units
            )

    def _forget_rows(self, units: Iterable[str]) -> None:
        try:
            with self.db.transaction() as session:
                session.execute(
                    delete(FieldOwner).where(
                        FieldOwner.unit.in_(sorted(units)),
                        FieldOwner.runtime_id == self.runtime_id,
                    )
                )
        except Exception:  # the database is gone: the rows say who held it last
            log.warning("could not remove the owner rows of %s", sorted(units), exc_info=True)


def another_owns_site(db: Database) -> bool:
    """Whether another runtime holds the site's duties right now (a console then attaches)."""
    locks = field_locks(db)
    try:
        return not locks.try_claim(SITE_UNIT)
    finally:
        locks.close()
