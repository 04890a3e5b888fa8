"""Schemathesis against /schema/openapi.json of a running `registry serve` (issue #8: bounded, in CI, zero 5xx).

Every operation in the published schema is called with generated inputs — valid ones and, in the negative
phase, inputs that break the schema — as an issuer, an agency, a holder and anonymously, depending on the path.
No answer may be a server error, and every error must be an RFC 9457 problem document.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable

from tests.databases import fresh_database

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REGISTRY = str(Path(sys.executable).parent / "registry")
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))  # per operation and mode; CI keeps the run to a minute or two


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    url, drop_database = fresh_database(tmp, "fuzz")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.update(
        REGISTRY_DATABASE_URL=url,
        REGISTRY_MASTER_KEY_FILE=str(tmp / "master.key"),
        REGISTRY_BASE_URL=base,
        # The point is what inputs do, not the throttles (they are tested on their own): keep them out of the way.
        REGISTRY_VERIFY_RATE_PER_MINUTE="1000000",
        REGISTRY_LOGIN_RATE_PER_MINUTE="1000000",
        REGISTRY_PUBLIC_READ_RATE_PER_MINUTE="1000000",
        REGISTRY_VERIFY_IMAGE_RATE_PER_MINUTE="1000000",
    )
    demo = subprocess.run([REGISTRY, "demo", "--json"], cwd=tmp, env=env, capture_output=True, text=True, check=True)
    seeded = json.loads(demo.stdout)
    log_file = (tmp / "serve.log").open("w")
    proc = subprocess.Popen([REGISTRY, "serve", "--port", str(port)], cwd=tmp, env=env,
                            stdout=log_file, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((tmp / "serve.log").read_text()) from None
                time.sleep(0.3)
        tokens: dict[str, str] = {}
        for org in seeded["organisations"]:
            if org["role"] in tokens:
                continue
            resp = httpx.post(f"{base}/api/v1/auth/token", data={"grant_type": "client_credentials",
                              "client_id": org["client_id"], "client_secret": org["client_secret"]})  # fmt: skip
            tokens[org["role"]] = resp.json()["access_token"]
        holder = seeded["holders"][0]
        resp = httpx.post(f"{base}/api/v1/auth/holder-token",
                          json={"id_number": holder["id_number"], "password": holder["password"]})  # fmt: skip
        assert resp.status_code == 200, resp.text
        tokens["holder"] = resp.json()["access_token"]
        yield base, tokens
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log_file.close()
        log = (tmp / "serve.log").read_text()
        drop_database()
    assert "Traceback" not in log, log[-4000:]  # nothing blew up out of sight either


def _token_for(path: str, tokens: dict[str, str]) -> str | None:
    if path.startswith("/api/v1/me"):
        return tokens["holder"]
    if path.startswith(("/api/v1/cases", "/api/v1/services", "/api/v1/stats")):
        return tokens["agency"]
    if path.startswith("/api/v1/licenses") or path.startswith("/api/v1/batches"):
        return tokens["issuer"]
    return None


def test_no_input_causes_a_server_error(fuzz_server: tuple[str, dict[str, str]]) -> None:
    """Each operation, positive inputs then negative ones; every failure is collected, then reported together.
    (Driven through the operations' Hypothesis strategies: schemathesis's pytest plugin does not run on this
    pytest.)"""
    base, tokens = fuzz_server
    api = schemathesis.openapi.from_url(f"{base}/schema/openapi.json")
    failures: list[str] = []
    calls = 0

    def call(case: Any) -> None:
        nonlocal calls
        token = _token_for(case.path, tokens)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if case.method.upper() == "POST" and case.path == "/api/v1/licenses":
            headers["Idempotency-Key"] = str(uuid.uuid4())
        response = case.call(base_url=base, headers=headers, timeout=30)
        calls += 1
        where = f"{case.method} {case.formatted_path}"
        assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:300]}"
        kind = (response.headers.get("content-type") or [""])[0]  # schemathesis keeps every value of a header
        if response.status_code >= 400 and kind.startswith("application/json"):
            raise AssertionError(f"{where}: {response.status_code} is not a problem document: {response.text[:300]}")

    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) > 40  # the whole API, not a schema that failed to load
    for operation in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            run = settings(
                max_examples=EXAMPLES,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.explicit, Phase.generate],
                derandomize=True,  # the same inputs on every run; raise FUZZ_EXAMPLES to dig deeper
                database=None,
            )(given(case=operation.as_strategy(mode))(call))
            try:
                run()
            except Unsatisfiable:  # nothing to break: an operation without parameters has no negative inputs
                continue
            except AssertionError as exc:
                failures.append(f"[{mode.value}] {exc}".splitlines()[0])
            except Exception as exc:  # schemathesis could not build or send a case: report, do not hide
                failures.append(f"[{mode.value}] {operation.label}: {type(exc).__name__}: {str(exc)[:200]}")
    assert not failures, f"{len(failures)} failing operations of {len(operations)} ({calls} calls):\n" + "\n".join(
        failures
    )
