"""The signed trust list: build, sign with a did:key, verify against a pinned fingerprint; an unpinned key,
a tampered list and malformed shapes each raise ``TrustListError``; staleness and age."""

from __future__ import annotations

import copy
import hashlib
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from signing.data_integrity import add_proof
from signing.keys import Ed25519Signer
from signing.multikey import did_key_verification_method, public_key_to_multikey
from verification.trust_list import (
    IssuerEntry,
    KeyEntry,
    KeyInfo,
    TrustList,
    TrustListError,
    build_trust_list,
    fingerprint,
    normalize_fingerprint,
    trust_list_key_from_proof,
    verify_trust_list,
)

ISSUED = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
CODE = "114403000075420085"
DID = f"did:web:registry.example:departments:{CODE}"


def _signer(seed: int, method: str | None = None) -> Ed25519Signer:
    raw = random.Random(seed).randbytes(32)
    if method is None:
        method = did_key_verification_method(Ed25519Signer(raw, "placeholder").public_key)
    return Ed25519Signer(raw, method)


REGISTRY_KEY = _signer(1)
DEPT_KEY_1 = _signer(2, f"{DID}#key-1")
DEPT_KEY_2 = _signer(3, f"{DID}#key-2")
DEPT_KEY_3 = _signer(4, f"{DID}#key-3")


def _issuers() -> list[IssuerEntry]:
    return [
        IssuerEntry(
            code=CODE,
            name="深圳市公安局",
            did=DID,
            keys=(
                KeyEntry(
                    id=f"{DID}#key-1",
                    public_key=DEPT_KEY_1.public_key,
                    state="retired",
                    valid_from=datetime(2025, 1, 1, tzinfo=UTC),
                    valid_until=datetime(2026, 1, 1, tzinfo=UTC),
                ),
                KeyEntry(
                    id=f"{DID}#key-2",
                    public_key=DEPT_KEY_2.public_key,
                    state="revoked",
                    valid_from=datetime(2026, 1, 1, tzinfo=UTC),
                    compromised_at=datetime(2026, 6, 1, tzinfo=UTC),
                ),
                KeyEntry(
                    id=f"{DID}#key-3",
                    public_key=DEPT_KEY_3.public_key,
                    state="active",
                    valid_from=datetime(2026, 6, 1, tzinfo=UTC),
                ),
            ),
        ),
        IssuerEntry(
            code="11440300007519213X",
            name="深圳市市场监督管理局",
            did="did:web:registry.example:departments:11440300007519213X",
            keys=(
                KeyEntry(
                    id="did:web:registry.example:departments:11440300007519213X#key-1",
                    public_key=_signer(5).public_key,
                    state="active",
                    valid_from=datetime(2026, 1, 1, tzinfo=UTC),
                ),
            ),
        ),
    ]


def _unsigned(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "registry_id": "440300",
        "registry_name": "深圳市电子证照库",
        "base_url": "https://registry.example",
        "issued": ISSUED,
        "next_update": ISSUED + timedelta(days=1),
        "status_list_max_age": 300,
        "issuers": _issuers(),
    } | overrides
    return build_trust_list(**args)


def _signed(doc: dict[str, Any] | None = None, signer: Ed25519Signer = REGISTRY_KEY) -> dict[str, Any]:
    return add_proof(doc if doc is not None else _unsigned(), signer, created="2026-11-23T03:00:00Z")


PIN = fingerprint(REGISTRY_KEY.public_key)


def test_fingerprint_is_sha256_of_the_raw_key() -> None:
    assert hashlib.sha256(REGISTRY_KEY.public_key).hexdigest() == PIN
    assert len(PIN) == 64 and PIN.lower() == PIN
    with pytest.raises(ValueError, match="32 bytes"):
        fingerprint(b"short")


@pytest.mark.parametrize(
    "text", [PIN, PIN.upper(), f"sha256:{PIN}", ":".join(PIN[i : i + 2] for i in range(0, 64, 2)), f"  {PIN}\n"]
)
def test_normalize_fingerprint(text: str) -> None:
    assert normalize_fingerprint(text) == PIN


@pytest.mark.parametrize("text", ["", PIN[:-1], PIN + "0", "g" * 64, public_key_to_multikey(REGISTRY_KEY.public_key)])
def test_normalize_fingerprint_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="64 hex"):
        normalize_fingerprint(text)


