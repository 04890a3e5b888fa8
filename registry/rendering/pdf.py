"""The printable A4 licence: a government-document page with the licence's fields, holder, issuer,
validity, status, the full 证照标识 and the verification QR code.

All Chinese is set in the CJK font of :mod:`registry.rendering.fonts` (embedded and subset when a
TrueType CJK font is installed, so a page stays small and its text extractable). Rendering is CPU-bound
(tens of milliseconds, plus ~0.1 s for a new QR matrix): callers run it off the event loop and cache it.
"""

from __future__ import annotations

import io
import math
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from xml.sax.saxutils import escape

from PIL import Image as PILImage
from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    Image,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from registry.rendering.fonts import FontChoice, cjk_font
from registry.rendering.qr import qr_matrix, render_qr_png

__all__ = [
    "COMPACT_NOTE",
    "NOT_ORIGINAL",
    "QR_DPI",
    "QR_SIZE_MM",
    "AnnotatedCopy",
    "CaseCover",
    "CoverLine",
    "PrintRow",
    "PrintableLicense",
    "render_annotated_copies",
    "render_license_pdf",
]

QR_SIZE_MM = 32.0
"""Printed size of the QR image, quiet zone included (DESIGN §5: 30-35 mm)."""

QR_DPI = 300
"""Approximate resolution of the embedded QR image at its printed size (whole pixels a module)."""

COMPACT_NOTE = "二维码为简版凭证，扫码后在线核验完整内容 / QR carries the compact credential"
NOT_ORIGINAL = "此为加注件，不能替代原件 / Annotated copy — not the original"
BEIJING = timezone(timedelta(hours=8), "UTC+08:00")

# A restrained official palette: dark red for the heading and rules, near-black text, grey English.
RED = colors.HexColor("#A61B1B")
INK = colors.HexColor("#1A1A1A")
GREY = colors.HexColor("#5F6368")
RULE = colors.HexColor("#7A7A7A")
LABEL_BG = colors.HexColor("#F4F1EA")
GREEN = colors.HexColor("#1E7B34")
LATIN = "Helvetica"
MONO = "Courier"

_GAP = 5 * mm  # between the summary and the QR column
_FRAME_PADDING = 6.0  # SimpleDocTemplate's frame pads its content by 6 pt on every side
_render_lock = threading.Lock()


@dataclass(frozen=True)
class PrintRow:
    """One field of the licence: Chinese and English label, display value; ``long`` for free text such
    as 经营范围 that should wrap across the full value column."""

    label: str
    label_en: str
    value: str
    long: bool = False


@dataclass(frozen=True)
class PrintableLicense:
    """Everything the printed page shows, already formatted for display."""

    title: str
    title_en: str
    identifier: str
    type_name: str
    holder_name: str
    holder_id_label: str
    holder_id_number: str
    issuer_name: str
    valid_from: str
    valid_until: str
    status_text: str
    rows: tuple[PrintRow, ...]
    qr_payload: str
    orientation: str
    issued_on: str
    compact_qr: bool
    watermark: str | None = None


def render_license_pdf(doc: PrintableLicense, *, generated_at: datetime | None = None) -> bytes:
    """Render ``doc`` as a one-or-more-page A4 PDF and return its bytes.

    ``generated_at`` (default: now) is printed in the footer; when it is given the output is also
    byte-for-byte reproducible (no random document id or creation time), which suits caching.
    """
    if doc.orientation not in ("portrait", "landscape"):
        raise ValueError(f"orientation must be 'portrait' or 'landscape', not {doc.orientation!r}")
    font = cjk_font()
    moment = (generated_at or datetime.now(BEIJING)).astimezone(BEIJING)
    qr_png = _qr_png_for_print(doc.qr_payload)
    with _render_lock:  # reportlab keeps per-font subsetting state in shared font objects
        use_a85 = rl_config.useA85
        rl_config.useA85 = 0  # binary streams: ASCII85 would add 25 % to the QR image and the page
        try:
            return _build(doc, font, moment, qr_png, invariant=generated_at is not None)
        finally:
            rl_config.useA85 = use_a85


# --- layout ----------------------------------------------------------------------------------------------


