"""Annotated copies (加注件, DESIGN §3 flow 5): the case's materials list, then each pulled licence laid out as
its own PDF lays it out, under an annotation box, watermarked with the annotation on every page, with its
QR code still scanning and the case id in the footer."""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import base58
import pypdfium2 as pdfium
import pytest
from pypdf import PdfReader
from pypdf.generic import Destination
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from registry.rendering.fonts import cjk_font
from registry.rendering.pdf import (
    NOT_ORIGINAL,
    QR_SIZE_MM,
    AnnotatedCopy,
    CaseCover,
    CoverLine,
    PrintableLicense,
    PrintRow,
    _qr_png_for_print,
    _watermark,
    render_annotated_copies,
)
from registry.rendering.qr import decode_qr_image
from verification.identifiers import LicenseIdentifier, resident_id_check, uscc_check
from verification.payload import encode_payload

BEIJING = timezone(timedelta(hours=8))
MOMENT = datetime(2026, 11, 23, 10, 15, tzinfo=BEIJING)
BASE = "https://zwfw.gd.gov.cn"
ANNOTATION = "仅供深圳市福田区政务服务中心办理机动车驾驶证期满换证使用"


def uscc(first17: str) -> str:
    return first17 + uscc_check(first17)


MPS = uscc("11100000000013127")  # the type-owning authority (公安部)
SZ_POLICE = uscc("11440300007519213")  # 深圳市公安局
SZ_TRAFFIC = uscc("11440300MB2C93517")  # 深圳市公安局交通警察支队
SAMR = uscc("11100000MB0143028")
SZ_AMR = uscc("11440300MB2C93600")  # 深圳市市场监督管理局
CITIZEN = "44030419900307281" + resident_id_check("44030419900307281")
COMPANY = uscc("91440300MA5G8X2Q3")


def credential_payload(
    identifier: str, issuer: str, issuer_name: str, holder: dict[str, str], licence_type: str, fields: dict[str, str]
) -> str:
    """A full credential shaped as the registry issues it (DESIGN §5), encoded for the QR code."""
    credential: dict[str, Any] = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": f"{BASE}/licenses/{identifier}",
        "type": ["VerifiableCredential", "ElectronicLicense"],
        "issuer": {"id": f"did:web:zwfw.gd.gov.cn:departments:{issuer}", "name": issuer_name},
        "validFrom": "2026-11-23T00:00:00Z",
        "credentialSubject": {"holder": holder, "licenseType": licence_type, "fields": fields},
        "credentialStatus": [
            {
                "type": "BitstringStatusListEntry",
                "statusPurpose": purpose,
                "statusListIndex": "4711",
                "statusListCredential": f"{BASE}/status-lists/{issuer}-{purpose}-1",
            }
            for purpose in ("revocation", "suspension")
        ],
        "proof": {
            "type": "DataIntegrityProof",
            "cryptosuite": "eddsa-jcs-2022",
            "created": "2026-11-23T02:00:00Z",
            "verificationMethod": f"did:web:zwfw.gd.gov.cn:departments:{issuer}#key-1",
            "proofPurpose": "assertionMethod",
            # 64 bytes standing in for an Ed25519 signature: the QR only carries it.
            "proofValue": "z" + base58.b58encode(hashlib.sha512(identifier.encode()).digest()).decode(),
        },
    }
    return encode_payload(credential)


def resident_id_card() -> PrintableLicense:
    identifier = str(LicenseIdentifier(MPS + "001", SZ_POLICE, "00000042"))
    holder = {"idType": "resident_id", "idNumber": CITIZEN, "name": "张伟"}
    fields = {"name": "张伟", "sex": "男", "ethnicity": "汉", "birth_date": "1990-03-07"}
    return PrintableLicense(
        title="中华人民共和国居民身份证",
        title_en="Resident Identity Card of the People's Republic of China",
        identifier=identifier,
        type_name="居民身份证",
        holder_name="张伟",
        holder_id_label="公民身份号码",
        holder_id_number=CITIZEN,
        issuer_name="深圳市公安局",
        valid_from="2020年3月7日",
        valid_until="2040年3月7日",
        status_text="有效",
        rows=(
            PrintRow("姓名", "Name", "张伟"),
            PrintRow("性别", "Sex", "男"),
            PrintRow("民族", "Ethnicity", "汉"),
            PrintRow("出生日期", "Date of birth", "1990年3月7日"),
            PrintRow("住址", "Address", "广东省深圳市福田区福华三路88号财富大厦2栋1201房", long=True),
            PrintRow("签发机关", "Issuing authority", "深圳市公安局福田分局"),
        ),
        qr_payload=credential_payload(identifier, SZ_POLICE, "深圳市公安局", holder, "resident_id_card", fields),
        orientation="portrait",
        issued_on="2020年3月7日",
        compact_qr=False,
    )


