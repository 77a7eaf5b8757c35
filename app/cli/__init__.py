"""Command line of MeterDesk: the GUI by default, subcommands for scripting and headless use.

``main.py`` calls ``main(argv)``. Every command takes ``--data-dir DIR``, ``--db URL`` and
``--demo``, before or after the command's name. Exit codes: ``app.vocabulary.ExitCode``.
Whatever a command or the console creates is private to the user running it
(``app.process.data_dir.private_files``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from app.cli.options import DB_ENV
from app.cli.parser import build_parser
from app.process.data_dir import private_files


def main(argv: Sequence[str] | None = None) -> int:
    with private_files():
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if getattr(args, "db", None) is None and os.environ.get(DB_ENV, "").strip():
        args.db = os.environ[DB_ENV].strip()  # this PC's site database (checked like --db)
    handler = getattr(args, "handler", None)
    if handler is None:
        from app.cli.gui_command import run_gui_command

        return run_gui_command(args)
    try:
        result: int = handler(args)
        sys.stdout.flush()
    except BrokenPipeError:  # piped into head, less...: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return int(result)
