"""Service items (事项): the window's catalogue in ``templates/services/*.toml``, parsed strictly.

A service item names the licences a window pulls from the registry for it — which licence type, whose
licence (the applicant, a spouse, the legal representative, the company, the buyer or the seller, a parent,
the borrower) and how it is required — and the materials no registry holds, which stay ``missing`` unless
the applicant signs a commitment (告知承诺).

Requirements: ``required``, ``optional``, or ``one_of``: the registry-held materials and the offline
materials that share a ``group`` name are alternatives, and one of them is enough (a 不动产权证书 of the
premises *or* a lease).

A file is read once, at start-up, and every mistake in it is a
:class:`~registry.licence_types.TemplateError` naming the file: unknown keys, wrong value types, a licence
type the licence catalogue does not know, an unknown party or requirement, a ``one_of`` group with a single
alternative, a duplicate code.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from registry import errors
from registry.licence_types import Catalog, TableReader, TemplateError, default_catalog

__all__ = [
    "PARTIES",
    "REQUIREMENTS",
    "SERVICES_DIR",
    "Material",
    "OfflineMaterial",
    "ServiceCatalog",
    "ServiceItem",
    "default_service_catalog",
    "load_service_catalog",
    "load_service_item",
]

SERVICES_DIR: Final = Path(__file__).resolve().parent.parent / "templates" / "services"

# Whose licence a material is, with the Chinese name a window shows.
PARTIES: Final[dict[str, str]] = {
    "applicant": "申请人",
    "spouse": "配偶",
    "legal_representative": "法定代表人",
    "company": "企业",
    "buyer": "买方",
    "seller": "卖方",
    "mother": "母亲",
    "father": "父亲",
    "borrower": "借款人",
}
REQUIREMENTS: Final = ("required", "optional", "one_of")
TIME_LIMIT_MAX_DAYS: Final = 365

# Region (6 digits, GB/T 2260) - agency abbreviation - item abbreviation - 3-digit sequence.
_CODE_RE: Final = re.compile(r"[0-9]{6}-[A-Z]{2,8}-[A-Z0-9]{2,10}-[0-9]{3}")
_GROUP_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,39}")

_TOP_KEYS: Final = (
    "code",
    "name",
    "name_en",
    "agency_type",
    "agency_type_en",
    "time_limit_days",
    "legal_basis",
    "materials",
    "offline_materials",
)
_MATERIAL_KEYS: Final = ("license_type", "party", "requirement", "group", "note", "note_en")
_OFFLINE_KEYS: Final = ("name", "name_en", "commitment_allowed", "group")


@dataclass(frozen=True, slots=True)
class Material:
    """A licence the registry holds: its type, whose it is, and how it is required."""

    license_type: str
    party: str
    requirement: str
    group: str = ""
    note: str = ""
    note_en: str = ""


@dataclass(frozen=True, slots=True)
class OfflineMaterial:
    """A material no registry holds: it stays ``missing`` unless the applicant commits to it (告知承诺)."""

    name: str
    name_en: str
    commitment_allowed: bool
    group: str = ""


@dataclass(frozen=True, slots=True)
class ServiceItem:
    """One service item (事项), as its file describes it."""

    code: str
    name: str
    name_en: str
    agency_type: str
    agency_type_en: str
    time_limit_days: int
    legal_basis: str
    materials: tuple[Material, ...]
    offline_materials: tuple[OfflineMaterial, ...] = ()
    # Chinese names of the licence types, filled by the loader from the catalogue it validated against.
    _type_names: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    def license_types(self) -> set[str]:
        """The licence types the registry can supply for this item."""
        return {m.license_type for m in self.materials}

    def parties(self) -> list[str]:
        """Whose licences are involved, in order of first appearance."""
        return list(dict.fromkeys(m.party for m in self.materials))

    def one_of_groups(self) -> dict[str, tuple[Material | OfflineMaterial, ...]]:
        """Each ``one_of`` group and its alternatives, registry-held ones first, in file order."""
        groups: dict[str, list[Material | OfflineMaterial]] = {}
        for m in self.materials:
            if m.group:
                groups.setdefault(m.group, []).append(m)
        for o in self.offline_materials:
            if o.group:
                groups.setdefault(o.group, []).append(o)
        return {name: tuple(alternatives) for name, alternatives in groups.items()}

    def paper_copies_spared(self) -> int:
        """How many paper copies a window no longer asks for when every registry-held material is pulled:
        each required or optional material, and one per ``one_of`` group with a registry-held alternative."""
        singles = sum(1 for m in self.materials if m.requirement != "one_of")
        groups = {m.group for m in self.materials if m.requirement == "one_of"}
        return singles + len(groups)

    def license_type_name(self, license_type: str) -> str:
        """The licence type's Chinese name (the id itself if no catalogue knows it)."""
        if license_type in self._type_names:
            return self._type_names[license_type]
        catalog = default_catalog()
        return catalog.get(license_type).name if license_type in catalog else license_type

    def public(self) -> dict[str, object]:
        """The item as ``GET /api/v1/services/{code}`` publishes it."""
        return {
            "code": self.code,
            "name": self.name,
            "name_en": self.name_en,
            "agency_type": self.agency_type,
            "agency_type_en": self.agency_type_en,
            "time_limit_days": self.time_limit_days,
            "legal_basis": self.legal_basis,
            "materials": [
                {
                    "license_type": m.license_type,
                    "license_type_name": self.license_type_name(m.license_type),
                    "party": m.party,
                    "party_name": PARTIES.get(m.party, m.party),
                    "requirement": m.requirement,
                    "group": m.group,
                    "note": m.note,
                    "note_en": m.note_en,
                }
                for m in self.materials
            ],
            "offline_materials": [
                {
                    "name": o.name,
                    "name_en": o.name_en,
                    "commitment_allowed": o.commitment_allowed,
                    "group": o.group,
                }
                for o in self.offline_materials
            ],
            "paper_copies_spared": self.paper_copies_spared(),
        }


