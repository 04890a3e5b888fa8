"""Registry-to-registry calls (registry.federation.calls): only a pinned peer's fresh, correctly addressed,
correctly signed, never-seen call is accepted."""

from __future__ import annotations

import base64
import json
import secrets
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import delete

from registry import errors
from registry.context import Registry
from registry.federation.calls import _message, accept_call
from registry.models import FederationNonce, FederationPeer
from signing.data_integrity import add_proof
from signing.keys import Ed25519Signer
from signing.multikey import did_key_verification_method
from verification.trust_list import build_trust_list, fingerprint

pytestmark = pytest.mark.integration
CALLER = "110000"


@pytest.fixture
async def peer_key(registry: Registry) -> Ed25519Signer:
    """A pinned peer (Beijing) whose trust-list key the test holds."""
    seed = secrets.token_bytes(32)
    probe = Ed25519Signer(seed, "x")
    signer = Ed25519Signer(seed, did_key_verification_method(probe.public_key))
    now = datetime.now(UTC).replace(microsecond=0)
    doc = build_trust_list(
        registry_id=CALLER,
        registry_name="北京市电子证照库",
        base_url="http://beijing.test",
        issued=now,
        next_update=now + timedelta(days=1),
        status_list_max_age=300,
        issuers=[],
    )
    signed = add_proof(doc, signer, created=now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    async with registry.db.transaction() as session:
        await session.exec(delete(FederationPeer).where(FederationPeer.name == "beijing-test"))  # type: ignore[arg-type]
        session.add(
            FederationPeer(
                name="beijing-test",
                url="http://beijing.test",
                registry_id=CALLER,
                fingerprint=fingerprint(signer.public_key),
                trust_list=json.dumps(signed),
            )
        )
    return signer


def _headers(signer: Ed25519Signer, body: bytes, *, audience: str = "440300", stamp: int | None = None,
             nonce: str | None = None, caller: str = CALLER) -> dict[str, str]:  # fmt: skip
    stamp_s, nonce = str(stamp if stamp is not None else int(time.time())), nonce or secrets.token_urlsafe(24)
    sig = signer.sign(_message("POST", "/api/v1/federation/pulls", caller, audience, stamp_s, nonce, body))
    return {"x-registry-caller": caller, "x-registry-timestamp": stamp_s, "x-registry-nonce": nonce,
            "x-registry-signature": base64.b64encode(sig).decode()}  # fmt: skip


async def _accept(registry: Registry, headers: dict[str, str], body: bytes) -> str:
    async with registry.db.transaction() as session:
        return await accept_call(registry, session, "POST", "/api/v1/federation/pulls", headers, body)


async def test_signed_calls(registry: Registry, peer_key: Ed25519Signer) -> None:
    body = b'{"share_code":"x"}'
    good = _headers(peer_key, body)
    assert await _accept(registry, good, body) == CALLER
    refused = [
        ("replayed", good, body),
        ("another body", _headers(peer_key, body), body + b" "),
        ("addressed to another registry", _headers(peer_key, body, audience="310000"), body),
        ("too old", _headers(peer_key, body, stamp=int(time.time()) - 600), body),
        ("from the future", _headers(peer_key, body, stamp=int(time.time()) + 600), body),
        ("not a pinned peer", _headers(peer_key, body, caller="320000"), body),
        ("signed by another key", _headers(Ed25519Signer(secrets.token_bytes(32), "x"), body), body),
        ("no headers", {}, body),
        ("bad nonce", _headers(peer_key, body, nonce="short"), body),
    ]
    for why, headers, sent in refused:
        with pytest.raises(errors.PeerCallRefused):
            await _accept(registry, headers, sent)
        assert why
    # A refused call leaves no nonce behind; the accepted one left exactly one.
    async with registry.db.read() as session:
        rows = (await session.exec(FederationNonce.__table__.select())).all()  # type: ignore[attr-defined]
    assert [r.nonce for r in rows if r.caller == CALLER].count(good["x-registry-nonce"]) == 1
