"""CrashGuard: a session that did not end cleanly is explained once on the next start."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.process.crash_report import LOCK_NAME, CrashGuard
from app.process.data_dir import crash_dir
from tests.support import REPO, run_python


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


@pytest.fixture
def _hooks_restored() -> Iterator[None]:
    """The guard installs process-wide hooks; put pytest's back whatever the test does."""
    saved = sys.excepthook, threading.excepthook
    try:
        yield
    finally:
        sys.excepthook, threading.excepthook = saved


def _dead_pid() -> int:
    """The pid of a process that has finished (and been reaped)."""
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(proc.stdout)


def _run_session(data_dir: Path, body: str) -> subprocess.CompletedProcess[str]:
    """Run a console-like process: start a CrashGuard on ``data_dir``, then ``body``."""
    script = textwrap.dedent(
        """\
        import sys
        from pathlib import Path
        try:
            import resource  # no core dump from the deliberate crash (POSIX only)
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        except ImportError:
            pass
        from app.process.crash_report import CrashGuard
        guard = CrashGuard(Path(sys.argv[1]))
        guard.start()
        """
    ) + textwrap.dedent(body)
    return run_python(
        ["-c", script, str(data_dir)], cwd=data_dir, env={"PYTHONPATH": str(REPO)}, timeout=60
    )


def test_a_fresh_folder_has_no_notice(data_dir: Path) -> None:
    assert CrashGuard(data_dir).previous_crash() is None


def test_a_clean_start_and_stop_leaves_no_notice(data_dir: Path) -> None:
    proc = _run_session(
        data_dir,
        """
        import threading
        assert sys.excepthook == guard._excepthook
        assert (guard.lock_path).exists()
        guard.stop()
        assert sys.excepthook is sys.__excepthook__
        assert threading.excepthook is threading.__excepthook__
        """,
    )
    assert proc.returncode == 0, proc.stderr
    assert list(data_dir.glob("session*.lock")) == []
    assert list(crash_dir(data_dir).glob("fault*.log")) == []
    assert CrashGuard(data_dir).previous_crash() is None


def test_a_session_killed_without_stopping_is_reported(data_dir: Path) -> None:
    proc = _run_session(data_dir, "import os\nos._exit(3)\n")
    assert proc.returncode == 3
    (lock_file,) = data_dir.glob("session-*.lock")
    lock = json.loads(lock_file.read_text(encoding="utf-8"))

    notice = CrashGuard(data_dir).previous_crash()

    assert notice is not None
    assert notice.report_path is None  # nothing was written: only the lock tells
    assert notice.ended_at == f"after start at {lock['started_at']}"


def test_a_stale_lock_of_a_dead_process_is_an_unclean_end(data_dir: Path) -> None:
    (data_dir / LOCK_NAME).write_text(
        json.dumps({"pid": _dead_pid(), "started_at": "2026-11-20T08:00:00+08:00"}),
        encoding="utf-8",
    )
    notice = CrashGuard(data_dir).previous_crash()
    assert notice is not None
    assert notice.ended_at == "after start at 2026-11-20T08:00:00+08:00"
    assert notice.summary == ""


def test_a_lock_held_by_a_running_console_is_not_a_crash(data_dir: Path) -> None:
    other = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        (data_dir / LOCK_NAME).write_text(
            json.dumps({"pid": other.pid, "started_at": "2026-11-20T08:00:00+08:00"}),
            encoding="utf-8",
        )
        assert CrashGuard(data_dir).previous_crash() is None
    finally:
        assert other.stdin is not None
        other.stdin.close()
        other.wait(timeout=60)


def test_an_unreadable_lock_counts_as_an_unclean_end(data_dir: Path) -> None:
    (data_dir / LOCK_NAME).write_bytes(b"\x00\xffnot json")
    notice = CrashGuard(data_dir).previous_crash()
    assert notice is not None
    assert notice.report_path is None


def test_a_crash_report_is_surfaced_once_then_acknowledged(data_dir: Path) -> None:
    guard = CrashGuard(data_dir)
    report = guard.write_report("Unhandled error in the main thread\nTraceback...\nKeyError: 7\n")

    notice = guard.previous_crash()
    assert notice is not None
    assert notice.report_path == report
    assert notice.summary == "KeyError: 7"
    assert notice.ended_at == report.stem.removeprefix("crash-")

    guard.acknowledge()
    assert CrashGuard(data_dir).previous_crash() is None
    assert report.exists()  # kept for the support engineer, only marked as seen

    newer = guard.write_report("Unhandled error in bus-1\nOSError: port gone\n")
    notice = CrashGuard(data_dir).previous_crash()
    assert notice is not None
    assert notice.report_path == newer
    assert notice.summary == "OSError: port gone"


