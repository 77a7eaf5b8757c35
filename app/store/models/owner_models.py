"""Which runtime polls and bills each unit of the field (a bus, or the site's duties), and
whether a bus's polling is paused for a technician.

The lock (``app.store.field_lock``) decides who owns a unit; this row only says who does, for
the standby's and the consoles' status ("polled by serve on host SRV since 08:02")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.store.models.base import Base, UtcDateTime


class FieldOwner(Base):
    __tablename__ = "field_owner"

    unit: Mapped[str] = mapped_column(String(20), primary_key=True)  # "site" or "bus:<id>"
    runtime_id: Mapped[str] = mapped_column(String(32))  # one runtime's random id
    host: Mapped[str] = mapped_column(String(120))
    pid: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(20))  # "serve" or "console"
    since: Mapped[datetime] = mapped_column(UtcDateTime)
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime)  # the owner's last heartbeat
    # A technician's diagnostics on another PC asks the bus's owner to let go of the port
    # until then (``services.bus_pause``); the owner says it did with ``paused``.
    pause_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    pause_by: Mapped[str] = mapped_column(String(120), default="")
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
