"""The /app page."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from registry.context import Registry
from registry.models import WebSession
from registry.web.pages import page_session, render, viewer_of


class AppPages(Controller):
    include_in_schema = False

    @get("/app", name="page.app")
    async def app_page(
        self, request: Request[Any, Any, Any], registry: NamedDependency[Registry]
    ) -> Template | Redirect:
        row = await page_session(request, registry, "holder", ("holder",))
        if not isinstance(row, WebSession):
            return row
        viewer = await viewer_of(registry, row)
        return render(request, registry, "app.html", "app.title", {}, session=row, viewer=viewer)
