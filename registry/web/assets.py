"""Where the pages' templates and static files live, and how Litestar serves them."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Final

from jinja2 import StrictUndefined
from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from registry.web.i18n import format_date

TEMPLATES_DIR: Final = Path(__file__).resolve().parents[2] / "templates" / "pages"
STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
STATIC_PATH: Final = "/static"

_versions: dict[str, tuple[int, str]] = {}


def static_url(name: str) -> str:
    """``/static/<name>?v=<content hash>``: browsers may cache for long and still see every edit at once."""
    path = (STATIC_DIR / name).resolve()
    if not path.is_relative_to(STATIC_DIR):
        raise ValueError(f"not a static file: {name!r}")
    mtime = path.stat().st_mtime_ns
    known = _versions.get(name)
    if known is None or known[0] != mtime:
        known = (mtime, hashlib.sha256(path.read_bytes()).hexdigest()[:12])
        _versions[name] = known
    return f"{STATIC_PATH}/{name}?v={known[1]}"


def _configure(engine: JinjaTemplateEngine) -> None:
    env = engine.engine
    env.undefined = StrictUndefined  # a misspelt variable fails the render (and the tests), never shows blank
    env.trim_blocks = True
    env.lstrip_blocks = True
    env.globals["static_url"] = static_url
    env.filters["date"] = format_date  # {{ value | date(lang) }}


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(directory=TEMPLATES_DIR, engine=JinjaTemplateEngine, engine_callback=_configure)


def static_router() -> Router:
    return create_static_files_router(
        path=STATIC_PATH,
        directories=[STATIC_DIR],
        name="static",
        cache_control=CacheControlHeader(max_age=86400, public=True),
        include_in_schema=False,
    )