def _qr_png_for_print(payload: str) -> bytes:
    """The QR PNG for the page: whole pixels a module (at least 4) and about 300 dpi at 32 mm, so a printer
    scales it by whole factors and the edges stay sharp; the 4-module quiet zone is kept. (600 dpi would
    double the page's size for no gain in scanning.)"""
    modules = qr_matrix(payload).size + 8
    target_px = QR_SIZE_MM / 25.4 * QR_DPI
    box_size = max(4, round(target_px / modules))
    return render_qr_png(payload, box_size=box_size, border=4)


def _greyscale_png(png: bytes) -> bytes:
    """reportlab embeds 1-bit images as 8-bit RGB; an 8-bit greyscale copy is a third of that."""
    with PILImage.open(io.BytesIO(png)) as image:
        out = io.BytesIO()
        image.convert("L").save(out, format="PNG")
    return out.getvalue()


@dataclass(frozen=True)
class _Styles:
    label: ParagraphStyle
    value: ParagraphStyle
    value_long: ParagraphStyle
    section: ParagraphStyle
    caption: ParagraphStyle
    note: ParagraphStyle
    mono: ParagraphStyle
    footer: ParagraphStyle


def _styles(font: str) -> _Styles:
    base = ParagraphStyle(
        "base", fontName=font, fontSize=10.5, leading=14, textColor=INK, wordWrap="CJK", alignment=TA_LEFT
    )
    return _Styles(
        label=ParagraphStyle("label", parent=base, fontSize=10, leading=12.5),
        value=ParagraphStyle("value", parent=base),
        value_long=ParagraphStyle("value_long", parent=base, fontSize=10, leading=15),
        section=ParagraphStyle("section", parent=base, fontSize=11.5, leading=15, textColor=RED),
        caption=ParagraphStyle("caption", parent=base, fontSize=8, leading=10, alignment=TA_CENTER),
        note=ParagraphStyle("note", parent=base, fontSize=6.8, leading=8.6, textColor=GREY, alignment=TA_CENTER),
        mono=ParagraphStyle("mono", parent=base, fontName=MONO, fontSize=9, leading=12),
        footer=ParagraphStyle("footer", parent=base, fontSize=7.5, leading=10, textColor=GREY),
    )


def _text(value: str) -> str:
    """Paragraph markup for literal text: XML-escaped, line breaks kept."""
    return escape(value).replace("\r\n", "\n").replace("\n", "<br/>")


def _latin(text: str, cjk: str) -> str:
    """Helvetica for the English lines -- unless they hold characters it lacks; then the CJK font."""
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return cjk
    return LATIN


def _label(zh: str, en: str, styles: _Styles, *, inline: bool = False, width: float | None = None) -> Paragraph:
    """A label cell: the Chinese label with its English under it -- or after it when ``inline`` and the
    two fit on one line of ``width`` (English words are never broken mid-word by a tight column)."""
    markup = _text(zh)
    if en:
        en_font = _latin(en, styles.label.fontName)
        fits = width is None or (
            stringWidth(zh, styles.label.fontName, styles.label.fontSize) + stringWidth(" " + en, en_font, 7)
            <= width - 10
        )
        markup += " " if inline and fits else "<br/>"
        markup += f'<font name="{en_font}" size="7" color="{GREY.hexval()}">{_text(en)}</font>'
    return Paragraph(markup, styles.label)


class _Heading(Flowable):  # type: ignore[misc]
    """The centred title, set in a fill-and-stroke 'bold' (the CJK font has no bold face), with the
    English title under it and the double red rule of an official document."""

    def __init__(self, title: str, title_en: str, font: str, width: float) -> None:
        super().__init__()
        self.title, self.title_en, self.font = title, title_en, font
        self.width = width
        self.size = 22.0
        natural = stringWidth(title, font, self.size) + 2
        if natural > width:
            self.size = max(12.0, self.size * width / natural)
        self.height = self.size + 4 + (13 if title_en else 0) + 10

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        canvas: Canvas = self.canv
        centre = self.width / 2
        y = self.height - self.size
        canvas.saveState()
        canvas.setFillColor(RED)
        canvas.setStrokeColor(RED)
        canvas.setLineWidth(self.size / 40)
        text = canvas.beginText()
        text.setTextRenderMode(2)  # fill + stroke: a heavier stroke without a bold font file
        text.setFont(self.font, self.size)
        text.setTextOrigin(centre - stringWidth(self.title, self.font, self.size) / 2, y)
        text.textOut(self.title)
        text.setTextRenderMode(0)  # the render mode is graphics state: do not leak it to the English line
        canvas.drawText(text)
        if self.title_en:
            en_font = _latin(self.title_en, self.font)
            en_size = min(10.0, 10.0 * self.width / (stringWidth(self.title_en, en_font, 10) + 1))
            canvas.setFillColor(GREY)
            canvas.setFont(en_font, en_size)
            canvas.drawCentredString(centre, y - 15, self.title_en)
        canvas.setLineWidth(1.6)
        canvas.line(0, 6, self.width, 6)
        canvas.setLineWidth(0.5)
        canvas.line(0, 3, self.width, 3)
        canvas.restoreState()


