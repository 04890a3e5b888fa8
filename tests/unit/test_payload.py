"""The LC1 QR payload codec (DESIGN §5): round trip, the preset dictionary, and bounded decoding of a
hostile corpus -- each bad input is a ``PayloadError`` with the right ``reason``, quickly."""

from __future__ import annotations

import copy
import hashlib
import json
import time
import zlib
from collections.abc import Callable
from typing import Any

import base45
import base58
import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signing.jcs import canonicalize
from verification.payload import (
    LC1_DICT,
    LC1_DICT_ID,
    MAX_PAYLOAD_CHARS,
    PREFIX,
    PayloadError,
    b45encode,
    decode_payload,
    encode_payload,
    fits_budget,
    json_depth,
)

ISSUER_CODE = "11440300007519213X"
BASE = "https://zwfw.gd.gov.cn"
DID = f"did:web:zwfw.gd.gov.cn:departments:{ISSUER_CODE}"


def example_credential() -> dict[str, Any]:
    """The resident ID card credential of the brief, with a real Ed25519 signature as its proofValue."""
    credential: dict[str, Any] = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": f"{BASE}/licenses/1.2.156.3005.2.11100000000013127D001.{ISSUER_CODE}.00000042.001.7",
        "type": ["VerifiableCredential", "ElectronicLicense"],
        "issuer": {"id": DID, "name": "深圳市公安局"},
        "validFrom": "2026-11-23T00:00:00Z",
        "validUntil": "2036-11-23T00:00:00Z",
        "credentialSubject": {
            "holder": {"idType": "resident_id", "idNumber": "44030419900307281X", "name": "张伟"},
            "licenseType": "resident_id_card",
            "fields": {
                "name": "张伟",
                "sex": "男",
                "ethnicity": "汉",
                "birth_date": "1990-03-07",
                "address": "广东省深圳市福田区福华三路88号财富大厦2栋1201房",
                "citizen_id": "44030419900307281X",
                "issuing_authority": "深圳市公安局福田分局",
            },
        },
        "credentialStatus": [
            {
                "type": "BitstringStatusListEntry",
                "statusPurpose": purpose,
                "statusListIndex": "42",
                "statusListCredential": f"{BASE}/status-lists/{ISSUER_CODE}-{purpose}-1",
            }
            for purpose in ("revocation", "suspension")
        ],
    }
    proof: dict[str, Any] = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-jcs-2022",
        "created": "2026-11-23T03:30:00Z",
        "verificationMethod": f"{DID}#key-1",
        "proofPurpose": "assertionMethod",
    }
    key = nacl.signing.SigningKey(hashlib.sha256(b"test department key 1").digest())
    digest = hashlib.sha256(canonicalize(proof)).digest() + hashlib.sha256(canonicalize(credential)).digest()
    signature = key.sign(digest).signature
    proof["proofValue"] = "z" + base58.b58encode(signature).decode()
    credential["proof"] = proof
    return credential


def lc1(raw: bytes, *, zdict: bytes | None = LC1_DICT) -> str:
    """An LC1 payload around arbitrary bytes (bypassing JCS), compressed with ``zdict``."""
    compressor = zlib.compressobj(level=9, wbits=15, zdict=zdict) if zdict else zlib.compressobj(9)
    encoded: bytes = base45.b45encode(compressor.compress(raw) + compressor.flush())
    return PREFIX + encoded.decode()


def stream_of(payload: str) -> bytes:
    return bytes(base45.b45decode(payload[len(PREFIX) :]))


# --- the dictionary and the happy path -----------------------------------------------------------------


def test_dictionary_is_the_designed_one() -> None:
    assert len(LC1_DICT) == 928
    assert hashlib.sha256(LC1_DICT).hexdigest() == ("5054530901d76fd7f91d126b256641da6be4be3a938448bc2207626347021645")
    assert not LC1_DICT.endswith(b"\n")
    assert zlib.adler32(LC1_DICT) == LC1_DICT_ID


