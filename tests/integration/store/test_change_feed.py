"""The change feed: what a transaction commits reaches a listener, on PostgreSQL through
LISTEN/NOTIFY on a second Database object (as another PC would), on SQLite in process; a
rollback publishes nothing; big batches are summarised and long ones split; a listener whose
connection the server kills comes back and reports everything."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

import pytest
from sqlalchemy import Table, bindparam, func, select, text, update

from app.demo.site import DEMO_PASSWORD, DemoSpec, seed_demo_site
from app.services.alarm_actions import acknowledge_alarm
from app.services.ledger import NewEntry, post_entries
from app.services.operators import login
from app.services.recharge import recharge
from app.store import change_statements
from app.store.change_feed import EVERYTHING, ChangeKind, ChangeListener, Changes
from app.store.changes import PAYLOAD_BYTES, SUMMARY_LIMIT, decode, encode
from app.store.database import Database
from app.store.models import Account, Alarm, IntervalReading, Meter, RelayCommand
from app.vocabulary import (
    AlarmSeverity,
    AlarmState,
    LedgerKind,
    MeterStatus,
    PaymentMethod,
    RelayAction,
)

WAIT_S = 20.0  # a bound for a stuck test, never a measurement


class Heard:
    """What a listener delivered, in order (any thread puts, the test reads)."""

    def __init__(self) -> None:
        self.batches: queue.Queue[Changes] = queue.Queue()

    def __call__(self, changes: Changes) -> None:
        self.batches.put(changes)

    def until(self, done: Callable[[Changes], bool]) -> Changes:
        """Every batch up to the one after which ``done(all so far)`` holds, merged."""
        seen = Changes()
        while not done(seen):
            try:
                seen = seen.merged(self.batches.get(timeout=WAIT_S))
            except queue.Empty:
                pytest.fail(f"the listener heard only {seen} in {WAIT_S} s")
        return seen

    def until_ids(self, kind: ChangeKind, ids: set[int]) -> Changes:
        return self.until(lambda c: (found := c.ids_of(kind)) is None or ids <= found)


@dataclass
class Site:
    writer: Database  # where the changes are made
    reader: Database  # where they are heard: another handle on PostgreSQL, the same on SQLite
    heard: Heard
    listener: ChangeListener


@pytest.fixture
def site(migrated_url: str) -> Iterator[Site]:
    writer = Database(migrated_url)
    seed_demo_site(writer, DemoSpec(buildings=1, floors=1, rooms_per_floor=3))
    reader = writer if writer.is_sqlite else Database(migrated_url)
    heard = Heard()
    listener = ChangeListener(reader, heard, retry_delays_s=(0.05, 0.1))
    listener.start()
    assert listener.wait_listening(WAIT_S)
    yield Site(writer, reader, heard, listener)
    listener.stop()
    if reader is not writer:
        reader.dispose()
    writer.dispose()


def raise_alarm(db: Database, message: str = "marker") -> int:
    with db.transaction() as session:
        alarm = Alarm(
            kind="meter_offline",
            severity=AlarmSeverity.CRITICAL,
            message=message,
            raised_at=datetime.now(UTC),
        )
        session.add(alarm)
        session.flush()
        return alarm.id


def first_account(db: Database) -> tuple[int, str]:
    with db.session() as session:
        account = session.scalars(select(Account).order_by(Account.id)).first()
        assert account is not None
        return account.id, account.number


def meter_ids(db: Database) -> list[int]:
    with db.session() as session:
        return list(session.scalars(select(Meter.id).order_by(Meter.id)))


def test_a_recharge_is_heard_as_a_balance_and_an_account_change(site: Site) -> None:
    account_id, number = first_account(site.writer)
    cashier = login(site.writer, "cashier", DEMO_PASSWORD)
    recharge(site.writer, cashier, number, "50", PaymentMethod.CASH, "feed-1")
    seen = site.heard.until_ids(ChangeKind.ACCOUNT, {account_id})
    assert seen.ids_of(ChangeKind.BALANCE) == {account_id}
    assert seen.ids_of(ChangeKind.ACCOUNT) == {account_id}
    assert not seen.everything


def test_the_engines_bulk_posting_names_every_account(site: Site) -> None:
    """post_entries writes with one INSERT and one executemany UPDATE, not the ORM's flush."""
    with site.writer.session() as session:
        accounts = list(session.scalars(select(Account.id).order_by(Account.id)))
    assert len(accounts) >= 2
    with site.writer.transaction() as session:
        post_entries(
            session,
            [NewEntry(a, LedgerKind.CONSUMPTION, -100, reason="usage") for a in accounts],
        )
    seen = site.heard.until_ids(ChangeKind.ACCOUNT, set(accounts))
    assert seen.ids_of(ChangeKind.BALANCE) == set(accounts)
    assert seen.ids_of(ChangeKind.ACCOUNT) == set(accounts)


