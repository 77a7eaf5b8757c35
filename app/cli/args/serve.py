"""``serve``: run the site with no window."""

from __future__ import annotations

import argparse

from app.cli.options import Subparsers, lazy


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    serve = sub.add_parser(
        "serve", parents=[common], help="poll every bus with no window, until stopped"
    )
    serve.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="simulated seconds per real second on sim:// buses (default 1)",
    )
    serve.add_argument("--seconds", type=float, help="stop after this many seconds")
    serve.add_argument(
        "--interval",
        type=int,
        default=None,
        metavar="SECONDS",
        help="store an interval reading of each meter this often "
        "(default 900; 60 with --demo, so the demo's balances fall within minutes)",
    )
    serve.add_argument(
        "--post-every",
        type=float,
        default=None,
        metavar="SECONDS",
        help="post rated usage to the ledger this often (default 3600; 60 with --demo); "
        "an account about to cross a warning or cut threshold is posted at once",
    )
    serve.add_argument(
        "--no-simulate", action="store_true", help="do not start simulated meters for sim:// buses"
    )
    serve.set_defaults(handler=lazy("app.cli.serve_command", "cmd_serve"))
