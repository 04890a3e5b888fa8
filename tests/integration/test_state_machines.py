"""Hypothesis state machines over the licence lifecycle and the sharing flow (issue #8): random sequences of
real API calls, checked after every step against a model of what must hold.

The machines run in a worker thread; each step hands its request to the test's event loop (where the app, its
database connections and the client live) and waits for the answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, multiple, rule, run_state_machine_as_test

from registry.context import Registry
from registry.log.service import verify_log
from registry.verify import service as verify_service
from tests.conftest import Org
from tests.integration.test_bad_input import assert_problem
from tests.integration.test_lifecycle import ACTIONS, ALLOWED, act
from tests.integration.test_sharing import RENEW_DRIVING, give, open_case, share

pytestmark = pytest.mark.integration
T = TypeVar("T")
RUNS = settings(max_examples=8, stateful_step_count=12, deadline=None, suppress_health_check=list(HealthCheck))
VERDICT = {"active": "valid", "suspended": "suspended", "revoked": "revoked", "withdrawn": "revoked",
           "cancelled": "revoked", "superseded": "revoked"}  # fmt: skip


class _OnLoop:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def __call__(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)


async def test_lifecycle_state_machine(client: httpx.AsyncClient, registry: Registry, issuer: Org) -> None:
    run = _OnLoop(asyncio.get_running_loop())

    class Lifecycle(RuleBasedStateMachine):
        licences = Bundle("licences")

        def __init__(self) -> None:
            super().__init__()
            self.status: dict[str, str] = {}
            self.payload: dict[str, str] = {}
            self.touched: str | None = None

        def _issued(self, resp: httpx.Response) -> str:
            body = resp.json()
            self.status[body["identifier"]] = "active"
            self.payload[body["identifier"]] = body["qr_payload"]
            return str(body["identifier"])

        @rule(target=licences, license_type=st.sampled_from(["driving_license", "food_business_license"]))
        def issue(self, license_type: str) -> str:
            from tests.integration.test_issuance import example_body, issue

            resp = run(issue(client, issuer, example_body(registry, license_type)))
            assert resp.status_code == 201, resp.text
            self.touched = self._issued(resp)
            return self.touched

        @rule(target=licences, ident=licences, action=st.sampled_from(ACTIONS))
        def change(self, ident: str, action: str) -> Any:
            before = self.status[ident]
            resp = run(act(client, issuer, ident, action))
            expected = ALLOWED.get((before, action))
            self.touched = ident
            if expected is None:
                assert_problem(resp, 409, "invalid_transition")
                return multiple()
            assert resp.status_code == (201 if action in ("renew", "amend") else 200), resp.text
            self.status[ident] = expected
            if action in ("renew", "amend"):
                new = self._issued(resp)
                assert resp.json()["previous_identifier"] == ident
                return multiple(new)
            return multiple()

        @invariant()
        def the_registry_agrees(self) -> None:
            ident = self.touched
            if ident is None:
                return
            got = run(client.get(f"/api/v1/licenses/{ident}", headers=issuer.auth))
            assert got.status_code == 200 and got.json()["status"] == self.status[ident], got.text
            scan = run(verify_service.verify(registry, payload=self.payload[ident]))
            assert scan["verdict"] == VERDICT[self.status[ident]], (self.status[ident], scan["verdict"])

        def teardown(self) -> None:
            # Whatever the history, the log holds every record, and every status and status bit is what the
            # licences' logged events say.
            assert run(verify_log(registry)).problems == []

    await asyncio.to_thread(run_state_machine_as_test, Lifecycle, settings=RUNS)


async def test_sharing_state_machine(
    client: httpx.AsyncClient, registry: Registry, issuer: Org, make_org: Any, make_holder: Any
) -> None:
    run = _OnLoop(asyncio.get_running_loop())
    holder = await make_holder("王芳", male=False)
    agency = await make_org("agency", name="深圳市公安局交通警察支队车管所")
    pulled_per_case = 2
    await give(client, registry, issuer, holder, "resident_id_card")
    await give(client, registry, issuer, holder, "driving_license")

    def access_count() -> int:
        resp = run(client.get("/api/v1/me/access-log", headers=holder.auth))
        return len(resp.json())

    class Sharing(RuleBasedStateMachine):
        codes = Bundle("codes")

        def __init__(self) -> None:
            super().__init__()
            self.left: dict[str, int] = {}  # code -> uses left (0: used up or withdrawn)
            self.ids: dict[str, str] = {}
            self.pulls = 0
            self.baseline = access_count()

        @rule(target=codes, uses=st.integers(min_value=1, max_value=3))
        def show_a_code(self, uses: int) -> str:
            resp = run(share(client, holder, service_code=RENEW_DRIVING, purpose="驾驶证期满换证", max_uses=uses))
            assert resp.status_code == 201, resp.text
            code = str(resp.json()["code"])
            self.left[code], self.ids[code] = uses, resp.json()["id"]
            return code

        @rule(code=codes)
        def window_redeems(self, code: str) -> None:
            resp = run(open_case(client, agency, service_code=RENEW_DRIVING, share_code=code))
            if self.left[code] > 0:
                assert resp.status_code == 201, resp.text
                assert [m["state"] for m in resp.json()["materials"]] == ["pulled", "pulled"]
                self.left[code] -= 1
                self.pulls += 1
            else:
                assert resp.status_code in (409, 410), resp.text
                assert resp.json()["code"] in ("share_code_used", "share_code_expired")

        @rule(code=codes)
        def holder_withdraws(self, code: str) -> None:
            resp = run(client.delete(f"/api/v1/me/share-codes/{self.ids[code]}", headers=holder.auth))
            assert resp.status_code in (204, 404, 409, 410), resp.text
            self.left[code] = 0

        @invariant()
        def every_pull_is_in_the_holders_log(self) -> None:
            assert access_count() == self.baseline + pulled_per_case * self.pulls

    await asyncio.to_thread(run_state_machine_as_test, Sharing, settings=RUNS)
