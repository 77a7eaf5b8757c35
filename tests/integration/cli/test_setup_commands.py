"""The "Block 7" site set up from an empty data folder through ``main.py`` only, as an office
scripts it: the first administrator (which makes the database), the site, the building and its
30 rooms (looked at with --dry-run first), the tariff, the balance policy, the load-guard
settings, the bus, one meter by hand, then the other 29 meters and the 30 tenants through the
workbook (template, a filled CSV folder, --dry-run, import). Every command's exit codes: 0 done,
1 refused with one ``error:`` line naming the field (nothing written), 2 bad usage, 8 on an
empty folder (nothing created), 16 not signed in or not allowed.

The site is built once for the module by separate ``main.py`` processes; the many refusals run
in one process that calls ``app.cli.main`` as ``main.py`` does (a process costs a second)."""

from __future__ import annotations

import csv
import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.store.database import DB_FILE_NAME
from tests.support import REPO, run_python

ADMIN_PW = "block-7-admin"
CASHIER_PW = "block-7-cashier"
TECH_PW = "block-7-tech"
BUS = "Block 7 meters"
LABELS = [f"7-{floor}{n:02d}" for floor in (1, 2, 3) for n in range(1, 11)]
POLICY = """\
name = "Student dormitory"
alarm_1 = "20.00"
alarm_2 = "5.00"
overdraft_limit = "0.00"
close_permit = "1.00"
"""
GUARD = """\
total_mode = "trip"
total_limit_w = 4000
total_duration_s = 30
increment_mode = "trip"
pf_threshold = "0.950"
bands = [[30, 300, false], [300, 700, false], [700, 3000, true]]
restore_delay_s = 300
max_auto_restores_per_day = 3
"""


def opening(n: int) -> str:
    return "" if n % 3 == 0 else f"{10 + n}.50"


@dataclass
class Built:
    folder: Path  # the site's data folder
    files: Path  # the files the office prepared
    steps: dict[str, subprocess.CompletedProcess[str]]


