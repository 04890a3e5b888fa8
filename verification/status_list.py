"""W3C Bitstring Status List v1.0 (https://www.w3.org/TR/vc-bitstring-status-list/): the encoded list, bit
access and the (unsigned) ``BitstringStatusListCredential``.

* ``encodedList`` = ``u`` + base64url (no padding) of the GZIP-compressed bitstring (§2.2).
* Index 0 is the left-most bit of the bitstring: the most significant bit of byte 0 (§3.2 step 9).
* A list carries at least :data:`MIN_BITS` = 131,072 entries (16 KB), so one list hides its holders in a
  crowd (§6.1 "herd privacy"); shorter lists are refused (``STATUS_LIST_LENGTH_ERROR``).
* Only one-bit entries (``statusSize`` 1, the default) and the purposes ``revocation``, ``suspension`` and
  ``refresh`` are supported; ``message`` lists need several bits per entry.

Decoding is bounded: the decompressed size never exceeds ``max_bytes`` (a gzip bomb costs at most that much
work), and every malformed input raises :class:`StatusListError` with a machine ``reason``.

:func:`parse_status_list_credential` checks the shape only; the caller verifies the proof with the issuer's
key (``verification.verifier.load_status_list`` does both).

This module also holds the RFC 3339 timestamp helpers the other ``verification`` modules share.
"""

from __future__ import annotations

import functools
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from signing.errors import MultibaseError
from signing.multibase import decode_multibase, encode_base64url
from verification.errors import StatusListError

__all__ = [
    "MIN_BITS",
    "PURPOSES",
    "VC_CONTEXT",
    "StatusListError",
    "StatusListSnapshot",
    "bit_at",
    "decode_list",
    "encode_list",
    "format_timestamp",
    "parse_status_list_credential",
    "parse_timestamp",
    "status_list_credential",
    "with_bit",
]

VC_CONTEXT: Final = "https://www.w3.org/ns/credentials/v2"
MIN_BITS: Final = 131072
"""The smallest list the spec allows: 131,072 entries = 16 KB uncompressed."""
PURPOSES: Final = frozenset({"revocation", "suspension", "refresh"})
DEFAULT_MAX_BYTES: Final = 2 * 1024 * 1024

# RFC 3339 date-time with a mandatory zone, ASCII digits only ("\d" would also match other scripts' digits).
_TIMESTAMP: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)
_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS  # gzip wrapper only: a raw zlib or deflate stream is refused


# --- timestamps ------------------------------------------------------------------------------------------


def parse_timestamp(text: object) -> datetime:
    """Parse an RFC 3339 date-time that names its zone (``2026-11-23T00:00:00Z``, ``…+08:00``) into an aware
    UTC datetime; raise ``ValueError`` for anything else (no date-only values, no local times)."""
    if not isinstance(text, str) or _TIMESTAMP.fullmatch(text) is None:
        raise ValueError(f"not an RFC 3339 date-time with a time zone: {str(text)[:40]!r}")
    head, dot, rest = text.partition(".")
    if dot:
        # datetime keeps microseconds: drop digits past the sixth, keep the zone.
        zone_at = next(i for i, ch in enumerate(rest) if ch in "Z+-")
        digits, zone = rest[:zone_at], rest[zone_at:]
        text = f"{head}.{digits[:6]}{zone}"
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except OverflowError:  # year 1 or 9999 pushed out of range by its offset
        raise ValueError(f"date-time out of range: {text[:40]!r}") from None


def format_timestamp(value: datetime) -> str:
    """An aware datetime as RFC 3339 UTC with whole seconds: ``2026-11-23T00:00:00Z``."""
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    # Whole seconds are printed, so whole seconds are the cache key: the scans of one second share "now".
    return _format_utc(value.replace(microsecond=0) if value.microsecond else value)


@functools.lru_cache(maxsize=4096)
def _format_utc(value: datetime) -> str:  # a scan formats the same validity dates again and again
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the encoded list ------------------------------------------------------------------------------------


def encode_list(bits: bytes) -> str:
    """``u`` + base64url-no-pad of the gzip of ``bits`` (mtime 0, so equal lists encode equally)."""
    if not isinstance(bits, bytes):
        raise StatusListError("shape", "状态位串应为字节串 / the bitstring must be bytes")
    compressor = zlib.compressobj(9, zlib.DEFLATED, _GZIP_WBITS)
    return encode_base64url(compressor.compress(bits) + compressor.flush())


