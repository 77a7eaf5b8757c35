"""The diagnostics dialog on a laptop beside the PC whose runtime polls the site: choosing a
polled bus asks that runtime to pause it, the port opens once it let go, and closing the dialog
gives the bus back; a runtime that does not let go in time is a message, and the port stays
closed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.application import make_application
from app.demo.site import DEMO_PASSWORD, DemoSpec, seed_demo_site
from app.hardware.bus_worker import PollPolicy
from app.runtime.runtime import Runtime, RuntimeOptions
from app.services.bus_pause import pause_state
from app.services.operators import login
from app.store.database import Database
from app.store.models import Bus, FieldOwner
from app.ui.background import wait_for_background
from app.views import diagnostics_dialog
from app.views.diagnostics_dialog import DiagnosticsDialog

WAIT_MS = 30_000


@pytest.fixture
def owner(migrated_db: Database) -> Iterator[Runtime]:
    """The runtime of the site's other PC (in this process: its simulated lines are ours to
    open too once it lets go)."""
    seed_demo_site(migrated_db, DemoSpec(buildings=1, floors=1, rooms_per_floor=2))
    runtime = Runtime(
        migrated_db, RuntimeOptions(poll=PollPolicy(cycle_pause_s=0.1), policy_tick_s=3600)
    )
    runtime.start()
    yield runtime
    runtime.stop()


def first_bus(db: Database) -> tuple[int, str]:
    with db.session() as session:
        row = session.execute(select(Bus.id, Bus.name).order_by(Bus.id)).first()
    assert row is not None
    return row[0], row[1]


def open_dialog(qtbot, db: Database) -> DiagnosticsDialog:  # type: ignore[no-untyped-def]
    make_application()
    who = login(db, "technician", DEMO_PASSWORD)
    dialog = DiagnosticsDialog(db, lambda: who, dict)  # the laptop polls nothing itself
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.bus.count() > 1, timeout=WAIT_MS)
    return dialog


def test_a_polled_bus_is_paused_while_the_dialog_has_its_port(  # type: ignore[no-untyped-def]
    qtbot, owner: Runtime, migrated_db: Database
) -> None:
    bus_id, name = first_bus(migrated_db)
    assert name in {w.name for w in owner.workers}
    dialog = open_dialog(qtbot, migrated_db)
    with qtbot.waitSignal(dialog.port_ready, timeout=WAIT_MS) as ready:
        dialog.choose_bus(name)
    assert ready.args == [True]
    assert dialog.owned  # the dialog's own worker on the port
    assert name not in {w.name for w in owner.workers}  # the owner let go of it first
    state = pause_state(migrated_db, bus_id, datetime.now(UTC))
    assert state is not None
    assert state.paused
    assert "paused polling this bus" in dialog.status.text()

    dialog.close()
    wait_for_background()
    qtbot.waitUntil(lambda: name in {w.name for w in owner.workers}, timeout=WAIT_MS)
    with migrated_db.session() as session:
        row = session.get(FieldOwner, f"bus:{bus_id}")
        assert row is not None
        assert row.pause_until is None


def test_an_owner_that_does_not_let_go_is_a_message(  # type: ignore[no-untyped-def]
    qtbot, owner: Runtime, migrated_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    bus_id, name = first_bus(migrated_db)
    monkeypatch.setattr(diagnostics_dialog, "ACK_WAIT_S", 0.5)  # before the owner's next round
    monkeypatch.setattr(owner, "_pause_round", lambda: None)  # an owner too busy to answer
    dialog = open_dialog(qtbot, migrated_db)
    with qtbot.waitSignal(dialog.port_ready, timeout=WAIT_MS) as ready:
        dialog.choose_bus(name)
    assert ready.args == [False]
    assert dialog.worker is None
    assert "did not let go of its port" in dialog.status.text()
    assert name in {w.name for w in owner.workers}
    with migrated_db.session() as session:
        row = session.get(FieldOwner, f"bus:{bus_id}")
        assert row is not None
    wait_for_background()
    dialog.close()
