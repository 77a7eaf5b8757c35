"""Vocabularies shared by every layer and stored in the database as their values.

Never rename a value: it is what the database holds. Plain enums, no imports, so the pure billing
rules, the hardware layer and the store all speak the same words."""

from __future__ import annotations

from enum import StrEnum


class Utility(StrEnum):
    ELECTRICITY = "electricity"
    WATER = "water"
    GAS = "gas"


class AccountStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class SupplyState(StrEnum):
    """Credit region of an account (DOMAIN.md section 1), kept by the engine."""

    NORMAL = "normal"
    ALARM_1 = "alarm_1"
    ALARM_2 = "alarm_2"
    ZERO = "zero"
    OVERDRAFT = "overdraft"
    CUT_OFF = "cut_off"


class MeterStatus(StrEnum):
    ACTIVE = "active"
    OFFLINE = "offline"
    DISABLED = "disabled"
    REMOVED = "removed"


class LedgerKind(StrEnum):
    OPENING = "opening"
    RECHARGE = "recharge"
    CONSUMPTION = "consumption"
    FEE = "fee"
    ALLOWANCE = "allowance"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"
    REVERSAL = "reversal"
    SETTLEMENT = "settlement"


class PaymentMethod(StrEnum):
    CASH = "cash"
    CARD = "card"
    TRANSFER = "transfer"
    CAMPUS = "campus"


class ReceiptKind(StrEnum):
    RECHARGE = "recharge"
    REFUND = "refund"
    SETTLEMENT = "settlement"
    ADJUSTMENT = "adjustment"


class Role(StrEnum):
    CASHIER = "cashier"
    OFFICE = "office"
    SUPERVISOR = "supervisor"
    TECHNICIAN = "technician"
    ADMIN = "admin"


class AlarmSeverity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlarmState(StrEnum):
    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"


class RelayAction(StrEnum):
    OPEN_SUPPLY = "open_supply"  # relay closed / valve open: supply on
    CUT_SUPPLY = "cut_supply"  # relay open / valve closed: supply off


class CommandState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    VERIFIED = "verified"
    UNVERIFIED = "unverified"
    FAILED = "failed"


class ReadingQuality(StrEnum):
    GOOD = "good"
    ESTIMATED = "estimated"
    HELD = "held"  # implausible: kept for evidence, never billed
