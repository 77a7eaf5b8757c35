"""Cashier shifts: each operator who takes money works in an open shift; at most one is open
per operator (a partial unique index holds it even across processes).

Closing a shift counts the drawer against what the receipts of the shift say should be in it
and writes the close report (PDF) into the data folder. The close takes the receipt counter's
row lock first, like every money service (recharge.py), so no payment can land in the shift
while it is being counted: a payment that waited for the lock finds the shift closed and opens
the next one (``ensure_shift``).

The report is written inside the closing transaction, before the commit: the row never names a
report that was not written (a full disk rolls the close back, and the shift stays open), and
the report says exactly what the row says (closing time, who closed, the count). If the commit
itself fails after the write, the file is removed again.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.billing.money import Money, MoneyError, minor_unit_digits
from app.services.audit import record_audit
from app.services.counters import RECEIPT, lock_counter
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.services.receipt_pdf import local_time_text
from app.services.settings import site_currency
from app.services.shift_report_pdf import ShiftLine, ShiftReport, render_shift_report
from app.services.site_queries import site_zone
from app.store.database import Database
from app.store.models import Operator, Receipt, Shift, Site, utc_now
from app.vocabulary import PaymentMethod, ReceiptKind

SHIFTS_FOLDER = "shifts"
NO_METHOD = "none"  # receipts without a payment method (adjustments): listed, never cash


class ShiftRefused(ValueError):
    """A shift that cannot be opened or closed; the message says why and what to do.

    ``field`` names the input to fix ("float", "counted") or is empty when no input is wrong.
    """

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ShiftInfo:
    shift_id: int
    operator_id: int
    opened_at: datetime
    opening_float_minor: int


@dataclass(frozen=True)
class OpenShift:
    """An open shift as a supervisor sees it in the list of shifts still running."""

    shift_id: int
    operator_id: int
    operator_name: str
    opened_at: datetime  # UTC
    opening_float_minor: int
    receipt_count: int


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


def open_shift_of(session: Session, operator_id: int) -> Shift | None:
    return session.scalars(
        select(Shift).where(Shift.operator_id == operator_id, Shift.closed_at.is_(None))
    ).first()


def _open(session: Session, by: SignedIn, float_minor: int) -> Shift:
    shift = Shift(operator_id=by.operator_id, opened_at=utc_now(), opening_float_minor=float_minor)
    session.add(shift)
    session.flush()
    record_audit(session, by, "shift.open", "shift", shift.id, None, {"opening_float": float_minor})
    return shift


def ensure_shift(session: Session, by: SignedIn) -> Shift:
    """The operator's open shift, opened with no float if there is none (a payment taken
    before anyone opened the shift still lands in one)."""
    return open_shift_of(session, by.operator_id) or _open(session, by, 0)


def open_shift(db: Database, by: SignedIn, opening_float: str) -> ShiftInfo:
    """Open the operator's shift with the cash already in the drawer."""
    by.require(Action.OPEN_SHIFT)
    with db.transaction() as session:
        currency = site_currency(session)
        try:
            float_minor = Money.parse(opening_float or "0", currency).minor
        except MoneyError as exc:
            raise ShiftRefused(f"Opening float: {exc}", "float") from None
        if float_minor < 0:
            raise ShiftRefused(
                "The opening float cannot be negative; count the drawer again.", "float"
            )
        if open_shift_of(session, by.operator_id) is not None:
            raise ShiftRefused(
                f"{by.display_name} already has an open shift; close it before opening another."
            )
        shift = _open(session, by, float_minor)
        return ShiftInfo(shift.id, shift.operator_id, shift.opened_at, float_minor)


def current_shift(db: Database, operator_id: int) -> ShiftInfo | None:
    with db.session() as session:
        shift = open_shift_of(session, operator_id)
        if shift is None:
            return None
        return ShiftInfo(shift.id, shift.operator_id, shift.opened_at, shift.opening_float_minor)


def list_open_shifts(db: Database) -> list[OpenShift]:
    """Every shift still open, oldest first, with its cashier's name and receipt count (for a
    supervisor who closes a shift someone left open)."""
    receipts = (
        select(Receipt.shift_id, func.count().label("n"))
        .where(Receipt.shift_id.is_not(None))
        .group_by(Receipt.shift_id)
        .subquery()
    )
    with db.session() as session:
        rows = session.execute(
            select(Shift, Operator.display_name, func.coalesce(receipts.c.n, 0))
            .join(Operator, Operator.id == Shift.operator_id)
            .outerjoin(receipts, receipts.c.shift_id == Shift.id)
            .where(Shift.closed_at.is_(None))
            .order_by(Shift.opened_at, Shift.id)
        ).all()
        return [
            OpenShift(
                shift.id,
                shift.operator_id,
                name,
                shift.opened_at,
                shift.opening_float_minor,
                int(count),
            )
            for shift, name, count in rows
        ]


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


# -- helpers ---------------------------------------------------------------------------------


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


def _name(session: Session, operator_id: int | None) -> str:
    if operator_id is None:
        return ""
    return session.scalar(select(Operator.display_name).where(Operator.id == operator_id)) or ""


def _already_closed(session: Session, shift: Shift) -> str:
    assert shift.closed_at is not None
    when = local_time_text(shift.closed_at.astimezone(_zone(session)))
    who = _name(session, shift.closed_by_id) or "someone"
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
        operator_name=_name(session, shift.operator_id),
        site_name=site_name,
        currency=site_currency(session),
        opened_at=shift.opened_at.astimezone(zone),
        closed_at=shift.closed_at.astimezone(zone) if shift.closed_at else None,
        closed_by_name=_name(session, shift.closed_by_id),
        opening_float_minor=shift.opening_float_minor,
        lines=tuple(lines),
        totals=totals,
        cash_received_minor=received,
        cash_paid_out_minor=paid_out,
        counted_cash_minor=shift.counted_cash_minor,
        report_path=shift.report_path,
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
    )


def _write_report(data_dir: Path, relative: str, summary: ShiftSummary) -> Path:
    """Render and save the report atomically (a crash leaves no half file) and durably (it is
    on disk before the close is committed)."""
    path = data_dir / relative
    partial = path.with_suffix(".pdf.part")
    pdf = render_shift_report(shift_report(summary))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("wb") as file:
            file.write(pdf)
            file.flush()
            os.fsync(file.fileno())
        partial.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):  # the folder may be unusable: the message says so
            partial.unlink(missing_ok=True)
        raise ShiftRefused(
            f"The shift report could not be saved to {path} ({exc.strerror or exc}); the shift "
            "is still open. Free disk space or fix the data folder's permissions, then close "
            "the shift again."
        ) from exc
    return path
