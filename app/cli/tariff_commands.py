"""Tariff files on the command line: ``tariff check`` and ``tariff quote``. No database.

``tariff check FILE`` prints ``FILE: ok — NAME, KINDS`` or every mistake of the file (one
``error:`` line each, on stderr). ``tariff quote --tariff FILE --usage CSV`` prices usage rows
``start,end,quantity`` (ISO site-local times, header line optional); ``--tariff`` may be
repeated to give dated versions of one tariff, each pricing the usage from its
``effective_from``.

Quote lines come in a fixed order: by version (oldest first), then energy, allowance, fee lines;
within a kind by TOU period in the order of the tariff's ``periods`` table (no period first),
then by tier number; fee lines in the order of the file's ``[[fees]]``. ``--json`` prints one
object ``{"currency", "total", "lines": [{"kind", "period", "tier", "quantity", "unit_price",
"amount"}]}`` with every decimal as a string.

Exit codes: 0 done; 1 the tariff file has mistakes or usage rows are bad (every one reported,
rows with their line number); 2 bad usage of the command or a file that cannot be read.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from datetime import datetime, timedelta

from app.billing.money import MoneyError, parse_decimal
from app.billing.rating import Quote, UsageError, UsageRow, check_row, decimal_text, quote_versions
from app.billing.tariff import Tariff, TariffFileError, parse_tariff
from app.billing.tariff.schedule import ScheduleError, TariffSchedule
from app.cli.context import fail, report_problems, unreadable_reason
from app.input_limits import (
    MAX_INTEGER_DIGITS,
    MAX_QUOTE_DAYS,
    date_in_range,
    date_range_text,
    decimal_digits,
    read_limited_text,
)
from app.vocabulary import ExitCode

HEADER = ("start", "end", "quantity")


def cmd_check(args: argparse.Namespace) -> int:
    try:  # read as 'tariff import' reads it: a file that checks ok imports
        text = read_limited_text(args.file)
    except (OSError, UnicodeDecodeError) as exc:
        return fail(f"cannot read {args.file}: {unreadable_reason(exc)}.", ExitCode.USAGE)
    try:
        tariff = parse_tariff(text, args.file)
    except TariffFileError as exc:
        return report_problems(exc.problems)
    print(f"{args.file}: ok — {tariff.name}, {', '.join(tariff.kinds)}")
    return 0


def cmd_quote(args: argparse.Namespace) -> int:
    try:
        cycle_used = parse_decimal(args.cycle_used, "--cycle-used quantity")
    except MoneyError as exc:
        return fail(f"--cycle-used: {exc}", ExitCode.USAGE)
    if cycle_used < 0:
        return fail(f"--cycle-used: {args.cycle_used} is negative; give 0 or more.", 2)
    if decimal_digits(args.cycle_used.replace(",", ""))[1] > MAX_INTEGER_DIGITS:
        return fail(
            f"--cycle-used: more than {MAX_INTEGER_DIGITS} digits before the point; give the "
            "units used so far in the cycle.",
            ExitCode.USAGE,
        )
    tariffs: list[Tariff] = []
    mistakes: list[str] = []
    for path in args.tariff:
        try:
            tariffs.append(parse_tariff(read_limited_text(path), path))
        except (OSError, UnicodeDecodeError) as exc:
            return fail(f"cannot read {path}: {unreadable_reason(exc)}.", ExitCode.USAGE)
        except TariffFileError as exc:
            mistakes.extend(exc.problems)
    try:  # a CSV saved with bare CR line ends reads as lines, as in text mode
        usage_text = read_limited_text(args.usage).replace("\r\n", "\n").replace("\r", "\n")
    except (OSError, UnicodeDecodeError) as exc:
        return fail(f"cannot read {args.usage}: {unreadable_reason(exc)}.", ExitCode.USAGE)
    rows, line_numbers, bad_rows = _usage_rows(usage_text, args.usage)
    if rows and not bad_rows:
        bad_rows.extend(_span_problem(rows, args.usage))
    if mistakes or bad_rows:
        return report_problems(mistakes + bad_rows)
    try:
        schedule = TariffSchedule(tariffs, before_first=len(tariffs) == 1)
    except ScheduleError as exc:
        return report_problems([exc])
    try:
        result = quote_versions(schedule, rows, cycle_used)
    except UsageError as exc:
        where = f"{args.usage} line {line_numbers[exc.row]}: " if exc.row is not None else ""
        return report_problems([f"{where}{exc}"])
    if args.json:
        print(json.dumps(_as_json(result), ensure_ascii=False))
    else:
        print(_as_table(result, tariffs[0].unit))
    return 0


def _usage_rows(text: str, source: str) -> tuple[list[UsageRow], list[int], list[str]]:
    """Rows of a usage CSV, their line numbers, and one message per bad row."""
    rows: list[UsageRow] = []
    numbers: list[int] = []
    bad: list[str] = []
    for number, fields in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [cell.strip() for cell in fields]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if not rows and not bad and tuple(cell.lower() for cell in cells) == HEADER:
            continue
        try:
            rows.append(_usage_row(cells))
            numbers.append(number)
        except ValueError as exc:
            bad.append(f"{source} line {number}: {exc}")
    return rows, numbers, bad


def _span_problem(rows: list[UsageRow], source: str) -> list[str]:
    """One message when the usage spans more than ``MAX_QUOTE_DAYS`` (a quote walks it day by
    day: the years 0001 to 9999 would take hours)."""
    start = min(row.start for row in rows)
    end = max(row.end for row in rows)
    if end - start <= timedelta(days=MAX_QUOTE_DAYS):
        return []
    return [
        f"{source}: the rows span {start.date().isoformat()} to {end.date().isoformat()}, "
        f"more than the {MAX_QUOTE_DAYS} days one quote covers; quote a shorter period."
    ]


def _usage_row(cells: list[str]) -> UsageRow:
    if len(cells) != 3:
        raise ValueError(f"expected 3 fields start,end,quantity, got {len(cells)}.")
    times: list[datetime] = []
    for name, cell in zip(("start", "end"), cells[:2], strict=True):
        try:
            moment = datetime.fromisoformat(cell)
        except ValueError:
            raise ValueError(
                f"{name} {cell!r} is not a date-time; write it like 2026-09-01T08:00."
            ) from None
        if moment.tzinfo is not None:
            raise ValueError(f"{name} {cell!r} has a time zone; give site-local times without it.")
        if not date_in_range(moment):
            raise ValueError(f"{name} {cell!r} is out of range; give a time {date_range_text()}.")
        times.append(moment)
    try:
        quantity = parse_decimal(cells[2], "quantity")
    except MoneyError as exc:
        raise ValueError(f"quantity: {exc}") from None
    if decimal_digits(cells[2].replace(",", ""))[1] > MAX_INTEGER_DIGITS:
        raise ValueError(
            f"quantity {cells[2]!r} has more than {MAX_INTEGER_DIGITS} digits before the point; "
            "give the units used in this row."
        )
    return check_row((times[0], times[1], quantity))


def _as_json(result: Quote) -> dict[str, object]:
    return {
        "currency": result.currency,
        "total": str(result.total),
        "lines": [
            {
                "kind": line.kind,
                "period": line.period,
                "tier": line.tier,
                "quantity": decimal_text(line.quantity),
                "unit_price": format(line.unit_price, "f"),
                "amount": str(line.amount),
            }
            for line in result.lines
        ],
    }


def _as_table(result: Quote, unit: str) -> str:
    header = ("kind", "period", "tier", f"quantity ({unit})", "unit price", "amount", "")
    rows: list[tuple[str, ...]] = [
        (
            line.kind,
            line.period or "-",
            str(line.tier) if line.tier is not None else "-",
            decimal_text(line.quantity),
            format(line.unit_price, "f"),
            str(line.amount),
            line.name or "",
        )
        for line in result.lines
    ]
    rows.append(("total", "", "", "", "", str(result.total), result.currency))
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    right = {2, 3, 4, 5}

    def render(row: tuple[str, ...]) -> str:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        return "  ".join(cells).rstrip()

    window = ""
    if result.start is not None and result.end is not None:
        window = f"Usage {result.start.isoformat(' ')} to {result.end.isoformat(' ')}\n"
    return window + "\n".join(render(row) for row in [header, *rows])
