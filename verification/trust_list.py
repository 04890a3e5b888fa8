"""The registry's signed trust list (DESIGN §6 ``GET /api/v1/trust-list``): which departments may issue, with
which keys, when — everything an offline verifier needs to judge a signing key.

Document format (a JSON object; members not listed are ignored, the proof covers them)::

    {"@context": ["https://www.w3.org/ns/credentials/v2"],
     "type": "ElectronicLicenseTrustList",
     "registry": {"id": "440300", "name": "深圳市电子证照库", "baseUrl": "https://…"},
     "issued": "2026-11-23T03:00:00Z",          # when the registry signed this list
     "nextUpdate": "2026-11-24T03:00:00Z",      # past this the list is stale (still usable, said so)
     "statusListMaxAge": 300,                   # seconds a status list may be used offline before it is stale
     "issuers": [
       {"code": "114403000075420085", "name": "深圳市公安局",
        "did": "did:web:<host>:departments:114403000075420085",
        "keys": [
          {"id": "<did>#key-1",                 # the verificationMethod credentials name
           "publicKeyMultibase": "z6Mk…",       # Ed25519 Multikey
           "state": "active" | "retired" | "revoked",
           "validFrom": "…Z",                   # when the key started signing
           "validUntil": "…Z",                  # required for retired keys: when it stopped signing
           "compromisedAt": "…Z"}]}],           # revoked keys only: signatures made from then on are void
                                                # (absent on a revoked key: every signature is void)
     "proof": {"type": "DataIntegrityProof", "cryptosuite": "eddsa-jcs-2022", "proofPurpose": "assertionMethod",
               "verificationMethod": "did:key:z6Mk…#z6Mk…", …}}

The proof is made by the registry's trust-list key, named as a ``did:key`` so that the list carries its own
public key. A verifier pins that key by :func:`fingerprint` — lowercase hex SHA-256 of the raw 32-byte Ed25519
public key, what ``registry federation add --fingerprint`` takes — and :func:`verify_trust_list` accepts a
list only if it is signed by a pinned key. :func:`trust_list_key_from_proof` reads the key without trusting
it, so a tool can show the fingerprint to be pinned.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Final, Literal

from signing.data_integrity import verify_proof
from signing.errors import KeyFormatError, ProofError
from signing.multikey import multikey_to_public_key, public_key_from_did_key, public_key_to_multikey
from verification.errors import TrustListError
from verification.status_list import VC_CONTEXT, format_timestamp, parse_timestamp

__all__ = [
    "KEY_STATES",
    "TRUST_LIST_TYPE",
    "IssuerEntry",
    "KeyEntry",
    "KeyInfo",
    "KeyState",
    "TrustList",
    "TrustListError",
    "build_trust_list",
    "fingerprint",
    "normalize_fingerprint",
    "trust_list_key_from_proof",
    "verify_trust_list",
]

TRUST_LIST_TYPE: Final = "ElectronicLicenseTrustList"
KeyState = Literal["active", "retired", "revoked"]
KEY_STATES: Final = ("active", "retired", "revoked")
_PUBLIC_KEY_LENGTH: Final = 32
_HEX64: Final = re.compile(r"[0-9a-f]{64}")


def _utc(value: datetime | None, what: str) -> datetime | None:
    # Database drivers (SQLite) hand back naive datetimes that mean UTC; comparing naive with aware raises.
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What a trust source knows about one verification method.

    ``issuer_id`` is the DID that controls the key; a credential signed with it must name that DID as its
    issuer. ``pinned`` marks a key the caller trusts explicitly (``StaticKeys``): the caller vouches for
    whatever it signs, so a did:key credential's issuer claim need not equal the did:key (the published W3C
    vector names an https issuer). Naive datetimes are taken as UTC.
    """

    verification_method: str
    public_key: bytes
    issuer_id: str
    issuer_code: str | None
    issuer_name: str | None
    state: str
    valid_from: datetime | None
    valid_until: datetime | None
    compromised_at: datetime | None
    registry_id: str | None
    registry_name: str | None
    pinned: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.verification_method, str) or not self.verification_method:
            raise ValueError("verification_method must be a non-empty string")
        if not isinstance(self.public_key, bytes) or len(self.public_key) != _PUBLIC_KEY_LENGTH:
            raise ValueError(f"public_key must be {_PUBLIC_KEY_LENGTH} raw Ed25519 bytes")
        if self.state not in KEY_STATES:
            raise ValueError(f"state must be one of {KEY_STATES}, not {self.state!r}")
        for name in ("valid_from", "valid_until", "compromised_at"):
            object.__setattr__(self, name, _utc(getattr(self, name), name))


