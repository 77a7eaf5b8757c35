"""``main.py report NAME``: a report as a table on the terminal, JSON, or a CSV, Excel or PDF
file. Exit codes: 0 done; 1 refused (an unknown building, a bad period...); 2 bad usage; 4 not
signed in or not allowed; 8 no database."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.cli.auth import DENIED, signed_in
from app.cli.context import fail, run_on_database
from app.documents.atomic_files import put_in_place
from app.documents.report_cells import display_width, format_cell, plain_cell
from app.documents.report_export import export
from app.queries.report_table import ReportTable
from app.queries.reports.period import Period
from app.queries.reports.scope import Scope
from app.services.report_terms import chosen_term
from app.services.reports import run_report
from app.store.database import Database
from app.store.errors import StoreError
from app.store.migrate import require_current
from app.vocabulary import ExitCode


def cmd_report(args: argparse.Namespace) -> int:
    if args.format in ("xlsx", "pdf") and not args.output:
        return fail(f"a {args.format} report is a file: give --output FILE", ExitCode.USAGE)
    if args.term is not None and (args.first is not None or args.last is not None):
        return fail("give --term or --from and --to, not both", ExitCode.USAGE)
    if args.term is None and (args.first is None or args.last is None):
        return fail("give the period: --from DATE --to DATE, or --term NAME", ExitCode.USAGE)
    scope = Scope(args.building, args.floor, args.room, args.account, args.meter)

    def work(db: Database) -> ReportTable:
        require_current(db)
        who = signed_in(db, args.user, None)
        if args.term is not None:
            period = chosen_term(db, args.term).period
        else:
            period = Period.parse(args.first, args.last)
        return run_report(db, who, args.name, period, scope, args.by)

    try:
        _, table = run_on_database(args, work)
    except StoreError as exc:
        return fail(str(exc), exc.exit_code)
    except DENIED as exc:
        return fail(str(exc), ExitCode.DENIED)
    except ValueError as exc:  # a period, scope or grouping that names nothing
        return fail(f"{exc}.", ExitCode.REFUSED)
    if args.format == "text":
        return _write(args.output, _text(table).encode())
    if args.format == "json":
        return _write(args.output, (json.dumps(_json(table), ensure_ascii=False) + "\n").encode())
    return _write(args.output, export(table, args.format))


def _write(output: str | None, data: bytes) -> int:
    if not output:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return ExitCode.OK
    path = Path(output).expanduser()

    def write(temporary: Path) -> None:
        temporary.write_bytes(data)

    try:
        put_in_place(path, write)
    except OSError as exc:
        return fail(f"{path} could not be written: {exc.strerror or exc}", ExitCode.REFUSED)
    print(f"Report written to {path}", file=sys.stderr)
    return ExitCode.OK


def _text(table: ReportTable) -> str:
    """The table aligned for a terminal (numbers right), with its title and totals."""
    heads = [c.title + (f" ({c.unit})" if c.unit else "") for c in table.columns]
    body = [
        [format_cell(c, v, table.zone) for c, v in zip(table.columns, row, strict=True)]
        for row in table.rows
    ]
    if table.totals is not None:
        body.append(
            [
                format_cell(c, v, table.zone)
                for c, v in zip(table.columns, table.totals, strict=True)
            ]
        )
    widths = [
        max([display_width(h)] + [display_width(r[i]) for r in body]) for i, h in enumerate(heads)
    ]
    numeric = [c.kind.value not in ("text", "date", "datetime") for c in table.columns]

    def line(cells: list[str]) -> str:
        parts = []
        for text, width, right in zip(cells, widths, numeric, strict=True):
            pad = " " * (width - display_width(text))
            parts.append(pad + text if right else text + pad)
        return "  ".join(parts).rstrip()

    out = [table.title, table.subtitle, "", line(heads), line(["-" * w for w in widths])]
    rows = body[:-1] if table.totals is not None else body
    out += [line(r) for r in rows]
    if table.totals is not None:
        out += [line(["-" * w for w in widths]), line(body[-1])]
    out += ["", *table.notes]
    return "\n".join(out) + "\n"


def _json(table: ReportTable) -> dict[str, object]:
    def cells(row: tuple[object, ...]) -> dict[str, str]:
        return {
            c.key: plain_cell(c, v, table.zone)  # type: ignore[arg-type]
            for c, v in zip(table.columns, row, strict=True)
        }

    return {
        "report": table.name,
        "title": table.title,
        "subtitle": table.subtitle,
        "site": table.site,
        "zone": table.zone,
        "generated_at": table.generated_at.isoformat(timespec="seconds"),
        "columns": [
            {"key": c.key, "title": c.title, "kind": c.kind.value, "unit": c.unit}
            for c in table.columns
        ],
        "rows": [cells(row) for row in table.rows],
        "totals": None if table.totals is None else cells(table.totals),
        "notes": list(table.notes),
    }
