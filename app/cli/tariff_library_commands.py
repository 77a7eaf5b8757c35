"""``tariff import``, ``tariff export`` and ``tariff list``: tariffs stored in the database as
dated versions (see ``app.services.tariff_library`` for the version rules).

``tariff import FILE`` stores the file as a version of the plan its ``name`` gives.
``tariff export --plan NAME [--at YYYY-MM-DD] [--output FILE]`` writes the exact stored text of
the version in force on that date (default today at the site), to stdout unless --output.
``tariff list [--json]`` shows every plan with its versions.

Exit codes: 0 done (also when the file was already imported unchanged); 1 the file has mistakes
(one ``error:`` line each), the import is refused, or the plan or a version in force is missing;
2 a file that cannot be read or written, or bad usage; 3-9 the database problems of
``app.store.errors``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.billing.tariff import TariffFileError
from app.billing.tariff_header import read_tariff_header
from app.cli.auth import DENIED, signed_in
from app.cli.context import (
    fail,
    report_problems,
    run_on_database,
    unreadable_reason,
)
from app.input_limits import read_limited_text
from app.services.permissions import Action
from app.services.tariff_library import (
    ImportOutcome,
    ImportResult,
    PlanInfo,
    TariffLibraryError,
    export_tariff,
    import_tariff_file,
    list_plans,
)
from app.store.database import Database
from app.store.errors import StoreError
from app.store.migrate import require_current
from app.vocabulary import ExitCode


def cmd_import(args: argparse.Namespace) -> int:
    try:  # the stored text must keep the file's line endings: read_limited_text keeps them
        text = read_limited_text(args.file)
    except (OSError, UnicodeDecodeError) as exc:
        return fail(
            f"cannot read {args.file}: {unreadable_reason(exc)}. Give the path of a UTF-8 "
            "tariff file.",
            ExitCode.USAGE,
        )

    def store(db: Database) -> ImportResult:
        require_current(db)
        who = signed_in(db, args.user, Action.CHANGE_TARIFF)
        with db.transaction() as session:
            return import_tariff_file(session, who, text, args.file)

    try:
        _, result = run_on_database(args, store)
    except StoreError as exc:
        return fail(str(exc), exc.exit_code)
    except DENIED as exc:
        return fail(str(exc), ExitCode.DENIED)
    except TariffFileError as exc:
        return report_problems(exc.problems)
    except TariffLibraryError as exc:
        return fail(str(exc), ExitCode.REFUSED)
    print(_imported(result))
    return 0


def _imported(result: ImportResult) -> str:
    name, day = result.plan_name, result.effective_from
    if result.outcome is ImportOutcome.CREATED:
        return f"Imported '{name}': a new tariff plan, its first version in force from {day}."
    if result.outcome is ImportOutcome.NEW_VERSION:
        return f"Imported '{name}': a new version in force from {day}."
    if result.outcome is ImportOutcome.REVISED:
        return (
            f"Imported '{name}': the version from {day} was replaced (revision "
            f"{result.revision}); no usage had been priced with it."
        )
    return (
        f"'{name}' from {day} is already imported with exactly this text (revision "
        f"{result.revision}); nothing changed."
    )


def cmd_export(args: argparse.Namespace) -> int:
    def fetch(db: Database) -> str:
        require_current(db)
        with db.session() as session:
            return export_tariff(session, args.plan, at=args.at)

    try:
        _, text = run_on_database(args, fetch)
    except StoreError as exc:
        return fail(str(exc), exc.exit_code)
    except TariffLibraryError as exc:
        return fail(str(exc), ExitCode.REFUSED)
    data = text.encode("utf-8")
    if args.output is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)  # bytes: the stored text exactly, line endings included
        sys.stdout.buffer.flush()
        return 0
    try:
        Path(args.output).write_bytes(data)
    except OSError as exc:
        return fail(
            f"cannot write {args.output}: {unreadable_reason(exc)}. Choose another --output file.",
            ExitCode.USAGE,
        )
    head = read_tariff_header(text)
    print(f"Wrote '{head.name}', version from {head.effective_from}, to {args.output}.")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    def fetch(db: Database) -> list[PlanInfo]:
        require_current(db)
        with db.session() as session:
            return list_plans(session)

    try:
        _, plans = run_on_database(args, fetch)
    except StoreError as exc:
        return fail(str(exc), exc.exit_code)
    except TariffLibraryError as exc:
        return fail(str(exc), ExitCode.REFUSED)
    if args.json:
        print(json.dumps({"plans": [_plan_json(plan) for plan in plans]}, ensure_ascii=False))
    elif not plans:
        print("No tariff plans are stored yet; add one with 'main.py tariff import FILE'.")
    else:
        print("\n".join(_plan_lines(plan) for plan in plans))
    return 0


def _plan_json(plan: PlanInfo) -> dict[str, object]:
    return {
        "name": plan.name,
        "utility": plan.utility,
        "unit": plan.unit,
        "currency": plan.currency,
        "versions": [
            {
                "effective_from": version.effective_from.isoformat(),
                "revision": version.revision,
                "usage_charges": version.usage_charges,
                "in_force": version.in_force,
            }
            for version in plan.versions
        ],
    }


def _plan_lines(plan: PlanInfo) -> str:
    lines = [f"{plan.name} ({plan.utility}, {plan.unit}, {plan.currency})"]
    for version in plan.versions:
        charges = version.usage_charges
        lines.append(
            f"  from {version.effective_from}  revision {version.revision}  "
            f"{charges} usage charge{'' if charges == 1 else 's'}"
            + ("  in force" if version.in_force else "")
        )
    return "\n".join(lines)