def main(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``main.py ARGS --data-dir FOLDER`` as the administrator unless ``env`` says otherwise."""
    return run_python(
        ["main.py", *args, "--data-dir", str(folder)],
        env={"METERDESK_PASSWORD": ADMIN_PW, "METERDESK_DATA_DIR": str(folder), **env},
        unset=["CI"],
    )


def fill_template(folder: Path) -> None:
    """Add the rows an office types into the template's CSV files (header kept as written)."""
    rows = {
        "meters": [
            {
                "serial": f"H7-{n + 1:03d}",
                "utility": "electricity",
                "room": label,
                "bus": BUS,
                "address": f"{n + 1:03d}",  # leading zeros, as a spreadsheet might keep them
                "profile": "hiking-dds238",
                "initial_reading": f"{n}.25",
            }
            for n, label in enumerate(LABELS)
            if n > 0  # H7-001 was added by hand
        ],
        "tenants": [
            {
                "room": label,
                "holder": f"Student {n + 1}",
                "holder_ref": f"2026{n:04d}",
                "tariffs": "Dormitory electricity",
                "policy": "Student dormitory",
                "opening_balance": opening(n),
            }
            for n, label in enumerate(LABELS)
        ],
    }
    for sheet, lines in rows.items():
        path = folder / f"{sheet}.csv"
        with path.open(encoding="utf-8-sig", newline="") as stream:
            header = next(csv.reader(stream))
        with path.open("a", encoding="utf-8", newline="") as stream:
            writer = csv.writer(stream, lineterminator="\r\n")
            writer.writerows([line.get(column, "") for column in header] for line in lines)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("block7")
    folder, files = root / "site", root / "files"
    files.mkdir()
    (files / "policy.toml").write_text(POLICY, encoding="utf-8")
    (files / "guard.toml").write_text(GUARD, encoding="utf-8")
    tariff = str(REPO / "resources" / "tariffs" / "dorm-electricity.toml")
    sheets = files / "sheets"
    tech = {"METERDESK_PASSWORD": TECH_PW}
    steps: dict[str, subprocess.CompletedProcess[str]] = {}
    plan: list[tuple[str, str, dict[str, str]]] = [
        ("first-admin", "operator first-admin --user admin --name 'Site Admin'", {}),
        (
            "site init",
            "site init --name 'North Dormitories' --timezone Asia/Shanghai --currency cny "
            "--receipt-header 'North Dormitories\\nOffice 8:00-17:00' --user admin",
            {},
        ),
        (
            "add cashier",
            "operator add --user admin --new wang --role cashier",
            {"METERDESK_NEW_PASSWORD": CASHIER_PW},
        ),
        (
            "add technician",
            "operator add --user admin --new zhao --role technician",
            {"METERDESK_NEW_PASSWORD": TECH_PW},
        ),
        ("building add", "building add --name 'Block 7' --user admin", {}),
        (
            "rooms dry run",
            "room generate --building 'Block 7' --floors 1-3 --rooms 01-10 --dry-run",
            {},
        ),
        ("rooms listed", "room list --json", {}),
        ("rooms", "room generate --building 7 --floors 1-3 --rooms 01-10 --user admin", {}),
        ("tariff import", f"tariff import {tariff} --user admin", {}),
        ("policy import", f"policy import {files / 'policy.toml'} --user admin", {}),
        ("load-guard import", f"load-guard import {files / 'guard.toml'} --user admin", {}),
        (
            "bus add",
            f"bus add --name '{BUS}' --port sim://block7 --profile hiking-dds238 --user zhao",
            tech,
        ),
        (
            "meter add",
            f"meter add --serial H7-001 --bus '{BUS}' --address 1 --room 7-101 --initial 0.25 "
            "--user zhao",
            tech,
        ),
        ("template", f"site template {sheets}", {}),
    ]
    for name, command, env in plan:
        steps[name] = main(folder, *shlex.split(command), **env)
        assert steps[name].returncode == 0, (name, steps[name].stderr)
    fill_template(sheets)
    for name, args in (
        ("import dry run", ["site", "import", str(sheets), "--dry-run"]),
        ("import", ["site", "import", str(sheets), "--user", "admin"]),
        ("accounts", ["account", "list", "--json"]),
    ):
        steps[name] = main(folder, *args)
        assert steps[name].returncode == 0, (name, steps[name].stderr)
    reads = {  # only reading, or changing nothing: one process for all
        "verify": ["ledger", "verify", "--json"],
        "import again": ["site", "import", str(sheets), "--user", "admin"],
        "site": ["site", "show", "--json"],
        "export": ["site", "export", str(files / "exported")],
    }
    for name, proc in zip(reads, run_many(folder, [(a, {}) for a in reads.values()]), strict=True):
        steps[name] = proc
        assert proc.returncode == 0, (name, proc.stderr)
    return Built(folder, files, steps)


# -- in one process: many commands as main.py runs them -----------------------------------------

DRIVER = """
import contextlib, io, json, os, sys
from app.cli import main
results = []
for run in json.loads(sys.stdin.read()):
    os.environ.update(run["env"])
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(run["argv"])
        except SystemExit as exit:
            code = exit.code
    results.append({"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()})
print(json.dumps(results))
"""


def run_many(
    folder: Path, runs: Sequence[tuple[Sequence[str], dict[str, str]]]
) -> Iterator[subprocess.CompletedProcess[str]]:
    """Each (argv, environment) through ``app.cli.main`` in one process, on ``folder``."""
    payload = json.dumps(
        [
            {
                "argv": [*argv, "--data-dir", str(folder)],
                "env": {"METERDESK_PASSWORD": ADMIN_PW, **env},
            }
            for argv, env in runs
        ]
    )
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("CI", None)  # the program must not behave differently under CI
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER],
        input=payload,
        env=env,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    for (argv, _env), result in zip(runs, json.loads(proc.stdout), strict=True):
        yield subprocess.CompletedProcess(
            list(argv), result["code"], result["stdout"], result["stderr"]
        )


# -- the site, built -------------------------------------------------------------------------


def test_the_first_administrator_makes_the_database_and_the_site_follows(built: Built) -> None:
    steps = built.steps
    assert steps["first-admin"].stdout.strip() == "Administrator admin created."
    assert (built.folder / DB_FILE_NAME).exists()
    assert "Site 'North Dormitories' set up: Asia/Shanghai, CNY." in steps["site init"].stdout
    site = json.loads(steps["site"].stdout)
    assert site == {
        "name": "North Dormitories",
        "timezone": "Asia/Shanghai",
        "currency": "CNY",
        "address": "",
        "receipt_header": "North Dormitories\nOffice 8:00-17:00",  # \\n typed: a new line
    }
    assert "Operator wang added as cashier." in steps["add cashier"].stdout
    assert "Building Block 7 added (code 7: rooms read 7-101...)." in steps["building add"].stdout


