"""Files written whole or not at all: the final name holds a complete file or what it held
before, never half of one, and no temporary file is left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.documents.atomic_files import put_in_place, temporary_beside, write_bytes_in_place


def test_a_file_is_written_and_replaces_the_old_one(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(b"old")
    write_bytes_in_place(path, b"new")
    write_bytes_in_place(tmp_path / "durable.pdf", b"on disk", durable=True)
    assert path.read_bytes() == b"new"
    assert (tmp_path / "durable.pdf").read_bytes() == b"on disk"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["durable.pdf", "report.pdf"]


def test_a_failing_writer_leaves_the_old_file_and_no_temporary_one(tmp_path: Path) -> None:
    path = tmp_path / "rooms.csv"
    path.write_bytes(b"complete")

    def half(temporary: Path) -> None:
        temporary.write_bytes(b"hal")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        put_in_place(path, half)
    assert path.read_bytes() == b"complete"
    assert [p.name for p in tmp_path.iterdir()] == ["rooms.csv"]


def test_each_writer_has_a_temporary_name_of_its_own_beside_the_file(tmp_path: Path) -> None:
    final = tmp_path / "receipt-00000001.pdf"
    names = {temporary_beside(final) for _ in range(50)}
    assert len(names) == 50  # two consoles saving one receipt never share a half file
    for name in names:
        assert name.parent == tmp_path  # one folder: putting it in place is one rename
        assert name.name.startswith(".receipt-00000001.pdf.")
        assert name.suffix == ".part"
