"""``demo seed``: build the demo site (in the demo data folder unless --data-dir is given)."""

from __future__ import annotations

import argparse

from app.cli.context import fail, run_on_database
from app.demo.history import DEMO_HISTORY_DAYS
from app.demo.site import DemoSiteExists, DemoSpec, DemoSummary, seed_demo_site
from app.store.database import Database
from app.store.errors import StoreError
from app.store.migrate import upgrade


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    demo = sub.add_parser("demo", help="the demo site")
    demo_sub = demo.add_subparsers(title="demo commands", metavar="COMMAND", required=True)
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
    seed.set_defaults(handler=cmd_seed)


def cmd_seed(args: argparse.Namespace) -> int:
    spec = DemoSpec(
        args.buildings, args.floors, args.rooms_per_floor, history_days=args.history_days
    )
    try:
        spec.check()
    except ValueError as exc:
        return fail(f"{exc}.", 2)

    def seed(db: Database) -> DemoSummary:
        upgrade(db)
        return seed_demo_site(db, spec)

    try:
        db, summary = run_on_database(args, seed, demo=True)
    except StoreError as exc:
        return fail(str(exc), exc.exit_code)
    except DemoSiteExists as exc:
        return fail(str(exc), exc.exit_code)
    print(
        f"Demo site seeded in {db.display_name}: {summary.rooms} rooms, {summary.accounts} "
        f"accounts, {summary.meters} meters on {summary.buses} buses, {summary.operators} "
        f"operators (password 'demo'), {summary.readings} past readings."
    )
    return 0
