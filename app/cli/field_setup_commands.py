"""``bus add|change|retire|list|ports|test`` and ``meter add|change|retire|list``: the site's
buses and meters from the command line. A running console or ``main.py serve`` takes a change
up within seconds (it watches the field revision). Exit codes as ``app.cli.steps`` says; ``bus
test`` exits 1 when a meter did not answer and 11 when the port cannot be opened."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict

from app.cli.context import fail, run_on_database
from app.cli.steps import print_json, refused_code, refused_text, run_query, run_step
from app.hardware.bus_diagnostics import LineCheck
from app.hardware.errors import PortUnavailable
from app.hardware.ports import list_serial_ports
from app.queries.meters import MeterRow, list_meters
from app.queries.site_layout import BusRow, list_buses
from app.services.bus_setup import BusForm, add_bus, change_bus, retire_bus
from app.services.field_setup import BusSetup
from app.services.line_check import check_bus_line
from app.services.meter_setup import MeterForm, MeterSaved, add_meter, change_meter, retire_meter
from app.services.permissions import Action
from app.services.setup_checks import SetupRefused
from app.store.database import Database
from app.store.errors import StoreError
from app.store.migrate import require_current
from app.vocabulary import ExitCode

LINE_OPTIONS = ("baud", "parity", "stopbits", "timeout_ms", "retries")


def _line_changes(args: argparse.Namespace) -> dict[str, str]:
    """The line settings given, as typed (the service reads them)."""
    return {k: getattr(args, k) for k in LINE_OPTIONS if getattr(args, k, None) is not None}


def cmd_bus_add(args: argparse.Namespace) -> int:
    form = BusForm(
        args.name,
        args.port,
        args.profile,
        **_line_changes(args),
        enabled=not args.disabled,
    )
    return run_step(
        args,
        Action.EDIT_FIELD,
        lambda session, who: add_bus(session, who, form),
        lambda bus: (
            f"Bus {bus.name} added on {bus.url} at {bus.baudrate} 8{bus.parity}"
            f"{bus.stopbits}, profile {bus.profile}"
            + ("" if bus.enabled else " (disabled: not polled)")
            + ". Next: 'main.py bus test', then add its meters or scan it."
        ),
    )


def cmd_bus_change(args: argparse.Namespace) -> int:
    changes: dict[str, object] = {**_line_changes(args)}
    for key in ("name", "port", "profile"):
        if getattr(args, key) is not None:
            changes[key] = getattr(args, key)
    if args.enable or args.disable:
        changes["enabled"] = bool(args.enable)
    if not changes:
        return fail("nothing to change: give what changes (see --help).", ExitCode.USAGE)
    return run_step(
        args,
        Action.EDIT_FIELD,
        lambda session, who: change_bus(session, who, args.bus, **changes),
        lambda bus: (
            f"Bus {bus.name} saved ({bus.url}, {bus.baudrate} 8{bus.parity}"
            f"{bus.stopbits}{'' if bus.enabled else ', disabled'})."
        ),
    )


def cmd_bus_retire(args: argparse.Namespace) -> int:
    return run_step(
        args,
        Action.EDIT_FIELD,
        lambda session, who: retire_bus(session, who, args.bus),
        lambda outcome: f"Bus {args.bus} {outcome}.",
    )


def cmd_bus_list(args: argparse.Namespace) -> int:
    def show(rows: list[BusRow]) -> None:
        if args.json:
            print_json([{**asdict(r), "line": r.line} for r in rows])
            return
        for r in rows:
            state = "retired" if r.retired_at else ("polled" if r.enabled else "disabled")
            print(
                f"{r.name:<24} {r.port:<28} {r.line:<10} {r.profile:<16} "
                f"{r.meters:>4} meters  {state}"
            )

    return run_query(args, lambda db: list_buses(db, retired=args.all), show)


def cmd_bus_ports(args: argparse.Namespace) -> int:
    ports = list_serial_ports()
    if args.json:
        print_json([asdict(p) for p in ports])
    elif not ports:
        print(
            "No serial ports on this PC. Plug in the USB-RS485 adapter, or use a gateway's "
            "socket:// address."
        )
    for port in [] if args.json else ports:
        print(f"{port.device:<20} {port.description}")
    return ExitCode.OK


def cmd_bus_test(args: argparse.Namespace) -> int:
    def work(db: Database) -> tuple[BusSetup, LineCheck]:
        require_current(db)
        return check_bus_line(db, args.bus)

    try:
        _, (setup, check) = run_on_database(args, work)
    except StoreError as exc:
        return fail(str(exc), exc.exit_code)
    except SetupRefused as exc:
        return fail(refused_text(exc), refused_code(exc))
    except PortUnavailable as exc:  # the port stopped working during the test
        return fail(
            f"bus {args.bus}: {exc}. Check the cable, the adapter or the gateway, then test again.",
            ExitCode.PORT_UNAVAILABLE,
        )
    except FutureTimeout:
        return fail(f"bus {args.bus}: the test did not end; test again.", ExitCode.NO_REPLY)
    if args.json:
        print_json({"bus": setup.name, "port": setup.url, **asdict(check)})
    else:
        line = setup.line
        print(f"{setup.name}: {setup.url} opened at {line.baudrate} 8{line.parity}{line.stopbits}.")
        if check.asked == 0:
            print("No meters on this bus yet: add them, or find them with 'main.py bus scan'.")
        else:
            print(
                f"{len(check.answered)} of {check.asked} meters answered; "
                f"{check.timeouts} timeouts, {check.crc_errors} CRC errors, "
                f"{check.frame_errors} frame errors."
            )
        for problem in check.problems:
            print(f"  {problem}")
    return ExitCode.OK if len(check.answered) == check.asked else ExitCode.REFUSED


def _saved(verb: str) -> Callable[[MeterSaved], str]:
    def said(done: MeterSaved) -> str:
        where = f" in room {done.room}" if done.room else " (in no room)"
        paid = f", paid by account {done.account}" if done.account else ""
        lines = [f"Meter {done.serial} {verb}{where}{paid}."]
        lines += [f"warning: {w}" for w in done.warnings]
        return "\n".join(lines)

    return said


def cmd_meter_add(args: argparse.Namespace) -> int:
    form = MeterForm(
        args.serial,
        args.bus,
        args.address,
        room=args.room,
        profile=args.profile,
        multiplier=args.multiplier,
        initial_reading=args.initial,
    )
    return run_step(
        args,
        Action.EDIT_FIELD,
        lambda session, who: add_meter(session, who, form),
        _saved("added"),
    )


def cmd_meter_change(args: argparse.Namespace) -> int:
    return run_step(
        args,
        Action.EDIT_FIELD,
        lambda session, who: change_meter(
            session,
            who,
            args.meter,
            bus=args.bus,
            address=args.address,
            profile=args.profile,
            room=args.room,
            multiplier=args.multiplier,
        ),
        _saved("saved"),
    )


def cmd_meter_retire(args: argparse.Namespace) -> int:
    return run_step(
        args,
        Action.EDIT_FIELD,
        lambda session, who: retire_meter(session, who, args.meter, args.final),
        lambda done: f"Meter {done.serial} retired (kept for its history).",
    )


def cmd_meter_list(args: argparse.Namespace) -> int:
    def show(rows: list[MeterRow]) -> None:
        if args.json:
            print_json([asdict(r) for r in rows])
            return
        for r in rows:
            print(
                f"{r.serial:<16} {r.utility.value:<12} {r.bus_name:<20} {r.address:<14} "
                f"{r.room_label or '-':<10} {r.account_number or '-':<8} {r.status.value}"
            )

    return run_query(args, lambda db: list_meters(db, bus=args.bus or None), show)
