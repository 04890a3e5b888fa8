"""Exceptions raised by :mod:`signing`.

Every failure is a specific exception; nothing in this package reports failure by returning ``False``.
"""

from __future__ import annotations

__all__ = ["KeyFormatError", "MultibaseError", "ProofError", "SealError", "SigningError"]


class SigningError(Exception):
    """Base class of every error raised by :mod:`signing`."""


class MultibaseError(SigningError, ValueError):
    """A multibase string is malformed: unknown prefix, bad characters, padding or empty payload."""


class KeyFormatError(SigningError, ValueError):
    """A Multikey, did:key or seed has the wrong prefix, multicodec header or length."""


class ProofError(SigningError):
    """A Data Integrity proof or Ed25519 signature is malformed or does not verify; the message says why."""


class SealError(SigningError):
    """A sealed key cannot be opened: wrong master key, tampered data, unknown format or wrong key_ref."""
