"""``site template|import|export``: the whole site as one workbook (an .xlsx file, or a folder
of CSV files named after the sheets).

Exit codes: 0 done (or nothing to change); 1 the workbook has problems (one ``error:`` line per
problem, naming sheet, row and column; nothing was written); 2 a file that cannot be read or
written; 3-9 database problems; 16 not signed in or not allowed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.auth import DENIED, signed_in
from app.cli.context import fail, report_problems, run_on_database, unreadable_reason
from app.cli.steps import print_json
from app.documents.site_workbook import (
    read_workbook,
    workbook_digest,
    write_template,
    write_workbook,
)
from app.documents.site_workbook_format import WorkbookError
from app.queries.site_sheets import site_sheets
from app.services.import_plan import ImportPlan
from app.services.site_import import ImportDone, ImportRefused, import_workbook, plan_import
from app.store.database import Database
from app.store.errors import StoreError
from app.store.migrate import require_current
from app.vocabulary import ExitCode


def _no_file(text: str) -> int | None:
    """Exit 2 for an empty FILE (it would mean the current folder, and write CSV files there)."""
    if text.strip():
        return None
    return fail("FILE is empty: give the .xlsx file or the folder of CSV files.", ExitCode.USAGE)


def cmd_template(args: argparse.Namespace) -> int:
    if (refused := _no_file(args.file)) is not None:
        return refused
    try:
        write_template(Path(args.file))
    except WorkbookError as exc:
        return report_problems(exc.problems, ExitCode.USAGE)
    print(
        f"Wrote an empty site workbook to {args.file}: fill its sheets, then 'main.py site import'."
    )
    return ExitCode.OK


def _plan_json(plan: ImportPlan, applied: bool) -> dict[str, object]:
    return {
        "applied": applied,
        "counts": plan.counts(),
        "changes": [
            {"sheet": c.sheet, "row": c.row, "action": c.action, "what": c.what, "detail": c.detail}
            for c in plan.changes
        ],
        "warnings": plan.warnings,
        "problems": [
            {"sheet": p.sheet, "row": p.row, "column": p.column, "message": p.message}
            for p in plan.problems
        ],
    }


def _show(plan: ImportPlan, *, applied: bool, dry_run: bool) -> None:
    for change in plan.changes[:200]:
        print(f"{change.sheet} row {change.row}: {change.action} {change.what}: {change.detail}")
    if len(plan.changes) > 200:
        print(f"... and {len(plan.changes) - 200} more changes")
    for warning in plan.warnings:
        print(f"warning: {warning}")
    parts = []
    for sheet, count in plan.counts().items():
        if any(count.values()):
            parts.append(
                f"{sheet}: {count['add']} to add, {count['change']} to change, "
                f"{count['unchanged']} unchanged"
            )
    summary = "; ".join(parts) or "the workbook is empty"
    if dry_run:
        print(f"Dry run: {summary}. Nothing was written.")
    elif applied:
        print(
            f"Imported: {summary.replace(' to add', ' added').replace(' to change', ' changed')}."
        )
    else:
        print(f"Nothing to change: {summary}.")


def cmd_import(args: argparse.Namespace) -> int:
    if not args.dry_run and not args.user:
        return fail("--user: say who imports (or look first with --dry-run).", ExitCode.USAGE)
    if (refused := _no_file(args.file)) is not None:
        return refused
    path = Path(args.file)
    try:
        workbook = read_workbook(path)
        digest = workbook_digest(path)
    except WorkbookError as exc:
        return report_problems(
            exc.problems, ExitCode.USAGE if _unreadable(exc) else ExitCode.REFUSED
        )
    except OSError as exc:
        return fail(f"cannot read {path}: {unreadable_reason(exc)}", ExitCode.USAGE)

    def work(db: Database) -> ImportDone:
        require_current(db)
        if args.dry_run:
            plan = plan_import(db, workbook)
            if plan.problems:
                raise ImportRefused(plan)
            return ImportDone(plan, applied=False)
        who = signed_in(db, args.user, None)  # the import checks each kind of change
        return import_workbook(db, who, workbook, source=path.name, digest=digest)

    try:
        _, done = run_on_database(args, work)
    except StoreError as exc:
        return fail(str(exc), exc.exit_code)
    except DENIED as exc:
        return fail(str(exc), ExitCode.DENIED)
    except ImportRefused as exc:
        if args.json:
            print_json(_plan_json(exc.plan, False))
        problems = exc.plan.problems
        return report_problems(
            [
                *problems,
                f"{len(problems)} problem(s); nothing was written. Fix the workbook and import "
                "it again.",
            ]
        )
    if args.json:
        print_json({**_plan_json(done.plan, done.applied), "opening_balances": done.openings})
    else:
        _show(done.plan, applied=done.applied, dry_run=args.dry_run)
    return ExitCode.OK


def _unreadable(exc: WorkbookError) -> bool:
    """A file that could not be read at all (not a problem of its rows)."""
    return all(p.sheet == "" and p.row is None for p in exc.problems)


def cmd_export(args: argparse.Namespace) -> int:
    if (refused := _no_file(args.file)) is not None:
        return refused

    def work(db: Database) -> dict[str, list[dict[str, str]]]:
        require_current(db)
        return site_sheets(db)

    try:
        _, sheets = run_on_database(args, work)
        write_workbook(Path(args.file), sheets)
    except StoreError as exc:
        return fail(str(exc), exc.exit_code)
    except WorkbookError as exc:
        return report_problems(exc.problems, ExitCode.USAGE)
    counts = ", ".join(f"{len(rows)} {sheet}" for sheet, rows in sheets.items())
    print(f"Wrote the site to {args.file}: {counts}.")
    return ExitCode.OK
