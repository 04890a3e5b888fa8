"""HTTP: the service-item catalogue (事项目录), public — which licences a window pulls for which item is public
information, and the catalogue is static (``templates/services``, loaded once)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.datastructures import CacheControlHeader
from litestar.params import FromPath, FromQuery

from registry.service_items import default_service_catalog

# The catalogue changes only with a deployment: let browsers and proxies keep it for a while.
_CACHE = CacheControlHeader(public=True, max_age=300)


class ServiceController(Controller):
    path = "/api/v1/services"
    tags = ["services"]  # noqa: RUF012

    @get(
        "/",
        summary="Service items / 事项目录",
        description="Every service item with the materials it requires; `q` keeps those whose code, Chinese or "
        "English name contains it (case-insensitive).",
        cache_control=_CACHE,
    )
    async def list_services(self, q: FromQuery[str | None] = None) -> list[dict[str, Any]]:
        return [item.public() for item in default_service_catalog().search(q)]

    @get("/{code:str}", summary="One service item / 事项详情", cache_control=_CACHE)
    async def get_service(self, code: FromPath[str]) -> dict[str, Any]:
        return default_service_catalog().get(code).public()
