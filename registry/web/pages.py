"""What every page shares: security headers, the language (``?lang=``, remembered in a cookie), the
context ``base.html`` needs, and the login guard of the staff and citizen pages."""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlencode

from litestar import Request
from litestar.datastructures import Cookie
from litestar.response import Redirect, Template

from registry import errors
from registry.auth import sessions
from registry.context import Registry
from registry.models import Holder, Organisation, StaffUser, WebSession
from registry.web.i18n import HTML_LANG, Lang, js_strings, resolve_lang, switch_href, t

# The pages load nothing from elsewhere and run no inline script; the camera needs blob: media.
# Pages carry personal data: never cached. (Their security headers and CSP come from registry.http.headers,
# which every response passes through.)
PAGE_HEADERS: Final = {"Cache-Control": "no-store"}
LANG_COOKIE: Final = "registry_lang"
# Where each kind of account logs in, and where it lands afterwards.
LOGIN_PATH: Final = {"staff": "/login", "holder": "/app/login"}
HOME: Final = {"issuer": "/console", "agency": "/window", "holder": "/app"}


def page_lang(request: Request[Any, Any, Any]) -> Lang:
    """``?lang=`` when given, else the language chosen before (a cookie), else Chinese."""
    return resolve_lang(request.query_params.get("lang") or request.cookies.get(LANG_COOKIE))


def safe_next(value: object, default: str) -> str:
    """A local path to return to after login; anything else (another site, ``//host``) is the default."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith(("//", "/\\")) and len(value) < 500:
        return value
    return default


def localise(detail: str, lang: Lang) -> str:
    """The registry's messages read ``中文 / English``: keep the half in the page's language."""
    zh, sep, en = detail.partition(" / ")
    return (en if lang == "en" else zh) if sep else detail


async def viewer_of(reg: Registry, row: WebSession) -> dict[str, str]:
    """Who is logged in, for the header: a name, and the organisation for staff."""
    async with reg.db.read() as session:
        if row.kind == "holder":
            holder = await session.get(Holder, row.subject)
            return {"name": holder.name if holder else row.subject, "org": "", "kind": "holder"}
        user = await session.get(StaffUser, row.username or "")
        org = await session.get(Organisation, row.subject)
    return {
        "name": (user.display_name if user else None) or row.username or "",
        "org": org.name if org else row.subject,
        "kind": "staff",
    }


def render(
    request: Request[Any, Any, Any],
    registry: Registry,
    template: str,
    title_key: str,
    context: dict[str, Any] | None = None,
    *,
    session: WebSession | None = None,
    viewer: dict[str, str] | None = None,
    status: int = 200,
) -> Template:
    lang = page_lang(request)

    def translate(key: str) -> str:
        return t(key, lang)

    full: dict[str, Any] = {
        "lang": lang,
        "html_lang": HTML_LANG[lang],
        "t": translate,
        "title": translate(title_key),
        "site_name": registry.settings.registry_name if lang == "zh" else translate("site.name"),
        "switch_href": switch_href(request.url.path, dict(request.query_params), lang),
        "switch_lang": HTML_LANG["en" if lang == "zh" else "zh"],
        "js_strings": js_strings(lang),
        "viewer": viewer,
        "csrf_token": session.csrf_token if session else None,
        "logout_kind": session.kind if session else None,
    }
    full.update(context or {})
    cookies = []
    if request.query_params.get("lang"):
        cookies.append(Cookie(key=LANG_COOKIE, value=lang, path="/", max_age=365 * 86400, samesite="lax"))
    return Template(template_name=template, context=full, headers=PAGE_HEADERS, cookies=cookies, status_code=status)


def login_redirect(request: Request[Any, Any, Any], kind: str, *, expired: bool = False) -> Redirect:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    params = {"next": here}
    if expired:
        params["expired"] = "1"
    return Redirect(f"{LOGIN_PATH[kind]}?{urlencode(params)}", status_code=303)


async def page_session(
    request: Request[Any, Any, Any], registry: Registry, kind: str, roles: tuple[str, ...]
) -> WebSession | Redirect | Template:
    """The session a page needs: the login page when there is none, a 403 page for the wrong audience."""
    try:
        row = await sessions.load(registry, request)
    except errors.SessionExpired:
        return login_redirect(request, kind, expired=True)
    if row is None:
        return login_redirect(request, kind)
    if row.kind != kind or row.role not in roles:
        return render(
            request,
            registry,
            "forbidden.html",
            "forbidden.title",
            {"home": HOME.get(row.role, "/verify")},
            session=row,
            viewer=await viewer_of(registry, row),
            status=403,
        )
    return row
