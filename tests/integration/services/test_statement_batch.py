"""Statements for a building, a floor or the site (issue 17): one PDF per account open at any
moment of the month (one closed in the month included, one closed before it or opened after it
left out), named by account and room, in print order; the combined file has every statement's
pages; an account whose ledger does not add up is refused with the reason and the others are
still written; the batch is audited once; refusals say what to do and write nothing."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from app.demo.site import DEMO_PASSWORD, DemoSpec, seed_demo_site
from app.queries.reports.period import Period
from app.queries.reports.scope import ScopeRefused
from app.queries.statement import StatementRefused
from app.queries.statement_accounts import StatementAccount
from app.services.ledger import post_entry
from app.services.operators import SignedIn, login
from app.services.permissions import PermissionDenied
from app.services.statement_batch import (
    AUDIT_ACTION,
    batch_file_name,
    combined_file_name,
    safe_name_part,
    write_statements,
)
from app.store.database import Database
from app.store.models import Account, AuditEvent, Building, LedgerEntry, Room
from app.vocabulary import AccountStatus, LedgerKind, Role

ZONE = ZoneInfo("Asia/Shanghai")  # the demo site's zone
MONTH = "2031-03"  # after the demo's history: every demo account is open in it


@pytest.fixture
def site(db: Database) -> Database:
    seed_demo_site(db, DemoSpec(buildings=2, floors=2, rooms_per_floor=3))
    return db


def who(db: Database, role: Role) -> SignedIn:
    return login(db, role.value, DEMO_PASSWORD)


def local(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=ZONE).astimezone(UTC)


def accounts_of(db: Database, building: str, floor: int | None = None) -> dict[str, str]:
    """Account number -> room label of the accounts of ``building`` (and ``floor``)."""
    with db.session() as session:
        query = (
            select(Account.number, Room.label)
            .join(Room, Room.id == Account.room_id)
            .join(Building, Building.id == Room.building_id)
            .where(Building.code == building)
        )
        if floor is not None:
            query = query.where(Room.floor == floor)
        return dict(session.execute(query).all())


def set_life(db: Database, number: str, opened: datetime, closed: datetime | None) -> None:
    with db.transaction() as session:
        account = session.scalars(select(Account).where(Account.number == number)).one()
        account.opened_at = opened
        account.closed_at = closed
        account.status = AccountStatus.OPEN if closed is None else AccountStatus.CLOSED


def pdf_pages(path: Path) -> int:
    if shutil.which("pdfinfo") is None:
        pytest.skip("pdfinfo (poppler-utils) is not installed")
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True, text=True)
    found = re.search(r"^Pages:\s+(\d+)$", info.stdout, re.MULTILINE)
    assert found is not None, info.stdout
    return int(found.group(1))


def batch_events(db: Database) -> list[AuditEvent]:
    with db.session() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action == AUDIT_ACTION).order_by(AuditEvent.id)
            )
        )


def test_one_statement_per_account_open_in_the_month_and_the_combined_file(
    site: Database, tmp_path: Path
) -> None:
    rooms = accounts_of(site, "A")
    numbers = sorted(rooms)
    assert len(numbers) >= 5, rooms
    closed_in, closed_before, opened_after = numbers[:3]
    set_life(site, closed_in, local(2030, 1, 1), local(2031, 3, 10))
    set_life(site, closed_before, local(2030, 1, 1), local(2031, 2, 28, 23))  # before 03-01 local
    set_life(site, opened_after, local(2031, 4, 1), None)  # the first moment after March
    with site.transaction() as session:  # a few movements so the statements are not empty
        for number in numbers[3:]:
            account_id = session.scalars(select(Account.id).where(Account.number == number)).one()
            post_entry(
                session,
                account_id,
                LedgerKind.ADJUSTMENT,
                1234,
                reason="test",
                at=local(2031, 3, 5),
            )
    folder = tmp_path / "out" / "march"  # made by the batch
    calls: list[tuple[int, int, str]] = []

    batch = write_statements(
        site,
        who(site, Role.OFFICE),
        MONTH,
        folder,
        building="A",
        progress=lambda done, total, room: calls.append((done, total, room)),
    )

    expected = [n for n in numbers if n not in (closed_before, opened_after)]
    assert sorted(w.account_number for w in batch.written) == expected
    assert batch.refused == ()
    assert batch.scope_words == "building A"
    names = {
        batch_file_name(StatementAccount(n, rooms[n], "A", None, ""), batch.period)
        for n in expected
    }
    assert {w.path.name for w in batch.written} == names
    assert all(f"-{rooms[w.account_number]}-2031-03.pdf" in w.path.name for w in batch.written)
    assert batch.combined == folder / "statements-A-2031-03.pdf"
    assert sorted(p.name for p in folder.iterdir()) == sorted([*names, batch.combined.name])
    assert calls == [(n, len(expected), calls[n - 1][2]) for n in range(1, len(expected) + 1)]
    assert [room for *_, room in calls] == [w.room for w in batch.written]
    # every statement's pages, and the combined file holds them all
    each = [pdf_pages(w.path) for w in batch.written]
    assert list(batch.statement_pages) == each
    assert pdf_pages(batch.combined) == sum(each) == batch.combined_pages
    # audited once, with what was written
    (event,) = batch_events(site)
    assert event.target_id == "2031-03 A"
    assert event.after == {
        "month": MONTH,
        "scope": "building A",
        "written": len(expected),
        "refused": [],
        "combined": batch.combined.name,
    }


def test_print_order_is_building_floor_room_and_a_floor_is_a_scope(
    site: Database, tmp_path: Path
) -> None:
    batch = write_statements(site, who(site, Role.SUPERVISOR), MONTH, tmp_path)
    everyone = {**accounts_of(site, "A"), **accounts_of(site, "B")}
    assert sorted(w.account_number for w in batch.written) == sorted(everyone)
    assert batch.combined == tmp_path / "statements-site-2031-03.pdf"
    with site.session() as session:
        order = {
            label: (code, floor, int(number))
            for label, code, floor, number in session.execute(
                select(Room.label, Building.code, Room.floor, Room.number).join(
                    Building, Building.id == Room.building_id
                )
            )
        }
    rooms = [w.room for w in batch.written]
    assert rooms == sorted(rooms, key=lambda label: order[label])
    assert rooms[0].startswith("A-")
    assert rooms[-1].startswith("B-")

    second = write_statements(
        site, who(site, Role.OFFICE), MONTH, tmp_path / "floor", building="B", floor=2
    )
    assert {w.account_number for w in second.written} == set(accounts_of(site, "B", 2))
    assert second.combined is not None
    assert second.combined.name == "statements-B-floor2-2031-03.pdf"
    assert len(batch_events(site)) == 2


def test_a_ledger_that_does_not_add_up_is_refused_and_the_rest_are_written(
    site: Database, tmp_path: Path
) -> None:
    rooms = accounts_of(site, "B")
    broken = sorted(rooms)[1]
    with site.transaction() as session:
        account_id = session.scalars(select(Account.id).where(Account.number == broken)).one()
        entry = post_entry(
            session, account_id, LedgerKind.ADJUSTMENT, 500, reason="test", at=local(2031, 3, 3)
        )
        session.execute(  # the balance after it no longer follows from the entries
            update(LedgerEntry)
            .where(LedgerEntry.id == entry.entry_id)
            .values(balance_after_minor=LedgerEntry.balance_after_minor + 1)
        )

    batch = write_statements(site, who(site, Role.ADMIN), MONTH, tmp_path, building="B")

    assert [(r.account_number, r.room) for r in batch.refused] == [(broken, rooms[broken])]
    assert "does not add up" in batch.refused[0].reason
    assert "ledger verify" in batch.refused[0].reason
    assert sorted(w.account_number for w in batch.written) == sorted(set(rooms) - {broken})
    assert not list(tmp_path.glob(f"statement-{broken}-*"))
    assert batch.combined is not None
    assert pdf_pages(batch.combined) == sum(pdf_pages(w.path) for w in batch.written)
    (event,) = batch_events(site)
    assert event.after is not None
    assert event.after["refused"] == [broken]
    assert event.after["written"] == len(rooms) - 1


def test_refusals_say_what_to_do_and_write_nothing(site: Database, tmp_path: Path) -> None:
    folder = tmp_path / "none"
    with pytest.raises(PermissionDenied):
        write_statements(site, who(site, Role.CASHIER), MONTH, folder)
    with pytest.raises(ScopeRefused, match="there is no building Z; the site's buildings are A, B"):
        write_statements(site, who(site, Role.OFFICE), MONTH, folder, building="Z")
    with pytest.raises(ScopeRefused, match="give --building with --floor"):
        write_statements(site, who(site, Role.OFFICE), MONTH, folder, floor=1)
    with pytest.raises(StatementRefused, match="give it like 2026-11"):
        write_statements(site, who(site, Role.OFFICE), "2031-3x", folder)
    with pytest.raises(
        StatementRefused,
        match="no account of building A was open in January 2020: there is nothing to write",
    ):
        write_statements(site, who(site, Role.OFFICE), "2020-01", folder, building="A")
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    with pytest.raises(StatementRefused, match="could not be made"):
        write_statements(site, who(site, Role.OFFICE), MONTH, a_file / "sub")
    assert not folder.exists()
    assert batch_events(site) == []


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ("A-305", "A-305"),
        ("A/3:05", "A_3_05"),
        ('A<>:"|?*1', "A_1"),
        ("楼 305", "305"),
        ("..hidden", "hidden"),
        ("a b\tc", "a_b_c"),
    ],
)
def test_file_names_are_safe_on_windows(text: str, safe: str) -> None:
    assert safe_name_part(text) == safe


def test_file_names_hold_the_account_and_room() -> None:
    march = Period.month(2031, 3)
    account = StatementAccount("100007", "B-1:02", "B", 1, "")
    assert batch_file_name(account, march) == "statement-100007-B-1_02-2031-03.pdf"
    no_room = StatementAccount("100008", "", "", None, "")
    assert batch_file_name(no_room, march) == "statement-100008-2031-03.pdf"
    assert combined_file_name("A-floor3", march) == "statements-A-floor3-2031-03.pdf"
    assert combined_file_name("", march) == "statements-site-2031-03.pdf"
