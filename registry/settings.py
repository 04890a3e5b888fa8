"""Configuration from the environment, with defaults that run with nothing set (SQLite under ./var/)."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

MIB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    base_url: str
    master_key_file: Path
    # The administrative region code that names this registry (DESIGN §5, share codes and federation).
    registry_id: str = "440300"
    registry_name: str = "深圳市电子证照库"
    token_ttl_seconds: int = 900
    # Which generation of the access-token key signs new tokens; raise it to rotate (registry.auth.tokens).
    token_key_generation: int = 1
    max_body_bytes: int = MIB
    # Bits per W3C Bitstring Status List; 131,072 is the spec's minimum for herd privacy.
    status_list_size: int = 131_072
    # How long a published status list may be relied on (its validUntil, and Cache-Control max-age).
    status_list_ttl_seconds: int = 300
    # How long the signed trust list is valid before verifiers must fetch a new one.
    trust_list_ttl_seconds: int = 86_400
    # How often a worker checks the database for status or key changes made through other workers.
    cache_poll_seconds: float = 0.5
    # Public verification requests per minute per client address (per worker).
    verify_rate_per_minute: int = 120
    login_rate_per_minute: int = 30  # login attempts per client address, holders and staff together
    # SQLite page cache per connection. Inserts into a big database land on random pages of its indexes (holder
    # IDs, content keys); SQLite's default 2 MiB made bulk issuance read pages back at a million licences.
    sqlite_cache_mib: int = 16
    # Federation (跨省通办): how long a call to a peer registry may take, how often peers' trust lists are
    # fetched again (a list older than its nextUpdate is used, and said to be stale), and how stale a worker's
    # copy of the peers table may be (a peer added or removed reaches every worker within it).
    federation_timeout_seconds: float = 5.0
    federation_refresh_seconds: int = 300
    federation_peers_reload_seconds: float = 5.0
    # Edges (registry.http.headers): browser origins, besides our own, that may call the authenticated API with a
    # bearer token (CORS; the public read and verification endpoints allow every origin, without credentials).
    cors_origins: tuple[str, ...] = ()
    # Per client address and worker: reads of the trust list, status lists, DID documents and the log (generous:
    # verifiers and peers poll them), and photo verifications (decoding an image costs far more than a scan).
    public_read_rate_per_minute: int = 600
    verify_image_rate_per_minute: int = 30

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("REGISTRY_DATA_DIR", "./var")).resolve()
        database_url = env.get("REGISTRY_DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'registry.db'}"
        return cls(
            data_dir=data_dir,
            database_url=normalise_database_url(database_url),
            base_url=env.get("REGISTRY_BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
            master_key_file=Path(env.get("REGISTRY_MASTER_KEY_FILE", str(data_dir / "master.key"))).resolve(),
            registry_id=env.get("REGISTRY_ID", "440300"),
            token_key_generation=int(env.get("REGISTRY_TOKEN_KEY_GENERATION", "1")),
            registry_name=env.get("REGISTRY_NAME", "深圳市电子证照库"),
            verify_rate_per_minute=int(env.get("REGISTRY_VERIFY_RATE_PER_MINUTE", "120")),
            login_rate_per_minute=int(env.get("REGISTRY_LOGIN_RATE_PER_MINUTE", "30")),
            status_list_ttl_seconds=int(env.get("REGISTRY_STATUS_LIST_TTL_SECONDS", "300")),
            trust_list_ttl_seconds=int(env.get("REGISTRY_TRUST_LIST_TTL_SECONDS", "86400")),
            sqlite_cache_mib=int(env.get("REGISTRY_SQLITE_CACHE_MIB", "16")),
            federation_timeout_seconds=float(env.get("REGISTRY_FEDERATION_TIMEOUT_SECONDS", "5")),
            federation_refresh_seconds=int(env.get("REGISTRY_FEDERATION_REFRESH_SECONDS", "300")),
            federation_peers_reload_seconds=float(env.get("REGISTRY_FEDERATION_PEERS_RELOAD_SECONDS", "5")),
            cors_origins=parse_origins(env.get("REGISTRY_CORS_ORIGINS", "")),
            public_read_rate_per_minute=int(env.get("REGISTRY_PUBLIC_READ_RATE_PER_MINUTE", "600")),
            verify_image_rate_per_minute=int(env.get("REGISTRY_VERIFY_IMAGE_RATE_PER_MINUTE", "30")),
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @functools.cached_property  # asked on every scan; the base URL never changes
    def did_web_host(self) -> str:
        """The host part of our did:web identifiers (a port's colon is percent-encoded, per did:web)."""
        netloc = urlsplit(self.base_url).netloc
        return quote(netloc, safe="")

    @functools.cached_property
    def status_list_prefix(self) -> str:
        """Our status lists' URLs start with this; the list id follows."""
        return f"{self.base_url}/status-lists/"

    def department_did(self, code: str) -> str:
        return f"did:web:{self.did_web_host}:departments:{code}"

    def key_id(self, code: str, key_ref: str) -> str:
        """A department key's verification method: derived, never stored, so it follows the base URL."""
        return f"{self.department_did(code)}#{key_ref}"

    def parse_key_id(self, verification_method: str) -> tuple[str, str] | None:
        """(department code, key ref) of one of our verification methods, else None."""
        prefix = f"did:web:{self.did_web_host}:departments:"
        if not verification_method.startswith(prefix):
            return None
        code, sep, key_ref = verification_method[len(prefix) :].partition("#")
        return (code, key_ref) if sep and len(code) == 18 and 0 < len(key_ref) <= 32 else None

    @property
    def token_issuer(self) -> str:
        return self.base_url

    @property
    def token_audience(self) -> str:
        return f"{self.base_url}/api"


def normalise_database_url(url: str) -> str:
    """Accept the URLs people paste (postgres://, postgresql://, sqlite:///) and pick the async driver."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url


def parse_origins(value: str) -> tuple[str, ...]:
    """``REGISTRY_CORS_ORIGINS``: comma-separated origins (``https://host[:port]``), each exactly as browsers send
    it in ``Origin``. A wildcard or a URL with a path is refused at startup rather than silently never matching."""
    origins = []
    for raw in value.split(","):
        origin = raw.strip().rstrip("/")
        if not origin:
            continue
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query or "*" in origin:
            raise ValueError(f"REGISTRY_CORS_ORIGINS: not an origin (scheme://host[:port]): {raw.strip()!r}")
        origins.append(f"{parts.scheme}://{parts.netloc.lower()}")
    return tuple(origins)
