"""What the benchmarks that can run on PostgreSQL share: a scratch database of their own.

Kept out of ``benchmarks/*.py`` itself, which ``make benchmarks`` runs one by one."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from app.store.errors import StoreError, check_database_url

ADMIN_URL_ENV = "METERDESK_TEST_PG_URL"  # where scratch databases are made


class Unusable(Exception):
    """The database asked for cannot be used; the message says why and what to do."""


@contextmanager
def scratch_postgres(admin_url: str) -> Iterator[str]:
    """A new, empty database on the server of ``admin_url`` (a login that may create
    databases): its URL, then it is dropped, whoever is still connected."""
    try:
        check_database_url(admin_url)
    except StoreError as exc:
        raise Unusable(f"{ADMIN_URL_ENV}: {exc}") from None
    admin = make_url(admin_url)
    name = f"meterdesk_bench_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        try:
            with engine.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except DBAPIError as exc:
            raise Unusable(
                f"could not create a scratch database through {ADMIN_URL_ENV} "
                f"({admin.render_as_string(hide_password=True)}): {str(exc.orig).strip()}. "
                "Check that the server runs and that the login may create databases."
            ) from None
        try:
            yield admin.set(database=name).render_as_string(hide_password=False)
        finally:
            with engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


def admin_url_or_refuse() -> str:
    """``--postgres``: the admin URL in ``ADMIN_URL_ENV``, or ``Unusable`` saying what to set."""
    admin_url = os.environ.get(ADMIN_URL_ENV)
    if not admin_url:
        raise Unusable(
            f"--postgres needs {ADMIN_URL_ENV}, an admin URL such as "
            "postgresql+psycopg://postgres:PASSWORD@127.0.0.1:5432/postgres"
        )
    return admin_url
