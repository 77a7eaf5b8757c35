"""Load-guard settings per site and per building (DOMAIN.md sections 1 and 3): set them from a
form or the TOML file, export and list them. A building's settings win over the site's.

Settings are checked in full before they are stored (``LoadGuardParams``); a change is audited
and moves the field revision, so a running console or ``serve`` applies it to every meter's
guard without a restart (a guard keeps its trips and its count of restores today).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.billing.load_guard import LoadGuardParams
from app.billing.load_guard_file import (
    dump_load_guard,
    params_from_json,
    params_to_json,
    parse_load_guard,
)
from app.services.audit import record_audit
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.services.setup_checks import field_changed
from app.services.site_layout import active_building
from app.store.database import Database
from app.store.models import Building, LoadGuardSetting


@dataclass(frozen=True)
class GuardSettingsRow:
    building: str  # "" for the site-wide settings
    params: LoadGuardParams


def _row(session: Session, building: str | None) -> tuple[LoadGuardSetting | None, int | None]:
    building_id = active_building(session, building).id if building else None
    row = session.scalars(
        select(LoadGuardSetting).where(
            LoadGuardSetting.building_id.is_(None)
            if building_id is None
            else LoadGuardSetting.building_id == building_id
        )
    ).first()
    return row, building_id


def save_load_guard(
    session: Session, by: SignedIn, params: LoadGuardParams, building: str | None = None
) -> str:
    """Store the settings of a building (or the site's, without one): "added", "changed" or
    "unchanged"."""
    by.require(Action.CHANGE_POLICY)
    row, building_id = _row(session, building)
    stored = params_to_json(params)
    target = building or "site"
    if row is None:
        session.add(LoadGuardSetting(building_id=building_id, params=stored))
        outcome = "added"
        before = None
    elif row.params == stored:
        return "unchanged"
    else:
        before = dict(row.params)
        row.params = stored
        outcome = "changed"
    session.flush()
    field_changed(session)
    record_audit(session, by, "load_guard.change", "load_guard", target, before, stored)
    return outcome


def import_load_guard(
    session: Session, by: SignedIn, text: str, source: str, building: str | None = None
) -> str:
    """Store a load-guard file; ``LoadGuardFileError`` lists every problem, nothing stored."""
    by.require(Action.CHANGE_POLICY)
    return save_load_guard(session, by, parse_load_guard(text, source), building)


def export_load_guard(session: Session, building: str | None = None) -> str | None:
    """The settings as the TOML file, or None when none are stored for that place."""
    row, _ = _row(session, building)
    return None if row is None else dump_load_guard(params_from_json(row.params))


def list_load_guards(db: Database) -> list[GuardSettingsRow]:
    """Every stored setting: the site's first, then buildings by name."""
    with db.session() as session:
        rows = session.execute(
            select(LoadGuardSetting, Building.name)
            .outerjoin(Building, Building.id == LoadGuardSetting.building_id)
            .order_by(Building.name.is_not(None), Building.name)
        ).all()
        return [
            GuardSettingsRow(name or "", params_from_json(setting.params)) for setting, name in rows
        ]


def export_load_guard_of(db: Database, building: str | None = None) -> str | None:
    """``export_load_guard`` in a read-only session of its own (screens)."""
    with db.session() as session:
        return export_load_guard(session, building)
