"""Service items: the shipped catalogue, its public shape, search, and strict loading of the files."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from registry import errors
from registry.licence_types import Catalog, TemplateError, default_catalog
from registry.service_items import (
    PARTIES,
    SERVICES_DIR,
    Material,
    OfflineMaterial,
    ServiceCatalog,
    ServiceItem,
    default_service_catalog,
    load_service_catalog,
    load_service_item,
)

FOOD = "440300-SCJG-SPJY-001"
LOAN = "440300-GJJ-GRDK-001"
NEWBORN = "440300-GA-XSRH-001"
DRIVING = "440300-GAJJ-JSZHZ-001"
TRANSFER = "440300-BDC-ZYDJ-001"
PERMIT = "440300-GA-JZZ-001"

EXPECTED = {
    FOOD: "食品经营许可（新办）",
    LOAN: "住房公积金个人住房贷款",
    NEWBORN: "新生儿入户",
    DRIVING: "机动车驾驶证期满换证",
    TRANSFER: "不动产转移登记（二手房）",
    PERMIT: "居住证办理",
}


@pytest.fixture(scope="module")
def services() -> ServiceCatalog:
    return default_service_catalog()


def _materials(item: ServiceItem) -> set[tuple[str, str, str]]:
    return {(m.license_type, m.party, m.requirement) for m in item.materials}


# --- the shipped catalogue ------------------------------------------------------------------------


def test_all_six_items_load(services: ServiceCatalog) -> None:
    assert {item.code: item.name for item in services} == EXPECTED
    assert len(services) == 6
    assert services.codes() == sorted(EXPECTED)
    assert len(list(SERVICES_DIR.glob("*.toml"))) == 6


def test_default_catalog_is_cached() -> None:
    assert default_service_catalog() is default_service_catalog()


def test_every_material_names_a_known_licence_type(services: ServiceCatalog) -> None:
    licences = default_catalog()
    for item in services:
        assert item.materials
        for m in item.materials:
            assert m.license_type in licences, (item.code, m.license_type)
            assert m.party in PARTIES
            assert m.requirement in ("required", "optional", "one_of")
            assert bool(m.note) == bool(m.note_en)


def test_item_metadata_is_complete(services: ServiceCatalog) -> None:
    for item in services:
        assert re.fullmatch(r"[0-9A-Z-]+", item.code)
        assert item.code.startswith("440300-")
        assert item.name_en and item.agency_type and item.agency_type_en
        assert 1 <= item.time_limit_days <= 30
        assert item.legal_basis.startswith("《")
        for o in item.offline_materials:
            assert o.name and o.name_en
            assert isinstance(o.commitment_allowed, bool)


def test_newborn_registration(services: ServiceCatalog) -> None:
    item = services.get(NEWBORN)
    assert item.parties() == ["mother", "father"]
    assert _materials(item) == {
        ("birth_certificate", "mother", "required"),
        ("resident_id_card", "mother", "required"),
        ("resident_id_card", "father", "required"),
        ("marriage_certificate", "mother", "one_of"),
        ("marriage_certificate", "father", "one_of"),
    }
    groups = item.one_of_groups()
    assert list(groups) == ["marriage"]
    assert {(m.license_type, m.party) for m in groups["marriage"] if isinstance(m, Material)} == {
        ("marriage_certificate", "mother"),
        ("marriage_certificate", "father"),
    }
    assert [o.name for o in item.offline_materials] == ["居民户口簿"]
    assert item.license_types() == {"birth_certificate", "resident_id_card", "marriage_certificate"}


def test_food_business_licence(services: ServiceCatalog) -> None:
    item = services.get(FOOD)
    assert item.agency_type == "市场监督管理局"
    assert item.parties() == ["company", "legal_representative"]
    assert _materials(item) == {
        ("business_license", "company", "required"),
        ("resident_id_card", "legal_representative", "required"),
        ("real_estate_certificate", "company", "one_of"),
    }
    premises = item.one_of_groups()["premises"]
    assert [type(a) for a in premises] == [Material, OfflineMaterial]
    lease = premises[1]
    assert isinstance(lease, OfflineMaterial) and "租赁合同" in lease.name
    rules = next(o for o in item.offline_materials if o.name == "食品安全管理制度")
    assert rules.commitment_allowed and rules.group == ""


def test_real_estate_transfer(services: ServiceCatalog) -> None:
    item = services.get(TRANSFER)
    assert item.parties() == ["buyer", "seller"]
    required = {(m.license_type, m.party) for m in item.materials if m.requirement == "required"}
    assert required == {
        ("resident_id_card", "buyer"),
        ("resident_id_card", "seller"),
        ("real_estate_certificate", "seller"),
    }
    assert {m.requirement for m in item.materials if m.license_type == "marriage_certificate"} == {"optional"}
    assert {o.name for o in item.offline_materials} == {"存量房买卖合同", "完税凭证"}


def test_housing_fund_loan(services: ServiceCatalog) -> None:
    item = services.get(LOAN)
    assert _materials(item) == {
        ("resident_id_card", "borrower", "required"),
        ("marriage_certificate", "borrower", "optional"),
        ("real_estate_certificate", "seller", "optional"),
        ("social_security_card", "borrower", "optional"),
    }
    married = next(m for m in item.materials if m.license_type == "marriage_certificate")
    assert "已婚" in married.note
    assert {o.name for o in item.offline_materials} == {"购房合同", "收入证明"}


def test_driving_licence_renewal(services: ServiceCatalog) -> None:
    item = services.get(DRIVING)
    assert _materials(item) == {
        ("resident_id_card", "applicant", "required"),
        ("driving_license", "applicant", "required"),
    }
    assert [o.name for o in item.offline_materials] == ["机动车驾驶人身体条件证明"]
    assert not item.offline_materials[0].commitment_allowed


def test_residence_permit(services: ServiceCatalog) -> None:
    item = services.get(PERMIT)
    assert item.parties() == ["applicant"]
    assert _materials(item) == {
        ("resident_id_card", "applicant", "required"),
        ("real_estate_certificate", "applicant", "one_of"),
        ("social_security_card", "applicant", "optional"),
    }
    residence = item.one_of_groups()["residence"]
    assert [getattr(a, "license_type", None) or getattr(a, "name", None) for a in residence] == [
        "real_estate_certificate",
        "房屋租赁合同",
    ]


def test_one_of_groups_have_alternatives_and_only_one_of_has_a_group(services: ServiceCatalog) -> None:
    for item in services:
        for m in item.materials:
            assert (m.requirement == "one_of") == bool(m.group), (item.code, m)
        for group, alternatives in item.one_of_groups().items():
            assert len(alternatives) >= 2, (item.code, group)


# --- public() -------------------------------------------------------------------------------------


def test_public_shape(services: ServiceCatalog) -> None:
    body = services.get(FOOD).public()
    assert list(body) == [
        "code",
        "name",
        "name_en",
        "agency_type",
        "agency_type_en",
        "time_limit_days",
        "legal_basis",
        "materials",
        "offline_materials",
        "paper_copies_spared",
    ]
    assert body["code"] == FOOD and body["name"] == "食品经营许可（新办）"
    assert body["time_limit_days"] == 10
    materials = body["materials"]
    assert isinstance(materials, list)
    assert materials[0] == {
        "license_type": "business_license",
        "license_type_name": "营业执照",
        "party": "company",
        "party_name": "企业",
        "requirement": "required",
        "group": "",
        "note": "",
        "note_en": "",
    }
    assert materials[1]["party_name"] == "法定代表人"
    assert materials[2]["license_type_name"] == "不动产权证书" and materials[2]["group"] == "premises"
    offline = body["offline_materials"]
    assert isinstance(offline, list)
    assert offline[0] == {
        "name": "经营场所租赁合同",
        "name_en": "Lease of the business premises",
        "commitment_allowed": False,
        "group": "premises",
    }
    # 营业执照, 法定代表人身份证, and the premises group (when the 不动产权证书 is pulled).
    assert body["paper_copies_spared"] == 3


@pytest.mark.parametrize(
    ("code", "spared"),
    [(FOOD, 3), (LOAN, 4), (NEWBORN, 4), (DRIVING, 2), (TRANSFER, 5), (PERMIT, 3)],
)
def test_paper_copies_spared(services: ServiceCatalog, code: str, spared: int) -> None:
    assert services.get(code).public()["paper_copies_spared"] == spared


def test_public_names_every_party_in_chinese(services: ServiceCatalog) -> None:
    for item in services:
        materials = item.public()["materials"]
        assert isinstance(materials, list)
        for m in materials:
            assert m["party_name"] == PARTIES[m["party"]]
            assert m["license_type_name"] == default_catalog().get(m["license_type"]).name


def test_a_hand_built_item_names_types_from_the_default_catalogue() -> None:
    item = ServiceItem(
        code="440300-GA-JZZ-002",
        name="居住证签注",
        name_en="Residence permit endorsement",
        agency_type="公安局",
        agency_type_en="Public Security Bureau",
        time_limit_days=15,
        legal_basis="《居住证暂行条例》第十三条",
        materials=(Material("residence_permit", "applicant", "required"),),
    )
    materials = item.public()["materials"]
    assert isinstance(materials, list)
    assert materials[0]["license_type_name"] == "居住证"
    assert item.public()["offline_materials"] == []


# --- search and lookup ----------------------------------------------------------------------------


def test_search_by_chinese_name(services: ServiceCatalog) -> None:
    assert [i.code for i in services.search("新生儿")] == [NEWBORN]
    assert [i.code for i in services.search("  驾驶证 ")] == [DRIVING]
    assert {i.code for i in services.search("许可")} == {FOOD}


def test_search_by_english_name_is_case_insensitive(services: ServiceCatalog) -> None:
    assert [i.code for i in services.search("PROVIDENT fund")] == [LOAN]
    assert [i.code for i in services.search("residence permit")] == [PERMIT]


def test_search_by_code(services: ServiceCatalog) -> None:
    assert [i.code for i in services.search(FOOD)] == [FOOD]
    assert [i.code for i in services.search("440300-ga-")] == [PERMIT, NEWBORN]
    assert len(services.search("440300")) == 6


def test_search_blank_returns_all_and_nonsense_nothing(services: ServiceCatalog) -> None:
    assert services.search("") == services.all()
    assert services.search(None) == services.all()
    assert services.search("   ") == services.all()
    assert services.search("护照") == []


def test_get_unknown_code_is_not_found(services: ServiceCatalog) -> None:
    with pytest.raises(errors.NotFound) as info:
        services.get("440300-XX-NONE-999")
    assert info.value.code == "not_found"
    assert "440300-XX-NONE-999" in info.value.detail
    with pytest.raises(errors.NotFound):
        services.get(None)
    assert FOOD in services
    assert "440300-XX-NONE-999" not in services
    assert 42 not in services


# --- strict loading -------------------------------------------------------------------------------

VALID = """\
code = "440300-GA-JZZ-009"
name = "居住证办理"
name_en = "Residence permit application"
agency_type = "公安局"
agency_type_en = "Public Security Bureau"
time_limit_days = 15
legal_basis = "《居住证暂行条例》第九条"

