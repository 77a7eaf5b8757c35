"""``db upgrade``, ``db status`` and ``db copy``."""

from __future__ import annotations

import argparse
import json

from sqlalchemy.engine import make_url

from app.cli.auth import DENIED, password_for
from app.cli.context import data_dir_of, database_of, fail, report_problems, run_on_database
from app.services.site_copy import (
    CopyRefused,
    SiteCopied,
    check_source,
    check_target_url,
    copy_site,
    sign_in_administrator,
)
from app.services.site_copy_checks import KEY_CHECK
from app.services.site_copy_key import KeyConflict
from app.store.database import Database, site_database
from app.store.errors import NoDatabase, StoreError
from app.store.migrate import SchemaState, head_revision, schema_state, upgrade
from app.vocabulary import ExitCode


def cmd_upgrade(args: argparse.Namespace) -> int:
    try:
        db, (before, after) = run_on_database(
            args, lambda db: (schema_state(db), upgrade(db)), create=True
        )
    except StoreError as exc:
        return fail(str(exc), exc.exit_code)
    if before.current == after.current:
        print(f"Database {db.display_name} is up to date (schema {after.current}).")
    else:
        print(
            f"Database {db.display_name} upgraded from schema {before.current or 'empty'} "
            f"to {after.current}."
        )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    try:
        db, state = run_on_database(args, schema_state)
    except NoDatabase:  # nothing there yet: say so, and create nothing
        db = database_of(args, data_dir_of(args, demo=None))  # the one run_on_database chose
        db.dispose()
        state = SchemaState(None, head_revision())
    except StoreError as exc:
        return fail(str(exc), exc.exit_code)
    if args.json:
        print(
            json.dumps(
                {
                    "database": db.display_name,
                    "current": state.current,
                    "head": state.head,
                    "up_to_date": state.is_current,
                }
            )
        )
    else:
        verdict = "up to date" if state.is_current else "needs 'main.py db upgrade'"
        print(
            f"{db.display_name}: schema {state.current or 'empty'}, newest {state.head}: {verdict}."
        )
    return 0


def cmd_copy(args: argparse.Namespace) -> int:
    """Copy the SQLite site into an empty PostgreSQL database (app/services/site_copy.py):
    0 copied and checked; 1 refused (nothing written) or a check failed (the copy must not be
    used); 2 --to is no PostgreSQL URL; 3-8 database problems; 16 not an administrator."""
    try:
        check_target_url(args.to)
    except CopyRefused as exc:
        return fail(str(exc), exc.exit_code)
    data_dir = data_dir_of(args, demo=None)  # this PC's data folder, for the new site too

    def work(source: Database) -> SiteCopied:
        check_source(source)
        by = sign_in_administrator(source, args.user, password_for(args.user))
        target = site_database(args.to, data_dir)
        try:
            return copy_site(source, target, by, data_dir, _copying)
        finally:
            target.dispose()

    try:
        source, copied = run_on_database(args, work)
    except (CopyRefused, StoreError) as exc:
        return fail(str(exc), exc.exit_code)
    except DENIED as exc:
        return fail(str(exc), ExitCode.DENIED)
    except KeyConflict as exc:
        return fail(str(exc), ExitCode.REFUSED)
    print(
        f"Copied {source.display_name} into {_shown(args.to)}: {len(copied.tables)} tables, "
        f"{copied.rows:,} rows."
    )
    width = max(len(name) for name in copied.tables)
    for name, rows in copied.tables.items():
        print(f"  {name:<{width}}  {rows:>12,}")
    if not copied.ok:
        return _copy_failed(args.to, copied)
    print("Checks passed:")
    for check in copied.checks:
        print(f"  {check}")
    _what_to_change(args.to, source, copied)
    return 0


def _copying(table: str, rows: int) -> None:
    print(f"  copying {table}: {rows:,} rows so far", flush=True)


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _copy_failed(url: str, copied: SiteCopied) -> int:
    for check in copied.checks:
        print(f"  {'passed' if check.ok else 'FAILED'}: {check}")
    target = make_url(url)
    name, user = target.database or "NAME", target.username or "USER"
    empty_it = (
        f"Empty it before copying again: as a PostgreSQL administrator, 'dropdb {name}' then "
        f"'createdb -O {user} {name}'. The SQLite site is unchanged and is still the site."
    )
    if any(check.name == KEY_CHECK and not check.ok for check in copied.checks):
        advice = (
            f"The database {_shown(url)} holds the copy, but this PC has not the audit key: "
            "put it in place as said, then run 'main.py ledger verify --db URL'. Use the copy "
            f"only if that passes; else: {empty_it}"
        )
    else:
        advice = f"The database {_shown(url)} now holds a copy that must not be used. {empty_it}"
    failed = [f"check failed: {check}" for check in copied.checks if not check.ok]
    return report_problems([*failed, advice])


def _what_to_change(url: str, source: Database, copied: SiteCopied) -> None:
    shown = _shown(url)
    key = copied.key
    print("What to change on each PC of the site:")
    print(
        f"  1. Start MeterDesk with --db '{shown}' (its password in place of ***): the console "
        "as 'main.py --db URL', every command with --db URL too. Without --db a PC opens its "
        "own SQLite file again."
    )
    if key.key is None:
        print(
            "  2. The site has no audit key yet (its trail is not sealed): the first audited "
            "change on the new database makes one in that PC's data folder (audit.key); copy "
            "it into the data folder of every other PC."
        )
    else:
        done = "written now" if key.to_write else "already there"
        print(
            f"  2. The audit key is in this PC's data folder: {key.target_path} ({done}). "
            "Copy that file into the data folder of every other PC (as audit.key, readable "
            "only by the user that runs MeterDesk): without it a PC cannot write to the "
            "site's sealed audit trail."
        )
    print(
        "  3. Exactly one PC runs 'main.py serve --db URL' as the owner of the buses (the "
        "server, as a service); the consoles on the other PCs do not poll."
    )
    print(
        f"  4. The SQLite file {source.display_name} was left untouched: keep it as a backup, "
        "and do not work in it any more (nothing done there reaches the new database)."
    )