# --- reading a file -------------------------------------------------------------------------------


class _Reader(TableReader):
    """The licence templates' strict TOML reader, with what service items add: stripped text, required
    integers, arrays of tables, one-of groups and bilingual notes."""

    def text(self, key: str, *, optional: bool = False) -> str:
        """A stripped string; a missing or blank one is an error unless ``optional`` (then ``""``)."""
        if key not in self.table:
            if optional:
                return ""
            raise self.fail(f"缺少 {key} / missing key {key!r}")
        value = self.table[key]
        if not isinstance(value, str):
            raise self.fail(f"{key} 应为字符串 / {key!r} must be a string")
        if not value.strip() and not optional:
            raise self.fail(f"{key} 不能为空 / {key!r} must not be empty")
        return value.strip()

    def required_int(self, key: str, low: int, high: int) -> int:
        value = self.int_(key, low, high)
        if value is None:
            raise self.fail(f"缺少 {key} / missing key {key!r}")
        return value

    def tables(self, key: str, *, optional: bool = False) -> list[object]:
        if key not in self.table and optional:
            return []
        value = self.table.get(key)
        if not isinstance(value, list) or (not value and not optional):
            raise self.fail(f"{key} 应为非空的 [[{key}]] 表数组 / {key!r} must be a non-empty array of tables")
        return value

    def group(self) -> str:
        group = self.text("group", optional=True)
        if group and _GROUP_RE.fullmatch(group) is None:
            raise self.fail(f"group {group!r} 应为小写 snake_case ASCII / group must be snake_case ASCII")
        return group

    def notes(self) -> tuple[str, str]:
        note, note_en = self.text("note", optional=True), self.text("note_en", optional=True)
        if bool(note) != bool(note_en):
            raise self.fail("note 与 note_en 应同时提供 / note and note_en go together")
        return note, note_en


def _parse_material(table: object, index: int, source: str, licence_catalog: Catalog) -> Material:
    r = _Reader(table, f"materials[{index}]", source)
    r.only(_MATERIAL_KEYS)
    license_type = r.text("license_type")
    if license_type not in licence_catalog:
        known = ", ".join(licence_catalog.types())
        raise r.fail(f"证照类型 {license_type!r} 不存在 / unknown licence type (one of {known})")
    r.where = f"materials[{index}] ({license_type})"
    party = r.text("party")
    if party not in PARTIES:
        raise r.fail(f"未知的当事人 {party!r} / unknown party (one of {', '.join(PARTIES)})")
    requirement = r.text("requirement")
    if requirement not in REQUIREMENTS:
        raise r.fail(f"未知的要求 {requirement!r} / unknown requirement (one of {', '.join(REQUIREMENTS)})")
    group = r.group()
    if requirement == "one_of" and not group:
        raise r.fail("one_of 须有 group / a one_of material needs a group")
    if requirement != "one_of" and group:
        raise r.fail("只有 one_of 可以有 group / only a one_of material has a group")
    note, note_en = r.notes()
    return Material(license_type, party, requirement, group, note, note_en)


def _parse_offline(table: object, index: int, source: str) -> OfflineMaterial:
    r = _Reader(table, f"offline_materials[{index}]", source)
    r.only(_OFFLINE_KEYS)
    name = r.text("name")
    r.where = f"offline_materials[{index}] ({name})"
    return OfflineMaterial(name, r.text("name_en"), r.bool_("commitment_allowed"), r.group())


