"""QR (PNG, SVG) and PDF rendering: what we draw scans back to exactly the payload, the PDF's text is
extractable, long fields wrap inside the page, and the CJK font is embedded (or the fallback works)."""

from __future__ import annotations

import hashlib
import io
import re
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import base45
import base58
import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageDraw
from pypdf import PdfReader

from registry.rendering import fonts
from registry.rendering.pdf import COMPACT_NOTE, PrintableLicense, PrintRow, render_license_pdf
from registry.rendering.qr import decode_qr_image, qr_version, render_qr_png, render_qr_svg
from verification.payload import MAX_PAYLOAD_CHARS, PREFIX, decode_payload, encode_payload

BEIJING = timezone(timedelta(hours=8))
IDENTIFIER = "1.2.156.3005.2.11100000MB0143028L001.91440300MA5G8X2Q3T.2026000123.001.K"
BUSINESS_SCOPE = (
    "一般经营项目是：计算机软硬件及辅助设备的技术开发、技术咨询、技术服务、技术转让；信息系统集成服务；"
    "数据处理和存储支持服务；物联网技术服务；人工智能应用软件开发；网络与信息安全软件开发；电子产品、"
    "通讯设备、办公用品的销售；企业管理咨询；会议及展览服务；广告设计、代理；国内贸易代理；货物进出口；"
    "技术进出口。许可经营项目是：第一类增值电信业务；第二类增值电信业务；互联网信息服务；网络文化经营；"
    "出版物零售；食品销售（仅销售预包装食品）；医疗器械经营；道路普通货物运输；建设工程施工。"
    "（依法须经批准的项目，经相关部门批准后方可开展经营活动，具体经营项目以相关部门批准文件或许可证件为准）"
)
assert 280 <= len(BUSINESS_SCOPE) <= 320


def full_budget_payload() -> str:
    """A 1,000-character LC1 payload of incompressible bytes: the worst case the QR has to carry."""
    body: bytes = base45.b45encode(secrets.token_bytes(664))
    payload = PREFIX + body.decode()
    assert len(payload) == MAX_PAYLOAD_CHARS
    return payload


def compact_credential_payload() -> str:
    """A compact business-licence credential (DESIGN §5), as the registry would put in the QR."""
    base = "https://zwfw.gd.gov.cn"
    issuer = "11440300MB2C93517X"
    credential: dict[str, Any] = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": f"{base}/licenses/{IDENTIFIER}",
        "type": ["VerifiableCredential", "ElectronicLicense", "ElectronicLicenseCompact"],
        "issuer": {"id": f"did:web:zwfw.gd.gov.cn:departments:{issuer}", "name": "深圳市市场监督管理局"},
        "validFrom": "2026-11-23T00:00:00Z",
        "credentialSubject": {
            "holder": {
                "idType": "uscc",
                "idNumber": "91440300MA5G8X2Q3T",
                "name": "深圳市前海云启数字科技有限公司",
            },
            "licenseType": "business_license",
            "fullCredentialDigest": "u" + "Q" * 43,
        },
        "credentialStatus": [
            {
                "type": "BitstringStatusListEntry",
                "statusPurpose": purpose,
                "statusListIndex": "1207",
                "statusListCredential": f"{base}/status-lists/{issuer}-{purpose}-1",
            }
            for purpose in ("revocation", "suspension")
        ],
        "proof": {
            "type": "DataIntegrityProof",
            "cryptosuite": "eddsa-jcs-2022",
            "created": "2026-11-23T03:30:00Z",
            "verificationMethod": f"did:web:zwfw.gd.gov.cn:departments:{issuer}#key-1",
            "proofPurpose": "assertionMethod",
            # 64 bytes standing in for an Ed25519 signature: the QR only carries it.
            "proofValue": "z" + base58.b58encode(hashlib.sha512(b"compact business licence").digest()).decode(),
        },
    }
    return encode_payload(credential)


