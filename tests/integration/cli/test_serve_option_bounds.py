"""``serve`` refuses run options it cannot honour (exit 2, naming the option and its range)
before it opens anything: an interval or posting period of 0, a time scale of 0, nan, inf, a
negative one or one past a million."""

from __future__ import annotations

import pytest

from tests.support import run_python


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--interval", "0"], "argument --interval: 0 seconds is out of range; give 1 to 86400"),
        (["--interval", "1.5"], "argument --interval: '1.5' is not a whole number of seconds"),
        (["--post-every", "0"], "argument --post-every: 0 seconds is out of range; give 1 to"),
        (["--post-every", "nan"], "argument --post-every: 'nan' is not a number of seconds"),
        (["--time-scale", "0"], "argument --time-scale: a time scale of 0 is out of range"),
        (["--time-scale", "-1"], "argument --time-scale: a time scale of -1 is out of range"),
        (["--time-scale", "nan"], "argument --time-scale: 'nan' is not a number"),
        (["--time-scale", "inf"], "argument --time-scale: 'inf' is not a number"),
        (["--time-scale", "1e7"], "give a number above 0 and at most 1,000,000"),
        (["--seconds", "nan"], "argument --seconds: 'nan' is not a number of seconds"),
        (["--seconds", "-5"], "argument --seconds: -5 seconds is out of range"),
    ],
)
def test_serve_refuses_options_it_cannot_honour(args: list[str], words: str) -> None:
    proc = run_python(["main.py", "serve", "--demo", *args], timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert words in proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--time-scale", "nan"], "argument --time-scale: 'nan' is not a number"),
        (["--delay-ms", "20000"], "argument --delay-ms: 20000 ms is out of range; give 0 to"),
        (["--delay-ms", "-1"], "argument --delay-ms: -1 ms is out of range"),
    ],
)
def test_simulate_refuses_what_it_cannot_keep(args: list[str], words: str) -> None:
    proc = run_python(
        ["main.py", "simulate", "--port", "sim://x", "--profile", "eastron-sdm120",
         "--addresses", "1", *args],
        timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert words in proc.stderr
