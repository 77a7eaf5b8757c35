"""What the engine's live rating keeps per meter between postings, and how a posting writes it:
usage charge rows (one per billing cycle, tariff version, kind, TOU period and tier, each with
its unit price), the usage billed per day (``charge_day``), the consumption entry's reason and
reference, the saved rating states."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_FLOOR, Decimal
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table
from sqlalchemy.orm import Session

from app.billing.rating import Rater, decimal_text
from app.runtime.rater_codec import state_to_json
from app.store.bulk_rows import insert_missing, update_rows, upsert
from app.store.models import ChargeDay, RatingState
from app.vocabulary import Utility

UNIT_NAME = {Utility.ELECTRICITY: "kWh", Utility.WATER: "m3", Utility.GAS: "m3"}


def local(at: datetime, zone: ZoneInfo) -> datetime:
    """``at`` as a naive site-local time, as tariffs read it."""
    return at.astimezone(zone).replace(tzinfo=None)


# billing cycle, tariff version id, kind (energy | allowance), TOU period, tier step
WaitKey = tuple[date, int, str, str | None, int | None]
# site-local day, TOU period ("" without), tier step (0 without): charge_day's key per meter
DayKey = tuple[date, str, int]


@dataclass
class Waiting:
    """Charges of one meter in one billing cycle at one price (tariff version, kind, TOU
    period, tier), priced but not yet posted; ``start``-``end`` (aware) the readings' span."""

    start: datetime
    end: datetime
    unit_price: Decimal
    quantity: Decimal = Decimal(0)
    exact: Decimal = Decimal(0)
    amount: int = 0


@dataclass
class MeterBill:
    meter_id: int
    utility: Utility
    multiplier: int
    account_id: int | None = None
    plan_id: int | None = None
    rater: Rater | None = None
    last_units: int | None = None
    last_at: datetime | None = None  # aware
    last_rates: dict[str, int] | None = None
    waiting: dict[WaitKey, Waiting] = field(default_factory=dict)
    # per day, period and tier: [units (Wh or litres, multiplier applied), minor units charged]
    days: dict[DayKey, list[int]] = field(default_factory=dict)
    saved: bool = False  # has a rating_state row
    dirty: bool = False  # rated or moved on since that row was written

    @property
    def waiting_minor(self) -> int:
        return sum(w.amount for w in self.waiting.values())


@dataclass
class BillingTotals:
    rated: int = 0  # readings priced
    postings: int = 0  # consumption entries written
    charges: int = 0  # usage charge rows written
    unpriced: int = 0  # readings that could not be priced (alarm raised)
    failed: int = 0  # account postings that could not be written (alarm raised, kept waiting)


def charge_row(
    bill: MeterBill, key: WaitKey, waiting: Waiting, entry_id: int | None
) -> dict[str, object]:
    """The usage charge of one meter's waiting charges in one billing cycle at one price."""
    cycle, version_id, kind, period, tier = key
    return {
        "account_id": bill.account_id,
        "meter_id": bill.meter_id,
        "start_at": waiting.start,
        "end_at": waiting.end,
        "quantity": decimal_text(waiting.quantity),
        "tariff_version_id": version_id,
        "kind": kind,
        "period": period,
        "tier": tier,
        "unit_price": decimal_text(waiting.unit_price),
        "amount_exact": str(waiting.exact),
        "amount_minor": waiting.amount,
        "cycle_start": cycle,
        "ledger_entry_id": entry_id,
    }


def split_units(units: int, quantities: Sequence[Decimal]) -> list[int]:
    """A reading's ``units`` (Wh or litres) shared between its parts of ``quantities`` (kWh or
    m3, adding up to ``units / 1000``; a part may be negative, an all_units step moving units):
    each part its quantity in whole units rounded down, the units left over (fewer than the
    parts) one each to the parts with the largest fractions, the earlier first on a tie; so
    a day's units are whole and a reading's add up to its register difference exactly."""
    scaled = [quantity.scaleb(3) for quantity in quantities]
    shares = [int(value.to_integral_value(rounding=ROUND_FLOOR)) for value in scaled]
    left = units - sum(shares)
    if left:
        order = sorted(range(len(shares)), key=lambda n: (shares[n] - scaled[n], n))
        for n in order[:left]:
            shares[n] += 1
    return shares


