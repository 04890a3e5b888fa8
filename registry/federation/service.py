"""Peers (DESIGN §6 Federation): other registries pinned by the fingerprint of their trust-list key.

A peer's trust list is accepted only if it verifies under the pinned key and names the URL it was pinned
with; the last accepted list is kept, with when it was fetched, so a peer that is down still has its licences
verified — against a list that says how old it is. Nothing a peer serves is trusted before that check, every
call to a peer is bounded in time and size, and a peer that answers garbage is an error, never a 500.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import httpx
from sqlmodel import col, select

from registry import errors
from registry.models import FederationPeer
from verification.status_list import StatusListError, StatusListSnapshot, format_timestamp
from verification.trust_list import TrustList, TrustListError, normalize_fingerprint, verify_trust_list
from verification.verifier import TrustListSource, load_status_list

if TYPE_CHECKING:  # the registry holds a PeerTrust: no import of it at run time
    from registry.context import Registry

log = logging.getLogger("registry.federation")

MAX_ANSWER_BYTES = 4 * 1024 * 1024  # a trust list or status list is far smaller: more is not a peer's answer
REFETCH_SECONDS = 30.0  # an unknown key of a peer's fetches that peer's trust list again at most this often
STATUS_REFETCH_SECONDS = 60.0  # at most this long between fetches of a peer's status list in use
MAX_STATUS_LISTS = 1_000  # peers' status lists held per worker


def normalise_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise errors.ValidationFailed(
            f"对端地址须为 http(s) 基础 URL / the peer URL must be an http(s) base URL: {url!r}"
        )
    return url.strip().rstrip("/")


async def get_json(reg: Registry, url: str) -> Any:
    """GET a peer's JSON, bounded in time and size; anything else is :class:`errors.PeerUnavailable`."""
    timeout = reg.settings.federation_timeout_seconds
    try:
        async with (
            asyncio.timeout(timeout),
            httpx.AsyncClient(timeout=timeout) as client,
            client.stream("GET", url, headers={"Accept": "application/json"}) as resp,
        ):
            if resp.status_code != 200:
                raise errors.PeerUnavailable(f"{url} 返回 {resp.status_code} / {url} answered {resp.status_code}")
            body = bytearray()
            async for chunk in resp.aiter_bytes():
                body += chunk
                if len(body) > MAX_ANSWER_BYTES:
                    raise errors.PeerUnavailable(
                        f"{url} 的应答过大 / {url} answered more than {MAX_ANSWER_BYTES} bytes"
                    )
    except (TimeoutError, httpx.TimeoutException):
        raise errors.PeerUnavailable(
            f"{url} 未在 {timeout:g} 秒内应答 / {url} did not answer within {timeout:g} s"
        ) from None
    except httpx.HTTPError as exc:
        raise errors.PeerUnavailable(f"无法连接 {url} / cannot reach {url}: {type(exc).__name__}") from None
    try:
        return json.loads(bytes(body))
    except (ValueError, UnicodeDecodeError):
        raise errors.PeerUnavailable(f"{url} 的应答不是 JSON / {url} did not answer JSON") from None


