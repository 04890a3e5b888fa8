"""The key provider seam (issue #8): a second, HSM-like implementation of :class:`KeyProvider` behaves as the
file-based one does, the registry issues verifiable licences through it, and no key material is ever logged or
returned.

``InMemoryHsm`` below is a test implementation written the way a KMS/HSM provider would be (see "KMS/HSM seam"
in ``signing/keys.py``): keys are made and kept inside it, the ``sealed`` bytes the registry stores are only an
opaque handle, and ``sign`` is the one secret operation, performed inside.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import logging
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import base58
import httpx
import nacl.signing
import pytest
from sqlmodel import select

from signing.data_integrity import add_proof, verify_proof
from signing.errors import SealError, SigningError
from signing.keys import (
    Ed25519Signer,
    GeneratedKey,
    KeyProvider,
    MasterKey,
    SealedKeyProvider,
    Signer,
    unseal,
    verify_ed25519,
)
from signing.multikey import multikey_to_public_key, public_key_to_multikey, secret_seed_to_multikey

VM = "did:web:registry.test:departments:11440300MB2C91722X#key-1"
CREATED = "2026-01-05T08:00:00Z"


# --- a provider whose keys never leave it --------------------------------------------------------------------


class HsmSigner:
    """A signer whose key stays in the HSM: ``sign`` asks the HSM. Not ``self_checking``, so ``add_proof``
    verifies every signature it returns before anything is issued."""

    __slots__ = ("_handle", "_hsm", "_public_key", "_verification_method")

    def __init__(self, hsm: InMemoryHsm, handle: bytes, verification_method: str, public_key: bytes) -> None:
        self._hsm, self._handle = hsm, handle
        self._verification_method, self._public_key = verification_method, public_key

    @property
    def verification_method(self) -> str:
        """The verification method URL that proofs made by this signer name."""
        return self._verification_method

    @property
    def public_key(self) -> bytes:
        """The 32-byte Ed25519 public key."""
        return self._public_key

    def sign(self, message: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of ``message``."""
        return self._hsm.sign(self._handle, message)


class InMemoryHsm:
    """A stand-in for a KMS/HSM. ``generate`` returns a random handle as ``sealed`` (a KMS key id, in a real
    one); the Ed25519 seed is made here and never returned. A handle opens only for the key reference it was
    made for, as a sealed blob does."""

    def __init__(self) -> None:
        self._keys: dict[bytes, tuple[str, nacl.signing.SigningKey]] = {}
        self.signatures = 0
        self.faulty = False  # a glitching device: returns a signature that does not verify

    def generate(self, key_ref: str, verification_method: str) -> GeneratedKey:
        handle = b"hsm-handle:" + secrets.token_bytes(16)
        key = nacl.signing.SigningKey.generate()
        self._keys[handle] = (key_ref, key)
        return GeneratedKey(public_key=bytes(key.verify_key), sealed=handle)

    def load(self, key_ref: str, verification_method: str, sealed: bytes) -> Signer:
        entry = self._keys.get(bytes(sealed))
        if entry is None or entry[0] != key_ref:
            raise SealError(f"the HSM holds no key {key_ref!r} under this handle")
        return HsmSigner(self, bytes(sealed), verification_method, bytes(entry[1].verify_key))

    def sign(self, handle: bytes, message: bytes) -> bytes:
        self.signatures += 1
        signature = self._keys[handle][1].sign(message).signature
        return bytes([signature[0] ^ 1]) + signature[1:] if self.faulty else signature


def _providers() -> list[KeyProvider]:
    return [SealedKeyProvider(MasterKey.generate()), InMemoryHsm()]


PROVIDERS = pytest.mark.parametrize("provider", _providers(), ids=["sealed", "hsm"])


# --- the interface ----------------------------------------------------------------------------------------


def _members(protocol: type) -> list[str]:
    return sorted(
        name
        for name, value in vars(protocol).items()
        if not name.startswith("_") and (callable(value) or isinstance(value, property))
    )


