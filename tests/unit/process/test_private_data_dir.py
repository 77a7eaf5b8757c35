"""The data folder made private: a folder others could read is tightened to 0700 (said in the
log), a private one is left alone, a shared sticky folder such as /tmp is never taken from the
others (a warning instead), and the umask is given back after the block."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from app.process.data_dir import make_private, private_files

pytestmark = pytest.mark.skipif(os.name != "posix", reason="Windows keeps profiles by ACLs")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_folder_others_could_read_is_made_private(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.process.data_dir")
    folder = tmp_path / "site"
    folder.mkdir()
    folder.chmod(0o775)
    make_private(folder)
    assert _mode(folder) == 0o700
    assert "(mode 775); it is now private to its owner (mode 700)" in caplog.text
    caplog.clear()
    make_private(folder)  # already private: nothing to say
    assert caplog.text == ""


def test_a_shared_sticky_folder_is_left_to_its_users(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    make_private(shared)
    assert _mode(shared) == 0o1777
    assert "is not this user's own to change" in caplog.text


def test_files_made_in_the_block_are_private_and_the_umask_is_given_back(
    tmp_path: Path,
) -> None:
    before = os.umask(0o022)
    try:
        with private_files():
            (tmp_path / "made.txt").write_text("x", encoding="utf-8")
            (tmp_path / "made").mkdir()
        (tmp_path / "after.txt").write_text("x", encoding="utf-8")
    finally:
        os.umask(before)
    assert _mode(tmp_path / "made.txt") == 0o600
    assert _mode(tmp_path / "made") == 0o700
    assert _mode(tmp_path / "after.txt") == 0o644
