"""``account list|show|recharge``: the accounts for scripts, and recharges from the command line.

Exit codes: 0 done (a recharge committed, or found already committed under its key; a receipt
PDF or copy that could not be written after the commit is a warning on stderr); 1 refused (the
message names the input to fix; nothing was credited); 2 bad usage; 3-9 database problems
(``app.store.errors``); 16 not signed in or not allowed. A recharge that exits non-zero credited
nothing, so a script may retry it (with the same --key).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from app.billing.money import Money
from app.cli.auth import DENIED, signed_in
from app.cli.context import data_dir_of, fail, run_on_database, unreadable_reason
from app.queries.accounts import (
    AccountDetail,
    AccountRow,
    find_account_id,
    get_account_detail,
    list_accounts,
)
from app.queries.site_facts import site_info
from app.services.permissions import Action
from app.services.receipts import ReceiptError, check_receipt_destinations
from app.services.recharge import (
    ReceiptNotSaved,
    RechargeDone,
    RechargeRefused,
    new_key,
    parse_method,
    recharge_with_receipt,
)
from app.store.database import Database
from app.store.errors import StoreError
from app.store.migrate import require_current
from app.vocabulary import DEFAULT_CURRENCY, ExitCode


def _row_json(row: AccountRow, currency: str) -> dict[str, object]:
    return {
        "account": row.number,
        "room": row.room_label,
        "building": row.building,
        "holder": row.holder_name,
        "holder_ref": row.holder_ref,
        "status": row.status.value,
        "supply": row.supply_state.value,
        "balance": str(Money(row.balance_minor, currency)),
        "currency": currency,
        "meters": list(row.meter_serials),
    }


def _currency(db: Database) -> str:
    info = site_info(db)
    return info.currency if info else DEFAULT_CURRENCY


def cmd_list(args: argparse.Namespace) -> int:
    def work(db: Database) -> tuple[list[AccountRow], str]:
        require_current(db)
        return list_accounts(db), _currency(db)

    try:
        _, (rows, currency) = run_on_database(args, work)
    except StoreError as exc:
        return fail(str(exc), exc.exit_code)
    if args.json:
        print(json.dumps([_row_json(r, currency) for r in rows], ensure_ascii=False))
        return 0
    for r in rows:
        balance = Money(r.balance_minor, currency).display()
        print(
            f"{r.number:<10} {r.room_label:<10} {r.holder_name:<20} {r.status.value:<7} "
            f"{r.supply_state.value:<10} {balance:>14}  {', '.join(r.meter_serials)}"
        )
    print(f"{len(rows)} accounts")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    def work(db: Database) -> AccountDetail | None:
        require_current(db)
        found = find_account_id(db, args.account)
        return None if found is None else get_account_detail(db, found)

    try:
        _, detail = run_on_database(args, work)
    except StoreError as exc:
        return fail(str(exc), exc.exit_code)
    if detail is None:
        return fail(f"There is no account {args.account!r}; 'account list' shows them.", 1)
    body = _row_json(detail.row, detail.currency)
    body.update(
        phone=detail.phone,
        opened_at=detail.opened_at.isoformat(),
        policy=detail.policy_name,
        tariffs={utility.value: name for utility, name in detail.tariffs},
        meter_details=[
            {
                "serial": m.serial,
                "utility": m.utility.value,
                "bus": m.bus_name,
                "address": m.address,
                "status": m.status.value,
                "relay_closed": m.relay_closed,
            }
            for m in detail.meters
        ],
        recent_entries=[
            {
                "at": e.created_at.isoformat(),
                "kind": e.kind.value,
                "amount": str(Money(e.amount_minor, detail.currency)),
                "balance_after": str(Money(e.balance_after_minor, detail.currency)),
                "reference": e.reference,
            }
            for e in detail.recent_entries
        ],
    )
    if args.json:
        print(json.dumps(body, ensure_ascii=False))
        return 0
    for key in ("account", "room", "holder", "status", "supply", "balance", "policy"):
        print(f"{key:<9} {body[key]}")
    print(f"{'tariffs':<9} {', '.join(f'{u}: {n}' for u, n in detail.tariffs)}")
    for m in detail.meters:
        print(f"{'meter':<9} {m.serial} {m.utility.value} on {m.bus_name} at {m.address}")
    return 0


def cmd_recharge(args: argparse.Namespace) -> int:
    """Credit the account once per key. A non-zero exit always means nothing was credited:
    the receipt's destinations are checked before the money moves, and once it has moved
    every later failure (the PDF or its copy not written) is a warning with exit 0."""
    data_dir = data_dir_of(args, demo=bool(args.demo))
    key = new_key() if args.key is None else args.key  # '' is refused, never "no key"
    copy_to = None if args.receipt is None else Path(args.receipt).expanduser()

    def work(db: Database) -> tuple[RechargeDone, Path]:
        require_current(db)
        who = signed_in(db, args.user, Action.RECHARGE)
        method = parse_method(args.method)
        check_receipt_destinations(data_dir, copy_to)
        return recharge_with_receipt(db, who, data_dir, args.account, args.amount, method, key)

    try:
        _, (done, pdf) = run_on_database(args, work)
    except StoreError as exc:
        if args.key is None:  # a commit that failed may still have landed: retry with its key
            print(f"The key of this attempt was {key}; retry with --key {key}.", file=sys.stderr)
        return fail(str(exc), exc.exit_code)
    except DENIED as exc:
        return fail(str(exc), ExitCode.DENIED)
    except ReceiptNotSaved as exc:  # committed: exit 0, and say what is missing
        _print_done(exc.done)
        print(f"warning: {exc} The key is {key}.", file=sys.stderr)
        return 0
    except (RechargeRefused, ReceiptError) as exc:
        return fail(f"{exc} Nothing was credited.", ExitCode.REFUSED)
    _print_done(done)
    print(f"Receipt PDF: {pdf}")
    if copy_to is not None:
        try:
            shutil.copyfile(pdf, copy_to)
        except OSError as exc:  # committed: the copy is what is missing, not the money
            print(
                f"warning: the receipt could not be copied to {copy_to} "
                f"({unreadable_reason(exc)}). The money is credited: do not take it again. "
                f"Copy {pdf} by hand, or run the same command again with --key {key} "
                "(it credits nothing more).",
                file=sys.stderr,
            )
    return 0


def _print_done(done: RechargeDone) -> None:
    amount = Money(done.amount_minor, done.currency).display()
    balance = Money(done.balance_after_minor, done.currency).display()
    if done.replayed:
        print(
            f"Already done under this key: receipt {done.receipt_number:08d}, {amount} to "
            f"account {done.account_number}; nothing credited now."
        )
    else:
        print(
            f"Receipt {done.receipt_number:08d}: {amount} credited to account "
            f"{done.account_number}."
        )
    print(f"Balance {balance}.")
