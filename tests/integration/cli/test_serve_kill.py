"""``main.py serve`` killed with SIGKILL at random moments, restarted, then stopped cleanly.

After every kill the ledger verifies; at the end every unit a meter counted between its first
GOOD reading and the last reading rated (its ``RatingState``) is charged exactly once: the
usage charges add up to the register difference, none overlaps another, and none skips usage.
Each periodic fee is charged once per account and cycle despite the restarts.

Runs the real program on a small demo site (20 rooms, 30 meters on ``sim://`` buses). The
simulated meters run ten times faster than real time so that their registers (10 Wh and 1 litre
steps) move within seconds, yet an ordinary room's load stays inside the reading store's
plausibility limit (a rare heater's reading is held, which the checks allow). A restarted
serve's simulated meters count on from the last stored readings, as real meters would.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.store.database import DB_FILE_NAME, Database, sqlite_url_for
from app.store.models import (
    Account,
    AccountTariff,
    IntervalReading,
    LedgerEntry,
    Meter,
    RatingState,
    UsageCharge,
)
from app.vocabulary import AccountStatus, LedgerKind, ReadingQuality
from tests.support import REPO, run_python

SERVE_OPTIONS = ("--interval", "1", "--post-every", "2", "--time-scale", "10")
KILL_CYCLES = 3
# Generous deadlines for a busy CI machine; a healthy run takes a fraction of them.
FIRST_POSTING_S = 240.0
PROGRESS_S = 90.0
STOP_S = 90.0
NEW_READINGS = 3  # stored by a restarted serve before it may be killed
ZONE = ZoneInfo("Asia/Shanghai")  # the demo site's

Spawn = Callable[[str], subprocess.Popen[str]]


@pytest.fixture
def seed() -> int:
    return int.from_bytes(os.urandom(4), "big")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    folder = tmp_path / "site"
    proc = run_python(
        [
            "main.py",
            "demo",
            "seed",
            "--data-dir",
            str(folder),
            "--buildings",
            "2",  # block A: student dormitory; block B: time of use with a monthly fee
            "--floors",
            "1",
            "--rooms-per-floor",
            "10",
            "--history-days",
            "0",  # every reading stored is one the runs below take and bill
        ],
        unset=["CI"],
    )
    assert proc.returncode == 0, proc.stderr
    assert "30 meters" in proc.stdout, proc.stdout
    with sqlite3.connect(f"{(folder / DB_FILE_NAME).as_uri()}?mode=ro", uri=True) as conn:
        in_force = conn.execute("SELECT max(effective_from) FROM tariff_version").fetchone()[0]
    if datetime.now(ZONE).date().isoformat() < in_force:
        pytest.skip(f"the demo tariffs are in force from {in_force}: nothing would be billed")
    return folder


@pytest.fixture
def spawn(site: Path, tmp_path: Path) -> Iterator[Spawn]:
    """``spawn(name)`` starts ``main.py serve`` on the site; any left running is killed."""
    started: list[subprocess.Popen[str]] = []
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("CI", None)  # the program must not behave differently under CI

    def start(name: str) -> subprocess.Popen[str]:
        with (tmp_path / f"{name}.out").open("w") as out:
            proc = subprocess.Popen(
                [sys.executable, "main.py", "serve", "--data-dir", str(site), *SERVE_OPTIONS],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        started.append(proc)
        return proc

    try:
        yield start
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)


class Counts(NamedTuple):
    postings: int  # usage postings in the ledger
    readings: int  # GOOD interval readings stored
    unposted: int  # GOOD readings with usage after their meter's rating state (not posted)


class Probe:
    """Read-only counters from the site's SQLite file while serve writes it."""

    def __init__(self, database: Path) -> None:
        self.uri = f"{database.as_uri()}?mode=ro"

    def counts(self) -> Counts | None:
        """None while the file cannot be read (being created, or busy)."""
        try:
            conn = sqlite3.connect(self.uri, uri=True, timeout=5)
        except sqlite3.OperationalError:
            return None
        good = ReadingQuality.GOOD.value
        try:
            return Counts(
                *(
                    int(conn.execute(sql, args).fetchone()[0])
                    for sql, args in (
                        (
                            "SELECT count(*) FROM ledger_entry "
                            "WHERE kind = ? AND reason LIKE 'usage:%'",
                            (LedgerKind.CONSUMPTION.value,),
                        ),
                        ("SELECT count(*) FROM interval_reading WHERE quality = ?", (good,)),
                        (
                            "SELECT count(*) FROM interval_reading AS r "
                            "JOIN rating_state AS s ON s.meter_id = r.meter_id "
                            "WHERE r.quality = ? AND r.read_at > s.last_read_at "
                            "AND r.register_units > s.last_units",
                            (good,),
                        ),
                    )
                )
            )
        except sqlite3.OperationalError:
            return None
        finally:
            conn.close()

    def wait(
        self,
        what: str,
        ready: Callable[[Counts], bool],
        proc: subprocess.Popen[str],
        log: Path,
        timeout: float,
    ) -> Counts:
        deadline = time.monotonic() + timeout
        while True:
            counts = self.counts()
            if counts is not None and ready(counts):
                return counts
            if proc.poll() is not None:
                output = log.read_text()
                pytest.fail(f"serve ended (exit {proc.returncode}) before {what}:\n{output}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} within {timeout:.0f} s (last counts {counts})")
            time.sleep(0.25)


