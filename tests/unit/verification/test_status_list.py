"""W3C Bitstring Status List v1.0: the published example decodes as its vector says, bit order, round trips,
bounded decoding of a gzip bomb, and malformed inputs each raising ``StatusListError``."""

from __future__ import annotations

import base64
import copy
import gzip
import json
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signing.multibase import encode_base64url
from verification.status_list import (
    MIN_BITS,
    StatusListError,
    StatusListSnapshot,
    bit_at,
    decode_list,
    encode_list,
    format_timestamp,
    parse_status_list_credential,
    parse_timestamp,
    status_list_credential,
    with_bit,
)

VECTOR = json.loads(
    (
        Path(__file__).resolve().parents[2] / "vectors" / "bitstring-status-list" / "bitstring_status_list_example.json"
    ).read_text(encoding="utf-8")
)
LIST_URL = "https://registry.example/status-lists/114403000075420085-revocation-1"
ISSUER = {"id": "did:web:registry.example:departments:114403000075420085", "name": "深圳市公安局"}
EMPTY = bytes(MIN_BITS // 8)


def _credential(bits: bytes = EMPTY, purpose: str = "revocation") -> dict[str, Any]:
    return status_list_credential(
        list_url=LIST_URL,
        issuer=ISSUER,
        purpose=purpose,
        bits=bits,
        valid_from="2026-11-23T03:00:00Z",
        valid_until="2026-11-23T03:05:00Z",
    )


# --- the W3C example -------------------------------------------------------------------------------------


def test_w3c_example_decodes_as_expected() -> None:
    expected = VECTOR["expected_decoding"]
    encoded = VECTOR["statusListCredential"]["credentialSubject"]["encodedList"]
    compressed = base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4))
    assert len(compressed) == expected["compressed_bytes_len"]
    assert compressed[:10].hex() == expected["gzip_header_hex_first10"]

    bits = decode_list(encoded)
    assert len(bits) == expected["uncompressed_bytes"]
    assert len(bits) * 8 == expected["uncompressed_bits"] == MIN_BITS
    assert sum(bin(b).count("1") for b in bits) == expected["set_bits"]
    assert int(bit_at(bits, int(VECTOR["referencing_entry_example"]["statusListIndex"]))) == 0
    assert expected["status_at_index_94567"] == 0


def test_w3c_example_credential_parses() -> None:
    snapshot = parse_status_list_credential(VECTOR["statusListCredential"])
    assert snapshot == StatusListSnapshot(
        url="https://example.com/credentials/status/3",
        purpose="revocation",
        bits=bytes(16384),
        issuer_id="did:example:12345",
        valid_from=parse_timestamp("2021-04-05T14:27:40Z"),
        valid_until=None,
    )
    entry = VECTOR["referencing_entry_example"]
    assert entry["statusListCredential"] == snapshot.url
    assert bit_at(snapshot.bits, int(entry["statusListIndex"])) is False


