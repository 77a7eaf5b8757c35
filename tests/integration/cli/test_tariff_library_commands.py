"""``main.py tariff import / export / list`` as separate processes: output, files, exit codes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from app.demo.site import DEMO_PASSWORD
from tests.support import REPO, unmigrated_folder

RunMain = Callable[..., subprocess.CompletedProcess[str]]
OneLineError = Callable[[subprocess.CompletedProcess[str]], str]

NAME = "Hostel electricity"
HEAD = f'name = "{NAME}"\nutility = "electricity"\nunit = "kWh"\ncurrency = "CNY"\n'
# Byte-exact round trips: CRLF line ends, CJK comment, trailing blanks, no final newline.
FIRST = (
    ("# 学生宿舍 first\n" + HEAD + 'effective_from = 2026-09-01\nprice = "0.5800"\n   ')
    .replace("\n", "\r\n")
    .encode("utf-8")
)
SECOND = (HEAD + 'effective_from = 2027-01-01\nprice = "0.6100"\n\n').encode("utf-8")


def run_bytes(*args: str) -> subprocess.CompletedProcess[bytes]:
    """``main.py ARGS`` with stdout as bytes (text mode would turn CRLF into LF)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("CI", None)
    return subprocess.run(
        [sys.executable, "main.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=180,
        check=False,
    )


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


ADMIN = ("--user", "admin")  # changing tariffs needs an operator who may


ADMIN_PASSWORD = "tariff-admin-1"


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METERDESK_PASSWORD", ADMIN_PASSWORD)


def first_admin(run_main: RunMain, *options: str) -> None:
    made = run_main("operator", "first-admin", "--user", "admin", *options)
    assert made.returncode == 0, made.stderr


@pytest.fixture
def where(tmp_path: Path, run_main: RunMain) -> list[str]:
    """``--data-dir`` of an upgraded database with only its administrator."""
    options = ["--data-dir", str(tmp_path / "data")]
    upgraded = run_main("db", "upgrade", *options)
    assert upgraded.returncode == 0, upgraded.stderr
    first_admin(run_main, *options)
    return options


@pytest.fixture
def run_db_upgrade(tmp_path: Path, run_main: RunMain, db_url: str) -> None:
    """The database of ``db_url`` (SQLite, then PostgreSQL), upgraded, with its admin."""
    options = ["--db", db_url, "--data-dir", str(tmp_path / "data")]
    upgraded = run_main("db", "upgrade", *options)
    assert upgraded.returncode == 0, upgraded.stderr
    first_admin(run_main, *options)


def test_import_export_list_round_trip(
    tmp_path: Path, run_main: RunMain, db_url: str, run_db_upgrade: None
) -> None:
    options = ["--db", db_url, "--data-dir", str(tmp_path / "data")]
    first, second = write(tmp_path / "first.toml", FIRST), write(tmp_path / "second.toml", SECOND)

    created = run_main("tariff", "import", first, *options, *ADMIN)
    assert created.returncode == 0, created.stderr
    assert created.stdout == (
        f"Imported '{NAME}': a new tariff plan, its first version in force from 2026-09-01.\n"
    )
    added = run_main("tariff", "import", second, *options, *ADMIN)
    assert added.returncode == 0, added.stderr
    assert added.stdout == f"Imported '{NAME}': a new version in force from 2027-01-01.\n"
    again = run_main("tariff", "import", first, *options, *ADMIN)
    assert again.returncode == 0, again.stderr
    assert "already imported with exactly this text (revision 1); nothing changed" in again.stdout

    listed = run_main("tariff", "list", "--json", *options)
    assert listed.returncode == 0, listed.stderr
    [plan] = json.loads(listed.stdout)["plans"]
    assert (plan["name"], plan["utility"], plan["unit"], plan["currency"]) == (
        NAME,
        "electricity",
        "kWh",
        "CNY",
    )
    assert [(v["effective_from"], v["revision"], v["usage_charges"]) for v in plan["versions"]] == [
        ("2026-09-01", 1, 0),
        ("2027-01-01", 1, 0),
    ]

    between = run_bytes("tariff", "export", "--plan", NAME, "--at", "2026-12-31", *options)
    assert between.returncode == 0, between.stderr
    assert between.stdout == FIRST
    out = tmp_path / "out" / "exported.toml"
    out.parent.mkdir()
    after = run_main(
        "tariff", "export", "--plan", NAME, "--at", "2030-01-01", "--output", str(out), *options
    )
    assert after.returncode == 0, after.stderr
    assert out.read_bytes() == SECOND
    assert after.stdout == f"Wrote '{NAME}', version from 2027-01-01, to {out}.\n"
    before = run_main("tariff", "export", "--plan", NAME, "--at", "2026-08-31", *options)
    assert before.returncode == 1
    assert "no version in force on 2026-08-31: its first version starts 2026-09-01" in (
        before.stderr
    )


def test_a_revision_replaces_the_text_and_list_shows_it(
    tmp_path: Path, run_main: RunMain, where: list[str]
) -> None:
    first = write(tmp_path / "first.toml", FIRST)
    assert run_main("tariff", "import", first, *where, *ADMIN).returncode == 0
    changed = write(tmp_path / "changed.toml", FIRST.replace(b"0.5800", b"0.6000"))
    revised = run_main("tariff", "import", changed, *where, *ADMIN)
    assert revised.returncode == 0, revised.stderr
    assert revised.stdout == (
        f"Imported '{NAME}': the version from 2026-09-01 was replaced (revision 2); "
        "no usage had been priced with it.\n"
    )
    listed = run_main("tariff", "list", *where)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0] == f"{NAME} (electricity, kWh, CNY)"
    assert listed.stdout.splitlines()[1].startswith(
        "  from 2026-09-01  revision 2  0 usage charges"
    )
    exported = run_bytes("tariff", "export", "--plan", NAME, "--at", "2026-09-01", *where)
    assert exported.stdout == FIRST.replace(b"0.5800", b"0.6000")


