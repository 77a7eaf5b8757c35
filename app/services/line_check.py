"""Check a bus's line: open its port with its line settings and ask each of its meters once.

One port, one owner: a bus the running console polls is tested through its own bus worker;
any other bus through a service worker opened for the test and stopped after it.
``start_line_check`` opens the port (off the GUI thread) and returns at once with the test
queued on the worker; ``check_bus_line`` waits for it (the command line).
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import replace

from app.hardware.bus_diagnostics import LineCheck, check_line
from app.hardware.bus_worker import BusWorker
from app.services.bus_pause import asked_by
from app.services.field_setup import BusJob, BusSetup, bus_in_use, run_on_bus
from app.store.database import Database

WAIT_S = 120.0


def start_line_check(
    db: Database, bus_name: str, workers: Mapping[str, BusWorker] | None = None
) -> BusJob[LineCheck]:
    """The line test queued on the bus's worker (its future: what probing the meters found,
    with the meters whose profile cannot be loaded among the problems). SetupRefused names an
    unknown bus or a port that cannot be opened (with the system's reason), or a runtime that
    polls the bus elsewhere and did not pause it. Blocks while the port opens; the caller
    releases the job once its future is done."""
    setup = bus_in_use(db, bus_name)
    meters, problems = setup.bus_meters()

    def job(worker: BusWorker) -> Future[LineCheck]:
        return _with(check_line(worker, meters), problems)

    return run_on_bus(setup, job, workers, (db, asked_by("line test")))


def check_bus_line(
    db: Database, bus_name: str, workers: Mapping[str, BusWorker] | None = None
) -> tuple[BusSetup, LineCheck]:
    """The bus and what probing its meters found, waited for (``start_line_check``)."""
    job = start_line_check(db, bus_name, workers)
    return job.setup, job.wait(WAIT_S)


def _with(checked: Future[LineCheck], problems: list[str]) -> Future[LineCheck]:
    """``checked`` with ``problems`` added to its own, resolved on the worker's thread."""
    if not problems:
        return checked
    combined: Future[LineCheck] = Future()

    def done(finished: Future[LineCheck]) -> None:
        try:
            check = finished.result()
        except BaseException as exc:
            combined.set_exception(exc)
        else:
            combined.set_result(replace(check, problems=(*check.problems, *problems)))

    checked.add_done_callback(done)
    return combined