# --- bit order and round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "byte", "mask"),
    [(0, 0, 0x80), (1, 0, 0x40), (7, 0, 0x01), (8, 1, 0x80), (15, 1, 0x01), (94567, 94567 // 8, 0x80 >> 7)],
)
def test_bit_order_index_zero_is_the_leftmost_bit(index: int, byte: int, mask: int) -> None:
    bits = with_bit(bytes(16), index, True) if index < 128 else with_bit(EMPTY, index, True)
    assert bits[byte] == mask
    assert sum(1 for b in bits if b) == 1
    assert bit_at(bits, index) is True
    assert with_bit(bits, index, False) == bytes(len(bits))


def test_with_bit_returns_a_copy_and_is_idempotent() -> None:
    original = bytes(4)
    once = with_bit(original, 9, True)
    assert original == bytes(4)
    assert with_bit(once, 9, True) == once
    assert with_bit(once, 9, False) == original


@given(st.binary(max_size=2048))
def test_encode_decode_round_trip(bits: bytes) -> None:
    encoded = encode_list(bits)
    assert encoded.startswith("u")
    assert "=" not in encoded
    assert decode_list(encoded) == bits


@given(st.lists(st.integers(min_value=0, max_value=8 * 64 - 1), max_size=40))
def test_set_bits_read_back(indices: list[int]) -> None:
    bits = bytes(64)
    for index in indices:
        bits = with_bit(bits, index, True)
    assert {i for i in range(8 * 64) if bit_at(bits, i)} == set(indices)


def test_encoding_is_deterministic_gzip() -> None:
    bits = with_bit(EMPTY, 42, True)
    assert encode_list(bits) == encode_list(bits)
    raw = base64.urlsafe_b64decode(encode_list(bits)[1:] + "==")
    assert raw[:2] == b"\x1f\x8b"
    assert gzip.decompress(raw) == bits


def test_credential_round_trip() -> None:
    bits = with_bit(with_bit(EMPTY, 0, True), MIN_BITS - 1, True)
    doc = _credential(bits, "suspension")
    assert doc["credentialSubject"] == {
        "id": f"{LIST_URL}#list",
        "type": "BitstringStatusList",
        "statusPurpose": "suspension",
        "encodedList": encode_list(bits),
    }
    assert doc["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    snapshot = parse_status_list_credential(doc)
    assert snapshot.url == LIST_URL
    assert snapshot.purpose == "suspension"
    assert snapshot.bits == bits
    assert snapshot.issuer_id == ISSUER["id"]
    assert format_timestamp(snapshot.valid_from) == "2026-11-23T03:00:00Z"
    assert snapshot.valid_until is not None and format_timestamp(snapshot.valid_until) == "2026-11-23T03:05:00Z"


def test_string_issuer_is_accepted() -> None:
    doc = status_list_credential(
        list_url=LIST_URL,
        issuer="did:web:registry.example",
        purpose="revocation",
        bits=EMPTY,
        valid_from="2026-11-23T03:00:00Z",
        valid_until="2026-11-24T03:00:00Z",
    )
    assert parse_status_list_credential(doc).issuer_id == "did:web:registry.example"


# --- bounded decoding ------------------------------------------------------------------------------------


def test_gzip_bomb_is_refused_fast() -> None:
    # 64 MiB of zeros gzip to ~64 KB; the decoder must stop at max_bytes, not inflate it all.
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(1 << 20)
    bomb = b"".join(compressor.compress(chunk) for _ in range(64)) + compressor.flush()
    encoded = encode_base64url(bomb)
    start = time.perf_counter()
    with pytest.raises(StatusListError) as info:
        decode_list(encoded)
    assert time.perf_counter() - start < 0.5
    assert info.value.reason == "too_large"


def test_max_bytes_is_an_exact_bound() -> None:
    encoded = encode_list(bytes(1000))
    assert decode_list(encoded, max_bytes=1000) == bytes(1000)
    with pytest.raises(StatusListError):
        decode_list(encoded, max_bytes=999)


def test_overlong_encoding_is_refused_unread() -> None:
    with pytest.raises(StatusListError) as info:
        decode_list("u" + "A" * 5000, max_bytes=1000)
    assert info.value.reason == "too_large"


_GZIP_OK = encode_list(b"abc")
_RAW = base64.urlsafe_b64decode(_GZIP_OK[1:] + "==")


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "u",
        "z" + _GZIP_OK[1:],  # base58 prefix
        _GZIP_OK[1:],  # no multibase prefix
        _GZIP_OK + "=",  # padding
        "u!!!!",
        "u" + base64.urlsafe_b64encode(b"not gzip at all").rstrip(b"=").decode(),
        encode_base64url(zlib.compress(b"zlib, not gzip")),
        encode_base64url(_RAW[:-6]),  # truncated
        encode_base64url(_RAW + _RAW),  # two members
        encode_base64url(_RAW + b"junk"),
        encode_base64url(b""),
    ],
)
def test_malformed_encoded_lists(encoded: str) -> None:
    with pytest.raises(StatusListError):
        decode_list(encoded)


def test_non_string_encoded_list() -> None:
    with pytest.raises(StatusListError):
        decode_list(b"uAAAA")  # type: ignore[arg-type]


@pytest.mark.parametrize("index", [-1, 32, 10**9, True, 1.0, "1"])
def test_out_of_range_or_ill_typed_index(index: Any) -> None:
    with pytest.raises(StatusListError) as info:
        bit_at(bytes(4), index)
    assert info.value.reason == "range"
    with pytest.raises(StatusListError):
        with_bit(bytes(4), index, True)


