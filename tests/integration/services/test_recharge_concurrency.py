"""Several processes recharging the same and different accounts at once, on SQLite and on
PostgreSQL: every balance equals its start plus the recharges committed to it, receipt numbers
run 1..N with no gap and no duplicate, and a key tried by every process credits once.

Each worker (``recharge_worker``, a process of its own) signs in, waits at a shared start line,
then calls the recharge service in a loop; half its recharges go to one account every worker
shares, the rest spread over the others.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

import pytest

from app.demo.site import DemoSpec, seed_demo_site
from app.services.ledger_verify import verify_ledger
from app.store.database import Database
from tests.integration.services.recharge_worker import (
    Planned,
    Report,
    balances,
    pool,
    recharge_entries,
)

WORKERS = 4
PER_WORKER = 30
# A random pause up to 10 ms before each recharge, as between presses at several counters.
# Without it SQLite's busy handler (sleep and retry) lets the process that just committed take
# the write lock again at once, and the workers run one after the other in blocks.
PAUSE_MS = 10.0
FINISH_S = 120.0  # a bound for a hang or a deadlock; a healthy storm takes a few seconds


@pytest.fixture
def site(db: Database) -> Database:
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=4))
    return db


def url_of(db: Database) -> str:
    return db.url.render_as_string(hide_password=False)


def amount(rng: random.Random) -> str:
    """0.01 to 9.99: small enough that no account reaches its policy's hoard limit."""
    return f"{rng.randint(1, 999) / 100:.2f}"


def check_account_chains(start: dict[str, int], fresh: Iterable[Report]) -> dict[str, int]:
    """Ordered by receipt number, each account's recharges start where the previous one left
    its balance (no lost update); returns the balance each account must end with."""
    expected = dict(start)
    for report in sorted(fresh, key=lambda r: r.receipt_number):
        where = f"receipt {report.receipt_number} ({report.key}) on {report.account}"
        assert report.balance_before_minor == expected[report.account], where
        assert report.balance_after_minor == report.balance_before_minor + report.amount_minor
        expected[report.account] = report.balance_after_minor
    return expected


def check_database(db: Database, credited: dict[str, Report], final: dict[str, int]) -> None:
    """Exactly one recharge entry (with its receipt) per credited key, nothing else; the
    balances are the expected ones; ``ledger verify`` finds nothing wrong."""
    entries = recharge_entries(db)
    doubled = {key: found for key, found in entries.items() if len(found) != 1}
    assert not doubled, f"keys credited more than once: {doubled}"
    assert entries.keys() == credited.keys()
    for key, (entry,) in entries.items():
        report = credited[key]
        assert (entry.account, entry.amount_minor, entry.receipt_number) == (
            report.account,
            report.amount_minor,
            report.receipt_number,
        ), key
    assert balances(db) == final
    verified = verify_ledger(db)
    assert verified.ok, verified.problems
    assert verified.receipts == len(credited)


def test_concurrent_recharges_add_up_with_gap_free_receipts(site: Database, tmp_path: Path) -> None:
    rng = random.Random(20260601)
    start = balances(site)
    shared, *others = sorted(start)
    plans = [
        [
            Planned(
                f"w{w}-{j}",
                shared if j % 2 == 0 else others[(w + j // 2) % len(others)],
                amount(rng),
            )
            for j in range(PER_WORKER)
        ]
        for w in range(WORKERS)
    ]
    with pool(url_of(site), tmp_path / "workers") as workers:
        started = [
            workers.start(f"worker-{w}", plan, pause_ms=PAUSE_MS) for w, plan in enumerate(plans)
        ]
        workers.release(started)
        for worker in started:
            worker.finish(FINISH_S)

    fresh: list[Report] = []
    by_worker: dict[int, str] = {}
    for worker, plan in zip(started, plans, strict=True):
        assert worker.refusals() == [], worker.name
        reports = worker.reports()
        assert [(r.key, r.account) for r in reports] == [(p.key, p.account) for p in plan]
        assert not any(r.replayed for r in reports), worker.name
        fresh += reports
        by_worker.update({r.receipt_number: worker.name for r in reports})
    total = WORKERS * PER_WORKER
    numbers = sorted(r.receipt_number for r in fresh)
    assert numbers == list(range(1, total + 1)), "receipt numbers with a gap or a duplicate"
    # The storm really ran at once: the workers' receipts interleave, not one block each.
    order = [by_worker[n] for n in numbers]
    switches = sum(a != b for a, b in itertools.pairwise(order))
    assert switches > WORKERS - 1, f"the workers ran one after the other: {order}"

    final = check_account_chains(start, fresh)
    for account in start:
        paid = sum(r.amount_minor for r in fresh if r.account == account)
        assert final[account] == start[account] + paid
    check_database(site, {r.key: r for r in fresh}, final)


def test_a_key_tried_by_every_process_at_once_credits_once(site: Database, tmp_path: Path) -> None:
    rng = random.Random(20260602)
    start = balances(site)
    shared, *others = sorted(start)
    plan = [
        Planned(f"same-{j}", shared if j % 2 == 0 else others[j % len(others)], amount(rng))
        for j in range(PER_WORKER)
    ]
    with pool(url_of(site), tmp_path / "workers") as workers:
        # Every worker tries every key, in the same order and without pauses: each key is
        # raced by all of them (one mostly leads: the others wait for its lock, then replay).
        started = [workers.start(f"worker-{w}", plan) for w in range(WORKERS)]
        workers.release(started)
        for worker in started:
            worker.finish(FINISH_S)

    seen: dict[str, list[Report]] = defaultdict(list)
    for worker in started:
        assert worker.refusals() == [], worker.name
        reports = worker.reports()
        assert [r.key for r in reports] == [p.key for p in plan], worker.name
        for r in reports:
            seen[r.key].append(r)
    credited: dict[str, Report] = {}
    for item in plan:
        reports = seen[item.key]
        fresh = [r for r in reports if not r.replayed]
        assert len(fresh) == 1, f"{item.key} credited {len(fresh)} times: {fresh}"
        assert {(r.account, r.amount_minor, r.receipt_number) for r in reports} == {
            (fresh[0].account, fresh[0].amount_minor, fresh[0].receipt_number)
        }, f"{item.key}: the replays name another recharge: {reports}"
        credited[item.key] = fresh[0]
    assert Counter(r.replayed for rs in seen.values() for r in rs) == {
        False: PER_WORKER,
        True: (WORKERS - 1) * PER_WORKER,
    }
    numbers = sorted(r.receipt_number for r in credited.values())
    assert numbers == list(range(1, PER_WORKER + 1)), "receipt numbers with a gap or a duplicate"

    final = check_account_chains(start, credited.values())
    for account in start:
        paid = sum(int(r.amount_minor) for r in credited.values() if r.account == account)
        assert final[account] == start[account] + paid
    check_database(site, credited, final)
