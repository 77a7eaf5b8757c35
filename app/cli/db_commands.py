"""``db upgrade`` and ``db status``."""

from __future__ import annotations

import argparse
import json

from app.cli.context import data_dir_of, database_of, fail, run_on_database
from app.store.errors import NoDatabase, StoreError
from app.store.migrate import SchemaState, head_revision, schema_state, upgrade


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
