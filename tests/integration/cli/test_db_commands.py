"""``main.py db upgrade`` and ``db status`` as separate processes: exit codes and messages."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from app.store.database import DB_FILE_NAME
from app.store.migrate import alembic_config

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()
UNREACHABLE = "postgresql+psycopg://meterdesk:s3cret-pw@127.0.0.1:1/meterdesk"

RunMain = Callable[..., subprocess.CompletedProcess[str]]
OneLineError = Callable[[subprocess.CompletedProcess[str]], str]


def _status(run_main: RunMain, *args: str) -> dict[str, object]:
    proc = run_main("db", "status", "--json", *args)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def _version(path: Path) -> list[str]:
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return [row[0] for row in conn.execute("SELECT version_num FROM alembic_version")]
    finally:
        conn.close()


def test_upgrade_creates_the_database_then_finds_it_current(
    tmp_path: Path, run_main: RunMain
) -> None:
    folder = tmp_path / "site"
    proc = run_main("db", "upgrade", "--data-dir", str(folder))
    assert proc.returncode == 0, proc.stderr
    database = folder / DB_FILE_NAME
    assert proc.stdout.strip() == f"Database {database} upgraded from schema empty to {HEAD}."
    assert _version(database) == [HEAD]

    again = run_main("db", "upgrade", "--data-dir", str(folder))
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"Database {database} is up to date (schema {HEAD})."


def test_status_reports_the_schema_as_json(tmp_path: Path, run_main: RunMain) -> None:
    folder = tmp_path / "site"
    database = str(folder / DB_FILE_NAME)
    assert _status(run_main, "--data-dir", str(folder)) == {
        "database": database,
        "current": None,
        "head": HEAD,
        "up_to_date": False,
    }
    assert not folder.exists()  # asking made nothing
    assert run_main("db", "upgrade", "--data-dir", str(folder)).returncode == 0
    assert _status(run_main, "--data-dir", str(folder)) == {
        "database": database,
        "current": HEAD,
        "head": HEAD,
        "up_to_date": True,
    }
    plain = run_main("db", "status", "--data-dir", str(folder))
    assert plain.returncode == 0
    assert plain.stdout.strip() == f"{database}: schema {HEAD}, newest {HEAD}: up to date."


def test_without_data_dir_the_environment_folder_is_used(tmp_path: Path, run_main: RunMain) -> None:
    folder = Path(os.environ["METERDESK_DATA_DIR"])
    assert tmp_path in folder.parents
    proc = run_main("db", "upgrade")
    assert proc.returncode == 0, proc.stderr
    assert (folder / DB_FILE_NAME).exists()
    assert (folder / "logs").is_dir()


@pytest.mark.parametrize("kind", ["garbage", "damaged"])
def test_a_corrupt_database_is_refused_and_left_untouched(
    kind: str, tmp_path: Path, run_main: RunMain, one_line_error: OneLineError
) -> None:
    folder = tmp_path / "site"
    database = folder / DB_FILE_NAME
    if kind == "garbage":
        folder.mkdir()
        database.write_bytes(b"PK\x03\x04 not a database but a zip someone renamed" * 300)
    else:  # a real MeterDesk database whose middle pages were overwritten
        assert run_main("demo", "seed", "--data-dir", str(folder)).returncode == 0
        data = bytearray(database.read_bytes())
        data[8 * 4096 : 12 * 4096] = b"\xab" * (4 * 4096)
        database.write_bytes(bytes(data))
    before = database.read_bytes()

    proc = run_main("db", "upgrade", "--data-dir", str(folder))

    assert proc.returncode == 5
    line = one_line_error(proc)
    assert str(database) in line
    assert "left untouched" in line
    assert database.read_bytes() == before
    assert {p.name for p in folder.iterdir()} == {DB_FILE_NAME, "logs"}


def test_a_newer_schema_is_refused_and_its_version_kept(
    tmp_path: Path, run_main: RunMain, one_line_error: OneLineError
) -> None:
    folder = tmp_path / "site"
    assert run_main("db", "upgrade", "--data-dir", str(folder)).returncode == 0
    database = folder / DB_FILE_NAME
    conn = sqlite3.connect(database)
    with conn:
        conn.execute("UPDATE alembic_version SET version_num = 'ffff9999'")
    conn.close()

    proc = run_main("db", "upgrade", "--data-dir", str(folder))
    assert proc.returncode == 6
    line = one_line_error(proc)
    assert "ffff9999" in line
    assert "newer MeterDesk" in line
    assert _version(database) == ["ffff9999"]

    status = run_main("db", "status", "--json", "--data-dir", str(folder))
    assert status.returncode == 6
    one_line_error(status)


def test_a_database_of_another_program_is_refused(
    tmp_path: Path, run_main: RunMain, one_line_error: OneLineError
) -> None:
    folder = tmp_path / "site"
    folder.mkdir()
    database = folder / DB_FILE_NAME
    conn = sqlite3.connect(database)
    with conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total TEXT)")
    conn.close()
    before = database.read_bytes()

    proc = run_main("db", "upgrade", "--data-dir", str(folder))

    assert proc.returncode == 5
    assert "not a MeterDesk database" in one_line_error(proc)
    assert database.read_bytes() == before


def test_a_read_only_data_folder_is_named(
    unprivileged_dir: Path, run_main_unprivileged: RunMain, one_line_error: OneLineError
) -> None:
    locked = unprivileged_dir / "locked"
    locked.mkdir(mode=0o755)
    locked.chmod(0o555)  # as root (CI) the process runs as nobody, who may not write here
    try:
        for folder in (locked, locked / "site"):
            proc = run_main_unprivileged("db", "upgrade", "--data-dir", str(folder))
            assert proc.returncode == 4, proc.stderr
            line = one_line_error(proc)
            assert f"The data folder {folder} cannot be written" in line
            assert "--data-dir" in line
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


@pytest.mark.parametrize(
    ("mode", "code", "words"),
    [(0o444, 4, "is read-only"), (0o000, 5, "cannot be read (permission denied)")],
    ids=["read-only-file", "unreadable-file"],
)
def test_a_database_file_without_permissions_is_explained(
    mode: int,
    code: int,
    words: str,
    unprivileged_dir: Path,
    run_main: RunMain,
    run_main_unprivileged: RunMain,
    one_line_error: OneLineError,
) -> None:
    folder = unprivileged_dir / "shared"
    assert run_main("db", "upgrade", "--data-dir", str(folder)).returncode == 0
    folder.chmod(0o777)  # the folder is writable for everyone; only the file is protected
    (folder / "logs").chmod(0o777)
    for log in (folder / "logs").iterdir():
        log.chmod(0o666)
    database = folder / DB_FILE_NAME
    before = database.read_bytes()
    database.chmod(mode)
    try:
        proc = run_main_unprivileged("db", "upgrade", "--data-dir", str(folder))
        assert proc.returncode == code, proc.stderr
        line = one_line_error(proc)
        assert str(database) in line
        assert words in line
        assert database.read_bytes() == before
    finally:
        database.chmod(0o644)


def test_upgrade_of_a_postgresql_database_by_url(
    tmp_path: Path, run_main: RunMain, postgres_url: str
) -> None:
    proc = run_main("db", "upgrade", "--data-dir", str(tmp_path / "d"), "--db", postgres_url)
    assert proc.returncode == 0, proc.stderr
    assert f"upgraded from schema empty to {HEAD}" in proc.stdout
    assert "meterdesk-ci" not in proc.stdout  # the password is never shown
    status = _status(run_main, "--data-dir", str(tmp_path / "d"), "--db", postgres_url)
    assert (status["current"], status["up_to_date"]) == (HEAD, True)
    assert "postgresql" in str(status["database"])
    assert not (tmp_path / "d" / DB_FILE_NAME).exists()  # no SQLite file on the side


def test_an_unreachable_server_is_explained(
    tmp_path: Path, run_main: RunMain, one_line_error: OneLineError
) -> None:
    proc = run_main("db", "upgrade", "--data-dir", str(tmp_path / "d"), "--db", UNREACHABLE)
    assert proc.returncode == 7
    line = one_line_error(proc)
    assert "Cannot connect to the database" in line
    assert "127.0.0.1:1" in line
    assert "Check that the server runs" in line
    assert "s3cret-pw" not in line


def test_db_needs_a_command(run_main: RunMain) -> None:
    proc = run_main("db")
    assert proc.returncode == 2
    assert "usage:" in proc.stderr
    assert "Traceback" not in proc.stderr
