"""The font of every PDF MeterDesk writes: one CJK-capable face, registered once per process.

Holder names and site addresses are often Chinese, so the base-14 PDF fonts will not do. We
prefer a TrueType CJK font found on the machine, embedded as a subset (the text stays
extractable and prints the same everywhere); without one we fall back to reportlab's built-in
CID font STSong-Light, which a PDF viewer must supply itself. ``METERDESK_PDF_FONT`` (a path to
a .ttf or .ttc) overrides the search.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFError, TTFont

log = logging.getLogger(__name__)

FONT_ENV = "METERDESK_PDF_FONT"
FALLBACK_CID_FONT = "STSong-Light"

# (regular file, subfont index inside a .ttc, bold file or "" when the family has none), in
# order of preference. Only TrueType outlines can be embedded by reportlab: Noto Sans CJK ships
# CFF outlines and is skipped with a log line when it refuses to load.
FONT_CANDIDATES: tuple[tuple[str, int, str], ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0, ""),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0, ""),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2, ""),
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", 2, ""),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0, ""),
    ("C:/Windows/Fonts/msyh.ttc", 0, "C:/Windows/Fonts/msyhbd.ttc"),
    ("C:/Windows/Fonts/simhei.ttf", 0, ""),
    ("C:/Windows/Fonts/simsun.ttc", 0, ""),
    ("/Library/Fonts/Arial Unicode.ttf", 0, ""),
)


@dataclass(frozen=True)
class PdfFonts:
    """Registered reportlab font names; ``bold`` equals ``regular`` when no bold face exists."""

    regular: str
    bold: str
    source: str  # the font file, or the CID font name when nothing was embedded

    @property
    def embedded(self) -> bool:
        return self.regular != FALLBACK_CID_FONT


def _register_ttf(path: str, subfont_index: int) -> str | None:
    """Register one TrueType face; its reportlab name, or None when the file is unusable."""
    file = Path(path)
    if not file.is_file():
        return None
    name = f"MeterDesk-{file.stem}-{subfont_index}"
    if name in pdfmetrics.getRegisteredFontNames():
        return name
    try:
        pdfmetrics.registerFont(TTFont(name, str(file), subfontIndex=subfont_index))
    except (TTFError, OSError, ValueError) as error:
        log.info("PDF font %s is not usable: %s", file, error)
        return None
    return name


def find_fonts() -> PdfFonts:
    """Register and return the best available font (no caching: ``pdf_fonts`` caches)."""
    override = os.environ.get(FONT_ENV, "").strip()
    if override:
        name = _register_ttf(override, 0)
        if name is not None:
            return PdfFonts(name, name, override)
        log.warning("%s=%s is not a usable TrueType font; searching the system", FONT_ENV, override)
    for regular_path, index, bold_path in FONT_CANDIDATES:
        regular = _register_ttf(regular_path, index)
        if regular is None:
            continue
        bold = (_register_ttf(bold_path, index) if bold_path else None) or regular
        return PdfFonts(regular, bold, regular_path)
    log.warning("no CJK TrueType font found; PDFs use %s, not embedded", FALLBACK_CID_FONT)
    pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_CID_FONT))
    return PdfFonts(FALLBACK_CID_FONT, FALLBACK_CID_FONT, FALLBACK_CID_FONT)


@cache
def pdf_fonts() -> PdfFonts:
    """The process-wide PDF fonts, chosen and registered on first use."""
    return find_fonts()
