"""Test databases, made for the fixtures of ``tests/conftest.py`` and for module-scoped ones
(``tests/integration/services/setup_support.py``): PostgreSQL databases created and dropped
through the admin URL in ``METERDESK_TEST_PG_URL`` (copies of a migrated template, or empty),
and copies of the migrated SQLite template file.

Without the variable, or when its server cannot be reached, a PostgreSQL case is skipped with
the reason shown, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from app.store.database import DB_FILE_NAME, sqlite_url_for

PG_ENV = "METERDESK_TEST_PG_URL"


def _postgres_admin_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{PG_ENV} is not set under CI=true: .ci/run must start PostgreSQL")
        pytest.skip(f"PostgreSQL not configured: set {PG_ENV} to run these cases")
    return url


def _create_database(admin_url: URL, name: str, template: str | None = None) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            copy = f' TEMPLATE "{template}"' if template else ""
            conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    finally:
        admin.dispose()


def _drop_database(admin_url: URL, name: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _create_or_skip(admin_url: URL, name: str, template: str | None = None) -> None:
    """``_create_database``; when that fails (the server cannot be reached, the login is
    refused...) the case is skipped with the reason, except under CI=true, where it fails."""
    try:
        _create_database(admin_url, name, template)
    except Exception as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL at {admin_url.render_as_string()} is not reachable: {exc}")


def _fresh_postgres(template: str | None = None) -> Iterator[str]:
    """A PostgreSQL database of its own (a copy of ``template``, or empty): its URL, then it
    is dropped when the generator is closed."""
    admin_url = make_url(_postgres_admin_url())
    name = f"meterdesk_test_{uuid.uuid4().hex[:12]}"
    _create_or_skip(admin_url, name, template)
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        _drop_database(admin_url, name)


def _sqlite_copy(template: Path, folder: Path) -> str:
    """The URL of a copy of the migrated SQLite ``template`` file in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, folder / DB_FILE_NAME)
    return sqlite_url_for(folder)
