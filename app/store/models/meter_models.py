"""Buses (RS485 lines), meters, interval readings, relay commands and load-guard records."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.store.models.base import Base, UtcDateTime, enum_column, utc_now
from app.vocabulary import (
    CommandState,
    MeterStatus,
    ReadingQuality,
    RelayAction,
    Utility,
)

if TYPE_CHECKING:
    from app.store.models.account_models import Account
    from app.store.models.site_models import Room


class Bus(Base):
    """One RS485 line, named by a pyserial URL (``/dev/ttyUSB0``, ``socket://``, ``sim://``...)."""

    __tablename__ = "bus"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    url: Mapped[str] = mapped_column(String(255))
    baudrate: Mapped[int] = mapped_column(Integer, default=9600)
    bytesize: Mapped[int] = mapped_column(Integer, default=8)
    parity: Mapped[str] = mapped_column(String(1), default="N")  # N | E | O
    stopbits: Mapped[int] = mapped_column(Integer, default=1)
    timeout_ms: Mapped[int] = mapped_column(Integer, default=300)
    retries: Mapped[int] = mapped_column(Integer, default=1)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # The profile new meters of this bus get unless told otherwise (resources/meters/<name>).
    profile: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # A bus taken out of use keeps its meters' history; it is never polled again.
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    meters: Mapped[list[Meter]] = relationship(back_populates="bus")


class Meter(Base):
    """A physical meter on a bus. It stays with its room; the room's account pays for it."""

    __tablename__ = "meter"
    # Two meters in service never share an address on a bus; a removed meter keeps its address
    # for history, and its replacement may take the same one.
    __table_args__ = (
        Index(
            "uq_meter_bus_address_in_service",
            "bus_id",
            "address",
            unique=True,
            sqlite_where=text("removed_at IS NULL"),
            postgresql_where=text("removed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[str] = mapped_column(String(32), unique=True)  # nameplate number
    utility: Mapped[Utility] = mapped_column(enum_column(Utility), index=True)
    profile: Mapped[str] = mapped_column(String(64))  # resources/meters/<profile>.toml
    bus_id: Mapped[int] = mapped_column(ForeignKey("bus.id"), index=True)
    address: Mapped[str] = mapped_column(String(16))  # Modbus "17" or DL/T 645 12 digits
    room_id: Mapped[int | None] = mapped_column(ForeignKey("room.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"), index=True)
    multiplier: Mapped[int] = mapped_column(Integer, default=1)  # CT ratio
    rated_current_a: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[MeterStatus] = mapped_column(
        enum_column(MeterStatus), default=MeterStatus.ACTIVE, index=True
    )
    relay_closed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    relay_verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Why the supply is off when it is: arrears | load_guard | manual (billing.supply_policy).
    off_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    installed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    removed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("meter.id"), nullable=True)
    # The building's incomer (master) meter: it measures what the whole building draws, belongs
    # to no room or account, and the loss report sets it against the sum of the rooms.
    incomer_building_id: Mapped[int | None] = mapped_column(
        ForeignKey("building.id"), nullable=True, index=True
    )

    bus: Mapped[Bus] = relationship(back_populates="meters")
    room: Mapped[Room | None] = relationship()
    account: Mapped[Account | None] = relationship(back_populates="meters")


class IntervalReading(Base):
    """A register reading at an interval boundary (default 15 min), not every poll.

    ``register_units`` is the cumulative register in the meter's resolution: Wh for energy,
    litres for volume. ``rate_registers`` holds per-TOU registers when the meter has them.
    """

    __tablename__ = "interval_reading"
    __table_args__ = (UniqueConstraint("meter_id", "read_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"))
    read_at: Mapped[datetime] = mapped_column(UtcDateTime)
    register_units: Mapped[int] = mapped_column(BigInteger)
    # [rate_1, rate_2, rate_3, rate_4] (sharp, peak, flat, valley), null where absent; rows of
    # earlier versions hold {"rate_1": ...}: read both with runtime.reading_store.unpack_rates
    rate_registers: Mapped[list[int | None] | dict[str, int] | None] = mapped_column(
        JSON, nullable=True
    )
    quality: Mapped[ReadingQuality] = mapped_column(
        enum_column(ReadingQuality), default=ReadingQuality.GOOD
    )


class DailyUsage(Base):
    """Per meter and site-local day: units used (multiplier applied) and the peak demand seen,
    added to as readings are stored (``app.services.usage_days``); what the reports read."""

    __tablename__ = "daily_usage"
    __table_args__ = (
        UniqueConstraint("meter_id", "day"),
        # Reports sum a range of days meter by meter: from this index alone, never the table.
        Index("ix_daily_usage_meter_day_units", "meter_id", "day", "units"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"))
    day: Mapped[str] = mapped_column(String(10))  # ISO date, site-local
    units: Mapped[int] = mapped_column(BigInteger, default=0)  # Wh or litres
    peak_power_w: Mapped[float | None] = mapped_column(Float, nullable=True)


class MeterHealthDay(Base):
    """How one meter answered on one site-local day: the bus owner adds its poll counters here
    as it goes (``app.runtime.health_days``), so the meter health report survives restarts and
    takeovers and covers months, not only what the running worker counted."""

    __tablename__ = "meter_health_day"
    __table_args__ = (UniqueConstraint("meter_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"))
    day: Mapped[date] = mapped_column(Date)  # site-local
    polls: Mapped[int] = mapped_column(Integer, default=0)
    failed_polls: Mapped[int] = mapped_column(Integer, default=0)
    timeouts: Mapped[int] = mapped_column(Integer, default=0)
    crc_errors: Mapped[int] = mapped_column(Integer, default=0)
    frame_errors: Mapped[int] = mapped_column(Integer, default=0)
    exceptions: Mapped[int] = mapped_column(Integer, default=0)
    offline_s: Mapped[int] = mapped_column(Integer, default=0)  # seconds it was offline
    # The largest clock drift read that day, seconds (+ ahead, - behind); None: not read.
    drift_s: Mapped[float | None] = mapped_column(Float, nullable=True)


class RelayCommand(Base):
    """A request to switch a meter's relay or valve (or to set its clock), and what the read-back
    verified. The runtimes' command queue: a row ``PENDING`` waits for its bus's owner."""

    __tablename__ = "relay_command"
    __table_args__ = (
        Index("ix_relay_command_meter_requested", "meter_id", "requested_at"),
        # Every runtime asks for the commands waiting for a bus's owner every 2 s.
        Index("ix_relay_command_state", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"))
    action: Mapped[RelayAction] = mapped_column(enum_column(RelayAction))
    reason: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"), nullable=True)
    state: Mapped[CommandState] = mapped_column(
        enum_column(CommandState), default=CommandState.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    verified_closed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    # A clock sync: the meter's clock minus the site's time, read before and after it was set.
    drift_before_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    drift_after_s: Mapped[float | None] = mapped_column(Float, nullable=True)


class LoadGuardSetting(Base):
    """Load-guard parameters (DOMAIN.md section 3) for a building, or site-wide when none.

    ``params`` holds the mode settings: total-power limit and duration, increment bands with
    their power-factor threshold and white-listed bands, restore delay and daily restore cap.
    """

    __tablename__ = "load_guard_setting"

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("building.id"), unique=True)
    params: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)


class LoadTrip(Base):
    """A load-guard trip with its evidence, to settle disputes."""

    __tablename__ = "load_trip"

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"), index=True)
    tripped_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    mode: Mapped[str] = mapped_column(String(16))  # total | increment
    power_w: Mapped[float] = mapped_column(Float)
    delta_power_w: Mapped[float | None] = mapped_column(Float, nullable=True)
    power_factor: Mapped[float | None] = mapped_column(Float, nullable=True)
    band: Mapped[int | None] = mapped_column(Integer, nullable=True)
    window_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    restored_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    locked_out: Mapped[bool] = mapped_column(Boolean, default=False)
    restored_by_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
