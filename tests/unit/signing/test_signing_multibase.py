"""Multibase encoding/decoding and Ed25519 Multikey / did:key conversions."""

from __future__ import annotations

import json
import os
from pathlib import Path

import base58
import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signing.errors import KeyFormatError, MultibaseError, SigningError
from signing.multibase import decode_multibase, encode_base58btc, encode_base64url
from signing.multikey import (
    did_key,
    did_key_verification_method,
    multikey_to_public_key,
    multikey_to_secret_seed,
    public_key_from_did_key,
    public_key_to_multikey,
    secret_seed_to_multikey,
)

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
KEY_PAIR = json.loads((VECTORS / "eddsa-jcs-2022" / "keyPair.json").read_text(encoding="utf-8"))


# --- multibase -------------------------------------------------------------------------------------------


def test_multibase_known_values() -> None:
    # Multibase spec test vectors ("yes mani !"), including a leading zero byte.
    assert encode_base58btc(b"yes mani !") == "z7paNL19xttacUY"
    assert encode_base58btc(b"\x00yes mani !") == "z17paNL19xttacUY"
    assert encode_base64url(b"yes mani !") == "ueWVzIG1hbmkgIQ"
    assert decode_multibase("z7paNL19xttacUY") == b"yes mani !"
    assert decode_multibase("z17paNL19xttacUY") == b"\x00yes mani !"
    assert decode_multibase("ueWVzIG1hbmkgIQ") == b"yes mani !"


@pytest.mark.parametrize(
    "data",
    [b"\x00", b"\x00\x00\x01", b"a", b"ab", b"abc", b"abcd", bytes(range(256)), b"\xff" * 64, os.urandom(34)],
)
def test_multibase_round_trip(data: bytes) -> None:
    assert decode_multibase(encode_base58btc(data)) == data
    assert decode_multibase(encode_base64url(data)) == data
    assert "=" not in encode_base64url(data)
    assert encode_base58btc(data).startswith("z")
    assert encode_base64url(data).startswith("u")


@pytest.mark.parametrize(
    "text",
    [
        "",  # empty
        "z",  # empty payload
        "u",
        "f00ff",  # base16: not accepted here
        "m eWVz",  # base64 (padded alphabet) prefix
        "Z7paNL19xttacUY",  # wrong case prefix
        "z7paNL19xttac0Y",  # '0' not in base58btc
        "z7paNL19xttacOY",  # 'O'
        "z7paNL19xttacIY",  # 'I'
        "z7paNL19xttaclY",  # 'l'
        "z7paNL19 xttacUY",  # inner space
        "z7paNL19xttacUY\n",  # trailing newline (base58 library would strip it)
        " z7paNL19xttacUY",
        "ueWVzIG1hbmkgIQ==",  # padding
        "ueWVzIG1hbmkgIQ=",
        "ueWVz+G1hbmkgIQ",  # '+' belongs to the standard alphabet
        "ueWVz/G1hbmkgIQ",
        "ua",  # impossible length
        "uaGl",  # non-canonical trailing bits ("aGk" is the canonical spelling of b"hi")
        "ueWVzIG1hbmkgIQ\n",
        "z\u0661",  # non-ASCII digit
    ],
)
def test_multibase_rejects(text: str) -> None:
    with pytest.raises(MultibaseError):
        decode_multibase(text)


def test_multibase_rejects_non_string() -> None:
    with pytest.raises(MultibaseError):
        decode_multibase(b"z7paNL19xttacUY")  # type: ignore[arg-type]


def test_multibase_error_is_value_error_and_signing_error() -> None:
    with pytest.raises(ValueError, match="prefix"):
        decode_multibase("x123")
    assert issubclass(MultibaseError, SigningError)


# --- Multikey ---------------------------------------------------------------------------------------------


