"""Move a single-PC SQLite site to PostgreSQL (``main.py db copy --to URL --user NAME``).

Order of work, so that every refusal comes before anything is written:
1. the target is a PostgreSQL URL (``check_target_url``); the source a SQLite site at the
   newest schema with no table this version does not know (``check_source``);
2. the operator is an active administrator of the source (``sign_in_administrator``: a wrong
   password is counted there as at every sign-in; a right one leaves the source as it was);
3. the target can be reached and holds no row of ours: no schema, or MeterDesk's schema with
   nothing in it but what the migrations write (checked by migrating inside a transaction that
   is rolled back); this PC's data folder holds no other audit key (``site_copy_key``);
   ``ledger verify`` passes on the source;
4. one transaction on the target: the migrations to the newest schema, every table in
   foreign-key order with its keys (``app.store.table_copy``), every sequence moved past the
   highest id; the source is read in one transaction of its own and never written;
5. the audit key written into this PC's data folder when it is not there yet;
6. the checks of ``site_copy_checks``: a failed one leaves a copy that must not be used.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy import Connection, Table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from app.services.ledger_verify import verify_ledger
from app.services.operators import (
    OperatorRefused,
    SignedIn,
    attempt_sign_in,
    database_needs_first_admin,
    login,
)
from app.services.site_copy_checks import KEY_CHECK, CopyCheck, check_copy
from app.services.site_copy_key import KeyPlan, place_key, plan_key
from app.store.audit_key import AuditKeyError
from app.store.database import Database
from app.store.errors import (
    URL_EXAMPLE,
    USABLE_DRIVERS,
    DatabaseUnreadable,
    SchemaTooNew,
    StoreError,
    explain_failure,
)
from app.store.failures import explained, store_error_of
from app.store.migrate import require_current, schema_state
from app.store.table_copy import (
    NewRows,
    Progress,
    clear_tables,
    copy_tables,
    migrate_within,
    move_sequences_past_rows,
    new_database_rows,
    schema_tables,
    tables_with_rows,
    unknown_tables,
)
from app.vocabulary import ExitCode, Role, SignInPlace

TARGET_BACKEND = "postgresql"


class CopyRefused(Exception):
    """Refused before anything was written; ``exit_code`` says what kind of refusal."""

    def __init__(self, message: str, exit_code: int = ExitCode.REFUSED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class CopyFailed(StoreError):
    """The target refused the copy part way (a value it cannot take, no right to create
    tables...): its transaction was rolled back, so nothing was written."""


@dataclass(frozen=True)
class SiteCopied:
    """What a copy did: rows per table (in the order copied), where the audit key is and
    whether it was written now, and the checks after copying."""

    tables: dict[str, int]
    key: KeyPlan
    checks: list[CopyCheck]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def check_target_url(url: str) -> None:
    """Refuse (exit 2) a ``--to`` that is not a PostgreSQL URL MeterDesk can use."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise CopyRefused(
            f"--to: {_shortened(url)!r} is not a database URL; give the empty PostgreSQL "
            f"database to copy into, like {URL_EXAMPLE}.",
            ExitCode.USAGE,
        ) from None
    driver = USABLE_DRIVERS[TARGET_BACKEND][0]
    if parsed.get_backend_name() != TARGET_BACKEND or parsed.get_driver_name() != driver:
        raise CopyRefused(
            f"--to: db copy moves a site to PostgreSQL, and {_shortened(url)!r} is not a "
            f"PostgreSQL URL through {driver}; give one like {URL_EXAMPLE}.",
            ExitCode.USAGE,
        )


def check_source(source: Database) -> None:
    """The source is a SQLite site at the newest schema holding only tables this MeterDesk
    copies: ``CopyRefused``, or ``NotMigrated`` (exit 8) for an older schema."""
    if not source.is_sqlite:
        raise CopyRefused(
            f"The site's database {source.display_name} is not a SQLite file: db copy moves a "
            "single-PC SQLite site to PostgreSQL. Name that site with --data-dir DIR (or "
            "--db sqlite:///FILE)."
        )
    require_current(source)
    with source.engine.connect() as conn:
        strange = unknown_tables(conn, schema_tables())
    if strange:
        raise CopyRefused(
            f"{source.display_name} holds tables this MeterDesk does not know "
            f"({', '.join(strange)}), which the copy would leave behind; nothing was written. "
            "Copy it with the MeterDesk that made them."
        )


def sign_in_administrator(db: Database, user: str, password: str) -> SignedIn:
    """``user`` signed in on ``db`` as an active administrator, else ``CopyRefused`` (exit 16).
    A wrong password counts towards the sign-in lock as anywhere; a right one is not stamped
    as the last sign-in: the site being copied stays as it was."""
    if database_needs_first_admin(db):
        raise CopyRefused(
            f"{db.display_name} has no operator: there is no site to copy.", ExitCode.DENIED
        )
    with db.session() as session:
        result = attempt_sign_in(session, user, password, where=SignInPlace.COMMAND_LINE)
        session.rollback()
    if isinstance(result, OperatorRefused):
        try:
            login(db, user, password, where=SignInPlace.COMMAND_LINE)  # counts it, and says so
        except OperatorRefused as exc:
            raise CopyRefused(str(exc), ExitCode.DENIED) from None
        raise CopyRefused(str(result), ExitCode.DENIED)  # right a moment later: say it anyway
    _require_administrator(result)
    return result


