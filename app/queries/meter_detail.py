"""Everything the Meter detail shows about one meter, read in one session: who and where it is,
its relay or valve as last verified, its account's balance, supply state and keep-power order,
its recent interval readings, load-guard trips with their evidence, relay commands with who
asked for them, and its alarms.

Plain frozen dataclasses, no ORM objects; times are aware UTC. Live values (power, voltage...)
are not stored at poll rate: the view takes them from the runtime (``latest_snapshot``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.hardware.errors import ProfileError
from app.hardware.profiles import Profile, load_profile
from app.queries.alarms import AlarmRow, alarm_query, row_of
from app.queries.site_facts import site_currency
from app.store.database import Database
from app.store.models import (
    Account,
    Alarm,
    BalancePolicy,
    Building,
    Bus,
    IntervalReading,
    LoadTrip,
    Meter,
    Operator,
    RelayCommand,
    Room,
)
from app.vocabulary import (
    AccountStatus,
    CommandState,
    MeterStatus,
    ReadingQuality,
    RelayAction,
    SupplyState,
    Utility,
)

READINGS = 24  # interval readings shown (a few hours at 15 min)
TRIPS = 20
COMMANDS = 20
ALARMS = 30


@dataclass(frozen=True, slots=True)
class ReadingLine:
    """One interval reading. ``register_units`` is the meter's register in Wh or litres;
    ``used_units`` what was used since the reading before it (times the multiplier), None for
    the oldest shown, a held reading, or a register that went backwards."""

    read_at: datetime
    register_units: int
    used_units: int | None
    quality: ReadingQuality
    rates: tuple[int | None, ...]  # rate 1..4 registers (sharp, peak, flat, valley); () if none


@dataclass(frozen=True, slots=True)
class TripLine:
    """A load-guard trip with its evidence, and who restored it."""

    id: int
    tripped_at: datetime
    mode: str  # total | increment | meter_total
    power_w: float
    delta_power_w: float | None
    power_factor: float | None
    band: int | None
    window_s: float | None
    locked_out: bool
    restored_at: datetime | None
    restored_by: str  # an operator's display name; "" when automatic or not restored
    note: str

    @property
    def open(self) -> bool:
        """Waiting for a restore (automatic, or an operator's after a lock-out)."""
        return self.restored_at is None


@dataclass(frozen=True, slots=True)
class CommandLine:
    """A relay or valve command (or a clock sync) and what its read-back verified."""

    id: int
    action: RelayAction
    reason: str
    requested_at: datetime
    requested_by: str  # an operator's display name; "" for the console itself (policy, guard)
    state: CommandState
    attempts: int
    completed_at: datetime | None
    verified_closed: bool | None
    error: str
    drift_before_s: float | None  # a clock sync: the meter's clock minus the site's time
    drift_after_s: float | None

    @property
    def on(self) -> bool:
        """A supply command: switch on (True) or cut (False)."""
        return self.action is RelayAction.OPEN_SUPPLY


@dataclass(frozen=True, slots=True)
class MeterDetail:
    meter_id: int
    serial: str
    utility: Utility
    profile: str
    supply_kind: str | None  # "relay" or "valve" as its profile says; None: nothing to switch
    keeps_clock: bool  # its profile's meters keep a clock the console can set
    status: MeterStatus
    bus_name: str
    bus_url: str
    address: str
    multiplier: int
    rated_current_a: int | None
    installed_at: datetime
    removed_at: datetime | None
    last_seen_at: datetime | None
    room_label: str  # "" when the meter has no room
    building: str  # the building's name, ""
    # supply as last verified by a read-back
    relay_closed: bool | None
    relay_verified_at: datetime | None
    off_reason: str | None  # arrears | load_guard | manual (billing.supply_policy.OffReason)
    # the account that pays for it (None / "" when none)
    account_id: int | None
    account_number: str
    holder_name: str
    account_status: AccountStatus | None
    balance_minor: int | None
    currency: str
    supply_state: SupplyState | None
    policy_name: str
    keep_power_until: datetime | None
    keep_power_reason: str
    # history, newest first
    readings: tuple[ReadingLine, ...]
    trips: tuple[TripLine, ...]
    commands: tuple[CommandLine, ...]
    alarms: tuple[AlarmRow, ...]
    read_at: datetime  # when this was read (keep power is judged at this moment)

    @property
    def keep_power_active(self) -> bool:
        return self.keep_power_until is not None and self.read_at < self.keep_power_until

    @property
    def latest_reading(self) -> ReadingLine | None:
        """The newest GOOD interval reading."""
        return next((r for r in self.readings if r.quality is ReadingQuality.GOOD), None)

    @property
    def open_trip(self) -> TripLine | None:
        """The newest trip not restored yet (a lock-out waits for an operator)."""
        return next((t for t in self.trips if t.open), None)

    @property
    def in_service(self) -> bool:
        return self.removed_at is None and self.status is not MeterStatus.REMOVED


def meter_detail(
    db: Database,
    meter_id: int,
    *,
    readings: int = READINGS,
    trips: int = TRIPS,
    commands: int = COMMANDS,
    alarms: int = ALARMS,
) -> MeterDetail | None:
    """The meter's detail, or None when there is no such meter (a few indexed queries)."""
    with db.session() as session:
        return read_meter_detail(
            session, meter_id, readings=readings, trips=trips, commands=commands, alarms=alarms
        )


def read_meter_detail(
    session: Session,
    meter_id: int,
    *,
    readings: int = READINGS,
    trips: int = TRIPS,
    commands: int = COMMANDS,
    alarms: int = ALARMS,
) -> MeterDetail | None:
    """``meter_detail`` in the caller's session."""
    now = datetime.now(UTC)
    record = session.execute(
        select(Meter, Bus.name, Bus.url, Room.label, Building.name)
        .join(Bus, Meter.bus_id == Bus.id)
        .outerjoin(Room, Meter.room_id == Room.id)
        .outerjoin(Building, Room.building_id == Building.id)
        .where(Meter.id == meter_id)
    ).first()
    if record is None:
        return None
    meter, bus_name, bus_url, room_label, building = record
    account: Account | None = None
    policy_name = ""
    if meter.account_id is not None:
        found = session.execute(
            select(Account, BalancePolicy.name)
            .join(BalancePolicy, Account.policy_id == BalancePolicy.id)
            .where(Account.id == meter.account_id)
        ).first()
        if found is not None:
            account, policy_name = found
    profile = _profile(meter.profile)
    return MeterDetail(
        meter_id=meter.id,
        serial=meter.serial,
        utility=meter.utility,
        profile=meter.profile,
        supply_kind=profile.supply_kind if profile is not None else None,
        keeps_clock=profile is not None and profile.keeps_clock,
        status=meter.status,
        bus_name=bus_name,
        bus_url=bus_url,
        address=meter.address,
        multiplier=meter.multiplier,
        rated_current_a=meter.rated_current_a,
        installed_at=meter.installed_at,
        removed_at=meter.removed_at,
        last_seen_at=meter.last_seen_at,
        room_label=room_label or "",
        building=building or "",
        relay_closed=meter.relay_closed,
        relay_verified_at=meter.relay_verified_at,
        off_reason=meter.off_reason,
        account_id=None if account is None else account.id,
        account_number="" if account is None else account.number,
        holder_name="" if account is None else account.holder_name,
        account_status=None if account is None else account.status,
        balance_minor=None if account is None else account.balance_minor,
        currency=site_currency(session),
        supply_state=None if account is None else account.supply_state,
        policy_name=policy_name,
        keep_power_until=None if account is None else account.keep_power_until,
        keep_power_reason="" if account is None else account.keep_power_reason,
        readings=_readings(session, meter.id, meter.multiplier, readings),
        trips=_trips(session, meter.id, trips),
        commands=_commands(session, meter.id, commands),
        alarms=_alarms(session, meter.id, meter.account_id, alarms),
        read_at=now,
    )


def _profile(name: str) -> Profile | None:
    try:
        return load_profile(name)
    except ProfileError:
        return None


def _rates(stored: object) -> tuple[int | None, ...]:
    if isinstance(stored, list):
        return tuple(v if isinstance(v, int) else None for v in stored)
    if isinstance(stored, dict):  # rows of earlier versions: {"rate_1": ...}
        return tuple(
            v if isinstance(v := stored.get(f"rate_{n}"), int) else None for n in range(1, 5)
        )
    return ()


def _readings(
    session: Session, meter_id: int, multiplier: int, limit: int
) -> tuple[ReadingLine, ...]:
    rows = session.execute(
        select(
            IntervalReading.read_at,
            IntervalReading.register_units,
            IntervalReading.quality,
            IntervalReading.rate_registers,
        )
        .where(IntervalReading.meter_id == meter_id)
        .order_by(IntervalReading.read_at.desc())
        .limit(limit + 1)  # one more: what the oldest shown used
    ).all()
    lines: list[ReadingLine] = []
    for index, (read_at, units, quality, rates) in enumerate(rows[:limit]):
        used = None
        before = next(
            (r for r in rows[index + 1 :] if r[2] is ReadingQuality.GOOD),
            None,
        )
        if quality is ReadingQuality.GOOD and before is not None and units >= before[1]:
            used = (units - before[1]) * multiplier
        lines.append(ReadingLine(read_at, units, used, quality, _rates(rates)))
    return tuple(lines)


def _trips(session: Session, meter_id: int, limit: int) -> tuple[TripLine, ...]:
    rows = session.execute(
        select(LoadTrip, Operator.display_name)
        .outerjoin(Operator, LoadTrip.restored_by_id == Operator.id)
        .where(LoadTrip.meter_id == meter_id)
        .order_by(LoadTrip.tripped_at.desc(), LoadTrip.id.desc())
        .limit(limit)
    ).all()
    return tuple(
        TripLine(
            id=trip.id,
            tripped_at=trip.tripped_at,
            mode=trip.mode,
            power_w=trip.power_w,
            delta_power_w=trip.delta_power_w,
            power_factor=trip.power_factor,
            band=trip.band,
            window_s=trip.window_s,
            locked_out=trip.locked_out,
            restored_at=trip.restored_at,
            restored_by=name or "",
            note=trip.note or "",
        )
        for trip, name in rows
    )


def _commands(session: Session, meter_id: int, limit: int) -> tuple[CommandLine, ...]:
    rows = session.execute(
        select(RelayCommand, Operator.display_name)
        .outerjoin(Operator, RelayCommand.requested_by_id == Operator.id)
        .where(RelayCommand.meter_id == meter_id)
        .order_by(RelayCommand.requested_at.desc(), RelayCommand.id.desc())
        .limit(limit)
    ).all()
    return tuple(
        CommandLine(
            id=command.id,
            action=command.action,
            reason=command.reason,
            requested_at=command.requested_at,
            requested_by=name or "",
            state=command.state,
            attempts=command.attempts,
            completed_at=command.completed_at,
            verified_closed=command.verified_closed,
            error=command.error or "",
            drift_before_s=command.drift_before_s,
            drift_after_s=command.drift_after_s,
        )
        for command, name in rows
    )


def _alarms(
    session: Session, meter_id: int, account_id: int | None, limit: int
) -> tuple[AlarmRow, ...]:
    """The meter's alarms and its account's alarms that name no meter (low balance, cut off)."""
    about = Alarm.meter_id == meter_id
    if account_id is not None:
        about = or_(about, (Alarm.account_id == account_id) & Alarm.meter_id.is_(None))
    records = session.execute(
        alarm_query().where(about).order_by(Alarm.raised_at.desc(), Alarm.id.desc()).limit(limit)
    ).all()
    return tuple(row_of(r) for r in records)