def test_document_format() -> None:
    doc = _unsigned()
    assert doc["@context"] == ["https://www.w3.org/ns/credentials/v2"]
    assert doc["type"] == "ElectronicLicenseTrustList"
    assert doc["registry"] == {"id": "440300", "name": "深圳市电子证照库", "baseUrl": "https://registry.example"}
    assert doc["issued"] == "2026-11-23T03:00:00Z"
    assert doc["nextUpdate"] == "2026-11-24T03:00:00Z"
    assert doc["statusListMaxAge"] == 300
    keys = doc["issuers"][0]["keys"]
    assert keys[0] == {
        "id": f"{DID}#key-1",
        "publicKeyMultibase": public_key_to_multikey(DEPT_KEY_1.public_key),
        "state": "retired",
        "validFrom": "2025-01-01T00:00:00Z",
        "validUntil": "2026-01-01T00:00:00Z",
    }
    assert keys[1]["compromisedAt"] == "2026-06-01T00:00:00Z"
    assert "validUntil" not in keys[2] and "compromisedAt" not in keys[2]


def test_sign_and_verify_with_the_pinned_fingerprint() -> None:
    signed = _signed()
    assert trust_list_key_from_proof(signed) == REGISTRY_KEY.public_key
    trust_list = verify_trust_list(signed, trusted=[PIN])
    assert isinstance(trust_list, TrustList)
    assert trust_list.registry_id == "440300"
    assert trust_list.registry_name == "深圳市电子证照库"
    assert trust_list.base_url == "https://registry.example"
    assert trust_list.issued == ISSUED
    assert trust_list.next_update == ISSUED + timedelta(days=1)
    assert trust_list.status_list_max_age == timedelta(seconds=300)
    assert trust_list.signing_key_fingerprint == PIN
    assert [i.code for i in trust_list.issuers] == [CODE, "11440300007519213X"]
    assert trust_list.issuers == tuple(_issuers())
    assert set(trust_list.keys) == {f"{DID}#key-1", f"{DID}#key-2", f"{DID}#key-3", _issuers()[1].keys[0].id}

    key = trust_list.keys[f"{DID}#key-2"]
    assert key == KeyInfo(
        verification_method=f"{DID}#key-2",
        public_key=DEPT_KEY_2.public_key,
        issuer_id=DID,
        issuer_code=CODE,
        issuer_name="深圳市公安局",
        state="revoked",
        valid_from=datetime(2026, 1, 1, tzinfo=UTC),
        valid_until=None,
        compromised_at=datetime(2026, 6, 1, tzinfo=UTC),
        registry_id="440300",
        registry_name="深圳市电子证照库",
    )
    with pytest.raises(TypeError):
        trust_list.keys["x"] = key  # type: ignore[index]


def test_any_pinned_fingerprint_in_any_spelling_verifies() -> None:
    other = fingerprint(_signer(99).public_key)
    assert verify_trust_list(_signed(), trusted=[other, PIN.upper()]).signing_key_fingerprint == PIN


def test_wrong_fingerprint() -> None:
    with pytest.raises(TrustListError) as info:
        verify_trust_list(_signed(), trusted=[fingerprint(_signer(99).public_key)])
    assert info.value.reason == "untrusted_key"
    assert "未被信任" in str(info.value)


def test_signed_by_another_key_is_untrusted_even_if_well_formed() -> None:
    with pytest.raises(TrustListError) as info:
        verify_trust_list(_signed(signer=_signer(7)), trusted=[PIN])
    assert info.value.reason == "untrusted_key"


def test_empty_or_bad_trusted_collection_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="at least one"):
        verify_trust_list(_signed(), trusted=[])
    with pytest.raises(ValueError, match="64 hex"):
        verify_trust_list(_signed(), trusted=["not a fingerprint"])
    with pytest.raises(TypeError):
        verify_trust_list(_signed(), trusted=PIN)


def _tamper_add_key(doc: dict[str, Any]) -> None:
    doc["issuers"][0]["keys"].append(
        {
            "id": f"{DID}#key-9",
            "publicKeyMultibase": public_key_to_multikey(_signer(66).public_key),
            "state": "active",
            "validFrom": "2026-01-01T00:00:00Z",
        }
    )


def _tamper_unrevoke(doc: dict[str, Any]) -> None:
    key = doc["issuers"][0]["keys"][1]
    key["state"] = "active"
    del key["compromisedAt"]


def _tamper_swap_key(doc: dict[str, Any]) -> None:
    doc["issuers"][0]["keys"][2]["publicKeyMultibase"] = public_key_to_multikey(_signer(66).public_key)


def _tamper_drop_issuer(doc: dict[str, Any]) -> None:
    doc["issuers"].pop(1)


