"""Revenue: what the counter took and what the site billed, over a period and a scope.

- ``by="day"``: per site-local day, the ledger's movements by kind, read from the daily rollup
  (``ledger_day``): recharges (how many, how much), refunds, corrections, reversals, usage and
  fees billed, the rest (opening balances, allowances, settlements) and the net change of the
  balances. Amounts carry the ledger's sign: credits positive, charges negative, so the net
  change is exactly what the scope's balances moved.
- ``by="method"``, ``by="operator"``: the counter's receipts (recharges, refunds, corrections,
  settlements, opening balances) per payment method or per operator.
- ``by="shift"``: the cash reconciliation of each shift opened in the period: float, cash taken,
  cash paid out, what the drawer should hold, what was counted, the difference (the whole
  counter: a shift is a cashier's, whatever rooms the money was for).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.queries.report_table import Cell, Chart, Column, ColumnKind, ReportTable, counted
from app.queries.reports.period import Period
from app.queries.reports.scope import Scope, account_condition
from app.queries.reports.site_terms import SiteTerms, site_terms
from app.store.database import Database
from app.store.models import Account, LedgerDay, Operator, Receipt, Shift
from app.vocabulary import LedgerKind, PaymentMethod, ReceiptKind

GROUPINGS = ("day", "method", "operator", "shift")

_DAY_KINDS = {
    LedgerKind.REFUND: "refunds",
    LedgerKind.ADJUSTMENT: "corrections",
    LedgerKind.REVERSAL: "reversals",
    LedgerKind.CONSUMPTION: "usage",
    LedgerKind.FEE: "fees",
}


class GroupingRefused(ValueError):
    pass


def revenue_report(
    db: Database, period: Period, scope: Scope, by: str = "day", now: datetime | None = None
) -> ReportTable:
    if by not in GROUPINGS:
        raise GroupingRefused(f"--by {by!r}: give one of {', '.join(GROUPINGS)}")
    build: dict[str, Callable[[Session, SiteTerms, Period, Scope], _Built]] = {
        "day": _by_day,
        "method": _by_method,
        "operator": _by_operator,
        "shift": _by_shift,
    }
    with db.session() as session:
        terms = site_terms(session)
        built = build[by](session, terms, period, scope)
    columns, rows, chart, label = built
    return terms.report(
        "revenue",
        f"Revenue by {by}, {period.words()}",
        scope.heading() if by != "shift" else "The whole counter",
        columns,
        rows,
        label=label,
        chart=chart,
        notes=_notes(by),
        now=now,
    )


_Built = tuple[tuple[Column, ...], list[tuple[Cell, ...]], Chart | None, str]


def _notes(by: str) -> tuple[str, ...]:
    if by == "day":
        return (
            "Amounts as they move balances: credits positive, charges negative. Net change: "
            "every entry of the day, so it equals what the ledger says the balances moved.",
        )
    if by == "shift":
        return ("Expected: the float plus cash taken minus cash paid out.",)
    return ("From the counter's receipts; usage and fees billed are in the report by day.",)


def _by_day(session: Session, terms: SiteTerms, period: Period, scope: Scope) -> _Built:
    query = select(
        LedgerDay.day, LedgerDay.kind, func.sum(LedgerDay.entries), func.sum(LedgerDay.amount_minor)
    ).where(LedgerDay.day >= period.first, LedgerDay.day <= period.last)
    condition = account_condition(session, scope)
    if condition is not None:
        query = query.where(LedgerDay.account_id.in_(select(Account.id).where(condition)))
    cells: dict[object, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for day, kind, entries, amount in session.execute(
        query.group_by(LedgerDay.day, LedgerDay.kind)
    ):
        row = cells[day]
        if kind is LedgerKind.RECHARGE:
            row["recharges"] += int(entries)
            row["recharged"] += int(amount)
        else:
            row[_DAY_KINDS.get(kind, "other")] += int(amount)
        row["net"] += int(amount)
    columns = (
        Column("day", "Day", ColumnKind.DATE),
        Column("recharges", "Recharges", ColumnKind.COUNT, total=True),
        terms.money("recharged", "Recharged", total=True),
        terms.money("refunds", "Refunds", total=True),
        terms.money("corrections", "Corrections", total=True),
        terms.money("reversals", "Reversals", total=True),
        terms.money("usage", "Usage billed", total=True),
        terms.money("fees", "Fees billed", total=True),
        terms.money("other", "Other", total=True),
        terms.money("net", "Net change", total=True),
    )
    keys = [column.key for column in columns[1:]]
    rows: list[tuple[Cell, ...]] = [
        (day, *(cells[day][key] if day in cells else 0 for key in keys)) for day in period.days
    ]
    chart = Chart("bar", "day", ("recharged",), "Recharged per day")
    return columns, rows, chart, "Total"


def _receipts(
    session: Session, terms: SiteTerms, period: Period, scope: Scope, group: object
) -> list[tuple[object, ReceiptKind, int, int]]:
    """(group value, receipt kind, how many, sum) of the receipts issued in the period."""
    start, end = period.bounds(terms.zone)
    query = (
        select(group, Receipt.kind, func.count(), func.sum(Receipt.amount_minor))  # type: ignore[call-overload]
        .where(Receipt.issued_at >= start, Receipt.issued_at < end)
        .group_by(group, Receipt.kind)
    )
    condition = account_condition(session, scope)
    if condition is not None:
        query = query.where(Receipt.account_id.in_(select(Account.id).where(condition)))
    return [(value, kind, int(n), int(total)) for value, kind, n, total in session.execute(query)]


def _receipt_columns(terms: SiteTerms, first: Column) -> tuple[Column, ...]:
    return (
        first,
        Column("recharges", "Recharges", ColumnKind.COUNT, total=True),
        terms.money("recharged", "Recharged", total=True),
        Column("refund_count", "Refunds", ColumnKind.COUNT, total=True),
        terms.money("refunded", "Refunded", total=True),
        terms.money("other", "Corrections and other", total=True),
        terms.money("net", "Net", total=True),
    )


def _receipt_rows(
    found: list[tuple[object, ReceiptKind, int, int]], label: Callable[[object], str]
) -> list[tuple[Cell, ...]]:
    cells: dict[object, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for value, kind, count, total in found:
        row = cells[value]
        if kind is ReceiptKind.RECHARGE:
            row["recharges"] += count
            row["recharged"] += total
        elif kind is ReceiptKind.REFUND:
            row["refund_count"] += count
            row["refunded"] += total
        else:
            row["other"] += total
        row["net"] += total
    keys = ("recharges", "recharged", "refund_count", "refunded", "other", "net")
    rows: list[tuple[Cell, ...]] = [
        (label(value), *(cells[value][k] for k in keys)) for value in cells
    ]
    return sorted(rows, key=lambda row: str(row[0]))


def _by_method(session: Session, terms: SiteTerms, period: Period, scope: Scope) -> _Built:
    found = _receipts(session, terms, period, scope, Receipt.method)
    columns = _receipt_columns(terms, Column("method", "Method"))

    def named(method: object) -> str:
        return PaymentMethod(str(method)).value if method is not None else "none (not money)"

    chart = Chart("bar", "method", ("recharged",), "Recharged per method")
    return columns, _receipt_rows(found, named), chart, "Total"


def _by_operator(session: Session, terms: SiteTerms, period: Period, scope: Scope) -> _Built:
    found = _receipts(session, terms, period, scope, Receipt.operator_id)
    names: dict[object, str] = {}
    for operator_id, name in session.execute(select(Operator.id, Operator.display_name)):
        names[operator_id] = name
    columns = _receipt_columns(terms, Column("operator", "Operator"))

    def named(operator_id: object) -> str:
        return str(names.get(operator_id, "the console")) if operator_id is not None else "—"

    chart = Chart("bar", "operator", ("recharged",), "Recharged per operator")
    return columns, _receipt_rows(found, named), chart, "Total"


def _by_shift(session: Session, terms: SiteTerms, period: Period, _scope: Scope) -> _Built:
    start, end = period.bounds(terms.zone)
    shifts = session.execute(
        select(Shift, Operator.display_name)
        .join(Operator, Operator.id == Shift.operator_id)
        .where(Shift.opened_at >= start, Shift.opened_at < end)
        .order_by(Shift.opened_at, Shift.id)
    ).all()
    cash: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    ids = [shift.id for shift, _name in shifts]
    for begin in range(0, len(ids), 900):
        for shift_id, amount in session.execute(
            select(Receipt.shift_id, Receipt.amount_minor).where(
                Receipt.shift_id.in_(ids[begin : begin + 900]),
                Receipt.method == PaymentMethod.CASH,
            )
        ):
            if shift_id is not None:
                cash[shift_id][0 if amount >= 0 else 1] += abs(amount)
    columns = (
        Column("shift", "Shift", ColumnKind.COUNT),
        Column("cashier", "Cashier"),
        Column("opened", "Opened", ColumnKind.DATETIME),
        Column("closed", "Closed", ColumnKind.DATETIME),
        terms.money("float", "Float", total=True),
        terms.money("cash_in", "Cash taken", total=True),
        terms.money("cash_out", "Cash paid out", total=True),
        terms.money("expected", "Expected", total=True),
        terms.money("counted", "Counted", total=True),
        terms.money("difference", "Difference", total=True),
    )
    rows: list[tuple[Cell, ...]] = []
    for shift, name in shifts:
        taken, paid = cash[shift.id]
        expected = shift.opening_float_minor + taken - paid
        in_drawer = shift.counted_cash_minor
        rows.append(
            (
                shift.id,
                name,
                shift.opened_at,
                shift.closed_at,
                shift.opening_float_minor,
                taken,
                paid,
                expected,
                in_drawer,
                None if in_drawer is None else in_drawer - expected,
            )
        )
    return columns, rows, None, counted(len(rows), "shift")
