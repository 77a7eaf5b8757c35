"""A profile's [alarm] table: which meters can show an alarm to the tenant, and the checks that
name the file, the key and what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.hardware.dlt645.codec import RelayAction
from app.hardware.dlt645.driver import compile_profile
from app.hardware.errors import ProfileError
from app.hardware.profiles import PROFILES_DIR, available_profiles, load_profile, load_profile_file

SHIPPED = PROFILES_DIR / "dlt645-2007.toml"
ALARM_TABLE = '[alarm]\non = "2A"\noff = "2B"\n'


def variant(tmp_path: Path, name: str, table: str) -> Path:
    """The shipped profile ``name`` with its [alarm] table (if any) replaced by ``table``."""
    text = (PROFILES_DIR / f"{name}.toml").read_text(encoding="utf-8")
    if ALARM_TABLE in text:
        text = text.replace(ALARM_TABLE, "")
    path = tmp_path / f"{name}.toml"
    path.write_text(text + "\n" + table, encoding="utf-8")
    return path


def test_the_dlt645_profile_shows_the_standard_alarm() -> None:
    profile = load_profile("dlt645-2007")
    assert profile.shows_alarm
    alarm = compile_profile(profile).alarm
    assert alarm is not None
    assert (alarm.on, alarm.off) == (RelayAction.ALARM_ON, RelayAction.ALARM_OFF)
    assert alarm.command_valid_s == 600  # the [supply] command_valid_s
    assert ALARM_TABLE in SHIPPED.read_text(encoding="utf-8")


def test_only_the_dlt645_profile_shows_an_alarm() -> None:
    shows = {name for name in available_profiles() if load_profile(name).shows_alarm}
    assert shows == {"dlt645-2007"}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[alarm]\non = "2A"\n', r"dlt645-2007\.toml: alarm\.off: missing"),
        ('[alarm]\noff = "2B"\n', r"alarm\.on: missing"),
        ('[alarm]\non = 42\noff = "2B"\n', r"alarm\.on: must be 2 hex digits in quotes"),
        ('[alarm]\non = "2AB"\noff = "2B"\n', r"alarm\.on: must be 2 hex digits"),
        ('[alarm]\non = "ZZ"\noff = "2B"\n', r"alarm\.on: must be 2 hex digits"),
        ('[alarm]\non = "1A"\noff = "2B"\n', r"alarm\.on: 1A is the 1C action trip \(1A\)"),
        ('[alarm]\non = "2A"\noff = "1c"\n', r"alarm\.off: 1C is the 1C action direct close"),
        ('[alarm]\non = "3A"\noff = "2B"\n', r"alarm\.on: 3A .*keep power"),
        ('[alarm]\non = "2A"\noff = "2a"\n', r"alarm\.off: is 2A like alarm\.on"),
        ('[alarm]\non = "2A"\noff = "2B"\nbuzzer = true\n', r"alarm\.buzzer: unknown key"),
        ('alarm = "2A"\n', r"alarm: must be a table like \[alarm\]"),
    ],
)
def test_a_bad_alarm_table_names_file_key_and_reason(
    tmp_path: Path, table: str, message: str
) -> None:
    path = variant(tmp_path, "dlt645-2007", table)
    if table.startswith("alarm ="):  # a top-level key must come before the tables
        text = path.read_text(encoding="utf-8").replace(table, "")
        path.write_text(table + text, encoding="utf-8")
    with pytest.raises(ProfileError, match=message):
        load_profile_file(path)


def test_a_vendor_code_is_taken(tmp_path: Path) -> None:
    profile = load_profile_file(
        variant(tmp_path, "dlt645-2007", '[alarm]\non = "4a"\noff = "4B"\n')
    )
    alarm = compile_profile(profile).alarm
    assert alarm is not None
    assert (alarm.on, alarm.off) == (0x4A, 0x4B)


@pytest.mark.parametrize("name", ["acrel-ddsy1352", "hiking-dds238", "cjt188-water"])
def test_a_protocol_without_an_alarm_command_refuses_the_table(tmp_path: Path, name: str) -> None:
    path = variant(tmp_path, name, ALARM_TABLE)
    with pytest.raises(ProfileError, match=rf"{name}\.toml: alarm: .* remove the \[alarm\] table"):
        load_profile_file(path)