async def fetch_trust_list(reg: Registry, url: str, fingerprint: str) -> tuple[dict[str, Any], TrustList]:
    doc = await get_json(reg, f"{url}/api/v1/trust-list")
    try:
        trust_list = verify_trust_list(doc, trusted=[fingerprint])
    except TrustListError as exc:
        if exc.reason == "untrusted_key":
            raise errors.PeerPinMismatch(f"{url}: {exc}") from None
        raise errors.PeerUnavailable(f"{url} 的信任列表无效 / {url} served an invalid trust list: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise errors.PeerUnavailable(f"{url} 的信任列表无效 / {url} served an invalid trust list: {exc}") from None
    if trust_list.base_url.rstrip("/") != url:
        raise errors.PeerUnavailable(
            f"{url} 提供的是 {trust_list.base_url} 的信任列表 / {url} served the trust list of {trust_list.base_url}"
        )
    if trust_list.registry_id == reg.settings.registry_id:
        raise errors.ValidationFailed(
            f"对端与本库同为 {trust_list.registry_id} / the peer has this registry's own id {trust_list.registry_id}"
        )
    return dict(doc), trust_list


def _public(peer: FederationPeer, now: datetime) -> dict[str, Any]:
    trust_list = _parsed(peer)
    return {
        "name": peer.name,
        "url": peer.url,
        "fingerprint": peer.fingerprint,
        "registry_id": peer.registry_id,
        "registry_name": peer.registry_name,
        "fetched_at": format_timestamp(peer.fetched_at) if peer.fetched_at else None,
        "age_seconds": round((now - peer.fetched_at).total_seconds(), 1) if peer.fetched_at else None,
        "trust_list_issued": format_timestamp(trust_list.issued) if trust_list else None,
        "stale": trust_list.is_stale(now) if trust_list else None,
        "last_attempt_at": format_timestamp(peer.last_attempt_at) if peer.last_attempt_at else None,
        "last_error": peer.last_error,
    }


def _parsed(peer: FederationPeer) -> TrustList | None:
    if not peer.trust_list:
        return None
    try:  # stored only after it verified; verified again on every load, never trusted from the database alone
        return verify_trust_list(json.loads(peer.trust_list), trusted=[peer.fingerprint])
    except (TrustListError, ValueError):
        return None


async def add_peer(reg: Registry, name: str, url: str, fingerprint: str) -> dict[str, Any]:
    """Pin a peer. Its trust list is fetched at once: a list under another key refuses the pin; a peer that is
    down is pinned all the same and synced later (its last error is shown)."""
    name = name.strip()
    if not 0 < len(name) <= 64:
        raise errors.ValidationFailed("名称须为 1–64 个字符 / the name must be 1–64 characters")
    url = normalise_url(url)
    try:
        pin = normalize_fingerprint(fingerprint)
    except ValueError as exc:
        raise errors.ValidationFailed(str(exc)) from None
    async with reg.db.read() as session:
        if await session.get(FederationPeer, name) is not None:
            raise errors.PeerExists(f"对端 {name} 已登记 / peer {name} is already pinned")
    peer = FederationPeer(name=name, url=url, fingerprint=pin)
    now = datetime.now(UTC)
    peer.last_attempt_at = now
    try:
        doc, trust_list = await fetch_trust_list(reg, url, pin)
        _accept(peer, doc, trust_list, now)
    except errors.PeerUnavailable as exc:
        peer.last_error = exc.detail
    async with reg.db.transaction() as session:
        session.add(peer)
    reg.peers.forget()
    return _public(peer, now)


def _accept(peer: FederationPeer, doc: dict[str, Any], trust_list: TrustList, now: datetime) -> None:
    peer.trust_list = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    peer.registry_id, peer.registry_name = trust_list.registry_id, trust_list.registry_name
    peer.fetched_at, peer.last_error = now, None


async def sync_peer(reg: Registry, name: str) -> dict[str, Any]:
    """Fetch a peer's trust list again; on failure keep the last accepted one and record why."""
    async with reg.db.read() as session:
        peer = await session.get(FederationPeer, name)
    if peer is None:
        raise errors.PeerNotFound(f"未登记对端 {name} / no peer named {name}")
    now = datetime.now(UTC)
    try:
        doc, trust_list = await fetch_trust_list(reg, peer.url, peer.fingerprint)
        if peer.registry_id and trust_list.registry_id != peer.registry_id:
            raise errors.PeerUnavailable(
                f"{peer.url} 现称 {trust_list.registry_id}，曾为 {peer.registry_id} / the peer now calls itself "
                f"{trust_list.registry_id}, it was {peer.registry_id}"
            )
        values: dict[str, Any] = {}
        probe = FederationPeer(name=peer.name, url=peer.url, fingerprint=peer.fingerprint)
        _accept(probe, doc, trust_list, now)
        values = {k: getattr(probe, k) for k in ("trust_list", "registry_id", "registry_name", "fetched_at")}
        values["last_error"] = None
    except (errors.PeerUnavailable, errors.PeerPinMismatch) as exc:
        values = {"last_error": f"[{exc.code}] {exc.detail}"}
    values["last_attempt_at"] = now
    async with reg.db.transaction() as session:
        row = await session.get(FederationPeer, name)
        if row is None:
            raise errors.PeerNotFound(f"未登记对端 {name} / no peer named {name}")
        for key, value in values.items():
            setattr(row, key, value)
        peer = row
    reg.peers.forget()
    return _public(peer, now)


async def get_peer_by_registry(reg: Registry, registry_id: str) -> FederationPeer:
    async with reg.db.read() as session:
        peer = (
            await session.exec(select(FederationPeer).where(col(FederationPeer.registry_id) == registry_id))
        ).first()
    if peer is None:
        raise errors.PeerNotFound(
            f"未与 {registry_id} 地区登记库互信 / registry {registry_id} is not a pinned peer", registry_id=registry_id
        )
    return peer


async def list_peers(reg: Registry) -> list[dict[str, Any]]:
    async with reg.db.read() as session:
        peers = (await session.exec(select(FederationPeer).order_by(col(FederationPeer.name)))).all()
    now = datetime.now(UTC)
    return [_public(p, now) for p in peers]


async def sync_due(reg: Registry) -> None:
    """The scheduled refresh: peers never fetched, or fetched longer ago than the refresh interval."""
    now = datetime.now(UTC)
    async with reg.db.read() as session:
        peers = (await session.exec(select(FederationPeer))).all()
    for peer in peers:
        age = (now - peer.fetched_at).total_seconds() if peer.fetched_at else None
        if age is None or age >= reg.settings.federation_refresh_seconds:
            await sync_peer(reg, peer.name)


@dataclass
class Refresher:
    """The server's schedule for peers' trust lists."""

    async def run(self, reg: Registry) -> None:
        while True:
            try:
                await sync_due(reg)
            except Exception:  # the next round retries; verification goes on with the lists held
                log.exception("could not refresh the peers' trust lists")
            await asyncio.sleep(min(60.0, max(1.0, reg.settings.federation_refresh_seconds / 5)))


# --- what verification needs from peers ------------------------------------------------------------------


@dataclass
class PeerTrust:
    """A worker's copy of its peers' accepted trust lists and of the status lists fetched from them."""

    _lists: dict[str, TrustList] = field(default_factory=dict)  # peer name -> trust list
    _by_method: dict[str, str] = field(default_factory=dict)  # verification method -> peer name
    _pins: dict[str, tuple[str, str]] = field(default_factory=dict)  # peer name -> (url, fingerprint)
    _fetched: dict[str, float] = field(default_factory=dict)  # peer name -> when this worker last fetched it
    _loaded: float = -1e9
    _status: dict[str, tuple[float, StatusListSnapshot]] = field(default_factory=dict)

    def forget(self) -> None:
        self._loaded = -1e9

    async def _load(self, reg: Registry) -> None:
        if time.monotonic() - self._loaded < reg.settings.federation_peers_reload_seconds:
            return
        async with reg.db.read() as session:
            peers = (await session.exec(select(FederationPeer))).all()
        lists = {p.name: tl for p in peers if (tl := _parsed(p)) is not None}
        for name, fresher in self._lists.items():  # lists this worker fetched itself since (see _refetch)
            if name in lists and fresher.issued > lists[name].issued:
                lists[name] = fresher
        self._lists = lists
        self._pins = {p.name: (p.url, p.fingerprint) for p in peers}
        self._index()
        self._loaded = time.monotonic()

    def _index(self) -> None:
        self._by_method = {method: name for name, tl in self._lists.items() for method in tl.keys}

    async def _refetch(self, reg: Registry, verification_method: str) -> None:
        """A key a peer made since its list was fetched (a new department, a rotation): fetch that peer's list
        now, at most once per :data:`REFETCH_SECONDS`, into this worker's memory (the scheduled refresh
        stores it; this may run inside another transaction, so it writes nothing)."""
        host = verification_method.removeprefix("did:web:").split(":", 1)[0]
        for name, (url, pin) in self._pins.items():
            if quote(urlsplit(url).netloc, safe="") != host:
                continue
            if time.monotonic() - self._fetched.get(name, -1e9) < REFETCH_SECONDS:
                return
            self._fetched[name] = time.monotonic()
            try:
                _, trust_list = await fetch_trust_list(reg, url, pin)
            except (errors.PeerUnavailable, errors.PeerPinMismatch, errors.ValidationFailed) as exc:
                log.warning("peer %s: %s", name, exc.detail)
                return
            self._lists[name] = trust_list
            self._index()
            return

    async def trust_list_for(self, reg: Registry, verification_method: str) -> TrustList | None:
        try:
            await self._load(reg)
        except Exception:  # peers unreadable: their licences read as unknown issuers, never as a server error
            log.exception("could not load the peers' trust lists")
            self._loaded = time.monotonic()  # and do not retry on every scan
        name = self._by_method.get(verification_method)
        if name is None and verification_method.startswith("did:web:"):
            await self._refetch(reg, verification_method)
            name = self._by_method.get(verification_method)
        return self._lists.get(name) if name is not None else None

    async def status_lists(self, reg: Registry, trust_list: TrustList, urls: set[str]) -> list[StatusListSnapshot]:
        """The peer's status lists named by a credential, fetched (or refreshed) and verified under the peer's
        keys. One that cannot be fetched now is used as last fetched (the verdict then says it is stale) or,
        never fetched, left out (the status is then unknown)."""
        prefix = trust_list.base_url.rstrip("/") + "/"
        out: list[StatusListSnapshot] = []
        trust = TrustListSource(trust_list)
        for url in sorted(urls)[:4]:
            if not url.startswith(prefix):
                continue  # a peer's credential may only point at that peer's lists
            held = self._status.get(url)
            # Fetched again well within the peer's own freshness window, so a revocation there shows here soon.
            refetch = min(STATUS_REFETCH_SECONDS, trust_list.status_list_max_age.total_seconds() / 5)
            if held is None or time.monotonic() - held[0] >= refetch:
                try:
                    snapshot = load_status_list(await get_json(reg, url), trust)
                    held = (time.monotonic(), snapshot)
                    self._status[url] = held
                    if len(self._status) > MAX_STATUS_LISTS:  # bounded: the oldest fetched goes first
                        del self._status[min(self._status, key=lambda u: self._status[u][0])]
                except (errors.PeerUnavailable, StatusListError, ValueError, TypeError) as exc:
                    log.warning("status list %s unavailable: %s", url, exc)
            if held is not None:
                out.append(held[1])
        return out
