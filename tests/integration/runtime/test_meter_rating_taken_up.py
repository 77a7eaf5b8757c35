"""The engine takes up a meter's rated current when it changes (a new profile, a fixed value):
the plausibility check measures a register's jump against the rating the database holds now,
not the one the meter had when the engine first saw it."""

from __future__ import annotations

from sqlalchemy import select, update

from app.demo.site import DemoSpec, seed_demo_site
from app.runtime.reading_store import ReadingStore
from app.store.database import Database
from app.store.models import Meter


def test_a_changed_rating_is_taken_up_at_the_next_refresh(db: Database) -> None:
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=2, history_days=0))
    store = ReadingStore()
    with db.session() as session:
        store.refresh(session)
        meter_id = session.scalars(select(Meter.id).order_by(Meter.id)).first()
    assert meter_id is not None
    before = store.tracks[meter_id].rated_current_a
    with db.transaction() as session:
        session.execute(update(Meter).where(Meter.id == meter_id).values(rated_current_a=999))
    with db.session() as session:
        added, removed = store.refresh(session)
    assert (added, removed) == ([], [])
    assert before != 999
    assert store.tracks[meter_id].rated_current_a == 999