def driving_licence() -> PrintableLicense:
    identifier = str(LicenseIdentifier(MPS + "017", SZ_TRAFFIC, "440300123456"))
    holder = {"idType": "resident_id", "idNumber": CITIZEN, "name": "张伟"}
    fields = {"vehicle_class": "C1", "first_issued": "2014-06-18", "file_number": "440301234567"}
    return PrintableLicense(
        title="中华人民共和国机动车驾驶证",
        title_en="Motor Vehicle Driving Licence of the People's Republic of China",
        identifier=identifier,
        type_name="机动车驾驶证",
        holder_name="张伟",
        holder_id_label="公民身份号码",
        holder_id_number=CITIZEN,
        issuer_name="深圳市公安局交通警察支队",
        valid_from="2020年6月18日",
        valid_until="2026年12月18日",
        status_text="有效",
        rows=(
            PrintRow("准驾车型", "Vehicle class", "C1"),
            PrintRow("初次领证日期", "First issued", "2014年6月18日"),
            PrintRow("档案编号", "File number", "440301234567"),
            PrintRow("住址", "Address", "广东省深圳市福田区福华三路88号财富大厦2栋1201房", long=True),
        ),
        qr_payload=credential_payload(identifier, SZ_TRAFFIC, "深圳市公安局交通警察支队", holder, "driving", fields),
        orientation="portrait",
        issued_on="2020年6月18日",
        compact_qr=False,
    )


def business_licence(scope_repeat: int = 1) -> PrintableLicense:
    identifier = str(LicenseIdentifier(SAMR + "001", SZ_AMR, "2026000123"))
    holder = {"idType": "uscc", "idNumber": COMPANY, "name": "深圳市前海云启数字科技有限公司"}
    scope = (
        "一般经营项目是：计算机软硬件及辅助设备的技术开发、技术咨询、技术服务、技术转让；信息系统集成服务；"
        "数据处理和存储支持服务；物联网技术服务；人工智能应用软件开发。许可经营项目是：第一类增值电信业务。"
    ) * scope_repeat
    return PrintableLicense(
        title="营业执照",
        title_en="Business Licence",
        identifier=identifier,
        type_name="营业执照（企业法人）",
        holder_name="深圳市前海云启数字科技有限公司",
        holder_id_label="统一社会信用代码",
        holder_id_number=COMPANY,
        issuer_name="深圳市市场监督管理局",
        valid_from="2019年5月16日",
        valid_until="长期",
        status_text="有效",
        rows=(
            PrintRow("名称", "Name", "深圳市前海云启数字科技有限公司"),
            PrintRow("法定代表人", "Legal representative", "李晓明"),
            PrintRow("注册资本", "Registered capital", "人民币1000万元"),
            PrintRow("经营范围", "Business scope", scope, long=True),
        ),
        qr_payload=credential_payload(
            identifier, SZ_AMR, "深圳市市场监督管理局", holder, "business_license", {"name": holder["name"]}
        ),
        orientation="landscape",
        issued_on="2019年5月16日",
        compact_qr=False,
    )


def case_cover(*copies: AnnotatedCopy, lines: tuple[CoverLine, ...] | None = None) -> CaseCover:
    id_card, licence = resident_id_card(), driving_licence()
    default = (
        CoverLine("居民身份证", "申请人", "必需", "已调取", id_card.identifier, "核验有效"),
        CoverLine("机动车驾驶证", "申请人", "必需", "已调取", licence.identifier, "核验有效"),
        CoverLine("机动车驾驶人身体条件证明", "申请人", "必需", "缺失", None, "证照已过期"),
        CoverLine("居住证", "申请人", "可选", "已承诺（2026年12月31日前）", None, "告知承诺"),
    )
    return CaseCover(
        agency_name="深圳市福田区政务服务中心",
        service_name="机动车驾驶证期满换证",
        service_code="11440300MB2C9351XK4440330001000",
        case_id="FT-20261123-000187",
        created_on="2026年11月23日",
        lines=default if lines is None else lines,
        offline_materials=("近期一寸白底证件照片",),
        exempted=2,
        missing=1,
    )


def two_copies() -> list[AnnotatedCopy]:
    return [
        AnnotatedCopy(resident_id_card(), ANNOTATION, "2026年11月23日", "2026年12月23日"),
        AnnotatedCopy(driving_licence(), "仅供福田区政务服务中心办理期满换证使用", "2026年11月23日", "2026年12月8日"),
    ]


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def page_texts(pdf: bytes) -> list[str]:
    return [squash(page.extract_text()) for page in PdfReader(io.BytesIO(pdf)).pages]


def render_page_png(pdf: bytes, index: int, scale: float = 4.0) -> bytes:
    document = pdfium.PdfDocument(pdf)
    try:
        image = document[index].render(scale=scale).to_pil()
        out = io.BytesIO()
        image.save(out, format="PNG")
        return out.getvalue()
    finally:
        document.close()


