"""The meters' daily rollup (``daily_usage``, in the schema since 0001 but written by nothing
until now): filled here from the interval readings already stored, by the rules the engine
adds to it from now on (``app.services.usage_days``): per meter and site-local day, the
register differences of consecutive readings that are not HELD, times the meter's multiplier,
a pair spanning midnight shared in proportion to time in whole units (largest remainder), a
pair that went backwards left out; the peak demand is the highest average power of a pair of
at least 10 minutes of an electricity meter. An index the reports' sums of a range of days
per meter are read from alone (meter, day, units).

The rules are copied here, not imported, so this revision does what it did when written.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-09
"""

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MIN_DEMAND_S = 600.0
BATCH = 5000


def upgrade() -> None:
    op.create_index("ix_daily_usage_meter_day_units", "daily_usage", ["meter_id", "day", "units"])
    _fill()


def downgrade() -> None:
    op.drop_index("ix_daily_usage_meter_day_units", table_name="daily_usage")


def _fill() -> None:
    bind = op.get_bind()
    name = bind.execute(sa.text("SELECT timezone FROM site ORDER BY id LIMIT 1")).scalar()
    try:
        zone = ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ValueError, KeyError):
        zone = ZoneInfo("UTC")
    meter = sa.table(
        "meter",
        sa.column("id", sa.Integer()),
        sa.column("utility", sa.String()),
        sa.column("multiplier", sa.Integer()),
    )
    reading = sa.table(
        "interval_reading",
        sa.column("meter_id", sa.Integer()),
        sa.column("read_at", sa.DateTime(timezone=True)),
        sa.column("register_units", sa.BigInteger()),
        sa.column("quality", sa.String()),
    )
    usage = sa.table(
        "daily_usage",
        sa.column("meter_id", sa.Integer()),
        sa.column("day", sa.String()),
        sa.column("units", sa.BigInteger()),
        sa.column("peak_power_w", sa.Float()),
    )
    facts = {
        meter_id: (multiplier or 1, utility == "electricity")
        for meter_id, utility, multiplier in bind.execute(
            sa.select(meter.c.id, meter.c.utility, meter.c.multiplier)
        )
    }
    bind.execute(usage.delete())  # nothing wrote it before this revision
    rows = bind.execute(  # streamed: the option on the statement, never on the connection
        sa.select(reading.c.meter_id, reading.c.read_at, reading.c.register_units)
        .where(reading.c.quality != "held")
        .order_by(reading.c.meter_id, reading.c.read_at)
        .execution_options(yield_per=20000)
    )
    batch: list[dict[str, object]] = []
    for row in _days(rows, zone, facts):
        batch.append(row)
        if len(batch) >= BATCH:
            bind.execute(usage.insert(), batch)
            batch = []
    if batch:
        bind.execute(usage.insert(), batch)


def _days(
    rows: Iterable[Any],
    zone: ZoneInfo,
    facts: dict[int, tuple[int, bool]],
) -> Iterator[dict[str, object]]:
    """The rows of ``daily_usage``, one meter at a time (the readings come ordered by meter)."""
    current: int | None = None
    cells: dict[date, list[float]] = {}
    previous: tuple[float, int] | None = None
    for meter_id, read_at, units in rows:
        if meter_id != current:
            yield from _rows_of(current, cells)
            current, cells, previous = meter_id, {}, None
        moment = _aware(read_at).timestamp()
        if previous is not None and units >= previous[1]:
            multiplier, electric = facts.get(meter_id, (1, False))
            used = (units - previous[1]) * multiplier
            span = moment - previous[0]
            peak = used * 3600.0 / span if electric and span >= MIN_DEMAND_S else -1.0
            for day, part in _split(previous[0], moment, used, zone):
                cell = cells.setdefault(day, [0, -1.0])
                cell[0] += part
                cell[1] = max(cell[1], peak)
        previous = (moment, units)
    yield from _rows_of(current, cells)


def _rows_of(meter_id: int | None, cells: dict[date, list[float]]) -> Iterator[dict[str, object]]:
    if meter_id is None:
        return
    for day, (units, peak) in sorted(cells.items()):
        yield {
            "meter_id": meter_id,
            "day": day.isoformat(),
            "units": int(units),
            "peak_power_w": None if peak < 0 else round(peak, 1),
        }


def _split(start_s: float, end_s: float, units: int, zone: ZoneInfo) -> list[tuple[date, int]]:
    """A pair's units over the local days it overlaps, in proportion to time, summing exactly
    (largest remainder, the earlier day first on a tie)."""
    if end_s <= start_s:
        return [(datetime.fromtimestamp(end_s, zone).date(), units)]
    spans: list[tuple[date, int]] = []
    moment = start_s
    while moment < end_s:
        day = datetime.fromtimestamp(moment, zone).date()
        day_end = datetime.combine(day + timedelta(days=1), time(), zone).timestamp()
        spans.append((day, round((min(day_end, end_s) - moment) * 1_000_000)))
        moment = day_end
    total = sum(weight for _, weight in spans)
    if len(spans) == 1 or total <= 0:
        return [(spans[-1][0], units)]
    parts = [units * weight // total for _, weight in spans]
    left = units - sum(parts)
    order = sorted(range(len(spans)), key=lambda i: (-(units * spans[i][1] % total), i))
    for index in order[:left]:
        parts[index] += 1
    return [(day, part) for (day, _), part in zip(spans, parts, strict=True)]


def _aware(value: object) -> datetime:
    if isinstance(value, str):  # SQLite hands back text when the type is not known
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
