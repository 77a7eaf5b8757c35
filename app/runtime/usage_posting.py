"""What the engine's live rating keeps per meter between postings, and how a posting writes it:
usage charge rows, the consumption entry's reason and reference, the saved rating states."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app.billing.rating import Rater, decimal_text
from app.runtime.rater_codec import state_to_json
from app.runtime.tariff_book import TariffBook
from app.store.bulk_rows import insert_missing, update_rows
from app.store.models import RatingState
from app.vocabulary import Utility

UNIT_NAME = {Utility.ELECTRICITY: "kWh", Utility.WATER: "m3", Utility.GAS: "m3"}


def local(at: datetime, zone: ZoneInfo) -> datetime:
    """``at`` as a naive site-local time, as tariffs read it."""
    return at.astimezone(zone).replace(tzinfo=None)


@dataclass
class Waiting:
    """Charges of one meter in one billing cycle, priced but not yet posted."""

    start: datetime
    end: datetime
    version_id: int
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
    waiting: dict[date, Waiting] = field(default_factory=dict)
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
    bill: MeterBill,
    cycle: date,
    waiting: Waiting,
    entry_id: int | None,
    book: TariffBook,
    zone: ZoneInfo,
) -> dict[str, object]:
    """The usage charge of one meter's waiting charges in one billing cycle."""
    unit_price = ""  # several prices (TOU periods, tiers): the amounts tell
    if bill.plan_id is not None:
        schedule = book.schedules[bill.plan_id]
        tariff = schedule.versions[schedule.version_index(local(waiting.end, zone).date())]
        if tariff.tiers is None and tariff.tou is None and tariff.allowance is None:
            unit_price = str(tariff.base_price(None))
    return {
        "account_id": bill.account_id,
        "meter_id": bill.meter_id,
        "start_at": waiting.start,
        "end_at": waiting.end,
        "quantity": decimal_text(waiting.quantity),
        "tariff_version_id": waiting.version_id,
        "kind": "energy",
        "period": None,
        "tier": None,
        "unit_price": unit_price,
        "amount_exact": str(waiting.exact),
        "amount_minor": waiting.amount,
        "cycle_start": cycle,
        "ledger_entry_id": entry_id,
    }


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
