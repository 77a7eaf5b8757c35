"""Many rows at once (``app.store.bulk_rows``): COPY on PostgreSQL, a batched statement on
SQLite, the same rows either way: values bound as their columns bind them (aware times, enums,
JSON, money), ids in the order of the rows, a duplicate key refused as SQLAlchemy's
IntegrityError with nothing written, and the change feed told of the new rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.demo.site import DemoSpec, seed_demo_site
from app.store.bulk_rows import insert_missing, insert_rows, insert_rows_with_ids, update_rows
from app.store.change_feed import ChangeListener
from app.store.changes import ChangeKind, Changes
from app.store.database import Database
from app.store.models import Account, IntervalReading, LedgerEntry, Meter, RatingState
from app.vocabulary import LedgerKind, ReadingQuality
from tests.support import wait_for

AT = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


@pytest.fixture
def site(db: Database) -> Database:
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=2))
    return db


def meters(db: Database) -> list[int]:
    with db.session() as session:
        return list(session.scalars(select(Meter.id).order_by(Meter.id)))


def readings(meter_ids: list[int], at: datetime) -> list[dict[str, object]]:
    return [
        {
            "meter_id": meter_id,
            "read_at": at,
            "register_units": 1000 + meter_id,
            "rate_registers": [1, None, 3, 4] if meter_id % 2 else None,
            "quality": ReadingQuality.GOOD,
        }
        for meter_id in meter_ids
    ]


def test_rows_go_in_with_their_columns_types_and_the_feed_hears_them(site: Database) -> None:
    ids = meters(site)
    heard: list[Changes] = []
    listener = ChangeListener(site, heard.append)
    listener.start()
    try:
        assert listener.wait_listening(10)
        with site.transaction() as session:
            insert_rows(session, IntervalReading, readings(ids, AT))
        wait_for(
            lambda: any(b.ids_of(ChangeKind.READING) == frozenset(ids) for b in list(heard)),
            "the feed told of the new readings",
        )
    finally:
        listener.stop()
    with site.session() as session:
        stored = session.execute(
            select(
                IntervalReading.meter_id,
                IntervalReading.read_at,
                IntervalReading.register_units,
                IntervalReading.rate_registers,
                IntervalReading.quality,
            )
            .where(IntervalReading.read_at == AT)
            .order_by(IntervalReading.meter_id)
        ).all()
    assert [tuple(row) for row in stored] == [
        (m, AT, 1000 + m, [1, None, 3, 4] if m % 2 else None, ReadingQuality.GOOD) for m in ids
    ]


def test_a_duplicate_key_is_an_integrity_error_and_writes_nothing(site: Database) -> None:
    ids = meters(site)
    with site.transaction() as session:
        insert_rows(session, IntervalReading, readings(ids[:1], AT))
    with pytest.raises(IntegrityError), site.transaction() as session:
        insert_rows(session, IntervalReading, readings(ids, AT))  # the first one again
    with site.session() as session:
        count = session.scalar(
            select(func.count()).select_from(IntervalReading).where(IntervalReading.read_at == AT)
        )
    assert count == 1


def test_ids_come_back_in_the_order_of_the_rows(site: Database) -> None:
    with site.session() as session:
        account_ids = list(session.scalars(select(Account.id).order_by(Account.id)))
    rows = [
        {
            "account_id": account_id,
            "kind": LedgerKind.ADJUSTMENT,
            "amount_minor": -n - 1,
            "balance_after_minor": 0,
            "created_at": AT,
            "operator_id": None,
            "reason": f"row {n}",
            "reference": "",
            "idempotency_key": f"test:{n}",
        }
        for n, account_id in enumerate(account_ids * 2)
    ]
    with site.transaction() as session:
        new_ids = insert_rows_with_ids(session, LedgerEntry, rows)
    assert new_ids == sorted(new_ids)
    assert len(set(new_ids)) == len(rows)
    with site.session() as session:
        reasons = dict(
            session.execute(
                select(LedgerEntry.id, LedgerEntry.reason).where(LedgerEntry.id.in_(new_ids))
            ).all()
        )
    assert [reasons[i] for i in new_ids] == [f"row {n}" for n in range(len(rows))]


def test_rows_are_updated_by_their_key(site: Database) -> None:
    ids = meters(site)
    with site.transaction() as session:
        insert_rows(
            session,
            RatingState,
            [{"meter_id": m, "last_units": 1, "last_read_at": AT, "updated_at": AT} for m in ids],
        )
    later = AT + timedelta(minutes=15)
    with site.transaction() as session:
        update_rows(
            session,
            RatingState,
            [
                {"meter_id": m, "last_units": 100 + m, "last_read_at": later, "rater": {"n": m}}
                for m in ids[1:]
            ],
        )
    with site.session() as session:
        rows = {
            r.meter_id: (r.last_units, r.last_read_at, r.rater)
            for r in session.scalars(select(RatingState))
        }
    assert rows[ids[0]] == (1, AT, None)  # not in the update: untouched
    for m in ids[1:]:
        assert rows[m] == (100 + m, later, {"n": m})


def test_a_row_another_process_inserted_first_stands(site: Database) -> None:
    """Two runtimes starting on one database both write the baseline of a meter never rated:
    the second insert leaves the first row and fails nothing (a duplicate key once stopped an
    attached console's start)."""
    first, second = meters(site)[:2]
    with site.transaction() as session:
        insert_missing(
            session,
            RatingState,
            [{"meter_id": first, "last_units": 1, "last_read_at": AT, "updated_at": AT}],
            ["meter_id"],
        )
    with site.transaction() as session:
        insert_missing(
            session,
            RatingState,
            [
                {"meter_id": first, "last_units": 2, "last_read_at": AT, "updated_at": AT},
                {"meter_id": second, "last_units": 3, "last_read_at": AT, "updated_at": AT},
            ],
            ["meter_id"],
        )
    with site.session() as session:
        rows = dict(session.execute(select(RatingState.meter_id, RatingState.last_units)).all())
    assert rows == {first: 1, second: 3}
