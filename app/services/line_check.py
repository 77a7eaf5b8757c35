"""Check a bus's line: open its port with its line settings and ask each of its meters once.

One port, one owner: a bus the running console polls is tested through its own bus worker;
any other bus through a service worker opened for the test and stopped after it. The port is
opened off the caller's thread by the service worker; call this off the GUI thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from app.hardware.bus_diagnostics import LineCheck, check_line
from app.hardware.bus_worker import BusWorker
from app.hardware.errors import PortUnavailable
from app.hardware.service_worker import open_service_worker
from app.services.field_setup import BusSetup, load_bus_setup
from app.services.setup_checks import SetupRefused
from app.store.database import Database

WAIT_S = 120.0


def check_bus_line(
    db: Database, bus_name: str, workers: Mapping[str, BusWorker] | None = None
) -> tuple[BusSetup, LineCheck]:
    """The bus and what probing its meters found. SetupRefused names an unknown bus or a port
    that cannot be opened (with the system's reason)."""
    setup = load_bus_setup(db, bus_name)
    if setup is None:
        raise SetupRefused("bus", f"There is no bus {bus_name.strip()!r} in use.")
    meters, problems = setup.bus_meters()
    running = (workers or {}).get(setup.name)
    if running is not None:
        return setup, _with(check_line(running, meters).result(WAIT_S), problems)
    try:
        worker = open_service_worker(setup.name, setup.url, setup.line, meters, retries=0)
    except PortUnavailable as exc:
        raise SetupRefused("port", f"{exc}. Check the cable, the adapter and the port.") from None
    try:
        return setup, _with(check_line(worker, meters).result(WAIT_S), problems)
    finally:
        worker.stop()


def _with(check: LineCheck, problems: list[str]) -> LineCheck:
    if not problems:
        return check
    return replace(check, problems=(*check.problems, *problems))