@pytest.mark.parametrize(
    ("protocol", "implementation"),
    [(KeyProvider, SealedKeyProvider), (KeyProvider, InMemoryHsm), (Signer, Ed25519Signer), (Signer, HsmSigner)],
)
def test_interface_matches(protocol: type, implementation: type) -> None:
    """Same members, same signatures (warehouse's test_interface_matches): either provider plugs in."""
    members = _members(protocol)
    assert members
    for name in members:
        declared, implemented = getattr(protocol, name), getattr(implementation, name)
        if isinstance(declared, property):
            assert isinstance(implemented, property), name
            declared, implemented = declared.fget, implemented.fget
        assert inspect.signature(implemented) == inspect.signature(declared), name


@PROVIDERS
def test_generate_load_sign_verify(provider: KeyProvider) -> None:
    assert isinstance(provider, KeyProvider)
    generated = provider.generate("11440300MB2C91722X#key-1", VM)
    assert isinstance(generated, GeneratedKey)
    assert len(generated.public_key) == 32 and isinstance(generated.sealed, bytes) and generated.sealed
    signer = provider.load("11440300MB2C91722X#key-1", VM, generated.sealed)
    assert isinstance(signer, Signer)
    assert (signer.verification_method, signer.public_key) == (VM, generated.public_key)
    signature = signer.sign(b"message")
    assert len(signature) == 64
    verify_ed25519(generated.public_key, b"message", signature)
    # Loaded again (another worker, after a restart): the same key, the same (deterministic) signatures.
    again = provider.load("11440300MB2C91722X#key-1", VM, generated.sealed)
    assert again.public_key == generated.public_key and again.sign(b"message") == signature
    # As driver types come back from a database.
    assert provider.load("11440300MB2C91722X#key-1", VM, memoryview(generated.sealed)).public_key == signer.public_key  # type: ignore[arg-type]
    other = provider.generate("11440300MB2C91722X#key-2", VM)
    assert other.public_key != generated.public_key and other.sealed != generated.sealed


@PROVIDERS
def test_wrong_key_ref_or_tampered_sealed_bytes_fail(provider: KeyProvider) -> None:
    generated = provider.generate("11440300MB2C91722X#key-1", VM)
    for key_ref in ("11440300MB2C91722X#key-2", "11440300MB2C91722Y#key-1", "x"):
        with pytest.raises(SealError):
            provider.load(key_ref, VM, generated.sealed)
    sealed = generated.sealed
    variants = [sealed[:-1], sealed + b"\x00", b"", sealed[1:]]
    for index in range(len(sealed)):
        flipped = bytearray(sealed)
        flipped[index] ^= 0x01
        variants.append(bytes(flipped))
    for tampered in variants:
        with pytest.raises(SealError):
            provider.load("11440300MB2C91722X#key-1", VM, tampered)
    # A blob from the other kind of provider is not a key here either.
    for stranger in _providers():
        if type(stranger) is not type(provider):
            with pytest.raises(SealError):
                provider.load("11440300MB2C91722X#key-1", VM, stranger.generate("11440300MB2C91722X#key-1", VM).sealed)


@PROVIDERS
def test_proofs_made_through_either_provider_verify(provider: KeyProvider) -> None:
    generated = provider.generate("k#key-1", VM)
    signer = provider.load("k#key-1", VM, generated.sealed)
    secured = add_proof(
        {"@context": ["https://www.w3.org/ns/credentials/v2"], "id": "urn:x:1"}, signer, created=CREATED
    )
    verify_proof(secured, generated.public_key)


def test_a_faulty_hsm_signature_is_caught_before_anything_is_issued() -> None:
    hsm = InMemoryHsm()
    generated = hsm.generate("k#key-1", VM)
    signer = hsm.load("k#key-1", VM, generated.sealed)
    assert not getattr(signer, "self_checking", False)
    hsm.faulty = True
    with pytest.raises(SigningError, match="does not verify"):
        add_proof({"id": "urn:x:1"}, signer, created=CREATED)
    hsm.faulty = False
    add_proof({"id": "urn:x:1"}, signer, created=CREATED)


# --- the registry through the HSM provider, and what it never reveals ------------------------------------------
# These run against a database of their own: keys made by the test HSM exist only in this process, and must not
# reach the shared test database that other tests (and subprocesses) sign from.

