"""Recharge processes killed with SIGKILL at random moments during a recharge storm.

Each round starts a storm: worker processes (``recharge_worker``: sign in once, then recharge
in a loop, half on one shared account) and one ``main.py account recharge``, all at once; each
is killed at a random moment (a few are spared and finish). After every round ``ledger verify``
passes, no key has two entries, every recharge that reported success is there exactly once with
the receipt it reported, and nothing was committed that was not attempted; a recharge committed
but not reported can only be the one a killed process had in hand.

Then every attempted key is run again to completion with its account and amount, all at once:
a few through ``main.py account recharge`` (it must print "Already done" exactly for the keys
already committed, with their receipt), the others through a worker (replayed exactly for
those). In the end each attempted key is credited once, each balance is its start plus its
distinct recharges, the receipt numbers run 1..N and ``main.py ledger verify`` passes. Runs on
SQLite and on PostgreSQL; the random seed is in every failure message.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from app.demo.site import DEMO_PASSWORD, DemoSpec, seed_demo_site
from app.services.ledger_verify import verify_ledger
from app.store.database import Database
from tests.integration.services.recharge_worker import (
    Entry,
    Planned,
    Worker,
    balances,
    pool,
    recharge_entries,
)
from tests.support import REPO, run_python

ROUNDS = 4
WORKERS = 3
KEYS_PER_WORKER = 40  # more than a worker gets through before its kill, mostly
KILL_WITHIN_S = 1.2  # after the start line: the storm runs ~1 s (SQLite) to ~2 s (PostgreSQL)
CLI_KILL_WITHIN_S = 2.0  # main.py's own recharge starts around the start line
SPARE = 0.15  # the chance a process is left to finish
CLI_SAMPLE = 2  # killed workers' in-hand keys also run again through main.py
FINISH_S = 120.0  # bounds for a hang or a deadlock; a healthy run takes a fraction
CLI_S = 120.0

RECEIPT = re.compile(r"^Receipt (\d{8}): ", re.MULTILINE)
ALREADY = re.compile(r"^Already done under this key: receipt (\d{8}),", re.MULTILINE)


@dataclass(frozen=True)
class Site:
    db: Database
    url: str
    data_dir: Path  # the receipts' PDFs and the logs
    db_options: tuple[str, ...]  # main.py's options to reach the database


@pytest.fixture
def site(migrated_url: str, tmp_path: Path) -> Iterator[Site]:
    probe = Database(migrated_url)
    options: tuple[str, ...] = ()
    if probe.file_path is not None:
        data_dir = probe.file_path.parent
    else:  # the console's data folder: the site's audit key, shared by every process here
        data_dir, options = tmp_path / "data", ("--db", migrated_url)
    probe.dispose()
    db = Database(migrated_url, key_dir=data_dir)
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=4))
    try:
        yield Site(db, migrated_url, data_dir, ("--data-dir", str(data_dir), *options))
    finally:
        db.dispose()


@pytest.fixture
def seed() -> int:
    return int.from_bytes(os.urandom(4), "big")


class Cli:
    """``main.py account recharge`` processes, output in files; any left running are killed."""

    def __init__(self, site: Site, folder: Path) -> None:
        self.site = site
        self.folder = folder
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, item: Planned) -> subprocess.Popen[bytes]:
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "METERDESK_PASSWORD": DEMO_PASSWORD}
        env.pop("CI", None)
        args = ["--account", item.account, "--amount", item.amount, "--method", "cash"]
        with (
            (self.folder / f"{name}.out").open("wb") as out,
            (self.folder / f"{name}.err").open("wb") as err,
        ):
            proc = subprocess.Popen(
                [sys.executable, "main.py", "account", "recharge", *args, "--key", item.key,
                 "--user", "cashier", *self.site.db_options],
                cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            )  # fmt: skip
        self.procs[name] = proc
        return proc

    def output(self, name: str) -> tuple[str, str]:
        return (
            (self.folder / f"{name}.out").read_text(encoding="utf-8"),
            (self.folder / f"{name}.err").read_text(encoding="utf-8"),
        )

    def finish(self, name: str) -> str:
        """Wait for a clean exit 0; its stdout."""
        proc = self.procs[name]
        try:
            code = proc.wait(timeout=CLI_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
            raise AssertionError(f"{name} did not finish within {CLI_S:.0f} s") from None
        out, err = self.output(name)
        assert code == 0, f"{name} ended with exit {code}:\n{out}{err}"
        return out

    def kill_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)


@contextlib.contextmanager
def cli_of(site: Site, folder: Path) -> Iterator[Cli]:
    folder.mkdir(parents=True, exist_ok=True)
    cli = Cli(site, folder)
    try:
        yield cli
    finally:
        cli.kill_all()


def minor(amount: str) -> int:
    return int(Decimal(amount) * 100)


def amount(rng: random.Random) -> str:
    """0.01 to 9.99: small enough that no account reaches its policy's hoard limit."""
    return f"{rng.randint(1, 999) / 100:.2f}"


