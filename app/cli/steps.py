"""One way to run a command that changes the site: sign in the operator named by ``--user``,
check the permission, run the step in one transaction, and say what happened.

Exit codes: 0 done; 1 refused (the message names the field and what to do; nothing was
written); 2 bad usage; 3-9 database problems; 16 not signed in or not allowed.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from app.cli.auth import DENIED, signed_in
from app.cli.context import fail, run_on_database
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.services.service_checks import Refused
from app.store.database import Database
from app.store.errors import StoreError
from app.store.migrate import ensure_schema, require_current
from app.vocabulary import ExitCode

T = TypeVar("T")


def refused_text(exc: Refused) -> str:
    """``room: There is no room 'A-999'...``: the field to fix (the option's name with dashes,
    or the form field's), then why."""
    return f"{exc.field.replace('_', '-')}: {exc}"


def refused_code(exc: Refused) -> int:
    """The exit code of a refusal by a command that opens a bus's port: 11 when the port cannot
    be opened, 1 for anything else."""
    return ExitCode.PORT_UNAVAILABLE if exc.field == "port" else ExitCode.REFUSED


def run_step(
    args: argparse.Namespace,
    action: Action,
    step: Callable[[Session, SignedIn], T],
    said: Callable[[T], str],
    *,
    create: bool = False,
    refusals: tuple[type[Exception], ...] = (),
) -> int:
    """Sign in ``args.user`` for ``action``, run ``step(session, who)`` in one transaction and
    print ``said(result)``; a refusal prints what to fix and writes nothing. ``refusals``: more
    exceptions that refuse the step, printed as ``{exc} Nothing was changed.``"""

    def work(db: Database) -> T:
        if create:
            ensure_schema(db)
        else:
            require_current(db)
        who = signed_in(db, args.user, action)
        with db.transaction() as session:
            return step(session, who)

    try:
        _, result = run_on_database(args, work, create=create)
    except StoreError as exc:
        return fail(str(exc), exc.exit_code)
    except DENIED as exc:
        return fail(str(exc), ExitCode.DENIED)
    except Refused as exc:
        return fail(f"{refused_text(exc)} Nothing was changed.", ExitCode.REFUSED)
    except refusals as exc:
        return fail(f"{exc} Nothing was changed.", ExitCode.REFUSED)
    print(said(result))
    return ExitCode.OK


def run_query(
    args: argparse.Namespace,
    read: Callable[[Database], T],
    show: Callable[[T], None],
) -> int:
    """A read-only command: open the site's database (creating nothing), read, print."""

    def work(db: Database) -> T:
        require_current(db)
        return read(db)

    try:
        _, result = run_on_database(args, work)
    except StoreError as exc:
        return fail(str(exc), exc.exit_code)
    except Refused as exc:
        return fail(refused_text(exc), ExitCode.REFUSED)
    show(result)
    return ExitCode.OK


def print_json(value: object) -> None:
    print(json.dumps(value, ensure_ascii=False, default=str))