def business_licence(**changes: Any) -> PrintableLicense:
    values: dict[str, Any] = {
        "title": "营业执照",
        "title_en": "Business Licence",
        "identifier": IDENTIFIER,
        "type_name": "营业执照（企业法人）",
        "holder_name": "深圳市前海云启数字科技有限公司",
        "holder_id_label": "统一社会信用代码",
        "holder_id_number": "91440300MA5G8X2Q3T",
        "issuer_name": "深圳市市场监督管理局",
        "valid_from": "2026年11月23日",
        "valid_until": "长期",
        "status_text": "有效",
        "rows": (
            PrintRow("名称", "Name", "深圳市前海云启数字科技有限公司"),
            PrintRow("类型", "Type", "有限责任公司（自然人投资或控股）"),
            PrintRow("法定代表人", "Legal representative", "李晓明"),
            PrintRow("注册资本", "Registered capital", "人民币1000万元"),
            PrintRow("成立日期", "Date of establishment", "2019年5月16日"),
            PrintRow(
                "住所",
                "Domicile",
                "深圳市前海深港合作区南山街道桂湾五路128号前海深港基金小镇B7栋301",
                long=True,
            ),
            PrintRow("经营范围", "Business scope", BUSINESS_SCOPE, long=True),
        ),
        "qr_payload": compact_credential_payload(),
        "orientation": "portrait",
        "issued_on": "2026年11月23日",
        "compact_qr": True,
    }
    values.update(changes)
    return PrintableLicense(**values)


def resident_id_card(payload: str) -> PrintableLicense:
    return PrintableLicense(
        title="中华人民共和国居民身份证",
        title_en="Resident Identity Card of the People's Republic of China",
        identifier="1.2.156.3005.2.11100000000013127D001.11440300007519213X.00000042.001.7",
        type_name="居民身份证",
        holder_name="张伟",
        holder_id_label="公民身份号码",
        holder_id_number="44030419900307281X",
        issuer_name="深圳市公安局",
        valid_from="2026年11月23日",
        valid_until="2036年11月23日",
        status_text="有效",
        rows=(
            PrintRow("姓名", "Name", "张伟"),
            PrintRow("性别", "Sex", "男"),
            PrintRow("民族", "Ethnicity", "汉"),
            PrintRow("出生日期", "Date of birth", "1990年3月7日"),
            PrintRow("住址", "Address", "广东省深圳市福田区福华三路88号财富大厦2栋1201房", long=True),
            PrintRow("签发机关", "Issuing authority", "深圳市公安局福田分局"),
        ),
        qr_payload=payload,
        orientation="portrait",
        issued_on="2026年11月23日",
        compact_qr=False,
    )


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def render_page_png(pdf: bytes, index: int = 0, scale: float = 4.0) -> bytes:
    document = pdfium.PdfDocument(pdf)
    try:
        image = document[index].render(scale=scale).to_pil()
        out = io.BytesIO()
        image.save(out, format="PNG")
        return out.getvalue()
    finally:
        document.close()


@pytest.fixture
def fresh_font_cache() -> Iterator[None]:
    fonts.reset_cjk_font_cache()
    yield
    fonts.reset_cjk_font_cache()


WQY = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
needs_wqy = pytest.mark.skipif(not WQY.is_file(), reason="fonts-wqy-zenhei is not installed")


# --- QR -----------------------------------------------------------------------------------------------


def test_full_budget_payload_fits_version_21() -> None:
    payload = full_budget_payload()
    assert qr_version(payload) <= 21
    # Alphanumeric mode is what makes it fit: the same characters as bytes need a much larger symbol.
    import qrcode

    as_bytes = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    as_bytes.add_data(qrcode.util.QRData(payload.encode(), mode=qrcode.util.MODE_8BIT_BYTE))
    as_bytes.make(fit=True)
    assert as_bytes.version >= 25


