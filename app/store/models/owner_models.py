"""Which runtime polls and bills each unit of the field (a bus, or the site's duties).

The lock (``app.store.field_lock``) decides who owns a unit; this row only says who does, for
the standby's and the consoles' status ("polled by serve on host SRV since 08:02")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
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