BASE = "http://keys.registry.test"
REGISTRY = str(Path(sys.executable).parent / "registry")


@pytest.fixture
def own_database(tmp_path: Path) -> Iterator[dict[str, str]]:
    from registry.migrate import upgrade
    from tests.databases import fresh_database

    url, drop = fresh_database(tmp_path, "keys")
    upgrade(url)
    env = {
        "REGISTRY_DATABASE_URL": url,
        "REGISTRY_DATA_DIR": str(tmp_path / "var"),
        "REGISTRY_MASTER_KEY_FILE": str(tmp_path / "master.key"),
        "REGISTRY_BASE_URL": BASE,
    }
    try:
        yield env
    finally:
        drop()


@dataclass
class Running:
    reg: Any
    client: httpx.AsyncClient
    transport: httpx.ASGITransport


@asynccontextmanager
async def running(env: dict[str, str], provider: KeyProvider | None) -> AsyncIterator[Running]:
    from registry.app import create_app
    from registry.context import Registry
    from registry.db import Database
    from registry.licence_types import default_catalog
    from registry.settings import Settings

    settings = Settings.from_env(env)
    if provider is None:
        reg = Registry.from_settings(settings)
    else:
        reg = Registry(
            settings=settings,
            db=Database(settings.database_url),
            master_key=MasterKey.generate(),
            key_provider=provider,
            catalog=default_catalog(),
        )
    transport = httpx.ASGITransport(app=create_app(registry=reg))
    try:
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
            yield Running(reg, c, transport)
    finally:
        await reg.close()


async def _department(run: Running, types: list[str]) -> tuple[str, dict[str, str], httpx.Response]:
    from registry.orgs.service import create_organisation
    from tests.factories import new_uscc

    made = await create_organisation(run.reg, code=new_uscc(), name="深圳市公安局", role="issuer", license_types=types)
    resp = await run.client.post(
        "/api/v1/auth/token",
        data={"grant_type": "client_credentials", "client_id": made.client_id, "client_secret": made.client_secret},
    )
    assert resp.status_code == 200, resp.text
    return made.code, {"Authorization": f"Bearer {resp.json()['access_token']}"}, resp


async def _issue(run: Running, auth: dict[str, str], license_type: str = "driving_license") -> httpx.Response:
    lt = run.reg.catalog.get(license_type)
    h = lt.example_holder
    body = {
        "type": license_type,
        "holder": {"id_type": h.id_type, "id_number": h.id_number, "name": h.name},
        "fields": lt.example_fields(),
    }
    resp = await run.client.post(
        "/api/v1/licenses", json=body, headers={**auth, "Idempotency-Key": secrets.token_hex(8)}
    )
    assert resp.status_code == 201, resp.text
    return resp


async def _verdict(run: Running, payload: str) -> str:
    resp = await run.client.post("/api/v1/verifications", json={"payload": payload})
    assert resp.status_code == 200, resp.text
    verdict: str = resp.json()["verdict"]
    return verdict


