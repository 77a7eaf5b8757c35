"""``operator first-admin|add|list|role|disable|enable|reset-password|unlock``."""

from __future__ import annotations

import argparse

from app.cli.options import NEW_PASSWORD_ENV, PASSWORD_ENV, Subparsers, add_user_option, group, lazy
from app.vocabulary import Role

RUN = "app.cli.operator_commands"


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    op_sub = group(sub, "operator", "the people who use MeterDesk and their roles")
    first = op_sub.add_parser(
        "first-admin",
        parents=[common],
        help="create the administrator of a database that has no operator yet",
        description=f"Create the first administrator; the password comes from ${PASSWORD_ENV} "
        "or a prompt. Refused once the database has any operator. On an empty data folder "
        "it creates the database first.",
    )
    first.add_argument("--user", required=True, metavar="NAME", help="the admin's user name")
    first.add_argument("--name", default="", metavar="TEXT", help="the admin's full name")
    first.set_defaults(handler=lazy(RUN, "cmd_first_admin"))
    add = op_sub.add_parser(
        "add",
        parents=[common],
        help="add an operator (administrators only)",
        description=f"Add an operator. --user is the administrator doing it (password from "
        f"${PASSWORD_ENV}); the new operator's password comes from ${NEW_PASSWORD_ENV} or a "
        "prompt.",
    )
    add_user_option(add)
    add.add_argument("--new", required=True, metavar="NAME", help="the new user name")
    add.add_argument("--name", default="", metavar="TEXT", help="the new operator's full name")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.set_defaults(handler=lazy(RUN, "cmd_add"))
    listing = op_sub.add_parser("list", parents=[common], help="every operator and role")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(handler=lazy(RUN, "cmd_list"))

    role = op_sub.add_parser(
        "role", parents=[common], help="give an operator another role (administrators only)"
    )
    add_user_option(role)
    role.add_argument("--operator", required=True, metavar="NAME", help="whose role changes")
    role.add_argument("--role", required=True, choices=[r.value for r in Role])
    role.set_defaults(handler=lazy(RUN, "cmd_role"))
    for name, on in (("disable", False), ("enable", True)):
        switch = op_sub.add_parser(
            name,
            parents=[common],
            help=f"{'switch an operator off: no more sign-ins' if not on else 'switch back on'} "
            "(administrators only)",
        )
        add_user_option(switch)
        switch.add_argument("--operator", required=True, metavar="NAME")
        switch.set_defaults(handler=lazy(RUN, "cmd_switch"), active=on)
    reset = op_sub.add_parser(
        "reset-password",
        parents=[common],
        help="give an operator a new password (administrators only)",
        description=f"The new password comes from ${NEW_PASSWORD_ENV} or a prompt.",
    )
    add_user_option(reset)
    reset.add_argument("--operator", required=True, metavar="NAME")
    reset.set_defaults(handler=lazy(RUN, "cmd_reset_password"))
    unlock = op_sub.add_parser(
        "unlock",
        parents=[common],
        help="lift the sign-in lock that wrong passwords put on an operator (administrators only)",
        description="Five wrong passwords in a row lock a user name for 15 minutes; this lets "
        "the operator sign in again at once.",
    )
    add_user_option(unlock)
    unlock.add_argument("--operator", required=True, metavar="NAME")
    unlock.set_defaults(handler=lazy(RUN, "cmd_unlock"))
