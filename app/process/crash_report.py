"""Crash handling: log the traceback, keep data safe, and explain on the next start.

A ``session.lock`` file marks a running console. A clean exit removes it. If the next start finds
it from a process that no longer runs, that session ended unexpectedly (crash, kill, power cut):
the operator is told, with the crash report when one was written. Database work is transactional,
so whatever was not committed was rolled back by the database itself.
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

LOCK_NAME = "session.lock"
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
        self.lock_path = data_dir / LOCK_NAME
        self._cleanups: list[Callable[[], None]] = []
        self._fault_file: IO[str] | None = None
        self.on_error: Callable[[str, Path], None] | None = None

    def previous_crash(self) -> CrashNotice | None:
        """The notice for an earlier unclean end, or None. Call before ``start``."""
        reports = sorted(p for p in self.folder.glob("crash-*.txt")) if self.folder.exists() else []
        unseen = [p for p in reports if not p.with_suffix(p.suffix + SEEN_SUFFIX).exists()]
        fault = self.folder / "fault.log"
        lock_info: dict[str, object] | None = None
        if self.lock_path.exists():
            try:
                lock_info = json.loads(self.lock_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                lock_info = {"pid": -1, "started_at": "unknown"}
            pid = lock_info.get("pid", -1)
            if isinstance(pid, int) and pid != os.getpid() and _pid_alive(pid):
                lock_info = None  # another console runs on this folder right now
        if fault.exists() and fault.stat().st_size > 0:
            dest = self.folder / f"crash-{_stamp()}-fatal.txt"
            fault.replace(dest)
            unseen.append(dest)
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

    def start(self) -> None:
        """Write the session lock and install the hooks."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.lock_path.write_text(
            json.dumps({"pid": os.getpid(), "started_at": datetime.now().astimezone().isoformat()}),
            encoding="utf-8",
        )
        self._fault_file = open(self.folder / "fault.log", "w", encoding="utf-8")  # noqa: SIM115
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
            fault = self.folder / "fault.log"
            if fault.exists() and fault.stat().st_size == 0:
                fault.unlink()
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