def _parse_item(data: dict[str, object], source: str, licence_catalog: Catalog) -> ServiceItem:
    top = _Reader(data, "(top level)", source)
    top.only(_TOP_KEYS)
    code = top.text("code")
    if _CODE_RE.fullmatch(code) is None:
        raise top.fail(
            f"code {code!r} 应为 区划-部门-事项-序号（如 440300-SCJG-SPJY-001） / "
            "code must be region-agency-item-sequence, e.g. 440300-SCJG-SPJY-001"
        )
    materials = tuple(_parse_material(t, i, source, licence_catalog) for i, t in enumerate(top.tables("materials")))
    offline = tuple(_parse_offline(t, i, source) for i, t in enumerate(top.tables("offline_materials", optional=True)))

    seen: set[tuple[str, str]] = set()
    for m in materials:
        if (m.license_type, m.party) in seen:
            raise top.fail(f"材料重复 / material listed twice: {m.license_type} of {m.party}")
        seen.add((m.license_type, m.party))
    names = [o.name for o in offline]
    if len(set(names)) != len(names):
        raise top.fail("offline_materials 名称重复 / duplicate offline material name")

    item = ServiceItem(
        code=code,
        name=top.text("name"),
        name_en=top.text("name_en"),
        agency_type=top.text("agency_type"),
        agency_type_en=top.text("agency_type_en"),
        time_limit_days=top.required_int("time_limit_days", 1, TIME_LIMIT_MAX_DAYS),
        legal_basis=top.text("legal_basis"),
        materials=materials,
        offline_materials=offline,
    )
    for group, alternatives in item.one_of_groups().items():
        if len(alternatives) < 2:
            raise top.fail(
                f"one_of 组 {group!r} 只有一个备选材料 / one_of group {group!r} needs at least two alternatives"
            )
    item._type_names.update((t, licence_catalog.get(t).name) for t in item.license_types())
    return item


def load_service_item(path: Path, licence_catalog: Catalog | None = None) -> ServiceItem:
    """Read and check one service-item file against ``licence_catalog`` (default: the shipped one)."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise TemplateError(f"{path.name}: 无法读取 / cannot read: {exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TemplateError(f"{path.name}: TOML 语法错误 / invalid TOML: {exc}") from None
    return _parse_item(data, path.name, licence_catalog if licence_catalog is not None else default_catalog())


# --- the catalogue --------------------------------------------------------------------------------


class ServiceCatalog:
    """The service items a window can pick, by code; iteration and :meth:`all` are sorted by code."""

    def __init__(self, items: Iterable[ServiceItem]) -> None:
        by_code: dict[str, ServiceItem] = {}
        for item in sorted(items, key=lambda i: i.code):
            if item.code in by_code:
                raise TemplateError(f"事项编码重复 / duplicate service item code {item.code!r}")
            by_code[item.code] = item
        self._items = by_code

    def get(self, code: object) -> ServiceItem:
        """The item with ``code``; :class:`~registry.errors.NotFound` (``not_found``) otherwise."""
        if isinstance(code, str) and code in self._items:
            return self._items[code]
        shown = str(code)[:64]
        raise errors.NotFound(f"事项 {shown} 不存在 / No service item {shown}")

    def all(self) -> list[ServiceItem]:
        return list(self._items.values())

    def search(self, text: str | None) -> list[ServiceItem]:
        """Items whose code, Chinese or English name contains ``text`` (case-insensitive); all for blank."""
        needle = (text or "").strip().casefold()
        if not needle:
            return self.all()
        return [
            item
            for item in self._items.values()
            if any(needle in value.casefold() for value in (item.code, item.name, item.name_en))
        ]

    def codes(self) -> list[str]:
        return list(self._items)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code in self._items

    def __iter__(self) -> Iterator[ServiceItem]:
        return iter(self.all())

    def __len__(self) -> int:
        return len(self._items)


def load_service_catalog(directory: Path | None = None, licence_catalog: Catalog | None = None) -> ServiceCatalog:
    """Load every ``*.toml`` in ``directory`` (default: the repository's ``templates/services``), checking each
    material's licence type against ``licence_catalog`` (default: :func:`~registry.licence_types.default_catalog`).
    """
    directory = directory or SERVICES_DIR
    if not directory.is_dir():
        raise TemplateError(f"{directory}: 事项目录不存在 / service item directory not found")
    paths = sorted(directory.glob("*.toml"))
    if not paths:
        raise TemplateError(f"{directory}: 没有事项 / no *.toml service items found")
    licence_catalog = licence_catalog if licence_catalog is not None else default_catalog()
    items: list[ServiceItem] = []
    files: dict[str, str] = {}
    for path in paths:
        item = load_service_item(path, licence_catalog)
        if item.code in files:
            raise TemplateError(
                f"{path.name}: 事项编码 {item.code} 与 {files[item.code]} 重复 / "
                f"code {item.code} already used by {files[item.code]}"
            )
        files[item.code] = path.name
        items.append(item)
    return ServiceCatalog(items)


@functools.cache
def default_service_catalog() -> ServiceCatalog:
    """The repository's service items, loaded once."""
    return load_service_catalog()
