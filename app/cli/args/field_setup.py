"""``bus add|change|retire|list|ports|test`` and ``meter add|change|retire|list|incomer``: the
site's buses and meters (the wire tools ``bus scan``, ``meter read|relay|replace`` sit beside
them)."""

from __future__ import annotations

import argparse

from app.cli.options import Subparsers, add_user_option, lazy

RUN = "app.cli.field_setup_commands"


def _line(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--baud", metavar="N", help="default: the profile's")
    parser.add_argument("--parity", metavar="N|E|O", help="default: the profile's")
    parser.add_argument("--stopbits", metavar="1|2")
    parser.add_argument("--timeout-ms", metavar="MS", help="reply timeout (default: the profile's)")
    parser.add_argument("--retries", metavar="N", help="extra tries of a failed request")


def register_bus(bus_sub: Subparsers, common: argparse.ArgumentParser) -> None:
    add = bus_sub.add_parser("add", parents=[common], help="add a bus (technicians, admins)")
    add.add_argument("--name", required=True, metavar="NAME", help="e.g. 'Block 7 meters'")
    add.add_argument(
        "--port",
        required=True,
        metavar="PORT",
        help="/dev/ttyUSB0, COM3, socket://host:port, rfc2217://host:port, modbus-tcp://host:502",
    )
    add.add_argument("--profile", required=True, metavar="NAME", help="its meters' profile")
    _line(add)
    add.add_argument("--disabled", action="store_true", help="add it without polling it yet")
    add_user_option(add)
    add.set_defaults(handler=lazy(RUN, "cmd_bus_add"))
    change = bus_sub.add_parser("change", parents=[common], help="change a bus")
    change.add_argument("--bus", required=True, metavar="NAME")
    change.add_argument("--name", metavar="NAME", help="a new name")
    change.add_argument("--port", metavar="PORT")
    change.add_argument("--profile", metavar="NAME")
    _line(change)
    state = change.add_mutually_exclusive_group()
    state.add_argument("--enable", action="store_true", help="poll it")
    state.add_argument("--disable", action="store_true", help="stop polling it")
    add_user_option(change)
    change.set_defaults(handler=lazy(RUN, "cmd_bus_change"))
    retire = bus_sub.add_parser("retire", parents=[common], help="retire a bus with no meters")
    retire.add_argument("--bus", required=True, metavar="NAME")
    add_user_option(retire)
    retire.set_defaults(handler=lazy(RUN, "cmd_bus_retire"))
    listing = bus_sub.add_parser("list", parents=[common], help="the buses")
    listing.add_argument("--all", action="store_true", help="retired ones too")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=lazy(RUN, "cmd_bus_list"))
    ports = bus_sub.add_parser(
        "ports", parents=[common], help="this PC's serial ports (USB-RS485 adapters)"
    )
    ports.add_argument("--json", action="store_true")
    ports.set_defaults(handler=lazy(RUN, "cmd_bus_ports"))
    test = bus_sub.add_parser(
        "test",
        parents=[common],
        help="open a bus's port with its line settings and ask each of its meters once",
    )
    test.add_argument("--bus", required=True, metavar="NAME")
    test.add_argument("--json", action="store_true")
    test.set_defaults(handler=lazy(RUN, "cmd_bus_test"))


def register_meter(meter_sub: Subparsers, common: argparse.ArgumentParser) -> None:
    add = meter_sub.add_parser("add", parents=[common], help="add a meter (technicians, admins)")
    add.add_argument("--serial", required=True, metavar="SERIAL", help="the nameplate number")
    add.add_argument("--bus", required=True, metavar="NAME")
    add.add_argument("--address", required=True, metavar="ADDR")
    add.add_argument("--room", default="", metavar="LABEL", help="e.g. 7-305")
    add.add_argument("--profile", default="", metavar="NAME", help="default: the bus's")
    add.add_argument("--multiplier", default="1", metavar="N", help="CT ratio (default 1)")
    add.add_argument(
        "--initial", default="", metavar="READING", help="the register on its display (kWh, m3)"
    )
    add_user_option(add)
    add.set_defaults(handler=lazy(RUN, "cmd_meter_add"))
    change = meter_sub.add_parser(
        "change", parents=[common], help="rewire a meter, its multiplier, or its room"
    )
    change.add_argument("--meter", required=True, metavar="SERIAL")
    change.add_argument("--bus", metavar="NAME")
    change.add_argument("--address", metavar="ADDR")
    change.add_argument("--profile", metavar="NAME")
    change.add_argument("--room", metavar="LABEL", help="'' takes it out of its room")
    change.add_argument("--multiplier", metavar="N")
    add_user_option(change)
    change.set_defaults(handler=lazy(RUN, "cmd_meter_change"))
    retire = meter_sub.add_parser("retire", parents=[common], help="take a meter out of service")
    retire.add_argument("--meter", required=True, metavar="SERIAL")
    retire.add_argument("--final", default="", metavar="READING", help="its last register")
    add_user_option(retire)
    retire.set_defaults(handler=lazy(RUN, "cmd_meter_retire"))
    listing = meter_sub.add_parser("list", parents=[common], help="the meters")
    listing.add_argument("--bus", metavar="NAME")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=lazy(RUN, "cmd_meter_list"))
    incomer = meter_sub.add_parser(
        "incomer",
        parents=[common],
        help="mark a meter as a building's incomer (master meter), or --clear it",
        description="Mark a meter in service, in no room and with no account, as the incomer "
        "of a building: polled and stored like any meter, billed to nobody, left out of the "
        "rooms' energy, and set against the sum of the rooms by 'main.py report loss'. "
        "Technicians and administrators may.",
    )
    incomer.add_argument("--meter", required=True, metavar="SERIAL")
    which = incomer.add_mutually_exclusive_group(required=True)
    which.add_argument("--building", metavar="NAME|CODE", help="the building it feeds")
    which.add_argument("--clear", action="store_true", help="it is no building's incomer")
    add_user_option(incomer)
    incomer.set_defaults(handler=lazy("app.cli.meter_incomer_command", "cmd_meter_incomer"))
