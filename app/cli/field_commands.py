"""Technician commands on the wire: ``meter read``, ``meter relay``, ``bus scan``, ``simulate``.

These need no database, though a port the site's runtime polls is first borrowed from it
(``app.cli.port_borrow``). (``meter replace``, which records a meter swap in the database, lives in
``app.cli.meter_replace_command`` and is registered here next to its siblings). Line settings
default to the profile's and can be overridden.
Exit codes: 0 done; 2 bad usage or address; 10 unknown or bad profile; 11 port cannot be
opened, or stopped working during the command; 12 no reply (timeout); 13 the meter refused the
command; 14 the state did not change (not verified); 15 garbled reply (CRC/checksum or frame
error, or a line that kept talking). Every request is bounded (the reply timeout plus the
longest frame's wire time, per attempt), so every command ends with one of these codes.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import TypeVar

from app.cli.auth import DENIED, require_field, signed_in
from app.cli.context import fail, run_on_database
from app.cli.port_borrow import on_borrowed_port
from app.hardware.addresses import (
    MODBUS_MAX_UNIT,
    address_problem,
    addresses_problem,
    parse_addresses,
)
from app.hardware.bus_scan import ScanProgress
from app.hardware.bus_worker import BusMeter, BusWorker
from app.hardware.discovery import ScanHit
from app.hardware.errors import PortUnavailable, ProfileError
from app.hardware.link import LineSettings
from app.hardware.profiles import Profile, load_profile
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

T = TypeVar("T")

# Beyond a command's own bound (``BusWorker.read_bound_s``...): the thread's start and the
# machine's scheduling. Reached only if something is wrong with MeterDesk itself.
SLACK_S = 10.0
SCAN_WAIT_S = 3600.0  # the longest scan: 247 addresses x the longest timeout, or a search


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


def _outcome(args: argparse.Namespace, future: Future[T], bound_s: float) -> T | int:
    """What the worker's future holds, or the exit code of a port that failed meanwhile (11)
    or of a command not done within its bound (12), each with its message."""
    try:
        return future.result(bound_s + SLACK_S)
    except PortUnavailable as exc:
        return fail(
            f"meter {args.address} on {args.port}: {exc}. Check the cable, the adapter or the "
            "gateway, then try again.",
            ExitCode.PORT_UNAVAILABLE,
        )
    except FutureTimeout:
        return fail(
            f"meter {args.address} on {args.port}: no complete reply within "
            f"{bound_s + SLACK_S:.0f} s. Check the line, then try again.",
            ExitCode.NO_REPLY,
        )


@on_borrowed_port("main.py meter read")
def cmd_read(args: argparse.Namespace) -> int:
    opened = _open(args, args.address)
    if isinstance(opened, int):
        return opened
    worker, profile = opened
    try:
        snapshot = _outcome(args, worker.read_now(args.address), worker.read_bound_s(profile))
        counters = worker.stats.meter(args.address)
    finally:
        worker.stop()
    if isinstance(snapshot, int):
        return snapshot
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


@on_borrowed_port("main.py meter relay")
def cmd_relay(args: argparse.Namespace) -> int:
    try:
        _, who = run_on_database(args, _relay_operator(args))
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
        result = _outcome(args, worker.switch_supply(args.address, want), worker.switch_bound_s())
        counters = worker.stats.meter(args.address)
    finally:
        worker.stop()
    if isinstance(result, int):
        return result
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
    if result.line_down:
        return fail(
            f"meter {args.address} on {args.port}: {result.error}. Check the cable, the adapter "
            "or the gateway, then try again.",
            ExitCode.PORT_UNAVAILABLE,
        )
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


def _relay_operator(args: argparse.Namespace) -> Callable[[Database], SignedIn]:
    """The operator who may switch this meter: signed in on the database of the site the meter
    belongs to (its port and address are one of that site's meters in service)."""

    def check(db: Database) -> SignedIn:
        require_current(db)
        require_field(db, args.port, args.address)
        return signed_in(db, args.user, Action.SWITCH_RELAY)

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


def _scan_progress(args: argparse.Namespace, searching: bool) -> ScanProgress:
    # The wildcard search does not know its total in advance: it counts the address-space
    # branches settled so far against those known so far (the total grows with collisions).
    what = "searched branches" if searching else "scanned"

    def progress(done: int, total: int, hits: list[ScanHit]) -> None:
        if not args.json:
            found = sum(hit.ok for hit in hits)
            print(f"\r{what} {done}/{total}, found {found}", end="", file=sys.stderr, flush=True)

    return progress


def _scan_bus(args: argparse.Namespace) -> tuple[list[ScanHit], str] | int:
    """Scan the site's bus ``--bus`` (through the database's line settings)."""
    from app.cli.steps import refused_code, refused_text
    from app.services.scan_assign import plan_scan, start_scan
    from app.services.setup_checks import SetupRefused

    def work(db: Database) -> tuple[list[ScanHit], str] | int:
        require_current(db)
        plan = plan_scan(db, args.bus, args.addresses or "")
        if plan.addresses is not None and (
            problem := addresses_problem(plan.profile.protocol, plan.addresses)
        ):
            return fail(f"--addresses: {problem}.", ExitCode.USAGE)
        job = start_scan(plan, None, _scan_progress(args, plan.searching), db=db)
        return job.wait(SCAN_WAIT_S), plan.setup.name

    try:
        _, scanned = run_on_database(args, work)
    except StoreError as exc:
        return fail(str(exc), exc.exit_code)
    except SetupRefused as exc:
        return fail(refused_text(exc), refused_code(exc))
    except (PortUnavailable, FutureTimeout) as exc:
        return _scan_failed(args, exc)
    return scanned


def _scan_failed(args: argparse.Namespace, exc: Exception) -> int:
    """The scan's port stopped working (11), or the scan did not end within its bound (12)."""
    print(file=sys.stderr)  # after the progress line
    where = args.bus or args.port
    if isinstance(exc, PortUnavailable):
        return fail(
            f"the scan of {where} stopped: {exc}. Check the cable, the adapter or the gateway, "
            "then scan again.",
            ExitCode.PORT_UNAVAILABLE,
        )
    return fail(
        f"the scan of {where} did not end within {SCAN_WAIT_S:.0f} s; scan fewer addresses.",
        ExitCode.NO_REPLY,
    )


@on_borrowed_port("main.py bus scan")
def _scan_port(args: argparse.Namespace) -> tuple[list[ScanHit], str] | int:
    if not args.port or not args.profile:
        return fail("give --bus NAME, or --port URL with --profile NAME.", ExitCode.USAGE)
    try:
        profile, _ = _profile_and_line(args)
    except ProfileError as exc:
        return fail(str(exc), ExitCode.BAD_PROFILE)
    addresses: list[str] | None = None
    if args.addresses:
        try:
            addresses = parse_addresses(args.addresses)
        except ValueError as exc:
            return fail(f"--addresses: {exc}.", ExitCode.USAGE)
        if problem := addresses_problem(profile.protocol, addresses):
            return fail(f"--addresses: {problem}.", ExitCode.USAGE)
    elif profile.protocol == "modbus-rtu":
        addresses = [str(n) for n in range(1, MODBUS_MAX_UNIT + 1)]
    opened = _open(args, None)
    if isinstance(opened, int):
        return opened
    worker, profile = opened
    progress = _scan_progress(args, addresses is None)
    try:
        hits = worker.scan(profile, addresses, progress).result(SCAN_WAIT_S)
    except ValueError as exc:
        return fail(f"--addresses: {exc}.", ExitCode.USAGE)
    except (PortUnavailable, FutureTimeout) as exc:
        return _scan_failed(args, exc)
    finally:
        worker.stop()
    return hits, ""


def cmd_scan(args: argparse.Namespace) -> int:
    scanned = _scan_bus(args) if args.bus else _scan_port(args)
    if isinstance(scanned, int):
        return scanned
    hits, bus_name = scanned
    found = [hit for hit in hits if hit.ok]
    problems = [hit for hit in hits if not hit.ok]
    if args.save:
        saved = _save_scan(Path(args.save), found, bus_name)
        if saved:
            return saved
    if args.json:
        out = {
            "port": args.port,
            "bus": args.bus,
            "profile": found[0].profile if found else args.profile,
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
    if args.save:
        print(
            f"Wrote them to {args.save}: fill in each meter's serial and room, "
            "then 'main.py site import'."
        )
    return 0


def _save_scan(path: Path, hits: list[ScanHit], bus: str) -> int:
    """The meters found as a workbook's meters sheet (rooms to fill in)."""
    from app.documents.site_workbook import write_workbook
    from app.documents.site_workbook_format import WorkbookError

    rows = []
    for hit in hits:
        profile = load_profile(hit.profile)
        rows.append(
            {
                "serial": hit.serial or "",
                "utility": profile.utility,
                "room": "",
                "bus": bus,
                "address": hit.address,
                "profile": hit.profile,
                "multiplier": "1",
                "initial_reading": "" if hit.register is None else str(hit.register),
            }
        )
    try:
        write_workbook(path, {"meters": rows})
    except WorkbookError as exc:
        return fail("; ".join(str(p) for p in exc.problems), ExitCode.USAGE)
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
    except OSError as exc:  # pyserial's SerialException: the adapter or the pty went away
        return fail(
            f"{args.port} stopped working after {server.requests} requests: {exc}.",
            ExitCode.PORT_UNAVAILABLE,
        )
    finally:
        link.close()
    print(f"Stopped after {server.requests} requests and {server.replies} replies.")
    return 0