def copy_site(
    source: Database,
    target: Database,
    by: SignedIn,
    key_folder: Path,
    progress: Progress | None = None,
) -> SiteCopied:
    """Copy the SQLite site ``source`` (``check_source``) into the empty PostgreSQL database
    ``target`` and check the copy; ``key_folder`` is this PC's data folder for the new site.

    Raises ``CopyRefused``, ``StoreError`` (``CopyFailed``, a target that cannot be reached,
    a busy or full disk) or ``KeyConflict`` with nothing written. Once the copy is committed
    it returns, even when a check failed (``SiteCopied.ok``)."""
    _require_administrator(by)
    tables = schema_tables()
    new_rows = new_database_rows(tables)
    _check_target(target, tables, new_rows)
    key = plan_key(source, key_folder)
    on_source = verify_ledger(source)
    if not on_source.ok:
        raise CopyRefused(
            f"ledger verify finds {len(on_source.problems)} problem(s) in {source.display_name} "
            f"(the first: {on_source.problems[0]}); a copy would carry them. Nothing was "
            "written: run 'main.py ledger verify' and settle them first."
        )
    with (
        _on_target(target, "copy into"),
        source.engine.connect() as read,
        read.begin(),  # one moment of the source for every table
        target.engine.begin() as write,
    ):
        migrate_within(write)
        _require_empty(write, target, tables, new_rows)
        clear_tables(write, tables)  # what the migrations wrote: the source's rows follow
        copied = copy_tables(read, write, tables, progress)
        move_sequences_past_rows(write, tables)
    try:
        place_key(key)
    except AuditKeyError as exc:  # the copy is in: say what is missing instead of stopping
        missing = [CopyCheck(KEY_CHECK, False, str(exc))]
    else:
        missing = []
    return SiteCopied(copied, key, missing + check_copy(source, target, tables, on_source))


def _require_administrator(by: SignedIn) -> None:
    if by.role is not Role.ADMIN:
        raise CopyRefused(
            f"{by.username} is not an administrator: only an administrator of the site may "
            "copy it to another database.",
            ExitCode.DENIED,
        )


def _check_target(target: Database, tables: Sequence[Table], new_rows: NewRows) -> None:
    """Reachable (``DatabaseUnreachable``), MeterDesk's or no schema, and no row of ours:
    migrated in a transaction that is rolled back."""
    target.check_readable()
    try:
        with explained(target):
            schema_state(target)
    except DatabaseUnreadable:
        raise CopyRefused(
            f"The target {target.display_name} holds tables that are not MeterDesk's; nothing "
            f"was written. {_EMPTY_IT}"
        ) from None
    except SchemaTooNew as exc:
        raise CopyRefused(f"The target is not empty. {exc}") from None
    with _on_target(target, "check of"), target.engine.connect() as conn, conn.begin() as trial:
        migrate_within(conn)
        _require_empty(conn, target, tables, new_rows)
        trial.rollback()


def _require_empty(
    conn: Connection,
    target: Database,
    tables: Sequence[Table],
    new_rows: NewRows,
) -> None:
    held = tables_with_rows(conn, tables, new_rows)
    if held:
        shown = ", ".join(held[:6]) + (f" and {len(held) - 6} more" if len(held) > 6 else "")
        raise CopyRefused(
            f"The target {target.display_name} is not empty: {shown} hold rows. Nothing was "
            f"written: db copy fills an empty database only. {_EMPTY_IT}"
        )


_EMPTY_IT = (
    "Copy into a new database (createdb -O USER NAME), or drop this one and create it again "
    "if nothing in it is needed."
)


@contextmanager
def _on_target(target: Database, doing: str) -> Iterator[None]:
    """An error of the target's transaction (rolled back) as a message: a full disk or a
    busy server as ``app.store.failures`` says, anything else as ``CopyFailed``. An error of
    the SQLite source passes on (the caller's ``explained`` names the source)."""
    try:
        yield
    except DBAPIError as exc:
        if not isinstance(exc.orig, psycopg.Error):
            raise
        raise (store_error_of(exc, target) or _failed(target, doing, exc.orig)) from exc
    except psycopg.Error as exc:  # from the COPY, which runs on the driver's own connection
        known = explain_failure(exc, target.display_name)
        raise (known or _failed(target, doing, exc)) from exc
    except SQLAlchemyError as exc:
        raise _failed(target, doing, exc) from exc


def _failed(target: Database, doing: str, exc: BaseException) -> CopyFailed:
    reason = " ".join(str(exc).split())
    return CopyFailed(
        f"The {doing} {target.display_name} failed ({reason}); its transaction was rolled "
        "back, so nothing was written there. Check that the URL's user may create tables in "
        "that database, then try again."
    )


def _shortened(text: str) -> str:
    return text if len(text) <= 60 else f"{text[:57]}..."
