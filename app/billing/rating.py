"""Rating: what usage costs under a tariff (DOMAIN.md section 2, "Quote semantics").

``quote`` prices usage rows ``(start, end, quantity)`` under one tariff, ``quote_versions`` under
dated versions; ``Rater`` prices successive usage slices of one meter or account as they come,
carrying the cycle state and the rounding residue from one posting to the next.

How a quantity is priced:

- Splitting. An interval is cut at every band boundary and every midnight (day type, season,
  cycle and version changes all fall on midnights). Each piece gets the share of the quantity
  that its share of the time gives: the quantity up to each cut is ``quantity * elapsed / length``
  floored to 1e-9 unit, and a piece is the difference of two such cuts, so the pieces add up
  exactly to the interval's quantity and every cut gets the same units however the interval was
  cut further.
- Units are taken in time order. In each allowance cycle the first units (up to the allowance)
  are free; free units still move the tier position. The tier position is per tier cycle and
  starts at ``cycle_used`` in the cycle of the first row, at 0 in later cycles.
- graduated tiers price each slice of units at the step it falls in; all_units tiers price every
  non-free unit of a cycle at the step the cycle's total (``cycle_used`` included) reached.
  Basis surcharge adds the step's value to the single/TOU price; basis price replaces it.
- Amounts are exact (``Decimal`` arithmetic that refuses to round); the only rounding is
  ``money.round_to_minor``: per line in a quote, per billing cycle in the ``Rater``. A
  ``Rater`` posting also says what it was for (``ChargePart``: day, TOU period, tier, kind,
  price); its rounded amount is shared between those parts by ``apportion``, so the parts of
  a posting add up to the posting exactly and a cycle is still rounded once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import (
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)
from itertools import pairwise
from typing import Literal, NamedTuple

from app.billing.money import Money, minor_unit_digits, round_to_minor
from app.billing.rate_registers import share_by_registers
from app.billing.tariff.model import FEE_CYCLES, Cycle, Tariff
from app.billing.tariff.schedule import (
    CycleKey,
    DayPlan,
    ScheduleError,
    TariffSchedule,
    cycle_start,
    midnight,
    next_cycle_start,
    split,
)

LineKind = Literal["energy", "allowance", "fee"]
KIND_ORDER: dict[LineKind, int] = {"energy": 0, "allowance": 1, "fee": 2}
ZERO = Decimal(0)
# Exact arithmetic: 80 digits and a trap on any rounding, so an amount is never rounded silently.
_EXACT = Context(prec=80, traps=[Inexact, InvalidOperation, DivisionByZero, Overflow])
_ROUNDING = Context(prec=80, traps=[InvalidOperation, DivisionByZero, Overflow])


def to_minor(exact: Decimal, currency: str) -> int:
    """``money.round_to_minor`` (the house rule) outside the exact context, which forbids it."""
    with localcontext(_ROUNDING):
        return round_to_minor(exact, currency)


class UsageRow(NamedTuple):
    """``quantity`` units used from ``start`` to ``end`` (naive site-local times, end > start)."""

    start: datetime
    end: datetime
    quantity: Decimal


class UsageError(ValueError):
    """A usage row that cannot be priced; ``row`` is its 0-based position in the input."""

    def __init__(self, message: str, row: int | None = None) -> None:
        super().__init__(message)
        self.row = row


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a quote: ``quantity`` at ``unit_price``; ``amount`` is ``exact_amount``
    rounded half-up to the minor unit. ``name`` is the fee's name (fee lines only);
    ``effective_from`` the version that priced it."""

    kind: LineKind
    period: str | None
    tier: int | None
    quantity: Decimal
    unit_price: Decimal
    exact_amount: Decimal
    amount: Money
    name: str | None
    effective_from: date