@dataclass(frozen=True, slots=True)
class KeyEntry:
    """One key of an issuer as the trust list states it. The constructor checks the invariants; naive
    datetimes (what SQLite hands back) are taken as UTC."""

    id: str
    public_key: bytes
    state: KeyState
    valid_from: datetime
    valid_until: datetime | None = None
    compromised_at: datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise _shape("key id must be a non-empty string")
        if not isinstance(self.public_key, bytes) or len(self.public_key) != _PUBLIC_KEY_LENGTH:
            raise _shape(f"key {self.id!r}: public key must be {_PUBLIC_KEY_LENGTH} bytes")
        if self.state not in KEY_STATES:
            raise _shape(f"key {self.id!r}: state must be one of {', '.join(KEY_STATES)}")
        if not isinstance(self.valid_from, datetime):
            raise _shape(f"key {self.id!r}: valid_from must be a datetime")
        for name in ("valid_from", "valid_until", "compromised_at"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, datetime):
                raise _shape(f"key {self.id!r}: {name} must be a datetime")
            object.__setattr__(self, name, _utc(value, name))
        if self.state == "retired" and self.valid_until is None:
            raise _shape(f"key {self.id!r}: a retired key needs validUntil (when it stopped signing)")
        if self.compromised_at is not None and self.state != "revoked":
            raise _shape(f"key {self.id!r}: only a revoked key has compromisedAt")
        # Equal is allowed: a key retired within the second it was made signed nothing, and says so.
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise _shape(f"key {self.id!r}: validUntil must not be before validFrom")


@dataclass(frozen=True, slots=True)
class IssuerEntry:
    """An issuing department: its code, name, DID and keys (each key id is ``<did>#<fragment>``)."""

    code: str
    name: str
    did: str
    keys: tuple[KeyEntry, ...]

    def __post_init__(self) -> None:
        for what, value in (("code", self.code), ("name", self.name), ("did", self.did)):
            if not isinstance(value, str) or not value:
                raise _shape(f"issuer {what} must be a non-empty string")
        if not self.did.startswith("did:") or "#" in self.did:
            raise _shape(f"issuer {self.code!r}: did must be a DID without a fragment")
        object.__setattr__(self, "keys", tuple(self.keys))
        if not self.keys:
            raise _shape(f"issuer {self.code!r} lists no keys")
        for key in self.keys:
            if not isinstance(key, KeyEntry):
                raise _shape(f"issuer {self.code!r}: keys must be KeyEntry values")
            prefix = f"{self.did}#"
            if not key.id.startswith(prefix) or len(key.id) == len(prefix):
                raise _shape(f"key id {key.id!r} is not a verification method of {self.did}")


@dataclass(frozen=True, slots=True)
class TrustList:
    """A verified trust list. ``keys`` maps each verification method to what a verifier needs about it."""

    registry_id: str
    registry_name: str
    base_url: str
    issued: datetime
    next_update: datetime
    status_list_max_age: timedelta
    issuers: tuple[IssuerEntry, ...]
    keys: Mapping[str, KeyInfo] = field(repr=False)
    signing_key_fingerprint: str

    def is_stale(self, now: datetime) -> bool:
        """Whether ``now`` is at or past ``nextUpdate``: a newer list should exist."""
        return now >= self.next_update

    def age(self, now: datetime) -> timedelta:
        """How long ago the registry signed this list."""
        return now - self.issued


def _shape(message: str) -> TrustListError:
    return TrustListError("shape", f"信任列表格式错误 / malformed trust list: {message}")


# --- fingerprints ----------------------------------------------------------------------------------------


def fingerprint(public_key: bytes) -> str:
    """Lowercase hex SHA-256 of a raw 32-byte Ed25519 public key: how a registry's trust-list key is pinned."""
    if not isinstance(public_key, bytes) or len(public_key) != _PUBLIC_KEY_LENGTH:
        raise ValueError(f"an Ed25519 public key is {_PUBLIC_KEY_LENGTH} bytes")
    return hashlib.sha256(public_key).hexdigest()


def normalize_fingerprint(text: str) -> str:
    """Accept a fingerprint as people paste it (upper case, ``ab:cd:…`` colons, a ``sha256:`` prefix, spaces)
    and return the 64 lowercase hex digits; raise ``ValueError`` if it is not one."""
    if not isinstance(text, str):
        raise ValueError("a fingerprint is a string of 64 hex digits")
    value = text.strip().lower()
    value = value.removeprefix("sha256:").replace(":", "").replace(" ", "")
    if _HEX64.fullmatch(value) is None:
        raise ValueError(f"指纹应为 64 位十六进制 / a fingerprint is 64 hex digits (SHA-256); got {text[:80]!r}")
    return value


