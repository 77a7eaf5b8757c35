"""A ``RaterState`` as JSON values (for ``rating_state.rater``) and back, losslessly: decimals
and dates as strings, never floats."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import cast

from app.billing.rating import RaterState
from app.billing.tariff.model import Cycle
from app.billing.tariff.schedule import CycleKey


def _cycle_out(key: CycleKey | None) -> list[str] | None:
    return None if key is None else [key[0], key[1].isoformat()]


def _cycle_in(value: object) -> CycleKey | None:
    if value is None:
        return None
    kind, day = cast(list[str], value)
    return (cast(Cycle, kind), date.fromisoformat(day))


def state_to_json(state: RaterState) -> dict[str, object]:
    return {
        "last_end": None if state.last_end is None else state.last_end.isoformat(),
        "cycle": None if state.cycle is None else state.cycle.isoformat(),
        "cycle_settled": str(state.cycle_settled),
        "posted": state.posted,
        "tier_cycle": _cycle_out(state.tier_cycle),
        "position": str(state.position),
        "allowance_cycle": _cycle_out(state.allowance_cycle),
        "allowance_used": str(state.allowance_used),
        "open_units": [
            [day.isoformat(), period, str(units)] for day, period, units in state.open_units
        ],
    }


def state_from_json(data: dict[str, object]) -> RaterState:
    last_end, cycle = data["last_end"], data["cycle"]
    open_units = cast(list[list[str | None]], data["open_units"])
    return RaterState(
        last_end=None if last_end is None else datetime.fromisoformat(str(last_end)),
        cycle=None if cycle is None else date.fromisoformat(str(cycle)),
        cycle_settled=Decimal(str(data["cycle_settled"])),
        posted=int(cast(int, data["posted"])),
        tier_cycle=_cycle_in(data["tier_cycle"]),
        position=Decimal(str(data["position"])),
        allowance_cycle=_cycle_in(data["allowance_cycle"]),
        allowance_used=Decimal(str(data["allowance_used"])),
        open_units=tuple(
            (date.fromisoformat(str(day)), period, Decimal(str(units)))
            for day, period, units in open_units
        ),
    )
