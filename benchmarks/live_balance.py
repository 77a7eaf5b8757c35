"""A recharge on one PC to the new balance shown on another, p95 against 1 s (issue 16).

PostgreSQL only: it is the engine several PCs share (on SQLite one PC runs everything and the
change feed is in process). The demo site (240 accounts) is seeded into a scratch database made
through the admin URL in ``METERDESK_TEST_PG_URL`` and dropped at the end, or into ``--db URL``
(an EMPTY database; it keeps the site). Without either there is nothing to measure: a message
says so and the exit status is 0.

Two ``Database`` handles stand for two PCs: the cashier's PC A, with its own data folder (the
audit key), and the supervisor's PC B. B runs a ``ChangeListener`` (its own LISTEN connection)
and shows one account, as the Counter and Accounts screens do: for every batch that names that
account's balance it reads the account again with the screen's query
(``app.queries.accounts.get_account_detail``). A takes ``--recharges`` recharges (default 100)
of 10.00 through the real recharge service, one account after another. Each is timed from just
before the service call on A until B's listener has delivered the balance change AND B has read
the new balance (the one the recharge committed).

Prints p50, p95 and the worst of those times with the p95's ratio to the 1 s bound, and the
median of the recharge transaction alone; ends with ``ledger verify``. Exit status 1 when the
p95 is above the bound, a new balance never reaches B, or the ledger does not verify; 2 when
the database cannot be used.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from app.demo.site import DEMO_PASSWORD, DemoSpec, seed_demo_site
from app.queries.accounts import get_account_detail
from app.services.ledger_verify import verify_ledger
from app.services.operators import login
from app.services.recharge import new_key, recharge
from app.store.change_feed import ChangeKind, ChangeListener, Changes
from app.store.database import Database
from app.store.errors import StoreError, check_database_url
from app.store.migrate import schema_state, upgrade
from app.store.models import Account
from app.vocabulary import PaymentMethod
from benchmarks.support.scratch_db import ADMIN_URL_ENV, Unusable, scratch_postgres

BOUND_S = 1.0
RECHARGES = 100
AMOUNT = "10.00"
LISTEN_S = 10.0  # B's LISTEN must be in place by then
SHOWN_WITHIN_S = 10.0  # a balance not on B by then is reported as never shown


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Recharge on PC A to the new balance read on PC B through the change feed "
        f"(PostgreSQL: a scratch database through {ADMIN_URL_ENV}, or --db)."
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        help="seed the demo site into this EMPTY PostgreSQL database instead, e.g. "
        "postgresql+psycopg://user:password@host/bench (it keeps the site)",
    )
    parser.add_argument(
        "--recharges",
        type=int,
        default=RECHARGES,
        help=f"recharges to time (default {RECHARGES})",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.recharges <= 10_000:
        parser.error(f"--recharges must be 1 to 10000, not {args.recharges}")
    return args


def open_empty(url: str, key_dir: Path) -> Database:
    """PC A's handle on ``url``, migrated, if it is an empty PostgreSQL database."""
    try:
        check_database_url(url)
        if make_url(url).get_backend_name() != "postgresql":
            raise Unusable(
                "--db must name a PostgreSQL database: on SQLite one PC runs everything and "
                "there is no second PC to show the balance on."
            )
        db = Database(url, key_dir=key_dir)
        db.check_readable()
        if not schema_state(db).is_empty:
            db.dispose()
            raise Unusable(
                f"{db.display_name} already holds a MeterDesk schema; the benchmark seeds the "
                "demo site into an EMPTY database: create a new one (createdb NAME), or leave "
                f"--db out to use a scratch database through {ADMIN_URL_ENV}."
            )
        upgrade(db)
    except StoreError as exc:
        raise Unusable(str(exc)) from None
    return db


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Screen:
    """PC B's screen showing one account: re-reads it when a batch names its balance, on the
    listener's thread, and keeps every balance it read with the moment it had read it."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._changed = threading.Condition()
        self._account_id: int | None = None
        self._seen: list[tuple[float, int]] = []  # (perf_counter when read, balance_minor)
        self.failures: list[str] = []

    def show(self, account_id: int) -> None:
        with self._changed:
            self._account_id = account_id
            self._seen = []

    def on_changes(self, changes: Changes) -> None:  # the change listener's thread
        account_id = self._account_id
        if account_id is None:
            return
        ids = changes.ids_of(ChangeKind.BALANCE)
        if ids is not None and account_id not in ids:
            return
        try:
            detail = get_account_detail(self.db, account_id)
        except Exception as exc:  # reported by the main thread, not lost in the listener's log
            self.failures.append(f"B could not read account {account_id}: {exc}")
            return
        read_at = time.perf_counter()
        if detail is None:
            self.failures.append(f"B found no account {account_id}")
            return
        with self._changed:
            if account_id == self._account_id:
                self._seen.append((read_at, detail.row.balance_minor))
                self._changed.notify_all()

    def wait_shown(self, balance_minor: int, timeout_s: float) -> float | None:
        """The moment B had read ``balance_minor`` for the account shown, or None."""

        def found() -> float | None:
            return next((at for at, seen in self._seen if seen == balance_minor), None)

        with self._changed:
            self._changed.wait_for(lambda: found() is not None, timeout_s)
            return found()


def run(url: str, folder: Path, rounds: int) -> int:
    db_a = open_empty(url, key_dir=folder / "pc-a")  # the cashier's PC: it holds the audit key
    db_b = Database(url, key_dir=folder / "pc-b")  # the supervisor's PC: reads only
    screen = Screen(db_b)
    listener = ChangeListener(db_b, screen.on_changes)
    try:
        with db_a.engine.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar()
        print(f"PostgreSQL {version} at {db_a.display_name}")
        summary = seed_demo_site(db_a, DemoSpec())
        cashier = login(db_a, "cashier", DEMO_PASSWORD)
        with db_a.session() as session:
            accounts = list(
                session.execute(select(Account.id, Account.number).order_by(Account.id))
            )
        listener.start()
        if not listener.wait_listening(LISTEN_S):
            print(f"FAILED: PC B's change listener was not listening after {LISTEN_S:.0f} s")
            return 1
        print(
            f"demo site: {summary.accounts} accounts; PC A recharges {AMOUNT} {rounds} times "
            "(one account after another), PC B listens and reads the account shown"
        )
        latencies: list[float] = []
        transactions: list[float] = []
        for n in range(rounds + 1):  # the first warms up (statements compiled): not measured
            account_id, number = accounts[n % len(accounts)]
            screen.show(account_id)
            start = time.perf_counter()
            done = recharge(db_a, cashier, number, AMOUNT, PaymentMethod.CASH, new_key())
            committed = time.perf_counter()
            shown = screen.wait_shown(done.balance_after_minor, SHOWN_WITHIN_S)
            if screen.failures:
                print(f"FAILED: {screen.failures[0]}")
                return 1
            if shown is None:
                print(
                    f"FAILED: the balance {done.balance_after_minor} of account {number} was not "
                    f"read on PC B within {SHOWN_WITHIN_S:.0f} s of the recharge"
                )
                return 1
            if n:
                latencies.append(shown - start)
                transactions.append(committed - start)
        report = verify_ledger(db_a)
    finally:
        listener.stop()
        db_b.dispose()
        db_a.dispose()
    p50, p95, worst = statistics.median(latencies), percentile(latencies, 0.95), max(latencies)
    print(
        f"recharge on A to the new balance read on B: p50 {p50 * 1000:.1f} ms, "
        f"p95 {p95 * 1000:.1f} ms, max {worst * 1000:.1f} ms over {len(latencies)} recharges; "
        f"ratio of the p95 to the {BOUND_S:.0f} s bound {p95 / BOUND_S:.3f}"
    )
    print(
        f"of which the recharge transaction on A: median "
        f"{statistics.median(transactions) * 1000:.1f} ms"
    )
    print(
        f"ledger verify: {'ok' if report.ok else report.problems[:5]}, {report.receipts} receipts"
    )
    return 0 if report.ok and p95 <= BOUND_S else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        with ExitStack() as stack:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            if args.db:
                url = args.db
            else:
                admin_url = os.environ.get(ADMIN_URL_ENV)
                if not admin_url:
                    print(
                        f"skipped: no PostgreSQL to measure on. Set {ADMIN_URL_ENV} to an admin "
                        "URL (e.g. postgresql+psycopg://postgres:PASSWORD@127.0.0.1:5432/postgres) "
                        "for a scratch database, or give --db URL of an empty one."
                    )
                    return 0
                url = stack.enter_context(scratch_postgres(admin_url))
            return run(url, folder, args.recharges)
    except Unusable as exc:
        print(f"cannot run: {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
