"""The wire commands (``meter read``, ``meter relay``, ``bus scan --port``) borrow a port the
site's runtime polls: the owner lets go of it for the command and polls again afterwards; an
owner that does not let go stops the command with exit 11 and a message, its pause taken back;
without a site in the data folder there is nobody to ask."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import select

from app.cli import port_borrow
from app.demo.site import DemoSpec, seed_demo_site
from app.runtime.runtime import Runtime
from app.services.bus_pause import borrow_line, pause_state
from app.store.database import Database
from app.store.field_lock import bus_unit
from app.store.models import Bus, FieldOwner
from app.vocabulary import ExitCode
from tests.integration.runtime.runtime_support import polling
from tests.support import wait_for


@pytest.fixture
def site(db: Database) -> Database:
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=2))
    return db


def first_bus(db: Database) -> tuple[int, str, str]:
    with db.session() as session:
        row = session.execute(select(Bus.id, Bus.name, Bus.url).order_by(Bus.id).limit(1)).one()
    return row[0], row[1], row[2]


def args_for(db: Database, port: str, folder: Path) -> argparse.Namespace:
    return argparse.Namespace(
        data_dir=str(folder),
        db=db.url.render_as_string(hide_password=False),
        demo=False,
        port=port,
    )


@pytest.fixture
def owner(site: Database) -> Iterator[Runtime]:
    with polling(site) as runtime:
        yield runtime


def test_the_owner_lets_go_for_the_command_and_polls_again(
    owner: Runtime, site: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bus_id, name, url = first_bus(site)
    wait_for(lambda: name in {w.name for w in owner.workers}, "the owner polls the bus")

    held = port_borrow.borrow_port(args_for(site, url, tmp_path), "main.py meter read")

    assert callable(held)
    state = pause_state(site, bus_id, datetime.now(UTC))
    assert state is not None
    assert state.paused
    assert name not in {w.name for w in owner.workers}  # its port is closed
    assert f"Bus {name}: console on" in capsys.readouterr().err
    held()
    wait_for(lambda: name in {w.name for w in owner.workers}, "the owner polls again")


def test_an_owner_that_does_not_let_go_stops_the_command(
    site: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A live owner row whose runtime never answers the pause (hung, or an older version)."""
    bus_id, name, url = first_bus(site)
    now = datetime.now(UTC)
    with site.transaction() as session:
        session.add(
            FieldOwner(
                unit=bus_unit(bus_id),
                runtime_id="x" * 32,
                host="srv1",
                pid=4242,
                role="serve",
                since=now,
                seen_at=now,
            )
        )
    monkeypatch.setattr(port_borrow, "borrow_line", partial(borrow_line, wait_s=0.3))

    code = port_borrow.borrow_port(args_for(site, url, tmp_path), "main.py meter relay")

    assert code == ExitCode.PORT_UNAVAILABLE
    err = capsys.readouterr().err
    assert f"bus {name} on {url}: serve on srv1 polls this bus and did not let go" in err
    with site.session() as session:
        row = session.get_one(FieldOwner, bus_unit(bus_id))
        assert row.pause_until is None  # the pause was taken back
        assert row.pause_by == ""


def test_nobody_to_ask_on_a_bare_line_or_without_a_site(site: Database, tmp_path: Path) -> None:
    _bus_id, _name, url = first_bus(site)
    not_polled = port_borrow.borrow_port(args_for(site, url, tmp_path), "main.py meter read")
    other_port = port_borrow.borrow_port(
        args_for(site, "socket://10.0.0.9:4001", tmp_path), "main.py meter read"
    )
    bare = argparse.Namespace(data_dir=str(tmp_path / "empty"), db=None, demo=False, port=url)
    no_site = port_borrow.borrow_port(bare, "main.py meter read")
    for held in (not_polled, other_port, no_site):
        assert callable(held)
        held()
    assert not (tmp_path / "empty").exists()  # nothing created for a wire tool
