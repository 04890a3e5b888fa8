"""RFC 8032 §7.1 Ed25519 test vectors through ``Ed25519Signer`` and ``verify_ed25519``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nacl.signing
import pytest

from signing.errors import ProofError
from signing.keys import Ed25519Signer, verify_ed25519

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
CASES: list[dict[str, Any]] = json.loads((VECTORS / "rfc8032_ed25519.json").read_text(encoding="utf-8"))["cases"]


def _flip(data: bytes, index: int, bit: int = 0) -> bytes:
    changed = bytearray(data)
    changed[index] ^= 1 << bit
    return bytes(changed)


def test_all_cases_present() -> None:
    assert [c["name"] for c in CASES] == ["TEST 1", "TEST 2", "TEST 3", "TEST 1024", "TEST SHA(abc)"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_rfc8032_vector(case: dict[str, Any]) -> None:
    seed = bytes.fromhex(case["secretKeyHex"])
    public_key = bytes.fromhex(case["publicKeyHex"])
    message = bytes.fromhex(case["messageHex"])
    signature = bytes.fromhex(case["signatureHex"])

    assert bytes(nacl.signing.SigningKey(seed).verify_key) == public_key
    signer = Ed25519Signer(seed, "did:example:rfc8032#key-1")
    assert signer.public_key == public_key
    assert signer.sign(message) == signature
    verify_ed25519(public_key, message, signature)

    for index in (0, 31, 32, 63):  # R and S halves
        with pytest.raises(ProofError):
            verify_ed25519(public_key, message, _flip(signature, index))
    with pytest.raises(ProofError):
        verify_ed25519(public_key, message + b"\x00", signature)
    if message:
        with pytest.raises(ProofError):
            verify_ed25519(public_key, _flip(message, len(message) - 1, 7), signature)
    with pytest.raises(ProofError):
        verify_ed25519(_flip(public_key, 0), message, signature)


def test_verify_rejects_wrong_lengths() -> None:
    case = CASES[1]
    public_key = bytes.fromhex(case["publicKeyHex"])
    message = bytes.fromhex(case["messageHex"])
    signature = bytes.fromhex(case["signatureHex"])
    with pytest.raises(ProofError, match="signature must be 64 bytes"):
        verify_ed25519(public_key, message, signature[:63])
    with pytest.raises(ProofError, match="signature must be 64 bytes"):
        verify_ed25519(public_key, message, signature + b"\x00")
    with pytest.raises(ProofError, match="public key must be 32 bytes"):
        verify_ed25519(public_key[:31], message, signature)
    with pytest.raises(ProofError):
        verify_ed25519(b"\x00" * 32, message, signature)
