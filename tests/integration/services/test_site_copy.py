"""Moving a SQLite site to PostgreSQL (issue 16, app/services/site_copy.py): the whole site
copied with its keys and checked, new rows numbered after the copied ones, the audit key put
where the new site needs it, and every refusal before anything is written."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import (
    Column,
    Date,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Time,
    create_engine,
    func,
    insert,
    inspect,
    select,
    text,
)

from app.demo.site import DEMO_PASSWORD, DemoSpec, seed_demo_site
from app.services.corrections import reverse
from app.services.ledger import post_entry
from app.services.ledger_verify import verify_ledger
from app.services.meter_replacement import replace_meter_as
from app.services.operators import SignedIn, login
from app.services.recharge import new_key, recharge
from app.services.site_copy import (
    CopyFailed,
    CopyRefused,
    check_source,
    copy_site,
    sign_in_administrator,
)
from app.services.site_copy_key import KeyConflict
from app.store import table_copy
from app.store.audit_key import KEY_FILE_NAME
from app.store.database import DB_FILE_NAME, Database, site_database, sqlite_url_for
from app.store.errors import NotMigrated
from app.store.migrate import alembic_config, upgrade
from app.store.models import (
    Account,
    AuditEvent,
    ChargeDay,
    IntervalReading,
    LedgerEntry,
    Meter,
    Receipt,
    TariffVersion,
    UsageCharge,
)
from app.vocabulary import ExitCode, LedgerKind, PaymentMethod, Role
from tests.integration.cli.cli_support import site_copy

pytestmark = pytest.mark.postgres

# Building B has Modbus meters; two days of hourly readings: a few hundred rows.
SPEC = DemoSpec(buildings=2, floors=1, rooms_per_floor=2, history_days=2)
CASH = PaymentMethod.CASH


def sign_in(db: Database, role: Role) -> SignedIn:
    return login(db, role.value, DEMO_PASSWORD)


def build_site(folder: Path) -> Path:
    """A SQLite site with what a year leaves behind, in small: the demo's accounts, meters and
    readings, recharges with receipts, a reversal (an entry naming an earlier one), usage
    posted with its charges, a replaced meter (a meter naming the one it replaced) and the
    audit trail of it all, sealed with the key beside the file."""
    db = Database(sqlite_url_for(folder))
    upgrade(db)
    seed_demo_site(db, SPEC)
    cashier, supervisor = sign_in(db, Role.CASHIER), sign_in(db, Role.SUPERVISOR)
    technician = sign_in(db, Role.TECHNICIAN)
    numbers = [a.number for a in accounts(db)]
    first = recharge(db, cashier, numbers[0], "50.00", CASH, new_key())
    recharge(db, cashier, numbers[1], "20.00", CASH, new_key())
    with db.session() as session:
        entry_id = session.scalars(
            select(Receipt.ledger_entry_id).where(Receipt.number == first.receipt_number)
        ).one()
    reverse(db, supervisor, entry_id, "credited the wrong room", None, new_key())
    with db.transaction() as session:
        last_at, last_wh = session.execute(
            select(IntervalReading.read_at, IntervalReading.register_units)
            .join(Meter, Meter.id == IntervalReading.meter_id)
            .where(Meter.serial == "EB01001")
            .order_by(IntervalReading.read_at.desc())
            .limit(1)
        ).one()
        replace_meter_as(
            session,
            technician,
            "EB01001",
            final_reading=Decimal(last_wh) / 1000 + 1,
            new_serial="NEW-0001",
            new_address="1",
            initial_reading=Decimal("0.012"),
            at=last_at + timedelta(seconds=1),
        )
    post_usage(db, accounts(db)[2].id, (33, 34, 33))
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return folder


def post_usage(db: Database, account_id: int, postings: tuple[int, ...]) -> None:
    """Usage of 0.333 a slice posted as the engine posts it: an entry and its usage charge."""
    with db.transaction() as session:
        meter = session.scalars(select(Meter).where(Meter.account_id == account_id)).first()
        version = session.scalars(select(TariffVersion)).first()
        assert meter is not None
        assert version is not None
        for cents in postings:
            posted = post_entry(session, account_id, LedgerKind.CONSUMPTION, -cents, reason="use")
            now = datetime.now(UTC)
            session.add(
                UsageCharge(
                    account_id=account_id,
                    meter_id=meter.id,
                    start_at=now,
                    end_at=now,
                    quantity="1",
                    tariff_version_id=version.id,
                    kind="energy",
                    unit_price="0.333",
                    amount_exact="0.333",
                    amount_minor=cents,
                    cycle_start=date(2026, 11, 1),
                    ledger_entry_id=posted.entry_id,
                )
            )
        # The daily rollup of what was billed, as a posting adds to it.
        session.add(
            ChargeDay(
                day=date.today(),
                meter_id=meter.id,
                account_id=account_id,
                period="",
                tier=0,
                units=1000 * len(postings),
                amount_minor=sum(postings),
            )
        )


def accounts(db: Database) -> list[Account]:
    with db.session() as session:
        return list(session.scalars(select(Account).order_by(Account.id)))


def balances(db: Database) -> dict[str, int]:
    return {a.number: a.balance_minor for a in accounts(db)}


def counts(db: Database) -> dict[str, int]:
    with db.engine.connect() as conn:
        return table_copy.row_counts(conn, table_copy.schema_tables())


def tables_of(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_site(tmp_path_factory.mktemp("copy-site"))


@pytest.fixture
def folder(template: Path, tmp_path: Path) -> Path:
    """This PC's data folder with the site's SQLite file and its audit key."""
    return site_copy(template, tmp_path / "site")


@pytest.fixture
def source(folder: Path) -> Iterator[Database]:
    db = Database(sqlite_url_for(folder))
    yield db
    db.dispose()


@pytest.fixture
def target(postgres_url: str, folder: Path) -> Iterator[Database]:
    """The empty PostgreSQL database, opened as this PC opens it after the move."""
    db = site_database(postgres_url, folder)
    yield db
    db.dispose()


def admin(db: Database) -> SignedIn:
    return sign_in_administrator(db, "admin", DEMO_PASSWORD)


def test_a_site_is_copied_whole_and_checked(
    source: Database, target: Database, folder: Path
) -> None:
    before = digest(folder / DB_FILE_NAME)
    copied = copy_site(source, target, admin(source), folder)
    assert copied.ok, [str(c) for c in copied.checks]
    assert [c.name for c in copied.checks] == [
        "row counts",
        "ledger verify on the source",
        "ledger verify on the copy",
        "audit chain",
    ]
    assert counts(target) == counts(source) == copied.tables
    assert copied.tables["audit_event"] > 5
    assert copied.tables["usage_charge"] == 3
    assert balances(target) == balances(source)
    report = verify_ledger(target)
    assert report.ok, report.problems
    assert report.sealed_from is not None  # checked with the site's key, not as plain hashes
    assert report.head == verify_ledger(source).head
    with target.session() as session:
        reversal = session.scalars(
            select(LedgerEntry).where(LedgerEntry.kind == LedgerKind.REVERSAL)
        ).one()
        assert reversal.reverses_id is not None
        assert session.scalars(select(Meter).where(Meter.serial == "NEW-0001")).one().replaces_id
    assert copied.key.present
    assert not copied.key.to_write  # the key already sits in this PC's data folder
    assert digest(folder / DB_FILE_NAME) == before  # the source was only read


def test_new_rows_on_the_copy_get_fresh_ids_and_the_next_receipt_number(
    source: Database, target: Database, folder: Path
) -> None:
    copy_site(source, target, admin(source), folder)
    with target.session() as session:
        last_entry = session.scalar(select(func.max(LedgerEntry.id)))
        last_receipt = session.scalar(select(func.max(Receipt.number)))
        last_receipt_id = session.scalar(select(func.max(Receipt.id)))
        last_event = session.scalar(select(func.max(AuditEvent.id)))
    number = accounts(target)[3].number
    done = recharge(target, sign_in(target, Role.CASHIER), number, "12.34", CASH, new_key())
    assert done.receipt_number == last_receipt + 1
    with target.session() as session:
        receipt = session.scalars(select(Receipt).where(Receipt.number == done.receipt_number))
        row = receipt.one()
        assert row.id == last_receipt_id + 1
        assert row.ledger_entry_id == last_entry + 1
        assert session.scalar(select(func.max(AuditEvent.id))) > last_event
    assert verify_ledger(target).ok  # the copy carries on the source's sealed trail


def test_a_target_migrated_beforehand_but_empty_is_taken(
    source: Database, target: Database, folder: Path
) -> None:
    """'db upgrade' on the new database first leaves only the migrations' own rows (the
    numbering counters at 0): that is still an empty site."""
    upgrade(target)
    copied = copy_site(source, target, admin(source), folder)
    assert copied.ok
    assert counts(target) == counts(source)


def test_a_target_holding_a_site_is_refused_and_left_as_it_was(
    source: Database, target: Database, folder: Path
) -> None:
    copy_site(source, target, admin(source), folder)
    with target.transaction() as session:  # work done on the new site since
        session.execute(text("UPDATE account SET holder_name = 'Changed' WHERE id = 1"))
    held = counts(target)
    with pytest.raises(CopyRefused, match=r"is not empty: .* hold rows") as refused:
        copy_site(source, target, admin(source), folder)
    assert refused.value.exit_code == ExitCode.REFUSED
    assert counts(target) == held
    assert accounts(target)[0].holder_name == "Changed"


def test_a_target_with_tables_of_another_program_is_refused(
    source: Database, target: Database, postgres_url: str, folder: Path
) -> None:
    with target.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE invoices (id integer)")
    with pytest.raises(CopyRefused, match="not MeterDesk's"):
        copy_site(source, target, admin(source), folder)
    assert tables_of(postgres_url) == {"invoices"}


def test_a_copy_the_target_rejects_part_way_writes_nothing(
    source: Database, target: Database, postgres_url: str, folder: Path
) -> None:
    """A value PostgreSQL cannot take (a NUL in a text; SQLite keeps it) fails the COPY late
    in the one transaction: the schema and every table copied before it are rolled back."""
    with source.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE receipt SET pdf_path = 'receipt' || char(0) || '.pdf'")
    with pytest.raises(CopyFailed, match="rolled back"):
        copy_site(source, target, admin(source), folder)
    assert tables_of(postgres_url) == set()


def test_a_source_whose_ledger_fails_verify_is_not_copied(
    source: Database, target: Database, postgres_url: str, folder: Path
) -> None:
    with source.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE account SET balance_minor = balance_minor + 100 WHERE id = 1")
    with pytest.raises(CopyRefused, match=r"ledger verify finds 1 problem\(s\).*balance"):
        copy_site(source, target, admin(source), folder)
    assert tables_of(postgres_url) == set()


def test_the_source_must_be_a_current_sqlite_site(
    source: Database, target: Database, tmp_path: Path
) -> None:
    check_source(source)
    with pytest.raises(CopyRefused, match="not a SQLite file"):
        check_source(target)
    old = Database(sqlite_url_for(tmp_path / "old"))
    (tmp_path / "old").mkdir()
    config = alembic_config()
    with old.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
    with pytest.raises(NotMigrated, match="db upgrade"):
        check_source(old)
    old.dispose()


def test_only_an_active_administrator_of_the_source_may_copy(
    source: Database, folder: Path
) -> None:
    before = digest(folder / DB_FILE_NAME)
    assert admin(source).role is Role.ADMIN
    assert digest(folder / DB_FILE_NAME) == before  # the right password leaves no stamp
    with pytest.raises(CopyRefused, match="not an administrator") as refused:
        sign_in_administrator(source, "supervisor", DEMO_PASSWORD)
    assert refused.value.exit_code == ExitCode.DENIED
    with pytest.raises(CopyRefused, match="wrong") as refused:
        sign_in_administrator(source, "admin", "not the password")
    assert refused.value.exit_code == ExitCode.DENIED
    with source.session() as session:  # the wrong password counts, as at every sign-in
        failed = session.scalars(
            select(AuditEvent.action).where(AuditEvent.action == "sign_in.failed")
        ).all()
        assert len(failed) == 1
        session.execute(text("UPDATE operator SET active = false WHERE username = 'admin'"))
        session.commit()
    with pytest.raises(CopyRefused, match="switched off"):
        sign_in_administrator(source, "admin", DEMO_PASSWORD)


def test_the_audit_key_is_written_into_a_data_folder_without_one(
    source: Database, postgres_url: str, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "pc-data"
    elsewhere.mkdir()
    target = site_database(postgres_url, elsewhere)
    try:
        copied = copy_site(source, target, admin(source), elsewhere)
        assert copied.ok, [str(c) for c in copied.checks]
        assert copied.key.to_write
        written = elsewhere / KEY_FILE_NAME
        assert written.read_bytes() == (source.audit_keys.path or Path()).read_bytes()
        if os.name == "posix":
            assert stat.S_IMODE(written.stat().st_mode) == 0o600
        assert verify_ledger(target).sealed_from is not None
    finally:
        target.dispose()


def test_a_different_audit_key_in_the_data_folder_is_refused(
    source: Database, postgres_url: str, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "pc-data"
    elsewhere.mkdir()
    other = "ab" * 32 + "\n"
    (elsewhere / KEY_FILE_NAME).write_text(other)
    target = site_database(postgres_url, elsewhere)
    try:
        with pytest.raises(KeyConflict, match="already holds an audit key"):
            copy_site(source, target, admin(source), elsewhere)
    finally:
        target.dispose()
    assert tables_of(postgres_url) == set()
    assert (elsewhere / KEY_FILE_NAME).read_text() == other


def test_a_key_that_cannot_be_written_after_the_copy_is_a_failed_check(
    source: Database, postgres_url: str, tmp_path: Path
) -> None:
    """The rows are committed when the key is written: a data folder that cannot take it
    (here a path through a file) is named as a failed check, not lost in a traceback."""
    (tmp_path / "a-file").write_text("")
    nowhere = tmp_path / "a-file" / "pc"
    target = site_database(postgres_url, nowhere)
    try:
        copied = copy_site(source, target, admin(source), nowhere)
    finally:
        target.dispose()
    assert not copied.ok
    first = copied.checks[0]
    assert (first.name, first.ok) == ("audit key", False)
    assert "cannot be written" in first.detail
    assert "copy" in first.detail.lower()
    assert copied.tables["account"] == len(accounts(source))
    assert "account" in tables_of(postgres_url)


def test_a_long_table_reports_its_progress(
    source: Database, target: Database, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(table_copy, "BATCH_ROWS", 40)
    monkeypatch.setattr(table_copy, "PROGRESS_ROWS", 100)
    seen: list[tuple[str, int]] = []
    copied = copy_site(source, target, admin(source), folder, lambda t, n: seen.append((t, n)))
    readings = copied.tables["interval_reading"]
    assert readings > 200
    ends = [*range(40, readings, 40), readings]  # the rows copied after each batch
    crossed = [n for before, n in zip([0, *ends], ends, strict=False) if n // 100 > before // 100]
    assert [n for t, n in seen if t == "interval_reading"] == crossed
    assert {t for t, _ in seen} <= {t for t, n in copied.tables.items() if n >= 100}


def test_any_table_is_copied_keys_and_values_alike(postgres_url: str, tmp_path: Path) -> None:
    """The copy knows no table by name: a table of its own, with column kinds MeterDesk does
    not use yet (converted through Python) and a row naming a later row of its table."""
    meta = MetaData()
    node = Table(
        "node",
        meta,
        Column("id", Integer, primary_key=True),
        Column("parent_id", ForeignKey("node.id"), nullable=True),
        Column("price", Numeric(12, 4)),
        Column("opens", Time),
        Column("day", Date),
        Column("label", String(20)),
    )
    rows = [
        {"id": 1, "parent_id": 3, "price": Decimal("1.2345"), "opens": time(8, 30),
         "day": date(2026, 1, 2), "label": "first"},
        {"id": 2, "parent_id": None, "price": None, "opens": None, "day": None, "label": None},
        {"id": 3, "parent_id": 2, "price": Decimal("-0.5"), "opens": time(23, 59, 59, 5),
         "day": date(2999, 12, 31), "label": "三"},
    ]  # fmt: skip
    sqlite = create_engine(f"sqlite:///{tmp_path / 'any.sqlite3'}")
    pg = create_engine(postgres_url)
    try:
        meta.create_all(sqlite)
        meta.create_all(pg)
        with sqlite.begin() as conn:
            conn.execute(insert(node), rows)
        with sqlite.connect() as read, pg.begin() as write:
            assert table_copy.copy_tables(read, write, [node]) == {"node": 3}
            assert table_copy.move_sequences_past_rows(write, [node]) == 1
        with pg.begin() as conn:
            assert [r._asdict() for r in conn.execute(select(node).order_by(node.c.id))] == rows
            fresh = conn.execute(insert(node).values(label="new").returning(node.c.id)).scalar()
            assert fresh == 4
    finally:
        sqlite.dispose()
        pg.dispose()