@dataclass(frozen=True, slots=True)
class Quote:
    """Lines in a fixed order (version, then energy, allowance, fee; then TOU period in the
    order of the tariff's periods table; then tier; fees in file order). ``total`` is the sum
    of the line amounts; ``start``/``end`` the quoted window (None without usage)."""

    currency: str
    start: datetime | None
    end: datetime | None
    lines: tuple[Line, ...]
    total: Money

    @property
    def exact_total(self) -> Decimal:
        return sum((line.exact_amount for line in self.lines), ZERO)


class ChargePart(NamedTuple):  # (a tuple: made for every reading rated, cheaply)
    """What part of a ``Posting`` was for: ``quantity`` units used on the site-local ``day``,
    priced by the schedule's version number ``version`` as ``kind`` (energy or allowance) in
    TOU ``period`` (None without TOU) at tier step ``tier`` (None without tiers) at
    ``unit_price``; ``exact`` is its exact amount and ``amount`` its share of the posting's
    rounded amount (minor units, ``apportion``).

    When an all_units step is reached, the tier cycle's earlier units move to the new step:
    a part with their units negative at the old step and one with them at the new, so the
    parts of a cycle add up per step to what the cycle's units cost there."""

    day: date
    version: int
    kind: LineKind
    period: str | None
    tier: int | None
    unit_price: Decimal
    quantity: Decimal
    exact: Decimal
    amount: int


@dataclass(frozen=True, slots=True)
class Posting:
    """A charge of a ``Rater``: ``amount`` (rounded, residue carried) falls in the billing
    cycle starting ``cycle``; ``exact`` is the exact charge of the slice in that cycle,
    ``quantity`` the slice's units in that cycle, ``parts`` the charge per day, kind, TOU
    period and tier (their ``amount`` add up to ``amount``, their ``exact`` to ``exact``)."""

    cycle: date
    amount: Money
    exact: Decimal
    quantity: Decimal = ZERO
    parts: tuple[ChargePart, ...] = ()


@dataclass(frozen=True, slots=True)
class RaterState:
    """Where a ``Rater`` stands: the end of its last slice, the billing cycle being posted
    (its exact charge of settled units and the minor units posted), the tier and allowance
    cycles with their units, and the all_units units awaiting their step, keyed by the
    ``effective_from`` of the version that took them."""

    last_end: datetime | None
    cycle: date | None
    cycle_settled: Decimal
    posted: int
    tier_cycle: CycleKey | None
    position: Decimal
    allowance_cycle: CycleKey | None
    allowance_used: Decimal
    open_units: tuple[tuple[date, str | None, Decimal], ...]


def decimal_text(value: Decimal) -> str:
    """A quantity as plain text without exponent or trailing zeros, e.g. ``12.5``."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _tidy(value: Decimal) -> Decimal:
    """The same number without trailing zeros (and without exponent)."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def check_row(row: tuple[datetime, datetime, Decimal], index: int | None = None) -> UsageRow:
    """The row as a ``UsageRow``, or ``UsageError`` saying what is wrong with it."""
    start, end, quantity = row
    if not isinstance(start, datetime) or not isinstance(end, datetime):
        raise UsageError("start and end must be date-times.", index)
    if start.tzinfo is not None or end.tzinfo is not None:
        raise UsageError("times are site-local: give them without a time zone.", index)
    if not isinstance(quantity, Decimal) or not quantity.is_finite():
        raise UsageError(f"quantity {quantity!r} must be an exact Decimal.", index)
    if quantity < 0:
        raise UsageError(f"quantity {quantity} is negative; usage cannot go backwards.", index)
    if end <= start:
        raise UsageError(f"ends at {end} but starts at {start}; the end must be later.", index)
    return UsageRow(start, end, quantity)


_LineKey = tuple[int, LineKind, str | None, int | None, int]  # version, kind, period, tier, fee
_PartKey = tuple[date, int, LineKind, str | None, int | None]  # day, version, kind, period, tier


