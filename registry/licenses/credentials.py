"""Building the W3C VC 2.0 credentials the registry signs (DESIGN §5): the full one and the compact one."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from registry import errors
from registry.licence_types import HolderRef
from signing.data_integrity import add_proof
from signing.jcs import canonicalize
from signing.keys import Signer
from verification.payload import MAX_PAYLOAD_CHARS, encode_canonical

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
TYPE_FULL = ["VerifiableCredential", "ElectronicLicense"]
TYPE_COMPACT = [*TYPE_FULL, "ElectronicLicenseCompact"]


def vc_time(value: datetime) -> str:
    """XML Schema dateTimeStamp in UTC, whole seconds ("2026-11-23T00:00:00Z")."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class StatusSlot:
    purpose: str  # revocation | suspension
    list_url: str
    index: int

    def entry(self) -> dict[str, str]:
        return {
            "type": "BitstringStatusListEntry",
            "statusPurpose": self.purpose,
            "statusListIndex": str(self.index),
            "statusListCredential": self.list_url,
        }


def holder_json(holder: HolderRef) -> dict[str, str]:
    return {"idType": holder.id_type, "idNumber": holder.id_number, "name": holder.name}


def full_credential(
    *,
    credential_id: str,
    issuer_did: str,
    issuer_name: str,
    holder: HolderRef,
    license_type: str,
    fields: dict[str, Any],
    valid_from: datetime,
    valid_until: datetime | None,
    status: list[StatusSlot],
) -> dict[str, Any]:
    credential: dict[str, Any] = {
        "@context": [VC_CONTEXT],
        "id": credential_id,
        "type": list(TYPE_FULL),
        "issuer": {"id": issuer_did, "name": issuer_name},
        "validFrom": vc_time(valid_from),
        "credentialSubject": {"holder": holder_json(holder), "licenseType": license_type, "fields": fields},
        "credentialStatus": [slot.entry() for slot in status],
    }
    if valid_until is not None:
        credential["validUntil"] = vc_time(valid_until)
    return credential


def credential_digest(signed_credential: dict[str, Any], jcs: bytes | None = None) -> str:
    """``u`` + base64url(SHA-256(JCS(credential))): what the compact form binds itself to."""
    digest = hashlib.sha256(jcs if jcs is not None else canonicalize(signed_credential)).digest()
    return "u" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def compact_credential(signed_full: dict[str, Any], jcs: bytes | None = None) -> dict[str, Any]:
    """Same id, issuer, validity and status as the full credential; the subject shrinks to a digest.
    ``jcs``: the full credential's JCS bytes, when the caller has them."""
    compact = {k: v for k, v in signed_full.items() if k not in ("proof", "credentialSubject", "type")}
    subject = signed_full["credentialSubject"]
    compact["type"] = list(TYPE_COMPACT)
    compact["credentialSubject"] = {
        "holder": subject["holder"],
        "licenseType": subject["licenseType"],
        "fullCredentialDigest": credential_digest(signed_full, jcs),
    }
    return compact


class SignedCredential(NamedTuple):
    """What a licence stores of its credentials: the signed JCS text, the compact one if the QR needs it, and
    the QR payload."""

    credential_jcs: str
    compact_jcs: str | None
    qr_payload: str


def sign_credential(unsigned: dict[str, Any], signer: Signer, created: str) -> SignedCredential:
    """Sign the full credential; its QR payload carries it whole, or a signed compact form when it does not
    fit the QR budget. Raises :class:`~registry.errors.PayloadTooLarge` when even the compact one does not."""
    signed = add_proof(unsigned, signer, created=created)
    jcs = canonicalize(signed)
    payload = encode_canonical(jcs)
    if len(payload) <= MAX_PAYLOAD_CHARS:
        return SignedCredential(jcs.decode(), None, payload)
    compact = canonicalize(add_proof(compact_credential(signed, jcs), signer, created=created))
    payload = encode_canonical(compact)
    if len(payload) > MAX_PAYLOAD_CHARS:
        raise errors.PayloadTooLarge(
            f"简版凭证仍超出二维码容量（{len(payload)} 字符）/ Even the compact credential does not fit "
            f"the QR budget ({len(payload)} > {MAX_PAYLOAD_CHARS} characters)"
        )
    return SignedCredential(jcs.decode(), compact.decode(), payload)


TYPE_EXCERPT = [*TYPE_FULL, "ElectronicLicenseExcerpt"]


def excerpt_credential(signed_full: dict[str, Any], field_names: list[str], excerpt_id: str) -> dict[str, Any]:
    """Only the released fields, for one window: same issuer, validity and status as the licence, bound to it by
    id and digest, so it verifies on its own and is revoked with it (DESIGN §3 flow 4, field-limited sharing)."""
    excerpt = {k: v for k, v in signed_full.items() if k not in ("proof", "credentialSubject", "type", "id")}
    subject = signed_full["credentialSubject"]
    excerpt["id"] = excerpt_id
    excerpt["type"] = list(TYPE_EXCERPT)
    excerpt["credentialSubject"] = {
        "holder": subject["holder"],
        "licenseType": subject["licenseType"],
        "fields": {name: subject["fields"][name] for name in field_names if name in subject["fields"]},
        "sourceCredential": signed_full["id"],
        "sourceCredentialDigest": credential_digest(signed_full),
    }
    return excerpt