def test_a_file_with_mistakes_is_reported_line_by_line_and_not_stored(
    tmp_path: Path, run_main: RunMain, where: list[str]
) -> None:
    broken = HEAD.replace("kWh", "m3") + "effective_from = 2026-09-01\nprice = 0.58\n"
    path = write(tmp_path / "broken.toml", broken.encode())
    proc = run_main("tariff", "import", path, *where, *ADMIN)
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 2, proc.stderr
    assert lines[0] == f"error: {path}: 'unit' is 'm3'; electricity is billed in kWh."
    assert lines[1].startswith(f"error: {path}: price: 0.58 is a bare number")
    listed = run_main("tariff", "list", *where)
    assert listed.stdout == (
        "No tariff plans are stored yet; add one with 'main.py tariff import FILE'.\n"
    )


def test_a_plan_keeps_its_utility(
    tmp_path: Path, run_main: RunMain, where: list[str], one_line_error: OneLineError
) -> None:
    assert (
        run_main("tariff", "import", write(tmp_path / "a.toml", SECOND), *where, *ADMIN).returncode
        == 0
    )
    water = SECOND.replace(b'"electricity"', b'"water"').replace(b"kWh", b"m3")
    proc = run_main("tariff", "import", write(tmp_path / "w.toml", water), *where, *ADMIN)
    assert proc.returncode == 1
    line = one_line_error(proc)
    assert f"'{NAME}' is electricity in kWh priced in CNY, but this file says water" in line
    assert "give it another name to make a new plan" in line


