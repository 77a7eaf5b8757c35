"""A bus whose serial line disappears (socat, standing in for a USB-RS485 adapter, killed) and
comes back (socat started again on the same paths), under the running runtime: one critical
line-down alarm naming the bus and the port, its meters offline with failed polls and no alarm
each, a relay command for the bus failing with the reason; then the alarm cleared and the
meters polled again."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from app.demo.site import DEMO_PASSWORD, DemoSpec, seed_demo_site
from app.hardware.bus_worker import BusWorker, PollPolicy
from app.hardware.profiles import load_profile
from app.hardware.protocols import protocol_spec
from app.hardware.simulator.faults import Answerer
from app.hardware.simulator.server import SimServer
from app.hardware.simulator.sim_meter import SimMeter
from app.runtime.runtime import Runtime, RuntimeOptions
from app.services.bus_setup import BusForm, add_bus
from app.services.meter_setup import MeterForm, add_meter
from app.services.operators import login
from app.services.setup_checks import in_transaction
from app.store.database import Database
from app.store.models import Alarm, Meter
from app.vocabulary import AlarmKind, AlarmSeverity, AlarmState, CommandState, MeterStatus
from tests.support import open_pty_port, wait_for

PROFILE = "hiking-dds238"
ADDRESSES = ("1", "2")
WAIT_S = 60.0  # a bound for a stuck test, never a measurement


class Cable:
    """socat linking two pseudo-terminals at fixed paths: ``pull`` kills it (both ends vanish,
    as a USB adapter's port does), ``plug`` starts it again on the same paths. Simulated
    meters answer at the far end while it is plugged."""

    def __init__(self, folder: Path) -> None:
        exe = shutil.which("socat")
        if exe is None:
            pytest.skip("socat is not installed (apt-get install socat)")
        self.exe = exe
        self.near, self.far = folder / "ttyNEAR", folder / "ttyFAR"
        profile = load_profile(PROFILE)
        self.line = profile.line
        meters = {a: SimMeter(a, profile, seed=4, reply_delay_s=0.0) for a in ADDRESSES}
        self.answerer = Answerer(protocol_spec(profile.protocol), meters)
        self._socat: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._server: threading.Thread | None = None

    def plug(self) -> None:
        self._socat = subprocess.Popen(
            [
                self.exe,
                f"pty,raw,echo=0,link={self.near}",
                f"pty,raw,echo=0,link={self.far}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: self.near.exists() and self.far.exists(), "socat made its ptys", WAIT_S)
        port = open_pty_port(str(self.far), self.line)
        self._stop = threading.Event()
        server = SimServer(port, self.line, self.answerer)

        def serve(stop: threading.Event = self._stop) -> None:
            try:
                server.serve(stop)
            except OSError:  # the cable was pulled under it
                pass
            finally:
                port.close()

        self._server = threading.Thread(target=serve, name="sim far end", daemon=True)
        self._server.start()

    def pull(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.join(timeout=10)
            assert not self._server.is_alive(), "the simulator did not stop"
        if self._socat is not None:
            self._socat.terminate()
            self._socat.wait(timeout=10)
            self._socat = None
        self.near.unlink(missing_ok=True)
        self.far.unlink(missing_ok=True)


@pytest.fixture
def cable(tmp_path: Path) -> Iterator[Cable]:
    made = Cable(tmp_path)
    made.plug()
    yield made
    made.pull()


@pytest.fixture
def site(db: Database, cable: Cable) -> tuple[Database, list[int], int]:
    """The demo site plus bus "Pty line" on the cable's near end with two meters: the
    database, the two meters' ids and the bus's id."""
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=2))
    who = login(db, "admin", DEMO_PASSWORD)
    bus = in_transaction(
        db, add_bus, who, BusForm("Pty line", str(cable.near), PROFILE, timeout_ms="100")
    )
    meter_ids = [
        in_transaction(db, add_meter, who, MeterForm(f"PTY-{a}", "Pty line", a)).meter_id
        for a in ADDRESSES
    ]
    return db, meter_ids, bus.id


def line_alarms(db: Database) -> list[Alarm]:
    with db.session() as session:
        return list(session.scalars(select(Alarm).where(Alarm.kind == AlarmKind.LINE_DOWN)))


def meters(db: Database, ids: list[int]) -> list[Meter]:
    with db.session() as session:
        return list(session.scalars(select(Meter).where(Meter.id.in_(ids))))


def offline_alarms(db: Database, ids: list[int]) -> list[Alarm]:
    with db.session() as session:
        return list(
            session.scalars(
                select(Alarm).where(Alarm.kind == AlarmKind.METER_OFFLINE, Alarm.meter_id.in_(ids))
            )
        )


def test_a_pulled_line_raises_one_alarm_and_clears_it_when_back(
    site: tuple[Database, list[int], int], cable: Cable
) -> None:
    db, meter_ids, bus_id = site
    runtime = Runtime(
        db,
        RuntimeOptions(
            poll=PollPolicy(cycle_pause_s=0.05, offline_after=2, reopen_after_s=0.2),
            policy_tick_s=3600,
        ),
    )
    runtime.start()
    try:
        worker = next(w for w in runtime.workers if w.name == "Pty line")
        wait_for(
            lambda: all(runtime.latest_snapshot(m) is not None for m in meter_ids),
            "both meters on the pty line were read",
            WAIT_S,
        )
        assert line_alarms(db) == []

        cable.pull()
        wait_for(
            lambda: any(a.state is AlarmState.ACTIVE for a in line_alarms(db)),
            "the line-down alarm is raised",
            WAIT_S,
        )
        wait_for(
            lambda: all(m.status is MeterStatus.OFFLINE for m in meters(db, meter_ids)),
            "the line's meters are marked offline",
            WAIT_S,
        )
        (alarm,) = line_alarms(db)
        assert alarm.severity is AlarmSeverity.CRITICAL
        assert alarm.meter_id is None
        assert "Line down: bus Pty line on " + str(cable.near) in alarm.message
        assert (alarm.evidence or {})["bus_id"] == bus_id
        assert offline_alarms(db, meter_ids) == [], "one alarm for the line, not one a meter"
        counters = {c.address: c for c in worker.stats.counters()}
        assert all(counters[a].failed_polls >= 2 for a in ADDRESSES)
        assert not any(counters[a].online for a in ADDRESSES)

        # A relay command for the bus fails at once, saying why.
        boss = login(db, "supervisor", DEMO_PASSWORD)
        outcome = runtime.switch_relay(meter_ids[0], False, boss.operator_id, "test").result(
            timeout=WAIT_S
        )
        assert outcome.state is CommandState.FAILED
        assert "the line is down" in outcome.error

        cable.plug()
        wait_for(
            lambda: all(a.state is AlarmState.CLEARED for a in line_alarms(db)),
            "the line-down alarm is cleared",
            WAIT_S,
        )
        wait_for(
            lambda: all(m.status is MeterStatus.ACTIVE for m in meters(db, meter_ids)),
            "the line's meters are polled again",
            WAIT_S,
        )
        assert len(line_alarms(db)) == 1
        assert offline_alarms(db, meter_ids) == []
        assert isinstance(worker, BusWorker)
        assert worker.port_error == ""
    finally:
        runtime.stop()
    assert not runtime.engine.alive