def _mutate(path: list[str], value: Any) -> dict[str, Any]:
    doc = _credential()
    target = doc
    for part in path[:-1]:
        target = target[part]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["@context"], _DELETE),
        (["@context"], "https://www.w3.org/ns/credentials/v2"),
        (["@context"], ["https://www.w3.org/2018/credentials/v1"]),
        (["type"], ["VerifiableCredential"]),
        (["type"], "BitstringStatusListCredential"),
        (["id"], _DELETE),
        (["id"], 42),
        (["issuer"], _DELETE),
        (["issuer"], {"name": "no id"}),
        (["issuer"], ""),
        (["validFrom"], _DELETE),
        (["validFrom"], "2026-11-23"),
        (["validFrom"], "2026-11-23T03:00:00"),  # no zone
        (["validUntil"], "2026-11-23T02:00:00Z"),  # before validFrom
        (["credentialSubject"], _DELETE),
        (["credentialSubject"], []),
        (["credentialSubject", "type"], "StatusList2021"),
        (["credentialSubject", "id"], 7),
        (["credentialSubject", "statusPurpose"], _DELETE),
        (["credentialSubject", "statusPurpose"], "message"),
        (["credentialSubject", "statusPurpose"], ["revocation"]),
        (["credentialSubject", "statusSize"], 2),
        (["credentialSubject", "statusSize"], True),
        (["credentialSubject", "encodedList"], _DELETE),
        (["credentialSubject", "encodedList"], encode_list(bytes(MIN_BITS // 8 - 1))),  # too short
        (["credentialSubject", "encodedList"], "u" + "A" * 10),
    ],
)
def test_malformed_credentials(path: list[str], value: Any) -> None:
    with pytest.raises(StatusListError):
        parse_status_list_credential(_mutate(path, value))


@pytest.mark.parametrize("doc", [None, [], "status", 42])
def test_non_object_credential(doc: Any) -> None:
    with pytest.raises(StatusListError):
        parse_status_list_credential(doc)


def test_parse_does_not_mutate_its_input() -> None:
    doc = _credential()
    before = copy.deepcopy(doc)
    parse_status_list_credential(doc)
    assert doc == before


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"purpose": "message"}, "unsupported"),
        ({"bits": bytes(100)}, "length"),
        ({"valid_until": "2026-11-23T02:00:00Z"}, "shape"),
        ({"valid_from": "yesterday"}, "shape"),
    ],
)
def test_builder_refuses_bad_arguments(kwargs: dict[str, Any], reason: str) -> None:
    args: dict[str, Any] = {
        "list_url": LIST_URL,
        "issuer": ISSUER,
        "purpose": "revocation",
        "bits": EMPTY,
        "valid_from": "2026-11-23T03:00:00Z",
        "valid_until": "2026-11-23T03:05:00Z",
    } | kwargs
    with pytest.raises(StatusListError) as info:
        status_list_credential(**args)
    assert info.value.reason == reason


# --- timestamps ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2026-11-23T00:00:00Z", "2026-11-23T00:00:00Z"),
        ("2026-11-23T08:00:00+08:00", "2026-11-23T00:00:00Z"),
        ("2026-11-23T00:00:00.123456789Z", "2026-11-23T00:00:00Z"),
        ("2026-11-22T19:00:00.5-05:00", "2026-11-23T00:00:00Z"),
    ],
)
def test_parse_timestamp(text: str, utc: str) -> None:
    assert format_timestamp(parse_timestamp(text)) == utc


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-23",
        "2026-11-23T00:00:00",
        "2026-11-23 00:00:00Z",
        "2026-11-23t00:00:00z",
        "2026-13-01T00:00:00Z",
        "2026-11-23T24:00:00Z",
        "２０２６-11-23T00:00:00Z",  # full-width digits
        "2026-11-23T00:00:00Z\n",
        "0001-01-01T00:00:00+01:00",  # out of range once in UTC
        "9999-12-31T23:59:59-01:00",
        "0000-01-01T00:00:00Z",
        None,
        20261123,
    ],
)
def test_parse_timestamp_refuses(text: Any) -> None:
    with pytest.raises(ValueError, match=r"RFC 3339|month|hour|day|year|range"):
        parse_timestamp(text)
