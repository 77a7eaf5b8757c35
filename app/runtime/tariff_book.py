"""The tariff plans as the engine prices with them: one shared ``TariffSchedule`` per plan
(parsed from the stored versions' TOML) and the id of each version, reloaded when a version is
imported or revised."""

from __future__ import annotations

import logging
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.billing.tariff import TariffFileError, parse_tariff
from app.billing.tariff.schedule import ScheduleError, TariffSchedule
from app.store.models import TariffVersion

log = logging.getLogger(__name__)


class TariffBook:
    def __init__(self) -> None:
        self.schedules: dict[int, TariffSchedule] = {}  # plan id -> its versions
        self.version_ids: dict[int, dict[date, int]] = {}  # plan id -> effective_from -> id
        self.problems: dict[int, str] = {}  # plan id -> why it cannot price
        self._signature: tuple[int, int, int] | None = None

    def _current(self, session: Session) -> tuple[int, int, int]:
        count, last, revisions = session.execute(
            select(
                func.count(TariffVersion.id),
                func.coalesce(func.max(TariffVersion.id), 0),
                func.coalesce(func.sum(TariffVersion.revision), 0),
            )
        ).one()
        return (int(count), int(last), int(revisions))

    def refresh(self, session: Session) -> bool:
        """Reload if a version was added, revised or removed since; True if it reloaded."""
        signature = self._current(session)
        if signature == self._signature:
            return False
        self._signature = signature
        versions: dict[int, list[tuple[int, str, str]]] = {}
        for version_id, plan_id, effective, text in session.execute(
            select(
                TariffVersion.id,
                TariffVersion.plan_id,
                TariffVersion.effective_from,
                TariffVersion.source_toml,
            ).order_by(TariffVersion.plan_id, TariffVersion.effective_from)
        ):
            versions.setdefault(plan_id, []).append((version_id, effective.isoformat(), text))
        self.schedules.clear()
        self.version_ids.clear()
        self.problems.clear()
        for plan_id, rows in versions.items():
            try:
                tariffs = [parse_tariff(text, f"plan {plan_id}, {day}") for _, day, text in rows]
                self.schedules[plan_id] = TariffSchedule(tariffs)
            except (TariffFileError, ScheduleError) as exc:
                self.problems[plan_id] = str(exc)
                log.error("tariff plan %s cannot price usage: %s", plan_id, exc)
                continue
            self.version_ids[plan_id] = {
                date.fromisoformat(day): version_id for version_id, day, _ in rows
            }
        return True

    def version_id(self, plan_id: int, day: date) -> int:
        schedule = self.schedules[plan_id]
        effective = schedule.versions[schedule.version_index(day)].effective_from
        return self.version_ids[plan_id][effective]
