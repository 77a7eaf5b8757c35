"""The days a report covers, in the site's calendar: a day, a week (Monday to Sunday), a month,
or any range of whole days. A day runs from the site's local midnight to the next (23 or 25
hours across a daylight-saving change), so a report of November holds what happened between
local midnights, whatever the zone of the PC that prints it."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_DAYS = 3660  # about ten years


class PeriodRefused(ValueError):
    """A period that cannot be reported; the message says what to give instead."""


@dataclass(frozen=True)
class Period:
    first: date
    last: date  # inclusive

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise PeriodRefused(
                f"the period ends ({self.last}) before it starts ({self.first}); give --from "
                "before --to"
            )
        if (self.last - self.first).days + 1 > MAX_DAYS:
            raise PeriodRefused(
                f"the period has {(self.last - self.first).days + 1} days; report at most "
                f"{MAX_DAYS} (about ten years) at once"
            )

    @classmethod
    def day(cls, day: date) -> Period:
        return cls(day, day)

    @classmethod
    def week(cls, day: date) -> Period:
        """Monday to Sunday around ``day``."""
        monday = day - timedelta(days=day.weekday())
        return cls(monday, monday + timedelta(days=6))

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        return cls(date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]))

    @classmethod
    def parse(cls, first: str, last: str) -> Period:
        """From ISO dates as people type them (``2026-11-01``); ``last`` may be ``YYYY-MM``
        style months too: ``--from 2026-11 --to 2026-12`` is November and December."""
        start = _parse_day(first, "--from", end=False)
        end = _parse_day(last, "--to", end=True)
        return cls(start, end)

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """From the first day's local midnight to the midnight after the last, in UTC
        (the end excluded)."""
        start = datetime.combine(self.first, time(), zone).astimezone(UTC)
        end = datetime.combine(self.last + timedelta(days=1), time(), zone).astimezone(UTC)
        return start, end

    def words(self) -> str:
        """ "2026-11-03", "November 2026", or "2026-11-01 to 2026-11-15"."""
        if self.first == self.last:
            return self.first.isoformat()
        whole_month = Period.month(self.first.year, self.first.month)
        if self == whole_month:
            return f"{calendar.month_name[self.first.month]} {self.first.year}"
        return f"{self.first.isoformat()} to {self.last.isoformat()}"


def _parse_day(text: str, option: str, *, end: bool) -> date:
    cleaned = text.strip()
    try:
        if len(cleaned) == 7 and cleaned[4] == "-":  # a month: YYYY-MM
            year, month = int(cleaned[:4]), int(cleaned[5:])
            whole = Period.month(year, month)
            return whole.last if end else whole.first
        return date.fromisoformat(cleaned)
    except ValueError:
        raise PeriodRefused(
            f"{option}: {text!r} is not a date; give one like 2026-11-01 (or a month like 2026-11)"
        ) from None


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    """The site-local day an aware moment falls on."""
    return moment.astimezone(zone).date()
