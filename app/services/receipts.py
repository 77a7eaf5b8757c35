"""Receipts: what each one says (written with it, in the ledger's transaction), its PDF in the
data folder, and reprints marked COPY.

The words of a receipt (site, room, holder, meters, tariffs, operator...) are kept in
``Receipt.content`` when it is issued, so a reprint says exactly what the original said even
after the holder moved or a tariff was renamed. The PDF is written after the commit: a full disk
or a crash there cannot lose the money, and the PDF can be made again from the row any time.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.billing.money import Money
from app.documents.atomic_files import write_bytes_in_place
from app.documents.receipt_pdf import ReceiptDocument, render_receipt
from app.services.audit import chain_anchor, record_audit
from app.services.counters import RECEIPT, take_number
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.store.database import Database
from app.store.models import Account, AccountTariff, Meter, Receipt, Site, TariffPlan
from app.vocabulary import DEFAULT_CURRENCY, PaymentMethod, ReceiptKind, Utility

RECEIPTS_FOLDER = "receipts"


class ReceiptError(ValueError):
    """A receipt that cannot be found or printed; the message says what to do."""


def receipt_file_name(number: int, *, copy: bool = False) -> str:
    return f"receipt-{number:08d}{'-copy' if copy else ''}.pdf"


def check_receipt_destinations(data_dir: Path, copy_to: Path | None = None) -> None:
    """Before any money moves: the data folder's receipts folder and ``copy_to`` (a copy the
    operator asked for) can take the receipt's PDF. ReceiptError says what is wrong (a folder
    that does not exist, a folder named as the file, no permission to write), so a recharge is
    refused instead of being committed with its receipt lost. A disk that fills up meanwhile
    is found only when the PDF is written, after the commit."""
    folder = data_dir / RECEIPTS_FOLDER
    if folder.exists() and not (folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)):
        raise ReceiptError(
            f"Receipts cannot be saved in {folder} (not a folder, or not writable); fix it "
            "or choose another data folder with --data-dir."
        )
    if copy_to is None:
        return
    if copy_to.is_dir():
        raise ReceiptError(
            f"{copy_to} is a folder; give the copy a file name in it, such as "
            f"{copy_to / 'receipt.pdf'}."
        )
    parent = copy_to.parent
    if not parent.is_dir():
        raise ReceiptError(
            f"The folder {parent} does not exist; create it first or copy the receipt elsewhere."
        )
    writable = os.access(copy_to, os.W_OK) if copy_to.exists() else os.access(parent, os.W_OK)
    if not writable:
        raise ReceiptError(
            f"{copy_to} cannot be written (no permission); copy the receipt to a folder you "
            "may write to."
        )


def site_words(site: Site | None) -> dict[str, object]:
    """What every receipt of the site prints of it: name, address, header lines, time zone and
    currency."""
    return {
        "site_name": site.name if site else "",
        "site_address": site.address if site else "",
        "receipt_header": site.receipt_header.splitlines() if site else [],
        "timezone": site.timezone if site else "UTC",
        "currency": site.currency if site else DEFAULT_CURRENCY,
    }


def account_words(
    room: str,
    holder: str,
    number: str,
    meters: Iterable[tuple[Utility, str]],
    tariffs: Iterable[tuple[Utility, str]],
) -> dict[str, object]:
    """What a receipt prints of an account: room, holder, number, its meters in service
    (utility, serial) and the tariffs (utility, plan name) of the utilities it has a meter of."""
    in_service = sorted(meters)
    metered = {utility for utility, _serial in in_service}
    return {
        "room": room,
        "holder": holder,
        "account": number,
        "meters": [f"{utility.value} {serial}" for utility, serial in in_service],
        # a tariff of a utility the room has no meter of is not used
        "tariffs": [name for utility, name in sorted(tariffs) if utility in metered],
    }


def account_content(session: Session, account: Account) -> dict[str, object]:
    """The words a receipt of this account prints today (site, room, holder, meters, tariffs)."""
    site = session.scalars(select(Site).order_by(Site.id).limit(1)).first()
    meters = session.execute(
        select(Meter.utility, Meter.serial).where(
            Meter.account_id == account.id, Meter.removed_at.is_(None)
        )
    )
    tariffs = session.execute(
        select(AccountTariff.utility, TariffPlan.name)
        .join(TariffPlan, AccountTariff.plan_id == TariffPlan.id)
        .where(AccountTariff.account_id == account.id)
    )
    return site_words(site) | account_words(
        account.room.label if account.room else "",
        account.holder_name,
        account.number,
        [(utility, serial) for utility, serial in meters],
        [(utility, name) for utility, name in tariffs],
    )


@dataclass(frozen=True)
class IssuedReceipt:
    receipt_id: int
    number: int


def issue_receipt(
    session: Session,
    number: int,
    *,
    kind: ReceiptKind,
    account: Account,
    entry_id: int,
    by: SignedIn,
    shift_id: int | None,
    method: PaymentMethod | None,
    amount_minor: int,
    balance_before_minor: int,
    reason: str = "",
    approved_by: str = "",
    extra: dict[str, object] | None = None,
) -> IssuedReceipt:
    """Record receipt ``number`` (from ``take_receipt_number``) of a ledger entry, in the
    caller's transaction."""
    content = account_content(session, account)
    content.update(operator=by.display_name, reason=reason, approved_by=approved_by)
    content["audit_anchor"] = chain_anchor(session)  # the trail's head, printed outside it
    content.update(extra or {})  # e.g. a settlement's final readings in place of the meters
    receipt = Receipt(
        number=number,
        kind=kind,
        account_id=account.id,
        ledger_entry_id=entry_id,
        issued_at=datetime.now(UTC),
        operator_id=by.operator_id,
        shift_id=shift_id,
        method=method,
        amount_minor=amount_minor,
        balance_before_minor=balance_before_minor,
        balance_after_minor=balance_before_minor + amount_minor,
        pdf_path=f"{RECEIPTS_FOLDER}/{receipt_file_name(number)}",
        content=content,
    )
    session.add(receipt)
    session.flush()
    return IssuedReceipt(receipt.id, number)


