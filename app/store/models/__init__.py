"""SQLAlchemy 2 models of the whole MeterDesk domain. Import models from here."""

from app.store.models.account_models import Account, AccountTariff, BalancePolicy
from app.store.models.base import Base, column_length, utc_now
from app.store.models.ledger_models import (
    ChargeDay,
    Counter,
    LedgerDay,
    LedgerEntry,
    RatingState,
    Receipt,
    Shift,
    UsageCharge,
)
from app.store.models.live_models import LivePower
from app.store.models.meter_models import (
    Bus,
    DailyUsage,
    IntervalReading,
    LoadGuardSetting,
    LoadTrip,
    Meter,
    MeterHealthDay,
    RelayCommand,
)
from app.store.models.notice_models import Notice, NoticeTemplate
from app.store.models.operator_models import Alarm, AuditEvent, Operator
from app.store.models.owner_models import FieldOwner
from app.store.models.site_models import Building, Room, Setting, Site
from app.store.models.tariff_models import TariffPlan, TariffVersion
from app.vocabulary import (
    AccountStatus,
    AlarmSeverity,
    AlarmState,
    CommandState,
    LedgerKind,
    MeterStatus,
    PaymentMethod,
    ReadingQuality,
    ReceiptKind,
    RelayAction,
    Role,
    SupplyState,
    Utility,
)

__all__ = [
    "Account",
    "AccountStatus",
    "AccountTariff",
    "Alarm",
    "AlarmSeverity",
    "AlarmState",
    "AuditEvent",
    "BalancePolicy",
    "Base",
    "Building",
    "Bus",
    "ChargeDay",
    "CommandState",
    "Counter",
    "DailyUsage",
    "FieldOwner",
    "IntervalReading",
    "LedgerDay",
    "LedgerEntry",
    "LedgerKind",
    "LivePower",
    "LoadGuardSetting",
    "LoadTrip",
    "Meter",
    "MeterHealthDay",
    "MeterStatus",
    "Notice",
    "NoticeTemplate",
    "Operator",
    "PaymentMethod",
    "RatingState",
    "ReadingQuality",
    "Receipt",
    "ReceiptKind",
    "RelayAction",
    "RelayCommand",
    "Role",
    "Room",
    "Setting",
    "Shift",
    "Site",
    "SupplyState",
    "TariffPlan",
    "TariffVersion",
    "UsageCharge",
    "Utility",
    "column_length",
    "utc_now",
]
