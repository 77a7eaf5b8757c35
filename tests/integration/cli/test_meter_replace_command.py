"""``main.py meter replace`` as a technician runs it, against a seeded demo database."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.demo.site import DEMO_PASSWORD
from app.store.database import Database, sqlite_url_for
from app.store.models import Alarm, AuditEvent, IntervalReading, Meter, Operator
from app.vocabulary import AlarmSeverity, AlarmState, MeterStatus, ReadingQuality
from tests.support import run_python, unmigrated_folder

OneLineError = Callable[[subprocess.CompletedProcess[str]], str]
SITE_ZONE = ZoneInfo("Asia/Shanghai")  # the demo site's


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo site: building B's electricity meters speak Modbus (EB01001 at address 1)."""
    folder = tmp_path_factory.mktemp("site")
    proc = run_python(
        [
            *("main.py", "demo", "seed", "--data-dir", str(folder)),
            *("--buildings", "2", "--floors", "1", "--rooms-per-floor", "4"),
            *("--history-days", "0"),  # the swaps below are dated in the last days
        ]
    )
    assert proc.returncode == 0, proc.stderr
    return folder


@pytest.fixture
def site(seeded: Path, tmp_path: Path) -> Path:
    """A copy of the seeded site per test."""
    folder = tmp_path / "site"
    folder.mkdir()
    for file in seeded.iterdir():
        if file.is_file():
            (folder / file.name).write_bytes(file.read_bytes())
    return folder


def replace(folder: Path, *args: str, user: str = "technician") -> subprocess.CompletedProcess[str]:
    """``meter replace`` by ``user`` of the demo site (password ``demo``)."""
    return run_python(
        ["main.py", "meter", "replace", "--data-dir", str(folder), "--user", user, *args],
        env={"METERDESK_PASSWORD": DEMO_PASSWORD},
    )


def rows(folder: Path) -> tuple[int, int, int]:
    """How many meters, readings and open alarms the database holds."""
    db = Database(sqlite_url_for(folder))
    try:
        with db.session() as session:
            return (
                session.scalar(select(func.count()).select_from(Meter)) or 0,
                session.scalar(select(func.count()).select_from(IntervalReading)) or 0,
                session.scalar(select(func.count()).where(Alarm.state != AlarmState.CLEARED)) or 0,
            )
    finally:
        db.dispose()


def test_a_swap_is_recorded_at_a_site_local_time(site: Path) -> None:
    local = (datetime.now(SITE_ZONE) - timedelta(days=1)).replace(second=0, microsecond=0)
    db = Database(sqlite_url_for(site))
    with db.transaction() as session:
        old = session.scalars(select(Meter).where(Meter.serial == "EB01001")).one()
        session.add(
            IntervalReading(
                meter_id=old.id,
                read_at=local - timedelta(hours=2),
                register_units=1_200_000,
                quality=ReadingQuality.GOOD,
            )
        )
        session.add(
            Alarm(
                kind="meter_offline",
                severity=AlarmSeverity.CRITICAL,
                meter_id=old.id,
                message="Meter offline: no reply.",
            )
        )
        old_id, bus_id, account_id = old.id, old.bus_id, old.account_id
    db.dispose()

    at = local.replace(tzinfo=None).isoformat(timespec="minutes")  # naive: site-local
    proc = replace(
        site,
        *("--meter", "EB01001", "--final", "1234.5", "--new-serial", "NEW-1"),
        *("--new-address", "1", "--initial", "0.25", "--at", at),
    )

    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    out = proc.stdout
    assert f"Meter EB01001 replaced by NEW-1 at {local.isoformat(sep=' ')} (Asia/Shanghai)." in out
    assert "old meter EB01001: final reading 1234.500 kWh, now removed" in out
    assert "new meter NEW-1: initial reading 0.250 kWh, address 1 on" in out
    assert "1 open alarm(s) of the old meter cleared" in out
    assert "starts polling the new meter within seconds" in out
    db = Database(sqlite_url_for(site))
    try:
        with db.session() as session:
            event = session.scalars(
                select(AuditEvent).where(AuditEvent.action == "meter.replace")
            ).one()
            technician = session.scalars(
                select(Operator.id).where(Operator.username == "technician")
            ).one()
            removed = session.get(Meter, old_id)
            new = session.scalars(select(Meter).where(Meter.serial == "NEW-1")).one()
            readings = session.execute(
                select(IntervalReading.meter_id, IntervalReading.register_units).where(
                    IntervalReading.read_at == local
                )
            ).all()
            open_alarms = session.scalars(
                select(Alarm).where(Alarm.meter_id == old_id, Alarm.state != AlarmState.CLEARED)
            ).all()
    finally:
        db.dispose()
    assert removed is not None
    assert (removed.status, removed.removed_at) == (MeterStatus.REMOVED, local)
    assert (new.replaces_id, new.bus_id, new.address, new.account_id) == (
        old_id,
        bus_id,
        "1",
        account_id,
    )
    assert new.installed_at == local
    assert sorted(tuple(r) for r in readings) == [(old_id, 1_234_500), (new.id, 250)]
    assert open_alarms == []
    assert (event.operator_id, event.target_id) == (technician, str(old_id))
    assert event.after is not None
    assert (event.after["serial"], event.after["initial_units"]) == ("NEW-1", 250)


