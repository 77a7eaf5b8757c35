"""Prepaid accounts, their balance policies and which tariff each utility is billed on."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.store.models.base import Base, MinorUnits, UtcDateTime, enum_column, utc_now
from app.vocabulary import AccountStatus, SupplyState, Utility

if TYPE_CHECKING:
    from app.store.models.meter_models import Meter
    from app.store.models.site_models import Room
    from app.store.models.tariff_models import TariffPlan


class BalancePolicy(Base):
    """A named set of credit thresholds shared by many accounts (DOMAIN.md section 1).

    All amounts are minor units of the site currency. ``friendly_hours`` is a JSON list of
    ``{"days": [0..6], "from": "HH:MM", "to": "HH:MM"}`` windows (Monday = 0) in site-local time;
    ``friendly_dates`` a JSON list of ISO dates on which no cut happens.
    """

    __tablename__ = "balance_policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    alarm_1_minor: Mapped[int] = mapped_column(MinorUnits)
    alarm_2_minor: Mapped[int] = mapped_column(MinorUnits)
    overdraft_limit_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    close_permit_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    hoard_limit_minor: Mapped[int | None] = mapped_column(MinorUnits, nullable=True)
    friendly_hours: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    friendly_dates: Mapped[list[str]] = mapped_column(JSON, default=list)


class Account(Base):
    """One holder's prepaid account. Several meters may share its balance.

    ``balance_minor`` is a cache of the sum of the account's ledger entries, written in the same
    transaction as every entry; ``ledger verify`` proves the two agree.
    """

    __tablename__ = "account"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    holder_name: Mapped[str] = mapped_column(String(120))
    holder_ref: Mapped[str] = mapped_column(String(40), default="")  # student or staff number
    phone: Mapped[str] = mapped_column(String(40), default="")
    room_id: Mapped[int | None] = mapped_column(ForeignKey("room.id"), index=True)
    status: Mapped[AccountStatus] = mapped_column(
        enum_column(AccountStatus), default=AccountStatus.OPEN, index=True
    )
    policy_id: Mapped[int] = mapped_column(ForeignKey("balance_policy.id"))
    balance_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    supply_state: Mapped[SupplyState] = mapped_column(
        enum_column(SupplyState), default=SupplyState.NORMAL
    )
    keep_power_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    keep_power_reason: Mapped[str] = mapped_column(Text, default="")
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    # A holder who comes back gets a new account; it names the closed one it follows.
    reopened_from_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"), nullable=True)
    # Bumped on every change; concurrent writers of one account fail instead of overwriting.
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    room: Mapped[Room | None] = relationship()
    policy: Mapped[BalancePolicy] = relationship()
    meters: Mapped[list[Meter]] = relationship(back_populates="account")
    tariffs: Mapped[list[AccountTariff]] = relationship(
        back_populates="account", cascade="all, delete-orphan"
    )


class AccountTariff(Base):
    """Which tariff plan bills one utility of one account."""

    __tablename__ = "account_tariff"
    __table_args__ = (UniqueConstraint("account_id", "utility"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    utility: Mapped[Utility] = mapped_column(enum_column(Utility))
    plan_id: Mapped[int] = mapped_column(ForeignKey("tariff_plan.id"))

    account: Mapped[Account] = relationship(back_populates="tariffs")
    plan: Mapped[TariffPlan] = relationship()