def add_charge_days(session: Session, bills: Iterable[MeterBill]) -> int:
    """Add the meters' waiting usage per day, period and tier to ``charge_day`` (one upsert
    that adds, in the posting's transaction, so two postings of one day add up); returns the
    rows written."""
    rows = [
        {
            "day": day,
            "meter_id": bill.meter_id,
            "account_id": bill.account_id,
            "period": period,
            "tier": tier,
            "units": units,
            "amount_minor": amount,
        }
        for bill in bills
        for (day, period, tier), (units, amount) in sorted(bill.days.items())
        if units or amount
    ]
    if not rows:
        return 0
    table = cast(Table, ChargeDay.__table__)
    insert = upsert(session, table)
    statement = insert.on_conflict_do_update(
        index_elements=["day", "meter_id", "account_id", "period", "tier"],
        set_={
            "units": table.c.units + insert.excluded.units,
            "amount_minor": table.c.amount_minor + insert.excluded.amount_minor,
        },
    )
    session.execute(statement, rows)
    return len(rows)


def posting_reason(meters: list[MeterBill]) -> str:
    """``usage: electricity 1.2 kWh, water 0.05 m3``: what a consumption entry is for."""
    used: dict[Utility, Decimal] = defaultdict(Decimal)
    for bill in meters:
        for waiting in bill.waiting.values():
            used[bill.utility] += waiting.quantity
    parts = [
        f"{utility.value} {decimal_text(quantity)} {UNIT_NAME[utility]}"
        for utility, quantity in sorted(used.items())
    ]
    return "usage: " + ", ".join(parts)


def posting_reference(meters: list[MeterBill], zone: ZoneInfo) -> str:
    """The site-local span of the usage posted."""
    starts = [w.start for b in meters for w in b.waiting.values()]
    ends = [w.end for b in meters for w in b.waiting.values()]
    first, last = local(min(starts), zone), local(max(ends), zone)
    return f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M}"


def save_states(session: Session, bills: Iterable[MeterBill]) -> None:
    """Write the rating state of each meter rated or moved on since it was last saved."""
    mark_saved(write_states(session, bills))


def write_states(session: Session, bills: Iterable[MeterBill]) -> list[MeterBill]:
    """Write the rating states ``save_states`` writes, changing nothing in memory (a posting
    whose savepoint rolls back leaves its meters as they were); returns the meters written, for
    ``mark_saved`` once the write stands."""
    now = datetime.now(UTC)
    inserts: list[dict[str, object]] = []
    updates: list[dict[str, object]] = []
    written: list[MeterBill] = []
    for bill in bills:
        if not bill.dirty or bill.last_at is None or bill.last_units is None:
            continue
        row = {
            "meter_id": bill.meter_id,
            "last_units": bill.last_units,
            "last_read_at": bill.last_at,
            "last_rates": bill.last_rates,
            "plan_id": bill.plan_id,
            "rater": None if bill.rater is None else state_to_json(bill.rater.state()),
            "updated_at": now,
        }
        (updates if bill.saved else inserts).append(row)
        written.append(bill)
    if inserts:  # a baseline another runtime starting on the same database wrote stands
        insert_missing(session, RatingState, inserts, ["meter_id"])
    if updates:
        update_rows(session, RatingState, updates)
    return written


def mark_saved(bills: Iterable[MeterBill]) -> None:
    """These meters' rating states are written: later changes are written as updates."""
    for bill in bills:
        bill.saved, bill.dirty = True, False