_OUTER, _INNER = 0.9, 0.4  # rule widths: a table's border, its inner grid


def _grid_style(extra: Sequence[tuple[Any, ...]] = (), *, box: bool = True) -> TableStyle:
    return TableStyle(
        [
            *([("BOX", (0, 0), (-1, -1), _OUTER, RULE)] if box else []),
            ("INNERGRID", (0, 0), (-1, -1), _INNER, RULE),
            ("BACKGROUND", (0, 0), (0, -1), LABEL_BG),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("LEFTPADDING", (0, 0), (-1, -1), 5),
            ("RIGHTPADDING", (0, 0), (-1, -1), 5),
            ("TOPPADDING", (0, 0), (-1, -1), 4),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
            *extra,
        ]
    )


def _fitting_mono(text: str, width: float, styles: _Styles) -> Paragraph:
    """The identifier in a monospace font sized to fit one line (down to 6.5 pt; wraps beyond that)."""
    size = 9.5
    natural = stringWidth(text, MONO, size)
    if natural > width:
        size = max(6.5, size * width / natural * 0.98)
    style = ParagraphStyle("mono_fit", parent=styles.mono, fontSize=size, leading=size * 1.3)
    return Paragraph(_text(text), style)


_MIN_ROW_PART = 30.0
"""A long row split across pages leaves at least this much (about two lines) on each side."""


def _detail_tables(
    rows: Sequence[PrintRow], styles: _Styles, width: float, label_w: float, *, inline: bool
) -> list[Flowable]:
    """The bordered label/value table of the licence's fields. Runs of ordinary rows share a table that
    breaks between rows; each long row (经营范围 …) is a table of its own that may break *inside* the
    row, so a long text continues on the next page instead of leaving a gap. The tables touch and draw
    the outer border only at the very top and bottom, so together they read as one table."""
    segments: list[tuple[list[list[Flowable]], bool]] = []
    for row in rows:
        cells: list[Flowable] = [
            _label(row.label, row.label_en, styles, inline=inline, width=label_w),
            Paragraph(_text(row.value), styles.value_long if row.long else styles.value),
        ]
        if row.long or not segments or segments[-1][1]:
            segments.append(([cells], row.long))
        else:
            segments[-1][0].append(cells)
    tables: list[Flowable] = []
    for index, (cells_rows, long) in enumerate(segments):
        top = _OUTER if index == 0 else _INNER
        bottom = _OUTER if index == len(segments) - 1 else _INNER
        style: list[tuple[Any, ...]] = [
            ("LINEBEFORE", (0, 0), (0, -1), _OUTER, RULE),
            ("LINEAFTER", (-1, 0), (-1, -1), _OUTER, RULE),
            ("LINEABOVE", (0, 0), (-1, 0), top, RULE),
            ("LINEBELOW", (0, -1), (-1, -1), bottom, RULE),
            ("RIGHTPADDING", (1, 0), (1, -1), 8),  # room for CJK punctuation hung at the line end
        ]
        if long:
            style.append(("VALIGN", (0, 0), (0, -1), "TOP"))
        tables.append(
            Table(
                cells_rows,
                colWidths=[label_w, width - label_w],
                style=_grid_style(style, box=False),
                splitInRow=_MIN_ROW_PART if long else 0,
            )
        )
    return tables


def _status(doc: PrintableLicense, styles: _Styles) -> Paragraph:
    colour = GREEN if doc.status_text.strip().startswith("有效") else RED
    return Paragraph(f'<font color="{colour.hexval()}">{_text(doc.status_text)}</font>', styles.value)


