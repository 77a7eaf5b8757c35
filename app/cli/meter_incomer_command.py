"""``meter incomer``: mark a meter as a building's incomer (master meter), or clear it.

Exit codes: 0 done; 1 refused (the message names the option to fix, nothing was written);
2 bad usage; 3-9 database problems (``app.store.errors``); 16 not signed in, or not allowed
(technicians and administrators set the field up).
"""

from __future__ import annotations

import argparse

from app.cli.steps import run_step
from app.services.meter_incomer import IncomerSaved, clear_incomer, set_incomer
from app.services.permissions import Action


def _said(done: IncomerSaved) -> str:
    if done.building is None:
        lines = [
            f"Meter {done.serial} is no longer an incomer (it was building {done.before}'s); "
            "the loss report leaves it out."
        ]
    else:
        moved = ""
        if done.before == done.building:
            moved = " (it already was; nothing changed)"
        elif done.before is not None:
            moved = f" (it was building {done.before}'s)"
        lines = [
            f"Meter {done.serial} is the {done.utility} incomer of building {done.building}"
            f"{moved}: billed to nobody, set against the sum of the building's rooms by "
            "'main.py report loss'."
        ]
    lines += [f"warning: {w}" for w in done.warnings]
    return "\n".join(lines)


def cmd_meter_incomer(args: argparse.Namespace) -> int:
    if args.clear:
        return run_step(
            args,
            Action.EDIT_FIELD,
            lambda session, who: clear_incomer(session, who, args.meter),
            _said,
        )
    return run_step(
        args,
        Action.EDIT_FIELD,
        lambda session, who: set_incomer(session, who, args.meter, args.building),
        _said,
    )
