"""The permission table: what each role may do, and the message when it may not."""

from __future__ import annotations

import pytest

from app.services.permissions import PERMISSIONS, Action, PermissionDenied, allowed, require
from app.vocabulary import Role


@pytest.mark.parametrize(
    "action", [Action.REFUND, Action.ADJUST, Action.CHANGE_TARIFF, Action.SWITCH_RELAY]
)
def test_a_cashier_cannot_refund_change_a_tariff_or_switch_a_relay(action: Action) -> None:
    assert not allowed(Role.CASHIER, action)
    with pytest.raises(PermissionDenied, match="A cashier may not"):
        require(Role.CASHIER, action)


def test_the_refusal_names_who_may() -> None:
    with pytest.raises(PermissionDenied) as refused:
        require(Role.CASHIER, Action.REFUND)
    assert str(refused.value) == (
        "A cashier may not refund; ask office staff or a supervisor to do it."
    )
    with pytest.raises(PermissionDenied) as refused:
        require(Role.OFFICE, Action.APPROVE)
    assert str(refused.value) == (
        "Office staff may not approve refunds and adjustments; ask a supervisor to do it."
    )


def test_roles_build_on_each_other_and_technicians_never_touch_money() -> None:
    assert PERMISSIONS[Role.CASHIER] < PERMISSIONS[Role.OFFICE] < PERMISSIONS[Role.SUPERVISOR]
    assert PERMISSIONS[Role.ADMIN] == frozenset(Action)
    money = {Action.RECHARGE, Action.REFUND, Action.ADJUST, Action.APPROVE}
    assert not money & PERMISSIONS[Role.TECHNICIAN]
    assert allowed(Role.TECHNICIAN, Action.DIAGNOSTICS)
    assert not allowed(Role.SUPERVISOR, Action.MANAGE_OPERATORS)
    require(Role.SUPERVISOR, Action.APPROVE)  # allowed: no exception
