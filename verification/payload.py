"""The ``LC1:`` QR payload codec (DESIGN §5): ``LC1:`` + Base45 (RFC 9285) of a zlib stream (RFC 1950) of
the credential's JCS bytes, deflated against the preset dictionary ``LC1-DICT``.

Framework-free: imports neither Litestar nor the database, so verifiers and the service share it.

Decoding is bounded at every step -- input length, Base45 alphabet, the zlib header (which must name
``LC1-DICT`` by its Adler-32 before anything is inflated), inflated size, JSON nesting depth (measured
before the JSON parser runs) and duplicate keys -- so a hostile QR code yields a :class:`PayloadError`
with a machine ``reason``, never a crash, a hang or a memory blow-up.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import zlib
from collections.abc import Mapping
from typing import Any, Final

import base45

from signing.jcs import canonicalize

__all__ = [
    "LC1_DICT",
    "LC1_DICT_ID",
    "LC1_DICT_SHA256",
    "MAX_PAYLOAD_CHARS",
    "PREFIX",
    "PayloadError",
    "b45encode",
    "decode_payload",
    "encode_canonical",
    "encode_payload",
    "fits_budget",
    "json_depth",
]

PREFIX: Final = "LC1:"
MAX_PAYLOAD_CHARS: Final = 1000
"""The QR budget: a payload of at most this many characters fits QR version 21 at level M."""

LC1_DICT: Final[bytes] = (
    b'"@context":["https://www.w3.org/ns/credentials/v2"],"credentialStatus":[{"statusListCredential":'
    b'"https:///status-lists/","statusListIndex":"","statusPurpose":"suspension","type":"BitstringStat'
    b'usListEntry"},{"statusListCredential":"https://","statusListIndex":"","statusPurpose":"revocatio'
    b'n","type":"BitstringStatusListEntry"}],"credentialSubject":{"fields":{},"fullCredentialDigest":"'
    b'u","holder":{"idNumber":"","idType":"uscc","name":""},"holder":{"idNumber":"","idType":"resident'
    b'_id","name":""},"licenseType":""},"id":"https:///licenses/1.2.156.3005.2.","issuer":{"id":"did:w'
    b'eb::departments:","name":""},"proof":{"created":"T00:00:00Z","cryptosuite":"eddsa-jcs-2022","pro'
    b'ofPurpose":"assertionMethod","proofValue":"z","type":"DataIntegrityProof","verificationMethod":"'
    b'did:web::departments:#key-1"},"type":["VerifiableCredential","ElectronicLicense","ElectronicLice'
    b'nseCompact"],"validFrom":"T00:00:00Z","validUntil":"T00:00:00Z"}'
)
"""``LC1-DICT``: the 928-byte preset deflate dictionary of DESIGN §5 (one line, no trailing newline)."""

LC1_DICT_SHA256: Final = "5054530901d76fd7f91d126b256641da6be4be3a938448bc2207626347021645"
LC1_DICT_ID: Final = zlib.adler32(LC1_DICT)
"""The DICTID a conforming zlib header carries (RFC 1950 §2.2): Adler-32 of ``LC1_DICT``."""

if len(LC1_DICT) != 928 or hashlib.sha256(LC1_DICT).hexdigest() != LC1_DICT_SHA256:  # pragma: no cover
    raise RuntimeError("LC1-DICT does not match DESIGN §5 (length 928, SHA-256 5054…1645)")

_MESSAGES: Final[dict[str, tuple[str, str]]] = {
    "empty": ("二维码内容为空", "QR payload is empty"),
    "prefix": ("二维码内容不是电子证照凭证（缺少 LC1: 前缀）", "QR payload does not start with 'LC1:'"),
    "base45": ("二维码内容不是合法的 Base45 编码", "QR payload is not valid Base45"),
    "zlib": ("二维码内容不是完整的 zlib 数据流", "QR payload is not a complete zlib stream"),
    "dictionary": (
        "二维码数据未使用 LC1 预置字典压缩",
        "QR payload is not compressed with the LC1 preset dictionary",
    ),
    "too_large": ("二维码内容过长", "QR payload is too long"),
    "bomb": ("二维码数据解压后超出上限", "QR payload inflates beyond the allowed size"),
    "json": ("二维码数据不是合法的 JSON", "QR payload is not valid JSON"),
    "depth": ("二维码数据嵌套层级过深", "QR payload JSON is nested too deeply"),
    "not_object": ("二维码数据不是 JSON 对象", "QR payload JSON is not an object"),
}


class PayloadError(ValueError):
    """A QR payload that cannot be decoded. ``reason`` is a short stable machine word (see
    ``_MESSAGES``); the message is bilingual, Chinese first."""

    def __init__(self, reason: str, detail: str | None = None) -> None:
        zh, en = _MESSAGES.get(reason, ("二维码内容无效", "QR payload is invalid"))
        message = f"{zh} / {en}"
        if detail:
            message = f"{message}: {detail}"
        self.reason = reason
        self.detail = detail
        super().__init__(message)


def encode_payload(credential: Mapping[str, Any]) -> str:
    """Return ``LC1:`` + Base45(zlib(JCS(credential), zdict=LC1_DICT)). Does not enforce the QR budget:
    see :func:`fits_budget`."""
    return encode_canonical(canonicalize(dict(credential)))


def encode_canonical(jcs: bytes) -> str:
    """:func:`encode_payload` for a credential already in its JCS bytes (the issuer has them anyway)."""
    compressor = zlib.compressobj(level=9, wbits=15, zdict=LC1_DICT)
    return PREFIX + b45encode(compressor.compress(jcs) + compressor.flush())


_B45_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_B45_LOW: Final = tuple(_B45_ALPHABET[n % 45] + _B45_ALPHABET[n // 45] for n in range(2025))


def b45encode(data: bytes) -> str:
    """RFC 9285 Base45, as ``base45.b45encode`` (the tests compare the two) but 2× faster: byte pairs are
    unpacked in C and each is written from a 2,025-entry table of its two low digits. (A table of all 65,536
    pairs is faster in a tight loop and slower on real payloads: it does not stay in the CPU cache.)"""
    whole = len(data) & ~1
    low, alphabet = _B45_LOW, _B45_ALPHABET
    text = "".join([low[n % 2025] + alphabet[n // 2025] for n in struct.unpack(f">{whole // 2}H", data[:whole])])
    if whole != len(data):
        last = data[-1]
        text += _B45_ALPHABET[last % 45] + _B45_ALPHABET[last // 45]
    return text


def fits_budget(payload: str) -> bool:
    """Whether ``payload`` fits the QR budget of :data:`MAX_PAYLOAD_CHARS` characters."""
    return len(payload) <= MAX_PAYLOAD_CHARS


def decode_payload(
    text: str,
    *,
    max_chars: int = 4096,
    max_inflated: int = 65536,
    max_depth: int = 32,
) -> dict[str, Any]:
    """Decode an ``LC1:`` payload to the credential it carries, bounded at every step.

    Raises :class:`PayloadError` (``reason`` one of ``empty``, ``too_large``, ``prefix``, ``base45``,
    ``zlib``, ``dictionary``, ``bomb``, ``json``, ``depth``, ``not_object``). Never checks signatures.
    """
    if not isinstance(text, str):
        raise PayloadError("prefix", "payload must be text")
    if len(text) > max_chars:
        raise PayloadError("too_large", f"{len(text)} > {max_chars} characters")
    text = text.strip()
    if not text:
        raise PayloadError("empty")
    if not text.startswith(PREFIX):
        raise PayloadError("prefix")
    stream = _base45(text[len(PREFIX) :])
    _check_zlib_header(stream)
    raw = _inflate(stream, max_inflated)
    try:
        document = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError("json", f"invalid UTF-8 at byte {exc.start}") from None
    depth = json_depth(document)
    if depth > max_depth:
        raise PayloadError("depth", f"nesting deeper than {max_depth}")
    try:
        value = json.loads(
            document,
            object_pairs_hook=_reject_duplicate_keys,
            parse_constant=_reject_constant,
        )
    except PayloadError:
        raise
    except (ValueError, RecursionError) as exc:
        raise PayloadError("json", str(exc)[:200]) from None
    if not isinstance(value, dict):
        raise PayloadError("not_object", type(value).__name__)
    return value


# --- steps ---------------------------------------------------------------------------------------------


def _base45(body: str) -> bytes:
    try:
        data: bytes = base45.b45decode(body)
    except (ValueError, TypeError):
        raise PayloadError("base45") from None
    return data


_FDICT: Final = 0x20


def _check_zlib_header(stream: bytes) -> None:
    """RFC 1950 §2.2: CMF, FLG and -- FDICT being set -- a 4-byte DICTID that must be LC1-DICT's Adler-32.
    Checked before inflating, so a stream without the dictionary, or made with another, fails at once."""
    if len(stream) < 2:
        raise PayloadError("zlib", "stream shorter than a zlib header")
    cmf, flg = stream[0], stream[1]
    if cmf & 0x0F != 8 or cmf >> 4 > 7 or (cmf << 8 | flg) % 31 != 0:
        raise PayloadError("zlib", "not a zlib (deflate) header")
    if not flg & _FDICT:
        raise PayloadError("dictionary", "stream names no preset dictionary")
    if len(stream) < 6:
        raise PayloadError("zlib", "stream ends inside the dictionary id")
    dict_id = int.from_bytes(stream[2:6], "big")
    if dict_id != LC1_DICT_ID:
        raise PayloadError("dictionary", f"stream names dictionary {dict_id:08x}, not LC1-DICT")


def _inflate(stream: bytes, max_inflated: int) -> bytes:
    inflater = zlib.decompressobj(wbits=15, zdict=LC1_DICT)
    try:
        out = inflater.decompress(stream, max_inflated + 1)
    except zlib.error as exc:
        raise PayloadError("zlib", str(exc)) from None
    if len(out) > max_inflated or inflater.unconsumed_tail:
        raise PayloadError("bomb", f"inflates beyond {max_inflated} bytes")
    if not inflater.eof:
        raise PayloadError("zlib", "incomplete stream")
    if inflater.unused_data:
        raise PayloadError("zlib", "data after the end of the stream")
    return out


# A JSON string (closing quote optional, so an unterminated one is consumed once, not rescanned) or a
# bracket. Every alternative starts with a distinct character and the repetitions are possessive, so
# the scan is linear in the input.
_JSON_TOKEN: Final = re.compile(r'"(?:[^"\\]++|\\.)*+"?|[\[\]{}]', re.DOTALL)


def json_depth(document: str) -> int:
    """The deepest nesting of ``[``/``{`` outside strings, in linear time and without recursion."""
    depth = deepest = 0
    for match in _JSON_TOKEN.finditer(document):
        first = match.group()[0]
        if first == "[" or first == "{":
            depth += 1
            if depth > deepest:
                deepest = depth
        elif first == "]" or first == "}":
            depth -= 1
    return deepest


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise PayloadError("json", f"duplicate key {key[:40]!r}")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise PayloadError("json", f"{name} is not allowed")
