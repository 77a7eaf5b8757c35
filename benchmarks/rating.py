"""Live rating throughput: one million 15-minute readings under a TOU + tiered tariff.

100 meters x 10,000 readings (2026-09-01 to mid-December: weekdays, weekends, the October
holidays, three month boundaries with their tier resets) are posted one reading at a time to
the incremental ``Rater`` (one per meter, sharing one ``TariffSchedule``). The tariff is the
shipped time-of-use tariff with Beijing's graduated surcharge tiers (240/400 kWh a month).

For comparison, a straightforward per-reading implementation prices a sample of the same
readings by calling ``quote()`` once per reading, passing the month's tier position along,
summing the exact amounts per month and rounding each month once. Both must give the same
cycle totals on the sample (asserted). Prints readings per second of both and their ratio.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.billing.money import Money, round_to_minor
from app.billing.rating import Rater, quote_versions
from app.billing.tariff import Tariff, parse_tariff
from app.billing.tariff.schedule import TariffSchedule

REPO = Path(__file__).resolve().parents[1]
METERS = 100
READINGS_PER_METER = 10_000
SAMPLE_METERS = 2  # of the straightforward implementation: 2 x 10,000 readings
STEP = timedelta(minutes=15)
START = datetime.fromisoformat("2026-09-01T00:00")
BEIJING_TIERS = """
[tiers]
cycle = "month"
mode = "graduated"
basis = "surcharge"
steps = [{ upto = "240", value = "0.0000" }, { upto = "400", value = "0.0500" },
         { value = "0.3000" }]
"""


def load_tariff() -> Tariff:
    path = REPO / "resources" / "tariffs" / "tou-electricity.toml"
    return parse_tariff(path.read_text(encoding="utf-8") + BEIJING_TIERS, str(path))


# 0.000 .. 0.399 kWh per quarter hour: about 575 kWh a month, through all three steps.
POOL = [Decimal(n).scaleb(-3) for n in range(400)]
TIMES = [(START + i * STEP, START + (i + 1) * STEP) for i in range(READINGS_PER_METER)]


def quantity(meter: int, index: int) -> Decimal:
    return POOL[(index * 7919 + meter * 104729 + (index * index) % 97) % 400]


def rate_fast(schedule: TariffSchedule, meter: int) -> dict[date, int]:
    """Minor units posted per billing cycle for one meter, one ``post`` per reading."""
    rater = Rater(schedule)
    per_cycle: dict[date, int] = defaultdict(int)
    post = rater.post
    for index, (start, end) in enumerate(TIMES):
        for posting in post(start, end, quantity(meter, index)):
            per_cycle[posting.cycle] += posting.amount.minor
    return dict(per_cycle)


def rate_straightforward(schedule: TariffSchedule, meter: int) -> dict[date, int]:
    """The same, quoting every reading on its own with the month's tier position."""
    exact: dict[date, Decimal] = defaultdict(Decimal)
    month, position = None, Decimal(0)
    for index, (start, end) in enumerate(TIMES):
        used = quantity(meter, index)
        this_month = start.date().replace(day=1)
        if this_month != month:
            month, position = this_month, Decimal(0)
        result = quote_versions(schedule, [(start, end, used)], position)
        exact[this_month] += sum(
            (line.exact_amount for line in result.lines if line.kind != "fee"), Decimal(0)
        )
        position += used
    return {cycle: round_to_minor(amount, schedule.currency) for cycle, amount in exact.items()}


def main() -> int:
    tariff = load_tariff()
    schedule = TariffSchedule([tariff])

    began = time.perf_counter()
    total = 0
    sample_fast: list[dict[date, int]] = []
    for meter in range(METERS):
        per_cycle = rate_fast(schedule, meter)
        total += sum(per_cycle.values())
        if meter < SAMPLE_METERS:
            sample_fast.append(per_cycle)
    fast_s = time.perf_counter() - began
    readings = METERS * READINGS_PER_METER
    fast_rate = readings / fast_s

    began = time.perf_counter()
    sample_slow = [rate_straightforward(schedule, meter) for meter in range(SAMPLE_METERS)]
    slow_s = time.perf_counter() - began
    slow_rate = SAMPLE_METERS * READINGS_PER_METER / slow_s

    assert sample_fast == sample_slow, (sample_fast, sample_slow)
    sample_total = Money(sum(sum(c.values()) for c in sample_fast), schedule.currency)
    print(f"tariff: {tariff.name} + Beijing graduated tiers; {', '.join(tariff.kinds)}")
    print(
        f"Rater (incremental):    {readings:,} readings of {METERS} meters in {fast_s:.1f} s = "
        f"{fast_rate:,.0f} readings/s; total {Money(total, schedule.currency).display()}"
    )
    print(
        f"quote() per reading:    {SAMPLE_METERS * READINGS_PER_METER:,} readings in "
        f"{slow_s:.1f} s = {slow_rate:,.0f} readings/s"
    )
    print(
        f"same cycle totals on the common sample ({SAMPLE_METERS} meters, "
        f"{sample_total.display()}): yes"
    )
    print(f"speed-up of the Rater: {fast_rate / slow_rate:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
