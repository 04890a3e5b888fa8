"""Behaviour of ``add_proof`` / ``verify_proof`` beyond the published vectors, plus randomised checks."""

from __future__ import annotations

import copy
import random
from collections.abc import Mapping
from typing import Any

import pytest

from signing.data_integrity import (
    CRYPTOSUITE,
    PROOF_TYPE,
    add_proof,
    build_proof_config,
    hash_data,
    verify_proof,
)
from signing.errors import ProofError, SigningError
from signing.jcs import canonicalize
from signing.keys import Ed25519Signer
from signing.multibase import encode_base58btc, encode_base64url
from signing.multikey import did_key_verification_method

CREATED = "2025-03-01T08:00:00Z"
CONTEXT = ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"]


def _signer(seed: int = 1) -> Ed25519Signer:
    raw = random.Random(seed).randbytes(32)
    signer = Ed25519Signer(raw, "placeholder")
    return Ed25519Signer(raw, did_key_verification_method(signer.public_key))


def _credential() -> dict[str, Any]:
    return {
        "@context": list(CONTEXT),
        "type": ["VerifiableCredential", "LicenceCredential"],
        "issuer": "did:example:registry",
        "validFrom": "2025-03-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:holder", "licence": {"number": "A-001", "class": 3}},
    }


# --- add_proof -------------------------------------------------------------------------------------------


def test_add_proof_shape() -> None:
    signer = _signer()
    secured = add_proof(_credential(), signer, created=CREATED)
    proof = secured["proof"]
    assert proof["type"] == PROOF_TYPE
    assert proof["cryptosuite"] == CRYPTOSUITE
    assert proof["created"] == CREATED
    assert proof["verificationMethod"] == signer.verification_method
    assert proof["proofPurpose"] == "assertionMethod"
    assert proof["proofValue"].startswith("z")
    # Spec §3.3.1 step 2 and signedJCS.json: the proof carries the document's @context.
    assert proof["@context"] == CONTEXT
    assert {k: v for k, v in secured.items() if k != "proof"} == _credential()
    verify_proof(secured, signer.public_key)


def test_add_proof_custom_purpose() -> None:
    signer = _signer()
    secured = add_proof(_credential(), signer, created=CREATED, proof_purpose="authentication")
    verify_proof(secured, signer.public_key, expected_purpose="authentication")
    with pytest.raises(ProofError, match="purpose"):
        verify_proof(secured, signer.public_key)


def test_add_proof_is_deterministic_and_does_not_alias_input() -> None:
    signer = _signer()
    document = _credential()
    first = add_proof(document, signer, created=CREATED)
    second = add_proof(document, signer, created=CREATED)
    assert first == second
    first["credentialSubject"]["licence"]["number"] = "changed"
    first["@context"].append("https://example.com/extra")
    first["proof"]["@context"].append("https://example.com/extra")
    assert document == _credential()
    assert second["proof"]["@context"] == CONTEXT


def test_add_proof_accepts_read_only_mappings_and_tuples() -> None:
    from types import MappingProxyType

    signer = _signer()
    document = MappingProxyType({"@context": tuple(CONTEXT), "name": MappingProxyType({"a": 1})})
    secured = add_proof(document, signer, created=CREATED)
    assert secured["@context"] == CONTEXT
    verify_proof(secured, signer.public_key)


def test_document_without_context() -> None:
    signer = _signer()
    secured = add_proof({"hello": "world"}, signer, created=CREATED)
    assert "@context" not in secured["proof"]
    verify_proof(secured, signer.public_key)


def test_add_proof_refuses_existing_proof() -> None:
    signer = _signer()
    secured = add_proof(_credential(), signer, created=CREATED)
    with pytest.raises(SigningError, match="already has a proof"):
        add_proof(secured, signer, created=CREATED)


@pytest.mark.parametrize(
    "created",
    ["", "2025-03-01", "2025-03-01T08:00:00", "2025-13-01T08:00:00Z", "yesterday", "2025-03-01 08:00:00Z"],
)
def test_add_proof_refuses_bad_created(created: str) -> None:
    with pytest.raises(SigningError, match="dateTimeStamp"):
        add_proof(_credential(), _signer(), created=created)


@pytest.mark.parametrize(
    "created", ["2025-03-01T08:00:00.123Z", "2025-03-01T08:00:00+08:00", "2025-03-01T08:00:00-05:30"]
)
def test_add_proof_accepts_time_zones_and_fractions(created: str) -> None:
    signer = _signer()
    verify_proof(add_proof(_credential(), signer, created=created), signer.public_key)