@pytest.mark.integration
async def test_the_registry_issues_verifiable_licences_through_the_hsm_provider(own_database: dict[str, str]) -> None:
    from registry.log.service import verify_log
    from registry.models import SigningKey
    from registry.orgs.service import rotate_key
    from verification.status_list import bit_at, parse_status_list_credential

    hsm = InMemoryHsm()
    async with running(own_database, hsm) as run:
        code, auth, _ = await _department(run, ["driving_license"])
        async with run.reg.db.read() as session:
            stored = (await session.exec(select(SigningKey).where(SigningKey.org_code == code))).one()
        assert stored.sealed_secret.startswith(b"hsm-handle:")  # the database holds a handle, no key material

        licence = (await _issue(run, auth)).json()
        did = (await run.client.get(f"/departments/{code}/did.json")).json()
        key_1 = multikey_to_public_key(did["verificationMethod"][0]["publicKeyMultibase"])
        verify_proof(licence["credential"], key_1)
        assert await _verdict(run, licence["qr_payload"]) == "valid"

        # The status list is signed through the HSM too, and shows the revocation.
        resp = await run.client.post(
            f"/api/v1/licenses/{licence['identifier']}/revoke", json={"reason": "依法撤销"}, headers=auth
        )
        assert resp.status_code == 200, resp.text
        assert await _verdict(run, licence["qr_payload"]) == "revoked"
        entry = next(e for e in licence["credential"]["credentialStatus"] if e["statusPurpose"] == "revocation")
        status_list = (await run.client.get(entry["statusListCredential"].replace(BASE, ""))).json()
        verify_proof(status_list, key_1)
        assert bit_at(parse_status_list_credential(status_list).bits, int(entry["statusListIndex"]))

        # A rotated key is made in the HSM; what it signs verifies, and so does what key-1 signed before.
        await rotate_key(run.reg, code)
        second = (await _issue(run, auth)).json()
        assert second["credential"]["proof"]["verificationMethod"].endswith("#key-2")
        assert await _verdict(run, second["qr_payload"]) == "valid"

        # The trust list and the log's checkpoints are signed with a trust key the HSM made.
        trust = (await run.client.get("/api/v1/trust-list")).json()
        trust_key = trust["proof"]["verificationMethod"].split("#")[0].removeprefix("did:key:")
        verify_proof(trust, multikey_to_public_key(trust_key))
        report = await verify_log(run.reg)
        assert report.ok and report.checkpoints >= 1, report.problems
    assert hsm.signatures >= 5  # two licences, a status list, the trust list, a checkpoint: all signed in there


def _forms(secret: bytes) -> set[bytes]:
    """The ways a secret could be written out: raw, hex, base64 (both alphabets, with or without padding),
    base58 and multibase, and Python's repr of the bytes."""
    return {
        secret,
        secret.hex().encode(),
        secret.hex().upper().encode(),
        base64.b64encode(secret),
        base64.b64encode(secret).rstrip(b"="),
        base64.urlsafe_b64encode(secret).rstrip(b"="),
        base58.b58encode(secret),
        b"z" + base58.b58encode(secret),
        repr(secret).encode(),
    }


def _leaks(haystack: bytes, secrets_: dict[str, bytes]) -> list[str]:
    return sorted(name for name, secret in secrets_.items() for form in _forms(secret) if form in haystack)


