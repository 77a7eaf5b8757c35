"""What a monthly account statement holds, as plain values: the read model
(``app.queries.statement``) fills it from the database and the PDF (``app.documents.statement_pdf``)
prints it. No SQLAlchemy here, so the documents layer may import it.

Every amount is exact: integer minor units of the site's currency, signed as the ledger signs
them (credits positive, charges negative), except the usage lines, which are what each meter was
charged (positive). Quantities are Decimals read from the stored exact strings; moments are aware
(UTC as stored; the PDF shows them in the site's zone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from app.queries.reports.period import Period
from app.vocabulary import LedgerKind, Utility

RECHARGE_KINDS = frozenset({LedgerKind.RECHARGE})
REFUND_KINDS = frozenset({LedgerKind.REFUND})
CORRECTION_KINDS = frozenset({LedgerKind.ADJUSTMENT, LedgerKind.REVERSAL})
USAGE_KINDS = frozenset({LedgerKind.CONSUMPTION})
FEE_KINDS = frozenset({LedgerKind.FEE})
# Opening balances, settlements and allowances: rare movements summed under "Other".
OTHER_KINDS = frozenset(LedgerKind) - (
    RECHARGE_KINDS | REFUND_KINDS | CORRECTION_KINDS | USAGE_KINDS | FEE_KINDS
)


@dataclass(frozen=True)
class StatementLine:
    """One ledger entry of the month other than a usage posting (those are summed)."""

    entry_id: int
    at: datetime  # aware
    kind: LedgerKind
    receipt_number: int | None  # the receipt issued for the entry, if any
    reference: str
    reason: str
    amount_minor: int  # signed as in the ledger
    balance_after_minor: int


@dataclass(frozen=True)
class UsageLine:
    """What one meter used and was charged in the month at one price: per utility, charge kind
    (energy, allowance), TOU period and tier step, and unit price (None where the engine
    priced a posting at several prices and stored no single one)."""

    meter_serial: str
    utility: Utility
    unit: str  # kWh | m3
    kind: str
    period: str | None
    tier: int | None
    unit_price: Decimal | None
    quantity: Decimal
    amount_minor: int  # charged: positive


@dataclass(frozen=True)
class Statement:
    """One account's month: the opening balance, the movements, the usage billed in detail and
    the closing balance (``opening + sum of the month's entries``, which is also the balance
    after the month's last entry)."""

    site_name: str
    site_address: str
    currency: str
    places: int
    zone: ZoneInfo
    account_number: str
    holder_name: str
    holder_ref: str
    room: str  # the account's room now; "" when it has none
    period: Period
    generated_at: datetime  # aware
    opening_minor: int
    closing_minor: int
    lines: tuple[StatementLine, ...]  # in ledger order, usage postings left out
    usage_billed_minor: int  # the month's usage postings, summed (negative or 0)
    usage_postings: int  # how many usage postings that is
    usage: tuple[UsageLine, ...]  # the detail of those postings per meter and price

    def total_of(self, kinds: frozenset[LedgerKind]) -> int:
        """The month's entries of these kinds, summed (usage from ``usage_billed_minor``)."""
        listed = sum(line.amount_minor for line in self.lines if line.kind in kinds)
        return listed + (self.usage_billed_minor if LedgerKind.CONSUMPTION in kinds else 0)

    @property
    def usage_detailed_minor(self) -> int:
        """What the usage lines add up to (positive: charged)."""
        return sum(line.amount_minor for line in self.usage)

    @property
    def usage_undetailed_minor(self) -> int:
        """Usage billed that no meter's usage charge explains (postings made before meter
        detail was kept, e.g. carried-over history); positive: charged."""
        return -self.usage_billed_minor - self.usage_detailed_minor

    @property
    def movement_count(self) -> int:
        return len(self.lines) + self.usage_postings