def unit_price_of(tariff: Tariff, kind: LineKind, period: str | None, tier: int | None) -> Decimal:
    """The price of one unit used as ``kind`` in ``period`` at tier step ``tier`` (free units:
    0)."""
    if kind == "allowance":
        return ZERO
    if tariff.tiers is None or tier is None:
        return tariff.base_price(period)
    return tariff.tiers.unit_price(tier, tariff.base_price(period))


def apportion(amount: int, exacts: Sequence[Decimal], currency: str) -> list[int]:
    """``amount`` minor units shared between parts of exact amounts ``exacts``: each part gets
    its exact amount rounded by the house rule, then the difference to ``amount`` (a few
    minor units: the residue carried between postings) goes one minor unit at a time to the
    parts that rounding left furthest below their exact amount (above, when it is negative),
    the earlier part first on a tie. Free parts (exact 0) get nothing while a priced part can
    take it. The shares add up to ``amount`` exactly."""
    if len(exacts) <= 1:  # (most postings: one period, one tier) the one part takes it all
        if not exacts and amount:
            raise ValueError(f"{amount} minor units to share between no parts")
        return [amount] if exacts else []
    with localcontext(_ROUNDING):
        shares = [round_to_minor(exact, currency) for exact in exacts]
        left = amount - sum(shares)
        if not left:
            return shares
        scale = Decimal(10) ** minor_unit_digits(currency)
        short = [exact * scale - share for exact, share in zip(exacts, shares, strict=True)]
    takers = [n for n, exact in enumerate(exacts) if exact] or list(range(len(exacts)))
    sign = 1 if left > 0 else -1
    takers.sort(key=lambda n: (-sign * short[n], n))
    for count in range(abs(left)):
        shares[takers[count % len(takers)]] += sign
    return shares


