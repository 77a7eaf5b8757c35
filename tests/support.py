"""Helpers shared by tests of every layer (imported as ``tests.support``)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_python(
    args: Sequence[str],
    *,
    cwd: Path = REPO,
    env: Mapping[str, str] | None = None,
    prefix: Sequence[str] = (),
    unset: Sequence[str] = (),
    timeout: float = 180,
) -> subprocess.CompletedProcess[str]:
    """Run ``python ARGS`` (this interpreter) as a separate process and capture its output.

    ``env`` is added to this process's environment; ``prefix`` goes before the interpreter
    (e.g. ``setpriv`` to run as another user); ``unset`` names variables to leave out.
    """
    full_env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    for name in unset:
        full_env.pop(name, None)
    return subprocess.run(
        [*prefix, sys.executable, *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def pty_pair() -> tuple[str, str, Callable[[], None]]:
    """Two linked pseudo-terminals in raw mode, like a null-modem cable: bytes written to one
    path are read from the other. Returns both device paths and a function that closes them."""
    import pty
    import threading
    import tty

    master_a, slave_a = pty.openpty()
    master_b, slave_b = pty.openpty()
    for fd in (slave_a, slave_b):
        tty.setraw(fd)
    stop = threading.Event()

    def pump(src: int, dst: int) -> None:
        import select

        while not stop.is_set():
            ready, _, _ = select.select([src], [], [], 0.05)
            if ready:
                try:
                    data = os.read(src, 4096)
                except OSError:
                    return
                if data:
                    os.write(dst, data)

    threads = [
        threading.Thread(target=pump, args=(master_a, master_b), daemon=True),
        threading.Thread(target=pump, args=(master_b, master_a), daemon=True),
    ]
    for thread in threads:
        thread.start()

    def close() -> None:
        stop.set()
        for thread in threads:
            thread.join(timeout=2)
        for fd in (master_a, master_b, slave_a, slave_b):
            with contextlib.suppress(OSError):
                os.close(fd)

    return os.ttyname(slave_a), os.ttyname(slave_b), close