# --- building --------------------------------------------------------------------------------------------


def _key_json(key: KeyEntry) -> dict[str, str]:
    out = {
        "id": key.id,
        "publicKeyMultibase": public_key_to_multikey(key.public_key),
        "state": key.state,
        "validFrom": format_timestamp(key.valid_from),
    }
    if key.valid_until is not None:
        # Whole seconds, rounded up: proof.created is truncated to the second, so a credential signed in the
        # key's last second must still fall before validUntil.
        until = key.valid_until
        out["validUntil"] = format_timestamp(until + timedelta(seconds=1) if until.microsecond else until)
    if key.compromised_at is not None:
        out["compromisedAt"] = format_timestamp(key.compromised_at)
    return out


def build_trust_list(
    *,
    registry_id: str,
    registry_name: str,
    base_url: str,
    issued: datetime,
    next_update: datetime,
    status_list_max_age: int,
    issuers: Iterable[IssuerEntry],
) -> dict[str, Any]:
    """The unsigned trust list document; sign it with ``signing.data_integrity.add_proof`` and a signer whose
    verification method is the did:key of the trust-list key. Raises :class:`TrustListError` if the result
    would not parse back (so the registry can never publish a list verifiers refuse)."""
    doc: dict[str, Any] = {
        "@context": [VC_CONTEXT],
        "type": TRUST_LIST_TYPE,
        "registry": {"id": registry_id, "name": registry_name, "baseUrl": base_url},
        "issued": format_timestamp(issued),
        "nextUpdate": format_timestamp(next_update),
        "statusListMaxAge": status_list_max_age,
        "issuers": [
            {"code": i.code, "name": i.name, "did": i.did, "keys": [_key_json(k) for k in i.keys]} for i in issuers
        ],
    }
    _parse_body(doc, signing_key_fingerprint="")
    return doc


# --- verifying -------------------------------------------------------------------------------------------


def trust_list_key_from_proof(doc: Mapping[str, Any]) -> bytes:
    """The public key of the did:key that the trust list's proof names. Does NOT verify anything: use it to
    show the fingerprint a person should pin, never to decide trust."""
    if not isinstance(doc, Mapping):
        raise _shape("not a JSON object")
    proof = doc.get("proof")
    if not isinstance(proof, Mapping):
        raise _shape("proof must be a single proof object")
    method = proof.get("verificationMethod")
    if not isinstance(method, str):
        raise _shape("proof verificationMethod must be a string")
    try:
        return public_key_from_did_key(method)
    except KeyFormatError as exc:
        raise _shape(f"proof verificationMethod must be an Ed25519 did:key: {exc}") from None


def verify_trust_list(doc: Mapping[str, Any], *, trusted: Collection[str]) -> TrustList:
    """Verify and parse a trust list signed by one of the ``trusted`` fingerprints (see :func:`fingerprint`).

    Raises :class:`TrustListError` with ``reason`` ``untrusted_key`` (the signing key is not pinned),
    ``bad_signature`` (the proof does not verify: a tampered list) or ``shape``. An empty ``trusted``
    collection is a programming error (``ValueError``): nothing could ever verify.
    """
    if isinstance(trusted, str):
        raise TypeError("trusted is a collection of fingerprints, not one string")
    pinned = {normalize_fingerprint(item) for item in trusted}
    if not pinned:
        raise ValueError("verify_trust_list needs at least one trusted fingerprint")
    # 1. The key named by the proof must be pinned, before any work is spent on the document.
    public_key = trust_list_key_from_proof(doc)
    key_fingerprint = fingerprint(public_key)
    if key_fingerprint not in pinned:
        raise TrustListError(
            "untrusted_key",
            f"信任列表的签名密钥未被信任 / trust list signed by an unpinned key (fingerprint {key_fingerprint})",
        )
    # 2. The proof must verify under that key.
    try:
        verify_proof(doc, public_key)
    except ProofError as exc:
        raise TrustListError(
            "bad_signature", f"信任列表签名无效 / trust list signature does not verify: {exc}"
        ) from None
    # 3. Parse: every member the verifier relies on is present and well-typed.
    return _parse_body(doc, signing_key_fingerprint=key_fingerprint)


