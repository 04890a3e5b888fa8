"""RFC 8785 (JCS) examples through ``signing.jcs.canonicalize``, byte for byte."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from signing.jcs import canonicalize

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
EXAMPLES: dict[str, Any] = json.loads((VECTORS / "rfc8785_examples.json").read_text(encoding="utf-8"))


def test_section_3_2_2_sample_and_3_2_4_bytes() -> None:
    sample = EXAMPLES["section_3_2_2_sample"]
    canonical = canonicalize(json.loads(sample["input_json_text"]))
    assert canonical == sample["expected_canonical_text"].encode("utf-8")
    assert canonical == bytes.fromhex(sample["expected_utf8_hex_3_2_4"].replace(" ", ""))


def test_section_3_2_3_sorting_by_utf16_code_units() -> None:
    sorting = EXAMPLES["section_3_2_3_sorting"]
    canonical = canonicalize(json.loads(sorting["input_json_text"]))
    # json.loads keeps the order of the canonical output, so its values show the sort order.
    assert list(json.loads(canonical).values()) == sorting["expected_value_order"]


@pytest.mark.parametrize(
    "case", EXAMPLES["appendix_b_numbers"], ids=[c["ieee754_hex"] for c in EXAMPLES["appendix_b_numbers"]]
)
def test_appendix_b_number_serialization(case: dict[str, Any]) -> None:
    (number,) = struct.unpack(">d", bytes.fromhex(case["ieee754_hex"]))
    if case["expected_json"] is None:  # NaN and Infinity must be refused
        with pytest.raises(ValueError):  # noqa: PT011 - rfc8785 errors are ValueError subclasses
            canonicalize(number)
    else:
        assert canonicalize(number) == case["expected_json"].encode("ascii")
        assert canonicalize([number]) == b"[" + case["expected_json"].encode("ascii") + b"]"


# --- the C-encoder fast path must agree with the rfc8785 reference, byte for byte, or defer to it -----------

_TEXT = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=12)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    st.integers(),  # beyond the safe domain: both must refuse
    st.floats(allow_nan=True, allow_infinity=True),
    _TEXT,
)
_JSON = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(_TEXT, children, max_size=5),
        st.tuples(children, children),
    ),
    max_leaves=25,
)


def _reference(value: object) -> bytes | type[Exception]:
    try:
        return rfc8785.dumps(value)  # type: ignore[arg-type]
    except ValueError as exc:
        return type(exc)


def _ours(value: object) -> bytes | type[Exception]:
    try:
        return canonicalize(value)
    except ValueError as exc:
        return type(exc)


@settings(max_examples=1500, deadline=None)
@given(_JSON)
def test_fast_path_agrees_with_rfc8785(value: object) -> None:
    assert _ours(value) == _reference(value)


@pytest.mark.parametrize(
    "value",
    [
        {"\ue000": 1, "\U0001f600": 2},  # code-point order differs from UTF-16 order here
        {"a": "\ud800"},  # a lone surrogate
        {"a": 2**53},  # beyond the safe-integer domain
        {"a": 1.5, "b": -0.0},
        {"ctl": '\x00\x08\x0c\x0a\x0d\x09\x1f\x7f"\\ \u2028'},
    ],
)
def test_fast_path_edges(value: object) -> None:
    assert _ours(value) == _reference(value)
