"""The running registry's shared parts: settings, database, master key, key provider, templates.

One ``Registry`` per process (the web app, the CLI and the tests each build one). It holds nothing that must
agree across workers except caches whose source of truth is the database.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from registry.db import Database
from registry.federation.service import PeerTrust
from registry.holders.identity import IdentityProvider
from registry.http.ratelimit import RateLimiter
from registry.licence_types import Catalog, default_catalog
from registry.licenses.group import GroupCommit
from registry.log import entries as log_entries
from registry.rendering.pool import RenderPool
from registry.settings import Settings
from registry.stats.tally import Tally
from registry.trust.caches import RegistryCaches, TrustPublisher
from signing.keys import KeyProvider, MasterKey, SealedKeyProvider, Signer


@dataclass
class Registry:
    settings: Settings
    db: Database
    master_key: MasterKey
    key_provider: KeyProvider
    catalog: Catalog
    # Unsealed signers by signing_key.id. A key's secret never changes, so entries never go stale; which
    # key is *active* is read from the database on every issuance.
    signers: dict[int, Signer] = field(default_factory=dict)
    publisher: TrustPublisher = field(default_factory=TrustPublisher)
    caches: RegistryCaches = field(init=False)
    tally: Tally = field(init=False)
    render_pool: RenderPool = field(default_factory=RenderPool)
    verify_limiter: RateLimiter = field(init=False)
    login_limiter: RateLimiter = field(init=False)
    # The public reads (trust list, status lists, DID documents, log) and photo verifications (registry.http.ratelimit).
    read_limiter: RateLimiter = field(init=False)
    image_limiter: RateLimiter = field(init=False)
    # Who holders are: None means the built-in ID-number-and-password provider (registry.holders.service).
    identity: IdentityProvider | None = None
    # POST /api/v1/licenses in flight, written a group per transaction (registry.licenses.service.issue).
    issue_group: GroupCommit[Any, Any] = field(default_factory=GroupCommit)
    # Bearer tokens verified lately: token -> (Principal, expiry as a Unix time), oldest first (auth.tokens).
    verified_tokens: OrderedDict[str, tuple[Any, float]] = field(default_factory=OrderedDict)
    # Peers' trust lists and status lists as this worker last loaded them (registry.federation.service).
    peers: PeerTrust = field(default_factory=PeerTrust)

    def __post_init__(self) -> None:
        log_entries.install()  # every transaction of this process appends its log entries as it commits
        self.caches = RegistryCaches(self.settings)
        self.tally = Tally(self.db)
        self.verify_limiter = RateLimiter(self.settings.verify_rate_per_minute)
        self.login_limiter = RateLimiter(self.settings.login_rate_per_minute, "登录请求 / login attempts")
        self.read_limiter = RateLimiter(self.settings.public_read_rate_per_minute, "公开数据读取 / public reads")
        self.image_limiter = RateLimiter(self.settings.verify_image_rate_per_minute, "拍照核验 / photo verifications")

    @classmethod
    def from_settings(cls, settings: Settings) -> Registry:
        master = MasterKey.load_or_create(settings.master_key_file)
        return cls(
            settings=settings,
            db=Database(settings.database_url, sqlite_cache_mib=settings.sqlite_cache_mib),
            master_key=master,
            key_provider=SealedKeyProvider(master),
            catalog=default_catalog(),
        )

    async def close(self) -> None:
        await self.caches.stop()
        await self.tally.flush()
        self.render_pool.close()
        await self.db.dispose()
