"""Argument parser: global options shared by every command, and the subcommands."""

from __future__ import annotations

import argparse

from app import __version__
from app.cli import (
    account_commands,
    db_commands,
    demo_commands,
    field_commands,
    ledger_commands,
    operator_commands,
    serve_command,
    setting_commands,
    tariff_commands,
)


def common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        metavar="DIR",
        help="folder for the database, logs, receipts and crash reports "
        "(default: the user data folder; with --demo, its demo subfolder)",
    )
    common.add_argument(
        "--db",
        metavar="URL",
        help="SQLAlchemy database URL, e.g. postgresql+psycopg://user:pw@host/meterdesk "
        "(default: SQLite in the data folder)",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    common = common_options()
    parser = argparse.ArgumentParser(
        prog="main.py",
        description="MeterDesk: console for network prepaid metering. "
        "Without a command it opens the console window.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"MeterDesk {__version__}")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="open the demo site (its own data folder, seeded on first start)",
    )
    parser.add_argument(
        "--smoke",
        type=float,
        metavar="SECONDS",
        help="open the main window, run for SECONDS, print one JSON line of what it saw, exit",
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    account_commands.register(sub, common)
    db_commands.register(sub, common)
    demo_commands.register(sub, common)
    field_commands.register(sub, common)
    ledger_commands.register(sub, common)
    operator_commands.register(sub, common)
    serve_command.register(sub, common)
    setting_commands.register(sub, common)
    tariff_commands.register(sub, common)
    return parser
