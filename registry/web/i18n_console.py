"""The department console's words (/console): key → (中文, English). Merged into :data:`registry.web.i18n.STRINGS`."""

from __future__ import annotations

from typing import Final

STRINGS: Final[dict[str, tuple[str, str]]] = {
    "console.title": ("发证管理", "Issuing console"),
}