def test_add_proof_refuses_non_json() -> None:
    with pytest.raises(SigningError, match="canonicalizable"):
        add_proof({"value": float("nan")}, _signer(), created=CREATED)
    with pytest.raises(SigningError, match="canonicalizable"):
        add_proof({"value": object()}, _signer(), created=CREATED)
    with pytest.raises(SigningError, match="canonicalizable"):
        add_proof({"value": 2**60}, _signer(), created=CREATED)


class _BrokenSigner:
    """A signer whose signatures do not match its public key (e.g. a misconfigured KMS)."""

    verification_method = "did:example:broken#key-1"

    def __init__(self) -> None:
        self._inner = _signer(1)
        self.public_key = _signer(2).public_key

    def sign(self, message: bytes) -> bytes:
        return self._inner.sign(message)


def test_add_proof_checks_signer_output() -> None:
    with pytest.raises(SigningError, match="does not verify"):
        add_proof(_credential(), _BrokenSigner(), created=CREATED)


# --- verify_proof ----------------------------------------------------------------------------------------


def _secured() -> tuple[dict[str, Any], bytes]:
    signer = _signer()
    return add_proof(_credential(), signer, created=CREATED), signer.public_key


@pytest.mark.parametrize(
    ("proof", "reason"),
    [
        ([], "proof sets"),
        ("z123", "JSON object"),
        (None, "JSON object"),
    ],
)
def test_verify_rejects_ill_typed_proof(proof: Any, reason: str) -> None:
    secured, public_key = _secured()
    secured["proof"] = proof
    with pytest.raises(ProofError, match=reason):
        verify_proof(secured, public_key)


def test_verify_rejects_missing_proof_and_non_object() -> None:
    secured, public_key = _secured()
    del secured["proof"]
    with pytest.raises(ProofError, match="no proof"):
        verify_proof(secured, public_key)
    with pytest.raises(ProofError, match="JSON object"):
        verify_proof([], public_key)  # type: ignore[arg-type]


def _sig_of(secured: Mapping[str, Any]) -> bytes:
    from signing.multibase import decode_multibase

    return decode_multibase(secured["proof"]["proofValue"])


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("type", None, "proof type"),
        ("cryptosuite", "eddsa-2022", "cryptosuite"),
        ("cryptosuite", None, "cryptosuite"),
        ("proofPurpose", "capabilityInvocation", "purpose"),
        ("verificationMethod", "", "verificationMethod"),
        ("verificationMethod", 7, "verificationMethod"),
        ("proofValue", None, "base58btc"),
        ("proofValue", 12, "base58btc"),
        ("proofValue", "", "base58btc"),
        ("proofValue", "z", "multibase"),
        ("proofValue", "z0OIl", "multibase"),
        ("proofValue", "z" + "1" * 10, "64 bytes"),
        ("created", "not a date", "dateTimeStamp"),
        ("created", 1700000000, "dateTimeStamp"),
    ],
)
def test_verify_reports_reason(field: str, value: Any, reason: str) -> None:
    secured, public_key = _secured()
    if value is None:
        del secured["proof"][field]
    else:
        secured["proof"][field] = value
    with pytest.raises(ProofError, match=reason):
        verify_proof(secured, public_key)


def test_verify_rejects_base64url_proof_value() -> None:
    secured, public_key = _secured()
    secured["proof"]["proofValue"] = encode_base64url(_sig_of(secured))
    with pytest.raises(ProofError, match="base58btc"):
        verify_proof(secured, public_key)


def test_verify_rejects_signature_of_wrong_length() -> None:
    secured, public_key = _secured()
    sig = _sig_of(secured)
    for bad in (sig[:63], sig + b"\x00"):
        secured["proof"]["proofValue"] = encode_base58btc(bad)
        with pytest.raises(ProofError, match="64 bytes"):
            verify_proof(secured, public_key)


def test_verify_rejects_bad_public_key() -> None:
    secured, public_key = _secured()
    with pytest.raises(ProofError, match="32 bytes"):
        verify_proof(secured, public_key[:31])


# --- @context rule of §3.3.2 step 4 ----------------------------------------------------------------------


def test_context_appended_after_signing_still_verifies() -> None:
    # The spec lets later contexts follow the proof's own; they are cut off for hashing.
    secured, public_key = _secured()
    secured["@context"] = [*CONTEXT, "https://example.com/extra/v1"]
    verify_proof(secured, public_key)


def test_document_context_must_start_with_proof_context() -> None:
    secured, public_key = _secured()
    secured["@context"] = list(reversed(CONTEXT))
    with pytest.raises(ProofError, match="does not start with"):
        verify_proof(secured, public_key)
    secured["@context"] = CONTEXT[:1]
    with pytest.raises(ProofError, match="does not start with"):
        verify_proof(secured, public_key)
    del secured["@context"]
    with pytest.raises(ProofError, match="document has none"):
        verify_proof(secured, public_key)