def _summary_and_qr(
    doc: PrintableLicense, styles: _Styles, width: float, qr_png: bytes, *, landscape_layout: bool
) -> tuple[list[Flowable], list[Flowable]]:
    """The summary table and the identifier row (left), and the QR code with its captions (right)."""
    qr_col = QR_SIZE_MM * mm + 10 * mm
    left_width = width - qr_col - _GAP
    pad = 10  # a cell's left + right padding
    inline = landscape_layout
    label_w = 40 * mm if landscape_layout else 33 * mm
    pairs: list[tuple[str, str, Flowable | None]] = [
        ("证照类型", "Licence type", Paragraph(_text(doc.type_name), styles.value)),
        ("持证人", "Holder", Paragraph(_text(doc.holder_name), styles.value)),
        (doc.holder_id_label, "ID number", None),
        ("发证机关", "Issuing authority", Paragraph(_text(doc.issuer_name), styles.value)),
        ("有效期限", "Valid", Paragraph(_text(f"{doc.valid_from} 至 {doc.valid_until}"), styles.value)),
        ("签发日期", "Issued on", Paragraph(_text(doc.issued_on), styles.value)),
        ("证照状态", "Status", _status(doc, styles)),
    ]
    if landscape_layout:
        value_w = (left_width - 2 * label_w) / 2
        cells: list[Flowable] = []
        for zh, en, value in pairs:
            shown = value or _fitting_mono(doc.holder_id_number, value_w - pad, styles)
            cells += [_label(zh, en, styles, inline=inline, width=label_w), shown]
        extra: list[tuple[Any, ...]] = [("BACKGROUND", (2, 0), (2, -1), LABEL_BG)]
        if len(cells) % 4:  # an odd last pair: its value spans the empty half of the row
            last = len(cells) // 4
            cells += ["", ""]
            extra += [("SPAN", (1, last), (3, last)), ("BACKGROUND", (2, last), (2, last), colors.white)]
        rows = [cells[i : i + 4] for i in range(0, len(cells), 4)]
        summary = Table(rows, colWidths=[label_w, value_w, label_w, value_w], style=_grid_style(extra))
        identifier_width = left_width
    else:
        value_w = left_width - label_w
        summary = Table(
            [
                [
                    _label(zh, en, styles, inline=inline, width=label_w),
                    value or _fitting_mono(doc.holder_id_number, value_w - pad, styles),
                ]
                for zh, en, value in pairs
            ],
            colWidths=[label_w, value_w],
            style=_grid_style(),
        )
        identifier_width = width
    identifier = Table(
        [
            [
                _label("证照标识", "Licence identifier", styles, inline=inline, width=label_w),
                _fitting_mono(doc.identifier, identifier_width - label_w - pad, styles),
            ]
        ],
        colWidths=[label_w, identifier_width - label_w],
        style=_grid_style(),
    )
    left: list[Flowable] = [summary, Spacer(1, 3 * mm), identifier] if landscape_layout else [summary, identifier]

    qr_block: list[Flowable] = [
        Image(io.BytesIO(_greyscale_png(qr_png)), width=QR_SIZE_MM * mm, height=QR_SIZE_MM * mm),
        Spacer(1, 1.5 * mm),
        Paragraph(f'扫码核验<br/><font name="{LATIN}" size="7">Scan to verify</font>', styles.caption),
    ]
    if doc.compact_qr:
        qr_block += [Spacer(1, 1.5 * mm), Paragraph(_text(COMPACT_NOTE).replace(" / ", "<br/>"), styles.note)]
    return left, qr_block


def _side_by_side(left: list[Flowable], right: list[Flowable], width: float) -> Table:
    qr_col = QR_SIZE_MM * mm + 10 * mm
    return Table(
        [[left, "", right]],
        colWidths=[width - qr_col - _GAP, _GAP, qr_col],
        style=TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ALIGN", (2, 0), (2, 0), "CENTER"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
            ]
        ),
    )