def test_an_alarm_raised_acknowledged_and_cleared_is_heard_each_time(site: Site) -> None:
    alarm_id = raise_alarm(site.writer, "meter gone quiet")
    assert site.heard.until_ids(ChangeKind.ALARM, {alarm_id}).ids_of(ChangeKind.ALARM) == {alarm_id}
    supervisor = login(site.writer, "supervisor", DEMO_PASSWORD)
    acknowledge_alarm(site.writer, supervisor, alarm_id, "on my way")
    assert site.heard.until_ids(ChangeKind.ALARM, {alarm_id}).ids_of(ChangeKind.ALARM) == {alarm_id}
    with site.writer.transaction() as session:  # the runtime clears with an UPDATE statement
        session.execute(update(Alarm).where(Alarm.id == alarm_id).values(state=AlarmState.CLEARED))
    assert site.heard.until_ids(ChangeKind.ALARM, {alarm_id}).ids_of(ChangeKind.ALARM) == {alarm_id}


def test_meter_state_changes_are_heard_and_a_poll_that_changes_nothing_is_not(
    site: Site,
) -> None:
    first, second, *_ = meter_ids(site.writer)
    meters = cast(Table, Meter.__table__)

    def mark_seen(closed: bool) -> None:
        """As the poll marks meters it saw: one executemany UPDATE of both."""
        with site.writer.transaction() as session:
            session.execute(
                update(meters)
                .where(meters.c.id == bindparam("mid"), meters.c.removed_at.is_(None))
                .values(
                    last_seen_at=bindparam("seen"),
                    status=MeterStatus.ACTIVE,
                    relay_closed=bindparam("closed"),
                ),
                [
                    {"mid": first, "seen": datetime.now(UTC), "closed": True},
                    {"mid": second, "seen": datetime.now(UTC), "closed": closed},
                ],
            )

    mark_seen(closed=True)  # the first poll: both meters come online
    assert site.heard.until_ids(ChangeKind.METER, {first, second}).ids_of(ChangeKind.METER) == {
        first,
        second,
    }
    mark_seen(closed=True)  # seen again, nothing to tell
    mark_seen(closed=False)  # the second meter's relay opened
    marker = raise_alarm(site.writer)
    seen = site.heard.until_ids(ChangeKind.ALARM, {marker})
    assert seen.ids_of(ChangeKind.METER) == {second}

    with site.writer.transaction() as session:  # the ORM way: a meter goes offline
        session.get_one(Meter, first).status = MeterStatus.OFFLINE
    assert site.heard.until_ids(ChangeKind.METER, {first}).ids_of(ChangeKind.METER) == {first}

    for _twice in range(2):  # as the poll marks one offline: the second time changes nothing
        with site.writer.transaction() as session:
            session.execute(
                update(Meter).where(Meter.id == second).values(status=MeterStatus.OFFLINE)
            )
    marker = raise_alarm(site.writer)
    seen = site.heard.until_ids(ChangeKind.ALARM, {marker})
    assert seen.ids_of(ChangeKind.METER) == {second}