def outline(pdf: bytes) -> list[tuple[str, int]]:
    """The PDF's top-level outline entries: title and page index."""
    reader = PdfReader(io.BytesIO(pdf))
    entries = []
    for entry in reader.outline:
        assert isinstance(entry, Destination), "a flat outline"
        page = reader.get_destination_page_number(entry)
        assert page is not None
        entries.append((str(entry.title), page))
    return entries


def copy_page_ranges(pdf: bytes) -> list[range]:
    """The pages of each copy, from the PDF's outline: the cover's entry first, then one per copy."""
    starts = [page for _, page in outline(pdf)]
    assert starts[0] == 0, "the cover comes first"
    ends = [*starts[2:], len(PdfReader(io.BytesIO(pdf)).pages)]
    return [range(start, end) for start, end in zip(starts[1:], ends, strict=True)]


@pytest.fixture(scope="module")
def case_pdf() -> bytes:
    copies = two_copies()
    return render_annotated_copies(case_cover(*copies), copies, generated_at=MOMENT)


def test_pdf_opens_with_metadata(case_pdf: bytes) -> None:
    reader = PdfReader(io.BytesIO(case_pdf))
    assert len(reader.pages) >= 3
    meta = reader.metadata
    assert meta is not None
    assert meta.title == "加注件 FT-20261123-000187"
    assert meta.subject == "机动车驾驶证期满换证"
    assert meta.author == "深圳市福田区政务服务中心"
    titles = [title for title, _ in outline(case_pdf)]
    assert titles[0] == "办件材料清单 / Case materials"
    assert titles[1:] == ["加注件 1：中华人民共和国居民身份证（张伟）", "加注件 2：中华人民共和国机动车驾驶证（张伟）"]


def test_cover_lists_every_material(case_pdf: bytes) -> None:
    cover = case_cover()
    text = page_texts(case_pdf)[0]
    for expected in (
        "办件材料清单",
        "Casematerials",
        cover.agency_name,
        cover.service_name,
        cover.service_code,
        cover.case_id,
        cover.created_on,
        *cover.offline_materials,
        "免提交2份",
        "2papercopiesspared",
        "缺失1项",
        "1missing",
    ):
        assert squash(expected) in text, expected
    for line in cover.lines:
        for value in (line.material, line.party, line.requirement, line.state, line.note):
            assert squash(value) in text, value
        if line.identifier:
            assert line.identifier in text
    # The cover is the materials list only: no licence is laid out on it.
    assert NOT_ORIGINAL.split(" / ")[0] not in text


def test_each_copy_carries_its_annotation_on_every_page(case_pdf: bytes) -> None:
    texts = page_texts(case_pdf)
    copies = two_copies()
    ranges = copy_page_ranges(case_pdf)
    assert len(ranges) == len(copies)
    for number, (copy, pages) in enumerate(zip(copies, ranges, strict=True), start=1):
        assert len(pages) >= 1
        joined = "".join(texts[index] for index in pages)
        for expected in (
            copy.licence.title,
            copy.licence.holder_name,
            copy.licence.identifier,
            copy.licence.issuer_name,
            "加注日期",
            copy.copy_date,
            f"本复印件有效期至{copy.copy_expires}",
            "Annotatedon2026-11-23",
            f"加注件{number}/{len(copies)}",
        ):
            assert squash(expected) in joined, (number, expected)
        for index in pages:  # the box is on the first page; watermark and footer are on every page
            assert squash(copy.annotation) in texts[index]
            assert "不能替代原件" in texts[index]
            assert "办件编号/Case:FT-20261123-000187" in texts[index]
            assert f"本电子证照由{copy.licence.issuer_name}签发" in texts[index]
        # The other copy's licence is not in this copy's pages.
        other = copies[2 - number].licence
        assert other.identifier not in joined


def test_each_copy_qr_scans_to_its_own_payload(case_pdf: bytes) -> None:
    for copy, pages in zip(two_copies(), copy_page_ranges(case_pdf), strict=True):
        assert decode_qr_image(render_page_png(case_pdf, pages.start)) == [copy.licence.qr_payload]
    assert decode_qr_image(render_page_png(case_pdf, 0)) == []  # the cover has no QR code


def test_zero_copies_renders_just_the_cover() -> None:
    pdf = render_annotated_copies(case_cover(), [], generated_at=MOMENT)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    text = page_texts(pdf)[0]
    assert "深圳市福田区政务服务中心" in text
    assert "本办件无加注件" in text
    assert outline(pdf) == [("办件材料清单 / Case materials", 0)]


