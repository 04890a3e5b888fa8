"""Identifier formats: 证照标识, 公民身份号码 (GB 11643) and 统一社会信用代码 (GB 32100).

Framework-free and side-effect free: each ``validate_*`` function either returns the normalised value or
raises an :class:`IdentifierError` whose ``code`` tells *why* — ``malformed`` (wrong length, characters,
shape or date) or ``bad_check_character`` (the shape is right, the check character is not). Messages are
Chinese first with the English beside, so they can be shown to a window clerk as they are.

Decisions recorded here:

* USCC (GB 32100): the alphabet, the length and the check character are verified. The registering
  authority / organisation type characters (positions 1–2) are only required to be in the USCC alphabet:
  the set of authority codes has been extended by later announcements (外交, 司法行政, 宗教, 工会, 农业 …)
  and a registry must never reject a real code because its list is out of date.
* 公民身份号码 (GB 11643): 18 characters only (the 15-digit first-generation numbers are long expired);
  the region code is checked for shape (6 digits, not starting with 0), not against GB/T 2260, whose
  codes change every year while the numbers issued under the old ones stay valid. The birth date must be
  a real date between 1900-01-01 and today. A lower-case ``x`` is accepted and normalised to ``X``.
* 证照标识 (DESIGN §5): the type code's and the issuer code's USCCs must carry valid check characters of
  their own (real codes always do), on top of the identifier's MOD 37,36 check character.
* Nothing here strips whitespace: callers strip user input before they parse it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date
from typing import ClassVar, Final

__all__ = [
    "HOLDER_ID_TYPES",
    "LICENSE_ID_PREFIX",
    "USCC_ALPHABET",
    "CheckCharacterError",
    "IdentifierError",
    "LicenseIdentifier",
    "MalformedIdentifierError",
    "mod37_36_check",
    "resident_id_check",
    "uscc_check",
    "validate_holder_id",
    "validate_resident_id",
    "validate_type_code",
    "validate_uscc",
]


class IdentifierError(ValueError):
    """An identifier is not acceptable; ``code`` says why in one machine-readable word."""

    code: ClassVar[str] = "invalid_identifier"


class MalformedIdentifierError(IdentifierError):
    """Wrong length, characters, shape or embedded date."""

    code: ClassVar[str] = "malformed"


class CheckCharacterError(IdentifierError):
    """The identifier has the right shape but its check character does not match."""

    code: ClassVar[str] = "bad_check_character"

    def __init__(self, what: str, expected: str, got: str) -> None:
        self.expected = expected
        self.got = got
        super().__init__(f"{what}校验码错误 / check character mismatch: expected {expected!r}, got {got!r}")


# --- ISO/IEC 7064 MOD 37,36 (证照标识) ------------------------------------------------------------

_ALNUM36: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ALNUM36_VALUE: Final = {c: i for i, c in enumerate(_ALNUM36)}


def _mod37_36_residue(s: str, p: int = 36) -> int:
    """Run the MOD 37,36 hybrid recursion over ``s`` from state ``p`` and return the final ``p``."""
    for ch in s:
        v = _ALNUM36_VALUE.get(ch)
        if v is None:
            raise MalformedIdentifierError(
                f"含有非法字符 {ch!r}（仅允许 0-9、A-Z） / invalid character {ch!r} (only 0-9, A-Z allowed)"
            )
        t = (p + v) % 36
        if t == 0:
            t = 36
        p = (2 * t) % 37
    return p


def mod37_36_check(s: str) -> str:
    """The ISO/IEC 7064 MOD 37,36 check character of ``s`` (characters ``0-9A-Z``).

    Appending it makes the whole string validate: running the recursion over ``s + check`` leaves
    ``t == 1`` at the last step (equivalently ``p == 2``).
    """
    if not s:
        raise MalformedIdentifierError("待校验字符串为空 / nothing to compute a check character over")
    return _ALNUM36[(37 - _mod37_36_residue(s)) % 36]


def _mod37_36_valid(s_with_check: str) -> bool:
    return len(s_with_check) >= 2 and _mod37_36_residue(s_with_check) == 2


# --- 统一社会信用代码 (GB 32100) ------------------------------------------------------------------

USCC_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE: Final = {c: i for i, c in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_SHAPE: Final = re.compile(r"[0-9A-HJ-NP-RTUW-Y]{18}")


def uscc_check(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters of a unified social credit code."""
    if len(first17) != 17 or any(c not in _USCC_VALUE for c in first17):
        raise MalformedIdentifierError(
            "统一社会信用代码本体应为 17 位（0-9 及除 I、O、S、V、Z 外的大写字母） / "
            f"USCC body must be 17 characters of the USCC alphabet, got {first17!r}"
        )
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def validate_uscc(text: str) -> str:
    """Return ``text`` if it is an 18-character USCC with a valid check character; raise otherwise."""
    if not isinstance(text, str) or _USCC_SHAPE.fullmatch(text) is None:
        raise MalformedIdentifierError(
            "统一社会信用代码应为 18 位（0-9 及除 I、O、S、V、Z 外的大写字母） / "
            f"a unified social credit code is 18 characters of 0-9 and A-Y except I, O, S, V, Z; got {text!r}"
        )
    expected = uscc_check(text[:17])
    if text[17] != expected:
        raise CheckCharacterError("统一社会信用代码", expected, text[17])
    return text


