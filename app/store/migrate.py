"""Schema migrations (Alembic) run from code: upgrade, current state, and refusal of newer schemas.

Upgrades never lose data: every revision in ``migrations/versions`` is written to carry rows over.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from app.store.database import Database
from app.store.errors import DatabaseUnreadable, NotMigrated, SchemaTooNew

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


@dataclass(frozen=True)
class SchemaState:
    current: str | None  # revision in the database, None for an empty database
    head: str  # newest revision this program knows

    @property
    def is_current(self) -> bool:
        return self.current == self.head

    @property
    def is_empty(self) -> bool:
        return self.current is None


def head_revision() -> str:
    """The newest schema revision this program knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def schema_state(db: Database) -> SchemaState:
    """Where the database's schema stands. Raises for foreign or newer-than-known schemas."""
    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_current_head()
    assert head is not None
    with db.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        tables = set(inspect(conn).get_table_names())
    if current is None:
        if tables - {"alembic_version"}:
            raise DatabaseUnreadable(
                f"{db.display_name} holds tables but is not a MeterDesk database. "
                "It was left untouched: choose another folder with --data-dir or another --db."
            )
        return SchemaState(None, head)
    known = {rev.revision for rev in script.walk_revisions()}
    if current not in known:
        raise SchemaTooNew(
            f"The database {db.display_name} was written by a newer MeterDesk "
            f"(schema {current}; this version knows up to {head}). Nothing was changed: "
            "install the newer MeterDesk to open it."
        )
    return SchemaState(current, head)


def upgrade(db: Database) -> SchemaState:
    """Bring the schema to the newest revision; returns the state after the upgrade."""
    db.check_readable()
    schema_state(db)  # refuses foreign and newer schemas before anything is written
    db.enable_wal()
    config = alembic_config()
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    return schema_state(db)


def ensure_schema(db: Database) -> None:
    """An empty database gets the schema (a site's first command); any other must be current."""
    if schema_state(db).is_empty:
        upgrade(db)
    require_current(db)


def require_current(db: Database) -> None:
    """Refuse to work on a schema that is not the newest (CLI commands other than upgrade)."""
    state = schema_state(db)
    if not state.is_current:
        raise NotMigrated(
            f"The database {db.display_name} is at schema {state.current or 'empty'}; "
            f"this version needs {state.head}. Run 'main.py db upgrade' first."
        )
