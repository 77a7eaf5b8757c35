"""The monthly account statement as PDF: a pure function from a ``Statement`` to bytes.

A4 portrait, as a tenant reads a bill: who and which month beside a summary box (opening
balance, recharges, refunds, corrections, usage billed, fees, closing balance); then every
movement of the month with its receipt number and the balance after it, the hourly usage
postings summed into one line; then the usage billed in detail per meter, TOU period, tier and
unit price. Table headers repeat on each page; pages are numbered "Page N of M", so the
statement is laid out twice (once to count the pages). Amounts are the statement's exact minor
units shown with the currency's places; times are in the site's zone.
"""

from __future__ import annotations

import io
from decimal import ROUND_HALF_UP, Decimal
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    LongTable,
    Paragraph,
)
from reportlab.platypus.flowables import Spacer
from reportlab.platypus.tables import Table

from app.billing.rating import decimal_text
from app.documents.pdf_fonts import PdfFonts, pdf_fonts
from app.documents.pdf_pages import FRAME_PADDING, MARGIN, page_document
from app.i18n import tr
from app.queries.statement_data import (
    CORRECTION_KINDS,
    FEE_KINDS,
    OTHER_KINDS,
    RECHARGE_KINDS,
    REFUND_KINDS,
    USAGE_KINDS,
    Statement,
    StatementLine,
    UsageLine,
)
from app.vocabulary import LedgerKind

I18N_CONTEXT = "StatementPdf"
CONTENT_WIDTH = A4[0] - 2 * MARGIN - 2 * FRAME_PADDING
BODY_SIZE = 8.5
GRID = colors.HexColor("#BBBBBB")
SHADE = colors.HexColor("#EEEEEE")
MUTED = colors.HexColor("#555555")
MINUTES = "%Y-%m-%d %H:%M"
HEADING_ROOM = 30 * mm  # a heading starts a new page unless a few of its table's rows fit
# Time, kind, receipt, amount, balance after; the reference and reason take the rest.
_MOVE_FIXED = (27 * mm, 25 * mm, 17 * mm, 23 * mm, 24 * mm)
MOVE_COLUMNS = [*_MOVE_FIXED[:3], CONTENT_WIDTH - sum(_MOVE_FIXED), *_MOVE_FIXED[3:]]
# Meter, utility, period, tier, unit price, quantity; the amount takes the rest.
_USE_FIXED = (30 * mm, 22 * mm, 28 * mm, 12 * mm, 28 * mm, 30 * mm)
USAGE_COLUMNS = [*_USE_FIXED, CONTENT_WIDTH - sum(_USE_FIXED)]

KIND_WORDS: dict[LedgerKind, str] = {
    LedgerKind.OPENING: "Opening balance",
    LedgerKind.RECHARGE: "Recharge",
    LedgerKind.CONSUMPTION: "Usage",
    LedgerKind.FEE: "Fee",
    LedgerKind.ALLOWANCE: "Allowance",
    LedgerKind.REFUND: "Refund",
    LedgerKind.ADJUSTMENT: "Correction",
    LedgerKind.REVERSAL: "Reversal",
    LedgerKind.SETTLEMENT: "Settlement",
}


def _t(text: str) -> str:
    return tr(I18N_CONTEXT, text)


def render_statement(statement: Statement) -> bytes:
    """The statement as A4 PDF bytes (deterministic: the same statement, the same bytes)."""
    fonts = pdf_fonts()
    _, page_count = _build(statement, fonts, total_pages=0)
    pdf, _ = _build(statement, fonts, total_pages=page_count)
    return pdf


def money_text(minor: int, places: int) -> str:
    """Exact minor units with the currency's places and thousands separators: ``-1,234.50``."""
    value = Decimal(minor).scaleb(-places)
    return f"{value:,.{places}f}"


