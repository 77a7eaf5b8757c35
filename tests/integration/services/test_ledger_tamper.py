"""``ledger verify`` against consistent edits, on SQLite and PostgreSQL: someone with the
database but not the data folder's audit key rewrites rows so every sum still adds up.

Each edit below passed the verify of before (sums, running balances, a plain SHA-256 chain):
now the sealed trail and its cross-checks name it."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from app.demo.site import DemoSpec, seed_demo_site
from app.queries.site_facts import site_zone
from app.services.audit import SEAL, STARTED_AT, event_hash, record_audit
from app.services.counters import AUDIT, RECEIPT, take_number
from app.services.ledger import post_entry
from app.services.ledger_days import day_of
from app.services.ledger_verify import Anchor, VerifyReport, verify_ledger
from app.services.recharge import RechargeDone, new_key, recharge, recharge_with_receipt
from app.services.settings import IDLE_LOCK_MINUTES, change_setting
from app.services.shift_close import close_shift
from app.store.audit_key import KEY_FILE_NAME, AuditKeyError
from app.store.backup import anchor_path, backup_sqlite
from app.store.database import Database
from app.store.models import (
    Account,
    AuditEvent,
    Counter,
    IntervalReading,
    LedgerDay,
    LedgerEntry,
    Operator,
    Receipt,
    Setting,
    TariffVersion,
    utc_now,
)
from app.vocabulary import LedgerKind, PaymentMethod, Role
from tests.integration.services.counter_support import account, who


@pytest.fixture
def site(migrated_url: str, tmp_path: Path) -> Iterator[Database]:
    """A small demo site (three rooms, a day of readings). SQLite keeps its key beside the
    file; the PostgreSQL handle is given this PC's data folder as a console is."""
    sqlite = migrated_url.startswith("sqlite")
    db = Database(migrated_url, key_dir=None if sqlite else tmp_path / "pc-data")
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=3, history_days=1))
    yield db
    db.dispose()


def move_rollup(session: Session, entry: LedgerEntry, amount: int, entries: int = 0) -> None:
    """A thorough tamperer also makes the daily rollup agree with what he wrote."""
    zone = site_zone(session) or ZoneInfo("UTC")
    session.execute(
        update(LedgerDay)
        .where(
            LedgerDay.account_id == entry.account_id,
            LedgerDay.kind == entry.kind,
            LedgerDay.day == day_of(entry.created_at, zone),
        )
        .values(amount_minor=LedgerDay.amount_minor + amount, entries=LedgerDay.entries + entries)
    )


def key_file(db: Database) -> Path:
    path = db.audit_keys.path
    assert path is not None
    return path


def pay(db: Database, amount: str = "50.00") -> RechargeDone:
    """A recharge at the counter; the first audited change starts the sealed trail."""
    cashier = who(db, Role.CASHIER)
    return recharge(db, cashier, account(db).number, amount, PaymentMethod.CASH, new_key())


def kinds(report: VerifyReport) -> list[str]:
    return [p.what for p in report.problems]


def started(db: Database) -> RechargeDone:
    done = pay(db)
    report = verify_ledger(db)
    assert report.ok, report.problems
    assert report.sealed_from == 1
    assert report.started_at == 1
    return done


def test_a_recharge_rewritten_through_entry_balances_account_and_receipt_is_named(
    site: Database,
) -> None:
    done = started(site)
    extra = 100_000
    with site.transaction() as session:
        receipt = session.scalars(
            select(Receipt).where(Receipt.number == done.receipt_number)
        ).one()
        entry = session.get(LedgerEntry, receipt.ledger_entry_id)
        assert entry is not None
        entry.amount_minor += extra
        session.flush()
        move_rollup(session, entry, extra)
        session.execute(
            update(LedgerEntry)
            .where(LedgerEntry.account_id == entry.account_id, LedgerEntry.id >= entry.id)
            .values(balance_after_minor=LedgerEntry.balance_after_minor + extra)
        )
        session.execute(
            update(Account)
            .where(Account.id == entry.account_id)
            .values(balance_minor=Account.balance_minor + extra)
        )
        receipt.amount_minor += extra
        receipt.balance_after_minor += extra
    report = verify_ledger(site)
    assert kinds(report) == ["audit_money"]
    assert f"receipt {done.receipt_number} is for {5000 + extra}" in report.problems[0].detail


