"""``setting list|set``."""

from __future__ import annotations

import argparse

from app.cli.options import Subparsers, add_user_option, group, lazy

RUN = "app.cli.setting_commands"


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    setting_sub = group(sub, "setting", "site settings: recharge cap, idle lock, receipts")
    listing = setting_sub.add_parser("list", parents=[common], help="every setting's value")
    listing.add_argument("--json", action="store_true", help="print one JSON object")
    listing.set_defaults(handler=lazy(RUN, "cmd_list"))
    change = setting_sub.add_parser(
        "set",
        parents=[common],
        help="change a setting (supervisors and administrators)",
        description="Change one site setting; 'main.py setting list' shows them all. A value a "
        "setting cannot take is refused with what to give instead.",
    )
    change.add_argument("key", metavar="KEY", help="the setting's key, as 'setting list' shows")
    change.add_argument("value", metavar="VALUE")
    add_user_option(change)
    change.set_defaults(handler=lazy(RUN, "cmd_set"))
