"""A meter profile is named, never pathed: ``--profile ../../../../tmp/x`` must not read a TOML
file from anywhere on the computer as a meter's register map. And a profile file is read as
every input file is (``app.input_limits``): a byte-order mark ignored, its nesting bounded."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from app.hardware.errors import ProfileError
from app.hardware.profiles import PROFILES_DIR, load_profile, load_profile_file, parse_profile

SHIPPED = PROFILES_DIR / "eastron-sdm120.toml"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A profile folder with one shipped profile, and a copy of it outside the folder."""
    inside = tmp_path / "meters"
    inside.mkdir()
    shutil.copy(SHIPPED, inside / SHIPPED.name)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    text = SHIPPED.read_text(encoding="utf-8").replace('"eastron-sdm120"', '"x"')
    (outside / "x.toml").write_text(text, encoding="utf-8")
    return inside


def test_a_name_from_the_folder_loads(folder: Path) -> None:
    assert load_profile("eastron-sdm120", folder).name == "eastron-sdm120"


@pytest.mark.parametrize(
    "name",
    [
        "../elsewhere/x",
        "../../../../../../../../tmp/../" + "elsewhere/x",
        "./eastron-sdm120",
        "meters/../meters/eastron-sdm120",
        "eastron-sdm120.toml",
        "",
        "\x00",
    ],
)
def test_a_path_or_a_name_not_in_the_folder_is_an_unknown_profile(folder: Path, name: str) -> None:
    with pytest.raises(ProfileError) as caught:
        load_profile(name, folder)
    assert str(caught.value).startswith("unknown meter profile ")
    assert str(caught.value).endswith("known profiles: eastron-sdm120")


def test_an_absolute_path_to_a_profile_is_an_unknown_profile(folder: Path) -> None:
    target = folder.parent / "elsewhere" / "x"
    assert target.with_suffix(".toml").exists()
    with pytest.raises(ProfileError, match="unknown meter profile"):
        load_profile(str(target), folder)


def test_a_folder_named_like_a_profile_is_not_one(folder: Path) -> None:
    (folder / "trap.toml").mkdir()
    with pytest.raises(ProfileError, match="unknown meter profile 'trap'"):
        load_profile("trap", folder)


def test_a_device_linked_into_the_folder_is_no_profile_and_is_never_read(folder: Path) -> None:
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero here")
    (folder / "zero.toml").symlink_to("/dev/zero")
    with pytest.raises(ProfileError, match="unknown meter profile 'zero'"):
        load_profile("zero", folder)
    with pytest.raises(ProfileError) as caught:  # read directly, it is refused unread
        load_profile_file(folder / "zero.toml")
    assert str(caught.value) == (
        "zero.toml: cannot be read (not a regular file; give the path of a file saved on disk)"
    )


def test_a_profile_saved_with_a_byte_order_mark_reads() -> None:
    text = "\ufeff" + SHIPPED.read_text(encoding="utf-8")
    assert parse_profile(text, SHIPPED).name == "eastron-sdm120"


def test_a_profile_nested_past_the_limit_is_refused() -> None:
    text = "x = " + "[" * 3000 + "]" * 3000 + "\n"
    with pytest.raises(ProfileError, match="nest 3000 deep, more than the 16 a profile may"):
        parse_profile(text, SHIPPED)
