"""Migrations on both backends: they build the schema the models describe, and refuse databases
that are not MeterDesk's or are newer than this program."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from app.store.database import Database
from app.store.errors import DatabaseUnreadable, NotMigrated, SchemaTooNew
from app.store.migrate import require_current, schema_state, upgrade
from app.store.models import Base, Site

NEWER = "ffff9999"


def _tables(db: Database) -> set[str]:
    with db.engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def _version(db: Database) -> list[str]:
    with db.engine.connect() as conn:
        return list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


@pytest.fixture
def empty_db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


def test_an_empty_database_is_upgraded_to_the_head(empty_db: Database) -> None:
    before = schema_state(empty_db)
    assert before.is_empty
    assert not before.is_current

    after = upgrade(empty_db)

    assert after.is_current
    assert after.current == before.head
    assert _version(empty_db) == [before.head]
    assert _tables(empty_db) == set(Base.metadata.tables) | {"alembic_version"}


def test_upgrading_a_current_database_keeps_its_data(db: Database) -> None:
    with db.transaction() as session:
        session.add(Site(name="Riverside"))
    state = upgrade(db)
    assert state.is_current
    with db.session() as session:
        assert session.scalars(select(Site.name)).all() == ["Riverside"]


def test_the_models_and_the_migrations_agree(db: Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_require_current_refuses_an_unmigrated_database(empty_db: Database) -> None:
    with pytest.raises(NotMigrated, match="db upgrade"):
        require_current(empty_db)
    upgrade(empty_db)
    require_current(empty_db)


def test_a_newer_schema_is_refused_and_left_alone(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": NEWER})
    tables = _tables(db)

    with pytest.raises(SchemaTooNew, match=NEWER) as info:
        schema_state(db)
    assert "newer MeterDesk" in str(info.value)
    assert info.value.exit_code == 6
    with pytest.raises(SchemaTooNew):
        upgrade(db)
    with pytest.raises(SchemaTooNew):
        require_current(db)

    assert _version(db) == [NEWER]
    assert _tables(db) == tables


def test_a_database_of_another_program_is_refused_and_left_alone(empty_db: Database) -> None:
    with empty_db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(40))"))
        conn.execute(text("INSERT INTO customers (id, name) VALUES (1, 'Acme')"))

    with pytest.raises(DatabaseUnreadable, match="not a MeterDesk database") as info:
        schema_state(empty_db)
    assert info.value.exit_code == 5
    with pytest.raises(DatabaseUnreadable):
        upgrade(empty_db)

    assert _tables(empty_db) == {"customers"}
    with empty_db.engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM customers")).scalar() == "Acme"


def test_a_foreign_sqlite_file_is_not_rewritten(tmp_path: Path) -> None:
    """Refusing a foreign database must not change a byte of it (not even its journal mode)."""
    import sqlite3

    path = tmp_path / "other.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO customers (name) VALUES ('Acme')")
    conn.commit()
    conn.close()
    original = path.read_bytes()

    db = Database(f"sqlite:///{path.as_posix()}")
    try:
        with pytest.raises(DatabaseUnreadable):
            upgrade(db)
    finally:
        db.dispose()

    assert path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.sqlite3"]
