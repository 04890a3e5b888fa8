"""The `registry` command: serve with no configuration, create-org, demo."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from registry.settings import Settings
from tests.factories import corrupt_check, new_resident_id, new_uscc

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REGISTRY = str(Path(sys.executable).parent / "registry")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.update(extra)
    return env


def _db_env(settings: Settings) -> dict[str, str]:
    """The engine under test: PostgreSQL when the suite runs on it (then with the suite's master key, which
    seals every key in that database), else the default SQLite and key under ./var."""
    url = os.environ.get("REGISTRY_TEST_DATABASE_URL")
    return {"REGISTRY_DATABASE_URL": url, "REGISTRY_MASTER_KEY_FILE": str(settings.master_key_file)} if url else {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_with_no_configuration(tmp_path: Path) -> None:
    """A fresh folder, no REGISTRY_* variables: SQLite and the master key appear under ./var/."""
    port = _free_port()
    proc = subprocess.Popen(
        [REGISTRY, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                resp = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(proc.stdout.read().decode() if proc.stdout else "no output") from None
                time.sleep(0.3)
        assert resp.status_code == 200 and resp.json()["database"] == "sqlite"
        assert (tmp_path / "var" / "registry.db").exists()
        key = tmp_path / "var" / "master.key"
        assert key.exists() and (key.stat().st_mode & 0o777) == 0o600
        types = httpx.get(f"http://127.0.0.1:{port}/api/v1/license-types", timeout=5)
        assert types.status_code == 200 and len(types.json()) == 9
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if proc.stdout:
            proc.stdout.close()


def cli(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([REGISTRY, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_create_org_and_demo(tmp_path: Path, settings: Settings) -> None:
    env = _env(**_db_env(settings))
    code = new_uscc()
    create = ("admin", "create-org", "--code", code, "--role", "issuer")
    out = cli(
        tmp_path,
        env,
        *create,
        "--name",
        "深圳市市场监督管理局",
        "--license-types",
        "business_license,food_business_license",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    made = json.loads(out.stdout)
    assert made["code"] == code and made["client_id"] and len(made["client_secret"]) >= 40
    again = cli(tmp_path, env, *create, "--name", "x", "--license-types", "business_license")
    assert again.returncode == 1 and "organisation_exists" in again.stderr
    bad = cli(tmp_path, env, "admin", "create-org", "--code", corrupt_check(code), "--name", "x", "--role", "agency")
    assert bad.returncode == 1 and "Invalid organisation code" in bad.stderr

    # Keys: list, rotate (key-1 retires), revoke a compromised key (a new one takes over at once).
    keys = json.loads(cli(tmp_path, env, "keys", "list", "--org", code, "--json").stdout)
    assert [(k["key"], k["state"]) for k in keys] == [("key-1", "active")]
    rotated = cli(tmp_path, env, "keys", "rotate", "--org", code, "--json")
    assert rotated.returncode == 0, rotated.stderr
    assert [(k["key"], k["state"]) for k in json.loads(rotated.stdout)] == [("key-1", "retired"), ("key-2", "active")]
    revoked = cli(
        tmp_path,
        env,
        "keys",
        "revoke",
        "--org",
        code,
        "--key",
        "key-2",
        "--compromised-at",
        "2026-01-01T08:00:00+08:00",
        "--json",
    )
    assert revoked.returncode == 0, revoked.stderr
    states = [(k["key"], k["state"]) for k in json.loads(revoked.stdout)]
    assert states == [("key-1", "retired"), ("key-2", "revoked"), ("key-3", "active")]
    assert json.loads(revoked.stdout)[1]["compromised_at"].startswith("2026-01-01T00:00:00")
    assert (
        cli(
            tmp_path, env, "keys", "revoke", "--org", code, "--key", "key-9", "--compromised-at", "2026-01-01T00:00:00Z"
        ).returncode
        == 1
    )
    assert (
        cli(
            tmp_path, env, "keys", "revoke", "--org", code, "--key", "key-3", "--compromised-at", "yesterday"
        ).returncode
        == 2
    )

    holder = cli(
        tmp_path,
        env,
        "admin",
        "create-holder",
        "--id-number",
        new_resident_id(),
        "--name",
        "王芳",
        "--password",
        "Correct-Horse-42",
        "--json",
    )
    assert holder.returncode == 0, holder.stderr
    assert json.loads(holder.stdout)["id_type"] == "resident_id"
    weak = cli(
        tmp_path,
        env,
        "admin",
        "create-holder",
        "--id-number",
        new_resident_id(),
        "--name",
        "王芳",
        "--password",
        "short",
    )
    assert weak.returncode == 1
    assert "8–128" in weak.stderr

    demo = cli(tmp_path, env, "demo", "--json")
    assert demo.returncode == 0, demo.stderr
    seeded = json.loads(demo.stdout)
    assert len(seeded["licenses"]) == 9
    assert {o["role"] for o in seeded["organisations"]} == {"issuer", "agency"}
    assert {h["name"] for h in seeded["holders"]} >= {"张伟", "李娜"}
    # Running it again issues nothing new: the same identifiers come back.
    rerun = json.loads(cli(tmp_path, env, "demo", "--json").stdout)
    assert [x["identifier"] for x in rerun["licenses"]] == [x["identifier"] for x in seeded["licenses"]]
