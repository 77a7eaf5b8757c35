"""The wire commands (``meter read``, ``meter relay``, ``bus scan --port``) open a port of their
own. When that port is one of the site's buses and a runtime polls it (``main.py serve`` or a
console, on this PC or another), that runtime is first asked to let go of it, as the
diagnostics dialog does (``services.bus_pause``), and polls again when the command ends: two
masters on one RS485 line garble each other. Without a site in the data folder (a technician's
laptop on a bare line) there is nobody to ask.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from app.cli.context import data_dir_of, database_of, fail
from app.services.bus_pause import asked_by, borrow_line, bus_at_port, end_pause, not_let_go
from app.vocabulary import ExitCode

T = TypeVar("T")


def _nothing() -> None:
    return None


def borrow_port(args: argparse.Namespace, what: str) -> Callable[[], None] | int:
    """Ask the runtime that polls ``args.port`` to let go of it; what gives it back, or the
    exit code of a runtime that did not (11, with its message)."""
    try:
        db = database_of(args, data_dir_of(args, demo=None))
    except Exception:  # a --db URL the command line checks elsewhere: nobody to ask here
        return _nothing
    if db.file_path is not None and not db.file_path.exists():
        db.dispose()
        return _nothing  # no site in this data folder
    by = asked_by(what)
    try:
        bus = bus_at_port(db, args.port)
        borrowed = None if bus is None else borrow_line(db, bus[0], by)
    except Exception as exc:  # an old schema, a server away: say so, do not stop the tool
        print(
            f"warning: could not ask the site whether it polls {args.port}: {exc}", file=sys.stderr
        )
        db.dispose()
        return _nothing
    if bus is None or borrowed is None or borrowed.owner is None:
        db.dispose()
        return _nothing
    if not borrowed.free:
        db.dispose()
        return fail(
            f"bus {bus[1]} on {args.port}: {not_let_go(borrowed.owner)}", ExitCode.PORT_UNAVAILABLE
        )
    owner = borrowed.owner
    print(
        f"Bus {bus[1]}: {owner.role} on {owner.host} paused its polling for this command.",
        file=sys.stderr,
    )

    def give_back() -> None:
        try:
            end_pause(db, bus[0], by)
        finally:
            db.dispose()

    return give_back


def on_borrowed_port(
    what: str,
) -> Callable[[Callable[[argparse.Namespace], T]], Callable[[argparse.Namespace], T | int]]:
    """Run the command while the runtime that polls its ``--port`` has let go of it (or return
    the exit code of one that did not)."""

    def wrap(command: Callable[[argparse.Namespace], T]) -> Callable[[argparse.Namespace], T | int]:
        @wraps(command)
        def run(args: argparse.Namespace) -> T | int:
            if not getattr(args, "port", None):
                return command(args)
            held = borrow_port(args, what)
            if isinstance(held, int):
                return held
            try:
                return command(args)
            finally:
                held()

        return run

    return wrap