class _Engine:
    """Cycle state of one meter or account: tier position, allowance used, exact amounts."""

    def __init__(self, schedule: TariffSchedule, *, lines: bool) -> None:
        self.schedule = schedule
        self.tier_cycle: CycleKey | None = None
        self.position = ZERO  # units of the tier cycle so far (free units included)
        self.allowance_cycle: CycleKey | None = None
        self.allowance_used = ZERO  # units of the allowance cycle so far
        self.settled = ZERO  # exact amount of everything but the open all_units cycle
        self.open_units: dict[tuple[int, str | None], Decimal] = {}  # all_units, not yet priced
        self.quantities: dict[_LineKey, Decimal] | None = {} if lines else None
        # what each take was for (``Rater``): (quantity, exact amount) per day, kind, period, tier
        self.parts: dict[_PartKey, list[Decimal]] | None = None

    def begin(self, plan: DayPlan, tier_used: Decimal, allowance_used: Decimal) -> None:
        """Units used earlier in the cycles of ``plan``'s day, before the first usage."""
        if plan.tier_cycle is not None:
            self.tier_cycle, self.position = plan.tier_cycle, tier_used
        if plan.allowance_cycle is not None:
            self.allowance_cycle, self.allowance_used = plan.allowance_cycle, allowance_used

    def _add(self, key: _LineKey, quantity: Decimal) -> None:
        if self.quantities is not None and quantity:
            self.quantities[key] = self.quantities.get(key, ZERO) + quantity

    def _part(self, key: _PartKey, quantity: Decimal, exact: Decimal) -> None:
        assert self.parts is not None
        cell = self.parts.get(key)
        if cell is None:
            self.parts[key] = [quantity, exact]
        else:
            cell[0] += quantity
            cell[1] += exact

    def take(self, plan: DayPlan, period: str | None, quantity: Decimal) -> None:
        """Price ``quantity`` units used in ``period`` on ``plan``'s day, after all before."""
        tariff, version = plan.tariff, plan.version
        parts = self.parts
        free = ZERO
        if tariff.allowance is not None:
            if plan.allowance_cycle != self.allowance_cycle:
                self.allowance_cycle, self.allowance_used = plan.allowance_cycle, ZERO
            left = tariff.allowance.quantity - self.allowance_used
            if left > 0:
                free = min(quantity, left)
            self.allowance_used += quantity
        paid = quantity - free
        tiers = tariff.tiers
        if tiers is None:
            price = tariff.base_price(period)
            self.settled += paid * price
            self._add((version, "energy", period, None, 0), paid)
            self._add((version, "allowance", period, None, 0), free)
            if parts is not None:
                if paid or not free:
                    self._part((plan.day, version, "energy", period, None), paid, paid * price)
                if free:
                    self._part((plan.day, version, "allowance", period, None), free, ZERO)
            return
        if plan.tier_cycle != self.tier_cycle:
            self.close_cycle()
            self.tier_cycle, self.position = plan.tier_cycle, ZERO
        position = self.position
        if free and (self.quantities is not None or parts is not None):
            for step, part in tiers.slices(position, free):
                self._add((version, "allowance", period, step, 0), part)
                if parts is not None:
                    self._part((plan.day, version, "allowance", period, step), part, ZERO)
        if tiers.mode == "graduated":
            if paid:
                base = tariff.base_price(period)
                for step, part in tiers.slices(position + free, paid):
                    amount = part * tiers.unit_price(step, base)
                    self.settled += amount
                    self._add((version, "energy", period, step, 0), part)
                    if parts is not None:
                        self._part((plan.day, version, "energy", period, step), part, amount)
        else:
            if parts is not None:
                self._all_units_parts(plan, period, paid, position, position + quantity)
            if paid:
                key = (version, period)
                self.open_units[key] = self.open_units.get(key, ZERO) + paid
        self.position = position + quantity

    def _all_units_parts(
        self, plan: DayPlan, period: str | None, paid: Decimal, before: Decimal, after: Decimal
    ) -> None:
        """The parts of an all_units take: ``paid`` units at the step the cycle reaches, and,
        when that step differs from the one before, the cycle's open units moved to it."""
        for (version, open_period), units in self.open_units.items():
            tariff = self.schedule.versions[version]
            assert tariff.tiers is not None
            old, new = tariff.tiers.step_reached(before), tariff.tiers.step_reached(after)
            if old != new:
                base = tariff.base_price(open_period)
                self._part(
                    (plan.day, version, "energy", open_period, old),
                    -units,
                    -units * tariff.tiers.unit_price(old, base),
                )
                self._part(
                    (plan.day, version, "energy", open_period, new),
                    units,
                    units * tariff.tiers.unit_price(new, base),
                )
        if paid:
            tiers = plan.tariff.tiers
            assert tiers is not None
            step = tiers.step_reached(after)
            price = tiers.unit_price(step, plan.tariff.base_price(period))
            self._part((plan.day, plan.version, "energy", period, step), paid, paid * price)

    def _open_prices(self) -> Iterator[tuple[tuple[int, str | None], int, Decimal]]:
        for key, _units in self.open_units.items():
            tariff = self.schedule.versions[key[0]]
            assert tariff.tiers is not None
            step = tariff.tiers.step_reached(self.position)
            yield key, step, tariff.tiers.unit_price(step, tariff.base_price(key[1]))

    def exact_total(self) -> Decimal:
        """Exact amount of all usage taken so far (the open all_units cycle at its step now)."""
        total = self.settled
        for key, _step, price in self._open_prices():
            total += self.open_units[key] * price
        return total

    def close_cycle(self) -> None:
        """Price the open all_units cycle at the step its total reached."""
        for (version, period), step, price in list(self._open_prices()):
            units = self.open_units[(version, period)]
            self.settled += units * price
            self._add((version, "energy", period, step, 0), units)
        self.open_units.clear()


def _schedule_of(tariffs: Tariff | TariffSchedule | Sequence[Tariff]) -> TariffSchedule:
    if isinstance(tariffs, TariffSchedule):
        return tariffs
    if isinstance(tariffs, Tariff):
        return TariffSchedule([tariffs], before_first=True)
    return TariffSchedule(tariffs)


