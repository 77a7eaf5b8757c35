"""``policy import|export|list|assign``, ``load-guard import|export|list`` and ``tariff
assign``. A file with mistakes lists each (``error: key: message``, exit 1) and stores
nothing. Exit codes as ``app.cli.steps`` says; 2 for a file that cannot be read or written."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy.orm import Session

from app.billing.file_problems import FileProblemsError
from app.billing.load_guard_file import params_to_json
from app.cli.context import fail, report_problems, unreadable_reason
from app.cli.steps import print_json, run_query, run_step
from app.input_limits import read_limited_text
from app.queries.setup_lists import PolicyRow, list_policies
from app.services.load_guard_setup import (
    GuardSettingsRow,
    export_load_guard,
    import_load_guard,
    list_load_guards,
)
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.services.policy_setup import (
    PolicySaved,
    assign_policy,
    export_policy,
    import_policy,
)
from app.services.tariff_assign import assign_tariff
from app.store.database import Database
from app.vocabulary import ExitCode

T = TypeVar("T")


def _read(path: str) -> str | None:
    try:
        return read_limited_text(path)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read {path}: {unreadable_reason(exc)}.", file=sys.stderr)
        return None


def _file_step(
    args: argparse.Namespace,
    step: Callable[[Session, SignedIn], T],
    said: Callable[[T], str],
) -> int:
    try:
        return run_step(args, Action.CHANGE_POLICY, step, said)
    except FileProblemsError as exc:
        return report_problems(
            [*exc.lines(), "nothing was stored; fix the file and import it again."]
        )


def cmd_policy_import(args: argparse.Namespace) -> int:
    text = _read(args.file)
    if text is None:
        return ExitCode.USAGE

    def step(session: Session, who: SignedIn) -> PolicySaved:
        return import_policy(session, who, text, args.file)

    return _file_step(
        args,
        step,
        lambda saved: {
            "added": f"Policy {saved.name!r} added.",
            "changed": f"Policy {saved.name!r} changed; its accounts keep it.",
            "unchanged": f"Policy {saved.name!r} is already stored with these values.",
        }[saved.outcome],
    )


def _write(output: str | None, text: str) -> int:
    if output is None:
        sys.stdout.write(text)
        return ExitCode.OK
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        return fail(f"cannot write {output}: {unreadable_reason(exc)}.", ExitCode.USAGE)
    print(f"Wrote {output}.")
    return ExitCode.OK


def cmd_policy_export(args: argparse.Namespace) -> int:
    found: list[str] = []

    def read(db: Database) -> str:
        with db.session() as session:
            return export_policy(session, args.policy)

    code = run_query(args, read, found.append)
    return code if code else _write(args.output, found[0])


def cmd_policy_list(args: argparse.Namespace) -> int:
    def show(rows: list[PolicyRow]) -> None:
        if args.json:
            print_json([_policy_json(r) for r in rows])
            return
        for r in rows:
            print(
                f"{r.name:<28} warn {r.alarm_1}/{r.alarm_2}  overdraft "
                f"{r.overdraft_limit}  restore at {r.close_permit}  {r.accounts} accounts"
            )

    return run_query(args, list_policies, show)


def _policy_json(row: PolicyRow) -> dict[str, object]:
    return {
        "name": row.name,
        "alarm_1": row.alarm_1,
        "alarm_2": row.alarm_2,
        "overdraft_limit": row.overdraft_limit,
        "close_permit": row.close_permit,
        "hoard_limit": row.hoard_limit or None,
        "accounts": row.accounts,
    }


def _now_on(changed: list[str], what: str) -> str:
    """``2 account(s) now on policy 'VIP': 100001, 100002.``: the count, then the first 20
    account numbers."""
    more = " ..." if len(changed) > 20 else ""
    listed = f": {', '.join(changed[:20])}{more}." if changed else "."
    return f"{len(changed)} account(s) now {what}{listed}"


def cmd_policy_assign(args: argparse.Namespace) -> int:
    return run_step(
        args,
        Action.CHANGE_POLICY,
        lambda session, who: assign_policy(
            session,
            who,
            args.policy,
            accounts=args.account,
            building=args.building,
            floor=args.floor,
        ),
        lambda moved: _now_on(moved, f"on policy {args.policy!r}"),
    )


def cmd_tariff_assign(args: argparse.Namespace) -> int:
    return run_step(
        args,
        Action.CHANGE_TARIFF,
        lambda session, who: assign_tariff(
            session, who, args.plan, accounts=args.account, building=args.building, floor=args.floor
        ),
        lambda changed: _now_on(changed, f"billed on {args.plan!r}"),
    )


def cmd_guard_import(args: argparse.Namespace) -> int:
    text = _read(args.file)
    if text is None:
        return ExitCode.USAGE
    place = f"building {args.building}" if args.building else "the site"
    return _file_step(
        args,
        lambda session, who: import_load_guard(session, who, text, args.file, args.building),
        lambda outcome: f"Load-guard settings of {place}: {outcome}.",
    )


def cmd_guard_export(args: argparse.Namespace) -> int:
    found: list[str | None] = []

    def read(db: Database) -> str | None:
        with db.session() as session:
            return export_load_guard(session, args.building)

    code = run_query(args, read, found.append)
    if code:
        return code
    if found[0] is None:
        place = f"building {args.building}" if args.building else "the site"
        return fail(f"No load-guard settings are stored for {place}.", ExitCode.REFUSED)
    return _write(args.output, found[0])


def cmd_guard_list(args: argparse.Namespace) -> int:
    def show(rows: list[GuardSettingsRow]) -> None:
        if args.json:
            print_json([{"building": r.building, **params_to_json(r.params)} for r in rows])
            return
        if not rows:
            print("No load-guard settings yet: 'main.py load-guard import FILE'.")
        for r in rows:
            p = r.params
            print(
                f"{r.building or '(site)':<20} total {p.total_mode.value} {p.total_limit_w:g} W "
                f"for {p.total_duration_s:g} s; increment {p.increment_mode.value} at PF >= "
                f"{p.pf_threshold:.3f}, {len(p.bands)} bands; restore after "
                f"{p.restore_delay_s:g} s, {p.max_auto_restores_per_day} a day"
            )

    return run_query(args, list_load_guards, show)
