"""The window workstation's words (/window): key → (中文, English). Merged into :data:`registry.web.i18n.STRINGS`."""

from __future__ import annotations

from typing import Final

STRINGS: Final[dict[str, tuple[str, str]]] = {
    "window.title": ("窗口办件", "Service window"),
}
