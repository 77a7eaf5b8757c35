"""``main.py db copy --to URL --user NAME`` (issue 16): a demo site moved to PostgreSQL and
checked, what to change on each PC, and every refusal with one ``error:`` line and nothing
written. In process (``run_in_process``); each test gets an empty PostgreSQL database."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from app.cli import main
from app.cli.options import PASSWORD_ENV
from app.demo.site import DEMO_PASSWORD
from app.store import table_copy
from app.store.audit_key import KEY_FILE_NAME, AuditKeyError
from app.store.database import DB_FILE_NAME
from app.vocabulary import ExitCode
from tests.integration.cli.cli_support import run_in_process, site_copy

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo site of three rooms with a recharge made at the counter (a receipt, and an
    audit trail sealed with the key beside the SQLite file)."""
    folder = tmp_path_factory.mktemp("copy-cli-site")
    size = ["--buildings", "1", "--floors", "1", "--rooms-per-floor", "3", "--history-days", "1"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PASSWORD_ENV, DEMO_PASSWORD)
        assert main(["demo", "seed", "--data-dir", str(folder), *size]) == 0
        recharge = ["account", "recharge", "--account", "100001", "--amount", "25"]
        code = main([*recharge, "--method", "cash", "--user", "cashier", "--data-dir", str(folder)])
        assert code == 0
    return folder


