"""What the site set-up service tests share: operators of every role without paying for a
password hash each, an empty site, a snapshot of every table to prove a refusal wrote nothing
(``refused``), the field revision, and a migrated database kept for the tests of a module."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import Table, select

from app.documents.site_workbook_format import SHEETS, SheetRow, Workbook
from app.services.account_life import open_account
from app.services.account_settlement import settle_account
from app.services.operators import SignedIn
from app.services.passwords import hash_password
from app.services.policy_setup import import_policy
from app.services.recharge import new_key
from app.services.setup_checks import SetupRefused, field_revision, in_transaction
from app.services.site_setup import SiteDetails, init_site
from app.services.tariff_library import import_tariff_file
from app.store.database import Database
from app.store.models import AuditEvent, Base, Operator
from app.vocabulary import PaymentMethod, Role, Utility
from tests.databases import _fresh_postgres, _sqlite_copy
from tests.support import REPO

PASSWORD = "correct horse"
SITE = SiteDetails("North Dormitories", "Asia/Shanghai", "CNY")
POLICY = """\
name = "Student dormitory"
alarm_1 = "20.00"
alarm_2 = "5.00"
overdraft_limit = "0.00"
close_permit = "1.00"
"""
DORM = "Dormitory electricity"  # resources/tariffs/dorm-electricity.toml
STUDENT = "Student dormitory"

Snapshot = dict[str, list[tuple[object, ...]]]


@cache
def password_hash() -> str:
    """One argon2 hash for every operator of the session (a hash costs about 0.3 s)."""
    return hash_password(PASSWORD)


def staff(db: Database) -> dict[Role, SignedIn]:
    """One operator per role, user name = the role's value, password ``PASSWORD``."""
    with db.transaction() as session:
        out = {}
        for role in Role:
            operator = Operator(
                username=role.value,
                display_name=f"The {role.value}",
                role=role,
                password_hash=password_hash(),
                active=True,
            )
            session.add(operator)
            session.flush()
            out[role] = SignedIn(operator.id, operator.username, operator.display_name, role)
        return out


def with_site(db: Database) -> dict[Role, SignedIn]:
    """Operators and the site (CNY, Asia/Shanghai); returns the operators."""
    who = staff(db)
    in_transaction(db, init_site, who[Role.ADMIN], SITE)
    return who


def store_policy(db: Database, by: SignedIn, text: str = POLICY) -> None:
    with db.transaction() as session:
        import_policy(session, by, text, "policy.toml")


def store_tariff(db: Database, by: SignedIn, file: str = "dorm-electricity") -> None:
    text = (REPO / "resources" / "tariffs" / f"{file}.toml").read_text(encoding="utf-8")
    with db.transaction() as session:
        import_tariff_file(session, by, text, f"{file}.toml")  # audited, as an operator does


def open_in(db: Database, by: SignedIn, room: str, *, electricity: bool = False) -> str:
    """Open an account in ``room`` on the student policy (and the dormitory electricity
    tariff); returns its number."""
    tariffs = {Utility.ELECTRICITY: DORM} if electricity else {}
    opened = open_account(db, by, "Li Wei", "", "", room, tariffs, STUDENT, "0", None, new_key())
    return opened.account_number


def settle(db: Database, by: SignedIn, number: str) -> None:
    settle_account(db, by, number, PaymentMethod.CASH, new_key())


def workbook(**sheets: Sequence[Mapping[str, str]]) -> Workbook:
    """A workbook in memory: rows of column -> text per sheet, numbered from row 2 as a
    spreadsheet shows them (absent columns empty)."""
    unknown = set(sheets) - set(SHEETS)
    assert not unknown, unknown
    return Workbook(
        {
            name: tuple(
                SheetRow(number, {column: row.get(column, "") for column in SHEETS[name].names})
                for number, row in enumerate(sheets.get(name, ()), start=2)
            )
            for name in SHEETS
        }
    )


def snapshot(db: Database) -> Snapshot:
    """Every row of every table, in primary-key order: equal snapshots mean nothing was
    written (no insert, update or delete anywhere, counters and audit trail included)."""
    out: Snapshot = {}
    with db.session() as session:
        for table in Base.metadata.sorted_tables:
            assert isinstance(table, Table)
            rows = session.execute(select(table).order_by(*table.primary_key.columns))
            out[table.name] = [tuple(row) for row in rows]
    return out


def refused(db: Database, work: Callable[..., object], *args: object, **kw: object) -> SetupRefused:
    """``work`` run in its own transaction is refused and writes nothing; the refusal."""
    before = snapshot(db)
    with pytest.raises(SetupRefused) as caught:
        in_transaction(db, work, *args, **kw)
    assert snapshot(db) == before
    return caught.value


def revision(db: Database) -> int:
    """The field revision (moved by every change of buses or meters)."""
    with db.session() as session:
        return field_revision(session)


def audit_actions(db: Database) -> list[str]:
    with db.session() as session:
        return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def last_event(db: Database) -> AuditEvent:
    with db.session() as session:
        event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).first()
        assert event is not None
        return event


# -- a migrated database shared by the tests of one module -------------------------------------


def module_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """The body of a module-scoped fixture parametrized "sqlite" / "postgresql": a copy of the
    session's migrated template (as ``db`` is, but kept for every test of the module)."""
    copies: Iterator[str] | None = None
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        url = _sqlite_copy(template, tmp_path_factory.mktemp("module-db"))
    else:
        copies = _fresh_postgres(request.getfixturevalue("_postgres_template"))
        url = next(copies)
    database = Database(url)
    try:
        yield database
    finally:
        database.dispose()
        if copies is not None:
            copies.close()  # drops the PostgreSQL copy


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@dataclass(frozen=True)
class Shared:
    """A database set up once for the tests of a module that only read it (a refusal writes
    nothing, and each refusal test proves it), with its operators."""

    db: Database
    who: dict[Role, SignedIn]


def shared_site(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    build: Callable[[Database], dict[Role, SignedIn]],
) -> Iterator[Shared]:
    """The body of a module-scoped fixture (params=BACKENDS): ``build`` sets the database up
    and returns its operators."""
    databases = module_database(request, tmp_path_factory)
    db = next(databases)
    try:
        yield Shared(db, build(db))
    finally:
        databases.close()
