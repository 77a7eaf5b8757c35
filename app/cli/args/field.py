"""``meter read|relay|replace|add|change|retire|list``, ``bus scan|add|change|retire|list|
ports|test`` and ``simulate``: the field side's commands."""

from __future__ import annotations

import argparse

from app.cli.args import field_setup
from app.cli.args.bounded import baud_rate, milliseconds, reply_timeout_ms, time_scale
from app.cli.options import Subparsers, add_user_option, lazy
from app.input_limits import TIMEOUT_HIGH_MS
from app.resources import resource_path

RUN = "app.cli.field_commands"
RUNNING_NOTE = (
    "A console or 'main.py serve' that is running starts polling the new meter within seconds "
    "and stops polling the old one."
)


def profile_names() -> list[str]:
    """The shipped meter profiles (their files), without loading them."""
    return sorted(path.stem for path in resource_path("meters").glob("*.toml"))


def _line_settings(parser: argparse.ArgumentParser) -> None:
    """--baud, --parity, --stopbits and --timeout-ms: each the profile's unless given."""
    parser.add_argument(
        "--baud", type=baud_rate, help="baud rate, 1200 to 115200 (default: the profile's)"
    )
    parser.add_argument("--parity", choices=["N", "E", "O"], help="parity (default: profile's)")
    parser.add_argument("--stopbits", type=int, choices=[1, 2], help="stop bits")
    parser.add_argument(
        "--timeout-ms",
        type=reply_timeout_ms,
        metavar="MS",
        help="reply timeout, 50 to 10000 ms (default: the profile's)",
    )


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
        help="meter profile: " + ", ".join(profile_names()),
    )
    _line_settings(parser)
    if address:
        parser.add_argument(
            "--address",
            required=True,
            help="Modbus unit 1-247, DL/T 645 12 digits, CJ/T 188 14 digits",
        )


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    meter = sub.add_parser(
        "meter", help="read or switch one meter on the wire, or record a meter swap"
    )
    meter_sub = meter.add_subparsers(title="meter commands", metavar="COMMAND", required=True)
    read = meter_sub.add_parser("read", parents=[common], help="one reading")
    line_options(read)
    read.add_argument("--json", action="store_true", help="print one JSON object")
    read.set_defaults(handler=lazy(RUN, "cmd_read"))
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
    relay.set_defaults(handler=lazy(RUN, "cmd_relay"))
    register_replace(meter_sub, common)
    field_setup.register_meter(meter_sub, common)

    bus = sub.add_parser("bus", help="whole-bus tools")
    bus_sub = bus.add_subparsers(title="bus commands", metavar="COMMAND", required=True)
    field_setup.register_bus(bus_sub, common)
    scan = bus_sub.add_parser(
        "scan",
        parents=[common],
        help="find the meters on a line: address, meter number, register reading and model",
        description="Scan one of the site's buses (--bus; its port, line settings and profile "
        "come from the database) or any port (--port and --profile). --save writes what "
        "answered as the meters sheet of a site workbook: fill in the rooms (and serials the "
        "meters cannot tell), then 'main.py site import' it.",
    )
    scan.add_argument("--bus", metavar="NAME", help="a bus of the site")
    scan.add_argument("--port", metavar="URL", help="any port (with --profile)")
    scan.add_argument(
        "--profile", metavar="NAME", help="meter profile: " + ", ".join(profile_names())
    )
    _line_settings(scan)
    scan.add_argument(
        "--addresses",
        help="e.g. 1-247 (default: 1-247 for Modbus; for DL/T 645 and CJ/T 188 a search of "
        "the whole address space with wildcard digits, which finds every meter on the line)",
    )
    scan.add_argument("--json", action="store_true", help="print one JSON object")
    scan.add_argument(
        "--save", metavar="FILE", help="write the meters found as a workbook (.xlsx or a folder)"
    )
    scan.set_defaults(handler=lazy(RUN, "cmd_scan"))

    simulate = sub.add_parser(
        "simulate", parents=[common], help="serve simulated meters on a serial port"
    )
    line_options(simulate, address=False)
    simulate.add_argument("--addresses", required=True, help="e.g. 1-32")
    simulate.add_argument(
        "--time-scale",
        type=time_scale,
        default=1.0,
        help="simulated seconds per real second, above 0 and at most 1000000 (default 1)",
    )
    simulate.add_argument(
        "--delay-ms",
        type=milliseconds(0, TIMEOUT_HIGH_MS),
        metavar="MS",
        help="reply delay, 0 to 10000 ms (default: the profile's)",
    )
    simulate.add_argument("--seed", type=int, default=0, help="random seed of the load model")
    simulate.add_argument(
        "--faults",
        default="",
        metavar="LIST",
        help="wire faults of every meter, e.g. no_reply=0.1,corrupt=0.05,slow_ms=200 (or dead)",
    )
    simulate.set_defaults(handler=lazy(RUN, "cmd_simulate"))


def register_replace(meter_sub: Subparsers, common: argparse.ArgumentParser) -> None:
    replace = meter_sub.add_parser(
        "replace",
        parents=[common],
        help="record a meter swap: the old meter's final and the new meter's initial reading",
        description="Record that a meter was swapped: the old meter's final reading and the new "
        "meter's initial reading at the time of the swap. The old meter is marked removed; the "
        "new one takes its bus, room, account, multiplier and rating. Readings are in kWh "
        "(electricity) or m3 (water, gas), at most 3 decimals.",
        epilog=RUNNING_NOTE,
    )
    replace.add_argument("--meter", required=True, metavar="SERIAL", help="the old meter's serial")
    replace.add_argument(
        "--final", required=True, metavar="READING", help="the old meter's final reading"
    )
    replace.add_argument(
        "--new-serial", required=True, metavar="SERIAL", help="the new meter's nameplate serial"
    )
    replace.add_argument(
        "--new-address",
        required=True,
        metavar="ADDR",
        help="the new meter's bus address (Modbus 1-247, DL/T 645 12 digits, CJ/T 188 14 digits)",
    )
    replace.add_argument(
        "--initial", required=True, metavar="READING", help="the new meter's initial reading"
    )
    replace.add_argument(
        "--at",
        metavar="TIME",
        help="when the meters were swapped, ISO 8601, e.g. 2026-11-27T10:30 (site-local) or "
        "2026-11-27T02:30Z (default: now)",
    )
    replace.add_argument(
        "--profile", metavar="NAME", help="the new meter's profile (default: the old meter's)"
    )
    add_user_option(replace)
    replace.set_defaults(handler=lazy("app.cli.meter_replace_command", "cmd_replace"))
