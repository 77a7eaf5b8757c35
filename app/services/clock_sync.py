"""The database side of an operator's clock sync of one meter (the Meter detail's *Sync
clock…*): runs inside the engine's transaction (``app.runtime.operator_commands``), checks the
operator's row (still active, allowed to sync clocks), the reason and the meter (in service, of a
profile whose meters keep a clock), records who asked and audits it. The command itself is
recorded and sent by ``send`` (``app.runtime.clock_sync.record_command``); the drift read before
and after lands on its row when the bus's owner has carried it out.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.hardware.errors import ProfileError
from app.hardware.profiles import load_profile
from app.services.audit import record_audit
from app.services.meter_actions import (
    MeterActionRefused,
    Send,
    acting_operator,
    check_reason,
    meter_in_service,
    requested_by,
)
from app.services.permissions import Action


@dataclass(frozen=True)
class ClockSyncRecord:
    meter_id: int
    serial: str
    command_id: int
    sent: bool  # False: no running bus serves the meter (the command is recorded as failed)
    audit_number: int


def record_clock_sync(
    session: Session, operator_id: int, meter_id: int, reason: str, send: Send
) -> ClockSyncRecord:
    """Check and record an operator's clock sync of the meter; ``send`` records the command
    and hands it to the bus. Raises PermissionDenied or MeterActionRefused (nothing written)."""
    who = acting_operator(session, operator_id, Action.SYNC_CLOCK)
    why = check_reason(reason, what="why the clock is set")
    meter = meter_in_service(session, meter_id, done="synced")
    try:
        profile = load_profile(meter.profile)
    except ProfileError as exc:
        raise MeterActionRefused(
            "meter", f"Meter {meter.serial}'s profile cannot be read ({exc}); fix it first."
        ) from None
    if not profile.keeps_clock:
        raise MeterActionRefused(
            "meter", f"Meter {meter.serial} ({profile.title}) keeps no clock to set."
        )
    command_id = send(f"Clock sync by {who.display_name}: {why}")
    sent = command_id is not None
    command_id = requested_by(session, meter.id, command_id, who.operator_id)
    number = record_audit(
        session,
        who,
        "meter.clock_sync",
        "meter",
        meter.serial,
        None,
        {"reason": why, "command_id": command_id, "sent": sent},
    )
    return ClockSyncRecord(meter.id, meter.serial, command_id, sent, number)