def test_rooms_are_looked_at_first_then_generated(built: Built) -> None:
    steps = built.steps
    assert steps["rooms dry run"].stdout.strip() == (
        "30 rooms would be added: 7-101, 7-102, 7-103, 7-104, 7-105, 7-106, ..., 7-308, 7-309, "
        "7-310. Nothing changed."
    )
    assert json.loads(steps["rooms listed"].stdout) == []  # the dry run added nothing
    assert steps["rooms"].stdout.startswith("30 rooms added: 7-101, 7-102")


def test_tariff_policy_guard_bus_and_the_first_meter_are_stored(built: Built) -> None:
    steps = built.steps
    assert "Imported 'Dormitory electricity'" in steps["tariff import"].stdout
    assert steps["policy import"].stdout.strip() == "Policy 'Student dormitory' added."
    assert steps["load-guard import"].stdout.strip() == "Load-guard settings of the site: added."
    assert steps["bus add"].stdout.startswith(
        f"Bus {BUS} added on sim://block7 at 9600 8N1, profile hiking-dds238."
    )
    assert steps["meter add"].stdout.strip() == "Meter H7-001 added in room 7-101."


def test_the_workbook_is_previewed_then_imported_once(built: Built) -> None:
    steps = built.steps
    dry = steps["import dry run"].stdout
    assert "meters row 2: add meter H7-002: Block 7 meters 2, room 7-102" in dry
    assert "tenants row 3: add account of 7-102: Student 2, opening balance 11.50" in dry
    assert dry.strip().endswith(
        "Dry run: meters: 29 to add, 0 to change, 0 unchanged; tenants: 30 to add, 0 to change, "
        "0 unchanged. Nothing was written."
    )
    assert (
        steps["import"]
        .stdout.strip()
        .endswith(
            "Imported: meters: 29 added, 0 changed, 0 unchanged; tenants: 30 added, 0 changed, "
            "0 unchanged."
        )
    )
    assert (
        steps["import again"]
        .stdout.strip()
        .endswith(
            "Nothing to change: meters: 0 to add, 0 to change, 29 unchanged; tenants: 0 to add, "
            "0 to change, 30 unchanged."
        )
    )
    verify = json.loads(steps["verify"].stdout)
    paid = [n for n in range(30) if opening(n)]
    assert (verify["ok"], verify["accounts"], verify["receipts"]) == (True, 30, len(paid))


def test_account_list_shows_what_the_import_opened(built: Built) -> None:
    rows = json.loads(built.steps["accounts"].stdout)
    assert [(r["account"], r["room"], r["holder"], r["status"], r["balance"]) for r in rows] == [
        (str(100001 + n), label, f"Student {n + 1}", "open", opening(n) or "0.00")
        for n, label in enumerate(LABELS)
    ]
    assert [r["meters"] for r in rows] == [[f"H7-{n + 1:03d}"] for n in range(30)]


def test_the_export_has_the_sites_rows(built: Built) -> None:
    exported = built.files / "exported"
    with (exported / "meters.csv").open(encoding="utf-8-sig", newline="") as stream:
        meters = list(csv.DictReader(stream))
    assert [(m["serial"], m["address"], m["initial_reading"]) for m in meters] == [
        (f"H7-{n + 1:03d}", str(n + 1), f"{n}.25") for n in range(30)
    ]


# -- exit codes --------------------------------------------------------------------------------


OneLine = Callable[[subprocess.CompletedProcess[str]], str]


