"""Which credit region an account's balance is in (DOMAIN.md section 1), with the restore
hysteresis: a cut-off account stays cut off until its balance reaches the close permit."""

from __future__ import annotations

from dataclasses import dataclass

from app.vocabulary import SupplyState


@dataclass(frozen=True, slots=True)
class CreditThresholds:
    """A balance policy's thresholds, in minor units of the site currency."""

    alarm_1_minor: int
    alarm_2_minor: int
    overdraft_limit_minor: int = 0  # how far below zero supply continues
    close_permit_minor: int = 0  # balance a cut-off account needs before supply returns


def credit_region(
    balance_minor: int, limits: CreditThresholds, previous: SupplyState | None = None
) -> SupplyState:
    """The region for ``balance_minor``; ``previous`` gives cut-off accounts their hysteresis."""
    if previous is SupplyState.CUT_OFF and balance_minor < limits.close_permit_minor:
        return SupplyState.CUT_OFF
    if balance_minor > limits.alarm_1_minor:
        return SupplyState.NORMAL
    if balance_minor > limits.alarm_2_minor:
        return SupplyState.ALARM_1
    if balance_minor > 0:
        return SupplyState.ALARM_2
    if limits.overdraft_limit_minor > 0 and balance_minor > -limits.overdraft_limit_minor:
        return SupplyState.ZERO if balance_minor == 0 else SupplyState.OVERDRAFT
    return SupplyState.CUT_OFF