def test_generated_at_makes_output_reproducible(case_pdf: bytes) -> None:
    copies = two_copies()
    again = render_annotated_copies(case_cover(*copies), copies, generated_at=MOMENT)
    assert again == case_pdf
    assert "2026-11-2310:15:00" in page_texts(case_pdf)[-1]
    later = render_annotated_copies(case_cover(*copies), copies, generated_at=MOMENT + timedelta(minutes=1))
    assert later != case_pdf


def test_each_copy_keeps_its_licence_orientation_and_long_copies_continue() -> None:
    """A landscape licence long enough for two pages: the cover stays portrait, the copy is landscape from
    a new page, and its second page still carries the watermark and the footer."""
    copy = AnnotatedCopy(business_licence(scope_repeat=12), ANNOTATION, "2026年11月23日", "2026年12月23日")
    pdf = render_annotated_copies(case_cover(copy), [copy], generated_at=MOMENT)
    reader = PdfReader(io.BytesIO(pdf))
    (pages,) = copy_page_ranges(pdf)
    assert pages == range(1, len(reader.pages))
    assert len(pages) >= 2
    cover_box = reader.pages[0].mediabox
    assert cover_box.width < cover_box.height
    for index in pages:
        box = reader.pages[index].mediabox
        assert box.width > box.height
    texts = page_texts(pdf)
    for index in pages:
        assert squash(ANNOTATION) in texts[index]
        assert "不能替代原件" in texts[index]
    assert decode_qr_image(render_page_png(pdf, pages.start)) == [copy.licence.qr_payload]


def test_the_licence_watermark_is_replaced_by_the_annotation() -> None:
    licence = replace(resident_id_card(), watermark="仅供查看 / FOR VIEWING ONLY")
    copy = AnnotatedCopy(licence, ANNOTATION, "2026年11月23日", "2026年12月23日")
    pdf = render_annotated_copies(case_cover(copy), [copy], generated_at=MOMENT)
    assert "仅供查看" not in "".join(page_texts(pdf))


def test_watermark_across_a_qr_code_leaves_it_scannable() -> None:
    """The copy's layout keeps the QR code out of the watermark's way; this checks the worst case, with
    the watermark drawn straight across the QR code, as light as the copies draw it."""
    payload = driving_licence().qr_payload
    side = QR_SIZE_MM * mm

    def page(watermark: bool) -> bytes:
        out = io.BytesIO()
        canvas = Canvas(out, pagesize=A4, invariant=1)
        page_w, page_h = A4
        # The QR code at the page's centre, where the middle of the watermark runs across it.
        qr = ImageReader(io.BytesIO(_qr_png_for_print(payload)))
        canvas.drawImage(qr, page_w / 2 - side / 2, page_h / 2 - side / 2, side, side)
        if watermark:
            _watermark(canvas, "仅供本中心办理换证使用", cjk_font().name, page_w, page_h)
        canvas.save()
        return out.getvalue()

    plain, marked = render_page_png(page(False), 0), render_page_png(page(True), 0)
    assert plain != marked, "the watermark does cross the QR code"
    assert decode_qr_image(marked) == [payload]
    assert decode_qr_image(render_page_png(page(True), 0, scale=2.0)) == [payload]


def test_markup_in_cover_text_is_printed_literally() -> None:
    tricky = CoverLine('A&B <b>不是标签</b> "材料"', "申请人", "必需", "缺失", None, "<i>说明</i>")
    pdf = render_annotated_copies(case_cover(lines=(tricky,)), [], generated_at=MOMENT)
    text = page_texts(pdf)[0]
    assert squash(tricky.material) in text
    assert "<i>说明</i>" in text


def test_a_long_cover_runs_onto_more_pages_and_copies_still_start_fresh() -> None:
    licence = driving_licence()
    lines = tuple(CoverLine(f"材料{i}", "申请人", "必需", "已调取", licence.identifier, "核验有效") for i in range(30))
    copy = AnnotatedCopy(licence, ANNOTATION, "2026年11月23日", "2026年12月23日")
    pdf = render_annotated_copies(case_cover(copy, lines=lines), [copy], generated_at=MOMENT)
    texts = page_texts(pdf)
    (pages,) = copy_page_ranges(pdf)
    assert pages.start >= 2, "the cover took more than one page"
    cover_text = "".join(texts[: pages.start])
    assert all(f"材料{i}" in cover_text for i in range(30))
    assert "免提交2份" in cover_text
    assert all("序号" in texts[index] for index in range(pages.start)), "the table's header repeats"
    assert "不能替代原件" not in cover_text
    assert squash(ANNOTATION) in texts[pages.start]


def test_bad_orientation_is_refused() -> None:
    copy = AnnotatedCopy(replace(resident_id_card(), orientation="sideways"), ANNOTATION, "今日", "明日")
    with pytest.raises(ValueError, match="orientation"):
        render_annotated_copies(case_cover(), [copy])
