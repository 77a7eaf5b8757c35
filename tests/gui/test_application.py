"""The console as a user starts it: smoke run, unreadable database, crash notice."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.support import run_python


def run_main(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {"QT_QPA_PLATFORM": "offscreen", "METERDESK_DATA_DIR": str(data_dir)}
    return run_python(["main.py", *args], env=env, timeout=120)


def test_demo_smoke_run_reports_what_it_saw(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    result = run_main("--demo", "--data-dir", str(data), "--smoke", "1.5", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [ln for ln in result.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert report["ok"] is True
    assert report["rows_loaded"] == {"accounts": 240, "meters": 360}
    assert report["seeded_demo"] is True
    assert report["max_stall_ms"] >= 0
    assert (data / "meterdesk.sqlite3").exists()
    assert (data / "logs" / "meterdesk.log").exists()
    assert not (data / "session.lock").exists(), "a clean exit removes the session lock"
    # Second start: the demo is not seeded again.
    again = run_main("--demo", "--data-dir", str(data), "--smoke", "0.5", data_dir=tmp_path)
    assert json.loads(again.stdout.strip())["seeded_demo"] is False


def test_unreadable_database_gives_a_message_and_is_left_alone(tmp_path: Path) -> None:
    data = tmp_path / "site"
    data.mkdir()
    garbage = b"this is not a database" * 100
    (data / "meterdesk.sqlite3").write_bytes(garbage)
    result = run_main("--data-dir", str(data), "--smoke", "0.5", data_dir=tmp_path)
    assert result.returncode == 5
    assert "cannot be read" in result.stderr
    assert "Traceback" not in result.stderr
    assert (data / "meterdesk.sqlite3").read_bytes() == garbage


def test_previous_unclean_end_is_explained_on_the_next_start(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from app.application import _show_crash_notice, make_application, open_console

    make_application()
    data = tmp_path / "site"
    data.mkdir()
    # A session that was killed: its lock names a process that no longer exists, and it left
    # a crash report behind.
    (data / "session.lock").write_text('{"pid": 999999999, "started_at": "2026-11-27T08:00"}')
    (data / "crashes").mkdir()
    (data / "crashes" / "crash-20261127-080500-000001.txt").write_text(
        "Traceback (most recent call last):\nRuntimeError: relay driver exploded\n"
    )
    opened = open_console(data, None, demo=True)
    try:
        notice = opened.previous_crash
        assert notice is not None
        assert notice.summary == "RuntimeError: relay driver exploded"
        seen: list[str] = []

        def read_and_close() -> None:
            box = QApplication.activeModalWidget()
            assert isinstance(box, QMessageBox)
            seen.append(box.text() + "\n" + box.informativeText())
            box.accept()

        QTimer.singleShot(200, read_and_close)
        _show_crash_notice(notice)
        assert "did not close normally" in seen[0]
        assert "relay driver exploded" in seen[0]
        opened.crash_guard.acknowledge()
    finally:
        opened.db.dispose()
    # Told once: the next start has nothing to report (the lock is still the dead one's, so
    # start and stop a session cleanly as the console does).
    opened.crash_guard.start()
    opened.crash_guard.stop()
    again = open_console(data, None, demo=True)
    try:
        assert again.previous_crash is None
    finally:
        again.db.dispose()
