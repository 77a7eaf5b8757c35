"""A technician's bus diagnostics, database side: the site's buses with their line settings and
meters, who may do which test, and the audit record of each test that changes a meter (relay
test, time sync, raw write).

The tests themselves run on the wire (``app.hardware.bus_diagnostics``); this module only checks
the permission before and writes the audit trail after, one transaction per record.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from app.services.audit import record_audit
from app.services.field_setup import BusSetup, load_field_setup
from app.services.operators import SignedIn
from app.services.permissions import Action, allowed
from app.store.database import Database
from app.vocabulary import Role


class DiagnosticTest(StrEnum):
    """What a technician does on a bus; the audit action is ``diagnostics.<value>``."""

    READ = "read"  # scan, line check, raw read: nothing changes in a meter (not audited)
    RELAY_TEST = "relay_test"
    TIME_SYNC = "time_sync"
    RAW_WRITE = "raw_write"


AUDITED = (DiagnosticTest.RELAY_TEST, DiagnosticTest.TIME_SYNC, DiagnosticTest.RAW_WRITE)


def required_actions(test: DiagnosticTest) -> tuple[Action, ...]:
    """The permissions a test needs: diagnostics, and for a relay test also switching relays."""
    if test is DiagnosticTest.RELAY_TEST:
        return (Action.DIAGNOSTICS, Action.SWITCH_RELAY)
    return (Action.DIAGNOSTICS,)


def missing_action(role: Role, test: DiagnosticTest) -> Action | None:
    """The first permission ``role`` lacks for ``test``; None when it may run it."""
    return next((a for a in required_actions(test) if not allowed(role, a)), None)


def check_diagnostic(who: SignedIn, test: DiagnosticTest) -> None:
    """Raise PermissionDenied (naming who may) unless ``who`` may run ``test``."""
    for action in required_actions(test):
        who.require(action)


def record_diagnostic(
    db: Database,
    who: SignedIn,
    test: DiagnosticTest,
    target_type: str,
    target: str,
    details: Mapping[str, object],
) -> int:
    """Audit one test that was run (whatever its result): who, what, on which bus and meter
    (``target``, e.g. ``"sim://b1 #000000000001"``), and ``details`` (what was asked, what came
    back). Checks the permission again; returns the audit event's number."""
    check_diagnostic(who, test)
    with db.transaction() as session:
        return record_audit(
            session, who, f"diagnostics.{test.value}", target_type, target, None, dict(details)
        )


def site_buses(db: Database) -> list[BusSetup]:
    """The site's enabled buses with their line settings and meters in service, by name."""
    return load_field_setup(db)
