"""``db upgrade|status``."""

from __future__ import annotations

import argparse

from app.cli.options import Subparsers, group, lazy

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
