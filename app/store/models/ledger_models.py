"""The append-only ledger, receipts with gap-free numbers, usage charges and cashier shifts."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.store.models.base import Base, MinorUnits, UtcDateTime, enum_column, utc_now
from app.vocabulary import LedgerKind, PaymentMethod, ReceiptKind


class Counter(Base):
    """Named sequences handed out inside the caller's transaction (gap-free receipt numbers).

    A number is taken by incrementing the row in the same transaction that uses it, so a
    rollback gives the number back and no gap appears.
    """

    __tablename__ = "counter"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class LedgerEntry(Base):
    """One change of an account's balance. Rows are only ever inserted, never updated.

    ``amount_minor`` is signed (credit positive). ``balance_after_minor`` is the account balance
    right after this entry. ``idempotency_key`` makes a recharge safe to retry.
    """

    __tablename__ = "ledger_entry"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    kind: Mapped[LedgerKind] = mapped_column(enum_column(LedgerKind))
    amount_minor: Mapped[int] = mapped_column(MinorUnits)
    balance_after_minor: Mapped[int] = mapped_column(MinorUnits)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, index=True)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    reference: Mapped[str] = mapped_column(String(80), default="")
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id"), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(80), unique=True, nullable=True)
    # The supervisor who approved a refund or an adjustment made by someone else.
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"), nullable=True)


class LedgerDay(Base):
    """Per site-local day, account and kind: how many ledger entries and what they add up to.
    Written in the transaction of every entry (``app.services.ledger_days``), so the reports
    read a row per account and day instead of every hourly usage posting; ``ledger verify``
    checks it against the entries. A day is the site's local day when the entry was made."""

    __tablename__ = "ledger_day"
    __table_args__ = (
        UniqueConstraint("day", "account_id", "kind"),
        Index("ix_ledger_day_account", "account_id", "day"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    kind: Mapped[LedgerKind] = mapped_column(enum_column(LedgerKind))
    entries: Mapped[int] = mapped_column(Integer)
    amount_minor: Mapped[int] = mapped_column(MinorUnits)


class Receipt(Base):
    """A numbered receipt. Numbers come from ``Counter('receipt')``: gap-free, never reused."""

    __tablename__ = "receipt"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, unique=True)
    kind: Mapped[ReceiptKind] = mapped_column(enum_column(ReceiptKind))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    ledger_entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entry.id"), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"), nullable=True)
    shift_id: Mapped[int | None] = mapped_column(ForeignKey("shift.id"), nullable=True)
    method: Mapped[PaymentMethod | None] = mapped_column(enum_column(PaymentMethod), nullable=True)
    amount_minor: Mapped[int] = mapped_column(MinorUnits)
    balance_before_minor: Mapped[int] = mapped_column(MinorUnits)
    balance_after_minor: Mapped[int] = mapped_column(MinorUnits)
    pdf_path: Mapped[str] = mapped_column(Text, default="")
    print_count: Mapped[int] = mapped_column(Integer, default=0)
    # What the receipt says (room, holder, meters, tariffs, operator...) as it was issued, so a
    # reprint shows the same words even after a move or a rename.
    content: Mapped[dict[str, object] | None] = mapped_column(JSON, nullable=True)


class UsageCharge(Base):
    """Priced usage of one meter in one billing cycle between two postings: when, how much,
    under which version.

    ``amount_exact`` is the exact decimal string of the charge; ``amount_minor`` what was
    posted for it: the billing cycle's exact total so far rounded, minus what the cycle had
    posted before (the residue is carried), so a (meter, ``cycle_start``)'s ``amount_minor``
    add up to its ``amount_exact`` rounded. The consumption ledger entry it was posted in
    carries the sum of its charges' ``amount_minor``. ``period`` is the TOU period when the
    slice lay in one, ``unit_price`` the price when it had one, else empty.
    """

    __tablename__ = "usage_charge"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"), index=True)
    start_at: Mapped[datetime] = mapped_column(UtcDateTime)
    end_at: Mapped[datetime] = mapped_column(UtcDateTime)
    quantity: Mapped[str] = mapped_column(String(32))  # exact decimal, kWh or m3
    tariff_version_id: Mapped[int] = mapped_column(ForeignKey("tariff_version.id"))
    kind: Mapped[str] = mapped_column(String(16))  # energy | allowance | fee
    period: Mapped[str | None] = mapped_column(String(16), nullable=True)
    tier: Mapped[int | None] = mapped_column(Integer, nullable=True)
    unit_price: Mapped[str] = mapped_column(String(32))
    amount_exact: Mapped[str] = mapped_column(String(40))
    ledger_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("ledger_entry.id"), nullable=True, index=True
    )
    cycle_start: Mapped[date | None] = mapped_column(Date, nullable=True)
    amount_minor: Mapped[int | None] = mapped_column(MinorUnits, nullable=True)


class ChargeDay(Base):
    """Usage billed per site-local day, meter, account, TOU period and tier: the energy report's
    periods and tiers and the statements' lines read this, never every usage charge. Added to in
    the transaction of each posting (``app.runtime.usage_posting``)."""

    __tablename__ = "charge_day"
    __table_args__ = (UniqueConstraint("day", "meter_id", "account_id", "period", "tier"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    period: Mapped[str] = mapped_column(String(16), default="")  # "" without TOU periods
    tier: Mapped[int] = mapped_column(Integer, default=0)  # 0 without tiers
    units: Mapped[int] = mapped_column(BigInteger, default=0)  # Wh or litres, multiplier applied
    amount_minor: Mapped[int] = mapped_column(MinorUnits, default=0)


class RatingState(Base):
    """Where live rating of one meter stands at its last posting: the register and time of the
    last reading rated, and the rater's saved state (cycle, tier position, allowance used,
    residue). Written in the transaction of each posting, so after a crash rating goes on from
    here with the readings stored since: nothing lost, nothing billed twice.
    """

    __tablename__ = "rating_state"

    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"), primary_key=True)
    last_units: Mapped[int] = mapped_column(BigInteger)
    last_read_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_rates: Mapped[dict[str, int] | None] = mapped_column(JSON, nullable=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("tariff_plan.id"), nullable=True)
    rater: Mapped[dict[str, object] | None] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class Shift(Base):
    """A cashier's shift: opened with a float in the drawer, closed with a report. An operator
    has at most one open shift (partial unique index)."""

    __tablename__ = "shift"
    __table_args__ = (
        Index(
            "uq_shift_open_per_operator",
            "operator_id",
            unique=True,
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operator.id"), index=True)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    opening_float_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    counted_cash_minor: Mapped[int | None] = mapped_column(MinorUnits, nullable=True)
    report_path: Mapped[str] = mapped_column(Text, default="")
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"), nullable=True)
