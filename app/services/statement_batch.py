"""Monthly statements for a whole building, a floor of it, or the site (issue 17): one A4 PDF per
account open at any moment of the month, in a folder, plus one combined file to print (every
statement from a new page, in the order of building and room, a bookmark each).

The same operators as a single statement may (``Action.VIEW_REPORTS``), and each statement is
the single one (``queries.statement.account_statement``, ``documents.statement_pdf``): an
account whose ledger does not add up is refused with the reason, like its single statement,
and the others are still written. Every file is written whole or not at all
(``documents.atomic_files``): a file of a refused account from an earlier run is left as it
was, never half replaced. The combined file joins the written files (``documents.pdf_join``),
read back one at a time, so a site of thousands of rooms is never held in memory at once.

The batch is audited once, when it is done (``statement.batch``: the month, the scope, how
many were written, which were refused, the combined file's name), not once per tenant.
``progress(done, total, room)`` is called from the thread that runs the batch after each
account (the console relays it to its window).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from app.documents.atomic_files import put_in_place, write_bytes_in_place
from app.documents.pdf_join import PdfJoinError, PdfPart, join_pdfs
from app.documents.statement_pdf import render_statement
from app.queries.reports.period import Period
from app.queries.reports.scope import Scope
from app.queries.statement import StatementRefused, account_statement
from app.queries.statement_accounts import StatementAccount, accounts_open_in
from app.services.audit import record_audit
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.services.statements import parse_month
from app.store.database import Database

Progress = Callable[[int, int, str], None]  # done, total, the room (or account) just done
AUDIT_ACTION = "statement.batch"
# What a name may hold on every file system the console runs on (Windows' reserved
# characters, spaces and anything non-ASCII become "_").
_UNSAFE_IN_FILE_NAME = re.compile(r"[^0-9A-Za-z.-]+")
MAX_NAME_PART = 40


@dataclass(frozen=True)
class WrittenStatement:
    account_number: str
    room: str
    path: Path


@dataclass(frozen=True)
class RefusedStatement:
    account_number: str
    room: str
    reason: str  # what the single statement would say: what to run or fix


@dataclass(frozen=True)
class StatementBatch:
    """What a batch wrote: each statement (print order), each refusal, the combined file
    (None when nothing was written) and its pages (the sum of the statements' pages)."""

    period: Period
    scope_words: str
    folder: Path
    written: tuple[WrittenStatement, ...]
    refused: tuple[RefusedStatement, ...]
    combined: Path | None
    combined_pages: int
    statement_pages: tuple[int, ...]  # each written statement's pages, in order


def safe_name_part(text: str) -> str:
    """``text`` as part of a file name safe on Windows, macOS and Linux: ASCII letters,
    digits, ``.`` and ``-`` kept, runs of anything else one ``_``, no leading dot."""
    cleaned = _UNSAFE_IN_FILE_NAME.sub("_", text.strip()).strip("._")
    return cleaned[:MAX_NAME_PART]


def batch_file_name(account: StatementAccount, period: Period) -> str:
    """``statement-100001-A-305-2026-11.pdf``: the account number and room keep the files
    apart and in print order in a folder listing."""
    parts = [safe_name_part(account.number) or "account"]
    if safe_name_part(account.room):
        parts.append(safe_name_part(account.room))
    first = period.first
    return f"statement-{'-'.join(parts)}-{first.year:04d}-{first.month:02d}.pdf"


def combined_file_name(scope_slug: str, period: Period) -> str:
    """``statements-A-2026-11.pdf`` (``statements-site-...`` for the whole site)."""
    first = period.first
    slug = safe_name_part(scope_slug) or "site"
    return f"statements-{slug}-{first.year:04d}-{first.month:02d}.pdf"


def write_statements(
    db: Database,
    who: SignedIn,
    month: str,
    folder: Path,
    *,
    building: str | None = None,
    floor: int | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> StatementBatch:
    """Write the statements of ``month`` (``YYYY-MM``) for the accounts of ``building`` (code
    or name; the whole site without) and ``floor`` into ``folder`` (made if missing), then
    the combined file, then audit the batch. PermissionDenied unless ``who`` may view reports;
    StatementRefused for a month that cannot be read, no account open in the month, or a
    folder or file that cannot be written (saying how many were written before it);
    ScopeRefused for a building the site does not have. An account whose ledger does not add
    up is in ``refused``, not raised."""
    who.require(Action.VIEW_REPORTS)
    period = parse_month(month)
    chosen = accounts_open_in(db, period, Scope(building=building, floor=floor))
    if not chosen.accounts:
        raise StatementRefused(
            f"no account of {chosen.scope_words} was open in {period.words()}: there is "
            "nothing to write"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StatementRefused(
            f"the folder {folder} could not be made: {exc.strerror or exc}; choose another"
        ) from None
    at = now or datetime.now(UTC)
    written: list[WrittenStatement] = []
    refused: list[RefusedStatement] = []
    total = len(chosen.accounts)
    for done, account in enumerate(chosen.accounts, start=1):
        try:
            statement = account_statement(db, account.number, period, at)
        except StatementRefused as exc:
            refused.append(RefusedStatement(account.number, account.room, str(exc)))
        else:
            path = folder / batch_file_name(account, period)
            try:
                write_bytes_in_place(path, render_statement(statement))
            except OSError as exc:
                raise _stopped(path, exc, written) from None
            written.append(WrittenStatement(account.number, account.room, path))
        if progress is not None:
            progress(done, total, account.room or account.number)
    combined: Path | None = None
    pages: list[int] = []
    if written:
        combined = folder / combined_file_name(chosen.scope_slug, period)
        title = f"Statements, {chosen.scope_words}, {period.words()}"

        def join(temporary: Path) -> None:
            with temporary.open("xb") as out:
                pages.extend(join_pdfs(_parts(written), out, title=title))

        try:
            put_in_place(combined, join)
        except OSError as exc:
            raise _stopped(combined, exc, written) from None
        except PdfJoinError as exc:
            raise StatementRefused(
                f"the combined file could not be made ({exc}); the {len(written)} statement(s) "
                f"were written in {folder}"
            ) from None
    with db.transaction() as session:
        record_audit(
            session,
            who,
            AUDIT_ACTION,
            "statements",
            f"{period.first:%Y-%m} {chosen.scope_slug}",  # "2026-11 A-floor3": 40 at most
            None,
            {
                "month": f"{period.first:%Y-%m}",
                "scope": chosen.scope_words,
                "written": len(written),
                "refused": [item.account_number for item in refused],
                "combined": None if combined is None else combined.name,
            },
        )
    return StatementBatch(
        period=period,
        scope_words=chosen.scope_words,
        folder=folder,
        written=tuple(written),
        refused=tuple(refused),
        combined=combined,
        combined_pages=sum(pages),
        statement_pages=tuple(pages),
    )


def _stopped(path: Path, exc: OSError, written: list[WrittenStatement]) -> StatementRefused:
    """A file that cannot be written (a full disk, a folder taken away) stops the batch; the
    message says what was written before it."""
    return StatementRefused(
        f"{path} could not be written: {exc.strerror or exc}; {len(written)} statement(s) were "
        f"written in {path.parent} before it; free some space or choose another folder and run "
        "the batch again"
    )


def _parts(written: list[WrittenStatement]) -> Iterator[PdfPart]:
    """The written statements read back one at a time, bookmarked by room and account."""
    for item in written:
        title = f"{item.room} {item.account_number}" if item.room else item.account_number
        yield PdfPart(title, item.path.read_bytes())
