"""RFC 8785 (JCS) examples through ``signing.jcs.canonicalize``, byte for byte."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest

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
