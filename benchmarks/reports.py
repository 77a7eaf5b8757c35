"""The money reports of a year on a large site, against a 2 s bound each.

A demo site of 2,000 accounts (2 buildings x 10 floors x 100 rooms) is seeded into a temporary
SQLite file (WAL, as the application opens it). Then a year of money is written the way the
application leaves it, in bulk: 100,000 recharges (ledger entries, their receipts in shifts of
four cashiers by four payment methods) and the year's hourly usage postings as the daily rollup
holds them (one consumption row per account and day: 730,000 rows; the entries themselves are
not needed by these reports). Each report is then made as an office clerk asks for it, for the
whole year of the whole site and of one building: revenue by day, by method, by operator, by
shift, and the arrears at the year's end.

Prints each report's time with its ratio to the 2 s bound and its rows; exits 1 only if a
report's totals disagree with what was written (slowness is reported, never a failure).
"""

from __future__ import annotations

import random
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select

from app.demo.site import DEMO_PASSWORD, DemoSpec, seed_demo_site
from app.queries.report_table import ReportTable
from app.queries.reports.period import Period
from app.queries.reports.scope import Scope
from app.services.operators import login
from app.services.reports import run_report
from app.store.database import Database
from app.store.migrate import upgrade
from app.store.models import Account, LedgerDay, LedgerEntry, Operator, Receipt, Shift
from app.vocabulary import LedgerKind, PaymentMethod, ReceiptKind
from benchmarks.support.timing import timed

BOUND_S = 2.0
SPEC = DemoSpec(buildings=2, floors=10, rooms_per_floor=100)
RECHARGES = 100_000
YEAR = Period(date(2025, 1, 1), date(2025, 12, 31))


