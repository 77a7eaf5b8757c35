"""``main.py account statement``: one account's monthly statement as an A4 PDF file.

Exit codes: 0 written (the path and the closing balance printed); 1 refused (an unknown account,
a month that cannot be read, a ledger that does not add up, a file that cannot be written: the
message says what to fix); 2 bad usage; 3-9 database problems (``app.store.errors``); 16 not
signed in or not allowed (office staff, supervisors and administrators may).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from app.billing.money import Money
from app.cli.auth import DENIED, signed_in
from app.cli.context import fail, run_on_database
from app.documents.atomic_files import write_bytes_in_place
from app.documents.statement_pdf import render_statement
from app.queries.statement import StatementRefused
from app.queries.statement_data import Statement
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