def _tamper_extend(doc: dict[str, Any]) -> None:
    doc["nextUpdate"] = "2030-01-01T00:00:00Z"


@pytest.mark.parametrize(
    "tamper", [_tamper_add_key, _tamper_unrevoke, _tamper_swap_key, _tamper_drop_issuer, _tamper_extend]
)
def test_tampered_list_does_not_verify(tamper: Any) -> None:
    doc = _signed()
    tamper(doc)
    with pytest.raises(TrustListError) as info:
        verify_trust_list(doc, trusted=[PIN])
    assert info.value.reason == "bad_signature"


def test_staleness_and_age() -> None:
    trust_list = verify_trust_list(_signed(), trusted=[PIN])
    assert not trust_list.is_stale(ISSUED)
    assert not trust_list.is_stale(ISSUED + timedelta(hours=23, minutes=59))
    assert trust_list.is_stale(ISSUED + timedelta(days=1))
    assert trust_list.is_stale(ISSUED + timedelta(days=30))
    assert trust_list.age(ISSUED + timedelta(hours=2)) == timedelta(hours=2)


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["@context"], _DELETE),
        (["@context"], ["https://example.org/other"]),
        (["type"], "VerifiableCredential"),
        (["type"], ["ElectronicLicenseTrustList"]),
        (["registry"], _DELETE),
        (["registry"], "440300"),
        (["registry", "id"], ""),
        (["registry", "name"], 7),
        (["registry", "baseUrl"], "ftp://registry.example"),
        (["issued"], "2026-11-23"),
        (["nextUpdate"], _DELETE),
        (["nextUpdate"], "2026-11-22T03:00:00Z"),  # before issued
        (["statusListMaxAge"], _DELETE),
        (["statusListMaxAge"], 0),
        (["statusListMaxAge"], 300.0),
        (["statusListMaxAge"], True),
        (["statusListMaxAge"], "300"),
        (["issuers"], _DELETE),
        (["issuers"], {"code": CODE}),
        (["issuers", 0], "issuer"),
        (["issuers", 0, "code"], ""),
        (["issuers", 0, "name"], None),
        (["issuers", 0, "did"], "https://registry.example"),
        (["issuers", 0, "did"], f"{DID}#key-1"),
        (["issuers", 0, "keys"], []),
        (["issuers", 0, "keys"], {}),
        (["issuers", 0, "keys", 0], "key"),
        (["issuers", 0, "keys", 0, "id"], "did:web:elsewhere#key-1"),
        (["issuers", 0, "keys", 0, "id"], f"{DID}#"),
        (["issuers", 0, "keys", 0, "publicKeyMultibase"], "z6MkNotAKey"),
        (["issuers", 0, "keys", 0, "publicKeyMultibase"], "u" + "A" * 43),
        (["issuers", 0, "keys", 0, "state"], "expired"),
        (["issuers", 0, "keys", 0, "validFrom"], _DELETE),
        (["issuers", 0, "keys", 0, "validUntil"], _DELETE),  # retired without validUntil
        (["issuers", 0, "keys", 0, "validUntil"], "2024-01-01T00:00:00Z"),  # before validFrom
        (["issuers", 0, "keys", 2, "compromisedAt"], "2026-07-01T00:00:00Z"),  # on an active key
        (["issuers", 0, "keys", 1, "compromisedAt"], "soon"),
    ],
)
def test_malformed_shapes(path: list[Any], value: Any) -> None:
    doc = _unsigned()
    target: Any = doc
    for part in path[:-1]:
        target = target[part]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    # Signed after the damage, with the pinned key: only the shape check can refuse it.
    with pytest.raises(TrustListError) as info:
        verify_trust_list(_signed(doc), trusted=[PIN])
    assert info.value.reason == "shape"


def test_duplicate_issuer_code_and_key_id() -> None:
    doc = _unsigned()
    doc["issuers"].append(copy.deepcopy(doc["issuers"][0]))
    with pytest.raises(TrustListError, match="listed twice"):
        verify_trust_list(_signed(doc), trusted=[PIN])
    doc = _unsigned()
    doc["issuers"][0]["keys"].append(copy.deepcopy(doc["issuers"][0]["keys"][2]))
    with pytest.raises(TrustListError, match="listed twice"):
        verify_trust_list(_signed(doc), trusted=[PIN])