def _string(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise _shape(f"{what} must be a non-empty string")
    return value


def _time(value: object, what: str) -> datetime:
    try:
        return parse_timestamp(value)
    except ValueError:
        raise _shape(f"{what} must be an RFC 3339 date-time with a zone") from None


def _optional_time(obj: Mapping[str, Any], member: str, what: str) -> datetime | None:
    return _time(obj[member], what) if member in obj else None


def _parse_key(raw: object, did: str) -> KeyEntry:
    if not isinstance(raw, Mapping):
        raise _shape(f"each key of {did} must be an object")
    key_id = _string(raw.get("id"), "key id")
    try:
        public_key = multikey_to_public_key(_string(raw.get("publicKeyMultibase"), f"{key_id} publicKeyMultibase"))
    except KeyFormatError as exc:
        raise _shape(f"{key_id} publicKeyMultibase is not an Ed25519 Multikey: {exc}") from None
    state = raw.get("state")
    if state not in KEY_STATES:
        raise _shape(f"{key_id} state must be one of {', '.join(KEY_STATES)}")
    return KeyEntry(
        id=key_id,
        public_key=public_key,
        state=state,
        valid_from=_time(raw.get("validFrom"), f"{key_id} validFrom"),
        valid_until=_optional_time(raw, "validUntil", f"{key_id} validUntil"),
        compromised_at=_optional_time(raw, "compromisedAt", f"{key_id} compromisedAt"),
    )


def _parse_issuer(raw: object) -> IssuerEntry:
    if not isinstance(raw, Mapping):
        raise _shape("each issuer must be an object")
    did = _string(raw.get("did"), "issuer did")
    keys = raw.get("keys")
    if not isinstance(keys, list):
        raise _shape(f"issuer {did} keys must be a list")
    return IssuerEntry(
        code=_string(raw.get("code"), "issuer code"),
        name=_string(raw.get("name"), "issuer name"),
        did=did,
        keys=tuple(_parse_key(key, did) for key in keys),
    )


def _parse_body(doc: Mapping[str, Any], *, signing_key_fingerprint: str) -> TrustList:
    if not isinstance(doc, Mapping):
        raise _shape("not a JSON object")
    context = doc.get("@context")
    if not isinstance(context, list) or not context or context[0] != VC_CONTEXT:
        raise _shape(f"@context must be a list starting with {VC_CONTEXT}")
    if doc.get("type") != TRUST_LIST_TYPE:
        raise _shape(f"type must be {TRUST_LIST_TYPE}")
    registry = doc.get("registry")
    if not isinstance(registry, Mapping):
        raise _shape("registry must be an object")
    registry_id = _string(registry.get("id"), "registry id")
    registry_name = _string(registry.get("name"), "registry name")
    base_url = _string(registry.get("baseUrl"), "registry baseUrl")
    if not base_url.startswith(("https://", "http://")):
        raise _shape("registry baseUrl must be an http(s) URL")
    issued = _time(doc.get("issued"), "issued")
    next_update = _time(doc.get("nextUpdate"), "nextUpdate")
    if next_update <= issued:
        raise _shape("nextUpdate must be after issued")
    max_age = doc.get("statusListMaxAge")
    if type(max_age) is not int or max_age <= 0:
        raise _shape("statusListMaxAge must be a positive whole number of seconds")
    raw_issuers = doc.get("issuers")
    if not isinstance(raw_issuers, list):
        raise _shape("issuers must be a list")
    issuers = tuple(_parse_issuer(raw) for raw in raw_issuers)

    keys: dict[str, KeyInfo] = {}
    codes: set[str] = set()
    for issuer in issuers:
        # Duplicates would make "which issuer owns this key" ambiguous: refuse rather than pick one.
        if issuer.code in codes:
            raise _shape(f"issuer code {issuer.code} listed twice")
        codes.add(issuer.code)
        for key in issuer.keys:
            if key.id in keys:
                raise _shape(f"key {key.id} listed twice")
            keys[key.id] = KeyInfo(
                verification_method=key.id,
                public_key=key.public_key,
                issuer_id=issuer.did,
                issuer_code=issuer.code,
                issuer_name=issuer.name,
                state=key.state,
                valid_from=key.valid_from,
                valid_until=key.valid_until,
                compromised_at=key.compromised_at,
                registry_id=registry_id,
                registry_name=registry_name,
            )
    return TrustList(
        registry_id=registry_id,
        registry_name=registry_name,
        base_url=base_url,
        issued=issued,
        next_update=next_update,
        status_list_max_age=timedelta(seconds=max_age),
        issuers=issuers,
        keys=MappingProxyType(keys),
        signing_key_fingerprint=signing_key_fingerprint,
    )