@pytest.mark.parametrize("scan_above", [2000, 0], ids=["ids named", "table scanned"])
def test_meter_updates_are_compared_however_they_are_written(
    site: Site, monkeypatch: pytest.MonkeyPatch, scan_above: int
) -> None:
    """A big poll is compared by scanning the rows that differ (any number of meters above
    ``SCAN_ABOVE``); a SET the feed cannot read ahead (an SQL expression) is compared by reading
    the rows before and after."""
    monkeypatch.setattr(change_statements, "SCAN_ABOVE", scan_above)
    first, second, *_ = meter_ids(site.writer)
    meters = cast(Table, Meter.__table__)
    with site.writer.transaction() as session:
        session.execute(
            update(meters)
            .where(meters.c.id == bindparam("mid"))
            .values(status=MeterStatus.ACTIVE, relay_closed=bindparam("closed")),
            [{"mid": first, "closed": False}, {"mid": second, "closed": None}],
        )
    assert site.heard.until_ids(ChangeKind.METER, {first}).ids_of(ChangeKind.METER) == {first}
    for reason in ("MANUAL", "MANUAL"):  # an expression: the second time changes nothing
        with site.writer.transaction() as session:
            session.execute(
                update(Meter).where(Meter.id == second).values(off_reason=func.lower(reason))
            )
    marker = raise_alarm(site.writer)
    assert site.heard.until_ids(ChangeKind.ALARM, {marker}).ids_of(ChangeKind.METER) == {second}


def test_a_rolled_back_transaction_or_savepoint_publishes_nothing(site: Site) -> None:
    account_id, _number = first_account(site.writer)
    meter = meter_ids(site.writer)[0]

    class Undo(Exception):
        pass

    def undone() -> None:
        with site.writer.transaction() as session:
            session.get_one(Account, account_id).holder_name = "Nobody"
            session.add(Alarm(kind="x", severity=AlarmSeverity.INFO, message="never"))
            session.flush()
            raise Undo

    with pytest.raises(Undo):
        undone()
    with site.writer.transaction() as session:
        try:
            with session.begin_nested():
                session.add(
                    RelayCommand(meter_id=meter, action=RelayAction.CUT_SUPPLY, reason="undone")
                )
                session.flush()
                raise Undo
        except Undo:
            pass
        with session.begin_nested():  # a savepoint released: its changes stand
            session.add(
                IntervalReading(meter_id=meter, read_at=datetime.now(UTC), register_units=1)
            )
        session.add(
            Alarm(
                kind="x",
                severity=AlarmSeverity.INFO,
                message="kept",
                raised_at=datetime.now(UTC),
            )
        )
    seen = site.heard.until(lambda c: c.touches(ChangeKind.ALARM))
    assert seen.kinds() == {ChangeKind.ALARM, ChangeKind.READING}
    assert seen.ids_of(ChangeKind.READING) == {meter}
    with site.writer.session() as session:
        kept = session.scalars(select(Alarm.id).where(Alarm.message == "kept")).one()
    assert seen.ids_of(ChangeKind.ALARM) == {kept}


def test_a_big_batch_is_summarised(site: Site) -> None:
    with site.writer.transaction() as session:
        for n in range(SUMMARY_LIMIT + 100):
            session.add(Alarm(kind="x", severity=AlarmSeverity.INFO, message=f"flood {n}"))
    seen = site.heard.until(lambda c: c.touches(ChangeKind.ALARM))
    assert seen.ids_of(ChangeKind.ALARM) is None  # "any alarm": too many to list
    assert ChangeKind.ALARM in seen.whole


def test_a_batch_too_long_for_one_notification_arrives_whole(site: Site) -> None:
    """Over 7,000 bytes of ids (large ids of two kinds): several notifications, nothing lost."""
    meter = meter_ids(site.writer)[0]
    alarms = {10_000_000 + n for n in range(450)}
    commands = {20_000_000 + n for n in range(450)}
    with site.writer.transaction() as session:
        for alarm_id in alarms:
            session.add(Alarm(id=alarm_id, kind="x", severity=AlarmSeverity.INFO, message="m"))
        for command_id in commands:
            session.add(
                RelayCommand(
                    id=command_id, meter_id=meter, action=RelayAction.CUT_SUPPLY, reason="r"
                )
            )
    seen = site.heard.until(
        lambda c: c.ids_of(ChangeKind.ALARM) == alarms and c.ids_of(ChangeKind.COMMAND) == commands
    )
    assert not seen.whole
    assert len(encode(Changes.of({ChangeKind.ALARM: alarms, ChangeKind.COMMAND: commands}))) > 1


