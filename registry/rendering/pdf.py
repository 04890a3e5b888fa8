"""The printable A4 licence: a government-document page with the licence's fields, holder, issuer,
validity, status, the full 证照标识 and the verification QR code -- alone (:func:`render_license_pdf`), or
as a case's annotated copies (加注件, :func:`render_annotated_copies`): a materials-list cover, then each
pulled licence laid out by the same code under an annotation box and watermark.

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
    KeepTogether,
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
_FRAME_PADDING = 6.0  # a platypus Frame pads its content by 6 pt on every side
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


@dataclass(frozen=True)
class CoverLine:
    """One material of a case, as the cover lists it: what, whose, whether required, where it stands, and the
    证照标识 of the licence pulled for it (``None`` when none was); ``note`` holds the verdict or why it is
    missing. All display text."""

    material: str
    party: str
    requirement: str
    state: str
    identifier: str | None
    note: str = ""


@dataclass(frozen=True)
class CaseCover:
    """The materials list (办件材料清单) printed before a case's annotated copies, formatted for display.
    ``exempted`` is the number of paper copies the pulled licences spared (免提交); ``missing`` the materials
    still missing; ``offline_materials`` the papers no registry holds."""

    agency_name: str
    service_name: str
    service_code: str
    case_id: str
    created_on: str
    lines: tuple[CoverLine, ...]
    offline_materials: tuple[str, ...]
    exempted: int
    missing: int


@dataclass(frozen=True)
class AnnotatedCopy:
    """A pulled licence printed as an annotated copy (加注件): the licence page under a box saying what it may
    be used for (``annotation``), when it was made and until when the copy is valid, watermarked with the
    annotation. The licence's own ``watermark`` is replaced by the annotation."""

    licence: PrintableLicense
    annotation: str
    copy_date: str
    copy_expires: str


def render_license_pdf(doc: PrintableLicense, *, generated_at: datetime | None = None) -> bytes:
    """Render ``doc`` as a one-or-more-page A4 PDF and return its bytes.

    ``generated_at`` (default: now) is printed in the footer; when it is given the output is also
    byte-for-byte reproducible (no random document id or creation time), which suits caching.
    """
    _check_orientation(doc)
    font = cjk_font()
    styles = _styles(font.name)
    moment = _moment(generated_at)
    qr_png = _qr_png_for_print(doc.qr_payload)
    section = _licence_section(doc, "licence", font, styles, moment, qr_png, watermark=doc.watermark)
    metadata = _Metadata(
        title=doc.title, author=doc.issuer_name, subject=doc.identifier, keywords=(doc.type_name, doc.identifier)
    )
    return _render([section], metadata, invariant=generated_at is not None)


def render_annotated_copies(
    cover: CaseCover, copies: Sequence[AnnotatedCopy], *, generated_at: datetime | None = None
) -> bytes:
    """Render a case's annotated copies (加注件) as one PDF: the cover (the materials list, one or more A4
    portrait pages), then each copy from a new page in its licence's orientation -- the licence laid out
    exactly as :func:`render_license_pdf` lays it out, under an annotation box, with the annotation as a
    diagonal watermark on every page of the copy, and the case id in the footer.

    ``generated_at`` (default: now) is printed in the footers; when it is given the output is byte-for-byte
    reproducible. Raises ``ValueError`` for a licence with an unknown orientation.
    """
    for copy in copies:
        _check_orientation(copy.licence)
    font = cjk_font()
    styles = _styles(font.name)
    moment = _moment(generated_at)
    qr_pngs = [_qr_png_for_print(copy.licence.qr_payload) for copy in copies]
    sections = [_cover_section(cover, len(copies), font, styles, moment)]
    for number, (copy, qr_png) in enumerate(zip(copies, qr_pngs, strict=True), start=1):
        sections.append(_copy_section(copy, number, len(copies), cover.case_id, font, styles, moment, qr_png))
    metadata = _Metadata(
        title=f"加注件 {cover.case_id}",
        author=cover.agency_name,
        subject=cover.service_name,
        keywords=(cover.service_code, cover.case_id),
    )
    return _render(sections, metadata, invariant=generated_at is not None)