@pytest.mark.parametrize(
    "proof",
    [
        _DELETE,
        [],
        "proof",
        {"verificationMethod": 3},
        {"verificationMethod": f"{DID}#key-1"},  # a did:web key cannot sign the list: it must carry its key
        {"verificationMethod": "did:key:z6MkNotAKey"},
    ],
)
def test_proof_shapes(proof: Any) -> None:
    doc = _signed()
    if proof is _DELETE:
        del doc["proof"]
    else:
        doc["proof"] = proof
    with pytest.raises(TrustListError) as info:
        verify_trust_list(doc, trusted=[PIN])
    assert info.value.reason == "shape"


@pytest.mark.parametrize("doc", [None, [], "trust list", 7])
def test_non_object(doc: Any) -> None:
    with pytest.raises(TrustListError):
        verify_trust_list(doc, trusted=[PIN])


def test_unknown_members_are_ignored_but_signed() -> None:
    doc = _unsigned()
    doc["comment"] = "ignored"
    doc["issuers"][0]["address"] = "深圳"
    assert verify_trust_list(_signed(doc), trusted=[PIN]).registry_id == "440300"


def test_builder_refuses_what_the_parser_would() -> None:
    with pytest.raises(TrustListError):
        _unsigned(status_list_max_age=0)
    with pytest.raises(TrustListError):
        _unsigned(next_update=ISSUED)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"state": "retired"},  # retired without valid_until
        {"state": "active", "compromised_at": ISSUED},
        {"state": "active", "valid_until": datetime(2020, 1, 1, tzinfo=UTC)},
        {"state": "active", "valid_from": "2026-01-01T00:00:00Z"},
        {"state": "active", "valid_from": None},
        {"state": "unknown"},
        {"state": "active", "public_key": b"\x00" * 31},
    ],
)
def test_key_entry_invariants(kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {
        "id": f"{DID}#key-1",
        "public_key": DEPT_KEY_1.public_key,
        "valid_from": datetime(2025, 1, 1, tzinfo=UTC),
    } | kwargs
    with pytest.raises(TrustListError):
        KeyEntry(**args)


def test_key_entry_takes_naive_datetimes_as_utc() -> None:
    entry = KeyEntry(
        id=f"{DID}#key-1",
        public_key=DEPT_KEY_1.public_key,
        state="retired",
        valid_from=datetime(2026, 1, 1, 8, 0),  # naive: what SQLite hands back
        valid_until=datetime(2026, 1, 1, 9, 0, tzinfo=UTC),
    )
    assert entry.valid_from == datetime(2026, 1, 1, 8, 0, tzinfo=UTC)


def test_key_times_are_whole_seconds_with_valid_until_rounded_up() -> None:
    # A key made and retired within one second (fast rotation) still yields a list verifiers accept.
    made = datetime(2026, 11, 23, 3, 0, 0, 100_000, tzinfo=UTC)
    entry = KeyEntry(
        id=f"{DID}#key-1",
        public_key=DEPT_KEY_1.public_key,
        state="retired",
        valid_from=made,
        valid_until=made + timedelta(microseconds=500_000),
    )
    issuer = IssuerEntry(code=CODE, name="深圳市公安局", did=DID, keys=(entry,))
    doc = _unsigned(issuers=[issuer])
    assert doc["issuers"][0]["keys"][0]["validFrom"] == "2026-11-23T03:00:00Z"
    assert doc["issuers"][0]["keys"][0]["validUntil"] == "2026-11-23T03:00:01Z"
    key = verify_trust_list(_signed(doc), trusted=[PIN]).keys[entry.id]
    assert key.valid_until == datetime(2026, 11, 23, 3, 0, 1, tzinfo=UTC)


def test_issuer_entry_invariants() -> None:
    key = _issuers()[0].keys[2]
    with pytest.raises(TrustListError, match="no keys"):
        IssuerEntry(code=CODE, name="x", did=DID, keys=())
    with pytest.raises(TrustListError, match="not a verification method"):
        IssuerEntry(code=CODE, name="x", did="did:web:other", keys=(key,))


def test_key_info_takes_naive_datetimes_as_utc() -> None:
    info = KeyInfo(
        verification_method=f"{DID}#key-1",
        public_key=DEPT_KEY_1.public_key,
        issuer_id=DID,
        issuer_code=CODE,
        issuer_name="深圳市公安局",
        state="active",
        valid_from=datetime(2026, 1, 1, 8, 0),  # naive: what SQLite hands back
        valid_until=None,
        compromised_at=None,
        registry_id=None,
        registry_name=None,
    )
    assert info.valid_from == datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="state"):
        KeyInfo(**_key_info_kwargs(info, state="lost"))


def _key_info_kwargs(info: KeyInfo, **changes: Any) -> dict[str, Any]:
    return {name: getattr(info, name) for name in KeyInfo.__dataclass_fields__} | changes
