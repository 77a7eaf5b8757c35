"""Tariff plans and their dated versions (the TOML text of DOMAIN.md section 2 is the truth)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.store.models.base import Base, UtcDateTime, enum_column, utc_now
from app.vocabulary import Utility


class TariffPlan(Base):
    __tablename__ = "tariff_plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    utility: Mapped[Utility] = mapped_column(enum_column(Utility))
    unit: Mapped[str] = mapped_column(String(8))  # kWh | m3
    currency: Mapped[str] = mapped_column(String(3))

    versions: Mapped[list[TariffVersion]] = relationship(
        back_populates="plan", order_by="TariffVersion.effective_from"
    )


class TariffVersion(Base):
    """One version of a plan, valid from ``effective_from`` (site-local date) until the next.

    ``source_toml`` is the tariff file exactly as imported; every price is read from it.
    Versions are never edited once usage has been priced with them: a change is a new version.
    """

    __tablename__ = "tariff_version"
    __table_args__ = (UniqueConstraint("plan_id", "effective_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("tariff_plan.id"))
    effective_from: Mapped[date] = mapped_column(Date)
    source_toml: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"), nullable=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)

    plan: Mapped[TariffPlan] = relationship(back_populates="versions")
