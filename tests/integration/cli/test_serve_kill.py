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
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

import pytest

from app.store.database import DB_FILE_NAME, sqlite_url_for
from app.vocabulary import LedgerKind, ReadingQuality
from tests.integration.cli.billing_checks import fee_problems, usage_problems
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

    url = sqlite_url_for(site)
    problems = usage_problems(url) + fee_problems(url)
    assert not problems, f"{note}\n" + "\n".join(problems)