def test_key_pair_vector_matches() -> None:
    seed = multikey_to_secret_seed(KEY_PAIR["privateKeyMultibase"])
    public_key = bytes(nacl.signing.SigningKey(seed).verify_key)
    assert public_key_to_multikey(public_key) == KEY_PAIR["publicKeyMultibase"]
    assert multikey_to_public_key(KEY_PAIR["publicKeyMultibase"]) == public_key
    assert secret_seed_to_multikey(seed) == KEY_PAIR["privateKeyMultibase"]


def test_multikey_round_trip_and_prefixes() -> None:
    for _ in range(20):
        seed = os.urandom(32)
        public_key = bytes(nacl.signing.SigningKey(seed).verify_key)
        mk = public_key_to_multikey(public_key)
        sk = secret_seed_to_multikey(seed)
        assert mk.startswith("z6Mk")
        assert sk.startswith("z3u2")
        assert multikey_to_public_key(mk) == public_key
        assert multikey_to_secret_seed(sk) == seed


def test_did_key_forms() -> None:
    public_key = multikey_to_public_key(KEY_PAIR["publicKeyMultibase"])
    mk = KEY_PAIR["publicKeyMultibase"]
    assert did_key(public_key) == f"did:key:{mk}"
    assert did_key_verification_method(public_key) == f"did:key:{mk}#{mk}"
    assert public_key_from_did_key(f"did:key:{mk}") == public_key
    assert public_key_from_did_key(f"did:key:{mk}#{mk}") == public_key


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_multikey_encoders_check_length(size: int) -> None:
    with pytest.raises(KeyFormatError):
        public_key_to_multikey(b"\x01" * size)
    with pytest.raises(KeyFormatError):
        secret_seed_to_multikey(b"\x01" * size)
    with pytest.raises(KeyFormatError):
        did_key(b"\x01" * size)


def _bad_multikeys() -> list[str]:
    pk = multikey_to_public_key(KEY_PAIR["publicKeyMultibase"])
    return [
        "",
        "z",
        encode_base58btc(b"\xed\x01" + pk[:31]),  # too short
        encode_base58btc(b"\xed\x01" + pk + b"\x00"),  # too long
        encode_base58btc(b"\xec\x01" + pk),  # x25519 header
        encode_base58btc(b"\xed" + pk),  # truncated header
        encode_base64url(b"\xed\x01" + pk),  # right bytes, wrong base
        KEY_PAIR["privateKeyMultibase"],  # a secret key where a public key belongs
        KEY_PAIR["publicKeyMultibase"][:-1] + "0",  # bad character
        KEY_PAIR["publicKeyMultibase"] + " ",
    ]


@pytest.mark.parametrize("mk", _bad_multikeys())
def test_public_multikey_rejects(mk: str) -> None:
    with pytest.raises(KeyFormatError):
        multikey_to_public_key(mk)


def test_secret_multikey_rejects_public_key() -> None:
    with pytest.raises(KeyFormatError, match="header"):
        multikey_to_secret_seed(KEY_PAIR["publicKeyMultibase"])
    seed = multikey_to_secret_seed(KEY_PAIR["privateKeyMultibase"])
    with pytest.raises(KeyFormatError):
        multikey_to_secret_seed(encode_base58btc(b"\x80\x26" + seed[:16]))


@pytest.mark.parametrize(
    "value",
    [
        "did:web:example.com",
        "did:key:",
        "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",
        "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2#key-1",
        "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2#",
        "did:key:z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq",
    ],
)
def test_did_key_rejects(value: str) -> None:
    with pytest.raises(KeyFormatError):
        public_key_from_did_key(value)


def test_key_format_error_is_value_error() -> None:
    assert issubclass(KeyFormatError, ValueError)
    assert issubclass(KeyFormatError, SigningError)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=80))
def test_base58btc_encoder_matches_the_base58_package(data: bytes) -> None:
    assert encode_base58btc(data) == "z" + base58.b58encode(data).decode("ascii")
