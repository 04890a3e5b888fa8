"""The transparency log (issue #8, DESIGN §6): what is logged, signed checkpoints, proofs checked by code that
shares nothing with the registry's, and `registry log verify` catching a rewritten or deleted record."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import nacl.signing
import pytest
import rfc8785
from sqlalchemy import text

from registry.context import Registry
from registry.log.service import integrate, verify_log
from registry.orgs.service import revoke_key, rotate_key
from signing.multikey import multikey_to_public_key
from tests.conftest import Org
from tests.integration.test_bad_input import assert_problem
from tests.integration.test_lifecycle import act, fresh
from verification.status_list import with_bit

pytestmark = pytest.mark.integration


# --- an independent RFC 9162 checker (straight from §2.1.3.2 and §2.1.4.2; nothing from verification/) ----


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def rfc_inclusion_ok(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def rfc_consistency_ok(first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]) -> bool:
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    if first & (first - 1) == 0:  # a power of two: the first root starts the path
        proof = [first_root, *proof]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


def d(value: str) -> bytes:
    return base64.b64decode(value)


async def trust_key(client: httpx.AsyncClient) -> bytes:
    """The registry's trust-list key, as a peer learns it: from the signed trust list's proof."""
    doc = (await client.get("/api/v1/trust-list")).json()
    did = doc["proof"]["verificationMethod"].split("#")[0]
    return multikey_to_public_key(did.removeprefix("did:key:"))


async def checkpoint(client: httpx.AsyncClient) -> dict[str, Any]:
    resp = await client.get("/api/v1/log/checkpoint")
    assert resp.status_code == 200, resp.text
    cp: dict[str, Any] = resp.json()
    # The signature is over the note, and the note says what the JSON says.
    nacl.signing.VerifyKey(await trust_key(client)).verify(cp["note"].encode(), d(cp["signature"]))
    origin, size, root, stamp, end = cp["note"].split("\n")
    assert (int(size), root, stamp, end) == (cp["tree_size"], cp["root_hash"], cp["timestamp"], "")
    assert origin == cp["origin"] and origin.endswith("/api/v1/log")
    return cp


# --- what is logged --------------------------------------------------------------------------------------


async def test_a_licence_life_is_logged_and_provable(
    client: httpx.AsyncClient, registry: Registry, issuer: Org
) -> None:
    identifier = await fresh(client, registry, issuer)
    assert (await act(client, issuer, identifier, "suspend")).status_code == 200
    assert (await act(client, issuer, identifier, "reinstate")).status_code == 200
    cp = await checkpoint(client)

    resp = await client.get(f"/api/v1/licenses/{identifier}/log-proof")
    assert resp.status_code == 200, resp.text
    proof = resp.json()
    entry = proof["entry"]
    credential = (await client.get(f"/api/v1/licenses/{identifier}/credential", headers=issuer.auth)).content
    assert entry["kind"] == "issued" and entry["identifier"] == identifier and entry["issuer"] == issuer.code
    digest = base64.urlsafe_b64encode(hashlib.sha256(credential).digest()).rstrip(b"=").decode()
    assert entry["credential_sha256"] == digest  # the log commits to the exact credential served
    leaf = hashlib.sha256(b"\x00" + rfc8785.dumps(entry)).digest()  # JCS by the reference package
    assert d(proof["leaf_hash"]) == leaf
    assert proof["tree_size"] == cp["tree_size"]
    path = [d(h) for h in proof["audit_path"]]
    assert rfc_inclusion_ok(leaf, proof["leaf_index"], cp["tree_size"], path, d(cp["root_hash"]))
    assert not rfc_inclusion_ok(leaf, proof["leaf_index"] ^ 1, cp["tree_size"], path, d(cp["root_hash"]))

    # The status changes follow the issuance, in order, and say what happened.
    got = (
        await client.get("/api/v1/log/entries", params={"start": proof["leaf_index"], "end": cp["tree_size"]})
    ).json()
    mine = [e["entry"] for e in got["entries"] if e["entry"].get("identifier") == identifier]
    assert [(e["kind"], e.get("action"), e.get("status_after")) for e in mine] == [
        ("issued", None, None),
        ("status", "suspend", "suspended"),
        ("status", "reinstate", "active"),
    ]
    for e in got["entries"]:  # every leaf hash is of exactly the bytes given
        assert d(e["leaf_hash"]) == hashlib.sha256(b"\x00" + d(e["leaf_input"])).digest()
        assert json.loads(d(e["leaf_input"])) == e["entry"]


async def test_consistency_between_two_checkpoints(client: httpx.AsyncClient, registry: Registry, issuer: Org) -> None:
    await fresh(client, registry, issuer)
    older = await checkpoint(client)
    for _ in range(3):
        await fresh(client, registry, issuer)
    newer = await checkpoint(client)
    assert newer["tree_size"] > older["tree_size"]
    resp = await client.get(
        "/api/v1/log/proofs/consistency", params={"first": older["tree_size"], "second": newer["tree_size"]}
    )
    assert resp.status_code == 200, resp.text
    proof = [d(h) for h in resp.json()["consistency"]]
    a, b = d(older["root_hash"]), d(newer["root_hash"])
    assert rfc_consistency_ok(older["tree_size"], newer["tree_size"], a, b, proof)
    assert not rfc_consistency_ok(older["tree_size"], newer["tree_size"], b, a, proof)  # roots swapped
    # Any leaf of the older tree is also provable against the newer head.
    inc = (
        await client.get("/api/v1/log/proofs/inclusion", params={"leaf_index": 0, "tree_size": newer["tree_size"]})
    ).json()
    assert rfc_inclusion_ok(d(inc["leaf_hash"]), 0, newer["tree_size"], [d(h) for h in inc["audit_path"]], b)


async def test_access_is_logged_as_a_hash_only(client: httpx.AsyncClient, registry: Registry, issuer: Org) -> None:
    identifier = await fresh(client, registry, issuer)
    before = (await checkpoint(client))["tree_size"]
    read = await client.get(f"/api/v1/licenses/{identifier}", headers=issuer.auth)  # an issuer's read is an access
    assert read.status_code == 200
    holder_id = read.json()["holder"]["id_number"]
    after = await checkpoint(client)
    entries = (await client.get("/api/v1/log/entries", params={"start": before, "end": after["tree_size"]})).json()
    accesses = [e for e in entries["entries"] if e["kind"] == "access"]
    assert len(accesses) == 1
    assert set(accesses[0]["entry"]) == {"kind", "record", "record_sha256", "at"}
    assert holder_id not in json.dumps(entries, ensure_ascii=False)  # the public log holds no personal data


async def test_key_events_are_logged(client: httpx.AsyncClient, registry: Registry, make_org: Any) -> None:
    org: Org = await make_org(types=["driving_license"])
    rotated = await rotate_key(registry, org.code)
    await revoke_key(registry, org.code, rotated.key_ref, datetime.now(UTC))
    cp = await checkpoint(client)
    start = max(0, cp["tree_size"] - 20)
    entries = (await client.get("/api/v1/log/entries", params={"start": start, "end": cp["tree_size"]})).json()
    keys = [
        (e["entry"]["key_ref"], e["entry"]["state"]) for e in entries["entries"] if e["entry"].get("org") == org.code
    ]
    # Revoking the active key makes a new one (key-3); each key's own history is in order.
    assert sorted(keys) == sorted(
        [("key-1", "active"), ("key-1", "retired"), ("key-2", "active"), ("key-2", "revoked"), ("key-3", "active")]
    )
    assert keys.index(("key-1", "active")) < keys.index(("key-1", "retired"))
    assert keys.index(("key-2", "active")) < keys.index(("key-2", "revoked"))


# --- bad requests ------------------------------------------------------------------------------------------


async def test_log_requests_out_of_range(client: httpx.AsyncClient, registry: Registry, issuer: Org) -> None:
    await fresh(client, registry, issuer)
    size = (await checkpoint(client))["tree_size"]
    ranges = [(0, 0), (5, 2), (0, size + 1), (-1, 1), (0, 1001)]
    for params in ({"start": a, "end": b} for a, b in ranges):
        assert_problem(await client.get("/api/v1/log/entries", params=params), 400, "log_range_invalid")
    bad = [
        {"leaf_index": size},
        {"leaf_index": 0, "tree_size": size + 1},
        {"leaf_index": -1},
        {"leaf_index": 0, "tree_size": 0},
    ]
    for params in bad:
        assert_problem(await client.get("/api/v1/log/proofs/inclusion", params=params), 400, "log_range_invalid")
    for params in ({"first": 0}, {"first": size + 1}, {"first": 1, "second": size + 1}, {"first": 2, "second": 1}):
        assert_problem(await client.get("/api/v1/log/proofs/consistency", params=params), 400, "log_range_invalid")
    resp = await client.get("/api/v1/log/entries", params={"start": "x", "end": 1})
    assert resp.status_code == 422 and resp.headers["content-type"].startswith("application/problem+json")
    missing = "1.2.156.3005.2.11100000000017346L001.12440300455755306T.99999999.001.X"
    assert (await client.get(f"/api/v1/licenses/{missing}/log-proof")).status_code == 404


# --- registry log verify -----------------------------------------------------------------------------------


async def _problems(registry: Registry) -> list[str]:
    return (await verify_log(registry)).problems


async def _sql(registry: Registry, statement: str, **params: Any) -> None:
    async with registry.db.transaction() as session:
        await (await session.connection()).execute(text(statement), params)


async def test_log_verify_detects_rewrites_and_deletions(
    client: httpx.AsyncClient, registry: Registry, issuer: Org
) -> None:
    identifier = await fresh(client, registry, issuer)
    await act(client, issuer, identifier, "suspend")
    await client.get(f"/api/v1/licenses/{identifier}", headers=issuer.auth)  # an access record
    await integrate(registry)
    assert await _problems(registry) == []

    async with registry.db.read() as session:
        leaf, content = (
            await (await session.connection()).execute(
                text("SELECT leaf_index, content FROM log_entry WHERE kind = 'issued' AND ref = :id"),
                {"id": identifier},
            )
        ).one()
        access_id, purpose = (
            await (await session.connection()).execute(text("SELECT id, purpose FROM access_log ORDER BY id DESC"))
        ).first()
        credential = (
            await (await session.connection()).execute(
                text("SELECT credential_jcs FROM license WHERE identifier = :id"), {"id": identifier}
            )
        ).scalar_one()

    # 1. An entry rewritten (say, to hide which department issued it): its leaf hash no longer matches.
    await _sql(
        registry,
        "UPDATE log_entry SET content = :c WHERE leaf_index = :i",
        c=content.replace("issued", "isxued", 1),
        i=leaf,
    )
    try:
        assert any(f"entry {leaf}" in p for p in await _problems(registry))
    finally:
        await _sql(registry, "UPDATE log_entry SET content = :c WHERE leaf_index = :i", c=content, i=leaf)

    # 2. The licence's stored credential rewritten: no longer the one the log committed to.
    await _sql(registry, "UPDATE license SET credential_jcs = :c WHERE identifier = :id",
               c=credential.replace('"', "'", 1), id=identifier)  # fmt: skip
    try:
        assert any(identifier in p for p in await _problems(registry))
    finally:
        await _sql(
            registry, "UPDATE license SET credential_jcs = :c WHERE identifier = :id", c=credential, id=identifier
        )

    # 3. An access record altered: who looked is what the holder must be able to trust.
    await _sql(registry, "UPDATE access_log SET purpose = :p WHERE id = :id", p="nothing to see", id=access_id)
    try:
        assert any(f"access {access_id}" in p for p in await _problems(registry))
    finally:
        await _sql(registry, "UPDATE access_log SET purpose = :p WHERE id = :id", p=purpose, id=access_id)

    # 4. A suspended licence made active again in the database, status and bit: its last logged event says
    # otherwise. And a bit set that no licence's status sets (a silent revocation) shows as well.
    async with registry.db.read() as session:
        suspension, slot = (
            await (await session.connection()).execute(
                text("SELECT suspension_list_id, status_index FROM license WHERE identifier = :id"), {"id": identifier}
            )
        ).one()
        revocation_bits = (
            await (await session.connection()).execute(
                text("SELECT bits FROM status_list WHERE id = (SELECT revocation_list_id FROM license "
                     "WHERE identifier = :id)"), {"id": identifier})
        ).scalar_one()  # fmt: skip
        suspension_bits = (
            await (await session.connection()).execute(
                text("SELECT bits FROM status_list WHERE id = :id"), {"id": suspension}
            )
        ).scalar_one()
    await _sql(registry, "UPDATE license SET status = 'active' WHERE identifier = :id", id=identifier)
    await _sql(registry, "UPDATE status_list SET bits = :b WHERE id = :id",
               b=with_bit(suspension_bits, slot, False), id=suspension)  # fmt: skip
    try:
        problems = await _problems(registry)
        assert any(f"licence {identifier}: status active, but its last event says suspended" in p for p in problems)
    finally:
        await _sql(registry, "UPDATE license SET status = 'suspended' WHERE identifier = :id", id=identifier)
        await _sql(registry, "UPDATE status_list SET bits = :b WHERE id = :id", b=suspension_bits, id=suspension)
    await _sql(registry, "UPDATE status_list SET bits = :b WHERE id = :id", b=with_bit(suspension_bits, slot, False),
               id=suspension)  # fmt: skip
    try:
        assert any(f"its bit in {suspension}" in p for p in await _problems(registry))
    finally:
        await _sql(registry, "UPDATE status_list SET bits = :b WHERE id = :id", b=suspension_bits, id=suspension)
    stray = slot + 1  # no licence holds this slot yet
    await _sql(registry, "UPDATE status_list SET bits = :b WHERE id = (SELECT revocation_list_id FROM license "
               "WHERE identifier = :id)", b=with_bit(revocation_bits, stray, True), id=identifier)  # fmt: skip
    try:
        assert any("bits are set that no licence's status sets" in p for p in await _problems(registry))
    finally:
        await _sql(registry, "UPDATE status_list SET bits = :b WHERE id = (SELECT revocation_list_id FROM license "
                   "WHERE identifier = :id)", b=revocation_bits, id=identifier)  # fmt: skip
    assert await _problems(registry) == []

    # 5. A log entry deleted: a hole in the log and a record with no entry.
    async with registry.db.read() as session:
        row = (
            (
                await (await session.connection()).execute(
                    text("SELECT * FROM log_entry WHERE leaf_index = :i"), {"i": leaf}
                )
            )
            .mappings()
            .one()
        )
    await _sql(registry, "DELETE FROM log_entry WHERE leaf_index = :i", i=leaf)
    try:
        problems = await _problems(registry)
        assert any(f"entry {leaf} is missing" in p for p in problems)
        assert any(identifier in p for p in problems)
    finally:
        await _sql(
            registry,
            "INSERT INTO log_entry (leaf_index, kind, ref, content, leaf_hash, at) "
            "VALUES (:leaf_index, :kind, :ref, :content, :leaf_hash, :at)",
            **dict(row),
        )
    assert await _problems(registry) == []
