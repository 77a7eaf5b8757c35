"""Notices: the text messages to tenants written in a period, and where each stands.

``by="notice"`` (default) lists every message: when it was written, the account and its room,
the phone, what it told, its state (queued, sending, sent, failed, dropped), attempts, when it
went and the modem's last answer or why it was given up. ``by="kind"`` counts them per kind and
state: how many low-balance warnings went out, how many failed. The office answers "I was
never told" from here, and sees a modem that stopped texting."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select

from app.queries.report_table import Cell, Chart, Column, ColumnKind, ReportTable, counted
from app.queries.reports.period import Period
from app.queries.reports.scope import Scope, account_condition
from app.queries.reports.site_terms import site_terms
from app.store.database import Database
from app.store.models import Account, Notice, Room
from app.vocabulary import NoticeKind, NoticeState

GROUPINGS = ("notice", "kind")
KIND_WORDS = {
    NoticeKind.LOW_BALANCE_1: "low balance 1",
    NoticeKind.LOW_BALANCE_2: "low balance 2",
    NoticeKind.CUT_OFF: "cut off",
    NoticeKind.RECHARGE: "recharge received",
    NoticeKind.RESTORED: "supply restored",
    NoticeKind.LOAD_TRIP: "load-guard trip",
}


def notices_report(
    db: Database, period: Period, scope: Scope, by: str = "notice", now: datetime | None = None
) -> ReportTable:
    with db.session() as session:
        terms = site_terms(session)
        start, end = period.bounds(terms.zone)
        query = (
            select(Notice, Account.number, Room.label)
            .join(Account, Account.id == Notice.account_id)
            .outerjoin(Room, Room.id == Account.room_id)
            .where(Notice.created_at >= start, Notice.created_at < end)
            .order_by(Notice.created_at, Notice.id)
        )
        accounts = account_condition(session, scope)
        if accounts is not None:
            query = query.where(accounts)
        found = [(notice, number, room or "") for notice, number, room in session.execute(query)]
    rows: list[tuple[Cell, ...]]
    if by == "kind":
        columns, rows, chart = _by_kind([notice for notice, _, _ in found])
        label = "Total"
    else:
        columns = (
            Column("written", "Written", ColumnKind.DATETIME),
            Column("account", "Account"),
            Column("room", "Room"),
            Column("phone", "Phone"),
            Column("kind", "Notice"),
            Column("state", "State"),
            Column("attempts", "Attempts", ColumnKind.COUNT),
            Column("sent", "Sent", ColumnKind.DATETIME),
            Column("note", "Modem's answer / why not"),
        )
        rows = [
            (
                notice.created_at,
                number,
                room,
                notice.phone,
                KIND_WORDS[NoticeKind(notice.kind)],
                NoticeState(notice.state).value,
                notice.attempts,
                notice.sent_at,
                notice.error,
            )
            for notice, number, room in found
        ]
        chart = None
        label = counted(len(rows), "notice")
    waiting = sum(1 for notice, _, _ in found if notice.state is NoticeState.QUEUED)
    return terms.report(
        "notices",
        f"Notices to tenants by {by}, {period.words()}",
        scope.heading(),
        columns,
        rows,
        label=label,
        chart=chart,
        notes=(
            f"{waiting} notice(s) still waiting for their time (quiet hours, a retry) or for "
            "the modem.",
        ),
        now=now,
    )


def _by_kind(
    notices: list[Notice],
) -> tuple[tuple[Column, ...], list[tuple[Cell, ...]], Chart]:
    states = (NoticeState.SENT, NoticeState.QUEUED, NoticeState.FAILED, NoticeState.DROPPED)
    counts: dict[NoticeKind, dict[NoticeState, int]] = defaultdict(lambda: defaultdict(int))
    for notice in notices:
        state = NoticeState(notice.state)
        counts[NoticeKind(notice.kind)][
            NoticeState.QUEUED if state is NoticeState.SENDING else state
        ] += 1
    columns = (
        Column("kind", "Notice"),
        *(
            Column(state.value, state.value.capitalize(), ColumnKind.COUNT, total=True)
            for state in states
        ),
    )
    rows: list[tuple[Cell, ...]] = [
        (KIND_WORDS[kind], *(counts[kind][state] for state in states))
        for kind in NoticeKind
        if kind in counts
    ]
    return columns, rows, Chart("bar", "kind", ("sent", "failed"), "Notices per kind")