def test_a_forged_adjustment_with_its_balances_carried_is_named(site: Database) -> None:
    started(site)
    with site.transaction() as session:
        forged = post_entry(
            session, account(site).id, LedgerKind.ADJUSTMENT, 100_000, reason="correction"
        )
    report = verify_ledger(site)
    assert kinds(report) == ["unaudited"]
    assert f"entry {forged.entry_id} (adjustment, 100000 minor units)" in str(report.problems[0])


def test_an_operator_raised_to_administrator_is_named(site: Database) -> None:
    started(site)
    with site.transaction() as session:
        session.execute(
            update(Operator).where(Operator.username == "cashier").values(role=Role.ADMIN)
        )
    report = verify_ledger(site)
    assert kinds(report) == ["operator"]
    assert "operator cashier has role 'admin'" in report.problems[0].detail


def test_a_new_administrator_slipped_in_is_named(site: Database) -> None:
    started(site)
    with site.transaction() as session:
        session.add(
            Operator(username="mallory", display_name="M", role=Role.ADMIN, password_hash="x")
        )
    report = verify_ledger(site)
    assert kinds(report) == ["unaudited"]
    assert "operator mallory has no audit event" in report.problems[0].detail


def test_an_edited_tariff_price_is_named(site: Database) -> None:
    started(site)
    with site.transaction() as session:
        version = session.scalars(
            select(TariffVersion).where(TariffVersion.source_toml.contains('price = "'))
        ).first()
        assert version is not None
        version.source_toml = re.sub(r'price = "[0-9.]+"', 'price = "0.0100"', version.source_toml)
    report = verify_ledger(site)
    assert kinds(report) == ["tariff"]
    assert "its prices were edited" in report.problems[0].detail


def test_an_edited_setting_is_named(site: Database) -> None:
    started(site)
    admin = who(site, Role.ADMIN)
    with site.transaction() as session:
        change_setting(session, admin, IDLE_LOCK_MINUTES, "5")
    assert verify_ledger(site).ok
    with site.transaction() as session:
        session.execute(update(Setting).where(Setting.key == IDLE_LOCK_MINUTES).values(value=0))
    report = verify_ledger(site)
    assert kinds(report) == ["setting"]
    assert f"setting {IDLE_LOCK_MINUTES} holds 0" in report.problems[0].detail


def test_an_edited_initial_meter_reading_is_named(site: Database) -> None:
    started(site)
    with site.transaction() as session:
        first = session.scalars(
            select(IntervalReading).order_by(IntervalReading.read_at, IntervalReading.id)
        ).first()
        assert first is not None
        first.register_units -= 1000
        meter_id = first.meter_id
    report = verify_ledger(site)
    assert kinds(report) == ["reading"]
    assert f"meter {meter_id}'s initial reading" in report.problems[0].detail


def rehash(session: object, *, key_off: bool = False) -> None:
    """What someone without the key can do: compute every hash again with plain SHA-256."""
    from sqlalchemy.orm import Session

    assert isinstance(session, Session)
    prev = "0" * 64
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all():
        if key_off and event.after and "key" in event.after:
            event.after = {**event.after, "key": None}
        event.prev_hash = prev
        event.entry_hash = event_hash(
            prev,
            event.id,
            event.at,
            event.operator_id,
            event.action,
            (event.target_type, event.target_id),
            event.before,
            event.after,
        )
        prev = event.entry_hash
        session.flush()


def test_a_chain_hashed_again_without_the_key_is_named(site: Database) -> None:
    done = started(site)
    with site.transaction() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "account.recharge")
        ).one()
        event.after = {**(event.after or {}), "amount": 999}
        session.execute(
            update(Receipt).where(Receipt.number == done.receipt_number).values(amount_minor=999)
        )
        rehash(session)
    problems = verify_ledger(site).problems
    assert {p.what for p in problems} >= {"audit"}
    assert any("was changed after it was written" in p.detail for p in problems)


def test_a_trail_turned_back_into_plain_hashes_is_named(site: Database) -> None:
    started(site)
    with site.transaction() as session:
        rehash(session, key_off=True)
        session.execute(delete(Counter).where(Counter.name == SEAL))
    problems = [p.detail for p in verify_ledger(site).problems]
    assert any("has an audit key" in p and "never sealed with it" in p for p in problems)