@pytest.mark.parametrize("kind", ["full budget", "credential", "short"])
def test_png_scans_back_to_exactly_the_payload(kind: str) -> None:
    factories: dict[str, Callable[[], str]] = {
        "full budget": full_budget_payload,
        "credential": compact_credential_payload,
        "short": lambda: "LC1:6BFOXN*TS0BI$ZD.P9",
    }
    payload = factories[kind]()
    png = render_qr_png(payload)
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        modules = 17 + 4 * qr_version(payload) + 8
        assert image.size == (modules * 8, modules * 8)
    assert decode_qr_image(png) == [payload]


def test_png_geometry_parameters() -> None:
    payload = "LC1:ABC"
    with Image.open(io.BytesIO(render_qr_png(payload, box_size=3, border=2))) as image:
        side = (17 + 4 * qr_version(payload) + 4) * 3
        assert image.size == (side, side)
        assert image.getpixel((0, 0)) == 255  # quiet zone is white
    with pytest.raises(ValueError, match="box_size"):
        render_qr_png(payload, box_size=0)


def test_credential_payload_round_trips_through_the_qr() -> None:
    payload = compact_credential_payload()
    scanned = decode_qr_image(render_qr_png(payload))
    assert decode_payload(scanned[0])["credentialSubject"]["holder"]["name"] == "深圳市前海云启数字科技有限公司"


def _rasterise_svg(svg: bytes, px: int = 8) -> bytes:
    """A tiny rasteriser for exactly the SVG ``render_qr_svg`` writes (no SVG library is installed):
    the white background rect and one path of ``M x y h w v1 h-w z`` runs, drawn with PIL."""
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    ns = "{http://www.w3.org/2000/svg}"
    _, _, width, height = (int(v) for v in root.attrib["viewBox"].split())
    rect = root.find(f"{ns}rect")
    assert rect is not None
    assert rect.attrib["fill"] == "#ffffff"
    assert (rect.attrib["width"], rect.attrib["height"]) == (str(width), str(height))
    path = root.find(f"{ns}path")
    assert path is not None
    d = path.attrib["d"]
    run = re.compile(r"M(\d+) (\d+)h(\d+)v1h-(\d+)z")
    assert run.sub("", d) == "", "path holds only module runs"
    image = Image.new("L", (width * px, height * px), 255)
    draw = ImageDraw.Draw(image)
    for x, y, w, back in run.findall(d):
        assert w == back
        x0, y0 = int(x) * px, int(y) * px
        draw.rectangle([x0, y0, x0 + int(w) * px - 1, y0 + px - 1], fill=0)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize("payload_factory", [full_budget_payload, compact_credential_payload])
def test_svg_is_standalone_and_scans(payload_factory: Any) -> None:
    payload = payload_factory()
    svg = render_qr_svg(payload)
    assert svg.startswith(b"<?xml")
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    side = 17 + 4 * qr_version(payload) + 8
    assert root.attrib["viewBox"] == f"0 0 {side} {side}"
    assert decode_qr_image(_rasterise_svg(svg)) == [payload]
    # The SVG and the PNG draw the same symbol.
    with (
        Image.open(io.BytesIO(render_qr_png(payload))) as png,
        Image.open(io.BytesIO(_rasterise_svg(svg))) as ras,
    ):
        assert png.convert("L").tobytes() == ras.convert("L").tobytes()


def test_decode_qr_image_is_defensive() -> None:
    with pytest.raises(ValueError, match="image"):
        decode_qr_image(b"certainly not an image")
    blank = io.BytesIO()
    Image.new("L", (200, 200), 255).save(blank, format="PNG")
    assert decode_qr_image(blank.getvalue()) == []
    # A transparent PNG whose light modules are transparent black still scans.
    with Image.open(io.BytesIO(render_qr_png("LC1:ABC"))) as qr:
        dark = qr.convert("L").point(lambda v: 255 - v)
    rgba = Image.new("RGBA", dark.size, (0, 0, 0, 0))
    rgba.putalpha(dark)
    transparent = io.BytesIO()
    rgba.save(transparent, format="PNG")
    assert decode_qr_image(transparent.getvalue()) == ["LC1:ABC"]
    with pytest.raises(ValueError, match="too large"):
        decode_qr_image(render_qr_png("LC1:ABC"), max_pixels=100)


