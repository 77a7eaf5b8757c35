"""Where the data lives: METERDESK_DATA_DIR wins, otherwise the platform's user data folder."""

from __future__ import annotations

import sys
from pathlib import Path

import platformdirs
import pytest

from app.process import data_dir


def test_the_environment_variable_chooses_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METERDESK_DATA_DIR", str(tmp_path / "site-office"))
    assert data_dir.default_data_dir() == tmp_path / "site-office"
    assert data_dir.demo_data_dir() == tmp_path / "site-office" / "demo"


def test_the_tests_never_see_the_operators_folder(tmp_path: Path) -> None:
    assert tmp_path in data_dir.default_data_dir().parents


def test_a_home_relative_override_is_expanded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("METERDESK_DATA_DIR", "~/meterdesk-portable")
    assert data_dir.default_data_dir() == tmp_path / "meterdesk-portable"


@pytest.mark.parametrize("value", [None, ""])
def test_without_an_override_the_user_data_folder_is_used(
    value: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    if value is None:
        monkeypatch.delenv("METERDESK_DATA_DIR")
    else:
        monkeypatch.setenv("METERDESK_DATA_DIR", value)
    expected = platformdirs.user_data_path("MeterDesk", appauthor=False)
    assert data_dir.default_data_dir() == expected
    if sys.platform.startswith("linux"):
        assert expected == tmp_path / "xdg" / "MeterDesk"


def test_the_subfolders_sit_inside_the_data_folder(tmp_path: Path) -> None:
    assert data_dir.logs_dir(tmp_path) == tmp_path / "logs"
    assert data_dir.crash_dir(tmp_path) == tmp_path / "crashes"
    assert data_dir.receipts_dir(tmp_path) == tmp_path / "receipts"