def test_a_version_with_priced_usage_is_refused(
    tmp_path: Path, run_main: RunMain, one_line_error: OneLineError
) -> None:
    folder = tmp_path / "site"
    seeded = run_main("demo", "seed", "--data-dir", str(folder))
    assert seeded.returncode == 0, seeded.stderr
    with sqlite3.connect(folder / "meterdesk.sqlite3") as conn:
        version_id, text = conn.execute(
            "SELECT v.id, v.source_toml FROM tariff_version v JOIN tariff_plan p "
            "ON p.id = v.plan_id WHERE p.name = 'Dormitory electricity'"
        ).fetchone()
        conn.execute(
            "INSERT INTO usage_charge (account_id, meter_id, start_at, end_at, quantity, "
            "tariff_version_id, kind, unit_price, amount_exact) VALUES (1, 1, "
            "'2026-09-02 00:00:00', '2026-09-02 00:15:00', '0.25', ?, 'energy', '0.58', '0.145')",
            (version_id,),
        )
    changed = write(tmp_path / "dorm.toml", text.replace("0.5800", "0.6000").encode())
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("METERDESK_PASSWORD", DEMO_PASSWORD)
        proc = run_main(
            "tariff", "import", changed, "--data-dir", str(folder), "--user", "supervisor"
        )
    assert proc.returncode == 1
    line = one_line_error(proc)
    assert "usage has been priced with it" in line
    assert "give the file a new effective_from" in line
    listed = run_main("tariff", "list", "--json", "--data-dir", str(folder))
    plans = {plan["name"]: plan for plan in json.loads(listed.stdout)["plans"]}
    assert [
        (v["revision"], v["usage_charges"]) for v in plans["Dormitory electricity"]["versions"]
    ] == [(1, 1)]


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (
            ["import", "{tmp}/missing.toml", *ADMIN],
            2,
            "cannot read {tmp}/missing.toml: No such file",
        ),
        (["import", "{tmp}/latin1.toml", *ADMIN], 2, "not UTF-8 text"),
        (["export", "--plan", "Gas"], 1, "no tariff plan named 'Gas': no tariffs are stored yet"),
        (["export", "--plan", "x", "--at", "2026-02-30"], 2, "'2026-02-30' is not a date"),
    ],
)
def test_unreadable_files_and_bad_requests_say_what_to_do(
    tmp_path: Path, run_main: RunMain, where: list[str], args: list[str], code: int, says: str
) -> None:
    (tmp_path / "latin1.toml").write_bytes(HEAD.replace(NAME, "Caf\xe9").encode("latin-1"))
    proc = run_main("tariff", *[arg.format(tmp=tmp_path) for arg in args], *where)
    assert proc.returncode == code
    assert says.format(tmp=tmp_path) in " ".join(proc.stderr.split())
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_a_cashier_may_not_change_a_tariff(
    tmp_path: Path, run_main: RunMain, where: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METERDESK_NEW_PASSWORD", "till-0001")
    added = run_main("operator", "add", *ADMIN, "--new", "wang", "--role", "cashier", *where)
    assert added.returncode == 0, added.stderr
    monkeypatch.setenv("METERDESK_PASSWORD", "till-0001")
    path = write(tmp_path / "a.toml", SECOND)
    proc = run_main("tariff", "import", path, *where, "--user", "wang")
    assert proc.returncode == 16
    assert "A cashier may not change tariffs; ask a supervisor" in proc.stderr
    listed = run_main("tariff", "list", "--json", *where)
    assert json.loads(listed.stdout)["plans"] == []
    operators = json.loads(run_main("operator", "list", "--json", *where).stdout)
    assert [(o["username"], o["role"]) for o in operators] == [
        ("admin", "admin"),
        ("wang", "cashier"),
    ]


def test_an_unwritable_output_file_is_exit_2(
    tmp_path: Path, run_main: RunMain, where: list[str], one_line_error: OneLineError
) -> None:
    assert (
        run_main("tariff", "import", write(tmp_path / "a.toml", SECOND), *where, *ADMIN).returncode
        == 0
    )
    target = tmp_path / "no-such-folder" / "out.toml"
    proc = run_main(
        "tariff", "export", "--plan", NAME, "--at", "2027-01-01", "--output", str(target), *where
    )
    assert proc.returncode == 2
    assert f"cannot write {target}" in one_line_error(proc)
    assert "Choose another --output file" in proc.stderr


def test_a_database_that_needs_an_upgrade_is_refused(tmp_path: Path, run_main: RunMain) -> None:
    path = write(tmp_path / "a.toml", SECOND)
    folder = unmigrated_folder(tmp_path / "empty")
    proc = run_main("tariff", "import", path, "--data-dir", str(folder), *ADMIN)
    assert proc.returncode == 8
    assert "Run 'main.py db upgrade' first" in proc.stderr
