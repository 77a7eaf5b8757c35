"""Receipts as PDF: a pure function from a ``ReceiptDocument`` to bytes, no database, no Qt.

Two layouts: ``roll80`` for 80 mm thermal printers (the page is exactly as tall as the content)
and ``a4`` for office printers. Amounts arrive already formatted (the billing layer owns money
and rounding); this module only lays them out. Rendering is deterministic (reportlab's invariant
mode): the same document gives the same bytes, so a reprint can be compared with the original.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import BaseDocTemplate, Flowable, Frame, PageTemplate, Paragraph, Table
from reportlab.platypus.flowables import HRFlowable, KeepTogether, Spacer

from app.documents.pdf_fonts import PdfFonts, pdf_fonts

TITLES: dict[str, str] = {
    "recharge": "Recharge receipt",
    "refund": "Refund receipt",
    "settlement": "Settlement receipt",
    "adjustment": "Adjustment receipt",
    "opening": "Opening balance receipt",
}
LAYOUTS = ("roll80", "a4")
COPY_BANNER = "COPY - reprint"

ROLL_WIDTH = 80 * mm
ROLL_MARGIN = 4 * mm
A4_MARGIN = 20 * mm
A4_BLOCK_WIDTH = 130 * mm


@dataclass(frozen=True)
class ReceiptDocument:
    """Everything printed on one receipt, as display strings; ``issued_at`` is site-local."""

    number: int
    kind: str
    site_name: str
    site_address: str
    issued_at: datetime
    operator: str
    room: str
    holder: str
    account: str
    meters: tuple[str, ...]
    amount: str
    currency: str
    method: str | None
    balance_before: str
    balance_after: str
    tariffs: tuple[str, ...]
    reason: str = ""
    approved_by: str = ""
    copy: bool = False
    header: tuple[str, ...] = ()  # the site's receipt header lines (hours, phone...)
    # The audit trail's head when the receipt was issued (``57:3fa09c1d2e4b``): printed, it
    # lies outside the database, so ``ledger verify --anchor`` can prove the trail up to it
    # was not rewritten or cut short since.
    audit_anchor: str = ""


def anchor_line(anchor: str) -> str:
    return f"Audit check {anchor}"


def local_time_text(at: datetime) -> str:
    """``2026-03-14 09:30:05 +08:00``; refuses a naive time, whose zone nobody knows."""
    if at.utcoffset() is None:
        raise ValueError(f"{at!r} has no time zone; pass the site-local time with its offset.")
    iso = at.isoformat(sep=" ", timespec="seconds")
    return f"{iso[:19]} {iso[19:]}"


def render_receipt(doc: ReceiptDocument, layout: str) -> bytes:
    """The receipt as PDF bytes in ``layout`` ("roll80" or "a4")."""
    if layout not in LAYOUTS:
        raise ValueError(f"Unknown receipt layout {layout!r}; use one of: {', '.join(LAYOUTS)}.")
    if doc.kind not in TITLES:
        raise ValueError(f"Unknown receipt kind {doc.kind!r}; use one of: {', '.join(TITLES)}.")
    fonts = pdf_fonts()
    if layout == "roll80":
        return _render_roll80(doc, fonts)
    return _render_a4(doc, fonts)


def _text(value: str) -> str:
    """Paragraph markup for a plain value; line breaks in it are kept."""
    return "<br/>".join(escape(line) for line in value.split("\n"))


def _info_rows(doc: ReceiptDocument) -> list[tuple[str, str]]:
    rows = [
        ("Receipt No.", f"{doc.number:08d}"),
        ("Time", local_time_text(doc.issued_at)),
        ("Operator", doc.operator),
        ("Room", doc.room),
        ("Holder", doc.holder),
        ("Account", doc.account),
        ("Meters", "\n".join(doc.meters) or "-"),
        ("Tariff", "\n".join(doc.tariffs) or "-"),
    ]
    if doc.reason:
        rows.append(("Reason", doc.reason))
    if doc.approved_by:
        rows.append(("Approved by", doc.approved_by))
    return rows


def _money_rows(doc: ReceiptDocument) -> list[tuple[str, str]]:
    method = [("Method", doc.method)] if doc.method else []
    return [
        *method,
        ("Amount", f"{doc.currency} {doc.amount}"),
        ("Balance before", f"{doc.currency} {doc.balance_before}"),
        ("Balance after", f"{doc.currency} {doc.balance_after}"),
    ]


class _Styles:
    """Paragraph styles of one layout, scaled from its body size."""

    def __init__(self, fonts: PdfFonts, size: float) -> None:
        def style(name: str, scale: float = 1, bold: bool = False, **kw: object) -> ParagraphStyle:
            font, points = (fonts.bold if bold else fonts.regular), size * scale
            return ParagraphStyle(name, fontName=font, fontSize=points, leading=points * 1.25, **kw)

        self.body = style("body")
        self.label = style("label", textColor=colors.HexColor("#444444"))
        self.right = style("right", alignment=TA_RIGHT)
        self.amount = style("amount", 1.45, bold=True, alignment=TA_RIGHT)
        self.title = style("title", 1.45, bold=True, alignment=TA_CENTER)
        self.site = style("site", 1.1, bold=True, alignment=TA_CENTER)
        self.center = style("center", alignment=TA_CENTER)
        self.banner = style("banner", 1.3, bold=True, alignment=TA_CENTER)
        self.small = style("small", 0.85, alignment=TA_CENTER)


def _header(doc: ReceiptDocument, st: _Styles, width: float) -> list[Flowable]:
    story: list[Flowable] = [
        Paragraph(escape(TITLES[doc.kind]), st.title),
        Paragraph(_text(doc.site_name), st.site),
    ]
    if doc.site_address:
        story.append(Paragraph(_text(doc.site_address), st.center))
    for line in doc.header:
        story.append(Paragraph(_text(line), st.small))
    story.append(Paragraph(f"No. {doc.number:08d}", st.banner))
    if doc.copy:
        banner = Table([[Paragraph(COPY_BANNER, st.banner)]], colWidths=[width])
        banner.setStyle([("BOX", (0, 0), (-1, -1), 1.5, colors.black)])
        story += [Spacer(1, 2 * mm), banner]
    return story


def _pairs(
    rows: list[tuple[str, str]], st: _Styles, widths: list[float], money: bool, grid: bool
) -> Table:
    """A two-column label/value table; money rows right-align, and Amount is printed large."""
    data = []
    for label, value in rows:
        value_style = st.body
        if money:
            value_style = st.amount if label == "Amount" else st.right
        data.append([Paragraph(escape(label), st.label), Paragraph(_text(value), value_style)])
    table = Table(data, colWidths=widths, hAlign="CENTER")
    pad = 3.0 if grid else 1.0
    lines = [("LINEBELOW", (0, 0), (-1, -1), 0.4, colors.HexColor("#BBBBBB"))] if grid else []
    table.setStyle(
        [
            ("VALIGN", (0, 0), (-1, -1), "BOTTOM" if money else "TOP"),
            ("LEFTPADDING", (0, 0), (0, -1), 0),
            ("RIGHTPADDING", (-1, 0), (-1, -1), 0),
            ("TOPPADDING", (0, 0), (-1, -1), pad),
            ("BOTTOMPADDING", (0, 0), (-1, -1), pad + 1),
            *lines,
        ]
    )
    return table


def _build(
    story: list[Flowable],
    doc: ReceiptDocument,
    fonts: PdfFonts,
    pagesize: tuple[float, float],
    margin: float,
    on_page: Callable[[Canvas, object], None] = lambda _canvas, _template: None,
) -> bytes:
    buffer = io.BytesIO()
    width, height = pagesize
    frame = Frame(margin, margin, width - 2 * margin, height - 2 * margin, 0, 0, 0, 0)
    template = BaseDocTemplate(
        buffer,
        pagesize=pagesize,
        title=f"{TITLES[doc.kind]} No. {doc.number:08d}",
        author=doc.operator,
        subject=doc.site_name,
        creator="MeterDesk",
        initialFontName=fonts.regular,
        invariant=True,
    )
    template.addPageTemplates([PageTemplate("receipt", [frame], onPage=on_page)])
    template.build(story)
    return buffer.getvalue()


def _roll80_story(doc: ReceiptDocument, st: _Styles, width: float) -> list[Flowable]:
    rule = {"width": "100%", "thickness": 0.6, "dash": (2, 2), "spaceBefore": 4, "spaceAfter": 4}
    columns = [24 * mm, width - 24 * mm]
    story = _header(doc, st, width)
    story += [HRFlowable(**rule), _pairs(_info_rows(doc), st, columns, money=False, grid=False)]
    story += [HRFlowable(**rule), _pairs(_money_rows(doc), st, columns, money=True, grid=False)]
    story.append(HRFlowable(**rule))
    if doc.copy:
        story.append(Paragraph(COPY_BANNER, st.banner))
    story.append(Paragraph("Please keep this receipt.", st.small))
    if doc.audit_anchor:
        story.append(Paragraph(escape(anchor_line(doc.audit_anchor)), st.small))
    return story


def _render_roll80(doc: ReceiptDocument, fonts: PdfFonts) -> bytes:
    width = ROLL_WIDTH - 2 * ROLL_MARGIN
    st = _Styles(fonts, 8)
    content = 0.0
    for flowable in _roll80_story(doc, st, width):
        _, height = flowable.wrap(width, 100_000 * mm)
        content += height + flowable.getSpaceBefore() + flowable.getSpaceAfter()
    # A little slack so rounding never pushes the last line onto a second page.
    page_height = content + 2 * ROLL_MARGIN + 2 * mm
    story = _roll80_story(doc, st, width)
    return _build(story, doc, fonts, (ROLL_WIDTH, page_height), ROLL_MARGIN)


def _render_a4(doc: ReceiptDocument, fonts: PdfFonts) -> bytes:
    st = _Styles(fonts, 10.5)
    columns = [40 * mm, A4_BLOCK_WIDTH - 40 * mm]
    story = _header(doc, st, A4_BLOCK_WIDTH)
    story += [Spacer(1, 6 * mm), _pairs(_info_rows(doc), st, columns, money=False, grid=True)]
    money = _pairs(_money_rows(doc), st, columns, money=True, grid=True)
    story += [Spacer(1, 5 * mm), KeepTogether([money])]
    if doc.audit_anchor:
        story += [Spacer(1, 4 * mm), Paragraph(escape(anchor_line(doc.audit_anchor)), st.small)]

    def footer(canvas: Canvas, _template: object) -> None:
        canvas.saveState()
        centre = A4[0] / 2
        if canvas.getPageNumber() > 1:
            canvas.setFont(fonts.regular, 9)
            heading = f"{TITLES[doc.kind]} No. {doc.number:08d} (continued)"
            canvas.drawCentredString(centre, A4[1] - A4_MARGIN + 4 * mm, heading)
        if doc.copy:
            canvas.setFont(fonts.bold, 12)
            canvas.drawCentredString(centre, A4_MARGIN - 2 * mm, COPY_BANNER)
        canvas.setFont(fonts.regular, 8)
        line = f"{doc.site_name}  ·  No. {doc.number:08d}  ·  {local_time_text(doc.issued_at)}"
        canvas.drawCentredString(centre, A4_MARGIN - 8 * mm, line)
        canvas.restoreState()

    return _build(story, doc, fonts, A4, A4_MARGIN, footer)
