"""QR codes for licence payloads: PNG and SVG rendering, and reading QR codes back from images.

An ``LC1:`` payload is Base45, whose 45 characters are exactly the QR alphanumeric set, so the symbol is
built in alphanumeric mode (5.5 bits a character instead of 8 in byte mode): a 1,000-character payload
fits version 21 at error-correction level M. Building the symbol (mask selection) is CPU-bound and takes
~0.1 s in pure Python; the matrix is cached per payload, and callers run these functions off the event
loop.
"""

from __future__ import annotations

import functools
import io
import re
import warnings
from dataclasses import dataclass

import qrcode
import qrcode.constants
import qrcode.exceptions
import qrcode.util
import zxingcpp
from PIL import Image, UnidentifiedImageError

__all__ = [
    "ERROR_CORRECTION",
    "QrMatrix",
    "decode_qr_image",
    "qr_matrix",
    "qr_version",
    "render_qr_png",
    "render_qr_svg",
]

ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_M
"""Level M (~15 % of codewords recoverable): the DESIGN's budget is version ≤ 21 at this level."""

_ALPHANUMERIC = re.compile(r"[0-9A-Z $%*+\-./:]*")

MAX_DECODE_PIXELS = 40_000_000
"""Largest image :func:`decode_qr_image` looks at (a 40-megapixel photo); larger ones are refused."""


@dataclass(frozen=True)
class QrMatrix:
    """A QR symbol: its version and its dark modules, row by row, without the quiet zone."""

    version: int
    modules: tuple[tuple[bool, ...], ...]

    @property
    def size(self) -> int:
        return len(self.modules)


@functools.lru_cache(maxsize=64)
def qr_matrix(payload: str) -> QrMatrix:
    """The QR symbol for ``payload`` at level M, smallest version that fits; alphanumeric mode when the
    payload allows it (every ``LC1:`` payload does), byte mode otherwise. Raises ``ValueError`` when the
    payload does not fit version 40."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECTION, border=0)
    if _ALPHANUMERIC.fullmatch(payload):
        code.add_data(qrcode.util.QRData(payload, mode=qrcode.util.MODE_ALPHA_NUM))
    else:
        code.add_data(qrcode.util.QRData(payload.encode("utf-8"), mode=qrcode.util.MODE_8BIT_BYTE))
    try:
        code.make(fit=True)
    except qrcode.exceptions.DataOverflowError as exc:
        raise ValueError(f"payload of {len(payload)} characters does not fit a QR code") from exc
    modules = tuple(tuple(bool(cell) for cell in row) for row in code.modules)
    return QrMatrix(version=int(code.version), modules=modules)


def qr_version(payload: str) -> int:
    """The QR version (1-40) ``payload`` needs at level M."""
    return qr_matrix(payload).version


def _module_image(matrix: QrMatrix, border: int) -> Image.Image:
    """One pixel a module, quiet zone included, as an 8-bit greyscale image (0 dark, 255 light)."""
    side = matrix.size + 2 * border
    light = b"\xff" * side
    rows = [light] * border
    pad = b"\xff" * border
    for row in matrix.modules:
        rows.append(pad + bytes(0 if dark else 255 for dark in row) + pad)
    rows.extend([light] * border)
    return Image.frombytes("L", (side, side), b"".join(rows))


def render_qr_png(payload: str, *, box_size: int = 8, border: int = 4) -> bytes:
    """A black-on-white 1-bit PNG of the QR code: ``box_size`` pixels a module, a ``border``-module quiet
    zone (the standard asks for 4)."""
    if box_size < 1 or border < 0:
        raise ValueError("box_size must be ≥ 1 and border ≥ 0")
    image = _module_image(qr_matrix(payload), border)
    side = image.width * box_size
    image = image.resize((side, side), Image.Resampling.NEAREST).convert("1", dither=Image.Dither.NONE)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def render_qr_svg(payload: str, *, border: int = 4, module_px: int = 8) -> bytes:
    """A standalone SVG of the QR code with a white background (so it scans on dark pages).

    Drawn in module units: one ``<path>`` whose sub-paths are the horizontal runs of dark modules, with
    ``shape-rendering="crispEdges"``. (qrcode's ``SvgPathImage`` writes one sub-path a module in mm, ~120 KB
    for version 21; this is the same matrix in a fraction of the size.)
    """
    if border < 0 or module_px < 1:
        raise ValueError("border must be ≥ 0 and module_px ≥ 1")
    matrix = qr_matrix(payload)
    side = matrix.size + 2 * border
    runs: list[str] = []
    for y, row in enumerate(matrix.modules):
        x = 0
        while x < matrix.size:
            if not row[x]:
                x += 1
                continue
            start = x
            while x < matrix.size and row[x]:
                x += 1
            length = x - start
            runs.append(f"M{start + border} {y + border}h{length}v1h-{length}z")
    pixels = side * module_px
    svg = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{pixels}" height="{pixels}" '
        f'viewBox="0 0 {side} {side}" shape-rendering="crispEdges">'
        f'<rect x="0" y="0" width="{side}" height="{side}" fill="#ffffff"/>'
        f'<path fill="#000000" d="{"".join(runs)}"/>'
        "</svg>\n"
    )
    return svg.encode("ascii")


def decode_qr_image(data: bytes, *, max_pixels: int = MAX_DECODE_PIXELS) -> list[str]:
    """The texts of the QR codes found in an image (PNG, JPEG, … anything Pillow opens), in the order
    zxing-cpp reports them; ``[]`` when there is none. Raises ``ValueError`` for data that is not an
    image or an image over ``max_pixels`` (checked from the header, before decoding pixels)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                width, height = opened.size
                if width * height > max_pixels:
                    raise ValueError(f"image of {width}×{height} pixels is too large to scan")
                opened.load()
                image = _flatten(opened)
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValueError(f"not a readable image: {exc}") from None
    except OSError as exc:  # truncated or corrupt image data
        raise ValueError(f"not a readable image: {exc}") from None
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))
    return [str(barcode.text) for barcode in found if barcode.valid]


def _flatten(image: Image.Image) -> Image.Image:
    """Greyscale, with any transparency composited onto white (a transparent PNG's 'white' is often
    transparent black)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        background.alpha_composite(rgba)
        return background.convert("L")
    return image.convert("L")
