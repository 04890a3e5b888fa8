"""The server-rendered pages (DESIGN §6 "Pages"): Jinja templates in ``templates/pages``, CSS and a little
vanilla JS in ``registry/web/static`` (served at ``/static``), words from :mod:`registry.web.i18n`.

The pages call the same JSON API the systems use; there is no Node and no build step.
"""

from __future__ import annotations

from registry.web.app_pages import AppPages
from registry.web.assets import STATIC_DIR, TEMPLATES_DIR, static_router, template_config
from registry.web.auth_pages import LoginController
from registry.web.console_pages import ConsolePages
from registry.web.controller import WebController
from registry.web.window_pages import WindowPages

PAGE_CONTROLLERS = (WebController, LoginController, AppPages, WindowPages, ConsolePages)

__all__ = ["PAGE_CONTROLLERS", "STATIC_DIR", "TEMPLATES_DIR", "static_router", "template_config"]
