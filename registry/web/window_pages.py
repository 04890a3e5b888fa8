"""The /window page."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from registry.context import Registry
from registry.models import WebSession
from registry.web.pages import page_session, render, viewer_of


class WindowPages(Controller):
    include_in_schema = False

    @get("/window", name="page.window")
    async def window_page(
        self, request: Request[Any, Any, Any], registry: NamedDependency[Registry]
    ) -> Template | Redirect:
        row = await page_session(request, registry, "staff", ("agency",))
        if not isinstance(row, WebSession):
            return row
        viewer = await viewer_of(registry, row)
        return render(request, registry, "window.html", "window.title", {}, session=row, viewer=viewer)
