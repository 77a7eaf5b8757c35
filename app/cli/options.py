"""Options every command shares, and handlers that are imported only when their command runs.

``--data-dir``, ``--db`` and ``--demo`` act wherever they stand: before the command
(``main.py --db URL account list``) or after it (``main.py account list --db URL``). The main
parser gives them their defaults; each command's parser repeats them with no default of its
own (``argparse.SUPPRESS``), so a command never overwrites what was given before it.

Building the parser imports no services, database or wire code (``main.py --help`` stays
fast): each command names its handler as ``lazy("app.cli.x_commands", "cmd_y")``.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

PASSWORD_ENV = "METERDESK_PASSWORD"
NEW_PASSWORD_ENV = "METERDESK_NEW_PASSWORD"
# The site's database when --db is not given: each PC of a site on PostgreSQL sets it once
# (a service's environment, the user's) instead of typing --db on every start.
DB_ENV = "METERDESK_DB"

Handler = Callable[[argparse.Namespace], int]


def _named(what: str, leave_out: str) -> Callable[[str], str]:
    """A value that must name something: an empty one is refused at parsing (exit 2) instead
    of quietly meaning the default place, the user's real site."""

    def check(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError(
                f"give {what}; an empty one is refused (leave the option out for {leave_out})"
            )
        return text

    return check


def _add_place_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    default: dict[str, object] = {"default": argparse.SUPPRESS} if suppress else {}
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        type=_named("a folder", "the user data folder"),
        help="folder for the database, logs, receipts and crash reports "
        "(default: the user data folder; with --demo, its demo subfolder)",
        **default,  # type: ignore[arg-type]
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        type=_named("a database URL", "SQLite in the data folder"),
        help="SQLAlchemy database URL, e.g. postgresql+psycopg://user:pw@host/meterdesk "
        f"(default: ${DB_ENV} when set, else SQLite in the data folder)",
        **default,  # type: ignore[arg-type]
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="the demo site (its own data folder, seeded on first start of the console)",
        **default,  # type: ignore[arg-type]
    )


def global_options(parser: argparse.ArgumentParser) -> None:
    """``--data-dir``, ``--db`` and ``--demo`` on the main parser, with their defaults."""
    _add_place_options(parser, suppress=False)


def command_options() -> argparse.ArgumentParser:
    """The same options as a parent of every command's parser, without defaults."""
    common = argparse.ArgumentParser(add_help=False)
    _add_place_options(common, suppress=True)
    return common


def add_user_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--user",
        required=True,
        metavar="NAME",
        help=f"the operator doing this; the password comes from ${PASSWORD_ENV} or a prompt",
    )


def add_accounts_target(parser: argparse.ArgumentParser) -> None:
    """Which accounts a change is for: ``--account NUMBER`` (repeatable), or ``--building
    NAME`` with ``--floor N`` to narrow it."""
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--account", action="append", metavar="NUMBER", help="repeatable")
    where.add_argument("--building", metavar="NAME", help="every open account of a building")
    parser.add_argument("--floor", type=int, help="with --building: only this floor")


def lazy(module: str, name: str) -> Handler:
    """A handler that imports ``module`` when its command runs, then calls ``name``."""

    def run(args: argparse.Namespace) -> int:
        handler: Handler = getattr(importlib.import_module(module), name)
        return handler(args)

    run.__qualname__ = f"{module}:{name}"
    return run


if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:  # not subscriptable at run time on Python 3.11
    Subparsers = argparse._SubParsersAction


def group(sub: Subparsers, name: str, help_text: str) -> Subparsers:
    """A command group (``account``, ``bus``...) and its subcommands' parser collection."""
    parser = sub.add_parser(name, help=help_text)
    result: Subparsers = parser.add_subparsers(
        title=f"{name} commands", metavar="COMMAND", required=True
    )
    return result
