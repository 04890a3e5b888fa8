"""W3C Data Integrity proofs with the ``eddsa-jcs-2022`` cryptosuite (https://www.w3.org/TR/vc-di-eddsa/).

Signing follows §3.3.1 "Create Proof (eddsa-jcs-2022)": the proof options get the document's
``@context`` (step 2), and the signed bytes are::

    hashData = SHA-256(JCS(proof options without proofValue)) || SHA-256(JCS(document without proof))

The returned proof keeps that ``@context``, exactly as the published test vector ``signedJCS.json``
does, because spec-conforming verifiers rebuild the proof configuration from the proof alone (§3.3.2).
Only a single proof object is supported (no proof sets or chains).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from signing.errors import MultibaseError, ProofError, SigningError
from signing.jcs import canonicalize
from signing.keys import SIGNATURE_LENGTH, Signer, verify_ed25519
from signing.multibase import BASE58BTC_PREFIX, decode_multibase, encode_base58btc

__all__ = [
    "CRYPTOSUITE",
    "PROOF_TYPE",
    "add_proof",
    "build_proof_config",
    "canonical_proof_config",
    "hash_data",
    "transform_document",
    "verify_proof",
]

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-jcs-2022"

# XML Schema dateTimeStamp (a dateTime with a mandatory time zone), as Data Integrity requires for `created`.
_DATETIME_STAMP = re.compile(
    r"-?(?:[1-9][0-9]{3,}|0[0-9]{3})-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?|24:00:00(?:\.0+)?)"
    r"(?:Z|[+-](?:(?:0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
)


def _plain(value: Any) -> Any:
    # A private, order-preserving copy of the JSON value: callers' objects are never shared or mutated.
    kind = type(value)
    if kind is str or kind is int or value is None or kind is bool:  # the common cases, without ABC checks
        return value
    if kind is dict:
        return {key: _plain(item) for key, item in value.items()}
    if kind is list:
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _jcs(value: object, what: str) -> bytes:
    try:
        return canonicalize(value)
    except (ValueError, TypeError) as exc:  # rfc8785 errors are ValueErrors; unknown types are TypeErrors
        raise SigningError(f"{what} is not canonicalizable JSON: {exc}") from exc


def build_proof_config(
    document: Mapping[str, Any],
    *,
    verification_method: str,
    created: str,
    proof_purpose: str = "assertionMethod",
) -> dict[str, Any]:
    """Return the proof options (no ``proofValue``) that :func:`add_proof` signs, ``@context`` included."""
    config: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": created,
        "verificationMethod": verification_method,
        "proofPurpose": proof_purpose,
    }
    if "@context" in document:
        config["@context"] = _plain(document["@context"])
    return config


def canonical_proof_config(proof_config: Mapping[str, Any]) -> bytes:
    """§3.3.5 Proof Configuration: check type, cryptosuite and ``created``, return JCS of the options."""
    if proof_config.get("type") != PROOF_TYPE or proof_config.get("cryptosuite") != CRYPTOSUITE:
        raise SigningError(f"proof configuration must have type {PROOF_TYPE} and cryptosuite {CRYPTOSUITE}")
    if "proofValue" in proof_config:
        raise SigningError("proof configuration must not contain proofValue")
    if "created" in proof_config:
        created = proof_config["created"]
        if not isinstance(created, str) or _DATETIME_STAMP.fullmatch(created) is None:
            raise SigningError(f"proof created {created!r} is not an XML Schema dateTimeStamp")
    return _jcs(proof_config, "proof configuration")


def transform_document(unsecured_document: Mapping[str, Any]) -> bytes:
    """§3.3.3 Transformation: the JCS bytes of the document without its proof."""
    return _jcs(unsecured_document, "document")


def hash_data(proof_config: Mapping[str, Any], unsecured_document: Mapping[str, Any]) -> bytes:
    """§3.3.4 Hashing: SHA-256(JCS(proof config)) || SHA-256(JCS(document)), 64 bytes."""
    proof_hash = hashlib.sha256(canonical_proof_config(proof_config)).digest()
    document_hash = hashlib.sha256(transform_document(unsecured_document)).digest()
    return proof_hash + document_hash


def add_proof(
    document: Mapping[str, Any],
    signer: Signer,
    *,
    created: str,
    proof_purpose: str = "assertionMethod",
) -> dict[str, Any]:
    """Return a copy of ``document`` secured with an ``eddsa-jcs-2022`` proof made by ``signer``.

    ``created`` must be an XML Schema dateTimeStamp such as ``"2023-02-24T23:36:38Z"``. A document that
    already has a ``proof`` is refused (proof sets are not supported).
    """
    if not isinstance(document, Mapping):
        raise SigningError("document must be a JSON object")
    if "proof" in document:
        raise SigningError("document already has a proof; proof sets and chains are not supported")
    if not isinstance(proof_purpose, str) or not proof_purpose:
        raise SigningError("proof_purpose must be a non-empty string")
    verification_method = signer.verification_method
    if not isinstance(verification_method, str) or not verification_method:
        raise SigningError("signer.verification_method must be a non-empty string")

    secured: dict[str, Any] = _plain(document)
    proof = build_proof_config(
        secured, verification_method=verification_method, created=created, proof_purpose=proof_purpose
    )
    data = hash_data(proof, secured)
    signature = signer.sign(data)
    # Check before issuing: a faulty signer (KMS glitch, wrong key) must not yield an unverifiable credential.
    # A signer that checks itself (the in-process Ed25519Signer) says so and is trusted to.
    if not getattr(signer, "self_checking", False):
        try:
            verify_ed25519(signer.public_key, data, signature)
        except ProofError as exc:
            raise SigningError(f"signer's signature does not verify under its public key: {exc}") from exc
    proof["proofValue"] = encode_base58btc(signature)
    secured["proof"] = proof
    return secured


def _context_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def verify_proof(
    secured: Mapping[str, Any],
    public_key: bytes,
    *,
    expected_purpose: str = "assertionMethod",
) -> None:
    """§3.3.2 Verify Proof: return ``None`` if the proof verifies under ``public_key``, else raise ProofError.

    The caller resolves ``proof.verificationMethod`` to ``public_key`` and decides whether that key may
    issue this document. Per the spec, a proof ``@context`` must be a prefix of the document's
    ``@context`` and replaces it for hashing, so contexts appended after signing are tolerated.
    """
    if not isinstance(secured, Mapping):
        raise ProofError("secured document must be a JSON object")
    if "proof" not in secured:
        raise ProofError("document has no proof")
    proof = secured["proof"]
    if isinstance(proof, list):
        raise ProofError("proof sets are not supported: expected a single proof object")
    if not isinstance(proof, Mapping):
        raise ProofError("proof must be a JSON object")
    if proof.get("type") != PROOF_TYPE:
        raise ProofError(f"unsupported proof type {proof.get('type')!r}; expected {PROOF_TYPE!r}")
    if proof.get("cryptosuite") != CRYPTOSUITE:
        raise ProofError(f"unsupported cryptosuite {proof.get('cryptosuite')!r}; expected {CRYPTOSUITE!r}")
    if proof.get("proofPurpose") != expected_purpose:
        raise ProofError(f"proof purpose {proof.get('proofPurpose')!r} is not {expected_purpose!r}")
    verification_method = proof.get("verificationMethod")
    if not isinstance(verification_method, str) or not verification_method:
        raise ProofError("proof verificationMethod must be a non-empty string")

    proof_value = proof.get("proofValue")
    if not isinstance(proof_value, str) or not proof_value.startswith(BASE58BTC_PREFIX):
        raise ProofError("proofValue must be a base58btc ('z') multibase string")
    try:
        signature = decode_multibase(proof_value)
    except MultibaseError as exc:
        raise ProofError(f"proofValue is not valid multibase: {exc}") from exc
    if len(signature) != SIGNATURE_LENGTH:
        raise ProofError(f"proofValue must decode to {SIGNATURE_LENGTH} bytes, got {len(signature)}")

    proof_options = {key: value for key, value in proof.items() if key != "proofValue"}
    unsecured = {key: value for key, value in secured.items() if key != "proof"}
    if "@context" in proof_options:
        if "@context" not in unsecured:
            raise ProofError("proof has an @context but the document has none")
        proof_context = _context_list(proof_options["@context"])
        document_context = _context_list(unsecured["@context"])
        if document_context[: len(proof_context)] != proof_context:
            raise ProofError("document @context does not start with the proof's @context")
        unsecured["@context"] = proof_options["@context"]

    try:
        data = hash_data(proof_options, unsecured)
    except SigningError as exc:
        raise ProofError(str(exc)) from exc
    verify_ed25519(public_key, data, signature)
