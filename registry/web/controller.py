"""The pages' routes. Each renders a template with the words of one language (``?lang=en``, else Chinese)."""

from __future__ import annotations

from typing import Any, Final

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Template

from registry.context import Registry
from registry.web.i18n import HTML_LANG, Lang, js_strings, resolve_lang, switch_href, t

# The pages load nothing from elsewhere and run no inline script; the camera needs blob: media.
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
    "Cache-Control": "no-store",
}


def page_context(request: Request[Any, Any, Any], registry: Registry, lang: Lang, title_key: str) -> dict[str, Any]:
    """What ``base.html`` needs on every page."""

    def translate(key: str) -> str:
        return t(key, lang)

    return {
        "lang": lang,
        "html_lang": HTML_LANG[lang],
        "t": translate,
        "title": translate(title_key),
        "site_name": registry.settings.registry_name if lang == "zh" else translate("site.name"),
        "switch_href": switch_href(request.url.path, dict(request.query_params), lang),
        "switch_lang": HTML_LANG["en" if lang == "zh" else "zh"],
    }


class WebController(Controller):
    """Public pages. Staff and citizen pages (``/window``, ``/console``, ``/app``) join here later."""

    include_in_schema = False

    @get("/verify", name="page.verify")
    async def verify_page(
        self, request: Request[Any, Any, Any], registry: NamedDependency[Registry], lang: FromQuery[str | None] = None
    ) -> Template:
        """证照核验: a scanner input, a camera button and a photo upload; the verdict fills the reserved area."""
        chosen = resolve_lang(lang)
        context = page_context(request, registry, chosen, "verify.title")
        context["js_strings"] = js_strings(chosen)
        return Template(template_name="verify.html", context=context, headers=SECURITY_HEADERS)
