"""``notice test``."""

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
