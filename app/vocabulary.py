"""Vocabularies shared by every layer and stored in the database as their values.

Never rename a value: it is what the database holds. Plain enums, no imports, so the pure billing
rules, the hardware layer and the store all speak the same words."""

from __future__ import annotations

from enum import IntEnum, StrEnum

# A new site's currency and time zone until it is set up (the site table's defaults too).
DEFAULT_CURRENCY = "CNY"
DEFAULT_TIMEZONE = "Asia/Shanghai"


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
    OPENING = "opening"  # a balance carried over from before (a site import's tenants)


class Role(StrEnum):
    CASHIER = "cashier"
    OFFICE = "office"
    SUPERVISOR = "supervisor"
    TECHNICIAN = "technician"
    ADMIN = "admin"


class SignInPlace(StrEnum):
    """Where a sign-in was tried: said in the log and the audit trail of failed sign-ins."""

    CONSOLE = "console"
    COMMAND_LINE = "command line"


class AlarmSeverity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlarmState(StrEnum):
    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"


class RelayAction(StrEnum):
    """What a ``relay_command`` row asks of a meter: its supply, or its clock."""

    OPEN_SUPPLY = "open_supply"  # relay closed / valve open: supply on
    CUT_SUPPLY = "cut_supply"  # relay open / valve closed: supply off
    SYNC_CLOCK = "sync_clock"  # set the meter's clock to the site's time, read it back
    ALARM_ON = "alarm_on"  # the meter's own low-balance alarm (buzzer, display) on
    ALARM_OFF = "alarm_off"  # and off again


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


class AlarmKind(StrEnum):
    """What an alarm is about. The alarm centre lists exactly these (with a label each)."""

    LOW_BALANCE_1 = "low_balance_1"
    LOW_BALANCE_2 = "low_balance_2"
    CUT_OFF = "cut_off"  # an account cut off for arrears
    LOAD_GUARD_TRIP = "load_guard_trip"
    LOAD_GUARD_ALARM = "load_guard_alarm"  # heavy load in alarm-only mode
    LOAD_GUARD_LOCKOUT = "load_guard_lockout"
    METER_OFFLINE = "meter_offline"
    COMMAND_FAILED = "command_failed"
    IMPLAUSIBLE_READING = "implausible_reading"
    CLOCK_DRIFT = "clock_drift"
    UNPRICED_USAGE = "unpriced_usage"
    ACCOUNT_SKIPPED = "account_skipped"  # the engine could not post or evaluate one account
    LINE_DOWN = "line_down"  # a bus's port cannot be opened or failed: none of its meters read
    MODEM_FAILED = "modem_failed"  # the SMS modem cannot send: tenants' notices wait


class NoticeKind(StrEnum):
    """What a notice to a tenant says (``notice.kind``); each has a template per language."""

    LOW_BALANCE_1 = "low_balance_1"
    LOW_BALANCE_2 = "low_balance_2"
    CUT_OFF = "cut_off"
    RECHARGE = "recharge"  # a recharge was received
    RESTORED = "restored"  # supply restored after arrears
    LOAD_TRIP = "load_trip"  # the load guard cut a dangerous load


class NoticeState(StrEnum):
    """Where a text message to a tenant stands (``notice.state``)."""

    QUEUED = "queued"  # waiting for its time (quiet hours, a retry)
    SENDING = "sending"  # handed to the modem; if the PC stops now it is never sent again
    SENT = "sent"
    FAILED = "failed"  # given up after the bounded retries, or the send was cut short
    DROPPED = "dropped"  # no longer true before it could go (a recharge came first)


class OffReason(StrEnum):
    """Why a meter's supply is off (``meter.off_reason``)."""

    ARREARS = "arrears"  # cut by the balance policy: the balance policy may restore it
    LOAD_GUARD = "load_guard"  # tripped or locked out by the load guard
    MANUAL = "manual"  # an operator's manual cut


class ExitCode(IntEnum):
    """Exit codes of ``main.py`` and its commands; the README lists them."""

    OK = 0
    REFUSED = 1  # checked and refused, or problems found; the message says what to fix
    USAGE = 2  # bad usage: an option or a value that cannot be read
    STORE = 3  # a database problem without a code of its own
    DATA_DIR = 4  # the data folder cannot be created or written
    DATABASE_UNREADABLE = 5  # not a readable MeterDesk database (left untouched)
    SCHEMA_TOO_NEW = 6  # written by a newer MeterDesk (left untouched)
    DATABASE_UNREACHABLE = 7  # the database server cannot be reached or refused the login
    NOT_MIGRATED = 8  # no schema yet, or an older one: set up a site or run db upgrade
    SITE_EXISTS = 9  # the database already holds a site
    BAD_PROFILE = 10  # unknown or bad meter profile
    PORT_UNAVAILABLE = 11  # the port cannot be opened
    NO_REPLY = 12  # the meter did not answer
    METER_REFUSED = 13  # the meter answered with an error
    NOT_SWITCHED = 14  # the relay or valve did not change
    GARBLED = 15  # CRC or frame error
    DENIED = 16  # not signed in, or the role may not do this
