"""``main.py meter incomer`` as a technician runs it: a meter added without a room becomes a
building's incomer (by code or name), moves to another building, is cleared; each change is
one audit event and a repeat changes nothing. A meter with an account, a meter in a vacant
room, a retired meter, an unknown meter or building, a cashier, and a clear of a meter that is
no incomer are each refused with one line saying what to do, and nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.demo.site import DEMO_PASSWORD, DemoSpec, seed_demo_site
from app.services.meter_setup import MeterForm, add_meter, retire_meter
from app.services.operators import login
from app.services.site_layout import add_room
from app.store.database import Database, sqlite_url_for
from app.store.migrate import upgrade
from app.store.models import AuditEvent, Building, Meter
from app.vocabulary import ExitCode, Role
from tests.integration.cli.cli_support import run_in_process

BUS = "Block A electricity 1"


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A demo site with meter INC-1 in no room, INC-OLD retired, and VAC-1 in vacant room
    A-199; ``main.py`` signs in with the demo password."""
    folder = tmp_path / "site"
    folder.mkdir()
    db = Database(sqlite_url_for(folder))
    upgrade(db)
    seed_demo_site(db, DemoSpec(buildings=2, floors=1, rooms_per_floor=2))
    technician = login(db, Role.TECHNICIAN.value, DEMO_PASSWORD)
    admin = login(db, Role.ADMIN.value, DEMO_PASSWORD)
    with db.transaction() as session:
        add_room(session, admin, "A", 1, "199")
        add_meter(session, technician, MeterForm("INC-1", BUS, "999999000001"))
        add_meter(session, technician, MeterForm("INC-OLD", BUS, "999999000002"))
        retire_meter(session, technician, "INC-OLD")
        add_meter(session, technician, MeterForm("VAC-1", BUS, "999999000003", room="A-199"))
    db.dispose()
    monkeypatch.setenv("METERDESK_PASSWORD", DEMO_PASSWORD)
    return folder


def incomer(
    capsys: pytest.CaptureFixture[str], site: Path, *args: str, user: str = "technician"
) -> tuple[int, str, str]:
    return run_in_process(
        capsys, "meter", "incomer", "--data-dir", str(site), "--user", user, *args
    )


def state(site: Path) -> tuple[str | None, int]:
    """The code of the building INC-1 feeds, and how many incomer changes were audited."""
    db = Database(sqlite_url_for(site))
    try:
        with db.session() as session:
            code = session.scalar(
                select(Building.code)
                .join(Meter, Meter.incomer_building_id == Building.id)
                .where(Meter.serial == "INC-1")
            )
            events = session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "meter.incomer")
            )
            return code, events or 0
    finally:
        db.dispose()


def test_mark_move_and_clear(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = incomer(capsys, site, "--meter", "inc-1", "--building", "A")
    assert code == ExitCode.OK, err
    assert out.strip() == (
        "Meter INC-1 is the electricity incomer of building Block A (A): billed to nobody, "
        "set against the sum of the building's rooms by 'main.py report loss'."
    )
    assert state(site) == ("A", 1)
    code, out, _err = incomer(capsys, site, "--meter", "INC-1", "--building", "Block A")
    assert code == ExitCode.OK
    assert "(it already was; nothing changed)" in out
    assert state(site) == ("A", 1)  # nothing audited
    code, out, _err = incomer(capsys, site, "--meter", "INC-1", "--building", "B")
    assert code == ExitCode.OK
    assert "of building Block B (B) (it was building Block A (A)'s)" in out
    assert state(site) == ("B", 2)
    code, out, _err = incomer(capsys, site, "--meter", "INC-1", "--clear")
    assert code == ExitCode.OK
    assert out.strip() == (
        "Meter INC-1 is no longer an incomer (it was building Block B (B)'s); the loss report "
        "leaves it out."
    )
    assert state(site) == (None, 3)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--meter", "EA01001", "--building", "A"),
            "error: meter: Meter EA01001 is paid for by account ",
        ),
        (
            ("--meter", "VAC-1", "--building", "A"),
            "error: meter: Meter VAC-1 is room A-199's meter and counts for that room: an "
            "incomer belongs to no room. If it really is the building's incoming meter, take it "
            "out of the room first ('main.py meter change --meter VAC-1 --room \"\"').",
        ),
        (
            ("--meter", "INC-OLD", "--building", "A"),
            "error: meter: Meter INC-OLD is retired; an incomer must be in service.",
        ),
        (
            ("--meter", "NOPE", "--building", "A"),
            "error: meter: There is no meter 'NOPE'; check the serial",
        ),
        (
            ("--meter", "INC-1", "--building", "Z"),
            "error: building: There is no building 'Z'; buildings: Block A, Block B.",
        ),
        (
            ("--meter", "INC-1", "--clear"),
            "error: meter: Meter INC-1 is no building's incomer; there is nothing to clear.",
        ),
    ],
)
def test_refusals_say_what_to_do_and_write_nothing(
    site: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    code, out, err = incomer(capsys, site, *args)
    assert code == ExitCode.REFUSED
    assert out == ""
    assert err.startswith(message), err
    assert err.strip().endswith("Nothing was changed.")
    assert len(err.strip().splitlines()) == 1
    assert state(site) == (None, 0)


def test_a_cashier_may_not_and_the_options_are_checked(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = incomer(capsys, site, "--meter", "INC-1", "--building", "A", user="cashier")
    assert code == ExitCode.DENIED
    assert "ask a technician" in err
    code, _out, err = incomer(capsys, site, "--meter", "INC-1")
    assert code == 2
    assert "one of the arguments --building --clear is required" in err
    code, _out, err = incomer(capsys, site, "--meter", "INC-1", "--building", "A", "--clear")
    assert code == 2
    assert "not allowed with argument" in err
    assert state(site) == (None, 0)