def _check_orientation(doc: PrintableLicense) -> None:
    if doc.orientation not in ("portrait", "landscape"):
        raise ValueError(f"orientation must be 'portrait' or 'landscape', not {doc.orientation!r}")


def _moment(generated_at: datetime | None) -> datetime:
    return (generated_at or datetime.now(BEIJING)).astimezone(BEIJING)


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


# --- documents: sections of pages ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Geometry:
    """A page's size and margins; the body is one frame inside the margins."""

    pagesize: tuple[float, float]
    margin_x: float = 18 * mm
    margin_top: float = 16 * mm
    margin_bottom: float = 26 * mm

    @property
    def width(self) -> float:
        """The width content can use: the page less its side margins and the frame's padding."""
        return self.pagesize[0] - 2 * self.margin_x - 2 * _FRAME_PADDING

    def frame(self) -> Frame:
        page_w, page_h = self.pagesize
        return Frame(
            self.margin_x,
            self.margin_bottom,
            page_w - 2 * self.margin_x,
            page_h - self.margin_top - self.margin_bottom,
            id="body",
        )


def _geometry(orientation: str) -> _Geometry:
    return _Geometry(A4 if orientation == "portrait" else landscape(A4))


_Decorator = Callable[[Canvas, BaseDocTemplate], None]


@dataclass(frozen=True)
class _Section:
    """A run of pages that share a page size, a footer and a watermark: a licence, a copy, the cover."""

    name: str
    geometry: _Geometry
    story: list[Flowable]
    decorate: _Decorator
    finish: _Decorator | None = None  # drawn over each page's content


@dataclass(frozen=True)
class _Metadata:
    title: str
    author: str
    subject: str
    keywords: tuple[str, ...]


def _render(sections: Sequence[_Section], metadata: _Metadata, *, invariant: bool) -> bytes:
    with _render_lock:  # reportlab keeps per-font subsetting state in shared font objects
        use_a85 = rl_config.useA85
        rl_config.useA85 = 0  # binary streams: ASCII85 would add 25 % to the QR image and the page
        try:
            return _build(sections, metadata, invariant=invariant)
        finally:
            rl_config.useA85 = use_a85


def _build(sections: Sequence[_Section], metadata: _Metadata, *, invariant: bool) -> bytes:
    """One PDF of ``sections``, each from a new page, under its own page template (size, footer, watermark)."""
    first = sections[0].geometry
    out = io.BytesIO()
    template = BaseDocTemplate(
        out,
        pagesize=first.pagesize,
        leftMargin=first.margin_x,
        rightMargin=first.margin_x,
        topMargin=first.margin_top,
        bottomMargin=first.margin_bottom,
        title=metadata.title,
        author=metadata.author,
        subject=metadata.subject,
        creator="电子证照库 / Electronic licence registry",
        producer="电子证照库 / Electronic licence registry",
        keywords=list(metadata.keywords),
        invariant=1 if invariant else 0,
        lang="zh-CN",
    )
    template.addPageTemplates(
        [
            PageTemplate(
                id=section.name,
                frames=[section.geometry.frame()],
                onPage=section.decorate,
                onPageEnd=section.finish or _no_decoration,
                pagesize=section.geometry.pagesize,
            )
            for section in sections
        ]
    )
    story: list[Flowable] = []
    for index, section in enumerate(sections):
        if index:
            story += [NextPageTemplate(section.name), PageBreak()]
        story += section.story
    template.build(story)
    return out.getvalue()


def _no_decoration(canvas: Canvas, template: BaseDocTemplate) -> None:
    pass