def test_string_context() -> None:
    signer = _signer()
    secured = add_proof({"@context": CONTEXT[0], "name": "x"}, signer, created=CREATED)
    assert secured["proof"]["@context"] == CONTEXT[0]
    verify_proof(secured, signer.public_key)
    secured["@context"] = [CONTEXT[0], CONTEXT[1]]  # starts with the proof's context: accepted
    verify_proof(secured, signer.public_key)


def test_proof_without_context_verifies_per_spec() -> None:
    # Another issuer's proof with no @context: the spec hashes its options exactly as given.
    signer = _signer()
    document = _credential()
    config = build_proof_config(document, verification_method=signer.verification_method, created=CREATED)
    del config["@context"]
    signature = signer.sign(hash_data(config, document))
    secured = {**document, "proof": {**config, "proofValue": encode_base58btc(signature)}}
    verify_proof(secured, signer.public_key)


# --- randomised round trips ------------------------------------------------------------------------------


def _random_value(rng: random.Random, depth: int) -> Any:
    kinds = ["str", "int", "float", "bool", "null"] + (["list", "dict"] if depth < 3 else [])
    kind = rng.choice(kinds)
    if kind == "str":
        return "".join(rng.choice('abcé€😀"\\\n xyz0') for _ in range(rng.randint(0, 8)))
    if kind == "int":
        return rng.randint(-(2**53), 2**53)
    if kind == "float":
        return rng.uniform(-1e6, 1e6)
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "list":
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return _random_object(rng, depth + 1)


def _random_object(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    return {f"k{rng.randint(0, 50)}-{i}": _random_value(rng, depth) for i in range(rng.randint(1, 5))}


def _containers(value: Any) -> list[dict[str, Any] | list[Any]]:
    found: list[dict[str, Any] | list[Any]] = []
    if isinstance(value, dict):
        found.append(value)
        for item in value.values():
            found.extend(_containers(item))
    elif isinstance(value, list):
        found.append(value)
        for item in value:
            found.extend(_containers(item))
    return found


def _mutate(rng: random.Random, document: dict[str, Any]) -> None:
    # The document itself plus every nested container, never the proof.
    containers: list[dict[str, Any] | list[Any]] = [document]
    for key, value in document.items():
        if key != "proof":
            containers.extend(_containers(value))
    container = rng.choice(containers)
    if isinstance(container, dict):
        keys = [key for key in container if key != "proof"]
        if keys and rng.random() < 0.5:
            key = rng.choice(keys)
            if rng.random() < 0.5:
                del container[key]
            else:
                container[key] = ["changed", container[key]]
        else:
            container[f"new-{rng.random()}"] = "added"
    elif container and rng.random() < 0.5:
        container.pop(rng.randrange(len(container)))
    else:
        container.insert(rng.randint(0, len(container)), "inserted")


@pytest.mark.parametrize("seed", range(40))
def test_random_documents_round_trip_and_detect_changes(seed: int) -> None:
    rng = random.Random(seed)
    signer = Ed25519Signer(rng.randbytes(32), f"did:example:issuer#key-{seed}")
    document = _random_object(rng)
    if rng.random() < 0.5:
        document["@context"] = list(CONTEXT)
    secured = add_proof(document, signer, created=CREATED)
    verify_proof(secured, signer.public_key)
    verify_proof(copy.deepcopy(secured), signer.public_key)

    tampered = copy.deepcopy(secured)
    _mutate(rng, tampered)
    unsecured = {k: v for k, v in tampered.items() if k != "proof"}
    assert canonicalize(unsecured) != canonicalize(document)
    with pytest.raises(ProofError):
        verify_proof(tampered, signer.public_key)
    with pytest.raises(ProofError):
        verify_proof(secured, Ed25519Signer(rng.randbytes(32), "x").public_key)


def test_the_in_process_signer_checks_itself_by_signing_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ed25519Signer is trusted to check itself (add_proof does not verify its signatures): it signs twice
    and refuses when the two differ, as a transient fault would make them."""
    signer = _signer(3)
    assert getattr(signer, "self_checking", False) is True
    secured = add_proof(_credential(), signer, created=CREATED)
    verify_proof(secured, signer.public_key)

    calls = iter([b"\x01" * 64, b"\x02" * 64])

    class Glitching:
        def sign(self, message: bytes) -> Any:
            return type("Signed", (), {"signature": next(calls)})()

    monkeypatch.setattr(signer, "_signing_key", Glitching())
    with pytest.raises(SigningError, match="not repeatable"):
        add_proof(_credential(), signer, created=CREATED)
