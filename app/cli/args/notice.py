"""``notice test``, ``notice template list|set``."""

from __future__ import annotations

import argparse

from app.cli.options import Subparsers, add_user_option, group, lazy


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    notice_sub = group(sub, "notice", "text messages to tenants through the site's GSM modem")
    test = notice_sub.add_parser(
        "test",
        parents=[common],
        help="send one text message through the modem and say what it answered",
        description="Open the SMS modem set in the settings (sms_port, sms_baud), say its maker, "
        "model, signal and SIM state, and send one message. Those who may change the "
        "settings may; it is audited.",
    )
    test.add_argument("--to", required=True, metavar="PHONE", help="e.g. +8613800138000")
    test.add_argument("--text", required=True, metavar="TEXT", help="the message (any language)")
    add_user_option(test)
    test.set_defaults(handler=lazy("app.cli.notice_commands", "cmd_notice_test"))

    template = notice_sub.add_parser(
        "template",
        parents=[common],
        help="the wording of each text message to tenants, in English and Chinese",
        description="Without --set: every notice's wording in each language, the site's own "
        "or the one MeterDesk ships. With KIND --language LANG and --text, --off or --default: "
        "keep the site's own wording, send no such notice in that language, or go back to the "
        "shipped wording (those who may change the settings; audited). Placeholders in braces "
        "are filled in: {site} {account} {name} {room} {balance}; a recharge also {amount} "
        "{time} {receipt}; a load-guard trip {time} {power}.",
    )
    template.add_argument(
        "kind",
        nargs="?",
        metavar="KIND",
        help="low_balance_1, low_balance_2, cut_off, recharge, restored or load_trip",
    )
    template.add_argument("--language", metavar="LANG", help="en or zh")
    wording = template.add_mutually_exclusive_group()
    wording.add_argument("--text", metavar="TEXT", help="the new wording")
    wording.add_argument("--off", action="store_true", help="send no such notice in LANG")
    wording.add_argument("--default", action="store_true", help="back to the shipped wording")
    template.add_argument(
        "--user", metavar="NAME", help="to change a wording: the operator doing it"
    )
    template.set_defaults(handler=lazy("app.cli.notice_commands", "cmd_notice_template"))