# --- PDF ----------------------------------------------------------------------------------------------


def test_pdf_text_metadata_and_qr(tmp_path: Path) -> None:
    doc = business_licence()
    pdf = render_license_pdf(doc)
    (tmp_path / "licence.pdf").write_bytes(pdf)
    reader = PdfReader(tmp_path / "licence.pdf")
    assert len(reader.pages) == 1
    text = squash(pdf_text(pdf))
    for expected in (
        doc.title,
        doc.holder_name,
        doc.identifier,
        doc.holder_id_number,
        doc.issuer_name,
        "有效",
    ):
        assert squash(expected) in text
    for half in COMPACT_NOTE.split(" / "):  # printed on two lines under the QR code
        assert squash(half) in text
    assert f"本电子证照由{doc.issuer_name}签发" in text
    meta = reader.metadata
    assert meta is not None
    assert meta.title == doc.title
    assert meta.author == doc.issuer_name
    assert meta.subject == doc.identifier
    assert decode_qr_image(render_page_png(pdf)) == [doc.qr_payload]


def test_full_budget_qr_scans_from_the_rendered_page() -> None:
    payload = full_budget_payload()
    pdf = render_license_pdf(resident_id_card(payload))
    text = squash(pdf_text(pdf))
    assert "张伟" in text
    assert "中华人民共和国居民身份证" in text
    assert decode_qr_image(render_page_png(pdf)) == [payload]


def test_landscape_page_scans_too() -> None:
    doc = business_licence(orientation="landscape", watermark="仅供查看 / FOR VIEWING ONLY")
    pdf = render_license_pdf(doc)
    reader = PdfReader(io.BytesIO(pdf))
    width, height = reader.pages[0].mediabox.width, reader.pages[0].mediabox.height
    assert width > height
    assert "仅供查看" in pdf_text(pdf)
    assert decode_qr_image(render_page_png(pdf)) == [doc.qr_payload]


def _char_boxes(pdf: bytes) -> Iterator[tuple[int, str, float, float, float, float, float, float]]:
    """(page, char, left, bottom, right, top, page width, page height) for every character pdfium sees."""
    document = pdfium.PdfDocument(pdf)
    try:
        for number in range(len(document)):
            page = document[number]
            page_w, page_h = page.get_size()
            textpage = page.get_textpage()
            text = textpage.get_text_range()
            for index in range(textpage.count_chars()):
                left, bottom, right, top = textpage.get_charbox(index)
                char = text[index] if index < len(text) else ""
                yield number, char, left, bottom, right, top, page_w, page_h
    finally:
        document.close()


@pytest.mark.parametrize("orientation", ["portrait", "landscape"])
def test_long_business_scope_wraps_inside_the_page(orientation: str) -> None:
    pdf = render_license_pdf(business_licence(orientation=orientation))
    assert squash(BUSINESS_SCOPE) in squash(pdf_text(pdf))
    margin = 18 * 72 / 25.4 + 6  # the page's side margins plus the frame's padding: the tables' edges
    for _page, char, left, _bottom, right, _top, page_w, _page_h in _char_boxes(pdf):
        if not char.strip():
            continue
        assert left >= margin - 1, (char, left)
        assert right <= page_w - margin + 1, (char, right)


def test_very_long_field_continues_across_pages() -> None:
    scope = BUSINESS_SCOPE * 12  # ~3,600 characters: more than a page
    rows = (
        PrintRow("名称", "Name", "深圳市前海云启数字科技有限公司"),
        PrintRow("经营范围", "Business scope", scope, long=True),
        PrintRow("住所", "Domicile", "深圳市前海深港合作区南山街道桂湾五路128号", long=True),
    )
    pdf = render_license_pdf(business_licence(rows=rows))
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 2
    text = squash(pdf_text(pdf))
    assert "第2页/Page2" in text
    # The row breaks inside itself at each page end: strip the page footers and the text is whole.
    body = re.sub(r"本电子证照由.*?Page\d+", "", text)
    assert squash(scope) in body
    assert "深圳市前海深港合作区南山街道桂湾五路128号" in body