def _page_decorator(
    geometry: _Geometry,
    font: FontChoice,
    moment: datetime,
    styles: _Styles,
    footer_lines: Sequence[str],
    *,
    watermark: str | None,
) -> _Decorator:
    """Draws, under each page's content, the watermark, and the footer: a red rule, ``footer_lines``, and
    the time of generation with the page number."""
    generated = moment.strftime("%Y-%m-%d %H:%M:%S")

    def decorate(canvas: Canvas, template: BaseDocTemplate) -> None:
        page_w, page_h = geometry.pagesize
        canvas.saveState()
        if watermark:
            _watermark(canvas, watermark, font.name, page_w, page_h)
        left = geometry.margin_x + _FRAME_PADDING  # align with the content, which the frame pads
        width = page_w - 2 * left
        rule_y = geometry.margin_bottom - 5 * mm
        canvas.setStrokeColor(RED)
        canvas.setLineWidth(0.6)
        canvas.line(left, rule_y, left + width, rule_y)
        meta = (
            f"生成时间 / Generated: {generated} (北京时间 UTC+08:00)　　第 {canvas.getPageNumber()} 页 / "
            f"Page {canvas.getPageNumber()}"
        )
        y = rule_y - 2
        for markup in [*(_text(line) for line in footer_lines), meta]:
            paragraph = Paragraph(markup, styles.footer)
            _, height = paragraph.wrap(width, geometry.margin_bottom)
            y -= height
            paragraph.drawOn(canvas, left, y)
            y -= 2
        canvas.restoreState()

    return decorate


class _Bookmark(Flowable):  # type: ignore[misc]
    """An invisible mark: a PDF outline entry pointing at the page it lands on."""

    def __init__(self, key: str, title: str) -> None:
        super().__init__()
        self.key, self.title = key, title
        self.width = self.height = 0

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        return 0, 0

    def draw(self) -> None:
        self.canv.bookmarkPage(self.key)
        self.canv.addOutlineEntry(self.title, self.key, level=0)


# --- the licence ------------------------------------------------------------------------------------------


def _licence_story(
    doc: PrintableLicense, font: FontChoice, styles: _Styles, width: float, qr_png: bytes
) -> list[Flowable]:
    """The licence's flowables: heading, summary and QR code, identifier, the fields' table."""
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
    return story


def _licence_section(
    doc: PrintableLicense,
    name: str,
    font: FontChoice,
    styles: _Styles,
    moment: datetime,
    qr_png: bytes,
    *,
    watermark: str | None,
    overlay: str | None = None,
    lead: Sequence[Flowable] = (),
    footer_extra: Sequence[str] = (),
) -> _Section:
    """The pages of one licence -- alone (:func:`render_license_pdf`) or as an annotated copy, which puts
    ``lead`` (the annotation box) above the licence, ``footer_extra`` under its footer, and the ``overlay``
    watermark over the content of every page (``watermark`` goes under it)."""
    geometry = _geometry(doc.orientation)
    story = [*lead, *_licence_story(doc, font, styles, geometry.width, qr_png)]
    footer = (
        f"本电子证照由{doc.issuer_name}签发，可扫描二维码核验 / "
        f"Issued electronically by {doc.issuer_name}; scan the QR code to verify",
        *footer_extra,
    )
    decorate = _page_decorator(geometry, font, moment, styles, footer, watermark=watermark)
    finish = _watermark_overlay(overlay, font, geometry) if overlay else None
    return _Section(name, geometry, story, decorate, finish)


def _watermark_overlay(text: str, font: FontChoice, geometry: _Geometry) -> _Decorator:
    """The watermark drawn *over* a page's content, where no table background or box can hide it. It is
    light and translucent, so text under it stays legible and the QR code scans."""

    def finish(canvas: Canvas, template: BaseDocTemplate) -> None:
        _watermark(canvas, text, font.name, *geometry.pagesize)

    return finish


# --- annotated copies -------------------------------------------------------------------------------------

