"""Bad input on the command line ends in one ``error:`` line and a documented exit code, never
a traceback, a hang or a wrong stored value (issue 15, "Bad input"): a superscript digit or
thousands of digits in a setting, a file that is a FIFO or a device, TOML nested past the
recursion limit, a tariff quote over eight thousand years, a swap dated 0001-01-01, ``--db``
that is not a URL or names another server, a tariff saved by Windows Notepad, a NUL in a tariff
name, a meter profile named by a path.

Commands run in this process as ``main.py`` runs them (``app.cli.main``), on a migrated site
with an administrator, on SQLite and PostgreSQL; the FIFO case runs as a separate process with
a timeout, since a read that waits for a writer would hang this one."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

import app.store.database as database_module
from app.store.database import Database
from app.store.models import Setting, TariffPlan
from tests.integration.cli.cli_support import run_in_process as run
from tests.integration.services.setup_support import BACKENDS, PASSWORD, shared_site, with_site
from tests.support import REPO, run_python

TARIFFS = REPO / "resources" / "tariffs"
DORM = TARIFFS / "dorm-electricity.toml"


@dataclass(frozen=True)
class Site:
    db: Database
    place: list[str]  # the options that name the site's database


@pytest.fixture(scope="module", params=BACKENDS)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    for shared in shared_site(request, tmp_path_factory, with_site):
        db = shared.db
        if db.file_path is not None:
            yield Site(db, ["--data-dir", str(db.file_path.parent)])
        else:
            # one data folder for the module: it keeps the audit key the first command makes
            folder = str(tmp_path_factory.mktemp("console"))
            yield Site(
                db, ["--db", db.url.render_as_string(hide_password=False), "--data-dir", folder]
            )


@pytest.fixture(autouse=True)
def _admin_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METERDESK_PASSWORD", PASSWORD)


def one_error(err: str) -> str:
    """The one ``error:`` line a refusal prints (no traceback); its text after ``error: ``."""
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    return lines[0].removeprefix("error: ")


def stored_settings(db: Database) -> dict[str, object]:
    with db.session() as session:
        return dict(session.execute(select(Setting.key, Setting.value)).all())


# -- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["²", "١٢", "5" * 5000, "-1", "1e3"])
def test_a_whole_number_setting_refuses_what_is_not_plain_digits(
    site: Site, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    before = stored_settings(site.db)
    code, out, err = run(
        capsys, "setting", "set", "idle_lock_minutes", value, "--user", "admin", *site.place
    )
    assert (code, out) == (1, "")
    message = one_error(err)
    assert message.endswith("give a whole number from 0 to 240. Nothing was changed.")
    assert len(message) < 200
    assert stored_settings(site.db) == before


@pytest.mark.parametrize("digits", [19, 400])
def test_a_recharge_cap_past_what_can_be_held_is_refused_not_stored_rounded(
    site: Site, capsys: pytest.CaptureFixture[str], digits: int
) -> None:
    before = stored_settings(site.db)
    code, _, err = run(
        capsys, "setting", "set", "recharge_cap_minor", "9" * digits, "--user", "admin",
        *site.place,
    )  # fmt: skip
    assert code == 1
    assert "Single-recharge cap: " in one_error(err)
    assert stored_settings(site.db) == before


def test_the_largest_recharge_cap_is_stored_exactly(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, "setting", "set", "recharge_cap_minor", "10000000000000.00", "--user", "admin",
        *site.place,
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert out == "recharge_cap_minor is now 10000000000000.00.\n"
    assert stored_settings(site.db)["recharge_cap_minor"] == 10**15


# -- files ----------------------------------------------------------------------------------


def test_a_fifo_given_as_a_tariff_or_usage_file_is_refused_at_once(tmp_path: Path) -> None:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    fifo = tmp_path / "usage.csv"
    os.mkfifo(fifo)
    for args in (
        ["tariff", "check", str(fifo)],
        ["tariff", "quote", "--tariff", str(DORM), "--usage", str(fifo)],
    ):
        proc = run_python(["main.py", *args], timeout=60)  # today: waits for a writer forever
        assert proc.returncode == 2, proc.stderr
        assert one_error(proc.stderr) == (
            f"cannot read {fifo}: not a regular file; give the path of a file saved on disk."
        )


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_an_endless_device_is_refused_without_reading_it(
    capsys: pytest.CaptureFixture[str], device: str
) -> None:
    if not os.path.exists(device):
        pytest.skip(f"no {device} here")
    for args in (
        ["tariff", "check", device],
        ["tariff", "quote", "--tariff", str(DORM), "--usage", device],
        ["policy", "import", device, "--user", "admin"],
        ["load-guard", "import", device, "--user", "admin"],
    ):
        code, out, err = run(capsys, *args)
        assert (code, out) == (2, "")
        assert "not a regular file" in one_error(err)


def test_a_file_larger_than_the_limit_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big = tmp_path / "big.toml"
    big.write_bytes(b"# " + b"x" * (4 * 1024 * 1024) + b"\n")
    code, _, err = run(capsys, "tariff", "check", str(big))
    assert code == 2
    assert one_error(err) == (
        f"cannot read {big}: larger than 4 MB, the most MeterDesk reads; split it or give "
        "the right file."
    )


def test_deeply_nested_toml_is_refused_by_every_command_that_reads_it(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deep = tmp_path / "deep.toml"
    deep.write_text("x = " + "[" * 3000 + "]" * 3000 + "\n", encoding="utf-8")
    usage = tmp_path / "usage.csv"
    usage.write_text("2026-09-01T00:00,2026-09-02T00:00,5\n", encoding="utf-8")
    for args in (
        ["tariff", "check", str(deep)],
        ["tariff", "quote", "--tariff", str(deep), "--usage", str(usage)],
        ["tariff", "import", str(deep), "--user", "admin", *site.place],
        ["policy", "import", str(deep), "--user", "admin", *site.place],
        ["load-guard", "import", str(deep), "--user", "admin", *site.place],
    ):
        code, _, err = run(capsys, *args)
        assert code == 1, (args, err)
        assert "Traceback" not in err
        assert "nest 3000 deep" in err, (args, err)


def test_a_tariff_saved_by_windows_notepad_checks_and_imports(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notepad = tmp_path / "notepad.toml"
    text = DORM.read_text(encoding="utf-8").replace("Dormitory electricity", "Notepad tariff")
    notepad.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    code, out, err = run(capsys, "tariff", "check", str(notepad))
    assert (code, err) == (0, "")
    assert out.startswith(f"{notepad}: ok — Notepad tariff, ")
    code, _, err = run(capsys, "tariff", "import", str(notepad), "--user", "admin", *site.place)
    assert (code, err) == (0, "")
    with site.db.session() as session:
        assert session.scalar(select(TariffPlan.name).where(TariffPlan.name == "Notepad tariff"))


def test_a_nul_in_a_tariff_name_is_refused_before_the_database_sees_it(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "nul.toml"
    path.write_text(
        DORM.read_text(encoding="utf-8").replace(
            '"Dormitory electricity"', '"Dormitory\\u0000 electricity"'
        ),
        encoding="utf-8",
    )
    code, out, err = run(capsys, "tariff", "import", str(path), "--user", "admin", *site.place)
    assert (code, out) == (1, "")
    assert "'name' holds the control character U+0000" in one_error(err)


# -- tariff quote -----------------------------------------------------------------------------


def test_a_quote_over_eight_thousand_years_is_refused_not_walked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    usage = tmp_path / "usage.csv"
    usage.write_text("start,end,quantity\n0001-01-01T00:00,9999-12-31T00:00,5\n", "utf-8")
    code, out, err = run(capsys, "tariff", "quote", "--tariff", str(DORM), "--usage", str(usage))
    assert (code, out) == (1, "")
    assert one_error(err) == (
        f"{usage} line 2: start '0001-01-01T00:00' is out of range; give a time from "
        "1970-01-01 to 2999-12-31."
    )
    usage.write_text(
        "2026-01-01T00:00,2026-01-02T00:00,5\n2199-12-01T00:00,2199-12-02T00:00,5\n", "utf-8"
    )
    code, out, err = run(capsys, "tariff", "quote", "--tariff", str(DORM), "--usage", str(usage))
    assert (code, out) == (1, "")
    assert one_error(err) == (
        f"{usage}: the rows span 2026-01-01 to 2199-12-02, more than the 1098 days one quote "
        "covers; quote a shorter period."
    )


def test_a_quote_with_quantities_too_long_to_price_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    usage = tmp_path / "usage.csv"
    usage.write_text("2026-09-01T00:00,2026-09-02T00:00,1234567890123\n", "utf-8")
    code, _, err = run(capsys, "tariff", "quote", "--tariff", str(DORM), "--usage", str(usage))
    assert code == 1
    assert "has more than 9 digits before the point" in one_error(err)
    code, _, err = run(
        capsys, "tariff", "quote", "--tariff", str(DORM), "--usage", str(usage),
        "--cycle-used", "9" * 5000,
    )  # fmt: skip
    assert code == 2
    assert len(one_error(err)) < 200


# -- meter replace --------------------------------------------------------------------------


@pytest.mark.parametrize("at", ["0001-01-01T00:00", "9999-12-31T23:59+14:00"])
def test_a_swap_time_outside_the_calendar_is_bad_usage(
    site: Site, capsys: pytest.CaptureFixture[str], at: str
) -> None:
    code, out, err = run(
        capsys, "meter", "replace", "--meter", "M-1", "--final", "1", "--new-serial", "N-1",
        "--new-address", "1", "--initial", "0", "--at", at, "--user", "admin", *site.place,
    )  # fmt: skip
    assert (code, out) == (2, "")
    assert one_error(err) == (
        f"--at: {at} is out of range; give the time the meters were swapped, from 1970-01-01 "
        "to 2999-12-31."
    )


def test_a_reading_of_thousands_of_digits_is_bad_usage(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys, "meter", "replace", "--meter", "M-1", "--final", "1" * 5000, "--new-serial",
        "N-1", "--new-address", "1", "--initial", "0", "--user", "admin", *site.place,
    )  # fmt: skip
    assert code == 2
    assert one_error(err).startswith("--final: 5000 digits is more than a register holds")


# -- --db -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "notaurl",
            "--db: 'notaurl' is not a database URL; give one like "
            "postgresql+psycopg://user:password@host/meterdesk, or leave --db out to use the "
            "SQLite file in the data folder.",
        ),
        (
            "mysql://user:pw@host/meterdesk",
            "--db: MeterDesk keeps its data in SQLite or PostgreSQL, not mysql; give a URL "
            "like postgresql+psycopg://user:password@host/meterdesk.",
        ),
        (
            "postgresql+asyncpg://host/meterdesk",
            "--db: the postgresql driver 'asyncpg' is not one MeterDesk uses; write the URL "
            "as postgresql+psycopg://...",
        ),
    ],
)
def test_a_db_option_that_names_no_usable_database_is_bad_usage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str, message: str
) -> None:
    for command in (["account", "list"], ["setting", "list"], ["ledger", "verify"]):
        code, out, err = run(capsys, *command, "--db", url, "--data-dir", str(tmp_path / "d"))
        assert (code, out) == (2, ""), (command, err)
        assert one_error(err) == message
    assert not (tmp_path / "d").exists()


# -- a database held by another program ------------------------------------------------------


def test_a_change_behind_a_lock_held_too_long_says_busy_not_a_traceback(
    site: Site, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if site.db.file_path is None:
        pytest.skip("PostgreSQL waits for a row lock; its busy message is tested in the store")
    monkeypatch.setattr(database_module, "SQLITE_BUSY_TIMEOUT_MS", 200)
    before = stored_settings(site.db)
    holder = sqlite3.connect(site.db.file_path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # a backup or a console in the middle of a change
        code, out, err = run(
            capsys, "setting", "set", "idle_lock_minutes", "7", "--user", "admin", *site.place
        )
    finally:
        holder.close()
    assert (code, out) == (3, "")
    assert one_error(err).startswith(f"The database {site.db.file_path} is busy: ")
    assert stored_settings(site.db) == before


# -- words that are not text ------------------------------------------------------------------


def test_a_word_that_is_not_utf8_is_bad_usage_before_any_command_runs(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    word = b"Block \xff".decode("utf-8", "surrogateescape")  # as Python hands such argv over
    code, out, err = run(capsys, "room", "list", "--building", word, *site.place)
    assert (code, out) == (2, "")
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        "main.py: error: 'Block \\xff' is not UTF-8 text (it came in another encoding); type "
        "it again, or set the terminal or script to UTF-8."
    )


@pytest.mark.parametrize(
    "command", [["site", "template"], ["site", "export"], ["site", "import", "--dry-run"]]
)
def test_an_empty_workbook_name_is_refused_and_writes_nothing_here(
    command: list[str],
    site: Site,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *command, "", *site.place)
    assert code == 2
    assert "FILE is empty" in one_error(err)
    assert list(tmp_path.iterdir()) == []  # no rooms.csv... in the current folder


def test_a_workbook_that_is_a_fifo_is_refused_without_waiting(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "site.xlsx"
    os.mkfifo(fifo)
    code, _, err = run(capsys, "site", "import", str(fifo), "--dry-run", *site.place)
    assert code == 2
    assert "not a regular file" in one_error(err)
