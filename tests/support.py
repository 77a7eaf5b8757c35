"""Helpers shared by tests of every layer (imported as ``tests.support``)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
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