def test_the_last_events_and_receipt_deleted_with_their_counters_are_named(
    site: Database,
) -> None:
    started(site)
    head = verify_ledger(site).head
    last = pay(site, "20.00")
    anchor = verify_ledger(site).head  # as printed on a shift report after the second payment
    with site.transaction() as session:
        receipt = session.scalars(
            select(Receipt).where(Receipt.number == last.receipt_number)
        ).one()
        entry_id = receipt.ledger_entry_id
        entry = session.get_one(LedgerEntry, entry_id)
        move_rollup(session, entry, -entry.amount_minor, -1)
        session.delete(receipt)
        session.flush()
        session.execute(delete(LedgerEntry).where(LedgerEntry.id == entry_id))
        session.execute(
            update(Account)
            .where(Account.id == last.account_id)
            .values(balance_minor=last.balance_before_minor)
        )
        kept = int(head.split(":")[0])
        session.execute(delete(AuditEvent).where(AuditEvent.id > kept))
        session.execute(update(Counter).where(Counter.name == AUDIT).values(value=kept))
        session.execute(
            update(Counter).where(Counter.name == RECEIPT).values(value=last.receipt_number - 1)
        )
    number, prefix = anchor.split(":")
    report = verify_ledger(site, [Anchor(int(number), prefix)])
    assert set(kinds(report)) == {"audit", "anchor"}
    details = " ".join(p.detail for p in report.problems)
    assert f"ends at event {kept} but was sealed at another event" in details
    assert f"names audit event {number}, which is no longer in the trail" in details


def old_event(db: Database, action: str) -> None:
    """An event as MeterDesk wrote it before the key: plain SHA-256, no start event."""
    with db.transaction() as session:
        number = take_number(session, AUDIT)
        prev = session.scalar(select(AuditEvent.entry_hash).where(AuditEvent.id == number - 1))
        prev = prev or "0" * 64
        at = utc_now()
        after = {"value": number}
        session.add(
            AuditEvent(
                id=number,
                at=at,
                operator_id=None,
                action=action,
                target_type="site",
                target_id="1",
                before=None,
                after=after,
                prev_hash=prev,
                entry_hash=event_hash(prev, number, at, None, action, ("site", "1"), None, after),
            )
        )


def test_an_old_database_still_verifies_and_is_sealed_from_its_next_change(
    site: Database,
) -> None:
    old_event(site, "site.change")
    old_event(site, "site.change")
    report = verify_ledger(site)
    assert report.ok, report.problems
    assert (report.sealed_from, report.started_at, report.audit_events) == (None, None, 2)
    assert not key_file(site).exists()
    pay(site)
    report = verify_ledger(site)
    assert report.ok, report.problems
    assert (report.sealed_from, report.started_at) == (3, 3)
    with site.transaction() as session:  # the plain part is still checked as before
        session.execute(update(AuditEvent).where(AuditEvent.id == 1).values(action="site.init"))
    problems = [p.detail for p in verify_ledger(site).problems]
    assert problems == ["audit event 1 was changed after it was written"]


def test_the_key_file_is_private_and_a_pc_without_it_writes_nothing(
    site: Database, migrated_url: str, tmp_path: Path
) -> None:
    done = started(site)
    path = key_file(site)
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    other = Database(migrated_url, key_dir=tmp_path / "second-console")
    try:
        with pytest.raises(AuditKeyError, match="this PC does not have it"):
            pay(other)
        assert account(other).balance_minor == done.balance_after_minor  # nothing written
        problems = [p.detail for p in verify_ledger(other).problems]
        assert any("PC has no copy of it" in p for p in problems)
    finally:
        other.dispose()
    wrong = tmp_path / "wrong-key"
    wrong.mkdir()
    (wrong / KEY_FILE_NAME).write_text("ab" * 32 + "\n")
    other = Database(migrated_url, key_dir=wrong)
    try:
        with pytest.raises(AuditKeyError, match="key file is not this site's"):
            pay(other)
        problems = [p.detail for p in verify_ledger(other).problems]
        assert any("another audit key" in p for p in problems)
    finally:
        other.dispose()
    copied = tmp_path / "copied-key"
    copied.mkdir()
    (copied / KEY_FILE_NAME).write_bytes(path.read_bytes())  # the installer's one copy
    other = Database(migrated_url, key_dir=copied)
    try:
        pay(other)
        assert verify_ledger(other).ok
    finally:
        other.dispose()


