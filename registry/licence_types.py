"""Licence types: the templates in ``templates/licenses/*.toml``, parsed strictly, and the validation of a
licence's holder and fields against them.

A template is read once, at start-up, and every mistake in it is a :class:`TemplateError` naming the file:
unknown keys, wrong value types, duplicate fields, an example that fails its own template, a
``holder_match`` or a ``long_fields`` entry naming a missing field. Once loaded, a :class:`LicenseType`
validates what an issuer posts: :meth:`LicenseType.validate_fields` collects *every* problem and raises one
:class:`~registry.errors.InvalidFields` whose ``errors`` list has one ``{field, code, message}`` per
problem; :func:`validate_holder` does the same for the holder with
:class:`~registry.errors.InvalidHolderId`.

Field values are JSON-safe: strings (stripped) and integers only — money and areas are decimal strings,
never floats, because the values are signed (DESIGN §5).
"""

from __future__ import annotations

import functools
import re
import tomllib
import unicodedata
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Final, TypeAlias

from registry.errors import InvalidFields, InvalidHolderId, UnknownLicenseType
from verification.identifiers import (
    HOLDER_ID_TYPES,
    CheckCharacterError,
    IdentifierError,
    LicenseIdentifier,
    validate_holder_id,
    validate_resident_id,
    validate_type_code,
    validate_uscc,
)

__all__ = [
    "FIELD_TYPES",
    "LONG_TERM",
    "TEMPLATES_DIR",
    "Catalog",
    "ExampleHolder",
    "ExampleIssuer",
    "FieldSpec",
    "FieldValue",
    "HolderMatch",
    "HolderRef",
    "LicenseType",
    "PrintLayout",
    "TemplateError",
    "default_catalog",
    "load_catalog",
    "load_license_type",
    "validate_holder",
]

TEMPLATES_DIR: Final = Path(__file__).resolve().parent.parent / "templates" / "licenses"

FIELD_TYPES: Final = (
    "string",
    "text",
    "date",
    "datetime",
    "decimal",
    "integer",
    "enum",
    "resident_id",
    "uscc",
    "date_or_long",
)
LONG_TERM: Final = "长期"
DEFAULT_MAX_LENGTH: Final = {"string": 100, "text": 1000}
HOLDER_NAME_MAX: Final = 100
ORIENTATIONS: Final = ("portrait", "landscape")
# Integers travel through JSON: keep them exactly representable in every JSON implementation.
_JSON_SAFE_INT: Final = 2**53 - 1

FieldValue: TypeAlias = str | int
ErrorItem: TypeAlias = dict[str, str]

_NAME_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,39}")
_TYPE_ID_RE: Final = re.compile(r"[a-z][a-z0-9_]{1,49}")
_DATE_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME_RE: Final = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2})")
_DECIMAL_RE: Final = re.compile(r"(0|[1-9][0-9]{0,14})(\.[0-9]{1,4})?")
# Bidirectional overrides and isolates can make a printed value read differently from what was signed.
_BIDI_CONTROLS: Final = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class TemplateError(Exception):
    """A licence template is malformed; the message names the file and the problem."""


# --- the validation problem a single value can have -----------------------------------------------


