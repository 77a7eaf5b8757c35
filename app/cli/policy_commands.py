"""``policy import|export|list|assign``, ``load-guard import|export|list`` and ``tariff
assign``. A file with mistakes lists each (``error: key: message``, exit 1) and stores
nothing. Exit codes as ``app.cli.steps`` says; 2 for a file that cannot be read or written."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.billing.file_problems import FileProblemsError
from app.billing.load_guard_file import params_to_json
from app.billing.money import Money
from app.cli.context import fail
from app.cli.steps import print_json, run_query, run_step
from app.queries.site_facts import site_currency
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
from app.store.models import Account, BalancePolicy
from app.vocabulary import AccountStatus, ExitCode


def _read(path: str) -> str | None:
    try:
        return Path(path).read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else exc.strerror
        print(f"error: cannot read {path}: {reason}.", file=sys.stderr)
        return None


def _file_step(args: argparse.Namespace, step: object, said: object) -> int:
    try:
        return run_step(args, Action.CHANGE_POLICY, step, said)  # type: ignore[arg-type]
    except FileProblemsError as exc:
        for line in exc.lines():
            print(f"error: {line}", file=sys.stderr)
        print("error: nothing was stored; fix the file and import it again.", file=sys.stderr)
        return ExitCode.REFUSED


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
        return fail(f"cannot write {output}: {exc.strerror or exc}.", ExitCode.USAGE)
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
    def read(db: Database) -> list[dict[str, object]]:
        with db.session() as session:
            currency = site_currency(session)
            counts = dict(
                session.execute(
                    select(Account.policy_id, func.count())
                    .where(Account.status == AccountStatus.OPEN)
                    .group_by(Account.policy_id)
                ).all()
            )
            return [
                {
                    "name": p.name,
                    "alarm_1": str(Money(p.alarm_1_minor, currency)),
                    "alarm_2": str(Money(p.alarm_2_minor, currency)),
                    "overdraft_limit": str(Money(p.overdraft_limit_minor, currency)),
                    "close_permit": str(Money(p.close_permit_minor, currency)),
                    "hoard_limit": None
                    if p.hoard_limit_minor is None
                    else str(Money(p.hoard_limit_minor, currency)),
                    "accounts": counts.get(p.id, 0),
                }
                for p in session.scalars(select(BalancePolicy).order_by(BalancePolicy.name))
            ]

    def show(rows: list[dict[str, object]]) -> None:
        if args.json:
            print_json(rows)
            return
        for r in rows:
            print(
                f"{r['name']!s:<28} warn {r['alarm_1']}/{r['alarm_2']}  overdraft "
                f"{r['overdraft_limit']}  restore at {r['close_permit']}  {r['accounts']} accounts"
            )

    return run_query(args, read, show)


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
        lambda moved: (
            f"{len(moved)} account(s) now on policy {args.policy!r}"
            + (f": {', '.join(moved[:20])}{' ...' if len(moved) > 20 else ''}." if moved else ".")
        ),
    )


def cmd_tariff_assign(args: argparse.Namespace) -> int:
    return run_step(
        args,
        Action.CHANGE_TARIFF,
        lambda session, who: assign_tariff(
            session, who, args.plan, accounts=args.account, building=args.building, floor=args.floor
        ),
        lambda changed: (
            f"{len(changed)} account(s) now billed on {args.plan!r}"
            + (
                f": {', '.join(changed[:20])}{' ...' if len(changed) > 20 else ''}."
                if changed
                else "."
            )
        ),
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
