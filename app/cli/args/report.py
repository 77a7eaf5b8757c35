"""``report NAME``."""

from __future__ import annotations

import argparse

from app.cli.options import Subparsers, add_user_option, lazy

REPORT_NAMES = (
    "arrears",
    "revenue",
    "energy",
    "load-safety",
    "loss",
    "notices",
    "meter-health",
)  # services.reports.REPORTS, checked by a test
FORMATS = ("text", "json", "csv", "xlsx", "pdf")


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    report = sub.add_parser(
        "report",
        parents=[common],
        help="a report (arrears, revenue, energy, load-safety, loss, notices, meter-health) as "
        "a table, JSON, CSV, Excel or PDF",
        description="Make a report of the site for a period of whole days in the site's "
        "calendar and a scope (the whole site unless --building, --floor, --room, "
        "--account or --meter). Office staff, supervisors and administrators may.",
    )
    report.add_argument("name", choices=REPORT_NAMES, help="which report")
    report.add_argument(
        "--from", dest="first", metavar="DATE", help="first day, e.g. 2026-11-01 (or --term)"
    )
    report.add_argument("--to", dest="last", metavar="DATE", help="last day (included)")
    report.add_argument(
        "--term",
        metavar="NAME",
        help="instead of --from and --to: one of the site's terms (the 'terms' setting) by "
        "name, 'current' (the term today is in) or 'last' (the latest that has ended)",
    )
    report.add_argument("--building", metavar="NAME", help="a building, by code or name")
    report.add_argument("--floor", type=int, metavar="N", help="a floor of --building")
    report.add_argument("--room", metavar="LABEL", help="one room, e.g. A-305")
    report.add_argument("--account", metavar="NUMBER", help="one account")
    report.add_argument(
        "--meter",
        metavar="SERIAL",
        help="one meter (its room and account; in the reports of meters, that meter alone)",
    )
    report.add_argument(
        "--by",
        choices=(
            "day",
            "method",
            "operator",
            "shift",
            "room",
            "floor",
            "building",
            "month",
            "trip",
            "meter",
            "bus",
        ),
        help="revenue: per day (default), method, operator or shift; energy: per room "
        "(default), floor, building, day or month; load-safety: every trip (default), per room "
        "or building; loss: per building and day (default) or per building; notices: every "
        "notice (default) or per kind; meter-health: per meter (default) or per bus; arrears "
        "has none",
    )
    report.add_argument(
        "--format", choices=FORMATS, default="text", help="how to give it (default: text)"
    )
    report.add_argument("--output", metavar="FILE", help="write it to FILE (xlsx and pdf need one)")
    add_user_option(report)
    report.set_defaults(handler=lazy("app.cli.report_commands", "cmd_report"))