class _Problem(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _wrong_type(expected_cn: str, expected_en: str, value: object) -> _Problem:
    return _Problem(
        "wrong_type",
        f"应为{expected_cn}，实际为 {type(value).__name__} / expected {expected_en}, got {type(value).__name__}",
    )


def _bad_characters(text: str, *, multiline: bool) -> bool:
    if text.isprintable():  # no Cc, Cs or Cf (the bidi controls) character: the common case, checked in C
        return False
    for ch in text:
        if ch == "\n" and multiline:
            continue
        if unicodedata.category(ch) in ("Cc", "Cs") or ch in _BIDI_CONTROLS:
            return True
    return False


def _clean_text(value: object, *, multiline: bool) -> str:
    """A stripped string without control characters (``\\n`` allowed when ``multiline``)."""
    if not isinstance(value, str):
        raise _wrong_type("字符串", "a string", value)
    text = value.strip()
    if multiline:
        text = text.replace("\r\n", "\n")
    if _bad_characters(text, multiline=multiline):
        raise _Problem("pattern", "含有控制字符或不可见的格式字符 / contains control or formatting characters")
    return text


def _parse_date(text: str) -> str:
    if _DATE_RE.fullmatch(text) is None:
        raise _Problem("bad_date", f"日期格式应为 YYYY-MM-DD / date must be YYYY-MM-DD; got {text!r}")
    try:
        date.fromisoformat(text)
    except ValueError:
        raise _Problem("bad_date", f"{text} 不是有效日期 / {text} is not a real date") from None
    return text


def _parse_datetime(text: str) -> str:
    match = _DATETIME_RE.fullmatch(text)
    if match is None:
        raise _Problem(
            "bad_date",
            f"时间格式应为 YYYY-MM-DDTHH:MM / date and time must be YYYY-MM-DDTHH:MM; got {text!r}",
        )
    year, month, day, hour, minute = (int(part) for part in match.groups())
    try:
        datetime(year, month, day, hour, minute)
    except ValueError:
        raise _Problem("bad_date", f"{text} 不是有效时间 / {text} is not a real date and time") from None
    return text


# --- the template's parts -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HolderRef:
    """A validated holder: ``id_number`` normalised for its ``id_type``, ``name`` stripped."""

    id_type: str
    id_number: str
    name: str


ExampleHolder: TypeAlias = HolderRef


@dataclass(frozen=True, slots=True)
class ExampleIssuer:
    """A realistic issuing department for the type (the demo seeder registers it)."""

    code: str
    name: str


@dataclass(frozen=True, slots=True)
class HolderMatch:
    """Fields whose value must equal the holder's ``id_number`` / ``name`` (``None``: not cross-checked)."""

    id_number: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class PrintLayout:
    title: str
    title_en: str
    orientation: str
    long_fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of a licence type; :meth:`validate` turns a posted value into its normalised form."""

    name: str
    label: str
    label_en: str
    type: str
    required: bool
    example: FieldValue
    max_length: int | None = None
    pattern: str | None = None
    choices: tuple[str, ...] | None = None
    min: int | None = None
    max: int | None = None
    unit: str | None = None
    _regex: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.pattern is not None:
            object.__setattr__(self, "_regex", re.compile(self.pattern))

    def is_empty(self, value: object) -> bool:
        """True for an absent value: ``None`` is not one (it is a wrong type), a blank string is."""
        return isinstance(value, str) and value.strip() == ""

    def validate(self, value: object) -> FieldValue:
        """The normalised value, or raise :class:`_Problem`. Blank strings are handled by the caller."""
        kind = self.type
        if kind == "integer":
            return self._validate_integer(value)
        if kind == "decimal" and type(value) is int:
            value = str(value)
        text = _clean_text(value, multiline=kind == "text")
        if kind in ("string", "text"):
            limit = self.max_length or DEFAULT_MAX_LENGTH[kind]
            if len(text) > limit:
                raise _Problem(
                    "too_long",
                    f"长度 {len(text)} 超过上限 {limit} / {len(text)} characters, at most {limit} allowed",
                )
            if self._regex is not None and self._regex.fullmatch(text) is None:
                raise _Problem("pattern", f"格式不符合要求 / does not match the required format {self.pattern}")
            return text
        if kind == "enum":
            assert self.choices is not None
            if text not in self.choices:
                raise _Problem(
                    "choice",
                    f"应为以下之一：{'、'.join(self.choices)} / must be one of: {', '.join(self.choices)}",
                )
            return text
        if kind == "date":
            return _parse_date(text)
        if kind == "datetime":
            return _parse_datetime(text)
        if kind == "date_or_long":
            return text if text == LONG_TERM else _parse_date(text)
        if kind == "decimal":
            if _DECIMAL_RE.fullmatch(text) is None:
                raise _Problem(
                    "pattern",
                    '应为非负十进制数字字符串，如 "89.56"（最多 4 位小数） / '
                    'must be a non-negative decimal string such as "89.56" (at most 4 decimals); '
                    f"got {text!r}",
                )
            return text
        if kind in ("resident_id", "uscc"):
            try:
                return validate_resident_id(text) if kind == "resident_id" else validate_uscc(text)
            except CheckCharacterError as exc:
                raise _Problem("bad_check_character", str(exc)) from None
            except IdentifierError as exc:
                raise _Problem("pattern", str(exc)) from None
        raise AssertionError(f"unhandled field type {kind}")  # pragma: no cover - types checked at load

    def _validate_integer(self, value: object) -> int:
        if type(value) is not int:
            raise _wrong_type("整数", "an integer", value)
        low = self.min if self.min is not None else -_JSON_SAFE_INT
        high = self.max if self.max is not None else _JSON_SAFE_INT
        if not low <= value <= high:
            raise _Problem("range", f"应在 {low} 至 {high} 之间 / must be between {low} and {high}; got {value}")
        return value

    def public(self) -> dict[str, object]:
        out: dict[str, object] = {
            "name": self.name,
            "label": self.label,
            "label_en": self.label_en,
            "type": self.type,
            "required": self.required,
            "example": self.example,
        }
        if self.type in DEFAULT_MAX_LENGTH:
            out["max_length"] = self.max_length or DEFAULT_MAX_LENGTH[self.type]
        if self.pattern is not None:
            out["pattern"] = self.pattern
        if self.choices is not None:
            out["choices"] = list(self.choices)
        if self.min is not None:
            out["min"] = self.min
        if self.max is not None:
            out["max"] = self.max
        if self.unit is not None:
            out["unit"] = self.unit
        return out


def _error(field_name: str, code: str, message: str) -> ErrorItem:
    return {"field": field_name, "code": code, "message": message}


@dataclass(frozen=True, slots=True)
class LicenseType:
    """A licence type, as its template describes it."""

    type: str
    name: str
    name_en: str
    holder_id_type: str
    holder_id_types: tuple[str, ...]
    type_code: str
    authority: str
    issuing_department: str
    default_validity_years: int | None
    example_issuer: ExampleIssuer
    example_holder: ExampleHolder
    holder_match: HolderMatch
    print: PrintLayout
    fields: tuple[FieldSpec, ...]
    _by_name: dict[str, FieldSpec] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_name.update((f.name, f) for f in self.fields)

    def field(self, name: str) -> FieldSpec:
        """The field called ``name``; ``KeyError`` if there is none."""
        return self._by_name[name]

    def validate_fields(self, fields: Mapping[str, object], holder: HolderRef | None = None) -> dict[str, FieldValue]:
        """Validate posted fields; return them normalised, in template order, blank optional ones left out.

        Every problem is collected; if there is any, :class:`InvalidFields` is raised with
        ``errors=[{field, code, message}, ...]``. With ``holder``, the fields named by ``holder_match`` must
        equal the holder's identifier and name.
        """
        if not isinstance(fields, Mapping):
            problem = _wrong_type("对象（字段名到值）", "an object mapping field names to values", fields)
            raise InvalidFields(
                "证照字段应为对象 / licence fields must be an object",
                errors=[_error("fields", problem.code, problem.message)],
            )
        errors: list[ErrorItem] = []
        out: dict[str, FieldValue] = {}
        for spec in self.fields:
            if spec.name not in fields or spec.is_empty(fields[spec.name]):
                if spec.required:
                    message = f"缺少必填字段「{spec.label}」 / {spec.label_en} is required"
                    errors.append(_error(spec.name, "required", message))
                continue
            try:
                out[spec.name] = spec.validate(fields[spec.name])
            except _Problem as problem:
                errors.append(_error(spec.name, problem.code, f"{spec.label}：{problem.message}"))
        for key in fields:
            if not isinstance(key, str) or key not in self._by_name:
                message = f"「{self.name}」没有字段 {key!r} / {self.name_en} has no field {key!r}"
                errors.append(_error(str(key), "unknown_field", message))
        if holder is not None:
            errors.extend(self._holder_mismatches(out, holder))
        if errors:
            names = ", ".join(dict.fromkeys(e["field"] for e in errors))
            raise InvalidFields(
                f"{len(errors)} 处证照字段校验未通过：{names} / "
                f"{len(errors)} problem(s) with the licence fields: {names}",
                errors=errors,
            )
        return out

    def _holder_mismatches(self, values: Mapping[str, FieldValue], holder: HolderRef) -> list[ErrorItem]:
        found: list[ErrorItem] = []
        checks = (
            (self.holder_match.id_number, holder.id_number, "持证人证件号码", "the holder's ID number"),
            (self.holder_match.name, holder.name, "持证人姓名/名称", "the holder's name"),
        )
        for field_name, expected, what_cn, what_en in checks:
            if field_name is None or field_name not in values:
                continue
            if values[field_name] != expected:
                label = self._by_name[field_name].label
                found.append(
                    _error(field_name, "holder_mismatch", f"{label}：应与{what_cn}一致 / must equal {what_en}")
                )
        return found

    def validate_holder(self, id_type: object, id_number: object, name: object) -> HolderRef:
        """:func:`validate_holder` with this type's accepted holder kinds."""
        return validate_holder(id_type, id_number, name, self.holder_id_types)

    def example_fields(self) -> dict[str, FieldValue]:
        """The template's examples as a field dict (valid against the template and its example holder)."""
        return {f.name: f.example for f in self.fields}

    def make_identifier(self, issuer_code: str, serial: str, version: int = 1) -> LicenseIdentifier:
        """The 证照标识 of a licence of this type issued by ``issuer_code``."""
        return LicenseIdentifier(self.type_code, issuer_code, serial, version)

    def public(self) -> dict[str, object]:
        """The type as ``GET /api/v1/license-types/{type}`` publishes it."""
        return {
            "type": self.type,
            "name": self.name,
            "name_en": self.name_en,
            "holder_id_type": self.holder_id_type,
            "holder_id_types": list(self.holder_id_types),
            "authority": self.authority,
            "default_validity_years": self.default_validity_years,
            "fields": [f.public() for f in self.fields],
        }


# --- the holder -----------------------------------------------------------------------------------


def validate_holder(id_type: object, id_number: object, name: object, allowed_types: Collection[str]) -> HolderRef:
    """Validate a licence holder; return it normalised, or raise :class:`InvalidHolderId` listing every
    problem.

    ``allowed_types`` are the holder kinds the licence type accepts (``resident_id``, ``uscc``, ``passport``).
    """
    errors: list[ErrorItem] = []
    kinds = "、".join(allowed_types)
    kinds_en = ", ".join(allowed_types)
    type_ok = False
    if not isinstance(id_type, str):
        message = _wrong_type("字符串", "a string", id_type).message
        errors.append(_error("holder.id_type", "wrong_type", message))
    elif id_type not in allowed_types or id_type not in HOLDER_ID_TYPES:
        errors.append(
            _error(
                "holder.id_type",
                "choice",
                f"证件类型 {id_type!r} 不适用于此证照（可选：{kinds}） / "
                f"holder id type {id_type!r} not accepted here (one of {kinds_en})",
            )
        )
    else:
        type_ok = True

    normalised_id = ""
    if not isinstance(id_number, str):
        message = _wrong_type("字符串", "a string", id_number).message
        errors.append(_error("holder.id_number", "wrong_type", message))
    elif not id_number.strip():
        message = "缺少持证人证件号码 / holder id number is required"
        errors.append(_error("holder.id_number", "required", message))
    elif type_ok:
        assert isinstance(id_type, str)
        try:
            normalised_id = validate_holder_id(id_type, id_number.strip())
        except CheckCharacterError as exc:
            errors.append(_error("holder.id_number", "bad_check_character", str(exc)))
        except IdentifierError as exc:
            errors.append(_error("holder.id_number", "pattern", str(exc)))

    clean_name = ""
    try:
        clean_name = _clean_text(name, multiline=False)
    except _Problem as problem:
        errors.append(_error("holder.name", problem.code, f"持证人姓名：{problem.message}"))
    else:
        if not clean_name:
            errors.append(_error("holder.name", "required", "缺少持证人姓名/名称 / holder name is required"))
        elif len(clean_name) > HOLDER_NAME_MAX:
            errors.append(
                _error(
                    "holder.name",
                    "too_long",
                    f"持证人姓名过长（上限 {HOLDER_NAME_MAX} 字） / holder name longer than "
                    f"{HOLDER_NAME_MAX} characters",
                )
            )

    if errors:
        codes = ", ".join(e["code"] for e in errors)
        raise InvalidHolderId(f"持证人信息有误 / invalid holder ({codes})", errors=errors)
    assert isinstance(id_type, str)
    return HolderRef(id_type=id_type, id_number=normalised_id, name=clean_name)


# --- reading a template ---------------------------------------------------------------------------


class TableReader:
    """Typed, strict access to one TOML table; every complaint names the file and the table."""

    def __init__(self, table: object, where: str, source: str) -> None:
        if not isinstance(table, dict):
            raise TemplateError(f"{source}: {where} 应为表 / must be a table")
        self.table: dict[str, object] = table
        self.where = where
        self.source = source

    def fail(self, message: str) -> TemplateError:
        return TemplateError(f"{self.source}: {self.where}: {message}")

    def only(self, allowed: Iterable[str]) -> None:
        unknown = sorted(set(self.table) - set(allowed))
        if unknown:
            raise self.fail(f"未知的键 / unknown key(s): {', '.join(unknown)}")

    def has(self, key: str) -> bool:
        return key in self.table

    def str_(self, key: str, *, optional: bool = False, allow_empty: bool = False) -> str | None:
        if key not in self.table:
            if optional:
                return None
            raise self.fail(f"缺少 {key} / missing key {key!r}")
        value = self.table[key]
        if not isinstance(value, str):
            raise self.fail(f"{key} 应为字符串 / {key!r} must be a string")
        if not allow_empty and not value.strip():
            raise self.fail(f"{key} 不能为空 / {key!r} must not be empty")
        return value

    def req_str(self, key: str) -> str:
        value = self.str_(key)
        assert value is not None
        return value

    def int_(self, key: str, low: int, high: int) -> int | None:
        if key not in self.table:
            return None
        value = self.table[key]
        if type(value) is not int or not low <= value <= high:
            raise self.fail(f"{key} 应为 {low}–{high} 的整数 / {key!r} must be an integer {low}–{high}")
        return value

    def bool_(self, key: str) -> bool:
        value = self.table.get(key)
        if not isinstance(value, bool):
            raise self.fail(f"{key} 应为 true 或 false / {key!r} must be a boolean")
        return value

    def str_list(self, key: str, *, optional: bool = False, allow_empty: bool = False) -> tuple[str, ...]:
        if key not in self.table and optional:
            return ()
        value = self.table.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(f"{key} 应为非空字符串列表 / {key!r} must be a list of non-empty strings")
        if not value and not allow_empty:
            raise self.fail(f"{key} 不能为空列表 / {key!r} must not be empty")
        if len(set(value)) != len(value):
            raise self.fail(f"{key} 有重复项 / {key!r} has duplicates")
        return tuple(str(v) for v in value)


_TOP_KEYS: Final = (
    "type",
    "name",
    "name_en",
    "holder_id_type",
    "holder_id_types",
    "type_code",
    "authority",
    "issuing_department",
    "default_validity_years",
    "example_issuer",
    "example_holder",
    "holder_match",
    "print",
    "fields",
)
_FIELD_KEYS: Final = (
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
)


def _parse_field(table: object, index: int, source: str) -> FieldSpec:
    r = TableReader(table, f"fields[{index}]", source)
    r.only(_FIELD_KEYS)
    name = r.req_str("name")
    if _NAME_RE.fullmatch(name) is None:
        raise r.fail(f"字段名 {name!r} 应为小写 snake_case ASCII / field name must be snake_case ASCII")
    r.where = f"fields[{index}] ({name})"
    kind = r.req_str("type")
    if kind not in FIELD_TYPES:
        raise r.fail(f"未知字段类型 {kind!r} / unknown field type (one of {', '.join(FIELD_TYPES)})")
    for key, allowed_for in (
        ("max_length", ("string", "text")),
        ("pattern", ("string", "text")),
        ("choices", ("enum",)),
        ("min", ("integer",)),
        ("max", ("integer",)),
    ):
        if r.has(key) and kind not in allowed_for:
            raise r.fail(f"{key} 不适用于 {kind} 类型 / {key!r} does not apply to type {kind!r}")
    if kind == "enum" and not r.has("choices"):
        raise r.fail("enum 类型须有 choices / an enum field needs choices")

    pattern = r.str_("pattern", optional=True)
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise r.fail(f"pattern 不是合法的正则表达式 / invalid regular expression: {exc}") from None
    choices = r.str_list("choices") if r.has("choices") else None
    low, high = r.int_("min", -_JSON_SAFE_INT, _JSON_SAFE_INT), r.int_("max", -_JSON_SAFE_INT, _JSON_SAFE_INT)
    if low is not None and high is not None and low > high:
        raise r.fail("min 大于 max / min is greater than max")

    if not r.has("example"):
        raise r.fail("缺少 example / every field needs a realistic example")
    example = r.table["example"]
    if kind == "integer":
        if type(example) is not int:
            raise r.fail("integer 字段的 example 应为整数 / an integer field's example must be an integer")
    elif not isinstance(example, str) or not example.strip():
        raise r.fail("example 应为非空字符串 / example must be a non-empty string")
    assert isinstance(example, (str, int))

    return FieldSpec(
        name=name,
        label=r.req_str("label"),
        label_en=r.req_str("label_en"),
        type=kind,
        required=r.bool_("required"),
        example=example,
        max_length=r.int_("max_length", 1, 10_000),
        pattern=pattern,
        choices=choices,
        min=low,
        max=high,
        unit=r.str_("unit", optional=True),
    )


def _parse_template(data: dict[str, object], source: str, expected_type: str | None) -> LicenseType:
    top = TableReader(data, "(top level)", source)
    top.only(_TOP_KEYS)
    type_id = top.req_str("type")
    if _TYPE_ID_RE.fullmatch(type_id) is None:
        raise top.fail(f"type {type_id!r} 应为小写 snake_case ASCII / type must be snake_case ASCII")
    if expected_type is not None and type_id != expected_type:
        raise top.fail(f"type {type_id!r} 与文件名不符 / must match the file name {expected_type}.toml")

    holder_id_types = top.str_list("holder_id_types")
    for kind in holder_id_types:
        if kind not in HOLDER_ID_TYPES:
            known = ", ".join(HOLDER_ID_TYPES)
            raise top.fail(f"未知持证人证件类型 {kind!r} / unknown holder id type (one of {known})")
    holder_id_type = top.req_str("holder_id_type")
    if holder_id_type not in holder_id_types:
        raise top.fail("holder_id_type 应在 holder_id_types 中 / must be one of holder_id_types")
    type_code = top.req_str("type_code")
    try:
        validate_type_code(type_code)
    except IdentifierError as exc:
        raise top.fail(f"type_code: {exc}") from None

    fields_raw = data.get("fields")
    if not isinstance(fields_raw, list) or not fields_raw:
        raise top.fail("fields 应为非空的 [[fields]] 表数组 / fields must be a non-empty array of tables")
    fields = tuple(_parse_field(t, i, source) for i, t in enumerate(fields_raw))
    by_name: dict[str, FieldSpec] = {}
    for f in fields:
        if f.name in by_name:
            raise top.fail(f"字段名重复 / duplicate field name {f.name!r}")
        by_name[f.name] = f

    issuer_r = TableReader(data.get("example_issuer"), "example_issuer", source)
    issuer_r.only(("code", "name"))
    issuer = ExampleIssuer(code=issuer_r.req_str("code"), name=issuer_r.req_str("name"))
    try:
        validate_uscc(issuer.code)
    except IdentifierError as exc:
        raise issuer_r.fail(f"code: {exc}") from None

    holder_r = TableReader(data.get("example_holder"), "example_holder", source)
    holder_r.only(("id_type", "id_number", "name"))
    try:
        holder = validate_holder(
            holder_r.req_str("id_type"),
            holder_r.req_str("id_number"),
            holder_r.req_str("name"),
            holder_id_types,
        )
    except InvalidHolderId as exc:
        raise holder_r.fail("; ".join(e["message"] for e in exc.extra["errors"])) from None

    match = HolderMatch()
    if "holder_match" in data:
        match_r = TableReader(data["holder_match"], "holder_match", source)
        match_r.only(("id_number", "name"))
        match = HolderMatch(
            id_number=match_r.str_("id_number", optional=True), name=match_r.str_("name", optional=True)
        )
        for target in (match.id_number, match.name):
            if target is None:
                continue
            spec = by_name.get(target)
            if spec is None:
                raise match_r.fail(f"字段 {target!r} 不存在 / names a missing field {target!r}")
            if not spec.required:
                raise match_r.fail(f"字段 {target!r} 应为必填 / matched field {target!r} must be required")
        id_field = by_name[match.id_number] if match.id_number is not None else None
        if id_field is not None and id_field.type not in ("resident_id", "uscc", "string"):
            raise match_r.fail("id_number 应指向证件号码字段 / id_number must name an identifier field")

    print_r = TableReader(data.get("print"), "print", source)
    print_r.only(("title", "title_en", "orientation", "long_fields"))
    orientation = print_r.req_str("orientation")
    if orientation not in ORIENTATIONS:
        raise print_r.fail(f"orientation 应为 {' / '.join(ORIENTATIONS)} / must be portrait or landscape")
    long_fields = print_r.str_list("long_fields", optional=True, allow_empty=True)
    for name in long_fields:
        if name not in by_name:
            raise print_r.fail(f"long_fields 中的字段 {name!r} 不存在 / names a missing field {name!r}")
        if by_name[name].type != "text":
            raise print_r.fail(f"long_fields 只能列 text 字段 / long field {name!r} must be of type text")
    layout = PrintLayout(
        title=print_r.req_str("title"),
        title_en=print_r.req_str("title_en"),
        orientation=orientation,
        long_fields=long_fields,
    )

    license_type = LicenseType(
        type=type_id,
        name=top.req_str("name"),
        name_en=top.req_str("name_en"),
        holder_id_type=holder_id_type,
        holder_id_types=holder_id_types,
        type_code=type_code,
        authority=top.req_str("authority"),
        issuing_department=top.req_str("issuing_department"),
        default_validity_years=top.int_("default_validity_years", 1, 100),
        example_issuer=issuer,
        example_holder=holder,
        holder_match=match,
        print=layout,
        fields=fields,
    )

    examples = license_type.example_fields()
    try:
        normalised = license_type.validate_fields(examples, holder)
    except InvalidFields as exc:
        problems = "; ".join(f"{e['field']}: {e['code']} ({e['message']})" for e in exc.extra["errors"])
        raise TemplateError(f"{source}: 示例未通过本模板校验 / the examples fail the template: {problems}") from None
    if normalised != examples:
        changed = ", ".join(k for k in examples if normalised.get(k) != examples[k])
        raise TemplateError(f"{source}: 示例应为规范形式 / examples must be in normalised form: {changed}")
    return license_type


def load_license_type(path: Path) -> LicenseType:
    """Read and check one template file; the type id must match the file name."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise TemplateError(f"{path.name}: 无法读取 / cannot read: {exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TemplateError(f"{path.name}: TOML 语法错误 / invalid TOML: {exc}") from None
    return _parse_template(data, path.name, path.stem)


# --- the catalogue --------------------------------------------------------------------------------


class Catalog:
    """The licence types the registry knows, by type id; iteration and :meth:`all` are sorted by type id."""

    def __init__(self, types: Iterable[LicenseType]) -> None:
        by_type: dict[str, LicenseType] = {}
        codes: dict[str, str] = {}
        for lt in sorted(types, key=lambda t: t.type):
            if lt.type in by_type:
                raise TemplateError(f"证照类型重复 / duplicate licence type {lt.type!r}")
            if lt.type_code in codes:
                raise TemplateError(
                    f"type_code 重复 / {lt.type!r} and {codes[lt.type_code]!r} share type_code {lt.type_code}"
                )
            by_type[lt.type] = lt
            codes[lt.type_code] = lt.type
        self._types = by_type

    def get(self, license_type: object) -> LicenseType:
        """The type called ``license_type``; :class:`UnknownLicenseType` naming the known ones otherwise."""
        if isinstance(license_type, str) and license_type in self._types:
            return self._types[license_type]
        known = list(self._types)
        raise UnknownLicenseType(
            f"证照类型 {license_type!r} 不存在，可用类型：{'、'.join(known)} / "
            f"unknown licence type {license_type!r}; known types: {', '.join(known)}",
            license_type=str(license_type),
            known_types=known,
        )

    def all(self) -> list[LicenseType]:
        return list(self._types.values())

    def types(self) -> list[str]:
        return list(self._types)

    def __contains__(self, license_type: object) -> bool:
        return isinstance(license_type, str) and license_type in self._types

    def __iter__(self) -> Iterator[LicenseType]:
        return iter(self.all())

    def __len__(self) -> int:
        return len(self._types)


def load_catalog(directory: Path | None = None) -> Catalog:
    """Load every ``*.toml`` template in ``directory`` (default: the repository's ``templates/licenses``)."""
    directory = directory or TEMPLATES_DIR
    if not directory.is_dir():
        raise TemplateError(f"{directory}: 模板目录不存在 / template directory not found")
    paths = sorted(directory.glob("*.toml"))
    if not paths:
        raise TemplateError(f"{directory}: 没有模板 / no *.toml templates found")
    return Catalog(load_license_type(p) for p in paths)


@functools.cache
def default_catalog() -> Catalog:
    """The repository's templates, loaded once."""
    return load_catalog()
