"""The newest live power of each meter, shared through the database with the consoles and
standbys that do not poll its bus (``app.runtime.live_share``).

One row per meter, overwritten by the bus's owner at most every couple of seconds: this is not
history (live samples are never kept at poll rate; see ``IntervalReading``), only what the
owner saw last. On PostgreSQL the table is UNLOGGED (migration 0007): its writes make no WAL,
so they cost no replication traffic, and after a server crash it starts empty, which loses
nothing but a few seconds of live load."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from app.store.models.base import Base, UtcDateTime


class LivePower(Base):
    __tablename__ = "live_power"
    # The readers ask for the rows written since their last read.
    __table_args__ = (Index("ix_live_power_at", "at"),)

    meter_id: Mapped[int] = mapped_column(
        ForeignKey("meter.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime)  # when the owner's poll measured it
    power_w: Mapped[float] = mapped_column(Float)  # active power, W
