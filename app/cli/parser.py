"""Argument parser: options shared by every command, and the command groups (``app.cli.args``).

Building it imports no services, database or wire code, so ``main.py --help`` is quick; each
command's handler is imported when it runs (``app.cli.options.lazy``).
"""

from __future__ import annotations

import argparse

from app import __version__
from app.cli.args import (
    account,
    db,
    demo,
    field,
    ledger,
    operator,
    policy,
    serve,
    setting,
    site,
    tariff,
)
from app.cli.options import command_options, global_options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="main.py",
        description="MeterDesk: console for network prepaid metering. "
        "Without a command it opens the console window.",
    )
    global_options(parser)
    parser.add_argument("--version", action="version", version=f"MeterDesk {__version__}")
    parser.add_argument(
        "--smoke",
        type=float,
        metavar="SECONDS",
        help="open the main window, run for SECONDS, print one JSON line of what it saw, exit",
    )
    common = command_options()
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for group in (account, db, demo, ledger, operator, policy, serve, setting, site, tariff):
        group.register(sub, common)
    field.register(sub, common)
    return parser
