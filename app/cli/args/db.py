"""``db upgrade|status|copy``."""

from __future__ import annotations

import argparse

from app.cli.options import Subparsers, add_user_option, group, lazy

RUN = "app.cli.db_commands"


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    db_sub = group(sub, "db", "database schema")
    up = db_sub.add_parser(
        "upgrade", parents=[common], help="create or upgrade the schema (never loses data)"
    )
    up.set_defaults(handler=lazy(RUN, "cmd_upgrade"))
    status = db_sub.add_parser("status", parents=[common], help="show the schema revision")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.set_defaults(handler=lazy(RUN, "cmd_status"))
    copy = db_sub.add_parser(
        "copy",
        parents=[common],
        help="copy this SQLite site into an empty PostgreSQL database and check the copy",
        description="Copy the site (a SQLite file: --data-dir, --db or --demo) into an empty "
        "PostgreSQL database, keys and all, in one transaction; check it (row counts, ledger "
        "verify, the audit chain's last hash); put the audit key into this PC's data folder; "
        "say what to change on each PC. The SQLite file is only read. Stop every console and "
        "'serve' of the site first. Administrators only.",
    )
    copy.add_argument(
        "--to",
        required=True,
        metavar="URL",
        help="the empty PostgreSQL database, e.g. postgresql+psycopg://user:pw@host/meterdesk",
    )
    add_user_option(copy)
    copy.set_defaults(handler=lazy(RUN, "cmd_copy"))
