"""``main.py notice test``. Exit codes: 0 sent; 1 refused (no modem set, a bad number or
text, the modem or the network said no); 4 not signed in or not allowed; 8 no database;
11 the modem's port cannot be opened."""

from __future__ import annotations

import argparse

from app.cli.auth import DENIED, signed_in
from app.cli.context import fail, run_on_database
from app.hardware.errors import PortUnavailable
from app.hardware.sms.modem import SmsFailed
from app.services.notice_test import TestSent, send_test_text
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
