"""Every command's arguments, fuzzed (issue 15): hypothesis walks the parser of ``main.py``
(``app.cli.parser.build_parser``, so a new command or option is covered without a line here)
and gives each command its options with values from pools of what a clumsy script or an
attacker types: empty, huge, negative, NaN, infinity, unicode digits, look-alike and
right-to-left text, paths that climb out, files that are FIFOs, devices, folders, deeply
nested or not UTF-8. Each run must end with a documented exit code (``ExitCode``, argparse's
own 2 included), no uncaught exception and nothing on stderr that looks like a traceback.

The commands run in this process, as ``main.py`` runs them (``app.cli.main``), against a small
demo site on SQLite (its names are among the values, so runs get past "no such room"), signed
in as its administrator most of the time (the password in $METERDESK_PASSWORD). Each run
is bounded by an alarm: a command that hangs fails the test instead of the suite.

What is held back, and why:
- Commands that drive hardware (``meter read``, ``meter relay``, ``bus scan``, ``simulate``)
  get a port that does not exist, so they refuse fast (exit 11) after reading every other
  option; the wire itself is fuzzed by the protocol tests.
- ``serve`` runs for 0.2 s (``--seconds`` is fixed): it would otherwise serve until stopped.
- ``demo seed`` builds months of history into the data folder (seconds per run, and it would
  fill the empty site the other commands are fuzzed against); ``tests/integration/demo`` runs
  it.
- Files a command writes are named only inside the test's folder: an atomic write names a
  temporary file beside its target and renames it over, which on ``/dev/full`` or
  ``/dev/null`` run as root would replace the device.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import pytest
from argon2 import PasswordHasher
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from app.cli import main
from app.cli.options import NEW_PASSWORD_ENV, PASSWORD_ENV
from app.cli.parser import build_parser
from app.demo.site import DemoSpec, seed_demo_site
from app.hardware.profiles import available_profiles
from app.store.database import Database
from app.store.models import (
    Account,
    BalancePolicy,
    Building,
    Bus,
    Meter,
    Operator,
    Room,
    TariffPlan,
)
from app.vocabulary import ExitCode
from tests.databases import _sqlite_copy
from tests.integration.cli.cli_support import commands
from tests.support import REPO

PASSWORD = "fuzz-password"  # every operator's
RUN_LIMIT_S = 30  # one command; far above the slowest honest run, far below a hang
# Runs per command: the whole file stays under a minute on a 2-core machine. A longer hunt:
# METERDESK_FUZZ_EXAMPLES=200.
EXAMPLES = int(os.environ.get("METERDESK_FUZZ_EXAMPLES", "8"))
PLACE_DESTS = {"data_dir", "db", "demo", "help"}
EXCLUDED = {("demo", "seed"): "builds months of history: tests/integration/demo runs it"}
HARDWARE = {("meter", "read"), ("meter", "relay"), ("bus", "scan"), ("simulate",)}
OUTPUT_DESTS = {"output", "receipt", "save"}
OUTPUT_COMMANDS = {("site", "template"), ("site", "export")}  # their FILE is written
INPUT_DESTS = {"file", "usage", "tariff"}

# The values that broke commands before (issue 15): tried more often than the others.
NASTY = ["9" * 5000, "²", "nan", "-1", "", "0001-01-01T00:00", "1e999", "x\u202e" * 50]
# What the options around the one under test get: the site's names (``Site.names``) and these.
SANE = ["1", "2", "3", "2026-09-01", "2026-09-01T10:30+08:00", "10.00", "cash", "new-1"]
# What people and scripts type into any option.
TYPED = [
    "",
    " ",
    "0",
    "1",
    "-1",
    "07",
    "1.5",
    "-0.01",
    "0.001",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "1e999",
    "1e-999",
    "9" * 5000,
    "9" * 400,
    "99999999999999999999",
    "²",
    "١٢",
    "１２",
    "ａｄｍｉｎ",
    "adm\u200bin",
    "\u202eevil",
    "\x1b[31mred",
    "tab\there",
    "line\nbreak",
    "\udcff",  # a byte of a non-UTF-8 argv, as Python hands it over
    "😀",
    "x" * 300,
    "admin",
    "A-101",
    "Block 7",
    "cash",
    "2026-09-01",
    "2026-09-01T10:30",
    "0001-01-01",
    "0001-01-01T00:00",
    "9999-12-31T23:59+14:00",
    "../../../../tmp/x",
    "Asia/Shanghai",
    "../../etc/passwd",
    "CNY",
    "xxx",
    "=",
]
DB_URLS = [
    "notaurl",
    "mysql://user:pw@localhost/meterdesk",
    "postgresql+asyncpg://localhost/meterdesk",
    "postgresql+psycopg://nobody@127.0.0.1:1/meterdesk",  # nothing listens on port 1
    "sqlite:///relative/nowhere.sqlite3",
    "sqlite://",
]


@dataclass(frozen=True)
class Files:
    """The files of the fuzz: ``inputs`` for options a command reads, ``outputs`` for those it
    writes (all inside the test's folder), ``port``: a serial port that does not exist."""

    inputs: list[str]
    good_inputs: list[str]
    outputs: list[str]
    port: str


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    root = tmp_path_factory.mktemp("fuzz-files")
    dorm = (REPO / "resources" / "tariffs" / "dorm-electricity.toml").read_bytes()
    made = {
        "deep.toml": b"x = " + b"[" * 3000 + b"]" * 3000 + b"\n",
        "bom.toml": b"\xef\xbb\xbf" + dorm,
        "latin1.toml": 'name = "Caf\xe9"\n'.encode("latin-1"),
        "empty.toml": b"",
        "garbage.bin": bytes(range(256)) * 8,
        "big.csv": b"2026-09-01T00:00,2026-09-02T00:00,1\n" * 120_000,
        "usage.csv": b"start,end,quantity\n2026-09-01T00:00,2026-09-02T00:00,5\n",
        "ages.csv": b"start,end,quantity\n0001-01-01T00:00,9999-12-31T00:00,5\n",
        "policy.toml": b'name = "P"\nalarm_1 = "20.00"\nalarm_2 = "5.00"\n'
        b'overdraft_limit = "0.00"\nclose_permit = "1.00"\n',
    }
    for name, data in made.items():
        (root / name).write_bytes(data)
    inputs = [str(root / name) for name in made]
    if hasattr(os, "mkfifo"):
        os.mkfifo(root / "fifo")
        inputs.append(str(root / "fifo"))
    inputs += [
        str(root),  # a folder
        str(root / "missing.toml"),
        str(REPO / "resources" / "tariffs" / "tou-electricity.toml"),
        *(device for device in ("/dev/zero", "/dev/urandom") if os.path.exists(device)),
    ]
    out = root / "out"
    out.mkdir()
    outputs = [
        str(out / "file.toml"),
        str(out / "site.xlsx"),
        str(out / "receipt.pdf"),
        str(out / "no" / "such" / "folder" / "x.pdf"),
        str(out),  # a folder
    ]
    good = [
        str(REPO / "resources" / "tariffs" / "tou-electricity.toml"),
        str(root / "policy.toml"),
        str(root / "bom.toml"),
        str(root / "usage.csv"),
    ]
    return Files(inputs, good, outputs, str(root / "no-such-port"))


@dataclass(frozen=True)
class Site:
    """The fuzzed site's data folder and the names it holds (accounts, rooms, buildings,
    buses, meters, tariff plans, policies, operators), so that runs get past "there is no
    such room" to the checks behind it."""

    folder: Path
    names: list[str]
    by_option: dict[str, list[str]]  # the names an option takes: "room" -> the room labels


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, _sqlite_template: Path) -> Site:
    """A small demo site (one floor of three rooms, its buses, meters, tariffs, policies and
    one operator per role) in a migrated data folder, and the names of its things and of the
    meter profiles."""
    folder = tmp_path_factory.mktemp("fuzz-site")
    db = Database(_sqlite_copy(_sqlite_template, folder))
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=3))
    # A cheap hash: every command signs in, and the shipped cost (a third of a second) would
    # be most of this test's time. The verifier reads the cost from the hash itself.
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    by_option: dict[str, list[str]] = {}
    with db.transaction() as session:
        session.execute(update(Operator).values(password_hash=cheap))
        for dest, column in (
            ("account", Account.number),
            ("room", Room.label),
            ("building", Building.name),
            ("code", Building.code),
            ("bus", Bus.name),
            ("meter", Meter.serial),
            ("plan", TariffPlan.name),
            ("policy", BalancePolicy.name),
            ("operator", Operator.username),
        ):
            by_option[dest] = [str(value) for value in session.scalars(select(column)).all()]
    db.dispose()
    by_option["profile"] = available_profiles()
    names = sorted({name for values in by_option.values() for name in values})
    return Site(folder, names, by_option)