_ANNOTATION_BG = colors.HexColor("#FFF8F6")
_AMBER = colors.HexColor("#9A5B00")
_CN_DATE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")


def _iso_date(text: str) -> str:
    """``2026年11月23日`` as ``2026-11-23`` for the English half of a line; other text unchanged."""
    match = _CN_DATE.fullmatch(text.strip())
    if match is None:
        return text
    year, month, day = (int(part) for part in match.groups())
    return f"{year:04d}-{month:02d}-{day:02d}"


def _en(text: str, font: str, size: float = 8) -> str:
    """Markup for an English line under a Chinese one: small, grey, in Helvetica where it can be."""
    return f'<font name="{_latin(text, font)}" size="{size:g}" color="{GREY.hexval()}">{_text(text)}</font>'


def _annotation_box(copy: AnnotatedCopy, number: int, count: int, styles: _Styles, width: float) -> Table:
    """The box at the top of a copy's first page: what the copy may be used for, in large red type; when it
    was made and until when it is valid; and that it does not replace the original."""
    font = styles.value.fontName
    tag = ParagraphStyle("annotation_tag", parent=styles.caption, textColor=RED)
    big = ParagraphStyle("annotation", parent=styles.value, fontSize=16, leading=21, textColor=RED, alignment=TA_CENTER)
    cell = ParagraphStyle("annotation_cell", parent=styles.value, alignment=TA_CENTER)
    warning = ParagraphStyle("annotation_warning", parent=styles.value, fontSize=11, leading=14, textColor=RED)
    warning = ParagraphStyle("annotation_warning_c", parent=warning, alignment=TA_CENTER)
    zh_warning, _, en_warning = NOT_ORIGINAL.partition(" / ")
    date, expires = copy.copy_date, copy.copy_expires
    rows = [
        [Paragraph(f"加注件 {number}/{count}　{_en(f'Annotated copy {number} of {count}', font, 7.5)}", tag), ""],
        [Paragraph(_text(copy.annotation), big), ""],
        [
            Paragraph(f"加注日期　{_text(date)}<br/>{_en(f'Annotated on {_iso_date(date)}', font)}", cell),
            Paragraph(
                f"本复印件有效期至　{_text(expires)}<br/>{_en(f'This copy is valid until {_iso_date(expires)}', font)}",
                cell,
            ),
        ],
        [Paragraph(f"{_text(zh_warning)} / {_en(en_warning, font, 9)}", warning), ""],
    ]
    return Table(
        rows,
        colWidths=[width / 2, width / 2],
        style=TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 1.6, RED),
                ("BACKGROUND", (0, 0), (-1, -1), _ANNOTATION_BG),
                ("SPAN", (0, 0), (1, 0)),
                ("SPAN", (0, 1), (1, 1)),
                ("SPAN", (0, 3), (1, 3)),
                ("LINEABOVE", (0, 2), (-1, 2), 0.5, RED),
                ("LINEAFTER", (0, 2), (0, 2), 0.5, RED),
                ("LINEABOVE", (0, 3), (-1, 3), 0.5, RED),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (-1, -1), 8),
                ("RIGHTPADDING", (0, 0), (-1, -1), 8),
                ("TOPPADDING", (0, 0), (-1, 0), 5),
                ("BOTTOMPADDING", (0, 0), (-1, 0), 0),
                ("TOPPADDING", (0, 1), (-1, -1), 5),
                ("BOTTOMPADDING", (0, 1), (-1, -1), 6),
            ]
        ),
    )