def _build(doc: PrintableLicense, font: FontChoice, moment: datetime, qr_png: bytes, *, invariant: bool) -> bytes:
    pagesize = A4 if doc.orientation == "portrait" else landscape(A4)
    margin_x, margin_top, margin_bottom = 18 * mm, 16 * mm, 26 * mm
    width = pagesize[0] - 2 * margin_x - 2 * _FRAME_PADDING
    styles = _styles(font.name)
    out = io.BytesIO()
    template = SimpleDocTemplate(
        out,
        pagesize=pagesize,
        leftMargin=margin_x,
        rightMargin=margin_x,
        topMargin=margin_top,
        bottomMargin=margin_bottom,
        title=doc.title,
        author=doc.issuer_name,
        subject=doc.identifier,
        creator="电子证照库 / Electronic licence registry",
        producer="电子证照库 / Electronic licence registry",
        keywords=[doc.type_name, doc.identifier],
        invariant=1 if invariant else 0,
        lang="zh-CN",
    )

    landscape_layout = doc.orientation == "landscape"
    left, qr_block = _summary_and_qr(doc, styles, width, qr_png, landscape_layout=landscape_layout)
    story: list[Flowable] = [_Heading(doc.title, doc.title_en, font.name, width), Spacer(1, 5 * mm)]
    if landscape_layout:
        # Two label/value pairs a row and the identifier beside the QR code: one sheet for most licences.
        story.append(_side_by_side(left, qr_block, width))
    else:
        story += [_side_by_side(left[:1], qr_block, width), Spacer(1, 3 * mm), *left[1:]]
    label_w = 48 * mm if landscape_layout else 46 * mm
    if doc.rows:
        heading = Paragraph(
            f'证照信息 <font name="{LATIN}" size="8.5" color="{GREY.hexval()}">Licence details</font>',
            styles.section,
        )
        story += [Spacer(1, (4 if landscape_layout else 6) * mm), heading, Spacer(1, 2 * mm)]
        story += _detail_tables(doc.rows, styles, width, label_w, inline=True)

    decorate = _page_decorator(doc, font, moment, styles, margin_x, margin_bottom)
    template.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return out.getvalue()


def _page_decorator(
    doc: PrintableLicense,
    font: FontChoice,
    moment: datetime,
    styles: _Styles,
    margin_x: float,
    margin_bottom: float,
) -> Callable[[Canvas, SimpleDocTemplate], None]:
    footer_text = (
        f"本电子证照由{doc.issuer_name}签发，可扫描二维码核验 / "
        f"Issued electronically by {doc.issuer_name}; scan the QR code to verify"
    )
    generated = moment.strftime("%Y-%m-%d %H:%M:%S")

    def decorate(canvas: Canvas, template: SimpleDocTemplate) -> None:
        page_w, page_h = template.pagesize
        canvas.saveState()
        if doc.watermark:
            _watermark(canvas, doc.watermark, font.name, page_w, page_h)
        left = margin_x + _FRAME_PADDING  # align with the content, which the frame pads
        width = page_w - 2 * left
        rule_y = margin_bottom - 5 * mm
        canvas.setStrokeColor(RED)
        canvas.setLineWidth(0.6)
        canvas.line(left, rule_y, left + width, rule_y)
        footer = Paragraph(_text(footer_text), styles.footer)
        _, height = footer.wrap(width, margin_bottom)
        footer.drawOn(canvas, left, rule_y - 2 - height)
        meta = Paragraph(
            f"生成时间 / Generated: {generated} (北京时间 UTC+08:00)　　第 {canvas.getPageNumber()} 页 / "
            f"Page {canvas.getPageNumber()}",
            styles.footer,
        )
        _, meta_h = meta.wrap(width, margin_bottom)
        meta.drawOn(canvas, left, rule_y - 4 - height - meta_h)
        canvas.restoreState()

    return decorate


def _watermark(canvas: Canvas, text: str, font: str, page_w: float, page_h: float) -> None:
    """Light diagonal text across the page, drawn under the content."""
    canvas.saveState()
    canvas.setFillColor(colors.Color(0.6, 0.6, 0.6, alpha=0.18))
    diagonal = math.hypot(page_w, page_h)
    size = min(64.0, 0.7 * diagonal / max(1.0, stringWidth(text, font, 1)))
    canvas.translate(page_w / 2, page_h / 2)
    canvas.rotate(math.degrees(math.atan2(page_h, page_w)))
    canvas.setFont(font, size)
    canvas.drawCentredString(0, -size / 3, text)
    canvas.restoreState()