def verify(site: Path, when: str) -> None:
    proc = run_python(
        ["main.py", "ledger", "verify", "--data-dir", str(site), "--json"], unset=["CI"]
    )
    assert proc.returncode == 0, f"ledger verify after {when}:\n{proc.stdout}{proc.stderr}"
    assert json.loads(proc.stdout)["ok"] is True


def test_serve_killed_at_random_bills_every_unit_once(
    site: Path, spawn: Spawn, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    probe = Probe(site / DB_FILE_NAME)
    note = f"(random seed {seed})"

    for cycle in range(1, KILL_CYCLES + 2):
        last = cycle > KILL_CYCLES
        name = "serve-last" if last else f"serve-{cycle}"
        log = tmp_path / f"{name}.out"
        base = probe.counts() or Counts(0, 0, 0)
        proc = spawn(name)
        if cycle == 1:
            # Posted once; then usage rated after that posting, which the kill leaves unposted:
            # the next start must rate it again from the saved state, and bill it once.
            probe.wait("usage posting", lambda c: c.postings > 0, proc, log, FIRST_POSTING_S)
            probe.wait("usage after the posting", lambda c: c.unposted > 0, proc, log, PROGRESS_S)
        else:
            probe.wait(
                "new readings",
                lambda c, base=base: c.readings >= base.readings + NEW_READINGS,
                proc,
                log,
                PROGRESS_S,
            )
        time.sleep(rng.uniform(0.0, 4.0))  # a random moment: storing, rating, waiting
        if last:
            break
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=STOP_S) == -signal.SIGKILL
        verify(site, f"kill {cycle} {note}")

    proc.send_signal(signal.SIGTERM)  # a clean stop posts what waits
    assert proc.wait(timeout=STOP_S) == 0, log.read_text()
    summary = json.loads(log.read_text().strip().splitlines()[-1])
    assert summary["meters"] == 30, summary
    verify(site, f"the clean stop {note}")

    problems = usage_problems(site) + fee_problems(site)
    assert not problems, f"{note}\n" + "\n".join(problems)


