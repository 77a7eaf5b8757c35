"""Who runs a command that changes money, tariffs or relays: ``--user NAME`` with the password
from the environment (``METERDESK_PASSWORD``) or, at a terminal, a prompt that does not echo."""

from __future__ import annotations

import getpass
import os
import sys

from app.cli.options import PASSWORD_ENV
from app.services.operators import (
    OperatorRefused,
    SignedIn,
    database_needs_first_admin,
    login,
)
from app.services.permissions import Action, PermissionDenied
from app.store.database import Database


class NotSignedIn(PermissionError):
    """No usable user or password; the message says what to give."""


def password_for(user: str, env: str = PASSWORD_ENV) -> str:
    password = os.environ.get(env)
    if password is not None:
        return password
    if sys.stdin.isatty():
        return getpass.getpass(f"Password for {user}: ")
    raise NotSignedIn(
        f"No password for {user}: set the environment variable {env} or run the command "
        "at a terminal to be asked."
    )


def signed_in(db: Database, user: str, action: Action | None) -> SignedIn:
    """The operator, signed in and allowed to do ``action``; NotSignedIn or PermissionDenied."""
    if database_needs_first_admin(db):
        raise NotSignedIn(
            f"{db.display_name} has no operator yet: create its administrator first with "
            "'main.py operator first-admin --user NAME'."
        )
    try:
        who = login(db, user, password_for(user))
    except OperatorRefused as exc:
        raise NotSignedIn(str(exc)) from None
    if action is not None:  # None: the service checks what the work needs
        who.require(action)
    return who


DENIED = (NotSignedIn, PermissionDenied)