def _copy_section(
    copy: AnnotatedCopy,
    number: int,
    count: int,
    case_id: str,
    font: FontChoice,
    styles: _Styles,
    moment: datetime,
    qr_png: bytes,
) -> _Section:
    doc = copy.licence
    width = _geometry(doc.orientation).width
    lead: list[Flowable] = [
        _Bookmark(f"copy-{number}", f"加注件 {number}：{doc.title}（{doc.holder_name}）"),
        _annotation_box(copy, number, count, styles, width),
        Spacer(1, 5 * mm),
    ]
    footer_extra = (f"加注件 {number}/{count}：{NOT_ORIGINAL}　　办件编号 / Case: {case_id}",)
    return _licence_section(
        doc,
        f"copy-{number}",
        font,
        styles,
        moment,
        qr_png,
        watermark=None,
        overlay=copy.annotation,
        lead=lead,
        footer_extra=footer_extra,
    )


# --- the cover --------------------------------------------------------------------------------------------


def _state_colour(state: str) -> colors.Color:
    """Green for what the case has, red for what it lacks, amber for what the applicant has promised."""
    text = state.strip()
    if text.startswith(("已调取", "已补齐", "已提交")):
        return GREEN
    if text.startswith("已承诺"):
        return _AMBER
    if text.startswith("缺失"):
        return RED
    return INK


def _materials_table(cover: CaseCover, styles: _Styles, width: float) -> Table:
    """Every material: number, material, party, requirement, state, note; and under a pulled one, across the
    row, its 证照标识. A material and its identifier never part across pages; the header repeats."""
    cell = ParagraphStyle("material_cell", parent=styles.value, fontSize=9.5, leading=12.5)
    small = ParagraphStyle("material_small", parent=cell, fontSize=7.5, leading=9.5, textColor=GREY)
    col = [11 * mm, 35 * mm, 19 * mm, 20 * mm, 34 * mm]
    col.append(width - sum(col))
    header = [
        _label("序号", "No.", styles),
        _label("材料", "Material", styles),
        _label("对象", "Party", styles),
        _label("要求", "Requirement", styles),
        _label("状态", "State", styles),
        _label("备注", "Note", styles),
    ]
    rows: list[list[Any]] = [header]
    commands: list[tuple[Any, ...]] = [
        ("BOX", (0, 0), (-1, -1), _OUTER, RULE),
        ("BACKGROUND", (0, 0), (-1, 0), LABEL_BG),
        ("LINEBELOW", (0, 0), (-1, 0), _OUTER, RULE),
        ("LINEAFTER", (0, 0), (-2, 0), _INNER, RULE),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ("TOPPADDING", (0, 0), (-1, -1), 4),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
    ]
    for number, line in enumerate(cover.lines, start=1):
        first = len(rows)
        state = f'<font color="{_state_colour(line.state).hexval()}">{_text(line.state)}</font>'
        rows.append(
            [
                Paragraph(str(number), ParagraphStyle("material_no", parent=cell, alignment=TA_CENTER)),
                Paragraph(_text(line.material), cell),
                Paragraph(_text(line.party), cell),
                Paragraph(_text(line.requirement), cell),
                Paragraph(state, cell),
                Paragraph(_text(line.note), cell),
            ]
        )
        commands.append(("LINEAFTER", (0, first), (-2, first), _INNER, RULE))
        if line.identifier:
            id_width = sum(col[2:]) - 8
            rows.append(
                [
                    "",
                    Paragraph(f'证照标识 <font name="{LATIN}">Identifier</font>', small),
                    _fitting_mono(line.identifier, id_width, styles),
                    "",
                    "",
                    "",
                ]
            )
            last = first + 1
            commands += [
                ("SPAN", (0, first), (0, last)),
                ("SPAN", (2, last), (-1, last)),
                ("LINEABOVE", (1, last), (-1, last), 0.3, RULE, None, (1, 2)),
                ("TOPPADDING", (1, last), (-1, last), 2),
                ("BOTTOMPADDING", (1, last), (-1, last), 3),
                ("NOSPLIT", (0, first), (-1, last)),
            ]
        else:
            last = first
        commands.append(("LINEBELOW", (0, last), (-1, last), _INNER, RULE))
    if not cover.lines:
        rows.append([Paragraph("无 / None", cell), "", "", "", "", ""])
        commands.append(("SPAN", (0, 1), (-1, 1)))
    return Table(rows, colWidths=col, style=TableStyle(commands), repeatRows=1)


