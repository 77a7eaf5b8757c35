"""The default command: open the console window (or its smoke run)."""

from __future__ import annotations

import argparse

from app.cli.context import data_dir_of


def run_gui_command(args: argparse.Namespace) -> int:
    from app.application import run_gui  # Qt is imported only when a window is wanted

    return run_gui(
        data_dir_of(args, demo=args.demo),
        args.db,
        demo=args.demo,
        smoke_seconds=args.smoke,
        attach=args.attach,
    )
