"""How money, states and times look on screen. Labels are translated here, once."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QColor

from app.billing.money import Money
from app.vocabulary import AccountStatus, LedgerKind, MeterStatus, SupplyState, Utility


def _t(text: str) -> str:
    return QCoreApplication.translate("formatting", text)


def money_text(minor: int, currency: str) -> str:
    return Money(minor, currency).display()


def money_color(minor: int) -> QColor | None:
    return QColor("#b91c1c") if minor < 0 else None


def supply_label(state: SupplyState, status: AccountStatus = AccountStatus.OPEN) -> str:
    if status is AccountStatus.CLOSED:
        return _t("Closed")
    return {
        SupplyState.NORMAL: _t("Normal"),
        SupplyState.ALARM_1: _t("Low balance"),
        SupplyState.ALARM_2: _t("Very low"),
        SupplyState.ZERO: _t("Zero balance"),
        SupplyState.OVERDRAFT: _t("Overdraft"),
        SupplyState.CUT_OFF: _t("Cut off"),
    }[state]


def supply_badge(state: SupplyState, status: AccountStatus = AccountStatus.OPEN) -> str:
    """Badge colour key for BadgeDelegate."""
    if status is AccountStatus.CLOSED:
        return "muted"
    return {
        SupplyState.NORMAL: "ok",
        SupplyState.ALARM_1: "warn",
        SupplyState.ALARM_2: "warn2",
        SupplyState.ZERO: "warn2",
        SupplyState.OVERDRAFT: "warn2",
        SupplyState.CUT_OFF: "bad",
    }[state]


def meter_status_name(status: MeterStatus) -> str:
    """The status itself (a filter's choice); a meter's row says ``meter_status_label``."""
    return {
        MeterStatus.ACTIVE: _t("Online"),
        MeterStatus.OFFLINE: _t("Offline"),
        MeterStatus.DISABLED: _t("Disabled"),
        MeterStatus.REMOVED: _t("Removed"),
    }[status]


def meter_status_label(status: MeterStatus, last_seen: datetime | None) -> str:
    """What a meter's row says: an active meter never heard from is "Not polled yet"."""
    if status is MeterStatus.ACTIVE and last_seen is None:
        return _t("Not polled yet")
    return meter_status_name(status)


def meter_status_badge(status: MeterStatus, last_seen: datetime | None) -> str:
    if status is MeterStatus.ACTIVE and last_seen is None:
        return "info"
    return {
        MeterStatus.ACTIVE: "ok",
        MeterStatus.OFFLINE: "bad",
        MeterStatus.DISABLED: "muted",
        MeterStatus.REMOVED: "muted",
    }[status]


def utility_label(utility: Utility) -> str:
    return {
        Utility.ELECTRICITY: _t("Electricity"),
        Utility.WATER: _t("Water"),
        Utility.GAS: _t("Gas"),
    }[utility]


def relay_label(closed: bool | None) -> str:
    if closed is None:
        return _t("Not read yet")
    return _t("Supply on") if closed else _t("Supply off")


def clock_drift_text(seconds: float | None) -> str:
    """A meter clock's drift from the site's time: "10 min behind", "3 s ahead", "on time"."""
    if seconds is None:
        return _t("not read")
    amount = abs(seconds)
    if amount < 1:
        return _t("on time")
    if amount >= 3600:
        size = _t("{n:.1f} h").format(n=amount / 3600)
    elif amount >= 120:
        size = _t("{n:.0f} min").format(n=amount / 60)
    else:
        size = _t("{n:.0f} s").format(n=amount)
    if seconds > 0:
        return _t("{size} ahead").format(size=size)
    return _t("{size} behind").format(size=size)


def local_time_text(moment: datetime | None) -> str:
    """A UTC moment shown in the PC's local time, minutes precision."""
    if moment is None:
        return "—"
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def ledger_kind_label(kind: LedgerKind) -> str:
    return {
        LedgerKind.OPENING: _t("Opening balance"),
        LedgerKind.RECHARGE: _t("Recharge"),
        LedgerKind.CONSUMPTION: _t("Usage"),
        LedgerKind.FEE: _t("Fee"),
        LedgerKind.ALLOWANCE: _t("Free allowance"),
        LedgerKind.REFUND: _t("Refund"),
        LedgerKind.ADJUSTMENT: _t("Adjustment"),
        LedgerKind.REVERSAL: _t("Reversal"),
        LedgerKind.SETTLEMENT: _t("Settlement"),
    }[kind]
