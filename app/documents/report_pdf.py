"""A report as PDF: A4 (landscape beyond ``PORTRAIT_COLUMNS`` columns) in the project's CJK font.

First page: the title, the subtitle and who made it when (the site's zone); every page: the site
and the title at the top, "Page N of M" at the bottom. The table repeats its header on each
page, numbers right-aligned with thousands separators (``format_cell``), zebra rows, the totals
bold. Then the chart when the report has one (``report_pdf_chart``), then the notes.

Pages are counted while they are laid out once (``_NumberedCanvas`` keeps each page until the
end and writes "of M" on save), so a report of thousands of rows is not laid out twice.
"""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, LongTable, Paragraph, Spacer

from app.documents.pdf_fonts import PdfFonts, pdf_fonts
from app.documents.pdf_pages import FRAME_PADDING, MARGIN, page_document
from app.documents.report_cells import (
    MINUTES,
    NUMERIC_KINDS,
    check_table,
    format_cell,
    heading,
    local_moment,
)
from app.documents.report_pdf_chart import chart_flowables
from app.i18n import tr
from app.queries.report_table import Column, ColumnKind, ReportTable

I18N_CONTEXT = "report_export"
PORTRAIT_COLUMNS = 7
BODY_SIZE = 8.5
CELL_PADDING = 4  # points left and right of a cell's text
TEXT_COLUMN_MIN = 22 * mm  # a wrapping text column is not squeezed below this
GRID = colors.HexColor("#BBBBBB")
HEADER_SHADE = colors.HexColor("#E4E4E4")
ZEBRA = colors.HexColor("#F4F6F8")
TOTALS_SHADE = colors.HexColor("#ECECEC")
MUTED = colors.HexColor("#555555")


def report_pdf(table: ReportTable) -> bytes:
    """The report as PDF bytes."""
    check_table(table)
    fonts = pdf_fonts()
    page = landscape(A4) if len(table.columns) > PORTRAIT_COLUMNS else A4
    width, height = page
    content_width = width - 2 * MARGIN - 2 * FRAME_PADDING
    st = _Styles(fonts)
    generated = local_moment(table.generated_at, table.zone).strftime(MINUTES)
    buffer = io.BytesIO()
    doc = page_document(
        buffer,
        fonts,
        title=table.title,
        subject=f"{table.site} - {table.subtitle}",
        pagesize=page,
    )

    def decorate(canvas: Canvas, _doc: object) -> None:
        canvas.saveState()
        canvas.setFont(fonts.regular, 8)
        canvas.setFillColor(MUTED)
        left, right = MARGIN + FRAME_PADDING, width - MARGIN - FRAME_PADDING
        canvas.drawString(left, height - MARGIN, table.site)
        canvas.drawRightString(right, height - MARGIN, table.title)
        canvas.restoreState()

    made = tr(I18N_CONTEXT, "{site} - generated {time}").format(site=table.site, time=generated)
    story: list[Flowable] = [
        _p(table.title, st.title),
        _p(table.subtitle, st.subtitle),
        _p(made, st.muted),
        Spacer(1, 4 * mm),
        _table(table, st, fonts, content_width),
    ]
    if table.chart is not None:
        story += chart_flowables(table, table.chart, fonts, content_width, st.muted)
    if table.notes:
        story.append(Spacer(1, 4 * mm))
        story += [_p(note, st.note) for note in table.notes]

    def numbered(*args: Any, **kwargs: Any) -> _NumberedCanvas:
        return _NumberedCanvas(*args, font=fonts.regular, **kwargs)

    doc.build(story, onFirstPage=decorate, onLaterPages=decorate, canvasmaker=numbered)
    return buffer.getvalue()


