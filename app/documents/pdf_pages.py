"""The page every MeterDesk PDF document is laid out on (shift reports, statements, reports):
the margins, the room at the top and bottom for the running header and "Page N of M", the
document's metadata and the CJK font, and no timestamps in the file (the same input, the same
bytes)."""

from __future__ import annotations

import io

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import SimpleDocTemplate

from app.documents.pdf_fonts import PdfFonts

MARGIN = 15 * mm
FRAME_PADDING = 6  # points: reportlab's default Frame padding inside the margins


def page_document(
    buffer: io.BytesIO,
    fonts: PdfFonts,
    *,
    title: str,
    subject: str,
    author: str = "",
    pagesize: tuple[float, float] = A4,
) -> SimpleDocTemplate:
    return SimpleDocTemplate(
        buffer,
        pagesize=pagesize,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN + 4 * mm,
        bottomMargin=MARGIN + 4 * mm,
        title=title,
        author=author,
        subject=subject,
        creator="MeterDesk",
        initialFontName=fonts.regular,
        invariant=True,
    )
