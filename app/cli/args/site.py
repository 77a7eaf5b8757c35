"""``site init|set|show|template|import|export``, ``building ...`` and ``room ...``."""

from __future__ import annotations

import argparse

from app.cli.options import Subparsers, add_user_option, group, lazy

RUN = "app.cli.site_commands"
WORKBOOK = "app.cli.workbook_commands"


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    site_sub = group(sub, "site", "the site: set it up, change it, import or export a workbook")
    init = site_sub.add_parser(
        "init",
        parents=[common],
        help="set up the site of an empty database (administrators)",
        description="Set up the site. On an empty data folder this creates the database; "
        "the administrator comes first ('main.py operator first-admin').",
    )
    init.add_argument("--name", required=True, metavar="NAME", help="e.g. 'North Dormitories'")
    init.add_argument("--timezone", required=True, metavar="ZONE", help="e.g. Asia/Shanghai")
    init.add_argument("--currency", required=True, metavar="CODE", help="e.g. CNY (ISO 4217)")
    init.add_argument("--address", metavar="TEXT")
    init.add_argument(
        "--receipt-header",
        metavar="TEXT",
        help="lines at the top of every receipt (\\n: a new line)",
    )
    add_user_option(init)
    init.set_defaults(handler=lazy(RUN, "cmd_init"))
    change = site_sub.add_parser("set", parents=[common], help="change the site's details")
    change.add_argument("--name", metavar="NAME")
    change.add_argument("--timezone", metavar="ZONE")
    change.add_argument("--currency", metavar="CODE", help="only while no money has moved")
    change.add_argument("--address", metavar="TEXT")
    change.add_argument("--receipt-header", metavar="TEXT")
    add_user_option(change)
    change.set_defaults(handler=lazy(RUN, "cmd_set"))
    show = site_sub.add_parser("show", parents=[common], help="the site's details")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=lazy(RUN, "cmd_show"))

    template = site_sub.add_parser(
        "template",
        parents=[common],
        help="write an empty site workbook (.xlsx, or a folder of .csv files)",
    )
    template.add_argument("file", metavar="FILE")
    template.set_defaults(handler=lazy(WORKBOOK, "cmd_template"))
    imp = site_sub.add_parser(
        "import",
        parents=[common],
        help="add and change rooms, buses, meters and tenants from a workbook (all or nothing)",
        description="Read a site workbook (.xlsx, or a folder of rooms.csv, buses.csv, "
        "meters.csv, tenants.csv) and apply it in one transaction. Every problem is named by "
        "sheet, row and column and nothing is written; importing the same file twice changes "
        "nothing.",
    )
    imp.add_argument("file", metavar="FILE")
    imp.add_argument(
        "--dry-run", action="store_true", help="list what would be added and changed; write nothing"
    )
    imp.add_argument("--json", action="store_true", help="print the plan as one JSON object")
    imp.add_argument("--user", metavar="NAME", help="the operator (not needed with --dry-run)")
    imp.set_defaults(handler=lazy(WORKBOOK, "cmd_import"))
    exp = site_sub.add_parser(
        "export", parents=[common], help="write the site as a workbook, in the import's form"
    )
    exp.add_argument("file", metavar="FILE")
    exp.set_defaults(handler=lazy(WORKBOOK, "cmd_export"))

    building_sub = group(sub, "building", "the site's buildings")
    add = building_sub.add_parser("add", parents=[common], help="add a building")
    add.add_argument("--name", required=True, metavar="NAME", help="e.g. 'Block 7'")
    add.add_argument("--code", metavar="CODE", help="starts room labels (default from the name)")
    add_user_option(add)
    add.set_defaults(handler=lazy(RUN, "cmd_building_add"))
    rename = building_sub.add_parser(
        "rename", parents=[common], help="a new name or code (a new code relabels its rooms)"
    )
    rename.add_argument("--building", required=True, metavar="NAME")
    rename.add_argument("--name", metavar="NAME")
    rename.add_argument("--code", metavar="CODE")
    add_user_option(rename)
    rename.set_defaults(handler=lazy(RUN, "cmd_building_rename"))
    retire = building_sub.add_parser(
        "retire", parents=[common], help="retire a building (kept with its history)"
    )
    retire.add_argument("--building", required=True, metavar="NAME")
    add_user_option(retire)
    retire.set_defaults(handler=lazy(RUN, "cmd_building_retire"))
    blist = building_sub.add_parser("list", parents=[common], help="the buildings")
    blist.add_argument("--all", action="store_true", help="retired ones too")
    blist.add_argument("--json", action="store_true")
    blist.set_defaults(handler=lazy(RUN, "cmd_building_list"))

    room_sub = group(sub, "room", "the rooms of the buildings")
    radd = room_sub.add_parser("add", parents=[common], help="add one room")
    radd.add_argument("--building", required=True, metavar="NAME")
    radd.add_argument("--floor", required=True, metavar="N")
    radd.add_argument("--room", required=True, metavar="NUMBER", help="e.g. 305")
    radd.add_argument("--note", metavar="TEXT")
    add_user_option(radd)
    radd.set_defaults(handler=lazy(RUN, "cmd_room_add"))
    gen = room_sub.add_parser(
        "generate",
        parents=[common],
        help="add whole floors of rooms: --floors 1-6 --rooms 01-20 gives 101..620",
    )
    gen.add_argument("--building", required=True, metavar="NAME")
    gen.add_argument("--floors", required=True, metavar="RANGE", help="e.g. 1-6")
    gen.add_argument(
        "--rooms", required=True, metavar="RANGE", help="per floor, as wide as typed: 01-20"
    )
    gen.add_argument("--dry-run", action="store_true", help="list the rooms; add nothing")
    gen.add_argument("--user", metavar="NAME", help="the operator (not needed with --dry-run)")
    gen.set_defaults(handler=lazy(RUN, "cmd_room_generate"))
    rchange = room_sub.add_parser("change", parents=[common], help="a room's number, floor or note")
    rchange.add_argument("--room", required=True, metavar="LABEL", help="e.g. 7-305")
    rchange.add_argument("--number", metavar="NUMBER")
    rchange.add_argument("--floor", metavar="N")
    rchange.add_argument("--note", metavar="TEXT")
    add_user_option(rchange)
    rchange.set_defaults(handler=lazy(RUN, "cmd_room_change"))
    rretire = room_sub.add_parser(
        "retire", parents=[common], help="retire a room (kept with its history)"
    )
    rretire.add_argument("--room", required=True, metavar="LABEL")
    add_user_option(rretire)
    rretire.set_defaults(handler=lazy(RUN, "cmd_room_retire"))
    rlist = room_sub.add_parser("list", parents=[common], help="the rooms")
    rlist.add_argument("--building", metavar="NAME")
    rlist.add_argument("--all", action="store_true", help="retired ones too")
    rlist.add_argument("--json", action="store_true")
    rlist.set_defaults(handler=lazy(RUN, "cmd_room_list"))