def seed_year(db: Database) -> tuple[int, int]:
    """A year of recharges and usage; returns (recharged, usage billed) in minor units."""
    rng = random.Random(2025)
    zone = ZoneInfo("Asia/Shanghai")
    with db.transaction() as session:
        accounts = list(session.scalars(select(Account.id).order_by(Account.id)))
        cashiers = list(session.scalars(select(Operator.id).order_by(Operator.id)))[:4]
        shifts = []
        for day in YEAR.days:
            for cashier in cashiers:
                opened = datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)
                shifts.append(
                    {
                        "operator_id": cashier,
                        "opened_at": opened + timedelta(hours=8),
                        "closed_at": opened + timedelta(hours=17),
                        "opening_float_minor": 20_000,
                        "counted_cash_minor": 20_000,
                    }
                )
        session.execute(insert(Shift), shifts)
        shift_ids = list(session.scalars(select(Shift.id).order_by(Shift.id)))
        methods = list(PaymentMethod)
        paying = accounts[: len(accounts) * 9 // 10]  # one in ten never pays: arrears
        start = datetime.combine(YEAR.first, datetime.min.time(), zone).astimezone(UTC)
        entries, recharged = [], 0
        for n in range(RECHARGES):
            amount = rng.choice((2000, 5000, 10000, 20000))
            recharged += amount
            day_index = n * 365 // RECHARGES
            entries.append(
                {
                    "account_id": rng.choice(paying),
                    "kind": LedgerKind.RECHARGE,
                    "amount_minor": amount,
                    "balance_after_minor": amount,
                    "created_at": start + timedelta(days=day_index, hours=9, seconds=n % 28_000),
                    "reason": "",
                    "reference": "",
                    "idempotency_key": f"bench-{n}",
                    "operator_id": cashiers[n % 4],
                }
            )
        session.execute(insert(LedgerEntry), entries)
        ids = list(session.scalars(select(LedgerEntry.id).where(LedgerEntry.kind == "recharge")))
        by_id = dict(zip(ids[-RECHARGES:], entries, strict=True))
        receipts = [
            {
                "number": 10_000 + n,
                "kind": ReceiptKind.RECHARGE,
                "account_id": e["account_id"],
                "ledger_entry_id": entry_id,
                "issued_at": e["created_at"],
                "operator_id": e["operator_id"],
                "shift_id": shift_ids[(n * 365 // RECHARGES) * 4 + n % 4],
                "method": methods[n % len(methods)],
                "amount_minor": e["amount_minor"],
                "balance_before_minor": 0,
                "balance_after_minor": e["amount_minor"],
            }
            for n, (entry_id, e) in enumerate(by_id.items())
        ]
        session.execute(insert(Receipt), receipts)
        days: dict[tuple[date, int], list[int]] = {}
        for e in entries:
            key = (e["created_at"].astimezone(zone).date(), e["account_id"])  # type: ignore[attr-defined]
            cell = days.setdefault(key, [0, 0])
            cell[0] += 1
            cell[1] += int(e["amount_minor"])  # type: ignore[call-overload]
        rollup = [
            {
                "day": d,
                "account_id": a,
                "kind": LedgerKind.RECHARGE,
                "entries": n,
                "amount_minor": s,
            }
            for (d, a), (n, s) in days.items()
        ]
        usage = 0
        for day in YEAR.days:
            for account in accounts:
                spent = -rng.randint(50, 900)
                usage += spent
                rollup.append(
                    {
                        "day": day,
                        "account_id": account,
                        "kind": LedgerKind.CONSUMPTION,
                        "entries": 24,
                        "amount_minor": spent,
                    }
                )
        for begin in range(0, len(rollup), 50_000):
            session.execute(insert(LedgerDay), rollup[begin : begin + 50_000])
    return recharged, usage


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{folder}/bench.sqlite3")
        db.enable_wal()
        upgrade(db)
        seconds, _ = timed(lambda: seed_demo_site(db, SPEC))
        rooms = SPEC.buildings * SPEC.floors * SPEC.rooms_per_floor
        print(f"seeded {rooms:,} rooms in {seconds:.1f} s")
        seconds, (recharged, usage) = timed(lambda: seed_year(db))
        print(
            f"wrote a year: {RECHARGES:,} recharges with receipts, 730,000 daily usage rows "
            f"in {seconds:.1f} s (not measured)"
        )
        office = login(db, "office", DEMO_PASSWORD)
        wrong = 0
        worst = 0.0
        cases: list[tuple[str, str, Scope, str | None]] = [
            ("revenue by day, site", "revenue", Scope(), "day"),
            ("revenue by day, building A", "revenue", Scope(building="A"), "day"),
            ("revenue by method, site", "revenue", Scope(), "method"),
            ("revenue by operator, site", "revenue", Scope(), "operator"),
            ("revenue by shift, site", "revenue", Scope(), "shift"),
            ("arrears at the year's end, site", "arrears", Scope(), None),
        ]
        for label, name, scope, by in cases:
            seconds, table = timed(
                lambda name=name, scope=scope, by=by: run_report(  # type: ignore[misc]
                    db, office, name, YEAR, scope, by
                )
            )
            worst = max(worst, seconds)
            print(
                f"{label}: {seconds:.2f} s, ratio {seconds / BOUND_S:.2f} to the {BOUND_S:.0f} s "
                f"bound, {len(table.rows):,} rows"
            )
            if label == "revenue by day, site":
                wrong += check(table, "recharged", recharged) + check(table, "usage", usage)
            if label in ("revenue by method, site", "revenue by operator, site"):
                wrong += check(table, "recharged", recharged)
        print(f"worst {worst:.2f} s, ratio {worst / BOUND_S:.2f} to the {BOUND_S:.0f} s bound")
        db.dispose()
    return 1 if wrong else 0


def check(table: ReportTable, key: str, want: int) -> int:
    assert table.totals is not None
    got = table.totals[table.column(key)]
    if got != want:
        print(f"WRONG: {table.title} {key} totals {got}, written {want}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
