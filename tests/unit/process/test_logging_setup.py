"""Logging goes to a file in the data folder; calling the setup again replaces, never stacks."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.process.logging_setup import LOG_FILE_NAME, setup_logging


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield root
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(level)


def _ours(root: logging.Logger) -> list[logging.Handler]:
    return [h for h in root.handlers if getattr(h, "_meterdesk", False)]


def test_info_goes_to_the_log_file_in_the_data_folder(
    tmp_path: Path, root_logger: logging.Logger
) -> None:
    path = setup_logging(tmp_path / "data")
    assert path == tmp_path / "data" / "logs" / LOG_FILE_NAME

    logging.getLogger("app.test").info("polled 40 meters on bus A1")
    logging.getLogger("app.test").debug("not kept")
    for handler in _ours(root_logger):
        handler.flush()

    text = path.read_text(encoding="utf-8")
    assert "INFO" in text
    assert "app.test: polled 40 meters on bus A1" in text
    assert "not kept" not in text


def test_the_console_shows_only_the_chosen_level(
    tmp_path: Path, root_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_logging(tmp_path, console_level=logging.ERROR)
    logging.getLogger("app.test").warning("a warning for the file only")
    logging.getLogger("app.test").error("database unreachable")
    err = capsys.readouterr().err
    assert "ERROR: database unreachable" in err
    assert "a warning for the file only" not in err


def test_calling_it_again_replaces_the_handlers(
    tmp_path: Path, root_logger: logging.Logger
) -> None:
    setup_logging(tmp_path / "first")
    setup_logging(tmp_path / "second")
    ours = _ours(root_logger)
    assert len(ours) == 2  # one file handler, one console handler
    logging.getLogger("app.test").warning("only in the second folder")
    for handler in ours:
        handler.flush()
    first = (tmp_path / "first" / "logs" / LOG_FILE_NAME).read_text(encoding="utf-8")
    second = (tmp_path / "second" / "logs" / LOG_FILE_NAME).read_text(encoding="utf-8")
    assert "only in the second folder" not in first
    assert "only in the second folder" in second
