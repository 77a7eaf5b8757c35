"""Argument parser: options shared by every command, and the command groups (``app.cli.args``).

Building it imports no services, database or wire code, so ``main.py --help`` is quick; each
command's handler is imported when it runs (``app.cli.options.lazy``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from app import __version__
from app.cli.args import (
    account,
    db,
    demo,
    field,
    ledger,
    notice,
    operator,
    policy,
    report,
    serve,
    setting,
    site,
    tariff,
)
from app.cli.options import command_options, global_options


class TextOnlyParser(argparse.ArgumentParser):
    """Refuses a word of the command line that is not text (exit 2, as any bad usage).

    Bytes that are not UTF-8 (a script in another encoding, a file name from an old disk)
    reach Python as lone surrogates; a database cannot store them and a message cannot print
    them, so they are refused here, before any command sees them."""

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        for word in sys.argv[1:] if args is None else args:
            if any("\ud800" <= char <= "\udfff" for char in word):
                shown = _as_typed(word)[:60]
                self.error(
                    f"'{shown}' is not UTF-8 text (it came in another encoding); "
                    "type it again, or set the terminal or script to UTF-8."
                )
        return super().parse_known_args(args, namespace)


def _as_typed(word: str) -> str:
    """A word with surrogates as the bytes that came (``Block \\xff``), for a message."""
    try:
        raw = word.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that was never a byte of argv
        return word.encode("ascii", "backslashreplace").decode("ascii")
    return raw.decode("ascii", "backslashreplace")


def build_parser() -> argparse.ArgumentParser:
    parser = TextOnlyParser(
        prog="main.py",
        description="MeterDesk: console for network prepaid metering. "
        "Without a command it opens the console window.",
    )
    global_options(parser)
    parser.add_argument("--version", action="version", version=f"MeterDesk {__version__}")
    parser.add_argument(
        "--smoke",
        type=float,
        metavar="SECONDS",
        help="open the main window, run for SECONDS, print one JSON line of what it saw, exit",
    )
    parser.add_argument(
        "--attach",
        action="store_true",
        help="poll nothing: this console shows and takes money while another MeterDesk (usually "
        "'main.py serve' on the server) polls the site; the default when one already does",
    )
    common = command_options()
    sub = parser.add_subparsers(
        title="commands", metavar="COMMAND", parser_class=argparse.ArgumentParser
    )
    groups = (
        account,
        db,
        demo,
        ledger,
        notice,
        operator,
        policy,
        report,
        serve,
        setting,
        site,
        tariff,
    )
    for group in groups:
        group.register(sub, common)
    field.register(sub, common)
    return parser
