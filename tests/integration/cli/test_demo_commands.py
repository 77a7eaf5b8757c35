"""``main.py demo seed`` as a separate process."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from app.store.database import DB_FILE_NAME

RunMain = Callable[..., subprocess.CompletedProcess[str]]
OneLineError = Callable[[subprocess.CompletedProcess[str]], str]


def _count(database: Path, table: str) -> int:
    conn = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def test_seed_builds_the_demo_site_once(
    tmp_path: Path, run_main: RunMain, one_line_error: OneLineError
) -> None:
    folder = tmp_path / "demo-site"
    database = folder / DB_FILE_NAME
    proc = run_main("demo", "seed", "--data-dir", str(folder))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"Demo site seeded in {database}: 240 rooms, 240 accounts, ")
    assert "360 meters" in proc.stdout
    assert "5 operators (password 'demo'), 60840 past readings." in proc.stdout  # 360 x 169 h
    assert _count(database, "account") == 240
    assert _count(database, "interval_reading") == 60840
    before = database.read_bytes()

    again = run_main("demo", "seed", "--data-dir", str(folder))

    assert again.returncode == 9
    assert "already holds a site" in one_line_error(again)
    assert _count(database, "account") == 240
    assert _count(database, "site") == 1
    assert database.read_bytes() == before


def test_seed_without_data_dir_uses_the_demo_folder(tmp_path: Path, run_main: RunMain) -> None:
    folder = Path(os.environ["METERDESK_DATA_DIR"])
    assert tmp_path in folder.parents
    proc = run_main("demo", "seed", "--buildings", "1", "--floors", "1", "--rooms-per-floor", "4")
    assert proc.returncode == 0, proc.stderr
    assert _count(folder / "demo" / DB_FILE_NAME, "room") == 4
    assert not (folder / DB_FILE_NAME).exists()  # never the real site's database


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--buildings", "0", "buildings must be between 1 and 26"),
        ("--buildings", "27", "buildings must be between 1 and 26"),
        ("--floors", "0", "floors must be between 1 and 99"),
        ("--rooms-per-floor", "248", "rooms per floor must be between 1 and 247"),
        ("--history-days", "93", "history days must be between 0 and 92"),
        ("--history-days", "-1", "history days must be between 0 and 92"),
    ],
)
def test_a_bad_spec_is_refused_before_touching_anything(
    option: str,
    value: str,
    words: str,
    tmp_path: Path,
    run_main: RunMain,
    one_line_error: OneLineError,
) -> None:
    folder = tmp_path / "demo-site"
    proc = run_main("demo", "seed", "--data-dir", str(folder), option, value)
    assert proc.returncode == 2
    assert words in one_line_error(proc)
    assert not folder.exists()


def test_a_spec_that_is_not_a_number_is_a_usage_error(tmp_path: Path, run_main: RunMain) -> None:
    proc = run_main("demo", "seed", "--data-dir", str(tmp_path / "d"), "--floors", "six")
    assert proc.returncode == 2
    assert "invalid int value: 'six'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_seed_into_a_newer_schema_is_refused(
    tmp_path: Path, run_main: RunMain, one_line_error: OneLineError
) -> None:
    folder = tmp_path / "site"
    assert run_main("db", "upgrade", "--data-dir", str(folder)).returncode == 0
    conn = sqlite3.connect(folder / DB_FILE_NAME)
    with conn:
        conn.execute("UPDATE alembic_version SET version_num = 'ffff9999'")
    conn.close()
    proc = run_main("demo", "seed", "--data-dir", str(folder))
    assert proc.returncode == 6
    one_line_error(proc)
    assert _count(folder / DB_FILE_NAME, "site") == 0


def test_seed_a_postgresql_database(tmp_path: Path, run_main: RunMain, postgres_url: str) -> None:
    args = ("--data-dir", str(tmp_path / "d"), "--db", postgres_url)
    proc = run_main("demo", "seed", "--buildings", "1", "--floors", "2", *args)
    assert proc.returncode == 0, proc.stderr
    assert "40 rooms, 40 accounts, 60 meters" in proc.stdout
    assert run_main("demo", "seed", *args).returncode == 9
