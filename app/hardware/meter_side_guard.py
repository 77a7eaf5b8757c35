"""Meter-side load guard: a meter that detects an overload itself and opens its own relay.

A profile says so in its ``[load_guard]`` table, which maps the console's total-power settings
to parameters the meter keeps (``[modbus.parameters.NAME]``)::

    [load_guard]                       # the meter trips by itself above a power limit
    total_limit_w = "power_limit_w"    # parameter holding the limit, in W
    total_duration_s = "power_limit_s" # parameter holding how long it may be exceeded, in s

The runtime writes those parameters (read back to verify) instead of detecting total-power
overloads from polled values; the increment (heater) mode stays with the console. None of the
shipped profiles has one yet: no public register map of their load-limit parameters was found.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from app.hardware.errors import ProfileError

if TYPE_CHECKING:
    from app.hardware.profiles import Profile

SETTINGS = ("total_limit_w", "total_duration_s")  # what a meter can do itself, both required


def meter_side_guard(profile: Profile) -> Mapping[str, str] | None:
    """Setting -> parameter name of a profile whose meters detect overloads themselves."""
    if profile.load_guard is None:
        return None
    return {key: str(value) for key, value in profile.load_guard.items()}


def check_meter_side_guard(profile: Profile, parameters: set[str]) -> None:
    """ProfileError unless ``[load_guard]`` maps exactly ``SETTINGS`` to known parameters."""
    table = profile.load_guard
    if table is None:
        return
    name = profile.path.name or profile.name
    for key in table:
        if key not in SETTINGS:
            raise ProfileError(f"{name}: load_guard.{key}: unknown; use {', '.join(SETTINGS)}")
    for key in SETTINGS:
        value = table.get(key)
        if not isinstance(value, str) or value not in parameters:
            known = ", ".join(sorted(parameters)) or "none"
            raise ProfileError(
                f"{name}: load_guard.{key}: must name a meter parameter of this profile "
                f"(known: {known}), not {value!r}"
            )
