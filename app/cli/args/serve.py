"""``serve``: run the site with no window."""

from __future__ import annotations

import argparse

from app.cli.args.bounded import DAY_S, seconds, time_scale, whole_seconds
from app.cli.options import Subparsers, lazy

LONGEST_RUN_S = 10 * 366 * DAY_S  # --seconds: ten years is "until stopped" in all but name


def bus_names(text: str) -> frozenset[str]:
    """``--buses``: one or more bus names separated by commas."""
    names = frozenset(" ".join(part.split()) for part in text.split(",") if part.strip())
    if not names:
        raise argparse.ArgumentTypeError(
            "name at least one bus, e.g. --buses 'Block A,Block B' ('main.py bus list' shows them)"
        )
    return names


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    serve = sub.add_parser(
        "serve", parents=[common], help="poll every bus with no window, until stopped"
    )
    serve.add_argument(
        "--time-scale",
        type=time_scale,
        default=1.0,
        help="simulated seconds per real second on sim:// buses, above 0 and at most 1000000 "
        "(default 1)",
    )
    serve.add_argument(
        "--seconds", type=seconds(0, LONGEST_RUN_S), help="stop after this many seconds"
    )
    serve.add_argument(
        "--interval",
        type=whole_seconds(1, DAY_S),
        default=None,
        metavar="SECONDS",
        help="store an interval reading of each meter this often, 1 to 86400 "
        "(default 900; 60 with --demo, so the demo's balances fall within minutes)",
    )
    serve.add_argument(
        "--post-every",
        type=seconds(1, DAY_S),
        default=None,
        metavar="SECONDS",
        help="post rated usage to the ledger this often, 1 to 86400 (default 3600; 60 with "
        "--demo); an account about to cross a warning or cut threshold is posted at once",
    )
    serve.add_argument(
        "--buses",
        type=bus_names,
        default=None,
        metavar="NAME,...",
        help="poll only these buses (names separated by commas), for a site split between "
        "several serve processes; the others are left to their owners",
    )
    serve.add_argument(
        "--no-simulate", action="store_true", help="do not start simulated meters for sim:// buses"
    )
    serve.set_defaults(handler=lazy("app.cli.serve_command", "cmd_serve"))