class _Styles:
    def __init__(self, fonts: PdfFonts) -> None:
        def style(name: str, size: float, bold: bool = False, **kw: object) -> ParagraphStyle:
            font = fonts.bold if bold else fonts.regular
            return ParagraphStyle(name, fontName=font, fontSize=size, leading=size * 1.25, **kw)

        self.title = style("title", 17, bold=True)
        self.site = style("site", 11)
        self.muted = style("muted", 9, textColor=MUTED)
        self.heading = style("heading", 12, bold=True, spaceBefore=5 * mm, spaceAfter=2 * mm)
        self.cell = style("cell", BODY_SIZE)
        self.label = style("label", 9.5, textColor=MUTED)
        self.value = style("value", 9.5)
        self.money = style("money", 9.5, alignment=TA_RIGHT)
        self.strong_label = style("strong_label", 10.5, bold=True)
        self.strong_money = style("strong_money", 10.5, bold=True, alignment=TA_RIGHT)
        self.note = style("note", 8, textColor=MUTED, spaceBefore=1.5 * mm)


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def _period_text(statement: Statement) -> str:
    period = statement.period
    return f"{period.words()} ({period.first.isoformat()} - {period.last.isoformat()})"


def _header(statement: Statement, st: _Styles) -> list[Flowable]:
    s = statement
    generated = s.generated_at.astimezone(s.zone).strftime(MINUTES)
    who = [
        (_t("Holder"), s.holder_name + (f" ({s.holder_ref})" if s.holder_ref else "")),
        (_t("Account"), s.account_number),
        (_t("Room"), s.room or "-"),
        (_t("Period"), _period_text(s)),
        (_t("Currency"), s.currency),
        (_t("Generated"), f"{generated} ({s.zone.key})"),
    ]
    info = Table(
        [[_p(a, st.label), _p(b, st.value)] for a, b in who],
        colWidths=[22 * mm, 78 * mm],
        hAlign="LEFT",
    )
    info.setStyle(
        [
            ("LEFTPADDING", (0, 0), (0, -1), 0),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("TOPPADDING", (0, 0), (-1, -1), 1.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
        ]
    )
    side = Table(
        [[info, _summary(s, st)]],
        colWidths=[CONTENT_WIDTH - 76 * mm, 76 * mm],
        hAlign="LEFT",
    )
    side.setStyle(
        [
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("RIGHTPADDING", (0, 0), (-1, -1), 0),
        ]
    )
    heads: list[Flowable] = [_p(_t("Account statement"), st.title), _p(s.site_name, st.site)]
    if s.site_address:
        heads.append(_p(s.site_address, st.muted))
    return [*heads, Spacer(1, 4 * mm), side]


def _summary(s: Statement, st: _Styles) -> Table:
    """The box of totals: opening, each kind of movement, closing (which they add up to)."""
    rows = [
        (_t("Opening balance"), s.opening_minor),
        (_t("Recharges"), s.total_of(RECHARGE_KINDS)),
        (_t("Refunds"), s.total_of(REFUND_KINDS)),
        (_t("Corrections and reversals"), s.total_of(CORRECTION_KINDS)),
        (_t("Usage billed"), s.total_of(USAGE_KINDS)),
        (_t("Fees"), s.total_of(FEE_KINDS)),
    ]
    other = s.total_of(OTHER_KINDS)
    if other or any(line.kind in OTHER_KINDS for line in s.lines):
        rows.append((_t("Other movements"), other))
    data: list[list[object]] = [
        [_p(_t("Summary ({currency})").format(currency=s.currency), st.strong_label), ""]
    ]
    data += [[_p(label, st.label), _p(money_text(v, s.places), st.money)] for label, v in rows]
    data.append(
        [
            _p(_t("Closing balance"), st.strong_label),
            _p(money_text(s.closing_minor, s.places), st.strong_money),
        ]
    )
    box = Table(data, colWidths=[50 * mm, 26 * mm], hAlign="RIGHT")
    box.setStyle(
        [
            ("SPAN", (0, 0), (-1, 0)),
            ("BOX", (0, 0), (-1, -1), 0.8, colors.black),
            ("BACKGROUND", (0, 0), (-1, 0), SHADE),
            ("LINEBELOW", (0, 1), (-1, -3), 0.3, GRID),
            ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black),
            ("BACKGROUND", (0, -1), (-1, -1), SHADE),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("TOPPADDING", (0, 0), (-1, -1), 2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ]
    )
    return box


def _movement_row(line: StatementLine, s: Statement, st: _Styles) -> list[object]:
    words = " - ".join(part for part in (line.reference, line.reason) if part)
    return [
        line.at.astimezone(s.zone).strftime(MINUTES),
        _p(_t(KIND_WORDS[line.kind]), st.cell),
        "" if line.receipt_number is None else f"{line.receipt_number:08d}",
        _p(words, st.cell),
        money_text(line.amount_minor, s.places),
        money_text(line.balance_after_minor, s.places),
    ]


def _movements(s: Statement, st: _Styles, fonts: PdfFonts) -> LongTable:
    head = [_t("Date and time"), _t("Kind"), _t("Receipt"), _t("Reference and reason")]
    data: list[list[object]] = [
        [*head, _t("Amount ({currency})").format(currency=s.currency), _t("Balance after")],
        [_t("Opening balance"), "", "", "", "", money_text(s.opening_minor, s.places)],
    ]
    data += [_movement_row(line, s, st) for line in s.lines]
    usage_row = None
    if s.usage_postings:
        usage_row = len(data)
        said = (
            _t("1 usage posting; the detail follows")
            if s.usage_postings == 1
            else _t("{count} usage postings, summed; the detail follows").format(
                count=s.usage_postings
            )
        )
        data.append(
            [
                "",
                _p(_t("Usage billed"), st.cell),
                "",
                _p(said, st.cell),
                money_text(s.usage_billed_minor, s.places),
                "",
            ]
        )
    data.append([_t("Closing balance"), "", "", "", "", money_text(s.closing_minor, s.places)])
    table = LongTable(data, colWidths=MOVE_COLUMNS, repeatRows=1, hAlign="LEFT")
    commands: list[tuple[object, ...]] = [
        ("FONT", (0, 0), (-1, -1), fonts.regular, BODY_SIZE),
        ("FONT", (0, 0), (-1, 0), fonts.bold, BODY_SIZE),
        ("BACKGROUND", (0, 0), (-1, 0), SHADE),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
        ("LINEBELOW", (0, 1), (-1, -2), 0.3, GRID),
        ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black),
        ("SPAN", (0, 1), (3, 1)),
        ("SPAN", (0, -1), (3, -1)),
        ("FONT", (0, -1), (-1, -1), fonts.bold, BODY_SIZE),
        ("ALIGN", (-2, 0), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    if usage_row is not None:
        commands.append(("FONT", (-2, usage_row), (-2, usage_row), fonts.bold, BODY_SIZE))
    table.setStyle(commands)
    return table


def _usage_row(line: UsageLine, s: Statement, st: _Styles) -> list[object]:
    period = line.period or "-"
    if line.kind != "energy":
        period = f"{period} ({_t(line.kind)})"
    price = "-" if line.unit_price is None else f"{line.unit_price:f}"
    return [
        _p(line.meter_serial, st.cell),
        _p(_t(line.utility.value), st.cell),
        _p(period, st.cell),
        "-" if line.tier is None else str(line.tier),
        price,
        f"{decimal_text(_to_meter_units(line.quantity))} {line.unit}",
        money_text(line.amount_minor, s.places),
    ]


def _to_meter_units(quantity: Decimal) -> Decimal:
    """A quantity as the meters count it (Wh, litres: 3 decimals of kWh or m3). A reading that
    spans two TOU periods is shared between them in proportion to time, to 1e-9 kWh: the
    amount is priced from that exact share, the page shows it to the meter's resolution."""
    return quantity.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


def _usage(s: Statement, st: _Styles, fonts: PdfFonts) -> list[Flowable]:
    heading = [CondPageBreak(HEADING_ROOM), _p(_t("Usage billed in detail"), st.heading)]
    if not s.usage and not s.usage_billed_minor:
        return [*heading, _p(_t("No usage was billed this month."), st.value)]
    head = [_t("Meter"), _t("Utility"), _t("TOU period"), _t("Tier")]
    data: list[list[object]] = [
        [
            *head,
            _t("Unit price ({currency})").format(currency=s.currency),
            _t("Quantity"),
            _t("Amount ({currency})").format(currency=s.currency),
        ]
    ]
    data += [_usage_row(line, s, st) for line in s.usage]
    extra = s.usage_undetailed_minor
    if extra:
        said = _t("Usage posted without meter detail")
        data.append([_p(said, st.cell), "", "", "", "", "", money_text(extra, s.places)])
    total = _t("Total usage billed")
    data.append([total, "", "", "", "", "", money_text(-s.usage_billed_minor, s.places)])
    table = LongTable(data, colWidths=USAGE_COLUMNS, repeatRows=1, hAlign="LEFT")
    commands: list[tuple[object, ...]] = [
        ("FONT", (0, 0), (-1, -1), fonts.regular, BODY_SIZE),
        ("FONT", (0, 0), (-1, 0), fonts.bold, BODY_SIZE),
        ("FONT", (0, -1), (-1, -1), fonts.bold, BODY_SIZE),
        ("BACKGROUND", (0, 0), (-1, 0), SHADE),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
        ("LINEBELOW", (0, 1), (-1, -2), 0.3, GRID),
        ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black),
        ("SPAN", (0, -1), (-2, -1)),
        ("ALIGN", (3, 0), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    if extra:
        commands.append(("SPAN", (0, -2), (-2, -2)))
    table.setStyle(commands)
    notes = []
    if any(line.unit_price is None for line in s.usage):
        notes.append(
            _p(
                _t(
                    "Unit price '-': the usage was priced at more than one price (time-of-use "
                    "periods or tiers) in one posting; its amount is exact."
                ),
                st.note,
            )
        )
    return [*heading, table, *notes]


def _build(statement: Statement, fonts: PdfFonts, total_pages: int) -> tuple[bytes, int]:
    """Lay the statement out; ``total_pages`` 0 means not known yet (the counting pass)."""
    s = statement
    st = _Styles(fonts)
    buffer = io.BytesIO()
    title = _t("Account statement")
    doc = page_document(
        buffer,
        fonts,
        title=f"{title} {s.account_number} {s.period.words()}",
        author=s.site_name,
        subject=f"{s.holder_name} - {s.room}",
    )

    def decorate(canvas: Canvas, _doc: object) -> None:
        width, height = A4
        left, right = MARGIN + FRAME_PADDING, width - MARGIN - FRAME_PADDING
        canvas.saveState()
        canvas.setFont(fonts.regular, 8)
        canvas.setFillColor(MUTED)
        canvas.drawString(left, height - MARGIN, f"{s.site_name} - {title}")
        running = f"{s.account_number}  {s.holder_name}  {s.period.words()}"
        canvas.drawRightString(right, height - MARGIN, running)
        page = _t("Page {page} of {pages}").format(
            page=canvas.getPageNumber(), pages=total_pages or "?"
        )
        canvas.drawCentredString(width / 2, MARGIN - 2 * mm, page)
        canvas.restoreState()

    story = _header(s, st)
    story += [CondPageBreak(HEADING_ROOM), _p(_t("Movements"), st.heading)]
    story.append(_movements(s, st, fonts))
    story.append(
        _p(
            _t(
                "Balance after: the balance right after the movement, usage billed until then "
                "included. Usage is posted hourly and shown as one line."
            ),
            st.note,
        )
    )
    story += _usage(s, st, fonts)
    doc.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return buffer.getvalue(), int(doc.page)
