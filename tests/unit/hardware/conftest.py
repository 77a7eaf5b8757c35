"""Register the toy protocol so bus machinery can be tested without a real protocol."""

from __future__ import annotations

import pytest

from app.hardware import protocols


@pytest.fixture(autouse=True)
def _toy_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(protocols.MODULES, "toy", "tests.unit.hardware.toy_protocol")
