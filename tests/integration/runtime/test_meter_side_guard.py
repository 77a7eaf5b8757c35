"""A meter that guards its own load: the runtime writes its limit parameters (read back), the
meter opens its relay by itself on an overload, and the console records the trip.

No shipped profile has a meter-side load guard (no public register map of one was found), so
the test gives the Acrel DDSY1352 profile two parameters and a ``[load_guard]`` table in a
profile folder of its own; the simulated meter honours them as such a meter would.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, update

from app.demo.site import DemoSpec, seed_demo_site
from app.hardware import profiles
from app.hardware.bus_worker import PollPolicy
from app.hardware.errors import ProfileError
from app.hardware.profiles import Profile, load_profile_file
from app.runtime import sim_site
from app.runtime.runtime import Runtime, RuntimeOptions
from app.services import field_setup
from app.store.database import Database
from app.store.models import Alarm, Bus, LoadGuardSetting, LoadTrip, Meter, RelayCommand
from tests.support import wait_for

GUARDED = "acrel-guarded"
PARAMETERS = """
[modbus.parameters.power_limit_w]
function = 3
address = 0x0100
type = "uint16"

[modbus.parameters.power_limit_s]
function = 3
address = 0x0101
type = "uint16"

[load_guard]
total_limit_w = "power_limit_w"
total_duration_s = "power_limit_s"
"""


def guarded_profile(folder: Path, table: str = PARAMETERS) -> Path:
    text = (profiles.PROFILES_DIR / "acrel-ddsy1352.toml").read_text(encoding="utf-8")
    path = folder / f"{GUARDED}.toml"
    path.write_text(text.replace('name = "acrel-ddsy1352"', f'name = "{GUARDED}"') + table)
    return path


def test_a_profile_s_load_guard_must_name_its_parameters(tmp_path: Path) -> None:
    wrong = PARAMETERS.replace('total_duration_s = "power_limit_s"', 'total_duration_s = "nope"')
    with pytest.raises(ProfileError, match=r"load_guard\.total_duration_s"):
        load_profile_file(guarded_profile(tmp_path, wrong))
    assert load_profile_file(guarded_profile(tmp_path)).load_guard is not None


def test_the_meter_trips_itself_and_the_console_records_it(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    guarded = load_profile_file(guarded_profile(tmp_path))

    def lookup(name: str, folder: Path = profiles.PROFILES_DIR) -> Profile:
        return guarded if name == GUARDED else profiles.load_profile(name, folder)

    monkeypatch.setattr(field_setup, "load_profile", lookup)  # the buses' meters
    monkeypatch.setattr(sim_site, "load_profile", lookup)
    seed_demo_site(db, DemoSpec(buildings=2, floors=1, rooms_per_floor=2))
    with db.transaction() as session:
        meter, url = session.execute(
            select(Meter, Bus.url)
            .join(Bus, Bus.id == Meter.bus_id)
            .where(Meter.profile == "acrel-ddsy1352")
            .order_by(Meter.id)
        ).first()  # type: ignore[misc]
        session.execute(update(Meter).where(Meter.bus_id == meter.bus_id).values(profile=GUARDED))
        session.execute(
            update(LoadGuardSetting).values(
                params={"total_mode": "trip", "total_limit_w": 1500, "total_duration_s": 5}
            )
        )
        meter_id, address = meter.id, meter.address
    runtime = Runtime(db, RuntimeOptions(time_scale=5, poll=PollPolicy(cycle_pause_s=0.1)))
    runtime.start()
    try:
        assert runtime.sim is not None
        simulated = runtime.sim.meter(url, address)
        wait_for(
            lambda: (
                simulated.params.get("power_limit_w") == 1500
                and simulated.params.get("power_limit_s") == 5
            ),
            "the settings were written to the meter",
        )
        simulated.switch_on_heater(2500.0, power_factor=0.99, duration_s=3600)
        wait_for(lambda: simulated.self_trips >= 1, "the meter opened its relay by itself")

        def trips() -> list[LoadTrip]:
            with db.session() as session:
                return list(session.scalars(select(LoadTrip).where(LoadTrip.meter_id == meter_id)))

        wait_for(lambda: len(trips()) == 1, "the console recorded the trip")
    finally:
        runtime.stop()
    trip = trips()[0]
    assert trip.mode == "meter_total"
    assert trip.power_w > 1500  # the load the console last saw before the relay opened
    assert trip.locked_out
    with db.session() as session:
        stored = session.get_one(Meter, meter_id)
        assert stored.off_reason == "load_guard"
        kinds = set(session.scalars(select(Alarm.kind).where(Alarm.meter_id == meter_id)))
        commands = session.scalars(
            select(RelayCommand).where(RelayCommand.meter_id == meter_id)
        ).all()
    assert "load_guard_trip" in kinds
    assert "command_failed" not in kinds  # the meter took its settings
    assert not commands  # the console cut nothing: the meter did