def kill_at_random(
    rng: random.Random, procs: list[subprocess.Popen[bytes]], within: list[float]
) -> list[subprocess.Popen[bytes]]:
    """Kill each process (but a spared few) at a random moment from now; returns the ones
    the SIGKILL ended (a process may finish just before its moment)."""
    started = time.monotonic()
    moments = sorted(
        (started + rng.uniform(0.0, limit), i)
        for i, limit in enumerate(within)
        if rng.random() >= SPARE
    )
    for moment, i in moments:
        time.sleep(max(0.0, moment - time.monotonic()))
        if procs[i].poll() is None:
            procs[i].send_signal(signal.SIGKILL)
    killed = []
    for _, i in moments:
        try:
            code = procs[i].wait(timeout=FINISH_S)
        except subprocess.TimeoutExpired:
            raise AssertionError("a process outlived its SIGKILL") from None
        if code == -signal.SIGKILL:
            killed.append(procs[i])
    return killed


def check_after_kills(
    db: Database,
    reported: dict[str, int],
    attempted: dict[str, Planned],
    in_hand: set[str],
    note: str,
) -> dict[str, Entry]:
    """The ledger verifies; each key is there at most once, each reported one with its receipt;
    nothing committed was not attempted; committed but unreported only the keys in hand."""
    report = verify_ledger(db)
    assert report.ok, f"{note}: {report.problems}"
    entries = recharge_entries(db)
    doubled = {key: found for key, found in entries.items() if len(found) != 1}
    assert not doubled, f"{note}: keys credited more than once: {doubled}"
    committed = {key: found[0] for key, found in entries.items()}
    for key, number in reported.items():
        assert key in committed, f"{note}: {key} reported receipt {number} but is not there"
        assert committed[key].receipt_number == number, f"{note}: {key}"
    for key, entry in committed.items():
        item = attempted.get(key)
        assert item is not None, f"{note}: {key} committed but never attempted"
        assert (entry.account, entry.amount_minor) == (item.account, minor(item.amount)), key
        assert entry.receipt_number is not None, f"{note}: {key} has no receipt"
    unreported = committed.keys() - reported.keys()
    assert unreported <= in_hand, f"{note}: committed, unreported, not in hand: {unreported}"
    return committed


