"""Real servers: two workers sharing one database, and the offline verifier after the server has stopped."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from registry.licence_types import default_catalog
from registry.rendering.qr import render_qr_png
from registry.settings import Settings
from tests.factories import new_uscc
from verification.payload import decode_payload, encode_payload

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REGISTRY = str(Path(sys.executable).parent / "registry")
VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "eddsa-jcs-2022"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def master_key(settings: Settings) -> str:
    # One registry, one master key: the servers share the database, so they share the key that seals it.
    return str(settings.master_key_file)


def _env(tmp: Path, base_url: str, master_key: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.update(
        REGISTRY_DATA_DIR=str(tmp / "var"), REGISTRY_BASE_URL=base_url, REGISTRY_MASTER_KEY_FILE=master_key, **extra
    )
    if os.environ.get("REGISTRY_TEST_DATABASE_URL"):
        env["REGISTRY_DATABASE_URL"] = os.environ["REGISTRY_TEST_DATABASE_URL"]
    return env


def cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([REGISTRY, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@contextmanager
def serving(env: dict[str, str], cwd: Path, port: int) -> Iterator[str]:
    proc = subprocess.Popen(
        [REGISTRY, "serve", "--port", str(port)], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, "server exited"
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _department(env: dict[str, str], cwd: Path, types: str) -> dict[str, Any]:
    out = cli(
        env,
        cwd,
        "admin",
        "create-org",
        "--code",
        new_uscc(),
        "--name",
        "深圳市公安局",
        "--role",
        "issuer",
        "--license-types",
        types,
        "--json",
    )
    assert out.returncode == 0, out.stderr
    org: dict[str, Any] = json.loads(out.stdout)
    return org


def _token(url: str, org: dict[str, Any]) -> dict[str, str]:
    resp = httpx.post(
        f"{url}/api/v1/auth/token",
        data={"grant_type": "client_credentials", "client_id": org["client_id"], "client_secret": org["client_secret"]},
    )
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def _issue(url: str, auth: dict[str, str], license_type: str) -> dict[str, Any]:
    lt = default_catalog().get(license_type)
    h = lt.example_holder
    body = {
        "type": license_type,
        "holder": {"id_type": h.id_type, "id_number": h.id_number, "name": h.name},
        "fields": lt.example_fields(),
    }
    resp = httpx.post(f"{url}/api/v1/licenses", json=body, headers={**auth, "Idempotency-Key": str(uuid.uuid4())})
    assert resp.status_code == 201, resp.text
    out: dict[str, Any] = resp.json()
    return out


def test_revoke_through_one_worker_seen_by_the_other(tmp_path: Path, master_key: str) -> None:
    port_a, port_b = _free_port(), _free_port()
    env = _env(tmp_path, f"http://127.0.0.1:{port_a}", master_key)
    org = _department(env, tmp_path, "driving_license")
    with serving(env, tmp_path, port_a) as a, serving(env, tmp_path, port_b) as b:
        auth = _token(a, org)
        lic = _issue(a, auth, "driving_license")
        verdict = httpx.post(f"{b}/api/v1/verifications", json={"payload": lic["qr_payload"]}).json()
        assert verdict["verdict"] == "valid"
        resp = httpx.post(f"{a}/api/v1/licenses/{lic['identifier']}/revoke", json={"reason": "依法撤销"}, headers=auth)
        assert resp.status_code == 200
        revoked_at = time.monotonic()
        while True:
            verdict = httpx.post(f"{b}/api/v1/verifications", json={"payload": lic["qr_payload"]}).json()
            elapsed = time.monotonic() - revoked_at
            if verdict["verdict"] == "revoked":
                break
            assert elapsed < 1.0, f"worker B still says {verdict['verdict']} after {elapsed:.2f}s"
            time.sleep(0.05)
        assert elapsed < 1.0


def _verify(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, dict[str, Any]]:
    out = cli(env, cwd, "verify", *args, "--json")
    return out.returncode, (json.loads(out.stdout) if out.stdout.strip() else {"stderr": out.stderr})


def test_offline_verification_after_the_server_stops(tmp_path: Path, master_key: str) -> None:
    port = _free_port()
    env = _env(tmp_path, f"http://127.0.0.1:{port}", master_key, REGISTRY_STATUS_LIST_TTL_SECONDS="4")
    org = _department(env, tmp_path, "resident_id_card,residence_permit")
    with serving(env, tmp_path, port) as url:
        auth = _token(url, org)
        good = _issue(url, auth, "resident_id_card")
        gone = _issue(url, auth, "residence_permit")
        assert (
            httpx.post(
                f"{url}/api/v1/licenses/{gone['identifier']}/revoke", json={"reason": "依法撤销"}, headers=auth
            ).status_code
            == 200
        )
        online = cli(env, tmp_path, "verify", good["qr_payload"], "--online", url, "--json")
        assert online.returncode == 0, online.stdout + online.stderr
    # The server is gone: export straight from the database, then verify with files alone.
    export = cli(env, tmp_path, "trust-list", "export", "trust.json", "--status-lists", "lists")
    assert export.returncode == 0, export.stderr
    fingerprint = export.stderr.strip().rsplit(" ", 1)[1]
    files = ("--trust-list", "trust.json", "--fingerprint", fingerprint, "--status-lists", "lists")

    code, result = _verify(env, tmp_path, good["qr_payload"], *files)
    assert (code, result["verdict"], result["mode"]) == (0, "valid", "offline")
    assert result["status_freshness"]["stale"] is False
    assert result["trust_freshness"]["stale"] is False

    tampered = decode_payload(good["qr_payload"])
    tampered["credentialSubject"]["holder"]["name"] = "李四"
    code, result = _verify(env, tmp_path, encode_payload(tampered), *files)
    assert (code, result["verdict"]) == (1, "bad_signature")
    code, result = _verify(env, tmp_path, gone["qr_payload"], *files)
    assert (code, result["verdict"]) == (1, "revoked")
    code, result = _verify(env, tmp_path, "garbage", *files)
    assert (code, result["verdict"]) == (1, "malformed")

    # A photo file and a credential file work as well as the scanned text.
    (tmp_path / "qr.png").write_bytes(render_qr_png(good["qr_payload"]))
    code, result = _verify(env, tmp_path, "qr.png", *files)
    assert (code, result["verdict"]) == (0, "valid")
    (tmp_path / "cred.json").write_text(json.dumps(good["credential"], ensure_ascii=False))
    code, result = _verify(env, tmp_path, "cred.json", *files)
    assert (code, result["verdict"]) == (0, "valid")

    # A pinned fingerprint that does not match, no trust at all: usage errors.
    code, result = _verify(env, tmp_path, good["qr_payload"], "--trust-list", "trust.json", "--fingerprint", "0" * 64)
    assert code == 2
    code, result = _verify(env, tmp_path, good["qr_payload"])
    assert code == 2
    # Unpinned: it still verifies, and says so.
    code, result = _verify(env, tmp_path, good["qr_payload"], "--trust-list", "trust.json")
    assert code == 0
    assert any("未经指纹固定" in w for w in result["warnings"])

    # Past the status lists' freshness window, the answer says they are stale.
    time.sleep(4.5)
    code, result = _verify(env, tmp_path, good["qr_payload"], *files)
    assert result["status_freshness"]["stale"] is True
    human = cli(env, tmp_path, "verify", good["qr_payload"], *files)
    assert "STALE" in human.stdout


def test_w3c_vector_with_an_explicit_key(tmp_path: Path, master_key: str) -> None:
    key = json.loads((VECTORS / "keyPair.json").read_text())["publicKeyMultibase"]
    env = _env(tmp_path, "http://127.0.0.1:1", master_key)
    out = cli(env, tmp_path, "verify", str(VECTORS / "signedJCS.json"), "--trust-key", key, "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(out.stdout)["verdict"] == "valid"
    other = "z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
    out = cli(env, tmp_path, "verify", str(VECTORS / "signedJCS.json"), "--trust-key", other, "--json")
    assert out.returncode == 1
    assert json.loads(out.stdout)["verdict"] == "unknown_issuer"