def test_the_start_event_cannot_be_slipped_in_twice(site: Database) -> None:
    started(site)
    with site.transaction() as session:
        session.execute(update(Counter).where(Counter.name == STARTED_AT).values(value=0))
    pay(site)  # this writer believes the trail never started and starts it again
    problems = [p.detail for p in verify_ledger(site).problems]
    assert any("starts the trail a second time" in p for p in problems)


def pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def test_receipts_and_shift_reports_print_an_anchor_that_verify_finds(
    site: Database, tmp_path: Path
) -> None:
    started(site)
    cashier = who(site, Role.CASHIER)
    head = verify_ledger(site).head
    done, pdf = recharge_with_receipt(
        site, cashier, tmp_path, account(site).number, "10.00", PaymentMethod.CASH, new_key()
    )
    assert f"Audit check {head}" in pdf_text(pdf)
    with site.session() as session:
        shift_id = session.scalar(select(func.max(Receipt.shift_id)))
    assert shift_id is not None
    before_close = verify_ledger(site).head
    closed = close_shift(site, cashier, shift_id, "60.00", tmp_path)
    printed = re.search(r"Audit check (\d+):([0-9a-f]{12})", pdf_text(closed.report_file))
    assert printed is not None
    assert f"{printed.group(1)}:{printed.group(2)}" == before_close
    report = verify_ledger(site, [Anchor(int(printed.group(1)), printed.group(2))])
    assert report.ok, report.problems
    assert done.receipt_number > 1


def test_a_backup_writes_its_anchor_beside_it(site: Database, tmp_path: Path) -> None:
    if site.file_path is None:
        pytest.skip("the online backup copies a SQLite file")
    started(site)
    copy = backup_sqlite(site, tmp_path / "backups" / "site.sqlite3")
    first_line = anchor_path(copy).read_text(encoding="utf-8").splitlines()[0]
    assert first_line == verify_ledger(site).head
    number, prefix = first_line.split(":")
    assert verify_ledger(site, [Anchor(int(number), prefix)]).ok
    with site.transaction() as session:
        session.execute(
            update(AuditEvent).where(AuditEvent.id == int(number)).values(entry_hash="f" * 64)
        )
    report = verify_ledger(site, [Anchor(int(number), prefix)])
    assert "anchor" in kinds(report)


def test_an_unkeyed_handle_on_a_trail_never_sealed_writes_as_before(
    migrated_url: str, tmp_path: Path
) -> None:
    """A PostgreSQL console not given its data folder yet: plain events, all still checked."""
    if migrated_url.startswith("sqlite"):
        pytest.skip("a SQLite handle always has its file's folder")
    db = Database(migrated_url)
    try:
        seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=3))
        pay(db)
        report = verify_ledger(db)
        assert report.ok, report.problems
        assert (report.sealed_from, report.started_at) == (None, 1)
        with db.transaction() as session:
            session.execute(
                update(Operator).where(Operator.username == "cashier").values(role=Role.ADMIN)
            )
        assert kinds(verify_ledger(db)) == ["operator"]
        keyed = Database(migrated_url, key_dir=tmp_path / "given-later")
        try:
            with keyed.transaction() as session:
                session.execute(
                    update(Operator).where(Operator.username == "cashier").values(role=Role.CASHIER)
                )
                record_audit(session, None, "site.change", "site", 1, None, {"note": "key"})
            report = verify_ledger(keyed)
            assert report.ok, report.problems
            assert report.sealed_from is not None
        finally:
            keyed.dispose()
    finally:
        db.dispose()


def test_an_entry_changed_behind_the_daily_rollup_is_named(site: Database) -> None:
    """The reports read the daily rollup: an entry rewritten without it (or the rollup edited)
    would make them disagree with the ledger, and verify says which day."""
    done = started(site)
    with site.transaction() as session:
        receipt = session.scalars(
            select(Receipt).where(Receipt.number == done.receipt_number)
        ).one()
        row = session.scalars(
            select(LedgerDay).where(
                LedgerDay.account_id == receipt.account_id, LedgerDay.kind == LedgerKind.RECHARGE
            )
        ).one()
        row.amount_minor += 500
    report = verify_ledger(site)
    assert kinds(report) == ["daily_rollup"]
    assert "for recharge on" in report.problems[0].detail
    assert "reports would disagree with the ledger" in report.problems[0].detail
