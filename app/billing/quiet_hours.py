"""Quiet hours: a span of the site's day (``22:00-07:00``) in which tenants are not texted.
A pure rule: when may a notice written at a given local time go?"""

from __future__ import annotations

from datetime import datetime, time, timedelta


def parse_span(text: str) -> tuple[time, time] | None:
    """``"22:00-07:00"`` as (start, end); None for ``none`` (any time). The setting is checked
    when it is stored, so a text that is not a span here means no quiet hours."""
    try:
        first, second = text.split("-")
        start, end = time.fromisoformat(first), time.fromisoformat(second)
    except ValueError:
        return None
    return None if start == end else (start, end)


def quiet_until(local_now: datetime, span: tuple[time, time] | None) -> datetime | None:
    """The naive local time the quiet hours around ``local_now`` (naive, site-local) end, or
    None when ``local_now`` is not in them. The span may run over midnight (22:00-07:00): it
    holds from its start to its end, the end not included."""
    if span is None:
        return None
    start, end = span
    now = local_now.time()
    day = local_now.date()
    if start < end:  # within one day: 12:00-14:00
        if start <= now < end:
            return datetime.combine(day, end)
        return None
    if now >= start:  # over midnight, before it: ends tomorrow
        return datetime.combine(day + timedelta(days=1), end)
    if now < end:  # over midnight, after it: ends today
        return datetime.combine(day, end)
    return None