def test_example_round_trips_and_fits_the_budget() -> None:
    credential = example_credential()
    assert len(credential["proof"]["proofValue"]) == 89  # "z" + 88 base58 characters
    payload = encode_payload(credential)
    assert payload.startswith("LC1:")
    assert fits_budget(payload)
    assert len(payload) <= MAX_PAYLOAD_CHARS
    assert decode_payload(payload) == credential
    # Deterministic: the same credential always gives the same QR.
    assert encode_payload(copy.deepcopy(credential)) == payload
    # Scanners append CR/LF; surrounding whitespace is not part of the payload.
    assert decode_payload(f"  {payload}\r\n") == credential


def test_dictionary_pays_for_itself() -> None:
    jcs = canonicalize(example_credential())
    plain = zlib.compress(jcs, 9)
    with_dict = stream_of(encode_payload(example_credential()))
    assert len(with_dict) < len(plain) - 100


def test_header_names_the_dictionary() -> None:
    stream = stream_of(encode_payload(example_credential()))
    cmf, flg = stream[0], stream[1]
    assert cmf == 0x78  # deflate, 32 KiB window
    assert (cmf << 8 | flg) % 31 == 0
    assert flg & 0x20, "FDICT must be set"
    assert int.from_bytes(stream[2:6], "big") == zlib.adler32(LC1_DICT)


def test_decoder_without_the_dictionary_fails_at_once() -> None:
    stream = stream_of(encode_payload(example_credential()))
    with pytest.raises(zlib.error):
        zlib.decompress(stream)
    with pytest.raises(zlib.error):
        zlib.decompressobj().decompress(stream)


def test_budget_boundary() -> None:
    assert fits_budget("LC1:" + "A" * (MAX_PAYLOAD_CHARS - 4))
    assert not fits_budget("LC1:" + "A" * (MAX_PAYLOAD_CHARS - 3))


def test_json_depth_ignores_brackets_in_strings() -> None:
    assert json_depth('{"a":"[[[{{\\"[[","b":[1,{"c":[]}]}') == 4
    assert json_depth('"unterminated [[[[') == 0
    assert json_depth("[" * 10_000) == 10_000


# --- the hostile corpus ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_bomb() -> str:
    """50 MB of zeros deflated against LC1-DICT: a ~73,000-character payload."""
    return lc1(bytes(50 * 1024 * 1024))


def _valid() -> str:
    return encode_payload(example_credential())


HOSTILE: list[tuple[str, Callable[[], str], str]] = [
    ("empty", lambda: "", "empty"),
    ("whitespace", lambda: " \r\n\t  \n", "empty"),
    ("random text", lambda: "这不是证照 hello world 1234", "prefix"),
    ("a URL", lambda: "https://zwfw.gd.gov.cn/licenses/1.2.156", "prefix"),
    ("wrong prefix", lambda: "LC2:" + _valid()[4:], "prefix"),
    ("lower-case prefix", lambda: "lc1:" + _valid()[4:], "prefix"),
    ("prefix only", lambda: "LC1:", "zlib"),
    ("lower-case Base45", lambda: "LC1:" + _valid()[4:].lower(), "base45"),
    ("Base45 length 3n+1", lambda: _valid()[: 4 + 3 * 50 + 1], "base45"),
    ("Base45 triple over 0xFFFF", lambda: "LC1:" + "ZZZ" * 10, "base45"),
    ("truncated stream", lambda: _valid()[: 4 + 3 * 50], "zlib"),
    ("Base45 of non-zlib", lambda: PREFIX + base45.b45encode(b"plain text, not zlib").decode(), "zlib"),
    ("zlib without dictionary", lambda: lc1(canonicalize(example_credential()), zdict=None), "dictionary"),
    ("zlib with another dictionary", lambda: lc1(b'{"a":1}', zdict=b'{"a":"b"}' * 10), "dictionary"),
    (
        "header cut inside DICTID",
        lambda: PREFIX + base45.b45encode(bytes([0x78, 0xBB, 0x78])).decode(),
        "zlib",
    ),
    (
        "trailing garbage after stream",
        lambda: PREFIX + base45.b45encode(stream_of(_valid()) + b"\x00garbage").decode(),
        "zlib",
    ),
    ("1 MB of text", lambda: "LC1:" + "A" * 1_000_000, "too_large"),
    ("small bomb (2 MB of zeros)", lambda: lc1(bytes(2 * 1024 * 1024)), "bomb"),
    ("10,000-deep arrays", lambda: lc1(b"[" * 10_000 + b"]" * 10_000), "depth"),
    ("10,000-deep objects", lambda: lc1(b'{"a":' * 10_000 + b"1" + b"}" * 10_000), "depth"),
    ("unbalanced deep opening", lambda: lc1(b"[" * 30_000), "depth"),
    ("non-JSON", lambda: lc1(b"certainly not JSON"), "json"),
    ("JSON array", lambda: lc1(b'[{"id":"x"}]'), "not_object"),
    ("JSON string", lambda: lc1(b'"LC1:"'), "not_object"),
    ("invalid UTF-8", lambda: lc1(b'{"name":"\xff\xfe"}'), "json"),
    ("duplicate keys", lambda: lc1(b'{"id":"a","proof":{},"id":"b"}'), "json"),
    ("nested duplicate keys", lambda: lc1(b'{"proof":{"proofValue":"z1","proofValue":"z2"}}'), "json"),
    ("NaN", lambda: lc1(b'{"a":NaN}'), "json"),
    ("huge integer", lambda: lc1(b'{"a":' + b"9" * 5000 + b"}"), "json"),
]


