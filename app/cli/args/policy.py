"""``policy import|export|list|assign`` and ``load-guard import|export|list``."""

from __future__ import annotations

import argparse

from app.cli.options import Subparsers, add_accounts_target, add_user_option, group, lazy

RUN = "app.cli.policy_commands"


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    policy_sub = group(sub, "policy", "balance policies: warnings, overdraft, cuts, friendly hours")
    imp = policy_sub.add_parser(
        "import",
        parents=[common],
        help="store a balance policy file (TOML); its name again replaces that policy's values",
    )
    imp.add_argument("file", metavar="FILE")
    add_user_option(imp)
    imp.set_defaults(handler=lazy(RUN, "cmd_policy_import"))
    exp = policy_sub.add_parser("export", parents=[common], help="write a policy as its file")
    exp.add_argument("--policy", required=True, metavar="NAME")
    exp.add_argument("--output", metavar="FILE", help="default: stdout")
    exp.set_defaults(handler=lazy(RUN, "cmd_policy_export"))
    lst = policy_sub.add_parser("list", parents=[common], help="the policies and their accounts")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=lazy(RUN, "cmd_policy_list"))
    assign = policy_sub.add_parser(
        "assign",
        parents=[common],
        help="put accounts on a policy, one by one or by building and floor",
    )
    assign.add_argument("--policy", required=True, metavar="NAME")
    add_accounts_target(assign)
    add_user_option(assign)
    assign.set_defaults(handler=lazy(RUN, "cmd_policy_assign"))

    guard_sub = group(sub, "load-guard", "load-guard settings of the site and its buildings")
    gimp = guard_sub.add_parser(
        "import",
        parents=[common],
        help="store load-guard settings (TOML) for the site, or a building with --building",
    )
    gimp.add_argument("file", metavar="FILE")
    gimp.add_argument("--building", metavar="NAME", help="default: the whole site")
    add_user_option(gimp)
    gimp.set_defaults(handler=lazy(RUN, "cmd_guard_import"))
    gexp = guard_sub.add_parser("export", parents=[common], help="write settings as their file")
    gexp.add_argument("--building", metavar="NAME", help="default: the site's")
    gexp.add_argument("--output", metavar="FILE", help="default: stdout")
    gexp.set_defaults(handler=lazy(RUN, "cmd_guard_export"))
    glst = guard_sub.add_parser("list", parents=[common], help="every stored setting")
    glst.add_argument("--json", action="store_true")
    glst.set_defaults(handler=lazy(RUN, "cmd_guard_list"))
