"""Who runs a command that changes money, tariffs or relays: ``--user NAME`` with the password
from the environment (``METERDESK_PASSWORD``) or, at a terminal, a prompt that does not echo.

An operator is who the site's own database says: ``--data-dir`` or ``--db`` name that database,
and a new folder set up with ``operator first-admin`` makes its maker the administrator of an
empty site, nothing more. So a command that drives the wire (``meter relay``) is refused for
a database that has no meters in service (``require_field``): the operators of an empty site
cannot switch the relays of another site's meters."""

from __future__ import annotations

import getpass
import os
import sys

from sqlalchemy import select

from app.cli.options import PASSWORD_ENV
from app.hardware.errors import ProfileError
from app.hardware.profiles import load_profile
from app.services.meter_checks import stored_address
from app.services.operators import (
    OperatorRefused,
    SignedIn,
    database_needs_first_admin,
    login,
)
from app.services.permissions import Action, PermissionDenied
from app.store.database import Database
from app.store.models import Bus, Meter
from app.vocabulary import SignInPlace

WIRE_ACTIONS = frozenset({Action.SWITCH_RELAY})
"""What acts on meters through a port named on the command line: refused for the operators of
a database that has no meters in service."""


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
    if action in WIRE_ACTIONS:
        require_field(db)
    try:
        who = login(db, user, password_for(user), where=SignInPlace.COMMAND_LINE)
    except OperatorRefused as exc:
        raise NotSignedIn(str(exc)) from None
    if action is not None:  # None: the service checks what the work needs
        who.require(action)
    return who


def require_field(db: Database, port: str | None = None, address: str | None = None) -> None:
    """Refuse (``NotSignedIn``) unless ``db`` has meters in service; with ``port`` and
    ``address``, unless that meter is one of them (its bus's port, its address as stored)."""
    with db.session() as session:
        meters = session.execute(
            select(Bus.url, Meter.address, Meter.profile)
            .join(Bus, Meter.bus_id == Bus.id)
            .where(Meter.removed_at.is_(None), Bus.retired_at.is_(None))
        ).all()
    if not meters:
        raise NotSignedIn(
            f"{db.display_name} has no meters in service, so its operators may not drive "
            "meters on the wire: name the database of the site the meter belongs to with "
            "--data-dir or --db."
        )
    if port is None or address is None:
        return
    for url, stored, profile in meters:
        if url.strip() == port.strip() and stored == _as_stored(profile, address):
            return
    raise NotSignedIn(
        f"Meter {address} on {port} is not one of the meters of {db.display_name}: switch only "
        "the site's own meters (add it first with 'main.py meter add'), or name its site's "
        "database with --data-dir or --db."
    )


def _as_stored(profile_name: str, address: str) -> str:
    try:
        return stored_address(load_profile(profile_name), address)
    except ProfileError:
        return address.strip()


DENIED = (NotSignedIn, PermissionDenied)
