"""Technician commands on the wire: ``meter read``, ``meter relay``, ``bus scan``, ``simulate``.

These need no database (``meter replace``, which records a meter swap in the database, lives in
``app.cli.meter_replace_command`` and is registered here next to its siblings). Line settings
default to the profile's and can be overridden.
Exit codes: 0 done; 2 bad usage or address; 10 unknown or bad profile; 11 port cannot be
opened; 12 no reply (timeout); 13 the meter refused the command; 14 the state did not change
(not verified); 15 garbled reply (CRC/checksum or frame error).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from types import FrameType

from app.cli import meter_replace_command
from app.cli.args import field_setup
from app.cli.auth import DENIED, signed_in
from app.cli.context import fail, run_on_database
from app.cli.options import add_user_option
from app.hardware.addresses import address_problem, parse_addresses
from app.hardware.bus_worker import BusMeter, BusWorker
from app.hardware.discovery import ScanHit
from app.hardware.errors import PortUnavailable, ProfileError
from app.hardware.link import LineSettings
from app.hardware.profiles import Profile, available_profiles, load_profile
from app.hardware.service_worker import open_service_worker
from app.hardware.snapshot import Quality
from app.hardware.transport import open_link
from app.services.audit import record_audit
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.store.database import Database
from app.store.errors import StoreError
from app.store.migrate import require_current
from app.vocabulary import ExitCode

WAIT_S = 60.0
SCAN_WAIT_S = 3600.0  # the longest scan: 247 addresses x the longest timeout, or a search


def line_options(parser: argparse.ArgumentParser, *, address: bool = True) -> None:
    parser.add_argument(
        "--port",
        required=True,
        metavar="URL",
        help="/dev/ttyUSB0, COM3, socket://host:port, rfc2217://host:port, "
        "modbus-tcp://host:502 or sim://NAME",
    )
    parser.add_argument(
        "--profile",
        required=True,
        metavar="NAME",
        help="meter profile: " + ", ".join(available_profiles()),
    )
    parser.add_argument("--baud", type=int, help="baud rate (default: the profile's)")
    parser.add_argument("--parity", choices=["N", "E", "O"], help="parity (default: profile's)")
    parser.add_argument("--stopbits", type=int, choices=[1, 2], help="stop bits")
    parser.add_argument("--timeout-ms", type=int, help="reply timeout in ms")
    if address:
        parser.add_argument(
            "--address",
            required=True,
            help="Modbus unit 1-247, DL/T 645 12 digits, CJ/T 188 14 digits",
        )


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    meter = sub.add_parser(
        "meter", help="read or switch one meter on the wire, or record a meter swap"
    )
    meter_sub = meter.add_subparsers(title="meter commands", metavar="COMMAND", required=True)
    read = meter_sub.add_parser("read", help="one reading")
    line_options(read)
    read.add_argument("--json", action="store_true", help="print one JSON object")
    read.set_defaults(handler=cmd_read)
    relay = meter_sub.add_parser(
        "relay",
        parents=[common],
        help="switch the relay or valve and read it back (technicians and supervisors)",
        description="Switch a meter's relay or valve on the wire and read it back. Only an "
        "operator allowed to switch relays may: --user is checked against the site database "
        "(--data-dir / --db) and the switch is written to its audit trail.",
    )
    line_options(relay)
    relay.add_argument("state", choices=["on", "off"])
    add_user_option(relay)
    relay.set_defaults(handler=cmd_relay)
    meter_replace_command.register(meter_sub, common)
    field_setup.register_meter(meter_sub, common)

    bus = sub.add_parser("bus", help="whole-bus tools")
    bus_sub = bus.add_subparsers(title="bus commands", metavar="COMMAND", required=True)
    field_setup.register_bus(bus_sub, common)
    scan = bus_sub.add_parser(
        "scan",
        help="find the meters on a line: address, meter number, register reading and model",
    )
    line_options(scan, address=False)
    scan.add_argument(
        "--addresses",
        help="e.g. 1-247 (default: 1-247 for Modbus; for DL/T 645 and CJ/T 188 a search of "
        "the whole address space with wildcard digits, which finds every meter on the line)",
    )
    scan.add_argument("--json", action="store_true", help="print one JSON object")
    scan.set_defaults(handler=cmd_scan)

    simulate = sub.add_parser("simulate", help="serve simulated meters on a serial port")
    line_options(simulate, address=False)
    simulate.add_argument("--addresses", required=True, help="e.g. 1-32")
    simulate.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="simulated seconds per real second (default 1)",
    )
    simulate.add_argument("--delay-ms", type=int, help="reply delay (default: the profile's)")
    simulate.add_argument("--seed", type=int, default=0, help="random seed of the load model")
    simulate.add_argument(
        "--faults",
        default="",
        metavar="LIST",
        help="wire faults of every meter, e.g. no_reply=0.1,corrupt=0.05,slow_ms=200 (or dead)",
    )
    simulate.set_defaults(handler=cmd_simulate)


def _profile_and_line(args: argparse.Namespace) -> tuple[Profile, LineSettings]:
    profile = load_profile(args.profile)
    line = profile.line
    if args.baud:
        line = replace(line, baudrate=args.baud)
    if args.parity:
        line = replace(line, parity=args.parity)
    if args.stopbits:
        line = replace(line, stopbits=args.stopbits)
    if args.timeout_ms:
        line = replace(line, timeout_s=args.timeout_ms / 1000)
    return profile, line


def _worker(args: argparse.Namespace, address: str | None) -> tuple[BusWorker, Profile]:
    profile, line = _profile_and_line(args)
    meters = [BusMeter(0, address, profile)] if address else []
    return open_service_worker("cli", args.port, line, meters, retries=1), profile


def _open(args: argparse.Namespace, address: str | None) -> tuple[BusWorker, Profile] | int:
    try:
        profile, _ = _profile_and_line(args)
    except ProfileError as exc:
        return fail(str(exc), ExitCode.BAD_PROFILE)
    if address is not None and (problem := address_problem(profile.protocol, address)):
        return fail(problem + ".", 2)
    try:
        return _worker(args, address)
    except PortUnavailable as exc:
        return fail(
            f"{exc}. Check the port name, the cable or the gateway address.",
            ExitCode.PORT_UNAVAILABLE,
        )


def cmd_read(args: argparse.Namespace) -> int:
    opened = _open(args, args.address)
    if isinstance(opened, int):
        return opened
    worker, profile = opened
    try:
        snapshot = worker.read_now(args.address).result(WAIT_S)
        counters = worker.stats.meter(args.address)
    finally:
        worker.stop()
    if snapshot.quality is Quality.FAILED:
        code = (
            ExitCode.NO_REPLY
            if counters.timeouts and not (counters.crc_errors or counters.frame_errors)
            else ExitCode.GARBLED
        )
        if counters.exceptions:
            code = ExitCode.METER_REFUSED
        return fail(f"meter {args.address} on {args.port}: {snapshot.error}.", code)
    values = snapshot.values()
    if profile.supply_kind != "relay":
        values["relay_closed"] = None
    if args.json:
        out = {
            "port": args.port,
            "profile": profile.name,
            "address": args.address,
            "quality": snapshot.quality.value,
            "read_at": snapshot.wall_time.isoformat(),
            **values,
            "status": snapshot.status,
        }
        if snapshot.error:
            out["error"] = snapshot.error
        print(json.dumps(out, default=str))
    else:
        print(f"{profile.title} at {args.address} on {args.port} ({snapshot.quality.value})")
        for name, value in values.items():
            if value is not None:
                print(f"  {name:20s} {value}")
        if snapshot.error:
            print(f"  not read: {snapshot.error}")
    return 0


def cmd_relay(args: argparse.Namespace) -> int:
    try:
        _, who = run_on_database(args, _relay_operator(args.user))
    except StoreError as exc:
        return fail(str(exc), exc.exit_code)
    except DENIED as exc:
        return fail(str(exc), ExitCode.DENIED)
    opened = _open(args, args.address)
    if isinstance(opened, int):
        return opened
    worker, profile = opened
    want = args.state == "on"
    try:
        result = worker.switch_supply(args.address, want).result(WAIT_S)
        counters = worker.stats.meter(args.address)
    finally:
        worker.stop()
    kind = profile.supply_kind or "relay"
    try:
        _audit_switch(args, who, want, result.verified, result.supply_on)
    except StoreError as exc:
        return fail(f"the switch was done but not written to the audit trail: {exc}", exc.exit_code)
    if result.verified:
        state = "closed (supply on)" if result.supply_on else "open (supply off)"
        if kind == "valve":
            state = "open (supply on)" if result.supply_on else "closed (supply off)"
        print(
            f"{kind} of meter {args.address}: {state}, verified by read-back "
            f"after {result.attempts} attempt(s)."
        )
        return 0
    if profile.supply is None:
        return fail(f"{profile.name} has no relay or valve to switch.", ExitCode.METER_REFUSED)
    if counters.exceptions:
        return fail(
            f"meter {args.address} refused the command: {result.error}.", ExitCode.METER_REFUSED
        )
    if result.supply_on is not None:
        return fail(
            f"meter {args.address} accepted the command but its {kind} still reads "
            f"{'on' if result.supply_on else 'off'}.",
            ExitCode.NOT_SWITCHED,
        )
    code = ExitCode.NO_REPLY if counters.timeouts else ExitCode.GARBLED
    return fail(f"meter {args.address} on {args.port}: {result.error}.", code)


def _relay_operator(user: str) -> Callable[[Database], SignedIn]:
    def check(db: Database) -> SignedIn:
        require_current(db)
        return signed_in(db, user, Action.SWITCH_RELAY)

    return check


def _audit_switch(
    args: argparse.Namespace, who: SignedIn, want: bool, verified: bool, on: bool | None
) -> None:
    def write(db: Database) -> None:
        with db.transaction() as session:
            record_audit(
                session,
                who,
                "relay.switch",
                "meter",
                f"{args.port} #{args.address}",
                None,
                {"wanted_on": want, "verified": verified, "reads_on": on},
            )

    run_on_database(args, write)


def cmd_scan(args: argparse.Namespace) -> int:
    opened = _open(args, None)
    if isinstance(opened, int):
        return opened
    worker, profile = opened
    addresses: list[str] | None
    if args.addresses:
        try:
            addresses = parse_addresses(args.addresses)
        except ValueError as exc:
            worker.stop()
            return fail(f"--addresses: {exc}.", 2)
    else:
        addresses = [str(n) for n in range(1, 248)] if profile.protocol == "modbus-rtu" else None
    # The wildcard search does not know its total in advance: it counts the address-space
    # branches settled so far against those known so far (the total grows with collisions).
    what = "scanned" if addresses is not None else "searched branches"

    def progress(done: int, total: int, hits: list[ScanHit]) -> None:
        if not args.json:
            found = sum(hit.ok for hit in hits)
            print(f"\r{what} {done}/{total}, found {found}", end="", file=sys.stderr, flush=True)

    try:
        hits = worker.scan(profile, addresses, progress).result(SCAN_WAIT_S)
    except ValueError as exc:
        return fail(f"--addresses: {exc}.", 2)
    finally:
        worker.stop()
    found = [hit for hit in hits if hit.ok]
    problems = [hit for hit in hits if not hit.ok]
    if args.json:
        out = {
            "port": args.port,
            "profile": profile.name,
            "found": [_hit_json(hit) for hit in found],
            "problems": [{"address": hit.address, "problem": hit.problem} for hit in problems],
        }
        print(json.dumps(out))
        return 0
    print(file=sys.stderr)
    if found:
        print(_scan_table(found))
    for hit in problems:
        print(f"problem at {hit.address}: {hit.problem}")
    summary = f"{len(found)} meter(s) found"
    print(summary + (f", {len(problems)} problem(s)." if problems else "."))
    return 0


def _hit_json(hit: ScanHit) -> dict[str, object]:
    return {
        "address": hit.address,
        "profile": hit.profile,
        "model": hit.model,
        "serial": hit.serial,
        "register": float(hit.register) if hit.register is not None else None,
        "unit": hit.unit,
    }


def _scan_table(hits: list[ScanHit]) -> str:
    """The meters found as an aligned text table: address, serial, register, model."""
    rows = [("address", "serial", "register", "model")]
    for hit in hits:
        register = f"{hit.register} {hit.unit}" if hit.register is not None else "-"
        rows.append((hit.address, hit.serial or "-", register, hit.model))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
        + "  "
        + row[3]
        for row in rows
    )


def cmd_simulate(args: argparse.Namespace) -> int:
    from app.hardware.protocols import protocol_spec
    from app.hardware.simulator.faults import Answerer
    from app.hardware.simulator.server import SimServer
    from app.hardware.simulator.sim_meter import SimClock, SimFaults, SimMeter

    try:
        profile, line = _profile_and_line(args)
    except ProfileError as exc:
        return fail(str(exc), ExitCode.BAD_PROFILE)
    try:
        addresses = parse_addresses(args.addresses)
    except ValueError as exc:
        return fail(f"--addresses: {exc}.", 2)
    for address in addresses:
        if problem := address_problem(profile.protocol, address):
            return fail(problem + ".", 2)
    try:
        faults = SimFaults.parse(args.faults)
    except ValueError as exc:
        return fail(f"--faults: {exc}.", 2)
    try:
        link = open_link(args.port, line)
    except PortUnavailable as exc:
        return fail(f"{exc}.", ExitCode.PORT_UNAVAILABLE)
    clock = SimClock(scale=args.time_scale)
    delay = args.delay_ms / 1000 if args.delay_ms is not None else None
    meters = {
        a: SimMeter(
            a, profile, clock=clock, seed=args.seed, reply_delay_s=delay, faults=replace(faults)
        )
        for a in addresses
    }
    server = SimServer(link.port, line, Answerer(protocol_spec(profile.protocol), meters))
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(
        f"Serving {len(meters)} simulated {profile.name} meter(s) on {args.port} at "
        f"{line.baudrate} {line.bytesize}{line.parity}{line.stopbits}; Ctrl+C stops.",
        flush=True,
    )
    try:
        server.serve(stop)
    finally:
        link.close()
    print(f"Stopped after {server.requests} requests and {server.replies} replies.")
    return 0