COMMANDS = dict(commands(build_parser()))


def values_for(
    path: tuple[str, ...], action: argparse.Action, files: Files, site: Site
) -> st.SearchStrategy[str]:
    """What the fuzz gives one option of one command."""
    if action.dest == "user":  # mostly the administrator, so the command gets past sign-in
        return st.just("admin") | st.just("admin") | st.just("admin") | st.sampled_from(TYPED)
    if action.dest == "port":
        return st.just(files.port)
    if action.dest in OUTPUT_DESTS or (action.dest == "file" and path in OUTPUT_COMMANDS):
        return st.sampled_from(files.outputs)
    if action.dest in INPUT_DESTS:
        return st.sampled_from(files.inputs) | st.sampled_from(TYPED)
    if path == ("serve",) and action.dest == "seconds":
        return st.just("0.2")
    typed = (
        st.sampled_from(NASTY)
        | st.sampled_from(TYPED)
        | st.sampled_from(site.names)
        | st.text(
            st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
        )
    )
    if action.choices:
        return st.sampled_from([str(choice) for choice in action.choices]) | typed
    return typed


def plausible_for(
    path: tuple[str, ...], action: argparse.Action, files: Files, site: Site
) -> st.SearchStrategy[str]:
    """A value the option could well take, so that the run gets to the option under test."""
    if action.dest in ("user", "port") or action.dest in OUTPUT_DESTS or path == ("serve",):
        return values_for(path, action, files, site)
    if action.dest == "file" and path in OUTPUT_COMMANDS:
        return values_for(path, action, files, site)
    if action.dest in INPUT_DESTS:
        return st.sampled_from(files.good_inputs)
    if action.choices:
        return st.sampled_from([str(choice) for choice in action.choices])
    if site.by_option.get(action.dest):
        return st.sampled_from(site.by_option[action.dest])
    return st.sampled_from(SANE)


