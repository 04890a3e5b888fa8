"""Across regions (issue #9): two registries, two processes, two databases, on loopback.

Beijing (110000) issues; Shenzhen (440300) pins Beijing by its trust-list key and verifies Beijing's licences —
online, and with Beijing stopped. Misbehaving peers (slow, garbage, another key) are small HTTP servers in the
test: a peer is outside the system, so that is what a stub may stand for.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from registry.licence_types import default_catalog
from tests.databases import fresh_database
from tests.factories import new_uscc
from verification.trust_list import fingerprint, trust_list_key_from_proof

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REGISTRY = str(Path(sys.executable).parent / "registry")
PEERS_RELOAD = "1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Region:
    url: str
    env: dict[str, str]
    cwd: Path
    proc: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [REGISTRY, *args], cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=120
        )

    def start(self) -> None:
        port = int(self.url.rsplit(":", 1)[1])
        self.proc = subprocess.Popen([REGISTRY, "serve", "--port", str(port)], cwd=self.cwd, env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.proc.poll() is None, "server exited"
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            self.proc = None


@contextmanager
def region(tmp: Path, name: str, registry_id: str, registry_name: str, **extra: str) -> Iterator[Region]:
    folder = tmp / name
    folder.mkdir()
    url, drop = fresh_database(folder, name)
    base = f"http://127.0.0.1:{_free_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.update(REGISTRY_DATA_DIR=str(folder / "var"), REGISTRY_DATABASE_URL=url, REGISTRY_BASE_URL=base,
               REGISTRY_ID=registry_id, REGISTRY_NAME=registry_name, REGISTRY_VERIFY_RATE_PER_MINUTE="100000",
               **extra)  # fmt: skip
    r = Region(base, env, folder)
    try:
        r.start()
        yield r
    finally:
        r.stop()
        drop()


@pytest.fixture
def regions(tmp_path: Path) -> Iterator[tuple[Region, Region]]:
    # Beijing publishes status lists valid for 5 s, so a revocation there shows in Shenzhen within seconds;
    # Shenzhen's workers read its peers table again after 1 s (PEERS_RELOAD), not the default 5 s.
    with (
        region(tmp_path, "beijing", "110000", "北京市电子证照库", REGISTRY_STATUS_LIST_TTL_SECONDS="5") as a,
        region(tmp_path, "shenzhen", "440300", "深圳市电子证照库", REGISTRY_FEDERATION_TIMEOUT_SECONDS="2",
               REGISTRY_FEDERATION_PEERS_RELOAD_SECONDS=PEERS_RELOAD) as b,
    ):  # fmt: skip
        yield a, b


def issue_at(r: Region, license_type: str = "driving_license") -> tuple[str, str, dict[str, str]]:
    """A department at ``r`` and one licence: (identifier, QR payload, auth headers)."""
    made = json.loads(r.cli("admin", "create-org", "--code", new_uscc(), "--name", "北京市公安局公安交通管理局",
                            "--role", "issuer", "--license-types", license_type, "--json").stdout)  # fmt: skip
    token = httpx.post(f"{r.url}/api/v1/auth/token", data={"grant_type": "client_credentials",
                       "client_id": made["client_id"], "client_secret": made["client_secret"]}).json()  # fmt: skip
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    lt = default_catalog().get(license_type)
    h = lt.example_holder
    resp = httpx.post(f"{r.url}/api/v1/licenses", headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
                      json={"type": license_type, "holder": {"id_type": h.id_type, "id_number": h.id_number,
                            "name": h.name}, "fields": lt.example_fields()})  # fmt: skip
    assert resp.status_code == 201, resp.text
    return resp.json()["identifier"], resp.json()["qr_payload"], auth


def pin_of(r: Region) -> str:
    return fingerprint(trust_list_key_from_proof(httpx.get(f"{r.url}/api/v1/trust-list").json()))


def scan(r: Region, payload: str) -> dict[str, Any]:
    t0 = time.monotonic()
    resp = httpx.post(f"{r.url}/api/v1/verifications", json={"payload": payload}, timeout=30)
    assert resp.status_code == 200, resp.text
    assert time.monotonic() - t0 < 10  # bounded, whatever the peer does
    return dict(resp.json())


def check(result: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in result["checks"] if c["name"] == name)


def test_a_pinned_peer_licence_verifies_online_and_with_the_peer_down(regions: tuple[Region, Region]) -> None:
    beijing, shenzhen = regions
    identifier, payload, auth = issue_at(beijing)
    # Before any pin, Shenzhen does not know Beijing's departments.
    assert scan(shenzhen, payload)["verdict"] == "unknown_issuer"

    # A wrong fingerprint is refused, and nothing is pinned.
    wrong = shenzhen.cli("federation", "add", "--name", "beijing", "--url", beijing.url, "--fingerprint", "ab" * 32)
    assert wrong.returncode == 2 and "peer_pin_mismatch" in wrong.stderr, wrong.stderr
    assert httpx.get(f"{shenzhen.url}/api/v1/federation/peers").json() == []

    pin = pin_of(beijing)
    added = shenzhen.cli("federation", "add", "--name", "beijing", "--url", beijing.url, "--fingerprint", pin, "--json")
    assert added.returncode == 0, added.stderr
    peers = httpx.get(f"{shenzhen.url}/api/v1/federation/peers").json()
    assert [(p["name"], p["registry_id"], p["fingerprint"], p["stale"], p["last_error"]) for p in peers] == [
        ("beijing", "110000", pin, False, None)
    ]
    assert 0 <= peers[0]["age_seconds"] < 60

    # Online: the verdict names the issuing registry; status comes from Beijing's own (signed) list.
    time.sleep(float(PEERS_RELOAD) + 0.5)  # past the workers' cache of the peers table
    result = scan(shenzhen, payload)
    assert result["verdict"] == "valid", result
    assert result["issuing_registry"] == {"id": "110000", "name": "北京市电子证照库", "url": beijing.url}
    assert result["license"]["registry_id"] == "110000" and result["license"]["identifier"] == identifier
    assert result["registry"]["id"] == "440300"  # who answered
    assert check(result, "status")["ok"] is True

    # Revoked in Beijing: Shenzhen says so once it fetches Beijing's list again (well within 5 s).
    resp = httpx.post(f"{beijing.url}/api/v1/licenses/{identifier}/revoke", json={"reason": "依法吊销（测试）"},
                      headers=auth)  # fmt: skip
    assert resp.status_code == 200, resp.text
    deadline = time.monotonic() + 15
    while (verdict := scan(shenzhen, payload)["verdict"]) != "revoked":
        assert time.monotonic() < deadline, verdict
        time.sleep(0.5)

    # Beijing goes down: Shenzhen still answers at once, from the pinned list it holds; the status it holds is
    # reported as stale once past Beijing's freshness window, and a sync records the failure.
    beijing.stop()
    result = scan(shenzhen, payload)
    assert result["verdict"] == "revoked"
    time.sleep(6)
    result = scan(shenzhen, payload)
    assert result["verdict"] == "revoked" and result["status_freshness"]["stale"] is True
    t0 = time.monotonic()
    synced = shenzhen.cli("federation", "sync", "--json")
    assert synced.returncode == 1 and time.monotonic() - t0 < 30
    peer = json.loads(synced.stdout.splitlines()[0])
    assert "peer_unavailable" in peer["last_error"] and peer["registry_id"] == "110000"  # the old list is kept


def test_offline_at_the_window_with_the_peers_exported_list(regions: tuple[Region, Region], tmp_path: Path) -> None:
    beijing, shenzhen = regions
    _, payload, _ = issue_at(beijing, "food_business_license")
    exported = beijing.cli(
        "trust-list", "export", str(tmp_path / "beijing.json"), "--status-lists", str(tmp_path / "s")
    )
    assert exported.returncode == 0, exported.stderr
    beijing.stop()
    # No network at all: the pinned list and status lists carried over, checked by the fingerprint.
    out = shenzhen.cli("verify", payload, "--trust-list", str(tmp_path / "beijing.json"), "--fingerprint",
                       fingerprint(trust_list_key_from_proof(json.loads((tmp_path / "beijing.json").read_text()))),
                       "--status-lists", str(tmp_path / "s"), "--json")  # fmt: skip
    result = json.loads(out.stdout)
    assert result["verdict"] == "valid", result
    assert result["license"]["registry_id"] == "110000"


# --- peers that misbehave ------------------------------------------------------------------------------------


@contextmanager
def stub_peer(answer: bytes, delay: float = 0.0, status: int = 200) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the registry gave up waiting, as it should

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_slow_garbage_and_impostor_peers(regions: tuple[Region, Region]) -> None:
    beijing, shenzhen = regions
    pin = pin_of(beijing)
    real_list = httpx.get(f"{beijing.url}/api/v1/trust-list").content

    cases = [
        ("slow", stub_peer(real_list, delay=6), "did not answer within 2 s"),
        ("garbage", stub_peer(b"<html>not json</html>"), "did not answer JSON"),
        ("error", stub_peer(b"{}", status=503), "answered 503"),
        # A copy of Beijing's genuine list served from another address: it names another base URL.
        ("impostor", stub_peer(real_list), "served the trust list of"),
    ]
    for name, stub, expected in cases:
        with stub as url:
            t0 = time.monotonic()
            out = shenzhen.cli("federation", "add", "--name", name, "--url", url, "--fingerprint", pin, "--json")
            assert time.monotonic() - t0 < 30
            assert out.returncode == 0, out.stderr  # pinned, not yet synced: the error says why
            peer = json.loads(out.stdout)
            assert expected in (peer["last_error"] or ""), (name, peer)
            assert peer["registry_id"] is None and peer["stale"] is None
    # A list signed by another key than the pinned one is refused outright.
    with stub_peer(real_list) as url:
        out = shenzhen.cli("federation", "add", "--name", "other-key", "--url", url, "--fingerprint", "cd" * 32)
        assert out.returncode == 2 and "peer_pin_mismatch" in out.stderr
    names = [p["name"] for p in httpx.get(f"{shenzhen.url}/api/v1/federation/peers").json()]
    assert names == ["error", "garbage", "impostor", "slow"]
    # Bad arguments are refused before any call.
    for args in (["--url", "ftp://x", "--fingerprint", pin], ["--url", beijing.url, "--fingerprint", "xyz"]):
        out = shenzhen.cli("federation", "add", "--name", "bad", *args)
        assert out.returncode == 2 and "validation_failed" in out.stderr, out.stderr


# --- a share code from one region redeemed at a window in another --------------------------------------------

RENEW_DRIVING = "440300-GAJJ-JSZHZ-001"  # 驾驶证期满换证: 身份证 + 驾驶证


def _org_token(r: Region, role: str, name: str, types: str = "") -> tuple[str, dict[str, str]]:
    args = ["admin", "create-org", "--code", new_uscc(), "--name", name, "--role", role, "--json"]
    made = json.loads(r.cli(*args, *(["--license-types", types] if types else [])).stdout)
    token = httpx.post(f"{r.url}/api/v1/auth/token", data={"grant_type": "client_credentials",
                       "client_id": made["client_id"], "client_secret": made["client_secret"]}).json()  # fmt: skip
    return made["code"], {"Authorization": f"Bearer {token['access_token']}"}


def test_a_beijing_code_redeemed_at_a_shenzhen_window(regions: tuple[Region, Region]) -> None:
    beijing, shenzhen = regions
    # Both pin each other: Shenzhen to trust Beijing's licences, Beijing to trust Shenzhen's calls.
    assert shenzhen.cli("federation", "add", "--name", "beijing", "--url", beijing.url,
                        "--fingerprint", pin_of(beijing)).returncode == 0  # fmt: skip
    assert beijing.cli("federation", "add", "--name", "shenzhen", "--url", shenzhen.url,
                       "--fingerprint", pin_of(shenzhen)).returncode == 0  # fmt: skip

    # A Beijing resident with an ID card and a driving licence issued in Beijing.
    catalog = default_catalog()
    holder = catalog.get("resident_id_card").example_holder
    beijing.cli("admin", "create-holder", "--id-number", holder.id_number, "--name", holder.name,
                "--password", "correct horse 1")  # fmt: skip
    _, issuer = _org_token(beijing, "issuer", "北京市公安局", "resident_id_card,driving_license")
    issued = {}
    for license_type in ("resident_id_card", "driving_license"):
        lt = catalog.get(license_type)
        fields = {k: (holder.id_number if v == lt.example_holder.id_number else holder.name
                      if v == lt.example_holder.name else v) for k, v in lt.example_fields().items()}  # fmt: skip
        resp = httpx.post(f"{beijing.url}/api/v1/licenses", headers={**issuer, "Idempotency-Key": str(uuid.uuid4())},
                          json={"type": license_type, "holder": {"id_type": "resident_id", "id_number":
                                holder.id_number, "name": holder.name}, "fields": fields})  # fmt: skip
        assert resp.status_code == 201, resp.text
        issued[license_type] = resp.json()["identifier"]
    login = httpx.post(f"{beijing.url}/api/v1/auth/holder-token",
                       json={"id_number": holder.id_number, "password": "correct horse 1"})  # fmt: skip
    me = {"Authorization": f"Bearer {login.json()['access_token']}"}
    code = httpx.post(
        f"{beijing.url}/api/v1/me/share-codes",
        headers=me,
        json={"license_types": ["resident_id_card", "driving_license"], "purpose": "异地换领驾驶证"},
    ).json()["code"]
    assert code.startswith("SC1:110000.")

    # The Shenzhen window opens a case with it: pulled through Shenzhen's own registry, checked there.
    agency_code, agency = _org_token(shenzhen, "agency", "深圳市公安局交通警察支队车管所")
    time.sleep(float(PEERS_RELOAD) + 0.5)  # past the workers' cache of the peers table
    resp = httpx.post(f"{shenzhen.url}/api/v1/cases", headers=agency,
                      json={"service_code": RENEW_DRIVING, "share_code": code}, timeout=30)  # fmt: skip
    assert resp.status_code == 201, resp.text
    case = resp.json()
    pulled = {m["license_type"]: m for m in case["materials"] if m["state"] == "pulled"}
    assert {t: m["identifier"] for t, m in pulled.items()} == issued
    assert all(m["verdict"] == "valid" for m in pulled.values()) and case["missing"] == 0
    again = httpx.get(f"{shenzhen.url}/api/v1/cases/{case['case_id']}", headers=agency).json()
    assert again["materials"] == case["materials"]  # stored as any local case

    # Used once: a second redemption is refused with the home registry's reason.
    resp = httpx.post(f"{shenzhen.url}/api/v1/cases", headers=agency,
                      json={"service_code": RENEW_DRIVING, "share_code": code}, timeout=30)  # fmt: skip
    assert resp.status_code == 409 and resp.json()["peer_code"] == "share_code_used", resp.text

    # The holder sees, in Beijing, who took what, from which region, why.
    log = httpx.get(f"{beijing.url}/api/v1/me/access-log", headers=me).json()
    assert {(e["identifier"], e["actor_code"], e["region"], e["purpose"]) for e in log} == {
        (issued["resident_id_card"], agency_code, "440300", "异地换领驾驶证"),
        (issued["driving_license"], agency_code, "440300", "异地换领驾驶证"),
    }

    # A region Shenzhen has not pinned: a clear refusal, no call made.
    resp = httpx.post(f"{shenzhen.url}/api/v1/cases", headers=agency,
                      json={"service_code": RENEW_DRIVING, "share_code": "SC1:310000." + "A" * 32})  # fmt: skip
    assert resp.status_code == 404 and resp.json()["code"] == "peer_not_found", resp.text
    # Beijing down: the window hears so within the timeout, and nothing is half-written.
    code2 = httpx.post(f"{beijing.url}/api/v1/me/share-codes", headers=me,
                       json={"license_types": ["resident_id_card"]}).json()["code"]  # fmt: skip
    beijing.stop()
    t0 = time.monotonic()
    resp = httpx.post(f"{shenzhen.url}/api/v1/cases", headers=agency,
                      json={"service_code": RENEW_DRIVING, "share_code": code2}, timeout=30)  # fmt: skip
    assert resp.status_code == 502 and resp.json()["code"] == "peer_unavailable", resp.text
    assert time.monotonic() - t0 < 10


# --- transfer out / in (办理转出 / 转入) ----------------------------------------------------------------------


def test_a_licence_transferred_from_beijing_to_shenzhen(regions: tuple[Region, Region]) -> None:
    beijing, shenzhen = regions
    assert shenzhen.cli("federation", "add", "--name", "beijing", "--url", beijing.url,
                        "--fingerprint", pin_of(beijing)).returncode == 0  # fmt: skip
    assert beijing.cli("federation", "add", "--name", "shenzhen", "--url", shenzhen.url,
                       "--fingerprint", pin_of(shenzhen)).returncode == 0  # fmt: skip
    identifier, payload, auth = issue_at(beijing)
    second, _, second_auth = issue_at(beijing)
    old = httpx.get(f"{beijing.url}/api/v1/licenses/{identifier}/credential", headers=auth).json()
    _, department = _org_token(shenzhen, "issuer", "深圳市公安局交通警察支队", "driving_license")
    time.sleep(float(PEERS_RELOAD) + 0.5)  # past the workers' cache of the peers table

    resp = httpx.post(f"{shenzhen.url}/api/v1/licenses/transfers", headers=department,
                      json={"credential": old, "reason": "户籍迁入深圳"}, timeout=30)  # fmt: skip
    assert resp.status_code == 201, resp.text
    new = resp.json()
    assert new["previous_identifier"] == identifier and new["status"] == "active"
    assert new["holder"]["id_number"] == old["credentialSubject"]["holder"]["idNumber"]
    assert new["credential"]["credentialSubject"]["fields"] == old["credentialSubject"]["fields"]

    # At home, the old licence now says it moved, and where to.
    result = httpx.post(f"{beijing.url}/api/v1/verifications", json={"payload": payload}).json()
    assert result["verdict"] == "revoked"
    assert result["license"]["status"] == "transferred"
    assert result["license"]["moved_to"] == {"registry_id": "440300", "identifier": new["identifier"]}
    history = httpx.get(f"{beijing.url}/api/v1/licenses/{identifier}/history", headers=auth).json()
    assert [(e["action"], e["status_after"], e["related_identifier"]) for e in history][-1] == (
        "transfer", "transferred", new["identifier"]
    )  # fmt: skip
    # In Shenzhen the new one is valid; the old one ends there too once Beijing's list is fetched again.
    assert scan(shenzhen, new["qr_payload"])["verdict"] == "valid"
    deadline = time.monotonic() + 15
    while (verdict := scan(shenzhen, payload)["verdict"]) != "revoked":
        assert time.monotonic() < deadline, verdict
        time.sleep(0.5)

    # Transferred once: again is refused, and nothing is issued.
    before = len(httpx.get(f"{shenzhen.url}/api/v1/licenses", headers=department).json())
    again = httpx.post(f"{shenzhen.url}/api/v1/licenses/transfers", headers=department, json={"credential": old})
    assert again.status_code == 422 and again.json()["code"] == "validation_failed", again.text
    # Beijing down: the home registry cannot be told, so nothing is issued here either.
    other = httpx.get(f"{beijing.url}/api/v1/licenses/{second}/credential", headers=second_auth).json()
    beijing.stop()
    down = httpx.post(f"{shenzhen.url}/api/v1/licenses/transfers", headers=department, json={"credential": other},
                      timeout=30)  # fmt: skip
    assert down.status_code == 502 and down.json()["code"] == "peer_unavailable", down.text
    assert len(httpx.get(f"{shenzhen.url}/api/v1/licenses", headers=department).json()) == before
    # Both logs hold the transfer, and each side's statuses and status bits are what its events say.
    for r in (beijing, shenzhen):
        verified = r.cli("log", "verify")
        assert verified.returncode == 0, verified.stderr
