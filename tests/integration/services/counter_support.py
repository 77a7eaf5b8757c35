"""What the counter's service tests share: a small demo site and its operators."""

from __future__ import annotations

from sqlalchemy import select

from app.demo.site import DEMO_PASSWORD, DemoSpec, seed_demo_site
from app.services.operators import SignedIn, login
from app.store.database import Database
from app.store.models import Account
from app.vocabulary import Role


def small_site(db: Database) -> Database:
    """Three rooms of the demo site with its operators (one per role, password DEMO_PASSWORD)."""
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=3))
    return db


def who(db: Database, role: Role) -> SignedIn:
    return login(db, role.value, DEMO_PASSWORD)


def account(db: Database, index: int = 0) -> Account:
    with db.session() as session:
        return session.scalars(select(Account).order_by(Account.id)).all()[index]
