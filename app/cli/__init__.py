"""Command line of MeterDesk: the GUI by default, subcommands for scripting and headless use.

``main.py`` calls ``main(argv)``. Every command takes ``--data-dir DIR`` and ``--db URL``.
Exit codes: 0 done, 2 bad usage, 3-9 a problem explained in one line on stderr
(see ``app.store.errors`` and ``app.cli.exit_codes``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from app.cli.parser import build_parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    handler = getattr(args, "handler", None)
    if handler is None:
        from app.cli.gui_command import run_gui_command

        return run_gui_command(args)
    result: int = handler(args)
    return result
