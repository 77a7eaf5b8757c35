"""``operator first-admin|add|list|role|disable|enable|reset-password|unlock``: operators from the
command line (a headless server, a script that sets up a site). Passwords come from the
environment or a prompt, never from the command line, where other users of the computer could
read them.

Exit codes: 0 done; 1 refused (the message says why; nothing written); 3-9 database problems;
16 not signed in or not allowed.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from app.cli.auth import DENIED, password_for, signed_in
from app.cli.context import fail, run_on_database
from app.cli.options import NEW_PASSWORD_ENV
from app.cli.steps import run_step
from app.services.operators import (
    OperatorRefused,
    SignedIn,
    add_operator,
    change_role,
    list_operators,
    reset_password,
    set_active,
    set_up_first_admin,
    unlock,
)
from app.services.permissions import Action
from app.store.database import Database
from app.store.errors import StoreError
from app.store.migrate import ensure_schema, require_current
from app.vocabulary import ExitCode, Role


def cmd_first_admin(args: argparse.Namespace) -> int:
    def work(db: Database) -> SignedIn:
        password = password_for(args.user)  # asked before the schema is made
        ensure_schema(db)
        return set_up_first_admin(db, args.user, args.name, password)

    try:
        _, admin = run_on_database(args, work, create=True)
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
        admin = signed_in(db, args.user, Action.MANAGE_OPERATORS)
        new_password = password_for(args.new, NEW_PASSWORD_ENV)
        with db.transaction() as session:
            return add_operator(session, admin, args.new, args.name, Role(args.role), new_password)

    try:
        _, added = run_on_database(args, work)
    except StoreError as exc:
        return fail(str(exc), exc.exit_code)
    except DENIED as exc:
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
            if row["locked_until"]:
                until = datetime.fromisoformat(str(row["locked_until"])).astimezone()
                state += f" (locked until {until:%Y-%m-%d %H:%M})"
            print(f"{row['username']:<20} {row['role']:<11} {row['display_name']}{state}")
    return 0


def _admin_step(args: argparse.Namespace, step: Callable[[Session, SignedIn], SignedIn]) -> int:
    """Sign in the administrator named by --user, run ``step`` in a transaction and say the
    operator's role; exit codes as the module says."""
    return run_step(
        args,
        Action.MANAGE_OPERATORS,
        step,
        lambda done: f"{done.username}: {done.role.value}.",
        refusals=(OperatorRefused,),
    )


def cmd_role(args: argparse.Namespace) -> int:
    return _admin_step(
        args, lambda session, who: change_role(session, who, args.operator, Role(args.role))
    )


def cmd_switch(args: argparse.Namespace) -> int:
    code = _admin_step(
        args, lambda session, who: set_active(session, who, args.operator, args.active)
    )
    if code == 0:
        print(f"{args.operator} is switched {'on' if args.active else 'off'}.")
    return code


def cmd_reset_password(args: argparse.Namespace) -> int:
    try:  # asked before the step: nobody waits on the write lock while a person types
        password = password_for(args.operator, NEW_PASSWORD_ENV)
    except DENIED as exc:
        return fail(str(exc), ExitCode.DENIED)
    code = _admin_step(
        args, lambda session, who: reset_password(session, who, args.operator, password)
    )
    if code == 0:
        print(f"The password of {args.operator} was changed.")
    return code


def cmd_unlock(args: argparse.Namespace) -> int:
    return run_step(
        args,
        Action.MANAGE_OPERATORS,
        lambda session, who: unlock(session, who, args.operator),
        lambda lifted: (
            f"{args.operator} may sign in again."
            if lifted
            else f"{args.operator} was not locked; nothing was changed."
        ),
        refusals=(OperatorRefused,),
    )