@st.composite
def argv_of(draw: st.DrawFn, path: tuple[str, ...], files: Files, site: Site) -> list[str]:
    """The words of one run of the command at ``path``: its required options and positionals
    always (one of each required either-or group), the others now and then. One option, the
    focus, gets the fuzz's values; the others plausible ones, so that the run gets past
    "there is no such room" to the focus's own checks."""
    parser = COMMANDS[path]
    actions = [action for action in parser._actions if action.dest not in PLACE_DESTS]
    focus = draw(st.sampled_from(actions)) if actions else None
    picked: dict[int, argparse.Action] = {}  # one member of each either-or group
    for group in parser._mutually_exclusive_groups:
        members = [action for action in group._group_actions if action.dest not in PLACE_DESTS]
        if members and (group.required or draw(st.booleans())):
            picked[id(group)] = focus if focus in members else draw(st.sampled_from(members))
    words = list(path)
    for action in actions:
        group = next(
            (g for g in parser._mutually_exclusive_groups if action in g._group_actions), None
        )
        if group is not None:
            if picked.get(id(group)) is not action:
                continue
        elif not (action.required or not action.option_strings):
            wanted = action is focus or (path == ("serve",) and action.dest == "seconds")
            if not wanted and not draw(st.booleans()):
                continue
        if action.nargs == 0:  # a flag
            words.append(action.option_strings[0])
            continue
        values = values_for if action is focus else plausible_for
        value = draw(values(path, action, files, site))
        if action.option_strings:
            words.append(f"{action.option_strings[0]}={value}")  # "=": a value may start with -
        else:
            words.append(value if not value.startswith("-") else f"./{value}")
    url = draw(st.sampled_from([*[None] * 12, *DB_URLS]))  # now and then, a bad --db
    if url is not None:
        words.append(f"--db={url}")
    return words


class Hung(Exception):
    """A command ran past ``RUN_LIMIT_S``."""


@contextlib.contextmanager
def time_limit(seconds: float, what: str) -> Iterator[None]:
    def alarm(_signum: int, _frame: FrameType | None) -> None:
        raise Hung(f"{what} ran for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


DOCUMENTED = {int(code) for code in ExitCode}


def run_command(argv: list[str]) -> tuple[int, str]:
    """``main.py ARGV``: its exit code and stderr (argparse's refusals are exit 2)."""
    err = io.StringIO()
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")  # with .buffer, as sys.stdout
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        time_limit(RUN_LIMIT_S, " ".join(argv)[:200]),
    ):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
    return code, err.getvalue()


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="the hang guard needs SIGALRM")
@pytest.mark.parametrize(
    "path",
    [
        pytest.param(path, id=" ".join(path))
        if path not in EXCLUDED
        else pytest.param(path, id=" ".join(path), marks=pytest.mark.skip(EXCLUDED[path]))
        for path in COMMANDS
    ],
)
def test_every_command_ends_with_a_documented_exit_code_and_no_traceback(
    path: tuple[str, ...], site: Site, files: Files, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    # A reset of the administrator's own password keeps it, so later runs still sign in.
    monkeypatch.setenv(NEW_PASSWORD_ENV, PASSWORD)
    monkeypatch.setenv("METERDESK_DATA_DIR", str(site.folder))
    monkeypatch.chdir(site.folder)  # a relative path a run writes to lands in the test's folder

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(argv=argv_of(path, files, site))
    def check(argv: list[str]) -> None:
        code, err = run_command([*argv, f"--data-dir={site.folder}"])
        assert "Traceback" not in err, err
        assert code in DOCUMENTED, (code, err)
        if code != ExitCode.OK:
            assert err.strip(), f"exit {code} with nothing said on stderr"

    check()
