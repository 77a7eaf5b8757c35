"""The status bar says who polls the site: this console, or the other MeterDesk an attached
console follows (in orange when nobody polls it)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from app.application import make_application
from app.demo.site import DemoSpec, seed_demo_site
from app.hardware.bus_worker import PollPolicy
from app.runtime.runtime import Runtime, RuntimeOptions
from app.store.database import Database
from app.views.owner_status import OwnerStatus

WAIT_MS = 30_000


@pytest.fixture
def site(migrated_db: Database) -> Database:
    seed_demo_site(migrated_db, DemoSpec(buildings=1, floors=1, rooms_per_floor=2))
    return migrated_db


@pytest.fixture
def attached(site: Database) -> Iterator[Runtime]:
    runtime = Runtime(site, RuntimeOptions(attached=True, policy_tick_s=3600))
    runtime.start()
    yield runtime
    runtime.stop()


def label_for(qtbot, runtime: Runtime) -> OwnerStatus:  # type: ignore[no-untyped-def]
    make_application()
    label = OwnerStatus()
    qtbot.addWidget(label)
    label.watch(runtime)
    return label


def test_an_attached_console_with_nobody_polling_says_so_in_orange(  # type: ignore[no-untyped-def]
    qtbot, attached: Runtime
) -> None:
    label = label_for(qtbot, attached)
    qtbot.waitUntil(lambda: label.text().startswith("Attached: nobody polls"), timeout=WAIT_MS)
    assert "main.py serve" in label.text()
    assert label.property("warning") is True


def test_an_attached_console_names_the_owner_and_the_owner_says_it_polls(  # type: ignore[no-untyped-def]
    qtbot, site: Database, attached: Runtime
) -> None:
    owner = Runtime(site, RuntimeOptions(poll=PollPolicy(cycle_pause_s=0.2), policy_tick_s=3600))
    owner.start()
    try:
        label = label_for(qtbot, attached)
        expected = f"Attached to {socket.gethostname()} (console)"
        qtbot.waitUntil(lambda: label.text() == expected, timeout=WAIT_MS)
        assert label.property("warning") is False
        assert "the site's duties: console on" in label.toolTip()  # with process and since when
        own = label_for(qtbot, owner)
        qtbot.waitUntil(lambda: own.text() == "Polling here: 2 bus(es)", timeout=WAIT_MS)
    finally:
        owner.stop()
