"""The ``[tou]`` table of a tariff file: periods with prices, day tables of bands that must
cover 00:00-24:00 exactly, holidays and seasons. Mistakes go to a ``Problems`` list."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from app.billing.tariff.model import (
    DAY_TYPES,
    MAX_PERIODS,
    MINUTES_PER_DAY,
    Band,
    DayTable,
    Season,
    TimeOfUse,
)
from app.billing.tariff.values import Problems, clock, describe

TOU_KEYS = ("periods", *DAY_TYPES, "holidays", "season")
SEASON_KEYS = ("name", "from", "to", *DAY_TYPES)
BANDS_EXAMPLE = '[["00:00", "08:00", "valley"], ["08:00", "24:00", "flat"]]'


def parse_tou(problems: Problems, value: object) -> TimeOfUse | None:
    table = problems.table(value, "tou", TOU_KEYS)
    if table is None:
        return None
    periods = _periods(problems, problems.required(table, "periods", "tou", '{ peak = "0.8000" }'))
    raw_periods = table.get("periods")
    names = set(raw_periods) if isinstance(raw_periods, dict) and raw_periods else None
    weekday = None
    if "weekday" in table:
        weekday = _day_table(problems, table["weekday"], "tou.weekday", names)
    else:
        problems.add("tou.weekday", f"missing; write weekday = {BANDS_EXAMPLE}.")
    weekend = (
        _day_table(problems, table["weekend"], "tou.weekend", names) if "weekend" in table else None
    )
    holiday = (
        _day_table(problems, table["holiday"], "tou.holiday", names) if "holiday" in table else None
    )
    holidays = _holidays(problems, table.get("holidays", []))
    seasons = _seasons(problems, table.get("season", []), names)
    if periods is None or weekday is None or holidays is None or seasons is None:
        return None
    if ("weekend" in table and weekend is None) or ("holiday" in table and holiday is None):
        return None
    return TimeOfUse(periods, weekday, weekend, holiday, holidays, seasons)


def _periods(problems: Problems, value: object) -> tuple[tuple[str, Decimal], ...] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not value:
        got = "an empty table" if isinstance(value, dict) else describe(value)
        problems.add(
            "tou.periods", f'expected periods with prices like {{ peak = "0.8000" }}, got {got}.'
        )
        return None
    if len(value) > MAX_PERIODS:
        problems.add(
            "tou.periods",
            f"{len(value)} periods; a tariff has at most {MAX_PERIODS} "
            "(sharp, peak, flat, valley, deep valley).",
        )
    out: list[tuple[str, Decimal]] = []
    for name, price_text in value.items():
        price = problems.decimal(price_text, f"tou.periods.{name}")
        if price is not None:
            out.append((name, price))
    return tuple(out) if len(out) == len(value) and len(value) <= MAX_PERIODS else None


def _day_table(
    problems: Problems, value: object, place: str, periods: set[str] | None
) -> DayTable | None:
    """Bands ``[start, end, period]`` that cover 00:00-24:00 exactly (end exclusive)."""
    if not isinstance(value, list) or not value:
        got = "no bands" if isinstance(value, list) else describe(value)
        problems.add(place, f"expected bands like {BANDS_EXAMPLE}, got {got}.")
        return None
    before = len(problems.lines)
    bands: list[Band] = []
    times_ok = True  # gaps and overlaps are checked when every band's times could be read
    for index, item in enumerate(value, start=1):
        here = f"{place}[{index}]"
        if not isinstance(item, list) or len(item) != 3:
            problems.add(here, f'expected a band ["start", "end", "period"], got {describe(item)}.')
            times_ok = False
            continue
        start = problems.time_of_day(item[0], f"{here} start", end=False)
        end = problems.time_of_day(item[1], f"{here} end", end=True)
        period = item[2]
        if not isinstance(period, str):
            problems.add(f"{here} period", f"expected a period name, got {describe(period)}.")
        elif periods is not None and period not in periods:
            known = ", ".join(sorted(periods))
            problems.add(f"{here} period", f"unknown period {period!r}; tou.periods has {known}.")
        if start is None or end is None:
            times_ok = False
        elif start >= end:
            problems.add(
                here,
                f"starts at {clock(start)} but ends at {clock(end)}; a band ends after it starts.",
            )
            times_ok = False
        else:
            bands.append(Band(start, end, period if isinstance(period, str) else "?"))
    table = (
        _covering(problems, place, sorted(bands, key=lambda b: (b.start, b.end)))
        if times_ok
        else None
    )
    return table if len(problems.lines) == before else None


def _covering(problems: Problems, place: str, bands: list[Band]) -> DayTable | None:
    """Report the gaps and overlaps of time-sorted bands (which times, which bands)."""
    ok = True
    covered = 0
    reaching: Band | None = None  # the band that reaches furthest so far
    for band in bands:
        if band.start > covered:
            problems.add(
                place,
                f"nothing covers {clock(covered)}-{clock(band.start)}; "
                "the bands must cover 00:00-24:00 without gaps.",
            )
            ok = False
        elif band.start < covered and reaching is not None:
            problems.add(
                place,
                f"bands {_show(reaching)} and {_show(band)} overlap at "
                f"{clock(band.start)}-{clock(min(band.end, covered))}; "
                "each time of day belongs to one band.",
            )
            ok = False
        if band.end > covered:
            covered, reaching = band.end, band
    if covered < MINUTES_PER_DAY:
        problems.add(
            place,
            f"nothing covers {clock(covered)}-24:00; "
            "the bands must cover 00:00-24:00 without gaps.",
        )
        ok = False
    return tuple(bands) if ok else None


def _show(band: Band) -> str:
    return f"{clock(band.start)}-{clock(band.end)} {band.period}"


def _holidays(problems: Problems, value: object) -> frozenset[date] | None:
    if not isinstance(value, list):
        problems.add(
            "tou.holidays", f"expected a list of dates like [2026-10-01], got {describe(value)}."
        )
        return None
    days = [problems.date_value(item, f"tou.holidays[{i}]") for i, item in enumerate(value, 1)]
    return frozenset(d for d in days if d is not None) if None not in days else None


def _seasons(
    problems: Problems, value: object, periods: set[str] | None
) -> tuple[Season, ...] | None:
    items = problems.table_list(value, "tou.season", "tou.season")
    seasons: list[Season] = []
    failed = False
    for index, item in enumerate(items, start=1):
        place = f"tou.season[{index}]"
        table = problems.table(item, place, SEASON_KEYS)
        if table is None:
            failed = True
            continue
        before = len(problems.lines)
        problems.required(table, "from", place, '"07-01" (inclusive)')
        problems.required(table, "to", place, '"08-31" (inclusive)')
        name = problems.text(table.get("name", f"season {index}"), f"{place}.name")
        first = problems.month_day(table["from"], f"{place}.from") if "from" in table else None
        last = problems.month_day(table["to"], f"{place}.to") if "to" in table else None
        tables = {
            day_type: _day_table(problems, table[day_type], f"{place}.{day_type}", periods)
            for day_type in DAY_TYPES
            if day_type in table
        }
        if not tables:
            problems.add(place, "gives no day table; add weekday, weekend or holiday bands.")
        if len(problems.lines) > before or name is None or first is None or last is None:
            failed = True
            continue
        seasons.append(
            Season(
                name,
                first,
                last,
                tables.get("weekday"),
                tables.get("weekend"),
                tables.get("holiday"),
            )
        )
    if failed:
        return None
    overlaps = _overlapping(seasons)
    for i, j, first_day in overlaps:
        problems.add(
            f"tou.season[{j + 1}]",
            f"season {seasons[j].name!r} overlaps season {seasons[i].name!r} "
            f"(both include {first_day:%m-%d}); a day belongs to at most one season.",
        )
    return None if overlaps else tuple(seasons)


def _days_of(season: Season) -> list[date]:
    """The days of a season in the leap year 2000 (so 02-29 counts)."""
    out = []
    day = date(2000, 1, 1)
    while day.year == 2000:
        if season.contains(day):
            out.append(day)
        day = date.fromordinal(day.toordinal() + 1)
    return out


def _overlapping(seasons: list[Season]) -> list[tuple[int, int, date]]:
    found = []
    days = [set(_days_of(season)) for season in seasons]
    for i in range(len(seasons)):
        for j in range(i + 1, len(seasons)):
            shared = days[i] & days[j]
            if shared:
                found.append((i, j, min(shared)))
    return found
