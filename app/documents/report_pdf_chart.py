"""The chart of a report PDF: bars or lines of the report's numeric columns over one column's
labels, with a legend naming each series by its column title, drawn with reportlab.graphics.

A chart is a picture of the table, so floats are fine here: the exact numbers stay in the
table. Beyond ``MAX_CATEGORIES`` labels a chart is unreadable; it shows the first ones and says
so under it.
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.graphics.widgets.markers import makeMarker
from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer

from app.documents.pdf_fonts import PdfFonts
from app.documents.report_cells import display_width, format_cell, heading, number_of
from app.i18n import tr
from app.queries.report_table import Chart, ReportTable

I18N_CONTEXT = "report_export"
MAX_CATEGORIES = 40
LABEL_CHARACTERS = 16  # display cells of a category label before it is cut
CHART_HEIGHT = 85 * mm
SERIES_COLORS = (
    colors.HexColor("#2E6FBF"),
    colors.HexColor("#E08A1E"),
    colors.HexColor("#3A9A5B"),
    colors.HexColor("#C0392B"),
    colors.HexColor("#7D5BA6"),
    colors.HexColor("#6B6B6B"),
)
CHART_KINDS = ("bar", "line")


def chart_flowables(
    table: ReportTable, chart: Chart, fonts: PdfFonts, width: float, note: ParagraphStyle
) -> list[Flowable]:
    """The chart drawing ``width`` points wide, and the note when categories were left out."""
    if chart.kind not in CHART_KINDS:
        raise ValueError(
            f"Report {table.name!r} asks for a {chart.kind!r} chart; use one of: "
            f"{', '.join(CHART_KINDS)}."
        )
    category_column = table.columns[table.column(chart.category)]
    rows = table.rows[:MAX_CATEGORIES]
    labels = [
        _short(format_cell(category_column, value, table.zone))
        for value in table.values(chart.category)[:MAX_CATEGORIES]
    ]
    series = [table.columns[table.column(key)] for key in chart.series]
    data = []
    for column in series:
        index = table.column(column.key)
        numbers = [number_of(column, row[index]) for row in rows]
        data.append(tuple(None if n is None else float(n) for n in numbers))
    story: list[Flowable] = [
        _drawing(chart, labels, data, series_names(table, chart), fonts, width)
    ]
    if len(table.rows) > MAX_CATEGORIES:
        text = tr(I18N_CONTEXT, "The chart shows the first {shown} of {count} rows.").format(
            shown=MAX_CATEGORIES, count=len(table.rows)
        )
        story.append(Paragraph(escape(text), note))
    return [Spacer(1, 5 * mm), KeepTogether(story)]


def series_names(table: ReportTable, chart: Chart) -> list[str]:
    """The legend's names: each series' column title with its unit."""
    return [heading(table.columns[table.column(key)]) for key in chart.series]


def _drawing(
    chart: Chart,
    labels: list[str],
    data: list[tuple[float | None, ...]],
    names: list[str],
    fonts: PdfFonts,
    width: float,
) -> Drawing:
    drawing = Drawing(width, CHART_HEIGHT)
    top = CHART_HEIGHT
    if chart.title:
        drawing.add(String(0, top - 12, chart.title, fontName=fonts.bold, fontSize=11))
        top -= 18
    legend = _legend(names, fonts, top)
    drawing.add(legend)
    top -= 16
    angle = _label_angle(labels)
    widest_label = max((stringWidth(label, fonts.regular, 7) for label in labels), default=0)
    bottom = 18 if angle == 0 else 10 + widest_label * math.sin(math.radians(angle))
    plot = VerticalBarChart() if chart.kind == "bar" else HorizontalLineChart()
    widest_value = max((abs(v) for row in data for v in row if v is not None), default=0.0)
    plot.x = 12 + stringWidth(_axis_label(-widest_value), fonts.regular, 7)
    plot.y = bottom
    plot.width = width - plot.x - 8
    plot.height = top - bottom - 6
    plot.data = data if any(row for row in data) else [(0.0,)]
    plot.categoryAxis.categoryNames = labels or [""]
    plot.categoryAxis.labels.fontName = fonts.regular
    plot.categoryAxis.labels.fontSize = 7
    plot.categoryAxis.labelAxisMode = "low"  # below the plot, also when values go negative
    if angle:
        plot.categoryAxis.labels.angle = angle
        plot.categoryAxis.labels.boxAnchor = "e" if angle == 90 else "ne"
        plot.categoryAxis.labels.dx = 0 if angle == 90 else 2
        plot.categoryAxis.labels.dy = -2
    plot.valueAxis.labels.fontName = fonts.regular
    plot.valueAxis.labels.fontSize = 7
    plot.valueAxis.labelTextFormat = _axis_label
    plot.valueAxis.rangeRound = "both"  # the axis ends on a labelled tick
    plot.valueAxis.visibleGrid = True
    plot.valueAxis.gridStrokeColor = colors.HexColor("#DDDDDD")
    if all(v is None or v >= 0 for row in data for v in row):
        plot.valueAxis.valueMin = 0
    for index in range(len(data)):
        color = SERIES_COLORS[index % len(SERIES_COLORS)]
        if isinstance(plot, VerticalBarChart):
            plot.bars[index].fillColor = color
            plot.bars[index].strokeColor = None
        else:
            plot.lines[index].strokeColor = color
            plot.lines[index].strokeWidth = 1.5
            plot.lines[index].symbol = makeMarker("FilledCircle", size=3, fillColor=color)
    if isinstance(plot, VerticalBarChart):
        plot.groupSpacing = 6
        plot.barSpacing = 1
    drawing.add(plot)
    return drawing


def _legend(names: list[str], fonts: PdfFonts, top: float) -> Legend:
    legend = Legend()
    legend.x = 12
    legend.y = top - 2
    legend.boxAnchor = "nw"
    legend.columnMaximum = 1  # one entry per column: the legend reads as one line
    legend.fontName = fonts.regular
    legend.fontSize = 8
    legend.dx = legend.dy = 8
    legend.dxTextSpace = 4
    legend.deltax = 10
    legend.autoXPadding = 14
    legend.alignment = "right"
    legend.strokeColor = None
    legend.colorNamePairs = [
        (SERIES_COLORS[index % len(SERIES_COLORS)], name) for index, name in enumerate(names)
    ]
    return legend


def _label_angle(labels: list[str]) -> int:
    """Upright labels while they fit side by side, slanted when they crowd, vertical when many."""
    if len(labels) > 16:
        return 90
    if len(labels) > 8 or max((display_width(label) for label in labels), default=0) > 10:
        return 35
    return 0


def _axis_label(value: float) -> str:
    """``12,500``, ``0.5``, ``-3.25``: thousands separators, no needless zeros."""
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _short(label: str) -> str:
    """A category label cut to about ``LABEL_CHARACTERS`` display cells."""
    if display_width(label) <= LABEL_CHARACTERS:
        return label
    out = ""
    for char in label:
        if display_width(out + char) > LABEL_CHARACTERS - 1:
            break
        out += char
    return out + "…"
