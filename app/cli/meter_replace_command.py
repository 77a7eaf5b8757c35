"""``meter replace``: record that a technician swapped a meter for a new one.

The old meter's final reading and the new meter's initial reading are stored at the time of the
swap (``--at``, default now; a time without offset is site-local), so usage up to the swap is
billed on the old meter and usage after it on the new one.

Exit codes: 0 recorded; 1 refused (the message says what is wrong, nothing was written);
2 bad usage (a reading or time that cannot be read); 3-9 database problems (``app.store.errors``);
16 not signed in, or not allowed (technicians and administrators replace meters).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cli.args.field import RUNNING_NOTE
from app.cli.auth import DENIED, signed_in
from app.cli.context import fail, run_on_database
from app.input_limits import MAX_DECIMAL_DIGITS, date_in_range, date_range_text
from app.queries.site_facts import site_zone
from app.services.meter_replacement import (
    Replacement,
    ReplacementRefused,
    format_units,
    replace_meter_as,
)
from app.services.permissions import Action
from app.store.database import Database
from app.store.errors import StoreError
from app.store.migrate import require_current
from app.store.models import Bus, Meter
from app.vocabulary import ExitCode


class _BadUsage(ValueError):
    """An option that cannot be read (exit 2)."""


def _reading(text: str, option: str) -> Decimal:
    digits = sum(char.isdigit() for char in text)
    if digits > MAX_DECIMAL_DIGITS:
        raise _BadUsage(
            f"{option}: {digits} digits is more than a register holds; give the reading like "
            "1234.56, as the meter's display shows it."
        )
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise _BadUsage(f"{option}: {text!r} is not a number; give the reading like 1234.56.")
    return value


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _BadUsage(
            f"--at: {text!r} is not an ISO 8601 time; give e.g. 2026-11-27T10:30."
        ) from None
    if not date_in_range(moment):  # 0001-01-01 in a zone east of UTC is before year 1
        raise _BadUsage(
            f"--at: {text.strip()} is out of range; give the time the meters were swapped, "
            f"{date_range_text()}."
        )
    return moment


def _site_zone(session: Session) -> tuple[ZoneInfo | None, str]:
    """The site's time zone, or None and why not."""
    try:
        zone = site_zone(session)
    except ZoneInfoNotFoundError as exc:
        return None, f"The site's time zone {exc.args[0]!r} is unknown to this computer"
    if zone is None:
        return None, "The database has no site, so a time without offset cannot be placed"
    return zone, ""


def cmd_replace(args: argparse.Namespace) -> int:
    try:
        final = _reading(args.final, "--final")
        initial = _reading(args.initial, "--initial")
        at = _time(args.at)
    except _BadUsage as exc:
        return fail(str(exc), ExitCode.USAGE)

    def work(db: Database) -> tuple[Replacement, str, ZoneInfo | None]:
        require_current(db)
        who = signed_in(db, args.user, Action.REPLACE_METER)
        with db.transaction() as session:
            zone, why_not = _site_zone(session)
            when = datetime.now(UTC) if at is None else at
            if when.tzinfo is None:
                if zone is None:
                    raise ReplacementRefused(
                        f"{why_not}; give --at with an offset, e.g. 2026-11-27T10:30+08:00."
                    )
                when = when.replace(tzinfo=zone)
            done = replace_meter_as(
                session,
                who,
                args.meter,
                final_reading=final,
                new_serial=args.new_serial,
                new_address=args.new_address,
                initial_reading=initial,
                at=when,
                new_profile=args.profile,
            )
            bus_name = session.scalar(
                select(Bus.name)
                .join(Meter, Meter.bus_id == Bus.id)
                .where(Meter.id == done.new_meter_id)
            )
            return done, bus_name or "?", zone

    try:
        _, (done, bus_name, zone) = run_on_database(args, work)
    except StoreError as exc:
        return fail(str(exc), exc.exit_code)
    except DENIED as exc:
        return fail(str(exc), ExitCode.DENIED)
    except ReplacementRefused as exc:
        return fail(f"{exc} Nothing was recorded.", ExitCode.REFUSED)
    shown = done.at.astimezone(zone) if zone is not None else done.at
    where = f" ({zone.key})" if zone is not None else ""
    print(
        f"Meter {done.old_serial} replaced by {done.new_serial} at "
        f"{shown.isoformat(sep=' ', timespec='seconds')}{where}."
    )
    print(
        f"  old meter {done.old_serial}: final reading "
        f"{format_units(done.final_units, done.utility)}, now removed"
    )
    print(
        f"  new meter {done.new_serial}: initial reading "
        f"{format_units(done.initial_units, done.utility)}, address {done.new_address} on "
        f"{bus_name}, profile {done.new_profile}"
    )
    if done.cleared_alarms:
        print(f"  {done.cleared_alarms} open alarm(s) of the old meter cleared")
    print(RUNNING_NOTE)
    return 0
