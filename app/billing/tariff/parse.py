"""``parse_tariff``: the TOML tariff file of DOMAIN.md section 2 into a checked ``Tariff``.

Every mistake is collected, with its place (the key path, e.g. ``tou.weekday[2]``) and a plain
explanation, and all of them are raised together as one ``TariffFileError``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.billing.money import minor_unit_digits
from app.billing.tariff.model import (
    CYCLES,
    FEE_CYCLES,
    TIER_BASES,
    TIER_MODES,
    Allowance,
    Fee,
    Tariff,
    Tiers,
    TierStep,
)
from app.billing.tariff.parse_tou import parse_tou
from app.billing.tariff.values import Problems, describe
from app.billing.tariff_header import HEADER_KEYS, TariffFileError, check_header, load_toml

TOP_KEYS = (*HEADER_KEYS, "price", "tou", "tiers", "allowance", "fees")
TIER_KEYS = ("cycle", "mode", "basis", "steps")
STEP_KEYS = ("upto", "value")
ALLOWANCE_KEYS = ("quantity", "cycle")
FEE_KEYS = ("name", "amount", "every")
STEPS_EXAMPLE = '[{ upto = "240", value = "0.0000" }, { value = "0.3000" }]'


def parse_tariff(text: str, source: str = "tariff") -> Tariff:
    """The tariff in ``text`` (TOML); ``source`` names the file in messages.

    Raises ``TariffFileError`` listing every mistake (``.problems``, one line each).
    """
    data = load_toml(text, source)
    problems = Problems(source)
    header, header_problems = check_header(data, source)
    problems.extend(header_problems)
    for key in data:
        if key not in TOP_KEYS:
            problems.unknown_key(key, key, TOP_KEYS)

    price = problems.decimal(data["price"], "price") if "price" in data else None
    tou = parse_tou(problems, data["tou"]) if "tou" in data else None
    tiers = _tiers(problems, data["tiers"]) if "tiers" in data else None
    allowance = _allowance(problems, data["allowance"]) if "allowance" in data else None
    currency = header.currency if header else None
    fees = _fees(problems, data["fees"], currency) if "fees" in data else ()
    _check_price_source(problems, data, tiers)

    if problems.lines:
        raise TariffFileError(*problems.lines)
    assert header is not None
    return Tariff(
        name=header.name,
        utility=header.utility,
        unit=header.unit,
        currency=header.currency,
        effective_from=header.effective_from,
        price=price,
        tou=tou,
        tiers=tiers,
        allowance=allowance,
        fees=fees,
    )


def _check_price_source(problems: Problems, data: dict[str, Any], tiers: Tiers | None) -> None:
    """Exactly one thing sets the unit price: ``price``, ``[tou]`` or price-basis tiers."""
    tiers_price = isinstance(data.get("tiers"), dict) and data["tiers"].get("basis") == "price"
    if tiers is not None:
        tiers_price = tiers.basis == "price"
    has_price, has_tou = "price" in data, "tou" in data
    if not has_price and not has_tou and not tiers_price:
        problems.add(
            "price",
            'missing; give a single price (price = "0.5800"), a [tou] table, '
            'or [tiers] with basis = "price".',
        )
    elif has_price and has_tou:
        problems.add("price", "both price and [tou] set the unit price; keep one of them.")
    elif has_price and tiers_price:
        problems.add(
            "price",
            'unused: the [tiers] have basis = "price", so the steps are the price; '
            'remove price or use basis = "surcharge".',
        )


def _tiers(problems: Problems, value: object) -> Tiers | None:
    table = problems.table(value, "tiers", TIER_KEYS)
    if table is None:
        return None
    before = len(problems.lines)
    problems.required(table, "cycle", "tiers", '"month"')
    problems.required(table, "mode", "tiers", '"graduated" or "all_units"')
    problems.required(table, "basis", "tiers", '"surcharge" or "price"')
    problems.required(table, "steps", "tiers", STEPS_EXAMPLE)
    cycle = problems.choice(table["cycle"], "tiers.cycle", CYCLES) if "cycle" in table else None
    mode = problems.choice(table["mode"], "tiers.mode", TIER_MODES) if "mode" in table else None
    basis = problems.choice(table["basis"], "tiers.basis", TIER_BASES) if "basis" in table else None
    steps = _steps(problems, table["steps"]) if "steps" in table else None
    if len(problems.lines) > before:
        return None
    assert cycle is not None
    assert mode is not None
    assert basis is not None
    assert steps is not None
    return Tiers(cycle, mode, basis, steps)


def _steps(problems: Problems, value: object) -> tuple[TierStep, ...] | None:
    if not isinstance(value, list) or not value:
        got = "no steps" if isinstance(value, list) else describe(value)
        problems.add("tiers.steps", f"expected steps like {STEPS_EXAMPLE}, got {got}.")
        return None
    before = len(problems.lines)
    steps: list[TierStep] = []
    previous: Decimal | None = None
    for index, item in enumerate(value, start=1):
        place = f"tiers.steps[{index}]"
        table = problems.table(item, place, STEP_KEYS)
        if table is None:
            continue
        last = index == len(value)
        upto = None
        if "upto" in table:
            upto = problems.decimal(table["upto"], f"{place}.upto", what="quantity", positive=True)
            if last:
                problems.add(
                    f"{place}.upto",
                    "the last step must leave out upto: "
                    "it takes every unit above the step before it.",
                )
            elif upto is not None and previous is not None and upto <= previous:
                problems.add(
                    f"{place}.upto",
                    f"{upto} is not above the previous step's {previous}; steps must rise.",
                )
        elif not last:
            problems.add(place, "has no upto; only the last step may leave it out.")
        if upto is not None:
            previous = upto
        step_value = (
            problems.decimal(table.get("value"), f"{place}.value") if "value" in table else None
        )
        if "value" not in table:
            problems.add(f"{place}.value", 'missing; write value = "0.0500".')
        if step_value is not None:
            steps.append(TierStep(None if last else upto, step_value))
    return tuple(steps) if len(problems.lines) == before else None


def _allowance(problems: Problems, value: object) -> Allowance | None:
    table = problems.table(value, "allowance", ALLOWANCE_KEYS)
    if table is None:
        return None
    quantity = problems.required(table, "quantity", "allowance", '"15"')
    cycle = problems.required(table, "cycle", "allowance", '"month"')
    number = (
        problems.decimal(quantity, "allowance.quantity", what="quantity")
        if "quantity" in table
        else None
    )
    kind = problems.choice(cycle, "allowance.cycle", CYCLES) if "cycle" in table else None
    return Allowance(number, kind) if number is not None and kind is not None else None


def _fees(problems: Problems, value: object, currency: str | None) -> tuple[Fee, ...]:
    fees: list[Fee] = []
    for index, item in enumerate(problems.table_list(value, "fees", "fees"), start=1):
        place = f"fees[{index}]"
        table = problems.table(item, place, FEE_KEYS)
        if table is None:
            continue
        for key, example in (
            ("name", '"Meter service fee"'),
            ("amount", '"5.00"'),
            ("every", '"month"'),
        ):
            problems.required(table, key, place, example)
        name = problems.text(table["name"], f"{place}.name") if "name" in table else None
        amount = (
            problems.decimal(table["amount"], f"{place}.amount", what="fee")
            if "amount" in table
            else None
        )
        every = (
            problems.choice(table["every"], f"{place}.every", FEE_CYCLES)
            if "every" in table
            else None
        )
        if amount is not None and currency is not None:
            digits = minor_unit_digits(currency)
            exponent = amount.as_tuple().exponent
            if isinstance(exponent, int) and -exponent > digits:
                problems.add(
                    f"{place}.amount",
                    f"{table['amount']!r} has more than {digits} decimals; {currency} is counted "
                    f"in units of {Decimal(1).scaleb(-digits)}.",
                )
                amount = None
        if name is not None and amount is not None and every is not None:
            fees.append(Fee(name, amount, every))
    return tuple(fees)
