"""The meter as a notice channel: a driver that can make its meter show an alarm to the tenant
(buzzer, alarm LED, a "recharge" display), and what came of asking.

Only profiles with an ``[alarm]`` table (``Profile.shows_alarm``) are asked; today that is the
DL/T 645-2007 relay control command 1C with N1 2A (alarm) / 2B (alarm released). The bus worker
runs the command ahead of polling (``BusWorker.show_alarm``) and resolves an ``AlarmResult``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from app.hardware.link import Link


@runtime_checkable
class AlarmDriver(Protocol):
    """A driver whose meters can be told to show an alarm and to release it."""

    def show_alarm(self, link: Link, address: str, on: bool) -> None:
        """Send the alarm on/off command; returns once the meter acknowledged it. Raises
        CommandRefused if the meter (or the profile) says no, another FieldFault on the wire."""
        ...


@dataclass(frozen=True)
class AlarmResult:
    """What became of one alarm command on the wire. ``acknowledged``: the meter answered it
    without an error (a meter has no status word that reads the alarm back)."""

    address: str
    requested_on: bool
    acknowledged: bool
    attempts: int
    error: str = ""
    line_down: bool = False  # the port could not be opened or failed: the meter was not asked
