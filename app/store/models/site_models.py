"""Where meters hang: site, buildings, rooms."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.store.models.base import Base, UtcDateTime, utc_now
from app.vocabulary import DEFAULT_CURRENCY, DEFAULT_TIMEZONE


class Site(Base):
    """The one site this console runs (a dormitory block, an apartment complex...)."""

    __tablename__ = "site"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    currency: Mapped[str] = mapped_column(String(3), default=DEFAULT_CURRENCY)
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIMEZONE)
    address: Mapped[str] = mapped_column(Text, default="")
    # Lines printed at the top of every receipt (the office's name, hours, phone...).
    receipt_header: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)

    buildings: Mapped[list[Building]] = relationship(back_populates="site")


class Building(Base):
    __tablename__ = "building"
    __table_args__ = (UniqueConstraint("site_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    code: Mapped[str] = mapped_column(String(16))  # short code printed in room labels: "A"
    name: Mapped[str] = mapped_column(String(120))
    floors: Mapped[int] = mapped_column(Integer, default=1)
    # A building taken out of use keeps its rooms and their history; it is never deleted.
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    site: Mapped[Site] = relationship(back_populates="buildings")
    rooms: Mapped[list[Room]] = relationship(back_populates="building")


class Room(Base):
    __tablename__ = "room"
    __table_args__ = (UniqueConstraint("building_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("building.id"))
    floor: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(16))  # "305"
    label: Mapped[str] = mapped_column(String(32), unique=True)  # "A-305": what people type
    capacity: Mapped[int] = mapped_column(Integer, default=4)
    note: Mapped[str] = mapped_column(Text, default="")
    # A room taken out of use keeps its history (accounts, meters, readings); never deleted.
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    building: Mapped[Building] = relationship(back_populates="rooms")


class Setting(Base):
    """One site setting (single-recharge cap, idle lock, receipt printing...): a JSON value under
    a key. ``app.services.settings`` knows the keys, their defaults and their checks."""

    __tablename__ = "setting"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[object] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"), nullable=True)
