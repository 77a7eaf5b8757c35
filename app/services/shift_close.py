"""Closing a cashier's shift: every receipt of the shift by method with totals, the cash
expected in the drawer (float + cash taken - cash paid out), the counted cash and the
difference, and the close report as a PDF in the data folder."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.billing.money import Money, MoneyError, minor_unit_digits
from app.documents.atomic_files import write_bytes_in_place
from app.documents.receipt_pdf import local_time_text
from app.documents.shift_report_pdf import ShiftLine, ShiftReport, render_shift_report
from app.queries.site_facts import site_currency, site_zone
from app.services.audit import chain_anchor, record_audit
from app.services.counters import RECEIPT, lock_counter
from app.services.operators import SignedIn, operator_name
from app.services.permissions import Action
from app.services.shifts import ShiftRefused
from app.store.database import Database
from app.store.models import Receipt, Shift, Site, utc_now
from app.vocabulary import PaymentMethod, ReceiptKind

SHIFTS_FOLDER = "shifts"
NO_METHOD = "none"  # receipts without a payment method (adjustments): listed, never cash


@dataclass(frozen=True)
class ShiftTransaction:
    """One receipt of a shift; ``amount_minor`` is signed (money paid out is negative)."""

    number: int
    issued_at: datetime  # site-local
    kind: ReceiptKind
    room: str
    account: str
    holder: str
    method: str  # a PaymentMethod value, or NO_METHOD
    amount_minor: int


@dataclass(frozen=True)
class MethodTotal:
    method: str  # a PaymentMethod value, or NO_METHOD
    count: int
    total_minor: int  # signed sum


@dataclass(frozen=True)
class ShiftSummary:
    """What a shift took and paid out, and what its drawer should hold. Times are site-local
    (aware); money in minor units of ``currency``."""

    shift_id: int
    operator_id: int
    operator_name: str
    site_name: str
    currency: str
    opened_at: datetime
    closed_at: datetime | None
    closed_by_name: str
    opening_float_minor: int
    lines: tuple[ShiftTransaction, ...]  # in receipt number order
    totals: tuple[MethodTotal, ...]  # methods in PaymentMethod order, NO_METHOD last
    cash_received_minor: int  # positive cash receipts
    cash_paid_out_minor: int  # negative cash receipts, as a positive amount
    counted_cash_minor: int | None
    report_path: str  # relative to the data folder; empty while open
    audit_anchor: str = ""  # the audit trail's head when this summary was read

    @property
    def count(self) -> int:
        return len(self.lines)

    @property
    def cash_expected_minor(self) -> int:
        return self.opening_float_minor + self.cash_received_minor - self.cash_paid_out_minor

    @property
    def difference_minor(self) -> int | None:
        """Counted minus expected: negative when the drawer is short."""
        if self.counted_cash_minor is None:
            return None
        return self.counted_cash_minor - self.cash_expected_minor

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None


@dataclass(frozen=True)
class ClosedShift:
    summary: ShiftSummary
    report_file: Path  # absolute path of the written PDF

    @property
    def cash_expected_minor(self) -> int:
        return self.summary.cash_expected_minor

    @property
    def counted_cash_minor(self) -> int:
        counted = self.summary.counted_cash_minor
        assert counted is not None
        return counted

    @property
    def difference_minor(self) -> int:
        return self.counted_cash_minor - self.cash_expected_minor


def shift_report_name(shift_id: int) -> str:
    return f"shift-{shift_id:06d}.pdf"


def shift_summary(db: Database, shift_id: int) -> ShiftSummary:
    """Every receipt of the shift, the totals per payment method and the cash expected in the
    drawer (opening float + cash received - cash paid out)."""
    with db.session() as session:
        return _summary(session, _shift(session, shift_id))


def close_shift(
    db: Database, by: SignedIn, shift_id: int, counted_cash_text: str, data_dir: Path
) -> ClosedShift:
    """Close a shift with the cash counted in its drawer and write its report to
    ``data_dir/shifts``. An operator closes his own shift; closing someone else's needs
    Action.CLOSE_ANY_SHIFT (a supervisor). Audited as "shift.close"."""
    by.require(Action.CLOSE_SHIFT)
    written: Path | None = None
    try:
        with db.transaction() as session:
            lock_counter(session, RECEIPT)  # no payment lands in the shift while it is counted
            shift = _shift(session, shift_id, lock=True)
            if shift.operator_id != by.operator_id:
                by.require(Action.CLOSE_ANY_SHIFT)
            if shift.closed_at is not None:
                raise ShiftRefused(_already_closed(session, shift))
            currency = site_currency(session)
            counted = _counted(counted_cash_text, currency)
            shift.closed_at = utc_now()
            shift.closed_by_id = by.operator_id
            shift.counted_cash_minor = counted.minor
            shift.report_path = f"{SHIFTS_FOLDER}/{shift_report_name(shift.id)}"
            session.flush()
            summary = _summary(session, shift)
            written = _write_report(data_dir, shift.report_path, summary)
            difference = summary.difference_minor
            record_audit(
                session,
                by,
                "shift.close",
                "shift",
                shift.id,
                {"closed_at": None, "counted": None},
                {
                    "operator": shift.operator_id,
                    "receipts": summary.count,
                    "opening_float": summary.opening_float_minor,
                    "expected": summary.cash_expected_minor,
                    "counted": counted.minor,
                    "difference": difference,
                    "report": shift.report_path,
                },
            )
    except BaseException:
        if written is not None:  # the commit failed after the write: the shift is still open
            written.unlink(missing_ok=True)
        raise
    assert written is not None
    return ClosedShift(summary, written)


def _shift(session: Session, shift_id: int, *, lock: bool = False) -> Shift:
    query = select(Shift).where(Shift.id == shift_id)
    if lock:
        query = query.with_for_update()
    shift = session.scalars(query).first()
    if shift is None:
        raise ShiftRefused(f"There is no shift {shift_id}; choose a shift from the open shifts.")
    return shift


def _zone(session: Session) -> tzinfo:
    try:
        zone = site_zone(session)
    except ZoneInfoNotFoundError as exc:
        raise ShiftRefused(
            f"The site's time zone {exc.args[0]!r} is not known on this computer; "
            "set the site's time zone in the settings (or install the tzdata package)."
        ) from None
    if zone is None:
        raise ShiftRefused("No site is set up in this database; set up the site first.")
    return zone


def _already_closed(session: Session, shift: Shift) -> str:
    assert shift.closed_at is not None
    when = local_time_text(shift.closed_at.astimezone(_zone(session)))
    who = operator_name(session, shift.closed_by_id) or "someone"
    return (
        f"Shift {shift.id} was already closed by {who} at {when}; its report is "
        f"{shift.report_path or 'not saved'}. Nothing was changed."
    )


def _counted(text: str, currency: str) -> Money:
    if not text.strip():
        raise ShiftRefused(
            "Count the cash in the drawer and type the amount (0 if the drawer is empty).",
            "counted",
        )
    try:
        counted = Money.parse(text, currency)
    except MoneyError as exc:
        raise ShiftRefused(f"Counted cash: {exc}", "counted") from None
    if counted.minor < 0:
        raise ShiftRefused(
            "The counted cash cannot be negative; count the drawer again.", "counted"
        )
    return counted


def _summary(session: Session, shift: Shift) -> ShiftSummary:
    zone = _zone(session)
    site_name = session.scalar(select(Site.name).order_by(Site.id).limit(1)) or ""
    receipts = session.scalars(
        select(Receipt).where(Receipt.shift_id == shift.id).order_by(Receipt.number)
    ).all()
    lines: list[ShiftTransaction] = []
    counts: dict[str, int] = {}
    sums: dict[str, int] = {}
    received = paid_out = 0
    for receipt in receipts:
        content = receipt.content or {}
        method = receipt.method.value if receipt.method is not None else NO_METHOD
        lines.append(
            ShiftTransaction(
                number=receipt.number,
                issued_at=receipt.issued_at.astimezone(zone),
                kind=receipt.kind,
                room=str(content.get("room", "")),
                account=str(content.get("account", "")),
                holder=str(content.get("holder", "")),
                method=method,
                amount_minor=receipt.amount_minor,
            )
        )
        counts[method] = counts.get(method, 0) + 1
        sums[method] = sums.get(method, 0) + receipt.amount_minor
        if receipt.method is PaymentMethod.CASH:
            if receipt.amount_minor >= 0:
                received += receipt.amount_minor
            else:
                paid_out -= receipt.amount_minor
    order = [m.value for m in PaymentMethod] + [NO_METHOD]
    totals = tuple(MethodTotal(m, counts[m], sums[m]) for m in order if m in counts)
    return ShiftSummary(
        shift_id=shift.id,
        operator_id=shift.operator_id,
        operator_name=operator_name(session, shift.operator_id),
        site_name=site_name,
        currency=site_currency(session),
        opened_at=shift.opened_at.astimezone(zone),
        closed_at=shift.closed_at.astimezone(zone) if shift.closed_at else None,
        closed_by_name=operator_name(session, shift.closed_by_id),
        opening_float_minor=shift.opening_float_minor,
        lines=tuple(lines),
        totals=totals,
        cash_received_minor=received,
        cash_paid_out_minor=paid_out,
        counted_cash_minor=shift.counted_cash_minor,
        report_path=shift.report_path,
        audit_anchor=chain_anchor(session),
    )


def amount_text(minor: int, currency: str) -> str:
    """An amount as the report prints it under a currency heading: ``-1,234.50``."""
    digits = minor_unit_digits(currency)
    return f"{Money(minor, currency).amount:,.{digits}f}"


def shift_report(summary: ShiftSummary) -> ShiftReport:
    """The close report of a closed shift, ready for ``render_shift_report``."""
    if summary.closed_at is None:
        raise ShiftRefused(f"Shift {summary.shift_id} is still open; close it to get its report.")
    currency = summary.currency

    def money(minor: int) -> str:
        return amount_text(minor, currency)

    def receipts(count: int) -> str:
        return f"{count} receipt{'s' if count != 1 else ''}"

    difference = summary.difference_minor
    return ShiftReport(
        site_name=summary.site_name,
        operator=summary.operator_name,
        opened_at=summary.opened_at,
        closed_at=summary.closed_at,
        currency=currency,
        opening_float=money(summary.opening_float_minor),
        lines=tuple(
            ShiftLine(
                number=line.number,
                at=line.issued_at,
                kind=line.kind.value,
                room=line.room,
                account=line.account,
                method=line.method,
                amount=money(line.amount_minor),
            )
            for line in summary.lines
        ),
        totals_by_method=tuple(
            (f"{t.method}, {receipts(t.count)}", money(t.total_minor)) for t in summary.totals
        ),
        cash_expected=money(summary.cash_expected_minor),
        cash_counted=(
            money(summary.counted_cash_minor) if summary.counted_cash_minor is not None else None
        ),
        difference=money(difference) if difference is not None else None,
        closed_by=summary.closed_by_name,
        audit_anchor=summary.audit_anchor,
    )


def _write_report(data_dir: Path, relative: str, summary: ShiftSummary) -> Path:
    """Render and save the report atomically (a crash leaves no half file) and durably (it is
    on disk before the close is committed)."""
    path = data_dir / relative
    pdf = render_shift_report(shift_report(summary))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_in_place(path, pdf, durable=True)
    except OSError as exc:
        raise ShiftRefused(
            f"The shift report could not be saved to {path} ({exc.strerror or exc}); the shift "
            "is still open. Free disk space or fix the data folder's permissions, then close "
            "the shift again."
        ) from exc
    return path