@pytest.mark.usefixtures("_hooks_restored")
def test_the_excepthook_writes_a_report_and_runs_every_cleanup(data_dir: Path) -> None:
    guard = CrashGuard(data_dir)
    ran: list[str] = []
    told: list[tuple[str, Path]] = []

    def failing_cleanup() -> None:
        ran.append("failing")
        raise RuntimeError("cleanup broke too")

    guard.add_cleanup(lambda: ran.append("close database"))
    guard.add_cleanup(failing_cleanup)
    guard.add_cleanup(lambda: ran.append("stop buses"))
    guard.on_error = lambda message, path: told.append((message, path))

    def poll_meter() -> None:
        raise ValueError("meter 17 answered garbage")

    try:
        poll_meter()
    except ValueError as exc:
        guard._excepthook(type(exc), exc, exc.__traceback__)

    assert ran == ["close database", "failing", "stop buses"]
    assert len(told) == 1
    message, path = told[0]
    assert message == "ValueError: meter 17 answered garbage"
    assert path.parent == crash_dir(data_dir)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("Unhandled error in the main thread\n")
    assert "in poll_meter" in text
    assert text.rstrip().endswith("ValueError: meter 17 answered garbage")

    notice = CrashGuard(data_dir).previous_crash()
    assert notice is not None
    assert notice.report_path == path
    assert notice.summary == "ValueError: meter 17 answered garbage"


@pytest.mark.usefixtures("_hooks_restored")
def test_the_thread_hook_names_the_thread(data_dir: Path) -> None:
    guard = CrashGuard(data_dir)
    told: list[str] = []
    guard.on_error = lambda message, _path: told.append(message)
    worker = threading.Thread(name="bus-worker-A1")
    try:
        raise ConnectionError("gateway closed")
    except ConnectionError as exc:
        guard._thread_excepthook(
            threading.ExceptHookArgs((type(exc), exc, exc.__traceback__, worker))
        )
    guard._thread_excepthook(threading.ExceptHookArgs((SystemExit, None, None, worker)))

    reports = sorted(crash_dir(data_dir).glob("crash-*.txt"))
    assert len(reports) == 1  # the hook ignores a thread that merely exited
    assert reports[0].read_text(encoding="utf-8").startswith("Unhandled error in bus-worker-A1\n")
    assert told == ["ConnectionError: gateway closed"]


def test_an_unhandled_error_in_a_session_is_reported_on_the_next_start(data_dir: Path) -> None:
    proc = _run_session(data_dir, "raise RuntimeError('engine fell over')\n")
    assert proc.returncode == 1
    guard = CrashGuard(data_dir)

    notice = guard.previous_crash()
    assert notice is not None
    assert notice.report_path is not None
    assert notice.summary == "RuntimeError: engine fell over"

    # The next session shows it, acknowledges it, runs and ends cleanly: then nothing is left.
    guard.acknowledge()
    proc = _run_session(data_dir, "guard.stop()\n")
    assert proc.returncode == 0, proc.stderr
    assert CrashGuard(data_dir).previous_crash() is None


def test_a_fatal_crash_is_recovered_from_the_fault_log(data_dir: Path) -> None:
    proc = _run_session(data_dir, "import faulthandler\nfaulthandler._sigsegv()\n")
    assert proc.returncode < 0  # killed by the signal
    (fault_log,) = crash_dir(data_dir).glob("fault-*.log")
    assert fault_log.stat().st_size > 0

    notice = CrashGuard(data_dir).previous_crash()

    assert notice is not None
    assert notice.report_path is not None
    assert notice.report_path.name.endswith("-fatal.txt")
    assert "Segmentation fault" in notice.report_path.read_text(encoding="utf-8")
    assert not fault_log.exists()


def test_two_consoles_on_one_folder_keep_their_own_locks(data_dir: Path) -> None:
    """An attached console beside the poller on one data folder: the second's clean stop
    removes neither the first's lock nor its fatal-error log, and the first's crash is still
    told on the next start."""
    first = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from app.process.crash_report import "
            "CrashGuard; guard = CrashGuard(Path(sys.argv[1])); guard.start(); "
            "print('started', flush=True); sys.stdin.read(); import os; os._exit(3)",
            str(data_dir),
        ],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert first.stdout is not None
        assert first.stdout.readline().strip() == "started"
        second = _run_session(data_dir, "guard.stop()\n")  # starts and ends cleanly meanwhile
        assert second.returncode == 0, second.stderr
        assert (data_dir / f"session-{first.pid}.lock").exists()
        assert (crash_dir(data_dir) / f"fault-{first.pid}.log").exists()
        assert CrashGuard(data_dir).previous_crash() is None  # the first still runs
    finally:
        assert first.stdin is not None
        first.stdin.close()
        first.wait(timeout=60)
        if first.stdout is not None:
            first.stdout.close()
    assert first.returncode == 3  # ended without stopping its guard
    notice = CrashGuard(data_dir).previous_crash()
    assert notice is not None
    CrashGuard(data_dir).acknowledge()
    assert CrashGuard(data_dir).previous_crash() is None  # told once
