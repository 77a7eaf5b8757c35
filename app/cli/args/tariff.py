"""``tariff check|quote|import|export|list|assign``."""

from __future__ import annotations

import argparse
from datetime import date

from app.cli.options import Subparsers, add_accounts_target, add_user_option, group, lazy

RUN = "app.cli.tariff_commands"
LIBRARY = "app.cli.tariff_library_commands"


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    tariff_sub = group(sub, "tariff", "check, quote, import, export, list and assign tariffs")
    check = tariff_sub.add_parser(
        "check", parents=[common], help="check a tariff file, listing every mistake"
    )
    check.add_argument("file", metavar="FILE", help="tariff file (TOML)")
    check.set_defaults(handler=lazy(RUN, "cmd_check"))
    quote = tariff_sub.add_parser(
        "quote",
        parents=[common],
        help="price usage intervals under a tariff",
        description="Price usage rows start,end,quantity (ISO site-local times). Lines: energy, "
        "allowance, fee; by TOU period in the order of the periods table, then by tier.",
    )
    quote.add_argument(
        "--tariff",
        required=True,
        action="append",
        metavar="FILE",
        help="tariff file (TOML); repeat for dated versions of one tariff",
    )
    quote.add_argument("--usage", required=True, metavar="CSV", help="rows start,end,quantity")
    quote.add_argument(
        "--cycle-used",
        default="0",
        metavar="Q",
        help="units already used in the cycle of the first row (tier position, allowance)",
    )
    quote.add_argument("--json", action="store_true", help="print one JSON object")
    quote.set_defaults(handler=lazy(RUN, "cmd_quote"))

    imp = tariff_sub.add_parser(
        "import",
        parents=[common],
        help="store a tariff file in the database as a dated version of its plan",
        description="Store a tariff file as a version of the plan named in it. The same "
        "effective_from again replaces the version while no usage has been priced with it.",
    )
    imp.add_argument("file", metavar="FILE", help="tariff file (TOML)")
    add_user_option(imp)
    imp.set_defaults(handler=lazy(LIBRARY, "cmd_import"))
    exp = tariff_sub.add_parser(
        "export",
        parents=[common],
        help="write the stored tariff file of a plan's version in force on a date",
    )
    exp.add_argument("--plan", required=True, metavar="NAME", help="the tariff plan's name")
    exp.add_argument(
        "--at",
        type=day,
        metavar="YYYY-MM-DD",
        help="the version in force on this site-local date (default: today at the site)",
    )
    exp.add_argument("--output", metavar="FILE", help="write to FILE (default: stdout)")
    exp.set_defaults(handler=lazy(LIBRARY, "cmd_export"))
    lst = tariff_sub.add_parser(
        "list", parents=[common], help="show stored tariff plans and their versions"
    )
    lst.add_argument("--json", action="store_true", help="print one JSON object")
    lst.set_defaults(handler=lazy(LIBRARY, "cmd_list"))
    assign = tariff_sub.add_parser(
        "assign",
        parents=[common],
        help="bill accounts on a tariff plan (for the plan's utility), one by one or by "
        "building and floor (supervisors and administrators)",
    )
    assign.add_argument("--plan", required=True, metavar="NAME", help="the tariff plan")
    add_accounts_target(assign)
    add_user_option(assign)
    assign.set_defaults(handler=lazy("app.cli.policy_commands", "cmd_tariff_assign"))


def day(text: str) -> date:
    """A date option (``--at 2026-09-01``); bad usage (exit 2) when it is not one."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date; write it like 2026-09-01."
        ) from None
