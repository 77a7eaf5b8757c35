"""What the runtime needs to poll: every enabled bus with its line settings and meters (the
Diagnostics dialog offers the same buses)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from app.hardware.bus_worker import BusMeter
from app.hardware.errors import ProfileError
from app.hardware.link import LineSettings
from app.hardware.profiles import load_profile
from app.store.database import Database
from app.store.models import Bus, Meter
from app.vocabulary import MeterStatus, Utility


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
            tuple(meters.get(b.id, ())),
        )
        for b in buses
    ]
