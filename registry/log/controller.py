"""HTTP: the public transparency log — checkpoints, entries, inclusion and consistency proofs (RFC 9162)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from registry.context import Registry
from registry.http.ratelimit import limit_public
from registry.log import service


class LogController(Controller):
    path = "/api/v1/log"
    tags = ["transparency log"]  # noqa: RUF012
    guards = [limit_public]  # noqa: RUF012  (public reads: registry.http.ratelimit)

    @get(
        "/checkpoint",
        summary="Latest signed tree head / 最新签名树头",
        description="Signed with the registry's trust-list key (Ed25519 over `note`). Hashes are base64.",
    )
    async def checkpoint(self, registry: NamedDependency[Registry]) -> dict[str, Any]:
        return await service.latest_checkpoint(registry)

    @get("/entries", summary="Log entries [start, end) / 日志条目")
    async def entries(
        self, registry: NamedDependency[Registry], start: FromQuery[int], end: FromQuery[int]
    ) -> dict[str, Any]:
        return await service.entries(registry, start, end)

    @get("/proofs/inclusion", summary="Inclusion proof (RFC 9162 §2.1.3) / 包含性证明")
    async def inclusion(
        self, registry: NamedDependency[Registry], leaf_index: FromQuery[int], tree_size: FromQuery[int | None] = None
    ) -> dict[str, Any]:
        return await service.inclusion(registry, leaf_index, tree_size)

    @get("/proofs/consistency", summary="Consistency proof (RFC 9162 §2.1.4) / 一致性证明")
    async def consistency(
        self, registry: NamedDependency[Registry], first: FromQuery[int], second: FromQuery[int | None] = None
    ) -> dict[str, Any]:
        return await service.consistency(registry, first, second)


class LicenceLogProofController(Controller):
    path = "/api/v1/licenses"
    tags = ["transparency log"]  # noqa: RUF012
    guards = [limit_public]  # noqa: RUF012

    @get(
        "/{identifier:str}/log-proof",
        summary="Where a licence's issuance is in the log / 证照签发的日志证明",
        description="The issuance entry of this licence version, its leaf index and the audit path to a tree "
        "head (the latest, or `tree_size`).",
    )
    async def log_proof(
        self, registry: NamedDependency[Registry], identifier: FromPath[str], tree_size: FromQuery[int | None] = None
    ) -> dict[str, Any]:
        return await service.licence_proof(registry, identifier, tree_size)
