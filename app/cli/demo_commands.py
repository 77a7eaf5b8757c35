"""``demo seed``: build the demo site (in the demo data folder unless --data-dir is given)."""

from __future__ import annotations

import argparse

from app.cli.context import fail, run_on_database
from app.demo.site import DemoSiteExists, DemoSpec, DemoSummary, seed_demo_site
from app.store.database import Database
from app.store.errors import StoreError
from app.store.migrate import upgrade


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
        db, summary = run_on_database(args, seed, demo=True, create=True)
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
