"""HTTP: the signed trust list and the departments' status lists (public, cacheable)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from registry.context import Registry
from registry.http.ratelimit import limit_public
from registry.trust import service
from registry.trust.caches import Published


def _cacheable(published: Published, media_type: str) -> Response[bytes]:
    max_age = published.max_age(datetime.now(UTC))
    return Response(
        json.dumps(published.document, ensure_ascii=False).encode(),
        media_type=media_type,
        headers={"Cache-Control": f"public, max-age={max_age}", "ETag": f'"{published.version}-{max_age // 60}"'},
    )


class TrustController(Controller):
    tags = ["trust"]  # noqa: RUF012
    guards = [limit_public]  # noqa: RUF012

    @get("/api/v1/trust-list", summary="Signed trust list of issuer keys / 信任列表")
    async def trust_list(self, registry: NamedDependency[Registry]) -> Response[bytes]:
        return _cacheable(await service.trust_list_document(registry), "application/json")

    @get(
        ["/api/v1/status-lists/{list_id:str}", "/status-lists/{list_id:str}"],
        summary="A W3C Bitstring Status List credential / 状态列表",
    )
    async def status_list(self, registry: NamedDependency[Registry], list_id: FromPath[str]) -> Response[bytes]:
        return _cacheable(await service.status_list_document(registry, list_id), "application/vc")
