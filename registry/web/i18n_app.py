"""The citizen app's words (/app): key → (中文, English). Merged into :data:`registry.web.i18n.STRINGS`."""

from __future__ import annotations

from typing import Final

STRINGS: Final[dict[str, tuple[str, str]]] = {
    "app.title": ("我的电子证照", "My licences"),
}