[[materials]]
license_type = "resident_id_card"
party = "applicant"
requirement = "required"

[[materials]]
license_type = "real_estate_certificate"
party = "applicant"
requirement = "one_of"
group = "residence"
note = "自有住房时提供"
note_en = "If the applicant owns the home"

[[offline_materials]]
name = "房屋租赁合同"
name_en = "Housing lease"
commitment_allowed = false
group = "residence"
"""


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_valid_sample_loads(tmp_path: Path) -> None:
    item = load_service_item(_write(tmp_path, "permit.toml", VALID))
    assert item.code == "440300-GA-JZZ-009"
    assert item.offline_materials == (OfflineMaterial("房屋租赁合同", "Housing lease", False, "residence"),)
    assert item.materials[0] == Material("resident_id_card", "applicant", "required", "", "", "")
    assert len(load_service_catalog(tmp_path)) == 1


MALFORMED = [
    pytest.param(_replace(VALID, 'legal_basis = "', 'fee = 0\nlegal_basis = "'), "unknown key(s): fee", id="top-key"),
    pytest.param(
        _replace(VALID, 'requirement = "required"', 'requirement = "required"\ncopies = 2'),
        "unknown key(s): copies",
        id="material-key",
    ),
    pytest.param(
        _replace(VALID, "commitment_allowed = false", "commitment_allowed = false\nnote = '备案'"),
        "unknown key(s): note",
        id="offline-key",
    ),
    pytest.param(
        _replace(VALID, 'license_type = "resident_id_card"', 'license_type = "passport"'),
        "unknown licence type",
        id="license-type",
    ),
    pytest.param(_replace(VALID, 'party = "applicant"', 'party = "landlord"'), "unknown party", id="party"),
    pytest.param(
        _replace(VALID, 'requirement = "required"', 'requirement = "recommended"'),
        "unknown requirement",
        id="requirement",
    ),
    pytest.param(
        _replace(VALID, 'one_of"\ngroup = "residence"', 'one_of"\ngroup = "home"'),
        "at least two alternatives",
        id="single-alternative",
    ),
    pytest.param(
        _replace(VALID, 'requirement = "one_of"\ngroup = "residence"\n', 'requirement = "one_of"\n'),
        "needs a group",
        id="one-of-without-group",
    ),
    pytest.param(
        _replace(VALID, 'requirement = "required"', 'requirement = "required"\ngroup = "residence"'),
        "only a one_of material has a group",
        id="group-without-one-of",
    ),
    pytest.param(_replace(VALID, '"440300-GA-JZZ-009"', '"440300-ga-jzz-009"'), "code", id="code-case"),
    pytest.param(_replace(VALID, '"440300-GA-JZZ-009"', '"JZZ 009"'), "code", id="code-shape"),
    pytest.param(_replace(VALID, "time_limit_days = 15", "time_limit_days = 0"), "time_limit_days", id="days-0"),
    pytest.param(_replace(VALID, "time_limit_days = 15", 'time_limit_days = "15"'), "time_limit_days", id="days-str"),
    pytest.param(_replace(VALID, 'name_en = "Residence permit application"\n', ""), "name_en", id="missing-key"),
    pytest.param(_replace(VALID, 'legal_basis = "《居住证暂行条例》第九条"', 'legal_basis = " "'), "empty", id="blank"),
    pytest.param(
        _replace(VALID, 'note_en = "If the applicant owns the home"\n', ""), "note and note_en", id="note-alone"
    ),
    pytest.param(
        _replace(VALID, "commitment_allowed = false", 'commitment_allowed = "no"'),
        "commitment_allowed",
        id="commitment-type",
    ),
    pytest.param(
        _replace(VALID, 'one_of"\ngroup = "residence"', 'one_of"\ngroup = "住所"'), "snake_case", id="group-name"
    ),
    pytest.param(
        VALID + '\n[[materials]]\nlicense_type = "resident_id_card"\nparty = "applicant"\nrequirement = "optional"\n',
        "listed twice",
        id="duplicate-material",
    ),
    pytest.param(
        VALID + '\n[[offline_materials]]\nname = "房屋租赁合同"\nname_en = "Lease"\ncommitment_allowed = true\n',
        "duplicate offline material",
        id="duplicate-offline",
    ),
    pytest.param(VALID.split("[[materials]]")[0] + "materials = []\n", "non-empty array", id="no-materials"),
    pytest.param(
        VALID.split("[[materials]]")[0] + 'materials = ["resident_id_card"]\n',
        "materials[0] 应为表 / must be a table",
        id="material-not-a-table",
    ),
    pytest.param(VALID.replace('name = "居住证办理"', "name = "), "invalid TOML", id="syntax"),
]


@pytest.mark.parametrize(("text", "hint"), MALFORMED)
def test_malformed_item_raises_template_error_naming_the_file(tmp_path: Path, text: str, hint: str) -> None:
    path = _write(tmp_path, "permit.toml", text)
    with pytest.raises(TemplateError) as info:
        load_service_item(path)
    assert str(info.value).startswith("permit.toml:")
    assert hint in str(info.value)
    with pytest.raises(TemplateError, match=r"permit\.toml"):
        load_service_catalog(tmp_path)


def test_duplicate_code_names_both_files(tmp_path: Path) -> None:
    _write(tmp_path, "a_permit.toml", VALID)
    _write(tmp_path, "b_permit.toml", _replace(VALID, 'name = "居住证办理"', 'name = "居住证申领"'))
    with pytest.raises(TemplateError) as info:
        load_service_catalog(tmp_path)
    message = str(info.value)
    assert message.startswith("b_permit.toml:")
    assert "a_permit.toml" in message and "440300-GA-JZZ-009" in message


def test_duplicate_code_in_a_hand_built_catalogue(services: ServiceCatalog) -> None:
    item = services.get(FOOD)
    with pytest.raises(TemplateError, match="duplicate"):
        ServiceCatalog([item, item])


def test_licence_types_are_checked_against_the_given_catalogue(tmp_path: Path) -> None:
    licences = default_catalog()
    without_deeds = Catalog(lt for lt in licences.all() if lt.type != "real_estate_certificate")
    shutil.copy(SERVICES_DIR / "residence_permit.toml", tmp_path / "residence_permit.toml")
    with pytest.raises(TemplateError, match=r"residence_permit\.toml: .*real_estate_certificate"):
        load_service_catalog(tmp_path, without_deeds)
    assert len(load_service_catalog(tmp_path, licences)) == 1


def test_missing_or_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="not found"):
        load_service_catalog(tmp_path / "missing")
    with pytest.raises(TemplateError, match=r"no \*\.toml"):
        load_service_catalog(tmp_path)


def test_invalid_utf8_is_a_template_error(tmp_path: Path) -> None:
    path = tmp_path / "permit.toml"
    path.write_bytes(VALID.encode("utf-8").replace("居住证办理".encode(), b"\xff\xfe", 1))
    with pytest.raises(TemplateError, match=r"permit\.toml"):
        load_service_item(path)
