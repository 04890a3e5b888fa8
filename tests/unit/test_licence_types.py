"""Licence templates: the shipped catalogue, field and holder validation, and strict template loading."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

import pytest

from registry.errors import InvalidFields, InvalidHolderId, UnknownLicenseType
from registry.licence_types import (
    TEMPLATES_DIR,
    Catalog,
    HolderRef,
    LicenseType,
    TemplateError,
    default_catalog,
    load_catalog,
    load_license_type,
    validate_holder,
)
from verification.identifiers import validate_type_code, validate_uscc

EXPECTED_TYPES = {
    "resident_id_card": "居民身份证",
    "business_license": "营业执照",
    "driving_license": "机动车驾驶证",
    "real_estate_certificate": "不动产权证书",
    "food_business_license": "食品经营许可证",
    "birth_certificate": "出生医学证明",
    "marriage_certificate": "结婚证",
    "social_security_card": "社会保障卡",
    "residence_permit": "居住证",
}
NO_EXPIRY = {"birth_certificate", "marriage_certificate", "business_license", "real_estate_certificate"}

ZHANG_WEI = HolderRef("resident_id", "440304198803152316", "张伟")
COMPANY = HolderRef("uscc", "91440300MA5G8K2L7N", "深圳市鹏城味道餐饮管理有限公司")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _codes(exc: InvalidFields | InvalidHolderId) -> dict[str, str]:
    errors = exc.extra["errors"]
    assert all(set(e) == {"field", "code", "message"} for e in errors)
    assert all(" / " in e["message"] for e in errors), "messages are Chinese / English"
    return {e["field"]: e["code"] for e in errors}


def _field_errors(lt: LicenseType, fields: Mapping[str, object], holder: HolderRef | None = None) -> dict[str, str]:
    with pytest.raises(InvalidFields) as info:
        lt.validate_fields(fields, holder)
    assert info.value.code == "invalid_fields"
    return _codes(info.value)


# --- the shipped catalogue ------------------------------------------------------------------------


def test_all_templates_load(catalog: Catalog) -> None:
    assert {lt.type: lt.name for lt in catalog.all()} == EXPECTED_TYPES
    assert [lt.type for lt in catalog.all()] == sorted(EXPECTED_TYPES)
    assert len(catalog) == 9
    assert "business_license" in catalog
    assert "business_licence" not in catalog
    assert 42 not in catalog


def test_default_catalog_is_cached_and_uses_the_repository_templates() -> None:
    assert default_catalog() is default_catalog()
    assert Path(__file__).resolve().parents[2] / "templates" / "licenses" == TEMPLATES_DIR
    assert {lt.type for lt in default_catalog()} == set(EXPECTED_TYPES)


@pytest.mark.parametrize("type_id", sorted(EXPECTED_TYPES))
def test_example_validates_against_its_template(catalog: Catalog, type_id: str) -> None:
    lt = catalog.get(type_id)
    examples = lt.example_fields()
    assert list(examples) == [f.name for f in lt.fields]
    assert lt.validate_fields(examples, lt.example_holder) == examples
    assert lt.validate_fields(examples) == examples
    holder = lt.example_holder
    assert lt.validate_holder(holder.id_type, holder.id_number, holder.name) == holder
    assert holder.id_type in lt.holder_id_types
    assert all(type(v) in (str, int) for v in examples.values())


@pytest.mark.parametrize("type_id", sorted(EXPECTED_TYPES))
def test_template_metadata(catalog: Catalog, type_id: str) -> None:
    lt = catalog.get(type_id)
    assert validate_type_code(lt.type_code) == lt.type_code
    assert lt.type_code.startswith("111000000")
    assert validate_uscc(lt.example_issuer.code) == lt.example_issuer.code
    assert lt.example_issuer.code[:2] in ("11", "12")  # 机关 / 事业单位
    assert lt.example_issuer.name.startswith("深圳市")
    assert (lt.default_validity_years is None) == (type_id in NO_EXPIRY)
    assert lt.holder_id_type in ("resident_id", "uscc")
    assert lt.print.orientation in ("portrait", "landscape")
    for name in lt.print.long_fields:
        assert lt.field(name).type == "text"
    for f in lt.fields:
        assert f.label
        assert f.label_en
        assert f.example != ""


def test_type_codes_are_distinct(catalog: Catalog) -> None:
    codes = [lt.type_code for lt in catalog.all()]
    assert len(set(codes)) == len(codes)


def test_examples_tell_one_story(catalog: Catalog) -> None:
    """The same people and company appear across templates."""
    id_card = catalog.get("resident_id_card").example_fields()
    driving = catalog.get("driving_license").example_fields()
    birth = catalog.get("birth_certificate").example_fields()
    marriage = catalog.get("marriage_certificate").example_fields()
    business = catalog.get("business_license").example_fields()
    food = catalog.get("food_business_license").example_fields()
    assert driving["licence_number"] == id_card["citizen_id"] == marriage["husband_id_number"]
    assert driving["birth_date"] == id_card["birth_date"] == marriage["husband_birth_date"]
    assert birth["father_id_number"] == id_card["citizen_id"]
    assert birth["mother_id_number"] == marriage["wife_id_number"]
    assert catalog.get("birth_certificate").example_holder.id_number == birth["mother_id_number"]
    assert str(birth["birth_time"]) > str(marriage["registration_date"])
    assert food["uscc"] == business["uscc"]
    assert food["operator_name"] == business["name"]
    assert food["legal_representative"] == business["legal_representative"] == id_card["name"]


def test_business_scope_is_long_and_other_examples_compact(catalog: Catalog) -> None:
    scope = catalog.get("business_license").example_fields()["business_scope"]
    assert isinstance(scope, str)
    assert 200 <= len(scope) <= 300
    for lt in catalog.all():
        if lt.type != "business_license":
            size = sum(len(str(v).encode()) for v in lt.example_fields().values())
            assert size < 450, lt.type


def test_public_shape(catalog: Catalog) -> None:
    for lt in catalog.all():
        public = lt.public()
        assert set(public) == {
            "type",
            "name",
            "name_en",
            "holder_id_type",
            "holder_id_types",
            "authority",
            "default_validity_years",
            "fields",
        }
        assert public["type"] == lt.type
        assert public["holder_id_types"] == list(lt.holder_id_types)
        json.dumps(public, ensure_ascii=False)  # JSON-safe
        fields = public["fields"]
        assert isinstance(fields, list)
        assert len(fields) == len(lt.fields)
        for f in fields:
            assert {"name", "label", "label_en", "type", "required", "example"} <= set(f)
            assert set(f) <= {
                "name",
                "label",
                "label_en",
                "type",
                "required",
                "example",
                "max_length",
                "pattern",
                "choices",
                "min",
                "max",
                "unit",
            }
            assert f["example"] not in ("", None)
            assert ("max_length" in f) == (f["type"] in ("string", "text"))
            assert ("choices" in f) == (f["type"] == "enum")
    assert catalog.get("resident_id_card").field("sex").public()["choices"] == ["男", "女"]


# --- field validation -----------------------------------------------------------------------------


def test_all_problems_reported_at_once(catalog: Catalog) -> None:
    lt = catalog.get("resident_id_card")
    fields: dict[str, object] = dict(lt.example_fields())
    del fields["name"]  # missing required
    fields["sex"] = "未知"  # bad enum
    fields["birth_date"] = "1988-02-30"  # not a real date
    fields["address"] = "深" * 101  # oversized
    fields["ethnicity"] = "Han"  # fails the pattern
    fields["citizen_id"] = "440304198803152315"  # bad check character
    fields["issuing_authority"] = 3.5  # a float
    fields["photo"] = "base64…"  # unknown field
    assert _field_errors(lt, fields) == {
        "name": "required",
        "sex": "choice",
        "birth_date": "bad_date",
        "address": "too_long",
        "ethnicity": "pattern",
        "citizen_id": "bad_check_character",
        "issuing_authority": "wrong_type",
        "photo": "unknown_field",
    }


def test_invalid_fields_detail_names_the_fields(catalog: Catalog) -> None:
    lt = catalog.get("resident_id_card")
    with pytest.raises(InvalidFields) as info:
        lt.validate_fields({**lt.example_fields(), "sex": "X"})
    assert "sex" in info.value.detail
    assert info.value.status == 422


@pytest.mark.parametrize("value", [3.0, 1.5, True, None, ["张伟"], {"v": "张伟"}, b"\xe5\xbc\xa0"])
def test_non_string_values_are_wrong_type(catalog: Catalog, value: object) -> None:
    lt = catalog.get("resident_id_card")
    assert _field_errors(lt, {**lt.example_fields(), "name": value}) == {"name": "wrong_type"}


@pytest.mark.parametrize("value", [39.0, True, "39", None])
def test_integer_fields_take_int_only(catalog: Catalog, value: object) -> None:
    lt = catalog.get("birth_certificate")
    assert _field_errors(lt, {**lt.example_fields(), "gestational_weeks": value}) == {"gestational_weeks": "wrong_type"}


def test_integer_range(catalog: Catalog) -> None:
    lt = catalog.get("birth_certificate")
    errors = _field_errors(lt, {**lt.example_fields(), "birth_weight": 9000, "birth_length": 5})
    assert errors == {"birth_weight": "range", "birth_length": "range"}
    assert lt.validate_fields({**lt.example_fields(), "birth_weight": 8000})["birth_weight"] == 8000


def test_strings_are_stripped(catalog: Catalog) -> None:
    lt = catalog.get("resident_id_card")
    out = lt.validate_fields({**lt.example_fields(), "name": "  张伟\t", "citizen_id": " 440304198803152316 "})
    assert out["name"] == "张伟"
    assert out["citizen_id"] == "440304198803152316"


@pytest.mark.parametrize("value", ["张\x00伟", "张伟\n", "张\u202e伟", "张\x1b伟", "张\ud800伟"])
def test_control_characters_rejected(catalog: Catalog, value: str) -> None:
    lt = catalog.get("resident_id_card")
    fields = {**lt.example_fields(), "name": value}
    if value.strip() == "张伟":  # a trailing newline is stripped, not an error
        assert lt.validate_fields(fields)["name"] == "张伟"
    else:
        assert _field_errors(lt, fields) == {"name": "pattern"}


def test_text_fields_keep_line_breaks(catalog: Catalog) -> None:
    lt = catalog.get("real_estate_certificate")
    out = lt.validate_fields({**lt.example_fields(), "other_rights": "专有建筑面积72.31㎡\r\n分摊建筑面积17.25㎡"})
    assert out["other_rights"] == "专有建筑面积72.31㎡\n分摊建筑面积17.25㎡"
    errors = _field_errors(lt, {**lt.example_fields(), "other_rights": "专有\x07建筑面积"})
    assert errors == {"other_rights": "pattern"}


def test_lower_case_x_in_resident_id_field_is_normalised(catalog: Catalog) -> None:
    lt = catalog.get("resident_id_card")
    holder = HolderRef("resident_id", "11010519491231002X", "王芳")
    fields = {**lt.example_fields(), "citizen_id": "11010519491231002x", "name": "王芳"}
    assert lt.validate_fields(fields, holder)["citizen_id"] == "11010519491231002X"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("2026-13-01", "bad_date"),
        ("2026/01/01", "bad_date"),
        ("20260101", "bad_date"),
        ("2026-1-1", "bad_date"),
        ("２０２６-01-01", "bad_date"),
        (20260101, "wrong_type"),
    ],
)
def test_dates(catalog: Catalog, value: object, code: str) -> None:
    lt = catalog.get("marriage_certificate")
    assert _field_errors(lt, {**lt.example_fields(), "registration_date": value}) == {"registration_date": code}


def test_date_or_long(catalog: Catalog) -> None:
    lt = catalog.get("business_license")
    base = lt.example_fields()
    assert lt.validate_fields({**base, "business_term_until": "长期"})["business_term_until"] == "长期"
    assert lt.validate_fields({**base, "business_term_until": "2049-08-15"})["business_term_until"] == "2049-08-15"
    for bad in ("永久", "2049-02-29", "long"):
        assert _field_errors(lt, {**base, "business_term_until": bad}) == {"business_term_until": "bad_date"}


def test_datetime_to_the_minute(catalog: Catalog) -> None:
    lt = catalog.get("birth_certificate")
    base = lt.example_fields()
    assert lt.validate_fields({**base, "birth_time": "2026-05-08T23:59"})["birth_time"] == "2026-05-08T23:59"
    for bad in (
        "2026-05-08 09:26",
        "2026-05-08T09:26:00",
        "2026-05-08T24:00",
        "2026-05-08",
        "2026-02-30T09:26",
    ):
        assert _field_errors(lt, {**base, "birth_time": bad}) == {"birth_time": "bad_date"}


def test_decimals_are_strings(catalog: Catalog) -> None:
    lt = catalog.get("business_license")
    base = lt.example_fields()
    assert lt.validate_fields({**base, "registered_capital": 500000})["registered_capital"] == "500000"
    assert lt.validate_fields({**base, "registered_capital": "0.5"})["registered_capital"] == "0.5"
    for bad, code in (
        ("1,000,000.00", "pattern"),
        ("-1.00", "pattern"),
        ("1e6", "pattern"),
        ("01.5", "pattern"),
        ("1.23456", "pattern"),
        (1000000.0, "wrong_type"),
        (True, "wrong_type"),
    ):
        assert _field_errors(lt, {**base, "registered_capital": bad}) == {"registered_capital": code}, bad


def test_optional_fields_may_be_absent_or_blank(catalog: Catalog) -> None:
    lt = catalog.get("real_estate_certificate")
    fields = lt.example_fields()
    del fields["other_rights"]
    fields["land_area"] = "  "
    out = lt.validate_fields(fields)
    assert "other_rights" not in out
    assert "land_area" not in out
    assert _field_errors(lt, {**lt.example_fields(), "owner": "   "}) == {"owner": "required"}


def test_patterns(catalog: Catalog) -> None:
    cases = [
        ("real_estate_certificate", "certificate_number", "粤（2026）深圳市不动产权第0123456号", True),
        ("real_estate_certificate", "certificate_number", "粤(2026)深圳市不动产权第123456号", False),
        ("real_estate_certificate", "unit_number", "440304008003GB00012F0001180", False),
        ("food_business_license", "licence_number", "JY14403050000127", True),
        ("food_business_license", "licence_number", "JY4440304012345", False),
        ("marriage_certificate", "certificate_number", "J440304-2025-01234", False),
        ("birth_certificate", "certificate_number", "q440123456", False),
        ("driving_license", "vehicle_classes", "A2D", True),
        ("driving_license", "vehicle_classes", "B2E", True),
        ("driving_license", "vehicle_classes", "C1C1", False),
        ("driving_license", "vehicle_classes", "G1", False),
        ("driving_license", "vehicle_classes", "DA2", False),
        ("driving_license", "file_number", "44030051286", False),
        ("social_security_card", "card_number", "d44035168", False),
    ]
    for type_id, name, value, ok in cases:
        lt = catalog.get(type_id)
        fields = {**lt.example_fields(), name: value}
        if ok:
            assert lt.validate_fields(fields)[name] == value
        else:
            assert _field_errors(lt, fields) == {name: "pattern"}, (type_id, value)


def test_uscc_field_bad_check_character(catalog: Catalog) -> None:
    lt = catalog.get("food_business_license")
    errors = _field_errors(lt, {**lt.example_fields(), "uscc": "91440300MA5G8K2L7M"})
    assert errors == {"uscc": "bad_check_character"}
    errors = _field_errors(lt, {**lt.example_fields(), "uscc": "91440300MA5G8K2L7"})
    assert errors == {"uscc": "pattern"}


def test_holder_mismatch(catalog: Catalog) -> None:
    lt = catalog.get("resident_id_card")
    li_na = HolderRef("resident_id", "440305199007224420", "李娜")
    assert _field_errors(lt, lt.example_fields(), li_na) == {
        "citizen_id": "holder_mismatch",
        "name": "holder_mismatch",
    }
    food = catalog.get("food_business_license")
    other = HolderRef("uscc", "91440300MA5G8K2L7N", "深圳市鹏城味道餐饮有限公司")
    assert _field_errors(food, food.example_fields(), other) == {"operator_name": "holder_mismatch"}
    marriage = catalog.get("marriage_certificate")
    wife = HolderRef("resident_id", "440305199007224420", "李娜")
    assert marriage.validate_fields({**marriage.example_fields(), "holder_name": "李娜"}, wife)
    assert _field_errors(marriage, marriage.example_fields(), wife) == {"holder_name": "holder_mismatch"}


def test_invalid_field_is_not_also_a_holder_mismatch(catalog: Catalog) -> None:
    lt = catalog.get("resident_id_card")
    errors = _field_errors(lt, {**lt.example_fields(), "citizen_id": "440304198803152315"}, ZHANG_WEI)
    assert errors == {"citizen_id": "bad_check_character"}


def test_fields_must_be_a_mapping(catalog: Catalog) -> None:
    lt = catalog.get("resident_id_card")
    assert _field_errors(lt, ["张伟"]) == {"fields": "wrong_type"}  # type: ignore[arg-type]


def test_the_bad_input_matrix_on_every_template(catalog: Catalog) -> None:
    """Every template rejects the usual mistakes with the right code per field, all at once."""
    for lt in catalog.all():
        fields: dict[str, object] = dict(lt.example_fields())
        expected: dict[str, str] = {}
        required = [f for f in lt.fields if f.required]
        missing = required[0]
        del fields[missing.name]
        expected[missing.name] = "required"
        others = [f for f in lt.fields if f.name != missing.name]
        wrong = others[0]
        fields[wrong.name] = 1.0
        expected[wrong.name] = "wrong_type"
        for f in others[1:]:
            if f.type in ("string", "text"):
                fields[f.name] = "字" * ((f.max_length or 1000) + 1)
                expected[f.name] = "too_long"
            elif f.type == "enum":
                fields[f.name] = "其他情况"
                expected[f.name] = "choice"
            elif f.type in ("date", "date_or_long", "datetime"):
                fields[f.name] = "2026-02-30"
                expected[f.name] = "bad_date"
        fields["unexpected"] = "x"
        expected["unexpected"] = "unknown_field"
        assert _field_errors(lt, fields) == expected, lt.type


# --- holder validation ----------------------------------------------------------------------------


def test_validate_holder_good() -> None:
    assert validate_holder("resident_id", " 440304198803152316 ", " 张伟 ", ["resident_id"]) == ZHANG_WEI
    assert validate_holder("uscc", COMPANY.id_number, COMPANY.name, ("uscc",)) == COMPANY
    assert validate_holder("resident_id", "11010519491231002x", "王芳", ["resident_id"]).id_number.endswith("X")
    assert validate_holder("passport", "e12345678", "John Smith", ["resident_id", "passport"]).id_number == "E12345678"


def _holder_errors(*args: object) -> dict[str, str]:
    with pytest.raises(InvalidHolderId) as info:
        validate_holder(*args)  # type: ignore[arg-type]
    assert info.value.code == "invalid_holder_id"
    return _codes(info.value)


def test_validate_holder_errors() -> None:
    assert _holder_errors("uscc", ZHANG_WEI.id_number, "张伟", ["resident_id"]) == {"holder.id_type": "choice"}
    assert _holder_errors("passport", "E12345678", "张伟", ["resident_id"]) == {"holder.id_type": "choice"}
    assert _holder_errors("resident_id", "440304198803152315", "张伟", ["resident_id"]) == {
        "holder.id_number": "bad_check_character"
    }
    assert _holder_errors("uscc", "91440300MA5G8K2L7", "某公司", ["uscc"]) == {"holder.id_number": "pattern"}
    assert _holder_errors("resident_id", ZHANG_WEI.id_number, " ", ["resident_id"]) == {"holder.name": "required"}
    assert _holder_errors("resident_id", ZHANG_WEI.id_number, "张" * 101, ["resident_id"]) == {
        "holder.name": "too_long"
    }
    assert _holder_errors("resident_id", ZHANG_WEI.id_number, "张\x00伟", ["resident_id"]) == {"holder.name": "pattern"}


def test_validate_holder_reports_everything_at_once() -> None:
    assert _holder_errors(7, None, ["张伟"], ["resident_id"]) == {
        "holder.id_type": "wrong_type",
        "holder.id_number": "wrong_type",
        "holder.name": "wrong_type",
    }
    assert _holder_errors("resident_id", "", "", ["resident_id"]) == {
        "holder.id_number": "required",
        "holder.name": "required",
    }


def test_validate_holder_accepts_100_characters() -> None:
    assert validate_holder("uscc", COMPANY.id_number, "公" * 100, ["uscc"]).name == "公" * 100


# --- the catalogue --------------------------------------------------------------------------------


def test_unknown_type_names_the_known_ones(catalog: Catalog) -> None:
    with pytest.raises(UnknownLicenseType) as info:
        catalog.get("fishing_licence")
    assert "fishing_licence" in info.value.detail
    assert "resident_id_card" in info.value.detail
    assert "business_license" in info.value.detail
    assert info.value.extra["known_types"] == sorted(EXPECTED_TYPES)
    with pytest.raises(UnknownLicenseType):
        catalog.get(None)


def test_catalog_rejects_duplicate_type_codes(catalog: Catalog, tmp_path: Path) -> None:
    text = (TEMPLATES_DIR / "resident_id_card.toml").read_text(encoding="utf-8")
    path = tmp_path / "resident_id_card_copy.toml"
    path.write_text(text.replace('type = "resident_id_card"', 'type = "resident_id_card_copy"'), encoding="utf-8")
    copy = load_license_type(path)
    with pytest.raises(TemplateError, match="type_code"):
        Catalog([*catalog.all(), copy])
    with pytest.raises(TemplateError, match="duplicate"):
        Catalog([catalog.get("resident_id_card"), catalog.get("resident_id_card")])


def test_load_catalog_from_a_directory(tmp_path: Path) -> None:
    for name in ("resident_id_card.toml", "business_license.toml"):
        shutil.copy(TEMPLATES_DIR / name, tmp_path / name)
    assert [lt.type for lt in load_catalog(tmp_path).all()] == ["business_license", "resident_id_card"]
    with pytest.raises(TemplateError):
        load_catalog(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(TemplateError):
        load_catalog(empty)


# --- malformed templates --------------------------------------------------------------------------

ID_CARD = (TEMPLATES_DIR / "resident_id_card.toml").read_text(encoding="utf-8")
BIRTH = (TEMPLATES_DIR / "birth_certificate.toml").read_text(encoding="utf-8")


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


# Each case: (template text, a substring the error must contain). Edits are made on the shipped templates.
_ID_EDITS: list[tuple[str, str, str, str]] = [
    # (case, old text, new text, expected hint)
    (
        "unknown top-level key",
        'name_en = "Resident Identity Card"',
        'name_en = "x"\ncolour = "red"',
        "colour",
    ),
    ("unknown field key", "max_length = 30", 'max_length = 30\nhint = "x"', "hint"),
    ("unknown print key", 'orientation = "portrait"', 'orientation = "portrait"\nfont = "x"', "font"),
    ("required not a bool", "required = true", 'required = "yes"', "'required' must be a boolean"),
    ("missing required key", "required = true\n", "", "'required' must be a boolean"),
    ("name not a string", 'name = "居民身份证"', "name = 1", "'name' must be a string"),
    ("duplicate field", 'name = "sex"', 'name = "name"', "duplicate field name 'name'"),
    ("field name not snake_case", 'name = "sex"', 'name = "Sex"', "snake_case"),
    ("unknown field type", 'type = "enum"', 'type = "choice"', "unknown field type"),
    ("enum without choices", 'choices = ["男", "女"]\n', "", "needs choices"),
    (
        "max_length on an enum",
        'choices = ["男", "女"]',
        'choices = ["男", "女"]\nmax_length = 1',
        "does not apply",
    ),
    ("bad regex", "pattern = '^[\\u4e00-\\u9fff]{1,10}$'", "pattern = '^[a-'", "regular expression"),
    ("example fails the pattern", 'example = "汉"', 'example = "Han"', "ethnicity: pattern"),
    ("example fails an enum", 'example = "男"', 'example = "M"', "sex: choice"),
    ("example bad date", 'example = "1988-03-15"', 'example = "1988-02-30"', "birth_date: bad_date"),
    ("example not normalised", 'example = "张伟"', 'example = " 张伟"', "normalised form: name"),
    ("example missing", 'example = "汉"\n', "", "needs a realistic example"),
    ("example empty", 'example = "汉"', 'example = ""', "non-empty"),
    ("example is a float", 'example = "汉"', "example = 1.5", "non-empty string"),
    (
        "example disagrees with the holder",
        'name = "张伟"\n\n[holder_match]',
        'name = "李娜"\n\n[holder_match]',
        "name: holder_mismatch",
    ),
    (
        "holder_match names a missing field",
        'id_number = "citizen_id"',
        'id_number = "id_no"',
        "missing field 'id_no'",
    ),
    (
        "holder_match unknown key",
        'id_number = "citizen_id"',
        'id_number = "citizen_id"\nsex = "sex"',
        "unknown key(s): sex",
    ),
    ("long field missing", 'long_fields = ["address"]', 'long_fields = ["addr"]', "missing field 'addr'"),
    ("long field not text", 'long_fields = ["address"]', 'long_fields = ["name"]', "must be of type text"),
    ("bad orientation", 'orientation = "portrait"', 'orientation = "square"', "portrait or landscape"),
    ("type does not match file name", 'type = "resident_id_card"', 'type = "id_card"', "file name"),
    ("type_code bad check", '"11100000000014302E001"', '"11100000000014302F001"', "type_code"),
    ("type_code too short", '"11100000000014302E001"', '"11100000000014302E"', "type_code"),
    ("issuer bad check", '"114403000075420085"', '"114403000075420084"', "example_issuer"),
    (
        "holder bad id",
        'id_number = "440304198803152316"',
        'id_number = "440304198803152315"',
        "example_holder",
    ),
    (
        "holder type not accepted",
        '[example_holder]\nid_type = "resident_id"',
        '[example_holder]\nid_type = "uscc"',
        "example_holder",
    ),
    (
        "holder_id_type not in holder_id_types",
        'holder_id_type = "resident_id"',
        'holder_id_type = "uscc"',
        "one of holder_id_types",
    ),
    (
        "unknown holder kind",
        'holder_id_types = ["resident_id"]',
        'holder_id_types = ["resident_id", "hukou"]',
        "hukou",
    ),
    (
        "validity not an integer",
        "default_validity_years = 10",
        "default_validity_years = 10.0",
        "default_validity_years",
    ),
    ("validity zero", "default_validity_years = 10", "default_validity_years = 0", "default_validity_years"),
    ("print renamed", "[print]", "[printing]", "printing"),
]
_BIRTH_EDITS: list[tuple[str, str, str, str]] = [
    ("integer example as string", "example = 39", 'example = "39"', "must be an integer"),
    ("integer example out of range", "example = 39", "example = 46", "gestational_weeks: range"),
    ("min above max", "min = 20\nmax = 45", "min = 46\nmax = 45", "min is greater than max"),
    ("min on a string", "max_length = 30", "max_length = 30\nmin = 1", "'min' does not apply"),
    (
        "holder_match on an optional field",
        'type = "resident_id"\nrequired = true\nexample = "440305199007224420"',
        'type = "resident_id"\nrequired = false\nexample = "440305199007224420"',
        "must be required",
    ),
]
BROKEN: dict[str, tuple[str, str]] = {
    "toml syntax": (ID_CARD + "\n[[fields]\n", "invalid TOML"),
    "no fields": (ID_CARD.split("[[fields]]")[0], "non-empty array"),
    "missing print": (re.sub(r"\[print\]\n(.+\n)+", "", ID_CARD, count=1), "print 应为表"),
    **{case: (_replace(ID_CARD, old, new), hint) for case, old, new, hint in _ID_EDITS},
    **{case: (_replace(BIRTH, old, new), hint) for case, old, new, hint in _BIRTH_EDITS},
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_malformed_template_rejected(tmp_path: Path, case: str) -> None:
    text, hint = BROKEN[case]
    file_name = "birth_certificate.toml" if text.startswith("# 出生") else "resident_id_card.toml"
    path = tmp_path / file_name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TemplateError) as info:
        load_license_type(path)
    assert str(info.value).startswith(file_name + ":")
    assert hint in str(info.value)
    with pytest.raises(TemplateError):
        load_catalog(tmp_path)


def test_unmodified_templates_load_from_a_temporary_copy(tmp_path: Path) -> None:
    for name, text in (("resident_id_card.toml", ID_CARD), ("birth_certificate.toml", BIRTH)):
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert len(load_catalog(tmp_path)) == 2


def test_invalid_utf8_template_rejected(tmp_path: Path) -> None:
    path = tmp_path / "resident_id_card.toml"
    path.write_bytes(ID_CARD.encode("utf-8").replace("张伟".encode(), b"\xff\xfe", 1))
    with pytest.raises(TemplateError, match=r"resident_id_card\.toml"):
        load_license_type(path)