@pytest.fixture
def site(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(PASSWORD_ENV, DEMO_PASSWORD)
    return site_copy(template, tmp_path / "site")


def copy(
    capsys: pytest.CaptureFixture[str], site: Path, url: str, *more: str, user: str = "admin"
) -> tuple[int, str, str]:
    return run_in_process(
        capsys, "db", "copy", "--data-dir", str(site), "--to", url, "--user", user, *more
    )


def tables_of(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def one_error(code: int, out: str, err: str) -> str:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert out == ""
    return lines[0]


def account_list(capsys: pytest.CaptureFixture[str], site: Path, *db: str) -> list[object]:
    code, out, err = run_in_process(
        capsys, "account", "list", "--json", "--data-dir", str(site), *db
    )
    assert code == 0, err
    listed: list[object] = json.loads(out)
    return listed


def test_db_copy_moves_the_site_and_says_what_to_change_on_each_pc(
    capsys: pytest.CaptureFixture[str], site: Path, postgres_url: str
) -> None:
    before = (site / DB_FILE_NAME).read_bytes()
    code, out, err = copy(capsys, site, postgres_url)
    assert (code, err) == (0, ""), err
    shown = make_url(postgres_url).render_as_string(hide_password=True)
    password = make_url(postgres_url).password
    assert password is not None
    assert str(password) not in out
    assert f"Copied {site / DB_FILE_NAME} into {shown}:" in out
    assert "  interval_reading" in out
    assert "row counts: all" in out
    assert "ledger verify on the source: 3 accounts" in out
    assert "ledger verify on the copy: 3 accounts" in out
    assert "audit chain: both end in event" in out
    assert f"--db '{shown}'" in out
    assert f"{site / KEY_FILE_NAME} (already there)" in out
    assert "Exactly one PC runs 'main.py serve --db URL'" in out
    assert f"The SQLite file {site / DB_FILE_NAME} was left untouched" in out
    assert (site / DB_FILE_NAME).read_bytes() == before
    # The site now works on PostgreSQL: verified, the same balances, and the counter goes on.
    code, out, err = run_in_process(
        capsys, "ledger", "verify", "--data-dir", str(site), "--db", postgres_url
    )
    assert code == 0, out + err
    assert account_list(capsys, site, "--db", postgres_url) == account_list(capsys, site)
    code, out, err = run_in_process(
        capsys,
        *("account", "recharge", "--account", "100002", "--amount", "10", "--method", "cash"),
        *("--user", "cashier", "--data-dir", str(site), "--db", postgres_url),
    )
    assert code == 0, err
    assert "Receipt 00000002" in out


def test_db_copy_into_a_database_holding_a_site_is_refused(
    capsys: pytest.CaptureFixture[str], site: Path, postgres_url: str
) -> None:
    assert copy(capsys, site, postgres_url)[0] == 0
    held = account_list(capsys, site, "--db", postgres_url)
    code, out, err = copy(capsys, site, postgres_url)
    assert code == ExitCode.REFUSED
    assert "is not empty" in one_error(code, out, err)
    assert account_list(capsys, site, "--db", postgres_url) == held


@pytest.mark.parametrize(
    ("to", "more", "user", "password", "expected", "says"),
    [
        ("sqlite:///site.sqlite3", [], "admin", DEMO_PASSWORD, ExitCode.USAGE, "not a PostgreSQL"),
        ("", [], "admin", DEMO_PASSWORD, ExitCode.USAGE, "not a database URL"),
        (None, ["--db", "TARGET"], "admin", DEMO_PASSWORD, ExitCode.REFUSED, "not a SQLite"),
        (None, [], "cashier", DEMO_PASSWORD, ExitCode.DENIED, "not an administrator"),
        (None, [], "admin", "wrong", ExitCode.DENIED, "password is wrong"),
        (
            "postgresql+psycopg://nobody@127.0.0.1:1/meterdesk",
            [],
            "admin",
            DEMO_PASSWORD,
            ExitCode.DATABASE_UNREACHABLE,
            "Cannot connect",
        ),
    ],
    ids=["sqlite-target", "empty-url", "source-on-server", "cashier", "wrong-password", "down"],
)
def test_db_copy_refusals_say_why_and_write_nothing(
    capsys: pytest.CaptureFixture[str],
    site: Path,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    to: str | None,
    more: list[str],
    user: str,
    password: str,
    expected: int,
    says: str,
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, password)
    more = [postgres_url if word == "TARGET" else word for word in more]
    code, out, err = copy(capsys, site, postgres_url if to is None else to, *more, user=user)
    assert code == expected, err
    assert says in one_error(code, out, err)
    assert tables_of(postgres_url) == set()


def test_db_copy_puts_the_audit_key_into_this_pcs_data_folder(
    capsys: pytest.CaptureFixture[str], site: Path, postgres_url: str, tmp_path: Path
) -> None:
    """The site named by --db (its key beside the file), this PC's data folder by --data-dir:
    the key is written there, private, for the PostgreSQL site to use."""
    pc = tmp_path / "pc"
    code, out, err = run_in_process(
        capsys,
        *("db", "copy", "--db", f"sqlite:///{site / DB_FILE_NAME}", "--data-dir", str(pc)),
        *("--to", postgres_url, "--user", "admin"),
    )
    assert (code, err) == (0, ""), err
    assert f"{pc / KEY_FILE_NAME} (written now)" in out
    assert (pc / KEY_FILE_NAME).read_bytes() == (site / KEY_FILE_NAME).read_bytes()
    if os.name == "posix":
        assert stat.S_IMODE((pc / KEY_FILE_NAME).stat().st_mode) == 0o600
    code, out, err = run_in_process(
        capsys, "ledger", "verify", "--data-dir", str(pc), "--db", postgres_url
    )
    assert code == 0, out + err
    assert "sealed with the site's key" in out


def test_db_copy_refuses_a_data_folder_holding_another_audit_key(
    capsys: pytest.CaptureFixture[str], site: Path, postgres_url: str, tmp_path: Path
) -> None:
    pc = tmp_path / "pc"
    pc.mkdir()
    (pc / KEY_FILE_NAME).write_text("cd" * 32 + "\n")
    code, out, err = run_in_process(
        capsys,
        *("db", "copy", "--db", f"sqlite:///{site / DB_FILE_NAME}", "--data-dir", str(pc)),
        *("--to", postgres_url, "--user", "admin"),
    )
    assert code == ExitCode.REFUSED
    assert "already holds an audit key" in one_error(code, out, err)
    assert tables_of(postgres_url) == set()
    assert (pc / KEY_FILE_NAME).read_text() == "cd" * 32 + "\n"


def test_db_copy_names_the_failed_check_when_the_site_changed_while_copying(
    capsys: pytest.CaptureFixture[str],
    site: Path,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A console left running writes to the SQLite site while it is copied: the copy holds
    the site as it was when the copy began, the row counts differ, and the command says the
    copy must not be used and how to empty the database."""
    monkeypatch.setattr(table_copy, "BATCH_ROWS", 10)
    monkeypatch.setattr(table_copy, "PROGRESS_ROWS", 10)
    written: list[str] = []

    def console_writes(table: str, rows: int) -> None:
        if written:
            return
        with sqlite3.connect(site / DB_FILE_NAME) as other:
            other.execute(
                "INSERT INTO setting (key, value, updated_at) "
                "VALUES ('idle_lock_minutes', '5', '2026-12-01 08:00:00.000000')"
            )
        written.append(table)

    monkeypatch.setattr("app.cli.db_commands._copying", console_writes)
    code, out, err = copy(capsys, site, postgres_url)
    assert written
    assert code == ExitCode.REFUSED
    assert "FAILED: row counts: setting 1 in the source, 0 in the copy" in out
    assert "Traceback" not in err
    assert "error: check failed: row counts" in err
    database = make_url(postgres_url).database
    assert "now holds a copy that must not be used" in err
    assert f"'dropdb {database}'" in err


def test_db_copy_says_how_to_finish_when_the_key_cannot_be_written(
    capsys: pytest.CaptureFixture[str],
    site: Path,
    postgres_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The disk fills up between the copy's commit and the key file: the copy is there, and
    what is missing is said, with what to run once the key is in place."""

    def disk_full(plan: object) -> None:
        raise AuditKeyError("The audit key file cannot be written (No space left on device).")

    monkeypatch.setattr("app.services.site_copy.place_key", disk_full)
    pc = tmp_path / "pc"
    code, out, err = run_in_process(
        capsys,
        *("db", "copy", "--db", f"sqlite:///{site / DB_FILE_NAME}", "--data-dir", str(pc)),
        *("--to", postgres_url, "--user", "admin"),
    )
    assert code == ExitCode.REFUSED
    assert "FAILED: audit key: The audit key file cannot be written" in out
    assert "Traceback" not in err
    assert "error: check failed: audit key" in err
    assert "put it in place as said, then run 'main.py ledger verify --db URL'" in err
    assert not (pc / KEY_FILE_NAME).exists()
    assert "account" in tables_of(postgres_url)