def test_every_read_only_command_on_an_empty_folder_exits_8_and_creates_nothing(
    built: Built, tmp_path: Path, one_line_error: OneLine
) -> None:
    empty = tmp_path / "nothing-here"
    sheets = str(built.files / "sheets")
    commands: list[Sequence[str]] = [
        ["account", "list"],
        ["account", "show", "--account", "100001"],
        ["site", "show"],
        ["building", "list"],
        ["room", "list"],
        ["room", "generate", "--building", "7", "--floors", "1", "--rooms", "01-02", "--dry-run"],
        ["bus", "list"],
        ["meter", "list"],
        ["policy", "list"],
        ["load-guard", "list"],
        ["tariff", "list"],
        ["operator", "list"],
        ["ledger", "verify"],
        ["site", "import", sheets, "--dry-run"],
        ["site", "export", str(tmp_path / "out")],
        ["building", "add", "--name", "Block 8", "--user", "admin"],
        ["bus", "add", "--name", "B", "--port", "sim://b", "--profile", "hiking-dds238",
         "--user", "admin"],
        ["site", "import", sheets, "--user", "admin"],
    ]  # fmt: skip
    for proc in run_many(empty, [(argv, {}) for argv in commands]):
        assert proc.returncode == 8, (proc.args, proc.stderr)
        line = one_line_error(proc)
        assert f"There is no MeterDesk database in {empty} yet; nothing was created." in line
    assert not empty.exists()
    assert not (tmp_path / "out").exists()


REFUSED = [
    # (argv, environment, exit code, what the one error line says)
    (["meter", "add", "--serial", "H7-031", "--bus", BUS, "--address", "5", "--user", "zhao"],
     {"METERDESK_PASSWORD": TECH_PW}, 1,
     f"error: address: Address 5 on bus {BUS} belongs to meter H7-005"),
    (["meter", "add", "--serial", "h7-001", "--bus", BUS, "--address", "31", "--user", "zhao"],
     {"METERDESK_PASSWORD": TECH_PW}, 1, "error: serial: Serial H7-001 is already another"),
    (["meter", "add", "--serial", "H7-031", "--bus", BUS, "--address", "31", "--initial", "-2",
      "--user", "zhao"], {"METERDESK_PASSWORD": TECH_PW}, 1, "error: initial-reading: "),
    (["meter", "retire", "--meter", "H7-001", "--final", "0.1", "--user", "zhao"],
     {"METERDESK_PASSWORD": TECH_PW}, 1, "error: final-reading: The final reading 0.100 kWh is "
     "below meter H7-001's last good reading 0.250 kWh ("),
    (["bus", "add", "--name", "B2", "--port", "SIM://Block7", "--profile", "hiking-dds238",
      "--user", "zhao"], {"METERDESK_PASSWORD": TECH_PW}, 1,
     f"error: port: Bus {BUS} already uses sim://block7: one port has one owner."),
    (["bus", "add", "--name", "B2", "--port", "sim://b2", "--profile", "hiking-dds238",
      "--baud", "1234", "--user", "zhao"], {"METERDESK_PASSWORD": TECH_PW}, 1, "error: baud: "),
    (["bus", "change", "--bus", BUS, "--name", "Block 7 line", "--port", "sim://b7", "--user",
      "wang"], {"METERDESK_PASSWORD": CASHIER_PW}, 16,
     "error: A cashier may not add, change and retire buses and meters; ask a technician"),
    (["room", "add", "--building", "Block 7", "--floor", "four", "--room", "401", "--user",
      "admin"], {}, 1, "error: floor: The floor 'four' is not a whole number"),
    (["room", "retire", "--room", "7-101", "--user", "admin"], {}, 1,
     "error: room: Room 7-101 has open account 100001 (Student 1); move or settle it first."),
    (["building", "add", "--name", "block 7", "--user", "admin"], {}, 1,
     "error: name: There is already a building called Block 7."),
    (["site", "init", "--name", "Other", "--timezone", "UTC", "--currency", "EUR", "--user",
      "admin"], {}, 1, "error: name: This database already holds the site 'North Dormitories'"),
    (["site", "set", "--currency", "EUR", "--user", "admin"], {}, 1,
     "error: currency: The currency stays CNY"),
    (["site", "set", "--timezone", "Mars/Base", "--user", "admin"], {}, 1,
     "error: timezone: 'Mars/Base' is not a time zone"),
    (["policy", "assign", "--policy", "VIP", "--building", "Block 7", "--user", "admin"], {}, 1,
     "error: policy: There is no balance policy 'VIP'"),
    (["tariff", "assign", "--plan", "Free", "--account", "100001", "--user", "admin"], {}, 1,
     "error: plan: There is no tariff plan 'Free'"),
    (["operator", "role", "--user", "admin", "--operator", "admin", "--role", "cashier"], {}, 1,
     "error: admin is the only administrator still active"),
    (["operator", "disable", "--user", "admin", "--operator", "admin"], {}, 1,
     "error: You cannot switch yourself off"),
    (["building", "add", "--name", "Block 8", "--user", "wang"],
     {"METERDESK_PASSWORD": CASHIER_PW}, 16,
     "error: A cashier may not add, rename and retire buildings and rooms; ask a supervisor"),
    (["building", "add", "--name", "Block 8", "--user", "zhao"], {"METERDESK_PASSWORD": TECH_PW},
     16, "error: A technician may not add, rename and retire buildings and rooms"),
    (["site", "set", "--name", "Mine", "--user", "zhao"], {"METERDESK_PASSWORD": TECH_PW}, 16,
     "error: A technician may not change the site's name"),
    (["policy", "import", "POLICY", "--user", "wang"], {"METERDESK_PASSWORD": CASHIER_PW}, 16,
     "error: A cashier may not change balance policies; ask a supervisor"),
    (["operator", "role", "--user", "zhao", "--operator", "wang", "--role", "admin"],
     {"METERDESK_PASSWORD": TECH_PW}, 16,
     "error: A technician may not manage operators; ask an administrator"),
    (["building", "add", "--name", "Block 8", "--user", "admin"],
     {"METERDESK_PASSWORD": "not the password"}, 16,
     "error: The user name or the password is wrong; try again."),
    (["room", "generate", "--building", "7", "--floors", "4", "--rooms", "01-02"], {}, 2,
     "error: --user: say who adds the rooms (or look first with --dry-run)."),
    (["site", "import", "SHEETS"], {}, 2, "error: --user: say who imports"),
    (["site", "set", "--user", "admin"], {}, 2,
     "error: nothing to change: give --name, --timezone, --currency, --address or "
     "--receipt-header."),
    (["bus", "change", "--bus", BUS, "--user", "admin"], {}, 2, "error: nothing to change"),
]  # fmt: skip


