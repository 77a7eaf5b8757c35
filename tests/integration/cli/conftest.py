"""Run ``main.py`` the way an operator or a script does: a separate process, from the repo root."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import REPO, run_python

SETPRIV = Path("/usr/bin/setpriv")
NOBODY = 65534

RunMain = Callable[..., subprocess.CompletedProcess[str]]


def _run(prefix: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    # The program must not behave differently under CI.
    return run_python(["main.py", *args], prefix=prefix, unset=["CI"])


@pytest.fixture
def run_main() -> RunMain:
    """``run_main("db", "upgrade", ...)``; METERDESK_DATA_DIR already points into tmp_path."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return _run([], *args)

    return run


def _open_the_way(tmp_path: Path, limit: Path, *, readable: bool = False) -> list[tuple[Path, int]]:
    """Let others traverse (not list) ``tmp_path`` and its parents up to ``limit``; returns what
    to restore. pytest makes its folders private (0700), and so does ``mktemp -d``."""
    changed = []
    folder = tmp_path
    want = stat.S_IXOTH | (stat.S_IROTH if readable else 0)  # ``readable``: the first folder
    while True:
        mode = stat.S_IMODE(folder.stat().st_mode)
        if mode & want != want and folder.stat().st_uid == os.geteuid():
            folder.chmod(mode | want)
            changed.append((folder, mode))
        want = stat.S_IXOTH
        if folder == limit or folder.parent == folder:
            return changed
        folder = folder.parent


@pytest.fixture
def unprivileged_dir() -> Iterator[Path]:
    """A folder of this test's own that user ``nobody`` can reach: made with ``mkdtemp`` in
    the system's temporary folder, outside pytest's shared temp root (whose mode another
    pytest run beside this one resets at its start), and removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="meterdesk-nobody-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for path in [folder, *folder.rglob("*")]:
            with contextlib.suppress(OSError):
                path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def run_main_unprivileged(unprivileged_dir: Path) -> Iterator[RunMain]:
    """Like ``run_main`` but as a user whom file permissions apply to; the test's files go in
    ``unprivileged_dir``.

    Root ignores permission bits, and CI runs as root: there the program runs as ``nobody``
    through ``setpriv``. As an ordinary user the program simply runs as that user.
    """
    if not hasattr(os, "geteuid"):
        pytest.skip("permission bits are POSIX; this platform has ACLs instead")
    if os.geteuid() != 0:
        yield lambda *args: _run([], *args)
        return
    if not SETPRIV.exists():
        pytest.skip("running as root and /usr/bin/setpriv is missing: cannot drop privileges")
    prefix = [str(SETPRIV), f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    changed: list[tuple[Path, int]] = []
    # The checkout may sit in a private folder too (CI clones into mktemp -d, mode 0700).
    # Python lists the checkout folder to import from it, so that one must be readable.
    changed += _open_the_way(REPO, Path(REPO.anchor), readable=True)
    try:
        probe = run_python(
            ["-c", "import sys, app.cli; open(sys.argv[1]).close()", str(REPO / "main.py")],
            prefix=prefix,
            timeout=60,
        )
        if probe.returncode != 0:
            pytest.skip(f"user nobody cannot run MeterDesk from {REPO}: {probe.stderr.strip()}")
        probe = subprocess.run(
            [
                *prefix,
                sys.executable,
                "-c",
                "import os, sys; os.stat(sys.argv[1])",
                str(unprivileged_dir),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if probe.returncode != 0:
            pytest.skip(f"user nobody cannot reach {unprivileged_dir}: {probe.stderr.strip()}")
        yield lambda *args: _run(prefix, *args)
    finally:
        for folder, mode in reversed(changed):
            folder.chmod(mode)


def assert_one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The failure is one ``error:`` line on stderr, never a traceback; returns the line."""
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: "), proc.stderr
    assert proc.stdout == ""
    return lines[0]


@pytest.fixture
def one_line_error() -> Callable[[subprocess.CompletedProcess[str]], str]:
    return assert_one_line_error
