"""Text messages to tenants (``Notice``: the queue the notice sender works through) and the
site's wording of each kind of notice per language (``NoticeTemplate``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.store.models.base import Base, UtcDateTime, enum_column, utc_now
from app.vocabulary import NoticeKind, NoticeState


class Notice(Base):
    """One text message to a tenant. Written in the transaction of what it tells (the recharge,
    the cut, the trip), so it is never lost and never written twice (``key`` is unique: the
    receipt, the alarm or the command it tells of). The sender marks it ``SENDING`` before the
    modem gets it, so a PC that stops mid-send never sends it a second time."""

    __tablename__ = "notice"
    # The sender asks for the queued notices that are due.
    __table_args__ = (Index("ix_notice_state_due", "state", "due_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[NoticeKind] = mapped_column(enum_column(NoticeKind))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    phone: Mapped[str] = mapped_column(String(40))  # the account's phone when it was written
    language: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    state: Mapped[NoticeState] = mapped_column(enum_column(NoticeState), default=NoticeState.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)  # not before (quiet hours, a retry)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    # The network's reference of each part, as the modem answered.
    references: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)
    # The alarm it tells of: a warning cleared before the notice went is dropped, not sent.
    alarm_id: Mapped[int | None] = mapped_column(ForeignKey("alarm.id"), nullable=True)


class NoticeTemplate(Base):
    """The site's own wording of a kind of notice in a language; a kind without one uses the
    wording shipped in ``resources/notices``."""

    __tablename__ = "notice_template"
    __table_args__ = (UniqueConstraint("kind", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[NoticeKind] = mapped_column(enum_column(NoticeKind))
    language: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"), nullable=True)