# --- 公民身份号码 (GB 11643, ISO 7064 MOD 11-2) ---------------------------------------------------

_RESIDENT_WEIGHTS: Final = tuple(pow(2, 17 - i, 11) for i in range(17))
_RESIDENT_CHECK: Final = "10X98765432"
_RESIDENT_SHAPE: Final = re.compile(r"[1-9][0-9]{16}[0-9X]")
_EARLIEST_BIRTH: Final = date(1900, 1, 1)


def resident_id_check(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character (``0-9`` or ``X``) for the first 17 digits of a resident ID."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise MalformedIdentifierError(
            f"公民身份号码本体应为 17 位数字 / resident ID body must be 17 digits, got {first17!r}"
        )
    total = sum(int(c) * w for c, w in zip(first17, _RESIDENT_WEIGHTS, strict=True))
    return _RESIDENT_CHECK[total % 11]


def validate_resident_id(text: str, *, today: date | None = None) -> str:
    """Return the 18-character resident ID number normalised to upper case; raise if it is not valid.

    ``today`` (default: the local date) bounds the birth date from above.
    """
    if not isinstance(text, str):
        raise MalformedIdentifierError("公民身份号码应为字符串 / resident ID must be a string")
    normalised = text.upper()
    if _RESIDENT_SHAPE.fullmatch(normalised) is None:
        raise MalformedIdentifierError(
            "公民身份号码应为 18 位：17 位数字加一位校验码（0-9 或 X） / "
            f"a resident ID number is 17 digits and a check character 0-9 or X; got {text!r}"
        )
    born = normalised[6:14]
    try:
        birth = date(int(born[:4]), int(born[4:6]), int(born[6:]))
    except ValueError:
        raise MalformedIdentifierError(
            f"公民身份号码中的出生日期 {born} 不是有效日期 / birth date {born} in the resident ID is not a real date"
        ) from None
    upper = today or date.today()
    if not _EARLIEST_BIRTH <= birth <= upper:
        raise MalformedIdentifierError(
            f"公民身份号码中的出生日期 {born} 超出范围（1900-01-01 至今） / "
            f"birth date {born} in the resident ID is outside 1900-01-01 .. today"
        )
    expected = resident_id_check(normalised[:17])
    if normalised[17] != expected:
        raise CheckCharacterError("公民身份号码", expected, normalised[17])
    return normalised


# --- holder identifiers ---------------------------------------------------------------------------

HOLDER_ID_TYPES: Final = ("resident_id", "uscc", "passport")
_PASSPORT_SHAPE: Final = re.compile(r"[A-Z0-9]{5,17}")


