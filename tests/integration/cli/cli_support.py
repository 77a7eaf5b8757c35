"""What the command-line tests share: every command of the parser, ``main()`` run in this
process, and a small demo site seeded once and copied for each test."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli import main
from tests.support import run_python


def commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every command (a parser without subcommands of its own) with the words that name it."""
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups:
        yield path, parser
        return
    for group in groups:
        for name, child in group.choices.items():
            yield from commands(child, (*path, name))


def run_in_process(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``main.py ARGS`` in this process: its exit code, stdout and stderr."""
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse's own refusals
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def seeded_demo(folder: Path, rooms_per_floor: int) -> Path:
    """``folder`` with a demo site of one building, one floor and ``rooms_per_floor`` rooms."""
    size = ["--buildings", "1", "--floors", "1", "--rooms-per-floor", str(rooms_per_floor)]
    seeded = run_python(["main.py", "demo", "seed", "--data-dir", str(folder), *size])
    assert seeded.returncode == 0, seeded.stderr
    return folder


def site_copy(template: Path, folder: Path) -> Path:
    """A copy of the files of the data folder ``template`` (database, audit key) in ``folder``."""
    folder.mkdir()
    for item in template.iterdir():
        if item.is_file():
            (folder / item.name).write_bytes(item.read_bytes())
    return folder
