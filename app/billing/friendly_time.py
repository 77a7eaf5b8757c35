"""Friendly time of a balance policy: weekly windows and whole dates in which no cut happens.

Windows are ``{"days": [0..6], "from": "HH:MM", "to": "HH:MM"}`` (Monday is 0) in site-local
wall-clock time, ``from`` inclusive and ``to`` exclusive. A window whose ``to`` is not after its
``from`` crosses midnight and belongs to the day it starts on. ``"24:00"`` is allowed as ``to``.
``from`` equal to ``to`` is refused as ambiguous. Friendly dates are whole site-local days.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from app.billing.tariff.values import clock

MINUTES_PER_DAY = 24 * 60
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# How far friendly_time_end looks ahead before it calls the friendly time endless.
_LOOKAHEAD = timedelta(days=400)


class FriendlyTimeError(ValueError):
    """Friendly hours or dates that cannot be used; the message names the entry and the fix."""


_HHMM = re.compile(r"(\d{1,2}):(\d{2})")


def _minutes(text: object, where: str, *, end: bool) -> int:
    if not isinstance(text, str) or not (match := _HHMM.fullmatch(text.strip())):
        raise FriendlyTimeError(f"{where} is {text!r}; write a time as HH:MM, like 22:00.")
    hours, minutes = int(match[1]), int(match[2])
    if end and (hours, minutes) == (24, 0):
        return MINUTES_PER_DAY
    if hours > 23 or minutes > 59:
        allowed = "00:00 to 24:00" if end else "00:00 to 23:59"
        raise FriendlyTimeError(f"{where} is {text!r}; use a time from {allowed}.")
    return hours * 60 + minutes


@dataclass(frozen=True, slots=True)
class FriendlyWindow:
    """One weekly friendly window. ``days`` are the weekdays it *starts* on (Monday = 0);
    ``start_minute`` (inclusive) and ``end_minute`` (exclusive, up to 1440) are minutes after
    midnight; ``end_minute <= start_minute`` means the window runs past midnight into the next
    day."""

    days: frozenset[int]
    start_minute: int
    end_minute: int

    def __post_init__(self) -> None:
        if not self.days:
            raise FriendlyTimeError("A friendly window needs at least one day (0 = Monday).")
        if any(isinstance(d, bool) or d not in range(7) for d in self.days):
            raise FriendlyTimeError(
                f"Friendly window days {sorted(self.days)} must be 0 (Monday) to 6 (Sunday)."
            )
        if not 0 <= self.start_minute < MINUTES_PER_DAY:
            raise FriendlyTimeError(f"Window start minute {self.start_minute} is not in 0-1439.")
        if not 0 <= self.end_minute <= MINUTES_PER_DAY:
            raise FriendlyTimeError(f"Window end minute {self.end_minute} is not in 0-1440.")
        if self.start_minute == self.end_minute:
            raise FriendlyTimeError(
                f"Friendly window from {clock(self.start_minute)} to {clock(self.end_minute)} "
                "is ambiguous; for a whole day write 00:00 to 24:00."
            )

    @property
    def crosses_midnight(self) -> bool:
        return self.end_minute <= self.start_minute

    @classmethod
    def from_json(
        cls, item: Mapping[str, object], where: str = "friendly window"
    ) -> FriendlyWindow:
        """Read the stored form ``{"days": [...], "from": "HH:MM", "to": "HH:MM"}``."""
        if not isinstance(item, Mapping):
            raise FriendlyTimeError(
                f'{where} is {item!r}; write {{"days": [0, 1], "from": "22:00", "to": "07:00"}}.'
            )
        unknown = set(item) - {"days", "from", "to"}
        if unknown:
            raise FriendlyTimeError(
                f"{where} has unknown keys {sorted(unknown)}; use days, from and to."
            )
        days = item.get("days")
        if not isinstance(days, list | tuple) or not days:
            raise FriendlyTimeError(
                f"{where}: 'days' is {days!r}; give a list of weekdays, 0 = Monday to 6 = Sunday."
            )
        for day in days:
            if isinstance(day, bool) or not isinstance(day, int) or day not in range(7):
                raise FriendlyTimeError(
                    f"{where}: day {day!r} is not a weekday; use 0 (Monday) to 6 (Sunday)."
                )
        start = _minutes(item.get("from"), f"{where}: 'from'", end=False)
        end = _minutes(item.get("to"), f"{where}: 'to'", end=True)
        try:
            return cls(frozenset(days), start, end)
        except FriendlyTimeError as exc:
            raise FriendlyTimeError(f"{where}: {exc}") from None

    def to_json(self) -> dict[str, object]:
        return {
            "days": sorted(self.days),
            "from": clock(self.start_minute),
            "to": clock(self.end_minute),
        }

    def spans_covering(self, wall: datetime) -> list[tuple[datetime, datetime]]:
        """The occurrences ``[start, end)`` of this window that contain the naive wall time."""
        spans = []
        for start_day in (wall.date(), wall.date() - timedelta(days=1)):
            if start_day.weekday() not in self.days:
                continue
            midnight = datetime.combine(start_day, time())
            start = midnight + timedelta(minutes=self.start_minute)
            end_minute = self.end_minute + (MINUTES_PER_DAY if self.crosses_midnight else 0)
            end = midnight + timedelta(minutes=end_minute)
            if start <= wall < end:
                spans.append((start, end))
        return spans

    def __str__(self) -> str:
        days = ",".join(WEEKDAY_NAMES[d] for d in sorted(self.days))
        return f"{days} {clock(self.start_minute)}-{clock(self.end_minute)}"


FriendlyWindowLike = FriendlyWindow | Mapping[str, object]
DateLike = date | str


def parse_friendly_hours(
    items: Iterable[FriendlyWindowLike], source: str = "friendly_hours"
) -> tuple[FriendlyWindow, ...]:
    """Windows from their stored JSON form (or already parsed); errors name ``source[i]``."""
    windows = []
    for index, item in enumerate(items):
        if isinstance(item, FriendlyWindow):
            windows.append(item)
        else:
            windows.append(FriendlyWindow.from_json(item, f"{source}[{index}]"))
    return tuple(windows)


def parse_friendly_dates(
    items: Iterable[DateLike], source: str = "friendly_dates"
) -> frozenset[date]:
    """Dates from ISO strings (``2026-10-01``) or ``date`` objects."""
    dates = set()
    for index, item in enumerate(items):
        if isinstance(item, datetime):
            raise FriendlyTimeError(f"{source}[{index}] is a date and time; give the date only.")
        if isinstance(item, date):
            dates.add(item)
            continue
        try:
            dates.add(date.fromisoformat(item.strip()))
        except (AttributeError, ValueError):
            raise FriendlyTimeError(
                f"{source}[{index}] is {item!r}; write a date like 2026-10-01."
            ) from None
    return frozenset(dates)


def _covering_ends(
    wall: datetime, windows: Sequence[FriendlyWindow], dates: frozenset[date]
) -> list[datetime]:
    """Ends of every friendly span (window occurrence or friendly date) that contains ``wall``."""
    ends = [end for window in windows for _start, end in window.spans_covering(wall)]
    if wall.date() in dates:
        ends.append(datetime.combine(wall.date() + timedelta(days=1), time()))
    return ends


def in_friendly_time(
    now: datetime, windows: Iterable[FriendlyWindowLike], dates: Iterable[DateLike]
) -> bool:
    """Whether the site-local wall time ``now`` lies in a friendly window or on a friendly date.

    ``windows`` may be :class:`FriendlyWindow` objects or their stored JSON form; ``dates`` may be
    ``date`` objects or ISO strings. A window that crosses midnight belongs to the day it starts
    on; ``to`` is exclusive.
    """
    wall = now.replace(tzinfo=None)
    return bool(_covering_ends(wall, parse_friendly_hours(windows), parse_friendly_dates(dates)))


def friendly_time_end(
    now: datetime, windows: Iterable[FriendlyWindowLike], dates: Iterable[DateLike]
) -> datetime | None:
    """The first instant at or after ``now`` that is not friendly time, with ``now``'s tzinfo.

    ``now`` itself when ``now`` is not friendly. Windows and dates that touch or overlap are
    followed through (Friday night into a friendly Saturday). None when friendly time does not end
    within 400 days (every hour of the week is friendly).
    """
    parsed_windows = parse_friendly_hours(windows)
    parsed_dates = parse_friendly_dates(dates)
    wall = now.replace(tzinfo=None)
    limit = wall + _LOOKAHEAD
    while wall < limit:
        ends = _covering_ends(wall, parsed_windows, parsed_dates)
        if not ends:
            return wall.replace(tzinfo=now.tzinfo)
        wall = max(ends)
    return None
