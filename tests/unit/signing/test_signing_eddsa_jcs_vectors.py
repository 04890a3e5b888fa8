"""The published vc-di-eddsa ``eddsa-jcs-2022`` test vectors, reproduced byte for byte.

The .txt vector files end without a trailing newline, so they are compared exactly (no strip()).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from signing.data_integrity import (
    add_proof,
    build_proof_config,
    canonical_proof_config,
    hash_data,
    transform_document,
    verify_proof,
)
from signing.errors import ProofError
from signing.keys import Ed25519Signer
from signing.multibase import encode_base58btc
from signing.multikey import (
    did_key_verification_method,
    multikey_to_public_key,
    multikey_to_secret_seed,
    public_key_from_did_key,
)

VECTOR_DIR = Path(__file__).resolve().parents[2] / "vectors" / "eddsa-jcs-2022"
CREATED = "2023-02-24T23:36:38Z"


def _json(name: str) -> Any:
    return json.loads((VECTOR_DIR / name).read_text(encoding="utf-8"))


def _bytes(name: str) -> bytes:
    return (VECTOR_DIR / name).read_bytes()


KEY_PAIR = _json("keyPair.json")
UNSIGNED = _json("unsigned.json")
SIGNED = _json("signedJCS.json")
SEED = multikey_to_secret_seed(KEY_PAIR["privateKeyMultibase"])
PUBLIC_KEY = multikey_to_public_key(KEY_PAIR["publicKeyMultibase"])
VERIFICATION_METHOD = did_key_verification_method(PUBLIC_KEY)


def _signer() -> Ed25519Signer:
    return Ed25519Signer(SEED, VERIFICATION_METHOD)


def test_text_vectors_have_no_trailing_newline() -> None:
    for name in [
        "canonDocJCS.txt",
        "proofCanonJCS.txt",
        "docHashJCS.txt",
        "proofHashJCS.txt",
        "combinedHashJCS.txt",
        "sigHexJCS.txt",
        "sigBTC58JCS.txt",
    ]:
        assert not _bytes(name).endswith((b"\n", b"\r", b" ")), name


def test_verification_method_matches_vector() -> None:
    assert _signer().public_key == PUBLIC_KEY
    assert SIGNED["proof"]["verificationMethod"] == VERIFICATION_METHOD


def test_canonical_document() -> None:
    assert transform_document(UNSIGNED) == _bytes("canonDocJCS.txt")


def test_proof_configuration() -> None:
    config = build_proof_config(UNSIGNED, verification_method=VERIFICATION_METHOD, created=CREATED)
    assert config == _json("proofConfigJCS.json")
    assert canonical_proof_config(config) == _bytes("proofCanonJCS.txt")


def test_hashes() -> None:
    config = build_proof_config(UNSIGNED, verification_method=VERIFICATION_METHOD, created=CREATED)
    combined = hash_data(config, UNSIGNED)
    assert hashlib.sha256(_bytes("proofCanonJCS.txt")).hexdigest() == _bytes("proofHashJCS.txt").decode()
    assert hashlib.sha256(_bytes("canonDocJCS.txt")).hexdigest() == _bytes("docHashJCS.txt").decode()
    assert combined[:32].hex() == _bytes("proofHashJCS.txt").decode("ascii")
    assert combined[32:].hex() == _bytes("docHashJCS.txt").decode("ascii")
    assert combined.hex() == _bytes("combinedHashJCS.txt").decode("ascii")


def test_signature() -> None:
    config = build_proof_config(UNSIGNED, verification_method=VERIFICATION_METHOD, created=CREATED)
    signature = _signer().sign(hash_data(config, UNSIGNED))
    assert signature.hex() == _bytes("sigHexJCS.txt").decode("ascii")
    assert encode_base58btc(signature) == _bytes("sigBTC58JCS.txt").decode("ascii")


def test_add_proof_reproduces_signed_document() -> None:
    unsigned = copy.deepcopy(UNSIGNED)
    secured = add_proof(unsigned, _signer(), created=CREATED)
    assert secured == SIGNED
    assert secured["proof"]["proofValue"] == _bytes("sigBTC58JCS.txt").decode("ascii")
    assert unsigned == UNSIGNED  # input left untouched


def test_verify_signed_vector_with_key_from_did_key() -> None:
    public_key = public_key_from_did_key(SIGNED["proof"]["verificationMethod"])
    assert public_key == PUBLIC_KEY
    verify_proof(SIGNED, public_key)


def _set(path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _flip_proof_value(doc: dict[str, Any]) -> None:
    value = doc["proof"]["proofValue"]
    doc["proof"]["proofValue"] = value[:10] + ("2" if value[10] != "2" else "3") + value[11:]


def _drop(*path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


TAMPERS: dict[str, Callable[[dict[str, Any]], None]] = {
    "subject value": _set(("credentialSubject", "alumniOf"), "The School of Forgery"),
    "subject id": _set(("credentialSubject", "id"), "did:example:mallory"),
    "added claim": _set(("credentialSubject", "degree"), "PhD"),
    "removed claim": _drop("credentialSubject", "alumniOf"),
    "validFrom": _set(("validFrom",), "2023-01-01T00:00:01Z"),
    "document context": _set(("@context",), ["https://www.w3.org/ns/credentials/v2"]),
    "proof created": _set(("proof", "created"), "2023-02-24T23:36:39Z"),
    "proof verificationMethod": _set(("proof", "verificationMethod"), "did:example:other#key-1"),
    "proof context": _set(("proof", "@context"), ["https://www.w3.org/ns/credentials/v2"]),
    "proof context removed": _drop("proof", "@context"),
    "proof extra field": _set(("proof", "nonce"), "abc"),
    "flipped proofValue char": _flip_proof_value,
    "removed proof": _drop("proof"),
    "wrong cryptosuite": _set(("proof", "cryptosuite"), "eddsa-rdfc-2022"),
    "wrong type": _set(("proof", "type"), "Ed25519Signature2020"),
    "wrong purpose": _set(("proof", "proofPurpose"), "authentication"),
}


@pytest.mark.parametrize("name", list(TAMPERS))
def test_tampered_vector_fails(name: str) -> None:
    tampered = copy.deepcopy(SIGNED)
    TAMPERS[name](tampered)
    with pytest.raises(ProofError):
        verify_proof(tampered, PUBLIC_KEY)


def test_wrong_key_fails() -> None:
    other = Ed25519Signer.generate("did:example:other#key-1")
    with pytest.raises(ProofError, match="does not verify"):
        verify_proof(SIGNED, other.public_key)
