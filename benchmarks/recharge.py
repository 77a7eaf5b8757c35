"""How long a cashier waits for a recharge: from Enter to the committed recharge with its receipt
PDF saved, on the demo site in a temporary SQLite file (WAL).

Measured per recharge, 200 times: the transaction alone (lock, key lookup, entry, receipt,
audit event, commit) and the whole counter path (the transaction, then the receipt PDF rendered
and written). Bounds: p95 of the whole path under 250 ms (a person notices a pause of a quarter
second at the counter), p95 of the transaction under 50 ms. Ends with ``ledger verify``; exits
non-zero when a bound is missed or the ledger does not verify.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.demo.site import DEMO_PASSWORD, DemoSpec, seed_demo_site
from app.services.ledger_verify import verify_ledger
from app.services.operators import login
from app.services.recharge import new_key, recharge, recharge_with_receipt
from app.store.database import Database, sqlite_url_for
from app.store.migrate import upgrade
from app.store.models import Account
from app.vocabulary import PaymentMethod

ROUNDS = 200
BOUND_TOTAL_MS = 250.0
BOUND_TRANSACTION_MS = 50.0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = Database(sqlite_url_for(folder))
        upgrade(db)
        seed_demo_site(db, DemoSpec(buildings=2, floors=6, rooms_per_floor=20))
        cashier = login(db, "cashier", DEMO_PASSWORD)
        with db.session() as session:
            numbers = list(session.scalars(select(Account.number).order_by(Account.id)))
        recharge_with_receipt(  # warm up: fonts registered, statements compiled
            db, cashier, folder, numbers[0], "1", PaymentMethod.CASH, new_key()
        )
        transaction_ms: list[float] = []
        total_ms: list[float] = []
        for i in range(ROUNDS):
            number = numbers[i % len(numbers)]
            start = time.perf_counter()
            recharge(db, cashier, number, "10.00", PaymentMethod.CASH, new_key())
            transaction_ms.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            recharge_with_receipt(
                db, cashier, folder, number, "20.00", PaymentMethod.CARD, new_key()
            )
            total_ms.append((time.perf_counter() - start) * 1000)
        report = verify_ledger(db)
        db.dispose()
    p95_tx, p95_total = percentile(transaction_ms, 0.95), percentile(total_ms, 0.95)
    print(
        f"transaction: median {statistics.median(transaction_ms):.1f} ms, p95 {p95_tx:.1f} ms "
        f"(bound {BOUND_TRANSACTION_MS:.0f} ms, ratio {p95_tx / BOUND_TRANSACTION_MS:.2f})"
    )
    print(
        f"with receipt PDF: median {statistics.median(total_ms):.1f} ms, p95 {p95_total:.1f} ms "
        f"(bound {BOUND_TOTAL_MS:.0f} ms, ratio {p95_total / BOUND_TOTAL_MS:.2f})"
    )
    print(f"ledger verify: {'ok' if report.ok else report.problems}, {report.receipts} receipts")
    ok = report.ok and p95_tx <= BOUND_TRANSACTION_MS and p95_total <= BOUND_TOTAL_MS
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