def test_refusals_exit_1_with_the_field_16_when_not_allowed_and_2_for_bad_usage(
    built: Built, one_line_error: OneLine
) -> None:
    policy = str(built.files / "policy.toml")
    sheets = str(built.files / "sheets")
    runs = [
        ([policy if a == "POLICY" else sheets if a == "SHEETS" else a for a in argv], env)
        for argv, env, _code, _says in REFUSED
    ]
    runs.append((["site", "export", str(built.files / "after")], {}))
    *refusals, export = run_many(built.folder, runs)
    for proc, (_argv, _env, code, says) in zip(refusals, REFUSED, strict=True):
        assert proc.returncode == code, (proc.args, proc.stderr)
        line = one_line_error(proc)
        assert line.startswith(says), (proc.args, line)
        if code == 1:
            assert line.endswith("Nothing was changed."), line
    assert export.returncode == 0, export.stderr
    for sheet in ("rooms", "buses", "meters", "tenants"):  # the refusals changed nothing
        before = (built.files / "exported" / f"{sheet}.csv").read_bytes()
        assert (built.files / "after" / f"{sheet}.csv").read_bytes() == before, sheet


def test_a_missing_option_is_bad_usage(built: Built) -> None:
    proc = main(built.folder, "bus", "add", "--name", "B2")
    assert proc.returncode == 2
    assert "the following arguments are required: --port, --profile, --user" in proc.stderr
    assert proc.stdout == ""


