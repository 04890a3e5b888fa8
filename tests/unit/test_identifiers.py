"""Identifier formats: 证照标识 (MOD 37,36), 公民身份号码 (GB 11643) and 统一社会信用代码 (GB 32100).

Known values are computed by hand (shown in the comments) or taken from published examples; every
single-character corruption of a valid identifier must be caught.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date

import pytest

from verification.identifiers import (
    USCC_ALPHABET,
    CheckCharacterError,
    IdentifierError,
    LicenseIdentifier,
    MalformedIdentifierError,
    mod37_36_check,
    resident_id_check,
    uscc_check,
    validate_holder_id,
    validate_resident_id,
    validate_type_code,
    validate_uscc,
)

ALNUM36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# 张伟, born 1988-03-15 in 深圳市福田区 (440304), sequence 231 (odd: male).
ZHANG_WEI = "440304198803152316"
# 李娜, born 1990-07-22 in 深圳市南山区 (440305), sequence 442 (even: female).
LI_NA = "440305199007224420"
# A company registered in 深圳 (9 工商, 1 企业, 440300) and a government organ (1 机构编制, 1 机关).
COMPANY = "91440300MA5G8K2L7N"
PSB_SHENZHEN = "114403000075420085"
MPS_TYPE_CODE = "11100000000014302E001"


def _residue(s: str) -> int:
    """The ISO 7064 MOD 37,36 recursion written out independently of the module."""
    p = 36
    for ch in s:
        t = (p + ALNUM36.index(ch)) % 36 or 36
        p = (2 * t) % 37
    return p


def _substitutions(text: str, alphabet: str) -> Iterator[str]:
    for i, original in enumerate(text):
        for ch in alphabet:
            if ch != original:
                yield text[:i] + ch + text[i + 1 :]


# --- MOD 37,36 ------------------------------------------------------------------------------------


def test_mod37_36_hand_computed_value() -> None:
    # "A1": p=36; 'A'=10: t=(36+10)%36=10, p=20; '1'=1: t=21, p=42%37=5; check=(37-5)%36=32 -> 'W'.
    assert mod37_36_check("A1") == "W"
    # "0": t=(36+0)%36=0 -> 36, p=72%37=35; check=(37-35)%36=2 -> '2'.
    assert mod37_36_check("0") == "2"


def test_mod37_36_published_example() -> None:
    # The ISO 7064 MOD 37,36 example used by python-stdnum's iso7064.mod_37_36.
    assert mod37_36_check("A12425GABC1234002") == "M"


@pytest.mark.parametrize("body", ["A1", "0", "Z", "A12425GABC1234002", MPS_TYPE_CODE + PSB_SHENZHEN + "7001"])
def test_mod37_36_full_string_validates(body: str) -> None:
    # ISO 7064 hybrid systems: a string with its check character leaves t == 1 at the last step, i.e. p == 2.
    assert _residue(body + mod37_36_check(body)) == 2


def test_mod37_36_rejects_other_characters() -> None:
    with pytest.raises(MalformedIdentifierError):
        mod37_36_check("a1")
    with pytest.raises(MalformedIdentifierError):
        mod37_36_check("")


# --- 统一社会信用代码 -----------------------------------------------------------------------------


def test_uscc_alphabet() -> None:
    assert len(USCC_ALPHABET) == 31
    assert not set("IOSVZ") & set(USCC_ALPHABET)


@pytest.mark.parametrize(
    ("code", "note"),
    [
        (COMPANY, "a limited company in 深圳"),
        (PSB_SHENZHEN, "a government organ"),
        ("91350100M000100Y43", "the example printed in GB 32100"),
    ],
)
def test_uscc_known_good(code: str, note: str) -> None:
    assert validate_uscc(code) == code, note
    assert uscc_check(code[:17]) == code[17]


def test_uscc_check_by_hand() -> None:
    # 9*1 + 1*3 + 4*9 + 4*27 + 0*19 + 3*26 + 0*16 + 0*17 + M(21)*20 + A(10)*29 + 5*25 + G(16)*13 + 8*8
    # + K(19)*24 + 2*10 + L(20)*30 + 7*28 = 2613; 2613 % 31 = 9; (31 - 9) % 31 = 22 -> alphabet[22] = 'N'.
    assert uscc_check("91440300MA5G8K2L7") == "N"
    total = sum(
        USCC_ALPHABET.index(c) * w
        for c, w in zip(COMPANY[:17], (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28), strict=True)
    )
    assert USCC_ALPHABET[(31 - total % 31) % 31] == COMPANY[17] == uscc_check(COMPANY[:17])


def test_uscc_every_single_substitution_is_caught() -> None:
    for bad in _substitutions(COMPANY, ALNUM36 + "a"):
        with pytest.raises(IdentifierError):
            validate_uscc(bad)


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (COMPANY[:-1], MalformedIdentifierError),
        (COMPANY + "0", MalformedIdentifierError),
        (COMPANY.lower(), MalformedIdentifierError),
        ("91440300MA5G8K2LIN", MalformedIdentifierError),  # I is not in the alphabet
        (" " + COMPANY[1:], MalformedIdentifierError),
        (COMPANY[:-1] + "1", CheckCharacterError),
    ],
)
def test_uscc_rejects(code: str, error: type[IdentifierError]) -> None:
    with pytest.raises(error):
        validate_uscc(code)


def test_check_error_message_is_bilingual_and_names_both_characters() -> None:
    with pytest.raises(CheckCharacterError) as info:
        validate_uscc(COMPANY[:-1] + "3")
    message = str(info.value)
    assert "校验码错误" in message
    assert "check character mismatch: expected 'N', got '3'" in message
    assert info.value.code == "bad_check_character"
    assert MalformedIdentifierError.code == "malformed"
    assert issubclass(IdentifierError, ValueError)


# --- 公民身份号码 ---------------------------------------------------------------------------------


def test_resident_id_published_example() -> None:
    # The example of GB 11643-1999: 11010519491231002X.
    assert resident_id_check("11010519491231002") == "X"
    assert validate_resident_id("11010519491231002X") == "11010519491231002X"


def test_resident_id_check_by_hand() -> None:
    # weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2 over 44030419880315231:
    # 28+36+0+15+0+16+2+9+48+24+0+27+10+25+16+12+2 = 270; 270 % 11 = 6 -> "10X98765432"[6] = '6'.
    assert resident_id_check(ZHANG_WEI[:17]) == "6"


@pytest.mark.parametrize("number", [ZHANG_WEI, LI_NA, "430105199509103810"])
def test_resident_id_known_good(number: str) -> None:
    assert validate_resident_id(number) == number


def test_resident_id_lower_case_x_normalised() -> None:
    assert validate_resident_id("11010519491231002x") == "11010519491231002X"
    assert validate_holder_id("resident_id", "11010519491231002x") == "11010519491231002X"


def test_resident_id_every_single_substitution_is_caught() -> None:
    for bad in _substitutions(ZHANG_WEI, "0123456789X"):
        with pytest.raises(IdentifierError):
            validate_resident_id(bad)


def test_resident_id_adjacent_transpositions_are_caught() -> None:
    for i in range(17):
        swapped = ZHANG_WEI[:i] + ZHANG_WEI[i + 1] + ZHANG_WEI[i] + ZHANG_WEI[i + 2 :]
        if swapped != ZHANG_WEI:
            with pytest.raises(IdentifierError):
                validate_resident_id(swapped)


def _with_birth(birth: str) -> str:
    body = "440304" + birth + "231"
    return body + resident_id_check(body)


@pytest.mark.parametrize(
    "birth",
    [
        "19880230",  # 30 February
        "19881301",  # month 13
        "19880001",  # month 0
        "19880100",  # day 0
        "19010229",  # 1901 is not a leap year
        "18991231",  # before 1900
        "20991231",  # in the future
    ],
)
def test_resident_id_bad_birth_dates(birth: str) -> None:
    with pytest.raises(MalformedIdentifierError):
        validate_resident_id(_with_birth(birth), today=date(2026, 11, 23))


def test_resident_id_birth_date_bounds_inclusive() -> None:
    assert validate_resident_id(_with_birth("19000101"), today=date(2026, 11, 23))
    assert validate_resident_id(_with_birth("20000229"), today=date(2026, 11, 23))
    assert validate_resident_id(_with_birth("20261123"), today=date(2026, 11, 23))
    with pytest.raises(MalformedIdentifierError):
        validate_resident_id(_with_birth("20261124"), today=date(2026, 11, 23))


@pytest.mark.parametrize(
    "number",
    [
        ZHANG_WEI[:-1],
        ZHANG_WEI + "1",
        "44030488031523",  # a 15-digit first-generation number
        "X40304198803152316",
        "040304198803152316",  # region codes do not start with 0
        "44030419880315231A",
        "４40304198803152316",  # a full-width digit
        "",
    ],
)
def test_resident_id_wrong_shapes(number: str) -> None:
    with pytest.raises(MalformedIdentifierError):
        validate_resident_id(number)


def test_resident_id_wrong_check_is_a_check_error() -> None:
    with pytest.raises(CheckCharacterError) as info:
        validate_resident_id(ZHANG_WEI[:-1] + "X")
    assert info.value.expected == "6"
    assert info.value.got == "X"


# --- holder identifiers ---------------------------------------------------------------------------


def test_validate_holder_id_kinds() -> None:
    assert validate_holder_id("resident_id", ZHANG_WEI) == ZHANG_WEI
    assert validate_holder_id("uscc", COMPANY) == COMPANY
    assert validate_holder_id("passport", "e12345678") == "E12345678"
    assert validate_holder_id("passport", "G1234") == "G1234"


@pytest.mark.parametrize(
    ("id_type", "number", "error"),
    [
        ("passport", "E123", MalformedIdentifierError),
        ("passport", "E" * 18, MalformedIdentifierError),
        ("passport", "E1234-567", MalformedIdentifierError),
        ("resident_id", COMPANY, MalformedIdentifierError),
        ("uscc", ZHANG_WEI, CheckCharacterError),  # 18 characters of the USCC alphabet, wrong check
        ("driving_licence", ZHANG_WEI, MalformedIdentifierError),
        ("", ZHANG_WEI, MalformedIdentifierError),
    ],
)
def test_validate_holder_id_rejects(id_type: str, number: str, error: type[IdentifierError]) -> None:
    with pytest.raises(error):
        validate_holder_id(id_type, number)


# --- 证照标识 -------------------------------------------------------------------------------------


def _licence_id() -> LicenseIdentifier:
    return LicenseIdentifier(MPS_TYPE_CODE, PSB_SHENZHEN, "00001234", 1)


def test_identifier_string_form() -> None:
    ident = _licence_id()
    text = str(ident)
    body = f"{MPS_TYPE_CODE}{PSB_SHENZHEN}00001234001"
    assert text == f"1.2.156.3005.2.{MPS_TYPE_CODE}.{PSB_SHENZHEN}.00001234.001.{mod37_36_check(body)}"
    assert ident.check == text[-1]
    assert _residue(body + ident.check) == 2


def test_identifier_round_trip() -> None:
    for ident in (
        _licence_id(),
        LicenseIdentifier(MPS_TYPE_CODE, COMPANY, "Z", 999),
        LicenseIdentifier("111000000000135287002", PSB_SHENZHEN, "A" * 32, 42),
    ):
        assert LicenseIdentifier.parse(str(ident)) == ident
        assert str(LicenseIdentifier.parse(str(ident))) == str(ident)


def test_identifier_parse_fields() -> None:
    ident = LicenseIdentifier.parse(str(_licence_id()))
    assert ident.type_code == MPS_TYPE_CODE
    assert ident.issuer_code == PSB_SHENZHEN
    assert ident.serial == "00001234"
    assert ident.version == 1


def test_identifier_next_version() -> None:
    ident = _licence_id()
    nxt = ident.next_version()
    assert nxt.version == 2
    assert (nxt.type_code, nxt.issuer_code, nxt.serial) == (ident.type_code, ident.issuer_code, ident.serial)
    assert str(nxt).split(".")[-2] == "002"
    assert LicenseIdentifier.parse(str(nxt)) == nxt
    with pytest.raises(MalformedIdentifierError):
        LicenseIdentifier(MPS_TYPE_CODE, PSB_SHENZHEN, "1", 999).next_version()


def test_identifier_is_frozen() -> None:
    ident = _licence_id()
    with pytest.raises(dataclasses.FrozenInstanceError):
        ident.version = 2  # type: ignore[misc]


def test_identifier_every_single_substitution_is_caught() -> None:
    text = str(_licence_id())
    count = 0
    for bad in _substitutions(text, ALNUM36 + ".a-"):
        count += 1
        with pytest.raises(IdentifierError):
            LicenseIdentifier.parse(bad)
    assert count == len(text) * 38  # every position, every other character


def test_identifier_every_deletion_and_duplication_is_caught() -> None:
    text = str(_licence_id())
    for i in range(len(text)):
        for bad in (text[:i] + text[i + 1 :], text[:i] + text[i] + text[i:]):
            with pytest.raises(IdentifierError):
                LicenseIdentifier.parse(bad)


def test_identifier_wrong_check_is_a_check_error() -> None:
    text = str(_licence_id())
    wrong = "0" if text[-1] != "0" else "1"
    with pytest.raises(CheckCharacterError) as info:
        LicenseIdentifier.parse(text[:-1] + wrong)
    assert info.value.expected == text[-1]
    assert "校验码错误" in str(info.value)


def _replace_part(index: int, value: str) -> str:
    parts = str(_licence_id()).split(".")
    parts[5 + index] = value
    return ".".join(parts)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("1.2.156.3005.3." + str(_licence_id())[15:], id="wrong prefix"),
        pytest.param(str(_licence_id())[15:], id="no prefix"),
        pytest.param(" " + str(_licence_id()), id="leading space"),
        pytest.param(str(_licence_id()).rsplit(".", 1)[0], id="no check"),
        pytest.param(str(_licence_id()).replace(".00001234", ""), id="too few dots"),
        pytest.param(str(_licence_id()) + ".1", id="too many dots"),
        pytest.param(_replace_part(3, "000"), id="version 000"),
        pytest.param(_replace_part(3, "1000"), id="version 1000"),
        pytest.param(_replace_part(3, "01"), id="version 01"),
        pytest.param(_replace_part(2, "abc1"), id="lower-case serial"),
        pytest.param(_replace_part(2, ""), id="empty serial"),
        pytest.param(_replace_part(2, "1" * 33), id="serial too long"),
        pytest.param(_replace_part(0, MPS_TYPE_CODE[:18]), id="type code without suffix"),
        pytest.param(_replace_part(1, PSB_SHENZHEN[:17]), id="issuer too short"),
        pytest.param(_replace_part(4, "XY"), id="two check characters"),
        pytest.param(_replace_part(4, "x"), id="lower-case check"),
        pytest.param("", id="empty"),
        pytest.param(str(_licence_id()) + "0" * 10_000, id="very long"),
    ],
)
def test_identifier_wrong_shapes(text: str) -> None:
    with pytest.raises(MalformedIdentifierError):
        LicenseIdentifier.parse(text)


def test_identifier_embedded_uscc_checks() -> None:
    bad_issuer = PSB_SHENZHEN[:-1] + ("1" if PSB_SHENZHEN[-1] != "1" else "2")
    bad_type = MPS_TYPE_CODE[:17] + "1" + MPS_TYPE_CODE[18:]
    for type_code, issuer in ((MPS_TYPE_CODE, bad_issuer), (bad_type, PSB_SHENZHEN)):
        with pytest.raises(CheckCharacterError):
            LicenseIdentifier(type_code, issuer, "1")
        # Even with a correct MOD 37,36 check character over the bad parts, parsing refuses them.
        body = f"{type_code}{issuer}1001"
        text = f"1.2.156.3005.2.{type_code}.{issuer}.1.001.{mod37_36_check(body)}"
        with pytest.raises(CheckCharacterError):
            LicenseIdentifier.parse(text)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"version": 0},
        {"version": 1000},
        {"version": True},
        {"serial": "abc"},
        {"serial": ""},
        {"issuer_code": "11440300007542008"},
        {"type_code": MPS_TYPE_CODE[:18]},
    ],
)
def test_identifier_constructor_validates(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {
        "type_code": MPS_TYPE_CODE,
        "issuer_code": PSB_SHENZHEN,
        "serial": "1",
        "version": 1,
        **kwargs,
    }
    with pytest.raises(MalformedIdentifierError):
        LicenseIdentifier(**args)  # type: ignore[arg-type]


def test_validate_type_code() -> None:
    assert validate_type_code(MPS_TYPE_CODE) == MPS_TYPE_CODE
    with pytest.raises(MalformedIdentifierError):
        validate_type_code(MPS_TYPE_CODE[:20])
    with pytest.raises(CheckCharacterError):
        validate_type_code(MPS_TYPE_CODE[:17] + "1" + MPS_TYPE_CODE[18:])


def test_series_matches_one_at_a_time() -> None:
    issuer = "11440300MB2C935416"
    got = LicenseIdentifier.series(MPS_TYPE_CODE, issuer, 95, 10)
    assert got == [(f"{n:08d}", str(LicenseIdentifier(MPS_TYPE_CODE, issuer, f"{n:08d}"))) for n in range(95, 105)]
    assert all(str(LicenseIdentifier.parse(identifier)) == identifier for _, identifier in got)
    # Past eight digits serials grow, as one-at-a-time numbering does.
    assert LicenseIdentifier.series(MPS_TYPE_CODE, issuer, 99_999_999, 2)[1][0] == "100000000"
    with pytest.raises(CheckCharacterError):
        LicenseIdentifier.series(MPS_TYPE_CODE, "11440300MB2C935410", 1, 2)  # a wrong issuer check character
