"""Per-rate registers: a meter that counts its energy per TOU period (sharp, peak, flat,
valley) tells how a slice's units were shared between the periods better than time does."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_FLOOR, Context, Decimal, DivisionByZero, InvalidOperation, localcontext

from app.billing.tariff.schedule import SPLIT_QUANTUM, DayPlan

ZERO = Decimal(0)
_Piece = tuple[DayPlan, str | None, Decimal]
_FLOOR = Context(prec=80, rounding=ROUND_FLOOR, traps=[InvalidOperation, DivisionByZero])


def _shares(total: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """``total`` shared in proportion to ``weights`` (sum > 0): floored to 1e-9, the last
    share takes the remainder, so the shares add up to ``total`` exactly."""
    whole = sum(weights, ZERO)
    with localcontext(_FLOOR):
        out = [(total * w / whole).quantize(SPLIT_QUANTUM) for w in weights[:-1]]
    out.append(total - sum(out, ZERO))
    return out


def share_by_registers(
    pieces: list[_Piece], quantity: Decimal, by_period: Mapping[str, Decimal]
) -> list[_Piece]:
    """The slice's pieces with ``quantity`` shared between TOU periods as the meter's per-rate
    registers counted it, each period's share spread over that period's pieces in proportion
    to time. A period the meter counted in but the tariff's bands do not reach in the slice
    (the meter's clock or TOU table differs) is priced on the slice's last day.

    Falls back to the time split (``pieces`` unchanged) when the tariff has no TOU, the
    registers counted nothing, or a register counted in a period the tariff does not know.
    """
    counted = {period: units for period, units in by_period.items() if units > 0}
    last_plan = pieces[-1][0]
    tou = last_plan.tariff.tou
    if not counted or tou is None or any(p not in tou.period_names() for p in counted):
        return pieces
    periods = list(counted)
    per_period = dict(zip(periods, _shares(quantity, [counted[p] for p in periods]), strict=True))
    pieces = list(pieces)
    extra: list[_Piece] = []
    for period in periods:
        spots = [n for n, piece in enumerate(pieces) if piece[1] == period]
        weights = [pieces[n][2] for n in spots]
        if not spots:
            extra.append((last_plan, period, per_period[period]))
        elif sum(weights, ZERO) > 0:
            for n, share in zip(spots, _shares(per_period[period], weights), strict=True):
                pieces[n] = (pieces[n][0], period, share)
        else:
            pieces[spots[-1]] = (pieces[spots[-1]][0], period, per_period[period])
    for n, (plan, band, _part) in enumerate(pieces):
        if band not in counted:
            pieces[n] = (plan, band, ZERO)
    return pieces + extra
