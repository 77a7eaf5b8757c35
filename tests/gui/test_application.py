"""The console as a user starts it: smoke run, unreadable database, crash notice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_main(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", METERDESK_DATA_DIR=str(data_dir))
    return subprocess.run(
        [sys.executable, "main.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


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
