"""The CJK font for printed licences.

reportlab embeds (and subsets) TrueType-outline fonts only; CFF-outline CJK fonts such as Noto CJK cannot
be embedded. So we look for a TrueType CJK font -- the ``REGISTRY_CJK_FONT`` override first, then Debian's
WenQuanYi and AR PL fonts -- and register it once. When none is found we fall back to reportlab's built-in
``STSong-Light`` CID font, which is *not* embedded: the page shows Chinese only where the viewer has a CJK
font. :func:`cjk_font` says which one is in use so the caller can report the fallback.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFError, TTFont

__all__ = [
    "ENV_VAR",
    "FALLBACK_FONT",
    "SEARCH_PATHS",
    "FontChoice",
    "cjk_font",
    "reset_cjk_font_cache",
]

log = logging.getLogger(__name__)

ENV_VAR = "REGISTRY_CJK_FONT"
"""Path of a TrueType (``.ttf``/``.ttc``) CJK font to use instead of the search below."""

SEARCH_PATHS: tuple[str, ...] = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # Debian fonts-wqy-zenhei
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # Debian fonts-wqy-microhei
    "/usr/share/fonts/truetype/arphic/uming.ttc",  # Debian fonts-arphic-uming
)
"""TrueType-outline CJK fonts tried in order (the first face of a collection is used)."""

FALLBACK_FONT = "STSong-Light"
"""reportlab's built-in Adobe-GB1 CID font: always available, never embedded."""


@dataclass(frozen=True)
class FontChoice:
    """The CJK font in use: its reportlab name, whether it is embedded in the PDF, and its file."""

    name: str
    embedded: bool
    path: str | None


_lock = threading.Lock()
_choice: FontChoice | None = None


def cjk_font() -> FontChoice:
    """Find and register the CJK font once (thread-safe, cached); later calls return the same choice."""
    global _choice
    choice = _choice
    if choice is not None:
        return choice
    with _lock:
        if _choice is None:
            _choice = _find_and_register()
        return _choice


def reset_cjk_font_cache() -> None:
    """Forget the cached choice (tests, or after installing a font); the next call searches again."""
    global _choice
    with _lock:
        _choice = None


def _candidates() -> list[str]:
    override = os.environ.get(ENV_VAR, "").strip()
    return ([override] if override else []) + list(SEARCH_PATHS)


def _find_and_register() -> FontChoice:
    for path in _candidates():
        if not Path(path).is_file():
            if path == os.environ.get(ENV_VAR, "").strip():
                log.warning("%s=%s does not exist; searching the usual places", ENV_VAR, path)
            continue
        name = _font_name(path)
        try:
            if name not in pdfmetrics.getRegisteredFontNames():
                pdfmetrics.registerFont(TTFont(name, path, subfontIndex=0))
        except (TTFError, OSError, ValueError) as exc:
            # CFF-outline (OpenType/PostScript) fonts and damaged files land here.
            log.warning("cannot embed CJK font %s (%s); trying the next one", path, exc)
            continue
        log.info("CJK font for printed licences: %s (embedded)", path)
        return FontChoice(name=name, embedded=True, path=path)
    if FALLBACK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_FONT))
    log.warning(
        "no TrueType CJK font found (tried %s); printed licences use the non-embedded %s, which shows "
        "Chinese only where the viewer has a CJK font. Install fonts-wqy-zenhei or set %s.",
        ", ".join(_candidates()) or "nothing",
        FALLBACK_FONT,
        ENV_VAR,
    )
    return FontChoice(name=FALLBACK_FONT, embedded=False, path=None)


def _font_name(path: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9]+", "-", Path(path).stem).strip("-") or "font"
    tag = hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"CJK-{stem}-{tag}"