def test_a_bad_workbook_names_each_problem_and_writes_nothing(built: Built) -> None:
    bad = built.files / "bad"
    bad.mkdir()
    (bad / "meters.csv").write_text(
        "serial,utility,room,bus,address,profile\r\n"
        f"H7-031,electricity,7-101,{BUS},7,hiking-dds238\r\n"
        "H7-032,electricity,7-999,Block 9 meters,8,hiking-dds238\r\n",
        encoding="utf-8",
    )
    (bad / "tenants.csv").write_text(
        "room,holder,tariffs,policy,opening_balance\r\n"
        "7-101,Somebody Else,Dormitory electricity,Student dormitory,5\r\n",
        encoding="utf-8",
    )
    dry, real = run_many(
        built.folder,
        [
            (["site", "import", str(bad), "--dry-run"], {}),
            (["site", "import", str(bad), "--user", "admin"], {}),
        ],
    )
    for proc in (dry, real):
        assert proc.returncode == 1, proc.stderr
        assert proc.stdout == ""
        assert proc.stderr.splitlines() == [
            f"error: meters row 2, column address: Address 7 on bus {BUS} belongs to meter "
            "H7-007; two meters on one bus cannot share an address.",
            "error: meters row 3, column bus: There is no bus 'Block 9 meters'; add it to the "
            "buses sheet first.",
            "error: tenants row 2, column holder: Room 7-101 has open account 100001 of "
            "Student 1; move or settle it before another holder takes the room.",
            "error: 3 problem(s); nothing was written. Fix the workbook and import it again.",
        ]


# -- lists and assignments ---------------------------------------------------------------------


def test_meter_list_finds_a_bus_as_typed_with_any_case_and_spaces(built: Built) -> None:
    typed, other = run_many(
        built.folder,
        [
            (["meter", "list", "--json", "--bus", " block  7   METERS "], {}),
            (["meter", "list", "--json", "--bus", "Block 8 meters"], {}),
        ],
    )
    assert typed.returncode == 0, typed.stderr
    rows = json.loads(typed.stdout)
    assert [r["serial"] for r in rows] == [f"H7-{n + 1:03d}" for n in range(30)]
    assert {r["bus_name"] for r in rows} == {BUS}
    assert other.returncode == 0, other.stderr
    assert json.loads(other.stdout) == []


VIP = """\
name = "VIP"
alarm_1 = "50.00"
alarm_2 = "10.00"
overdraft_limit = "20.00"
close_permit = "0.00"
hoard_limit = "3000.00"
"""


def test_policies_are_listed_and_assignments_say_which_accounts_moved(
    built: Built, tmp_path: Path
) -> None:
    site = tmp_path / "site"  # a copy: the module's site stays as built
    shutil.copytree(built.folder, site)
    vip = tmp_path / "vip.toml"
    vip.write_text(VIP, encoding="utf-8")
    steps = list(
        run_many(
            site,
            [
                (["policy", "import", str(vip), "--user", "admin"], {}),
                (["policy", "assign", "--policy", "vip", "--building", "Block 7", "--user",
                  "admin"], {}),
                (["policy", "assign", "--policy", "VIP", "--account", "100001", "--user",
                  "admin"], {}),
                (["policy", "assign", "--policy", "Student dormitory", "--account", "100002",
                  "--account", "100003", "--user", "admin"], {}),
                (["tariff", "assign", "--plan", "Dormitory electricity", "--building", "7",
                  "--floor", "1", "--user", "admin"], {}),
                (["policy", "list", "--json"], {}),
                (["policy", "list"], {}),
            ],
        )
    )  # fmt: skip
    for proc in steps:
        assert proc.returncode == 0, (proc.args, proc.stderr)
    *said, listed, lines = (proc.stdout for proc in steps)
    first_20 = ", ".join(str(100001 + n) for n in range(20))
    assert said == [
        "Policy 'VIP' added.\n",
        f"30 account(s) now on policy 'vip': {first_20} ....\n",  # ' ...' and the stop
        "0 account(s) now on policy 'VIP'.\n",
        "2 account(s) now on policy 'Student dormitory': 100002, 100003.\n",
        "0 account(s) now billed on 'Dormitory electricity'.\n",
    ]
    assert json.loads(listed) == [
        {
            "name": "Student dormitory",
            "alarm_1": "20.00",
            "alarm_2": "5.00",
            "overdraft_limit": "0.00",
            "close_permit": "1.00",
            "hoard_limit": None,
            "accounts": 2,
        },
        {
            "name": "VIP",
            "alarm_1": "50.00",
            "alarm_2": "10.00",
            "overdraft_limit": "20.00",
            "close_permit": "0.00",
            "hoard_limit": "3000.00",
            "accounts": 28,
        },
    ]
    assert lines.splitlines() == [
        f"{'Student dormitory':<28} warn 20.00/5.00  overdraft 0.00  restore at 1.00  2 accounts",
        f"{'VIP':<28} warn 50.00/10.00  overdraft 20.00  restore at 0.00  28 accounts",
    ]
