"""``main.py account statement``: one account's monthly statement as an A4 PDF file;
``main.py account statements``: the statements of a building, a floor or the site for a month,
one PDF per account and one combined file to print (``services.statement_batch``).

Exit codes: 0 written (the path and the closing balance printed; for a batch every file and the
combined one); 1 refused (an unknown account or building, a month that cannot be read, a ledger
that does not add up, a file that cannot be written: the message says what to fix; a batch with
some accounts refused still writes the others and prints them, then exits 1); 2 bad usage; 3-9
database problems (``app.store.errors``); 16 not signed in or not allowed (office staff,
supervisors and administrators may).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from app.billing.money import Money
from app.cli.auth import DENIED, signed_in
from app.cli.context import fail, run_on_database
from app.documents.atomic_files import write_bytes_in_place
from app.documents.statement_pdf import render_statement
from app.queries.reports.scope import ScopeRefused
from app.queries.statement import StatementRefused
from app.queries.statement_data import Statement
from app.services.statement_batch import StatementBatch, write_statements
from app.services.statements import statement_file_name, statement_for
from app.store.database import Database
from app.store.errors import StoreError
from app.store.migrate import require_current
from app.vocabulary import ExitCode


def cmd_statement(args: argparse.Namespace) -> int:
    def work(db: Database) -> Statement:
        require_current(db)
        who = signed_in(db, args.user, None)  # the service checks what a statement needs
        return statement_for(db, who, args.account, args.month)

    try:
        _, statement = run_on_database(args, work)
    except StoreError as exc:
        return fail(str(exc), exc.exit_code)
    except DENIED as exc:
        return fail(str(exc), ExitCode.DENIED)
    except StatementRefused as exc:
        return fail(f"{exc}.", ExitCode.REFUSED)
    path = Path(args.output or statement_file_name(statement)).expanduser()
    if path.is_dir():
        return fail(
            f"{path} is a folder; give --output a file name such as "
            f"{path / statement_file_name(statement)}",
            ExitCode.REFUSED,
        )
    try:
        write_bytes_in_place(path, render_statement(statement))
    except OSError as exc:
        return fail(f"{path} could not be written: {exc.strerror or exc}", ExitCode.REFUSED)
    closing = Money(statement.closing_minor, statement.currency).display()
    print(f"Statement of account {statement.account_number}, {statement.period.words()}: {path}")
    print(f"Closing balance {closing}.")
    return ExitCode.OK


def cmd_statements(args: argparse.Namespace) -> int:
    folder = Path(args.output).expanduser()

    def work(db: Database) -> StatementBatch:
        require_current(db)
        who = signed_in(db, args.user, None)  # the service checks what statements need
        return write_statements(
            db, who, args.month, folder, building=args.building, floor=args.floor
        )

    try:
        _, batch = run_on_database(args, work)
    except StoreError as exc:
        return fail(str(exc), exc.exit_code)
    except DENIED as exc:
        return fail(str(exc), ExitCode.DENIED)
    except (StatementRefused, ScopeRefused) as exc:
        return fail(f"{exc}.", ExitCode.REFUSED)
    print(f"Statements of {batch.scope_words}, {batch.period.words()}, in {batch.folder}:")
    for item in batch.written:
        print(f"  {item.account_number:<10} {item.room or '-':<12} {item.path.name}")
    for refused in batch.refused:
        print(f"  {refused.account_number:<10} {refused.room or '-':<12} REFUSED: {refused.reason}")
    written, refused_count = len(batch.written), len(batch.refused)
    if batch.combined is not None:
        print(
            f"Combined file to print ({written} statement(s), {batch.combined_pages} page(s)): "
            f"{batch.combined}"
        )
    print(f"{written} written, {refused_count} refused.")
    if refused_count:
        return fail(
            f"{refused_count} statement(s) refused (listed above): their ledgers do not add up; "
            "run 'main.py ledger verify', fix the ledger, then run the batch again",
            ExitCode.REFUSED,
        )
    return ExitCode.OK
