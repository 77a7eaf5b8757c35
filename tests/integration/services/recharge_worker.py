"""A process that makes recharges in a loop, for the concurrency and crash tests, and the
parent's side of it (start workers together, read what they report).

    python -m tests.integration.services.recharge_worker --db URL --plan PLAN.json --go FILE
        [--pause-ms MS]

PLAN.json is a list of ``{"key", "account", "amount"}`` (the amount as typed, e.g. "12.34").
The worker signs in once as the cashier, prints ``{"ready": PID}``, waits until FILE exists
(the start line every worker of a storm waits at), then calls ``recharge`` for each planned
item in order (each after a random pause up to MS, 0 by default) and prints one JSON line per
result, flushed at once:

- committed, or found committed under its key: ``{"key", "account", "amount_minor",
  "receipt_number", "balance_before_minor", "balance_after_minor", "replayed"}``;
- refused: ``{"key", "refused", "field"}``.

A line is printed only after ``recharge`` returned, that is after the commit: a worker killed
in between leaves a committed recharge unreported, never a reported one uncommitted. Any other
failure ends the worker with a traceback and exit 1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.demo.site import DEMO_PASSWORD
from app.services.operators import login
from app.services.recharge import RechargeRefused, parse_method, recharge
from app.store.database import Database
from app.store.models import Account, LedgerEntry, Receipt
from app.vocabulary import LedgerKind

CASHIER = "cashier"
GO_WAIT_S = 120.0  # the longest a worker waits at the start line before giving up
REPO = Path(__file__).resolve().parents[3]  # (not tests.support: it imports much more)


@dataclass(frozen=True)
class Planned:
    key: str
    account: str
    amount: str  # as typed at the counter


@dataclass(frozen=True)
class Report:
    key: str
    account: str
    amount_minor: int
    receipt_number: int
    balance_before_minor: int
    balance_after_minor: int
    replayed: bool


# --- the worker process ---------------------------------------------------------------------


def _say(payload: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")  # one write per line: a kill cuts none in two
    sys.stdout.flush()


def work(
    db_url: str,
    plan: Sequence[Planned],
    go: Path,
    pause_ms: float = 0.0,
    key_dir: Path | None = None,
) -> None:
    db = Database(db_url, key_dir=key_dir)  # a console beside the others: the site's key
    try:
        cashier = login(db, CASHIER, DEMO_PASSWORD)
        cash = parse_method("cash")
        _say({"ready": os.getpid()})
        deadline = time.monotonic() + GO_WAIT_S
        while not go.exists():
            if time.monotonic() > deadline:
                raise SystemExit(f"the start file {go} did not appear within {GO_WAIT_S:.0f} s")
            time.sleep(0.002)
        pauses = random.Random(os.getpid())
        for item in plan:
            if pause_ms:
                time.sleep(pauses.uniform(0.0, pause_ms) / 1000)
            try:
                done = recharge(db, cashier, item.account, item.amount, cash, item.key)
            except RechargeRefused as exc:
                _say({"key": item.key, "refused": str(exc), "field": exc.field})
                continue
            report = Report(
                item.key,
                done.account_number,
                done.amount_minor,
                done.receipt_number,
                done.balance_before_minor,
                done.balance_after_minor,
                done.replayed,
            )
            _say(asdict(report))
    finally:
        db.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="recharge_worker")
    parser.add_argument("--db", required=True, help="SQLAlchemy URL of a seeded demo site")
    parser.add_argument("--plan", required=True, type=Path, help="JSON list of recharges")
    parser.add_argument("--go", required=True, type=Path, help="start once this file exists")
    parser.add_argument(
        "--pause-ms", type=float, default=0.0, help="a random pause up to MS before each recharge"
    )
    parser.add_argument(
        "--key-dir", type=Path, help="the folder with the site's audit key (a server database)"
    )
    args = parser.parse_args(argv)
    plan = [Planned(**item) for item in json.loads(args.plan.read_text(encoding="utf-8"))]
    work(args.db, plan, args.go, args.pause_ms, args.key_dir)
    return 0


# --- the parent's side ----------------------------------------------------------------------


class Worker:
    """One started worker process; its output goes to files in the test's folder."""

    def __init__(self, name: str, proc: subprocess.Popen[bytes], folder: Path, plan: list[Planned]):
        self.name = name
        self.proc = proc
        self.out = folder / f"{name}.out"
        self.err = folder / f"{name}.err"
        self.plan = plan

    def _lines(self) -> list[dict[str, Any]]:
        text = self.out.read_text(encoding="utf-8") if self.out.exists() else ""
        complete = text[: text.rfind("\n") + 1]  # a line cut by a kill is no report
        return [json.loads(line) for line in complete.splitlines() if line]

    def ready(self) -> bool:
        return any("ready" in line for line in self._lines())

    def reports(self) -> list[Report]:
        """The recharges this worker saw committed (or replayed), in its order."""
        return [Report(**line) for line in self._lines() if "receipt_number" in line]

    def refusals(self) -> list[dict[str, Any]]:
        return [line for line in self._lines() if "refused" in line]

    def attempted(self) -> list[Planned]:
        """The planned items it started: all it reported, and the one in hand if it was cut."""
        seen = len(self.reports()) + len(self.refusals())
        return self.plan[: min(seen + 1, len(self.plan))]

    def stderr(self) -> str:
        return self.err.read_text(encoding="utf-8") if self.err.exists() else ""

    def finish(self, timeout: float) -> None:
        """Wait for a clean end; fail with its stderr otherwise."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
            raise AssertionError(
                f"{self.name} did not finish within {timeout:.0f} s (a hang or a deadlock); "
                f"it reported {len(self.reports())} of {len(self.plan)}:\n{self.stderr()}"
            ) from None
        assert code == 0, f"{self.name} ended with exit {code}:\n{self.stderr()}"


class Pool:
    """Starts workers on one database; whatever is still running at the end is killed."""

    def __init__(self, db_url: str, folder: Path, key_dir: Path | None = None) -> None:
        self.db_url = db_url
        self.folder = folder
        self.key_dir = key_dir
        self.workers: list[Worker] = []
        self.go = folder / "go"

    def start(self, name: str, plan: list[Planned], *, pause_ms: float = 0.0) -> Worker:
        plan_file = self.folder / f"{name}.plan.json"
        plan_file.write_text(json.dumps([asdict(p) for p in plan]), encoding="utf-8")
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        env.pop("CI", None)  # the program must not behave differently under CI
        args = ["--db", self.db_url, "--plan", str(plan_file), "--go", str(self.go)]
        args += ["--pause-ms", str(pause_ms)]
        if self.key_dir is not None:
            args += ["--key-dir", str(self.key_dir)]
        with (
            (self.folder / f"{name}.out").open("wb") as out,
            (self.folder / f"{name}.err").open("wb") as err,
        ):
            proc = subprocess.Popen(
                [sys.executable, "-m", "tests.integration.services.recharge_worker", *args],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )
        worker = Worker(name, proc, self.folder, plan)
        self.workers.append(worker)
        return worker

    def release(self, workers: Sequence[Worker], timeout: float = 120.0) -> None:
        """Once every worker has signed in, let them all start at the same moment."""
        deadline = time.monotonic() + timeout
        while not all(w.ready() for w in workers):
            for w in workers:
                if w.proc.poll() is not None and not w.ready():
                    raise AssertionError(
                        f"{w.name} ended (exit {w.proc.returncode}) before it was ready:\n"
                        f"{w.stderr()}"
                    )
            assert time.monotonic() < deadline, f"workers not signed in within {timeout:.0f} s"
            time.sleep(0.02)
        self.go.touch()

    def reset(self) -> None:
        """A new start line for the next storm."""
        self.go.unlink(missing_ok=True)

    def kill_all(self) -> None:
        for w in self.workers:
            if w.proc.poll() is None:
                w.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                w.proc.wait(timeout=30)


@dataclass(frozen=True)
class Entry:
    account: str
    amount_minor: int
    receipt_number: int | None  # None: a recharge entry without its receipt


def balances(db: Database) -> dict[str, int]:
    """Every account's cached balance (minor units), by account number."""
    with db.session() as session:
        return dict(session.execute(select(Account.number, Account.balance_minor)).all())