def validate_holder_id(id_type: str, id_number: str) -> str:
    """Validate a holder's identifier of kind ``id_type`` and return it normalised.

    ``resident_id`` (GB 11643), ``uscc`` (GB 32100) or ``passport`` (5–17 characters ``A-Z0-9``; lower case
    is normalised to upper case, no check character exists to verify).
    """
    if id_type == "resident_id":
        return validate_resident_id(id_number)
    if id_type == "uscc":
        return validate_uscc(id_number)
    if id_type == "passport":
        normalised = id_number.upper() if isinstance(id_number, str) else ""
        if _PASSPORT_SHAPE.fullmatch(normalised) is None:
            raise MalformedIdentifierError(
                f"护照号码应为 5–17 位字母或数字 / a passport number is 5–17 letters or digits; got {id_number!r}"
            )
        return normalised
    raise MalformedIdentifierError(
        f"未知的证件类型 {id_type!r}（可选：{'、'.join(HOLDER_ID_TYPES)}） / "
        f"unknown holder id type {id_type!r} (one of {', '.join(HOLDER_ID_TYPES)})"
    )


# --- 证照标识 (DESIGN §5) -------------------------------------------------------------------------

LICENSE_ID_PREFIX: Final = "1.2.156.3005.2."
_TYPE_CODE_SHAPE: Final = re.compile(r"[0-9A-HJ-NP-RTUW-Y]{18}[0-9]{3}")
_SERIAL_SHAPE: Final = re.compile(r"[0-9A-Z]{1,32}")
_VERSION_SHAPE: Final = re.compile(r"[0-9]{3}")
# prefix + type code + issuer + 32-character serial + version + check, with their four dots
_MAX_IDENTIFIER_LENGTH: Final = len(LICENSE_ID_PREFIX) + 21 + 18 + 32 + 3 + 1 + 4


def validate_type_code(text: str) -> str:
    """Return ``text`` if it is a licence type code: an 18-character USCC with a valid check character
    followed by 3 digits."""
    if not isinstance(text, str) or _TYPE_CODE_SHAPE.fullmatch(text) is None:
        raise MalformedIdentifierError(
            "证照类型代码应为 18 位统一社会信用代码加 3 位数字 / "
            f"type code must be an 18-character USCC followed by 3 digits; got {text!r}"
        )
    _embedded_uscc(text[:18], "证照类型代码中的统一社会信用代码")
    return text


