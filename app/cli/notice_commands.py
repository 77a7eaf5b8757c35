"""``main.py notice test`` and ``notice template``. Exit codes: 0 sent or done; 1 refused (no
modem set, a bad number or text, the modem or the network said no, a wording that cannot be
used); 2 a template change without its kind, language or wording; 16 not signed in or not
allowed; 3-9 database problems; 11 the modem's port cannot be opened."""

from __future__ import annotations

import argparse

from app.cli.auth import DENIED, signed_in
from app.cli.context import fail, run_on_database
from app.hardware.errors import PortUnavailable
from app.hardware.sms.modem import SmsFailed
from app.services.notice_templates import (
    TemplateInUse,
    TemplateRefused,
    set_template,
    templates_in_use,
)
from app.services.notice_test import TestSent, send_test_text
from app.services.permissions import Action
from app.store.database import Database
from app.store.errors import StoreError
from app.store.migrate import require_current
from app.vocabulary import ExitCode


def cmd_notice_test(args: argparse.Namespace) -> int:
    def work(db: Database) -> TestSent:
        require_current(db)
        who = signed_in(db, args.user, None)
        return send_test_text(db, who, args.to, args.text)

    try:
        _, sent = run_on_database(args, work)
    except StoreError as exc:
        return fail(str(exc), exc.exit_code)
    except DENIED as exc:
        return fail(str(exc), ExitCode.DENIED)
    except PortUnavailable as exc:
        return fail(f"{exc}.", ExitCode.PORT_UNAVAILABLE)
    except SmsFailed as exc:
        return fail(f"{exc}.", ExitCode.REFUSED)
    except ValueError as exc:  # no modem set, a bad number or text
        return fail(f"{exc}.", ExitCode.REFUSED)
    print(f"Modem on {sent.port}: {sent.info.describe()}")
    print(sent.result.describe())
    return ExitCode.OK


def cmd_notice_template(args: argparse.Namespace) -> int:
    changing = args.text is not None or args.off or args.default
    if changing and (args.kind is None or args.language is None or args.user is None):
        return fail(
            "give the notice, its language and who you are: notice template recharge "
            "--language zh --text '...' --user NAME",
            ExitCode.USAGE,
        )
    if not changing and (args.kind or args.language):
        return fail("give --text, --off or --default to change a wording", ExitCode.USAGE)

    def work(db: Database) -> list[TemplateInUse]:
        require_current(db)
        if not changing:
            return templates_in_use(db)
        who = signed_in(db, args.user, Action.CHANGE_POLICY)
        text = None if args.default else ("" if args.off else args.text)
        return [set_template(db, who, args.kind, args.language, text)]

    try:
        _, shown = run_on_database(args, work)
    except StoreError as exc:
        return fail(str(exc), exc.exit_code)
    except DENIED as exc:
        return fail(str(exc), ExitCode.DENIED)
    except TemplateRefused as exc:
        return fail(f"{exc}. Nothing was changed.", ExitCode.REFUSED)
    for template in shown:
        whose = "site" if template.own else "shipped"
        wording = template.text or "(not sent)"
        print(f"{template.kind.value:<14} {template.language:<3} {whose:<8} {wording}")
    return ExitCode.OK