def test_markup_in_values_is_printed_literally() -> None:
    tricky = 'A&B <b>不是标签</b> "引号"'
    pdf = render_license_pdf(business_licence(rows=(PrintRow("备注", "Remarks", tricky),)))
    assert squash(tricky) in squash(pdf_text(pdf))


def test_generated_at_makes_output_reproducible() -> None:
    moment = datetime(2026, 11, 23, 11, 30, tzinfo=BEIJING)
    first = render_license_pdf(business_licence(), generated_at=moment)
    assert render_license_pdf(business_licence(), generated_at=moment) == first
    assert "2026-11-2311:30:00" in squash(pdf_text(first))


def test_bad_orientation_is_refused() -> None:
    with pytest.raises(ValueError, match="orientation"):
        render_license_pdf(business_licence(orientation="sideways"))


def _fonts(pdf: bytes) -> list[dict[str, Any]]:
    """Every font of every page: base name, whether its file is embedded (FontFile2), ToUnicode."""
    found = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        resources: Any = page["/Resources"].get_object()
        for ref in resources["/Font"].get_object().values():
            font = ref.get_object()
            descriptor = font.get("/FontDescriptor")
            if descriptor is None and "/DescendantFonts" in font:
                descriptor = font["/DescendantFonts"][0].get_object().get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor is not None else {}
            found.append(
                {
                    "name": str(font["/BaseFont"]),
                    "embedded": "/FontFile2" in descriptor,
                    "to_unicode": "/ToUnicode" in font,
                }
            )
    return found


@needs_wqy
def test_cjk_font_is_embedded_and_subset(fresh_font_cache: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(fonts.ENV_VAR, raising=False)
    choice = fonts.cjk_font()
    assert choice.embedded
    assert choice.path == str(WQY)
    pdf = render_license_pdf(business_licence())
    embedded = [font for font in _fonts(pdf) if font["embedded"]]
    assert embedded, "the CJK font must be embedded (FontFile2)"
    assert all(font["to_unicode"] for font in embedded), "embedded subsets need a ToUnicode map"
    assert all(re.match(r"/[A-Z]{6}\+", font["name"]) for font in embedded), "subset fonts"
    assert len(pdf) < 70_000


@needs_wqy
def test_font_override_from_the_environment(fresh_font_cache: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fonts, "SEARCH_PATHS", ())
    monkeypatch.setenv(fonts.ENV_VAR, str(WQY))
    assert fonts.cjk_font() == fonts.FontChoice(name=fonts.cjk_font().name, embedded=True, path=str(WQY))


def test_fallback_font_when_none_is_found(
    fresh_font_cache: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(fonts, "SEARCH_PATHS", (str(tmp_path / "missing.ttc"),))
    monkeypatch.setenv(fonts.ENV_VAR, str(tmp_path / "also-missing.ttf"))
    choice = fonts.cjk_font()
    assert choice == fonts.FontChoice(name="STSong-Light", embedded=False, path=None)
    pdf = render_license_pdf(business_licence())
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 1  # STSong-Light's wider Latin glyphs may wrap onto a second page
    used = _fonts(pdf)
    assert any("STSong-Light" in font["name"] for font in used)
    assert not any(font["embedded"] for font in used)
    assert "深圳市前海云启数字科技有限公司" in squash(pdf_text(pdf))


def test_a_font_that_cannot_be_embedded_is_skipped(
    fresh_font_cache: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.ttf"
    broken.write_bytes(b"OTTO" + bytes(64))  # a CFF-flavoured header reportlab refuses
    monkeypatch.setattr(fonts, "SEARCH_PATHS", (str(broken),))
    monkeypatch.delenv(fonts.ENV_VAR, raising=False)
    assert fonts.cjk_font().name == "STSong-Light"