def take_receipt_number(session: Session) -> int:
    """The next receipt number; taken before the ledger entry, which names it."""
    return take_number(session, RECEIPT)


def receipt_document(receipt: Receipt, *, copy: bool = False) -> ReceiptDocument:
    content = dict(receipt.content or {})
    currency = str(content.get("currency", DEFAULT_CURRENCY))
    zone = ZoneInfo(str(content.get("timezone", "UTC")))

    def money(minor: int) -> str:  # the receipt names the currency beside each amount
        return Money(minor, currency).grouped()

    def texts(key: str) -> tuple[str, ...]:
        value = content.get(key, [])
        return tuple(str(item) for item in value) if isinstance(value, list) else ()

    return ReceiptDocument(
        number=receipt.number,
        kind=receipt.kind.value,
        site_name=str(content.get("site_name", "")),
        site_address=str(content.get("site_address", "")),
        header=texts("receipt_header"),
        issued_at=receipt.issued_at.astimezone(zone),
        operator=str(content.get("operator", "")),
        room=str(content.get("room", "")),
        holder=str(content.get("holder", "")),
        account=str(content.get("account", "")),
        meters=texts("meters"),
        amount=money(receipt.amount_minor),
        currency=currency,
        method=receipt.method.value if receipt.method else None,
        balance_before=money(receipt.balance_before_minor),
        balance_after=money(receipt.balance_after_minor),
        tariffs=texts("tariffs"),
        reason=str(content.get("reason", "")),
        approved_by=str(content.get("approved_by", "")),
        copy=copy,
        audit_anchor=str(content.get("audit_anchor", "")),
    )


def write_receipt_pdf(data_dir: Path, receipt: Receipt, layout: str, *, copy: bool = False) -> Path:
    """Render and save the receipt's PDF (atomically: a crash leaves no half file)."""
    folder = data_dir / RECEIPTS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / receipt_file_name(receipt.number, copy=copy)
    # Two processes saving the same missing PDF at once: each writes a file of its own.
    write_bytes_in_place(path, render_receipt(receipt_document(receipt, copy=copy), layout))
    return path


def saved_receipt_pdf(db: Database, data_dir: Path, number: int, layout: str) -> Path:
    """The original receipt's PDF, written again if it is missing (a crash right after the
    commit, a cleaned folder)."""
    with db.session() as session:
        receipt = _by_number(session, number)
        path = data_dir / receipt.pdf_path
        if not path.exists():
            path = write_receipt_pdf(data_dir, receipt, layout)
        return path


def reprint_receipt(db: Database, data_dir: Path, by: SignedIn, number: int, layout: str) -> Path:
    """A COPY of receipt ``number`` as PDF; the reprint is counted and audited."""
    by.require(Action.REPRINT_RECEIPT)
    with db.transaction() as session:
        receipt = _by_number(session, number)
        receipt.print_count += 1
        record_audit(
            session,
            by,
            "receipt.reprint",
            "receipt",
            number,
            None,
            {"copies": receipt.print_count, "account": str((receipt.content or {}).get("account"))},
        )
        session.flush()
        path = write_receipt_pdf(data_dir, receipt, layout, copy=True)
    return path


def _by_number(session: Session, number: int) -> Receipt:
    receipt = session.scalars(select(Receipt).where(Receipt.number == number)).first()
    if receipt is None:
        raise ReceiptError(f"There is no receipt number {number}; check the number.")
    return receipt
