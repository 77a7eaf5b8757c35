"""Crash handling: log the traceback, keep data safe, and explain on the next start.

A ``session-<pid>.lock`` file marks a running console, one per process: a second console on the
same data folder (an attached one beside the poller) has its own, and neither overwrites nor
removes the other's. A clean exit removes it. If a start finds one from a process that no longer
runs, that session ended unexpectedly (crash, kill, power cut): the operator is told, with the
crash report when one was written. Each process's fatal-error log is its own too. Database work
is transactional, so whatever was not committed was rolled back by the database itself.
"""

from __future__ import annotations

import faulthandler
import json
import logging
import os
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO

from app.process.data_dir import crash_dir

log = logging.getLogger(__name__)

LOCK_NAME = "session.lock"  # an older release's one lock per folder; still read
LOCK_GLOB = "session*.lock"
FAULT_GLOB = "fault*.log"
SEEN_SUFFIX = ".seen"


@dataclass(frozen=True)
class CrashNotice:
    """What to tell the operator about an earlier session that did not end cleanly."""

    ended_at: str
    report_path: Path | None
    summary: str


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class CrashGuard:
    """Owns the session lock, the excepthooks and the crash files of one data folder."""

    def __init__(self, data_dir: Path) -> None:
        self.folder = crash_dir(data_dir)
        self.data_dir = data_dir
        self.lock_path = data_dir / f"session-{os.getpid()}.lock"
        self.fault_path = self.folder / f"fault-{os.getpid()}.log"
        self._cleanups: list[Callable[[], None]] = []
        self._fault_file: IO[str] | None = None
        self.on_error: Callable[[str, Path], None] | None = None

    def _stale_locks(self) -> list[tuple[Path, dict[str, object]]]:
        """Session locks of processes that no longer run (never this one's, never a running
        console's), with what each says."""
        stale = []
        for path in sorted(self.data_dir.glob(LOCK_GLOB)):
            try:
                info: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                info = {"pid": -1, "started_at": "unknown"}
            pid = info.get("pid", -1)
            if isinstance(pid, int) and (pid == os.getpid() or _pid_alive(pid)):
                continue  # this console, or another one running on this folder right now
            stale.append((path, info))
        return stale

    def _dead_fault_logs(self) -> list[Path]:
        """Fatal-error logs of processes that no longer run (another console's is its own)."""
        if not self.folder.exists():
            return []
        logs = []
        for path in sorted(self.folder.glob(FAULT_GLOB)):
            number = path.stem.removeprefix("fault-").removeprefix("fault")
            if number.isdigit() and (int(number) == os.getpid() or _pid_alive(int(number))):
                continue
            logs.append(path)
        return logs

    def previous_crash(self) -> CrashNotice | None:
        """The notice for an earlier unclean end, or None. Call before ``start``."""
        reports = sorted(p for p in self.folder.glob("crash-*.txt")) if self.folder.exists() else []
        unseen = [p for p in reports if not p.with_suffix(p.suffix + SEEN_SUFFIX).exists()]
        stale = self._stale_locks()
        lock_info = stale[-1][1] if stale else None
        for fault in self._dead_fault_logs():
            if fault.stat().st_size > 0:
                dest = self.folder / f"crash-{_stamp()}-fatal.txt"
                fault.replace(dest)
                unseen.append(dest)
            else:
                fault.unlink(missing_ok=True)
        if not unseen and lock_info is None:
            return None
        report = unseen[-1] if unseen else None
        summary = ""
        if report is not None:
            lines = [ln for ln in report.read_text(encoding="utf-8").splitlines() if ln.strip()]
            summary = lines[-1] if lines else ""
        started = str(lock_info.get("started_at", "")) if lock_info else ""
        ended = report.stem.removeprefix("crash-") if report else f"after start at {started}"
        return CrashNotice(ended_at=ended, report_path=report, summary=summary)

    def acknowledge(self) -> None:
        """Mark every report as seen so the notice is shown once."""
        if self.folder.exists():
            for report in self.folder.glob("crash-*.txt"):
                report.with_suffix(report.suffix + SEEN_SUFFIX).touch()
        for path, _info in self._stale_locks():  # told once: the next start says nothing
            path.unlink(missing_ok=True)

    def start(self) -> None:
        """Write the session lock and install the hooks."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.lock_path.write_text(
            json.dumps({"pid": os.getpid(), "started_at": datetime.now().astimezone().isoformat()}),
            encoding="utf-8",
        )
        self._fault_file = open(self.fault_path, "w", encoding="utf-8")  # noqa: SIM115
        faulthandler.enable(self._fault_file)
        sys.excepthook = self._excepthook
        threading.excepthook = self._thread_excepthook

    def add_cleanup(self, cleanup: Callable[[], None]) -> None:
        """Run ``cleanup`` (e.g. close the database) when an error escapes to the hook."""
        self._cleanups.append(cleanup)

    def stop(self) -> None:
        """Clean exit: restore the hooks, remove the lock and the empty fault log."""
        sys.excepthook = sys.__excepthook__
        threading.excepthook = threading.__excepthook__
        if self._fault_file is not None:
            faulthandler.disable()
            self._fault_file.close()
            self._fault_file = None
            if self.fault_path.exists() and self.fault_path.stat().st_size == 0:
                self.fault_path.unlink()
        self.lock_path.unlink(missing_ok=True)

    def write_report(self, text: str) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"crash-{_stamp()}.txt"
        path.write_text(text, encoding="utf-8")
        return path

    def _handle(
        self,
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
        where: str,
    ) -> None:
        text = f"Unhandled error in {where}\n" + "".join(
            traceback.format_exception(exc_type, exc, tb)
        )
        log.critical(text)
        path = self.write_report(text)
        for cleanup in self._cleanups:
            try:
                cleanup()
            except Exception:
                log.exception("cleanup after crash failed")
        if self.on_error is not None:
            self.on_error(f"{exc_type.__name__}: {exc}", path)

    def _excepthook(
        self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        self._handle(exc_type, exc, tb, "the main thread")

    def _thread_excepthook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None:
            return
        name = args.thread.name if args.thread is not None else "a thread"
        self._handle(args.exc_type, args.exc_value, args.exc_traceback, name)


def _stamp() -> str:
    return datetime.now().astimezone().strftime("%Y%m%d-%H%M%S-%f")
