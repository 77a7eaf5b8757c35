"""Who may do what: one table of roles and actions, checked by the services themselves (a hidden
button is not a permission check).

Cashiers take money and print receipts; office staff also open, move and close accounts, and
refund or adjust with a supervisor's approval on the spot (``corrections.approval``);
supervisors also approve refunds and adjustments (their own need nobody else), change tariffs,
policies and load-guard settings, lay out buildings and rooms, switch relays, order keep-power
and close other cashiers' shifts; technicians run the field side (diagnostics, relays,
load-guard restores, buses and meters, meter replacement) but never touch money; admins do
everything, set up the site itself and manage operators.
"""

from __future__ import annotations

from enum import StrEnum

from app.vocabulary import Role


class Action(StrEnum):
    RECHARGE = "recharge"
    REPRINT_RECEIPT = "reprint receipts"
    OPEN_SHIFT = "open a shift"
    CLOSE_SHIFT = "close a shift"
    CLOSE_ANY_SHIFT = "close another cashier's shift"
    OPEN_ACCOUNT = "open accounts"
    MOVE_ACCOUNT = "move accounts"
    CLOSE_ACCOUNT = "settle and close accounts"
    REFUND = "refund"
    ADJUST = "adjust balances"
    APPROVE = "approve refunds and adjustments"
    CHANGE_TARIFF = "change tariffs"
    CHANGE_POLICY = "change balance policies"
    SWITCH_RELAY = "switch relays and valves"
    KEEP_POWER = "order keep power"
    RESTORE_LOAD_GUARD = "restore a locked-out load guard"
    ACKNOWLEDGE_ALARM = "acknowledge alarms"
    REPLACE_METER = "replace meters"
    DIAGNOSTICS = "run bus diagnostics"
    SYNC_CLOCK = "sync meter clocks"
    VIEW_REPORTS = "view and export reports"
    MANAGE_OPERATORS = "manage operators"
    EDIT_SITE = "change the site's name, address, time zone, currency and receipt header"
    EDIT_LAYOUT = "add, rename and retire buildings and rooms"
    EDIT_FIELD = "add, change and retire buses and meters"


_CASHIER = frozenset(
    {
        Action.RECHARGE,
        Action.REPRINT_RECEIPT,
        Action.OPEN_SHIFT,
        Action.CLOSE_SHIFT,
        Action.ACKNOWLEDGE_ALARM,
    }
)
_OFFICE = _CASHIER | {
    Action.OPEN_ACCOUNT,
    Action.MOVE_ACCOUNT,
    Action.CLOSE_ACCOUNT,
    Action.REFUND,  # with a supervisor's approval
    Action.ADJUST,  # with a supervisor's approval
    Action.VIEW_REPORTS,
}
_SUPERVISOR = _OFFICE | {
    Action.CLOSE_ANY_SHIFT,
    Action.APPROVE,
    Action.CHANGE_TARIFF,
    Action.CHANGE_POLICY,
    Action.SWITCH_RELAY,
    Action.KEEP_POWER,
    Action.RESTORE_LOAD_GUARD,
    Action.SYNC_CLOCK,
    Action.EDIT_LAYOUT,
}
_TECHNICIAN = frozenset(
    {
        Action.SWITCH_RELAY,
        Action.RESTORE_LOAD_GUARD,
        Action.ACKNOWLEDGE_ALARM,
        Action.REPLACE_METER,
        Action.DIAGNOSTICS,
        Action.SYNC_CLOCK,
        Action.EDIT_FIELD,
    }
)

PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.CASHIER: _CASHIER,
    Role.OFFICE: _OFFICE,
    Role.SUPERVISOR: _SUPERVISOR,
    Role.TECHNICIAN: _TECHNICIAN,
    Role.ADMIN: frozenset(Action),
}

_ROLE_NAMES = {
    Role.CASHIER: "a cashier",
    Role.OFFICE: "office staff",
    Role.SUPERVISOR: "a supervisor",
    Role.TECHNICIAN: "a technician",
    Role.ADMIN: "an administrator",
}


class PermissionDenied(PermissionError):
    """The operator's role may not do this; the message says who may."""


def allowed(role: Role, action: Action) -> bool:
    return action in PERMISSIONS[role]


def require(role: Role, action: Action) -> None:
    """Raise ``PermissionDenied`` naming the roles that may do ``action``."""
    if allowed(role, action):
        return
    who = [_ROLE_NAMES[r] for r in Role if allowed(r, action) and r is not Role.ADMIN]
    may = " or ".join(who) if who else "an administrator"
    raise PermissionDenied(
        f"{_ROLE_NAMES[role].capitalize()} may not {action.value}; ask {may} to do it."
    )
