"""What every report says of the site: its name, its money (currency and decimal places) and
its time zone, read once per report."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.billing.money import minor_unit_digits
from app.queries.report_table import Cell, Chart, Column, ColumnKind, ReportTable, totals_of
from app.queries.site_facts import site_currency, site_zone
from app.store.models import Site
from app.vocabulary import DEFAULT_TIMEZONE


@dataclass(frozen=True)
class SiteTerms:
    name: str
    currency: str
    places: int
    zone: ZoneInfo

    def report(
        self,
        name: str,
        title: str,
        subtitle: str,
        columns: tuple[Column, ...],
        rows: Iterable[tuple[Cell, ...]],
        *,
        label: str = "Total",
        totals: tuple[Cell, ...] | None = None,
        chart: Chart | None = None,
        notes: Iterable[str] = (),
        now: datetime | None = None,
    ) -> ReportTable:
        """A report of this site: its totals row summed from ``rows`` under ``label`` unless
        ``totals`` are given (a row worked out otherwise)."""
        kept = tuple(rows)
        return ReportTable(
            name=name,
            title=title,
            subtitle=subtitle,
            site=self.name,
            zone=self.zone.key,
            generated_at=now or datetime.now(UTC),
            columns=columns,
            rows=kept,
            totals=totals if totals is not None else totals_of(columns, kept, label),
            chart=chart,
            notes=tuple(notes),
        )

    def money(self, key: str, title: str, *, total: bool = False) -> Column:
        """A column of amounts in the site's currency."""
        return Column(key, title, ColumnKind.MONEY, self.currency, self.places, total)


def site_terms(session: Session) -> SiteTerms:
    currency = site_currency(session)
    name = session.scalar(select(Site.name).order_by(Site.id).limit(1)) or "MeterDesk"
    return SiteTerms(
        name=name,
        currency=currency,
        places=minor_unit_digits(currency),
        zone=site_zone(session) or ZoneInfo(DEFAULT_TIMEZONE),
    )
