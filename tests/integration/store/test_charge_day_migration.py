"""Migration 0011's fill of the usage billed per day (``charge_day``) from the usage charges
already posted: run on a site whose engine posted usage across midnight, after the rollup the
engine wrote is emptied, it gives back the same money per meter, account, period and tier, and
the units the charges hold, on the site's local days, so ``ledger verify`` finds it whole."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from zoneinfo import ZoneInfo

from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import delete, func, select

from app import store
from app.demo.site import DemoSpec, seed_demo_site
from app.hardware.snapshot import Quality, Snapshot
from app.runtime.runtime import Runtime, RuntimeOptions
from app.services.ledger_verify import verify_ledger
from app.store.database import Database
from app.store.field_lock import SoleLocks
from app.store.models import Account, ChargeDay, Meter, UsageCharge

ZONE = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 10, 21, 0, 5, tzinfo=ZONE).astimezone(UTC)  # peak, valley, midnight


def revision_0011() -> ModuleType:
    path = Path(store.__file__).parent / "migrations/versions/0011_notices_health_incomer.py"
    spec = importlib.util.spec_from_file_location("revision_0011", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rollup(db: Database) -> dict[tuple[object, ...], tuple[int, int]]:
    with db.session() as session:
        rows = session.execute(
            select(
                ChargeDay.meter_id,
                ChargeDay.account_id,
                ChargeDay.period,
                ChargeDay.tier,
                func.sum(ChargeDay.units),
                func.sum(ChargeDay.amount_minor),
            ).group_by(ChargeDay.meter_id, ChargeDay.account_id, ChargeDay.period, ChargeDay.tier)
        ).all()
    return {(m, a, p, t): (int(u), int(x)) for m, a, p, t, u, x in rows}


def test_the_fill_gives_back_what_the_postings_added(db: Database) -> None:
    seed_demo_site(db, DemoSpec(buildings=2, floors=1, rooms_per_floor=2))
    with db.session() as session:
        meters = session.execute(
            select(Meter.id, Meter.utility)
            .join(Account, Account.id == Meter.account_id)
            .where(Meter.serial.startswith("EB") | Meter.serial.startswith("WB"))
        ).all()
    rt = Runtime(db, RuntimeOptions(simulate=False), locks=SoleLocks())
    rt.claim_field()
    rt.engine.load()
    for n in range(16):  # 21:00 to 01:00 local, posted every hour: charges span midnight
        at = START + n * timedelta(minutes=15)
        rt.engine.process(
            [
                Snapshot(
                    meter_id,
                    "1",
                    at.timestamp(),
                    at,
                    Quality.GOOD,
                    energy_import_kwh=1000 + 0.25 * n if utility.value == "electricity" else None,
                    volume_m3=50 + 0.5 * n if utility.value == "water" else None,
                    relay_closed=True,
                )
                for meter_id, utility in meters
            ]
        )
        if n % 4 == 3:
            with db.transaction() as session:
                rt.billing.post(session)
    with db.transaction() as session:
        rt.billing.post(session)
    written = rollup(db)
    assert {p for (_m, _a, p, _t) in written} >= {"peak", "valley"}
    assert verify_ledger(db).ok
    with db.session() as session:
        charged = session.scalar(select(func.sum(UsageCharge.amount_minor)))
        days = set(session.scalars(select(ChargeDay.day).distinct()))
    assert len(days) == 2  # the evening and after midnight

    with db.engine.begin() as conn:
        conn.execute(delete(ChargeDay))
        with Operations.context(MigrationContext.configure(conn)):
            revision_0011()._fill_charge_days()
    filled = rollup(db)
    assert {key: money for key, (_u, money) in filled.items()} == {
        key: money for key, (_u, money) in written.items()
    }
    assert sum(units for units, _ in filled.values()) == sum(u for u, _ in written.values())
    with db.session() as session:
        assert session.scalar(select(func.sum(ChargeDay.amount_minor))) == charged
        assert set(session.scalars(select(ChargeDay.day).distinct())) == days
    assert verify_ledger(db).ok