def _best_time(call: Callable[[], object], runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize(("make", "reason"), [(m, r) for _, m, r in HOSTILE], ids=[n for n, _, _ in HOSTILE])
def test_hostile_payload_is_rejected_quickly(make: Callable[[], str], reason: str) -> None:
    text = make()
    with pytest.raises(PayloadError) as caught:
        decode_payload(text)
    assert caught.value.reason == reason
    assert " / " in str(caught.value)  # bilingual message

    def attempt() -> None:
        with pytest.raises(PayloadError):
            decode_payload(text)

    assert _best_time(attempt) < 0.050


def test_big_bomb_is_too_large_before_any_work(big_bomb: str) -> None:
    assert len(big_bomb) > 4096
    with pytest.raises(PayloadError) as caught:
        decode_payload(big_bomb)
    assert caught.value.reason == "too_large"


def test_big_bomb_is_a_bomb_when_the_length_limit_is_lifted(big_bomb: str) -> None:
    def attempt() -> None:
        with pytest.raises(PayloadError) as caught:
            decode_payload(big_bomb, max_chars=len(big_bomb))
        assert caught.value.reason == "bomb"

    assert _best_time(attempt) < 0.050


def test_limits_are_parameters() -> None:
    payload = _valid()
    with pytest.raises(PayloadError) as caught:
        decode_payload(payload, max_chars=len(payload) - 1)
    assert caught.value.reason == "too_large"
    size = len(canonicalize(example_credential()))
    with pytest.raises(PayloadError) as caught:
        decode_payload(payload, max_inflated=size - 1)
    assert caught.value.reason == "bomb"
    assert decode_payload(payload, max_inflated=size) == example_credential()
    with pytest.raises(PayloadError) as caught:
        decode_payload(payload, max_depth=2)
    assert caught.value.reason == "depth"
    assert decode_payload(payload, max_depth=3) == example_credential()


def test_payload_error_is_a_value_error() -> None:
    error = PayloadError("bomb")
    assert isinstance(error, ValueError)
    assert error.reason == "bomb"
    assert "解压" in str(error)
    assert "inflates" in str(error)


def test_any_json_object_decodes() -> None:
    # The codec does not judge the credential's shape; the verifier does.
    value = {"a": [1, 2, {"b": "二维码"}], "c": None, "d": True}
    assert decode_payload(lc1(json.dumps(value).encode())) == value


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=700))
def test_fast_base45_encoder_matches_the_base45_package(data: bytes) -> None:
    assert b45encode(data) == base45.b45encode(data).decode("ascii")


def test_fast_base45_encoder_rfc9285_examples() -> None:
    # RFC 9285 §4.3 examples.
    assert b45encode(b"AB") == "BB8"
    assert b45encode(b"Hello!!") == "%69 VD92EX0"
    assert b45encode(b"base-45") == "UJCLQE7W581"
    assert b45encode(b"") == ""
