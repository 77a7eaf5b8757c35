"""What the runtime tests on a demo site share: the site with the balance policy and the load
guard made strict (cuts at once, one trip locks the room out), a runtime polling it without
pause, and a meter of an account with money together with its simulated meter."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select, update

from app.demo.site import DEMO_LOAD_GUARD, DemoSpec, seed_demo_site
from app.hardware.bus_worker import PollPolicy
from app.hardware.simulator.sim_meter import SimMeter
from app.runtime.runtime import Runtime, RuntimeOptions
from app.store.database import Database
from app.store.models import Account, BalancePolicy, Bus, LoadGuardSetting, Meter
from tests.support import wait_for


def strict_demo_site(db: Database, spec: DemoSpec | None = None) -> Database:
    """The demo site (one building of four rooms unless ``spec``); cuts do not wait for the end
    of a friendly night, and one load-guard trip locks the room out (no automatic restore)."""
    seed_demo_site(db, spec or DemoSpec(buildings=1, floors=1, rooms_per_floor=4))
    with db.transaction() as session:
        session.execute(update(BalancePolicy).values(friendly_hours=[], friendly_dates=[]))
        session.execute(
            update(LoadGuardSetting).values(
                params={**DEMO_LOAD_GUARD, "max_auto_restores_per_day": 0}
            )
        )
    return db


def funded_meter(db: Database, profile: str = "dlt645-2007") -> tuple[Meter, str]:
    """A meter of ``profile`` whose account has money, and its bus's URL."""
    with db.session() as session:
        meter, url = session.execute(
            select(Meter, Bus.url)
            .join(Bus, Meter.bus_id == Bus.id)
            .join(Account, Meter.account_id == Account.id)
            .where(Account.balance_minor > 5000, Meter.profile == profile)
            .order_by(Account.id, Meter.id)
            .limit(1)
        ).one()
        return meter, url


def polled_meter(
    owner: Runtime, db: Database, *, wait: bool = True, profile: str = "dlt645-2007"
) -> tuple[Meter, SimMeter]:
    """``funded_meter`` and its simulated meter on the owner's line, once the owner polled
    (unless ``wait`` is False)."""
    meter, url = funded_meter(db, profile)
    assert owner.sim is not None
    simulated = owner.sim.meter(url, meter.address)
    if wait:
        wait_for(lambda: owner.engine.totals.readings >= 4, "the meters were polled")
    return meter, simulated


@contextmanager
def polling(db: Database, cycle_pause_s: float = 0.0) -> Iterator[Runtime]:
    """A runtime polling the site's simulated lines (the periodic supply evaluation an hour
    away), stopped afterwards."""
    runtime = Runtime(
        db, RuntimeOptions(poll=PollPolicy(cycle_pause_s=cycle_pause_s), policy_tick_s=3600)
    )
    runtime.start()
    try:
        yield runtime
    finally:
        runtime.stop()
    assert not runtime.engine.alive
