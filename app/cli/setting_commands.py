"""``setting list|set``: the site settings (single-recharge cap, idle lock, receipt layout and
printing). Changing one needs an operator who may change policies, and is audited.

Exit codes: 0 done; 1 a value that cannot be used (the message says what to give); 3-9
database problems; 16 not signed in or not allowed.
"""

from __future__ import annotations

import argparse
import json

from app.cli.auth import DENIED, signed_in
from app.cli.context import fail, run_on_database
from app.services.permissions import Action
from app.services.settings import (
    SettingRefused,
    change_setting,
    shown_settings,
)
from app.store.database import Database
from app.store.errors import StoreError
from app.store.migrate import require_current
from app.vocabulary import ExitCode


def cmd_list(args: argparse.Namespace) -> int:
    def work(db: Database) -> dict[str, str]:
        require_current(db)
        return shown_settings(db)

    try:
        _, shown = run_on_database(args, work)
    except StoreError as exc:
        return fail(str(exc), exc.exit_code)
    if args.json:
        print(json.dumps(shown))
    else:
        for key, value in shown.items():
            print(f"{key:<20} {value}")
    return 0


def cmd_set(args: argparse.Namespace) -> int:
    def work(db: Database) -> dict[str, str]:
        require_current(db)
        who = signed_in(db, args.user, Action.CHANGE_POLICY)
        with db.transaction() as session:
            change_setting(session, who, args.key, args.value)
        return shown_settings(db)

    try:
        _, shown = run_on_database(args, work)
    except StoreError as exc:
        return fail(str(exc), exc.exit_code)
    except DENIED as exc:
        return fail(str(exc), ExitCode.DENIED)
    except SettingRefused as exc:
        return fail(f"{exc} Nothing was changed.", ExitCode.REFUSED)
    print(f"{args.key} is now {shown[args.key]}.")
    return 0
