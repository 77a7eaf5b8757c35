"""The protected state of a site, read the same way when the audit trail starts and when
``ledger verify`` checks it.

A site may hold rows made before its trail started (an older MeterDesk, the demo's invented
history): they have no event of their own. The trail's first sealed event (``audit.start``)
records a census of them: digests of the append-only tables (ledger entries, receipts), and
the values that matter of the few changeable rows (operators' names, roles and whether they
may sign in; settings; each tariff version's text; each meter's first and final reading).
From then on every change has an event, so verify can say what each row must hold.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.store.models import (
    IntervalReading,
    LedgerEntry,
    Meter,
    Operator,
    Receipt,
    Setting,
    TariffVersion,
)


def take_census(session: Session) -> dict[str, object]:
    """What exists now, in JSON form (the ``census`` of the ``audit.start`` event).

    On PostgreSQL the ledger is locked against new entries first (once, for this one
    transaction): an entry given a lower id by a transaction that commits after the census
    would otherwise fall inside its digest and be named as an edit forever after. (SQLite runs
    one writer at a time.)"""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE ledger_entry IN SHARE MODE"))
    last_entry = session.scalar(select(func.max(LedgerEntry.id))) or 0
    last_receipt = session.scalar(select(func.max(Receipt.number))) or 0
    firsts, finals = meter_readings(session)
    return {
        "ledger": {"last": last_entry, "digest": ledger_digest(session, last_entry)},
        "receipts": {"last": last_receipt, "digest": receipts_digest(session, last_receipt)},
        "operators": {str(k): v for k, v in operator_states(session).items()},
        "settings": setting_values(session),
        "tariffs": {str(k): v for k, v in tariff_digests(session).items()},
        "meters": {str(k): v for k, v in firsts.items()},
        "finals": {str(k): v for k, v in finals.items()},
    }


def ledger_digest(session: Session, last_id: int) -> str:
    """SHA-256 over every entry up to ``last_id``: who, what kind, how much, balance after."""
    digest = hashlib.sha256()
    rows = session.execute(
        select(
            LedgerEntry.id,
            LedgerEntry.account_id,
            LedgerEntry.kind,
            LedgerEntry.amount_minor,
            LedgerEntry.balance_after_minor,
            LedgerEntry.reverses_id,
        )
        .where(LedgerEntry.id <= last_id)
        .order_by(LedgerEntry.id)
        .execution_options(yield_per=5000)
    )
    for entry_id, account_id, kind, amount, after, reverses in rows:
        digest.update(f"{entry_id}|{account_id}|{kind}|{amount}|{after}|{reverses}\n".encode())
    return digest.hexdigest()


def receipts_digest(session: Session, last_number: int) -> str:
    """SHA-256 over every receipt up to ``last_number``: its entry and its amounts."""
    digest = hashlib.sha256()
    rows = session.execute(
        select(
            Receipt.number,
            Receipt.ledger_entry_id,
            Receipt.account_id,
            Receipt.amount_minor,
            Receipt.balance_before_minor,
            Receipt.balance_after_minor,
        )
        .where(Receipt.number <= last_number)
        .order_by(Receipt.number)
    )
    for row in rows:
        digest.update(("|".join(str(v) for v in row) + "\n").encode())
    return digest.hexdigest()


def operator_states(session: Session) -> dict[int, dict[str, object]]:
    """Operator id -> the fields that decide what the operator may do."""
    rows = session.execute(select(Operator.id, Operator.username, Operator.role, Operator.active))
    return {
        operator_id: {"username": name, "role": str(role.value), "active": bool(active)}
        for operator_id, name, role, active in rows
    }


def setting_values(session: Session) -> dict[str, object]:
    return {key: _json(value) for key, value in session.execute(select(Setting.key, Setting.value))}


def tariff_digests(session: Session) -> dict[int, str]:
    """Tariff version id -> SHA-256 of its text (every price is read from the text)."""
    rows = session.execute(select(TariffVersion.id, TariffVersion.source_toml))
    return {version_id: text_digest(text) for version_id, text in rows}


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def meter_readings(session: Session) -> tuple[dict[int, int], dict[int, int]]:
    """(meter id -> its first reading, removed meter id -> its reading when it was taken
    out): the initial and final registers set-up and swaps write."""
    first = (
        select(IntervalReading.meter_id, func.min(IntervalReading.read_at).label("at"))
        .group_by(IntervalReading.meter_id)
        .subquery()
    )
    firsts = dict(
        session.execute(
            select(IntervalReading.meter_id, IntervalReading.register_units).join(
                first,
                (IntervalReading.meter_id == first.c.meter_id)
                & (IntervalReading.read_at == first.c.at),
            )
        ).all()
    )
    finals = dict(
        session.execute(
            select(IntervalReading.meter_id, IntervalReading.register_units).join(
                Meter,
                (Meter.id == IntervalReading.meter_id)
                & (Meter.removed_at == IntervalReading.read_at),
            )
        ).all()
    )
    return firsts, finals


def _json(value: object) -> object:
    """The value as it reads back from a JSON column (and an event)."""
    return json.loads(json.dumps(value, default=str, sort_keys=True))