@pytest.mark.integration
@pytest.mark.slow
async def test_keys_are_never_logged_or_returned(
    own_database: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    from datetime import UTC, datetime, timedelta

    from registry.auth.tokens import token_key
    from registry.models import SigningKey, TrustKey
    from registry.orgs.service import revoke_key, rotate_key, seal_ref
    from registry.staff.service import create_user
    from tests.conftest import page_login

    caplog.set_level(logging.DEBUG)  # the root logger: every logger that propagates, at every level
    seen: list[tuple[str, bytes]] = []  # (where, what was answered)

    def keep(where: str, resp: httpx.Response | subprocess.CompletedProcess[str]) -> None:
        if isinstance(resp, httpx.Response):
            assert resp.status_code < 400, (where, resp.text)
            seen.append((where, resp.content + str(resp.headers).encode()))
        else:
            assert resp.returncode == 0, (where, resp.stderr)
            seen.append((where, (resp.stdout + resp.stderr).encode()))

    async with running(own_database, None) as run:
        code, auth, token = await _department(run, ["driving_license", "business_license"])
        keep("POST /api/v1/auth/token", token)
        issued = await _issue(run, auth)
        keep("POST /api/v1/licenses", issued)
        identifier = issued.json()["identifier"]
        for path in (f"/api/v1/licenses/{identifier}", f"/api/v1/licenses/{identifier}/credential"):
            keep(f"GET {path}", await run.client.get(path, headers=auth))
        await rotate_key(run.reg, code)
        keep("POST /api/v1/licenses (key-2)", await _issue(run, auth, "business_license"))
        await revoke_key(run.reg, code, "key-2", datetime.now(UTC) - timedelta(minutes=1))
        keep("POST /api/v1/licenses (key-3)", await _issue(run, auth))
        for path in (f"/departments/{code}/did.json", "/api/v1/trust-list", "/api/v1/log/checkpoint"):
            keep(f"GET {path}", await run.client.get(path))
        size = (await run.client.get("/api/v1/log/checkpoint")).json()["tree_size"]
        keep("GET /api/v1/log/entries", await run.client.get(f"/api/v1/log/entries?start=0&end={size}"))
        status_url = issued.json()["credential"]["credentialStatus"][0]["statusListCredential"]
        keep("GET status list", await run.client.get(status_url.replace(BASE, "")))
        # The console's keys page, as a clerk of the department sees it.
        await create_user(
            run.reg, org_code=code, username="keys-clerk", password="Counter-Shift-7", display_name="李娜"
        )
        page = httpx.AsyncClient(transport=run.transport, base_url=BASE, headers={"Origin": BASE})
        async with page:
            login = await page_login(page, "/login", username="keys-clerk", password="Counter-Shift-7")
            assert login.status_code == 303, login.text
            keys_page = await page.get("/console?tab=keys")
            assert "key-3" in keys_page.text
            keep("GET /console?tab=keys", keys_page)

        # Every secret there is, now that the keys exist: each seed (unsealed here, with the master key), each
        # sealed blob as stored, the master key itself and the access-token key derived from it.
        master_bytes = await asyncio.to_thread(Path(own_database["REGISTRY_MASTER_KEY_FILE"]).read_bytes)
        master = MasterKey(master_bytes)
        found: dict[str, bytes] = {"master key": master_bytes, "token key": token_key(run.reg, 1)}
        async with run.reg.db.read() as session:
            keys = (await session.exec(select(SigningKey).where(SigningKey.org_code == code))).all()
            trust = (await session.exec(select(TrustKey))).all()
        assert len(keys) == 3 and len(trust) == 1
        public_keys = [k.public_key_multibase for k in keys]
        for k in keys:
            found[f"{k.key_ref} sealed"] = k.sealed_secret
            found[f"{k.key_ref} seed"] = unseal(master, k.sealed_secret, seal_ref(code, k.key_ref))
        for t in trust:
            found["trust sealed"] = t.sealed_secret
            found["trust seed"] = unseal(master, t.sealed_secret, f"registry#{t.key_ref}")
        for name in [n for n in found if n.endswith("seed")]:
            found[f"{name} (multikey)"] = secret_seed_to_multikey(found[name]).encode()
            assert len(found[name]) == 32
        log_rows = await run.client.get(f"/api/v1/log/entries?start=0&end={size}")
        log_text = json.dumps(log_rows.json()).encode()

    # The CLI's key listing, rotation and revocation print no secret either.
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")} | own_database

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([REGISTRY, *args], env=env, capture_output=True, text=True, timeout=120)

    keep("registry keys list --json", cli("keys", "list", "--org", code, "--json"))
    keep("registry keys list", cli("keys", "list", "--org", code))
    keep("registry keys rotate --json", cli("keys", "rotate", "--org", code, "--json"))
    when = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    keep("registry keys revoke", cli("keys", "revoke", "--org", code, "--key", "key-1", "--compromised-at", when))

    # The scan can see: the public keys are there (in the DID document, the CLI listing, the console page).
    everything = b"\n".join(body for _, body in seen)
    assert all(pk.encode() in everything for pk in public_keys)
    assert public_key_to_multikey(multikey_to_public_key(public_keys[0])).encode() in everything
    for where, body in seen:
        assert not _leaks(body, found), (where, _leaks(body, found))
    assert not _leaks(log_text, found), _leaks(log_text, found)

    records = caplog.records
    # Captured at DEBUG from every logger of the registry (on SQLite the driver's statement trace is in there too).
    assert records and all(logging.getLogger(n).isEnabledFor(logging.DEBUG) for n in ("registry.batch", "aiosqlite"))
    for record in records:
        text = (record.getMessage() + (record.exc_text or "")).encode()
        # Including the database driver's DEBUG trace of every statement and its parameters (aiosqlite): a
        # sealed blob is bound as a memoryview there, never written out.
        leaked = _leaks(text, found)
        assert not leaked, (record.name, leaked)