class _NumberedCanvas(Canvas):  # type: ignore[misc]  # reportlab has no type hints
    """Holds every page until ``save`` and then writes "Page N of M" at its foot."""

    def __init__(self, *args: Any, font: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._font = font
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:  # reportlab calls it by this name
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        count = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            text = tr(I18N_CONTEXT, "Page {page} of {pages}").format(
                page=self.getPageNumber(), pages=count
            )
            self.saveState()
            self.setFont(self._font, 8)
            self.setFillColor(MUTED)
            self.drawCentredString(self._pagesize[0] / 2, MARGIN - 2 * mm, text)
            self.restoreState()
            super().showPage()
        super().save()


class _Styles:
    def __init__(self, fonts: PdfFonts) -> None:
        def style(name: str, size: float, bold: bool = False, **kw: Any) -> ParagraphStyle:
            font = fonts.bold if bold else fonts.regular
            return ParagraphStyle(name, fontName=font, fontSize=size, leading=size * 1.25, **kw)

        self.title = style("title", 16, bold=True, spaceAfter=1.5 * mm)
        self.subtitle = style("subtitle", 10.5, spaceAfter=1 * mm)
        self.muted = style("muted", 8.5, textColor=MUTED)
        self.note = style("note", 8.5, textColor=MUTED, spaceAfter=1 * mm)
        self.cell = style("cell", BODY_SIZE)
        self.cell_bold = style("cell_bold", BODY_SIZE, bold=True)
        self.head = style("head", BODY_SIZE, bold=True)
        self.head_right = style("head_right", BODY_SIZE, bold=True, alignment=TA_RIGHT)


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _wraps(column: Column) -> bool:
    """Text wraps inside its column; numbers, days and moments never do."""
    return column.kind is ColumnKind.TEXT


def _table(table: ReportTable, st: _Styles, fonts: PdfFonts, width: float) -> LongTable:
    columns = table.columns
    header: list[object] = [
        _p(heading(c), st.head_right if c.kind in NUMERIC_KINDS else st.head) for c in columns
    ]
    texts = [
        [format_cell(c, v, table.zone) for c, v in zip(columns, row, strict=True)]
        for row in table.rows
    ]
    totals = (
        [format_cell(c, v, table.zone) for c, v in zip(columns, table.totals, strict=True)]
        if table.totals is not None
        else None
    )
    data: list[list[object]] = [header]
    for row_texts in texts:
        data.append([_cell(c, t, st.cell) for c, t in zip(columns, row_texts, strict=True)])
    if not table.rows:
        data.append(
            [tr(I18N_CONTEXT, "Nothing to report for this period."), *[""] * (len(columns) - 1)]
        )
    if totals is not None:
        data.append([_cell(c, t, st.cell_bold) for c, t in zip(columns, totals, strict=True)])
    widths = _column_widths(table, texts, totals, fonts, width)
    result = LongTable(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
    commands: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, -1), fonts.regular, BODY_SIZE),
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_SHADE),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, GRID),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, ZEBRA]),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING),
        ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
    ]
    for index, column in enumerate(columns):
        if column.kind in NUMERIC_KINDS:
            commands.append(("ALIGN", (index, 1), (index, -1), "RIGHT"))
    if not table.rows:
        commands.append(("SPAN", (0, 1), (-1, 1)))
    if totals is not None:
        commands += [
            ("FONT", (0, -1), (-1, -1), fonts.bold, BODY_SIZE),
            ("BACKGROUND", (0, -1), (-1, -1), TOTALS_SHADE),
            ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black),
        ]
    result.setStyle(commands)
    return result


def _cell(column: Column, text: str, style: ParagraphStyle) -> object:
    return _p(text, style) if _wraps(column) and text else text


def _column_widths(
    table: ReportTable,
    texts: list[list[str]],
    totals: list[str] | None,
    fonts: PdfFonts,
    available: float,
) -> list[float]:
    """Each column as wide as its widest text; when the page is too narrow, text columns wrap
    (down to ``TEXT_COLUMN_MIN``) and numbers keep their width; extra room is shared out."""
    lines = [*texts, *([totals] if totals is not None else [])]
    pad = 2 * CELL_PADDING + 1

    def measure(text: str, bold: bool = False) -> float:
        font = fonts.bold if bold else fonts.regular
        return max((stringWidth(line, font, BODY_SIZE) for line in text.split("\n")), default=0)

    natural: list[float] = []
    least: list[float] = []
    for index, column in enumerate(table.columns):
        title = heading(column)
        word = max((measure(w, bold=True) for w in title.split()), default=0) + pad
        widest = max((measure(row[index]) for row in lines), default=0.0)
        if totals is not None:
            widest = max(widest, measure(totals[index], bold=True))
        full = max(widest, measure(title, bold=True)) + pad
        natural.append(full)
        least.append(max(word, min(full, TEXT_COLUMN_MIN) if _wraps(column) else widest + pad))
    total = sum(natural)
    if total <= available:
        return [w * available / total for w in natural]
    room = sum(n - m for n, m in zip(natural, least, strict=True))
    floor = sum(least)
    if floor >= available or room <= 0:
        return [m * available / floor for m in least]
    cut = (total - available) / room
    return [n - (n - m) * cut for n, m in zip(natural, least, strict=True)]
