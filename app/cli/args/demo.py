"""``demo seed``."""

from __future__ import annotations

import argparse

from app.cli.options import Subparsers, group, lazy

DEMO_HISTORY_DAYS = 7  # app.demo.history.DEMO_HISTORY_DAYS (checked by a test)


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    demo_sub = group(sub, "demo", "the demo site")
    seed = demo_sub.add_parser(
        "seed",
        parents=[common],
        help="create the demo site in an empty database (default: the demo data folder)",
    )
    seed.add_argument("--buildings", type=int, default=2, help="buildings (default 2)")
    seed.add_argument("--floors", type=int, default=6, help="floors per building (default 6)")
    seed.add_argument(
        "--rooms-per-floor", type=int, default=20, help="rooms per floor (default 20)"
    )
    seed.add_argument(
        "--history-days",
        type=int,
        default=DEMO_HISTORY_DAYS,
        help=f"days of hourly meter readings before today (default {DEMO_HISTORY_DAYS}; 0: none)",
    )
    seed.set_defaults(handler=lazy("app.cli.demo_commands", "cmd_seed"))