def decode_list(encoded: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Decode an ``encodedList`` to its bitstring, never inflating past ``max_bytes``.

    Raises :class:`StatusListError` for a non-``u`` multibase value, bad base64url, anything but one complete
    gzip member, or a list larger than ``max_bytes``. The minimum length is checked by the callers that
    need it (:func:`parse_status_list_credential`), so tests and tools can round-trip short strings.
    """
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise StatusListError("multibase", "状态列表编码应以 u 开头 / encodedList must be base64url multibase ('u')")
    # Incompressible data grows a little under gzip and by 4/3 under base64: anything longer is refused unread.
    if len(encoded) > max_bytes * 2 + 1024:
        raise StatusListError("too_large", f"状态列表过大 / encodedList longer than {max_bytes * 2 + 1024} characters")
    try:
        compressed = decode_multibase(encoded)
    except MultibaseError as exc:
        raise StatusListError(
            "multibase", f"状态列表不是合法的 base64url / encodedList is not base64url: {exc}"
        ) from None
    inflater = zlib.decompressobj(_GZIP_WBITS)
    try:
        bits = inflater.decompress(compressed, max_bytes + 1)
    except zlib.error as exc:
        raise StatusListError("gzip", f"状态列表不是合法的 gzip 数据 / encodedList is not gzip: {exc}") from None
    if len(bits) > max_bytes or (inflater.unconsumed_tail and not inflater.eof):
        raise StatusListError("too_large", f"状态列表解压后超出上限 / list inflates beyond {max_bytes} bytes")
    if not inflater.eof:
        raise StatusListError("gzip", "状态列表 gzip 数据不完整 / encodedList gzip stream is truncated")
    if inflater.unused_data:
        raise StatusListError("gzip", "状态列表 gzip 数据后有多余内容 / data after the gzip member")
    return bits


def _check_index(bits: bytes, index: int) -> None:
    if not isinstance(bits, bytes):
        raise StatusListError("shape", "状态位串应为字节串 / the bitstring must be bytes")
    if type(index) is not int or not 0 <= index < len(bits) * 8:
        raise StatusListError(
            "range", f"状态索引超出范围 / status index {index!r} outside 0..{len(bits) * 8 - 1} (RANGE_ERROR)"
        )


def bit_at(bits: bytes, index: int) -> bool:
    """The bit at ``index``; index 0 is the most significant bit of byte 0."""
    _check_index(bits, index)
    return bool(bits[index >> 3] & (0x80 >> (index & 7)))


def with_bit(bits: bytes, index: int, value: bool) -> bytes:
    """A copy of ``bits`` with the bit at ``index`` set to ``value``."""
    _check_index(bits, index)
    out = bytearray(bits)
    mask = 0x80 >> (index & 7)
    if value:
        out[index >> 3] |= mask
    else:
        out[index >> 3] &= ~mask & 0xFF
    return bytes(out)


# --- the status list credential --------------------------------------------------------------------------


def status_list_credential(
    *,
    list_url: str,
    issuer: dict[str, str] | str,
    purpose: str,
    bits: bytes,
    valid_from: str,
    valid_until: str,
) -> dict[str, Any]:
    """The unsigned ``BitstringStatusListCredential`` for ``bits`` published at ``list_url``.

    ``valid_from`` / ``valid_until`` are RFC 3339 strings; ``valid_until`` bounds how long a verifier may
    use this copy. Raises :class:`StatusListError` on an unsupported purpose, a short list or bad times.
    """
    if purpose not in PURPOSES:
        raise StatusListError("unsupported", f"不支持的状态用途 / unsupported statusPurpose {purpose!r}")
    if not isinstance(bits, bytes) or len(bits) * 8 < MIN_BITS:
        raise StatusListError("length", f"状态列表至少 {MIN_BITS} 位 / a status list needs at least {MIN_BITS} bits")
    try:
        if parse_timestamp(valid_until) <= parse_timestamp(valid_from):
            raise StatusListError("shape", "validUntil 应晚于 validFrom / validUntil must be after validFrom")
    except ValueError as exc:
        if isinstance(exc, StatusListError):
            raise
        raise StatusListError("shape", f"时间格式错误 / bad timestamp: {exc}") from None
    return {
        "@context": [VC_CONTEXT],
        "id": list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": dict(issuer) if isinstance(issuer, dict) else issuer,
        "validFrom": valid_from,
        "validUntil": valid_until,
        "credentialSubject": {
            "id": f"{list_url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": encode_list(bits),
        },
    }


@dataclass(frozen=True, slots=True)
class StatusListSnapshot:
    """One status list as published at one moment: the decoded bits and who says so until when."""

    url: str
    purpose: str
    bits: bytes
    issuer_id: str
    valid_from: datetime
    valid_until: datetime | None


def _shape(message: str) -> StatusListError:
    return StatusListError("shape", f"状态列表凭证格式错误 / malformed status list credential: {message}")


def _string(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise _shape(f"{what} must be a non-empty string")
    return value


def _time(value: object, what: str) -> datetime:
    try:
        return parse_timestamp(value)
    except ValueError:
        raise _shape(f"{what} must be an RFC 3339 date-time with a zone") from None


def parse_status_list_credential(doc: Mapping[str, Any], *, max_bytes: int = DEFAULT_MAX_BYTES) -> StatusListSnapshot:
    """Shape-check a ``BitstringStatusListCredential`` and decode its list; does NOT verify the proof.

    Required: the VC v2 ``@context`` first, ``type`` with ``VerifiableCredential`` and
    ``BitstringStatusListCredential``, a string ``id`` (the list URL), ``issuer`` (a string or an object
    with a string ``id``), ``validFrom``; a ``credentialSubject`` of type ``BitstringStatusList`` with a
    supported ``statusPurpose`` and an ``encodedList`` of at least :data:`MIN_BITS` bits. ``validUntil``
    is optional. Members not named here are ignored (the proof covers them).
    """
    if not isinstance(doc, Mapping):
        raise _shape("not a JSON object")
    context = doc.get("@context")
    if not isinstance(context, list) or not context or context[0] != VC_CONTEXT:
        raise _shape(f"@context must be a list starting with {VC_CONTEXT}")
    types = doc.get("type")
    if (
        not isinstance(types, list)
        or "VerifiableCredential" not in types
        or "BitstringStatusListCredential" not in types
    ):
        raise _shape("type must list VerifiableCredential and BitstringStatusListCredential")
    url = _string(doc.get("id"), "id")
    issuer = doc.get("issuer")
    issuer_id = _string(issuer.get("id") if isinstance(issuer, Mapping) else issuer, "issuer id")
    valid_from = _time(doc.get("validFrom"), "validFrom")
    valid_until = _time(doc["validUntil"], "validUntil") if "validUntil" in doc else None
    if valid_until is not None and valid_until <= valid_from:
        raise _shape("validUntil must be after validFrom")
    subject = doc.get("credentialSubject")
    if not isinstance(subject, Mapping):
        raise _shape("credentialSubject must be an object")
    if subject.get("type") != "BitstringStatusList":
        raise _shape("credentialSubject type must be BitstringStatusList")
    if "id" in subject:
        _string(subject["id"], "credentialSubject id")
    purpose = _string(subject.get("statusPurpose"), "statusPurpose")
    if purpose not in PURPOSES:
        raise StatusListError("unsupported", f"不支持的状态用途 / unsupported statusPurpose {purpose[:40]!r}")
    size = subject.get("statusSize", 1)
    if type(size) is not int or size != 1:
        raise StatusListError("unsupported", "仅支持一位状态 / only statusSize 1 is supported")
    bits = decode_list(_string(subject.get("encodedList"), "encodedList"), max_bytes=max_bytes)
    if len(bits) * 8 < MIN_BITS:
        raise StatusListError(
            "length",
            f"状态列表过短 / list has {len(bits) * 8} bits, fewer than {MIN_BITS} (STATUS_LIST_LENGTH_ERROR)",
        )
    return StatusListSnapshot(
        url=url, purpose=purpose, bits=bits, issuer_id=issuer_id, valid_from=valid_from, valid_until=valid_until
    )