def _units(value: Decimal, what: str) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        raise UsageError(f"{what} must be a Decimal of 0 or more, got {value!r}.")
    return value


def quote(
    tariff: Tariff,
    usage_rows: Iterable[tuple[datetime, datetime, Decimal]],
    cycle_used: Decimal = ZERO,
    *,
    allowance_used: Decimal | None = None,
) -> Quote:
    """What ``usage_rows`` cost under ``tariff`` (which also prices days before its date).

    ``cycle_used``: units used earlier in the cycle of the first row; it is the starting tier
    position and, unless ``allowance_used`` says otherwise, the part of the allowance gone.
    """
    return quote_versions(
        TariffSchedule([tariff], before_first=True),
        usage_rows,
        cycle_used,
        allowance_used=allowance_used,
    )


def quote_versions(
    versions: TariffSchedule | Sequence[Tariff],
    usage_rows: Iterable[tuple[datetime, datetime, Decimal]],
    cycle_used: Decimal = ZERO,
    *,
    allowance_used: Decimal | None = None,
) -> Quote:
    """Like ``quote``, each part of the usage priced by the version in force at that time."""
    schedule = _schedule_of(versions)
    rows = [check_row(row, index) for index, row in enumerate(usage_rows)]
    order = sorted(range(len(rows)), key=lambda i: (rows[i].start, rows[i].end))
    for earlier, later in pairwise(order):
        if rows[later].start < rows[earlier].end:
            blamed, other = max(earlier, later), min(earlier, later)  # the one given last
            raise UsageError(
                f"{rows[blamed].start}-{rows[blamed].end} overlaps {rows[other].start}-"
                f"{rows[other].end}; usage intervals must not overlap.",
                blamed,
            )
    tier_used = _units(cycle_used, "cycle_used")
    free_used = tier_used if allowance_used is None else _units(allowance_used, "allowance_used")
    engine = _Engine(schedule, lines=True)
    with localcontext(_EXACT):
        for number, index in enumerate(order):
            start, end, quantity = rows[index]
            try:
                if number == 0:
                    engine.begin(schedule.day_plan(start.date()), tier_used, free_used)
                for plan, period, part in split(schedule, start, end, quantity):
                    engine.take(plan, period, part)
            except ScheduleError as exc:
                raise UsageError(str(exc), index) from None
        engine.close_cycle()
        window = (rows[order[0]].start, max(row.end for row in rows)) if rows else None
        assert engine.quantities is not None
        quantities = dict(engine.quantities)
        if window is not None:
            quantities.update(_fee_counts(schedule, *window))
        lines = _lines(schedule, quantities)
    total = Money(sum(line.amount.minor for line in lines), schedule.currency)
    return Quote(
        schedule.currency,
        window[0] if window else None,
        window[1] if window else None,
        lines,
        total,
    )


def _fee_counts(
    schedule: TariffSchedule, start: datetime, end: datetime
) -> dict[_LineKey, Decimal]:
    """One charge of each fee per fee cycle overlapping ``start``-``end``, of the version in
    force when the overlap begins."""
    counts: dict[_LineKey, Decimal] = {}
    for every in FEE_CYCLES:
        first = cycle_start(every, start.date())
        while midnight(first) < end:
            overlap = max(midnight(first), start)
            version = schedule.version_index(overlap.date())
            for number, fee in enumerate(schedule.versions[version].fees):
                if fee.every == every:
                    key: _LineKey = (version, "fee", None, None, number)
                    counts[key] = counts.get(key, ZERO) + 1
            first = next_cycle_start(every, first)
    return counts