def test_a_listener_that_fails_never_breaks_the_commit_or_the_feed(site: Site) -> None:
    calls = Heard()

    def broken(changes: Changes) -> None:
        calls(changes)
        raise RuntimeError("a broken screen")

    listener = ChangeListener(site.reader, broken)
    listener.start()
    # SQLite: a subscriber of the Database itself that raises (the feed logs it and goes on).
    unsubscribe = site.writer.changes.subscribe(broken) if site.writer.is_sqlite else None
    try:
        assert listener.wait_listening(WAIT_S)
        first = raise_alarm(site.writer)
        second = raise_alarm(site.writer)
        assert site.heard.until_ids(ChangeKind.ALARM, {first, second})
        # called again after it failed
        assert calls.until_ids(ChangeKind.ALARM, {first, second})
    finally:
        listener.stop()
        if unsubscribe is not None:
            unsubscribe()
    with site.writer.session() as session:
        assert session.get(Alarm, first) is not None
        assert session.get(Alarm, second) is not None


def test_sqlite_is_heard_per_database_handle_and_postgresql_per_server(site: Site) -> None:
    """On SQLite a listener hears the commits of its own Database object (listeners are not
    global to the process); on PostgreSQL it hears the database, whoever writes."""
    other_heard = Heard()
    other = Database(site.writer.url)  # another handle, on SQLite another in-process feed
    listener = ChangeListener(other, other_heard)
    listener.start()
    try:
        assert listener.wait_listening(WAIT_S)
        alarm_id = raise_alarm(site.writer)
        assert site.heard.until_ids(ChangeKind.ALARM, {alarm_id})
        marker = raise_alarm(other)
        heard = other_heard.until_ids(ChangeKind.ALARM, {marker})
        if site.writer.is_sqlite:
            assert heard.ids_of(ChangeKind.ALARM) == {marker}  # in process: per Database
        else:
            assert heard.ids_of(ChangeKind.ALARM) == {alarm_id, marker}  # the same server
    finally:
        listener.stop()
        other.dispose()


@pytest.mark.postgres
def test_the_listener_comes_back_after_the_server_drops_it_and_reports_everything(
    postgres_url: str,
) -> None:
    db = Database(postgres_url)
    heard = Heard()
    listener = ChangeListener(db, heard, retry_delays_s=(0.05, 0.1))
    listener.start()
    try:
        assert listener.wait_listening(WAIT_S)
        first_pid = listener.backend_pid
        assert first_pid is not None
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first_pid})
            conn.commit()
        assert heard.until(lambda c: c.everything) == EVERYTHING
        assert listener.backend_pid not in (None, first_pid)
        with db.engine.connect() as conn:  # heard again: a notification of another writer
            conn.execute(
                text("SELECT pg_notify('meterdesk_changes', :p)"),
                {"p": encode(Changes.of({ChangeKind.METER: [7]}))[0]},
            )
            conn.commit()
        assert heard.until_ids(ChangeKind.METER, {7}).ids_of(ChangeKind.METER) == {7}
    finally:
        listener.stop()
        db.dispose()
    assert not any(t.name == "change listener" for t in threading.enumerate())


# -- the payload, without a database ---------------------------------------------------------


def test_payloads_split_under_the_limit_and_say_everything_together() -> None:
    changes = Changes.of(
        {
            ChangeKind.BALANCE: range(10_000_000, 10_000_450),
            ChangeKind.METER: range(50_000_000, 50_000_450),
            ChangeKind.TRIP: [3],
        },
        whole=[ChangeKind.ALARM],
    )
    payloads = encode(changes)
    assert len(payloads) > 1
    assert all(len(p.encode()) <= PAYLOAD_BYTES for p in payloads)
    together = Changes()
    for payload in payloads:
        together = together.merged(decode(payload))
    assert together == changes
    assert decode(encode(EVERYTHING)[0]) == EVERYTHING


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        '{"v": 2}',
        '{"v": 1, "ids": {"weather": [1]}}',
        '{"v": 1, "ids": {"meter": ["1"]}}',
    ],
)
def test_a_payload_not_of_ours_is_refused_with_the_reason(payload: str) -> None:
    with pytest.raises(ValueError, match="change payload"):
        decode(payload)
