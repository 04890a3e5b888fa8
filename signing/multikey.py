"""Ed25519 keys as Multikey strings and ``did:key`` identifiers.

A Multikey is ``'z'`` + base58btc(multicodec header || raw key) (W3C Controlled Identifiers, did:key):
the public key header is the varint of 0xed (``ed25519-pub``) = ``0xed 0x01``, which makes every
public Multikey start with ``z6Mk``; the secret seed header is the varint of 0x1300 (``ed25519-priv``)
= ``0x80 0x26``, which makes every secret Multikey start with ``z3u2``.
"""

from __future__ import annotations

from signing.errors import KeyFormatError, MultibaseError
from signing.multibase import BASE58BTC_PREFIX, decode_multibase, encode_base58btc

__all__ = [
    "ED25519_PRIV_HEADER",
    "ED25519_PUB_HEADER",
    "did_key",
    "did_key_verification_method",
    "multikey_to_public_key",
    "multikey_to_secret_seed",
    "public_key_from_did_key",
    "public_key_to_multikey",
    "secret_seed_to_multikey",
]

ED25519_PUB_HEADER = b"\xed\x01"
ED25519_PRIV_HEADER = b"\x80\x26"
KEY_LENGTH = 32
DID_KEY_PREFIX = "did:key:"


def _check_length(key: bytes, what: str) -> None:
    if not isinstance(key, bytes) or len(key) != KEY_LENGTH:
        size = len(key) if isinstance(key, bytes) else type(key).__name__
        raise KeyFormatError(f"an Ed25519 {what} must be {KEY_LENGTH} bytes, got {size}")


def _decode(mk: str, header: bytes, what: str) -> bytes:
    # Multikey allows base58btc only, even though decode_multibase also knows base64url.
    if not isinstance(mk, str) or not mk.startswith(BASE58BTC_PREFIX):
        raise KeyFormatError(f"an Ed25519 {what} Multikey must be a base58btc ('z') multibase string")
    try:
        raw = decode_multibase(mk)
    except MultibaseError as exc:
        raise KeyFormatError(f"invalid {what} Multikey: {exc}") from exc
    if raw[: len(header)] != header:
        raise KeyFormatError(f"{what} Multikey does not carry the Ed25519 multicodec header 0x{header.hex()}")
    key = raw[len(header) :]
    _check_length(key, what)
    return key


def public_key_to_multikey(pk: bytes) -> str:
    """Return the ``z6Mk…`` Multikey of a 32-byte Ed25519 public key."""
    _check_length(pk, "public key")
    return encode_base58btc(ED25519_PUB_HEADER + pk)


def multikey_to_public_key(mk: str) -> bytes:
    """Return the 32-byte public key of a ``z6Mk…`` Multikey; raise :class:`KeyFormatError` otherwise."""
    return _decode(mk, ED25519_PUB_HEADER, "public key")


def secret_seed_to_multikey(seed: bytes) -> str:
    """Return the ``z3u2…`` Multikey of a 32-byte Ed25519 secret seed (never publish it)."""
    _check_length(seed, "secret seed")
    return encode_base58btc(ED25519_PRIV_HEADER + seed)


def multikey_to_secret_seed(mk: str) -> bytes:
    """Return the 32-byte seed of a ``z3u2…`` secret Multikey; raise :class:`KeyFormatError` otherwise."""
    return _decode(mk, ED25519_PRIV_HEADER, "secret seed")


def did_key(pk: bytes) -> str:
    """Return ``did:key:z6Mk…`` for a 32-byte Ed25519 public key."""
    return DID_KEY_PREFIX + public_key_to_multikey(pk)


def did_key_verification_method(pk: bytes) -> str:
    """Return the did:key verification method URL ``did:key:z6Mk…#z6Mk…``."""
    mk = public_key_to_multikey(pk)
    return f"{DID_KEY_PREFIX}{mk}#{mk}"


def public_key_from_did_key(did_or_vm: str) -> bytes:
    """Return the public key of ``did:key:z6Mk…`` or of its verification method ``did:key:z6Mk…#z6Mk…``.

    A fragment other than the key's own Multikey is refused: did:key defines no other verification method.
    """
    if not isinstance(did_or_vm, str) or not did_or_vm.startswith(DID_KEY_PREFIX):
        raise KeyFormatError("not a did:key identifier")
    mk, sep, fragment = did_or_vm[len(DID_KEY_PREFIX) :].partition("#")
    if sep and fragment != mk:
        raise KeyFormatError("did:key verification method fragment must repeat the key's Multikey")
    return multikey_to_public_key(mk)