def usage_problems(site: Path) -> list[str]:
    """Every unit between a meter's first GOOD reading and its last rated one is charged
    once: no overlap, no usage skipped, the quantities add up exactly."""
    problems: list[str] = []
    db = Database(sqlite_url_for(site))
    try:
        with db.session() as session:
            multiplier = dict(session.execute(select(Meter.id, Meter.multiplier)).all())
            good: dict[int, dict[datetime, int]] = defaultdict(dict)
            for meter_id, at, units in session.execute(
                select(
                    IntervalReading.meter_id,
                    IntervalReading.read_at,
                    IntervalReading.register_units,
                )
                .where(IntervalReading.quality == ReadingQuality.GOOD)
                .order_by(IntervalReading.meter_id, IntervalReading.read_at)
            ):
                good[meter_id][at] = units
            states = {row.meter_id: row for row in session.scalars(select(RatingState))}
            charges: dict[int, list[UsageCharge]] = defaultdict(list)
            for charge in session.scalars(
                select(UsageCharge).order_by(UsageCharge.start_at, UsageCharge.id)
            ):
                charges[charge.meter_id].append(charge)
            posted_in = set(
                session.scalars(
                    select(UsageCharge.ledger_entry_id).where(
                        UsageCharge.ledger_entry_id.is_not(None)
                    )
                )
            )
            usage_entries = set(
                session.scalars(
                    select(LedgerEntry.id).where(
                        LedgerEntry.kind == LedgerKind.CONSUMPTION,
                        LedgerEntry.reason.startswith("usage:"),
                    )
                )
            )
    finally:
        db.dispose()

    charged_total = Decimal(0)
    for meter_id, readings in good.items():
        state = states.get(meter_id)
        if state is None:
            problems.append(f"meter {meter_id} has readings but no rating state")
            continue
        if readings.get(state.last_read_at) != state.last_units:
            problems.append(
                f"meter {meter_id}: rating state {state.last_units} at {state.last_read_at} "
                "is not one of its GOOD readings"
            )
            continue
        if state.last_read_at != max(readings):
            problems.append(
                f"meter {meter_id}: after a clean stop the last reading rated is "
                f"{state.last_read_at}, but a GOOD reading at {max(readings)} was stored"
            )
        scale = multiplier[meter_id] or 1
        first_units = readings[min(readings)]

        def kwh(units: int, scale: int = scale) -> Decimal:
            return Decimal(units * scale).scaleb(-3)  # Wh or litres -> kWh or m3, as rated

        mine = charges.pop(meter_id, [])
        charged = sum((Decimal(c.quantity) for c in mine), Decimal(0))
        charged_total += charged
        due = kwh(state.last_units - first_units)
        if charged != due:
            problems.append(
                f"meter {meter_id}: charged {charged} but the register moved {due} from its "
                f"first reading ({first_units}) to the last one rated ({state.last_units})"
            )
        by_cycle: dict[object, list[UsageCharge]] = defaultdict(list)
        for charge in mine:
            by_cycle[charge.cycle_start].append(charge)
        for cycle, rows in by_cycle.items():
            previous: UsageCharge | None = None
            for charge in rows:
                where = f"meter {meter_id}, cycle {cycle}, charge {charge.id}"
                if charge.start_at not in readings or charge.end_at not in readings:
                    problems.append(f"{where}: starts or ends off a GOOD reading")
                    continue
                if not charge.start_at < charge.end_at <= state.last_read_at:
                    problems.append(f"{where}: spans {charge.start_at} to {charge.end_at}")
                if len(by_cycle) == 1:  # (a span across cycles is split between them)
                    used = kwh(readings[charge.end_at] - readings[charge.start_at])
                    if Decimal(charge.quantity) != used:
                        problems.append(f"{where}: quantity {charge.quantity}, register {used}")
                if previous is not None:
                    if charge.start_at < previous.end_at:
                        problems.append(
                            f"{where}: starts at {charge.start_at}, before charge "
                            f"{previous.id} ends ({previous.end_at}): billed twice"
                        )
                    elif readings[charge.start_at] != readings[previous.end_at]:
                        problems.append(
                            f"{where}: usage between {previous.end_at} and "
                            f"{charge.start_at} was never charged"
                        )
                previous = charge
    for meter_id in charges:
        problems.append(f"meter {meter_id} has usage charges but no GOOD readings")
    if charged_total <= 0:
        problems.append("no usage was charged at all: the test exercised nothing")

    if usage_entries != posted_in:
        problems.append(
            f"usage postings without charges: {sorted(usage_entries - posted_in)}; "
            f"charges posted in other entries: {sorted(posted_in - usage_entries)}"
        )
    return problems


def fee_problems(site: Path) -> list[str]:
    """Each fee once per account, plan, fee and cycle; every account on a plan with a fee
    charged in every cycle seen."""
    problems: list[str] = []
    db = Database(sqlite_url_for(site))
    try:
        with db.session() as session:
            fees = session.execute(
                select(
                    LedgerEntry.id,
                    LedgerEntry.account_id,
                    LedgerEntry.amount_minor,
                    LedgerEntry.idempotency_key,
                ).where(LedgerEntry.kind == LedgerKind.FEE)
            ).all()
            plans_of: dict[int, set[int]] = defaultdict(set)
            for account_id, plan_id in session.execute(
                select(AccountTariff.account_id, AccountTariff.plan_id)
                .join(Account, Account.id == AccountTariff.account_id)
                .where(Account.status == AccountStatus.OPEN)
            ):
                plans_of[account_id].add(plan_id)
    finally:
        db.dispose()
    if not fees:
        return ["no periodic fee was charged: the time-of-use plan has a monthly fee"]
    keys: dict[str, int] = {}
    charged: dict[int, set[tuple[int, int, str]]] = defaultdict(set)
    for entry_id, account_id, amount, key in fees:
        if key is None:
            problems.append(f"fee entry {entry_id} has no idempotency key")
            continue
        if key in keys:
            problems.append(f"fee {key} charged twice: entries {keys[key]} and {entry_id}")
        keys[key] = entry_id
        _fee, account, plan, number, cycle = key.split(":")
        if int(account) != account_id:
            problems.append(f"fee entry {entry_id} of account {account_id} has key {key}")
        if amount >= 0:
            problems.append(f"fee entry {entry_id} credits {amount}")
        charged[account_id].add((int(plan), int(number), cycle))
    due = {item for items in charged.values() for item in items}  # (plan, fee, cycle)
    for account_id, plans in plans_of.items():
        expected = {item for item in due if item[0] in plans}
        if charged.get(account_id, set()) != expected:
            problems.append(
                f"account {account_id}: fees {sorted(charged.get(account_id, set()))}, "
                f"expected {sorted(expected)}"
            )
    return problems
