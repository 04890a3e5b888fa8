"""Registry-to-registry calls: signed by the caller's trust-list key (the key its peers pin), addressed to one
registry, fresh, and used once.

The caller signs, with Ed25519, the bytes::

    registry-call/v1 \\n METHOD \\n PATH \\n caller id \\n audience id \\n unix time \\n nonce \\n base64 SHA-256(body)

and sends the id, time, nonce and signature as ``X-Registry-*`` headers. The callee accepts the call only if
the caller is one of its pinned peers, the signature verifies under that peer's pinned key, it is addressed to
the callee, its time is within :data:`SKEW_SECONDS` of the callee's clock, and the (caller, nonce) pair has
not been seen: the pair is stored in the same transaction as the call's effects, so a replay is refused even
by another worker, and a call that failed may be retried with a new nonce.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from registry import errors
from registry.federation.service import get_peer_by_registry
from registry.models import FederationNonce
from registry.trust.service import trust_signer
from signing.errors import SigningError
from signing.keys import verify_ed25519
from verification.trust_list import trust_list_key_from_proof

if TYPE_CHECKING:
    from registry.context import Registry

SKEW_SECONDS = 120
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_ID = re.compile(r"[0-9]{6}")


def _message(method: str, path: str, caller: str, audience: str, stamp: str, nonce: str, body: bytes) -> bytes:
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    return "\n".join(["registry-call/v1", method.upper(), path, caller, audience, stamp, nonce, digest]).encode()


async def call_peer(reg: Registry, registry_id: str, path: str, payload: dict[str, Any]) -> dict[str, Any]:
    """POST ``payload`` to the pinned peer ``registry_id``; its problem answers are raised as they are."""
    peer = await get_peer_by_registry(reg, registry_id)
    signer = await trust_signer(reg)
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    stamp, nonce = str(int(time.time())), secrets.token_urlsafe(24)
    signature = signer.sign(_message("POST", path, reg.settings.registry_id, registry_id, stamp, nonce, body))
    headers = {
        "Content-Type": "application/json",
        "X-Registry-Caller": reg.settings.registry_id,
        "X-Registry-Timestamp": stamp,
        "X-Registry-Nonce": nonce,
        "X-Registry-Signature": base64.b64encode(signature).decode(),
    }
    timeout = reg.settings.federation_timeout_seconds
    url = f"{peer.url}{path}"
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            resp = await client.post(url, content=body, headers=headers)
    except httpx.TimeoutException:
        raise errors.PeerUnavailable(
            f"{url} 未在 {timeout:g} 秒内应答 / {url} did not answer within {timeout:g} s"
        ) from None
    except httpx.HTTPError as exc:
        raise errors.PeerUnavailable(f"无法连接 {url} / cannot reach {url}: {type(exc).__name__}") from None
    try:
        answer = resp.json()
    except ValueError:
        raise errors.PeerUnavailable(
            f"{url} 的应答不是 JSON / {url} did not answer JSON ({resp.status_code})"
        ) from None
    if resp.status_code >= 400 and isinstance(answer, dict) and isinstance(answer.get("code"), str):
        raise errors.PeerRefused(str(answer.get("detail") or answer["code"]), status_code=resp.status_code,
                                 peer_code=answer["code"], registry_id=registry_id)  # fmt: skip
    if resp.status_code != 200 or not isinstance(answer, dict):
        raise errors.PeerUnavailable(f"{url} 返回 {resp.status_code} / {url} answered {resp.status_code}")
    return answer


async def accept_call(
    reg: Registry, session: AsyncSession, method: str, path: str, headers: dict[str, str], body: bytes
) -> str:
    """Check a call made to this registry; returns the caller's registry id. The nonce is recorded in
    ``session``: the caller's transaction commits it with the call's effects, or neither happens."""
    caller = headers.get("x-registry-caller", "")
    stamp = headers.get("x-registry-timestamp", "")
    nonce = headers.get("x-registry-nonce", "")
    if not _ID.fullmatch(caller) or not stamp.isdigit() or not _NONCE.fullmatch(nonce):
        raise errors.PeerCallRefused("缺少或错误的登记库签名头 / missing or malformed X-Registry-* headers")
    if abs(time.time() - int(stamp)) > SKEW_SECONDS:
        raise errors.PeerCallRefused(f"调用时间超出 ±{SKEW_SECONDS} 秒 / call time outside ±{SKEW_SECONDS} s")
    try:
        signature = base64.b64decode(headers.get("x-registry-signature", ""), validate=True)
    except binascii.Error:
        raise errors.PeerCallRefused("签名不是 base64 / signature is not base64") from None
    try:
        peer = await get_peer_by_registry(reg, caller)
    except errors.PeerNotFound:
        raise errors.PeerCallRefused(f"{caller} 不是本库固定的对端 / {caller} is not a pinned peer") from None
    if not peer.trust_list:
        raise errors.PeerCallRefused(f"尚未取得 {caller} 的信任列表 / no trust list of {caller} yet")
    public_key = trust_list_key_from_proof(json.loads(peer.trust_list))  # verified under the pin when stored
    message = _message(method, path, caller, reg.settings.registry_id, stamp, nonce, body)
    try:
        verify_ed25519(public_key, message, signature)
    except SigningError:
        raise errors.PeerCallRefused("登记库签名无效 / the registry signature does not verify") from None
    cutoff = datetime.now(UTC) - timedelta(seconds=2 * SKEW_SECONDS)
    await session.exec(delete(FederationNonce).where(col(FederationNonce.seen_at) < cutoff))
    if (await session.exec(select(FederationNonce).where(col(FederationNonce.caller) == caller,
                                                         col(FederationNonce.nonce) == nonce))).first():  # fmt: skip
        raise errors.PeerCallRefused("重放的调用 / replayed call")
    session.add(FederationNonce(caller=caller, nonce=nonce))
    try:
        await session.flush()
    except IntegrityError:  # the same call racing in another worker
        raise errors.PeerCallRefused("重放的调用 / replayed call") from None
    return caller