def recharge_entries(db: Database) -> dict[str, list[Entry]]:
    """The recharge ledger entries by idempotency key (a list: more than one is a double
    credit), with their receipt numbers."""
    found: dict[str, list[Entry]] = {}
    with db.session() as session:
        rows = session.execute(
            select(
                LedgerEntry.idempotency_key,
                Account.number,
                LedgerEntry.amount_minor,
                Receipt.number,
            )
            .join(Account, Account.id == LedgerEntry.account_id)
            .outerjoin(Receipt, Receipt.ledger_entry_id == LedgerEntry.id)
            .where(LedgerEntry.kind == LedgerKind.RECHARGE)
            .order_by(LedgerEntry.id)
        ).all()
        for key, account, amount, number in rows:
            found.setdefault(str(key), []).append(Entry(account, amount, number))
    return found


@contextlib.contextmanager
def pool(db_url: str, folder: Path, key_dir: Path | None = None) -> Iterator[Pool]:
    """Workers on ``db_url``; ``key_dir``: the data folder whose audit key they share with the
    command-line recharges of the same test (every console of a PostgreSQL site has a copy)."""
    folder.mkdir(parents=True, exist_ok=True)
    started = Pool(db_url, folder, key_dir)
    try:
        yield started
    finally:
        started.kill_all()


if __name__ == "__main__":
    sys.exit(main())
