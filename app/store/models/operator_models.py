"""Operators, the hash-chained audit trail, and alarms."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.store.models.base import Base, UtcDateTime, enum_column, utc_now
from app.vocabulary import AlarmSeverity, AlarmState, Role


class Operator(Base):
    __tablename__ = "operator"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class SignInLock(Base):
    """Wrong passwords given in a row for one user name, and the lock they earned.

    Keyed by the name as typed at sign-in (normalised, lower case), whether or not an operator
    has it: an unknown name is locked exactly as a known one, so the lock tells nobody which
    names exist. A right password or an administrator's unlock removes the row.
    """

    __tablename__ = "sign_in_lock"

    username: Mapped[str] = mapped_column(String(40), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UtcDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class AuditEvent(Base):
    """Who did what, when, with the state before and after.

    ``entry_hash`` = SHA-256 over the previous event's hash and this event's canonical JSON,
    so editing or deleting any event breaks the chain (checked by ``ledger verify``).
    """

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, index=True)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"), nullable=True)
    action: Mapped[str] = mapped_column(String(60))
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str] = mapped_column(String(40))
    before: Mapped[dict[str, object] | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict[str, object] | None] = mapped_column(JSON, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)


class Alarm(Base):
    """An alarm raised by the engine or a bus; acknowledged by an operator, cleared by the cause."""

    __tablename__ = "alarm"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)  # low_balance_1, meter_offline...
    severity: Mapped[AlarmSeverity] = mapped_column(enum_column(AlarmSeverity))
    state: Mapped[AlarmState] = mapped_column(
        enum_column(AlarmState), default=AlarmState.ACTIVE, index=True
    )
    meter_id: Mapped[int | None] = mapped_column(ForeignKey("meter.id"), nullable=True, index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"), nullable=True)
    message: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, object] | None] = mapped_column(JSON, nullable=True)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"), nullable=True)
    ack_note: Mapped[str] = mapped_column(Text, default="")
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