@dataclass(frozen=True, slots=True)
class LicenseIdentifier:
    """A parsed 证照标识: ``1.2.156.3005.2.<type code>.<issuer code>.<serial>.<version>.<check>``.

    Instances are always valid: the constructor checks every part (shapes and both embedded USCC check
    characters), and :meth:`parse` additionally checks the identifier's own check character. ``str()``
    gives the full identifier with the computed check character.
    """

    type_code: str
    issuer_code: str
    serial: str
    version: int = 1

    def __post_init__(self) -> None:
        validate_type_code(self.type_code)
        if not isinstance(self.issuer_code, str) or _USCC_SHAPE.fullmatch(self.issuer_code) is None:
            raise MalformedIdentifierError(
                "发证机构代码应为 18 位统一社会信用代码 / "
                f"issuer code must be an 18-character USCC; got {self.issuer_code!r}"
            )
        _embedded_uscc(self.issuer_code, "发证机构代码")
        if not isinstance(self.serial, str) or _SERIAL_SHAPE.fullmatch(self.serial) is None:
            raise MalformedIdentifierError(
                f"证照序号应为 1–32 位数字或大写字母 / serial must be 1–32 characters of 0-9, A-Z; got {self.serial!r}"
            )
        if type(self.version) is not int or not 1 <= self.version <= 999:
            raise MalformedIdentifierError(f"版本号应为 1–999 / version must be 1–999; got {self.version!r}")

    @classmethod
    def parse(cls, text: str) -> LicenseIdentifier:
        """Parse a full identifier strictly; raise :class:`MalformedIdentifierError` or
        :class:`CheckCharacterError`. Identifiers parsed lately are remembered (a scan parses one or two, and
        the same licences are scanned again and again); instances are immutable, so sharing them is safe."""
        if cls is LicenseIdentifier and isinstance(text, str):
            return _parse_remembered(text)
        return cls._parse(text)

    @classmethod
    def _parse(cls, text: str) -> LicenseIdentifier:
        if not isinstance(text, str):
            raise MalformedIdentifierError("证照标识应为字符串 / licence identifier must be a string")
        if len(text) > _MAX_IDENTIFIER_LENGTH:
            raise MalformedIdentifierError(
                f"证照标识过长 / licence identifier longer than {_MAX_IDENTIFIER_LENGTH} characters"
            )
        if not text.startswith(LICENSE_ID_PREFIX):
            raise MalformedIdentifierError(
                f"证照标识应以 {LICENSE_ID_PREFIX} 开头 / licence identifier must start with {LICENSE_ID_PREFIX}"
            )
        parts = text[len(LICENSE_ID_PREFIX) :].split(".")
        if len(parts) != 5:
            raise MalformedIdentifierError(
                "证照标识应包含类型代码、发证机构代码、序号、版本号、校验码五段 / "
                "licence identifier must have "
                f"five parts after the prefix (type code, issuer, serial, version, check); got {len(parts)}"
            )
        type_code, issuer_code, serial, version, check = parts
        if _VERSION_SHAPE.fullmatch(version) is None or version == "000":
            raise MalformedIdentifierError(
                f"版本号应为 001–999 / version must be three digits 001–999; got {version!r}"
            )
        if len(check) != 1 or check not in _ALNUM36_VALUE:
            raise MalformedIdentifierError(
                f"校验码应为一位 0-9 或 A-Z / check must be one character of 0-9, A-Z; got {check!r}"
            )
        # Shapes of the other parts are checked before the check character so that a wrong character
        # class is reported as malformed, not as a check mismatch.
        for part, shape, what in (
            (type_code, _TYPE_CODE_SHAPE, "证照类型代码 / type code"),
            (issuer_code, _USCC_SHAPE, "发证机构代码 / issuer code"),
            (serial, _SERIAL_SHAPE, "证照序号 / serial"),
        ):
            if shape.fullmatch(part) is None:
                raise MalformedIdentifierError(f"{what} 格式错误 / malformed: {part!r}")
        expected = mod37_36_check(type_code + issuer_code + serial + version)
        if check != expected:
            raise CheckCharacterError("证照标识", expected, check)
        return cls(type_code, issuer_code, serial, int(version))

    @property
    def check(self) -> str:
        """The MOD 37,36 check character over type code + issuer code + serial + version."""
        return mod37_36_check(f"{self.type_code}{self.issuer_code}{self.serial}{self.version:03d}")

    def __str__(self) -> str:
        return _text(self)

    @classmethod
    def series(cls, type_code: str, issuer_code: str, first: int, count: int, width: int = 8) -> list[tuple[str, str]]:
        """``(serial, identifier)`` of version 1 for ``count`` consecutive serials from ``first``, zero-padded to
        ``width``: bulk issuance numbers a chunk at once. The fixed parts are validated once and their share of
        the check recursion is run once."""
        if first < 0:
            raise MalformedIdentifierError(f"序号不能为负 / serials cannot be negative: {first}")
        cls(type_code, issuer_code, f"{first + count - 1:0{width}d}")  # validates every part
        state = _mod37_36_residue(type_code + issuer_code)
        head = f"{LICENSE_ID_PREFIX}{type_code}.{issuer_code}."
        out = []
        for number in range(first, first + count):
            serial = f"{number:0{width}d}"
            check = _ALNUM36[(37 - _mod37_36_residue(serial + "001", state)) % 36]
            out.append((serial, f"{head}{serial}.001.{check}"))
        return out

    def next_version(self) -> LicenseIdentifier:
        """The identifier of the next version (renewal or amendment) of the same licence."""
        if self.version >= 999:
            raise MalformedIdentifierError("版本号已达上限 999 / version cannot go past 999")
        return LicenseIdentifier(self.type_code, self.issuer_code, self.serial, self.version + 1)


def _embedded_uscc(code: str, what: str) -> None:
    expected = uscc_check(code[:17])
    if code[17] != expected:
        raise CheckCharacterError(what, expected, code[17])


@functools.lru_cache(maxsize=8192)
def _text(ident: LicenseIdentifier) -> str:  # a scan prints the identifier it parsed: keep the check computed
    return f"{LICENSE_ID_PREFIX}{ident.type_code}.{ident.issuer_code}.{ident.serial}.{ident.version:03d}.{ident.check}"


@functools.lru_cache(maxsize=8192)
def _parse_remembered(text: str) -> LicenseIdentifier:
    return LicenseIdentifier._parse(text)  # errors are raised afresh each time: lru_cache keeps only results