def _cover_section(cover: CaseCover, count: int, font: FontChoice, styles: _Styles, moment: datetime) -> _Section:
    geometry = _geometry("portrait")
    width = geometry.width
    label_w = 33 * mm
    service = f'{_text(cover.service_name)}<br/><font name="{MONO}" size="9">{_text(cover.service_code)}</font>'
    info = Table(
        [
            [_label("受理机构", "Agency", styles), Paragraph(_text(cover.agency_name), styles.value)],
            [_label("办理事项", "Service item", styles), Paragraph(service, styles.value)],
            [_label("办件编号", "Case ID", styles), _fitting_mono(cover.case_id, width - label_w - 10, styles)],
            [_label("受理日期", "Date", styles), Paragraph(_text(cover.created_on), styles.value)],
        ],
        colWidths=[label_w, width - label_w],
        style=_grid_style(),
    )

    def section_heading(zh: str, en: str) -> list[Flowable]:
        markup = f'{_text(zh)} <font name="{LATIN}" size="8.5" color="{GREY.hexval()}">{_text(en)}</font>'
        return [Spacer(1, 6 * mm), Paragraph(markup, styles.section), Spacer(1, 2 * mm)]

    offline: list[Flowable] = [
        Paragraph(f"{number}. {_text(material)}", styles.value)
        for number, material in enumerate(cover.offline_materials, start=1)
    ] or [Paragraph(f"无 {_en('None', font.name, 8.5)}", styles.value)]

    spared = "paper copy" if cover.exempted == 1 else "paper copies"
    summary_style = ParagraphStyle("summary", parent=styles.value, fontSize=13, leading=18)
    summary = Table(
        [
            [
                Paragraph(
                    f'<font color="{GREEN.hexval()}">免提交 {cover.exempted} 份</font> / '
                    f"{_en(f'{cover.exempted} {spared} spared', font.name, 10)}；"
                    f'<font color="{(RED if cover.missing else GREEN).hexval()}">缺失 {cover.missing} 项</font> / '
                    f"{_en(f'{cover.missing} missing', font.name, 10)}",
                    summary_style,
                )
            ]
        ],
        colWidths=[width],
        style=TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), _OUTER, RULE),
                ("BACKGROUND", (0, 0), (-1, -1), LABEL_BG),
                ("LEFTPADDING", (0, 0), (-1, -1), 8),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 8),
            ]
        ),
    )
    copies_en = f"{count} annotated {'copy follows' if count == 1 else 'copies follow'}, each from a new page."
    follows = (
        f"以下附加注件 {count} 份，每份自新页起。{_en(copies_en, font.name)}"
        if count
        else f"本办件无加注件。{_en('No annotated copies in this case.', font.name)}"
    )
    story: list[Flowable] = [
        _Bookmark("cover", "办件材料清单 / Case materials"),
        _Heading("办件材料清单", "Case materials", font.name, width),
        Spacer(1, 5 * mm),
        info,
        *section_heading("材料清单", "Materials"),
        _materials_table(cover, styles, width),
        KeepTogether([*section_heading("需另行提交的纸质材料", "Paper materials no registry holds"), *offline]),
        KeepTogether([Spacer(1, 6 * mm), summary, Spacer(1, 3 * mm), Paragraph(follows, styles.value)]),
    ]
    footer = (
        "本清单由电子证照库生成；所附加注件可扫描其二维码核验 / "
        "Generated by the electronic licence registry; scan each copy's QR code to verify it",
        f"办件编号 / Case: {cover.case_id}　　{cover.agency_name}",
    )
    decorate = _page_decorator(geometry, font, moment, styles, footer, watermark=None)
    return _Section("cover", geometry, story, decorate)


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