def test_a_refused_swap_says_why_and_records_nothing(
    site: Path, one_line_error: OneLineError
) -> None:
    before = rows(site)
    taken = replace(
        site,
        *("--meter", "EB01001", "--final", "10", "--new-serial", "NEW-1"),
        *("--new-address", "2", "--initial", "0"),
    )
    assert taken.returncode == 1
    line = one_line_error(taken)
    assert "Address 2 on this bus belongs to meter EB01002" in line
    assert line.endswith("Nothing was recorded.")
    unknown = replace(
        site,
        *("--meter", "XX999", "--final", "10", "--new-serial", "NEW-1"),
        *("--new-address", "1", "--initial", "0"),
    )
    assert unknown.returncode == 1
    assert "No meter with serial 'XX999'" in one_line_error(unknown)
    assert rows(site) == before


def test_a_reading_or_time_that_cannot_be_read_is_bad_usage(
    site: Path, one_line_error: OneLineError
) -> None:
    before = rows(site)
    number = replace(
        site,
        *("--meter", "EB01001", "--final", "12,5", "--new-serial", "NEW-1"),
        *("--new-address", "1", "--initial", "0"),
    )
    assert number.returncode == 2
    assert "--final: '12,5' is not a number" in one_line_error(number)
    time = replace(
        site,
        *("--meter", "EB01001", "--final", "12.5", "--new-serial", "NEW-1"),
        *("--new-address", "1", "--initial", "0", "--at", "yesterday"),
    )
    assert time.returncode == 2
    assert "--at: 'yesterday' is not an ISO 8601 time" in one_line_error(time)
    assert rows(site) == before


def test_a_database_that_needs_an_upgrade_is_refused(
    tmp_path: Path, one_line_error: OneLineError
) -> None:
    proc = replace(
        unmigrated_folder(tmp_path / "empty"),
        *("--meter", "EB01001", "--final", "1", "--new-serial", "NEW-1"),
        *("--new-address", "1", "--initial", "0"),
    )
    assert proc.returncode == 8
    assert "main.py db upgrade" in one_line_error(proc)


def test_the_help_says_a_running_console_takes_the_new_meter_up() -> None:
    proc = run_python(["main.py", "meter", "replace", "--help"])
    assert proc.returncode == 0
    assert "starts polling the new meter within seconds" in " ".join(proc.stdout.split())


def test_a_cashier_may_not_replace_a_meter_and_nothing_is_recorded(
    site: Path, one_line_error: OneLineError
) -> None:
    before = rows(site)
    proc = replace(
        site,
        *("--meter", "EB01001", "--final", "1", "--new-serial", "NEW-1"),
        *("--new-address", "1", "--initial", "0"),
        user="cashier",
    )
    assert proc.returncode == 16
    assert "may not replace meters" in one_line_error(proc)
    assert rows(site) == before
