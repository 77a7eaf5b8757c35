"""Balance policy of a prepaid account (DOMAIN.md section 1): warnings, cut and restore.

Pure: every input is a plain value passed in by the caller (the engine), including the site-local
time ``now``; nothing here reads a clock, a database or a meter. The engine calls
:func:`decide_supply` after every posting, every recharge and on a regular tick, carries the
returned ``new_state`` into the next call as ``previous``, and turns the decision into relay
commands, alarms and audit entries.

Rules (each one is tested in ``tests/unit/billing/test_supply_policy.py``):

Region
    ``new_state`` is :func:`app.billing.credit_region.credit_region` of the balance, with the
    previous state for the close-permit hysteresis: an account that was ``CUT_OFF`` stays
    ``CUT_OFF`` until its balance reaches ``close_permit_minor``. The region never depends on time:
    a cut deferred by friendly time or keep power still leaves the account in ``CUT_OFF``.

Warnings
    Alarm 1 is active while the region is anything below ``NORMAL``; alarm 2 while the region
    is ``ALARM_2`` or below (zero, overdraft, cut off). A warning is *raised* on the evaluation
    where it becomes active and *cleared* on the one where it stops being active (the balance
    went back up above its threshold, or the close permit lifted a cut-off account above it).
    Staying in or below a region raises nothing again, and going further down never clears. A
    drop from normal straight to alarm 2 or below raises both warnings in one decision. With
    ``previous=None`` (no history, e.g. a new account) every active warning is raised.

Cut
    A meter is cut when all of these hold: the region is ``CUT_OFF``; ``now`` is not in friendly
    time (:func:`in_friendly_time`: a friendly window or a friendly date); keep power is not active
    (it is active while ``now`` is before ``keep_power_until``; at that instant it is over; None
    means no keep power); and the meter's supply is not known to be off (``supply_on`` True or
    unknown, ``None``: a cut command is harmless when repeated and its read-back settles the
    state). A meter already off for another reason gets no cut command; if the load guard or an
    operator switches it on while the account is still cut off, the next evaluation cuts it.
    When only friendly time or keep power stands in the way, the cut is *pending*
    (``cut_pending``) and ``cut_pending_until`` says when the last obstacle ends (None when no end
    can be found, e.g. every hour of the week is friendly). There is no stored "pending" state:
    the first evaluation after a friendly window ends or keep power expires finds the account
    still ``CUT_OFF`` with its supply on and cuts it.

Restore
    A meter is restored when its supply is off (or unknown) *because of arrears*
    (``off_reason=OffReason.ARREARS``, which the engine records when it carries out a cut of this
    policy) and either the account is no longer ``CUT_OFF`` (a recharge reached the close permit,
    or the balance otherwise left the cut-off region) or keep power is active. Meters off because
    of a load-guard trip or lock-out, an operator's manual cut, or for no recorded reason are
    never restored here: those belong to the load guard and to the operator.
    Friendly time does not restore a cut-off account: it only keeps supply on that is on; a room
    cut at 17:00 does not get power back at 22:00 because the night is friendly. Keep power does
    restore: it is a supervisor's explicit order that the room have power (medical need).

Reason
    ``reason`` is one English sentence group for the audit trail and the alarm text, saying the
    balance, the region and why a cut happened, was deferred, or why a meter was restored or stays
    off. Amounts are shown in the currency when ``currency`` is given, else in minor units.

Friendly hours are weekly windows ``{"days": [0..6], "from": "HH:MM", "to": "HH:MM"}`` (Monday is
0) in site-local wall-clock time, ``from`` inclusive and ``to`` exclusive. A window whose ``to`` is
not after its ``from`` crosses midnight and belongs to the day it starts on: ``{"days": [4], "from":
"22:00", "to": "07:00"}`` covers Friday 22:00 to Saturday 07:00, not Friday 00:00-07:00. ``"24:00"``
is allowed as ``to`` (end of the day). ``from`` equal to ``to`` is refused as ambiguous. Friendly
dates are whole site-local days.

Times: ``now`` is site-local, naive or aware. ``keep_power_until`` is compared with ``now`` as an
instant, so both must be naive or both aware (the store keeps it as aware UTC; pass ``now`` aware in
the site's zone then). Friendly time always uses ``now``'s wall-clock fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from app.billing.credit_region import CreditThresholds, credit_region
from app.billing.friendly_time import (
    DateLike,
    FriendlyWindow,
    FriendlyWindowLike,
    friendly_time_end,
    in_friendly_time,
    parse_friendly_dates,
    parse_friendly_hours,
)
from app.billing.money import Money, minor_unit_digits
from app.vocabulary import OffReason, SupplyState


class BalanceWarning(StrEnum):
    """The two low-balance warnings of a balance policy."""

    ALARM_1 = "alarm_1"
    ALARM_2 = "alarm_2"


@dataclass(frozen=True, slots=True)
class MeterSupply:
    """One meter of the account as the engine last knew it.

    ``supply_on``: relay closed / valve open (True), open / closed (False), or unknown (None).
    ``off_reason``: why it was switched off, when it is off; None when nobody recorded a reason.
    """

    meter_id: int
    supply_on: bool | None
    off_reason: OffReason | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """What the balance policy wants done for one account at one moment.

    ``cut_meters`` / ``restore_meters`` are the meters to switch off / on now, in the order given.
    ``cut_pending`` is True when the account is cut off but friendly time or keep power defers the
    cut of meters that are still on; ``cut_pending_until`` is when that deferral ends (None if no
    end is in sight or nothing is pending).
    """

    new_state: SupplyState
    warnings_to_raise: tuple[BalanceWarning, ...]
    warnings_to_clear: tuple[BalanceWarning, ...]
    cut_meters: tuple[int, ...]
    restore_meters: tuple[int, ...]
    cut_pending: bool
    cut_pending_until: datetime | None
    reason: str

    @property
    def cut(self) -> bool:
        """Whether any meter is to be cut now."""
        return bool(self.cut_meters)

    @property
    def restore(self) -> bool:
        """Whether any meter is to be restored now."""
        return bool(self.restore_meters)


def active_warnings(state: SupplyState | None) -> frozenset[BalanceWarning]:
    """The warnings that hold in a region (see the module docstring)."""
    if state is None or state is SupplyState.NORMAL:
        return frozenset()
    if state is SupplyState.ALARM_1:
        return frozenset({BalanceWarning.ALARM_1})
    return frozenset({BalanceWarning.ALARM_1, BalanceWarning.ALARM_2})


def keep_power_active(now: datetime, keep_power_until: datetime | None) -> bool:
    """Keep power holds from the order until, not including, ``keep_power_until``."""
    if keep_power_until is None:
        return False
    if (now.tzinfo is None) != (keep_power_until.tzinfo is None):
        raise ValueError(
            "now and keep_power_until must both be naive or both timezone-aware; "
            f"got now={now.isoformat()} and keep_power_until={keep_power_until.isoformat()}."
        )
    return now < keep_power_until


def _in_tz_of(moment: datetime, now: datetime) -> datetime:
    return moment if now.tzinfo is None else moment.astimezone(now.tzinfo)


def _deferral_end(
    now: datetime,
    keep_power_until: datetime | None,
    windows: Sequence[FriendlyWindow],
    dates: frozenset[date],
) -> datetime | None:
    """When neither keep power nor friendly time holds any more, following one into the other."""
    moment = now
    for _ in range(1000):  # each round moves past one keep-power span or one friendly stretch
        if keep_power_until is not None and keep_power_active(moment, keep_power_until):
            moment = _in_tz_of(keep_power_until, now)
            continue
        end = friendly_time_end(moment, windows, dates)
        if end is None or end == moment:
            return end
        moment = end
    return None


def _sentence_amount(minor: int, currency: str | None) -> str:
    if currency is None:
        return f"{minor} (minor units)"
    minor_unit_digits(currency)  # a clear MoneyError for an unknown currency
    return f"{Money(minor, currency)} {currency}"


def _ids(meter_ids: Iterable[int]) -> str:
    ids = list(meter_ids)
    noun = "meter" if len(ids) == 1 else "meters"
    return f"{noun} {', '.join(str(i) for i in ids)}"


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


_WARNING_ORDER = (BalanceWarning.ALARM_1, BalanceWarning.ALARM_2)


def decide_supply(
    *,
    balance_minor: int,
    thresholds: CreditThresholds,
    previous: SupplyState | None,
    now: datetime,
    meters: Sequence[MeterSupply] = (),
    keep_power_until: datetime | None = None,
    keep_power_reason: str = "",
    friendly_hours: Iterable[FriendlyWindowLike] = (),
    friendly_dates: Iterable[DateLike] = (),
    currency: str | None = None,
) -> Decision:
    """Apply the rules of the module docstring to one account at the site-local time ``now``."""
    windows = parse_friendly_hours(friendly_hours)
    dates = parse_friendly_dates(friendly_dates)
    state = credit_region(balance_minor, thresholds, previous)
    cut_off = state is SupplyState.CUT_OFF
    keeping = keep_power_active(now, keep_power_until)
    on_friendly_date = now.date() in dates
    friendly = in_friendly_time(now, windows, dates)

    def amount(minor: int) -> str:
        return _sentence_amount(minor, currency)

    sentences = [f"Balance {amount(balance_minor)}: {state.value.replace('_', ' ')}."]

    before, after = active_warnings(previous), active_warnings(state)
    to_raise = tuple(w for w in _WARNING_ORDER if w in after - before)
    to_clear = tuple(w for w in _WARNING_ORDER if w in before - after)
    limit_of = {
        BalanceWarning.ALARM_1: thresholds.alarm_1_minor,
        BalanceWarning.ALARM_2: thresholds.alarm_2_minor,
    }
    for warning in to_raise:
        sentences.append(
            f"Warning {warning.value.replace('_', ' ')} raised: balance at or below "
            f"{amount(limit_of[warning])}."
        )
    for warning in to_clear:
        sentences.append(
            f"Warning {warning.value.replace('_', ' ')} cleared: balance above "
            f"{amount(limit_of[warning])}."
        )

    restorable = tuple(
        m.meter_id for m in meters if m.supply_on is not True and m.off_reason is OffReason.ARREARS
    )
    restore_meters = restorable if not cut_off or keeping else ()
    cut_meters: tuple[int, ...] = ()
    cut_pending = False
    pending_until: datetime | None = None
    if cut_off:
        cut_point = -thresholds.overdraft_limit_minor
        if balance_minor <= cut_point:
            sentences.append(f"The balance is at or below the cut-off point {amount(cut_point)}.")
        else:
            sentences.append(
                f"Cut off until the balance reaches the close permit "
                f"{amount(thresholds.close_permit_minor)}."
            )
        supplied = tuple(m.meter_id for m in meters if m.supply_on is not False)
        if keeping or friendly:
            if keeping:
                assert keep_power_until is not None
                why = f"keep power until {_when(_in_tz_of(keep_power_until, now))}"
                if keep_power_reason.strip():
                    why += f" ({keep_power_reason.strip()})"
            elif on_friendly_date:
                why = f"friendly date {now.date().isoformat()}"
            else:
                why = "friendly hours"
            # Meters restored under keep power are on from now on and wait for the cut too.
            waiting = supplied + restore_meters
            cut_pending = bool(waiting)
            if cut_pending:
                pending_until = _deferral_end(now, keep_power_until, windows, dates)
                later = f" until {_when(pending_until)}" if pending_until else ""
                sentences.append(f"Cut of {_ids(waiting)} deferred{later}: {why}.")
            else:
                sentences.append(f"No cut now: {why}.")
        elif supplied:
            cut_meters = supplied
            sentences.append(f"Cut {_ids(supplied)}.")
            if keep_power_until is not None:
                ended = _when(_in_tz_of(keep_power_until, now))
                sentences.append(f"Keep power ended at {ended}.")
        elif meters:
            sentences.append("Supply is already off.")

    if restore_meters and not cut_off:
        sentences.append(
            f"Restore {_ids(restore_meters)}: the balance is at or above the close permit "
            f"{amount(thresholds.close_permit_minor)}."
        )
    elif restore_meters:
        sentences.append(f"Restore {_ids(restore_meters)}: keep power is active.")
    elif restorable and friendly:
        sentences.append(
            f"{_ids(restorable).capitalize()} stay off: friendly time does not restore a cut."
        )
    if not cut_off or keeping:
        off_reasons = {
            OffReason.LOAD_GUARD: "tripped or locked out by the load guard",
            OffReason.MANUAL: "cut by an operator",
        }
        for meter in meters:
            if meter.off_reason in off_reasons and meter.supply_on is not True:
                why = off_reasons[meter.off_reason]
                sentences.append(f"Meter {meter.meter_id} stays off: {why}.")
            elif meter.off_reason is None and meter.supply_on is False:
                sentences.append(
                    f"Meter {meter.meter_id} stays off: no reason recorded for its being off."
                )

    return Decision(
        new_state=state,
        warnings_to_raise=to_raise,
        warnings_to_clear=to_clear,
        cut_meters=cut_meters,
        restore_meters=restore_meters,
        cut_pending=cut_pending,
        cut_pending_until=pending_until,
        reason=" ".join(sentences),
    )