def test_recharges_killed_at_random_are_never_lost_nor_doubled(
    site: Site, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    note = f"(random seed {seed})"
    start = balances(site.db)
    shared, *others = sorted(start)
    attempted: dict[str, Planned] = {}
    reported: dict[str, int] = {}  # key -> the receipt number it reported
    in_hand: set[str] = set()  # what a killed process may have committed without saying so
    worker_in_hand: list[str] = []
    cut_short = 0  # workers killed with part of their plan done

    with (
        pool(site.url, tmp_path / "workers", site.data_dir) as workers,
        cli_of(site, tmp_path / "cli") as cli,
    ):
        for r in range(ROUNDS):
            workers.reset()
            plans = [
                [
                    Planned(
                        f"r{r}-w{w}-{j}",
                        shared if j % 2 == 0 else rng.choice(others),
                        amount(rng),
                    )
                    for j in range(KEYS_PER_WORKER)
                ]
                for w in range(WORKERS)
            ]
            started = [workers.start(f"r{r}-w{w}", plan) for w, plan in enumerate(plans)]
            by_cli = Planned(f"r{r}-cli", rng.choice([shared, *others]), amount(rng))
            cli_proc = cli.start(f"r{r}-cli", by_cli)
            workers.release(started)
            # One worker is always cut down in the middle of its storm (after its first
            # commit, long before its last); the others and main.py at random moments.
            first = started[0]
            deadline = time.monotonic() + FINISH_S
            while not first.reports() and first.proc.poll() is None:
                assert time.monotonic() < deadline, f"no first recharge reported {note}"
                time.sleep(0.002)
            first.proc.send_signal(signal.SIGKILL)
            first.proc.wait(timeout=FINISH_S)
            killed = kill_at_random(
                rng,
                [w.proc for w in started[1:]] + [cli_proc],
                [KILL_WITHIN_S] * (len(started) - 1) + [CLI_KILL_WITHIN_S],
            )
            if first.proc.returncode == -signal.SIGKILL:
                killed.append(first.proc)
            for worker in started:
                if worker.proc not in killed:
                    worker.finish(FINISH_S)
                cut_short += record_worker(worker, worker.proc in killed, attempted, reported)
                if worker.proc in killed and len(worker.attempted()) > len(worker.reports()):
                    worker_in_hand.append(worker.attempted()[-1].key)
                    in_hand.add(worker.attempted()[-1].key)
            attempted[by_cli.key] = by_cli
            in_hand.add(by_cli.key)
            if cli_proc not in killed:
                cli.finish(f"r{r}-cli")
            found = RECEIPT.search(cli.output(f"r{r}-cli")[0])
            if found:
                reported[by_cli.key] = int(found.group(1))
            check_after_kills(site.db, reported, attempted, in_hand, f"round {r} {note}")
        assert cut_short > 0, f"no worker was killed in the middle of its storm {note}"

        before = check_after_kills(site.db, reported, attempted, in_hand, f"the storms {note}")
        # Every attempted key again, to completion, all at once: through main.py each round's
        # own key and a few killed workers' keys in hand (first those committed unreported:
        # the kill fell between commit and print), every other key through a worker.
        sample = [f"r{r}-cli" for r in range(ROUNDS)]
        sample += sorted(worker_in_hand, key=lambda k: (k not in before, k))[:CLI_SAMPLE]
        workers.reset()
        again = workers.start("again", [p for k, p in attempted.items() if k not in sample])
        for key in sample:
            cli.start(f"again-{key}", attempted[key])
        workers.release([again])
        again.finish(FINISH_S)
        said = {key: cli.finish(f"again-{key}") for key in sample}

    for key, out in said.items():
        if key in before:
            number = before[key].receipt_number
            assert ALREADY.search(out), f"{key} was committed; main.py says:\n{out} {note}"
            assert f"receipt {number:08d}," in out, f"{key}: {out} {note}"
        else:
            assert RECEIPT.search(out), f"{key} was not committed; main.py says:\n{out} {note}"
    assert again.refusals() == [], note
    replays = again.reports()
    assert [replay.key for replay in replays] == [k for k in attempted if k not in sample], note
    for replay in replays:
        key = replay.key
        if key in before:
            assert replay.replayed, f"{key} was committed, yet credited again {note}"
            assert replay.receipt_number == before[key].receipt_number, f"{key} {note}"
        else:
            assert not replay.replayed, f"{key} was never committed, yet replayed {note}"

    final = check_after_kills(site.db, reported, attempted, set(attempted), f"the end {note}")
    assert final.keys() == attempted.keys(), note
    numbers = sorted(e.receipt_number or 0 for e in final.values())
    assert numbers == list(range(1, len(attempted) + 1)), f"receipt gap or duplicate {note}"
    expected = dict(start)
    for item in attempted.values():
        expected[item.account] += minor(item.amount)
    assert balances(site.db) == expected, note
    for key in sample:  # each PDF whole, also where a kill fell while main.py wrote it
        pdf = site.data_dir / "receipts" / f"receipt-{final[key].receipt_number:08d}.pdf"
        body = pdf.read_bytes()
        assert body.startswith(b"%PDF"), f"{pdf} {note}"
        assert b"%%EOF" in body[-64:], f"{pdf} {note}"
    verify = run_python(["main.py", "ledger", "verify", "--json", *site.db_options], unset=["CI"])
    assert verify.returncode == 0, f"{verify.stdout}{verify.stderr} {note}"
    summary = json.loads(verify.stdout)
    assert summary["ok"] is True
    assert summary["receipts"] == len(attempted)


def record_worker(
    worker: Worker, was_killed: bool, attempted: dict[str, Planned], reported: dict[str, int]
) -> int:
    """Note what the worker attempted and reported; 1 if a kill cut its storm short."""
    assert worker.refusals() == [], f"{worker.name}: {worker.refusals()}"
    reports = worker.reports()
    assert not any(r.replayed for r in reports), worker.name  # every key is new
    for item in worker.attempted():
        attempted[item.key] = item
    for r in reports:
        reported[r.key] = r.receipt_number
    if not was_killed:
        assert len(reports) == len(worker.plan), worker.name
    return int(was_killed and 0 < len(reports) < len(worker.plan))
