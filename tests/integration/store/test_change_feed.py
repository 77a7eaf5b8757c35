"""The change feed: what a transaction commits reaches a listener, on PostgreSQL through
LISTEN/NOTIFY on a second Database object (as another PC would), on SQLite in process; a
rollback publishes nothing; big batches are summarised and long ones split; a listener whose
connection the server kills comes back and reports everything. A recharge made by another
process is heard on both (on SQLite through the file's data version, as ``everything``), and on
SQLite this process's own commits never count as another's."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
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
from app.store.database import DB_FILE_NAME, Database
from app.store.models import Account, Alarm, IntervalReading, Meter, RelayCommand
from app.vocabulary import (
    AlarmSeverity,
    AlarmState,
    LedgerKind,
    MeterStatus,
    PaymentMethod,
    RelayAction,
)
from tests.databases import _sqlite_copy
from tests.support import run_python

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


def test_a_listener_hears_another_handle_on_sqlite_as_everything_and_on_postgresql_by_id(
    site: Site,
) -> None:
    """On SQLite a listener hears the commits of its own Database object with their ids and
    another handle's (another process's, as far as it can tell) as ``everything`` through the
    file; on PostgreSQL it hears the database by id, whoever writes."""
    other_heard = Heard()
    other = Database(site.writer.url)  # another handle, on SQLite another in-process feed
    listener = ChangeListener(other, other_heard)
    listener.start()
    try:
        assert listener.wait_listening(WAIT_S)
        alarm_id = raise_alarm(site.writer)
        assert site.heard.until_ids(ChangeKind.ALARM, {alarm_id})
        if site.writer.is_sqlite:
            assert other_heard.until(lambda c: c.everything) == EVERYTHING
        marker = raise_alarm(other)
        heard = other_heard.until_ids(ChangeKind.ALARM, {marker})
        if site.writer.is_sqlite:
            assert heard.ids_of(ChangeKind.ALARM) == {marker}  # its own: by id, no everything
        else:
            assert heard.ids_of(ChangeKind.ALARM) == {alarm_id, marker}  # the same server
    finally:
        listener.stop()
        other.dispose()


def test_a_recharge_made_by_another_process_is_heard(site: Site, tmp_path: Path) -> None:
    """``main.py account recharge`` in a process of its own, as a script beside the console:
    on PostgreSQL its notification names the account; on SQLite the file moved under the
    listener's feet and it says ``everything``."""
    account_id, number = first_account(site.writer)
    done = run_python(
        [
            "main.py",
            "account",
            "recharge",
            "--db",
            site.writer.url.render_as_string(hide_password=False),
            "--data-dir",
            str(tmp_path / "script-data"),
            "--account",
            number,
            "--amount",
            "30",
            "--method",
            "cash",
            "--user",
            "cashier",
        ],
        env={"METERDESK_PASSWORD": DEMO_PASSWORD},
        unset=["CI"],  # the program must not behave differently under CI
    )
    assert done.returncode == 0, done.stderr
    if site.writer.is_sqlite:
        assert site.heard.until(lambda c: c.everything) == EVERYTHING
    else:
        seen = site.heard.until_ids(ChangeKind.ACCOUNT, {account_id})
        assert seen.ids_of(ChangeKind.BALANCE) == {account_id}


# -- SQLite: other processes heard through the file, this one's commits not twice -----------


@pytest.fixture
def sqlite_db(_sqlite_template: Path, tmp_path: Path) -> Iterator[Database]:
    """A small seeded site in a SQLite file (WAL, as ``upgrade`` leaves it)."""
    db = Database(_sqlite_copy(_sqlite_template, tmp_path / "sqlite-site"))
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=3))
    yield db
    db.dispose()


