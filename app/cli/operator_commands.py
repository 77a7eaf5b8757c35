"""``operator first-admin|add|list``: operators from the command line (a headless server, a
script that sets up a site). Passwords come from the environment or a prompt, never from the
command line, where other users of the computer could read them.

Exit codes: 0 done; 1 refused (the message says why; nothing written); 3-9 database problems;
16 not signed in or not allowed.
"""

from __future__ import annotations

import argparse
import json

from app.cli.auth import DENIED, PASSWORD_ENV, add_user_option, password_for
from app.cli.context import fail, run_on_database
from app.services.operators import (
    OperatorRefused,
    SignedIn,
    add_operator,
    list_operators,
    login,
    set_up_first_admin,
)
from app.store.database import Database
from app.store.errors import StoreError
from app.store.migrate import require_current
from app.vocabulary import ExitCode, Role

NEW_PASSWORD_ENV = "METERDESK_NEW_PASSWORD"


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    operator = sub.add_parser("operator", help="the people who use MeterDesk and their roles")
    op_sub = operator.add_subparsers(title="operator commands", metavar="COMMAND", required=True)
    first = op_sub.add_parser(
        "first-admin",
        parents=[common],
        help="create the administrator of a database that has no operator yet",
        description=f"Create the first administrator; the password comes from ${PASSWORD_ENV} "
        "or a prompt. Refused once the database has any operator.",
    )
    first.add_argument("--user", required=True, metavar="NAME", help="the admin's user name")
    first.add_argument("--name", default="", metavar="TEXT", help="the admin's full name")
    first.set_defaults(handler=cmd_first_admin)
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
    add.set_defaults(handler=cmd_add)
    listing = op_sub.add_parser("list", parents=[common], help="every operator and role")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(handler=cmd_list)


def cmd_first_admin(args: argparse.Namespace) -> int:
    def work(db: Database) -> SignedIn:
        require_current(db)
        return set_up_first_admin(db, args.user, args.name, password_for(args.user))

    try:
        _, admin = run_on_database(args, work)
    except StoreError as exc:
        return fail(str(exc), exc.exit_code)
    except DENIED as exc:
        return fail(str(exc), ExitCode.DENIED)
    except OperatorRefused as exc:
        return fail(str(exc), 1)
    print(f"Administrator {admin.username} created.")
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    def work(db: Database) -> SignedIn:
        require_current(db)
        try:
            admin = login(db, args.user, password_for(args.user))
        except OperatorRefused as exc:
            raise PermissionError(str(exc)) from None
        new_password = password_for(args.new, NEW_PASSWORD_ENV)
        with db.transaction() as session:
            return add_operator(session, admin, args.new, args.name, Role(args.role), new_password)

    try:
        _, added = run_on_database(args, work)
    except StoreError as exc:
        return fail(str(exc), exc.exit_code)
    except (*DENIED, PermissionError) as exc:
        return fail(str(exc), ExitCode.DENIED)
    except OperatorRefused as exc:
        return fail(str(exc), 1)
    print(f"Operator {added.username} added as {added.role.value}.")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    def work(db: Database) -> list[dict[str, object]]:
        require_current(db)
        return list_operators(db)

    try:
        _, rows = run_on_database(args, work)
    except StoreError as exc:
        return fail(str(exc), exc.exit_code)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
    else:
        for row in rows:
            state = "" if row["active"] else " (switched off)"
            print(f"{row['username']:<20} {row['role']:<11} {row['display_name']}{state}")
    return 0