def _lines(schedule: TariffSchedule, quantities: dict[_LineKey, Decimal]) -> tuple[Line, ...]:
    def order(key: _LineKey) -> tuple[int, int, int, int, int]:
        version, kind, period, tier, fee = key
        tariff = schedule.versions[version]
        return (version, KIND_ORDER[kind], tariff.period_order(period), tier or 0, fee)

    out = []
    for key in sorted(quantities, key=order):
        version, kind, period, tier, fee_number = key
        tariff = schedule.versions[version]
        quantity = quantities[key]
        name = None
        if kind == "fee":
            fee = tariff.fees[fee_number]
            price, name = fee.amount, fee.name
        else:
            price = unit_price_of(tariff, kind, period, tier)
        quantity = _tidy(quantity)
        exact = _tidy(quantity * price)
        amount = Money(to_minor(exact, schedule.currency), schedule.currency)
        out.append(
            Line(kind, period, tier, quantity, price, exact, amount, name, tariff.effective_from)
        )
    return tuple(out)


class Rater:
    """Live rating of one meter or account: ``post`` each new usage slice, in time order.

    The cycle state (tier position, allowance used, all_units units awaiting their step) goes
    from slice to slice. Amounts stay exact; each posting is the billing cycle's exact total so
    far rounded (``round_to_minor``) minus what the cycle has posted already, so the rounding
    residue is carried and a cycle's postings add up to its rounded exact total, however its
    usage was sliced. ``billing_cycle`` (default month) is the cycle whose total is rounded;
    an all_units step reached later in a tier cycle re-prices that cycle's earlier units in the
    posting that reaches it.

    ``tariffs``: one tariff (it prices any day), or its dated versions / a shared
    ``TariffSchedule`` (a day before the first version is an error). ``cycle_used`` and
    ``allowance_used`` are units used earlier in the cycles of the first slice, as in ``quote``.
    Fees are not posted here: they are charged per fee cycle, not per unit.
    """

    def __init__(
        self,
        tariffs: Tariff | TariffSchedule | Sequence[Tariff],
        *,
        billing_cycle: Cycle = "month",
        cycle_used: Decimal = ZERO,
        allowance_used: Decimal | None = None,
    ) -> None:
        self.schedule = _schedule_of(tariffs)
        self.currency = self.schedule.currency
        self.billing_cycle: Cycle = billing_cycle
        self._tier_used = _units(cycle_used, "cycle_used")
        self._free_used = (
            self._tier_used if allowance_used is None else _units(allowance_used, "allowance_used")
        )
        self._engine = _Engine(self.schedule, lines=False)
        self._engine.parts = {}
        self._last_end: datetime | None = None
        self._cycle: date | None = None  # first day of the billing cycle being posted
        self._cycle_base = ZERO  # the engine's exact total when that cycle began
        self._posted = 0  # minor units posted in that cycle

    @property
    def cycle(self) -> date | None:
        return self._cycle

    @property
    def cycle_exact(self) -> Decimal:
        """Exact charge of the current billing cycle so far."""
        with localcontext(_EXACT):
            return self._engine.exact_total() - self._cycle_base

    @property
    def cycle_posted(self) -> Money:
        return Money(self._posted, self.currency)

    @property
    def residue(self) -> Decimal:
        """Exact charge of the current cycle not (yet) posted: below half a minor unit."""
        with localcontext(_EXACT):
            return self.cycle_exact - self.cycle_posted.amount

    def post(
        self,
        start: datetime,
        end: datetime,
        quantity: Decimal,
        by_period: Mapping[str, Decimal] | None = None,
    ) -> list[Posting]:
        """Price the slice; one posting per billing cycle it touches (usually one).

        ``by_period``: what the meter's own per-rate registers counted in each TOU period over
        the slice; the quantity is then shared between the periods in those proportions
        (instead of in proportion to time), see ``share_by_registers``.
        """
        start, end, quantity = check_row((start, end, quantity))
        if self._last_end is not None and start < self._last_end:
            raise UsageError(
                f"slice {start}-{end} starts before the previous one ended ({self._last_end}); "
                "post slices in time order."
            )
        engine = self._engine
        postings: list[Posting] = []
        with localcontext(_EXACT):
            try:  # every day of the slice must have a version before the state changes
                pieces = list(split(self.schedule, start, end, quantity))
            except ScheduleError as exc:
                raise UsageError(str(exc)) from None
            if by_period:
                pieces = share_by_registers(pieces, quantity, by_period)
            if self._last_end is None:
                engine.begin(pieces[0][0], self._tier_used, self._free_used)
            before = engine.exact_total()
            units = ZERO
            for plan, period, part in pieces:
                cycle = cycle_start(self.billing_cycle, plan.day)
                if cycle != self._cycle:
                    if self._cycle is not None:
                        postings.append(self._settle(before, units))
                    self._cycle, self._posted, units = cycle, 0, ZERO
                    self._cycle_base = before = engine.exact_total()
                engine.take(plan, period, part)
                units += part
            postings.append(self._settle(before, units))
        self._last_end = end
        return postings

    def state(self) -> RaterState:
        """Everything needed to go on after a restart (``Rater.resume``), as plain values."""
        engine = self._engine
        settled = engine.settled
        if self._cycle_base:  # (saved once per meter and posting: the common case is cheap)
            with localcontext(_EXACT):
                settled -= self._cycle_base
        open_units: tuple[tuple[date, str | None, Decimal], ...] = ()
        if engine.open_units:
            dates = self.schedule.effective_dates
            open_units = tuple(
                (dates[version], period, units)
                for (version, period), units in engine.open_units.items()
            )
        return RaterState(
            last_end=self._last_end,
            cycle=self._cycle,
            cycle_settled=settled,
            posted=self._posted,
            tier_cycle=engine.tier_cycle,
            position=engine.position,
            allowance_cycle=engine.allowance_cycle,
            allowance_used=engine.allowance_used,
            open_units=open_units,
        )

    @classmethod
    def resume(
        cls,
        tariffs: Tariff | TariffSchedule | Sequence[Tariff],
        state: RaterState,
        *,
        billing_cycle: Cycle = "month",
    ) -> Rater:
        """A rater that goes on exactly where the one that gave ``state`` stopped."""
        rater = cls(tariffs, billing_cycle=billing_cycle)
        if state.last_end is None:
            return rater
        engine = rater._engine
        index = {day: number for number, day in enumerate(rater.schedule.effective_dates)}
        try:
            engine.open_units = {
                (index[day], period): units for day, period, units in state.open_units
            }
        except KeyError as exc:
            raise UsageError(
                f"the tariff version of {exc.args[0]} that priced open units is gone"
            ) from None
        engine.tier_cycle, engine.position = state.tier_cycle, state.position
        engine.allowance_cycle, engine.allowance_used = (
            state.allowance_cycle,
            state.allowance_used,
        )
        engine.settled = state.cycle_settled  # the cycle base becomes 0
        rater._last_end, rater._cycle, rater._posted = state.last_end, state.cycle, state.posted
        return rater

    def _settle(self, before: Decimal, units: Decimal) -> Posting:
        assert self._cycle is not None
        engine = self._engine
        now = engine.exact_total()
        due = to_minor(now - self._cycle_base, self.currency)
        amount, self._posted = due - self._posted, due
        found = engine.parts or {}
        engine.parts = {}
        cells = [(key, cell) for key, cell in found.items() if cell[0] or cell[1]]
        shares = apportion(amount, [cell[1] for _key, cell in cells], self.currency)
        versions = self.schedule.versions
        parts = []
        for ((day, version, kind, period, tier), (quantity, exact)), share in zip(
            cells, shares, strict=True
        ):
            price = unit_price_of(versions[version], kind, period, tier)
            parts.append(
                ChargePart(day, version, kind, period, tier, price, quantity, exact, share)
            )
        return Posting(self._cycle, Money(amount, self.currency), now - before, units, tuple(parts))
