"""Logging in and out of the pages: staff with a username (/login), holders with an ID number (/app/login).

The login form carries a double-submit CSRF token (there is no session yet); a successful login starts a
fresh session (a new random token, so a planted cookie is worthless) and returns to the page asked for.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from registry import errors
from registry.auth import sessions
from registry.context import Registry
from registry.holders.service import PasswordIdentityProvider
from registry.http.ratelimit import client_key
from registry.staff import service as staff
from registry.web.i18n import t
from registry.web.pages import HOME, LOGIN_PATH, localise, page_lang, render, safe_next, viewer_of


class LoginController(Controller):
    include_in_schema = False

    @get("/", name="page.index")
    async def index(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry]) -> Template:
        """The front door: which page is for whom."""
        return render(request, registry, "index.html", "index.title")

    @get("/login", name="page.login")
    async def staff_login_page(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry]) -> Template:
        return _login_page(request, registry, "staff")

    @post("/login", name="page.login.submit", status_code=303)
    async def staff_login(
        self, request: Request[Any, Any, Any], registry: NamedDependency[Registry]
    ) -> Redirect | Template:
        return await _login(request, registry, "staff")

    @get("/app/login", name="page.app.login")
    async def holder_login_page(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry]) -> Template:
        return _login_page(request, registry, "holder")

    @post("/app/login", name="page.app.login.submit", status_code=303)
    async def holder_login(
        self, request: Request[Any, Any, Any], registry: NamedDependency[Registry]
    ) -> Redirect | Template:
        return await _login(request, registry, "holder")

    @post("/logout", name="page.logout", status_code=303)
    async def logout(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry]) -> Redirect | Template:
        form = await request.form()
        kind = "holder" if form.get("kind") == "holder" else "staff"
        try:
            row = await sessions.load(registry, request)
        except errors.SessionExpired:
            row = None
        if row is not None:
            kind = row.kind
            try:
                sessions.check_csrf(row, _text(form.get(sessions.CSRF_FIELD)))
                sessions.check_origin(registry, request)
            except errors.CsrfFailed as exc:
                # Stay logged in: a forged logout is a nuisance, not a request of the user.
                return render(
                    request,
                    registry,
                    "forbidden.html",
                    "forbidden.title",
                    {"home": HOME.get(row.role, "/"), "message": localise(exc.detail, page_lang(request))},
                    session=row,
                    viewer=await viewer_of(registry, row),
                    status=403,
                )
            await sessions.end(registry, row)
        response = Redirect(f"{LOGIN_PATH[kind]}?bye=1", status_code=303)
        sessions.clear_cookie(registry, response)
        return response


def _text(value: object, limit: int = 200) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _login_page(
    request: Request[Any, Any, Any],
    registry: Registry,
    kind: str,
    *,
    error: str | None = None,
    status: int = 200,
    identity: str = "",
    next_path: str | None = None,
) -> Template:
    lang = page_lang(request)
    query = request.query_params
    notice = None
    if error is None and query.get("expired"):
        notice = t("login.expired", lang)
    elif error is None and query.get("bye"):
        notice = t("login.bye", lang)
    token = sessions.new_login_token()
    page = render(
        request,
        registry,
        "login.html",
        f"login.{kind}.title",
        {
            "kind": kind,
            "action": LOGIN_PATH[kind],
            "identity_name": "username" if kind == "staff" else "id_number",
            "identity_value": identity,
            "login_token": token,
            "next": next_path if next_path is not None else safe_next(query.get("next"), ""),
            "error": error,
            "notice": notice,
        },
        status=status,
    )
    sessions.set_login_cookie(registry, page, token)
    return page


async def _login(request: Request[Any, Any, Any], registry: Registry, kind: str) -> Redirect | Template:
    form = await request.form()
    identity = _text(form.get("username" if kind == "staff" else "id_number"), 64).strip()
    password = _text(form.get("password"), 200)
    next_path = safe_next(form.get("next"), "")
    try:
        registry.login_limiter.take(client_key(request))
        sessions.check_login_token(registry, request, _text(form.get(sessions.CSRF_FIELD)))
        if not identity or not password:
            raise errors.NotAuthenticated(
                "请填写用户名和密码 / Enter your username and password"
                if kind == "staff"
                else "请填写证件号码和密码 / Enter your ID number and password"
            )
        if kind == "staff":
            who = await staff.authenticate(registry, identity, password)
            token = await sessions.start(
                registry, kind="staff", subject=who.org_code, role=who.role, username=who.username
            )
            home = HOME[who.role]
        else:
            holder = await (registry.identity or PasswordIdentityProvider(registry)).authenticate(identity, password)
            token = await sessions.start(registry, kind="holder", subject=holder.id_number, role="holder")
            home = HOME["holder"]
    except errors.RegistryError as exc:
        page = _login_page(
            request,
            registry,
            kind,
            error=localise(exc.detail, page_lang(request)),
            status=exc.status,
            identity=identity,
            next_path=next_path,
        )
        if "retry_after" in exc.extra:  # a throttled login says when to try again, as the API does
            page.headers["Retry-After"] = str(exc.extra["retry_after"])
        return page
    response = Redirect(next_path or home, status_code=303)
    sessions.set_cookie(registry, response, token)
    response.delete_cookie(sessions.login_cookie_name(registry), path="/")
    return response
