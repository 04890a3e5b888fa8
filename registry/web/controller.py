"""The public page, /verify. The staff and citizen pages live beside it (``login``, ``app``, ``window``,
``console``), each rendering a template with the words of one language (``?lang=en``, else Chinese)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from registry.context import Registry
from registry.web.pages import render


class WebController(Controller):
    include_in_schema = False

    @get("/verify", name="page.verify")
    async def verify_page(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry]) -> Template:
        """证照核验: a scanner input, a camera button and a photo upload; the verdict fills the reserved area."""
        return render(request, registry, "verify.html", "verify.title")
