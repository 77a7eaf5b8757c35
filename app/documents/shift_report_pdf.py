"""The cashier's shift close report as PDF: a pure function from a ``ShiftReport`` to bytes.

A4 portrait: who and when, every transaction of the shift (the column header repeats on each
page), the totals per payment method and the cash drawer count. Amounts arrive formatted by the
billing layer. Pages are numbered "Page N of M", so the report is laid out twice: once to count
the pages, once to print them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, KeepTogether, LongTable, Paragraph
from reportlab.platypus.flowables import Spacer
from reportlab.platypus.tables import Table

from app.documents.pdf_fonts import PdfFonts, pdf_fonts
from app.documents.pdf_pages import FRAME_PADDING, MARGIN, page_document
from app.documents.receipt_pdf import local_time_text

TITLE = "Shift close report"
BODY_SIZE = 9
GRID = colors.HexColor("#BBBBBB")
SHADE = colors.HexColor("#EEEEEE")
CONTENT_WIDTH = A4[0] - 2 * MARGIN - 2 * FRAME_PADDING
# No., Time, Kind, Room, Account, Method; Amount takes the rest of the content width.
_FIXED = [20 * mm, 27 * mm, 24 * mm, 24 * mm, 27 * mm, 22 * mm]
COLUMNS = [*_FIXED, CONTENT_WIDTH - sum(_FIXED)]


@dataclass(frozen=True)
class ShiftLine:
    """One transaction of the shift; ``amount`` is signed and formatted, ``at`` site-local."""

    number: int
    at: datetime
    kind: str
    room: str
    account: str
    method: str
    amount: str


@dataclass(frozen=True)
class ShiftReport:
    """A closed shift; times are site-local, money strings already formatted."""

    site_name: str
    operator: str
    opened_at: datetime
    closed_at: datetime
    currency: str
    opening_float: str
    lines: tuple[ShiftLine, ...]
    totals_by_method: tuple[tuple[str, str], ...]
    cash_expected: str
    cash_counted: str | None
    difference: str | None
    closed_by: str
    # The audit trail's head when the shift closed (``57:3fa09c1d2e4b``): on paper it is out of
    # reach of a database edit; ``ledger verify --anchor`` checks the trail still holds it.
    audit_anchor: str = ""


def render_shift_report(report: ShiftReport) -> bytes:
    """The report as A4 PDF bytes."""
    fonts = pdf_fonts()
    _, page_count = _build(report, fonts, total_pages=0)
    pdf, _ = _build(report, fonts, total_pages=page_count)
    return pdf


class _Styles:
    def __init__(self, fonts: PdfFonts) -> None:
        def style(name: str, size: float, bold: bool = False, **kw: object) -> ParagraphStyle:
            font = fonts.bold if bold else fonts.regular
            return ParagraphStyle(name, fontName=font, fontSize=size, leading=size * 1.25, **kw)

        self.title = style("title", 17, bold=True)
        self.site = style("site", 12)
        self.heading = style("heading", 12, bold=True, spaceBefore=4 * mm, spaceAfter=2 * mm)
        self.cell = style("cell", BODY_SIZE)
        self.label = style("label", 10, textColor=colors.HexColor("#444444"))
        self.value = style("value", 10)
        self.money = style("money", 10, alignment=TA_RIGHT)
        self.strong = style("strong", 11, bold=True, alignment=TA_RIGHT)


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def _header(report: ShiftReport, st: _Styles) -> list[Flowable]:
    rows = [
        ("Operator", report.operator, "Opened", local_time_text(report.opened_at)),
        ("Closed by", report.closed_by, "Closed", local_time_text(report.closed_at)),
        ("Currency", report.currency, "Transactions", str(len(report.lines))),
    ]
    data = [
        [_p(a, st.label), _p(b, st.value), _p(c, st.label), _p(d, st.value)] for a, b, c, d in rows
    ]
    table = Table(data, colWidths=[25 * mm, 65 * mm, 28 * mm, 62 * mm], hAlign="LEFT")
    table.setStyle([("LEFTPADDING", (0, 0), (0, -1), 0), ("VALIGN", (0, 0), (-1, -1), "TOP")])
    return [_p(TITLE, st.title), _p(report.site_name, st.site), Spacer(1, 3 * mm), table]


def _transactions(report: ShiftReport, st: _Styles, fonts: PdfFonts) -> LongTable:
    head: list[object] = ["No.", "Time", "Kind", "Room", "Account", "Method"]
    data = [[*head, f"Amount ({report.currency})"]]
    for line in report.lines:
        data.append(
            [
                f"{line.number:08d}",
                line.at.strftime("%m-%d %H:%M:%S"),
                _p(line.kind, st.cell),
                _p(line.room, st.cell),
                _p(line.account, st.cell),
                _p(line.method, st.cell),
                line.amount,
            ]
        )
    if not report.lines:
        data.append(["No transactions in this shift.", "", "", "", "", "", ""])
    table = LongTable(data, colWidths=COLUMNS, repeatRows=1, hAlign="LEFT")
    commands: list[tuple[object, ...]] = [
        ("FONT", (0, 0), (-1, -1), fonts.regular, BODY_SIZE),
        ("FONT", (0, 0), (-1, 0), fonts.bold, BODY_SIZE),
        ("BACKGROUND", (0, 0), (-1, 0), SHADE),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
        ("LINEBELOW", (0, 1), (-1, -1), 0.3, GRID),
        ("ALIGN", (-1, 0), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    if not report.lines:
        commands.append(("SPAN", (0, 1), (-1, 1)))
    table.setStyle(commands)
    return table


def _money_table(rows: list[tuple[str, str]], st: _Styles, strong_last: bool) -> Table:
    data = [[_p(label, st.label), _p(value, st.money)] for label, value in rows]
    if strong_last and data:
        label, value = rows[-1]
        data[-1] = [_p(label, st.label), _p(value, st.strong)]
    table = Table(data, colWidths=[60 * mm, 40 * mm], hAlign="LEFT")
    table.setStyle(
        [
            ("LEFTPADDING", (0, 0), (0, -1), 0),
            ("LINEBELOW", (0, 0), (-1, -1), 0.3, GRID),
            ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
        ]
    )
    return table


def _summary(report: ShiftReport, st: _Styles) -> list[Flowable]:
    methods = list(report.totals_by_method) or [("No payments", "0")]
    drawer = [
        ("Opening float", report.opening_float),
        ("Cash expected in drawer", report.cash_expected),
        ("Cash counted", report.cash_counted if report.cash_counted is not None else "not counted"),
        ("Difference", report.difference if report.difference is not None else "-"),
    ]
    sign = Table(
        [[_p(f"Closed by: {report.closed_by}", st.value), _p("Signature:", st.value), ""]],
        colWidths=[80 * mm, 25 * mm, 60 * mm],
        hAlign="LEFT",
    )
    sign.setStyle(
        [("LEFTPADDING", (0, 0), (0, -1), 0), ("LINEBELOW", (2, 0), (2, 0), 0.6, "black")]
    )
    return [
        KeepTogether(
            [
                _p(f"Totals by method ({report.currency})", st.heading),
                _money_table(methods, st, False),
            ]
        ),
        KeepTogether(
            [
                _p(f"Cash drawer ({report.currency})", st.heading),
                _money_table(drawer, st, strong_last=True),
                Spacer(1, 12 * mm),
                sign,
                *(
                    [Spacer(1, 6 * mm), _p(f"Audit check {report.audit_anchor}", st.value)]
                    if report.audit_anchor
                    else []
                ),
            ]
        ),
    ]


def _build(report: ShiftReport, fonts: PdfFonts, total_pages: int) -> tuple[bytes, int]:
    """Lay the report out; ``total_pages`` 0 means not known yet (the counting pass)."""
    st = _Styles(fonts)
    buffer = io.BytesIO()
    doc = page_document(
        buffer,
        fonts,
        title=f"{TITLE} - {report.operator} - {local_time_text(report.closed_at)}",
        author=report.closed_by,
        subject=report.site_name,
    )

    def decorate(canvas: Canvas, _doc: object) -> None:
        width, height = A4
        left, right = MARGIN + FRAME_PADDING, width - MARGIN - FRAME_PADDING
        page = canvas.getPageNumber()
        canvas.saveState()
        canvas.setFont(fonts.regular, 8)
        canvas.drawString(left, height - MARGIN, f"{report.site_name} - {TITLE}")
        opened, closed = report.opened_at, report.closed_at
        period = f"{report.operator}  {opened:%Y-%m-%d %H:%M} - {closed:%Y-%m-%d %H:%M}"
        canvas.drawRightString(right, height - MARGIN, period)
        canvas.drawCentredString(width / 2, MARGIN - 2 * mm, f"Page {page} of {total_pages or '?'}")
        canvas.restoreState()

    story = _header(report, st)
    story += [_p("Transactions", st.heading), _transactions(report, st, fonts)]
    story += _summary(report, st)
    doc.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return buffer.getvalue(), int(doc.page)