@pytest.fixture
def asked(sqlite_db: Database) -> Iterator[tuple[ChangeListener, Heard]]:
    """A listener whose thread never asks the file by itself (an hour apart): the test asks it
    with ``check_other_processes`` and knows exactly what happened before."""
    heard = Heard()
    listener = ChangeListener(sqlite_db, heard, file_check_s=3600)
    listener.start()
    assert listener.wait_listening(WAIT_S)
    yield listener, heard
    listener.stop()


def drained(heard: Heard) -> list[Changes]:
    batches = []
    while not heard.batches.empty():
        batches.append(heard.batches.get_nowait())
    return batches


def test_sqlite_this_process_s_own_commits_are_not_taken_for_another_s(
    sqlite_db: Database, asked: tuple[ChangeListener, Heard]
) -> None:
    listener, heard = asked
    account_id, number = first_account(sqlite_db)
    cashier = login(sqlite_db, "cashier", DEMO_PASSWORD)
    recharge(sqlite_db, cashier, number, "50", PaymentMethod.CASH, "own-1")
    raise_alarm(sqlite_db)
    with sqlite_db.session() as session:  # a commit that wrote nothing
        session.execute(select(Account.id)).all()
        session.commit()
    with sqlite_db.engine.begin() as conn:  # a bare connection, not a session
        conn.execute(update(Alarm).where(Alarm.message == "marker").values(ack_note="seen"))

    def alarms(count: int) -> None:
        for n in range(count):
            raise_alarm(sqlite_db, f"from a thread {n}")

    writers = [threading.Thread(target=alarms, args=(5,)) for _ in range(3)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert not listener.check_other_processes()
    batches = drained(heard)
    assert batches
    assert not any(b.everything for b in batches)
    assert any(b.ids_of(ChangeKind.BALANCE) == {account_id} for b in batches)


def test_sqlite_another_handle_s_commit_just_before_one_of_ours_is_still_heard(
    sqlite_db: Database, asked: tuple[ChangeListener, Heard]
) -> None:
    """Another writer commits, then this process commits before the file is asked: the move is
    not put down to our commit (the version is read before it, while it holds the lock)."""
    listener, heard = asked
    other = Database(sqlite_db.url)
    try:
        raise_alarm(other, "another process")
    finally:
        other.dispose()
    ours = raise_alarm(sqlite_db, "ours")
    assert listener.check_other_processes()
    batches = drained(heard)
    assert [b for b in batches if b.everything] == [EVERYTHING]  # once
    assert any(b.ids_of(ChangeKind.ALARM) == {ours} for b in batches)
    assert not listener.check_other_processes()  # told once


def test_sqlite_stop_ends_the_file_watch(sqlite_db: Database) -> None:
    heard = Heard()
    listener = ChangeListener(sqlite_db, heard, file_check_s=0.05)
    listener.start()
    assert any(t.name == "change listener" for t in threading.enumerate())
    listener.stop()
    assert not any(t.name == "change listener" for t in threading.enumerate())
    other = Database(sqlite_db.url)
    try:
        raise_alarm(other, "after the stop")
    finally:
        other.dispose()
    assert not listener.check_other_processes()
    assert heard.batches.empty()


def test_sqlite_a_listener_on_an_unreadable_file_says_so_and_starts_when_it_can(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The file cannot be opened yet: a warning saying so and what follows; once it can, the
    listener reports everything (what happened meanwhile was not heard)."""
    folder = tmp_path / "later"
    folder.mkdir()
    db = Database(f"sqlite:///{(folder / DB_FILE_NAME).as_posix()}")
    heard = Heard()
    listener = ChangeListener(db, heard, file_check_s=3600)
    try:
        listener.start()
        assert "cannot open" in caplog.text
        assert "trying again" in caplog.text
        assert not listener.check_other_processes()
        with db.transaction() as session:
            session.execute(text("CREATE TABLE made_meanwhile (x INTEGER)"))
        assert listener.check_other_processes()
        assert heard.batches.get_nowait() == EVERYTHING
    finally:
        listener.stop()
        db.dispose()


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
